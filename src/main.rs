//! The `imm` binary: parses the command line and wires the language, the
//! planner and the executors together. Every command lives in `commands/`.

mod commands;
mod compose;
mod lsp;
mod progress;
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
    /// Run as if imm had been started in DIR (as `git -C`, `terraform -chdir`).
    #[arg(short = 'C', global = true, value_name = "DIR")]
    chdir: Option<PathBuf>,
    /// Print no colours (the same as setting NO_COLOR).
    #[arg(long, global = true)]
    no_color: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum DiagnosticFormat {
    Human,
    Json,
}

/// Where variable values come from.
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
    /// Carry out the plan (or a saved plan file) and record the outcome.
    Apply {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        plan: commands::plan::PlanArgs,
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
        /// Confirm changing a protected environment from a script.
        #[arg(long)]
        yes_really: bool,
        /// Steps carried out at once.
        #[arg(long, default_value_t = 10)]
        parallelism: usize,
        /// How to print diagnostics.
        #[arg(long, value_enum, default_value = "human")]
        format: DiagnosticFormat,
    },
    /// Print a completion script for a shell (e.g. `imm completions bash > /etc/bash_completion.d/imm`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `imm manpage > /usr/local/share/man/man1/imm.1`.
    Manpage,
    /// Print the outputs recorded by the last apply.
    Output {
        /// Only this output, printed as its bare value (a string without quotes).
        name: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        at: commands::state::Where,
    },
    /// Show what apply would do: every instance's action, and why.
    Plan {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        plan: commands::plan::PlanArgs,
        /// Save the plan, for `imm apply FILE` and `imm show FILE`.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// How to print the plan.
        #[arg(long, value_enum, default_value = "human")]
        format: commands::plan::PlanFormat,
        /// Exit 0 with no changes, 2 with changes, 1 on error (3 when a mandatory policy fails, with or without it).
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Run the project's tests (tests/*.imm) against a throwaway copy, destroyed at the end.
    Test {
        /// Project directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Environment to use.
        #[arg(long)]
        env: Option<String>,
        #[command(flatten)]
        vars: VarArgs,
        /// Run only this test file (tests/x.imm) or run (repeatable).
        #[arg(long, value_name = "NAME")]
        filter: Vec<String>,
        /// Also write the results as JUnit XML, for CI.
        #[arg(long, value_name = "FILE")]
        junit_xml: Option<PathBuf>,
    },
    /// Destroy everything an environment's state records.
    Destroy {
        #[command(flatten)]
        project: ProjectArgs,
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
        /// Confirm destroying a protected environment from a script.
        #[arg(long)]
        yes_really: bool,
        /// Steps carried out at once.
        #[arg(long, default_value_t = 10)]
        parallelism: usize,
        #[command(flatten)]
        policies: commands::plan::PolicyArgs,
    },
    /// Render a saved plan.
    Show {
        /// The file written by `imm plan --out`.
        planfile: PathBuf,
        /// How to print the plan.
        #[arg(long, value_enum, default_value = "human")]
        format: commands::plan::PlanFormat,
    },
    /// Print the dependency graph between resource instances.
    Graph {
        #[command(flatten)]
        project: ProjectArgs,
        /// Output format.
        #[arg(long, value_enum, default_value = "dot")]
        format: commands::graph::GraphFormat,
    },
    /// Lock every off-the-shelf image's tag to its digest in imm.lock.hcl.
    Lock {
        #[command(flatten)]
        project: ProjectArgs,
        /// Move locked tags to the digest they name now: every image, or
        /// those the given instances, resources or modules use (write the
        /// directory before it: imm lock DIR --upgrade ADDR).
        #[arg(long, value_name = "ADDR", num_args = 0..)]
        upgrade: Option<Vec<String>>,
    },
    /// Evaluate expressions (one per line on stdin) against a project and environment.
    Console {
        #[command(flatten)]
        project: ProjectArgs,
    },
    /// Revisions of run-time values in their store, and rollback.
    #[command(subcommand)]
    Config(commands::config::ConfigCommand),
    /// Translate another tool's files into .imm (a Compose file).
    #[command(subcommand)]
    Import(commands::import::ImportCommand),
    /// Inspect and repair state.
    #[command(subcommand)]
    State(commands::state::StateCommand),
    /// Release a state lock left by a run that died.
    ForceUnlock {
        /// The lock id, as the lock error printed it.
        id: String,
        #[command(flatten)]
        at: commands::state::Where,
    },
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
    if cli.no_color {
        report::disable_color();
    }
    if let Some(dir) = &cli.chdir {
        if let Err(e) = std::env::set_current_dir(dir) {
            eprintln!(
                "error: cannot change to directory {} (given to -C): {e}\nhelp: give -C a directory that exists",
                dir.display()
            );
            return ExitCode::from(1);
        }
    }
    let format = cli.command.diagnostic_format();
    let result = match dispatch(cli.command) {
        Ok(_) if report::stdout_failed() => Err(report::stdout_error()),
        other => other,
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            report::print_diagnostics(&error.diagnostics, &error.sources, format);
            ExitCode::from(1)
        }
    }
}

