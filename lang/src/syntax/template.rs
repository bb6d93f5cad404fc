//! HCL templates: the text, interpolations and directives of a string, a
//! heredoc or a `templatefile`, turned into [`TemplatePart`]s.
//!
//! Pest reads each piece on its own; this module applies the strip markers
//! (`${~`, `~}`), pairs `%{ if }`/`%{ else }`/`%{ endif }` and
//! `%{ for }`/`%{ endfor }`, and writes each directive as the expression it
//! means: an `if` is a conditional between two templates, a `for` is
//! `join("", [for …: template])`. So everything after the parser (name
//! checks, evaluation, the editor) knows templates without knowing
//! directives.

use super::ast::*;
use super::scanner::{self, Literal, Sink};
use super::{push_literal, unescape, Builder, ImmParser, Rule};
use crate::diagnostics::{Code, Diagnostic};
use crate::source::Span;
use pest::iterators::Pair;
use pest::Parser as _;

/// A piece of template text before strip markers and directive pairing.
pub(super) enum Piece {
    Text(String),
    Interpolation(Marked<Expr>),
    Directive(Marked<Directive>),
}

/// A piece with its strip markers: `strip_before` is `${~` or `%{~`,
/// `strip_after` is `~}`.
pub(super) struct Marked<T> {
    item: T,
    span: Span,
    strip_before: bool,
    strip_after: bool,
}

pub(super) enum Directive {
    If(Expr),
    Else,
    EndIf,
    For {
        key_var: Option<Ident>,
        value_var: Ident,
        collection: Expr,
    },
    EndFor,
}

impl Directive {
    fn written(&self) -> &'static str {
        match self {
            Directive::If(_) => "%{ if }",
            Directive::Else => "%{ else }",
            Directive::EndIf => "%{ endif }",
            Directive::For { .. } => "%{ for }",
            Directive::EndFor => "%{ endfor }",
        }
    }
}

