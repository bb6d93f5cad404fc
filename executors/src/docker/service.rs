//! `docker_service` on a Swarm manager. A create makes the service (its
//! configs and secrets first) and waits until every task runs healthy; a
//! replacement is a full-spec update of the same service that Swarm rolls
//! out task by task and rolls back by itself on failure: success is read
//! from the service's update status, never assumed. Configs and secrets are
//! immutable in Swarm, so each change makes new ones and the old ones are
//! removed once no task uses them. Every wait has a deadline (a task that
//! can never be placed never fails by itself). What Swarm does after the
//! fact (tasks that outlive their service, lost nodes) is waited for
//! through `swarm.rs`.
//!
//! Pitfalls that shape the code: `update_service` replaces the whole spec
//! and wants the version it was read at; the update status is not reset by
//! a new update (a new one is told by its start time); durations are
//! nanoseconds.

use super::swarm::{self, Removal};
use super::{failed, labels, private_str, status, DockerClient, LABEL_ADDRESS};
use crate::{
    ActionError, Configured, CreateRequest, Created, Executor, Existing, Observed, RunContext,
};
use async_trait::async_trait;
use base64::Engine as _;
use bollard::models::{
    ConfigSpec, EndpointPortConfig, EndpointPortConfigProtocolEnum,
    EndpointPortConfigPublishModeEnum, EndpointSpec, EndpointSpecModeEnum, HealthConfig,
    NetworkAttachmentConfig, SecretSpec, Service, ServiceSpec, ServiceSpecMode,
    ServiceSpecModeReplicated, ServiceSpecRollbackConfig, ServiceSpecRollbackConfigOrderEnum,
    ServiceSpecUpdateConfig, ServiceSpecUpdateConfigFailureActionEnum,
    ServiceSpecUpdateConfigOrderEnum, ServiceUpdateStatusStateEnum, TaskSpec,
    TaskSpecContainerSpec, TaskSpecContainerSpecConfigs, TaskSpecContainerSpecFile,
    TaskSpecContainerSpecFile1, TaskSpecContainerSpecSecrets, TaskSpecPlacement,
    TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum, TaskState,
};
use bollard::models::{
    Limit, Mount, MountTmpfsOptions, MountType, ResourceObject, TaskSpecContainerSpecDnsConfig,
    TaskSpecLogDriver, TaskSpecResources,
};
use bollard::query_parameters::{InspectServiceOptions, ListTasksOptions, UpdateServiceOptions};
use bollard::Docker;
use imm_lang::diagnostics::Code;
use imm_lang::evaluate::{Instance, InstanceKey};
use imm_lang::types::docker_service::{ServiceConfig, ServiceMode};
use imm_lang::types::settings::{parse_bytes, Bind, BindSource, Settings, Tmpfs};
use serde_json::{json, Map, Value as Json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct ServiceExecutor(pub Arc<DockerClient>);

/// How often a rollout is looked at.
const POLL: Duration = Duration::from_millis(500);

impl Configured for ServiceExecutor {
    type Config = ServiceConfig;
}

#[async_trait]
impl Executor for ServiceExecutor {
    async fn create(
        &self,
        instance: &Instance,
        request: &CreateRequest,
        run: &RunContext,
    ) -> Result<Created, ActionError> {
        let config = ServiceExecutor::config(instance)?;
        let (engine, docker) = &self.0.named_by(instance).await?;
        let name = config.service_name(
            &run.project,
            &run.environment,
            &instance.name,
            instance.key.as_ref().map(InstanceKey::name_part).as_deref(),
        );
        if config.image.starts_with("sha256:") {
            if let Some(registry) = self.0.spec(engine.as_deref())?.registry {
                // Nodes pull from the registry by digest; an image id is
                // known only where the image was built.
                return Err(ActionError::new(
                    Code::ExecutorConfig,
                    format!(
                        "service {name} names image {} by id, but its engine pushes images to {}",
                        config.image, registry.address
                    ),
                )
                .with_help("write image = docker_image.NAME.repo_digest so that every node pulls the same digest"));
            }
        }
        let current = current_service(docker, request, &name).await?;
        let objects = make_objects(docker, &config, &name, &instance.address, run).await?;
        let spec = service_spec(&config, &name, &objects, &instance.address, run);
        let deadline = Instant::now() + Duration::from_nanos(config.deadline_ns.max(0) as u64);
        let outcome = match &current {
            Some(service) => {
                run.report(
                    &instance.address,
                    &format!("rolling update of service {name}"),
                );
                update(docker, service, spec, &config, deadline).await
            }
            None => {
                run.report(&instance.address, &format!("creating service {name}"));
                create(docker, spec, &config, deadline).await
            }
        };
        let id = match outcome {
            Ok(id) => id,
            Err(e) => {
                // A failed create leaves nothing; a failed update was rolled
                // back, so its new configs and secrets are unused.
                if current.is_none() {
                    let _ =
                        delete_service(docker, &name, Instant::now() + swarm::RELEASE_WAIT).await;
                }
                remove_objects(docker, &objects).await;
                return Err(e);
            }
        };
        let mut outs = Map::new();
        outs.insert("id".into(), json!(id));
        outs.insert("name".into(), json!(name));
        Ok(Created {
            outs,
            private: json!({
                "id": id,
                "name": name,
                "engine": engine,
                "configs": Objects::ids(&objects.configs),
                "secrets": Objects::ids(&objects.secrets),
                "updated": current.is_some(),
            }),
        })
    }

    async fn destroy(
        &self,
        existing: Existing<'_>,
        successor: Option<&Created>,
        _run: &RunContext,
    ) -> Result<(), ActionError> {
        let Some((docker, id)) = self.0.recorded(&existing, "id").await? else {
            return Ok(());
        };
        let docker = &docker;
        let kept_by_successor =
            successor.is_some_and(|s| private_str(&s.private, "id") == Some(id));
        let deadline = Instant::now() + swarm::RELEASE_WAIT;
        let mut held = Vec::new();
        if !kept_by_successor {
            held = delete_service(docker, id, deadline).await?;
        }
        let objects = Objects::recorded(existing.private);
        let still_used = successor.map(|s| Objects::recorded(&s.private));
        let unused = objects.without(still_used.as_ref());
        held.extend(remove_objects_until(docker, &unused, deadline).await?);
        released(id, &held)
    }

    async fn discard(
        &self,
        instance: &Instance,
        created: &Created,
        _run: &RunContext,
    ) -> Result<(), ActionError> {
        let docker = &self.0.for_instance(instance).await?;
        let Some(id) = private_str(&created.private, "id") else {
            return Ok(());
        };
        let deadline = Instant::now() + Duration::from_secs(300);
        if created.private.get("updated").and_then(Json::as_bool) == Some(true) {
            // The service was there before: back to the spec it had.
            let service = inspect(docker, id).await?;
            let version = spec_version(&service)?;
            let before = service
                .update_status
                .as_ref()
                .and_then(|s| s.started_at.clone());
            let spec = service.spec.clone().unwrap_or_default();
            docker
                .update_service(
                    id,
                    spec,
                    UpdateServiceOptions {
                        version,
                        rollback: Some("previous".into()),
                        ..Default::default()
                    },
                    None,
                )
                .await
                .map_err(|e| failed(&format!("rolling back service {id}"), e))?;
            let end = update_end(docker, id, before.as_deref(), deadline).await?;
            if end.as_ref().map(|(state, _)| *state)
                != Some(ServiceUpdateStatusStateEnum::ROLLBACK_COMPLETED)
            {
                // Its configs and secrets may still be in use: kept.
                return Err(ActionError::new(
                    Code::SwarmUpdateFailed,
                    format!(
                        "rolling service {id} back to its previous spec did not complete ({})",
                        end.map(|(_, message)| message)
                            .unwrap_or_else(|| "deadline passed".into())
                    ),
                )
                .with_help(format!("see `docker service ps {id}`")));
            }
            // The configs it shares with the previous version stay in use.
            remove_objects(docker, &Objects::recorded(&created.private)).await;
            return Ok(());
        }
        let mut held = delete_service(docker, id, deadline).await?;
        let objects = Objects::recorded(&created.private);
        held.extend(remove_objects_until(docker, &objects, deadline).await?);
        released(id, &held)
    }

    async fn read(
        &self,
        existing: Existing<'_>,
        _run: &RunContext,
    ) -> Result<Observed, ActionError> {
        let Some((docker, id)) = self.0.recorded(&existing, "id").await? else {
            return Ok(Observed::AsRecorded);
        };
        let docker = &docker;
        let service = match docker
            .inspect_service(id, None::<InspectServiceOptions>)
            .await
        {
            Ok(service) => service,
            Err(e) if status(&e) == Some(404) => {
                return Ok(Observed::Drifted(format!("service {id} no longer exists")))
            }
            Err(e) => return Err(failed(&format!("inspecting service {id}"), e)),
        };
        let Some(recorded) = crate::recorded_config::<ServiceConfig>(existing.attributes) else {
            return Ok(Observed::AsRecorded);
        };
        Ok(match spec_drift(&service, &recorded) {
            Some(drift) => Observed::Drifted(drift),
            None => Observed::AsRecorded,
        })
    }
}

/// The service this create updates: the predecessor's, or one of this
/// name left by an interrupted create.
async fn current_service(
    docker: &Docker,
    request: &CreateRequest,
    name: &str,
) -> Result<Option<Service>, ActionError> {
    let recorded = request
        .predecessor
        .as_ref()
        .and_then(|p| private_str(&p.private, "id"));
    for candidate in recorded.into_iter().chain([name]) {
        match docker
            .inspect_service(candidate, None::<InspectServiceOptions>)
            .await
        {
            Ok(service) => return Ok(Some(service)),
            Err(e) if status(&e) == Some(404) => {}
            Err(e) => return Err(failed(&format!("inspecting service {candidate}"), e)),
        }
    }
    Ok(None)
}

/// What Swarm runs differs from what was applied in ways a user would want
/// to know: the image or the number of replicas.
fn spec_drift(service: &Service, recorded: &ServiceConfig) -> Option<String> {
    let spec = service.spec.as_ref()?;
    let image = spec
        .task_template
        .as_ref()
        .and_then(|t| t.container_spec.as_ref())
        .and_then(|c| c.image.as_deref())
        .unwrap_or_default();
    if image != recorded.image {
        return Some(format!(
            "the service runs image {image} instead of {} (changed outside imm)",
            recorded.image
        ));
    }
    if let ServiceMode::Replicated(wanted) = recorded.mode {
        let replicas = spec
            .mode
            .as_ref()
            .and_then(|m| m.replicated.as_ref())
            .and_then(|r| r.replicas)
            .unwrap_or(0);
        if replicas != wanted as i64 {
            return Some(format!(
                "the service has {replicas} replicas instead of {wanted} (scaled outside imm)"
            ));
        }
    }
    None
}

/// A Swarm config or secret of a service. Read back from a record, only
/// the id is known.
#[derive(Debug, Clone, Default)]
struct SwarmObject {
    id: String,
    name: String,
    /// Where the task sees it: a path (config) or a file name under
    /// `/run/secrets` (secret).
    target: String,
}

/// The Swarm configs and secrets of one version of a service.
#[derive(Debug, Default)]
struct Objects {
    configs: Vec<SwarmObject>,
    secrets: Vec<SwarmObject>,
}

impl Objects {
    fn recorded(private: &Json) -> Objects {
        let ids = |key: &str| -> Vec<SwarmObject> {
            private
                .get(key)
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .filter_map(Json::as_str)
                .map(|id| SwarmObject {
                    id: id.to_string(),
                    ..SwarmObject::default()
                })
                .collect()
        };
        Objects {
            configs: ids("configs"),
            secrets: ids("secrets"),
        }
    }

    /// These objects but those `other` uses too.
    fn without(&self, other: Option<&Objects>) -> Objects {
        let keep = |list: &[SwarmObject], used: Option<&Vec<SwarmObject>>| {
            list.iter()
                .filter(|o| !used.is_some_and(|u| u.iter().any(|other| other.id == o.id)))
                .cloned()
                .collect()
        };
        Objects {
            configs: keep(&self.configs, other.map(|o| &o.configs)),
            secrets: keep(&self.secrets, other.map(|o| &o.secrets)),
        }
    }

    fn ids(list: &[SwarmObject]) -> Vec<&str> {
        list.iter().map(|o| o.id.as_str()).collect()
    }
}

/// Creates the configs (named by their content, so an unchanged file is
/// the same object) and secrets (named at random: a name derived from a
/// secret would say something about it) of a new version.
async fn make_objects(
    docker: &Docker,
    config: &ServiceConfig,
    service: &str,
    address: &str,
    run: &RunContext,
) -> Result<Objects, ActionError> {
    let mut objects = Objects::default();
    let mut labels = labels(run, address);
    labels.insert(LABEL_SERVICE.into(), service.into());
    for (path, content) in &config.files {
        let digest = Sha256::digest(format!("{path}\0{content}").as_bytes());
        let name = format!("{service}-{}", &hex(&digest)[..12]);
        let id = match find_config(docker, &name).await? {
            Some(id) => id,
            None => {
                let created = docker
                    .create_config(ConfigSpec {
                        name: Some(name.clone()),
                        labels: Some(labels.clone()),
                        data: Some(base64::engine::general_purpose::STANDARD.encode(content)),
                        ..Default::default()
                    })
                    .await;
                match created {
                    Ok(r) => r.id,
                    Err(e) => {
                        remove_objects(docker, &objects).await;
                        return Err(failed(&format!("creating config {name}"), e));
                    }
                }
            }
        };
        objects.configs.push(SwarmObject {
            id,
            name,
            target: path.clone(),
        });
    }
    for (file, value) in &config.secrets {
        let name = format!("{service}-{file}-{}", super::short_random());
        let created = docker
            .create_secret(SecretSpec {
                name: Some(name.clone()),
                labels: Some(labels.clone()),
                data: Some(base64::engine::general_purpose::STANDARD.encode(value)),
                ..Default::default()
            })
            .await;
        match created {
            Ok(r) => {
                objects.secrets.push(SwarmObject {
                    id: r.id,
                    name,
                    target: file.clone(),
                });
            }
            Err(e) => {
                remove_objects(docker, &objects).await;
                // The message never holds the value: only the name.
                return Err(failed(&format!("creating secret {name}"), e));
            }
        }
    }
    Ok(objects)
}

/// The label that ties configs and secrets to their service.
const LABEL_SERVICE: &str = "imm.service";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn find_config(docker: &Docker, name: &str) -> Result<Option<String>, ActionError> {
    let filters = HashMap::from([("name".to_string(), vec![name.to_string()])]);
    let found = docker
        .list_configs(Some(bollard::query_parameters::ListConfigsOptions {
            filters: Some(filters),
        }))
        .await
        .map_err(|e| failed("listing configs", e))?;
    Ok(found
        .into_iter()
        .find(|c| c.spec.as_ref().and_then(|s| s.name.as_deref()) == Some(name))
        .and_then(|c| c.id))
}

/// A removal's end: done, or what Swarm still held (a coded error; state
/// keeps the record, so the next destroy carries on).
fn released(id: &str, held: &[String]) -> Result<(), ActionError> {
    if held.is_empty() {
        Ok(())
    } else {
        Err(swarm::still_holds(
            &format!("service {id} was removed"),
            held,
        ))
    }
}

/// Best effort, for a failure path: what is left is swept later.
async fn remove_objects(docker: &Docker, objects: &Objects) {
    let _ = remove_objects_until(docker, objects, Instant::now()).await;
}

/// Removes the configs and secrets, trying again until `until` while a
/// service still uses one; returns those still in use then.
async fn remove_objects_until(
    docker: &Docker,
    objects: &Objects,
    until: Instant,
) -> Result<Vec<String>, ActionError> {
    let mut held = Vec::new();
    for SwarmObject { id, .. } in &objects.configs {
        let what = format!("config {id}");
        if let Some(message) = retry_removal(until, &what, || docker.delete_config(id)).await? {
            held.push(format!("{what}: {message}"));
        }
    }
    for SwarmObject { id, .. } in &objects.secrets {
        let what = format!("secret {id}");
        if let Some(message) = retry_removal(until, &what, || docker.delete_secret(id)).await? {
            held.push(format!("{what}: {message}"));
        }
    }
    Ok(held)
}

/// Calls `remove` until it is done or `until` has passed; Swarm's message
/// when the object is still in use then.
async fn retry_removal<F, Fut>(
    until: Instant,
    what: &str,
    remove: F,
) -> Result<Option<String>, ActionError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), bollard::errors::Error>>,
{
    loop {
        match swarm::removal(remove().await, what)? {
            Removal::Done => return Ok(None),
            Removal::Held(message) if Instant::now() >= until => return Ok(Some(message)),
            Removal::Held(_) => tokio::time::sleep(POLL).await,
        }
    }
}

