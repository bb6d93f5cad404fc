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

/// Why [`tree_digest`] has no digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeDigestError {
    /// The path resolves (through a symbolic link) outside the directory.
    Outside(String),
    /// It does not exist or cannot be read.
    Unreadable(String),
}

/// The digest (`sha256:…`) of a file, or of a directory's tree (each
/// entry's relative path, kind and contents; a symbolic link by its
/// target's text), at `relative` under `dir`, which it may not leave;
/// entries whose real path `skip` accepts are left out.
pub fn tree_digest(
    dir: &std::path::Path,
    relative: &str,
    skip: &dyn Fn(&std::path::Path) -> bool,
) -> Result<String, TreeDigestError> {
    let unreadable = |path: &std::path::Path, e: &dyn std::fmt::Display| {
        TreeDigestError::Unreadable(format!("cannot read \"{}\": {e}", path.display()))
    };
    let base = dir.canonicalize().map_err(|e| unreadable(dir, &e))?;
    let full = dir.join(relative);
    let real = full.canonicalize().map_err(|e| unreadable(&full, &e))?;
    if !real.starts_with(&base) {
        return Err(TreeDigestError::Outside(format!(
            "\"{relative}\" is a symbolic link to {}, outside the module's directory",
            real.display()
        )));
    }
    let mut hasher = sha2::Sha256::new();
    let mut pending = vec![(real.clone(), String::new())];
    while let Some((path, name)) = pending.pop() {
        if skip(&path) {
            continue;
        }
        let meta = std::fs::symlink_metadata(&path).map_err(|e| unreadable(&path, &e))?;
        hasher.update(name.as_bytes());
        hasher.update([0]);
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).map_err(|e| unreadable(&path, &e))?;
            hasher.update(b"link\0");
            hasher.update(target.to_string_lossy().as_bytes());
        } else if meta.is_dir() {
            hasher.update(b"dir\0");
            let mut entries: Vec<(PathBuf, String)> = std::fs::read_dir(&path)
                .map_err(|e| unreadable(&path, &e))?
                .flatten()
                .map(|entry| {
                    let child = entry.file_name().to_string_lossy().into_owned();
                    let named = if name.is_empty() {
                        child
                    } else {
                        format!("{name}/{child}")
                    };
                    (entry.path(), named)
                })
                .collect();
            // Popped from the end: reversed, the tree is read in name order.
            entries.sort_by(|a, b| b.1.cmp(&a.1));
            pending.extend(entries);
        } else if meta.is_file() {
            hasher.update(b"file\0");
            hasher.update(meta.len().to_le_bytes());
            let mut file = std::fs::File::open(&path).map_err(|e| unreadable(&path, &e))?;
            let mut sink = HashWriter(&mut hasher);
            std::io::copy(&mut file, &mut sink).map_err(|e| unreadable(&path, &e))?;
        } else {
            hasher.update(b"other\0");
        }
    }
    Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
}

/// A hasher as an `io::Write`, to stream a file into it.
struct HashWriter<'a>(&'a mut sha2::Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_digest_follows_content_and_stays_inside() {
        let dir = std::env::temp_dir().join(format!("imm-tree-digest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("conf/sub")).expect("mkdir");
        std::fs::write(dir.join("conf/a.conf"), "a = 1\n").expect("write");
        std::fs::write(dir.join("conf/sub/b.conf"), "b = 1\n").expect("write");
        let first = tree_digest(&dir, "conf", &|_| false).expect("digest");
        assert!(first.starts_with("sha256:"), "{first}");
        assert_eq!(
            tree_digest(&dir, "conf", &|_| false).expect("again"),
            first,
            "stable"
        );
        std::fs::write(dir.join("conf/sub/b.conf"), "b = 2\n").expect("write");
        let changed = tree_digest(&dir, "conf", &|_| false).expect("digest");
        assert_ne!(changed, first, "a file's content counts");
        std::fs::rename(dir.join("conf/sub/b.conf"), dir.join("conf/sub/c.conf")).expect("mv");
        assert_ne!(
            tree_digest(&dir, "conf", &|_| false).expect("digest"),
            changed,
            "a name counts"
        );
        let sub = dir.join("conf/sub").canonicalize().expect("real");
        let without_sub = |p: &std::path::Path| p == sub;
        let skipped = tree_digest(&dir, "conf", &without_sub).expect("digest");
        std::fs::write(dir.join("conf/sub/d.conf"), "d\n").expect("write");
        assert_eq!(
            tree_digest(&dir, "conf", &without_sub).expect("digest"),
            skipped,
            "a skipped directory does not count"
        );
        std::os::unix::fs::symlink("/etc", dir.join("out")).expect("symlink");
        assert!(matches!(
            tree_digest(&dir, "out/hostname", &|_| false),
            Err(TreeDigestError::Outside(_))
        ));
        assert!(matches!(
            tree_digest(&dir, "missing", &|_| false),
            Err(TreeDigestError::Unreadable(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
