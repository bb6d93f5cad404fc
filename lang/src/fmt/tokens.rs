//! The tokens `imm fmt` works on: HCL's lexical tokens as `terraform fmt`
//! (hclwrite) sees them, each with its bytes, so that formatting changes
//! only the spaces before tokens. Text inside strings, heredocs and
//! comments is one token (or a few) and is never touched.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Newline,
    /// `# …` and `// …` (with their newline), `/* … */`.
    Comment,
    Ident,
    Number,
    OBrace,
    CBrace,
    OBrack,
    CBrack,
    OParen,
    CParen,
    Equal,
    Comma,
    Dot,
    Colon,
    Question,
    Minus,
    Bang,
    Ellipsis,
    /// Any other operator: `+ * / % == != < <= > >= && ||`.
    Operator,
    FatArrow,
    OQuote,
    CQuote,
    /// Text inside quotes.
    QuotedLit,
    /// `${` or `${~`.
    TemplateInterp,
    /// `%{` or `%{~`.
    TemplateControl,
    /// `}` or `~}` closing a template sequence.
    TemplateSeqEnd,
    /// `<<EOT` / `<<-EOT` with its newline.
    OHeredoc,
    /// Text of a heredoc (a line, or the part of one between interpolations).
    StringLit,
    /// The heredoc's closing marker with the indentation before it.
    CHeredoc,
    /// Anything else (left as it is).
    Other,
    /// The end of the file, with the spaces before it (kept, as
    /// `terraform fmt` keeps them).
    Eof,
}

#[derive(Debug, Clone)]
pub(super) struct Token<'t> {
    pub kind: Kind,
    /// Borrowed from the file, or made by a rewrite (a label quoted).
    pub text: std::borrow::Cow<'t, str>,
    pub spaces_before: usize,
}

impl<'t> Token<'t> {
    pub(super) fn made(kind: Kind, text: impl Into<std::borrow::Cow<'t, str>>) -> Token<'t> {
        Token {
            kind,
            text: text.into(),
            spaces_before: 0,
        }
    }
}

impl Kind {
    /// How a token changes the bracket depth (template sequences count).
    pub(super) fn bracket_change(self) -> i32 {
        match self {
            Kind::OBrace
            | Kind::OBrack
            | Kind::OParen
            | Kind::TemplateControl
            | Kind::TemplateInterp => 1,
            Kind::CBrace | Kind::CBrack | Kind::CParen | Kind::TemplateSeqEnd => -1,
            _ => 0,
        }
    }

    /// A token that ends a line: a newline, or a `#`/`//` comment with its newline.
    pub(super) fn ends_line(token: &Token<'_>) -> bool {
        token.kind == Kind::Newline || (token.kind == Kind::Comment && token.text.ends_with('\n'))
    }
}

enum Mode<'t> {
    /// Code; `braces` counts `{` opened inside the innermost template
    /// sequence, so its own `}` is recognised.
    Code {
        braces: usize,
    },
    Quote,
    Heredoc {
        marker: &'t str,
    },
}

/// Splits a file into tokens. The text is valid (the parser accepted it),
/// so the lexer can be forgiving: what it does not know becomes `Other`.
pub(super) fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut modes = vec![Mode::Code { braces: 0 }];
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut spaces = 0;
    while i < bytes.len() {
        let start = i;
        let kind = match modes.last() {
            Some(Mode::Quote) => {
                i = quoted(bytes, i, &mut modes);
                quote_kind(&text[start..i])
            }
            Some(Mode::Heredoc { marker }) => {
                let marker = *marker;
                let (end, kind) = heredoc(text, i, marker, &mut modes);
                i = end;
                kind
            }
            _ => {
                if bytes[i] == b' ' || bytes[i] == b'\t' {
                    spaces += 1;
                    i += 1;
                    continue;
                }
                let (end, kind) = code(text, i, &mut modes);
                i = end;
                kind
            }
        };
        tokens.push(Token {
            kind,
            text: std::borrow::Cow::Borrowed(&text[start..i]),
            spaces_before: spaces,
        });
        spaces = 0;
    }
    tokens.push(Token {
        kind: Kind::Eof,
        text: std::borrow::Cow::Borrowed(""),
        spaces_before: spaces,
    });
    tokens
}

