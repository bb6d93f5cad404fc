//! Policies judged against a plan: the project's `policy` blocks, the
//! environment's `policy_dirs` and `--policy DIR`, each seeing the plan as
//! `plan.changes` (the plan JSON's changes, secrets masked) and
//! `plan.environment`. A failed mandatory policy blocks the apply unless
//! `--override-policy NAME` names it; an advisory one is a warning.

use crate::error::{Error, Result};
use crate::load::Loaded;
use imm_lang::decl::Policy;
use imm_lang::diagnostics::{Code, Diagnostic};
use imm_lang::policy::{judge_all, load_dir};
use imm_planner::plan::{Plan, PolicyResult};
use imm_stdlib::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Which policies a plan is judged by, besides the project's own.
#[derive(Debug, Clone, Default)]
pub struct PolicyRequest {
    /// `--policy DIR`, in order.
    pub dirs: Vec<PathBuf>,
    /// `--override-policy NAME`: mandatory policies allowed to fail.
    pub overrides: Vec<String>,
}

/// Judges every policy against `plan` and records the results in it;
/// returns the warnings (advisory policies that fail).
pub fn judge(
    loaded: &mut Loaded,
    plan: &mut Plan,
    request: &PolicyRequest,
) -> Result<Vec<Diagnostic>> {
    let mut policies: Vec<Policy> = loaded
        .project
        .root
        .decl
        .policies
        .values()
        .cloned()
        .collect();
    let mut problems = Vec::new();
    let dirs = loaded
        .settings
        .policy_dirs
        .iter()
        .map(|d| loaded.dir.join(d))
        .chain(request.dirs.iter().cloned());
    for dir in dirs.collect::<Vec<_>>() {
        let (found, diags) = load_dir(&dir, &mut loaded.project.sources);
        problems.extend(diags.0);
        policies.extend(found);
    }
    for name in &request.overrides {
        if !policies.iter().any(|p| &p.name.name == name) {
            problems.push(
                Diagnostic::new(Code::PolicyInvalid, format!("--override-policy {name} names no policy of this plan"))
                    .with_help("name a policy declared in the project or in a policy directory (imm plan lists them under Policies)"),
            );
        }
    }
    let (outcomes, diags) = judge_all(
        &policies,
        plan_value(plan),
        &request.overrides,
        &loaded.dir,
        &mut loaded.project.sources,
    );
    problems.extend(diags.0);
    let errors: Vec<Diagnostic> = problems.iter().filter(|d| d.is_error()).cloned().collect();
    if !errors.is_empty() {
        return Err(Error::in_files(errors, &loaded.project.sources));
    }
    plan.policies = outcomes
        .into_iter()
        .map(|o| PolicyResult {
            name: o.name,
            enforce: o.enforce.as_str().to_string(),
            status: o.status.as_str().to_string(),
            messages: o.messages,
        })
        .collect();
    let advisory = plan
        .policies
        .iter()
        .filter(|p| p.status == "fail" && !p.blocks())
        .map(|p| {
            Diagnostic::new(Code::AdvisoryPolicyFailed, p.line())
                .with_help(Code::AdvisoryPolicyFailed.help())
        });
    problems.retain(|d| !d.is_error());
    problems.extend(advisory);
    Ok(problems)
}

/// The plan as a policy sees it: `changes` as the plan JSON writes them
/// (redacted), and `environment`.
fn plan_value(plan: &Plan) -> Value {
    let changes = serde_json::to_value(&plan.changes).unwrap_or_default();
    let mut map = BTreeMap::new();
    map.insert("changes".to_string(), Value::from_json(&changes));
    map.insert(
        "environment".to_string(),
        Value::string(plan.environment.clone()),
    );
    Value::Map(map)
}

/// The error for a plan a mandatory policy refuses, naming each.
pub fn refused(plan: &Plan) -> Option<Error> {
    let blocking: Vec<String> = plan.blocking_policies().map(PolicyResult::line).collect();
    if blocking.is_empty() {
        return None;
    }
    let names: Vec<&str> = plan.blocking_policies().map(|p| p.name.as_str()).collect();
    Some(Error::new(
        Code::PolicyFailed,
        format!("the plan fails mandatory policies: {}", blocking.join("; ")),
        format!(
            "change the configuration so that the plan satisfies them, or after review plan again with {}",
            names.iter().map(|n| format!("--override-policy {n}")).collect::<Vec<_>>().join(" ")
        ),
    ))
}

/// A saved plan is applied only if its policies judge the plan made now
/// as they judged it then (a policy directory may have changed).
pub fn check_same(saved: &Plan, now: &Plan) -> Result<()> {
    if saved.policies == now.policies {
        return Ok(());
    }
    Err(Error::new(
        Code::StalePlan,
        "the saved plan is stale: its policies judge the plan differently now (a policy changed)",
        "run `imm plan --out FILE` again, review it, and apply the new plan",
    ))
}
