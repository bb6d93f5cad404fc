//! Evaluating a loaded project for one environment: variable values (with
//! the precedence of LANGUAGE.md §4), secrets, `env.*`, then locals,
//! resources (expanded by `count`/`for_each`), modules and outputs in the
//! checker's dependency order. The result is the data the planner needs.
//!
//! `imm validate` runs this once per declared environment in
//! [`Mode::Validate`], where a value nobody gave is unknown rather than an
//! error; plan and apply run it in [`Mode::Plan`].

use crate::check::Symbol;
use crate::decl::{ModuleDecl, Resource, Variable};
use crate::diagnostics::{did_you_mean, Code, Diagnostic, Diagnostics};
use crate::eval::{Evaluator, TemplateCache};
use crate::project::{ModuleNode, Project};
use crate::schema::{self, Kind};
use crate::source::{SourceMap, Span};
use crate::syntax::{self, ast::*};
use imm_stdlib::value::format_number;
use imm_stdlib::{convert, Type, Value};
use indexmap::IndexMap;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

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
    /// Resources (addresses without keys) this one depends on.
    pub depends_on: Vec<String>,
    pub prevent_destroy: bool,
    /// Directory of the module that declares it (paths are relative to it).
    pub module_dir: PathBuf,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct OutputValue {
    pub value: Value,
    pub sensitive: bool,
    pub description: Option<String>,
}

