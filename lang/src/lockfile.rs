//! `imm.lock.hcl`, at the project's root: the digest each off-the-shelf
//! image's tag named when it was locked. It is committed beside the
//! `.imm` files (as Terraform's `.terraform.lock.hcl`), so every plan, in
//! every environment and on every machine, runs the same image until
//! `imm lock --upgrade` moves a tag on purpose.
//!
//! ```hcl
//! image "redis:7.2" {
//!   digest = "sha256:…"
//! }
//! ```
//!
//! It is read with the language's own parser; a problem in it is a
//! diagnostic at its line, like any `.imm` file's.

use crate::diagnostics::{Code, Diagnostic};
use crate::source::SourceMap;
use crate::syntax::{self, ast::Item};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "imm.lock.hcl";

/// The locked images, by the image name as the configuration writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockFile {
    pub images: BTreeMap<String, String>,
}

impl LockFile {
    /// The lock file of the project in `dir`; none yet is an empty lock.
    /// Its text is added to `sources`, so a diagnostic points into it.
    pub fn read(dir: &Path, sources: &mut SourceMap) -> Result<LockFile, Vec<Diagnostic>> {
        let path = dir.join(FILE_NAME);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LockFile::default()),
            Err(e) => {
                return Err(vec![Diagnostic::new(
                    Code::LockFileInvalid,
                    format!("cannot read {}: {e}", path.display()),
                )
                .with_help(
                    "check the file's permissions, or delete it and run imm lock",
                )])
            }
        };
        LockFile::parse(path, &text, sources)
    }

    /// Reads the text of a lock file.
    pub fn parse(
        path: PathBuf,
        text: &str,
        sources: &mut SourceMap,
    ) -> Result<LockFile, Vec<Diagnostic>> {
        let file = sources.add(path, text.to_string());
        let parsed = syntax::parse_file(file, text);
        if !parsed.diagnostics.is_empty() {
            return Err(parsed.diagnostics);
        }
        let mut lock = LockFile::default();
        let mut problems = Vec::new();
        for item in parsed.body.items {
            let Item::Block(block) = item else {
                problems.push(invalid(
                    item_span(&item),
                    "only image blocks belong in the lock file",
                ));
                continue;
            };
            let [name] = block.labels.as_slice() else {
                problems.push(invalid(
                    block.kind.span,
                    "write image \"NAME\" { digest = \"sha256:...\" }",
                ));
                continue;
            };
            if block.kind.name != "image" {
                problems.push(invalid(
                    block.kind.span,
                    "only image blocks belong in the lock file",
                ));
                continue;
            }
            let digest = block.body.items.iter().find_map(|item| match item {
                Item::Attribute(a) if a.name.name == "digest" => Some(a),
                _ => None,
            });
            match digest.and_then(|a| a.value.as_literal_string()) {
                Some(digest) if is_sha256(digest) => {
                    lock.images.insert(name.name.clone(), digest.to_string());
                }
                _ => problems.push(invalid(
                    block.kind.span,
                    &format!(
                        "the image \"{}\" has no digest = \"sha256:<64 hex digits>\"",
                        name.name
                    ),
                )),
            }
        }
        if problems.is_empty() {
            Ok(lock)
        } else {
            Err(problems)
        }
    }

    /// The file's text, in `imm fmt`'s layout, images in name order.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# The digest each image tag named when it was locked. Written by imm;\n\
             # commit it. `imm lock --upgrade` moves tags to what they name now.\n",
        );
        for (name, digest) in &self.images {
            out.push_str(&format!(
                "\nimage {} {{\n  digest = \"{digest}\"\n}}\n",
                imm_stdlib::value::quote_string(name)
            ));
        }
        out
    }
}

fn item_span(item: &Item) -> crate::source::Span {
    match item {
        Item::Attribute(a) => a.span,
        Item::Block(b) => b.span,
    }
}

fn invalid(span: crate::source::Span, message: &str) -> Diagnostic {
    Diagnostic::at(Code::LockFileInvalid, span, message.to_string())
        .with_help("fix the line shown, or delete imm.lock.hcl and run imm lock")
}

/// `sha256:` and 64 lowercase hex digits.
pub fn is_sha256(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    #[test]
    fn a_rendered_lock_reads_back_the_same() {
        let mut lock = LockFile::default();
        lock.images.insert("redis:7.2".into(), digest('a'));
        lock.images
            .insert("127.0.0.1:5000/team/app:1".into(), digest('b'));
        let text = lock.render();
        let read = LockFile::parse("imm.lock.hcl".into(), &text, &mut SourceMap::default());
        assert_eq!(read, Ok(lock));
        assert!(
            text.contains("image \"redis:7.2\" {\n  digest = \"sha256:aaaa"),
            "{text}"
        );
    }

    #[test]
    fn a_malformed_lock_is_a_diagnostic_at_its_line() {
        let mut sources = SourceMap::default();
        for text in [
            "image \"redis:7\" {\n  digest = \"md5:1\"\n}\n",
            "image {\n}\n",
            "provider \"x\" {\n}\n",
            "digest = 1\n",
            "image \"redis:7\" {\n",
        ] {
            let problems =
                LockFile::parse("imm.lock.hcl".into(), text, &mut sources).expect_err(text);
            assert!(
                problems.iter().all(|d| d.span.is_some()),
                "{text}: {problems:?}"
            );
        }
    }
}
