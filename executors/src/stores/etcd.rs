//! The etcd store, through etcd's v3 JSON gateway (`POST /v3/kv/*`, keys
//! and values base64, 64-bit numbers as strings). A set is written in one
//! transaction, so its revision is etcd's; imm notes each revision it made
//! under `<prefix>/.imm/history/`, and reads an old one back from etcd's
//! own history (until etcd compacts it).

use super::{http_client, now, Revision, Store};
use crate::ActionError;
use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use imm_lang::diagnostics::Code;
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, BTreeSet};

pub struct EtcdStore {
    endpoints: Vec<String>,
    prefix: String,
    client: reqwest::Client,
}

pub(crate) fn b64(text: &str) -> String {
    B64.encode(text.as_bytes())
}

/// A base64 field of a key-value etcd returned, as text; etcd leaves out
/// a field equal to its default, so a missing one is empty.
pub(crate) fn text_field(kv: &Json, field: &str) -> Result<String, ActionError> {
    match kv[field].as_str() {
        None => Ok(String::new()),
        Some(v) => B64
            .decode(v)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                ActionError::new(
                    Code::ActionFailed,
                    format!("etcd returned a {field} that is not base64 UTF-8"),
                )
            }),
    }
}

/// The end of the range of keys starting with `prefix`.
pub(crate) fn range_end(prefix: &str) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    if let Some(last) = bytes.last_mut() {
        *last += 1;
    }
    B64.encode(bytes)
}

/// How long calls go on trying the members of a cluster.
const FAILOVER: std::time::Duration = std::time::Duration::from_secs(15);

/// One endpoint's answer when it is not a success.
enum Attempt {
    /// Down, or without a leader for now: try another member.
    Unavailable(String),
    /// A real answer that says no.
    Refused(ActionError),
}

impl EtcdStore {
    pub fn new(endpoints: Vec<String>, prefix: String) -> EtcdStore {
        EtcdStore {
            endpoints,
            prefix: prefix.trim_end_matches('/').to_string(),
            client: http_client(),
        }
    }

    fn key(&self, rest: &str) -> String {
        format!("{}/{rest}", self.prefix)
    }

