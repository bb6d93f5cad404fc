//! `docker_network`: a user-defined Docker network, named
//! `<project>-<env>-<name>`.

use super::fields::{ConfigError, Fields};
use super::{naming, Family, ResourceType};
use crate::schema::{attr, out, Kind, ResourceSchema};
use imm_stdlib::Value;
use std::collections::BTreeMap;

pub const TYPE: ResourceType = ResourceType::of::<NetworkConfig>(Family::Docker, SCHEMA);

const SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "docker_network",
    doc: "A user-defined Docker network.",
    attrs: &[
        attr(
            "name",
            Kind::String,
            false,
            "Network name (project and environment are added).",
        ),
        attr(
            "driver",
            Kind::String,
            false,
            "Network driver (default \"bridge\").",
        ),
        attr("internal", Kind::Bool, false, "Restrict external access."),
        attr(
            "attachable",
            Kind::Bool,
            false,
            "An overlay network that standalone containers may join too (default false).",
        ),
        super::engine::ENGINE_ATTR,
    ],
    blocks: &[],
    outs: &[
        out("id", Kind::String, "Network id."),
        out("name", Kind::String, "Network name."),
    ],
};

#[derive(Debug, Clone, PartialEq)]
pub struct NetworkConfig {
    pub name: Option<String>,
    pub driver: String,
    pub internal: bool,
    pub attachable: bool,
}

impl TryFrom<&BTreeMap<String, Value>> for NetworkConfig {
    type Error = ConfigError;

    fn try_from(config: &BTreeMap<String, Value>) -> Result<NetworkConfig, ConfigError> {
        let root = Fields::root(config);
        Ok(NetworkConfig {
            name: root.plain_string("name")?,
            driver: root.string("driver")?.unwrap_or_else(|| "bridge".into()),
            internal: root.bool("internal")?.unwrap_or(false),
            attachable: root.bool("attachable")?.unwrap_or(false),
        })
    }
}

impl NetworkConfig {
    /// `<project>-<env>-<name>`.
    pub fn object_name(&self, project: &str, environment: &str, resource_name: &str) -> String {
        naming::declared_object(project, environment, self.name.as_deref(), resource_name)
    }
}
