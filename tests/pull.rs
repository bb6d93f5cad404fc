//! Off-the-shelf images through the real binary, a real registry (Debian's
//! `docker-registry` on loopback, images pushed by the test) and the real
//! daemon: the first plan locks each tag to its digest in `imm.lock.hcl`,
//! apply pulls exactly that digest, a tag moved upstream changes nothing
//! until `imm lock --upgrade`, an unknown tag or a locked digest the
//! registry lost is an error at plan, and prod runs the digest staging ran.

mod common;
#[path = "support/docker.rs"]
mod docker;
#[path = "support/etcd.rs"]
mod etcd;
#[path = "support/registry.rs"]
mod registry;

use docker::{docker, docker_project, DockerProject};

/// A pulled image and a container running the same tag, named directly.
const PULLED: &str = r#"
resource "docker_image" "app" {
  pull = "IMAGE"
}

resource "docker_container" "app" {
  image   = "IMAGE"
  command = ["/bin/busybox", "sleep", "600"]
}
"#;

fn project(text: &str, image: &str) -> DockerProject {
    let p = docker_project("");
    std::fs::write(p.project.file("main.imm"), text.replace("IMAGE", image)).expect("write");
    p
}

fn lock_text(p: &DockerProject) -> String {
    std::fs::read_to_string(p.project.file("imm.lock.hcl")).unwrap_or_default()
}

/// What the container recorded at `address` runs: its configured image
/// and the version file inside it.
fn running(p: &DockerProject, address: &str, env: &str) -> (String, String) {
    let id = p.recorded_in(env, address, "id");
    let image = docker(&["inspect", "-f", "{{.Config.Image}}", &id]);
    let version = docker(&["exec", &id, "/bin/busybox", "cat", "/version"]);
    (
        image.stdout.trim().to_string(),
        version.stdout.trim().to_string(),
    )
}

fn remove_local(reference: &str) {
    let _ = docker(&["rmi", "-f", reference]);
}

#[test]
fn a_tag_is_locked_at_the_first_plan_pulled_by_digest_and_moved_only_by_lock_upgrade() {
    let registry = registry::Registry::start();
    let first = registry.push("team/app", "1", docker::versioned_context("one").path());
    let image = format!("{}/team/app:1", registry.address);
    let repository = format!("{}/team/app", registry.address);
    let p = project(PULLED, &image);

    let plan = p.imm(&["plan"]);
    plan.assert_ok();
    assert!(
        lock_text(&p).contains(&format!("image \"{image}\" {{\n  digest = \"{first}\"")),
        "the first plan locks the tag: {}",
        lock_text(&p)
    );
    assert!(
        plan.stdout.contains(&format!("{repository}@{first}")),
        "the plan names the digest: {}",
        plan.all()
    );

    remove_local(&format!("{repository}@{first}"));
    let applied = p.imm(&["apply", "--auto-approve"]);
    applied.assert_ok();
    assert!(
        applied
            .all()
            .contains(&format!("pulling {repository}@{first}")),
        "the pull is shown: {}",
        applied.all()
    );
    assert_eq!(
        running(&p, "docker_container.app", "default"),
        (format!("{repository}@{first}"), "one".to_string()),
        "the container runs the locked digest, never the tag"
    );
    assert_eq!(
        p.recorded("docker_image.app", "tag"),
        format!("{repository}@{first}")
    );

    // The tag moves upstream: nothing changes until the lock is upgraded.
    let second = registry.push("team/app", "1", docker::versioned_context("two").path());
    assert_ne!(first, second);
    p.imm(&["plan"])
        .assert_ok()
        .assert_stdout_contains("No changes.");
    assert!(lock_text(&p).contains(&first), "{}", lock_text(&p));

    let upgraded = p.imm(&["lock", ".", "--upgrade", "docker_container.app"]);
    upgraded.assert_ok();
    assert!(
        lock_text(&p).contains(&second) && !lock_text(&p).contains(&first),
        "{}",
        lock_text(&p)
    );
    let plan = p.imm(&["plan"]);
    plan.assert_ok()
        .assert_stdout_contains("build changed (image)");
    assert!(
        plan.stdout.contains(&second),
        "the new digest is shown: {}",
        plan.all()
    );
    p.imm(&["apply", "--auto-approve"]).assert_ok();
    assert_eq!(
        running(&p, "docker_container.app", "default"),
        (format!("{repository}@{second}"), "two".to_string())
    );
    p.imm(&["plan"])
        .assert_ok()
        .assert_stdout_contains("No changes.");
}

