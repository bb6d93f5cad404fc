//! Where variable values come from, in rising priority: the environment's
//! `vars`, `--var-file` files (read once per run), `IMM_VAR_NAME`, `--var`.

use super::*;

/// A variable value and where it came from (for error messages).
pub(super) struct Given {
    pub(super) value: Value,
    pub(super) span: Option<Span>,
    pub(super) origin: String,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn root_variable_values(
    root: &ModuleNode,
    environment: &str,
    inputs: &Inputs,
    mode: Mode,
    sources: &mut SourceMap,
    templates: &mut TemplateCache,
    diags: &mut Diagnostics,
) -> HashMap<String, Value> {
    let decl = &root.decl;
    let mut given: HashMap<String, Given> = HashMap::new();
    // Rising priority: environment < var-file < IMM_VAR_ < --var.
    if let Some(env) = decl.environments.get(environment) {
        if let Some(vars) = env.attribute("vars") {
            environment_vars(
                vars,
                environment,
                decl,
                sources,
                templates,
                diags,
                &mut given,
            );
        }
    }
    for file in &inputs.var_files {
        var_file_values(file, inputs, decl, sources, templates, diags, &mut given);
    }
    for (name, text) in &inputs.process_vars {
        // Unknown IMM_VAR_ names are ignored: the environment is shared.
        if let Some(variable) = decl.variables.get(name) {
            let origin = format!("IMM_VAR_{name}");
            if let Some(value) = parse_raw_value(text, variable, &origin, sources, templates, diags)
            {
                given.insert(
                    name.clone(),
                    Given {
                        value,
                        span: None,
                        origin,
                    },
                );
            }
        }
    }
    for (name, text) in &inputs.cli_vars {
        let Some(variable) = decl.variables.get(name) else {
            let d = Diagnostic::new(
                Code::InvalidVariableValue,
                format!("--var {name}: there is no variable named \"{name}\""),
            );
            diags.push(
                match did_you_mean(name, decl.variables.keys().map(String::as_str)) {
                    Some(s) => d.with_help(format!("did you mean --var {s}=...?")),
                    None => d.with_help("declare it with a variable block, or remove the --var"),
                },
            );
            continue;
        };
        let origin = format!("--var {name}");
        if let Some(value) = parse_raw_value(text, variable, &origin, sources, templates, diags) {
            given.insert(
                name.clone(),
                Given {
                    value,
                    span: None,
                    origin,
                },
            );
        }
    }
    let mut values = HashMap::new();
    for (name, variable) in &decl.variables {
        let value = finish_variable(
            variable,
            given.remove(name),
            mode,
            &root.dir,
            sources,
            templates,
            diags,
        );
        values.insert(name.clone(), value);
    }
    values
}

pub(super) fn environment_vars(
    vars: &Attribute,
    environment: &str,
    decl: &ModuleDecl,
    sources: &mut SourceMap,
    templates: &mut TemplateCache,
    diags: &mut Diagnostics,
    given: &mut HashMap<String, Given>,
) {
    let ExprKind::Object(items) = &vars.value.kind else {
        diags.push(
            Diagnostic::at(
                Code::TypeMismatch,
                vars.value.span,
                "vars must be an object of variable values",
            )
            .with_help("write vars = { NAME = VALUE, ... }"),
        );
        return;
    };
    let mut ev = Evaluator::new(std::path::Path::new("."), sources, templates);
    for (key, expr) in items {
        let ObjectKey::Name(ident) = key else {
            diags.push(
                Diagnostic::at(
                    Code::TypeMismatch,
                    expr.span,
                    "variable names in vars are written bare",
                )
                .with_help("write NAME = VALUE"),
            );
            continue;
        };
        if !decl.variables.contains_key(&ident.name) {
            let d = Diagnostic::at(
                Code::UnknownName,
                ident.span,
                format!(
                    "environment \"{environment}\" sets \"{}\", which is not a declared variable",
                    ident.name
                ),
            );
            diags.push(
                match did_you_mean(&ident.name, decl.variables.keys().map(String::as_str)) {
                    Some(s) => d.with_help(format!("did you mean \"{s}\"?")),
                    None => d.with_help("declare it with a variable block, or remove it from vars"),
                },
            );
            continue;
        }
        match ev.eval(expr) {
            Ok(value) => {
                given.insert(
                    ident.name.clone(),
                    Given {
                        value,
                        span: Some(expr.span),
                        origin: format!("environment \"{environment}\""),
                    },
                );
            }
            Err(d) => diags.push(d),
        }
    }
}

pub(super) fn var_file_values(
    file: &std::path::Path,
    inputs: &Inputs,
    decl: &ModuleDecl,
    sources: &mut SourceMap,
    templates: &mut TemplateCache,
    diags: &mut Diagnostics,
    given: &mut HashMap<String, Given>,
) {
    let mut file_diags = Diagnostics::default();
    let Some(id) = inputs.reads.read_source(file, sources, &mut file_diags) else {
        for d in file_diags.0 {
            diags.push(Diagnostic {
                code: Code::InvalidVariableValue,
                ..d
            });
        }
        return;
    };
    let text = sources.get(id).map(|f| f.text.clone()).unwrap_or_default();
    let parsed = syntax::parse_file(id, &text);
    if !parsed.diagnostics.is_empty() {
        diags.extend(parsed.diagnostics);
        return;
    }
    let mut ev = Evaluator::new(std::path::Path::new("."), sources, templates);
    for item in &parsed.body.items {
        let Item::Attribute(attr) = item else {
            if let Item::Block(b) = item {
                diags.push(
                    Diagnostic::at(
                        Code::InvalidVariableValue,
                        b.kind.span,
                        "a variable file holds only NAME = VALUE lines",
                    )
                    .with_help("remove the block"),
                );
            }
            continue;
        };
        if !decl.variables.contains_key(&attr.name.name) {
            let d = Diagnostic::at(
                Code::InvalidVariableValue,
                attr.name.span,
                format!("there is no variable named \"{}\"", attr.name.name),
            );
            diags.push(
                match did_you_mean(&attr.name.name, decl.variables.keys().map(String::as_str)) {
                    Some(s) => d.with_help(format!("did you mean \"{s}\"?")),
                    None => d.with_help("remove the line, or declare the variable"),
                },
            );
            continue;
        }
        match ev.eval(&attr.value) {
            Ok(value) => {
                given.insert(
                    attr.name.name.clone(),
                    Given {
                        value,
                        span: Some(attr.value.span),
                        origin: format!("{}", file.display()),
                    },
                );
            }
            Err(d) => diags.push(d),
        }
    }
}

/// `--var x=VALUE`: a string variable takes the text as it is; any other
/// type reads it as an expression (`[1, 2]`, `{a = 1}`, `true`).
pub(super) fn parse_raw_value(
    text: &str,
    variable: &Variable,
    origin: &str,
    sources: &mut SourceMap,
    templates: &mut TemplateCache,
    diags: &mut Diagnostics,
) -> Option<Value> {
    if matches!(variable.ty, Type::String) {
        return Some(Value::string(text));
    }
    let id = sources.add(PathBuf::from(format!("<{origin}>")), text.to_string());
    let parsed = syntax::parse_expression(id, text).and_then(|expr| {
        // A value given from outside is a literal: `abc` is not a reference.
        if let Some(r) = references(&expr).into_iter().next() {
            return Err(Diagnostic::at(
                Code::InvalidVariableValue,
                r.span,
                format!("\"{}\" is a name, not a value", r.root),
            ));
        }
        let mut ev = Evaluator::new(std::path::Path::new("."), sources, templates);
        ev.eval(&expr)
    });
    match parsed {
        Ok(v) => Some(v),
        Err(_) if matches!(variable.ty, Type::Any) => Some(Value::string(text)),
        Err(d) => {
            diags.push(
                Diagnostic::new(
                    Code::InvalidVariableValue,
                    if variable.sensitive {
                        format!(
                            "{origin}: the value is not a valid {} (it is sensitive and not shown)",
                            variable.ty
                        )
                    } else {
                        format!(
                            "{origin}: \"{text}\" is not a valid {} value: {}",
                            variable.ty, d.message
                        )
                    },
                )
                .with_help(format!(
                    "write the value as the type {} expects, e.g. --var '{}={}'",
                    variable.ty,
                    variable.name.name,
                    example_of(&variable.ty)
                )),
            );
            None
        }
    }
}

/// A literal of the type, for help texts.
pub(super) fn example_of(ty: &Type) -> &'static str {
    match ty {
        Type::Number => "3",
        Type::Bool => "true",
        Type::List(_) | Type::Set(_) | Type::Tuple(_) => "[\"a\", \"b\"]",
        Type::Map(_) | Type::Object(_) => "{ key = \"value\" }",
        Type::String | Type::Any => "text",
    }
}
