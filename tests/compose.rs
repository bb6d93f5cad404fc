//! `imm import compose` round trip on the real daemon: the Compose project
//! of `examples/compose` (3 services, 2 networks, a named volume, health
//! checks, replicas) is brought up by docker-compose and its pages read;
//! then it is imported, the `.imm` validated and applied, and imm's
//! deployment must serve the same pages. What the import does not carry
//! over is reported with file:line:column. The fixtures of
//! `tests/fixtures/compose/` (the patterns public stacks use: secrets,
//! bound configuration files, `$$` and `${VAR:-default}`, `expose`,
//! limits) are imported, their translation and notes kept as snapshots,
//! and each translation validates.

mod common;
#[path = "support/docker.rs"]
mod docker;
#[path = "support/etcd.rs"]
mod etcd;

use std::process::Command;
use std::time::{Duration, Instant};

/// Takes the Compose project down (containers, networks, volumes) however
/// the test ends.
struct ComposeUp {
    dir: std::path::PathBuf,
    name: String,
}

impl ComposeUp {
    fn run(&self, args: &[&str]) -> common::Run {
        common::Run::from(
            Command::new("docker-compose")
                .args(["-p", &self.name])
                .args(args)
                .current_dir(&self.dir)
                .output()
                .expect("run docker-compose"),
        )
    }
}

impl Drop for ComposeUp {
    fn drop(&mut self) {
        let _ = self.run(&["down", "-v", "--rmi", "local"]);
    }
}

fn require_compose() {
    let found = Command::new("docker-compose")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "this test needs docker-compose to compare with: apt-get install docker-compose (scripts/test.sh installs it)"
    );
}

/// The two pages of the shop, once they answer (or what they answered last).
fn pages(port: u16) -> (String, String) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let index = etcd::http_get(port, "/").unwrap_or_default();
        let items = etcd::http_get(port, "/cgi-bin/items").unwrap_or_default();
        if items.contains("items") || Instant::now() > deadline {
            return (index, items);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_compose_project_imported_serves_what_docker_compose_serves() {
    docker::require_docker();
    require_compose();
    let p = docker::docker_project("");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/compose");
    docker::copy_dir(&source, p.project.path());
    std::fs::remove_file(p.project.file("main.imm")).expect("the example's translation");
    std::fs::write(p.project.file("base/busybox"), docker::static_busybox()).expect("busybox");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(p.project.file("base/busybox"), mode).expect("chmod");
    }
    let port = etcd::free_port();
    let base = format!("{}-compose-base", p.prefix);
    let compose_file = p.project.file("docker-compose.yml");
    let text = std::fs::read_to_string(&compose_file)
        .expect("compose file")
        .replace("18380", &port.to_string())
        .replace("imm-compose-base", &base);
    std::fs::write(&compose_file, &text).expect("write");
    // Compose builds FROM an image it finds on the daemon (no registry).
    let built = Command::new("docker")
        .args(["build", "-q", "-t", &base])
        .arg(p.project.file("base"))
        .output()
        .expect("run docker build");
    common::Run::from(built).assert_ok();

    // What Compose serves.
    let compose = ComposeUp {
        dir: p.project.path().to_path_buf(),
        name: p.prefix.clone(),
    };
    compose.run(&["up", "-d", "--build"]).assert_ok();
    let (compose_index, compose_items) = pages(port);
    assert!(
        compose_items.contains("\"apple\""),
        "Compose serves the shop: {compose_items}"
    );
    compose.run(&["down", "-v"]).assert_ok();

    // The same project through imm.
    let imported = p.imm(&["import", "compose", "docker-compose.yml"]);
    imported.assert_ok();
    let pids_line = text
        .lines()
        .position(|l| l.trim_start().starts_with("pids_limit:"))
        .expect("the file has pids_limit")
        + 1;
    assert!(
        imported.stderr.contains(&format!(
            "docker-compose.yml:{pids_line}:5: service `web`: `pids_limit`"
        )),
        "what is not translated is listed with file:line:col: {}",
        imported.stderr
    );
    p.imm(&["validate"]).assert_ok();
    p.imm(&["fmt", "--check"]).assert_ok();
    p.apply(&[]).assert_ok();
    let (imm_index, imm_items) = pages(port);
    assert_eq!(imm_index, compose_index, "the same front page");
    assert_eq!(
        imm_items, compose_items,
        "the same answer through every tier"
    );
    assert_eq!(
        docker::docker(&[
            "ps",
            "-q",
            "--filter",
            &format!("label=imm.project={}", p.label),
            "--filter",
            "label=imm.address=docker_container.api[1]",
        ])
        .stdout
        .lines()
        .count(),
        1,
        "deploy.replicas became count"
    );
    p.imm(&["plan", "--detailed-exitcode"]).assert_code(0);
    p.imm(&["destroy", "--auto-approve"]).assert_ok();
    docker::docker(&["rmi", "-f", &base]);
}

