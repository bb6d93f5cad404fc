//! Conditions once an apply has carried its plan out: every value is known
//! now, so the postconditions (and preconditions left unknown at plan
//! time) are judged, and `check` blocks reported again. A false
//! postcondition fails the apply; the object it names stays recorded.

use crate::load::Loaded;
use imm_lang::diagnostics::{Code, Diagnostic};
use imm_lang::evaluate::{self, Mode};
use imm_planner::state::State;

/// What the conditions found after an apply.
#[derive(Default)]
pub struct AfterApply {
    /// False pre- or postconditions: the apply fails with them.
    pub failures: Vec<Diagnostic>,
    /// Failed checks, as lines for the report (they never block).
    pub check_warnings: Vec<String>,
    /// The failed checks' addresses (`check.NAME`).
    pub failed_checks: Vec<String>,
}

/// Evaluates the project with the outs the new state records.
pub fn after_apply(loaded: &mut Loaded, state: &State) -> AfterApply {
    let mut inputs = loaded.inputs.clone();
    inputs.known_outs = state.known_outs(|_| false);
    let (_, diags) = evaluate::evaluate(
        &mut loaded.project,
        &loaded.environment,
        &inputs,
        Mode::Plan,
    );
    let mut found = AfterApply::default();
    for d in diags.0 {
        match d.code {
            Code::PreconditionFailed | Code::PostconditionFailed => found.failures.push(d),
            Code::CheckFailed => {
                found
                    .check_warnings
                    .push(format!("warning[{}]: {}", d.code, d.message));
                found.failed_checks.extend(d.subject.map(|s| s.address));
            }
            _ => {}
        }
    }
    found
}

/// A line for each `check` whose asserts wait for values known only after
/// the apply: not a failure, but the reviewer should know it is not judged.
pub fn checks_known_after_apply(evaluated: &evaluate::Evaluated) -> Vec<String> {
    evaluated
        .checks
        .iter()
        .filter(|c| c.status == evaluate::CheckStatus::Unknown)
        .map(|c| {
            format!(
                "{}: known after apply (judged when the apply ends)",
                c.address
            )
        })
        .collect()
}
