//! `imm destroy [DIR] [--env E] [--auto-approve]`: destroy everything the
//! environment's state records, users before what they use. An instance
//! with `prevent_destroy` stops the whole destroy before anything is done,
//! and so does a mandatory policy the destroy plan fails (unless
//! `--override-policy NAME` names it), as for `imm apply`.

use super::plan::{print_plan, PlanFormat, PolicyArgs};
use super::{confirm_change, plan_was_shown, print_notes, print_warnings, CommandResult};
use crate::{DiagnosticFormat, ProjectArgs};
use imm_workflow::{apply, load, policy_check, preflight, Session};
use std::process::ExitCode;

/// How `imm destroy` was asked to run.
pub struct DestroyArgs {
    pub project: ProjectArgs,
    pub policies: PolicyArgs,
    pub auto_approve: bool,
    pub yes_really: bool,
    pub parallelism: usize,
}

pub fn run(args: DestroyArgs) -> CommandResult {
    let DestroyArgs {
        project,
        policies,
        auto_approve,
        yes_really,
        parallelism,
    } = args;
    let session = Session::new()?;
    let (mut loaded, site, lock) = load::load_locked(&project.request(), &session, "destroy")?;
    print_notes(&lock.notes());
    lock.hold(|| -> CommandResult {
        let (state, notes) = site.read(&loaded.environment)?;
        print_notes(&notes);
        let key = site.key()?;
        let (mut plan, diags) = imm_planner::plan::destroy_plan(&state);
        let mut warnings = loaded.checked(diags)?;
        if plan.changes.is_empty() && state.outputs.is_empty() {
            print_warnings(&warnings, &loaded, DiagnosticFormat::Human);
            crate::report::out("Nothing to destroy: the state records no resources.");
            return Ok(ExitCode::SUCCESS);
        }
        warnings.extend(policy_check::judge(
            &mut loaded,
            &mut plan,
            &policies.request(),
        )?);
        print_warnings(&warnings, &loaded, DiagnosticFormat::Human);
        print_plan(&plan, PlanFormat::Human);
        if let Some(refused) = policy_check::refused(&plan) {
            return Err(refused);
        }
        preflight::check_executors(&session, &plan)?;
        plan_was_shown()?;
        if !confirm_change(&loaded, yes_really, !auto_approve, "Destroy")? {
            return Ok(ExitCode::from(1));
        }
        let mut progress = crate::progress::Progress::new();
        let applied = apply::destroy(
            &session,
            &site,
            &loaded,
            state,
            &key,
            &plan,
            parallelism,
            &mut |e| progress.event(e),
        )?;
        drop(progress);
        super::apply::report("Destroy", &applied)
    })
}
