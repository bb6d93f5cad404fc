//! `imm console`: a project evaluated once for an environment, with the
//! out attributes its state records, kept as a scope in which expressions
//! are evaluated one at a time. Reads state without locking it: the
//! console changes nothing.

use crate::error::{Error, Result};
use crate::load::{self, ProjectRequest};
use crate::Session;
use imm_lang::diagnostics::Code;
use imm_lang::evaluate::RootScope;
use imm_lang::evaluate::{self, Mode};
use imm_lang::expr::TemplateCache;
use imm_lang::source::SourceMap;
use imm_stdlib::Value;

pub struct Console {
    scope: RootScope,
    sources: SourceMap,
    templates: TemplateCache,
    /// Warnings of loading and evaluating the project.
    pub warnings: Vec<imm_lang::diagnostics::Diagnostic>,
    /// What the user should know about the scope (the environment chosen).
    pub notes: Vec<String>,
}

/// Loads and evaluates the project for the requested environment. As
/// `terraform console` does, a directory without `.imm` files opens an
/// empty scope (functions and literals still work), and a project with
/// environments but no `--env` is evaluated in its first one (`notes` say
/// which).
pub fn open(request: &ProjectRequest, session: &Session) -> Result<Console> {
    match open_project(request, session) {
        Err(e) if has_only(&e, Code::NoImmFiles) => Ok(Console::empty(&request.dir)),
        Err(e) if request.env.is_none() && has_only(&e, Code::EnvironmentRequired) => {
            let environment = first_environment(&request.dir);
            let chosen = ProjectRequest {
                env: Some(environment.clone()),
                ..request.clone()
            };
            let mut console = open_project(&chosen, session)?;
            console.notes.push(format!(
                "evaluating in environment \"{environment}\", the first one declared; pass --env to choose another"
            ));
            Ok(console)
        }
        result => result,
    }
}

fn open_project(request: &ProjectRequest, session: &Session) -> Result<Console> {
    let (mut loaded, site) = load::load_with_site(request, session)?;
    // No state yet is fine: the resources' out attributes are then unknown.
    if let Some(state) = site.peek()? {
        loaded.inputs.known_outs = state.known_outs(|_| false);
    }
    loaded.inputs.keep_root_scope = true;
    let (evaluated, diags) = evaluate::evaluate(
        &mut loaded.project,
        &loaded.environment,
        &loaded.inputs,
        Mode::Plan,
    );
    let warnings = loaded.checked(diags.0)?;
    Ok(Console {
        scope: evaluated.root_scope.unwrap_or_default(),
        sources: loaded.project.sources,
        templates: TemplateCache::default(),
        warnings,
        notes: Vec::new(),
    })
}

/// Whether the error is that one problem alone.
fn has_only(error: &Error, code: Code) -> bool {
    matches!(error.diagnostics.as_slice(), [d] if d.code == code)
}

/// The environment a console without `--env` evaluates in.
fn first_environment(dir: &std::path::Path) -> String {
    let project = imm_lang::project::load(dir);
    evaluate::environment_names(&project)
        .into_iter()
        .next()
        .unwrap_or_else(|| "default".into())
}

impl Console {
    /// A scope with no project: literals and functions only.
    fn empty(dir: &std::path::Path) -> Console {
        Console {
            scope: RootScope {
                dir: dir.to_path_buf(),
                ..RootScope::default()
            },
            sources: SourceMap::default(),
            templates: TemplateCache::default(),
            warnings: Vec::new(),
            notes: vec![format!(
                "{} has no .imm files: only literals and functions can be evaluated",
                dir.display()
            )],
        }
    }

    /// Evaluates one line; an error carries the line as its source.
    pub fn evaluate(&mut self, line: &str) -> Result<Value> {
        imm_lang::console::evaluate_line(&self.scope, line, &mut self.sources, &mut self.templates)
            .map_err(|d| Error::in_files(vec![d], &self.sources))
    }

    /// The sources of the project, for printing its warnings.
    pub fn sources(&self) -> &SourceMap {
        &self.sources
    }
}
