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
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The state format this version reads and writes.
///
/// - 1: the first format.
/// - 2: image repositories are scoped to the project
///   (`imm/<project>/<name>`); images recorded under the shared
///   `imm/<name>` are marked `shared_repository`, so that removing one
///   takes only its own tag (another project may use the repository), and
///   the planner replaces them under their new name.
pub const STATE_VERSION: u32 = 2;

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
    pub resources: Vec<ResourceRecord>,
    /// Artifact fingerprints built here, and whether they were applied and
    /// passed their tests (read by `promote_from`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<ArtifactEntry>,
    /// Ids and names of objects `imm state rm` let go of: never swept as
    /// orphans.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub released: Vec<String>,
    /// Creates that were started and never ended (the run was killed in
    /// between): the object may exist although no record says so. Cleared
    /// when the instance is recorded again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interrupted: Vec<InterruptedCreate>,
    /// Where each record of `resources` is, by address, kept by
    /// [`State::put_resource`] and [`State::remove_resource`]: an apply
    /// looks up every instance it changes, and a scan each time would make
    /// it quadratic. Code that renames records in place calls
    /// [`State::reindex`].
    #[serde(skip)]
    index: RecordIndex,
}

/// Positions of records by address. Trusted only while it covers as many
/// records as there are and a hit names the record found; otherwise a
/// lookup scans, and the next change rebuilds it. Not part of what a
/// state is: two states compare equal whatever their indexes.
#[derive(Clone, Default)]
struct RecordIndex(std::collections::HashMap<String, usize>);

impl PartialEq for RecordIndex {
    fn eq(&self, _: &RecordIndex) -> bool {
        true
    }
}

impl std::fmt::Debug for RecordIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecordIndex({} addresses)", self.0.len())
    }
}

/// A create that a killed run started and did not finish.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InterruptedCreate {
    pub address: String,
    /// The step's name (`create`, `create replacement`).
    pub action: String,
}

/// One resource instance as it exists. Sensitive leaves of `attributes`
/// are the string `"(sensitive)"`; `sensitive` keeps a keyed hash of each,
/// by path, so that a changed secret is still detected.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResourceRecord {
    pub address: String,
    #[serde(rename = "type")]
    pub type_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    pub attributes: serde_json::Value,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sensitive: BTreeMap<String, String>,
    /// How sensitive strings built by templates may be shown, by path
    /// (their text with each secret written `(sensitive)`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub shown: BTreeMap<String, String>,
    /// Out attributes (`id`, `sha256`, …).
    #[serde(default)]
    pub outs: serde_json::Map<String, serde_json::Value>,
    /// What the executor needs to find the object again (resolved paths,
    /// object ids); not visible to the language.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub private: serde_json::Value,
    /// Instance addresses this one depended on when it was created.
    #[serde(default)]
    pub dependencies: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prevent_destroy: bool,
    #[serde(default)]
    pub status: Status,
    /// Earlier objects of this instance, replaced but not yet destroyed
    /// (an apply stopped between the two halves of a replacement).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deposed: Vec<Deposed>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created and accepted (healthy, tests passed).
    #[default]
    Ready,
    /// Created but not accepted: the next plan replaces it.
    Tainted,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Deposed {
    pub attributes: serde_json::Value,
    #[serde(default)]
    pub outs: serde_json::Map<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub private: serde_json::Value,
}

/// An artifact fingerprint this environment built or applied.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ArtifactEntry {
    pub fingerprint: String,
    pub address: String,
    #[serde(rename = "type")]
    pub type_name: String,
    /// Seconds since the Unix epoch.
    pub built_at: u64,
    pub tested: bool,
    pub applied: bool,
    /// The artifact's out attributes (an image's id): a plan going back to
    /// this fingerprint knows them, so what uses the artifact is unchanged.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub outs: serde_json::Map<String, serde_json::Value>,
}

impl ArtifactEntry {
    /// Whether a plan going back to this fingerprint may take its recorded
    /// outs instead of building.
    pub fn is_reusable(&self) -> bool {
        self.tested && !self.outs.is_empty()
    }
}

impl State {
    /// The recorded outs of `address` built at `fingerprint`, when reusable.
    pub fn reusable_outs(
        &self,
        address: &str,
        fingerprint: &str,
    ) -> Option<&serde_json::Map<String, serde_json::Value>> {
        self.artifacts
            .iter()
            .find(|a| a.address == address && a.fingerprint == fingerprint && a.is_reusable())
            .map(|a| &a.outs)
    }

    /// Whether a create of `address` was interrupted and its object may exist.
    pub fn create_interrupted(&self, address: &str) -> bool {
        self.interrupted.iter().any(|i| i.address == address)
    }

