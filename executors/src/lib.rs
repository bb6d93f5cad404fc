//! Executors carry a plan out against the outside world, one per resource
//! type behind the [`Executor`] interface, and the apply [`engine`] walks
//! the plan's graph with them. This is the only crate that creates or
//! destroys anything outside imm's own state.

pub mod config;
pub mod docker;
pub mod engine;
pub mod exec;
pub mod file;
pub mod state_etcd;
pub mod stores;

use async_trait::async_trait;
use imm_lang::evaluate::Instance;
pub use imm_planner::state::ResourceRecord;
use serde_json::{Map, Value as Json};
use std::collections::HashMap;
use std::sync::Arc;

/// What an executor knows of the run it works for; every object it creates
/// is labelled with it where the outside world has labels.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub project: String,
    pub environment: String,
    pub lineage: String,
    /// The project's run-time configuration stores.
    pub stores: stores::Stores,
    /// Where a long action reports what it is doing (build output), as
    /// `(address, line)`; set by the apply engine.
    pub progress: Option<tokio::sync::mpsc::UnboundedSender<(String, String)>>,
}

impl RunContext {
    /// Reports one line of progress of `address` (ignored when nobody listens).
    pub fn report(&self, address: &str, line: &str) {
        if let Some(progress) = &self.progress {
            let _ = progress.send((address.to_string(), line.to_string()));
        }
    }
}

/// A new object: its out attributes (`id`, `sha256`, …) and what the
/// executor needs to find it again.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Created {
    pub outs: Map<String, Json>,
    pub private: Json,
}

/// What a create is asked for besides the configuration.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    /// The artifact's fingerprint (artifacts only).
    pub fingerprint: Option<String>,
    /// The object this one replaces, when it is a replacement.
    pub predecessor: Option<imm_planner::state::ResourceRecord>,
    /// Stop the predecessor before starting the new object (it publishes
    /// host ports); start it again if the new one fails.
    pub stop_first: bool,
}

/// A recorded object, as destroy and read see it.
#[derive(Debug, Clone, Copy)]
pub struct Existing<'a> {
    pub address: &'a str,
    pub type_name: &'a str,
    pub attributes: &'a Json,
    pub outs: &'a Map<String, Json>,
    pub private: &'a Json,
}

/// What a refresh found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    AsRecorded,
    /// Missing or changed outside imm: the plan replaces it.
    Drifted(String),
}

/// A failed action: what happened, for the user (never holding a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionError {
    pub message: String,
}

impl ActionError {
    pub fn new(message: impl Into<String>) -> ActionError {
        ActionError {
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ActionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The operations of one resource type. `create` returns once the object
/// exists; `test` runs the instance's tests against it (an executor whose
/// type has none accepts it); `destroy` removes a recorded object, knowing
/// the one replacing it when there is one (a file replaced at the same path
/// must not be deleted); `read` refreshes a record against what exists.
#[async_trait]
pub trait Executor: Send + Sync {
    async fn create(
        &self,
        instance: &Instance,
        request: &CreateRequest,
        run: &RunContext,
    ) -> Result<Created, ActionError>;

    async fn test(
        &self,
        _instance: &Instance,
        _created: &Created,
        _run: &RunContext,
    ) -> Result<(), ActionError> {
        Ok(())
    }

    async fn destroy(
        &self,
        existing: Existing<'_>,
        successor: Option<&Created>,
        run: &RunContext,
    ) -> Result<(), ActionError>;

    async fn read(&self, existing: Existing<'_>, run: &RunContext)
        -> Result<Observed, ActionError>;

    /// Removes a new object that failed its tests (it was never recorded).
    async fn discard(
        &self,
        instance: &Instance,
        created: &Created,
        run: &RunContext,
    ) -> Result<(), ActionError> {
        let attributes = Json::Null;
        let existing = Existing {
            address: &instance.address,
            type_name: &instance.type_name,
            attributes: &attributes,
            outs: &created.outs,
            private: &created.private,
        };
        self.destroy(existing, None, run).await
    }

    /// A new revision of run-time values (`config` only).
    async fn reconfigure(
        &self,
        instance: &Instance,
        _existing: Existing<'_>,
        _run: &RunContext,
    ) -> Result<Created, ActionError> {
        Err(ActionError::new(format!(
            "{} cannot be reconfigured in place",
            instance.type_name
        )))
    }
}

/// The executors available, by resource type.
#[derive(Clone, Default)]
pub struct Registry {
    by_type: HashMap<&'static str, Arc<dyn Executor>>,
    /// The Docker executor, also asked for orphans before an apply.
    pub docker: Option<Arc<docker::DockerExecutor>>,
}

impl Registry {
    /// The executors that need nothing but the local machine.
    pub fn local() -> Registry {
        let mut registry = Registry::default();
        registry.register("file", Arc::new(file::FileExecutor));
        registry.register("exec", Arc::new(exec::ExecExecutor));
        registry.register("config", Arc::new(config::ConfigExecutor));
        registry
    }

    /// Every executor of this version: the local ones and Docker (which
    /// connects only when first used).
    pub fn all() -> Registry {
        let mut registry = Registry::local();
        let docker = Arc::new(docker::DockerExecutor::new());
        for type_name in [
            "docker_image",
            "docker_network",
            "docker_volume",
            "docker_container",
        ] {
            registry.register(type_name, docker.clone());
        }
        registry.docker = Some(docker);
        registry
    }

    pub fn register(&mut self, type_name: &'static str, executor: Arc<dyn Executor>) {
        self.by_type.insert(type_name, executor);
    }

    pub fn get(&self, type_name: &str) -> Option<Arc<dyn Executor>> {
        self.by_type.get(type_name).cloned()
    }
}

/// A string attribute of an instance's configuration.
pub(crate) fn config_string(instance: &Instance, name: &str) -> Option<String> {
    match instance.config.get(name).map(imm_stdlib::Value::unmarked) {
        Some(imm_stdlib::Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// A list of strings, sensitive marks removed (for commands).
pub(crate) fn config_strings(value: Option<&imm_stdlib::Value>) -> Vec<String> {
    match value.map(imm_stdlib::Value::unmarked) {
        Some(imm_stdlib::Value::List(items)) => {
            items.iter().map(|i| i.unmarked().display()).collect()
        }
        _ => Vec::new(),
    }
}
