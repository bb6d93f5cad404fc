//! What a finished step leaves in state: its record (with a replaced
//! object kept as deposed until its down step), the artifact ledger, and
//! the journal entry that makes both durable before the next step starts.

use super::schedule::{Kind, Progress, Step};
use super::{Engine, KnownOuts};
use crate::journal::JournalError;
use crate::Created;
use imm_lang::evaluate::Instance;
use imm_planner::journal::Entry;
use imm_planner::plan::Action;
use imm_planner::state::{ArtifactEntry, Deposed, ResourceRecord};
use std::collections::HashMap;

impl Engine<'_> {
    /// Out attributes of every recorded instance whose record is current:
    /// not one whose new object or revision is still to come.
    pub(super) fn known_outs(&self, steps: &[Step]) -> KnownOuts {
        let pending: std::collections::HashSet<&str> = steps
            .iter()
            .filter(|s| s.kind == Kind::Up && s.progress != Progress::Done)
            .map(|s| self.plan.changes[s.change].address.as_str())
            .collect();
        self.state.known_outs(|address| pending.contains(address))
    }

    /// Records a new object (or revision), keeping a replaced one as
    /// deposed until its down step removes it.
    pub(super) async fn record_created(
        &mut self,
        instance: &Instance,
        created: Created,
        fingerprint: Option<String>,
        action: Action,
        original: &HashMap<String, ResourceRecord>,
    ) -> Result<(), JournalError> {
        let change = self.plan.change(&instance.address);
        let artifact_outs = created.outs.clone();
        let dependencies = change.map(|c| c.depends_on.clone()).unwrap_or_default();
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
    pub(super) async fn put(&mut self, record: ResourceRecord) -> Result<(), JournalError> {
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
