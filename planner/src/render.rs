//! The plan rendered three ways from the one model:
//! for a person at a terminal, as JSON for tools, and as Markdown for a
//! pull-request comment. Values come from the plan's redacted JSON, so a
//! sensitive value cannot appear here whatever the renderer does.

use crate::plan::{Action, Change, OutputChange, Plan};
pub use crate::stored::at_path;
use serde_json::Value as Json;
use similar::{ChangeTag, TextDiff};
use std::fmt::Write as _;

/// GitHub refuses comments over 65,536 characters; stay well under.
pub const MARKDOWN_BUDGET: usize = 60_000;

/// Whether a change belongs in a section.
type Belongs = fn(&Change) -> bool;

/// The sections of a plan, in the order a reviewer reads them.
const SECTIONS: &[(&str, Belongs)] = &[
    ("Build", |c| {
        c.artifact && !c.reuse && matches!(c.action, Action::Create | Action::Replace)
    }),
    ("Reuse", |c| {
        c.artifact && c.reuse && matches!(c.action, Action::Create | Action::Replace)
    }),
    ("Replace", |c| !c.artifact && c.action == Action::Replace),
    ("Create", |c| !c.artifact && c.action == Action::Create),
    ("Reconfigure", |c| c.action == Action::Reconfigure),
    ("Destroy", |c| c.action == Action::Destroy),
    ("Move", |c| {
        c.action == Action::Noop && c.moved_from.is_some()
    }),
];

struct Paint {
    color: bool,
}

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn action(&self, change: &Change) -> String {
        let symbol = symbol(change);
        let code = match change.action {
            Action::Create => "32",
            Action::Replace => "33",
            Action::Reconfigure => "36",
            Action::Destroy => "31",
            Action::Noop => "0",
        };
        self.wrap(code, &format!("{symbol:<3}"))
    }
    fn bold(&self, text: &str) -> String {
        self.wrap("1", text)
    }
    fn dim(&self, text: &str) -> String {
        self.wrap("2", text)
    }
    fn line_tag(&self, tag: ChangeTag, text: &str) -> String {
        match tag {
            ChangeTag::Delete => self.wrap("31", text),
            ChangeTag::Insert => self.wrap("32", text),
            ChangeTag::Equal => text.to_string(),
        }
    }
}

fn symbol(change: &Change) -> &'static str {
    if change.action == Action::Noop && change.moved_from.is_some() {
        "→"
    } else if change.stop_first {
        "-/+"
    } else {
        change.action.symbol()
    }
}

/// The plan for a terminal (`color` when stdout is one and `NO_COLOR` is
/// unset).
pub fn human(plan: &Plan, color: bool) -> String {
    let paint = Paint { color };
    let mut out = String::new();
    let _ = writeln!(out, "{}", header(plan));
    for (title, belongs) in SECTIONS {
        let members: Vec<&Change> = plan.changes.iter().filter(|c| belongs(c)).collect();
        if members.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "\n{}",
            paint.bold(&format!("{title} ({})", members.len()))
        );
        for change in members {
            let reason = change.reasons.join("; ");
            let _ = writeln!(
                out,
                "  {} {}{}",
                paint.action(change),
                paint.bold(&change.address),
                if reason.is_empty() || change.action == Action::Create {
                    String::new()
                } else {
                    format!("  {}", paint.dim(&reason))
                }
            );
            if let Some(from) = &change.moved_from {
                let _ = writeln!(
                    out,
                    "        {}",
                    paint.wrap("36", &format!("→ moved from {from}"))
                );
            }
            for note in &change.notes {
                let _ = writeln!(
                    out,
                    "        {}",
                    paint.wrap("36", &format!("note: {note}"))
                );
            }
            for line in value_lines(change) {
                let _ = writeln!(out, "        {}", paint.line_tag(line.tag, &line.text));
            }
        }
    }
    let outputs: Vec<&OutputChange> = plan
        .outputs
        .iter()
        .filter(|o| o.action != Action::Noop)
        .collect();
    if !outputs.is_empty() {
        let _ = writeln!(out, "\n{}", paint.bold("Outputs"));
        for output in outputs {
            let _ = writeln!(out, "  {}", output_line(output));
        }
    }
    for warning in &plan.warnings {
        let _ = writeln!(out, "\n{} {warning}", paint.wrap("33", "warning:"));
    }
    if !plan.policies.is_empty() {
        let _ = writeln!(out, "\n{}", paint.bold("Policies"));
        for policy in &plan.policies {
            let colour = match policy.status.as_str() {
                "pass" => "32",
                _ if policy.blocks() => "31",
                _ => "33",
            };
            let _ = writeln!(out, "  {}", paint.wrap(colour, &policy.line()));
        }
    }
    if plan.summary.noop > 0 {
        let _ = writeln!(out, "\n{} unchanged.", plan.summary.noop);
    }
    let _ = writeln!(
        out,
        "\n{}",
        if plan.summary.has_changes() {
            paint.bold(&plan.summary.line(&plan.changes))
        } else {
            paint.bold("No changes. The infrastructure matches the configuration.")
        }
    );
    out
}

