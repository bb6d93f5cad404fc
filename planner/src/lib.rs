//! The planner: recorded state, the dependency graph between resource
//! instances and content fingerprints of build inputs now; the
//! replace-only diff comes next (issue 3).

pub mod fingerprint;
pub mod graph;
pub mod state;
