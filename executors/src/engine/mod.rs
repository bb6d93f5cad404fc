//! The apply engine: walks a plan's graph with bounded parallelism,
//! starting every step as soon as the steps it waits for are done.
//!
//! A change becomes up to two steps: *up* (create the new object, test it;
//! or write a new revision) and *down* (destroy the old one). Up waits for
//! the up steps of what the new configuration refers to; down waits for
//! its own up, and for every step of what referred to the old object, so
//! that nothing is destroyed while something still uses it. A failed up
//! skips its down (the old object keeps serving) and everything after it.
//!
//! Every step is journalled as it starts and ends, so state stays true to
//! what exists whenever the process stops. A configuration that waits on
//! values known only after an upstream step (an image id, a command's
//! outputs) is evaluated again, with the values now known, just before its
//! step starts.
//!
//! Two halves, as Terraform's `dag.Walker` and `backend/local`: the walk
//! (`walk.rs`) runs a graph of steps with bounded parallelism, skips what
//! follows a failure and stops on Ctrl-C, knowing nothing of resources;
//! the recording side (`record.rs`, with `prepare.rs`) is its visitor and
//! owns the journal, the state records and the ledger. `schedule.rs` turns
//! the plan into steps, `step.rs` is what a step does through its executor.

mod prepare;
mod record;
mod schedule;
mod step;
mod walk;

use crate::journal::{JournalError, JournalSink};
use crate::ActionError;
use crate::{Registry, RunContext};
use imm_lang::evaluate::{Evaluated, Instance, Reevaluate};
use imm_planner::plan::{ContextCache, Plan};
use imm_planner::state::{ResourceRecord, State};
use imm_planner::stored::FingerprintKey;
use imm_stdlib::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// Known out attributes by instance address, for a fresh evaluation.
pub type KnownOuts = HashMap<String, BTreeMap<String, Value>>;

/// What the engine reports as it goes (the progress display).
#[derive(Debug, Clone)]
pub enum Event {
    Started {
        address: String,
        what: &'static str,
    },
    Finished {
        address: String,
        what: &'static str,
        elapsed: Duration,
        error: Option<String>,
    },
    /// A line of what a running step is doing (build output).
    Output {
        address: String,
        line: String,
    },
    /// Ctrl-C, SIGTERM or SIGHUP: no new step starts; running ones finish.
    Stopping,
}

/// How the apply went.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Each failed step's address and its failure, with the code and help
    /// its executor gave.
    pub failed: Vec<(String, ActionError)>,
    /// Steps not attempted because something they wait for failed.
    pub skipped: Vec<String>,
    /// Steps not started because the apply was interrupted (Ctrl-C, or a
    /// journal that could not be written).
    pub not_started: Vec<String>,
    /// The journal could not be written: the run stopped starting steps.
    /// The state written at the end still records what exists.
    pub journal_error: Option<JournalError>,
    pub created: usize,
    pub replaced: usize,
    pub reconfigured: usize,
    pub destroyed: usize,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.failed.is_empty()
            && self.skipped.is_empty()
            && self.not_started.is_empty()
            && self.journal_error.is_none()
    }
}

/// One apply: the plan, the evaluation it was made from, and the state it
/// changes (kept in memory and in the journal as steps complete).
pub struct Engine<'a> {
    pub plan: &'a Plan,
    pub state: State,
    pub journal: Box<dyn JournalSink>,
    pub key: &'a FingerprintKey,
    pub registry: &'a Registry,
    pub run: RunContext,
    pub parallelism: usize,
    /// `promote_from`: only these artifact fingerprints may be applied.
    pub promotion: Option<Promotion>,
    /// Artifacts (address, fingerprint) another environment still records:
    /// a step that would destroy one forgets it here and leaves the object.
    pub in_use_elsewhere: std::collections::HashSet<(String, String)>,
}

/// The artifacts an environment with `promote_from` accepts: those built,
/// applied and tested in the source environment.
#[derive(Debug, Clone)]
pub struct Promotion {
    pub from: String,
    pub fingerprints: std::collections::HashSet<String>,
}

/// The apply as the walk's visitor: the engine with what the walk has
/// learnt so far (methods in `record.rs` and `prepare.rs`).
struct Recorder<'a, 'r> {
    engine: Engine<'a>,
    /// The steps, in the walk's numbering.
    steps: Vec<schedule::Step>,
    /// The records as they were before the apply.
    original: HashMap<String, ResourceRecord>,
    /// The latest evaluation of every instance.
    instances: HashMap<String, Instance>,
    outcome: Outcome,
    /// A step finished since the last evaluation: values may now be known.
    stale_evaluation: bool,
    contexts: ContextCache,
    reevaluate: &'r mut dyn Reevaluate,
    events: &'r mut dyn FnMut(Event),
}

impl Engine<'_> {
    /// Carries the plan out. `evaluated` is the evaluation the plan was made
    /// from; `reevaluate` gives a fresh one when a step needs values that
    /// are only now known; `events` receives the progress.
    pub async fn apply(
        mut self,
        evaluated: Evaluated,
        reevaluate: &mut dyn Reevaluate,
        events: &mut dyn FnMut(Event),
    ) -> (State, Outcome) {
        let instances: HashMap<String, Instance> = evaluated
            .instances
            .into_iter()
            .map(|i| (i.address.clone(), i))
            .collect();
        let original: HashMap<String, ResourceRecord> = self
            .state
            .resources
            .iter()
            .map(|r| (r.address.clone(), r.clone()))
            .collect();
        let (steps, graph) = schedule::steps(&self.plan.changes, &original);
        let (progress, mut output) = tokio::sync::mpsc::unbounded_channel();
        self.run.progress = Some(progress);
        let parallelism = self.parallelism;
        let mut recorder = Recorder {
            engine: self,
            steps,
            original,
            instances,
            outcome: Outcome::default(),
            stale_evaluation: false,
            contexts: ContextCache::new(),
            reevaluate,
            events,
        };
        let ended = walk::walk(
            graph,
            parallelism,
            &mut recorder,
            interrupted(),
            &mut output,
        )
        .await;
        recorder.commit_journal().await;
        recorder.conclude(&ended)
    }
}

/// Ctrl-C, SIGTERM (what CI sends when it cancels a job) or SIGHUP (a
/// closed terminal): the walk starts no new step, lets running ones finish,
/// and the run records what exists before it exits non-zero.
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let wait = |kind: SignalKind| async move {
            match signal(kind) {
                Ok(mut signals) => {
                    signals.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        let ctrl_c = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = wait(SignalKind::terminate()) => {}
            _ = wait(SignalKind::hangup()) => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