/// The result of evaluating a project for one environment.
#[derive(Debug, Default)]
pub struct Evaluated {
    pub environment: String,
    pub instances: Vec<Instance>,
    pub outputs: IndexMap<String, OutputValue>,
    /// Values of the root variables (sensitive ones marked).
    pub variables: BTreeMap<String, Value>,
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
        oracle,
    };
    let outputs_values = run.module(root, var_values.clone(), sources);
    let outputs = outputs_values;
    let evaluated = Evaluated {
        environment: environment.to_string(),
        instances: run.instances,
        outputs,
        variables: var_values.into_iter().collect(),
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

/// A variable value and where it came from (for error messages).
struct Given {
    value: Value,
    span: Option<Span>,
    origin: String,
}

#[allow(clippy::too_many_arguments)]
fn root_variable_values(
    root: &ModuleNode,
    environment: &str,
    inputs: &Inputs,
    mode: Mode,
    sources: &mut SourceMap,
    templates: &mut TemplateCache,
    diags: &mut Diagnostics,
) -> HashMap<String, Value> {
    let decl = &root.decl;
    let mut given: HashMap<String, Given> = HashMap::new();
    // Rising priority: environment < var-file < IMM_VAR_ < --var.
    if let Some(env) = decl.environments.get(environment) {
        if let Some(vars) = env.attribute("vars") {
            environment_vars(
                vars,
                environment,
                decl,
                sources,
                templates,
                diags,
                &mut given,
            );
        }
    }
    for file in &inputs.var_files {
        var_file_values(file, inputs, decl, sources, templates, diags, &mut given);
    }
    for (name, text) in &inputs.process_vars {
        // Unknown IMM_VAR_ names are ignored: the environment is shared.
        if let Some(variable) = decl.variables.get(name) {
            let origin = format!("IMM_VAR_{name}");
            if let Some(value) = parse_raw_value(text, variable, &origin, sources, templates, diags)
            {
                given.insert(
                    name.clone(),
                    Given {
                        value,
                        span: None,
                        origin,
                    },
                );
            }
        }
    }
    for (name, text) in &inputs.cli_vars {
        let Some(variable) = decl.variables.get(name) else {
            let d = Diagnostic::new(
                Code::InvalidVariableValue,
                format!("--var {name}: there is no variable named \"{name}\""),
            );
            diags.push(
                match did_you_mean(name, decl.variables.keys().map(String::as_str)) {
                    Some(s) => d.with_help(format!("did you mean --var {s}=...?")),
                    None => d.with_help("declare it with a variable block, or remove the --var"),
                },
            );
            continue;
        };
        let origin = format!("--var {name}");
        if let Some(value) = parse_raw_value(text, variable, &origin, sources, templates, diags) {
            given.insert(
                name.clone(),
                Given {
                    value,
                    span: None,
                    origin,
                },
            );
        }
    }
    let mut values = HashMap::new();
    for (name, variable) in &decl.variables {
        let value = finish_variable(
            variable,
            given.remove(name),
            mode,
            &root.dir,
            sources,
            templates,
            diags,
        );
        values.insert(name.clone(), value);
    }
    values
}

fn environment_vars(
    vars: &Attribute,
    environment: &str,
    decl: &ModuleDecl,
    sources: &mut SourceMap,
    templates: &mut TemplateCache,
    diags: &mut Diagnostics,
    given: &mut HashMap<String, Given>,
) {
    let ExprKind::Object(items) = &vars.value.kind else {
        diags.push(
            Diagnostic::at(
                Code::TypeMismatch,
                vars.value.span,
                "vars must be an object of variable values",
            )
            .with_help("write vars = { NAME = VALUE, ... }"),
        );
        return;
    };
    let mut ev = Evaluator::new(std::path::Path::new("."), sources, templates);
    for (key, expr) in items {
        let ObjectKey::Name(ident) = key else {
            diags.push(
                Diagnostic::at(
                    Code::TypeMismatch,
                    expr.span,
                    "variable names in vars are written bare",
                )
                .with_help("write NAME = VALUE"),
            );
            continue;
        };
        if !decl.variables.contains_key(&ident.name) {
            let d = Diagnostic::at(
                Code::UnknownName,
                ident.span,
                format!(
                    "environment \"{environment}\" sets \"{}\", which is not a declared variable",
                    ident.name
                ),
            );
            diags.push(
                match did_you_mean(&ident.name, decl.variables.keys().map(String::as_str)) {
                    Some(s) => d.with_help(format!("did you mean \"{s}\"?")),
                    None => d.with_help("declare it with a variable block, or remove it from vars"),
                },
            );
            continue;
        }
        match ev.eval(expr) {
            Ok(value) => {
                given.insert(
                    ident.name.clone(),
                    Given {
                        value,
                        span: Some(expr.span),
                        origin: format!("environment \"{environment}\""),
                    },
                );
            }
            Err(d) => diags.push(d),
        }
    }
}

fn var_file_values(
    file: &std::path::Path,
    inputs: &Inputs,
    decl: &ModuleDecl,
    sources: &mut SourceMap,
    templates: &mut TemplateCache,
    diags: &mut Diagnostics,
    given: &mut HashMap<String, Given>,
) {
    let mut file_diags = Diagnostics::default();
    let Some(id) = inputs.reads.read_source(file, sources, &mut file_diags) else {
        for d in file_diags.0 {
            diags.push(Diagnostic {
                code: Code::InvalidVariableValue,
                ..d
            });
        }
        return;
    };
    let text = sources.get(id).map(|f| f.text.clone()).unwrap_or_default();
    let parsed = syntax::parse_file(id, &text);
    if !parsed.diagnostics.is_empty() {
        diags.extend(parsed.diagnostics);
        return;
    }
    let mut ev = Evaluator::new(std::path::Path::new("."), sources, templates);
    for item in &parsed.body.items {
        let Item::Attribute(attr) = item else {
            if let Item::Block(b) = item {
                diags.push(
                    Diagnostic::at(
                        Code::InvalidVariableValue,
                        b.kind.span,
                        "a variable file holds only NAME = VALUE lines",
                    )
                    .with_help("remove the block"),
                );
            }
            continue;
        };
        if !decl.variables.contains_key(&attr.name.name) {
            let d = Diagnostic::at(
                Code::InvalidVariableValue,
                attr.name.span,
                format!("there is no variable named \"{}\"", attr.name.name),
            );
            diags.push(
                match did_you_mean(&attr.name.name, decl.variables.keys().map(String::as_str)) {
                    Some(s) => d.with_help(format!("did you mean \"{s}\"?")),
                    None => d.with_help("remove the line, or declare the variable"),
                },
            );
            continue;
        }
        match ev.eval(&attr.value) {
            Ok(value) => {
                given.insert(
                    attr.name.name.clone(),
                    Given {
                        value,
                        span: Some(attr.value.span),
                        origin: format!("{}", file.display()),
                    },
                );
            }
            Err(d) => diags.push(d),
        }
    }
}

/// `--var x=VALUE`: a string variable takes the text as it is; any other
/// type reads it as an expression (`[1, 2]`, `{a = 1}`, `true`).
fn parse_raw_value(
    text: &str,
    variable: &Variable,
    origin: &str,
    sources: &mut SourceMap,
    templates: &mut TemplateCache,
    diags: &mut Diagnostics,
) -> Option<Value> {
    if matches!(variable.ty, Type::String) {
        return Some(Value::string(text));
    }
    let id = sources.add(PathBuf::from(format!("<{origin}>")), text.to_string());
    let parsed = syntax::parse_expression(id, text).and_then(|expr| {
        // A value given from outside is a literal: `abc` is not a reference.
        if let Some(r) = references(&expr).into_iter().next() {
            return Err(Diagnostic::at(
                Code::InvalidVariableValue,
                r.span,
                format!("\"{}\" is a name, not a value", r.root),
            ));
        }
        let mut ev = Evaluator::new(std::path::Path::new("."), sources, templates);
        ev.eval(&expr)
    });
    match parsed {
        Ok(v) => Some(v),
        Err(_) if matches!(variable.ty, Type::Any) => Some(Value::string(text)),
        Err(d) => {
            diags.push(
                Diagnostic::new(
                    Code::InvalidVariableValue,
                    if variable.sensitive {
                        format!(
                            "{origin}: the value is not a valid {} (it is sensitive and not shown)",
                            variable.ty
                        )
                    } else {
                        format!(
                            "{origin}: \"{text}\" is not a valid {} value: {}",
                            variable.ty, d.message
                        )
                    },
                )
                .with_help(format!(
                    "write the value as the type {} expects, e.g. --var '{}={}'",
                    variable.ty,
                    variable.name.name,
                    example_of(&variable.ty)
                )),
            );
            None
        }
    }
}

/// A literal of the type, for help texts.
fn example_of(ty: &Type) -> &'static str {
    match ty {
        Type::Number => "3",
        Type::Bool => "true",
        Type::List(_) | Type::Set(_) | Type::Tuple(_) => "[\"a\", \"b\"]",
        Type::Map(_) | Type::Object(_) => "{ key = \"value\" }",
        Type::String | Type::Any => "text",
    }
}

