//! `docker_image` on the daemon: build, reuse by fingerprint, test, and
//! keep one previous image; or pull an off-the-shelf image by the digest
//! the plan pinned it to (never by its tag), onto every node that runs it.

use super::{
    created_id, docker_message, existing_engine, failed, labels, log_tail, patient, private_str,
    remove_container, short_random, status, still_there, DockerClient, LABEL_FINGERPRINT,
    TEST_TIMEOUT,
};
use crate::{
    ActionError, Configured, CreateRequest, Created, Executor, Existing, Observed, RunContext,
};
use async_trait::async_trait;
use bollard::errors::Error as DockerError;
use bollard::models::{ContainerCreateBody, HostConfig, ImageInspect};
use bollard::query_parameters::{
    BuildImageOptions, CreateContainerOptions, CreateImageOptions, ListImagesOptions,
    PushImageOptions, RemoveImageOptions, TagImageOptions,
};
use bollard::Docker;
use futures_util::StreamExt;
use imm_lang::diagnostics::Code;
use imm_lang::evaluate::Instance;
use imm_lang::types::docker_image::{self, ImageConfig};
use imm_lang::types::engine::RegistrySpec;
use imm_lang::types::naming;
use serde_json::{json, Map, Value as Json};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

pub struct ImageExecutor(pub Arc<DockerClient>);

impl Configured for ImageExecutor {
    type Config = ImageConfig;
}

#[async_trait]
impl Executor for ImageExecutor {
    async fn create(
        &self,
        instance: &Instance,
        request: &CreateRequest,
        run: &RunContext,
    ) -> Result<Created, ActionError> {
        let config = ImageExecutor::config(instance)?;
        let (engine, docker) = self.0.named_by(instance).await?;
        if let Some(pinned) = &config.pull {
            return self
                .pull(&docker, engine.as_deref(), pinned, instance, request, run)
                .await;
        }
        let mut created = create(&docker, instance, &config, request, run).await?;
        created
            .outs
            .entry("repo_digest")
            .or_insert_with(|| json!(""));
        if let Some(engine) = engine {
            created.private["engine"] = json!(engine);
            let tag = private_str(&created.private, "tag")
                .unwrap_or_default()
                .to_string();
            match self.0.spec(Some(&engine))?.registry {
                Some(registry) => {
                    let pushed = format!("{}/{tag}", registry.address);
                    let pinned =
                        push(&docker, &registry, &tag, &pushed, &instance.address, run).await?;
                    created.outs.insert("repo_digest".into(), json!(pinned));
                    created.private["pushed"] = json!(pushed);
                }
                None => distribute(&self.0, &engine, &docker, &tag, &instance.address, run).await?,
            }
        }
        Ok(created)
    }

    async fn test(
        &self,
        instance: &Instance,
        created: &Created,
        run: &RunContext,
    ) -> Result<(), ActionError> {
        let config = ImageExecutor::config(instance)?;
        test(
            &self.0.for_instance(instance).await?,
            instance,
            &config,
            created,
            run,
        )
        .await
    }

    async fn destroy(
        &self,
        existing: Existing<'_>,
        successor: Option<&Created>,
        _run: &RunContext,
    ) -> Result<(), ActionError> {
        if private_str(existing.private, "tag").is_none() {
            return Ok(());
        }
        let engine = existing_engine(&existing);
        // Loaded into every node (a declared engine without a registry):
        // every node that answers lets it go; one that does not keeps its
        // copy until the next destroy of that repository there.
        if let Some(name) = engine.as_deref() {
            if self.0.spec(Some(name))?.registry.is_none() {
                let (nodes, _lost) = self.0.every_endpoint(name).await?;
                for (_, node) in &nodes {
                    destroy(node, existing, successor).await?;
                }
                if !nodes.is_empty() {
                    return Ok(());
                }
            }
        }
        // The endpoint in use (and, when no node answered, its error).
        destroy(
            &self.0.engine(engine.as_deref()).await?,
            existing,
            successor,
        )
        .await
    }

