//! The replace-only planner against recorded states: a project is
//! "applied" by recording every instance with made-up object ids (as the
//! Docker executor would record real ones), then changed, and the plan of
//! the change is checked — every action, every reason, how far a change
//! travels, `prevent_destroy`, `--replace`, drift, and secrets. The
//! renderings of a plan with every action are snapshots.

#[path = "support/applied.rs"]
mod applied;
mod common;
use common::Project;
use imm_lang::evaluate::Inputs;
use imm_planner::plan::{self, Action, Plan, PlanOptions};
use imm_planner::render;
use imm_planner::state::State;
use imm_planner::stored::FingerprintKey;
use std::collections::HashMap;

const APP: &str = r#"
variable "version" {
  type    = string
  default = "1.0"
}

variable "log_level" {
  default = "info"
}

secret "db_password" {
  from = "env:DB_PASSWORD"
}

resource "docker_network" "backend" {
  name = "backend"
}

resource "docker_volume" "data" {
  name = "data"
  lifecycle {
    prevent_destroy = true
  }
}

resource "docker_image" "base" {
  build {
    context = "./base"
  }
}

resource "docker_image" "web" {
  build {
    context = "./web"
    args    = { VERSION = var.version, BASE = docker_image.base.id }
  }
}

resource "docker_container" "web" {
  count = 2
  image = docker_image.web.id
  network {
    name    = docker_network.backend.name
    aliases = ["web"]
  }
  mount {
    volume = docker_volume.data.name
    target = "/data"
  }
  runtime {
    env = { LOG_LEVEL = var.log_level, DB_PASSWORD = secret.db_password }
  }
}

resource "docker_container" "sidecar" {
  image = docker_image.base.id
  network {
    name = docker_network.backend.name
  }
}

resource "config" "app" {
  values = { log_level = var.log_level, version = var.version }
}

resource "file" "release_notes" {
  path    = "out/release.txt"
  content = "web image ${docker_image.web.tag}\n"
}
"#;

const PASSWORD: &str = "correct-horse-battery-staple";

fn app() -> Project {
    Project::new(&[
        ("main.imm", APP),
        (
            "base/Dockerfile",
            "FROM scratch\nCOPY busybox /bin/busybox\n",
        ),
        ("base/busybox", "not really busybox"),
        (
            "web/Dockerfile",
            "ARG BASE\nFROM $BASE\nCOPY index.html /www/\n",
        ),
        ("web/index.html", "<h1>hello</h1>\n"),
    ])
}

struct Planning {
    key: FingerprintKey,
    vars: Vec<(String, String)>,
    env: HashMap<String, String>,
    options: PlanOptions,
}

impl Planning {
    fn new() -> Planning {
        Planning {
            key: FingerprintKey::fixed(42),
            vars: Vec::new(),
            env: HashMap::from([("DB_PASSWORD".to_string(), PASSWORD.to_string())]),
            options: PlanOptions::default(),
        }
    }

    fn var(mut self, name: &str, value: &str) -> Planning {
        self.vars.push((name.into(), value.into()));
        self
    }

    fn inputs(&self) -> Inputs {
        Inputs {
            cli_vars: self.vars.clone(),
            process_env: self.env.clone(),
            ..Inputs::default()
        }
    }

    fn plan(&self, p: &Project, state: &State) -> (Plan, Vec<String>) {
        let mut project = imm_lang::project::load(p.path());
        assert!(project.diagnostics.is_empty(), "{:?}", project.diagnostics);
        let (_, plan, diags) = plan::plan_project(
            &mut project,
            "default",
            &self.inputs(),
            state,
            &self.key,
            &self.options,
        );
        let codes = diags
            .iter()
            .map(|d| format!("{} {}", d.code, d.message))
            .collect();
        (plan, codes)
    }

    /// Records every instance as an executor would after a successful apply.
    fn apply(&self, p: &Project) -> State {
        applied::record_applied(p.path(), "default", &self.inputs(), &self.key)
    }
}

fn actions(plan: &Plan) -> Vec<(String, Action, Vec<String>)> {
    plan.changes
        .iter()
        .filter(|c| c.action != Action::Noop)
        .map(|c| (c.address.clone(), c.action, c.reasons.clone()))
        .collect()
}

fn reasons(plan: &Plan, address: &str) -> Vec<String> {
    plan.change(address)
        .unwrap_or_else(|| panic!("{address} in the plan"))
        .reasons
        .clone()
}

fn action(plan: &Plan, address: &str) -> Action {
    plan.change(address)
        .unwrap_or_else(|| panic!("{address} in the plan"))
        .action
}

