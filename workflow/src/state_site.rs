//! Where an environment's state lives, as the `state` block chooses it
//! (`imm_executors::state::BACKENDS`: local files by default), behind
//! the synchronous operations the commands use: lock, read (folding in a
//! journal an interrupted apply left), save, the journal the apply engine
//! writes, force-unlock. No backend is named here: each is reached
//! through `imm_executors::state::StateBackend`.

use crate::error::{Error, Result};
use imm_executors::journal::JournalSink;
use imm_executors::state::{self as backends, LockGuard, StateBackend, Version};
use imm_executors::ActionError;
use imm_lang::diagnostics::Code;
use imm_planner::journal;
use imm_planner::state::State;
use imm_planner::stored::FingerprintKey;
use imm_stdlib::Value;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use tokio::runtime::Handle;

pub struct StateSite {
    backend: Box<dyn StateBackend>,
    /// The version the document was read at, for compare-and-swap.
    read_at: Cell<Version>,
    pub key_path: PathBuf,
    pub project_dir: PathBuf,
    settings: Option<BTreeMap<String, Value>>,
    handle: Handle,
}

/// A held lock. Release it with [`StateLock::release`] when the command
/// is done; one that is only dropped is freed by its backend on its own
/// (a dead holder's lock file taken over, a lease expiring, a connection
/// closing), later.
pub struct StateLock {
    guard: Box<dyn LockGuard>,
    handle: Handle,
}

impl StateLock {
    /// A note when this lock was taken over from a run that died on this
    /// host.
    pub fn notes(&self) -> Notes {
        self.guard
            .taken_over()
            .iter()
            .map(|holder| {
                format!("the state lock of {holder} was left by a run that no longer exists; it was taken over")
            })
            .collect()
    }

    /// Frees the lock now.
    pub fn release(self) {
        self.handle.block_on(self.guard.release());
    }

    /// Runs `work` with the lock held, then releases it, whatever `work`
    /// returned.
    pub fn hold<T>(self, work: impl FnOnce() -> T) -> T {
        let outcome = work();
        self.release();
        outcome
    }
}

/// Something a run noticed and the user should hear of (not an error).
pub type Notes = Vec<String>;

/// A backend's failure as the workflow's error, with its code and help.
fn backend_error(e: ActionError) -> Error {
    let help = e.help_text().to_string();
    Error::new(e.code, e.message, help)
}

impl StateSite {
    /// The backend the `state` block asks for (local files without one).
    pub fn configured(
        project_dir: &Path,
        environment: &str,
        settings: Option<&BTreeMap<String, Value>>,
        handle: Handle,
    ) -> Result<StateSite> {
        let none = BTreeMap::new();
        let backend = backends::open(&backends::Settings {
            attributes: settings.unwrap_or(&none),
            project_dir,
            environment,
        })
        .map_err(backend_error)?;
        Ok(StateSite {
            backend,
            read_at: Cell::new(0),
            key_path: project_dir.join(".imm").join("fingerprint.key"),
            project_dir: project_dir.to_path_buf(),
            settings: settings.cloned(),
            handle,
        })
    }

    /// The one bridge from the commands' synchronous code to the async
    /// backends.
    fn wait<T>(
        &self,
        work: impl Future<Output = std::result::Result<T, ActionError>>,
    ) -> Result<T> {
        self.handle.block_on(work).map_err(backend_error)
    }

    /// The backend of the project in `dir`, for commands that do not
    /// evaluate it (state inspection, outputs): its `state` block is read,
    /// and a project that does not load falls back to local state.
    /// Where the state of the environment `--env` asks for lives, chosen
    /// as `plan` and `apply` choose it (`default` when the project
    /// declares no environments). A project that does not parse is still
    /// reachable, with `--env` or as `default`: state must stay repairable.
    pub fn discover_env(
        project_dir: &Path,
        requested: Option<&str>,
        handle: Handle,
    ) -> Result<(StateSite, String)> {
        let project = imm_lang::project::load(project_dir);
        let environment = if project.diagnostics.0.iter().any(|d| d.is_error()) {
            requested.unwrap_or("default").to_string()
        } else {
            imm_lang::evaluate::select_environment(&project, requested)
                .map_err(|d| Error::in_files(vec![d], &project.sources))?
        };
        let site = StateSite::discover(project_dir, &environment, handle)?;
        Ok((site, environment))
    }