    /// POSTs to the first endpoint that answers. A member that is down
    /// or between leaders (an election after a member died takes a second
    /// or two) is passed over, and the whole list is tried again until
    /// [`FAILOVER`] has passed, so that losing one member of a cluster is
    /// not an error.
    pub async fn call(&self, path: &str, body: Json) -> Result<Json, ActionError> {
        // One endpoint is one member: nothing to fail over to.
        let patience = if self.endpoints.len() > 1 {
            FAILOVER
        } else {
            std::time::Duration::from_secs(2)
        };
        let deadline = std::time::Instant::now() + patience;
        loop {
            let mut last = String::new();
            for endpoint in &self.endpoints {
                match self.call_one(endpoint, path, &body).await {
                    Ok(answer) => return Ok(answer),
                    Err(Attempt::Refused(e)) => return Err(e),
                    Err(Attempt::Unavailable(why)) => last = why,
                }
            }
            if std::time::Instant::now() >= deadline {
                return Err(ActionError::new(
                    Code::StoreUnreachable,
                    format!("cannot reach etcd ({last})"),
                )
                .with_help("is etcd running, and are the store's endpoints right? Start it or fix the endpoints in the store block"));
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }

    async fn call_one(&self, endpoint: &str, path: &str, body: &Json) -> Result<Json, Attempt> {
        let url = format!("{}{path}", endpoint.trim_end_matches('/'));
        let response = match self.client.post(&url).json(body).send().await {
            Ok(response) => response,
            Err(e) => return Err(Attempt::Unavailable(format!("{endpoint}: {e}"))),
        };
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| Attempt::Unavailable(format!("{endpoint}: reading the answer: {e}")))?;
        let parsed: Json = serde_json::from_str(&text).map_err(|_| {
            Attempt::Refused(ActionError::new(
                Code::StoreUnreachable,
                format!(
                    "etcd at {endpoint} answered {path} with something that is not JSON: {}",
                    text.chars().take(200).collect::<String>()
                ),
            ))
        })?;
        if status.is_success() {
            return Ok(parsed);
        }
        let message = parsed["message"]
            .as_str()
            .or(parsed["error"].as_str())
            .unwrap_or("")
            .to_string();
        let between_leaders = [
            "leader changed",
            "no leader",
            "timed out",
            "unavailable",
            "stopped",
        ]
        .iter()
        .any(|m| message.contains(m));
        if status.is_server_error() && between_leaders {
            return Err(Attempt::Unavailable(format!("{endpoint}: {message}")));
        }
        let code = match status {
            reqwest::StatusCode::UNAUTHORIZED | reqwest::StatusCode::FORBIDDEN => {
                Code::PermissionDenied
            }
            _ => Code::StoreUnreachable,
        };
        Err(Attempt::Refused(ActionError::new(
            code,
            format!("etcd at {endpoint} refused {path} ({status}): {message}"),
        )))
    }

    async fn range(
        &self,
        prefix: &str,
        revision: Option<u64>,
    ) -> Result<Vec<(String, String)>, ActionError> {
        let mut body = json!({ "key": b64(prefix), "range_end": range_end(prefix) });
        if let Some(r) = revision {
            body["revision"] = json!(r.to_string());
        }
        let reply = self.call("/v3/kv/range", body).await?;
        let mut pairs = Vec::new();
        for kv in reply["kvs"].as_array().into_iter().flatten() {
            pairs.push((text_field(kv, "key")?, text_field(kv, "value")?));
        }
        Ok(pairs)
    }

    fn values_under(&self, dir: &str, pairs: Vec<(String, String)>) -> BTreeMap<String, String> {
        let prefix = self.key(&format!("{dir}/"));
        pairs
            .into_iter()
            .filter_map(|(k, v)| {
                let name = k.strip_prefix(&prefix)?;
                (!name.contains('/')).then(|| (name.to_string(), v))
            })
            .collect()
    }
}

fn revision_of(reply: &Json) -> Result<u64, ActionError> {
    reply["header"]["revision"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .ok_or_else(|| {
            ActionError::new(
                Code::StoreUnreachable,
                "etcd's answer has no header.revision",
            )
        })
}

#[async_trait]
impl Store for EtcdStore {
    async fn write(
        &self,
        dir: &str,
        values: &BTreeMap<String, String>,
        _sensitive: &BTreeSet<String>,
        why: &str,
    ) -> Result<u64, ActionError> {
        let current = self.read(dir).await?;
        let mut ops: Vec<Json> = values
            .iter()
            .map(|(k, v)| json!({ "request_put": { "key": b64(&self.key(&format!("{dir}/{k}"))), "value": b64(v) } }))
            .collect();
        ops.extend(current.keys().filter(|k| !values.contains_key(*k)).map(
            |k| json!({ "request_delete_range": { "key": b64(&self.key(&format!("{dir}/{k}"))) } }),
        ));
        let reply = self.call("/v3/kv/txn", json!({ "success": ops })).await?;
        let revision = revision_of(&reply)?;
        let note = Revision {
            revision,
            time: now(),
            keys: values.keys().cloned().collect(),
            why: why.to_string(),
        };
        let text = serde_json::to_string(&note).unwrap_or_default();
        let history_key = self.key(&format!(".imm/history/{dir}/{revision:020}"));
        self.call(
            "/v3/kv/put",
            json!({ "key": b64(&history_key), "value": b64(&text) }),
        )
        .await?;
        Ok(revision)
    }

    async fn read(&self, dir: &str) -> Result<BTreeMap<String, String>, ActionError> {
        let pairs = self.range(&self.key(&format!("{dir}/")), None).await?;
        Ok(self.values_under(dir, pairs))
    }

    async fn history(&self, dir: &str) -> Result<Vec<Revision>, ActionError> {
        let pairs = self
            .range(&self.key(&format!(".imm/history/{dir}/")), None)
            .await?;
        pairs
            .into_iter()
            .map(|(k, v)| {
                serde_json::from_str(&v).map_err(|_| {
                    ActionError::new(
                        Code::ActionFailed,
                        format!("etcd key {k} is not an imm history note"),
                    )
                })
            })
            .collect()
    }

    async fn read_at(
        &self,
        dir: &str,
        revision: u64,
    ) -> Result<BTreeMap<String, String>, ActionError> {
        let pairs = self
            .range(&self.key(&format!("{dir}/")), Some(revision))
            .await?;
        Ok(self.values_under(dir, pairs))
    }

    async fn remove(&self, dir: &str) -> Result<(), ActionError> {
        let prefix = self.key(&format!("{dir}/"));
        self.call(
            "/v3/kv/deleterange",
            json!({ "key": b64(&prefix), "range_end": range_end(&prefix) }),
        )
        .await?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<String>, ActionError> {
        let full = self.key(key);
        let reply = self
            .call("/v3/kv/range", json!({ "key": b64(&full) }))
            .await?;
        match reply["kvs"].as_array().and_then(|k| k.first()) {
            None => Ok(None),
            Some(kv) => text_field(kv, "value").map(Some),
        }
    }

    async fn ping(&self) -> Result<(), ActionError> {
        let reply = self.call("/v3/maintenance/status", json!({})).await?;
        if reply.get("version").is_none() && reply.get("header").is_none() {
            return Err(ActionError::new(
                Code::StoreUnreachable,
                format!(
                    "{} answered its status request with something that is not etcd's",
                    self.describe()
                ),
            ));
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("etcd at {}", self.endpoints.join(", "))
    }
}
