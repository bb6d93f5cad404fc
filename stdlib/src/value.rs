//! Values and types of the `.imm` language.
//!
//! A [`Value`] is what an expression evaluates to. Two extra variants carry
//! what the language must never lose track of: [`Value::Unknown`] (known only
//! after apply, or not given during `imm validate`) and [`Value::Sensitive`]
//! (a secret, or anything computed from one).

use crate::number::Number;
use indexmap::IndexMap;
use std::collections::BTreeMap;
use std::fmt;

/// A value of the language. Maps keep their keys sorted, as Terraform's
/// objects do, so iteration order is stable everywhere (plans, JSON, hashes).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Value>),
    /// Unordered, without duplicates; kept sorted by [`make_set`] (numbers
    /// by value, everything else by [`Value::sort_key`]).
    Set(Vec<Value>),
    Map(BTreeMap<String, Value>),
    /// Not known yet; the type is known when it is not `Any`.
    Unknown(Type),
    /// A value that must never be shown or stored in clear. A string built
    /// by a template may carry how it can be shown: its text with each
    /// sensitive part replaced by `(sensitive)` (`db_password=(sensitive)`),
    /// so that a plan shows which lines of a rendered file changed.
    Sensitive(Box<Value>, Option<Box<str>>),
}

/// A type constraint.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    Any,
    String,
    Number,
    Bool,
    List(Box<Type>),
    Map(Box<Type>),
    Set(Box<Type>),
    /// Boxed, like `Tuple`: they are rare, and an unboxed map would make
    /// every `Value` (which can hold an unknown of any type) twice as big.
    Object(Box<IndexMap<String, Type>>),
    Tuple(Box<Vec<Type>>),
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Any => write!(f, "any"),
            Type::String => write!(f, "string"),
            Type::Number => write!(f, "number"),
            Type::Bool => write!(f, "bool"),
            Type::List(t) => write!(f, "list({t})"),
            Type::Map(t) => write!(f, "map({t})"),
            Type::Set(t) => write!(f, "set({t})"),
            Type::Object(attrs) => {
                write!(f, "object({{")?;
                for (i, (k, t)) in attrs.iter().enumerate() {
                    if i > 0 {
                        write!(f, ",")?;
                    }
                    write!(f, " {k} = {t}")?;
                }
                write!(f, " }})")
            }
            Type::Tuple(items) => {
                write!(f, "tuple([")?;
                for (i, t) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{t}")?;
                }
                write!(f, "])")
            }
        }
    }
}

impl Value {
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// A whole number, as counts and lengths are.
    pub fn number(i: i64) -> Value {
        Value::Number(Number::from(i))
    }