fn header(plan: &Plan) -> String {
    let state = match &plan.state.lineage {
        Some(lineage) => format!(
            "state serial {} (lineage {})",
            plan.state.serial,
            lineage.get(..8).unwrap_or(lineage)
        ),
        None => "no state yet".to_string(),
    };
    format!("imm plan for environment \"{}\", {state}", plan.environment)
}

fn output_line(output: &OutputChange) -> String {
    let show = |v: &Option<Json>| v.as_ref().map(inline).unwrap_or_default();
    match output.action {
        Action::Create => format!("+ {} = {}", output.name, show(&output.after)),
        Action::Destroy => format!("- {}", output.name),
        _ => format!(
            "~ {}: {} → {}",
            output.name,
            show(&output.before),
            show(&output.after)
        ),
    }
}

/// One line of a value diff, with how it changed.
pub struct DiffLine {
    pub tag: ChangeTag,
    pub text: String,
}

fn line(tag: ChangeTag, text: String) -> DiffLine {
    DiffLine { tag, text }
}

/// What a reviewer needs to see of one change: for a create, its values;
/// for a replace or reconfigure, each changed path; for a destroy, nothing.
pub fn value_lines(change: &Change) -> Vec<DiffLine> {
    value_lines_in(change, false)
}

/// With `split`, a changed value is a `-` line and a `+` line (for a
/// Markdown diff block, which colours by the first character).
fn value_lines_in(change: &Change, split: bool) -> Vec<DiffLine> {
    match change.action {
        Action::Create => {
            let mut lines = Vec::new();
            if let Some(after) = &change.after {
                leaves(after, &mut String::new(), &mut |path, value| {
                    lines.extend(assignment_lines(ChangeTag::Insert, path, value));
                });
            }
            lines
        }
        Action::Replace | Action::Reconfigure => {
            let mut lines = Vec::new();
            for path in &change.changed {
                let before = change.before.as_ref().and_then(|b| at_path(b, path));
                let after = change.after.as_ref().and_then(|a| at_path(a, path));
                lines.extend(path_diff(path, before, after, split));
            }
            lines
        }
        Action::Destroy | Action::Noop => Vec::new(),
    }
}

