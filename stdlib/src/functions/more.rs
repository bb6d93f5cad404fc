//! More of Terraform's functions, each as Terraform documents it: string
//! shaping (`chomp`, `title`, `indent`, `strrev`, `trimspace`,
//! `regexall`, `urlencode`), hashes (`md5`, `sha1`, `sha512`), numbers
//! (`pow`, `log`, `signum`, `sum`), collections (`one`, `compact`,
//! `index`, `alltrue`, `anytrue`, `setproduct`, `transpose`),
//! `formatlist`, `base64sha256`/`base64sha512`, `csvdecode`,
//! `yamldecode` and `sensitive`.

use super::{
    integer_arg, list_arg, map_arg, number_arg, string_arg, FunctionError, FunctionResult,
};
use crate::number::Number;
use crate::value::{make_set, Value};
use sha2::Digest;
use std::collections::BTreeMap;

pub(crate) fn chomp(args: Vec<Value>) -> FunctionResult {
    let s = string_arg(&args, 0)?;
    Ok(Value::String(s.trim_end_matches(['\n', '\r']).to_string()))
}

pub(crate) fn trimspace(args: Vec<Value>) -> FunctionResult {
    Ok(Value::String(string_arg(&args, 0)?.trim().to_string()))
}

/// Each word's first letter in upper case (words: runs of letters and
/// digits, as Go's `strings.Title` sees them).
pub(crate) fn title(args: Vec<Value>) -> FunctionResult {
    let s = string_arg(&args, 0)?;
    let mut out = String::with_capacity(s.len());
    let mut in_word = false;
    for c in s.chars() {
        if in_word {
            out.push(c);
        } else {
            out.extend(c.to_uppercase());
        }
        in_word = c.is_alphanumeric() || c == '_' || c == '\'';
    }
    Ok(Value::String(out))
}

/// Every line but the first indented by `spaces`.
pub(crate) fn indent(args: Vec<Value>) -> FunctionResult {
    let spaces = number_arg(&args, 0)?;
    let s = string_arg(&args, 1)?;
    let pad = " ".repeat(spaces.to_usize().unwrap_or(0));
    Ok(Value::String(s.replace('\n', &format!("\n{pad}"))))
}

pub(crate) fn strrev(args: Vec<Value>) -> FunctionResult {
    use unicode_segmentation::UnicodeSegmentation;
    let s = string_arg(&args, 0)?;
    Ok(Value::String(s.graphemes(true).rev().collect()))
}

/// Every match: strings, lists of captures, or maps of named captures.
pub(crate) fn regexall(args: Vec<Value>) -> FunctionResult {
    let pattern = string_arg(&args, 0)?;
    let s = string_arg(&args, 1)?;
    let re = regex::Regex::new(&pattern)
        .map_err(|e| FunctionError::at(0, format!("invalid regular expression: {e}")))?;
    let named: Vec<&str> = re.capture_names().flatten().collect();
    let groups = re.captures_len() - 1;
    let matches = re.captures_iter(&s).map(|caps| {
        let text = |i: usize| Value::string(caps.get(i).map(|m| m.as_str()).unwrap_or_default());
        if !named.is_empty() {
            let map: BTreeMap<String, Value> = named
                .iter()
                .map(|n| {
                    let v = caps.name(n).map(|m| m.as_str()).unwrap_or_default();
                    (n.to_string(), Value::string(v))
                })
                .collect();
            Value::Map(map)
        } else if groups > 0 {
            Value::List((1..=groups).map(text).collect())
        } else {
            text(0)
        }
    });
    Ok(Value::List(matches.collect()))
}

/// Go's `url.QueryEscape`: unreserved characters as they are, a space as
/// `+`, every other byte as `%XX`.
pub(crate) fn urlencode(args: Vec<Value>) -> FunctionResult {
    let s = string_arg(&args, 0)?;
    let mut out = String::with_capacity(s.len());
    for byte in s.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    Ok(Value::String(out))
}

pub(crate) fn md5(args: Vec<Value>) -> FunctionResult {
    let s = string_arg(&args, 0)?;
    Ok(Value::String(hex::encode(md5::Md5::digest(s.as_bytes()))))
}

pub(crate) fn sha1(args: Vec<Value>) -> FunctionResult {
    let s = string_arg(&args, 0)?;
    Ok(Value::String(hex::encode(sha1::Sha1::digest(s.as_bytes()))))
}