    async fn discard(
        &self,
        instance: &Instance,
        created: &Created,
        _run: &RunContext,
    ) -> Result<(), ActionError> {
        // A failed test leaves no tag; a reused image was tested before.
        let reused = created.private.get("reused").and_then(Json::as_bool) == Some(true);
        if reused {
            return Ok(());
        }
        let docker = self.0.for_instance(instance).await?;
        // The registry keeps what was pushed (nothing pins it); only the
        // local tags go.
        for tag in ["pushed", "tag"].map(|key| private_str(&created.private, key)) {
            let Some(tag) = tag else { continue };
            remove_tag(&docker, tag)
                .await
                .map_err(|e| failed(&format!("removing image {tag}"), e))?;
        }
        Ok(())
    }

    async fn read(
        &self,
        existing: Existing<'_>,
        _run: &RunContext,
    ) -> Result<Observed, ActionError> {
        let Some(id) = existing.outs.get("id").and_then(Json::as_str) else {
            return Ok(Observed::AsRecorded);
        };
        let docker = &self.0.engine(existing_engine(&existing).as_deref()).await?;
        still_there(docker.inspect_image(id).await, format!("image {id}"))
    }
}

impl ImageExecutor {
    /// A pulled image: `pinned` (`REPOSITORY@sha256:…`) onto the engine,
    /// and onto every node of a declared engine, so that a task placed on
    /// any of them finds it. Nothing is tagged: the digest names it.
    async fn pull(
        &self,
        docker: &Docker,
        engine: Option<&str>,
        pinned: &str,
        instance: &Instance,
        request: &CreateRequest,
        run: &RunContext,
    ) -> Result<Created, ActionError> {
        let credentials = self.0.credentials_for(pinned);
        let id = ensure_pulled(docker, pinned, credentials.clone(), &instance.address, run)
            .await?
            .unwrap_or_default();
        if let Some(engine) = engine {
            let (nodes, lost) = self.0.every_endpoint(engine).await?;
            for endpoint in &lost {
                run.report(
                    &instance.address,
                    &format!("not pulling {pinned} onto {endpoint}: it does not answer"),
                );
            }
            for (_, node) in &nodes {
                ensure_pulled(node, pinned, credentials.clone(), &instance.address, run).await?;
            }
        }
        let mut outs = Map::new();
        outs.insert("id".into(), json!(id));
        outs.insert(
            "fingerprint".into(),
            json!(request.fingerprint.clone().unwrap_or_default()),
        );
        outs.insert("tag".into(), json!(pinned));
        outs.insert("repo_digest".into(), json!(pinned));
        let mut private = json!({ "pulled": pinned });
        if let Some(engine) = engine {
            private["engine"] = json!(engine);
        }
        Ok(Created { outs, private })
    }
}

/// Pulls `reference` when it is pinned by digest (`…@sha256:…`) and not
/// on the daemon yet, its progress reported; returns the image's id (or
/// `None` for a reference that is not pinned: an image imm built).
pub(super) async fn ensure_pulled(
    docker: &Docker,
    reference: &str,
    credentials: Option<bollard::auth::DockerCredentials>,
    address: &str,
    run: &RunContext,
) -> Result<Option<String>, ActionError> {
    if !reference.contains("@sha256:") {
        return Ok(None);
    }
    if let Ok(image) = docker.inspect_image(reference).await {
        return Ok(image.id);
    }
    run.report(address, &format!("pulling {reference}"));
    pull(docker, reference, credentials, |layers_done| {
        run.report(
            address,
            &format!("pulling {reference}: {layers_done} layer(s) done"),
        );
    })
    .await?;
    let image = docker
        .inspect_image(reference)
        .await
        .map_err(|e| failed(&format!("inspecting image {reference}"), e))?;
    Ok(image.id)
}

/// Pulls `reference` through the daemon, telling `on_layer` how many
/// layers are done as each one completes.
async fn pull(
    docker: &Docker,
    reference: &str,
    credentials: Option<bollard::auth::DockerCredentials>,
    mut on_layer: impl FnMut(usize),
) -> Result<(), ActionError> {
    let mut stream = patient(docker).create_image(
        Some(CreateImageOptions {
            from_image: Some(reference.to_string()),
            ..Default::default()
        }),
        None,
        credentials,
    );
    let mut layers_done = 0usize;
    while let Some(step) = stream.next().await {
        let info = step.map_err(|e| {
            ActionError::new(
                Code::PullFailed,
                format!("pulling {reference} failed: {}", docker_message(&e)),
            )
            .with_help("check that the engine reaches the registry (a registry that is not on loopback and speaks plain HTTP must be in the daemon's insecure-registries)")
        })?;
        if info.status.as_deref() == Some("Pull complete") {
            layers_done += 1;
            on_layer(layers_done);
        }
    }
    Ok(())
}

