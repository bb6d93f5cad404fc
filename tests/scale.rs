//! Large projects with the real binary (issue 30): a project of 2,000
//! `for_each` and `count` instances records for each instance only the
//! instances it read, so its state stays small and a change travels as far
//! as its values; a state written when every instance was listed still
//! plans and destroys in order; an apply of 2,000 `file` steps killed at
//! random points converges with no manual step.

mod common;
use common::{Project, Seeded};
use std::time::{Duration, Instant};

/// The layered DAG of the scale benchmark, expanded: 200 images (`count`),
/// 1,600 services (`for_each`, each reading its image) and 200 load
/// balancers (`count`, each reading its eight services by key).
const EXPANDED: &str = r#"
variable "v0" {
  default = "1.0.0"
}

locals {
  images   = 200
  services = { for k in range(200 * 8) : "${floor(k / 8)}-${k % 8}" => { img = floor(k / 8), idx = k % 8 } }
}

resource "file" "img" {
  count   = local.images
  path    = "out/img_${count.index}.txt"
  content = "img-${count.index} version ${count.index == 0 ? var.v0 : "1.0.0"}"
}

resource "file" "svc" {
  for_each = local.services
  path     = "out/svc_${each.key}.txt"
  content  = "svc-${each.key} image=${file.img[each.value.img].sha256} port=${8000 + each.value.idx}"
}

resource "file" "lb" {
  count   = local.images
  path    = "out/lb_${count.index}.txt"
  content = join(",", [for j in range(8) : file.svc["${count.index}-${j}"].sha256])
}

resource "file" "index" {
  path    = "out/index.txt"
  content = join("\n", [for s in file.svc : s.path])
}
"#;

fn state(p: &Project) -> (serde_json::Value, u64) {
    let path = p.file(".imm/state/default.json");
    let text = std::fs::read_to_string(&path).expect("state file");
    let size = text.len() as u64;
    (serde_json::from_str(&text).expect("state JSON"), size)
}

fn record<'a>(state: &'a serde_json::Value, address: &str) -> &'a serde_json::Value {
    state["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["address"] == address))
        .unwrap_or_else(|| panic!("{address} is recorded"))
}

fn dependencies(state: &serde_json::Value, address: &str) -> Vec<String> {
    record(state, address)["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .filter_map(|d| d.as_str().map(str::to_string))
        .collect()
}

#[test]
fn a_for_each_project_of_2000_instances_records_only_what_each_instance_read() {
    let p = Project::new(&[("main.imm", EXPANDED)]);
    p.imm(&["apply", "--auto-approve"]).assert_ok();
    let (recorded, size) = state(&p);
    assert_eq!(recorded["resources"].as_array().map(Vec::len), Some(2001));
    // Every instance listed every instance it might read: ~9 KB each.
    assert!(
        size < 2001 * 1000,
        "state of 2,001 file instances is {size} bytes: more than 1 KB per instance"
    );
    assert_eq!(
        dependencies(&recorded, "file.lb[3]"),
        (0..8)
            .map(|j| format!("file.svc[\"3-{j}\"]"))
            .collect::<Vec<_>>(),
        "a load balancer depends on the eight services it read"
    );
    assert_eq!(
        dependencies(&recorded, "file.svc[\"3-5\"]"),
        ["file.img[3]"],
        "a service depends on its image"
    );
    assert_eq!(
        dependencies(&recorded, "file.index"),
        ["file.svc"],
        "a `for` over every service depends on the resource, as one entry"
    );

    p.imm(&["plan", "--detailed-exitcode"])
        .assert_code(0)
        .assert_stdout_contains("No changes");
    // A new version of image 0 reaches its 8 services and their load
    // balancer, and the index that lists every service's path (unchanged
    // paths: kept), nothing else.
    let plan = p.imm(&["plan", "--format", "json", "--var", "v0=2.0.0"]);
    plan.assert_ok();
    let plan = plan.json();
    let mut changed: Vec<String> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] != "noop")
        .filter_map(|c| c["address"].as_str().map(str::to_string))
        .collect();
    changed.sort();
    let mut expected: Vec<String> = ["file.img[0]".to_string(), "file.lb[0]".to_string()]
        .into_iter()
        .chain((0..8).map(|j| format!("file.svc[\"0-{j}\"]")))
        .collect();
    expected.sort();
    assert_eq!(changed, expected);
    p.imm(&["apply", "--auto-approve", "--var", "v0=2.0.0"])
        .assert_ok();
    let lb0 = std::fs::read_to_string(p.file("out/lb_0.txt")).expect("lb_0");
    let svc00 = std::fs::read_to_string(p.file("out/svc_0-0.txt")).expect("svc_0-0");
    assert!(
        svc00.contains(&sha256_hex(b"img-0 version 2.0.0")),
        "{svc00}"
    );
    assert!(lb0.starts_with(&sha256_hex(svc00.as_bytes())), "{lb0}");
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(bytes))
}

