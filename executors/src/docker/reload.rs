//! `reload` of a `docker_container`: its changed `runtime.files` are
//! rewritten inside the running container (beside, then renamed), the
//! signal is sent, and the container must stay running and healthy for the
//! window and pass its tests. Otherwise the files it had are put back and
//! the signal sent again, so the app runs on what it ran before.

use super::running::{copy_files, from_ns, read_file, run_tests, send_signal};
use super::{failed, private_str, run_in};
use crate::{recorded_config, ActionError, Created, Existing};
use bollard::models::HealthStatusEnum;
use bollard::query_parameters::InspectContainerOptions;
use bollard::Docker;
use imm_lang::diagnostics::Code;
use imm_lang::types::docker_container::ContainerConfig;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A file's content to write, or `None` to remove it.
type FileChange = (String, Option<String>);

pub(super) async fn reload(
    docker: &Docker,
    config: &ContainerConfig,
    existing: Existing<'_>,
) -> Result<Created, ActionError> {
    let Some(reload) = &config.reload else {
        return Err(
            ActionError::new(Code::ExecutorConfig, "the container has no reload block")
                .with_help("plan again: without a reload block a change of its files replaces it"),
        );
    };
    let Some(id) = private_str(existing.private, "id") else {
        return Err(ActionError::new(
            Code::ObjectMissing,
            "no container is recorded to reload",
        ));
    };
    let changes = changed_files(config, existing.attributes);
    // The files as they are in the container, to put back on failure
    // (the record cannot give them: a secret in one is recorded masked).
    let mut before: Vec<FileChange> = Vec::new();
    for (path, _) in &changes {
        before.push((path.clone(), read_file(docker, id, path).await?));
    }
    let outcome = async {
        write(docker, id, &changes).await?;
        send_signal(docker, id, &reload.signal).await?;
        watch(
            docker,
            id,
            config.settings.health.is_some(),
            reload.window_ns,
        )
        .await?;
        run_tests(docker, id, &config.tests).await
    }
    .await;
    if let Err(failure) = outcome {
        let put_back = async {
            write(docker, id, &before).await?;
            send_signal(docker, id, &reload.signal).await
        }
        .await;
        let put_back = match put_back {
            Ok(()) => "the files it had were put back and it was signalled again".to_string(),
            Err(e) => format!("putting its files back failed too: {}", e.message),
        };
        return Err(failure.map_message(|m| format!("the reload failed: {m}; {put_back}")));
    }
    Ok(Created {
        outs: existing.outs.clone(),
        private: existing.private.clone(),
    })
}

/// Files whose content differs from the record (a masked secret counts as
/// different), and recorded files no longer declared.
fn changed_files(config: &ContainerConfig, attributes: &serde_json::Value) -> Vec<FileChange> {
    let old_files: BTreeMap<String, String> = recorded_config::<ContainerConfig>(attributes)
        .map(|c| c.files.into_iter().collect())
        .unwrap_or_default();
    let mut changes: Vec<FileChange> = config
        .files
        .iter()
        .filter(|(path, content)| old_files.get(path) != Some(content))
        .map(|(path, content)| (path.clone(), Some(content.clone())))
        .collect();
    changes.extend(
        old_files
            .keys()
            .filter(|path| !config.files.iter().any(|(p, _)| p == *path))
            .map(|path| (path.clone(), None)),
    );
    changes
}

/// Writes each file beside its place and renames it over (an app reading
/// it meanwhile sees the old or the new one, never half); an image without
/// `mv` gets the file written in place. A `None` removes the file.
async fn write(docker: &Docker, id: &str, changes: &[FileChange]) -> Result<(), ActionError> {
    for (path, content) in changes {
        let Some(content) = content else {
            let removed = run_in(docker, id, &["rm".into(), "-f".into(), path.clone()]).await?;
            if removed.0 != 0 {
                return Err(ActionError::new(
                    Code::ActionFailed,
                    format!(
                        "removing {path} in the container failed (exit status {})",
                        removed.0
                    ),
                ));
            }
            continue;
        };
        let beside = format!("{path}.imm-new");
        copy_files(docker, &[(beside.clone(), content.clone())], id).await?;
        let renamed = run_in(
            docker,
            id,
            &["mv".into(), "-f".into(), beside, path.clone()],
        )
        .await;
        if !matches!(renamed, Ok((0, _))) {
            copy_files(docker, &[(path.clone(), content.clone())], id).await?;
        }
    }
    Ok(())
}

/// The container keeps running for the whole window and, when it has a
/// health check, is not unhealthy and the last check made after the signal
/// passed.
async fn watch(
    docker: &Docker,
    id: &str,
    has_health: bool,
    window_ns: i64,
) -> Result<(), ActionError> {
    let window = from_ns(window_ns);
    let started = Instant::now();
    let mut checks_before: Option<Vec<String>> = None;
    loop {
        let state = docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(|e| failed("inspecting the container", e))?
            .state
            .unwrap_or_default();
        if state.running != Some(true) {
            return Err(ActionError::new(
                Code::HealthCheckFailed,
                format!(
                    "the container stopped after the signal (exit status {})",
                    state.exit_code.unwrap_or(-1)
                ),
            ));
        }
        let health = state.health.unwrap_or_default();
        let log = health.log.unwrap_or_default();
        let starts: Vec<String> = log
            .iter()
            .map(|c| c.start.clone().unwrap_or_default())
            .collect();
        let known = checks_before.get_or_insert_with(|| starts.clone());
        let last_new = log
            .iter()
            .rev()
            .find(|c| !known.contains(&c.start.clone().unwrap_or_default()));
        let failed_check = last_new
            .filter(|c| c.exit_code.unwrap_or(0) != 0)
            .map(|c| c.output.clone().unwrap_or_default().trim().to_string());
        let done = started.elapsed() >= window;
        if has_health
            && (health.status == Some(HealthStatusEnum::UNHEALTHY)
                || (done && failed_check.is_some()))
        {
            let shown = failed_check
                .filter(|o| !o.is_empty())
                .map(|o| format!(": {o}"))
                .unwrap_or_default();
            return Err(ActionError::new(
                Code::HealthCheckFailed,
                format!("its health check failed after the signal{shown}"),
            ));
        }
        if done {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
