//! Evaluating a loaded project for one environment: variable values (with
//! their precedence), secrets, `env.*`, then locals,
//! resources (expanded by `count`/`for_each`), modules and outputs in the
//! checker's dependency order. The result is the data the planner needs.
//!
//! `imm validate` runs this once per declared environment in
//! [`Mode::Validate`], where a value nobody gave is unknown rather than an
//! error; plan and apply run it in [`Mode::Plan`].

use crate::check::Symbol;
use crate::decl::{ModuleDecl, Resource, Variable};
use crate::diagnostics::{did_you_mean, Code, Diagnostic, Diagnostics};
use crate::expr::{Evaluator, ResourceRead, TemplateCache};
use crate::project::{ModuleNode, Project};
use crate::schema::{self, Kind};
use crate::source::{SourceMap, Span};
use crate::syntax::{self, ast::*};
use imm_stdlib::number::Number;
use imm_stdlib::{convert, Type, Value};
use indexmap::IndexMap;

mod conditions;
mod inputs;
mod instances;
mod secrets;
mod settings;
mod variables;

pub use conditions::{judge, CheckResult, CheckStatus, Verdict};
use inputs::{root_variable_values, Given};
pub use secrets::{parse_secret_source, SecretSource};
pub use settings::{settings, NamedFiles, RegistryAuth, Settings};
use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use variables::finish_variable;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No variable values or secrets are needed; missing ones are unknown.
    Validate,
    /// Every variable must have a value and every secret must be readable.
    Plan,
}

/// Where values come from, besides the configuration itself.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// `--env`.
    pub environment: Option<String>,
    /// `--var NAME=VALUE`, in order.
    pub cli_vars: Vec<(String, String)>,
    /// `--var-file FILE`, in order.
    pub var_files: Vec<PathBuf>,
    /// `IMM_VAR_NAME=VALUE` from the process environment (name without prefix).
    pub process_vars: Vec<(String, String)>,
    /// Process environment, for `secret { from = "env:VAR" }`.
    pub process_env: HashMap<String, String>,
    /// Values of `store:KEY` secrets, read from the default store before
    /// evaluation (an error says why one could not be read).
    pub store_values: HashMap<String, Result<String, String>>,
    /// Out attributes known from state, by instance address (used when no
    /// [`OutsOracle`] is given).
    pub known_outs: HashMap<String, BTreeMap<String, Value>>,
    /// Var files and `file:` secrets, read once per run.
    pub reads: crate::project::ReadOnce,
    /// Attributes evaluated as given instead of as configured, by instance
    /// address: what `imm config rollback` puts in a `config`'s `values`
    /// so that its consumers are planned with the values rolled back to.
    pub overrides: HashMap<String, BTreeMap<String, Value>>,
    /// Keep the root module's names and values in [`Evaluated::root_scope`]
    /// (`imm console`).
    pub keep_root_scope: bool,
    /// Pins off-the-shelf images to digests (plan and apply); without it,
    /// an image name stays as written (validate, console).
    pub pins: Option<Arc<dyn ImagePins>>,
}

/// Pins an off-the-shelf image (`redis:7.2`, written where a resource type
/// takes one) to the digest the lock file holds for it, resolving it first
/// when it is not locked yet. The workflow implements it over the lock
/// file and the registries (the evaluator does no network).
pub trait ImagePins: std::fmt::Debug + Send + Sync {
    /// The reference that names exactly one image (`redis@sha256:…`),
    /// or why there is none; `address` is the instance that uses it.
    fn pin(&self, address: &str, image: &str) -> Result<String, Diagnostic>;
}

/// Decides, per instance and in dependency order, what its out attributes
/// will be. The planner answers with the recorded values for an instance it
/// keeps, and with what it can predict for one it creates or replaces, so
/// that a change flows to exactly the instances whose values it reaches.
pub trait OutsOracle {
    /// `instance` has no configuration yet; `config` is its evaluated one.
    /// Out attributes missing from the answer are unknown.
    fn outs(
        &mut self,
        instance: &Instance,
        config: &BTreeMap<String, Value>,
    ) -> BTreeMap<String, Value>;
}

