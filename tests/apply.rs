//! The whole cycle with the real binary and the executors that need no
//! daemon: plan → apply → state → re-plan, for `file` and `exec`
//! resources. Build-input, run-time and removal changes, drift, saved plans
//! and their staleness, locks, corrupt state, state repair, destroy, a
//! failing command, an apply killed mid-way, and secrets kept out of
//! everything imm writes or prints.

mod common;
use common::{Project, Run, Seeded};
use std::time::{Duration, Instant};

const TOKEN: &str = "tok-7f3a9c1e-never-print";

const PROJECT: &str = r#"
variable "greeting" {
  type    = string
  default = "hello"
}

variable "level" {
  type    = string
  default = "info"
}

secret "token" {
  from = "env:TOKEN"
}

resource "exec" "artifact" {
  build {
    inputs = { greeting = var.greeting }
  }
  create  = ["sh", "-c", "echo create-${var.greeting} >> log.txt && echo '{\"made\": \"v-${var.greeting}\"}'"]
  destroy = ["sh", "-c", "echo destroy >> log.txt"]
  runtime {
    env = { TOKEN = secret.token }
  }
}

resource "file" "page" {
  path    = "out/page.txt"
  content = "${var.greeting} from ${exec.artifact.outputs.made}\nlevel=${var.level}\n"
}

resource "file" "extra" {
  path    = "out/extra.txt"
  content = "extra"
  mode    = "0600"
}

output "page_sum" {
  value = file.page.sha256
}
"#;

fn project() -> Project {
    Project::new(&[("main.imm", PROJECT)])
}

fn imm(p: &Project, args: &[&str]) -> Run {
    p.imm_with_env(args, &[("TOKEN", TOKEN)])
}

fn read(p: &Project, name: &str) -> String {
    std::fs::read_to_string(p.file(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn state(p: &Project) -> serde_json::Value {
    serde_json::from_str(&read(p, ".imm/state/default.json")).expect("state JSON")
}

fn change<'a>(plan: &'a serde_json::Value, address: &str) -> &'a serde_json::Value {
    plan["changes"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["address"] == address))
        .unwrap_or_else(|| panic!("{address} in {plan}"))
}

fn plan_json(p: &Project, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["plan", "--format", "json"];
    args.extend(extra);
    let run = imm(p, &args);
    run.assert_ok();
    run.json()
}

