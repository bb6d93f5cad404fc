//! `docker_proxy` on the daemon: an nginx container holding the served
//! aliases, and the list of containers it sends requests to. The list
//! lives in the proxy (a file read and rewritten under a lock per served
//! name) and changes by a graceful reload (SIGHUP: new workers take new
//! requests, old ones finish theirs), so no request is dropped by a change.

use super::running::{
    copy_files, from_ns, join_aliases, read_file, read_recorded, send_signal, stop, wait_ready,
};
use super::{
    created_id, failed, labels, private_str, remove_container, run_in, short_random, DockerClient,
    LABEL_ENV, LABEL_PROJECT,
};
use crate::{
    recorded_config, ActionError, Configured, CreateRequest, Created, Executor, Existing, Observed,
    RunContext,
};
use async_trait::async_trait;
use bollard::models::{ContainerCreateBody, HostConfig, NetworkDisconnectRequest};
use bollard::query_parameters::{CreateContainerOptions, ListContainersOptions};
use bollard::Docker;
use imm_lang::diagnostics::Code;
use imm_lang::evaluate::Instance;
use imm_lang::types::docker_container::DEFAULT_STOP_SECONDS;
use imm_lang::types::docker_proxy::ProxyConfig;
use serde_json::{json, Map};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// On a proxy container: the name containers refer to it by.
const LABEL_PROXY: &str = "imm.proxy";
/// On a proxy container: the port of the containers behind it.
const LABEL_BACKEND_PORT: &str = "imm.proxy.backend-port";
/// On a container served through proxy `<name>`: `imm.proxy.backend.<name>`.
const LABEL_BACKEND_OF: &str = "imm.proxy.backend.";
const CONFIG_PATH: &str = "/etc/imm-proxy/nginx.conf";
const UPSTREAM_PATH: &str = "/etc/imm-proxy/upstream.conf";

pub struct ProxyExecutor(pub Arc<DockerClient>);

impl Configured for ProxyExecutor {
    type Config = ProxyConfig;
}

#[async_trait]
impl Executor for ProxyExecutor {
    async fn create(
        &self,
        instance: &Instance,
        request: &CreateRequest,
        run: &RunContext,
    ) -> Result<Created, ActionError> {
        let config = ProxyExecutor::config(instance)?;
        create(&self.0, instance, &config, request, run).await
    }

    async fn serve(
        &self,
        instance: &Instance,
        created: &mut Created,
        _run: &RunContext,
    ) -> Result<(), ActionError> {
        let config = ProxyExecutor::config(instance)?;
        let docker = &self.0.for_instance(instance).await?;
        join_aliases(
            docker,
            &[(config.network.clone(), config.aliases.clone())],
            created_id(created),
        )
        .await
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
        let docker = &docker;
        let config: Option<ProxyConfig> = recorded_config(existing.attributes);
        if let Some(config) = &config {
            // Its aliases stop answering; requests it holds may finish.
            let _ = docker
                .disconnect_network(
                    &config.network,
                    NetworkDisconnectRequest {
                        container: id.to_string(),
                        force: Some(true),
                    },
                )
                .await;
            tokio::time::sleep(from_ns(config.drain_ns)).await;
        }
        stop(docker, id, DEFAULT_STOP_SECONDS).await?;
        remove_container(docker, id).await
    }

    async fn discard(
        &self,
        instance: &Instance,
        created: &Created,
        _run: &RunContext,
    ) -> Result<(), ActionError> {
        match private_str(&created.private, "id") {
            Some(id) => remove_container(&self.0.for_instance(instance).await?, id).await,
            None => Ok(()),
        }
    }

    async fn read(
        &self,
        existing: Existing<'_>,
        _run: &RunContext,
    ) -> Result<Observed, ActionError> {
        read_recorded(&self.0, existing).await
    }
}

