//! `imm console`: expressions read from stdin, evaluated in a project's
//! scope, against values taken from Terraform 1.11.4's console
//! (`tests/fixtures/console/expected.txt`).

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn console(dir: &Path, args: &[&str], lines: &[&str]) -> common::Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_imm"))
        .arg("console")
        .arg(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the imm binary");
    let mut stdin = child.stdin.take().expect("stdin of imm console");
    stdin
        .write_all(format!("{}\n", lines.join("\n")).as_bytes())
        .expect("write the console's input");
    drop(stdin);
    common::Run::from(child.wait_with_output().expect("wait for imm console"))
}

fn fixture() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/console"
    ))
}

#[test]
fn heredoc_templates_evaluate_as_terraform_does() {
    let table = std::fs::read_to_string(fixture().join("expected.txt")).expect("read the table");
    let cases: Vec<(&str, &str)> = table
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(" => "))
        .collect();
    assert!(cases.len() >= 8, "the table lost its cases");
    let inputs: Vec<&str> = cases.iter().map(|c| c.0).collect();
    let expected: Vec<&str> = cases.iter().map(|c| c.1).collect();
    let got = console(fixture(), &[], &inputs);
    got.assert_ok();
    let want = console(fixture(), &[], &expected);
    want.assert_ok();
    let got_lines: Vec<&str> = got.stdout.lines().collect();
    let want_lines: Vec<&str> = want.stdout.lines().collect();
    assert_eq!(
        got_lines.len(),
        cases.len(),
        "one result per line:\n{}",
        got.all()
    );
    for ((input, got), want) in inputs.iter().zip(&got_lines).zip(&want_lines) {
        assert_eq!(got, want, "{input}");
    }
}

#[test]
fn a_mistyped_name_is_reported_with_its_place_and_the_next_line_still_runs() {
    let run = console(
        fixture(),
        &["--var", "ports=[1, 2, 3]"],
        &["locals.upstream", "length(var.ports)", "var.port"],
    );
    assert_eq!(run.code, 1, "{}", run.all());
    assert_eq!(run.stdout.trim(), "3", "{}", run.all());
    assert!(run.stderr.contains("<console>:1:1"), "{}", run.stderr);
    assert!(
        run.stderr.contains("did you mean \"local\"?"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean var.ports?"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_empty_directory_evaluates_literals_and_functions() {
    let empty = tempfile::tempdir().expect("a temporary directory");
    let run = console(empty.path(), &[], &["upper(\"hi\")", "1 + 2"]);
    run.assert_ok();
    assert_eq!(run.stdout.lines().collect::<Vec<_>>(), ["\"HI\"", "3"]);
    assert!(run.stderr.contains("no .imm files"), "{}", run.all());
}

#[test]
fn without_env_a_project_with_environments_is_evaluated_in_its_first_one() {
    let p = common::Project::new(&[(
        "main.imm",
        "environment \"staging\" {\n  replicas = 1\n}\nenvironment \"prod\" {\n  replicas = 3\n}\n",
    )]);
    let run = console(p.dir.path(), &[], &["env.replicas"]);
    run.assert_ok();
    assert_eq!(run.stdout.trim(), "1");
    assert!(
        run.stderr.contains("evaluating in environment \"staging\""),
        "the console says which environment it chose:\n{}",
        run.all()
    );
    let prod = console(p.dir.path(), &["--env", "prod"], &["env.replicas"]);
    prod.assert_ok();
    assert_eq!(prod.stdout.trim(), "3");
}
