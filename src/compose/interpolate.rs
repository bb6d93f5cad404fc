//! Compose's variable substitution, carried into imm with its meaning:
//! Compose replaces `${VAR}`, `$VAR`, `${VAR:-default}` (and the other
//! forms of the Compose specification) from the shell and a `.env` file
//! when it loads a file, and reads `$$` as one literal `$`. The import
//! turns each variable into an imm variable and each value into an imm
//! string whose interpolations compute what Compose would have written.
//!
//! An unset variable is the empty string, as Compose makes it (Compose
//! warns); so `${VAR-d}` and `${VAR:-d}` both give `d` for an empty value.

use imm_stdlib::value::quote_string;

/// One piece of a Compose value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Variable { name: String, form: Form },
}

/// What a `${…}` asks for beyond the variable's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// `$VAR`, `${VAR}`.
    Plain,
    /// `${VAR:-d}`, `${VAR-d}`: `d` when the value is empty.
    Default(Vec<Piece>),
    /// `${VAR:?message}`, `${VAR?message}`: an error when unset.
    Required,
    /// `${VAR:+r}`, `${VAR+r}`: `r` when the value is not empty.
    Alternative(Vec<Piece>),
}

/// Splits a Compose value into text and variables. Text that is not
/// Compose syntax (a lone `$`, `${` without its `}`) stays text, as
/// Compose leaves it.
pub fn pieces(text: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        literal.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let Some((piece, used)) = variable_at(after) else {
            if let Some(stripped) = after.strip_prefix('$') {
                literal.push('$');
                rest = stripped;
            } else {
                literal.push('$');
                rest = after;
            }
            continue;
        };
        if !literal.is_empty() {
            out.push(Piece::Text(std::mem::take(&mut literal)));
        }
        out.push(piece);
        rest = &after[used..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        out.push(Piece::Text(literal));
    }
    out
}

/// The variable that starts right after a `$`, and how many bytes it took.
fn variable_at(after: &str) -> Option<(Piece, usize)> {
    if let Some(braced) = after.strip_prefix('{') {
        let end = closing_brace(braced)?;
        let inner = &braced[..end];
        return Some((braced_variable(inner)?, end + 2));
    }
    let length = name_length(after);
    if length == 0 {
        return None;
    }
    let name = after[..length].to_string();
    Some((
        Piece::Variable {
            name,
            form: Form::Plain,
        },
        length,
    ))
}

/// The `}` that closes a `${`, past any nested `${…}` in a default.
fn closing_brace(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn braced_variable(inner: &str) -> Option<Piece> {
    let length = name_length(inner);
    if length == 0 {
        return None;
    }
    let name = inner[..length].to_string();
    let modifier = &inner[length..];
    let form = if modifier.is_empty() {
        Form::Plain
    } else if let Some(default) = modifier
        .strip_prefix(":-")
        .or_else(|| modifier.strip_prefix('-'))
    {
        Form::Default(pieces(default))
    } else if modifier.starts_with(":?") || modifier.starts_with('?') {
        Form::Required
    } else if let Some(alternative) = modifier
        .strip_prefix(":+")
        .or_else(|| modifier.strip_prefix('+'))
    {
        Form::Alternative(pieces(alternative))
    } else {
        return None;
    };
    Some(Piece::Variable { name, form })
}

/// The length of a variable name at the start (`[A-Za-z_][A-Za-z0-9_]*`).
fn name_length(text: &str) -> usize {
    let mut length = 0;
    for (i, c) in text.char_indices() {
        let allowed = c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit());
        if !allowed {
            break;
        }
        length = i + c.len_utf8();
    }
    length
}

/// The variables a value reads, with whether one is required (`:?`).
pub fn variables(pieces: &[Piece], found: &mut Vec<(String, bool)>) {
    for piece in pieces {
        let Piece::Variable { name, form } = piece else {
            continue;
        };
        found.push((name.clone(), *form == Form::Required));
        if let Form::Default(inner) | Form::Alternative(inner) = form {
            variables(inner, found);
        }
    }
}

/// The imm string literal that computes the value: text escaped so that
/// nothing in it interpolates, each variable an interpolation of
/// `var.NAME`.
pub fn imm_string(pieces: &[Piece]) -> String {
    let mut out = String::from("\"");
    out.push_str(&template_body(pieces));
    out.push('"');
    out
}

