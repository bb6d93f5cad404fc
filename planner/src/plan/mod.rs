//! The replace-only diff: every instance in configuration
//! or state gets one action — create, replace (with its reasons),
//! reconfigure, destroy or no-op — and the plan is data first, rendered by
//! `render`.
//!
//! The planner answers the evaluator's [`OutsOracle`] questions: as each
//! instance is evaluated (in dependency order) it is compared with its
//! record; an instance kept as it is passes its recorded out attributes on,
//! one created or replaced passes on only what can be known before apply
//! (a fingerprint, a tag, a checksum) and leaves the rest unknown. So a
//! change reaches exactly the instances whose values it changes, however
//! deep, and a run-time change never reaches an artifact.

mod artifact;
mod destroy;
mod diff;
mod model;

pub use artifact::{fingerprint_of, ContextCache};
pub use destroy::destroy_plan;
pub use diff::{plan_project, PlanOptions, Planner};
pub use model::*;