    /// A short name of the value's kind, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::Map(_) => "object",
            Value::Unknown(_) => "unknown",
            Value::Sensitive(inner, _) => inner.type_name(),
        }
    }

    pub fn is_null(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Sensitive(inner, _) => inner.is_null(),
            _ => false,
        }
    }

    /// True when the value or anything inside it is unknown.
    pub fn contains_unknown(&self) -> bool {
        match self {
            Value::Unknown(_) => true,
            Value::List(items) | Value::Set(items) => items.iter().any(Value::contains_unknown),
            Value::Map(map) => map.values().any(Value::contains_unknown),
            Value::Sensitive(inner, _) => inner.contains_unknown(),
            _ => false,
        }
    }

    /// True when the value or anything inside it is sensitive.
    pub fn contains_sensitive(&self) -> bool {
        match self {
            Value::Sensitive(..) => true,
            Value::List(items) | Value::Set(items) => items.iter().any(Value::contains_sensitive),
            Value::Map(map) => map.values().any(Value::contains_sensitive),
            _ => false,
        }
    }

    /// Removes every sensitive mark, deeply, returning whether there was one.
    pub fn unmark_deep(self) -> (Value, bool) {
        match self {
            Value::Sensitive(inner, _) => (inner.unmark_deep().0, true),
            Value::List(items) => {
                let (items, marked) = unmark_all(items);
                (Value::List(items), marked)
            }
            Value::Set(items) => {
                let (items, marked) = unmark_all(items);
                (Value::Set(items), marked)
            }
            Value::Map(map) => {
                let mut marked = false;
                let map = map
                    .into_iter()
                    .map(|(k, v)| {
                        let (v, m) = v.unmark_deep();
                        marked |= m;
                        (k, v)
                    })
                    .collect();
                (Value::Map(map), marked)
            }
            other => (other, false),
        }
    }

    /// A sensitive string built by a template, with how it may be shown:
    /// its text with every sensitive part written `(sensitive)`.
    pub fn sensitive_shown_as(text: String, shown: String) -> Value {
        Value::Sensitive(Box::new(Value::String(text)), Some(shown.into()))
    }

    /// How a value may be shown in place of its text: the masked text a
    /// template gave a sensitive string, else the placeholder of a secret.
    pub fn shown_text(&self) -> Option<&str> {
        match self {
            Value::Sensitive(_, Some(shown)) => Some(shown),
            Value::Sensitive(_, None) => Some(SENSITIVE_TEXT),
            _ => None,
        }
    }

    /// Marks the value sensitive (once).
    pub fn mark_sensitive(self) -> Value {
        match self {
            Value::Sensitive(..) => self,
            other => Value::Sensitive(Box::new(other), None),
        }
    }

    /// The value without a top-level sensitive mark.
    pub fn unmarked(&self) -> &Value {
        match self {
            Value::Sensitive(inner, _) => inner.unmarked(),
            other => other,
        }
    }

    /// A key that orders values of one kind as Terraform sorts set members.
    pub fn sort_key(&self) -> String {
        match self.unmarked() {
            Value::String(s) => s.clone(),
            other => other.to_json_string(),
        }
    }

    /// The type of a known value, as precise as the value allows.
    pub fn type_of(&self) -> Type {
        match self {
            Value::Null | Value::Unknown(Type::Any) => Type::Any,
            Value::Unknown(t) => t.clone(),
            Value::Bool(_) => Type::Bool,
            Value::Number(_) => Type::Number,
            Value::String(_) => Type::String,
            Value::List(items) => Type::Tuple(Box::new(items.iter().map(Value::type_of).collect())),
            Value::Set(items) => Type::Set(Box::new(
                items.first().map(Value::type_of).unwrap_or(Type::Any),
            )),
            Value::Map(map) => Type::Object(Box::new(
                map.iter().map(|(k, v)| (k.clone(), v.type_of())).collect(),
            )),
            Value::Sensitive(inner, _) => inner.type_of(),
        }
    }

    /// JSON text in the form of Terraform's `jsonencode`: keys sorted, no
    /// spaces, numbers in their shortest form. Unknown is `null`.
    pub fn to_json_string(&self) -> String {
        let mut out = String::new();
        write_json(self, &mut out);
        out
    }

    /// Converts to `serde_json`; sensitive leaves become `"(sensitive)"` and
    /// unknown ones `"(known after apply)"` so nothing secret leaves this way.
    pub fn to_redacted_json(&self) -> serde_json::Value {
        self.redacted_json(false)
    }

    /// As [`Value::to_redacted_json`], but a sensitive string a template
    /// built shows its masked text (`db_password=(sensitive)`): what plans
    /// show, so that a reviewer sees which lines of a rendered file changed.
    pub fn to_shown_json(&self) -> serde_json::Value {
        self.redacted_json(true)
    }

    fn redacted_json(&self, masked: bool) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => n.to_json(),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::List(items) | Value::Set(items) => {
                serde_json::Value::Array(items.iter().map(|v| v.redacted_json(masked)).collect())
            }
            Value::Map(map) => serde_json::Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), v.redacted_json(masked)))
                    .collect(),
            ),
            Value::Unknown(_) => serde_json::Value::String(UNKNOWN_TEXT.to_string()),
            Value::Sensitive(_, Some(shown)) if masked => {
                serde_json::Value::String(shown.to_string())
            }
            Value::Sensitive(..) => serde_json::Value::String(SENSITIVE_TEXT.to_string()),
        }
    }

    /// Converts from JSON as `jsondecode` does.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Number::from_json(n).map_or(Value::Null, Value::Number),
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => {
                Value::List(items.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// How a value is shown to a person: strings bare, everything else as
    /// the language would write it. Secrets are never shown.
    pub fn display(&self) -> String {
        match self {
            Value::String(s) => s.clone(),
            other => other.to_literal(),
        }
    }

    /// The value written in `.imm` syntax (strings quoted).
    pub fn to_literal(&self) -> String {
        match self {
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::String(s) => quote_string(s),
            Value::List(items) | Value::Set(items) => {
                let inner: Vec<String> = items.iter().map(Value::to_literal).collect();
                format!("[{}]", inner.join(", "))
            }
            Value::Map(map) => {
                if map.is_empty() {
                    return "{}".into();
                }
                let inner: Vec<String> = map
                    .iter()
                    .map(|(k, v)| format!("{} = {}", object_key_literal(k), v.to_literal()))
                    .collect();
                format!("{{ {} }}", inner.join(", "))
            }
            Value::Unknown(_) => UNKNOWN_TEXT.into(),
            Value::Sensitive(..) => SENSITIVE_TEXT.into(),
        }
    }
}

/// Puts a string in Unicode Normalization Form C, as every Terraform string
/// is (`"e\u{301}"` is `"é"`): literals and file contents go through here.
pub fn normalize(text: &mut String) {
    use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};
    if is_nfc_quick(text.chars()) != IsNormalized::Yes {
        *text = text.nfc().collect();
    }
}

