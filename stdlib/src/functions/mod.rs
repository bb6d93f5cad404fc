//! The built-in functions, behaving like Terraform's
//! functions of the same name.
//!
//! [`call`] is the single entry point: it strips sensitive marks from the
//! arguments and puts them back on the result, and answers "unknown" when an
//! argument is not known yet, so no function has to think about either.
//! Which function does what, and which of them see marks or unknowns, is
//! one table ([`FUNCTIONS`], in `table.rs`); the implementations live in
//! the modules named after what they work on. `templatefile`,
//! `templatestring`, `try` and `can` need the evaluator and live in
//! `imm-lang`.

mod args;
mod collections;
mod encoding;
mod files;
mod marks;
mod more;
mod network;
mod numbers;
mod paths_sets;
mod strings;
mod table;
mod time;

pub(crate) use args::{arg, integer_arg, list_arg, map_arg, number_arg, string_arg};
pub use files::{read_bounded, tree_digest, TreeDigestError, MAX_FILE_BYTES};
pub use table::{lookup_function, FunctionSpec, Implementation, FUNCTIONS};

use crate::value::{Type, Value};
use std::path::Path;

/// What a function needs from its surroundings.
pub struct CallContext<'a> {
    /// The directory of the module that calls it: file paths are relative to it.
    pub module_dir: &'a Path,
}

/// Why a call failed. `argument` is the 0-based index of the argument at
/// fault, when there is one, so the caller can point at it.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionError {
    pub message: String,
    pub argument: Option<usize>,
}

impl FunctionError {
    pub fn new(message: impl Into<String>) -> Self {
        FunctionError {
            message: message.into(),
            argument: None,
        }
    }

    pub fn at(argument: usize, message: impl Into<String>) -> Self {
        FunctionError {
            message: message.into(),
            argument: Some(argument),
        }
    }
}

pub type FunctionResult = Result<Value, FunctionError>;

/// Calls a built-in function (not `templatefile`, `templatestring`, `try`,
/// `can`).
pub fn call(name: &str, args: Vec<Value>, ctx: &CallContext<'_>) -> FunctionResult {
    let Some(spec) = lookup_function(name) else {
        return Err(no_such_function(name));
    };
    match spec.implementation {
        Implementation::Values(compute) => without_marks(spec, args, compute),
        Implementation::Files(compute) => without_marks(spec, args, |args| compute(args, ctx)),
        Implementation::Marks(compute) => compute(args),
        Implementation::Evaluator => Err(no_such_function(name)),
    }
}

/// Computes a function on its arguments stripped of their sensitive marks
/// (the result is marked if any was), or answers unknown when an argument
/// is unknown and the function cannot know its result without it.
fn without_marks(
    spec: &FunctionSpec,
    args: Vec<Value>,
    compute: impl FnOnce(Vec<Value>) -> FunctionResult,
) -> FunctionResult {
    let mut any_sensitive = false;
    let mut any_unknown = false;
    let args: Vec<Value> = args
        .into_iter()
        .map(|arg| {
            let (arg, marked) = if spec.keeps_element_marks {
                unmark_outer(arg)
            } else {
                arg.unmark_deep()
            };
            any_sensitive |= marked;
            any_unknown |= arg.contains_unknown();
            arg
        })
        .collect();
    let result = if any_unknown && !spec.known_despite_unknown_arguments {
        Ok(Value::Unknown(Type::Any))
    } else {
        compute(args)
    };
    match result {
        Ok(v) if any_sensitive => Ok(v.mark_sensitive()),
        Ok(v) => Ok(v),
        // Error messages may quote arguments; a secret is never quoted.
        Err(e) if any_sensitive => Err(FunctionError {
            message: "the call failed on a sensitive argument (its value is not shown)".into(),
            argument: e.argument,
        }),
        Err(e) => Err(e),
    }
}

fn no_such_function(name: &str) -> FunctionError {
    FunctionError::new(format!("there is no function named \"{name}\""))
}

/// The value with the marks of its outer level removed (its elements
/// keep theirs), and whether there were any.
fn unmark_outer(value: Value) -> (Value, bool) {
    match value {
        Value::Sensitive(inner, _) => (inner.unmark_deep().0, true),
        other => (other, false),
    }
}
