//! `imm graph [DIR] [--env E] [--format dot|mermaid]`: the dependency graph
//! between resource instances of one environment.

use super::{print_warnings, CommandResult};
use crate::{DiagnosticFormat, ProjectArgs};
use imm_planner::graph::InstanceGraph;
use imm_workflow::{load, Session};
use std::process::ExitCode;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

pub fn run(project_args: &ProjectArgs, format: GraphFormat) -> CommandResult {
    let session = Session::new()?;
    let mut loaded = load::load(&project_args.request(), &session)?;
    let (evaluated, warnings) = loaded.evaluate()?;
    print_warnings(&warnings, &loaded, DiagnosticFormat::Human);
    let graph = InstanceGraph::build(&evaluated.instances);
    let text = match format {
        GraphFormat::Dot => graph.to_dot(),
        GraphFormat::Mermaid => graph.to_mermaid(),
    };
    crate::report::out(text.trim_end());
    Ok(ExitCode::SUCCESS)
}
