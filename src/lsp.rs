//! `imm lsp`: the language server over stdio. The only module that knows
//! LSP types; everything it says comes from `imm_lang` (the same
//! diagnostics as `imm validate`, and `imm_lang::ide` for the rest). It
//! converts byte spans to LSP's UTF-16 positions and back.
//!
//! Text sync is full: each change carries the whole document, kept in an
//! overlay that shadows the file on disk. After every change the project
//! directory of the file is analysed again and diagnostics are published
//! for each of its files.

use imm_lang::diagnostics::{Diagnostic as ImmDiagnostic, Severity};
use imm_lang::ide::{self, CompletionKind, SymbolKind as ImmSymbolKind};
use imm_lang::project::Project;
use imm_lang::source::{FileId, Span};
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::Notification as _;
use lsp_types::request::Request as _;
use lsp_types::*;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;

pub fn run() -> ExitCode {
    let (connection, io_threads) = Connection::stdio();
    let capabilities = ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".into()]),
            ..CompletionOptions::default()
        }),
        ..ServerCapabilities::default()
    };
    let Ok(capabilities) = serde_json::to_value(capabilities) else {
        return ExitCode::from(1);
    };
    if let Err(e) = connection.initialize(capabilities) {
        eprintln!("imm lsp: initialisation failed: {e}");
        return ExitCode::from(1);
    }
    let mut server = Server::default();
    for message in &connection.receiver {
        match message {
            Message::Request(request) => {
                if connection.handle_shutdown(&request).unwrap_or(true) {
                    break;
                }
                let response = server.request(request);
                if connection.sender.send(Message::Response(response)).is_err() {
                    break;
                }
            }
            Message::Notification(notification) => {
                for out in server.notification(notification) {
                    if connection.sender.send(Message::Notification(out)).is_err() {
                        break;
                    }
                }
            }
            Message::Response(_) => {}
        }
    }
    drop(connection);
    let _ = io_threads.join();
    ExitCode::SUCCESS
}

#[derive(Default)]
struct Server {
    /// Texts of open documents, by path.
    open: HashMap<PathBuf, String>,
    /// Files that were sent diagnostics, by project directory, so that a
    /// fixed file gets an empty list.
    published: HashMap<PathBuf, HashSet<PathBuf>>,
}

