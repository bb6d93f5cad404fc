//! State kept in etcd (`state { backend = "etcd" }`): the document under
//! `<prefix>/state/<env>`, written only by compare-and-swap on the
//! revision it was read at; the lock `<prefix>/lock/<env>` is created only
//! if absent and tied to a lease that a background task keeps alive, so it
//! goes away with the lease (TTL 10 s) if imm dies, and at once when imm
//! releases it. The apply journal is one key per entry under
//! `<prefix>/journal/<env>/`, folded into the document as for local state.

use crate::journal::{JournalError, JournalSink};
use crate::stores::etcd::{b64, range_end, text_field, EtcdStore};
use crate::ActionError;
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

    pub fn describe(&self) -> String {
        format!("etcd at {} (key {})", self.endpoints, self.state_key())
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
    pub async fn lock(&self, holder: &str) -> Result<EtcdLock, ActionError> {
        let grant = self
            .client
            .call("/v3/lease/grant", json!({ "TTL": LOCK_TTL.to_string() }))
            .await?;
        let lease = grant["ID"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ActionError::uncoded("etcd granted no lease"))?;
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
            let _ = self
                .client
                .call("/v3/lease/revoke", json!({ "ID": lease }))
                .await;
            let held_by = &reply["responses"][0]["response_range"]["kvs"][0];
            let holder = text_field(held_by, "value")
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "another run".into());
            return Err(ActionError::uncoded(format!(
                "the state in {} is locked by {holder}; wait for that run to finish (a dead holder's lock expires within {LOCK_TTL} s)",
                self.describe()
            )));
        }
        let client = self.client.clone();
        let lease_id = lease.clone();
        let keepalive = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(LOCK_TTL / 3)).await;
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

    /// The document and the revision it was read at (0: none yet).
    pub async fn read(&self) -> Result<(Option<State>, u64), ActionError> {
        let reply = self
            .client
            .call("/v3/kv/range", json!({ "key": b64(&self.state_key()) }))
            .await?;
        let Some(kv) = reply["kvs"].as_array().and_then(|k| k.first()) else {
            return Ok((None, 0));
        };
        let text = text_field(kv, "value")?;
        let corrupt = |e: String| {
            ActionError::uncoded(format!(
                "the state in {} is corrupt ({e}); restore an earlier revision of the key with etcdctl",
                self.describe()
            ))
        };
        let raw: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
        let version = raw.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
        if version > u64::from(imm_planner::state::STATE_VERSION) {
            return Err(ActionError::uncoded(format!(
                "the state in {} has format version {version}, newer than this imm understands ({}); upgrade imm",
                self.describe(),
                imm_planner::state::STATE_VERSION
            )));
        }
        let state = imm_planner::state::from_json(raw).map_err(corrupt)?;
        Ok((Some(state), number(&kv["mod_revision"])))
    }

    /// Writes the document if nobody wrote it since `read_at`; returns
    /// the new revision.
    pub async fn write(&self, state: &State, read_at: u64) -> Result<u64, ActionError> {
        let key = b64(&self.state_key());
        let text = serde_json::to_string_pretty(state)
            .map_err(|e| ActionError::uncoded(format!("serialising state: {e}")))?;
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
            return Err(ActionError::uncoded(format!(
                "the state in {} was changed by another writer since it was read; nothing was overwritten",
                self.describe()
            )));
        }
        Ok(number(&reply["header"]["revision"]))
    }

    /// The journal entries left by an interrupted apply, oldest first.
    pub async fn journal(&self) -> Result<Vec<Entry>, ActionError> {
        let prefix = self.journal_prefix();
        let reply = self
            .client
            .call(
                "/v3/kv/range",
                json!({ "key": b64(&prefix), "range_end": range_end(&prefix) }),
            )
            .await?;
        Ok(reply["kvs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|kv| text_field(kv, "value").ok())
            .filter_map(|text| serde_json::from_str(&text).ok())
            .collect())
    }

    pub async fn clear_journal(&self) -> Result<(), ActionError> {
        let prefix = self.journal_prefix();
        self.client
            .call(
                "/v3/kv/deleterange",
                json!({ "key": b64(&prefix), "range_end": range_end(&prefix) }),
            )
            .await?;
        Ok(())
    }

    /// The journal of an apply, as keys beside the state.
    pub fn journal_sink(&self) -> Box<dyn JournalSink> {
        Box::new(EtcdJournal {
            state: self.clone(),
            sequence: Arc::new(AtomicU64::new(now_nanos())),
        })
    }
}

impl EtcdLock {
    /// Releases the lock at once (revoking the lease deletes the key).
    pub async fn release(self) {
        self.keepalive.abort();
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

#[async_trait::async_trait]
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
