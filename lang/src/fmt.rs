//! `imm fmt`: the canonical layout of a `.imm` file.
//!
//! It works on lines, not on the tree, so comments stay exactly where they
//! are: indentation is two spaces per open bracket, runs of spaces outside
//! strings and comments become one, `=` of consecutive one-line attributes
//! at one depth are aligned as `terraform fmt` does, blank lines are
//! collapsed, heredoc bodies and block comments are left alone. Before a
//! result is returned it is parsed again and compared with the input's
//! tree: formatting never changes meaning, or it is refused.

use crate::source::FileId;
use crate::syntax::{self, ast::Body};

#[derive(Debug, PartialEq, Eq)]
pub enum FormatError {
    /// The input has syntax errors; format only what parses.
    Syntax,
    /// The formatter would have changed the meaning (a bug): refused.
    WouldChangeMeaning,
}

/// Formats a file; `Err` when it cannot be formatted safely.
pub fn format_source(text: &str) -> Result<String, FormatError> {
    let before = syntax::parse_file(FileId(0), text);
    if !before.diagnostics.is_empty() {
        return Err(FormatError::Syntax);
    }
    let formatted = layout(text);
    let after = syntax::parse_file(FileId(0), &formatted);
    if !after.diagnostics.is_empty() || shape(&before.body) != shape(&after.body) {
        return Err(FormatError::WouldChangeMeaning);
    }
    Ok(formatted)
}

/// The tree without positions: two texts with the same shape mean the same.
pub fn shape(body: &Body) -> String {
    strip_spans(&format!("{body:?}"))
}

