//! Apply on the real Docker Engine with the real binary: build, test,
//! blue/green replacement, rollback of a failing version, zero downtime,
//! recovery from a killed apply, and destroy. Every project gets its own
//! names (the temporary directory is the project name) and is cleaned up by
//! label afterwards, whatever happened.
//!
//! Needs a running Docker Engine (`docker info`) and a static busybox
//! (Debian's `busybox-static`); `scripts/test.sh` installs the latter.

mod common;
#[path = "support/docker.rs"]
mod docker_project;
use common::Project;
use docker_project::{docker, docker_project, example, frozen_daemon, DockerProject};
use std::process::Command;
use std::time::{Duration, Instant};

/// A web page served by busybox httpd, two replicas behind one alias, with
/// a health check and tests, on an image built FROM scratch.
const HELLO: &str = r#"
variable "page_version" {
  type    = string
  default = "1"
}

variable "greeting" {
  type    = string
  default = "hello"
}

variable "health_word" {
  type    = string
  default = "ok"
}

resource "docker_network" "net" {
  name = "net"
}

resource "docker_image" "base" {
  name = "PFX-base"
  build {
    context = "./base"
  }
}

resource "docker_image" "web" {
  name = "PFX-web"
  build {
    context = "./web"
    args    = { BASE = docker_image.base.id, PAGE_VERSION = var.page_version }
  }
  test {
    command = ["test", "-f", "/www/index.html"]
  }
}

resource "docker_container" "web" {
  count   = 2
  image   = docker_image.web.id
  name    = "web"
  command = ["httpd", "-f", "-p", "8080", "-h", "/www"]
  network {
    name    = docker_network.net.name
    aliases = ["web"]
  }
  runtime {
    env   = { GREETING = var.greeting }
    files = {
      "/www/greeting.txt" = "${var.greeting}\n"
      "/www/health.txt"   = "${var.health_word}\n"
    }
  }
  health {
    command  = ["sh", "-c", "grep -q ok /www/health.txt && wget -q -O /dev/null http://127.0.0.1:8080/"]
    interval = "200ms"
    timeout  = "2s"
    retries  = 10
  }
  test {
    command = ["sh", "-c", "wget -q -O - http://127.0.0.1:8080/ | grep -q version"]
  }
}

output "network" {
  value = docker_network.net.name
}
"#;

fn hello() -> DockerProject {
    docker_project(HELLO)
}

fn change<'a>(plan: &'a serde_json::Value, address: &str) -> &'a serde_json::Value {
    plan["changes"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["address"] == address))
        .unwrap_or_else(|| panic!("{address} in {plan}"))
}

#[test]
fn build_change_rebuilds_and_replaces_runtime_change_keeps_the_image() {
    let p = hello();
    p.apply(&[]).assert_ok().assert_stdout_contains("5 created");
    for i in 0..2 {
        let page = p.fetch(&p.container_name(i), "");
        assert!(page.contains("page version 1"), "replica {i}: {page}");
    }
    assert_eq!(p.fetch("web", "greeting.txt"), "hello\n");
    assert_eq!(p.containers(), p.recorded_containers());
    p.imm(&["plan", "--detailed-exitcode"]).assert_code(0);

    // A build argument: one rebuild, two replacements, with reasons.
    let plan = p
        .imm(&["plan", "--format", "json", "--var", "page_version=2"])
        .json();
    assert_eq!(plan["summary"]["build"], 1);
    assert_eq!(plan["summary"]["replace"], 3);
    assert_eq!(
        change(&plan, "docker_image.web")["reasons"],
        serde_json::json!(["build changed (args.PAGE_VERSION)"])
    );
    assert_eq!(
        change(&plan, "docker_container.web[1]")["reasons"],
        serde_json::json!(["artifact rebuilt (docker_image.web)"])
    );
    assert_eq!(change(&plan, "docker_image.base")["action"], "noop");
    let v1_image = p.recorded("docker_image.web", "id");
    let v1_tag = p.recorded("docker_image.web", "tag");
    let v1_containers = p.containers();
    p.apply(&["page_version=2"]).assert_ok();
    assert!(p.fetch("web", "").contains("page version 2"));
    let v2_containers = p.containers();
    assert_eq!(v2_containers, p.recorded_containers());
    assert!(
        v2_containers.iter().all(|c| !v1_containers.contains(c)),
        "old containers gone"
    );
    let v2_image = p.recorded("docker_image.web", "id");
    assert_ne!(v1_image, v2_image);

    // A run-time value: new containers from the very same image.
    let plan = p
        .imm(&[
            "plan",
            "--format",
            "json",
            "--var",
            "page_version=2",
            "--var",
            "greeting=bonjour",
        ])
        .json();
    assert_eq!(plan["summary"]["build"], 0);
    assert_eq!(
        change(&plan, "docker_container.web[0]")["reasons"],
        serde_json::json!(["runtime changed (env.GREETING, files[\"/www/greeting.txt\"])"])
    );
    p.apply(&["page_version=2", "greeting=bonjour"]).assert_ok();
    assert_eq!(p.fetch("web", "greeting.txt"), "bonjour\n");
    for id in p.containers() {
        let image = docker(&["inspect", "--format", "{{.Image}}", &id]).stdout;
        assert_eq!(image.trim(), v2_image, "replaced from the same image");
    }
    p.imm(&[
        "plan",
        "--detailed-exitcode",
        "--var",
        "page_version=2",
        "--var",
        "greeting=bonjour",
    ])
    .assert_code(0);

    // The previous image is kept for a rollback; the one before it goes.
    assert_eq!(
        docker(&["image", "inspect", &v1_tag]).code,
        0,
        "v1 kept for rollback"
    );
    p.apply(&["page_version=3", "greeting=bonjour"]).assert_ok();
    assert_ne!(
        docker(&["image", "inspect", &v1_tag]).code,
        0,
        "v1 removed once v3 is in"
    );
    assert!(p.fetch("web", "").contains("page version 3"));
}

