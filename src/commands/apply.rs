//! `imm apply [DIR | PLANFILE]`: make the plan (or check that a saved one
//! still holds), ask for confirmation, carry it out with the apply engine,
//! and record the outputs. State is journalled step by step, so however
//! the run ends, it is true to what exists.

use super::plan::{print_plan, read_plan_file, PlanArgs, PlanFormat};
use super::session::{self, fail, Planned, StateSite};
use crate::{DiagnosticFormat, ProjectArgs, VarArgs};
use imm_executors::engine::Outcome;
use imm_executors::Registry;
use imm_lang::diagnostics::{Code, Diagnostic};
use imm_lang::evaluate::{self, Inputs};
use imm_planner::plan::{Action, Plan};
use imm_planner::state::{State, StoredOutput};
use indexmap::IndexMap;
use std::io::{BufRead, IsTerminal, Write};
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

pub fn run(args: ApplyArgs) -> ExitCode {
    let (project_args, plan_args, saved) = match from_plan_file(&args) {
        Ok(found) => found,
        Err(code) => return code,
    };
    let loaded = match session::load(&project_args, args.format) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let site = match StateSite::configured(
        &project_args.dir,
        &loaded.environment,
        loaded.settings.state.as_ref(),
    ) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let _lock = match site.lock("apply") {
        Ok(l) => l,
        Err(code) => return code,
    };
    let mut options = plan_args.options();
    let planned = match session::make_plan(
        &project_args,
        &mut options,
        plan_args.refresh,
        saved.is_some(),
        &site,
        loaded,
        args.format,
    ) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Some(saved) = &saved {
        if let Err(code) = check_not_stale(saved, &planned.plan) {
            return code;
        }
    } else {
        print_plan(&planned.plan, PlanFormat::Human);
    }
    if let Err(code) = check_executors(&planned.plan) {
        return code;
    }
    let outputs_change = planned
        .plan
        .outputs
        .iter()
        .any(|o| o.action != Action::Noop);
    let lifecycle_change = planned.evaluated.instances.iter().any(|i| {
        planned
            .state
            .resource(&i.address)
            .is_some_and(|r| r.prevent_destroy != i.prevent_destroy)
    });
    if planned.plan.summary.has_changes()
        || outputs_change
        || lifecycle_change
        || planned.state.serial == 0
    {
        if let Err(code) = super::environments::confirm_protected(
            &planned.loaded.project,
            &planned.loaded.environment,
            args.yes_really,
        ) {
            return code;
        }
        if saved.is_none() && !args.auto_approve && planned.plan.summary.has_changes() {
            if let Err(code) = confirm_or_refuse() {
                return code;
            }
        }
        carry_out(planned, &site, args.parallelism)
    } else {
        crate::report::out("\nApply complete! Nothing to do.");
        ExitCode::SUCCESS
    }
}

/// The project, arguments and saved plan when the target is a plan file.
fn from_plan_file(args: &ApplyArgs) -> Result<(ProjectArgs, PlanArgs, Option<Plan>), ExitCode> {
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
        refresh: args.plan.refresh,
    };
    Ok((project, plan_args, Some(file.plan)))
}

