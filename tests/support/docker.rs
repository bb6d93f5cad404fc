//! A project on the real Docker Engine for the end-to-end tests: a
//! temporary directory with the busybox base and web build contexts,
//! removed from the daemon (by its labels and image names) when dropped.

#![allow(dead_code)]

use crate::common::{Project, Run};
use std::process::Command;

pub const BASE_DOCKERFILE: &str = "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nRUN mkdir -p /tmp /www\n";

pub const WEB_DOCKERFILE: &str = "ARG BASE\nFROM ${BASE}\nARG PAGE_VERSION=0\nCOPY index.html /www/index.html\nRUN sed -i \"s/@VERSION@/${PAGE_VERSION}/\" /www/index.html\nRUN if [ \"$PAGE_VERSION\" = broken ]; then rm /www/index.html; fi\n";

/// A project on the daemon, removed (by its labels and image names) when
/// the test ends, passed or not.
pub struct DockerProject {
    pub project: Project,
    /// The `imm.project` label: the directory's name.
    pub label: String,
    /// Prefix of its image names.
    pub prefix: String,
}

impl Drop for DockerProject {
    fn drop(&mut self) {
        let filter = format!("label=imm.project={}", self.label);
        // Services first: their tasks hold networks, configs and secrets.
        // On an engine that is not a swarm manager they list nothing.
        for (list, remove) in [
            (
                vec!["service", "ls", "-q", "--filter", &filter],
                vec!["service", "rm"],
            ),
            (vec!["ps", "-aq", "--filter", &filter], vec!["rm", "-f"]),
            (
                vec!["network", "ls", "-q", "--filter", &filter],
                vec!["network", "rm"],
            ),
            (
                vec!["volume", "ls", "-q", "--filter", &filter],
                vec!["volume", "rm", "-f"],
            ),
            (
                vec!["config", "ls", "-q", "--filter", &filter],
                vec!["config", "rm"],
            ),
            (
                vec!["secret", "ls", "-q", "--filter", &filter],
                vec!["secret", "rm"],
            ),
        ] {
            let ids = docker(&list).stdout;
            let ids: Vec<&str> = ids.split_whitespace().collect();
            if !ids.is_empty() {
                let mut args = remove.clone();
                args.extend(ids);
                docker(&args);
            }
        }
        let images = docker(&["images", "--format", "{{.Repository}}:{{.Tag}}"]).stdout;
        let ours: Vec<&str> = images
            .lines()
            .filter(|i| i.starts_with(&format!("imm/{}/", self.prefix)))
            .collect();
        if !ours.is_empty() {
            let mut args = vec!["rmi", "-f"];
            args.extend(ours);
            docker(&args);
        }
    }
}

pub fn docker(args: &[&str]) -> Run {
    Run::from(
        Command::new("docker")
            .args(args)
            .output()
            .expect("run the docker CLI"),
    )
}

/// A socket `frozen.sock` that accepts and then says nothing, as a frozen
/// dockerd does; it lives as long as the directory returned with it.
#[cfg(unix)]
pub fn frozen_daemon() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("frozen.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    (dir, socket)
}

pub fn require_docker() {
    let info = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output();
    let ok = info.map(|o| o.status.success()).unwrap_or(false);
    assert!(
        ok,
        "these tests need a running Docker Engine: install it (apt-get install docker.io) and start it (service docker start); `docker info` must succeed"
    );
}

pub fn static_busybox() -> Vec<u8> {
    for path in ["/bin/busybox", "/usr/bin/busybox"] {
        if let Ok(bytes) = std::fs::read(path) {
            return bytes;
        }
    }
    panic!("these tests need a static busybox: apt-get install busybox-static (scripts/test.sh does it)");
}

/// A project of `main_imm` (with `PFX` replaced by the project's name)
/// and the busybox base and web build contexts.
pub fn docker_project(main_imm: &str) -> DockerProject {
    require_docker();
    let project = Project::new(&[
        ("base/Dockerfile", BASE_DOCKERFILE),
        ("web/Dockerfile", WEB_DOCKERFILE),
        (
            "web/index.html",
            "<p>hello from imm, page version @VERSION@</p>\n",
        ),
    ]);
    let label = project
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .expect("directory name");
    let prefix = imm_lang::types::naming::sanitize(&label);
    std::fs::write(project.file("main.imm"), main_imm.replace("PFX", &prefix)).expect("write");
    let busybox = project.file("base/busybox");
    std::fs::write(&busybox, static_busybox()).expect("copy busybox");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&busybox, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    DockerProject {
        project,
        label,
        prefix,
    }
}

impl DockerProject {
    pub fn imm(&self, args: &[&str]) -> Run {
        self.project.imm(args)
    }

    pub fn apply(&self, vars: &[&str]) -> Run {
        let mut args = vec!["apply", "--auto-approve"];
        for v in vars {
            args.extend(["--var", v]);
        }
        self.imm(&args)
    }

    pub fn state(&self) -> serde_json::Value {
        self.state_of("default")
    }

