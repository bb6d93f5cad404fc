//! Collection functions: `length`, `concat`, `merge`, `keys`, `values`,
//! `lookup`, `contains`, `distinct`, `flatten`, `range`, `zipmap`, `element`,
//! `slice`, `sort`, `reverse`, `coalesce`.

use super::{
    arg, integer_arg, list_arg, map_arg, number_arg, string_arg, FunctionError, FunctionResult,
};
use crate::number::Number;
use crate::value::{Type, Value};
use std::collections::BTreeMap;

pub(crate) fn length(args: Vec<Value>) -> FunctionResult {
    match arg(&args, 0)? {
        // Terraform counts what a reader sees: grapheme clusters.
        Value::String(s) => Ok(Value::Number(Number::from(
            unicode_segmentation::UnicodeSegmentation::graphemes(s.as_str(), true).count(),
        ))),
        Value::List(items) | Value::Set(items) => Ok(Value::Number(Number::from(items.len()))),
        Value::Map(map) => Ok(Value::Number(Number::from(map.len()))),
        Value::Unknown(_) => Ok(Value::Unknown(Type::Number)),
        Value::Null => Err(FunctionError::at(0, "argument must not be null")),
        other => Err(FunctionError::at(
            0,
            format!(
                "length needs a string, list or map, but this is a {}",
                other.type_name()
            ),
        )),
    }
}

pub(crate) fn concat(args: Vec<Value>) -> FunctionResult {
    let mut out = Vec::new();
    for (index, value) in args.iter().enumerate() {
        match value {
            Value::List(items) | Value::Set(items) => out.extend(items.iter().cloned()),
            Value::Unknown(_) => return Ok(Value::Unknown(Type::Any)),
            other => {
                return Err(FunctionError::at(
                    index,
                    format!("concat needs lists, but this is a {}", other.type_name()),
                ))
            }
        }
    }
    Ok(Value::List(out))
}

pub(crate) fn merge(args: Vec<Value>) -> FunctionResult {
    let mut out = BTreeMap::new();
    for (index, value) in args.into_iter().enumerate() {
        match value {
            Value::Map(map) => out.extend(map),
            Value::Null => {}
            Value::Unknown(_) => return Ok(Value::Unknown(Type::Any)),
            other => {
                return Err(FunctionError::at(
                    index,
                    format!("merge needs maps, but this is a {}", other.type_name()),
                ))
            }
        }
    }
    Ok(Value::Map(out))
}

pub(crate) fn keys(args: Vec<Value>) -> FunctionResult {
    if let Value::Unknown(_) = arg(&args, 0)? {
        return Ok(Value::Unknown(Type::List(Box::new(Type::String))));
    }
    let map = map_arg(&args, 0)?;
    Ok(Value::List(map.into_keys().map(Value::String).collect()))
}

pub(crate) fn values(args: Vec<Value>) -> FunctionResult {
    let map = map_arg(&args, 0)?;
    Ok(Value::List(map.into_values().collect()))
}

pub(crate) fn lookup(args: Vec<Value>) -> FunctionResult {
    let map = map_arg(&args, 0)?;
    let key = string_arg(&args, 1)?;
    if let Some(v) = map.get(&key) {
        return Ok(v.clone());
    }
    match args.get(2) {
        Some(default) => Ok(default.clone()),
        None => Err(FunctionError::at(
            1,
            format!("the map has no key \"{key}\" and no default was given"),
        )),
    }
}

pub(crate) fn contains(args: Vec<Value>) -> FunctionResult {
    let list = list_arg(&args, 0)?;
    let needle = arg(&args, 1)?;
    Ok(Value::Bool(list.iter().any(|v| v == needle)))
}

