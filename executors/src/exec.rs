//! `exec`: commands that create and destroy something imm has no executor
//! for. `create` runs with `runtime.env` in `working_dir`; the last line of
//! its stdout, when it is a JSON object, becomes the `outputs` attribute.
//! `destroy` runs with the recorded values (a sensitive one is not
//! recorded, so it is not passed) and `IMM_OUTPUTS` holding the outputs.
//! A non-zero exit fails the action and shows the command's stderr, with
//! every sensitive value of the environment masked. An artifact (with a
//! `build` block) another environment built and tested is reused: nothing
//! runs, its recorded outputs are given (the engine never destroys what
//! another environment still records).

use crate::{
    ActionError, Configured, CreateRequest, Created, Executor, Existing, Observed, RunContext,
};
use async_trait::async_trait;
use imm_lang::diagnostics::Code;
use imm_lang::evaluate::Instance;
use imm_lang::types::exec::ExecConfig;
use serde_json::{json, Map, Value as Json};
use std::path::{Path, PathBuf};

pub struct ExecExecutor;

impl Configured for ExecExecutor {
    type Config = ExecConfig;
}

#[async_trait]
impl Executor for ExecExecutor {
    async fn create(
        &self,
        instance: &Instance,
        request: &CreateRequest,
        run: &RunContext,
    ) -> Result<Created, ActionError> {
        if let Some(outs) = &request.reused_outs {
            // An artifact built and tested before, here or in another
            // environment: its outputs are known, nothing runs.
            return Ok(Created {
                outs: outs.clone(),
                private: json!({ "reused": true }),
            });
        }
        let config = ExecExecutor::config(instance)?;
        let dir = working_dir(&instance.module_dir, config.working_dir.as_deref());
        let secrets = &config.secrets;
        let call = |what| Invocation {
            what,
            address: &instance.address,
            dir: &dir,
            env: &config.env,
            secrets,
        };
        if request.interrupted && !config.cleanup.is_empty() {
            run_command(&call("cleanup"), &config.cleanup, run).await?;
        }
        // What a command prints may echo a secret it was given: the
        // output comes back masked.
        let stdout = run_command(&call("create"), &config.create, run).await?;
        let outputs = stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .and_then(|l| serde_json::from_str::<Json>(l.trim()).ok())
            .filter(Json::is_object)
            .unwrap_or_else(|| json!({}));
        let mut outs = Map::new();
        outs.insert("outputs".into(), outputs);
        outs.insert(
            "id".into(),
            json!(uuid::Uuid::new_v4().simple().to_string()),
        );
        Ok(Created {
            outs,
            private: json!({ "working_dir": dir.display().to_string() }),
        })
    }

    async fn destroy(
        &self,
        existing: Existing<'_>,
        _successor: Option<&Created>,
        run: &RunContext,
    ) -> Result<(), ActionError> {
        let argv: Vec<String> = existing
            .attributes
            .get("destroy")
            .and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if argv.is_empty() {
            return Ok(());
        }
        let dir = existing
            .private
            .get("working_dir")
            .and_then(Json::as_str)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        let mut env: Vec<(String, String)> = existing
            .attributes
            .pointer("/runtime/env")
            .and_then(Json::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .filter(|(_, v)| v != imm_stdlib::value::SENSITIVE_TEXT)
                    .collect()
            })
            .unwrap_or_default();
        let outputs = existing.outs.get("outputs").cloned().unwrap_or(json!({}));
        env.push(("IMM_OUTPUTS".into(), outputs.to_string()));
        let call = Invocation {
            what: "destroy",
            address: existing.address,
            dir: &dir,
            env: &env,
            secrets: &[],
        };
        run_command(&call, &argv, run).await?;
        Ok(())
    }

    async fn read(
        &self,
        _existing: Existing<'_>,
        _run: &RunContext,
    ) -> Result<Observed, ActionError> {
        // What a command made cannot be observed by imm.
        Ok(Observed::AsRecorded)
    }
}

fn working_dir(module_dir: &Path, configured: Option<&str>) -> PathBuf {
    let dir = match configured {
        Some(d) => module_dir.join(d),
        None => module_dir.to_path_buf(),
    };
    std::path::absolute(&dir).unwrap_or(dir)
}

/// One command of an instance: what it is for and where it runs.
struct Invocation<'a> {
    what: &'a str,
    address: &'a str,
    dir: &'a Path,
    env: &'a [(String, String)],
    secrets: &'a [String],
}

/// Runs `argv`; every line it prints goes to the apply's progress display
/// as it comes (masked), as a Docker build's do. Returns its stdout.
async fn run_command(
    call: &Invocation<'_>,
    argv: &[String],
    run: &RunContext,
) -> Result<String, ActionError> {
    let what = call.what;
    let Some((program, args)) = argv.split_first() else {
        return Err(ActionError::new(
            Code::ExecutorConfig,
            format!("the {what} command is empty"),
        ));
    };
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .current_dir(call.dir)
        .envs(call.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("IMM_ENVIRONMENT", &run.environment)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            let code = match crate::io_code(&e) {
                Code::PermissionDenied => Code::PermissionDenied,
                _ => Code::CommandFailed,
            };
            ActionError::new(
                code,
                format!(
                    "cannot run the {what} command `{program}` in {}: {e}",
                    call.dir.display()
                ),
            )
            .with_help(format!(
                "check that `{program}` is installed (on PATH, or a path from the module's directory) and executable"
            ))
        })?;
    let (stdout, stderr) = match (child.stdout.take(), child.stderr.take()) {
        (Some(out), Some(err)) => tokio::join!(relay(out, call, run), relay(err, call, run)),
        _ => (String::new(), String::new()),
    };
    let status = child.wait().await.map_err(|e| {
        ActionError::new(
            Code::CommandFailed,
            format!("waiting for the {what} command: {e}"),
        )
    })?;
    if status.success() {
        return Ok(stdout);
    }
    let status = status
        .code()
        .map(|c| format!("exit status {c}"))
        .unwrap_or_else(|| "killed by a signal".into());
    Err(ActionError::new(
        Code::CommandFailed,
        format!(
            "the {what} command `{}` failed ({status}){}",
            mask(&argv.join(" "), call.secrets),
            if stderr.trim().is_empty() {
                String::new()
            } else {
                format!(":\n{}", stderr.trim_end())
            }
        ),
    ))
}

/// Reads a command's output line by line, showing each (masked) as
/// progress; returns it all, masked.
async fn relay(
    pipe: impl tokio::io::AsyncRead + Unpin,
    call: &Invocation<'_>,
    run: &RunContext,
) -> String {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(pipe).lines();
    let mut all = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        let line = mask(&line, call.secrets);
        run.report(call.address, &line);
        all.push_str(&line);
        all.push('\n');
    }
    all
}

fn mask(text: &str, secrets: &[String]) -> String {
    secrets.iter().fold(text.to_string(), |acc, secret| {
        acc.replace(secret.as_str(), imm_stdlib::value::SENSITIVE_TEXT)
    })
}