fn template_body(pieces: &[Piece]) -> String {
    let mut out = String::new();
    for (i, piece) in pieces.iter().enumerate() {
        match piece {
            Piece::Text(text) => {
                let mut escaped = escape_text(text);
                // `$` right before an interpolation would read as `$${`,
                // the escape of a literal `${`: write that `$` as an
                // interpolation of its own.
                let next_is_variable = matches!(pieces.get(i + 1), Some(Piece::Variable { .. }));
                if next_is_variable && escaped.ends_with('$') {
                    escaped.pop();
                    escaped.push_str("${\"$\"}");
                }
                out.push_str(&escaped);
            }
            Piece::Variable { name, form } => {
                out.push_str("${");
                out.push_str(&expression(name, form));
                out.push('}');
            }
        }
    }
    out
}

/// The expression of one variable piece.
fn expression(name: &str, form: &Form) -> String {
    let value = format!("var.{name}");
    match form {
        Form::Plain | Form::Required => value,
        Form::Default(default) => {
            format!("{value} != \"\" ? {value} : {}", imm_string(default))
        }
        Form::Alternative(alternative) => {
            format!("{value} != \"\" ? {} : \"\"", imm_string(alternative))
        }
    }
}

/// Text as the inside of an imm string: quotes, backslashes and control
/// characters escaped, `${` and `%{` doubled.
fn escape_text(text: &str) -> String {
    let quoted = quote_string(text);
    let inner = &quoted[1..quoted.len() - 1];
    inner.replace("${", "$${").replace("%{", "%%{")
}

/// The variables of a `.env` file (`KEY=value`, `export KEY=value`,
/// quoted values, `#` comments), in order.
pub fn dotenv(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        found.push((key.trim().to_string(), unquote(value.trim())));
    }
    found
}

fn unquote(value: &str) -> String {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return inner.to_string();
        }
    }
    match value.find(" #") {
        Some(comment) => value[..comment].trim_end().to_string(),
        None => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imm(text: &str) -> String {
        imm_string(&pieces(text))
    }

    #[test]
    fn a_doubled_dollar_is_one_literal_dollar() {
        assert_eq!(imm("echo \"$$(echo hi)\""), r#""echo \"$(echo hi)\"""#);
        assert_eq!(imm("price: $$5"), r#""price: $5""#);
        assert_eq!(imm("$${NOT_A_VAR}"), r#""$${NOT_A_VAR}""#);
    }

    #[test]
    fn variables_become_imm_variables() {
        assert_eq!(imm("${TAG}"), r#""${var.TAG}""#);
        assert_eq!(imm("$HOME/x"), r#""${var.HOME}/x""#);
        assert_eq!(imm("a${B}c$D"), r#""a${var.B}c${var.D}""#);
        assert_eq!(
            imm("${PORT:-8080}"),
            r#""${var.PORT != "" ? var.PORT : "8080"}""#
        );
        assert_eq!(
            imm("${MODE-a ${B}}"),
            r#""${var.MODE != "" ? var.MODE : "a ${var.B}"}""#
        );
        assert_eq!(
            imm("${DEBUG:+--verbose}"),
            r#""${var.DEBUG != "" ? "--verbose" : ""}""#
        );
        assert_eq!(imm("${DB:?set DB}"), r#""${var.DB}""#);
    }

    #[test]
    fn a_literal_dollar_before_a_variable_stays_a_dollar() {
        assert_eq!(imm("$$${PRICE}"), r#""${"$"}${var.PRICE}""#);
    }

    #[test]
    fn what_is_not_compose_syntax_stays_text() {
        assert_eq!(imm("cost $ 5"), r#""cost $ 5""#);
        assert_eq!(imm("${unclosed"), r#""$${unclosed""#);
        assert_eq!(imm("%{ if }"), r#""%%{ if }""#);
        assert_eq!(imm("50%"), r#""50%""#);
    }

    #[test]
    fn required_variables_are_found() {
        let mut found = Vec::new();
        variables(&pieces("${A:?x} ${B:-${C}}"), &mut found);
        assert_eq!(
            found,
            [
                ("A".to_string(), true),
                ("B".to_string(), false),
                ("C".to_string(), false)
            ]
        );
    }

    #[test]
    fn dotenv_files_are_read_as_compose_reads_them() {
        let text =
            "# comment\nTAG=1.2\nexport NAME=\"a b\"\nQUOTED='x y'\nTRAIL=v # note\n\nNOEQUALS\n";
        assert_eq!(
            dotenv(text),
            [
                ("TAG".to_string(), "1.2".to_string()),
                ("NAME".to_string(), "a b".to_string()),
                ("QUOTED".to_string(), "x y".to_string()),
                ("TRAIL".to_string(), "v".to_string()),
            ]
        );
    }
}
