//! The Docker resource types on a Docker Engine, through bollard:
//! `docker_image` (built from a tar of its context with the classic
//! builder, tagged `imm/<name>:<fp12>`, reused when that fingerprint
//! exists, tested in throwaway containers), `docker_network`,
//! `docker_volume` and `docker_container` (blue/green: the new container
//! starts beside the old one under the same aliases, must become healthy
//! and pass its tests, and the old one is disconnected, stopped and
//! removed only then).
//!
//! Pitfalls of this daemon (API 1.41) and bollard 0.21 are in
//! `../shared/notes/executors.md`: requests go unversioned; `build_image`
//! always needs a tar; image labels leak into containers, so ownership
//! labels go on containers, networks and volumes only; one network per
//! create on API < 1.44, the others are connected before start.

use crate::{
    config_string, config_strings, ActionError, CreateRequest, Created, Executor, Existing,
    Observed, RunContext,
};
use async_trait::async_trait;
use bollard::errors::Error as DockerError;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HealthStatusEnum, HostConfig, Mount,
    MountType, NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest,
    NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum, VolumeCreateRequest,
};
use bollard::query_parameters::{
    BuildImageOptions, CreateContainerOptions, InspectContainerOptions, ListContainersOptions,
    ListImagesOptions, ListNetworksOptions, ListVolumesOptions, LogsOptions,
    RemoveContainerOptions, RemoveImageOptions, StopContainerOptions, UploadToContainerOptions,
};
use bollard::Docker;
use futures_util::StreamExt;
use imm_lang::evaluate::{Instance, InstanceKey};
use imm_planner::state::State;
use imm_stdlib::Value;
use serde_json::{json, Map, Value as Json};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

const LABEL_PROJECT: &str = "imm.project";
const LABEL_ENV: &str = "imm.env";
const LABEL_ADDRESS: &str = "imm.address";
const LABEL_LINEAGE: &str = "imm.lineage";
const LABEL_FINGERPRINT: &str = "imm.fingerprint";
/// Seconds a container gets to stop before it is killed, by default.
const STOP_TIMEOUT: i32 = 10;
/// How long a test command may run.
const TEST_TIMEOUT: Duration = Duration::from_secs(300);

/// One connection to the daemon, opened on first use (projects without
/// Docker resources never touch it).
#[derive(Default)]
pub struct DockerExecutor {
    client: OnceCell<Docker>,
}

impl DockerExecutor {
    pub fn new() -> DockerExecutor {
        DockerExecutor::default()
    }

    async fn docker(&self) -> Result<&Docker, ActionError> {
        self.client
            .get_or_try_init(|| async {
                let docker = Docker::connect_with_local_defaults().map_err(unreachable)?;
                // A no-op in bollard 0.21 (it sends no version), correct after its fix.
                let docker = docker.negotiate_version().await.map_err(unreachable)?;
                docker.ping().await.map_err(unreachable)?;
                Ok(docker.with_timeout(Duration::from_secs(900)))
            })
            .await
    }

