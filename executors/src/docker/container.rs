//! `docker_container` on the daemon: create beside the old one, wait
//! healthy, test, retire the old one.

use super::{
    created_id, failed, labels, log_tail, patient, private_str, remove_container, short_random,
    status, DockerClient, TEST_TIMEOUT,
};
use crate::{typed, ActionError, CreateRequest, Created, Executor, Existing, Observed, RunContext};
use async_trait::async_trait;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HealthStatusEnum, HostConfig, Mount,
    MountType, NetworkConnectRequest, NetworkDisconnectRequest, NetworkingConfig, PortBinding,
    RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, StopContainerOptions, UploadToContainerOptions,
};
use bollard::Docker;
use futures_util::StreamExt;
use imm_lang::evaluate::{Instance, InstanceKey};
use imm_lang::types::docker_container::{
    ContainerConfig, Health, NetworkAttachment, Restart, DEFAULT_STOP_SECONDS,
};
use imm_lang::types::naming::sanitize;
use imm_stdlib::Value;
use serde_json::{json, Map};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct ContainerExecutor(pub Arc<DockerClient>);

#[async_trait]
impl Executor for ContainerExecutor {
    async fn create(
        &self,
        instance: &Instance,
        request: &CreateRequest,
        run: &RunContext,
    ) -> Result<Created, ActionError> {
        let config: ContainerConfig = typed(instance)?;
        create(self.0.docker().await?, instance, &config, request, run).await
    }

    async fn test(
        &self,
        instance: &Instance,
        created: &Created,
        _run: &RunContext,
    ) -> Result<(), ActionError> {
        let config: ContainerConfig = typed(instance)?;
        test(self.0.docker().await?, &config, created).await
    }

    async fn serve(
        &self,
        instance: &Instance,
        created: &mut Created,
        _run: &RunContext,
    ) -> Result<(), ActionError> {
        let config: ContainerConfig = typed(instance)?;
        let docker = self.0.docker().await?;
        let id = created_id(created).to_string();
        join_aliases(docker, &config, &id).await?;
        // Connected again, it may have another address.
        let ip = first_network_ip(docker, &config, &id).await;
        created.outs.insert("ip".into(), json!(ip));
        Ok(())
    }

    async fn destroy(
        &self,
        existing: Existing<'_>,
        _successor: Option<&Created>,
        _run: &RunContext,
    ) -> Result<(), ActionError> {
        if private_str(existing.private, "id").is_none() {
            return Ok(());
        }
        retire(self.0.docker().await?, existing).await
    }

    async fn discard(
        &self,
        _instance: &Instance,
        created: &Created,
        _run: &RunContext,
    ) -> Result<(), ActionError> {
        match private_str(&created.private, "id") {
            Some(id) => remove_container(self.0.docker().await?, id).await,
            None => Ok(()),
        }
    }

    async fn read(
        &self,
        existing: Existing<'_>,
        _run: &RunContext,
    ) -> Result<Observed, ActionError> {
        if private_str(existing.private, "id").is_none() {
            return Ok(Observed::AsRecorded);
        }
        read(self.0.docker().await?, existing).await
    }
}

async fn create(
    docker: &Docker,
    instance: &Instance,
    config: &ContainerConfig,
    request: &CreateRequest,
    run: &RunContext,
) -> Result<Created, ActionError> {
    let base = config.base_name(&run.project, &run.environment, &instance.name);
    let index = match &instance.key {
        Some(InstanceKey::Index(i)) => format!("-{i}"),
        Some(InstanceKey::Key(k)) => format!("-{}", sanitize(k)),
        None => String::new(),
    };
    let name = format!("{base}{index}-{}", short_random());
    let body = body(instance, config, run)?;
    let networks = &config.networks;
    let id = docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name.clone()),
                ..Default::default()
            }),
            body,
        )
        .await
        .map_err(|e| failed(&format!("creating container {name}"), e))?
        .id;
    let predecessor = request
        .predecessor
        .as_ref()
        .filter(|_| request.stop_first)
        .and_then(|p| private_str(&p.private, "id").map(str::to_string));
    let started = start_ready(
        docker,
        config,
        &id,
        networks.get(1..).unwrap_or_default(),
        predecessor.as_deref(),
    )
    .await;
    if let Err(e) = started {
        let logs = log_tail(docker, &id).await;
        let _ = remove_container(docker, &id).await;
        if let Some(old) = &predecessor {
            // The old one was stopped for the new one's ports: it serves again.
            let _ = docker
                .start_container(
                    old,
                    None::<bollard::query_parameters::StartContainerOptions>,
                )
                .await;
        }
        return Err(ActionError::new(format!("{}{logs}", e.message)));
    }
    let ip = first_network_ip(docker, config, &id).await;
    let mut outs = Map::new();
    outs.insert("id".into(), json!(id));
    outs.insert("name".into(), json!(name));
    outs.insert("ip".into(), json!(ip));
    Ok(Created {
        outs,
        private: json!({ "id": id, "name": name }),
    })
}

