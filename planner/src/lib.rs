//! The planner: recorded state and its journal, the dependency graph
//! between resource instances, content fingerprints of build inputs, the
//! replace-only diff, and the plan's three renderings.

pub mod fingerprint;
pub mod graph;
pub mod journal;
pub mod moves;
pub mod plan;
pub mod render;
pub mod state;
pub mod stored;