#[test]
fn a_failing_new_version_leaves_the_old_one_serving_and_nothing_behind() {
    let p = hello();
    p.apply(&[]).assert_ok();
    let before = p.containers();
    let state_before = p.state();

    // Health check never passes.
    let run = p.apply(&["health_word=bad"]);
    run.assert_fails_with("E0813")
        .assert_fails_with("health check failed");
    assert_eq!(
        p.containers(),
        before,
        "the new containers were removed, the old kept"
    );
    assert!(p.fetch("web", "").contains("page version 1"));
    assert_eq!(
        p.state()["resources"],
        state_before["resources"],
        "state unchanged"
    );

    // The image's test fails: no tag is left for the new fingerprint.
    let run = p.apply(&["page_version=broken"]);
    run.assert_fails_with("E0814")
        .assert_fails_with("image test `test -f /www/index.html` failed");
    assert!(run.all().contains("not attempted"), "{}", run.all());
    let tags = docker(&[
        "images",
        "--format",
        "{{.Tag}}",
        &format!("imm/{}/{}-web", p.prefix, p.prefix),
    ])
    .stdout;
    assert_eq!(
        tags.lines().count(),
        1,
        "only the serving image is tagged: {tags}"
    );
    assert_eq!(p.containers(), before);
    assert!(p.fetch("web", "").contains("page version 1"));
    p.imm(&["plan", "--detailed-exitcode"]).assert_code(0);
}

#[test]
fn a_replacement_drops_no_request() {
    let p = hello();
    p.apply(&[]).assert_ok();
    let image = p.recorded("docker_image.base", "id");
    let client = format!("{}-client", p.prefix);
    let filter_label = format!("imm.project={}", p.label);
    let started = docker(&[
        "run", "-d", "--name", &client, "--label", &filter_label, "--network", &p.network(), &image,
        "sh", "-c",
        "while true; do if wget -q -O - http://web:8080/greeting.txt >/dev/null; then echo ok; else echo FAIL; fi; sleep 0.05; done",
    ]);
    assert_eq!(started.code, 0, "{}", started.stderr);
    std::thread::sleep(Duration::from_secs(1));
    p.apply(&["greeting=again"]).assert_ok();
    std::thread::sleep(Duration::from_secs(1));
    let logs = docker(&["logs", &client]).stdout;
    docker(&["rm", "-f", &client]);
    let ok = logs.lines().filter(|l| *l == "ok").count();
    let failed = logs.lines().filter(|l| *l == "FAIL").count();
    assert!(ok > 20, "the client ran throughout ({ok} requests)");
    assert_eq!(
        failed, 0,
        "no request failed during the replacement:\n{logs}"
    );
}

#[test]
fn an_apply_killed_mid_replacement_converges_on_the_next_run() {
    let p = hello();
    p.apply(&[]).assert_ok();
    let old = p.containers();
    let mut child = Command::new(env!("CARGO_BIN_EXE_imm"))
        .args(["apply", "--auto-approve", "--var", "greeting=after-kill"])
        .current_dir(p.project.path())
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start imm apply");
    let deadline = Instant::now() + Duration::from_secs(60);
    while p.containers().len() <= old.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(p.containers().len() > old.len(), "a new container appeared");
    child.kill().expect("SIGKILL imm");
    let _ = child.wait();
    // The dead run's lock is taken over: no force-unlock.

    let run = p.apply(&["greeting=after-kill"]);
    run.assert_ok();
    let now = p.containers();
    assert_eq!(now.len(), 2, "no leftover container: {now:?}");
    assert_eq!(now, p.recorded_containers(), "state is true to what runs");
    assert_eq!(p.fetch("web", "greeting.txt"), "after-kill\n");
    p.imm(&[
        "plan",
        "--detailed-exitcode",
        "--var",
        "greeting=after-kill",
    ])
    .assert_code(0);
}

const WITH_VOLUME: &str = r#"
resource "docker_image" "base" {
  name = "PFX-base"
  build {
    context = "./base"
  }
}

resource "docker_volume" "data" {
  name = "data"
  lifecycle {
    prevent_destroy = KEEP
  }
}