#[test]
fn apply_then_replan_is_a_no_op_and_state_records_what_exists() {
    let p = project();
    let run = imm(&p, &["apply", "--auto-approve"]);
    run.assert_ok().assert_stdout_contains(
        "Apply complete! Resources: 3 created, 0 replaced, 0 reconfigured, 0 destroyed.",
    );
    assert_eq!(read(&p, "out/page.txt"), "hello from v-hello\nlevel=info\n");
    assert_eq!(read(&p, "log.txt"), "create-hello\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(p.file("out/extra.txt"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let recorded = state(&p);
    assert_eq!(recorded["serial"], 1);
    let addresses: Vec<&str> = recorded["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|r| r["address"].as_str())
        .collect();
    assert_eq!(addresses, vec!["exec.artifact", "file.page", "file.extra"]);
    assert_eq!(
        recorded["resources"][0]["outs"]["outputs"],
        serde_json::json!({"made": "v-hello"})
    );
    assert_eq!(
        recorded["resources"][1]["dependencies"],
        serde_json::json!(["exec.artifact"])
    );
    assert_eq!(recorded["artifacts"][0]["address"], "exec.artifact");
    assert!(
        !p.file(".imm/state/default.journal").exists(),
        "the journal is folded in"
    );

    imm(&p, &["plan", "--detailed-exitcode"])
        .assert_code(0)
        .assert_stdout_contains("No changes.");
    let output = imm(&p, &["output", "page_sum", "--json"]);
    assert_eq!(
        output.stdout.trim(),
        format!("\"{}\"", sha256_hex(b"hello from v-hello\nlevel=info\n"))
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn a_build_input_change_rebuilds_then_replaces_and_destroys_the_old_last() {
    let p = project();
    imm(&p, &["apply", "--auto-approve"]).assert_ok();
    let plan = plan_json(&p, &["--var", "greeting=hi"]);
    let artifact = change(&plan, "exec.artifact");
    assert_eq!(artifact["action"], "replace");
    assert_eq!(
        artifact["reasons"],
        serde_json::json!([
            "build changed (inputs.greeting)",
            "runtime changed (create[2])"
        ])
    );
    assert_eq!(
        change(&plan, "file.page")["reasons"],
        serde_json::json!(["artifact rebuilt (exec.artifact)"])
    );
    assert_eq!(change(&plan, "file.extra")["action"], "noop");
    assert_eq!(plan["summary"]["replace"], 2);
    imm(&p, &["plan", "--var", "greeting=hi", "--detailed-exitcode"]).assert_code(2);

    imm(&p, &["apply", "--auto-approve", "--var", "greeting=hi"])
        .assert_ok()
        .assert_stdout_contains("0 created, 2 replaced");
    assert_eq!(
        read(&p, "log.txt"),
        "create-hello\ncreate-hi\ndestroy\n",
        "the new object is created before the old one is destroyed"
    );
    assert_eq!(read(&p, "out/page.txt"), "hi from v-hi\nlevel=info\n");
    imm(&p, &["plan", "--var", "greeting=hi", "--detailed-exitcode"]).assert_code(0);
}

#[test]
fn a_runtime_change_replaces_only_what_it_reaches() {
    let p = project();
    imm(&p, &["apply", "--auto-approve"]).assert_ok();
    let plan = plan_json(&p, &["--var", "level=debug"]);
    assert_eq!(change(&plan, "exec.artifact")["action"], "noop");
    assert_eq!(
        change(&plan, "file.page")["reasons"],
        serde_json::json!(["runtime changed (content)"])
    );
    let human = imm(&p, &["plan", "--var", "level=debug"]);
    human
        .assert_ok()
        .assert_stdout_contains("  - level=info\n")
        .assert_stdout_contains("  + level=debug\n")
        .assert_stdout_contains(
            "Plan: 0 to build, 1 to replace, 0 to create, 0 to destroy, 0 to reconfigure.",
        );
    imm(&p, &["apply", "--auto-approve", "--var", "level=debug"]).assert_ok();
    assert_eq!(read(&p, "log.txt"), "create-hello\n", "nothing rebuilt");
    assert_eq!(
        read(&p, "out/page.txt"),
        "hello from v-hello\nlevel=debug\n"
    );
}

#[test]
fn a_removed_resource_is_destroyed_and_drift_is_repaired() {
    let p = project();
    imm(&p, &["apply", "--auto-approve"]).assert_ok();
    let trimmed = PROJECT.replace(
        "resource \"file\" \"extra\" {\n  path    = \"out/extra.txt\"\n  content = \"extra\"\n  mode    = \"0600\"\n}\n",
        "",
    );
    std::fs::write(p.file("main.imm"), trimmed).expect("write");
    let plan = plan_json(&p, &[]);
    assert_eq!(change(&plan, "file.extra")["action"], "destroy");
    imm(&p, &["apply", "--auto-approve"])
        .assert_ok()
        .assert_stdout_contains("1 destroyed");
    assert!(!p.file("out/extra.txt").exists());
    let list = imm(&p, &["state", "list"]);
    assert_eq!(list.stdout, "exec.artifact\nfile.page\n");

    std::fs::remove_file(p.file("out/page.txt")).expect("rm");
    let plan = plan_json(&p, &[]);
    let reasons = change(&plan, "file.page")["reasons"].to_string();
    assert!(
        reasons.contains("drifted (") && reasons.contains("page.txt is missing"),
        "{reasons}"
    );
    let no_refresh = plan_json(&p, &["--refresh=false"]);
    assert_eq!(change(&no_refresh, "file.page")["action"], "noop");
    imm(&p, &["apply", "--auto-approve"]).assert_ok();
    assert_eq!(read(&p, "out/page.txt"), "hello from v-hello\nlevel=info\n");
}

#[test]
fn a_saved_plan_applies_as_reviewed_and_a_stale_one_is_refused() {
    let p = project();
    imm(&p, &["plan", "--out", "first.plan"]).assert_ok();
    let shown = imm(&p, &["show", "first.plan", "--format", "json"]);
    assert_eq!(shown.json()["summary"]["create"], 3);
    imm(&p, &["apply", "first.plan"])
        .assert_ok()
        .assert_stdout_contains("3 created");

    // State moved on since the plan was made.
    imm(&p, &["plan", "--out", "second.plan", "--var", "level=warn"]).assert_ok();
    imm(&p, &["apply", "--auto-approve", "--var", "level=debug"]).assert_ok();
    imm(&p, &["apply", "second.plan"])
        .assert_fails_with("E0703")
        .assert_fails_with("state changed since it was made (serial 1 then, 2 now)");

    // The configuration changed since the plan was made.
    imm(
        &p,
        &[
            "plan",
            "--out",
            "third.plan",
            "--var",
            "level=debug",
            "--replace",
            "file.extra",
        ],
    )
    .assert_ok();
    let edited = PROJECT.replace("content = \"extra\"", "content = \"extra!\"");
    std::fs::write(p.file("main.imm"), edited).expect("write");
    imm(&p, &["apply", "third.plan"])
        .assert_fails_with("E0703")
        .assert_fails_with("configuration or its inputs");
    assert_eq!(read(&p, "out/extra.txt"), "extra", "nothing applied");

    std::fs::write(p.file("broken.plan"), "{\"imm_plan_file\": 1").expect("write");
    imm(&p, &["show", "broken.plan"]).assert_fails_with("E0704");
    imm(&p, &["apply", "broken.plan"]).assert_fails_with("is not an imm plan file");
}

#[test]
fn locks_corrupt_state_and_state_repair() {
    let p = project();
    imm(&p, &["apply", "--auto-approve"]).assert_ok();
    std::fs::write(
        p.file(".imm/state/default.lock"),
        r#"{"id":"lock-123","holder":"ci@runner","pid":1,"created":0,"operation":"apply"}"#,
    )
    .expect("write");
    imm(&p, &["plan"])
        .assert_fails_with("E0604")
        .assert_fails_with("ci@runner")
        .assert_fails_with("imm force-unlock lock-123");
    imm(&p, &["apply", "--auto-approve", "--var", "level=x"]).assert_fails_with("E0604");
    imm(&p, &["force-unlock", "other"]).assert_fails_with("has id lock-123, not other");
    imm(&p, &["force-unlock", "lock-123"]).assert_ok();
    imm(&p, &["plan"]).assert_ok();

    let shown = imm(&p, &["state", "show", "file.page"]);
    shown.assert_ok();
    assert_eq!(
        shown.json()["outs"]["sha256"].as_str().map(str::len),
        Some(64)
    );
    imm(&p, &["state", "show", "file.pgae"])
        .assert_fails_with("E0702")
        .assert_fails_with("did you mean file.page");
    imm(&p, &["state", "rm", "file.extra"])
        .assert_ok()
        .assert_stdout_contains("The objects themselves were not touched");
    assert!(p.file("out/extra.txt").exists());
    assert_eq!(
        change(&plan_json(&p, &[]), "file.extra")["action"],
        "create"
    );

    let good = read(&p, ".imm/state/default.json");
    std::fs::write(p.file(".imm/state/default.json"), &good[..good.len() / 2]).expect("truncate");
    imm(&p, &["plan"])
        .assert_fails_with("E0603")
        .assert_fails_with("is corrupt");
    imm(&p, &["apply", "--auto-approve"]).assert_fails_with("is corrupt");
    imm(&p, &["state", "list"]).assert_fails_with("is corrupt");
    assert_eq!(
        read(&p, ".imm/state/default.json").len(),
        good.len() / 2,
        "a corrupt state is never overwritten"
    );
}

#[test]
fn applying_needs_confirmation_or_auto_approve() {
    let p = project();
    imm(&p, &["apply"])
        .assert_fails_with("stdin is not a terminal")
        .assert_fails_with("--auto-approve");
    assert!(!p.file("out").exists());
    assert!(!p.file(".imm/state/default.json").exists());
}

#[test]
fn destroy_removes_everything_the_state_records() {
    let p = project();
    imm(&p, &["apply", "--auto-approve"]).assert_ok();
    imm(&p, &["destroy", "--auto-approve"])
        .assert_ok()
        .assert_stdout_contains("3 destroyed");
    assert!(!p.file("out/page.txt").exists() && !p.file("out/extra.txt").exists());
    assert_eq!(read(&p, "log.txt"), "create-hello\ndestroy\n");
    assert_eq!(state(&p)["resources"], serde_json::json!([]));
    imm(&p, &["destroy", "--auto-approve"])
        .assert_ok()
        .assert_stdout_contains("Nothing to destroy");
}

const FAILING: &str = r#"
secret "token" {
  from = "env:TOKEN"
}

resource "exec" "broken" {
  create = ["sh", "-c", "echo \"cannot reach the server with $TOKEN\" >&2; exit 3"]
  runtime {
    env = { TOKEN = secret.token }
  }
}

resource "file" "after_broken" {
  path    = "out/after.txt"
  content = "${exec.broken.id}"
}

resource "file" "independent" {
  path    = "out/independent.txt"
  content = "fine"
}
"#;

#[test]
fn a_failing_command_stops_what_depends_on_it_and_state_stays_true() {
    let p = Project::new(&[("main.imm", FAILING)]);
    let run = imm(&p, &["apply", "--auto-approve"]);
    run.assert_fails_with("E0819")
        .assert_fails_with("exec.broken: the create command")
        .assert_fails_with("exit status 3")
        .assert_fails_with("cannot reach the server with (sensitive)")
        .assert_fails_with(
            "not attempted because something they wait for failed: file.after_broken",
        );
    assert!(!run.all().contains(TOKEN));
    assert!(p.file("out/independent.txt").exists());
    assert!(!p.file("out/after.txt").exists());
    let list = imm(&p, &["state", "list"]);
    assert_eq!(
        list.stdout, "file.independent\n",
        "state records exactly what exists"
    );
    assert!(!common::text_under(&p.file(".imm")).contains(TOKEN));
}

#[test]
fn secrets_reach_commands_but_nothing_imm_writes_or_prints() {
    let p = Project::new(&[(
        "main.imm",
        "secret \"token\" {\n  from = \"env:TOKEN\"\n}\n\nresource \"exec\" \"uses\" {\n  create = [\"sh\", \"-c\", \"printf %s \\\"$TOKEN\\\" > seen.txt; echo \\\"{\\\\\\\"echo\\\\\\\": \\\\\\\"$TOKEN\\\\\\\"}\\\"\"]\n  runtime {\n    env = { TOKEN = secret.token }\n  }\n}\n",
    )]);
    let printed = p.everything_printed(
        &[("TOKEN", TOKEN)],
        &[
            &["state", "show", "exec.uses"],
            &["plan", "--format", "json"],
        ],
    );
    assert_eq!(read(&p, "seen.txt"), TOKEN, "the command got the secret");
    assert!(!printed.contains(TOKEN), "{printed}");
    assert!(!read(&p, "saved.plan").contains(TOKEN));
    let written = common::text_under(&p.file(".imm"));
    assert!(!written.contains(TOKEN));
    assert!(written.contains("(sensitive)"));
    // A changed secret is still detected through its keyed hash.
    let run = p.imm_with_env(&["plan", "--format", "json"], &[("TOKEN", "another-token")]);
    assert_eq!(
        change(&run.json(), "exec.uses")["reasons"],
        serde_json::json!(["runtime changed (env.TOKEN)"])
    );
}

#[test]
fn an_apply_killed_midway_leaves_state_true_and_the_next_run_carries_on() {
    let p = Project::new(&[(
        "main.imm",
        "resource \"file\" \"first\" {\n  path    = \"out/first.txt\"\n  content = \"1\"\n}\n\nresource \"exec\" \"slow\" {\n  create = [\"sh\", \"-c\", \"sleep 30\"]\n  depends_on = [file.first]\n}\n",
    )]);
    let mut child = p.spawn_imm(&["apply", "--auto-approve"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !p.file("out/first.txt").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Let the journal entry of the finished step land, then kill mid-step.
    std::thread::sleep(Duration::from_millis(300));
    child.kill().expect("kill");
    let _ = child.wait();
    assert!(
        p.file(".imm/state/default.journal").exists(),
        "the journal survives the kill"
    );
    assert!(
        p.file(".imm/state/default.lock").exists(),
        "the killed run left its lock"
    );

    let fast = std::fs::read_to_string(p.file("main.imm"))
        .expect("read")
        .replace("sleep 30", "true");
    std::fs::write(p.file("main.imm"), fast).expect("write");
    let run = p.imm(&["plan", "--format", "json"]);
    run.assert_ok();
    assert!(
        run.stderr.contains("was taken over"),
        "the dead run's lock is taken over, no force-unlock: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("an earlier apply was interrupted"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("exec.slow"), "{}", run.stderr);
    let plan = run.json();
    assert_eq!(
        change(&plan, "file.first")["action"],
        "noop",
        "the finished step is in state"
    );
    assert_eq!(change(&plan, "exec.slow")["action"], "create");
    p.imm(&["apply", "--auto-approve"]).assert_ok();
    assert_eq!(p.imm(&["state", "list"]).stdout, "file.first\nexec.slow\n");
}

#[test]
fn ctrl_c_lets_running_steps_finish_starts_nothing_new_and_saves_state() {
    let p = Project::new(&[(
        "main.imm",
        "resource \"exec\" \"slow\" {\n  create = [\"sh\", \"-c\", \"touch started; sleep 1; echo done > slow.txt\"]\n}\n\nresource \"file\" \"after\" {\n  path       = \"out/after.txt\"\n  content    = \"x\"\n  depends_on = [exec.slow]\n}\n",
    )]);
    let child = p.spawn_imm(&["apply", "--auto-approve"]);
    // Interrupt while the step runs (however long imm took to get there).
    let deadline = Instant::now() + Duration::from_secs(20);
    while !p.file("started").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let signalled = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(signalled.success());
    let output = child.wait_with_output().expect("wait");
    let run = Run::from(output);
    run.assert_fails_with("interrupted before starting: file.after");
    assert!(
        run.stderr.contains("Interrupted: no new step starts"),
        "{}",
        run.stderr
    );
    assert!(p.file("slow.txt").exists(), "the running step finished");
    assert!(!p.file("out/after.txt").exists(), "nothing new started");
    assert_eq!(p.imm(&["state", "list"]).stdout, "exec.slow\n");
    assert!(!p.file(".imm/state/default.journal").exists());
    assert!(
        !p.file(".imm/state/default.lock").exists(),
        "the lock is released"
    );
}

#[test]
fn a_missing_secret_file_stops_everything_before_any_change() {
    let p = Project::new(&[(
        "main.imm",
        "secret \"key\" {\n  from = \"file:secrets/key.txt\"\n}\n\nresource \"file\" \"before\" {\n  path    = \"out/before.txt\"\n  content = \"x\"\n}\n\nresource \"exec\" \"uses\" {\n  create = [\"true\"]\n  runtime {\n    env = { KEY = secret.key }\n  }\n}\n",
    )]);
    p.imm(&["apply", "--auto-approve"])
        .assert_fails_with("E0406")
        .assert_fails_with("cannot read secrets/key.txt");
    assert!(!p.file("out/before.txt").exists(), "nothing was changed");
    assert!(!p.file(".imm/state/default.json").exists());
}

#[test]
fn protected_in_any_expression_form_refuses_like_the_literal() {
    // Environment attributes may not refer to other values (E0201), so
    // these are the expression forms they can take.
    for form in [
        "true",
        "(true)",
        "!false",
        "true && !false",
        "\"yes\" == \"yes\"",
    ] {
        let text = format!(
            "environment \"prod\" {{\n  protected = {form}\n}}\n\nresource \"file\" \"a\" {{\n  path    = \"out/a.txt\"\n  content = \"a\"\n}}\n"
        );
        let p = Project::new(&[("main.imm", &text)]);
        p.imm(&["validate"]).assert_ok();
        p.imm(&["apply", "--env", "prod", "--auto-approve"])
            .assert_fails_with("environment \"prod\" is protected");
        assert!(
            !p.file("out/a.txt").exists(),
            "protected = {form}: nothing was changed"
        );
        p.imm(&["apply", "--env", "prod", "--auto-approve", "--yes-really"])
            .assert_ok();
        assert!(
            p.file("out/a.txt").exists(),
            "protected = {form}: --yes-really applies"
        );
    }
    let unprotected = "environment \"dev\" {\n  protected = !true\n}\n\nresource \"file\" \"a\" {\n  path    = \"out/a.txt\"\n  content = \"a\"\n}\n";
    let p = Project::new(&[("main.imm", unprotected)]);
    p.imm(&["apply", "--env", "dev", "--auto-approve"])
        .assert_ok();
}

#[test]
fn a_map_merged_with_a_secret_converges_and_shows_its_plain_keys() {
    let config = |level: &str| {
        format!("secret \"pw\" {{\n  from = \"env:PW\"\n}}\n\nresource \"config\" \"app\" {{\n  values = merge({{ LOG_LEVEL = \"{level}\" }}, {{ DB_PASSWORD = secret.pw }})\n}}\n")
    };
    let p = Project::new(&[("main.imm", &config("info"))]);
    let env = [("PW", TOKEN)];
    p.imm_with_env(&["apply", "--auto-approve"], &env)
        .assert_ok();
    p.imm_with_env(&["plan", "--detailed-exitcode"], &env)
        .assert_code(0)
        .assert_stdout_contains("No changes");
    p.imm_with_env(&["apply", "--auto-approve"], &env)
        .assert_ok()
        .assert_stdout_contains("Nothing to do");

    std::fs::write(p.file("main.imm"), config("debug")).expect("write");
    let planned = p.imm_with_env(&["plan", "--format", "json"], &env);
    planned.assert_ok();
    let plan: serde_json::Value = serde_json::from_str(&planned.stdout).expect("plan JSON");
    let app = change(&plan, "config.app");
    assert_eq!(app["action"], "reconfigure");
    assert_eq!(app["changed"], serde_json::json!(["values.LOG_LEVEL"]));
    assert_eq!(app["after"]["values"]["LOG_LEVEL"], "debug");
    assert_eq!(app["after"]["values"]["DB_PASSWORD"], "(sensitive)");
    let human = p.imm_with_env(&["plan"], &env);
    human.assert_ok().assert_stdout_contains("LOG_LEVEL");
    assert!(!human.stdout.contains(TOKEN) && !planned.stdout.contains(TOKEN));
    p.imm_with_env(&["apply", "--auto-approve"], &env)
        .assert_ok();
    p.imm_with_env(&["plan", "--detailed-exitcode"], &env)
        .assert_code(0);
}

/// The state directory on a 1 MiB tmpfs in a mount namespace of its own
/// (root only, as CI runs): a first apply, then the disk filled so that
/// only the lock file fits, then an apply that must stop at the journal,
/// then the disk freed and the apply again.
const FULL_DISK_SCRIPT: &str = r#"
set -u
state="$PROJECT/.imm/state"
mkdir -p "$state"
mount -t tmpfs -o size=1m tmpfs "$state" || { echo "cannot mount a tmpfs" >&2; exit 90; }
cd "$PROJECT"
"$IMM" apply --auto-approve >first.out 2>&1; echo $? >first.code
cp main.two main.imm
i=0
while dd if=/dev/zero of="$state/fill$i" bs=4096 count=1 2>/dev/null; do i=$((i+1)); done
rm -f "$state/fill0"
"$IMM" apply --auto-approve >full.out 2>&1; echo $? >full.code
cp "$state/default.json" state-when-full.json
if test -e out/b.txt; then echo yes; else echo no; fi >b-when-full
rm -f "$state"/fill*
"$IMM" apply --auto-approve >freed.out 2>&1; echo $? >freed.code
"$IMM" plan --detailed-exitcode >replan.out 2>&1; echo $? >replan.code
"#;

#[cfg(unix)]
#[test]
fn a_journal_that_cannot_be_written_fails_the_apply_and_state_stays_true() {
    let one = "resource \"file\" \"a\" {\n  path    = \"out/a.txt\"\n  content = \"a\"\n}\n";
    let two = format!(
        "{one}\nresource \"file\" \"b\" {{\n  path    = \"out/b.txt\"\n  content = \"b\"\n}}\n"
    );
    let p = Project::new(&[("main.imm", one), ("main.two", &two)]);
    p.in_private_mounts(FULL_DISK_SCRIPT);
    let code = |name: &str| read(&p, &format!("{name}.code")).trim().to_string();
    assert_eq!(code("first"), "0", "{}", read(&p, "first.out"));
    let full = read(&p, "full.out");
    assert_eq!(code("full"), "1", "a full disk fails the apply:\n{full}");
    assert!(full.contains("cannot write the journal"), "{full}");
    assert!(full.contains("E0802"), "a stable code:\n{full}");
    assert_eq!(
        read(&p, "b-when-full").trim(),
        "no",
        "no step starts before its intent is journalled"
    );
    let when_full: serde_json::Value =
        serde_json::from_str(&read(&p, "state-when-full.json")).expect("state JSON");
    let recorded: Vec<&str> = when_full["resources"]
        .as_array()
        .map(|r| r.iter().filter_map(|r| r["address"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        recorded,
        vec!["file.a"],
        "state records exactly what exists"
    );
    assert_eq!(code("freed"), "0", "{}", read(&p, "freed.out"));
    assert_eq!(read(&p, "out/b.txt"), "b");
    assert_eq!(code("replan"), "0", "{}", read(&p, "replan.out"));
}

#[test]
fn a_lock_left_by_a_dead_run_on_this_host_is_taken_over_and_others_are_not() {
    let p = project();
    imm(&p, &["apply", "--auto-approve"]).assert_ok();
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    // A pid that no longer runs: a child that has exited and been reaped.
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("spawn true");
    let dead_pid = child.id();
    child.wait().expect("wait");
    let lock = p.file(".imm/state/default.lock");
    std::fs::write(
        &lock,
        format!(r#"{{"id":"dead-1","holder":"ci@{host}","pid":{dead_pid},"created":0,"operation":"apply","host":"{host}","started":1}}"#),
    )
    .expect("write lock");
    imm(&p, &["plan"])
        .assert_ok()
        .assert_stdout_contains("No changes");
    assert!(!lock.exists(), "the lock is released after the run");

    // A live holder on this host (this test's own process) is respected.
    let own = std::process::id();
    std::fs::write(
        &lock,
        format!(r#"{{"id":"live-1","holder":"ci@{host}","pid":{own},"created":0,"operation":"apply","host":"{host}"}}"#),
    )
    .expect("write lock");
    let refused = imm(&p, &["plan"]);
    refused.assert_fails_with("E0604");
    assert!(
        refused
            .stderr
            .lines()
            .any(|l| l.trim_start_matches(['│', ' ']).trim_end() == "imm force-unlock live-1"),
        "the command to release it stands on a line of its own:\n{}",
        refused.stderr
    );
    imm(&p, &["force-unlock", "live-1"]).assert_ok();

    // A lock file a killed run left empty: refused with an id force-unlock takes.
    std::fs::write(&lock, "").expect("write lock");
    imm(&p, &["plan"]).assert_fails_with("imm force-unlock unreadable");
    imm(&p, &["force-unlock", "unreadable"]).assert_ok();
    imm(&p, &["plan"]).assert_ok();
}

#[cfg(unix)]
#[test]
fn sigterm_during_an_apply_stops_cleanly_and_the_next_apply_converges() {
    let text = "resource \"exec\" \"slow\" {\n  create = [\"sh\", \"-c\", \"sleep 2; echo made > slow.txt\"]\n}\n\nresource \"file\" \"after\" {\n  path    = \"out/after.txt\"\n  content = \"${exec.slow.id}\"\n}\n";
    let p = Project::new(&[("main.imm", text)]);
    let child = p.spawn_imm(&["apply", "--auto-approve"]);
    let journal = p.file(".imm/state/default.journal");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !journal.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(killed.success());
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(
        output.status.code(),
        Some(0),
        "an interrupted apply is no success:\n{stderr}"
    );
    assert!(
        stderr.contains("interrupted before starting: file.after"),
        "the running step finished, the next one did not start:\n{stderr}"
    );
    assert!(p.file("slow.txt").exists(), "the running step finished");
    assert!(
        !p.file(".imm/state/default.lock").exists(),
        "the lock is released"
    );
    let recorded = state(&p);
    assert!(
        recorded["resources"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["address"] == "exec.slow")),
        "what the finished step made is recorded"
    );
    imm(&p, &["apply", "--auto-approve"]).assert_ok();
    imm(&p, &["plan", "--detailed-exitcode"]).assert_code(0);
}

#[test]
fn an_apply_whose_plan_cannot_be_written_changes_nothing() {
    let p = project();
    let full = std::fs::File::create("/dev/full").expect("/dev/full");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_imm"))
        .args(["apply", "--auto-approve"])
        .current_dir(p.path())
        .env("TOKEN", TOKEN)
        .stdout(full)
        .output()
        .expect("run imm");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("E0807"), "{stderr}");
    assert!(!p.file("out/page.txt").exists(), "nothing was applied");
    assert!(
        !p.file(".imm/state/default.lock").exists(),
        "the lock is released"
    );
    imm(&p, &["apply", "--auto-approve"]).assert_ok();
    // Output that fails after the work is done still fails the run.
    let full = std::fs::File::create("/dev/full").expect("/dev/full");
    let listed = std::process::Command::new(env!("CARGO_BIN_EXE_imm"))
        .args(["state", "list"])
        .current_dir(p.path())
        .stdout(full)
        .output()
        .expect("run imm");
    assert_eq!(listed.status.code(), Some(1));
}

#[test]
fn leftovers_of_an_interrupted_replacement_count_as_changes() {
    let p = project();
    imm(&p, &["apply", "--auto-approve"]).assert_ok();
    std::fs::write(p.file("out/old-extra.txt"), "old").expect("write");
    let path = p.file(".imm/state/default.json");
    let mut recorded = state(&p);
    let old = serde_json::json!({
        "attributes": { "path": "out/old-extra.txt" },
        "outs": {},
        "private": { "path": p.file("out/old-extra.txt").display().to_string() }
    });
    let extra = recorded["resources"]
        .as_array_mut()
        .and_then(|r| r.iter_mut().find(|r| r["address"] == "file.extra"))
        .expect("file.extra");
    extra["deposed"] = serde_json::json!([old]);
    std::fs::write(&path, recorded.to_string()).expect("write state");
    imm(&p, &["plan", "--detailed-exitcode"])
        .assert_code(2)
        .assert_stdout_contains("1 left over by an earlier apply (failed or interrupted)");
    imm(&p, &["apply", "--auto-approve"]).assert_ok();
    assert!(
        !p.file("out/old-extra.txt").exists(),
        "the leftover is removed"
    );
    imm(&p, &["plan", "--detailed-exitcode"]).assert_code(0);

    // A leftover whose destroy cannot succeed can be forgotten on its own.
    let mut recorded = state(&p);
    if let Some(extra) = recorded["resources"]
        .as_array_mut()
        .and_then(|r| r.iter_mut().find(|r| r["address"] == "file.extra"))
    {
        extra["deposed"] = serde_json::json!([{
            "attributes": { "path": "out/old-extra.txt" },
            "outs": {},
            "private": { "path": p.file("out/old-extra.txt").display().to_string() }
        }]);
    }
    std::fs::write(&path, recorded.to_string()).expect("write state");
    imm(&p, &["plan", "--detailed-exitcode"]).assert_code(2);
    imm(&p, &["state", "rm", "file.extra", "--deposed"])
        .assert_ok()
        .assert_stdout_contains("the 1 deposed copy of file.extra");
    imm(&p, &["plan", "--detailed-exitcode"]).assert_code(0);
    assert!(
        p.file("out/extra.txt").exists(),
        "the current object is kept"
    );
    imm(&p, &["state", "rm", "file.extra", "--deposed"]).assert_fails_with("no copy left");
}

#[test]
fn a_damaged_journal_or_a_lost_state_file_is_refused_never_guessed() {
    let p = project();
    imm(&p, &["apply", "--auto-approve"]).assert_ok();
    imm(&p, &["apply", "--auto-approve", "--var", "level=debug"]).assert_ok();
    imm(&p, &["apply", "--auto-approve"]).assert_ok();
    let journal = p.file(".imm/state/default.journal");
    let record = serde_json::json!({ "op": "remove", "address": "file.extra" });
    // A damaged line in the middle: nothing after it can be trusted.
    std::fs::write(&journal, format!("{{\"op\":\"sta\u{0}rt\n{record}\n")).expect("write");
    imm(&p, &["plan"])
        .assert_fails_with("E0603")
        .assert_fails_with("line 1 is not a journal entry");
    assert!(journal.exists(), "the damaged journal is kept for the user");
    std::fs::remove_file(&journal).expect("move the journal away");
    imm(&p, &["plan", "--detailed-exitcode"]).assert_code(0);

    // The state file lost, its backup still there: refused, and the way
    // back is named.
    let state_file = p.file(".imm/state/default.json");
    std::fs::remove_file(&state_file).expect("lose the state");
    let lost = imm(&p, &["plan"]);
    lost.assert_fails_with("E0603");
    assert!(
        lost.stderr.contains("is missing but its backup")
            && lost.stderr.contains("cp ./.imm/state/default.json.backup"),
        "{}",
        lost.stderr
    );
    std::fs::copy(p.file(".imm/state/default.json.backup"), &state_file).expect("restore");
    imm(&p, &["plan"]).assert_ok();
}

#[test]
fn a_secret_in_a_path_or_name_is_refused_before_anything_is_written() {
    let text = "secret \"token\" {\n  from = \"env:TOKEN\"\n}\n\nresource \"file\" \"a\" {\n  path    = \"out/${secret.token}.txt\"\n  content = \"a\"\n}\n";
    let p = Project::new(&[("main.imm", text)]);
    imm(&p, &["apply", "--auto-approve"])
        .assert_fails_with("file.a: path: cannot hold a secret")
        .assert_fails_with("E0302");
    assert!(
        !p.file(".imm/state/default.json").exists()
            || !read(&p, ".imm/state/default.json").contains(TOKEN)
    );
    assert!(!common::text_under(&p.file(".imm")).contains(TOKEN));
    assert!(!p.file(&format!("out/{TOKEN}.txt")).exists());
}

/// 60 files and 20 exec objects whose content and build inputs follow
/// `var.v`, so that every change of it replaces all 80.
const MANY: &str = r#"
variable "v" {
  type    = string
  default = "a"
}

resource "exec" "made" {
  count = 20
  build {
    inputs = { v = var.v }
  }
  create  = ["sh", "-c", "sleep 0.2; echo made >> made.log; echo '{}'"]
  destroy = ["sh", "-c", "echo gone >> made.log"]
}

resource "file" "page" {
  count   = 60
  path    = "out/page-${count.index}.txt"
  content = "${var.v} ${count.index} ${exec.made[count.index % 20].id}"
}
"#;

#[cfg(unix)]
#[test]
fn applies_killed_at_random_points_converge_without_force_unlock() {
    let p = Project::new(&[("main.imm", MANY)]);
    let mut random = Seeded(20261127);
    let apply =
        |value: &str| p.spawn_imm(&["apply", "--auto-approve", "--var", &format!("v={value}")]);
    let mut mid_apply = 0;
    for round in 0..12 {
        let value = if round % 2 == 0 { "a" } else { "b" };
        let child = apply(value);
        // Kill once this run's commands have begun to finish (made.log
        // grows), at a seeded point of the second wave of them.
        let log = p.file("made.log");
        let before = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0) == before
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(random.below(150)));
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &child.id().to_string()])
            .status();
        let output = child.wait_with_output().expect("wait");
        mid_apply += usize::from(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stderr.contains("stopped unexpectedly") && !stderr.contains("force-unlock"),
            "round {round}: a run after a kill goes on by itself:\n{stderr}"
        );
    }
    assert!(
        mid_apply >= 10,
        "most kills landed in the middle of an apply: {mid_apply} of 12"
    );
    // And one cancelled the way CI cancels a job.
    let child = apply("c");
    std::thread::sleep(Duration::from_millis(300));
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let output = child.wait_with_output().expect("wait");
    assert!(
        !p.file(".imm/state/default.lock").exists(),
        "SIGTERM releases the lock: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    imm(&p, &["apply", "--auto-approve", "--var", "v=final"]).assert_ok();
    imm(&p, &["plan", "--detailed-exitcode", "--var", "v=final"])
        .assert_code(0)
        .assert_stdout_contains("No changes");
    for i in 0..60 {
        let text = read(&p, &format!("out/page-{i}.txt"));
        assert!(
            text.starts_with(&format!("final {i} ")),
            "out/page-{i}.txt: {text}"
        );
    }
}

#[cfg(unix)]
#[test]
fn an_interrupted_create_is_shown_and_cleaned_up_before_it_runs_again() {
    let text = |create: &str| {
        format!("resource \"exec\" \"made\" {{\n  create  = [\"sh\", \"-c\", \"echo started >> made.log; {create}; echo '{{}}'\"]\n  cleanup = [\"sh\", \"-c\", \"echo cleaned >> cleanup.log\"]\n}}\n")
    };
    let p = Project::new(&[("main.imm", &text("sleep 30"))]);
    let child = p.spawn_imm(&["apply", "--auto-approve"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !p.file("made.log").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status();
    let _ = child.wait_with_output();

    std::fs::write(p.file("main.imm"), text("true")).expect("write");
    let plan = imm(&p, &["plan"]);
    plan.assert_ok()
        .assert_stdout_contains("create interrupted: the object may exist");
    assert!(!p.file("cleanup.log").exists(), "a plan runs nothing");
    imm(&p, &["apply", "--auto-approve"]).assert_ok();
    assert_eq!(
        read(&p, "cleanup.log"),
        "cleaned\n",
        "cleanup ran once, before create"
    );
    assert!(
        state(&p).get("interrupted").is_none(),
        "nothing is left to warn about"
    );
    imm(&p, &["plan", "--detailed-exitcode"]).assert_code(0);
}

#[test]
fn a_secret_in_every_attribute_that_takes_one_reaches_no_file_imm_writes() {
    let text = r#"
secret "token" {
  from = "env:TOKEN"
}

resource "exec" "uses" {
  create  = ["sh", "-c", "printf %s \"$1\" > seen-arg.txt; printf %s \"$T\" > seen-env.txt; echo '{}'", "sh", secret.token]
  destroy = ["sh", "-c", "true", secret.token]
  runtime {
    env = { T = secret.token }
  }
}

resource "file" "holds" {
  path    = "out/holds.txt"
  content = "token=${secret.token}\n"
  mode    = "0600"
}

resource "config" "app" {
  values = merge({ plain = "x" }, { token = secret.token }, { nested = { t = secret.token } })
}

output "token" {
  value     = secret.token
  sensitive = true
}
"#;
    let p = Project::new(&[("main.imm", text)]);
    imm(&p, &["plan", "--out", "saved.plan"]).assert_ok();
    let applied = imm(&p, &["apply", "--auto-approve"]);
    applied.assert_ok();
    assert_eq!(
        read(&p, "seen-arg.txt"),
        TOKEN,
        "the command got the secret"
    );
    assert_eq!(read(&p, "seen-env.txt"), TOKEN);
    assert_eq!(read(&p, "out/holds.txt"), format!("token={TOKEN}\n"));
    let shown = [
        imm(&p, &["plan", "--format", "json"]),
        imm(&p, &["plan", "--format", "markdown"]),
        imm(&p, &["output", "--json"]),
        imm(&p, &["state", "show", "exec.uses"]),
        imm(&p, &["state", "show", "config.app"]),
    ];
    for run in shown.iter().chain([&applied]) {
        assert!(!run.all().contains(TOKEN), "printed: {}", run.all());
    }
    let written = common::text_under(&p.file(".imm")) + &read(&p, "saved.plan");
    assert!(!written.contains(TOKEN), "a secret in a file imm wrote");
    imm(&p, &["plan", "--detailed-exitcode"]).assert_code(0);
    imm(&p, &["destroy", "--auto-approve"]).assert_ok();
    assert!(!common::text_under(&p.file(".imm")).contains(TOKEN));
}
