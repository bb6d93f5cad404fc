//! Carrying a plan out: the preflight checks, the apply engine (journalled
//! step by step, evaluating again through lang's `Reevaluate` when a step
//! needs values only now known), the outputs, and the new state written
//! once at the end, whatever the outcome.

use crate::error::Result;
use crate::load::Loaded;
use crate::plan::{run_context, Planned};
use crate::policy::OtherEnvironments;
use crate::preflight;
use crate::session::Session;
use crate::state_site::StateSite;
use imm_executors::engine::{Engine, Event, Outcome, Promotion};
use imm_executors::RunContext;
use imm_lang::diagnostics::{Code, Diagnostic};
use imm_lang::evaluate::{self, Evaluated, NoConfiguration, Reevaluate, Reevaluation};
use imm_planner::plan::{Action, Plan};
use imm_planner::state::{State, StoredOutput};
use imm_planner::stored::FingerprintKey;
use indexmap::IndexMap;

/// How an apply or destroy went.
pub struct Applied {
    pub state: State,
    pub outcome: Outcome,
    /// The outputs recorded, when the apply succeeded.
    pub outputs: Option<IndexMap<String, StoredOutput>>,
    /// What the preflight found and did (swept orphans).
    pub notes: Vec<String>,
    /// One diagnostic per failure, each under its executor's code and help.
    pub failures: Vec<Diagnostic>,
    /// The `check` blocks (`check.NAME`) whose asserts were false once the
    /// apply was done.
    pub failed_checks: Vec<String>,
}

/// Whether the plan asks for anything to be done (or recorded: a first
/// apply records the lineage, a lifecycle change its new setting).
pub fn has_work(planned: &Planned) -> bool {
    let outputs_change = planned
        .plan
        .outputs
        .iter()
        .any(|o| o.action != Action::Noop);
    let recorded: std::collections::HashMap<&str, bool> = planned
        .state
        .resources
        .iter()
        .map(|r| (r.address.as_str(), r.prevent_destroy))
        .collect();
    let lifecycle_change = planned.evaluated.instances.iter().any(|i| {
        recorded
            .get(i.address.as_str())
            .is_some_and(|&recorded| recorded != i.prevent_destroy)
    });
    planned.plan.summary.has_changes()
        || outputs_change
        || lifecycle_change
        || planned.state.serial == 0
}

/// Carries out a plan made by `make_plan` under the same lock.
pub fn apply(
    session: &Session,
    site: &StateSite,
    planned: Planned,
    parallelism: usize,
    events: &mut dyn FnMut(Event),
) -> Result<Applied> {
    let Planned {
        mut loaded,
        state,
        key,
        evaluated,
        plan,
        ..
    } = planned;
    let context = run_context(&loaded, &state);
    // What a failed apply may put back in a store (see below).
    let writes_stores = plan.changes.iter().any(|c| {
        c.action != Action::Noop
            && imm_lang::types::in_family(&c.type_name, imm_lang::types::Family::Store)
    });
    let before = writes_stores.then(|| state.clone());
    // Read now, not at plan time: another environment may have applied
    // while this plan waited for its confirmation.
    let others = OtherEnvironments::read(&loaded, site);
    let walk = Walk {
        session,
        site,
        plan: &plan,
        key: &key,
        parallelism,
        promotion: crate::policy::promotion(&loaded, &others, &state),
        stores: &loaded.stores,
        in_use_elsewhere: crate::policy::in_use_elsewhere(&others),
    };
    let (mut state, outcome, mut notes) = {
        let mut reevaluation = Reevaluation {
            project: &mut loaded.project,
            environment: &loaded.environment,
            inputs: &loaded.inputs,
        };
        walk.run(context, state, evaluated, &mut reevaluation, events)?
    };
    if let (false, Some(before)) = (outcome.succeeded(), &before) {
        notes.extend(crate::config::keep_store_with_consumers(
            session,
            &loaded.stores,
            &plan,
            before,
            &mut state,
            &outcome,
        ));
    }
    let conditions = match outcome.succeeded() {
        true => crate::conditions::after_apply(&mut loaded, &state),
        false => Default::default(),
    };
    notes.extend(conditions.check_warnings);
    let outputs = if outcome.succeeded() && conditions.failures.is_empty() {
        final_outputs(&mut loaded, &state)
    } else {
        None
    };
    if let Some(outputs) = &outputs {
        state.outputs = outputs.clone();
    }
    let failures = failures(&outcome);
    record(site, &mut state, &failures)?;
    if !conditions.failures.is_empty() {
        return Err(crate::Error::in_files(
            conditions.failures,
            &loaded.project.sources,
        ));
    }
    Ok(Applied {
        state,
        outcome,
        outputs,
        notes,
        failures,
        failed_checks: conditions.failed_checks,
    })
}

/// Carries out a destroy plan (`imm_planner::plan::destroy_plan`).
#[allow(clippy::too_many_arguments)]
pub fn destroy(
    session: &Session,
    site: &StateSite,
    loaded: &Loaded,
    state: State,
    key: &FingerprintKey,
    plan: &Plan,
    parallelism: usize,
    events: &mut dyn FnMut(Event),
) -> Result<Applied> {
    let context = run_context(loaded, &state);
    let walk = Walk {
        session,
        site,
        plan,
        key,
        parallelism,
        promotion: None,
        stores: &loaded.stores,
        in_use_elsewhere: crate::policy::in_use_elsewhere(&OtherEnvironments::read(loaded, site)),
    };
    let (mut state, outcome, notes) = walk.run(
        context,
        state,
        Evaluated::default(),
        &mut NoConfiguration,
        events,
    )?;
    if outcome.succeeded() {
        state.outputs.clear();
    }
    let failures = failures(&outcome);
    record(site, &mut state, &failures)?;
    Ok(Applied {
        state,
        outcome,
        outputs: None,
        notes,
        failures,
        failed_checks: Vec::new(),
    })
}

