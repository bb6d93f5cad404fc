//! State in PostgreSQL (`state { backend = "postgres" conn_str = "…" }`):
//! one row per environment in `<schema>.states` (the document as JSON, its
//! lineage and serial, and a revision every write increases), the journal
//! as rows of `<schema>.state_journal`.
//!
//! The lock is a session-level advisory lock on a connection of its own,
//! held for the whole command: a run that dies, even SIGKILLed, loses its
//! connection and the server releases the lock — there is nothing to
//! force-unlock. Who holds it is written to `<schema>.state_locks` when it
//! is taken, and read back for the "locked" error.

use super::{LockGuard, Settings, StateBackend, Version};
use crate::journal::{JournalError, JournalSink};
use crate::stores::postgres::Database;
use crate::ActionError;
use async_trait::async_trait;
use imm_lang::diagnostics::Code;
use imm_planner::journal::Entry;
use imm_planner::state::State;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::sync::{Mutex, MutexGuard, OnceCell};
use tokio_postgres::Client;

const TABLES: &str = "CREATE TABLE IF NOT EXISTS {schema}.states (environment text PRIMARY KEY, document jsonb NOT NULL, lineage text NOT NULL, serial bigint NOT NULL, revision bigint NOT NULL); \
CREATE TABLE IF NOT EXISTS {schema}.state_locks (environment text PRIMARY KEY, id text NOT NULL, holder text NOT NULL, since bigint NOT NULL); \
CREATE TABLE IF NOT EXISTS {schema}.state_journal (environment text NOT NULL, seq bigserial, entry text NOT NULL, PRIMARY KEY (environment, seq));";

#[derive(Clone)]
pub struct PostgresState {
    database: Database,
    environment: String,
    /// The connection of reads, writes and the journal, opened on first use.
    client: Arc<OnceCell<Mutex<Client>>>,
    /// Set once the tables are known to exist (made on the first
    /// connection of the run, not on every one).
    tables: Arc<OnceCell<()>>,
}

pub fn open(settings: &Settings<'_>) -> Result<Box<dyn StateBackend>, ActionError> {
    let misconfigured = |message: String| {
        ActionError::new(Code::StateUnreadable, message).with_help(
            "write conn_str = \"postgres://USER@HOST:PORT/DB\" in the state block (the password comes from PGPASSWORD)",
        )
    };
    let conn_str = settings.text("conn_str").ok_or_else(|| {
        misconfigured("the state block asks for postgres but gives no conn_str".into())
    })?;
    let database = Database::parse(
        &conn_str,
        settings.text("password"),
        settings.text("schema_name"),
        "the state block",
    )
    .map_err(misconfigured)?;
    Ok(Box::new(PostgresState {
        database,
        environment: settings.environment.to_string(),
        client: Arc::new(OnceCell::new()),
        tables: Arc::new(OnceCell::new()),
    }))
}

impl PostgresState {
    fn table(&self, name: &str) -> String {
        format!("{}.{name}", self.database.schema)
    }

    async fn connect(&self) -> Result<Client, ActionError> {
        let client = self.database.connect().await?;
        self.tables
            .get_or_try_init(|| async {
                let ddl = TABLES.replace("{schema}", &self.database.schema);
                self.database.ensure(&client, &ddl).await
            })
            .await?;
        Ok(client)
    }

