//! End-to-end tests of the `imm` binary: validate, fmt, apply of a project
//! without resources, output, variables, environments, secrets, state.

mod common;
use common::Project;

const VARS: &str = r#"
variable "size" {
  type    = string
  default = "from-default"
}

variable "count" {
  type    = number
  default = 1
  validation {
    condition     = var.count < 100
    message       = "count must stay below 100"
  }
}

variable "tags" {
  type    = list(string)
  default = []
}

output "size" {
  value = var.size
}

output "count" {
  value = var.count * 2
}

output "tags" {
  value = var.tags
}
"#;

#[test]
fn apply_records_outputs_and_output_prints_them() {
    let p = Project::new(&[("main.imm", VARS)]);
    let run = p.imm(&["apply", "."]);
    run.assert_ok();
    assert!(
        run.stdout.contains("size  = \"from-default\""),
        "{}",
        run.stdout
    );
    let json = p.imm(&["output", "--json"]);
    json.assert_ok();
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(
        doc["count"],
        serde_json::json!({ "value": 2, "sensitive": false })
    );
    assert_eq!(doc["tags"]["value"], serde_json::json!([]));
    let one = p.imm(&["output", "count", "--json"]);
    assert_eq!(one.stdout.trim(), "2");
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.file(".imm/state/default.json")).expect("state"),
    )
    .expect("json");
    assert_eq!(state["serial"], 1);
    assert_eq!(state["version"], imm_planner::state::STATE_VERSION);
    p.imm(&["apply", "."])
        .assert_ok()
        .assert_stdout_contains("Nothing to do");
    p.imm(&["apply", ".", "--var", "size=other"]).assert_ok();
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.file(".imm/state/default.json")).expect("state"),
    )
    .expect("json");
    assert_eq!(
        state["serial"], 2,
        "an apply that changes something is a new serial; one that changes nothing writes nothing"
    );
    assert!(
        p.file(".imm/state/default.json.backup").exists(),
        "the previous serial is kept"
    );
    p.imm(&["output", "nope"])
        .assert_fails_with("no output named");
}

#[test]
fn variable_precedence_default_env_file_process_cli() {
    let text =
        format!("{VARS}\nenvironment \"default\" {{\n  vars = {{ size = \"from-env\" }}\n}}\n");
    let p = Project::new(&[
        ("main.imm", &text),
        ("values.vars", "size = \"from-file\"\ncount = 5\n"),
    ]);
    let size = |p: &Project, args: &[&str], env: &[(&str, &str)]| {
        let mut full = vec!["apply", "."];
        full.extend_from_slice(args);
        p.imm_with_env(&full, env).assert_ok();
        p.imm(&["output", "size", "--json"])
            .stdout
            .trim()
            .to_string()
    };
    assert_eq!(size(&p, &[], &[]), "\"from-env\"");
    assert_eq!(
        size(&p, &["--var-file", "values.vars"], &[]),
        "\"from-file\""
    );
    assert_eq!(
        size(
            &p,
            &["--var-file", "values.vars"],
            &[("IMM_VAR_size", "from-process")]
        ),
        "\"from-process\""
    );
    assert_eq!(
        size(
            &p,
            &["--var-file", "values.vars", "--var", "size=from-cli"],
            &[("IMM_VAR_size", "from-process")]
        ),
        "\"from-cli\""
    );
    p.imm(&[
        "apply",
        ".",
        "--var",
        "tags=[\"a\", \"b\"]",
        "--var",
        "count=3",
    ])
    .assert_ok();
    assert_eq!(
        p.imm(&["output", "tags", "--json"]).stdout.trim(),
        "[\"a\",\"b\"]"
    );
    assert_eq!(p.imm(&["output", "count", "--json"]).stdout.trim(), "6");
}

#[test]
fn bad_variable_values_are_refused_before_anything_is_written() {
    let p = Project::new(&[(
        "main.imm",
        "variable \"need\" {\n  type = number\n}\n\noutput \"o\" {\n  value = var.need\n}\n",
    )]);
    p.imm(&["apply", "."]).assert_fails_with("E0309");
    p.imm(&["apply", ".", "--var", "need=abc"])
        .assert_fails_with("E0310");
    p.imm(&["apply", ".", "--var", "nede=1"])
        .assert_fails_with("did you mean --var need");
    p.imm(&["apply", ".", "--var", "need"])
        .assert_fails_with("expected NAME=VALUE");
    assert!(
        !p.file(".imm/state/default.json").exists(),
        "a failed apply writes no state"
    );
    let v = Project::new(&[("main.imm", VARS)]);
    v.imm(&["apply", ".", "--var", "count=500"])
        .assert_fails_with("count must stay below 100");
}

