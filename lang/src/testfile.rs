//! The test files of `imm test` (`tests/*.imm` of a project, never read by
//! the project loader): `run "NAME" { command = plan | apply  variables {
//! … }  assert { … }  expect_failures = [ … ] }` blocks, in order.

use crate::decl::{conditions, Condition};
use crate::diagnostics::{Code, Diagnostic, Diagnostics};
use crate::source::{FileId, SourceMap, Span};
use crate::syntax::ast::{Block, Expr, ExprKind};

/// What a run does before its asserts are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunCommand {
    Plan,
    Apply,
}

/// One `run` block.
#[derive(Debug, Clone)]
pub struct TestRun {
    pub name: String,
    pub command: RunCommand,
    /// `variables { NAME = VALUE }`, evaluated with no names in scope.
    pub variables: Vec<(String, Expr)>,
    pub asserts: Vec<Condition>,
    /// Checkable objects that must fail: `var.x`, `output.y`, `TYPE.NAME`,
    /// `check.z`, `policy.p`.
    pub expect_failures: Vec<String>,
    pub span: Span,
}

/// Reads the `run` blocks of one test file (already added to `sources`).
pub fn runs(file: FileId, sources: &SourceMap) -> (Vec<TestRun>, Diagnostics) {
    let mut diags = Diagnostics::default();
    let Some(text) = sources.get(file).map(|s| s.text.clone()) else {
        return (Vec::new(), diags);
    };
    let parsed = crate::syntax::parse_file(file, &text);
    diags.extend(parsed.diagnostics);
    let mut out = Vec::new();
    for block in parsed.body.blocks() {
        if block.kind.name != "run" || block.labels.len() != 1 {
            let code = match block.kind.name == "run" {
                true => Code::WrongLabels,
                false => Code::UnknownBlock,
            };
            diags.push(
                Diagnostic::at(code, block.kind.span, "a test file holds only run \"NAME\" { ... } blocks")
                    .with_help("write run \"NAME\" { command = plan  assert { condition = ...  error_message = \"...\" } }"),
            );
            continue;
        }
        if let Some(run) = run(block, &mut diags) {
            out.push(run);
        }
    }
    (out, diags)
}

fn run(block: &Block, diags: &mut Diagnostics) -> Option<TestRun> {
    let body = &block.body;
    for attr in body.attributes() {
        if !matches!(attr.name.name.as_str(), "command" | "expect_failures") {
            diags.push(
                Diagnostic::at(Code::UnknownAttribute, attr.name.span, format!("\"{}\" is not an attribute of a run block", attr.name.name))
                    .with_help("a run block takes command, expect_failures, and variables { } and assert { } blocks"),
            );
        }
    }
    for inner in body.blocks() {
        if !matches!(inner.kind.name.as_str(), "variables" | "assert") {
            diags.push(
                Diagnostic::at(
                    Code::UnexpectedBlock,
                    inner.kind.span,
                    format!("a run block cannot contain a \"{}\" block", inner.kind.name),
                )
                .with_help("a run block holds variables { } and assert { } blocks"),
            );
        }
    }
    let command = match body
        .attribute("command")
        .map(|a| (&a.value, a.value.as_traversal()))
    {
        None => RunCommand::Apply,
        Some((_, Some((root, path)))) if path.is_empty() && root.name == "plan" => RunCommand::Plan,
        Some((_, Some((root, path)))) if path.is_empty() && root.name == "apply" => {
            RunCommand::Apply
        }
        Some((value, _)) => {
            diags.push(
                Diagnostic::at(Code::TypeMismatch, value.span, "command is plan or apply")
                    .with_help("write command = plan (judge the plan only) or command = apply"),
            );
            return None;
        }
    };
    let variables = body
        .blocks_named("variables")
        .flat_map(|v| v.body.attributes())
        .map(|a| (a.name.name.clone(), a.value.clone()))
        .collect();
    let mut expect_failures = Vec::new();
    if let Some(attr) = body.attribute("expect_failures") {
        let items: Vec<&Expr> = match &attr.value.kind {
            ExprKind::Tuple(items) => items.iter().collect(),
            _ => vec![&attr.value],
        };
        for item in items {
            match item.as_traversal() {
                Some((root, path)) if !path.is_empty() => {
                    let names: Vec<&str> = std::iter::once(root.name.as_str()).chain(path.iter().map(|p| p.name.as_str())).collect();
                    expect_failures.push(names.join("."));
                }
                _ => diags.push(
                    Diagnostic::at(Code::TypeMismatch, item.span, "expect_failures lists checkable objects")
                        .with_help("write expect_failures = [var.NAME, output.NAME, TYPE.NAME, check.NAME, policy.NAME]"),
                ),
            }
        }
    }
    Some(TestRun {
        name: block.labels[0].name.clone(),
        command,
        variables,
        asserts: conditions(body, "assert"),
        expect_failures,
        span: block.span,
    })
}
