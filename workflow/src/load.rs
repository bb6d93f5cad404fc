//! Loading a project for plan, apply and destroy: its files, the inputs
//! of this run (variables from the command line, files read once), the
//! selected environment and its settings (stores, state, `protected`,
//! `promote_from`), and the `store:` secrets read from the default store.

use crate::error::{Error, Result};
use crate::session::Session;
use crate::state_site::{StateLock, StateSite};
use imm_executors::registry::Credentials;
use imm_executors::stores::Stores;
use imm_lang::diagnostics::{Code, Diagnostic};
use imm_lang::evaluate::{self, Evaluated, Inputs, Mode};
use imm_lang::project::Project;
use std::collections::HashMap;
use std::path::PathBuf;

/// Where variable values come from on the command line.
#[derive(Debug, Clone, Default)]
pub struct VarInputs {
    /// `--var NAME=VALUE`, as given.
    pub vars: Vec<String>,
    /// `--var-file FILE`.
    pub var_files: Vec<PathBuf>,
}

/// The project directory, environment and variable values of a command.
#[derive(Debug, Clone)]
pub struct ProjectRequest {
    pub dir: PathBuf,
    pub env: Option<String>,
    pub vars: VarInputs,
}

/// A loaded project with its inputs and selected environment; the static
/// diagnostics (warnings) are kept to be reported with the evaluation's.
pub struct Loaded {
    pub dir: PathBuf,
    pub project: Project,
    pub inputs: Inputs,
    pub environment: String,
    pub static_diags: Vec<Diagnostic>,
    /// The project's stores (`store` blocks evaluated for the environment).
    pub stores: Stores,
    pub settings: evaluate::Settings,
    /// What the run is, for store history notes (`imm apply` unless a
    /// command says otherwise).
    pub purpose: String,
}

/// Loads the project and takes the lock of its environment's state, where
/// that state lives: what every command that changes or plans needs first.
pub fn load_locked(
    request: &ProjectRequest,
    session: &Session,
    operation: &str,
) -> Result<(Loaded, StateSite, StateLock)> {
    let (loaded, site) = load_with_site(request, session)?;
    let lock = site.lock(operation)?;
    Ok((loaded, site, lock))
}

/// Loads the project and finds where its environment's state lives.
pub fn load_with_site(request: &ProjectRequest, session: &Session) -> Result<(Loaded, StateSite)> {
    let loaded = load(request, session)?;
    let site = StateSite::configured(
        &request.dir,
        &loaded.environment,
        loaded.settings.state.as_ref(),
        session.handle(),
    )?;
    Ok((loaded, site))
}

pub fn load(request: &ProjectRequest, session: &Session) -> Result<Loaded> {
    let mut project = imm_lang::project::load(&request.dir);
    let mut diags = std::mem::take(&mut project.diagnostics).0;
    let mut inputs = match inputs_from(&request.vars) {
        Ok(i) => i,
        Err(d) => {
            diags.push(d);
            return Err(Error::in_files(diags, &project.sources));
        }
    };
    if diags.iter().any(Diagnostic::is_error) {
        let diags = imm_lang::validate::sorted_unique(diags);
        return Err(Error::in_files(diags, &project.sources));
    }
    let environment = evaluate::select_environment(&project, request.env.as_deref())
        .map_err(|d| Error::in_files(vec![d], &project.sources))?;
    let (settings, settings_diags) =
        evaluate::settings(&mut project, &environment, evaluate::NamedFiles::MustExist);
    if settings_diags.0.iter().any(Diagnostic::is_error) {
        return Err(Error::in_files(settings_diags.0, &project.sources));
    }
    diags.extend(settings_diags.0);
    let stores = Stores::from_settings(&settings.stores, &request.dir).map_err(|message| {
        Error::new(
            Code::StoreMisconfigured,
            message,
            "fix the store block (docs/stores.md lists each backend's attributes)",
        )
    })?;
    inputs.store_values = read_store_secrets(&project, &environment, &stores, session)?;
    let loaded = Loaded {
        dir: request.dir.clone(),
        project,
        inputs,
        environment,
        static_diags: diags,
        stores,
        settings,
        purpose: "imm apply".into(),
    };
    if let Some(docker) = &session.registry.docker {
        docker.set_engines(loaded.settings.engines.values().cloned());
        docker.set_registry_credentials(registry_credentials(&loaded));
    }
    Ok(loaded)
}