resource "docker_container" "writer" {
  image   = docker_image.base.id
  command = ["sh", "-c", "echo kept >> /data/log; exec sleep 3600"]
  mount {
    volume = docker_volume.data.name
    target = "/data"
  }
  runtime {
    env = { ROUND = "ROUNDNO" }
  }
}
"#;

#[test]
fn volumes_outlive_replacements_and_destroy_leaves_nothing_labelled() {
    let p = hello();
    let write = |keep: &str, round: &str| {
        let text = WITH_VOLUME
            .replace("PFX", &p.prefix)
            .replace("KEEP", keep)
            .replace("ROUNDNO", round);
        std::fs::write(p.project.file("main.imm"), text).expect("write");
    };
    write("true", "1");
    p.apply(&[]).assert_ok();
    write("true", "2");
    p.apply(&[])
        .assert_ok()
        .assert_stdout_contains("1 replaced");
    let volume = p.recorded("docker_volume.data", "name");
    let image = p.recorded("docker_image.base", "id");
    let mount = format!("{volume}:/data");
    let log = docker(&["run", "--rm", "-v", &mount, &image, "cat", "/data/log"]).stdout;
    assert_eq!(
        log, "kept\nkept\n",
        "the data survived the container's replacement"
    );

    p.imm(&["destroy", "--auto-approve"])
        .assert_fails_with("E0701")
        .assert_fails_with("docker_volume.data has lifecycle.prevent_destroy");
    assert_eq!(p.containers().len(), 1, "nothing was destroyed");

    write("false", "2");
    p.apply(&[]).assert_ok();
    p.imm(&["destroy", "--auto-approve"])
        .assert_ok()
        .assert_stdout_contains("3 destroyed");
    let filter = format!("label=imm.project={}", p.label);
    assert_eq!(docker(&["ps", "-aq", "--filter", &filter]).stdout, "");
    assert_eq!(
        docker(&["network", "ls", "-q", "--filter", &filter]).stdout,
        ""
    );
    assert_eq!(
        docker(&["volume", "ls", "-q", "--filter", &filter]).stdout,
        ""
    );
    let images = docker(&[
        "images",
        "-q",
        &format!("imm/{}/{}-base", p.prefix, p.prefix),
    ])
    .stdout;
    assert_eq!(images, "", "the image went too");
}

const NAMED_OBJECTS: &str = r#"
resource "docker_network" "net" {
  name     = "net"
  internal = true
}

resource "docker_volume" "data" {
  name = "data"
}
"#;

/// Networks and volumes share one executor: each is created under its
/// type's name with the project's labels, a removal behind imm's back shows
/// as drift naming the object, the next apply makes it again, and a destroy
/// removes both.
#[test]
fn a_network_or_volume_removed_behind_imms_back_is_drift_and_made_again() {
    let p = docker_project(NAMED_OBJECTS);
    p.apply(&[]).assert_ok().assert_stdout_contains("2 created");
    let network = p.recorded("docker_network.net", "id");
    let volume = p.recorded("docker_volume.data", "name");
    assert_eq!(
        p.recorded("docker_network.net", "name"),
        format!("{}-default-net", p.prefix)
    );
    assert_eq!(volume, format!("{}-default-data", p.prefix));
    let label = r#"{{index .Labels "imm.address"}} {{.Internal}}"#;
    assert_eq!(
        docker(&["network", "inspect", "--format", label, &network])
            .stdout
            .trim(),
        "docker_network.net true"
    );
    p.imm(&["plan", "--detailed-exitcode"]).assert_code(0);

    docker(&["network", "rm", &network]);
    docker(&["volume", "rm", &volume]);
    let plan = p.imm(&["plan", "--format", "json"]).json();
    let reasons = change(&plan, "docker_network.net")["reasons"].to_string();
    assert!(
        reasons.contains(&format!("network {network} no longer exists")),
        "{reasons}"
    );
    let reasons = change(&plan, "docker_volume.data")["reasons"].to_string();
    assert!(
        reasons.contains(&format!("volume {volume} no longer exists")),
        "{reasons}"
    );
    p.apply(&[]).assert_ok();
    // Made again under the same name, and kept when its record is replaced.
    let again = p.recorded("docker_volume.data", "name");
    assert_eq!(
        docker(&["volume", "inspect", "--format", "{{.Name}}", &again])
            .stdout
            .trim(),
        again
    );
    p.imm(&["plan", "--detailed-exitcode"]).assert_code(0);

    p.imm(&["destroy", "--auto-approve"])
        .assert_ok()
        .assert_stdout_contains("2 destroyed");
    let filter = format!("label=imm.project={}", p.label);
    assert_eq!(
        docker(&["network", "ls", "-q", "--filter", &filter]).stdout,
        ""
    );
    assert_eq!(
        docker(&["volume", "ls", "-q", "--filter", &filter]).stdout,
        ""
    );
}

