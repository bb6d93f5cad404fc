//! Declarations: the top-level blocks of one module's files, collected
//! into typed tables, with the structural checks that need no evaluation —
//! unknown and duplicate blocks and attributes, label counts, required
//! attributes, resource schemas, `count` with `for_each`.

use crate::diagnostics::{did_you_mean, Code, Diagnostic, Diagnostics};
use crate::schema::{self, BlockSchema, ResourceSchema};
use crate::source::Span;
use crate::syntax::ast::*;
use imm_stdlib::Type;
use indexmap::IndexMap;

#[derive(Debug, Clone)]
pub struct Variable {
    pub name: Ident,
    pub ty: Type,
    pub default: Option<Expr>,
    pub description: Option<String>,
    pub sensitive: bool,
    pub nullable: bool,
    pub validations: Vec<Validation>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Validation {
    pub condition: Expr,
    pub message: Expr,
}

/// A `precondition`, `postcondition` or `assert` block: a condition and
/// the message shown when it is false.
#[derive(Debug, Clone)]
pub struct Condition {
    pub condition: Expr,
    pub message: Expr,
}

/// `check "NAME" { assert { … } }`: reported, never blocking.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: Ident,
    pub asserts: Vec<Condition>,
    pub span: Span,
}

/// Whether a failed policy blocks the apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforce {
    Mandatory,
    Advisory,
}

impl Enforce {
    pub fn as_str(self) -> &'static str {
        match self {
            Enforce::Mandatory => "mandatory",
            Enforce::Advisory => "advisory",
        }
    }
}

