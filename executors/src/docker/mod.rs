//! The Docker resource types on a Docker Engine, through bollard, one
//! executor per type (`image.rs`, `container.rs`, `proxy.rs`,
//! `service.rs`; `network.rs` and `volume.rs` through the generic one of
//! `named.rs`) sharing one [`DockerClient`]. What each type means (its
//! typed configuration, the names of its objects) is in
//! `imm_lang::types`; this module only talks to the daemon.
//!
//! Pitfalls of the daemon (API 1.41) and bollard 0.21 that shape the code:
//! requests go unversioned; `build_image` always needs a tar; image labels
//! leak into containers, so ownership labels go on containers, networks and
//! volumes only; one network per create on API < 1.44, the others are
//! connected before start.

mod container;
mod image;
mod named;
mod network;
mod proxy;
mod reload;
mod running;
mod service;
mod swarm;
mod volume;

pub use container::ContainerExecutor;
pub use image::ImageExecutor;
pub use network::NetworkExecutor;
pub use proxy::ProxyExecutor;
pub use service::ServiceExecutor;
pub use volume::VolumeExecutor;

use crate::{ActionError, Created, Observed, RunContext};
use bollard::errors::Error as DockerError;
use bollard::query_parameters::{
    ListContainersOptions, ListNetworksOptions, ListVolumesOptions, LogsOptions,
    RemoveContainerOptions,
};
use bollard::Docker;
use futures_util::StreamExt;
use imm_lang::diagnostics::Code;
use imm_lang::evaluate::Instance;
use imm_lang::types::engine::{Endpoint, EngineSpec, TlsSpec};
use imm_planner::state::State;
use serde_json::Value as Json;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

