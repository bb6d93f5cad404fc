//! Expression evaluation: strict, pure, with unknown and
//! sensitive values carried through every operation.
//!
//! Names are looked up in a table of roots (`var`, `local`, `env`,
//! `docker_image`, …) that the module evaluator fills as it goes. A name
//! that is not there evaluates to unknown: resolving names and reporting the
//! ones that do not exist is the checker's job, done once, statically.

use crate::diagnostics::{did_you_mean, Code, Diagnostic};
use crate::source::{SourceMap, Span};
use crate::syntax::ast::*;
use crate::syntax::parse_template;
use imm_stdlib::number::{Number, NumberError};
use imm_stdlib::value::{convert, make_set, unify, SENSITIVE_TEXT};
use imm_stdlib::{CallContext, Type, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::rc::Rc;

pub type EvalResult = Result<Value, Diagnostic>;

/// Parsed templates by path, shared across evaluations of one run.
#[derive(Default)]
pub struct TemplateCache {
    parsed: HashMap<PathBuf, Rc<Vec<TemplatePart>>>,
}

/// What an expression can see.
pub struct Evaluator<'a> {
    /// Values by root name: `var`, `local`, `env`, `secret`, `module`,
    /// `store`, `count`, `each`, `self`, and one per resource type.
    pub roots: HashMap<String, Value>,
    pub module_dir: PathBuf,
    pub sources: &'a mut SourceMap,
    pub templates: &'a mut TemplateCache,
    /// Names bound by enclosing `for` expressions, innermost last.
    bound: Vec<(String, Value)>,
    /// The references to resources made while this is `Some`: the module
    /// evaluator collects them per instance, so that an instance depends
    /// on the instances it read rather than on every instance.
    pub reads: Option<Vec<ResourceRead>>,
}

/// One reference to a resource (`TYPE.NAME`, module prefix left out) an
/// evaluation made: to one instance (`file.svc["a"]`, `file.img[0]`, with
/// the key as its address writes it) or to the resource as a whole
/// (`file.svc`, `file.svc[*]`, a key not known yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRead {
    pub resource: String,
    /// `[0]` or `["a"]`; `None` for the whole resource.
    pub key_suffix: Option<String>,
}

