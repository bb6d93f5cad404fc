//! String functions: `format`, `join`, `split`, case, trimming, `replace`,
//! `substr`, prefix tests and `regex`.

use super::{integer_arg, list_arg, string_arg, FunctionError, FunctionResult};
use crate::number::Number;
use crate::value::Value;
use std::collections::BTreeMap;

pub(crate) fn join(args: Vec<Value>) -> FunctionResult {
    let sep = string_arg(&args, 0)?;
    let mut parts = Vec::new();
    for index in 1..args.len() {
        for (i, item) in list_arg(&args, index)?.into_iter().enumerate() {
            match item {
                Value::Null => {
                    return Err(FunctionError::at(
                        index,
                        format!("element {i} is null; join cannot join null values"),
                    ))
                }
                Value::String(s) => parts.push(s),
                Value::Number(n) => parts.push(n.to_string()),
                Value::Bool(b) => parts.push(b.to_string()),
                other => {
                    return Err(FunctionError::at(
                        index,
                        format!("element {i} is a {}; join needs strings", other.type_name()),
                    ))
                }
            }
        }
    }
    Ok(Value::String(parts.join(&sep)))
}

pub(crate) fn split(args: Vec<Value>) -> FunctionResult {
    let sep = string_arg(&args, 0)?;
    let s = string_arg(&args, 1)?;
    // Terraform: splitting "" gives [""]; splitting on "" splits characters.
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        s.split(sep.as_str()).map(Value::string).collect()
    };
    Ok(Value::List(parts))
}

pub(crate) fn upper(args: Vec<Value>) -> FunctionResult {
    Ok(Value::String(string_arg(&args, 0)?.to_uppercase()))
}

pub(crate) fn lower(args: Vec<Value>) -> FunctionResult {
    Ok(Value::String(string_arg(&args, 0)?.to_lowercase()))
}

pub(crate) fn trim(args: Vec<Value>) -> FunctionResult {
    let s = string_arg(&args, 0)?;
    let cutset: Vec<char> = string_arg(&args, 1)?.chars().collect();
    Ok(Value::String(
        s.trim_matches(|c| cutset.contains(&c)).to_string(),
    ))
}

pub(crate) fn trimprefix(args: Vec<Value>) -> FunctionResult {
    let s = string_arg(&args, 0)?;
    let prefix = string_arg(&args, 1)?;
    Ok(Value::String(
        s.strip_prefix(prefix.as_str()).unwrap_or(&s).to_string(),
    ))
}

pub(crate) fn trimsuffix(args: Vec<Value>) -> FunctionResult {
    let s = string_arg(&args, 0)?;
    let suffix = string_arg(&args, 1)?;
    Ok(Value::String(
        s.strip_suffix(suffix.as_str()).unwrap_or(&s).to_string(),
    ))
}

pub(crate) fn replace(args: Vec<Value>) -> FunctionResult {
    let s = string_arg(&args, 0)?;
    let substr = string_arg(&args, 1)?;
    let replacement = string_arg(&args, 2)?;
    let is_regex = substr.len() > 1 && substr.starts_with('/') && substr.ends_with('/');
    if !is_regex {
        return Ok(Value::String(s.replace(substr.as_str(), &replacement)));
    }
    let pattern = &substr[1..substr.len() - 1];
    let re = compile(pattern, 1)?;
    // Terraform uses Go's `$1` syntax, which is also the regex crate's.
    Ok(Value::String(
        re.replace_all(&s, replacement.as_str()).into_owned(),
    ))
}

pub(crate) fn substr(args: Vec<Value>) -> FunctionResult {
    let text = string_arg(&args, 0)?;
    // Offsets count grapheme clusters, as in Terraform.
    let chars: Vec<&str> =
        unicode_segmentation::UnicodeSegmentation::graphemes(text.as_str(), true).collect();
    let len = chars.len() as i64;
    let mut offset = integer_arg(&args, 1)?;
    let length = integer_arg(&args, 2)?;
    if offset < 0 {
        offset += len;
    }
    if offset < 0 || offset > len {
        // Terraform returns "" when the offset is past the end.
        if offset > len {
            return Ok(Value::string(""));
        }
        return Err(FunctionError::at(
            1,
            "offset is before the start of the string",
        ));
    }
    let end = if length < 0 {
        len
    } else {
        (offset + length).min(len)
    };
    Ok(Value::String(chars[offset as usize..end as usize].concat()))
}

