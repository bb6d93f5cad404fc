//! State kept in etcd (`state { backend = "etcd" }`): the document under
//! `<prefix>/state/<env>`, written only by compare-and-swap on the
//! revision it was read at; the lock `<prefix>/lock/<env>` is created only
//! if absent and tied to a lease that a background task keeps alive, so it
//! goes away with the lease (TTL 10 s) if imm dies, and at once when imm
//! releases it. The apply journal is one key per entry under
//! `<prefix>/journal/<env>/`, folded into the document as for local state.

use super::{LockGuard, Settings, StateBackend, Version};
use crate::journal::{JournalError, JournalSink};
use crate::stores::etcd::{b64, range_end, text_field, EtcdStore};
use crate::ActionError;
use async_trait::async_trait;
use imm_lang::diagnostics::Code;
use imm_planner::journal::Entry;
use imm_planner::state::State;
use serde_json::{json, Value as Json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Seconds a lock outlives a dead holder.
pub const LOCK_TTL: u64 = 10;

#[derive(Clone)]
pub struct EtcdState {
    client: Arc<EtcdStore>,
    prefix: String,
    environment: String,
    endpoints: String,
}

fn number(value: &Json) -> u64 {
    value.as_str().and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// A held lock: its lease is kept alive until `release`.
pub struct EtcdLock {
    state: EtcdState,
    lease: String,
    keepalive: tokio::task::JoinHandle<()>,
}

pub fn open(settings: &Settings<'_>) -> Result<Box<dyn StateBackend>, ActionError> {
    let endpoints = settings.list("endpoints");
    if endpoints.is_empty() {
        return Err(ActionError::new(
            Code::StateUnreadable,
            "the state block asks for etcd but gives no endpoints",
        )
        .with_help("write endpoints = [\"http://127.0.0.1:2379\"] in the state block"));
    }
    let prefix = settings.text("prefix").unwrap_or_else(|| "imm".into());
    Ok(Box::new(EtcdState::new(
        endpoints,
        &prefix,
        settings.environment,
    )))
}

/// etcd's answer, as a state error: an etcd that does not answer is
/// unreachable; anything else it refuses keeps its own code.
fn unreachable(e: ActionError, state: &EtcdState) -> ActionError {
    if e.code != Code::ActionFailed {
        return e;
    }
    ActionError::new(Code::StoreUnreachable, e.message).with_help(format!(
        "check that etcd is running at {}; nothing was changed",
        state.endpoints
    ))
}

impl EtcdState {
    pub fn new(endpoints: Vec<String>, prefix: &str, environment: &str) -> EtcdState {
        let shown = endpoints.join(", ");
        EtcdState {
            // The store's client speaks the same gateway; its own prefix is unused here.
            client: Arc::new(EtcdStore::new(endpoints, String::new())),
            prefix: prefix.trim_end_matches('/').to_string(),
            environment: environment.to_string(),
            endpoints: shown,
        }
    }

    fn state_key(&self) -> String {
        format!("{}/state/{}", self.prefix, self.environment)
    }

    fn lock_key(&self) -> String {
        format!("{}/lock/{}", self.prefix, self.environment)
    }

    fn journal_prefix(&self) -> String {
        format!("{}/journal/{}/", self.prefix, self.environment)
    }

    /// Takes the lock, or says who holds it.
    async fn take_lock(&self, holder: &str) -> Result<EtcdLock, ActionError> {
        let grant = self
            .client
            .call("/v3/lease/grant", json!({ "TTL": LOCK_TTL.to_string() }))
            .await?;
        let lease = grant["ID"].as_str().map(str::to_string).ok_or_else(|| {
            ActionError::new(
                Code::StoreUnreachable,
                format!("{} granted no lease for the state lock", self.describe()),
            )
        })?;
        let key = b64(&self.lock_key());
        let reply = self
            .client
            .call(
                "/v3/kv/txn",
                json!({
                    "compare": [{ "key": key, "target": "CREATE", "result": "EQUAL", "create_revision": "0" }],
                    "success": [{ "request_put": { "key": key, "value": b64(holder), "lease": lease } }],
                    "failure": [{ "request_range": { "key": key } }],
                }),
            )
            .await?;
        if reply["succeeded"].as_bool() != Some(true) {
            // The unused lease would expire by itself within the TTL.
            let _ = self
                .client
                .call("/v3/lease/revoke", json!({ "ID": lease }))
                .await;
            let held_by = &reply["responses"][0]["response_range"]["kvs"][0];
            let holder = text_field(held_by, "value")
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "another run".into());
            return Err(ActionError::new(
                Code::StateLocked,
                format!("the state in {} is locked by {holder}", self.describe()),
            )
            .with_help(format!(
                "wait for that run to finish; a dead holder's lock expires within {LOCK_TTL} s"
            )));
        }
        let client = self.client.clone();
        let lease_id = lease.clone();
        let keepalive = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(LOCK_TTL / 3)).await;
                // A missed keepalive is retried at the next tick; the
                // lease outlives two of them.
                let _ = client
                    .call("/v3/lease/keepalive", json!({ "ID": lease_id }))
                    .await;
            }
        });
        Ok(EtcdLock {
            state: self.clone(),
            lease,
            keepalive,
        })
    }

    async fn read_document(&self) -> Result<(Option<State>, u64), ActionError> {
        let reply = self
            .client
            .call("/v3/kv/range", json!({ "key": b64(&self.state_key()) }))
            .await?;
        let Some(kv) = reply["kvs"].as_array().and_then(|k| k.first()) else {
            return Ok((None, 0));
        };
        let text = text_field(kv, "value")?;
        let state = super::parse_document(&text, &self.describe())?;
        Ok((Some(state), number(&kv["mod_revision"])))
    }

    async fn write_document(&self, state: &State, read_at: u64) -> Result<u64, ActionError> {
        let key = b64(&self.state_key());
        let text = serde_json::to_string_pretty(state).map_err(|e| {
            ActionError::new(Code::StateUnreadable, format!("serialising state: {e}"))
        })?;
        let compare = if read_at == 0 {
            json!({ "key": key, "target": "CREATE", "result": "EQUAL", "create_revision": "0" })
        } else {
            json!({ "key": key, "target": "MOD", "result": "EQUAL", "mod_revision": read_at.to_string() })
        };
        let reply = self
            .client
            .call(
                "/v3/kv/txn",
                json!({ "compare": [compare], "success": [{ "request_put": { "key": key, "value": b64(&text) } }] }),
            )
            .await?;
        if reply["succeeded"].as_bool() != Some(true) {
            return Err(super::moved_since_read(&self.describe()));
        }
        Ok(number(&reply["header"]["revision"]))
    }

    async fn journal_entries(&self) -> Result<String, ActionError> {
        let prefix = self.journal_prefix();
        let reply = self
            .client
            .call(
                "/v3/kv/range",
                json!({ "key": b64(&prefix), "range_end": range_end(&prefix) }),
            )
            .await?;
        Ok(super::journal_lines(
            reply["kvs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|kv| text_field(kv, "value").ok()),
        ))
    }

    async fn delete_journal(&self) -> Result<(), ActionError> {
        let prefix = self.journal_prefix();
        self.client
            .call(
                "/v3/kv/deleterange",
                json!({ "key": b64(&prefix), "range_end": range_end(&prefix) }),
            )
            .await?;
        Ok(())
    }
}