impl<'a> Evaluator<'a> {
    pub fn new(
        module_dir: &Path,
        sources: &'a mut SourceMap,
        templates: &'a mut TemplateCache,
    ) -> Evaluator<'a> {
        Evaluator {
            roots: HashMap::new(),
            module_dir: module_dir.to_path_buf(),
            sources,
            templates,
            bound: Vec::new(),
            reads: None,
        }
    }

    pub fn eval(&mut self, expr: &Expr) -> EvalResult {
        match &expr.kind {
            ExprKind::Null => Ok(Value::Null),
            ExprKind::Bool(b) => Ok(Value::Bool(*b)),
            ExprKind::Number(n) => Ok(Value::Number(n.clone())),
            ExprKind::Template(parts) => self.template(parts),
            ExprKind::Variable(_) | ExprKind::GetAttr(..) | ExprKind::Index(..) => {
                self.traversal(expr)
            }
            ExprKind::Splat(source, each) => self.splat(source, each),
            ExprKind::SplatItem => Ok(self
                .lookup_bound("[*]")
                .cloned()
                .unwrap_or(Value::Unknown(Type::Any))),
            ExprKind::Call(call) => self.call(expr, &call.name, &call.args, call.expand_final),
            ExprKind::Tuple(items) => items
                .iter()
                .map(|e| self.eval(e))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::List),
            ExprKind::Object(items) => self.object(items),
            ExprKind::For(f) => self.for_expr(f),
            ExprKind::Conditional(c, a, b) => self.conditional(c, a, b),
            ExprKind::Binary(op, a, b) => self.binary(expr.span, *op, a, b),
            ExprKind::Unary(op, e) => self.unary(expr.span, *op, e),
            ExprKind::Paren(e) => self.eval(e),
        }
    }

    fn lookup_bound(&self, name: &str) -> Option<&Value> {
        self.bound
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// `a.b[0].c`: borrowed from the roots as far as possible, so looking
    /// up `docker_image.web.id` does not copy every image.
    fn traversal(&mut self, expr: &Expr) -> EvalResult {
        let mut steps: Vec<&Expr> = Vec::new();
        let mut cursor = expr;
        while let ExprKind::GetAttr(inner, _) | ExprKind::Index(inner, _) = &cursor.kind {
            steps.push(cursor);
            cursor = inner;
        }
        steps.reverse();
        // Index keys are evaluated first; they may need `&mut self`.
        let mut keys: Vec<Option<Value>> = Vec::with_capacity(steps.len());
        for step in &steps {
            keys.push(match &step.kind {
                ExprKind::Index(_, index) => Some(self.eval(index)?),
                _ => None,
            });
        }
        if self.reads.is_some() {
            self.note_resource_read(cursor, &steps, &keys);
        }
        let owned_root;
        let mut current: &Value = match &cursor.kind {
            ExprKind::Variable(name) => match self
                .lookup_bound(&name.name)
                .or_else(|| self.roots.get(&name.name))
            {
                Some(v) => v,
                None => return Ok(Value::Unknown(Type::Any)),
            },
            _ => {
                owned_root = self.eval(cursor)?;
                &owned_root
            }
        };
        let mut sensitive = false;
        for (step, key) in steps.iter().zip(keys) {
            if let Value::Sensitive(inner, _) = current {
                sensitive = true;
                current = inner;
            }
            let next = match (&step.kind, key) {
                (ExprKind::GetAttr(_, name), _) => get_attr(current, name)?,
                (ExprKind::Index(_, index), Some(key)) => {
                    index_value(current, &key, index.span, step.span)?
                }
                _ => return Ok(Value::Unknown(Type::Any)),
            };
            match next {
                Step::Borrowed(v) => current = v,
                Step::Owned(owned) => {
                    // Once a step had to build a value, continue on the copy.
                    return self.finish_owned(owned, steps_after(&steps, step), sensitive);
                }
            }
        }
        let value = current.clone();
        Ok(if sensitive {
            value.mark_sensitive()
        } else {
            value
        })
    }

    /// Records a reference to a resource: `TYPE.NAME` followed by an index
    /// that names one of its instances reads that instance; any other
    /// reference (no index, an unknown key, a key it does not have) reads
    /// the whole resource.
    fn note_resource_read(&mut self, root: &Expr, steps: &[&Expr], keys: &[Option<Value>]) {
        let ExprKind::Variable(root_name) = &root.kind else {
            return;
        };
        if self.lookup_bound(&root_name.name).is_some()
            || crate::types::get(&root_name.name).is_none()
        {
            return;
        }
        let Some(ExprKind::GetAttr(_, name)) = steps.first().map(|s| &s.kind) else {
            return;
        };
        let resource_value = self
            .roots
            .get(&root_name.name)
            .and_then(|by_name| match by_name {
                Value::Map(by_name) => by_name.get(&name.name),
                _ => None,
            });
        let key = keys.get(1).and_then(Option::as_ref);
        let key_suffix = match (resource_value, key) {
            (Some(value), Some(key)) => instance_key_suffix(value, key),
            _ => None,
        };
        let read = ResourceRead {
            resource: format!("{}.{}", root_name.name, name.name),
            key_suffix,
        };
        if let Some(reads) = &mut self.reads {
            reads.push(read);
        }
    }

    fn finish_owned(
        &mut self,
        mut value: Value,
        rest: &[&Expr],
        mut sensitive: bool,
    ) -> EvalResult {
        for step in rest {
            if let Value::Sensitive(inner, _) = value {
                sensitive = true;
                value = *inner;
            }
            value = match &step.kind {
                ExprKind::GetAttr(_, name) => get_attr(&value, name)?.into_owned(),
                ExprKind::Index(_, index) => {
                    let key = self.eval(index)?;
                    index_value(&value, &key, index.span, step.span)?.into_owned()
                }
                _ => Value::Unknown(Type::Any),
            };
        }
        Ok(if sensitive {
            value.mark_sensitive()
        } else {
            value
        })
    }

    fn splat(&mut self, source: &Expr, each: &Expr) -> EvalResult {
        let source_value = self.eval(source)?;
        let (source_value, sensitive) = match source_value {
            Value::Sensitive(inner, _) => (*inner, true),
            v => (v, false),
        };
        let items = match source_value {
            Value::Null => Vec::new(),
            Value::List(items) | Value::Set(items) => items,
            Value::Unknown(_) => return Ok(Value::Unknown(Type::List(Box::new(Type::Any)))),
            // A single object behaves as a list of one, as in Terraform.
            other => vec![other],
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            self.bound.push(("[*]".to_string(), item));
            let result = self.eval(each);
            self.bound.pop();
            out.push(result?);
        }
        let list = Value::List(out);
        Ok(if sensitive {
            list.mark_sensitive()
        } else {
            list
        })
    }

    fn template(&mut self, parts: &[TemplatePart]) -> EvalResult {
        if let [TemplatePart::Literal(s)] = parts {
            return Ok(Value::String(s.clone()));
        }
        let mut out = String::new();
        // From the first sensitive part on, the text with each sensitive
        // part masked: how a plan may show a rendered file that holds a
        // secret, line by line.
        let mut shown: Option<String> = None;
        let mut unknown = false;
        for part in parts {
            let e = match part {
                TemplatePart::Literal(s) => {
                    out.push_str(s);
                    if let Some(shown) = &mut shown {
                        shown.push_str(s);
                    }
                    continue;
                }
                TemplatePart::Interpolation(e) => e,
            };
            let value = self.eval(e)?;
            // A string a template built keeps its masked text inside another.
            let masked = match &value {
                Value::Sensitive(_, Some(text)) => Some(text.clone()),
                _ => None,
            };
            let (value, marked) = value.unmark_deep();
            if marked && shown.is_none() {
                shown = Some(out.clone());
            }
            let text = match value {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Unknown(_) => {
                    unknown = true;
                    continue;
                }
                Value::Null => {
                    return Err(Diagnostic::at(
                        Code::TypeMismatch,
                        e.span,
                        "a null value cannot be interpolated",
                    )
                    .with_help("give the value a default, e.g. coalesce(x, \"\")"))
                }
                other => {
                    return Err(Diagnostic::at(
                        Code::TypeMismatch,
                        e.span,
                        format!(
                            "a {} cannot be interpolated into a string",
                            other.type_name()
                        ),
                    )
                    .with_help("convert it first, e.g. join(\",\", list) or jsonencode(value)"))
                }
            };
            if let Some(shown) = &mut shown {
                match (marked, &masked) {
                    (false, _) => shown.push_str(&text),
                    (true, Some(masked)) => shown.push_str(masked),
                    (true, None) => shown.push_str(SENSITIVE_TEXT),
                }
            }
            out.push_str(&text);
        }
        Ok(match (unknown, shown) {
            (true, shown) => mark(Value::Unknown(Type::String), shown.is_some()),
            (false, Some(shown)) => Value::sensitive_shown_as(out, shown),
            (false, None) => Value::String(out),
        })
    }

    fn object(&mut self, items: &[(ObjectKey, Expr)]) -> EvalResult {
        let mut map = BTreeMap::new();
        for (key, value) in items {
            let key = match key {
                ObjectKey::Name(ident) => ident.name.clone(),
                ObjectKey::Expr(e) => match self.eval(e)?.unmark_deep().0 {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Unknown(_) => return Ok(Value::Unknown(Type::Any)),
                    other => {
                        return Err(Diagnostic::at(
                            Code::TypeMismatch,
                            e.span,
                            format!(
                                "an object key must be a string, not a {}",
                                other.type_name()
                            ),
                        ))
                    }
                },
            };
            map.insert(key, self.eval(value)?);
        }
        Ok(Value::Map(map))
    }

    fn for_expr(&mut self, f: &ForExpr) -> EvalResult {
        let (collection, sensitive) = self.eval(&f.collection)?.unmark_deep();
        let pairs: Vec<(Value, Value)> = match collection {
            Value::List(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Value::Number(i.into()), v))
                .collect(),
            Value::Set(items) => items.into_iter().map(|v| (v.clone(), v)).collect(),
            Value::Map(map) => map
                .into_iter()
                .map(|(k, v)| (Value::String(k), v))
                .collect(),
            Value::Unknown(_) => return Ok(Value::Unknown(Type::Any)),
            Value::Null => {
                return Err(Diagnostic::at(
                    Code::TypeMismatch,
                    f.collection.span,
                    "a for expression cannot iterate over null",
                )
                .with_help("use an empty list [] instead of null"))
            }
            other => {
                return Err(Diagnostic::at(
                    Code::TypeMismatch,
                    f.collection.span,
                    format!(
                        "a for expression needs a list, set or map, not a {}",
                        other.type_name()
                    ),
                ))
            }
        };
        let mut list = Vec::new();
        let mut map: BTreeMap<String, Value> = BTreeMap::new();
        let mut grouped: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for (key, value) in pairs {
            let depth = self.bound.len();
            if let Some(k) = &f.key_var {
                self.bound.push((k.name.clone(), key.clone()));
            }
            self.bound.push((f.value_var.name.clone(), value));
            let result = self.for_item(f, &mut list, &mut map, &mut grouped);
            self.bound.truncate(depth);
            result?;
        }
        let value = if f.key.is_some() {
            if f.grouping {
                Value::Map(
                    grouped
                        .into_iter()
                        .map(|(k, v)| (k, Value::List(v)))
                        .collect(),
                )
            } else {
                Value::Map(map)
            }
        } else {
            Value::List(list)
        };
        Ok(if sensitive {
            value.mark_sensitive()
        } else {
            value
        })
    }

    fn for_item(
        &mut self,
        f: &ForExpr,
        list: &mut Vec<Value>,
        map: &mut BTreeMap<String, Value>,
        grouped: &mut BTreeMap<String, Vec<Value>>,
    ) -> Result<(), Diagnostic> {
        if let Some(cond) = &f.condition {
            match self.eval(cond)?.unmark_deep().0 {
                Value::Bool(true) => {}
                Value::Bool(false) => return Ok(()),
                Value::Unknown(_) => return Ok(()),
                other => {
                    return Err(Diagnostic::at(
                        Code::TypeMismatch,
                        cond.span,
                        format!(
                            "the if condition must be a bool, not a {}",
                            other.type_name()
                        ),
                    ))
                }
            }
        }
        let Some(key_expr) = &f.key else {
            list.push(self.eval(&f.value)?);
            return Ok(());
        };
        let key = match self.eval(key_expr)?.unmark_deep().0 {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => {
                return Err(Diagnostic::at(
                    Code::TypeMismatch,
                    key_expr.span,
                    format!(
                        "an object key must be a string, not a {}",
                        other.type_name()
                    ),
                ))
            }
        };
        let value = self.eval(&f.value)?;
        if f.grouping {
            grouped.entry(key).or_default().push(value);
            return Ok(());
        }
        if map.contains_key(&key) {
            return Err(Diagnostic::at(
                Code::Duplicate,
                key_expr.span,
                format!("two elements produce the key \"{key}\""),
            )
            .with_help("make the keys unique, or add ... after the value to group values by key"));
        }
        map.insert(key, value);
        Ok(())
    }

    /// `c ? a : b`. As in Terraform, both results are evaluated and the
    /// chosen one is converted to the type both share (`true ? 1 : "1"` is
    /// `"1"`); an error in the other result is not reported.
    fn conditional(&mut self, cond: &Expr, a: &Expr, b: &Expr) -> EvalResult {
        let (c, sensitive) = self.eval(cond)?.unmark_deep();
        let chosen = match c {
            Value::Bool(true) => a,
            Value::Bool(false) => b,
            Value::String(s) if s == "true" => a,
            Value::String(s) if s == "false" => b,
            Value::Unknown(_) => {
                let (a_value, b_value) = (self.eval(a)?, self.eval(b)?);
                let ty = self.result_type(a, b.span, &a_value, &b_value)?;
                return Ok(Value::Unknown(ty.unwrap_or(Type::Any)));
            }
            other => {
                return Err(Diagnostic::at(
                    Code::TypeMismatch,
                    cond.span,
                    format!("the condition must be a bool, not a {}", other.type_name()),
                )
                .with_help("compare it, e.g. x != \"\" ? a : b"))
            }
        };
        let value = self.eval(chosen)?;
        let other = if std::ptr::eq(chosen, a) { b } else { a };
        let value = match self.eval(other) {
            Ok(other_value) => {
                let (a_value, b_value) = if std::ptr::eq(chosen, a) {
                    (&value, &other_value)
                } else {
                    (&other_value, &value)
                };
                match self.result_type(a, b.span, a_value, b_value)? {
                    Some(ty) => convert(value, &ty)
                        .map_err(|e| Diagnostic::at(Code::TypeMismatch, chosen.span, e.message))?,
                    None => value,
                }
            }
            Err(_) => value,
        };
        Ok(if sensitive {
            value.mark_sensitive()
        } else {
            value
        })
    }

    /// The type both results of a conditional convert to; `None` when one
    /// is null or of a type not known yet (nothing to convert).
    fn result_type(
        &self,
        a: &Expr,
        b_span: Span,
        a_value: &Value,
        b_value: &Value,
    ) -> Result<Option<Type>, Diagnostic> {
        let (a_type, b_type) = (a_value.type_of(), b_value.type_of());
        if a_value.is_null() || b_value.is_null() || a_type == Type::Any || b_type == Type::Any {
            return Ok(None);
        }
        match unify(&[a_type.clone(), b_type.clone()]) {
            Some(ty) => Ok(Some(ty)),
            None => Err(Diagnostic::at(
                Code::TypeMismatch,
                a.span.to(b_span),
                format!(
                    "inconsistent conditional result types: the true result is a {a_type}, the false result a {b_type}"
                ),
            )
            .with_help("make both results the same type, e.g. with tostring() or tonumber()")),
        }
    }

    fn unary(&mut self, span: Span, op: UnaryOp, operand: &Expr) -> EvalResult {
        let (v, sensitive) = self.eval(operand)?.unmark_deep();
        self.unary_plain(span, op, operand, v, sensitive)
            .map_err(|d| redact_if(d, sensitive))
    }

    fn unary_plain(
        &mut self,
        span: Span,
        op: UnaryOp,
        operand: &Expr,
        v: Value,
        sensitive: bool,
    ) -> EvalResult {
        let result = match (op, v) {
            (_, Value::Unknown(_)) => Value::Unknown(if op == UnaryOp::Not {
                Type::Bool
            } else {
                Type::Number
            }),
            (UnaryOp::Not, Value::Bool(b)) => Value::Bool(!b),
            (UnaryOp::Neg, v) => Value::Number(operand_number(&v, operand.span, "-")?.neg()),
            (UnaryOp::Not, other) => {
                return Err(Diagnostic::at(
                    Code::InvalidOperand,
                    span,
                    format!("! needs a bool, not a {}", other.type_name()),
                ))
            }
        };
        Ok(if sensitive {
            result.mark_sensitive()
        } else {
            result
        })
    }

    fn binary(&mut self, span: Span, op: BinaryOp, a: &Expr, b: &Expr) -> EvalResult {
        let (left, ls) = self.eval(a)?.unmark_deep();
        // && and || stop early, as a reader expects.
        if op == BinaryOp::And && left == Value::Bool(false) {
            return Ok(mark(Value::Bool(false), ls));
        }
        if op == BinaryOp::Or && left == Value::Bool(true) {
            return Ok(mark(Value::Bool(true), ls));
        }
        let (right, rs) = self.eval(b)?.unmark_deep();
        let sensitive = ls || rs;
        self.binary_plain(span, op, (a, left), (b, right), sensitive)
            .map_err(|d| redact_if(d, sensitive))
    }

    fn binary_plain(
        &mut self,
        span: Span,
        op: BinaryOp,
        (a, left): (&Expr, Value),
        (b, right): (&Expr, Value),
        sensitive: bool,
    ) -> EvalResult {
        if left.contains_unknown() || right.contains_unknown() {
            let ty = match op {
                BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => {
                    Type::Number
                }
                _ => Type::Bool,
            };
            return Ok(mark(Value::Unknown(ty), sensitive));
        }
        let result = match op {
            BinaryOp::Eq => Value::Bool(left == right),
            BinaryOp::Ne => Value::Bool(left != right),
            BinaryOp::And | BinaryOp::Or => {
                let l = operand_bool(&left, a.span, op.symbol())?;
                let r = operand_bool(&right, b.span, op.symbol())?;
                Value::Bool(if op == BinaryOp::And { l && r } else { l || r })
            }
            _ => {
                let l = operand_number(&left, a.span, op.symbol())?;
                let r = operand_number(&right, b.span, op.symbol())?;
                arithmetic(op, &l, &r, span, b.span)?
            }
        };
        Ok(mark(result, sensitive))
    }

    fn call(&mut self, expr: &Expr, name: &Ident, args: &[Expr], expand_final: bool) -> EvalResult {
        match name.name.as_str() {
            "try" => return self.try_call(expr, args),
            "can" => {
                let Some(arg) = args.first() else {
                    return Err(arity_error(expr.span, name));
                };
                return Ok(Value::Bool(
                    self.eval(arg).is_ok_and(|v| !v.contains_unknown()),
                ));
            }
            _ => {}
        }
        let Some(spec) = imm_stdlib::lookup_function(&name.name) else {
            let d = Diagnostic::at(
                Code::UnknownFunction,
                name.span,
                format!("there is no function named \"{}\"", name.name),
            );
            let names = imm_stdlib::FUNCTIONS.iter().map(|f| f.name);
            return Err(match did_you_mean(&name.name, names) {
                Some(s) => d.with_help(format!("did you mean \"{s}\"?")),
                None => d.with_help("see the list of built-in functions in docs/language.md"),
            });
        };
        let mut values = Vec::with_capacity(args.len());
        let mut arg_spans = Vec::with_capacity(args.len());
        for (i, arg) in args.iter().enumerate() {
            let v = self.eval(arg)?;
            if expand_final && i == args.len() - 1 {
                match v.unmark_deep() {
                    (Value::List(items) | Value::Set(items), marked) => {
                        for item in items {
                            values.push(mark(item, marked));
                            arg_spans.push(arg.span);
                        }
                    }
                    (Value::Unknown(_), _) => return Ok(Value::Unknown(Type::Any)),
                    (other, _) => {
                        return Err(Diagnostic::at(
                            Code::TypeMismatch,
                            arg.span,
                            format!("... needs a list to expand, not a {}", other.type_name()),
                        ))
                    }
                }
                continue;
            }
            values.push(v);
            arg_spans.push(arg.span);
        }
        let arity_ok =
            values.len() >= spec.min_args && spec.max_args.is_none_or(|m| values.len() <= m);
        if !arity_ok {
            return Err(arity_error(expr.span, name));
        }
        if spec.name == "templatefile" || spec.name == "templatestring" {
            return self.templatefile(expr, values, &arg_spans);
        }
        let ctx = CallContext {
            module_dir: &self.module_dir,
        };
        imm_stdlib::call(spec.name, values, &ctx).map_err(|e| {
            let span = e
                .argument
                .and_then(|i| arg_spans.get(i).copied())
                .unwrap_or(expr.span);
            Diagnostic::at(
                Code::FunctionFailed,
                span,
                format!("{}: {}", spec.name, e.message),
            )
            .with_help(format!("the signature is {}", spec.signature))
        })
    }

    fn try_call(&mut self, expr: &Expr, args: &[Expr]) -> EvalResult {
        let mut last_error = None;
        for arg in args {
            match self.eval(arg) {
                Ok(v) if v.contains_unknown() => return Ok(Value::Unknown(Type::Any)),
                Ok(v) => return Ok(v),
                Err(d) => last_error = Some(d),
            }
        }
        Err(Diagnostic::at(
            Code::FunctionFailed,
            expr.span,
            "try: no argument evaluated without an error",
        )
        .with_help(match last_error {
            Some(d) => format!("the last error was: {}", d.message),
            None => "give try at least one argument".into(),
        }))
    }

    fn templatefile(&mut self, expr: &Expr, args: Vec<Value>, spans: &[Span]) -> EvalResult {
        let from_string =
            matches!(&expr.kind, ExprKind::Call(c) if c.name.name == "templatestring");
        if from_string {
            refuse_template_in_place(expr)?;
        }
        // Secrets inside the variables stay marked: the template's own
        // interpolations mask them, so its result can be shown line by line.
        let sensitive = args.iter().any(Value::contains_sensitive);
        let mut args = args.into_iter();
        let (path, _) = args.next().unwrap_or(Value::Null).unmark_deep();
        let vars = args.next().unwrap_or(Value::Null);
        let vars = match vars {
            Value::Sensitive(..) => vars.unmark_deep().0,
            partly_marked => partly_marked,
        };
        let path = match &path {
            Value::String(s) => s.clone(),
            Value::Unknown(_) => return Ok(Value::Unknown(Type::String)),
            other => {
                return Err(Diagnostic::at(
                    Code::TypeMismatch,
                    spans[0],
                    format!(
                        "templatefile: the path must be a string, not a {}",
                        other.type_name()
                    ),
                ))
            }
        };
        let vars = match vars {
            Value::Map(m) => m,
            Value::Unknown(_) => return Ok(Value::Unknown(Type::String)),
            other => {
                return Err(Diagnostic::at(
                    Code::TypeMismatch,
                    spans[1],
                    format!(
                        "templatefile: the variables must be an object, not a {}",
                        other.type_name()
                    ),
                ))
            }
        };
        let (parts, label) = if from_string {
            (self.string_template(&path)?, "templatestring".to_string())
        } else {
            let full = self.module_dir.join(&path);
            (
                self.load_template(&full, spans[0])?,
                format!("templatefile(\"{path}\")"),
            )
        };
        if let Some(missing) = first_unbound_name(&parts, &vars) {
            let location = self.sources.location(missing.root_span);
            return Err(Diagnostic::at(Code::FunctionFailed, spans[1], format!("{label}: the template uses \"{}\" (at {location}), which is not among the variables passed", missing.root))
                .with_help(format!("pass it in the variables: {{ {} = ... }}", missing.root)));
        }
        // A template sees only its variables and the functions.
        let saved_roots = std::mem::take(&mut self.roots);
        let saved_bound = std::mem::take(&mut self.bound);
        for (k, v) in vars {
            self.bound.push((k, v));
        }
        let result = match parts.as_slice() {
            // As in Terraform, a template that is one interpolation gives its value as it is.
            [TemplatePart::Interpolation(e)] => self.eval(e).and_then(|value| match value {
                Value::Null => {
                    Err(
                        Diagnostic::at(Code::TypeMismatch, e.span, "the template's result is null")
                            .with_help("give the value a default, e.g. coalesce(x, \"\")"),
                    )
                }
                value => Ok(value),
            }),
            _ => self.template(&parts),
        };
        self.roots = saved_roots;
        self.bound = saved_bound;
        let value = result.map_err(|d| {
            let location = d.span.map(|s| self.sources.location(s)).unwrap_or_default();
            Diagnostic::at(
                d.code,
                expr.span,
                format!("{label}: {} (at {location})", d.message),
            )
            .with_help(
                d.help
                    .unwrap_or_else(|| "fix the template or the variables passed to it".into()),
            )
        })?;
        Ok(mark(value, sensitive))
    }

    /// `templatestring`'s template, parsed each time (it is a value).
    fn string_template(&mut self, text: &str) -> Result<Rc<Vec<TemplatePart>>, Diagnostic> {
        let file = self
            .sources
            .add("<templatestring>".into(), text.to_string());
        Ok(Rc::new(parse_template(file, text)?))
    }

    fn load_template(
        &mut self,
        full: &Path,
        span: Span,
    ) -> Result<Rc<Vec<TemplatePart>>, Diagnostic> {
        if let Some(parts) = self.templates.parsed.get(full) {
            return Ok(parts.clone());
        }
        let fail = |message: String| {
            Diagnostic::at(
                Code::FunctionFailed,
                span,
                format!("templatefile: {message}"),
            )
            .with_help("the path is relative to the module's directory")
        };
        let bytes = imm_stdlib::functions::read_bounded(full).map_err(fail)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| fail(format!("\"{}\" is not UTF-8 text", full.display())))?;
        let file = self.sources.add(full.to_path_buf(), text.clone());
        let parts = Rc::new(parse_template(file, &text)?);
        self.templates
            .parsed
            .insert(full.to_path_buf(), parts.clone());
        Ok(parts)
    }
}