impl Builder<'_> {
    /// A literal the scanner masked, read from the text; pest parses each
    /// of its interpolations and directives on its own. Pest saw `""`
    /// there: the literal's end is the scanner's.
    pub(super) fn scanned_literal(&mut self, start: usize) -> Expr {
        let text = self.text;
        let kind = scanner::literal_kind(text, start);
        let mut sink = PieceSink {
            builder: self,
            pieces: Vec::new(),
        };
        let end = scanner::scan_literal(text, start, &mut sink);
        let mut pieces = sink.pieces;
        let Some(end) = end else {
            self.gave_up = true;
            return Expr::new(ExprKind::Null, Span::new(self.file, start, start));
        };
        let span = Span::new(self.file, start, end);
        let layout = match kind {
            Some(Literal::Heredoc { indented: true }) => Layout::IndentedLines,
            Some(Literal::Heredoc { indented: false }) => Layout::Lines,
            _ => match pieces.as_mut_slice() {
                // Most strings are plain text: no pieces to strip or pair up.
                [Piece::Text(text)] => {
                    let mut text = std::mem::take(text);
                    imm_stdlib::value::normalize(&mut text);
                    let parts = vec![TemplatePart::Literal(text)];
                    return Expr::new(ExprKind::Template(parts), span);
                }
                _ => return self.quoted(pieces, span),
            },
        };
        let parts = self.template_parts(pieces, layout);
        Expr::new(ExprKind::Template(parts), span)
    }

    /// An interpolation or directive of a masked literal (`start..end`
    /// holds it from `${` or `%{` to its `}`), parsed by pest alone.
    fn embedded(&mut self, rule: Rule, start: usize, end: usize) -> Option<Piece> {
        let code = &self.text[start..end];
        let pair = ImmParser::parse(rule, code)
            .ok()
            .and_then(|mut pairs| pairs.next())
            .filter(|pair| pair.as_span().end() == code.len());
        let Some(pair) = pair else {
            self.gave_up = true;
            return None;
        };
        let outer = std::mem::replace(&mut self.offset, start);
        let span = self.span(&pair);
        let piece = match rule {
            Rule::interpolation => self.interpolation(pair, span),
            _ => self.directive(pair, span),
        };
        self.offset = outer;
        if piece.is_none() {
            self.gave_up = true;
        }
        piece
    }

    /// The pieces of a string, heredoc line or template file, in order.
    pub(super) fn pieces<'i>(&mut self, pairs: impl Iterator<Item = Pair<'i, Rule>>) -> Vec<Piece> {
        let mut pieces = Vec::new();
        for pair in pairs {
            if let Some(piece) = self.piece(pair) {
                push_piece(&mut pieces, piece);
            }
        }
        pieces
    }

    fn piece(&mut self, pair: Pair<'_, Rule>) -> Option<Piece> {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::string_text | Rule::heredoc_text | Rule::template_text => {
                Some(Piece::Text(pair.as_str().to_string()))
            }
            Rule::escaped_dollar => Some(Piece::Text("${".into())),
            Rule::escaped_percent => Some(Piece::Text("%{".into())),
            Rule::escape => match unescape(pair.as_str()) {
                Some(text) => Some(Piece::Text(text)),
                None => {
                    self.diagnostics.push(
                        Diagnostic::at(
                            Code::Syntax,
                            span,
                            "invalid escape: not a Unicode scalar value",
                        )
                        .with_help("use \\uXXXX with a valid code point"),
                    );
                    None
                }
            },
            Rule::interpolation => self.interpolation(pair, span),
            Rule::directive => self.directive(pair, span),
            _ => None,
        }
    }

    fn interpolation(&mut self, pair: Pair<'_, Rule>, span: Span) -> Option<Piece> {
        let (strip_before, strip_after) = strip_markers(pair.as_str());
        let expr = pair.into_inner().next().map(|child| self.expr(child));
        Some(Piece::Interpolation(Marked {
            item: expr?,
            span,
            strip_before,
            strip_after,
        }))
    }

    fn directive(&mut self, pair: Pair<'_, Rule>, span: Span) -> Option<Piece> {
        let (strip_before, strip_after) = strip_markers(pair.as_str());
        let mut directive = None;
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::directive_if => {
                    let condition = child.into_inner().find(|p| p.as_rule() == Rule::expr)?;
                    directive = Some(Directive::If(self.expr(condition)));
                }
                Rule::directive_else => directive = Some(Directive::Else),
                Rule::directive_endif => directive = Some(Directive::EndIf),
                Rule::directive_endfor => directive = Some(Directive::EndFor),
                Rule::directive_for => directive = Some(self.for_directive(child)?),
                _ => {}
            }
        }
        Some(Piece::Directive(Marked {
            item: directive?,
            span,
            strip_before,
            strip_after,
        }))
    }

    fn for_directive(&mut self, pair: Pair<'_, Rule>) -> Option<Directive> {
        let mut names = Vec::new();
        let mut collection = None;
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::ident => names.push(self.ident(child)),
                Rule::expr => collection = Some(self.expr(child)),
                _ => {}
            }
        }
        let collection = collection?;
        let value_var = names.pop()?;
        Some(Directive::For {
            key_var: names.pop(),
            value_var,
            collection,
        })
    }

    /// Applies the strip markers and pairs the directives up.
    pub(super) fn template_parts(
        &mut self,
        pieces: Vec<Piece>,
        layout: Layout,
    ) -> Vec<TemplatePart> {
        let mut pieces = match layout {
            Layout::Quoted => pieces,
            Layout::Lines | Layout::IndentedLines => split_lines(pieces),
        };
        strip_whitespace(&mut pieces);
        if layout == Layout::IndentedLines {
            remove_common_indent(&mut pieces);
        }
        let mut rest = pieces.into_iter();
        let (parts, closer) = self.fold_until_closer(&mut rest);
        if let Some(closer) = closer {
            self.diagnostics.push(
                Diagnostic::at(
                    Code::Syntax,
                    closer.span,
                    format!(
                        "unexpected `{}`: no `{}` is open here",
                        closer.item.written(),
                        opener_of(&closer.item)
                    ),
                )
                .with_primary_label("nothing to close")
                .with_help("remove it, or add the directive it closes before it"),
            );
        }
        parts
    }

    /// Folds pieces into parts until an `else`, `endif` or `endfor`, which
    /// is returned for the caller to check.
    fn fold_until_closer(
        &mut self,
        rest: &mut std::vec::IntoIter<Piece>,
    ) -> (Vec<TemplatePart>, Option<Marked<Directive>>) {
        let mut parts = Vec::new();
        while let Some(piece) = rest.next() {
            match piece {
                Piece::Text(text) => push_literal(&mut parts, &text),
                Piece::Interpolation(marked) => {
                    parts.push(TemplatePart::Interpolation(Box::new(marked.item)))
                }
                Piece::Directive(marked) => match marked.item {
                    Directive::If(condition) => {
                        let expr = self.if_directive(condition, marked.span, rest);
                        parts.push(TemplatePart::Interpolation(Box::new(expr)));
                    }
                    Directive::For {
                        key_var,
                        value_var,
                        collection,
                    } => {
                        let for_expr = ForExpr {
                            key_var,
                            value_var,
                            collection,
                            key: None,
                            value: Expr::new(ExprKind::Null, marked.span),
                            condition: None,
                            grouping: false,
                        };
                        let expr = self.for_loop(for_expr, marked.span, rest);
                        parts.push(TemplatePart::Interpolation(Box::new(expr)));
                    }
                    Directive::Else | Directive::EndIf | Directive::EndFor => {
                        return (normalized(parts), Some(marked))
                    }
                },
            }
        }
        (normalized(parts), None)
    }

    /// `%{ if c }a%{ else }b%{ endif }` as `c ? "a" : "b"`.
    fn if_directive(
        &mut self,
        condition: Expr,
        opened: Span,
        rest: &mut std::vec::IntoIter<Piece>,
    ) -> Expr {
        let (then, mut closer) = self.fold_until_closer(rest);
        let mut otherwise = Vec::new();
        let mut seen_else = false;
        while let Some(else_span) = closer
            .as_ref()
            .filter(|c| matches!(c.item, Directive::Else))
            .map(|c| c.span)
        {
            if seen_else {
                self.diagnostics.push(
                    Diagnostic::at(
                        Code::Syntax,
                        else_span,
                        "a second `%{ else }` in one `%{ if }`",
                    )
                    .with_primary_label("second else")
                    .with_label(opened, "this `%{ if }`")
                    .with_help("an `if` has at most one `%{ else }`; nest another `%{ if }` in it"),
                );
            }
            seen_else = true;
            let (parts, after_else) = self.fold_until_closer(rest);
            otherwise.extend(parts);
            closer = after_else;
        }
        let end = self.expect_closer(closer, Closing::EndIf, opened);
        let span = Span::new(opened.file, opened.start as usize, end as usize);
        Expr::new(
            ExprKind::Conditional(
                Box::new(condition),
                Box::new(Expr::new(ExprKind::Template(then), span)),
                Box::new(Expr::new(ExprKind::Template(otherwise), span)),
            ),
            span,
        )
    }

    /// `%{ for x in xs }body%{ endfor }` as `join("", [for x in xs: "body"])`.
    fn for_loop(
        &mut self,
        mut for_expr: ForExpr,
        opened: Span,
        rest: &mut std::vec::IntoIter<Piece>,
    ) -> Expr {
        let (body, closer) = self.fold_until_closer(rest);
        let end = self.expect_closer(closer, Closing::EndFor, opened);
        let span = Span::new(opened.file, opened.start as usize, end as usize);
        for_expr.value = Expr::new(ExprKind::Template(body), span);
        let call = Call {
            name: Ident {
                name: "join".into(),
                span: opened,
            },
            args: vec![
                Expr::new(ExprKind::Template(Vec::new()), opened),
                Expr::new(ExprKind::For(Box::new(for_expr)), span),
            ],
            expand_final: false,
        };
        Expr::new(ExprKind::Call(Box::new(call)), span)
    }

    /// Checks the directive that ended a block; returns where the block ends.
    fn expect_closer(
        &mut self,
        closer: Option<Marked<Directive>>,
        wanted: Closing,
        opened: Span,
    ) -> u32 {
        let (opener, closing) = match wanted {
            Closing::EndIf => ("%{ if }", "%{ endif }"),
            Closing::EndFor => ("%{ for }", "%{ endfor }"),
        };
        let Some(closer) = closer else {
            self.diagnostics.push(
                Diagnostic::at(
                    Code::Syntax,
                    opened,
                    format!("this `{opener}` is never closed"),
                )
                .with_primary_label("opened here")
                .with_help(format!("close it with `{closing}`")),
            );
            return opened.end;
        };
        let matches = matches!(
            (&closer.item, wanted),
            (Directive::EndIf, Closing::EndIf) | (Directive::EndFor, Closing::EndFor)
        );
        if !matches {
            self.diagnostics.push(
                Diagnostic::at(
                    Code::Syntax,
                    closer.span,
                    format!("expected `{closing}`, found `{}`", closer.item.written()),
                )
                .with_primary_label(format!("`{closing}` expected here"))
                .with_label(opened, format!("this `{opener}` is still open"))
                .with_help(format!("close the `{opener}` with `{closing}` first")),
            );
        }
        closer.span.end
    }
}

