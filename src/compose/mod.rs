//! `imm import compose`: a Compose file (v2/v3 format) translated into one
//! `.imm` file: a `docker_image` per built service, a `docker_container`
//! per service (`count` from `deploy.replicas`), a `docker_network` per
//! network and a `docker_volume` per named volume. What has no equivalent
//! is never dropped silently: each such key is a [`Note`] with its line.
//! Compose's variable substitution keeps its meaning (`interpolate`): each
//! variable becomes an imm `variable`, its default taken from the `.env`
//! file beside the Compose file.

mod files;
mod interpolate;
mod settings;

use imm_stdlib::yaml::{self, Kind, Node};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

pub use imm_stdlib::yaml::YamlError;

/// Something of the Compose file the translation left out or changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// The `.imm` text and what it could not carry over.
#[derive(Debug)]
pub struct Translation {
    pub imm: String,
    pub notes: Vec<Note>,
}

/// Translates the Compose file `text`; `dir` is its directory (for
/// `env_file`).
pub fn translate(text: &str, dir: &Path) -> Result<Translation, YamlError> {
    let root = yaml::parse(text)?;
    let notes = Vec::new();
    let mut t = Translator {
        dir,
        notes,
        out: String::new(),
        uses_default_network: false,
        passed_through: Vec::new(),
        secret_names: BTreeMap::new(),
        config_sources: BTreeMap::new(),
        untranslated_configs: Default::default(),
    };
    t.top_level(&root);
    let secrets = root
        .get("secrets")
        .map(|s| t.secrets(s))
        .unwrap_or_default();
    if let Some(configs) = root.get("configs") {
        t.configs(configs);
    }
    let services = root.get("services");
    let networks = declared(root.get("networks"));
    let volumes = declared(root.get("volumes"));
    let mut body = String::new();
    for (name, service) in services.map(Node::entries).unwrap_or_default() {
        let Some(name) = name.text() else { continue };
        body.push_str(&t.service(name, service, &networks, &volumes));
    }
    let mut head = secrets;
    if let Some(networks) = root.get("networks") {
        for (name, network) in networks.entries() {
            head.push_str(&t.network(name, network));
        }
    }
    if t.uses_default_network && !networks.contains_key("default") {
        head.push_str("resource \"docker_network\" \"default\" {\n  name = \"default\"\n}\n\n");
    }
    if let Some(volumes) = root.get("volumes") {
        for (name, volume) in volumes.entries() {
            head.push_str(&t.volume(name, volume));
        }
    }
    let variables = variable_blocks(&root, dir, std::mem::take(&mut t.passed_through));
    t.out.push_str(&variables);
    t.out.push_str(&head);
    t.out.push_str(&body);
    // One newline at the end: the formatter keeps blank lines as written.
    let text = format!("{}\n", t.out.trim_end());
    let imm = imm_lang::fmt::format_source(&text).unwrap_or(text);
    Ok(Translation {
        imm,
        notes: t.notes,
    })
}

/// The names a top-level `networks:`/`volumes:` declares, by Compose name.
fn declared(section: Option<&Node>) -> BTreeMap<String, String> {
    section
        .map(Node::entries)
        .unwrap_or_default()
        .iter()
        .filter_map(|(k, _)| k.text())
        .map(|k| (k.to_string(), identifier(k)))
        .collect()
}

/// A Compose name as an `.imm` identifier (letters, digits, `_`, `-`).
fn identifier(name: &str) -> String {
    let mut id: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if id.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        id.insert(0, '_');
    }
    id
}

/// The imm string of a Compose value: `$$` is one `$`, each variable an
/// interpolation of its imm variable, and nothing else interpolates.
fn literal(text: &str) -> String {
    interpolate::imm_string(&interpolate::pieces(text))
}

/// A value read from outside the Compose file (an `env_file`): Compose
/// does not substitute in it, so each `$` is doubled to stay a `$`.
fn verbatim(text: &str) -> String {
    text.replace('$', "$$")
}

