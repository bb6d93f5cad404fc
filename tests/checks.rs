//! Conditions, checks, policies and `imm test` with the real binary:
//! a precondition stopping the plan where it is written, a postcondition
//! failing the apply after state recorded the object, a check's warning, a
//! mandatory policy failing the plan (exit 3) and refusing the apply unless
//! overridden (the override recorded in the saved plan), an advisory policy
//! in the three renderings, a policy directory, and `imm test` runs (plan,
//! expected failures, JUnit XML read by a real XML parser, an apply run on
//! Docker and the teardown after a failed run).

mod common;
#[path = "support/docker.rs"]
mod docker_project;
use common::Project;
use docker_project::{docker, docker_project};

const CONDITIONS: &str = r#"variable "n" {
  default = 3
}

resource "exec" "made" {
  create = ["sh", "-c", "echo '{\"size\": ${var.n}}'"]
  lifecycle {
    precondition {
      condition     = var.n < 5
      error_message = "n must be under 5"
    }
    postcondition {
      condition     = self.outputs.size != 4
      error_message = "size is ${self.outputs.size}"
    }
  }
}

output "double" {
  value = var.n * 2
}
"#;

#[test]
fn a_false_precondition_stops_the_plan_at_its_condition() {
    let p = Project::new(&[("main.imm", CONDITIONS)]);
    let run = p.imm(&["plan", "--var", "n=6"]);
    run.assert_fails_with("E1001");
    assert!(
        run.stderr
            .contains("exec.made: precondition failed: n must be under 5"),
        "{}",
        run.all()
    );
    assert!(
        run.stderr.contains("main.imm:9:23"),
        "the condition's file:line:col: {}",
        run.all()
    );
    assert!(
        !run.stdout.contains("Plan:"),
        "no plan is shown past the failure: {}",
        run.all()
    );
}

#[test]
fn a_false_postcondition_fails_the_apply_and_state_records_the_object() {
    let p = Project::new(&[("main.imm", CONDITIONS)]);
    let run = p.imm(&["apply", "--auto-approve", "--var", "n=4"]);
    run.assert_fails_with("E1002");
    assert!(
        run.stderr
            .contains("exec.made: postcondition failed: size is 4"),
        "{}",
        run.all()
    );
    let state = std::fs::read_to_string(p.file(".imm/state/default.json")).expect("state written");
    assert!(
        state.contains("\"exec.made\""),
        "the object is recorded: {state}"
    );
    // A good value replaces it and the apply succeeds.
    p.imm(&["apply", "--auto-approve", "--var", "n=3"])
        .assert_ok();
}

#[test]
fn a_false_check_is_a_warning_and_an_unknown_one_waits_for_the_apply() {
    let main = format!(
        "{CONDITIONS}\ncheck \"small\" {{\n  assert {{\n    condition     = var.n < 2\n    error_message = \"n is ${{var.n}}\"\n  }}\n}}\n\ncheck \"made_small\" {{\n  assert {{\n    condition     = exec.made.outputs.size < 10\n    error_message = \"too big\"\n  }}\n}}\n"
    );
    let p = Project::new(&[("main.imm", &main)]);
    let plan = p.imm(&["plan"]);
    plan.assert_ok();
    assert!(
        plan.stderr.contains("W1001") && plan.stderr.contains("check.small: n is 3"),
        "{}",
        plan.all()
    );
    assert!(
        plan.stdout.contains("check.made_small: known after apply"),
        "{}",
        plan.all()
    );
    let apply = p.imm(&["apply", "--auto-approve"]);
    apply.assert_ok();
    assert!(
        apply.all().contains("check.small: n is 3"),
        "reported after the apply too: {}",
        apply.all()
    );
}

const POLICED: &str = r#"resource "file" "a" {
  path    = "out/a.txt"
  content = "hello"
}

policy "few_changes" {
  enforce = "advisory"
  assert {
    condition     = length(plan.changes) > 5
    error_message = "only ${length(plan.changes)} change(s)"
  }
}

