//! Parsing: text → [`ast::Body`] and diagnostics. The only module that
//! knows pest; no pest type leaves it.
//!
//! Parsing never fails: a file with errors still gives a tree (the lines it
//! could not read are left out) and one diagnostic per bad line, so every
//! syntax error of a file is reported at once.

pub mod ast;
mod brackets;
mod scanner;
mod template;

pub use brackets::MAX_NESTING;

use crate::diagnostics::{Code, Diagnostic};
use crate::source::{FileId, Span};
use ast::*;
use imm_stdlib::number::Number;
use pest::iterators::{Pair, Pairs};
use pest::Parser as _;
use std::iter::Peekable;

#[derive(pest_derive::Parser)]
#[grammar = "syntax/grammar.pest"]
struct ImmParser;

/// A parsed file: the tree and the problems found.
#[derive(Debug)]
pub struct Parsed {
    pub body: Body,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses a whole `.imm` file.
pub fn parse_file(file: FileId, text: &str) -> Parsed {
    let (checked, bracket_problems) = brackets::check_file(file, text);
    let mut parsed = parse_balanced(file, &checked);
    if !bracket_problems.is_empty() {
        parsed.diagnostics.extend(bracket_problems);
        parsed.diagnostics.sort_by_key(|d| d.span.map(|s| s.start));
    }
    parsed
}

/// Parses text whose brackets are balanced (see `brackets`): first with
/// its literals read by the scanner and its top-level blocks in parallel
/// (large files); when that finds any problem, again as pest reads the
/// whole text, for pest's own messages.
fn parse_balanced(file: FileId, text: &str) -> Parsed {
    limit_calls(text.len());
    let masked = scanner::mask(text);
    let chunks = chunks(text.len(), &masked.boundaries);
    if masked.text.is_some() || chunks.len() > 2 {
        if let Some(body) = parse_fast(file, text, &masked, &chunks, true) {
            return Parsed {
                body,
                diagnostics: Vec::new(),
            };
        }
    }
    parse_whole(file, text)
}

/// Files at least this large have their top-level blocks parsed on
/// several threads.
const PARALLEL_MIN_BYTES: usize = 512 * 1024;

/// The stack of a parsing thread: parsing recurses once per nesting level
/// (at most [`MAX_NESTING`]); this is ample even for debug builds.
const PARSER_STACK: usize = 64 * 1024 * 1024;

/// Cuts `0..len` at top-level boundaries into one piece per core (a
/// single piece for small files).
fn chunks(len: usize, boundaries: &[usize]) -> Vec<usize> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut cuts = vec![0];
    if len >= PARALLEL_MIN_BYTES && threads > 1 {
        for k in 1..threads {
            let target = len / threads * k;
            let at = boundaries.partition_point(|&b| b < target);
            if let Some(&cut) = boundaries.get(at) {
                if cut > *cuts.last().unwrap_or(&0) && cut < len {
                    cuts.push(cut);
                }
            }
        }
    }
    cuts.push(len);
    cuts
}

/// The tree of a file read with its literals masked, `None` at the first
/// problem of any kind.
fn parse_fast(
    file: FileId,
    text: &str,
    masked: &scanner::Masked,
    cuts: &[usize],
    parallel: bool,
) -> Option<Body> {
    let input = masked.text.as_deref().unwrap_or(text);
    let ranges: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
    let parse = |(start, end): (usize, usize)| {
        let mut builder = Builder::new(file, text);
        builder.offset = start;
        builder.literals = &masked.literals;
        builder.fast = true;
        let pairs = ImmParser::parse(Rule::file, input.get(start..end)?).ok()?;
        let body_pair = pairs.into_iter().next()?.into_inner().next()?;
        let body = builder.body(body_pair);
        (builder.diagnostics.is_empty() && !builder.gave_up).then_some(body)
    };
    let bodies: Vec<Option<Body>> = match ranges.as_slice() {
        _ if !parallel => ranges.iter().map(|range| parse(*range)).collect(),
        [one] => vec![parse(*one)],
        _ => std::thread::scope(|scope| {
            let handles: Vec<_> = ranges
                .iter()
                .map(|range| {
                    std::thread::Builder::new()
                        .stack_size(PARSER_STACK)
                        .spawn_scoped(scope, move || parse(*range))
                })
                .collect();
            handles
                .into_iter()
                .zip(&ranges)
                .map(|(handle, range)| match handle.map(|h| h.join()) {
                    Ok(Ok(body)) => body,
                    // A thread that could not start: parse its part here.
                    _ => parse(*range),
                })
                .collect()
        }),
    };
    let mut items = Vec::new();
    for body in bodies {
        items.extend(body?.items);
    }
    Some(Body { items })
}

/// For the fuzzer and tests: reads `text` on the fast path (literals
/// masked, and also cut at every top-level boundary) and with pest alone;
/// wherever the fast path accepts the text, pest must give the same tree
/// and no diagnostic. Says how they differ otherwise.
pub fn compare_fast_path(text: &str) -> Result<(), String> {
    let file = FileId(0);
    let (checked, _) = brackets::check_file(file, text);
    let len = checked.len();
    limit_calls(len);
    let masked = scanner::mask(&checked);
    let mut every_boundary = vec![0];
    every_boundary.extend(masked.boundaries.iter().filter(|&&b| b > 0 && b < len));
    every_boundary.push(len);
    for cuts in [vec![0, len], every_boundary] {
        let Some(fast) = parse_fast(file, &checked, &masked, &cuts, false) else {
            continue;
        };
        let whole = parse_whole(file, &checked);
        if let Some(d) = whole.diagnostics.first() {
            return Err(format!(
                "the fast path (cut at {cuts:?}) accepts what pest alone rejects: {}",
                d.message
            ));
        }
        let (fast, whole) = (format!("{fast:#?}"), format!("{:#?}", whole.body));
        if fast != whole {
            return Err(format!(
                "the fast path (cut at {cuts:?}) reads another tree:\n{fast}\npest alone:\n{whole}"
            ));
        }
    }
    Ok(())
}