async fn create(
    client: &DockerClient,
    instance: &Instance,
    config: &ProxyConfig,
    request: &CreateRequest,
    run: &RunContext,
) -> Result<Created, ActionError> {
    let docker = &client.for_instance(instance).await?;
    let served = config.served_name(&instance.name);
    let name = format!(
        "{}-{}",
        config.base_name(&run.project, &run.environment, &instance.name),
        short_random()
    );
    let mut labels = labels(run, &instance.address);
    labels.insert(LABEL_PROXY.into(), served.clone());
    labels.insert(LABEL_BACKEND_PORT.into(), config.backend_port.to_string());
    let body = ContainerCreateBody {
        image: Some(config.image.clone()),
        entrypoint: Some(vec!["/usr/sbin/nginx".into()]),
        cmd: Some(vec![
            "-c".into(),
            CONFIG_PATH.into(),
            "-g".into(),
            "daemon off;".into(),
        ]),
        labels: Some(labels),
        host_config: Some(HostConfig {
            network_mode: Some(config.network.clone()),
            // Signals reach nginx's master (reload on HUP, at once on TERM).
            init: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    // No container joins or leaves this proxy's list while it is copied.
    let lock = client.proxy_lock(&served);
    let _held = lock.lock().await;
    let backends = match &request.predecessor {
        Some(old) => match private_str(&old.private, "id") {
            Some(old_id) => match read_backends(docker, old_id).await {
                Ok(backends) => backends,
                Err(_) => discover_backends(docker, run, &served, config).await?,
            },
            None => discover_backends(docker, run, &served, config).await?,
        },
        None => discover_backends(docker, run, &served, config).await?,
    };
    let id = docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name.clone()),
                ..Default::default()
            }),
            body,
        )
        .await
        .map_err(|e| failed(&format!("creating proxy container {name}"), e))?
        .id;
    let files = [
        (CONFIG_PATH.to_string(), nginx_conf(config.port)),
        (UPSTREAM_PATH.to_string(), backends.render()),
    ];
    let started = async {
        copy_files(docker, &files, &id).await?;
        docker
            .start_container(
                &id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
            .map_err(|e| failed("starting the proxy", e))?;
        wait_ready(docker, None, &id).await
    }
    .await;
    if let Err(e) = started {
        let logs = super::log_tail(docker, &id).await;
        let _ = remove_container(docker, &id).await;
        let help = format!(
            "{}; is {} an nginx image? docker_proxy runs /usr/sbin/nginx",
            e.help_text(),
            config.image
        );
        return Err(e
            .map_message(|message| format!("{message}{logs}"))
            .with_help(help));
    }
    let mut outs = Map::new();
    outs.insert("id".into(), json!(id));
    outs.insert("name".into(), json!(served));
    outs.insert("container".into(), json!(name));
    Ok(Created {
        outs,
        private: json!({ "id": id, "name": name }),
    })
}

/// nginx's configuration: one server on `port` passing every request to
/// the listed containers, trying another on a refused connection. Paths
/// are under /tmp so that any nginx image (Debian's, the official one)
/// runs it as it is.
fn nginx_conf(port: u16) -> String {
    format!(
        "# Written by imm (docker_proxy); the upstream list changes with each switch.
user nobody nogroup;
worker_processes 1;
error_log stderr warn;
pid /tmp/imm-proxy.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path /tmp/imm-proxy-body;
  proxy_temp_path /tmp/imm-proxy-temp;
  fastcgi_temp_path /tmp/imm-proxy-fastcgi;
  uwsgi_temp_path /tmp/imm-proxy-uwsgi;
  scgi_temp_path /tmp/imm-proxy-scgi;
  upstream backends {{
    include {UPSTREAM_PATH};
  }}
  server {{
    listen {port};
    location / {{
      proxy_pass http://backends;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_next_upstream error timeout http_502 http_503;
      proxy_connect_timeout 2s;
      proxy_read_timeout 300s;
    }}
  }}
}}
"
    )
}

/// The containers a proxy sends to: `(container id, address:port)`.
#[derive(Debug, Default, PartialEq)]
struct Backends(Vec<(String, String)>);

