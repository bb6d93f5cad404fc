//! Where an environment's state lives — local files (`.imm/state`, or the
//! `state` block's `path`) or etcd (`state { backend = "etcd" }`) — behind
//! one set of operations: lock, read (folding in a journal an interrupted
//! apply left), save, and the journal the apply engine writes.

use super::session::{fail, state_error};
use imm_executors::state_etcd::{EtcdLock, EtcdState};
use imm_lang::diagnostics::Code;
use imm_planner::journal::{self, JournalWriter};
use imm_planner::state::{self, Lock, State, StatePaths};
use imm_planner::stored::FingerprintKey;
use imm_stdlib::Value;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

enum Backend {
    Local(StatePaths),
    Etcd {
        state: EtcdState,
        runtime: Arc<tokio::runtime::Runtime>,
        /// The revision the document was read at, for compare-and-swap.
        read_at: Cell<u64>,
    },
}

pub struct StateSite {
    backend: Backend,
    pub key_path: PathBuf,
    pub project_dir: PathBuf,
    settings: Option<BTreeMap<String, Value>>,
}

/// A held lock, released when dropped.
pub enum StateLock {
    /// Held for its `Drop`, which removes the lock file.
    Local(#[allow(dead_code)] Lock),
    Etcd(Option<EtcdLock>, Arc<tokio::runtime::Runtime>),
}

impl Drop for StateLock {
    fn drop(&mut self) {
        if let StateLock::Etcd(lock, runtime) = self {
            if let Some(lock) = lock.take() {
                runtime.block_on(lock.release());
            }
        }
    }
}

fn text(settings: &BTreeMap<String, Value>, key: &str) -> Option<String> {
    match settings.get(key).map(Value::unmarked) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

impl StateSite {
    /// Local state in `.imm/state` (projects without a `state` block).
    pub fn new(project_dir: &Path, environment: &str) -> StateSite {
        StateSite::configured(project_dir, environment, None).unwrap_or_else(|_| StateSite {
            backend: Backend::Local(StatePaths::local(project_dir, environment)),
            key_path: project_dir.join(".imm").join("fingerprint.key"),
            project_dir: project_dir.to_path_buf(),
            settings: None,
        })
    }

    /// The backend the `state` block asks for.
    pub fn configured(
        project_dir: &Path,
        environment: &str,
        settings: Option<&BTreeMap<String, Value>>,
    ) -> Result<StateSite, ExitCode> {
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
                    return Err(fail(
                        Code::StateUnreadable,
                        "the state block asks for etcd but gives no endpoints",
                        "write endpoints = [\"http://127.0.0.1:2379\"] in the state block",
                    ));
                }
                let prefix = text(&settings, "prefix").unwrap_or_else(|| "imm".into());
                Backend::Etcd {
                    state: EtcdState::new(endpoints, &prefix, environment),
                    runtime: Arc::new(super::session::runtime()?),
                    read_at: Cell::new(0),
                }
            }
            Some(other) => {
                return Err(fail(
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
        })
    }

    /// The backend of the project in `dir`, for commands that do not
    /// evaluate it (state inspection, outputs): its `state` block is read,
    /// and a project that does not load falls back to local state.
    pub fn discover(project_dir: &Path, environment: &str) -> Result<StateSite, ExitCode> {
        let mut project = imm_lang::project::load(project_dir);
        if project.diagnostics.0.iter().any(|d| d.is_error()) {
            return Ok(StateSite::new(project_dir, environment));
        }
        let (settings, _) = imm_lang::evaluate::settings(&mut project, environment);
        StateSite::configured(project_dir, environment, settings.state.as_ref())
    }

    /// The same backend for another environment (promotion reads its ledger).
    pub fn for_environment(&self, environment: &str) -> Result<StateSite, ExitCode> {
        StateSite::configured(&self.project_dir, environment, self.settings.as_ref())
    }

    /// Takes the lock; a refusal is printed.
    pub fn lock(&self, operation: &str) -> Result<StateLock, ExitCode> {
        match &self.backend {
            Backend::Local(paths) => Lock::acquire(&paths.lock, operation)
                .map(StateLock::Local)
                .map_err(|e| state_error(&e)),
            Backend::Etcd { state, runtime, .. } => {
                let holder = format!(
                    "{}@{} (pid {}, {operation})",
                    std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
                    std::fs::read_to_string("/etc/hostname")
                        .map(|h| h.trim().to_string())
                        .unwrap_or_else(|_| "localhost".into()),
                    std::process::id()
                );
                runtime
                    .block_on(state.lock(&holder))
                    .map(|l| StateLock::Etcd(Some(l), runtime.clone()))
                    .map_err(|e| {
                        fail(
                            Code::StateLocked,
                            e.message,
                            "wait for the other run to finish; a dead holder's lock expires on its own",
                        )
                    })
            }
        }
    }

    /// Reads the state, folding in a journal left by an interrupted apply
    /// (the lock must be held).
    pub fn read(&self, environment: &str) -> Result<State, ExitCode> {
        match &self.backend {
            Backend::Local(paths) => {
                match journal::recover(paths, environment) {
                    Ok(Some(folded)) => report_folded(&folded),
                    Ok(None) => {}
                    Err(e) => return Err(state_error(&e)),
                }
                match state::load(&paths.state) {
                    Ok(s) => Ok(s.unwrap_or_else(|| State::new(environment))),
                    Err(e) => Err(state_error(&e)),
                }
            }
            Backend::Etcd {
                state: remote,
                runtime,
                read_at,
            } => {
                let result = runtime.block_on(async {
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
                    let folded = journal::fold_into(&mut current, &text);
                    current.serial += 1;
                    let revision = remote.write(&current, revision).await?;
                    remote.clear_journal().await?;
                    Ok((current, revision, Some(folded)))
                });
                match result {
                    Ok((current, revision, folded)) => {
                        if let Some(folded) = folded {
                            report_folded(&folded);
                        }
                        read_at.set(revision);
                        Ok(current)
                    }
                    Err(e) => Err(remote_error(e)),
                }
            }
        }
    }

    /// Reads without lock or recovery (inspection commands).
    pub fn peek(&self) -> Result<Option<State>, ExitCode> {
        match &self.backend {
            Backend::Local(paths) => state::load(&paths.state).map_err(|e| state_error(&e)),
            Backend::Etcd { state, runtime, .. } => runtime
                .block_on(state.read())
                .map(|(s, _)| s)
                .map_err(remote_error),
        }
    }

    /// Writes the state (the lock must be held).
    pub fn save(&self, current: &State) -> Result<(), ExitCode> {
        match &self.backend {
            Backend::Local(paths) => state::save(paths, current).map_err(|e| state_error(&e)),
            Backend::Etcd {
                state,
                runtime,
                read_at,
            } => {
                let revision = runtime
                    .block_on(state.write(current, read_at.get()))
                    .map_err(remote_error)?;
                read_at.set(revision);
                Ok(())
            }
        }
    }

    /// Where the apply engine journals its steps.
    pub fn journal(
        &self,
        handle: tokio::runtime::Handle,
    ) -> Result<Box<dyn JournalWriter>, ExitCode> {
        match &self.backend {
            Backend::Local(paths) => journal::Journal::open(&paths.journal)
                .map(|j| Box::new(j) as Box<dyn JournalWriter>)
                .map_err(|e| {
                    fail(
                        Code::StateUnreadable,
                        format!("{e:#}"),
                        "check that the state directory is writable",
                    )
                }),
            Backend::Etcd { state, .. } => Ok(state.journal_writer(handle)),
        }
    }

    /// Drops the journal once the state document holds it.
    pub fn clear_journal(&self) {
        match &self.backend {
            Backend::Local(paths) => {
                let _ = std::fs::remove_file(&paths.journal);
            }
            Backend::Etcd { state, runtime, .. } => {
                let _ = runtime.block_on(state.clear_journal());
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

    pub fn key(&self) -> Result<FingerprintKey, ExitCode> {
        FingerprintKey::load_or_create(&self.key_path).map_err(|e| {
            fail(
                Code::StateUnreadable,
                format!("{e:#}"),
                "the key lives in .imm/fingerprint.key beside the state",
            )
        })
    }
}

fn report_folded(folded: &journal::Folded) {
    eprintln!(
        "note: an earlier apply was interrupted; its {} journal entries are now in the state",
        folded.entries
    );
    for (address, action) in &folded.interrupted {
        eprintln!("note: {address}: `{action}` was started and not finished; what it left is planned again");
    }
}

fn remote_error(e: imm_executors::ActionError) -> ExitCode {
    fail(
        Code::StateUnreadable,
        e.message,
        "check that etcd is running at the state block's endpoints; nothing was changed",
    )
}
