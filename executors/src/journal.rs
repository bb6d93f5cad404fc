//! Where the apply engine journals its steps, as an async interface that
//! each state backend implements in its module of `state/`: the
//! local journal file (a line each, synced in groups: one fdatasync for the
//! steps that start or end together), keys in etcd or rows in PostgreSQL
//! (a network round trip that must not hold up the engine's loop). An
//! entry is durable once [`JournalSink::commit`] returns after its append;
//! an error is the step's.

use async_trait::async_trait;
use imm_planner::journal::Entry;

#[async_trait]
pub trait JournalSink: Send {
    /// Writes one entry; it may stay unsynced until the next commit.
    async fn append(&mut self, entry: &Entry) -> Result<(), JournalError>;

    /// Makes every entry appended so far durable. Backends whose append is
    /// durable by itself (a transaction) have nothing to do.
    async fn commit(&mut self) -> Result<(), JournalError> {
        Ok(())
    }
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