impl Backends {
    /// Reads lines `server ADDRESS; # ID` as [`Backends::render`] writes them.
    fn parse(text: &str) -> Backends {
        let entries = text
            .lines()
            .filter_map(|line| {
                let (server, id) = line.split_once("# ")?;
                let address = server.trim().strip_prefix("server ")?.trim_end_matches(';');
                (!id.trim().is_empty() && id.trim() != "none")
                    .then(|| (id.trim().to_string(), address.trim().to_string()))
            })
            .collect();
        Backends(entries)
    }

    /// nginx needs one server in an upstream: without a container, a
    /// placeholder marked down (the proxy answers 502).
    fn render(&self) -> String {
        if self.0.is_empty() {
            return "server 127.0.0.1:1 down; # none\n".into();
        }
        self.0
            .iter()
            .map(|(id, address)| format!("server {address}; # {id}\n"))
            .collect()
    }
}

async fn read_backends(docker: &Docker, proxy_id: &str) -> Result<Backends, ActionError> {
    let text = read_file(docker, proxy_id, UPSTREAM_PATH)
        .await
        .map_err(|e| e.map_message(|m| format!("reading the proxy's list of containers: {m}")))?;
    Ok(Backends::parse(&text.unwrap_or_default()))
}

/// Without a predecessor to copy from: the running containers that are
/// served through `served`, by their labels.
async fn discover_backends(
    docker: &Docker,
    run: &RunContext,
    served: &str,
    config: &ProxyConfig,
) -> Result<Backends, ActionError> {
    let containers = running(docker, run, Some(backend_label(served))).await?;
    let mut backends = Backends::default();
    for container in containers {
        let id = container.id.unwrap_or_default();
        let ip = container
            .network_settings
            .and_then(|n| n.networks)
            .and_then(|n| n.get(&config.network).and_then(|e| e.ip_address.clone()))
            .unwrap_or_default();
        if !ip.is_empty() {
            backends
                .0
                .push((id, format!("{ip}:{}", config.backend_port)));
        }
    }
    Ok(backends)
}

/// The running containers of this project and environment (with `label`
/// as well, when given).
async fn running(
    docker: &Docker,
    run: &RunContext,
    label: Option<String>,
) -> Result<Vec<bollard::models::ContainerSummary>, ActionError> {
    let mut labels = vec![
        format!("{LABEL_PROJECT}={}", run.project),
        format!("{LABEL_ENV}={}", run.environment),
    ];
    labels.extend(label);
    docker
        .list_containers(Some(ListContainersOptions {
            filters: Some(HashMap::from([("label".to_string(), labels)])),
            ..Default::default()
        }))
        .await
        .map_err(|e| failed("listing containers", e))
}

/// The label a container served through proxy `served` carries.
pub(super) fn backend_label(served: &str) -> String {
    format!("{LABEL_BACKEND_OF}{served}")
}

/// A running proxy container of this project and environment.
struct RunningProxy {
    id: String,
    backend_port: String,
}

async fn running_proxies(
    docker: &Docker,
    run: &RunContext,
    served: &str,
) -> Result<Vec<RunningProxy>, ActionError> {
    let containers = running(docker, run, Some(format!("{LABEL_PROXY}={served}"))).await?;
    Ok(containers
        .into_iter()
        .map(|c| RunningProxy {
            id: c.id.unwrap_or_default(),
            backend_port: c
                .labels
                .and_then(|l| l.get(LABEL_BACKEND_PORT).cloned())
                .unwrap_or_default(),
        })
        .collect())
}

/// The ids of this project's and environment's running containers: a
/// proxy's entry for any other (one removed by an orphan sweep after a
/// crash) is dropped at the next change.
async fn running_containers(
    docker: &Docker,
    run: &RunContext,
) -> Result<HashSet<String>, ActionError> {
    let containers = running(docker, run, None).await?;
    Ok(containers.into_iter().filter_map(|c| c.id).collect())
}

