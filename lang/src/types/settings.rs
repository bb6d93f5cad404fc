//! The run-time settings `docker_container` and `docker_service` share,
//! named as Compose names them (`user`, `mem_limit`, `cap_drop`, …): their
//! schema, written once and spliced into both types' schemas, and their
//! typed form, parsed once for both. They are all run-time configuration:
//! a change replaces the container (or rolls the service's tasks) from the
//! same image, never rebuilds it.

use super::fields::{duration_field, ConfigError, Fields};
use crate::diagnostics::Code;
use crate::schema::{attr, block, AttrSchema, BlockSchema, Kind, Phase};
use imm_stdlib::Value;
use std::collections::BTreeMap;

/// The attributes both Docker types take, in the order the reference shows.
pub const SHARED_ATTRS: &[AttrSchema] = &[
    attr("command", Kind::ListOfString, false, "Command and arguments (Compose's command; the image's CMD otherwise)."),
    attr("entrypoint", Kind::ListOfString, false, "Entrypoint replacing the image's ENTRYPOINT, as a list."),
    attr("init", Kind::Bool, false, "Run Docker's init as PID 1 (default true), so the command gets signals and stops at once."),
    attr("user", Kind::String, false, "User (and group) the command runs as: \"65534:65534\", \"nobody\"; the image's USER otherwise."),
    attr("working_dir", Kind::String, false, "Working directory of the command."),
    attr("labels", Kind::MapOfString, false, "Labels on the container (a service's tasks); imm's own imm.* labels are added and a label starting with imm. is refused."),
    attr("mem_limit", Kind::String, false, "Memory limit: bytes as Compose writes them (\"512m\", \"1g\") or a number of bytes."),
    attr("mem_reservation", Kind::String, false, "Memory reserved (a soft limit; on a Swarm, what a node must have free to run a task): \"256m\" or bytes."),
    attr("cpus", Kind::Number, false, "CPU limit in cores, e.g. 0.5."),
    attr("read_only", Kind::Bool, false, "Mount the root filesystem read-only; give the paths the app writes as tmpfs."),
    attr("tmpfs", Kind::ListOfString, false, "In-memory filesystems: \"/path\" or \"/path:options\" (Compose's syntax, e.g. \"/tmp:size=64m,mode=1777\")."),
    attr("cap_add", Kind::ListOfString, false, "Linux capabilities to add, e.g. NET_BIND_SERVICE."),
    attr("cap_drop", Kind::ListOfString, false, "Linux capabilities to drop, e.g. [\"ALL\"]."),
    attr("ulimits", Kind::Any, false, "Resource limits: name → number, or name → { soft, hard }, e.g. { nofile = { soft = 1024, hard = 4096 } }."),
    attr("extra_hosts", Kind::Any, false, "Entries added to /etc/hosts: a list of \"host:ip\" or a map host → ip."),
    attr("dns", Kind::ListOfString, false, "DNS servers."),
    attr("hostname", Kind::String, false, "Host name inside the container."),
    attr("stop_signal", Kind::String, false, "Signal that asks the command to stop (default the image's, usually TERM)."),
    attr("sysctls", Kind::MapOfString, false, "Namespaced kernel parameters, e.g. { \"net.core.somaxconn\" = \"1024\" }."),
    super::engine::ENGINE_ATTR,
];

/// Where the container's (or the tasks') logs go.
pub const LOGGING_BLOCK: BlockSchema = block(
    "logging",
    false,
    Phase::Runtime,
    &[
        attr(
            "driver",
            Kind::String,
            true,
            "Log driver, e.g. \"json-file\", \"local\", \"syslog\".",
        ),
        attr(
            "options",
            Kind::MapOfString,
            false,
            "The driver's options, e.g. { max-size = \"10m\", max-file = \"3\" }.",
        ),
    ],
    "Where logs go (Compose's logging). Run-time: a change replaces from the same image.",
);

