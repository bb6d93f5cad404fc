//! `docker_service` on real swarms, end to end through the `imm` binary,
//! each swarm made by its test on engines in network namespaces of its own
//! (the host engine's swarm, if any, is never touched): one engine (a
//! rolling update under a client's load, a failing update rolled back while
//! the old tasks serve, destroy under load leaving nothing, ten times), and
//! three engines (one task per node; a node lost, then plan and a rolling
//! update through the other managers that brings every slot to the new
//! version while a client keeps being served).

mod common;
#[path = "support/docker.rs"]
mod docker_project;
#[path = "support/swarm.rs"]
mod swarm;

use docker_project::{docker, docker_project, DockerProject};
use swarm::Nodes;

const SERVICE: &str = r#"
variable "page_version" {
  type    = string
  default = "1"
}

variable "health_port" {
  type    = string
  default = "8080"
}

# Room for a start-first update on one node (three old tasks, three new).
variable "per_node" {
  type    = number
  default = 6
}

secret "token" {
  from = "env:SWARM_TEST_TOKEN"
}

ENGINE

resource "docker_image" "base" {
  name = "PFX-base"
  ON_ENGINE
  build {
    context = "./base"
  }
}

resource "docker_image" "web" {
  name = "PFX-web"
  ON_ENGINE
  build {
    context = "./web"
    args    = { BASE = docker_image.base.id, PAGE_VERSION = var.page_version }
  }
}

resource "docker_network" "net" {
  ON_ENGINE
  driver     = "overlay"
  attachable = true
}

resource "docker_service" "web" {
  ON_ENGINE
  image        = docker_image.web.id
  replicas     = 3
  command      = ["httpd", "-f", "-p", "8080", "-h", "/www"]
  stop_timeout = "2s"
  deadline     = "3m"
  network {
    name    = docker_network.net.name
    aliases = ["web"]
  }
  runtime {
    files   = { "/www/greeting.txt" = "greeting for page ${var.page_version}" }
    secrets = { token = secret.token }
  }
  health {
    command  = ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:${var.health_port}/"]
    interval = "1s"
    timeout  = "1s"
    retries  = 2
  }
  update {
    monitor = "2s"
  }
  placement {
    max_replicas_per_node = var.per_node
  }
}
"#;

/// Instances of `for_each`: one service each, named by its key.
const WORKERS: &str = r#"
resource "docker_service" "worker" {
  for_each = toset(["a", "b"])
  engine   = engine.nodes
  image    = docker_image.web.repo_digest
  command  = ["sleep", "100000"]
}
"#;

/// Staging builds on one node and pushes; prod lives on another node.
const PROMOTED: &str = r#"
environment "staging" {
  endpoint = "STAGING"
}

environment "prod" {
  promote_from = "staging"
  endpoint     = "PROD"
}

engine "room" {
  endpoints = [env.endpoint]
  registry {
    address  = "REGISTRY"
    insecure = true
  }
}

resource "docker_image" "base" {
  engine = engine.room
  build {
    context = "./base"
  }
}
"#;

const TOKEN: &str = "tok-7f3a9c1e55";

fn project(engine: &str, on_engine: &str) -> DockerProject {
    docker_project(
        &SERVICE
            .replace("ON_ENGINE", on_engine)
            .replace("ENGINE", engine),
    )
}

fn apply(p: &DockerProject, vars: &[&str]) -> common::Run {
    let mut args = vec!["apply", "--auto-approve"];
    for v in vars {
        args.extend(["--var", v]);
    }
    p.project
        .imm_with_env(&args, &[("SWARM_TEST_TOKEN", TOKEN)])
}