#[test]
fn no_daemon_is_a_clear_error_before_anything_changes() {
    let p = hello();
    let run = p.project.imm_with_env(
        &["apply", "--auto-approve"],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    run.assert_fails_with("cannot reach the Docker daemon at unix:///nonexistent/docker.sock")
        .assert_fails_with("is Docker running?");
    assert!(!run.all().contains("panicked"));
    let state = p.project.file(".imm/state/default.json");
    if state.exists() {
        let text = std::fs::read_to_string(state).expect("read");
        assert!(
            text.contains("\"resources\": []"),
            "nothing recorded: {text}"
        );
    }
}

/// Copies an example into a fresh project directory (its own names on
/// the daemon), with the static busybox in its `base/`.
#[test]
fn the_three_tier_example_serves_through_every_tier_and_keeps_its_data() {
    let p = example("web-api-db");
    p.apply(&[])
        .assert_ok()
        .assert_stdout_contains("13 created");
    let front = p.recorded("docker_network.front", "name");
    let image = p.recorded("docker_image.base", "id");
    let fetch = || {
        let run = docker(&[
            "run",
            "--rm",
            "--network",
            &front,
            &image,
            "wget",
            "-q",
            "-O",
            "-",
            "http://web:8080/cgi-bin/items",
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.stdout
    };
    assert!(
        fetch().contains("\"items\": [\"apple\",\"pear\"]"),
        "{}",
        fetch()
    );
    let volume = p.recorded("docker_volume.db_data", "name");
    let plan = p
        .imm(&["plan", "--format", "json", "--var", "log_level=debug"])
        .json();
    assert_eq!(plan["summary"]["replace"], 2, "only the API replicas");
    p.apply(&["log_level=debug"]).assert_ok();
    assert_eq!(p.recorded("docker_volume.db_data", "name"), volume);
    assert!(fetch().contains("apple"));
    p.imm(&["destroy", "--auto-approve"])
        .assert_fails_with("E0701");
}

fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    Some(text)
}

#[test]
fn a_container_publishing_a_host_port_is_replaced_stop_first() {
    let p = hello();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port");
    let text = format!(
        "variable \"greeting\" {{\n  type    = string\n  default = \"one\"\n}}\n\nresource \"docker_image\" \"base\" {{\n  name = \"{}-base\"\n  build {{\n    context = \"./base\"\n  }}\n}}\n\nresource \"docker_container\" \"edge\" {{\n  image   = docker_image.base.id\n  command = [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n  ports   = [\"127.0.0.1:{port}:8080\"]\n  runtime {{\n    files = {{ \"/www/index.html\" = \"${{var.greeting}}\\n\" }}\n  }}\n}}\n",
        p.prefix
    );
    std::fs::write(p.project.file("main.imm"), text).expect("write");
    p.apply(&[]).assert_ok();
    assert!(http_get(port, "/").is_some_and(|r| r.ends_with("one\n")));
    let plan = p.imm(&["plan", "--var", "greeting=two"]);
    plan.assert_stdout_contains("-/+ docker_container.edge")
        .assert_stdout_contains("holds host ports");
    p.apply(&["greeting=two"]).assert_ok();
    let answer = http_get(port, "/").unwrap_or_default();
    assert!(answer.ends_with("two\n"), "{answer}");
    let filter = format!("label=imm.project={}", p.label);
    assert_eq!(
        docker(&["ps", "-aq", "--filter", &filter])
            .stdout
            .lines()
            .count(),
        1
    );
}

const PROMOTED: &str = r#"
environment "staging" {
  greeting = "hello staging"
}

environment "prod" {
  greeting     = "hello prod"
  promote_from = "staging"
  protected    = true
}

resource "docker_network" "net" {
  name = "net"
}

resource "docker_image" "base" {
  name = "PFX-base"
  build {
    context = "./base"
  }
}

resource "docker_image" "web" {
  name = "PFX-web"
  build {
    context = "./web"
    args    = { BASE = docker_image.base.id, PAGE_VERSION = "7" }
  }
}

resource "config" "app" {
  values = { greeting = env.greeting, color = "COLOR" }
}

resource "docker_container" "web" {
  image   = docker_image.web.id
  command = ["httpd", "-f", "-p", "8080", "-h", "/www"]
  network {
    name    = docker_network.net.name
    aliases = ["web"]
  }
  runtime {
    env = { GREETING = env.greeting }
  }
}
"#;

#[test]
fn promotion_accepts_only_what_staging_tested_and_config_changes_touch_no_container() {
    let p = hello();
    let write = |color: &str| {
        let text = PROMOTED.replace("PFX", &p.prefix).replace("COLOR", color);
        std::fs::write(p.project.file("main.imm"), text).expect("write");
    };
    write("blue");
    p.imm(&["apply", "--env", "prod", "--auto-approve"])
        .assert_fails_with("environment \"prod\" is protected");
    p.imm(&["plan", "--env", "prod"])
        .assert_ok()
        .assert_stdout_contains("not tested in \"staging\"");
    p.imm(&["apply", "--env", "prod", "--auto-approve", "--yes-really"])
        .assert_fails_with("was not built, applied and tested in \"staging\"");
    assert!(p.containers().is_empty(), "nothing of prod runs");

    p.imm(&["apply", "--env", "staging", "--auto-approve"])
        .assert_ok();
    p.imm(&["plan", "--env", "prod"])
        .assert_ok()
        .assert_stdout_contains("tested in staging");
    p.imm(&["apply", "--env", "prod", "--auto-approve", "--yes-really"])
        .assert_ok();
    let image_of = |env: &str| {
        let text = std::fs::read_to_string(p.project.file(&format!(".imm/state/{env}.json")))
            .expect("state");
        let state: serde_json::Value = serde_json::from_str(&text).expect("json");
        state["resources"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["address"] == "docker_image.web"))
            .and_then(|r| r["outs"]["id"].as_str())
            .map(str::to_string)
            .expect("web image id")
    };
    assert_eq!(
        image_of("prod"),
        image_of("staging"),
        "the tested image itself, not a rebuild"
    );

    let before = p.containers();
    write("green");
    let plan = p
        .imm(&["plan", "--env", "staging", "--format", "json"])
        .json();
    assert_eq!(change(&plan, "config.app")["action"], "reconfigure");
    assert_eq!(plan["summary"]["replace"], 0);
    p.imm(&["apply", "--env", "staging", "--auto-approve"])
        .assert_ok()
        .assert_stdout_contains("0 replaced, 1 reconfigured");
    assert_eq!(p.containers(), before, "no container was touched");
    let stored = std::fs::read_dir(p.project.file(".imm/store/staging/app"))
        .expect("store")
        .count();
    assert_eq!(stored, 2, "two revisions of staging's values");
}

/// An image whose name is no valid repository, used by its tag in a
/// container's image and in its environment.
const TAGGED: &str = r#"
resource "docker_image" "web" {
  name = "My Web"
  build {
    context = "./base"
  }
}

resource "docker_container" "web" {
  image   = docker_image.web.tag
  command = ["sleep", "3600"]
  runtime {
    env = { TAG = docker_image.web.tag }
  }
}
"#;

#[test]
fn an_image_tag_known_at_plan_time_is_the_tag_the_daemon_has() {
    let p = docker_project(TAGGED);
    let planned = p.imm(&["plan", "--format", "json"]);
    planned.assert_ok();
    let plan: serde_json::Value = serde_json::from_str(&planned.stdout).expect("plan JSON");
    let predicted = change(&plan, "docker_container.web")["after"]["image"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        predicted,
        format!(
            "imm/{}/my-web:{}",
            p.prefix,
            &change(&plan, "docker_image.web")["fingerprint"]
                .as_str()
                .unwrap_or_default()[..12]
        ),
        "the plan shows the tag the executor gives"
    );
    p.apply(&[]).assert_ok();
    let container = p.recorded("docker_container.web", "id");
    let env = docker(&[
        "inspect",
        "--format",
        "{{range .Config.Env}}{{println .}}{{end}}",
        &container,
    ])
    .stdout;
    let tag = env
        .lines()
        .find_map(|l| l.strip_prefix("TAG="))
        .unwrap_or_default()
        .to_string();
    assert_eq!(tag, predicted, "the container's env holds the planned tag");
    let image = docker(&["image", "inspect", "--format", "{{.Id}}", &tag]);
    assert_eq!(image.code, 0, "the daemon has {tag}: {}", image.stderr);
    assert_eq!(
        image.stdout.trim(),
        p.recorded("docker_image.web", "id"),
        "the tag names the image imm built"
    );
    p.imm(&["plan", "--detailed-exitcode"]).assert_code(0);
    p.imm(&["destroy", "--auto-approve"]).assert_ok();
}

/// Two projects that both name their image `busybox`.
const SAME_NAME: &str = r#"
resource "docker_image" "base" {
  name = "busybox"
  build {
    context = "./base"
  }
}

resource "docker_container" "idle" {
  image   = docker_image.base.tag
  command = ["sleep", "3600"]
}
"#;

#[test]
fn destroying_one_project_leaves_another_projects_image_of_the_same_name() {
    let first = docker_project(SAME_NAME);
    let second = docker_project(SAME_NAME);
    first.apply(&[]).assert_ok();
    second.apply(&[]).assert_ok();
    assert_ne!(
        first.recorded("docker_image.base", "tag"),
        second.recorded("docker_image.base", "tag"),
        "each project has its own repository"
    );
    first.imm(&["destroy", "--auto-approve"]).assert_ok();
    let image = docker(&[
        "image",
        "inspect",
        &second.recorded("docker_image.base", "tag"),
    ]);
    assert_eq!(image.code, 0, "the other project's image is still there");
    second
        .imm(&["plan", "--detailed-exitcode"])
        .assert_code(0)
        .assert_stdout_contains("No changes");
    second.imm(&["destroy", "--auto-approve"]).assert_ok();
}

#[test]
fn an_image_recorded_under_the_shared_repository_is_renamed_without_a_rebuild() {
    let p = docker_project(SAME_NAME);
    p.apply(&[]).assert_ok();
    // Rewrite the state as version 1 wrote it: `imm/<name>` repositories.
    let image_id = p.recorded("docker_image.base", "id");
    let new_tag = p.recorded("docker_image.base", "tag");
    let fp12 = new_tag.rsplit(':').next().unwrap_or_default().to_string();
    let legacy_tag = format!("imm/{}-legacy:{fp12}", p.prefix);
    assert_eq!(docker(&["tag", &image_id, &legacy_tag]).code, 0);
    let path = p.project.file(".imm/state/default.json");
    let text = std::fs::read_to_string(&path)
        .expect("state")
        .replace(&new_tag, &legacy_tag)
        .replace("\"version\": 2", "\"version\": 1");
    std::fs::write(&path, text).expect("write state");
    assert_eq!(docker(&["rmi", &new_tag]).code, 0);

    let plan = p.imm(&["plan"]);
    plan.assert_ok()
        .assert_stdout_contains("renamed (tag")
        .assert_stdout_contains(&new_tag);
    let applied = p.apply(&[]);
    applied.assert_ok();
    assert!(
        !applied.stdout.contains("Step 1/"),
        "the image is reused by its fingerprint, not built again:\n{}",
        applied.stdout
    );
    assert_eq!(p.recorded("docker_image.base", "tag"), new_tag);
    assert_eq!(p.recorded("docker_image.base", "id"), image_id);
    assert_eq!(
        p.state()["version"],
        2,
        "the state is written in the new version"
    );
    assert_ne!(
        docker(&["image", "inspect", &legacy_tag]).code,
        0,
        "the shared-repository tag is gone"
    );
    p.imm(&["plan", "--detailed-exitcode"]).assert_code(0);
    p.imm(&["destroy", "--auto-approve"]).assert_ok();
}

/// Six replicas replaced on every change of `var.round`.
const SIX: &str = r#"
variable "round" {
  type    = string
  default = "0"
}

resource "docker_image" "base" {
  name = "PFX-base"
  build {
    context = "./base"
  }
}

resource "docker_container" "worker" {
  count   = 6
  image   = docker_image.base.id
  command = ["sh", "-c", "exec sleep 3600"]
  runtime {
    env = { ROUND = var.round }
  }
}
"#;

#[test]
fn applies_killed_at_seeded_points_leave_no_orphan_and_no_leaked_container() {
    let p = docker_project(SIX);
    p.apply(&[]).assert_ok();
    let mut random = common::Seeded(1127);
    for round in 1..=5 {
        let before = p.containers();
        let mut child = Command::new(env!("CARGO_BIN_EXE_imm"))
            .args([
                "apply",
                "--auto-approve",
                "--var",
                &format!("round={round}"),
            ])
            .current_dir(p.project.path())
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start imm apply");
        // Kill once this run has created a container, at a seeded point.
        let deadline = Instant::now() + Duration::from_secs(60);
        while p.containers().iter().all(|id| before.contains(id)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(random.below(400)));
        child.kill().expect("SIGKILL imm");
        let _ = child.wait();
    }
    p.apply(&["round=final"]).assert_ok();
    let running = p.containers();
    let recorded = p.recorded_ids("docker_container.worker", 6);
    assert_eq!(
        running.len(),
        6,
        "no orphan and no leaked container: {running:?}"
    );
    assert_eq!(running, recorded, "state is true to what runs");
    p.imm(&["plan", "--detailed-exitcode", "--var", "round=final"])
        .assert_code(0);
    p.imm(&["destroy", "--auto-approve"]).assert_ok();
    assert!(p.containers().is_empty(), "destroy leaves nothing labelled");
}

#[cfg(unix)]
#[test]
fn a_daemon_that_never_answers_is_an_error_naming_it_within_the_deadline() {
    let (_dir, socket) = frozen_daemon();
    let p = Project::new(&[("main.imm", "resource \"docker_network\" \"net\" {}\n")]);
    let started = Instant::now();
    let run = p.imm_with_env(
        &["apply", "--auto-approve"],
        &[
            ("DOCKER_HOST", &format!("unix://{}", socket.display())),
            ("IMM_DOCKER_TIMEOUT", "2s"),
        ],
    );
    run.assert_fails_with("did not answer within 2 s");
    assert!(run.stderr.contains("frozen.sock"), "{}", run.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the deadline holds: {:?}",
        started.elapsed()
    );
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.file(".imm/state/default.json")).unwrap_or_else(|_| "{}".into()),
    )
    .expect("state JSON");
    assert!(
        state["resources"].as_array().is_none_or(Vec::is_empty),
        "nothing is recorded: {state}"
    );
}

