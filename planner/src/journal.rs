//! The apply journal: one JSON line per started and completed action,
//! beside the state file, synced in groups (the lines of the actions that
//! start or end together share one fdatasync, made before any of those
//! actions runs and before anything waiting for them starts). Rewriting the whole state document per
//! action makes an apply quadratic (Terraform's measured 607 s for 5,000
//! resources); appending a line keeps it linear while still leaving, after
//! a crash at any point, a record true to what exists. The journal is
//! folded into the state document at the end of an apply, and first thing
//! on the next run if a crash left one behind.

use crate::state::{self, ArtifactEntry, ResourceRecord, State, StateError, StatePaths};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Entry {
    /// An action began; without a matching end it was interrupted.
    Start {
        address: String,
        action: String,
    },
    /// The instance now exists as recorded.
    Put {
        record: Box<ResourceRecord>,
    },
    /// The instance no longer exists.
    Remove {
        address: String,
    },
    /// An action ended in failure; what exists is recorded by Put/Remove.
    Failed {
        address: String,
        message: String,
    },
    Artifact {
        entry: ArtifactEntry,
    },
}

/// An open journal file, appended to by the apply engine.
pub struct Journal {
    file: File,
    /// Lines written since the last sync.
    unsynced: bool,
}

impl Journal {
    pub fn open(path: &Path) -> anyhow::Result<Journal> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening the journal {}", path.display()))?;
        Ok(Journal {
            file,
            unsynced: false,
        })
    }

    /// Appends one entry: written at once (a full disk fails here), durable
    /// once [`Journal::commit`] returns.
    pub fn append(&mut self, entry: &Entry) -> anyhow::Result<()> {
        let mut line = serde_json::to_string(entry).context("serialising a journal entry")?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .context("writing the journal")?;
        self.unsynced = true;
        Ok(())
    }

    /// Makes every entry appended so far durable, with one sync.
    pub fn commit(&mut self) -> anyhow::Result<()> {
        if !self.unsynced {
            return Ok(());
        }
        self.file.sync_data().context("syncing the journal")?;
        self.unsynced = false;
        Ok(())
    }
}

/// What folding found besides the records.
#[derive(Debug, Default, PartialEq)]
pub struct Folded {
    /// Actions started and never ended: `(address, action)`.
    pub interrupted: Vec<(String, String)>,
    pub entries: usize,
}

/// A journal line that is not an entry, and not a torn last write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorruptLine {
    /// 1-based.
    pub line: usize,
    pub detail: String,
}

/// Applies the journal's entries to `state`. A torn last line (a crash in
/// the middle of a write) is ignored: its action had not completed. A line
/// that cannot be read anywhere else means the journal was damaged, and
/// folding the rest would make state untrue: it is refused, with the line.
pub fn fold_into(state: &mut State, text: &str) -> Result<Folded, CorruptLine> {
    let mut folded = Folded::default();
    let mut open: Vec<(String, String)> = Vec::new();
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let last = lines.len().saturating_sub(1);
    for (position, (number, line)) in lines.iter().enumerate() {
        let entry = match serde_json::from_str::<Entry>(line) {
            Ok(entry) => entry,
            Err(_) if position == last && !text.ends_with('\n') => continue,
            Err(e) => {
                return Err(CorruptLine {
                    line: number + 1,
                    detail: e.to_string(),
                })
            }
        };
        folded.entries += 1;
        match entry {
            Entry::Start { address, action } => open.push((address, action)),
            Entry::Put { record } => {
                open.retain(|(a, _)| a != &record.address);
                state.put_resource(*record);
            }
            Entry::Remove { address } => {
                open.retain(|(a, _)| a != &address);
                state.remove_resource(&address);
            }
            Entry::Failed { address, .. } => open.retain(|(a, _)| a != &address),
            Entry::Artifact { entry } => state.put_artifact(entry),
        }
    }
    for (address, action) in &open {
        let is_create = action.starts_with("create");
        if is_create && !state.create_interrupted(address) {
            state.interrupted.push(crate::state::InterruptedCreate {
                address: address.clone(),
                action: action.clone(),
            });
        }
    }
    folded.interrupted = open;
    Ok(folded)
}

