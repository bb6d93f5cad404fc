//! Editor features on byte offsets, independent of any editor protocol:
//! what is under the cursor, where it is defined, where it is used, what to
//! say on hover, what to complete, and the outline of a file. `imm lsp`
//! converts these to LSP types; nothing here knows about LSP.

use crate::check;
use crate::decl::ModuleDecl;
use crate::project::{ModuleNode, Project};
use crate::schema::{self, Phase};
use crate::source::{FileId, Span};
use crate::syntax::ast::{references, Expr, ExprKind, Reference};

/// Something the cursor can be on.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Variable(String),
    Local(String),
    Resource(String),
    Module(String),
    EnvAttribute(String),
    Secret(String),
    Store(String),
    Function(String),
    ResourceType(String),
    /// An attribute or nested block name inside a resource of this type.
    ResourceAttribute {
        type_name: String,
        block: Option<String>,
        name: String,
    },
}

/// A symbol of a file's outline.
#[derive(Debug, Clone)]
pub struct Symbol {
    pub name: String,
    pub kind: SymbolKind,
    pub span: Span,
    pub name_span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymbolKind {
    Variable,
    Local,
    Output,
    Environment,
    Secret,
    Store,
    Module,
    Resource,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub label: String,
    pub detail: String,
    pub kind: CompletionKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionKind {
    Keyword,
    Field,
    Reference,
    Function,
    Type,
}

/// Every expression of a module, variable defaults included (a function
/// call there still has a hover).
fn module_exprs(decl: &ModuleDecl) -> Vec<&Expr> {
    let mut exprs = check::module_exprs(decl);
    exprs.extend(decl.variables.values().filter_map(|v| v.default.as_ref()));
    exprs
}

/// The module a file belongs to.
pub fn module_of(project: &Project, file: FileId) -> Option<&ModuleNode> {
    project
        .modules()
        .into_iter()
        .find(|m| m.files.contains(&file))
}

fn contains(span: Span, file: FileId, offset: usize) -> bool {
    span.file == file && (span.start as usize) <= offset && offset <= span.end as usize
}

fn target_of_reference(r: &Reference) -> Option<Target> {
    let first = r.path.first().cloned();
    Some(match r.root.as_str() {
        "var" => Target::Variable(first?),
        "local" => Target::Local(first?),
        "module" => Target::Module(first?),
        "env" => Target::EnvAttribute(first?),
        "secret" => Target::Secret(first?),
        "store" => Target::Store(first?),
        root if crate::types::schema(root).is_some() => match first {
            Some(name) => Target::Resource(format!("{root}.{name}")),
            None => Target::ResourceType(root.to_string()),
        },
        _ => return None,
    })
}

/// What is at `offset` in `file`.
pub fn target_at(project: &Project, file: FileId, offset: usize) -> Option<Target> {
    let module = module_of(project, file)?;
    let decl = &module.decl;
    for expr in module_exprs(decl) {
        if !contains(expr.span, file, offset) {
            continue;
        }
        if let Some(name) = call_name_at(expr, file, offset) {
            return Some(Target::Function(name));
        }
        for r in references(expr) {
            if !r.bound && contains(r.span, file, offset) {
                return target_of_reference(&r);
            }
        }
    }
    declaration_at(decl, file, offset)
}

fn call_name_at(expr: &Expr, file: FileId, offset: usize) -> Option<String> {
    let mut found = None;
    expr.walk(&mut |e| {
        if let ExprKind::Call(call) = &e.kind {
            if contains(call.name.span, file, offset) {
                found = Some(call.name.name.clone());
            }
        }
    });
    found
}

/// The cursor on a declaration: its name, a resource type label, or an
/// attribute of a resource.
fn declaration_at(decl: &ModuleDecl, file: FileId, offset: usize) -> Option<Target> {
    for (name, v) in &decl.variables {
        if contains(v.name.span, file, offset) {
            return Some(Target::Variable(name.clone()));
        }
    }
    for (name, l) in &decl.locals {
        if contains(l.name.span, file, offset) {
            return Some(Target::Local(name.clone()));
        }
    }
    for (name, m) in &decl.modules {
        if contains(m.name.span, file, offset) {
            return Some(Target::Module(name.clone()));
        }
    }
    for (name, s) in &decl.secrets {
        if contains(s.name.span, file, offset) {
            return Some(Target::Secret(name.clone()));
        }
    }
    for env in decl.environments.values() {
        for attr in &env.attributes {
            if contains(attr.name.span, file, offset) {
                return Some(Target::EnvAttribute(attr.name.name.clone()));
            }
        }
    }
    for (key, r) in &decl.resources {
        if contains(r.name.span, file, offset) {
            return Some(Target::Resource(key.clone()));
        }
        if contains(r.type_name.span, file, offset) {
            return Some(Target::ResourceType(r.type_name.name.clone()));
        }
        if !contains(r.span, file, offset) {
            continue;
        }
        let type_name = r.type_name.name.clone();
        for attr in r.body.attributes() {
            if contains(attr.name.span, file, offset) {
                return Some(Target::ResourceAttribute {
                    type_name,
                    block: None,
                    name: attr.name.name.clone(),
                });
            }
        }
        for block in r.body.blocks() {
            if contains(block.kind.span, file, offset) {
                return Some(Target::ResourceAttribute {
                    type_name,
                    block: None,
                    name: block.kind.name.clone(),
                });
            }
            for attr in block.body.attributes() {
                if contains(attr.name.span, file, offset) {
                    return Some(Target::ResourceAttribute {
                        type_name,
                        block: Some(block.kind.name.clone()),
                        name: attr.name.name.clone(),
                    });
                }
            }
            if let Some(target) = inner_block_target(block, &type_name, file, offset) {
                return Some(target);
            }
        }
    }
    None
}

/// A block inside a resource's nested block (`lifecycle { precondition
/// { … } }`) or one of its attributes: its block is `lifecycle` or
/// `lifecycle.precondition`.
fn inner_block_target(
    block: &crate::syntax::ast::Block,
    type_name: &str,
    file: FileId,
    offset: usize,
) -> Option<Target> {
    for inner in block.body.blocks() {
        let target = |block: String, name: &str| Target::ResourceAttribute {
            type_name: type_name.to_string(),
            block: Some(block),
            name: name.to_string(),
        };
        if contains(inner.kind.span, file, offset) {
            return Some(target(block.kind.name.clone(), &inner.kind.name));
        }
        if let Some(attr) = inner
            .body
            .attributes()
            .find(|a| contains(a.name.span, file, offset))
        {
            let path = format!("{}.{}", block.kind.name, inner.kind.name);
            return Some(target(path, &attr.name.name));
        }
    }
    None
}

/// Where a target is declared (the first environment that defines an
/// `env.X`).
pub fn definition(project: &Project, file: FileId, target: &Target) -> Option<Span> {
    let decl = &module_of(project, file)?.decl;
    match target {
        Target::Variable(n) => decl.variables.get(n).map(|v| v.name.span),
        Target::Local(n) => decl.locals.get(n).map(|l| l.name.span),
        Target::Resource(k) => decl.resources.get(k).map(|r| r.name.span),
        Target::Module(n) => decl.modules.get(n).map(|m| m.name.span),
        Target::Secret(n) => decl.secrets.get(n).map(|s| s.name.span),
        Target::Store(n) => decl.stores.get(n).map(|s| s.name.span),
        Target::EnvAttribute(n) => project
            .root
            .decl
            .environments
            .values()
            .find_map(|e| e.attribute(n).map(|a| a.name.span)),
        _ => None,
    }
}

/// Every use of a target in its module (references, not the declaration).
pub fn uses(project: &Project, file: FileId, target: &Target) -> Vec<Span> {
    let Some(module) = module_of(project, file) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for expr in module_exprs(&module.decl) {
        for r in references(expr) {
            if !r.bound && target_of_reference(&r).as_ref() == Some(target) {
                out.push(r.span);
            }
        }
    }
    out.sort_by_key(|s| (s.file, s.start));
    out
}

fn phase_text(phase: Phase) -> &'static str {
    match phase {
        Phase::Build => "build-time: baked into the artifact, part of its fingerprint",
        Phase::Runtime => "run-time: applied at deploy time; a change never rebuilds",
        Phase::Deploy => "deploy: how the object is wired and checked",
    }
}

/// Markdown to show on hover.
pub fn hover(project: &Project, file: FileId, target: &Target) -> Option<String> {
    let decl = &module_of(project, file)?.decl;
    match target {
        Target::Variable(n) => {
            let v = decl.variables.get(n)?;
            let mut text = format!("**variable `{n}`**: `{}`", v.ty);
            if let Some(d) = &v.default {
                let source = project.sources.snippet(d.span);
                if v.sensitive {
                    text.push_str("\n\ndefault: (sensitive)");
                } else {
                    text.push_str(&format!("\n\ndefault: `{source}`"));
                }
            }
            if let Some(desc) = &v.description {
                text.push_str(&format!("\n\n{desc}"));
            }
            Some(text)
        }
        Target::Local(n) => decl.locals.get(n).map(|l| {
            format!(
                "**local `{n}`** = `{}`",
                project.sources.snippet(l.value.span)
            )
        }),
        Target::Resource(k) => {
            let r = decl.resources.get(k)?;
            Some(format!("**resource `{k}`**\n\n{}", r.schema.doc))
        }
        Target::ResourceType(t) => {
            crate::types::schema(t).map(|s| format!("**resource type `{t}`**\n\n{}", s.doc))
        }
        Target::ResourceAttribute {
            type_name,
            block,
            name,
        } => {
            let s = crate::types::schema(type_name)?;
            match block {
                Some(b) => {
                    let (outer, inner) = match b.split_once('.') {
                        Some((outer, inner)) => (outer, Some(inner)),
                        None => (b.as_str(), None),
                    };
                    let mut bs = s.block(outer)?;
                    if let Some(inner) = inner {
                        bs = schema::inner_blocks(outer)
                            .iter()
                            .find(|x| x.name == inner)?;
                    }
                    if let Some(nested) = schema::inner_blocks(bs.name)
                        .iter()
                        .find(|x| x.name == name)
                    {
                        return Some(format!("**block `{name}`**\n\n{}", nested.doc));
                    }
                    let a = bs.attrs.iter().find(|a| a.name == name)?;
                    Some(format!(
                        "**`{b}.{name}`** ({}): `{}`\n\n{}\n\n_{}_",
                        if a.required { "required" } else { "optional" },
                        a.kind.to_type(),
                        a.doc,
                        phase_text(bs.phase)
                    ))
                }
                None => {
                    if let Some(bs) = s.block(name) {
                        return Some(format!(
                            "**block `{name}`**\n\n{}\n\n_{}_",
                            bs.doc,
                            phase_text(bs.phase)
                        ));
                    }
                    let a = s.attr(name)?;
                    Some(format!(
                        "**`{name}`** ({}): `{}`\n\n{}",
                        if a.required { "required" } else { "optional" },
                        a.kind.to_type(),
                        a.doc
                    ))
                }
            }
        }
        Target::Function(n) => imm_stdlib::lookup_function(n)
            .map(|f| format!("```\n{}\n```\n{}", f.signature, f.summary)),
        Target::Module(n) => decl
            .modules
            .get(n)
            .map(|m| format!("**module `{n}`** from `{}`", m.source)),
        Target::EnvAttribute(n) => {
            let values: Vec<String> = project
                .root
                .decl
                .environments
                .values()
                .map(|e| match e.attribute(n) {
                    Some(a) => format!(
                        "- {}: `{}`",
                        e.name.name,
                        project.sources.snippet(a.value.span)
                    ),
                    None => format!("- {}: (not defined)", e.name.name),
                })
                .collect();
            Some(format!(
                "**env.{n}** (run-time, per environment)\n\n{}",
                values.join("\n")
            ))
        }
        Target::Secret(n) => decl.secrets.get(n).map(|s| {
            format!(
                "**secret `{n}`** from `{}` — never shown or stored",
                project.sources.snippet(s.from.span)
            )
        }),
        Target::Store(n) => Some(format!("**store `{n}`**")),
    }
}

/// The outline of a file.
pub fn symbols(project: &Project, file: FileId) -> Vec<Symbol> {
    let Some(module) = module_of(project, file) else {
        return Vec::new();
    };
    let decl = &module.decl;
    let mut out = Vec::new();
    let mut push = |name: String, kind, span: Span, name_span: Span| {
        if span.file == file {
            out.push(Symbol {
                name,
                kind,
                span,
                name_span,
            });
        }
    };
    for v in decl.variables.values() {
        push(
            format!("variable {}", v.name.name),
            SymbolKind::Variable,
            v.span,
            v.name.span,
        );
    }
    for l in decl.locals.values() {
        push(
            format!("local.{}", l.name.name),
            SymbolKind::Local,
            l.name.span.to(l.value.span),
            l.name.span,
        );
    }
    for o in decl.outputs.values() {
        push(
            format!("output {}", o.name.name),
            SymbolKind::Output,
            o.span,
            o.name.span,
        );
    }
    for e in decl.environments.values() {
        push(
            format!("environment {}", e.name.name),
            SymbolKind::Environment,
            e.span,
            e.name.span,
        );
    }
    for s in decl.secrets.values() {
        push(
            format!("secret {}", s.name.name),
            SymbolKind::Secret,
            s.span,
            s.name.span,
        );
    }
    for s in decl.stores.values() {
        push(
            format!("store {}", s.name.name),
            SymbolKind::Store,
            s.block.span,
            s.name.span,
        );
    }
    for m in decl.modules.values() {
        push(
            format!("module {}", m.name.name),
            SymbolKind::Module,
            m.span,
            m.name.span,
        );
    }
    for (key, r) in &decl.resources {
        push(key.clone(), SymbolKind::Resource, r.span, r.name.span);
    }
    out.sort_by_key(|s| s.span.start);
    out
}

/// Completions at `offset`; `before` is the text of the line up to it.
pub fn completions(
    project: &Project,
    file: FileId,
    offset: usize,
    before: &str,
) -> Vec<Completion> {
    let Some(module) = module_of(project, file) else {
        return top_level_keywords();
    };
    let decl = &module.decl;
    if let Some(partial) = before.trim_start().strip_prefix("resource \"") {
        if !partial.contains('"') {
            return crate::types::schemas()
                .map(|t| Completion {
                    label: t.type_name.to_string(),
                    detail: t.doc.to_string(),
                    kind: CompletionKind::Type,
                })
                .collect();
        }
    }
    let chain = trailing_chain(before);
    if let Some((root, rest)) = chain.split_once('.') {
        return member_completions(decl, root, rest);
    }
    let enclosing = decl
        .resources
        .values()
        .find(|r| contains(r.span, file, offset) && (r.span.start as usize) < offset);
    let at_line_start = before
        .trim()
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    match enclosing {
        None if at_line_start
            && !before.contains('=')
            && before.trim_start().len() == before.len() =>
        {
            top_level_keywords()
        }
        Some(r) if at_line_start && !before.contains('=') => {
            let schema = r.schema;
            let nested = r.body.blocks().find(|b| {
                contains(b.span, file, offset)
                    && (b.span.start as usize) < offset
                    && offset < b.span.end as usize
            });
            if let Some((b, block_schema)) =
                nested.and_then(|b| Some((b, schema.block(&b.kind.name)?)))
            {
                return nested_block_completions(b, block_schema, file, offset);
            }
            let mut out: Vec<Completion> = schema
                .attrs
                .iter()
                .chain(schema::META_ATTRS)
                .map(|a| Completion {
                    label: a.name.to_string(),
                    detail: a.doc.to_string(),
                    kind: CompletionKind::Field,
                })
                .collect();
            out.extend(
                schema
                    .blocks
                    .iter()
                    .chain(schema::META_BLOCKS)
                    .map(|b| Completion {
                        label: b.name.to_string(),
                        detail: b.doc.to_string(),
                        kind: CompletionKind::Keyword,
                    }),
            );
            out
        }
        _ => expression_completions(decl),
    }
}

/// Inside a resource's nested block: its attributes and the blocks it may
/// hold (`lifecycle`'s conditions), or the attributes of the inner block
/// the cursor is in.
fn nested_block_completions(
    block: &crate::syntax::ast::Block,
    block_schema: &schema::BlockSchema,
    file: FileId,
    offset: usize,
) -> Vec<Completion> {
    let inner_blocks = schema::inner_blocks(block_schema.name);
    let inner = block.body.blocks().find(|i| {
        contains(i.span, file, offset)
            && (i.span.start as usize) < offset
            && offset < i.span.end as usize
    });
    let attrs = match inner.and_then(|i| inner_blocks.iter().find(|s| s.name == i.kind.name)) {
        Some(inner_schema) => inner_schema.attrs,
        None => block_schema.attrs,
    };
    let fields = attrs.iter().map(|a| Completion {
        label: a.name.to_string(),
        detail: a.doc.to_string(),
        kind: CompletionKind::Field,
    });
    let blocks = inner_blocks
        .iter()
        .filter(|_| inner.is_none())
        .map(|b| Completion {
            label: b.name.to_string(),
            detail: b.doc.to_string(),
            kind: CompletionKind::Keyword,
        });
    fields.chain(blocks).collect()
}

/// `docker_image.we` → `docker_image.we`; stops at anything else.
fn trailing_chain(before: &str) -> &str {
    let start = before
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .last()
        .map(|(i, _)| i)
        .unwrap_or(before.len());
    &before[start..]
}

fn top_level_keywords() -> Vec<Completion> {
    schema::TOP_LEVEL
        .iter()
        .map(|t| Completion {
            label: t.name.to_string(),
            detail: t.body.doc.to_string(),
            kind: CompletionKind::Keyword,
        })
        .collect()
}

fn expression_completions(decl: &ModuleDecl) -> Vec<Completion> {
    let mut out: Vec<Completion> = [
        "var", "local", "env", "secret", "module", "each", "count", "self",
    ]
    .iter()
    .map(|r| Completion {
        label: r.to_string(),
        detail: "reference".into(),
        kind: CompletionKind::Reference,
    })
    .collect();
    out.extend(
        crate::types::schemas()
            .filter(|t| {
                decl.resources
                    .values()
                    .any(|r| r.type_name.name == t.type_name)
            })
            .map(|t| Completion {
                label: t.type_name.to_string(),
                detail: t.doc.to_string(),
                kind: CompletionKind::Type,
            }),
    );
    out.extend(imm_stdlib::FUNCTIONS.iter().map(|f| Completion {
        label: f.name.to_string(),
        detail: f.signature.to_string(),
        kind: CompletionKind::Function,
    }));
    out
}

fn member_completions(decl: &ModuleDecl, root: &str, rest: &str) -> Vec<Completion> {
    let reference = |label: &str, detail: String| Completion {
        label: label.to_string(),
        detail,
        kind: CompletionKind::Reference,
    };
    match root {
        "var" => decl
            .variables
            .values()
            .map(|v| reference(&v.name.name, format!("variable: {}", v.ty)))
            .collect(),
        "local" => decl
            .locals
            .keys()
            .map(|k| reference(k, "local value".into()))
            .collect(),
        "secret" => decl
            .secrets
            .keys()
            .map(|k| reference(k, "secret".into()))
            .collect(),
        "module" => decl
            .modules
            .keys()
            .map(|k| reference(k, "module".into()))
            .collect(),
        "store" => decl
            .stores
            .keys()
            .map(|k| reference(k, "store".into()))
            .collect(),
        "each" => vec![
            reference("key", "instance key".into()),
            reference("value", "instance value".into()),
        ],
        "count" => vec![reference("index", "instance index".into())],
        type_name => {
            let Some(schema) = crate::types::schema(type_name) else {
                return Vec::new();
            };
            match rest.split_once('.') {
                None => decl
                    .resources
                    .values()
                    .filter(|r| r.type_name.name == type_name)
                    .map(|r| reference(&r.name.name, format!("resource {}", r.key())))
                    .collect(),
                Some(_) => schema
                    .attrs
                    .iter()
                    .chain(schema.outs)
                    .map(|a| Completion {
                        label: a.name.to_string(),
                        detail: a.doc.to_string(),
                        kind: CompletionKind::Field,
                    })
                    .collect(),
            }
        }
    }
}
