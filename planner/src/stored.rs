//! How a configuration is recorded, and how a new one is compared with the
//! record. Sensitive leaves are never written: the record holds the string
//! `"(sensitive)"` and, beside it, a keyed hash of the value (the key is
//! the project's, kept in `.imm/fingerprint.key`, outside state), so a
//! changed secret is still detected while the record reveals nothing a
//! guess could be checked against.

use crate::state::{ResourceRecord, Status};
use anyhow::Context;
use imm_lang::evaluate::Instance;
use imm_stdlib::Value;
use std::collections::BTreeMap;
use std::path::Path;

pub use imm_stdlib::value::{SENSITIVE_TEXT, UNKNOWN_TEXT};

/// The project's key for hashes of sensitive values.
#[derive(Clone)]
pub struct FingerprintKey([u8; 32]);

impl std::fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FingerprintKey(…)")
    }
}

impl FingerprintKey {
    /// A fixed key, for tests and benchmarks.
    pub fn fixed(byte: u8) -> FingerprintKey {
        FingerprintKey([byte; 32])
    }

    /// Reads the key, creating it (random, readable only by its owner) on
    /// first use.
    pub fn load_or_create(path: &Path) -> anyhow::Result<FingerprintKey> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = hex::decode(text.trim())
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .with_context(|| {
                        format!(
                            "{} is not a 64-digit hex key; restore it from a backup, or delete it (every sensitive value then plans as changed once)",
                            path.display()
                        )
                    })?;
                Ok(FingerprintKey(bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
                bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                }
                crate::state::write_atomic(path, format!("{}\n", hex::encode(bytes)).as_bytes())?;
                restrict_to_owner(path);
                Ok(FingerprintKey(bytes))
            }
            Err(e) => Err(anyhow::Error::new(e).context(format!("reading {}", path.display()))),
        }
    }

    /// A key for another purpose, derived from this one (blake3's
    /// key derivation), so that no two uses share a key.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        blake3::derive_key(purpose, &self.0)
    }

    /// The keyed hash of a value (its sensitive marks removed).
    pub fn hash(&self, value: &Value) -> String {
        let (plain, _) = value.clone().unmark_deep();
        blake3::keyed_hash(&self.0, plain.to_json_string().as_bytes())
            .to_hex()
            .to_string()
    }
}

#[cfg(unix)]
fn restrict_to_owner(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict_to_owner(_path: &Path) {}

/// The record of an instance just created (or replaced) by an executor.
pub fn new_record(
    instance: &Instance,
    key: &FingerprintKey,
    fingerprint: Option<String>,
    dependencies: Vec<String>,
    outs: serde_json::Map<String, serde_json::Value>,
    private: serde_json::Value,
) -> ResourceRecord {
    let recorded = recorded_form(&instance.config, key);
    ResourceRecord {
        address: instance.address.clone(),
        type_name: instance.type_name.clone(),
        fingerprint,
        attributes: recorded.attributes,
        sensitive: recorded.hashes,
        shown: recorded.shown,
        outs,
        private,
        dependencies,
        prevent_destroy: instance.prevent_destroy,
        status: Status::Ready,
        deposed: Vec::new(),
    }
}

/// A configuration as recorded.
pub struct Recorded {
    /// Redacted JSON: `"(sensitive)"` for every sensitive leaf.
    pub attributes: serde_json::Value,
    /// The keyed hashes of the sensitive leaves, by path.
    pub hashes: BTreeMap<String, String>,
    /// The masked text of the sensitive strings templates built, by path
    /// (`db_password=(sensitive)`), for the line diffs of the next plan.
    pub shown: BTreeMap<String, String>,
}

/// A configuration as recorded: redacted JSON and the hashes of its
/// sensitive leaves by path.
pub fn stored_form(
    config: &BTreeMap<String, Value>,
    key: &FingerprintKey,
) -> (serde_json::Value, BTreeMap<String, String>) {
    let recorded = recorded_form(config, key);
    (recorded.attributes, recorded.hashes)
}

pub fn recorded_form(config: &BTreeMap<String, Value>, key: &FingerprintKey) -> Recorded {
    let mut recorder = Recorder {
        key,
        hashes: BTreeMap::new(),
        shown: BTreeMap::new(),
    };
    let mut object = serde_json::Map::new();
    for (name, value) in config {
        object.insert(
            name.clone(),
            recorder.value(value, &mut String::from(name.as_str())),
        );
    }
    Recorded {
        attributes: serde_json::Value::Object(object),
        hashes: recorder.hashes,
        shown: recorder.shown,
    }
}

struct Recorder<'k> {
    key: &'k FingerprintKey,
    hashes: BTreeMap<String, String>,
    shown: BTreeMap<String, String>,
}

