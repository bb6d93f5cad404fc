//! The replace-only diff (LANGUAGE.md §6): every instance in configuration
//! or state gets one action — create, replace (with its reasons),
//! reconfigure, destroy or no-op — and the plan is data first, rendered by
//! `render`.
//!
//! The planner answers the evaluator's [`OutsOracle`] questions: as each
//! instance is evaluated (in dependency order) it is compared with its
//! record; an instance kept as it is passes its recorded out attributes on,
//! one created or replaced passes on only what can be known before apply
//! (a fingerprint, a tag, a checksum) and leaves the rest unknown. So a
//! change reaches exactly the instances whose values it changes, however
//! deep, and a run-time change never reaches an artifact.

use crate::fingerprint;
use crate::graph::instance_dependencies;
use crate::state::{ResourceRecord, State, Status};
use crate::stored::{differences, stored_form, Difference, FingerprintKey};
use imm_lang::diagnostics::{Code, Diagnostic};
use imm_lang::evaluate::{Evaluated, Instance, OutsOracle};
use imm_lang::schema::Phase;
use imm_lang::types::{self, Prediction};
use imm_stdlib::Value;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

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
    /// What a reviewer should know besides the reasons (where an artifact
    /// was tested, for promotion).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
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
    /// Artifacts among the creates and replaces (built, not deployed).
    pub build: usize,
}

impl Summary {
    pub fn has_changes(&self) -> bool {
        self.create + self.replace + self.reconfigure + self.destroy > 0
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
        format!(
            "Plan: {} to build, {} to replace, {} to create, {} to destroy, {} to reconfigure.",
            self.build,
            self.replace - artifacts(Action::Replace),
            self.create - artifacts(Action::Create),
            self.destroy,
            self.reconfigure
        )
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
    /// Hash of the configuration and every input (sensitive ones keyed);
    /// a saved plan is refused when it differs at apply time. Only saved
    /// plans carry it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub config_hash: String,
}

impl Plan {
    pub fn change(&self, address: &str) -> Option<&Change> {
        self.changes.iter().find(|c| c.address == address)
    }
}

/// What the plan is asked to do besides diffing.
#[derive(Debug, Default, Clone)]
pub struct PlanOptions {
    /// `--replace ADDR`: instance addresses (or resource addresses, for all
    /// their instances) to replace although nothing changed.
    pub force_replace: BTreeSet<String>,
    /// Instances found different from their record by a refresh, with what
    /// was found.
    pub drifted: HashMap<String, String>,
}

/// The planner's decision for one instance, made during evaluation.
struct Decision {
    action: Action,
    reasons: Vec<String>,
    changed: Vec<String>,
    fingerprint: Option<String>,
}

/// Answers the evaluator as it goes, and remembers every decision.
pub struct Planner<'a> {
    /// The project's name, part of the names of the objects it creates.
    project: String,
    records: HashMap<&'a str, &'a ResourceRecord>,
    key: &'a FingerprintKey,
    options: &'a PlanOptions,
    decisions: HashMap<String, Decision>,
    /// Resource addresses (without keys) with an instance created or
    /// replaced, and whether they are artifacts.
    changing: HashMap<String, bool>,
    contexts: ContextCache,
    diagnostics: Vec<Diagnostic>,
}

