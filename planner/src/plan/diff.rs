//! The diff, decided per instance while the evaluator walks the project:
//! the planner is its [`OutsOracle`], compares each instance with its
//! record, and names every reason for a replacement.

use super::artifact::{fingerprint_of, ContextCache};
use super::destroy::destroy_change;
use super::model::*;
use crate::graph::{resource_of, Dependencies};
use crate::state::{ResourceRecord, State, Status};
use crate::stored::{differences, Difference, FingerprintKey};
use imm_lang::diagnostics::{Code, Diagnostic};
use imm_lang::evaluate::{Evaluated, Instance, OutsOracle};
use imm_lang::schema::Phase;
use imm_lang::types::{self, Prediction};
use imm_stdlib::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// What the plan is asked to do besides diffing.
#[derive(Debug, Default, Clone)]
pub struct PlanOptions {
    /// `--replace ADDR`: instance addresses (or resource addresses, for all
    /// their instances) to replace although nothing changed.
    pub force_replace: BTreeSet<String>,
    /// Instances found different from their record by a refresh, with what
    /// was found.
    pub drifted: HashMap<String, String>,
    /// The artifact ledgers of the project's other environments, by
    /// environment: an artifact one of them built and tested is reused,
    /// not built again (built once per fingerprint, promoted as it is).
    pub other_ledgers: Vec<(String, Vec<crate::state::ArtifactEntry>)>,
    /// Instances a `moved` block moved, new address → old: kept as they
    /// are, the names of their objects included.
    pub moved: HashMap<String, String>,
    /// `--target ADDR`: only these instances (resources, modules) and what
    /// they depend on are changed; every other change waits.
    pub targets: BTreeSet<String>,
}

/// The planner's decision for one instance, made during evaluation.
struct Decision {
    action: Action,
    reasons: Vec<String>,
    changed: Vec<String>,
    fingerprint: Option<String>,
    /// The recorded outs of an artifact whose fingerprint was built and
    /// tested before (reused, not built).
    reused: Option<Reused>,
}

/// An artifact built and tested before, and where.
#[derive(Clone)]
struct Reused {
    outs: BTreeMap<String, Value>,
    /// The other environment that built it; `None` for this one.
    environment: Option<String>,
}

/// Recorded out attributes, as state holds them.
type Outs = serde_json::Map<String, serde_json::Value>;

