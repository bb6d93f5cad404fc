//! Every class of executor failure through the real `imm` binary against
//! the real outside world (Docker Engine, etcd's absence, the kernel's
//! refusals, a command): the code each shows and the help that tells how to
//! fix it. One table of cases; each case is a project, what the
//! environment around it does, and what the user must read.
//!
//! Needs a running Docker Engine (`docker info`) and a static busybox
//! (Debian's `busybox-static`) for the Docker cases.

mod common;
#[path = "support/docker.rs"]
mod docker_project;
#[path = "support/etcd.rs"]
mod etcd;
use common::{Project, Run};
use docker_project::{docker_project, frozen_daemon};

/// The busybox base image every Docker case builds (cached by the daemon).
const BASE_IMAGE: &str = r#"
resource "docker_image" "base" {
  name = "PFX-base"
  build {
    context = "./base"
  }
}
"#;

/// One failure: the code it must show and a piece of the help under it.
struct Expected {
    code: &'static str,
    help: &'static str,
}

/// The diagnostics `imm apply --format json` printed, one per line.
fn diagnostics(run: &Run) -> Vec<serde_json::Value> {
    run.stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|d| d.get("code").is_some())
        .collect()
}

/// The apply failed with a diagnostic of the expected code whose help says
/// what to do.
fn assert_reported(case: &str, run: &Run, expected: &Expected) {
    assert_eq!(run.code, 1, "{case}: the apply fails\n{}", run.all());
    let found = diagnostics(run);
    let with_code: Vec<&serde_json::Value> = found
        .iter()
        .filter(|d| d["code"] == expected.code)
        .collect();
    assert!(
        !with_code.is_empty(),
        "{case}: expected {} among the diagnostics:\n{}",
        expected.code,
        run.all()
    );
    assert!(
        with_code.iter().any(|d| d["help"]
            .as_str()
            .is_some_and(|h| h.contains(expected.help))),
        "{case}: expected the help of {} to say {:?}:\n{}",
        expected.code,
        expected.help,
        run.all()
    );
}

fn apply_json(project: &Project, env: &[(&str, &str)]) -> Run {
    project.imm_with_env(&["apply", "--auto-approve", "--format", "json"], env)
}

/// Failures of the Docker types on the real daemon: the resources (after
/// the base image), what the user must read.
const DOCKER_CASES: &[(&str, &str, Expected)] = &[
    (
        "build failed",
        r#"
resource "docker_image" "broken" {
  name = "PFX-broken"
  build {
    context    = "./base"
    dockerfile = "Broken.Dockerfile"
  }
}
"#,
        Expected {
            code: "E0811",
            help: "fix the Dockerfile",
        },
    ),
    (
        "health check failed",
        r#"
resource "docker_container" "app" {
  image   = docker_image.base.id
  name    = "app"
  command = ["sleep", "600"]
  health {
    command  = ["false"]
    interval = "200ms"
    timeout  = "1s"
    retries  = 2
  }
}
"#,
        Expected {
            code: "E0813",
            help: "start_period",
        },
    ),
    (
        "test failed",
        r#"
resource "docker_container" "app" {
  image   = docker_image.base.id
  name    = "app"
  command = ["sleep", "600"]
  test {
    command = ["sh", "-c", "echo not ready; exit 4"]
  }
}
"#,
        Expected {
            code: "E0814",
            help: "read the test's output",
        },
    ),
    (
        "configuration the executor cannot use",
        r#"
resource "docker_container" "app" {
  image   = docker_image.base.id
  name    = "app"
  command = ["sleep", "600"]
  ports   = ["8080"]
}
"#,
        Expected {
            code: "E0820",
            help: "fix the attribute the message names",
        },
    ),
    (
        "image test failed",
        r#"
resource "docker_image" "tested" {
  name = "PFX-tested"
  build {
    context = "./base"
  }
  test {
    command = ["test", "-f", "/nothing-here"]
  }
}
"#,
        Expected {
            code: "E0814",
            help: "read the test's output",
        },
    ),
];

