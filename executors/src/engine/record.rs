//! The recording side of the apply, the walk's visitor (Terraform's
//! `backend/local`): before a step starts, its intent is journalled; when
//! it ends, what it left is recorded (its record, with a replaced object
//! kept as deposed until its down step; the artifact ledger) in memory and
//! in the journal before any step after it starts. The steps that start or
//! end together share one commit of the journal (`Visitor::commit`). A
//! journal that cannot be written stops the walk. At the end, the state follows the
//! configuration and the plan's order.

use super::schedule::{step_name, Kind};
use super::step::{self, StepInput, StepOutput, StepResult, Work};
use super::walk::{Finish, Panicked, Progress, Start, Visitor};
use super::{Engine, Event, Outcome, Recorder};
use crate::journal::JournalError;
use crate::{ActionError, CreateRequest, Created};
use imm_lang::diagnostics::Code;
use imm_lang::evaluate::Instance;
use imm_planner::journal::Entry;
use imm_planner::plan::Action;
use imm_planner::state::{ArtifactEntry, Deposed, ResourceRecord, State};
use std::collections::HashMap;

impl Visitor for Recorder<'_, '_> {
    type Output = StepResult;
    type Message = (String, String);

    async fn start(&mut self, index: usize, progress: &[Progress]) -> Start<StepResult> {
        let step = self.steps[index];
        let plan = self.engine.plan;
        let change = &plan.changes[step.change];
        let Some(executor) = self.engine.registry.get(&change.type_name) else {
            let message = format!("no executor for {} in this version", change.type_name);
            self.fail(index, ActionError::new(Code::UnsupportedYet, message))
                .await;
            return Start::Failed;
        };
        let (work, fingerprint) = match step.kind {
            Kind::Up => {
                let prepared = self
                    .known_instance(&change.address, progress)
                    .and_then(|i| {
                        let fingerprint = self.promoted_fingerprint(change, &i)?;
                        Ok((i, fingerprint))
                    });
                match prepared {
                    Ok((instance, fingerprint)) => (Work::Up(Box::new(instance)), fingerprint),
                    Err(e) => {
                        self.fail(index, e).await;
                        return Start::Failed;
                    }
                }
            }
            Kind::Down => (Work::Down, None),
            Kind::Cleanup => (Work::Cleanup, None),
        };
        let what = step_name(step.kind, change.action);
        let start = Entry::Start {
            address: change.address.clone(),
            action: what.to_string(),
        };
        // Nothing outside imm is touched before its intent is durable.
        if let Err(e) = self.engine.journal.append(&start).await {
            let message = format!("{e}; the step was not started");
            self.fail(index, ActionError::new(Code::JournalUnwritable, message))
                .await;
            self.outcome.journal_error = Some(e);
            return Start::Failed;
        }
        (self.events)(Event::Started {
            address: change.address.clone(),
            what,
        });
        let input = self.step_input(change, work, fingerprint, executor);
        Start::Run(Box::pin(step::run(input)))
    }

    async fn finish(&mut self, index: usize, ended: Result<StepResult, Panicked>) -> Finish {
        let finished = match ended {
            Ok(finished) => finished,
            Err(Panicked(e)) => {
                // A step's task panicked: nothing is known of its object.
                let message = format!("internal error: {e}");
                self.fail(index, ActionError::new(Code::ActionFailed, message))
                    .await;
                return Finish::Failed;
            }
        };
        self.stale_evaluation = true;
        let step = self.steps[index];
        let change = &self.engine.plan.changes[step.change];
        let address = change.address.clone();
        let action = change.action;
        let what = step_name(step.kind, action);
        let output = match finished.result {
            Ok(output) => output,
            Err(e) => {
                (self.events)(Event::Finished {
                    address: address.clone(),
                    what,
                    elapsed: finished.started.elapsed(),
                    error: Some(e.message.clone()),
                });
                self.fail(index, e).await;
                return Finish::Failed;
            }
        };
        if let Err(e) = self.record(step.change, action, output).await {
            // The object is as the in-memory state says, and the state
            // document written at the end of the run records it; but no
            // step may start that a crash would then leave unrecorded.
            let message =
                format!("{e}; what this step did is recorded in the state at the end of the run");
            (self.events)(Event::Finished {
                address: address.clone(),
                what,
                elapsed: finished.started.elapsed(),
                error: Some(message.clone()),
            });
            let failure = ActionError::new(Code::JournalUnwritable, message);
            self.outcome.failed.push((address, failure));
            self.outcome.journal_error = Some(e);
            return Finish::FailedAlone;
        }
        (self.events)(Event::Finished {
            address,
            what,
            elapsed: finished.started.elapsed(),
            error: None,
        });
        Finish::Done
    }