const LABEL_PROJECT: &str = "imm.project";
const LABEL_ENV: &str = "imm.env";
const LABEL_ADDRESS: &str = "imm.address";
const LABEL_LINEAGE: &str = "imm.lineage";
const LABEL_FINGERPRINT: &str = "imm.fingerprint";
/// How long a test command may run.
const TEST_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a call that lasts as long as its work (a build's stream, a
/// test, a graceful stop) may take.
const LONG_CALL: Duration = Duration::from_secs(900);
/// How long any other call to the daemon may take, by default.
const CALL_DEADLINE: Duration = Duration::from_secs(60);

/// The deadline of one call to the daemon: `IMM_DOCKER_TIMEOUT` (`"30s"`,
/// `"2m"`), or [`CALL_DEADLINE`].
fn call_deadline() -> Duration {
    crate::deadline_from_env("IMM_DOCKER_TIMEOUT", CALL_DEADLINE)
}

/// The same connection with room for a call that lasts as long as its work.
fn patient(docker: &Docker) -> Docker {
    docker.clone().with_timeout(LONG_CALL.max(call_deadline()))
}

async fn connect_local() -> Result<Docker, ActionError> {
    let docker = Docker::connect_with_local_defaults()
        .map_err(unreachable)?
        .with_timeout(call_deadline());
    // A no-op in bollard 0.21 (it sends no version), correct after its fix.
    let docker = docker.negotiate_version().await.map_err(unreachable)?;
    docker.ping().await.map_err(unreachable)?;
    Ok(docker)
}

/// One endpoint of a declared engine, checked with a ping: `tls` (the
/// engine's client certificates) makes a `tcp://` endpoint speak TLS.
async fn connect(endpoint: &Endpoint, tls: Option<&TlsSpec>) -> Result<Docker, String> {
    let seconds = call_deadline().as_secs().max(1);
    let docker = match (endpoint, tls) {
        (Endpoint::Unix(path), _) => {
            Docker::connect_with_socket(path, seconds, bollard::API_DEFAULT_VERSION)
        }
        (Endpoint::Tcp(address), None) => Docker::connect_with_http(
            &format!("http://{address}"),
            seconds,
            bollard::API_DEFAULT_VERSION,
        ),
        (Endpoint::Tcp(address), Some(tls)) => Docker::connect_with_ssl(
            &format!("https://{address}"),
            &tls.key,
            &tls.cert,
            &tls.ca,
            seconds,
            bollard::API_DEFAULT_VERSION,
        ),
        (Endpoint::Ssh(destination), _) => Docker::connect_with_ssh(
            &format!("ssh://{destination}"),
            seconds,
            bollard::API_DEFAULT_VERSION,
            None,
        ),
    }
    .map_err(|e| e.to_string())?;
    // A dead endpoint must not hold the run for the whole call deadline
    // (ssh gets longer: it logs in first).
    let patience = match endpoint {
        Endpoint::Ssh(_) => Duration::from_secs(15),
        _ => Duration::from_secs(5),
    };
    let quick = docker.clone().with_timeout(patience);
    quick.ping().await.map_err(|e| docker_message(&e))?;
    Ok(docker.with_timeout(call_deadline()))
}

/// The first endpoint of a declared engine that answers; when it is a swarm
/// manager, once the swarm has a leader again (after losing a manager, the
/// others answer before they have elected one, and refuse swarm calls).
async fn first_answering(spec: &EngineSpec) -> Result<Docker, ActionError> {
    let mut failures = Vec::new();
    for endpoint in &spec.endpoints {
        match connect(endpoint, spec.tls.as_ref()).await {
            Ok(docker) => {
                wait_for_leader(&docker).await;
                return Ok(docker);
            }
            Err(e) => failures.push(format!("{endpoint}: {e}")),
        }
    }
    Err(ActionError::new(
        Code::DaemonUnreachable,
        format!(
            "no endpoint of {} answers ({})",
            spec.describe(),
            failures.join("; ")
        ),
    )
    .with_help("start its engines, or fix the endpoints of its engine block"))
}

/// Waits (up to the call deadline) while the engine is a swarm manager
/// without a leader; returns at once for an engine outside a swarm.
async fn wait_for_leader(docker: &Docker) {
    let deadline = tokio::time::Instant::now() + call_deadline();
    while tokio::time::Instant::now() < deadline {
        match docker.inspect_swarm().await {
            Err(e) if leaderless(&e) => tokio::time::sleep(Duration::from_millis(500)).await,
            _ => return,
        }
    }
}

/// A swarm call refused because the managers are electing a leader.
fn leaderless(e: &DockerError) -> bool {
    let message = docker_message(e);
    [
        "does not have a leader",
        "code = DeadlineExceeded",
        "code = Unavailable",
    ]
    .iter()
    .any(|sign| message.contains(sign))
}

/// A quick ping: whether the connection in use still answers.
async fn answers(docker: &Docker) -> bool {
    docker
        .clone()
        .with_timeout(Duration::from_secs(5))
        .ping()
        .await
        .is_ok()
}

/// The engine a recorded object lives on: its recorded configuration's
/// `engine`, else the one its executor kept in the private record.
fn existing_engine(existing: &crate::Existing<'_>) -> Option<String> {
    engine_in_json(existing.attributes)
        .or_else(|| private_str(existing.private, "engine").map(str::to_string))
}

/// The engine named by a configuration as JSON (a plan's `after`, a
/// record's attributes).
pub fn engine_in_json(attributes: &Json) -> Option<String> {
    attributes
        .get("engine")
        .and_then(|e| e.get("name"))
        .and_then(Json::as_str)
        .map(str::to_string)
}

/// The engine an instance's configuration names.
fn instance_engine(instance: &Instance) -> Result<Option<String>, ActionError> {
    imm_lang::types::engine::engine_of(&instance.config)
        .map_err(|e| ActionError::new(Code::ExecutorConfig, e.to_string()))
}

fn docker_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

/// The connections to the engines a run deploys to, shared by the Docker
/// executors: the local engine (`DOCKER_HOST` or the default socket) and
/// each `engine` block's, each opened on first use (projects without
/// Docker resources never touch one).
#[derive(Default)]
pub struct DockerClient {
    /// The evaluated `engine` blocks, by name.
    engines: std::sync::RwLock<HashMap<String, EngineSpec>>,
    /// By engine name, "" for the local engine.
    connections: std::sync::Mutex<HashMap<String, Arc<OnceCell<Docker>>>>,
    /// One lock per served proxy name: its list of containers changes one
    /// change at a time (replicas switch in parallel).
    proxy_locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Credentials of image registries (`registry` blocks), by address.
    registry_credentials: std::sync::RwLock<HashMap<String, crate::registry::Credentials>>,
}

impl DockerClient {
    pub fn new() -> DockerClient {
        DockerClient::default()
    }

    /// The project's `engine` blocks, evaluated for this run's environment.
    pub fn set_engines(&self, engines: impl IntoIterator<Item = EngineSpec>) {
        let mut known = self
            .engines
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        known.clear();
        known.extend(engines.into_iter().map(|e| (e.name.clone(), e)));
    }

    /// The credentials of the project's `registry` blocks, by address.
    pub fn set_registry_credentials(
        &self,
        credentials: impl IntoIterator<Item = (String, crate::registry::Credentials)>,
    ) {
        let mut known = self
            .registry_credentials
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        known.clear();
        known.extend(credentials);
    }

    /// What the daemon is given to pull `reference` (`None`: anonymously).
    pub fn credentials_for(&self, reference: &str) -> Option<bollard::auth::DockerCredentials> {
        let image = crate::registry::ImageRef::parse(reference).ok()?;
        let known = self
            .registry_credentials
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let credentials = known.get(&image.registry)?;
        Some(bollard::auth::DockerCredentials {
            username: Some(credentials.username.clone()),
            password: Some(credentials.password.clone()),
            serveraddress: Some(image.registry.clone()),
            ..Default::default()
        })
    }

    /// Whether the local engine or a declared one has an image of this name
    /// that no registry knows of (built there, never pushed or pulled):
    /// such an image is used as it is, not locked.
    pub async fn has_local_only_image(&self, name: &str) -> bool {
        let declared: Vec<String> = self
            .engines
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keys()
            .cloned()
            .collect();
        let engines = std::iter::once(None).chain(declared.iter().map(|e| Some(e.as_str())));
        for engine in engines {
            let Ok(docker) = self.engine(engine).await else {
                continue;
            };
            if let Ok(image) = docker.inspect_image(name).await {
                if image.repo_digests.unwrap_or_default().is_empty() {
                    return true;
                }
            }
        }
        false
    }

    /// The engine `name` (`None`: the local engine).
    pub fn spec(&self, name: Option<&str>) -> Result<EngineSpec, ActionError> {
        let Some(name) = name else {
            return Ok(EngineSpec::local());
        };
        let known = self
            .engines
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        known.get(name).cloned().ok_or_else(|| {
            ActionError::new(
                Code::ExecutorConfig,
                format!("engine \"{name}\" is not declared"),
            )
            .with_help(format!(
                "add an engine \"{name}\" {{ endpoints = [...] }} block to the root module"
            ))
        })
    }

    /// The object a record names under `key` of its private part (`id`,
    /// `name`) and a connection to the engine it lives on; `None` when the
    /// record names none (nothing was created).
    async fn recorded<'e>(
        &self,
        existing: &crate::Existing<'e>,
        key: &str,
    ) -> Result<Option<(Docker, &'e str)>, ActionError> {
        let Some(object) = private_str(existing.private, key) else {
            return Ok(None);
        };
        let docker = self.engine(existing_engine(existing).as_deref()).await?;
        Ok(Some((docker, object)))
    }

    /// A connection to the engine an instance's configuration names.
    async fn for_instance(&self, instance: &Instance) -> Result<Docker, ActionError> {
        self.engine(instance_engine(instance)?.as_deref()).await
    }

    /// The engine an instance's configuration names (`None`: the local
    /// one), to record, and a connection to it.
    async fn named_by(&self, instance: &Instance) -> Result<(Option<String>, Docker), ActionError> {
        let engine = instance_engine(instance)?;
        let docker = self.engine(engine.as_deref()).await?;
        Ok((engine, docker))
    }

    fn proxy_lock(&self, served: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .proxy_locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.entry(served.to_string()).or_default().clone()
    }

    /// The connection to an engine: for a declared one, the first of its
    /// endpoints that answers (a swarm's managers, so losing one is fine).
    /// When the endpoint in use stops answering during a run, the next
    /// call chooses again.
    pub async fn engine(&self, name: Option<&str>) -> Result<Docker, ActionError> {
        let spec = self.spec(name)?;
        let mut cell = self.connection(&spec.name);
        if let Some(docker) = cell.get() {
            if spec.endpoints.len() < 2 || answers(docker).await {
                return Ok(docker.clone());
            }
            self.forget(&spec.name, &cell);
            cell = self.connection(&spec.name);
        }
        let docker = cell
            .get_or_try_init(|| async {
                if spec.endpoints.is_empty() {
                    return connect_local().await;
                }
                first_answering(&spec).await
            })
            .await?;
        Ok(docker.clone())
    }

    fn connection(&self, engine: &str) -> Arc<OnceCell<Docker>> {
        let mut connections = self
            .connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        connections.entry(engine.to_string()).or_default().clone()
    }

    /// Drops the connection `lost` unless another call replaced it already.
    fn forget(&self, engine: &str, lost: &Arc<OnceCell<Docker>>) {
        let mut connections = self
            .connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if connections
            .get(engine)
            .is_some_and(|c| Arc::ptr_eq(c, lost))
        {
            connections.remove(engine);
        }
    }

    /// A connection to each endpoint of an engine that answers (to load an
    /// image into every node), and the endpoints that do not: a lost node
    /// gets no task until it is back, and then the next image.
    pub async fn every_endpoint(
        &self,
        name: &str,
    ) -> Result<(Vec<(String, Docker)>, Vec<String>), ActionError> {
        let spec = self.spec(Some(name))?;
        let mut reachable = Vec::new();
        let mut lost = Vec::new();
        for endpoint in &spec.endpoints {
            match connect(endpoint, spec.tls.as_ref()).await {
                Ok(docker) => reachable.push((endpoint.to_string(), docker)),
                Err(e) => lost.push(format!("{endpoint} ({e})")),
            }
        }
        Ok((reachable, lost))
    }

    /// Objects labelled for this project, environment and state lineage
    /// that state does not know (left by a crash between creating them and recording
    /// them): containers and networks are removed, volumes only reported
    /// (they hold data). Returns one line per object.
    pub async fn sweep_orphans(
        &self,
        engine: Option<&str>,
        state: &State,
        run: &RunContext,
    ) -> Result<Vec<String>, ActionError> {
        let docker = &self.engine(engine).await?;
        let known = known_object_ids(state);
        let filters = HashMap::from([(
            "label".to_string(),
            vec![
                format!("{LABEL_PROJECT}={}", run.project),
                format!("{LABEL_ENV}={}", run.environment),
                // Only this state history's: another checkout of the same
                // project (another lineage) owns its objects itself.
                format!("{LABEL_LINEAGE}={}", run.lineage),
            ],
        )]);
        let mut found = Vec::new();
        let containers = docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters.clone()),
                ..Default::default()
            }))
            .await
            .map_err(|e| failed("listing containers", e))?;
        for c in containers {
            // A service's task: Swarm owns it, the service is swept below.
            if c.labels
                .as_ref()
                .is_some_and(|l| l.contains_key("com.docker.swarm.service.id"))
            {
                continue;
            }
            let id = c.id.unwrap_or_default();
            let name = first_name(c.names.as_deref());
            if known.contains(&id) || known.contains(&name) {
                continue;
            }
            remove_container(docker, &id).await?;
            found.push(format!(
                "removed container {name} ({})",
                address_label(&c.labels)
            ));
        }
        let networks = docker
            .list_networks(Some(ListNetworksOptions {
                filters: Some(filters.clone()),
            }))
            .await
            .map_err(|e| failed("listing networks", e))?;
        for n in networks {
            let id = n.id.unwrap_or_default();
            let name = n.name.unwrap_or_default();
            if known.contains(&id) || known.contains(&name) {
                continue;
            }
            match docker.remove_network(&id).await {
                Ok(()) => found.push(format!(
                    "removed network {name} ({})",
                    address_label(&n.labels)
                )),
                Err(e) if status(&e) == Some(404) => {}
                Err(e) => return Err(failed(&format!("removing network {name}"), e)),
            }
        }
        found.extend(service::sweep(docker, &filters, &known).await?);
        let volumes = docker
            .list_volumes(Some(ListVolumesOptions {
                filters: Some(filters),
            }))
            .await
            .map_err(|e| failed("listing volumes", e))?;
        for v in volumes.volumes.unwrap_or_default() {
            if !known.contains(&v.name) {
                found.push(format!(
                    "kept volume {} ({}): it is not in state; remove it with `docker volume rm {}` if its data is not needed",
                    v.name,
                    address_label(&Some(v.labels.clone())),
                    v.name
                ));
            }
        }
        Ok(found)
    }
}

