//! State in local files (the default, or `state { path = "dir" }`):
//! `planner::state`'s document, backup and lock file, and
//! `planner::journal`'s journal file (synced in groups), behind [`StateBackend`].

use super::{LockGuard, Settings, StateBackend, Version};
use crate::journal::{JournalError, JournalSink};
use crate::ActionError;
use async_trait::async_trait;
use imm_lang::diagnostics::Code;
use imm_planner::journal::{Entry, Journal};
use imm_planner::state::{self, Lock, State, StateError, StatePaths, UnlockError};

pub struct LocalState {
    paths: StatePaths,
}

pub fn open(settings: &Settings<'_>) -> Result<Box<dyn StateBackend>, ActionError> {
    let environment = settings.environment;
    let paths = match settings.text("path") {
        None => StatePaths::local(settings.project_dir, environment),
        Some(dir) => {
            let dir = settings.project_dir.join(dir);
            StatePaths {
                state: dir.join(format!("{environment}.json")),
                backup: dir.join(format!("{environment}.json.backup")),
                lock: dir.join(format!("{environment}.lock")),
                journal: dir.join(format!("{environment}.journal")),
            }
        }
    };
    Ok(Box::new(LocalState { paths }))
}

fn state_error(e: &StateError) -> ActionError {
    let code = match e {
        StateError::Locked { .. } => Code::StateLocked,
        _ => Code::StateUnreadable,
    };
    ActionError::new(code, e.to_string())
}

/// A local file's version: its serial, one up so that a first document
/// (serial 0) is told from none.
fn version_of(found: Option<&State>) -> Version {
    found.map(|s| s.serial + 1).unwrap_or(0)
}

struct LocalLock(Lock);

#[async_trait]
impl LockGuard for LocalLock {
    fn taken_over(&self) -> Option<String> {
        self.0.taken_over.clone()
    }

    async fn release(self: Box<Self>) {
        // The lock file is removed when the lock is dropped.
        drop(self);
    }
}

#[async_trait]
impl StateBackend for LocalState {
    async fn lock(&self, operation: &str) -> Result<Box<dyn LockGuard>, ActionError> {
        let lock = Lock::acquire(&self.paths.lock, operation).map_err(|e| state_error(&e))?;
        Ok(Box::new(LocalLock(lock)))
    }

    async fn read(&self) -> Result<(Option<State>, Version), ActionError> {
        let found = state::load(&self.paths.state).map_err(|e| state_error(&e))?;
        let version = version_of(found.as_ref());
        Ok((found, version))
    }

    async fn write(&self, current: &State, read_at: Version) -> Result<Version, ActionError> {
        let (on_disk, _) = self.read().await?;
        if version_of(on_disk.as_ref()) != read_at {
            return Err(super::moved_since_read(&self.describe()));
        }
        state::save(&self.paths, current).map_err(|e| {
            ActionError::new(Code::StateUnreadable, e.to_string()).with_help(
                "the state could not be written: free disk space or fix the state directory's permissions; the journal beside it keeps what this run did, and the next run folds it in",
            )
        })?;
        Ok(version_of(Some(current)))
    }

    async fn read_journal(&self) -> Result<String, ActionError> {
        let path = &self.paths.journal;
        // A device or a pipe in the journal's place would be read for ever.
        if let Ok(meta) = std::fs::metadata(path) {
            if !meta.is_file() {
                return Err(state_error(&StateError::Corrupt {
                    path: path.clone(),
                    detail: "the journal is not a regular file; move it away".into(),
                }));
            }
        }
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(ActionError::new(
                Code::StateUnreadable,
                format!("cannot read the journal {}: {e}", path.display()),
            )
            .with_help("fix the permissions of the state directory, or move the journal away to plan from the state document alone")),
        }
    }

    async fn journal_sink(&self) -> Result<Box<dyn JournalSink>, ActionError> {
        let journal = Journal::open(&self.paths.journal).map_err(|e| {
            ActionError::new(
                Code::JournalUnwritable,
                format!("{e:#}; nothing was changed"),
            )
            .with_help("check that the state directory is writable and its disk not full")
        })?;
        Ok(Box::new(LocalJournal {
            journal,
            location: self.paths.journal.display().to_string(),
        }))
    }

    async fn clear_journal(&self) -> Result<(), ActionError> {
        // A journal that cannot be removed is harmless: the state already
        // holds every entry, and folding it again changes nothing.
        let _ = std::fs::remove_file(&self.paths.journal);
        Ok(())
    }

    async fn force_unlock(&self, id: &str) -> Result<(), ActionError> {
        let refused = |message: String, help: &str| {
            Err(ActionError::new(Code::StateLocked, message).with_help(help))
        };
        match state::force_unlock(&self.paths.lock, id) {
            Ok(()) => Ok(()),
            Err(UnlockError::NotLocked) => refused(
                format!("the state {} is not locked", self.describe()),
                "nothing to do",
            ),
            Err(UnlockError::OtherId(held)) => refused(
                format!("the lock has id {held}, not {id}; it was not released"),
                "pass the id the lock error printed; make sure the holder is really gone",
            ),
            Err(UnlockError::Io(e)) => refused(
                format!("cannot remove the lock: {e}"),
                "check the permissions of the state directory",
            ),
        }
    }

    fn describe(&self) -> String {
        self.paths.state.display().to_string()
    }
}

/// The local journal file.
struct LocalJournal {
    journal: Journal,
    location: String,
}

#[async_trait]
impl JournalSink for LocalJournal {
    async fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
        // A write of one line: short enough to run on the loop itself.
        self.journal.append(entry).map_err(|e| self.error(e))
    }

    async fn commit(&mut self) -> Result<(), JournalError> {
        // One fdatasync for every line since the last: a few milliseconds.
        self.journal.commit().map_err(|e| self.error(e))
    }
}

impl LocalJournal {
    fn error(&self, e: anyhow::Error) -> JournalError {
        JournalError {
            location: self.location.clone(),
            message: format!("{e:#}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::state::{open, Settings};
    use imm_lang::diagnostics::Code;
    use imm_planner::state::State;
    use std::collections::BTreeMap;

    #[tokio::test]
    async fn a_write_is_refused_when_the_state_moved_since_it_was_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let attributes = BTreeMap::new();
        let backend = open(&Settings {
            attributes: &attributes,
            project_dir: dir.path(),
            environment: "dev",
        })
        .expect("local state is the default");
        let (found, none_yet) = backend.read().await.expect("read");
        assert!(found.is_none());
        let mut state = State::new("dev");
        let first = backend.write(&state, none_yet).await.expect("first write");
        state.serial += 1;
        let second = backend.write(&state, first).await.expect("second write");
        assert_ne!(first, second);
        let stale = backend
            .write(&state, first)
            .await
            .expect_err("a write from the first version");
        assert_eq!(stale.code, Code::Conflict);
        let (found, version) = backend.read().await.expect("read");
        assert_eq!(found.map(|s| s.serial), Some(1));
        assert_eq!(version, second);
    }
}
