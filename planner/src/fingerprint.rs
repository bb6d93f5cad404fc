//! Content fingerprints of build inputs. A `docker_image`'s context is
//! hashed file by file (path, type, mode, content) with blake3, in
//! parallel, each file read once, honouring `.dockerignore` as Docker does:
//! patterns are relative to the context root (`foo` is `/foo`, not any
//! `foo` below), `**` spans directories, `!` re-includes, the last matching
//! pattern wins, and excluding a directory excludes what is in it.

use regex::Regex;
use std::path::{Path, PathBuf};

/// The digest of a build context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextDigest {
    /// Hex blake3 over every included file and the Dockerfile.
    pub hex: String,
    pub files: usize,
    pub bytes: u64,
}

/// Why a context could not be hashed; says which path.
#[derive(Debug)]
pub struct FingerprintError {
    pub path: PathBuf,
    pub message: String,
}

impl std::fmt::Display for FingerprintError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for FingerprintError {}

fn error(path: &Path, message: impl std::fmt::Display) -> FingerprintError {
    FingerprintError {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Hashes the context directory and its Dockerfile (relative to it).
pub fn docker_context(context: &Path, dockerfile: &str) -> Result<ContextDigest, FingerprintError> {
    let dockerfile_path = context.join(dockerfile);
    let dockerfile_text = std::fs::read(&dockerfile_path)
        .map_err(|e| error(&dockerfile_path, format!("cannot read the Dockerfile: {e}")))?;
    let mut total = blake3::Hasher::new();
    total.update(b"imm-context-v1\0dockerfile\0");
    total.update(dockerfile.as_bytes());
    total.update(b"\0");
    total.update(blake3::hash(&dockerfile_text).as_bytes());
    let (files, bytes) = add_files(&mut total, context)?;
    Ok(ContextDigest {
        hex: total.finalize().to_hex().to_string(),
        files,
        bytes,
    })
}

/// The digest of a directory's files (`.dockerignore` applied), by
/// relative path, mode and contents: an `exec` artifact's `build.files`.
pub fn directory(dir: &Path) -> Result<String, FingerprintError> {
    let mut total = blake3::Hasher::new();
    total.update(b"imm-directory-v1\0");
    add_files(&mut total, dir)?;
    Ok(total.finalize().to_hex().to_string())
}

/// Hashes each file of `dir` that Docker would see, by relative path, mode
/// and contents, into `total`; returns how many files and bytes.
fn add_files(total: &mut blake3::Hasher, dir: &Path) -> Result<(usize, u64), FingerprintError> {
    let entries = context_entries(dir)?;
    let digests = hash_all(&entries)?;
    let mut bytes = 0;
    for (entry, digest) in entries.iter().zip(&digests) {
        total.update(entry.relative.as_bytes());
        total.update(b"\0");
        total.update(&entry.mode.to_le_bytes());
        total.update(digest.as_bytes());
        bytes += entry.size;
    }
    Ok((entries.len(), bytes))
}

/// The entries of a build context that Docker would see (`.dockerignore`
/// applied), sorted by path: what is hashed, and what is sent to the daemon.
pub fn context_entries(context: &Path) -> Result<Vec<Entry>, FingerprintError> {
    let ignore = match std::fs::read_to_string(context.join(".dockerignore")) {
        Ok(text) => {
            DockerIgnore::parse(&text).map_err(|m| error(&context.join(".dockerignore"), m))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => DockerIgnore::default(),
        Err(e) => return Err(error(&context.join(".dockerignore"), e)),
    };
    let mut entries = Vec::new();
    walk(context, context, &ignore, &mut entries)?;
    entries.sort_by(|a, b| a.relative.cmp(&b.relative));
    Ok(entries)
}

pub struct Entry {
    pub path: PathBuf,
    /// Forward slashes, relative to the context.
    pub relative: String,
    /// File type bits and permissions.
    pub mode: u32,
    pub size: u64,
    pub kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    File,
    Directory,
    Symlink,
}

fn walk(
    root: &Path,
    dir: &Path,
    ignore: &DockerIgnore,
    out: &mut Vec<Entry>,
) -> Result<(), FingerprintError> {
    let reader = std::fs::read_dir(dir).map_err(|e| error(dir, e))?;
    for item in reader {
        let item = item.map_err(|e| error(dir, e))?;
        let path = item.path();
        let relative = path
            .strip_prefix(root)
            .map_err(|e| error(&path, e))?
            .to_string_lossy()
            .replace('\\', "/");
        if ignore.excludes(&relative) {
            // An exception deeper down (`!dir/keep`) still needs the walk.
            if !(path.is_dir() && ignore.may_reinclude_below(&relative)) {
                continue;
            }
        }
        let meta = std::fs::symlink_metadata(&path).map_err(|e| error(&path, e))?;
        let kind = if meta.file_type().is_symlink() {
            Kind::Symlink
        } else if meta.is_dir() {
            Kind::Directory
        } else if meta.is_file() {
            Kind::File
        } else if ignore.excludes(&relative) {
            continue;
        } else {
            // A pipe or a device would be read for ever, and Docker
            // cannot send one to the builder either.
            return Err(FingerprintError {
                path: path.clone(),
                message: "is not a regular file, a directory or a symlink (a pipe, socket or device); remove it from the build context or list it in .dockerignore".into(),
            });
        };
        if kind == Kind::Directory {
            if !ignore.excludes(&relative) {
                out.push(Entry {
                    path: path.clone(),
                    relative: relative.clone(),
                    mode: mode_of(&meta),
                    size: 0,
                    kind,
                });
            }
            walk(root, &path, ignore, out)?;
            continue;
        }
        if !ignore.excludes(&relative) {
            out.push(Entry {
                path,
                relative,
                mode: mode_of(&meta),
                size: meta.len(),
                kind,
            });
        }
    }
    Ok(())
}

#[cfg(unix)]
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::MetadataExt;
    meta.mode()
}

#[cfg(not(unix))]
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    u32::from(meta.permissions().readonly())
}

/// Hashes every entry once, spread over the cores.
fn hash_all(entries: &[Entry]) -> Result<Vec<blake3::Hash>, FingerprintError> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .max(1);
    let chunk = entries.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = entries
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || part.iter().map(hash_entry).collect::<Result<Vec<_>, _>>())
            })
            .collect();
        let mut out = Vec::with_capacity(entries.len());
        for handle in handles {
            match handle.join() {
                Ok(part) => out.extend(part?),
                Err(_) => return Err(error(Path::new("."), "a hashing thread stopped")),
            }
        }
        Ok(out)
    })
}