    /// Objects labelled for this project, environment and state lineage
    /// that state does not know (left by a crash between creating them and recording
    /// them): containers and networks are removed, volumes only reported
    /// (they hold data). Returns one line per object.
    pub async fn sweep_orphans(
        &self,
        state: &State,
        run: &RunContext,
    ) -> Result<Vec<String>, ActionError> {
        let docker = self.docker().await?;
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
    };
    for record in &state.resources {
        add(&record.private);
        for deposed in &record.deposed {
            add(&deposed.private);
        }
    }
    known
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

fn unreachable(e: DockerError) -> ActionError {
    let host =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    ActionError::new(format!(
        "cannot reach the Docker daemon at {host} ({e}); is Docker running? Start it (e.g. `sudo service docker start`), or set DOCKER_HOST to where it listens"
    ))
}

fn failed(what: &str, e: DockerError) -> ActionError {
    ActionError::new(format!("{what}: {}", docker_message(&e)))
}

fn docker_message(e: &DockerError) -> String {
    match e {
        DockerError::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

fn status(e: &DockerError) -> Option<u16> {
    match e {
        DockerError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// `[a-z0-9_.-]`, as Docker names and image repositories allow.
pub fn sanitize(text: &str) -> String {
    let cleaned: String = text
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = cleaned.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.is_empty() {
        "x".into()
    } else {
        trimmed.to_string()
    }
}

/// The `name` attribute, or the resource's name.
fn declared_name(instance: &Instance) -> String {
    config_string(instance, "name").unwrap_or_else(|| instance.name.clone())
}

/// The id of an object just created.
fn created_id(created: &Created) -> &str {
    created
        .outs
        .get("id")
        .and_then(Json::as_str)
        .unwrap_or_default()
}

/// `<project>-<env>-<name>`: two environments of one project, or two
/// projects, never collide on one daemon.
fn object_name(run: &RunContext, name: &str) -> String {
    format!(
        "{}-{}-{}",
        sanitize(&run.project),
        sanitize(&run.environment),
        sanitize(name)
    )
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

fn block<'a>(
    instance: &'a Instance,
    name: &str,
) -> Option<&'a std::collections::BTreeMap<String, Value>> {
    match instance.config.get(name).map(Value::unmarked) {
        Some(Value::Map(m)) => Some(m),
        _ => None,
    }
}

fn blocks<'a>(
    instance: &'a Instance,
    name: &str,
) -> Vec<&'a std::collections::BTreeMap<String, Value>> {
    match instance.config.get(name).map(Value::unmarked) {
        Some(Value::List(items)) => items
            .iter()
            .filter_map(|i| match i.unmarked() {
                Value::Map(m) => Some(m),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn text(map: &std::collections::BTreeMap<String, Value>, key: &str) -> Option<String> {
    match map.get(key).map(Value::unmarked) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(imm_stdlib::value::format_number(*n)),
        _ => None,
    }
}

/// The plain strings of a map attribute (secrets unmarked: they go to the daemon).
fn string_map(value: Option<&Value>) -> Vec<(String, String)> {
    match value.map(Value::unmarked) {
        Some(Value::Map(m)) => m
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().unmark_deep().0.display()))
            .collect(),
        _ => Vec::new(),
    }
}

#[async_trait]
impl Executor for DockerExecutor {
    async fn create(
        &self,
        instance: &Instance,
        request: &CreateRequest,
        run: &RunContext,
    ) -> Result<Created, ActionError> {
        let docker = self.docker().await?;
        match instance.type_name.as_str() {
            "docker_image" => image::create(docker, instance, request, run).await,
            "docker_network" => create_network(docker, instance, run).await,
            "docker_volume" => create_volume(docker, instance, run).await,
            "docker_container" => container::create(docker, instance, request, run).await,
            other => Err(ActionError::new(format!(
                "{other} is not a Docker resource"
            ))),
        }
    }

    async fn test(
        &self,
        instance: &Instance,
        created: &Created,
        run: &RunContext,
    ) -> Result<(), ActionError> {
        let docker = self.docker().await?;
        match instance.type_name.as_str() {
            "docker_image" => image::test(docker, instance, created, run).await,
            "docker_container" => container::test(docker, instance, created).await,
            _ => Ok(()),
        }
    }

    async fn destroy(
        &self,
        existing: Existing<'_>,
        successor: Option<&Created>,
        _run: &RunContext,
    ) -> Result<(), ActionError> {
        let docker = self.docker().await?;
        match existing.type_name {
            "docker_image" => image::destroy(docker, existing, successor).await,
            "docker_network" => {
                let Some(id) = private_str(existing.private, "id") else {
                    return Ok(());
                };
                match docker.remove_network(id).await {
                    Ok(()) => Ok(()),
                    Err(e) if status(&e) == Some(404) => Ok(()),
                    Err(e) => Err(failed(&format!("removing network {id}"), e)),
                }
            }
            "docker_volume" => {
                let Some(name) = private_str(existing.private, "name") else {
                    return Ok(());
                };
                match docker
                    .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>)
                    .await
                {
                    Ok(()) => Ok(()),
                    Err(e) if status(&e) == Some(404) => Ok(()),
                    Err(e) => Err(failed(&format!("removing volume {name}"), e)),
                }
            }
            "docker_container" => container::retire(docker, existing).await,
            other => Err(ActionError::new(format!(
                "{other} is not a Docker resource"
            ))),
        }
    }

    async fn discard(
        &self,
        instance: &Instance,
        created: &Created,
        _run: &RunContext,
    ) -> Result<(), ActionError> {
        let docker = self.docker().await?;
        match instance.type_name.as_str() {
            "docker_image" => {
                // A failed test leaves no tag; a reused image was tested before.
                let reused = created.private.get("reused").and_then(Json::as_bool) == Some(true);
                match private_str(&created.private, "tag") {
                    Some(tag) if !reused => image::remove_tag(docker, tag)
                        .await
                        .map_err(|e| failed(&format!("removing image {tag}"), e)),
                    _ => Ok(()),
                }
            }
            "docker_container" => match private_str(&created.private, "id") {
                Some(id) => remove_container(docker, id).await,
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    async fn read(
        &self,
        existing: Existing<'_>,
        _run: &RunContext,
    ) -> Result<Observed, ActionError> {
        let docker = self.docker().await?;
        match existing.type_name {
            "docker_image" => match existing.outs.get("id").and_then(Json::as_str) {
                Some(id) => still_there(docker.inspect_image(id).await, format!("image {id}")),
                None => Ok(Observed::AsRecorded),
            },
            "docker_network" => match private_str(existing.private, "id") {
                Some(id) => still_there(
                    docker
                        .inspect_network(
                            id,
                            None::<bollard::query_parameters::InspectNetworkOptions>,
                        )
                        .await,
                    format!("network {id}"),
                ),
                None => Ok(Observed::AsRecorded),
            },
            "docker_volume" => match private_str(existing.private, "name") {
                Some(name) => {
                    still_there(docker.inspect_volume(name).await, format!("volume {name}"))
                }
                None => Ok(Observed::AsRecorded),
            },
            "docker_container" => container::read(docker, existing).await,
            _ => Ok(Observed::AsRecorded),
        }
    }
}

async fn create_network(
    docker: &Docker,
    instance: &Instance,
    run: &RunContext,
) -> Result<Created, ActionError> {
    let base = object_name(run, &declared_name(instance));
    let name = free_name(base, |n| async move {
        docker
            .inspect_network(&n, None::<bollard::query_parameters::InspectNetworkOptions>)
            .await
            .is_ok()
    })
    .await;
    let internal = matches!(
        instance.config.get("internal").map(Value::unmarked),
        Some(Value::Bool(true))
    );
    let created = docker
        .create_network(NetworkCreateRequest {
            name: name.clone(),
            driver: Some(config_string(instance, "driver").unwrap_or_else(|| "bridge".into())),
            internal: Some(internal),
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
        private: json!({ "id": id, "name": name }),
    })
}

async fn create_volume(
    docker: &Docker,
    instance: &Instance,
    run: &RunContext,
) -> Result<Created, ActionError> {
    let base = object_name(run, &declared_name(instance));
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
        private: json!({ "name": name }),
    })
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
    match docker
        .remove_container(
            id,
            Some(RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if status(&e) == Some(404) => Ok(()),
        Err(e) => Err(failed(&format!("removing container {id}"), e)),
    }
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

/// Parses `"1s"`, `"500ms"`, `"2m"`, `"1h"` (or bare seconds) as nanoseconds.
pub fn duration_ns(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("\"{text}\" is not a duration like \"1s\" or \"500ms\""))?;
    let scale = match unit {
        "" | "s" => 1e9,
        "ms" => 1e6,
        "us" => 1e3,
        "ns" => 1.0,
        "m" => 60e9,
        "h" => 3600e9,
        _ => {
            return Err(format!(
                "\"{text}\": unknown unit \"{unit}\" (use ms, s, m or h)"
            ))
        }
    };
    Ok((value * scale) as i64)
}

mod image;

mod container;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_ports_parse_as_compose_writes_them() {
        assert_eq!(duration_ns("1s"), Ok(1_000_000_000));
        assert_eq!(duration_ns("500ms"), Ok(500_000_000));
        assert_eq!(duration_ns("2m"), Ok(120_000_000_000));
        assert!(duration_ns("soon").is_err());
        let (bindings, exposed) =
            container::ports(&["8080:80".into(), "0.0.0.0:53:53/udp".into()]).expect("ports");
        assert_eq!(exposed, vec!["80/tcp", "53/udp"]);
        let tcp = bindings["80/tcp"].as_ref().expect("binding");
        assert_eq!(tcp[0].host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(tcp[0].host_port.as_deref(), Some("8080"));
        assert!(container::ports(&["80".into()]).is_err());
        assert_eq!(sanitize(".tmpAb C"), "tmpab-c");
    }
}