/// Evaluates a project again with more out attributes known, during an
/// apply. Implemented here so that the apply engine needs nothing of the
/// binary; the inputs are those of the plan (files read once).
pub trait Reevaluate {
    fn reevaluate(
        &mut self,
        known: &HashMap<String, BTreeMap<String, Value>>,
    ) -> Result<Evaluated, Diagnostic>;
}

/// A project, environment and inputs, evaluated again on request.
pub struct Reevaluation<'p> {
    pub project: &'p mut Project,
    pub environment: &'p str,
    pub inputs: &'p Inputs,
}

impl Reevaluate for Reevaluation<'_> {
    fn reevaluate(
        &mut self,
        known: &HashMap<String, BTreeMap<String, Value>>,
    ) -> Result<Evaluated, Diagnostic> {
        let mut inputs = self.inputs.clone();
        inputs.known_outs = known.clone();
        let (evaluated, diags) = evaluate(self.project, self.environment, &inputs, Mode::Plan);
        match diags.0.into_iter().find(Diagnostic::is_error) {
            Some(d) => Err(d),
            None => Ok(evaluated),
        }
    }
}

/// Nothing to evaluate (a destroy).
pub struct NoConfiguration;

impl Reevaluate for NoConfiguration {
    fn reevaluate(
        &mut self,
        _known: &HashMap<String, BTreeMap<String, Value>>,
    ) -> Result<Evaluated, Diagnostic> {
        Ok(Evaluated::default())
    }
}

/// The oracle of plain evaluation: out attributes from `Inputs::known_outs`.
struct KnownOuts<'a>(&'a HashMap<String, BTreeMap<String, Value>>);

impl OutsOracle for KnownOuts<'_> {
    fn outs(
        &mut self,
        instance: &Instance,
        _config: &BTreeMap<String, Value>,
    ) -> BTreeMap<String, Value> {
        self.0.get(&instance.address).cloned().unwrap_or_default()
    }
}

impl Inputs {
    /// Inputs read from this process's environment (`IMM_VAR_*` and secrets).
    pub fn from_process() -> Inputs {
        let process_env: HashMap<String, String> = std::env::vars().collect();
        let mut process_vars: Vec<(String, String)> = process_env
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("IMM_VAR_")
                    .map(|n| (n.to_string(), v.clone()))
            })
            .collect();
        process_vars.sort();
        Inputs {
            process_vars,
            process_env,
            ..Inputs::default()
        }
    }
}

/// An instance key: `[0]` for `count`, `["k"]` for `for_each`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InstanceKey {
    Index(usize),
    Key(String),
}

impl InstanceKey {
    /// The index or the key as it is, for object names.
    pub fn name_part(&self) -> String {
        match self {
            InstanceKey::Index(i) => i.to_string(),
            InstanceKey::Key(k) => k.clone(),
        }
    }

    pub fn suffix(&self) -> String {
        match self {
            InstanceKey::Index(i) => format!("[{i}]"),
            InstanceKey::Key(k) => format!("[{}]", imm_stdlib::value::quote_string(k)),
        }
    }
}

/// One resource instance, fully evaluated (unknowns aside).
#[derive(Debug, Clone)]
pub struct Instance {
    /// `module.api.docker_container.web[0]`.
    pub address: String,
    /// `module.api.docker_container.web` (without the key).
    pub resource: String,
    pub type_name: String,
    pub name: String,
    pub key: Option<InstanceKey>,
    /// Attributes and nested blocks (single blocks as objects, repeatable
    /// ones as lists of objects).
    pub config: BTreeMap<String, Value>,
    /// What this instance depends on, each entry one of: an instance
    /// address (`file.svc["a"]`: it read that instance), a resource address
    /// (`file.svc`: every instance of it) or a module address
    /// (`module.api`: everything inside it).
    pub depends_on: Vec<String>,
    pub prevent_destroy: bool,
    /// Directory of the module that declares it (paths are relative to it).
    pub module_dir: PathBuf,
    pub span: Span,
    /// `config` as its type's typed struct, once parsed ([`Instance::typed`]).
    pub typed_config: TypedConfig,
}

