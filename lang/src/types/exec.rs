//! `exec`: commands that create and destroy something imm has no executor
//! for. With a `build` block it is an artifact: its `inputs` and the
//! contents of its `files` form its fingerprint, and it is built once for
//! every environment.

use super::fields::{ConfigError, Fields};
use super::{Family, FingerprintInputs, ResourceType};
use crate::schema::{attr, block, out, Kind, Phase, ResourceSchema};
use imm_stdlib::Value;
use std::collections::BTreeMap;

pub const TYPE: ResourceType = ResourceType {
    builder,
    fingerprint_inputs: Some(fingerprint_inputs),
    ..ResourceType::of::<ExecConfig>(Family::Local, SCHEMA)
};

const SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "exec",
    doc: "Commands that create and destroy something imm has no executor for. build.inputs form the fingerprint.",
    attrs: &[
        attr("create", Kind::ListOfString, true, "Command that creates the object; the last stdout line may be a JSON object (outputs)."),
        attr("destroy", Kind::ListOfString, false, "Command that destroys it."),
        attr("working_dir", Kind::String, false, "Directory to run in, relative to the module."),
        attr("cleanup", Kind::ListOfString, false, "Run before create when an earlier create of this instance was interrupted (the run was killed): removes what that create may have left."),
    ],
    blocks: &[
        block(
            "build",
            false,
            Phase::Build,
            &[
                attr("inputs", Kind::Any, false, "Values whose change replaces the object (the fingerprint)."),
                attr("files", Kind::ListOfString, false, "Files and directories (relative to the module) whose contents are part of the fingerprint, hashed as Docker build contexts are (.dockerignore applies)."),
            ],
            "An artifact: built once per fingerprint of its inputs and files, recorded with its outputs, and reused by every environment (promote_from guards it as it guards images). Without this block, create runs in each environment.",
        ),
        block(
            "runtime",
            false,
            Phase::Runtime,
            &[attr("env", Kind::MapOfString, false, "Environment variables for the commands.")],
            "Run-time configuration for the commands.",
        ),
    ],
    outs: &[
        out("outputs", Kind::Any, "The JSON object printed last by create, else {}."),
        out("id", Kind::String, "An id for the created object."),
    ],
};

#[derive(Debug, Clone, PartialEq)]
pub struct ExecConfig {
    pub create: Vec<String>,
    pub destroy: Vec<String>,
    /// Removes what an interrupted create may have left.
    pub cleanup: Vec<String>,
    /// Relative to the module directory; the module directory when absent.
    pub working_dir: Option<String>,
    /// `runtime.env`, secrets unmarked (the command gets them).
    pub env: Vec<(String, String)>,
    /// The sensitive values of `env`, to mask in what the command prints.
    pub secrets: Vec<String>,
}

impl TryFrom<&BTreeMap<String, Value>> for ExecConfig {
    type Error = ConfigError;

    fn try_from(config: &BTreeMap<String, Value>) -> Result<ExecConfig, ConfigError> {
        let root = Fields::root(config);
        let marked = match root.block("runtime")? {
            Some(runtime) => runtime.string_map_marked("env")?,
            None => Vec::new(),
        };
        let secrets = marked
            .iter()
            .filter(|(_, v, sensitive)| *sensitive && !v.is_empty())
            .map(|(_, v, _)| v.clone())
            .collect();
        Ok(ExecConfig {
            create: root.strings("create")?,
            destroy: root.strings("destroy")?,
            cleanup: root.strings("cleanup")?,
            working_dir: root.plain_string("working_dir")?,
            env: marked.into_iter().map(|(k, v, _)| (k, v)).collect(),
            secrets,
        })
    }
}

fn fingerprint_inputs(config: &BTreeMap<String, Value>) -> Option<FingerprintInputs> {
    let Some(Value::Map(build)) = config.get("build") else {
        return Some(FingerprintInputs::default());
    };
    if build.values().any(Value::contains_unknown) {
        return None;
    }
    let files = match build.get("files").map(Value::unmarked) {
        Some(Value::List(items)) => items.iter().map(|i| i.unmarked().display()).collect(),
        _ => Vec::new(),
    };
    Some(FingerprintInputs {
        values: build.clone(),
        context: None,
        files,
    })
}

/// The create command of an artifact (an `exec` with a `build` block), as a
/// plan names the builder.
fn builder(config: &BTreeMap<String, Value>) -> Option<String> {
    if !matches!(
        config.get("build").map(Value::unmarked),
        Some(Value::Map(_))
    ) {
        return None;
    }
    let Some(Value::List(create)) = config.get("create").map(Value::unmarked) else {
        return None;
    };
    let words: Vec<String> = create.iter().map(Value::display).collect();
    Some(words.join(" "))
}
