//! The schema model (attributes, nested blocks, phases) shared by every
//! resource type — each type's own schema lives in its module under
//! `types/` — and the schemas of the top-level blocks: which attributes and nested blocks each allows, their types,
//! whether they are required, whether they are build-time or run-time, and
//! their documentation (shown by `imm lsp` on hover).

use imm_stdlib::Type;

/// The type of an attribute, in a form that can live in a `const`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Number,
    Bool,
    ListOfString,
    MapOfString,
    /// Any value; also objects of mixed values (`config.values`).
    Any,
}

impl Kind {
    pub fn to_type(self) -> Type {
        match self {
            Kind::String => Type::String,
            Kind::Number => Type::Number,
            Kind::Bool => Type::Bool,
            Kind::ListOfString => Type::List(Box::new(Type::String)),
            Kind::MapOfString => Type::Map(Box::new(Type::String)),
            Kind::Any => Type::Any,
        }
    }
}

/// When a value is used: baked into an artifact, or applied at deploy time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Build,
    Runtime,
    /// Identity and wiring of the object itself (names, networks, ports).
    Deploy,
}

#[derive(Debug, Clone, Copy)]
pub struct AttrSchema {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub doc: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub struct BlockSchema {
    pub name: &'static str,
    pub repeatable: bool,
    pub phase: Phase,
    pub attrs: &'static [AttrSchema],
    /// Accepts attributes not listed (e.g. `locals`, `environment`).
    pub open: bool,
    pub doc: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub struct ResourceSchema {
    pub type_name: &'static str,
    pub doc: &'static str,
    pub attrs: &'static [AttrSchema],
    pub blocks: &'static [BlockSchema],
    /// Attributes known after the resource is created.
    pub outs: &'static [AttrSchema],
}

impl ResourceSchema {
    pub fn attr(&self, name: &str) -> Option<&'static AttrSchema> {
        self.attrs.iter().chain(META_ATTRS).find(|a| a.name == name)
    }

    pub fn block(&self, name: &str) -> Option<&'static BlockSchema> {
        self.blocks
            .iter()
            .chain(META_BLOCKS)
            .find(|b| b.name == name)
    }

    pub fn out(&self, name: &str) -> Option<&'static AttrSchema> {
        self.outs.iter().find(|a| a.name == name)
    }

    /// Every name a reference may follow `TYPE.NAME.` with.
    pub fn member_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.attrs
            .iter()
            .chain(self.outs)
            .map(|a| a.name)
            .chain(self.blocks.iter().map(|b| b.name))
    }
}

pub(crate) const fn attr(
    name: &'static str,
    kind: Kind,
    required: bool,
    doc: &'static str,
) -> AttrSchema {
    AttrSchema {
        name,
        kind,
        required,
        doc,
    }
}

pub(crate) const fn out(name: &'static str, kind: Kind, doc: &'static str) -> AttrSchema {
    AttrSchema {
        name,
        kind,
        required: false,
        doc,
    }
}

pub(crate) const fn block(
    name: &'static str,
    repeatable: bool,
    phase: Phase,
    attrs: &'static [AttrSchema],
    doc: &'static str,
) -> BlockSchema {
    BlockSchema {
        name,
        repeatable,
        phase,
        attrs,
        open: false,
        doc,
    }
}

/// Meta-arguments valid in every resource.
pub const META_ATTRS: &[AttrSchema] = &[
    attr("count", Kind::Number, false, "Number of identical instances, addressed TYPE.NAME[0..N-1]; count.index inside."),
    attr("for_each", Kind::Any, false, "A map or set of strings: one instance per key, addressed TYPE.NAME[\"key\"]; each.key and each.value inside."),
    attr("depends_on", Kind::Any, false, "Resources this one must wait for, when no reference says so."),
];

pub const META_BLOCKS: &[BlockSchema] = &[block(
    "lifecycle",
    false,
    Phase::Deploy,
    &[attr("prevent_destroy", Kind::Bool, false, "Any plan that would destroy or replace this resource is an error. Use for stateful things.")],
    "How the planner may treat this resource.",
)];

pub(crate) const TEST_BLOCK: BlockSchema = block(
    "test",
    true,
    Phase::Deploy,
    &[attr(
        "command",
        Kind::ListOfString,
        true,
        "Command to run; exit status 0 means the test passed.",
    )],
    "A check run against a new instance before it is accepted. Repeatable.",
);

/// A top-level block type: its labels and body schema.
#[derive(Debug, Clone, Copy)]
pub struct TopLevelSchema {
    pub name: &'static str,
    pub labels: &'static [&'static str],
    pub body: BlockSchema,
}