impl Instance {
    /// The configuration as its type's typed struct (`types::*::…Config`),
    /// parsed on first use and kept: an executor's create, test, serve and
    /// discard of one replacement share one parse. A mismatch names the
    /// attribute (the planner checks the same before an apply).
    pub fn typed<T>(&self) -> Result<Arc<T>, crate::types::ConfigError>
    where
        T: for<'a> TryFrom<&'a BTreeMap<String, Value>, Error = crate::types::ConfigError>
            + Any
            + Send
            + Sync,
    {
        if let Some(parsed) = self.typed_config.parsed.get() {
            if let Ok(parsed) = parsed.clone().downcast::<T>() {
                return Ok(parsed);
            }
        }
        let parsed = Arc::new(T::try_from(&self.config)?);
        self.typed_config.parses.fetch_add(1, Ordering::Relaxed);
        // Another thread may have parsed it meanwhile: either is the same.
        let _ = self.typed_config.parsed.set(parsed.clone());
        Ok(parsed)
    }

    /// Replaces the configuration; the typed one is parsed again.
    pub fn set_config(&mut self, config: BTreeMap<String, Value>) {
        self.config = config;
        self.typed_config = TypedConfig::default();
    }
}

/// The parsed form of an instance's configuration, kept with it (clones
/// share it: they hold the same configuration).
#[derive(Clone, Default)]
pub struct TypedConfig {
    parsed: Arc<OnceLock<Arc<dyn Any + Send + Sync>>>,
    parses: Arc<AtomicUsize>,
}

impl TypedConfig {
    /// How many times the configuration was parsed: 1 for any number of
    /// uses (the tests check it).
    pub fn parses(&self) -> usize {
        self.parses.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for TypedConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TypedConfig {{ parses: {} }}", self.parses())
    }
}

#[derive(Debug, Clone)]
pub struct OutputValue {
    pub value: Value,
    pub sensitive: bool,
    pub description: Option<String>,
}

/// The root module's names (`var`, `local`, `env`, `module`, `secret`,
/// one per resource type) with their values, and its directory: where
/// `imm console` evaluates its lines.
#[derive(Debug, Clone, Default)]
pub struct RootScope {
    pub names: HashMap<String, Value>,
    pub dir: PathBuf,
}

/// The result of evaluating a project for one environment.
#[derive(Debug, Default)]
pub struct Evaluated {
    pub environment: String,
    pub instances: Vec<Instance>,
    pub outputs: IndexMap<String, OutputValue>,
    /// Values of the root variables (sensitive ones marked).
    pub variables: BTreeMap<String, Value>,
    /// Every name of the root module with its value, when
    /// [`Inputs::keep_root_scope`] asked for it.
    pub root_scope: Option<RootScope>,
    /// How each `check` block fared (plan mode only).
    pub checks: Vec<CheckResult>,
}

/// The environments `imm validate` checks: every declared one, or `default`.
pub fn environment_names(project: &Project) -> Vec<String> {
    let envs = &project.root.decl.environments;
    if envs.is_empty() {
        return vec!["default".to_string()];
    }
    envs.keys().cloned().collect()
}

/// Picks the environment `--env` names, or reports why it cannot.
pub fn select_environment(
    project: &Project,
    requested: Option<&str>,
) -> Result<String, Diagnostic> {
    let envs = &project.root.decl.environments;
    match requested {
        None if envs.is_empty() || envs.contains_key("default") => Ok("default".into()),
        None => Err(Diagnostic::new(
            Code::EnvironmentRequired,
            "this project declares environments; choose one with --env",
        )
        .with_help(format!(
            "environments: {}",
            envs.keys().cloned().collect::<Vec<_>>().join(", ")
        ))),
        Some(name) if envs.contains_key(name) || (envs.is_empty() && name == "default") => {
            Ok(name.to_string())
        }
        Some(name) => {
            let d = Diagnostic::new(
                Code::UnknownEnvironment,
                format!("environment \"{name}\" is not declared"),
            );
            Err(match did_you_mean(name, envs.keys().map(String::as_str)) {
                Some(s) => d.with_help(format!("did you mean --env {s}?")),
                None if envs.is_empty() => d.with_help(
                    "this project declares no environments; omit --env or use --env default",
                ),
                None => d.with_help(format!(
                    "environments: {}",
                    envs.keys().cloned().collect::<Vec<_>>().join(", ")
                )),
            })
        }
    }
}

/// Evaluates the project for `environment`.
pub fn evaluate(
    project: &mut Project,
    environment: &str,
    inputs: &Inputs,
    mode: Mode,
) -> (Evaluated, Diagnostics) {
    let mut oracle = KnownOuts(&inputs.known_outs);
    evaluate_with(project, environment, inputs, mode, &mut oracle)
}