/// One `variable` block for every variable the file's values read: its
/// default the `.env` file's value beside the Compose file, else empty
/// (Compose's value for an unset variable); none for a variable only
/// read as required (`${VAR:?…}`) and absent from `.env`, so imm asks
/// for it as Compose does.
fn variable_blocks(root: &Node, dir: &Path, mut found: Vec<(String, bool)>) -> String {
    scalar_values(root, &mut |text| {
        interpolate::variables(&interpolate::pieces(text), &mut found)
    });
    if found.is_empty() {
        return String::new();
    }
    let dotenv: BTreeMap<String, String> = std::fs::read_to_string(dir.join(".env"))
        .map(|text| interpolate::dotenv(&text).into_iter().collect())
        .unwrap_or_default();
    let mut required: BTreeMap<String, bool> = BTreeMap::new();
    for (name, is_required) in found {
        *required.entry(name).or_insert(true) &= is_required;
    }
    let mut out = String::new();
    for (name, only_required) in required {
        let _ = writeln!(out, "variable \"{name}\" {{\n  type = string");
        match dotenv.get(&name) {
            Some(value) => {
                let _ = writeln!(out, "  default = {}", literal(&verbatim(value)));
            }
            None if !only_required => out.push_str("  default = \"\"\n"),
            None => {}
        }
        out.push_str("}\n\n");
    }
    out
}

/// Every scalar value of the file (mapping keys are names, not values).
fn scalar_values(node: &Node, visit: &mut dyn FnMut(&str)) {
    match &node.kind {
        Kind::Scalar { text, .. } => visit(text),
        Kind::Sequence(items) => items.iter().for_each(|i| scalar_values(i, visit)),
        Kind::Mapping(entries) => entries.iter().for_each(|(_, v)| scalar_values(v, visit)),
    }
}

/// A map key: bare when it is an identifier, quoted otherwise.
fn map_key(key: &str) -> String {
    let bare = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        key.to_string()
    } else {
        literal(key)
    }
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| literal(i)).collect();
    format!("[{}]", quoted.join(", "))
}

fn string_map(entries: &[(String, String)]) -> String {
    let mut out = String::from("{\n");
    for (k, v) in entries {
        let _ = writeln!(out, "{} = {}", map_key(k), literal(v));
    }
    out.push('}');
    out
}

struct Translator<'a> {
    dir: &'a Path,
    notes: Vec<Note>,
    out: String,
    uses_default_network: bool,
    /// Variables Compose passes through from its environment (`KEY`
    /// without a value), beside those the values interpolate.
    passed_through: Vec<(String, bool)>,
    /// Top-level secrets translated, by Compose name: their identifiers.
    secret_names: BTreeMap<String, String>,
    /// Top-level configs, by Compose name.
    config_sources: BTreeMap<String, files::ConfigSource>,
    /// Top-level configs noted as not translated (their uses are not
    /// noted again).
    untranslated_configs: std::collections::BTreeSet<String>,
}

