//! `docker_volume`: a named volume, `<project>-<env>-<name>`; it outlives
//! the containers that mount it.

use super::fields::{ConfigError, Fields};
use super::{naming, Family, ResourceType};
use crate::schema::{attr, out, Kind, ResourceSchema};
use imm_stdlib::Value;
use std::collections::BTreeMap;

pub const TYPE: ResourceType = ResourceType::of::<VolumeConfig>(Family::Docker, SCHEMA);

const SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "docker_volume",
    doc: "A named volume. Outlives container replacements; usually lifecycle { prevent_destroy = true }.",
    attrs: &[
        attr("name", Kind::String, false, "Volume name (project and environment are added)."),
        super::engine::ENGINE_ATTR,
    ],
    blocks: &[],
    outs: &[out("name", Kind::String, "Volume name.")],
};

#[derive(Debug, Clone, PartialEq)]
pub struct VolumeConfig {
    pub name: Option<String>,
}

impl TryFrom<&BTreeMap<String, Value>> for VolumeConfig {
    type Error = ConfigError;

    fn try_from(config: &BTreeMap<String, Value>) -> Result<VolumeConfig, ConfigError> {
        Ok(VolumeConfig {
            name: Fields::root(config).plain_string("name")?,
        })
    }
}

impl VolumeConfig {
    /// `<project>-<env>-<name>`.
    pub fn object_name(&self, project: &str, environment: &str, resource_name: &str) -> String {
        naming::declared_object(project, environment, self.name.as_deref(), resource_name)
    }
}
