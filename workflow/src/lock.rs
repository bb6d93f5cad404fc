//! Off-the-shelf images pinned through `imm.lock.hcl`: the evaluator's
//! [`ImagePins`] over the lock file and the registries. A locked tag is
//! pinned to its digest (checked to be still in the registry); an unlocked
//! one is resolved and added to the lock, which the plan then writes. A
//! tag that moved upstream changes nothing until `imm lock --upgrade`.

use crate::error::{Error, Result};
use crate::load::{Loaded, ProjectRequest};
use crate::session::Session;
use imm_executors::docker::DockerClient;
use imm_executors::registry::{Credentials, ImageRef, RegistryClient};
use imm_executors::ActionError;
use imm_lang::diagnostics::{Code, Diagnostic};
use imm_lang::evaluate::{self, ImagePins, Mode};
use imm_lang::lockfile::{LockFile, FILE_NAME};
use imm_lang::source::SourceMap;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Which locked tags a run moves to what they name now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Upgrade {
    /// None: the lock holds (a plan).
    #[default]
    Nothing,
    /// Every image (`imm lock --upgrade`).
    All,
    /// These images, as written (`imm lock --upgrade ADDR`).
    Images(BTreeSet<String>),
}

#[derive(Debug, Default)]
struct Pinning {
    lock: LockFile,
    /// Image names pinned in this run, with their answer.
    answers: HashMap<String, std::result::Result<String, Diagnostic>>,
    /// Whether the lock gained or moved an entry.
    changed: bool,
}

/// The lock file and the registries behind it, for one run.
pub struct LockPins {
    pinning: Mutex<Pinning>,
    upgrade: Upgrade,
    client: RegistryClient,
    /// From the project's `registry` blocks, by registry address.
    credentials: HashMap<String, Credentials>,
    /// Where an image built outside imm, known to no registry, is found.
    docker: Option<Arc<DockerClient>>,
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for LockPins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockPins")
            .field("upgrade", &self.upgrade)
            .finish_non_exhaustive()
    }
}

impl LockPins {
    /// The project's lock file (none yet is an empty one) with the
    /// registries its engines list as insecure.
    pub fn read(loaded: &Loaded, session: &Session, upgrade: Upgrade) -> Result<LockPins> {
        let mut sources = SourceMap::default();
        let lock = LockFile::read(&loaded.dir, &mut sources)
            .map_err(|diags| Error::in_files(diags, &sources))?;
        let settings = &loaded.settings;
        let insecure = settings
            .engines
            .values()
            .filter_map(|e| e.registry.as_ref())
            .filter(|r| r.insecure)
            .map(|r| r.address.clone())
            .chain(
                settings
                    .registries
                    .iter()
                    .filter(|(_, auth)| auth.insecure)
                    .map(|(address, _)| address.clone()),
            )
            .collect();
        Ok(LockPins {
            pinning: Mutex::new(Pinning {
                lock,
                ..Pinning::default()
            }),
            upgrade,
            client: RegistryClient::new(insecure),
            credentials: crate::load::registry_credentials(loaded),
            docker: session.registry.docker.clone(),
            runtime: session.handle(),
        })
    }

    /// Writes the lock file when this run added or moved an entry.
    pub fn save(&self, dir: &Path) -> Result<bool> {
        let pinning = self.pinning.lock().unwrap_or_else(|e| e.into_inner());
        if !pinning.changed {
            return Ok(false);
        }
        let path = dir.join(FILE_NAME);
        let temporary = dir.join(format!(".{FILE_NAME}.tmp"));
        std::fs::write(&temporary, pinning.lock.render())
            .and_then(|()| std::fs::rename(&temporary, &path))
            .map_err(|e| {
                Error::new(
                    Code::FileUnwritable,
                    format!("cannot write {}: {e}", path.display()),
                    "check the project directory's permissions",
                )
            })?;
        Ok(true)
    }

    /// The locked images, by name.
    pub fn locked(&self) -> LockFile {
        let pinning = self.pinning.lock().unwrap_or_else(|e| e.into_inner());
        pinning.lock.clone()
    }

    fn upgrades(&self, image: &str) -> bool {
        match &self.upgrade {
            Upgrade::Nothing => false,
            Upgrade::All => true,
            Upgrade::Images(images) => images.contains(image),
        }
    }

    /// The pinned reference of `name`: its locked digest, still in the
    /// registry, or the digest its tag names now (then locked).
    fn pin_now(&self, name: &str) -> std::result::Result<(String, Option<String>), Diagnostic> {
        let image = ImageRef::parse(name).map_err(|message| {
            Diagnostic::new(Code::TypeMismatch, message)
                .with_help("write an image name as Docker does: NAME:TAG or HOST[:PORT]/PATH:TAG")
        })?;
        if let Some(digest) = &image.digest {
            // Pinned as written: nothing to lock.
            return Ok((image.pinned(digest), None));
        }
        let locked = {
            let pinning = self.pinning.lock().unwrap_or_else(|e| e.into_inner());
            pinning.lock.images.get(name).cloned()
        };
        match locked.filter(|_| !self.upgrades(name)) {
            Some(digest) => {
                let there = self
                    .runtime
                    .block_on(self.client.has_digest(
                        &image,
                        &digest,
                        self.credentials.get(&image.registry),
                    ))
                    .map_err(|e| diagnostic(name, e))?;
                if !there {
                    return Err(Diagnostic::new(
                        Code::ImageNotInRegistry,
                        format!(
                            "{name} is locked to {digest} in {FILE_NAME}, and the registry {} no longer has it",
                            image.registry
                        ),
                    )
                    .with_help(
                        "run imm lock --upgrade to lock the tag to what it names now (and review what changes)",
                    ));
                }
                Ok((image.pinned(&digest), None))
            }
            None if self.local_only(name) => Ok((name.to_string(), None)),
            None => {
                let digest = self
                    .runtime
                    .block_on(
                        self.client
                            .resolve(&image, self.credentials.get(&image.registry)),
                    )
                    .map_err(|e| diagnostic(name, e))?;
                Ok((image.pinned(&digest), Some(digest)))
            }
        }
    }
}

