//! `docker_network` on the daemon: how a network is created, removed and
//! inspected (recorded by its id); the rest is [`super::named`]'s.

use super::named::{NamedExecutor, NamedKind};
use crate::{ActionError, Configured, RunContext};
use async_trait::async_trait;
use bollard::errors::Error as DockerError;
use bollard::models::NetworkCreateRequest;
use bollard::query_parameters::InspectNetworkOptions;
use bollard::Docker;
use imm_lang::evaluate::Instance;
use imm_lang::types::docker_network::NetworkConfig;
use std::collections::HashMap;

pub type NetworkExecutor = NamedExecutor<Network>;

pub struct Network;

impl Configured for Network {
    type Config = NetworkConfig;
}

#[async_trait]
impl NamedKind for Network {
    const KIND: &'static str = "network";

    fn base_name(config: &NetworkConfig, run: &RunContext, instance: &Instance) -> String {
        config.object_name(&run.project, &run.environment, &instance.name)
    }

    async fn exists(docker: &Docker, name: &str) -> bool {
        Network::inspect(docker, name).await.is_ok()
    }

    async fn create(
        docker: &Docker,
        name: &str,
        config: &NetworkConfig,
        labels: HashMap<String, String>,
    ) -> Result<Option<String>, DockerError> {
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some(config.driver.clone()),
            internal: Some(config.internal),
            attachable: Some(config.attachable),
            labels: Some(labels),
            ..Default::default()
        };
        Ok(Some(docker.create_network(request).await?.id))
    }

    async fn remove(docker: &Docker, id: &str, _what: &str) -> Result<(), ActionError> {
        // A swarm network outlives its removal while tasks still use it.
        super::swarm::remove_network(docker, id).await
    }

    async fn inspect(docker: &Docker, id: &str) -> Result<(), DockerError> {
        let options = None::<InspectNetworkOptions>;
        docker.inspect_network(id, options).await.map(drop)
    }
}