const fn top(
    name: &'static str,
    labels: &'static [&'static str],
    attrs: &'static [AttrSchema],
    open: bool,
    doc: &'static str,
) -> TopLevelSchema {
    TopLevelSchema {
        name,
        labels,
        body: BlockSchema {
            name,
            repeatable: true,
            phase: Phase::Deploy,
            attrs,
            open,
            doc,
        },
    }
}

pub const TOP_LEVEL: &[TopLevelSchema] = &[
    top(
        "variable",
        &["NAME"],
        &[
            attr("type", Kind::Any, false, "Type constraint: string, number, bool, any, list(T), map(T), set(T), object({...})."),
            attr("default", Kind::Any, false, "Value used when none is given."),
            attr("description", Kind::String, false, "What the variable is for."),
            attr("sensitive", Kind::Bool, false, "Never show or store the value in clear."),
            attr("nullable", Kind::Bool, false, "Whether null is an accepted value."),
        ],
        false,
        "An input, set by --var, --var-file, IMM_VAR_NAME or the environment's vars.",
    ),
    top("locals", &[], &[], true, "Named values, read as local.NAME."),
    top(
        "output",
        &["NAME"],
        &[
            attr("value", Kind::Any, true, "The value."),
            attr("description", Kind::String, false, "What the output is."),
            attr("sensitive", Kind::Bool, false, "Shown as (sensitive) and never stored in clear."),
        ],
        false,
        "A result, printed after apply and by imm output.",
    ),
    top(
        "environment",
        &["NAME"],
        &[
            attr("vars", Kind::Any, false, "Variable values for this environment."),
            attr("promote_from", Kind::String, false, "Only artifacts built and tested in that environment may be applied here."),
            attr("protected", Kind::Bool, false, "Apply needs --yes-really or an interactive confirmation."),
            attr("policy_dirs", Kind::ListOfString, false, "Directories (relative to the project) of *.imm files holding policy blocks, judged against every plan of this environment."),
        ],
        true,
        "A deployment environment, chosen with --env; its attributes are read as env.ATTR.",
    ),
    top(
        "secret",
        &["NAME"],
        &[attr("from", Kind::String, true, "\"env:VAR\", \"file:PATH\" or \"store:KEY\".")],
        false,
        "A sensitive run-time value, read as secret.NAME; never written to state, plans or output.",
    ),
    top(
        "store",
        &["NAME"],
        &[
            attr("backend", Kind::String, true, "\"file\", \"etcd\", \"consul\" or \"postgres\"."),
            attr("endpoints", Kind::ListOfString, false, "etcd endpoints; without it, ETCDCTL_ENDPOINTS (comma-separated), else http://127.0.0.1:2379."),
            attr("prefix", Kind::String, false, "Key prefix (default \"imm\")."),
            attr("path", Kind::String, false, "Directory of the file store (default .imm/store)."),
            attr("address", Kind::String, false, "Consul address; without it, CONSUL_HTTP_ADDR, else http://127.0.0.1:8500."),
            attr("token", Kind::String, false, "Consul token."),
            attr("conn_str", Kind::String, false, "PostgreSQL connection string, postgres://USER@HOST:PORT/DB (sslmode disable, prefer or require)."),
            attr("schema_name", Kind::String, false, "PostgreSQL schema of imm's tables (default \"imm\")."),
            attr("password", Kind::String, false, "PostgreSQL password, from a secret (secret.NAME with from = \"env:…\" or \"file:…\"); without it, PGPASSWORD."),
        ],
        false,
        "A run-time configuration store.",
    ),
    top(
        "engine",
        &["NAME"],
        &[attr("endpoints", Kind::ListOfString, true, "unix:///path, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT], tried in order (for a swarm: its managers).")],
        false,
        "A Docker Engine or Swarm that docker_* resources deploy to with engine = engine.NAME; may hold tls { ca, cert, key } and registry { address, insecure } blocks.",
    ),
    top(
        "registry",
        &["ADDRESS"],
        &[
            attr("username", Kind::String, false, "User name for the registry (with password)."),
            attr("password", Kind::String, false, "Password or token, from a secret (secret.NAME with from = \"env:…\" or \"file:…\"); never written to state, plans or output."),
            attr("insecure", Kind::Bool, false, "Reach it over plain HTTP although it is not on a loopback address (the engines must list it in insecure-registries too)."),
        ],
        false,
        "How imm reaches an image registry (\"registry.example.com\", \"10.0.0.2:5000\", \"docker.io\") when it locks and pulls off-the-shelf images: credentials, plain HTTP.",
    ),
    top(
        "state",
        &[],
        &[
            attr("backend", Kind::String, false, "\"local\" (default), \"etcd\" or \"postgres\"."),
            attr("path", Kind::String, false, "Directory of local state files."),
            attr("endpoints", Kind::ListOfString, false, "etcd endpoints."),
            attr("prefix", Kind::String, false, "etcd key prefix."),
            attr("conn_str", Kind::String, false, "PostgreSQL connection string, postgres://USER@HOST:PORT/DB (sslmode disable, prefer or require)."),
            attr("schema_name", Kind::String, false, "PostgreSQL schema of imm's tables (default \"imm\")."),
            attr("password", Kind::String, false, "PostgreSQL password, from a secret (secret.NAME with from = \"env:…\" or \"file:…\"); without it, PGPASSWORD."),
        ],
        false,
        "Where state is kept.",
    ),
    top(
        "module",
        &["NAME"],
        &[attr("source", Kind::String, true, "\"./dir\" or \"std/NAME\".")],
        true,
        "Instantiates another module; its other attributes set that module's variables.",
    ),
    top("resource", &["TYPE", "NAME"], &[], true, "A managed object."),
    top(
        "check",
        &["NAME"],
        &[],
        false,
        "Assertions about the infrastructure, reported as warnings by plan and apply and never blocking; holds assert { condition, error_message } blocks.",
    ),
    top(
        "policy",
        &["NAME"],
        &[attr("enforce", Kind::String, false, "\"mandatory\" (default: a failure fails imm plan and refuses imm apply unless --override-policy NAME) or \"advisory\" (a warning).")],
        false,
        "A rule over the whole plan (plan.changes, plan.environment); holds assert { condition, error_message } blocks.",
    ),
    top(
        "moved",
        &[],
        &[
            attr("from", Kind::Any, true, "The old address: TYPE.NAME, TYPE.NAME[KEY] or module.NAME, optionally inside module.NAME."),
            attr("to", Kind::Any, true, "The new address, declared in the configuration."),
        ],
        false,
        "A rename: the object recorded at `from` is kept and recorded at `to` (nothing is replaced).",
    ),
];

