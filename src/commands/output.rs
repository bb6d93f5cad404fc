//! `imm output [NAME] [--json]`: the outputs recorded by the last apply.
//! Sensitive values print as `(sensitive)`: they were never stored.

use super::CommandResult;
use imm_lang::diagnostics::Code;
use imm_planner::state::StoredOutput;
use imm_stdlib::value::SENSITIVE_TEXT;
use imm_stdlib::Value;
use imm_workflow::state_site::StateSite;
use imm_workflow::{Error, Session};
use indexmap::IndexMap;
use std::path::Path;
use std::process::ExitCode;

pub fn run(dir: &Path, env: Option<&str>, name: Option<&str>, json: bool) -> CommandResult {
    let session = Session::new()?;
    let (site, environment) = StateSite::discover_env(dir, env, session.handle())?;
    let Some(recorded) = site.peek()? else {
        return Err(Error::new(
            Code::StateUnreadable,
            format!(
                "there is no state for environment \"{environment}\" in {}",
                dir.display()
            ),
            "run `imm apply` first, or give the DIR and --env of an applied project",
        ));
    };
    let outputs = recorded.outputs;
    let Some(name) = name else {
        if json {
            let doc: serde_json::Map<String, serde_json::Value> = outputs
                .iter()
                .map(|(k, o)| {
                    (
                        k.clone(),
                        serde_json::json!({ "value": json_value(o), "sensitive": o.sensitive }),
                    )
                })
                .collect();
            crate::report::out(&serde_json::to_string_pretty(&doc).unwrap_or_default());
        } else {
            print_outputs_human(&outputs);
        }
        return Ok(ExitCode::SUCCESS);
    };
    let Some(output) = outputs.get(name) else {
        let names: Vec<&str> = outputs.keys().map(String::as_str).collect();
        let help = match imm_lang::diagnostics::did_you_mean(name, names.iter().copied()) {
            Some(s) => format!("did you mean \"{s}\"?"),
            None => format!("the outputs are: {}", names.join(", ")),
        };
        return Err(Error::new(
            Code::UnknownAddress,
            format!("there is no output named \"{name}\""),
            help,
        ));
    };
    if json {
        crate::report::out(&serde_json::to_string(&json_value(output)).unwrap_or_default());
    } else {
        crate::report::out(&bare_value(output));
    }
    Ok(ExitCode::SUCCESS)
}

fn json_value(output: &StoredOutput) -> serde_json::Value {
    match (&output.value, output.sensitive) {
        (_, true) | (None, _) => serde_json::Value::String(SENSITIVE_TEXT.into()),
        (Some(v), false) => v.clone(),
    }
}

/// One output alone, for scripts: a string bare (no quotes), anything
/// else as the language writes it.
fn bare_value(output: &StoredOutput) -> String {
    match (&output.value, output.sensitive) {
        (Some(serde_json::Value::String(text)), false) => text.clone(),
        _ => human_value(output),
    }
}

fn human_value(output: &StoredOutput) -> String {
    match (&output.value, output.sensitive) {
        (Some(v), false) => Value::from_json(v).to_literal(),
        _ => SENSITIVE_TEXT.into(),
    }
}

/// `name = value` lines under an "Outputs:" heading.
pub fn print_outputs_human(outputs: &IndexMap<String, StoredOutput>) {
    if outputs.is_empty() {
        return;
    }
    crate::report::out("\nOutputs:\n");
    let width = outputs.keys().map(|k| k.chars().count()).max().unwrap_or(0);
    for (name, output) in outputs {
        crate::report::out(&format!("{name:width$} = {}", human_value(output)));
    }
}
