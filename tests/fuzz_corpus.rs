//! Replays the kept fuzz corpus (`fuzz/corpus/*`) on stable Rust: every
//! input parses without a panic, `imm fmt` is idempotent on it, and the
//! parser's scanner of literals reads every input as pest alone does (also
//! on a corpus generated here). New crashes found by `cargo fuzz` are added
//! to the corpus and stay tested.

use std::path::Path;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("the fuzz corpus is kept in the repository")
        .filter_map(|e| e.ok())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect();
    files.sort();
    files
}

/// Parsing recurses per nesting level; give it the stack the binary has.
fn on_big_stack(f: impl FnOnce() + Send + 'static) {
    let handle = std::thread::Builder::new()
        .stack_size(256 * 1024 * 1024)
        .spawn(f)
        .expect("spawn");
    if let Err(panic) = handle.join() {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn parse_corpus_never_panics() {
    let files = corpus("parse");
    assert!(files.len() >= 20, "corpus too small: {}", files.len());
    on_big_stack(move || {
        for (name, bytes) in files {
            let Ok(text) = String::from_utf8(bytes) else {
                continue;
            };
            let parsed = imm_lang::syntax::parse_file(imm_lang::source::FileId(0), &text);
            // Every diagnostic points inside the text.
            for d in parsed.diagnostics {
                let span = d.span.expect("syntax errors have a position");
                assert!(span.end as usize <= text.len(), "{name}: span past the end");
            }
        }
    });
}

#[test]
fn fmt_corpus_is_idempotent() {
    let files = corpus("fmt");
    on_big_stack(move || {
        for (name, bytes) in files {
            let Ok(text) = String::from_utf8(bytes) else {
                continue;
            };
            if let Ok(once) = imm_lang::fmt::format_source(&text) {
                let twice = imm_lang::fmt::format_source(&once);
                assert_eq!(
                    twice.as_deref(),
                    Ok(once.as_str()),
                    "{name}: fmt is not idempotent"
                );
            }
        }
    });
}

/// The `scanner` target on the kept inputs of `scanner` and `parse`, and
/// on the fixtures: wherever the fast path accepts a file, pest alone reads
/// the same tree.
#[test]
fn scanner_reads_every_kept_input_as_pest_does() {
    let mut files = corpus("scanner");
    assert!(files.len() >= 20, "corpus too small: {}", files.len());
    files.extend(corpus("parse"));
    files.extend(fixture_files());
    on_big_stack(move || {
        for (name, bytes) in files {
            let Ok(text) = String::from_utf8(bytes) else {
                continue;
            };
            if let Err(difference) = imm_lang::syntax::compare_fast_path(&text) {
                panic!("{name}: {difference}");
            }
        }
    });
}

/// The `scanner` target on generated files: literals of every kind (escapes,
/// `$${`, interpolations holding strings, directives, heredocs with strip
/// markers), each file then cut, doubled or spliced at random.
#[test]
fn scanner_reads_generated_inputs_as_pest_does() {
    on_big_stack(|| {
        let mut random = Random(0x5eed_1234_abcd_0001);
        for case in 0..4_000 {
            let text = generated_file(&mut random);
            let text = mutated(&text, &mut random);
            if let Err(difference) = imm_lang::syntax::compare_fast_path(&text) {
                panic!("case {case}:\n{text}\n{difference}");
            }
        }
    });
}

fn fixture_files() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(|e| e.ok()) {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|x| x == "imm") {
                let bytes = std::fs::read(&path).expect("read fixture");
                out.push((path.display().to_string(), bytes));
            }
        }
    }
    out
}

/// xorshift64*: a fixed sequence, so a failing case can be replayed.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const TEXTS: &[&str] = &[
    "",
    "a",
    "hello world",
    "é\u{301}",
    r"\n",
    r#"\""#,
    r"\t",
    r"\u00e9",
    r"\U0001F600",
    "$",
    "%",
    "$$",
    "%%",
    "$${x}",
    "%%{x}",
    "$x",
    "100%",
    "a}b",
    "{",
    "}",
    r"\q",
    r"\u12",
    r"\uD800",
    "#",
    "//",
    "/*",
    "<<EOT",
    "~",
    "\r",
];