pub(crate) fn sha512(args: Vec<Value>) -> FunctionResult {
    let s = string_arg(&args, 0)?;
    Ok(Value::String(hex::encode(sha2::Sha512::digest(
        s.as_bytes(),
    ))))
}

/// `pow` and `log` compute with 64-bit floats, as Terraform's do.
fn float_result(f: f64) -> FunctionResult {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| FunctionError::new("the result is not a finite number"))
}

pub(crate) fn pow(args: Vec<Value>) -> FunctionResult {
    let base = number_arg(&args, 0)?.to_f64();
    float_result(base.powf(number_arg(&args, 1)?.to_f64()))
}

pub(crate) fn log(args: Vec<Value>) -> FunctionResult {
    let n = number_arg(&args, 0)?.to_f64();
    let base = number_arg(&args, 1)?.to_f64();
    float_result(n.ln() / base.ln())
}

/// -1, 0 or 1; like Terraform's, for whole numbers only.
pub(crate) fn signum(args: Vec<Value>) -> FunctionResult {
    let n = integer_arg(&args, 0)?;
    Ok(Value::number(n.signum()))
}

pub(crate) fn sum(args: Vec<Value>) -> FunctionResult {
    let items = list_arg(&args, 0)?;
    if items.is_empty() {
        return Err(FunctionError::at(0, "cannot sum an empty list"));
    }
    let mut total: Option<Number> = None;
    for (i, item) in items.iter().enumerate() {
        let n = match item {
            Value::Number(n) => n.clone(),
            Value::String(s) => match Number::parse(s) {
                Ok(n) => n,
                Err(_) => return Err(FunctionError::at(0, format!("element {i} is not a number"))),
            },
            other => {
                return Err(FunctionError::at(
                    0,
                    format!("element {i} is a {}, not a number", other.type_name()),
                ))
            }
        };
        // The first element, then each next one added, as Terraform does.
        total = Some(match total {
            None => n,
            Some(sum) => sum
                .add(&n)
                .map_err(|e| FunctionError::at(0, e.to_string()))?,
        });
    }
    Ok(Value::Number(total.unwrap_or_else(Number::zero)))
}

/// The only element of a list or set of zero or one elements (null when
/// it is empty).
pub(crate) fn one(args: Vec<Value>) -> FunctionResult {
    let items = list_arg(&args, 0)?;
    match items.as_slice() {
        [] => Ok(Value::Null),
        [only] => Ok(only.clone()),
        more => Err(FunctionError::at(
            0,
            format!(
                "must be a list, set, or tuple value with either zero or one elements, not {}",
                more.len()
            ),
        )),
    }
}

/// The list without null and empty strings.
pub(crate) fn compact(args: Vec<Value>) -> FunctionResult {
    let items = list_arg(&args, 0)?;
    Ok(Value::List(
        items
            .into_iter()
            .filter(|v| !matches!(v, Value::Null) && !matches!(v, Value::String(s) if s.is_empty()))
            .collect(),
    ))
}

/// The index of the first element equal to the value.
pub(crate) fn index(args: Vec<Value>) -> FunctionResult {
    let items = list_arg(&args, 0)?;
    let wanted = super::arg(&args, 1)?;
    items
        .iter()
        .position(|v| v == wanted)
        .map(|i| Value::Number(Number::from(i)))
        .ok_or_else(|| FunctionError::at(1, "the item is not in the list"))
}

fn bools(args: &[Value]) -> Result<Vec<bool>, FunctionError> {
    list_arg(args, 0)?
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::Bool(b) => Ok(*b),
            Value::String(s) if s == "true" => Ok(true),
            Value::String(s) if s == "false" => Ok(false),
            other => Err(FunctionError::at(
                0,
                format!("element {i} is a {}, not a bool", other.type_name()),
            )),
        })
        .collect()
}

pub(crate) fn alltrue(args: Vec<Value>) -> FunctionResult {
    Ok(Value::Bool(bools(&args)?.into_iter().all(|b| b)))
}

pub(crate) fn anytrue(args: Vec<Value>) -> FunctionResult {
    Ok(Value::Bool(bools(&args)?.into_iter().any(|b| b)))
}

