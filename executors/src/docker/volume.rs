//! `docker_volume` on the daemon: how a volume is created, removed and
//! inspected (recorded by its name); the rest is [`super::named`]'s.

use super::named::{NamedExecutor, NamedKind};
use super::removed;
use crate::{ActionError, Configured, RunContext};
use async_trait::async_trait;
use bollard::errors::Error as DockerError;
use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::RemoveVolumeOptions;
use bollard::Docker;
use imm_lang::evaluate::Instance;
use imm_lang::types::docker_volume::VolumeConfig;
use std::collections::HashMap;

pub type VolumeExecutor = NamedExecutor<Volume>;

pub struct Volume;

impl Configured for Volume {
    type Config = VolumeConfig;
}

#[async_trait]
impl NamedKind for Volume {
    const KIND: &'static str = "volume";

    fn base_name(config: &VolumeConfig, run: &RunContext, instance: &Instance) -> String {
        config.object_name(&run.project, &run.environment, &instance.name)
    }

    async fn exists(docker: &Docker, name: &str) -> bool {
        Volume::inspect(docker, name).await.is_ok()
    }

    /// A volume has no id besides its name.
    async fn create(
        docker: &Docker,
        name: &str,
        _config: &VolumeConfig,
        labels: HashMap<String, String>,
    ) -> Result<Option<String>, DockerError> {
        let request = VolumeCreateRequest {
            name: Some(name.to_string()),
            labels: Some(labels),
            ..Default::default()
        };
        docker.create_volume(request).await.map(|_| None)
    }

    async fn remove(docker: &Docker, name: &str, what: &str) -> Result<(), ActionError> {
        let options = None::<RemoveVolumeOptions>;
        removed(docker.remove_volume(name, options).await, what)
    }

    async fn inspect(docker: &Docker, name: &str) -> Result<(), DockerError> {
        docker.inspect_volume(name).await.map(drop)
    }
}
