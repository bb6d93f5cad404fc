//! `imm config history PATH` and `imm config rollback PATH REVISION`: the
//! revisions of a set of run-time values in its store, and a rollback —
//! a new revision carrying an old one's values, planned with every
//! consumer that renders them and carried out like an apply (or, with
//! `--store-only`, the store alone).
//! Sensitive values (by the state's record of the `config` resource) are
//! never shown.

use super::apply::report;
use super::plan::{print_plan, PlanFormat, PolicyArgs};
use super::{
    carry_out, confirm_change, confirm_or_refuse, plan_was_shown, print_notes, print_warnings,
    CommandResult,
};
use crate::{DiagnosticFormat, ProjectArgs};
use imm_workflow::config::ConfigTarget;
use imm_workflow::{load, policy_check, Session};
use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum ConfigCommand {
    /// List the revisions of the values at PATH (below the environment).
    History {
        /// The values' path below the environment (a config's `path`, or its name).
        path: String,
        #[command(flatten)]
        project: ProjectArgs,
        /// The store (default: the project's default store).
        #[arg(long)]
        store: Option<String>,
    },
    /// Write the values of an earlier revision as a new revision, and
    /// reconfigure or replace what renders them, as one plan.
    Rollback {
        /// The values' path below the environment (a config's `path`, or its name).
        path: String,
        /// The revision whose values to write again (`imm config history PATH` lists them).
        revision: u64,
        #[command(flatten)]
        project: ProjectArgs,
        /// The store (default: the project's default store).
        #[arg(long)]
        store: Option<String>,
        /// Change the store only; apps that render the values keep theirs.
        #[arg(long)]
        store_only: bool,
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
        /// Confirm a change to a protected environment from a script.
        #[arg(long)]
        yes_really: bool,
        /// How many steps run at once.
        #[arg(long, default_value_t = 10)]
        parallelism: usize,
        // Judged as for `imm apply`; --store-only makes no plan to judge.
        #[command(flatten)]
        policies: PolicyArgs,
    },
}

pub fn run(command: &ConfigCommand) -> CommandResult {
    match command {
        ConfigCommand::History {
            path,
            project,
            store,
        } => history(project, path, store.as_deref()),
        ConfigCommand::Rollback {
            path,
            revision,
            project,
            store,
            store_only: true,
            auto_approve,
            ..
        } => rollback_store(project, path, *revision, store.as_deref(), *auto_approve),
        ConfigCommand::Rollback {
            path,
            revision,
            project,
            store,
            store_only: false,
            auto_approve,
            yes_really,
            parallelism,
            policies,
        } => rollback(
            project,
            path,
            *revision,
            store.as_deref(),
            Approval {
                auto: *auto_approve,
                yes_really: *yes_really,
            },
            *parallelism,
            policies,
        ),
    }
}