/// Evaluates the project for `environment`, asking `oracle` for the out
/// attributes of each instance as soon as its configuration is known.
pub fn evaluate_with(
    project: &mut Project,
    environment: &str,
    inputs: &Inputs,
    mode: Mode,
    oracle: &mut dyn OutsOracle,
) -> (Evaluated, Diagnostics) {
    let mut diags = Diagnostics::default();
    let mut templates = TemplateCache::default();
    let root = &project.root;
    let sources = &mut project.sources;
    let env_value = environment_value(&root.decl, environment, sources, &mut templates, &mut diags);
    let var_values = root_variable_values(
        root,
        environment,
        inputs,
        mode,
        sources,
        &mut templates,
        &mut diags,
    );
    let mut run = Run {
        mode,
        inputs,
        env_value,
        diags,
        templates,
        instances: Vec::new(),
        pending: Vec::new(),
        inherited_deps: Vec::new(),
        keyed_resources: std::collections::HashSet::new(),
        oracle,
        root_scope: None,
        checks: Vec::new(),
    };
    let outputs_values = run.module(root, var_values.clone(), sources);
    let outputs = outputs_values;
    let evaluated = Evaluated {
        environment: environment.to_string(),
        instances: run.instances,
        outputs,
        variables: var_values.into_iter().collect(),
        root_scope: run.root_scope,
        checks: run.checks,
    };
    (evaluated, run.diags)
}

/// `env.*`: the environment's own attributes (not the reserved ones) and `name`.
fn environment_value(
    decl: &ModuleDecl,
    environment: &str,
    sources: &mut SourceMap,
    templates: &mut TemplateCache,
    diags: &mut Diagnostics,
) -> Value {
    let mut map = BTreeMap::new();
    map.insert("name".to_string(), Value::string(environment));
    let Some(env) = decl.environments.get(environment) else {
        return Value::Map(map);
    };
    let mut ev = Evaluator::new(std::path::Path::new("."), sources, templates);
    for attr in &env.attributes {
        if schema::ENVIRONMENT_RESERVED.contains(&attr.name.name.as_str()) {
            continue;
        }
        match ev.eval(&attr.value) {
            Ok(v) => {
                map.insert(attr.name.name.clone(), v);
            }
            Err(d) => diags.push(d),
        }
    }
    Value::Map(map)
}

fn mark(value: Value, sensitive: bool) -> Value {
    if sensitive {
        value.mark_sensitive()
    } else {
        value
    }
}

/// State of one evaluation run across the module tree.
struct Run<'i, 'o> {
    mode: Mode,
    inputs: &'i Inputs,
    env_value: Value,
    diags: Diagnostics,
    templates: TemplateCache,
    instances: Vec<Instance>,
    /// Instances of the module being evaluated whose configuration still
    /// sits in the reference table.
    pending: Vec<Pending>,
    /// Resources that the module calls leading to the current module
    /// depend on: every instance inside waits for them.
    inherited_deps: Vec<String>,
    /// Resources (with their module prefix) expanded by `count` or
    /// `for_each`: only their instances can be read one by one.
    keyed_resources: std::collections::HashSet<String>,
    oracle: &'o mut dyn OutsOracle,
    root_scope: Option<RootScope>,
    checks: Vec<CheckResult>,
}

struct Pending {
    instance: usize,
    /// Configured values that an out attribute of the same name covers.
    shadowed: Vec<(String, Value)>,
}