    fn skipped(&mut self, index: usize) {
        let change = &self.engine.plan.changes[self.steps[index].change];
        self.outcome.skipped.push(change.address.clone());
    }

    fn halted(&self) -> bool {
        self.outcome.journal_error.is_some()
    }

    fn interrupted(&mut self) {
        (self.events)(Event::Stopping);
    }

    fn message(&mut self, (address, line): (String, String)) {
        (self.events)(Event::Output { address, line });
    }

    async fn commit(&mut self, starting: &[usize], ended: &[usize]) -> bool {
        let Err(e) = self.engine.journal.commit().await else {
            return true;
        };
        for &index in starting {
            let address = self.address_of(index);
            let message = format!("{e}; the step was not started");
            let failure = ActionError::new(Code::JournalUnwritable, message);
            self.outcome.failed.push((address, failure));
        }
        for &index in ended {
            let address = self.address_of(index);
            let message =
                format!("{e}; what this step did is recorded in the state at the end of the run");
            let failure = ActionError::new(Code::JournalUnwritable, message);
            self.outcome.failed.push((address, failure));
        }
        self.outcome.journal_error.get_or_insert(e);
        false
    }
}

impl Recorder<'_, '_> {
    fn address_of(&self, index: usize) -> String {
        self.engine.plan.changes[self.steps[index].change]
            .address
            .clone()
    }

    /// Makes the journal's last entries durable (the failures of the last
    /// steps) before the state document is written.
    pub(super) async fn commit_journal(&mut self) {
        if let Err(e) = self.engine.journal.commit().await {
            self.outcome.journal_error.get_or_insert(e);
        }
    }

    /// A failed step: the journal's open entry closed and the failure kept
    /// for the outcome (the walk skips what follows it).
    async fn fail(&mut self, index: usize, failure: ActionError) {
        let change = &self.engine.plan.changes[self.steps[index].change];
        let address = change.address.clone();
        // Only closes the journal's open Start; what exists is recorded by
        // Put/Remove, so a failure to write it changes nothing recorded.
        let closed = self
            .engine
            .journal
            .append(&Entry::Failed {
                address: address.clone(),
                message: failure.message.clone(),
            })
            .await;
        if let Err(e) = closed {
            self.outcome.journal_error.get_or_insert(e);
        }
        self.outcome.failed.push((address, failure));
    }

    /// What the step takes to its own task: the records it acts on and the
    /// request its executor gets.
    fn step_input(
        &self,
        change: &imm_planner::plan::Change,
        work: Work,
        fingerprint: Option<String>,
        executor: std::sync::Arc<dyn crate::Executor>,
    ) -> StepInput {
        let engine = &self.engine;
        let old = self.original.get(&change.address).cloned();
        let kept_for_others = old.as_ref().is_some_and(|o| {
            o.fingerprint.as_ref().is_some_and(|fp| {
                engine
                    .in_use_elsewhere
                    .contains(&(o.address.clone(), fp.clone()))
            })
        });
        StepInput {
            work,
            action: change.action,
            executor,
            run: engine.run.clone(),
            request: CreateRequest {
                fingerprint,
                predecessor: old.clone().filter(|_| change.action == Action::Replace),
                stop_first: change.stop_first,
                interrupted: engine.state.create_interrupted(&change.address),
                reused_outs: change.reused_outs.clone().filter(|_| change.reuse),
            },
            old,
            current: engine.state.resource(&change.address).cloned(),
            kept_for_others,
        }
    }

