//! `config`: a set of run-time values in a store, under
//! `<env>/<path>/<key>` (below the store's prefix). Creating or
//! reconfiguring writes the whole set as one new revision (removed values
//! are deleted); destroying deletes the set (its history stays). A refresh
//! compares the store with the record (sensitive values are recorded only
//! as hashes, so only their presence is checked).

use crate::stores::{store_text, Store};
use crate::{
    ActionError, Configured, CreateRequest, Created, Executor, Existing, Observed, RunContext,
};
use async_trait::async_trait;
use imm_lang::evaluate::Instance;
use imm_lang::types::config::ConfigValues;
use imm_stdlib::Value;
use serde_json::{json, Map, Value as Json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub struct ConfigExecutor;

/// The store an instance names (`store = store.NAME`), or the default.
fn store_of(
    config: &ConfigValues,
    run: &RunContext,
) -> Result<(String, Arc<dyn Store>), ActionError> {
    let store = run.stores.get(config.store.as_deref())?;
    let name = config
        .store
        .clone()
        .unwrap_or_else(|| crate::stores::DEFAULT_STORE.into());
    Ok((name, store))
}

/// `<env>/<path>`: where the instance's values live.
pub fn directory(environment: &str, path: &str) -> String {
    format!("{environment}/{}", path.trim_matches('/'))
}

/// The values as stored, and the keys whose values are secrets.
fn values(config: &ConfigValues) -> (BTreeMap<String, String>, BTreeSet<String>) {
    let m = &config.values;
    let sensitive = m
        .iter()
        .filter(|(_, v)| v.contains_sensitive())
        .map(|(k, _)| k.clone())
        .collect();
    let values = m.iter().map(|(k, v)| (k.clone(), store_text(v))).collect();
    (values, sensitive)
}

async fn write(instance: &Instance, run: &RunContext) -> Result<Created, ActionError> {
    let config = ConfigExecutor::config(instance)?;
    let (store_name, store) = store_of(&config, run)?;
    let path = config.path.clone().unwrap_or_else(|| instance.name.clone());
    let dir = directory(&run.environment, &path);
    let (values, sensitive) = values(&config);
    let revision = store
        .write(&dir, &values, &sensitive, &run.purpose)
        .await
        .map_err(|e| {
            let store = store.describe();
            e.map_message(|m| format!("writing {dir} to {store}: {m}"))
        })?;
    let mut outs = Map::new();
    outs.insert("revision".into(), json!(revision));
    outs.insert("keys".into(), json!(values.keys().collect::<Vec<_>>()));
    Ok(Created {
        outs,
        private: json!({ "store": store_name, "dir": dir }),
    })
}

/// Where a recorded `config` keeps its values, as its create kept it in the
/// record's private part: `(store name, directory)`.
pub fn recorded_location(private: &Json) -> Option<(&str, &str)> {
    Some((
        private.get("store")?.as_str()?,
        private.get("dir")?.as_str()?,
    ))
}

impl Configured for ConfigExecutor {
    type Config = ConfigValues;
}

#[async_trait]
impl Executor for ConfigExecutor {
    async fn create(
        &self,
        instance: &Instance,
        _request: &CreateRequest,
        run: &RunContext,
    ) -> Result<Created, ActionError> {
        write(instance, run).await
    }

    async fn reconfigure(
        &self,
        instance: &Instance,
        _existing: Existing<'_>,
        run: &RunContext,
    ) -> Result<Created, ActionError> {
        write(instance, run).await
    }

    async fn destroy(
        &self,
        existing: Existing<'_>,
        successor: Option<&Created>,
        run: &RunContext,
    ) -> Result<(), ActionError> {
        let Some((store, dir)) = recorded_location(existing.private) else {
            return Ok(());
        };
        if successor.and_then(|s| recorded_location(&s.private)) == Some((store, dir)) {
            return Ok(());
        }
        run.stores.get(Some(store))?.remove(dir).await
    }

    async fn read(
        &self,
        existing: Existing<'_>,
        run: &RunContext,
    ) -> Result<Observed, ActionError> {
        let Some((store, dir)) = recorded_location(existing.private) else {
            return Ok(Observed::AsRecorded);
        };
        let store = run.stores.get(Some(store))?;
        let found = store.read(dir).await?;
        let expected = match existing.attributes.get("values") {
            Some(Json::Object(values)) => values.clone(),
            // Recorded as one secret: every written key is a secret.
            _ => existing
                .outs
                .get("keys")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .filter_map(Json::as_str)
                .map(|k| (k.to_string(), json!(imm_stdlib::value::SENSITIVE_TEXT)))
                .collect(),
        };
        let mut differs: Vec<&str> = Vec::new();
        for (key, value) in &expected {
            // A value holding a secret anywhere is recorded without it: only
            // its presence can be checked.
            let sensitive = holds_secret(value);
            let now = found.get(key);
            let same = match (now, sensitive) {
                (None, _) => false,
                (Some(_), true) => true,
                (Some(v), false) => matches_record(v, value),
            };
            if !same {
                differs.push(key);
            }
        }
        differs.extend(
            found
                .keys()
                .filter(|k| !expected.contains_key(*k))
                .map(String::as_str),
        );
        if differs.is_empty() {
            return Ok(Observed::AsRecorded);
        }
        Ok(Observed::Drifted(format!(
            "{} in {} differ from the record: {}",
            dir,
            store.describe(),
            differs.join(", ")
        )))
    }
}

/// Whether a store's text is the recorded value. State keeps numbers as
/// JSON floats, so a number the float cannot hold exactly (`1/3`, written
/// with all its digits) is compared as that float, as the plan does.
/// (Inside a list or map such a number still reads as drift.)
fn matches_record(found: &str, recorded: &Json) -> bool {
    if found == store_text(&Value::from_json(recorded)) {
        return true;
    }
    let Some(float) = recorded.as_f64() else {
        return false;
    };
    imm_stdlib::number::Number::parse(found).is_ok_and(|n| n.to_f64() == float)
}

/// Whether a recorded value is, or holds, the sensitive placeholder.
fn holds_secret(value: &Json) -> bool {
    match value {
        Json::String(s) => s == imm_stdlib::value::SENSITIVE_TEXT,
        Json::Array(items) => items.iter().any(holds_secret),
        Json::Object(map) => map.values().any(holds_secret),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_with_more_digits_than_a_float_is_not_drift() {
        let third = imm_stdlib::number::Number::parse("1")
            .and_then(|one| one.div(&imm_stdlib::number::Number::parse("3")?))
            .expect("a number");
        let written = store_text(&Value::Number(third.clone()));
        assert!(written.len() > 150, "{written}");
        let recorded = Value::Number(third).to_redacted_json();
        assert!(matches_record(&written, &recorded));
        assert!(matches_record("0.1", &json!(0.1)));
        assert!(!matches_record("0.5", &json!(0.3333333333333333)));
        assert!(!matches_record("3", &json!("0.3")));
        assert!(matches_record("[1,2]", &json!([1, 2])));
        assert!(!matches_record("x", &json!(1)));
    }
}
