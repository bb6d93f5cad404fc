//! Diagnostics: the one model of every problem imm reports, its stable
//! codes (docs/diagnostics.md), and its two renderings — miette's graphical form
//! for people and one JSON object per line for machines.
//!
//! Every code is listed in [`Code::ALL`] with a one-line meaning; the test
//! `docs_list_every_code` keeps `docs/diagnostics.md` in step with it.

use crate::source::{SourceMap, Span};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

/// A stable diagnostic code. Never renumber one: tools and tests rely on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    InvalidUtf8,
    Syntax,
    TooDeep,
    NewlineExpected,
    InterpolatedLabel,
    NumberOutOfRange,
    UnknownBlock,
    Duplicate,
    WrongLabels,
    UnknownAttribute,
    MissingAttribute,
    UnknownResourceType,
    UnexpectedBlock,
    TopLevelAttribute,
    UnknownName,
    UnknownMember,
    CountIndexOutsideCount,
    EachOutsideForEach,
    CountAndForEach,
    Cycle,
    SelfOutsideResource,
    InvalidMove,
    InvalidTypeExpression,
    TypeMismatch,
    UnknownFunction,
    ArgumentCount,
    FunctionFailed,
    InvalidOperand,
    InvalidIndex,
    ValidationFailed,
    MissingVariable,
    InvalidVariableValue,
    SensitiveOutput,
    InvalidForEach,
    InvalidCount,
    PathNotFound,
    PathOutsideProject,
    BuildPurity,
    MissingEnvAttribute,
    UnknownEnvironment,
    EnvironmentRequired,
    InvalidSecretSource,
    SecretUnavailable,
    ModuleNotFound,
    ModuleArgument,
    ModuleCycle,
    ProjectUnreadable,
    NoImmFiles,
    StateUnreadable,
    StateLocked,
    OutputExists,
    FileUnwritable,
    LockFileInvalid,
    PreventDestroy,
    UnknownAddress,
    StalePlan,
    PlanFileInvalid,
    FingerprintFailed,
    PendingChanges,
    NotPromoted,
    ImageNotInRegistry,
    ActionFailed,
    DaemonUnreachable,
    BuildFailed,
    PullFailed,
    HealthCheckFailed,
    TestFailed,
    ActionTimeout,
    StoreUnreachable,
    PermissionDenied,
    Conflict,
    CommandFailed,
    ExecutorConfig,
    SwarmUpdateFailed,
    ObjectMissing,
    SwarmStillHolds,
    JournalUnwritable,
    StoreMisconfigured,
    ProtectedEnvironment,
    ConfirmationRequired,
    RuntimeUnavailable,
    OutputUnwritable,
    UnsupportedYet,
    PreconditionFailed,
    PostconditionFailed,
    PolicyFailed,
    PolicyInvalid,
    TestRunFailed,
    UnusedVariable,
    NotFormatted,
    CheckFailed,
    AdvisoryPolicyFailed,
}

