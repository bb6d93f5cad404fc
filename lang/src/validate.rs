//! `imm validate`: load, check, and evaluate the project once for every
//! declared environment, needing no variable values, secrets or network.

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::evaluate::{self, Inputs, Mode};
use crate::project::{self, Project};
use crate::source::Span;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Every problem of the project at `dir`, sorted, each reported once.
pub fn validate(dir: &Path) -> (Project, Vec<Diagnostic>) {
    validate_project(project::load(dir))
}

/// The same, with the texts of files open in an editor instead of disk.
pub fn validate_with_overlay(
    dir: &Path,
    overlay: &HashMap<PathBuf, String>,
) -> (Project, Vec<Diagnostic>) {
    validate_project(project::load_with_overlay(dir, overlay))
}

fn validate_project(mut project: Project) -> (Project, Vec<Diagnostic>) {
    let mut diags = std::mem::take(&mut project.diagnostics);
    if project.has_syntax_errors {
        return (project, sorted_unique(diags.0));
    }
    let environments = evaluate::environment_names(&project);
    let inputs = Inputs::default();
    // A problem seen in only some environments says which.
    let mut seen: Vec<(Diagnostic, Vec<String>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for env in &environments {
        let (_, env_diags) = evaluate::evaluate(&mut project, env, &inputs, Mode::Validate);
        // Engines, stores and state are read before anything else at plan
        // time; their mistakes belong here too.
        let (_, settings_diags) =
            evaluate::settings(&mut project, env, evaluate::NamedFiles::MayBeMissing);
        for d in env_diags.0.into_iter().chain(settings_diags.0) {
            let key = format!("{}|{:?}|{}", d.code, d.span, d.message);
            match index.get(&key) {
                Some(&i) => seen[i].1.push(env.clone()),
                None => {
                    index.insert(key, seen.len());
                    seen.push((d, vec![env.clone()]));
                }
            }
        }
    }
    let static_spans: Vec<Span> = diags
        .iter()
        .filter(|d| d.is_error())
        .filter_map(|d| d.span)
        .collect();
    for (mut d, envs) in seen {
        if covered_by(&d, &static_spans) {
            continue;
        }
        if envs.len() < environments.len() {
            d.message = format!("{} (in environment {})", d.message, envs.join(", "));
        }
        diags.push(d);
    }
    (project, sorted_unique(diags.0))
}

/// An evaluation error inside the span of a static error is the same
/// problem seen twice (an unknown name evaluates to nothing useful).
pub fn covered_by(d: &Diagnostic, static_spans: &[Span]) -> bool {
    let Some(span) = d.span else {
        return false;
    };
    static_spans
        .iter()
        .any(|s| s.file == span.file && s.start <= span.start && span.end <= s.end)
}

/// Sorted by position, each problem once.
pub fn sorted_unique(diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    Diagnostics(diags).sorted()
}