impl Server {
    fn request(&mut self, request: Request) -> Response {
        let id = request.id.clone();
        let method = request.method.clone();
        // A bug in one handler must not take the editor's server down.
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.dispatch(request)));
        match result {
            Ok(Ok(value)) => Response::new_ok(id, value),
            Ok(Err(message)) => Response::new_err(id, ErrorCode::InvalidParams as i32, message),
            Err(_) => Response::new_err(
                id,
                ErrorCode::InternalError as i32,
                format!("imm lsp: {method} failed unexpectedly"),
            ),
        }
    }

    fn dispatch(&mut self, request: Request) -> Result<serde_json::Value, String> {
        let params = request.params;
        let json = |v: Result<serde_json::Value, serde_json::Error>| v.map_err(|e| e.to_string());
        match request.method.as_str() {
            request::HoverRequest::METHOD => {
                json(serde_json::to_value(self.hover(parse(params)?)?))
            }
            request::GotoDefinition::METHOD => {
                json(serde_json::to_value(self.definition(parse(params)?)?))
            }
            request::References::METHOD => {
                json(serde_json::to_value(self.references(parse(params)?)?))
            }
            request::Completion::METHOD => {
                json(serde_json::to_value(self.completion(parse(params)?)?))
            }
            request::Formatting::METHOD => {
                json(serde_json::to_value(self.formatting(parse(params)?)?))
            }
            request::DocumentSymbolRequest::METHOD => {
                json(serde_json::to_value(self.symbols(parse(params)?)?))
            }
            other => Err(format!("imm lsp does not handle {other}")),
        }
    }

    fn notification(&mut self, notification: Notification) -> Vec<Notification> {
        let changed = match notification.method.as_str() {
            notification::DidOpenTextDocument::METHOD => {
                parse::<DidOpenTextDocumentParams>(notification.params)
                    .ok()
                    .and_then(|p| {
                        let path = uri_to_path(&p.text_document.uri)?;
                        self.open.insert(path.clone(), p.text_document.text);
                        Some(path)
                    })
            }
            notification::DidChangeTextDocument::METHOD => {
                parse::<DidChangeTextDocumentParams>(notification.params)
                    .ok()
                    .and_then(|p| {
                        let path = uri_to_path(&p.text_document.uri)?;
                        // Full sync: the last change holds the whole text.
                        let text = p.content_changes.into_iter().last()?.text;
                        self.open.insert(path.clone(), text);
                        Some(path)
                    })
            }
            notification::DidCloseTextDocument::METHOD => {
                parse::<DidCloseTextDocumentParams>(notification.params)
                    .ok()
                    .and_then(|p| {
                        let path = uri_to_path(&p.text_document.uri)?;
                        self.open.remove(&path);
                        Some(path)
                    })
            }
            notification::DidSaveTextDocument::METHOD => {
                parse::<DidSaveTextDocumentParams>(notification.params)
                    .ok()
                    .and_then(|p| uri_to_path(&p.text_document.uri))
            }
            _ => None,
        };
        match changed {
            Some(path) if is_imm(&path) => self.publish(&path),
            _ => Vec::new(),
        }
    }

    /// Analyses the project of `path` and sends diagnostics for its files.
    fn publish(&mut self, path: &Path) -> Vec<Notification> {
        let Some(dir) = path.parent().map(Path::to_path_buf) else {
            return Vec::new();
        };
        let (project, diags) = imm_lang::validate::validate_with_overlay(&dir, &self.open);
        let mut by_file: HashMap<PathBuf, Vec<lsp_types::Diagnostic>> = HashMap::new();
        for (_, file) in project.sources.files() {
            if is_imm(&file.path) && file.path.is_absolute() {
                by_file.entry(file.path.clone()).or_default();
            }
        }
        for d in &diags {
            let Some(span) = d.span else { continue };
            let Some(file) = project.sources.get(span.file) else {
                continue;
            };
            if let Some(converted) = to_lsp_diagnostic(&project, d) {
                by_file
                    .entry(file.path.clone())
                    .or_default()
                    .push(converted);
            }
        }
        let previous = self.published.remove(&dir).unwrap_or_default();
        for stale in previous {
            by_file.entry(stale).or_default();
        }
        self.published
            .insert(dir, by_file.keys().cloned().collect());
        by_file
            .into_iter()
            .filter_map(|(path, diagnostics)| {
                let uri = path_to_uri(&path)?;
                let params = PublishDiagnosticsParams {
                    uri,
                    diagnostics,
                    version: None,
                };
                Some(Notification::new(
                    notification::PublishDiagnostics::METHOD.to_string(),
                    params,
                ))
            })
            .collect()
    }

    /// The project of a document and the position as a byte offset.
    fn locate(&self, doc: &TextDocumentPositionParams) -> Result<(Project, FileId, usize), String> {
        let (project, file) = self.project_of(&doc.text_document.uri)?;
        let source = project.sources.get(file).ok_or("file not loaded")?;
        let offset =
            source.offset_of_utf16(doc.position.line as usize, doc.position.character as usize);
        Ok((project, file, offset))
    }

    fn project_of(&self, uri: &Uri) -> Result<(Project, FileId), String> {
        let path = uri_to_path(uri).ok_or("not a file URI")?;
        if !is_imm(&path) {
            return Err(format!("{} is not an .imm file", path.display()));
        }
        let dir = path.parent().ok_or("file has no directory")?;
        let project = imm_lang::project::load_with_overlay(dir, &self.open);
        let file = project
            .sources
            .find(&path)
            .ok_or("file is not part of its project")?;
        Ok((project, file))
    }

    fn hover(&self, params: HoverParams) -> Result<Option<Hover>, String> {
        let (project, file, offset) = self.locate(&params.text_document_position_params)?;
        let Some(target) = ide::target_at(&project, file, offset) else {
            return Ok(None);
        };
        Ok(ide::hover(&project, file, &target).map(|text| Hover {
            contents: HoverContents::Markup(MarkupContent {
                kind: MarkupKind::Markdown,
                value: text,
            }),
            range: None,
        }))
    }

    fn definition(
        &self,
        params: GotoDefinitionParams,
    ) -> Result<Option<GotoDefinitionResponse>, String> {
        let (project, file, offset) = self.locate(&params.text_document_position_params)?;
        let Some(target) = ide::target_at(&project, file, offset) else {
            return Ok(None);
        };
        Ok(ide::definition(&project, file, &target)
            .and_then(|span| location(&project, span))
            .map(GotoDefinitionResponse::Scalar))
    }

    fn references(&self, params: ReferenceParams) -> Result<Option<Vec<Location>>, String> {
        let (project, file, offset) = self.locate(&params.text_document_position)?;
        let Some(target) = ide::target_at(&project, file, offset) else {
            return Ok(None);
        };
        let mut spans = ide::uses(&project, file, &target);
        if params.context.include_declaration {
            spans.extend(ide::definition(&project, file, &target));
        }
        Ok(Some(
            spans
                .into_iter()
                .filter_map(|s| location(&project, s))
                .collect(),
        ))
    }

    fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>, String> {
        let (project, file, offset) = self.locate(&params.text_document_position)?;
        let text = project
            .sources
            .get(file)
            .map(|f| f.text.clone())
            .unwrap_or_default();
        let line_start = text[..offset.min(text.len())]
            .rfind('\n')
            .map(|i| i + 1)
            .unwrap_or(0);
        let before = &text[line_start..offset.min(text.len())];
        let items = ide::completions(&project, file, offset, before)
            .into_iter()
            .map(|c| CompletionItem {
                label: c.label,
                detail: Some(c.detail),
                kind: Some(match c.kind {
                    CompletionKind::Keyword => CompletionItemKind::KEYWORD,
                    CompletionKind::Field => CompletionItemKind::FIELD,
                    CompletionKind::Reference => CompletionItemKind::VARIABLE,
                    CompletionKind::Function => CompletionItemKind::FUNCTION,
                    CompletionKind::Type => CompletionItemKind::CLASS,
                }),
                ..CompletionItem::default()
            })
            .collect();
        Ok(Some(CompletionResponse::Array(items)))
    }

    fn formatting(
        &self,
        params: DocumentFormattingParams,
    ) -> Result<Option<Vec<TextEdit>>, String> {
        let path = uri_to_path(&params.text_document.uri).ok_or("not a file URI")?;
        let text = match self.open.get(&path) {
            Some(t) => t.clone(),
            None => std::fs::read_to_string(&path).map_err(|e| e.to_string())?,
        };
        let Ok(formatted) = imm_lang::fmt::format_source(&text) else {
            // Syntax errors: the diagnostics say what to fix first.
            return Ok(None);
        };
        if formatted == text {
            return Ok(Some(Vec::new()));
        }
        let file = imm_lang::source::SourceFile::new(path, text.clone());
        let (line, character) = file.utf16_position(text.len());
        let end = Position::new(line as u32, character as u32);
        Ok(Some(vec![TextEdit {
            range: Range::new(Position::new(0, 0), end),
            new_text: formatted,
        }]))
    }

    #[allow(deprecated)] // DocumentSymbol.deprecated must still be set.
    fn symbols(
        &self,
        params: DocumentSymbolParams,
    ) -> Result<Option<DocumentSymbolResponse>, String> {
        let (project, file) = self.project_of(&params.text_document.uri)?;
        let symbols = ide::symbols(&project, file)
            .into_iter()
            .filter_map(|s| {
                Some(DocumentSymbol {
                    name: s.name,
                    detail: None,
                    kind: match s.kind {
                        ImmSymbolKind::Variable => SymbolKind::VARIABLE,
                        ImmSymbolKind::Local => SymbolKind::CONSTANT,
                        ImmSymbolKind::Output => SymbolKind::PROPERTY,
                        ImmSymbolKind::Environment => SymbolKind::NAMESPACE,
                        ImmSymbolKind::Secret => SymbolKind::KEY,
                        ImmSymbolKind::Store => SymbolKind::PACKAGE,
                        ImmSymbolKind::Module => SymbolKind::MODULE,
                        ImmSymbolKind::Resource => SymbolKind::OBJECT,
                    },
                    tags: None,
                    deprecated: None,
                    range: range(&project, s.span)?,
                    selection_range: range(&project, s.name_span)?,
                    children: None,
                })
            })
            .collect();
        Ok(Some(DocumentSymbolResponse::Nested(symbols)))
    }
}