policy "no_files" {
  assert {
    condition     = alltrue([for c in plan.changes : c.type != "file" if c.action == "create"])
    error_message = "no file may be created in ${plan.environment}"
  }
}
"#;

#[test]
fn a_failed_mandatory_policy_fails_the_plan_with_exit_3_and_refuses_the_apply() {
    let p = Project::new(&[("main.imm", POLICED)]);
    let plan = p.imm(&["plan"]);
    plan.assert_code(3);
    assert!(plan.stderr.contains("E1003"), "{}", plan.all());
    assert!(
        plan.stdout
            .contains("policy \"no_files\" (mandatory): fail — no file may be created in default"),
        "{}",
        plan.all()
    );
    let apply = p.imm(&["apply", "--auto-approve"]);
    apply.assert_fails_with("E1003");
    assert!(!p.file("out/a.txt").exists(), "nothing was applied");
    p.imm(&["apply", "--auto-approve", "--override-policy", "no_files"])
        .assert_ok();
    assert!(p.file("out/a.txt").exists());
}

#[test]
fn a_saved_plan_records_the_override_and_apply_honours_only_that() {
    let p = Project::new(&[("main.imm", POLICED)]);
    p.imm(&["plan", "--out", "refused.plan"]).assert_code(3);
    let refused = p.imm(&["apply", "refused.plan", "--override-policy", "no_files"]);
    refused.assert_fails_with("E1003");
    p.imm(&["plan", "--out", "ok.plan", "--override-policy", "no_files"])
        .assert_ok();
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.file("ok.plan")).expect("plan file"))
            .expect("JSON");
    assert_eq!(saved["override_policy"], serde_json::json!(["no_files"]));
    let statuses: Vec<&str> = saved["plan"]["policies"]
        .as_array()
        .expect("policies")
        .iter()
        .filter_map(|p| p["status"].as_str())
        .collect();
    assert_eq!(statuses, ["fail", "overridden"]);
    p.imm(&["apply", "ok.plan"]).assert_ok();
    assert!(p.file("out/a.txt").exists());
}

#[test]
fn an_advisory_policy_is_a_warning_in_every_rendering() {
    let main = POLICED
        .split("policy \"no_files\"")
        .next()
        .expect("first part");
    let p = Project::new(&[("main.imm", main)]);
    let human = p.imm(&["plan"]);
    human.assert_ok();
    assert!(
        human
            .stdout
            .contains("policy \"few_changes\" (advisory): fail — only 1 change(s)"),
        "{}",
        human.all()
    );
    assert!(human.stderr.contains("W1002"), "{}", human.all());
    let json = p.imm(&["plan", "--format", "json"]);
    json.assert_ok();
    let policies = &json.json()["policies"][0];
    assert_eq!(policies["name"], "few_changes");
    assert_eq!(policies["enforce"], "advisory");
    assert_eq!(policies["status"], "fail");
    assert_eq!(policies["messages"][0], "only 1 change(s)");
    let markdown = p.imm(&["plan", "--format", "markdown"]);
    markdown.assert_ok();
    assert!(
        markdown
            .stdout
            .contains("| `few_changes` | advisory | **fail**: only 1 change(s) |"),
        "{}",
        markdown.all()
    );
}

#[test]
fn policies_come_from_a_directory_outside_the_project() {
    let policies = Project::new(&[(
        "pinned.imm",
        "policy \"out_only\" {\n  assert {\n    condition     = alltrue([for c in plan.changes : startswith(c.after.path, \"srv/\") if c.type == \"file\"])\n    error_message = \"files go under srv/\"\n  }\n}\n",
    )]);
    let p = Project::new(&[(
        "main.imm",
        "resource \"file\" \"a\" {\n  path    = \"out/a.txt\"\n  content = \"x\"\n}\n",
    )]);
    let dir = policies.path().to_string_lossy().into_owned();
    let plan = p.imm(&["plan", "--policy", &dir]);
    plan.assert_code(3);
    assert!(
        plan.stdout
            .contains("policy \"out_only\" (mandatory): fail — files go under srv/"),
        "{}",
        plan.all()
    );
    p.imm(&["plan"]).assert_ok();
    // A policy directory holds nothing but policies.
    std::fs::write(policies.file("stray.imm"), "locals {\n  x = 1\n}\n").expect("write");
    p.imm(&["plan", "--policy", &dir])
        .assert_fails_with("E1004");
}

