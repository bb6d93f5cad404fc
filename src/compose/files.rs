//! What a Compose service reads from files and where imm puts it:
//! top-level `secrets` become `secret` blocks, a service's secrets files
//! under `/run/secrets/NAME` (Compose's place); file `configs` and bind
//! mounts of the project's files become `bind` blocks (a project path,
//! its content tracked, or `host_path`); an anonymous volume becomes a
//! volume of its own.

use super::{identifier, literal, Translator};
use imm_stdlib::yaml::Node;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Where a top-level `configs` entry's content comes from.
#[derive(Debug, Clone)]
pub(super) enum ConfigSource {
    /// `file: ./nginx.conf`.
    File(String),
    /// `content: |` written inline.
    Content(String),
}

/// A `bind` block of the translation.
#[derive(Debug, Clone)]
pub(super) struct BindText {
    /// `source = "./conf"` (a project path) or `host_path = "/var/run"`.
    pub key: &'static str,
    pub path: String,
    pub target: String,
    pub read_only: bool,
}

impl BindText {
    pub(super) fn render(&self) -> String {
        let mut out = format!(
            "bind {{\n{} = {}\ntarget = {}\n",
            self.key,
            literal(&self.path),
            literal(&self.target)
        );
        // imm binds read-only unless told; Compose binds read-write.
        if !self.read_only {
            out.push_str("read_only = false\n");
        }
        out.push_str("}\n");
        out
    }
}

/// What a service's `volumes`, `secrets` and `configs` translate into.
#[derive(Debug, Default)]
pub(super) struct ServiceFiles {
    pub binds: Vec<BindText>,
    /// `runtime.files` entries: path in the container → imm expression.
    pub files: Vec<(String, String)>,
    /// Named volumes mounted: (volume identifier, target, read-only).
    pub mounts: Vec<(String, String, bool)>,
    /// Volumes made for anonymous ones: their `resource` blocks.
    pub volumes: String,
    /// Long-syntax `type: tmpfs` mounts: their targets.
    pub tmpfs: Vec<String>,
}

/// One entry of a service's `volumes`, in either syntax.
struct VolumeEntry {
    kind: String,
    source: String,
    target: String,
    read_only: bool,
    /// Options imm has no equivalent of (`z`, `Z`, SELinux relabelling;
    /// propagation).
    unsupported: Vec<String>,
}

fn volume_entry(item: &Node) -> VolumeEntry {
    if let Some(short) = item.text() {
        let parts = split_outside_variables(short);
        let (source, target, modes) = match parts.as_slice() {
            [target] => ("", *target, ""),
            [source, target] => (*source, *target, ""),
            [source, target, modes, ..] => (*source, *target, *modes),
            [] => ("", "", ""),
        };
        let modes: Vec<&str> = modes.split(',').filter(|m| !m.is_empty()).collect();
        let kind = if source.is_empty() {
            "volume"
        } else if is_path(source) {
            "bind"
        } else {
            "volume"
        };
        return VolumeEntry {
            kind: kind.to_string(),
            source: source.to_string(),
            target: target.to_string(),
            read_only: modes.contains(&"ro"),
            // `rw`, `nocopy` are defaults here; `cached`/`delegated` only
            // matter on Docker Desktop's file sharing.
            unsupported: modes
                .iter()
                .filter(|m| ["z", "Z"].contains(m) || m.contains("shared") || m.contains("slave"))
                .map(|m| m.to_string())
                .collect(),
        };
    }
    let text = |key: &str| {
        item.get(key)
            .and_then(Node::text)
            .unwrap_or_default()
            .to_string()
    };
    let source = text("source");
    let kind = match text("type").as_str() {
        "" if is_path(&source) => "bind".to_string(),
        "" => "volume".to_string(),
        other => other.to_string(),
    };
    let propagation = item
        .get("bind")
        .and_then(|b| b.get("propagation"))
        .and_then(Node::text);
    let selinux = item
        .get("bind")
        .and_then(|b| b.get("selinux"))
        .and_then(Node::text);
    VolumeEntry {
        kind,
        source,
        target: text("target"),
        read_only: text("read_only") == "true",
        unsupported: propagation
            .into_iter()
            .chain(selinux)
            .map(str::to_string)
            .collect(),
    }
}

