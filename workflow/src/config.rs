//! `imm config history` and `rollback`: the revisions of one set of
//! run-time values in its store, and a rollback — a new revision carrying
//! an old one's values. Keys the state records as sensitive are known here,
//! so that nothing shows their values.

use crate::error::{Error, Result};
use crate::load::{self, Loaded, ProjectRequest};
use crate::plan::{make_plan, PlanRequest, Planned};
use crate::session::Session;
use crate::state_site::StateSite;
use imm_executors::config::recorded_location;
use imm_executors::stores::{Revision, Store};
use imm_lang::diagnostics::Code;
use imm_lang::types::{self, Family};
use imm_planner::plan::Action;
use imm_planner::state::{ResourceRecord, State};
use imm_stdlib::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// One set of values in its store.
pub struct ConfigTarget {
    store: Arc<dyn Store>,
    /// `<env>/<path>`.
    pub dir: String,
    /// Keys recorded as sensitive for this path.
    pub sensitive: BTreeSet<String>,
    /// The `config` recorded as writing these values, if any.
    pub address: Option<String>,
}

/// A rollback of the store alone, before it is carried out: what the
/// values are and would be.
pub struct Rollback {
    pub current: BTreeMap<String, String>,
    pub target: BTreeMap<String, String>,
}

impl ConfigTarget {
    /// Loads the project (without its lock) and finds the values at `path`.
    pub fn open(
        session: &Session,
        request: &ProjectRequest,
        path: &str,
        store: Option<&str>,
    ) -> Result<ConfigTarget> {
        let (loaded, site) = load::load_with_site(request, session)?;
        let state = site.peek().ok().flatten();
        ConfigTarget::find(&loaded, state.as_ref(), path, store)
    }

    /// The values at `path` in `store` (the default store when `None`),
    /// with what `state` records about them.
    pub fn find(
        loaded: &Loaded,
        state: Option<&State>,
        path: &str,
        store: Option<&str>,
    ) -> Result<ConfigTarget> {
        let store = loaded.stores.get(store).map_err(|e| {
            Error::new(
                Code::UnknownAddress,
                e.message,
                "use a store block's name, or leave --store out",
            )
        })?;
        let dir = imm_executors::config::directory(&loaded.environment, path);
        let records: Vec<&ResourceRecord> = state
            .map(|state| recorded_at(state, &loaded.stores, &store, &dir))
            .unwrap_or_default();
        Ok(ConfigTarget {
            dir,
            sensitive: records.iter().flat_map(|r| sensitive_values(r)).collect(),
            address: records.first().map(|r| r.address.clone()),
            store,
        })
    }

    pub fn describe(&self) -> String {
        self.store.describe()
    }

    pub fn history(&self, session: &Session) -> Result<Vec<Revision>> {
        session
            .runtime
            .block_on(self.store.history(&self.dir))
            .map_err(store_failed)
    }

    /// Refuses a revision imm did not write.
    fn check_known(&self, session: &Session, revision: u64) -> Result<()> {
        let known = self.history(session)?;
        if known.iter().any(|r| r.revision == revision) {
            return Ok(());
        }
        let list: Vec<String> = known.iter().map(|r| r.revision.to_string()).collect();
        Err(Error::new(
            Code::UnknownAddress,
            format!("{} has no revision {revision} written by imm", self.dir),
            format!(
                "the revisions are: {} (imm config history PATH)",
                list.join(", ")
            ),
        ))
    }

    /// What rolling the store alone back to `revision` would change.
    pub fn plan_rollback(&self, session: &Session, revision: u64) -> Result<Rollback> {
        self.check_known(session, revision)?;
        let (target, current) = session
            .runtime
            .block_on(async {
                Ok::<_, imm_executors::ActionError>((
                    self.store.read_at(&self.dir, revision).await?,
                    self.store.read(&self.dir).await?,
                ))
            })
            .map_err(store_failed)?;
        Ok(Rollback { current, target })
    }

    /// Writes the rollback's values (those of `revision`) as a new
    /// revision; returns it.
    pub fn roll_back(&self, session: &Session, rollback: &Rollback, revision: u64) -> Result<u64> {
        session
            .runtime
            .block_on(self.store.write(
                &self.dir,
                &rollback.target,
                &self.sensitive,
                &rollback_purpose(revision),
            ))
            .map_err(store_failed)
    }

