//! Reading an evaluated configuration into a type's typed struct: every
//! accessor names the attribute path it reads, so a configuration that does
//! not match what the type expects is an error that says where, never a
//! silently missing value.

use crate::diagnostics::{Code, Diagnostic};
use crate::source::Span;
use imm_stdlib::Value;
use std::collections::BTreeMap;

/// A configuration that does not have the shape its type expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The attribute path, e.g. `health.interval` or `network[1].name`.
    pub path: String,
    pub message: String,
    /// The diagnostic code: a value of the wrong shape (`TypeMismatch`)
    /// unless the error says otherwise (a path outside the project).
    pub code: Code,
}

impl ConfigError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::coded(Code::TypeMismatch, path, message)
    }

    /// An error under its own diagnostic code.
    pub fn coded(code: Code, path: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            path: path.into(),
            message: message.into(),
            code,
        }
    }

    /// The error as a diagnostic at the resource that declared it.
    pub fn to_diagnostic(&self, address: &str, span: Span) -> Diagnostic {
        let help = match self.code {
            Code::TypeMismatch => "fix the attribute named in the message; `imm lsp` shows each attribute's type on hover",
            other => other.help(),
        };
        Diagnostic::at(
            self.code,
            span,
            format!("{address}: {}: {}", self.path, self.message),
        )
        .with_help(help)
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// An object of the configuration (the whole resource or one nested
/// block), with the path it sits at.
#[derive(Clone, Copy)]
pub struct Fields<'a> {
    map: &'a BTreeMap<String, Value>,
    prefix: &'a str,
}

/// The text a value stands for when a string is expected: strings as they
/// are, numbers and bools as written (sensitive marks removed: the value
/// goes to the outside world).
fn as_text(value: &Value) -> Option<String> {
    match value.unmarked() {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl<'a> Fields<'a> {
    pub fn root(map: &'a BTreeMap<String, Value>) -> Fields<'a> {
        Fields { map, prefix: "" }
    }

    pub(crate) fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    /// The value at `key`, absent when missing or null.
    pub fn value(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn string(&self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.value(key) {
            None => Ok(None),
            Some(v) => as_text(v)
                .map(Some)
                .ok_or_else(|| ConfigError::new(self.path(key), "expected a string")),
        }
    }

    /// A string that names or locates the object (a path, a name): it is
    /// recorded in state to find the object again, so it cannot be secret.
    pub fn plain_string(&self, key: &str) -> Result<Option<String>, ConfigError> {
        if self.value(key).is_some_and(Value::contains_sensitive) {
            return Err(ConfigError::new(
                self.path(key),
                "cannot hold a secret: it names the object, and state records it to find the object again",
            ));
        }
        self.string(key)
    }

    pub fn required_plain_string(&self, key: &str) -> Result<String, ConfigError> {
        self.plain_string(key)?
            .ok_or_else(|| ConfigError::new(self.path(key), "is required"))
    }

    pub fn required_string(&self, key: &str) -> Result<String, ConfigError> {
        self.string(key)?
            .ok_or_else(|| ConfigError::new(self.path(key), "is required"))
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.value(key).map(Value::unmarked) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ConfigError::new(self.path(key), "expected true or false")),
        }
    }

    /// A number as the outside world takes it (ports, counts, ratios): a
    /// 64-bit float.
    pub fn number(&self, key: &str) -> Result<Option<f64>, ConfigError> {
        match self.value(key).map(Value::unmarked) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(Some(n.to_f64())),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| ConfigError::new(self.path(key), "expected a number")),
            Some(_) => Err(ConfigError::new(self.path(key), "expected a number")),
        }
    }

    /// A list of strings (a command, aliases, ports).
    pub fn strings(&self, key: &str) -> Result<Vec<String>, ConfigError> {
        match self.value(key).map(Value::unmarked) {
            None => Ok(Vec::new()),
            Some(Value::List(items)) | Some(Value::Set(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    as_text(item).ok_or_else(|| {
                        ConfigError::new(format!("{}[{i}]", self.path(key)), "expected a string")
                    })
                })
                .collect(),
            Some(_) => Err(ConfigError::new(
                self.path(key),
                "expected a list of strings",
            )),
        }
    }

    /// A map of strings, in key order (environment variables, files).
    pub fn string_map(&self, key: &str) -> Result<Vec<(String, String)>, ConfigError> {
        Ok(self
            .string_map_marked(key)?
            .into_iter()
            .map(|(k, v, _)| (k, v))
            .collect())
    }

    /// A map of strings, each with whether it is sensitive.
    pub fn string_map_marked(&self, key: &str) -> Result<Vec<(String, String, bool)>, ConfigError> {
        match self.value(key).map(Value::unmarked) {
            None => Ok(Vec::new()),
            Some(Value::Map(map)) => map
                .iter()
                .map(|(k, v)| {
                    let text = as_text(v).ok_or_else(|| {
                        ConfigError::new(format!("{}.{k}", self.path(key)), "expected a string")
                    })?;
                    Ok((k.clone(), text, v.contains_sensitive()))
                })
                .collect(),
            Some(_) => Err(ConfigError::new(
                self.path(key),
                "expected a map of strings",
            )),
        }
    }

    /// A single nested block, absent when not written.
    pub fn block(&self, key: &'a str) -> Result<Option<Fields<'a>>, ConfigError> {
        match self.value(key).map(Value::unmarked) {
            None => Ok(None),
            Some(Value::Map(map)) => Ok(Some(Fields { map, prefix: key })),
            Some(_) => Err(ConfigError::new(self.path(key), "expected a block")),
        }
    }

    /// A single nested block, or an empty one when it is not written (its
    /// attributes then all take their defaults).
    pub fn block_or_empty(&self, key: &'a str) -> Result<Fields<'a>, ConfigError> {
        static EMPTY: BTreeMap<String, Value> = BTreeMap::new();
        Ok(self.block(key)?.unwrap_or(Fields {
            map: &EMPTY,
            prefix: key,
        }))
    }

    /// One of a fixed set of words, as the value it stands for; `None` when
    /// absent. Any other word is an error that lists them.
    pub fn choice<T: Copy>(
        &self,
        key: &str,
        choices: &[(&str, T)],
    ) -> Result<Option<T>, ConfigError> {
        let Some(word) = self.plain_string(key)? else {
            return Ok(None);
        };
        let chosen = choices.iter().find(|(name, _)| *name == word);
        chosen.map(|(_, value)| Some(*value)).ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
            ConfigError::new(
                self.path(key),
                format!("\"{word}\" is not one of {}", names.join(", ")),
            )
        })
    }

    /// A repeatable nested block, in the order written. The path of each
    /// block's attributes is reported without its index (`network.name`).
    pub fn blocks(&self, key: &'a str) -> Result<Vec<Fields<'a>>, ConfigError> {
        match self.value(key).map(Value::unmarked) {
            None => Ok(Vec::new()),
            Some(Value::List(items)) => items
                .iter()
                .map(|item| match item.unmarked() {
                    Value::Map(map) => Ok(Fields { map, prefix: key }),
                    _ => Err(ConfigError::new(self.path(key), "expected blocks")),
                })
                .collect(),
            Some(Value::Map(map)) => Ok(vec![Fields { map, prefix: key }]),
            Some(_) => Err(ConfigError::new(self.path(key), "expected blocks")),
        }
    }
}

/// `"1s"`, `"500ms"`, `"2m"`, `"1h"` (or bare seconds) as nanoseconds, as
/// Compose and Docker write durations.
pub fn duration_ns(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("\"{text}\" is not a duration like \"1s\" or \"500ms\""))?;
    let scale = match unit {
        "" | "s" => 1e9,
        "ms" => 1e6,
        "us" => 1e3,
        "ns" => 1.0,
        "m" => 60e9,
        "h" => 3600e9,
        _ => {
            return Err(format!(
                "\"{text}\": unknown unit \"{unit}\" (use ms, s, m or h)"
            ))
        }
    };
    Ok((value * scale) as i64)
}