async fn create(
    docker: &Docker,
    instance: &Instance,
    config: &ImageConfig,
    request: &CreateRequest,
    run: &RunContext,
) -> Result<Created, ActionError> {
    let fingerprint = request.fingerprint.clone().ok_or_else(|| {
        ActionError::new(Code::ExecutorConfig, "the image's fingerprint is not known")
            .with_help("plan again: the plan fingerprints every image it builds")
    })?;
    let name = config.image_name(&instance.name);
    let tag = docker_image::tag(&run.project, name, &fingerprint);
    let repository = naming::image_repository(&run.project, name);
    // The image the plan promised (going back to a fingerprint built
    // here before), else the one recorded.
    let recorded = request
        .reused_outs
        .as_ref()
        .and_then(|outs| outs.get("id"))
        .or_else(|| request.predecessor.as_ref().and_then(|p| p.outs.get("id")))
        .and_then(Json::as_str);
    if let Some(id) = tested_image(docker, &fingerprint, &repository, recorded).await? {
        // Built and tested before, under this tag or another (a failed
        // build or test leaves no tag): tag it, build nothing.
        tag_image(docker, &id, &tag).await?;
        return Ok(created(id, &fingerprint, &tag, true));
    }
    // Tested elsewhere and pushed to a registry: the very bytes that were
    // tested, pulled, rather than a rebuild that would differ in its
    // timestamps.
    let pushed = request
        .reused_outs
        .as_ref()
        .and_then(|outs| outs.get("repo_digest"))
        .and_then(Json::as_str)
        .filter(|digest| !digest.is_empty());
    if let Some(pinned) = pushed {
        match pull_tested(docker, pinned, &fingerprint).await {
            Ok(id) => {
                run.report(&instance.address, &format!("pulled the tested {pinned}"));
                tag_image(docker, &id, &tag).await?;
                let mut pulled = created(id, &fingerprint, &tag, true);
                pulled.outs.insert("repo_digest".into(), json!(pinned));
                return Ok(pulled);
            }
            Err(e) => run.report(
                &instance.address,
                &format!("{}; building it here instead", e.message),
            ),
        }
    }
    let context = instance.module_dir.join(&config.context);
    let dockerfile = config.dockerfile.clone();
    let archive = tokio::task::spawn_blocking({
        let context = context.clone();
        let dockerfile = dockerfile.clone();
        move || context_tar(&context, &dockerfile)
    })
    .await
    .map_err(|e| {
        ActionError::new(Code::BuildFailed, format!("packing the build context: {e}"))
    })??;
    let buildargs: HashMap<String, String> = config.args.iter().cloned().collect();
    let options = BuildImageOptions {
        dockerfile,
        t: Some(tag.clone()),
        rm: true,
        forcerm: true,
        buildargs: Some(buildargs),
        labels: Some(HashMap::from([(
            LABEL_FINGERPRINT.to_string(),
            fingerprint.clone(),
        )])),
        target: config.target.clone().unwrap_or_default(),
        networkmode: config.build_network.clone(),
        ..Default::default()
    };
    let builder = patient(docker);
    let archive = bytes::Bytes::from(archive);
    let mut attempt = 0;
    let id = loop {
        attempt += 1;
        match build_once(&builder, &options, archive.clone(), run, &instance.address).await {
            Ok(id) => break id,
            // Another run removed an image this build's cache pointed at
            // (the daemon's cache is shared): the same build again finds
            // the cache as it is now.
            Err((e, _)) if attempt == 1 && cache_entry_vanished(&e) => {
                run.report(
                    &instance.address,
                    "a cached layer was removed meanwhile; building again",
                );
            }
            Err((e, last_lines)) => {
                let _ = remove_tag(docker, &tag).await;
                let code = match super::classify(&e) {
                    Code::DaemonUnreachable | Code::ActionTimeout => super::classify(&e),
                    _ => Code::BuildFailed,
                };
                let failure = ActionError::new(
                    code,
                    format!(
                        "building {tag} failed: {}\n{}",
                        docker_message(&e),
                        last_lines.join("\n")
                    ),
                );
                return Err(network_missing(failure, "build { network = … }"));
            }
        }
    };
    let id = match id {
        Some(id) => id,
        None => docker
            .inspect_image(&tag)
            .await
            .ok()
            .and_then(|i| i.id)
            .ok_or_else(|| {
                ActionError::new(
                    Code::BuildFailed,
                    format!("the build of {tag} gave no image"),
                )
            })?,
    };
    Ok(created(id, &fingerprint, &tag, false))
}

