//! The `.imm` language: parsing, evaluation, checking, formatting and
//! diagnostics. See `ARCHITECTURE.md` for how the modules fit together.

pub mod diagnostics;
pub mod source;
pub mod syntax;