/// Gathers the pieces the scanner finds in a masked literal.
struct PieceSink<'b, 't> {
    builder: &'b mut Builder<'t>,
    pieces: Vec<Piece>,
}

impl Sink for PieceSink<'_, '_> {
    fn text(&mut self, text: &str) {
        match self.pieces.last_mut() {
            Some(Piece::Text(last)) => last.push_str(text),
            _ => self.pieces.push(Piece::Text(text.to_string())),
        }
    }

    fn interpolation(&mut self, start: usize, end: usize) {
        if let Some(piece) = self.builder.embedded(Rule::interpolation, start, end) {
            self.pieces.push(piece);
        }
    }

    fn directive(&mut self, start: usize, end: usize) {
        if let Some(piece) = self.builder.embedded(Rule::directive, start, end) {
            self.pieces.push(piece);
        }
    }
}

/// Strings are NFC, as Terraform's are (`"e\u0301" == "é"`): literal
/// text is normalised once it is whole (an escape may combine with the
/// text before it).
fn normalized(mut parts: Vec<TemplatePart>) -> Vec<TemplatePart> {
    for part in &mut parts {
        if let TemplatePart::Literal(text) = part {
            imm_stdlib::value::normalize(text);
        }
    }
    parts
}

#[derive(Clone, Copy)]
enum Closing {
    EndIf,
    EndFor,
}