/// Applies the default, the type, nullability, sensitivity and validations.
fn finish_variable(
    variable: &Variable,
    given: Option<Given>,
    mode: Mode,
    module_dir: &std::path::Path,
    sources: &mut SourceMap,
    templates: &mut TemplateCache,
    diags: &mut Diagnostics,
) -> Value {
    let name = &variable.name.name;
    let given = match given {
        Some(g) => Some(g),
        None => match &variable.default {
            Some(default) => {
                let mut ev = Evaluator::new(module_dir, sources, templates);
                match ev.eval(default) {
                    Ok(value) => Some(Given {
                        value,
                        span: Some(default.span),
                        origin: "its default".into(),
                    }),
                    Err(d) => {
                        diags.push(d);
                        None
                    }
                }
            }
            None => None,
        },
    };
    let Some(given) = given else {
        if mode == Mode::Plan {
            diags.push(
                Diagnostic::at(Code::MissingVariable, variable.name.span, format!("variable \"{name}\" has no value"))
                    .with_help(format!("pass --var {name}=VALUE, set IMM_VAR_{name}, set it in the environment's vars, or give it a default")),
            );
        }
        return mark(Value::Unknown(variable.ty.clone()), variable.sensitive);
    };
    if given.value.is_null() && !variable.nullable {
        diags.push(
            at_or_new(
                Code::TypeMismatch,
                given.span,
                format!(
                    "variable \"{name}\" must not be null (from {})",
                    given.origin
                ),
            )
            .with_help("give it a value, or remove nullable = false"),
        );
    }
    let value = match convert(given.value, &variable.ty) {
        Ok(v) => v,
        Err(e) => {
            diags.push(
                at_or_new(
                    Code::TypeMismatch,
                    given.span,
                    if variable.sensitive {
                        format!("variable \"{name}\" must be {} (from {}; the value is sensitive and not shown)", variable.ty, given.origin)
                    } else {
                        format!("variable \"{name}\" must be {}: {} (from {})", variable.ty, e.message, given.origin)
                    },
                )
                .with_label(variable.name.span, format!("declared as {}", variable.ty))
                .with_help(format!("give a value of type {}", variable.ty)),
            );
            Value::Unknown(variable.ty.clone())
        }
    };
    let value = mark(value, variable.sensitive);
    check_validations(variable, &value, module_dir, sources, templates, diags);
    value
}