/// A bind mount: a file or directory of the project (its content part of
/// the configuration) or, named apart so that a review sees it, a path on
/// the Docker host.
pub const BIND_BLOCK: BlockSchema = block(
    "bind",
    true,
    Phase::Runtime,
    &[
        attr(
            "source",
            Kind::String,
            false,
            "A file or directory of the project, relative to the module's directory (\"./nginx/nginx.conf\"); it may not lead outside it (E0320). A read-only source's content is part of the configuration: a change of its files replaces the container from the same image. Not on a docker_service, whose tasks run on other nodes.",
        ),
        attr(
            "host_path",
            Kind::String,
            false,
            "Instead of source: an absolute path on the Docker host (\"/var/run/docker.sock\"), outside what imm tracks; the plan names it for review.",
        ),
        attr("target", Kind::String, true, "Absolute path inside the container."),
        attr(
            "read_only",
            Kind::Bool,
            false,
            "Mount read-only (default true; false lets the container write to the project or the host).",
        ),
    ],
    "A bind mount (Compose's ./conf:/etc/app). Repeatable. Exactly one of source and host_path. Run-time: a change, or a change of the source's files, replaces from the same image.",
);

/// The health check of a container or of a service's tasks.
pub const HEALTH_BLOCK: BlockSchema = block(
    "health",
    false,
    Phase::Deploy,
    &[
        attr(
            "command",
            Kind::ListOfString,
            true,
            "Health check command; exit 0 = healthy.",
        ),
        attr(
            "interval",
            Kind::String,
            false,
            "Time between checks, e.g. \"1s\".",
        ),
        attr("timeout", Kind::String, false, "Time one check may take."),
        attr(
            "retries",
            Kind::Number,
            false,
            "Failures before the container is unhealthy.",
        ),
        attr(
            "start_period",
            Kind::String,
            false,
            "Grace period after start.",
        ),
    ],
    "How to tell a new instance is up.",
);

/// An attribute no one writes, filling the arrays [`join`] builds.
const FILLER: AttrSchema = attr("", Kind::Any, false, "");

/// A type's own attributes followed by the shared ones, as one array
/// (`const ATTRS: [AttrSchema; OWN.len() + SHARED_ATTRS.len()] = join(OWN)`).
pub const fn join<const N: usize>(own: &[AttrSchema]) -> [AttrSchema; N] {
    let mut all = [FILLER; N];
    let mut i = 0;
    while i < own.len() {
        all[i] = own[i];
        i += 1;
    }
    let mut j = 0;
    while j < SHARED_ATTRS.len() {
        all[i + j] = SHARED_ATTRS[j];
        j += 1;
    }
    assert!(i + j == N, "the array's length is the sum of both lists");
    all
}

/// The health check, durations in nanoseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub command: Vec<String>,
    pub interval_ns: i64,
    pub timeout_ns: i64,
    pub retries: i64,
    pub start_period_ns: i64,
}

/// A resource limit: the same number for both when written as one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// An in-memory filesystem: its path and Compose's options as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tmpfs {
    pub path: String,
    pub options: String,
}

/// Where a bind mount's files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindSource {
    /// A path of the project, relative to the module's directory and
    /// normalised (no `.`, no `..`): `nginx/nginx.conf`.
    Project(String),
    /// An absolute path on the Docker host.
    Host(String),
}

/// A bind mount as the daemon takes it (a project path still relative:
/// the executor joins it to the module's directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub source: BindSource,
    pub target: String,
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logging {
    pub driver: String,
    pub options: Vec<(String, String)>,
}

/// The settings both Docker types read the same way.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Settings {
    pub command: Vec<String>,
    pub entrypoint: Vec<String>,
    pub init: bool,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub labels: Vec<(String, String)>,
    pub mem_limit: Option<i64>,
    pub mem_reservation: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub read_only: bool,
    pub tmpfs: Vec<Tmpfs>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub ulimits: Vec<Ulimit>,
    /// `(host, ip)` pairs.
    pub extra_hosts: Vec<(String, String)>,
    pub dns: Vec<String>,
    pub hostname: Option<String>,
    pub stop_signal: Option<String>,
    pub sysctls: Vec<(String, String)>,
    pub logging: Option<Logging>,
    pub health: Option<Health>,
    pub binds: Vec<Bind>,
}

