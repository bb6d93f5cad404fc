//! The plan as data: what `imm plan --format json` prints and a saved plan
//! holds (`docs/plan-json.md`). This is a serialisation boundary: change
//! it only with `PLAN_FORMAT_VERSION`.

use serde::{Deserialize, Serialize};

pub const PLAN_FORMAT_VERSION: &str = "1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Replace,
    Reconfigure,
    Destroy,
    Noop,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Replace => "+/-",
            Action::Reconfigure => "~",
            Action::Destroy => "-",
            Action::Noop => " ",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Replace => "replace",
            Action::Reconfigure => "reconfigure",
            Action::Destroy => "destroy",
            Action::Noop => "noop",
        }
    }
}

/// The plan of one instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub address: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub action: Action,
    #[serde(default)]
    pub reasons: Vec<String>,
    /// The recorded configuration (redacted); `null` for a create.
    #[serde(default)]
    pub before: Option<serde_json::Value>,
    /// The new configuration (redacted, unknowns marked); `null` for a destroy.
    #[serde(default)]
    pub after: Option<serde_json::Value>,
    /// Paths whose value changes (a sensitive one included, by its hash).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    /// Whether this is an artifact (has a build block).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub artifact: bool,
    /// The artifact's new fingerprint, when it can be known now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Instance addresses this one waits for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Replaced stop-old-then-start-new (it publishes host ports): downtime.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stop_first: bool,
    /// Earlier objects left by an interrupted replacement, destroyed first.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deposed: usize,
    /// An artifact going back to a fingerprint built and tested here
    /// before: nothing is built, its outs are the recorded ones.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reuse: bool,
    /// The outs of the reused artifact (an image's id, an `exec`'s
    /// outputs): what the executor gives instead of building.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused_outs: Option<serde_json::Map<String, serde_json::Value>>,
    /// What a reviewer should know besides the reasons (where an artifact
    /// was tested, for promotion).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The address the object was recorded at before a `moved` block moved
    /// it here (it is kept, not replaced, for the move).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub replace: usize,
    pub reconfigure: usize,
    pub destroy: usize,
    pub noop: usize,
    /// Artifacts among the creates and replaces (built, not deployed),
    /// those reused excepted.
    pub build: usize,
    /// Artifacts going back to a fingerprint built here before.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reuse: usize,
    /// Objects an interrupted replacement left (deposed), to be removed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub leftovers: usize,
    /// Recorded objects moved to a new address (`moved` blocks).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub moved: usize,
}

impl Summary {
    pub fn has_changes(&self) -> bool {
        self.create + self.replace + self.reconfigure + self.destroy + self.leftovers + self.moved
            > 0
    }

    /// `Plan: 1 to build, 3 to replace, 0 to create, 0 to destroy, 1 to reconfigure.`
    /// Artifacts count as builds only; the other counts exclude them.
    pub fn line(&self, changes: &[Change]) -> String {
        let artifacts = |action: Action| {
            changes
                .iter()
                .filter(|c| c.artifact && c.action == action)
                .count()
        };
        let reused = match self.reuse {
            0 => String::new(),
            n => format!(" {n} to reuse,"),
        };
        let line = format!(
            "Plan: {} to build,{reused} {} to replace, {} to create, {} to destroy, {} to reconfigure.",
            self.build,
            self.replace - artifacts(Action::Replace),
            self.create - artifacts(Action::Create),
            self.destroy,
            self.reconfigure
        );
        let line = match self.moved {
            0 => line,
            n => format!("{line} {n} moved."),
        };
        match self.leftovers {
            0 => line,
            n => format!(
                "{line} {n} left over by an earlier apply (failed or interrupted) to remove."
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateRef {
    pub lineage: Option<String>,
    pub serial: u64,
}

/// An output's value after the apply, as shown in a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputChange {
    pub name: String,
    pub action: Action,
    #[serde(default)]
    pub before: Option<serde_json::Value>,
    #[serde(default)]
    pub after: Option<serde_json::Value>,
    pub sensitive: bool,
}

/// How one policy fared against this plan (`policy` blocks, `--policy DIR`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyResult {
    pub name: String,
    /// `mandatory` or `advisory`.
    pub enforce: String,
    /// `pass`, `fail` or `overridden` (a mandatory one, by `--override-policy`).
    pub status: String,
    /// The error messages of its false asserts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
}

impl PolicyResult {
    /// A mandatory policy that failed and was not overridden: the plan
    /// cannot be applied.
    pub fn blocks(&self) -> bool {
        self.status == "fail" && self.enforce == "mandatory"
    }

    /// `policy "x" (mandatory): fail — message; message`.
    pub fn line(&self) -> String {
        let mut line = format!(
            "policy \"{}\" ({}): {}",
            self.name, self.enforce, self.status
        );
        if !self.messages.is_empty() {
            line.push_str(&format!(" — {}", self.messages.join("; ")));
        }
        line
    }
}

/// One plan: what it was made against and every instance's change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: String,
    pub environment: String,
    pub state: StateRef,
    pub changes: Vec<Change>,
    #[serde(default)]
    pub outputs: Vec<OutputChange>,
    pub summary: Summary,
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Every policy judged against this plan, in the order declared.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<PolicyResult>,
    /// Hash of the configuration and every input (sensitive ones keyed);
    /// a saved plan is refused when it differs at apply time. Only saved
    /// plans carry it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub config_hash: String,
}

impl Plan {
    /// The mandatory policies that fail (not overridden).
    pub fn blocking_policies(&self) -> impl Iterator<Item = &PolicyResult> {
        self.policies.iter().filter(|p| p.blocks())
    }

    pub fn change(&self, address: &str) -> Option<&Change> {
        self.changes.iter().find(|c| c.address == address)
    }
}

pub(crate) fn summarise(changes: &[Change]) -> Summary {
    let mut summary = Summary::default();
    for change in changes {
        match change.action {
            Action::Create => summary.create += 1,
            Action::Replace => summary.replace += 1,
            Action::Reconfigure => summary.reconfigure += 1,
            Action::Destroy => summary.destroy += 1,
            Action::Noop => summary.noop += 1,
        }
        if change.artifact && matches!(change.action, Action::Create | Action::Replace) {
            if change.reuse {
                summary.reuse += 1;
            } else {
                summary.build += 1;
            }
        }
        summary.leftovers += change.deposed;
        summary.moved += usize::from(change.moved_from.is_some());
    }
    summary
}