const TESTED: &str = r#"variable "n" {
  default = 3
  validation {
    condition = var.n >= 0
    message   = "n must not be negative"
  }
}

resource "file" "a" {
  path    = "out/a.txt"
  content = "n=${var.n}"
}

output "double" {
  value = var.n * 2
}

check "small" {
  assert {
    condition     = var.n < 10
    error_message = "n is large"
  }
}

policy "modest" {
  enforce = "advisory"
  assert {
    condition     = alltrue([for c in plan.changes : length(c.after.content) < 5 if c.type == "file"])
    error_message = "the file is long"
  }
}
"#;

const TEST_FILE: &str = r#"run "plans" {
  command = plan
  assert {
    condition     = output.double == 6 && file.a.content == "n=3"
    error_message = "unexpected values"
  }
}

run "refuses_negative" {
  command = plan
  variables {
    n = -1
  }
  expect_failures = [var.n]
}

run "wrong_on_purpose" {
  command = plan
  assert {
    condition     = output.double == 7
    error_message = "double is ${output.double}"
  }
}

run "warnings_expected" {
  command = plan
  variables {
    n = 12345
  }
  expect_failures = [check.small, policy.modest]
}

run "applies" {
  command = apply
  variables {
    n = 5
  }
  assert {
    condition     = file.a.sha256 != ""
    error_message = "no checksum"
  }
}
"#;

#[test]
fn imm_test_runs_plans_and_expected_failures_and_writes_junit_xml() {
    let p = Project::new(&[("main.imm", TESTED), ("tests/basic.imm", TEST_FILE)]);
    let run = p.imm(&["test", "--junit-xml", "junit.xml"]);
    run.assert_code(1);
    assert!(
        run.stdout.contains("run \"plans\"... pass"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout.contains("run \"refuses_negative\"... pass"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout.contains("run \"wrong_on_purpose\"... fail"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout.contains("assert failed: double is 6"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout.contains("run \"applies\"... pass"),
        "{}",
        run.all()
    );
    assert!(
        run.stderr.contains("E1005")
            && run
                .stderr
                .contains("1 run(s) failed: tests/basic.imm run \"wrong_on_purpose\""),
        "the failure is a coded diagnostic naming the run: {}",
        run.all()
    );
    assert!(!p.file("out").exists(), "the project itself is untouched");
    assert!(!p.file(".imm").exists(), "the project's state is untouched");
    let xml = std::fs::read_to_string(p.file("junit.xml")).expect("junit.xml");
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .expect("a testsuite");
    assert_eq!(suite.attribute("name"), Some("tests/basic.imm"));
    assert_eq!(suite.attribute("tests"), Some("5"));
    assert_eq!(suite.attribute("failures"), Some("1"));
    assert_eq!(suite.attribute("errors"), Some("0"));
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 5);
    let failed: Vec<&str> = cases
        .iter()
        .filter(|c| c.children().any(|f| f.has_tag_name("failure")))
        .filter_map(|c| c.attribute("name"))
        .collect();
    assert_eq!(failed, ["wrong_on_purpose"]);
    // --filter runs only the runs named.
    let filtered = p.imm(&["test", "--filter", "plans"]);
    filtered.assert_ok();
    assert!(
        !filtered.stdout.contains("wrong_on_purpose"),
        "{}",
        filtered.all()
    );
}

const CONTAINER: &str = r#"variable "word" {
  default = "ok"
}

resource "docker_image" "base" {
  name = "PFX-base"
  build {
    context = "./base"
  }
}

resource "docker_container" "app" {
  image   = docker_image.base.id
  name    = "app"
  command = ["sleep", "600"]
  runtime {
    env = { WORD = var.word }
  }
  lifecycle {
    postcondition {
      condition     = self.id != "" && var.word == "ok"
      error_message = "the word is ${var.word}"
    }
  }
}
"#;

const CONTAINER_TESTS: &str = r#"run "runs_a_container" {
  assert {
    condition     = docker_container.app.id != ""
    error_message = "no container id"
  }
}

run "fails_after_creating" {
  variables {
    word = "bad"
  }
  assert {
    condition     = true
    error_message = "never reached"
  }
}
"#;

/// Removes what a test run left under the copy's name, whatever happened.
struct TestCopyCleanup(String);

impl Drop for TestCopyCleanup {
    fn drop(&mut self) {
        let filter = format!("label=imm.project={}", self.0);
        let ids = docker(&["ps", "-aq", "--filter", &filter]).stdout;
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids);
            docker(&args);
        }
    }
}