fn strip_spans(debug: &str) -> String {
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug;
    while let Some(i) = rest.find("Span {") {
        out.push_str(&rest[..i]);
        match rest[i..].find('}') {
            Some(j) => rest = &rest[i + j + 1..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// How a physical line was classified while scanning.
#[derive(Debug, Clone)]
struct Line {
    /// The text to emit, without indentation (or verbatim, see `raw`).
    text: String,
    /// Bracket depth for the indentation of this line.
    depth: usize,
    /// Emit as it is (heredoc body, block comment continuation).
    raw: bool,
    /// `NAME = value` on one line: (name length, rest after `=`).
    attribute: Option<(String, String)>,
}

impl Line {
    /// A line emitted as it is (heredoc body, inside a comment or string).
    fn verbatim(text: &str, depth: usize) -> Line {
        Line {
            text: text.to_string(),
            depth,
            raw: true,
            attribute: None,
        }
    }
}

fn layout(text: &str) -> String {
    let lines = scan(text);
    let lines = align(lines);
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in &lines {
        if line.raw {
            blank_run = 0;
            out.push_str(&line.text);
            out.push('\n');
            continue;
        }
        if line.text.is_empty() {
            blank_run += 1;
            if blank_run > 1 || out.is_empty() {
                continue;
            }
            out.push('\n');
            continue;
        }
        blank_run = 0;
        out.push_str(&"  ".repeat(line.depth));
        out.push_str(&line.text);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    if out.trim().is_empty() {
        return String::new();
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Code,
    /// Inside `"..."`; the depth of brackets opened by `${` or `%{` inside it.
    String,
    BlockComment,
}

/// Splits the text into classified lines, tracking strings, comments,
/// heredocs and bracket depth.
fn scan(text: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut depth: usize = 0;
    // Stack of open contexts: strings nest inside interpolations.
    let mut stack: Vec<Mode> = vec![Mode::Code];
    let mut heredoc: Option<String> = None;
    for raw in text.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(marker) = &heredoc {
            if raw.trim() == marker {
                heredoc = None;
            }
            lines.push(Line::verbatim(raw, depth));
            continue;
        }
        let top = *stack.last().unwrap_or(&Mode::Code);
        if top == Mode::BlockComment || top == Mode::String {
            // A line that starts inside a comment or string is kept as it is.
            let (_, opened, closed) = scan_line(raw, &mut stack);
            depth = (depth + opened).saturating_sub(closed);
            lines.push(Line::verbatim(raw, depth));
            continue;
        }
        let trimmed = raw.trim();
        let leading_closers = trimmed
            .chars()
            .take_while(|c| matches!(c, '}' | ']' | ')'))
            .count();
        let line_depth = depth.saturating_sub(leading_closers);
        let (normalized, opened, closed) = scan_line(trimmed, &mut stack);
        depth = (depth + opened).saturating_sub(closed);
        if let Some(marker) = heredoc_marker(&normalized) {
            heredoc = Some(marker);
        }
        let single_line =
            opened == closed && heredoc.is_none() && stack.last() == Some(&Mode::Code);
        let attribute = if single_line {
            split_attribute(&normalized)
        } else {
            None
        };
        let text = match &attribute {
            Some((name, rest)) => format!("{name} = {rest}"),
            None => normalize_equals(&normalized),
        };
        lines.push(Line {
            text,
            depth: line_depth,
            raw: false,
            attribute,
        });
    }
    // A trailing newline leaves one empty last element.
    if lines.last().is_some_and(|l| l.text.is_empty() && !l.raw) {
        lines.pop();
    }
    lines
}

/// Collapses spaces outside strings and comments; counts brackets opened
/// and closed on the line (outside strings and comments).
fn scan_line(line: &str, stack: &mut Vec<Mode>) -> (String, usize, usize) {
    let mut out = String::with_capacity(line.len());
    let mut opened = 0;
    let mut closed = 0;
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    // Interpolation depth per open string, to find the `}` that ends `${` or `%{`.
    let mut brace_depths: Vec<usize> = Vec::new();
    let mut brace_depth = 0usize;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match stack.last().copied().unwrap_or(Mode::Code) {
            Mode::BlockComment => {
                out.push(c);
                if c == '*' && next == Some('/') {
                    out.push('/');
                    i += 1;
                    stack.pop();
                }
            }
            Mode::String => {
                out.push(c);
                match c {
                    '\\' => {
                        if let Some(n) = next {
                            out.push(n);
                            i += 1;
                        }
                    }
                    '"' => {
                        stack.pop();
                    }
                    '$' | '%' if next == Some(c) && chars.get(i + 2) == Some(&'{') => {
                        out.push(c);
                        out.push('{');
                        i += 2;
                    }
                    '$' | '%' if next == Some('{') => {
                        out.push('{');
                        i += 1;
                        brace_depths.push(brace_depth);
                        brace_depth = 0;
                        stack.push(Mode::Code);
                    }
                    _ => {}
                }
            }
            Mode::Code => match c {
                '#' => {
                    out.push_str(&chars[i..].iter().collect::<String>());
                    break;
                }
                '/' if next == Some('/') => {
                    out.push_str(&chars[i..].iter().collect::<String>());
                    break;
                }
                '/' if next == Some('*') => {
                    out.push_str("/*");
                    i += 1;
                    stack.push(Mode::BlockComment);
                }
                '"' => {
                    out.push('"');
                    stack.push(Mode::String);
                }
                ' ' | '\t' => {
                    if !out.ends_with(' ') && !out.is_empty() {
                        out.push(' ');
                    }
                }
                '{' | '[' | '(' => {
                    out.push(c);
                    if stack.len() > 1 {
                        brace_depth += 1;
                    } else {
                        opened += 1;
                    }
                }
                '}' | ']' | ')' => {
                    out.push(c);
                    if stack.len() > 1 {
                        if brace_depth == 0 && c == '}' {
                            // The end of a `${ ... }` interpolation.
                            stack.pop();
                            brace_depth = brace_depths.pop().unwrap_or(0);
                        } else {
                            brace_depth = brace_depth.saturating_sub(1);
                        }
                    } else {
                        closed += 1;
                    }
                }
                _ => out.push(c),
            },
        }
        i += 1;
    }
    // An unterminated string ends at the end of its line (as the grammar says).
    while stack.len() > 1 && stack.last() == Some(&Mode::String) {
        stack.pop();
    }
    (out.trim_end().to_string(), opened, closed)
}

/// The marker of a heredoc opened on this line (`<<EOT` / `<<-EOT`).
fn heredoc_marker(line: &str) -> Option<String> {
    let code = strip_strings_and_comments(line);
    let at = code.find("<<")?;
    let rest = code[at + 2..].trim_start_matches('-');
    let marker: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    let after = rest[marker.len()..].trim();
    (!marker.is_empty() && after.is_empty()).then_some(marker)
}

/// The line with string contents and comments blanked out, for searching.
fn strip_strings_and_comments(line: &str) -> String {
    let mut out = String::new();
    let mut in_string = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    in_string = false;
                    out.push('"');
                }
                _ => out.push(' '),
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push('"');
            }
            '#' => break,
            '/' if chars.peek() == Some(&'/') => break,
            _ => out.push(c),
        }
    }
    out
}