    /// The out attributes of every recorded instance but those `skip`
    /// names, as the language reads them (`TYPE.NAME.ATTR`).
    pub fn known_outs(
        &self,
        skip: impl Fn(&str) -> bool,
    ) -> std::collections::HashMap<String, BTreeMap<String, imm_stdlib::Value>> {
        self.resources
            .iter()
            .filter(|r| !skip(&r.address))
            .map(|r| {
                let outs = r
                    .outs
                    .iter()
                    .map(|(k, v)| (k.clone(), imm_stdlib::Value::from_json(v)))
                    .collect();
                (r.address.clone(), outs)
            })
            .collect()
    }

    /// The record of an instance address.
    pub fn resource(&self, address: &str) -> Option<&ResourceRecord> {
        self.position(address).map(|at| &self.resources[at])
    }

    /// Where the record of `address` is: through the index while it can be
    /// trusted, else by a scan.
    fn position(&self, address: &str) -> Option<usize> {
        if self.index.0.len() == self.resources.len() {
            match self.index.0.get(address) {
                None => return None,
                Some(&at) if self.resources.get(at).is_some_and(|r| r.address == address) => {
                    return Some(at)
                }
                Some(_) => {}
            }
        }
        self.resources.iter().position(|r| r.address == address)
    }

    /// Rebuilds the index of records by address (after records were
    /// renamed or reordered in place).
    pub fn reindex(&mut self) {
        self.index.0 = self
            .resources
            .iter()
            .enumerate()
            .map(|(at, r)| (r.address.clone(), at))
            .collect();
    }

    /// The index, rebuilt when it cannot be trusted for `address`.
    fn fresh_position(&mut self, address: &str) -> Option<usize> {
        let stale = self.index.0.len() != self.resources.len()
            || self
                .index
                .0
                .get(address)
                .is_some_and(|&at| self.resources.get(at).is_none_or(|r| r.address != address));
        if stale {
            self.reindex();
        }
        self.index.0.get(address).copied()
    }

    /// Inserts or replaces the record of `record.address`.
    pub fn put_resource(&mut self, record: ResourceRecord) {
        if !self.interrupted.is_empty() {
            self.interrupted.retain(|i| i.address != record.address);
        }
        match self.fresh_position(&record.address) {
            Some(at) => self.resources[at] = record,
            None => {
                self.index
                    .0
                    .insert(record.address.clone(), self.resources.len());
                self.resources.push(record);
            }
        }
    }

    pub fn remove_resource(&mut self, address: &str) -> Option<ResourceRecord> {
        let at = self.fresh_position(address)?;
        self.index.0.remove(address);
        for position in self.index.0.values_mut() {
            if *position > at {
                *position -= 1;
            }
        }
        Some(self.resources.remove(at))
    }

    /// Records (or updates) a ledger entry.
    pub fn put_artifact(&mut self, entry: ArtifactEntry) {
        match self
            .artifacts
            .iter_mut()
            .find(|a| a.fingerprint == entry.fingerprint)
        {
            Some(slot) => {
                slot.tested |= entry.tested;
                slot.applied |= entry.applied;
                if !entry.outs.is_empty() {
                    slot.outs = entry.outs;
                }
            }
            None => self.artifacts.push(entry),
        }
    }
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
            artifacts: Vec::new(),
            released: Vec::new(),
            interrupted: Vec::new(),
            index: RecordIndex::default(),
        }
    }
}

/// Where an environment's state lives.
#[derive(Debug, Clone)]
pub struct StatePaths {
    pub state: PathBuf,
    pub backup: PathBuf,
    pub lock: PathBuf,
    /// Actions completed since the state document was last written.
    pub journal: PathBuf,
}

impl StatePaths {
    /// `<project>/.imm/state/<env>.json` and its companions.
    pub fn local(project_dir: &Path, environment: &str) -> StatePaths {
        let dir = project_dir.join(".imm").join("state");
        StatePaths {
            state: dir.join(format!("{environment}.json")),
            backup: dir.join(format!("{environment}.json.backup")),
            lock: dir.join(format!("{environment}.lock")),
            journal: dir.join(format!("{environment}.journal")),
        }
    }
}

