//! `imm graph [DIR] [--env E] [--format dot|mermaid]`: the dependency graph
//! between resource instances of one environment.

use crate::{DiagnosticFormat, ProjectArgs};
use imm_planner::graph::InstanceGraph;
use std::process::ExitCode;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

pub fn run(project_args: &ProjectArgs, format: GraphFormat) -> ExitCode {
    let (_, _, evaluated) = match super::evaluate_environment(project_args, DiagnosticFormat::Human)
    {
        Ok(done) => done,
        Err(code) => return code,
    };
    let graph = InstanceGraph::build(&evaluated.instances);
    let text = match format {
        GraphFormat::Dot => graph.to_dot(),
        GraphFormat::Mermaid => graph.to_mermaid(),
    };
    crate::report::out(text.trim_end());
    ExitCode::SUCCESS
}