    /// The shared connection, one request (or transaction) at a time.
    async fn client(&self) -> Result<MutexGuard<'_, Client>, ActionError> {
        let cell = self
            .client
            .get_or_try_init(|| async { self.connect().await.map(Mutex::new) })
            .await?;
        Ok(cell.lock().await)
    }

    fn failed(&self, e: &tokio_postgres::Error) -> ActionError {
        self.database.failed(e)
    }

    /// The advisory lock's key: the schema and environment hashed.
    fn lock_key(&self) -> i64 {
        let digest = Sha256::digest(format!("{}\0{}", self.database.schema, self.environment));
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        i64::from_be_bytes(bytes)
    }

    /// Who holds the lock, as the holder wrote it when taking it.
    async fn holder_of_lock(&self, client: &Client) -> String {
        let row = client
            .query_opt(
                &format!(
                    "SELECT holder, id, since FROM {} WHERE environment = $1",
                    self.table("state_locks")
                ),
                &[&self.environment],
            )
            .await;
        match row {
            Ok(Some(row)) => {
                let holder: String = row.get(0);
                let id: String = row.get(1);
                let since: i64 = row.get(2);
                format!("{holder}, lock {id}, since {since}")
            }
            _ => "another run".into(),
        }
    }

    async fn write_document(
        &self,
        state: &State,
        read_at: Version,
    ) -> Result<Version, ActionError> {
        let failed = |e: tokio_postgres::Error| self.failed(&e);
        let text = serde_json::to_string(state).map_err(|e| {
            ActionError::new(Code::StateUnreadable, format!("serialising state: {e}"))
        })?;
        let serial = i64::try_from(state.serial).unwrap_or(i64::MAX);
        let mut client = self.client().await?;
        let transaction = client.transaction().await.map_err(failed)?;
        let states = self.table("states");
        let current = transaction
            .query_opt(
                &format!("SELECT lineage, serial, revision FROM {states} WHERE environment = $1 FOR UPDATE"),
                &[&self.environment],
            )
            .await
            .map_err(failed)?;
        let revision = match current {
            None => {
                let inserted = transaction
                    .execute(
                        &format!("INSERT INTO {states} (environment, document, lineage, serial, revision) VALUES ($1, $2::text::jsonb, $3, $4, 1) ON CONFLICT (environment) DO NOTHING"),
                        &[&self.environment, &text, &state.lineage, &serial],
                    )
                    .await
                    .map_err(failed)?;
                if read_at != 0 || inserted != 1 {
                    return Err(super::moved_since_read(&self.describe()));
                }
                1
            }
            Some(row) => {
                let lineage: String = row.get(0);
                let stored_serial: i64 = row.get(1);
                let revision: i64 = row.get(2);
                if u64::try_from(revision).ok() != Some(read_at) || stored_serial > serial {
                    return Err(super::moved_since_read(&self.describe()));
                }
                if lineage != state.lineage {
                    return Err(ActionError::new(
                        Code::Conflict,
                        format!(
                            "the state in {} has lineage {lineage}, not {}: it is another state's history; nothing was overwritten",
                            self.describe(),
                            state.lineage
                        ),
                    )
                    .with_help("check that conn_str and schema_name name this project's state"));
                }
                transaction
                    .execute(
                        &format!("UPDATE {states} SET document = $2::text::jsonb, serial = $3, revision = revision + 1 WHERE environment = $1"),
                        &[&self.environment, &text, &serial],
                    )
                    .await
                    .map_err(failed)?;
                revision + 1
            }
        };
        transaction.commit().await.map_err(failed)?;
        Ok(u64::try_from(revision).unwrap_or(0))
    }
}

/// A held advisory lock and the connection (session) that holds it.
struct PostgresLock {
    state: PostgresState,
    client: Client,
    id: String,
}

#[async_trait]
impl LockGuard for PostgresLock {
    fn taken_over(&self) -> Option<String> {
        None
    }

    async fn release(self: Box<Self>) {
        // Failures here are not reported: the session lock ends with the
        // connection, which is closed when the client drops just after.
        let _ = self
            .client
            .execute(
                &format!(
                    "DELETE FROM {} WHERE environment = $1 AND id = $2",
                    self.state.table("state_locks")
                ),
                &[&self.state.environment, &self.id],
            )
            .await;
        let _ = self
            .client
            .execute("SELECT pg_advisory_unlock($1)", &[&self.state.lock_key()])
            .await;
    }
}

