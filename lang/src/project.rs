//! Loading a project: every `*.imm` file of a directory, parsed and
//! collected into declarations, with its modules (local directories and the
//! embedded `std/NAME`) loaded recursively and statically checked.

use crate::check::{self, Analysis, ModuleContext};
use crate::decl::{self, ModuleDecl};
use crate::diagnostics::{did_you_mean, Code, Diagnostic, Diagnostics};
use crate::source::{FileId, SourceMap, Span};
use crate::syntax;
use indexmap::IndexMap;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// One module of a project, with its child modules by call name.
#[derive(Debug)]
pub struct ModuleNode {
    /// Directory of the module; for `std/NAME`, the virtual path `std/NAME`.
    pub dir: PathBuf,
    /// `""` for the root, else `module.a.module.b.` (prefix of addresses).
    pub address_prefix: String,
    pub files: Vec<FileId>,
    pub decl: ModuleDecl,
    pub analysis: Analysis,
    pub children: IndexMap<String, ModuleNode>,
}

impl ModuleNode {
    /// This module and every module below it, parents first.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a ModuleNode)) {
        f(self);
        for child in self.children.values() {
            child.walk(f);
        }
    }
}

/// A loaded project: sources, module tree and the problems found so far.
#[derive(Debug)]
pub struct Project {
    pub sources: SourceMap,
    pub root: ModuleNode,
    pub diagnostics: Diagnostics,
    /// True when a file could not be parsed: semantic checks were skipped
    /// so that one typo does not cascade into many errors.
    pub has_syntax_errors: bool,
}

impl Project {
    /// The project's name: its directory's name. It scopes the names of the
    /// objects the project creates (see `types::naming`).
    pub fn name(&self) -> String {
        std::path::absolute(&self.root.dir)
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "project".into())
    }

    /// Every module of the tree, root first.
    pub fn modules(&self) -> Vec<&ModuleNode> {
        let mut out = Vec::new();
        self.root.walk(&mut |m| out.push(m));
        out
    }
}

/// Loads and checks the project in `dir`.
pub fn load(dir: &Path) -> Project {
    let mut sources = SourceMap::new();
    let mut diags = Diagnostics::default();
    let files = match read_imm_files(dir, &mut sources, &mut diags) {
        Some(files) => files,
        None => {
            return Project {
                sources,
                root: empty_node(dir),
                diagnostics: diags,
                has_syntax_errors: true,
            };
        }
    };
    load_with_files(dir, files, sources, diags)
}

/// Loads a project from in-memory texts (the language server's open
/// buffers), reading from disk only what is not given.
pub fn load_with_overlay(dir: &Path, overlay: &HashMap<PathBuf, String>) -> Project {
    let mut sources = SourceMap::new();
    let mut diags = Diagnostics::default();
    let mut paths: Vec<PathBuf> = list_imm_files(dir).unwrap_or_default();
    for path in overlay.keys() {
        if path.parent() == Some(dir) && !paths.contains(path) {
            paths.push(path.clone());
        }
    }
    paths.sort();
    let mut files = Vec::new();
    for path in paths {
        let id = match overlay.get(&path) {
            Some(text) => sources.add(path.clone(), text.clone()),
            None => match read_listed(&path, &mut sources, &mut diags) {
                Some(id) => id,
                None => continue,
            },
        };
        files.push(id);
    }
    load_with_files(dir, files, sources, diags)
}

fn load_with_files(
    dir: &Path,
    files: Vec<FileId>,
    mut sources: SourceMap,
    mut diags: Diagnostics,
) -> Project {
    let mut syntax_errors = diags.has_errors();
    let mut stack = vec![canonical(dir)];
    let mut root = parse_module(
        dir,
        String::new(),
        files,
        &mut sources,
        &mut diags,
        &mut syntax_errors,
    );
    load_children(
        &mut root,
        &mut sources,
        &mut diags,
        &mut syntax_errors,
        &mut stack,
    );
    if !syntax_errors {
        check_tree(&mut root, &HashSet::new(), true, &mut diags);
        check_environment_references(&root, &mut diags);
    }
    Project {
        sources,
        root,
        diagnostics: diags,
        has_syntax_errors: syntax_errors,
    }
}

