//! Path and set functions as Terraform has them: `basename`, `dirname`,
//! `abspath`, `pathexpand` (Go's `path/filepath` rules on `/` paths);
//! `setintersection`, `setsubtract`, `setunion`, `chunklist`,
//! `coalescelist`, `matchkeys`, `strcontains`.

use super::{integer_arg, list_arg, string_arg, FunctionError, FunctionResult};
use crate::value::{convert, make_set, Type, Value};

/// Go's `filepath.Clean`: one separator at a time, no `.` elements, `..`
/// resolved where it can be; `""` is `"."`.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if rooted => {}
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

pub(crate) fn basename(args: Vec<Value>) -> FunctionResult {
    let path = string_arg(&args, 0)?;
    let trimmed = path.trim_end_matches('/');
    Ok(Value::String(match (path.is_empty(), trimmed.is_empty()) {
        (true, _) => ".".into(),
        (false, true) => "/".into(),
        _ => trimmed.rsplit('/').next().unwrap_or(trimmed).to_string(),
    }))
}

pub(crate) fn dirname(args: Vec<Value>) -> FunctionResult {
    let path = string_arg(&args, 0)?;
    let dir = match path.rfind('/') {
        Some(at) => &path[..=at],
        None => "",
    };
    Ok(Value::String(clean(dir)))
}

/// Relative to the directory `imm` runs in, as Terraform's is to its own.
pub(crate) fn abspath(args: Vec<Value>) -> FunctionResult {
    let path = string_arg(&args, 0)?;
    if path.starts_with('/') {
        return Ok(Value::String(clean(&path)));
    }
    let cwd = std::env::current_dir()
        .map_err(|e| FunctionError::new(format!("cannot read the current directory: {e}")))?;
    Ok(Value::String(clean(&format!(
        "{}/{path}",
        cwd.to_string_lossy()
    ))))
}

/// `~` or `~/…` with the home directory (`HOME`); anything else as it is.
pub(crate) fn pathexpand(args: Vec<Value>) -> FunctionResult {
    let path = string_arg(&args, 0)?;
    let rest = match path.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => return Ok(Value::String(path)),
    };
    let home = std::env::var("HOME")
        .map_err(|_| FunctionError::at(0, "HOME is not set, so ~ cannot be expanded"))?;
    Ok(Value::String(format!("{home}{rest}")))
}

/// The elements of every argument, as one element type: when they differ,
/// every element becomes a string (`setunion([1], ["a"])` is `["1", "a"]`).
fn set_args(args: &[Value]) -> Result<Vec<Vec<Value>>, FunctionError> {
    let mut sets = Vec::with_capacity(args.len());
    for i in 0..args.len() {
        sets.push(list_arg(args, i)?);
    }
    let mut kinds = sets.iter().flatten().map(Value::type_name);
    let first = kinds.next();
    if kinds.all(|k| Some(k) == first) {
        return Ok(sets);
    }
    sets.into_iter()
        .map(|set| {
            set.into_iter()
                .map(|v| convert(v, &Type::String).map_err(|e| FunctionError::new(e.message)))
                .collect()
        })
        .collect()
}

pub(crate) fn setunion(args: Vec<Value>) -> FunctionResult {
    Ok(make_set(set_args(&args)?.into_iter().flatten().collect()))
}

pub(crate) fn setintersection(args: Vec<Value>) -> FunctionResult {
    let mut sets = set_args(&args)?.into_iter();
    let first = sets.next().unwrap_or_default();
    let rest: Vec<Vec<Value>> = sets.collect();
    Ok(make_set(
        first
            .into_iter()
            .filter(|v| rest.iter().all(|set| set.contains(v)))
            .collect(),
    ))
}

pub(crate) fn setsubtract(args: Vec<Value>) -> FunctionResult {
    let sets = set_args(&args)?;
    let (Some(from), Some(taken)) = (sets.first(), sets.get(1)) else {
        return Err(FunctionError::new("setsubtract takes two sets"));
    };
    Ok(make_set(
        from.iter()
            .filter(|v| !taken.contains(v))
            .cloned()
            .collect(),
    ))
}

/// Lists of `size` elements (the last may be shorter); size 0 is one list.
pub(crate) fn chunklist(args: Vec<Value>) -> FunctionResult {
    let items = list_arg(&args, 0)?;
    let size = integer_arg(&args, 1)?;
    if size < 0 {
        return Err(FunctionError::at(1, "the chunk size must not be negative"));
    }
    if items.is_empty() {
        return Ok(Value::List(Vec::new()));
    }
    let size = if size == 0 {
        items.len()
    } else {
        size as usize
    };
    Ok(Value::List(
        items
            .chunks(size)
            .map(|c| Value::List(c.to_vec()))
            .collect(),
    ))
}

/// The first argument that is a non-empty list.
pub(crate) fn coalescelist(args: Vec<Value>) -> FunctionResult {
    for i in 0..args.len() {
        let items = list_arg(&args, i)?;
        if !items.is_empty() {
            return Ok(Value::List(items));
        }
    }
    Err(FunctionError::new("every argument is an empty list"))
}

/// The `values` whose key (same position in `keys`) is in `searchset`.
pub(crate) fn matchkeys(args: Vec<Value>) -> FunctionResult {
    let values = list_arg(&args, 0)?;
    let keys = list_arg(&args, 1)?;
    let wanted = list_arg(&args, 2)?;
    if values.len() != keys.len() {
        return Err(FunctionError::new(format!(
            "values and keys must be lists of one length ({} and {})",
            values.len(),
            keys.len()
        )));
    }
    Ok(Value::List(
        values
            .into_iter()
            .zip(keys)
            .filter(|(_, key)| wanted.contains(key))
            .map(|(value, _)| value)
            .collect(),
    ))
}

pub(crate) fn strcontains(args: Vec<Value>) -> FunctionResult {
    let text = string_arg(&args, 0)?;
    let part = string_arg(&args, 1)?;
    Ok(Value::Bool(text.contains(&part)))
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn clean_is_gos() {
        assert_eq!(clean("foo//bar/"), "foo/bar");
        assert_eq!(clean(""), ".");
        assert_eq!(clean("/"), "/");
        assert_eq!(clean("a/../.."), "..");
        assert_eq!(clean("/../a"), "/a");
    }
}
