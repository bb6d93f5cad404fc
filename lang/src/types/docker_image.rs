//! `docker_image`: an artifact built from a context directory and a
//! Dockerfile, tagged `imm/<project>/<name>:<fingerprint>`, reused (never
//! rebuilt) when an image with that fingerprint exists, tested in
//! throwaway containers; or an off-the-shelf image (`pull = "redis:7.2"`),
//! pinned to the digest `imm.lock.hcl` holds and pulled by that digest.

use super::fields::{ConfigError, Fields};
use super::{naming, BuildContext, Family, FingerprintInputs, Prediction, ResourceType};
use crate::schema::{attr, block, out, Kind, Phase, ResourceSchema};
use imm_stdlib::Value;
use std::collections::BTreeMap;

pub const TYPE: ResourceType = ResourceType {
    predict_outs,
    pulled_image: Some("pull"),
    identity_outs: &["tag"],
    reuse_checked: true,
    builder,
    fingerprint_inputs: Some(fingerprint_inputs),
    ..ResourceType::of::<ImageConfig>(Family::Docker, SCHEMA)
};

const SCHEMA: ResourceSchema = ResourceSchema {
    type_name: "docker_image",
    doc: "An artifact built from a context directory and a Dockerfile, tagged imm/<project>/<name>:<fingerprint>. Reused, not rebuilt, when its fingerprint exists.",
    attrs: &[
        attr("name", Kind::String, false, "Image name: the repository is imm/<project>/<name> (default: the resource's name)."),
        attr("pull", Kind::String, false, "An off-the-shelf image (\"redis:7.2\", \"registry.example.com/team/app:1\") instead of a build: the first plan locks its tag to a digest in imm.lock.hcl, apply pulls exactly that digest. Not with a build block."),
        super::engine::ENGINE_ATTR,
    ],
    blocks: &[
        block(
            "build",
            false,
            Phase::Build,
            &[
                attr("context", Kind::String, true, "Build context directory, relative to the module. Every file in it (honouring .dockerignore) is part of the fingerprint."),
                attr("dockerfile", Kind::String, false, "Dockerfile path relative to the context (default \"Dockerfile\")."),
                attr("args", Kind::MapOfString, false, "Build arguments (build-time; part of the fingerprint)."),
                attr("target", Kind::String, false, "Multi-stage build target."),
                attr("network", Kind::String, false, "Network the build's RUN steps use: \"host\", \"none\" or a network that exists on the daemon (default: the daemon's default bridge). Not part of the fingerprint."),
            ],
            "Build-time configuration: baked into the image and part of its fingerprint. May not depend on env.*, secrets or environment-set variables.",
        ),
        block(
            "test",
            true,
            Phase::Deploy,
            &[
                attr("command", Kind::ListOfString, true, "Command to run in a throwaway container of the new image; exit status 0 means the test passed."),
                attr("network", Kind::String, false, "Network the test container joins, e.g. docker_network.NAME.name, \"none\" or \"host\" (default: the daemon's default bridge)."),
            ],
            "A check of the new image before it is accepted. Repeatable.",
        ),
    ],
    outs: &[
        out("id", Kind::String, "Image id (sha256:…), known after apply."),
        out("fingerprint", Kind::String, "Content hash of the build inputs (hex)."),
        out("tag", Kind::String, "imm/<project>/<name>:<first 12 of fingerprint>, known at plan time; for a pulled image, REPOSITORY@sha256:… as locked."),
        out("repo_digest", Kind::String, "REGISTRY/imm/<project>/<name>@sha256:… once pushed to its engine's registry (what every node pulls); empty without a registry. Known after apply."),
    ],
};

/// A `docker_image` as its executor needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageConfig {
    /// The `name` attribute (the resource's name when absent is applied by [`ImageConfig::image_name`]).
    pub name: Option<String>,
    /// `pull`: the image pulled instead of built, pinned by the plan to
    /// `REPOSITORY@sha256:…` (the build fields are then empty).
    pub pull: Option<String>,
    pub context: String,
    pub dockerfile: String,
    pub args: Vec<(String, String)>,
    pub target: Option<String>,
    /// The network of the build's RUN steps (the daemon's default when `None`).
    pub build_network: Option<String>,
    /// Each test, run in a throwaway container of the new image.
    pub tests: Vec<ImageTest>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImageTest {
    pub command: Vec<String>,
    /// The network the test container joins (the daemon's default when `None`).
    pub network: Option<String>,
}

impl TryFrom<&BTreeMap<String, Value>> for ImageConfig {
    type Error = ConfigError;

    fn try_from(config: &BTreeMap<String, Value>) -> Result<ImageConfig, ConfigError> {
        let root = Fields::root(config);
        let pull = root.plain_string("pull")?;
        let build = match (root.block("build")?, &pull) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "pull",
                    "cannot be given with a build block: an image is either pulled or built (remove one of the two)",
                ))
            }
            (None, None) => {
                return Err(ConfigError::new(
                    "build",
                    "is required: give a build block, or pull = \"NAME:TAG\" for an off-the-shelf image",
                ))
            }
            (None, Some(_)) => return pulled(&root, pull),
            (Some(build), None) => build,
        };
        Ok(ImageConfig {
            name: root.plain_string("name")?,
            pull: None,
            context: build.required_string("context")?,
            dockerfile: build
                .string("dockerfile")?
                .unwrap_or_else(|| "Dockerfile".into()),
            args: build.string_map("args")?,
            target: build.string("target")?,
            build_network: build.plain_string("network")?,
            tests: image_tests(&root)?,
        })
    }
}

