//! `imm apply [DIR]`. This version applies what needs no executor:
//! variables, locals and outputs, recorded in state. Projects with
//! resources are refused before anything is written.

use crate::report::print_diagnostics;
use crate::{DiagnosticFormat, ProjectArgs, VarArgs};
use imm_lang::diagnostics::{Code, Diagnostic};
use imm_lang::evaluate::{self, Inputs};
use imm_planner::state::{self, Lock, State, StatePaths, StoredOutput};
use std::path::Path;
use std::process::ExitCode;

pub fn run(project_args: &ProjectArgs, _auto_approve: bool, format: DiagnosticFormat) -> ExitCode {
    let dir = project_args.dir.as_path();
    let (project, environment, evaluated) = match super::evaluate_environment(project_args, format)
    {
        Ok(done) => done,
        Err(code) => return code,
    };
    if let Some(first) = evaluated.instances.first() {
        let d = Diagnostic::at(Code::UnsupportedYet, first.span, format!("this version cannot apply resources yet ({} declared)", evaluated.instances.len()))
            .with_help("plan and apply of resources come with the planner and the executors; `imm validate` checks this project now");
        print_diagnostics(&[d], &project.sources, format);
        return ExitCode::from(1);
    }
    if let Some((name, _)) = evaluated
        .outputs
        .iter()
        .find(|(_, o)| o.value.contains_unknown())
    {
        eprintln!(
            "error[{}]: output \"{name}\" has no known value; nothing was recorded",
            Code::MissingVariable
        );
        eprintln!("  help: give every variable it depends on a value");
        return ExitCode::from(1);
    }
    match record_outputs(dir, &environment, &evaluated) {
        Ok(()) => {}
        Err(message) => {
            eprintln!("error[{}]: {message}", Code::StateUnreadable);
            return ExitCode::from(1);
        }
    }
    crate::report::out(&format!(
        "Apply complete! Resources: 0 added, 0 replaced, 0 destroyed. (environment {environment})"
    ));
    super::output::print_outputs_human(
        &evaluated
            .outputs
            .iter()
            .map(|(k, o)| (k.clone(), stored(o)))
            .collect(),
    );
    ExitCode::SUCCESS
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

fn stored(output: &evaluate::OutputValue) -> StoredOutput {
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

fn record_outputs(
    dir: &Path,
    environment: &str,
    evaluated: &evaluate::Evaluated,
) -> Result<(), String> {
    let paths = StatePaths::local(dir, environment);
    let _lock = Lock::acquire(&paths.lock, "apply").map_err(|e| e.to_string())?;
    let mut current = state::load(&paths.state)
        .map_err(|e| e.to_string())?
        .unwrap_or_else(|| State::new(environment));
    current.outputs = evaluated
        .outputs
        .iter()
        .map(|(k, o)| (k.clone(), stored(o)))
        .collect();
    current.serial += 1;
    state::save(&paths, &current).map_err(|e| e.to_string())
}
