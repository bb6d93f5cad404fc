//! `imm test [DIR] [--env E] [--filter NAME] [--junit-xml FILE]`, after
//! `terraform test`: the project's `tests/*.imm` files, each run in order
//! against a throwaway copy of the project (its own name, so its Docker
//! objects are its own, and its own local state), which is destroyed at
//! the end of the file even when a run fails.

use super::CommandResult;
use crate::VarArgs;
use imm_lang::decl::Condition;
use imm_lang::diagnostics::{Code, Diagnostic};
use imm_lang::evaluate::{self, judge, Mode, Verdict};
use imm_lang::expr::{Evaluator, TemplateCache};
use imm_lang::source::SourceMap;
use imm_lang::testfile::{RunCommand, TestRun};
use imm_stdlib::Value;
use imm_workflow::load::{self, Loaded, ProjectRequest, VarInputs};
use imm_workflow::state_site::StateSite;
use imm_workflow::{apply, plan, preflight, Error, Session};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// How `imm test` was asked to run.
pub struct TestArgs {
    pub dir: PathBuf,
    pub env: Option<String>,
    pub vars: VarArgs,
    pub filter: Vec<String>,
    pub junit_xml: Option<PathBuf>,
}

/// How one run went.
enum Outcome {
    Pass,
    /// Its asserts or expected failures did not hold.
    Fail(Vec<String>),
    /// It could not be carried out (an unexpected error).
    Error(Vec<String>),
}

struct RunReport {
    name: String,
    outcome: Outcome,
    seconds: f64,
}

struct FileReport {
    /// `tests/x.imm`.
    name: String,
    runs: Vec<RunReport>,
}

pub fn run(args: TestArgs) -> CommandResult {
    let files = test_files(&args.dir)?;
    if files.is_empty() {
        crate::report::out("No test files: imm test reads tests/*.imm in the project directory.");
        return Ok(ExitCode::SUCCESS);
    }
    let session = Session::new()?;
    let mut reports = Vec::new();
    for path in files {
        let name = format!(
            "tests/{}",
            path.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        );
        let (runs, sources) = read_runs(&path)?;
        let runs: Vec<TestRun> = runs
            .into_iter()
            .filter(|r| selected(&args.filter, &name, &r.name))
            .collect();
        if runs.is_empty() {
            continue;
        }
        crate::report::out(&format!("{name}... in progress"));
        reports.push(run_file(&session, &args, name, &runs, &sources));
    }
    if let Some(path) = &args.junit_xml {
        std::fs::write(path, junit_xml(&reports)).map_err(|e| {
            Error::new(
                Code::FileUnwritable,
                format!("cannot write {}: {e}", path.display()),
                "give --junit-xml a path in a writable directory",
            )
        })?;
    }
    let runs = reports.iter().flat_map(|f| &f.runs);
    let passed = runs
        .clone()
        .filter(|r| matches!(r.outcome, Outcome::Pass))
        .count();
    let failed = runs.count() - passed;
    if failed == 0 {
        crate::report::out(&format!("\nSuccess! {passed} passed, 0 failed."));
        return Ok(ExitCode::SUCCESS);
    }
    crate::report::out(&format!("\nFailure! {passed} passed, {failed} failed."));
    Err(runs_failed(&reports))
}

/// `E1005`, naming every run that did not go as its file says.
fn runs_failed(reports: &[FileReport]) -> Error {
    let names: Vec<String> = reports
        .iter()
        .flat_map(|f| {
            f.runs
                .iter()
                .filter(|r| !matches!(r.outcome, Outcome::Pass))
                .map(move |r| format!("{} run \"{}\"", f.name, r.name))
        })
        .collect();
    Error::new(
        Code::TestRunFailed,
        format!(
            "imm test: {} run(s) failed: {}",
            names.len(),
            names.join(", ")
        ),
        "read each run's messages above; fix the configuration or the test file",
    )
}

/// `--filter` names a test file (`tests/x.imm` or `x.imm`) or a run.
fn selected(filter: &[String], file: &str, run: &str) -> bool {
    filter.is_empty()
        || filter
            .iter()
            .any(|f| f == file || Some(f.as_str()) == file.strip_prefix("tests/") || f == run)
}

fn test_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let tests = dir.join("tests");
    let Ok(entries) = std::fs::read_dir(&tests) else {
        return Ok(Vec::new());
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "imm"))
        .collect();
    files.sort();
    Ok(files)
}

