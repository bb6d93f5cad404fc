//! One home per resource type. Each module owns everything its type means
//! apart from talking to the outside world: its schema (attributes, blocks,
//! phases, docs), the typed configuration executors consume (parsed once
//! from the evaluated value, with an error naming the attribute on a
//! mismatch), the out attributes that can be known before an apply, the
//! inputs of its artifact fingerprint, and the names of the objects it
//! creates. The planner and the executors ask this registry and never
//! spell a type name themselves.
//!
//! A new resource type is one new module here plus one line in
//! [`REGISTRY`] (and, when it creates objects, one executor registered in
//! `imm_executors::Registry`).

pub mod config;
pub mod docker_container;
pub mod docker_image;
pub mod docker_network;
pub mod docker_proxy;
pub mod docker_service;
pub mod docker_volume;
pub mod engine;
pub mod exec;
pub mod fields;
pub mod file;
pub mod naming;
pub mod settings;

use crate::schema::ResourceSchema;
use imm_stdlib::Value;
use std::collections::BTreeMap;

pub use fields::ConfigError;

/// Every resource type of this version: the registry.
pub const REGISTRY: &[&ResourceType] = &[
    &docker_image::TYPE,
    &docker_network::TYPE,
    &docker_volume::TYPE,
    &docker_container::TYPE,
    &docker_proxy::TYPE,
    &docker_service::TYPE,
    &config::TYPE,
    &file::TYPE,
    &exec::TYPE,
];

/// Where a type's objects live, for what must be done per place (the
/// orphan sweep of a Docker engine, the reachability check of stores).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Files and commands on this machine.
    Local,
    /// Objects of a Docker Engine, labelled with project and environment.
    Docker,
    /// Values in a run-time configuration store.
    Store,
}

/// What a type's out attributes are predicted from.
pub struct Prediction<'a> {
    /// The project name (the directory's name), part of object names.
    pub project: &'a str,
    /// The resource's name in the configuration (`web` of `docker_image.web`).
    pub resource_name: &'a str,
    pub config: &'a BTreeMap<String, Value>,
    /// The artifact's fingerprint, when it is one and its inputs are known.
    pub fingerprint: Option<&'a str>,
}

/// The build inputs an artifact's fingerprint is computed from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FingerprintInputs {
    /// Values hashed as they are (build args, exec inputs).
    pub values: BTreeMap<String, Value>,
    /// A build context directory (relative to the module) and its
    /// Dockerfile, hashed file by file.
    pub context: Option<BuildContext>,
    /// Files and directories (relative to the module) hashed with their
    /// contents, as build contexts are: an `exec` artifact's `build.files`.
    pub files: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildContext {
    pub dir: String,
    pub dockerfile: String,
}

/// Whether a change of the attribute at a path, in a configuration, is
/// applied in place.
pub type InPlace = fn(&BTreeMap<String, Value>, &str) -> bool;

/// How an artifact type reads its fingerprint's inputs from a configuration
/// (`None` while one is unknown).
pub type FingerprintInputsOf = fn(&BTreeMap<String, Value>) -> Option<FingerprintInputs>;

/// Reads the digest of a project path's files (relative to the module's
/// directory), or says why it cannot, under a diagnostic code.
pub type ContentDigest<'a> =
    dyn FnMut(&str) -> Result<String, (crate::diagnostics::Code, String)> + 'a;

