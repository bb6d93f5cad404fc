//! Swarms for the `docker_service` tests, each made by the test that uses
//! it and gone when it ends: engines in network namespaces of their own
//! formed into one swarm by `scripts/swarm-nodes.sh`, torn down by pid. A
//! test never joins, leaves or changes the host engine's swarm (nor makes
//! one there: another run on the same engine could be using it).

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// Engines in network namespaces, one swarm of managers.
pub struct Nodes {
    pub dir: PathBuf,
    pub name: String,
    pub count: usize,
    /// Three octets: node I is SUBNET.(10+I), inside the namespaces only.
    pub subnet: String,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/swarm-nodes.sh")
}

impl Nodes {
    /// Starts `count` engines and forms the swarm. Needs root (CI is).
    pub fn up(count: usize) -> Nodes {
        let pid = std::process::id();
        let nodes = Nodes {
            dir: std::env::temp_dir().join(format!("imm-nodes-{pid}")),
            // Short: it prefixes interface names (15 bytes at most).
            name: format!("im{}", pid % 100_000),
            count,
            subnet: format!("10.253.{}", pid % 250),
        };
        let subnet = nodes.subnet.clone();
        let run = Command::new("bash")
            .arg(script())
            .args(["up", &nodes.dir.to_string_lossy(), &nodes.name, &subnet])
            .arg(count.to_string())
            .output()
            .expect("run scripts/swarm-nodes.sh");
        assert!(
            run.status.success(),
            "starting {count} engines in network namespaces failed (it needs root, dockerd, iproute2 and unshare):\n{}",
            String::from_utf8_lossy(&run.stderr)
        );
        nodes
    }

    /// `unix://…/docker.sock` of node `i` (from 1).
    pub fn endpoint(&self, i: usize) -> String {
        format!("unix://{}/n{i}/docker.sock", self.dir.display())
    }

    /// An `engine` block named `name` whose endpoints are every node's
    /// socket (imm reaches them from the host's network namespace).
    pub fn unix_engine(&self, name: &str) -> String {
        let endpoints: Vec<String> = (1..=self.count)
            .map(|i| format!("\"{}\"", self.endpoint(i)))
            .collect();
        format!(
            "engine \"{name}\" {{\n  endpoints = [{}]\n}}",
            endpoints.join(", ")
        )
    }

    /// `tcp://ADDRESS:2376` of node `i`: mutual TLS with [`Nodes::tls`].
    pub fn tls_endpoint(&self, i: usize) -> String {
        format!("tcp://{}.{}:2376", self.subnet, 10 + i)
    }

    /// The directory of the client's ca.pem, cert.pem and key.pem.
    pub fn tls(&self) -> PathBuf {
        self.dir.join("tls")
    }

    /// The `imm` binary run on the nodes' network (in the hub namespace),
    /// in `project`, with `env` added.
    pub fn imm(
        &self,
        project: &std::path::Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> crate::common::Run {
        let mut command = Command::new("nsenter");
        command
            .arg(format!("--net=/run/netns/{}-hub", self.name))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_imm"))
            .args(args)
            .current_dir(project)
            .env("NO_COLOR", "1");
        for (k, v) in env {
            command.env(k, v);
        }
        crate::common::Run::from(command.output().expect("run imm with nsenter"))
    }

    /// The docker CLI against node `i`.
    pub fn docker(&self, i: usize, args: &[&str]) -> crate::common::Run {
        crate::common::Run::from(
            Command::new("docker")
                .args(args)
                .env("DOCKER_HOST", self.endpoint(i))
                .output()
                .expect("run the docker CLI"),
        )
    }

    /// How many tasks of `service` run on node `i`.
    pub fn tasks_on(&self, i: usize, service: &str) -> usize {
        let filter = format!("label=com.docker.swarm.service.name={service}");
        self.docker(i, &["ps", "-q", "--filter", &filter])
            .stdout
            .split_whitespace()
            .count()
    }

    /// Runs `scripts/swarm-nodes.sh COMMAND DIR NAME ARGS…`; `failure` says
    /// what failed and what it needs.
    fn run_script(&self, command: &str, args: &[String], failure: &str) {
        let run = Command::new("bash")
            .arg(script())
            .args([command, &self.dir.to_string_lossy(), &self.name])
            .args(args)
            .output()
            .expect("run scripts/swarm-nodes.sh");
        assert!(
            run.status.success(),
            "{failure}:\n{}",
            String::from_utf8_lossy(&run.stderr)
        );
    }

    /// Starts a registry (plain HTTP) in node `i`'s namespace; returns its
    /// HOST:PORT, which every node's engine may pull from.
    pub fn registry(&self, i: usize, port: u16) -> String {
        self.run_script(
            "registry",
            &[i.to_string(), port.to_string()],
            &format!("starting a registry in node {i}'s namespace failed (it needs Debian's docker-registry; scripts/test.sh installs it)"),
        );
        format!("{}.{}:{port}", self.subnet, 10 + i)
    }

    /// Starts sshd in node `i`'s namespace; returns the `ssh://` endpoint
    /// of node `i`'s engine and the PATH under which `ssh` logs in there
    /// (with the harness's own key and configuration only).
    pub fn sshd(&self, i: usize) -> (String, String) {
        self.run_script(
            "sshd",
            &[i.to_string()],
            &format!("starting sshd in node {i}'s namespace failed (it needs Debian's openssh-server; scripts/test.sh installs it)"),
        );
        let path = format!(
            "{}:{}",
            self.dir.join("ssh/bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        (format!("ssh://root@{}.{}", self.subnet, 10 + i), path)
    }

    /// SIGKILLs node `i`'s engine: the machine is lost.
    pub fn kill(&self, i: usize) {
        self.run_script("kill", &[i.to_string()], &format!("killing node {i}"));
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .args(["down", &self.dir.to_string_lossy(), &self.name])
            .output();
    }
}