    /// The plan of a rollback that reaches the apps: the project planned
    /// with the recorded `config`'s values those of `revision`, so that
    /// the config is written back and every consumer is reconfigured or
    /// replaced as those values ask. Refused when the project has changes
    /// not yet applied outside the config and what depends on it: a
    /// rollback carries out itself, nothing else.
    pub fn plan_rollback_with_consumers(
        &self,
        session: &Session,
        site: &StateSite,
        loaded: Loaded,
        revision: u64,
        refresh: bool,
        policies: crate::policy_check::PolicyRequest,
    ) -> Result<Planned> {
        let Some(address) = self.address.clone() else {
            return Err(Error::new(
                Code::UnknownAddress,
                format!(
                    "no config resource of this project is recorded as writing {}",
                    self.dir
                ),
                "apply the project first, or roll back the store alone with --store-only",
            ));
        };
        self.check_known(session, revision)?;
        let as_configured = make_plan(
            session,
            site,
            loaded,
            PlanRequest {
                refresh,
                ..PlanRequest::default()
            },
        )?;
        refuse_pending_changes(&as_configured, &address)?;
        let old = session
            .runtime
            .block_on(self.store.read_at(&self.dir, revision))
            .map_err(store_failed)?;
        let configured = as_configured
            .evaluated
            .instances
            .iter()
            .find(|i| i.address == address)
            .and_then(|i| i.config.get("values"));
        let values = typed_values(&old, configured, &self.sensitive);
        let mut loaded = as_configured.loaded;
        loaded.inputs.overrides.insert(
            address,
            BTreeMap::from([("values".to_string(), Value::Map(values))]),
        );
        loaded.purpose = rollback_purpose(revision);
        // Refreshed again, so that a consumer found gone is replaced; the
        // policies judge this plan, the one carried out.
        let request = PlanRequest {
            refresh,
            policies,
            ..PlanRequest::default()
        };
        make_plan(session, site, loaded, request)
    }
}

fn rollback_purpose(revision: u64) -> String {
    format!("imm config rollback to {revision}")
}

/// The `config` records whose values live at `dir` of `store`.
fn recorded_at<'s>(
    state: &'s State,
    stores: &imm_executors::stores::Stores,
    store: &Arc<dyn Store>,
    dir: &str,
) -> Vec<&'s ResourceRecord> {
    state
        .resources
        .iter()
        .filter(|r| {
            types::in_family(&r.type_name, Family::Store)
                && recorded_location(&r.private).is_some_and(|(name, at)| {
                    at == dir && stores.get(Some(name)).is_ok_and(|s| Arc::ptr_eq(&s, store))
                })
        })
        .collect()
}

/// A rollback carries out only itself: changes the project would make
/// anyway, outside the config and what depends on it, must be applied (or
/// undone) first.
fn refuse_pending_changes(planned: &Planned, config: &str) -> Result<()> {
    let reach = dependents(&planned.evaluated.instances, config);
    let resource_of: BTreeMap<&str, &str> = planned
        .evaluated
        .instances
        .iter()
        .map(|i| (i.address.as_str(), i.resource.as_str()))
        .collect();
    let mut pending: Vec<&str> = planned
        .plan
        .changes
        .iter()
        .filter(|c| c.action != Action::Noop)
        .filter(|c| {
            resource_of
                .get(c.address.as_str())
                .is_none_or(|resource| !reach.contains(*resource))
        })
        .map(|c| c.address.as_str())
        .collect();
    pending.dedup();
    if pending.is_empty() {
        return Ok(());
    }
    Err(Error::new(
        Code::PendingChanges,
        format!(
            "the project has changes not yet applied besides this rollback: {}",
            pending.join(", ")
        ),
        "apply them (or undo them in the .imm files) first, or roll back the store alone with --store-only",
    ))
}

/// The resource addresses of `config`'s resource and of everything that
/// depends on it, directly or not.
fn dependents(instances: &[imm_lang::evaluate::Instance], config: &str) -> BTreeSet<String> {
    let mut reach: BTreeSet<String> = instances
        .iter()
        .filter(|i| i.address == config)
        .map(|i| i.resource.clone())
        .collect();
    loop {
        let before = reach.len();
        for instance in instances {
            if instance
                .depends_on
                .iter()
                .any(|d| reach.contains(imm_planner::graph::resource_of(d)))
            {
                reach.insert(instance.resource.clone());
            }
        }
        if reach.len() == before {
            return reach;
        }
    }
}

