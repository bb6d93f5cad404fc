//! `docker_image`: build, reuse, test, and keep one previous image.

use super::*;

fn repository(instance: &Instance) -> String {
    format!("imm/{}", sanitize(&declared_name(instance)))
}

pub async fn create(
    docker: &Docker,
    instance: &Instance,
    request: &CreateRequest,
    run: &RunContext,
) -> Result<Created, ActionError> {
    let fingerprint = request
        .fingerprint
        .clone()
        .ok_or_else(|| ActionError::new("the image's fingerprint is not known"))?;
    let tag = format!("{}:{}", repository(instance), &fingerprint[..12]);
    if let Ok(existing) = docker.inspect_image(&tag).await {
        let labelled = existing
            .config
            .as_ref()
            .and_then(|c| c.labels.as_ref())
            .and_then(|l| l.get(LABEL_FINGERPRINT))
            .is_some_and(|f| *f == fingerprint);
        if labelled {
            // Built and tested before (a failed build or test leaves no tag).
            return Ok(created(
                existing.id.unwrap_or_default(),
                &fingerprint,
                &tag,
                true,
            ));
        }
    }
    let build = block(instance, "build")
        .ok_or_else(|| ActionError::new("docker_image has no build block"))?;
    let context = instance
        .module_dir
        .join(text(build, "context").unwrap_or_else(|| ".".into()));
    let dockerfile = text(build, "dockerfile").unwrap_or_else(|| "Dockerfile".into());
    let archive = tokio::task::spawn_blocking({
        let context = context.clone();
        let dockerfile = dockerfile.clone();
        move || context_tar(&context, &dockerfile)
    })
    .await
    .map_err(|e| ActionError::new(format!("packing the build context: {e}")))??;
    let buildargs: HashMap<String, String> = string_map(build.get("args")).into_iter().collect();
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
        target: text(build, "target").unwrap_or_default(),
        ..Default::default()
    };
    let mut stream = docker.build_image(
        options,
        None,
        Some(bollard::body_full(bytes::Bytes::from(archive))),
    );
    let mut last_lines: Vec<String> = Vec::new();
    let mut id = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(line) = info.stream {
                    for shown in line.lines().filter(|l| !l.trim().is_empty()) {
                        run.report(&instance.address, shown);
                    }
                    last_lines.extend(line.lines().map(str::to_string));
                    let excess = last_lines.len().saturating_sub(15);
                    last_lines.drain(..excess);
                }
                if let Some(aux) = info.aux {
                    id = aux.id.or(id);
                }
            }
            Err(e) => {
                let _ = remove_tag(docker, &tag).await;
                return Err(ActionError::new(format!(
                    "building {tag} failed: {}\n{}",
                    docker_message(&e),
                    last_lines.join("\n")
                )));
            }
        }
    }
    let id = match id {
        Some(id) => id,
        None => docker
            .inspect_image(&tag)
            .await
            .ok()
            .and_then(|i| i.id)
            .ok_or_else(|| ActionError::new(format!("the build of {tag} gave no image")))?,
    };
    Ok(created(id, &fingerprint, &tag, false))
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
        ActionError::new(format!(
            "packing the build context {}: {e}",
            context.display()
        ))
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
pub async fn test(
    docker: &Docker,
    instance: &Instance,
    created: &Created,
    run: &RunContext,
) -> Result<(), ActionError> {
    if created.private.get("reused").and_then(Json::as_bool) == Some(true) {
        return Ok(());
    }
    let id = created_id(created);
    for test in blocks(instance, "test") {
        let command = config_strings(test.get("command"));
        let name = format!(
            "{}-test-{}",
            object_name(run, &instance.name),
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
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| failed("creating a test container", e))?;
        let outcome = run_to_end(docker, &container.id).await;
        let logs = log_tail(docker, &container.id).await;
        remove_container(docker, &container.id).await?;
        match outcome {
            Ok(0) => {}
            Ok(code) => {
                return Err(ActionError::new(format!(
                    "image test `{}` failed (exit status {code}){logs}",
                    command.join(" ")
                )))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Starts a container and waits for its exit status.
async fn run_to_end(docker: &Docker, id: &str) -> Result<i64, ActionError> {
    docker
        .start_container(id, None::<bollard::query_parameters::StartContainerOptions>)
        .await
        .map_err(|e| failed("starting a test container", e))?;
    let mut wait =
        docker.wait_container(id, None::<bollard::query_parameters::WaitContainerOptions>);
    match tokio::time::timeout(TEST_TIMEOUT, wait.next()).await {
        Err(_) => Err(ActionError::new(format!(
            "a test ran longer than {} s",
            TEST_TIMEOUT.as_secs()
        ))),
        Ok(Some(Ok(done))) => Ok(done.status_code),
        Ok(Some(Err(DockerError::DockerContainerWaitError { code, .. }))) => Ok(code),
        Ok(Some(Err(e))) => Err(failed("waiting for a test container", e)),
        Ok(None) => Err(ActionError::new(
            "the daemon stopped answering during a test",
        )),
    }
}

pub async fn remove_tag(docker: &Docker, tag: &str) -> Result<(), DockerError> {
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
/// the daemon refuses, and it stays).
pub async fn destroy(
    docker: &Docker,
    existing: Existing<'_>,
    successor: Option<&Created>,
) -> Result<(), ActionError> {
    let Some(tag) = private_str(existing.private, "tag") else {
        return Ok(());
    };
    let keep: HashSet<&str> = match successor {
        Some(successor) => [Some(tag), private_str(&successor.private, "tag")]
            .into_iter()
            .flatten()
            .collect(),
        None => HashSet::new(),
    };
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
