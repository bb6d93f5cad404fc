//! `imm state list|show ADDR|rm ADDR` and `imm force-unlock ID`: look into
//! an environment's state and repair it. `rm` forgets an instance without
//! touching the object; the next plan then creates it anew.

use super::{print_notes, CommandResult};
use imm_lang::diagnostics::Code;
use imm_planner::state;
use imm_workflow::state_site::StateSite;
use imm_workflow::{Error, Session};
use std::path::PathBuf;
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
        /// Forget only the copies an interrupted replacement left (deposed),
        /// keeping the current object recorded.
        #[arg(long)]
        deposed: bool,
        #[command(flatten)]
        at: Where,
    },
    /// Record an instance (or every instance of a resource, or a module's
    /// contents) at a new address; the object itself is left as it is.
    Mv {
        /// The address recorded now.
        from: String,
        /// The new address.
        to: String,
        #[command(flatten)]
        at: Where,
    },
}

/// Which state: the project directory and environment, taken as every
/// command takes them (`[DIR]`, `--env`).
#[derive(clap::Args, Clone)]
pub struct Where {
    /// Project directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Environment (chosen as `imm plan` chooses it).
    #[arg(long)]
    pub env: Option<String>,
}

impl Where {
    /// The state site and the environment it is for.
    fn site(&self, session: &Session) -> Result<(StateSite, String), Error> {
        StateSite::discover_env(&self.dir, self.env.as_deref(), session.handle())
    }
}

pub fn run(command: &StateCommand) -> CommandResult {
    match command {
        StateCommand::List(at) => list(at),
        StateCommand::Show { address, at } => show(at, address),
        StateCommand::Rm {
            address,
            deposed,
            at,
        } => remove(at, address, *deposed),
        StateCommand::Mv { from, to, at } => move_records(at, from, to),
    }
}

fn read(at: &Where) -> Result<state::State, Error> {
    let session = Session::new()?;
    let (site, environment) = at.site(&session)?;
    match site.peek()? {
        Some(s) => Ok(s),
        None => Err(Error::new(
            Code::StateUnreadable,
            format!(
                "there is no state for environment \"{environment}\" in {}",
                at.dir.display()
            ),
            "run `imm apply` first, or give the DIR and --env of an applied project",
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

fn remove(at: &Where, address: &str, only_deposed: bool) -> CommandResult {
    let session = Session::new()?;
    let (site, environment) = at.site(&session)?;
    let lock = site.lock("state rm")?;
    print_notes(&lock.notes());
    lock.hold(|| -> CommandResult {
        let (mut s, notes) = site.read(&environment)?;
        print_notes(&notes);
        if s.resource(address).is_none() {
            return Err(unknown_address(address, &s));
        }
        // What is forgotten stays; a later apply must not take it for an orphan.
        let forgotten: Vec<serde_json::Value> = if only_deposed {
            let Some(mut record) = s.resource(address).cloned() else {
                return Err(unknown_address(address, &s));
            };
            let copies = std::mem::take(&mut record.deposed);
            if copies.is_empty() {
                return Err(Error::new(
                    Code::UnknownAddress,
                    format!("{address} has no copy left by an interrupted replacement"),
                    "`imm state show ADDR` shows its record; without --deposed, state rm forgets the instance itself",
                ));
            }
            s.put_resource(record);
            copies.into_iter().map(|d| d.private).collect()
        } else {
            s.remove_resource(address)
                .map(|r| vec![r.private])
                .unwrap_or_default()
        };
        for private in &forgotten {
            for key in ["id", "name"] {
                if let Some(v) = private.get(key).and_then(|v| v.as_str()) {
                    s.released.push(v.to_string());
                }
            }
        }
        s.serial += 1;
        site.save(&s)?;
        let what = if only_deposed {
            format!(
                "the {} deposed cop{} of {address}",
                forgotten.len(),
                if forgotten.len() == 1 { "y" } else { "ies" }
            )
        } else {
            address.to_string()
        };
        crate::report::out(&format!(
            "Removed {what} from the state of \"{environment}\" (serial {}). The objects themselves were not touched.",
            s.serial
        ));
        Ok(ExitCode::SUCCESS)
    })
}

fn move_records(at: &Where, from: &str, to: &str) -> CommandResult {
    let session = Session::new()?;
    let (site, environment) = at.site(&session)?;
    let lock = site.lock("state mv")?;
    print_notes(&lock.notes());
    lock.hold(|| -> CommandResult {
        let (mut s, notes) = site.read(&environment)?;
        print_notes(&notes);
        let moved = imm_planner::moves::move_by_hand(&mut s, from, to).map_err(|message| {
            Error::new(
                Code::UnknownAddress,
                message,
                "`imm state list` shows the recorded addresses",
            )
        })?;
        s.serial += 1;
        site.save(&s)?;
        for m in &moved {
            crate::report::out(&format!("Moved {} to {}", m.from, m.to));
        }
        crate::report::out(&format!(
            "Saved the state of \"{environment}\" (serial {}). The objects themselves were not touched.",
            s.serial
        ));
        Ok(ExitCode::SUCCESS)
    })
}

pub fn force_unlock(at: &Where, id: &str) -> CommandResult {
    let session = Session::new()?;
    let (site, env) = at.site(&session)?;
    site.force_unlock(id)?;
    crate::report::out(&format!("Released the state lock {id} of \"{env}\"."));
    Ok(ExitCode::SUCCESS)
}
