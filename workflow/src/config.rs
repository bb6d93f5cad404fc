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

    /// Writes the rollback's values as a new revision; returns it.
    pub fn roll_back(&self, session: &Session, rollback: &Rollback) -> Result<u64> {
        session
            .runtime
            .block_on(
                self.store
                    .write(&self.dir, &rollback.target, &self.sensitive),
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
        .flat_map(|r| {
            r.attributes
                .get("values")
                .and_then(|v| v.as_object())
                .into_iter()
                .flatten()
                .filter(|(_, v)| v.as_str() == Some(imm_stdlib::value::SENSITIVE_TEXT))
                .map(|(k, _)| k.clone())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn store_failed(e: imm_executors::ActionError) -> Error {
    Error::new(
        Code::ActionFailed,
        e.message,
        "check that the store is running and reachable; nothing was changed",
    )
}