/// A replica that exits at once and has no health check.
const EXITS: &str = r#"
resource "docker_image" "base" {
  name = "PFX-base"
  build {
    context = "./base"
  }
}

resource "docker_container" "short" {
  image   = docker_image.base.id
  command = ["sh", "-c", "echo about to fail; sleep 0.3; exit 3"]
}
"#;

#[test]
fn a_container_that_exits_at_once_without_a_health_check_fails_its_step() {
    let p = docker_project(EXITS);
    let run = p.apply(&[]);
    run.assert_fails_with("stopped (exit status 3) within its start window");
    assert!(
        run.all().contains("about to fail"),
        "its last lines are shown: {}",
        run.all()
    );
    let recorded = p.state()["resources"]
        .as_array()
        .map(|r| r.iter().any(|r| r["address"] == "docker_container.short"))
        .unwrap_or(false);
    assert!(!recorded, "a dead container is never recorded as ready");
    assert!(p.containers().is_empty(), "and none is left behind");
}

#[test]
fn builds_and_image_tests_run_on_the_chosen_network_and_a_missing_one_is_named() {
    let p = docker_project(
        r#"
resource "docker_image" "base" {
  name = "PFX-base"
  build {
    context = "./base"
    network = "none"
  }
  test {
    command = ["sh", "-c", "test -z \"$(ls /sys/class/net | grep -v '^lo$')\""]
    network = "none"
  }
}
"#,
    );
    p.apply(&[]).assert_ok();

    let missing = "imm-test-no-such-network";
    let main = std::fs::read_to_string(p.project.file("main.imm")).expect("read main.imm");
    let more = format!(
        r#"
resource "docker_image" "web" {{
  name = "{prefix}-web"
  build {{
    context = "./web"
    args    = {{ BASE = docker_image.base.id }}
    network = "{missing}"
  }}
}}

resource "docker_image" "probe" {{
  name = "{prefix}-probe"
  build {{
    context = "./web"
    args    = {{ BASE = docker_image.base.id, PAGE_VERSION = "probe" }}
  }}
  test {{
    command = ["true"]
    network = "{missing}"
  }}
}}
"#,
        prefix = p.prefix
    );
    std::fs::write(p.project.file("main.imm"), main + &more).expect("write main.imm");
    let failed = p.apply(&[]);
    assert_ne!(failed.code, 0);
    let said = failed.all();
    assert!(
        said.contains(&format!("no network \"{missing}\""))
            && said.contains("build { network = … }"),
        "the build's error names the network and the setting: {said}"
    );
    assert!(
        said.contains("test { network = … }"),
        "the test's error names the setting: {said}"
    );
}

