//! The delivery-pipeline example (`examples/pipeline`) end to end, on the
//! real daemon and a real etcd: staging applied, a run-time value changed
//! by reload (same containers), seen at once by an app reading etcd
//! itself, rolled back through the store and the app, and the image staging
//! tested promoted to a protected prod without a second build; the secret
//! never shown or recorded.

mod common;
#[path = "support/docker.rs"]
mod docker;
#[path = "support/etcd.rs"]
mod etcd;

use docker::{example, DockerProject};

const SECRET: &str = "pipeline-db-pw-0b7e-never-shown";

/// The example with what it needs from the process environment.
struct Pipeline {
    p: DockerProject,
    etcd: etcd::Etcd,
    staging_port: u16,
    prod_port: u16,
}

impl Pipeline {
    fn imm(&self, env: &str, args: &[&str]) -> common::Run {
        let port = if env == "prod" {
            self.prod_port
        } else {
            self.staging_port
        };
        let port = format!("reader_port={port}");
        let mut all = args.to_vec();
        all.extend(["--env", env, "--var", &port]);
        self.p.project.imm_with_env(
            &all,
            &[
                ("ETCDCTL_ENDPOINTS", self.etcd.url.as_str()),
                ("IMM_VAR_etcd_endpoints", self.etcd.url.as_str()),
                ("PIPELINE_DB_PASSWORD", SECRET),
            ],
        )
    }

    fn state(&self, env: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.p.project.file(&format!(".imm/state/{env}.json")))
            .expect("state file");
        serde_json::from_str(&text).expect("state JSON")
    }

    fn recorded(&self, env: &str, address: &str, out: &str) -> String {
        self.state(env)["resources"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["address"] == address))
            .and_then(|r| r["outs"][out].as_str())
            .unwrap_or_default()
            .to_string()
    }

    fn web_ids(&self, env: &str) -> Vec<String> {
        (0..2)
            .map(|i| self.recorded(env, &format!("docker_container.web[{i}]"), "id"))
            .collect()
    }

    /// The page a web replica serves, asked from inside it.
    fn page(&self, env: &str, index: usize) -> String {
        let id = self.recorded(env, &format!("docker_container.web[{index}]"), "id");
        docker::docker(&[
            "exec",
            &id,
            "wget",
            "-q",
            "-O",
            "-",
            "http://127.0.0.1:8080/",
        ])
        .stdout
    }

    /// What the reader tier, reading etcd itself, answers.
    fn reader(&self, env: &str) -> String {
        let port = if env == "prod" {
            self.prod_port
        } else {
            self.staging_port
        };
        etcd::http_get(port, "/cgi-bin/values").unwrap_or_default()
    }
}

#[test]
fn the_pipeline_example_reloads_rolls_back_and_promotes_what_staging_tested() {
    let [staging_port, prod_port] = etcd::free_ports();
    let pipeline = Pipeline {
        p: example("pipeline"),
        etcd: etcd::Etcd::start(),
        staging_port,
        prod_port,
    };
    let staging = |args: &[&str]| pipeline.imm("staging", args);

    staging(&["apply", "--auto-approve"]).assert_ok();
    assert!(pipeline.page("staging", 0).contains("hello from staging"));
    let read = pipeline.reader("staging");
    assert!(
        read.contains("greeting=hello"),
        "the reader reads etcd: {read}"
    );
    assert!(!read.contains(SECRET), "{read}");
    let stored = pipeline.etcd.get_prefix("pipeline/staging/app/");
    assert!(
        stored.contains("pipeline/staging/app/greeting=hello"),
        "{stored}"
    );
    let ids = pipeline.web_ids("staging");

    let plan = staging(&["plan", "--var", "greeting=bonjour"]);
    plan.assert_ok()
        .assert_stdout_contains("~   docker_container.web[0]")
        .assert_stdout_contains("+ greeting=bonjour")
        .assert_stdout_contains("db_password=(sensitive)");
    for format in ["json", "markdown"] {
        let other = staging(&["plan", "--var", "greeting=bonjour", "--format", format]);
        assert!(!other.all().contains(SECRET), "{format}: {}", other.all());
    }
    assert!(!plan.all().contains(SECRET));
    staging(&["apply", "--auto-approve", "--var", "greeting=bonjour"])
        .assert_ok()
        .assert_stdout_contains("0 replaced, 3 reconfigured");
    assert_eq!(pipeline.web_ids("staging"), ids, "reloaded, not replaced");
    assert!(pipeline.page("staging", 1).contains("bonjour from staging"));
    assert!(pipeline.reader("staging").contains("greeting=bonjour"));

    let history = staging(&["config", "history", "app"]).stdout;
    let first = history
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .expect("the first revision")
        .to_string();
    staging(&[
        "config",
        "rollback",
        "app",
        &first,
        "--auto-approve",
        "--var",
        "greeting=bonjour",
    ])
    .assert_ok()
    .assert_stdout_contains("~   docker_container.web[1]");
    assert!(pipeline.page("staging", 0).contains("hello from staging"));
    assert!(pipeline.reader("staging").contains("greeting=hello"));
    assert_eq!(pipeline.web_ids("staging"), ids);

    let failed = staging(&["apply", "--auto-approve", "--var", "log_level=loud"]);
    assert_ne!(failed.code, 0, "a level the app refuses fails its reload");
    assert!(
        failed.all().contains("put back")
            && failed.all().contains("went back to the values of revision"),
        "the apply says the files and the store were put back: {}",
        failed.all()
    );
    let stored = pipeline.etcd.get_prefix("pipeline/staging/app/");
    assert!(
        stored.contains("pipeline/staging/app/log_level=info"),
        "{stored}"
    );
    assert!(pipeline.reader("staging").contains("log_level=info"));
    assert_eq!(pipeline.web_ids("staging"), ids);
    let conf = docker::docker(&["exec", &ids[0], "cat", "/etc/app/app.conf"]).stdout;
    assert!(
        conf.contains("log_level=info"),
        "the app runs on the old file: {conf}"
    );

    pipeline
        .imm("prod", &["apply", "--auto-approve"])
        .assert_fails_with("E0804");
    pipeline
        .imm("prod", &["apply", "--auto-approve", "--yes-really"])
        .assert_ok();
    assert_eq!(
        pipeline.recorded("prod", "docker_image.app", "id"),
        pipeline.recorded("staging", "docker_image.app", "id"),
        "prod runs the very image staging tested"
    );
    assert!(pipeline.page("prod", 0).contains("hello from prod"));
    assert!(pipeline.reader("prod").contains("greeting=hello"));

    let written = common::text_under(&pipeline.p.project.file(".imm"));
    assert!(!written.contains(SECRET), "no secret under .imm");
    assert!(
        pipeline
            .etcd
            .get_prefix("pipeline/prod/app/")
            .contains(SECRET),
        "the secret reached the store, which is what it is for"
    );
}