impl Translator<'_> {
    fn note(&mut self, at: &Node, message: impl Into<String>) {
        self.notes.push(Note {
            line: at.line,
            column: at.column,
            message: message.into(),
        });
    }

    fn top_level(&mut self, root: &Node) {
        for (key, _) in root.entries() {
            match key.text().unwrap_or_default() {
                "version" | "name" | "services" | "networks" | "volumes" | "secrets"
                | "configs" => {}
                extension if extension.starts_with("x-") => {}
                other => {
                    let message = format!("top-level `{other}` is not translated: imm has no equivalent (secrets are `secret` blocks, run-time files `runtime.files`)");
                    self.note(key, message);
                }
            }
        }
    }

    fn network(&mut self, name: &Node, network: &Node) -> String {
        let Some(compose_name) = name.text() else {
            return String::new();
        };
        let mut out = format!(
            "resource \"docker_network\" \"{}\" {{\n  name = {}\n",
            identifier(compose_name),
            literal(compose_name)
        );
        for (key, value) in network.entries() {
            match key.text().unwrap_or_default() {
                "internal" if value.text() == Some("true") => out.push_str("  internal = true\n"),
                "internal" => {}
                "driver" if value.text() == Some("bridge") => {}
                other => {
                    let message = format!("network `{compose_name}`: `{other}` is not translated (imm creates bridge networks of its own)");
                    self.note(key, message);
                }
            }
        }
        out.push_str("}\n\n");
        out
    }

    fn volume(&mut self, name: &Node, volume: &Node) -> String {
        let Some(compose_name) = name.text() else {
            return String::new();
        };
        for (key, _) in volume.entries() {
            let message = format!(
                "volume `{compose_name}`: `{}` is not translated (imm creates local volumes)",
                key.text().unwrap_or_default()
            );
            self.note(key, message);
        }
        format!(
            "resource \"docker_volume\" \"{}\" {{\n  name = {}\n}}\n\n",
            identifier(compose_name),
            literal(compose_name)
        )
    }

    fn service(
        &mut self,
        name: &str,
        service: &Node,
        networks: &BTreeMap<String, String>,
        volumes: &BTreeMap<String, String>,
    ) -> String {
        let id = identifier(name);
        let mut out = String::new();
        let mut container = ContainerText::default();
        // `env_file` first: `environment` overrides it, as in Compose.
        let mut from_files: Vec<(String, String)> = Vec::new();
        let mut env: Vec<(String, String)> = Vec::new();
        for (key, value) in service.entries() {
            let key_text = key.text().unwrap_or_default();
            match key_text {
                "build" => out.push_str(&self.build(name, &id, value)),
                "image" if service.get("build").is_none() => {
                    container.image = value.text().map(literal);
                }
                "image" => {}
                "container_name" => container.name = value.text().map(str::to_string),
                "command" => container.command = self.command(value),
                "environment" => env.extend(self.environment(value)),
                "env_file" => from_files = self.env_files(value),
                "networks" => {}
                "volumes" => self.service_volumes(name, value, volumes, &mut container.files),
                "secrets" => self.service_secrets(name, value, &mut container.files),
                "configs" => self.service_configs(name, value, &mut container.files),
                "healthcheck" => container.health = self.health(value),
                "depends_on" => container.depends_on = self.depends_on(value),
                "ports" => container.ports = self.ports(value),
                "restart" => container.restart = self.restart(value),
                "deploy" => {
                    container.count = self.deploy(name, value, &mut container.settings);
                }
                "init" => container.init = value.text().map(|t| t == "true"),
                "network_mode" if value.text() == Some("host") => container.host_network = true,
                "stop_grace_period" => container.stop_timeout = value.text().map(str::to_string),
                other => match self.setting(other, value) {
                    Some(text) => container.settings.push((other.to_string(), text)),
                    None => {
                        let message = format!(
                            "service `{name}`: `{other}` is not translated: imm has no equivalent"
                        );
                        self.note(key, message);
                    }
                },
            }
        }
        if service.get("build").is_some() {
            container.image = Some(format!("docker_image.{id}.id"));
        }
        if container.image.is_none() {
            self.note(
                service,
                format!("service `{name}` has neither build nor image"),
            );
        }
        if let Some(tmpfs) = service
            .get("tmpfs")
            .filter(|_| !container.files.tmpfs.is_empty())
        {
            // `tmpfs:` and `type: tmpfs` mounts: one list.
            let mut all = settings::strings(tmpfs);
            all.append(&mut container.files.tmpfs);
            container.settings.retain(|(k, _)| k != "tmpfs");
            container
                .settings
                .push(("tmpfs".into(), format!("tmpfs = {}\n", list(&all))));
        }
        if container.host_network {
            if let Some(ports) = service.get("ports").filter(|_| !container.ports.is_empty()) {
                self.note(ports, format!("service `{name}`: ports are not published on the host's network (Compose ignores them too): the container listens on the host directly"));
                container.ports.clear();
            }
        } else {
            container.networks = self.service_networks(name, service.get("networks"), networks);
        }
        from_files.extend(env);
        container.env = from_files;
        out.push_str(&container.files.volumes);
        out.push_str(&container.render(&id, name));
        out
    }

    fn build(&mut self, name: &str, id: &str, build: &Node) -> String {
        let mut out = format!(
            "resource \"docker_image\" \"{id}\" {{\n  name = {}\n  build {{\n",
            literal(name)
        );
        if let Some(context) = build.text() {
            let _ = writeln!(out, "    context = {}", literal(&relative(context)));
        }
        for (key, value) in build.entries() {
            match key.text().unwrap_or_default() {
                "context" => {
                    let context = relative(value.text().unwrap_or("."));
                    let _ = writeln!(out, "    context = {}", literal(&context));
                }
                "dockerfile" => {
                    let _ = writeln!(
                        out,
                        "    dockerfile = {}",
                        literal(value.text().unwrap_or("Dockerfile"))
                    );
                }
                "target" => {
                    let _ = writeln!(
                        out,
                        "    target = {}",
                        literal(value.text().unwrap_or_default())
                    );
                }
                "args" => {
                    let args = self.pairs(value);
                    let _ = writeln!(out, "    args = {}", string_map(&args));
                }
                other => {
                    let message = format!("service `{name}`: build `{other}` is not translated");
                    self.note(key, message);
                }
            }
        }
        out.push_str("  }\n}\n\n");
        out
    }

    /// A Compose command: a list as it is, a string split as a shell would.
    fn command(&mut self, value: &Node) -> Vec<String> {
        if let Some(text) = value.text() {
            return match shell_words::split(text) {
                Ok(words) => words,
                Err(e) => {
                    self.note(
                        value,
                        format!("command cannot be split into words ({e}); it runs under sh -c"),
                    );
                    vec!["sh".into(), "-c".into(), text.into()]
                }
            };
        }
        value
            .items()
            .iter()
            .filter_map(|i| i.text().map(str::to_string))
            .collect()
    }

    /// `KEY` without a value, which Compose takes from its own
    /// environment: an imm variable of that name.
    fn passed_through(&mut self, name: &str) -> (String, String) {
        self.passed_through.push((name.to_string(), false));
        (name.to_string(), format!("${{{name}}}"))
    }

    /// `KEY: value` or `["KEY=value"]` entries.
    fn pairs(&mut self, value: &Node) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        for (key, v) in value.entries() {
            let Some(k) = key.text() else { continue };
            if v.is_null() {
                pairs.push(self.passed_through(k));
                continue;
            }
            pairs.push((k.to_string(), v.text().unwrap_or_default().to_string()));
        }
        for item in value.items() {
            let Some(text) = item.text() else { continue };
            match text.split_once('=') {
                Some((k, v)) => pairs.push((k.to_string(), v.to_string())),
                None => pairs.push(self.passed_through(text)),
            }
        }
        pairs
    }

    fn environment(&mut self, value: &Node) -> Vec<(String, String)> {
        self.pairs(value)
    }

    /// The variables of `env_file` files, read now and written inline.
    fn env_files(&mut self, value: &Node) -> Vec<(String, String)> {
        let files: Vec<&Node> = match &value.kind {
            Kind::Sequence(items) => items.iter().collect(),
            _ => vec![value],
        };
        let mut pairs = Vec::new();
        for file in files {
            let path = file
                .text()
                .or_else(|| file.get("path").and_then(Node::text));
            let Some(path) = path else { continue };
            let Ok(text) = std::fs::read_to_string(self.dir.join(path)) else {
                self.note(
                    file,
                    format!("env_file `{path}` cannot be read; its variables are missing"),
                );
                continue;
            };
            for line in text.lines().map(str::trim) {
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                if let Some((k, v)) = line.split_once('=') {
                    let value = v.trim().trim_matches('"');
                    pairs.push((k.trim().to_string(), verbatim(value)));
                }
            }
        }
        pairs
    }

    fn health(&mut self, value: &Node) -> Option<HealthText> {
        if value.get("disable").and_then(Node::text) == Some("true") {
            return None;
        }
        let test = value.get("test")?;
        let command: Vec<String> = match (test.text(), test.items()) {
            // Docker runs CMD-SHELL (and a string test) as /bin/sh -c.
            (Some(shell), _) => vec!["/bin/sh".into(), "-c".into(), shell.into()],
            (None, items) => {
                let words: Vec<String> = items
                    .iter()
                    .filter_map(|i| i.text().map(str::to_string))
                    .collect();
                match words.split_first() {
                    Some((first, rest)) if first == "CMD" => rest.to_vec(),
                    Some((first, rest)) if first == "CMD-SHELL" => {
                        vec!["/bin/sh".into(), "-c".into(), rest.join(" ")]
                    }
                    _ => return None,
                }
            }
        };
        let text = |key: &str| value.get(key).and_then(Node::text).map(str::to_string);
        Some(HealthText {
            command,
            interval: text("interval"),
            timeout: text("timeout"),
            retries: text("retries"),
            start_period: text("start_period"),
        })
    }

    fn depends_on(&mut self, value: &Node) -> Vec<String> {
        let mut names: Vec<String> = value
            .items()
            .iter()
            .filter_map(|i| i.text().map(identifier))
            .collect();
        for (key, condition) in value.entries() {
            let Some(name) = key.text() else { continue };
            if condition.get("condition").and_then(Node::text)
                == Some("service_completed_successfully")
            {
                self.note(key, format!("depends_on `{name}`: service_completed_successfully is read as \"created and healthy\" (imm starts a container after what it depends on is healthy)"));
            }
            names.push(identifier(name));
        }
        names
    }

    fn ports(&mut self, value: &Node) -> Vec<String> {
        let mut ports = Vec::new();
        for item in value.items() {
            let spec = match item.text() {
                Some(short) => short.to_string(),
                None => {
                    let field = |k: &str| item.get(k).and_then(Node::text).unwrap_or_default();
                    let mut spec = format!("{}:{}", field("published"), field("target"));
                    if !field("host_ip").is_empty() {
                        spec = format!("{}:{spec}", field("host_ip"));
                    }
                    if !field("protocol").is_empty() {
                        spec = format!("{spec}/{}", field("protocol"));
                    }
                    spec
                }
            };
            let ports_part = spec.split('/').next().unwrap_or_default();
            if !ports_part.contains(':') || ports_part.contains('-') {
                self.note(item, format!("port `{spec}`: a random or ranged host port is not translated; publish fixed ports"));
                continue;
            }
            if ports_part.split(':').count() == 2 {
                self.note(item, format!("port `{spec}` is published on 127.0.0.1 only, imm's default (Compose opens it on every interface; write 0.0.0.0:{spec} for that)"));
            }
            ports.push(spec);
        }
        ports
    }

    fn restart(&mut self, value: &Node) -> Option<String> {
        let text = value.text()?;
        if let Some((policy, _)) = text.split_once(':') {
            self.note(
                value,
                format!("restart `{text}`: the retry count is not translated"),
            );
            return Some(policy.to_string());
        }
        Some(text.to_string())
    }

    fn deploy(
        &mut self,
        service: &str,
        value: &Node,
        settings: &mut Vec<(String, String)>,
    ) -> Option<u64> {
        let mut count = None;
        for (key, v) in value.entries() {
            match key.text().unwrap_or_default() {
                "replicas" => count = v.text().and_then(|t| t.parse().ok()),
                "resources" => {
                    for (setting, text) in self.resources(service, v) {
                        // deploy.resources wins over the service's own key.
                        if settings.iter().any(|(k, _)| *k == setting) {
                            self.note(v, format!("service `{service}`: `{setting}` is set twice (also in deploy.resources); imm keeps deploy.resources' value"));
                            settings.retain(|(k, _)| *k != setting);
                        }
                        settings.push((setting.to_string(), text));
                    }
                }
                other => self.note(
                    key,
                    format!("deploy `{other}` is not translated (Swarm settings)"),
                ),
            }
        }
        count
    }

    /// A service's networks: each gets the service's name as an alias, as
    /// Compose's DNS gives it; no `networks:` means the default network.
    fn service_networks(
        &mut self,
        service: &str,
        value: Option<&Node>,
        declared: &BTreeMap<String, String>,
    ) -> Vec<(String, Vec<String>)> {
        let Some(value) = value else {
            self.uses_default_network = true;
            return vec![("default".into(), vec![service.to_string()])];
        };
        let mut attached = Vec::new();
        let named: Vec<(&Node, Option<&Node>)> = value
            .items()
            .iter()
            .map(|i| (i, None))
            .chain(value.entries().iter().map(|(k, v)| (k, Some(v))))
            .collect();
        for (key, settings) in named {
            let Some(name) = key.text() else { continue };
            let Some(id) = declared.get(name) else {
                if name == "default" {
                    self.uses_default_network = true;
                    attached.push(("default".to_string(), vec![service.to_string()]));
                } else {
                    self.note(
                        key,
                        format!(
                            "service `{service}`: network `{name}` is not declared under networks:"
                        ),
                    );
                }
                continue;
            };
            let mut aliases = vec![service.to_string()];
            if let Some(extra) = settings.and_then(|s| s.get("aliases")) {
                aliases.extend(
                    extra
                        .items()
                        .iter()
                        .filter_map(|a| a.text().map(str::to_string)),
                );
            }
            attached.push((id.clone(), aliases));
        }
        attached
    }
}