impl<'a> Planner<'a> {
    pub fn new(
        project: &str,
        state: &'a State,
        key: &'a FingerprintKey,
        options: &'a PlanOptions,
    ) -> Planner<'a> {
        Planner {
            project: project.to_string(),
            records: state
                .resources
                .iter()
                .map(|r| (r.address.as_str(), r))
                .collect(),
            key,
            options,
            decisions: HashMap::new(),
            changing: HashMap::new(),
            contexts: HashMap::new(),
            diagnostics: Vec::new(),
        }
    }

    fn decide(&mut self, instance: &Instance, config: &BTreeMap<String, Value>) -> Decision {
        let resource_type = types::get(&instance.type_name);
        let artifact = resource_type.is_some_and(types::ResourceType::is_artifact);
        let fingerprint = if artifact {
            self.fingerprint(instance, config)
        } else {
            None
        };
        let Some(record) = self.records.get(instance.address.as_str()).copied() else {
            return Decision {
                action: Action::Create,
                reasons: Vec::new(),
                changed: Vec::new(),
                fingerprint,
            };
        };
        let mut diffs = differences(
            config,
            &record.attributes,
            &record.sensitive,
            self.key,
            &["test", "lifecycle"],
        );
        let mut reasons = Vec::new();
        if artifact {
            let same_artifact = fingerprint.is_some() && fingerprint == record.fingerprint;
            if same_artifact {
                // The fingerprint is the artifact's identity: a build path
                // that changed without changing it (a renamed context
                // directory) changes nothing.
                diffs.retain(|d| !d.path().starts_with("build"));
            } else if fingerprint.is_some() && !diffs.iter().any(|d| d.path().starts_with("build"))
            {
                let context = config
                    .get("build")
                    .and_then(|b| match b {
                        Value::Map(m) => m.get("context"),
                        _ => None,
                    })
                    .map(Value::display)
                    .unwrap_or_else(|| "inputs".into());
                reasons.push(format!("build changed (files in {context})"));
            }
        }
        let forced = self.options.force_replace.contains(&instance.address)
            || self.options.force_replace.contains(&instance.resource);
        if forced {
            reasons.push("forced (--replace)".into());
        }
        if let Some(found) = self.options.drifted.get(&instance.address) {
            reasons.push(format!("drifted ({found})"));
        }
        if record.status == Status::Tainted {
            reasons.push("tainted (an earlier apply created it but did not accept it)".into());
        }
        let changed: Vec<String> = diffs.iter().map(|d| d.path().to_string()).collect();
        // A config resource whose values alone change (or were changed in
        // the store behind imm's back) gets a new revision, even when a
        // value waits on something upstream being replaced.
        let reconfigurable = resource_type.and_then(|t| t.reconfigurable);
        let only_values =
            reconfigurable.is_some_and(|in_place| diffs.iter().all(|d| in_place(d.path())));
        let drift_only = reasons.len() == 1 && self.options.drifted.contains_key(&instance.address);
        if reasons.is_empty() && diffs.is_empty() {
            reasons.extend(self.renamed(instance, config, record, fingerprint.as_deref()));
        }
        let action = if reasons.is_empty() && diffs.is_empty() {
            Action::Noop
        } else if only_values && (reasons.is_empty() || drift_only) {
            Action::Reconfigure
        } else {
            reasons.extend(self.reasons_for(instance, &diffs));
            Action::Replace
        };
        Decision {
            action,
            reasons,
            changed,
            fingerprint,
        }
    }

    /// An object this version would name otherwise than its record says
    /// (an image tag made before repositories were scoped to the project):
    /// it is replaced under its new name.
    fn renamed(
        &self,
        instance: &Instance,
        config: &BTreeMap<String, Value>,
        record: &ResourceRecord,
        fingerprint: Option<&str>,
    ) -> Option<String> {
        let identity = types::get(&instance.type_name)?.identity_outs;
        let predicted = self.predict(instance, config, fingerprint);
        let changed: Vec<String> = predicted
            .iter()
            .filter(|(name, value)| identity.contains(&name.as_str()) && !value.contains_unknown())
            .filter_map(|(name, value)| {
                let recorded = Value::from_json(record.outs.get(name)?);
                let (now, _) = value.clone().unmark_deep();
                (recorded != now)
                    .then(|| format!("{name} {} → {}", recorded.display(), now.display()))
            })
            .collect();
        (!changed.is_empty()).then(|| format!("renamed ({})", changed.join(", ")))
    }

    /// What the instance's type predicts of its out attributes.
    fn predict(
        &self,
        instance: &Instance,
        config: &BTreeMap<String, Value>,
        fingerprint: Option<&str>,
    ) -> BTreeMap<String, Value> {
        let Some(resource_type) = types::get(&instance.type_name) else {
            return BTreeMap::new();
        };
        (resource_type.predict_outs)(&Prediction {
            project: &self.project,
            resource_name: &instance.name,
            config,
            fingerprint,
        })
    }

    /// One line per kind of cause: the build paths, the upstream objects
    /// being replaced, the other paths.
    fn reasons_for(&self, instance: &Instance, diffs: &[Difference]) -> Vec<String> {
        let mut build = Vec::new();
        let mut runtime = Vec::new();
        let mut upstream: BTreeSet<String> = BTreeSet::new();
        let mut causes: Option<Vec<String>> = None;
        for diff in diffs {
            let (phase, shown) = phase_of(&instance.type_name, diff.path());
            if let Difference::Unknown(path) = diff {
                let causes = causes.get_or_insert_with(|| self.changing_dependencies(instance));
                if causes.is_empty() {
                    runtime.push(path.clone());
                } else {
                    upstream.extend(causes.iter().cloned());
                }
                continue;
            }
            match phase {
                Phase::Build => build.push(shown),
                _ => runtime.push(shown),
            }
        }
        let mut reasons = Vec::new();
        if !build.is_empty() {
            reasons.push(format!("build changed ({})", build.join(", ")));
        }
        for address in upstream {
            let artifact = self.changing.get(&address).copied().unwrap_or(false);
            let kind = if artifact {
                "artifact rebuilt"
            } else {
                "dependency replaced"
            };
            reasons.push(format!("{kind} ({address})"));
        }
        if !runtime.is_empty() {
            reasons.push(format!("runtime changed ({})", runtime.join(", ")));
        }
        reasons
    }

    /// Resources this instance depends on that have an instance being
    /// created or replaced.
    fn changing_dependencies(&self, instance: &Instance) -> Vec<String> {
        let mut found = Vec::new();
        for dep in &instance.depends_on {
            if self.changing.contains_key(dep) {
                found.push(dep.clone());
            } else if dep.starts_with("module.") {
                let prefix = format!("{dep}.");
                found.extend(
                    self.changing
                        .keys()
                        .filter(|k| k.starts_with(&prefix))
                        .cloned(),
                );
            }
        }
        found
    }

    /// The artifact's fingerprint, or `None` while its inputs are unknown
    /// (or unreadable: then a diagnostic says why).
    fn fingerprint(
        &mut self,
        instance: &Instance,
        config: &BTreeMap<String, Value>,
    ) -> Option<String> {
        match fingerprint_of(instance, config, self.key, &mut self.contexts) {
            Ok(fp) => fp,
            Err(message) => {
                self.diagnostics.push(
                    Diagnostic::at(
                        Code::FingerprintFailed,
                        instance.span,
                        format!("cannot fingerprint the build of {}: {message}", instance.address),
                    )
                    .with_help("check that build.context names a readable directory (relative to the module) with the Dockerfile in it"),
                );
                None
            }
        }
    }

    /// Out attributes after the apply, as far as they can be known now.
    fn outs_after(
        &self,
        instance: &Instance,
        config: &BTreeMap<String, Value>,
        decision: &Decision,
    ) -> BTreeMap<String, Value> {
        let recorded = || {
            self.records
                .get(instance.address.as_str())
                .map(|r| {
                    r.outs
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::from_json(v)))
                        .collect::<BTreeMap<_, _>>()
                })
                .unwrap_or_default()
        };
        let mut outs = match decision.action {
            Action::Noop => return recorded(),
            Action::Reconfigure => {
                let mut outs = recorded();
                outs.remove("revision");
                outs
            }
            _ => BTreeMap::new(),
        };
        outs.extend(self.predict(instance, config, decision.fingerprint.as_deref()));
        outs
    }

    /// Builds the plan from the evaluation this planner took part in.
    pub fn finish(mut self, state: &State, evaluated: &Evaluated) -> (Plan, Vec<Diagnostic>) {
        let deps = instance_dependencies(&evaluated.instances);
        let mut changes = Vec::with_capacity(evaluated.instances.len());
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        for (instance, dep_indices) in evaluated.instances.iter().zip(&deps) {
            seen.insert(instance.address.as_str());
            let Some(decision) = self.decisions.remove(&instance.address) else {
                continue;
            };
            let record = self.records.get(instance.address.as_str()).copied();
            if decision.action == Action::Replace && instance.prevent_destroy {
                self.diagnostics.push(
                    Diagnostic::at(
                        Code::PreventDestroy,
                        instance.span,
                        format!(
                            "{} has lifecycle.prevent_destroy and this plan would replace it: {}",
                            instance.address,
                            decision.reasons.join("; ")
                        ),
                    )
                    .with_help("undo the change that replaces it, or set prevent_destroy = false and apply first if replacing it is really meant"),
                );
            }
            if decision.action != Action::Noop {
                self.check_config(instance);
            }
            let stop_first = decision.action == Action::Replace
                && types::get(&instance.type_name)
                    .is_some_and(|t| (t.stop_first)(&instance.config));
            changes.push(Change {
                address: instance.address.clone(),
                type_name: instance.type_name.clone(),
                action: decision.action,
                reasons: decision.reasons,
                before: record.map(|r| r.attributes.clone()),
                after: Some(redacted(&instance.config)),
                changed: decision.changed,
                artifact: types::is_artifact(&instance.type_name),
                fingerprint: decision.fingerprint,
                depends_on: dep_indices
                    .iter()
                    .map(|&i| evaluated.instances[i].address.clone())
                    .collect(),
                stop_first,
                deposed: record.map(|r| r.deposed.len()).unwrap_or(0),
                notes: Vec::new(),
            });
        }
        for record in &state.resources {
            if seen.contains(record.address.as_str()) {
                continue;
            }
            if record.prevent_destroy {
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::PreventDestroy,
                        format!(
                            "{} has lifecycle.prevent_destroy and is no longer in the configuration: this plan would destroy it",
                            record.address
                        ),
                    )
                    .with_help(format!(
                        "put the resource back; to destroy it, declare it with prevent_destroy = false and apply first; to keep the object but stop managing it, run `imm state rm {}`",
                        record.address
                    )),
                );
            }
            changes.push(destroy_change(record, "no longer in the configuration"));
        }
        self.check_forced_addresses(&changes);
        let summary = summarise(&changes);
        let warnings = changes
            .iter()
            .filter(|c| c.stop_first)
            .map(|c| format!("{} publishes host ports: it is replaced stop-old-then-start-new, so it is down while the new one starts", c.address))
            .collect();
        let plan = Plan {
            format_version: PLAN_FORMAT_VERSION.into(),
            environment: evaluated.environment.clone(),
            state: StateRef {
                lineage: (state.serial > 0).then(|| state.lineage.clone()),
                serial: state.serial,
            },
            changes,
            outputs: output_changes(state, evaluated),
            summary,
            warnings,
            config_hash: String::new(),
        };
        (plan, self.diagnostics)
    }

    /// A configuration about to be applied must parse into its type's
    /// typed struct (what the executor will read); one that does not is
    /// reported here rather than half-way through an apply.
    fn check_config(&mut self, instance: &Instance) {
        if instance.config.values().any(Value::contains_unknown) {
            return;
        }
        let Some(resource_type) = types::get(&instance.type_name) else {
            return;
        };
        if let Err(e) = (resource_type.check_config)(&instance.config) {
            self.diagnostics
                .push(e.to_diagnostic(&instance.address, instance.span));
        }
    }

    fn check_forced_addresses(&mut self, changes: &[Change]) {
        for forced in &self.options.force_replace {
            let matches = changes.iter().any(|c| {
                c.address == *forced
                    || c.address
                        .strip_prefix(forced.as_str())
                        .is_some_and(|rest| rest.starts_with('['))
            });
            if !matches {
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::UnknownAddress,
                        format!("--replace {forced}: no such instance in the configuration"),
                    )
                    .with_help("use an address shown by `imm plan` or `imm state list`, e.g. docker_container.web[0]"),
                );
            }
        }
    }
}