/// A pulled image's configuration: nothing to build, the tests as given.
fn pulled(root: &Fields<'_>, pull: Option<String>) -> Result<ImageConfig, ConfigError> {
    Ok(ImageConfig {
        name: root.plain_string("name")?,
        pull,
        context: String::new(),
        dockerfile: String::new(),
        args: Vec::new(),
        target: None,
        build_network: None,
        tests: image_tests(root)?,
    })
}

fn image_tests(root: &Fields<'_>) -> Result<Vec<ImageTest>, ConfigError> {
    root.blocks("test")?
        .iter()
        .map(|t| {
            Ok(ImageTest {
                command: t.strings("command")?,
                network: t.plain_string("network")?,
            })
        })
        .collect()
}

impl ImageConfig {
    /// The name the repository is made from.
    pub fn image_name<'a>(&'a self, resource_name: &'a str) -> &'a str {
        self.name.as_deref().unwrap_or(resource_name)
    }
}

/// The commands of the `test` blocks.
pub fn tests(root: &Fields<'_>) -> Result<Vec<Vec<String>>, ConfigError> {
    root.blocks("test")?
        .iter()
        .map(|t| t.strings("command"))
        .collect()
}

/// The image's tag: the one naming function of its repository.
pub fn tag(project: &str, image_name: &str, fingerprint: &str) -> String {
    naming::image_tag(project, image_name, fingerprint)
}

fn predict_outs(p: &Prediction<'_>) -> BTreeMap<String, Value> {
    let mut outs = BTreeMap::new();
    let Some(fp) = p.fingerprint else {
        return outs;
    };
    outs.insert("fingerprint".into(), Value::string(fp.to_string()));
    // A pulled image is known by its pinned reference: what runs it.
    if let Some(pinned) = pinned_pull(p.config) {
        outs.insert("tag".into(), Value::string(pinned.clone()));
        outs.insert("repo_digest".into(), Value::string(pinned));
        return outs;
    }
    // The name as the executor reads it: while it is unknown, so is the tag.
    if let Ok(config) = ImageConfig::try_from(p.config) {
        let tag = tag(p.project, config.image_name(p.resource_name), fp);
        outs.insert("tag".into(), Value::string(tag));
    }
    outs
}

/// The `pull` attribute once pinned (`REPOSITORY@sha256:…`).
fn pinned_pull(config: &BTreeMap<String, Value>) -> Option<String> {
    match config.get("pull").map(Value::unmarked) {
        Some(Value::String(pull)) if pull.contains("@sha256:") => Some(pull.clone()),
        _ => None,
    }
}

fn fingerprint_inputs(config: &BTreeMap<String, Value>) -> Option<FingerprintInputs> {
    // A pulled image is the digest it is pinned to, and nothing else.
    if let Some(pull) = config.get("pull").filter(|v| !v.is_null()) {
        if pull.contains_unknown() {
            return None;
        }
        return Some(FingerprintInputs {
            values: BTreeMap::from([("pull".to_string(), pull.clone())]),
            ..FingerprintInputs::default()
        });
    }
    let Some(Value::Map(build)) = config.get("build") else {
        return Some(FingerprintInputs::default());
    };
    if build.values().any(Value::contains_unknown) {
        return None;
    }
    let values = build
        .iter()
        // Where the context is and which network the build uses do not
        // change what is built.
        .filter(|(k, _)| !matches!(k.as_str(), "context" | "dockerfile" | "network"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let dockerfile = build
        .get("dockerfile")
        .filter(|v| !v.is_null())
        .map(Value::display)
        .unwrap_or_else(|| "Dockerfile".into());
    Some(FingerprintInputs {
        values,
        context: Some(BuildContext {
            dir: build.get("context").map(Value::display).unwrap_or_default(),
            dockerfile,
        }),
        files: Vec::new(),
    })
}

/// `docker build CONTEXT` (or `docker pull REFERENCE`), as a plan names
/// the builder.
fn builder(config: &BTreeMap<String, Value>) -> Option<String> {
    if let Some(Value::String(pull)) = config.get("pull").map(Value::unmarked) {
        return Some(format!("docker pull {pull}"));
    }
    let Some(Value::Map(build)) = config.get("build").map(Value::unmarked) else {
        return None;
    };
    Some(format!(
        "docker build {}",
        build.get("context").map(Value::display).unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_predicted_tag_is_the_one_the_executor_gives() {
        let mut build = BTreeMap::new();
        build.insert("context".to_string(), Value::string("./web".to_string()));
        let mut config = BTreeMap::new();
        config.insert("name".to_string(), Value::string("My Web".to_string()));
        config.insert("build".to_string(), Value::Map(build));
        let outs = predict_outs(&Prediction {
            project: "shop",
            resource_name: "web",
            config: &config,
            fingerprint: Some("4645f1e771e1aaaa"),
        });
        assert_eq!(
            outs.get("tag"),
            Some(&Value::string("imm/shop/my-web:4645f1e771e1".to_string()))
        );
        assert_eq!(
            tag("shop", "My Web", "4645f1e771e1aaaa"),
            "imm/shop/my-web:4645f1e771e1"
        );
    }
}
