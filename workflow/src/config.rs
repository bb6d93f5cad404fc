//! `imm config history` and `rollback`: the revisions of one set of
//! run-time values in its store, and a rollback — a new revision carrying
//! an old one's values. Keys the state records as sensitive are known here,
//! so that nothing shows their values.

use crate::error::{Error, Result};
use crate::load::{self, ProjectRequest};
use crate::session::Session;
use imm_executors::stores::{Revision, Store};
use imm_lang::diagnostics::Code;
use imm_lang::types::{self, Family};
use imm_planner::state::State;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// One set of values in its store.
pub struct ConfigTarget {
    store: Arc<dyn Store>,
    /// `<env>/<path>`.
    pub dir: String,
    /// Keys recorded as sensitive for this path.
    pub sensitive: BTreeSet<String>,
}

/// A rollback, before it is carried out: what the values are and would be.
pub struct Rollback {
    pub current: BTreeMap<String, String>,
    pub target: BTreeMap<String, String>,
}

impl ConfigTarget {
    pub fn open(
        session: &Session,
        request: &ProjectRequest,
        path: &str,
        store: Option<&str>,
    ) -> Result<ConfigTarget> {
        let (loaded, site) = load::load_with_site(request, session)?;
        let store = loaded.stores.get(store).map_err(|e| {
            Error::new(
                Code::UnknownAddress,
                e.message,
                "use a store block's name, or leave --store out",
            )
        })?;
        let dir = imm_executors::config::directory(&loaded.environment, path);
        let sensitive = site
            .peek()
            .ok()
            .flatten()
            .map(|state| sensitive_keys(&state, &dir))
            .unwrap_or_default();
        Ok(ConfigTarget {
            store,
            dir,
            sensitive,
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

    /// What rolling back to `revision` would change; refuses a revision
    /// imm did not write.
    pub fn plan_rollback(&self, session: &Session, revision: u64) -> Result<Rollback> {
        let known = self.history(session)?;
        if !known.iter().any(|r| r.revision == revision) {
            let list: Vec<String> = known.iter().map(|r| r.revision.to_string()).collect();
            return Err(Error::new(
                Code::UnknownAddress,
                format!("{} has no revision {revision} written by imm", self.dir),
                format!(
                    "the revisions are: {} (imm config history PATH)",
                    list.join(", ")
                ),
            ));
        }
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
        let why = format!("imm config rollback to {revision}");
        session
            .runtime
            .block_on(
                self.store
                    .write(&self.dir, &rollback.target, &self.sensitive, &why),
            )
            .map_err(store_failed)
    }
}

fn sensitive_keys(state: &State, dir: &str) -> BTreeSet<String> {
    state
        .resources
        .iter()
        .filter(|r| {
            types::in_family(&r.type_name, Family::Store)
                && r.private.get("dir").and_then(|d| d.as_str()) == Some(dir)
        })
        .flat_map(sensitive_values)
        .collect()
}

/// The keys a `config` record holds secrets under.
fn sensitive_values(record: &imm_planner::state::ResourceRecord) -> BTreeSet<String> {
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
    Error::new(
        Code::ActionFailed,
        e.message,
        "check that the store is running and reachable; nothing was changed",
    )
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
            c.depends_on.contains(&change.address) && not_done.contains(c.address.as_str())
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
    old: &imm_planner::state::ResourceRecord,
    old_revision: u64,
) -> std::result::Result<u64, imm_executors::ActionError> {
    let store_name = old.private.get("store").and_then(|s| s.as_str());
    let dir = old
        .private
        .get("dir")
        .and_then(|d| d.as_str())
        .ok_or_else(|| imm_executors::ActionError::new("the record names no store directory"))?;
    let store = stores.get(store_name)?;
    let sensitive = sensitive_values(old);
    session.runtime.block_on(async {
        let values = store.read_at(dir, old_revision).await?;
        let why = format!("put back to {old_revision}: what uses it failed in imm apply");
        store.write(dir, &values, &sensitive, &why).await
    })
}