fn quote_kind(text: &str) -> Kind {
    match text {
        "\"" => Kind::CQuote,
        "${" | "${~" => Kind::TemplateInterp,
        "%{" | "%{~" => Kind::TemplateControl,
        _ => Kind::QuotedLit,
    }
}

/// One token inside quotes: the closing quote, a template opener, or text.
fn quoted(bytes: &[u8], start: usize, modes: &mut Vec<Mode<'_>>) -> usize {
    let opener = |at: usize| -> Option<usize> {
        match (bytes.get(at), bytes.get(at + 1)) {
            (Some(b'$' | b'%'), Some(b'{')) => Some(if bytes.get(at + 2) == Some(&b'~') {
                3
            } else {
                2
            }),
            _ => None,
        }
    };
    if bytes[start] == b'"' {
        modes.pop();
        return start + 1;
    }
    if let Some(len) = opener(start) {
        modes.push(Mode::Code { braces: 0 });
        return start + len;
    }
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' | b'\n' => break,
            b'$' | b'%'
                if bytes.get(i + 1) == Some(&bytes[i]) && bytes.get(i + 2) == Some(&b'{') =>
            {
                i += 3
            }
            _ if opener(i).is_some() => break,
            _ => i += 1,
        }
    }
    i.min(bytes.len())
}

/// One token of a heredoc body: a line of text (or the text up to an
/// interpolation), a template opener, or the closing marker.
fn heredoc<'t>(
    text: &'t str,
    start: usize,
    marker: &'t str,
    modes: &mut Vec<Mode<'t>>,
) -> (usize, Kind) {
    let bytes = text.as_bytes();
    let at_line_start = start == 0 || bytes[start - 1] == b'\n';
    if at_line_start {
        let line_end = text[start..].find('\n').map_or(text.len(), |n| start + n);
        if text[start..line_end].trim() == marker {
            modes.pop();
            let end = start + text[start..line_end].trim_end().len();
            return (end, Kind::CHeredoc);
        }
    }
    if let (Some(b'$' | b'%'), Some(b'{')) = (bytes.get(start), bytes.get(start + 1)) {
        let len = if bytes.get(start + 2) == Some(&b'~') {
            3
        } else {
            2
        };
        modes.push(Mode::Code { braces: 0 });
        let kind = if bytes[start] == b'$' {
            Kind::TemplateInterp
        } else {
            Kind::TemplateControl
        };
        return (start + len, kind);
    }
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => return (i + 1, Kind::StringLit),
            b'$' | b'%'
                if bytes.get(i + 1) == Some(&bytes[i]) && bytes.get(i + 2) == Some(&b'{') =>
            {
                i += 3
            }
            b'$' | b'%' if bytes.get(i + 1) == Some(&b'{') => break,
            _ => i += 1,
        }
    }
    (i, Kind::StringLit)
}