#[test]
fn going_back_after_a_failed_release_reuses_the_image_and_touches_no_container() {
    let p = hello();
    p.apply(&[]).assert_ok();
    let serving = p.recorded_containers();
    let released = p.apply(&["page_version=2", "health_word=bad"]);
    assert_ne!(released.code, 0, "the release fails its health check");
    assert_eq!(
        p.recorded_containers(),
        serving,
        "the old replicas still serve"
    );

    let plan = p.imm(&["plan", "--format", "json"]).json();
    let image = change(&plan, "docker_image.web");
    assert_eq!(
        image["reuse"], true,
        "the image is reused, not built: {image}"
    );
    for replica in ["docker_container.web[0]", "docker_container.web[1]"] {
        assert_eq!(
            change(&plan, replica)["action"],
            "noop",
            "{replica} is untouched"
        );
    }
    let shown = p.imm(&["plan"]).stdout;
    assert!(
        shown.contains("Reuse (1)") && !shown.contains("Build ("),
        "the plan says reuse, not build:\n{shown}"
    );
    let applied = p.apply(&[]);
    applied.assert_ok();
    assert!(
        !applied.stdout.contains("Step 1/"),
        "nothing was built:\n{}",
        applied.stdout
    );
    assert_eq!(
        p.recorded_containers(),
        serving,
        "no container was replaced"
    );
    assert_eq!(p.containers(), serving, "and none was created");
    p.imm(&["plan", "--detailed-exitcode"]).assert_code(0);
}