/// The whole spec of one version of the service.
fn service_spec(
    config: &ServiceConfig,
    name: &str,
    objects: &Objects,
    address: &str,
    run: &RunContext,
) -> ServiceSpec {
    let settings = &config.settings;
    let container = TaskSpecContainerSpec {
        image: Some(config.image.clone()),
        args: (!settings.command.is_empty()).then(|| settings.command.clone()),
        env: Some(config.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        init: Some(settings.init),
        stop_grace_period: Some(config.stop_grace_ns.max(0)),
        labels: Some(task_labels(settings, run, address)),
        health_check: settings.health.as_ref().map(|h| HealthConfig {
            test: Some(
                std::iter::once("CMD".to_string())
                    .chain(h.command.iter().cloned())
                    .collect(),
            ),
            interval: Some(h.interval_ns),
            timeout: Some(h.timeout_ns),
            retries: Some(h.retries),
            start_period: Some(h.start_period_ns),
            ..Default::default()
        }),
        configs: Some(
            objects
                .configs
                .iter()
                .map(|o| TaskSpecContainerSpecConfigs {
                    config_id: Some(o.id.clone()),
                    config_name: Some(o.name.clone()),
                    file: Some(TaskSpecContainerSpecFile1 {
                        name: Some(o.target.clone()),
                        uid: Some("0".into()),
                        gid: Some("0".into()),
                        mode: Some(0o444),
                    }),
                    ..Default::default()
                })
                .collect(),
        ),
        secrets: Some(
            objects
                .secrets
                .iter()
                .map(|o| TaskSpecContainerSpecSecrets {
                    secret_id: Some(o.id.clone()),
                    secret_name: Some(o.name.clone()),
                    file: Some(TaskSpecContainerSpecFile {
                        name: Some(o.target.clone()),
                        uid: Some("0".into()),
                        gid: Some("0".into()),
                        mode: Some(0o400),
                    }),
                })
                .collect(),
        ),
        ..container_settings(settings)
    };
    let restart = &config.restart;
    let task = TaskSpec {
        container_spec: Some(container),
        resources: resources(settings),
        log_driver: settings.logging.as_ref().map(|l| TaskSpecLogDriver {
            name: Some(l.driver.clone()),
            options: Some(l.options.iter().cloned().collect()),
        }),
        restart_policy: Some(TaskSpecRestartPolicy {
            condition: Some(match restart.condition.as_str() {
                "none" => TaskSpecRestartPolicyConditionEnum::NONE,
                "on-failure" => TaskSpecRestartPolicyConditionEnum::ON_FAILURE,
                _ => TaskSpecRestartPolicyConditionEnum::ANY,
            }),
            delay: Some(restart.delay_ns),
            max_attempts: restart.max_attempts.map(|n| n as i64),
            ..Default::default()
        }),
        placement: Some(TaskSpecPlacement {
            constraints: Some(config.placement.constraints.clone()),
            max_replicas: config.placement.max_replicas_per_node.map(|n| n as i64),
            ..Default::default()
        }),
        networks: Some(
            config
                .networks
                .iter()
                .map(|n| NetworkAttachmentConfig {
                    target: Some(n.name.clone()),
                    aliases: Some(n.aliases.clone()),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    };
    let start_first = config.start_first();
    let update = &config.update;
    ServiceSpec {
        name: Some(name.to_string()),
        labels: Some(labels(run, address)),
        task_template: Some(task),
        mode: Some(match config.mode {
            ServiceMode::Replicated(n) => ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated {
                    replicas: Some(n as i64),
                }),
                ..Default::default()
            },
            ServiceMode::Global => ServiceSpecMode {
                global: Some(HashMap::new()),
                ..Default::default()
            },
        }),
        update_config: Some(ServiceSpecUpdateConfig {
            parallelism: Some(update.parallelism as i64),
            delay: Some(update.delay_ns),
            failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK),
            monitor: Some(update.monitor_ns),
            max_failure_ratio: Some(update.max_failure_ratio),
            order: Some(if start_first {
                ServiceSpecUpdateConfigOrderEnum::START_FIRST
            } else {
                ServiceSpecUpdateConfigOrderEnum::STOP_FIRST
            }),
        }),
        rollback_config: Some(ServiceSpecRollbackConfig {
            parallelism: Some(update.parallelism as i64),
            delay: Some(0),
            monitor: Some(update.monitor_ns),
            max_failure_ratio: Some(0.0),
            order: Some(if start_first {
                ServiceSpecRollbackConfigOrderEnum::START_FIRST
            } else {
                ServiceSpecRollbackConfigOrderEnum::STOP_FIRST
            }),
            ..Default::default()
        }),
        endpoint_spec: Some(EndpointSpec {
            mode: Some(if config.dns_round_robin {
                EndpointSpecModeEnum::DNSRR
            } else {
                EndpointSpecModeEnum::VIP
            }),
            ports: Some(
                config
                    .ports
                    .iter()
                    .map(|p| EndpointPortConfig {
                        protocol: Some(if p.udp {
                            EndpointPortConfigProtocolEnum::UDP
                        } else {
                            EndpointPortConfigProtocolEnum::TCP
                        }),
                        target_port: Some(i64::from(p.target)),
                        published_port: Some(i64::from(p.published)),
                        publish_mode: Some(if p.host_mode {
                            EndpointPortConfigPublishModeEnum::HOST
                        } else {
                            EndpointPortConfigPublishModeEnum::INGRESS
                        }),
                        ..Default::default()
                    })
                    .collect(),
            ),
        }),
        ..Default::default()
    }
}

/// A task's labels: the user's, with imm's own over them.
fn task_labels(settings: &Settings, run: &RunContext, address: &str) -> HashMap<String, String> {
    let mut all: HashMap<String, String> = settings.labels.iter().cloned().collect();
    all.extend(labels(run, address));
    all
}

/// The shared settings as Swarm's container spec takes them (`command` is
/// Swarm's name for the entrypoint; hosts are written "IP host").
fn container_settings(settings: &Settings) -> TaskSpecContainerSpec {
    let some = |items: &[String]| (!items.is_empty()).then(|| items.to_vec());
    TaskSpecContainerSpec {
        command: some(&settings.entrypoint),
        user: settings.user.clone(),
        dir: settings.working_dir.clone(),
        hostname: settings.hostname.clone(),
        stop_signal: settings.stop_signal.clone(),
        read_only: Some(settings.read_only),
        mounts: some_vec(
            settings
                .tmpfs
                .iter()
                .map(tmpfs_mount)
                .chain(settings.binds.iter().filter_map(host_bind))
                .collect(),
        ),
        capability_add: some(&settings.cap_add),
        capability_drop: some(&settings.cap_drop),
        sysctls: (!settings.sysctls.is_empty()).then(|| settings.sysctls.iter().cloned().collect()),
        hosts: some_vec(
            settings
                .extra_hosts
                .iter()
                .map(|(host, ip)| format!("{ip} {host}"))
                .collect(),
        ),
        dns_config: (!settings.dns.is_empty()).then(|| TaskSpecContainerSpecDnsConfig {
            nameservers: Some(settings.dns.clone()),
            ..Default::default()
        }),
        ulimits: some_vec(super::ulimits(settings)),
        ..Default::default()
    }
}

fn some_vec<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

/// A bind of a path every node has (a service's binds of project paths
/// are refused at plan: the project is on this machine only).
fn host_bind(bind: &Bind) -> Option<Mount> {
    let BindSource::Host(path) = &bind.source else {
        return None;
    };
    Some(Mount {
        typ: Some(MountType::BIND),
        source: Some(path.clone()),
        target: Some(bind.target.clone()),
        read_only: Some(bind.read_only),
        ..Default::default()
    })
}

/// A tmpfs as a Swarm mount: only `size` and `mode` (checked at plan).
fn tmpfs_mount(tmpfs: &Tmpfs) -> Mount {
    let option = |name: &str| {
        tmpfs
            .options
            .split(',')
            .find_map(|o| o.strip_prefix(name)?.strip_prefix('='))
    };
    Mount {
        typ: Some(MountType::TMPFS),
        target: Some(tmpfs.path.clone()),
        tmpfs_options: Some(MountTmpfsOptions {
            size_bytes: option("size").and_then(|v| parse_bytes(v).ok()),
            mode: option("mode").and_then(|v| i64::from_str_radix(v, 8).ok()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Memory and CPU limits and reservations, when any is set.
fn resources(settings: &Settings) -> Option<TaskSpecResources> {
    let limited = settings.mem_limit.is_some() || settings.nano_cpus.is_some();
    let reserved = settings.mem_reservation.is_some();
    (limited || reserved).then(|| TaskSpecResources {
        limits: limited.then(|| Limit {
            nano_cpus: settings.nano_cpus,
            memory_bytes: settings.mem_limit,
            ..Default::default()
        }),
        reservations: reserved.then(|| ResourceObject {
            memory_bytes: settings.mem_reservation,
            ..Default::default()
        }),
        ..Default::default()
    })
}

async fn inspect(docker: &Docker, id: &str) -> Result<Service, ActionError> {
    docker
        .inspect_service(id, None::<InspectServiceOptions>)
        .await
        .map_err(|e| failed(&format!("inspecting service {id}"), e))
}

fn spec_version(service: &Service) -> Result<i32, ActionError> {
    let index = service
        .version
        .as_ref()
        .and_then(|v| v.index)
        .unwrap_or_default();
    i32::try_from(index).map_err(|_| {
        ActionError::new(
            Code::SwarmUpdateFailed,
            format!("the swarm gave service version {index}, beyond what its API accepts back"),
        )
    })
}

async fn create(
    docker: &Docker,
    spec: ServiceSpec,
    config: &ServiceConfig,
    deadline: Instant,
) -> Result<String, ActionError> {
    let name = spec.name.clone().unwrap_or_default();
    let created = docker
        .create_service(spec, None)
        .await
        .map_err(|e| failed(&format!("creating service {name}"), e))?;
    let id = created.id.unwrap_or(name);
    wait_for_tasks(docker, &id, &config.mode, deadline).await?;
    Ok(id)
}

/// Waits for lost nodes to be declared down, sends the new spec and
/// follows the rolling update to its end, starting it again when it is
/// stuck on tasks given to a node that was lost meanwhile.
async fn update(
    docker: &Docker,
    service: &Service,
    mut spec: ServiceSpec,
    config: &ServiceConfig,
    deadline: Instant,
) -> Result<String, ActionError> {
    let id = service.id.clone().unwrap_or_default();
    let name = spec.name.clone().unwrap_or_else(|| id.clone());
    let mut before = service
        .update_status
        .as_ref()
        .and_then(|s| s.started_at.clone());
    swarm::settle_lost_nodes(docker, &name, deadline).await?;
    let mut service = service.clone();
    let mut resent = 0;
    let end = loop {
        let force = send_update(docker, &mut service, &id, &mut spec).await?;
        match follow_update(docker, &id, before.as_deref(), force, deadline).await? {
            Followed::Stuck(_) if resent < MAX_RESENDS => {
                // Swarm has declared the node down and moved its tasks;
                // a new update starts over from what runs now.
                resent += 1;
                service = inspect(docker, &id).await?;
                before = service
                    .update_status
                    .as_ref()
                    .and_then(|s| s.started_at.clone());
            }
            Followed::Stuck(stuck) => {
                return Err(ActionError::new(
                    Code::SwarmUpdateFailed,
                    format!(
                        "the rolling update of service {name} does not progress: {stuck}; it was started again {resent} times after Swarm declared the nodes down"
                    ),
                )
                .with_help(format!(
                    "see `docker node ls` and `docker service ps {name}`; remove a lost node for good with `docker node rm --force ID`, then apply again"
                )))
            }
            Followed::Ended(end) => break end,
        }
    };
    match end {
        Some((ServiceUpdateStatusStateEnum::COMPLETED, _)) => {
            wait_for_tasks(docker, &id, &config.mode, deadline).await?;
            Ok(id)
        }
        Some((state, message)) => {
            let errors = task_errors(docker, &id).await;
            Err(ActionError::new(
                Code::SwarmUpdateFailed,
                format!(
                    "the rolling update of service {name} failed and Swarm {} ({message}); the previous version keeps serving{errors}",
                    if state == ServiceUpdateStatusStateEnum::PAUSED {
                        "paused it"
                    } else {
                        "rolled it back"
                    }
                ),
            ))
        }
        None => {
            let errors = task_errors(docker, &id).await;
            Err(ActionError::new(
                Code::ActionTimeout,
                format!(
                    "the rolling update of service {name} did not finish before its deadline; Swarm goes on with it{errors}"
                ),
            )
            .with_help(format!(
                "follow it with `docker service ps {name}`; raise the service's `deadline` if it is only slow"
            )))
        }
    }
}

/// How often a rolling update stuck on lost nodes is started again.
const MAX_RESENDS: usize = 2;

/// Sends `spec` as the service's next version, forcing new tasks (so that
/// even a change Swarm cannot see, a config with the same name, rolls
/// out); returns the spec's new `force_update`, which marks its tasks.
async fn send_update(
    docker: &Docker,
    service: &mut Service,
    id: &str,
    spec: &mut ServiceSpec,
) -> Result<u64, ActionError> {
    let force = service
        .spec
        .as_ref()
        .and_then(|s| s.task_template.as_ref())
        .and_then(|t| t.force_update)
        .unwrap_or(0)
        + 1;
    if let Some(task) = spec.task_template.as_mut() {
        task.force_update = Some(force);
    }
    loop {
        let sent = docker
            .update_service(
                id,
                spec.clone(),
                UpdateServiceOptions {
                    version: spec_version(service)?,
                    ..Default::default()
                },
                None,
            )
            .await;
        match sent {
            Ok(_) => return Ok(force),
            // Someone else changed it meanwhile: read it again and resend.
            Err(e) if super::docker_message(&e).contains("out of sequence") => {
                *service = inspect(docker, id).await?;
            }
            Err(e) => return Err(failed(&format!("updating service {id}"), e)),
        }
    }
}

/// How following a rolling update ended.
enum Followed {
    /// Swarm ended it (or the deadline passed: `None`).
    Ended(Option<(ServiceUpdateStatusStateEnum, String)>),
    /// Tasks of the new version went to nodes now declared down and never
    /// ran: Swarm's updater waits on them for ever. Names nodes and tasks.
    Stuck(String),
}

/// Follows the update that started after `before` like [`update_end`],
/// and also watches its tasks (marked by `force`) for those given to a
/// lost node: once Swarm has declared that node down, the update is stuck.
async fn follow_update(
    docker: &Docker,
    id: &str,
    before: Option<&str>,
    force: u64,
    deadline: Instant,
) -> Result<Followed, ActionError> {
    loop {
        let step = (Instant::now() + STUCK_CHECK).min(deadline);
        if let Some(end) = update_end(docker, id, before, step).await? {
            return Ok(Followed::Ended(Some(end)));
        }
        if Instant::now() > deadline {
            return Ok(Followed::Ended(None));
        }
        let tasks = list_tasks(docker, id).await?;
        let nodes = swarm::nodes(docker).await?;
        let stuck = swarm::stuck_on_lost_nodes(&tasks, &nodes, force);
        if !stuck.is_empty() && stuck.iter().all(|(_, node)| node.down) {
            let named: Vec<String> = stuck
                .iter()
                .map(|(task, node)| {
                    format!(
                        "{} was given to {}",
                        swarm::describe_task(task),
                        node.describe()
                    )
                })
                .collect();
            return Ok(Followed::Stuck(named.join(", ")));
        }
    }
}

/// How often a running update's tasks are checked for lost nodes.
const STUCK_CHECK: Duration = Duration::from_secs(2);

/// How the update (or rollback) that started after `before` (the start
/// time of the previous one) ended, with Swarm's message; `None` when it
/// had not ended by the deadline. Swarm does not reset the status of an
/// earlier update, so only a new start time tells the new one.
async fn update_end(
    docker: &Docker,
    id: &str,
    before: Option<&str>,
    deadline: Instant,
) -> Result<Option<(ServiceUpdateStatusStateEnum, String)>, ActionError> {
    loop {
        let now = inspect(docker, id).await?;
        if let Some(status) = now
            .update_status
            .as_ref()
            .filter(|s| s.started_at.as_deref() != before)
        {
            if let Some(
                state @ (ServiceUpdateStatusStateEnum::COMPLETED
                | ServiceUpdateStatusStateEnum::ROLLBACK_COMPLETED
                | ServiceUpdateStatusStateEnum::ROLLBACK_PAUSED
                | ServiceUpdateStatusStateEnum::PAUSED),
            ) = status.state
            {
                return Ok(Some((state, status.message.clone().unwrap_or_default())));
            }
        }
        if Instant::now() > deadline {
            return Ok(None);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until every task the service wants runs (healthy: Swarm counts a
/// task with a health check as running only once it is healthy); fails
/// early when tasks keep failing.
async fn wait_for_tasks(
    docker: &Docker,
    id: &str,
    mode: &ServiceMode,
    deadline: Instant,
) -> Result<(), ActionError> {
    loop {
        let tasks = list_tasks(docker, id).await?;
        let wanted: Vec<_> = tasks
            .iter()
            .filter(|t| t.desired_state == Some(TaskState::RUNNING))
            .collect();
        let running = wanted
            .iter()
            .filter(|t| t.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING))
            .count();
        let enough = match mode {
            ServiceMode::Replicated(n) => running as u64 >= *n,
            ServiceMode::Global => running > 0 && running == wanted.len(),
        };
        if enough {
            return Ok(());
        }
        let failures = tasks
            .iter()
            .filter(|t| {
                matches!(
                    t.status.as_ref().and_then(|s| s.state),
                    Some(TaskState::FAILED | TaskState::REJECTED)
                )
            })
            .count();
        let limit = match mode {
            ServiceMode::Replicated(n) => (*n as usize).max(1) * 3,
            ServiceMode::Global => 6,
        };
        if failures >= limit {
            return Err(ActionError::new(
                Code::SwarmUpdateFailed,
                format!(
                    "the tasks of service {id} keep failing ({failures} failed){}",
                    task_errors(docker, id).await
                ),
            ));
        }
        if Instant::now() > deadline {
            return Err(ActionError::new(
                Code::ActionTimeout,
                format!(
                    "service {id}: {running} tasks running before the deadline, not all{}",
                    task_errors(docker, id).await
                ),
            )
            .with_help(format!(
                "a task that cannot be placed (no node has the image or a free port) waits for ever: see `docker service ps {id}`"
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn list_tasks(docker: &Docker, id: &str) -> Result<Vec<bollard::models::Task>, ActionError> {
    let filters = HashMap::from([("service".to_string(), vec![id.to_string()])]);
    docker
        .list_tasks(Some(ListTasksOptions {
            filters: Some(filters),
        }))
        .await
        .map_err(|e| failed(&format!("listing the tasks of service {id}"), e))
}

/// The distinct errors the service's tasks report, for an error message.
async fn task_errors(docker: &Docker, id: &str) -> String {
    let Ok(tasks) = list_tasks(docker, id).await else {
        return String::new();
    };
    let mut errors: Vec<String> = Vec::new();
    for task in &tasks {
        let Some(status) = &task.status else {
            continue;
        };
        let line = match (&status.err, &status.message) {
            (Some(err), _) if !err.is_empty() => err.clone(),
            (_, Some(message))
                if matches!(status.state, Some(TaskState::FAILED | TaskState::REJECTED)) =>
            {
                message.clone()
            }
            _ => continue,
        };
        if !errors.contains(&line) {
            errors.push(line);
        }
    }
    if errors.is_empty() {
        String::new()
    } else {
        format!("\ntask errors:\n  {}", errors.join("\n  "))
    }
}

/// Removes the service (named or by id; already gone is fine) and waits
/// until the swarm holds none of its tasks: until then their nodes keep
/// its overlay network. Returns the tasks still held at `deadline`.
async fn delete_service(
    docker: &Docker,
    service: &str,
    deadline: Instant,
) -> Result<Vec<String>, ActionError> {
    let id = match docker
        .inspect_service(service, None::<InspectServiceOptions>)
        .await
    {
        Ok(found) => found.id.unwrap_or_else(|| service.to_string()),
        // Gone already (a destroy that ended early): its tasks may not be.
        Err(e) if status(&e) == Some(404) => service.to_string(),
        Err(e) => return Err(failed(&format!("inspecting service {service}"), e)),
    };
    match docker.delete_service(&id).await {
        Ok(()) => {}
        Err(e) if status(&e) == Some(404) => {}
        Err(e) => return Err(failed(&format!("removing service {service}"), e)),
    }
    swarm::wait_tasks_released(docker, &id, deadline).await
}

/// Services, configs and secrets labelled for this project, environment and
/// lineage that state does not know, on a swarm manager (an engine that is
/// not one has none).
pub(super) async fn sweep(
    docker: &Docker,
    filters: &HashMap<String, Vec<String>>,
    known: &std::collections::HashSet<String>,
) -> Result<Vec<String>, ActionError> {
    let mut found = Vec::new();
    let services = match docker
        .list_services(Some(bollard::query_parameters::ListServicesOptions {
            filters: Some(filters.clone()),
            ..Default::default()
        }))
        .await
    {
        Ok(services) => services,
        // 503: not a swarm manager, so no services, configs or secrets.
        Err(e) if status(&e) == Some(503) => return Ok(found),
        Err(e) => return Err(failed("listing services", e)),
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    for service in services {
        let id = service.id.clone().unwrap_or_default();
        let name = service
            .spec
            .as_ref()
            .and_then(|s| s.name.clone())
            .unwrap_or_default();
        if known.contains(&id) || known.contains(&name) {
            continue;
        }
        delete_service(docker, &id, deadline).await?;
        let address = service
            .spec
            .as_ref()
            .and_then(|s| s.labels.as_ref())
            .and_then(|l| l.get(LABEL_ADDRESS).cloned())
            .unwrap_or_default();
        found.push(format!("removed service {name} ({address})"));
    }
    let configs = docker
        .list_configs(Some(bollard::query_parameters::ListConfigsOptions {
            filters: Some(filters.clone()),
        }))
        .await
        .map_err(|e| failed("listing configs", e))?;
    for config in configs {
        let id = config.id.unwrap_or_default();
        if !known.contains(&id) && docker.delete_config(&id).await.is_ok() {
            found.push(format!("removed config {id}"));
        }
    }
    let secrets = docker
        .list_secrets(Some(bollard::query_parameters::ListSecretsOptions {
            filters: Some(filters.clone()),
        }))
        .await
        .map_err(|e| failed("listing secrets", e))?;
    for secret in secrets {
        let id = secret.id.unwrap_or_default();
        if !known.contains(&id) && docker.delete_secret(&id).await.is_ok() {
            found.push(format!("removed secret {id}"));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use imm_stdlib::Value;

    fn strings(items: &[&str]) -> Value {
        Value::List(items.iter().map(|s| Value::string(*s)).collect())
    }

    fn map(pairs: &[(&str, Value)]) -> Value {
        Value::Map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    fn run() -> RunContext {
        RunContext {
            project: "shop".into(),
            environment: "prod".into(),
            lineage: "lineage".into(),
            stores: Default::default(),
            progress: None,
            purpose: "test".into(),
        }
    }

    /// What `docker_service` sends to Docker for the shared settings:
    /// limits and reservations, user, capabilities, read-only root, tmpfs
    /// and host binds as mounts, hosts, DNS, ulimits, sysctls, logs.
    #[test]
    fn the_service_spec_carries_the_settings_as_swarm_names_them() {
        let Value::Map(config) = map(&[
            ("image", Value::string("shop/api@sha256:abc")),
            ("replicas", Value::number(2)),
            ("entrypoint", strings(&["/bin/api"])),
            ("command", strings(&["--serve"])),
            ("user", Value::string("65534:65534")),
            ("working_dir", Value::string("/srv")),
            ("labels", map(&[("team", Value::string("web"))])),
            ("mem_limit", Value::string("256m")),
            ("mem_reservation", Value::string("64m")),
            ("cpus", Value::string("1.5")),
            ("read_only", Value::Bool(true)),
            ("tmpfs", strings(&["/tmp:size=16m,mode=1777"])),
            ("cap_add", strings(&["NET_BIND_SERVICE"])),
            ("cap_drop", strings(&["ALL"])),
            ("extra_hosts", strings(&["db:10.0.0.5"])),
            ("dns", strings(&["10.0.0.53"])),
            ("hostname", Value::string("api")),
            ("stop_signal", Value::string("SIGINT")),
            (
                "sysctls",
                map(&[("net.core.somaxconn", Value::string("1024"))]),
            ),
            ("ulimits", map(&[("nofile", Value::number(4096))])),
            (
                "logging",
                map(&[
                    ("driver", Value::string("local")),
                    ("options", map(&[("max-size", Value::string("5m"))])),
                ]),
            ),
            (
                "bind",
                Value::List(vec![map(&[
                    ("host_path", Value::string("/var/log/shop")),
                    ("target", Value::string("/logs")),
                    ("read_only", Value::Bool(false)),
                ])]),
            ),
        ]) else {
            unreachable!("a map")
        };
        let config = ServiceConfig::try_from(&config).expect("valid");
        let spec = service_spec(
            &config,
            "shop-prod-api",
            &Objects::default(),
            "docker_service.api",
            &run(),
        );
        let task = spec.task_template.expect("task");
        let container = task.container_spec.expect("container");
        assert_eq!(container.image.as_deref(), Some("shop/api@sha256:abc"));
        assert_eq!(container.command, Some(vec!["/bin/api".to_string()]));
        assert_eq!(container.args, Some(vec!["--serve".to_string()]));
        assert_eq!(container.user.as_deref(), Some("65534:65534"));
        assert_eq!(container.dir.as_deref(), Some("/srv"));
        assert_eq!(container.read_only, Some(true));
        assert_eq!(container.hostname.as_deref(), Some("api"));
        assert_eq!(container.stop_signal.as_deref(), Some("SIGINT"));
        assert_eq!(
            container.capability_add,
            Some(vec!["NET_BIND_SERVICE".into()])
        );
        assert_eq!(container.capability_drop, Some(vec!["ALL".into()]));
        assert_eq!(container.hosts, Some(vec!["10.0.0.5 db".to_string()]));
        let labels = container.labels.expect("labels");
        assert_eq!(labels["team"], "web");
        assert_eq!(labels["imm.address"], "docker_service.api");
        let nameservers = container.dns_config.and_then(|d| d.nameservers);
        assert_eq!(nameservers, Some(vec!["10.0.0.53".to_string()]));
        let sysctls = container.sysctls.expect("sysctls");
        assert_eq!(sysctls["net.core.somaxconn"], "1024");
        let ulimit = &container.ulimits.expect("ulimits")[0];
        assert_eq!(
            (ulimit.name.as_deref(), ulimit.soft, ulimit.hard),
            (Some("nofile"), Some(4096), Some(4096))
        );
        let mounts = container.mounts.expect("mounts");
        let tmpfs = &mounts[0];
        assert_eq!(tmpfs.typ, Some(MountType::TMPFS));
        assert_eq!(tmpfs.target.as_deref(), Some("/tmp"));
        let options = tmpfs.tmpfs_options.as_ref().expect("tmpfs options");
        assert_eq!(options.size_bytes, Some(16 * 1024 * 1024));
        assert_eq!(options.mode, Some(0o1777));
        let bind = &mounts[1];
        assert_eq!(bind.typ, Some(MountType::BIND));
        assert_eq!(bind.source.as_deref(), Some("/var/log/shop"));
        assert_eq!(bind.target.as_deref(), Some("/logs"));
        assert_eq!(bind.read_only, Some(false));
        let resources = task.resources.expect("resources");
        let limits = resources.limits.expect("limits");
        assert_eq!(limits.memory_bytes, Some(256 * 1024 * 1024));
        assert_eq!(limits.nano_cpus, Some(1_500_000_000));
        let reservations = resources.reservations.expect("reservations");
        assert_eq!(reservations.memory_bytes, Some(64 * 1024 * 1024));
        let log = task.log_driver.expect("log driver");
        assert_eq!(log.name.as_deref(), Some("local"));
        assert_eq!(log.options.expect("options")["max-size"], "5m");
        let replicas = spec
            .mode
            .and_then(|m| m.replicated)
            .and_then(|r| r.replicas);
        assert_eq!(replicas, Some(2));
    }

    #[test]
    fn a_service_refuses_a_project_path_bind() {
        let Value::Map(config) = map(&[
            ("image", Value::string("shop/api:1")),
            (
                "bind",
                Value::List(vec![map(&[
                    ("source", Value::string("./conf")),
                    ("target", Value::string("/conf")),
                ])]),
            ),
        ]) else {
            unreachable!("a map")
        };
        let err = ServiceConfig::try_from(&config).expect_err("refused");
        assert_eq!(err.path, "bind[0].source");
        assert!(err.message.contains("runtime.files"), "{}", err.message);
    }
}
