//! The schemas of resource types (RESOURCES.md) and of the top-level
//! blocks: which attributes and nested blocks each allows, their types,
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

const fn attr(name: &'static str, kind: Kind, required: bool, doc: &'static str) -> AttrSchema {
    AttrSchema {
        name,
        kind,
        required,
        doc,
    }
}

const fn out(name: &'static str, kind: Kind, doc: &'static str) -> AttrSchema {
    AttrSchema {
        name,
        kind,
        required: false,
        doc,
    }
}

const fn block(
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

/// Meta-arguments valid in every resource (LANGUAGE.md §5).
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

const TEST_BLOCK: BlockSchema = block(
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

pub const RESOURCE_TYPES: &[ResourceSchema] = &[
    ResourceSchema {
        type_name: "docker_image",
        doc: "An artifact built from a context directory and a Dockerfile, tagged imm/<name>:<fingerprint>. Reused, not rebuilt, when its fingerprint exists.",
        attrs: &[attr("name", Kind::String, false, "Image repository name: imm/<name>.")],
        blocks: &[
            block(
                "build",
                false,
                Phase::Build,
                &[
                    attr("context", Kind::String, true, "Build context directory, relative to the module. Every file in it (honouring .dockerignore) is part of the fingerprint."),
                    attr("dockerfile", Kind::String, false, "Dockerfile path relative to the context (default \"Dockerfile\")."),
                    attr("args", Kind::MapOfString, false, "Build arguments (build-time; part of the fingerprint)."),
                    attr("target", Kind::String, false, "Multi-stage build target."),
                ],
                "Build-time configuration: baked into the image and part of its fingerprint. May not depend on env.*, secrets or environment-set variables.",
            ),
            TEST_BLOCK,
        ],
        outs: &[
            out("id", Kind::String, "Image id (sha256:…), known after apply."),
            out("fingerprint", Kind::String, "Content hash of the build inputs (hex)."),
            out("tag", Kind::String, "imm/<name>:<first 12 of fingerprint>."),
        ],
    },
    ResourceSchema {
        type_name: "docker_network",
        doc: "A user-defined Docker network.",
        attrs: &[
            attr("name", Kind::String, false, "Network name (project and environment are added)."),
            attr("driver", Kind::String, false, "Network driver (default \"bridge\")."),
            attr("internal", Kind::Bool, false, "Restrict external access."),
        ],
        blocks: &[],
        outs: &[out("id", Kind::String, "Network id."), out("name", Kind::String, "Network name.")],
    },
    ResourceSchema {
        type_name: "docker_volume",
        doc: "A named volume. Outlives container replacements; usually lifecycle { prevent_destroy = true }.",
        attrs: &[attr("name", Kind::String, false, "Volume name (project and environment are added).")],
        blocks: &[],
        outs: &[out("name", Kind::String, "Volume name.")],
    },
    ResourceSchema {
        type_name: "docker_container",
        doc: "An instance of an image. Replaced blue/green: the new container joins the same aliases, passes health and tests, then the old one is removed.",
        attrs: &[
            attr("image", Kind::String, true, "Image id, usually docker_image.NAME.id."),
            attr("name", Kind::String, false, "Container name; index and a version suffix are added."),
            attr("command", Kind::ListOfString, false, "Command and arguments."),
            attr("restart", Kind::String, false, "Restart policy: no, on-failure, always or unless-stopped."),
            attr("ports", Kind::ListOfString, false, "Published ports [ip:]host:container[/proto]; without ip, 127.0.0.1. A container that publishes a host port is replaced stop-then-start."),
            attr("init", Kind::Bool, false, "Run Docker's init as PID 1 (default true), so the command gets signals and stops at once."),
            attr("stop_timeout", Kind::String, false, "How long a retired container may take to stop before it is killed (default \"10s\")."),
        ],
        blocks: &[
            block(
                "network",
                true,
                Phase::Deploy,
                &[
                    attr("name", Kind::String, true, "Network name, usually docker_network.NAME.name."),
                    attr("aliases", Kind::ListOfString, false, "Stable names other containers use."),
                ],
                "A network to join. Repeatable.",
            ),
            block(
                "mount",
                true,
                Phase::Deploy,
                &[
                    attr("volume", Kind::String, true, "Volume name, usually docker_volume.NAME.name."),
                    attr("target", Kind::String, true, "Path inside the container."),
                    attr("read_only", Kind::Bool, false, "Mount read-only."),
                ],
                "A volume mount. Repeatable.",
            ),
            block(
                "runtime",
                false,
                Phase::Runtime,
                &[
                    attr("env", Kind::MapOfString, false, "Environment variables (run-time: a change replaces the container from the same image)."),
                    attr("files", Kind::MapOfString, false, "Files copied into the container before it starts: path → content."),
                ],
                "Run-time configuration: environment-specific values applied at deploy time; never rebuilds the image.",
            ),
            block(
                "health",
                false,
                Phase::Deploy,
                &[
                    attr("command", Kind::ListOfString, true, "Health check command; exit 0 = healthy."),
                    attr("interval", Kind::String, false, "Time between checks, e.g. \"1s\"."),
                    attr("timeout", Kind::String, false, "Time one check may take."),
                    attr("retries", Kind::Number, false, "Failures before the container is unhealthy."),
                    attr("start_period", Kind::String, false, "Grace period after start."),
                ],
                "How to tell a new instance is up.",
            ),
            TEST_BLOCK,
        ],
        outs: &[
            out("id", Kind::String, "Container id."),
            out("name", Kind::String, "Container name."),
            out("ip", Kind::String, "Address on the first network."),
        ],
    },
    ResourceSchema {
        type_name: "config",
        doc: "A set of run-time values in a store, under <prefix>/<env>/<path>/<key>. A change is a new revision (~ reconfigure); no instance is touched.",
        attrs: &[
            attr("store", Kind::Any, false, "The store (store.NAME); the default store otherwise."),
            attr("path", Kind::String, false, "Path under the environment; defaults to the resource name."),
            attr("values", Kind::Any, true, "Key → value; strings as they are, other values JSON-encoded."),
        ],
        blocks: &[],
        outs: &[
            out("revision", Kind::Number, "The store's revision after the write."),
            out("keys", Kind::ListOfString, "The keys written."),
        ],
    },
    ResourceSchema {
        type_name: "file",
        doc: "A file on the local host, written atomically; often rendered with templatefile.",
        attrs: &[
            attr("path", Kind::String, true, "Path relative to the module."),
            attr("content", Kind::String, true, "File content."),
            attr("mode", Kind::String, false, "Octal permissions, e.g. \"0644\"."),
        ],
        blocks: &[],
        outs: &[out("sha256", Kind::String, "SHA-256 of the content.")],
    },
    ResourceSchema {
        type_name: "exec",
        doc: "Commands that create and destroy something imm has no executor for. build.inputs form the fingerprint.",
        attrs: &[
            attr("create", Kind::ListOfString, true, "Command that creates the object; the last stdout line may be a JSON object (outputs)."),
            attr("destroy", Kind::ListOfString, false, "Command that destroys it."),
            attr("working_dir", Kind::String, false, "Directory to run in, relative to the module."),
        ],
        blocks: &[
            block(
                "build",
                false,
                Phase::Build,
                &[attr("inputs", Kind::Any, false, "Values whose change replaces the object (the fingerprint).")],
                "Build-time inputs: their fingerprint decides replacement.",
            ),
            block(
                "runtime",
                false,
                Phase::Runtime,
                &[attr("env", Kind::MapOfString, false, "Environment variables for the commands.")],
                "Run-time configuration for the commands.",
            ),
        ],
        outs: &[
            out("outputs", Kind::Any, "The JSON object printed last by create, else {}."),
            out("id", Kind::String, "An id for the created object."),
        ],
    },
];

pub fn resource_type(name: &str) -> Option<&'static ResourceSchema> {
    RESOURCE_TYPES.iter().find(|r| r.type_name == name)
}

pub fn resource_type_names() -> impl Iterator<Item = &'static str> {
    RESOURCE_TYPES.iter().map(|r| r.type_name)
}

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
            attr("backend", Kind::String, true, "\"file\", \"etcd\" or \"consul\"."),
            attr("endpoints", Kind::ListOfString, false, "etcd endpoints (loopback URLs)."),
            attr("prefix", Kind::String, false, "Key prefix."),
            attr("path", Kind::String, false, "Directory of the file store."),
            attr("address", Kind::String, false, "Consul address."),
            attr("token", Kind::String, false, "Consul token."),
        ],
        false,
        "A run-time configuration store.",
    ),
    top(
        "state",
        &[],
        &[
            attr("backend", Kind::String, false, "\"local\" (default) or \"etcd\"."),
            attr("path", Kind::String, false, "Directory of local state files."),
            attr("endpoints", Kind::ListOfString, false, "etcd endpoints."),
            attr("prefix", Kind::String, false, "etcd key prefix."),
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
];

pub fn top_level(name: &str) -> Option<&'static TopLevelSchema> {
    TOP_LEVEL.iter().find(|t| t.name == name)
}

/// Reserved attributes of `environment` blocks, which are not `env.X` values.
pub const ENVIRONMENT_RESERVED: &[&str] = &["vars", "promote_from", "protected"];

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