/// The first name a template refers to that its variables do not define.
fn first_unbound_name(parts: &[TemplatePart], vars: &BTreeMap<String, Value>) -> Option<Reference> {
    parts.iter().find_map(|part| match part {
        TemplatePart::Interpolation(e) => references(e)
            .into_iter()
            .find(|r| !r.bound && !vars.contains_key(&r.root)),
        TemplatePart::Literal(_) => None,
    })
}

/// `templatestring`'s template must be read through a reference, as in
/// Terraform: a template written in place would be rendered twice.
fn refuse_template_in_place(call: &Expr) -> Result<(), Diagnostic> {
    let first = match &call.kind {
        ExprKind::Call(c) => c.args.first(),
        _ => None,
    };
    match first.filter(|a| a.as_traversal().is_none() && !matches!(a.kind, ExprKind::Index(..))) {
        None => Ok(()),
        Some(arg) => Err(Diagnostic::at(
            Code::FunctionFailed,
            arg.span,
            "templatestring: the template must be a reference to a value (local.x, var.x, data from a file)",
        )
        .with_help("for a template written here, use the string itself, or put it in a local value first")),
    }
}

/// A problem with a sensitive value must not quote it.
fn redact_if(mut d: Diagnostic, sensitive: bool) -> Diagnostic {
    if sensitive {
        d.message = "this operation failed on a sensitive value (its value is not shown)".into();
    }
    d
}

