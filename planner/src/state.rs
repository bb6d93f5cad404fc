//! Recorded state, per environment: `.imm/state/<env>.json`.
//!
//! Writes are atomic (temporary file, fsync, rename, fsync of the
//! directory) and keep the previous serial as `<env>.json.backup`. A lock
//! file beside the state (`<env>.lock`) carries an id, the holder and the
//! time; a second writer is refused with a message that names them. A
//! corrupt or newer-version state is an error, never a silent reset.

use anyhow::Context;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The state format this version reads and writes.
pub const STATE_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct State {
    pub version: u32,
    /// Identifies one state history; a saved plan from another is refused.
    pub lineage: String,
    /// Increases with every write.
    pub serial: u64,
    pub environment: String,
    #[serde(default)]
    pub outputs: IndexMap<String, StoredOutput>,
    #[serde(default)]
    pub resources: Vec<serde_json::Value>,
}

/// An output as recorded: sensitive values are never written.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StoredOutput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    pub sensitive: bool,
}

impl State {
    pub fn new(environment: &str) -> State {
        State {
            version: STATE_VERSION,
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            environment: environment.to_string(),
            outputs: IndexMap::new(),
            resources: Vec::new(),
        }
    }
}

/// Where an environment's state lives.
#[derive(Debug, Clone)]
pub struct StatePaths {
    pub state: PathBuf,
    pub backup: PathBuf,
    pub lock: PathBuf,
}

impl StatePaths {
    /// `<project>/.imm/state/<env>.json` and its companions.
    pub fn local(project_dir: &Path, environment: &str) -> StatePaths {
        let dir = project_dir.join(".imm").join("state");
        StatePaths {
            state: dir.join(format!("{environment}.json")),
            backup: dir.join(format!("{environment}.json.backup")),
            lock: dir.join(format!("{environment}.lock")),
        }
    }
}

/// Why state could not be used; each says what to do.
#[derive(Debug)]
pub enum StateError {
    Corrupt { path: PathBuf, detail: String },
    TooNew { path: PathBuf, version: u32 },
    Locked { path: PathBuf, holder: String },
    Io(anyhow::Error),
}

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateError::Corrupt { path, detail } => write!(
                f,
                "the state file {} is corrupt ({detail}); restore it from {}.backup, or move it away to start with an empty state",
                path.display(),
                path.display()
            ),
            StateError::TooNew { path, version } => write!(
                f,
                "the state file {} has format version {version}, newer than this imm understands ({STATE_VERSION}); upgrade imm",
                path.display()
            ),
            StateError::Locked { path, holder } => write!(
                f,
                "the state is locked by {holder} (lock file {}); wait for that run to finish, or run `imm force-unlock` if it died",
                path.display()
            ),
            StateError::Io(e) => write!(f, "{e:#}"),
        }
    }
}

impl std::error::Error for StateError {}

/// Reads the state; `Ok(None)` when there is none yet.
pub fn load(path: &Path) -> Result<Option<State>, StateError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(StateError::Io(
                anyhow::Error::new(e).context(format!("reading {}", path.display())),
            ))
        }
    };
    let raw: serde_json::Value = serde_json::from_str(&text).map_err(|e| StateError::Corrupt {
        path: path.to_path_buf(),
        detail: format!("invalid JSON at line {} column {}", e.line(), e.column()),
    })?;
    let version =
        raw.get("version")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| StateError::Corrupt {
                path: path.to_path_buf(),
                detail: "no \"version\" field".into(),
            })?;
    if version > u64::from(STATE_VERSION) {
        return Err(StateError::TooNew {
            path: path.to_path_buf(),
            version: version as u32,
        });
    }
    serde_json::from_value(raw)
        .map(Some)
        .map_err(|e| StateError::Corrupt {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })
}

/// Writes the state atomically, keeping the previous one as the backup.
pub fn save(paths: &StatePaths, state: &State) -> Result<(), StateError> {
    save_inner(paths, state).map_err(StateError::Io)
}

