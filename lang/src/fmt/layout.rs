//! The layout `terraform fmt` gives a file (hclwrite's rules), on tokens:
//! lines are split at newlines (a heredoc stays on the line that opens
//! it); each line is indented two spaces per enclosing line that opened
//! brackets (not per bracket); spaces between tokens follow one set of
//! rules; `=` of consecutive one-line attributes and trailing comments of
//! consecutive lines are aligned. Blank lines are kept as they are.

use super::tokens::{Kind, Token};

/// A line in three cells: what comes before `=`, the `= value` of a
/// one-line attribute, and a trailing comment.
struct Line {
    lead: std::ops::Range<usize>,
    assign: Option<std::ops::Range<usize>>,
    comment: Option<usize>,
}

pub(super) fn format(tokens: &mut [Token<'_>]) {
    let lines = lines(tokens);
    indent(tokens, &lines);
    spaces(tokens, &lines);
    align(tokens, &lines);
}

fn lines(tokens: &[Token<'_>]) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, token) in tokens.iter().enumerate() {
        if Kind::ends_line(token) {
            lines.push(cells(tokens, start..i + 1));
            start = i + 1;
        }
    }
    // The end of the file is on no line: the spaces before it stay.
    let end = tokens.len() - usize::from(tokens.last().is_some_and(|t| t.kind == Kind::Eof));
    if start < end {
        lines.push(cells(tokens, start..end));
    }
    lines
}

/// Splits a line into its cells.
fn cells(tokens: &[Token<'_>], range: std::ops::Range<usize>) -> Line {
    let mut lead = range.clone();
    let mut comment = None;
    if lead.len() > 1 && tokens[lead.end - 1].kind == Kind::Comment {
        comment = Some(lead.end - 1);
        lead.end -= 1;
    }
    let mut assign = None;
    if let Some(equal) = (lead.start + 1..lead.end).find(|&i| tokens[i].kind == Kind::Equal) {
        // Only a value that is whole on this line (brackets balanced up to
        // a heredoc) joins the alignment.
        if net_brackets(&tokens[equal..lead.end]) == 0 {
            assign = Some(equal..lead.end);
            lead.end = equal;
        }
    }
    Line {
        lead,
        assign,
        comment,
    }
}

fn net_brackets(tokens: &[Token<'_>]) -> i32 {
    let mut net = 0;
    for token in tokens {
        net += token.kind.bracket_change();
        if token.kind == Kind::OHeredoc {
            break;
        }
    }
    net
}

/// Two spaces per enclosing line with a net opening of brackets; a line
/// that closes them goes back as far as those lines' levels it closes.
fn indent(tokens: &mut [Token<'_>], lines: &[Line]) {
    let mut levels: Vec<i32> = Vec::new();
    for line in lines {
        let whole = line.lead.start..line.assign.as_ref().map_or(line.lead.end, |a| a.end);
        let Some(first) = tokens.get(whole.start) else {
            continue;
        };
        if first.kind == Kind::Newline || whole.is_empty() {
            if let Some(t) = tokens.get_mut(whole.start) {
                t.spaces_before = 0;
            }
            continue;
        }
        let net = net_brackets(&tokens[whole.clone()]);
        if net > 0 {
            tokens[whole.start].spaces_before = 2 * levels.len();
            levels.push(net);
            continue;
        }
        let mut closed = -net;
        while closed > 0 {
            let Some(top) = levels.last_mut() else {
                break;
            };
            if closed >= *top {
                closed -= *top;
                levels.pop();
            } else {
                *top -= closed;
                closed = 0;
            }
        }
        tokens[whole.start].spaces_before = 2 * levels.len();
    }
}

fn spaces(tokens: &mut [Token<'_>], lines: &[Line]) {
    for line in lines {
        space_cell(tokens, line.lead.clone());
        if let Some(assign) = &line.assign {
            tokens[assign.start].spaces_before = 1;
            space_cell(tokens, assign.clone());
        }
    }
}

fn space_cell(tokens: &mut [Token<'_>], cell: std::ops::Range<usize>) {
    for i in cell.clone() {
        if i + 1 >= cell.end {
            break;
        }
        let before = (i > cell.start).then(|| tokens[i - 1].kind);
        let space = space_after(tokens[i].kind, before, tokens[i + 1].kind, &tokens[i].text);
        tokens[i + 1].spaces_before = usize::from(space);
    }
}

/// Whether one space separates `subject` from the token `after` it
/// (hclwrite's `spaceAfterToken`).
fn space_after(subject: Kind, before: Option<Kind>, after: Kind, subject_text: &str) -> bool {
    use Kind::*;
    let literal = |k: Kind| matches!(k, QuotedLit | StringLit);
    match () {
        _ if after == Newline => false,
        _ if subject == Ident && after == OParen => false,
        _ if subject == Dot || after == Dot => false,
        _ if after == Comma || after == Ellipsis => false,
        _ if subject == Comma => true,
        _ if literal(subject)
            || subject == OQuote
            || subject == OHeredoc
            || literal(after)
            || after == CQuote
            || after == CHeredoc =>
        {
            false
        }
        _ if subject == Ident && subject_text == "in" && before == Some(Ident) => true,
        _ if after == OBrack
            && (subject == Ident || subject == Number || subject.bracket_change() < 0) =>
        {
            false
        }
        // A minus after nothing that ends a value is a negation.
        _ if subject == Minus => !matches!(
            before,
            None | Some(
                OParen
                    | OBrace
                    | OBrack
                    | Equal
                    | Colon
                    | Comma
                    | Question
                    | Minus
                    | Bang
                    | Operator
            )
        ),
        _ if subject == OBrace || after == CBrace => !(subject == OBrace && after == CBrace),
        _ if matches!(subject, TemplateInterp | TemplateControl) && after == OBrace => true,
        _ if subject == CBrace && after == TemplateSeqEnd => true,
        _ if subject == TemplateSeqEnd && matches!(after, TemplateInterp | TemplateControl) => {
            false
        }
        _ if subject.bracket_change() > 0 => false,
        _ if after.bracket_change() < 0 => false,
        _ if subject == Bang => false,
        _ => true,
    }
}

/// Aligns `=` of runs of lines with a one-line attribute, then trailing
/// comments of runs of lines that have one. Widths are in characters.
fn align(tokens: &mut [Token<'_>], lines: &[Line]) {
    let width = |tokens: &[Token<'_>], range: &std::ops::Range<usize>| -> usize {
        tokens[range.clone()]
            .iter()
            .map(|t| t.spaces_before + t.text.chars().count())
            .sum()
    };
    let mut run: Vec<&Line> = Vec::new();
    let flush_assign = |tokens: &mut [Token<'_>], run: &mut Vec<&Line>| {
        let widest = run
            .iter()
            .map(|l| width(tokens, &l.lead))
            .max()
            .unwrap_or(0);
        for line in run.drain(..) {
            if let Some(assign) = &line.assign {
                tokens[assign.start].spaces_before = widest - width(tokens, &line.lead) + 1;
            }
        }
    };
    for line in lines {
        if line.assign.is_some() {
            run.push(line);
        } else {
            flush_assign(tokens, &mut run);
        }
    }
    flush_assign(tokens, &mut run);
    let before_comment = |tokens: &[Token<'_>], line: &Line| {
        width(tokens, &line.lead) + line.assign.as_ref().map_or(0, |a| width(tokens, a))
    };
    let flush_comments = |tokens: &mut [Token<'_>], run: &mut Vec<&Line>| {
        let widest = run
            .iter()
            .map(|l| before_comment(tokens, l))
            .max()
            .unwrap_or(0);
        for line in run.drain(..) {
            if let Some(comment) = line.comment {
                tokens[comment].spaces_before = widest - before_comment(tokens, line) + 1;
            }
        }
    };
    for line in lines {
        if line.comment.is_some() {
            run.push(line);
        } else {
            flush_comments(tokens, &mut run);
        }
    }
    flush_comments(tokens, &mut run);
}
