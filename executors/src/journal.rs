//! Where the apply engine journals its steps, as an async interface that
//! each state backend implements in its module of `state/`: the
//! local journal file (one fsync'd line, a few milliseconds), keys in etcd
//! or rows in PostgreSQL (a network round trip that must not hold up the
//! engine's loop). An append returns once the entry is durable; an error
//! is the step's.

use async_trait::async_trait;
use imm_planner::journal::Entry;

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
