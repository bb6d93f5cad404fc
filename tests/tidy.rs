//! Repository rules that are easy to forget: every Rust module starts with
//! a `//!` comment saying what it is for; a resource type's name is spelled
//! only in its home (`lang/src/types/`); no modules import each other in
//! a circle.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_module_starts_with_a_doc_comment() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [
        "src",
        "lang/src",
        "stdlib/src",
        "planner/src",
        "executors/src",
        "workflow/src",
        "tests",
        "benches",
        "fuzz/fuzz_targets",
    ] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 20);
    let missing: Vec<String> = files
        .iter()
        .filter(|f| {
            !std::fs::read_to_string(f)
                .unwrap_or_default()
                .trim_start()
                .starts_with("//!")
        })
        .map(|f| f.strip_prefix(root).unwrap_or(f).display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a //! comment: {missing:?}"
    );
}

/// The non-test part of a Rust file: test modules sit at the end, after
/// their `#[cfg(test)]`, or in a `tests.rs` of their own.
fn non_test_text(path: &Path) -> String {
    if path.file_name().is_some_and(|n| n == "tests.rs") {
        return String::new();
    }
    let text = std::fs::read_to_string(path).unwrap_or_default();
    match text.find("#[cfg(test)]") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn library_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in [
        "src",
        "lang/src",
        "planner/src",
        "executors/src",
        "workflow/src",
    ] {
        rust_files(&root.join(dir), &mut files);
    }
    files
}

/// Literals that spell a type's name for another meaning: the `file`
/// function, the `file:` secret source and file store, a JSON field.
const NOT_A_TYPE_NAME: &[(&str, &str)] = &[
    (
        "lang/src/evaluate/secrets.rs",
        "\"file\" => Ok(SecretSource::File",
    ),
    ("lang/src/diagnostics.rs", "\"file\""),
    ("executors/src/stores/mod.rs", "Some(\"file\")"),
];

#[test]
fn a_resource_type_is_named_only_in_its_home() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let names: Vec<&str> = imm_lang::types::names().collect();
    assert!(names.len() >= 7, "the registry lists every type");
    let mut found = Vec::new();
    for file in library_files(root) {
        let relative = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        if relative.starts_with("lang/src/types/") {
            continue;
        }
        for (number, line) in non_test_text(&file).lines().enumerate() {
            let allowed = NOT_A_TYPE_NAME
                .iter()
                .any(|(path, fragment)| relative == *path && line.contains(fragment));
            if allowed || line.trim_start().starts_with("//") {
                continue;
            }
            let spelled = names.iter().any(|n| line.contains(&format!("\"{n}\"")))
                || line.contains("\"docker_\"");
            if spelled {
                found.push(format!("{relative}:{}: {}", number + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "resource type names spelled outside lang/src/types (ask imm_lang::types instead):\n{}",
        found.join("\n")
    );
}

/// A module's path (`lang::types::docker_image`) from its file.
fn module_path(root: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(root).unwrap_or(file);
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    // `lang/src/x.rs` → crate `lang`, module `x`; the binary is `src`.
    if parts.len() > 1 && parts[1] == "src" {
        parts.remove(1);
    }
    if let Some(last) = parts.last_mut() {
        *last = last.trim_end_matches(".rs").to_string();
    }
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The module paths a file's `use` statements and `crate::`/`super::`
/// paths name, resolved against the file's own module.
fn referenced_modules(text: &str, own: &[String]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(at) = text[from..].find(start) {
            let begin = from + at;
            from = begin + start.len();
            if begin > 0 && (bytes[begin - 1].is_ascii_alphanumeric() || bytes[begin - 1] == b'_') {
                continue;
            }
            let rest: String = text[begin..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            // `super::{a, b::c}`: each item of the group is a path.
            let after = &text[begin + rest.len()..];
            let paths: Vec<String> = match after.strip_prefix('{') {
                Some(group) => group_items(group)
                    .into_iter()
                    .map(|item| format!("{rest}{item}"))
                    .collect(),
                None => vec![rest],
            };
            for rest in paths {
                found.push(resolve(&rest, own));
            }
        }
    }
    found
}

/// The top-level items of a `{…}` use group (the text after its `{`), each
/// as the path it starts with.
fn group_items(group: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut item_start = 0;
    for (at, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[item_start..at]);
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[item_start..at]);
                item_start = at + 1;
            }
            _ => {}
        }
    }
    items
        .into_iter()
        .map(|item| {
            item.trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect::<String>()
        })
        .filter(|path| !path.is_empty() && path != "self")
        .collect()
}

/// The module a `crate::`/`super::` path names, from module `own`.
fn resolve(rest: &str, own: &[String]) -> Vec<String> {
    let segments: Vec<&str> = rest.split("::").filter(|s| !s.is_empty()).collect();
    let mut base: Vec<String> = own[..1].to_vec();
    let mut segments = segments.as_slice();
    if segments.first() == Some(&"super") {
        base = own.to_vec();
        while segments.first() == Some(&"super") {
            base.pop();
            segments = &segments[1..];
        }
    } else {
        segments = &segments[1..];
    }
    let mut path = base;
    path.extend(segments.iter().map(|s| s.to_string()));
    path
}

#[test]
fn no_import_circle_between_sibling_modules() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = library_files(root);
    rust_files(&root.join("stdlib/src"), &mut files);
    let modules: Vec<Vec<String>> = files.iter().map(|f| module_path(root, f)).collect();
    let known: std::collections::BTreeSet<&Vec<String>> = modules.iter().collect();
    // Edges between siblings: for a reference from module A to module B,
    // the children of their common parent that hold A and B.
    let mut edges: std::collections::BTreeSet<(Vec<String>, Vec<String>)> = Default::default();
    for (file, own) in files.iter().zip(&modules) {
        for mut target in referenced_modules(&non_test_text(file), own) {
            while !target.is_empty() && !known.contains(&target) {
                target.pop();
            }
            let common = own.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if common == own.len() || common == target.len() {
                continue; // a module and its ancestor: containment, not an import
            }
            edges.insert((own[..=common].to_vec(), target[..=common].to_vec()));
        }
    }
    let mut circles = Vec::new();
    for (from, to) in &edges {
        // A path back from `to` to `from` closes a circle.
        let mut stack = vec![to.clone()];
        let mut seen = std::collections::BTreeSet::new();
        while let Some(node) = stack.pop() {
            if &node == from {
                circles.push(format!("{} → {}", from.join("::"), to.join("::")));
                break;
            }
            if !seen.insert(node.clone()) {
                continue;
            }
            stack.extend(
                edges
                    .iter()
                    .filter(|(a, _)| *a == node)
                    .map(|(_, b)| b.clone()),
            );
        }
    }
    assert!(edges.len() > 20, "the use statements were read: {edges:?}");
    assert!(
        circles.is_empty(),
        "modules that import each other, directly or through others:\n{}",
        circles.join("\n")
    );
}
