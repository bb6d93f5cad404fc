//! Making a plan: read state (under the lock the caller holds), refresh
//! recorded objects through their executors, evaluate with the planner as
//! the evaluator's oracle, annotate artifacts with where they were tested,
//! and hash the inputs for saved plans.

use crate::error::{Error, Result};
use crate::load::Loaded;
use crate::session::Session;
use crate::state_site::{Notes, StateSite};
use futures_util::StreamExt;
use imm_executors::{Existing, Observed, RunContext};
use imm_lang::diagnostics::{Code, Diagnostic};
use imm_lang::evaluate::Evaluated;
use imm_lang::project::Project;
use imm_planner::plan::{self, Plan, PlanOptions};
use imm_planner::state::State;
use imm_planner::stored::FingerprintKey;
use std::collections::HashMap;

/// What a plan is asked for.
#[derive(Debug, Clone, Default)]
pub struct PlanRequest {
    pub options: PlanOptions,
    /// Check recorded objects against what exists first.
    pub refresh: bool,
    /// Hash what the plan was made from (for saved plans).
    pub hash_inputs: bool,
    /// Policy directories and overrides besides the project's policies.
    pub policies: crate::policy_check::PolicyRequest,
}

/// A plan made: everything apply needs to carry it out.
pub struct Planned {
    pub loaded: Loaded,
    pub state: State,
    pub key: FingerprintKey,
    pub evaluated: Evaluated,
    pub plan: Plan,
    /// Warnings of the configuration, to show with the plan.
    pub warnings: Vec<Diagnostic>,
    /// What reading the state found (an interrupted apply folded in).
    pub notes: Notes,
}

/// The run context every executor sees.
pub fn run_context(loaded: &Loaded, state: &State) -> RunContext {
    RunContext {
        project: loaded.project.name(),
        environment: loaded.environment.clone(),
        lineage: state.lineage.clone(),
        stores: loaded.stores.clone(),
        progress: None,
        purpose: loaded.purpose.clone(),
    }
}

pub fn make_plan(
    session: &Session,
    site: &StateSite,
    mut loaded: Loaded,
    mut request: PlanRequest,
) -> Result<Planned> {
    let (mut state, notes) = site.read(&loaded.environment)?;
    let moves = apply_moves(&loaded, &mut state);
    request.options.moved = moves
        .moved
        .iter()
        .map(|m| (m.to.clone(), m.from.clone()))
        .collect();
    let key = site.key()?;
    let others = crate::policy::OtherEnvironments::read(&loaded, site);
    request.options.other_ledgers = crate::policy::artifacts_elsewhere(&others);
    if request.refresh {
        let run = run_context(&loaded, &state);
        request.options.drifted = refresh(session, &state, &run)?;
    }
    let pins = std::sync::Arc::new(crate::lock::LockPins::read(
        &loaded,
        session,
        crate::lock::Upgrade::Nothing,
    )?);
    loaded.inputs.pins = Some(pins.clone());
    let (evaluated, mut plan, diags) = plan::plan_project(
        &mut loaded.project,
        &loaded.environment,
        &loaded.inputs,
        &state,
        &key,
        &request.options,
    );
    let mut warnings = loaded.checked(diags)?;
    // Tags resolved for the first time are locked now, whatever follows:
    // the next plan runs the same digests.
    pins.save(&loaded.dir)?;
    if request.hash_inputs {
        plan.config_hash = config_hash(&loaded.project, &evaluated, &key);
    }
    crate::policy::annotate(&mut plan, &loaded, &others, &state);
    plan.warnings.extend(moves.refused);
    plan.warnings
        .extend(crate::conditions::checks_known_after_apply(&evaluated));
    warnings.extend(crate::policy_check::judge(
        &mut loaded,
        &mut plan,
        &request.policies,
    )?);
    Ok(Planned {
        loaded,
        state,
        key,
        evaluated,
        plan,
        warnings,
        notes,
    })
}

/// Every module's `moved` blocks (a child's addresses are relative to it),
/// parents first and each in the order written, applied to the state read:
/// the plan and the apply see every moved record at its new address, and
/// the apply records it there.
fn apply_moves(loaded: &Loaded, state: &mut State) -> imm_planner::moves::MoveOutcome {
    let mut moves: Vec<(String, String)> = Vec::new();
    loaded.project.root.walk(&mut |module| {
        let prefix = &module.address_prefix;
        moves.extend(module.decl.moves.iter().map(|m| {
            (
                format!("{prefix}{}", m.from.to_address()),
                format!("{prefix}{}", m.to.to_address()),
            )
        }));
    });
    imm_planner::moves::apply_moves(state, &moves)
}