impl Run<'_, '_> {
    /// Evaluates one module with its variable values; returns its outputs.
    fn module(
        &mut self,
        node: &ModuleNode,
        var_values: HashMap<String, Value>,
        sources: &mut SourceMap,
    ) -> IndexMap<String, OutputValue> {
        let outer_pending = std::mem::take(&mut self.pending);
        let mut templates = std::mem::take(&mut self.templates);
        let mut ev = Evaluator::new(&node.dir, sources, &mut templates);
        ev.roots
            .insert("var".into(), Value::Map(var_values.into_iter().collect()));
        ev.roots.insert("env".into(), self.env_value.clone());
        ev.roots.insert("local".into(), Value::Map(BTreeMap::new()));
        ev.roots
            .insert("module".into(), Value::Map(BTreeMap::new()));
        for type_name in crate::types::names() {
            ev.roots
                .insert(type_name.into(), Value::Map(BTreeMap::new()));
        }
        let secrets = self.secrets(&node.decl, &mut ev);
        ev.roots.insert("secret".into(), Value::Map(secrets));
        let stores = node
            .decl
            .stores
            .keys()
            .map(|k| (k.clone(), store_value(k)))
            .collect();
        ev.roots.insert("store".into(), Value::Map(stores));
        let engines = node
            .decl
            .engines
            .keys()
            .map(|k| (k.clone(), crate::types::engine::engine_value(k)))
            .collect();
        ev.roots.insert("engine".into(), Value::Map(engines));
        let mut outputs = IndexMap::new();
        for symbol in &node.analysis.order {
            match symbol {
                Symbol::Local(name) => {
                    let Some(local) = node.decl.locals.get(name) else {
                        continue;
                    };
                    let value = self.eval_or_unknown(&mut ev, &local.value);
                    insert_root(&mut ev, "local", name, value);
                }
                Symbol::Resource(key) => {
                    let Some(resource) = node.decl.resources.get(key) else {
                        continue;
                    };
                    let deps = node
                        .analysis
                        .resource_deps
                        .get(key)
                        .cloned()
                        .unwrap_or_default();
                    let value = self.resource(&mut ev, node, resource, &deps);
                    insert_root(
                        &mut ev,
                        &resource.type_name.name,
                        &resource.name.name,
                        value,
                    );
                }
                Symbol::Module(name) => {
                    let (Some(call), Some(child)) =
                        (node.decl.modules.get(name), node.children.get(name))
                    else {
                        continue;
                    };
                    let mut args = HashMap::new();
                    for arg in &call.arguments {
                        let value = self.eval_or_unknown(&mut ev, &arg.value);
                        args.insert(arg.name.name.clone(), value);
                    }
                    let child_vars = self.child_variables(child, args, &mut ev);
                    // Everything in the child waits for what its arguments use.
                    let call_deps = node.analysis.module_deps.get(name).into_iter().flatten();
                    let mut inherited = self.inherited_deps.clone();
                    inherited.extend(call_deps.map(|d| format!("{}{d}", node.address_prefix)));
                    let outer_deps = std::mem::replace(&mut self.inherited_deps, inherited);
                    let child_outputs = {
                        let sources = &mut *ev.sources;
                        self.module(child, child_vars, sources)
                    };
                    self.inherited_deps = outer_deps;
                    let value = Value::Map(
                        child_outputs
                            .into_iter()
                            .map(|(k, o)| (k, mark(o.value, o.sensitive)))
                            .collect(),
                    );
                    insert_root(&mut ev, "module", name, value);
                }
                Symbol::Output(name) => {
                    let Some(output) = node.decl.outputs.get(name) else {
                        continue;
                    };
                    let address = format!("{}output.{name}", node.address_prefix);
                    let owner = conditions::Owner {
                        address: &address,
                        subject: &address,
                    };
                    self.preconditions(&mut ev, &output.preconditions, &owner);
                    let value = self.eval_or_unknown(&mut ev, &output.value);
                    if value.contains_sensitive() && !output.sensitive {
                        self.diags.push(
                            Diagnostic::at(
                                Code::SensitiveOutput,
                                output.value.span,
                                format!("output \"{name}\" shows a sensitive value"),
                            )
                            .with_label(output.name.span, "this output is not marked sensitive")
                            .with_help("add sensitive = true to the output block"),
                        );
                    }
                    let sensitive = output.sensitive || value.contains_sensitive();
                    outputs.insert(
                        name.clone(),
                        OutputValue {
                            value,
                            sensitive,
                            description: output.description.clone(),
                        },
                    );
                }
            }
        }
        self.checks(&mut ev, &node.decl.checks, &node.address_prefix);
        if self.inputs.keep_root_scope && node.address_prefix.is_empty() {
            self.root_scope = Some(RootScope {
                names: ev.roots.clone(),
                dir: node.dir.clone(),
            });
        }
        self.take_back_configs(&mut ev.roots, node);
        self.pending = outer_pending;
        drop(ev);
        self.templates = templates;
        // Keep the declared order of outputs, not the evaluation order.
        let mut ordered = IndexMap::new();
        for name in node.decl.outputs.keys() {
            if let Some(o) = outputs.shift_remove(name) {
                ordered.insert(name.clone(), o);
            }
        }
        ordered
    }

