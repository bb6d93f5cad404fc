//! What the workflow needs of an environment before anything else is
//! evaluated: its stores, where state lives, `protected` and `promote_from`.

use super::*;
use crate::types::engine::{parse_endpoint, EngineSpec, RegistrySpec, TlsSpec};

/// The evaluated attributes of the root module's `store` blocks and its
/// `state` block, for one environment (they may use `env.*` and variables'
/// defaults are not available: they configure where imm reads from, before
/// anything else is evaluated).
#[derive(Debug, Default)]
pub struct Settings {
    pub stores: IndexMap<String, BTreeMap<String, Value>>,
    /// The root module's `engine` blocks, by name.
    pub engines: IndexMap<String, EngineSpec>,
    /// The root module's `registry` blocks, by address.
    pub registries: IndexMap<String, RegistryAuth>,
    pub state: Option<BTreeMap<String, Value>>,
    /// The environment's `protected`, evaluated (any expression form).
    pub protected: bool,
    /// The environment's `promote_from`, evaluated.
    pub promote_from: Option<String>,
    /// The environment's `policy_dirs`: directories of `policy` blocks
    /// judged against every plan, relative to the project.
    pub policy_dirs: Vec<String>,
}

/// A `registry` block evaluated: how imm reaches that registry.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RegistryAuth {
    pub username: Option<String>,
    /// From a secret; never printed ([`std::fmt::Debug`] hides it).
    pub password: Option<String>,
    pub insecure: bool,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "(sensitive)"))
            .field("insecure", &self.insecure)
            .finish()
    }
}

/// Whether the files settings name (an engine's certificates) must exist:
/// at plan and apply they must; `imm validate` runs where deploy-time files
/// (certificates kept outside the repository) may be missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamedFiles {
    MustExist,
    MayBeMissing,
}

pub fn settings(
    project: &mut Project,
    environment: &str,
    files: NamedFiles,
) -> (Settings, Diagnostics) {
    let mut diags = Diagnostics::default();
    let mut templates = TemplateCache::default();
    let root = &project.root;
    let sources = &mut project.sources;
    let env_value = environment_value(&root.decl, environment, sources, &mut templates, &mut diags);
    let mut ev = Evaluator::new(&root.dir, sources, &mut templates);
    ev.roots.insert("env".into(), env_value);
    ev.roots
        .insert("secret".into(), settings_secrets(&root.decl, &root.dir));
    let mut settings = Settings::default();
    for (name, engine) in &root.decl.engines {
        if let Some(spec) = engine_spec(&mut ev, name, &engine.block, files, &mut diags) {
            settings.engines.insert(name.clone(), spec);
        }
    }
    for (address, registry) in &root.decl.registries {
        let auth = registry_auth(&mut ev, &registry.block, &mut diags);
        settings.registries.insert(address.clone(), auth);
    }
    let mut attributes = |ev: &mut Evaluator<'_>, block: &crate::syntax::ast::Block| {
        let mut values = BTreeMap::new();
        for attr in block.body.attributes() {
            match ev.eval(&attr.value) {
                Ok(v) => {
                    values.insert(attr.name.name.clone(), v);
                }
                Err(d) => diags.push(d),
            }
        }
        values
    };
    for (name, store) in &root.decl.stores {
        let values = attributes(&mut ev, &store.block);
        settings.stores.insert(name.clone(), values);
    }
    if let Some(state) = &root.decl.state {
        settings.state = Some(attributes(&mut ev, state));
    }
    if let Some(declared) = root.decl.environments.get(environment) {
        let mut policy = |name: &str, wanted: Type| {
            let attr = declared.attribute(name)?;
            let value = eval_reported(&mut ev, &attr.value, &mut diags)?;
            match convert(value.unmarked().clone(), &wanted) {
                Ok(v) if !v.is_null() && !v.contains_unknown() => Some(v),
                _ => {
                    diags.push(
                        Diagnostic::at(
                            Code::TypeMismatch,
                            attr.value.span,
                            format!(
                                "environment \"{environment}\": {name} must be a known {}",
                                wanted
                            ),
                        )
                        .with_help(format!(
                            "write {name} as a {} that needs no variable of this run",
                            wanted
                        )),
                    );
                    None
                }
            }
        };
        settings.protected = matches!(policy("protected", Type::Bool), Some(Value::Bool(true)));
        settings.promote_from = match policy("promote_from", Type::String) {
            Some(Value::String(source)) => Some(source),
            _ => None,
        };
        if let Some(Value::List(dirs)) = policy("policy_dirs", Type::List(Box::new(Type::String))) {
            settings.policy_dirs = dirs
                .iter()
                .filter_map(|d| match d {
                    Value::String(s) => Some(s.to_string()),
                    _ => None,
                })
                .collect();
        }
    }
    (settings, diags)
}

/// The secrets settings may use (a state or store block's `password`):
/// those from the environment or a file, read now. A `store:` secret needs
/// the stores these settings configure, and a secret that cannot be read
/// is reported where the resources use it: both are unknown here, so the
/// setting is taken as not given.
fn settings_secrets(decl: &ModuleDecl, module_dir: &std::path::Path) -> Value {
    let mut secrets = BTreeMap::new();
    for (name, secret) in &decl.secrets {
        let source = secret
            .from
            .as_literal_string()
            .and_then(|from| parse_secret_source(from).ok());
        let value = match source {
            Some(SecretSource::Env(var)) => std::env::var(var).ok(),
            Some(SecretSource::File(path)) => std::fs::read_to_string(module_dir.join(path))
                .ok()
                // A trailing newline is an editor's, not the secret's.
                .map(|text| text.strip_suffix('\n').unwrap_or(&text).to_string()),
            Some(SecretSource::Store(_)) | None => None,
        };
        let value = value.map_or(Value::Unknown(Type::String), Value::string);
        secrets.insert(name.clone(), value.mark_sensitive());
    }
    Value::Map(secrets)
}

