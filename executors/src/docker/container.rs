//! `docker_container` on the daemon: create beside the old one, wait
//! healthy, test, retire the old one.

use super::running::{
    address_on, copy_files, from_ns, join_aliases, read_recorded, run_tests, stop, wait_ready,
};
use super::{
    created_id, existing_engine, failed, instance_engine, labels, log_tail, private_str, proxy,
    reload, remove_container, short_random, status, DockerClient,
};
use crate::{
    recorded_config, ActionError, Configured, CreateRequest, Created, Executor, Existing, Observed,
    RunContext,
};
use async_trait::async_trait;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, HostConfigLogConfig, Mount,
    MountType, NetworkConnectRequest, NetworkDisconnectRequest, NetworkingConfig, PortBinding,
    RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::CreateContainerOptions;
use bollard::Docker;
use imm_lang::diagnostics::Code;
use imm_lang::evaluate::{Instance, InstanceKey};
use imm_lang::types::docker_container::{
    ContainerConfig, Health, NetworkAttachment, Restart, DEFAULT_DRAIN, DEFAULT_STOP_SECONDS,
};
use imm_lang::types::fields::duration_ns;
use imm_lang::types::naming::sanitize;
use imm_lang::types::settings::{Bind, BindSource, Settings};
use serde_json::{json, Map};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

pub struct ContainerExecutor(pub Arc<DockerClient>);

impl Configured for ContainerExecutor {
    type Config = ContainerConfig;
}

#[async_trait]
impl Executor for ContainerExecutor {
    async fn create(
        &self,
        instance: &Instance,
        request: &CreateRequest,
        run: &RunContext,
    ) -> Result<Created, ActionError> {
        let config = ContainerExecutor::config(instance)?;
        let docker = self.0.for_instance(instance).await?;
        // An off-the-shelf image, pinned by digest: pulled here if missing.
        let credentials = self.0.credentials_for(&config.image);
        super::image::ensure_pulled(&docker, &config.image, credentials, &instance.address, run)
            .await?;
        create(&docker, instance, &config, request, run).await
    }

    async fn test(
        &self,
        instance: &Instance,
        created: &Created,
        _run: &RunContext,
    ) -> Result<(), ActionError> {
        let config = ContainerExecutor::config(instance)?;
        run_tests(
            &self.0.for_instance(instance).await?,
            created_id(created),
            &config.tests,
        )
        .await
    }

    async fn serve(
        &self,
        instance: &Instance,
        created: &mut Created,
        run: &RunContext,
    ) -> Result<(), ActionError> {
        let config = ContainerExecutor::config(instance)?;
        let (engine, docker) = &self.0.named_by(instance).await?;
        let id = created_id(created).to_string();
        let aliased: Vec<(String, Vec<String>)> = config
            .networks
            .iter()
            .filter(|n| !n.aliases.is_empty())
            .map(|n| (n.name.clone(), n.aliases.clone()))
            .collect();
        join_aliases(docker, &aliased, &id).await?;
        for network in &config.networks {
            let Some(served) = &network.proxy else {
                continue;
            };
            connect(docker, &network.name, &id).await?;
            let ip = address_on(docker, &id, &network.name).await;
            if ip.is_empty() {
                return Err(ActionError::new(
                    Code::ObjectMissing,
                    format!(
                        "the new container has no address on network {} to give proxy \"{served}\"",
                        network.name
                    ),
                ));
            }
            proxy::join(&self.0, engine.as_deref(), run, served, &id, &ip).await?;
        }
        // Connected again, it may have another address.
        let ip = first_network_ip(docker, &config, &id).await;
        created.outs.insert("ip".into(), json!(ip));
        Ok(())
    }

    async fn destroy(
        &self,
        existing: Existing<'_>,
        _successor: Option<&Created>,
        run: &RunContext,
    ) -> Result<(), ActionError> {
        if private_str(existing.private, "id").is_none() {
            return Ok(());
        }
        retire(&self.0, existing, run).await
    }

    async fn reconfigure(
        &self,
        instance: &Instance,
        existing: Existing<'_>,
        _run: &RunContext,
    ) -> Result<Created, ActionError> {
        let config = ContainerExecutor::config(instance)?;
        reload::reload(&self.0.for_instance(instance).await?, &config, existing).await
    }

