//! A real PostgreSQL (Debian's postgresql) for the tests: a cluster made
//! with `initdb` in a temporary directory owned by the `postgres` user
//! (the server refuses to run as root), listening on a free loopback port,
//! with a password-authenticated role `imm` (so `PGPASSWORD` is what lets
//! imm in); stopped and removed when dropped.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The password of the test role, as imm reads it from `PGPASSWORD`.
pub const PASSWORD: &str = "s3cret-pg-password";

pub struct Postgres {
    /// `postgres://imm@127.0.0.1:PORT/postgres`: no password in it.
    pub url: String,
    pub port: u16,
    child: Child,
    bin: std::path::PathBuf,
    dir: tempfile::TempDir,
}

/// The newest `/usr/lib/postgresql/VERSION/bin` that has the server.
fn binaries() -> std::path::PathBuf {
    let mut found: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists() && bin.join("postgres").exists())
        .collect();
    found.sort_by_key(|bin| {
        bin.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop().unwrap_or_else(|| {
        panic!("these tests need PostgreSQL's server: install Debian's postgresql: apt-get install postgresql (scripts/test.sh installs it)")
    })
}

fn postgres_ids() -> (String, String) {
    let id = |flag: &str| {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .expect("run id");
        assert!(
            out.status.success(),
            "these tests need the postgres user: install Debian's postgresql: apt-get install postgresql"
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    (id("-u"), id("-g"))
}

/// `command` run as the postgres user (it refuses root).
fn as_postgres(program: &std::path::Path) -> Command {
    let mut command = Command::new("setpriv");
    command
        .args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ])
        .arg(program);
    command
}

impl Postgres {
    pub fn start() -> Postgres {
        Postgres::start_with(false)
    }

    /// A server that accepts TCP connections only over TLS (`hostssl` in
    /// pg_hba.conf), with a self-signed certificate made by openssl.
    pub fn start_tls_only() -> Postgres {
        Postgres::start_with(true)
    }

    fn start_with(tls_only: bool) -> Postgres {
        let bin = binaries();
        let (uid, gid) = postgres_ids();
        let dir = tempfile::tempdir().expect("temporary directory");
        let chown = Command::new("chown")
            .arg(format!("{uid}:{gid}"))
            .arg(dir.path())
            .status()
            .expect("run chown");
        assert!(chown.success(), "chown the cluster directory to postgres");
        let password_file = dir.path().join("password");
        std::fs::write(&password_file, PASSWORD).expect("write the password file");
        let data = dir.path().join("data");
        let init = as_postgres(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "imm",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
            ])
            .arg(format!("--pwfile={}", password_file.display()))
            .stdout(Stdio::null())
            .output()
            .expect("run initdb");
        assert!(
            init.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        let port = free_port();
        let mut server = as_postgres(&bin.join("postgres"));
        server
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(dir.path())
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(["-c", "fsync=off", "-c", "log_min_messages=fatal"]);
        if tls_only {
            make_certificate(&data);
            std::fs::write(
                data.join("pg_hba.conf"),
                "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n",
            )
            .expect("write pg_hba.conf");
            server.args(["-c", "ssl=on"]);
        }
        let child = server
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start postgres");
        let server = Postgres {
            url: format!("postgres://imm@127.0.0.1:{port}/postgres?sslmode=disable"),
            port,
            child,
            bin,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if server.try_query("SELECT 1").is_some() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("PostgreSQL did not answer on 127.0.0.1:{port} within 30 s");
    }

    fn try_query(&self, sql: &str) -> Option<String> {
        let out = Command::new(self.bin.join("psql"))
            .env("PGPASSWORD", PASSWORD)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "imm", "-d", "postgres", "-X", "-q", "-t", "-A"])
            .args(["-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// The rows `sql` returns, `|`-separated, one a line.
    pub fn query(&self, sql: &str) -> String {
        self.try_query(sql)
            .unwrap_or_else(|| panic!("psql could not run {sql}"))
    }

    /// The environment imm needs to log in.
    pub fn env(&self) -> [(&'static str, &'static str); 1] {
        [("PGPASSWORD", PASSWORD)]
    }
}

/// A self-signed `server.crt` and `server.key` in the data directory
/// (where `ssl=on` looks for them), owned by postgres, the key 0600.
fn make_certificate(data: &std::path::Path) {
    let made = Command::new("openssl")
        .args([
            "req",
            "-new",
            "-x509",
            "-days",
            "1",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args(["-newkey", "rsa:2048", "-keyout"])
        .arg(data.join("server.key"))
        .arg("-out")
        .arg(data.join("server.crt"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl (apt-get install openssl)");
    assert!(made.success(), "openssl made no certificate");
    let (uid, gid) = postgres_ids();
    for file in ["server.key", "server.crt"] {
        let owned = Command::new("chown")
            .arg(format!("{uid}:{gid}"))
            .arg(data.join(file))
            .status()
            .expect("run chown");
        assert!(owned.success());
    }
    let private = Command::new("chmod")
        .arg("600")
        .arg(data.join("server.key"))
        .status()
        .expect("run chmod");
    assert!(private.success());
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // A fast shutdown (SIGINT) lets the server stop its backends.
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = &self.dir;
    }
}