/// A `registry` block: a user name and password (both or neither; the
/// password known now, from an `env:` or `file:` secret) and `insecure`.
fn registry_auth(
    ev: &mut Evaluator<'_>,
    block: &crate::syntax::ast::Block,
    diags: &mut Diagnostics,
) -> RegistryAuth {
    let mut text = |key: &str| -> Option<(Value, Span)> {
        let attr = block.body.attribute(key)?;
        let value = eval_reported(ev, &attr.value, diags)?;
        Some((value.unmarked().clone(), attr.value.span))
    };
    let username = text("username");
    let password = text("password");
    let insecure = matches!(text("insecure"), Some((Value::Bool(true), _)));
    let mut known_string = |value: Option<(Value, Span)>, key: &str| match value {
        None => None,
        Some((Value::String(s), _)) => Some(s),
        Some((_, span)) => {
            diags.push(
                Diagnostic::at(
                    Code::TypeMismatch,
                    span,
                    format!("registry.{key} must be a string known before the run"),
                )
                .with_help("use a literal, or a secret read from env: or file:"),
            );
            None
        }
    };
    RegistryAuth {
        username: known_string(username, "username"),
        password: known_string(password, "password"),
        insecure,
    }
}

/// The value of `expr`, or `None` with its problem added to `diags`.
fn eval_reported(
    ev: &mut Evaluator<'_>,
    expr: &crate::syntax::ast::Expr,
    diags: &mut Diagnostics,
) -> Option<Value> {
    ev.eval(expr).map_err(|d| diags.push(d)).ok()
}

/// An `engine` block evaluated: its endpoints read (each error at the
/// endpoint's expression) and its registry.
fn engine_spec(
    ev: &mut Evaluator<'_>,
    name: &str,
    block: &crate::syntax::ast::Block,
    files: NamedFiles,
    diags: &mut Diagnostics,
) -> Option<EngineSpec> {
    let attr = block.body.attribute("endpoints")?;
    let mismatch = |span, message: String, help: &str| {
        Diagnostic::at(
            Code::TypeMismatch,
            span,
            format!("engine \"{name}\": {message}"),
        )
        .with_help(help.to_string())
    };
    let value = eval_reported(ev, &attr.value, diags)?;
    let texts = match convert(
        value.unmarked().clone(),
        &Type::List(Box::new(Type::String)),
    ) {
        Ok(Value::List(items)) if !items.is_empty() => items,
        _ => {
            diags.push(mismatch(
                attr.value.span,
                "endpoints must be a non-empty list of strings known before the run".into(),
                "write endpoints = [\"unix:///var/run/docker.sock\"]",
            ));
            return None;
        }
    };
    let mut endpoints = Vec::new();
    for text in &texts {
        match parse_endpoint(&text.display()) {
            Ok(endpoint) => endpoints.push(endpoint),
            Err(problem) => {
                diags.push(mismatch(
                    attr.value.span,
                    problem,
                    "docs/engines.md lists the endpoint forms",
                ));
                return None;
            }
        }
    }
    let tls = match block.body.blocks().find(|b| b.kind.name == "tls") {
        Some(tls) => Some(tls_spec(ev, name, tls, files, diags)?),
        None => None,
    };
    let mut registry = None;
    if let Some(block) = block.body.blocks().find(|b| b.kind.name == "registry") {
        let mut text = |key: &str| -> Option<Value> {
            let attr = block.body.attribute(key)?;
            eval_reported(ev, &attr.value, diags).map(|v| v.unmarked().clone())
        };
        let address = match text("address") {
            Some(Value::String(a)) if !a.is_empty() && !a.contains("://") => a,
            _ => {
                diags.push(mismatch(
                    block.kind.span,
                    "registry.address must be HOST:PORT".into(),
                    "write address = \"10.0.0.2:5000\" (no scheme)",
                ));
                return None;
            }
        };
        let insecure = matches!(text("insecure"), Some(Value::Bool(true)));
        registry = Some(RegistrySpec { address, insecure });
    }
    Some(EngineSpec {
        name: name.to_string(),
        endpoints,
        tls,
        registry,
    })
}

/// An engine's `tls` block: three PEM files, relative to the project.
fn tls_spec(
    ev: &mut Evaluator<'_>,
    engine: &str,
    block: &crate::syntax::ast::Block,
    files: NamedFiles,
    diags: &mut Diagnostics,
) -> Option<TlsSpec> {
    let mut file = |key: &str| -> Option<std::path::PathBuf> {
        let attr = block.body.attribute(key)?;
        let value = eval_reported(ev, &attr.value, diags)?;
        let Value::String(text) = value.unmarked() else {
            diags.push(
                Diagnostic::at(
                    Code::TypeMismatch,
                    attr.value.span,
                    format!("engine \"{engine}\": tls.{key} must be a path, known before the run"),
                )
                .with_help("write it as a string, e.g. \"certs/ca.pem\""),
            );
            return None;
        };
        let path = ev.module_dir.join(text);
        if files == NamedFiles::MustExist && !path.is_file() {
            diags.push(
                Diagnostic::at(
                    Code::PathNotFound,
                    attr.value.span,
                    format!("engine \"{engine}\": tls.{key}: no file {text:?}"),
                )
                .with_help("paths are relative to the project's directory; docs/engines.md shows how to make the certificates"),
            );
            return None;
        }
        Some(path)
    };
    let (ca, cert, key) = (file("ca"), file("cert"), file("key"));
    Some(TlsSpec {
        ca: ca?,
        cert: cert?,
        key: key?,
    })
}
