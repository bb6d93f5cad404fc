//! `imm apply [DIR | PLANFILE]`: make the plan (or check that a saved one
//! still holds), ask for confirmation, carry it out, and report. State is
//! journalled step by step, so however the run ends, it is true to what
//! exists.

use super::plan::{print_plan, read_plan_file, PlanArgs, PlanFormat, PolicyArgs};
use super::{
    carry_out, confirm_change, plan_was_shown, print_notes, print_warnings, CommandResult,
};
use crate::{DiagnosticFormat, ProjectArgs, VarArgs};
use imm_planner::plan::Plan;
use imm_planner::state::StoredOutput;
use imm_workflow::apply::{self, Applied};
use imm_workflow::plan::{check_not_stale, make_plan, PlanRequest};
use imm_workflow::policy_check;
use imm_workflow::{load, preflight, Error, Session};
use indexmap::IndexMap;
use std::process::ExitCode;

/// How `imm apply` was asked to run.
pub struct ApplyArgs {
    pub project: ProjectArgs,
    pub plan: PlanArgs,
    pub auto_approve: bool,
    pub yes_really: bool,
    pub parallelism: usize,
    pub format: DiagnosticFormat,
}

pub fn run(args: ApplyArgs) -> CommandResult {
    let session = Session::new()?;
    let (project_args, plan_args, saved) = from_plan_file(&args)?;
    let (loaded, site, lock) = load::load_locked(&project_args.request(), &session, "apply")?;
    print_notes(&lock.notes());
    lock.hold(|| -> CommandResult {
        let request = PlanRequest {
            options: plan_args.options(),
            refresh: plan_args.refresh,
            hash_inputs: saved.is_some(),
            policies: plan_args.policies(),
        };
        let planned = make_plan(&session, &site, loaded, request)?;
        print_notes(&planned.notes);
        print_warnings(&planned.warnings, &planned.loaded, args.format);
        match &saved {
            Some(saved) => {
                check_not_stale(saved, &planned.plan)?;
                policy_check::check_same(saved, &planned.plan)?;
            }
            None => print_plan(&planned.plan, PlanFormat::Human),
        }
        if let Some(refused) = policy_check::refused(&planned.plan) {
            return Err(refused);
        }
        preflight::check_executors(&session, &planned.plan)?;
        plan_was_shown()?;
        if !apply::has_work(&planned) {
            crate::report::out("\nApply complete! Nothing to do.");
            return Ok(ExitCode::SUCCESS);
        }
        let asks = saved.is_none() && !args.auto_approve && planned.plan.summary.has_changes();
        if !confirm_change(&planned.loaded, args.yes_really, asks, "Apply")? {
            return Ok(ExitCode::from(1));
        }
        let applied = carry_out(&session, &site, planned, args.parallelism)?;
        report("Apply", &applied)
    })
}

/// The project, arguments and saved plan when the target is a plan file.
fn from_plan_file(args: &ApplyArgs) -> Result<(ProjectArgs, PlanArgs, Option<Plan>), Error> {
    if !args.project.dir.is_file() {
        return Ok((args.project.clone(), args.plan.clone(), None));
    }
    let file = read_plan_file(&args.project.dir)?;
    let mut vars = file.vars.clone();
    vars.extend(args.project.vars.vars.iter().cloned());
    let project = ProjectArgs {
        dir: file.project_dir.clone(),
        env: Some(file.plan.environment.clone()),
        vars: VarArgs {
            vars,
            var_files: file.var_files.clone(),
        },
    };
    let plan_args = PlanArgs {
        replace: file.replace.clone(),
        target: file.target.clone(),
        refresh: args.plan.refresh,
        policies: PolicyArgs {
            policy: file.policy.clone(),
            override_policy: file.override_policy.clone(),
        },
    };
    Ok((project, plan_args, Some(file.plan)))
}

/// Reports how an apply or destroy went: the counts and outputs, or one
/// diagnostic per failure (the state is already written either way).
pub fn report(verb: &str, applied: &Applied) -> CommandResult {
    print_notes(&applied.notes);
    let outcome = &applied.outcome;
    let counts = format!(
        "{} created, {} replaced, {} reconfigured, {} destroyed",
        outcome.created, outcome.replaced, outcome.reconfigured, outcome.destroyed
    );
    if outcome.succeeded() {
        crate::report::out(&format!("\n{verb} complete! Resources: {counts}."));
        if let Some(outputs) = &applied.outputs {
            print_outputs(outputs);
        }
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("{verb} failed after: {counts}. State records exactly what exists.");
    Err(Error {
        diagnostics: applied.failures.clone(),
        sources: Default::default(),
    })
}

fn print_outputs(outputs: &IndexMap<String, StoredOutput>) {
    super::output::print_outputs_human(outputs);
}
