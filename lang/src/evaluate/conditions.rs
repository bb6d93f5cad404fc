//! Conditions, Terraform's way: a resource's or output's `precondition`s
//! (a false one is an error at the condition, which stops the plan), a
//! resource's `postcondition`s (checked with `self` once its out attributes
//! are known), and `check` blocks' asserts (warnings, never blocking). A
//! condition whose value is not known yet is left for the apply.

use super::*;
use crate::decl::{Check, Condition};

/// How one `check` block fared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// `check.NAME`, inside `module.NAME.` for a child module's.
    pub address: String,
    pub status: CheckStatus,
    /// The error messages of the asserts that are false.
    pub messages: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStatus {
    Pass,
    Fail,
    /// Some assert reads a value known only after the apply.
    Unknown,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pass => "pass",
            CheckStatus::Fail => "fail",
            CheckStatus::Unknown => "known after apply",
        }
    }
}

/// What a condition came to.
pub enum Verdict {
    Holds,
    /// False, with its error message.
    Fails(String),
    Unknown,
}

/// Evaluates one condition and, when it is false, its message. A
/// condition that is not a bool is reported and counts as holding.
pub fn judge(ev: &mut Evaluator<'_>, condition: &Condition, diags: &mut Diagnostics) -> Verdict {
    let value = match ev.eval(&condition.condition) {
        Ok(v) => v.unmark_deep().0,
        Err(d) => {
            diags.push(d);
            return Verdict::Holds;
        }
    };
    match value {
        Value::Bool(true) => Verdict::Holds,
        Value::Unknown(_) => Verdict::Unknown,
        Value::Bool(false) => Verdict::Fails(message(ev, condition)),
        other => {
            diags.push(
                Diagnostic::at(
                    Code::TypeMismatch,
                    condition.condition.span,
                    format!("a condition must be a bool, not a {}", other.type_name()),
                )
                .with_help("write a comparison or a call that gives true or false"),
            );
            Verdict::Holds
        }
    }
}

fn message(ev: &mut Evaluator<'_>, condition: &Condition) -> String {
    match ev.eval(&condition.message) {
        Ok(m) if m.contains_sensitive() => "(the error message is sensitive and not shown)".into(),
        Ok(m) if m.contains_unknown() => "(the error message is not known yet)".into(),
        Ok(m) => m.display(),
        Err(_) => "the condition is false".into(),
    }
}

/// Whose conditions are judged: the instance or output named in messages
/// (`exec.x[0]`), and the checkable object it belongs to (`exec.x`).
pub(super) struct Owner<'a> {
    pub address: &'a str,
    pub subject: &'a str,
}

/// A failed pre- or postcondition, at its condition.
fn failed(
    code: Code,
    condition: &Condition,
    what: &str,
    owner: &Owner,
    message: String,
) -> Diagnostic {
    let address = owner.address;
    let help = match code {
        Code::PostconditionFailed => format!("{address} exists and is recorded in state; fix its configuration or the condition and apply again"),
        _ => format!("fix the values this condition reads, or the condition; nothing was planned past {address}"),
    };
    Diagnostic::at(
        code,
        condition.condition.span,
        format!("{address}: {what} failed: {message}"),
    )
    .with_primary_label("this condition is false")
    .with_help(help)
    .with_subject(owner.subject)
}

impl Run<'_, '_> {
    /// Checks preconditions (`what` = "precondition") in the current scope.
    pub(super) fn preconditions(
        &mut self,
        ev: &mut Evaluator<'_>,
        conditions: &[Condition],
        owner: &Owner,
    ) {
        self.conditions(
            ev,
            conditions,
            owner,
            Code::PreconditionFailed,
            "precondition",
        );
    }

    /// Checks a resource instance's postconditions with `self` = `value`.
    pub(super) fn postconditions(
        &mut self,
        ev: &mut Evaluator<'_>,
        conditions: &[Condition],
        owner: &Owner,
        value: &BTreeMap<String, Value>,
    ) {
        if conditions.is_empty() {
            return;
        }
        ev.roots.insert("self".into(), Value::Map(value.clone()));
        self.conditions(
            ev,
            conditions,
            owner,
            Code::PostconditionFailed,
            "postcondition",
        );
        ev.roots.remove("self");
    }

    fn conditions(
        &mut self,
        ev: &mut Evaluator<'_>,
        conditions: &[Condition],
        owner: &Owner,
        code: Code,
        what: &str,
    ) {
        if self.mode != Mode::Plan {
            return;
        }
        for condition in conditions {
            if let Verdict::Fails(message) = judge(ev, condition, &mut self.diags) {
                self.diags
                    .push(failed(code, condition, what, owner, message));
            }
        }
    }

    /// Evaluates a module's `check` blocks (after everything else in it).
    pub(super) fn checks(
        &mut self,
        ev: &mut Evaluator<'_>,
        checks: &IndexMap<String, Check>,
        prefix: &str,
    ) {
        if self.mode != Mode::Plan {
            return;
        }
        for check in checks.values() {
            let address = format!("{prefix}check.{}", check.name.name);
            let mut result = CheckResult {
                address: address.clone(),
                status: CheckStatus::Pass,
                messages: Vec::new(),
            };
            for assert in &check.asserts {
                match judge(ev, assert, &mut self.diags) {
                    Verdict::Holds => {}
                    Verdict::Unknown => {
                        if result.status == CheckStatus::Pass {
                            result.status = CheckStatus::Unknown;
                        }
                    }
                    Verdict::Fails(message) => {
                        result.status = CheckStatus::Fail;
                        self.diags.push(
                            Diagnostic::at(
                                Code::CheckFailed,
                                assert.condition.span,
                                format!("{address}: {message}"),
                            )
                            .with_primary_label("this assert is false")
                            .with_help(
                                "checks never block: fix what the check watches, or the assert",
                            )
                            .with_subject(address.clone()),
                        );
                        result.messages.push(message);
                    }
                }
            }
            self.checks.push(result);
        }
    }
}
