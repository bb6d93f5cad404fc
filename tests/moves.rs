//! Renames without replacement (`moved` blocks, `imm state mv`) and plans
//! limited with `--target`: on files, and on a real Docker volume whose
//! data must outlive the rename of the resources that hold and use it.

mod common;
#[path = "support/docker.rs"]
mod docker_project;
use common::Project;
use docker_project::{docker, docker_project};

const FILES: &str = r#"
resource "file" "a" {
  path    = "out/a.txt"
  content = "A"
}

resource "file" "b" {
  path    = "out/b.txt"
  content = "B ${file.a.path}"
}

resource "file" "c" {
  path    = "out/c.txt"
  content = "C"
}
"#;

#[test]
fn target_changes_only_the_target_and_what_it_depends_on() {
    let p = Project::new(&[("main.imm", FILES)]);
    p.imm(&["apply", "--auto-approve"]).assert_ok();
    let changed = FILES
        .replace("\"A\"", "\"A2\"")
        .replace("\"C\"", "\"C2\"")
        .replace("\"B ", "\"B2 ");
    std::fs::write(p.file("main.imm"), changed).expect("write");
    p.imm(&["apply", "--auto-approve", "--target", "file.b"])
        .assert_ok()
        .assert_stdout_contains("limited to --target file.b")
        .assert_stdout_contains("1 other change(s) wait");
    let read = |f: &str| std::fs::read_to_string(p.file(f)).expect("read");
    assert_eq!(
        read("out/a.txt"),
        "A2",
        "file.b depends on file.a: it changed too"
    );
    assert!(read("out/b.txt").starts_with("B2 "));
    assert_eq!(read("out/c.txt"), "C", "file.c was not targeted");
    p.imm(&["plan", "--format", "json"])
        .assert_ok()
        .assert_stdout_contains("\"replace\": 1");
    p.imm(&["plan", "--target", "file.nope"])
        .assert_fails_with("E0702");
}

#[test]
fn state_mv_moves_a_record_and_refuses_what_it_cannot_do() {
    let p = Project::new(&[("main.imm", FILES)]);
    p.imm(&["apply", "--auto-approve"]).assert_ok();
    p.imm(&["state", "mv", "file.c", "file.d"])
        .assert_ok()
        .assert_stdout_contains("Moved file.c to file.d");
    p.imm(&["state", "mv", "file.c", "file.e"])
        .assert_fails_with("E0702");
    p.imm(&["state", "mv", "file.a", "file.b"])
        .assert_fails_with("E0702")
        .assert_fails_with("something is recorded there already");
    let listed = p.imm(&["state", "list"]).stdout;
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        ["file.a", "file.b", "file.d"]
    );
    // The configuration still says file.c: the plan creates it and
    // destroys file.d, which proves the record really moved.
    p.imm(&["plan"])
        .assert_ok()
        .assert_stdout_contains("file.d  no longer in the configuration");
}

#[test]
fn a_moved_block_that_cannot_be_a_move_is_refused_with_its_place() {
    let p = Project::new(&[(
        "main.imm",
        &format!(
            "{FILES}\nmoved {{\n  from = file.a\n  to   = file.b\n}}\nmoved {{\n  from = file.x\n  to   = docker_volume.y\n}}\nmoved {{\n  from = file.y\n  to   = file.z\n}}\n"
        ),
    )]);
    let run = p.imm(&["validate"]);
    run.assert_fails_with("E0208");
    assert!(
        run.stderr.contains("file.a is still declared"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("a file cannot become a docker_volume"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("file.z is not declared"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_moved_block_inside_a_module_renames_within_it() {
    let module = |name: &str, moved: &str| {
        format!(
            "resource \"exec\" \"{name}\" {{\n  create = [\"sh\", \"-c\", \"date +%s%N >> ../made\"]\n}}\n{moved}"
        )
    };
    let p = Project::new(&[
        ("main.imm", "module \"jobs\" {\n  source = \"./jobs\"\n}\n"),
        ("jobs/main.imm", &module("old", "")),
    ]);
    p.imm(&["apply", "--auto-approve"]).assert_ok();
    std::fs::write(
        p.file("jobs/main.imm"),
        module(
            "new",
            "\nmoved {\n  from = exec.old\n  to   = exec.new\n}\n",
        ),
    )
    .expect("write");
    p.imm(&["plan"])
        .assert_ok()
        .assert_stdout_contains("module.jobs.exec.new")
        .assert_stdout_contains("1 moved")
        .assert_stdout_contains("0 to create");
    p.imm(&["apply", "--auto-approve"]).assert_ok();
    let made = std::fs::read_to_string(p.file("made")).expect("read");
    assert_eq!(made.lines().count(), 1, "the command ran once: {made}");
    p.imm(&["state", "list"])
        .assert_ok()
        .assert_stdout_contains("module.jobs.exec.new");
}

const VOLUME: &str = r#"
resource "docker_image" "base" {
  name = "PFX-base"
  build {
    context = "./base"
  }
}

resource "docker_volume" "NAME" {}

resource "docker_container" "USER" {
  image   = docker_image.base.id
  command = ["sh", "-c", "echo started >> /data/log; exec sleep 3600"]
  mount {
    volume = docker_volume.NAME.name
    target = "/data"
  }
}
"#;

#[test]
fn renaming_a_volume_and_its_container_keeps_both_and_the_data() {
    let p = docker_project(&VOLUME.replace("NAME", "data").replace("USER", "writer"));
    p.apply(&[]).assert_ok();
    let volume = p.recorded("docker_volume.data", "name");
    let container = p.recorded("docker_container.writer", "id");
    assert!(!volume.is_empty() && !container.is_empty());

    let renamed = VOLUME
        .replace("NAME", "storage")
        .replace("USER", "logger")
        .replace("PFX", &p.prefix)
        + "moved {\n  from = docker_volume.data\n  to   = docker_volume.storage\n}\n"
        + "moved {\n  from = docker_container.writer\n  to   = docker_container.logger\n}\n";
    std::fs::write(p.project.file("main.imm"), renamed).expect("write");
    p.imm(&["plan"])
        .assert_ok()
        .assert_stdout_contains("→ moved from docker_volume.data")
        .assert_stdout_contains(
            "0 to replace, 0 to create, 0 to destroy, 0 to reconfigure. 2 moved.",
        );
    p.apply(&[])
        .assert_ok()
        .assert_stdout_contains("0 created, 0 replaced, 0 reconfigured, 0 destroyed");
    assert_eq!(
        p.recorded("docker_volume.storage", "name"),
        volume,
        "same volume"
    );
    assert_eq!(
        p.recorded("docker_container.logger", "id"),
        container,
        "same container"
    );
    p.imm(&["plan"])
        .assert_ok()
        .assert_stdout_contains("No changes.");
    let log = docker(&["exec", &container, "cat", "/data/log"]).stdout;
    assert_eq!(
        log, "started\n",
        "the container was never restarted and its data is there"
    );
    let listed = docker(&["volume", "ls", "-q", "--filter", &format!("name={volume}")]).stdout;
    assert_eq!(listed.trim(), volume, "the volume was not touched");
}
