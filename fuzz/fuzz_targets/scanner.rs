//! Fuzz target: the hand-written scanner of string literals and heredocs
//! never changes what a file means. Whenever the parser's fast path (literals
//! masked and read by the scanner, large files cut at top-level blocks)
//! accepts a file, pest alone on the whole text must give the same tree and
//! no diagnostic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(difference) = imm_lang::syntax::compare_fast_path(text) {
        panic!("{difference}");
    }
});
