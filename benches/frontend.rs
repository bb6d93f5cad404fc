//! Front-end benchmark (issue 2): parse + check + evaluate a generated
//! project of 10,000 resources (1,000 images × 9 containers + 1 network).
//! Target: under 150 ms. Run with `cargo bench --bench frontend`.

// pest_derive's generated code names the `alloc` crate.
extern crate alloc;

mod generate;

use criterion::{criterion_group, Criterion};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use imm_lang::evaluate::{self, Inputs, Mode};

fn frontend(c: &mut Criterion) {
    for (name, shape) in [
        ("compact", generate::Shape::Compact),
        ("rich", generate::Shape::Rich),
        ("templates", generate::Shape::Templates),
    ] {
        shape_bench(c, name, shape);
    }
}

fn shape_bench(c: &mut Criterion, name: &str, shape: generate::Shape) {
    let dir = tempfile::tempdir().expect("tempdir");
    generate::write_project(dir.path(), 1_000, 9, shape);
    let mut group = c.benchmark_group(format!("frontend_10k_{name}"));
    group.sample_size(10);
    let texts: Vec<String> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "imm"))
        .map(|e| std::fs::read_to_string(e.path()).expect("read"))
        .collect();
    // Reported as MB/s of .imm text through the grammar and tree builder.
    let bytes: usize = texts.iter().map(String::len).sum();
    group.throughput(criterion::Throughput::Bytes(bytes as u64));
    group.bench_function("parse_only", |b| {
        b.iter(|| {
            for (i, t) in texts.iter().enumerate() {
                let parsed = imm_lang::syntax::parse_file(imm_lang::source::FileId(i as u32), t);
                assert!(parsed.diagnostics.is_empty());
            }
        })
    });
    group.bench_function("pest_lexer_floor", |b| {
        b.iter(|| {
            for t in &texts {
                let tokens = pest_floor::tokens(t);
                assert!(tokens > 0);
            }
        })
    });
    group.throughput(criterion::Throughput::Elements(1));
    group.bench_function("load_check_evaluate_one_environment", |b| {
        b.iter(|| {
            let mut project = imm_lang::project::load(dir.path());
            assert!(project.diagnostics.is_empty());
            let (evaluated, diags) =
                evaluate::evaluate(&mut project, "prod", &Inputs::default(), Mode::Validate);
            assert!(diags.is_empty());
            assert_eq!(evaluated.instances.len(), 10_001);
        })
    });
    group.bench_function("validate_all_environments", |b| {
        b.iter(|| {
            let (_, diags) = imm_lang::validate::validate(dir.path());
            assert!(diags.is_empty());
        })
    });
    group.finish();
}

/// The floor of any pest grammar for these files: one that only cuts them
/// into tokens (names, numbers, string text, punctuation), with no
/// structure and no tree. `imm`'s parser cannot be faster than this with
/// pest; the gap between the two is what grammar work can still win.
mod pest_floor {
    use pest::Parser as _;

    #[derive(pest_derive::Parser)]
    #[grammar_inline = r#"
WHITESPACE = _{ (" " | "\t" | "\n" | "\r")+ }
file   = { SOI ~ token* ~ EOI }
token  = _{ ident | number | text | punct }
ident  = @{ (ASCII_ALPHA | "_") ~ (ASCII_ALPHANUMERIC | "_" | "-")* }
number = @{ ASCII_DIGIT+ ~ ("." ~ ASCII_DIGIT+)? }
text   = @{ "\"" ~ (!("\"" | "\\" | "\n" | "$" | "%") ~ ANY)* ~ "\""? }
punct  = @{ "${" | "%{" | "<<-" | "==" | ANY }
"#]
    struct Lexer;

    /// How many tokens `text` holds (0 if the lexer fails).
    pub fn tokens(text: &str) -> usize {
        Lexer::parse(Rule::file, text).map_or(0, |pairs| pairs.flatten().count())
    }
}

criterion_group!(benches, frontend);

fn main() {
    // scripts/bench-frontend.sh asks for the project itself, to time the binary.
    if let Some(dir) = std::env::var_os("IMM_BENCH_WRITE_PROJECT") {
        let shape = match std::env::var("IMM_BENCH_SHAPE").as_deref() {
            Ok("compact") => generate::Shape::Compact,
            Ok("templates") => generate::Shape::Templates,
            _ => generate::Shape::Rich,
        };
        generate::write_project(std::path::Path::new(&dir), 1_000, 9, shape);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