/// `policy "NAME" { enforce = …  assert { … } }`: a rule over the plan.
#[derive(Debug, Clone)]
pub struct Policy {
    pub name: Ident,
    pub enforce: Enforce,
    pub asserts: Vec<Condition>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Local {
    pub name: Ident,
    pub value: Expr,
}

/// `moved { from = …  to = … }`: addresses written as references.
#[derive(Debug, Clone)]
pub struct Move {
    pub from: MoveAddress,
    pub to: MoveAddress,
    pub span: Span,
}

/// A `moved` address: `module.A.module.B.TYPE.NAME[KEY]`, a module
/// (`module.A`) or a resource with or without an instance key.
#[derive(Debug, Clone, PartialEq)]
pub struct MoveAddress {
    /// `module.A.module.B.`, empty for the root module.
    pub module_prefix: String,
    /// `TYPE.NAME`; `None` when the address is a module.
    pub resource: Option<(String, String)>,
    /// `[0]` or `["k"]`, as written in instance addresses.
    pub key: Option<String>,
    pub span: Span,
}

impl MoveAddress {
    /// The address as state writes it (`module.a.docker_volume.data[0]`).
    pub fn to_address(&self) -> String {
        let mut out = self.module_prefix.clone();
        match &self.resource {
            Some((type_name, name)) => out.push_str(&format!("{type_name}.{name}")),
            None => {
                out.pop(); // the trailing dot of `module.a.`
            }
        }
        if let Some(key) = &self.key {
            out.push_str(key);
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct Output {
    pub name: Ident,
    pub value: Expr,
    pub description: Option<String>,
    pub sensitive: bool,
    pub preconditions: Vec<Condition>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Environment {
    pub name: Ident,
    /// Every attribute, the reserved ones (`vars`, …) included.
    pub attributes: Vec<Attribute>,
    pub span: Span,
}

impl Environment {
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name.name == name)
    }

    /// The names of the variables this environment sets in `vars`.
    pub fn var_names(&self) -> Vec<&Ident> {
        let Some(vars) = self.attribute("vars") else {
            return Vec::new();
        };
        let ExprKind::Object(items) = &vars.value.kind else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|(key, _)| match key {
                ObjectKey::Name(ident) => Some(ident),
                ObjectKey::Expr(_) => None,
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct Secret {
    pub name: Ident,
    pub from: Expr,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Store {
    pub name: Ident,
    pub block: Block,
}

/// `registry "ADDRESS" { username  password  insecure }`.
#[derive(Debug, Clone)]
pub struct Registry {
    pub address: Ident,
    pub block: Block,
}

#[derive(Debug, Clone)]
pub struct Engine {
    pub name: Ident,
    pub block: Block,
}

#[derive(Debug, Clone)]
pub struct ModuleCall {
    pub name: Ident,
    pub source: String,
    pub source_span: Span,
    pub arguments: Vec<Attribute>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Resource {
    pub type_name: Ident,
    pub name: Ident,
    pub body: Body,
    pub count: Option<Expr>,
    pub for_each: Option<Expr>,
    pub schema: &'static ResourceSchema,
    /// `lifecycle { precondition { … } }`.
    pub preconditions: Vec<Condition>,
    /// `lifecycle { postcondition { … } }`.
    pub postconditions: Vec<Condition>,
    pub span: Span,
}

impl Resource {
    /// `TYPE.NAME`.
    pub fn key(&self) -> String {
        format!("{}.{}", self.type_name.name, self.name.name)
    }
}

/// The declarations of one module.
#[derive(Debug, Default, Clone)]
pub struct ModuleDecl {
    pub variables: IndexMap<String, Variable>,
    pub locals: IndexMap<String, Local>,
    pub outputs: IndexMap<String, Output>,
    pub environments: IndexMap<String, Environment>,
    pub secrets: IndexMap<String, Secret>,
    pub stores: IndexMap<String, Store>,
    pub engines: IndexMap<String, Engine>,
    /// `registry "ADDRESS"` blocks, by address.
    pub registries: IndexMap<String, Registry>,
    pub state: Option<Block>,
    pub modules: IndexMap<String, ModuleCall>,
    /// By `TYPE.NAME`.
    pub resources: IndexMap<String, Resource>,
    /// `moved` blocks, in the order written.
    pub moves: Vec<Move>,
    pub checks: IndexMap<String, Check>,
    pub policies: IndexMap<String, Policy>,
}

/// Collects the declarations of a module's files.
pub fn collect(bodies: Vec<Body>, diags: &mut Diagnostics) -> ModuleDecl {
    let mut decl = ModuleDecl::default();
    let mut first_state: Option<Span> = None;
    for body in bodies {
        for item in body.items {
            match item {
                Item::Attribute(attr) => diags.push(
                    Diagnostic::at(
                        Code::TopLevelAttribute,
                        attr.name.span,
                        format!(
                            "attribute \"{}\" cannot stand at the top level",
                            attr.name.name
                        ),
                    )
                    .with_help(format!(
                        "put it into a block, e.g. locals {{ {} = ... }}",
                        attr.name.name
                    )),
                ),
                Item::Block(block) => collect_block(block, &mut decl, &mut first_state, diags),
            }
        }
    }
    for m in &decl.moves {
        if let Err(problem) = check_move(&decl, m) {
            diags.push(problem);
        }
    }
    decl
}

/// A move goes from something no longer declared to something declared,
/// between two resources of one type or two modules.
fn check_move(decl: &ModuleDecl, m: &Move) -> Result<(), Diagnostic> {
    let invalid = |span: Span, message: String, help: &str| {
        Err(Diagnostic::at(Code::InvalidMove, span, message).with_help(help.to_string()))
    };
    let (from, to) = (&m.from, &m.to);
    if from.to_address() == to.to_address() {
        return invalid(
            to.span,
            "a move to where it comes from".into(),
            "remove the moved block",
        );
    }
    match (&from.resource, &to.resource) {
        (Some((from_type, _)), Some((to_type, _))) if from_type != to_type => {
            return invalid(
                to.span,
                format!("a {from_type} cannot become a {to_type}"),
                "a move keeps the object: from and to must be of one resource type",
            )
        }
        (Some(_), None) | (None, Some(_)) => {
            return invalid(
                to.span,
                "a module can only move to a module, a resource to a resource".into(),
                "write both as resources (TYPE.NAME) or both as modules (module.NAME)",
            )
        }
        _ => {}
    }
    if !declared(decl, to) {
        return invalid(
            to.span,
            format!("{} is not declared", to.to_address()),
            "declare the new address (the move's `to`), or fix its spelling",
        );
    }
    let same_resource = from.module_prefix == to.module_prefix && from.resource == to.resource;
    if declared(decl, from) && from.key.is_none() && !same_resource {
        return invalid(
            from.span,
            format!("{} is still declared", from.to_address()),
            "a move's `from` is the old address: remove or rename its declaration",
        );
    }
    Ok(())
}

/// Whether this module declares the address (its first module when it
/// is inside one: the module's own declarations are its own).
fn declared(decl: &ModuleDecl, address: &MoveAddress) -> bool {
    if let Some(module) = address.module_prefix.split('.').nth(1) {
        return decl.modules.contains_key(module);
    }
    match &address.resource {
        Some((type_name, name)) => decl.resources.contains_key(&format!("{type_name}.{name}")),
        None => false,
    }
}

/// The help for `config "x" { … }`: a resource type written as a block
/// type, as a Compose or Kubernetes user may try first.
fn resource_written_as_block(block: &Block) -> String {
    let type_name = &block.kind.name;
    let name = block
        .labels
        .first()
        .map_or("NAME", |label| label.name.as_str());
    format!(
        "\"{type_name}\" is a resource type: declare it as resource \"{type_name}\" \"{name}\" {{ ... }}"
    )
}

/// Takes the block by value: resources and locals, the bulk of a large
/// project, are moved into the tables rather than copied.
fn collect_block(
    block: Block,
    decl: &mut ModuleDecl,
    first_state: &mut Option<Span>,
    diags: &mut Diagnostics,
) {
    let Some(top) = schema::top_level(&block.kind.name) else {
        let names: Vec<&str> = schema::TOP_LEVEL.iter().map(|t| t.name).collect();
        let mut d = Diagnostic::at(
            Code::UnknownBlock,
            block.kind.span,
            format!("unknown block type \"{}\"", block.kind.name),
        );
        d = match did_you_mean(&block.kind.name, names.iter().copied()) {
            _ if crate::types::get(&block.kind.name).is_some() => {
                d.with_help(resource_written_as_block(&block))
            }
            Some(s) => d.with_help(format!("did you mean \"{s}\"?")),
            None => d.with_help(format!("the top-level blocks are: {}", names.join(", "))),
        };
        diags.push(d);
        return;
    };
    if block.labels.len() != top.labels.len() {
        let expected = if top.labels.is_empty() {
            format!("{} {{ ... }}", top.name)
        } else {
            let labels: Vec<String> = top.labels.iter().map(|l| format!("\"{l}\"")).collect();
            format!("{} {} {{ ... }}", top.name, labels.join(" "))
        };
        diags.push(
            Diagnostic::at(
                Code::WrongLabels,
                block.kind.span,
                format!(
                    "a {} block takes {} label(s), found {}",
                    top.name,
                    top.labels.len(),
                    block.labels.len()
                ),
            )
            .with_help(format!("write {expected}")),
        );
        return;
    }
    let label = |i: usize| block.labels[i].clone();
    match top.name {
        "variable" => {
            check_body(&block, &top.body, &[&schema::VALIDATION_BLOCK], diags);
            let v = variable(&block, label(0), diags);
            insert_unique(
                &mut decl.variables,
                v.name.clone(),
                v,
                "variable",
                diags,
                |v| v.name.span,
            );
        }
        "locals" => {
            // Duplicates are reported once, as duplicate local values, below.
            for b in block.body.blocks() {
                unexpected_block(b, "locals", diags);
            }
            for item in block.body.items {
                if let Item::Attribute(a) = item {
                    let name = a.name.clone();
                    let local = Local {
                        name: a.name,
                        value: a.value,
                    };
                    insert_unique(&mut decl.locals, name, local, "local value", diags, |l| {
                        l.name.span
                    });
                }
            }
        }
        "check" => {
            check_body(&block, &top.body, &[&schema::ASSERT_BLOCK], diags);
            let c = Check {
                name: label(0),
                asserts: conditions(&block.body, "assert"),
                span: block.span,
            };
            insert_unique(&mut decl.checks, c.name.clone(), c, "check", diags, |c| {
                c.name.span
            });
        }
        "policy" => {
            check_body(&block, &top.body, &[&schema::ASSERT_BLOCK], diags);
            let p = policy(&block, label(0), diags);
            insert_unique(
                &mut decl.policies,
                p.name.clone(),
                p,
                "policy",
                diags,
                |p| p.name.span,
            );
        }
        "output" => {
            check_body(&block, &top.body, &[&schema::PRECONDITION_BLOCK], diags);
            let o = output(&block, label(0), diags);
            insert_unique(&mut decl.outputs, o.name.clone(), o, "output", diags, |o| {
                o.name.span
            });
        }
        "environment" => {
            check_duplicate_attributes(&block.body, diags);
            for b in block.body.blocks() {
                unexpected_block(b, "environment", diags);
            }
            let env = Environment {
                name: label(0),
                attributes: block.body.attributes().cloned().collect(),
                span: block.span,
            };
            insert_unique(
                &mut decl.environments,
                env.name.clone(),
                env,
                "environment",
                diags,
                |e| e.name.span,
            );
        }
        "secret" => {
            check_body(&block, &top.body, &[], diags);
            if let Some(from) = block.body.attribute("from") {
                let s = Secret {
                    name: label(0),
                    from: from.value.clone(),
                    span: block.span,
                };
                insert_unique(&mut decl.secrets, s.name.clone(), s, "secret", diags, |s| {
                    s.name.span
                });
            }
        }
        "store" => {
            check_body(&block, &top.body, &[], diags);
            let s = Store {
                name: label(0),
                block: block.clone(),
            };
            insert_unique(&mut decl.stores, s.name.clone(), s, "store", diags, |s| {
                s.name.span
            });
        }
        "engine" => {
            check_body(
                &block,
                &top.body,
                &[
                    &crate::types::engine::TLS_BLOCK,
                    &crate::types::engine::REGISTRY_BLOCK,
                ],
                diags,
            );
            let e = Engine {
                name: label(0),
                block: block.clone(),
            };
            insert_unique(&mut decl.engines, e.name.clone(), e, "engine", diags, |e| {
                e.name.span
            });
        }
        "registry" => {
            check_body(&block, &top.body, &[], diags);
            let r = Registry {
                address: label(0),
                block: block.clone(),
            };
            insert_unique(
                &mut decl.registries,
                r.address.clone(),
                r,
                "registry",
                diags,
                |r| r.address.span,
            );
        }
        "state" => {
            check_body(&block, &top.body, &[], diags);
            match first_state {
                Some(first) => diags.push(
                    Diagnostic::at(
                        Code::Duplicate,
                        block.kind.span,
                        "a project has at most one state block",
                    )
                    .with_label(*first, "first state block here")
                    .with_help("remove one of the two state blocks"),
                ),
                None => {
                    *first_state = Some(block.kind.span);
                    decl.state = Some(block.clone());
                }
            }
        }
        "module" => {
            check_duplicate_attributes(&block.body, diags);
            for b in block.body.blocks() {
                unexpected_block(b, "module", diags);
            }
            if let Some(m) = module_call(&block, label(0), diags) {
                insert_unique(&mut decl.modules, m.name.clone(), m, "module", diags, |m| {
                    m.name.span
                });
            }
        }
        "moved" => {
            check_body(&block, &top.body, &[], diags);
            let from = block.body.attribute("from").map(|a| move_address(&a.value));
            let to = block.body.attribute("to").map(|a| move_address(&a.value));
            match (from, to) {
                (Some(Ok(from)), Some(Ok(to))) => decl.moves.push(Move {
                    from,
                    to,
                    span: block.span,
                }),
                (from, to) => {
                    for problem in [from, to].into_iter().flatten().filter_map(Result::err) {
                        diags.push(problem);
                    }
                }
            }
        }
        "resource" => {
            let (type_name, name) = (label(0), label(1));
            if let Some(r) = resource(block, type_name, name, diags) {
                let key = r.key();
                if let Some(previous) = decl.resources.get(&key) {
                    diags.push(duplicate("resource", &key, r.name.span, previous.name.span));
                } else {
                    decl.resources.insert(key, r);
                }
            }
        }
        _ => {}
    }
}

fn duplicate(what: &str, name: &str, second: Span, first: Span) -> Diagnostic {
    Diagnostic::at(
        Code::Duplicate,
        second,
        format!("{what} \"{name}\" is defined twice"),
    )
    .with_primary_label("defined again here")
    .with_label(first, "first defined here")
    .with_help(format!(
        "rename or remove one of the two definitions of \"{name}\""
    ))
}

/// Inserts a declaration unless its name is taken; `name_span` finds the
/// name of the one already there, to label both ends of the duplicate.
fn insert_unique<T>(
    map: &mut IndexMap<String, T>,
    name: Ident,
    value: T,
    what: &str,
    diags: &mut Diagnostics,
    name_span: fn(&T) -> Span,
) {
    if let Some(previous) = map.get(&name.name) {
        diags.push(duplicate(what, &name.name, name.span, name_span(previous)));
        return;
    }
    map.insert(name.name, value);
}

fn check_duplicate_attributes(body: &Body, diags: &mut Diagnostics) {
    let mut seen: IndexMap<&str, Span> = IndexMap::new();
    for a in body.attributes() {
        if let Some(first) = seen.get(a.name.name.as_str()) {
            diags.push(duplicate("attribute", &a.name.name, a.name.span, *first));
        } else {
            seen.insert(&a.name.name, a.name.span);
        }
    }
}

fn unexpected_block(block: &Block, parent: &str, diags: &mut Diagnostics) {
    diags.push(
        Diagnostic::at(
            Code::UnexpectedBlock,
            block.kind.span,
            format!(
                "a {parent} block cannot contain a \"{}\" block",
                block.kind.name
            ),
        )
        .with_help(format!(
            "write it as an attribute: {} = {{ ... }}",
            block.kind.name
        )),
    );
}

/// Checks a block's body against a block schema: known attributes,
/// required ones (a missing one is reported at the block's type, as
/// Terraform does), duplicates, and nested blocks from `nested`.
fn check_body(
    block: &Block,
    schema: &BlockSchema,
    nested: &[&BlockSchema],
    diags: &mut Diagnostics,
) {
    let body = &block.body;
    check_duplicate_attributes(body, diags);
    if !schema.open {
        for a in body.attributes() {
            if schema.attrs.iter().any(|s| s.name == a.name.name) {
                continue;
            }
            diags.push(unknown_attribute(
                &a.name,
                schema.name,
                schema.attrs.iter().map(|s| s.name),
            ));
        }
    }
    for required in schema.attrs.iter().filter(|a| a.required) {
        if body.attribute(required.name).is_none() {
            diags.push(
                Diagnostic::at(
                    Code::MissingAttribute,
                    block.kind.span,
                    format!(
                        "the {} block needs the attribute \"{}\"",
                        schema.name, required.name
                    ),
                )
                .with_help(format!("add {} = ... ({})", required.name, required.doc)),
            );
        }
    }
    let mut seen_single: IndexMap<&str, Span> = IndexMap::new();
    for b in body.blocks() {
        let Some(nested_schema) = nested.iter().find(|n| n.name == b.kind.name) else {
            let names: Vec<&str> = nested.iter().map(|n| n.name).collect();
            let mut d = Diagnostic::at(
                Code::UnexpectedBlock,
                b.kind.span,
                format!(
                    "a {} block cannot contain a \"{}\" block",
                    schema.name, b.kind.name
                ),
            );
            d = match did_you_mean(&b.kind.name, names.iter().copied()) {
                Some(s) => d.with_help(format!("did you mean \"{s}\"?")),
                None if names.is_empty() => {
                    d.with_help(format!("the {} block takes no nested blocks", schema.name))
                }
                None => d.with_help(format!("allowed here: {}", names.join(", "))),
            };
            diags.push(d);
            continue;
        };
        check_nested_block(b, nested_schema, &mut seen_single, diags);
    }
}

/// A nested block (`build`, `validation`, …): no labels, at most once
/// unless repeatable, and its attributes checked against its schema.
fn check_nested_block<'b>(
    b: &'b Block,
    schema: &BlockSchema,
    seen_single: &mut IndexMap<&'b str, Span>,
    diags: &mut Diagnostics,
) {
    if let Some(label) = b.labels.first() {
        diags.push(
            Diagnostic::at(
                Code::WrongLabels,
                label.span,
                format!("a {} block takes no labels", b.kind.name),
            )
            .with_help(format!("write {} {{ ... }}", b.kind.name)),
        );
    }
    if !schema.repeatable {
        if let Some(first) = seen_single.get(b.kind.name.as_str()) {
            diags.push(duplicate("block", &b.kind.name, b.kind.span, *first));
        } else {
            seen_single.insert(&b.kind.name, b.kind.span);
        }
    }
    check_nested_attributes(b, schema, diags);
}

pub fn unknown_attribute<'a>(
    name: &Ident,
    owner: &str,
    known: impl Iterator<Item = &'a str> + Clone,
) -> Diagnostic {
    let d = Diagnostic::at(
        Code::UnknownAttribute,
        name.span,
        format!("\"{}\" is not an attribute of {owner}", name.name),
    );
    match did_you_mean(&name.name, known.clone()) {
        Some(s) => d.with_help(format!("did you mean \"{s}\"?")),
        None => {
            let all: Vec<&str> = known.collect();
            if all.is_empty() {
                d.with_help(format!("{owner} takes no attributes"))
            } else {
                d.with_help(format!("known attributes: {}", all.join(", ")))
            }
        }
    }
}

fn literal_bool(body: &Body, name: &str, diags: &mut Diagnostics) -> bool {
    let Some(a) = body.attribute(name) else {
        return false;
    };
    match a.value.kind {
        ExprKind::Bool(b) => b,
        _ => {
            diags.push(
                Diagnostic::at(
                    Code::TypeMismatch,
                    a.value.span,
                    format!("\"{name}\" must be the literal true or false"),
                )
                .with_help(format!("write {name} = true")),
            );
            false
        }
    }
}

fn literal_string(body: &Body, name: &str, diags: &mut Diagnostics) -> Option<String> {
    let a = body.attribute(name)?;
    match a.value.as_literal_string() {
        Some(s) => Some(s.to_string()),
        None => {
            diags.push(
                Diagnostic::at(
                    Code::TypeMismatch,
                    a.value.span,
                    format!("\"{name}\" must be a literal string"),
                )
                .with_help("write it as a plain \"string\" with no ${...}"),
            );
            None
        }
    }
}

fn variable(block: &Block, name: Ident, diags: &mut Diagnostics) -> Variable {
    let body = &block.body;
    let ty = match body.attribute("type") {
        Some(a) => parse_type(&a.value, diags).unwrap_or(Type::Any),
        None => Type::Any,
    };
    let validations = body
        .blocks_named("validation")
        .filter_map(|b| {
            let condition = b.body.attribute("condition")?.value.clone();
            let message = b.body.attribute("message")?.value.clone();
            Some(Validation { condition, message })
        })
        .collect();
    let nullable = match body.attribute("nullable") {
        Some(_) => literal_bool(body, "nullable", diags),
        None => true,
    };
    Variable {
        name,
        ty,
        default: body.attribute("default").map(|a| a.value.clone()),
        description: literal_string(body, "description", diags),
        sensitive: literal_bool(body, "sensitive", diags),
        nullable,
        validations,
        span: block.span,
    }
}

/// Reads a type constraint expression (`list(string)`, `object({…})`).
pub fn parse_type(expr: &Expr, diags: &mut Diagnostics) -> Option<Type> {
    let bad = |diags: &mut Diagnostics, span: Span, what: &str| {
        diags.push(
            Diagnostic::at(Code::InvalidTypeExpression, span, format!("{what} is not a type"))
                .with_help("use string, number, bool, any, list(T), map(T), set(T), object({ name = T }) or tuple([T, ...])"),
        );
        None
    };
    match &expr.kind {
        ExprKind::Variable(name) => match name.name.as_str() {
            "string" => Some(Type::String),
            "number" => Some(Type::Number),
            "bool" => Some(Type::Bool),
            "any" => Some(Type::Any),
            "list" | "map" | "set" => Some(match name.name.as_str() {
                "list" => Type::List(Box::new(Type::Any)),
                "map" => Type::Map(Box::new(Type::Any)),
                _ => Type::Set(Box::new(Type::Any)),
            }),
            other => bad(diags, name.span, &format!("\"{other}\"")),
        },
        ExprKind::Call(call) => {
            let (name, args) = (&call.name, &call.args);
            let [arg] = args.as_slice() else {
                return bad(
                    diags,
                    expr.span,
                    &format!("{}(...) with {} arguments", name.name, args.len()),
                );
            };
            match name.name.as_str() {
                "list" => parse_type(arg, diags).map(|t| Type::List(Box::new(t))),
                "map" => parse_type(arg, diags).map(|t| Type::Map(Box::new(t))),
                "set" => parse_type(arg, diags).map(|t| Type::Set(Box::new(t))),
                "object" => {
                    let ExprKind::Object(items) = &arg.kind else {
                        return bad(diags, arg.span, "the argument of object(...)");
                    };
                    let mut attrs = IndexMap::new();
                    for (key, value) in items {
                        let key_name = match key {
                            ObjectKey::Name(i) => i.name.clone(),
                            ObjectKey::Expr(e) => e.as_literal_string()?.to_string(),
                        };
                        attrs.insert(key_name, parse_type(value, diags)?);
                    }
                    Some(Type::Object(Box::new(attrs)))
                }
                "tuple" => {
                    let ExprKind::Tuple(items) = &arg.kind else {
                        return bad(diags, arg.span, "the argument of tuple(...)");
                    };
                    items
                        .iter()
                        .map(|i| parse_type(i, diags))
                        .collect::<Option<Vec<_>>>()
                        .map(|items| Type::Tuple(Box::new(items)))
                }
                other => bad(diags, name.span, &format!("\"{other}(...)\"")),
            }
        }
        ExprKind::Template(_) => bad(
            diags,
            expr.span,
            "a string (types are written without quotes)",
        ),
        _ => bad(diags, expr.span, "this expression"),
    }
}

fn output(block: &Block, name: Ident, diags: &mut Diagnostics) -> Output {
    let body = &block.body;
    Output {
        name,
        value: body
            .attribute("value")
            .map(|a| a.value.clone())
            .unwrap_or_else(|| Expr::new(ExprKind::Null, block.span)),
        description: literal_string(body, "description", diags),
        sensitive: literal_bool(body, "sensitive", diags),
        preconditions: conditions(body, "precondition"),
        span: block.span,
    }
}

fn module_call(block: &Block, name: Ident, diags: &mut Diagnostics) -> Option<ModuleCall> {
    let Some(source_attr) = block.body.attribute("source") else {
        diags.push(
            Diagnostic::at(
                Code::MissingAttribute,
                block.kind.span,
                format!("module \"{}\" needs the attribute \"source\"", name.name),
            )
            .with_help("add source = \"./dir\" or source = \"std/NAME\""),
        );
        return None;
    };
    let source = literal_string(&block.body, "source", diags)?;
    Some(ModuleCall {
        name,
        source,
        source_span: source_attr.value.span,
        arguments: block
            .body
            .attributes()
            .filter(|a| a.name.name != "source")
            .cloned()
            .collect(),
        span: block.span,
    })
}

fn resource(
    block: Block,
    type_name: Ident,
    name: Ident,
    diags: &mut Diagnostics,
) -> Option<Resource> {
    let Some(schema) = crate::types::schema(&type_name.name) else {
        let d = Diagnostic::at(
            Code::UnknownResourceType,
            type_name.span,
            format!("unknown resource type \"{}\"", type_name.name),
        );
        let d = match did_you_mean(&type_name.name, crate::types::names()) {
            Some(s) => d.with_help(format!("did you mean \"{s}\"?")),
            None => d.with_help(format!(
                "the resource types are: {}",
                crate::types::names().collect::<Vec<_>>().join(", ")
            )),
        };
        diags.push(d);
        return None;
    };
    let body = &block.body;
    check_duplicate_attributes(body, diags);
    let owner = format!("resource type {}", schema.type_name);
    for a in body.attributes() {
        if schema.attr(&a.name.name).is_none() {
            let known = schema
                .attrs
                .iter()
                .chain(schema::META_ATTRS)
                .map(|s| s.name);
            let d = unknown_attribute(&a.name, &owner, known);
            let d = match crate::types::refused(schema.type_name, &a.name.name) {
                Some(why) => d.with_help(why.to_string()),
                None => d,
            };
            diags.push(d);
        }
    }
    for required in schema.attrs.iter().filter(|a| a.required) {
        if body.attribute(required.name).is_none() {
            diags.push(
                Diagnostic::at(
                    Code::MissingAttribute,
                    block.kind.span,
                    format!(
                        "resource {}.{} needs the attribute \"{}\"",
                        type_name.name, name.name, required.name
                    ),
                )
                .with_help(format!("add {} = ... ({})", required.name, required.doc)),
            );
        }
    }
    let nested: Vec<&BlockSchema> = schema.blocks.iter().chain(schema::META_BLOCKS).collect();
    let mut seen_single: IndexMap<&str, Span> = IndexMap::new();
    for b in body.blocks() {
        let Some(block_schema) = nested.iter().find(|n| n.name == b.kind.name) else {
            let names: Vec<&str> = nested.iter().map(|n| n.name).collect();
            let d = Diagnostic::at(
                Code::UnexpectedBlock,
                b.kind.span,
                format!(
                    "resource type {} has no \"{}\" block",
                    schema.type_name, b.kind.name
                ),
            );
            let refused = crate::types::refused(schema.type_name, &b.kind.name);
            let d = match (refused, did_you_mean(&b.kind.name, names.iter().copied())) {
                (Some(why), _) => d.with_help(why.to_string()),
                (None, Some(s)) => d.with_help(format!("did you mean \"{s}\"?")),
                (None, None) => d.with_help(format!("allowed blocks: {}", names.join(", "))),
            };
            diags.push(d);
            continue;
        };
        check_nested_block(b, block_schema, &mut seen_single, diags);
    }
    let count = body.attribute("count");
    let for_each = body.attribute("for_each");
    if let (Some(c), Some(f)) = (count, for_each) {
        diags.push(
            Diagnostic::at(
                Code::CountAndForEach,
                f.name.span,
                "a resource cannot set both count and for_each",
            )
            .with_label(c.name.span, "count is set here")
            .with_help("keep only one of count and for_each"),
        );
    }
    let count = count.map(|a| a.value.clone());
    let for_each = for_each.map(|a| a.value.clone());
    let preconditions = lifecycle_conditions(&block.body, "precondition");
    let postconditions = lifecycle_conditions(&block.body, "postcondition");
    Some(Resource {
        preconditions,
        postconditions,
        type_name,
        name,
        body: block.body,
        count,
        for_each,
        schema,
        span: block.span,
    })
}

fn check_nested_attributes(b: &Block, schema: &BlockSchema, diags: &mut Diagnostics) {
    check_duplicate_attributes(&b.body, diags);
    for a in b.body.attributes() {
        if !schema.attrs.iter().any(|s| s.name == a.name.name) {
            diags.push(unknown_attribute(
                &a.name,
                &format!("the {} block", schema.name),
                schema.attrs.iter().map(|s| s.name),
            ));
        }
    }
    for required in schema.attrs.iter().filter(|a| a.required) {
        if b.body.attribute(required.name).is_none() {
            diags.push(
                Diagnostic::at(
                    Code::MissingAttribute,
                    b.kind.span,
                    format!(
                        "the {} block needs the attribute \"{}\"",
                        schema.name, required.name
                    ),
                )
                .with_help(format!("add {} = ... ({})", required.name, required.doc)),
            );
        }
    }
    let allowed = schema::inner_blocks(schema.name);
    let mut seen_inner: IndexMap<&str, Span> = IndexMap::new();
    for inner in b.body.blocks() {
        match allowed.iter().find(|s| s.name == inner.kind.name) {
            Some(inner_schema) => check_nested_block(inner, inner_schema, &mut seen_inner, diags),
            None if allowed.is_empty() => unexpected_block(inner, schema.name, diags),
            None => {
                let names: Vec<&str> = allowed.iter().map(|s| s.name).collect();
                let help = match did_you_mean(&inner.kind.name, names.iter().copied()) {
                    Some(s) => format!("did you mean \"{s}\"?"),
                    None => format!("allowed here: {}", names.join(", ")),
                };
                diags.push(
                    Diagnostic::at(
                        Code::UnexpectedBlock,
                        inner.kind.span,
                        format!(
                            "a {} block cannot contain a \"{}\" block",
                            schema.name, inner.kind.name
                        ),
                    )
                    .with_help(help),
                );
            }
        }
    }
}

/// The `precondition`/`postcondition`/`assert` blocks named `kind` in a
/// body (their attributes were checked with the body).
pub fn conditions(body: &Body, kind: &str) -> Vec<Condition> {
    body.blocks_named(kind)
        .filter_map(|b| {
            let condition = b.body.attribute("condition")?.value.clone();
            let message = b.body.attribute("error_message")?.value.clone();
            Some(Condition { condition, message })
        })
        .collect()
}

/// A resource's conditions of one kind, inside its `lifecycle` block.
fn lifecycle_conditions(body: &Body, kind: &str) -> Vec<Condition> {
    body.blocks_named("lifecycle")
        .flat_map(|l| conditions(&l.body, kind))
        .collect()
}

fn policy(block: &Block, name: Ident, diags: &mut Diagnostics) -> Policy {
    let enforce = match literal_string(&block.body, "enforce", diags).as_deref() {
        None | Some("mandatory") => Enforce::Mandatory,
        Some("advisory") => Enforce::Advisory,
        Some(other) => {
            if let Some(a) = block.body.attribute("enforce") {
                diags.push(
                    Diagnostic::at(
                        Code::TypeMismatch,
                        a.value.span,
                        format!("enforce must be \"mandatory\" or \"advisory\", not \"{other}\""),
                    )
                    .with_help("write enforce = \"mandatory\" (blocks the apply) or \"advisory\" (a warning)"),
                );
            }
            Enforce::Mandatory
        }
    };
    Policy {
        name,
        enforce,
        asserts: conditions(&block.body, "assert"),
        span: block.span,
    }
}

/// Reads a `moved` address written as a reference.
fn move_address(expr: &Expr) -> Result<MoveAddress, Diagnostic> {
    let invalid = || {
        Diagnostic::at(
            Code::InvalidMove,
            expr.span,
            "a moved address is TYPE.NAME, TYPE.NAME[KEY] or module.NAME (inside module.NAME)",
        )
        .with_help("write it as a reference, e.g. from = docker_volume.data")
    };
    let (base, key) = match &expr.kind {
        ExprKind::Index(inner, index) => {
            let key = match &index.kind {
                ExprKind::Number(n) if n.is_integer() && !n.is_negative() => format!("[{n}]"),
                _ => match index.as_literal_string() {
                    Some(k) => format!("[{}]", imm_stdlib::value::quote_string(k)),
                    None => return Err(invalid()),
                },
            };
            (inner.as_ref(), Some(key))
        }
        _ => (expr, None),
    };
    let (root, path) = base.as_traversal().ok_or_else(invalid)?;
    let mut names: Vec<&str> = std::iter::once(root.name.as_str())
        .chain(path.iter().map(|i| i.name.as_str()))
        .collect();
    let mut module_prefix = String::new();
    while names.first() == Some(&"module") && names.len() >= 2 {
        module_prefix.push_str(&format!("module.{}.", names[1]));
        names.drain(..2);
    }
    let resource = match names.as_slice() {
        [] if !module_prefix.is_empty() && key.is_none() => None,
        [type_name, name] => Some((type_name.to_string(), name.to_string())),
        _ => return Err(invalid()),
    };
    Ok(MoveAddress {
        module_prefix,
        resource,
        key,
        span: expr.span,
    })
}