fn at_or_new(code: Code, span: Option<Span>, message: String) -> Diagnostic {
    match span {
        Some(s) => Diagnostic::at(code, s, message),
        None => Diagnostic::new(code, message),
    }
}

fn check_validations(
    variable: &Variable,
    value: &Value,
    module_dir: &std::path::Path,
    sources: &mut SourceMap,
    templates: &mut TemplateCache,
    diags: &mut Diagnostics,
) {
    if value.contains_unknown() {
        return;
    }
    let mut ev = Evaluator::new(module_dir, sources, templates);
    let mut vars = BTreeMap::new();
    vars.insert(variable.name.name.clone(), value.clone());
    ev.roots.insert("var".into(), Value::Map(vars));
    for validation in &variable.validations {
        let ok = match ev.eval(&validation.condition) {
            Ok(v) => v.unmark_deep().0,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        match ok {
            Value::Bool(true) | Value::Unknown(_) => {}
            Value::Bool(false) => {
                let message = ev
                    .eval(&validation.message)
                    .map(|m| m.display())
                    .unwrap_or_else(|_| "the validation condition is false".into());
                diags.push(
                    Diagnostic::at(
                        Code::ValidationFailed,
                        validation.condition.span,
                        format!(
                            "invalid value for variable \"{}\": {message}",
                            variable.name.name
                        ),
                    )
                    .with_primary_label("this condition is false")
                    .with_help("pass a value that satisfies the condition"),
                );
            }
            other => diags.push(Diagnostic::at(
                Code::TypeMismatch,
                validation.condition.span,
                format!(
                    "a validation condition must be a bool, not a {}",
                    other.type_name()
                ),
            )),
        }
    }
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
    oracle: &'o mut dyn OutsOracle,
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
            instance.config = config;
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

    /// `secret.*`: read in plan mode, unknown in validate mode; sensitive always.
    fn secrets(&mut self, decl: &ModuleDecl, ev: &mut Evaluator<'_>) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        for (name, secret) in &decl.secrets {
            let Some(from) = secret.from.as_literal_string() else {
                self.diags.push(
                    Diagnostic::at(
                        Code::InvalidSecretSource,
                        secret.from.span,
                        "a secret's from must be a literal string",
                    )
                    .with_help("write from = \"env:VAR\", \"file:PATH\" or \"store:KEY\""),
                );
                continue;
            };
            let source = match parse_secret_source(from) {
                Ok(s) => s,
                Err(message) => {
                    self.diags.push(
                        Diagnostic::at(Code::InvalidSecretSource, secret.from.span, message)
                            .with_help("write from = \"env:VAR\", \"file:PATH\" or \"store:KEY\""),
                    );
                    continue;
                }
            };
            let value = match self.mode {
                Mode::Validate => Value::Unknown(Type::String),
                Mode::Plan => self.read_secret(name, &source, secret.from.span, &ev.module_dir),
            };
            out.insert(name.clone(), value.mark_sensitive());
        }
        out
    }

    fn read_secret(
        &mut self,
        name: &str,
        source: &SecretSource,
        span: Span,
        module_dir: &std::path::Path,
    ) -> Value {
        match source {
            SecretSource::Env(var) => match self.inputs.process_env.get(var) {
                Some(v) => Value::string(v.clone()),
                None => {
                    self.diags.push(
                        Diagnostic::at(
                            Code::SecretUnavailable,
                            span,
                            format!("secret \"{name}\": the environment variable {var} is not set"),
                        )
                        .with_help(format!("export {var}=... before running imm")),
                    );
                    Value::Unknown(Type::String)
                }
            },
            SecretSource::File(path) => match self
                .inputs
                .reads
                .read(&module_dir.join(path))
                .and_then(|bytes| {
                    String::from_utf8(bytes.to_vec()).map_err(|_| {
                        std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text")
                    })
                }) {
                // A trailing newline is an editor's, not the secret's.
                Ok(text) => Value::string(text.strip_suffix('\n').unwrap_or(&text).to_string()),
                Err(e) => {
                    self.diags.push(
                        Diagnostic::at(
                            Code::SecretUnavailable,
                            span,
                            format!("secret \"{name}\": cannot read {path}: {}", e.kind()),
                        )
                        .with_help("create the file, or fix the path (relative to the module)"),
                    );
                    Value::Unknown(Type::String)
                }
            },
            SecretSource::Store(key) => match self.inputs.store_values.get(key) {
                Some(Ok(v)) => Value::string(v.clone()),
                Some(Err(problem)) => {
                    self.diags.push(
                        Diagnostic::at(
                            Code::SecretUnavailable,
                            span,
                            format!("secret \"{name}\": {problem}"),
                        )
                        .with_help("write the key to the default store (below <prefix>/<env>/), or check that the store is reachable"),
                    );
                    Value::Unknown(Type::String)
                }
                None if self.mode == Mode::Validate => Value::Unknown(Type::String),
                None => {
                    self.diags.push(
                        Diagnostic::at(
                            Code::SecretUnavailable,
                            span,
                            format!("secret \"{name}\": the store was not read"),
                        )
                        .with_help("this is a bug: plan and apply read store: secrets first"),
                    );
                    Value::Unknown(Type::String)
                }
            },
        }
    }

    /// Expands and evaluates a resource; returns its value for references:
    /// an object, or a list (`count`) or map (`for_each`) of objects.
    fn resource(
        &mut self,
        ev: &mut Evaluator<'_>,
        node: &ModuleNode,
        resource: &Resource,
        deps: &[String],
    ) -> Value {
        let prefix = &node.address_prefix;
        // `depends_on = [x]` is also a reference to x: list each once.
        let depends_on: Vec<String> = deps
            .iter()
            .map(|d| format!("{prefix}{d}"))
            .chain(self.explicit_depends_on(resource, prefix))
            .chain(self.inherited_deps.iter().cloned())
            .collect::<indexmap::IndexSet<String>>()
            .into_iter()
            .collect();
        let prevent_destroy = resource
            .body
            .blocks_named("lifecycle")
            .filter_map(|b| b.body.attribute("prevent_destroy"))
            .any(|a| matches!(a.value.kind, ExprKind::Bool(true)));
        let base = InstanceBase {
            node,
            resource,
            depends_on,
            prevent_destroy,
        };
        if let Some(count_expr) = &resource.count {
            return match self.count(ev, count_expr) {
                Some(n) => Value::List(
                    (0..n)
                        .map(|i| {
                            ev.roots.insert(
                                "count".into(),
                                object([("index", Value::Number(i as f64))]),
                            );
                            let v = self.instance(ev, &base, Some(InstanceKey::Index(i)));
                            ev.roots.remove("count");
                            v
                        })
                        .collect(),
                ),
                None => {
                    ev.roots.insert(
                        "count".into(),
                        object([("index", Value::Unknown(Type::Number))]),
                    );
                    self.instance_unexpanded(ev, &base);
                    ev.roots.remove("count");
                    Value::Unknown(Type::List(Box::new(Type::Any)))
                }
            };
        }
        if let Some(for_each_expr) = &resource.for_each {
            return match self.for_each(ev, for_each_expr) {
                Some(entries) => Value::Map(
                    entries
                        .into_iter()
                        .map(|(k, v)| {
                            ev.roots.insert(
                                "each".into(),
                                object([("key", Value::string(k.clone())), ("value", v)]),
                            );
                            let value = self.instance(ev, &base, Some(InstanceKey::Key(k.clone())));
                            ev.roots.remove("each");
                            (k, value)
                        })
                        .collect(),
                ),
                None => {
                    ev.roots.insert(
                        "each".into(),
                        object([
                            ("key", Value::Unknown(Type::String)),
                            ("value", Value::Unknown(Type::Any)),
                        ]),
                    );
                    self.instance_unexpanded(ev, &base);
                    ev.roots.remove("each");
                    Value::Unknown(Type::Map(Box::new(Type::Any)))
                }
            };
        }
        self.instance(ev, &base, None)
    }

    fn explicit_depends_on(&self, resource: &Resource, prefix: &str) -> Vec<String> {
        let Some(attr) = resource.body.attribute("depends_on") else {
            return Vec::new();
        };
        let ExprKind::Tuple(items) = &attr.value.kind else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|i| i.as_traversal())
            .map(|(root, names)| {
                let path: Vec<&str> = std::iter::once(root.name.as_str())
                    .chain(names.iter().map(|n| n.name.as_str()))
                    .collect();
                format!("{prefix}{}", path.join("."))
            })
            .collect()
    }

    fn count(&mut self, ev: &mut Evaluator<'_>, expr: &Expr) -> Option<usize> {
        let value = self.eval_or_unknown(ev, expr).unmark_deep().0;
        let n = match value {
            Value::Number(n) => n,
            Value::String(ref s) => imm_stdlib::value::parse_number(s).unwrap_or(f64::NAN),
            Value::Unknown(_) => {
                if self.mode == Mode::Plan {
                    self.diags.push(Diagnostic::at(Code::InvalidCount, expr.span, "count must be known before apply")
                        .with_help("count may depend on variables and locals, not on attributes known only after apply"));
                }
                return None;
            }
            ref other => {
                self.diags.push(Diagnostic::at(
                    Code::InvalidCount,
                    expr.span,
                    format!("count must be a number, not a {}", other.type_name()),
                ));
                return None;
            }
        };
        if n.fract() != 0.0 || n < 0.0 || n.is_nan() {
            self.diags.push(
                Diagnostic::at(
                    Code::InvalidCount,
                    expr.span,
                    format!(
                        "count must be a whole number of 0 or more, not {}",
                        format_number(n)
                    ),
                )
                .with_help("use e.g. count = 2"),
            );
            return None;
        }
        Some(n as usize)
    }

    fn for_each(&mut self, ev: &mut Evaluator<'_>, expr: &Expr) -> Option<Vec<(String, Value)>> {
        let (value, sensitive) = self.eval_or_unknown(ev, expr).unmark_deep();
        if sensitive {
            self.diags.push(
                Diagnostic::at(
                    Code::InvalidForEach,
                    expr.span,
                    "for_each cannot use sensitive values: instance keys are shown in plans",
                )
                .with_help("iterate over non-sensitive keys, e.g. keys(...)"),
            );
            return None;
        }
        match value {
            Value::Map(map) => Some(map.into_iter().collect()),
            Value::Set(items) => {
                let mut out = Vec::new();
                for item in items {
                    match item {
                        Value::String(s) => out.push((s.clone(), Value::String(s))),
                        other => {
                            self.diags.push(Diagnostic::at(
                                Code::InvalidForEach,
                                expr.span,
                                format!(
                                    "for_each over a set needs strings, but one element is a {}",
                                    other.type_name()
                                ),
                            ));
                            return None;
                        }
                    }
                }
                Some(out)
            }
            Value::Unknown(_) => {
                if self.mode == Mode::Plan {
                    self.diags.push(Diagnostic::at(Code::InvalidForEach, expr.span, "for_each must be known before apply")
                        .with_help("for_each may depend on variables and locals, not on attributes known only after apply"));
                }
                None
            }
            Value::List(_) => {
                self.diags.push(
                    Diagnostic::at(
                        Code::InvalidForEach,
                        expr.span,
                        "for_each needs a map or a set of strings, not a list",
                    )
                    .with_help("convert the list with toset(...)"),
                );
                None
            }
            other => {
                self.diags.push(
                    Diagnostic::at(
                        Code::InvalidForEach,
                        expr.span,
                        format!(
                            "for_each needs a map or a set of strings, not a {}",
                            other.type_name()
                        ),
                    )
                    .with_help("use a map, or toset([...]) of strings"),
                );
                None
            }
        }
    }

    /// Evaluates the body once with unknown count.index / each.*, to check
    /// it, when the instances cannot be known.
    fn instance_unexpanded(&mut self, ev: &mut Evaluator<'_>, base: &InstanceBase<'_>) {
        self.config(ev, base.resource);
    }

    fn instance(
        &mut self,
        ev: &mut Evaluator<'_>,
        base: &InstanceBase<'_>,
        key: Option<InstanceKey>,
    ) -> Value {
        let resource = base.resource;
        let prefix = &base.node.address_prefix;
        let resource_address = format!("{prefix}{}", resource.key());
        let address = format!(
            "{resource_address}{}",
            key.as_ref().map(InstanceKey::suffix).unwrap_or_default()
        );
        ev.roots.insert(
            "self".into(),
            object([("name", Value::string(resource.name.name.clone()))]),
        );
        let mut value = self.config(ev, resource);
        ev.roots.remove("self");
        let instance = Instance {
            address,
            resource: resource_address,
            type_name: resource.type_name.name.clone(),
            name: resource.name.name.clone(),
            key,
            config: BTreeMap::new(),
            depends_on: base.depends_on.clone(),
            prevent_destroy: base.prevent_destroy,
            module_dir: base.node.dir.clone(),
            span: resource.span,
        };
        let mut known = self.oracle.outs(&instance, &value);
        // The configuration goes to the reference table, with the out
        // attributes over it; `take_back_configs` returns it to the
        // instance afterwards, which saves a deep copy per instance.
        let mut shadowed = Vec::new();
        for out in resource.schema.outs {
            let v = known
                .remove(out.name)
                .unwrap_or_else(|| Value::Unknown(out.kind.to_type()));
            if let Some(configured) = value.insert(out.name.to_string(), v) {
                shadowed.push((out.name.to_string(), configured));
            }
        }
        self.pending.push(Pending {
            instance: self.instances.len(),
            shadowed,
        });
        self.instances.push(instance);
        Value::Map(value)
    }

    /// The instance's attributes and nested blocks, type-checked.
    fn config(&mut self, ev: &mut Evaluator<'_>, resource: &Resource) -> BTreeMap<String, Value> {
        let mut config = BTreeMap::new();
        for attr in resource.body.attributes() {
            let name = attr.name.name.as_str();
            if matches!(name, "count" | "for_each" | "depends_on") {
                continue;
            }
            let value = self.eval_or_unknown(ev, &attr.value);
            let kind = resource
                .schema
                .attr(name)
                .map(|a| a.kind)
                .unwrap_or(Kind::Any);
            let value = self.typed(value, kind, attr, &resource.type_name.name);
            config.insert(name.to_string(), value);
        }
        let mut repeated: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for block in resource.body.blocks() {
            let Some(block_schema) = resource.schema.block(&block.kind.name) else {
                continue;
            };
            let mut fields = BTreeMap::new();
            for attr in block.body.attributes() {
                let value = self.eval_or_unknown(ev, &attr.value);
                let kind = block_schema
                    .attrs
                    .iter()
                    .find(|a| a.name == attr.name.name)
                    .map(|a| a.kind)
                    .unwrap_or(Kind::Any);
                let value = self.typed(value, kind, attr, &block.kind.name);
                fields.insert(attr.name.name.clone(), value);
            }
            if block_schema.repeatable {
                repeated
                    .entry(block.kind.name.clone())
                    .or_default()
                    .push(Value::Map(fields));
            } else {
                config.insert(block.kind.name.clone(), Value::Map(fields));
            }
        }
        for (name, items) in repeated {
            config.insert(name, Value::List(items));
        }
        config
    }

    fn typed(&mut self, value: Value, kind: Kind, attr: &Attribute, owner: &str) -> Value {
        if value.is_null() || conforms(&value, kind) {
            return value;
        }
        match convert(value, &kind.to_type()) {
            Ok(v) => v,
            Err(e) => {
                self.diags.push(
                    Diagnostic::at(
                        Code::TypeMismatch,
                        attr.value.span,
                        format!(
                            "{owner}.{} must be {}: {}",
                            attr.name.name,
                            kind.to_type(),
                            e.message
                        ),
                    )
                    .with_help(format!("give a value of type {}", kind.to_type())),
                );
                Value::Unknown(kind.to_type())
            }
        }
    }
}