/// Reads of recorded objects in flight at once during a refresh.
const REFRESH_CONCURRENCY: usize = 16;

/// Asks each executor whether its recorded objects are still as recorded;
/// returns what drifted, by address.
pub fn refresh(
    session: &Session,
    state: &State,
    run: &RunContext,
) -> Result<HashMap<String, String>> {
    // Reads go out concurrently: a state of thousands of containers is
    // thousands of daemon round trips.
    let reads = state.resources.iter().filter_map(|record| {
        let executor = session.registry.get(&record.type_name)?;
        Some(async move {
            let existing = Existing {
                address: &record.address,
                type_name: &record.type_name,
                attributes: &record.attributes,
                outs: &record.outs,
                private: &record.private,
            };
            (record.address.clone(), executor.read(existing, run).await)
        })
    });
    let observed: Vec<_> = session.runtime.block_on(
        futures_util::stream::iter(reads)
            .buffer_unordered(REFRESH_CONCURRENCY)
            .collect(),
    );
    let mut found = HashMap::new();
    let mut errors = Vec::new();
    for (address, result) in observed {
        match result {
            Ok(Observed::AsRecorded) => {}
            Ok(Observed::Drifted(what)) => {
                found.insert(address, what);
            }
            Err(e) => errors.push((address, e)),
        }
    }
    if errors.is_empty() {
        return Ok(found);
    }
    errors.sort_by(|a, b| a.0.cmp(&b.0));
    let diagnostics = errors
        .into_iter()
        .map(|(address, e)| {
            Diagnostic::new(e.code, format!("refreshing state failed: {address}: {e}")).with_help(
                format!(
                    "{}; or plan with --refresh=false to use the recorded state as it is",
                    e.help_text()
                ),
            )
        })
        .collect();
    Err(Error {
        diagnostics,
        sources: Default::default(),
    })
}

/// A hash of every source file and every value the plan was made from,
/// sensitive ones by their keyed hash.
pub fn config_hash(project: &Project, evaluated: &Evaluated, key: &FingerprintKey) -> String {
    let mut hasher = blake3::Hasher::new();
    // Paths relative to the project, which a plan file names absolutely.
    let root = &project.root.dir;
    let mut files: Vec<(String, &str)> = project
        .sources
        .files()
        .map(|(_, f)| {
            let path = f.path.strip_prefix(root).unwrap_or(&f.path);
            (path.display().to_string(), &*f.text)
        })
        .collect();
    files.sort();
    for (path, text) in files {
        hasher.update(path.as_bytes());
        hasher.update(&[0]);
        hasher.update(text.as_bytes());
        hasher.update(&[0]);
    }
    hasher.update(evaluated.environment.as_bytes());
    for instance in &evaluated.instances {
        let (stored, sensitive) = imm_planner::stored::stored_form(&instance.config, key);
        hasher.update(instance.address.as_bytes());
        hasher.update(stored.to_string().as_bytes());
        for (path, hash) in sensitive {
            hasher.update(path.as_bytes());
            hasher.update(hash.as_bytes());
        }
    }
    for (name, output) in &evaluated.outputs {
        hasher.update(name.as_bytes());
        hasher.update(key.hash(&output.value).as_bytes());
    }
    hasher.finalize().to_hex().to_string()
}

/// A saved plan is applied only if making it again now gives the same.
pub fn check_not_stale(saved: &Plan, now: &Plan) -> Result<()> {
    if saved.state != now.state {
        return Err(Error::new(
            Code::StalePlan,
            format!(
                "the saved plan is stale: state changed since it was made (serial {} then, {} now)",
                saved.state.serial, now.state.serial
            ),
            "run `imm plan --out FILE` again, review it, and apply the new plan",
        ));
    }
    let without_notes = |plan: &Plan| {
        let mut changes = plan.changes.clone();
        changes.iter_mut().for_each(|c| c.notes.clear());
        changes
    };
    if saved.config_hash != now.config_hash || without_notes(saved) != without_notes(now) {
        return Err(Error::new(
            Code::StalePlan,
            "the saved plan is stale: the configuration or its inputs (files, variables, secrets, build contexts) changed since it was made",
            "run `imm plan --out FILE` again, review it, and apply the new plan",
        ));
    }
    Ok(())
}