#[test]
fn the_example_translation_is_what_the_importer_writes() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/compose");
    let p = common::Project::new(&[]);
    let compose = std::fs::read_to_string(example.join("docker-compose.yml")).expect("compose");
    std::fs::write(p.file("docker-compose.yml"), compose).expect("copy");
    p.imm(&["import", "compose", "docker-compose.yml"])
        .assert_ok();
    let written = std::fs::read_to_string(p.file("main.imm")).expect("imported");
    let committed = std::fs::read_to_string(example.join("main.imm")).expect("committed");
    assert_eq!(
        written, committed,
        "examples/compose/main.imm is out of date: run `imm import compose docker-compose.yml --force` there"
    );
    // Refusing to overwrite is its own code: nothing is wrong with stdout.
    p.imm(&["import", "compose", "docker-compose.yml"])
        .assert_fails_with("exists; nothing was written")
        .assert_fails_with("E0605")
        .assert_fails_with("--force");
    std::fs::write(p.file("broken.yml"), "services:\n  web: [a\n").expect("write");
    p.imm(&["import", "compose", "broken.yml", "--out", "b.imm"])
        .assert_fails_with("broken.yml:");
}

/// `docker inspect` of one container: its environment variables named in
/// `keys`, and what its health check wrote to /tmp/health.
fn env_and_health(container: &str, keys: &[&str]) -> (Vec<String>, String) {
    let env = docker::docker(&["inspect", "-f", "{{json .Config.Env}}", container]).stdout;
    let env: Vec<String> = serde_json::from_str(env.trim()).expect("the container's environment");
    let mut kept: Vec<String> = env
        .into_iter()
        .filter(|e| keys.iter().any(|k| e.starts_with(&format!("{k}="))))
        .collect();
    kept.sort();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let health = docker::docker(&["exec", container, "cat", "/tmp/health"]);
        if health.code == 0 || Instant::now() > deadline {
            return (kept, health.stdout);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn dollars_and_variables_mean_in_imm_what_they_mean_in_docker_compose() {
    docker::require_docker();
    require_compose();
    let p = docker::docker_project("");
    std::fs::remove_file(p.project.file("main.imm")).expect("no project yet");
    let base = format!("{}-dollars-base", p.prefix);
    let built = Command::new("docker")
        .args(["build", "-q", "-t", &base])
        .arg(p.project.file("base"))
        .output()
        .expect("run docker build");
    common::Run::from(built).assert_ok();
    let compose_file = format!(
        r#"services:
  app:
    image: {base}
    command: ["sleep", "600"]
    environment:
      GREETING: "${{GREETING:-hello}}"
      PRICE: "$$5"
      TAG: "${{TAG}}"
      MISSING: "[${{NOT_SET_ANYWHERE}}]"
      BRACED: "$${{LITERAL}}"
    healthcheck:
      test: ["CMD-SHELL", "echo \"$$(echo hi) $$0\" > /tmp/health"]
      interval: 1s
      retries: 30
"#
    );
    std::fs::write(p.project.file("docker-compose.yml"), compose_file).expect("write");
    std::fs::write(p.project.file(".env"), "TAG=1.2.3\n").expect("write .env");
    let keys = ["GREETING", "PRICE", "TAG", "MISSING", "BRACED"];

    let compose = ComposeUp {
        dir: p.project.path().to_path_buf(),
        name: p.prefix.clone(),
    };
    compose.run(&["up", "-d"]).assert_ok();
    let compose_container = format!("{}_app_1", p.prefix);
    let (compose_env, compose_health) = env_and_health(&compose_container, &keys);
    assert_eq!(
        compose_env,
        [
            "BRACED=${LITERAL}",
            "GREETING=hello",
            "MISSING=[]",
            "PRICE=$5",
            "TAG=1.2.3"
        ],
        "what docker-compose gives the container"
    );
    assert_eq!(
        compose_health.trim(),
        "hi /bin/sh",
        "docker-compose's health check ($0 is the shell Docker runs it with)"
    );
    compose.run(&["down"]).assert_ok();

    let imported = p.imm(&["import", "compose", "docker-compose.yml"]);
    imported.assert_ok();
    assert!(
        !imported.stderr.contains("docker-compose.yml:"),
        "variables and $$ need no note: {}",
        imported.stderr
    );
    p.apply(&[]).assert_ok();
    let id = p.recorded("docker_container.app", "id");
    let (imm_env, imm_health) = env_and_health(&id, &keys);
    assert_eq!(
        imm_env, compose_env,
        "imm gives the container the same environment"
    );
    assert_eq!(
        imm_health, compose_health,
        "and its health check runs the same shell"
    );
    // A variable is an imm variable: set on the command line, it wins over .env.
    p.apply(&["TAG=2.0"]).assert_ok();
    let id = p.recorded("docker_container.app", "id");
    let (env, _) = env_and_health(&id, &["TAG"]);
    assert_eq!(env, ["TAG=2.0"]);
    p.imm(&["destroy", "--auto-approve"]).assert_ok();
    docker::docker(&["rmi", "-f", &base]);
}

/// The fixture stacks, each imported in a copy of the fixtures (a path
/// outside a stack's directory is the copy's `common/`): the `.imm` text
/// and the notes as the user sees them, and the translation validates.
#[test]
fn each_compose_fixture_imports_with_its_notes() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compose");
    let copy = tempfile::tempdir().expect("tempdir");
    docker::copy_dir(&fixtures, copy.path());
    let root = copy.path().canonicalize().expect("real path");
    let p = common::Project::new(&[]);
    for stack in [
        "secrets",
        "nginx-config",
        "dollars-and-variables",
        "limits-and-expose",
    ] {
        let dir = root.join(stack);
        let compose = dir.join("docker-compose.yml");
        let imported = p.imm(&["import", "compose", &compose.to_string_lossy()]);
        imported.assert_ok();
        let imm = std::fs::read_to_string(dir.join("main.imm")).expect("imported");
        let notes = imported
            .stderr
            .replace(&root.to_string_lossy().into_owned(), "<fixtures>");
        let imm = imm.replace(&root.to_string_lossy().into_owned(), "<fixtures>");
        insta::assert_snapshot!(format!("compose-{stack}"), format!("{notes}\n{imm}"));
        p.imm(&["validate", &dir.to_string_lossy()]).assert_ok();
    }
}

/// A file secret and a bound configuration file: docker-compose's
/// container and imm's imported one read the same files at the same
/// paths, the configuration file read-only, the secret not in imm's
/// state or output.
#[test]
fn secrets_and_bound_files_mean_in_imm_what_they_mean_in_docker_compose() {
    docker::require_docker();
    require_compose();
    let p = docker::docker_project("");
    std::fs::remove_file(p.project.file("main.imm")).expect("no project yet");
    let base = format!("{}-files-base", p.prefix);
    let built = Command::new("docker")
        .args(["build", "-q", "-t", &base])
        .arg(p.project.file("base"))
        .output()
        .expect("run docker build");
    common::Run::from(built).assert_ok();
    let compose_file = format!(
        r#"services:
  app:
    image: {base}
    command: ["sleep", "600"]
    secrets:
      - token
    volumes:
      - ./conf/app.conf:/etc/app.conf:ro
secrets:
  token:
    file: ./token.txt
"#
    );
    std::fs::write(p.project.file("docker-compose.yml"), compose_file).expect("write");
    std::fs::create_dir_all(p.project.file("conf")).expect("mkdir");
    std::fs::write(p.project.file("conf/app.conf"), "level = info\n").expect("conf");
    std::fs::write(p.project.file("token.txt"), "s3cr3t-t0ken\n").expect("token");
    let read = |container: &str| {
        let cat = |path: &str| docker::docker(&["exec", container, "cat", path]).stdout;
        let write = docker::docker(&["exec", container, "sh", "-c", "echo x >> /etc/app.conf"]);
        (
            cat("/run/secrets/token"),
            cat("/etc/app.conf"),
            write.code != 0,
        )
    };

    let compose = ComposeUp {
        dir: p.project.path().to_path_buf(),
        name: p.prefix.clone(),
    };
    compose.run(&["up", "-d"]).assert_ok();
    let by_compose = read(&format!("{}_app_1", p.prefix));
    assert_eq!(
        by_compose,
        ("s3cr3t-t0ken\n".into(), "level = info\n".into(), true),
        "what docker-compose's container reads (and cannot write)"
    );
    compose.run(&["down"]).assert_ok();

    let imported = p.imm(&["import", "compose", "docker-compose.yml"]);
    imported.assert_ok();
    assert!(
        !imported.stderr.contains("docker-compose.yml:"),
        "secrets and binds need no note: {}",
        imported.stderr
    );
    let applied = p.apply(&[]);
    applied.assert_ok();
    let id = p.recorded("docker_container.app", "id");
    // A `file:` secret is read without its final newline (as the images'
    // entrypoints read *_FILE variables: `$(< file)`); all else is equal.
    let (secret, conf, refused) = by_compose;
    let by_compose = (secret.trim_end().to_string(), conf, refused);
    assert_eq!(read(&id), by_compose, "imm's container reads the same");
    let state = std::fs::read_to_string(p.project.file(".imm/state/default.json"))
        .unwrap_or_else(|_| p.state().to_string());
    assert!(!state.contains("s3cr3t"), "the secret is not in state");
    assert!(!applied.all().contains("s3cr3t"), "nor in the output");
    p.imm(&["destroy", "--auto-approve"]).assert_ok();
    docker::docker(&["rmi", "-f", &base]);
}