/// Commands that log their creates and destroys: the users read one base
/// each, by index.
const ORDERED: &str = r#"
resource "exec" "base" {
  count   = 2
  create  = ["sh", "-c", "echo create base ${count.index} >> log.txt && echo '{\"n\": \"${count.index}\"}'"]
  destroy = ["sh", "-c", "echo destroy base >> log.txt"]
}

resource "exec" "user" {
  count   = 2
  create  = ["sh", "-c", "echo create user ${count.index} >> log.txt", exec.base[count.index].outputs.n]
  destroy = ["sh", "-c", "echo destroy user >> log.txt"]
}
"#;

#[test]
fn a_state_that_lists_every_instance_as_a_dependency_still_plans_and_destroys_in_order() {
    let p = Project::new(&[("main.imm", ORDERED)]);
    p.imm(&["apply", "--auto-approve"]).assert_ok();
    let (mut recorded, _) = state(&p);
    assert_eq!(dependencies(&recorded, "exec.user[1]"), ["exec.base[1]"]);
    // What earlier versions wrote: every instance of the resource read.
    for record in recorded["resources"].as_array_mut().expect("resources") {
        if record["address"]
            .as_str()
            .is_some_and(|a| a.starts_with("exec.user"))
        {
            record["dependencies"] = serde_json::json!(["exec.base[0]", "exec.base[1]"]);
        }
    }
    std::fs::write(
        p.file(".imm/state/default.json"),
        serde_json::to_string_pretty(&recorded).expect("state JSON"),
    )
    .expect("write state");
    p.imm(&["plan", "--detailed-exitcode"])
        .assert_code(0)
        .assert_stdout_contains("No changes");
    std::fs::write(p.file("log.txt"), "").expect("clear log");
    p.imm(&["destroy", "--auto-approve"]).assert_ok();
    let log = std::fs::read_to_string(p.file("log.txt")).expect("log");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 4, "{log}");
    assert!(
        lines[..2].iter().all(|l| *l == "destroy user")
            && lines[2..].iter().all(|l| *l == "destroy base"),
        "users are destroyed before the bases they used:\n{log}"
    );
}

/// 2,000 independent files: many steps end together.
fn many_files(version: &str) -> String {
    format!(
        r#"
variable "v" {{
  default = "{version}"
}}

resource "file" "page" {{
  count   = 2000
  path    = "out/page-${{count.index}}.txt"
  content = "${{var.v}} ${{count.index}}"
}}
"#
    )
}

#[cfg(unix)]
#[test]
fn an_apply_of_2000_files_killed_at_random_points_converges_by_itself() {
    let p = Project::new(&[("main.imm", &many_files("a"))]);
    let mut random = Seeded(20261205);
    let mut mid_apply = 0;
    for round in 0..5 {
        let value = if round % 2 == 0 { "b" } else { "c" };
        let child = p.spawn_imm(&["apply", "--auto-approve", "--var", &format!("v={value}")]);
        // Kill once the journal shows steps ending, at a seeded point.
        let journal = p.file(".imm/state/default.journal");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::fs::metadata(&journal).map(|m| m.len()).unwrap_or(0) < 4096
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(random.below(200)));
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &child.id().to_string()])
            .status();
        let output = child.wait_with_output().expect("wait");
        mid_apply += usize::from(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stderr.contains("force-unlock"),
            "round {round}: a run after a kill goes on by itself:\n{stderr}"
        );
    }
    assert!(
        mid_apply >= 3,
        "most kills landed in the middle of an apply: {mid_apply} of 5"
    );
    p.imm(&["apply", "--auto-approve", "--var", "v=final"])
        .assert_ok();
    p.imm(&["plan", "--detailed-exitcode", "--var", "v=final"])
        .assert_code(0)
        .assert_stdout_contains("No changes");
    for i in (0..2000).step_by(97) {
        let text = std::fs::read_to_string(p.file(&format!("out/page-{i}.txt"))).expect("page");
        assert_eq!(text, format!("final {i}"));
    }
    let (recorded, _) = state(&p);
    assert_eq!(recorded["resources"].as_array().map(Vec::len), Some(2000));
}
