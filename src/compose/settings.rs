//! The Compose keys that are container settings in imm (`user`,
//! `mem_limit`, `cap_drop`, `logging`, `deploy.resources`, …): imm names
//! them as Compose does, so each becomes the attribute of the same name in
//! the form imm takes it.

use super::{list, literal, string_map, Translator};
use imm_stdlib::yaml::Node;
use std::fmt::Write as _;

/// Keys whose value is one string.
const TEXT: &[&str] = &[
    "user",
    "working_dir",
    "hostname",
    "stop_signal",
    "mem_limit",
    "mem_reservation",
];

/// Keys whose value is a list of strings (one string is a list of one).
const LISTS: &[&str] = &[
    "cap_add",
    "cap_drop",
    "security_opt",
    "dns",
    "tmpfs",
    "expose",
];

/// Keys whose value is a map of strings (or Compose's list of `k=v`).
const MAPS: &[&str] = &["labels", "sysctls"];

impl Translator<'_> {
    /// The `.imm` line (or block) of a Compose key that is a setting;
    /// `None` for any other key, or a value of a shape imm does not take.
    pub(super) fn setting(&mut self, key: &str, value: &Node) -> Option<String> {
        let line = |v: String| Some(format!("{key} = {v}\n"));
        if TEXT.contains(&key) {
            return line(literal(value.text()?));
        }
        if LISTS.contains(&key) {
            return line(list(&strings(value)));
        }
        if MAPS.contains(&key) || (key == "extra_hosts" && !value.entries().is_empty()) {
            let pairs = self.pairs(value);
            return line(string_map(&pairs));
        }
        match key {
            "extra_hosts" => line(list(&strings(value))),
            "entrypoint" => {
                let words = self.command(value);
                line(list(&words))
            }
            "cpus" => line(number(value)?),
            "read_only" => line(
                value
                    .text()
                    .filter(|t| ["true", "false"].contains(t))?
                    .into(),
            ),
            "ulimits" => line(ulimits(value)),
            "logging" => Some(logging(value)),
            _ => None,
        }
    }

    /// `deploy.resources`: limits and reservations of memory and CPUs as
    /// `mem_limit`, `cpus` and `mem_reservation`; anything else is noted.
    pub(super) fn resources(&mut self, service: &str, value: &Node) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for (kind, limits) in value.entries() {
            for (key, v) in limits.entries() {
                let setting = match (kind.text(), key.text()) {
                    (Some("limits"), Some("memory")) => "mem_limit",
                    (Some("limits"), Some("cpus")) => "cpus",
                    (Some("reservations"), Some("memory")) => "mem_reservation",
                    (kind_name, key_name) => {
                        let what = format!(
                            "{}.{}",
                            kind_name.unwrap_or_default(),
                            key_name.unwrap_or_default()
                        );
                        self.note(key, format!("service `{service}`: deploy.resources `{what}` is not translated: imm has no equivalent"));
                        continue;
                    }
                };
                match self.setting(setting, v) {
                    Some(text) => out.push((setting, text)),
                    None => self.note(
                        v,
                        format!(
                            "service `{service}`: deploy.resources value is not a size or number"
                        ),
                    ),
                }
            }
        }
        out
    }
}

pub(super) fn strings(value: &Node) -> Vec<String> {
    match value.text() {
        Some(one) => vec![one.to_string()],
        None => value
            .items()
            .iter()
            .filter_map(|i| i.text().map(str::to_string))
            .collect(),
    }
}

/// A number as written, when it is one.
fn number(value: &Node) -> Option<String> {
    let text = value.text()?;
    text.parse::<f64>().ok().map(|_| text.to_string())
}

/// `nofile: { soft: 1024, hard: 4096 }` and `nproc: 512` as an object.
fn ulimits(value: &Node) -> String {
    let mut out = String::from("{\n");
    for (name, limit) in value.entries() {
        let Some(name) = name.text() else { continue };
        let pair = |k: &str| limit.get(k).and_then(number);
        let written = match (number(limit), pair("soft"), pair("hard")) {
            (Some(both), _, _) => both,
            (None, Some(soft), Some(hard)) => format!("{{ soft = {soft}, hard = {hard} }}"),
            _ => continue,
        };
        let _ = writeln!(out, "{} = {written}", super::map_key(name));
    }
    out.push('}');
    out
}

fn logging(value: &Node) -> String {
    let mut out = String::from("logging {\n");
    if let Some(driver) = value.get("driver").and_then(Node::text) {
        let _ = writeln!(out, "driver = {}", literal(driver));
    }
    if let Some(options) = value.get("options") {
        let pairs: Vec<(String, String)> = options
            .entries()
            .iter()
            .filter_map(|(k, v)| Some((k.text()?.to_string(), v.text()?.to_string())))
            .collect();
        let _ = writeln!(out, "options = {}", string_map(&pairs));
    }
    out.push_str("}\n");
    out
}