impl LockPins {
    /// An image the local engine built (outside imm) and no registry
    /// knows: what `image = "NAME"` meant before images were pulled.
    fn local_only(&self, name: &str) -> bool {
        self.docker
            .as_ref()
            .is_some_and(|docker| self.runtime.block_on(docker.has_local_only_image(name)))
    }
}

impl ImagePins for LockPins {
    fn pin(&self, _address: &str, image: &str) -> std::result::Result<String, Diagnostic> {
        {
            let pinning = self.pinning.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(answer) = pinning.answers.get(image) {
                return answer.clone();
            }
        }
        let answer = self.pin_now(image);
        let mut pinning = self.pinning.lock().unwrap_or_else(|e| e.into_inner());
        let answer = answer.map(|(pinned, resolved)| {
            if let Some(digest) = resolved {
                let before = pinning
                    .lock
                    .images
                    .insert(image.to_string(), digest.clone());
                pinning.changed |= before.as_ref() != Some(&digest);
            }
            pinned
        });
        pinning.answers.insert(image.to_string(), answer.clone());
        answer
    }
}

fn diagnostic(image: &str, e: ActionError) -> Diagnostic {
    let help = e.help_text().to_string();
    let d = Diagnostic::new(e.code, format!("image {image}: {}", e.message));
    if help.is_empty() {
        d
    } else {
        d.with_help(help)
    }
}

/// Records which instance uses which image, pinning nothing: what
/// `imm lock --upgrade ADDR` reads to know the images it moves.
#[derive(Debug, Default)]
struct Uses(Mutex<Vec<(String, String)>>);

impl ImagePins for Uses {
    fn pin(&self, address: &str, image: &str) -> std::result::Result<String, Diagnostic> {
        let mut uses = self.0.lock().unwrap_or_else(|e| e.into_inner());
        uses.push((address.to_string(), image.to_string()));
        Ok(image.to_string())
    }
}

/// What `imm lock` did.
#[derive(Debug)]
pub struct Locked {
    pub lock: LockFile,
    pub written: bool,
}

/// `imm lock [--upgrade] [ADDR...]`: every off-the-shelf image of the
/// environment pinned (and the given ones, or all, moved to what their
/// tags name now), the lock file written.
pub fn lock(
    request: &ProjectRequest,
    session: &Session,
    upgrade: bool,
    addresses: &[String],
) -> Result<Locked> {
    let mut loaded = crate::load::load(request, session)?;
    let upgrade = match (upgrade, addresses.is_empty()) {
        (false, _) => Upgrade::Nothing,
        (true, true) => Upgrade::All,
        (true, false) => Upgrade::Images(images_of(&mut loaded, addresses)?),
    };
    let pins = Arc::new(LockPins::read(&loaded, session, upgrade)?);
    loaded.inputs.pins = Some(pins.clone());
    let (_, diags) = evaluate::evaluate(
        &mut loaded.project,
        &loaded.environment,
        &loaded.inputs,
        Mode::Plan,
    );
    loaded.checked(diags.0)?;
    let written = pins.save(&loaded.dir)?;
    Ok(Locked {
        lock: pins.locked(),
        written,
    })
}

/// The images the instances at `addresses` (or inside them: a resource's
/// instances, a module's contents) use.
fn images_of(loaded: &mut Loaded, addresses: &[String]) -> Result<BTreeSet<String>> {
    let uses = Arc::new(Uses::default());
    let mut inputs = loaded.inputs.clone();
    inputs.pins = Some(uses.clone());
    let (_, diags) = evaluate::evaluate(
        &mut loaded.project,
        &loaded.environment,
        &inputs,
        Mode::Plan,
    );
    loaded.checked(diags.0)?;
    let uses = uses.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut images = BTreeSet::new();
    for address in addresses {
        let found: Vec<&String> = uses
            .iter()
            .filter(|(used_by, _)| covers(address, used_by))
            .map(|(_, image)| image)
            .collect();
        if found.is_empty() {
            return Err(Error::new(
                Code::UnknownAddress,
                format!("{address} names no instance that uses an off-the-shelf image"),
                "give the address of a docker_image with pull, or of a container or service whose image is written as a name (imm lock --upgrade alone moves every image)",
            ));
        }
        images.extend(found.into_iter().cloned());
    }
    Ok(images)
}

/// Whether `address` names `instance`, the resource it is an instance of,
/// or a module it is in.
fn covers(address: &str, instance: &str) -> bool {
    instance == address
        || instance
            .strip_prefix(address)
            .is_some_and(|rest| rest.starts_with('[') || rest.starts_with('.'))
}