/// One run of the engine over a plan, with what it needs around it.
struct Walk<'a> {
    session: &'a Session,
    site: &'a StateSite,
    plan: &'a Plan,
    key: &'a FingerprintKey,
    parallelism: usize,
    promotion: Option<Promotion>,
    stores: &'a imm_executors::stores::Stores,
    /// Artifacts other environments still record: kept, not destroyed.
    in_use_elsewhere: std::collections::HashSet<(String, String)>,
}

impl Walk<'_> {
    fn run(
        self,
        context: RunContext,
        state: State,
        evaluated: Evaluated,
        reevaluate: &mut dyn Reevaluate,
        events: &mut dyn FnMut(Event),
    ) -> Result<(State, Outcome, Vec<String>)> {
        preflight::check_executors(self.session, self.plan)?;
        let notes = preflight::sweep_orphans(self.session, self.plan, &state, &context)?;
        preflight::check_stores(self.session, self.plan, self.stores)?;
        if state.serial == 0 {
            // The lineage labels every object: it must outlive a crash of
            // the very first apply, so the next run recognises what it left.
            self.site.save(&state)?;
        }
        let journal = self.site.journal()?;
        let engine = Engine {
            plan: self.plan,
            run: context.clone(),
            state,
            journal,
            key: self.key,
            registry: &self.session.registry,
            parallelism: self.parallelism,
            promotion: self.promotion,
            in_use_elsewhere: self.in_use_elsewhere,
        };
        let (state, outcome) = self
            .session
            .runtime
            .block_on(engine.apply(evaluated, reevaluate, events));
        // A run killed while a create was in flight can have the daemon
        // finish it after the sweep above: sweeping once more against what
        // this run recorded catches it before anyone relies on the count.
        let mut notes = notes;
        match preflight::sweep_orphans(self.session, self.plan, &state, &context) {
            Ok(found) => notes.extend(found),
            Err(e) => notes.extend(e.diagnostics.iter().map(|d| {
                format!(
                    "objects left by an interrupted run were not swept: {}",
                    d.message
                )
            })),
        }
        Ok((state, outcome, notes))
    }
}

/// Writes the state document (a new serial) and drops the journal it now
/// holds. When the document cannot be written, the journal stays for the
/// next run to fold in, and the error keeps what went wrong in the apply.
fn record(site: &StateSite, state: &mut State, failures: &[Diagnostic]) -> Result<()> {
    state.serial += 1;
    if let Err(mut e) = site.save(state) {
        let mut diagnostics = failures.to_vec();
        diagnostics.append(&mut e.diagnostics);
        e.diagnostics = diagnostics;
        return Err(e);
    }
    site.clear_journal()
}

/// One diagnostic per failure of an apply, under the code and with the
/// help its executor (or the engine) gave.
fn failures(outcome: &Outcome) -> Vec<Diagnostic> {
    let mut diags: Vec<Diagnostic> = outcome
        .failed
        .iter()
        .map(|(address, failure)| {
            Diagnostic::new(failure.code, format!("{address}: {}", failure.message))
                .with_help(failure.help_text())
        })
        .collect();
    if let Some(e) = &outcome.journal_error {
        diags.push(
            Diagnostic::new(
                Code::JournalUnwritable,
                format!("{e}: no further step was started"),
            )
            .with_help(Code::JournalUnwritable.help()),
        );
    }
    if !outcome.skipped.is_empty() {
        diags.push(
            Diagnostic::new(
                Code::ActionFailed,
                format!(
                    "not attempted because something they wait for failed: {}",
                    distinct(&outcome.skipped).join(", ")
                ),
            )
            .with_help("they are planned again on the next apply"),
        );
    }
    if !outcome.not_started.is_empty() {
        diags.push(
            Diagnostic::new(
                Code::ActionFailed,
                format!(
                    "interrupted before starting: {}",
                    distinct(&outcome.not_started).join(", ")
                ),
            )
            .with_help("apply again to finish"),
        );
    }
    diags
}

/// The outputs with every value now known.
fn final_outputs(loaded: &mut Loaded, state: &State) -> Option<IndexMap<String, StoredOutput>> {
    let known = state.known_outs(|_| false);
    let evaluated = Reevaluation {
        project: &mut loaded.project,
        environment: &loaded.environment,
        inputs: &loaded.inputs,
    }
    .reevaluate(&known)
    .ok()?;
    Some(
        evaluated
            .outputs
            .iter()
            .map(|(k, o)| (k.clone(), stored(o)))
            .collect(),
    )
}

pub fn stored(output: &evaluate::OutputValue) -> StoredOutput {
    if output.sensitive {
        return StoredOutput {
            value: None,
            sensitive: true,
        };
    }
    StoredOutput {
        value: Some(output.value.to_redacted_json()),
        sensitive: false,
    }
}

/// Each address once, in first-seen order (a replacement has two steps).
fn distinct(addresses: &[String]) -> Vec<&str> {
    let mut seen = std::collections::HashSet::new();
    addresses
        .iter()
        .map(String::as_str)
        .filter(|a| seen.insert(*a))
        .collect()
}