#[test]
fn an_unknown_tag_or_a_locked_digest_the_registry_lost_fails_the_plan_at_the_image() {
    let registry = registry::Registry::start();
    let first = registry.push("team/app", "1", docker::versioned_context("one").path());

    let missing = format!("{}/team/app:9.9", registry.address);
    let p = project(PULLED, &missing);
    let plan = p.imm(&["plan"]);
    plan.assert_fails_with("E0708");
    assert!(
        plan.all().contains("has no image") && plan.all().contains("main.imm:3:"),
        "the error names the image and where it is written: {}",
        plan.all()
    );
    assert!(!p.project.file("imm.lock.hcl").exists());

    let image = format!("{}/team/app:1", registry.address);
    std::fs::write(p.project.file("main.imm"), PULLED.replace("IMAGE", &image)).expect("write");
    p.imm(&["lock"]).assert_ok();
    assert!(lock_text(&p).contains(&first));
    registry.delete("team/app", &first);
    let plan = p.imm(&["plan"]);
    plan.assert_fails_with("E0708");
    assert!(
        plan.all().contains("no longer has it") && plan.all().contains("imm lock --upgrade"),
        "{}",
        plan.all()
    );
}

#[test]
fn pulling_and_building_at_once_is_refused_with_the_attribute() {
    let p = docker_project("");
    std::fs::write(
        p.project.file("main.imm"),
        "resource \"docker_image\" \"app\" {\n  pull = \"redis:7.2\"\n  build {\n    context = \"./base\"\n  }\n}\n",
    )
    .expect("write");
    let run = p.imm(&["validate"]);
    assert!(
        run.all().contains("either pulled or built") && run.all().contains("main.imm:2:"),
        "{}",
        run.all()
    );
}

/// Two engines (both this daemon, under two names) and two environments,
/// prod promoted from staging.
const PROMOTED: &str = r#"
environment "staging" {}

environment "prod" {
  promote_from = "staging"
}

engine "one" {
  endpoints = ["unix:///var/run/docker.sock"]
}

engine "two" {
  endpoints = ["unix:///var/run/docker.sock"]
}

resource "docker_image" "app" {
  pull   = "IMAGE"
  engine = engine.one
}

resource "docker_container" "one" {
  image   = docker_image.app.tag
  engine  = engine.one
  command = ["/bin/busybox", "sleep", "600"]
}

resource "docker_container" "two" {
  image   = "IMAGE"
  engine  = engine.two
  command = ["/bin/busybox", "sleep", "600"]
}
"#;

#[test]
fn prod_runs_on_every_engine_the_digest_staging_ran_even_after_the_tag_moved() {
    let registry = registry::Registry::start();
    let first = registry.push("team/app", "1", docker::versioned_context("one").path());
    let image = format!("{}/team/app:1", registry.address);
    let repository = format!("{}/team/app", registry.address);
    let p = project(PROMOTED, &image);
    remove_local(&format!("{repository}@{first}"));

    p.imm(&["apply", "--env", "prod", "--auto-approve"])
        .assert_fails_with("was not built, applied and tested in \"staging\"");
    p.imm(&["apply", "--env", "staging", "--auto-approve"])
        .assert_ok();
    registry.push("team/app", "1", docker::versioned_context("two").path());
    p.imm(&["apply", "--env", "prod", "--auto-approve"])
        .assert_ok();
    for env in ["staging", "prod"] {
        for address in ["docker_container.one", "docker_container.two"] {
            assert_eq!(
                running(&p, address, env),
                (format!("{repository}@{first}"), "one".to_string()),
                "{address} in {env}"
            );
        }
    }
}

/// An image of a registry that asks for a password, given by a secret.
const PRIVATE: &str = r#"
secret "registry" {
  from = "env:REGISTRY_PASSWORD"
}

registry "ADDRESS" {
  username = "deployer"
  password = secret.registry
}

resource "docker_container" "app" {
  image   = "IMAGE"
  command = ["/bin/busybox", "sleep", "600"]
}
"#;

#[test]
fn a_private_registry_is_reached_with_a_secret_that_never_reaches_state_or_output() {
    let password = "s3cret-Registry-Pw";
    let registry = registry::Registry::start_with_user("deployer", password);
    let first = registry.push("team/private", "1", docker::versioned_context("one").path());
    let image = format!("{}/team/private:1", registry.address);
    let repository = format!("{}/team/private", registry.address);
    let p = project(&PRIVATE.replace("ADDRESS", &registry.address), &image);
    remove_local(&format!("{repository}@{first}"));

    let env = [("REGISTRY_PASSWORD", password)];
    p.project
        .imm_with_env(&["plan"], &[("REGISTRY_PASSWORD", "wrong")])
        .assert_fails_with("E0817");
    let plan = p
        .project
        .imm_with_env(&["plan", "--out", "saved.plan"], &env);
    plan.assert_ok();
    let applied = p.project.imm_with_env(&["apply", "--auto-approve"], &env);
    applied.assert_ok();
    assert_eq!(
        running(&p, "docker_container.app", "default"),
        (format!("{repository}@{first}"), "one".to_string()),
        "pulled with the credentials"
    );
    let everything = format!(
        "{}{}{}",
        plan.all(),
        applied.all(),
        common::text_under(p.project.path())
    );
    assert!(
        !everything.contains(password),
        "the registry password leaked into output, state, plan or lock"
    );
}