/// Whether a value already has the attribute's type, so converting it
/// would only copy it.
fn conforms(value: &Value, kind: Kind) -> bool {
    let is_string = |v: &Value| matches!(v, Value::String(_));
    match (kind, value) {
        (Kind::Any, _) => true,
        (Kind::String, Value::String(_))
        | (Kind::Number, Value::Number(_))
        | (Kind::Bool, Value::Bool(_)) => true,
        (Kind::ListOfString, Value::List(items)) => items.iter().all(is_string),
        (Kind::MapOfString, Value::Map(map)) => map.values().all(is_string),
        _ => false,
    }
}

struct InstanceBase<'a> {
    node: &'a ModuleNode,
    resource: &'a Resource,
    depends_on: Vec<String>,
    prevent_destroy: bool,
}

fn insert_root(ev: &mut Evaluator<'_>, root: &str, name: &str, value: Value) {
    if let Some(Value::Map(map)) = ev.roots.get_mut(root) {
        map.insert(name.to_string(), value);
    }
}

fn object<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

fn store_value(name: &str) -> Value {
    object([("name", Value::string(name))])
}

/// Where a secret's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    File(String),
    Store(String),
}

pub fn parse_secret_source(from: &str) -> Result<SecretSource, String> {
    let (kind, rest) = from
        .split_once(':')
        .ok_or_else(|| format!("\"{from}\" is not a secret source"))?;
    if rest.is_empty() {
        return Err(format!("\"{from}\" names no {kind}"));
    }
    match kind {
        "env" => Ok(SecretSource::Env(rest.to_string())),
        "file" => Ok(SecretSource::File(rest.to_string())),
        "store" => Ok(SecretSource::Store(rest.to_string())),
        other => Err(format!("\"{other}:\" is not a secret source kind")),
    }
}

