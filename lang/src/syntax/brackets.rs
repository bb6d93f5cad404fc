//! A quick scan of a file's brackets before pest parses it.
//!
//! PEG error recovery is exponential when a bracket is never closed (every
//! nested construct fails only at the end of the file and is read again by
//! its parent), and deep nesting exhausts the stack. So brackets are
//! checked first, knowing strings, `${}` interpolations, comments and
//! heredocs: an unclosed `{`, a stray `)` or nesting past [`MAX_NESTING`]
//! is reported at the bracket itself, and pest only sees balanced text.

use crate::diagnostics::{Code, Diagnostic};
use crate::source::{FileId, Span};
use std::borrow::Cow;

/// At most this many bracket problems are reported per file.
const MAX_PROBLEMS: usize = 100;

/// Checks the brackets of a whole file. When they are balanced, the text
/// is returned as it is. Otherwise each problem is reported and the line of
/// the offending bracket (the opener of an unclosed or mismatched pair) is
/// blanked out — spaces, byte offsets kept — until the rest is balanced, so
/// pest can still parse, and report the errors of, every other line.
pub fn check_file(file: FileId, text: &str) -> (Cow<'_, str>, Vec<Diagnostic>) {
    let mut checked = Cow::Borrowed(text);
    let mut problems = Vec::new();
    while let Some((problem, culprit)) = first_problem(file, &checked) {
        problems.push(problem);
        if problems.len() >= MAX_PROBLEMS {
            let all = checked.len();
            blank(checked.to_mut(), 0, all);
            break;
        }
        let (start, end) = line_around(&checked, culprit);
        blank(checked.to_mut(), start, end);
    }
    (checked, problems)
}

fn line_around(text: &str, at: usize) -> (usize, usize) {
    let start = text[..at].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let end = text[at..].find('\n').map(|i| at + i).unwrap_or(text.len());
    (start, end)
}

/// Replaces a range with spaces, keeping newlines and byte offsets.
fn blank(text: &mut String, start: usize, end: usize) {
    let replaced: String = text[start..end]
        .chars()
        .map(|c| {
            if c == '\n' {
                "\n".to_string()
            } else {
                " ".repeat(c.len_utf8())
            }
        })
        .collect();
    text.replace_range(start..end, &replaced);
}

/// Brackets nested deeper than this are refused.
pub const MAX_NESTING: usize = 256;

#[derive(Clone, Copy, PartialEq)]
enum Open {
    /// `{`, `[` or `(` in code, at a byte offset.
    Bracket(u8, usize),
    /// `${` or `%{` (the byte says which) inside a string: code until its `}`.
    Interpolation(usize, u8),
    /// A `"` string.
    Quote(usize),
}

/// The first bracket problem of the text, if any.
pub fn check(file: FileId, text: &str) -> Option<Diagnostic> {
    first_problem(file, text).map(|(d, _)| d)
}

