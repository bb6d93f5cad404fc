//! `imm destroy [DIR] [--env E] [--auto-approve]`: destroy everything the
//! environment's state records, users before what they use. An instance
//! with `prevent_destroy` stops the whole destroy before anything is done.

use super::apply::{confirm_or_refuse, record_and_report};
use super::plan::{print_plan, PlanFormat};
use super::session::{self, StateSite};
use crate::{DiagnosticFormat, ProjectArgs};
use std::process::ExitCode;

pub fn run(
    args: &ProjectArgs,
    auto_approve: bool,
    yes_really: bool,
    parallelism: usize,
) -> ExitCode {
    let mut loaded = match session::load(args, DiagnosticFormat::Human) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let site = match StateSite::configured(
        &args.dir,
        &loaded.environment,
        loaded.settings.state.as_ref(),
    ) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let _lock = match site.lock("destroy") {
        Ok(l) => l,
        Err(code) => return code,
    };
    let state = match site.read(&loaded.environment) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let key = match site.key() {
        Ok(k) => k,
        Err(code) => return code,
    };
    let (plan, diags) = imm_planner::plan::destroy_plan(&state);
    if loaded.report(diags, DiagnosticFormat::Human) {
        return ExitCode::from(1);
    }
    if plan.changes.is_empty() && state.outputs.is_empty() {
        crate::report::out("Nothing to destroy: the state records no resources.");
        return ExitCode::SUCCESS;
    }
    print_plan(&plan, PlanFormat::Human);
    if let Err(code) = super::apply::check_executors(&plan) {
        return code;
    }
    if let Err(code) =
        super::environments::confirm_protected(&loaded.project, &loaded.environment, yes_really)
    {
        return code;
    }
    if !auto_approve {
        if let Err(code) = confirm_or_refuse() {
            return code;
        }
    }
    let (mut state, outcome) = match session::run_engine(
        &site,
        &mut loaded,
        (&plan, state, &key),
        None,
        parallelism,
        None,
    ) {
        Ok(done) => done,
        Err(code) => return code,
    };
    if outcome.succeeded() {
        state.outputs.clear();
    }
    record_and_report("Destroy", state, &site, &outcome, None)
}
