//! `imm destroy [DIR] [--env E] [--auto-approve]`: destroy everything the
//! environment's state records, users before what they use. An instance
//! with `prevent_destroy` stops the whole destroy before anything is done.

use super::apply::{confirm_or_refuse, record_and_report};
use super::plan::{print_plan, PlanFormat};
use super::session::{self, StateSite};
use crate::{DiagnosticFormat, ProjectArgs};
use imm_executors::engine::Engine;
use imm_executors::Registry;
use imm_lang::evaluate::Evaluated;
use std::process::ExitCode;

pub fn run(
    args: &ProjectArgs,
    auto_approve: bool,
    yes_really: bool,
    parallelism: usize,
) -> ExitCode {
    let loaded = match session::load(args, DiagnosticFormat::Human) {
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
    let runtime = match session::runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let journal = match site.journal(runtime.handle().clone()) {
        Ok(j) => j,
        Err(code) => return code,
    };
    let registry = Registry::all();
    let run = session::run_context(&args.dir, &loaded, &state);
    if let Err(code) = session::sweep_orphans(&runtime, &registry, &plan, &state, &run) {
        return code;
    }
    if let Err(code) = session::check_stores(&runtime, &plan, &loaded.stores) {
        return code;
    }
    let engine = Engine {
        plan: &plan,
        run,
        state,
        journal,
        key: &key,
        registry: &registry,
        parallelism,
        promotion: None,
    };
    let (mut state, outcome) = {
        let mut reevaluate = |_: &_| Ok(Evaluated::default());
        let mut progress = crate::progress::Progress::new();
        let mut events = |e| progress.event(e);
        runtime.block_on(engine.apply(Evaluated::default(), &mut reevaluate, &mut events))
    };
    if outcome.succeeded() {
        state.outputs.clear();
    }
    record_and_report("Destroy", state, &site, &outcome, None)
}
