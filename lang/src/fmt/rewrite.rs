//! What `terraform fmt` rewrites besides spaces: an attribute whose value
//! is only `"${ expr }"` becomes `expr` (in parentheses when it spans
//! lines), and block labels written as names are quoted.

use super::tokens::{Kind, Token};

pub(super) fn rewrite(tokens: Vec<Token<'_>>) -> Vec<Token<'_>> {
    let mut out = Vec::with_capacity(tokens.len());
    let mut rest = tokens.into_iter().peekable();
    body(&mut rest, &mut out, true);
    out.extend(rest);
    out
}

type Rest<'t> = std::iter::Peekable<std::vec::IntoIter<Token<'t>>>;

/// The items of a body, up to its closing `}` (copied) or the end.
fn body<'t>(rest: &mut Rest<'t>, out: &mut Vec<Token<'t>>, top: bool) {
    while let Some(token) = rest.next() {
        match token.kind {
            Kind::CBrace if !top => {
                out.push(token);
                return;
            }
            Kind::Ident if rest.peek().is_some_and(|t| t.kind == Kind::Equal) => {
                out.push(token);
                if let Some(equal) = rest.next() {
                    out.push(equal);
                }
                let value = attribute_value(rest);
                out.extend(unwrap_interpolation(value));
            }
            Kind::Ident => {
                out.push(token);
                block_header(rest, out);
            }
            _ => out.push(token),
        }
    }
}

/// Labels up to the block's `{`, names quoted, then its body.
fn block_header<'t>(rest: &mut Rest<'t>, out: &mut Vec<Token<'t>>) {
    while let Some(token) = rest.next() {
        match token.kind {
            Kind::Ident => {
                out.push(Token::made(Kind::OQuote, "\""));
                out.push(Token::made(Kind::QuotedLit, token.text));
                out.push(Token::made(Kind::CQuote, "\""));
            }
            Kind::OBrace => {
                out.push(token);
                body(rest, out, false);
                return;
            }
            _ => out.push(token),
        }
    }
}

/// The tokens of an attribute's value: up to the newline (or `}` of a
/// one-line block) at its own bracket depth.
fn attribute_value<'t>(rest: &mut Rest<'t>) -> Vec<Token<'t>> {
    let mut value = Vec::new();
    let mut depth = 0;
    while let Some(next) = rest.peek() {
        let change = next.kind.bracket_change();
        let ends =
            depth == 0 && (Kind::ends_line(next) || (change < 0 && next.kind == Kind::CBrace));
        if ends || (depth == 0 && next.kind == Kind::Comment) {
            break;
        }
        depth += change;
        if let Some(token) = rest.next() {
            value.push(token);
        }
    }
    value
}

/// `"${ expr }"` alone as `expr`, as `terraform fmt` does.
fn unwrap_interpolation(value: Vec<Token<'_>>) -> Vec<Token<'_>> {
    let n = value.len();
    let shaped = n >= 5
        && value[0].kind == Kind::OQuote
        && value[1].kind == Kind::TemplateInterp
        && value[n - 2].kind == Kind::TemplateSeqEnd
        && value[n - 1].kind == Kind::CQuote;
    if !shaped || !single_interpolation(&value[2..n - 2]) {
        return value;
    }
    let mut inside: Vec<Token<'_>> = value.into_iter().skip(2).take(n - 4).collect();
    while inside.first().is_some_and(|t| t.kind == Kind::Newline) {
        inside.remove(0);
    }
    while inside.last().is_some_and(|t| t.kind == Kind::Newline) {
        inside.pop();
    }
    let multi_line = inside.iter().any(|t| t.kind == Kind::Newline);
    let parenthesised = inside.first().is_some_and(|t| t.kind == Kind::OParen)
        && inside.last().is_some_and(|t| t.kind == Kind::CParen);
    if multi_line && !parenthesised {
        inside.insert(0, Token::made(Kind::OParen, "("));
        inside.push(Token::made(Kind::CParen, ")"));
    }
    inside
}

/// No text and no other interpolation outside nested strings.
fn single_interpolation(inside: &[Token<'_>]) -> bool {
    let mut quotes = 0;
    for token in inside {
        match token.kind {
            Kind::OQuote => quotes += 1,
            Kind::CQuote => quotes -= 1,
            _ if quotes > 0 => {}
            Kind::TemplateInterp | Kind::TemplateSeqEnd | Kind::QuotedLit => return false,
            _ => {}
        }
    }
    true
}
