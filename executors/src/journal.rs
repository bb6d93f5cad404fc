//! Where the apply engine journals its steps, as an async interface: the
//! local journal file (one fsync'd line, a few milliseconds) or keys in
//! etcd (a network round trip that must not hold up the engine's loop).
//! An append returns once the entry is durable; an error is the step's.

use async_trait::async_trait;
use imm_planner::journal::{Entry, Journal};

#[async_trait]
pub trait JournalSink: Send {
    async fn append(&mut self, entry: &Entry) -> Result<(), JournalError>;
}

/// A journal entry that could not be made durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalError {
    /// Where the journal is (a file, or etcd's endpoints).
    pub location: String,
    pub message: String,
}

impl std::fmt::Display for JournalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot write the journal {}: {}",
            self.location, self.message
        )
    }
}

/// The local journal file.
pub struct LocalJournal {
    pub journal: Journal,
    pub location: String,
}

#[async_trait]
impl JournalSink for LocalJournal {
    async fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
        // An fsync of one line: short enough to run on the loop itself.
        self.journal.append(entry).map_err(|e| JournalError {
            location: self.location.clone(),
            message: format!("{e:#}"),
        })
    }
}
