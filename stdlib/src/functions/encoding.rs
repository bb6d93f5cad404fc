//! Conversion, encoding and hashing functions: `to*`, JSON, YAML, Base64,
//! `sha256`, text in other character encodings, `uuidv5`.

use super::{arg, string_arg, FunctionError, FunctionResult};
use crate::number::Number;
use crate::value::{convert, make_set, quote_string, unify, Type, Value};
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
        Value::List(items) | Value::Set(items) => unified(items.clone(), "list").map(Value::List),
        Value::Null => Ok(Value::Null),
        other => Err(FunctionError::at(
            0,
            format!("cannot convert a {} to a list", other.type_name()),
        )),
    }
}

pub(crate) fn toset(args: Vec<Value>) -> FunctionResult {
    match arg(&args, 0)? {
        Value::List(items) | Value::Set(items) => unified(items.clone(), "set").map(make_set),
        Value::Null => Ok(Value::Null),
        other => Err(FunctionError::at(
            0,
            format!("cannot convert a {} to a set", other.type_name()),
        )),
    }
}

pub(crate) fn tomap(args: Vec<Value>) -> FunctionResult {
    match arg(&args, 0)? {
        Value::Map(map) => {
            let (keys, values): (Vec<String>, Vec<Value>) = map.clone().into_iter().unzip();
            let values = unified(values, "map")?;
            Ok(Value::Map(keys.into_iter().zip(values).collect()))
        }
        Value::Null => Ok(Value::Null),
        other => Err(FunctionError::at(
            0,
            format!("cannot convert a {} to a map", other.type_name()),
        )),
    }
}

/// The elements of a collection converted to their common type, as
/// Terraform's `tolist([1, "a"])` is `["1", "a"]`.
fn unified(items: Vec<Value>, kind: &str) -> Result<Vec<Value>, FunctionError> {
    let types: Vec<Type> = items.iter().map(Value::type_of).collect();
    let Some(element) = unify(&types) else {
        return Err(FunctionError::at(
            0,
            format!("cannot convert these elements to a {kind} of any single type"),
        ));
    };
    items
        .into_iter()
        .map(|item| convert(item, &element).map_err(|e| FunctionError::at(0, e.message)))
        .collect()
}

pub(crate) fn jsonencode(args: Vec<Value>) -> FunctionResult {
    Ok(Value::String(arg(&args, 0)?.to_json_string()))
}

pub(crate) fn jsondecode(args: Vec<Value>) -> FunctionResult {
    let text = string_arg(&args, 0)?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| FunctionError::at(0, format!("invalid JSON: {e}")))?;
    // serde_json keeps a number as a 64-bit float; Terraform keeps every
    // digit. The text is valid JSON now, so read it again for the digits.
    let mut reader = ExactJson { text: &text, at: 0 };
    Ok(reader.value().unwrap_or_else(|| Value::from_json(&json)))
}

/// A reader of valid JSON text into values whose numbers keep every digit
/// (`0.1000000000000000000001` stays that); `None` where it does not know
/// the text, and the caller falls back to serde_json's reading.
struct ExactJson<'t> {
    text: &'t str,
    at: usize,
}

impl ExactJson<'_> {
    fn value(&mut self) -> Option<Value> {
        self.skip_whitespace();
        let rest = self.text.get(self.at..)?;
        match rest.as_bytes().first()? {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string().map(Value::String),
            b't' => self.word("true", Value::Bool(true)),
            b'f' => self.word("false", Value::Bool(false)),
            b'n' => self.word("null", Value::Null),
            _ => self.number(),
        }
    }

    fn skip_whitespace(&mut self) {
        let rest = &self.text.as_bytes()[self.at.min(self.text.len())..];
        self.at += rest
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            .count();
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.skip_whitespace();
        let found = self.text.as_bytes().get(self.at) == Some(&byte);
        if found {
            self.at += 1;
        }
        found
    }

    fn word(&mut self, word: &str, value: Value) -> Option<Value> {
        self.text.get(self.at..)?.starts_with(word).then(|| {
            self.at += word.len();
            value
        })
    }

    fn number(&mut self) -> Option<Value> {
        let rest = self.text.get(self.at..)?;
        let len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
            .count();
        let number = Number::parse(&rest[..len]).ok()?;
        self.at += len;
        Some(Value::Number(number))
    }

    /// A JSON string, its escapes decoded by serde_json.
    fn string(&mut self) -> Option<String> {
        self.skip_whitespace();
        let bytes = self.text.as_bytes();
        let start = self.at;
        let mut i = start + 1;
        while *bytes.get(i)? != b'"' {
            i += if bytes[i] == b'\\' { 2 } else { 1 };
        }
        self.at = i + 1;
        serde_json::from_str(self.text.get(start..i + 1)?).ok()
    }

    fn array(&mut self) -> Option<Value> {
        self.at += 1;
        let mut items = Vec::new();
        if self.eat(b']') {
            return Some(Value::List(items));
        }
        loop {
            items.push(self.value()?);
            if self.eat(b']') {
                return Some(Value::List(items));
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    fn object(&mut self) -> Option<Value> {
        self.at += 1;
        let mut map = std::collections::BTreeMap::new();
        if self.eat(b'}') {
            return Some(Value::Map(map));
        }
        loop {
            let key = self.string()?;
            if !self.eat(b':') {
                return None;
            }
            map.insert(key, self.value()?);
            if self.eat(b'}') {
                return Some(Value::Map(map));
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }
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
