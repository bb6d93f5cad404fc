//! `imm console [DIR] [--env E]`: evaluates expressions read from stdin,
//! one per line, in the scope of the project's root module (variables,
//! locals, module outputs and resources with the out attributes the state
//! records), as `terraform console` does. A prompt only on a terminal; the
//! exit status is 1 when any line failed.

use super::CommandResult;
use crate::{DiagnosticFormat, ProjectArgs};
use imm_workflow::{console, Session};
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

pub fn run(project_args: &ProjectArgs) -> CommandResult {
    let session = Session::new()?;
    let mut console = console::open(&project_args.request(), &session)?;
    crate::report::print_diagnostics(
        &console.warnings,
        console.sources(),
        DiagnosticFormat::Human,
    );
    for note in &console.notes {
        eprintln!("note: {note}");
    }
    let interactive = std::io::stdin().is_terminal();
    let mut failed = false;
    let mut lines = std::io::stdin().lock().lines();
    loop {
        if interactive {
            eprint!("> ");
            let _ = std::io::stderr().flush();
        }
        let Some(Ok(line)) = lines.next() else {
            break;
        };
        let line = line.trim();
        if line == "exit" {
            break;
        }
        if line.is_empty() {
            continue;
        }
        match console.evaluate(line) {
            Ok(value) => crate::report::out(&value.to_literal()),
            Err(e) => {
                failed = true;
                crate::report::print_diagnostics(
                    &e.diagnostics,
                    &e.sources,
                    DiagnosticFormat::Human,
                );
            }
        }
    }
    if crate::report::stdout_failed() {
        return Err(crate::report::stdout_error());
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