pub const SENSITIVE_TEXT: &str = "(sensitive)";
pub const UNKNOWN_TEXT: &str = "(known after apply)";

fn unmark_all(items: Vec<Value>) -> (Vec<Value>, bool) {
    let mut marked = false;
    let items = items
        .into_iter()
        .map(|v| {
            let (v, m) = v.unmark_deep();
            marked |= m;
            v
        })
        .collect();
    (items, marked)
}

fn object_key_literal(key: &str) -> String {
    let is_ident = key
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if is_ident {
        key.to_string()
    } else {
        quote_string(key)
    }
}

/// Quotes a string with the language's escapes.
pub fn quote_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn write_json(value: &Value, out: &mut String) {
    match value {
        Value::Null | Value::Unknown(_) => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&json_quote(s)),
        Value::List(items) | Value::Set(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Value::Map(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&json_quote(k));
                out.push(':');
                write_json(v, out);
            }
            out.push('}');
        }
        Value::Sensitive(inner, _) => write_json(inner, out),
    }
}

/// JSON string quoting as Go's encoding/json does it (Terraform escapes
/// `<`, `>` and `&` for HTML safety).
fn json_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Why a conversion failed, for the caller to place at a span.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversionError {
    pub message: String,
}

impl ConversionError {
    fn new(message: impl Into<String>) -> Self {
        ConversionError {
            message: message.into(),
        }
    }
}

