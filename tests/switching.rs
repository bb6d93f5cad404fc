//! Zero-downtime switching under load, on the real Docker Engine: a
//! two-tier shop (api ×N behind a `docker_proxy` on `front`, api → db on
//! `back`), both cores kept busy, a client in a container resolving the
//! served name and asking every 50 ms. Replacements, a release whose health
//! check fails, scaling and the destroy of a tier must lose no request,
//! and the rejected release must never answer one.
//!
//! Needs a running Docker Engine, a static busybox (Debian's
//! `busybox-static`) and Debian's nginx (`nginx-light`) for the proxy
//! image; `scripts/test.sh` installs both.

mod common;
#[path = "support/docker.rs"]
mod docker_project;

use docker_project::{docker, docker_project, DockerProject};
use std::process::{Child, Command};
use std::time::Duration;

const SHOP: &str = r#"
variable "release" {
  type    = string
  default = "1"
}

variable "replicas" {
  type    = number
  default = 2
}

variable "canaries" {
  type    = number
  default = 0
}

resource "docker_network" "front" {
  name = "front"
}

resource "docker_network" "back" {
  name     = "back"
  internal = true
}

resource "docker_image" "base" {
  name = "PFX-base"
  build {
    context = "./base"
  }
}

resource "docker_image" "api" {
  name = "PFX-api"
  build {
    context = "./api"
    args    = { BASE = docker_image.base.id }
  }
}

resource "docker_image" "proxy" {
  name = "PFX-proxy"
  build {
    context = "./proxy"
  }
}

resource "docker_container" "db" {
  image   = docker_image.base.id
  name    = "db"
  command = ["sh", "-c", "echo apple > /www/items.txt; exec httpd -f -p 5432 -h /www"]
  network {
    name    = docker_network.back.name
    aliases = ["db"]
  }
}

resource "docker_proxy" "api" {
  image   = docker_image.proxy.id
  network = docker_network.front.name
  aliases = ["api"]
  port    = 8080
}

resource "docker_container" "api" {
  count   = var.replicas
  image   = docker_image.api.id
  name    = "api"
  command = ["httpd", "-f", "-p", "8080", "-h", "/www"]
  network {
    name = docker_network.back.name
  }
  network {
    name  = docker_network.front.name
    proxy = docker_proxy.api.name
  }
  runtime {
    env = { RELEASE = var.release }
  }
  health {
    command  = ["sh", "-c", "test \"$RELEASE\" != rejected && wget -q -O /dev/null http://127.0.0.1:8080/cgi-bin/items"]
    interval = "200ms"
    timeout  = "3s"
    retries  = 5
  }
  drain = "1s"
}

resource "docker_container" "canary" {
  count   = var.canaries
  image   = docker_image.api.id
  name    = "canary"
  command = ["httpd", "-f", "-p", "8080", "-h", "/www"]
  network {
    name = docker_network.back.name
  }
  network {
    name  = docker_network.front.name
    proxy = docker_proxy.api.name
  }
  runtime {
    env = { RELEASE = "canary" }
  }
  health {
    command  = ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/cgi-bin/items"]
    interval = "200ms"
    retries  = 10
  }
  drain = "1s"
}
"#;

const API_DOCKERFILE: &str = "ARG BASE\nFROM ${BASE}\nCOPY items /www/cgi-bin/items\nRUN chmod 0755 /www/cgi-bin/items\n";

/// Answers `<release> <items from db>`; fails when the db is unreachable.
const API_CGI: &str = "#!/bin/sh\nitems=$(wget -q -O - http://db:5432/items.txt) || exit 1\necho 'Content-Type: text/plain'\necho\necho \"$RELEASE $items\"\n";

/// Processes spinning on the host's cores, stopped when dropped.
struct BusyCores(Vec<Child>);

impl BusyCores {
    fn start(count: usize) -> BusyCores {
        let spin = |_| {
            Command::new("sh")
                .args(["-c", "while :; do :; done"])
                .spawn()
                .expect("start a busy loop")
        };
        BusyCores((0..count).map(spin).collect())
    }
}

