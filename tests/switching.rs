//! Zero-downtime switching under load, on the real Docker Engine: a
//! two-tier shop (api ×N behind a `docker_proxy` on `front`, api → db on
//! `back`), both cores kept busy, a client in a container resolving the
//! served name and asking every 50 ms. Replacements, a release whose health
//! check fails, scaling and the destroy of a tier must lose no request,
//! and the rejected release must never answer one.
//!
//! The project is `examples/web-api-db`. Needs a running Docker Engine, a
//! static busybox (Debian's `busybox-static`) and Debian's nginx
//! (`nginx-light`) for the proxy image; `scripts/test.sh` installs both.

mod common;
#[path = "support/docker.rs"]
mod docker_project;

use docker_project::{docker, example, DockerProject};
use std::process::{Child, Command};
use std::time::Duration;

/// Appended to the example: a second tier behind the API's proxy, to be
/// added and destroyed while the client asks.
const CANARY: &str = r#"
variable "canaries" {
  type    = number
  default = 0
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
    env = { DB_URL = var.db_url, RELEASE = "canary" }
  }
  health {
    command  = ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/cgi-bin/items"]
    interval = "200ms"
    retries  = 20
  }
}
"#;

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

/// A container asking `http://web:8080/cgi-bin/items` every 50 ms (busybox
/// wget resolves the name for each request; web asks api, api asks db),
/// printing one line per answer.
struct Client {
    name: String,
}

impl Client {
    fn start(p: &DockerProject) -> Client {
        Client::run(
            p,
            "client",
            "while true; do r=$(timeout 10 wget -q -O - http://web:8080/cgi-bin/items 2>&1); case \"$r\" in *apple*) echo \"ok $r\";; *) echo \"FAIL $r\";; esac; sleep 0.05; done",
        )
    }

    /// A client sending one-second POSTs to the API, one after another.
    fn start_slow(p: &DockerProject) -> Client {
        Client::run(
            p,
            "slow-client",
            "while true; do r=$(timeout 20 wget -q -O - --post-data x http://api:8080/cgi-bin/slow 2>&1); case \"$r\" in slow*) echo \"ok $r\";; *) echo \"FAIL $r\";; esac; done",
        )
    }

    fn run(p: &DockerProject, role: &str, script: &str) -> Client {
        let name = format!("{}-{role}", p.prefix);
        let image = p.recorded("docker_image.base", "id");
        let network = p.recorded("docker_network.front", "name");
        let label = format!("imm.project={}", p.label);
        let started = docker(&[
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            &label,
            "--network",
            &network,
            &image,
            "sh",
            "-c",
            script,
        ]);
        assert_eq!(started.code, 0, "starting the {role}: {}", started.stderr);
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

/// The web-api-db example (web → api ×2 through proxies on `front`, api →
/// db on `back`) with a canary tier to add and remove.
fn shop() -> DockerProject {
    let p = example("web-api-db");
    let main = std::fs::read_to_string(p.project.file("main.imm")).expect("read main.imm");
    // A release labelled "rejected" answers like any other but fails its
    // health check: had it served, the client would see its label.
    let api_health =
        r#"command  = ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/cgi-bin/items"]"#;
    assert!(main.contains(api_health), "the example's API health check");
    let gated = main.replace(
        api_health,
        r#"command  = ["sh", "-c", "test \"$RELEASE\" != rejected && wget -q -O /dev/null http://127.0.0.1:8080/cgi-bin/items"]"#,
    );
    std::fs::write(p.project.file("main.imm"), gated + CANARY).expect("write main.imm");
    // A request that takes a second, sent as a POST (which the proxy never
    // retries elsewhere): it succeeds only if a retiring replica finishes
    // what it holds before it stops.
    let slow = p.project.file("api/cgi-bin/slow");
    std::fs::write(&slow, SLOW_CGI).expect("write api/cgi-bin/slow");
    p
}

const SLOW_CGI: &str =
    "#!/bin/sh\nsleep 1\necho 'Content-Type: text/plain'\necho\necho \"slow $RELEASE\"\n";

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
    let rejected = seen
        .iter()
        .filter(|a| a.contains("\"release\": \"rejected\""))
        .count();
    (ok, failed, rejected)
}

/// The slow client's one-second POSTs all succeeded: no replica that
/// retired stopped while it held one.
fn assert_no_request_cut(slow: &Client) {
    let (ok, failed, _) = tally(&slow.answers(), 0);
    println!(
        "one-second POSTs meanwhile: {ok} answered, {} failed",
        failed.len()
    );
    assert!(ok > 5, "the slow client ran throughout ({ok} answers)");
    assert!(
        failed.is_empty(),
        "no request in flight was cut by a retiring replica: {failed:?}"
    );
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
    let slow = Client::start_slow(&p);
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
    assert_no_request_cut(&slow);
    assert!(
        after_switches
            .iter()
            .any(|a| a.contains("\"release\": \"9\"")),
        "the last release serves"
    );

    let serving = p.recorded_ids("docker_container.api", 2);
    let rejected = p.apply(&["release=rejected"]);
    assert_ne!(
        rejected.code, 0,
        "a release failing its health check is refused"
    );
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
    assert_eq!(
        running_api_containers(&p),
        2,
        "nothing of the rejected release is left"
    );

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
    let slow = Client::start_slow(&p);
    std::thread::sleep(Duration::from_secs(1));

    p.apply(&["api_replicas=4"]).assert_ok();
    assert_eq!(running_api_containers(&p), 4);
    p.apply(&["api_replicas=1"]).assert_ok();
    assert_eq!(running_api_containers(&p), 1);
    p.apply(&["api_replicas=1", "canaries=1"]).assert_ok();
    std::thread::sleep(Duration::from_secs(2));
    p.apply(&["api_replicas=1", "canaries=0"]).assert_ok();
    std::thread::sleep(Duration::from_secs(1));

    let answers = client.answers();
    let (ok, failed, _) = tally(&answers, 0);
    println!(
        "scale 2 → 4 → 1, a canary tier added and destroyed: {ok} answered, {} failed",
        failed.len()
    );
    assert_no_request_cut(&slow);
    drop(busy);
    assert!(
        answers
            .iter()
            .any(|a| a.contains("\"release\": \"canary\"")),
        "the canary tier served while it existed"
    );
    assert!(ok > 50, "the client ran throughout ({ok} answers)");
    assert!(failed.is_empty(), "no request failed: {failed:?}");
}
