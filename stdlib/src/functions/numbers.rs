//! Number functions: `min`, `max`, `abs`, `ceil`, `floor`, `parseint`.

use super::{integer_arg, number_arg, string_arg, FunctionError, FunctionResult};
use crate::value::Value;

pub(crate) fn min(args: Vec<Value>) -> FunctionResult {
    fold_numbers(&args, f64::min)
}

pub(crate) fn max(args: Vec<Value>) -> FunctionResult {
    fold_numbers(&args, f64::max)
}

fn fold_numbers(args: &[Value], pick: fn(f64, f64) -> f64) -> FunctionResult {
    if args.is_empty() {
        return Err(FunctionError::new("must pass at least one number"));
    }
    let mut best = number_arg(args, 0)?;
    for i in 1..args.len() {
        best = pick(best, number_arg(args, i)?);
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
    let mut n: f64 = 0.0;
    for c in digits.chars() {
        let d = digit_value(c, base);
        let Some(d) = d.filter(|d| (*d as i64) < base) else {
            return Err(FunctionError::at(
                0,
                format!("cannot parse \"{text}\" as a base {base} integer"),
            ));
        };
        n = n * base as f64 + d as f64;
    }
    Ok(Value::Number(if negative { -n } else { n }))
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
