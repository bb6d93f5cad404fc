//! The generated parts of the user's reference, kept in sync with what
//! they describe: `docs/functions.md` from the function registry,
//! `docs/resources.md` from the resource-type schemas, `docs/cli.md` from
//! the binary's own `--help`. `IMM_BLESS=1 cargo test --test reference`
//! writes them again after a change.

mod common;

use common::subcommands;
use imm_lang::schema::{
    AttrSchema, BlockSchema, Phase, META_ATTRS, META_BLOCKS, TOP_LEVEL, VALIDATION_BLOCK,
};
use std::path::Path;
use std::process::Command;

/// Compares a generated document with the committed one (or writes it).
fn check_in_sync(relative: &str, expected: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    if std::env::var_os("IMM_BLESS").is_some() {
        std::fs::write(&path, expected).expect("write the generated document");
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "{relative} is out of date: run IMM_BLESS=1 cargo test --test reference"
    );
}

/// A table cell: pipes escaped, on one line.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn functions_doc() -> String {
    let mut doc = String::from(
        "# Functions\n\nEvery built-in function, generated from the registry \
         (`stdlib/src/functions/mod.rs`) by `tests/reference.rs`. They follow \
         Terraform's functions of the same names; a function of Terraform \
         not listed here does not exist in this version (`E0304` names the \
         closest one). `templatefile(path, vars)` reads a template relative \
         to the module's directory.\n\n| function | summary |\n|---|---|\n",
    );
    let mut functions: Vec<_> = imm_stdlib::FUNCTIONS.iter().collect();
    functions.sort_by_key(|f| f.name);
    for f in functions {
        doc.push_str(&format!(
            "| `{}` | {} |\n",
            cell(f.signature),
            cell(f.summary)
        ));
    }
    doc
}

fn attribute_rows(doc: &mut String, attrs: &[AttrSchema], with_required: bool) {
    if with_required {
        doc.push_str("| attribute | type | required | meaning |\n|---|---|---|---|\n");
    } else {
        doc.push_str("| attribute | type | meaning |\n|---|---|---|\n");
    }
    for a in attrs {
        let ty = a.kind.to_type();
        if with_required {
            let required = if a.required { "yes" } else { "" };
            doc.push_str(&format!(
                "| `{}` | `{ty}` | {required} | {} |\n",
                a.name,
                cell(a.doc)
            ));
        } else {
            doc.push_str(&format!("| `{}` | `{ty}` | {} |\n", a.name, cell(a.doc)));
        }
    }
}

/// A nested block; `of_resource` adds what its phase means.
fn block_section(doc: &mut String, block: &BlockSchema, of_resource: bool) {
    let repeat = if block.repeatable {
        "repeatable"
    } else {
        "at most once"
    };
    let phase = match (of_resource, block.phase) {
        (false, _) => "",
        (true, Phase::Build) => "; build-time: part of the artifact's fingerprint",
        (true, Phase::Runtime) => "; run-time: changes without a rebuild",
        (true, Phase::Deploy) => "; the object's identity and wiring",
    };
    doc.push_str(&format!(
        "### `{}` block ({repeat}{phase})\n\n{}\n\n",
        block.name, block.doc
    ));
    if !block.attrs.is_empty() {
        attribute_rows(doc, block.attrs, true);
        doc.push('\n');
    }
}

fn resources_doc() -> String {
    let mut doc = String::from(
        "# Resource types\n\nEvery resource type and its attributes, generated \
         from the schemas (`lang/src/types/`) by `tests/reference.rs`. A \
         change of a build-time attribute rebuilds the artifact; a change of \
         a run-time one replaces (or, with `reload`, reconfigures) what runs \
         from the same artifact; `docs/language.md` says how each type \
         behaves.\n\n## Every resource\n\n",
    );
    attribute_rows(&mut doc, META_ATTRS, true);
    doc.push('\n');
    for block in META_BLOCKS {
        block_section(&mut doc, block, false);
    }
    for schema in imm_lang::types::schemas() {
        doc.push_str(&format!("## `{}`\n\n{}\n\n", schema.type_name, schema.doc));
        if !schema.attrs.is_empty() {
            attribute_rows(&mut doc, schema.attrs, true);
            doc.push('\n');
        }
        for block in schema.blocks {
            block_section(&mut doc, block, true);
        }
        if !schema.outs.is_empty() {
            doc.push_str(&format!(
                "Known after apply (`{}.NAME.ATTRIBUTE`):\n\n",
                schema.type_name
            ));
            attribute_rows(&mut doc, schema.outs, false);
            doc.push('\n');
        }
    }
    doc.truncate(doc.trim_end().len());
    doc.push('\n');
    doc
}

