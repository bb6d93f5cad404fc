//! `engine "NAME" { endpoints = [...]  tls { ... }  registry { ... } }`: the Docker
//! Engine, or the Swarm, that a Docker resource lives on. Every Docker type
//! takes `engine = engine.NAME`; without it, the local engine (`DOCKER_HOST`
//! or the default socket). Only the engine's *name* is part of a resource's
//! configuration: reaching the same engine through other endpoints changes
//! nothing, moving a resource to another engine replaces it.

use super::fields::{ConfigError, Fields};
use crate::schema::{attr, block, AttrSchema, BlockSchema, Kind, Phase};
use imm_stdlib::Value;
use std::collections::BTreeMap;

/// The `engine` attribute every Docker resource type has.
pub const ENGINE_ATTR: AttrSchema = attr(
    "engine",
    Kind::Any,
    false,
    "The engine or swarm to deploy to (engine.NAME); the local engine (DOCKER_HOST or the default socket) otherwise.",
);

/// `registry { address, insecure }` inside an `engine` block.
pub const REGISTRY_BLOCK: BlockSchema = block(
    "registry",
    false,
    Phase::Deploy,
    &[
        attr("address", Kind::String, true, "host:port of a registry every endpoint can pull from; images built for this engine are pushed there and pinned by digest."),
        attr("insecure", Kind::Bool, false, "Push over plain HTTP (the engines must list the address in insecure-registries)."),
    ],
    "Where images for this engine are pushed, so that every node runs the same digest.",
);

/// `tls { ca, cert, key }` inside an `engine` block.
pub const TLS_BLOCK: BlockSchema = block(
    "tls",
    false,
    Phase::Deploy,
    &[
        attr("ca", Kind::String, true, "PEM file of the CA that signed the engines' certificates (the daemon's tlscacert), relative to the project."),
        attr("cert", Kind::String, true, "PEM file of this client's certificate, signed by a CA the engines trust."),
        attr("key", Kind::String, true, "PEM file of this client's private key."),
    ],
    "Mutual TLS for every tcp:// endpoint of the engine (a daemon started with --tlsverify, usually on port 2376).",
);

/// An evaluated `engine` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSpec {
    pub name: String,
    /// Tried in order: the first that answers serves the run.
    pub endpoints: Vec<Endpoint>,
    /// Client certificates for its `tcp://` endpoints; plain HTTP without.
    pub tls: Option<TlsSpec>,
    pub registry: Option<RegistrySpec>,
}

/// Paths of the PEM files of an engine's `tls` block, resolved against
/// the project's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSpec {
    pub ca: std::path::PathBuf,
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

impl EngineSpec {
    /// The engine a resource without `engine` lives on.
    pub fn local() -> EngineSpec {
        EngineSpec {
            name: String::new(),
            endpoints: Vec::new(),
            tls: None,
            registry: None,
        }
    }

    /// How the engine is named to a user.
    pub fn describe(&self) -> String {
        if self.name.is_empty() {
            "the local engine".into()
        } else {
            format!("engine \"{}\"", self.name)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrySpec {
    pub address: String,
    pub insecure: bool,
}

/// One way to reach a Docker Engine's API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `unix:///path/to/docker.sock`
    Unix(String),
    /// `tcp://host:port`: plain HTTP, or TLS with the engine's `tls` block.
    Tcp(String),
    /// `ssh://[user@]host[:port]`: the system's ssh (its config, keys and
    /// agent) running `docker system dial-stdio` on the host.
    Ssh(String),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix://{path}"),
            Endpoint::Tcp(address) => write!(f, "tcp://{address}"),
            Endpoint::Ssh(destination) => write!(f, "ssh://{destination}"),
        }
    }
}

