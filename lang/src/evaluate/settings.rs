//! What the workflow needs of an environment before anything else is
//! evaluated: its stores, where state lives, `protected` and `promote_from`.

use super::*;

/// The evaluated attributes of the root module's `store` blocks and its
/// `state` block, for one environment (they may use `env.*` and variables'
/// defaults are not available: they configure where imm reads from, before
/// anything else is evaluated).
#[derive(Debug, Default)]
pub struct Settings {
    pub stores: IndexMap<String, BTreeMap<String, Value>>,
    pub state: Option<BTreeMap<String, Value>>,
    /// The environment's `protected`, evaluated (any expression form).
    pub protected: bool,
    /// The environment's `promote_from`, evaluated.
    pub promote_from: Option<String>,
}

pub fn settings(project: &mut Project, environment: &str) -> (Settings, Diagnostics) {
    let mut diags = Diagnostics::default();
    let mut templates = TemplateCache::default();
    let root = &project.root;
    let sources = &mut project.sources;
    let env_value = environment_value(&root.decl, environment, sources, &mut templates, &mut diags);
    let mut ev = Evaluator::new(&root.dir, sources, &mut templates);
    ev.roots.insert("env".into(), env_value);
    let mut settings = Settings::default();
    let mut attributes = |ev: &mut Evaluator<'_>, block: &crate::syntax::ast::Block| {
        let mut values = BTreeMap::new();
        for attr in block.body.attributes() {
            match ev.eval(&attr.value) {
                Ok(v) => {
                    values.insert(attr.name.name.clone(), v);
                }
                Err(d) => diags.push(d),
            }
        }
        values
    };
    for (name, store) in &root.decl.stores {
        let values = attributes(&mut ev, &store.block);
        settings.stores.insert(name.clone(), values);
    }
    if let Some(state) = &root.decl.state {
        settings.state = Some(attributes(&mut ev, state));
    }
    if let Some(declared) = root.decl.environments.get(environment) {
        let mut policy = |name: &str, wanted: Type| {
            let attr = declared.attribute(name)?;
            let value = match ev.eval(&attr.value) {
                Ok(v) => v,
                Err(d) => {
                    diags.push(d);
                    return None;
                }
            };
            match convert(value.unmarked().clone(), &wanted) {
                Ok(v) if !v.is_null() && !v.contains_unknown() => Some(v),
                _ => {
                    diags.push(
                        Diagnostic::at(
                            Code::TypeMismatch,
                            attr.value.span,
                            format!(
                                "environment \"{environment}\": {name} must be a known {}",
                                wanted
                            ),
                        )
                        .with_help(format!(
                            "write {name} as a {} that needs no variable of this run",
                            wanted
                        )),
                    );
                    None
                }
            }
        };
        settings.protected = matches!(policy("protected", Type::Bool), Some(Value::Bool(true)));
        settings.promote_from = match policy("promote_from", Type::String) {
            Some(Value::String(source)) => Some(source),
            _ => None,
        };
    }
    (settings, diags)
}
