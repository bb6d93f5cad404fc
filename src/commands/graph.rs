//! `imm graph [DIR] [--env E] [--format dot|mermaid]`: the dependency graph
//! between resource instances of one environment.

use crate::report::print_diagnostics;
use crate::{DiagnosticFormat, VarArgs};
use imm_lang::evaluate::{self, Mode};
use imm_planner::graph::InstanceGraph;
use std::path::Path;
use std::process::ExitCode;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

pub fn run(dir: &Path, env: Option<&str>, vars: &VarArgs, format: GraphFormat) -> ExitCode {
    let mut project = imm_lang::project::load(dir);
    let diags = std::mem::take(&mut project.diagnostics).0;
    if diags.iter().any(|d| d.is_error()) {
        print_diagnostics(
            &imm_lang::validate::sorted_unique(diags),
            &project.sources,
            DiagnosticFormat::Human,
        );
        return ExitCode::from(1);
    }
    let inputs = match super::apply::inputs_from(vars) {
        Ok(i) => i,
        Err(d) => {
            print_diagnostics(&[d], &project.sources, DiagnosticFormat::Human);
            return ExitCode::from(1);
        }
    };
    let environment = match evaluate::select_environment(&project, env) {
        Ok(e) => e,
        Err(d) => {
            print_diagnostics(&[d], &project.sources, DiagnosticFormat::Human);
            return ExitCode::from(1);
        }
    };
    // Instances must be expanded, so values are needed as for a plan.
    let (evaluated, eval_diags) =
        evaluate::evaluate(&mut project, &environment, &inputs, Mode::Plan);
    if print_diagnostics(
        &imm_lang::validate::sorted_unique(eval_diags.0),
        &project.sources,
        DiagnosticFormat::Human,
    ) {
        return ExitCode::from(1);
    }
    let graph = InstanceGraph::build(&evaluated.instances);
    let text = match format {
        GraphFormat::Dot => graph.to_dot(),
        GraphFormat::Mermaid => graph.to_mermaid(),
    };
    crate::report::out(text.trim_end());
    ExitCode::SUCCESS
}