pub fn top_level(name: &str) -> Option<&'static TopLevelSchema> {
    TOP_LEVEL.iter().find(|t| t.name == name)
}

/// Reserved attributes of `environment` blocks, which are not `env.X` values.
pub const ENVIRONMENT_RESERVED: &[&str] = &["vars", "promote_from", "protected", "policy_dirs"];

pub const VALIDATION_BLOCK: BlockSchema = block(
    "validation",
    true,
    Phase::Deploy,
    &[
        attr(
            "condition",
            Kind::Bool,
            true,
            "Must be true for the value to be accepted; refers to var.NAME.",
        ),
        attr(
            "message",
            Kind::String,
            true,
            "Shown when the condition is false.",
        ),
    ],
    "A rule the variable's value must satisfy.",
);

const CONDITION_ATTRS: &[AttrSchema] = &[
    attr(
        "condition",
        Kind::Bool,
        true,
        "Must be true; an unknown value waits until it is known.",
    ),
    attr(
        "error_message",
        Kind::String,
        true,
        "Shown when the condition is false: say what is wrong and how to fix it.",
    ),
];

/// `precondition { condition  error_message }`: checked before a resource
/// is planned (or an output computed); a false one stops the plan.
pub const PRECONDITION_BLOCK: BlockSchema = block(
    "precondition",
    true,
    Phase::Deploy,
    CONDITION_ATTRS,
    "A condition checked before the resource is planned or the output computed; a false one stops the plan there.",
);

/// `postcondition { condition  error_message }`: checked once the object
/// exists (`self` is the resource with its out attributes).
pub const POSTCONDITION_BLOCK: BlockSchema = block(
    "postcondition",
    true,
    Phase::Deploy,
    CONDITION_ATTRS,
    "A condition on the object once it exists (self is the resource with its out attributes); a false one fails the apply, the object stays recorded.",
);

/// `assert { condition  error_message }` in `check` and `policy` blocks.
pub const ASSERT_BLOCK: BlockSchema = block(
    "assert",
    true,
    Phase::Deploy,
    CONDITION_ATTRS,
    "A condition that must be true; its error_message is reported when it is false.",
);

/// The blocks a nested block may itself hold (only `lifecycle`'s conditions).
pub fn inner_blocks(block_name: &str) -> &'static [&'static BlockSchema] {
    match block_name {
        "lifecycle" => &[&PRECONDITION_BLOCK, &POSTCONDITION_BLOCK],
        _ => &[],
    }
}