#[test]
fn an_applied_project_plans_no_changes() {
    let p = app();
    let planning = Planning::new();
    let (first, diags) = planning.plan(&p, &State::new("default"));
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(first.summary.create, 9);
    assert_eq!(first.summary.build, 2);
    let state = planning.apply(&p);
    let (plan, diags) = planning.plan(&p, &state);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(actions(&plan), vec![]);
    assert_eq!(plan.summary.noop, 9);
    assert!(!plan.summary.has_changes());
}

#[test]
fn a_build_arg_change_rebuilds_one_artifact_and_replaces_what_uses_it() {
    let p = app();
    let state = Planning::new().apply(&p);
    let (plan, _) = Planning::new().var("version", "1.1").plan(&p, &state);
    assert_eq!(
        reasons(&plan, "docker_image.web"),
        vec!["build changed (args.VERSION)"]
    );
    for i in 0..2 {
        let address = format!("docker_container.web[{i}]");
        assert_eq!(action(&plan, &address), Action::Replace);
        assert_eq!(
            reasons(&plan, &address),
            vec!["artifact rebuilt (docker_image.web)"]
        );
    }
    // The tag is known at plan time, so the file shows the real new value.
    assert_eq!(
        reasons(&plan, "file.release_notes"),
        vec!["runtime changed (content)"]
    );
    // A config value changes too: a new revision, not a replacement.
    assert_eq!(action(&plan, "config.app"), Action::Reconfigure);
    for untouched in [
        "docker_image.base",
        "docker_container.sidecar",
        "docker_network.backend",
        "docker_volume.data",
    ] {
        assert_eq!(action(&plan, untouched), Action::Noop, "{untouched}");
    }
    assert_eq!(plan.summary.build, 1);
    assert_eq!(
        plan.summary.line(&plan.changes),
        "Plan: 1 to build, 3 to replace, 0 to create, 0 to destroy, 1 to reconfigure."
    );
}

#[test]
fn a_changed_file_in_the_context_rebuilds_the_image() {
    let p = app();
    let state = Planning::new().apply(&p);
    std::fs::write(p.file("web/index.html"), "<h1>changed</h1>\n").expect("write");
    let (plan, _) = Planning::new().plan(&p, &state);
    assert_eq!(
        reasons(&plan, "docker_image.web"),
        vec!["build changed (files in ./web)"]
    );
    assert_eq!(action(&plan, "docker_container.web[1]"), Action::Replace);
    assert_eq!(action(&plan, "docker_image.base"), Action::Noop);
    // .dockerignore'd files do not count.
    std::fs::write(p.file("web/.dockerignore"), "notes.txt\n").expect("write");
    let state = Planning::new().apply(&p);
    std::fs::write(p.file("web/notes.txt"), "scratch").expect("write");
    let (plan, _) = Planning::new().plan(&p, &state);
    assert!(!plan.summary.has_changes(), "{:?}", actions(&plan));
}

#[test]
fn a_base_image_change_travels_through_every_artifact_built_on_it() {
    let p = app();
    let state = Planning::new().apply(&p);
    std::fs::write(p.file("base/busybox"), "a newer busybox").expect("write");
    let (plan, _) = Planning::new().plan(&p, &state);
    assert_eq!(
        reasons(&plan, "docker_image.base"),
        vec!["build changed (files in ./base)"]
    );
    assert_eq!(
        reasons(&plan, "docker_image.web"),
        vec!["artifact rebuilt (docker_image.base)"]
    );
    assert_eq!(
        reasons(&plan, "docker_container.web[0]"),
        vec!["artifact rebuilt (docker_image.web)"]
    );
    assert_eq!(
        reasons(&plan, "docker_container.sidecar"),
        vec!["artifact rebuilt (docker_image.base)"]
    );
    // The web image's fingerprint is unknown until the base is built.
    assert_eq!(
        plan.change("docker_image.web")
            .and_then(|c| c.fingerprint.clone()),
        None
    );
    assert_eq!(plan.summary.build, 2);
}

#[test]
fn a_runtime_change_replaces_instances_from_the_same_artifact() {
    let p = app();
    let state = Planning::new().apply(&p);
    let (plan, _) = Planning::new().var("log_level", "debug").plan(&p, &state);
    assert_eq!(action(&plan, "docker_image.web"), Action::Noop);
    assert_eq!(plan.summary.build, 0);
    assert_eq!(
        reasons(&plan, "docker_container.web[0]"),
        vec!["runtime changed (env.LOG_LEVEL)"]
    );
    let after = plan
        .change("docker_container.web[0]")
        .and_then(|c| c.after.clone())
        .expect("after");
    let before = plan
        .change("docker_container.web[0]")
        .and_then(|c| c.before.clone())
        .expect("before");
    assert_eq!(after["image"], before["image"], "the same image id");
    assert_eq!(action(&plan, "config.app"), Action::Reconfigure);
    assert_eq!(
        plan.change("config.app").map(|c| c.changed.clone()),
        Some(vec!["values.log_level".to_string()])
    );
}

