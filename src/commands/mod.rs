//! One module per command; each returns the process exit code.

pub mod apply;
pub mod fmt;
pub mod graph;
pub mod output;
pub mod validate;

use std::process::ExitCode;

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
