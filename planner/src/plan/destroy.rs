//! The plan of `imm destroy`, and the destroy of one recorded instance.

use super::model::*;
use crate::state::{ResourceRecord, State};
use imm_lang::diagnostics::{Code, Diagnostic};
use imm_lang::types;

/// The destroy of a recorded instance.
pub(crate) fn destroy_change(record: &ResourceRecord, reason: &str) -> Change {
    Change {
        address: record.address.clone(),
        type_name: record.type_name.clone(),
        action: Action::Destroy,
        reasons: vec![reason.to_string()],
        before: Some(crate::stored::shown_attributes(record)),
        after: None,
        changed: Vec::new(),
        artifact: types::is_artifact(&record.type_name),
        fingerprint: record.fingerprint.clone(),
        depends_on: record.dependencies.clone(),
        stop_first: false,
        deposed: record.deposed.len(),
        reuse: false,
        reused_outs: None,
        notes: Vec::new(),
        moved_from: None,
    }
}

/// The plan of `imm destroy`: every recorded instance destroyed, the ones
/// that used others first. An instance with `prevent_destroy` is an error.
pub fn destroy_plan(state: &State) -> (Plan, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let changes: Vec<Change> = state
        .resources
        .iter()
        .map(|record| {
            if record.prevent_destroy {
                diagnostics.push(
                    Diagnostic::new(
                        Code::PreventDestroy,
                        format!("{} has lifecycle.prevent_destroy: imm destroy will not destroy it", record.address),
                    )
                    .with_help(format!(
                        "set prevent_destroy = false and apply first, or `imm state rm {}` to keep the object and forget it",
                        record.address
                    )),
                );
            }
            destroy_change(record, "imm destroy")
        })
        .collect();
    let outputs = state
        .outputs
        .iter()
        .map(|(name, o)| OutputChange {
            name: name.clone(),
            action: Action::Destroy,
            before: o.value.clone(),
            after: None,
            sensitive: o.sensitive,
        })
        .collect();
    let plan = Plan {
        format_version: PLAN_FORMAT_VERSION.into(),
        environment: state.environment.clone(),
        state: StateRef {
            lineage: (state.serial > 0).then(|| state.lineage.clone()),
            serial: state.serial,
        },
        summary: summarise(&changes),
        changes,
        outputs,
        warnings: Vec::new(),
        policies: Vec::new(),
        config_hash: String::new(),
    };
    (plan, diagnostics)
}
