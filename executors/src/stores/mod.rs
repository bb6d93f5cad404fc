//! Run-time configuration stores (docs/language.md, "Stores"): one interface,
//! four backends — the embedded `file` store (default, under
//! `.imm/store`), `etcd` (v3 JSON gateway), `consul` (KV HTTP API) and
//! `postgres` (tables in a schema).
//! A set of values lives under `<prefix>/<env>/<path>/<key>`; every write of
//! a set is one new revision, and earlier revisions can be read back (for
//! `imm config history` and `rollback`).

pub mod consul;
pub mod etcd;
pub mod file;
pub mod postgres;

use crate::ActionError;
use async_trait::async_trait;
use imm_lang::diagnostics::Code;
use imm_stdlib::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

/// One revision of a set of values.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Revision {
    pub revision: u64,
    /// Seconds since the Unix epoch.
    pub time: u64,
    pub keys: Vec<String>,
    /// What wrote it ("imm apply", "imm config rollback to 12", …); empty
    /// in notes written before imm recorded it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub why: String,
}

#[async_trait]
pub trait Store: Send + Sync {
    /// Makes the values under `dir` exactly `values` (keys not in it are
    /// deleted), as one new revision; returns it. `sensitive` names the
    /// keys whose values are secrets (the file store encrypts them); `why`
    /// is noted in the revision's history.
    async fn write(
        &self,
        dir: &str,
        values: &BTreeMap<String, String>,
        sensitive: &BTreeSet<String>,
        why: &str,
    ) -> Result<u64, ActionError>;
    async fn read(&self, dir: &str) -> Result<BTreeMap<String, String>, ActionError>;
    /// The revisions written by imm, oldest first.
    async fn history(&self, dir: &str) -> Result<Vec<Revision>, ActionError>;
    async fn read_at(
        &self,
        dir: &str,
        revision: u64,
    ) -> Result<BTreeMap<String, String>, ActionError>;
    /// Deletes every value under `dir` (its history stays).
    async fn remove(&self, dir: &str) -> Result<(), ActionError>;
    /// One value by its key below the prefix (`store:` secrets).
    async fn get(&self, key: &str) -> Result<Option<String>, ActionError>;
    /// Whether the store answers (checked before an apply changes anything).
    async fn ping(&self) -> Result<(), ActionError>;
    /// "etcd at http://127.0.0.1:2379", for messages.
    fn describe(&self) -> String;
}

/// The stores of a project by name, and which one is the default.
#[derive(Clone, Default)]
pub struct Stores {
    by_name: HashMap<String, Arc<dyn Store>>,
    default: Option<Arc<dyn Store>>,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.by_name.keys().collect();
        names.sort();
        write!(f, "Stores({names:?})")
    }
}

/// The name the default store is known by in messages.
pub const DEFAULT_STORE: &str = "default";

impl Stores {
    /// The declared stores (`store` blocks, evaluated) of a project. The
    /// default store is the one named `default`, else the only declared
    /// one, else the file store in `.imm/store`.
    pub fn from_settings(
        declared: &indexmap::IndexMap<String, BTreeMap<String, Value>>,
        project_dir: &Path,
    ) -> Result<Stores, String> {
        let mut stores = Stores::default();
        for (name, attributes) in declared {
            let store = open(name, attributes, project_dir)?;
            stores.by_name.insert(name.clone(), store);
        }
        stores.default = match (stores.by_name.get(DEFAULT_STORE), declared.len()) {
            (Some(store), _) => Some(store.clone()),
            (None, 1) => stores.by_name.values().next().cloned(),
            _ => Some(Arc::new(file::FileStore::new(
                project_dir.join(".imm").join("store"),
                key_path(project_dir),
            ))),
        };
        Ok(stores)
    }

    /// A store by name; `None` asks for the default.
    pub fn get(&self, name: Option<&str>) -> Result<Arc<dyn Store>, ActionError> {
        let found = match name {
            None => self.default.clone(),
            Some(n) if n == DEFAULT_STORE && !self.by_name.contains_key(n) => self.default.clone(),
            Some(n) => self.by_name.get(n).cloned(),
        };
        found.ok_or_else(|| {
            ActionError::new(
                Code::ExecutorConfig,
                format!(
                    "no store named \"{}\" is declared",
                    name.unwrap_or(DEFAULT_STORE)
                ),
            )
        })
    }
}