/// A build context as imm writes it: relative, starting with `./`.
fn relative(context: &str) -> String {
    if context.starts_with("./") || context.starts_with("../") || context.starts_with('/') {
        context.to_string()
    } else if context == "." {
        "./".to_string()
    } else {
        format!("./{context}")
    }
}

#[derive(Default)]
struct HealthText {
    command: Vec<String>,
    interval: Option<String>,
    timeout: Option<String>,
    retries: Option<String>,
    start_period: Option<String>,
}

#[derive(Default)]
struct ContainerText {
    image: Option<String>,
    name: Option<String>,
    count: Option<u64>,
    command: Vec<String>,
    restart: Option<String>,
    init: Option<bool>,
    stop_timeout: Option<String>,
    /// `network_mode: host`.
    host_network: bool,
    ports: Vec<String>,
    /// The settings' lines and blocks (`user = …`, `logging { … }`), by
    /// attribute.
    settings: Vec<(String, String)>,
    networks: Vec<(String, Vec<String>)>,
    /// Volumes, binds, secrets and configs.
    files: files::ServiceFiles,
    env: Vec<(String, String)>,
    health: Option<HealthText>,
    depends_on: Vec<String>,
}

impl ContainerText {
    fn render(&self, id: &str, compose_name: &str) -> String {
        let mut out = format!("resource \"docker_container\" \"{id}\" {{\n");
        if let Some(count) = self.count.filter(|c| *c != 1) {
            let _ = writeln!(out, "count = {count}");
        }
        let _ = writeln!(
            out,
            "image = {}",
            self.image.clone().unwrap_or_else(|| "\"\"".into())
        );
        let name = self.name.as_deref().unwrap_or(compose_name);
        let _ = writeln!(out, "name = {}", literal(name));
        if !self.command.is_empty() {
            let _ = writeln!(out, "command = {}", list(&self.command));
        }
        if let Some(restart) = &self.restart {
            let _ = writeln!(out, "restart = {}", literal(restart));
        }
        if let Some(init) = self.init {
            let _ = writeln!(out, "init = {init}");
        }
        if let Some(stop) = &self.stop_timeout {
            let _ = writeln!(out, "stop_timeout = {}", literal(stop));
        }
        if !self.ports.is_empty() {
            let _ = writeln!(out, "ports = {}", list(&self.ports));
        }
        if self.host_network {
            out.push_str("network_mode = \"host\"\n");
        }
        for (_, text) in &self.settings {
            out.push_str(text);
        }
        let has_tmpfs = self.settings.iter().any(|(k, _)| k == "tmpfs");
        if !self.files.tmpfs.is_empty() && !has_tmpfs {
            let _ = writeln!(out, "tmpfs = {}", list(&self.files.tmpfs));
        }
        for (network, aliases) in &self.networks {
            let _ = writeln!(
                out,
                "network {{\nname = docker_network.{network}.name\naliases = {}\n}}",
                list(aliases)
            );
        }
        for (volume, target, read_only) in &self.files.mounts {
            let _ = write!(
                out,
                "mount {{\nvolume = docker_volume.{volume}.name\ntarget = {}\n",
                literal(target)
            );
            if *read_only {
                out.push_str("read_only = true\n");
            }
            out.push_str("}\n");
        }
        for bind in &self.files.binds {
            out.push_str(&bind.render());
        }
        if !self.env.is_empty() || !self.files.files.is_empty() {
            out.push_str("runtime {\n");
            if !self.env.is_empty() {
                let mut env: Vec<(String, String)> = Vec::new();
                for (k, v) in &self.env {
                    env.retain(|(e, _)| e != k);
                    env.push((k.clone(), v.clone()));
                }
                let _ = writeln!(out, "env = {}", string_map(&env));
            }
            if !self.files.files.is_empty() {
                out.push_str("files = {\n");
                for (path, expression) in &self.files.files {
                    let _ = writeln!(out, "{} = {expression}", literal(path));
                }
                out.push_str("}\n");
            }
            out.push_str("}\n");
        }
        if let Some(health) = &self.health {
            let _ = writeln!(out, "health {{\ncommand = {}", list(&health.command));
            for (key, value) in [
                ("interval", &health.interval),
                ("timeout", &health.timeout),
                ("start_period", &health.start_period),
            ] {
                if let Some(v) = value {
                    let _ = writeln!(out, "{key} = {}", literal(v));
                }
            }
            if let Some(retries) = &health.retries {
                let _ = writeln!(out, "retries = {retries}");
            }
            out.push_str("}\n");
        }
        if !self.depends_on.is_empty() {
            let deps: Vec<String> = self
                .depends_on
                .iter()
                .map(|d| format!("docker_container.{d}"))
                .collect();
            let _ = writeln!(out, "depends_on = [{}]", deps.join(", "));
        }
        out.push_str("}\n\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_becomes_an_image_and_a_container() {
        let compose = "services:\n  web:\n    build: ./web\n    command: httpd -f -p 8080\n    environment:\n      GREETING: hi\n    ports:\n      - \"127.0.0.1:18080:8080\"\n    cap_add: [NET_ADMIN]\n";
        let t = translate(compose, Path::new(".")).expect("translates");
        assert!(
            t.imm.contains("resource \"docker_image\" \"web\""),
            "{}",
            t.imm
        );
        assert!(
            t.imm
                .contains("command = [\"httpd\", \"-f\", \"-p\", \"8080\"]"),
            "{}",
            t.imm
        );
        assert!(t.imm.contains("\"127.0.0.1:18080:8080\""), "{}", t.imm);
        assert!(t.imm.contains("cap_add = [\"NET_ADMIN\"]"), "{}", t.imm);
        assert!(t.notes.is_empty(), "{:?}", t.notes);
    }

    #[test]
    fn settings_keep_their_compose_names() {
        let compose = "services:\n  app:\n    image: app:1\n    user: \"65534:65534\"\n    entrypoint: /bin/app --serve\n    read_only: true\n    tmpfs: /tmp\n    cap_drop: [ALL]\n    labels:\n      team: web\n    ulimits:\n      nproc: 512\n      nofile:\n        soft: 1024\n        hard: 4096\n    logging:\n      driver: json-file\n      options:\n        max-size: 10m\n    deploy:\n      resources:\n        limits:\n          cpus: \"0.5\"\n          memory: 512M\n          pids: 100\n        reservations:\n          memory: 128M\n";
        let t = translate(compose, Path::new(".")).expect("translates");
        for line in [
            "user            = \"65534:65534\"",
            "entrypoint      = [\"/bin/app\", \"--serve\"]",
            "read_only       = true",
            "tmpfs           = [\"/tmp\"]",
            "cap_drop        = [\"ALL\"]",
            "nofile = { soft = 1024, hard = 4096 }",
            "driver  = \"json-file\"",
            "cpus            = 0.5",
            "mem_limit       = \"512M\"",
            "mem_reservation = \"128M\"",
        ] {
            let squashed: String = t.imm.split_whitespace().collect();
            let wanted: String = line.split_whitespace().collect();
            assert!(squashed.contains(&wanted), "{line} in {}", t.imm);
        }
        assert_eq!(t.notes.len(), 1, "only pids: {:?}", t.notes);
        assert!(t.notes[0].message.contains("limits.pids"), "{:?}", t.notes);
    }

    #[test]
    fn what_has_no_equivalent_is_noted_where_it_is_and_variables_become_variables() {
        let compose = "x-env: &env\n  LEVEL: info\nservices:\n  app:\n    image: app:1\n    environment:\n      <<: *env\n      TOKEN:\n      URL: \"http://${HOST}/x\"\n    volumes:\n      - ./conf:/etc/app\n      - data:/data:ro\n    depends_on:\n      migrate:\n        condition: service_completed_successfully\n    ports: [\"8080\"]\n  migrate:\n    image: app:1\nvolumes:\n  data:\n";
        let t = translate(compose, Path::new(".")).expect("translates");
        let said = |what: &str| {
            t.notes
                .iter()
                .find(|n| n.message.contains(what))
                .map(|n| n.line)
        };
        assert_eq!(
            said("TOKEN"),
            None,
            "passed through as a variable: {:?}",
            t.notes
        );
        assert_eq!(said("`./conf` does not exist"), Some(11));
        assert_eq!(said("service_completed_successfully"), Some(14));
        assert_eq!(said("random or ranged host port"), Some(16));
        assert!(
            t.imm.contains("LEVEL = \"info\""),
            "the merge key: {}",
            t.imm
        );
        assert!(
            t.imm.contains("\"http://${var.HOST}/x\""),
            "a variable: {}",
            t.imm
        );
        assert!(t.imm.contains("TOKEN = \"${var.TOKEN}\""), "{}", t.imm);
        assert!(
            t.imm
                .contains("variable \"HOST\" {\n  type    = string\n  default = \"\"\n}"),
            "{}",
            t.imm
        );
        assert!(t.imm.contains("read_only = true"), "{}", t.imm);
        assert!(
            t.imm.contains("depends_on = [docker_container.migrate]"),
            "{}",
            t.imm
        );
    }
}