fn path_diff(
    path: &str,
    before: Option<&Json>,
    after: Option<&Json>,
    split: bool,
) -> Vec<DiffLine> {
    match (before, after) {
        (Some(Json::String(old)), Some(Json::String(new)))
            if (old.contains('\n') || new.contains('\n'))
                && old != new
                && old != crate::stored::UNKNOWN_TEXT
                && new != crate::stored::UNKNOWN_TEXT =>
        {
            let mut lines = vec![line(ChangeTag::Equal, format!("{path}:"))];
            let diff = TextDiff::from_lines(old.as_str(), new.as_str());
            for group in diff.grouped_ops(2) {
                for op in group {
                    for change in diff.iter_changes(&op) {
                        let sign = match change.tag() {
                            ChangeTag::Delete => "-",
                            ChangeTag::Insert => "+",
                            ChangeTag::Equal => " ",
                        };
                        let text = change.value().trim_end_matches('\n');
                        lines.push(line(change.tag(), format!("  {sign} {text}")));
                    }
                }
            }
            lines
        }
        (Some(old), Some(new)) if split => {
            let mut lines = assignment_lines(ChangeTag::Delete, path, old);
            let mut after = assignment_lines(ChangeTag::Insert, path, new);
            if old == new {
                // Equal as shown: a sensitive value whose hash changed.
                after
                    .iter_mut()
                    .for_each(|l| l.text.push_str(SECRET_CHANGED));
            }
            lines.append(&mut after);
            lines
        }
        (Some(old), Some(new)) if old == new => {
            // Equal as shown: a sensitive value whose hash changed.
            vec![line(
                ChangeTag::Equal,
                format!("~ {path}: {}{SECRET_CHANGED}", inline(new)),
            )]
        }
        (Some(old), Some(new)) => vec![line(
            ChangeTag::Equal,
            format!("~ {path}: {} → {}", inline(old), inline(new)),
        )],
        (None, Some(new)) => assignment_lines(ChangeTag::Insert, path, new),
        (Some(old), None) => assignment_lines(ChangeTag::Delete, path, old),
        (None, None) => vec![line(ChangeTag::Equal, format!("~ {path}"))],
    }
}

/// After a value that reads the same as before: what changed is a secret.
const SECRET_CHANGED: &str = " (a sensitive value changed)";

fn assignment_lines(tag: ChangeTag, path: &str, value: &Json) -> Vec<DiffLine> {
    let sign = if tag == ChangeTag::Delete { "-" } else { "+" };
    match value {
        Json::String(s) if s.contains('\n') => {
            let mut lines = vec![line(tag, format!("{sign} {path}: <<"))];
            lines.extend(s.lines().map(|l| line(tag, format!("{sign}   {l}"))));
            lines
        }
        other => vec![line(tag, format!("{sign} {path} = {}", inline(other)))],
    }
}

fn is_marker(text: &str) -> bool {
    text == crate::stored::SENSITIVE_TEXT || text == crate::stored::UNKNOWN_TEXT
}

/// A value on one line; the markers for sensitive and unknown values bare,
/// a multi-line string by its size.
fn inline(value: &Json) -> String {
    match value {
        Json::String(s) if is_marker(s) => s.clone(),
        Json::String(s) if s.contains('\n') => format!("({} lines)", s.lines().count()),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// Calls `visit` with every leaf (an empty map or list counts as one).
fn leaves(value: &Json, path: &mut String, visit: &mut dyn FnMut(&str, &Json)) {
    match value {
        Json::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let len = path.len();
                crate::stored::push_key(path, k);
                leaves(v, path, visit);
                path.truncate(len);
            }
        }
        Json::Array(items) if !items.is_empty() && items.iter().any(|i| i.is_object()) => {
            for (i, v) in items.iter().enumerate() {
                let len = path.len();
                crate::stored::push_index(path, i);
                leaves(v, path, visit);
                path.truncate(len);
            }
        }
        Json::Null if !path.contains(['.', '[']) => {}
        other => visit(path, other),
    }
}

/// The plan as JSON (documented in docs/plan-json.md).
pub fn json(plan: &Plan) -> String {
    let mut text = serde_json::to_string_pretty(plan).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}

