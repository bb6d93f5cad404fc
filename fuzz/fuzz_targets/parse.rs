//! Fuzz target: parsing any UTF-8 text (and evaluating it as a standalone
//! expression) never panics.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = imm_lang::source::FileId(0);
    let _ = imm_lang::syntax::parse_file(file, text);
    let _ = imm_lang::syntax::parse_template(file, text);
    let _ = imm_lang::eval_standalone(text, std::path::Path::new("/nonexistent"));
});