/// A saved plan is applied only if making it again now gives the same.
fn check_not_stale(saved: &Plan, now: &Plan) -> Result<(), ExitCode> {
    if saved.state != now.state {
        return Err(fail(
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
        return Err(fail(
            Code::StalePlan,
            "the saved plan is stale: the configuration or its inputs (files, variables, secrets, build contexts) changed since it was made",
            "run `imm plan --out FILE` again, review it, and apply the new plan",
        ));
    }
    Ok(())
}

pub fn check_executors(plan: &Plan) -> Result<(), ExitCode> {
    let registry = Registry::all();
    let mut missing: Vec<&str> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::Noop && registry.get(&c.type_name).is_none())
        .map(|c| c.type_name.as_str())
        .collect();
    missing.sort_unstable();
    missing.dedup();
    if missing.is_empty() {
        return Ok(());
    }
    Err(fail(
        Code::UnsupportedYet,
        format!(
            "this version cannot apply {} resources yet; nothing was changed",
            missing.join(", ")
        ),
        "`imm plan` shows what would change; config resources apply once stores land",
    ))
}

pub fn confirm_or_refuse() -> Result<(), ExitCode> {
    if !std::io::stdin().is_terminal() {
        return Err(fail(
            Code::ActionFailed,
            "imm apply asks for confirmation, and stdin is not a terminal; nothing was changed",
            "pass --auto-approve (in CI), or apply a reviewed plan file: imm plan --out plan.json && imm apply plan.json",
        ));
    }
    print!("\nApply this plan? Only 'yes' is accepted: ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if answer.trim() == "yes" {
        return Ok(());
    }
    eprintln!("Apply cancelled; nothing was changed.");
    Err(ExitCode::from(1))
}

fn carry_out(planned: Planned, site: &StateSite, parallelism: usize) -> ExitCode {
    let Planned {
        mut loaded,
        state,
        key,
        evaluated,
        plan,
    } = planned;
    let promotion = super::environments::promotion(
        &loaded.project,
        site,
        (loaded.environment.as_str(), &state),
    );
    let (state, outcome) = match session::run_engine(
        site,
        &mut loaded,
        (&plan, state, &key),
        Some(evaluated),
        parallelism,
        promotion,
    ) {
        Ok(done) => done,
        Err(code) => return code,
    };
    let outputs = if outcome.succeeded() {
        final_outputs(&mut loaded, &state)
    } else {
        None
    };
    let mut state = state;
    if let Some(outputs) = &outputs {
        state.outputs = outputs.clone();
    }
    record_and_report("Apply", state, site, &outcome, outputs.as_ref())
}

/// Writes the state document (a new serial), drops the journal it now
/// holds, and reports the outcome.
pub fn record_and_report(
    verb: &str,
    mut state: State,
    site: &StateSite,
    outcome: &Outcome,
    outputs: Option<&IndexMap<String, StoredOutput>>,
) -> ExitCode {
    state.serial += 1;
    if let Err(code) = site.save(&state) {
        return code;
    }
    site.clear_journal();
    report(verb, outcome, outputs)
}

/// The outputs with every value now known.
fn final_outputs(
    loaded: &mut session::Loaded,
    state: &State,
) -> Option<IndexMap<String, StoredOutput>> {
    let known = state
        .resources
        .iter()
        .map(|r| {
            (
                r.address.clone(),
                r.outs
                    .iter()
                    .map(|(k, v)| (k.clone(), imm_stdlib::Value::from_json(v)))
                    .collect(),
            )
        })
        .collect();
    let evaluated = loaded.reevaluate(&known).ok()?;
    Some(
        evaluated
            .outputs
            .iter()
            .map(|(k, o)| (k.clone(), stored(o)))
            .collect(),
    )
}

fn report(
    verb: &str,
    outcome: &Outcome,
    outputs: Option<&IndexMap<String, StoredOutput>>,
) -> ExitCode {
    let counts = format!(
        "{} created, {} replaced, {} reconfigured, {} destroyed",
        outcome.created, outcome.replaced, outcome.reconfigured, outcome.destroyed
    );
    if outcome.succeeded() {
        crate::report::out(&format!("\n{verb} complete! Resources: {counts}."));
        if let Some(outputs) = outputs {
            super::output::print_outputs_human(outputs);
        }
        return ExitCode::SUCCESS;
    }
    let mut diags: Vec<Diagnostic> = outcome
        .failed
        .iter()
        .map(|(address, message)| {
            Diagnostic::new(Code::ActionFailed, format!("{address}: {message}")).with_help(
                "the old object, if there was one, is untouched; fix the cause and apply again",
            )
        })
        .collect();
    if !outcome.skipped.is_empty() {
        diags.push(
            Diagnostic::new(
                Code::ActionFailed,
                format!(
                    "not attempted because something they wait for failed: {}",
                    outcome.skipped.join(", ")
                ),
            )
            .with_help("they are planned again on the next apply"),
        );
    }
    if !outcome.not_started.is_empty() {
        diags.push(
            Diagnostic::new(
                Code::ActionFailed,
                format!(
                    "interrupted before starting: {}",
                    outcome.not_started.join(", ")
                ),
            )
            .with_help("apply again to finish"),
        );
    }
    crate::report::print_diagnostics(
        &diags,
        &imm_lang::source::SourceMap::default(),
        DiagnosticFormat::Human,
    );
    eprintln!("{verb} failed after: {counts}. State records exactly what exists.");
    ExitCode::from(1)
}

pub fn inputs_from(vars: &VarArgs) -> Result<Inputs, Diagnostic> {
    let mut inputs = Inputs::from_process();
    for raw in &vars.vars {
        let Some((name, value)) = raw.split_once('=') else {
            return Err(Diagnostic::new(
                Code::InvalidVariableValue,
                format!("--var {raw}: expected NAME=VALUE"),
            )
            .with_help(format!("write --var {raw}=VALUE")));
        };
        inputs
            .cli_vars
            .push((name.trim().to_string(), value.to_string()));
    }
    inputs.var_files = vars.var_files.clone();
    Ok(inputs)
}

pub fn stored(output: &evaluate::OutputValue) -> StoredOutput {
    if output.sensitive {
        return StoredOutput {
            value: None,
            sensitive: true,
        };
    }
    StoredOutput {
        value: Some(output.value.to_redacted_json()),
        sensitive: false,
    }
}
