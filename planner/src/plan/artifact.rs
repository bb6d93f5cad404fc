//! An artifact's fingerprint: the hash of the build inputs its type names
//! (values, and for a build context the digest of its files).

use crate::fingerprint;
use crate::stored::{stored_form, FingerprintKey};
use imm_lang::evaluate::Instance;
use imm_lang::types;
use imm_stdlib::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

/// Digests of Docker build contexts, by directory and Dockerfile, so that
/// images sharing a context read it once per run.
pub type ContextCache = HashMap<(PathBuf, String), Result<String, String>>;

/// An artifact's fingerprint: the hash of its build inputs (for an image,
/// with the digest of its context). `Ok(None)` while an input is unknown.
pub fn fingerprint_of(
    instance: &Instance,
    config: &BTreeMap<String, Value>,
    key: &FingerprintKey,
    contexts: &mut ContextCache,
) -> Result<Option<String>, String> {
    let type_name = instance.type_name.as_str();
    let Some(inputs_of) = types::get(type_name).and_then(|t| t.fingerprint_inputs) else {
        return Err(format!("{type_name} is not an artifact type"));
    };
    let Some(inputs) = inputs_of(config) else {
        return Ok(None);
    };
    let values = stored_form(&inputs.values, key).0.to_string();
    if !inputs.files.is_empty() {
        let digest = files_digest(&instance.module_dir, &inputs.files)?;
        return Ok(Some(hash_parts(&[
            type_name.as_bytes(),
            digest.as_bytes(),
            values.as_bytes(),
        ])));
    }
    let Some(context) = inputs.context else {
        return Ok(Some(hash_parts(&[type_name.as_bytes(), values.as_bytes()])));
    };
    let dir = instance.module_dir.join(&context.dir);
    let digest = contexts
        .entry((dir.clone(), context.dockerfile.clone()))
        .or_insert_with(|| {
            fingerprint::docker_context(&dir, &context.dockerfile)
                .map(|d| d.hex)
                .map_err(|e| format!("{}: {}", e.path.display(), e.message))
        })
        .clone()?;
    Ok(Some(hash_parts(&[
        type_name.as_bytes(),
        digest.as_bytes(),
        values.as_bytes(),
    ])))
}

/// One digest of files and directories (relative to `module_dir`), each
/// by its path and contents; a directory as a build context is hashed.
fn files_digest(module_dir: &std::path::Path, paths: &[String]) -> Result<String, String> {
    let mut hasher = blake3::Hasher::new();
    for path in paths {
        let full = module_dir.join(path);
        let digest = if full.is_dir() {
            fingerprint::directory(&full)
                .map_err(|e| format!("{}: {}", e.path.display(), e.message))?
        } else {
            let bytes = std::fs::read(&full).map_err(|e| {
                format!("{}: cannot read a file of build.files: {e}", full.display())
            })?;
            blake3::hash(&bytes).to_hex().to_string()
        };
        hasher.update(path.as_bytes());
        hasher.update(b"\0");
        hasher.update(digest.as_bytes());
    }
    Ok(hasher.finalize().to_hex().to_string())
}

fn hash_parts(parts: &[&[u8]]) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"imm fingerprint v1\0");
    for part in parts {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().to_hex().to_string()
}
