//! A variable's final value: given or default, converted to its type,
//! nullable or not, and checked against its validation rules.

use super::*;

/// Applies the default, the type, nullability, sensitivity and validations.
pub(super) fn finish_variable(
    variable: &Variable,
    given: Option<Given>,
    mode: Mode,
    module_dir: &std::path::Path,
    sources: &mut SourceMap,
    templates: &mut TemplateCache,
    diags: &mut Diagnostics,
) -> Value {
    let name = &variable.name.name;
    let given = match given {
        Some(g) => Some(g),
        None => match &variable.default {
            Some(default) => {
                let mut ev = Evaluator::new(module_dir, sources, templates);
                match ev.eval(default) {
                    Ok(value) => Some(Given {
                        value,
                        span: Some(default.span),
                        origin: "its default".into(),
                    }),
                    Err(d) => {
                        diags.push(d);
                        None
                    }
                }
            }
            None => None,
        },
    };
    let Some(given) = given else {
        if mode == Mode::Plan {
            diags.push(
                Diagnostic::at(Code::MissingVariable, variable.name.span, format!("variable \"{name}\" has no value"))
                    .with_help(format!("pass --var {name}=VALUE, set IMM_VAR_{name}, set it in the environment's vars, or give it a default")),
            );
        }
        return mark(Value::Unknown(variable.ty.clone()), variable.sensitive);
    };
    if given.value.is_null() && !variable.nullable {
        diags.push(
            at_or_new(
                Code::TypeMismatch,
                given.span,
                format!(
                    "variable \"{name}\" must not be null (from {})",
                    given.origin
                ),
            )
            .with_help("give it a value, or remove nullable = false"),
        );
    }
    let value = match convert(given.value, &variable.ty) {
        Ok(v) => v,
        Err(e) => {
            diags.push(
                at_or_new(
                    Code::TypeMismatch,
                    given.span,
                    if variable.sensitive {
                        format!("variable \"{name}\" must be {} (from {}; the value is sensitive and not shown)", variable.ty, given.origin)
                    } else {
                        format!("variable \"{name}\" must be {}: {} (from {})", variable.ty, e.message, given.origin)
                    },
                )
                .with_label(variable.name.span, format!("declared as {}", variable.ty))
                .with_help(format!("give a value of type {}", variable.ty)),
            );
            Value::Unknown(variable.ty.clone())
        }
    };
    let value = mark(value, variable.sensitive);
    check_validations(variable, &value, module_dir, sources, templates, diags);
    value
}

pub(super) fn at_or_new(code: Code, span: Option<Span>, message: String) -> Diagnostic {
    match span {
        Some(s) => Diagnostic::at(code, s, message),
        None => Diagnostic::new(code, message),
    }
}

pub(super) fn check_validations(
    variable: &Variable,
    value: &Value,
    module_dir: &std::path::Path,
    sources: &mut SourceMap,
    templates: &mut TemplateCache,
    diags: &mut Diagnostics,
) {
    if value.contains_unknown() {
        return;
    }
    let mut ev = Evaluator::new(module_dir, sources, templates);
    let mut vars = BTreeMap::new();
    vars.insert(variable.name.name.clone(), value.clone());
    ev.roots.insert("var".into(), Value::Map(vars));
    for validation in &variable.validations {
        let ok = match ev.eval(&validation.condition) {
            Ok(v) => v.unmark_deep().0,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        match ok {
            Value::Bool(true) | Value::Unknown(_) => {}
            Value::Bool(false) => {
                let message = ev
                    .eval(&validation.message)
                    .map(|m| m.display())
                    .unwrap_or_else(|_| "the validation condition is false".into());
                diags.push(
                    Diagnostic::at(
                        Code::ValidationFailed,
                        validation.condition.span,
                        format!(
                            "invalid value for variable \"{}\": {message}",
                            variable.name.name
                        ),
                    )
                    .with_primary_label("this condition is false")
                    .with_help("pass a value that satisfies the condition")
                    .with_subject(format!("var.{}", variable.name.name)),
                );
            }
            other => diags.push(Diagnostic::at(
                Code::TypeMismatch,
                validation.condition.span,
                format!(
                    "a validation condition must be a bool, not a {}",
                    other.type_name()
                ),
            )),
        }
    }
}