/// Every id and name state knows, current and deposed, and those released
/// by `imm state rm`.
fn known_object_ids(state: &State) -> HashSet<String> {
    let mut known: HashSet<String> = state.released.iter().cloned().collect();
    let mut add = |private: &Json| {
        for key in ["id", "name"] {
            if let Some(v) = private.get(key).and_then(Json::as_str) {
                known.insert(v.to_string());
            }
        }
        // A service's configs and secrets.
        for key in ["configs", "secrets"] {
            let ids = private
                .get(key)
                .and_then(Json::as_array)
                .into_iter()
                .flatten();
            known.extend(ids.filter_map(Json::as_str).map(str::to_string));
        }
    };
    for record in &state.resources {
        add(&record.private);
        for deposed in &record.deposed {
            add(&deposed.private);
        }
    }
    known
}

/// A removal, where an object already gone counts as removed.
fn removed(result: Result<(), DockerError>, what: &str) -> Result<(), ActionError> {
    match result {
        Ok(()) => Ok(()),
        Err(e) if status(&e) == Some(404) => Ok(()),
        Err(e) => Err(failed(&format!("removing {what}"), e)),
    }
}

/// What an inspect of a recorded object says: there, gone, or an error.
fn still_there<T>(
    inspected: Result<T, DockerError>,
    what: String,
) -> Result<Observed, ActionError> {
    match inspected {
        Ok(_) => Ok(Observed::AsRecorded),
        Err(e) if status(&e) == Some(404) => {
            Ok(Observed::Drifted(format!("{what} no longer exists")))
        }
        Err(e) => Err(failed(&format!("inspecting {what}"), e)),
    }
}