/// Converts a value to a type as Terraform does for variables and function
/// arguments: numbers and bools to strings, numeric strings to numbers,
/// tuples to lists, objects to maps, missing object attributes are errors.
pub fn convert(value: Value, ty: &Type) -> Result<Value, ConversionError> {
    if let Value::Sensitive(inner, shown) = value {
        // A string stays the same string: it keeps how it may be shown.
        let keep = |converted: Value| match (converted, shown) {
            (Value::String(s), Some(shown)) => {
                Value::Sensitive(Box::new(Value::String(s)), Some(shown))
            }
            (other, _) => other.mark_sensitive(),
        };
        // The message may quote the value; a secret is never quoted.
        return convert(*inner, ty).map(keep).map_err(|_| {
            ConversionError::new(format!(
                "a sensitive value cannot be converted to {ty} (its value is not shown)"
            ))
        });
    }
    if matches!(ty, Type::Any) || value.is_null() {
        return Ok(value);
    }
    if let Value::Unknown(_) = value {
        return Ok(Value::Unknown(ty.clone()));
    }
    match ty {
        Type::Any => Ok(value),
        Type::String => to_string_value(value),
        Type::Number => to_number_value(value),
        Type::Bool => to_bool_value(value),
        Type::List(elem) => match value {
            Value::List(items) | Value::Set(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| convert(v, elem).map_err(|e| nested(&format!("[{i}]"), e)))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::List),
            other => Err(ConversionError::new(format!(
                "a list is required, but this is a {}",
                other.type_name()
            ))),
        },
        Type::Set(elem) => match value {
            Value::List(items) | Value::Set(items) => items
                .into_iter()
                .map(|v| convert(v, elem))
                .collect::<Result<Vec<_>, _>>()
                .map(make_set),
            other => Err(ConversionError::new(format!(
                "a set is required, but this is a {}",
                other.type_name()
            ))),
        },
        Type::Map(elem) => match value {
            Value::Map(map) => map
                .into_iter()
                .map(|(k, v)| {
                    let converted =
                        convert(v, elem).map_err(|e| nested(&format!("[\"{k}\"]"), e))?;
                    Ok((k, converted))
                })
                .collect::<Result<BTreeMap<_, _>, _>>()
                .map(Value::Map),
            other => Err(ConversionError::new(format!(
                "a map is required, but this is a {}",
                other.type_name()
            ))),
        },
        Type::Object(attrs) => match value {
            Value::Map(mut map) => {
                let mut out = BTreeMap::new();
                for (name, attr_ty) in attrs.iter() {
                    let Some(v) = map.remove(name) else {
                        return Err(ConversionError::new(format!(
                            "attribute \"{name}\" is required"
                        )));
                    };
                    out.insert(
                        name.clone(),
                        convert(v, attr_ty).map_err(|e| nested(&format!(".{name}"), e))?,
                    );
                }
                Ok(Value::Map(out))
            }
            other => Err(ConversionError::new(format!(
                "an object is required, but this is a {}",
                other.type_name()
            ))),
        },
        Type::Tuple(types) => match value {
            Value::List(items) if items.len() == types.len() => items
                .into_iter()
                .zip(types.iter())
                .map(|(v, t)| convert(v, t))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::List),
            other => Err(ConversionError::new(format!(
                "a tuple of {} elements is required, but this is a {}",
                types.len(),
                other.type_name()
            ))),
        },
    }
}

/// The one type all of `types` convert to, as Terraform unifies the two
/// results of a conditional or the elements given to `tolist`, `toset` and
/// `tomap`: numbers and bools with strings make strings, tuples of one
/// length unify element by element and of several lengths make a list,
/// objects of one shape unify attribute by attribute and of several make
/// a map. `None` when there is no such type (a number and a bool). `Any`
/// (an unknown or null value's type) converts to everything.
pub fn unify(types: &[Type]) -> Option<Type> {
    let count = |kind: fn(&Type) -> bool| types.iter().filter(|t| kind(t)).count();
    let all = types.len();
    let dynamic = count(|t| matches!(t, Type::Any));
    let maps = count(|t| matches!(t, Type::Map(_)));
    let lists = count(|t| matches!(t, Type::List(_)));
    let sets = count(|t| matches!(t, Type::Set(_)));
    let objects = count(|t| matches!(t, Type::Object(_)));
    let tuples = count(|t| matches!(t, Type::Tuple(_)));
    if all == 0 || dynamic == all {
        return Some(Type::Any);
    }
    if maps > 0 && maps + dynamic == all {
        return unify_elements(types, dynamic > 0).map(|t| Type::Map(Box::new(t)));
    }
    if maps > 0 && maps + objects + dynamic == all {
        if let Some(map) = unify_as_map(types) {
            return Some(map);
        }
    }
    if lists > 0 && lists + dynamic == all {
        return unify_elements(types, dynamic > 0).map(|t| Type::List(Box::new(t)));
    }
    if sets > 0 && sets + dynamic == all {
        return unify_elements(types, dynamic > 0).map(|t| Type::Set(Box::new(t)));
    }
    if objects > 0 && objects + dynamic == all {
        return if dynamic > 0 {
            Some(Type::Any)
        } else {
            unify_objects(types)
        };
    }
    if tuples > 0 && tuples + dynamic == all {
        return if dynamic > 0 {
            Some(Type::Any)
        } else {
            unify_tuples(types)
        };
    }
    if objects > 0 && tuples > 0 {
        return None;
    }
    // The first type (strings before the others) every other converts to.
    let strings_first = types.iter().filter(|t| matches!(t, Type::String)).chain(
        types
            .iter()
            .filter(|t| !matches!(t, Type::String | Type::Any)),
    );
    strings_first
        .clone()
        .find(|want| types.iter().all(|t| converts(t, want)))
        .cloned()
}

