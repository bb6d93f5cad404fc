//! `docker_container`: an instance of an image, replaced blue/green (the
//! new container starts beside the old one on its networks, without its
//! aliases, and serves, through its aliases or its proxy, only once
//! healthy and tested; the old one stops serving, drains, then stops), or
//! stop-first when it publishes host ports or is on the host network
//! (`network_mode = "host"`). With `reload`, a change of its files alone
//! is applied to the running container instead.

use super::fields::{duration_field, ConfigError, Fields};
use super::settings::{self, Settings, BIND_BLOCK, HEALTH_BLOCK, LOGGING_BLOCK, SHARED_ATTRS};
use super::{naming, Family, ResourceType};
use crate::schema::{attr, block, out, AttrSchema, Kind, Phase, ResourceSchema, TEST_BLOCK};
use imm_stdlib::Value;
use std::collections::BTreeMap;

pub use super::settings::Health;

pub const TYPE: ResourceType = ResourceType {
    reconfigurable: Some(reloads_files),
    stop_first: holds_host_ports,
    contents: Some(settings::bind_contents),
    review: settings::host_paths_for_review,
    pulled_image: Some("image"),
    ..ResourceType::of::<ContainerConfig>(Family::Docker, SCHEMA)
};

/// Attributes only a container has; the shared ones follow.
const OWN_ATTRS: &[AttrSchema] = &[
    attr("image", Kind::String, true, "Image reference: docker_image.NAME.tag (or .id), or an off-the-shelf image (\"redis:7.2\") pinned by digest in imm.lock.hcl and pulled by that digest."),
    attr("name", Kind::String, false, "Container name; project, environment, index and a version suffix are added."),
    attr("restart", Kind::String, false, "Restart policy: no, on-failure, always or unless-stopped."),
    attr("ports", Kind::ListOfString, false, "Published ports [ip:]host:container[/proto]; without ip, 127.0.0.1. A container that publishes a host port is replaced stop-then-start."),
    attr("expose", Kind::ListOfString, false, "Ports the container listens on, as metadata (Docker's ExposedPorts): \"8080\" or \"53/udp\"; publishes nothing."),
    attr("network_mode", Kind::String, false, "\"host\": share the host's network, as Compose's network_mode: host (reach a store on the host's loopback; listen on it). No network blocks, no ports; replaced stop-then-start, since the old one holds the ports."),
    attr("security_opt", Kind::ListOfString, false, "Security options, e.g. \"no-new-privileges:true\", \"seccomp=unconfined\"."),
    attr("stop_timeout", Kind::String, false, "How long a retired container may take to stop before it is killed (default \"10s\")."),
    attr("drain", Kind::String, false, "How long a retired container keeps running after it stopped receiving new requests, so that the ones it holds finish (default \"2s\")."),
];

const ATTRS: [AttrSchema; OWN_ATTRS.len() + SHARED_ATTRS.len()] = settings::join(OWN_ATTRS);

const SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "docker_container",
    doc: "An instance of an image. Replaced blue/green: the new container starts beside the old one on its networks without its aliases, passes health and tests, then serves (aliases or proxy); the old one stops serving, drains, then is removed. With reload, a change of runtime.files alone is applied in place.",
    attrs: &ATTRS,
    blocks: &[
        block(
            "network",
            true,
            Phase::Deploy,
            &[
                attr("name", Kind::String, true, "Network name, usually docker_network.NAME.name."),
                attr("aliases", Kind::ListOfString, false, "Stable names other containers use; given only once the container is healthy and tested."),
                attr("proxy", Kind::String, false, "Serve through this proxy (docker_proxy.NAME.name) instead of aliases: the proxy sends requests to the container once it is healthy and tested, and stops before it retires."),
            ],
            "A network to join. Repeatable. A network with aliases or a proxy serves; the others are upstream, joined from the start.",
        ),
        block(
            "mount",
            true,
            Phase::Deploy,
            &[
                attr("volume", Kind::String, true, "Volume name, usually docker_volume.NAME.name."),
                attr("target", Kind::String, true, "Path inside the container."),
                attr("read_only", Kind::Bool, false, "Mount read-only."),
            ],
            "A volume mount. Repeatable.",
        ),
        BIND_BLOCK,
        block(
            "runtime",
            false,
            Phase::Runtime,
            &[
                attr("env", Kind::MapOfString, false, "Environment variables (run-time: a change replaces the container from the same image)."),
                attr("files", Kind::MapOfString, false, "Files copied into the container before it starts: path → content."),
            ],
            "Run-time configuration: environment-specific values applied at deploy time; never rebuilds the image.",
        ),
        HEALTH_BLOCK,
        LOGGING_BLOCK,
        TEST_BLOCK,
        block(
            "reload",
            false,
            Phase::Deploy,
            &[
                attr("signal", Kind::String, false, "Signal that makes the app read its files again (default \"HUP\")."),
                attr("window", Kind::String, false, "How long the container must stay running and healthy after the signal before its tests run (default \"2s\")."),
            ],
            "When only runtime.files change, rewrite them in the running container and send the signal instead of replacing it; if the app fails afterwards, the old files are put back and the signal sent again.",
        ),
    ],
    outs: &[
        out("id", Kind::String, "Container id."),
        out("name", Kind::String, "Container name."),
        out("ip", Kind::String, "Address on the first network."),
    ],
};

/// Seconds a container gets to stop before it is killed, by default.
pub const DEFAULT_STOP_SECONDS: i32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    No,
    OnFailure,
    Always,
    UnlessStopped,
}

/// How long a retired container keeps running after it stopped receiving
/// new requests, by default.
pub const DEFAULT_DRAIN: &str = "2s";

#[derive(Debug, Clone, PartialEq)]
pub struct NetworkAttachment {
    pub name: String,
    pub aliases: Vec<String>,
    /// The `docker_proxy` (its `name`) that sends this network's requests.
    pub proxy: Option<String>,
}

