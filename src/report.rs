//! Printing diagnostics: miette's graphical form on stderr for people
//! (colour only on a terminal, `NO_COLOR` honoured), or one JSON object per
//! line on stdout for machines.

use crate::DiagnosticFormat;
use imm_lang::diagnostics::Code;
use imm_lang::diagnostics::{render_human, render_json, Diagnostic, Severity};
use imm_lang::source::SourceMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

/// Prints the diagnostics; returns true when one of them is an error.
pub fn print_diagnostics(
    diags: &[Diagnostic],
    sources: &SourceMap,
    format: DiagnosticFormat,
) -> bool {
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diags.len() - errors;
    match format {
        DiagnosticFormat::Json => {
            for d in diags {
                out(&render_json(d, sources));
            }
        }
        DiagnosticFormat::Human => {
            let color = use_color();
            for d in diags {
                eprint!("{}", render_human(d, sources, color, terminal_width()));
            }
            if !diags.is_empty() {
                eprintln!("{errors} error(s), {warnings} warning(s)");
            }
        }
    }
    errors > 0
}

/// Set by `--no-color`: no colour anywhere, whatever the terminal.
static NO_COLOR_FLAG: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn disable_color() {
    NO_COLOR_FLAG.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Whether colour is wanted at all: no `--no-color`, no non-empty
/// `NO_COLOR` (no-color.org).
pub fn color_wanted() -> bool {
    !NO_COLOR_FLAG.load(std::sync::atomic::Ordering::Relaxed)
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

pub fn use_color() -> bool {
    color_wanted() && std::io::stderr().is_terminal()
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100)
}

/// Whether a write to stdout failed (a closed pipe, a full disk).
static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);

/// Prints a line to stdout. A failed write is remembered, not fatal here:
/// the command stops before it changes anything it could not show
/// ([`stdout_failed`]), and the run ends non-zero with its work recorded.
pub fn out(line: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        STDOUT_FAILED.store(true, Ordering::SeqCst);
    }
}

pub fn stdout_failed() -> bool {
    STDOUT_FAILED.load(Ordering::SeqCst)
}

/// The error of a run whose output could not be written.
pub fn stdout_error() -> imm_workflow::Error {
    imm_workflow::Error::new(
        Code::OutputUnwritable,
        "cannot write to standard output (it is closed or full)",
        Code::OutputUnwritable.help(),
    )
}
