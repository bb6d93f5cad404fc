//! `docker_proxy`: an HTTP proxy (nginx) that holds a served name on a
//! network and sends its requests to the containers serving behind it.
//! Containers join and leave it one by one (a graceful reload, never a
//! restart), so a replacement loses no request: the new container gets
//! requests only once healthy and tested, the old one gets no new request
//! but finishes those it holds before it stops.

use super::fields::{duration_field, ConfigError, Fields};
use super::{naming, Family, Prediction, ResourceType};
use crate::schema::{attr, out, Kind, ResourceSchema};
use imm_stdlib::Value;
use std::collections::BTreeMap;

pub const TYPE: ResourceType = ResourceType {
    predict_outs,
    ..ResourceType::of::<ProxyConfig>(Family::Docker, SCHEMA)
};

const SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "docker_proxy",
    doc: "An HTTP proxy (an nginx image) holding stable names on a network for the containers that serve behind it (network { proxy = docker_proxy.NAME.name }). Containers join it once healthy and tested and leave it before they stop; the proxy is reloaded, never restarted.",
    attrs: &[
        attr("image", Kind::String, true, "An nginx image (1.18 or later), usually docker_image.NAME.id; scripts/prepare-proxy.sh makes a FROM scratch one from Debian's nginx."),
        attr("name", Kind::String, false, "The name containers refer to (default: the resource's name); the container is <project>-<env>-<name>-<suffix>."),
        attr("network", Kind::String, true, "The network it serves on, usually docker_network.NAME.name."),
        attr("aliases", Kind::ListOfString, true, "The names clients use on that network."),
        attr("port", Kind::Number, true, "The port it listens on, and by default the port it sends to."),
        attr("backend_port", Kind::Number, false, "The port of the containers behind it (default: port)."),
        attr("drain", Kind::String, false, "How long a replaced proxy keeps answering the requests it holds (default \"2s\")."),
        super::engine::ENGINE_ATTR,
    ],
    blocks: &[],
    outs: &[
        out("id", Kind::String, "Container id of the proxy."),
        out("name", Kind::String, "The name containers refer to in network { proxy = … }; known at plan time and kept by a replacement."),
        out("container", Kind::String, "The proxy's container name."),
    ],
};

/// A `docker_proxy` as its executor needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyConfig {
    pub image: String,
    pub name: Option<String>,
    pub network: String,
    pub aliases: Vec<String>,
    pub port: u16,
    pub backend_port: u16,
    pub drain_ns: i64,
}

impl TryFrom<&BTreeMap<String, Value>> for ProxyConfig {
    type Error = ConfigError;

    fn try_from(config: &BTreeMap<String, Value>) -> Result<ProxyConfig, ConfigError> {
        let root = Fields::root(config);
        let port =
            port_field(&root, "port")?.ok_or_else(|| ConfigError::new("port", "is required"))?;
        let aliases = root.strings("aliases")?;
        if aliases.is_empty() {
            return Err(ConfigError::new(
                "aliases",
                "needs at least one name: the name clients use to reach the containers behind the proxy",
            ));
        }
        Ok(ProxyConfig {
            image: root.required_string("image")?,
            name: root.plain_string("name")?,
            network: root.required_string("network")?,
            aliases,
            port,
            backend_port: port_field(&root, "backend_port")?.unwrap_or(port),
            drain_ns: duration_field(&root, "drain", super::docker_container::DEFAULT_DRAIN)?,
        })
    }
}

impl ProxyConfig {
    /// The name containers refer to: the `name` attribute or the resource's.
    pub fn served_name(&self, resource_name: &str) -> String {
        naming::sanitize(self.name.as_deref().unwrap_or(resource_name))
    }

    /// `<project>-<env>-<name>`; the executor adds a suffix so that a
    /// replacement starts beside the old proxy.
    pub fn base_name(&self, project: &str, environment: &str, resource_name: &str) -> String {
        naming::scoped_object(project, environment, &self.served_name(resource_name))
    }
}

fn port_field(root: &Fields<'_>, key: &str) -> Result<Option<u16>, ConfigError> {
    let Some(number) = root.number(key)? else {
        return Ok(None);
    };
    if number.fract() != 0.0 || !(1.0..=65535.0).contains(&number) {
        return Err(ConfigError::new(
            key,
            format!("{number} is not a port: give a whole number from 1 to 65535"),
        ));
    }
    Ok(Some(number as u16))
}

fn predict_outs(prediction: &Prediction<'_>) -> BTreeMap<String, Value> {
    let declared = match prediction.config.get("name").map(Value::unmarked) {
        Some(Value::String(name)) => Some(name.clone()),
        Some(_) => return BTreeMap::new(),
        None => None,
    };
    let name = naming::sanitize(declared.as_deref().unwrap_or(prediction.resource_name));
    BTreeMap::from([("name".to_string(), Value::string(name))])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(port: i64) -> BTreeMap<String, Value> {
        BTreeMap::from([
            ("image".to_string(), Value::string("nginx".to_string())),
            ("network".to_string(), Value::string("front".to_string())),
            (
                "aliases".to_string(),
                Value::List(vec![Value::string("api".to_string())]),
            ),
            ("port".to_string(), Value::number(port)),
        ])
    }

    #[test]
    fn the_port_must_be_a_port() {
        let parsed = ProxyConfig::try_from(&config(8080)).expect("valid");
        assert_eq!((parsed.port, parsed.backend_port), (8080, 8080));
        let err = ProxyConfig::try_from(&config(70000)).expect_err("not a port");
        assert_eq!(err.path, "port");
    }
}