impl OutsOracle for Planner<'_> {
    fn outs(
        &mut self,
        instance: &Instance,
        config: &BTreeMap<String, Value>,
    ) -> BTreeMap<String, Value> {
        let decision = self.decide(instance, config);
        if matches!(decision.action, Action::Create | Action::Replace) {
            self.changing.insert(
                instance.resource.clone(),
                types::is_artifact(&instance.type_name),
            );
        }
        let outs = self.outs_after(instance, config, &decision);
        self.decisions.insert(instance.address.clone(), decision);
        outs
    }
}

/// Digests of Docker build contexts, by directory and Dockerfile, so that
/// images sharing a context read it once per run.
pub type ContextCache = HashMap<(PathBuf, String), Result<String, String>>;

/// An artifact's fingerprint: the hash of its build inputs (for an image,
/// with the digest of its context). `Ok(None)` while an input is unknown.
pub fn fingerprint_of(
    instance: &Instance,
    config: &BTreeMap<String, Value>,
    key: &FingerprintKey,
    contexts: &mut ContextCache,
) -> Result<Option<String>, String> {
    let type_name = instance.type_name.as_str();
    let Some(inputs_of) = types::get(type_name).and_then(|t| t.fingerprint_inputs) else {
        return Err(format!("{type_name} is not an artifact type"));
    };
    let Some(inputs) = inputs_of(config) else {
        return Ok(None);
    };
    let values = stored_form(&inputs.values, key).0.to_string();
    let Some(context) = inputs.context else {
        return Ok(Some(hash_parts(&[type_name.as_bytes(), values.as_bytes()])));
    };
    let dir = instance.module_dir.join(&context.dir);
    let digest = contexts
        .entry((dir.clone(), context.dockerfile.clone()))
        .or_insert_with(|| {
            fingerprint::docker_context(&dir, &context.dockerfile)
                .map(|d| d.hex)
                .map_err(|e| format!("{}: {}", e.path.display(), e.message))
        })
        .clone()?;
    Ok(Some(hash_parts(&[
        type_name.as_bytes(),
        digest.as_bytes(),
        values.as_bytes(),
    ])))
}

