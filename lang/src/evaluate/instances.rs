//! Resources into instances: `count` and `for_each` expanded, each
//! instance's configuration evaluated and converted to its schema's types,
//! its dependencies collected, and the oracle asked for its out attributes.

use super::conditions::Owner;
use super::*;
use imm_stdlib::functions::TreeDigestError;

/// Instances one resource may have unless `IMM_MAX_INSTANCES` says otherwise:
/// far more than any project needs, far less than what exhausts memory.
const MAX_INSTANCES: usize = 100_000;

impl Run<'_, '_> {
    /// Expands and evaluates a resource; returns its value for references:
    /// an object, or a list (`count`) or map (`for_each`) of objects.
    pub(super) fn resource(
        &mut self,
        ev: &mut Evaluator<'_>,
        node: &ModuleNode,
        resource: &Resource,
        deps: &[String],
    ) -> Value {
        let prefix = &node.address_prefix;
        let explicit = self.explicit_depends_on(resource, prefix);
        // `depends_on = [x]` is also a reference to x: list each once.
        let depends_on: Vec<String> = deps
            .iter()
            .map(|d| format!("{prefix}{d}"))
            .chain(explicit.iter().cloned())
            .chain(self.inherited_deps.iter().cloned())
            .collect::<indexmap::IndexSet<String>>()
            .into_iter()
            .collect();
        let narrowable = node
            .analysis
            .narrowable_deps
            .get(&resource.key())
            .into_iter()
            .flatten()
            .map(|d| format!("{prefix}{d}"))
            .filter(|d| !explicit.contains(d))
            .collect();
        if resource.count.is_some() || resource.for_each.is_some() {
            self.keyed_resources
                .insert(format!("{prefix}{}", resource.key()));
        }
        let prevent_destroy = resource
            .body
            .blocks_named("lifecycle")
            .filter_map(|b| b.body.attribute("prevent_destroy"))
            .any(|a| matches!(a.value.kind, ExprKind::Bool(true)));
        let base = InstanceBase {
            node,
            resource,
            depends_on,
            narrowable,
            prevent_destroy,
        };
        if let Some(count_expr) = &resource.count {
            return match self.count(ev, count_expr) {
                Some(n) => Value::List(
                    (0..n)
                        .map(|i| {
                            ev.roots.insert(
                                "count".into(),
                                object([("index", Value::Number(i.into()))]),
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

    pub(super) fn explicit_depends_on(&self, resource: &Resource, prefix: &str) -> Vec<String> {
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

    pub(super) fn count(&mut self, ev: &mut Evaluator<'_>, expr: &Expr) -> Option<usize> {
        let value = self.eval_or_unknown(ev, expr).unmark_deep().0;
        let number = match &value {
            Value::Number(n) => Some(n.clone()),
            Value::String(s) => Number::parse(s).ok(),
            Value::Unknown(_) => {
                if self.mode == Mode::Plan {
                    self.diags.push(Diagnostic::at(Code::InvalidCount, expr.span, "count must be known before apply")
                        .with_help("count may depend on variables and locals, not on attributes known only after apply"));
                }
                return None;
            }
            other => {
                self.diags.push(Diagnostic::at(
                    Code::InvalidCount,
                    expr.span,
                    format!("count must be a number, not a {}", other.type_name()),
                ));
                return None;
            }
        };
        let n = value.display();
        let whole = number.filter(|n| n.is_integer() && !n.is_negative());
        let Some(whole) = whole else {
            self.diags.push(
                Diagnostic::at(
                    Code::InvalidCount,
                    expr.span,
                    format!("count must be a whole number of 0 or more, not {n}"),
                )
                .with_help("use e.g. count = 2"),
            );
            return None;
        };
        let limit = self.max_instances();
        let within = whole.to_usize().filter(|count| *count <= limit);
        let Some(count) = within else {
            self.diags.push(
                Diagnostic::at(
                    Code::InvalidCount,
                    expr.span,
                    format!("count = {n} is more than the {limit} instances one resource may have"),
                )
                .with_help("split the resource, or raise the limit with IMM_MAX_INSTANCES if this is meant"),
            );
            return None;
        };
        Some(count)
    }

    /// Instances one resource may have: `IMM_MAX_INSTANCES`, or 100,000.
    fn max_instances(&self) -> usize {
        self.inputs
            .process_env
            .get("IMM_MAX_INSTANCES")
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(MAX_INSTANCES)
    }

    pub(super) fn for_each(
        &mut self,
        ev: &mut Evaluator<'_>,
        expr: &Expr,
    ) -> Option<Vec<(String, Value)>> {
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
    pub(super) fn instance_unexpanded(&mut self, ev: &mut Evaluator<'_>, base: &InstanceBase<'_>) {
        self.config(ev, base.resource);
    }

    pub(super) fn instance(
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
        let outer_reads = ev.reads.replace(Vec::new());
        let mut value = self.config(ev, resource);
        ev.roots.remove("self");
        self.preconditions(
            ev,
            &resource.preconditions,
            &Owner {
                address: &address,
                subject: &resource_address,
            },
        );
        let depends_on = self.read_dependencies(base, ev.reads.as_deref().unwrap_or_default());
        if let Some(overrides) = self.inputs.overrides.get(&address) {
            value.extend(overrides.clone());
        }
        self.bind_contents(resource, &address, &base.node.dir, &mut value);
        self.pin_image(base, &address, &mut value);
        self.check_typed_config(resource, &address, &value);
        let instance = Instance {
            address,
            resource: resource_address,
            type_name: resource.type_name.name.clone(),
            name: resource.name.name.clone(),
            key,
            config: BTreeMap::new(),
            depends_on,
            prevent_destroy: base.prevent_destroy,
            module_dir: base.node.dir.clone(),
            span: resource.span,
            typed_config: Default::default(),
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
        let owner = Owner {
            address: &instance.address,
            subject: &instance.resource,
        };
        self.postconditions(ev, &resource.postconditions, &owner, &value);
        let reads = std::mem::replace(&mut ev.reads, outer_reads).unwrap_or_default();
        let mut instance = instance;
        instance.depends_on = self.read_dependencies(base, &reads);
        self.pending.push(Pending {
            instance: self.instances.len(),
            shadowed,
        });
        self.instances.push(instance);
        Value::Map(value)
    }

    /// The digests of the project files the configuration mounts, written
    /// into it by its type (a change of the files is then a change of the
    /// configuration); a path that cannot be read is reported at it.
    fn bind_contents(
        &mut self,
        resource: &Resource,
        address: &str,
        module_dir: &std::path::Path,
        config: &mut BTreeMap<String, Value>,
    ) {
        let Some(contents) = crate::types::get(&resource.type_name.name).and_then(|t| t.contents)
        else {
            return;
        };
        // imm's own directory (state, journal, lock) changes at every
        // apply: a bind of the whole project does not count it.
        let own = module_dir.join(".imm").canonicalize().ok();
        let skip = |path: &std::path::Path| own.as_deref() == Some(path);
        let mut digest = |path: &str| {
            imm_stdlib::functions::tree_digest(module_dir, path, &skip).map_err(|e| match e {
                TreeDigestError::Outside(message) => (Code::PathOutsideProject, message),
                TreeDigestError::Unreadable(message) => (Code::PathNotFound, message),
            })
        };
        if let Err(e) = contents(config, &mut digest) {
            let span = attribute_span(resource, &e.path);
            self.diags.push(e.to_diagnostic(address, span));
        }
    }

    /// An off-the-shelf image the instance names (its type's
    /// `pulled_image` attribute, written as a name rather than taken from a
    /// resource) replaced by the reference pinned to its locked digest.
    fn pin_image(
        &mut self,
        base: &InstanceBase<'_>,
        address: &str,
        config: &mut BTreeMap<String, Value>,
    ) {
        let Some(pins) = self.inputs.pins.clone() else {
            return;
        };
        let resource = base.resource;
        let Some(attr_name) =
            crate::types::get(&resource.type_name.name).and_then(|t| t.pulled_image)
        else {
            return;
        };
        let Some(attr) = resource.body.attribute(attr_name) else {
            return;
        };
        if expression_names_a_resource(&attr.value, &base.node.decl) {
            return;
        }
        let Some(Value::String(image)) = config.get(attr_name) else {
            return;
        };
        match pins.pin(address, image) {
            Ok(pinned) => {
                config.insert(attr_name.to_string(), Value::string(pinned));
            }
            Err(mut d) => {
                d.span = d.span.or(Some(attr.value.span));
                self.diags.push(d);
                config.insert(attr_name.to_string(), Value::Unknown(Type::String));
            }
        }
    }

    /// What an instance depends on: the resource's dependencies, each
    /// narrowed to the instances the evaluation read where every read of
    /// it named one (`file.svc["a"]`); where a read took the whole
    /// resource, or it is reached through a local, a module or
    /// `depends_on`, the resource as one entry.
    fn read_dependencies(&self, base: &InstanceBase<'_>, reads: &[ResourceRead]) -> Vec<String> {
        let prefix = base.node.address_prefix.as_str();
        let mut out = Vec::with_capacity(base.depends_on.len());
        for dep in &base.depends_on {
            if !base.narrowable.contains(dep) || !self.keyed_resources.contains(dep) {
                out.push(dep.clone());
                continue;
            }
            let local_name = dep.strip_prefix(prefix).unwrap_or(dep);
            let mut read_instances = Vec::new();
            let mut read_whole = false;
            for read in reads.iter().filter(|r| r.resource == local_name) {
                match &read.key_suffix {
                    Some(suffix) => read_instances.push(format!("{dep}{suffix}")),
                    None => read_whole = true,
                }
            }
            if read_whole || read_instances.is_empty() {
                out.push(dep.clone());
                continue;
            }
            read_instances.sort();
            read_instances.dedup();
            out.extend(read_instances);
        }
        out
    }

    /// A known configuration must parse into its type's typed struct (what
    /// the executor will read): one that does not is reported at the
    /// attribute it names, at validate and at plan alike.
    fn check_typed_config(
        &mut self,
        resource: &Resource,
        address: &str,
        config: &BTreeMap<String, Value>,
    ) {
        if config.values().any(Value::contains_unknown) {
            return;
        }
        let Some(resource_type) = crate::types::get(&resource.type_name.name) else {
            return;
        };
        // A missing required attribute is the static check's to report.
        let schema = &resource_type.schema;
        if schema
            .attrs
            .iter()
            .any(|a| a.required && !config.contains_key(a.name))
        {
            return;
        }
        if let Err(e) = (resource_type.check_config)(config) {
            let span = attribute_span(resource, &e.path);
            self.diags.push(e.to_diagnostic(address, span));
        }
    }

    /// The instance's attributes and nested blocks, type-checked.
    pub(super) fn config(
        &mut self,
        ev: &mut Evaluator<'_>,
        resource: &Resource,
    ) -> BTreeMap<String, Value> {
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

    pub(super) fn typed(
        &mut self,
        value: Value,
        kind: Kind,
        attr: &Attribute,
        owner: &str,
    ) -> Value {
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

/// Whether an expression takes its value from a resource or a module
/// (directly or through the module's locals): an image built or named by
/// another resource, not an off-the-shelf one.
fn expression_names_a_resource(expr: &Expr, decl: &ModuleDecl) -> bool {
    names_a_resource(expr, decl, 0)
}

fn names_a_resource(expr: &Expr, decl: &ModuleDecl, depth: usize) -> bool {
    // Locals cannot be cyclic (the checker refuses it); the bound is a guard.
    if depth > 64 {
        return true;
    }
    syntax::ast::references(expr)
        .into_iter()
        .filter(|r| !r.bound)
        .any(|r| match r.root.as_str() {
            "module" => true,
            "local" => r
                .path
                .first()
                .and_then(|name| decl.locals.get(name))
                .is_some_and(|local| names_a_resource(&local.value, decl, depth + 1)),
            root => crate::types::get(root).is_some(),
        })
}

/// Where the attribute at a typed configuration's path (`mem_limit`,
/// `tmpfs[0]`, `logging.driver`) is written: its value, else its block,
/// else the resource.
fn attribute_span(resource: &Resource, path: &str) -> Span {
    let top = path.split(['.', '[']).next().unwrap_or(path);
    if let Some(attr) = resource.body.attribute(top) {
        return attr.value.span;
    }
    // A repeatable block's path may name which one: `bind[1].source`.
    let rest = &path[top.len()..];
    let (index, rest) = match rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((n, rest)) => (n.parse().unwrap_or(0), rest),
        None => (0, rest),
    };
    let Some(block) = resource.body.blocks_named(top).nth(index) else {
        return resource.span;
    };
    rest.trim_start_matches('.')
        .split(['.', '['])
        .next()
        .and_then(|inner| block.body.attribute(inner))
        .map_or(block.kind.span, |attr| attr.value.span)
}
