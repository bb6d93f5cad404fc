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
    /// The docker CLI's configuration, logged in to this registry, when it
    /// asks for a password (the user's own is left alone).
    docker_config: Option<String>,
}

impl Registry {
    pub fn start() -> Registry {
        Registry::start_with(None)
    }

    /// A registry that lets only `user` with `password` in (htpasswd).
    pub fn start_with_user(user: &str, password: &str) -> Registry {
        Registry::start_with(Some((user, password)))
    }

    fn start_with(user: Option<(&str, &str)>) -> Registry {
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
        let auth = match user {
            Some((user, password)) => htpasswd_auth(dir.path(), user, password),
            None => String::new(),
        };
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {address}\n  secret: imm-tests\n{auth}",
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
        let docker_config = user.map(|_| dir.path().join("docker").to_string_lossy().into_owned());
        let registry = Registry {
            child,
            address,
            _dir: dir,
            docker_config,
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
        if let (Some((user, password)), Some(config)) = (user, &registry.docker_config) {
            login(config, &registry.address, user, password);
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
        let pushed = match &self.docker_config {
            Some(config) => super::docker::docker(&["--config", config, "push", &image]),
            None => super::docker::docker(&["push", &image]),
        };
        assert_eq!(pushed.code, 0, "docker push: {}", pushed.all());
        let digest = super::docker::docker(&[
            "inspect",
            "-f",
            "{{range .RepoDigests}}{{println .}}{{end}}",
            &image,
        ])
        .stdout
        .lines()
        // The same image may be pushed to another test's registry too.
        .find_map(|l| {
            l.strip_prefix(&format!("{}/{name}@", self.address))
                .map(str::to_string)
        })
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

/// The registry's `auth` section, with an htpasswd file in `dir`.
fn htpasswd_auth(dir: &std::path::Path, user: &str, password: &str) -> String {
    let file = dir.join("htpasswd");
    let made = Command::new("htpasswd")
        .args(["-Bbc", &file.to_string_lossy(), user, password])
        .output();
    assert!(
        made.as_ref().is_ok_and(|o| o.status.success()),
        "this test needs htpasswd: apt-get install apache2-utils ({made:?})"
    );
    format!(
        "auth:\n  htpasswd:\n    realm: imm-tests\n    path: {}\n",
        file.display()
    )
}

/// `docker login` into a configuration directory of the test's own.
fn login(config: &str, address: &str, user: &str, password: &str) {
    use std::io::Write;
    let mut child = Command::new("docker")
        .args([
            "--config",
            config,
            "login",
            "-u",
            user,
            "--password-stdin",
            address,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run docker login");
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(password.as_bytes())
            .expect("give the password");
    }
    let out = child.wait_with_output().expect("docker login");
    assert!(out.status.success(), "docker login {address}: {out:?}");
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
