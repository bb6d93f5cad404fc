//! Where an environment's state lives, as one async interface
//! ([`StateBackend`]): a lock with an owner (a guard released explicitly
//! at the end of a command), the document read with a version and written
//! only if nobody wrote it since (compare-and-swap), the apply journal
//! (appended through [`JournalSink`], read back and cleared once folded in),
//! force-unlock and a description for messages.
//!
//! One module per backend, one line per backend in [`BACKENDS`]: a new
//! backend is a new module and its registry line; nothing else names it
//! (`tests/tidy.rs` checks both).

pub mod etcd;
pub mod local;
pub mod postgres;

use crate::journal::JournalSink;
use crate::ActionError;
use async_trait::async_trait;
use imm_lang::diagnostics::Code;
use imm_planner::state::State;
use imm_stdlib::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// What a backend hands back with a document so that a later write can
/// tell whether someone wrote in between (etcd's revision, postgres' row
/// revision, a local file's serial); 0 when there was no document.
pub type Version = u64;

/// A held state lock. Dropping it without [`LockGuard::release`] never
/// leaves the lock for ever: a local lock file of a dead process is taken
/// over, an etcd lease expires, a postgres session lock dies with its
/// connection. Releasing explicitly frees it at once.
#[async_trait]
pub trait LockGuard: Send {
    /// The holder of a lock this one took over because it had died (what
    /// the user is told).
    fn taken_over(&self) -> Option<String>;
    /// Frees the lock now. A release that fails is not reported: the lock
    /// then goes away on its own, as a dropped guard's does.
    async fn release(self: Box<Self>);
}

#[async_trait]
pub trait StateBackend: Send + Sync {
    /// Takes the lock for `operation` (`"apply"`, `"plan"`, …), or fails
    /// with `Code::StateLocked` naming the holder.
    async fn lock(&self, operation: &str) -> Result<Box<dyn LockGuard>, ActionError>;
    /// The document (`None`: none yet) and its version.
    async fn read(&self) -> Result<(Option<State>, Version), ActionError>;
    /// Writes the document if its version is still `read_at`, else fails
    /// with `Code::Conflict`; returns the new version.
    async fn write(&self, state: &State, read_at: Version) -> Result<Version, ActionError>;
    /// The journal an interrupted apply left, as lines of JSON entries,
    /// oldest first (empty: none).
    async fn read_journal(&self) -> Result<String, ActionError>;
    /// Where the apply engine journals its steps.
    async fn journal_sink(&self) -> Result<Box<dyn JournalSink>, ActionError>;
    /// Drops the journal once the document holds it.
    async fn clear_journal(&self) -> Result<(), ActionError>;
    /// Removes the lock of a run that died, if its id is `id`.
    async fn force_unlock(&self, id: &str) -> Result<(), ActionError>;
    /// "etcd at http://127.0.0.1:2379 (key imm/state/dev)", for messages.
    fn describe(&self) -> String;
}

/// What a backend is opened from: the `state` block's evaluated
/// attributes, the project directory and the environment.
pub struct Settings<'a> {
    pub attributes: &'a BTreeMap<String, Value>,
    pub project_dir: &'a Path,
    pub environment: &'a str,
}

impl Settings<'_> {
    /// A string attribute, if set.
    pub fn text(&self, key: &str) -> Option<String> {
        match self.attributes.get(key).map(Value::unmarked) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        }
    }

    /// A list-of-strings attribute (empty when unset).
    pub fn list(&self, key: &str) -> Vec<String> {
        match self.attributes.get(key).map(Value::unmarked) {
            Some(Value::List(items)) => items.iter().map(|i| i.unmarked().display()).collect(),
            _ => Vec::new(),
        }
    }
}

/// Opens a backend from its settings; a wrong setting is an error that
/// names the attribute.
pub type Open = fn(&Settings<'_>) -> Result<Box<dyn StateBackend>, ActionError>;

/// Every backend by the name `state { backend = "…" }` gives it.
pub const BACKENDS: &[(&str, Open)] = &[
    ("local", local::open),
    ("etcd", etcd::open),
    ("postgres", postgres::open),
];

/// The backend the settings ask for (`local` without a `backend`).
pub fn open(settings: &Settings<'_>) -> Result<Box<dyn StateBackend>, ActionError> {
    let wanted = settings.text("backend").unwrap_or_else(|| "local".into());
    let Some((_, open)) = BACKENDS.iter().find(|(name, _)| *name == wanted) else {
        let names: Vec<&str> = BACKENDS.iter().map(|(name, _)| *name).collect();
        let quoted: Vec<String> = names.iter().map(|name| format!("\"{name}\"")).collect();
        return Err(ActionError::new(
            Code::StateUnreadable,
            format!(
                "the state block's backend \"{wanted}\" is not one of {}",
                names.join(", ")
            ),
        )
        .with_help(format!(
            "write backend = {} in the state block (docs/language.md describes each)",
            quoted.join(" or ")
        )));
    };
    open(settings)
}

/// The holder recorded with a lock: `user@host (pid N, OPERATION)`.
pub fn holder(operation: &str) -> String {
    format!(
        "{} (pid {}, {operation})",
        imm_planner::state::lock_holder(),
        std::process::id()
    )
}

/// A document that does not parse, or is of a newer format, read from
/// `place`.
pub fn parse_document(text: &str, place: &str) -> Result<State, ActionError> {
    let corrupt = |e: String| {
        ActionError::new(
            Code::StateUnreadable,
            format!("the state in {place} is corrupt ({e})"),
        )
        .with_help(
            "restore an earlier version of the document from the backend's history or a backup",
        )
    };
    let raw: serde_json::Value = serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
    let version = raw.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
    if version > u64::from(imm_planner::state::STATE_VERSION) {
        return Err(ActionError::new(
            Code::StateUnreadable,
            format!(
                "the state in {place} has format version {version}, newer than this imm understands ({})",
                imm_planner::state::STATE_VERSION
            ),
        )
        .with_help("upgrade imm to the version that wrote this state"));
    }
    imm_planner::state::from_json(raw).map_err(corrupt)
}

/// The refusal of a write whose document moved since it was read.
pub fn moved_since_read(place: &str) -> ActionError {
    ActionError::new(
        Code::Conflict,
        format!("the state was changed by another writer since it was read; nothing was overwritten (it is in {place})"),
    )
    .with_help("run the command again: it reads the state as it is now (a saved plan must be made again)")
}

/// Journal entries as the lines a journal file holds.
pub fn journal_lines(entries: impl IntoIterator<Item = String>) -> String {
    entries.into_iter().map(|line| line + "\n").collect()
}

#[cfg(test)]
mod tests {
    use super::{open, Settings};
    use imm_lang::diagnostics::Code;
    use std::collections::BTreeMap;

    #[test]
    fn an_unknown_backend_is_refused_naming_those_there_are() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut attributes = BTreeMap::new();
        attributes.insert("backend".to_string(), imm_stdlib::Value::string("s3"));
        let refused = open(&Settings {
            attributes: &attributes,
            project_dir: dir.path(),
            environment: "dev",
        })
        .err()
        .expect("s3 is not a backend");
        assert_eq!(refused.code, Code::StateUnreadable);
        assert!(
            refused.message.contains("local, etcd, postgres"),
            "{}",
            refused.message
        );
    }
}