    /// The state of one environment.
    pub fn state_of(&self, environment: &str) -> serde_json::Value {
        let path = format!(".imm/state/{environment}.json");
        let text = std::fs::read_to_string(self.project.file(&path)).expect("state file");
        serde_json::from_str(&text).expect("state JSON")
    }

    pub fn recorded(&self, address: &str, out: &str) -> String {
        self.recorded_in("default", address, out)
    }

    /// An out attribute as one environment's state records it.
    pub fn recorded_in(&self, environment: &str, address: &str, out: &str) -> String {
        self.state_of(environment)["resources"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["address"] == address))
            .and_then(|r| r["outs"][out].as_str())
            .unwrap_or_default()
            .to_string()
    }

    /// Ids of the containers carrying this project's label (not the test
    /// client), sorted.
    pub fn containers(&self) -> Vec<String> {
        let filter = format!("label=imm.project={}", self.label);
        let listed = docker(&[
            "ps",
            "-aq",
            "--no-trunc",
            "--filter",
            &filter,
            "--filter",
            "label=imm.address",
        ])
        .stdout;
        let mut ids: Vec<String> = listed.split_whitespace().map(str::to_string).collect();
        ids.sort();
        ids
    }

    pub fn recorded_containers(&self) -> Vec<String> {
        self.recorded_ids("docker_container.web", 2)
    }

    /// The recorded ids of `resource[0..count]`, sorted.
    pub fn recorded_ids(&self, resource: &str, count: usize) -> Vec<String> {
        let mut ids: Vec<String> = (0..count)
            .map(|i| self.recorded(&format!("{resource}[{i}]"), "id"))
            .collect();
        ids.sort();
        ids
    }

    pub fn network(&self) -> String {
        self.recorded("docker_network.net", "name")
    }

    /// What `http://HOST:8080/PATH` answers on the project's network.
    pub fn fetch(&self, host: &str, path: &str) -> String {
        let image = self.recorded("docker_image.base", "id");
        let url = format!("http://{host}:8080/{path}");
        let run = docker(&[
            "run",
            "--rm",
            "--network",
            &self.network(),
            &image,
            "wget",
            "-q",
            "-O",
            "-",
            &url,
        ]);
        assert_eq!(run.code, 0, "fetching {url}: {}", run.stderr);
        run.stdout
    }

    pub fn container_name(&self, index: usize) -> String {
        self.recorded(&format!("docker_container.web[{index}]"), "name")
    }
}

/// A copy of `examples/NAME`, its base and proxy contexts prepared, its
/// fixed image names given this test's prefix.
pub fn example(name: &str) -> DockerProject {
    let p = docker_project("");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    copy_dir(&source, p.project.path());
    std::fs::write(p.project.file("base/busybox"), static_busybox()).expect("copy busybox");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let busybox = p.project.file("base/busybox");
        std::fs::set_permissions(&busybox, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    if p.project.file("main.imm").exists()
        && std::fs::read_to_string(p.project.file("main.imm"))
            .unwrap_or_default()
            .contains("context = \"./proxy\"")
    {
        prepare_proxy(&p.project.file("proxy"));
    }
    let app_dockerfile =
        std::fs::read_to_string(p.project.file("app/Dockerfile")).unwrap_or_default();
    if app_dockerfile.contains("COPY etcdctl/") {
        prepare_etcdctl(&p.project.file("app/etcdctl"));
    }
    // Image names of the example are fixed: give them this test's prefix.
    let main = std::fs::read_to_string(p.project.file("main.imm")).expect("read");
    std::fs::write(
        p.project.file("main.imm"),
        main.replace("name = \"shop-", &format!("name = \"{}-", p.prefix)),
    )
    .expect("write");
    p
}

pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).expect("read example").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_dir(&entry.path(), &target);
        } else if entry.file_name() != "busybox" {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Debian's nginx and its libraries in `dir`, for a `docker_proxy` image.
pub fn prepare_proxy(dir: &std::path::Path) {
    prepare(
        "prepare-proxy.sh",
        dir,
        "the proxy image needs Debian's nginx: apt-get install nginx-light",
    );
}

/// Debian's etcdctl and its libraries in `dir`, for an app reading etcd.
pub fn prepare_etcdctl(dir: &std::path::Path) {
    prepare(
        "prepare-etcdctl.sh",
        dir,
        "the example's app image needs Debian's etcdctl: apt-get install etcd-client",
    );
}

/// Runs `scripts/SCRIPT DIR`; `needs` says what is missing if it fails.
fn prepare(script: &str, dir: &std::path::Path, needs: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(script);
    let prepared = Command::new(&path)
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("run scripts/{script}: {e}"));
    assert!(
        prepared.status.success(),
        "{needs} (scripts/test.sh does it): {}",
        String::from_utf8_lossy(&prepared.stderr)
    );
}

/// A build context of an image that runs: the static busybox, executable,
/// and a file that tells versions apart.
pub fn versioned_context(version: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a context");
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY version /version\n",
    )
    .expect("Dockerfile");
    let busybox = dir.path().join("busybox");
    std::fs::write(&busybox, static_busybox()).expect("busybox");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&busybox, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    std::fs::write(dir.path().join("version"), version).expect("version");
    dir
}