impl Recorder<'_> {
    fn value(&mut self, value: &Value, path: &mut String) -> serde_json::Value {
        match value {
            Value::Sensitive(_, shown) => {
                self.hashes.insert(path.clone(), self.key.hash(value));
                if let Some(shown) = shown {
                    self.shown.insert(path.clone(), shown.to_string());
                }
                serde_json::Value::String(SENSITIVE_TEXT.into())
            }
            Value::List(items) | Value::Set(items) => serde_json::Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let len = path.len();
                        push_index(path, i);
                        let v = self.value(item, path);
                        path.truncate(len);
                        v
                    })
                    .collect(),
            ),
            Value::Map(map) => serde_json::Value::Object(
                map.iter()
                    .map(|(k, item)| {
                        let len = path.len();
                        push_key(path, k);
                        let v = self.value(item, path);
                        path.truncate(len);
                        (k.clone(), v)
                    })
                    .collect(),
            ),
            other => other.to_redacted_json(),
        }
    }
}

/// The record's attributes as a plan shows them: the sensitive strings
/// templates built with their masked text instead of the placeholder.
pub fn shown_attributes(record: &ResourceRecord) -> serde_json::Value {
    let mut attributes = record.attributes.clone();
    for (path, shown) in &record.shown {
        if let Some(leaf) = at_path_mut(&mut attributes, path) {
            *leaf = serde_json::Value::String(shown.clone());
        }
    }
    attributes
}

/// One step of a path: `.name`, `["quoted name"]` or `[index]`.
enum Step {
    Key(String),
    Index(usize),
}

/// The steps of a path written by [`push_key`] and [`push_index`].
fn steps(path: &str) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            if let Some(end) = after.find(']').filter(|_| !after.starts_with('"')) {
                steps.push(Step::Index(after[..end].parse().ok()?));
                rest = &after[end + 1..];
            } else {
                let (key, used) = quoted_prefix(after)?;
                steps.push(Step::Key(key));
                rest = after.get(used..)?.strip_prefix(']')?;
            }
        } else {
            let trimmed = rest.strip_prefix('.').unwrap_or(rest);
            let end = trimmed.find(['.', '[']).unwrap_or(trimmed.len());
            steps.push(Step::Key(trimmed[..end].to_string()));
            rest = &trimmed[end..];
        }
    }
    Some(steps)
}

/// Reads a quoted string at the start of `text`; returns it and the bytes used.
fn quoted_prefix(text: &str) -> Option<(String, usize)> {
    let mut escaped = false;
    for (i, c) in text.char_indices().skip(1) {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => {
                let key: String = serde_json::from_str(&text[..=i]).ok()?;
                return Some((key, i + 1));
            }
            _ => escaped = false,
        }
    }
    None
}

/// The value at a path such as `runtime.env["A B"]` or `network[0].aliases`.
pub fn at_path<'v>(root: &'v serde_json::Value, path: &str) -> Option<&'v serde_json::Value> {
    steps(path)?
        .into_iter()
        .try_fold(root, |current, step| match step {
            Step::Key(key) => current.as_object()?.get(&key),
            Step::Index(i) => current.as_array()?.get(i),
        })
}

fn at_path_mut<'v>(
    root: &'v mut serde_json::Value,
    path: &str,
) -> Option<&'v mut serde_json::Value> {
    steps(path)?
        .into_iter()
        .try_fold(root, |current, step| match step {
            Step::Key(key) => current.as_object_mut()?.get_mut(&key),
            Step::Index(i) => current.as_array_mut()?.get_mut(i),
        })
}

/// `a.b`, or `a["not an identifier"]`.
pub fn push_key(path: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    } else {
        path.push('[');
        path.push_str(&imm_stdlib::value::quote_string(key));
        path.push(']');
    }
}

pub fn push_index(path: &mut String, index: usize) {
    path.push('[');
    path.push_str(&index.to_string());
    path.push(']');
}

/// How one path differs between the record and the new configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// Both are known and differ (a sensitive value compares by its hash).
    Changed(String),
    /// The new value is known only after apply: something it refers to is
    /// being replaced.
    Unknown(String),
}

impl Difference {
    pub fn path(&self) -> &str {
        match self {
            Difference::Changed(p) | Difference::Unknown(p) => p,
        }
    }
}

