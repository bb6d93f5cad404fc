//! Number functions: `min`, `max`, `abs`, `ceil`, `floor`, `parseint`.

use super::{integer_arg, number_arg, string_arg, FunctionError, FunctionResult};
use crate::number::Number;
use crate::value::Value;
use std::cmp::Ordering;

pub(crate) fn min(args: Vec<Value>) -> FunctionResult {
    fold_numbers(&args, Ordering::Less)
}

pub(crate) fn max(args: Vec<Value>) -> FunctionResult {
    fold_numbers(&args, Ordering::Greater)
}

/// The first argument that no later one beats in the `wanted` direction.
fn fold_numbers(args: &[Value], wanted: Ordering) -> FunctionResult {
    if args.is_empty() {
        return Err(FunctionError::new("must pass at least one number"));
    }
    let mut best = number_arg(args, 0)?;
    for i in 1..args.len() {
        let next = number_arg(args, i)?;
        if next.compare(&best) == wanted {
            best = next;
        }
    }
    Ok(Value::Number(best))
}

pub(crate) fn abs(args: Vec<Value>) -> FunctionResult {
    Ok(Value::Number(number_arg(&args, 0)?.abs()))
}

pub(crate) fn ceil(args: Vec<Value>) -> FunctionResult {
    Ok(Value::Number(number_arg(&args, 0)?.ceil()))
}

pub(crate) fn floor(args: Vec<Value>) -> FunctionResult {
    Ok(Value::Number(number_arg(&args, 0)?.floor()))
}

pub(crate) fn parseint(args: Vec<Value>) -> FunctionResult {
    let text = string_arg(&args, 0)?;
    let base = integer_arg(&args, 1)?;
    if !(2..=62).contains(&base) {
        return Err(FunctionError::at(
            1,
            "base must be a whole number between 2 and 62 inclusive",
        ));
    }
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(&text)),
    };
    if digits.is_empty() {
        return Err(FunctionError::at(
            0,
            format!("cannot parse \"{text}\" as a base {base} integer"),
        ));
    }
    let mut values = Vec::with_capacity(digits.len());
    for c in digits.chars() {
        let d = digit_value(c, base);
        let Some(d) = d.filter(|d| (*d as i64) < base) else {
            return Err(FunctionError::at(
                0,
                format!("cannot parse \"{text}\" as a base {base} integer"),
            ));
        };
        values.push(d as u8);
    }
    Number::from_digits(negative, &values, base as u32)
        .map(Value::Number)
        .map_err(|e| FunctionError::at(0, format!("cannot parse \"{text}\": {e}")))
}

/// Go's big.Int digit order: 0-9, a-z, A-Z; below base 37 letters ignore case.
fn digit_value(c: char, base: i64) -> Option<u32> {
    match c {
        '0'..='9' => Some(c as u32 - '0' as u32),
        'a'..='z' => Some(c as u32 - 'a' as u32 + 10),
        'A'..='Z' if base <= 36 => Some(c as u32 - 'A' as u32 + 10),
        'A'..='Z' => Some(c as u32 - 'A' as u32 + 36),
        _ => None,
    }
}