#[test]
fn docker_failures_show_their_code_and_help() {
    for (case, resources, expected) in DOCKER_CASES {
        let p = docker_project(&format!("{BASE_IMAGE}{resources}"));
        std::fs::write(
            p.project.file("base/Broken.Dockerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"false\"]\n",
        )
        .expect("write the broken Dockerfile");
        let run = apply_json(&p.project, &[]);
        assert_reported(case, &run, expected);
        assert!(
            p.containers().is_empty(),
            "{case}: nothing is left running: {:?}",
            p.containers()
        );
    }
}

#[test]
fn a_host_port_taken_is_a_conflict() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = holder.local_addr().expect("its address").port();
    let p = docker_project(&format!(
        "{BASE_IMAGE}\nresource \"docker_container\" \"app\" {{\n  image   = docker_image.base.id\n  name    = \"app\"\n  command = [\"sleep\", \"600\"]\n  ports   = [\"{port}:8080\"]\n}}\n"
    ));
    let run = apply_json(&p.project, &[]);
    assert_reported(
        "host port taken",
        &run,
        &Expected {
            code: "E0818",
            help: "remove or rename the object named in the message",
        },
    );
    assert!(
        run.all().contains(&port.to_string()),
        "the message names the port:\n{}",
        run.all()
    );
    drop(holder);
}

#[test]
fn a_daemon_nobody_runs_is_unreachable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("nobody.sock");
    let p = Project::new(&[("main.imm", "resource \"docker_network\" \"net\" {}\n")]);
    let run = apply_json(
        &p,
        &[("DOCKER_HOST", &format!("unix://{}", socket.display()))],
    );
    assert_reported(
        "daemon unreachable",
        &run,
        &Expected {
            code: "E0810",
            help: "is Docker running?",
        },
    );
}

#[cfg(unix)]
#[test]
fn a_daemon_that_never_answers_is_a_timeout_naming_its_deadline() {
    let (_dir, socket) = frozen_daemon();
    let p = Project::new(&[("main.imm", "resource \"docker_network\" \"net\" {}\n")]);
    let run = apply_json(
        &p,
        &[
            ("DOCKER_HOST", &format!("unix://{}", socket.display())),
            ("IMM_DOCKER_TIMEOUT", "2s"),
        ],
    );
    assert_reported(
        "timeout",
        &run,
        &Expected {
            code: "E0815",
            help: "IMM_DOCKER_TIMEOUT",
        },
    );
}

/// Failures that need no daemon: a project and what the user must read.
fn local_cases() -> Vec<(&'static str, String, Expected)> {
    let closed = etcd::free_port();
    vec![
        (
            "store unreachable",
            format!(
                "store \"main\" {{\n  backend   = \"etcd\"\n  endpoints = [\"http://127.0.0.1:{closed}\"]\n}}\n\nresource \"config\" \"app\" {{\n  store  = store.main\n  values = {{ a = 1 }}\n}}\n"
            ),
            Expected {
                code: "E0816",
                help: "is etcd running",
            },
        ),
        (
            // Tests run as root: sysfs refuses even root a new file.
            "permission denied",
            "resource \"file\" \"out\" {\n  path    = \"/sys/imm-failures-test.txt\"\n  content = \"x\"\n}\n"
                .to_string(),
            Expected {
                code: "E0817",
                help: "give imm's user the right to write /sys/imm-failures-test.txt",
            },
        ),
        (
            "command failed",
            "resource \"exec\" \"job\" {\n  create = [\"sh\", \"-c\", \"echo broken >&2; exit 3\"]\n}\n"
                .to_string(),
            Expected {
                code: "E0819",
                help: "read the command's output",
            },
        ),
        (
            "command missing",
            "resource \"exec\" \"job\" {\n  create = [\"imm-no-such-program\"]\n}\n".to_string(),
            Expected {
                code: "E0819",
                help: "check that `imm-no-such-program` is installed",
            },
        ),
    ]
}

#[test]
fn local_failures_show_their_code_and_help() {
    for (case, main, expected) in local_cases() {
        let p = Project::new(&[("main.imm", &main)]);
        let run = apply_json(&p, &[]);
        assert_reported(case, &run, &expected);
    }
}