/// One build through the daemon, its output reported as it comes: the
/// image id it announced, or the error with the last lines of output.
async fn build_once(
    builder: &Docker,
    options: &BuildImageOptions,
    archive: bytes::Bytes,
    run: &RunContext,
    address: &str,
) -> Result<Option<String>, (bollard::errors::Error, Vec<String>)> {
    let mut stream = builder.build_image(options.clone(), None, Some(bollard::body_full(archive)));
    let mut last_lines: Vec<String> = Vec::new();
    let mut id = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(line) = info.stream {
                    for shown in line.lines().filter(|l| !l.trim().is_empty()) {
                        run.report(address, shown);
                    }
                    last_lines.extend(line.lines().map(str::to_string));
                    let excess = last_lines.len().saturating_sub(15);
                    last_lines.drain(..excess);
                }
                if let Some(aux) = info.aux {
                    id = aux.id.or(id);
                }
            }
            Err(e) => return Err((e, last_lines)),
        }
    }
    Ok(id)
}

/// The classic builder's error when a cached layer it chose was deleted
/// before it could use it.
fn cache_entry_vanished(e: &bollard::errors::Error) -> bool {
    let message = docker_message(e);
    message.contains("failed to get digest")
}

/// An image of this fingerprint that passed this resource's tests: the one
/// the state recorded (renamed, it stays the same image), or one tagged in
/// this repository. It carries the fingerprint label and a tag (a failed
/// build or test leaves none). Another project's image of the same
/// fingerprint is not taken: its tests are not this one's.
async fn tested_image(
    docker: &Docker,
    fingerprint: &str,
    repository: &str,
    recorded: Option<&str>,
) -> Result<Option<String>, ActionError> {
    let images = docker
        .list_images(Some(ListImagesOptions {
            filters: Some(HashMap::from([(
                "label".to_string(),
                vec![format!("{LABEL_FINGERPRINT}={fingerprint}")],
            )])),
            ..Default::default()
        }))
        .await
        .map_err(|e| failed("listing images", e))?;
    let in_repository = |tags: &[String]| {
        tags.iter()
            .any(|t| t.rsplit_once(':').map(|(r, _)| r) == Some(repository))
    };
    let tagged: Vec<_> = images
        .into_iter()
        .filter(|i| !i.repo_tags.is_empty())
        .collect();
    if let Some(image) = tagged.iter().find(|i| Some(i.id.as_str()) == recorded) {
        return Ok(Some(image.id.clone()));
    }
    Ok(tagged
        .into_iter()
        .find(|i| in_repository(&i.repo_tags))
        .map(|i| i.id))
}

async fn tag_image(docker: &Docker, id: &str, tag: &str) -> Result<(), ActionError> {
    let (repo, version) = tag.rsplit_once(':').unwrap_or((tag, "latest"));
    docker
        .tag_image(
            id,
            Some(TagImageOptions {
                repo: Some(repo.to_string()),
                tag: Some(version.to_string()),
            }),
        )
        .await
        .map_err(|e| failed(&format!("tagging image {tag}"), e))
}

