//! `imm console`: a project evaluated once for an environment, with the
//! out attributes its state records, kept as a scope in which expressions
//! are evaluated one at a time. Reads state without locking it: the
//! console changes nothing.

use crate::error::{Error, Result};
use crate::load::{self, ProjectRequest};
use crate::Session;
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
}

/// Loads and evaluates the project for the requested environment.
pub fn open(request: &ProjectRequest, session: &Session) -> Result<Console> {
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
    })
}

impl Console {
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
