//! The planner: recorded state now; the dependency graph, fingerprints and
//! the replace-only diff come next (issue 3).

pub mod state;
