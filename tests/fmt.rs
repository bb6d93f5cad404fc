//! `imm fmt` gives `terraform fmt`'s layout: every `NAME.imm` in
//! `tests/fixtures/fmt` formats to `NAME.expected`, which is what
//! Terraform 1.11.4's `terraform fmt -` printed for the same input
//! (captured once). Formatting is idempotent, and `imm fmt --check`
//! accepts what it printed.

mod common;

use std::path::Path;

fn corpus() -> Vec<(String, String, String)> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fmt"));
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(dir)
        .expect("read the fmt corpus")
        .flatten()
    {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("imm") {
            continue;
        }
        let input = std::fs::read_to_string(&path).expect("read an input");
        let expected = std::fs::read_to_string(path.with_extension("expected"))
            .unwrap_or_else(|_| panic!("{} has no .expected beside it", path.display()));
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        cases.push((name, input, expected));
    }
    cases.sort();
    cases
}

#[test]
fn fmt_gives_terraform_fmts_layout() {
    let cases = corpus();
    assert!(cases.len() >= 5, "the corpus lost its files");
    for (name, input, expected) in &cases {
        let formatted = imm_lang::fmt::format_source(input)
            .unwrap_or_else(|e| panic!("{name}: imm fmt refused it: {e:?}"));
        assert_eq!(&formatted, expected, "{name}: not terraform fmt's layout");
        let again = imm_lang::fmt::format_source(&formatted).expect("formats again");
        assert_eq!(again, formatted, "{name}: not idempotent");
    }
}

#[test]
fn fmt_check_accepts_terraform_fmt_output_and_flags_the_rest() {
    let cases = corpus();
    let files: Vec<(String, String)> = cases
        .iter()
        .flat_map(|(name, input, expected)| {
            [
                (format!("ok/{name}.imm"), expected.clone()),
                (format!("bad/{name}.imm"), input.clone()),
            ]
        })
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let p = common::Project::new(&refs);
    p.imm(&["fmt", "--check", "ok"]).assert_ok();
    let run = p.imm(&["fmt", "--check", "bad"]);
    assert_eq!(run.code, 1, "{}", run.all());
    for (name, input, expected) in &cases {
        if input != expected {
            assert!(
                run.all().contains(&format!("{name}.imm")),
                "{name} not flagged: {}",
                run.all()
            );
        }
    }
}
