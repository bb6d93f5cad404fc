//! `secret` blocks: where a secret comes from (`env:`, `file:` read once
//! per run, `store:` read before evaluation), always marked sensitive.

use super::*;

impl Run<'_, '_> {
    /// `secret.*`: read in plan mode, unknown in validate mode; sensitive always.
    pub(super) fn secrets(
        &mut self,
        decl: &ModuleDecl,
        ev: &mut Evaluator<'_>,
    ) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        for (name, secret) in &decl.secrets {
            let Some(from) = secret.from.as_literal_string() else {
                self.diags.push(
                    Diagnostic::at(
                        Code::InvalidSecretSource,
                        secret.from.span,
                        "a secret's from must be a literal string",
                    )
                    .with_help("write from = \"env:VAR\", \"file:PATH\" or \"store:KEY\""),
                );
                continue;
            };
            let source = match parse_secret_source(from) {
                Ok(s) => s,
                Err(message) => {
                    self.diags.push(
                        Diagnostic::at(Code::InvalidSecretSource, secret.from.span, message)
                            .with_help("write from = \"env:VAR\", \"file:PATH\" or \"store:KEY\""),
                    );
                    continue;
                }
            };
            let value = match self.mode {
                Mode::Validate => Value::Unknown(Type::String),
                Mode::Plan => self.read_secret(name, &source, secret.from.span, &ev.module_dir),
            };
            out.insert(name.clone(), value.mark_sensitive());
        }
        out
    }

    pub(super) fn read_secret(
        &mut self,
        name: &str,
        source: &SecretSource,
        span: Span,
        module_dir: &std::path::Path,
    ) -> Value {
        match source {
            SecretSource::Env(var) => match self.inputs.process_env.get(var) {
                Some(v) => Value::string(v.clone()),
                None => {
                    self.diags.push(
                        Diagnostic::at(
                            Code::SecretUnavailable,
                            span,
                            format!("secret \"{name}\": the environment variable {var} is not set"),
                        )
                        .with_help(format!("export {var}=... before running imm")),
                    );
                    Value::Unknown(Type::String)
                }
            },
            SecretSource::File(path) => match self
                .inputs
                .reads
                .read(&module_dir.join(path))
                .and_then(|bytes| {
                    String::from_utf8(bytes.to_vec()).map_err(|_| {
                        std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text")
                    })
                }) {
                // A trailing newline is an editor's, not the secret's.
                Ok(text) => Value::string(text.strip_suffix('\n').unwrap_or(&text).to_string()),
                Err(e) => {
                    self.diags.push(
                        Diagnostic::at(
                            Code::SecretUnavailable,
                            span,
                            format!("secret \"{name}\": cannot read {path}: {}", e.kind()),
                        )
                        .with_help("create the file, or fix the path (relative to the module)"),
                    );
                    Value::Unknown(Type::String)
                }
            },
            SecretSource::Store(key) => match self.inputs.store_values.get(key) {
                Some(Ok(v)) => Value::string(v.clone()),
                Some(Err(problem)) => {
                    self.diags.push(
                        Diagnostic::at(
                            Code::SecretUnavailable,
                            span,
                            format!("secret \"{name}\": {problem}"),
                        )
                        .with_help("write the key to the default store (below <prefix>/<env>/), or check that the store is reachable"),
                    );
                    Value::Unknown(Type::String)
                }
                None if self.mode == Mode::Validate => Value::Unknown(Type::String),
                None => {
                    self.diags.push(
                        Diagnostic::at(
                            Code::SecretUnavailable,
                            span,
                            format!("secret \"{name}\": the store was not read"),
                        )
                        .with_help("this is a bug: plan and apply read store: secrets first"),
                    );
                    Value::Unknown(Type::String)
                }
            },
        }
    }
}

/// Where a secret's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    File(String),
    Store(String),
}

pub fn parse_secret_source(from: &str) -> Result<SecretSource, String> {
    let (kind, rest) = from
        .split_once(':')
        .ok_or_else(|| format!("\"{from}\" is not a secret source"))?;
    if rest.is_empty() {
        return Err(format!("\"{from}\" names no {kind}"));
    }
    match kind {
        "env" => Ok(SecretSource::Env(rest.to_string())),
        "file" => Ok(SecretSource::File(rest.to_string())),
        "store" => Ok(SecretSource::Store(rest.to_string())),
        other => Err(format!("\"{other}:\" is not a secret source kind")),
    }
}
