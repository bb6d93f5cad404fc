//! File functions: `file`, `fileexists`, `fileset`, the digests
//! (`filesha256`, `filebase64sha512`, `filemd5`, …). Paths are relative
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
    String::from_utf8(bytes)
        .map(|mut text| {
            crate::value::normalize(&mut text);
            Value::String(text)
        })
        .map_err(|_| {
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

fn file_bytes(args: &[Value], ctx: &CallContext<'_>) -> Result<Vec<u8>, FunctionError> {
    let path = string_arg(args, 0)?;
    read_module_file(ctx, &path)
}

pub(crate) fn filebase64(args: Vec<Value>, ctx: &CallContext<'_>) -> FunctionResult {
    use base64::Engine;
    let bytes = file_bytes(&args, ctx)?;
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(bytes),
    ))
}

pub(crate) fn filebase64sha256(args: Vec<Value>, ctx: &CallContext<'_>) -> FunctionResult {
    use base64::Engine;
    let digest = sha2::Sha256::digest(file_bytes(&args, ctx)?);
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(digest),
    ))
}

pub(crate) fn filebase64sha512(args: Vec<Value>, ctx: &CallContext<'_>) -> FunctionResult {
    use base64::Engine;
    let digest = sha2::Sha512::digest(file_bytes(&args, ctx)?);
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(digest),
    ))
}

pub(crate) fn filemd5(args: Vec<Value>, ctx: &CallContext<'_>) -> FunctionResult {
    Ok(Value::String(hex::encode(md5::Md5::digest(file_bytes(
        &args, ctx,
    )?))))
}

pub(crate) fn filesha1(args: Vec<Value>, ctx: &CallContext<'_>) -> FunctionResult {
    Ok(Value::String(hex::encode(sha1::Sha1::digest(file_bytes(
        &args, ctx,
    )?))))
}

pub(crate) fn filesha512(args: Vec<Value>, ctx: &CallContext<'_>) -> FunctionResult {
    Ok(Value::String(hex::encode(sha2::Sha512::digest(
        file_bytes(&args, ctx)?,
    ))))
}

/// The files (not directories) under `path` whose path relative to it
/// matches the glob `pattern`: `*` and `?` stay within one directory,
/// `**` crosses them, `[abc]` and `{a,b}` choose; a set of `/` paths.
pub(crate) fn fileset(args: Vec<Value>, ctx: &CallContext<'_>) -> FunctionResult {
    let base = string_arg(&args, 0)?;
    let pattern = string_arg(&args, 1)?;
    let glob = globset::GlobBuilder::new(&pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| FunctionError::at(1, format!("invalid pattern: {e}")))?
        .compile_matcher();
    let root = resolve(ctx, &base);
    let mut found = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| {
            FunctionError::at(
                0,
                format!("cannot read the directory \"{}\": {e}", dir.display()),
            )
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                pending.push(path);
                continue;
            }
            let Ok(relative) = path.strip_prefix(&root) else {
                continue;
            };
            let relative = relative.to_string_lossy().replace('\\', "/");
            if glob.is_match(&relative) {
                found.push(Value::String(relative));
            }
        }
    }
    Ok(crate::value::make_set(found))
}
