//! `imm fmt [--check] [PATH…]`.

use imm_lang::fmt::{format_source, FormatError};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn run(paths: &[PathBuf], check: bool, recursive: bool) -> ExitCode {
    let roots: Vec<PathBuf> = if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.to_vec()
    };
    let mut files = Vec::new();
    for root in &roots {
        if root.is_dir() {
            collect(root, recursive, &mut files);
        } else {
            files.push(root.clone());
        }
    }
    let mut failed = false;
    let mut unformatted = 0;
    for (file, outcome) in files.iter().zip(format_all(&files, check)) {
        match outcome {
            Ok(true) => {
                unformatted += 1;
                crate::report::out(&format!("{}", file.display()));
            }
            Ok(false) => {}
            Err(message) => {
                failed = true;
                eprintln!("error: {}: {message}", file.display());
            }
        }
    }
    if check && unformatted > 0 {
        eprintln!("warning[W0201]: {unformatted} file(s) are not in canonical format; run `imm fmt` to fix them");
        return ExitCode::from(1);
    }
    if failed {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// Formats the files on every core (each file is parsed twice, for the
/// meaning check); outcomes in the files' order.
fn format_all(files: &[PathBuf], check: bool) -> Vec<Result<bool, String>> {
    // Deeply nested input recurses, as on the main worker thread.
    const STACK: usize = 64 * 1024 * 1024;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = files.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                let work = move || {
                    part.iter()
                        .map(|f| format_file(f, check))
                        .collect::<Vec<_>>()
                };
                (
                    part.len(),
                    std::thread::Builder::new()
                        .stack_size(STACK)
                        .spawn_scoped(scope, work),
                )
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|(len, handle)| match handle.map(|h| h.join()) {
                Ok(Ok(outcomes)) => outcomes,
                _ => vec![Err("the formatter stopped unexpectedly".to_string()); len],
            })
            .collect()
    })
}

/// Formats one file; `Ok(true)` when it was (or, with `check`, would be) changed.
fn format_file(path: &Path, check: bool) -> Result<bool, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read the file: {e}"))?;
    let formatted = format_source(&text).map_err(|e| match e {
        FormatError::Syntax => "has syntax errors; run `imm validate` to see them, fix them, then format".to_string(),
        FormatError::WouldChangeMeaning => "left unchanged: formatting would have changed its meaning (a bug in imm fmt; please report it)".to_string(),
    })?;
    if formatted == text {
        return Ok(false);
    }
    if !check {
        std::fs::write(path, formatted).map_err(|e| format!("cannot write the file: {e}"))?;
    }
    Ok(true)
}

fn collect(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if path.is_dir() && recursive && !hidden {
            collect(&path, recursive, out);
        } else if path.extension().is_some_and(|e| e == "imm") {
            out.push(path);
        }
    }
}