/// Parses the whole text with pest alone.
fn parse_whole(file: FileId, text: &str) -> Parsed {
    let mut builder = Builder::new(file, text);
    let body = match ImmParser::parse(Rule::file, text) {
        Ok(mut pairs) => {
            let file_pair = pairs.next();
            let body_pair = file_pair.and_then(|p| p.into_inner().next());
            match body_pair {
                Some(p) => builder.body(p),
                None => Body::default(),
            }
        }
        Err(err) => {
            builder.diagnostics.push(builder.pest_error(err, 0));
            Body::default()
        }
    };
    Parsed {
        body,
        diagnostics: builder.diagnostics,
    }
}

/// Parses a standalone expression (a `--var` value, a test case).
pub fn parse_expression(file: FileId, text: &str) -> Result<Expr, Diagnostic> {
    if let Some(diag) = brackets::check(file, text) {
        return Err(diag);
    }
    let mut builder = Builder::new(file, text);
    let pairs = ImmParser::parse(Rule::expr_alone, text).map_err(|e| builder.pest_error(e, 0))?;
    let expr_pair = pairs
        .into_iter()
        .next()
        .and_then(|p| p.into_inner().next())
        .ok_or_else(|| {
            Diagnostic::at(
                Code::Syntax,
                Span::new(file, 0, 0),
                "expected an expression",
            )
        })?;
    let expr = builder.expr(expr_pair);
    match builder.diagnostics.into_iter().next() {
        Some(d) => Err(d),
        None => Ok(expr),
    }
}

/// Parses a template file (`templatefile`): text with `${ }` interpolations
/// and `%{ }` directives.
pub fn parse_template(file: FileId, text: &str) -> Result<Vec<TemplatePart>, Diagnostic> {
    if let Some(diag) = brackets::check(file, text) {
        return Err(diag);
    }
    let mut builder = Builder::new(file, text);
    let pairs = ImmParser::parse(Rule::template, text).map_err(|e| builder.pest_error(e, 0))?;
    let pieces = builder.pieces(pairs.flat_map(|p| p.into_inner()));
    let parts = builder.template_parts(pieces, template::Layout::Lines);
    match builder.diagnostics.into_iter().next() {
        Some(d) => Err(d),
        None => Ok(parts),
    }
}

/// A safety net under the bracket check: a parse may make at most this
/// many rule calls per byte (normal text needs a few), so no input can
/// make pest backtrack for minutes. Past it, pest reports an error.
const CALLS_PER_BYTE: usize = 500;

fn limit_calls(len: usize) {
    let limit = len.saturating_mul(CALLS_PER_BYTE).saturating_add(1_000_000);
    // The limit is process-wide; never lower it while another thread parses
    // a larger file.
    let current = CURRENT_LIMIT.fetch_max(limit, std::sync::atomic::Ordering::Relaxed);
    if limit > current {
        pest::set_call_limit(std::num::NonZeroUsize::new(limit));
    }
}

static CURRENT_LIMIT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A binary operator and how tightly it binds (higher binds tighter); all
/// are left-associative, as in HCL.
fn binary_operator(rule: Rule) -> Option<(BinaryOp, u8)> {
    let operator = match rule {
        Rule::or => (BinaryOp::Or, 1),
        Rule::and => (BinaryOp::And, 2),
        Rule::eq => (BinaryOp::Eq, 3),
        Rule::ne => (BinaryOp::Ne, 3),
        Rule::lt => (BinaryOp::Lt, 4),
        Rule::le => (BinaryOp::Le, 4),
        Rule::gt => (BinaryOp::Gt, 4),
        Rule::ge => (BinaryOp::Ge, 4),
        Rule::add => (BinaryOp::Add, 5),
        Rule::sub => (BinaryOp::Sub, 5),
        Rule::mul => (BinaryOp::Mul, 6),
        Rule::div => (BinaryOp::Div, 6),
        Rule::rem => (BinaryOp::Rem, 6),
        _ => return None,
    };
    Some(operator)
}

/// The rules of the kinds of operand, said "an expression" together
/// (`ident` is the name a variable or call starts with).
fn is_operand(rule: &Rule) -> bool {
    matches!(
        rule,
        Rule::string_lit
            | Rule::call_or_variable
            | Rule::ident
            | Rule::number
            | Rule::for_tuple
            | Rule::tuple
            | Rule::for_object
            | Rule::object
            | Rule::paren
            | Rule::heredoc
            | Rule::heredoc_intro
    )
}