/// The element type of collections of one kind (with unknowns: any).
fn unify_elements(types: &[Type], dynamic: bool) -> Option<Type> {
    if dynamic {
        return Some(Type::Any);
    }
    let elements: Vec<Type> = types
        .iter()
        .filter_map(|t| match t {
            Type::List(e) | Type::Set(e) | Type::Map(e) => Some((**e).clone()),
            _ => None,
        })
        .collect();
    unify(&elements)
}

/// Maps and objects together, as a map of their elements' common type.
fn unify_as_map(types: &[Type]) -> Option<Type> {
    let mut elements = Vec::new();
    for t in types {
        match t {
            Type::Map(e) => elements.push((**e).clone()),
            Type::Object(attrs) => elements.extend(attrs.values().cloned()),
            _ => elements.push(Type::Any),
        }
    }
    unify(&elements).map(|t| Type::Map(Box::new(t)))
}

fn unify_objects(types: &[Type]) -> Option<Type> {
    let shapes: Vec<&IndexMap<String, Type>> = types
        .iter()
        .filter_map(|t| match t {
            Type::Object(attrs) => Some(&**attrs),
            _ => None,
        })
        .collect();
    let first = shapes.first()?;
    let same_shape = shapes
        .iter()
        .all(|s| s.len() == first.len() && s.keys().all(|k| first.contains_key(k)));
    if !same_shape {
        let all: Vec<Type> = shapes.iter().flat_map(|s| s.values().cloned()).collect();
        return unify(&all).map(|t| Type::Map(Box::new(t)));
    }
    let mut unified = IndexMap::new();
    for name in first.keys() {
        let across: Vec<Type> = shapes.iter().filter_map(|s| s.get(name).cloned()).collect();
        unified.insert(name.clone(), unify(&across)?);
    }
    Some(Type::Object(Box::new(unified)))
}

fn unify_tuples(types: &[Type]) -> Option<Type> {
    let tuples: Vec<&Vec<Type>> = types
        .iter()
        .filter_map(|t| match t {
            Type::Tuple(items) => Some(&**items),
            _ => None,
        })
        .collect();
    let first = tuples.first()?;
    if tuples.iter().any(|t| t.len() != first.len()) {
        let all: Vec<Type> = tuples.iter().flat_map(|t| t.iter().cloned()).collect();
        return unify(&all).map(|t| Type::List(Box::new(t)));
    }
    let mut unified = Vec::with_capacity(first.len());
    for i in 0..first.len() {
        let across: Vec<Type> = tuples.iter().map(|t| t[i].clone()).collect();
        unified.push(unify(&across)?);
    }
    Some(Type::Tuple(Box::new(unified)))
}

/// Whether a value of type `from` converts to `to` (Terraform's
/// conversions, strings to numbers and bools included).
fn converts(from: &Type, to: &Type) -> bool {
    match (from, to) {
        (_, Type::Any) | (Type::Any, _) => true,
        (a, b) if a == b => true,
        (Type::Number | Type::Bool, Type::String) => true,
        (Type::String, Type::Number | Type::Bool) => true,
        (Type::List(a) | Type::Set(a), Type::List(b) | Type::Set(b))
        | (Type::Map(a), Type::Map(b)) => converts(a, b),
        (Type::Tuple(items), Type::List(e) | Type::Set(e)) => items.iter().all(|t| converts(t, e)),
        (Type::Object(attrs), Type::Map(e)) => attrs.values().all(|t| converts(t, e)),
        (Type::Tuple(a), Type::Tuple(b)) => {
            a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| converts(x, y))
        }
        (Type::Object(a), Type::Object(b)) => {
            a.len() == b.len()
                && b.iter()
                    .all(|(k, t)| a.get(k).is_some_and(|from| converts(from, t)))
        }
        _ => false,
    }
}

