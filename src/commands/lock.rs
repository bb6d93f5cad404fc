//! `imm lock [DIR] [--env E] [--upgrade [ADDR...]]`: the digest of every
//! off-the-shelf image written to `imm.lock.hcl`; with `--upgrade`, tags
//! (all, or those the given addresses use) moved to what they name now.

use super::CommandResult;
use crate::ProjectArgs;
use imm_workflow::{lock, Session};
use std::process::ExitCode;

pub fn run(project_args: &ProjectArgs, upgrade: bool, addresses: &[String]) -> CommandResult {
    let session = Session::new()?;
    let locked = lock::lock(&project_args.request(), &session, upgrade, addresses)?;
    for (image, digest) in &locked.lock.images {
        crate::report::out(&format!("{image} = {digest}"));
    }
    let file = imm_lang::lockfile::FILE_NAME;
    if locked.written {
        crate::report::out(&format!("{file} written"));
    } else {
        crate::report::out(&format!("{file} is up to date"));
    }
    Ok(ExitCode::SUCCESS)
}