/// The container's address on its first network ("" without one).
async fn first_network_ip(docker: &Docker, config: &ContainerConfig, id: &str) -> String {
    docker
        .inspect_container(id, None::<InspectContainerOptions>)
        .await
        .ok()
        .and_then(|c| c.network_settings)
        .and_then(|n| n.networks)
        .and_then(|n| {
            let first = &config.networks.first()?.name;
            n.get(first).and_then(|e| e.ip_address.clone())
        })
        .unwrap_or_default()
}

/// Gives a healthy, tested container its aliases on every network: it is
/// connected again with them (Docker cannot add an alias in place), a
/// moment in which only the new container, not yet serving, is off a
/// network.
async fn join_aliases(
    docker: &Docker,
    config: &ContainerConfig,
    id: &str,
) -> Result<(), ActionError> {
    for network in config.networks.iter().filter(|n| !n.aliases.is_empty()) {
        let name = &network.name;
        docker
            .disconnect_network(
                name,
                NetworkDisconnectRequest {
                    container: id.to_string(),
                    force: Some(false),
                },
            )
            .await
            .map_err(|e| failed(&format!("joining the aliases of network {name}"), e))?;
        docker
            .connect_network(
                name,
                NetworkConnectRequest {
                    container: id.to_string(),
                    endpoint_config: Some(EndpointSettings {
                        aliases: Some(network.aliases.clone()),
                        ..Default::default()
                    }),
                },
            )
            .await
            .map_err(|e| failed(&format!("joining the aliases of network {name}"), e))?;
    }
    Ok(())
}

/// Connects the other networks, copies the run-time files in, stops the
/// predecessor if it must go first, starts, and waits until healthy.
async fn start_ready(
    docker: &Docker,
    config: &ContainerConfig,
    id: &str,
    more_networks: &[NetworkAttachment],
    stop_first: Option<&str>,
) -> Result<(), ActionError> {
    for network in more_networks {
        let name = &network.name;
        docker
            .connect_network(
                name,
                NetworkConnectRequest {
                    container: id.to_string(),
                    // Aliases come when it serves (`join_aliases`).
                    endpoint_config: Some(EndpointSettings::default()),
                },
            )
            .await
            .map_err(|e| failed(&format!("connecting to network {name}"), e))?;
    }
    copy_files(docker, &config.files, id).await?;
    if let Some(old) = stop_first {
        stop(docker, old, DEFAULT_STOP_SECONDS).await?;
    }
    docker
        .start_container(id, None::<bollard::query_parameters::StartContainerOptions>)
        .await
        .map_err(|e| failed("starting the container", e))?;
    wait_ready(docker, config.health.as_ref(), id).await
}

fn body(
    instance: &Instance,
    config: &ContainerConfig,
    run: &RunContext,
) -> Result<ContainerCreateBody, ActionError> {
    let env: Vec<String> = config.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let (port_bindings, exposed) = ports(&config.ports)?;
    let mounts: Vec<Mount> = config
        .mounts
        .iter()
        .map(|m| Mount {
            typ: Some(MountType::VOLUME),
            source: Some(m.volume.clone()),
            target: Some(m.target.clone()),
            read_only: Some(m.read_only),
            ..Default::default()
        })
        .collect();
    let restart = match config.restart {
        Restart::No => RestartPolicyNameEnum::NO,
        Restart::Always => RestartPolicyNameEnum::ALWAYS,
        Restart::UnlessStopped => RestartPolicyNameEnum::UNLESS_STOPPED,
        Restart::OnFailure => RestartPolicyNameEnum::ON_FAILURE,
    };
    let first = config.networks.first();
    let networking_config = first.map(|first| NetworkingConfig {
        endpoints_config: Some(HashMap::from([(
            first.name.clone(),
            EndpointSettings::default(),
        )])),
    });
    Ok(ContainerCreateBody {
        image: Some(config.image.clone()),
        cmd: (!config.command.is_empty()).then(|| config.command.clone()),
        env: Some(env),
        labels: Some(labels(run, &instance.address)),
        healthcheck: config.health.as_ref().map(health),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        host_config: Some(HostConfig {
            port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
            mounts: (!mounts.is_empty()).then_some(mounts),
            restart_policy: Some(RestartPolicy {
                name: Some(restart),
                maximum_retry_count: None,
            }),
            network_mode: first.map(|n| n.name.clone()),
            init: Some(config.init),
            ..Default::default()
        }),
        networking_config,
        ..Default::default()
    })
}