/// Values read back from a store (text) as the configuration's values:
/// a key the configuration holds as a string stays text, any other is
/// read as JSON (text when it is not JSON); recorded secrets stay secret.
fn typed_values(
    stored: &BTreeMap<String, String>,
    configured: Option<&Value>,
    sensitive: &BTreeSet<String>,
) -> BTreeMap<String, Value> {
    let configured = match configured.map(Value::unmarked) {
        Some(Value::Map(m)) => Some(m),
        _ => None,
    };
    stored
        .iter()
        .map(|(key, text)| {
            let now = configured.and_then(|m| m.get(key));
            let is_text = now.is_some_and(|v| matches!(v.unmarked(), Value::String(_)));
            let value = match serde_json::from_str::<serde_json::Value>(text) {
                Ok(json) if !is_text => Value::from_json(&json),
                _ => Value::string(text.clone()),
            };
            let secret = sensitive.contains(key) || now.is_some_and(Value::contains_sensitive);
            let value = if secret {
                value.mark_sensitive()
            } else {
                value
            };
            (key.clone(), value)
        })
        .collect()
}

/// The keys a `config` record holds secrets under.
fn sensitive_values(record: &ResourceRecord) -> BTreeSet<String> {
    record
        .attributes
        .get("values")
        .and_then(|v| v.as_object())
        .into_iter()
        .flatten()
        .filter(|(_, v)| v.as_str() == Some(imm_stdlib::value::SENSITIVE_TEXT))
        .map(|(k, _)| k.clone())
        .collect()
}

fn store_failed(e: imm_executors::ActionError) -> Error {
    Error::from_action(&e, |m| format!("{m}; nothing was changed"))
}

/// After a failed apply: each `config` this apply wrote whose consumers
/// (the instances that depend on it) failed or were not attempted goes
/// back to the values they still run on, as a new revision, and its
/// record to the old values, so that the store and the running apps agree
/// (the next plan writes the new values again). One note per config.
pub(crate) fn keep_store_with_consumers(
    session: &Session,
    stores: &imm_executors::stores::Stores,
    plan: &imm_planner::plan::Plan,
    before: &State,
    state: &mut State,
    outcome: &imm_executors::engine::Outcome,
) -> Vec<String> {
    let not_done: BTreeSet<&str> = outcome
        .failed
        .iter()
        .map(|(address, _)| address.as_str())
        .chain(outcome.skipped.iter().map(String::as_str))
        .chain(outcome.not_started.iter().map(String::as_str))
        .collect();
    let mut notes = Vec::new();
    for change in &plan.changes {
        if !types::in_family(&change.type_name, Family::Store)
            || not_done.contains(change.address.as_str())
        {
            continue;
        }
        let consumers_failed = plan.changes.iter().any(|c| {
            c.depends_on
                .iter()
                .any(|entry| imm_planner::moves::covers(entry, &change.address))
                && not_done.contains(c.address.as_str())
        });
        if !consumers_failed {
            continue;
        }
        let Some(old) = before.resource(&change.address) else {
            continue; // a first write: there are no old values to go back to
        };
        let written = state
            .resource(&change.address)
            .and_then(|r| r.outs.get("revision").cloned());
        let old_revision = old.outs.get("revision").and_then(|r| r.as_u64());
        let (Some(old_revision), Some(written)) = (old_revision, written) else {
            continue;
        };
        if Some(old_revision) == written.as_u64() {
            continue; // not written by this apply
        }
        match restore(session, stores, old, old_revision) {
            Ok(revision) => {
                let mut record = old.clone();
                record.outs.insert("revision".into(), revision.into());
                state.put_resource(record);
                notes.push(format!(
                    "{}: what uses it failed, so its store went back to the values of revision {old_revision} (now revision {revision}); the next apply writes the new values again",
                    change.address
                ));
            }
            Err(e) => notes.push(format!(
                "{}: what uses it failed, and putting its store back to revision {old_revision} failed too ({}): the store holds the new values, the apps the old ones; apply again",
                change.address, e.message
            )),
        }
    }
    notes
}

/// Writes revision `old_revision`'s values of a recorded `config` as a new
/// revision; returns it.
fn restore(
    session: &Session,
    stores: &imm_executors::stores::Stores,
    old: &ResourceRecord,
    old_revision: u64,
) -> std::result::Result<u64, imm_executors::ActionError> {
    let (store_name, dir) = recorded_location(&old.private).ok_or_else(|| {
        imm_executors::ActionError::new(
            Code::StateUnreadable,
            format!("the record of {} names no store and directory", old.address),
        )
    })?;
    let store = stores.get(Some(store_name))?;
    let sensitive = sensitive_values(old);
    session.runtime.block_on(async {
        let values = store.read_at(dir, old_revision).await?;
        let why = format!("put back to {old_revision}: what uses it failed in imm apply");
        store.write(dir, &values, &sensitive, &why).await
    })
}
