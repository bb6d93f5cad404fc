//! What an environment's policy attributes ask of plan and apply, read
//! from their evaluated values (any expression form behaves like the
//! literal): `protected` (an apply needs a confirmation) and
//! `promote_from` (only artifacts built, applied and tested in the source
//! environment; the plan shows, per artifact, where it was tested); and
//! what the other environments run, so that an artifact is built once for
//! all of them and never destroyed while one of them still uses it.

use crate::load::Loaded;
use crate::state_site::StateSite;
use imm_executors::engine::Promotion;
use imm_planner::plan::{Action, Plan};
use imm_planner::state::{ArtifactEntry, State};
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

/// The states of the project's other environments (those applied), read
/// once per plan and once per apply: promotion, the notes on artifacts,
/// reuse and the destroy guard all look at them.
pub struct OtherEnvironments(Vec<(String, State)>);

impl OtherEnvironments {
    pub fn read(loaded: &Loaded, site: &StateSite) -> OtherEnvironments {
        OtherEnvironments(
            environments(loaded)
                .filter(|env| **env != loaded.environment)
                .filter_map(|env| {
                    let state = site.for_environment(env).ok()?.peek().ok()??;
                    Some((env.clone(), state))
                })
                .collect(),
        )
    }

    /// The fingerprints `environment`'s state shows tested (`current` is
    /// the state already read for the environment being planned).
    fn tested_in(&self, environment: &str, current: (&str, &State)) -> HashSet<String> {
        if environment == current.0 {
            return tested(current.1);
        }
        self.0
            .iter()
            .find(|(env, _)| env == environment)
            .map(|(_, state)| tested(state))
            .unwrap_or_default()
    }
}

/// Per declared environment, the artifact fingerprints its state shows
/// built, applied and tested.
fn ledgers(
    loaded: &Loaded,
    others: &OtherEnvironments,
    current: (&str, &State),
) -> BTreeMap<String, HashSet<String>> {
    environments(loaded)
        .map(|env| (env.clone(), others.tested_in(env, current)))
        .collect()
}

/// The environments the project declares.
fn environments(loaded: &Loaded) -> impl Iterator<Item = &String> {
    loaded.project.root.decl.environments.keys()
}

/// Whether the plan builds an artifact (and so needs the ledgers).
fn builds_artifacts(plan: &Plan) -> bool {
    plan.changes
        .iter()
        .any(|c| c.artifact && matches!(c.action, Action::Create | Action::Replace))
}

/// Notes on every artifact the plan builds: where it was tested, and
/// whether promotion accepts it.
pub fn annotate(plan: &mut Plan, loaded: &Loaded, others: &OtherEnvironments, state: &State) {
    if !builds_artifacts(plan) {
        return;
    }
    let ledgers = ledgers(loaded, others, (loaded.environment.as_str(), state));
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
pub fn promotion(loaded: &Loaded, others: &OtherEnvironments, state: &State) -> Option<Promotion> {
    let from = loaded.settings.promote_from.clone()?;
    let fingerprints = others.tested_in(&from, (loaded.environment.as_str(), state));
    Some(Promotion { from, fingerprints })
}

/// Per other environment, the artifacts it runs now, built, applied and
/// tested there: what this environment reuses instead of building.
pub fn artifacts_elsewhere(others: &OtherEnvironments) -> Vec<(String, Vec<ArtifactEntry>)> {
    others
        .0
        .iter()
        .map(|(env, state)| {
            let running = |a: &&ArtifactEntry| {
                state
                    .resource(&a.address)
                    .is_some_and(|r| r.fingerprint.as_deref() == Some(a.fingerprint.as_str()))
            };
            let entries = state.artifacts.iter().filter(running).cloned().collect();
            (env.clone(), entries)
        })
        .collect()
}

/// The artifacts (address, fingerprint) another environment still
/// records: replacing or destroying them here forgets them, and leaves
/// the object to that environment.
pub fn in_use_elsewhere(others: &OtherEnvironments) -> HashSet<(String, String)> {
    others
        .0
        .iter()
        .flat_map(|(_, state)| &state.resources)
        .filter_map(|r| Some((r.address.clone(), r.fingerprint.clone()?)))
        .collect()
}