/// The first problem and the offset of the bracket to blame for it.
fn first_problem(file: FileId, text: &str) -> Option<(Diagnostic, usize)> {
    let bytes = text.as_bytes();
    let mut stack: Vec<Open> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if let Some(Open::Quote(_)) = stack.last() {
            match b {
                b'\\' => i += 1,
                b'"' => {
                    stack.pop();
                }
                // The grammar ends a string at the end of its line; the
                // parser reports that, so stop tracking it here.
                b'\n' => {
                    stack.pop();
                }
                b'$' | b'%' if bytes.get(i + 1) == Some(&b) && bytes.get(i + 2) == Some(&b'{') => {
                    i += 2
                }
                b'$' | b'%' if bytes.get(i + 1) == Some(&b'{') => {
                    stack.push(Open::Interpolation(i, b));
                    i += 1;
                }
                _ => {}
            }
            i += 1;
            continue;
        }
        match b {
            b'"' => stack.push(Open::Quote(i)),
            b'#' => i = line_end(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = line_end(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = comment_end(bytes, i),
            b'<' if bytes.get(i + 1) == Some(&b'<') => i = heredoc_end(text, i),
            b'{' | b'[' | b'(' => stack.push(Open::Bracket(b, i)),
            b'}' | b']' | b')' => {
                if let Some(problem) = close(file, &mut stack, b, i) {
                    return Some(problem);
                }
            }
            _ => {}
        }
        let depth = stack
            .iter()
            .filter(|o| !matches!(o, Open::Quote(_)))
            .count();
        if depth > MAX_NESTING {
            let d = Diagnostic::at(
                Code::TooDeep,
                Span::new(file, i, i + 1),
                format!("brackets are nested more than {MAX_NESTING} levels deep"),
            )
            .with_primary_label("too deep")
            .with_help("flatten the expression, or move parts of it into locals");
            // Blank from the outermost opener of this nest: one problem, once.
            let outermost = stack.iter().find_map(|o| match *o {
                Open::Bracket(_, at) | Open::Interpolation(at, _) => Some(at),
                Open::Quote(_) => None,
            });
            return Some((d, outermost.unwrap_or(i)));
        }
        i += 1;
    }
    let culprit = stack.iter().find_map(|o| match *o {
        Open::Bracket(_, at) | Open::Interpolation(at, _) => Some(at),
        Open::Quote(_) => None,
    });
    unclosed(file, &stack).zip(culprit)
}

/// Handles a closing bracket: `None` when it closes the innermost opener.
/// Otherwise the problem and the offset to blame: when the closer belongs
/// to an opener further out, the innermost opener was never closed; when it
/// belongs to none, the closer itself is stray.
fn close(
    file: FileId,
    stack: &mut Vec<Open>,
    closer: u8,
    at: usize,
) -> Option<(Diagnostic, usize)> {
    let closes = |open: &Open| match *open {
        Open::Bracket(opener, _) => matching(opener) == closer,
        Open::Interpolation(..) => closer == b'}',
        Open::Quote(_) => false,
    };
    let top = stack.last().copied();
    if top.as_ref().is_some_and(closes) {
        stack.pop();
        return None;
    }
    let here = Span::new(file, at, at + 1);
    let belongs_further_out = stack.iter().rev().skip(1).any(closes);
    match top {
        Some(Open::Bracket(opener, start)) if belongs_further_out => Some((
            Diagnostic::at(
                Code::Syntax,
                Span::new(file, start, start + 1),
                format!("this `{}` is never closed", opener as char),
            )
            .with_primary_label("opened here")
            .with_label(
                here,
                format!("`{}` expected before this", matching(opener) as char),
            )
            .with_help(format!("add the closing `{}`", matching(opener) as char)),
            start,
        )),
        Some(Open::Interpolation(start, sigil)) if belongs_further_out => Some((
            Diagnostic::at(
                Code::Syntax,
                Span::new(file, start, start + 2),
                format!("this `{}{{` is never closed", sigil as char),
            )
            .with_label(here, "`}` expected before this")
            .with_help(close_help(sigil)),
            start,
        )),
        _ => Some((
            Diagnostic::at(
                Code::Syntax,
                here,
                format!(
                    "unexpected `{}`: nothing is open here that it could close",
                    closer as char
                ),
            )
            .with_primary_label("no matching opener")
            .with_help("remove it, or add the opening bracket it belongs to"),
            at,
        )),
    }
}

fn unclosed(file: FileId, stack: &[Open]) -> Option<Diagnostic> {
    // The outermost unclosed bracket is the one a reader looks for.
    stack.iter().find_map(|open| match *open {
        Open::Bracket(opener, start) => Some(
            Diagnostic::at(
                Code::Syntax,
                Span::new(file, start, start + 1),
                format!("this `{}` is never closed", opener as char),
            )
            .with_primary_label("opened here")
            .with_help(format!("add the closing `{}`", matching(opener) as char)),
        ),
        Open::Interpolation(start, sigil) => Some(
            Diagnostic::at(
                Code::Syntax,
                Span::new(file, start, start + 2),
                format!("this `{}{{` is never closed", sigil as char),
            )
            .with_help(close_help(sigil)),
        ),
        Open::Quote(_) => None,
    })
}

fn close_help(sigil: u8) -> &'static str {
    match sigil {
        b'%' => "close the directive with `}`, e.g. `%{ if x }`",
        _ => "close the interpolation with `}`",
    }
}

fn matching(opener: u8) -> u8 {
    match opener {
        b'{' => b'}',
        b'[' => b']',
        _ => b')',
    }
}

/// The offset of the newline that ends the line (or the end of the text).
fn line_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i] != b'\n' {
        i += 1;
    }
    i
}

fn comment_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 2;
    while i + 1 < bytes.len() {
        if bytes[i] == b'*' && bytes[i + 1] == b'/' {
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// `<<EOT` / `<<-EOT` up to its closing line; other `<<` is left alone.
fn heredoc_end(text: &str, start: usize) -> usize {
    let rest = &text[start + 2..];
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let marker: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    if marker.is_empty() {
        return start + 1;
    }
    let Some(first_newline) = text[start..].find('\n') else {
        return text.len();
    };
    let mut offset = start + first_newline + 1;
    for line in text[offset..].split_inclusive('\n') {
        offset += line.len();
        if line.trim() == marker {
            return offset.saturating_sub(1);
        }
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(text: &str) -> Option<(Code, usize)> {
        check(FileId(0), text).map(|d| (d.code, d.span.map(|s| s.start as usize).unwrap_or(0)))
    }

    #[test]
    fn balanced_text_passes() {
        assert_eq!(problem("a = { b = [1, (2)] }\n"), None);
        assert_eq!(problem("a = \"}{)(\" # ]\n// )\n/* } */\n"), None);
        assert_eq!(problem("a = \"${ {x = \"}\"}.x }\"\n"), None);
        assert_eq!(problem("a = <<EOT\n} ] )\nEOT\nb = 1\n"), None);
        assert_eq!(problem("a = \"$${\"\n"), None);
        assert_eq!(
            problem("a = \"%{ for s in [\"}\"] }${s}%{ endfor }\"\n"),
            None
        );
        assert_eq!(problem("a = \"%%{\"\n"), None);
    }

    #[test]
    fn problems_point_at_the_bracket() {
        assert_eq!(problem("a = {\n"), Some((Code::Syntax, 4)));
        assert_eq!(problem("a = 1)\n"), Some((Code::Syntax, 5)));
        assert_eq!(problem("a = [1}\n"), Some((Code::Syntax, 6)));
        assert_eq!(problem("a = \"%{ if x\n"), Some((Code::Syntax, 5)));
        let deep = format!("a = {}1{}\n", "[".repeat(300), "]".repeat(300));
        assert_eq!(problem(&deep).map(|p| p.0), Some(Code::TooDeep));
    }
}
