//! Container settings named as Compose names them, on the real Docker
//! Engine with the real binary: every setting reaches Docker as written
//! (checked with `docker inspect`), and a change of one replaces the
//! container from the same image, with the setting named in the plan's
//! reason and no build.
//!
//! Needs a running Docker Engine (`docker info`) and a static busybox
//! (Debian's `busybox-static`); `scripts/test.sh` installs the latter.

mod common;
#[path = "support/docker.rs"]
mod docker_project;
use docker_project::{docker, docker_project};
use serde_json::{json, Value};

/// A busybox container with every setting set; `mem` is its memory limit.
const SETTINGS: &str = r#"
variable "mem" {
  type    = string
  default = "64m"
}

resource "docker_image" "base" {
  name = "PFX-base"
  build {
    context = "./base"
  }
}

resource "docker_container" "app" {
  image           = docker_image.base.id
  entrypoint      = ["sleep"]
  command         = ["3600"]
  user            = "65534:65534"
  working_dir     = "/tmp"
  labels          = { "com.example.team" = "web" }
  mem_limit       = var.mem
  mem_reservation = "32m"
  cpus            = 0.5
  read_only       = true
  tmpfs           = ["/run:size=1m", "/tmp"]
  cap_add         = ["NET_BIND_SERVICE"]
  cap_drop        = ["ALL"]
  security_opt    = ["no-new-privileges:true"]
  ulimits         = { nofile = { soft = 1024, hard = 2048 }, nproc = 512 }
  extra_hosts     = ["db.internal:10.1.2.3"]
  dns             = ["10.0.0.53"]
  hostname        = "app-host"
  stop_signal     = "SIGINT"
  sysctls         = { "net.core.somaxconn" = "1024" }
  expose          = ["8080", "53/udp"]
  logging {
    driver  = "json-file"
    options = { "max-size" = "1m" }
  }
}
"#;

fn inspect(id: &str) -> Value {
    let run = docker(&["inspect", id]);
    let all: Value = serde_json::from_str(&run.stdout).expect("docker inspect JSON");
    all[0].clone()
}

fn change<'a>(plan: &'a Value, address: &str) -> &'a Value {
    plan["changes"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["address"] == address))
        .unwrap_or_else(|| panic!("no change for {address} in {plan}"))
}

#[test]
fn every_setting_reaches_docker_and_a_change_replaces_from_the_same_image() {
    let p = docker_project(SETTINGS);
    p.apply(&[]).assert_ok();
    let id = p.recorded("docker_container.app", "id");
    let container = inspect(&id);
    let config = &container["Config"];
    let host = &container["HostConfig"];
    assert_eq!(config["User"], "65534:65534");
    assert_eq!(config["Entrypoint"], json!(["sleep"]));
    assert_eq!(config["Cmd"], json!(["3600"]));
    assert_eq!(config["WorkingDir"], "/tmp");
    assert_eq!(config["Labels"]["com.example.team"], "web");
    assert_eq!(config["Labels"]["imm.address"], "docker_container.app");
    assert_eq!(config["Hostname"], "app-host");
    assert_eq!(config["StopSignal"], "SIGINT");
    assert_eq!(
        config["ExposedPorts"],
        json!({ "8080/tcp": {}, "53/udp": {} })
    );
    assert_eq!(host["Memory"], 64 * 1024 * 1024);
    assert_eq!(host["MemoryReservation"], 32 * 1024 * 1024);
    assert_eq!(host["NanoCpus"], 500_000_000);
    assert_eq!(host["ReadonlyRootfs"], true);
    assert_eq!(host["Tmpfs"], json!({ "/run": "size=1m", "/tmp": "" }));
    assert_eq!(host["CapAdd"], json!(["NET_BIND_SERVICE"]));
    assert_eq!(host["CapDrop"], json!(["ALL"]));
    assert_eq!(host["SecurityOpt"], json!(["no-new-privileges:true"]));
    assert_eq!(
        host["Ulimits"],
        json!([
            { "Name": "nofile", "Soft": 1024, "Hard": 2048 },
            { "Name": "nproc", "Soft": 512, "Hard": 512 }
        ])
    );
    assert_eq!(host["ExtraHosts"], json!(["db.internal:10.1.2.3"]));
    assert_eq!(host["Dns"], json!(["10.0.0.53"]));
    assert_eq!(host["Sysctls"], json!({ "net.core.somaxconn": "1024" }));
    // The daemon adds its own defaults (max-file) beside what was set.
    assert_eq!(host["LogConfig"]["Type"], "json-file");
    assert_eq!(host["LogConfig"]["Config"]["max-size"], "1m");
    assert_eq!(container["State"]["Running"], true, "it runs as set");
    p.imm(&["plan", "--detailed-exitcode"]).assert_code(0);

    // A memory limit is run-time: a new container from the same image.
    let image = container["Image"].clone();
    let plan = p
        .imm(&["plan", "--format", "json", "--var", "mem=96m"])
        .json();
    assert_eq!(plan["summary"]["build"], 0);
    assert_eq!(change(&plan, "docker_image.base")["action"], "noop");
    assert_eq!(
        change(&plan, "docker_container.app")["reasons"],
        json!(["runtime changed (mem_limit)"])
    );
    p.apply(&["mem=96m"]).assert_ok();
    let replaced = inspect(&p.recorded("docker_container.app", "id"));
    assert_ne!(replaced["Id"], container["Id"], "replaced");
    assert_eq!(replaced["Image"], image, "from the same image");
    assert_eq!(replaced["HostConfig"]["Memory"], 96 * 1024 * 1024);
    p.imm(&["destroy", "--auto-approve"]).assert_ok();
    assert!(p.containers().is_empty(), "destroyed");
}
