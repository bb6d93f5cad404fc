//! `file`: a file on the local host, written atomically (temporary file,
//! fsync, rename) with its mode; destroy removes it unless its successor
//! took the same path. A refresh compares its checksum with the record.

use crate::{
    io_code, ActionError, Configured, CreateRequest, Created, Executor, Existing, Observed,
    RunContext,
};
use async_trait::async_trait;
use imm_lang::diagnostics::Code;
use imm_lang::evaluate::Instance;
use imm_lang::types::file::{content_sha256, FileConfig};
use serde_json::{json, Map};
use std::path::{Path, PathBuf};

pub struct FileExecutor;

impl Configured for FileExecutor {
    type Config = FileConfig;
}

#[async_trait]
impl Executor for FileExecutor {
    async fn create(
        &self,
        instance: &Instance,
        _request: &CreateRequest,
        _run: &RunContext,
    ) -> Result<Created, ActionError> {
        let config = FileExecutor::config(instance)?;
        let path = absolute(&instance.module_dir.join(&config.path));
        write_file(&path, config.content.as_bytes(), config.mode)?;
        let mut outs = Map::new();
        outs.insert(
            "sha256".into(),
            json!(content_sha256(config.content.as_bytes())),
        );
        Ok(Created {
            outs,
            private: json!({ "path": path.display().to_string() }),
        })
    }

    async fn destroy(
        &self,
        existing: Existing<'_>,
        successor: Option<&Created>,
        _run: &RunContext,
    ) -> Result<(), ActionError> {
        let Some(path) = recorded_path(existing.private) else {
            return Ok(());
        };
        let taken_over = successor
            .and_then(|s| recorded_path(&s.private))
            .is_some_and(|p| p == path);
        if taken_over {
            return Ok(());
        }
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ActionError::new(
                io_code(&e),
                format!("removing {}: {e}", path.display()),
            )),
        }
    }

    async fn read(
        &self,
        existing: Existing<'_>,
        _run: &RunContext,
    ) -> Result<Observed, ActionError> {
        let Some(path) = recorded_path(existing.private) else {
            return Ok(Observed::AsRecorded);
        };
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Observed::Drifted(format!("{} is missing", path.display())))
            }
            Err(e) => {
                return Err(ActionError::new(
                    io_code(&e),
                    format!("reading {}: {e}", path.display()),
                ))
            }
        };
        let recorded = existing.outs.get("sha256").and_then(|v| v.as_str());
        if recorded.is_some_and(|r| r != content_sha256(&bytes)) {
            return Ok(Observed::Drifted(format!(
                "{} was changed outside imm",
                path.display()
            )));
        }
        Ok(Observed::AsRecorded)
    }
}

fn recorded_path(private: &serde_json::Value) -> Option<PathBuf> {
    private
        .get("path")
        .and_then(|p| p.as_str())
        .map(PathBuf::from)
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), ActionError> {
    let fail = |e: anyhow::Error| {
        let code = e
            .chain()
            .find_map(|cause| cause.downcast_ref::<std::io::Error>())
            .map_or(Code::ActionFailed, io_code);
        let failure = ActionError::new(code, format!("writing {}: {e:#}", path.display()));
        match code {
            Code::PermissionDenied => failure.with_help(format!(
                "give imm's user the right to write {}, or choose a path it can write",
                path.display()
            )),
            _ => failure,
        }
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail(e.into()))?;
    }
    imm_planner::state::write_atomic(path, bytes).map_err(fail)?;
    set_mode(path, mode).map_err(|e| fail(e.into()))
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}
