//! `config`: a set of run-time values in a store, one key per value under
//! `<prefix>/<env>/<path>/<key>`. A change of its values is a new revision
//! (`~ reconfigure`); no instance is touched.

use super::fields::{ConfigError, Fields};
use super::{Family, Prediction, ResourceType};
use crate::schema::{attr, out, Kind, ResourceSchema};
use imm_stdlib::Value;
use std::collections::BTreeMap;

pub const TYPE: ResourceType = ResourceType {
    predict_outs,
    reconfigurable: Some(|_, path| {
        path == "values" || path.starts_with("values.") || path.starts_with("values[")
    }),
    ..ResourceType::of::<ConfigValues>(Family::Store, SCHEMA)
};

const SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "config",
    doc: "A set of run-time values in a store, under <prefix>/<env>/<path>/<key>. A change is a new revision (~ reconfigure); no instance is touched.",
    attrs: &[
        attr("store", Kind::Any, false, "The store (store.NAME); the default store otherwise."),
        attr("path", Kind::String, false, "Path under the environment; defaults to the resource name."),
        attr("values", Kind::Any, true, "Key → value; strings as they are, other values JSON-encoded."),
    ],
    blocks: &[],
    outs: &[
        out("revision", Kind::Number, "The store's revision after the write."),
        out("keys", Kind::ListOfString, "The keys written."),
    ],
};

/// A `config` as its executor needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigValues {
    /// The store's name; the default store when absent.
    pub store: Option<String>,
    /// The path under the environment; the resource's name when absent.
    pub path: Option<String>,
    /// Key → value, each with its own sensitive mark.
    pub values: BTreeMap<String, Value>,
}

impl TryFrom<&BTreeMap<String, Value>> for ConfigValues {
    type Error = ConfigError;

    fn try_from(config: &BTreeMap<String, Value>) -> Result<ConfigValues, ConfigError> {
        let root = Fields::root(config);
        let store = match root.value("store").map(Value::unmarked) {
            None => None,
            Some(Value::Map(store)) => store.get("name").map(Value::display),
            Some(_) => {
                return Err(ConfigError::new(
                    "store",
                    "expected a store, written store.NAME",
                ))
            }
        };
        let values = match root.value("values") {
            None => BTreeMap::new(),
            Some(Value::Map(values)) => values.clone(),
            // A wholly sensitive map: every value is a secret.
            Some(Value::Sensitive(inner, _)) => match inner.unmarked() {
                Value::Map(values) => values
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone().mark_sensitive()))
                    .collect(),
                _ => return Err(ConfigError::new("values", "expected an object of values")),
            },
            Some(_) => return Err(ConfigError::new("values", "expected an object of values")),
        };
        Ok(ConfigValues {
            store,
            path: root.plain_string("path")?,
            values,
        })
    }
}

/// The store a `config` records in its planned or recorded attributes
/// (`store.name`), for the check that every store written to answers.
pub fn store_name(attributes: &serde_json::Value) -> Option<String> {
    attributes
        .pointer("/store/name")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
}

fn predict_outs(p: &Prediction<'_>) -> BTreeMap<String, Value> {
    let mut outs = BTreeMap::new();
    if let Ok(config) = ConfigValues::try_from(p.config) {
        if !config.values.is_empty() || p.config.contains_key("values") {
            outs.insert(
                "keys".into(),
                Value::List(
                    config
                        .values
                        .keys()
                        .map(|k| Value::string(k.clone()))
                        .collect(),
                ),
            );
        }
    }
    outs
}
