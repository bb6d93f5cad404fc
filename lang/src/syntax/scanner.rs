//! A hand-written scanner for the text of string literals and heredocs,
//! which pest reads slowest (a few rule calls per run of text, and pairs
//! kept for each).
//!
//! Before pest runs, [`mask`] finds every string literal and heredoc of a
//! file's code and hands pest a copy of the text in which each of them is
//! an empty string followed by a comment (`""/*   */`, same length, so
//! every byte offset holds): pest reads the rest of a literal as white
//! space, in one `memmem` search for `*/`. The builder reads the literal itself from
//! the original text with [`scan_literal`], and asks pest only for each
//! `${ … }` and `%{ … }` inside it.
//!
//! The scanner is conservative: a literal it does not fully understand (a
//! bad escape, an unclosed string, a comment or heredoc inside an
//! interpolation) ends the masking there, and the rest of the file is read
//! by pest as it was. The parser reads a file this way only when the result
//! has no diagnostic at all; otherwise it parses the original text again,
//! so every message is the one pest gives on the whole file.

/// A file's text with its literals masked, and where they start.
pub(super) struct Masked {
    /// The masked text; `None` when the file holds no literal to mask.
    pub text: Option<String>,
    /// Byte offsets of the masked literals (their `"` or `<<`), ascending.
    pub literals: Vec<usize>,
    /// Byte offsets where a top-level block may start a new chunk parsed on
    /// its own: the start of a line after a line ending a top-level block.
    pub boundaries: Vec<usize>,
}

/// What a literal is made of, in order: runs of text (escapes decoded,
/// `$${` read as `${`) and the byte ranges of its interpolations and
/// directives (from `${` or `%{` to the closing `}` included).
pub(super) trait Sink {
    fn text(&mut self, text: &str);
    fn interpolation(&mut self, start: usize, end: usize);
    fn directive(&mut self, start: usize, end: usize);
}

/// A sink that keeps nothing: the masking pass only needs the extents.
struct Discard;

impl Sink for Discard {
    fn text(&mut self, _: &str) {}
    fn interpolation(&mut self, _: usize, _: usize) {}
    fn directive(&mut self, _: usize, _: usize) {}
}

/// How deep interpolations may nest strings before the scanner leaves the
/// literal to pest (the bracket check bounds real nesting far below).
const MAX_DEPTH: usize = 32;

/// The kind of literal starting at an offset.
#[derive(Clone, Copy, PartialEq, Debug)]
pub(super) enum Literal {
    Quoted,
    Heredoc { indented: bool },
}

/// Masks the literals of `text` and finds where top-level blocks end.
pub(super) fn mask(text: &str) -> Masked {
    let bytes = text.as_bytes();
    let mut masked: Option<Vec<u8>> = None;
    let mut literals = Vec::new();
    let mut boundaries = Vec::new();
    let mut depth: usize = 0;
    let mut closed_block_on_line = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'<' => {
                if bytes[i] == b'<' && bytes.get(i + 1) != Some(&b'<') {
                    i += 1;
                    continue;
                }
                let Some(end) = scan_literal(text, i, &mut Discard) else {
                    break;
                };
                let out = masked.get_or_insert_with(|| bytes.to_vec());
                write_mask(&mut out[i..end]);
                literals.push(i);
                i = end;
                continue;
            }
            b'#' => {
                i = line_end(bytes, i);
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = line_end(bytes, i);
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => match find(bytes, i + 2, b"*/") {
                Some(at) => {
                    i = at + 2;
                    continue;
                }
                None => break,
            },
            b'{' | b'[' | b'(' => depth += 1,
            b'}' | b']' | b')' => {
                depth = depth.saturating_sub(1);
                closed_block_on_line = depth == 0 && bytes[i] == b'}';
            }
            b'\n' => {
                if closed_block_on_line && depth == 0 {
                    boundaries.push(i + 1);
                }
                closed_block_on_line = false;
                i += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' => {}
            _ => closed_block_on_line = false,
        }
        i += 1;
    }
    // Only whole literals (ASCII at both ends) were replaced by ASCII.
    let text = masked.and_then(|bytes| String::from_utf8(bytes).ok());
    if text.is_none() {
        literals.clear();
    }
    Masked {
        text,
        literals,
        boundaries,
    }
}

