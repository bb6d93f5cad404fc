//! What plan, apply and destroy share: loading the project, its inputs,
//! stores and `store:` secrets; the refresh; making the plan (with the
//! config hash of saved plans and the promotion notes); and running the
//! apply engine after the orphan sweep and the store check. Where state
//! lives is `site.rs`.

use crate::report::print_diagnostics;
use crate::{DiagnosticFormat, ProjectArgs};
use futures_util::StreamExt;
use imm_executors::stores::Stores;
use imm_executors::{Existing, Observed, Registry, RunContext};
use imm_lang::diagnostics::{Code, Diagnostic};
use imm_lang::evaluate::{self, Evaluated, Inputs};
use imm_lang::project::Project;
use imm_planner::plan::{self, Plan, PlanOptions};
use imm_planner::state::{self, State};
use imm_planner::stored::FingerprintKey;
use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;

/// Prints one problem that comes from no file, with its code and help.
pub fn fail(code: Code, message: impl Into<String>, help: impl Into<String>) -> ExitCode {
    let d = Diagnostic::new(code, message).with_help(help);
    print_diagnostics(
        &[d],
        &imm_lang::source::SourceMap::default(),
        DiagnosticFormat::Human,
    );
    ExitCode::from(1)
}

/// A loaded project with its inputs and selected environment; static
/// diagnostics (warnings) kept to be printed with the evaluation's.
pub struct Loaded {
    pub project: Project,
    pub inputs: Inputs,
    pub environment: String,
    pub static_diags: Vec<Diagnostic>,
    /// The project's stores (`store` blocks evaluated for the environment).
    pub stores: Stores,
    pub settings: evaluate::Settings,
}

pub fn load(args: &ProjectArgs, format: DiagnosticFormat) -> Result<Loaded, ExitCode> {
    let mut project = imm_lang::project::load(&args.dir);
    let mut diags = std::mem::take(&mut project.diagnostics).0;
    let inputs = match super::apply::inputs_from(&args.vars) {
        Ok(i) => i,
        Err(d) => {
            diags.push(d);
            print_diagnostics(&diags, &project.sources, format);
            return Err(ExitCode::from(1));
        }
    };
    if diags.iter().any(Diagnostic::is_error) {
        print_diagnostics(
            &imm_lang::validate::sorted_unique(diags),
            &project.sources,
            format,
        );
        return Err(ExitCode::from(1));
    }
    let environment = match evaluate::select_environment(&project, args.env.as_deref()) {
        Ok(e) => e,
        Err(d) => {
            print_diagnostics(&[d], &project.sources, format);
            return Err(ExitCode::from(1));
        }
    };
    let (settings, settings_diags) = evaluate::settings(&mut project, &environment);
    if print_diagnostics(&settings_diags.0, &project.sources, format) {
        return Err(ExitCode::from(1));
    }
    let stores = Stores::from_settings(&settings.stores, &args.dir).map_err(|message| {
        fail(
            Code::ActionFailed,
            message,
            "fix the store block (RESOURCES.md lists each backend's attributes)",
        )
    })?;
    let mut inputs = inputs;
    inputs.store_values = read_store_secrets(&project, &environment, &stores)?;
    Ok(Loaded {
        project,
        inputs,
        environment,
        static_diags: diags,
        stores,
        settings,
    })
}

/// `store:KEY` secrets of the root module, read from the default store at
/// `<prefix>/<env>/KEY` before evaluation (the evaluator does no network).
fn read_store_secrets(
    project: &Project,
    environment: &str,
    stores: &Stores,
) -> Result<HashMap<String, Result<String, String>>, ExitCode> {
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
    let store = match stores.get(None) {
        Ok(s) => s,
        Err(e) => return Err(fail(Code::SecretUnavailable, e.message, "declare a store")),
    };
    let runtime = runtime()?;
    Ok(runtime.block_on(async {
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
    /// Prints the static diagnostics with `more` (an evaluation error
    /// inside a static one is the same problem); true on any error.
    pub fn report(&self, more: Vec<Diagnostic>, format: DiagnosticFormat) -> bool {
        let static_spans: Vec<_> = self.static_diags.iter().filter_map(|d| d.span).collect();
        let mut all = self.static_diags.clone();
        all.extend(
            more.into_iter()
                .filter(|d| !imm_lang::validate::covered_by(d, &static_spans)),
        );
        print_diagnostics(
            &imm_lang::validate::sorted_unique(all),
            &self.project.sources,
            format,
        )
    }

    /// Evaluates again with the given out attributes known (apply).
    pub fn reevaluate(
        &mut self,
        known: &HashMap<String, std::collections::BTreeMap<String, imm_stdlib::Value>>,
    ) -> Result<Evaluated, String> {
        let mut inputs = self.inputs.clone();
        inputs.known_outs = known.clone();
        let (evaluated, diags) = evaluate::evaluate(
            &mut self.project,
            &self.environment,
            &inputs,
            evaluate::Mode::Plan,
        );
        match diags.0.iter().find(|d| d.is_error()) {
            Some(d) => Err(format!(
                "evaluating again with the new values: {}",
                d.message
            )),
            None => Ok(evaluated),
        }
    }
}

pub use super::site::StateSite;

pub fn state_error(e: &state::StateError) -> ExitCode {
    let code = match e {
        state::StateError::Locked { .. } => Code::StateLocked,
        _ => Code::StateUnreadable,
    };
    fail(code, e.to_string(), code_help(code))
}

fn code_help(code: Code) -> String {
    Code::ALL
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, _, help)| help.to_string())
        .unwrap_or_default()
}

/// The run context every executor sees.
pub fn run_context(dir: &Path, loaded: &Loaded, state: &State) -> RunContext {
    let environment = loaded.environment.as_str();
    let project = std::path::absolute(dir)
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "project".into());
    RunContext {
        project,
        environment: environment.to_string(),
        lineage: state.lineage.clone(),
        stores: loaded.stores.clone(),
        progress: None,
    }
}