/// An image built on one endpoint of a multi-node engine, loaded into
/// every other endpoint (`docker save | docker load` through the API), so
/// that a task placed on any node finds the same image id.
async fn distribute(
    client: &DockerClient,
    engine: &str,
    built_on: &Docker,
    tag: &str,
    address: &str,
    run: &RunContext,
) -> Result<(), ActionError> {
    let (endpoints, lost) = client.every_endpoint(engine).await?;
    for endpoint in &lost {
        run.report(
            address,
            &format!("not loading {tag} into {endpoint}: it does not answer"),
        );
    }
    if endpoints.len() + lost.len() < 2 {
        return Ok(());
    }
    let id = inspect(built_on, tag).await?.id.unwrap_or_default();
    let mut tar = Vec::new();
    let mut export = patient(built_on).export_image(tag);
    while let Some(chunk) = export.next().await {
        let chunk = chunk.map_err(|e| failed(&format!("saving image {tag}"), e))?;
        tar.extend_from_slice(&chunk);
    }
    let tar = bytes::Bytes::from(tar);
    for (endpoint, node) in endpoints {
        if node.inspect_image(&id).await.is_ok() {
            // Already there (under another tag): only the tag is missing.
            tag_image(&node, &id, tag).await?;
        } else {
            run.report(address, &format!("loading {tag} into {endpoint}"));
            let body = tar.clone();
            let mut load = patient(&node).import_image_stream(
                bollard::query_parameters::ImportImageOptions {
                    quiet: true,
                    ..Default::default()
                },
                futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) }),
                None,
            );
            while let Some(step) = load.next().await {
                step.map_err(|e| failed(&format!("loading image {tag} into {endpoint}"), e))?;
            }
        }
        let there = node.inspect_image(tag).await.ok().and_then(|i| i.id);
        if there.as_deref() != Some(id.as_str()) {
            return Err(ActionError::new(
                Code::Conflict,
                format!(
                    "image {tag} on {endpoint} is {} after loading, not {id}",
                    there.unwrap_or_else(|| "missing".into())
                ),
            )
            .with_help(format!("remove {tag} on {endpoint} and apply again")));
        }
    }
    Ok(())
}

/// Pulls `pinned` (`REGISTRY/REPOSITORY@sha256:…`) and checks that it is
/// the artifact of `fingerprint`; returns its id.
async fn pull_tested(
    docker: &Docker,
    pinned: &str,
    fingerprint: &str,
) -> Result<String, ActionError> {
    pull(docker, pinned, None, |_| {}).await?;
    let image = inspect(docker, pinned).await?;
    let label = image
        .config
        .as_ref()
        .and_then(|c| c.labels.as_ref())
        .and_then(|l| l.get(LABEL_FINGERPRINT));
    if label.map(String::as_str) != Some(fingerprint) {
        return Err(ActionError::new(
            Code::Conflict,
            format!("{pinned} is labelled with another fingerprint than {fingerprint}"),
        )
        .with_help("another build was pushed under this digest's tag; plan and apply again to build it here"));
    }
    image
        .id
        .ok_or_else(|| ActionError::new(Code::PullFailed, format!("{pinned} has no id")))
}

/// The image pushed to the engine's registry under `pushed` (the tag
/// prefixed with the registry's address); returns what every node pulls:
/// `ADDRESS/REPOSITORY@sha256:DIGEST`, the same bytes everywhere.
async fn push(
    docker: &Docker,
    registry: &RegistrySpec,
    tag: &str,
    pushed: &str,
    address: &str,
    run: &RunContext,
) -> Result<String, ActionError> {
    tag_image(docker, tag, pushed).await?;
    let (repository, version) = pushed.rsplit_once(':').unwrap_or((pushed, "latest"));
    run.report(address, &format!("pushing {pushed}"));
    let mut stream = patient(docker).push_image(
        repository,
        Some(PushImageOptions {
            tag: Some(version.to_string()),
            ..Default::default()
        }),
        None,
    );
    while let Some(step) = stream.next().await {
        if let Err(e) = step {
            let message = docker_message(&e);
            let help = if message.contains("HTTP response to HTTPS client") {
                format!(
                    "the registry speaks plain HTTP: list \"{}\" in insecure-registries of every engine's daemon.json and set insecure = true",
                    registry.address
                )
            } else {
                format!(
                    "check that {} answers from the engine's node and accepts pushes",
                    registry.address
                )
            };
            return Err(ActionError::new(
                Code::PullFailed,
                format!("pushing {pushed} failed: {message}"),
            )
            .with_help(help));
        }
    }
    let digests = inspect(docker, pushed)
        .await?
        .repo_digests
        .unwrap_or_default();
    let prefix = format!("{repository}@");
    digests
        .into_iter()
        .find(|d| d.starts_with(&prefix))
        .ok_or_else(|| {
            ActionError::new(
                Code::PullFailed,
                format!(
                    "the registry {} gave no digest for {pushed}",
                    registry.address
                ),
            )
            .with_help(format!("push {pushed} by hand (docker push) to see why"))
        })
}