#[test]
fn secrets_never_reach_state_output_or_logs() {
    let secret = "s3cr3t-value-9f8e7d";
    let text = r#"
secret "token" {
  from = "env:IMM_TEST_TOKEN"
}

secret "key" {
  from = "file:key.txt"
}

variable "password" {
  type      = string
  sensitive = true
  default   = "pw-default-1234"
}

output "token" {
  value     = secret.token
  sensitive = true
}

output "derived" {
  value     = "Bearer ${secret.key}"
  sensitive = true
}

output "length" {
  value     = length(var.password)
  sensitive = true
}
"#;
    let p = Project::new(&[("main.imm", text), ("key.txt", &format!("{secret}-file\n"))]);
    let env = [("IMM_TEST_TOKEN", secret)];
    let run = p.imm_with_env(&["apply", "."], &env);
    run.assert_ok();
    assert!(
        run.stdout.contains("token   = (sensitive)"),
        "{}",
        run.stdout
    );
    let out = p.imm_with_env(&["output", "--json"], &env);
    let all = format!(
        "{}{}{}",
        run.all(),
        out.all(),
        p.imm(&["output", "token"]).all()
    );
    assert!(
        !all.contains(secret),
        "the secret leaked into output:\n{all}"
    );
    assert!(
        !all.contains("pw-default-1234"),
        "a sensitive variable leaked:\n{all}"
    );
    assert!(all.contains("(sensitive)"));
    for entry in common::files_under(&p.file(".imm")) {
        let content = std::fs::read_to_string(&entry).unwrap_or_default();
        assert!(
            !content.contains(secret),
            "the secret leaked into {}",
            entry.display()
        );
        assert!(
            !content.contains("pw-default-1234"),
            "a sensitive variable leaked into {}",
            entry.display()
        );
    }
    let missing = p.imm(&["apply", "."]);
    missing.assert_fails_with("E0406");
    assert!(
        missing.stderr.contains("IMM_TEST_TOKEN is not set"),
        "{}",
        missing.stderr
    );
}

#[test]
fn an_output_showing_a_secret_must_be_marked_sensitive() {
    let p = Project::new(&[(
        "main.imm",
        "secret \"t\" {\n  from = \"env:T\"\n}\n\noutput \"t\" {\n  value = upper(secret.t)\n}\n",
    )]);
    let run = p.imm_with_env(&["apply", "."], &[("T", "hidden-value")]);
    run.assert_fails_with("E0311");
    assert!(
        !run.all().contains("hidden-value") && !run.all().contains("HIDDEN-VALUE"),
        "{}",
        run.all()
    );
    // sensitive() marks a value as a secret does.
    let p = Project::new(&[(
        "main.imm",
        "output \"t\" {\n  value = sensitive(\"marked-by-hand\")\n}\n",
    )]);
    p.imm(&["apply", "."]).assert_fails_with("E0311");
}

#[test]
fn errors_about_sensitive_values_do_not_quote_them() {
    let text = r#"
secret "port" {
  from = "env:IMM_TEST_PORT"
}

variable "pin" {
  type      = number
  sensitive = true
}

output "n" {
  value     = tonumber(secret.port) + 1
  sensitive = true
}

output "m" {
  value     = "${secret.port}" * 2
  sensitive = true
}

output "p" {
  value     = var.pin
  sensitive = true
}
"#;
    let p = Project::new(&[("main.imm", text)]);
    let run = p.imm_with_env(
        &["apply", ".", "--var", "pin=hunter2-pin"],
        &[("IMM_TEST_PORT", "very-secret-port")],
    );
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.all().contains("sensitive"), "{}", run.all());
    assert!(
        !run.all().contains("very-secret-port"),
        "a secret was quoted in an error:\n{}",
        run.all()
    );
    assert!(
        !run.all().contains("hunter2-pin"),
        "a sensitive variable was quoted in an error:\n{}",
        run.all()
    );
    let json = p.imm_with_env(
        &["apply", ".", "--var", "pin=hunter2-pin", "--format", "json"],
        &[("IMM_TEST_PORT", "very-secret-port")],
    );
    assert!(
        !json.all().contains("very-secret-port") && !json.all().contains("hunter2-pin"),
        "{}",
        json.all()
    );
}