#[async_trait]
impl StateBackend for EtcdState {
    async fn lock(&self, operation: &str) -> Result<Box<dyn LockGuard>, ActionError> {
        let lock = self
            .take_lock(&super::holder(operation))
            .await
            .map_err(|e| unreachable(e, self))?;
        Ok(Box::new(lock))
    }

    async fn read(&self) -> Result<(Option<State>, Version), ActionError> {
        self.read_document().await.map_err(|e| unreachable(e, self))
    }

    async fn write(&self, state: &State, read_at: Version) -> Result<Version, ActionError> {
        self.write_document(state, read_at)
            .await
            .map_err(|e| unreachable(e, self))
    }

    async fn read_journal(&self) -> Result<String, ActionError> {
        self.journal_entries()
            .await
            .map_err(|e| unreachable(e, self))
    }

    async fn journal_sink(&self) -> Result<Box<dyn JournalSink>, ActionError> {
        Ok(Box::new(EtcdJournal {
            state: self.clone(),
            sequence: Arc::new(AtomicU64::new(now_nanos())),
        }))
    }

    async fn clear_journal(&self) -> Result<(), ActionError> {
        self.delete_journal()
            .await
            .map_err(|e| unreachable(e, self))
    }

    async fn force_unlock(&self, _id: &str) -> Result<(), ActionError> {
        Err(ActionError::new(
            Code::StateLocked,
            format!("the state in {} is locked with a lease: the lock of a run that died expires on its own within {LOCK_TTL} s", self.describe()),
        )
        .with_help("wait a few seconds and retry; nothing to force"))
    }

    fn describe(&self) -> String {
        format!("etcd at {} (key {})", self.endpoints, self.state_key())
    }
}

impl Drop for EtcdLock {
    fn drop(&mut self) {
        // A lost guard stops renewing its lease, which then expires.
        self.keepalive.abort();
    }
}

#[async_trait]
impl LockGuard for EtcdLock {
    fn taken_over(&self) -> Option<String> {
        None
    }

    /// Releases the lock at once (revoking the lease deletes the key).
    async fn release(self: Box<Self>) {
        self.keepalive.abort();
        // A revoke that fails leaves the lease to expire within its TTL.
        let _ = self
            .state
            .client
            .call("/v3/lease/revoke", json!({ "ID": self.lease }))
            .await;
    }
}

struct EtcdJournal {
    state: EtcdState,
    sequence: Arc<AtomicU64>,
}

#[async_trait]
impl JournalSink for EtcdJournal {
    async fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
        let failed = |message: String| JournalError {
            location: self.state.describe(),
            message,
        };
        let text = serde_json::to_string(entry).map_err(|e| failed(e.to_string()))?;
        let sequence = self.sequence.fetch_add(1, Ordering::SeqCst);
        let key = format!("{}{sequence:020}", self.state.journal_prefix());
        self.state
            .client
            .call(
                "/v3/kv/put",
                json!({ "key": b64(&key), "value": b64(&text) }),
            )
            .await
            .map(|_| ())
            .map_err(|e| failed(e.message))
    }
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
