//! Artifacts from any builder, built once and promoted: an `exec` with a
//! `build` block is built once per fingerprint of its inputs and files,
//! reused by every environment (its build command runs once, counted),
//! refused by `promote_from` until the source environment applied it, and
//! rebuilt when a file it names changes.

mod common;

use common::Project;

const PROJECT: &str = r#"
environment "staging" {}

environment "prod" {
  promote_from = "staging"
}

# A builder: counts its runs, and prints the artifact's id as its output.
resource "exec" "artifact" {
  create  = ["sh", "-c", "echo built >> ../builds.log; echo building img-$(cat src/version.txt); echo \"{\\\"image\\\": \\\"img-$(cat src/version.txt)\\\"}\""]
  destroy = ["sh", "-c", "echo \"$IMM_OUTPUTS\" >> ../destroyed.log"]
  build {
    inputs = { builder = "sh" }
    files  = ["./src"]
  }
}

resource "file" "uses" {
  path    = "out/${env.name}.txt"
  content = "${exec.artifact.outputs.image}\n"
}
"#;

fn builds(p: &Project) -> usize {
    std::fs::read_to_string(p.file("builds.log"))
        .unwrap_or_default()
        .lines()
        .count()
}

#[test]
fn an_exec_artifact_is_built_once_and_promoted_as_it_is() {
    let p = Project::new(&[("infra/main.imm", PROJECT), ("infra/src/version.txt", "1")]);
    let imm = |args: &[&str]| {
        let mut all = vec!["-C", "infra"];
        all.extend_from_slice(args);
        p.imm(&all)
    };
    imm(&["apply", "--env", "staging", "--auto-approve"])
        .assert_ok()
        .assert_stdout_contains("exec.artifact: | building img-1");
    assert_eq!(
        builds(&p),
        1,
        "staging builds it (its output shown as it runs)"
    );

    let plan = imm(&["plan", "--env", "prod", "--format", "json"]).json();
    let artifact = plan["changes"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["address"] == "exec.artifact"))
        .expect("the artifact in prod's plan")
        .clone();
    assert_eq!(artifact["reuse"], true, "{artifact}");
    assert!(
        artifact["reasons"]
            .to_string()
            .contains("built and tested in staging"),
        "{artifact}"
    );
    imm(&["plan", "--env", "prod"])
        .assert_stdout_contains("Reuse (1)")
        .assert_stdout_contains("tested in staging");
    imm(&["apply", "--env", "prod", "--auto-approve"]).assert_ok();
    assert_eq!(builds(&p), 1, "prod reuses it: the build ran once");
    assert_eq!(
        std::fs::read_to_string(p.file("infra/out/prod.txt")).expect("prod"),
        "img-1\n",
        "prod runs what staging built"
    );

    // A changed input file: a new fingerprint, with the file as the reason.
    std::fs::write(p.file("infra/src/version.txt"), "2").expect("edit");
    let plan = imm(&["plan", "--env", "staging", "--format", "json"]).json();
    let reasons = plan["changes"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["address"] == "exec.artifact"))
        .map(|c| c["reasons"].to_string())
        .unwrap_or_default();
    assert!(
        reasons.contains("build changed (files in ./src)"),
        "{reasons}"
    );
    imm(&["plan", "--env", "staging"])
        .assert_stdout_contains("note: builds with: sh -c echo built >> ../builds.log");
    imm(&["apply", "--env", "prod", "--auto-approve"]).assert_fails_with("staging");
    assert_eq!(builds(&p), 1, "prod refuses it before building anything");
    assert_eq!(
        std::fs::read_to_string(p.file("infra/out/prod.txt")).expect("prod"),
        "img-1\n"
    );
    imm(&["apply", "--env", "staging", "--auto-approve"]).assert_ok();
    assert_eq!(builds(&p), 2, "staging rebuilds it once");
    let destroyed = || std::fs::read_to_string(p.file("destroyed.log")).unwrap_or_default();
    assert_eq!(
        destroyed(),
        "",
        "staging replaced its build, but prod still runs it: it stays"
    );
    imm(&["apply", "--env", "prod", "--auto-approve"]).assert_ok();
    assert_eq!(builds(&p), 2, "and prod takes it as it is");
    assert_eq!(
        std::fs::read_to_string(p.file("infra/out/prod.txt")).expect("prod"),
        "img-2\n"
    );
    imm(&["plan", "--env", "prod", "--detailed-exitcode"]).assert_code(0);
    assert!(
        destroyed().contains("img-1") && !destroyed().contains("img-2"),
        "the old build went when prod, its last user, moved on: {}",
        destroyed()
    );

    // Whichever environment lets go of it last destroys it.
    imm(&["destroy", "--env", "staging", "--auto-approve"]).assert_ok();
    assert!(
        !destroyed().contains("img-2"),
        "prod still runs it: staging forgets it and leaves it"
    );
    imm(&["destroy", "--env", "prod", "--auto-approve"]).assert_ok();
    assert!(destroyed().contains("img-2"), "the last one destroys it");
}

#[test]
fn an_exec_without_a_build_block_runs_in_every_environment() {
    let text = PROJECT.replace(
        "  build {\n    inputs = { builder = \"sh\" }\n    files  = [\"./src\"]\n  }\n",
        "",
    );
    let p = Project::new(&[("infra/main.imm", &text), ("infra/src/version.txt", "1")]);
    p.imm(&["-C", "infra", "apply", "--env", "staging", "--auto-approve"])
        .assert_ok();
    p.imm(&["-C", "infra", "apply", "--env", "prod", "--auto-approve"])
        .assert_ok();
    assert_eq!(
        builds(&p),
        2,
        "a command, not an artifact: it runs per environment"
    );
}