/// `""` and, after it, a comment as long as the rest of the literal
/// (spaces when it is too short for `/**/`).
fn write_mask(literal: &mut [u8]) {
    literal.fill(b' ');
    literal[..2].copy_from_slice(b"\"\"");
    let len = literal.len();
    if len >= 6 {
        literal[2..4].copy_from_slice(b"/*");
        literal[len - 2..].copy_from_slice(b"*/");
    }
}

/// The kind of the literal whose first byte is at `start`.
pub(super) fn literal_kind(text: &str, start: usize) -> Option<Literal> {
    let rest = text.as_bytes().get(start..)?;
    match rest {
        [b'"', ..] => Some(Literal::Quoted),
        [b'<', b'<', b'-', ..] => Some(Literal::Heredoc { indented: true }),
        [b'<', b'<', ..] => Some(Literal::Heredoc { indented: false }),
        _ => None,
    }
}

/// Scans the string literal or heredoc starting at `start`, telling `sink`
/// what it holds; returns the offset just past it, or `None` when it is not
/// a literal the scanner fully understands.
pub(super) fn scan_literal(text: &str, start: usize, sink: &mut impl Sink) -> Option<usize> {
    match literal_kind(text, start)? {
        Literal::Quoted => scan_quoted(text.as_bytes(), text, start, sink, 0),
        Literal::Heredoc { .. } => scan_heredoc(text, start, sink),
    }
}

/// Bytes that end a run of text in a quoted string.
const QUOTED_STOP: [bool; 256] = stop_table(b"\"\\\n$%");
/// Bytes that end a run of text in a heredoc line.
const HEREDOC_STOP: [bool; 256] = stop_table(b"\n$%");

const fn stop_table(stops: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < stops.len() {
        table[stops[i] as usize] = true;
        i += 1;
    }
    table
}

fn run_end(bytes: &[u8], from: usize, stop: &[bool; 256]) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| stop[b as usize])
        .map_or(bytes.len(), |n| from + n)
}

/// A `"…"` string: text, escapes, interpolations and directives, on one
/// line.
fn scan_quoted(
    bytes: &[u8],
    text: &str,
    start: usize,
    sink: &mut impl Sink,
    depth: usize,
) -> Option<usize> {
    if depth > MAX_DEPTH {
        return None;
    }
    let mut i = start + 1;
    loop {
        let run_start = i;
        i = run_end(bytes, i, &QUOTED_STOP);
        if i > run_start {
            sink.text(text.get(run_start..i)?);
        }
        match *bytes.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => i = escape(text, i, sink)?,
            b'$' | b'%' => i = sigil(bytes, text, i, sink, depth)?,
            _ => return None,
        }
    }
}

/// An escape at `at` (its `\`): decoded into the sink; the offset after it.
fn escape(text: &str, at: usize, sink: &mut impl Sink) -> Option<usize> {
    let bytes = text.as_bytes();
    let simple = match *bytes.get(at + 1)? {
        b'n' => Some('\n'),
        b'r' => Some('\r'),
        b't' => Some('\t'),
        b'"' => Some('"'),
        b'\\' => Some('\\'),
        _ => None,
    };
    if let Some(c) = simple {
        sink.text(c.encode_utf8(&mut [0; 4]));
        return Some(at + 2);
    }
    let digits = match bytes[at + 1] {
        b'u' => 4,
        b'U' => 8,
        _ => return None,
    };
    let hex = text.get(at + 2..at + 2 + digits)?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let c = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
    sink.text(c.encode_utf8(&mut [0; 4]));
    Some(at + 2 + digits)
}