impl NetworkAttachment {
    /// A serving network receives requests by a stable name (aliases or a
    /// proxy): a container is on it from the start but gets the name only
    /// once healthy and tested, and leaves it first when it retires. The
    /// others are upstream: kept until the container stops.
    pub fn serves(&self) -> bool {
        !self.aliases.is_empty() || self.proxy.is_some()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct VolumeMount {
    pub volume: String,
    pub target: String,
    pub read_only: bool,
}

/// A `docker_container` as its executor needs it (secrets unmarked: they
/// go to the daemon).
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerConfig {
    pub image: String,
    pub name: Option<String>,
    pub restart: Restart,
    pub ports: Vec<String>,
    /// `expose`, as Docker's keys: `8080/tcp`.
    pub expose: Vec<String>,
    /// `network_mode = "host"`: on the host's network, not on Docker's.
    pub host_network: bool,
    pub security_opt: Vec<String>,
    /// What a container shares with a service's tasks (command, limits,
    /// user, health, …).
    pub settings: Settings,
    pub stop_seconds: i32,
    pub drain_ns: i64,
    pub networks: Vec<NetworkAttachment>,
    pub mounts: Vec<VolumeMount>,
    pub env: Vec<(String, String)>,
    pub files: Vec<(String, String)>,
    pub tests: Vec<Vec<String>>,
    /// Files are reloaded in place, not by a replacement.
    pub reload: Option<Reload>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reload {
    pub signal: String,
    pub window_ns: i64,
}

impl TryFrom<&BTreeMap<String, Value>> for ContainerConfig {
    type Error = ConfigError;

    fn try_from(config: &BTreeMap<String, Value>) -> Result<ContainerConfig, ConfigError> {
        let root = Fields::root(config);
        let runtime = root.block_or_empty("runtime")?;
        let config = ContainerConfig {
            image: root.required_string("image")?,
            name: root.plain_string("name")?,
            restart: restart(&root)?,
            ports: root.strings("ports")?,
            expose: expose(&root)?,
            host_network: host_network(&root)?,
            security_opt: root.strings("security_opt")?,
            settings: Settings::parse(&root)?,
            stop_seconds: stop_seconds(&root)?,
            drain_ns: duration_field(&root, "drain", DEFAULT_DRAIN)?,
            networks: root
                .blocks("network")?
                .iter()
                .map(network_attachment)
                .collect::<Result<_, ConfigError>>()?,
            mounts: root
                .blocks("mount")?
                .iter()
                .map(|m| {
                    Ok(VolumeMount {
                        volume: m.required_string("volume")?,
                        target: m.required_string("target")?,
                        read_only: m.bool("read_only")?.unwrap_or(false),
                    })
                })
                .collect::<Result<_, ConfigError>>()?,
            env: runtime.string_map("env")?,
            files: runtime.string_map("files")?,
            tests: super::docker_image::tests(&root)?,
            reload: reload(&root)?,
        };
        if config.settings.read_only && !config.files.is_empty() {
            return Err(ConfigError::new(
                "read_only",
                "runtime.files are copied into the root filesystem before the container starts, which a read-only root filesystem forbids; remove read_only, or give the app its files another way (a bind of a project file, or a mount)",
            ));
        }
        if config.host_network && (!config.networks.is_empty() || !config.ports.is_empty()) {
            return Err(ConfigError::new(
                "network_mode",
                "a container on the host's network has no network blocks and publishes no ports: it listens on the host directly",
            ));
        }
        Ok(config)
    }
}

/// `"8080"` or `"53/udp"` as Docker's `8080/tcp`, `53/udp`.
fn expose(root: &Fields<'_>) -> Result<Vec<String>, ConfigError> {
    let mut ports = Vec::new();
    for (i, spec) in root.strings("expose")?.into_iter().enumerate() {
        let (port, proto) = spec.split_once('/').unwrap_or((spec.as_str(), "tcp"));
        let valid_port = port.parse::<u16>().is_ok_and(|p| p > 0);
        if !valid_port || !matches!(proto, "tcp" | "udp" | "sctp") {
            return Err(ConfigError::new(
                format!("expose[{i}]"),
                format!("\"{spec}\" is not a port like \"8080\" or \"53/udp\""),
            ));
        }
        ports.push(format!("{port}/{proto}"));
    }
    Ok(ports)
}

fn host_network(root: &Fields<'_>) -> Result<bool, ConfigError> {
    match root.plain_string("network_mode")?.as_deref() {
        None => Ok(false),
        Some("host") => Ok(true),
        Some(other) => Err(ConfigError::new(
            "network_mode",
            format!("\"{other}\" is not supported; write \"host\", or use network blocks for Docker networks"),
        )),
    }
}

impl ContainerConfig {
    /// `<project>-<env>-<name>[-<index>]`; the executor adds a version
    /// suffix so that a replacement can start beside the old one.
    pub fn base_name(&self, project: &str, environment: &str, resource_name: &str) -> String {
        naming::declared_object(project, environment, self.name.as_deref(), resource_name)
    }
}

fn network_attachment(block: &Fields<'_>) -> Result<NetworkAttachment, ConfigError> {
    let attachment = NetworkAttachment {
        name: block.required_string("name")?,
        aliases: block.strings("aliases")?,
        proxy: block.plain_string("proxy")?,
    };
    if attachment.proxy.is_some() && !attachment.aliases.is_empty() {
        return Err(ConfigError::new(
            block.path("proxy"),
            "a network is served either through aliases or through a proxy, not both; the proxy holds the aliases itself (docker_proxy's `aliases`)",
        ));
    }
    Ok(attachment)
}

fn reload(root: &Fields<'_>) -> Result<Option<Reload>, ConfigError> {
    let Some(block) = root.block("reload")? else {
        return Ok(None);
    };
    let signal = settings::signal(&block, "signal")?.unwrap_or_else(|| "HUP".into());
    let bare = signal.trim_start_matches("SIG");
    Ok(Some(Reload {
        signal: bare.to_string(),
        window_ns: duration_field(&block, "window", "2s")?,
    }))
}

/// With a `reload` block, a change of `runtime.files` alone is applied to
/// the running container.
fn reloads_files(config: &BTreeMap<String, Value>, path: &str) -> bool {
    let has_reload = matches!(
        config.get("reload").map(Value::unmarked),
        Some(Value::Map(_))
    );
    has_reload
        && (path == "runtime.files"
            || path.starts_with("runtime.files.")
            || path.starts_with("runtime.files["))
}

fn restart(root: &Fields<'_>) -> Result<Restart, ConfigError> {
    match root.string("restart")?.as_deref() {
        None | Some("no") => Ok(Restart::No),
        Some("always") => Ok(Restart::Always),
        Some("unless-stopped") => Ok(Restart::UnlessStopped),
        Some("on-failure") => Ok(Restart::OnFailure),
        Some(other) => Err(ConfigError::new(
            "restart",
            format!("\"{other}\" is not one of no, on-failure, always, unless-stopped"),
        )),
    }
}

fn stop_seconds(root: &Fields<'_>) -> Result<i32, ConfigError> {
    let ns = duration_field(root, "stop_timeout", &format!("{DEFAULT_STOP_SECONDS}s"))?;
    Ok((ns / 1_000_000_000).clamp(0, i64::from(i32::MAX)) as i32)
}

/// A container that publishes host ports, or listens on the host's
/// network, cannot run beside its successor.
fn holds_host_ports(config: &BTreeMap<String, Value>) -> bool {
    let publishes =
        matches!(config.get("ports").map(Value::unmarked), Some(Value::List(p)) if !p.is_empty());
    let on_host = matches!(
        config.get("network_mode").map(Value::unmarked),
        Some(Value::String(mode)) if mode == "host"
    );
    publishes || on_host
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_duration_names_the_attribute() {
        let mut health = BTreeMap::new();
        health.insert(
            "command".to_string(),
            Value::List(vec![Value::string("true".to_string())]),
        );
        health.insert("interval".to_string(), Value::string("soon".to_string()));
        let mut config = BTreeMap::new();
        config.insert("image".to_string(), Value::string("x".to_string()));
        config.insert("health".to_string(), Value::Map(health));
        let err = ContainerConfig::try_from(&config).expect_err("bad interval");
        assert_eq!(err.path, "health.interval");
    }

    fn with_block(name: &str, block: BTreeMap<String, Value>) -> BTreeMap<String, Value> {
        let mut config = BTreeMap::new();
        config.insert("image".to_string(), Value::string("x".to_string()));
        config.insert(name.to_string(), Value::Map(block));
        config
    }

    #[test]
    fn a_network_serves_through_aliases_or_a_proxy_not_both() {
        let network = BTreeMap::from([
            ("name".to_string(), Value::string("front".to_string())),
            ("proxy".to_string(), Value::string("api".to_string())),
            (
                "aliases".to_string(),
                Value::List(vec![Value::string("api".to_string())]),
            ),
        ]);
        let err = ContainerConfig::try_from(&with_block("network", network)).expect_err("both");
        assert!(err.path.ends_with("proxy"), "{}", err.path);
    }

    #[test]
    fn reload_takes_a_signal_name_and_only_files_are_reloaded() {
        let reload = BTreeMap::from([("signal".to_string(), Value::string("SIGUSR1".to_string()))]);
        let config = with_block("reload", reload);
        let parsed = ContainerConfig::try_from(&config).expect("valid");
        assert_eq!(parsed.reload.map(|r| r.signal), Some("USR1".to_string()));
        assert!(reloads_files(&config, "runtime.files[\"/etc/app.conf\"]"));
        assert!(!reloads_files(&config, "runtime.env.LOG_LEVEL"));
        let bad = BTreeMap::from([("signal".to_string(), Value::string("kill -9".to_string()))]);
        assert!(ContainerConfig::try_from(&with_block("reload", bad)).is_err());
    }
}
