//! The planner: recorded state and the dependency graph between resource
//! instances now; fingerprints and the replace-only diff come next (issue 3).

pub mod graph;
pub mod state;