    async fn discard(
        &self,
        instance: &Instance,
        created: &Created,
        run: &RunContext,
    ) -> Result<(), ActionError> {
        let Some(id) = private_str(&created.private, "id") else {
            return Ok(());
        };
        // A container that failed after joining a proxy leaves it first;
        // it is removed whatever the proxy says.
        let engine = instance_engine(instance)?;
        let mut left = Ok(false);
        if let Ok(config) = ContainerExecutor::config(instance) {
            for served in config.networks.iter().filter_map(|n| n.proxy.as_ref()) {
                left = left.and(proxy::leave(&self.0, engine.as_deref(), run, served, id).await);
            }
        }
        remove_container(&self.0.engine(engine.as_deref()).await?, id).await?;
        left.map(|_| ())
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
    let joined_first = joined_at_create(config);
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
    // Every network from the start, serving ones without their aliases:
    // the new container reaches what it needs (its health check may ask a
    // peer) while nothing reaches it until `serve` gives it its aliases.
    let others: Vec<&NetworkAttachment> = config
        .networks
        .iter()
        .filter(|n| Some(&n.name) != joined_first.map(|f| &f.name))
        .collect();
    let started = start_ready(docker, config, &id, &others, predecessor.as_deref()).await;
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
        return Err(e.map_message(|message| format!("{message}{logs}")));
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
    match config.networks.first() {
        Some(first) => address_on(docker, id, &first.name).await,
        None => String::new(),
    }
}

/// The network a new container is created on: its first upstream network
/// or, when every network serves, the first one, joined without its
/// aliases (Docker has no way to start a container on no network and
/// connect it later); a serving network gets its aliases or its proxy only
/// in [`Executor::serve`].
fn joined_at_create(config: &ContainerConfig) -> Option<&NetworkAttachment> {
    config
        .networks
        .iter()
        .find(|n| !n.serves())
        .or(config.networks.first())
}

/// Connects `id` to `network` without aliases (already connected is fine).
async fn connect(docker: &Docker, network: &str, id: &str) -> Result<(), ActionError> {
    match docker
        .connect_network(
            network,
            NetworkConnectRequest {
                container: id.to_string(),
                endpoint_config: Some(EndpointSettings::default()),
            },
        )
        .await
    {
        Ok(()) => Ok(()),
        Err(e) if status(&e) == Some(403) && docker_says_connected(&e) => Ok(()),
        Err(e) => Err(failed(&format!("connecting to network {network}"), e)),
    }
}

fn docker_says_connected(e: &bollard::errors::Error) -> bool {
    e.to_string().contains("already exists")
}

/// Connects the upstream networks, copies the run-time files in, stops the
/// predecessor if it must go first, starts, and waits until healthy.
async fn start_ready(
    docker: &Docker,
    config: &ContainerConfig,
    id: &str,
    upstream: &[&NetworkAttachment],
    stop_first: Option<&str>,
) -> Result<(), ActionError> {
    for network in upstream {
        connect(docker, &network.name, id).await?;
    }
    copy_files(docker, &config.files, id).await?;
    if let Some(old) = stop_first {
        stop(docker, old, DEFAULT_STOP_SECONDS).await?;
    }
    docker
        .start_container(id, None::<bollard::query_parameters::StartContainerOptions>)
        .await
        .map_err(|e| failed("starting the container", e))?;
    wait_ready(docker, config.settings.health.as_ref(), id).await
}

fn body(
    instance: &Instance,
    config: &ContainerConfig,
    run: &RunContext,
) -> Result<ContainerCreateBody, ActionError> {
    let env: Vec<String> = config.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let (port_bindings, mut exposed) = ports(&config.ports)?;
    exposed.extend(config.expose.iter().cloned());
    let mut mounts: Vec<Mount> = config
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
    mounts.extend(bind_mounts(&instance.module_dir, &config.settings.binds)?);
    let restart = match config.restart {
        Restart::No => RestartPolicyNameEnum::NO,
        Restart::Always => RestartPolicyNameEnum::ALWAYS,
        Restart::UnlessStopped => RestartPolicyNameEnum::UNLESS_STOPPED,
        Restart::OnFailure => RestartPolicyNameEnum::ON_FAILURE,
    };
    let settings = &config.settings;
    // imm's own labels win over the user's (imm.* ones are refused at plan).
    let mut all_labels: HashMap<String, String> = settings.labels.iter().cloned().collect();
    all_labels.extend(labels(run, &instance.address));
    for served in config.networks.iter().filter_map(|n| n.proxy.as_ref()) {
        // A proxy replaced without a readable predecessor finds it by this.
        all_labels.insert(proxy::backend_label(served), String::new());
    }
    let first = joined_at_create(config);
    let networking_config = first.map(|first| NetworkingConfig {
        endpoints_config: Some(HashMap::from([(
            first.name.clone(),
            EndpointSettings::default(),
        )])),
    });
    Ok(ContainerCreateBody {
        image: Some(config.image.clone()),
        cmd: (!settings.command.is_empty()).then(|| settings.command.clone()),
        entrypoint: (!settings.entrypoint.is_empty()).then(|| settings.entrypoint.clone()),
        user: settings.user.clone(),
        working_dir: settings.working_dir.clone(),
        hostname: settings.hostname.clone(),
        stop_signal: settings.stop_signal.clone(),
        env: Some(env),
        labels: Some(all_labels),
        healthcheck: settings.health.as_ref().map(health),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        host_config: Some(HostConfig {
            port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
            mounts: (!mounts.is_empty()).then_some(mounts),
            restart_policy: Some(RestartPolicy {
                name: Some(restart),
                maximum_retry_count: None,
            }),
            network_mode: if config.host_network {
                Some("host".into())
            } else {
                first.map(|n| n.name.clone())
            },
            init: Some(settings.init),
            security_opt: non_empty(&config.security_opt),
            ..limits(settings)
        }),
        networking_config,
        ..Default::default()
    })
}

/// The bind mounts as Docker takes them: a project path made absolute
/// (the daemon resolves it on its own host, this one for a local engine).
pub(super) fn bind_mounts(module_dir: &Path, binds: &[Bind]) -> Result<Vec<Mount>, ActionError> {
    binds
        .iter()
        .map(|bind| {
            let source = match &bind.source {
                BindSource::Host(path) => path.clone(),
                BindSource::Project(path) => {
                    let full = module_dir.join(path);
                    let absolute = full.canonicalize().map_err(|e| {
                        ActionError::new(
                            Code::PathNotFound,
                            format!("bind: cannot find {}: {e}", full.display()),
                        )
                        .with_help("a bind's source is a path of the project, relative to the module's directory; create it or fix the path")
                    })?;
                    absolute.to_string_lossy().into_owned()
                }
            };
            Ok(Mount {
                typ: Some(MountType::BIND),
                source: Some(source),
                target: Some(bind.target.clone()),
                read_only: Some(bind.read_only),
                ..Default::default()
            })
        })
        .collect()
}

/// `Some` of a list Docker takes, `None` (the daemon's default) when empty.
fn non_empty<T: Clone>(items: &[T]) -> Option<Vec<T>> {
    (!items.is_empty()).then(|| items.to_vec())
}

/// The host configuration the shared settings make: limits, privileges,
/// filesystems, name resolution, logs.
fn limits(settings: &Settings) -> HostConfig {
    HostConfig {
        memory: settings.mem_limit,
        memory_reservation: settings.mem_reservation,
        nano_cpus: settings.nano_cpus,
        readonly_rootfs: Some(settings.read_only),
        tmpfs: (!settings.tmpfs.is_empty()).then(|| {
            settings
                .tmpfs
                .iter()
                .map(|t| (t.path.clone(), t.options.clone()))
                .collect()
        }),
        cap_add: non_empty(&settings.cap_add),
        cap_drop: non_empty(&settings.cap_drop),
        ulimits: non_empty(&super::ulimits(settings)),
        extra_hosts: (!settings.extra_hosts.is_empty()).then(|| {
            settings
                .extra_hosts
                .iter()
                .map(|(host, ip)| format!("{host}:{ip}"))
                .collect()
        }),
        dns: non_empty(&settings.dns),
        sysctls: (!settings.sysctls.is_empty()).then(|| settings.sysctls.iter().cloned().collect()),
        log_config: settings.logging.as_ref().map(|l| HostConfigLogConfig {
            typ: Some(l.driver.clone()),
            config: Some(l.options.iter().cloned().collect()),
        }),
        ..Default::default()
    }
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
                return Err(ActionError::new(
                    Code::ExecutorConfig,
                    format!("ports: \"{spec}\" is not \"host:container\" or \"ip:host:container\""),
                ))
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

/// Retires a container without dropping a request: it leaves its proxies
/// and its aliased networks first (no new request reaches it), keeps
/// running for its `drain` period (requests it holds finish, its upstream
/// networks still connected), then stops (`stop_timeout`) and is removed.
async fn retire(
    client: &DockerClient,
    existing: Existing<'_>,
    run: &RunContext,
) -> Result<(), ActionError> {
    let Some(id) = private_str(existing.private, "id") else {
        return Ok(());
    };
    let engine = existing_engine(&existing);
    let docker = &client.engine(engine.as_deref()).await?;
    // Secrets in the record are masked; networks and durations never are.
    let config: Option<ContainerConfig> = recorded_config(existing.attributes);
    let networks = config
        .as_ref()
        .map(|c| c.networks.clone())
        .unwrap_or_default();
    let mut served = false;
    for network in networks.iter().filter(|n| n.serves()) {
        served = true;
        match &network.proxy {
            Some(proxy_name) => {
                proxy::leave(client, engine.as_deref(), run, proxy_name, id).await?;
            }
            None => {
                let _ = docker
                    .disconnect_network(
                        &network.name,
                        NetworkDisconnectRequest {
                            container: id.to_string(),
                            force: Some(true),
                        },
                    )
                    .await;
            }
        }
    }
    if served {
        let drain_ns = config
            .as_ref()
            .map(|c| c.drain_ns)
            .unwrap_or_else(|| duration_ns(DEFAULT_DRAIN).unwrap_or(0));
        tokio::time::sleep(from_ns(drain_ns)).await;
    }
    let seconds = config
        .as_ref()
        .map(|c| c.stop_seconds)
        .unwrap_or(DEFAULT_STOP_SECONDS);
    stop(docker, id, seconds).await?;
    remove_container(docker, id).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

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

    /// A tagged image of the static busybox, built with the Docker CLI.
    fn busybox_image(tag: &str) -> tempfile::TempDir {
        let busybox = ["/bin/busybox", "/usr/bin/busybox"]
            .iter()
            .find_map(|p| std::fs::read(p).ok());
        let Some(busybox) = busybox else {
            panic!("this test needs a static busybox: apt-get install busybox-static");
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let copy = dir.path().join("busybox");
        std::fs::write(&copy, busybox).expect("copy busybox");
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        std::fs::write(
            dir.path().join("Dockerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\n",
        )
        .expect("Dockerfile");
        let built = std::process::Command::new("docker")
            .args(["build", "-q", "-t", tag])
            .arg(dir.path())
            .output();
        assert!(
            built.as_ref().is_ok_and(|o| o.status.success()),
            "this test needs a running Docker Engine (`docker info`; start dockerd): {built:?}"
        );
        dir
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_new_replica_parses_its_configuration_once() {
        let tag = "imm-executors-test/parse-once:1";
        let dir = busybox_image(tag);
        let strings = |items: &[&str]| {
            imm_stdlib::Value::List(
                items
                    .iter()
                    .map(|s| imm_stdlib::Value::string(*s))
                    .collect(),
            )
        };
        let config = BTreeMap::from([
            ("image".to_string(), imm_stdlib::Value::string(tag)),
            ("name".to_string(), imm_stdlib::Value::string("once")),
            (
                "command".to_string(),
                strings(&["/bin/busybox", "sleep", "600"]),
            ),
        ]);
        let type_name = imm_lang::types::docker_container::TYPE.name();
        let instance = Instance {
            address: format!("{type_name}.once"),
            resource: format!("{type_name}.once"),
            type_name: type_name.to_string(),
            name: "once".into(),
            key: None,
            config,
            depends_on: Vec::new(),
            prevent_destroy: false,
            module_dir: dir.path().to_path_buf(),
            span: Default::default(),
            typed_config: Default::default(),
        };
        let run = RunContext {
            project: "imm-executors-test".into(),
            environment: "parse-once".into(),
            lineage: uuid::Uuid::new_v4().to_string(),
            stores: Default::default(),
            progress: None,
            purpose: "test".into(),
        };
        let executor = ContainerExecutor(Arc::new(DockerClient::new()));
        let mut created = executor
            .create(&instance, &CreateRequest::default(), &run)
            .await
            .expect("create");
        let tested = executor.test(&instance, &created, &run).await;
        let served = executor.serve(&instance, &mut created, &run).await;
        let discarded = executor.discard(&instance, &created, &run).await;
        let _ = std::process::Command::new("docker")
            .args(["rmi", "-f", tag])
            .output();
        tested.expect("test");
        served.expect("serve");
        discarded.expect("discard");
        assert_eq!(
            instance.typed_config.parses(),
            1,
            "create, test, serve and discard share one parse"
        );
    }
}
