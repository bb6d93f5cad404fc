//! File functions: `file`, `fileexists`, `filesha256`. Paths are relative
//! to the calling module's directory.

use super::{string_arg, CallContext, FunctionError, FunctionResult};
use crate::value::Value;
use sha2::Digest;
use std::path::PathBuf;

/// Reads a file named by a function argument, relative to the module.
pub fn read_module_file(ctx: &CallContext<'_>, path: &str) -> Result<Vec<u8>, FunctionError> {
    let full = resolve(ctx, path);
    read_bounded(&full).map_err(|message| FunctionError::at(0, message))
}

/// The most a file function reads: configuration, not data.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Reads a regular file of at most [`MAX_FILE_BYTES`]; a device or a pipe
/// (`/dev/zero`, a FIFO) is refused before it is read, since it may never
/// end.
pub fn read_bounded(full: &std::path::Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let cannot = |e: &dyn std::fmt::Display| format!("cannot read \"{}\": {e}", full.display());
    let meta = std::fs::metadata(full).map_err(|e| cannot(&e))?;
    if !meta.is_file() {
        return Err(format!(
            "\"{}\" is not a regular file (a directory, device or pipe); file functions read files",
            full.display()
        ));
    }
    let file = std::fs::File::open(full).map_err(|e| cannot(&e))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| cannot(&e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "\"{}\" is larger than {} MiB, the most a file function reads",
            full.display(),
            MAX_FILE_BYTES / (1024 * 1024)
        ));
    }
    Ok(bytes)
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