fn steps_after<'s, 'e>(steps: &'s [&'e Expr], current: &Expr) -> &'s [&'e Expr] {
    let position = steps
        .iter()
        .position(|s| std::ptr::eq(*s, current))
        .map(|i| i + 1)
        .unwrap_or(steps.len());
    &steps[position..]
}

fn mark(value: Value, sensitive: bool) -> Value {
    if sensitive {
        value.mark_sensitive()
    } else {
        value
    }
}

fn arity_error(span: Span, name: &Ident) -> Diagnostic {
    let signature = imm_stdlib::lookup_function(&name.name)
        .map(|s| s.signature)
        .unwrap_or("");
    Diagnostic::at(
        Code::ArgumentCount,
        span,
        format!("wrong number of arguments to {}", name.name),
    )
    .with_help(format!("the signature is {signature}"))
}

enum Step<'v> {
    Borrowed(&'v Value),
    Owned(Value),
}

impl Step<'_> {
    fn into_owned(self) -> Value {
        match self {
            Step::Borrowed(v) => v.clone(),
            Step::Owned(v) => v,
        }
    }
}

fn get_attr<'v>(value: &'v Value, name: &Ident) -> Result<Step<'v>, Diagnostic> {
    match value {
        Value::Map(map) => match map.get(&name.name) {
            Some(v) => Ok(Step::Borrowed(v)),
            None => {
                let d = Diagnostic::at(
                    Code::UnknownMember,
                    name.span,
                    format!("this object has no attribute \"{}\"", name.name),
                );
                Err(
                    match did_you_mean(&name.name, map.keys().map(String::as_str)) {
                        Some(s) => d.with_help(format!("did you mean \"{s}\"?")),
                        None => d.with_help(format!(
                            "its attributes are: {}",
                            map.keys().cloned().collect::<Vec<_>>().join(", ")
                        )),
                    },
                )
            }
        },
        Value::Unknown(_) => Ok(Step::Owned(Value::Unknown(Type::Any))),
        Value::Sensitive(inner, _) => {
            get_attr(inner, name).map(|s| Step::Owned(s.into_owned().mark_sensitive()))
        }
        Value::Null => Err(Diagnostic::at(
            Code::UnknownMember,
            name.span,
            format!("cannot read \"{}\" of a null value", name.name),
        )
        .with_help("check for null first, e.g. x == null ? default : x.attr")),
        Value::List(_) | Value::Set(_) => Err(Diagnostic::at(
            Code::UnknownMember,
            name.span,
            format!("a list has no attribute \"{}\"", name.name),
        )
        .with_help(format!(
            "pick an element first (x[0].{0}) or use a splat (x[*].{0})",
            name.name
        ))),
        other => Err(Diagnostic::at(
            Code::UnknownMember,
            name.span,
            format!("a {} has no attribute \"{}\"", other.type_name(), name.name),
        )),
    }
}