pub(crate) fn startswith(args: Vec<Value>) -> FunctionResult {
    Ok(Value::Bool(
        string_arg(&args, 0)?.starts_with(&string_arg(&args, 1)?),
    ))
}

pub(crate) fn endswith(args: Vec<Value>) -> FunctionResult {
    Ok(Value::Bool(
        string_arg(&args, 0)?.ends_with(&string_arg(&args, 1)?),
    ))
}

pub(crate) fn regex(args: Vec<Value>) -> FunctionResult {
    let pattern = string_arg(&args, 0)?;
    let s = string_arg(&args, 1)?;
    let re = compile(&pattern, 0)?;
    let Some(caps) = re.captures(&s) else {
        return Err(FunctionError::at(
            1,
            "pattern did not match any part of the given string",
        ));
    };
    let named: Vec<&str> = re.capture_names().flatten().collect();
    if !named.is_empty() {
        let map: BTreeMap<String, Value> = named
            .iter()
            .map(|name| {
                let v = caps
                    .name(name)
                    .map(|m| Value::string(m.as_str()))
                    .unwrap_or(Value::Null);
                (name.to_string(), v)
            })
            .collect();
        return Ok(Value::Map(map));
    }
    if re.captures_len() > 1 {
        let list = (1..re.captures_len())
            .map(|i| {
                caps.get(i)
                    .map(|m| Value::string(m.as_str()))
                    .unwrap_or(Value::Null)
            })
            .collect();
        return Ok(Value::List(list));
    }
    Ok(Value::string(caps.get(0).map(|m| m.as_str()).unwrap_or("")))
}

fn compile(pattern: &str, argument: usize) -> Result<regex::Regex, FunctionError> {
    regex::Regex::new(pattern)
        .map_err(|e| FunctionError::at(argument, format!("invalid regular expression: {e}")))
}

/// `format`: Go-style verbs as Terraform supports them (`%v %#v %t %d %f %e
/// %g %s %q %x %X %o %b %%`, flags `- + 0 space`, width and precision).
pub(crate) fn format(args: Vec<Value>) -> FunctionResult {
    let spec = string_arg(&args, 0)?;
    let mut out = String::new();
    let mut next_arg = 1;
    let mut chars = spec.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut verb = Verb::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => verb.left = true,
                '+' => verb.plus = true,
                '0' => verb.zero = true,
                ' ' => verb.space = true,
                '#' => verb.sharp = true,
                _ => break,
            }
            chars.next();
        }
        verb.width = take_digits(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            verb.precision = Some(take_digits(&mut chars).unwrap_or(0));
        }
        let too_wide = |n: Option<usize>| n.is_some_and(|n| n > MAX_WIDTH);
        if too_wide(verb.width) || too_wide(verb.precision) {
            return Err(FunctionError::at(
                0,
                format!("width and precision are limited to {MAX_WIDTH}"),
            ));
        }
        let Some(kind) = chars.next() else {
            return Err(FunctionError::at(
                0,
                "format specification ends with an unfinished verb",
            ));
        };
        if kind == '%' {
            out.push('%');
            continue;
        }
        let Some(value) = args.get(next_arg) else {
            return Err(FunctionError::at(
                0,
                format!(
                    "not enough arguments for the verb %{kind} (there are {} values)",
                    args.len() - 1
                ),
            ));
        };
        let text = format_verb(kind, &verb, value, next_arg)?;
        out.push_str(&pad(&text, &verb, kind));
        next_arg += 1;
    }
    if next_arg < args.len() {
        return Err(FunctionError::at(
            next_arg,
            format!(
                "too many arguments; only {} used by format string",
                next_arg - 1
            ),
        ));
    }
    Ok(Value::String(out))
}

/// Bounds `%Nd` so that a typo cannot ask for gigabytes of padding.
const MAX_WIDTH: usize = 10_000;

