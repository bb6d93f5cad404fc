//! Replays the kept fuzz corpus (`fuzz/corpus/*`) on stable Rust: every
//! input parses without a panic, and `imm fmt` is idempotent on it. New
//! crashes found by `cargo fuzz` are added to the corpus and stay tested.

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
