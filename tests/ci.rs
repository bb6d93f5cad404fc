//! `scripts/ci.sh`, the steps the CI recipes of `docs/ci/` call, run end
//! to end with the real binary: plan with a saved plan and its Markdown,
//! apply of exactly that plan, a stale saved plan refused, a drift check
//! that exits 2.

mod common;

use common::Project;
use std::path::Path;
use std::process::Command;

const PROJECT: &str = r#"
variable "greeting" {
  type    = string
  default = "hello"
}

environment "staging" {}

environment "prod" {
  protected = true
}

resource "file" "page" {
  path    = "out/${env.name}.txt"
  content = "${var.greeting} from ${env.name}\n"
}
"#;

/// `scripts/ci.sh ARGS` in the project's directory, with imm on PATH.
fn ci(p: &Project, args: &[&str], env: &[(&str, &str)]) -> common::Run {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ci.sh");
    let mut command = Command::new("bash");
    command
        .arg(script)
        .args(args)
        .current_dir(p.path())
        .env("IMM", env!("CARGO_BIN_EXE_imm"))
        .env("NO_COLOR", "1");
    for (k, v) in env {
        command.env(k, v);
    }
    common::Run::from(command.output().expect("run scripts/ci.sh"))
}

#[test]
fn the_ci_steps_plan_apply_the_saved_plan_refuse_a_stale_one_and_detect_drift() {
    let p = Project::new(&[("infra/main.imm", PROJECT)]);

    // Review: a saved plan, its Markdown, and whether it changes anything.
    ci(&p, &["plan", "infra", "staging", "out/staging"], &[]).assert_ok();
    assert_eq!(
        std::fs::read_to_string(p.file("out/staging/changes")).expect("changes"),
        "yes\n"
    );
    let markdown = std::fs::read_to_string(p.file("out/staging/plan.md")).expect("markdown");
    assert!(
        markdown.contains("file.page"),
        "the comment names the change: {markdown}"
    );
    assert!(
        !p.file("infra/out/staging.txt").exists(),
        "a plan changes nothing"
    );

    // Merge: exactly the reviewed plan.
    ci(&p, &["apply", "out/staging/plan.json"], &[]).assert_ok();
    assert_eq!(
        std::fs::read_to_string(p.file("infra/out/staging.txt")).expect("applied"),
        "hello from staging\n"
    );
    ci(&p, &["plan", "infra", "staging", "out/again"], &[]).assert_ok();
    assert_eq!(
        std::fs::read_to_string(p.file("out/again/changes")).expect("changes"),
        "no\n"
    );

    // A plan reviewed before someone else's change is refused.
    ci(
        &p,
        &["plan", "infra", "staging", "out/old"],
        &[("IMM_VAR_greeting", "bonjour")],
    )
    .assert_ok();
    std::fs::write(
        p.file("infra/main.imm"),
        PROJECT.replace("from ${env.name}", "from ${env.name}!"),
    )
    .expect("edit");
    ci(
        &p,
        &["apply", "out/old/plan.json"],
        &[("IMM_VAR_greeting", "bonjour")],
    )
    .assert_fails_with("E0703");
    assert_eq!(
        std::fs::read_to_string(p.file("infra/out/staging.txt")).expect("unchanged"),
        "hello from staging\n",
        "a stale plan changes nothing"
    );

    // A protected environment needs the approval's --yes-really.
    ci(&p, &["plan", "infra", "prod", "out/prod"], &[]).assert_ok();
    ci(&p, &["apply", "out/prod/plan.json"], &[]).assert_fails_with("E0804");
    ci(&p, &["apply", "out/prod/plan.json", "--yes-really"], &[]).assert_ok();

    // Drift: in sync is 0; a file changed behind imm's back is 2.
    ci(&p, &["drift", "infra", "prod"], &[]).assert_code(0);
    std::fs::write(p.file("infra/out/prod.txt"), "edited by hand\n").expect("drift");
    let drift = ci(&p, &["drift", "infra", "prod"], &[]);
    drift.assert_code(2);
    assert!(drift.all().contains("drift"), "{}", drift.all());
}

#[test]
fn the_ci_recipes_call_the_script_steps() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for recipe in ["docs/ci/github-actions.yml", "docs/ci/gitlab-ci.yml"] {
        let text = std::fs::read_to_string(root.join(recipe)).expect("recipe");
        for step in [
            "scripts/ci.sh plan",
            "scripts/ci.sh apply",
            "scripts/ci.sh drift",
            "plan.md",
            "--yes-really",
        ] {
            assert!(text.contains(step), "{recipe} uses `{step}`");
        }
    }
}