fn hash_entry(entry: &Entry) -> Result<blake3::Hash, FingerprintError> {
    match entry.kind {
        Kind::Directory => Ok(blake3::hash(b"directory")),
        Kind::Symlink => {
            let target = std::fs::read_link(&entry.path).map_err(|e| error(&entry.path, e))?;
            Ok(blake3::hash(target.to_string_lossy().as_bytes()))
        }
        Kind::File => {
            let mut hasher = blake3::Hasher::new();
            hasher
                .update_mmap(&entry.path)
                .map_err(|e| error(&entry.path, e))?;
            Ok(hasher.finalize())
        }
    }
}

/// `.dockerignore` patterns, in order.
#[derive(Default)]
pub struct DockerIgnore {
    rules: Vec<Rule>,
}

struct Rule {
    regex: Regex,
    exception: bool,
    /// The pattern's literal directory prefix, for `may_reinclude_below`.
    pattern: String,
}

impl DockerIgnore {
    pub fn parse(text: &str) -> Result<DockerIgnore, String> {
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exception, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let pattern = clean(pattern);
            if pattern.is_empty() {
                continue;
            }
            let regex = Regex::new(&to_regex(&pattern))
                .map_err(|e| format!("invalid pattern {pattern:?}: {e}"))?;
            rules.push(Rule {
                regex,
                exception,
                pattern,
            });
        }
        Ok(DockerIgnore { rules })
    }

    /// Whether a path (relative, forward slashes) is left out of the context:
    /// the last pattern matching it or one of its parent directories wins.
    pub fn excludes(&self, relative: &str) -> bool {
        let mut excluded = false;
        for rule in &self.rules {
            if matches_self_or_parent(&rule.regex, relative) {
                excluded = !rule.exception;
            }
        }
        excluded
    }

    /// Whether an exception could re-include something below `dir`.
    fn may_reinclude_below(&self, dir: &str) -> bool {
        self.rules.iter().any(|r| {
            r.exception
                && (r.pattern.starts_with(&format!("{dir}/")) || r.pattern.starts_with("**"))
        })
    }
}

fn matches_self_or_parent(regex: &Regex, relative: &str) -> bool {
    if regex.is_match(relative) {
        return true;
    }
    let mut path = relative;
    while let Some((parent, _)) = path.rsplit_once('/') {
        if regex.is_match(parent) {
            return true;
        }
        path = parent;
    }
    false
}