fn created(id: String, fingerprint: &str, tag: &str, reused: bool) -> Created {
    let mut outs = Map::new();
    outs.insert("id".into(), json!(id));
    outs.insert("fingerprint".into(), json!(fingerprint));
    outs.insert("tag".into(), json!(tag));
    Created {
        outs,
        private: json!({ "tag": tag, "reused": reused }),
    }
}

/// The context as Docker would send it: `.dockerignore` applied, the
/// Dockerfile always included.
fn context_tar(context: &Path, dockerfile: &str) -> Result<Vec<u8>, ActionError> {
    use imm_planner::fingerprint::{context_entries, Kind};
    let fail = |e: &dyn std::fmt::Display| {
        ActionError::new(
            Code::BuildFailed,
            format!("packing the build context {}: {e}", context.display()),
        )
        .with_help("check that the build context and its files are readable")
    };
    let entries = context_entries(context).map_err(|e| fail(&e))?;
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    let mut has_dockerfile = false;
    for entry in &entries {
        has_dockerfile |= entry.relative == dockerfile;
        match entry.kind {
            Kind::Directory => builder.append_dir(&entry.relative, &entry.path),
            _ => builder.append_path_with_name(&entry.path, &entry.relative),
        }
        .map_err(|e| fail(&e))?;
    }
    if !has_dockerfile {
        builder
            .append_path_with_name(context.join(dockerfile), dockerfile)
            .map_err(|e| fail(&e))?;
    }
    builder.into_inner().map_err(|e| fail(&e))
}

