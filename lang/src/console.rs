//! `imm console`: expressions evaluated in the scope of a project's root
//! module, as `terraform console` does. The scope is taken once from an
//! evaluation of the environment (`Inputs::keep_root_scope`);
//! each line is then parsed and evaluated against it.

use crate::diagnostics::{did_you_mean, Code, Diagnostic};
use crate::evaluate::RootScope;
use crate::expr::{Evaluator, TemplateCache};
use crate::source::SourceMap;
use crate::syntax::{self, ast::references, ast::Reference};
use imm_stdlib::Value;

/// Roots whose members are declared names: a member that is not there is
/// a typo, not an unknown value.
const DECLARED_ROOTS: &[&str] = &["var", "local", "module", "secret", "env"];

/// Parses and evaluates one console line in `scope`. The line becomes a
/// source of `sources`, so a diagnostic points into it.
pub fn evaluate_line(
    scope: &RootScope,
    line: &str,
    sources: &mut SourceMap,
    templates: &mut TemplateCache,
) -> Result<Value, Diagnostic> {
    let file = sources.add("<console>".into(), line.to_string());
    let expr = syntax::parse_expression(file, line)?;
    for reference in references(&expr).into_iter().filter(|r| !r.bound) {
        check_reference(scope, &reference)?;
    }
    let mut evaluator = Evaluator::new(&scope.dir, sources, templates);
    evaluator.roots = scope.names.clone();
    evaluator.eval(&expr)
}

/// A name the scope does not hold is a typo: the evaluator would take it
/// for a value not known yet.
fn check_reference(scope: &RootScope, reference: &Reference) -> Result<(), Diagnostic> {
    let Some(value) = scope.names.get(&reference.root) else {
        let d = Diagnostic::at(
            Code::UnknownName,
            reference.root_span,
            format!("\"{}\" is not a name in this project", reference.root),
        );
        return Err(
            match did_you_mean(&reference.root, scope.names.keys().map(String::as_str)) {
                Some(s) => d.with_help(format!("did you mean \"{s}\"?")),
                None => d.with_help(
                    "names start with var, local, module, secret, env or a resource type",
                ),
            },
        );
    };
    let (Some(member), Value::Map(members)) = (reference.path.first(), value) else {
        return Ok(());
    };
    let declared = DECLARED_ROOTS.contains(&reference.root.as_str())
        || crate::types::names().any(|t| t == reference.root);
    if !declared || members.contains_key(member) {
        return Ok(());
    }
    let d = Diagnostic::at(
        Code::UnknownMember,
        reference.span,
        format!("{}.{member} is not declared", reference.root),
    );
    Err(
        match did_you_mean(member, members.keys().map(String::as_str)) {
            Some(s) => d.with_help(format!("did you mean {}.{s}?", reference.root)),
            None if members.is_empty() => {
                d.with_help(format!("this project declares no {}", reference.root))
            }
            None => d.with_help(format!(
                "declared: {}",
                members.keys().cloned().collect::<Vec<_>>().join(", ")
            )),
        },
    )
}