/// One token of code.
fn code<'t>(text: &'t str, start: usize, modes: &mut Vec<Mode<'t>>) -> (usize, Kind) {
    let bytes = text.as_bytes();
    let rest = &text[start..];
    let c = bytes[start];
    let next = bytes.get(start + 1).copied();
    let in_template = modes.len() > 1;
    let braces = match modes.last_mut() {
        Some(Mode::Code { braces }) => braces,
        _ => return (start + 1, Kind::Other),
    };
    let single = |kind| (start + 1, kind);
    match c {
        b'\n' => single(Kind::Newline),
        b'\r' if next == Some(b'\n') => (start + 2, Kind::Newline),
        b'#' => (line_comment_end(text, start), Kind::Comment),
        b'/' if next == Some(b'/') => (line_comment_end(text, start), Kind::Comment),
        b'/' if next == Some(b'*') => {
            let end = rest[2..]
                .find("*/")
                .map_or(text.len(), |n| start + 2 + n + 2);
            (end, Kind::Comment)
        }
        b'{' => {
            *braces += 1;
            single(Kind::OBrace)
        }
        b'~' if next == Some(b'}') && in_template && *braces == 0 => {
            modes.pop();
            (start + 2, Kind::TemplateSeqEnd)
        }
        b'}' if in_template && *braces == 0 => {
            modes.pop();
            single(Kind::TemplateSeqEnd)
        }
        b'}' => {
            *braces = braces.saturating_sub(1);
            single(Kind::CBrace)
        }
        b'[' => single(Kind::OBrack),
        b']' => single(Kind::CBrack),
        b'(' => single(Kind::OParen),
        b')' => single(Kind::CParen),
        b',' => single(Kind::Comma),
        b'?' => single(Kind::Question),
        b':' => single(Kind::Colon),
        b'"' => {
            modes.push(Mode::Quote);
            single(Kind::OQuote)
        }
        b'.' if rest.starts_with("...") => (start + 3, Kind::Ellipsis),
        b'.' if next.is_some_and(|n| n.is_ascii_digit()) && !follows_value(text, start) => {
            (number_end(bytes, start), Kind::Number)
        }
        b'.' => single(Kind::Dot),
        b'<' if rest.starts_with("<<") && heredoc_marker(rest).is_some() => {
            let (len, marker) = heredoc_marker(rest).unwrap_or((2, ""));
            modes.push(Mode::Heredoc { marker });
            (start + len, Kind::OHeredoc)
        }
        b'=' if next == Some(b'>') => (start + 2, Kind::FatArrow),
        b'=' if next == Some(b'=') => (start + 2, Kind::Operator),
        b'=' => single(Kind::Equal),
        b'!' if next == Some(b'=') => (start + 2, Kind::Operator),
        b'!' => single(Kind::Bang),
        b'<' | b'>' if next == Some(b'=') => (start + 2, Kind::Operator),
        b'&' if next == Some(b'&') => (start + 2, Kind::Operator),
        b'|' if next == Some(b'|') => (start + 2, Kind::Operator),
        b'-' => single(Kind::Minus),
        b'+' | b'*' | b'/' | b'%' | b'<' | b'>' => single(Kind::Operator),
        b'0'..=b'9' => (number_end(bytes, start), Kind::Number),
        _ => {
            let ident_len: usize = rest
                .char_indices()
                .take_while(|(n, ch)| {
                    if *n == 0 {
                        ch.is_alphabetic() || *ch == '_'
                    } else {
                        ch.is_alphanumeric() || *ch == '_' || *ch == '-'
                    }
                })
                .map(|(_, ch)| ch.len_utf8())
                .sum();
            match ident_len {
                0 => (
                    start + rest.chars().next().map_or(1, char::len_utf8),
                    Kind::Other,
                ),
                n => (start + n, Kind::Ident),
            }
        }
    }
}

/// Whether a `.` follows a value (`a.0` is an index, not the number `.0`).
fn follows_value(text: &str, at: usize) -> bool {
    text[..at]
        .chars()
        .next_back()
        .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ')' || c == ']')
}

fn line_comment_end(text: &str, start: usize) -> usize {
    text[start..]
        .find('\n')
        .map_or(text.len(), |n| start + n + 1)
}

fn number_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(bytes.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if bytes.get(j).is_some_and(u8::is_ascii_digit) {
            i = j;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    i
}

/// `<<EOT` or `<<-EOT` up to and including its newline: (length, marker).
fn heredoc_marker(rest: &str) -> Option<(usize, &str)> {
    let after = rest.strip_prefix("<<")?;
    let after = after.strip_prefix('-').unwrap_or(after);
    let intro = rest.len() - after.len();
    let marker_len: usize = after
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
        .map(char::len_utf8)
        .sum();
    if marker_len == 0 {
        return None;
    }
    let marker = &after[..marker_len];
    let tail = &after[marker_len..];
    let newline = tail.find('\n')?;
    if !tail[..newline].trim().is_empty() {
        return None;
    }
    Some((intro + marker_len + newline + 1, marker))
}