impl Code {
    /// Every code with its meaning and an example fix (for the docs).
    pub const ALL: &'static [(Code, &'static str, &'static str)] = &[
        (Code::InvalidUtf8, "the file is not UTF-8 text", "save the file as UTF-8, or remove a binary file that ends in .imm"),
        (Code::Syntax, "the text does not follow the grammar", "fix the construct at the position shown; the message lists what was expected"),
        (Code::TooDeep, "brackets are nested more deeply than 256 levels, or one expression chains more than 4,096 operators", "flatten the expression, or move parts of it into locals"),
        (Code::NewlineExpected, "an attribute must end at a newline", "put the next attribute or block on its own line"),
        (Code::NumberOutOfRange, "a number literal is out of range", "a number must lie between about 1e-12000 and 1e12000 in size; write a string if it is an identifier"),
        (Code::InterpolatedLabel, "a block label must be a plain string", "write the label as \"name\" with no ${...}"),
        (Code::UnknownBlock, "a block type is not allowed here", "use one of the block types listed in the help"),
        (Code::Duplicate, "the same name is defined twice", "rename or remove one of the two definitions (both are labelled)"),
        (Code::WrongLabels, "a block has the wrong number of labels", "write e.g. resource \"TYPE\" \"NAME\" { ... }"),
        (Code::UnknownAttribute, "an attribute is not known for this block or resource type", "check the spelling; the help suggests the closest known attribute"),
        (Code::MissingAttribute, "a required attribute is missing", "add the attribute named in the message"),
        (Code::UnknownResourceType, "a resource type does not exist", "use one of the resource types listed in docs/resources.md (the message names the closest)"),
        (Code::UnexpectedBlock, "a nested block is not allowed in this block", "move the block where it belongs, or turn it into an attribute"),
        (Code::TopLevelAttribute, "an attribute stands at the top level of a file", "put it into a locals { } block or the block it belongs to"),
        (Code::UnknownName, "a reference names something that is not declared", "declare it, or fix the spelling (see \"did you mean\")"),
        (Code::UnknownMember, "a reference asks for an attribute the object does not have", "use one of the attributes listed in the help"),
        (Code::CountIndexOutsideCount, "count.index is used where there is no count", "add count = N to the resource, or remove count.index"),
        (Code::EachOutsideForEach, "each.key or each.value is used where there is no for_each", "add for_each to the resource, or remove each.*"),
        (Code::CountAndForEach, "a resource sets both count and for_each", "keep only one of them"),
        (Code::Cycle, "definitions refer to each other in a cycle", "break the cycle at one of the labelled references"),
        (Code::SelfOutsideResource, "self is used outside a resource", "refer to the resource by TYPE.NAME instead"),
        (Code::InvalidMove, "a moved block's from or to is not a valid move", "from is the old address (no longer declared), to the declared new one, of the same resource type"),
        (Code::InvalidTypeExpression, "a type constraint is not a type", "use string, number, bool, any, list(T), map(T), set(T), object({...}) or tuple([...])"),
        (Code::TypeMismatch, "a value does not have the type that is required", "convert the value (tostring, tonumber, ...) or fix the type constraint"),
        (Code::UnknownFunction, "a function does not exist", "use one of the built-in functions (see \"did you mean\")"),
        (Code::ArgumentCount, "a function is called with the wrong number of arguments", "pass the arguments the signature in the help lists"),
        (Code::FunctionFailed, "a function call failed on its arguments", "fix the argument the message points at"),
        (Code::InvalidOperand, "an operator cannot work on these values", "convert the operands, e.g. tonumber(x) + 1"),
        (Code::InvalidIndex, "an index or key does not exist in the collection", "use an index that exists, or lookup(map, key, default)"),
        (Code::ValidationFailed, "a variable's validation condition is false", "pass a value that satisfies the condition"),
        (Code::MissingVariable, "a variable has no value and no default", "pass --var NAME=VALUE, set IMM_VAR_NAME, or add a default"),
        (Code::InvalidVariableValue, "a variable value given on the command line or in a file cannot be used", "write the value as the variable's type expects, e.g. --var 'ports=[80, 443]'"),
        (Code::SensitiveOutput, "an output shows a sensitive value but is not marked sensitive", "add sensitive = true to the output"),
        (Code::InvalidForEach, "for_each is not a map or a set of strings", "use a map, or toset([...]) of strings"),
        (Code::InvalidCount, "count is not a whole number of 0 or more", "use a non-negative whole number"),
        (Code::PathNotFound, "a file an attribute names does not exist", "paths are relative to the directory of the file that names them"),
        (Code::PathOutsideProject, "a project path (a bind mount's source) leads outside the module's directory", "name a path inside the module's directory (no leading /, no .. above it, no symbolic link out of it); a path on the Docker host is written host_path"),
        (Code::BuildPurity, "a build block depends on environment-specific or secret values", "move the value into runtime { }, or make it the same for every environment"),
        (Code::MissingEnvAttribute, "env.X is used but an environment does not define X", "add X to every environment block named in the message"),
        (Code::UnknownEnvironment, "the selected environment is not declared", "use --env with one of the declared environments"),
        (Code::EnvironmentRequired, "environments are declared but none was selected", "pass --env NAME, or declare an environment named \"default\""),
        (Code::InvalidSecretSource, "a secret's from is not env:VAR, file:PATH or store:KEY", "write from = \"env:VAR\", \"file:PATH\" or \"store:KEY\""),
        (Code::SecretUnavailable, "a secret's source could not be read", "set the variable or create the file the message names"),
        (Code::ModuleNotFound, "a module source does not exist", "use ./relative/dir or one of the std/NAME modules"),
        (Code::ModuleArgument, "a module is given an argument it does not declare, or misses a required one", "match the module's variable blocks"),
        (Code::ModuleCycle, "modules include each other", "remove the module block that closes the loop"),
        (Code::ProjectUnreadable, "the project directory or a file could not be read", "check the path and its permissions"),
        (Code::NoImmFiles, "the directory has no .imm files", "point imm at a directory that holds .imm files"),
        (Code::StateUnreadable, "the state file could not be read or is corrupt", "restore it from the .backup file beside it, or move it away to start afresh"),
        (Code::StateLocked, "another run holds the state lock", "wait for it to finish, or run imm force-unlock ID if it died"),
        (Code::OutputExists, "a file imm would write exists already, and imm does not overwrite it unasked", "pass --force to overwrite it, or --out FILE to write another file"),
        (Code::FileUnwritable, "a file imm was asked to write (an import's output) could not be written", "check the directory exists and its permissions, or pass --out FILE"),
        (Code::LockFileInvalid, "the lock file imm.lock.hcl cannot be read", "fix the line shown, or delete imm.lock.hcl and run imm lock"),
        (Code::PreventDestroy, "the plan would destroy or replace a resource with lifecycle { prevent_destroy = true }", "change the configuration so it is kept, or set prevent_destroy = false and apply first"),
        (Code::UnknownAddress, "an address given on the command line names no instance", "use an address shown by imm state list or imm plan"),
        (Code::StalePlan, "a saved plan no longer matches the state or the configuration", "run imm plan --out again and apply the new plan"),
        (Code::PlanFileInvalid, "a saved plan file cannot be read", "pass a file written by imm plan --out with this version of imm"),
        (Code::FingerprintFailed, "a build input could not be read to fingerprint it", "check that the build context and Dockerfile exist and are readable"),
        (Code::PendingChanges, "a config rollback would carry out other changes the project has not applied yet", "apply those changes (or undo them in the .imm files) first, or roll back the store alone with --store-only"),
        (Code::NotPromoted, "an environment with promote_from was asked to run an artifact its source environment did not build, apply and test", "apply the change to the source environment first (its tests must pass there), then to this one"),
        (Code::ImageNotInRegistry, "an off-the-shelf image's tag, or the digest imm.lock.hcl locked it to, is not in its registry", "fix the tag's spelling, or run imm lock --upgrade ADDRESS to lock the tag to what it names now"),
        (Code::ActionFailed, "creating, testing or destroying an object failed", "read the command's or the daemon's message shown; state records what exists"),
        (Code::DaemonUnreachable, "a Docker Engine (or an engine's endpoint) does not answer", "start the daemon (`docker info` must answer), or fix DOCKER_HOST / the engine's endpoints; state records what exists"),
        (Code::BuildFailed, "building an image failed", "read the build output shown; fix the Dockerfile or the build context and apply again"),
        (Code::PullFailed, "an image could not be pulled or pushed", "check the registry's address, that the image and tag or digest exist there, and its credentials"),
        (Code::HealthCheckFailed, "a new object did not become healthy in time, so it was removed and the one it replaces kept", "read the health check's last output shown; fix the program or the check, or give it longer (start_period, retries)"),
        (Code::TestFailed, "a test of a new object failed, so it was removed and the one it replaces kept", "read the test's output shown and fix the program or the test; nothing switched"),
        (Code::ActionTimeout, "an operation did not finish within its deadline", "see what it waited for in the message; raise the deadline named there if the work is slow, or fix what hangs"),
        (Code::StoreUnreachable, "a configuration store or state backend does not answer or refuses the request", "start it or fix its address; check the credentials and that the server accepts this client"),
        (Code::PermissionDenied, "the outside world refused an operation for lack of permission", "give imm's user the right (file mode, Docker group, database role) named in the message"),
        (Code::Conflict, "an object imm would create or change is taken by another (a name, a port, a revision written meanwhile)", "remove or rename the object named in the message, or run again so imm reads what is there now"),
        (Code::CommandFailed, "a command an exec resource runs exited with an error", "read the command's output shown and fix the command or what it works on"),
        (Code::ExecutorConfig, "an instance's configuration cannot be used by its executor", "fix the attribute the message names (imm plan reports the same before an apply)"),
        (Code::SwarmUpdateFailed, "a Swarm service's update or rollout did not complete", "read the tasks' errors shown; fix the image or the placement, then apply again (Swarm keeps the previous version serving)"),
        (Code::ObjectMissing, "an object imm needs or recorded no longer exists", "run imm plan: it replaces what is missing"),
        (Code::SwarmStillHolds, "Swarm still held something imm removes (a removed service's tasks, a network, config or secret they use) when imm's wait for it ended; state keeps it recorded", "run imm destroy (or apply) again once the tasks named are gone (`docker service ps`, `docker node ls`): it removes what is left"),
        (Code::JournalUnwritable, "the apply journal could not be written, so no further step was started", "free disk space or fix the state directory's permissions (or etcd), then apply again; state records what exists"),
        (Code::StoreMisconfigured, "a store block cannot be used as written", "fix the store block's backend and its attributes"),
        (Code::ProtectedEnvironment, "the environment is protected and the change was not confirmed", "pass --yes-really from a script, or run imm at a terminal and type the environment's name"),
        (Code::ConfirmationRequired, "imm asks for confirmation and cannot (stdin is not a terminal)", "pass --auto-approve, or apply a reviewed plan file"),
        (Code::RuntimeUnavailable, "imm could not start its async runtime", "a problem of the machine (threads, file descriptors); free some and retry"),
        (Code::OutputUnwritable, "standard output could not be written (closed or full), so what imm reports was not seen", "write the output where there is room, or read all of it (not `| head`); an apply whose plan could not be shown changes nothing"),
        (Code::UnsupportedYet, "a feature is recognised but not implemented in this version", "see the project's README for what this version supports"),
        (Code::PreconditionFailed, "a precondition of a resource or output is false, so the plan stops there", "fix the values the condition reads, or the condition; the message is the block's error_message"),
        (Code::PostconditionFailed, "a resource's postcondition is false after it was created; state records the object", "fix the resource's configuration (or the condition) and apply again: the object is replaced or kept as the plan says"),
        (Code::PolicyFailed, "a mandatory policy fails on this plan, so it cannot be applied", "change the configuration so that the plan satisfies the policy, or override it with --override-policy NAME after review"),
        (Code::PolicyInvalid, "a policy cannot be read or evaluated (a directory that is missing, a file holding other blocks, a condition that is not a bool)", "fix the policy file or directory the message names"),
        (Code::TestRunFailed, "a run of imm test did not go as its file says (an assert false, an expected failure missing, an unexpected error)", "read the run's messages; fix the configuration or the test file"),
        (Code::UnusedVariable, "a variable is declared but never used (warning)", "remove the variable, or use it"),
        (Code::NotFormatted, "a file is not in canonical format (imm fmt --check)", "run imm fmt"),
        (Code::CheckFailed, "an assert of a check block is false (warning: checks never block)", "fix what the check watches; the message is the assert's error_message"),
        (Code::AdvisoryPolicyFailed, "an advisory policy fails on this plan (warning: it does not block)", "review the change; make the plan satisfy the policy if it should"),
    ];

    /// The code's general help (its line in `docs/diagnostics.md`).
    pub fn help(self) -> &'static str {
        Code::ALL
            .iter()
            .find(|(c, _, _)| *c == self)
            .map(|(_, _, help)| *help)
            .unwrap_or_default()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidUtf8 => "E0001",
            Code::Syntax => "E0002",
            Code::TooDeep => "E0003",
            Code::NewlineExpected => "E0004",
            Code::InterpolatedLabel => "E0005",
            Code::NumberOutOfRange => "E0006",
            Code::UnknownBlock => "E0101",
            Code::Duplicate => "E0102",
            Code::WrongLabels => "E0103",
            Code::UnknownAttribute => "E0104",
            Code::MissingAttribute => "E0105",
            Code::UnknownResourceType => "E0106",
            Code::UnexpectedBlock => "E0107",
            Code::TopLevelAttribute => "E0108",
            Code::UnknownName => "E0201",
            Code::UnknownMember => "E0202",
            Code::CountIndexOutsideCount => "E0203",
            Code::EachOutsideForEach => "E0204",
            Code::CountAndForEach => "E0205",
            Code::Cycle => "E0206",
            Code::SelfOutsideResource => "E0207",
            Code::InvalidMove => "E0208",
            Code::InvalidTypeExpression => "E0301",
            Code::TypeMismatch => "E0302",
            Code::UnknownFunction => "E0303",
            Code::ArgumentCount => "E0304",
            Code::FunctionFailed => "E0305",
            Code::InvalidOperand => "E0306",
            Code::InvalidIndex => "E0307",
            Code::ValidationFailed => "E0308",
            Code::MissingVariable => "E0309",
            Code::InvalidVariableValue => "E0310",
            Code::SensitiveOutput => "E0311",
            Code::InvalidForEach => "E0312",
            Code::InvalidCount => "E0313",
            Code::PathNotFound => "E0314",
            Code::PathOutsideProject => "E0320",
            Code::BuildPurity => "E0401",
            Code::MissingEnvAttribute => "E0402",
            Code::UnknownEnvironment => "E0403",
            Code::EnvironmentRequired => "E0404",
            Code::InvalidSecretSource => "E0405",
            Code::SecretUnavailable => "E0406",
            Code::ModuleNotFound => "E0501",
            Code::ModuleArgument => "E0502",
            Code::ModuleCycle => "E0503",
            Code::ProjectUnreadable => "E0601",
            Code::NoImmFiles => "E0602",
            Code::StateUnreadable => "E0603",
            Code::StateLocked => "E0604",
            Code::OutputExists => "E0605",
            Code::FileUnwritable => "E0606",
            Code::LockFileInvalid => "E0607",
            Code::PreventDestroy => "E0701",
            Code::UnknownAddress => "E0702",
            Code::StalePlan => "E0703",
            Code::PlanFileInvalid => "E0704",
            Code::FingerprintFailed => "E0705",
            Code::PendingChanges => "E0706",
            Code::NotPromoted => "E0707",
            Code::ImageNotInRegistry => "E0708",
            Code::ActionFailed => "E0801",
            Code::DaemonUnreachable => "E0810",
            Code::BuildFailed => "E0811",
            Code::PullFailed => "E0812",
            Code::HealthCheckFailed => "E0813",
            Code::TestFailed => "E0814",
            Code::ActionTimeout => "E0815",
            Code::StoreUnreachable => "E0816",
            Code::PermissionDenied => "E0817",
            Code::Conflict => "E0818",
            Code::CommandFailed => "E0819",
            Code::ExecutorConfig => "E0820",
            Code::SwarmUpdateFailed => "E0821",
            Code::ObjectMissing => "E0822",
            Code::SwarmStillHolds => "E0823",
            Code::JournalUnwritable => "E0802",
            Code::StoreMisconfigured => "E0803",
            Code::ProtectedEnvironment => "E0804",
            Code::ConfirmationRequired => "E0805",
            Code::RuntimeUnavailable => "E0806",
            Code::OutputUnwritable => "E0807",
            Code::UnsupportedYet => "E0901",
            Code::PreconditionFailed => "E1001",
            Code::PostconditionFailed => "E1002",
            Code::PolicyFailed => "E1003",
            Code::PolicyInvalid => "E1004",
            Code::TestRunFailed => "E1005",
            Code::UnusedVariable => "W0101",
            Code::NotFormatted => "W0201",
            Code::CheckFailed => "W1001",
            Code::AdvisoryPolicyFailed => "W1002",
        }
    }

    pub fn default_severity(self) -> Severity {
        if self.as_str().starts_with('W') {
            Severity::Warning
        } else {
            Severity::Error
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A secondary span with its own message.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One problem, with where it is and how to fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    /// The primary span; `None` for problems that come from no file.
    pub span: Option<Span>,
    /// Text under the primary span (boxed, as `subject`, to keep a
    /// `Diagnostic` under clippy's `result_large_err` size).
    pub primary_label: Option<Box<str>>,
    pub labels: Vec<Label>,
    pub help: Option<String>,
    /// The checkable object a failed condition belongs to, so that `imm
    /// test`'s `expect_failures` names it by address, whatever the message
    /// says.
    pub subject: Option<Box<Subject>>,
}

/// The address of a checkable object: `var.NAME`, `output.NAME`,
/// `TYPE.NAME`, `check.NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub address: String,
}

