//! The Consul store, through Consul's KV HTTP API: a set is written with
//! one `/v1/txn`, its revision is the highest `ModifyIndex` of the write.
//! Consul keeps no history of values, so imm keeps a snapshot of each
//! revision it writes under `<prefix>/.imm/history/` (in Consul, beside the
//! values, with the same access rules).

use super::{http_client, now, Revision, Store};
use crate::ActionError;
use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use imm_lang::diagnostics::Code;
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, BTreeSet};

pub struct ConsulStore {
    address: String,
    prefix: String,
    token: Option<String>,
    client: reqwest::Client,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Snapshot {
    #[serde(flatten)]
    revision: Revision,
    values: BTreeMap<String, String>,
}

impl ConsulStore {
    pub fn new(address: String, prefix: String, token: Option<String>) -> ConsulStore {
        ConsulStore {
            address: address.trim_end_matches('/').to_string(),
            prefix: prefix.trim_end_matches('/').to_string(),
            token,
            client: http_client(),
        }
    }

    fn key(&self, rest: &str) -> String {
        format!("{}/{rest}", self.prefix)
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<Option<String>, ActionError> {
        let request = match &self.token {
            Some(t) => request.header("X-Consul-Token", t),
            None => request,
        };
        let response = request.send().await.map_err(|e| {
            ActionError::new(
                Code::StoreUnreachable,
                format!("cannot reach Consul at {} ({e})", self.address),
            )
            .with_help("is Consul running, and is the store's address right? Start it or fix the address in the store block")
        })?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let text = response.text().await.map_err(|e| {
            ActionError::new(
                Code::StoreUnreachable,
                format!("Consul at {}: {what}: {e}", self.address),
            )
        })?;
        if !status.is_success() {
            let code = match status {
                reqwest::StatusCode::UNAUTHORIZED | reqwest::StatusCode::FORBIDDEN => {
                    Code::PermissionDenied
                }
                _ => Code::StoreUnreachable,
            };
            return Err(ActionError::new(
                code,
                format!(
                    "Consul at {} refused {what} ({status}): {}",
                    self.address,
                    text.trim()
                ),
            ));
        }
        Ok(Some(text))
    }

    /// `(key, value, modify_index)` of every key under `prefix`.
    async fn tree(&self, prefix: &str) -> Result<Vec<(String, String, u64)>, ActionError> {
        let url = format!("{}/v1/kv/{prefix}?recurse=true", self.address);
        let Some(text) = self.send(self.client.get(&url), "a read").await? else {
            return Ok(Vec::new());
        };
        let entries: Vec<Json> = serde_json::from_str(&text).map_err(|_| {
            ActionError::new(
                Code::StoreUnreachable,
                format!(
                    "Consul at {} answered a read with something that is not a KV list",
                    self.address
                ),
            )
        })?;
        entries
            .iter()
            .map(|e| {
                let key = e["Key"].as_str().unwrap_or_default().to_string();
                let value = match e["Value"].as_str() {
                    None => String::new(),
                    Some(v) => B64
                        .decode(v)
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                        .ok_or_else(|| {
                            ActionError::new(
                                Code::ActionFailed,
                                format!("Consul key {key}: the value is not base64 UTF-8"),
                            )
                        })?,
                };
                Ok((key, value, e["ModifyIndex"].as_u64().unwrap_or(0)))
            })
            .collect()
    }
}

#[async_trait]
impl Store for ConsulStore {
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
            .map(|(k, v)| json!({ "KV": { "Verb": "set", "Key": self.key(&format!("{dir}/{k}")), "Value": B64.encode(v) } }))
            .collect();
        ops.extend(current.keys().filter(|k| !values.contains_key(*k)).map(
            |k| json!({ "KV": { "Verb": "delete", "Key": self.key(&format!("{dir}/{k}")) } }),
        ));
        let url = format!("{}/v1/txn", self.address);
        let text = self
            .send(self.client.put(&url).json(&ops), "a transaction")
            .await?
            .unwrap_or_default();
        let reply: Json = serde_json::from_str(&text).map_err(|_| {
            ActionError::new(
                Code::StoreUnreachable,
                format!(
                    "Consul at {} answered a transaction with something that is not JSON",
                    self.address
                ),
            )
        })?;
        let revision = reply["Results"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["KV"]["ModifyIndex"].as_u64())
            .max()
            .unwrap_or(0);
        let snapshot = Snapshot {
            revision: Revision {
                revision,
                time: now(),
                keys: values.keys().cloned().collect(),
                why: why.to_string(),
            },
            values: values.clone(),
        };
        let key = self.key(&format!(".imm/history/{dir}/{revision:020}"));
        let url = format!("{}/v1/kv/{key}", self.address);
        let body = serde_json::to_string(&snapshot).unwrap_or_default();
        self.send(self.client.put(&url).body(body), "writing history")
            .await?;
        Ok(revision)
    }

    async fn read(&self, dir: &str) -> Result<BTreeMap<String, String>, ActionError> {
        let prefix = self.key(&format!("{dir}/"));
        Ok(self
            .tree(&prefix)
            .await?
            .into_iter()
            .filter_map(|(k, v, _)| {
                let name = k.strip_prefix(&prefix)?;
                (!name.contains('/') && !name.is_empty()).then(|| (name.to_string(), v))
            })
            .collect())
    }

    async fn history(&self, dir: &str) -> Result<Vec<Revision>, ActionError> {
        let prefix = self.key(&format!(".imm/history/{dir}/"));
        self.tree(&prefix)
            .await?
            .into_iter()
            .map(|(k, v, _)| {
                serde_json::from_str::<Snapshot>(&v)
                    .map(|s| s.revision)
                    .map_err(|_| {
                        ActionError::new(
                            Code::ActionFailed,
                            format!("Consul key {k} is not an imm history snapshot"),
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
        let key = self.key(&format!(".imm/history/{dir}/{revision:020}"));
        let url = format!("{}/v1/kv/{key}?raw=true", self.address);
        let text = self
            .send(self.client.get(&url), "reading history")
            .await?
            .ok_or_else(|| {
                ActionError::new(
                    Code::ObjectMissing,
                    format!("Consul has no revision {revision} of {dir}"),
                )
            })?;
        serde_json::from_str::<Snapshot>(&text)
            .map(|s| s.values)
            .map_err(|_| {
                ActionError::new(
                    Code::ActionFailed,
                    format!("Consul key {key} is not an imm history snapshot"),
                )
            })
    }

    async fn remove(&self, dir: &str) -> Result<(), ActionError> {
        let url = format!(
            "{}/v1/kv/{}?recurse=true",
            self.address,
            self.key(&format!("{dir}/"))
        );
        self.send(self.client.delete(&url), "a delete").await?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<String>, ActionError> {
        let url = format!("{}/v1/kv/{}?raw=true", self.address, self.key(key));
        self.send(self.client.get(&url), "a read").await
    }

    async fn ping(&self) -> Result<(), ActionError> {
        let url = format!("{}/v1/status/leader", self.address);
        let leader = self.send(self.client.get(&url), "a status request").await?;
        match leader.map(|l| serde_json::from_str::<Json>(&l)) {
            Some(Ok(Json::String(_))) => Ok(()),
            _ => Err(ActionError::new(
                Code::StoreUnreachable,
                format!(
                    "{} answered its status request with something that is not Consul's",
                    self.describe()
                ),
            )),
        }
    }

    fn describe(&self) -> String {
        format!("Consul at {}", self.address)
    }
}
