//! `docker_container`: create beside the old one, wait healthy, test,
//! retire the old one.

use super::*;

pub async fn create(
    docker: &Docker,
    instance: &Instance,
    request: &CreateRequest,
    run: &RunContext,
) -> Result<Created, ActionError> {
    let base = object_name(run, &declared_name(instance));
    let index = match &instance.key {
        Some(InstanceKey::Index(i)) => format!("-{i}"),
        Some(InstanceKey::Key(k)) => format!("-{}", sanitize(k)),
        None => String::new(),
    };
    let name = format!("{base}{index}-{}", short_random());
    let body = body(instance, run)?;
    let networks = blocks(instance, "network");
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
        instance,
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
    let ip = docker
        .inspect_container(&id, None::<InspectContainerOptions>)
        .await
        .ok()
        .and_then(|c| c.network_settings)
        .and_then(|n| n.networks)
        .and_then(|n| {
            let first = networks.first().and_then(|b| text(b, "name"))?;
            n.get(&first).and_then(|e| e.ip_address.clone())
        })
        .unwrap_or_default();
    let mut outs = Map::new();
    outs.insert("id".into(), json!(id));
    outs.insert("name".into(), json!(name));
    outs.insert("ip".into(), json!(ip));
    Ok(Created {
        outs,
        private: json!({ "id": id, "name": name }),
    })
}

/// Connects the other networks, copies the run-time files in, stops the
/// predecessor if it must go first, starts, and waits until healthy.
async fn start_ready(
    docker: &Docker,
    instance: &Instance,
    id: &str,
    more_networks: &[&std::collections::BTreeMap<String, Value>],
    stop_first: Option<&str>,
) -> Result<(), ActionError> {
    for network in more_networks {
        let name = text(network, "name").unwrap_or_default();
        docker
            .connect_network(
                &name,
                NetworkConnectRequest {
                    container: id.to_string(),
                    endpoint_config: Some(EndpointSettings {
                        aliases: Some(config_strings(network.get("aliases"))),
                        ..Default::default()
                    }),
                },
            )
            .await
            .map_err(|e| failed(&format!("connecting to network {name}"), e))?;
    }
    copy_files(docker, instance, id).await?;
    if let Some(old) = stop_first {
        stop(docker, old, STOP_TIMEOUT).await?;
    }
    docker
        .start_container(id, None::<bollard::query_parameters::StartContainerOptions>)
        .await
        .map_err(|e| failed("starting the container", e))?;
    wait_ready(docker, instance, id).await
}

