//! `imm fmt`: the layout `terraform fmt` gives a file, so a file formatted
//! by one is formatted for the other.
//!
//! It works on tokens, not on the tree, so comments stay exactly where they
//! are and only the spaces before tokens change ([`layout`]), besides
//! Terraform's two rewrites ([`rewrite`]): `"${x}"` alone becomes `x`, and
//! block labels are quoted. Before a result is returned it is parsed again
//! and compared with the input's tree (parentheses aside, which only group):
//! formatting never changes meaning, or it is refused.

mod layout;
mod rewrite;
mod tokens;

use crate::source::FileId;
use crate::syntax::{self, ast::*};

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
    let formatted = layout_text(text);
    let after = syntax::parse_file(FileId(0), &formatted);
    if !after.diagnostics.is_empty() || shape(&before.body) != shape(&after.body) {
        return Err(FormatError::WouldChangeMeaning);
    }
    Ok(formatted)
}

fn layout_text(text: &str) -> String {
    let mut tokens = rewrite::rewrite(tokens::tokenize(text));
    layout::format(&mut tokens);
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for token in &tokens {
        for _ in 0..token.spaces_before {
            out.push(' ');
        }
        push_with_lf_line_end(&mut out, token);
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// Writes a token, a CRLF line end as LF, as `terraform fmt` writes every
/// line end of code and comments (a string or heredoc keeps what it holds:
/// that is its value).
fn push_with_lf_line_end(out: &mut String, token: &tokens::Token<'_>) {
    let text: &str = &token.text;
    let ends_a_line = matches!(token.kind, tokens::Kind::Newline | tokens::Kind::Comment);
    match text.strip_suffix("\r\n") {
        Some(before) if ends_a_line => {
            out.push_str(before);
            out.push('\n');
        }
        _ => out.push_str(text),
    }
}

/// The tree without positions or grouping parentheses: two texts with the
/// same shape mean the same.
pub fn shape(body: &Body) -> String {
    let mut body = body.clone();
    for item in &mut body.items {
        unparen_item(item);
    }
    strip_spans(&format!("{body:?}"))
}

fn unparen_item(item: &mut Item) {
    match item {
        Item::Attribute(a) => unparen(&mut a.value),
        Item::Block(b) => {
            for item in &mut b.body.items {
                unparen_item(item);
            }
        }
    }
}

/// Removes `Paren` nodes: after parsing, grouping is in the tree's shape.
fn unparen(expr: &mut Expr) {
    while let ExprKind::Paren(inner) = &mut expr.kind {
        let inner = std::mem::replace(inner.as_mut(), Expr::new(ExprKind::Null, expr.span));
        *expr = inner;
    }
    match &mut expr.kind {
        ExprKind::Null
        | ExprKind::Bool(_)
        | ExprKind::Number(_)
        | ExprKind::Variable(_)
        | ExprKind::SplatItem
        | ExprKind::Paren(_) => {}
        ExprKind::Template(parts) => {
            for part in parts {
                if let TemplatePart::Interpolation(e) = part {
                    unparen(e);
                }
            }
        }
        ExprKind::GetAttr(inner, _) | ExprKind::Unary(_, inner) => unparen(inner),
        ExprKind::Index(a, b) | ExprKind::Splat(a, b) | ExprKind::Binary(_, a, b) => {
            unparen(a);
            unparen(b);
        }
        ExprKind::Call(call) => call.args.iter_mut().for_each(unparen),
        ExprKind::Tuple(items) => items.iter_mut().for_each(unparen),
        ExprKind::Object(items) => {
            for (key, value) in items {
                if let ObjectKey::Expr(k) = key {
                    unparen(k);
                }
                unparen(value);
            }
        }
        ExprKind::For(f) => {
            unparen(&mut f.collection);
            if let Some(k) = &mut f.key {
                unparen(k);
            }
            unparen(&mut f.value);
            if let Some(c) = &mut f.condition {
                unparen(c);
            }
        }
        ExprKind::Conditional(c, a, b) => {
            unparen(c);
            unparen(a);
            unparen(b);
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_and_indents_like_terraform() {
        let input = "resource \"file\" \"a\" {\npath=\"x\"\n    content   =  \"hello\"  # greeting\n  mode = \"0644\"\n\n\n  lifecycle {\nprevent_destroy = true\n}\n}\n";
        let expected = "resource \"file\" \"a\" {\n  path    = \"x\"\n  content = \"hello\" # greeting\n  mode    = \"0644\"\n\n\n  lifecycle {\n    prevent_destroy = true\n  }\n}\n";
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
    fn crlf_line_ends_become_lf_and_heredocs_keep_theirs() {
        let input = "locals {\r\n  a = 1 # one\r\n  bb = <<EOT\r\nraw\r\nEOT\r\n}\r\n";
        let out = format_source(input).expect("formats");
        assert_eq!(
            out,
            "locals {\n  a  = 1 # one\n  bb = <<EOT\r\nraw\r\nEOT\n}\n"
        );
        assert_eq!(
            format_source(&out).as_deref(),
            Ok(out.as_str()),
            "idempotent"
        );
    }

    #[test]
    fn refuses_syntax_errors() {
        assert_eq!(format_source("a = = 1\n"), Err(FormatError::Syntax));
    }
}
