//! Conversion, encoding and hashing functions: `to*`, JSON, YAML, Base64,
//! `sha256`.

use super::{arg, string_arg, FunctionError, FunctionResult};
use crate::value::{convert, make_set, quote_string, Type, Value};
use base64::Engine;
use sha2::Digest;

pub(crate) fn tostring(args: Vec<Value>) -> FunctionResult {
    convert_arg(args, &Type::String)
}

pub(crate) fn tonumber(args: Vec<Value>) -> FunctionResult {
    convert_arg(args, &Type::Number)
}

pub(crate) fn tobool(args: Vec<Value>) -> FunctionResult {
    convert_arg(args, &Type::Bool)
}

fn convert_arg(args: Vec<Value>, ty: &Type) -> FunctionResult {
    let value = arg(&args, 0)?.clone();
    convert(value, ty).map_err(|e| FunctionError::at(0, e.message))
}

pub(crate) fn tolist(args: Vec<Value>) -> FunctionResult {
    match arg(&args, 0)? {
        Value::List(items) | Value::Set(items) => Ok(Value::List(items.clone())),
        Value::Null => Ok(Value::Null),
        other => Err(FunctionError::at(
            0,
            format!("cannot convert a {} to a list", other.type_name()),
        )),
    }
}

pub(crate) fn toset(args: Vec<Value>) -> FunctionResult {
    match arg(&args, 0)? {
        Value::List(items) | Value::Set(items) => Ok(make_set(items.clone())),
        Value::Null => Ok(Value::Null),
        other => Err(FunctionError::at(
            0,
            format!("cannot convert a {} to a set", other.type_name()),
        )),
    }
}

pub(crate) fn tomap(args: Vec<Value>) -> FunctionResult {
    match arg(&args, 0)? {
        Value::Map(map) => Ok(Value::Map(map.clone())),
        Value::Null => Ok(Value::Null),
        other => Err(FunctionError::at(
            0,
            format!("cannot convert a {} to a map", other.type_name()),
        )),
    }
}

pub(crate) fn jsonencode(args: Vec<Value>) -> FunctionResult {
    Ok(Value::String(arg(&args, 0)?.to_json_string()))
}

pub(crate) fn jsondecode(args: Vec<Value>) -> FunctionResult {
    let text = string_arg(&args, 0)?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| FunctionError::at(0, format!("invalid JSON: {e}")))?;
    Ok(Value::from_json(&json))
}

pub(crate) fn yamlencode(args: Vec<Value>) -> FunctionResult {
    let value = arg(&args, 0)?;
    let mut out = String::new();
    write_yaml(value, 0, &mut out);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(Value::String(out))
}

/// Block-style YAML with sorted keys, in the shape Terraform produces.
fn write_yaml(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Map(map) if !map.is_empty() => {
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(&" ".repeat(indent));
                }
                out.push_str(&yaml_scalar_string(k));
                out.push(':');
                write_yaml_child(v, indent, out);
            }
        }
        Value::List(items) | Value::Set(items) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&" ".repeat(indent));
                }
                out.push_str("- ");
                write_yaml(item, indent + 2, out);
            }
        }
        scalar => {
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
        }
    }
}

fn write_yaml_child(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Map(map) if !map.is_empty() => {
            out.push('\n');
            out.push_str(&" ".repeat(indent + 2));
            write_yaml(value, indent + 2, out);
        }
        Value::List(items) | Value::Set(items) if !items.is_empty() => {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            write_yaml(value, indent, out);
        }
        scalar => {
            out.push(' ');
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
        }
    }
}

fn yaml_scalar(value: &Value) -> String {
    match value {
        Value::Null | Value::Unknown(_) => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => crate::value::format_number(*n),
        Value::String(s) => yaml_scalar_string(s),
        Value::Map(_) => "{}".into(),
        Value::List(_) | Value::Set(_) => "[]".into(),
        Value::Sensitive(inner, _) => yaml_scalar(inner),
    }
}

/// Terraform's yamlencode double-quotes every string, keys included.
fn yaml_scalar_string(s: &str) -> String {
    quote_string(s)
}

pub(crate) fn base64encode(args: Vec<Value>) -> FunctionResult {
    let s = string_arg(&args, 0)?;
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(s.as_bytes()),
    ))
}

pub(crate) fn base64decode(args: Vec<Value>) -> FunctionResult {
    let s = string_arg(&args, 0)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.as_bytes())
        .map_err(|e| FunctionError::at(0, format!("failed to decode base64 data: {e}")))?;
    String::from_utf8(bytes)
        .map(Value::String)
        .map_err(|_| FunctionError::at(0, "the decoded data is not valid UTF-8 text"))
}

pub(crate) fn sha256(args: Vec<Value>) -> FunctionResult {
    let s = string_arg(&args, 0)?;
    Ok(Value::String(hex::encode(sha2::Sha256::digest(
        s.as_bytes(),
    ))))
}
