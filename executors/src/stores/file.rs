//! The embedded file store: each set of values is a directory holding one
//! JSON file per revision (`r000001.json`, written atomically, readable
//! only by its owner); the newest is the current one. Secret values are
//! encrypted (ChaCha20-Poly1305, with a key derived from the project's
//! `.imm/fingerprint.key`), so no secret is ever in clear under `.imm/`.

use super::{now, Revision, Store};
use crate::ActionError;
use async_trait::async_trait;
use imm_lang::diagnostics::Code;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub struct FileStore {
    root: PathBuf,
    /// The project key, read when a secret is first written or read.
    key_path: PathBuf,
}

/// How an encrypted value starts: `enc:v1:<nonce hex>:<ciphertext hex>`.
const ENCRYPTED: &str = "enc:v1:";

#[derive(serde::Serialize, serde::Deserialize)]
struct RevisionFile {
    revision: u64,
    time: u64,
    values: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    why: String,
}

impl FileStore {
    pub fn new(root: PathBuf, key_path: PathBuf) -> FileStore {
        FileStore { root, key_path }
    }

    fn cipher(&self) -> Result<chacha20poly1305::ChaCha20Poly1305, ActionError> {
        use chacha20poly1305::KeyInit;
        let key = imm_planner::stored::FingerprintKey::load_or_create(&self.key_path)
            .map_err(|e| self.fail("reading the project key", format!("{e:#}")))?;
        let derived = key.derive("imm file store 2026-11 secret values");
        Ok(chacha20poly1305::ChaCha20Poly1305::new(&derived.into()))
    }

    fn encrypt(&self, plain: &str) -> Result<String, ActionError> {
        use chacha20poly1305::aead::Aead;
        let random = uuid::Uuid::new_v4();
        let nonce: [u8; 12] = random.as_bytes()[..12]
            .try_into()
            .map_err(|_| self.fail("encrypting", "no nonce"))?;
        let sealed = self
            .cipher()?
            .encrypt(&nonce.into(), plain.as_bytes())
            .map_err(|_| self.fail("encrypting a secret", "the cipher refused"))?;
        Ok(format!(
            "{ENCRYPTED}{}:{}",
            hex::encode(nonce),
            hex::encode(sealed)
        ))
    }

    fn decrypt(&self, stored: &str) -> Result<String, ActionError> {
        use chacha20poly1305::aead::Aead;
        let Some(rest) = stored.strip_prefix(ENCRYPTED) else {
            return Ok(stored.to_string());
        };
        let broken = || {
            self.fail(
                "decrypting a secret",
                "it was written with another project key (.imm/fingerprint.key) or is damaged",
            )
        };
        let (nonce, sealed) = rest.split_once(':').ok_or_else(broken)?;
        let nonce: [u8; 12] = hex::decode(nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(broken)?;
        let sealed = hex::decode(sealed).map_err(|_| broken())?;
        let plain = self
            .cipher()?
            .decrypt(&nonce.into(), sealed.as_slice())
            .map_err(|_| broken())?;
        String::from_utf8(plain).map_err(|_| broken())
    }

    fn decrypt_all(
        &self,
        values: BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, ActionError> {
        values
            .into_iter()
            .map(|(k, v)| Ok((k, self.decrypt(&v)?)))
            .collect()
    }

    fn dir(&self, dir: &str) -> PathBuf {
        self.root.join(dir)
    }

    fn fail(&self, what: &str, e: impl std::fmt::Display) -> ActionError {
        ActionError::new(
            Code::StoreUnreachable,
            format!("file store {}: {what}: {e}", self.root.display()),
        )
    }

    /// A failed read or write of the store's files: for lack of rights,
    /// the user's to fix with permissions.
    fn fail_io(&self, what: &str, e: std::io::Error) -> ActionError {
        match crate::io_code(&e) {
            Code::PermissionDenied => ActionError::new(
                Code::PermissionDenied,
                format!("file store {}: {what}: {e}", self.root.display()),
            ),
            _ => self.fail(what, e),
        }
    }

    fn revisions(&self, dir: &Path) -> Result<Vec<u64>, ActionError> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.fail_io(&format!("reading {}", dir.display()), e)),
        };
        let mut found: Vec<u64> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_prefix('r')?.strip_suffix(".json")?.parse().ok()
            })
            .collect();
        found.sort_unstable();
        Ok(found)
    }

    fn load(&self, dir: &Path, revision: u64) -> Result<RevisionFile, ActionError> {
        let path = dir.join(format!("r{revision:06}.json"));
        let text = std::fs::read_to_string(&path)
            .map_err(|e| self.fail_io(&format!("reading {}", path.display()), e))?;
        serde_json::from_str(&text)
            .map_err(|e| self.fail(&format!("{} is not a revision file", path.display()), e))
    }
}

