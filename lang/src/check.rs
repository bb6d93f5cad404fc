//! Static checks of one module, done once before any evaluation: every
//! reference resolves (with "did you mean"), functions exist and get the
//! right number of arguments, `count.index`/`each.*`/`self` appear only
//! where they mean something, `env.X` exists in every environment, build
//! blocks are pure, and the dependency graph between
//! locals, resources, modules and outputs has no cycle. The graph's
//! topological order is what the evaluator follows.

use crate::decl::{ModuleDecl, Resource};
use crate::diagnostics::{did_you_mean, Code, Diagnostic, Diagnostics};
use crate::schema;
use crate::source::Span;
use crate::syntax::ast::*;
use indexmap::{IndexMap, IndexSet};
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::{HashMap, HashSet};

/// A named thing other things can depend on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Symbol {
    Local(String),
    Resource(String),
    Module(String),
    Output(String),
}

impl Symbol {
    pub fn display(&self) -> String {
        match self {
            Symbol::Local(n) => format!("local.{n}"),
            Symbol::Resource(k) => k.clone(),
            Symbol::Module(n) => format!("module.{n}"),
            Symbol::Output(n) => format!("output.{n}"),
        }
    }
}

/// What the checker learnt about a module.
#[derive(Debug, Default)]
pub struct Analysis {
    /// Evaluation order; symbols in a cycle are left out.
    pub order: Vec<Symbol>,
    /// For each resource key, what it depends on: resource keys
    /// (`TYPE.NAME`) and module calls (`module.NAME`) of this module,
    /// looking through locals.
    pub resource_deps: HashMap<String, Vec<String>>,
    /// For each resource key, the resources among `resource_deps` that its
    /// own expressions name and that no local leads to: the evaluator sees
    /// every read of them, so an instance may depend on only the instances
    /// it read.
    pub narrowable_deps: HashMap<String, Vec<String>>,
    /// For each module call, the same.
    pub module_deps: HashMap<String, Vec<String>>,
    /// Module arguments that carry environment-specific or secret values:
    /// the child's variables of these names may not reach a build block.
    pub impure_module_args: HashMap<String, HashSet<String>>,
}

/// What a module's checker needs to know of its surroundings.
pub struct ModuleContext<'a> {
    /// Variables set by an environment (root) or fed impure values by the
    /// parent module call (children).
    pub impure_vars: &'a HashSet<String>,
    /// Outputs of each child module, when the child could be loaded.
    pub child_outputs: &'a HashMap<String, Vec<String>>,
    /// Only the root warns about unused variables: a child's variables are
    /// its interface.
    pub is_root: bool,
}

/// Where an expression stands, which decides the names it may use.
#[derive(Clone, Copy)]
struct Site<'r> {
    resource: Option<&'r Resource>,
    in_count_expr: bool,
}

pub fn check_module(
    decl: &ModuleDecl,
    ctx: &ModuleContext<'_>,
    diags: &mut Diagnostics,
) -> Analysis {
    let mut checker = Checker {
        decl,
        ctx,
        diags,
        used_vars: HashSet::new(),
    };
    checker.resolve_all();
    checker.check_purity();
    let analysis = checker.graph();
    checker.warn_unused_variables();
    analysis
}

struct Checker<'a, 'd> {
    decl: &'a ModuleDecl,
    ctx: &'a ModuleContext<'a>,
    diags: &'d mut Diagnostics,
    used_vars: HashSet<String>,
}

