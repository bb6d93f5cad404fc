//! Fuzz target: `imm fmt` is idempotent and never changes meaning: when it
//! formats a text, formatting the result again changes nothing.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(once) = imm_lang::fmt::format_source(text) {
        let twice = imm_lang::fmt::format_source(&once);
        assert_eq!(twice.as_deref(), Ok(once.as_str()), "fmt is not idempotent");
    }
});
