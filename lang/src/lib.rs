//! The `.imm` language: parsing, evaluation, checking, formatting and
//! diagnostics. See `ARCHITECTURE.md` for how the modules fit together.

pub mod check;
pub mod decl;
pub mod diagnostics;
pub mod eval;
pub mod evaluate;
pub mod fmt;
pub mod project;
pub mod schema;
pub mod source;
pub mod syntax;
pub mod validate;