/// Two replicas whose served file is run-time configuration, reloaded in
/// place (busybox httpd takes SIGHUP and serves files as they are).
const RELOADED: &str = r#"
variable "greeting" {
  type    = string
  default = "hello"
}

variable "health_word" {
  type    = string
  default = "ok"
}

resource "docker_network" "net" {
  name = "net"
}

resource "docker_image" "base" {
  name = "PFX-base"
  build {
    context = "./base"
  }
}

resource "docker_container" "web" {
  count   = 2
  image   = docker_image.base.id
  name    = "web"
  command = ["httpd", "-f", "-p", "8080", "-h", "/www"]
  network {
    name    = docker_network.net.name
    aliases = ["web"]
  }
  runtime {
    files = {
      "/www/greeting.txt" = "${var.greeting}\n"
      "/www/health.txt"   = "${var.health_word}\n"
    }
  }
  reload {
    signal = "HUP"
    window = "2s"
  }
  health {
    command  = ["sh", "-c", "grep -q ok /www/health.txt && wget -q -O /dev/null http://127.0.0.1:8080/greeting.txt"]
    interval = "200ms"
    retries  = 3
  }
  test {
    command = ["sh", "-c", "wget -q -O - http://127.0.0.1:8080/greeting.txt | grep -q ."]
  }
}
"#;

