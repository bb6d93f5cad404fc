//! `docker_volume` on the daemon: create (named by its type, a suffix
//! added while the name is taken), remove, and check it still exists.

use super::{failed, free_name, labels, removed, still_there, DockerClient};
use crate::{
    ActionError, Configured, CreateRequest, Created, Executor, Existing, Observed, RunContext,
};
use async_trait::async_trait;
use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::RemoveVolumeOptions;
use imm_lang::evaluate::Instance;
use imm_lang::types::docker_volume::VolumeConfig;
use serde_json::{json, Map};
use std::sync::Arc;

pub struct VolumeExecutor(pub Arc<DockerClient>);

impl Configured for VolumeExecutor {
    type Config = VolumeConfig;
}

#[async_trait]
impl Executor for VolumeExecutor {
    async fn create(
        &self,
        instance: &Instance,
        _request: &CreateRequest,
        run: &RunContext,
    ) -> Result<Created, ActionError> {
        let config = VolumeExecutor::config(instance)?;
        let (engine, docker) = &self.0.named_by(instance).await?;
        let base = config.object_name(&run.project, &run.environment, &instance.name);
        let name = free_name(
            base,
            |n| async move { docker.inspect_volume(&n).await.is_ok() },
        )
        .await;
        docker
            .create_volume(VolumeCreateRequest {
                name: Some(name.clone()),
                labels: Some(labels(run, &instance.address)),
                ..Default::default()
            })
            .await
            .map_err(|e| failed(&format!("creating volume {name}"), e))?;
        let mut outs = Map::new();
        outs.insert("name".into(), json!(name));
        Ok(Created {
            outs,
            private: json!({ "name": name, "engine": engine }),
        })
    }

    async fn destroy(
        &self,
        existing: Existing<'_>,
        _successor: Option<&Created>,
        _run: &RunContext,
    ) -> Result<(), ActionError> {
        let Some((docker, name)) = self.0.recorded(&existing, "name").await? else {
            return Ok(());
        };
        removed(
            docker
                .remove_volume(name, None::<RemoveVolumeOptions>)
                .await,
            &format!("volume {name}"),
        )
    }

    async fn read(
        &self,
        existing: Existing<'_>,
        _run: &RunContext,
    ) -> Result<Observed, ActionError> {
        let Some((docker, name)) = self.0.recorded(&existing, "name").await? else {
            return Ok(Observed::AsRecorded);
        };
        still_there(docker.inspect_volume(name).await, format!("volume {name}"))
    }
}