/// `source:target:mode` split at the colons outside `${…}` (a default
/// such as `${DATA:-./data}` has one of its own).
fn split_outside_variables(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'{' if i > 0 && bytes[i - 1] == b'$' => depth += 1,
            b'}' if depth > 0 => depth -= 1,
            b':' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// Whether a bind's source is a path of the project: relative, or a
/// variable whose default is (`${DATA_DIR:-./data}`).
fn is_project_path(source: &str) -> bool {
    if source.starts_with('.') {
        return true;
    }
    let Some(inner) = source.strip_prefix("${") else {
        return false;
    };
    let default = inner.split_once(":-").or_else(|| inner.split_once('-'));
    default.is_some_and(|(name, default)| !name.contains('}') && default.starts_with('.'))
}

/// A short-syntax source that is a path, not a volume's name.
fn is_path(source: &str) -> bool {
    source.starts_with('.')
        || source.starts_with('/')
        || source.starts_with('~')
        || source.starts_with('$')
}

/// A relative path as imm writes a project path: starting with `./`.
fn dotted(path: &str) -> String {
    if path.starts_with("./") || path.starts_with("../") {
        path.to_string()
    } else {
        format!("./{}", path.trim_start_matches("./"))
    }
}

/// Whether a relative path stays inside the Compose file's directory.
fn inside(path: &str) -> bool {
    let mut depth = 0i32;
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => depth -= 1,
            _ => depth += 1,
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

impl Translator<'_> {
    /// Top-level `secrets`: a `secret` block each, read from its file or
    /// from the environment as Compose does.
    pub(super) fn secrets(&mut self, section: &Node) -> String {
        let mut out = String::new();
        for (name, secret) in section.entries() {
            let Some(compose_name) = name.text() else {
                continue;
            };
            let id = identifier(compose_name);
            let from = if let Some(file) = secret.get("file").and_then(Node::text) {
                format!("file:{file}")
            } else if let Some(var) = secret.get("environment").and_then(Node::text) {
                format!("env:{var}")
            } else {
                let message = format!("secret `{compose_name}`: only `file` and `environment` secrets are translated (an `external` one lives in a swarm imm does not read)");
                self.note(name, message);
                // Its uses are not noted again.
                self.secret_names
                    .insert(compose_name.to_string(), String::new());
                continue;
            };
            let _ = writeln!(out, "secret \"{id}\" {{\n  from = {}\n}}\n", literal(&from));
            self.secret_names.insert(compose_name.to_string(), id);
        }
        out
    }

    /// Top-level `configs`, remembered for the services that use them:
    /// nothing is written for them by themselves.
    pub(super) fn configs(&mut self, section: &Node) {
        for (name, config) in section.entries() {
            let Some(compose_name) = name.text() else {
                continue;
            };
            let source = if let Some(file) = config.get("file").and_then(Node::text) {
                ConfigSource::File(file.to_string())
            } else if let Some(content) = config.get("content").and_then(Node::text) {
                ConfigSource::Content(content.to_string())
            } else {
                let message = format!("config `{compose_name}`: only `file` and `content` configs are translated (an `external` one lives in a swarm imm does not read)");
                self.note(name, message);
                self.untranslated_configs.insert(compose_name.to_string());
                continue;
            };
            self.config_sources.insert(compose_name.to_string(), source);
        }
    }

    /// A service's `secrets`: each secret as a file under
    /// `/run/secrets/NAME` (or its `target`), written into the container
    /// from the `secret` block (never in state).
    pub(super) fn service_secrets(
        &mut self,
        service: &str,
        value: &Node,
        files: &mut ServiceFiles,
    ) {
        for item in value.items() {
            let (name, target) = match item.text() {
                Some(name) => (name.to_string(), name.to_string()),
                None => {
                    let source = item.get("source").and_then(Node::text).unwrap_or_default();
                    let target = item.get("target").and_then(Node::text).unwrap_or(source);
                    for key in ["uid", "gid", "mode"] {
                        if let Some((k, _)) =
                            item.entries().iter().find(|(k, _)| k.text() == Some(key))
                        {
                            let message = format!("service `{service}`: secret `{source}`: `{key}` is not translated (imm writes the file as root, mode 0644)");
                            self.note(k, message);
                        }
                    }
                    (source.to_string(), target.to_string())
                }
            };
            let Some(id) = self.secret_names.get(&name).cloned() else {
                let message =
                    format!("service `{service}`: secret `{name}` is not declared under secrets:");
                self.note(item, message);
                continue;
            };
            if id.is_empty() {
                continue; // noted where it is declared
            }
            let path = if target.starts_with('/') {
                target
            } else {
                format!("/run/secrets/{target}")
            };
            files.files.push((path, format!("secret.{id}")));
        }
    }

    /// A service's `configs`: a file config as a read-only bind of the
    /// project's file (Compose mounts it so), inline content as a file.
    pub(super) fn service_configs(
        &mut self,
        service: &str,
        value: &Node,
        files: &mut ServiceFiles,
    ) {
        for item in value.items() {
            let (name, target) = match item.text() {
                Some(name) => (name.to_string(), format!("/{name}")),
                None => {
                    let source = item.get("source").and_then(Node::text).unwrap_or_default();
                    let target = item
                        .get("target")
                        .and_then(Node::text)
                        .map_or_else(|| format!("/{source}"), str::to_string);
                    for key in ["uid", "gid", "mode"] {
                        if let Some((k, _)) =
                            item.entries().iter().find(|(k, _)| k.text() == Some(key))
                        {
                            let message = format!("service `{service}`: config `{source}`: `{key}` is not translated (the project file's own owner and mode apply)");
                            self.note(k, message);
                        }
                    }
                    (source.to_string(), target)
                }
            };
            match self.config_sources.get(&name).cloned() {
                Some(ConfigSource::File(path)) => {
                    self.bind_path(service, item, &path, &target, true, files);
                }
                Some(ConfigSource::Content(text)) => files.files.push((target, literal(&text))),
                None if self.untranslated_configs.contains(&name) => {}
                None => {
                    let message = format!(
                        "service `{service}`: config `{name}` is not declared under configs:"
                    );
                    self.note(item, message);
                }
            }
        }
    }

    /// A service's `volumes`: named volumes mounted, paths bound,
    /// anonymous volumes made volumes of their own.
    pub(super) fn service_volumes(
        &mut self,
        service: &str,
        value: &Node,
        volumes: &BTreeMap<String, String>,
        files: &mut ServiceFiles,
    ) {
        for item in value.items() {
            let entry = volume_entry(item);
            for option in &entry.unsupported {
                let message = format!("service `{service}`: mount option `{option}` of `{}` is not translated (no SELinux relabelling or mount propagation in imm)", entry.target);
                self.note(item, message);
            }
            match entry.kind.as_str() {
                "bind" => self.bind_path(
                    service,
                    item,
                    &entry.source,
                    &entry.target,
                    entry.read_only,
                    files,
                ),
                "volume" if entry.source.is_empty() => {
                    let id = identifier(&format!("{service}{}", entry.target.replace('/', "_")));
                    let _ = writeln!(
                        files.volumes,
                        "resource \"docker_volume\" \"{id}\" {{\n  name = {}\n}}\n",
                        literal(&id)
                    );
                    files.mounts.push((id, entry.target, entry.read_only));
                }
                "volume" => match volumes.get(&entry.source) {
                    Some(id) => files
                        .mounts
                        .push((id.clone(), entry.target, entry.read_only)),
                    None => {
                        let message = format!(
                            "service `{service}`: volume `{}` is not declared under volumes:",
                            entry.source
                        );
                        self.note(item, message);
                    }
                },
                "tmpfs" => files.tmpfs.push(entry.target),
                other => {
                    let message = format!("service `{service}`: a mount of type `{other}` at `{}` is not translated: imm mounts volumes, binds and tmpfs", entry.target);
                    self.note(item, message);
                }
            }
        }
    }

    /// A path bound into the container: inside the Compose file's
    /// directory, a project path (its content tracked); elsewhere, a
    /// host path.
    fn bind_path(
        &mut self,
        service: &str,
        at: &Node,
        path: &str,
        target: &str,
        read_only: bool,
        files: &mut ServiceFiles,
    ) {
        let bind = |key, path: String| BindText {
            key,
            path,
            target: target.to_string(),
            read_only,
        };
        if !is_project_path(path) && (path.starts_with('/') || path.starts_with('$')) {
            files.binds.push(bind("host_path", path.to_string()));
            return;
        }
        if path.starts_with('~') {
            let message = format!("service `{service}`: `{path}` is in the home directory of whoever runs Compose, which imm does not guess: write the absolute path as a bind's host_path");
            self.note(at, message);
            return;
        }
        if !path.contains('$') && !inside(path) {
            match absolute(self.dir, path) {
                Some(host) => files.binds.push(bind("host_path", host)),
                None => {
                    let message = format!("service `{service}`: `{path}` is outside the Compose file's directory and does not exist here; bind it with host_path");
                    self.note(at, message);
                }
            }
            return;
        }
        if !path.contains('$') && !self.dir.join(path).exists() {
            let message = format!("service `{service}`: `{path}` does not exist; Compose would create an empty directory, imm needs it to exist (create it)");
            self.note(at, message);
        }
        let path = if path.contains('$') {
            path.to_string()
        } else {
            dotted(path)
        };
        files.binds.push(bind("source", path));
    }
}

/// A path outside the project as the absolute path it is on this machine.
fn absolute(dir: &Path, path: &str) -> Option<String> {
    dir.join(path)
        .canonicalize()
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}