    pub fn discover(project_dir: &Path, environment: &str, handle: Handle) -> Result<StateSite> {
        let mut project = imm_lang::project::load(project_dir);
        if project.diagnostics.0.iter().any(|d| d.is_error()) {
            return StateSite::configured(project_dir, environment, None, handle);
        }
        let (settings, _) = imm_lang::evaluate::settings(
            &mut project,
            environment,
            imm_lang::evaluate::NamedFiles::MustExist,
        );
        StateSite::configured(project_dir, environment, settings.state.as_ref(), handle)
    }

    /// The same backend for another environment (promotion reads its ledger).
    pub fn for_environment(&self, environment: &str) -> Result<StateSite> {
        StateSite::configured(
            &self.project_dir,
            environment,
            self.settings.as_ref(),
            self.handle.clone(),
        )
    }

    /// Takes the lock.
    pub fn lock(&self, operation: &str) -> Result<StateLock> {
        let guard = self.wait(self.backend.lock(operation))?;
        Ok(StateLock {
            guard,
            handle: self.handle.clone(),
        })
    }

    /// Reads the state, folding in a journal left by an interrupted apply
    /// (the lock must be held); what the fold found comes back as notes.
    pub fn read(&self, environment: &str) -> Result<(State, Notes)> {
        let backend = &self.backend;
        let (current, version, folded) = self.wait(async {
            let (found, version) = backend.read().await?;
            let mut current = found.unwrap_or_else(|| State::new(environment));
            let text = backend.read_journal().await?;
            if text.trim().is_empty() {
                return Ok((current, version, None));
            }
            let folded = journal::fold_into(&mut current, &text).map_err(|bad| {
                ActionError::new(
                    Code::StateUnreadable,
                    format!(
                        "line {} is not a journal entry ({}): the journal of the state in {} was damaged after it was written",
                        bad.line,
                        bad.detail,
                        backend.describe()
                    ),
                )
                .with_help("move the journal away (or delete its entries) to plan from the state document alone; what the damaged run did is then found as drift or orphans")
            })?;
            current.serial += 1;
            let version = backend.write(&current, version).await?;
            backend.clear_journal().await?;
            Ok((current, version, Some(folded)))
        })?;
        self.read_at.set(version);
        let notes = folded.map(|f| folded_notes(&f)).unwrap_or_default();
        Ok((current, notes))
    }

    /// Reads without lock or recovery (inspection commands).
    pub fn peek(&self) -> Result<Option<State>> {
        self.wait(self.backend.read()).map(|(found, _)| found)
    }

    /// Writes the state (the lock must be held), refused if another
    /// writer wrote since it was read.
    pub fn save(&self, current: &State) -> Result<()> {
        let version = self.wait(self.backend.write(current, self.read_at.get()))?;
        self.read_at.set(version);
        Ok(())
    }

    /// Where the apply engine journals its steps.
    pub fn journal(&self) -> Result<Box<dyn JournalSink>> {
        self.wait(self.backend.journal_sink())
    }

    /// Drops the journal once the state document holds it.
    pub fn clear_journal(&self) -> Result<()> {
        self.wait(self.backend.clear_journal())
    }

    /// `imm force-unlock ID`: removes the lock of a run that died.
    pub fn force_unlock(&self, id: &str) -> Result<()> {
        self.wait(self.backend.force_unlock(id))
    }

    /// Where the state is, for messages.
    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    pub fn key(&self) -> Result<FingerprintKey> {
        FingerprintKey::load_or_create(&self.key_path).map_err(|e| {
            Error::new(
                Code::StateUnreadable,
                format!("{e:#}"),
                "the key lives in .imm/fingerprint.key beside the state",
            )
        })
    }
}

fn folded_notes(folded: &journal::Folded) -> Notes {
    let mut notes = vec![format!(
        "an earlier apply was interrupted; its {} journal entries are now in the state",
        folded.entries
    )];
    for (address, action) in &folded.interrupted {
        notes.push(format!(
            "{address}: `{action}` was started and not finished; what it left is planned again"
        ));
    }
    notes
}