/// Swarm objects labelled with the project, as `docker KIND ls` lists them
/// on node 1.
fn labelled(nodes: &Nodes, p: &DockerProject, kind: &str) -> Vec<String> {
    let filter = format!("label=imm.project={}", p.label);
    let listed = nodes.docker(1, &[kind, "ls", "-q", "--filter", &filter]);
    listed
        .stdout
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// A client on node `node`, on `network`, asking for `url` every 100 ms,
/// one line per answer ("FAIL" when there was none).
fn start_client(nodes: &Nodes, node: usize, p: &DockerProject, network: &str, url: &str) -> String {
    let name = format!("{}-client", p.prefix);
    let image = p.recorded("docker_image.base", "id");
    let script = format!(
        "while true; do if wget -q -O /tmp/page {url} 2>/dev/null; then cat /tmp/page; echo; else echo FAIL; fi; sleep 0.1; done"
    );
    let started = nodes.docker(
        node,
        &[
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            network,
            &image,
            "sh",
            "-c",
            &script,
        ],
    );
    assert_eq!(started.code, 0, "starting the client: {}", started.stderr);
    name
}

fn client_lines(nodes: &Nodes, node: usize, name: &str) -> Vec<String> {
    nodes
        .docker(node, &["logs", name])
        .stdout
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The longest run of failed requests in the client's lines.
fn longest_failure(lines: &[String]) -> usize {
    lines
        .split(|l| l != "FAIL")
        .map(<[String]>::len)
        .max()
        .unwrap_or(0)
}

/// What `path` holds in one running task of the service (on node 1).
fn in_a_task(nodes: &Nodes, p: &DockerProject, path: &str) -> String {
    let service = p.recorded("docker_service.web", "name");
    let filter = format!("label=com.docker.swarm.service.name={service}");
    let ids = nodes.docker(1, &["ps", "-q", "--filter", &filter]).stdout;
    let id = ids.split_whitespace().next().expect("a running task");
    nodes.docker(1, &["exec", id, "cat", path]).stdout
}

#[test]
fn a_service_rolls_out_task_by_task_and_a_failed_update_leaves_the_old_tasks_serving() {
    docker_project::require_docker();
    let nodes = Nodes::up(1);
    let p = project(&nodes.unix_engine("own"), "engine = engine.own");

    apply(&p, &[]).assert_ok();
    let service = p.recorded("docker_service.web", "name");
    let replicas = nodes.docker(
        1,
        &[
            "service",
            "ls",
            "--filter",
            &format!("name={service}"),
            "--format",
            "{{.Replicas}}",
        ],
    );
    assert!(
        replicas.stdout.starts_with("3/3"),
        "every task runs healthy after the apply: {}",
        replicas.stdout
    );
    assert_eq!(
        in_a_task(&nodes, &p, "/www/greeting.txt"),
        "greeting for page 1"
    );
    assert_eq!(in_a_task(&nodes, &p, "/run/secrets/token"), TOKEN);
    let state = std::fs::read_to_string(p.project.file(".imm/state/default.json")).expect("state");
    assert!(
        !state.contains(TOKEN),
        "the secret's value is never in state"
    );

    let client = start_client(
        &nodes,
        1,
        &p,
        &p.recorded("docker_network.net", "name"),
        "http://web:8080/",
    );
    std::thread::sleep(std::time::Duration::from_secs(1));
    let service_id = p.recorded("docker_service.web", "id");
    let rolled = apply(&p, &["page_version=2"]);
    rolled.assert_ok();
    assert_eq!(
        p.recorded("docker_service.web", "id"),
        service_id,
        "an update keeps the service (its name is what clients use)"
    );
    assert_eq!(
        in_a_task(&nodes, &p, "/www/greeting.txt"),
        "greeting for page 2"
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    let during = client_lines(&nodes, 1, &client);
    assert!(
        !during.iter().any(|l| l == "FAIL"),
        "the client was never refused during the rolling update: {during:?}"
    );
    assert!(during.iter().any(|l| l.contains("page version 1")));
    assert_eq!(
        during.last().map(String::as_str),
        Some("<p>hello from imm, page version 2</p>"),
        "the new version serves once the update is done"
    );

    // The new tasks never get healthy: Swarm rolls back by itself.
    let seen = client_lines(&nodes, 1, &client).len();
    let failed = apply(&p, &["page_version=3", "health_port=9999"]);
    assert_eq!(
        failed.code,
        1,
        "a rolled-back update fails the apply: {}",
        failed.all()
    );
    assert!(
        failed.stderr.contains("rolled it back")
            && failed.stderr.contains("previous version keeps serving"),
        "{}",
        failed.stderr
    );
    let after_failure = client_lines(&nodes, 1, &client)[seen..].to_vec();
    assert!(
        !after_failure.is_empty() && after_failure.iter().all(|l| l.contains("page version 2")),
        "the old tasks served throughout the failed update: {after_failure:?}"
    );
    assert_eq!(
        in_a_task(&nodes, &p, "/www/greeting.txt"),
        "greeting for page 2"
    );
    let plan = p.project.imm_with_env(
        &["plan", "--var", "page_version=2"],
        &[("SWARM_TEST_TOKEN", TOKEN)],
    );
    plan.assert_ok();
    assert!(
        plan.stdout.contains("0 to replace"),
        "state still records the version that serves: {}",
        plan.stdout
    );

    // imm is SIGKILLed while Swarm rolls the next version out; the next
    // apply finishes the job and leaves only what the service uses.
    let mut killed = std::process::Command::new(env!("CARGO_BIN_EXE_imm"))
        .args(["apply", "--auto-approve", "--var", "page_version=4"])
        .current_dir(p.project.path())
        .env("SWARM_TEST_TOKEN", TOKEN)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start imm apply");
    let service = p.recorded("docker_service.web", "name");
    let updating = || {
        let format = "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}";
        nodes
            .docker(1, &["service", "inspect", &service, "--format", format])
            .stdout
            .trim()
            == "updating"
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !updating() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(updating(), "the rolling update to version 4 started");
    killed.kill().expect("SIGKILL imm");
    let _ = killed.wait();
    apply(&p, &["page_version=4"]).assert_ok();
    assert_eq!(
        in_a_task(&nodes, &p, "/www/greeting.txt"),
        "greeting for page 4"
    );
    p.project
        .imm_with_env(
            &["plan", "--detailed-exitcode", "--var", "page_version=4"],
            &[("SWARM_TEST_TOKEN", TOKEN)],
        )
        .assert_code(0);
    assert_eq!(
        (
            labelled(&nodes, &p, "config").len(),
            labelled(&nodes, &p, "secret").len()
        ),
        (1, 1),
        "one config and one secret: those the service uses; what the killed run made is swept"
    );

    nodes.docker(1, &["rm", "-f", &client]);
    p.project
        .imm_with_env(
            &["destroy", "--auto-approve"],
            &[("SWARM_TEST_TOKEN", TOKEN)],
        )
        .assert_ok();
    for kind in ["service", "config", "secret", "network"] {
        assert_eq!(
            labelled(&nodes, &p, kind),
            Vec::<String>::new(),
            "no {kind} is left"
        );
    }
}

/// A service with a config and a secret on a network of its own, also on
/// the test's network where a client reaches it (a container of the
/// test's own on the project's network would keep that network, rightly).
const UNDER_LOAD: &str = r#"
variable "image" {
  type = string
}

variable "client_net" {
  type = string
}

ENGINE

resource "docker_network" "net" {
  engine     = engine.own
  driver     = "overlay"
  attachable = true
}

resource "docker_service" "web" {
  engine       = engine.own
  image        = var.image
  replicas     = 2
  command      = ["httpd", "-f", "-p", "8080", "-h", "/www"]
  stop_timeout = "2s"
  network {
    name = docker_network.net.name
  }
  network {
    name    = var.client_net
    aliases = ["web"]
  }
  runtime {
    files   = { "/www/greeting.txt" = "served" }
    secrets = { token = secret.token }
  }
}

secret "token" {
  from = "env:SWARM_TEST_TOKEN"
}
"#;

#[test]
fn destroy_under_load_leaves_no_network_config_or_secret_ten_times_in_a_row() {
    docker_project::require_docker();
    let nodes = Nodes::up(1);
    let p = docker_project(&UNDER_LOAD.replace("ENGINE", &nodes.unix_engine("own")));
    let image = format!("{}-load", p.prefix);
    let built = nodes.docker(
        1,
        &[
            "build",
            "-q",
            "-t",
            &image,
            &p.project.file("base").to_string_lossy(),
        ],
    );
    assert_eq!(built.code, 0, "building the image: {}", built.stderr);
    let client_net = format!("{}-clients", p.prefix);
    let made = nodes.docker(
        1,
        &[
            "network",
            "create",
            "-d",
            "overlay",
            "--attachable",
            &client_net,
        ],
    );
    assert_eq!(made.code, 0, "the client's network: {}", made.stderr);
    let client = format!("{}-client", p.prefix);
    let script = "while true; do if wget -q -O /tmp/page http://web:8080/greeting.txt 2>/dev/null; then cat /tmp/page; echo; else echo FAIL; fi; sleep 0.1; done";
    let started = nodes.docker(
        1,
        &[
            "run",
            "-d",
            "--name",
            &client,
            "--network",
            &client_net,
            &image,
            "sh",
            "-c",
            script,
        ],
    );
    assert_eq!(started.code, 0, "starting the client: {}", started.stderr);
    let vars = [
        "--var".to_string(),
        format!("image={image}"),
        "--var".to_string(),
        format!("client_net={client_net}"),
    ];
    let imm = |command: &str| {
        let mut args = vec![command, "--auto-approve"];
        args.extend(vars.iter().map(String::as_str));
        p.project
            .imm_with_env(&args, &[("SWARM_TEST_TOKEN", TOKEN)])
    };
    for round in 1..=10 {
        imm("apply").assert_ok();
        let served = client_lines(&nodes, 1, &client).len();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while client_lines(&nodes, 1, &client)[served..]
            .iter()
            .all(|l| l != "served")
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        assert!(
            client_lines(&nodes, 1, &client)[served..]
                .iter()
                .any(|l| l == "served"),
            "round {round}: the client is served before the destroy"
        );
        let destroyed = imm("destroy");
        destroyed.assert_ok();
        for kind in ["service", "network", "config", "secret"] {
            assert_eq!(
                labelled(&nodes, &p, kind),
                Vec::<String>::new(),
                "round {round}: no {kind} is left right after destroy: {}",
                destroyed.all()
            );
        }
    }
}

#[test]
fn a_three_node_swarm_keeps_deploying_when_a_node_is_lost() {
    docker_project::require_docker();
    let nodes = Nodes::up(3);
    // The first manager by its socket, the other two over the network with
    // mutual TLS; imm runs on the nodes' network.
    let tls = nodes.tls();
    let engine = format!(
        "engine \"nodes\" {{\n  endpoints = [\"{}\", \"{}\", \"{}\"]\n  tls {{\n    ca   = \"{}\"\n    cert = \"{}\"\n    key  = \"{}\"\n  }}\n}}",
        nodes.endpoint(1),
        nodes.tls_endpoint(2),
        nodes.tls_endpoint(3),
        tls.join("ca.pem").display(),
        tls.join("cert.pem").display(),
        tls.join("key.pem").display(),
    );
    let p = project(&engine, "engine = engine.nodes");
    let imm = |args: &[&str]| nodes.imm(p.project.path(), args, &[("SWARM_TEST_TOKEN", TOKEN)]);

    // A CA that did not sign the daemons' certificates: refused, and said why.
    let untrusted = common::Project::new(&[(
        "main.imm",
        &format!(
            "engine \"n\" {{\n  endpoints = [\"{}\"]\n  tls {{\n    ca   = \"{}\"\n    cert = \"{}\"\n    key  = \"{}\"\n  }}\n}}\n\nresource \"docker_network\" \"net\" {{\n  engine = engine.n\n}}\n",
            nodes.tls_endpoint(2),
            tls.join("cert.pem").display(),
            tls.join("cert.pem").display(),
            tls.join("key.pem").display(),
        ),
    )]);
    let refused = nodes.imm(untrusted.path(), &["apply", "--auto-approve"], &[]);
    refused.assert_fails_with("UnknownIssuer");
    let apply = |version: &str, per_node: &str| {
        imm(&[
            "apply",
            "--auto-approve",
            "--var",
            &format!("page_version={version}"),
            "--var",
            &format!("per_node={per_node}"),
        ])
    };

    apply("1", "1").assert_ok();
    let service = p.recorded("docker_service.web", "name");
    let filter = format!("label=com.docker.swarm.service.name={service}");
    let tasks_on = |i: usize| nodes.tasks_on(i, &service);
    assert_eq!(
        (tasks_on(1), tasks_on(2), tasks_on(3)),
        (1, 1, 1),
        "Swarm spreads the three tasks over the three nodes, each with the image imm loaded there"
    );
    assert_eq!(
        docker(&["ps", "-q", "--filter", &filter]).stdout.trim(),
        "",
        "nothing of it runs on the host's engine"
    );

    // A client on node 3 asks for the page through the service's name.
    let client = start_client(
        &nodes,
        3,
        &p,
        &p.recorded("docker_network.net", "name"),
        "http://web:8080/",
    );
    std::thread::sleep(std::time::Duration::from_secs(1));

    // The first endpoint, the swarm's first manager, is lost; at once a
    // plan and a rolling update that allows two tasks per node. imm waits
    // until Swarm declares the node down before it starts the update, so
    // that no task of the new version is given to the lost node.
    nodes.kill(1);
    let plan = imm(&["plan", "--var", "page_version=2", "--var", "per_node=2"]);
    plan.assert_ok();
    assert!(
        plan.stdout.contains("docker_service.web"),
        "{}",
        plan.stdout
    );
    let started = std::time::Instant::now();
    apply("2", "2").assert_ok();
    let update_took = started.elapsed();
    assert!(
        update_took < std::time::Duration::from_secs(120),
        "the update after a node's loss ends well before its deadline: {update_took:?}"
    );
    let image = p.recorded("docker_image.web", "id");
    let running = || -> Vec<String> {
        [2, 3]
            .iter()
            .flat_map(|&i| {
                nodes
                    .docker(i, &["ps", "--filter", &filter, "--format", "{{.Image}}"])
                    .stdout
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let updated = running()
        .iter()
        .filter(|i| image.contains(i.as_str()))
        .count();
    assert!(
        updated >= 3,
        "at least three tasks of the new image {image} run on the two nodes left: {:?}",
        running()
    );
    // Old tasks stop within their stop timeout; a task the lost node held is
    // replaced once the swarm declares the node down; the extra ones go.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    while running().len() != 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let settled = running();
    assert!(
        settled.len() == 3 && settled.iter().all(|i| image.contains(i.as_str())),
        "three tasks, all of the new image, once the swarm settles: {settled:?}"
    );

    let lines = client_lines(&nodes, 3, &client);
    let failing = longest_failure(&lines);
    eprintln!(
        "update after node loss: {update_took:?}; client: {} answers, longest failure {failing} requests",
        lines.len()
    );
    assert!(
        failing <= 50,
        "requests through the service's name fail for at most about 5 s in a row (50 requests): {failing}"
    );
    assert!(
        lines.last().is_some_and(|l| l.contains("page version 2")),
        "the client ends on the new version: {:?}",
        lines.last()
    );
    // Swarm's self-heal (tasks moved off the lost node) is no drift.
    imm(&[
        "plan",
        "--detailed-exitcode",
        "--var",
        "page_version=2",
        "--var",
        "per_node=2",
    ])
    .assert_code(0);

    nodes.docker(3, &["rm", "-f", &client]);
    imm(&["destroy", "--auto-approve"]).assert_ok();
    for i in [2, 3] {
        let reference = format!("reference=imm/{}/*", p.label);
        let images = nodes.docker(i, &["images", "-q", "--filter", &reference]);
        assert_eq!(
            images.stdout.trim(),
            "",
            "destroy removes the images imm loaded into node {i}"
        );
    }
}

#[test]
fn with_a_registry_every_node_pulls_the_same_digest_and_one_endpoint_over_ssh_is_enough() {
    docker_project::require_docker();
    let nodes = Nodes::up(2);
    let registry = nodes.registry(1, 5000);
    let (over_ssh, path) = nodes.sshd(1);
    // Only the first node is an endpoint, reached over ssh from the nodes'
    // network: the second gets the images from the registry, never
    // through imm.
    let engine = format!(
        "engine \"nodes\" {{\n  endpoints = [\"{over_ssh}\"]\n  registry {{\n    address  = \"{registry}\"\n    insecure = true\n  }}\n}}"
    );
    let text = SERVICE
        .replace(
            "image        = docker_image.web.id",
            "image = docker_image.web.repo_digest",
        )
        .replace("ON_ENGINE", "engine = engine.nodes")
        .replace("ENGINE", &engine);
    let p = docker_project(&(text + WORKERS));
    let imm = |args: &[&str]| {
        nodes.imm(
            p.project.path(),
            args,
            &[("SWARM_TEST_TOKEN", TOKEN), ("PATH", &path)],
        )
    };

    imm(&["apply", "--auto-approve"]).assert_ok();
    let pinned = p.recorded("docker_image.web", "repo_digest");
    assert!(
        pinned.starts_with(&format!("{registry}/imm/")) && pinned.contains("@sha256:"),
        "the image is recorded by its digest in the registry: {pinned}"
    );
    let service = p.recorded("docker_service.web", "name");
    let service_image = || {
        let format = "{{.Spec.TaskTemplate.ContainerSpec.Image}}";
        nodes.docker(1, &["service", "inspect", &service, "--format", format])
    };
    let image = service_image();
    assert_eq!(
        image.stdout.trim(),
        pinned,
        "the service runs the pinned digest"
    );
    let tasks_on = |i: usize| nodes.tasks_on(i, &service);
    assert_eq!(tasks_on(1) + tasks_on(2), 3, "every task runs");
    assert!(
        tasks_on(2) >= 1,
        "the node that is no endpoint runs tasks too, from the registry"
    );
    let workers = nodes.docker(1, &["service", "ls", "--format", "{{.Name}} {{.Replicas}}"]);
    for key in ["a", "b"] {
        assert!(
            workers
                .stdout
                .lines()
                .any(|l| l.ends_with(&format!("-worker-{key} 1/1"))),
            "each instance of for_each is a service of its own, named by its key: {}",
            workers.stdout
        );
    }
    let digest = pinned.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    let pulled = nodes.docker(2, &["images", "--digests", "--format", "{{.Digest}}"]);
    assert!(
        pulled.stdout.lines().any(|d| d == digest),
        "node 2 pulled the digest {digest}: {}",
        pulled.stdout
    );

    // A new version: pushed, pinned, rolled out on both nodes.
    imm(&["apply", "--auto-approve", "--var", "page_version=2"]).assert_ok();
    let repinned = p.recorded("docker_image.web", "repo_digest");
    assert_ne!(repinned, pinned, "the new build has its own digest");
    let image = service_image();
    assert_eq!(image.stdout.trim(), repinned);
    imm(&["plan", "--detailed-exitcode", "--var", "page_version=2"]).assert_code(0);
    imm(&["destroy", "--auto-approve"]).assert_ok();
    assert_eq!(
        nodes.docker(1, &["service", "ls", "-q"]).stdout.trim(),
        "",
        "destroy leaves no service"
    );

    // Promotion between engines: prod pulls the digest staging tested
    // instead of building again (a rebuild would differ in its
    // timestamps, so in its id).
    let promoted = docker_project(
        &PROMOTED
            .replace("STAGING", &over_ssh)
            .replace("PROD", &nodes.endpoint(2))
            .replace("REGISTRY", &registry),
    );
    let on = |env: &str| {
        let args = ["apply", "--auto-approve", "--env", env];
        nodes.imm(promoted.project.path(), &args, &[("PATH", &path)])
    };
    on("staging").assert_ok();
    let prod = on("prod");
    prod.assert_ok();
    let recorded = |env: &str, out: &str| promoted.recorded_in(env, "docker_image.base", out);
    assert_eq!(
        (recorded("prod", "id"), recorded("prod", "repo_digest")),
        (
            recorded("staging", "id"),
            recorded("staging", "repo_digest")
        ),
        "prod runs the very image staging tested: {}",
        prod.all()
    );
    assert!(!recorded("prod", "repo_digest").is_empty());
}