#[test]
fn imm_test_applies_on_docker_and_tears_down_after_a_failed_run() {
    let project = docker_project(CONTAINER);
    let copy_label = format!("{}-test", project.label);
    let _cleanup = TestCopyCleanup(copy_label.clone());
    std::fs::create_dir_all(project.project.file("tests")).expect("tests dir");
    std::fs::write(project.project.file("tests/docker.imm"), CONTAINER_TESTS).expect("write tests");
    let run = project.imm(&["test"]);
    run.assert_code(1);
    assert!(
        run.stdout.contains("run \"runs_a_container\"... pass"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout.contains("run \"fails_after_creating\"... fail"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout.contains("E1002") && run.stdout.contains("the word is bad"),
        "judged after the container exists: {}",
        run.all()
    );
    let filter = format!("label=imm.project={copy_label}");
    let left = docker(&["ps", "-aq", "--filter", &filter]).stdout;
    assert!(
        left.trim().is_empty(),
        "the teardown removed every container: {left}"
    );
    let images = docker(&["images", "--format", "{{.Repository}}"]).stdout;
    let prefix = format!("imm/{}-test/", project.prefix);
    assert!(
        !images.lines().any(|i| i.starts_with(&prefix)),
        "the teardown removed the image: {images}"
    );
}

const GUARDED: &str = r#"variable "level" {
  default = "info"
}

resource "file" "a" {
  path    = "out/a.txt"
  content = "hello"
}

resource "config" "app" {
  values = { level = var.level }
}

policy "files_stay" {
  assert {
    condition     = alltrue([for c in plan.changes : c.action != "destroy" if c.type == "file"])
    error_message = "files are never destroyed in ${plan.environment}"
  }
}

policy "config_is_reviewed" {
  assert {
    condition     = alltrue([for c in plan.changes : c.action != "reconfigure" if c.type == "config"])
    error_message = "a change of config.app needs a review"
  }
}
"#;

fn config_revision(p: &Project) -> u64 {
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.file(".imm/state/default.json")).expect("state"),
    )
    .expect("json");
    state["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["address"] == "config.app"))
        .and_then(|r| r["outs"]["revision"].as_u64())
        .expect("config.app's revision")
}

#[test]
fn a_mandatory_policy_refuses_destroy_unless_overridden() {
    let p = Project::new(&[("main.imm", GUARDED)]);
    p.imm(&["apply", "--auto-approve"]).assert_ok();
    let destroy = p.imm(&["destroy", "--auto-approve"]);
    destroy.assert_fails_with("E1003");
    assert!(
        destroy
            .all()
            .contains("files are never destroyed in default"),
        "{}",
        destroy.all()
    );
    assert!(
        destroy.all().contains("--override-policy files_stay"),
        "the help names the override: {}",
        destroy.all()
    );
    assert!(p.file("out/a.txt").exists(), "nothing was destroyed");
    p.imm(&[
        "destroy",
        "--auto-approve",
        "--override-policy",
        "files_stay",
    ])
    .assert_ok();
    assert!(!p.file("out/a.txt").exists());
}

