//! `imm validate [DIR]`.

use crate::report::print_diagnostics;
use crate::DiagnosticFormat;
use std::path::Path;
use std::process::ExitCode;

pub fn run(dir: &Path, format: DiagnosticFormat) -> ExitCode {
    let (project, diags) = imm_lang::validate::validate(dir);
    let failed = print_diagnostics(&diags, &project.sources, format);
    let envs = imm_lang::evaluate::environment_names(&project);
    // The process ends next; freeing a large tree first only costs time.
    std::mem::forget(project);
    if failed {
        return ExitCode::from(1);
    }
    if format == DiagnosticFormat::Human {
        eprintln!(
            "The configuration is valid (environments checked: {}).",
            envs.join(", ")
        );
    }
    ExitCode::SUCCESS
}