fn opener_of(closer: &Directive) -> &'static str {
    match closer {
        Directive::EndFor => "%{ for }",
        _ => "%{ if }",
    }
}

/// Adds a piece, joining text to the text before it (strip markers and
/// `<<-` see whole runs of text).
pub(super) fn push_piece(pieces: &mut Vec<Piece>, piece: Piece) {
    if let (Some(Piece::Text(last)), Piece::Text(text)) = (pieces.last_mut(), &piece) {
        last.push_str(text);
        return;
    }
    pieces.push(piece);
}

/// Splits the text of a heredoc or template file into one piece per line
/// (each ending with its newline): HCL's literal tokens, which strip
/// markers and `<<-` work on.
fn split_lines(pieces: Vec<Piece>) -> Vec<Piece> {
    let mut out = Vec::with_capacity(pieces.len());
    for piece in pieces {
        match piece {
            Piece::Text(text) if text.contains('\n') => out.extend(
                text.split_inclusive('\n')
                    .map(|line| Piece::Text(line.to_string())),
            ),
            other => out.push(other),
        }
    }
    out
}

/// `${~` / `%{~` strip the whitespace at the end of the text token before
/// them, `~}` the whitespace at the start of the one after them.
fn strip_whitespace(pieces: &mut [Piece]) {
    for i in 0..pieces.len() {
        let (before, after) = match &pieces[i] {
            Piece::Text(_) => continue,
            Piece::Interpolation(m) => (m.strip_before, m.strip_after),
            Piece::Directive(m) => (m.strip_before, m.strip_after),
        };
        if before && i > 0 {
            if let Piece::Text(text) = &mut pieces[i - 1] {
                text.truncate(text.trim_end().len());
            }
        }
        if after {
            if let Some(Piece::Text(text)) = pieces.get_mut(i + 1) {
                let removed = text.len() - text.trim_start().len();
                text.drain(..removed);
            }
        }
    }
}

/// `<<-`: removes the indentation common to every line, counted in
/// characters of Unicode white space, after the strip markers did their
/// work. A line is the text after a newline; one that starts with `${` or
/// `%{` has no indentation, and a line of only white space does not count.
fn remove_common_indent(pieces: &mut [Piece]) {
    let mut at_line_start = true;
    let mut common = usize::MAX;
    let mut indented = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        if at_line_start {
            at_line_start = false;
            let spaces = match piece {
                Piece::Text(text) => {
                    let rest = text.trim_start();
                    if rest.is_empty() && text.ends_with('\n') {
                        usize::MAX
                    } else {
                        indented.push(i);
                        text[..text.len() - rest.len()].chars().count()
                    }
                }
                _ => 0,
            };
            common = common.min(spaces);
        }
        if let Piece::Text(text) = piece {
            at_line_start = text.ends_with('\n');
        }
    }
    if common == usize::MAX {
        return;
    }
    for i in indented {
        if let Piece::Text(text) = &mut pieces[i] {
            let cut = text
                .char_indices()
                .nth(common)
                .map_or(text.len(), |(at, _)| at);
            text.drain(..cut);
        }
    }
}

/// How the text of a template is laid out: one literal (a quoted string,
/// where `\n` is an escape) or lines (a heredoc or template file), for
/// `<<-` with their common indentation removed.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Layout {
    Quoted,
    Lines,
    IndentedLines,
}

/// Whether an interpolation's or directive's text (`${~ x ~}`) opens and
/// closes with a strip marker. No expression ends with `~`, so `~}` at the
/// end is always the marker.
fn strip_markers(text: &str) -> (bool, bool) {
    let opens = text.get(1..).is_some_and(|rest| rest.starts_with("{~"));
    (opens, text.ends_with("~}"))
}