impl Diagnostic {
    pub fn new(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: code.default_severity(),
            code,
            message: message.into(),
            span: None,
            primary_label: None,
            labels: Vec::new(),
            help: None,
            subject: None,
        }
    }

    pub fn at(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            span: Some(span),
            ..Diagnostic::new(code, message)
        }
    }

    pub fn with_primary_label(mut self, text: impl Into<String>) -> Diagnostic {
        self.primary_label = Some(text.into().into_boxed_str());
        self
    }

    pub fn with_label(mut self, span: Span, text: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: text.into(),
        });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn with_subject(mut self, address: impl Into<String>) -> Diagnostic {
        self.subject = Some(Box::new(Subject {
            address: address.into(),
        }));
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// A list of diagnostics, collected across a run.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.0.extend(other);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }

    /// Sorted by file and position, duplicates removed, so output is stable.
    pub fn sorted(mut self) -> Vec<Diagnostic> {
        self.0.sort_by_key(|d| {
            let (file, start) = d.span.map(|s| (s.file.0, s.start)).unwrap_or((u32::MAX, 0));
            (file, start, d.code)
        });
        self.0
            .dedup_by(|a, b| a.code == b.code && a.span == b.span && a.message == b.message);
        self.0
    }
}

/// Suggests the closest candidate by edit distance ("did you mean …").
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(d, c)| *d <= 2.max(name.len() / 3) && *d < c.len().max(name.len()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

// ---- Rendering ----------------------------------------------------------

/// Renders for people with miette: source excerpt, labels, help.
pub fn render_human(diag: &Diagnostic, sources: &SourceMap, color: bool, width: usize) -> String {
    use miette::{GraphicalReportHandler, GraphicalTheme};
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .without_syntax_highlighting()
        .with_width(width)
        .with_links(false);
    let adapter = MietteAdapter::new(diag, sources);
    let mut out = String::new();
    if handler.render_report(&mut out, &adapter).is_err() {
        return format!(
            "{}[{}]: {}\n",
            severity_word(diag.severity),
            diag.code,
            diag.message
        );
    }
    out
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// One JSON object (docs/diagnostics.md), without a trailing newline.
pub fn render_json(diag: &Diagnostic, sources: &SourceMap) -> String {
    let position = |span: Span| {
        let file = sources.get(span.file);
        let start = file.map(|f| f.line_col(span.start as usize));
        let end = file.map(|f| f.line_col(span.end as usize));
        (file.map(|f| f.path.display().to_string()), start, end)
    };
    let mut obj = serde_json::Map::new();
    obj.insert("severity".into(), severity_word(diag.severity).into());
    obj.insert("code".into(), diag.code.as_str().into());
    obj.insert("message".into(), diag.message.clone().into());
    let (file, start, end) = diag.span.map(position).unwrap_or((None, None, None));
    obj.insert("file".into(), file.into());
    obj.insert("line".into(), start.map(|p| p.line).into());
    obj.insert("column".into(), start.map(|p| p.column).into());
    obj.insert("end_line".into(), end.map(|p| p.line).into());
    obj.insert("end_column".into(), end.map(|p| p.column).into());
    let labels: Vec<serde_json::Value> = diag
        .labels
        .iter()
        .map(|l| {
            let (file, start, end) = position(l.span);
            serde_json::json!({
                "message": l.message,
                "file": file,
                "line": start.map(|p| p.line),
                "column": start.map(|p| p.column),
                "end_line": end.map(|p| p.line),
                "end_column": end.map(|p| p.column),
            })
        })
        .collect();
    obj.insert("labels".into(), labels.into());
    obj.insert("help".into(), diag.help.clone().into());
    serde_json::Value::Object(obj).to_string()
}

/// Presents a [`Diagnostic`] to miette. miette shows one source per report,
/// so labels in other files are listed under the help text instead.
struct MietteAdapter {
    message: String,
    code: &'static str,
    severity: miette::Severity,
    help: Option<String>,
    source: Option<miette::NamedSource<String>>,
    labels: Vec<miette::LabeledSpan>,
}

impl MietteAdapter {
    fn new(diag: &Diagnostic, sources: &SourceMap) -> MietteAdapter {
        let mut help_lines: Vec<String> = diag.help.iter().cloned().collect();
        let mut labels = Vec::new();
        let mut source = None;
        if let Some(span) = diag.span {
            if let Some(file) = sources.get(span.file) {
                source = Some(miette::NamedSource::new(
                    file.path.display().to_string(),
                    file.text.to_string(),
                ));
                labels.push(miette::LabeledSpan::new_primary_with_span(
                    diag.primary_label.as_deref().map(String::from),
                    (
                        span.start as usize,
                        span.end.saturating_sub(span.start) as usize,
                    ),
                ));
            }
            for label in &diag.labels {
                if label.span.file == span.file {
                    labels.push(miette::LabeledSpan::new_with_span(
                        Some(label.message.clone()),
                        (
                            label.span.start as usize,
                            label.span.end.saturating_sub(label.span.start) as usize,
                        ),
                    ));
                } else {
                    help_lines.push(format!(
                        "{}: {}",
                        sources.location(label.span),
                        label.message
                    ));
                }
            }
        }
        MietteAdapter {
            message: diag.message.clone(),
            code: diag.code.as_str(),
            severity: match diag.severity {
                Severity::Error => miette::Severity::Error,
                Severity::Warning => miette::Severity::Warning,
            },
            help: (!help_lines.is_empty()).then(|| help_lines.join("\n")),
            source,
            labels,
        }
    }
}

impl fmt::Debug for MietteAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for MietteAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MietteAdapter {}

impl miette::Diagnostic for MietteAdapter {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h.as_str()) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            return None;
        }
        Some(Box::new(self.labels.iter().cloned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_all_listed() {
        let mut seen = std::collections::HashSet::new();
        for (code, _, _) in Code::ALL {
            assert!(
                seen.insert(code.as_str()),
                "duplicate code {}",
                code.as_str()
            );
        }
    }

    #[test]
    fn did_you_mean_finds_close_names() {
        assert_eq!(
            did_you_mean("regoin", ["region", "name"]),
            Some("region".into())
        );
        assert_eq!(did_you_mean("zzz", ["region", "name"]), None);
    }
}