/// The address suffix of the instance `key` names in a resource's value
/// (a list for `count`, a map for `for_each`), when it names one.
fn instance_key_suffix(resource_value: &Value, key: &Value) -> Option<String> {
    match (resource_value, key.unmarked()) {
        (Value::List(items), Value::Number(n)) => n
            .to_usize()
            .filter(|&i| i < items.len())
            .map(|i| format!("[{i}]")),
        (Value::Map(items), Value::String(k)) if items.contains_key(k.as_str()) => {
            Some(format!("[{}]", imm_stdlib::value::quote_string(k)))
        }
        _ => None,
    }
}

fn index_value<'v>(
    value: &'v Value,
    key: &Value,
    key_span: Span,
    span: Span,
) -> Result<Step<'v>, Diagnostic> {
    let (key, key_sensitive) = key.clone().unmark_deep();
    index_plain(value, key, key_span, span).map_err(|d| redact_if(d, key_sensitive))
}

fn index_plain<'v>(
    value: &'v Value,
    key: Value,
    key_span: Span,
    span: Span,
) -> Result<Step<'v>, Diagnostic> {
    if let Value::Unknown(_) = key {
        return Ok(Step::Owned(Value::Unknown(Type::Any)));
    }
    match value {
        Value::List(items) => {
            let index = match &key {
                Value::Number(n) => n.to_usize(),
                Value::String(s) => Number::parse(s).ok().and_then(|n| n.to_usize()),
                other => {
                    return Err(Diagnostic::at(
                        Code::TypeMismatch,
                        key_span,
                        format!("a list index must be a number, not a {}", other.type_name()),
                    ))
                }
            };
            let Some(item) = index.and_then(|i| items.get(i)) else {
                return Err(Diagnostic::at(
                    Code::InvalidIndex,
                    key_span,
                    format!(
                        "index {} is out of range for a list of {} elements",
                        key.display(),
                        items.len()
                    ),
                )
                .with_help(if items.is_empty() {
                    "the list is empty".to_string()
                } else {
                    format!("use an index from 0 to {}", items.len() - 1)
                }));
            };
            Ok(Step::Borrowed(item))
        }
        Value::Map(map) => {
            let k = match key {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                other => {
                    return Err(Diagnostic::at(
                        Code::TypeMismatch,
                        key_span,
                        format!("a map key must be a string, not a {}", other.type_name()),
                    ))
                }
            };
            match map.get(&k) {
                Some(v) => Ok(Step::Borrowed(v)),
                None => {
                    let d = Diagnostic::at(
                        Code::InvalidIndex,
                        key_span,
                        format!("the map has no key \"{k}\""),
                    );
                    Err(match did_you_mean(&k, map.keys().map(String::as_str)) {
                        Some(s) => d.with_help(format!("did you mean \"{s}\"?")),
                        None => d.with_help(
                            "use lookup(map, key, default) for keys that may be missing",
                        ),
                    })
                }
            }
        }
        Value::Unknown(_) => Ok(Step::Owned(Value::Unknown(Type::Any))),
        Value::Sensitive(inner, _) => index_value(inner, &key, key_span, span)
            .map(|s| Step::Owned(s.into_owned().mark_sensitive())),
        Value::Set(_) => Err(Diagnostic::at(
            Code::InvalidIndex,
            span,
            "a set has no order and cannot be indexed",
        )
        .with_help("convert it with tolist(...) first, or iterate with for")),
        Value::Null => Err(Diagnostic::at(
            Code::InvalidIndex,
            span,
            "cannot index a null value",
        )),
        other => Err(Diagnostic::at(
            Code::InvalidIndex,
            span,
            format!("a {} cannot be indexed", other.type_name()),
        )),
    }
}

