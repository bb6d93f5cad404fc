//! `imm destroy [DIR] [--env E] [--auto-approve]`: destroy everything the
//! environment's state records, users before what they use. An instance
//! with `prevent_destroy` stops the whole destroy before anything is done.

use super::plan::{print_plan, PlanFormat};
use super::{confirm_change, plan_was_shown, print_notes, print_warnings, CommandResult};
use crate::{DiagnosticFormat, ProjectArgs};
use imm_workflow::{apply, load, preflight, Session};
use std::process::ExitCode;

pub fn run(
    args: &ProjectArgs,
    auto_approve: bool,
    yes_really: bool,
    parallelism: usize,
) -> CommandResult {
    let session = Session::new()?;
    let (loaded, site, lock) = load::load_locked(&args.request(), &session, "destroy")?;
    print_notes(&lock.notes());
    lock.hold(|| -> CommandResult {
        let (state, notes) = site.read(&loaded.environment)?;
        print_notes(&notes);
        let key = site.key()?;
        let (plan, diags) = imm_planner::plan::destroy_plan(&state);
        let warnings = loaded.checked(diags)?;
        print_warnings(&warnings, &loaded, DiagnosticFormat::Human);
        if plan.changes.is_empty() && state.outputs.is_empty() {
            crate::report::out("Nothing to destroy: the state records no resources.");
            return Ok(ExitCode::SUCCESS);
        }
        print_plan(&plan, PlanFormat::Human);
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