#[async_trait]
impl StateBackend for PostgresState {
    async fn lock(&self, operation: &str) -> Result<Box<dyn LockGuard>, ActionError> {
        let client = self.connect().await?;
        let key = self.lock_key();
        let row = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .await
            .map_err(|e| self.failed(&e))?;
        let taken: bool = row.get(0);
        if !taken {
            let holder = self.holder_of_lock(&client).await;
            return Err(ActionError::new(
                Code::StateLocked,
                format!("the state is locked by {holder}; it is in {}", self.describe()),
            )
            .with_help("wait for that run to finish; the lock of a run that died is released by the server when its connection drops (nothing to force-unlock)"));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let since = i64::try_from(crate::stores::now()).unwrap_or(0);
        client
            .execute(
                &format!(
                    "INSERT INTO {} (environment, id, holder, since) VALUES ($1, $2, $3, $4) ON CONFLICT (environment) DO UPDATE SET id = excluded.id, holder = excluded.holder, since = excluded.since",
                    self.table("state_locks")
                ),
                &[&self.environment, &id, &super::holder(operation), &since],
            )
            .await
            .map_err(|e| self.failed(&e))?;
        Ok(Box::new(PostgresLock {
            state: self.clone(),
            client,
            id,
        }))
    }

    async fn read(&self) -> Result<(Option<State>, Version), ActionError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!(
                    "SELECT document::text, revision FROM {} WHERE environment = $1",
                    self.table("states")
                ),
                &[&self.environment],
            )
            .await
            .map_err(|e| self.failed(&e))?;
        let Some(row) = row else {
            return Ok((None, 0));
        };
        let text: String = row.get(0);
        let revision: i64 = row.get(1);
        let state = super::parse_document(&text, &self.describe())?;
        Ok((Some(state), u64::try_from(revision).unwrap_or(0)))
    }

    async fn write(&self, state: &State, read_at: Version) -> Result<Version, ActionError> {
        self.write_document(state, read_at).await
    }

    async fn read_journal(&self) -> Result<String, ActionError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT entry FROM {} WHERE environment = $1 ORDER BY seq",
                    self.table("state_journal")
                ),
                &[&self.environment],
            )
            .await
            .map_err(|e| self.failed(&e))?;
        Ok(super::journal_lines(rows.iter().map(|row| row.get(0))))
    }

    async fn journal_sink(&self) -> Result<Box<dyn JournalSink>, ActionError> {
        drop(self.client().await?);
        Ok(Box::new(PostgresJournal {
            state: self.clone(),
        }))
    }

    async fn clear_journal(&self) -> Result<(), ActionError> {
        let client = self.client().await?;
        client
            .execute(
                &format!(
                    "DELETE FROM {} WHERE environment = $1",
                    self.table("state_journal")
                ),
                &[&self.environment],
            )
            .await
            .map(|_| ())
            .map_err(|e| self.failed(&e))
    }

    async fn force_unlock(&self, _id: &str) -> Result<(), ActionError> {
        Err(ActionError::new(
            Code::StateLocked,
            format!(
                "the state in {} is locked with a session lock: the server releases it when its holder's connection closes, also when the holder was killed",
                self.describe()
            ),
        )
        .with_help("nothing to force: if the holder is gone its lock is gone too; otherwise wait for it or stop it"))
    }

    fn describe(&self) -> String {
        format!(
            "{} (table {}, environment {})",
            self.database.describe(),
            self.table("states"),
            self.environment
        )
    }
}

struct PostgresJournal {
    state: PostgresState,
}

#[async_trait]
impl JournalSink for PostgresJournal {
    /// One committed row per entry: durable when the insert returns.
    async fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
        let failed = |message: String| JournalError {
            location: self.state.describe(),
            message,
        };
        let text = serde_json::to_string(entry).map_err(|e| failed(e.to_string()))?;
        let client = self.state.client().await.map_err(|e| failed(e.message))?;
        client
            .execute(
                &format!(
                    "INSERT INTO {} (environment, entry) VALUES ($1, $2)",
                    self.state.table("state_journal")
                ),
                &[&self.state.environment, &text],
            )
            .await
            .map(|_| ())
            .map_err(|e| failed(self.state.failed(&e).message))
    }
}