/// Human names for pest rules in "expected …" messages.
fn rule_name(rule: &Rule) -> &'static str {
    match rule {
        Rule::EOI => "end of file",
        Rule::ident => "a name",
        Rule::attribute | Rule::block => "an attribute or block",
        Rule::block_body | Rule::bad_line_in_block => "`}`",
        Rule::expr => "an expression",
        Rule::string_lit => "a string",
        Rule::number => "a number",
        Rule::heredoc | Rule::heredoc_intro => "a heredoc",
        Rule::call_or_variable => "a name",
        Rule::call_args => "`(`",
        Rule::tuple | Rule::for_tuple => "a list",
        Rule::object | Rule::for_object => "an object",
        Rule::object_item | Rule::object_key => "an object key",
        Rule::question => "`?`",
        Rule::index | Rule::splat => "`[`",
        Rule::get_attr => "`.`",
        Rule::ellipsis => "`...`",
        Rule::for_cond | Rule::kw_if => "`if`",
        Rule::kw_in => "`in`",
        Rule::kw_for => "`for`",
        Rule::directive_else => "`else`",
        Rule::directive_endif => "`endif`",
        Rule::directive_endfor => "`endfor`",
        Rule::escape => "an escape sequence",
        Rule::interpolation => "`${`",
        Rule::heredoc_line => "a heredoc line",
        Rule::or
        | Rule::and
        | Rule::eq
        | Rule::ne
        | Rule::lt
        | Rule::le
        | Rule::gt
        | Rule::ge
        | Rule::add
        | Rule::sub
        | Rule::mul
        | Rule::div
        | Rule::rem => "an operator",
        _ => "valid syntax",
    }
}

struct Builder<'t> {
    file: FileId,
    text: &'t str,
    diagnostics: Vec<Diagnostic>,
    /// `{` opened by bad lines and not yet closed: a later line holding
    /// only `}` closes one of them and is not a new error.
    unclosed_by_bad_lines: usize,
    /// Bad lines explained so far; each explanation re-parses to the end
    /// of the file, so past a limit they are reported without one.
    explained: usize,
    /// Operators stacked above the expression being built (see
    /// [`MAX_OPERATOR_DEPTH`]).
    operator_depth: usize,
    /// Where in `text` the input given to pest starts: a chunk of the file
    /// or an interpolation read on its own.
    offset: usize,
    /// Literals masked by the scanner (their start offsets, ascending):
    /// pest saw spaces there, and the scanner reads them from `text`.
    literals: &'t [usize],
    /// Reading a masked text: the first problem gives up (`gave_up`) and
    /// the file is read again unmasked, for pest's messages.
    fast: bool,
    gave_up: bool,
}

/// Operators one expression tree may stack. Evaluating and dropping a tree
/// recurse once per level, and brackets alone cannot bound a chain like
/// `1 + 1 + … + 1` (half a million of them overflowed the stack).
pub const MAX_OPERATOR_DEPTH: usize = 4096;

/// How many bad lines per file get a precise "expected …" message.
const MAX_EXPLAINED_LINES: usize = 100;

impl<'t> Builder<'t> {
    fn new(file: FileId, text: &'t str) -> Self {
        Builder {
            file,
            text,
            diagnostics: Vec::new(),
            unclosed_by_bad_lines: 0,
            explained: 0,
            operator_depth: 0,
            offset: 0,
            literals: &[],
            fast: false,
            gave_up: false,
        }
    }

    /// Where a pair starts in `text`.
    fn start(&self, pair: &Pair<'_, Rule>) -> usize {
        pair.as_span().start() + self.offset
    }

