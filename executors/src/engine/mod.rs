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

mod record;
mod schedule;

use crate::journal::{JournalError, JournalSink};
use crate::{ActionError, CreateRequest, Created, Executor, Existing, Registry, RunContext};
use imm_lang::evaluate::{Evaluated, Instance, Reevaluate};
use imm_planner::journal::Entry;
use imm_planner::plan::{self, Action, ContextCache, Plan};
use imm_planner::state::{ResourceRecord, State};
use imm_planner::stored::FingerprintKey;
use imm_stdlib::Value;
use schedule::{fail_and_skip_after, release_dependents, step_name, Kind, Progress, Step};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    /// `(address, message)` of each failed step.
    pub failed: Vec<(String, String)>,
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

/// The walk's moving parts, handed to a finished step's bookkeeping.
struct Walk<'w> {
    steps: &'w mut Vec<Step>,
    ready: &'w mut Vec<usize>,
    instances: &'w mut HashMap<String, Instance>,
    outcome: &'w mut Outcome,
}

/// What a finished step hands back to the orchestrator.
struct StepResult {
    step: usize,
    started: Instant,
    result: Result<StepOutput, ActionError>,
}

enum StepOutput {
    Created(Box<(Instance, Created)>, Option<String>),
    Destroyed,
    CleanedUp(usize),
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
        let mut instances: HashMap<String, Instance> = evaluated
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
        let mut steps = schedule::steps(&self.plan.changes, &original);
        let mut outcome = Outcome::default();
        let mut ready: Vec<usize> = (0..steps.len())
            .filter(|&s| steps[s].blockers == 0)
            .collect();
        ready.reverse();
        let mut running = tokio::task::JoinSet::new();
        let mut spawned: HashMap<tokio::task::Id, usize> = HashMap::new();
        let mut stale_evaluation = false;
        let mut stopping = false;
        let mut contexts = ContextCache::new();
        let interrupt = interrupted();
        tokio::pin!(interrupt);
        let (progress, mut output) = tokio::sync::mpsc::unbounded_channel();
        self.run.progress = Some(progress);
        loop {
            stopping |= outcome.journal_error.is_some();
            while !stopping && running.len() < self.parallelism.max(1) {
                let Some(index) = ready.pop() else { break };
                let change = &self.plan.changes[steps[index].change];
                let address = change.address.clone();
                let Some(executor) = self.registry.get(&change.type_name) else {
                    let message = format!("no executor for {} in this version", change.type_name);
                    self.fail(&mut steps, index, message, &mut outcome).await;
                    continue;
                };
                let instance = if steps[index].kind == Kind::Up {
                    match self.known_instance(
                        &steps,
                        &address,
                        &mut instances,
                        &mut stale_evaluation,
                        reevaluate,
                    ) {
                        Ok(i) => Some(i),
                        Err(message) => {
                            self.fail(&mut steps, index, message, &mut outcome).await;
                            continue;
                        }
                    }
                } else {
                    None
                };
                // The plan's fingerprint when it knew it (the context was
                // hashed moments ago); computed now when its inputs were
                // still unknown then.
                let fingerprint = match &instance {
                    Some(_) if change.fingerprint.is_some() => change.fingerprint.clone(),
                    Some(i) if imm_lang::types::is_artifact(&i.type_name) => {
                        match plan::fingerprint_of(i, &i.config, self.key, &mut contexts) {
                            Ok(fp) => fp,
                            Err(message) => {
                                self.fail(&mut steps, index, message, &mut outcome).await;
                                continue;
                            }
                        }
                    }
                    _ => None,
                };
                if let (Some(fp), Some(promotion)) = (&fingerprint, &self.promotion) {
                    if !promotion.fingerprints.contains(fp) {
                        let message = format!(
                            "artifact {} was not built, applied and tested in \"{}\" (promote_from); apply it there first",
                            &fp[..12.min(fp.len())],
                            promotion.from
                        );
                        self.fail(&mut steps, index, message, &mut outcome).await;
                        continue;
                    }
                }
                let what = step_name(steps[index].kind, change.action);
                let start = Entry::Start {
                    address: address.clone(),
                    action: what.to_string(),
                };
                // Nothing outside imm is touched before its intent is durable.
                if let Err(e) = self.journal.append(&start).await {
                    let message = format!("{e}; the step was not started");
                    self.fail(&mut steps, index, message, &mut outcome).await;
                    outcome.journal_error = Some(e);
                    break;
                }
                events(Event::Started {
                    address: address.clone(),
                    what,
                });
                steps[index].progress = Progress::Running;
                let job = self.job(
                    index,
                    &steps[index],
                    instance,
                    fingerprint,
                    &original,
                    executor,
                );
                let handle = running.spawn(job);
                spawned.insert(handle.id(), index);
            }
            if running.is_empty() {
                break;
            }
            tokio::select! {
                joined = running.join_next() => {
                    let Some(joined) = joined else { break };
                    let finished = match joined {
                        Ok(f) => f,
                        Err(e) => {
                            // A step's task panicked: nothing is known of its object.
                            if let Some(index) = spawned.get(&e.id()).copied() {
                                self.fail(&mut steps, index, format!("internal error: {e}"), &mut outcome).await;
                            }
                            continue;
                        }
                    };
                    stale_evaluation = true;
                    let mut walk = Walk { steps: &mut steps, ready: &mut ready, instances: &mut instances, outcome: &mut outcome };
                    self.finish(finished, &mut walk, &original, events).await;
                }
                _ = &mut interrupt, if !stopping => {
                    stopping = true;
                    events(Event::Stopping);
                }
                Some((address, line)) = output.recv() => {
                    events(Event::Output { address, line });
                }
            }
        }
        // An interrupted create of an instance no longer configured has
        // nothing left to warn about.
        self.state
            .interrupted
            .retain(|i| instances.contains_key(&i.address));
        // A kept instance's lifecycle may have changed (prevent_destroy
        // turned off to allow a destroy): records follow the configuration.
        for record in &mut self.state.resources {
            if let Some(instance) = instances.get(&record.address) {
                record.prevent_destroy = instance.prevent_destroy;
            }
        }
        // Records in plan order (dependencies first), whatever order the
        // steps finished in: state files diff cleanly between applies.
        let order: HashMap<&str, usize> = self
            .plan
            .changes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.address.as_str(), i))
            .collect();
        self.state
            .resources
            .sort_by_key(|r| order.get(r.address.as_str()).copied().unwrap_or(usize::MAX));
        for step in &steps {
            if step.progress == Progress::Waiting {
                outcome
                    .not_started
                    .push(self.plan.changes[step.change].address.clone());
            }
        }
        (self.state, outcome)
    }

    /// The instance with a fully known configuration, evaluating again if
    /// it waits on values that became known since the last evaluation.
    fn known_instance(
        &self,
        steps: &[Step],
        address: &str,
        instances: &mut HashMap<String, Instance>,
        stale: &mut bool,
        reevaluate: &mut dyn Reevaluate,
    ) -> Result<Instance, String> {
        let needs_values = instances
            .get(address)
            .is_none_or(|i| i.config.values().any(Value::contains_unknown));
        if needs_values && *stale {
            let fresh = reevaluate
                .reevaluate(&self.known_outs(steps))
                .map_err(|d| format!("evaluating again with the new values: {}", d.message))?;
            for instance in fresh.instances {
                instances.insert(instance.address.clone(), instance);
            }
            *stale = false;
        }
        let instance = instances
            .get(address)
            .ok_or_else(|| format!("{address} is no longer in the configuration"))?;
        if let Some((name, _)) = instance.config.iter().find(|(_, v)| v.contains_unknown()) {
            return Err(format!(
                "{address}: `{name}` is still unknown when it is to be created (it refers to something this apply did not produce)"
            ));
        }
        Ok(instance.clone())
    }

    fn job(
        &self,
        index: usize,
        step: &Step,
        instance: Option<Instance>,
        fingerprint: Option<String>,
        original: &HashMap<String, ResourceRecord>,
        executor: Arc<dyn Executor>,
    ) -> impl std::future::Future<Output = StepResult> + Send + 'static {
        let change = &self.plan.changes[step.change];
        let run = self.run.clone();
        let kind = step.kind;
        let action = change.action;
        let old = original.get(&change.address).cloned();
        let request = CreateRequest {
            fingerprint,
            predecessor: old.clone().filter(|_| action == Action::Replace),
            stop_first: change.stop_first,
            interrupted: self.state.create_interrupted(&change.address),
            reused_outs: change.reused_outs.clone().filter(|_| change.reuse),
        };
        let current = self.state.resource(&change.address).cloned();
        // The object replacing the old one, for a down step (a file at the
        // same path must survive the old one's removal).
        let successor = current
            .as_ref()
            .filter(|_| action == Action::Replace)
            .map(|r| Created {
                outs: r.outs.clone(),
                private: r.private.clone(),
            });
        let kept_for_others = old.as_ref().is_some_and(|o| {
            o.fingerprint.as_ref().is_some_and(|fp| {
                self.in_use_elsewhere
                    .contains(&(o.address.clone(), fp.clone()))
            })
        });
        async move {
            let started = Instant::now();
            let result = match (kind, instance) {
                (Kind::Up, Some(instance)) => {
                    up(&*executor, instance, action, &request, old.as_ref(), &run).await
                }
                (Kind::Down, _) if kept_for_others => Ok(StepOutput::Destroyed),
                (Kind::Down, _) => match &old {
                    Some(old) => executor
                        .destroy(existing(old), successor.as_ref(), &run)
                        .await
                        .map(|()| StepOutput::Destroyed),
                    None => Ok(StepOutput::Destroyed),
                },
                (Kind::Cleanup, _) => cleanup(&*executor, current.as_ref(), &run).await,
                (Kind::Up, None) => Err(ActionError::uncoded("no configuration to create from")),
            };
            StepResult {
                step: index,
                started,
                result,
            }
        }
    }

    async fn finish(
        &mut self,
        finished: StepResult,
        walk: &mut Walk<'_>,
        original: &HashMap<String, ResourceRecord>,
        events: &mut dyn FnMut(Event),
    ) {
        let index = finished.step;
        let change = &self.plan.changes[walk.steps[index].change];
        let address = change.address.clone();
        let action = change.action;
        let what = step_name(walk.steps[index].kind, action);
        let output = match finished.result {
            Ok(output) => output,
            Err(e) => {
                events(Event::Finished {
                    address: address.clone(),
                    what,
                    elapsed: finished.started.elapsed(),
                    error: Some(e.message.clone()),
                });
                self.fail(walk.steps, index, e.message, walk.outcome).await;
                return;
            }
        };
        let recorded = match output {
            StepOutput::Created(made, fingerprint) => {
                let (instance, created) = *made;
                let recorded = self
                    .record_created(&instance, created, fingerprint, action, original)
                    .await;
                walk.instances.insert(instance.address.clone(), instance);
                match action {
                    Action::Create => walk.outcome.created += 1,
                    Action::Replace => walk.outcome.replaced += 1,
                    _ => walk.outcome.reconfigured += 1,
                }
                recorded
            }
            StepOutput::Destroyed => {
                if action == Action::Destroy {
                    self.state.remove_resource(&address);
                    walk.outcome.destroyed += 1;
                    self.journal
                        .append(&Entry::Remove {
                            address: address.clone(),
                        })
                        .await
                } else if let Some(mut record) = self.state.resource(&address).cloned() {
                    if !record.deposed.is_empty() {
                        record.deposed.remove(0);
                    }
                    self.put(record).await
                } else {
                    Ok(())
                }
            }
            StepOutput::CleanedUp(count) => match self.state.resource(&address).cloned() {
                Some(mut record) => {
                    record.deposed.drain(..count.min(record.deposed.len()));
                    self.put(record).await
                }
                None => Ok(()),
            },
        };
        if let Err(e) = recorded {
            // The object is as the in-memory state says, and the state
            // document written at the end of the run records it; but no
            // step may start that a crash would then leave unrecorded.
            let message =
                format!("{e}; what this step did is recorded in the state at the end of the run");
            events(Event::Finished {
                address: address.clone(),
                what,
                elapsed: finished.started.elapsed(),
                error: Some(message.clone()),
            });
            walk.steps[index].progress = Progress::Failed;
            walk.outcome.failed.push((address, message));
            walk.outcome.journal_error = Some(e);
            return;
        }
        events(Event::Finished {
            address,
            what,
            elapsed: finished.started.elapsed(),
            error: None,
        });
        walk.steps[index].progress = Progress::Done;
        release_dependents(walk.steps, index, walk.ready);
    }

    /// Marks a step failed and everything after it skipped.
    async fn fail(
        &mut self,
        steps: &mut [Step],
        index: usize,
        message: String,
        outcome: &mut Outcome,
    ) {
        let address = self.plan.changes[steps[index].change].address.clone();
        // Only closes the journal's open Start; what exists is recorded by
        // Put/Remove, so a failure to write it changes nothing recorded.
        let closed = self
            .journal
            .append(&Entry::Failed {
                address: address.clone(),
                message: message.clone(),
            })
            .await;
        if let Err(e) = closed {
            outcome.journal_error.get_or_insert(e);
        }
        outcome.failed.push((address, message));
        for skipped in fail_and_skip_after(steps, index) {
            outcome
                .skipped
                .push(self.plan.changes[steps[skipped].change].address.clone());
        }
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

/// Creates and tests a new object; one that fails its tests is removed.
async fn up(
    executor: &dyn Executor,
    instance: Instance,
    action: Action,
    request: &CreateRequest,
    old: Option<&ResourceRecord>,
    run: &RunContext,
) -> Result<StepOutput, ActionError> {
    if action == Action::Reconfigure {
        let Some(old) = old else {
            return Err(ActionError::uncoded("nothing recorded to reconfigure"));
        };
        let created = executor.reconfigure(&instance, existing(old), run).await?;
        return Ok(StepOutput::Created(
            Box::new((instance, created)),
            request.fingerprint.clone(),
        ));
    }
    let mut created = executor.create(&instance, request, run).await?;
    let accepted = match executor.test(&instance, &created, run).await {
        Ok(()) => executor.serve(&instance, &mut created, run).await,
        Err(failure) => Err(failure),
    };
    if let Err(failure) = accepted {
        let removal = executor.discard(&instance, &created, run).await;
        let left = match removal {
            Ok(()) => String::new(),
            Err(e) => format!(" (and removing the new object failed: {e})"),
        };
        return Err(ActionError::uncoded(format!("{failure}{left}")));
    }
    Ok(StepOutput::Created(
        Box::new((instance, created)),
        request.fingerprint.clone(),
    ))
}

async fn cleanup(
    executor: &dyn Executor,
    current: Option<&ResourceRecord>,
    run: &RunContext,
) -> Result<StepOutput, ActionError> {
    let Some(record) = current else {
        return Ok(StepOutput::CleanedUp(0));
    };
    for deposed in &record.deposed {
        executor
            .destroy(
                Existing {
                    address: &record.address,
                    type_name: &record.type_name,
                    attributes: &deposed.attributes,
                    outs: &deposed.outs,
                    private: &deposed.private,
                },
                Some(&Created {
                    outs: record.outs.clone(),
                    private: record.private.clone(),
                }),
                run,
            )
            .await?;
    }
    Ok(StepOutput::CleanedUp(record.deposed.len()))
}

fn existing(record: &ResourceRecord) -> Existing<'_> {
    Existing {
        address: &record.address,
        type_name: &record.type_name,
        attributes: &record.attributes,
        outs: &record.outs,
        private: &record.private,
    }
}
