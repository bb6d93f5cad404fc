//! Policies over a plan: `policy` blocks of the project and of policy
//! directories outside it (`--policy DIR`, an environment's `policy_dirs`),
//! which hold only `policy` blocks, each judged against the plan as a
//! value (`plan.changes`, `plan.environment`).

use crate::check::{check_module, ModuleContext};
use crate::decl::{self, Enforce, Policy};
use crate::diagnostics::{Code, Diagnostic, Diagnostics};
use crate::evaluate::{judge, Verdict};
use crate::expr::{Evaluator, TemplateCache};
use crate::source::SourceMap;
use imm_stdlib::Value;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// How one policy fared against a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyOutcome {
    pub name: String,
    pub enforce: Enforce,
    pub status: PolicyStatus,
    /// The error messages of its false asserts.
    pub messages: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyStatus {
    Pass,
    Fail,
    /// A mandatory policy that failed and was overridden by name.
    Overridden,
}

impl PolicyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyStatus::Pass => "pass",
            PolicyStatus::Fail => "fail",
            PolicyStatus::Overridden => "overridden",
        }
    }
}

/// The policies of a policy directory: every `*.imm` file in it (not its
/// subdirectories), which may hold nothing but `policy` blocks.
pub fn load_dir(dir: &Path, sources: &mut SourceMap) -> (Vec<Policy>, Diagnostics) {
    let mut diags = Diagnostics::default();
    let paths = match imm_files(dir) {
        Ok(paths) => paths,
        Err(e) => {
            diags.push(
                Diagnostic::new(
                    Code::PolicyInvalid,
                    format!("cannot read the policy directory {}: {e}", dir.display()),
                )
                .with_help("pass --policy with a directory of *.imm files holding policy blocks"),
            );
            return (Vec::new(), diags);
        }
    };
    let mut bodies = Vec::new();
    for path in paths {
        let Some(file) = crate::project::read_source(&path, sources, &mut diags) else {
            continue;
        };
        let Some(text) = sources.get(file).map(|s| s.text.clone()) else {
            continue;
        };
        let parsed = crate::syntax::parse_file(file, &text);
        diags.extend(parsed.diagnostics);
        for block in parsed.body.blocks().filter(|b| b.kind.name != "policy") {
            diags.push(
                Diagnostic::at(
                    Code::PolicyInvalid,
                    block.kind.span,
                    format!(
                        "a policy directory holds only policy blocks, not \"{}\"",
                        block.kind.name
                    ),
                )
                .with_help(
                    "move this block into the project; keep only policy \"NAME\" { ... } here",
                ),
            );
        }
        bodies.push(parsed.body);
    }
    let decl = decl::collect(bodies, &mut diags);
    let context = ModuleContext {
        impure_vars: &HashSet::new(),
        child_outputs: &HashMap::new(),
        is_root: false,
    };
    check_module(&decl, &context, &mut diags);
    (decl.policies.into_values().collect(), diags)
}

fn imm_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "imm") {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

/// Judges every policy against `plan` (an object with `changes` and
/// `environment`); a failed mandatory policy named in `overrides` counts
/// as overridden. A policy named twice is reported.
pub fn judge_all(
    policies: &[Policy],
    plan: Value,
    overrides: &[String],
    dir: &Path,
    sources: &mut SourceMap,
) -> (Vec<PolicyOutcome>, Diagnostics) {
    let mut diags = Diagnostics::default();
    let mut templates = TemplateCache::default();
    let mut ev = Evaluator::new(dir, sources, &mut templates);
    ev.roots.insert("plan".into(), plan);
    let mut outcomes: Vec<PolicyOutcome> = Vec::new();
    for policy in policies {
        let name = &policy.name.name;
        if outcomes.iter().any(|o| &o.name == name) {
            diags.push(
                Diagnostic::at(Code::Duplicate, policy.name.span, format!("policy \"{name}\" is defined twice"))
                    .with_help("rename one of the two policies (a policy directory's names share one namespace with the project's)"),
            );
            continue;
        }
        let mut messages = Vec::new();
        for assert in &policy.asserts {
            match judge(&mut ev, assert, &mut diags) {
                Verdict::Holds | Verdict::Unknown => {}
                Verdict::Fails(message) => messages.push(message),
            }
        }
        let status = match (messages.is_empty(), policy.enforce) {
            (true, _) => PolicyStatus::Pass,
            (false, Enforce::Mandatory) if overrides.contains(name) => PolicyStatus::Overridden,
            (false, _) => PolicyStatus::Fail,
        };
        outcomes.push(PolicyOutcome {
            name: name.clone(),
            enforce: policy.enforce,
            status,
            messages,
        });
    }
    (outcomes, diags)
}
