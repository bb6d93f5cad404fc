//! A YAML document as a tree that remembers where each node is (so that
//! the Compose import reports what it leaves out with its line and column)
//! and which scalars were plain (so that `yamldecode` resolves `yes`,
//! `0x1f` or `~` as Terraform does and a quoted one stays a string). Built
//! from yaml-rust2's events; anchors, aliases and `<<` merge keys are
//! resolved.

use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// One node and where it starts (1-based line and column).
#[derive(Debug, Clone)]
pub struct Node {
    pub kind: Kind,
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone)]
pub enum Kind {
    /// A scalar as written (numbers and booleans too); `plain` when it was
    /// not quoted.
    Scalar {
        text: String,
        plain: bool,
    },
    Sequence(Vec<Node>),
    /// Entries in order; keys are scalars.
    Mapping(Vec<(Node, Node)>),
}

impl Node {
    /// The text of a scalar.
    pub fn text(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// A plain `~`, `null` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    pub fn entries(&self) -> &[(Node, Node)] {
        match &self.kind {
            Kind::Mapping(entries) => entries,
            _ => &[],
        }
    }

    pub fn items(&self) -> &[Node] {
        match &self.kind {
            Kind::Sequence(items) => items,
            _ => &[],
        }
    }

    /// The value under `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()
            .iter()
            .find(|(k, _)| k.text() == Some(key))
            .map(|(_, v)| v)
    }
}

/// A document that could not be read, and where.
#[derive(Debug)]
pub struct YamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Reads the first document of `text`.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, false).map_err(|e| YamlError {
        line: e.marker().line(),
        column: e.marker().col() + 1,
        message: e.info().to_string(),
    })?;
    if let Some(error) = builder.error {
        return Err(error);
    }
    builder.root.ok_or(YamlError {
        line: 1,
        column: 1,
        message: "the file holds no YAML document".into(),
    })
}

/// A collection being built.
enum Open {
    Sequence {
        at: Marker,
        anchor: usize,
        items: Vec<Node>,
    },
    Mapping {
        at: Marker,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

#[derive(Default)]
struct Builder {
    open: Vec<Open>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    error: Option<YamlError>,
}

fn node(kind: Kind, at: Marker) -> Node {
    Node {
        kind,
        line: at.line(),
        column: at.col() + 1,
    }
}

impl Builder {
    fn add(&mut self, value: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, value.clone());
        }
        match self.open.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(value);
                }
            }
            Some(Open::Sequence { items, .. }) => items.push(value),
            Some(Open::Mapping { entries, key, .. }) => match key.take() {
                None => *key = Some(value),
                Some(k) => entries.push((k, value)),
            },
        }
    }
}

/// A mapping with its `<<` merge keys resolved: merged entries come first
/// and are overridden by the mapping's own.
fn merged(entries: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
    let mut own = Vec::new();
    let mut inherited: Vec<(Node, Node)> = Vec::new();
    for (key, value) in entries {
        if key.text() != Some("<<") {
            own.push((key, value));
            continue;
        }
        let sources = match &value.kind {
            Kind::Sequence(items) => items.clone(),
            _ => vec![value],
        };
        for source in sources {
            for (k, v) in source.entries() {
                if !inherited.iter().any(|(i, _)| i.text() == k.text()) {
                    inherited.push((k.clone(), v.clone()));
                }
            }
        }
    }
    inherited.retain(|(k, _)| !own.iter().any(|(o, _)| o.text() == k.text()));
    inherited.extend(own);
    inherited
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, at: Marker) {
        match event {
            Event::Scalar(text, style, anchor, _) => {
                let plain = style == TScalarStyle::Plain;
                self.add(node(Kind::Scalar { text, plain }, at), anchor);
            }
            Event::SequenceStart(anchor, _) => self.open.push(Open::Sequence {
                at,
                anchor,
                items: Vec::new(),
            }),
            Event::MappingStart(anchor, _) => self.open.push(Open::Mapping {
                at,
                anchor,
                entries: Vec::new(),
                key: None,
            }),
            Event::SequenceEnd | Event::MappingEnd => match self.open.pop() {
                Some(Open::Sequence { at, anchor, items }) => {
                    self.add(node(Kind::Sequence(items), at), anchor)
                }
                Some(Open::Mapping {
                    at,
                    anchor,
                    entries,
                    ..
                }) => self.add(node(Kind::Mapping(merged(entries)), at), anchor),
                None => {}
            },
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(found) => self.add(found, 0),
                None => {
                    self.error.get_or_insert(YamlError {
                        line: at.line(),
                        column: at.col() + 1,
                        message: "an alias refers to an anchor not defined before it".into(),
                    });
                }
            },
            _ => {}
        }
    }
}

/// The language's value of a node, as Terraform's `yamldecode` gives it:
/// a plain scalar is null, a bool (YAML 1.1's `yes`/`no`/`on`/`off` too)
/// or a number when it reads as one, else a string; a quoted one is a
/// string; sequences are lists, mappings objects.
pub fn to_value(node: &Node) -> crate::Value {
    use crate::Value;
    match &node.kind {
        Kind::Scalar { text, plain: false } => Value::string(text.clone()),
        Kind::Scalar { text, plain: true } => plain_scalar(text),
        Kind::Sequence(items) => Value::List(items.iter().map(to_value).collect()),
        Kind::Mapping(entries) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| (k.text().unwrap_or_default().to_string(), to_value(v)))
                .collect(),
        ),
    }
}

fn plain_scalar(text: &str) -> crate::Value {
    use crate::Value;
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "y" | "Y" => {
            return Value::Bool(true)
        }
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "n" | "N" => {
            return Value::Bool(false)
        }
        _ => {}
    }
    let digits = text.strip_prefix('+').unwrap_or(text);
    let radix = |prefix: &str, radix: u32| {
        digits
            .strip_prefix(prefix)
            .and_then(|d| i64::from_str_radix(&d.replace('_', ""), radix).ok())
    };
    if let Some(n) = radix("0x", 16).or_else(|| radix("0o", 8)) {
        return Value::number(n);
    }
    // `.inf` stays text: the language has no infinite numbers.
    match crate::number::Number::parse(text) {
        Ok(n) => Value::Number(n),
        Err(_) => Value::string(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_know_their_lines_and_merge_keys_resolve() {
        let text = "x-base: &base\n  restart: always\n  image: a\nservices:\n  web:\n    <<: *base\n    image: b\n";
        let root = parse(text).expect("parses");
        let web = root
            .get("services")
            .and_then(|s| s.get("web"))
            .expect("web");
        assert_eq!(web.get("image").and_then(Node::text), Some("b"));
        assert_eq!(web.get("restart").and_then(Node::text), Some("always"));
        let image = web.get("image").expect("image");
        assert_eq!((image.line, image.column), (7, 12));
    }

    #[test]
    fn a_syntax_error_says_where() {
        let error = parse("services:\n  web: [a\n").expect_err("refused");
        assert!(error.line >= 2, "{error:?}");
    }
}