impl Settings {
    pub fn parse(root: &Fields<'_>) -> Result<Settings, ConfigError> {
        Ok(Settings {
            command: root.strings("command")?,
            entrypoint: root.strings("entrypoint")?,
            init: root.bool("init")?.unwrap_or(true),
            user: root.string("user")?,
            working_dir: root.string("working_dir")?,
            labels: labels(root)?,
            mem_limit: bytes(root, "mem_limit")?,
            mem_reservation: bytes(root, "mem_reservation")?,
            nano_cpus: nano_cpus(root)?,
            read_only: root.bool("read_only")?.unwrap_or(false),
            tmpfs: tmpfs(root)?,
            cap_add: root.strings("cap_add")?,
            cap_drop: root.strings("cap_drop")?,
            ulimits: ulimits(root)?,
            extra_hosts: extra_hosts(root)?,
            dns: root.strings("dns")?,
            hostname: root.string("hostname")?,
            stop_signal: stop_signal(root)?,
            sysctls: root.string_map("sysctls")?,
            logging: logging(root)?,
            health: health(root)?,
            binds: binds(root)?,
        })
    }
}

fn labels(root: &Fields<'_>) -> Result<Vec<(String, String)>, ConfigError> {
    let labels = root.string_map("labels")?;
    match labels.iter().find(|(name, _)| name.starts_with("imm.")) {
        Some((name, _)) => Err(ConfigError::new(
            root.path("labels"),
            format!("\"{name}\": labels starting with imm. are imm's own (project, environment, address); choose another prefix"),
        )),
        None => Ok(labels),
    }
}

/// Compose's byte strings: a number with an optional unit b, k, m or g
/// (kb, mb, gb too, any case), or a bare number of bytes.
pub fn parse_bytes(text: &str) -> Result<i64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(split);
    let scale: f64 = match unit.trim_end_matches('b') {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "\"{text}\" is not a size: write bytes like \"512m\", \"1g\" or a number of bytes"
            ))
        }
    };
    let value: f64 = number.parse().map_err(|_| {
        format!("\"{text}\" is not a size: write bytes like \"512m\", \"1g\" or a number of bytes")
    })?;
    let bytes = value * scale;
    if !(1.0..9e18).contains(&bytes) {
        return Err(format!(
            "\"{text}\" is out of range: give at least one byte"
        ));
    }
    Ok(bytes as i64)
}

fn bytes(root: &Fields<'_>, key: &str) -> Result<Option<i64>, ConfigError> {
    let Some(text) = root.string(key)? else {
        return Ok(None);
    };
    parse_bytes(&text)
        .map(Some)
        .map_err(|message| ConfigError::new(root.path(key), message))
}

fn nano_cpus(root: &Fields<'_>) -> Result<Option<i64>, ConfigError> {
    match root.number("cpus")? {
        None => Ok(None),
        Some(cpus) if cpus > 0.0 && cpus <= 4096.0 => Ok(Some((cpus * 1e9).round() as i64)),
        Some(_) => Err(ConfigError::new(
            root.path("cpus"),
            "expected a number of cores above 0, e.g. 0.5",
        )),
    }
}

fn tmpfs(root: &Fields<'_>) -> Result<Vec<Tmpfs>, ConfigError> {
    let mut mounts = Vec::new();
    for (i, spec) in root.strings("tmpfs")?.into_iter().enumerate() {
        let (path, options) = spec.split_once(':').unwrap_or((spec.as_str(), ""));
        if !path.starts_with('/') {
            return Err(ConfigError::new(
                format!("{}[{i}]", root.path("tmpfs")),
                format!(
                    "\"{spec}\": a tmpfs is \"/path\" or \"/path:options\", with an absolute path"
                ),
            ));
        }
        mounts.push(Tmpfs {
            path: path.to_string(),
            options: options.to_string(),
        });
    }
    Ok(mounts)
}

fn binds(root: &Fields<'_>) -> Result<Vec<Bind>, ConfigError> {
    root.blocks("bind")?
        .iter()
        .enumerate()
        .map(|(i, block)| bind(block, &format!("bind[{i}]")))
        .collect()
}