impl Command {
    /// How the command prints diagnostics.
    fn diagnostic_format(&self) -> DiagnosticFormat {
        match self {
            Command::Validate { format, .. } | Command::Apply { format, .. } => *format,
            _ => DiagnosticFormat::Human,
        }
    }
}

fn dispatch(command: Command) -> commands::CommandResult {
    match command {
        Command::Validate { dir, format } => Ok(commands::validate::run(&dir, format)),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "imm", &mut script);
            report::out(String::from_utf8_lossy(&script).trim_end());
            Ok(ExitCode::SUCCESS)
        }
        Command::Manpage => {
            let command = <Cli as clap::CommandFactory>::command();
            let mut page = Vec::new();
            if let Err(e) = clap_mangen::Man::new(command).render(&mut page) {
                eprintln!("error: cannot render the manual page: {e}");
                return Ok(ExitCode::from(1));
            }
            report::out(String::from_utf8_lossy(&page).trim_end());
            Ok(ExitCode::SUCCESS)
        }
        Command::Fmt {
            check,
            recursive,
            paths,
        } => Ok(commands::fmt::run(&paths, check, recursive)),
        Command::Apply {
            project,
            plan,
            auto_approve,
            yes_really,
            parallelism,
            format,
        } => commands::apply::run(commands::apply::ApplyArgs {
            project,
            plan,
            auto_approve,
            yes_really,
            parallelism,
            format,
        }),
        Command::Output { name, json, at } => {
            commands::output::run(&at.dir, at.env.as_deref(), name.as_deref(), json)
        }
        Command::Plan {
            project,
            plan,
            out,
            format,
            detailed_exitcode,
        } => commands::plan::run(&project, &plan, out.as_deref(), format, detailed_exitcode),
        Command::Destroy {
            project,
            auto_approve,
            yes_really,
            parallelism,
            policies,
        } => commands::destroy::run(commands::destroy::DestroyArgs {
            project,
            policies,
            auto_approve,
            yes_really,
            parallelism,
        }),
        Command::Show { planfile, format } => commands::plan::show(&planfile, format),
        Command::Test {
            dir,
            env,
            vars,
            filter,
            junit_xml,
        } => commands::test::run(commands::test::TestArgs {
            dir,
            env,
            vars,
            filter,
            junit_xml,
        }),
        Command::Graph { project, format } => commands::graph::run(&project, format),
        Command::Lock { project, upgrade } => commands::lock::run(
            &project,
            upgrade.is_some(),
            upgrade.as_deref().unwrap_or_default(),
        ),
        Command::Console { project } => commands::console::run(&project),
        Command::State(command) => commands::state::run(&command),
        Command::Config(command) => commands::config::run(&command),
        Command::Import(command) => commands::import::run(&command),
        Command::ForceUnlock { id, at } => commands::state::force_unlock(&at, &id),
        Command::Lsp => Ok(lsp::run()),
    }
}