/// Answers the evaluator as it goes, and remembers every decision.
pub struct Planner<'a> {
    /// The project's name, part of the names of the objects it creates.
    project: String,
    records: HashMap<&'a str, &'a ResourceRecord>,
    /// The artifact ledger's outs, by address and fingerprint.
    ledger: HashMap<(&'a str, &'a str), &'a Outs>,
    /// The same of the other environments, with the environment's name.
    other_ledgers: HashMap<(&'a str, &'a str), (&'a str, &'a Outs)>,
    key: &'a FingerprintKey,
    options: &'a PlanOptions,
    decisions: HashMap<String, Decision>,
    /// Resource addresses (without keys) with an instance created or
    /// replaced, and whether they are artifacts.
    changing: HashMap<String, bool>,
    /// The instance addresses created or replaced.
    changing_instances: HashSet<String>,
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
            ledger: state
                .artifacts
                .iter()
                .filter(|a| a.is_reusable())
                .map(|a| ((a.address.as_str(), a.fingerprint.as_str()), &a.outs))
                .collect(),
            other_ledgers: options
                .other_ledgers
                .iter()
                .flat_map(|(env, entries)| entries.iter().map(move |a| (env.as_str(), a)))
                .filter(|(_, a)| a.is_reusable() && a.applied)
                .map(|(env, a)| ((a.address.as_str(), a.fingerprint.as_str()), (env, &a.outs)))
                .collect(),
            key,
            options,
            decisions: HashMap::new(),
            changing: HashMap::new(),
            changing_instances: HashSet::new(),
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
            // Nothing shows the object still exists here: it is built or
            // found by the executor, its outs known after; unless another
            // environment built and tested this very artifact.
            let reused = self.built_elsewhere(instance, config, fingerprint.as_deref());
            return Decision {
                action: Action::Create,
                reasons: reused.iter().map(reuse_reason(&fingerprint)).collect(),
                changed: Vec::new(),
                reused,
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
        let mut reused = None;
        if artifact {
            let same_artifact = fingerprint.is_some() && fingerprint == record.fingerprint;
            if !same_artifact {
                reused = self
                    .reusable(instance, fingerprint.as_deref())
                    .or_else(|| self.built_elsewhere(instance, config, fingerprint.as_deref()));
            }
            reasons.extend(reused.iter().map(reuse_reason(&fingerprint)));
            if same_artifact {
                // The fingerprint is the artifact's identity: a build path
                // that changed without changing it (a renamed context
                // directory) changes nothing.
                diffs.retain(|d| !d.path().starts_with("build"));
            } else if reused.is_none()
                && fingerprint.is_some()
                && !diffs.iter().any(|d| d.path().starts_with("build"))
            {
                reasons.push(format!("build changed (files in {})", build_files(config)));
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
        let in_place =
            reconfigurable.is_some_and(|in_place| diffs.iter().all(|d| in_place(config, d.path())));
        // Values found changed in a store are written back in place; any
        // other drifted object (a container gone) is replaced.
        let in_a_store = resource_type.is_some_and(|t| t.family == types::Family::Store);
        let only_values = in_place && (!diffs.is_empty() || in_a_store);
        let drift_only = in_a_store
            && reasons.len() == 1
            && self.options.drifted.contains_key(&instance.address);
        let moved = self.options.moved.contains_key(&instance.address);
        if reasons.is_empty() && diffs.is_empty() && !moved {
            reasons.extend(self.renamed(instance, config, record, fingerprint.as_deref()));
        }
        let action = if reasons.is_empty() && diffs.is_empty() {
            Action::Noop
        } else if only_values && (reasons.is_empty() || drift_only) {
            reasons.extend(self.reasons_for(instance, &diffs));
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
            reused: reused.filter(|_| action != Action::Noop),
        }
    }

    /// The recorded outs of this artifact at `fingerprint`, when this
    /// environment built and tested it before.
    fn reusable(&self, instance: &Instance, fingerprint: Option<&str>) -> Option<Reused> {
        if !types::get(&instance.type_name).is_some_and(|t| t.reuse_checked) {
            return None; // its old object may be gone since it was replaced
        }
        let outs = self
            .ledger
            .get(&(instance.address.as_str(), fingerprint?))?;
        Some(Reused {
            outs: values_of(outs),
            environment: None,
        })
    }

    /// The outs of this artifact at `fingerprint`, when another
    /// environment built, applied and tested it. Only an instance with a
    /// `build` block is an artifact shared between environments: an
    /// `exec` without one is a command each environment runs.
    fn built_elsewhere(
        &self,
        instance: &Instance,
        config: &BTreeMap<String, Value>,
        fingerprint: Option<&str>,
    ) -> Option<Reused> {
        if !matches!(
            config.get("build").map(Value::unmarked),
            Some(Value::Map(_))
        ) {
            return None;
        }
        let (environment, outs) = self
            .other_ledgers
            .get(&(instance.address.as_str(), fingerprint?))?;
        Some(Reused {
            outs: values_of(outs),
            environment: Some(environment.to_string()),
        })
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
        if identity.is_empty() {
            return None;
        }
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
            if dep.contains('[') {
                let resource = resource_of(dep);
                if self.changing_instances.contains(dep.as_str())
                    && !found.iter().any(|f| f == resource)
                {
                    found.push(resource.to_string());
                }
            } else if self.changing.contains_key(dep) {
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
        if let Some(reused) = &decision.reused {
            outs.extend(reused.outs.clone());
        }
        outs
    }

    /// Builds the plan from the evaluation this planner took part in.
    pub fn finish(mut self, state: &State, evaluated: &Evaluated) -> (Plan, Vec<Diagnostic>) {
        let index = Dependencies::new(evaluated.instances.iter().map(|i| i.address.as_str()));
        let mut changes = Vec::with_capacity(evaluated.instances.len());
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        for (own, instance) in evaluated.instances.iter().enumerate() {
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
            let mut notes = Vec::new();
            if state.create_interrupted(&instance.address) {
                notes.push("create interrupted: the object may exist".to_string());
            }
            let builds = matches!(decision.action, Action::Create | Action::Replace)
                && decision.reused.is_none();
            let builder = types::get(&instance.type_name)
                .and_then(|t| (t.builder)(&instance.config))
                .filter(|_| builds);
            if let Some(builder) = builder {
                notes.push(format!("builds with: {builder}"));
            }
            if matches!(decision.action, Action::Create | Action::Replace) {
                if let Some(t) = types::get(&instance.type_name) {
                    notes.extend((t.review)(&instance.config));
                }
            }
            let stop_first = decision.action == Action::Replace
                && types::get(&instance.type_name)
                    .is_some_and(|t| (t.stop_first)(&instance.config));
            changes.push(Change {
                address: instance.address.clone(),
                type_name: instance.type_name.clone(),
                action: decision.action,
                reasons: decision.reasons,
                before: record.map(crate::stored::shown_attributes),
                after: Some(shown(&instance.config)),
                changed: decision.changed,
                artifact: types::is_artifact(&instance.type_name),
                fingerprint: decision.fingerprint,
                depends_on: instance
                    .depends_on
                    .iter()
                    .filter(|entry| index.names_other_than(entry, own))
                    .cloned()
                    .collect(),
                stop_first,
                deposed: record.map(|r| r.deposed.len()).unwrap_or(0),
                reuse: decision.reused.is_some(),
                reused_outs: decision.reused.as_ref().map(|r| {
                    r.outs
                        .iter()
                        .map(|(k, v)| (k.clone(), v.to_redacted_json()))
                        .collect()
                }),
                notes,
                moved_from: self.options.moved.get(&instance.address).cloned(),
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
        let targeting = self.limit_to_targets(&mut changes);
        let summary = summarise(&changes);
        let warnings = changes
            .iter()
            .filter(|c| c.stop_first)
            .map(|c| format!("{} holds host ports (published, or on the host network): it is replaced stop-old-then-start-new, so it is down while the new one starts", c.address))
            .chain(targeting)
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
            policies: Vec::new(),
            config_hash: String::new(),
        };
        (plan, self.diagnostics)
    }

    /// `--target`: the changes of the targeted instances and of what they
    /// depend on, transitively, are kept; the others become no-ops left for
    /// a later plan (their records stay as they are). Returns the warning
    /// that says so.
    fn limit_to_targets(&mut self, changes: &mut [Change]) -> Option<String> {
        let targets = &self.options.targets;
        if targets.is_empty() {
            return None;
        }
        for target in targets {
            if !changes
                .iter()
                .any(|c| crate::moves::covers(target, &c.address))
            {
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::UnknownAddress,
                        format!("--target {target}: no such instance in the configuration or state"),
                    )
                    .with_help("use an address shown by `imm plan` or `imm state list`, e.g. docker_container.web or module.api"),
                );
            }
        }
        let index = Dependencies::new(changes.iter().map(|c| c.address.as_str()));
        let mut included: Vec<bool> = changes
            .iter()
            .map(|c| targets.iter().any(|t| crate::moves::covers(t, &c.address)))
            .collect();
        let mut waiting: Vec<usize> = (0..changes.len()).filter(|&i| included[i]).collect();
        let mut found = Vec::new();
        while let Some(at) = waiting.pop() {
            found.clear();
            for entry in &changes[at].depends_on {
                index.resolve(entry, &mut found);
            }
            for &dependency in &found {
                if !included[dependency] {
                    included[dependency] = true;
                    waiting.push(dependency);
                }
            }
        }
        let mut left = 0;
        for (change, included) in changes.iter_mut().zip(included) {
            if included || change.action == Action::Noop {
                continue;
            }
            change.action = Action::Noop;
            change.reasons = vec!["not targeted (--target): left for a later plan".into()];
            change.changed.clear();
            change.moved_from = None;
            left += 1;
        }
        let list: Vec<&str> = targets.iter().map(String::as_str).collect();
        Some(format!(
            "this plan is limited to --target {} and what it depends on: {left} other change(s) wait for a plan without --target",
            list.join(", ")
        ))
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
            self.changing_instances.insert(instance.address.clone());
        }
        let outs = self.outs_after(instance, config, &decision);
        self.decisions.insert(instance.address.clone(), decision);
        outs
    }
}

fn values_of(outs: &Outs) -> BTreeMap<String, Value> {
    outs.iter()
        .map(|(k, v)| (k.clone(), Value::from_json(v)))
        .collect()
}

/// Why an artifact is reused, for the plan.
fn reuse_reason(fingerprint: &Option<String>) -> impl Fn(&Reused) -> String + '_ {
    move |reused| {
        let short = fingerprint
            .as_deref()
            .map(|fp| fp.get(..12).unwrap_or(fp))
            .unwrap_or_default();
        let place = match &reused.environment {
            None => "here before".to_string(),
            Some(env) => format!("in {env}"),
        };
        format!("reuse (built and tested {place} as {short}; nothing is built)")
    }
}