/// Folds a journal left on disk into the state document, saves it (a new
/// serial) and removes the journal. `Ok(None)` when there was none.
pub fn recover(paths: &StatePaths, environment: &str) -> Result<Option<Folded>, StateError> {
    // A device or a pipe in the journal's place would be read for ever.
    if let Ok(meta) = std::fs::metadata(&paths.journal) {
        if !meta.is_file() {
            return Err(StateError::Corrupt {
                path: paths.journal.clone(),
                detail: "the journal is not a regular file; move it away".into(),
            });
        }
    }
    let text = match std::fs::read_to_string(&paths.journal) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(StateError::Io(
                anyhow::Error::new(e).context(format!("reading {}", paths.journal.display())),
            ))
        }
    };
    let mut current = state::load(&paths.state)?.unwrap_or_else(|| State::new(environment));
    let folded = fold_into(&mut current, &text).map_err(|bad| StateError::Corrupt {
        path: paths.journal.clone(),
        detail: format!(
            "line {} is not a journal entry ({}); the journal was damaged after it was written. Move it away to plan from the state document alone (what the damaged run did is then found as drift or orphans)",
            bad.line, bad.detail
        ),
    })?;
    current.serial += 1;
    state::save(paths, &current)?;
    std::fs::remove_file(&paths.journal).map_err(|e| {
        StateError::Io(
            anyhow::Error::new(e).context(format!("removing {}", paths.journal.display())),
        )
    })?;
    Ok(Some(folded))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Status;

    fn record(address: &str) -> ResourceRecord {
        ResourceRecord {
            address: address.into(),
            type_name: "file".into(),
            fingerprint: None,
            attributes: serde_json::json!({"path": "a"}),
            sensitive: Default::default(),
            shown: Default::default(),
            outs: Default::default(),
            private: serde_json::Value::Null,
            dependencies: vec![],
            prevent_destroy: false,
            status: Status::Ready,
            deposed: vec![],
        }
    }

    #[test]
    fn a_crash_leaves_a_journal_that_the_next_run_folds_in() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = StatePaths::local(dir.path(), "dev");
        let mut base = State::new("dev");
        base.put_resource(record("file.gone"));
        state::save(&paths, &base).expect("save");
        {
            let mut journal = Journal::open(&paths.journal).expect("open");
            let start = |a: &str| Entry::Start {
                address: a.into(),
                action: "create".into(),
            };
            journal.append(&start("file.a")).expect("append");
            journal
                .append(&Entry::Put {
                    record: Box::new(record("file.a")),
                })
                .expect("append");
            journal
                .append(&Entry::Remove {
                    address: "file.gone".into(),
                })
                .expect("append");
            journal.append(&start("file.b")).expect("append");
        }
        // A torn write at the end, as a kill in the middle of a line leaves.
        let mut text = std::fs::read_to_string(&paths.journal).expect("read");
        text.push_str("{\"op\":\"put\",\"rec");
        std::fs::write(&paths.journal, text).expect("write");

        let folded = recover(&paths, "dev").expect("recover").expect("journal");
        assert_eq!(
            folded.interrupted,
            vec![("file.b".to_string(), "create".to_string())]
        );
        let after = state::load(&paths.state).expect("load").expect("state");
        assert_eq!(after.serial, base.serial + 1);
        let addresses: Vec<&str> = after.resources.iter().map(|r| r.address.as_str()).collect();
        assert_eq!(addresses, vec!["file.a"]);
        assert!(!paths.journal.exists());
        assert_eq!(recover(&paths, "dev").expect("again"), None);
    }
}