#[test]
fn a_reloaded_file_change_keeps_the_containers_and_reaches_the_app() {
    let p = docker_project(RELOADED);
    p.apply(&[]).assert_ok();
    let ids = p.recorded_ids("docker_container.web", 2);
    let plan = p
        .imm(&["plan", "--format", "json", "--var", "greeting=bonjour"])
        .json();
    let web = change(&plan, "docker_container.web[0]");
    assert_eq!(web["action"], "reconfigure", "{web}");
    assert!(
        web["reasons"]
            .to_string()
            .contains("files[\\\"/www/greeting.txt\\\"]"),
        "the reason names the file: {web}"
    );
    let shown = p.imm(&["plan", "--var", "greeting=bonjour"]).stdout;
    assert!(
        shown.contains("- hello") && shown.contains("+ bonjour"),
        "the plan shows the changed line:\n{shown}"
    );
    p.apply(&["greeting=bonjour"]).assert_ok();
    assert_eq!(
        p.recorded_ids("docker_container.web", 2),
        ids,
        "same containers"
    );
    assert_eq!(p.containers(), ids, "and no other");
    assert_eq!(p.fetch("web", "greeting.txt").trim(), "bonjour");
    p.imm(&["plan", "--detailed-exitcode", "--var", "greeting=bonjour"])
        .assert_code(0);
}

#[test]
fn a_reload_that_breaks_the_app_puts_the_old_files_back() {
    let p = docker_project(RELOADED);
    p.apply(&[]).assert_ok();
    let ids = p.recorded_ids("docker_container.web", 2);
    let failed = p.apply(&["greeting=bonjour", "health_word=bad"]);
    assert_ne!(
        failed.code, 0,
        "a reload that breaks the health check fails"
    );
    let said = failed.all();
    assert!(
        said.contains("reload failed") && said.contains("put back"),
        "the error says what happened: {said}"
    );
    assert_eq!(
        p.recorded_ids("docker_container.web", 2),
        ids,
        "same containers"
    );
    assert_eq!(
        p.fetch("web", "greeting.txt").trim(),
        "hello",
        "on the old files"
    );
    p.imm(&["plan", "--detailed-exitcode"]).assert_code(0);
}

/// A config value rendered into a reloaded container's file.
const CONFIG_CONSUMER: &str = r#"
variable "greeting" {
  type    = string
  default = "hello"
}

resource "config" "app" {
  values = { greeting = var.greeting }
}

resource "docker_network" "net" {
  name = "net"
}

resource "docker_image" "base" {
  name = "PFX-base"
  build {
    context = "./base"
  }
}

resource "docker_container" "web" {
  image   = docker_image.base.id
  name    = "web"
  command = ["httpd", "-f", "-p", "8080", "-h", "/www"]
  network {
    name    = docker_network.net.name
    aliases = ["web"]
  }
  runtime {
    files = { "/www/greeting.txt" = "${config.app.values.greeting}\n" }
  }
  reload {
    signal = "HUP"
    window = "1s"
  }
  health {
    command  = ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/greeting.txt"]
    interval = "200ms"
    retries  = 3
  }
}
"#;

#[test]
fn an_apply_killed_between_the_store_write_and_the_reload_is_repaired_by_the_next() {
    let p = docker_project(CONFIG_CONSUMER);
    p.apply(&[]).assert_ok();
    let ids = p.recorded_ids("docker_container.web", 1);
    let second_revision = p.project.file(".imm/store/default/app/r000002.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_imm"))
        .args(["apply", "--auto-approve", "--var", "greeting=bonjour"])
        .current_dir(p.project.path())
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start imm apply");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !second_revision.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(second_revision.exists(), "the new values reached the store");
    child.kill().expect("SIGKILL imm");
    let _ = child.wait();

    p.apply(&["greeting=bonjour"]).assert_ok();
    assert_eq!(
        p.fetch("web", "greeting.txt").trim(),
        "bonjour",
        "the app has the new value"
    );
    assert_eq!(
        p.recorded_ids("docker_container.web", 1),
        ids,
        "reloaded, not replaced"
    );
    p.imm(&["plan", "--detailed-exitcode", "--var", "greeting=bonjour"])
        .assert_code(0);
}

#[test]
fn a_config_rollback_reaches_the_running_app_and_keeps_its_container() {
    let p = docker_project(CONFIG_CONSUMER);
    p.apply(&[]).assert_ok();
    let ids = p.recorded_ids("docker_container.web", 1);
    p.apply(&["greeting=bonjour"]).assert_ok();
    assert_eq!(p.fetch("web", "greeting.txt").trim(), "bonjour");

    let rollback = p.imm(&[
        "config",
        "rollback",
        "app",
        "1",
        "--auto-approve",
        "--var",
        "greeting=bonjour",
    ]);
    rollback
        .assert_ok()
        .assert_stdout_contains("~   config.app")
        .assert_stdout_contains("~   docker_container.web")
        .assert_stdout_contains("+ hello");
    assert_eq!(
        p.fetch("web", "greeting.txt").trim(),
        "hello",
        "the running app has the rolled-back value"
    );
    assert_eq!(
        p.recorded_ids("docker_container.web", 1),
        ids,
        "reloaded in place, not replaced"
    );
    let history = p.imm(&["config", "history", "app"]).stdout;
    assert!(
        history.contains("[imm config rollback to 1]  (current)"),
        "{history}"
    );
    let plan = p
        .imm(&["plan", "--format", "json", "--var", "greeting=bonjour"])
        .json();
    assert_eq!(
        change(&plan, "docker_container.web")["action"],
        "reconfigure",
        "until the configuration says the same, the next plan goes forward again: {plan}"
    );
}