const EXPRESSIONS: &[&str] = &[
    "x",
    "var.a",
    "1 + 2",
    r#"f("a")"#,
    "{ a = 1 }.a",
    r#"[for s in xs : "${s}"]"#,
    r#"a ? "b" : "c""#,
    r#""n${1}""#,
    r#"local.m["k"]"#,
    "a < b",
    "x # c",
    "<<EOT\nz\nEOT",
    r#""}""#,
    "a b",
    "",
    "{",
    "x /* c */",
    "true(1)",
];

fn literal(random: &mut Random, depth: usize) -> String {
    let mut out = String::from("\"");
    for _ in 0..random.below(4) {
        match random.below(6) {
            0 if depth < 2 => {
                let open = random.pick(&["${", "${~"]);
                let close = random.pick(&["}", "~}"]);
                let inner = if random.below(3) == 0 {
                    literal(random, depth + 1)
                } else {
                    random.pick(EXPRESSIONS).to_string()
                };
                out.push_str(&format!("{open} {inner} {close}"));
            }
            1 => out.push_str(random.pick(&[
                "%{ if true }y%{ endif }",
                "%{ for v in xs }${v}%{ endfor }",
                "%{~ if c ~}a%{ else }b%{ endif ~}",
                "%{ endif }",
                "%{ if x }",
            ])),
            _ => out.push_str(random.pick(TEXTS)),
        }
    }
    if random.below(20) > 0 {
        out.push('"');
    }
    out
}

fn heredoc(random: &mut Random) -> String {
    let intro = random.pick(&["<<", "<<-"]);
    let id = random.pick(&["EOT", "END", "E-1", "é"]);
    let mut out = format!("{intro}{id}{}\n", random.pick(&["", " ", "\r"]));
    for _ in 0..random.below(4) {
        let indent = random.pick(&["", "  ", "\t", "    "]);
        let line = match random.below(4) {
            0 => format!("${{{}}}", random.pick(EXPRESSIONS)),
            1 => random
                .pick(&[
                    "%{ if a ~}",
                    "%{~ endif }",
                    "%{ for x in y }${x}%{ endfor }",
                ])
                .to_string(),
            _ => random.pick(TEXTS).to_string(),
        };
        out.push_str(&format!("{indent}{line}\n"));
    }
    let close_indent = random.pick(&["", "  ", " \t"]);
    let close = if random.below(15) == 0 { "EOTX" } else { id };
    out.push_str(&format!("{close_indent}{close}"));
    out
}

fn value(random: &mut Random) -> String {
    match random.below(6) {
        0 => heredoc(random),
        1 => format!("[{}, {}]", literal(random, 0), literal(random, 0)),
        2 => format!("{{ k = {} }}", literal(random, 0)),
        3 => random.pick(EXPRESSIONS).to_string(),
        _ => literal(random, 0),
    }
}

fn generated_file(random: &mut Random) -> String {
    let mut out = String::new();
    for _ in 0..1 + random.below(5) {
        match random.below(5) {
            0 => out.push_str(&format!("a_{} = {}\n", random.below(9), value(random))),
            1 => out.push_str(&format!("# {}\n", literal(random, 0))),
            _ => {
                let label = if random.below(10) == 0 {
                    heredoc(random)
                } else {
                    literal(random, 0)
                };
                out.push_str(&format!("block {label} {{\n"));
                for _ in 0..random.below(4) {
                    out.push_str(&format!("  x{} = {}\n", random.below(9), value(random)));
                }
                out.push_str("}\n");
            }
        }
    }
    out
}

/// One of: unchanged, a range deleted, a range repeated, a range copied
/// elsewhere.
fn mutated(text: &str, random: &mut Random) -> String {
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let mut at = || bounds[random.below(bounds.len())];
    let (x, y) = (at(), at());
    let (a, b) = (x.min(y), x.max(y));
    let c = at();
    match random.below(4) {
        0 => text.to_string(),
        1 => format!("{}{}", &text[..a], &text[b..]),
        2 => format!("{}{}{}", &text[..b], &text[a..b], &text[b..]),
        _ => format!("{}{}{}", &text[..c], &text[a..b], &text[c..]),
    }
}