#[async_trait]
impl Store for FileStore {
    async fn write(
        &self,
        dir: &str,
        values: &BTreeMap<String, String>,
        sensitive: &BTreeSet<String>,
        why: &str,
    ) -> Result<u64, ActionError> {
        let dir = self.dir(dir);
        std::fs::create_dir_all(&dir).map_err(|e| self.fail_io("creating a directory", e))?;
        let revision = self.revisions(&dir)?.last().copied().unwrap_or(0) + 1;
        let values = values
            .iter()
            .map(|(k, v)| {
                let stored = if sensitive.contains(k) {
                    self.encrypt(v)?
                } else {
                    v.clone()
                };
                Ok((k.clone(), stored))
            })
            .collect::<Result<BTreeMap<_, _>, ActionError>>()?;
        let file = RevisionFile {
            revision,
            time: now(),
            values,
            why: why.to_string(),
        };
        let text = serde_json::to_string_pretty(&file).map_err(|e| self.fail("encoding", e))?;
        let path = dir.join(format!("r{revision:06}.json"));
        imm_planner::state::write_atomic(&path, text.as_bytes())
            .map_err(|e| self.fail("writing a revision", format!("{e:#}")))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        }
        Ok(revision)
    }

    async fn read(&self, dir: &str) -> Result<BTreeMap<String, String>, ActionError> {
        let dir = self.dir(dir);
        if dir.join("removed").exists() {
            return Ok(BTreeMap::new());
        }
        match self.revisions(&dir)?.last() {
            Some(&latest) => self.decrypt_all(self.load(&dir, latest)?.values),
            None => Ok(BTreeMap::new()),
        }
    }

    async fn history(&self, dir: &str) -> Result<Vec<Revision>, ActionError> {
        let dir = self.dir(dir);
        self.revisions(&dir)?
            .into_iter()
            .map(|r| {
                let file = self.load(&dir, r)?;
                Ok(Revision {
                    revision: r,
                    time: file.time,
                    keys: file.values.keys().cloned().collect(),
                    why: file.why,
                })
            })
            .collect()
    }

    async fn read_at(
        &self,
        dir: &str,
        revision: u64,
    ) -> Result<BTreeMap<String, String>, ActionError> {
        self.decrypt_all(self.load(&self.dir(dir), revision)?.values)
    }

    async fn remove(&self, dir: &str) -> Result<(), ActionError> {
        let dir = self.dir(dir);
        if !dir.exists() {
            return Ok(());
        }
        // The revisions stay for the record; a marker says the set is gone.
        imm_planner::state::write_atomic(&dir.join("removed"), now().to_string().as_bytes())
            .map_err(|e| self.fail("removing", format!("{e:#}")))
    }

    async fn get(&self, key: &str) -> Result<Option<String>, ActionError> {
        let Some((dir, name)) = key.rsplit_once('/') else {
            return Ok(None);
        };
        Ok(self.read(dir).await?.remove(name))
    }

    async fn ping(&self) -> Result<(), ActionError> {
        std::fs::create_dir_all(&self.root).map_err(|e| self.fail_io("creating the store", e))
    }

    fn describe(&self) -> String {
        format!("the file store {}", self.root.display())
    }
}
