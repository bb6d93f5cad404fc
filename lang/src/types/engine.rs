//! `engine "NAME" { endpoints = [...]  registry { ... } }`: the Docker
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

/// An evaluated `engine` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSpec {
    pub name: String,
    /// Tried in order: the first that answers serves the run.
    pub endpoints: Vec<Endpoint>,
    pub registry: Option<RegistrySpec>,
}

impl EngineSpec {
    /// The engine a resource without `engine` lives on.
    pub fn local() -> EngineSpec {
        EngineSpec {
            name: String::new(),
            endpoints: Vec::new(),
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
    /// `tcp://host:port`, plain HTTP.
    Tcp(String),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix://{path}"),
            Endpoint::Tcp(address) => write!(f, "tcp://{address}"),
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
    if text.starts_with("ssh://") || text.starts_with("https://") {
        return Err(format!(
            "\"{text}\": ssh:// and TLS endpoints are not supported by this version; reach the engine through a unix socket (an ssh -L forward works) or plain tcp:// on a private network"
        ));
    }
    Err(format!(
        "\"{text}\": an endpoint starts with unix:// or tcp://"
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
        assert!(parse_endpoint("ssh://m1")
            .expect_err("refused")
            .contains("not supported"));
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
