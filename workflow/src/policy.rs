//! What an environment's policy attributes ask of plan and apply, read
//! from their evaluated values (any expression form behaves like the
//! literal): `protected` (an apply needs a confirmation) and
//! `promote_from` (only artifacts built, applied and tested in the source
//! environment; the plan shows, per artifact, where it was tested).

use crate::load::Loaded;
use crate::state_site::StateSite;
use imm_executors::engine::Promotion;
use imm_planner::plan::{Action, Plan};
use imm_planner::state::State;
use std::collections::{BTreeMap, HashSet};

/// Whether changing this environment needs the user's confirmation.
pub fn is_protected(loaded: &Loaded) -> bool {
    loaded.settings.protected
}

/// The artifact fingerprints a state shows built, applied and tested.
fn tested(state: &State) -> HashSet<String> {
    state
        .artifacts
        .iter()
        .filter(|a| a.applied && a.tested)
        .map(|a| a.fingerprint.clone())
        .collect()
}

/// The fingerprints `environment`'s state shows tested (`current` is the
/// state already read for the environment being planned).
fn tested_in(site: &StateSite, environment: &str, current: (&str, &State)) -> HashSet<String> {
    if environment == current.0 {
        return tested(current.1);
    }
    site.for_environment(environment)
        .ok()
        .and_then(|s| s.peek().ok())
        .flatten()
        .map(|s| tested(&s))
        .unwrap_or_default()
}

/// Per declared environment, the artifact fingerprints its state shows
/// built, applied and tested.
fn ledgers(
    loaded: &Loaded,
    site: &StateSite,
    current: (&str, &State),
) -> BTreeMap<String, HashSet<String>> {
    loaded
        .project
        .root
        .decl
        .environments
        .keys()
        .map(|env| (env.clone(), tested_in(site, env, current)))
        .collect()
}

/// Whether the plan builds an artifact (and so needs the ledgers).
fn builds_artifacts(plan: &Plan) -> bool {
    plan.changes
        .iter()
        .any(|c| c.artifact && matches!(c.action, Action::Create | Action::Replace))
}

/// Notes on every artifact the plan builds: where it was tested, and
/// whether promotion accepts it.
pub fn annotate(plan: &mut Plan, loaded: &Loaded, site: &StateSite, state: &State) {
    if !builds_artifacts(plan) {
        return;
    }
    let ledgers = ledgers(loaded, site, (loaded.environment.as_str(), state));
    let promote_from = loaded.settings.promote_from.as_deref();
    for change in &mut plan.changes {
        if !change.artifact || !matches!(change.action, Action::Create | Action::Replace) {
            continue;
        }
        let Some(fp) = &change.fingerprint else {
            if let Some(source) = promote_from {
                change.notes.push(format!(
                    "fingerprint known once its inputs are built; checked against \"{source}\" before it is applied"
                ));
            }
            continue;
        };
        let tested_in: Vec<&str> = ledgers
            .iter()
            .filter(|(_, fps)| fps.contains(fp))
            .map(|(env, _)| env.as_str())
            .collect();
        if !tested_in.is_empty() {
            change
                .notes
                .push(format!("tested in {}", tested_in.join(", ")));
        }
        if let Some(source) = promote_from {
            if !tested_in.contains(&source) {
                change.notes.push(format!(
                    "not tested in \"{source}\": promote_from refuses it until it is applied there"
                ));
            }
        }
    }
}

/// What the apply engine accepts in an environment with `promote_from`.
pub fn promotion(loaded: &Loaded, site: &StateSite, state: &State) -> Option<Promotion> {
    let from = loaded.settings.promote_from.clone()?;
    let fingerprints = tested_in(site, &from, (loaded.environment.as_str(), state));
    Some(Promotion { from, fingerprints })
}