/// Why state could not be used; each says what to do.
#[derive(Debug)]
pub enum StateError {
    Corrupt {
        path: PathBuf,
        detail: String,
    },
    TooNew {
        path: PathBuf,
        version: u32,
    },
    Locked {
        path: PathBuf,
        holder: String,
        id: String,
    },
    /// The state file is gone but its backup is not: it was lost.
    Lost {
        path: PathBuf,
        backup: PathBuf,
    },
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
            StateError::Locked { path, holder, id } => write!(
                f,
                "the state is locked by {holder} (lock file {}); wait for that run to finish, or, if it died, release it with\n\n    imm force-unlock {id}\n",
                path.display()
            ),
            StateError::Lost { path, backup } => write!(
                f,
                "the state file {} is missing but its backup {} exists: the state was lost, not never made. Restore it with\n\n    cp {} {}\n\nor move the backup away to start afresh (every object is then created again)",
                path.display(),
                backup.display(),
                backup.display(),
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
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A missing state beside its backup was lost, not never made:
            // planning from nothing would create everything again.
            let backup = backup_path(path);
            if backup.exists() {
                return Err(StateError::Lost {
                    path: path.to_path_buf(),
                    backup,
                });
            }
            return Ok(None);
        }
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
    from_json(raw)
        .map(Some)
        .map_err(|detail| StateError::Corrupt {
            path: path.to_path_buf(),
            detail,
        })
}

/// A state document of this or an earlier version, migrated to this one
/// (every backend reads through here). A newer version is the caller's to
/// refuse.
pub fn from_json(mut raw: serde_json::Value) -> Result<State, String> {
    let version = raw.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
    if version < 2 {
        mark_shared_image_repositories(&mut raw);
    }
    if let Some(v) = raw.get_mut("version") {
        *v = serde_json::Value::from(STATE_VERSION);
    }
    serde_json::from_value(raw).map_err(|e| e.to_string())
}

/// Version 1 → 2: image records (current and deposed) get
/// `private.shared_repository = true`.
fn mark_shared_image_repositories(raw: &mut serde_json::Value) {
    let image_type = imm_lang::types::docker_image::TYPE.name();
    let Some(resources) = raw.get_mut("resources").and_then(|r| r.as_array_mut()) else {
        return;
    };
    for record in resources {
        if record.get("type").and_then(|t| t.as_str()) != Some(image_type) {
            continue;
        }
        mark_shared(record.get_mut("private"));
        if let Some(deposed) = record.get_mut("deposed").and_then(|d| d.as_array_mut()) {
            for old in deposed {
                mark_shared(old.get_mut("private"));
            }
        }
    }
}

fn mark_shared(private: Option<&mut serde_json::Value>) {
    if let Some(serde_json::Value::Object(private)) = private {
        private.insert("shared_repository".into(), serde_json::Value::Bool(true));
    }
}

/// `<env>.json.backup` beside `<env>.json`.
fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".backup");
    path.with_file_name(name)
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
    /// The holder of a lock this one took over because it had died on
    /// this host (what the caller tells the user).
    pub taken_over: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct LockInfo {
    id: String,
    holder: String,
    pid: u32,
    created: u64,
    operation: String,
    /// The host the holder runs on: only there can it be known dead.
    #[serde(default)]
    host: String,
    /// The holder's start time (clock ticks since boot, from
    /// `/proc/PID/stat`), so that a reused pid is not taken for it.
    #[serde(default)]
    started: Option<u64>,
}

/// The id `imm force-unlock` takes for a lock file that cannot be read (a
/// run killed between creating it and writing it).
pub const UNREADABLE_LOCK_ID: &str = "unreadable";

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
            holder: lock_holder(),
            pid: std::process::id(),
            created: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            operation: operation.to_string(),
            host: hostname(),
            started: process_start(std::process::id()),
        };
        let taken_over = match read_lock(path) {
            Some(held) if holder_is_dead(&held) => {
                // Two runs that start in the same instant after a crash could
                // both get here; the second's remove may then take the first's
                // new lock. The window is a read and a create apart.
                let _ = std::fs::remove_file(path);
                Some(describe(&held))
            }
            _ => None,
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
                    taken_over,
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let info = read_lock(path);
                let holder = info
                    .as_ref()
                    .map(describe)
                    .unwrap_or_else(|| "an unknown process (the lock file cannot be read)".into());
                Err(StateError::Locked {
                    path: path.to_path_buf(),
                    holder,
                    id: info
                        .map(|l| l.id)
                        .unwrap_or_else(|| UNREADABLE_LOCK_ID.into()),
                })
            }
            Err(e) => Err(StateError::Io(
                anyhow::Error::new(e).context(format!("creating lock {}", path.display())),
            )),
        }
    }
}

fn read_lock(path: &Path) -> Option<LockInfo> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

fn describe(lock: &LockInfo) -> String {
    format!(
        "{} (pid {}, {} since {})",
        lock.holder, lock.pid, lock.operation, lock.created
    )
}