fn body(instance: &Instance, run: &RunContext) -> Result<ContainerCreateBody, ActionError> {
    let image = config_string(instance, "image")
        .ok_or_else(|| ActionError::new("docker_container has no image"))?;
    let env: Vec<String> = block(instance, "runtime")
        .map(|r| string_map(r.get("env")))
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let command = config_strings(instance.config.get("command"));
    let (port_bindings, exposed) = ports(&config_strings(instance.config.get("ports")))?;
    let mounts: Vec<Mount> = blocks(instance, "mount")
        .into_iter()
        .map(|m| Mount {
            typ: Some(MountType::VOLUME),
            source: text(m, "volume"),
            target: text(m, "target"),
            read_only: Some(matches!(
                m.get("read_only").map(Value::unmarked),
                Some(Value::Bool(true))
            )),
            ..Default::default()
        })
        .collect();
    let restart = match config_string(instance, "restart").as_deref() {
        None | Some("no") => RestartPolicyNameEnum::NO,
        Some("always") => RestartPolicyNameEnum::ALWAYS,
        Some("unless-stopped") => RestartPolicyNameEnum::UNLESS_STOPPED,
        Some("on-failure") => RestartPolicyNameEnum::ON_FAILURE,
        Some(other) => {
            return Err(ActionError::new(format!(
                "restart = \"{other}\" is not one of no, on-failure, always, unless-stopped"
            )))
        }
    };
    let networks = blocks(instance, "network");
    let networking_config = networks.first().map(|first| NetworkingConfig {
        endpoints_config: Some(HashMap::from([(
            text(first, "name").unwrap_or_default(),
            EndpointSettings {
                aliases: Some(config_strings(first.get("aliases"))),
                ..Default::default()
            },
        )])),
    });
    let network_mode = networks.first().and_then(|n| text(n, "name"));
    Ok(ContainerCreateBody {
        image: Some(image),
        cmd: (!command.is_empty()).then_some(command),
        env: Some(env),
        labels: Some(labels(run, &instance.address)),
        healthcheck: health(instance)?,
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        host_config: Some(HostConfig {
            port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
            mounts: (!mounts.is_empty()).then_some(mounts),
            restart_policy: Some(RestartPolicy {
                name: Some(restart),
                maximum_retry_count: None,
            }),
            network_mode,
            init: Some(!matches!(
                instance.config.get("init").map(Value::unmarked),
                Some(Value::Bool(false))
            )),
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

fn health(instance: &Instance) -> Result<Option<HealthConfig>, ActionError> {
    let Some(h) = block(instance, "health") else {
        return Ok(None);
    };
    let ns = |key: &str, default: &str| {
        duration_ns(&text(h, key).unwrap_or_else(|| default.into()))
            .map_err(|e| ActionError::new(format!("health.{key}: {e}")))
    };
    let mut test = vec!["CMD".to_string()];
    test.extend(config_strings(h.get("command")));
    Ok(Some(HealthConfig {
        test: Some(test),
        interval: Some(ns("interval", "1s")?),
        timeout: Some(ns("timeout", "5s")?),
        retries: Some(
            text(h, "retries")
                .and_then(|r| r.parse::<i64>().ok())
                .unwrap_or(30),
        ),
        start_period: Some(ns("start_period", "0s")?),
        ..Default::default()
    }))
}

/// `runtime.files`, as one tar extracted at `/` before the start.
async fn copy_files(docker: &Docker, instance: &Instance, id: &str) -> Result<(), ActionError> {
    let files = block(instance, "runtime")
        .map(|r| string_map(r.get("files")))
        .unwrap_or_default();
    if files.is_empty() {
        return Ok(());
    }
    let mut builder = tar::Builder::new(Vec::new());
    let mut dirs: HashSet<String> = HashSet::new();
    for (path, content) in &files {
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

/// Healthy (with a health check) or still running a moment after the
/// start (without one).
async fn wait_ready(docker: &Docker, instance: &Instance, id: &str) -> Result<(), ActionError> {
    let health = health(instance)?;
    let limit = match &health {
        Some(h) => {
            let per_try = h.interval.unwrap_or(1_000_000_000) + h.timeout.unwrap_or(5_000_000_000);
            let total_ns = h.start_period.unwrap_or(0) + per_try * (h.retries.unwrap_or(30) + 1);
            Duration::from_nanos(total_ns.max(0) as u64).min(Duration::from_secs(600))
        }
        None => Duration::ZERO,
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
                "the new container stopped (exit status {})",
                state.exit_code.unwrap_or(-1)
            )));
        }
        let status = state.health.and_then(|h| h.status);
        match (&health, status) {
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
pub async fn test(
    docker: &Docker,
    instance: &Instance,
    created: &Created,
) -> Result<(), ActionError> {
    let id = created_id(created);
    for test in blocks(instance, "test") {
        let command = config_strings(test.get("command"));
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
        let started = docker
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
    match docker
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
pub async fn retire(docker: &Docker, existing: Existing<'_>) -> Result<(), ActionError> {
    let Some(id) = private_str(existing.private, "id") else {
        return Ok(());
    };
    let networks: Vec<String> = existing
        .attributes
        .get("network")
        .and_then(Json::as_array)
        .map(|n| {
            n.iter()
                .filter_map(|b| b.get("name").and_then(Json::as_str).map(str::to_string))
                .collect()
        })
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
    let seconds = existing
        .attributes
        .get("stop_timeout")
        .and_then(Json::as_str)
        .and_then(|t| duration_ns(t).ok())
        .map(|ns| (ns / 1_000_000_000) as i32)
        .unwrap_or(STOP_TIMEOUT);
    stop(docker, id, seconds).await?;
    remove_container(docker, id).await
}

pub async fn read(docker: &Docker, existing: Existing<'_>) -> Result<Observed, ActionError> {
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