#[test]
fn a_changed_secret_replaces_what_uses_it_and_shows_nowhere() {
    let p = app();
    let state = Planning::new().apply(&p);
    let state_text = serde_json::to_string(&state).expect("json");
    assert!(!state_text.contains(PASSWORD), "the secret is not in state");
    let mut planning = Planning::new();
    planning
        .env
        .insert("DB_PASSWORD".into(), "a-new-password-123".into());
    let (plan, _) = planning.plan(&p, &state);
    assert_eq!(
        reasons(&plan, "docker_container.web[1]"),
        vec!["runtime changed (env.DB_PASSWORD)"]
    );
    for text in [
        render::json(&plan),
        render::human(&plan, false),
        render::markdown(&plan),
    ] {
        assert!(!text.contains(PASSWORD) && !text.contains("a-new-password-123"));
        assert!(text.contains("(sensitive)"), "{text}");
    }
    assert_eq!(action(&plan, "docker_image.web"), Action::Noop);
}

#[test]
fn removed_resources_are_destroyed_and_prevent_destroy_refuses() {
    let p = app();
    let state = Planning::new().apply(&p);
    let without_sidecar = APP.replace(
        "resource \"docker_container\" \"sidecar\" {\n  image = docker_image.base.id\n  network {\n    name = docker_network.backend.name\n  }\n}\n",
        "",
    );
    std::fs::write(p.file("main.imm"), &without_sidecar).expect("write");
    let (plan, diags) = Planning::new().plan(&p, &state);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(
        actions(&plan),
        vec![(
            "docker_container.sidecar".to_string(),
            Action::Destroy,
            vec!["no longer in the configuration".to_string()]
        )]
    );

    let renamed = without_sidecar.replace("name = \"data\"", "name = \"data2\"");
    std::fs::write(p.file("main.imm"), &renamed).expect("write");
    let (_, diags) = Planning::new().plan(&p, &state);
    assert!(
        diags.iter().any(|d| d.starts_with("E0701 docker_volume.data has lifecycle.prevent_destroy and this plan would replace it: runtime changed (name)")),
        "{diags:?}"
    );

    let without_volume = APP
        .replace("  mount {\n    volume = docker_volume.data.name\n    target = \"/data\"\n  }\n", "")
        .replace(
            "resource \"docker_volume\" \"data\" {\n  name = \"data\"\n  lifecycle {\n    prevent_destroy = true\n  }\n}\n",
            "",
        );
    std::fs::write(p.file("main.imm"), &without_volume).expect("write");
    let (_, diags) = Planning::new().plan(&p, &state);
    assert!(
        diags.iter().any(|d| d.starts_with("E0701 docker_volume.data has lifecycle.prevent_destroy and is no longer in the configuration")),
        "{diags:?}"
    );
}

#[test]
fn forced_and_drifted_instances_are_replaced_with_their_reason() {
    let p = app();
    let state = Planning::new().apply(&p);
    let mut planning = Planning::new();
    planning
        .options
        .force_replace
        .insert("docker_container.web[1]".into());
    planning.options.drifted.insert(
        "file.release_notes".into(),
        "out/release.txt is missing".into(),
    );
    let (plan, diags) = planning.plan(&p, &state);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(
        actions(&plan),
        vec![
            (
                "docker_container.web[1]".to_string(),
                Action::Replace,
                vec!["forced (--replace)".to_string()]
            ),
            (
                "file.release_notes".to_string(),
                Action::Replace,
                vec!["drifted (out/release.txt is missing)".to_string()]
            ),
        ]
    );
    planning
        .options
        .force_replace
        .insert("docker_container.wbe".into());
    let (_, diags) = planning.plan(&p, &state);
    assert!(
        diags
            .iter()
            .any(|d| d.starts_with("E0702 --replace docker_container.wbe")),
        "{diags:?}"
    );
}

#[test]
fn containers_publishing_host_ports_are_replaced_stop_first_with_a_warning() {
    let p = Project::new(&[
        (
            "main.imm",
            "variable \"v\" {\n  default = \"1\"\n}\n\nresource \"docker_container\" \"edge\" {\n  image = \"busybox\"\n  ports = [\"8080:80\"]\n  runtime {\n    env = { V = var.v }\n  }\n}\n",
        ),
    ]);
    let state = Planning::new().apply(&p);
    let (plan, _) = Planning::new().var("v", "2").plan(&p, &state);
    let change = plan.change("docker_container.edge").expect("change");
    assert!(change.stop_first);
    assert!(
        plan.warnings[0].contains("holds host ports"),
        "{:?}",
        plan.warnings
    );
    assert!(render::human(&plan, false).contains("-/+ docker_container.edge"));
}