#[test]
fn a_rollback_is_judged_by_policies_as_an_apply_is() {
    let p = Project::new(&[("main.imm", GUARDED)]);
    p.imm(&["apply", "--auto-approve"]).assert_ok();
    let first = config_revision(&p).to_string();
    p.imm(&["apply", "--auto-approve", "--var", "level=debug"])
        .assert_fails_with("E1003");
    p.imm(&[
        "apply",
        "--auto-approve",
        "--var",
        "level=debug",
        "--override-policy",
        "config_is_reviewed",
    ])
    .assert_ok();
    let refused = p.imm(&[
        "config",
        "rollback",
        "app",
        &first,
        "--var",
        "level=debug",
        "--auto-approve",
    ]);
    refused.assert_fails_with("E1003");
    assert!(
        refused
            .all()
            .contains("a change of config.app needs a review"),
        "{}",
        refused.all()
    );
    p.imm(&[
        "config",
        "rollback",
        "app",
        &first,
        "--var",
        "level=debug",
        "--auto-approve",
        "--override-policy",
        "config_is_reviewed",
    ])
    .assert_ok()
    .assert_stdout_contains("\"debug\" → \"info\"");
}

const ADDRESSED: &str = r#"variable "n" {
  default = 3
}

resource "file" "a" {
  path    = "out/a.txt"
  content = "n=${var.n}"
  lifecycle {
    precondition {
      condition     = var.n < 5
      error_message = "ERROR_MESSAGE"
    }
  }
}

output "double" {
  value = var.n * 2
  precondition {
    condition     = var.n != 4
    error_message = "ERROR_MESSAGE"
  }
}
"#;

const ADDRESSED_TESTS: &str = r#"run "resource_fails" {
  command = plan
  variables {
    n = 6
  }
  expect_failures = [file.a]
}

run "output_fails" {
  command = plan
  variables {
    n = 4
  }
  expect_failures = [output.double]
}

run "the_other_one_fails" {
  command = plan
  variables {
    n = 6
  }
  expect_failures = [output.double]
}
"#;

#[test]
fn expect_failures_match_by_address_whatever_the_message_says() {
    for message in ["n: too big: lower it", "var.n failed: output.double"] {
        let main = ADDRESSED.replace("ERROR_MESSAGE", message);
        let p = Project::new(&[
            ("main.imm", &main),
            ("tests/addressed.imm", ADDRESSED_TESTS),
        ]);
        let run = p.imm(&["test"]);
        run.assert_code(1);
        for passed in ["resource_fails", "output_fails"] {
            assert!(
                run.stdout.contains(&format!("run \"{passed}\"... pass")),
                "with error_message {message:?}: {}",
                run.all()
            );
        }
        assert!(
            run.stdout.contains("run \"the_other_one_fails\"... fail"),
            "{}",
            run.all()
        );
        assert!(
            run.stdout
                .contains("output.double was expected to fail, and did not")
                && run
                    .stdout
                    .contains("file.a failed, which the run does not expect"),
            "{}",
            run.all()
        );
    }
}

#[test]
fn an_environments_policy_dirs_are_judged_on_every_plan() {
    let main = "environment \"default\" {\n  policy_dirs = [\"policies\"]\n}\n\nresource \"file\" \"a\" {\n  path    = \"out/a.txt\"\n  content = \"x\"\n}\n";
    let policy = "policy \"no_out\" {\n  assert {\n    condition     = alltrue([for c in plan.changes : !startswith(c.after.path, \"out/\") if c.type == \"file\"])\n    error_message = \"nothing goes to out/\"\n  }\n}\n";
    let p = Project::new(&[("main.imm", main), ("policies/team.imm", policy)]);
    let plan = p.imm(&["plan"]);
    plan.assert_code(3);
    assert!(
        plan.stdout
            .contains("policy \"no_out\" (mandatory): fail — nothing goes to out/"),
        "{}",
        plan.all()
    );
    p.imm(&["apply", "--auto-approve"])
        .assert_fails_with("E1003");
    assert!(!p.file("out/a.txt").exists());
}