    /// Records what a step left, in memory and in the journal.
    async fn record(
        &mut self,
        change: usize,
        action: Action,
        output: StepOutput,
    ) -> Result<(), JournalError> {
        let engine = &mut self.engine;
        let plan = engine.plan;
        let address = plan.changes[change].address.as_str();
        match output {
            StepOutput::Created(made, fingerprint) => {
                let (instance, created) = *made;
                let dependencies = plan.changes[change].depends_on.clone();
                let recorded = engine
                    .record_created(
                        &instance,
                        created,
                        fingerprint,
                        (action, dependencies),
                        &self.original,
                    )
                    .await;
                self.instances.insert(instance.address.clone(), instance);
                match action {
                    Action::Create => self.outcome.created += 1,
                    Action::Replace => self.outcome.replaced += 1,
                    _ => self.outcome.reconfigured += 1,
                }
                recorded
            }
            StepOutput::Destroyed if action == Action::Destroy => {
                engine.state.remove_resource(address);
                self.outcome.destroyed += 1;
                let entry = Entry::Remove {
                    address: address.to_string(),
                };
                engine.journal.append(&entry).await
            }
            StepOutput::Destroyed => match engine.state.resource(address).cloned() {
                Some(mut record) => {
                    if !record.deposed.is_empty() {
                        record.deposed.remove(0);
                    }
                    engine.put(record).await
                }
                None => Ok(()),
            },
            StepOutput::CleanedUp(count) => match engine.state.resource(address).cloned() {
                Some(mut record) => {
                    record.deposed.drain(..count.min(record.deposed.len()));
                    engine.put(record).await
                }
                None => Ok(()),
            },
        }
    }

    /// The state as the walk left it, following the configuration and the
    /// plan's order, and how the apply went.
    pub(super) fn conclude(self, ended: &[Progress]) -> (State, Outcome) {
        let Recorder {
            engine,
            steps,
            instances,
            mut outcome,
            ..
        } = self;
        let plan = engine.plan;
        let mut state = engine.state;
        // An interrupted create of an instance no longer configured has
        // nothing left to warn about.
        state
            .interrupted
            .retain(|i| instances.contains_key(&i.address));
        // A kept instance's lifecycle may have changed (prevent_destroy
        // turned off to allow a destroy): records follow the configuration.
        for record in &mut state.resources {
            if let Some(instance) = instances.get(&record.address) {
                record.prevent_destroy = instance.prevent_destroy;
            }
        }
        // Records in plan order (dependencies first), whatever order the
        // steps finished in: state files diff cleanly between applies.
        let order: HashMap<&str, usize> = plan
            .changes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.address.as_str(), i))
            .collect();
        state
            .resources
            .sort_by_key(|r| order.get(r.address.as_str()).copied().unwrap_or(usize::MAX));
        for (step, progress) in steps.iter().zip(ended) {
            if *progress == Progress::Waiting {
                outcome
                    .not_started
                    .push(plan.changes[step.change].address.clone());
            }
        }
        (state, outcome)
    }
}

impl Engine<'_> {
    /// Records a new object (or revision), keeping a replaced one as
    /// deposed until its down step removes it.
    async fn record_created(
        &mut self,
        instance: &Instance,
        created: Created,
        fingerprint: Option<String>,
        (action, dependencies): (Action, Vec<String>),
        original: &HashMap<String, ResourceRecord>,
    ) -> Result<(), JournalError> {
        let artifact_outs = created.outs.clone();
        let mut record = imm_planner::stored::new_record(
            instance,
            self.key,
            fingerprint.clone(),
            dependencies,
            created.outs,
            created.private,
        );
        if action == Action::Replace {
            if let Some(old) = original.get(&instance.address) {
                record.deposed.push(Deposed {
                    attributes: old.attributes.clone(),
                    outs: old.outs.clone(),
                    private: old.private.clone(),
                });
            }
        }
        if let (Some(fp), true) = (
            &fingerprint,
            imm_lang::types::is_artifact(&instance.type_name),
        ) {
            let entry = ArtifactEntry {
                fingerprint: fp.clone(),
                address: instance.address.clone(),
                type_name: instance.type_name.clone(),
                built_at: now(),
                tested: true,
                applied: true,
                outs: artifact_outs,
            };
            self.state.put_artifact(entry.clone());
            // The record goes first: an artifact entry alone would claim a
            // test that state cannot show.
            let recorded = self.put(record).await;
            return match recorded {
                Ok(()) => self.journal.append(&Entry::Artifact { entry }).await,
                Err(e) => Err(e),
            };
        }
        self.put(record).await
    }

    /// Records an instance in memory and in the journal.
    async fn put(&mut self, record: ResourceRecord) -> Result<(), JournalError> {
        let entry = Entry::Put {
            record: Box::new(record.clone()),
        };
        self.state.put_resource(record);
        self.journal.append(&entry).await
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