fn nested(path: &str, err: ConversionError) -> ConversionError {
    ConversionError::new(format!("element {path}: {}", err.message))
}

fn to_string_value(value: Value) -> Result<Value, ConversionError> {
    match value {
        Value::String(_) => Ok(value),
        Value::Number(n) => Ok(Value::String(n.to_string())),
        Value::Bool(b) => Ok(Value::String(b.to_string())),
        other => Err(ConversionError::new(format!(
            "a string is required, but this is a {}",
            other.type_name()
        ))),
    }
}

fn to_number_value(value: Value) -> Result<Value, ConversionError> {
    match value {
        Value::Number(_) => Ok(value),
        Value::String(s) => Number::parse(&s).map(Value::Number).map_err(|_| {
            ConversionError::new(format!("a number is required, but \"{s}\" is not a number"))
        }),
        other => Err(ConversionError::new(format!(
            "a number is required, but this is a {}",
            other.type_name()
        ))),
    }
}

fn to_bool_value(value: Value) -> Result<Value, ConversionError> {
    match value {
        Value::Bool(_) => Ok(value),
        Value::String(s) if s == "true" => Ok(Value::Bool(true)),
        Value::String(s) if s == "false" => Ok(Value::Bool(false)),
        Value::String(s) => Err(ConversionError::new(format!(
            "a bool is required, but \"{s}\" is neither \"true\" nor \"false\""
        ))),
        other => Err(ConversionError::new(format!(
            "a bool is required, but this is a {}",
            other.type_name()
        ))),
    }
}

/// Builds a set: duplicates removed, members sorted.
pub fn make_set(items: Vec<Value>) -> Value {
    let mut keyed: Vec<(String, Value)> = items.into_iter().map(|v| (v.sort_key(), v)).collect();
    // Numbers in numeric order, as Terraform's (and before anything else,
    // so that the order stays total in a set of mixed kinds).
    keyed.sort_by(|a, b| match (a.1.unmarked(), b.1.unmarked()) {
        (Value::Number(x), Value::Number(y)) => x.compare(y),
        (Value::Number(_), _) => std::cmp::Ordering::Less,
        (_, Value::Number(_)) => std::cmp::Ordering::Greater,
        _ => a.0.cmp(&b.0),
    });
    keyed.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    Value::Set(keyed.into_iter().map(|(_, v)| v).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_stay_small() {
        // Every list element and map entry is a Value: size is memory.
        assert!(
            std::mem::size_of::<Value>() <= 32,
            "{}",
            std::mem::size_of::<Value>()
        );
    }

    #[test]
    fn numbers_format_like_terraform() {
        let parsed = |text: &str| Value::Number(Number::parse(text).expect("a number"));
        assert_eq!(parsed("1000").to_literal(), "1000");
        assert_eq!(parsed("3.5").to_literal(), "3.5");
        assert_eq!(parsed("-7").to_json_string(), "-7");
        assert_eq!(
            parsed("9007199254740993").to_json_string(),
            "9007199254740993"
        );
    }

    #[test]
    fn conversion_follows_terraform() {
        assert_eq!(
            convert(Value::string("5"), &Type::Number),
            Ok(Value::number(5))
        );
        assert_eq!(
            convert(Value::number(5), &Type::String),
            Ok(Value::string("5"))
        );
        assert!(convert(Value::string("x"), &Type::Number).is_err());
        assert!(convert(Value::List(vec![]), &Type::String).is_err());
    }

    #[test]
    fn json_escapes_html_characters_and_sorts_keys() {
        let mut m = BTreeMap::new();
        m.insert("b".to_string(), Value::string("<a&b>"));
        m.insert("a".to_string(), Value::number(1));
        assert_eq!(
            Value::Map(m).to_json_string(),
            r#"{"a":1,"b":"\u003ca\u0026b\u003e"}"#
        );
    }
}