fn save_inner(paths: &StatePaths, state: &State) -> anyhow::Result<()> {
    let dir = paths
        .state
        .parent()
        .context("state path has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    if paths.state.exists() {
        std::fs::copy(&paths.state, &paths.backup).with_context(|| {
            format!(
                "backing up {} to {}",
                paths.state.display(),
                paths.backup.display()
            )
        })?;
    }
    let mut text = serde_json::to_string_pretty(state).context("serialising state")?;
    text.push('\n');
    write_atomic(&paths.state, text.as_bytes())
}

/// Temporary file in the same directory, fsync, rename, fsync directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().context("path has no directory")?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("state"),
        std::process::id()
    ));
    {
        let mut file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        file.write_all(bytes)
            .with_context(|| format!("writing {}", tmp.display()))?;
        file.sync_all()
            .with_context(|| format!("syncing {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    if let Ok(d) = File::open(dir) {
        // Makes the rename durable; not all filesystems support it.
        let _ = d.sync_all();
    }
    Ok(())
}

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
    pub id: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct LockInfo {
    id: String,
    holder: String,
    pid: u32,
    created: u64,
    operation: String,
}

impl Lock {
    /// Takes the lock, or says who holds it.
    pub fn acquire(path: &Path, operation: &str) -> Result<Lock, StateError> {
        let dir = path
            .parent()
            .ok_or_else(|| StateError::Io(anyhow::anyhow!("lock path has no directory")))?;
        std::fs::create_dir_all(dir).map_err(|e| {
            StateError::Io(anyhow::Error::new(e).context(format!("creating {}", dir.display())))
        })?;
        let info = LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            holder: format!("{}@{}", whoami(), hostname()),
            pid: std::process::id(),
            created: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            operation: operation.to_string(),
        };
        match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(mut file) => {
                let text = serde_json::to_string(&info).map_err(|e| StateError::Io(e.into()))?;
                file.write_all(text.as_bytes())
                    .map_err(|e| StateError::Io(e.into()))?;
                file.sync_all().map_err(|e| StateError::Io(e.into()))?;
                Ok(Lock {
                    path: path.to_path_buf(),
                    id: info.id,
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let holder = std::fs::read_to_string(path)
                    .ok()
                    .and_then(|t| serde_json::from_str::<LockInfo>(&t).ok())
                    .map(|l| {
                        format!(
                            "{} (pid {}, {} since {}, lock id {})",
                            l.holder, l.pid, l.operation, l.created, l.id
                        )
                    })
                    .unwrap_or_else(|| "an unknown process".into());
                Err(StateError::Locked {
                    path: path.to_path_buf(),
                    holder,
                })
            }
            Err(e) => Err(StateError::Io(
                anyhow::Error::new(e).context(format!("creating lock {}", path.display())),
            )),
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn whoami() -> String {
    std::env::var("USER").unwrap_or_else(|_| "unknown".into())
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_backup_and_refusals() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = StatePaths::local(dir.path(), "dev");
        let mut state = State::new("dev");
        save(&paths, &state).expect("first save");
        state.serial = 1;
        save(&paths, &state).expect("second save");
        assert_eq!(load(&paths.state).expect("load"), Some(state.clone()));
        let backup = load(&paths.backup).expect("backup").expect("exists");
        assert_eq!(backup.serial, 0);

        std::fs::write(&paths.state, "{ not json").expect("write");
        assert!(matches!(
            load(&paths.state),
            Err(StateError::Corrupt { .. })
        ));
        std::fs::write(&paths.state, r#"{"version": 99}"#).expect("write");
        assert!(matches!(
            load(&paths.state),
            Err(StateError::TooNew { version: 99, .. })
        ));

        let held = Lock::acquire(&paths.lock, "apply").expect("lock");
        let second = Lock::acquire(&paths.lock, "apply");
        assert!(matches!(second, Err(StateError::Locked { .. })));
        drop(held);
        assert!(Lock::acquire(&paths.lock, "apply").is_ok());
    }
}