/// The user and password of each `registry` block that gives both.
pub fn registry_credentials(loaded: &Loaded) -> HashMap<String, Credentials> {
    loaded
        .settings
        .registries
        .iter()
        .filter_map(|(address, auth)| {
            Some((
                address.clone(),
                Credentials {
                    username: auth.username.clone()?,
                    password: auth.password.clone()?,
                },
            ))
        })
        .collect()
}

/// The inputs of a run: the process's environment and the command line.
pub fn inputs_from(vars: &VarInputs) -> std::result::Result<Inputs, Diagnostic> {
    let mut inputs = Inputs::from_process();
    for raw in &vars.vars {
        let Some((name, value)) = raw.split_once('=') else {
            return Err(Diagnostic::new(
                Code::InvalidVariableValue,
                format!("--var {raw}: expected NAME=VALUE"),
            )
            .with_help(format!("write --var {raw}=VALUE")));
        };
        inputs
            .cli_vars
            .push((name.trim().to_string(), value.to_string()));
    }
    inputs.var_files = vars.var_files.clone();
    Ok(inputs)
}

/// `store:KEY` secrets of the root module, read from the default store at
/// `<prefix>/<env>/KEY` before evaluation (the evaluator does no network).
fn read_store_secrets(
    project: &Project,
    environment: &str,
    stores: &Stores,
    session: &Session,
) -> Result<HashMap<String, std::result::Result<String, String>>> {
    let keys: Vec<String> = project
        .root
        .decl
        .secrets
        .values()
        .filter_map(|s| s.from.as_literal_string())
        .filter_map(|from| from.strip_prefix("store:").map(str::to_string))
        .collect();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let store = stores.get(None).map_err(|e| {
        Error::new(
            Code::SecretUnavailable,
            format!("a secret is read from a store, but {}", e.message),
            "declare a store block (a default one, or name it in the secret)",
        )
    })?;
    Ok(session.runtime.block_on(async {
        let mut values = HashMap::new();
        for key in keys {
            let full = format!("{environment}/{key}");
            let value = match store.get(&full).await {
                Ok(Some(v)) => Ok(v),
                Ok(None) => Err(format!("{full} is not in {}", store.describe())),
                Err(e) => Err(format!(
                    "reading {full} from {}: {}",
                    store.describe(),
                    e.message
                )),
            };
            values.insert(key, value);
        }
        values
    }))
}

impl Loaded {
    /// The static diagnostics with `more` (an evaluation error inside a
    /// static one is the same problem): the warnings to show, or the error.
    pub fn checked(&self, more: Vec<Diagnostic>) -> Result<Vec<Diagnostic>> {
        let static_spans: Vec<_> = self.static_diags.iter().filter_map(|d| d.span).collect();
        let mut all = self.static_diags.clone();
        all.extend(
            more.into_iter()
                .filter(|d| !imm_lang::validate::covered_by(d, &static_spans)),
        );
        let all = imm_lang::validate::sorted_unique(all);
        if all.iter().any(Diagnostic::is_error) {
            return Err(Error::in_files(all, &self.project.sources));
        }
        Ok(all)
    }

    /// Evaluates the environment with this run's inputs (`imm graph`).
    pub fn evaluate(&mut self) -> Result<(Evaluated, Vec<Diagnostic>)> {
        let (evaluated, diags) = evaluate::evaluate(
            &mut self.project,
            &self.environment,
            &self.inputs,
            Mode::Plan,
        );
        let warnings = self.checked(diags.0)?;
        Ok((evaluated, warnings))
    }
}