/// A `$` or `%` at `at`: an interpolation or directive (`${`, `%{`), an
/// escaped one (`$${`, `%%{`), or text; the offset after it.
fn sigil(bytes: &[u8], text: &str, at: usize, sink: &mut impl Sink, depth: usize) -> Option<usize> {
    let sigil = bytes[at];
    match (bytes.get(at + 1), bytes.get(at + 2)) {
        (Some(b'{'), _) => {
            let end = code_end(bytes, text, at + 2, depth)?;
            if sigil == b'$' {
                sink.interpolation(at, end);
            } else {
                sink.directive(at, end);
            }
            Some(end)
        }
        (Some(&next), Some(b'{')) if next == sigil => {
            sink.text(if sigil == b'$' { "${" } else { "%{" });
            Some(at + 3)
        }
        _ => {
            sink.text(text.get(at..at + 1)?);
            Some(at + 1)
        }
    }
}

/// The offset just past the `}` that closes code opened before `from`
/// (`${`, `%{`), skipping nested brackets and strings. Comments and
/// heredocs inside are left to pest (`None`).
fn code_end(bytes: &[u8], text: &str, from: usize, depth: usize) -> Option<usize> {
    let mut open = 1usize;
    let mut i = from;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'{' => open += 1,
            b'}' => {
                open -= 1;
                if open == 0 {
                    return Some(i + 1);
                }
            }
            b'"' => {
                i = scan_quoted(bytes, text, i, &mut Discard, depth + 1)?;
                continue;
            }
            b'#' => return None,
            b'<' if bytes.get(i + 1) == Some(&b'<') => return None,
            b'/' if matches!(bytes.get(i + 1), Some(b'/' | b'*')) => return None,
            _ => {}
        }
        i += 1;
    }
    None
}

/// A heredoc: `<<ID` or `<<-ID`, the rest of that line blank, then lines
/// up to one holding only `ID` (indented or not).
fn scan_heredoc(text: &str, start: usize, sink: &mut impl Sink) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = start + 2;
    if bytes.get(i) == Some(&b'-') {
        i += 1;
    }
    let id_start = i;
    if !bytes
        .get(i)
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
    {
        return None;
    }
    while bytes
        .get(i)
        .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
    {
        i += 1;
    }
    // A non-ASCII letter may continue the name; pest decides those.
    if bytes.get(i).is_some_and(|b| !b.is_ascii()) {
        return None;
    }
    let id = &bytes[id_start..i];
    while matches!(bytes.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    if bytes.get(i) == Some(&b'\r') {
        i += 1;
    }
    if bytes.get(i) != Some(&b'\n') {
        return None;
    }
    i += 1;
    loop {
        if let Some(end) = closing_line(bytes, i, id) {
            return Some(end);
        }
        i = heredoc_line(bytes, text, i, sink)?;
    }
}

/// Where a heredoc ends if the line at `at` closes it.
fn closing_line(bytes: &[u8], at: usize, id: &[u8]) -> Option<usize> {
    let mut i = at;
    while matches!(bytes.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    let end = i + id.len();
    if bytes.get(i..end)? != id {
        return None;
    }
    match bytes.get(end) {
        None | Some(b'\n' | b'\r') => Some(end),
        _ => None,
    }
}

/// One heredoc line at `at` (an interpolation may span lines); its text
/// and newline go to the sink; the offset of the next line.
fn heredoc_line(bytes: &[u8], text: &str, at: usize, sink: &mut impl Sink) -> Option<usize> {
    let mut i = at;
    loop {
        let run_start = i;
        i = run_end(bytes, i, &HEREDOC_STOP);
        if i > run_start {
            sink.text(text.get(run_start..i)?);
        }
        match *bytes.get(i)? {
            b'\n' => {
                sink.text("\n");
                return Some(i + 1);
            }
            _ => i = sigil(bytes, text, i, sink, 0)?,
        }
    }
}

fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |n| from + n)
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|n| from + n)
}