/// `"[ip:]host:container[/proto]"`; without an address the port is
/// published on 127.0.0.1 only (say `0.0.0.0:80:80` to open it).
pub(super) fn ports(
    specs: &[String],
) -> Result<(bollard::models::PortMap, Vec<String>), ActionError> {
    let mut bindings = bollard::models::PortMap::new();
    let mut exposed = Vec::new();
    for spec in specs {
        let (spec_ports, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
        let parts: Vec<&str> = spec_ports.rsplitn(3, ':').collect();
        let (ip, host, container) = match parts.as_slice() {
            [container, host] => ("127.0.0.1", *host, *container),
            [container, host, ip] => (*ip, *host, *container),
            _ => {
                return Err(ActionError::new(format!(
                    "ports: \"{spec}\" is not \"host:container\" or \"ip:host:container\""
                )))
            }
        };
        let key = format!("{container}/{proto}");
        exposed.push(key.clone());
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(ip.to_string()),
                host_port: Some(host.to_string()),
            });
    }
    Ok((bindings, exposed))
}

fn health(h: &Health) -> HealthConfig {
    let mut test = vec!["CMD".to_string()];
    test.extend(h.command.iter().cloned());
    HealthConfig {
        test: Some(test),
        interval: Some(h.interval_ns),
        timeout: Some(h.timeout_ns),
        retries: Some(h.retries),
        start_period: Some(h.start_period_ns),
        ..Default::default()
    }
}

/// `runtime.files`, as one tar extracted at `/` before the start.
async fn copy_files(
    docker: &Docker,
    files: &[(String, String)],
    id: &str,
) -> Result<(), ActionError> {
    if files.is_empty() {
        return Ok(());
    }
    let mut builder = tar::Builder::new(Vec::new());
    let mut dirs: HashSet<String> = HashSet::new();
    for (path, content) in files {
        let relative = path.trim_start_matches('/');
        let mut parent = String::new();
        for part in relative
            .split('/')
            .collect::<Vec<_>>()
            .iter()
            .rev()
            .skip(1)
            .rev()
        {
            parent = if parent.is_empty() {
                part.to_string()
            } else {
                format!("{parent}/{part}")
            };
            if dirs.insert(parent.clone()) {
                let mut header = tar::Header::new_gnu();
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                builder
                    .append_data(&mut header, format!("{parent}/"), std::io::empty())
                    .map_err(|e| ActionError::new(format!("packing runtime.files: {e}")))?;
            }
        }
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_size(content.len() as u64);
        builder
            .append_data(&mut header, relative, content.as_bytes())
            .map_err(|e| ActionError::new(format!("packing runtime.files: {e}")))?;
    }
    let archive = builder
        .into_inner()
        .map_err(|e| ActionError::new(format!("packing runtime.files: {e}")))?;
    docker
        .upload_to_container(
            id,
            Some(UploadToContainerOptions {
                path: "/".into(),
                ..Default::default()
            }),
            bollard::body_full(bytes::Bytes::from(archive)),
        )
        .await
        .map_err(|e| failed("copying runtime.files into the container", e))
}

/// How long a container without a health check must keep running after
/// its start to count as started: one that exits at once is a failure, not
/// a ready replica.
const START_WINDOW: Duration = Duration::from_secs(1);