/// A plan with every action: build, replace, create, reconfigure,
/// destroy, and no-ops.
fn plan_with_every_action() -> Plan {
    let p = app();
    let state = Planning::new().apply(&p);
    let changed = APP
        .replace(
            "resource \"docker_container\" \"sidecar\" {\n  image = docker_image.base.id\n  network {\n    name = docker_network.backend.name\n  }\n}\n",
            "",
        )
        .replace(
            "content = \"web image ${docker_image.web.tag}\\n\"",
            "content = \"web image ${docker_image.web.tag}\\nlevel ${var.log_level}\\n\"",
        )
        + "\nresource \"file\" \"motd\" {\n  path    = \"out/motd.txt\"\n  content = \"hello\"\n}\n";
    std::fs::write(p.file("main.imm"), changed).expect("write");
    let (plan, diags) = Planning::new()
        .var("version", "1.1")
        .var("log_level", "debug")
        .plan(&p, &state);
    assert!(diags.is_empty(), "{diags:?}");
    plan
}

/// The text with the (temporary) project's name in image tags replaced,
/// so that snapshots do not depend on it.
fn without_project(text: &str) -> String {
    let tag = regex::Regex::new(r"imm/[a-z0-9_.-]+/").expect("regex");
    tag.replace_all(text, "imm/PROJECT/").into_owned()
}

#[test]
fn renderings_of_a_plan_with_every_action() {
    let plan = plan_with_every_action();
    let summary = &plan.summary;
    assert_eq!(
        (
            summary.build,
            summary.replace,
            summary.create,
            summary.reconfigure,
            summary.destroy
        ),
        (1, 4, 1, 1, 1)
    );
    insta::assert_snapshot!("plan_human", without_project(&render::human(&plan, false)));
    insta::assert_snapshot!("plan_markdown", without_project(&render::markdown(&plan)));
    let json: serde_json::Value = serde_json::from_str(&render::json(&plan)).expect("json");
    assert_eq!(json["format_version"], "1");
    assert_eq!(json["summary"]["replace"], 4);
    let web0 = json["changes"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["address"] == "docker_container.web[0]"))
        .expect("web[0]");
    assert_eq!(web0["action"], "replace");
    assert_eq!(web0["after"]["image"], "(known after apply)");
    assert_eq!(
        web0["after"]["runtime"]["env"]["DB_PASSWORD"],
        "(sensitive)"
    );
}

#[test]
fn colour_is_only_added_when_asked() {
    let plan = plan_with_every_action();
    assert!(render::human(&plan, true).contains("\u{1b}["));
    assert!(!render::human(&plan, false).contains('\u{1b}'));
}

#[test]
fn a_huge_plan_stays_under_the_markdown_limit_and_says_what_it_left_out() {
    let mut resources = String::new();
    for i in 0..3000 {
        resources.push_str(&format!(
            "resource \"file\" \"f{i}\" {{\n  path    = \"out/{i}.txt\"\n  content = \"line one of {i}\\nline two\\n\"\n}}\n"
        ));
    }
    let p = Project::new(&[("main.imm", &resources)]);
    let (plan, _) = Planning::new().plan(&p, &State::new("default"));
    assert_eq!(plan.summary.create, 3000);
    let text = render::markdown(&plan);
    assert!(
        text.len() < render::MARKDOWN_BUDGET,
        "{} characters",
        text.len()
    );
    assert!(text.starts_with(
        "### imm plan: `default`\n\n**Plan: 0 to build, 0 to replace, 3000 to create"
    ));
    assert!(
        text.contains("more changes are not listed"),
        "says what was elided"
    );
}

#[test]
fn a_reloadable_file_change_is_in_place_unless_the_container_drifted() {
    let p = Project::new(&[(
        "main.imm",
        r#"
variable "greeting" {
  type    = string
  default = "hello"
}

resource "docker_container" "web" {
  image = "busybox"
  runtime {
    files = { "/www/greeting.txt" = var.greeting }
  }
  reload {
    signal = "HUP"
  }
}
"#,
    )]);
    let state = Planning::new().apply(&p);
    let changed = Planning::new().var("greeting", "bonjour");
    let (plan, diags) = changed.plan(&p, &state);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(action(&plan, "docker_container.web"), Action::Reconfigure);
    assert_eq!(
        reasons(&plan, "docker_container.web"),
        vec!["runtime changed (files[\"/www/greeting.txt\"])".to_string()]
    );
    let mut gone = Planning::new().var("greeting", "bonjour");
    gone.options.drifted.insert(
        "docker_container.web".into(),
        "container web no longer exists".into(),
    );
    let (plan, _) = gone.plan(&p, &state);
    assert_eq!(
        action(&plan, "docker_container.web"),
        Action::Replace,
        "a container that is gone cannot be reloaded"
    );
}