fn open(
    name: &str,
    attributes: &BTreeMap<String, Value>,
    project_dir: &Path,
) -> Result<Arc<dyn Store>, String> {
    let text = |key: &str| match attributes.get(key).map(Value::unmarked) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let prefix = text("prefix").unwrap_or_else(|| "imm".into());
    match text("backend").as_deref() {
        Some("file") => {
            let dir = text("path").unwrap_or_else(|| ".imm/store".into());
            Ok(Arc::new(file::FileStore::new(
                project_dir.join(dir),
                key_path(project_dir),
            )))
        }
        Some("etcd") => {
            let endpoints: Vec<String> = match attributes.get("endpoints").map(Value::unmarked) {
                Some(Value::List(items)) => items.iter().map(|i| i.unmarked().display()).collect(),
                Some(_) => Vec::new(),
                None => etcd_endpoints_from_environment(),
            };
            if endpoints.is_empty() {
                return Err(format!(
                    "store \"{name}\": an etcd store needs endpoints = [\"http://127.0.0.1:2379\"] (or, without the attribute, ETCDCTL_ENDPOINTS)"
                ));
            }
            Ok(Arc::new(etcd::EtcdStore::new(endpoints, prefix)))
        }
        Some("consul") => {
            let address = text("address")
                .or_else(consul_address_from_environment)
                .unwrap_or_else(|| "http://127.0.0.1:8500".into());
            let token = attributes
                .get("token")
                .map(|v| v.clone().unmark_deep().0.display());
            Ok(Arc::new(consul::ConsulStore::new(address, prefix, token)))
        }
        Some("postgres") => postgres::open(name, &text, prefix),
        Some(other) => Err(format!(
            "store \"{name}\": backend \"{other}\" is not one of file, etcd, consul, postgres"
        )),
        None => Err(format!("store \"{name}\" has no backend")),
    }
}

/// Without `endpoints`, an etcd store uses what etcdctl would:
/// `ETCDCTL_ENDPOINTS` (comma-separated), else etcd's default client URL.
fn etcd_endpoints_from_environment() -> Vec<String> {
    match std::env::var("ETCDCTL_ENDPOINTS") {
        Ok(list) if !list.trim().is_empty() => list
            .split(',')
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty())
            .collect(),
        _ => vec!["http://127.0.0.1:2379".into()],
    }
}

/// Without `address`, a Consul store uses what Consul's tools would:
/// `CONSUL_HTTP_ADDR` (with `http://` added when it has no scheme).
fn consul_address_from_environment() -> Option<String> {
    let address = std::env::var("CONSUL_HTTP_ADDR").ok()?;
    let address = address.trim();
    if address.is_empty() {
        return None;
    }
    Some(if address.contains("://") {
        address.to_string()
    } else {
        format!("http://{address}")
    })
}

/// The project's key file (beside state, never in it).
fn key_path(project_dir: &Path) -> std::path::PathBuf {
    project_dir.join(".imm").join("fingerprint.key")
}

/// `strings as they are, other values JSON-encoded`.
pub fn store_text(value: &Value) -> String {
    let (plain, _) = value.clone().unmark_deep();
    match plain {
        Value::String(s) => s,
        other => other.to_json_string(),
    }
}

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// An HTTP client for the store backends and state in etcd: each call has
/// a deadline, `IMM_STORE_TIMEOUT` (`"10s"`) or 30 s, and 5 s to connect.
pub(crate) fn http_client() -> reqwest::Client {
    let deadline =
        crate::deadline_from_env("IMM_STORE_TIMEOUT", std::time::Duration::from_secs(30));
    reqwest::Client::builder()
        .timeout(deadline)
        .connect_timeout(deadline.min(std::time::Duration::from_secs(5)))
        .build()
        .unwrap_or_default()
}
