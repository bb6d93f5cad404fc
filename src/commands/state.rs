//! `imm state list|show ADDR|rm ADDR` and `imm force-unlock ID`: look into
//! an environment's state and repair it. `rm` forgets an instance without
//! touching the object; the next plan then creates it anew.

use super::{print_notes, CommandResult};
use imm_lang::diagnostics::Code;
use imm_planner::state;
use imm_workflow::state_site::StateSite;
use imm_workflow::{Error, Session};
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

pub fn run(command: &StateCommand) -> CommandResult {
    match command {
        StateCommand::List(at) => list(at),
        StateCommand::Show { address, at } => show(at, address),
        StateCommand::Rm { address, at } => remove(at, address),
    }
}

fn read(at: &Where) -> Result<state::State, Error> {
    let session = Session::new()?;
    let site = StateSite::discover(&at.dir, &at.env, session.handle())?;
    match site.peek()? {
        Some(s) => Ok(s),
        None => Err(Error::new(
            Code::StateUnreadable,
            format!(
                "there is no state for environment \"{}\" in {}",
                at.env,
                at.dir.display()
            ),
            "run `imm apply` first, or pass --dir and --env of an applied project",
        )),
    }
}

fn list(at: &Where) -> CommandResult {
    for record in &read(at)?.resources {
        crate::report::out(&record.address);
    }
    Ok(ExitCode::SUCCESS)
}

fn unknown_address(address: &str, s: &state::State) -> Error {
    let names = s.resources.iter().map(|r| r.address.as_str());
    let help = match imm_lang::diagnostics::did_you_mean(address, names) {
        Some(near) => format!("did you mean {near}? `imm state list` shows every address"),
        None => "`imm state list` shows every address".to_string(),
    };
    Error::new(
        Code::UnknownAddress,
        format!("the state records no instance {address}"),
        help,
    )
}

fn show(at: &Where, address: &str) -> CommandResult {
    let s = read(at)?;
    let Some(record) = s.resource(address) else {
        return Err(unknown_address(address, &s));
    };
    let text = serde_json::to_string_pretty(record).unwrap_or_default();
    crate::report::out(&text);
    Ok(ExitCode::SUCCESS)
}

fn remove(at: &Where, address: &str) -> CommandResult {
    let session = Session::new()?;
    let site = StateSite::discover(&at.dir, &at.env, session.handle())?;
    let lock = site.lock("state rm")?;
    print_notes(&lock.notes());
    let (mut s, notes) = site.read(&at.env)?;
    print_notes(&notes);
    let Some(record) = s.remove_resource(address) else {
        return Err(unknown_address(address, &s));
    };
    // The object stays; a later apply must not take it for an orphan.
    for key in ["id", "name"] {
        if let Some(v) = record.private.get(key).and_then(|v| v.as_str()) {
            s.released.push(v.to_string());
        }
    }
    s.serial += 1;
    site.save(&s)?;
    crate::report::out(&format!(
        "Removed {address} from the state of \"{}\" (serial {}). The object itself was not touched.",
        at.env, s.serial
    ));
    Ok(ExitCode::SUCCESS)
}

pub fn force_unlock(dir: &Path, env: &str, id: &str) -> CommandResult {
    let session = Session::new()?;
    let site = StateSite::discover(dir, env, session.handle())?;
    let Some(lock) = site.local_lock() else {
        return Err(Error::new(
            Code::StateLocked,
            "state in etcd is locked with a lease: the lock of a run that died expires on its own within 10 s",
            "wait a few seconds and retry; nothing to force",
        ));
    };
    let refused = |message: String, help: &str| Err(Error::new(Code::StateLocked, message, help));
    match state::force_unlock(lock, id) {
        Ok(()) => {
            crate::report::out(&format!("Released the state lock {id} of \"{env}\"."));
            Ok(ExitCode::SUCCESS)
        }
        Err(state::UnlockError::NotLocked) => refused(
            format!("the state of \"{env}\" is not locked"),
            "nothing to do",
        ),
        Err(state::UnlockError::OtherId(held)) => refused(
            format!("the lock of \"{env}\" has id {held}, not {id}; it was not released"),
            "pass the id the lock error printed; make sure the holder is really gone",
        ),
        Err(state::UnlockError::Io(e)) => refused(
            format!("cannot remove the lock: {e}"),
            "check the permissions of .imm/state",
        ),
    }
}
