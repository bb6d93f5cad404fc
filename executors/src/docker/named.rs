//! What `docker_network` and `docker_volume` share on the daemon: an
//! object known by its name, created under its type's name (a suffix added
//! while the name is taken), removed, and checked to still exist. How each
//! is asked of the daemon is its own module's ([`NamedKind`]).

use super::{failed, free_name, labels, private_str, still_there, DockerClient};
use crate::{
    ActionError, Configured, CreateRequest, Created, Executor, Existing, Observed, RunContext,
};
use async_trait::async_trait;
use bollard::errors::Error as DockerError;
use bollard::Docker;
use imm_lang::evaluate::Instance;
use serde_json::{json, Map};
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

/// One kind of named Docker object: its typed configuration and the four
/// calls that differ between kinds.
#[async_trait]
pub(super) trait NamedKind: Configured + Send + Sync + 'static {
    /// How messages name the kind ("network").
    const KIND: &'static str;

    /// The name the configuration asks for, before a suffix.
    fn base_name(config: &Self::Config, run: &RunContext, instance: &Instance) -> String;

    /// Whether an object of this name exists.
    async fn exists(docker: &Docker, name: &str) -> bool;

    /// Creates the object; its id when the kind has one besides its name.
    async fn create(
        docker: &Docker,
        name: &str,
        config: &Self::Config,
        labels: HashMap<String, String>,
    ) -> Result<Option<String>, DockerError>;

    /// Removes the object recorded as `recorded` (its id, else its name),
    /// described as `what`; one already gone is removed. A kind whose
    /// removal finishes later (a swarm network still used by dying tasks)
    /// waits here.
    async fn remove(docker: &Docker, recorded: &str, what: &str) -> Result<(), ActionError>;

    /// Inspects the object recorded as `recorded`.
    async fn inspect(docker: &Docker, recorded: &str) -> Result<(), DockerError>;
}

/// The executor of a named kind, on the shared client.
pub struct NamedExecutor<K> {
    client: Arc<DockerClient>,
    kind: PhantomData<K>,
}

impl<K> NamedExecutor<K> {
    pub fn new(client: Arc<DockerClient>) -> NamedExecutor<K> {
        NamedExecutor {
            client,
            kind: PhantomData,
        }
    }
}

/// The private key an object is recorded under: its id when it has one.
fn recorded_key(private: &serde_json::Value) -> &'static str {
    if private.get("id").is_some() {
        "id"
    } else {
        "name"
    }
}

#[async_trait]
impl<K: NamedKind> Executor for NamedExecutor<K> {
    async fn create(
        &self,
        instance: &Instance,
        _request: &CreateRequest,
        run: &RunContext,
    ) -> Result<Created, ActionError> {
        let config = K::config(instance)?;
        let (engine, docker) = &self.client.named_by(instance).await?;
        let base = K::base_name(&config, run, instance);
        let name = free_name(base, |n| async move { K::exists(docker, &n).await }).await;
        let id = K::create(docker, &name, &config, labels(run, &instance.address))
            .await
            .map_err(|e| failed(&format!("creating {} {name}", K::KIND), e))?;
        let mut outs = Map::new();
        let mut private = Map::new();
        if let Some(id) = id {
            outs.insert("id".into(), json!(id));
            private.insert("id".into(), json!(id));
        }
        outs.insert("name".into(), json!(name));
        private.insert("name".into(), json!(name));
        private.insert("engine".into(), json!(engine));
        Ok(Created {
            outs,
            private: private.into(),
        })
    }

    async fn destroy(
        &self,
        existing: Existing<'_>,
        successor: Option<&Created>,
        _run: &RunContext,
    ) -> Result<(), ActionError> {
        let key = recorded_key(existing.private);
        let Some((docker, object)) = self.client.recorded(&existing, key).await? else {
            return Ok(());
        };
        // A volume that vanished is replaced by one of the same name: the
        // record it replaces must not take the new one with it.
        if successor.is_some_and(|s| private_str(&s.private, key) == Some(object)) {
            return Ok(());
        }
        let what = format!("{} {object}", K::KIND);
        K::remove(&docker, object, &what).await
    }

    async fn read(
        &self,
        existing: Existing<'_>,
        _run: &RunContext,
    ) -> Result<Observed, ActionError> {
        let key = recorded_key(existing.private);
        let Some((docker, object)) = self.client.recorded(&existing, key).await? else {
            return Ok(Observed::AsRecorded);
        };
        let what = format!("{} {object}", K::KIND);
        still_there(K::inspect(&docker, object).await, what)
    }
}
