//! A real etcd (Debian's etcd-server) for the tests: started on free
//! loopback ports with a temporary data directory, stopped when dropped.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Etcd {
    pub url: String,
    child: Child,
    _data: tempfile::TempDir,
}

pub fn free_port() -> u16 {
    free_ports::<1>()[0]
}

/// `N` free loopback ports, all different: each listener is held until
/// all are chosen (ports taken one at a time can repeat, and a member
/// started on another's port never runs).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<std::net::TcpListener> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free loopback port"))
        .collect();
    std::array::from_fn(|i| {
        listeners[i]
            .local_addr()
            .map(|a| a.port())
            .expect("a free loopback port")
    })
}

/// `GET path` on 127.0.0.1:port; the body, when the server answers.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    text.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
}

impl Etcd {
    pub fn start() -> Etcd {
        assert!(
            Command::new("etcd").arg("--version").output().is_ok(),
            "these tests need etcd: apt-get install etcd-server (scripts/test.sh installs it)"
        );
        let data = tempfile::tempdir().expect("data dir");
        let [client, peer] = free_ports();
        let client_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let child = Command::new("etcd")
            .args(["--name", "t1", "--data-dir"])
            .arg(data.path())
            .args([
                "--listen-client-urls",
                &client_url,
                "--advertise-client-urls",
                &client_url,
            ])
            .args([
                "--listen-peer-urls",
                &peer_url,
                "--initial-advertise-peer-urls",
                &peer_url,
            ])
            .args(["--initial-cluster", &format!("t1={peer_url}")])
            .args(["--logger=zap", "--log-level=error"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start etcd");
        let etcd = Etcd {
            url: client_url,
            child,
            _data: data,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if http_get(client, "/health").is_some_and(|b| b.contains("true")) {
                return etcd;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("etcd did not become healthy on {} within 15 s", etcd.url);
    }

    /// `etcdctl get --prefix PREFIX` as `key=value` lines.
    pub fn get_prefix(&self, prefix: &str) -> String {
        let out = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.url, "get", "--prefix", prefix])
            .output()
            .expect("run etcdctl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        lines
            .chunks(2)
            .map(|kv| format!("{}={}", kv[0], kv.get(1).unwrap_or(&"")))
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn put(&self, key: &str, value: &str) {
        let status = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.url, "put", key, value])
            .stdout(Stdio::null())
            .status()
            .expect("run etcdctl");
        assert!(status.success());
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Three etcd members on loopback forming one cluster, each stopped when
/// dropped or killed.
pub struct EtcdCluster {
    pub urls: Vec<String>,
    members: Vec<Option<Child>>,
    _data: tempfile::TempDir,
}

impl EtcdCluster {
    pub fn start() -> EtcdCluster {
        assert!(
            Command::new("etcd").arg("--version").output().is_ok(),
            "these tests need etcd: apt-get install etcd-server (scripts/test.sh installs it)"
        );
        let data = tempfile::tempdir().expect("data dir");
        let ports: Vec<(u16, u16)> = free_ports::<6>()
            .chunks(2)
            .map(|pair| (pair[0], pair[1]))
            .collect();
        let initial: Vec<String> = ports
            .iter()
            .enumerate()
            .map(|(i, (_, peer))| format!("m{i}=http://127.0.0.1:{peer}"))
            .collect();
        let mut members = Vec::new();
        let mut urls = Vec::new();
        for (i, (client, peer)) in ports.iter().enumerate() {
            let client_url = format!("http://127.0.0.1:{client}");
            let peer_url = format!("http://127.0.0.1:{peer}");
            let child = Command::new("etcd")
                .args(["--name", &format!("m{i}"), "--data-dir"])
                .arg(data.path().join(format!("m{i}")))
                .args(["--listen-client-urls", &client_url])
                .args(["--advertise-client-urls", &client_url])
                .args(["--listen-peer-urls", &peer_url])
                .args(["--initial-advertise-peer-urls", &peer_url])
                .args(["--initial-cluster", &initial.join(",")])
                .args(["--initial-cluster-state", "new"])
                .args(["--heartbeat-interval", "100", "--election-timeout", "1000"])
                .args(["--logger=zap", "--log-level=error"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start etcd");
            members.push(Some(child));
            urls.push(client_url);
        }
        let cluster = EtcdCluster {
            urls,
            members,
            _data: data,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let healthy = ports.iter().all(|(client, _)| {
                http_get(*client, "/health").is_some_and(|b| b.contains("true"))
            });
            if healthy {
                return cluster;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the etcd cluster did not become healthy within 20 s");
    }

    /// SIGKILLs member `i` (from 0).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `etcdctl get --prefix PREFIX` through the members still alive.
    pub fn get_prefix(&self, prefix: &str) -> String {
        let out = Command::new("etcdctl")
            .args([
                "--endpoints",
                &self.urls.join(","),
                "get",
                "--prefix",
                prefix,
            ])
            .output()
            .expect("run etcdctl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
    }
}