/// Healthy (with a health check) or still running [`START_WINDOW`] after
/// the start (without one).
async fn wait_ready(docker: &Docker, health: Option<&Health>, id: &str) -> Result<(), ActionError> {
    let limit = match health {
        Some(h) => {
            let per_try = h.interval_ns.saturating_add(h.timeout_ns);
            let total_ns = h
                .start_period_ns
                .saturating_add(per_try.saturating_mul(h.retries.saturating_add(1)));
            Duration::from_nanos(total_ns.max(0) as u64).min(Duration::from_secs(600))
        }
        None => START_WINDOW,
    };
    let started = Instant::now();
    loop {
        let inspected = docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(|e| failed("inspecting the new container", e))?;
        let state = inspected.state.unwrap_or_default();
        if state.running != Some(true) {
            return Err(ActionError::new(format!(
                "the new container stopped (exit status {}) {}",
                state.exit_code.unwrap_or(-1),
                match health {
                    Some(_) => "before it was healthy",
                    None =>
                        "within its start window (it has no health check: it must keep running)",
                }
            )));
        }
        let status = state.health.and_then(|h| h.status);
        match (health, status) {
            (None, _) if started.elapsed() >= limit => return Ok(()),
            (Some(_), Some(HealthStatusEnum::HEALTHY)) => return Ok(()),
            (Some(_), Some(HealthStatusEnum::UNHEALTHY)) => {
                return Err(ActionError::new("the new container's health check failed"))
            }
            (Some(_), _) if started.elapsed() >= limit => {
                return Err(ActionError::new(format!(
                    "the new container was not healthy after {} s",
                    limit.as_secs()
                )))
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs each `test` command inside the new, healthy container.
async fn test(
    docker: &Docker,
    config: &ContainerConfig,
    created: &Created,
) -> Result<(), ActionError> {
    let id = created_id(created);
    for command in &config.tests {
        let command = command.clone();
        let exec = docker
            .create_exec(
                id,
                bollard::models::ExecConfig {
                    cmd: Some(command.clone()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| failed("starting a test", e))?;
        let mut output = String::new();
        let started = patient(docker)
            .start_exec(&exec.id, None)
            .await
            .map_err(|e| failed("starting a test", e))?;
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
                return Err(ActionError::new(format!(
                    "test `{}` ran longer than {} s",
                    command.join(" "),
                    TEST_TIMEOUT.as_secs()
                )));
            }
        }
        let code = docker
            .inspect_exec(&exec.id)
            .await
            .map_err(|e| failed("reading a test's result", e))?
            .exit_code
            .unwrap_or(-1);
        if code != 0 {
            let shown = output.trim_end();
            return Err(ActionError::new(format!(
                "test `{}` failed in the new container (exit status {code}){}",
                command.join(" "),
                if shown.is_empty() {
                    String::new()
                } else {
                    format!(":\n{shown}")
                }
            )));
        }
    }
    Ok(())
}

async fn stop(docker: &Docker, id: &str, seconds: i32) -> Result<(), ActionError> {
    // The daemon answers once the container stopped: up to `seconds`.
    match patient(docker)
        .stop_container(
            id,
            Some(StopContainerOptions {
                t: Some(seconds),
                ..Default::default()
            }),
        )
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if matches!(status(&e), Some(404) | Some(304)) => Ok(()),
        Err(e) => Err(failed(&format!("stopping container {id}"), e)),
    }
}

/// Takes the old container out of its networks first (its aliases stop
/// answering while it still serves open requests), then stops and
/// removes it.
async fn retire(docker: &Docker, existing: Existing<'_>) -> Result<(), ActionError> {
    let Some(id) = private_str(existing.private, "id") else {
        return Ok(());
    };
    // The record as it was applied (secrets recorded as "(sensitive)",
    // which the networks and the stop timeout never are).
    let recorded: BTreeMap<String, Value> = match Value::from_json(existing.attributes) {
        Value::Map(map) => map,
        _ => BTreeMap::new(),
    };
    let config = ContainerConfig::try_from(&recorded).ok();
    let networks: Vec<String> = config
        .as_ref()
        .map(|c| c.networks.iter().map(|n| n.name.clone()).collect())
        .unwrap_or_default();
    for network in networks {
        let _ = docker
            .disconnect_network(
                &network,
                NetworkDisconnectRequest {
                    container: id.to_string(),
                    force: Some(true),
                },
            )
            .await;
    }
    let seconds = config
        .as_ref()
        .map(|c| c.stop_seconds)
        .unwrap_or(DEFAULT_STOP_SECONDS);
    stop(docker, id, seconds).await?;
    remove_container(docker, id).await
}

async fn read(docker: &Docker, existing: Existing<'_>) -> Result<Observed, ActionError> {
    let Some(id) = private_str(existing.private, "id") else {
        return Ok(Observed::AsRecorded);
    };
    let name = private_str(existing.private, "name").unwrap_or(id);
    match docker
        .inspect_container(id, None::<InspectContainerOptions>)
        .await
    {
        Err(e) if status(&e) == Some(404) => Ok(Observed::Drifted(format!(
            "container {name} no longer exists"
        ))),
        Err(e) => Err(failed("inspecting a container", e)),
        Ok(c) => {
            let state = c.state.unwrap_or_default();
            if state.running == Some(true) {
                Ok(Observed::AsRecorded)
            } else {
                Ok(Observed::Drifted(format!(
                    "container {name} is not running (exit status {})",
                    state.exit_code.unwrap_or(-1)
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_parse_as_compose_writes_them() {
        let (bindings, exposed) =
            ports(&["8080:80".into(), "0.0.0.0:53:53/udp".into()]).expect("ports");
        assert_eq!(exposed, vec!["80/tcp", "53/udp"]);
        let tcp = bindings["80/tcp"].as_ref().expect("binding");
        assert_eq!(tcp[0].host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(tcp[0].host_port.as_deref(), Some("8080"));
        assert!(ports(&["80".into()]).is_err());
    }
}