#[test]
fn environments_are_selected_and_checked() {
    let text = r#"
environment "dev" {
  region = "eu"
}

environment "prod" {
  region = "us"
}

output "where" {
  value = "${env.name} in ${env.region}"
}
"#;
    let p = Project::new(&[("main.imm", text)]);
    p.imm(&["apply", "."]).assert_fails_with("E0404");
    p.imm(&["apply", ".", "--env", "prd"])
        .assert_fails_with("did you mean --env prod");
    p.imm(&["apply", ".", "--env", "prod"]).assert_ok();
    assert_eq!(
        p.imm(&["output", "where", "--env", "prod", "--json"])
            .stdout
            .trim(),
        "\"prod in us\""
    );
    p.imm(&["apply", ".", "--env", "dev"]).assert_ok();
    assert_eq!(
        p.imm(&["output", "where", "--env", "dev", "--json"])
            .stdout
            .trim(),
        "\"dev in eu\""
    );
    assert!(
        p.file(".imm/state/prod.json").exists() && p.file(".imm/state/dev.json").exists(),
        "state per environment"
    );
    let validate = p.imm(&["validate", "."]);
    validate.assert_ok();
    assert!(validate.stderr.contains("dev, prod"), "{}", validate.stderr);

    // One convention for every command: [DIR] and --env, chosen alike.
    assert_eq!(
        p.imm(&["output", "where", "--env", "prod"]).stdout,
        "prod in us\n",
        "one output alone is its bare value"
    );
    p.imm(&["output", "where"]).assert_fails_with("E0404");
    p.imm(&["state", "list"]).assert_fails_with("E0404");
    p.imm(&["force-unlock", "x"]).assert_fails_with("E0404");
    p.imm(&["state", "list", ".", "--env", "prd"])
        .assert_fails_with("did you mean --env prod");
    let outside = Project::new(&[]);
    let dir = p.path().to_str().expect("utf-8 path");
    outside
        .imm(&["output", "where", dir, "--env", "dev"])
        .assert_stdout_contains("dev in eu");
    outside
        .imm(&["state", "list", dir, "--env", "dev"])
        .assert_ok();
}

#[test]
fn modules_local_and_standard_feed_outputs() {
    let text = r#"
module "greeter" {
  source = "./greeter"
  who    = "world"
}

output "greeting" {
  value = module.greeter.text
}
"#;
    let child = "variable \"who\" {\n  type = string\n}\n\noutput \"text\" {\n  value = \"hello, ${var.who}\"\n}\n";
    let p = Project::new(&[("main.imm", text), ("greeter/main.imm", child)]);
    p.imm(&["apply", "."]).assert_ok();
    assert_eq!(
        p.imm(&["output", "greeting", "--json"]).stdout.trim(),
        "\"hello, world\""
    );
}

#[test]
fn state_problems_are_clear_errors() {
    let p = Project::new(&[("main.imm", "output \"o\" {\n  value = 1\n}\n")]);
    p.imm(&["output"])
        .assert_fails_with("run `imm apply` first");
    std::fs::create_dir_all(p.file(".imm/state")).expect("mkdir");
    std::fs::write(p.file(".imm/state/default.json"), "{ this is not json").expect("write");
    p.imm(&["output"]).assert_fails_with("E0603");
    p.imm(&["apply", "."]).assert_fails_with("is corrupt");
    std::fs::write(
        p.file(".imm/state/default.json"),
        r#"{"version": 7, "lineage": "x", "serial": 1, "environment": "default"}"#,
    )
    .expect("write");
    p.imm(&["apply", "."])
        .assert_fails_with("newer than this imm");
    std::fs::remove_file(p.file(".imm/state/default.json")).expect("rm");
    std::fs::write(
        p.file(".imm/state/default.lock"),
        r#"{"id":"abc","holder":"ci@runner","pid":1,"created":0,"operation":"apply"}"#,
    )
    .expect("write");
    p.imm(&["apply", "."])
        .assert_fails_with("locked by ci@runner");
}

#[test]
fn validate_reports_every_problem_as_json_lines() {
    let p = Project::new(&[(
        "main.imm",
        "locals {\n  a = var.nope\n  b = lenght([])\n}\n",
    )]);
    let run = p.imm(&["validate", ".", "--format", "json"]);
    assert_eq!(run.code, 1);
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let codes: Vec<&str> = lines.iter().filter_map(|l| l["code"].as_str()).collect();
    assert_eq!(codes, ["E0201", "E0303"]);
    assert_eq!(lines[1]["help"], "did you mean \"length\"?");
}

