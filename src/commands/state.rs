//! `imm state list|show ADDR|rm ADDR` and `imm force-unlock ID`: look into
//! an environment's state and repair it. `rm` forgets an instance without
//! touching the object; the next plan then creates it anew.

use super::session::{fail, StateSite};
use imm_lang::diagnostics::Code;
use imm_planner::state;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum StateCommand {
    /// List the instance addresses the state records.
    List(Where),
    /// Show one recorded instance (sensitive values are never recorded).
    Show {
        address: String,
        #[command(flatten)]
        at: Where,
    },
    /// Forget an instance; the object itself is left as it is.
    Rm {
        address: String,
        #[command(flatten)]
        at: Where,
    },
}

/// Which state: the project directory and environment.
#[derive(clap::Args, Clone)]
pub struct Where {
    /// Project directory.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Environment.
    #[arg(long, default_value = "default")]
    pub env: String,
}

pub fn run(command: &StateCommand) -> ExitCode {
    match command {
        StateCommand::List(at) => list(at),
        StateCommand::Show { address, at } => show(at, address),
        StateCommand::Rm { address, at } => remove(at, address),
    }
}

fn read(at: &Where) -> Result<state::State, ExitCode> {
    let site = StateSite::discover(&at.dir, &at.env)?;
    match site.peek() {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(fail(
            Code::StateUnreadable,
            format!(
                "there is no state for environment \"{}\" in {}",
                at.env,
                at.dir.display()
            ),
            "run `imm apply` first, or pass --dir and --env of an applied project",
        )),
        Err(code) => Err(code),
    }
}

fn list(at: &Where) -> ExitCode {
    match read(at) {
        Ok(s) => {
            for record in &s.resources {
                crate::report::out(&record.address);
            }
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

fn unknown_address(address: &str, s: &state::State) -> ExitCode {
    let names = s.resources.iter().map(|r| r.address.as_str());
    let help = match imm_lang::diagnostics::did_you_mean(address, names) {
        Some(near) => format!("did you mean {near}? `imm state list` shows every address"),
        None => "`imm state list` shows every address".to_string(),
    };
    fail(
        Code::UnknownAddress,
        format!("the state records no instance {address}"),
        help,
    )
}

fn show(at: &Where, address: &str) -> ExitCode {
    let s = match read(at) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let Some(record) = s.resource(address) else {
        return unknown_address(address, &s);
    };
    let text = serde_json::to_string_pretty(record).unwrap_or_default();
    crate::report::out(&text);
    ExitCode::SUCCESS
}

fn remove(at: &Where, address: &str) -> ExitCode {
    let site = match StateSite::discover(&at.dir, &at.env) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let _lock = match site.lock("state rm") {
        Ok(l) => l,
        Err(code) => return code,
    };
    let mut s = match site.read(&at.env) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let Some(record) = s.remove_resource(address) else {
        return unknown_address(address, &s);
    };
    // The object stays; a later apply must not take it for an orphan.
    for key in ["id", "name"] {
        if let Some(v) = record.private.get(key).and_then(|v| v.as_str()) {
            s.released.push(v.to_string());
        }
    }
    s.serial += 1;
    if let Err(code) = site.save(&s) {
        return code;
    }
    crate::report::out(&format!(
        "Removed {address} from the state of \"{}\" (serial {}). The object itself was not touched.",
        at.env, s.serial
    ));
    ExitCode::SUCCESS
}

pub fn force_unlock(dir: &Path, env: &str, id: &str) -> ExitCode {
    let site = match StateSite::discover(dir, env) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let Some(lock) = site.local_lock() else {
        return fail(
            Code::StateLocked,
            "state in etcd is locked with a lease: the lock of a run that died expires on its own within 10 s",
            "wait a few seconds and retry; nothing to force",
        );
    };
    match state::force_unlock(lock, id) {
        Ok(()) => {
            crate::report::out(&format!("Released the state lock {id} of \"{env}\"."));
            ExitCode::SUCCESS
        }
        Err(state::UnlockError::NotLocked) => fail(
            Code::StateLocked,
            format!("the state of \"{env}\" is not locked"),
            "nothing to do",
        ),
        Err(state::UnlockError::OtherId(held)) => fail(
            Code::StateLocked,
            format!("the lock of \"{env}\" has id {held}, not {id}; it was not released"),
            "pass the id the lock error printed; make sure the holder is really gone",
        ),
        Err(state::UnlockError::Io(e)) => fail(
            Code::StateLocked,
            format!("cannot remove the lock: {e}"),
            "check the permissions of .imm/state",
        ),
    }
}