fn address_label(labels: &Option<HashMap<String, String>>) -> String {
    labels
        .as_ref()
        .and_then(|l| l.get(LABEL_ADDRESS))
        .cloned()
        .unwrap_or_else(|| "no address".into())
}

fn first_name(names: Option<&[String]>) -> String {
    names
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_default()
}

/// A failure to reach the daemon at all (connecting, the first ping).
fn unreachable(e: DockerError) -> ActionError {
    let code = match classify(&e) {
        Code::ActionTimeout => return timed_out(format!("the Docker daemon at {}", docker_host())),
        Code::PermissionDenied => Code::PermissionDenied,
        _ => Code::DaemonUnreachable,
    };
    ActionError::new(
        code,
        format!(
            "cannot reach the Docker daemon at {} ({})",
            docker_host(),
            with_causes(&e)
        ),
    )
    .with_help(help_for(code))
}

/// A call to the daemon that failed while doing `what`, under the code
/// [`classify`] gives it.
fn failed(what: &str, e: DockerError) -> ActionError {
    match classify(&e) {
        Code::ActionTimeout => timed_out(format!("{what}: the Docker daemon at {}", docker_host())),
        code => ActionError::new(code, format!("{what}: {}", docker_message(&e)))
            .with_help(help_for(code)),
    }
}

