//! One module per command. Each parses nothing (clap did), calls the
//! workflow library, prints what it returns, and gives back the exit code
//! or the one error, which `main` prints.

pub mod apply;
pub mod config;
pub mod console;
pub mod destroy;
pub mod fmt;
pub mod graph;
pub mod import;
pub mod lock;
pub mod output;
pub mod plan;
pub mod state;
pub mod test;
pub mod validate;

use crate::{DiagnosticFormat, ProjectArgs};
use imm_lang::diagnostics::{Code, Diagnostic};
use imm_workflow::load::{Loaded, ProjectRequest, VarInputs};
use imm_workflow::Error;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

/// What a command ends with: its exit code, or the error `main` prints.
pub type CommandResult = Result<ExitCode, Error>;

impl ProjectArgs {
    pub fn request(&self) -> ProjectRequest {
        ProjectRequest {
            dir: self.dir.clone(),
            env: self.env.clone(),
            vars: VarInputs {
                vars: self.vars.vars.clone(),
                var_files: self.vars.var_files.clone(),
            },
        }
    }
}

/// Prints the configuration's warnings.
pub fn print_warnings(warnings: &[Diagnostic], loaded: &Loaded, format: DiagnosticFormat) {
    crate::report::print_diagnostics(warnings, &loaded.project.sources, format);
}

/// Prints what a run noticed on the way (a folded journal, swept orphans).
pub fn print_notes(notes: &[String]) {
    for note in notes {
        eprintln!("note: {note}");
    }
}

/// An apply changes nothing that it could not show: a plan written to a
/// closed or full stdout stops it here.
pub fn plan_was_shown() -> Result<(), Error> {
    if !crate::report::stdout_failed() {
        return Ok(());
    }
    let mut error = crate::report::stdout_error();
    for d in &mut error.diagnostics {
        d.message =
            "cannot write the plan to standard output (it is closed or full); nothing was changed"
                .into();
    }
    Err(error)
}

/// Asks at a terminal for `expected` to be typed; false when the user
/// typed something else. Refuses when stdin is not a terminal.
pub fn confirm(question: &str, expected: &str, refusal: Error) -> Result<bool, Error> {
    if !std::io::stdin().is_terminal() {
        return Err(refusal);
    }
    print!("{question}");
    // A prompt that cannot be shown is asked anyway: the answer decides.
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return Ok(false);
    }
    Ok(answer.trim() == expected)
}

/// `yes` at a terminal, or a refusal that says how to go on without one.
pub fn confirm_or_refuse(verb: &str) -> Result<bool, Error> {
    confirm(
        &format!("\n{verb} this plan? Only 'yes' is accepted: "),
        "yes",
        Error::new(
            Code::ConfirmationRequired,
            format!("imm {} asks for confirmation, and stdin is not a terminal; nothing was changed", verb.to_lowercase()),
            "pass --auto-approve (in CI), or apply a reviewed plan file: imm plan --out plan.json && imm apply plan.json",
        ),
    )
}

/// A protected environment is changed only with `--yes-really`, or when
/// its name is typed at a terminal.
pub fn confirm_protected(loaded: &Loaded, yes_really: bool) -> Result<bool, Error> {
    if yes_really || !imm_workflow::policy::is_protected(loaded) {
        return Ok(true);
    }
    let environment = &loaded.environment;
    confirm(
        &format!("Environment \"{environment}\" is protected. Type its name to go on: "),
        environment,
        Error::new(
            Code::ProtectedEnvironment,
            format!("environment \"{environment}\" is protected; nothing was changed"),
            "pass --yes-really to change it from a script, or run imm at a terminal and type its name",
        ),
    )
}

/// The confirmations every change to an environment goes through: a
/// protected environment's (`--yes-really` or its name typed), then, when
/// `asks`, `yes` at a terminal. False (with why on stderr) when refused.
pub fn confirm_change(
    loaded: &Loaded,
    yes_really: bool,
    asks: bool,
    verb: &str,
) -> Result<bool, Error> {
    if !confirm_protected(loaded, yes_really)? {
        eprintln!("Not confirmed; nothing was changed.");
        return Ok(false);
    }
    if asks && !confirm_or_refuse(verb)? {
        eprintln!("{verb} cancelled; nothing was changed.");
        return Ok(false);
    }
    Ok(true)
}

/// Carries a plan out with the live progress display.
pub fn carry_out(
    session: &imm_workflow::Session,
    site: &imm_workflow::state_site::StateSite,
    planned: imm_workflow::plan::Planned,
    parallelism: usize,
) -> Result<imm_workflow::apply::Applied, Error> {
    let mut progress = crate::progress::Progress::new();
    let applied = imm_workflow::apply::apply(session, site, planned, parallelism, &mut |e| {
        progress.event(e)
    });
    drop(progress);
    applied
}
