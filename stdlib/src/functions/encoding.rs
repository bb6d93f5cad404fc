//! Conversion, encoding and hashing functions: `to*`, JSON, YAML, Base64,
//! `sha256`, text in other character encodings, `uuidv5`.

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
        Value::Number(n) => n.to_string(),
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

/// The text in another character encoding (an IANA or WHATWG name such as
/// `UTF-16LE`, `ISO-8859-1`, `SHIFT_JIS`), as Base64.
pub(crate) fn textencodebase64(args: Vec<Value>) -> FunctionResult {
    let text = string_arg(&args, 0)?;
    let name = string_arg(&args, 1)?;
    let bytes: Vec<u8> = match name.to_ascii_uppercase().as_str() {
        // WHATWG encoders write UTF-8 for UTF-16; these are written here.
        "UTF-16LE" => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        "UTF-16BE" | "UTF-16" => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        _ => {
            let encoding = text_encoding(&name)?;
            let (bytes, _, unmappable) = encoding.encode(&text);
            if unmappable {
                return Err(FunctionError::at(
                    0,
                    format!("the text has characters {name} cannot represent"),
                ));
            }
            bytes.into_owned()
        }
    };
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(bytes),
    ))
}

/// Base64 of text in another character encoding, decoded to a string.
pub(crate) fn textdecodebase64(args: Vec<Value>) -> FunctionResult {
    let encoded = string_arg(&args, 0)?;
    let name = string_arg(&args, 1)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.as_bytes())
        .map_err(|e| FunctionError::at(0, format!("not valid Base64: {e}")))?;
    let encoding = text_encoding(&name)?;
    let (text, malformed) = encoding.decode_without_bom_handling(&bytes);
    if malformed {
        return Err(FunctionError::at(
            0,
            format!("the bytes are not valid {name}"),
        ));
    }
    Ok(Value::String(text.into_owned()))
}

fn text_encoding(name: &str) -> Result<&'static encoding_rs::Encoding, FunctionError> {
    encoding_rs::Encoding::for_label(name.as_bytes()).ok_or_else(|| {
        FunctionError::at(
            1,
            format!("\"{name}\" is not a known character encoding (e.g. UTF-16LE, ISO-8859-1)"),
        )
    })
}

/// A name-based UUID (version 5) in a namespace: `dns`, `url`, `oid`,
/// `x500` or a UUID.
pub(crate) fn uuidv5(args: Vec<Value>) -> FunctionResult {
    let namespace = string_arg(&args, 0)?;
    let name = string_arg(&args, 1)?;
    let space = match namespace.as_str() {
        "dns" => uuid::Uuid::NAMESPACE_DNS,
        "url" => uuid::Uuid::NAMESPACE_URL,
        "oid" => uuid::Uuid::NAMESPACE_OID,
        "x500" => uuid::Uuid::NAMESPACE_X500,
        other => uuid::Uuid::parse_str(other).map_err(|_| {
            FunctionError::at(
                0,
                format!("\"{other}\" is not dns, url, oid, x500 or a UUID"),
            )
        })?,
    };
    Ok(Value::String(
        uuid::Uuid::new_v5(&space, name.as_bytes()).to_string(),
    ))
}
