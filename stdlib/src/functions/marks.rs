//! The two functions about the sensitive mark itself (`nonsensitive`,
//! `issensitive`): unlike every other function they see their argument
//! with its marks.

use super::{arg, FunctionResult};
use crate::value::{Type, Value};

pub(crate) fn nonsensitive(args: Vec<Value>) -> FunctionResult {
    Ok(arg(&args, 0)?.clone().unmark_deep().0)
}

pub(crate) fn issensitive(args: Vec<Value>) -> FunctionResult {
    let value = arg(&args, 0)?;
    if value.contains_unknown() {
        return Ok(Value::Unknown(Type::Bool));
    }
    Ok(Value::Bool(value.contains_sensitive()))
}
