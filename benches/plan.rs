//! Planner benchmark (issue 3): a generated project of 10,001 resources in
//! a layered DAG (1,000 images, each used by 9 containers). Targets: plan
//! on empty state and a no-op re-plan against a 10,000-resource state each
//! under 300 ms; a one-artifact change plans exactly 1 rebuild and its 9
//! dependents. Run with `cargo bench --bench plan`; `scripts/bench-plan.sh`
//! times the binary with peak memory.

#[path = "../tests/support/applied.rs"]
mod applied;
mod generate;

use criterion::{criterion_group, Criterion};
use imm_lang::evaluate::Inputs;
use imm_planner::plan::{self, PlanOptions};
use imm_planner::state::State;
use imm_planner::stored::FingerprintKey;
use std::path::Path;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ENVIRONMENT: &str = "prod";

fn plan_once(dir: &Path, state: &State, key: &FingerprintKey) -> plan::Plan {
    let mut project = imm_lang::project::load(dir);
    assert!(project.diagnostics.is_empty());
    let (_, plan, diags) = plan::plan_project(
        &mut project,
        ENVIRONMENT,
        &Inputs::default(),
        state,
        key,
        &PlanOptions::default(),
    );
    assert!(diags.is_empty(), "{:?}", diags.first());
    plan
}

/// Changes the build args of `docker_image.app_0` only.
fn change_one_artifact(dir: &Path) {
    let part = dir.join("part_0000.imm");
    let text = std::fs::read_to_string(&part).expect("read part");
    let changed = text.replacen("VERSION = \"1.0.0\"", "VERSION = \"1.0.1\"", 1);
    assert_ne!(text, changed);
    std::fs::write(part, changed).expect("write part");
}

fn planner(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    generate::write_project(dir.path(), 1_000, 9, generate::Shape::Compact);
    let key = FingerprintKey::fixed(1);
    let applied = applied::record_applied(dir.path(), ENVIRONMENT, &Inputs::default(), &key);
    assert_eq!(applied.resources.len(), 10_001);

    let mut group = c.benchmark_group("plan_10k");
    group.sample_size(10);
    group.bench_function("empty_state", |b| {
        let empty = State::new(ENVIRONMENT);
        b.iter(|| {
            let plan = plan_once(dir.path(), &empty, &key);
            assert_eq!(plan.summary.create, 10_001);
        })
    });
    group.bench_function("noop_replan", |b| {
        b.iter(|| {
            let plan = plan_once(dir.path(), &applied, &key);
            assert_eq!(plan.summary.noop, 10_001);
        })
    });
    change_one_artifact(dir.path());
    group.bench_function("one_artifact_changed", |b| {
        b.iter(|| {
            let plan = plan_once(dir.path(), &applied, &key);
            assert_eq!((plan.summary.build, plan.summary.replace), (1, 10));
            assert_eq!(plan.summary.noop, 9_991);
        })
    });
    group.finish();
}

criterion_group!(benches, planner);

fn main() {
    // scripts/bench-plan.sh asks for the project and its applied state, to
    // time the binary.
    if let Some(dir) = std::env::var_os("IMM_BENCH_WRITE_PROJECT") {
        write_for_the_binary(Path::new(&dir));
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

/// The project, its applied state and a key, where `imm plan` finds them.
fn write_for_the_binary(dir: &Path) {
    generate::write_project(dir, 1_000, 9, generate::Shape::Compact);
    let key = FingerprintKey::fixed(1);
    let applied = applied::record_applied(dir, ENVIRONMENT, &Inputs::default(), &key);
    let state_dir = dir.join(".imm/state");
    std::fs::create_dir_all(&state_dir).expect("state dir");
    let text = serde_json::to_string(&applied).expect("state JSON");
    std::fs::write(state_dir.join(format!("{ENVIRONMENT}.json")), text).expect("write state");
    std::fs::write(
        dir.join(".imm/fingerprint.key"),
        format!("{}\n", "01".repeat(32)),
    )
    .expect("write key");
}