/// The one classification of the daemon's errors, shared by every Docker
/// call site: which failure class an error of bollard is.
fn classify(e: &DockerError) -> Code {
    if io_error_kind(e) == Some(std::io::ErrorKind::PermissionDenied) {
        return Code::PermissionDenied;
    }
    match e {
        DockerError::RequestTimeoutError => Code::ActionTimeout,
        DockerError::DockerResponseServerError {
            status_code,
            message,
        } => match status_code {
            404 => Code::ObjectMissing,
            409 => Code::Conflict,
            401 | 403 => Code::PermissionDenied,
            // A host port another process or container holds.
            _ if message.contains("port is already allocated")
                || message.contains("address already in use") =>
            {
                Code::Conflict
            }
            _ => Code::ActionFailed,
        },
        DockerError::SocketNotFoundError(_)
        | DockerError::IOError { .. }
        | DockerError::HyperLegacyError { .. }
        | DockerError::HyperResponseError { .. }
        | DockerError::HttpClientError { .. } => Code::DaemonUnreachable,
        _ => Code::ActionFailed,
    }
}

/// The kind of the I/O error under a bollard error, if one caused it.
fn io_error_kind(e: &DockerError) -> Option<std::io::ErrorKind> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(inner) = cause {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        cause = inner.source();
    }
    None
}