fn bind(block: &Fields<'_>, at: &str) -> Result<Bind, ConfigError> {
    let target = block.required_plain_string("target")?;
    if !target.starts_with('/') {
        return Err(ConfigError::new(
            format!("{at}.target"),
            format!("\"{target}\" is not an absolute path inside the container"),
        ));
    }
    let source = match (
        block.plain_string("source")?,
        block.plain_string("host_path")?,
    ) {
        (Some(source), None) => BindSource::Project(
            project_path(&source).map_err(|message| {
                ConfigError::coded(Code::PathOutsideProject, format!("{at}.source"), message)
            })?,
        ),
        (None, Some(host)) if host.starts_with('/') => BindSource::Host(host),
        (None, Some(host)) => {
            return Err(ConfigError::new(
                format!("{at}.host_path"),
                format!("\"{host}\" is not an absolute path on the Docker host; a path of the project is written source"),
            ))
        }
        _ => {
            return Err(ConfigError::new(
                at,
                "give exactly one of source (a path of the project) and host_path (a path on the Docker host)",
            ))
        }
    };
    Ok(Bind {
        source,
        target,
        read_only: block.bool("read_only")?.unwrap_or(true),
    })
}

/// A project path relative to the module's directory, normalised; an
/// absolute path or one whose `..` climbs above the directory is refused.
pub fn project_path(text: &str) -> Result<String, String> {
    if text.starts_with('/') {
        return Err(format!("\"{text}\" is absolute: a source is a path of the project, relative to the module's directory (write host_path for a path on the Docker host)"));
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.pop().is_some() => {}
            ".." => return Err(format!("\"{text}\" leads outside the module's directory: a source is a path of the project (write host_path for a path on the Docker host)")),
            name => parts.push(name),
        }
    }
    if parts.is_empty() {
        return Ok(".".to_string());
    }
    Ok(parts.join("/"))
}

/// The key a project bind's content digest is kept under, beside its
/// `source`: part of the configuration, so a change of the files is a
/// run-time change the plan shows and state records.
pub const CONTENT_KEY: &str = "content";

/// Writes the digest of each read-only project bind's files into its block
/// (`bind[i].content`), read by `digest` (relative to the module's
/// directory). A writable bind's files are the container's to change, so
/// they are not part of the configuration; blocks whose source is not
/// known yet are left as they are.
pub fn bind_contents(
    config: &mut BTreeMap<String, Value>,
    digest: &mut super::ContentDigest<'_>,
) -> Result<(), ConfigError> {
    let Some(Value::List(binds)) = config.get_mut("bind") else {
        return Ok(());
    };
    for (i, bind) in binds.iter_mut().enumerate() {
        let Value::Map(fields) = bind else { continue };
        let Some(Value::String(source)) = fields.get("source") else {
            continue;
        };
        if matches!(fields.get("read_only"), Some(Value::Bool(false))) {
            continue;
        }
        let at = format!("bind[{i}].source");
        let path = project_path(source)
            .map_err(|message| ConfigError::coded(Code::PathOutsideProject, &at, message))?;
        let content =
            digest(&path).map_err(|(code, message)| ConfigError::coded(code, &at, message))?;
        fields.insert(CONTENT_KEY.to_string(), Value::string(content));
    }
    Ok(())
}

/// What a reviewer should see of a configuration's binds: each host path,
/// outside what imm tracks.
pub fn host_paths_for_review(config: &BTreeMap<String, Value>) -> Vec<String> {
    let Some(Value::List(binds)) = config.get("bind").map(Value::unmarked) else {
        return Vec::new();
    };
    binds
        .iter()
        .filter_map(|bind| {
            let Value::Map(fields) = bind.unmarked() else {
                return None;
            };
            let text = |key: &str| match fields.get(key).map(Value::unmarked) {
                Some(Value::String(text)) => Some(text.clone()),
                _ => None,
            };
            let host = text("host_path")?;
            let target = text("target").unwrap_or_else(|| "?".into());
            let writable = matches!(
                fields.get("read_only").map(Value::unmarked),
                Some(Value::Bool(false))
            );
            let mode = if writable { "read-write" } else { "read-only" };
            Some(format!(
                "review: mounts the Docker host's {host} at {target} ({mode})"
            ))
        })
        .collect()
}

