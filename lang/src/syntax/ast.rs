//! The syntax tree of a `.imm` file. Every node has a [`Span`]; nothing here
//! knows about pest.

use crate::source::Span;
use imm_stdlib::number::Number;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Body {
    pub items: Vec<Item>,
}

impl Body {
    pub fn attributes(&self) -> impl Iterator<Item = &Attribute> {
        self.items.iter().filter_map(|i| match i {
            Item::Attribute(a) => Some(a),
            Item::Block(_) => None,
        })
    }

    pub fn blocks(&self) -> impl Iterator<Item = &Block> {
        self.items.iter().filter_map(|i| match i {
            Item::Block(b) => Some(b),
            Item::Attribute(_) => None,
        })
    }

    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes().find(|a| a.name.name == name)
    }

    pub fn blocks_named<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
        self.blocks().filter(move |b| b.kind.name == kind)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Attribute(Attribute),
    Block(Block),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub kind: Ident,
    pub labels: Vec<Ident>,
    pub body: Body,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "||",
            BinaryOp::And => "&&",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TemplatePart {
    Literal(String),
    /// Boxed: most parts are literals, and every string has a part.
    Interpolation(Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ObjectKey {
    /// A bare identifier: always the literal name, as in Terraform.
    Name(Ident),
    /// A quoted or parenthesised key, evaluated.
    Expr(Expr),
}

/// `name(args)`, with `expand_final` for `name(args...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: Ident,
    pub args: Vec<Expr>,
    pub expand_final: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ForExpr {
    pub key_var: Option<Ident>,
    pub value_var: Ident,
    pub collection: Expr,
    /// Set for `{for ...}`: the key expression.
    pub key: Option<Expr>,
    pub value: Expr,
    pub condition: Option<Expr>,
    /// `...` after the value of an object `for`: group values by key.
    pub grouping: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Null,
    Bool(bool),
    Number(Number),
    /// A string or heredoc; a single literal part when there is no `${}`.
    Template(Vec<TemplatePart>),
    /// A bare name: the root of every reference (`var`, `local`, `docker_image`…).
    Variable(Ident),
    GetAttr(Box<Expr>, Ident),
    Index(Box<Expr>, Box<Expr>),
    /// `source[*]` followed by traversals applied to each element; the
    /// traversals are written on [`ExprKind::SplatItem`].
    Splat(Box<Expr>, Box<Expr>),
    SplatItem,
    /// Boxed: the largest variant would otherwise size every `Expr`.
    Call(Box<Call>),
    Tuple(Vec<Expr>),
    Object(Vec<(ObjectKey, Expr)>),
    For(Box<ForExpr>),
    Conditional(Box<Expr>, Box<Expr>, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    Unary(UnaryOp, Box<Expr>),
    Paren(Box<Expr>),
}

impl Expr {
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr { kind, span }
    }

    /// The string of a template without interpolation.
    pub fn as_literal_string(&self) -> Option<&str> {
        match &self.kind {
            ExprKind::Template(parts) => match parts.as_slice() {
                [] => Some(""),
                [TemplatePart::Literal(s)] => Some(s),
                _ => None,
            },
            _ => None,
        }
    }

    /// A static traversal such as `var.x` or `docker_image.web.id`, as
    /// (root, names); `None` when the expression is anything else.
    pub fn as_traversal(&self) -> Option<(&Ident, Vec<&Ident>)> {
        match &self.kind {
            ExprKind::Variable(root) => Some((root, Vec::new())),
            ExprKind::GetAttr(inner, name) => {
                let (root, mut names) = inner.as_traversal()?;
                names.push(name);
                Some((root, names))
            }
            _ => None,
        }
    }

    /// Calls `visit` on this expression and every expression inside it.
    pub fn walk<'a>(&'a self, visit: &mut dyn FnMut(&'a Expr)) {
        visit(self);
        match &self.kind {
            ExprKind::Null
            | ExprKind::Bool(_)
            | ExprKind::Number(_)
            | ExprKind::Variable(_)
            | ExprKind::SplatItem => {}
            ExprKind::Template(parts) => {
                for part in parts {
                    if let TemplatePart::Interpolation(e) = part {
                        e.walk(visit);
                    }
                }
            }
            ExprKind::GetAttr(inner, _) => inner.walk(visit),
            ExprKind::Index(inner, index) => {
                inner.walk(visit);
                index.walk(visit);
            }
            ExprKind::Splat(source, each) => {
                source.walk(visit);
                each.walk(visit);
            }
            ExprKind::Call(call) => {
                for a in &call.args {
                    a.walk(visit);
                }
            }
            ExprKind::Tuple(args) => {
                for a in args {
                    a.walk(visit);
                }
            }
            ExprKind::Object(items) => {
                for (key, value) in items {
                    if let ObjectKey::Expr(k) = key {
                        k.walk(visit);
                    }
                    value.walk(visit);
                }
            }
            ExprKind::For(f) => {
                f.collection.walk(visit);
                if let Some(k) = &f.key {
                    k.walk(visit);
                }
                f.value.walk(visit);
                if let Some(c) = &f.condition {
                    c.walk(visit);
                }
            }
            ExprKind::Conditional(c, a, b) => {
                c.walk(visit);
                a.walk(visit);
                b.walk(visit);
            }
            ExprKind::Binary(_, a, b) => {
                a.walk(visit);
                b.walk(visit);
            }
            ExprKind::Unary(_, e) | ExprKind::Paren(e) => e.walk(visit),
        }
    }
}

/// A reference found in an expression: a traversal from a root name, with
/// the names that follow it (`docker_image.web.id` → root `docker_image`,
/// path `["web", "id"]`). `span` covers the whole traversal.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub root: String,
    pub path: Vec<String>,
    pub span: Span,
    pub root_span: Span,
    /// Names bound by enclosing `for` expressions are not references.
    pub bound: bool,
}

/// Every reference in an expression, in source order, including the longest
/// static traversal of each (`a.b.c` once, not `a`, `a.b`, `a.b.c`).
pub fn references(expr: &Expr) -> Vec<Reference> {
    let mut out = Vec::new();
    collect_references(expr, &mut Vec::new(), &mut out);
    out
}

fn collect_references(expr: &Expr, bound: &mut Vec<String>, out: &mut Vec<Reference>) {
    if let Some(reference) = longest_traversal(expr) {
        let is_bound = bound.contains(&reference.root);
        out.push(Reference {
            bound: is_bound,
            ..reference
        });
        // Index expressions inside the traversal still hold references.
        walk_indexes(expr, bound, out);
        return;
    }
    match &expr.kind {
        ExprKind::For(f) => {
            collect_references(&f.collection, bound, out);
            let added = 1 + usize::from(f.key_var.is_some());
            bound.push(f.value_var.name.clone());
            if let Some(k) = &f.key_var {
                bound.push(k.name.clone());
            }
            if let Some(k) = &f.key {
                collect_references(k, bound, out);
            }
            collect_references(&f.value, bound, out);
            if let Some(c) = &f.condition {
                collect_references(c, bound, out);
            }
            bound.truncate(bound.len() - added);
        }
        _ => for_each_child(expr, &mut |child| collect_references(child, bound, out)),
    }
}

fn walk_indexes(expr: &Expr, bound: &mut Vec<String>, out: &mut Vec<Reference>) {
    match &expr.kind {
        ExprKind::GetAttr(inner, _) => walk_indexes(inner, bound, out),
        ExprKind::Index(inner, index) => {
            walk_indexes(inner, bound, out);
            collect_references(index, bound, out);
        }
        ExprKind::Splat(source, each) => {
            walk_indexes(source, bound, out);
            walk_indexes(each, bound, out);
        }
        _ => {}
    }
}

/// `a.b[0].c` → root a, path [b, c]: the names a reference is made of.
/// Indexes are skipped (they select instances); a splat ends the path after
/// its own traversals.
fn longest_traversal(expr: &Expr) -> Option<Reference> {
    match &expr.kind {
        ExprKind::Variable(root) => Some(Reference {
            root: root.name.clone(),
            path: Vec::new(),
            span: expr.span,
            root_span: root.span,
            bound: false,
        }),
        ExprKind::GetAttr(inner, name) => {
            let mut r = longest_traversal(inner)?;
            r.path.push(name.name.clone());
            r.span = expr.span;
            Some(r)
        }
        ExprKind::Index(inner, _) => {
            let mut r = longest_traversal(inner)?;
            r.span = expr.span;
            Some(r)
        }
        ExprKind::Splat(source, each) => {
            let mut r = longest_traversal(source)?;
            let mut names = Vec::new();
            splat_names(each, &mut names);
            r.path.extend(names);
            r.span = expr.span;
            Some(r)
        }
        _ => None,
    }
}

fn splat_names(expr: &Expr, names: &mut Vec<String>) {
    match &expr.kind {
        ExprKind::GetAttr(inner, name) => {
            splat_names(inner, names);
            names.push(name.name.clone());
        }
        ExprKind::Index(inner, _) => splat_names(inner, names),
        _ => {}
    }
}

fn for_each_child<'a>(expr: &'a Expr, f: &mut dyn FnMut(&'a Expr)) {
    match &expr.kind {
        ExprKind::Null
        | ExprKind::Bool(_)
        | ExprKind::Number(_)
        | ExprKind::Variable(_)
        | ExprKind::SplatItem => {}
        ExprKind::Template(parts) => {
            for part in parts {
                if let TemplatePart::Interpolation(e) = part {
                    f(e);
                }
            }
        }
        ExprKind::GetAttr(inner, _) => f(inner),
        ExprKind::Index(inner, index) => {
            f(inner);
            f(index);
        }
        ExprKind::Splat(source, each) => {
            f(source);
            f(each);
        }
        ExprKind::Call(call) => call.args.iter().for_each(f),
        ExprKind::Tuple(args) => args.iter().for_each(f),
        ExprKind::Object(items) => {
            for (key, value) in items {
                if let ObjectKey::Expr(k) = key {
                    f(k);
                }
                f(value);
            }
        }
        ExprKind::For(x) => {
            f(&x.collection);
            if let Some(k) = &x.key {
                f(k);
            }
            f(&x.value);
            if let Some(c) = &x.condition {
                f(c);
            }
        }
        ExprKind::Conditional(c, a, b) => {
            f(c);
            f(a);
            f(b);
        }
        ExprKind::Binary(_, a, b) => {
            f(a);
            f(b);
        }
        ExprKind::Unary(_, e) | ExprKind::Paren(e) => f(e),
    }
}