/// Every combination of one element of each list (a list of lists; sets
/// give a set).
pub(crate) fn setproduct(args: Vec<Value>) -> FunctionResult {
    let mut all_sets = true;
    let mut product: Vec<Vec<Value>> = vec![Vec::new()];
    for index in 0..args.len() {
        all_sets &= matches!(args[index], Value::Set(_));
        let items = list_arg(&args, index)?;
        product = product
            .into_iter()
            .flat_map(|prefix| {
                items.iter().map(move |item| {
                    let mut next = prefix.clone();
                    next.push(item.clone());
                    next
                })
            })
            .collect();
    }
    let combinations: Vec<Value> = product.into_iter().map(Value::List).collect();
    Ok(if all_sets && !args.is_empty() {
        make_set(combinations)
    } else {
        Value::List(combinations)
    })
}

/// A map of lists turned inside out: each value becomes a key listing the
/// keys that held it.
pub(crate) fn transpose(args: Vec<Value>) -> FunctionResult {
    let map = map_arg(&args, 0)?;
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (key, values) in map {
        let (Value::List(values) | Value::Set(values)) = values else {
            return Err(FunctionError::at(
                0,
                format!("the value of \"{key}\" is not a list"),
            ));
        };
        for value in values {
            let Value::String(value) = value else {
                return Err(FunctionError::at(
                    0,
                    format!("\"{key}\" holds a value that is not a string"),
                ));
            };
            out.entry(value)
                .or_default()
                .push(Value::string(key.clone()));
        }
    }
    Ok(Value::Map(
        out.into_iter().map(|(k, v)| (k, Value::List(v))).collect(),
    ))
}

pub(crate) fn sensitive(args: Vec<Value>) -> FunctionResult {
    Ok(super::arg(&args, 0)?.clone().mark_sensitive())
}

/// `format` element by element: list arguments (all of one length) give
/// one element each, other arguments repeat.
pub(crate) fn formatlist(args: Vec<Value>) -> FunctionResult {
    let mut length: Option<usize> = None;
    for (i, a) in args.iter().enumerate().skip(1) {
        if let Value::List(items) | Value::Set(items) = a {
            match length {
                Some(n) if n != items.len() => {
                    return Err(FunctionError::at(
                        i,
                        format!(
                            "all lists must have the same length ({n}, not {})",
                            items.len()
                        ),
                    ))
                }
                _ => length = Some(items.len()),
            }
        }
    }
    let rows = (0..length.unwrap_or(1)).map(|row| {
        let call: Vec<Value> = args
            .iter()
            .enumerate()
            .map(|(i, a)| match a {
                Value::List(items) | Value::Set(items) if i > 0 => items[row].clone(),
                other => other.clone(),
            })
            .collect();
        super::strings::format(call)
    });
    Ok(Value::List(rows.collect::<Result<_, _>>()?))
}

pub(crate) fn base64sha256(args: Vec<Value>) -> FunctionResult {
    use base64::Engine;
    let s = string_arg(&args, 0)?;
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(s.as_bytes())),
    ))
}

pub(crate) fn base64sha512(args: Vec<Value>) -> FunctionResult {
    use base64::Engine;
    let s = string_arg(&args, 0)?;
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(s.as_bytes())),
    ))
}

/// CSV (RFC 4180: quoted fields, `""` for a quote) with a header row: a
/// list of maps, one per row, all values strings.
pub(crate) fn csvdecode(args: Vec<Value>) -> FunctionResult {
    let text = string_arg(&args, 0)?;
    let mut rows = csv_rows(&text)?.into_iter();
    let Some(header) = rows.next() else {
        return Ok(Value::List(Vec::new()));
    };
    let mut out = Vec::new();
    for (n, row) in rows.enumerate() {
        if row.len() != header.len() {
            return Err(FunctionError::at(
                0,
                format!(
                    "row {} has {} fields, the header {}",
                    n + 2,
                    row.len(),
                    header.len()
                ),
            ));
        }
        let map = header
            .iter()
            .cloned()
            .zip(row.into_iter().map(Value::String))
            .collect();
        out.push(Value::Map(map));
    }
    Ok(Value::List(out))
}

fn csv_rows(text: &str) -> Result<Vec<Vec<String>>, FunctionError> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut started = false;
    while let Some(c) = chars.next() {
        started = true;
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                started = false;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err(FunctionError::at(0, "a quoted field is never closed"));
    }
    if started {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

/// The first YAML document of a string, as Terraform reads it.
pub(crate) fn yamldecode(args: Vec<Value>) -> FunctionResult {
    let text = string_arg(&args, 0)?;
    let node = crate::yaml::parse(&text).map_err(|e| {
        FunctionError::at(
            0,
            format!(
                "not valid YAML at line {}, column {}: {}",
                e.line, e.column, e.message
            ),
        )
    })?;
    Ok(crate::yaml::to_value(&node))
}