    /// Where a pair ends in `text`.
    fn end(&self, pair: &Pair<'_, Rule>) -> usize {
        pair.as_span().end() + self.offset
    }

    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        Span::new(self.file, self.start(pair), self.end(pair))
    }

    /// A pair's span without the trailing whitespace pest may count in.
    fn trimmed_span(&self, pair: &Pair<'_, Rule>) -> Span {
        let start = self.start(pair);
        let text = &self.text[start..self.end(pair)];
        let trimmed = text.trim_end_matches([' ', '\t', '\r', '\n']);
        Span::new(self.file, start, start + trimmed.len())
    }

    /// Turns a pest error into a diagnostic, shifting it by `offset` bytes.
    fn pest_error(&self, err: pest::error::Error<Rule>, offset: usize) -> Diagnostic {
        use pest::error::{ErrorVariant, InputLocation};
        let (start, end) = match err.location {
            InputLocation::Pos(p) => (p, p),
            InputLocation::Span((s, e)) => (s, e),
        };
        let (start, end) = (start + offset, end + offset);
        let found = self.text[start.min(self.text.len())..]
            .chars()
            .next()
            .map(|c| match c {
                '\n' => "a newline".to_string(),
                c => format!("`{c}`"),
            })
            .unwrap_or_else(|| "the end of the file".into());
        let punctuation = expected_punctuation(&err);
        let in_string = matches!(&err.variant, ErrorVariant::ParsingError { positives, .. } if positives.contains(&Rule::escape));
        let at_line_end = matches!(
            self.text[start.min(self.text.len())..].chars().next(),
            None | Some('\n')
        );
        if in_string && at_line_end {
            return Diagnostic::at(
                Code::Syntax,
                Span::new(self.file, start, start),
                "this string is not closed",
            )
            .with_primary_label("the line ends here")
            .with_help(
                "add the closing `\"`; a string cannot span lines (use a heredoc <<EOT for that)",
            );
        }
        let message = match &err.variant {
            ErrorVariant::ParsingError { .. } if !punctuation.is_empty() => {
                let names: Vec<&str> = punctuation.iter().map(String::as_str).collect();
                format!("expected {}, found {found}", join_alternatives(&names))
            }
            ErrorVariant::ParsingError { positives, .. } if !positives.is_empty() => {
                // The kinds of operand have no rule of their own around
                // them (one rule call fewer per operand): a heredoc tried
                // means every kind was, and an expression was expected.
                let expects_operand =
                    positives.contains(&Rule::heredoc) || positives.contains(&Rule::heredoc_intro);
                let mut names: Vec<&str> = positives
                    .iter()
                    .filter(|rule| !(expects_operand && is_operand(rule)))
                    .map(rule_name)
                    .collect();
                if expects_operand {
                    names.push("an expression");
                }
                // Operators and traversals are tried only where one may
                // start (guards in the grammar, for speed); wherever `?`
                // may follow an expression, so may they.
                if positives.contains(&Rule::question) {
                    names.extend(["an operator", "`.`", "`[`"]);
                }
                names.sort();
                names.dedup();
                if names.len() > 1 {
                    names.retain(|n| *n != "valid syntax");
                }
                format!("expected {}, found {found}", join_alternatives(&names))
            }
            ErrorVariant::CustomError { message } if message.contains("limit") => {
                "this file is too complex to parse (the parser gave up)".to_string()
            }
            ErrorVariant::CustomError { message } => message.clone(),
            _ => format!("unexpected {found}"),
        };
        let end = if end > start {
            end
        } else {
            next_char_end(self.text, start)
        };
        Diagnostic::at(Code::Syntax, Span::new(self.file, start, end), message)
            .with_primary_label("here")
    }

    /// Explains a line the grammar could not read, by parsing it as an item
    /// on its own to get pest's precise expectation.
    fn bad_line(&mut self, pair: &Pair<'_, Rule>, continues: Option<usize>) {
        if self.fast {
            self.gave_up = true;
            return;
        }
        let line = pair.as_str();
        if line.trim() == "}" && self.unclosed_by_bad_lines > 0 {
            self.unclosed_by_bad_lines -= 1;
            return;
        }
        self.unclosed_by_bad_lines += brace_balance(line);
        if self.explained >= MAX_EXPLAINED_LINES {
            let span = self.span(pair);
            if self.explained == MAX_EXPLAINED_LINES {
                self.diagnostics.push(
                    Diagnostic::at(
                        Code::Syntax,
                        span,
                        "too many syntax errors; the rest of this file is not checked line by line",
                    )
                    .with_help("fix the errors above first"),
                );
            }
            self.explained += 1;
            return;
        }
        self.explained += 1;
        if let Some(value_start) = continues {
            // `z = f(1 2)`: pest backtracked to `z = f`; the value up to the
            // end of the line shows where it really went wrong.
            let end = self.end(pair);
            pest::set_error_detail(true);
            let reparsed = ImmParser::parse(Rule::expr_alone, &self.text[value_start..end]);
            pest::set_error_detail(false);
            if let Err(err) = reparsed {
                let diag = self.pest_error(err, value_start);
                self.diagnostics.push(diag);
                return;
            }
        }
        let start = self.start(pair);
        let line_end = self.end(pair);
        let diag = match self.reparse_item(start, line_end) {
            // `path "x.txt"` read on as a block header to the next line:
            // the problem is that this line ends, as Terraform says.
            Err(diag) if diag.span.is_some_and(|s| s.start as usize > line_end) => {
                self.unfinished_item(line_end)
            }
            Err(diag) => diag,
            Ok(()) => {
                let end = self.end(pair);
                Diagnostic::at(
                    Code::Syntax,
                    Span::new(self.file, start, end),
                    "this line is not a valid attribute or block",
                )
                .with_help(
                    "an attribute is NAME = VALUE on one line; a block is TYPE \"LABEL\" { ... }",
                )
            }
        };
        self.diagnostics.push(diag);
    }

    /// A line that ends before its attribute or block does: `NAME "x"`
    /// with neither `=` nor `{`.
    fn unfinished_item(&self, line_end: usize) -> Diagnostic {
        let content_end = self.text[..line_end].trim_end().len();
        let newline_end = next_char_end(self.text, content_end);
        Diagnostic::at(
            Code::Syntax,
            Span::new(self.file, content_end, newline_end),
            "expected `=` or `{`, found a newline",
        )
        .with_primary_label("the line ends here")
        .with_help("an attribute is NAME = VALUE on one line; a block is TYPE \"LABEL\" { ... }")
    }

    /// Parses one item starting at `start` to learn what pest expected.
    /// The text given to pest is a window a little past the bad line:
    /// pest's error positions cost time proportional to the text after
    /// them, so "the rest of the file" would make recovery quadratic.
    fn reparse_item(&self, start: usize, line_end: usize) -> Result<(), Diagnostic> {
        const WINDOW: usize = 4096;
        let mut end = (line_end + WINDOW).min(self.text.len());
        while !self.text.is_char_boundary(end) {
            end += 1;
        }
        // Detail (the literal tokens tried) costs time, so only on errors.
        pest::set_error_detail(true);
        let mut result = ImmParser::parse(Rule::item_alone, &self.text[start..end]);
        let hit_window_edge = matches!(&result, Err(e) if error_position(e) + start >= end);
        if hit_window_edge && end < self.text.len() {
            result = ImmParser::parse(Rule::item_alone, &self.text[start..]);
        }
        pest::set_error_detail(false);
        result.map(|_| ()).map_err(|e| self.pest_error(e, start))
    }

    fn body(&mut self, pair: Pair<'_, Rule>) -> Body {
        let mut items = Vec::new();
        let mut previous_end: Option<usize> = None;
        let mut previous_value_start: Option<usize> = None;
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::attribute | Rule::block => {
                    let start = self.start(&child);
                    if let Some(prev) = previous_end {
                        self.require_newline_between(prev, start);
                    }
                    let item = if child.as_rule() == Rule::attribute {
                        Item::Attribute(self.attribute(child))
                    } else {
                        Item::Block(self.block(child))
                    };
                    previous_end = Some(match &item {
                        Item::Attribute(a) => a.span.end as usize,
                        Item::Block(b) => b.span.end as usize,
                    });
                    previous_value_start = match &item {
                        Item::Attribute(a) => Some(a.value.span.start as usize),
                        Item::Block(_) => None,
                    };
                    items.push(item);
                }
                Rule::bad_line | Rule::bad_line_in_block => {
                    let start = self.start(&child);
                    let same_line =
                        previous_end.is_some_and(|end| !self.text[end..start].contains('\n'));
                    self.bad_line(
                        &child,
                        if same_line {
                            previous_value_start
                        } else {
                            None
                        },
                    );
                    previous_end = None;
                    previous_value_start = None;
                }
                _ => {}
            }
        }
        Body { items }
    }

    /// A number literal's exact value; one out of range is an error here,
    /// never an infinity.
    fn number(&mut self, text: &str, span: Span) -> Number {
        match Number::parse(text) {
            Ok(n) => n,
            Err(_) => {
                self.diagnostics.push(
                    Diagnostic::at(
                        Code::NumberOutOfRange,
                        span,
                        format!("the number {} is out of range", shorten(text)),
                    )
                    .with_primary_label("out of range")
                    .with_help(Code::NumberOutOfRange.help()),
                );
                Number::zero()
            }
        }
    }

    fn require_newline_between(&mut self, prev_end: usize, next_start: usize) {
        let gap = &self.text[prev_end..next_start];
        if gap.contains('\n') {
            return;
        }
        self.diagnostics.push(
            Diagnostic::at(
                Code::NewlineExpected,
                Span::new(self.file, next_start, next_char_end(self.text, next_start)),
                "expected a newline before the next attribute or block",
            )
            .with_primary_label("starts on the same line")
            .with_help("put each attribute and block on its own line"),
        );
    }

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: self.span(&pair),
        }
    }

    fn attribute(&mut self, pair: Pair<'_, Rule>) -> Attribute {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = inner.next().map(|p| self.ident(p));
        let value = inner.next().map(|p| self.expr(p));
        let name = name.unwrap_or_else(|| Ident {
            name: String::new(),
            span,
        });
        let value = value.unwrap_or_else(|| Expr::new(ExprKind::Null, span));
        // "a = \n 1": the value must start on the attribute's line.
        let between = &self.text[name.span.end as usize..value.span.start as usize];
        if between.contains('\n') {
            self.diagnostics.push(
                Diagnostic::at(
                    Code::NewlineExpected,
                    name.span,
                    "the value of an attribute must start on the same line as its name",
                )
                .with_help(
                    "write NAME = VALUE on one line; the value itself may continue inside brackets",
                ),
            );
        }
        // pest counts trailing whitespace into the pair; end at the value.
        let span = Span::new(self.file, span.start as usize, value.span.end as usize);
        Attribute { name, value, span }
    }

    fn block(&mut self, pair: Pair<'_, Rule>) -> Block {
        let span = self.span(&pair);
        let mut kind = Ident {
            name: String::new(),
            span,
        };
        let mut labels = Vec::new();
        let mut body = Body::default();
        for (i, child) in pair.into_inner().enumerate() {
            match child.as_rule() {
                Rule::ident if i == 0 => kind = self.ident(child),
                Rule::ident => labels.push(self.ident(child)),
                Rule::string_lit => labels.push(self.label(child)),
                Rule::block_body => body = self.body(child),
                _ => {}
            }
        }
        let head_end = labels.last().map_or(kind.span.end, |l| l.span.end) as usize;
        self.check_single_line_block(head_end, &body, span.end as usize);
        Block {
            kind,
            labels,
            body,
            span,
        }
    }

    /// A block whose first item starts on the line of its `{` is a
    /// single-line block, as in HCL: one attribute, and the `}` on the line
    /// where that attribute ends (`a { b = 1 }`).
    fn check_single_line_block(&mut self, head_end: usize, body: &Body, end: usize) {
        let Some(first) = body.items.first() else {
            return;
        };
        let (first_start, first_end) = match first {
            Item::Attribute(a) => (a.span.start as usize, a.span.end as usize),
            Item::Block(b) => (b.span.start as usize, b.span.end as usize),
        };
        let Some(open) = self.text[head_end..first_start]
            .find('{')
            .map(|i| head_end + i)
        else {
            return;
        };
        if self.text[open..first_start].contains('\n') {
            return;
        }
        if let Item::Block(nested) = first {
            self.diagnostics.push(
                Diagnostic::at(
                    Code::Syntax,
                    nested.span,
                    "a single-line block cannot contain another block",
                )
                .with_help("put the nested block on a line of its own after the `{`"),
            );
            return;
        }
        let close = self.text[..end].rfind('}').unwrap_or(end);
        let Some(newline) = self.text[first_end..close.max(first_end)]
            .find('\n')
            .map(|i| first_end + i)
        else {
            return;
        };
        self.diagnostics.push(
            Diagnostic::at(
                Code::Syntax,
                Span::new(self.file, newline, newline + 1),
                "the closing brace of a single-line block must be on the same line",
            )
            .with_primary_label("the line ends here")
            .with_help("write a { b = 1 } on one line, or put the first attribute on a line of its own after the `{`"),
        );
    }

    fn label(&mut self, pair: Pair<'_, Rule>) -> Ident {
        self.refuse_masked_heredoc(self.span(&pair));
        let expr = self.string(pair);
        let span = expr.span;
        match expr.as_literal_string() {
            Some(s) => Ident {
                name: s.to_string(),
                span,
            },
            None => {
                self.diagnostics.push(
                    Diagnostic::at(
                        Code::InterpolatedLabel,
                        span,
                        "a block label cannot contain ${...}",
                    )
                    .with_help("write the label as a plain string"),
                );
                Ident {
                    name: String::new(),
                    span,
                }
            }
        }
    }

    fn expr(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.trimmed_span(&pair);
        let mut inner = pair.into_inner().peekable();
        if inner.peek().is_none() {
            return Expr::new(ExprKind::Null, span);
        }
        let depth_outside = self.operator_depth;
        let condition = self.operation(&mut inner, 0);
        self.operator_depth = depth_outside;
        if inner.next().is_none() {
            return condition;
        }
        let then = inner.next().map(|p| self.expr(p));
        let otherwise = inner.next().map(|p| self.expr(p));
        match (then, otherwise) {
            (Some(a), Some(b)) => Expr::new(
                ExprKind::Conditional(Box::new(condition), Box::new(a), Box::new(b)),
                span,
            ),
            _ => condition,
        }
    }

    /// Groups an expression's flat operands and operators (the grammar
    /// gives them as a sequence) by precedence climbing; stops before `?`.
    fn operation<'i>(&mut self, pairs: &mut Peekable<Pairs<'i, Rule>>, min_binding: u8) -> Expr {
        let mut lhs = self.operand(pairs);
        while let Some((op, binding)) = pairs.peek().and_then(|p| binary_operator(p.as_rule())) {
            if binding < min_binding {
                break;
            }
            let Some(operator) = pairs.next() else { break };
            if !self.stack_operator(&operator, pairs) {
                break;
            }
            let rhs = self.operation(pairs, binding + 1);
            let span = lhs.span.to(rhs.span);
            lhs = Expr::new(ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span);
        }
        lhs
    }

    /// A primary with its traversals, under any `-` and `!`; traversals
    /// bind tighter: `-a.b` is `-(a.b)`.
    fn operand<'i>(&mut self, pairs: &mut Peekable<Pairs<'i, Rule>>) -> Expr {
        let Some(first) = pairs.next() else {
            return Expr::new(ExprKind::Null, Span::new(self.file, 0, 0));
        };
        let start = self.start(&first);
        let op = match first.as_rule() {
            Rule::neg => UnaryOp::Neg,
            Rule::not => UnaryOp::Not,
            _ => {
                let primary = self.primary(first);
                return self.traversals(primary, pairs);
            }
        };
        if !self.stack_operator(&first, pairs) {
            return Expr::new(ExprKind::Null, Span::new(self.file, start, start));
        }
        let operand = self.operand(pairs);
        let span = Span::new(self.file, start, operand.span.end as usize);
        if let (UnaryOp::Neg, ExprKind::Number(n)) = (op, &operand.kind) {
            return Expr::new(ExprKind::Number(n.neg()), span);
        }
        Expr::new(ExprKind::Unary(op, Box::new(operand)), span)
    }

    /// Counts one more operator in the expression being built; past
    /// [`MAX_OPERATOR_DEPTH`], reports it and skips the rest of the chain.
    fn stack_operator<'i>(
        &mut self,
        operator: &Pair<'i, Rule>,
        pairs: &mut Peekable<Pairs<'i, Rule>>,
    ) -> bool {
        self.operator_depth += 1;
        if self.operator_depth <= MAX_OPERATOR_DEPTH {
            return true;
        }
        while pairs.next_if(|p| p.as_rule() != Rule::question).is_some() {}
        self.diagnostics.push(
            Diagnostic::at(
                Code::TooDeep,
                self.span(operator),
                format!("this expression chains more than {MAX_OPERATOR_DEPTH} operators"),
            )
            .with_help("split it into several locals"),
        );
        false
    }

    fn traversals<'i>(&mut self, mut expr: Expr, pairs: &mut Peekable<Pairs<'i, Rule>>) -> Expr {
        while let Some(postfix) =
            pairs.next_if(|p| matches!(p.as_rule(), Rule::splat | Rule::get_attr | Rule::index))
        {
            let end = self.end(&postfix);
            expr = self.apply_postfix(expr, postfix, end);
        }
        expr
    }

    /// Applies `.name`, `[i]` or `[*]`. After a splat, later traversals
    /// apply to each element, so they go inside the splat.
    fn apply_postfix(&mut self, expr: Expr, postfix: Pair<'_, Rule>, end: usize) -> Expr {
        let span = Span::new(self.file, expr.span.start as usize, end);
        if let ExprKind::Splat(source, each) = expr.kind {
            if postfix.as_rule() != Rule::splat {
                let each = self.apply_postfix(*each, postfix, end);
                return Expr::new(ExprKind::Splat(source, Box::new(each)), span);
            }
            let expr = Expr::new(ExprKind::Splat(source, each), span);
            let item = Expr::new(ExprKind::SplatItem, span);
            return Expr::new(ExprKind::Splat(Box::new(expr), Box::new(item)), span);
        }
        match postfix.as_rule() {
            Rule::splat => {
                let item = Expr::new(ExprKind::SplatItem, span);
                Expr::new(ExprKind::Splat(Box::new(expr), Box::new(item)), span)
            }
            Rule::get_attr => {
                let name = postfix.into_inner().next();
                match name {
                    Some(n) if n.as_rule() == Rule::attr_number => {
                        let index_span = self.span(&n);
                        let number = Number::parse(n.as_str()).unwrap_or_else(|_| Number::zero());
                        let index = Expr::new(ExprKind::Number(number), index_span);
                        Expr::new(ExprKind::Index(Box::new(expr), Box::new(index)), span)
                    }
                    Some(n) => {
                        let ident = self.ident(n);
                        Expr::new(ExprKind::GetAttr(Box::new(expr), ident), span)
                    }
                    None => expr,
                }
            }
            _ => match postfix.into_inner().next() {
                Some(index) => {
                    let index = self.expr(index);
                    Expr::new(ExprKind::Index(Box::new(expr), Box::new(index)), span)
                }
                None => expr,
            },
        }
    }

    fn primary(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::number => ExprKind::Number(self.number(pair.as_str(), span)),
            Rule::string_lit => return self.string(pair),
            Rule::heredoc => return self.heredoc(pair),
            Rule::call_or_variable => return self.call_or_variable(pair),
            Rule::paren => match pair.into_inner().next() {
                Some(inner) => ExprKind::Paren(Box::new(self.expr(inner))),
                None => ExprKind::Null,
            },
            Rule::tuple => ExprKind::Tuple(pair.into_inner().map(|p| self.expr(p)).collect()),
            Rule::object => ExprKind::Object(self.object(pair)),
            Rule::for_tuple | Rule::for_object => return self.for_expr(pair),
            _ => ExprKind::Null,
        };
        Expr::new(kind, span)
    }

    fn call_or_variable(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.trimmed_span(&pair);
        let mut inner = pair.into_inner();
        let name = match inner.next() {
            Some(n) => self.ident(n),
            None => return Expr::new(ExprKind::Null, span),
        };
        let literal = match name.name.as_str() {
            "true" => Some(ExprKind::Bool(true)),
            "false" => Some(ExprKind::Bool(false)),
            "null" => Some(ExprKind::Null),
            _ => None,
        };
        let call_args = inner.next();
        if let Some(kind) = literal {
            if let Some(call_args) = &call_args {
                self.not_callable(&name, call_args);
            }
            return Expr::new(kind, name.span);
        }
        let Some(call_args) = call_args else {
            return Expr::new(ExprKind::Variable(name), span);
        };
        let mut args = Vec::new();
        let mut expand_final = false;
        for p in call_args.into_inner() {
            match p.as_rule() {
                Rule::ellipsis => expand_final = true,
                _ => args.push(self.expr(p)),
            }
        }
        Expr::new(
            ExprKind::Call(Box::new(Call {
                name,
                args,
                expand_final,
            })),
            span,
        )
    }

    /// `true(…)`: a literal is not a function (HCL reads `true` as the
    /// value, then finds `(` where the expression should have ended).
    fn not_callable(&mut self, name: &Ident, call_args: &Pair<'_, Rule>) {
        let open = self.start(call_args);
        self.diagnostics.push(
            Diagnostic::at(
                Code::Syntax,
                Span::new(self.file, open, next_char_end(self.text, open)),
                format!("`{}` is a value, not a function", name.name),
            )
            .with_primary_label("unexpected `(`")
            .with_label(name.span, "a literal value")
            .with_help(format!(
                "remove the parentheses and what they hold: `{}`",
                name.name
            )),
        );
    }

    /// Object items, each separated from the next by a comma or a newline.
    fn object(&mut self, pair: Pair<'_, Rule>) -> Vec<(ObjectKey, Expr)> {
        let mut items = Vec::new();
        let mut previous_end: Option<usize> = None;
        for item in pair.into_inner() {
            let start = self.start(&item);
            let Some((key, value)) = self.object_item(item) else {
                continue;
            };
            if let Some(end) = previous_end {
                let gap = &self.text[end..start];
                if !gap.contains(',') && !gap.contains('\n') {
                    self.diagnostics.push(
                        Diagnostic::at(
                            Code::Syntax,
                            Span::new(self.file, start, next_char_end(self.text, start)),
                            "expected `,` or a newline between object items",
                        )
                        .with_help("separate the items: { a = 1, b = 2 }"),
                    );
                }
            }
            previous_end = Some(value.span.end as usize);
            items.push((key, value));
        }
        items
    }

    fn object_item(&mut self, pair: Pair<'_, Rule>) -> Option<(ObjectKey, Expr)> {
        let mut inner = pair.into_inner();
        let key_pair = inner.next()?.into_inner().next()?;
        let value = self.expr(inner.next()?);
        let key = match key_pair.as_rule() {
            Rule::ident => ObjectKey::Name(self.ident(key_pair)),
            Rule::string_lit => {
                self.refuse_masked_heredoc(self.span(&key_pair));
                ObjectKey::Expr(self.string(key_pair))
            }
            _ => ObjectKey::Expr(self.primary(key_pair)),
        };
        Some((key, value))
    }

    fn for_expr(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        let is_object = pair.as_rule() == Rule::for_object;
        let mut key_var = None;
        let mut value_var = None;
        let mut collection = None;
        let mut exprs = Vec::new();
        let mut condition = None;
        let mut grouping = false;
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::for_intro => {
                    let mut names = Vec::new();
                    for p in child.into_inner() {
                        match p.as_rule() {
                            Rule::ident => names.push(self.ident(p)),
                            Rule::expr => collection = Some(self.expr(p)),
                            _ => {}
                        }
                    }
                    if names.len() == 2 {
                        value_var = names.pop();
                        key_var = names.pop();
                    } else {
                        value_var = names.pop();
                    }
                }
                Rule::expr => exprs.push(self.expr(child)),
                Rule::ellipsis => grouping = true,
                Rule::for_cond => {
                    condition = child
                        .into_inner()
                        .find(|p| p.as_rule() == Rule::expr)
                        .map(|p| self.expr(p));
                }
                _ => {}
            }
        }
        let null = || Expr::new(ExprKind::Null, span);
        let (key, value) = if is_object && exprs.len() == 2 {
            let value = exprs.pop().unwrap_or_else(null);
            (exprs.pop(), value)
        } else {
            (None, exprs.pop().unwrap_or_else(null))
        };
        let for_expr = ForExpr {
            key_var,
            value_var: value_var.unwrap_or(Ident {
                name: String::new(),
                span,
            }),
            collection: collection.unwrap_or_else(null),
            key,
            value,
            condition,
            grouping,
        };
        Expr::new(ExprKind::For(Box::new(for_expr)), span)
    }

    fn string(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        if self.literals.binary_search(&(span.start as usize)).is_ok() {
            return self.scanned_literal(span.start as usize);
        }
        // Most strings are plain text: no pieces to strip or pair up.
        let mut inner = pair.clone().into_inner();
        if let (Some(only), None) = (inner.next(), inner.next()) {
            if only.as_rule() == Rule::string_text {
                let mut text = only.as_str().to_string();
                imm_stdlib::value::normalize(&mut text);
                return Expr::new(ExprKind::Template(vec![TemplatePart::Literal(text)]), span);
            }
        }
        let pieces = self.pieces(pair.into_inner());
        self.quoted(pieces, span)
    }

    /// A quoted string from its pieces.
    fn quoted(&mut self, pieces: Vec<template::Piece>, span: Span) -> Expr {
        // As in HCL, `"${x}"` alone is `x` itself, not converted to a string.
        let single = matches!(pieces.as_slice(), [template::Piece::Interpolation(_)]);
        let mut parts = self.template_parts(pieces, template::Layout::Quoted);
        if single {
            if let Some(TemplatePart::Interpolation(inner)) = parts.pop() {
                return Expr::new(ExprKind::Paren(inner), span);
            }
        }
        Expr::new(ExprKind::Template(parts), span)
    }

    /// Where only a quoted string is allowed (a label, an object key),
    /// a heredoc the scanner masked must not pass for one.
    fn refuse_masked_heredoc(&mut self, span: Span) {
        let start = span.start as usize;
        let heredoc = matches!(
            scanner::literal_kind(self.text, start),
            Some(scanner::Literal::Heredoc { .. })
        );
        if heredoc && self.literals.binary_search(&start).is_ok() {
            self.gave_up = true;
        }
    }

    fn heredoc(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        let mut layout = template::Layout::Lines;
        let mut pieces = Vec::new();
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::heredoc_intro if child.as_str() == "<<-" => {
                    layout = template::Layout::IndentedLines
                }
                Rule::heredoc_line => {
                    for piece in self.pieces(child.into_inner()) {
                        template::push_piece(&mut pieces, piece);
                    }
                    template::push_piece(&mut pieces, template::Piece::Text("\n".into()));
                }
                _ => {}
            }
        }
        let parts = self.template_parts(pieces, layout);
        Expr::new(ExprKind::Template(parts), span)
    }
}

