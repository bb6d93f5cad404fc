//! File functions: `file`, `fileexists`, `filesha256`. Paths are relative
//! to the calling module's directory.

use super::{string_arg, CallContext, FunctionError, FunctionResult};
use crate::value::Value;
use sha2::Digest;
use std::path::PathBuf;

/// Reads a file named by a function argument, relative to the module.
pub fn read_module_file(ctx: &CallContext<'_>, path: &str) -> Result<Vec<u8>, FunctionError> {
    let full = resolve(ctx, path);
    std::fs::read(&full)
        .map_err(|e| FunctionError::at(0, format!("cannot read \"{}\": {e}", full.display())))
}

fn resolve(ctx: &CallContext<'_>, path: &str) -> PathBuf {
    ctx.module_dir.join(path)
}

pub(crate) fn file(args: Vec<Value>, ctx: &CallContext<'_>) -> FunctionResult {
    let path = string_arg(&args, 0)?;
    let bytes = read_module_file(ctx, &path)?;
    String::from_utf8(bytes).map(Value::String).map_err(|_| {
        FunctionError::at(
            0,
            format!("\"{path}\" is not UTF-8 text; use filebase64 for binary files"),
        )
    })
}

pub(crate) fn fileexists(args: Vec<Value>, ctx: &CallContext<'_>) -> FunctionResult {
    let path = string_arg(&args, 0)?;
    let full = resolve(ctx, &path);
    match std::fs::metadata(&full) {
        Ok(meta) if meta.is_file() => Ok(Value::Bool(true)),
        Ok(_) => Err(FunctionError::at(
            0,
            format!("\"{path}\" exists but is not a regular file"),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Value::Bool(false)),
        Err(e) => Err(FunctionError::at(0, format!("cannot read \"{path}\": {e}"))),
    }
}

pub(crate) fn filesha256(args: Vec<Value>, ctx: &CallContext<'_>) -> FunctionResult {
    let path = string_arg(&args, 0)?;
    let bytes = read_module_file(ctx, &path)?;
    Ok(Value::String(hex::encode(sha2::Sha256::digest(&bytes))))
}