fn empty_node(dir: &Path) -> ModuleNode {
    ModuleNode {
        dir: dir.to_path_buf(),
        address_prefix: String::new(),
        files: Vec::new(),
        decl: ModuleDecl::default(),
        analysis: Analysis::default(),
        children: IndexMap::new(),
    }
}

fn canonical(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// Every entry named `*.imm`, whatever it is: one that is not a readable
/// regular file is an error later, never silently left out (its resources
/// would be planned for destruction).
fn list_imm_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "imm") {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

/// Why a `*.imm` entry cannot be read as a source file, without opening it
/// (a FIFO would block the read for ever).
fn not_a_source_file(path: &Path) -> Option<String> {
    match std::fs::metadata(path) {
        Err(e) => Some(format!("cannot read {}: {e}", path.display())),
        Ok(meta) if meta.is_dir() => Some(format!("{} is a directory", path.display())),
        Ok(meta) if !meta.is_file() => Some(format!(
            "{} is not a regular file (a pipe, socket or device)",
            path.display()
        )),
        Ok(_) => None,
    }
}

/// Reads every `*.imm` file of `dir`, sorted by name.
fn read_imm_files(
    dir: &Path,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Option<Vec<FileId>> {
    let paths = match list_imm_files(dir) {
        Ok(p) => p,
        Err(e) => {
            diags.push(
                Diagnostic::new(
                    Code::ProjectUnreadable,
                    format!("cannot read the project directory {}: {e}", dir.display()),
                )
                .with_help("pass the directory that holds your .imm files"),
            );
            return None;
        }
    };
    if paths.is_empty() {
        diags.push(
            Diagnostic::new(
                Code::NoImmFiles,
                format!("{} has no .imm files", dir.display()),
            )
            .with_help("pass the directory that holds your .imm files"),
        );
        return None;
    }
    Some(
        paths
            .iter()
            .filter_map(|p| read_listed(p, sources, diags))
            .collect(),
    )
}

/// Reads one listed `*.imm` entry, or says why it is not a source file.
fn read_listed(path: &Path, sources: &mut SourceMap, diags: &mut Diagnostics) -> Option<FileId> {
    if let Some(problem) = not_a_source_file(path) {
        diags.push(
            Diagnostic::new(Code::ProjectUnreadable, problem).with_help(
                "every *.imm file of a project is part of it: fix or remove this one (nothing is planned from a partial project)",
            ),
        );
        return None;
    }
    read_source(path, sources, diags)
}

/// Reads one file; invalid UTF-8 is reported at its position and the file
/// is kept (lossily decoded) so the position can be shown.
pub fn read_source(
    path: &Path,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Option<FileId> {
    add_source(path, std::fs::read(path), sources, diags)
}

/// Files an evaluation reads besides the project's own (`--var-file`
/// files, `file:` secrets), each read at most once per run: evaluating
/// again during an apply sees exactly what the plan saw, even if a file
/// changed in between. Clones share the cache.
#[derive(Debug, Clone, Default)]
pub struct ReadOnce(Arc<Mutex<HashMap<PathBuf, ReadResult>>>);

type ReadResult = Result<Arc<[u8]>, (std::io::ErrorKind, String)>;

impl ReadOnce {
    pub fn read(&self, path: &Path) -> std::io::Result<Arc<[u8]>> {
        let mut cache = match self.0.lock() {
            Ok(cache) => cache,
            Err(poisoned) => poisoned.into_inner(),
        };
        let result = cache.entry(path.to_path_buf()).or_insert_with(|| {
            std::fs::read(path)
                .map(Arc::from)
                .map_err(|e| (e.kind(), e.to_string()))
        });
        result
            .clone()
            .map_err(|(kind, message)| std::io::Error::new(kind, message))
    }

    /// Like [`read_source`], through the cache.
    pub fn read_source(
        &self,
        path: &Path,
        sources: &mut SourceMap,
        diags: &mut Diagnostics,
    ) -> Option<FileId> {
        add_source(path, self.read(path).map(|b| b.to_vec()), sources, diags)
    }
}

fn add_source(
    path: &Path,
    read: std::io::Result<Vec<u8>>,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Option<FileId> {
    let bytes = match read {
        Ok(b) => b,
        Err(e) => {
            diags.push(
                Diagnostic::new(
                    Code::ProjectUnreadable,
                    format!("cannot read {}: {e}", path.display()),
                )
                .with_help("check that the file exists and is readable"),
            );
            return None;
        }
    };
    match String::from_utf8(bytes) {
        // A byte-order mark is not part of the text: left in, it would
        // shift every column of the first line.
        Ok(text) => match text.strip_prefix('\u{feff}') {
            Some(rest) => Some(sources.add(path.to_path_buf(), rest.to_string())),
            None => Some(sources.add(path.to_path_buf(), text)),
        },
        Err(e) => {
            let valid_up_to = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let id = sources.add(path.to_path_buf(), text);
            // The lossy text keeps the valid prefix byte for byte.
            diags.push(
                Diagnostic::at(
                    Code::InvalidUtf8,
                    Span::new(id, valid_up_to, valid_up_to + 1),
                    format!("{} is not valid UTF-8 text", path.display()),
                )
                .with_primary_label("invalid byte here")
                .with_help("save the file as UTF-8; if it is not an .imm source, rename it"),
            );
            None
        }
    }
}

fn parse_module(
    dir: &Path,
    address_prefix: String,
    files: Vec<FileId>,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
    syntax_errors: &mut bool,
) -> ModuleNode {
    let texts: Vec<(FileId, Arc<str>)> = files
        .iter()
        .filter_map(|&f| sources.get(f).map(|s| (f, s.text.clone())))
        .collect();
    let mut bodies = Vec::with_capacity(texts.len());
    for parsed in parse_all(&texts) {
        *syntax_errors |= !parsed.diagnostics.is_empty();
        diags.extend(parsed.diagnostics);
        bodies.push(parsed.body);
    }
    // Declarations are collected even from files with syntax errors (the
    // editor needs them while the user types); their problems are only
    // reported when the syntax is right, as they would mostly echo it.
    let decl = if *syntax_errors {
        decl::collect(bodies, &mut Diagnostics::default())
    } else {
        decl::collect(bodies, diags)
    };
    ModuleNode {
        dir: dir.to_path_buf(),
        address_prefix,
        files,
        decl,
        analysis: Analysis::default(),
        children: IndexMap::new(),
    }
}

/// Parses files on all cores (files are independent), keeping their order.
fn parse_all(texts: &[(FileId, Arc<str>)]) -> Vec<syntax::Parsed> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let total: usize = texts.iter().map(|(_, t)| t.len()).sum();
    // Threads cost more than they save on small projects.
    if threads < 2 || texts.len() < 2 || total < 256 * 1024 {
        return texts
            .iter()
            .map(|(f, t)| syntax::parse_file(*f, t))
            .collect();
    }
    let chunk = texts.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = texts
            .chunks(chunk)
            .map(|part| {
                std::thread::Builder::new()
                    .stack_size(PARSER_STACK)
                    .spawn_scoped(scope, move || {
                        part.iter()
                            .map(|(f, t)| syntax::parse_file(*f, t))
                            .collect::<Vec<_>>()
                    })
            })
            .collect();
        let mut out = Vec::with_capacity(texts.len());
        for (handle, part) in handles.into_iter().zip(texts.chunks(chunk)) {
            // A thread that could not start or stopped: parse its files here.
            match handle.map(|h| h.join()) {
                Ok(Ok(parsed)) => out.extend(parsed),
                _ => out.extend(part.iter().map(|(f, t)| syntax::parse_file(*f, t))),
            }
        }
        out
    })
}

/// Parsing recurses once per nesting level (at most
/// [`syntax::MAX_NESTING`]); this is ample even for debug builds.
const PARSER_STACK: usize = 64 * 1024 * 1024;

fn load_children(
    node: &mut ModuleNode,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
    syntax_errors: &mut bool,
    stack: &mut Vec<PathBuf>,
) {
    let calls: Vec<_> = node.decl.modules.values().cloned().collect();
    for call in calls {
        let prefix = format!("{}module.{}.", node.address_prefix, call.name.name);
        let child = if let Some(std_name) = call.source.strip_prefix("std/") {
            load_std_module(std_name, &call, prefix, sources, diags, syntax_errors)
        } else {
            load_local_module(
                &node.dir,
                &call,
                prefix,
                sources,
                diags,
                syntax_errors,
                stack,
            )
        };
        if let Some(mut child) = child {
            let key = canonical(&child.dir);
            stack.push(key);
            load_children(&mut child, sources, diags, syntax_errors, stack);
            stack.pop();
            node.children.insert(call.name.name.clone(), child);
        }
    }
}

fn load_std_module(
    name: &str,
    call: &decl::ModuleCall,
    prefix: String,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
    syntax_errors: &mut bool,
) -> Option<ModuleNode> {
    let Some(files) = imm_stdlib::std_module(name) else {
        let d = Diagnostic::at(
            Code::ModuleNotFound,
            call.source_span,
            format!("there is no standard module \"std/{name}\""),
        );
        diags.push(match did_you_mean(name, imm_stdlib::std_module_names()) {
            Some(s) => d.with_help(format!("did you mean \"std/{s}\"?")),
            None => d.with_help(format!(
                "standard modules: {}",
                imm_stdlib::std_module_names()
                    .map(|n| format!("std/{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        });
        return None;
    };
    let dir = PathBuf::from(format!("std/{name}"));
    let ids = files
        .iter()
        .map(|f| sources.add(dir.join(f.name), f.text))
        .collect();
    Some(parse_module(
        &dir,
        prefix,
        ids,
        sources,
        diags,
        syntax_errors,
    ))
}

fn load_local_module(
    parent_dir: &Path,
    call: &decl::ModuleCall,
    prefix: String,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
    syntax_errors: &mut bool,
    stack: &[PathBuf],
) -> Option<ModuleNode> {
    let dir = parent_dir.join(&call.source);
    if !dir.is_dir() {
        diags.push(
            Diagnostic::at(
                Code::ModuleNotFound,
                call.source_span,
                format!("module directory {} does not exist", dir.display()),
            )
            .with_help("module sources are ./relative/dir (from this module) or std/NAME"),
        );
        return None;
    }
    if stack.contains(&canonical(&dir)) {
        diags.push(
            Diagnostic::at(
                Code::ModuleCycle,
                call.source_span,
                format!(
                    "module \"{}\" includes a module that includes it",
                    call.name.name
                ),
            )
            .with_help("remove the module block that closes the loop"),
        );
        return None;
    }
    let mut local_diags = Diagnostics::default();
    let files = read_imm_files(&dir, sources, &mut local_diags);
    let Some(files) = files else {
        for d in local_diags.0 {
            let help = d.help.clone().unwrap_or_default();
            diags.push(Diagnostic {
                span: Some(call.source_span),
                help: Some(help),
                ..d
            });
        }
        return None;
    };
    diags.extend(local_diags.0);
    Some(parse_module(
        &dir,
        prefix,
        files,
        sources,
        diags,
        syntax_errors,
    ))
}

/// Checks every module, top-down: a child learns from its parent which of
/// its variables carry environment-specific values.
fn check_tree(
    node: &mut ModuleNode,
    impure_vars: &HashSet<String>,
    is_root: bool,
    diags: &mut Diagnostics,
) {
    let mut impure = impure_vars.clone();
    if is_root {
        for env in node.decl.environments.values() {
            impure.extend(env.var_names().into_iter().map(|i| i.name.clone()));
        }
    }
    let child_outputs: HashMap<String, Vec<String>> = node
        .children
        .iter()
        .map(|(name, child)| (name.clone(), child.decl.outputs.keys().cloned().collect()))
        .collect();
    let ctx = ModuleContext {
        impure_vars: &impure,
        child_outputs: &child_outputs,
        is_root,
    };
    node.analysis = check::check_module(&node.decl, &ctx, diags);
    check_module_arguments(node, diags);
    let impure_args = node.analysis.impure_module_args.clone();
    for (name, child) in node.children.iter_mut() {
        let child_impure = impure_args.get(name).cloned().unwrap_or_default();
        check_tree(child, &child_impure, false, diags);
    }
}

/// A module call's arguments must match the child's variables.
fn check_module_arguments(node: &ModuleNode, diags: &mut Diagnostics) {
    for (name, call) in &node.decl.modules {
        let Some(child) = node.children.get(name) else {
            continue;
        };
        let variables = &child.decl.variables;
        for arg in &call.arguments {
            if variables.contains_key(&arg.name.name) {
                continue;
            }
            let d = Diagnostic::at(
                Code::ModuleArgument,
                arg.name.span,
                format!("module \"{name}\" has no variable \"{}\"", arg.name.name),
            );
            diags.push(
                match did_you_mean(&arg.name.name, variables.keys().map(String::as_str)) {
                    Some(s) => d.with_help(format!("did you mean \"{s}\"?")),
                    None => d.with_help(format!(
                        "its variables are: {}",
                        variables.keys().cloned().collect::<Vec<_>>().join(", ")
                    )),
                },
            );
        }
        for (var_name, variable) in variables {
            let given = call.arguments.iter().any(|a| &a.name.name == var_name);
            if !given && variable.default.is_none() {
                diags.push(
                    Diagnostic::at(
                        Code::ModuleArgument,
                        call.name.span,
                        format!("module \"{name}\" needs a value for its variable \"{var_name}\""),
                    )
                    .with_label(variable.name.span, "declared here without a default")
                    .with_help(format!("add {var_name} = ... to the module block")),
                );
            }
        }
    }
}

/// Every `env.X` used anywhere must exist in every environment.
fn check_environment_references(root: &ModuleNode, diags: &mut Diagnostics) {
    let environments = &root.decl.environments;
    let mut refs = Vec::new();
    root.walk(&mut |m| refs.extend(check::env_references(&m.decl)));
    for r in refs {
        let Some(attr) = r.path.first() else {
            continue;
        };
        if attr == "name" {
            continue;
        }
        if environments.is_empty() {
            diags.push(
                Diagnostic::at(
                    Code::MissingEnvAttribute,
                    r.span,
                    format!("env.{attr} is used, but no environment block declares it"),
                )
                .with_help(format!(
                    "declare environments, e.g. environment \"dev\" {{ {attr} = ... }}"
                )),
            );
            continue;
        }
        let missing: Vec<_> = environments
            .values()
            .filter(|e| {
                e.attribute(attr).is_none()
                    || crate::schema::ENVIRONMENT_RESERVED.contains(&attr.as_str())
            })
            .collect();
        if missing.is_empty() {
            continue;
        }
        let names: Vec<String> = missing
            .iter()
            .map(|e| format!("\"{}\"", e.name.name))
            .collect();
        let mut d = Diagnostic::at(
            Code::MissingEnvAttribute,
            r.span,
            format!(
                "env.{attr} is not defined in environment {}",
                names.join(", ")
            ),
        )
        .with_help(format!(
            "add {attr} = ... to every environment block, or stop using env.{attr}"
        ));
        for env in missing {
            d = d.with_label(
                env.name.span,
                format!("environment \"{}\" has no {attr}", env.name.name),
            );
        }
        diags.push(d);
    }
}