    /// Moves each instance's configuration out of the reference table.
    fn take_back_configs(&mut self, roots: &mut HashMap<String, Value>, node: &ModuleNode) {
        for pending in std::mem::take(&mut self.pending) {
            let Some(instance) = self.instances.get_mut(pending.instance) else {
                continue;
            };
            let Some(Value::Map(by_name)) = roots.get_mut(&instance.type_name) else {
                continue;
            };
            let Some(slot) = by_name.get_mut(&instance.name) else {
                continue;
            };
            let slot = match (&instance.key, slot) {
                (None, slot) => Some(slot),
                (Some(InstanceKey::Index(i)), Value::List(items)) => items.get_mut(*i),
                (Some(InstanceKey::Key(k)), Value::Map(items)) => items.get_mut(k),
                _ => None,
            };
            let Some(Value::Map(mut config)) = slot.map(|s| std::mem::replace(s, Value::Null))
            else {
                continue;
            };
            let schema = node
                .decl
                .resources
                .get(&format!("{}.{}", instance.type_name, instance.name))
                .map(|r| r.schema);
            for out in schema.map(|s| s.outs).unwrap_or_default() {
                config.remove(out.name);
            }
            config.extend(pending.shadowed);
            instance.set_config(config);
        }
    }

    fn child_variables(
        &mut self,
        child: &ModuleNode,
        mut args: HashMap<String, Value>,
        ev: &mut Evaluator<'_>,
    ) -> HashMap<String, Value> {
        let mut out = HashMap::new();
        for (name, variable) in &child.decl.variables {
            let given = match args.remove(name) {
                Some(value) => Some(value),
                None => variable
                    .default
                    .as_ref()
                    .map(|d| self.eval_or_unknown(ev, d)),
            };
            let value = match given {
                Some(v) => match convert(v, &variable.ty) {
                    Ok(v) => v,
                    Err(e) => {
                        self.diags.push(
                            Diagnostic::at(
                                Code::TypeMismatch,
                                variable.name.span,
                                format!(
                                    "module variable \"{name}\" must be {}: {}",
                                    variable.ty, e.message
                                ),
                            )
                            .with_help(format!("pass a value of type {}", variable.ty)),
                        );
                        Value::Unknown(variable.ty.clone())
                    }
                },
                None => Value::Unknown(variable.ty.clone()),
            };
            out.insert(name.clone(), mark(value, variable.sensitive));
        }
        out
    }

    fn eval_or_unknown(&mut self, ev: &mut Evaluator<'_>, expr: &Expr) -> Value {
        match ev.eval(expr) {
            Ok(v) => v,
            Err(d) => {
                self.diags.push(d);
                Value::Unknown(Type::Any)
            }
        }
    }
}

/// Whether a value already has the attribute's type, so converting it
/// would only copy it.
pub(super) fn conforms(value: &Value, kind: Kind) -> bool {
    let is_string = |v: &Value| matches!(v.unmarked(), Value::String(_));
    match (kind, value.unmarked()) {
        (Kind::Any, _) => true,
        (Kind::String, Value::String(_))
        | (Kind::Number, Value::Number(_))
        | (Kind::Bool, Value::Bool(_)) => true,
        (Kind::ListOfString, Value::List(items)) => items.iter().all(is_string),
        (Kind::MapOfString, Value::Map(map)) => map.values().all(is_string),
        _ => false,
    }
}

pub(super) struct InstanceBase<'a> {
    node: &'a ModuleNode,
    resource: &'a Resource,
    depends_on: Vec<String>,
    /// Entries of `depends_on` that may be narrowed to the instances read.
    narrowable: Vec<String>,
    prevent_destroy: bool,
}

pub(super) fn insert_root(ev: &mut Evaluator<'_>, root: &str, name: &str, value: Value) {
    if let Some(Value::Map(map)) = ev.roots.get_mut(root) {
        map.insert(name.to_string(), value);
    }
}

pub(super) fn object<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

pub(super) fn store_value(name: &str) -> Value {
    object([("name", Value::string(name))])
}