/// The plan as a pull-request comment: the summary first, a table of the
/// changes, the value diffs folded; under [`MARKDOWN_BUDGET`] characters,
/// saying what was left out.
pub fn markdown(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### imm plan: `{}`\n", plan.environment);
    let summary = if plan.summary.has_changes() {
        plan.summary.line(&plan.changes)
    } else {
        "No changes. The infrastructure matches the configuration.".to_string()
    };
    let _ = writeln!(out, "**{summary}**\n");
    for warning in &plan.warnings {
        let _ = writeln!(out, "> **Warning:** {}\n", escape_cell(warning));
    }
    if !plan.policies.is_empty() {
        out.push_str("| policy | enforce | result |\n|---|---|---|\n");
        for policy in &plan.policies {
            let result = match (policy.status.as_str(), policy.messages.is_empty()) {
                ("pass", _) | (_, true) => format!("**{}**", policy.status),
                (status, false) => format!("**{status}**: {}", policy.messages.join("; ")),
            };
            let _ = writeln!(
                out,
                "| `{}` | {} | {} |",
                policy.name,
                policy.enforce,
                escape_cell(&result)
            );
        }
        out.push('\n');
    }
    let changed: Vec<&Change> = SECTIONS
        .iter()
        .flat_map(|(_, belongs)| plan.changes.iter().filter(move |c| belongs(c)))
        .collect();
    if changed.is_empty() {
        return out;
    }
    // The table gets two thirds of the budget, the diffs the rest.
    let table_budget = MARKDOWN_BUDGET * 2 / 3;
    out.push_str("| | address | reason |\n|---|---|---|\n");
    let mut shown = 0;
    for change in &changed {
        let row = format!(
            "| `{}` | `{}` | {} |\n",
            symbol(change),
            change.address,
            escape_cell(&row_reason(change))
        );
        if out.len() + row.len() > table_budget {
            break;
        }
        out.push_str(&row);
        shown += 1;
    }
    if shown < changed.len() {
        let _ = writeln!(
            out,
            "\n*{} more changes are not listed, to keep this comment under {} characters: run `imm plan` or `imm show PLANFILE` for the whole plan.*",
            changed.len() - shown,
            MARKDOWN_BUDGET
        );
    }
    let closing = "\n</details>\n";
    let mut details = String::from("\n<details><summary>Changed values</summary>\n\n");
    let mut detailed = 0;
    for change in &changed {
        let lines = value_lines_in(change, true);
        if lines.is_empty() {
            detailed += 1;
            continue;
        }
        let mut block = format!("`{}`\n```diff\n", change.address);
        for l in lines {
            block.push_str(&diff_prefixed(&l));
            block.push('\n');
        }
        block.push_str("```\n");
        if out.len() + details.len() + block.len() + closing.len() + 300 > MARKDOWN_BUDGET {
            break;
        }
        details.push_str(&block);
        detailed += 1;
    }
    if detailed < changed.len() {
        let _ = writeln!(
            details,
            "\n*The values of {} more changes are not shown here (size limit): run `imm plan` for them.*",
            changed.len() - detailed
        );
    }
    details.push_str(closing);
    out.push_str(&details);
    out
}

fn row_reason(change: &Change) -> String {
    let reason = row_reason_only(change);
    if change.notes.is_empty() {
        return reason;
    }
    format!("{reason} ({})", change.notes.join("; "))
}

/// The reason a row shows: the plan's own reasons, in the same words as
/// the terminal and the JSON (a reviewer compares them).
fn row_reason_only(change: &Change) -> String {
    match change.action {
        Action::Create if change.artifact => "build (new)".into(),
        Action::Create => "new".into(),
        Action::Noop => match &change.moved_from {
            Some(from) => format!("moved from `{from}`"),
            None => String::new(),
        },
        _ => change.reasons.join("; "),
    }
}

/// A diff line in the form GitHub colours: `-`/`+` first.
fn diff_prefixed(l: &DiffLine) -> String {
    let text = l.text.trim_start();
    match l.tag {
        ChangeTag::Delete | ChangeTag::Insert => text.to_string(),
        ChangeTag::Equal => format!("  {}", l.text),
    }
}

fn escape_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_find_their_values() {
        let value = serde_json::json!({
            "runtime": {"env": {"LOG_LEVEL": "info", "with space": 1}},
            "network": [{"aliases": ["web"]}]
        });
        assert_eq!(
            at_path(&value, "runtime.env.LOG_LEVEL"),
            Some(&Json::String("info".into()))
        );
        assert_eq!(
            at_path(&value, "runtime.env[\"with space\"]"),
            Some(&serde_json::json!(1))
        );
        assert_eq!(
            at_path(&value, "network[0].aliases"),
            Some(&serde_json::json!(["web"]))
        );
        assert_eq!(at_path(&value, "network[3]"), None);
    }
}
