//! `examples/packer` end to end on the real daemon: an image built by
//! Packer (docker builder, no pull) and configured by Ansible, from a
//! Debian base made by debootstrap, as `exec` artifacts. Staging builds
//! it; prod runs the very same image id without running Packer; a changed
//! playbook rebuilds exactly that artifact (not the base) and what uses it.

mod common;
#[path = "support/docker.rs"]
mod docker;
#[path = "support/etcd.rs"]
mod etcd;

use std::process::Command;

fn require(tool: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "this test needs {tool}: apt-get install {package} (scripts/test.sh installs it)"
    );
}

#[test]
fn packer_and_ansible_build_once_and_prod_runs_what_staging_tested() {
    docker::require_docker();
    require("packer", "packer");
    require("ansible-playbook", "ansible");
    require("debootstrap", "debootstrap");
    let p = docker::docker_project("");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/packer");
    docker::copy_dir(&source, p.project.path());
    let [staging, prod] = etcd::free_ports();
    let ports = [("staging", staging), ("prod", prod)];
    let imm = |env: &str, args: &[&str]| {
        let port = ports
            .iter()
            .find(|(e, _)| *e == env)
            .map(|(_, p)| *p)
            .unwrap_or(0);
        let port = format!("port={port}");
        let mut all = args.to_vec();
        all.extend(["--env", env, "--var", &port]);
        p.imm(&all)
    };
    let page = |env: &str| {
        let port = ports
            .iter()
            .find(|(e, _)| *e == env)
            .map(|(_, p)| *p)
            .unwrap_or(0);
        etcd::http_get(port, "/").unwrap_or_default()
    };
    let builds = || {
        std::fs::read_to_string(p.project.file("packer-builds.log"))
            .unwrap_or_default()
            .lines()
            .count()
    };
    let image = |env: &str| {
        let text = std::fs::read_to_string(p.project.file(&format!(".imm/state/{env}.json")))
            .expect("state");
        let state: serde_json::Value = serde_json::from_str(&text).expect("state JSON");
        state["resources"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["address"] == "exec.app_image"))
            .and_then(|r| r["outs"]["outputs"]["id"].as_str())
            .unwrap_or_default()
            .to_string()
    };

    imm("staging", &["apply", "--auto-approve"])
        .assert_ok()
        .assert_stdout_contains("exec.app_image: | ==> docker: Provisioning with Ansible");
    assert!(page("staging").contains("configured by Ansible, release 1"));
    assert_eq!(builds(), 1);

    imm("prod", &["plan"]).assert_stdout_contains("Reuse (2)");
    imm("prod", &["apply", "--auto-approve"]).assert_ok();
    assert_eq!(builds(), 1, "prod does not run Packer");
    assert_eq!(
        image("prod"),
        image("staging"),
        "prod runs the image staging tested"
    );
    assert!(page("prod").contains("release 1"));
    let first = image("staging");

    let playbook = p.project.file("packer/playbook.yml");
    let text = std::fs::read_to_string(&playbook).expect("playbook");
    std::fs::write(&playbook, text.replace("release 1", "release 2")).expect("edit");
    let plan = imm("staging", &["plan", "--format", "json"]).json();
    let reasons = |address: &str| {
        plan["changes"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["address"] == address))
            .map(|c| (c["action"].to_string(), c["reasons"].to_string()))
            .unwrap_or_default()
    };
    assert!(
        reasons("exec.app_image")
            .1
            .contains("build changed (files in ./packer)"),
        "{plan}"
    );
    assert_eq!(
        reasons("exec.debian_base").0,
        "\"noop\"",
        "the base is not rebuilt"
    );
    assert!(reasons("docker_container.app")
        .1
        .contains("artifact rebuilt (exec.app_image)"));
    imm("prod", &["apply", "--auto-approve"]).assert_fails_with("staging");
    imm("staging", &["apply", "--auto-approve"]).assert_ok();
    assert_eq!(builds(), 2, "the playbook change rebuilt the image once");
    assert!(page("staging").contains("release 2"));
    imm("prod", &["apply", "--auto-approve"]).assert_ok();
    assert_eq!(builds(), 2);
    assert!(page("prod").contains("release 2"));
    assert_eq!(image("prod"), image("staging"));

    let exists = |id: &str| docker::docker(&["image", "inspect", id]).code == 0;
    assert!(
        !exists(&first),
        "release 1's image went when prod, its last user, moved on"
    );
    let second = image("staging");
    imm("prod", &["destroy", "--auto-approve"]).assert_ok();
    assert!(exists(&second), "staging still runs it");
    imm("staging", &["destroy", "--auto-approve"]).assert_ok();
    assert!(!exists(&second), "the last environment removed it");
}