impl Drop for BusyCores {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A container asking `http://api:8080/cgi-bin/items` every 50 ms (busybox
/// wget resolves the name for each request), printing one line per answer.
struct Client {
    name: String,
}

impl Client {
    fn start(p: &DockerProject) -> Client {
        let name = format!("{}-client", p.prefix);
        let image = p.recorded("docker_image.base", "id");
        let network = p.recorded("docker_network.front", "name");
        let label = format!("imm.project={}", p.label);
        let started = docker(&[
            "run", "-d", "--name", &name, "--label", &label, "--network", &network, &image,
            "sh", "-c",
            "while true; do r=$(timeout 10 wget -q -O - http://api:8080/cgi-bin/items 2>&1); case \"$r\" in *apple*) echo \"ok $r\";; *) echo \"FAIL $r\";; esac; sleep 0.05; done",
        ]);
        assert_eq!(started.code, 0, "starting the client: {}", started.stderr);
        Client { name }
    }

    /// Every line printed so far.
    fn answers(&self) -> Vec<String> {
        docker(&["logs", &self.name])
            .stdout
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        docker(&["rm", "-f", &self.name]);
    }
}

fn shop() -> DockerProject {
    let p = docker_project(SHOP);
    std::fs::create_dir_all(p.project.file("api")).expect("create api/");
    for (path, text) in [("api/Dockerfile", API_DOCKERFILE), ("api/items", API_CGI)] {
        std::fs::write(p.project.file(path), text).expect("write the api context");
    }
    let proxy_dir = p.project.file("proxy");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/prepare-proxy.sh");
    let prepared = Command::new(&script)
        .arg(&proxy_dir)
        .output()
        .expect("run scripts/prepare-proxy.sh");
    assert!(
        prepared.status.success(),
        "the proxy image needs Debian's nginx: apt-get install nginx-light (scripts/test.sh does it): {}",
        String::from_utf8_lossy(&prepared.stderr)
    );
    p
}

/// Counts of answers since `from`: (ok, failed, answered by the release
/// `rejected`), with the failed lines.
fn tally(answers: &[String], from: usize) -> (usize, Vec<String>, usize) {
    let seen = answers.get(from..).unwrap_or_default();
    let ok = seen.iter().filter(|a| a.starts_with("ok ")).count();
    let failed: Vec<String> = seen
        .iter()
        .filter(|a| !a.starts_with("ok "))
        .cloned()
        .collect();
    let rejected = seen.iter().filter(|a| a.contains("rejected")).count();
    (ok, failed, rejected)
}

/// The networks container `id` is connected to, sorted.
fn networks_of(id: &str) -> Vec<String> {
    let listed = docker(&[
        "inspect",
        "-f",
        "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}} {{end}}",
        id,
    ])
    .stdout;
    let mut names: Vec<String> = listed.split_whitespace().map(str::to_string).collect();
    names.sort();
    names
}

fn running_api_containers(p: &DockerProject) -> usize {
    let filter = format!("label=imm.project={}", p.label);
    let addresses = docker(&[
        "ps",
        "--filter",
        &filter,
        "--format",
        "{{.Label \"imm.address\"}}",
    ])
    .stdout;
    addresses
        .lines()
        .filter(|a| a.starts_with("docker_container.api["))
        .count()
}

#[test]
fn switches_under_load_lose_no_request_and_a_rejected_release_never_serves() {
    let p = shop();
    p.apply(&[]).assert_ok();
    let busy = BusyCores::start(2);
    let client = Client::start(&p);
    std::thread::sleep(Duration::from_secs(1));

    for release in 2..=9 {
        p.apply(&[&format!("release={release}")]).assert_ok();
    }
    let after_switches = client.answers();
    let (ok, failed, _) = tally(&after_switches, 0);
    println!(
        "8 replacements under load: {ok} answered, {} failed",
        failed.len()
    );
    assert!(
        after_switches.iter().any(|a| a.contains("ok 9 apple")),
        "the last release serves"
    );

    let serving = p.recorded_ids("docker_container.api", 2);
    let rejected = p.apply(&["release=rejected"]);
    assert_ne!(rejected.code, 0, "a release failing its health check is refused");
    assert!(
        rejected.all().contains("health"),
        "the refusal names the health check: {}",
        rejected.all()
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        p.recorded_ids("docker_container.api", 2),
        serving,
        "the old replicas are still the recorded ones"
    );
    let front = p.recorded("docker_network.front", "name");
    let back = p.recorded("docker_network.back", "name");
    let mut both = vec![front, back];
    both.sort();
    for id in &serving {
        assert_eq!(networks_of(id), both, "{id} is still on all its networks");
    }
    assert_eq!(running_api_containers(&p), 2, "nothing of the rejected release is left");

    let answers = client.answers();
    let (ok, failed, from_rejected) = tally(&answers, 0);
    println!(
        "with the rejected release: {ok} answered, {} failed, {from_rejected} from the rejected release",
        failed.len()
    );
    drop(busy);
    assert!(ok > 50, "the client ran throughout ({ok} answers)");
    assert_eq!(from_rejected, 0, "the rejected release never answered");
    assert!(failed.is_empty(), "no request failed: {failed:?}");
}

#[test]
fn scaling_and_destroying_a_tier_under_load_lose_no_request() {
    let p = shop();
    p.apply(&[]).assert_ok();
    let busy = BusyCores::start(2);
    let client = Client::start(&p);
    std::thread::sleep(Duration::from_secs(1));

    p.apply(&["replicas=4"]).assert_ok();
    assert_eq!(running_api_containers(&p), 4);
    p.apply(&["replicas=1"]).assert_ok();
    assert_eq!(running_api_containers(&p), 1);
    p.apply(&["replicas=1", "canaries=1"]).assert_ok();
    std::thread::sleep(Duration::from_secs(2));
    p.apply(&["replicas=1", "canaries=0"]).assert_ok();
    std::thread::sleep(Duration::from_secs(1));

    let answers = client.answers();
    let (ok, failed, _) = tally(&answers, 0);
    println!(
        "scale 2 → 4 → 1, a canary tier added and destroyed: {ok} answered, {} failed",
        failed.len()
    );
    drop(busy);
    assert!(
        answers.iter().any(|a| a.contains("ok canary")),
        "the canary tier served while it existed"
    );
    assert!(ok > 50, "the client ran throughout ({ok} answers)");
    assert!(failed.is_empty(), "no request failed: {failed:?}");
}
