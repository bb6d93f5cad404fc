//! What an up step needs before it may start: its instance with every
//! value known (evaluated again when it waits on values an earlier step
//! produced), its artifact's fingerprint, and `promote_from`'s consent.
//! A refusal is a message: the step fails without touching anything.

use super::schedule::Kind;
use super::walk::Progress;
use super::{KnownOuts, Recorder};
use crate::ActionError;
use imm_lang::diagnostics::Code;
use imm_lang::evaluate::Instance;
use imm_planner::plan::{self, Change};
use imm_stdlib::Value;

impl Recorder<'_, '_> {
    /// Out attributes of every recorded instance whose record is current:
    /// not one whose new object or revision is still to come.
    pub(super) fn known_outs(&self, progress: &[Progress]) -> KnownOuts {
        let pending: std::collections::HashSet<&str> = self
            .steps
            .iter()
            .zip(progress)
            .filter(|(step, progress)| step.kind == Kind::Up && **progress != Progress::Done)
            .map(|(step, _)| self.engine.plan.changes[step.change].address.as_str())
            .collect();
        self.engine
            .state
            .known_outs(|address| pending.contains(address))
    }

    /// The instance with a fully known configuration, evaluating again if
    /// it waits on values that became known since the last evaluation.
    pub(super) fn known_instance(
        &mut self,
        address: &str,
        progress: &[Progress],
    ) -> Result<Instance, ActionError> {
        let needs_values = self
            .instances
            .get(address)
            .is_none_or(|i| i.config.values().any(Value::contains_unknown));
        if needs_values && self.stale_evaluation {
            let known = self.known_outs(progress);
            let fresh = self.reevaluate.reevaluate(&known).map_err(|d| {
                ActionError::new(
                    d.code,
                    format!("evaluating again with the new values: {}", d.message),
                )
            })?;
            for instance in fresh.instances {
                self.instances.insert(instance.address.clone(), instance);
            }
            self.stale_evaluation = false;
        }
        let instance = self.instances.get(address).ok_or_else(|| {
            ActionError::new(
                Code::StalePlan,
                format!("{address} is no longer in the configuration"),
            )
        })?;
        if let Some((name, _)) = instance.config.iter().find(|(_, v)| v.contains_unknown()) {
            return Err(ActionError::new(
                Code::ExecutorConfig,
                format!(
                    "{address}: `{name}` is still unknown when it is to be created (it refers to something this apply did not produce)"
                ),
            ));
        }
        Ok(instance.clone())
    }

    /// The plan's fingerprint when it knew it (the context was hashed
    /// moments ago); computed now when its inputs were still unknown then.
    /// An environment with `promote_from` accepts only what its source
    /// built, applied and tested.
    pub(super) fn promoted_fingerprint(
        &mut self,
        change: &Change,
        instance: &Instance,
    ) -> Result<Option<String>, ActionError> {
        let fingerprint = if change.fingerprint.is_some() {
            change.fingerprint.clone()
        } else if imm_lang::types::is_artifact(&instance.type_name) {
            let key = self.engine.key;
            plan::fingerprint_of(instance, &instance.config, key, &mut self.contexts)
                .map_err(|message| ActionError::new(Code::FingerprintFailed, message))?
        } else {
            None
        };
        if let (Some(fp), Some(promotion)) = (&fingerprint, &self.engine.promotion) {
            if !promotion.fingerprints.contains(fp) {
                return Err(ActionError::new(
                    Code::NotPromoted,
                    format!(
                        "artifact {} was not built, applied and tested in \"{}\" (promote_from)",
                        &fp[..12.min(fp.len())],
                        promotion.from
                    ),
                )
                .with_help(format!(
                    "apply it to \"{}\" first (its tests must pass there), then here",
                    promotion.from
                )));
            }
        }
        Ok(fingerprint)
    }
}