#[test]
fn fmt_check_rewrite_idempotent_and_safe() {
    let ugly = "# top comment\nlocals {\nname=\"x\"   # why\n    longer_name = [\n1,\n2,\n]\n}\n";
    let pretty = "# top comment\nlocals {\n  name = \"x\" # why\n  longer_name = [\n    1,\n    2,\n  ]\n}\n";
    let p = Project::new(&[
        ("main.imm", ugly),
        ("ok.imm", "output \"o\" {\n  value = 1\n}\n"),
    ]);
    let check = p.imm(&["fmt", "--check"]);
    assert_eq!(check.code, 1);
    assert_eq!(check.stdout.trim(), "./main.imm");
    assert_eq!(
        std::fs::read_to_string(p.file("main.imm")).expect("read"),
        ugly,
        "--check changes nothing"
    );
    p.imm(&["fmt"]).assert_ok();
    assert_eq!(
        std::fs::read_to_string(p.file("main.imm")).expect("read"),
        pretty
    );
    p.imm(&["fmt", "--check"]).assert_ok();
    std::fs::write(p.file("bad.imm"), "a = = 1\n").expect("write");
    p.imm(&["fmt", "bad.imm"])
        .assert_fails_with("syntax errors");
    assert_eq!(
        std::fs::read_to_string(p.file("bad.imm")).expect("read"),
        "a = = 1\n"
    );
}

#[test]
fn every_example_validates_and_is_formatted() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&examples).expect("examples/").flatten() {
        if !entry.path().is_dir() {
            continue;
        }
        seen += 1;
        let dir = entry.path();
        let dir = dir.to_str().expect("UTF-8 path");
        let p = Project::new(&[]);
        p.imm(&["validate", dir]).assert_ok();
        p.imm(&["fmt", "--check", "--recursive", dir]).assert_ok();
    }
    assert!(seen >= 3, "examples/hello, web-api-db and values at least");
}