/// Separators and closing brackets pest tried at the error, which say
/// more to a user than rule names ("expected `,` or `]`").
fn expected_punctuation(err: &pest::error::Error<Rule>) -> Vec<String> {
    // Openers (`{`, `"`) are tried wherever an expression may start; only
    // separators and closers say what is missing.
    const USEFUL: &[&str] = &[",", "]", ")", "}", "=", ":", "=>"];
    let Some(attempts) = err.parse_attempts() else {
        return Vec::new();
    };
    let mut out: Vec<String> = attempts
        .expected_tokens()
        .into_iter()
        .map(|t| t.to_string())
        .filter(|token| USEFUL.contains(&token.as_str()))
        .map(|token| format!("`{token}`"))
        .collect();
    out.dedup();
    out
}

fn error_position(err: &pest::error::Error<Rule>) -> usize {
    match err.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((_, e)) => e,
    }
}

/// How many more `{` than `}` a line opens, outside strings.
fn brace_balance(line: &str) -> usize {
    let mut depth: isize = 0;
    let mut in_string = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (in_string, c) {
            (true, '\\') => {
                chars.next();
            }
            (_, '"') => in_string = !in_string,
            (false, '{') => depth += 1,
            (false, '}') => depth -= 1,
            _ => {}
        }
    }
    depth.max(0) as usize
}

fn next_char_end(text: &str, start: usize) -> usize {
    text.get(start..)
        .and_then(|rest| rest.chars().next())
        .map(|c| start + c.len_utf8())
        .unwrap_or(start)
}

fn join_alternatives(names: &[&str]) -> String {
    match names {
        [] => "valid syntax".into(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn push_literal(parts: &mut Vec<TemplatePart>, text: &str) {
    if let Some(TemplatePart::Literal(s)) = parts.last_mut() {
        s.push_str(text);
        return;
    }
    parts.push(TemplatePart::Literal(text.to_string()));
}

fn unescape(escape: &str) -> Option<String> {
    let body = &escape[1..];
    let c = match body.chars().next()? {
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        '"' => '"',
        '\\' => '\\',
        'u' | 'U' => char::from_u32(u32::from_str_radix(&body[1..], 16).ok()?)?,
        _ => return None,
    };
    Some(c.to_string())
}

/// A long literal cut for a message.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(24) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests;