/// `name = value` (also `"quoted key" = value`); not `==`, `=>`.
fn split_attribute(line: &str) -> Option<(String, String)> {
    let name_end = if line.starts_with('"') {
        let mut escaped = false;
        let mut end = None;
        for (i, c) in line.char_indices().skip(1) {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    end = Some(i + 1);
                    break;
                }
                _ => escaped = false,
            }
        }
        end?
    } else {
        let first = line.chars().next()?;
        if !(first.is_alphabetic() || first == '_') {
            return None;
        }
        line.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))?
    };
    let name = &line[..name_end];
    let rest = line[name_end..].trim_start();
    let value = rest.strip_prefix('=')?;
    if value.starts_with('=') || value.starts_with('>') {
        return None;
    }
    Some((name.to_string(), value.trim_start().to_string()))
}

/// `a   =  {` on a line that opens a multi-line value: one space each side.
fn normalize_equals(line: &str) -> String {
    match split_attribute(line) {
        Some((name, rest)) if rest.is_empty() => format!("{name} ="),
        Some((name, rest)) => format!("{name} = {rest}"),
        None => line.to_string(),
    }
}

/// Aligns `=` in runs of one-line attributes at the same depth.
fn align(mut lines: Vec<Line>) -> Vec<Line> {
    let mut i = 0;
    while i < lines.len() {
        if lines[i].attribute.is_none() || lines[i].raw {
            i += 1;
            continue;
        }
        let depth = lines[i].depth;
        let mut j = i;
        while j < lines.len()
            && lines[j].attribute.is_some()
            && !lines[j].raw
            && lines[j].depth == depth
        {
            j += 1;
        }
        let width = lines[i..j]
            .iter()
            .filter_map(|l| l.attribute.as_ref())
            .map(|(name, _)| name.chars().count())
            .max()
            .unwrap_or(0);
        for line in &mut lines[i..j] {
            if let Some((name, rest)) = &line.attribute {
                let pad = width - name.chars().count();
                line.text = format!("{name}{} = {rest}", " ".repeat(pad));
            }
        }
        i = j.max(i + 1);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_and_indents_like_terraform() {
        let input = "resource \"file\" \"a\" {\npath=\"x\"\n    content   =  \"hello\"  # greeting\n  mode = \"0644\"\n\n\n  lifecycle {\nprevent_destroy = true\n}\n}\n";
        let expected = "resource \"file\" \"a\" {\n  path    = \"x\"\n  content = \"hello\" # greeting\n  mode    = \"0644\"\n\n  lifecycle {\n    prevent_destroy = true\n  }\n}\n";
        assert_eq!(format_source(input).as_deref(), Ok(expected));
        assert_eq!(
            format_source(expected).as_deref(),
            Ok(expected),
            "idempotent"
        );
    }

    #[test]
    fn keeps_heredocs_strings_and_comments() {
        let input = "locals {\n  # keep   this\n  s = \"a   b\"\n  h = <<EOT\n   raw   text\nEOT\n  /* block\n     comment */\n  x = [\n  1,\n    2,\n  ]\n}\n";
        let out = format_source(input).expect("formats");
        assert!(out.contains("# keep   this"));
        assert!(out.contains("\"a   b\""));
        assert!(out.contains("   raw   text\nEOT"));
        assert!(out.contains("     comment */"));
        assert!(out.contains("  x = [\n    1,\n    2,\n  ]"));
        assert_eq!(format_source(&out).as_deref(), Ok(out.as_str()));
    }

    #[test]
    fn refuses_syntax_errors() {
        assert_eq!(format_source("a = = 1\n"), Err(FormatError::Syntax));
    }
}
