//! `docker_network` on the daemon: create (named by its type, a suffix
//! added while the name is taken), remove, and check it still exists.

use super::{failed, free_name, instance_engine, labels, still_there, DockerClient};
use crate::{
    ActionError, Configured, CreateRequest, Created, Executor, Existing, Observed, RunContext,
};
use async_trait::async_trait;
use bollard::models::NetworkCreateRequest;
use bollard::query_parameters::InspectNetworkOptions;
use imm_lang::evaluate::Instance;
use imm_lang::types::docker_network::NetworkConfig;
use serde_json::{json, Map};
use std::sync::Arc;

pub struct NetworkExecutor(pub Arc<DockerClient>);

impl Configured for NetworkExecutor {
    type Config = NetworkConfig;
}

#[async_trait]
impl Executor for NetworkExecutor {
    async fn create(
        &self,
        instance: &Instance,
        _request: &CreateRequest,
        run: &RunContext,
    ) -> Result<Created, ActionError> {
        let config = NetworkExecutor::config(instance)?;
        let engine = instance_engine(instance)?;
        let docker = &self.0.engine(engine.as_deref()).await?;
        let base = config.object_name(&run.project, &run.environment, &instance.name);
        let name = free_name(base, |n| async move {
            docker
                .inspect_network(&n, None::<InspectNetworkOptions>)
                .await
                .is_ok()
        })
        .await;
        let created = docker
            .create_network(NetworkCreateRequest {
                name: name.clone(),
                driver: Some(config.driver.clone()),
                internal: Some(config.internal),
                attachable: Some(config.attachable),
                labels: Some(labels(run, &instance.address)),
                ..Default::default()
            })
            .await
            .map_err(|e| failed(&format!("creating network {name}"), e))?;
        let id = created.id;
        let mut outs = Map::new();
        outs.insert("id".into(), json!(id));
        outs.insert("name".into(), json!(name));
        Ok(Created {
            outs,
            private: json!({ "id": id, "name": name, "engine": engine }),
        })
    }

    async fn destroy(
        &self,
        existing: Existing<'_>,
        _successor: Option<&Created>,
        _run: &RunContext,
    ) -> Result<(), ActionError> {
        let Some((docker, id)) = self.0.recorded(&existing, "id").await? else {
            return Ok(());
        };
        // A swarm network outlives its removal while tasks still use it.
        super::swarm::remove_network(&docker, id).await
    }

    async fn read(
        &self,
        existing: Existing<'_>,
        _run: &RunContext,
    ) -> Result<Observed, ActionError> {
        let Some((docker, id)) = self.0.recorded(&existing, "id").await? else {
            return Ok(Observed::AsRecorded);
        };
        still_there(
            docker
                .inspect_network(id, None::<InspectNetworkOptions>)
                .await,
            format!("network {id}"),
        )
    }
}