/// The fix for a class of the daemon's failures, where the code's general
/// help does not say it for Docker.
fn help_for(code: Code) -> String {
    match code {
        Code::DaemonUnreachable => format!(
            "is Docker running? Start it (e.g. `sudo service docker start`), or set DOCKER_HOST to where it listens (now {})",
            docker_host()
        ),
        Code::PermissionDenied => "run imm as a user of the `docker` group (or root), or give it access to the daemon's socket".into(),
        code => code.help().into(),
    }
}

/// A call that ran out of time: the daemon is frozen or overloaded.
fn timed_out(what: String) -> ActionError {
    ActionError::new(
        Code::ActionTimeout,
        format!("{what} did not answer within {} s", call_deadline().as_secs_f64()),
    )
    .with_help("check that the daemon is not frozen or overloaded, or give it longer with IMM_DOCKER_TIMEOUT (e.g. \"5m\")")
}

fn docker_message(e: &DockerError) -> String {
    match e {
        DockerError::DockerResponseServerError { message, .. } => message.clone(),
        other => with_causes(other),
    }
}

/// An error and what caused it, each once: a failed connection says why
/// (refused, a certificate not trusted, an ssh login denied), not only that
/// the client failed.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(inner) = cause {
        let part = inner.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = inner.source();
    }
    text
}

fn status(e: &DockerError) -> Option<u16> {
    match e {
        DockerError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// The id of an object just created.
fn created_id(created: &Created) -> &str {
    created
        .outs
        .get("id")
        .and_then(Json::as_str)
        .unwrap_or_default()
}

fn labels(run: &RunContext, address: &str) -> HashMap<String, String> {
    HashMap::from([
        (LABEL_PROJECT.to_string(), run.project.clone()),
        (LABEL_ENV.to_string(), run.environment.clone()),
        (LABEL_ADDRESS.to_string(), address.to_string()),
        (LABEL_LINEAGE.to_string(), run.lineage.clone()),
    ])
}

fn short_random() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..6].to_string()
}

fn private_str<'a>(private: &'a Json, key: &str) -> Option<&'a str> {
    private.get(key).and_then(Json::as_str)
}

/// `base`, or `base-<random>` while that is taken (a replacement created
/// beside the object it replaces).
async fn free_name<F, Fut>(base: String, taken: F) -> String
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    if !taken(base.clone()).await {
        return base;
    }
    loop {
        let candidate = format!("{base}-{}", short_random());
        if !taken(candidate.clone()).await {
            return candidate;
        }
    }
}

async fn remove_container(docker: &Docker, id: &str) -> Result<(), ActionError> {
    let options = RemoveContainerOptions {
        force: true,
        ..Default::default()
    };
    removed(
        docker.remove_container(id, Some(options)).await,
        &format!("container {id}"),
    )
}

/// The last lines a container printed, for an error message.
async fn log_tail(docker: &Docker, id: &str) -> String {
    let mut stream = docker.logs(
        id,
        Some(LogsOptions {
            stdout: true,
            stderr: true,
            tail: "20".into(),
            ..Default::default()
        }),
    );
    let mut text = String::new();
    while let Some(Ok(chunk)) = stream.next().await {
        text.push_str(&chunk.to_string());
    }
    let text = text.trim_end();
    if text.is_empty() {
        String::new()
    } else {
        format!("\nlast output:\n{text}")
    }
}