/// Go's `filepath.Clean` for patterns: no leading `/` or `./`, no empty or
/// `.` segments, `..` resolved where possible.
fn clean(pattern: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// Docker's pattern syntax as a regex anchored on the whole path.
fn to_regex(pattern: &str) -> String {
    let mut out = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' if chars.get(i + 1) == Some(&'*') => {
                i += 1;
                if chars.get(i + 1) == Some(&'/') {
                    // `**/` : zero or more directories.
                    i += 1;
                    out.push_str("(?:.*/)?");
                } else {
                    out.push_str(".*");
                }
            }
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            '[' => {
                let end = chars[i..].iter().position(|&c| c == ']').map(|p| i + p);
                match end {
                    Some(end) => {
                        let class: String = chars[i + 1..end].iter().collect();
                        let class = class
                            .strip_prefix('^')
                            .map(|c| format!("^{c}"))
                            .unwrap_or(class);
                        out.push('[');
                        out.push_str(&class.replace('\\', "\\\\"));
                        out.push(']');
                        i = end;
                    }
                    None => out.push_str("\\["),
                }
            }
            '\\' if i + 1 < chars.len() => {
                i += 1;
                out.push_str(&regex::escape(&chars[i].to_string()));
            }
            other => out.push_str(&regex::escape(&other.to_string())),
        }
        i += 1;
    }
    out.push('$');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, text).expect("write");
    }

    fn digest(dir: &Path) -> String {
        docker_context(dir, "Dockerfile").expect("hash").hex
    }

    #[test]
    fn content_mode_and_new_files_change_the_fingerprint() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "Dockerfile", "FROM scratch\n");
        write(dir.path(), "app/main.sh", "echo hi\n");
        let first = digest(dir.path());
        assert_eq!(first, digest(dir.path()), "stable");
        write(dir.path(), "app/main.sh", "echo bye\n");
        let second = digest(dir.path());
        assert_ne!(first, second, "content");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = dir.path().join("app/main.sh");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
            assert_ne!(second, digest(dir.path()), "mode");
        }
        let third = digest(dir.path());
        write(dir.path(), "app/extra.txt", "");
        assert_ne!(third, digest(dir.path()), "a new empty file");
        write(dir.path(), "Dockerfile", "FROM scratch\nCOPY app /app\n");
        assert_ne!(digest(dir.path()), third, "the Dockerfile");
    }

    #[test]
    fn dockerignore_follows_dockers_rules() {
        let ignore = DockerIgnore::parse(
            "# comment\n*.log\n!keep.log\ntmp/\n**/node_modules\ndocs/*.md\n/build\n",
        )
        .expect("parse");
        assert!(ignore.excludes("debug.log"));
        assert!(
            !ignore.excludes("keep.log"),
            "the exception wins: it comes later"
        );
        assert!(
            !ignore.excludes("logs/debug.log"),
            "`*.log` is relative to the root, unlike .gitignore"
        );
        assert!(
            ignore.excludes("tmp/cache/x"),
            "a directory excludes what is in it"
        );
        assert!(ignore.excludes("a/b/node_modules/x.js") && ignore.excludes("node_modules/y"));
        assert!(ignore.excludes("docs/readme.md") && !ignore.excludes("docs/sub/readme.md"));
        assert!(ignore.excludes("build/out") && !ignore.excludes("src/build"));
        let order = DockerIgnore::parse("!keep.log\n*.log\n").expect("parse");
        assert!(order.excludes("keep.log"), "the last matching pattern wins");
    }

    #[test]
    fn ignored_files_do_not_change_the_fingerprint() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "Dockerfile", "FROM scratch\n");
        write(dir.path(), ".dockerignore", "*.log\ncache/\n!cache/keep\n");
        write(dir.path(), "app.sh", "x");
        let base = digest(dir.path());
        write(dir.path(), "debug.log", "noise");
        write(dir.path(), "cache/junk", "noise");
        assert_eq!(base, digest(dir.path()), "ignored files");
        write(dir.path(), "cache/keep", "kept");
        assert_ne!(base, digest(dir.path()), "re-included by an exception");
    }

    #[test]
    fn a_missing_dockerfile_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = docker_context(dir.path(), "Dockerfile").expect_err("no Dockerfile");
        assert!(
            err.to_string().contains("cannot read the Dockerfile"),
            "{err}"
        );
    }
}