fn parse<T: serde::de::DeserializeOwned>(params: serde_json::Value) -> Result<T, String> {
    serde_json::from_value(params).map_err(|e| format!("invalid parameters: {e}"))
}

fn is_imm(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "imm")
}

fn range(project: &Project, span: Span) -> Option<Range> {
    let file = project.sources.get(span.file)?;
    let (sl, sc) = file.utf16_position(span.start as usize);
    let (el, ec) = file.utf16_position(span.end as usize);
    Some(Range::new(
        Position::new(sl as u32, sc as u32),
        Position::new(el as u32, ec as u32),
    ))
}

fn location(project: &Project, span: Span) -> Option<Location> {
    let file = project.sources.get(span.file)?;
    Some(Location {
        uri: path_to_uri(&file.path)?,
        range: range(project, span)?,
    })
}

fn to_lsp_diagnostic(project: &Project, d: &ImmDiagnostic) -> Option<lsp_types::Diagnostic> {
    let span = d.span?;
    let related: Vec<DiagnosticRelatedInformation> = d
        .labels
        .iter()
        .filter_map(|l| {
            Some(DiagnosticRelatedInformation {
                location: location(project, l.span)?,
                message: l.message.clone(),
            })
        })
        .collect();
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    Some(lsp_types::Diagnostic {
        range: range(project, span)?,
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(d.code.as_str().to_string())),
        source: Some("imm".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..lsp_types::Diagnostic::default()
    })
}

/// `file:///a%20b/c.imm` → `/a b/c.imm`.
fn uri_to_path(uri: &Uri) -> Option<PathBuf> {
    let rest = uri.as_str().strip_prefix("file://")?;
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().map(PathBuf::from)
}

fn path_to_uri(path: &Path) -> Option<Uri> {
    let mut encoded = String::from("file://");
    for b in path.to_str()?.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                encoded.push(b as char)
            }
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    Uri::from_str(&encoded).ok()
}
