//! What every container imm runs goes through, whatever its type: files
//! copied in before the start, the wait until it is ready, joining its
//! aliases, a graceful stop, and the refresh of a recorded one.

use super::{failed, patient, private_str, run_in, status};
use crate::{ActionError, Existing, Observed};
use bollard::models::{
    EndpointSettings, HealthStatusEnum, NetworkConnectRequest, NetworkDisconnectRequest,
};
use bollard::query_parameters::{
    DownloadFromContainerOptions, InspectContainerOptions, KillContainerOptions,
    StopContainerOptions, UploadToContainerOptions,
};
use bollard::Docker;
use futures_util::StreamExt;
use imm_lang::diagnostics::Code;
use imm_lang::types::settings::Health;
use std::collections::HashSet;
use std::io::Read;
use std::time::{Duration, Instant};

/// Gives a healthy, tested container its aliases on each `(network,
/// aliases)`: connected with them (Docker cannot add an alias in place, so
/// a container already on the network is connected again: a moment in
/// which only it, not yet serving, is off the network).
pub(super) async fn join_aliases(
    docker: &Docker,
    networks: &[(String, Vec<String>)],
    id: &str,
) -> Result<(), ActionError> {
    for (name, aliases) in networks {
        match docker
            .disconnect_network(
                name,
                NetworkDisconnectRequest {
                    container: id.to_string(),
                    force: Some(false),
                },
            )
            .await
        {
            Ok(()) => {}
            // Not connected yet: the usual case.
            Err(e) if matches!(status(&e), Some(404) | Some(403) | Some(500)) => {}
            Err(e) => return Err(failed(&format!("joining the aliases of network {name}"), e)),
        }
        docker
            .connect_network(
                name,
                NetworkConnectRequest {
                    container: id.to_string(),
                    endpoint_config: Some(EndpointSettings {
                        aliases: Some(aliases.clone()),
                        ..Default::default()
                    }),
                },
            )
            .await
            .map_err(|e| failed(&format!("joining the aliases of network {name}"), e))?;
    }
    Ok(())
}

fn packing_failed(e: std::io::Error) -> ActionError {
    ActionError::new(
        Code::ActionFailed,
        format!("packing files for the container: {e}"),
    )
}

/// `runtime.files`, as one tar extracted at `/` before the start.
pub(super) async fn copy_files(
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
                    .map_err(packing_failed)?;
            }
        }
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_size(content.len() as u64);
        builder
            .append_data(&mut header, relative, content.as_bytes())
            .map_err(packing_failed)?;
    }
    let archive = builder.into_inner().map_err(packing_failed)?;
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
        .map_err(|e| failed("copying files into the container", e))
}

/// How long a container without a health check must keep running after
/// its start to count as started: one that exits at once is a failure, not
/// a ready replica.
const START_WINDOW: Duration = Duration::from_secs(1);

