//! `imm import compose FILE`: writes the `.imm` translation of a Compose
//! file beside it (`main.imm`, or `--out`), and lists on stderr, with
//! file:line:column, everything it did not carry over.

use super::CommandResult;
use crate::compose;
use imm_lang::diagnostics::Code;
use imm_workflow::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum ImportCommand {
    /// Translate a Compose file (docker-compose.yml, compose.yaml) into .imm.
    Compose {
        /// The Compose file.
        file: PathBuf,
        /// Where to write the .imm file (default: main.imm beside the Compose file).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Overwrite the output file if it exists.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(command: &ImportCommand) -> CommandResult {
    let ImportCommand::Compose { file, out, force } = command;
    let text = std::fs::read_to_string(file).map_err(|e| {
        Error::new(
            Code::ProjectUnreadable,
            format!("cannot read {}: {e}", file.display()),
            "give the path of a Compose file",
        )
    })?;
    let dir = file.parent().unwrap_or(Path::new("."));
    let translation = compose::translate(&text, dir).map_err(|e| {
        Error::new(
            Code::Syntax,
            format!(
                "{}:{}:{}: not valid YAML: {}",
                file.display(),
                e.line,
                e.column,
                e.message
            ),
            "fix the Compose file (docker-compose config checks it) and import again",
        )
    })?;
    let target = out.clone().unwrap_or_else(|| dir.join("main.imm"));
    if target.exists() && !force {
        return Err(Error::new(
            Code::OutputExists,
            format!("{} exists; nothing was written", target.display()),
            "pass --out FILE for another file, or --force to overwrite it",
        ));
    }
    std::fs::write(&target, &translation.imm).map_err(|e| {
        Error::new(
            Code::FileUnwritable,
            format!("cannot write {}: {e}", target.display()),
            "check the directory's permissions, or pass --out FILE",
        )
    })?;
    for note in &translation.notes {
        eprintln!(
            "{}:{}:{}: {}",
            file.display(),
            note.line,
            note.column,
            note.message
        );
    }
    crate::report::out(&format!(
        "Wrote {} ({} note{} above). Check it with `imm validate` and `imm plan`.",
        target.display(),
        translation.notes.len(),
        if translation.notes.len() == 1 {
            ""
        } else {
            "s"
        }
    ));
    Ok(ExitCode::SUCCESS)
}