/// The destroy of a recorded instance.
fn destroy_change(record: &ResourceRecord, reason: &str) -> Change {
    Change {
        address: record.address.clone(),
        type_name: record.type_name.clone(),
        action: Action::Destroy,
        reasons: vec![reason.to_string()],
        before: Some(record.attributes.clone()),
        after: None,
        changed: Vec::new(),
        artifact: types::is_artifact(&record.type_name),
        fingerprint: record.fingerprint.clone(),
        depends_on: record.dependencies.clone(),
        stop_first: false,
        deposed: record.deposed.len(),
        notes: Vec::new(),
    }
}

/// The phase of the attribute at `path`, and the path as a reason shows
/// it (without the `build.`/`runtime.` block prefix).
fn phase_of(type_name: &str, path: &str) -> (Phase, String) {
    let top = path.split(['.', '[']).next().unwrap_or(path);
    let phase = types::schema(type_name)
        .and_then(|s| s.block(top))
        .map(|b| b.phase)
        .unwrap_or(Phase::Runtime);
    let in_block = types::schema(type_name).is_some_and(|s| s.block(top).is_some());
    let shown = match phase {
        Phase::Build | Phase::Runtime if in_block => path
            .strip_prefix(top)
            .map(|rest| rest.trim_start_matches('.'))
            .filter(|rest| !rest.is_empty())
            .unwrap_or(path)
            .to_string(),
        _ => path.to_string(),
    };
    (phase, shown)
}