pub fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            fail(
                Code::ActionFailed,
                format!("cannot start the async runtime: {e}"),
                "this is a problem of the machine (threads, file descriptors)",
            )
        })
}

/// Reads of recorded objects in flight at once during a refresh.
const REFRESH_CONCURRENCY: usize = 16;

/// Asks each executor whether its recorded objects are still as recorded.
pub fn refresh(
    state: &State,
    registry: &Registry,
    run: &RunContext,
) -> Result<HashMap<String, String>, ExitCode> {
    let runtime = runtime()?;
    // Reads go out concurrently: a state of thousands of containers is
    // thousands of daemon round trips.
    let reads = state.resources.iter().filter_map(|record| {
        let executor = registry.get(&record.type_name)?;
        Some(async move {
            let existing = Existing {
                address: &record.address,
                type_name: &record.type_name,
                attributes: &record.attributes,
                outs: &record.outs,
                private: &record.private,
            };
            (record.address.clone(), executor.read(existing, run).await)
        })
    });
    let observed: Vec<_> = runtime.block_on(
        futures_util::stream::iter(reads)
            .buffer_unordered(REFRESH_CONCURRENCY)
            .collect(),
    );
    let mut found = HashMap::new();
    let mut errors = Vec::new();
    for (address, result) in observed {
        match result {
            Ok(Observed::AsRecorded) => {}
            Ok(Observed::Drifted(what)) => {
                found.insert(address, what);
            }
            Err(e) => errors.push(format!("{address}: {e}")),
        }
    }
    if errors.is_empty() {
        return Ok(found);
    }
    errors.sort();
    Err(fail(
        Code::ActionFailed,
        format!("refreshing state failed: {}", errors.join("; ")),
        "fix the cause, or plan with --refresh=false to use the recorded state as it is",
    ))
}

/// A plan made: everything apply needs to carry it out.
pub struct Planned {
    pub loaded: Loaded,
    pub state: State,
    pub key: FingerprintKey,
    pub evaluated: Evaluated,
    pub plan: Plan,
}

/// Loads, reads state (under `lock`), refreshes and plans; with
/// `hash_inputs`, also hashes what the plan was made from (for saved
/// plans). Problems are printed; the exit code comes back instead.
pub fn make_plan(
    args: &ProjectArgs,
    options: &mut PlanOptions,
    refresh_first: bool,
    hash_inputs: bool,
    site: &StateSite,
    mut loaded: Loaded,
    format: DiagnosticFormat,
) -> Result<Planned, ExitCode> {
    let state = site.read(&loaded.environment)?;
    let key = site.key()?;
    let registry = Registry::all();
    if refresh_first {
        let run = run_context(&args.dir, &loaded, &state);
        options.drifted = refresh(&state, &registry, &run)?;
    }
    let (evaluated, mut plan, diags) = plan::plan_project(
        &mut loaded.project,
        &loaded.environment,
        &loaded.inputs,
        &state,
        &key,
        options,
    );
    if loaded.report(diags, format) {
        return Err(ExitCode::from(1));
    }
    if hash_inputs {
        plan.config_hash = config_hash(&loaded.project, &evaluated, &key);
    }
    if super::environments::builds_artifacts(&plan) {
        let current = (loaded.environment.as_str(), &state);
        let ledgers = super::environments::ledgers(&loaded.project, site, current);
        let source = super::environments::promotion_source(&loaded.project, &loaded.environment);
        super::environments::annotate(&mut plan, &ledgers, source.as_deref());
    }
    Ok(Planned {
        loaded,
        state,
        key,
        evaluated,
        plan,
    })
}