impl<'a> Checker<'a, '_> {
    // ---- name resolution ------------------------------------------------

    fn resolve_all(&mut self) {
        let decl = self.decl;
        let plain = Site {
            resource: None,
            in_count_expr: false,
        };
        for local in decl.locals.values() {
            self.resolve_expr(&local.value, plain);
        }
        for output in decl.outputs.values() {
            self.resolve_expr(&output.value, plain);
            for c in &output.preconditions {
                self.resolve_expr(&c.condition, plain);
                self.resolve_expr(&c.message, plain);
            }
        }
        for check in decl.checks.values() {
            for c in &check.asserts {
                self.resolve_expr(&c.condition, plain);
                self.resolve_expr(&c.message, plain);
            }
        }
        for policy in decl.policies.values() {
            for c in &policy.asserts {
                self.resolve_policy_expr(&c.condition);
                self.resolve_policy_expr(&c.message);
            }
        }
        for call in decl.modules.values() {
            for arg in &call.arguments {
                self.resolve_expr(&arg.value, plain);
            }
        }
        for variable in decl.variables.values() {
            if let Some(default) = &variable.default {
                self.forbid_references(default, "a variable's default");
            }
            for v in &variable.validations {
                self.resolve_expr(&v.condition, plain);
                self.resolve_expr(&v.message, plain);
            }
        }
        for env in decl.environments.values() {
            for attr in &env.attributes {
                self.forbid_references(&attr.value, "an environment's attributes");
            }
        }
        for resource in decl.resources.values() {
            let site = Site {
                resource: Some(resource),
                in_count_expr: false,
            };
            let count_site = Site {
                resource: Some(resource),
                in_count_expr: true,
            };
            for attr in resource.body.attributes() {
                let is_meta = matches!(attr.name.name.as_str(), "count" | "for_each");
                self.resolve_expr(&attr.value, if is_meta { count_site } else { site });
                if attr.name.name == "depends_on" {
                    self.check_depends_on(&attr.value);
                }
            }
            for block in resource.body.blocks() {
                for attr in block.body.attributes() {
                    self.resolve_expr(&attr.value, site);
                }
                for inner in block.body.blocks() {
                    for attr in inner.body.attributes() {
                        self.resolve_expr(&attr.value, site);
                    }
                }
            }
        }
    }

    /// A policy sees only the plan: `plan.changes` and `plan.environment`.
    fn resolve_policy_expr(&mut self, expr: &Expr) {
        for r in references(expr).into_iter().filter(|r| !r.bound) {
            let known = r.root == "plan"
                && matches!(
                    r.path.first().map(String::as_str),
                    Some("changes" | "environment")
                );
            if !known {
                self.diags.push(
                    Diagnostic::at(
                        Code::UnknownName,
                        r.span,
                        "a policy can only refer to plan.changes and plan.environment",
                    )
                    .with_help("policies judge the plan: read each change's address, type, action, reasons, before and after from plan.changes"),
                );
            }
        }
        self.check_calls(expr);
    }

    fn forbid_references(&mut self, expr: &Expr, what: &str) {
        for r in references(expr).into_iter().filter(|r| !r.bound) {
            self.diags.push(
                Diagnostic::at(
                    Code::UnknownName,
                    r.span,
                    format!("{what} cannot refer to other values"),
                )
                .with_help("write a literal value here"),
            );
        }
        self.check_calls(expr);
    }

    fn check_depends_on(&mut self, expr: &Expr) {
        let ExprKind::Tuple(items) = &expr.kind else {
            self.diags.push(
                Diagnostic::at(
                    Code::TypeMismatch,
                    expr.span,
                    "depends_on must be a list of resources",
                )
                .with_help("write depends_on = [TYPE.NAME, ...]"),
            );
            return;
        };
        for item in items {
            let is_resource_ref = item.as_traversal().is_some_and(|(root, names)| {
                (crate::types::schema(&root.name).is_some() && names.len() == 1)
                    || (root.name == "module" && names.len() == 1)
            });
            if !is_resource_ref {
                self.diags.push(
                    Diagnostic::at(
                        Code::TypeMismatch,
                        item.span,
                        "depends_on lists whole resources, like docker_image.web",
                    )
                    .with_help("remove the attribute or index after TYPE.NAME"),
                );
            }
        }
    }

    fn resolve_expr(&mut self, expr: &Expr, site: Site<'_>) {
        for r in references(expr) {
            if !r.bound {
                self.resolve_reference(&r, site);
            }
        }
        self.check_calls(expr);
    }

    fn check_calls(&mut self, expr: &Expr) {
        let mut problems = Vec::new();
        expr.walk(&mut |e| {
            let ExprKind::Call(call) = &e.kind else {
                return;
            };
            let (name, args, expand_final) = (&call.name, &call.args, call.expand_final);
            let Some(spec) = imm_stdlib::lookup_function(&name.name) else {
                let d = Diagnostic::at(
                    Code::UnknownFunction,
                    name.span,
                    format!("there is no function named \"{}\"", name.name),
                );
                let hint = did_you_mean(&name.name, imm_stdlib::FUNCTIONS.iter().map(|f| f.name));
                problems.push(match hint {
                    Some(s) => d.with_help(format!("did you mean \"{s}\"?")),
                    None => d.with_help("the built-in functions are listed in docs/language.md"),
                });
                return;
            };
            let n = args.len();
            let too_few = n < spec.min_args && !expand_final;
            let too_many = spec.max_args.is_some_and(|m| n > m);
            if too_few || too_many {
                problems.push(
                    Diagnostic::at(
                        Code::ArgumentCount,
                        e.span,
                        format!(
                            "{} takes {}, but {n} were given",
                            spec.name,
                            arity_text(spec)
                        ),
                    )
                    .with_help(format!("the signature is {}", spec.signature)),
                );
            }
        });
        self.diags.extend(problems);
    }

    fn resolve_reference(&mut self, r: &Reference, site: Site<'_>) {
        let decl = self.decl;
        let first = r.path.first().map(String::as_str);
        let member_span = r.span;
        match r.root.as_str() {
            "var" => self.resolve_named(r, first, "variable", "var", decl.variables.keys()),
            "local" => self.resolve_named(r, first, "local value", "local", decl.locals.keys()),
            "secret" => self.resolve_named(r, first, "secret", "secret", decl.secrets.keys()),
            "store" => self.resolve_named(r, first, "store", "store", decl.stores.keys()),
            "engine" => self.resolve_named(r, first, "engine", "engine", decl.engines.keys()),
            "env" => {
                if first.is_none() {
                    self.push_needs_member(
                        r,
                        "env",
                        "env.name or another attribute of the environment",
                    );
                }
            }
            "module" => {
                self.resolve_named(r, first, "module", "module", decl.modules.keys());
                let (Some(name), Some(out)) = (first, r.path.get(1)) else {
                    return;
                };
                let Some(outputs) = self.ctx.child_outputs.get(name) else {
                    return;
                };
                if !outputs.iter().any(|o| o == out) {
                    let d = Diagnostic::at(
                        Code::UnknownMember,
                        member_span,
                        format!("module \"{name}\" has no output \"{out}\""),
                    );
                    self.diags.push(
                        match did_you_mean(out, outputs.iter().map(String::as_str)) {
                            Some(s) => d.with_help(format!("did you mean \"{s}\"?")),
                            None => d.with_help(format!("its outputs are: {}", outputs.join(", "))),
                        },
                    );
                }
            }
            "count" => {
                let has_count = site.resource.is_some_and(|res| res.count.is_some());
                if !has_count || site.in_count_expr {
                    self.diags.push(
                        Diagnostic::at(
                            Code::CountIndexOutsideCount,
                            r.span,
                            "count.index is only valid inside a resource that sets count",
                        )
                        .with_help("add count = N to this resource, or remove count.index"),
                    );
                } else if first != Some("index") {
                    self.diags.push(
                        Diagnostic::at(
                            Code::UnknownMember,
                            r.span,
                            "count has only the attribute \"index\"",
                        )
                        .with_help("write count.index"),
                    );
                }
            }
            "each" => {
                let has_for_each = site.resource.is_some_and(|res| res.for_each.is_some());
                if !has_for_each || site.in_count_expr {
                    self.diags.push(
                        Diagnostic::at(Code::EachOutsideForEach, r.span, "each.key and each.value are only valid inside a resource that sets for_each")
                            .with_help("add for_each to this resource, or remove each.*"),
                    );
                } else if !matches!(first, Some("key") | Some("value")) {
                    self.diags.push(
                        Diagnostic::at(
                            Code::UnknownMember,
                            r.span,
                            "each has only the attributes \"key\" and \"value\"",
                        )
                        .with_help("write each.key or each.value"),
                    );
                }
            }
            "self" => {
                if site.resource.is_none() {
                    self.diags.push(
                        Diagnostic::at(
                            Code::SelfOutsideResource,
                            r.span,
                            "self is only valid inside a resource",
                        )
                        .with_help("refer to the resource as TYPE.NAME"),
                    );
                }
            }
            root if crate::types::schema(root).is_some() => self.resolve_resource(r, root, first),
            root => {
                let mut candidates: Vec<&str> = vec![
                    "var", "local", "env", "secret", "module", "store", "engine", "count", "each",
                    "self",
                ];
                candidates.extend(crate::types::names());
                let d = Diagnostic::at(
                    Code::UnknownName,
                    r.root_span,
                    format!("unknown name \"{root}\""),
                );
                self.diags.push(match did_you_mean(root, candidates) {
                    Some(s) => d.with_help(format!("did you mean \"{s}\"?")),
                    None => d.with_help("references start with var., local., env., secret., module., or a resource type"),
                });
            }
        }
    }

    fn push_needs_member(&mut self, r: &Reference, root: &str, example: &str) {
        self.diags.push(
            Diagnostic::at(
                Code::UnknownName,
                r.span,
                format!("\"{root}\" cannot be used on its own"),
            )
            .with_help(format!("write {example}")),
        );
    }

    fn resolve_named<'k>(
        &mut self,
        r: &Reference,
        name: Option<&str>,
        what: &str,
        root: &str,
        known: impl Iterator<Item = &'k String> + Clone,
    ) {
        let Some(name) = name else {
            self.push_needs_member(r, root, &format!("{root}.NAME"));
            return;
        };
        if root == "var" {
            self.used_vars.insert(name.to_string());
        }
        if known.clone().any(|k| k == name) {
            return;
        }
        let d = Diagnostic::at(
            Code::UnknownName,
            r.span,
            format!("{what} \"{name}\" is not declared"),
        );
        self.diags
            .push(match did_you_mean(name, known.map(String::as_str)) {
                Some(s) => d.with_help(format!("did you mean {root}.{s}?")),
                None => d.with_help(format!(
                    "declare it with a {} block",
                    if root == "local" {
                        "locals"
                    } else {
                        root_block(root)
                    }
                )),
            });
    }

    fn resolve_resource(&mut self, r: &Reference, type_name: &str, name: Option<&str>) {
        let Some(name) = name else {
            self.diags.push(
                Diagnostic::at(
                    Code::UnknownName,
                    r.span,
                    format!("\"{type_name}\" must be followed by a resource name"),
                )
                .with_help(format!("write {type_name}.NAME")),
            );
            return;
        };
        let key = format!("{type_name}.{name}");
        let Some(resource) = self.decl.resources.get(&key) else {
            let same_type = self
                .decl
                .resources
                .values()
                .filter(|res| res.type_name.name == type_name)
                .map(|res| res.name.name.as_str());
            let d = Diagnostic::at(
                Code::UnknownName,
                r.span,
                format!("resource {key} is not declared"),
            );
            self.diags.push(match did_you_mean(name, same_type) {
                Some(s) => d.with_help(format!("did you mean {type_name}.{s}?")),
                None => d.with_help(format!(
                    "declare it with resource \"{type_name}\" \"{name}\" {{ ... }}"
                )),
            });
            return;
        };
        let Some(member) = r.path.get(1) else {
            return;
        };
        if resource.schema.member_names().any(|m| m == member)
            || schema::META_ATTRS.iter().any(|m| m.name == member)
        {
            return;
        }
        let d = Diagnostic::at(
            Code::UnknownMember,
            r.span,
            format!("{key} has no attribute \"{member}\""),
        );
        self.diags
            .push(match did_you_mean(member, resource.schema.member_names()) {
                Some(s) => d.with_help(format!("did you mean \"{s}\"?")),
                None => d.with_help(format!(
                    "its attributes are: {}",
                    resource
                        .schema
                        .member_names()
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            });
    }

    fn warn_unused_variables(&mut self) {
        if !self.ctx.is_root {
            return;
        }
        for v in self.decl.variables.values() {
            if !self.used_vars.contains(&v.name.name) {
                self.diags.push(
                    Diagnostic::at(
                        Code::UnusedVariable,
                        v.name.span,
                        format!("variable \"{}\" is never used", v.name.name),
                    )
                    .with_help("remove the variable, or refer to it as var.NAME"),
                );
            }
        }
    }

    // ---- build purity ---------------------------------------------------

    fn check_purity(&mut self) {
        let decl = self.decl;
        for resource in decl.resources.values() {
            for build in resource.body.blocks_named("build") {
                for attr in build.body.attributes() {
                    for r in references(&attr.value).into_iter().filter(|r| !r.bound) {
                        let mut visited = HashSet::new();
                        if let Some(path) = self.impure_path(&r, &mut visited) {
                            self.diags.push(purity_diagnostic(resource, &r, &path));
                        }
                    }
                }
            }
        }
    }

    /// The chain of references from `r` to something environment-specific,
    /// if there is one: each hop is (span, text).
    fn impure_path(
        &self,
        r: &Reference,
        visited: &mut HashSet<String>,
    ) -> Option<Vec<(Span, String)>> {
        let first = r.path.first().map(String::as_str).unwrap_or("");
        match r.root.as_str() {
            "env" => Some(vec![(
                r.span,
                format!("env.{first} differs per environment"),
            )]),
            "secret" => Some(vec![(r.span, format!("secret.{first} is a secret"))]),
            "var" if self.ctx.impure_vars.contains(first) => Some(vec![(
                r.span,
                format!(
                    "var.{first} is set per environment (or from an environment-specific value)"
                ),
            )]),
            "local" => {
                if !visited.insert(first.to_string()) {
                    return None;
                }
                let local = self.decl.locals.get(first)?;
                for inner in references(&local.value).into_iter().filter(|i| !i.bound) {
                    if let Some(mut path) = self.impure_path(&inner, visited) {
                        path.insert(0, (r.span, format!("local.{first} is used here")));
                        return Some(path);
                    }
                }
                None
            }
            "self" if first == "runtime" => Some(vec![(r.span, "a runtime value".into())]),
            root if crate::types::schema(root).is_some()
                && r.path.get(1).map(String::as_str) == Some("runtime") =>
            {
                Some(vec![(
                    r.span,
                    format!("{root}.{first}.runtime is run-time configuration"),
                )])
            }
            _ => None,
        }
    }

    /// Which arguments of each module call carry impure values.
    fn impure_module_args(&self) -> HashMap<String, HashSet<String>> {
        let mut out = HashMap::new();
        for (name, call) in &self.decl.modules {
            let mut impure = HashSet::new();
            for arg in &call.arguments {
                let tainted = references(&arg.value)
                    .iter()
                    .filter(|r| !r.bound)
                    .any(|r| self.impure_path(r, &mut HashSet::new()).is_some());
                if tainted {
                    impure.insert(arg.name.name.clone());
                }
            }
            out.insert(name.clone(), impure);
        }
        out
    }

    // ---- dependency graph -----------------------------------------------

    fn graph(&mut self) -> Analysis {
        let decl = self.decl;
        let mut graph: DiGraph<Symbol, Span> = DiGraph::new();
        let mut nodes: IndexMap<Symbol, NodeIndex> = IndexMap::new();
        let symbols: Vec<(Symbol, Vec<&Expr>)> = decl
            .locals
            .values()
            .map(|l| (Symbol::Local(l.name.name.clone()), vec![&l.value]))
            .chain(
                decl.resources
                    .values()
                    .map(|r| (Symbol::Resource(r.key()), resource_exprs(r))),
            )
            .chain(decl.modules.values().map(|m| {
                (
                    Symbol::Module(m.name.name.clone()),
                    m.arguments.iter().map(|a| &a.value).collect(),
                )
            }))
            .chain(
                decl.outputs
                    .values()
                    .map(|o| (Symbol::Output(o.name.name.clone()), output_exprs(o))),
            )
            .collect();
        for (symbol, _) in &symbols {
            let node = graph.add_node(symbol.clone());
            nodes.insert(symbol.clone(), node);
        }
        let mut direct: HashMap<Symbol, IndexSet<Symbol>> = HashMap::new();
        for (symbol, exprs) in &symbols {
            let Some(&from) = nodes.get(symbol) else {
                continue;
            };
            let mut seen: IndexSet<Symbol> = IndexSet::new();
            for expr in exprs {
                for r in references(expr).into_iter().filter(|r| !r.bound) {
                    let Some(target) = self.target_symbol(&r) else {
                        continue;
                    };
                    let Some(&to) = nodes.get(&target) else {
                        continue;
                    };
                    if seen.insert(target.clone()) {
                        graph.add_edge(from, to, r.span);
                    }
                }
            }
            direct.insert(symbol.clone(), seen);
        }
        let mut resource_deps: HashMap<String, Vec<String>> = HashMap::new();
        let mut narrowable_deps: HashMap<String, Vec<String>> = HashMap::new();
        let mut module_deps: HashMap<String, Vec<String>> = HashMap::new();
        let mut through_locals: HashMap<String, Vec<String>> = HashMap::new();
        for (symbol, _) in &symbols {
            let deps = object_dependencies(symbol, &direct, &mut through_locals);
            match symbol {
                Symbol::Resource(k) => {
                    let narrowable = direct_only_resources(symbol, &direct, &mut through_locals);
                    narrowable_deps.insert(k.clone(), narrowable);
                    resource_deps.insert(k.clone(), deps);
                }
                Symbol::Module(m) => {
                    module_deps.insert(m.clone(), deps);
                }
                _ => {}
            }
        }
        let in_cycle = self.report_cycles(&graph);
        // Dependencies first: reverse topological order of "uses" edges.
        let mut order = Vec::with_capacity(graph.node_count());
        let acyclic = petgraph::algo::toposort(&graph, None);
        match acyclic {
            Ok(sorted) => order.extend(sorted.into_iter().rev().map(|n| graph[n].clone())),
            Err(_) => {
                for scc in petgraph::algo::tarjan_scc(&graph) {
                    for n in scc {
                        if !in_cycle.contains(&graph[n]) {
                            order.push(graph[n].clone());
                        }
                    }
                }
            }
        }
        Analysis {
            order,
            resource_deps,
            narrowable_deps,
            module_deps,
            impure_module_args: self.impure_module_args(),
        }
    }

    fn target_symbol(&self, r: &Reference) -> Option<Symbol> {
        let first = r.path.first()?;
        match r.root.as_str() {
            "local" => Some(Symbol::Local(first.clone())),
            "module" => Some(Symbol::Module(first.clone())),
            root if crate::types::schema(root).is_some() => {
                Some(Symbol::Resource(format!("{root}.{first}")))
            }
            _ => None,
        }
    }

    /// Reports each cycle once, with every edge labelled at its reference.
    fn report_cycles(&mut self, graph: &DiGraph<Symbol, Span>) -> HashSet<Symbol> {
        let mut in_cycle = HashSet::new();
        for scc in petgraph::algo::tarjan_scc(graph) {
            let members: HashSet<NodeIndex> = scc.iter().copied().collect();
            let is_cycle = scc.len() > 1 || graph.contains_edge(scc[0], scc[0]);
            if !is_cycle {
                continue;
            }
            let mut edges: Vec<(Span, String)> = Vec::new();
            for &n in &scc {
                in_cycle.insert(graph[n].clone());
                for e in graph.edges(n) {
                    use petgraph::visit::EdgeRef;
                    if members.contains(&e.target()) {
                        edges.push((
                            *e.weight(),
                            format!(
                                "{} refers to {}",
                                graph[n].display(),
                                graph[e.target()].display()
                            ),
                        ));
                    }
                }
            }
            edges.sort_by_key(|(s, _)| (s.file, s.start));
            let mut names: Vec<String> = scc.iter().map(|n| graph[*n].display()).collect();
            names.sort();
            let (first_span, first_text) = edges[0].clone();
            let mut d = Diagnostic::at(
                Code::Cycle,
                first_span,
                format!("a cycle of references: {}", names.join(" → ")),
            )
            .with_primary_label(first_text)
            .with_help("break the cycle: one of these values must not depend on the others");
            for (span, text) in edges.into_iter().skip(1) {
                d = d.with_label(span, text);
            }
            self.diags.push(d);
        }
        in_cycle
    }
}

/// Every expression of a module that may refer to other values: locals,
/// outputs, module arguments, validations and everything in resources
/// (variable defaults and environment attributes are literals).
pub fn module_exprs(decl: &ModuleDecl) -> Vec<&Expr> {
    let mut exprs: Vec<&Expr> = Vec::new();
    exprs.extend(decl.locals.values().map(|l| &l.value));
    exprs.extend(decl.outputs.values().flat_map(output_exprs));
    exprs.extend(
        decl.checks
            .values()
            .flat_map(|c| c.asserts.iter().flat_map(|a| [&a.condition, &a.message])),
    );
    exprs.extend(
        decl.modules
            .values()
            .flat_map(|m| m.arguments.iter().map(|a| &a.value)),
    );
    exprs.extend(decl.variables.values().flat_map(|v| {
        v.validations
            .iter()
            .flat_map(|x| [&x.condition, &x.message])
    }));
    for r in decl.resources.values() {
        exprs.extend(resource_exprs(r));
    }
    exprs
}

/// Every `env.X` reference of a module, for the per-environment check.
pub fn env_references(decl: &ModuleDecl) -> Vec<Reference> {
    module_exprs(decl)
        .into_iter()
        .flat_map(references)
        .filter(|r| !r.bound && r.root == "env" && !r.path.is_empty())
        .collect()
}

/// The resources (`TYPE.NAME`) and module calls (`module.NAME`) a symbol
/// depends on, looking through locals, which are only names for values.
fn object_dependencies(
    symbol: &Symbol,
    direct: &HashMap<Symbol, IndexSet<Symbol>>,
    through_locals: &mut HashMap<String, Vec<String>>,
) -> Vec<String> {
    let mut out: IndexSet<String> = IndexSet::new();
    for dep in direct.get(symbol).into_iter().flatten() {
        match dep {
            Symbol::Resource(k) => {
                out.insert(k.clone());
            }
            Symbol::Module(m) => {
                out.insert(format!("module.{m}"));
            }
            Symbol::Local(name) => out.extend(local_dependencies(
                name,
                direct,
                through_locals,
                &mut Vec::new(),
            )),
            Symbol::Output(_) => {}
        }
    }
    out.into_iter().collect()
}

/// The resources `symbol` names itself and reaches through no local.
fn direct_only_resources(
    symbol: &Symbol,
    direct: &HashMap<Symbol, IndexSet<Symbol>>,
    through_locals: &mut HashMap<String, Vec<String>>,
) -> Vec<String> {
    let uses = direct.get(symbol).into_iter().flatten();
    let mut via_locals: IndexSet<String> = IndexSet::new();
    for dep in uses.clone() {
        if let Symbol::Local(name) = dep {
            via_locals.extend(local_dependencies(
                name,
                direct,
                through_locals,
                &mut Vec::new(),
            ));
        }
    }
    uses.filter_map(|dep| match dep {
        Symbol::Resource(k) if !via_locals.contains(k) => Some(k.clone()),
        _ => None,
    })
    .collect()
}

fn local_dependencies(
    name: &str,
    direct: &HashMap<Symbol, IndexSet<Symbol>>,
    memo: &mut HashMap<String, Vec<String>>,
    visiting: &mut Vec<String>,
) -> Vec<String> {
    if let Some(done) = memo.get(name) {
        return done.clone();
    }
    // A cycle among locals is reported elsewhere; here it only ends the walk.
    if visiting.iter().any(|v| v == name) {
        return Vec::new();
    }
    visiting.push(name.to_string());
    let mut out: IndexSet<String> = IndexSet::new();
    for dep in direct
        .get(&Symbol::Local(name.to_string()))
        .into_iter()
        .flatten()
    {
        match dep {
            Symbol::Resource(k) => {
                out.insert(k.clone());
            }
            Symbol::Module(m) => {
                out.insert(format!("module.{m}"));
            }
            Symbol::Local(inner) => out.extend(local_dependencies(inner, direct, memo, visiting)),
            Symbol::Output(_) => {}
        }
    }
    visiting.pop();
    let out: Vec<String> = out.into_iter().collect();
    memo.insert(name.to_string(), out.clone());
    out
}

fn root_block(root: &str) -> &str {
    match root {
        "var" => "variable",
        other => other,
    }
}

fn arity_text(spec: &imm_stdlib::FunctionSpec) -> String {
    match spec.max_args {
        Some(max) if max == spec.min_args => format!("{max} argument(s)"),
        Some(max) => format!("{} to {max} arguments", spec.min_args),
        None => format!("at least {} argument(s)", spec.min_args),
    }
}

/// Every expression of a resource, nested blocks included.
pub fn resource_exprs(resource: &Resource) -> Vec<&Expr> {
    let mut out: Vec<&Expr> = resource.body.attributes().map(|a| &a.value).collect();
    for block in resource.body.blocks() {
        out.extend(block.body.attributes().map(|a| &a.value));
        for inner in block.body.blocks() {
            out.extend(inner.body.attributes().map(|a| &a.value));
        }
    }
    out
}

/// An output's value and its preconditions.
fn output_exprs(output: &crate::decl::Output) -> Vec<&Expr> {
    let conditions = output
        .preconditions
        .iter()
        .flat_map(|c| [&c.condition, &c.message]);
    std::iter::once(&output.value).chain(conditions).collect()
}

fn purity_diagnostic(resource: &Resource, r: &Reference, path: &[(Span, String)]) -> Diagnostic {
    let reason = path.last().map(|(_, t)| t.clone()).unwrap_or_default();
    let mut d = Diagnostic::at(
        Code::BuildPurity,
        r.span,
        format!("the build block of {} depends on an environment-specific value", resource.key()),
    )
    .with_primary_label(if path.len() == 1 { reason.clone() } else { path[0].1.clone() })
    .with_help("build-time configuration must be the same in every environment: move this value into runtime { }, or make it a constant");
    for (span, text) in path.iter().skip(1) {
        d = d.with_label(*span, text.clone());
    }
    d
}
