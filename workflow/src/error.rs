//! The one error of the workflow: the diagnostics that say what went
//! wrong (with the sources their spans point into), returned to the
//! command line, which prints them once.

use imm_lang::diagnostics::{Code, Diagnostic};
use imm_lang::source::SourceMap;
use imm_planner::state::StateError;

#[derive(Debug)]
pub struct Error {
    pub diagnostics: Vec<Diagnostic>,
    /// The files the diagnostics' spans point into (empty for problems
    /// that come from no file).
    pub sources: SourceMap,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// One problem that comes from no file, with its code and help.
    pub fn new(code: Code, message: impl Into<String>, help: impl Into<String>) -> Error {
        Error {
            diagnostics: vec![Diagnostic::new(code, message).with_help(help)],
            sources: SourceMap::default(),
        }
    }

    /// Problems found in the project's files.
    pub fn in_files(diagnostics: Vec<Diagnostic>, sources: &SourceMap) -> Error {
        Error {
            diagnostics,
            sources: sources.clone(),
        }
    }

    /// An executor's failure as it is: its code and help, its message
    /// told by `message` (what was being done around it).
    pub fn from_action(
        e: &imm_executors::ActionError,
        message: impl FnOnce(&str) -> String,
    ) -> Error {
        Error::new(e.code, message(&e.message), e.help_text())
    }

    pub fn from_state(e: &StateError) -> Error {
        let code = match e {
            StateError::Locked { .. } => Code::StateLocked,
            _ => Code::StateUnreadable,
        };
        Error::new(code, e.to_string(), code.help())
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let messages: Vec<&str> = self
            .diagnostics
            .iter()
            .map(|d| d.message.as_str())
            .collect();
        f.write_str(&messages.join("; "))
    }
}

impl std::error::Error for Error {}