/// Reads one endpoint; the error says what is accepted.
pub fn parse_endpoint(text: &str) -> Result<Endpoint, String> {
    if let Some(path) = text.strip_prefix("unix://") {
        if path.starts_with('/') {
            return Ok(Endpoint::Unix(path.to_string()));
        }
        return Err(format!(
            "\"{text}\": a unix endpoint needs an absolute path, e.g. unix:///var/run/docker.sock"
        ));
    }
    if let Some(address) = text.strip_prefix("tcp://") {
        let address = address.trim_end_matches('/');
        if address.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        }) {
            return Ok(Endpoint::Tcp(address.to_string()));
        }
        return Err(format!(
            "\"{text}\": a tcp endpoint is tcp://HOST:PORT, e.g. tcp://10.0.0.2:2375"
        ));
    }
    if let Some(destination) = text.strip_prefix("ssh://") {
        let destination = destination.trim_end_matches('/');
        let host = destination.rsplit_once('@').map_or(destination, |(_, h)| h);
        let port_ok = host
            .rsplit_once(':')
            .is_none_or(|(_, port)| port.parse::<u16>().is_ok_and(|p| p > 0));
        if !host.is_empty() && !host.starts_with(':') && port_ok && !destination.contains('/') {
            return Ok(Endpoint::Ssh(destination.to_string()));
        }
        return Err(format!(
            "\"{text}\": an ssh endpoint is ssh://[USER@]HOST[:PORT], e.g. ssh://deploy@10.0.0.2"
        ));
    }
    if text.starts_with("https://") {
        return Err(format!(
            "\"{text}\": write a TLS endpoint as tcp://HOST:PORT and give the engine a tls {{ ca, cert, key }} block"
        ));
    }
    Err(format!(
        "\"{text}\": an endpoint starts with unix://, tcp:// or ssh://"
    ))
}

/// The value `engine.NAME` evaluates to.
pub fn engine_value(name: &str) -> Value {
    Value::Map(BTreeMap::from([("name".to_string(), Value::string(name))]))
}

/// The engine a Docker resource's configuration names (`None`: the local
/// engine).
pub fn engine_of(config: &BTreeMap<String, Value>) -> Result<Option<String>, ConfigError> {
    match Fields::root(config).value("engine").map(Value::unmarked) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Map(engine)) => match engine.get("name").map(Value::unmarked) {
            Some(Value::String(name)) => Ok(Some(name.clone())),
            _ => Err(not_an_engine()),
        },
        Some(_) => Err(not_an_engine()),
    }
}

fn not_an_engine() -> ConfigError {
    ConfigError::new("engine", "expected an engine, written engine.NAME")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_read_or_refused_with_the_accepted_forms() {
        assert_eq!(
            parse_endpoint("unix:///tmp/n1/docker.sock"),
            Ok(Endpoint::Unix("/tmp/n1/docker.sock".into()))
        );
        assert_eq!(
            parse_endpoint("tcp://10.0.0.2:2375"),
            Ok(Endpoint::Tcp("10.0.0.2:2375".into()))
        );
        assert!(parse_endpoint("unix://docker.sock")
            .expect_err("refused")
            .contains("absolute path"));
        assert!(parse_endpoint("tcp://host")
            .expect_err("refused")
            .contains("HOST:PORT"));
        assert_eq!(
            parse_endpoint("ssh://deploy@10.0.0.2:2222"),
            Ok(Endpoint::Ssh("deploy@10.0.0.2:2222".into()))
        );
        assert_eq!(parse_endpoint("ssh://m1"), Ok(Endpoint::Ssh("m1".into())));
        assert!(parse_endpoint("ssh://m1:port")
            .expect_err("refused")
            .contains("[USER@]HOST[:PORT]"));
        assert!(parse_endpoint("https://m1:2376")
            .expect_err("refused")
            .contains("tls {"));
        assert!(parse_endpoint("m1:2375")
            .expect_err("refused")
            .contains("unix://"));
    }

    #[test]
    fn a_resource_names_its_engine_or_none() {
        let mut config = BTreeMap::new();
        assert_eq!(engine_of(&config), Ok(None));
        config.insert("engine".to_string(), engine_value("swarm"));
        assert_eq!(engine_of(&config), Ok(Some("swarm".into())));
        config.insert("engine".to_string(), Value::string("swarm"));
        assert!(engine_of(&config).is_err());
    }
}
