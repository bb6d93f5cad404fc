//! One module per command; each returns the process exit code.

pub mod apply;
pub mod fmt;
pub mod graph;
pub mod output;
pub mod validate;

use crate::report::print_diagnostics;
use crate::{DiagnosticFormat, ProjectArgs};
use imm_lang::diagnostics::Diagnostic;
use imm_lang::evaluate::{self, Evaluated, Mode};
use imm_lang::project::Project;
use std::process::ExitCode;

/// Loads a project and evaluates one environment with real inputs, as
/// plan, apply and graph need it. On any error the diagnostics are printed
/// and the exit code comes back instead.
pub fn evaluate_environment(
    args: &ProjectArgs,
    format: DiagnosticFormat,
) -> Result<(Project, String, Evaluated), ExitCode> {
    let mut project = imm_lang::project::load(&args.dir);
    let mut diags = std::mem::take(&mut project.diagnostics).0;
    let inputs = match apply::inputs_from(&args.vars) {
        Ok(i) => i,
        Err(d) => {
            diags.push(d);
            print_diagnostics(&diags, &project.sources, format);
            return Err(ExitCode::from(1));
        }
    };
    if diags.iter().any(Diagnostic::is_error) {
        print_diagnostics(
            &imm_lang::validate::sorted_unique(diags),
            &project.sources,
            format,
        );
        return Err(ExitCode::from(1));
    }
    let environment = match evaluate::select_environment(&project, args.env.as_deref()) {
        Ok(e) => e,
        Err(d) => {
            print_diagnostics(&[d], &project.sources, format);
            return Err(ExitCode::from(1));
        }
    };
    let (evaluated, eval_diags) =
        evaluate::evaluate(&mut project, &environment, &inputs, Mode::Plan);
    // An evaluation error inside a static one is the same problem.
    let static_spans: Vec<_> = diags.iter().filter_map(|d| d.span).collect();
    diags.extend(
        eval_diags
            .0
            .into_iter()
            .filter(|d| !imm_lang::validate::covered_by(d, &static_spans)),
    );
    if print_diagnostics(
        &imm_lang::validate::sorted_unique(diags),
        &project.sources,
        format,
    ) {
        return Err(ExitCode::from(1));
    }
    Ok((project, environment, evaluated))
}

/// Arguments of a command this version does not have yet.
#[derive(clap::Args)]
pub struct NotYet {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    _rest: Vec<String>,
}

/// A clear refusal for a command that is recognised but not built yet.
pub fn not_yet(command: &str, comes_with: &str) -> ExitCode {
    eprintln!("error[E0901]: `imm {command}` is not implemented in this version");
    eprintln!("  help: it comes with {comes_with}; see README.md for what this version supports");
    ExitCode::from(1)
}