fn redacted(config: &BTreeMap<String, Value>) -> serde_json::Value {
    serde_json::Value::Object(
        config
            .iter()
            .map(|(k, v)| (k.clone(), v.to_redacted_json()))
            .collect(),
    )
}

fn hash_parts(parts: &[&[u8]]) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"imm fingerprint v1\0");
    for part in parts {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().to_hex().to_string()
}

fn summarise(changes: &[Change]) -> Summary {
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
            summary.build += 1;
        }
    }
    summary
}

fn output_changes(state: &State, evaluated: &Evaluated) -> Vec<OutputChange> {
    let mut changes: Vec<OutputChange> = evaluated
        .outputs
        .iter()
        .map(|(name, output)| {
            let before = state.outputs.get(name);
            let after = if output.sensitive {
                serde_json::Value::String(crate::stored::SENSITIVE_TEXT.into())
            } else {
                output.value.to_redacted_json()
            };
            let action = match before {
                None => Action::Create,
                Some(b) if !output.sensitive && b.value.as_ref() == Some(&after) => Action::Noop,
                Some(b) if output.sensitive && b.sensitive => Action::Noop,
                Some(_) => Action::Replace,
            };
            OutputChange {
                name: name.clone(),
                action,
                before: before.map(|b| {
                    b.value.clone().unwrap_or(serde_json::Value::String(
                        crate::stored::SENSITIVE_TEXT.into(),
                    ))
                }),
                after: Some(after),
                sensitive: output.sensitive,
            }
        })
        .collect();
    for (name, before) in &state.outputs {
        if !evaluated.outputs.contains_key(name) {
            changes.push(OutputChange {
                name: name.clone(),
                action: Action::Destroy,
                before: before.value.clone(),
                after: None,
                sensitive: before.sensitive,
            });
        }
    }
    changes
}

/// The record of an instance just created (or replaced) by an executor.
pub fn new_record(
    instance: &Instance,
    key: &FingerprintKey,
    fingerprint: Option<String>,
    dependencies: Vec<String>,
    outs: serde_json::Map<String, serde_json::Value>,
    private: serde_json::Value,
) -> ResourceRecord {
    let (attributes, sensitive) = stored_form(&instance.config, key);
    ResourceRecord {
        address: instance.address.clone(),
        type_name: instance.type_name.clone(),
        fingerprint,
        attributes,
        sensitive,
        outs,
        private,
        dependencies,
        prevent_destroy: instance.prevent_destroy,
        status: Status::Ready,
        deposed: Vec::new(),
    }
}

/// Evaluates `project` for `environment` with a planner as the oracle and
/// returns the evaluation and the plan.
pub fn plan_project(
    project: &mut imm_lang::project::Project,
    environment: &str,
    inputs: &imm_lang::evaluate::Inputs,
    state: &State,
    key: &FingerprintKey,
    options: &PlanOptions,
) -> (Evaluated, Plan, Vec<Diagnostic>) {
    let name = project.name();
    let mut planner = Planner::new(&name, state, key, options);
    let (evaluated, eval_diags) = imm_lang::evaluate::evaluate_with(
        project,
        environment,
        inputs,
        imm_lang::evaluate::Mode::Plan,
        &mut planner,
    );
    let (plan, mut diagnostics) = planner.finish(state, &evaluated);
    let mut all = eval_diags.0;
    all.append(&mut diagnostics);
    (evaluated, plan, all)
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
        config_hash: String::new(),
    };
    (plan, diagnostics)
}
