//! `docker_service`: replicated tasks on a Docker Swarm. The service object
//! is long-lived (its name is the DNS name clients use); a change of its
//! configuration is carried out as Swarm's rolling update, task by task,
//! each new task healthy before an old one stops, and an update that fails
//! is rolled back by Swarm while the old tasks keep serving. The plan
//! shows it as a replacement of the service's tasks. `runtime.files`
//! become Swarm configs and `runtime.secrets` Swarm secrets, new objects
//! for every change (they are immutable), removed once no task uses them.

use super::fields::{duration_field, ConfigError, Fields};
use super::settings::{
    self, BindSource, Settings, BIND_BLOCK, HEALTH_BLOCK, LOGGING_BLOCK, SHARED_ATTRS,
};
use super::{naming, Family, ResourceType};
use crate::schema::{attr, block, out, AttrSchema, Kind, Phase, ResourceSchema};
use imm_stdlib::Value;
use std::collections::BTreeMap;

/// Never stopped first: Swarm orders the tasks itself and the service
/// object is kept.
pub const TYPE: ResourceType = ResourceType {
    review: settings::host_paths_for_review,
    pulled_image: Some("image"),
    ..ResourceType::of::<ServiceConfig>(Family::Docker, SCHEMA)
};

/// Attributes only a service has; the shared ones follow.
const OWN_ATTRS: &[AttrSchema] = &[
    attr("image", Kind::String, true, "Image reference, usually docker_image.NAME.id (an image built on a multi-node engine is on every node, or pinned by digest in its registry), or an off-the-shelf image (\"redis:7.2\") pinned by digest in imm.lock.hcl."),
    attr("name", Kind::String, false, "Service name (project and environment are added; default: the resource's name, with -INDEX or -KEY for an instance of count or for_each); clients on its networks reach it by this name."),
    attr("replicas", Kind::Number, false, "Number of tasks (default 1); not with mode = \"global\"."),
    attr("mode", Kind::String, false, "\"replicated\" (default) or \"global\" (one task per node)."),
    attr("endpoint_mode", Kind::String, false, "\"dnsrr\" (default: the service name resolves to every task, no virtual IP needed) or \"vip\" (needs IPVS in the kernel)."),
    attr("stop_timeout", Kind::String, false, "How long a task may take to stop before it is killed (default \"10s\")."),
    attr("deadline", Kind::String, false, "How long a create or update may take before the apply gives up on it (default \"5m\"); a task that can never be placed never fails by itself."),
];

const ATTRS: [AttrSchema; OWN_ATTRS.len() + SHARED_ATTRS.len()] = settings::join(OWN_ATTRS);

const SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "docker_service",
    doc: "Replicated tasks on a Docker Swarm (the engine must be a swarm manager). A change is Swarm's rolling update: each new task healthy before an old one stops; a failed update is rolled back by Swarm, the old tasks serving throughout, and the apply fails with the tasks' errors.",
    attrs: &ATTRS,
    blocks: &[
        block(
            "network",
            true,
            Phase::Deploy,
            &[
                attr("name", Kind::String, true, "Overlay network name, usually docker_network.NAME.name (driver = \"overlay\")."),
                attr("aliases", Kind::ListOfString, false, "More names the service is reached by on this network."),
            ],
            "An overlay network to join. Repeatable.",
        ),
        block(
            "port",
            true,
            Phase::Deploy,
            &[
                attr("target", Kind::Number, true, "Port inside the task."),
                attr("published", Kind::Number, true, "Port on the node."),
                attr("protocol", Kind::String, false, "\"tcp\" (default) or \"udp\"."),
                attr("mode", Kind::String, false, "\"host\" (default: the port on the node that runs the task; the update then stops an old task before starting its successor) or \"ingress\" (Swarm's routing mesh; needs endpoint_mode = \"vip\")."),
            ],
            "A published port. Repeatable.",
        ),
        block(
            "runtime",
            false,
            Phase::Runtime,
            &[
                attr("env", Kind::MapOfString, false, "Environment variables."),
                attr("files", Kind::MapOfString, false, "Files in every task: path → content, as Swarm configs."),
                attr("secrets", Kind::MapOfString, false, "Secrets in every task at /run/secrets/NAME: name → value (usually secret.NAME), as Swarm secrets; never in state."),
            ],
            "Run-time configuration: environment-specific values; never rebuilds the image.",
        ),
        HEALTH_BLOCK,
        LOGGING_BLOCK,
        BIND_BLOCK,
        block(
            "update",
            false,
            Phase::Deploy,
            &[
                attr("parallelism", Kind::Number, false, "Tasks updated at once (default 1)."),
                attr("delay", Kind::String, false, "Pause between batches (default \"0s\")."),
                attr("monitor", Kind::String, false, "How long a new task is watched for failure (default \"5s\")."),
                attr("order", Kind::String, false, "\"start-first\" (default) or \"stop-first\"; a host-mode port forces stop-first."),
                attr("max_failure_ratio", Kind::Number, false, "Share of failed tasks tolerated before the update is rolled back (default 0)."),
            ],
            "How a change rolls out. A failed update is always rolled back.",
        ),
        block(
            "restart",
            false,
            Phase::Deploy,
            &[
                attr("condition", Kind::String, false, "\"any\" (default), \"on-failure\" or \"none\"."),
                attr("delay", Kind::String, false, "Wait before a task is restarted (default \"0s\")."),
                attr("max_attempts", Kind::Number, false, "Restarts before giving up (default: no limit)."),
            ],
            "When Swarm restarts a task that stopped.",
        ),
        block(
            "placement",
            false,
            Phase::Deploy,
            &[
                attr("constraints", Kind::ListOfString, false, "Swarm placement constraints, e.g. node.labels.zone==a."),
                attr("max_replicas_per_node", Kind::Number, false, "At most this many tasks on one node."),
            ],
            "Where tasks may run.",
        ),
    ],
    outs: &[
        out("id", Kind::String, "Service id."),
        out("name", Kind::String, "Service name: its DNS name on its networks."),
    ],
};