#[test]
fn dash_c_runs_any_command_in_another_directory() {
    let p = Project::new(&[(
        "app/main.imm",
        "output \"greeting\" {\n  value = \"hello\"\n}\n",
    )]);
    p.imm(&["-C", "app", "validate"]).assert_ok();
    p.imm(&["-C", "app", "apply", "--auto-approve"]).assert_ok();
    assert!(
        p.file("app/.imm/state/default.json").exists(),
        "the state is the project's, in app/"
    );
    p.imm(&["-C", "app", "output", "greeting"])
        .assert_stdout_contains("hello");
    p.imm(&["-C", "app", "plan", "--detailed-exitcode"])
        .assert_code(0);
    p.imm(&["-C", "app", "plan", "--out", "saved.json"])
        .assert_ok();
    assert!(
        p.file("app/saved.json").exists(),
        "paths are relative to DIR"
    );
    p.imm(&["-C", "app", "show", "saved.json"])
        .assert_stdout_contains("No changes");
    p.imm(&["-C", "app", "fmt", "--check"]).assert_ok();
    p.imm(&["-C", "app", "graph"]).assert_ok();
    p.imm(&["-C", "app", "state", "list"]).assert_ok();
    p.imm(&["-C", "app", "config", "history", "app"])
        .assert_stdout_contains("No revisions");
    p.imm(&["-C", "app", "force-unlock", "x"])
        .assert_fails_with("is not locked");
    p.imm(&["-C", "app", "completions", "bash"]).assert_ok();
    let manual = p.imm(&["-C", "app", "manpage"]);
    manual.assert_ok().assert_stdout_contains(".TH imm 1");
    for command in SUBCOMMANDS {
        // roff writes a hyphen as `\-`.
        let in_roff = command.replace('-', "\\-");
        assert!(
            manual.stdout.contains(&in_roff),
            "the manual names `{command}`"
        );
    }
    p.imm(&["-C", "app", "destroy", "--auto-approve"])
        .assert_ok();
    p.imm(&["-C", "app", "output", "greeting"])
        .assert_fails_with("no output named");
    let lsp = lsp_session(&p, &["-C", "app", "lsp"]);
    assert!(
        lsp.contains("\"capabilities\""),
        "the language server answers from DIR: {lsp}"
    );
    let missing = p.imm(&["-C", "no-such-dir", "plan"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("no-such-dir") && missing.stderr.contains("-C"),
        "the error names the directory and the flag: {}",
        missing.stderr
    );
}

/// A whole language-server session (initialize, shutdown, exit) fed on
/// stdin; what the server wrote.
fn lsp_session(p: &Project, args: &[&str]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_imm"))
        .args(args)
        .current_dir(p.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start imm lsp");
    let messages = [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}"#,
        r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"shutdown"}"#,
        r#"{"jsonrpc":"2.0","method":"exit"}"#,
    ];
    let mut stdin = child.stdin.take().expect("stdin");
    for body in messages {
        write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write");
    }
    drop(stdin);
    let output = child.wait_with_output().expect("imm lsp ends");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Every command of `imm --help`.
const SUBCOMMANDS: &[&str] = &[
    "validate",
    "fmt",
    "plan",
    "apply",
    "destroy",
    "show",
    "graph",
    "lock",
    "output",
    "state",
    "config",
    "console",
    "force-unlock",
    "lsp",
    "completions",
    "manpage",
    "import",
    "test",
];

#[test]
fn completions_are_printed_for_every_shell() {
    let p = Project::new(&[]);
    let help = p.imm(&["--help"]).stdout;
    let mut listed = common::subcommands(&help);
    listed.sort_unstable();
    let mut known = SUBCOMMANDS.to_vec();
    known.sort_unstable();
    assert_eq!(listed, known, "SUBCOMMANDS is every command");
    for (shell, marker) in [
        ("bash", "_imm()"),
        ("zsh", "#compdef imm"),
        ("fish", "complete -c imm"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let printed = p.imm(&["completions", shell]);
        printed.assert_ok();
        assert!(
            printed.stdout.contains(marker),
            "{shell}: {}",
            &printed.stdout[..printed.stdout.len().min(200)]
        );
        for command in SUBCOMMANDS {
            assert!(
                printed.stdout.contains(command),
                "the {shell} script completes `{command}`"
            );
        }
    }
}

#[test]
fn the_values_example_applies_in_each_environment() {
    let p = Project::new(&[]);
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/values");
    for file in ["main.imm", "naming/main.imm"] {
        let text = std::fs::read_to_string(source.join(file)).expect("example file");
        if let Some(dir) = p.file(file).parent() {
            std::fs::create_dir_all(dir).expect("mkdir");
        }
        std::fs::write(p.file(file), text).expect("copy");
    }
    p.imm(&["apply", "--env", "staging", "--auto-approve"])
        .assert_ok();
    p.imm(&["apply", "--env", "prod", "--auto-approve"])
        .assert_ok();
    let hosts = p
        .imm(&["output", "hosts", "--env", "prod", "--json"])
        .json();
    assert_eq!(
        hosts,
        serde_json::json!([
            "shop-01.eu-central-1.internal",
            "shop-02.eu-central-1.internal",
            "shop-03.eu-central-1.internal"
        ]),
        "prod's vars give three replicas in its region"
    );
    assert_eq!(
        p.imm(&["output", "prefix", "--env", "staging"]).stdout,
        "staging-shop\n"
    );
    assert_eq!(
        p.imm(&["output", "token_fingerprint", "--env", "staging"])
            .stdout,
        "(sensitive)\n"
    );
}

/// Runs `imm ARGS` on a pseudo-terminal (util-linux `script`), where imm
/// colours by default, and returns what it printed.
fn on_a_terminal(dir: &std::path::Path, args: &str, no_color_env: bool) -> String {
    let imm = env!("CARGO_BIN_EXE_imm");
    let mut command = std::process::Command::new("script");
    command
        .args(["-qec", &format!("{imm} {args}"), "/dev/null"])
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env("TERM", "xterm");
    if no_color_env {
        command.env("NO_COLOR", "1");
    }
    let output = command
        .output()
        .expect("util-linux's script runs (apt-get install bsdutils)");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn no_color_and_the_no_color_variable_turn_colour_off_on_a_terminal() {
    let p = common::Project::new(&[(
        "main.imm",
        "resource \"file\" \"motd\" {\n  path    = \"out/motd.txt\"\n  content = \"hi\"\n}\n",
    )]);
    let coloured = on_a_terminal(p.path(), "plan", false);
    assert!(
        coloured.contains("\x1b["),
        "a plan on a terminal is coloured:\n{coloured}"
    );
    for (args, env) in [
        ("plan --no-color", false),
        ("--no-color plan", false),
        ("plan", true),
    ] {
        let plain = on_a_terminal(p.path(), args, env);
        assert!(plain.contains("file.motd"), "{args}: {plain}");
        assert!(
            !plain.contains("\x1b["),
            "imm {args} (NO_COLOR set: {env}) printed colour:\n{plain}"
        );
    }
}