fn history(project: &ProjectArgs, path: &str, store: Option<&str>) -> CommandResult {
    let session = Session::new()?;
    let target = ConfigTarget::open(&session, &project.request(), path, store)?;
    let revisions = target.history(&session)?;
    if revisions.is_empty() {
        crate::report::out(&format!(
            "No revisions of {} in {}.",
            target.dir,
            target.describe()
        ));
        return Ok(ExitCode::SUCCESS);
    }
    crate::report::out(&format!(
        "Revisions of {} in {}:",
        target.dir,
        target.describe()
    ));
    let last = revisions.len() - 1;
    for (i, r) in revisions.iter().enumerate() {
        crate::report::out(&format!(
            "{:>8}  {}  {}{}{}",
            r.revision,
            utc(r.time),
            r.keys.join(", "),
            if r.why.is_empty() {
                String::new()
            } else {
                format!("  [{}]", r.why)
            },
            if i == last { "  (current)" } else { "" }
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// How a rollback is confirmed.
struct Approval {
    auto: bool,
    yes_really: bool,
}

/// A rollback that reaches the apps: the store and every consumer, as one
/// plan carried out like an apply.
fn rollback(
    project: &ProjectArgs,
    path: &str,
    revision: u64,
    store: Option<&str>,
    approval: Approval,
    parallelism: usize,
    policies: &PolicyArgs,
) -> CommandResult {
    let session = Session::new()?;
    let (loaded, site, lock) = load::load_locked(&project.request(), &session, "rollback")?;
    print_notes(&lock.notes());
    lock.hold(|| -> CommandResult {
        let state = site.peek().ok().flatten();
        let target = ConfigTarget::find(&loaded, state.as_ref(), path, store)?;
        let planned = target.plan_rollback_with_consumers(
            &session,
            &site,
            loaded,
            revision,
            true,
            policies.request(),
        )?;
        print_notes(&planned.notes);
        print_warnings(&planned.warnings, &planned.loaded, DiagnosticFormat::Human);
        crate::report::out(&format!(
            "Rollback of {} in {} to the values of revision {revision}, with what uses them:\n",
            target.dir,
            target.describe()
        ));
        print_plan(&planned.plan, PlanFormat::Human);
        if let Some(refused) = policy_check::refused(&planned.plan) {
            return Err(refused);
        }
        plan_was_shown()?;
        if !planned.plan.summary.has_changes() {
            return Ok(ExitCode::SUCCESS);
        }
        if !confirm_change(
            &planned.loaded,
            approval.yes_really,
            !approval.auto,
            "Rollback",
        )? {
            return Ok(ExitCode::from(1));
        }
        let applied = carry_out(&session, &site, planned, parallelism)?;
        let result = report("Rollback", &applied);
        if applied.outcome.succeeded() {
            crate::report::out(
                "The configuration still says the newer values: the next `imm plan` shows them as changes until the .imm files say the same.",
            );
        }
        result
    })
}

/// A rollback of the store alone (`--store-only`).
fn rollback_store(
    project: &ProjectArgs,
    path: &str,
    revision: u64,
    store: Option<&str>,
    auto_approve: bool,
) -> CommandResult {
    let session = Session::new()?;
    let target = ConfigTarget::open(&session, &project.request(), path, store)?;
    let rollback = target.plan_rollback(&session, revision)?;
    crate::report::out(&format!(
        "Rollback plan for {} in {}: a new revision with the values of revision {revision}",
        target.dir,
        target.describe()
    ));
    let lines = diff(&rollback.current, &rollback.target, &target.sensitive);
    if lines.is_empty() {
        crate::report::out("No changes: the current values are those of that revision.");
        return Ok(ExitCode::SUCCESS);
    }
    crate::report::out(&format!("  ~   config {}", target.dir));
    for line in &lines {
        crate::report::out(&format!("        {line}"));
    }
    if !auto_approve && !confirm_or_refuse("Apply")? {
        eprintln!("Rollback cancelled; nothing was changed.");
        return Ok(ExitCode::from(1));
    }
    let new = target.roll_back(&session, &rollback, revision)?;
    crate::report::out(&format!(
        "Rolled back: revision {new} carries the values of revision {revision}. The next `imm plan` shows the configuration's values as a reconfigure until the configuration says the same."
    ));
    Ok(ExitCode::SUCCESS)
}

fn diff(
    current: &BTreeMap<String, String>,
    target: &BTreeMap<String, String>,
    sensitive: &BTreeSet<String>,
) -> Vec<String> {
    let show = |k: &str, v: &str| {
        if sensitive.contains(k) {
            imm_stdlib::value::SENSITIVE_TEXT.to_string()
        } else {
            format!("{v:?}")
        }
    };
    let keys: BTreeSet<&String> = current.keys().chain(target.keys()).collect();
    keys.into_iter()
        .filter_map(|k| match (current.get(k), target.get(k)) {
            (Some(a), Some(b)) if a == b => None,
            (Some(a), Some(b)) => Some(format!("~ {k}: {} → {}", show(k, a), show(k, b))),
            (None, Some(b)) => Some(format!("+ {k} = {}", show(k, b))),
            (Some(a), None) => Some(format!("- {k} = {}", show(k, a))),
            (None, None) => None,
        })
        .collect()
}

/// `2026-11-22 07:20:12 UTC` from seconds since the epoch. A time past
/// the calendar's range (year 9999; a store's record is outside input) is
/// shown as the seconds it is.
fn utc(seconds: u64) -> String {
    let epoch = jiff::civil::date(1970, 1, 1).at(0, 0, 0, 0);
    i64::try_from(seconds)
        .ok()
        .and_then(|seconds| {
            epoch
                .checked_add(jiff::SignedDuration::from_secs(seconds))
                .ok()
        })
        .map(|instant| instant.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| format!("{seconds} seconds after 1970-01-01 UTC"))
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn revision_times_read_as_utc_calendar_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_825_600), "2000-02-29 12:00:00 UTC");
        assert_eq!(utc(1_795_332_012), "2026-11-22 07:20:12 UTC");
        assert_eq!(utc(253_402_300_799), "9999-12-31 23:59:59 UTC");
    }

    #[test]
    fn a_time_past_the_calendar_is_shown_as_seconds() {
        assert_eq!(
            utc(u64::MAX),
            "18446744073709551615 seconds after 1970-01-01 UTC"
        );
    }
}