/// A whole number a limit takes (`-1` is "unlimited" for Docker).
fn limit_number(value: &Value) -> Option<i64> {
    let number = match value.unmarked() {
        Value::Number(n) => n.to_f64(),
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (number.fract() == 0.0 && (-1.0..9e18).contains(&number)).then_some(number as i64)
}

fn ulimits(root: &Fields<'_>) -> Result<Vec<Ulimit>, ConfigError> {
    let Some(value) = root.value("ulimits") else {
        return Ok(Vec::new());
    };
    let Value::Map(limits) = value.unmarked() else {
        return Err(ConfigError::new(
            root.path("ulimits"),
            "expected a map: name = number, or name = { soft, hard }",
        ));
    };
    limits
        .iter()
        .map(|(name, limit)| {
            let path = format!("{}.{name}", root.path("ulimits"));
            let (soft, hard) = match limit.unmarked() {
                Value::Map(pair) => (
                    pair.get("soft").and_then(limit_number),
                    pair.get("hard").and_then(limit_number),
                ),
                single => (limit_number(single), limit_number(single)),
            };
            match (soft, hard) {
                (Some(soft), Some(hard)) if soft <= hard || hard == -1 => Ok(Ulimit {
                    name: name.clone(),
                    soft,
                    hard,
                }),
                (Some(_), Some(_)) => Err(ConfigError::new(path, "soft is above hard")),
                _ => Err(ConfigError::new(
                    path,
                    "expected a whole number, or { soft = N, hard = N }",
                )),
            }
        })
        .collect()
}

fn extra_hosts(root: &Fields<'_>) -> Result<Vec<(String, String)>, ConfigError> {
    let path = root.path("extra_hosts");
    match root.value("extra_hosts").map(Value::unmarked) {
        None => Ok(Vec::new()),
        Some(Value::Map(_)) => root.string_map("extra_hosts"),
        Some(_) => root
            .strings("extra_hosts")?
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                // Compose splits at the first ':' (an IPv6 address has more)
                // and also takes "host=ip".
                let split = entry.split_once('=').or_else(|| entry.split_once(':'));
                match split {
                    Some((host, ip)) if !host.is_empty() && !ip.is_empty() => {
                        Ok((host.to_string(), ip.to_string()))
                    }
                    _ => Err(ConfigError::new(
                        format!("{path}[{i}]"),
                        format!("\"{entry}\" is not \"host:ip\""),
                    )),
                }
            })
            .collect(),
    }
}

/// A signal name (`TERM`, `SIGTERM`, `SIGRTMIN+3`) or number, as written.
pub fn signal(fields: &Fields<'_>, key: &str) -> Result<Option<String>, ConfigError> {
    let Some(signal) = fields.plain_string(key)? else {
        return Ok(None);
    };
    let bare = signal.trim_start_matches("SIG");
    let valid = !bare.is_empty()
        && bare
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-');
    if !valid {
        return Err(ConfigError::new(
            fields.path(key),
            format!("\"{signal}\" is not a signal name; write one like \"TERM\" or \"USR1\""),
        ));
    }
    Ok(Some(signal))
}

fn stop_signal(root: &Fields<'_>) -> Result<Option<String>, ConfigError> {
    signal(root, "stop_signal")
}

fn logging(root: &Fields<'_>) -> Result<Option<Logging>, ConfigError> {
    let Some(block) = root.block("logging")? else {
        return Ok(None);
    };
    Ok(Some(Logging {
        driver: block.required_plain_string("driver")?,
        options: block.string_map("options")?,
    }))
}