fn read_runs(path: &Path) -> Result<(Vec<TestRun>, SourceMap), Error> {
    let mut sources = SourceMap::new();
    let mut diags = imm_lang::diagnostics::Diagnostics::default();
    let Some(file) = imm_lang::project::read_source(path, &mut sources, &mut diags) else {
        return Err(Error::in_files(diags.0, &sources));
    };
    let (runs, more) = imm_lang::testfile::runs(file, &sources);
    diags.extend(more.0);
    if diags.has_errors() {
        return Err(Error::in_files(diags.0, &sources));
    }
    Ok((runs, sources))
}

/// Runs a file's runs in a throwaway copy, then destroys what they made.
fn run_file(
    session: &Session,
    args: &TestArgs,
    name: String,
    runs: &[TestRun],
    sources: &SourceMap,
) -> FileReport {
    let mut report = FileReport {
        name: name.clone(),
        runs: Vec::new(),
    };
    let copy = match Throwaway::new(&args.dir) {
        Ok(copy) => copy,
        Err(e) => {
            report.runs.push(RunReport {
                name: "(set-up)".into(),
                outcome: Outcome::Error(vec![format!(
                    "cannot copy the project for its tests: {e}"
                )]),
                seconds: 0.0,
            });
            return report;
        }
    };
    for run in runs {
        let started = Instant::now();
        let outcome = one_run(session, args, &copy.project, run, sources);
        let word = match &outcome {
            Outcome::Pass => "pass",
            Outcome::Fail(_) => "fail",
            Outcome::Error(_) => "error",
        };
        crate::report::out(&format!("  run \"{}\"... {word}", run.name));
        if let Outcome::Fail(messages) | Outcome::Error(messages) = &outcome {
            for m in messages {
                crate::report::out(&format!("    {m}"));
            }
        }
        report.runs.push(RunReport {
            name: run.name.clone(),
            outcome,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    crate::report::out(&format!("{name}... tearing down"));
    if let Err(e) = tear_down(session, args, &copy.project) {
        let messages: Vec<String> = e
            .diagnostics
            .iter()
            .map(|d| format!("error[{}]: {}", d.code, d.message))
            .collect();
        crate::report::out(&format!(
            "  could not destroy everything the runs made: {}",
            messages.join("; ")
        ));
        report.runs.push(RunReport {
            name: "(tear-down)".into(),
            outcome: Outcome::Error(messages),
            seconds: 0.0,
        });
    }
    let failed = report
        .runs
        .iter()
        .any(|r| !matches!(r.outcome, Outcome::Pass));
    crate::report::out(&format!(
        "{name}... {}",
        if failed { "fail" } else { "pass" }
    ));
    report
}

/// A copy of the project in a temporary directory named `<project>-test`,
/// removed when dropped.
struct Throwaway {
    root: PathBuf,
    project: PathBuf,
}

impl Throwaway {
    fn new(dir: &Path) -> std::io::Result<Throwaway> {
        let dir = std::path::absolute(dir)?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "project".into());
        let unique = format!(
            "imm-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        );
        let root = std::env::temp_dir().join(unique);
        let project = root.join(format!("{name}-test"));
        copy_dir(&dir, &project)?;
        Ok(Throwaway { root, project })
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Copies a project, leaving out its state (`.imm`), its tests and VCS or
/// build directories.
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if matches!(name.to_str(), Some(".imm" | "tests" | ".git" | "target")) {
            continue;
        }
        let kind = entry.file_type()?;
        let target = to.join(&name);
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// The copy loaded with the run's variables, its state kept locally in it.
fn load_copy(
    session: &Session,
    args: &TestArgs,
    dir: &Path,
    run_vars: Vec<String>,
) -> Result<(Loaded, StateSite), Error> {
    let mut vars = args.vars.vars.clone();
    vars.extend(run_vars);
    let request = ProjectRequest {
        dir: dir.to_path_buf(),
        env: args.env.clone(),
        vars: VarInputs {
            vars,
            var_files: args.vars.var_files.clone(),
        },
    };
    let mut loaded = load::load(&request, session)?;
    loaded.settings.state = None;
    loaded.inputs.keep_root_scope = true;
    let site = StateSite::configured(dir, &loaded.environment, None, session.handle())?;
    Ok((loaded, site))
}

/// A run's `variables` as `--var` values: strings as they are, others as
/// their text.
fn run_vars(run: &TestRun, sources: &SourceMap) -> Vec<String> {
    let mut sources = sources.clone();
    let mut templates = TemplateCache::default();
    run.variables
        .iter()
        .map(|(name, expr)| {
            let value = Evaluator::new(Path::new("."), &mut sources, &mut templates).eval(expr);
            let text = match value {
                Ok(Value::String(s)) => s.to_string(),
                _ => sources
                    .get(expr.span.file)
                    .and_then(|f| f.text.get(expr.span.start as usize..expr.span.end as usize))
                    .unwrap_or_default()
                    .to_string(),
            };
            format!("{name}={text}")
        })
        .collect()
}

/// What a run reached: the values its asserts read, and what failed on the way.
struct Reached {
    scope: HashMap<String, Value>,
    /// Every checkable object that failed, warnings (checks, advisory
    /// policies) included.
    failed: Vec<String>,
    /// The mandatory policies that failed: they fail the run.
    blocking: Vec<String>,
}

fn one_run(
    session: &Session,
    args: &TestArgs,
    dir: &Path,
    run: &TestRun,
    sources: &SourceMap,
) -> Outcome {
    let reached = carry_out(session, args, dir, run, sources);
    let (reached, errors) = match reached {
        Ok(r) => (Some(r), Vec::new()),
        Err(e) => (None, e.diagnostics),
    };
    let mut failed: Vec<String> = reached
        .as_ref()
        .map(|r| r.failed.clone())
        .unwrap_or_default();
    let mut unexpected = Vec::new();
    for d in errors.iter().filter(|d| d.is_error()) {
        match checkable(d) {
            Some(address) => failed.push(address),
            None => unexpected.push(format!("error[{}]: {}", d.code, d.message)),
        }
    }
    if !run.expect_failures.is_empty() {
        let missing: Vec<String> = run
            .expect_failures
            .iter()
            .filter(|e| !failed.iter().any(|f| f == *e))
            .map(|e| format!("{e} was expected to fail, and did not"))
            .collect();
        let surprising: Vec<String> = failed
            .iter()
            .filter(|f| !run.expect_failures.contains(f))
            .map(|f| format!("{f} failed, which the run does not expect"))
            .collect();
        if !unexpected.is_empty() {
            return Outcome::Error(unexpected);
        }
        return match missing.into_iter().chain(surprising).collect::<Vec<_>>() {
            problems if problems.is_empty() => Outcome::Pass,
            problems => Outcome::Fail(problems),
        };
    }
    let conditions_failed: Vec<String> = errors
        .iter()
        .filter(|d| d.is_error() && checkable(d).is_some())
        .map(|d| format!("error[{}]: {}", d.code, d.message))
        .collect();
    if !conditions_failed.is_empty() {
        return Outcome::Fail(conditions_failed);
    }
    if !unexpected.is_empty() {
        return Outcome::Error(unexpected);
    }
    let Some(reached) = reached else {
        return Outcome::Error(vec!["the run stopped without saying why".into()]);
    };
    let blocking: Vec<String> = reached
        .blocking
        .iter()
        .map(|f| format!("{f} failed (a mandatory policy)"))
        .collect();
    if !blocking.is_empty() {
        return Outcome::Fail(blocking);
    }
    match judge_asserts(&run.asserts, reached.scope, dir, sources) {
        problems if problems.is_empty() => Outcome::Pass,
        problems => Outcome::Fail(problems),
    }
}

/// The checkable object a failure belongs to (`var.x`, `output.y`,
/// `TYPE.NAME`, `check.z`), by the address its diagnostic carries: never
/// read from the message, which the configuration's `error_message` writes.
fn checkable(d: &Diagnostic) -> Option<String> {
    match d.code {
        Code::PreconditionFailed
        | Code::PostconditionFailed
        | Code::CheckFailed
        | Code::ValidationFailed => d.subject.as_ref().map(|s| s.address.clone()),
        _ => None,
    }
}

/// Plans (and applies) the copy; returns what the asserts read.
fn carry_out(
    session: &Session,
    args: &TestArgs,
    dir: &Path,
    run: &TestRun,
    sources: &SourceMap,
) -> Result<Reached, Error> {
    let (loaded, site) = load_copy(session, args, dir, run_vars(run, sources))?;
    let lock = site.lock("test")?;
    let request = plan::PlanRequest {
        options: Default::default(),
        refresh: true,
        hash_inputs: false,
        policies: Default::default(),
    };
    let mut planned = plan::make_plan(session, &site, loaded, request)?;
    let mut failed: Vec<String> = planned.warnings.iter().filter_map(checkable).collect();
    failed.extend(
        planned
            .plan
            .policies
            .iter()
            .filter(|p| p.status == "fail")
            .map(|p| format!("policy.{}", p.name)),
    );
    let blocking: Vec<String> = planned
        .plan
        .blocking_policies()
        .map(|p| format!("policy.{}", p.name))
        .collect();
    let scope = scope_of(&mut planned.evaluated);
    if run.command == RunCommand::Plan || !blocking.is_empty() {
        return Ok(Reached {
            scope,
            failed,
            blocking,
        });
    }
    preflight::check_executors(session, &planned.plan)?;
    let applied = apply::apply(session, &site, planned, 10, &mut |_| {})?;
    drop(lock);
    if !applied.outcome.succeeded() {
        return Err(Error {
            diagnostics: applied.failures.clone(),
            sources: SourceMap::default(),
        });
    }
    failed.extend(applied.failed_checks.iter().cloned());
    let (mut loaded, _) = load_copy(session, args, dir, run_vars(run, sources))?;
    loaded.inputs.known_outs = applied.state.known_outs(|_| false);
    let (mut evaluated, _) = evaluate::evaluate(
        &mut loaded.project,
        &loaded.environment,
        &loaded.inputs,
        Mode::Plan,
    );
    Ok(Reached {
        scope: scope_of(&mut evaluated),
        failed,
        blocking,
    })
}

/// The root module's names, with `output`.
fn scope_of(evaluated: &mut evaluate::Evaluated) -> HashMap<String, Value> {
    let mut names = evaluated
        .root_scope
        .take()
        .map(|s| s.names)
        .unwrap_or_default();
    let outputs: BTreeMap<String, Value> = evaluated
        .outputs
        .iter()
        .map(|(k, o)| (k.clone(), o.value.clone()))
        .collect();
    names.insert("output".into(), Value::Map(outputs));
    names
}

fn judge_asserts(
    asserts: &[Condition],
    scope: HashMap<String, Value>,
    dir: &Path,
    sources: &SourceMap,
) -> Vec<String> {
    let mut sources = sources.clone();
    let mut templates = TemplateCache::default();
    let mut ev = Evaluator::new(dir, &mut sources, &mut templates);
    ev.roots = scope;
    let mut diags = imm_lang::diagnostics::Diagnostics::default();
    let mut problems = Vec::new();
    for assert in asserts {
        match judge(&mut ev, assert, &mut diags) {
            Verdict::Holds => {}
            Verdict::Fails(message) => problems.push(format!("assert failed: {message}")),
            Verdict::Unknown => problems.push("assert failed: its condition is not known (known only after an apply: use command = apply)".into()),
        }
    }
    problems.extend(
        diags
            .0
            .iter()
            .map(|d| format!("error[{}]: {}", d.code, d.message)),
    );
    problems
}

/// Destroys everything the copy's state records.
fn tear_down(session: &Session, args: &TestArgs, dir: &Path) -> Result<(), Error> {
    let (loaded, site) = load_copy(session, args, dir, Vec::new())?;
    let _lock = site.lock("test")?;
    let (state, _) = site.read(&loaded.environment)?;
    let key = site.key()?;
    let (plan, _) = imm_planner::plan::destroy_plan(&state);
    if plan.changes.is_empty() {
        return Ok(());
    }
    let applied = apply::destroy(session, &site, &loaded, state, &key, &plan, 10, &mut |_| {})?;
    if applied.outcome.succeeded() {
        return Ok(());
    }
    Err(Error {
        diagnostics: applied.failures.clone(),
        sources: SourceMap::default(),
    })
}

/// JUnit XML as `terraform test -junit-xml` writes it: one testsuite per
/// file, one testcase per run.
fn junit_xml(reports: &[FileReport]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for file in reports {
        let failures = file
            .runs
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Fail(_)))
            .count();
        let errors = file
            .runs
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Error(_)))
            .count();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" skipped=\"0\" failures=\"{failures}\" errors=\"{errors}\">\n",
            xml_escape(&file.name),
            file.runs.len()
        ));
        for run in &file.runs {
            out.push_str(&format!(
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\"",
                xml_escape(&run.name),
                xml_escape(&file.name),
                run.seconds
            ));
            match &run.outcome {
                Outcome::Pass => out.push_str("></testcase>\n"),
                Outcome::Fail(messages) | Outcome::Error(messages) => {
                    let tag = if matches!(run.outcome, Outcome::Fail(_)) {
                        "failure"
                    } else {
                        "error"
                    };
                    let first = messages.first().cloned().unwrap_or_default();
                    out.push_str(&format!(
                        ">\n      <{tag} message=\"{}\">{}</{tag}>\n    </testcase>\n",
                        xml_escape(&first),
                        xml_escape(&messages.join("\n"))
                    ));
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            c if (c as u32) < 0x20 && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}
