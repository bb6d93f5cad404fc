//! Executors carry a plan out against the outside world, one per resource
//! type behind the [`Executor`] interface, and the apply [`engine`] walks
//! the plan's graph with them. This is the only crate that creates or
//! destroys anything outside imm's own state.

pub mod config;
pub mod docker;
pub mod engine;
pub mod exec;
pub mod file;
pub mod journal;
pub mod registry;
pub mod state;
pub mod stores;

use async_trait::async_trait;
use imm_lang::diagnostics::Code;
use imm_lang::evaluate::Instance;
use imm_lang::types::{self, ResourceType};
pub use imm_planner::state::ResourceRecord;
use serde_json::{Map, Value as Json};
use std::collections::{BTreeMap, HashMap};
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
    /// What this run is, as store history notes say it: `imm apply`, or
    /// `imm config rollback to R`.
    pub purpose: String,
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
    /// An earlier create of this instance was interrupted: its object may
    /// exist although nothing records it.
    pub interrupted: bool,
    /// The outs the plan took from the artifact ledger (it goes back to a
    /// fingerprint built here before): the object to take again.
    pub reused_outs: Option<Map<String, Json>>,
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

/// A failed action: what happened, for the user (never holding a secret),
/// under a stable diagnostic code, with the fix when the executor knows one
/// better than the code's general help. The workflow reports it as it is:
/// nothing outside an executor reads its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionError {
    pub code: Code,
    pub message: String,
    /// The fix for this failure; `None` falls back to the code's help.
    pub help: Option<String>,
}

impl ActionError {
    pub fn new(code: Code, message: impl Into<String>) -> ActionError {
        ActionError {
            code,
            message: message.into(),
            help: None,
        }
    }

    /// The same failure told with more context (what was being done, the
    /// last lines of a log); its code and help stay.
    pub fn map_message(mut self, rewrite: impl FnOnce(String) -> String) -> ActionError {
        self.message = rewrite(self.message);
        self
    }

    /// The same failure with the fix that fits it.
    pub fn with_help(mut self, help: impl Into<String>) -> ActionError {
        self.help = Some(help.into());
        self
    }

    /// The fix to show: this failure's own, else the code's general help.
    pub fn help_text(&self) -> &str {
        self.help.as_deref().unwrap_or_else(|| self.code.help())
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

    /// Puts a new object that passed its tests into service: a container
    /// takes its network aliases only now, so that no client reaches it
    /// before it is healthy and tested. Out attributes that change with it
    /// (a container's address) are updated in `created`.
    async fn serve(
        &self,
        _instance: &Instance,
        _created: &mut Created,
        _run: &RunContext,
    ) -> Result<(), ActionError> {
        Ok(())
    }

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
        Err(ActionError::new(
            Code::ExecutorConfig,
            format!("{} cannot be reconfigured in place", instance.type_name),
        )
        .with_help("only a config changes in place; plan again to replace this object"))
    }
}

/// The executors available, by resource type.
#[derive(Clone, Default)]
pub struct Registry {
    by_type: HashMap<&'static str, Arc<dyn Executor>>,
    /// The Docker connection, also asked for orphans before an apply.
    pub docker: Option<Arc<docker::DockerClient>>,
}

impl Registry {
    /// The executors that need nothing but the local machine.
    pub fn local() -> Registry {
        let mut registry = Registry::default();
        registry.register(&types::file::TYPE, Arc::new(file::FileExecutor));
        registry.register(&types::exec::TYPE, Arc::new(exec::ExecExecutor));
        registry.register(&types::config::TYPE, Arc::new(config::ConfigExecutor));
        registry
    }

    /// Every executor of this version: the local ones and Docker's (which
    /// connect only when first used).
    pub fn all() -> Registry {
        let mut registry = Registry::local();
        let client = Arc::new(docker::DockerClient::new());
        registry.register(
            &types::docker_image::TYPE,
            Arc::new(docker::ImageExecutor(client.clone())),
        );
        registry.register(
            &types::docker_network::TYPE,
            Arc::new(docker::NetworkExecutor::new(client.clone())),
        );
        registry.register(
            &types::docker_volume::TYPE,
            Arc::new(docker::VolumeExecutor::new(client.clone())),
        );
        registry.register(
            &types::docker_container::TYPE,
            Arc::new(docker::ContainerExecutor(client.clone())),
        );
        registry.register(
            &types::docker_proxy::TYPE,
            Arc::new(docker::ProxyExecutor(client.clone())),
        );
        registry.register(
            &types::docker_service::TYPE,
            Arc::new(docker::ServiceExecutor(client.clone())),
        );
        registry.docker = Some(client);
        registry
    }

    pub fn register(&mut self, resource_type: &ResourceType, executor: Arc<dyn Executor>) {
        self.by_type.insert(resource_type.name(), executor);
    }

    pub fn get(&self, type_name: &str) -> Option<Arc<dyn Executor>> {
        self.by_type.get(type_name).cloned()
    }
}

/// A deadline the user may set in the environment variable `name` as a
/// duration (`"30s"`, `"5m"`); `default` when unset or not a duration.
pub(crate) fn deadline_from_env(name: &str, default: std::time::Duration) -> std::time::Duration {
    std::env::var(name)
        .ok()
        .and_then(|text| imm_lang::types::fields::duration_ns(&text).ok())
        .filter(|ns| *ns > 0)
        .map(|ns| std::time::Duration::from_nanos(ns as u64))
        .unwrap_or(default)
}

/// The failure class of a local I/O error (files, commands, the file store):
/// a refusal for lack of rights (`EACCES`, `EPERM`, a read-only file
/// system) is the user's to fix with permissions.
pub(crate) fn io_code(e: &std::io::Error) -> Code {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            Code::PermissionDenied
        }
        _ => Code::ActionFailed,
    }
}

/// An executor's typed configuration: the struct its type's home in
/// `imm_lang::types` parses from an instance, parsed once per instance
/// (kept on it: [`Instance::typed`]) whichever methods ask for it.
pub(crate) trait Configured {
    type Config: for<'a> TryFrom<&'a BTreeMap<String, imm_stdlib::Value>, Error = types::ConfigError>
        + std::any::Any
        + Send
        + Sync;

    /// The instance's configuration; a mismatch names the attribute (the
    /// planner checks the same before an apply).
    fn config(instance: &Instance) -> Result<Arc<Self::Config>, ActionError> {
        instance.typed::<Self::Config>().map_err(|e| {
            ActionError::new(Code::ExecutorConfig, format!("{}: {e}", instance.address))
        })
    }
}

/// A record's configuration as it was applied, as its type's typed struct
/// (secrets recorded as "(sensitive)"); `None` when it does not parse.
pub(crate) fn recorded_config<T>(attributes: &Json) -> Option<T>
where
    T: for<'a> TryFrom<&'a BTreeMap<String, imm_stdlib::Value>, Error = types::ConfigError>,
{
    match imm_stdlib::Value::from_json(attributes) {
        imm_stdlib::Value::Map(map) => T::try_from(&map).ok(),
        _ => None,
    }
}
