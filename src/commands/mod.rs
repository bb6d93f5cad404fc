//! One module per command; each returns the process exit code.

pub mod apply;
pub mod config;
pub mod destroy;
pub mod environments;
pub mod fmt;
pub mod graph;
pub mod output;
pub mod plan;
pub mod session;
pub mod site;
pub mod state;
pub mod validate;

use crate::{DiagnosticFormat, ProjectArgs};
use imm_lang::evaluate::{self, Evaluated, Mode};
use imm_lang::project::Project;
use std::process::ExitCode;

/// Loads a project and evaluates one environment with real inputs, as
/// `imm graph` needs it. On any error the diagnostics are printed and the
/// exit code comes back instead.
pub fn evaluate_environment(
    args: &ProjectArgs,
    format: DiagnosticFormat,
) -> Result<(Project, String, Evaluated), ExitCode> {
    let mut loaded = session::load(args, format)?;
    let (evaluated, eval_diags) = evaluate::evaluate(
        &mut loaded.project,
        &loaded.environment,
        &loaded.inputs,
        Mode::Plan,
    );
    if loaded.report(eval_diags.0, format) {
        return Err(ExitCode::from(1));
    }
    Ok((loaded.project, loaded.environment, evaluated))
}