/// The paths at which `new` differs from the recorded `old`, skipping the
/// top-level names in `ignored`.
pub fn differences(
    new: &BTreeMap<String, Value>,
    old: &serde_json::Value,
    old_hashes: &BTreeMap<String, String>,
    key: &FingerprintKey,
    ignored: &[&str],
) -> Vec<Difference> {
    let empty = serde_json::Map::new();
    let old_map = old.as_object().unwrap_or(&empty);
    let mut out = Vec::new();
    let mut compare = Compare {
        hashes: old_hashes,
        key,
        out: &mut out,
    };
    for (name, value) in new {
        if ignored.contains(&name.as_str()) {
            continue;
        }
        let mut path = name.clone();
        compare.value(value, old_map.get(name), &mut path);
    }
    for (name, old_value) in old_map {
        if !ignored.contains(&name.as_str()) && !new.contains_key(name) && !old_value.is_null() {
            out.push(Difference::Changed(name.clone()));
        }
    }
    out
}

struct Compare<'a> {
    hashes: &'a BTreeMap<String, String>,
    key: &'a FingerprintKey,
    out: &'a mut Vec<Difference>,
}

impl Compare<'_> {
    fn value(&mut self, new: &Value, old: Option<&serde_json::Value>, path: &mut String) {
        use serde_json::Value as J;
        let old = old.unwrap_or(&J::Null);
        match (new, old) {
            (Value::Unknown(_), _) => self.out.push(Difference::Unknown(path.clone())),
            (Value::Sensitive(..), _) => {
                let same = self.hashes.get(path.as_str()) == Some(&self.key.hash(new));
                if !same {
                    self.out.push(Difference::Changed(path.clone()));
                }
            }
            (Value::Map(map), J::Object(old_map)) => {
                for (k, v) in map {
                    let len = path.len();
                    push_key(path, k);
                    self.value(v, old_map.get(k), path);
                    path.truncate(len);
                }
                for (k, old_value) in old_map {
                    if !map.contains_key(k) && !old_value.is_null() {
                        let len = path.len();
                        push_key(path, k);
                        self.out.push(Difference::Changed(path.clone()));
                        path.truncate(len);
                    }
                }
            }
            (Value::List(items) | Value::Set(items), J::Array(old_items))
                if items.len() == old_items.len() =>
            {
                for (i, (v, o)) in items.iter().zip(old_items).enumerate() {
                    let len = path.len();
                    push_index(path, i);
                    self.value(v, Some(o), path);
                    path.truncate(len);
                }
            }
            (Value::List(items) | Value::Set(items), _)
                if items.iter().any(Value::contains_unknown) =>
            {
                self.out.push(Difference::Unknown(path.clone()))
            }
            (Value::Null, J::Null) => {}
            (Value::Bool(a), J::Bool(b)) if a == b => {}
            (Value::String(a), J::String(b)) if a == b => {}
            // State keeps numbers as JSON floats, so they compare as floats.
            (Value::Number(a), J::Number(b)) if b.as_f64() == Some(a.to_f64()) => {}
            _ => self.out.push(Difference::Changed(path.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, Value)]) -> BTreeMap<String, Value> {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn secrets_are_recorded_as_hashes_and_still_compared() {
        let key = FingerprintKey::fixed(7);
        let config = map(&[(
            "env",
            Value::Map(map(&[
                ("PASSWORD", Value::string("hunter2").mark_sensitive()),
                ("LEVEL", Value::string("info")),
            ])),
        )]);
        let (json, hashes) = stored_form(&config, &key);
        let text = json.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains(SENSITIVE_TEXT));
        assert_eq!(hashes.len(), 1);
        assert!(hashes.contains_key("env.PASSWORD"));
        assert!(differences(&config, &json, &hashes, &key, &[]).is_empty());

        let changed = map(&[(
            "env",
            Value::Map(map(&[
                ("PASSWORD", Value::string("hunter3").mark_sensitive()),
                ("LEVEL", Value::string("debug")),
            ])),
        )]);
        assert_eq!(
            differences(&changed, &json, &hashes, &key, &[]),
            vec![
                Difference::Changed("env.LEVEL".into()),
                Difference::Changed("env.PASSWORD".into())
            ]
        );
        let other_key = FingerprintKey::fixed(8);
        assert_ne!(
            other_key.hash(&Value::string("x")),
            key.hash(&Value::string("x"))
        );
    }

    #[test]
    fn unknown_values_and_removed_keys_are_differences() {
        let key = FingerprintKey::fixed(1);
        let old = map(&[
            ("image", Value::string("sha256:1")),
            ("ports", Value::List(vec![Value::string("80:80")])),
        ]);
        let (json, hashes) = stored_form(&old, &key);
        let new = map(&[("image", Value::Unknown(imm_stdlib::Type::String))]);
        assert_eq!(
            differences(&new, &json, &hashes, &key, &[]),
            vec![
                Difference::Unknown("image".into()),
                Difference::Changed("ports".into())
            ]
        );
        assert!(differences(&new, &json, &hashes, &key, &["image", "ports"]).is_empty());
    }
}
