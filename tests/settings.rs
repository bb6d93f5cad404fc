//! Container settings named as Compose names them, on the real Docker
//! Engine with the real binary: every setting reaches Docker as written
//! (checked with `docker inspect`), and a change of one replaces the
//! container from the same image, with the setting named in the plan's
//! reason and no build.
//!
//! Bind mounts: a project file reaches the container read-only, its
//! content part of the configuration (a change of it replaces the
//! container from the same image); a host path is named for review; a
//! source leading outside the project is refused where it is written.
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

/// A container mounting a project file (read-only by default) and a host
/// directory (`HOST` replaced by the test).
const BINDS: &str = r#"
resource "docker_image" "base" {
  name = "PFX-base"
  build {
    context = "./base"
  }
}

resource "docker_container" "app" {
  image   = docker_image.base.id
  command = ["sleep", "3600"]
  bind {
    source = "./conf/app.conf"
    target = "/etc/app.conf"
  }
  bind {
    host_path = "HOST"
    target    = "/host"
  }
}
"#;

/// The mount of the inspected container at `destination`.
fn mount_at<'a>(container: &'a Value, destination: &str) -> &'a Value {
    container["Mounts"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["Destination"] == destination))
        .unwrap_or_else(|| panic!("no mount at {destination}: {}", container["Mounts"]))
}

#[test]
fn a_project_file_is_mounted_read_only_and_a_change_of_it_replaces_from_the_same_image() {
    let host = tempfile::tempdir().expect("host dir");
    let host_dir = host.path().to_string_lossy().into_owned();
    let p = docker_project(&BINDS.replace("HOST", &host_dir));
    let conf = p.project.file("conf/app.conf");
    std::fs::create_dir_all(conf.parent().expect("conf dir")).expect("mkdir");
    std::fs::write(&conf, "level = info\n").expect("conf");

    let plan = p.imm(&["plan", "--format", "json"]).json();
    let notes = change(&plan, "docker_container.app")["notes"].to_string();
    assert!(
        notes.contains(&format!(
            "mounts the Docker host's {host_dir} at /host (read-only)"
        )),
        "a host path is named for review: {notes}"
    );
    p.apply(&[]).assert_ok();
    let container = inspect(&p.recorded("docker_container.app", "id"));
    let project_file = mount_at(&container, "/etc/app.conf");
    assert_eq!(project_file["Type"], "bind");
    assert_eq!(project_file["RW"], false, "read-only by default");
    let real = conf.canonicalize().expect("real path");
    assert_eq!(project_file["Source"], real.to_string_lossy().as_ref());
    let host_mount = mount_at(&container, "/host");
    assert_eq!(host_mount["Source"], host_dir.as_str());
    assert_eq!(host_mount["RW"], false);
    let id = container["Id"].as_str().expect("id");
    let read = docker(&["exec", id, "cat", "/etc/app.conf"]);
    assert_eq!(read.stdout, "level = info\n");
    let write = docker(&["exec", id, "sh", "-c", "echo x > /etc/app.conf"]);
    assert_ne!(
        write.code, 0,
        "the container cannot write the project's file"
    );
    p.imm(&["plan", "--detailed-exitcode"]).assert_code(0);

    // The same path, new content: a run-time change, no build.
    std::fs::write(&conf, "level = debug\n").expect("conf");
    let plan = p.imm(&["plan", "--format", "json"]).json();
    assert_eq!(plan["summary"]["build"], 0);
    assert_eq!(change(&plan, "docker_image.base")["action"], "noop");
    let app = change(&plan, "docker_container.app");
    assert_eq!(app["action"], "replace");
    assert_eq!(app["reasons"], json!(["runtime changed (bind[0].content)"]));
    p.apply(&[]).assert_ok();
    let replaced = inspect(&p.recorded("docker_container.app", "id"));
    assert_ne!(replaced["Id"], container["Id"], "replaced");
    assert_eq!(replaced["Image"], container["Image"], "from the same image");
    let new_id = replaced["Id"].as_str().expect("id");
    assert_eq!(
        docker(&["exec", new_id, "cat", "/etc/app.conf"]).stdout,
        "level = debug\n"
    );
    p.imm(&["plan", "--detailed-exitcode"]).assert_code(0);
    p.imm(&["destroy", "--auto-approve"]).assert_ok();
}

#[test]
fn a_bind_source_outside_the_project_is_refused_where_it_is_written() {
    let p = common::Project::new(&[(
        "main.imm",
        "resource \"docker_container\" \"app\" {\n  image = \"app:1\"\n  bind {\n    source = \"../secrets/key\"\n    target = \"/key\"\n  }\n}\n",
    )]);
    let run = p.imm(&["validate"]);
    run.assert_fails_with("E0320");
    assert!(run.stderr.contains("main.imm:4:14"), "{}", run.stderr);
    assert!(run.stderr.contains("host_path"), "says how: {}", run.stderr);

    std::os::unix::fs::symlink("/etc", p.file("etc")).expect("symlink");
    std::fs::write(
        p.file("main.imm"),
        "resource \"docker_container\" \"app\" {\n  image = \"app:1\"\n  bind {\n    source = \"./etc/hostname\"\n    target = \"/h\"\n  }\n}\n",
    )
    .expect("write");
    let run = p.imm(&["validate"]);
    run.assert_fails_with("E0320");
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
}

/// `examples/locked-down` applies on the real daemon as a production
/// review asks: nobody, read-only root, no capabilities, bounded memory
/// and CPU, its pages bound read-only from the project, and serves them.
#[test]
fn the_locked_down_example_runs_as_nobody_read_only_with_limits() {
    let p = docker_project::example("locked-down");
    p.apply(&[]).assert_ok();
    let container = inspect(&p.recorded("docker_container.site", "id"));
    assert_eq!(container["Config"]["User"], "65534:65534");
    let host = &container["HostConfig"];
    assert_eq!(host["ReadonlyRootfs"], true);
    assert_eq!(host["CapDrop"], json!(["ALL"]));
    assert_eq!(host["Memory"], 32 * 1024 * 1024);
    assert_eq!(host["NanoCpus"], 250_000_000);
    assert_eq!(mount_at(&container, "/www")["RW"], false);
    let id = container["Id"].as_str().expect("id");
    let page = docker(&[
        "exec",
        id,
        "wget",
        "-q",
        "-O",
        "-",
        "http://127.0.0.1:8080/",
    ]);
    assert!(page.stdout.contains("read-only root"), "{}", page.all());
    let whoami = docker(&["exec", id, "id", "-u"]);
    assert_eq!(whoami.stdout.trim(), "65534");
    p.imm(&["plan", "--detailed-exitcode"]).assert_code(0);
    p.imm(&["destroy", "--auto-approve"]).assert_ok();
}
