//! The diagnostics corpus: every project under `tests/fixtures/invalid`
//! must report exactly the codes and positions in its `expected.txt`
//! (`CODE file:line:col`, wording-independent), and its rendered report
//! must match the insta snapshot. Every project under
//! `tests/fixtures/valid` must validate with no diagnostic at all.
//!
//! `IMM_BLESS=1 cargo test --test diagnostics` rewrites the expected files;
//! review the diff before committing it.

use imm_lang::diagnostics::{render_human, Diagnostic};
use imm_lang::source::SourceMap;
use std::path::{Path, PathBuf};

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(kind);
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixture directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn relative(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn positions(diags: &[Diagnostic], sources: &SourceMap, root: &Path) -> Vec<String> {
    diags
        .iter()
        .map(
            |d| match d.span.and_then(|s| sources.get(s.file).map(|f| (f, s))) {
                Some((file, span)) => {
                    let lc = file.line_col(span.start as usize);
                    format!(
                        "{} {}:{}:{}",
                        d.code,
                        relative(&file.path, root),
                        lc.line,
                        lc.column
                    )
                }
                None => format!("{} -", d.code),
            },
        )
        .collect()
}

#[test]
fn invalid_projects_report_the_expected_codes_and_positions() {
    let bless = std::env::var_os("IMM_BLESS").is_some();
    let mut failures = Vec::new();
    let all = fixtures("invalid");
    assert!(all.len() >= 15, "the corpus shrank: {} projects", all.len());
    for dir in all {
        let (project, diags) = imm_lang::validate::validate(&dir);
        let actual = positions(&diags, &project.sources, &dir);
        let expected_path = dir.join("expected.txt");
        if bless {
            std::fs::write(&expected_path, actual.join("\n") + "\n").expect("write expected.txt");
            continue;
        }
        let expected: Vec<String> = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("{} has no expected.txt", dir.display()))
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect();
        assert!(
            !expected.is_empty(),
            "{}: an invalid fixture must expect a diagnostic",
            dir.display()
        );
        if actual != expected {
            failures.push(format!(
                "{}\n  expected: {expected:?}\n  actual:   {actual:?}",
                dir.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn rendered_reports_match_snapshots() {
    for dir in fixtures("invalid") {
        let (project, diags) = imm_lang::validate::validate(&dir);
        let prefix = format!("{}/", dir.display());
        let rendered: String = diags
            .iter()
            .map(|d| render_human(d, &project.sources, false, 100).replace(&prefix, ""))
            .collect();
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("fixture")
            .to_string();
        insta::assert_snapshot!(name, rendered);
    }
}

#[test]
fn valid_projects_have_no_diagnostics() {
    for dir in fixtures("valid") {
        let (project, diags) = imm_lang::validate::validate(&dir);
        let rendered: Vec<String> = diags
            .iter()
            .map(|d| render_human(d, &project.sources, false, 100))
            .collect();
        assert!(
            diags.is_empty(),
            "{} should be valid:\n{}",
            dir.display(),
            rendered.join("\n")
        );
    }
}

#[test]
fn json_diagnostics_follow_the_documented_shape() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid/cycles");
    let (project, diags) = imm_lang::validate::validate(&dir);
    let first = imm_lang::diagnostics::render_json(&diags[0], &project.sources);
    let json: serde_json::Value = serde_json::from_str(&first).expect("valid JSON");
    for key in [
        "severity",
        "code",
        "message",
        "file",
        "line",
        "column",
        "end_line",
        "end_column",
        "labels",
        "help",
    ] {
        assert!(json.get(key).is_some(), "missing key {key} in {first}");
    }
    assert_eq!(json["code"], "E0206");
    assert_eq!(json["line"], 2);
    assert_eq!(json["column"], 7);
    assert_eq!(
        json["labels"].as_array().map(Vec::len),
        Some(2),
        "every other edge of the 3-cycle is labelled"
    );
}

fn diagnostics_doc() -> String {
    let mut doc = String::from(
        "# Diagnostic codes\n\n\
         Every problem imm reports carries one of these stable codes (`E…` errors, `W…` warnings).\n\
         Codes are never renumbered; tools and tests may rely on them. This file is checked against\n\
         the code registry (`lang/src/diagnostics.rs`) by `tests/diagnostics.rs`.\n\n\
         | code | meaning | example fix |\n|---|---|---|\n",
    );
    for (code, meaning, fix) in imm_lang::diagnostics::Code::ALL {
        doc.push_str(&format!("| {} | {meaning} | {fix} |\n", code.as_str()));
    }
    doc
}

#[test]
fn docs_list_every_code() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/diagnostics.md");
    let expected = diagnostics_doc();
    if std::env::var_os("IMM_BLESS").is_some() {
        std::fs::write(&path, &expected).expect("write docs/diagnostics.md");
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        actual, expected,
        "docs/diagnostics.md is out of date: run IMM_BLESS=1 cargo test --test diagnostics"
    );
}
