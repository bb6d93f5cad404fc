//! `file`: a file on the local host, written atomically, often rendered
//! with `templatefile`. Its checksum is known at plan time.

use super::fields::{ConfigError, Fields};
use super::{Family, Prediction, ResourceType};
use crate::schema::{attr, out, Kind, ResourceSchema};
use imm_stdlib::Value;
use std::collections::BTreeMap;

pub const TYPE: ResourceType = ResourceType {
    predict_outs,
    ..ResourceType::of::<FileConfig>(Family::Local, SCHEMA)
};

const SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "file",
    doc: "A file on the local host, written atomically; often rendered with templatefile.",
    attrs: &[
        attr("path", Kind::String, true, "Path relative to the module."),
        attr("content", Kind::String, true, "File content."),
        attr(
            "mode",
            Kind::String,
            false,
            "Octal permissions, e.g. \"0644\".",
        ),
    ],
    blocks: &[],
    outs: &[out("sha256", Kind::String, "SHA-256 of the content.")],
};

#[derive(Debug, Clone, PartialEq)]
pub struct FileConfig {
    /// Relative to the module directory.
    pub path: String,
    pub content: String,
    pub mode: u32,
}

impl TryFrom<&BTreeMap<String, Value>> for FileConfig {
    type Error = ConfigError;

    fn try_from(config: &BTreeMap<String, Value>) -> Result<FileConfig, ConfigError> {
        let root = Fields::root(config);
        let mode = match root.string("mode")? {
            None => 0o644,
            Some(text) => u32::from_str_radix(text.trim_start_matches("0o"), 8).map_err(|_| {
                ConfigError::new(
                    "mode",
                    format!("\"{text}\" is not an octal permission like \"0644\""),
                )
            })?,
        };
        Ok(FileConfig {
            path: root.required_plain_string("path")?,
            content: root.string("content")?.unwrap_or_default(),
            mode,
        })
    }
}

/// The checksum a file's `sha256` out attribute holds.
pub fn content_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn predict_outs(p: &Prediction<'_>) -> BTreeMap<String, Value> {
    let mut outs = BTreeMap::new();
    if let Some(content) = p.config.get("content") {
        if !content.contains_unknown() {
            let (plain, sensitive) = content.clone().unmark_deep();
            let sum = Value::string(content_sha256(plain.display().as_bytes()));
            outs.insert(
                "sha256".into(),
                if sensitive { sum.mark_sensitive() } else { sum },
            );
        }
    }
    outs
}
