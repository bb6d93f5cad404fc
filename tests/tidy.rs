//! Repository rules that are easy to forget: every Rust module starts with
//! a `//!` comment saying what it is for; a resource type's name is spelled
//! only in its home (`lang/src/types/`); no modules import each other in
//! a circle; every state backend is registered, and the workflow names
//! none.

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
/// function, the `file:` secret source and file store, a JSON field,
/// Compose's `file:` key of a secret or config.
const NOT_A_TYPE_NAME: &[(&str, &str)] = &[
    (
        "lang/src/evaluate/secrets.rs",
        "\"file\" => Ok(SecretSource::File",
    ),
    ("lang/src/diagnostics.rs", "\"file\""),
    ("executors/src/stores/mod.rs", "Some(\"file\")"),
    ("src/compose/files.rs", ".get(\"file\")"),
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

/// The repository's own text files (sources, docs, scripts, examples), not
/// what builds produce.
fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            let generated = matches!(name.as_str(), "target" | ".git" | ".imm" | "corpus")
                || name == "proxy"
                || name == "etcdctl";
            if !generated {
                text_files(&path, out);
            }
            continue;
        }
        let text = [
            "rs", "md", "imm", "sh", "toml", "yml", "yaml", "tmpl", "json",
        ]
        .iter()
        .any(|e| path.extension().is_some_and(|x| x == *e))
            || name == "run"
            || name == "Dockerfile";
        if text {
            out.push(path);
        }
    }
}

/// Markdown link targets: `[text](target)`.
fn link_targets(text: &str) -> Vec<&str> {
    text.match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &text[at + 2..];
            rest.find(')').map(|end| &rest[..end])
        })
        .collect()
}

#[test]
fn nothing_points_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    text_files(root, &mut files);
    assert!(files.len() > 50, "{} files", files.len());
    // Files of the team's contract that users never get: spelled in
    // pieces, so that this test does not name them itself.
    let outside = [
        format!("../{}", "shared"),
        format!("{}.md", "LANGUAGE"),
        format!("{}.md", "RESOURCES"),
        format!("{}.md", "DESIGN"),
    ];
    let mut problems = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let shown = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        for name in &outside {
            if text.contains(name.as_str()) {
                problems.push(format!(
                    "{shown} names {name}, which is not in the repository"
                ));
            }
        }
        if file.extension().is_none_or(|e| e != "md") {
            continue;
        }
        for target in link_targets(&text) {
            let path = target.split('#').next().unwrap_or_default();
            let external = path.is_empty() || path.contains("://") || path.starts_with("mailto:");
            if external {
                continue;
            }
            let resolved = file.parent().unwrap_or(root).join(path);
            let inside = resolved
                .canonicalize()
                .is_ok_and(|r| r.starts_with(root.canonicalize().unwrap_or_default()));
            if !inside {
                problems.push(format!(
                    "{shown} links to {target}, which is not a file of the repository"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn paths_the_docs_name_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md"), root.join("ARCHITECTURE.md")];
    text_files(&root.join("docs"), &mut files);
    let top = [
        "docs/",
        "scripts/",
        "examples/",
        "tests/",
        "lang/",
        "planner/",
        "executors/",
        "stdlib/",
        "src/",
        "workflow/",
        "editors/",
        "benches/",
        "fuzz/",
    ];
    let mut missing = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for quoted in text.split('`').skip(1).step_by(2) {
            let path = quoted.split_whitespace().next().unwrap_or_default();
            let path = path.trim_end_matches([',', '.', ':', ')']);
            let is_path = top.iter().any(|t| path.starts_with(t))
                && !path.contains(['*', '<', '{', '$'])
                && !path.contains("NAME")
                && !path.contains("/.imm"); // made by a run, not committed
            if is_path && !root.join(path).exists() {
                let shown = file
                    .strip_prefix(root)
                    .unwrap_or(file)
                    .display()
                    .to_string();
                missing.push(format!("{shown}: `{path}`"));
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "paths named in docs that do not exist:\n{}",
        missing.join("\n")
    );
}

/// A state backend is its module of `executors/src/state/` and its line in
/// `BACKENDS`; the workflow reaches state only through the interface.
#[test]
fn every_state_backend_is_registered_and_the_workflow_names_none() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("executors/src/state");
    let registry = std::fs::read_to_string(dir.join("mod.rs")).expect("state/mod.rs");
    let mut backends = Vec::new();
    for entry in std::fs::read_dir(&dir)
        .expect("executors/src/state")
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(module) = name.strip_suffix(".rs").filter(|m| *m != "mod") else {
            continue;
        };
        assert!(
            registry.contains(&format!("\"{module}\", {module}::open)")),
            "executors/src/state/{name} has no line (\"{module}\", {module}::open) in BACKENDS (executors/src/state/mod.rs)"
        );
        backends.push(module.to_string());
    }
    assert!(backends.len() >= 3, "found {backends:?}");
    let site = non_test_text(&root.join("workflow/src/state_site.rs"));
    for backend in &backends {
        for spelled in [
            format!("state::{backend}"),
            format!("\"{backend}\""),
            format!("{backend}::"),
        ] {
            assert!(
                !site.contains(&spelled),
                "workflow/src/state_site.rs names the state backend `{spelled}`: reach it through StateBackend"
            );
        }
    }
    for concrete in ["EtcdState", "LocalState", "PostgresState", "StatePaths"] {
        assert!(
            !site.contains(concrete),
            "workflow/src/state_site.rs names `{concrete}`: reach it through StateBackend"
        );
    }
}