/// Healthy (with a health check) or still running [`START_WINDOW`] after
/// the start (without one).
pub(super) async fn wait_ready(
    docker: &Docker,
    health: Option<&Health>,
    id: &str,
) -> Result<(), ActionError> {
    let limit = match health {
        Some(h) => {
            let per_try = h.interval_ns.saturating_add(h.timeout_ns);
            let total_ns = h
                .start_period_ns
                .saturating_add(per_try.saturating_mul(h.retries.saturating_add(1)));
            from_ns(total_ns).min(Duration::from_secs(600))
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
            let exit = state.exit_code.unwrap_or(-1);
            let failure = match health {
                Some(_) => ActionError::new(
                    Code::HealthCheckFailed,
                    format!("the new container stopped (exit status {exit}) before it was healthy"),
                ),
                None => ActionError::new(
                    Code::HealthCheckFailed,
                    format!("the new container stopped (exit status {exit}) within its start window"),
                )
                .with_help("a container without a health check must keep running: read its last output shown and fix its command"),
            };
            return Err(failure);
        }
        let last_check = state
            .health
            .as_ref()
            .and_then(|h| h.log.as_ref())
            .and_then(|log| log.last())
            .map(|check| {
                format!(
                    " (exit status {}{})",
                    check.exit_code.unwrap_or(-1),
                    match check.output.as_deref().map(str::trim) {
                        Some(out) if !out.is_empty() => format!(": {out}"),
                        _ => String::new(),
                    }
                )
            })
            .unwrap_or_default();
        let status = state.health.and_then(|h| h.status);
        match (health, status) {
            (None, _) if started.elapsed() >= limit => return Ok(()),
            (Some(_), Some(HealthStatusEnum::HEALTHY)) => return Ok(()),
            (Some(_), Some(HealthStatusEnum::UNHEALTHY)) => {
                return Err(ActionError::new(
                    Code::HealthCheckFailed,
                    format!("the new container's health check failed{last_check}"),
                ))
            }
            (Some(_), _) if started.elapsed() >= limit => {
                return Err(ActionError::new(
                    Code::HealthCheckFailed,
                    format!(
                        "the new container was not healthy after {} s{last_check}",
                        limit.as_secs()
                    ),
                ))
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(super) async fn stop(docker: &Docker, id: &str, seconds: i32) -> Result<(), ActionError> {
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

/// A refresh of a recorded container (a replica or a proxy).
pub(super) async fn read_recorded(
    client: &super::DockerClient,
    existing: Existing<'_>,
) -> Result<Observed, ActionError> {
    match client.recorded(&existing, "id").await? {
        Some((docker, _)) => read_container(&docker, existing).await,
        None => Ok(Observed::AsRecorded),
    }
}

async fn read_container(docker: &Docker, existing: Existing<'_>) -> Result<Observed, ActionError> {
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

/// The text of the file at `path` in container `id`; `None` when there is
/// none.
pub(super) async fn read_file(
    docker: &Docker,
    id: &str,
    path: &str,
) -> Result<Option<String>, ActionError> {
    let mut stream = docker
        .download_from_container(id, Some(DownloadFromContainerOptions { path: path.into() }));
    let mut archive = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => archive.extend_from_slice(&chunk),
            Err(e) if status(&e) == Some(404) => return Ok(None),
            Err(e) => return Err(failed(&format!("reading {path}"), e)),
        }
    }
    let unreadable =
        |e: std::io::Error| ActionError::new(Code::ActionFailed, format!("reading {path}: {e}"));
    let mut tar = tar::Archive::new(archive.as_slice());
    let mut text = String::new();
    if let Some(entry) = tar.entries().map_err(unreadable)?.next() {
        entry
            .map_err(unreadable)?
            .read_to_string(&mut text)
            .map_err(unreadable)?;
    }
    Ok(Some(text))
}

/// Runs each test command inside container `id`; the first that fails is
/// the error, with what it printed.
pub(super) async fn run_tests(
    docker: &Docker,
    id: &str,
    tests: &[Vec<String>],
) -> Result<(), ActionError> {
    for command in tests {
        let (code, output) = run_in(docker, id, command)
            .await
            .map_err(|e| e.map_message(|m| format!("test: {m}")))?;
        if code != 0 {
            let shown = output.trim_end();
            return Err(ActionError::new(
                Code::TestFailed,
                format!(
                    "test `{}` failed in the container (exit status {code}){}",
                    command.join(" "),
                    if shown.is_empty() {
                        String::new()
                    } else {
                        format!(":\n{shown}")
                    }
                ),
            ));
        }
    }
    Ok(())
}

/// The address of container `id` on `network` ("" when not connected).
pub(super) async fn address_on(docker: &Docker, id: &str, network: &str) -> String {
    docker
        .inspect_container(id, None::<InspectContainerOptions>)
        .await
        .ok()
        .and_then(|c| c.network_settings)
        .and_then(|n| n.networks)
        .and_then(|n| n.get(network).and_then(|e| e.ip_address.clone()))
        .unwrap_or_default()
}

/// Sends `signal` ("HUP", "USR1", …) to container `id`.
pub(super) async fn send_signal(
    docker: &Docker,
    id: &str,
    signal: &str,
) -> Result<(), ActionError> {
    match docker
        .kill_container(
            id,
            Some(KillContainerOptions {
                signal: format!("SIG{signal}"),
            }),
        )
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if status(&e) == Some(409) => Err(ActionError::new(
            Code::ActionFailed,
            "the container is not running, so it cannot be signalled",
        )
        .with_help(format!("see why it stopped with `docker logs {id}`"))),
        Err(e) => Err(failed(&format!("sending SIG{signal}"), e)),
    }
}

/// A duration given in nanoseconds (a negative one is none).
pub(super) fn from_ns(ns: i64) -> Duration {
    Duration::from_nanos(ns.max(0) as u64)
}