#[derive(Default)]
struct Verb {
    left: bool,
    plus: bool,
    zero: bool,
    space: bool,
    sharp: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

fn take_digits(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut digits = String::new();
    while let Some(&d) = chars.peek() {
        if !d.is_ascii_digit() {
            break;
        }
        digits.push(d);
        chars.next();
    }
    digits.parse().ok()
}

fn format_verb(
    kind: char,
    verb: &Verb,
    value: &Value,
    index: usize,
) -> Result<String, FunctionError> {
    let number = |v: &Value| -> Result<Number, FunctionError> {
        match v {
            Value::Number(n) => Ok(n.clone()),
            Value::String(s) => Number::parse(s).map_err(|_| {
                FunctionError::at(
                    index,
                    format!("%{kind} needs a number, but \"{s}\" is not one"),
                )
            }),
            other => Err(FunctionError::at(
                index,
                format!(
                    "%{kind} needs a number, but this is a {}",
                    other.type_name()
                ),
            )),
        }
    };
    let signed = |text: String| -> String {
        let negative = text.starts_with('-');
        if !negative && verb.plus {
            format!("+{text}")
        } else if !negative && verb.space {
            format!(" {text}")
        } else {
            text
        }
    };
    Ok(match kind {
        'v' if verb.sharp => value.to_json_string(),
        'v' => match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.format_general(None),
            Value::Bool(b) => b.to_string(),
            Value::Null => "null".into(),
            other => other.to_json_string(),
        },
        't' => match value {
            Value::Bool(b) => b.to_string(),
            Value::String(s) if s == "true" || s == "false" => s.clone(),
            other => {
                return Err(FunctionError::at(
                    index,
                    format!("%t needs a bool, but this is a {}", other.type_name()),
                ))
            }
        },
        'd' => {
            let n = number(value)?;
            if !n.is_integer() {
                return Err(FunctionError::at(
                    index,
                    format!("%d needs a whole number, but this is {n}"),
                ));
            }
            signed(n.format_fixed(0))
        }
        'f' | 'F' => signed(number(value)?.format_fixed(verb.precision.unwrap_or(6))),
        'e' => signed(number(value)?.format_exponent(verb.precision.unwrap_or(6))),
        'E' => signed(
            number(value)?
                .format_exponent(verb.precision.unwrap_or(6))
                .to_uppercase(),
        ),
        'g' => signed(number(value)?.format_general(verb.precision)),
        'G' => signed(number(value)?.format_general(verb.precision).to_uppercase()),
        'x' | 'X' | 'o' | 'b' => {
            let radix = match kind {
                'x' | 'X' => 16,
                'o' => 8,
                _ => 2,
            };
            let digits = number(value)?
                .integer_digits(radix)
                .ok_or_else(|| FunctionError::at(index, format!("%{kind} needs a whole number")))?;
            signed(if kind == 'X' {
                digits.to_uppercase()
            } else {
                digits
            })
        }
        's' => match value {
            Value::String(s) => match verb.precision {
                Some(p) => s.chars().take(p).collect(),
                None => s.clone(),
            },
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => {
                return Err(FunctionError::at(
                    index,
                    format!("%s needs a string, but this is a {}", other.type_name()),
                ))
            }
        },
        'q' => match value {
            Value::String(s) => crate::value::quote_string(s),
            Value::Number(n) => crate::value::quote_string(&n.to_string()),
            other => {
                return Err(FunctionError::at(
                    index,
                    format!("%q needs a string, but this is a {}", other.type_name()),
                ))
            }
        },
        other => {
            return Err(FunctionError::at(
                0,
                format!("unsupported format verb %{other}"),
            ));
        }
    })
}

fn pad(text: &str, verb: &Verb, kind: char) -> String {
    let Some(width) = verb.width else {
        return text.to_string();
    };
    let len = text.chars().count();
    if len >= width {
        return text.to_string();
    }
    let fill = width - len;
    if verb.left {
        return format!("{text}{}", " ".repeat(fill));
    }
    let numeric = matches!(
        kind,
        'd' | 'f' | 'F' | 'e' | 'E' | 'g' | 'G' | 'x' | 'X' | 'o' | 'b'
    );
    if verb.zero && numeric {
        let (sign, digits) = match text.chars().next() {
            Some(c @ ('-' | '+' | ' ')) => (c.to_string(), &text[1..]),
            _ => (String::new(), text),
        };
        return format!("{sign}{}{digits}", "0".repeat(fill));
    }
    format!("{}{text}", " ".repeat(fill))
}