/// Adds container `id` (at `ip` on the proxy's network) to every running
/// proxy named `served`: from the reload on, it receives requests.
pub(super) async fn join(
    client: &DockerClient,
    engine: Option<&str>,
    run: &RunContext,
    served: &str,
    id: &str,
    ip: &str,
) -> Result<(), ActionError> {
    let docker = &client.engine(engine).await?;
    let lock = client.proxy_lock(served);
    let _held = lock.lock().await;
    let proxies = running_proxies(docker, run, served).await?;
    if proxies.is_empty() {
        return Err(ActionError::new(
            Code::ObjectMissing,
            format!("no proxy named \"{served}\" runs in this environment"),
        )
        .with_help(
            "declare a docker_proxy with that name (or refer to it as docker_proxy.NAME.name)",
        ));
    }
    let alive = running_containers(docker, run).await?;
    for proxy in proxies {
        let address = format!("{ip}:{}", proxy.backend_port);
        change_backends(docker, &proxy.id, |backends| {
            backends
                .0
                .retain(|(known, _)| known != id && alive.contains(known));
            backends.0.push((id.to_string(), address.clone()));
        })
        .await?;
    }
    Ok(())
}

/// Takes container `id` out of every running proxy named `served`: from the
/// reload on, it receives no new request. Whether it was in one.
pub(super) async fn leave(
    client: &DockerClient,
    engine: Option<&str>,
    run: &RunContext,
    served: &str,
    id: &str,
) -> Result<bool, ActionError> {
    let docker = &client.engine(engine).await?;
    let lock = client.proxy_lock(served);
    let _held = lock.lock().await;
    let alive = running_containers(docker, run).await?;
    let mut was_in = false;
    for proxy in running_proxies(docker, run, served).await? {
        was_in |= change_backends(docker, &proxy.id, |backends| {
            backends
                .0
                .retain(|(known, _)| known != id && alive.contains(known));
        })
        .await?;
    }
    Ok(was_in)
}

/// Rewrites a proxy's list, checks nginx accepts it and reloads; a list
/// nginx refuses is put back. Whether the list changed.
async fn change_backends(
    docker: &Docker,
    proxy_id: &str,
    change: impl FnOnce(&mut Backends),
) -> Result<bool, ActionError> {
    let before = read_backends(docker, proxy_id).await?;
    let mut after = Backends(before.0.clone());
    change(&mut after);
    if after == before {
        return Ok(false);
    }
    write_backends(docker, proxy_id, &after).await?;
    let check = vec![
        "/usr/sbin/nginx".to_string(),
        "-t".into(),
        "-q".into(),
        "-c".into(),
        CONFIG_PATH.into(),
    ];
    let (code, output) = run_in(docker, proxy_id, &check).await?;
    if code != 0 {
        write_backends(docker, proxy_id, &before).await?;
        return Err(ActionError::new(
            Code::ActionFailed,
            format!(
                "the proxy refused its new list of containers (nginx -t exit status {code}): {}",
                output.trim()
            ),
        )
        .with_help(
            "the list was put back; read nginx's message shown and check the proxy's image",
        ));
    }
    send_signal(docker, proxy_id, "HUP")
        .await
        .map_err(|e| e.map_message(|m| format!("reloading the proxy: {m}")))?;
    Ok(true)
}

async fn write_backends(
    docker: &Docker,
    proxy_id: &str,
    backends: &Backends,
) -> Result<(), ActionError> {
    copy_files(
        docker,
        &[(UPSTREAM_PATH.to_string(), backends.render())],
        proxy_id,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_reads_back_as_written() {
        let backends = Backends(vec![
            ("abc".into(), "172.18.0.3:8080".into()),
            ("def".into(), "172.18.0.4:8080".into()),
        ]);
        assert_eq!(Backends::parse(&backends.render()), backends);
        assert_eq!(
            Backends::parse(&Backends::default().render()),
            Backends::default()
        );
    }
}