/// Blocks and attributes a `docker_container` has and a service cannot,
/// and why.
pub const REFUSED: &[(&str, &str)] = &[
    (
        "reload",
        "a Swarm service cannot reload files in place: Swarm mounts each file read-only from an immutable config, so a change of runtime.files rolls out new tasks (start-first, each healthy before an old one stops); remove the reload block",
    ),
    (
        "security_opt",
        "Swarm services take no security options (Docker's service spec has no SecurityOpt); remove it, or run this as a docker_container",
    ),
    (
        "expose",
        "a service's tasks are reachable on every port by the other tasks of their networks; publish a port with a port block, or remove expose",
    ),
];

/// The tmpfs options a service's tmpfs mount can carry (Swarm's
/// TmpfsOptions): the others Compose takes are refused.
const SERVICE_TMPFS_OPTIONS: &[&str] = &["size", "mode"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceMode {
    Replicated(u64),
    Global,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceNetwork {
    pub name: String,
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePort {
    pub target: u16,
    pub published: u16,
    pub udp: bool,
    /// On the node running the task, not through the routing mesh.
    pub host_mode: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UpdatePolicy {
    pub parallelism: u64,
    pub delay_ns: i64,
    pub monitor_ns: i64,
    pub start_first: bool,
    pub max_failure_ratio: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RestartPolicy {
    /// Swarm's spelling: `any`, `on-failure`, `none`.
    pub condition: String,
    pub delay_ns: i64,
    pub max_attempts: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Placement {
    pub constraints: Vec<String>,
    pub max_replicas_per_node: Option<u64>,
}

/// A `docker_service` as its executor needs it (secrets unmarked: they go
/// to the swarm).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceConfig {
    pub image: String,
    pub name: Option<String>,
    pub mode: ServiceMode,
    pub dns_round_robin: bool,
    pub stop_grace_ns: i64,
    pub deadline_ns: i64,
    pub networks: Vec<ServiceNetwork>,
    pub ports: Vec<ServicePort>,
    pub env: Vec<(String, String)>,
    pub files: Vec<(String, String)>,
    pub secrets: Vec<(String, String)>,
    /// What a service's tasks share with a container (command, limits,
    /// user, health, …).
    pub settings: Settings,
    pub update: UpdatePolicy,
    pub restart: RestartPolicy,
    pub placement: Placement,
}

impl ServiceConfig {
    /// `<project>-<env>-<name>`: the service keeps it across updates.
    pub fn service_name(
        &self,
        project: &str,
        environment: &str,
        resource_name: &str,
        instance: Option<&str>,
    ) -> String {
        naming::declared_instance_object(
            project,
            environment,
            self.name.as_deref(),
            resource_name,
            instance,
        )
    }

    /// A host-mode port is held by one task per node: the old task must
    /// stop before its successor can start (Swarm would wait for ever).
    pub fn start_first(&self) -> bool {
        self.update.start_first && !self.ports.iter().any(|p| p.host_mode)
    }
}

impl TryFrom<&BTreeMap<String, Value>> for ServiceConfig {
    type Error = ConfigError;

    fn try_from(config: &BTreeMap<String, Value>) -> Result<ServiceConfig, ConfigError> {
        let root = Fields::root(config);
        let runtime = root.block_or_empty("runtime")?;
        let dns_round_robin = root
            .choice("endpoint_mode", &[("dnsrr", true), ("vip", false)])?
            .unwrap_or(true);
        let ports = root
            .blocks("port")?
            .iter()
            .map(port)
            .collect::<Result<Vec<_>, _>>()?;
        if dns_round_robin && ports.iter().any(|p| !p.host_mode) {
            return Err(ConfigError::new(
                "port.mode",
                "an ingress port needs endpoint_mode = \"vip\"; with dnsrr publish it in mode = \"host\"",
            ));
        }
        for (name, _) in runtime.string_map("secrets")? {
            if name.is_empty() || name.contains('/') || name.starts_with('.') {
                return Err(ConfigError::new(
                    format!("runtime.secrets.{name}"),
                    "a secret's name is a file name under /run/secrets: no slash, not empty",
                ));
            }
        }
        Ok(ServiceConfig {
            image: root.required_string("image")?,
            name: root.plain_string("name")?,
            mode: mode(&root)?,
            dns_round_robin,
            stop_grace_ns: duration_field(&root, "stop_timeout", "10s")?,
            deadline_ns: duration_field(&root, "deadline", "5m")?,
            networks: root
                .blocks("network")?
                .iter()
                .map(|n| {
                    Ok(ServiceNetwork {
                        name: n.required_string("name")?,
                        aliases: n.strings("aliases")?,
                    })
                })
                .collect::<Result<_, ConfigError>>()?,
            ports,
            env: runtime.string_map("env")?,
            files: runtime.string_map("files")?,
            secrets: runtime.string_map("secrets")?,
            settings: service_settings(&root)?,
            update: update(&root)?,
            restart: restart(&root)?,
            placement: placement(&root)?,
        })
    }
}

/// The shared settings, with the tmpfs options Swarm cannot carry refused.
fn service_settings(root: &Fields<'_>) -> Result<Settings, ConfigError> {
    let settings = Settings::parse(root)?;
    let project_bind = settings
        .binds
        .iter()
        .position(|b| matches!(b.source, BindSource::Project(_)));
    if let Some(i) = project_bind {
        return Err(ConfigError::new(
            format!("bind[{i}].source"),
            "a service's tasks run on any node of the swarm, where the project's files are not: give a project file as runtime.files (a Swarm config), or mount a path every node has with host_path",
        ));
    }
    for (i, tmpfs) in settings.tmpfs.iter().enumerate() {
        for option in tmpfs.options.split(',').filter(|o| !o.is_empty()) {
            let name = option.split('=').next().unwrap_or(option);
            let bytes_or_mode = match name {
                "size" => option
                    .split_once('=')
                    .map(|(_, v)| settings::parse_bytes(v).is_ok()),
                "mode" => option
                    .split_once('=')
                    .map(|(_, v)| u32::from_str_radix(v, 8).is_ok()),
                _ => None,
            };
            if bytes_or_mode != Some(true) {
                return Err(ConfigError::new(
                    format!("tmpfs[{i}]"),
                    format!(
                        "\"{option}\": a service's tmpfs takes only {} (size=64m, mode=1777)",
                        SERVICE_TMPFS_OPTIONS.join(" and ")
                    ),
                ));
            }
        }
    }
    Ok(settings)
}

fn count(fields: &Fields<'_>, key: &str) -> Result<Option<u64>, ConfigError> {
    match fields.number(key)? {
        None => Ok(None),
        Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= 1e9 => Ok(Some(n as u64)),
        Some(_) => Err(ConfigError::new(
            fields.path(key),
            "expected a whole number, 0 or more",
        )),
    }
}

fn mode(root: &Fields<'_>) -> Result<ServiceMode, ConfigError> {
    let replicas = count(root, "replicas")?;
    let global = root
        .choice("mode", &[("replicated", false), ("global", true)])?
        .unwrap_or(false);
    match (global, replicas) {
        (false, replicas) => Ok(ServiceMode::Replicated(replicas.unwrap_or(1))),
        (true, None) => Ok(ServiceMode::Global),
        (true, Some(_)) => Err(ConfigError::new(
            "replicas",
            "a global service runs one task per node; remove replicas",
        )),
    }
}

fn port(block: &Fields<'_>) -> Result<ServicePort, ConfigError> {
    let number = |key: &str| -> Result<u16, ConfigError> {
        match count(block, key)? {
            Some(n) if (1..=65535).contains(&n) => Ok(n as u16),
            _ => Err(ConfigError::new(
                block.path(key),
                "expected a port, 1 to 65535",
            )),
        }
    };
    Ok(ServicePort {
        target: number("target")?,
        published: number("published")?,
        udp: block
            .choice("protocol", &[("tcp", false), ("udp", true)])?
            .unwrap_or(false),
        host_mode: block
            .choice("mode", &[("host", true), ("ingress", false)])?
            .unwrap_or(true),
    })
}

fn update(root: &Fields<'_>) -> Result<UpdatePolicy, ConfigError> {
    let fields = root.block_or_empty("update")?;
    let start_first = fields
        .choice("order", &[("start-first", true), ("stop-first", false)])?
        .unwrap_or(true);
    let ratio = fields.number("max_failure_ratio")?.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&ratio) {
        return Err(ConfigError::new(
            "update.max_failure_ratio",
            "expected a share between 0 and 1",
        ));
    }
    Ok(UpdatePolicy {
        parallelism: count(&fields, "parallelism")?.unwrap_or(1),
        delay_ns: duration_field(&fields, "delay", "0s")?,
        monitor_ns: duration_field(&fields, "monitor", "5s")?,
        start_first,
        max_failure_ratio: ratio,
    })
}

fn restart(root: &Fields<'_>) -> Result<RestartPolicy, ConfigError> {
    let fields = root.block_or_empty("restart")?;
    let conditions = ["any", "on-failure", "none"].map(|name| (name, name));
    let condition = fields.choice("condition", &conditions)?.unwrap_or("any");
    Ok(RestartPolicy {
        condition: condition.to_string(),
        delay_ns: duration_field(&fields, "delay", "0s")?,
        max_attempts: count(&fields, "max_attempts")?,
    })
}

fn placement(root: &Fields<'_>) -> Result<Placement, ConfigError> {
    let Some(block) = root.block("placement")? else {
        return Ok(Placement::default());
    };
    Ok(Placement {
        constraints: block.strings("constraints")?,
        max_replicas_per_node: count(&block, "max_replicas_per_node")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &[(&str, Value)]) -> BTreeMap<String, Value> {
        let mut config = BTreeMap::from([("image".to_string(), Value::string("web"))]);
        for (k, v) in extra {
            config.insert(k.to_string(), v.clone());
        }
        config
    }

    #[test]
    fn defaults_suit_a_kernel_without_ipvs_and_a_host_port_forces_stop_first() {
        let parsed = ServiceConfig::try_from(&config(&[])).expect("valid");
        assert_eq!(parsed.mode, ServiceMode::Replicated(1));
        assert!(parsed.dns_round_robin && parsed.settings.init && parsed.start_first());
        let port = Value::Map(BTreeMap::from([
            ("target".to_string(), Value::number(8080)),
            ("published".to_string(), Value::number(18080)),
        ]));
        let parsed = ServiceConfig::try_from(&config(&[("port", port)])).expect("valid");
        assert!(parsed.ports[0].host_mode);
        assert!(!parsed.start_first());
    }

    #[test]
    fn bad_values_name_their_attribute() {
        let global = [
            ("mode", Value::string("global")),
            ("replicas", Value::number(2)),
        ];
        assert_eq!(
            ServiceConfig::try_from(&config(&global))
                .expect_err("refused")
                .path,
            "replicas"
        );
        let half = [(
            "replicas",
            Value::Number(imm_stdlib::number::Number::parse("1.5").expect("a number")),
        )];
        assert_eq!(
            ServiceConfig::try_from(&config(&half))
                .expect_err("refused")
                .path,
            "replicas"
        );
        let ingress = Value::Map(BTreeMap::from([
            ("target".to_string(), Value::number(80)),
            ("published".to_string(), Value::number(80)),
            ("mode".to_string(), Value::string("ingress")),
        ]));
        assert_eq!(
            ServiceConfig::try_from(&config(&[("port", ingress)]))
                .expect_err("refused")
                .path,
            "port.mode"
        );
    }
}
