//! Checks before an apply changes anything: every change has an executor,
//! objects a crashed run left on a Docker engine are swept (volumes only
//! reported), and every store a `config` change writes to answers.

use crate::error::{Error, Result};
use crate::session::Session;
use imm_executors::docker::engine_in_json;
use imm_executors::stores::Stores;
use imm_executors::RunContext;
use imm_lang::diagnostics::Code;
use imm_lang::types::{self, Family};
use imm_planner::plan::{Action, Plan};
use imm_planner::state::State;

pub fn check_executors(session: &Session, plan: &Plan) -> Result<()> {
    let mut missing: Vec<&str> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::Noop && session.registry.get(&c.type_name).is_none())
        .map(|c| c.type_name.as_str())
        .collect();
    missing.sort_unstable();
    missing.dedup();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::new(
        Code::UnsupportedYet,
        format!(
            "this version cannot apply {} resources; nothing was changed",
            missing.join(", ")
        ),
        "`imm plan` shows what would change",
    ))
}

/// Objects labelled for this project, environment and lineage that state
/// does not know (left by a crash) are removed (volumes only reported);
/// returns a note per object.
pub fn sweep_orphans(
    session: &Session,
    plan: &Plan,
    state: &State,
    run: &RunContext,
) -> Result<Vec<String>> {
    let uses_docker = plan
        .changes
        .iter()
        .any(|c| types::in_family(&c.type_name, Family::Docker))
        || state
            .resources
            .iter()
            .any(|r| types::in_family(&r.type_name, Family::Docker));
    let Some(docker) = session.registry.docker.as_ref().filter(|_| uses_docker) else {
        return Ok(Vec::new());
    };
    // Every engine the plan or the state has objects on.
    let mut engines: Vec<Option<String>> = plan
        .changes
        .iter()
        .filter(|c| types::in_family(&c.type_name, Family::Docker))
        .map(|c| c.after.as_ref().and_then(engine_in_json))
        .chain(
            state
                .resources
                .iter()
                .filter(|r| types::in_family(&r.type_name, Family::Docker))
                .map(|r| engine_in_json(&r.attributes)),
        )
        .collect();
    engines.sort();
    engines.dedup();
    let mut notes = Vec::new();
    for engine in engines {
        match session
            .runtime
            .block_on(docker.sweep_orphans(engine.as_deref(), state, run))
        {
            Ok(found) => notes.extend(
                found
                    .into_iter()
                    .map(|line| format!("left by an interrupted run: {line}")),
            ),
            Err(e) => {
                return Err(Error::from_action(&e, |m| {
                    format!("{m}; nothing was changed")
                }))
            }
        }
    }
    Ok(notes)
}

/// Every store a `config` change writes to must answer.
pub fn check_stores(session: &Session, plan: &Plan, stores: &Stores) -> Result<()> {
    let mut names: Vec<Option<String>> = plan
        .changes
        .iter()
        .filter(|c| types::in_family(&c.type_name, Family::Store) && c.action != Action::Noop)
        .map(|c| {
            c.after
                .as_ref()
                .or(c.before.as_ref())
                .and_then(types::config::store_name)
        })
        .collect();
    names.sort();
    names.dedup();
    for name in names {
        let checked = stores
            .get(name.as_deref())
            .and_then(|store| session.runtime.block_on(store.ping()));
        if let Err(e) = checked {
            return Err(Error::from_action(&e, |m| {
                format!("{m}; nothing was changed")
            }));
        }
    }
    Ok(())
}
