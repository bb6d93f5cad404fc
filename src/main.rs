//! The `imm` binary: parses the command line and wires the language, the
//! planner and the executors together. Every command lives in `commands/`.

mod commands;
mod lsp;
mod report;

use clap::{Parser, Subcommand, ValueEnum};

/// Evaluation allocates many small values; mimalloc is markedly faster than
/// the system allocator at that (see ARCHITECTURE.md, "Performance").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::path::PathBuf;
use std::process::ExitCode;

/// Declarative language and replace-only planner for immutable infrastructure.
#[derive(Parser)]
#[command(name = "imm", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum DiagnosticFormat {
    Human,
    Json,
}

/// Where variable values come from (LANGUAGE.md §4).
#[derive(clap::Args, Clone, Default)]
pub struct VarArgs {
    /// Set a variable: NAME=VALUE (repeatable; highest priority).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Read variable values from a file of NAME = VALUE lines (repeatable).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
}

/// The project, environment and variable values a command evaluates.
#[derive(clap::Args, Clone)]
pub struct ProjectArgs {
    /// Project directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Environment to use.
    #[arg(long)]
    pub env: Option<String>,
    #[command(flatten)]
    pub vars: VarArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Parse, resolve and type-check every environment; needs no values or network.
    Validate {
        /// Project directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// How to print diagnostics.
        #[arg(long, value_enum, default_value = "human")]
        format: DiagnosticFormat,
    },
    /// Rewrite files in canonical format (comments kept).
    Fmt {
        /// Report files that are not formatted instead of rewriting them (exit 1 if any).
        #[arg(long)]
        check: bool,
        /// Also format .imm files in subdirectories.
        #[arg(long)]
        recursive: bool,
        /// Files or directories (default: the current directory).
        paths: Vec<PathBuf>,
    },
    /// Evaluate and apply the project (this version: variables, locals and outputs only).
    Apply {
        #[command(flatten)]
        project: ProjectArgs,
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
        /// How to print diagnostics.
        #[arg(long, value_enum, default_value = "human")]
        format: DiagnosticFormat,
    },
    /// Print the outputs recorded by the last apply.
    Output {
        /// Only this output; printed as its bare value.
        name: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Project directory.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Environment whose outputs to print.
        #[arg(long)]
        env: Option<String>,
    },
    /// Show the plan (comes with the planner).
    Plan(commands::NotYet),
    /// Destroy what an environment's state records (comes with the planner).
    Destroy(commands::NotYet),
    /// Render a saved plan (comes with the planner).
    Show(commands::NotYet),
    /// Print the dependency graph between resource instances.
    Graph {
        #[command(flatten)]
        project: ProjectArgs,
        /// Output format.
        #[arg(long, value_enum, default_value = "dot")]
        format: commands::graph::GraphFormat,
    },
    /// Inspect and repair state (comes with the planner).
    State(commands::NotYet),
    /// Release a stuck state lock (comes with the planner).
    ForceUnlock(commands::NotYet),
    /// Language server over stdio, for editors.
    Lsp,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Deeply nested input recurses; give the work a roomy stack.
    let worker = std::thread::Builder::new()
        .name("imm".into())
        .stack_size(256 * 1024 * 1024)
        .spawn(move || run(cli));
    match worker.map(|h| h.join()) {
        Ok(Ok(code)) => code,
        _ => {
            eprintln!("error: imm stopped unexpectedly; this is a bug, please report it with the command you ran");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Validate { dir, format } => commands::validate::run(&dir, format),
        Command::Fmt {
            check,
            recursive,
            paths,
        } => commands::fmt::run(&paths, check, recursive),
        Command::Apply {
            project,
            auto_approve,
            format,
        } => commands::apply::run(&project, auto_approve, format),
        Command::Output {
            name,
            json,
            dir,
            env,
        } => commands::output::run(&dir, env.as_deref(), name.as_deref(), json),
        Command::Plan(_) => commands::not_yet("plan", "the planner (issue 3)"),
        Command::Destroy(_) => commands::not_yet("destroy", "the planner (issue 3)"),
        Command::Show(_) => commands::not_yet("show", "the planner (issue 3)"),
        Command::Graph { project, format } => commands::graph::run(&project, format),
        Command::State(_) => commands::not_yet("state", "the planner (issue 3)"),
        Command::ForceUnlock(_) => commands::not_yet("force-unlock", "the planner (issue 3)"),
        Command::Lsp => lsp::run(),
    }
}