pub(super) fn health(root: &Fields<'_>) -> Result<Option<Health>, ConfigError> {
    let Some(h) = root.block("health")? else {
        return Ok(None);
    };
    let retries = h.number("retries")?.unwrap_or(30.0);
    Ok(Some(Health {
        command: h.strings("command")?,
        interval_ns: duration_field(&h, "interval", "1s")?,
        timeout_ns: duration_field(&h, "timeout", "5s")?,
        retries: retries.max(0.0) as i64,
        start_period_ns: duration_field(&h, "start_period", "0s")?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn parse(pairs: &[(&str, Value)]) -> Result<Settings, ConfigError> {
        let map: BTreeMap<String, Value> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        Settings::parse(&Fields::root(&map))
    }

    #[test]
    fn sizes_parse_as_compose_writes_them() {
        assert_eq!(parse_bytes("512m"), Ok(512 * 1024 * 1024));
        assert_eq!(parse_bytes("1g"), Ok(1024 * 1024 * 1024));
        assert_eq!(parse_bytes("1.5GB"), Ok(1536 * 1024 * 1024));
        assert_eq!(parse_bytes("65536"), Ok(65536));
        assert!(parse_bytes("12zz").is_err());
        assert!(parse_bytes("m").is_err());
        assert!(parse_bytes("0").is_err());
    }

    #[test]
    fn limits_hosts_and_labels_read_as_compose_writes_them() {
        let ulimits = Value::Map(BTreeMap::from([
            ("nproc".to_string(), Value::number(512)),
            (
                "nofile".to_string(),
                Value::Map(BTreeMap::from([
                    ("soft".to_string(), Value::number(1024)),
                    ("hard".to_string(), Value::number(4096)),
                ])),
            ),
        ]));
        let hosts = Value::List(vec![Value::string("db:10.0.0.5"), Value::string("v6:::1")]);
        let parsed = parse(&[
            ("ulimits", ulimits),
            ("extra_hosts", hosts),
            ("cpus", Value::number(2)),
            ("tmpfs", Value::List(vec![Value::string("/run:size=1m")])),
        ])
        .expect("valid");
        assert_eq!(
            parsed.ulimits[0],
            Ulimit {
                name: "nofile".into(),
                soft: 1024,
                hard: 4096
            }
        );
        assert_eq!(parsed.ulimits[1].soft, 512);
        assert_eq!(parsed.extra_hosts[1], ("v6".to_string(), "::1".to_string()));
        assert_eq!(parsed.nano_cpus, Some(2_000_000_000));
        assert_eq!(parsed.tmpfs[0].options, "size=1m");
        assert!(parsed.init);
    }

    #[test]
    fn bad_values_name_their_attribute() {
        let err = |pairs: &[(&str, Value)]| parse(pairs).expect_err("refused").path;
        assert_eq!(err(&[("mem_limit", Value::string("12zz"))]), "mem_limit");
        assert_eq!(err(&[("cpus", Value::number(0))]), "cpus");
        assert_eq!(
            err(&[("tmpfs", Value::List(vec![Value::string("tmp")]))]),
            "tmpfs[0]"
        );
        let imm = Value::Map(BTreeMap::from([(
            "imm.env".to_string(),
            Value::string("x"),
        )]));
        assert_eq!(err(&[("labels", imm)]), "labels");
        let half = Value::Map(BTreeMap::from([(
            "nofile".to_string(),
            Value::string("many"),
        )]));
        assert_eq!(err(&[("ulimits", half)]), "ulimits.nofile");
        assert_eq!(
            err(&[("stop_signal", Value::string("kill -9"))]),
            "stop_signal"
        );
    }

    #[test]
    fn a_project_path_stays_inside_the_module_directory() {
        assert_eq!(
            project_path("./nginx/./nginx.conf"),
            Ok("nginx/nginx.conf".into())
        );
        assert_eq!(project_path("conf/../site"), Ok("site".into()));
        assert_eq!(project_path("."), Ok(".".into()));
        assert!(project_path("../secrets").is_err());
        assert!(project_path("conf/../../x").is_err());
        assert!(project_path("/etc/passwd").is_err());
    }

    #[test]
    fn a_bind_is_read_only_by_default_and_names_one_source() {
        let bind = |pairs: &[(&str, Value)]| {
            let block = Value::Map(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
            );
            parse(&[("bind", Value::List(vec![block]))])
        };
        let parsed = bind(&[
            ("source", Value::string("./conf")),
            ("target", Value::string("/etc/app")),
        ])
        .expect("valid");
        assert_eq!(
            parsed.binds,
            vec![Bind {
                source: BindSource::Project("conf".into()),
                target: "/etc/app".into(),
                read_only: true,
            }]
        );
        let outside = bind(&[
            ("source", Value::string("../x")),
            ("target", Value::string("/x")),
        ])
        .expect_err("outside");
        assert_eq!(
            (outside.path.as_str(), outside.code),
            ("bind[0].source", Code::PathOutsideProject)
        );
        let both = bind(&[
            ("source", Value::string("./x")),
            ("host_path", Value::string("/x")),
            ("target", Value::string("/x")),
        ]);
        assert_eq!(both.expect_err("both").path, "bind[0]");
        let relative_host = bind(&[
            ("host_path", Value::string("x")),
            ("target", Value::string("/x")),
        ]);
        assert_eq!(
            relative_host.expect_err("relative").path,
            "bind[0].host_path"
        );
    }
}