fn blocks_doc() -> String {
    let mut doc = String::from(
        "# Blocks\n\nEvery top-level block of a `.imm` file and its attributes, \
         generated from the schema (`lang/src/schema.rs`) by \
         `tests/reference.rs`. `docs/language.md` says how they behave; \
         `docs/resources.md` lists what each `resource` type takes.\n\n",
    );
    for top in TOP_LEVEL {
        let labels: String = top.labels.iter().map(|l| format!(" \"{l}\"")).collect();
        doc.push_str(&format!(
            "## `{}{labels} {{ … }}`\n\n{}\n\n",
            top.name, top.body.doc
        ));
        if top.body.open {
            doc.push_str(match top.name {
                "locals" => "Any attribute: each is a named value.\n\n",
                "environment" => {
                    "Any other attribute is the environment's own value, read as `env.NAME`.\n\n"
                }
                "module" => "Any other attribute sets the module's variable of that name.\n\n",
                _ => "Its attributes are those of its type (`docs/resources.md`).\n\n",
            });
        }
        if !top.body.attrs.is_empty() {
            attribute_rows(&mut doc, top.body.attrs, true);
            doc.push('\n');
        }
        if top.name == "variable" {
            block_section(&mut doc, &VALIDATION_BLOCK, false);
        }
    }
    doc.truncate(doc.trim_end().len());
    doc.push('\n');
    doc
}

fn help(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_imm"))
        .args(args)
        .arg("--help")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .output()
        .expect("run imm --help");
    assert!(output.status.success(), "imm {args:?} --help");
    String::from_utf8_lossy(&output.stdout)
        .trim_end()
        .to_string()
}

fn cli_doc() -> String {
    let mut doc = String::from(
        "# Command line\n\nEvery command and its options, as `imm COMMAND --help` \
         prints them (generated by `tests/reference.rs`).\n\n\
         One convention for all: a command that works on a project takes its \
         directory as its last positional argument (default: the current \
         directory) and the environment as `--env` (default: `default` when \
         the project declares no environments; otherwise `--env` is required, \
         `E0404`; `imm console` alone evaluates in the first declared one and \
         says so, and in a directory without `.imm` files it evaluates \
         literals and functions). `imm -C DIR COMMAND` runs any command as if \
         started in DIR, paths included. `imm output NAME` prints the bare value \
         (a string without quotes); `--json` prints JSON.\n\n\
         Colour: imm colours what it prints only on a terminal, and never when \
         `--no-color` is given (to any command) or the environment variable \
         `NO_COLOR` is set to a non-empty value (no-color.org). JSON and \
         Markdown output never has colour.\n\n",
    );
    let top = help(&[]);
    doc.push_str(&format!("## imm\n\n```text\n{top}\n```\n\n"));
    for command in subcommands(&top) {
        let text = help(&[&command]);
        doc.push_str(&format!("## imm {command}\n\n```text\n{text}\n```\n\n"));
        for nested in subcommands(&text) {
            let text = help(&[&command, &nested]);
            doc.push_str(&format!(
                "### imm {command} {nested}\n\n```text\n{text}\n```\n\n"
            ));
        }
    }
    doc.truncate(doc.trim_end().len());
    doc.push('\n');
    doc
}

#[test]
fn the_function_reference_lists_every_function() {
    let doc = functions_doc();
    assert!(doc.contains("`templatefile("), "{doc}");
    check_in_sync("docs/functions.md", &doc);
}

#[test]
fn the_resource_reference_lists_every_type_and_attribute() {
    let doc = resources_doc();
    for name in imm_lang::types::names() {
        assert!(doc.contains(&format!("## `{name}`")), "{name}");
    }
    check_in_sync("docs/resources.md", &doc);
}

#[test]
fn the_block_reference_lists_every_top_level_block() {
    let doc = blocks_doc();
    for name in ["store", "secret", "environment", "state", "config"] {
        assert!(doc.contains(name), "{name}");
    }
    check_in_sync("docs/blocks.md", &doc);
}

#[test]
fn the_cli_reference_is_what_the_binary_prints() {
    let doc = cli_doc();
    assert!(doc.contains("## imm config\n") && doc.contains("### imm config rollback"));
    check_in_sync("docs/cli.md", &doc);
}
