//! What one step does to the outside world, through its type's executor:
//! an up step creates, tests and serves the new object (or writes a new
//! revision), a down step destroys the old one, a cleanup step destroys
//! what an interrupted replacement left. It records nothing: what it
//! returns is recorded by the walk's visitor (`record.rs`).

use crate::{ActionError, CreateRequest, Created, Executor, Existing, RunContext};
use imm_lang::diagnostics::Code;
use imm_lang::evaluate::Instance;
use imm_planner::plan::Action;
use imm_planner::state::ResourceRecord;
use std::sync::Arc;
use std::time::Instant;

/// What a step is to do.
pub(super) enum Work {
    /// Create (or reconfigure) this instance, whose values are all known.
    Up(Box<Instance>),
    Down,
    Cleanup,
}

/// What a finished step hands back to be recorded.
pub(super) struct StepResult {
    pub(super) started: Instant,
    pub(super) result: Result<StepOutput, ActionError>,
}

pub(super) enum StepOutput {
    Created(Box<(Instance, Created)>, Option<String>),
    Destroyed,
    CleanedUp(usize),
}

/// Everything a step needs, taken from the apply before it runs on its
/// own task.
pub(super) struct StepInput {
    pub(super) work: Work,
    pub(super) action: Action,
    pub(super) executor: Arc<dyn Executor>,
    pub(super) run: RunContext,
    pub(super) request: CreateRequest,
    /// The record the plan was made against.
    pub(super) old: Option<ResourceRecord>,
    /// The record now (a down step's successor, a cleanup's deposed).
    pub(super) current: Option<ResourceRecord>,
    /// The old object is an artifact another environment still records:
    /// it is forgotten here, not destroyed.
    pub(super) kept_for_others: bool,
}

/// Runs a step.
pub(super) async fn run(input: StepInput) -> StepResult {
    let started = Instant::now();
    let StepInput {
        work,
        action,
        executor,
        run,
        request,
        old,
        current,
        kept_for_others,
    } = input;
    let result = match work {
        Work::Up(instance) => up(&*executor, *instance, action, &request, old.as_ref(), &run).await,
        Work::Down if kept_for_others => Ok(StepOutput::Destroyed),
        Work::Down => down(&*executor, action, old.as_ref(), current.as_ref(), &run).await,
        Work::Cleanup => cleanup(&*executor, current.as_ref(), &run).await,
    };
    StepResult { started, result }
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
            return Err(
                ActionError::new(Code::ObjectMissing, "nothing recorded to reconfigure")
                    .with_help("run imm plan again: it creates what state does not record"),
            );
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
        // The test's or the serving's own failure, with its code and fix.
        return Err(ActionError {
            message: format!("{}{left}", failure.message),
            ..failure
        });
    }
    Ok(StepOutput::Created(
        Box::new((instance, created)),
        request.fingerprint.clone(),
    ))
}

/// Destroys the old object (a replaced one is told of its successor: a
/// file at the same path must survive the old one's removal).
async fn down(
    executor: &dyn Executor,
    action: Action,
    old: Option<&ResourceRecord>,
    current: Option<&ResourceRecord>,
    run: &RunContext,
) -> Result<StepOutput, ActionError> {
    let Some(old) = old else {
        return Ok(StepOutput::Destroyed);
    };
    let successor = current
        .filter(|_| action == Action::Replace)
        .map(|r| Created {
            outs: r.outs.clone(),
            private: r.private.clone(),
        });
    executor
        .destroy(existing(old), successor.as_ref(), run)
        .await
        .map(|()| StepOutput::Destroyed)
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
