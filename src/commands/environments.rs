//! What an environment's reserved attributes ask of plan and apply:
//! `protected` (an apply needs `--yes-really` or the environment's name
//! typed at a terminal) and `promote_from` (only artifacts built, applied
//! and tested in the source environment; the plan shows, per artifact,
//! where it was tested).

use super::session::fail;
use super::site::StateSite;
use imm_executors::engine::Promotion;
use imm_lang::diagnostics::Code;
use imm_lang::project::Project;
use imm_lang::syntax::ast::ExprKind;
use imm_planner::plan::{Action, Plan};
use imm_planner::state::State;
use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

fn attribute<'p>(project: &'p Project, environment: &str, name: &str) -> Option<&'p ExprKind> {
    project
        .root
        .decl
        .environments
        .get(environment)
        .and_then(|e| e.attribute(name))
        .map(|a| &a.value.kind)
}

pub fn is_protected(project: &Project, environment: &str) -> bool {
    matches!(
        attribute(project, environment, "protected"),
        Some(ExprKind::Bool(true))
    )
}

pub fn promotion_source(project: &Project, environment: &str) -> Option<String> {
    project
        .root
        .decl
        .environments
        .get(environment)
        .and_then(|e| e.attribute("promote_from"))
        .and_then(|a| a.value.as_literal_string())
        .map(str::to_string)
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
pub fn ledgers(
    project: &Project,
    site: &StateSite,
    current: (&str, &State),
) -> BTreeMap<String, HashSet<String>> {
    project
        .root
        .decl
        .environments
        .keys()
        .map(|env| (env.clone(), tested_in(site, env, current)))
        .collect()
}

/// Whether the plan builds an artifact (and so needs the ledgers).
pub fn builds_artifacts(plan: &Plan) -> bool {
    plan.changes
        .iter()
        .any(|c| c.artifact && matches!(c.action, Action::Create | Action::Replace))
}

/// Notes on every artifact the plan builds: where it was tested, and
/// whether promotion accepts it.
pub fn annotate(
    plan: &mut Plan,
    ledgers: &BTreeMap<String, HashSet<String>>,
    promote_from: Option<&str>,
) {
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

pub fn promotion(
    project: &Project,
    site: &StateSite,
    current: (&str, &State),
) -> Option<Promotion> {
    let from = promotion_source(project, current.0)?;
    let fingerprints = tested_in(site, &from, current);
    Some(Promotion { from, fingerprints })
}

/// A protected environment is applied only with `--yes-really`, or when
/// its name is typed at a terminal.
pub fn confirm_protected(
    project: &Project,
    environment: &str,
    yes_really: bool,
) -> Result<(), ExitCode> {
    if yes_really || !is_protected(project, environment) {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(fail(
            Code::ActionFailed,
            format!("environment \"{environment}\" is protected; nothing was changed"),
            "pass --yes-really to change it from a script, or run imm at a terminal and type its name",
        ));
    }
    print!("Environment \"{environment}\" is protected. Type its name to go on: ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if answer.trim() == environment {
        return Ok(());
    }
    eprintln!("Not confirmed; nothing was changed.");
    Err(ExitCode::from(1))
}
