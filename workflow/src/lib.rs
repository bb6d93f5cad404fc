//! The plan/apply workflow as a library, between the planner and executors
//! and the command line: load a project and its inputs ([`load`]), take
//! the state lock where state lives ([`state_site`]), refresh and plan
//! ([`plan`]), check before changing anything ([`preflight`]), carry the
//! plan out and record the new state ([`apply`]), under an environment's
//! policy ([`policy`]); the revisions of run-time values in their store
//! ([`config`]); a project's scope for `imm console` ([`console`]). One [`session::Session`] holds the one async
//! runtime of a command. Every function returns the one [`Error`], which
//! carries diagnostics; nothing here prints or asks the user anything.

pub mod apply;
pub mod conditions;
pub mod config;
pub mod console;
pub mod error;
pub mod load;
pub mod lock;
pub mod plan;
pub mod policy;
pub mod policy_check;
pub mod preflight;
pub mod session;
pub mod state_site;

pub use error::{Error, Result};
pub use session::Session;