/// How a type writes the digests of the project files its configuration
/// names into the configuration itself (so that a change of the files is a
/// change of the configuration).
pub type ContentsOf =
    fn(&mut BTreeMap<String, Value>, &mut ContentDigest<'_>) -> Result<(), ConfigError>;

/// Everything imm knows of one resource type.
pub struct ResourceType {
    pub schema: ResourceSchema,
    pub family: Family,
    /// Out attributes known before the apply; the rest are unknown until
    /// the object exists.
    pub predict_outs: fn(&Prediction<'_>) -> BTreeMap<String, Value>,
    /// Predicted out attributes that name the object (an image's tag): a
    /// record that names it otherwise, made by an earlier version, is
    /// replaced under the new name.
    pub identity_outs: &'static [&'static str],
    /// Whether its executor checks that a reused artifact's object still
    /// exists (and builds it otherwise), so that going back to a
    /// fingerprint built here before, since replaced, may reuse it.
    pub reuse_checked: bool,
    /// What builds an artifact, as a plan names it (`docker build ./web`,
    /// an `exec`'s create command); `None` for what is not built.
    pub builder: fn(&BTreeMap<String, Value>) -> Option<String>,
    /// For artifacts (types with a `build` block): the fingerprint's inputs,
    /// `None` while one of them is unknown.
    pub fingerprint_inputs: Option<FingerprintInputsOf>,
    /// For types changed in place (`~ reconfigure`): whether a change of the
    /// attribute at this path, in this configuration, is applied that way
    /// rather than replacing.
    pub reconfigurable: Option<InPlace>,
    /// Whether a replacement must stop the old object before the new one
    /// starts (it holds something only one may have, like a host port).
    pub stop_first: fn(&BTreeMap<String, Value>) -> bool,
    /// The attribute that may name an off-the-shelf image (`image`,
    /// `pull`): written as a name, not taken from a resource, it is pinned
    /// to the digest locked in `imm.lock.hcl` before anything is planned.
    pub pulled_image: Option<&'static str>,
    /// Checks that a configuration parses into the type's typed struct.
    pub check_config: fn(&BTreeMap<String, Value>) -> Result<(), ConfigError>,
    /// For types that mount project files: their digests written into the
    /// configuration when it is evaluated.
    pub contents: Option<ContentsOf>,
    /// What a reviewer should know of a configuration that is created or
    /// replaced (a path of the Docker host it mounts), as plan notes.
    pub review: fn(&BTreeMap<String, Value>) -> Vec<String>,
}

impl ResourceType {
    /// A type of `family` with `schema`, whose configurations parse into
    /// `T`, and nothing more: no out attribute predicted, nothing built,
    /// every change a replacement that starts the new object before the
    /// old one stops. A type's module writes only what differs, over this
    /// base (`ResourceType { stop_first: …, ..ResourceType::of::<T>(…) }`).
    pub const fn of<T>(family: Family, schema: ResourceSchema) -> ResourceType
    where
        for<'a> T: TryFrom<&'a BTreeMap<String, Value>, Error = ConfigError>,
    {
        ResourceType {
            schema,
            family,
            predict_outs: no_outs,
            identity_outs: &[],
            reuse_checked: false,
            builder: no_builder,
            fingerprint_inputs: None,
            reconfigurable: None,
            stop_first: never_stop_first,
            pulled_image: None,
            check_config: parses_into::<T>,
            contents: None,
            review: nothing_to_review,
        }
    }

    pub fn name(&self) -> &'static str {
        self.schema.type_name
    }

    /// Artifacts are built once per fingerprint and promoted as they are.
    pub fn is_artifact(&self) -> bool {
        self.fingerprint_inputs.is_some()
    }
}

pub fn get(type_name: &str) -> Option<&'static ResourceType> {
    REGISTRY.iter().copied().find(|t| t.name() == type_name)
}

pub fn names() -> impl Iterator<Item = &'static str> {
    REGISTRY.iter().map(|t| t.name())
}

/// The schema of a resource type.
pub fn schema(type_name: &str) -> Option<&'static ResourceSchema> {
    get(type_name).map(|t| &t.schema)
}

/// Every resource type's schema, in registry order.
pub fn schemas() -> impl Iterator<Item = &'static ResourceSchema> {
    REGISTRY.iter().map(|t| &t.schema)
}

/// Why `type_name` has no block or attribute `name` that a user might
/// expect from a similar type (`reload` on a Swarm service), when its
/// module says.
pub fn refused(type_name: &str, name: &str) -> Option<&'static str> {
    let refused: &[(&str, &str)] = match type_name {
        "docker_service" => docker_service::REFUSED,
        _ => &[],
    };
    refused
        .iter()
        .find(|(refused, _)| *refused == name)
        .map(|(_, why)| *why)
}

/// Whether `type_name` is an artifact type.
pub fn is_artifact(type_name: &str) -> bool {
    get(type_name).is_some_and(ResourceType::is_artifact)
}

/// Whether `type_name` belongs to `family`.
pub fn in_family(type_name: &str, family: Family) -> bool {
    get(type_name).is_some_and(|t| t.family == family)
}

/// Whether a configuration parses into the typed configuration `T`.
fn parses_into<T>(config: &BTreeMap<String, Value>) -> Result<(), ConfigError>
where
    for<'a> T: TryFrom<&'a BTreeMap<String, Value>, Error = ConfigError>,
{
    T::try_from(config).map(|_| ())
}

fn no_outs(_: &Prediction<'_>) -> BTreeMap<String, Value> {
    BTreeMap::new()
}

fn nothing_to_review(_: &BTreeMap<String, Value>) -> Vec<String> {
    Vec::new()
}

fn never_stop_first(_: &BTreeMap<String, Value>) -> bool {
    false
}

/// For types that build nothing.
pub fn no_builder(_config: &BTreeMap<String, Value>) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_is_registered_once_and_artifacts_have_a_build_block() {
        let mut names: Vec<&str> = names().collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a type is registered twice");
        for t in REGISTRY {
            assert_eq!(
                t.is_artifact(),
                t.schema.block("build").is_some(),
                "{}: artifacts are exactly the types with a build block",
                t.name()
            );
        }
    }
}