/// Whether the lock's holder provably no longer runs: it ran on this host
/// and its pid is gone, or now belongs to a process started at another
/// time. A holder on another host, or of an older imm that did not record
/// its host, is never taken for dead.
fn holder_is_dead(lock: &LockInfo) -> bool {
    if lock.host.is_empty() || lock.host != hostname() {
        return false;
    }
    match process_start(lock.pid) {
        None => !Path::new(&format!("/proc/{}", lock.pid)).exists(),
        Some(started) => lock.started.is_some_and(|recorded| recorded != started),
    }
}

/// A process's start time in clock ticks since boot (`/proc/PID/stat`,
/// field 22), where `/proc` exists.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: the
    // fields after it follow the last ')'.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// Why `imm force-unlock ID` did nothing.
#[derive(Debug, PartialEq, Eq)]
pub enum UnlockError {
    NotLocked,
    /// The lock has another id (shown so the user can check).
    OtherId(String),
    Io(String),
}

/// Removes a lock left by a process that died, if its id is `id`.
pub fn force_unlock(path: &Path, id: &str) -> Result<(), UnlockError> {
    if !path.exists() {
        return Err(UnlockError::NotLocked);
    }
    let held = read_lock(path)
        .map(|l| l.id)
        .unwrap_or_else(|| UNREADABLE_LOCK_ID.into());
    if held != id {
        return Err(UnlockError::OtherId(held));
    }
    std::fs::remove_file(path).map_err(|e| UnlockError::Io(format!("{}: {e}", path.display())))
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// `user@host`: who holds a lock, as its messages name them.
pub fn lock_holder() -> String {
    format!("{}@{}", whoami(), hostname())
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

    fn record(address: &str) -> ResourceRecord {
        ResourceRecord {
            address: address.to_string(),
            type_name: "file".into(),
            fingerprint: None,
            attributes: serde_json::Value::Null,
            sensitive: BTreeMap::new(),
            shown: BTreeMap::new(),
            outs: serde_json::Map::new(),
            private: serde_json::Value::Null,
            dependencies: Vec::new(),
            prevent_destroy: false,
            status: Status::Ready,
            deposed: Vec::new(),
        }
    }

    #[test]
    fn records_are_found_by_address_after_puts_removes_reorders_and_renames() {
        let mut state = State::new("default");
        for i in 0..5 {
            state.put_resource(record(&format!("file.a[{i}]")));
        }
        state.put_resource(record("file.a[2]"));
        assert_eq!(
            state.resources.len(),
            5,
            "a put of a recorded address replaces it"
        );
        assert!(state.remove_resource("file.a[1]").is_some());
        assert!(state.remove_resource("file.a[1]").is_none());
        for i in [0, 2, 3, 4] {
            let address = format!("file.a[{i}]");
            assert_eq!(state.resource(&address).map(|r| &r.address), Some(&address));
        }
        state.resources.reverse();
        assert_eq!(
            state.resource("file.a[4]").map(|r| r.address.as_str()),
            Some("file.a[4]")
        );
        state.put_resource(record("file.a[0]"));
        assert_eq!(state.resources.len(), 4);
        state.resources[0].address = "file.b".into();
        state.reindex();
        assert!(state.resource("file.b").is_some());
        assert!(state.resource("file.a[4]").is_none());
        // A state read from its file has no index yet: lookups still work.
        let read: State =
            serde_json::from_str(&serde_json::to_string(&state).expect("json")).expect("state");
        assert_eq!(read, state);
        assert!(read.resource("file.a[3]").is_some());
    }

    #[test]
    fn a_version_1_state_migrates_and_marks_shared_image_repositories() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("default.json");
        let v1 = serde_json::json!({
            "version": 1,
            "lineage": "l",
            "serial": 3,
            "environment": "default",
            "resources": [
                {
                    "address": "docker_image.web",
                    "type": "docker_image",
                    "attributes": {},
                    "private": { "tag": "imm/web:0123456789ab", "reused": false },
                    "deposed": [{ "attributes": {}, "outs": {}, "private": { "tag": "imm/web:ba9876543210" } }]
                },
                {
                    "address": "file.a",
                    "type": "file",
                    "attributes": {},
                    "private": { "path": "/x" }
                }
            ]
        });
        std::fs::write(&path, v1.to_string()).expect("write");
        let state = load(&path).expect("load").expect("state");
        assert_eq!(state.version, STATE_VERSION);
        let image = state.resource("docker_image.web").expect("image");
        assert_eq!(image.private["shared_repository"], true);
        assert_eq!(image.deposed[0].private["shared_repository"], true);
        let file = state.resource("file.a").expect("file");
        assert!(file.private.get("shared_repository").is_none());
    }

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
