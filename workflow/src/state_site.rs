//! Where an environment's state lives — local files (`.imm/state`, or the
//! `state` block's `path`) or etcd (`state { backend = "etcd" }`) — behind
//! one set of operations: lock, read (folding in a journal an interrupted
//! apply left), save, and the journal the apply engine writes.

use crate::error::{Error, Result};
use imm_executors::journal::{JournalSink, LocalJournal};
use imm_executors::state_etcd::{EtcdLock, EtcdState};
use imm_lang::diagnostics::Code;
use imm_planner::journal;
use imm_planner::state::{self, Lock, State, StatePaths};
use imm_planner::stored::FingerprintKey;
use imm_stdlib::Value;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tokio::runtime::Handle;

enum Backend {
    Local(StatePaths),
    Etcd {
        state: EtcdState,
        handle: Handle,
        /// The revision the document was read at, for compare-and-swap.
        read_at: Cell<u64>,
    },
}

pub struct StateSite {
    backend: Backend,
    pub key_path: PathBuf,
    pub project_dir: PathBuf,
    settings: Option<BTreeMap<String, Value>>,
    handle: Handle,
}

/// A held lock, released when dropped.
pub enum StateLock {
    /// Its `Drop` removes the lock file.
    Local(Lock),
    Etcd(Option<EtcdLock>, Handle),
}

impl StateLock {
    /// A note when this lock was taken over from a run that died on this
    /// host.
    pub fn notes(&self) -> Notes {
        match self {
            StateLock::Local(lock) => lock
                .taken_over
                .iter()
                .map(|holder| {
                    format!("the state lock of {holder} was left by a run that no longer exists; it was taken over")
                })
                .collect(),
            StateLock::Etcd(..) => Vec::new(),
        }
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        if let StateLock::Etcd(lock, handle) = self {
            if let Some(lock) = lock.take() {
                handle.block_on(lock.release());
            }
        }
    }
}

/// Something a run noticed and the user should hear of (not an error).
pub type Notes = Vec<String>;