/// What a build reads from files, as a reason names it: an image's
/// context, an `exec` artifact's `build.files`.
fn build_files(config: &BTreeMap<String, Value>) -> String {
    let Some(Value::Map(build)) = config.get("build").map(Value::unmarked) else {
        return "inputs".into();
    };
    if let Some(context) = build.get("context") {
        return context.display();
    }
    match build.get("files").map(Value::unmarked) {
        Some(Value::List(files)) if !files.is_empty() => files
            .iter()
            .map(Value::display)
            .collect::<Vec<_>>()
            .join(", "),
        _ => "inputs".into(),
    }
}

/// The phase of the attribute at `path`, and the path as a reason shows
/// it (without the `build.`/`runtime.` block prefix).
fn phase_of(type_name: &str, path: &str) -> (Phase, String) {
    let top = path.split(['.', '[']).next().unwrap_or(path);
    // An off-the-shelf image's digest is what the container is built of.
    let pulled = types::get(type_name).and_then(|t| t.pulled_image) == Some(top);
    let phase = types::schema(type_name)
        .and_then(|s| s.block(top))
        .map(|b| b.phase)
        .unwrap_or(if pulled { Phase::Build } else { Phase::Runtime });
    let in_block = types::schema(type_name).is_some_and(|s| s.block(top).is_some());
    let shown = match phase {
        // `runtime.env.X` shows as `env.X`; `bind[0].content` as it is.
        Phase::Build | Phase::Runtime if in_block => path
            .strip_prefix(top)
            .filter(|rest| !rest.starts_with('['))
            .map(|rest| rest.trim_start_matches('.'))
            .filter(|rest| !rest.is_empty())
            .unwrap_or(path)
            .to_string(),
        _ => path.to_string(),
    };
    (phase, shown)
}

/// The configuration as a plan shows it (secrets masked).
fn shown(config: &BTreeMap<String, Value>) -> serde_json::Value {
    serde_json::Value::Object(
        config
            .iter()
            .map(|(k, v)| (k.clone(), v.to_shown_json()))
            .collect(),
    )
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
