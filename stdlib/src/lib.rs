//! The language's values and built-in functions, and the `std/NAME` modules
//! written in `.imm` that ship inside the binary.
//!
//! This crate knows nothing of syntax: `imm-lang` parses and evaluates, and
//! calls [`functions::call`] for every built-in function. [`yaml`] is the
//! one YAML reader, for `yamldecode` and `imm import compose`.

pub mod functions;
pub mod number;
pub mod value;
pub mod yaml;

pub use functions::{call, lookup_function, CallContext, FunctionError, FunctionSpec, FUNCTIONS};
pub use value::{convert, Type, Value};

/// A file of a standard module: its name inside the module and its text.
pub struct StdFile {
    pub name: &'static str,
    pub text: &'static str,
}

/// The files of the standard module `std/NAME`, if it exists.
pub fn std_module(name: &str) -> Option<&'static [StdFile]> {
    STD_MODULES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, files)| *files)
}

/// The names of all standard modules, for "did you mean" and completion.
pub fn std_module_names() -> impl Iterator<Item = &'static str> {
    STD_MODULES.iter().map(|(n, _)| *n)
}

const STD_MODULES: &[(&str, &[StdFile])] = &[(
    "static-site",
    &[StdFile {
        name: "main.imm",
        text: include_str!("../std/static-site/main.imm"),
    }],
)];