fn text(settings: &BTreeMap<String, Value>, key: &str) -> Option<String> {
    match settings.get(key).map(Value::unmarked) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

impl StateSite {
    /// The backend the `state` block asks for (local files without one).
    pub fn configured(
        project_dir: &Path,
        environment: &str,
        settings: Option<&BTreeMap<String, Value>>,
        handle: Handle,
    ) -> Result<StateSite> {
        let key_path = project_dir.join(".imm").join("fingerprint.key");
        let backend = match settings.and_then(|s| text(s, "backend")).as_deref() {
            None | Some("local") => {
                let mut paths = StatePaths::local(project_dir, environment);
                if let Some(dir) = settings.and_then(|s| text(s, "path")) {
                    let dir = project_dir.join(dir);
                    paths = StatePaths {
                        state: dir.join(format!("{environment}.json")),
                        backup: dir.join(format!("{environment}.json.backup")),
                        lock: dir.join(format!("{environment}.lock")),
                        journal: dir.join(format!("{environment}.journal")),
                    };
                }
                Backend::Local(paths)
            }
            Some("etcd") => {
                let settings = settings.cloned().unwrap_or_default();
                let endpoints: Vec<String> = match settings.get("endpoints").map(Value::unmarked) {
                    Some(Value::List(items)) => {
                        items.iter().map(|i| i.unmarked().display()).collect()
                    }
                    _ => Vec::new(),
                };
                if endpoints.is_empty() {
                    return Err(Error::new(
                        Code::StateUnreadable,
                        "the state block asks for etcd but gives no endpoints",
                        "write endpoints = [\"http://127.0.0.1:2379\"] in the state block",
                    ));
                }
                let prefix = text(&settings, "prefix").unwrap_or_else(|| "imm".into());
                Backend::Etcd {
                    state: EtcdState::new(endpoints, &prefix, environment),
                    handle: handle.clone(),
                    read_at: Cell::new(0),
                }
            }
            Some(other) => {
                return Err(Error::new(
                    Code::StateUnreadable,
                    format!("the state block's backend \"{other}\" is not local or etcd"),
                    "write backend = \"local\" or backend = \"etcd\"",
                ))
            }
        };
        Ok(StateSite {
            backend,
            key_path,
            project_dir: project_dir.to_path_buf(),
            settings: settings.cloned(),
            handle,
        })
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
        match &self.backend {
            Backend::Local(paths) => Lock::acquire(&paths.lock, operation)
                .map(StateLock::Local)
                .map_err(|e| Error::from_state(&e)),
            Backend::Etcd { state, handle, .. } => {
                let holder = format!(
                    "{} (pid {}, {operation})",
                    state::lock_holder(),
                    std::process::id()
                );
                handle
                    .block_on(state.lock(&holder))
                    .map(|l| StateLock::Etcd(Some(l), handle.clone()))
                    .map_err(|e| {
                        Error::new(
                            Code::StateLocked,
                            e.message,
                            "wait for the other run to finish; a dead holder's lock expires on its own",
                        )
                    })
            }
        }
    }

    /// Reads the state, folding in a journal left by an interrupted apply
    /// (the lock must be held); what the fold found comes back as notes.
    pub fn read(&self, environment: &str) -> Result<(State, Notes)> {
        match &self.backend {
            Backend::Local(paths) => {
                let notes = match journal::recover(paths, environment) {
                    Ok(Some(folded)) => folded_notes(&folded),
                    Ok(None) => Vec::new(),
                    Err(e) => return Err(Error::from_state(&e)),
                };
                match state::load(&paths.state) {
                    Ok(s) => Ok((s.unwrap_or_else(|| State::new(environment)), notes)),
                    Err(e) => Err(Error::from_state(&e)),
                }
            }
            Backend::Etcd {
                state: remote,
                handle,
                read_at,
            } => {
                let result = handle.block_on(async {
                    let (found, revision) = remote.read().await?;
                    let mut current = found.unwrap_or_else(|| State::new(environment));
                    let entries = remote.journal().await?;
                    if entries.is_empty() {
                        return Ok((current, revision, None));
                    }
                    let text: String = entries
                        .iter()
                        .filter_map(|e| serde_json::to_string(e).ok())
                        .map(|l| l + "\n")
                        .collect();
                    let folded = journal::fold_into(&mut current, &text).map_err(|bad| {
                        imm_executors::ActionError::uncoded(format!(
                            "the journal in etcd has a damaged entry ({}); delete the journal keys to plan from the state document alone",
                            bad.detail
                        ))
                    })?;
                    current.serial += 1;
                    let revision = remote.write(&current, revision).await?;
                    remote.clear_journal().await?;
                    Ok((current, revision, Some(folded)))
                });
                match result {
                    Ok((current, revision, folded)) => {
                        read_at.set(revision);
                        let notes = folded.map(|f| folded_notes(&f)).unwrap_or_default();
                        Ok((current, notes))
                    }
                    Err(e) => Err(remote_error(e)),
                }
            }
        }
    }

    /// Reads without lock or recovery (inspection commands).
    pub fn peek(&self) -> Result<Option<State>> {
        match &self.backend {
            Backend::Local(paths) => state::load(&paths.state).map_err(|e| Error::from_state(&e)),
            Backend::Etcd { state, handle, .. } => handle
                .block_on(state.read())
                .map(|(s, _)| s)
                .map_err(remote_error),
        }
    }

    /// Writes the state (the lock must be held).
    pub fn save(&self, current: &State) -> Result<()> {
        match &self.backend {
            Backend::Local(paths) => state::save(paths, current).map_err(|e| {
                Error::new(
                    Code::StateUnreadable,
                    e.to_string(),
                    "the state could not be written: free disk space or fix the state directory's permissions; the journal beside it keeps what this run did, and the next run folds it in",
                )
            }),
            Backend::Etcd {
                state,
                handle,
                read_at,
            } => {
                let revision = handle
                    .block_on(state.write(current, read_at.get()))
                    .map_err(remote_error)?;
                read_at.set(revision);
                Ok(())
            }
        }
    }

    /// Where the apply engine journals its steps.
    pub fn journal(&self) -> Result<Box<dyn JournalSink>> {
        match &self.backend {
            Backend::Local(paths) => journal::Journal::open(&paths.journal)
                .map(|journal| {
                    Box::new(LocalJournal {
                        journal,
                        location: paths.journal.display().to_string(),
                    }) as Box<dyn JournalSink>
                })
                .map_err(|e| {
                    Error::new(
                        Code::JournalUnwritable,
                        format!("{e:#}; nothing was changed"),
                        "check that the state directory is writable and its disk not full",
                    )
                }),
            Backend::Etcd { state, .. } => Ok(state.journal_sink()),
        }
    }

    /// Drops the journal once the state document holds it.
    pub fn clear_journal(&self) -> Result<()> {
        match &self.backend {
            Backend::Local(paths) => match std::fs::remove_file(&paths.journal) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                // The state already holds every entry: folding it again
                // on the next run changes nothing.
                Err(_) => Ok(()),
            },
            Backend::Etcd { state, handle, .. } => {
                handle.block_on(state.clear_journal()).map_err(remote_error)
            }
        }
    }

    /// The local lock file, for `imm force-unlock`.
    pub fn local_lock(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Local(paths) => Some(&paths.lock),
            Backend::Etcd { .. } => None,
        }
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

fn remote_error(e: imm_executors::ActionError) -> Error {
    Error::new(
        Code::StateUnreadable,
        e.message,
        "check that etcd is running at the state block's endpoints; nothing was changed",
    )
}