/// The evaluated attributes of the root module's `store` blocks and its
/// `state` block, for one environment (they may use `env.*` and variables'
/// defaults are not available: they configure where imm reads from, before
/// anything else is evaluated).
#[derive(Debug, Default)]
pub struct Settings {
    pub stores: IndexMap<String, BTreeMap<String, Value>>,
    pub state: Option<BTreeMap<String, Value>>,
    /// The environment's `protected`, evaluated (any expression form).
    pub protected: bool,
    /// The environment's `promote_from`, evaluated.
    pub promote_from: Option<String>,
}

pub fn settings(project: &mut Project, environment: &str) -> (Settings, Diagnostics) {
    let mut diags = Diagnostics::default();
    let mut templates = TemplateCache::default();
    let root = &project.root;
    let sources = &mut project.sources;
    let env_value = environment_value(&root.decl, environment, sources, &mut templates, &mut diags);
    let mut ev = Evaluator::new(&root.dir, sources, &mut templates);
    ev.roots.insert("env".into(), env_value);
    let mut settings = Settings::default();
    let mut attributes = |ev: &mut Evaluator<'_>, block: &crate::syntax::ast::Block| {
        let mut values = BTreeMap::new();
        for attr in block.body.attributes() {
            match ev.eval(&attr.value) {
                Ok(v) => {
                    values.insert(attr.name.name.clone(), v);
                }
                Err(d) => diags.push(d),
            }
        }
        values
    };
    for (name, store) in &root.decl.stores {
        let values = attributes(&mut ev, &store.block);
        settings.stores.insert(name.clone(), values);
    }
    if let Some(state) = &root.decl.state {
        settings.state = Some(attributes(&mut ev, state));
    }
    if let Some(declared) = root.decl.environments.get(environment) {
        let mut policy = |name: &str, wanted: Type| {
            let attr = declared.attribute(name)?;
            let value = match ev.eval(&attr.value) {
                Ok(v) => v,
                Err(d) => {
                    diags.push(d);
                    return None;
                }
            };
            match convert(value.unmarked().clone(), &wanted) {
                Ok(v) if !v.is_null() && !v.contains_unknown() => Some(v),
                _ => {
                    diags.push(
                        Diagnostic::at(
                            Code::TypeMismatch,
                            attr.value.span,
                            format!(
                                "environment \"{environment}\": {name} must be a known {}",
                                wanted
                            ),
                        )
                        .with_help(format!(
                            "write {name} as a {} that needs no variable of this run",
                            wanted
                        )),
                    );
                    None
                }
            }
        };
        settings.protected = matches!(policy("protected", Type::Bool), Some(Value::Bool(true)));
        settings.promote_from = match policy("promote_from", Type::String) {
            Some(Value::String(source)) => Some(source),
            _ => None,
        };
    }
    (settings, diags)
}
