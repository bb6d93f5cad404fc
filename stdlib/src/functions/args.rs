//! Reading a function's arguments: each helper takes the argument at an
//! index as the type a function wants, or says which argument is wrong and
//! why.

use super::FunctionError;
use crate::number::Number;
use crate::value::Value;

pub(crate) fn arg(args: &[Value], index: usize) -> Result<&Value, FunctionError> {
    args.get(index)
        .ok_or_else(|| FunctionError::new(format!("argument {} is missing", index + 1)))
}

pub(crate) fn string_arg(args: &[Value], index: usize) -> Result<String, FunctionError> {
    match arg(args, index)? {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Err(FunctionError::at(index, "argument must not be null")),
        other => Err(FunctionError::at(
            index,
            format!("a string is required, but this is a {}", other.type_name()),
        )),
    }
}

pub(crate) fn number_arg(args: &[Value], index: usize) -> Result<Number, FunctionError> {
    match arg(args, index)? {
        Value::Number(n) => Ok(n.clone()),
        Value::String(s) => Number::parse(s).map_err(|_| {
            FunctionError::at(
                index,
                format!("a number is required, but \"{s}\" is not a number"),
            )
        }),
        Value::Null => Err(FunctionError::at(index, "argument must not be null")),
        other => Err(FunctionError::at(
            index,
            format!("a number is required, but this is a {}", other.type_name()),
        )),
    }
}

pub(crate) fn integer_arg(args: &[Value], index: usize) -> Result<i64, FunctionError> {
    let n = number_arg(args, index)?;
    if !n.is_integer() {
        return Err(FunctionError::at(
            index,
            format!("a whole number is required, but this is {n}"),
        ));
    }
    n.to_i64().ok_or_else(|| {
        FunctionError::at(
            index,
            format!("{n} is too large; the largest allowed is {}", i64::MAX),
        )
    })
}

pub(crate) fn list_arg(args: &[Value], index: usize) -> Result<Vec<Value>, FunctionError> {
    match arg(args, index)? {
        Value::List(items) | Value::Set(items) => Ok(items.clone()),
        Value::Null => Err(FunctionError::at(index, "argument must not be null")),
        other => Err(FunctionError::at(
            index,
            format!("a list is required, but this is a {}", other.type_name()),
        )),
    }
}

pub(crate) fn map_arg(
    args: &[Value],
    index: usize,
) -> Result<std::collections::BTreeMap<String, Value>, FunctionError> {
    match arg(args, index)? {
        Value::Map(map) => Ok(map.clone()),
        Value::Null => Err(FunctionError::at(index, "argument must not be null")),
        other => Err(FunctionError::at(
            index,
            format!("a map is required, but this is a {}", other.type_name()),
        )),
    }
}