/// A hash of every source file and every value the plan was made from,
/// sensitive ones by their keyed hash.
pub fn config_hash(project: &Project, evaluated: &Evaluated, key: &FingerprintKey) -> String {
    let mut hasher = blake3::Hasher::new();
    // Paths relative to the project, which a plan file names absolutely.
    let root = &project.root.dir;
    let mut files: Vec<(String, &str)> = project
        .sources
        .files()
        .map(|(_, f)| {
            let path = f.path.strip_prefix(root).unwrap_or(&f.path);
            (path.display().to_string(), &*f.text)
        })
        .collect();
    files.sort();
    for (path, text) in files {
        hasher.update(path.as_bytes());
        hasher.update(&[0]);
        hasher.update(text.as_bytes());
        hasher.update(&[0]);
    }
    hasher.update(evaluated.environment.as_bytes());
    for instance in &evaluated.instances {
        let (stored, sensitive) = imm_planner::stored::stored_form(&instance.config, key);
        hasher.update(instance.address.as_bytes());
        hasher.update(stored.to_string().as_bytes());
        for (path, hash) in sensitive {
            hasher.update(path.as_bytes());
            hasher.update(hash.as_bytes());
        }
    }
    for (name, output) in &evaluated.outputs {
        hasher.update(name.as_bytes());
        hasher.update(key.hash(&output.value).as_bytes());
    }
    hasher.finalize().to_hex().to_string()
}

/// Before an apply touches Docker: objects labelled for this project and
/// environment that state does not know (left by a crash) are reported
/// and removed (volumes only reported).
pub fn sweep_orphans(
    runtime: &tokio::runtime::Runtime,
    registry: &Registry,
    plan: &Plan,
    state: &State,
    run: &RunContext,
) -> Result<(), ExitCode> {
    let uses_docker = plan
        .changes
        .iter()
        .any(|c| c.type_name.starts_with("docker_"))
        || state
            .resources
            .iter()
            .any(|r| r.type_name.starts_with("docker_"));
    let Some(docker) = registry.docker.as_ref().filter(|_| uses_docker) else {
        return Ok(());
    };
    match runtime.block_on(docker.sweep_orphans(state, run)) {
        Ok(found) => {
            for line in found {
                eprintln!("note: left by an interrupted run: {line}");
            }
            Ok(())
        }
        Err(e) => Err(fail(
            Code::ActionFailed,
            e.message,
            "nothing was changed; fix the cause and apply again",
        )),
    }
}

/// Before an apply changes anything: every store a `config` change writes
/// to must answer.
pub fn check_stores(
    runtime: &tokio::runtime::Runtime,
    plan: &Plan,
    stores: &Stores,
) -> Result<(), ExitCode> {
    let mut names: Vec<Option<String>> = plan
        .changes
        .iter()
        .filter(|c| c.type_name == "config" && c.action != imm_planner::plan::Action::Noop)
        .map(|c| {
            let side = c.after.as_ref().or(c.before.as_ref());
            side.and_then(|v| v.pointer("/store/name"))
                .and_then(|n| n.as_str())
                .map(str::to_string)
        })
        .collect();
    names.sort();
    names.dedup();
    for name in names {
        let checked = stores
            .get(name.as_deref())
            .and_then(|store| runtime.block_on(store.ping()));
        if let Err(e) = checked {
            return Err(fail(
                Code::ActionFailed,
                format!("{}; nothing was changed", e.message),
                "start the store or fix its address in the store block, then apply again",
            ));
        }
    }
    Ok(())
}

/// Runs the apply engine on a plan: the journal of the state site, the
/// orphan sweep and the store check first, live progress while it runs.
/// `evaluated` is the plan's evaluation (`None` for a destroy, which
/// evaluates nothing).
pub fn run_engine(
    site: &StateSite,
    loaded: &mut Loaded,
    planned: (&Plan, State, &FingerprintKey),
    evaluated: Option<Evaluated>,
    parallelism: usize,
    promotion: Option<imm_executors::engine::Promotion>,
) -> Result<(State, imm_executors::engine::Outcome), ExitCode> {
    let (plan, state, key) = planned;
    let runtime = runtime()?;
    let registry = Registry::all();
    let run = run_context(Path::new(&site.project_dir), loaded, &state);
    sweep_orphans(&runtime, &registry, plan, &state, &run)?;
    check_stores(&runtime, plan, &loaded.stores)?;
    if state.serial == 0 {
        // The lineage labels every object: it must outlive a crash of the
        // very first apply, so the next run recognises what it left.
        site.save(&state)?;
    }
    let journal = site.journal(runtime.handle().clone())?;
    let engine = imm_executors::engine::Engine {
        plan,
        run,
        state,
        journal,
        key,
        registry: &registry,
        parallelism,
        promotion,
    };
    let destroying = evaluated.is_none();
    let mut reevaluate = |known: &_| {
        if destroying {
            Ok(Evaluated::default())
        } else {
            loaded.reevaluate(known)
        }
    };
    let mut progress = crate::progress::Progress::new();
    let mut events = |e| progress.event(e);
    Ok(runtime.block_on(engine.apply(evaluated.unwrap_or_default(), &mut reevaluate, &mut events)))
}
