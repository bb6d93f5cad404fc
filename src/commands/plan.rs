//! `imm plan [DIR] [--env E] [--out FILE] [--format human|json|markdown]
//! [--detailed-exitcode] [--replace ADDR] [--target ADDR] [--refresh=false]` and
//! `imm show PLANFILE`: make a plan, print it, and save it for apply.

use super::{print_notes, print_warnings, CommandResult};
use crate::{DiagnosticFormat, ProjectArgs};
use imm_lang::diagnostics::Code;
use imm_planner::plan::{Plan, PlanOptions};
use imm_planner::render;
use imm_workflow::plan::{make_plan, PlanRequest, Planned};
use imm_workflow::policy_check::{self, PolicyRequest};
use imm_workflow::{load, Error, Session};
use serde::{Deserialize, Serialize};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Clone, Copy, clap::ValueEnum, PartialEq, Eq)]
pub enum PlanFormat {
    Human,
    Json,
    Markdown,
}

/// `--replace`, `--target` and `--refresh`, shared by plan and apply.
#[derive(clap::Args, Clone, Default)]
pub struct PlanArgs {
    /// Replace this instance although nothing changed (repeatable).
    #[arg(long = "replace", value_name = "ADDRESS")]
    pub replace: Vec<String>,
    /// Plan only this instance, resource or module and what it depends on (repeatable).
    #[arg(long = "target", value_name = "ADDRESS")]
    pub target: Vec<String>,
    /// Check recorded objects against what exists first (drift is replaced).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,
    #[command(flatten)]
    pub policies: PolicyArgs,
}

/// `--policy` and `--override-policy`, shared by every command that
/// carries out a plan (plan, apply, destroy, config rollback).
#[derive(clap::Args, Clone, Default)]
pub struct PolicyArgs {
    /// Also judge the plan by the policy blocks of DIR's *.imm files (repeatable).
    #[arg(long = "policy", value_name = "DIR")]
    pub policy: Vec<PathBuf>,
    /// Let this mandatory policy fail (repeatable); a saved plan records it.
    #[arg(long = "override-policy", value_name = "NAME")]
    pub override_policy: Vec<String>,
}

impl PolicyArgs {
    pub fn request(&self) -> PolicyRequest {
        PolicyRequest {
            dirs: self.policy.iter().map(|d| absolute(d)).collect(),
            overrides: self.override_policy.clone(),
        }
    }
}

impl PlanArgs {
    pub fn options(&self) -> PlanOptions {
        PlanOptions {
            force_replace: self.replace.iter().cloned().collect(),
            targets: self.target.iter().cloned().collect(),
            ..PlanOptions::default()
        }
    }

    /// `--policy` and `--override-policy`.
    pub fn policies(&self) -> PolicyRequest {
        self.policies.request()
    }
}

/// A saved plan: the plan itself and what is needed to make it again, so
/// that `imm apply FILE` can tell whether it still holds. It holds no
/// secret: the plan's values are redacted, and sensitive variable values
/// given on the command line are not kept.
#[derive(Serialize, Deserialize)]
pub struct PlanFile {
    pub imm_plan_file: u32,
    /// Absolute project directory.
    pub project_dir: PathBuf,
    /// `--var` values of variables that are not sensitive.
    #[serde(default)]
    pub vars: Vec<String>,
    #[serde(default)]
    pub var_files: Vec<PathBuf>,
    #[serde(default)]
    pub replace: Vec<String>,
    #[serde(default)]
    pub target: Vec<String>,
    /// `--policy` directories (absolute).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy: Vec<PathBuf>,
    /// `--override-policy` names: the only overrides `imm apply FILE` honours.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub override_policy: Vec<String>,
    pub plan: Plan,
}

pub const PLAN_FILE_VERSION: u32 = 1;

/// `imm plan`'s exit code when a mandatory policy fails (1 is an error,
/// 2 is `--detailed-exitcode`'s "changes").
pub const POLICY_FAILED_EXIT: u8 = 3;

