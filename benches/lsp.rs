//! Editor latency (issue 6): after an edit, `imm lsp` re-analyses the
//! project of the file with the edited text and publishes diagnostics.
//! This measures that analysis on a generated ~5,000-line project.
//! Target: under 50 ms. Run with `cargo bench --bench lsp`.

mod generate;

use criterion::{criterion_group, Criterion};
use std::collections::HashMap;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn diagnostics_after_edit(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    generate::write_project(dir.path(), 30, 9, generate::Shape::Rich);
    let lines: usize = std::fs::read_dir(dir.path())
        .expect("read dir")
        .filter_map(|e| e.ok())
        .map(|e| {
            std::fs::read_to_string(e.path())
                .unwrap_or_default()
                .lines()
                .count()
        })
        .sum();
    eprintln!("project: {lines} lines");
    let main = dir.path().join("main.imm");
    let edited = std::fs::read_to_string(&main).expect("read")
        + "\noutput \"edited\" {\n  value = local.common_env\n}\n";
    let overlay: HashMap<_, _> = [(main, edited)].into_iter().collect();
    c.bench_function("lsp_diagnostics_after_edit_5k_lines", |b| {
        b.iter_with_large_drop(|| {
            let (project, diags) = imm_lang::validate::validate_with_overlay(dir.path(), &overlay);
            assert!(diags.is_empty(), "{}", diags.len());
            project
        })
    });
}

criterion_group!(benches, diagnostics_after_edit);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