/// Runs `command` inside a running container: its exit status and what it
/// printed (stdout and stderr), within [`TEST_TIMEOUT`].
async fn run_in(
    docker: &Docker,
    id: &str,
    command: &[String],
) -> Result<(i64, String), ActionError> {
    let exec = docker
        .create_exec(
            id,
            bollard::models::ExecConfig {
                cmd: Some(command.to_vec()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| failed(&format!("starting `{}`", command.join(" ")), e))?;
    let mut output = String::new();
    let started = patient(docker)
        .start_exec(&exec.id, None)
        .await
        .map_err(|e| failed(&format!("starting `{}`", command.join(" ")), e))?;
    if let bollard::exec::StartExecResults::Attached {
        output: mut stream, ..
    } = started
    {
        let collect = async {
            while let Some(Ok(chunk)) = stream.next().await {
                output.push_str(&chunk.to_string());
            }
        };
        if tokio::time::timeout(TEST_TIMEOUT, collect).await.is_err() {
            return Err(ActionError::new(
                Code::ActionTimeout,
                format!(
                    "`{}` ran longer than {} s",
                    command.join(" "),
                    TEST_TIMEOUT.as_secs()
                ),
            )
            .with_help("make the command finish sooner: it runs inside the container"));
        }
    }
    let code = docker
        .inspect_exec(&exec.id)
        .await
        .map_err(|e| failed(&format!("reading the result of `{}`", command.join(" ")), e))?
        .exit_code
        .unwrap_or(-1);
    Ok((code, output))
}

/// A container's or a service's ulimits as the Engine API takes them.
fn ulimits(
    settings: &imm_lang::types::settings::Settings,
) -> Vec<bollard::models::ResourcesUlimits> {
    settings
        .ulimits
        .iter()
        .map(|u| bollard::models::ResourcesUlimits {
            name: Some(u.name.clone()),
            soft: Some(u.soft),
            hard: Some(u.hard),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn local_socket() -> PathBuf {
        let host = docker_host();
        PathBuf::from(
            host.strip_prefix("unix://")
                .unwrap_or("/var/run/docker.sock"),
        )
    }

    /// A socket that forwards to the local daemon until `shut` fires: an
    /// endpoint that is lost in the middle of a run.
    fn forwarder(front: PathBuf, daemon: PathBuf) -> tokio::sync::watch::Sender<bool> {
        let (shut, watch) = tokio::sync::watch::channel(false);
        let listener = tokio::net::UnixListener::bind(&front).expect("bind the front socket");
        tokio::spawn(async move {
            let mut accept_watch = watch.clone();
            loop {
                let inbound = tokio::select! {
                    accepted = listener.accept() => accepted,
                    _ = accept_watch.changed() => return,
                };
                let Ok((mut inbound, _)) = inbound else {
                    return;
                };
                let daemon = daemon.clone();
                let mut connection_watch = watch.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::UnixStream::connect(&daemon).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = connection_watch.changed() => {}
                    }
                });
            }
        });
        shut
    }

    #[tokio::test]
    async fn an_endpoint_lost_mid_run_is_replaced_by_the_next_that_answers() {
        let daemon = local_socket();
        let reachable = Docker::connect_with_local_defaults()
            .map(|d| d.with_timeout(Duration::from_secs(5)))
            .ok();
        let Some(reachable) = reachable else {
            panic!("this test needs a running Docker Engine (docker info); start dockerd");
        };
        assert!(
            reachable.ping().await.is_ok(),
            "this test needs a running Docker Engine at {} (docker info); start dockerd",
            daemon.display()
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let front = dir.path().join("first.sock");
        let shut = forwarder(front.clone(), daemon.clone());
        let client = DockerClient::new();
        client.set_engines([EngineSpec {
            name: "pair".into(),
            endpoints: vec![
                Endpoint::Unix(front.to_string_lossy().into_owned()),
                Endpoint::Unix(daemon.to_string_lossy().into_owned()),
            ],
            tls: None,
            registry: None,
        }]);
        let first = client
            .engine(Some("pair"))
            .await
            .expect("the first endpoint");
        assert!(first.ping().await.is_ok(), "through the first endpoint");

        // The first endpoint is lost: its socket and every connection.
        let _ = shut.send(true);
        let _ = std::fs::remove_file(&front);
        assert!(first.ping().await.is_err(), "the first endpoint is gone");
        let next = client
            .engine(Some("pair"))
            .await
            .expect("the run goes on through the next endpoint");
        assert!(
            next.ping().await.is_ok(),
            "the connection now in use answers (the second endpoint)"
        );
    }
}