pub fn run(
    args: &ProjectArgs,
    plan_args: &PlanArgs,
    out: Option<&Path>,
    format: PlanFormat,
    detailed_exitcode: bool,
) -> CommandResult {
    let session = Session::new()?;
    let (loaded, site, lock) = load::load_locked(&args.request(), &session, "plan")?;
    print_notes(&lock.notes());
    lock.hold(|| -> CommandResult {
        let request = PlanRequest {
            options: plan_args.options(),
            refresh: plan_args.refresh,
            hash_inputs: out.is_some(),
            policies: plan_args.policies(),
        };
        let planned = make_plan(&session, &site, loaded, request)?;
        print_notes(&planned.notes);
        print_warnings(&planned.warnings, &planned.loaded, DiagnosticFormat::Human);
        print_plan(&planned.plan, format);
        if let Some(out) = out {
            save(out, args, plan_args, &planned)?;
            eprintln!(
                "Saved the plan to {}; apply exactly this plan with `imm apply {}`.",
                out.display(),
                out.display()
            );
        }
        if let Some(refused) = policy_check::refused(&planned.plan) {
            crate::report::print_diagnostics(
                &refused.diagnostics,
                &refused.sources,
                DiagnosticFormat::Human,
            );
            return Ok(ExitCode::from(POLICY_FAILED_EXIT));
        }
        if detailed_exitcode && planned.plan.summary.has_changes() {
            return Ok(ExitCode::from(2));
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub fn print_plan(plan: &Plan, format: PlanFormat) {
    let text = match format {
        PlanFormat::Human => render::human(plan, color_on_stdout()),
        PlanFormat::Json => render::json(plan),
        PlanFormat::Markdown => render::markdown(plan),
    };
    crate::report::out(text.trim_end());
}

pub fn color_on_stdout() -> bool {
    crate::report::color_wanted() && std::io::stdout().is_terminal()
}

fn save(
    out: &Path,
    args: &ProjectArgs,
    plan_args: &PlanArgs,
    planned: &Planned,
) -> Result<(), Error> {
    let sensitive_vars: Vec<&String> = planned
        .evaluated
        .variables
        .iter()
        .filter(|(_, v)| v.contains_sensitive())
        .map(|(k, _)| k)
        .collect();
    let vars = args
        .vars
        .vars
        .iter()
        .filter(|raw| {
            let name = raw.split_once('=').map(|(n, _)| n.trim()).unwrap_or(raw);
            !sensitive_vars.iter().any(|s| s.as_str() == name)
        })
        .cloned()
        .collect();
    let file = PlanFile {
        imm_plan_file: PLAN_FILE_VERSION,
        project_dir: std::path::absolute(&args.dir).unwrap_or_else(|_| args.dir.clone()),
        vars,
        var_files: args
            .vars
            .var_files
            .iter()
            .map(|f| std::path::absolute(f).unwrap_or_else(|_| f.clone()))
            .collect(),
        replace: plan_args.replace.clone(),
        target: plan_args.target.clone(),
        policy: plan_args.policies().dirs,
        override_policy: plan_args.policies.override_policy.clone(),
        plan: planned.plan.clone(),
    };
    let text = serde_json::to_string_pretty(&file).unwrap_or_default();
    imm_planner::state::write_atomic(&absolute(out), text.as_bytes()).map_err(|e| {
        Error::new(
            Code::PlanFileInvalid,
            format!("cannot write the plan to {}: {e:#}", out.display()),
            "choose a path in a writable directory",
        )
    })
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Reads a plan file, or says clearly why it cannot be used.
pub fn read_plan_file(path: &Path) -> Result<PlanFile, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::new(
            Code::PlanFileInvalid,
            format!("cannot read the plan file {}: {e}", path.display()),
            "pass the file written by `imm plan --out FILE`",
        )
    })?;
    let file: PlanFile = serde_json::from_str(&text).map_err(|e| {
        Error::new(
            Code::PlanFileInvalid,
            format!(
                "{} is not an imm plan file ({} at line {} column {})",
                path.display(),
                json_error_kind(&e),
                e.line(),
                e.column()
            ),
            "pass the file written by `imm plan --out FILE` with this version of imm",
        )
    })?;
    if file.imm_plan_file > PLAN_FILE_VERSION {
        return Err(Error::new(
            Code::PlanFileInvalid,
            format!(
                "{} was written by a newer imm (plan file version {})",
                path.display(),
                file.imm_plan_file
            ),
            "apply it with the imm that made it, or plan again with this one",
        ));
    }
    Ok(file)
}

fn json_error_kind(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "invalid JSON",
        serde_json::error::Category::Data => "unexpected content",
        serde_json::error::Category::Eof => "truncated",
    }
}

/// `imm show PLANFILE [--format …]`.
pub fn show(path: &Path, format: PlanFormat) -> CommandResult {
    let file = read_plan_file(path)?;
    print_plan(&file.plan, format);
    Ok(ExitCode::SUCCESS)
}