/// Runs each `test` command in a throwaway container of the new image.
async fn test(
    docker: &Docker,
    instance: &Instance,
    config: &ImageConfig,
    created: &Created,
    run: &RunContext,
) -> Result<(), ActionError> {
    if created.private.get("reused").and_then(Json::as_bool) == Some(true) {
        return Ok(());
    }
    let id = created_id(created);
    for test in &config.tests {
        let command = test.command.clone();
        let name = format!(
            "{}-test-{}",
            naming::scoped_object(&run.project, &run.environment, &instance.name),
            short_random()
        );
        let mut labels = labels(run, &instance.address);
        labels.insert("imm.role".into(), "test".into());
        let container = docker
            .create_container(
                Some(CreateContainerOptions {
                    name: Some(name.clone()),
                    ..Default::default()
                }),
                ContainerCreateBody {
                    image: Some(id.to_string()),
                    cmd: Some(command.clone()),
                    labels: Some(labels),
                    host_config: Some(HostConfig {
                        network_mode: test.network.clone(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| failed("creating a test container", e))?;
        let outcome = run_to_end(docker, &container.id)
            .await
            .map_err(|e| network_missing(e, "test { network = … }"));
        let logs = log_tail(docker, &container.id).await;
        remove_container(docker, &container.id).await?;
        match outcome {
            Ok(0) => {}
            Ok(code) => {
                return Err(ActionError::new(
                    Code::TestFailed,
                    format!(
                        "image test `{}` failed (exit status {code}){logs}",
                        command.join(" ")
                    ),
                ))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Starts a container and waits for its exit status.
/// A failure because a network does not exist (the daemon's default
/// bridge, when none was chosen), told with what to change.
fn network_missing(failure: ActionError, setting: &str) -> ActionError {
    let message = &failure.message;
    // The daemon says "network NAME not found".
    let Some(name) = message.match_indices(" not found").find_map(|(at, _)| {
        let mut words = message[..at].split_whitespace().rev();
        let name = words.next()?;
        (words.next() == Some("network")).then_some(name)
    }) else {
        return failure;
    };
    ActionError::new(
        Code::ExecutorConfig,
        format!("{message}\nthe daemon has no network \"{name}\" (with no network chosen, Docker uses its default bridge)"),
    )
    .with_help(format!(
        "set `{setting}` to a network that exists: \"host\", \"none\", or a docker_network's name"
    ))
}

async fn run_to_end(docker: &Docker, id: &str) -> Result<i64, ActionError> {
    docker
        .start_container(id, None::<bollard::query_parameters::StartContainerOptions>)
        .await
        .map_err(|e| failed("starting a test container", e))?;
    let waiter = patient(docker);
    let mut wait =
        waiter.wait_container(id, None::<bollard::query_parameters::WaitContainerOptions>);
    match tokio::time::timeout(TEST_TIMEOUT, wait.next()).await {
        Err(_) => Err(ActionError::new(
            Code::ActionTimeout,
            format!("a test ran longer than {} s", TEST_TIMEOUT.as_secs()),
        )
        .with_help("make the image's test finish sooner")),
        Ok(Some(Ok(done))) => Ok(done.status_code),
        Ok(Some(Err(DockerError::DockerContainerWaitError { code, .. }))) => Ok(code),
        Ok(Some(Err(e))) => Err(failed("waiting for a test container", e)),
        Ok(None) => Err(ActionError::new(
            Code::DaemonUnreachable,
            "the daemon stopped answering during a test",
        )),
    }
}

/// The daemon's description of an image, a failure naming it.
async fn inspect(docker: &Docker, image: &str) -> Result<ImageInspect, ActionError> {
    docker
        .inspect_image(image)
        .await
        .map_err(|e| failed(&format!("inspecting image {image}"), e))
}

async fn remove_tag(docker: &Docker, tag: &str) -> Result<(), DockerError> {
    match docker
        .remove_image(tag, None::<RemoveImageOptions>, None)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if matches!(status(&e), Some(404) | Some(409)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// On replacement, the old image is kept for a rollback and the ones
/// before it are removed; on destroy, every image of the repository
/// goes, except one a container still uses (another environment's:
/// the daemon refuses, and it stays). An image recorded before
/// repositories were scoped to the project (`shared_repository`) takes
/// only its own tag with it: the repository may be another project's too.
async fn destroy(
    docker: &Docker,
    existing: Existing<'_>,
    successor: Option<&Created>,
) -> Result<(), ActionError> {
    let Some(tag) = private_str(existing.private, "tag") else {
        return Ok(());
    };
    let keep: HashSet<&str> = match successor {
        Some(successor) => [
            Some(tag),
            private_str(&successor.private, "tag"),
            private_str(existing.private, "pushed"),
            private_str(&successor.private, "pushed"),
        ]
        .into_iter()
        .flatten()
        .collect(),
        None => HashSet::new(),
    };
    if existing
        .private
        .get("shared_repository")
        .and_then(Json::as_bool)
        == Some(true)
    {
        // The image itself lives on under the successor's tag when it has
        // the same fingerprint: this only untags.
        if successor.and_then(|s| private_str(&s.private, "tag")) == Some(tag) {
            return Ok(());
        }
        return remove_tag(docker, tag)
            .await
            .map_err(|e| failed(&format!("removing image {tag}"), e));
    }
    let repository = tag.rsplit_once(':').map(|(r, _)| r).unwrap_or(tag);
    let images = docker
        .list_images(Some(ListImagesOptions {
            filters: Some(HashMap::from([
                ("reference".to_string(), vec![repository.to_string()]),
                ("label".to_string(), vec![LABEL_FINGERPRINT.to_string()]),
            ])),
            ..Default::default()
        }))
        .await
        .map_err(|e| failed("listing images", e))?;
    for image in images {
        for old in image
            .repo_tags
            .iter()
            .filter(|t| !keep.contains(t.as_str()))
        {
            remove_tag(docker, old)
                .await
                .map_err(|e| failed(&format!("removing image {old}"), e))?;
        }
    }
    Ok(())
}