fn operand_number(v: &Value, span: Span, op: &str) -> Result<Number, Diagnostic> {
    match v {
        Value::Number(n) => Ok(n.clone()),
        Value::String(s) => Number::parse(s).map_err(|_| {
            Diagnostic::at(
                Code::InvalidOperand,
                span,
                format!("{op} needs a number, but \"{s}\" is not one"),
            )
            .with_help("use a number, or convert with tonumber(...)")
        }),
        other => Err(Diagnostic::at(
            Code::InvalidOperand,
            span,
            format!("{op} needs a number, not a {}", other.type_name()),
        )
        .with_help("use a number, or convert with tonumber(...)")),
    }
}

fn operand_bool(v: &Value, span: Span, op: &str) -> Result<bool, Diagnostic> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        other => Err(Diagnostic::at(
            Code::InvalidOperand,
            span,
            format!("{op} needs a bool, not a {}", other.type_name()),
        )),
    }
}

fn arithmetic(op: BinaryOp, l: &Number, r: &Number, span: Span, right_span: Span) -> EvalResult {
    let n = match op {
        BinaryOp::Add => l.add(r),
        BinaryOp::Sub => l.sub(r),
        BinaryOp::Mul => l.mul(r),
        // Terraform's `x % 0` is `x`; a zero divisor is far likelier a
        // mistake, so it is an error here, as `x / 0` is.
        BinaryOp::Rem if r.is_zero() => Err(NumberError::DivisionByZero),
        BinaryOp::Div => l.div(r),
        BinaryOp::Rem => l.rem(r),
        BinaryOp::Lt => return Ok(Value::Bool(l < r)),
        BinaryOp::Le => return Ok(Value::Bool(l <= r)),
        BinaryOp::Gt => return Ok(Value::Bool(l > r)),
        BinaryOp::Ge => return Ok(Value::Bool(l >= r)),
        _ => {
            return Err(Diagnostic::at(
                Code::InvalidOperand,
                span,
                "unsupported operator",
            ))
        }
    };
    match n {
        Ok(n) => Ok(Value::Number(n)),
        Err(NumberError::DivisionByZero) => {
            Err(
                Diagnostic::at(Code::InvalidOperand, right_span, "division by zero")
                    .with_help("make sure the divisor cannot be 0"),
            )
        }
        Err(e) => Err(Diagnostic::at(Code::InvalidOperand, span, e.to_string())),
    }
}

/// Converts a value to a set of strings, for `for_each`.
pub fn set_of(value: Vec<Value>) -> Value {
    make_set(value)
}
