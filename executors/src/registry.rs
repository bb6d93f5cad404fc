//! Image registries over their HTTP API (the OCI distribution
//! specification): a tag resolved to the digest it names now, and whether
//! a registry still holds a digest. This is how a plan pins an
//! off-the-shelf image (`image = "redis:7.2"`) before anything is pulled.
//!
//! Image names follow Docker's conventions: a first component with a `.`
//! or `:` (or `localhost`) is a registry, anything else is Docker Hub
//! (`registry-1.docker.io`), where a one-part name is under `library/`.
//! A registry on a loopback address is reached over plain HTTP, as Docker
//! does; any other over HTTPS unless it is listed as insecure. Docker Hub's
//! token authentication (and any registry's bearer or basic challenge) is
//! answered with the credentials given, or anonymously.

use crate::ActionError;
use imm_lang::diagnostics::Code;
use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::StatusCode;
use sha2::Digest as _;
use std::fmt;

const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// Every manifest kind a tag may name: a multi-platform index first.
const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.oci.image.manifest.v1+json";

/// An image name taken apart: `registry/repository[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `docker.io`, `registry.example.com`, `127.0.0.1:5000`.
    pub registry: String,
    /// `library/redis`, `team/app`.
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:…`, when the name is pinned already.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Reads an image name as Docker does; a name without tag or digest
    /// means `latest`.
    pub fn parse(text: &str) -> Result<ImageRef, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("the image name is empty".into());
        }
        let (name, digest) = match text.split_once('@') {
            Some((name, digest)) => (name, Some(valid_digest(digest)?)),
            None => (text, None),
        };
        let (name, tag) = split_tag(name);
        let (registry, path) = split_registry(name);
        if !valid_registry(&registry) {
            return Err(format!(
                "\"{registry}\" in \"{text}\" is not a registry address (host or host:port)"
            ));
        }
        if path.is_empty() || !path.split('/').all(valid_path_component) {
            return Err(format!(
                "\"{text}\" is not an image name (lowercase letters, digits and . _ - / only)"
            ));
        }
        if let Some(tag) = tag {
            if !valid_tag(tag) {
                return Err(format!("\"{tag}\" is not a valid tag in \"{text}\""));
            }
        }
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_string()
        };
        let tag = match (tag, &digest) {
            (None, None) => Some("latest".to_string()),
            (tag, _) => tag.map(str::to_string),
        };
        Ok(ImageRef {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The name pinned to `digest`: what is pulled, never the tag.
    pub fn pinned(&self, digest: &str) -> String {
        format!("{}@{digest}", self.name())
    }

    /// The repository's full name as Docker prints it (`redis`,
    /// `127.0.0.1:5000/team/app`).
    pub fn name(&self) -> String {
        if self.registry == DOCKER_HUB {
            let short = self
                .repository
                .strip_prefix("library/")
                .unwrap_or(&self.repository);
            return short.to_string();
        }
        format!("{}/{}", self.registry, self.repository)
    }

    /// The host the registry's API answers on.
    fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// Whether the registry is on this machine (plain HTTP, as Docker).
    pub fn is_loopback(&self) -> bool {
        let host = host_of(&self.registry);
        host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// The host of `host[:port]` (IPv6 in brackets kept apart from its port).
fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    registry.split(':').next().unwrap_or(registry)
}

/// `name:tag` apart; a `:` before the last `/` belongs to a registry port.
fn split_tag(name: &str) -> (&str, Option<&str>) {
    match name.rfind(':') {
        Some(colon) if !name[colon..].contains('/') => (&name[..colon], Some(&name[colon + 1..])),
        _ => (name, None),
    }
}

fn split_registry(name: &str) -> (String, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first.to_string(), rest)
        }
        _ => (DOCKER_HUB.to_string(), name),
    }
}

/// `host` or `host:port` with a numeric port.
fn valid_registry(registry: &str) -> bool {
    let port = registry
        .rsplit_once(']')
        .map_or(registry, |(_, after)| after)
        .rsplit_once(':')
        .map(|(_, port)| port);
    port.is_none_or(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

fn valid_path_component(part: &str) -> bool {
    !part.is_empty()
        && part
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
}

fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

fn valid_digest(digest: &str) -> Result<String, String> {
    let hex = digest
        .strip_prefix("sha256:")
        .ok_or_else(|| format!("\"{digest}\" is not a sha256 digest"))?;
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("\"{digest}\" is not a sha256 digest"));
    }
    Ok(digest.to_ascii_lowercase())
}

/// A user and password for a registry (from a `secret`); never printed.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({}, (sensitive))", self.username)
    }
}

/// Asks registries what their tags name.
#[derive(Clone)]
pub struct RegistryClient {
    http: reqwest::Client,
    /// Registries (`host[:port]`) reached over plain HTTP although they
    /// are not on a loopback address.
    insecure: Vec<String>,
}

impl RegistryClient {
    pub fn new(insecure: Vec<String>) -> RegistryClient {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        RegistryClient { http, insecure }
    }

    fn base_url(&self, image: &ImageRef) -> String {
        let plain = image.is_loopback() || self.insecure.contains(&image.registry);
        let scheme = if plain { "http" } else { "https" };
        format!("{scheme}://{}/v2/{}", image.api_host(), image.repository)
    }

    /// The digest the image's tag names now (its digest if it is pinned).
    pub async fn resolve(
        &self,
        image: &ImageRef,
        credentials: Option<&Credentials>,
    ) -> Result<String, ActionError> {
        self.lookup(image, credentials).await?.ok_or_else(|| {
            ActionError::new(
                Code::ImageNotInRegistry,
                format!("the registry {} has no image {image}", image.registry),
            )
            .with_help(
                "check the tag's spelling and that it is pushed (a digest the lock names may have been deleted: run imm lock --upgrade)",
            )
        })
    }

    /// Whether the registry still holds the image at `digest`.
    pub async fn has_digest(
        &self,
        image: &ImageRef,
        digest: &str,
        credentials: Option<&Credentials>,
    ) -> Result<bool, ActionError> {
        let pinned = ImageRef {
            digest: Some(digest.to_string()),
            ..image.clone()
        };
        Ok(self.lookup(&pinned, credentials).await?.is_some())
    }

    /// The digest the image names, or `None` when the registry has no
    /// such tag or digest.
    async fn lookup(
        &self,
        image: &ImageRef,
        credentials: Option<&Credentials>,
    ) -> Result<Option<String>, ActionError> {
        let reference = match (&image.digest, &image.tag) {
            (Some(digest), _) => digest.clone(),
            (None, Some(tag)) => tag.clone(),
            (None, None) => "latest".to_string(),
        };
        let url = format!("{}/manifests/{reference}", self.base_url(image));
        let response = self.get_manifest(&url, image, credentials).await?;
        match response.status() {
            StatusCode::OK => digest_of(response, image).await.map(Some),
            StatusCode::NOT_FOUND => Ok(None),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(ActionError::new(
                Code::PermissionDenied,
                format!(
                    "the registry {} refused to show {image} ({})",
                    image.registry,
                    response.status()
                ),
            )
            .with_help("give the registry's credentials (a secret) in the registry settings")),
            other => Err(ActionError::new(
                Code::PullFailed,
                format!(
                    "the registry {} answered {other} for {image}",
                    image.registry
                ),
            )),
        }
    }

    /// GET of a manifest, answering an authentication challenge once.
    async fn get_manifest(
        &self,
        url: &str,
        image: &ImageRef,
        credentials: Option<&Credentials>,
    ) -> Result<reqwest::Response, ActionError> {
        let first = self.send(url, None, image).await?;
        if first.status() != StatusCode::UNAUTHORIZED {
            return Ok(first);
        }
        let Some(challenge) = challenge(first.headers()) else {
            return Ok(first);
        };
        let authorization = match challenge {
            Challenge::Basic => match credentials {
                Some(c) => basic(c),
                None => return Ok(first),
            },
            Challenge::Bearer {
                realm,
                service,
                scope,
            } => {
                let scope =
                    scope.unwrap_or_else(|| format!("repository:{}:pull", image.repository));
                let token = self
                    .token(&realm, service.as_deref(), &scope, credentials, image)
                    .await?;
                format!("Bearer {token}")
            }
        };
        self.send(url, Some(authorization), image).await
    }

    async fn send(
        &self,
        url: &str,
        authorization: Option<String>,
        image: &ImageRef,
    ) -> Result<reqwest::Response, ActionError> {
        let mut request = self.http.get(url).header(ACCEPT, MANIFEST_TYPES);
        if let Some(authorization) = authorization {
            request = request.header(AUTHORIZATION, authorization);
        }
        request.send().await.map_err(|e| unreachable(image, &e))
    }

    /// A bearer token from the registry's token service.
    async fn token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: &str,
        credentials: Option<&Credentials>,
        image: &ImageRef,
    ) -> Result<String, ActionError> {
        let mut query = vec![("scope", scope)];
        if let Some(service) = service {
            query.push(("service", service));
        }
        let mut request = self.http.get(realm).query(&query);
        if let Some(c) = credentials {
            request = request.basic_auth(&c.username, Some(&c.password));
        }
        let response = request.send().await.map_err(|e| unreachable(image, &e))?;
        if !response.status().is_success() {
            return Err(ActionError::new(
                Code::PermissionDenied,
                format!(
                    "the token service of {} refused access to {} ({})",
                    image.registry,
                    image.repository,
                    response.status()
                ),
            )
            .with_help("check the registry credentials, and that the repository exists"));
        }
        let body: serde_json::Value = response.json().await.map_err(|e| {
            ActionError::new(
                Code::PullFailed,
                format!(
                    "the token service of {} answered no token: {e}",
                    image.registry
                ),
            )
        })?;
        body.get("token")
            .or_else(|| body.get("access_token"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                ActionError::new(
                    Code::PullFailed,
                    format!("the token service of {} answered no token", image.registry),
                )
            })
    }
}

fn unreachable(image: &ImageRef, e: &reqwest::Error) -> ActionError {
    ActionError::new(
        Code::PullFailed,
        format!("the registry {} cannot be reached: {e}", image.registry),
    )
    .with_help(if image.is_loopback() {
        "start the registry, or fix the image name's host:port".to_string()
    } else {
        format!(
            "check the network and the name; a registry that speaks plain HTTP must be listed as insecure ({})",
            image.registry
        )
    })
}

fn basic(credentials: &Credentials) -> String {
    use base64::Engine as _;
    let pair = format!("{}:{}", credentials.username, credentials.password);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// The digest of a manifest: the registry's header, else the body's hash.
async fn digest_of(response: reqwest::Response, image: &ImageRef) -> Result<String, ActionError> {
    let header = response
        .headers()
        .get("Docker-Content-Digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(digest) = header.and_then(|d| valid_digest(&d).ok()) {
        return Ok(digest);
    }
    let body = response.bytes().await.map_err(|e| {
        ActionError::new(
            Code::PullFailed,
            format!("reading the manifest of {image} failed: {e}"),
        )
    })?;
    Ok(format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(&body))
    ))
}

#[derive(Debug, PartialEq, Eq)]
enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// The `WWW-Authenticate` challenge of a 401.
fn challenge(headers: &HeaderMap) -> Option<Challenge> {
    let text = headers.get(WWW_AUTHENTICATE)?.to_str().ok()?;
    let (scheme, parameters) = text.split_once(' ').unwrap_or((text, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let value = |name: &str| {
        parameters.split(',').find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key.trim() == name).then(|| value.trim().trim_matches('"').to_string())
        })
    };
    Some(Challenge::Bearer {
        realm: value("realm")?,
        service: value("service"),
        scope: value("scope"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> ImageRef {
        match ImageRef::parse(text) {
            Ok(image) => image,
            Err(e) => panic!("{text}: {e}"),
        }
    }

    #[test]
    fn names_follow_dockers_conventions() {
        let redis = parsed("redis:7.2");
        assert_eq!(
            (
                redis.registry.as_str(),
                redis.repository.as_str(),
                redis.tag.as_deref()
            ),
            ("docker.io", "library/redis", Some("7.2"))
        );
        assert_eq!(redis.name(), "redis");
        assert_eq!(parsed("nginx").tag.as_deref(), Some("latest"));
        let team = parsed("bitnami/redis:7");
        assert_eq!(team.repository, "bitnami/redis");
        let local = parsed("127.0.0.1:5000/team/app:1.0");
        assert_eq!(
            (
                local.registry.as_str(),
                local.repository.as_str(),
                local.tag.as_deref()
            ),
            ("127.0.0.1:5000", "team/app", Some("1.0"))
        );
        assert!(local.is_loopback());
        assert!(parsed("localhost/app").is_loopback());
        assert!(!parsed("ghcr.io/org/app:1").is_loopback());
        let digest = format!("sha256:{}", "a".repeat(64));
        let pinned = parsed(&format!("redis@{digest}"));
        assert_eq!(
            (pinned.tag, pinned.digest.as_deref()),
            (None, Some(digest.as_str()))
        );
        assert_eq!(
            parsed("127.0.0.1:5000/app:1").pinned(&digest),
            format!("127.0.0.1:5000/app@{digest}")
        );
    }

    #[test]
    fn malformed_names_are_refused_with_the_reason() {
        for bad in [
            "",
            "Redis:7",
            "redis:",
            "redis@sha256:abc",
            "a//b",
            "redis:bad/tag",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn challenges_are_read_as_registries_send_them() {
        let mut headers = HeaderMap::new();
        headers.insert(
            WWW_AUTHENTICATE,
            "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:library/redis:pull\""
                .parse()
                .expect("header"),
        );
        assert_eq!(
            challenge(&headers),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/redis:pull".into()),
            })
        );
        headers.insert(
            WWW_AUTHENTICATE,
            "Basic realm=\"x\"".parse().expect("header"),
        );
        assert_eq!(challenge(&headers), Some(Challenge::Basic));
    }
}