pub(crate) fn distinct(args: Vec<Value>) -> FunctionResult {
    let mut out: Vec<Value> = Vec::new();
    for item in list_arg(&args, 0)? {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    Ok(Value::List(out))
}

pub(crate) fn flatten(args: Vec<Value>) -> FunctionResult {
    fn walk(items: Vec<Value>, out: &mut Vec<Value>) {
        for item in items {
            match item {
                Value::List(inner) | Value::Set(inner) => walk(inner, out),
                other => out.push(other),
            }
        }
    }
    let mut out = Vec::new();
    walk(list_arg(&args, 0)?, &mut out);
    Ok(Value::List(out))
}

/// Terraform refuses ranges longer than this, and so do we.
const RANGE_LIMIT: usize = 1024 * 1024;

pub(crate) fn range(args: Vec<Value>) -> FunctionResult {
    let one = || Number::from(1i64);
    let (start, limit, step) = match args.len() {
        1 => {
            let limit = number_arg(&args, 0)?;
            let step = if limit.is_negative() {
                one().neg()
            } else {
                one()
            };
            (Number::zero(), limit, step)
        }
        2 => {
            let (s, l) = (number_arg(&args, 0)?, number_arg(&args, 1)?);
            let step = if l < s { one().neg() } else { one() };
            (s, l, step)
        }
        _ => (
            number_arg(&args, 0)?,
            number_arg(&args, 1)?,
            number_arg(&args, 2)?,
        ),
    };
    if step.is_zero() {
        return Err(FunctionError::at(args.len() - 1, "step must not be zero"));
    }
    let down = step.is_negative();
    if (limit > start && down) || (limit < start && !down) {
        let which = if down { "greater" } else { "less" };
        return Err(FunctionError::new(format!(
            "the start must be {which} than the limit for a step of {step}"
        )));
    }
    let mut out = Vec::new();
    let mut n = start;
    while (!down && n < limit) || (down && n > limit) {
        if out.len() >= RANGE_LIMIT {
            return Err(FunctionError::new(
                "more than 1048576 values were generated; use a smaller range",
            ));
        }
        let next = n
            .add(&step)
            .map_err(|e| FunctionError::new(e.to_string()))?;
        out.push(Value::Number(n));
        n = next;
    }
    Ok(Value::List(out))
}

pub(crate) fn zipmap(args: Vec<Value>) -> FunctionResult {
    let keys = list_arg(&args, 0)?;
    let values = list_arg(&args, 1)?;
    if keys.len() != values.len() {
        return Err(FunctionError::new(format!(
            "the number of keys ({}) and values ({}) must be the same",
            keys.len(),
            values.len()
        )));
    }
    let mut out = BTreeMap::new();
    for (k, v) in keys.into_iter().zip(values) {
        let key = match k {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            other => {
                return Err(FunctionError::at(
                    0,
                    format!("keys must be strings, but one is a {}", other.type_name()),
                ))
            }
        };
        out.insert(key, v);
    }
    Ok(Value::Map(out))
}

pub(crate) fn element(args: Vec<Value>) -> FunctionResult {
    let list = list_arg(&args, 0)?;
    let index = integer_arg(&args, 1)?;
    if list.is_empty() {
        return Err(FunctionError::at(
            0,
            "cannot use element function with an empty list",
        ));
    }
    if index < 0 {
        return Err(FunctionError::at(
            1,
            "cannot use element function with a negative index",
        ));
    }
    Ok(list[(index as usize) % list.len()].clone())
}

pub(crate) fn slice(args: Vec<Value>) -> FunctionResult {
    let list = list_arg(&args, 0)?;
    let start = integer_arg(&args, 1)?;
    let end = integer_arg(&args, 2)?;
    if start < 0 {
        return Err(FunctionError::at(
            1,
            "start index must not be less than zero",
        ));
    }
    if end > list.len() as i64 {
        return Err(FunctionError::at(
            2,
            "end index must not be greater than the length of the list",
        ));
    }
    if start > end {
        return Err(FunctionError::at(
            1,
            "start index must not be greater than end index",
        ));
    }
    Ok(Value::List(list[start as usize..end as usize].to_vec()))
}

pub(crate) fn sort(args: Vec<Value>) -> FunctionResult {
    let mut strings = Vec::new();
    for (i, item) in list_arg(&args, 0)?.into_iter().enumerate() {
        match item {
            Value::String(s) => strings.push(s),
            // Terraform converts to strings first, so 10 sorts before 9.
            Value::Number(n) => strings.push(n.to_string()),
            Value::Bool(b) => strings.push(b.to_string()),
            other => {
                return Err(FunctionError::at(
                    0,
                    format!("element {i} is a {}; sort needs strings", other.type_name()),
                ))
            }
        }
    }
    strings.sort();
    Ok(Value::List(
        strings.into_iter().map(Value::String).collect(),
    ))
}

pub(crate) fn reverse(args: Vec<Value>) -> FunctionResult {
    let mut list = list_arg(&args, 0)?;
    list.reverse();
    Ok(Value::List(list))
}

pub(crate) fn coalesce(args: Vec<Value>) -> FunctionResult {
    args.into_iter()
        .find(|v| !v.is_null() && !matches!(v, Value::String(s) if s.is_empty()))
        .ok_or_else(|| FunctionError::new("no non-null, non-empty-string arguments"))
}
