//! The `.imm` language: parsing, evaluation, checking, formatting and
//! diagnostics. See `ARCHITECTURE.md` for how the modules fit together.

// pest_derive without its `std` feature (see syntax/mod.rs) names `alloc`.
extern crate alloc;

pub mod check;
pub mod console;
pub mod decl;
pub mod diagnostics;
pub mod evaluate;
pub mod expr;
pub mod fmt;
pub mod ide;
pub mod lockfile;
pub mod policy;
pub mod project;
pub mod schema;
pub mod source;
pub mod syntax;
pub mod testfile;
pub mod types;
pub mod validate;

use diagnostics::Diagnostic;
use imm_stdlib::Value;
use std::path::Path;

/// Evaluates one expression with no names in scope (only literals and
/// functions), with `module_dir` as the base of file paths. For tests, the
/// language server and `--var` values.
pub fn eval_standalone(text: &str, module_dir: &Path) -> Result<Value, Diagnostic> {
    let mut sources = source::SourceMap::new();
    let file = sources.add("<expression>".into(), text.to_string());
    let expr = syntax::parse_expression(file, text)?;
    let mut templates = expr::TemplateCache::default();
    let result = expr::Evaluator::new(module_dir, &mut sources, &mut templates).eval(&expr);
    result
}
