//! A registry for the tests: Debian's `docker-registry` on a free loopback
//! port with its storage in a temporary directory, stopped when dropped.
//! Docker reaches a loopback registry over plain HTTP, so images are
//! pushed to it with `docker push` as to any registry.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`, the registry part of image names.
    pub address: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Registry {
        let found = Command::new("docker-registry")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "these tests need a registry: apt-get install docker-registry (scripts/test.sh installs it)"
        );
        let dir = tempfile::tempdir().expect("a directory for the registry");
        let port = super::etcd::free_port();
        let address = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {address}\n  secret: imm-tests\n",
                dir.path().join("data").display()
            ),
        )
        .expect("write the registry's configuration");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        let registry = Registry {
            child,
            address,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while super::etcd::http_get(port, "/v2/").is_none() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not answer on {} within 20 s",
                registry.address
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    /// Builds `dockerfile` (with `files` beside it) as `REGISTRY/name:tag`,
    /// pushes it and removes the local tag; returns the pushed digest.
    pub fn push(&self, name: &str, tag: &str, context: &std::path::Path) -> String {
        let image = format!("{}/{name}:{tag}", self.address);
        let built =
            super::docker::docker(&["build", "-q", "-t", &image, &context.to_string_lossy()]);
        assert_eq!(built.code, 0, "docker build: {}", built.all());
        let pushed = super::docker::docker(&["push", &image]);
        assert_eq!(pushed.code, 0, "docker push: {}", pushed.all());
        let digest = super::docker::docker(&[
            "inspect",
            "-f",
            "{{range .RepoDigests}}{{println .}}{{end}}",
            &image,
        ])
        .stdout
        .lines()
        .find_map(|l| l.split_once('@').map(|(_, d)| d.to_string()))
        .expect("the pushed image has a digest");
        super::docker::docker(&["rmi", &image]);
        digest
    }

    /// Deletes a manifest by digest (the registry allows deletes).
    pub fn delete(&self, name: &str, digest: &str) {
        use std::io::{Read, Write};
        let mut stream =
            std::net::TcpStream::connect(&self.address).expect("connect to the registry");
        write!(
            stream,
            "DELETE /v2/{name}/manifests/{digest} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.address
        )
        .expect("send the delete");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert!(
            answer.starts_with("HTTP/1.1 202"),
            "delete {digest}: {answer}"
        );
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