/// A duration attribute in nanoseconds, or `default` when absent.
pub fn duration_field(fields: &Fields<'_>, key: &str, default: &str) -> Result<i64, ConfigError> {
    let text = fields.string(key)?.unwrap_or_else(|| default.to_string());
    duration_ns(&text).map_err(|message| ConfigError::new(fields.path(key), message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_compose_writes_them() {
        assert_eq!(duration_ns("1s"), Ok(1_000_000_000));
        assert_eq!(duration_ns("500ms"), Ok(500_000_000));
        assert_eq!(duration_ns("2m"), Ok(120_000_000_000));
        assert!(duration_ns("soon").is_err());
    }

    #[test]
    fn a_choice_is_one_of_its_words_and_an_absent_block_takes_defaults() {
        let update = BTreeMap::from([("order".to_string(), Value::string("sideways"))]);
        let map = BTreeMap::from([("update".to_string(), Value::Map(update))]);
        let root = Fields::root(&map);
        let orders = [("start-first", true), ("stop-first", false)];
        let update = root.block_or_empty("update").expect("a block");
        let err = update.choice("order", &orders).expect_err("not a word");
        assert_eq!(err.path, "update.order");
        assert_eq!(
            err.message,
            "\"sideways\" is not one of start-first, stop-first"
        );
        let restart = root.block_or_empty("restart").expect("absent is empty");
        assert_eq!(restart.choice("order", &orders), Ok(None));
    }

    #[test]
    fn a_wrong_shape_names_its_path() {
        let mut inner = BTreeMap::new();
        inner.insert("interval".to_string(), Value::List(vec![]));
        let mut map = BTreeMap::new();
        map.insert("health".to_string(), Value::Map(inner));
        let root = Fields::root(&map);
        let health = root.block("health").expect("block").expect("present");
        let err = health.string("interval").expect_err("not a string");
        assert_eq!(err.path, "health.interval");
    }
}
