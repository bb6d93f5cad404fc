//! Drives the real `imm lsp` process over stdio with JSON-RPC, as an editor
//! does: initialize, open a project with errors, receive diagnostics with
//! the right ranges, fix the text, receive cleared diagnostics; hover,
//! definition, references, completion, formatting, symbols; malformed
//! requests and non-.imm files do not stop the server.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    stdin: ChildStdin,
    messages: Receiver<Value>,
    next_id: i64,
    backlog: Vec<Value>,
}

impl Server {
    fn start() -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_imm"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start imm lsp");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("Content-Length: ") {
                        length = v.parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                if let Ok(v) = serde_json::from_slice(&body) {
                    if tx.send(v).is_err() {
                        return;
                    }
                }
            }
        });
        let mut server = Server {
            child,
            stdin,
            messages: rx,
            next_id: 1,
            backlog: Vec::new(),
        };
        let init = server.request(
            "initialize",
            json!({ "processId": null, "rootUri": null, "capabilities": {} }),
        );
        assert!(
            init["result"]["capabilities"]["hoverProvider"]
                .as_bool()
                .unwrap_or(false),
            "{init}"
        );
        server.notify("initialized", json!({}));
        server
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len())
            .expect("write to the server");
        self.stdin.flush().expect("flush");
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        self.wait(|m| m["id"] == json!(id))
    }

    fn wait(&mut self, matches: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.backlog.iter().position(&matches) {
            return self.backlog.remove(i);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = self
                .messages
                .recv_timeout(left)
                .expect("the server answered in time");
            if matches(&message) {
                return message;
            }
            self.backlog.push(message);
        }
    }

    fn diagnostics_for(&mut self, uri: &str) -> Vec<Value> {
        let uri = uri.to_string();
        let m = self.wait(|m| {
            m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == json!(uri)
        });
        m["params"]["diagnostics"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn uri(path: &std::path::Path) -> String {
    format!("file://{}", path.display())
}

fn at(uri: &str, line: u32, character: u32) -> Value {
    json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": character } })
}

const MAIN: &str = "variable \"region\" {\n  type        = string\n  default     = \"eu\"\n  description = \"Where it runs.\"\n}\n\nlocals {\n  tag = \"v-${var.regoin}\"\n}\n";
const FIXED: &str = "variable \"region\" {\n  type        = string\n  default     = \"eu\"\n  description = \"Where it runs.\"\n}\n\nlocals {\n  tag = \"v-${var.region}\"\n}\n";
const OTHER: &str = "resource \"docker_image\" \"web\" {\n  build {\n    context = \".\"\n    args    = { TAG = local.tag }\n  }\n}\n\noutput \"image\" {\n  value = docker_image.web.id\n}\n";

#[test]
fn diagnostics_appear_and_clear_across_a_project() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("main.imm"), MAIN).expect("write");
    std::fs::write(dir.path().join("other.imm"), OTHER).expect("write");
    let main = uri(&dir.path().join("main.imm"));
    let mut server = Server::start();
    server.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": main, "languageId": "imm", "version": 1, "text": MAIN } }),
    );
    let diags = server.diagnostics_for(&main);
    let codes: Vec<&str> = diags.iter().filter_map(|d| d["code"].as_str()).collect();
    assert_eq!(
        codes,
        ["W0101", "E0201"],
        "the misspelling also leaves var.region unused: {diags:?}"
    );
    let error = &diags[1];
    assert_eq!(error["severity"], 1);
    assert_eq!(
        error["range"]["start"],
        json!({ "line": 7, "character": 13 })
    );
    assert_eq!(error["range"]["end"], json!({ "line": 7, "character": 23 }));
    assert!(error["message"]
        .as_str()
        .unwrap_or("")
        .contains("did you mean var.region"));

    server.notify("textDocument/didChange", json!({ "textDocument": { "uri": main, "version": 2 }, "contentChanges": [{ "text": FIXED }] }));
    let diags = server.diagnostics_for(&main);
    assert!(
        diags.is_empty(),
        "fixed text clears the diagnostics: {diags:?}"
    );
}

#[test]
fn positions_are_utf16_for_non_ascii_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "locals {\n  s = \"日本🙂 ${var.nope}\"\n}\n";
    std::fs::write(dir.path().join("main.imm"), text).expect("write");
    let main = uri(&dir.path().join("main.imm"));
    let mut server = Server::start();
    server.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": main, "languageId": "imm", "version": 1, "text": text } }),
    );
    let diags = server.diagnostics_for(&main);
    assert_eq!(diags.len(), 1, "{diags:?}");
    // `  s = "日本🙂 ${` is 2+4+1+2+2+1+2 = 14 UTF-16 units (🙂 counts 2).
    assert_eq!(
        diags[0]["range"]["start"],
        json!({ "line": 1, "character": 14 })
    );
}

#[test]
fn hover_definition_references_completion_symbols_formatting() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("main.imm"), FIXED).expect("write");
    std::fs::write(dir.path().join("other.imm"), OTHER).expect("write");
    let main = uri(&dir.path().join("main.imm"));
    let other = uri(&dir.path().join("other.imm"));
    let mut server = Server::start();
    server.notify("textDocument/didOpen", json!({ "textDocument": { "uri": other, "languageId": "imm", "version": 1, "text": OTHER } }));

    // Hover on `var.region` in main.imm: type, default and description.
    let hover = server.request("textDocument/hover", at(&main, 7, 16));
    let text = hover["result"]["contents"]["value"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        text.contains("string") && text.contains("Where it runs.") && text.contains("\"eu\""),
        "{hover}"
    );

    // Hover on a resource attribute says whether it is build-time.
    let hover = server.request("textDocument/hover", at(&other, 3, 5));
    let text = hover["result"]["contents"]["value"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        text.contains("args") && text.contains("build-time"),
        "{hover}"
    );

    // Hover on a function shows its signature.
    let fmt_text = "locals {\n  x = upper(\"a\")\n}\n";
    std::fs::write(dir.path().join("f.imm"), fmt_text).expect("write");
    let f = uri(&dir.path().join("f.imm"));
    let hover = server.request("textDocument/hover", at(&f, 1, 7));
    assert!(
        hover["result"]["contents"]["value"]
            .as_str()
            .unwrap_or("")
            .contains("upper(str string) string"),
        "{hover}"
    );

    // Definition of `local.tag` (other.imm) is in main.imm, across files.
    let def = server.request("textDocument/definition", at(&other, 3, 23));
    assert_eq!(def["result"]["uri"], json!(main), "{def}");
    assert_eq!(
        def["result"]["range"]["start"],
        json!({ "line": 7, "character": 2 })
    );

    // Definition of `docker_image.web` goes to the resource label.
    let def = server.request("textDocument/definition", at(&other, 8, 12));
    assert_eq!(
        def["result"]["range"]["start"],
        json!({ "line": 0, "character": 24 }),
        "{def}"
    );

    // References of `var.region`, including the declaration.
    let refs = server.request("textDocument/references", json!({ "textDocument": { "uri": main }, "position": { "line": 0, "character": 11 }, "context": { "includeDeclaration": true } }));
    assert_eq!(refs["result"].as_array().map(Vec::len), Some(2), "{refs}");

    // Completion after `var.` lists variables; in a resource, its attributes.
    let completion_text = "variable \"region\" {\n  default = \"eu\"\n}\n\nresource \"file\" \"f\" {\n  \n  content = var.\n}\n";
    std::fs::write(dir.path().join("c.imm"), completion_text).expect("write");
    let c = uri(&dir.path().join("c.imm"));
    server.notify("textDocument/didOpen", json!({ "textDocument": { "uri": c, "languageId": "imm", "version": 1, "text": completion_text } }));
    let labels = |v: &Value| -> Vec<String> {
        v["result"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|i| i["label"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let items = labels(&server.request("textDocument/completion", at(&c, 6, 16)));
    assert!(items.contains(&"region".to_string()), "{items:?}");
    let items = labels(&server.request("textDocument/completion", at(&c, 5, 2)));
    assert!(
        items.contains(&"path".to_string())
            && items.contains(&"mode".to_string())
            && items.contains(&"lifecycle".to_string()),
        "{items:?}"
    );
    let items = labels(&server.request("textDocument/completion", at(&c, 3, 0)));
    assert!(
        items.contains(&"resource".to_string())
            && items.contains(&"variable".to_string())
            && items.contains(&"check".to_string())
            && items.contains(&"policy".to_string()),
        "{items:?}"
    );

    // In a lifecycle block, its conditions; in a precondition, its attributes.
    let lifecycle_text = "resource \"file\" \"g\" {\n  path    = \"x\"\n  content = \"y\"\n  lifecycle {\n    \n    precondition {\n      \n    }\n  }\n}\n";
    std::fs::write(dir.path().join("l.imm"), lifecycle_text).expect("write");
    let l = uri(&dir.path().join("l.imm"));
    server.notify("textDocument/didOpen", json!({ "textDocument": { "uri": l, "languageId": "imm", "version": 1, "text": lifecycle_text } }));
    let items = labels(&server.request("textDocument/completion", at(&l, 4, 4)));
    assert!(
        items.contains(&"prevent_destroy".to_string())
            && items.contains(&"precondition".to_string())
            && items.contains(&"postcondition".to_string()),
        "{items:?}"
    );
    let items = labels(&server.request("textDocument/completion", at(&l, 6, 6)));
    assert_eq!(items, ["condition", "error_message"]);
    let hover_text = |v: Value| {
        v["result"]["contents"]["value"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let text = hover_text(server.request("textDocument/hover", at(&l, 5, 6)));
    assert!(
        text.contains("precondition") && text.contains("stops the plan"),
        "{text}"
    );

    // Document symbols: the outline.
    let symbols = server.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": other } }),
    );
    let names: Vec<&str> = symbols["result"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["docker_image.web", "output image"]);

    // Formatting through imm fmt.
    let ugly = "locals {\nname=\"x\"\n  longer = 1\n}\n";
    std::fs::write(dir.path().join("u.imm"), ugly).expect("write");
    let u = uri(&dir.path().join("u.imm"));
    let edits = server.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": u }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    assert_eq!(
        edits["result"][0]["newText"], "locals {\n  name   = \"x\"\n  longer = 1\n}\n",
        "{edits}"
    );
}

#[test]
fn malformed_requests_and_other_files_do_not_stop_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("main.imm"), FIXED).expect("write");
    let main = uri(&dir.path().join("main.imm"));
    let mut server = Server::start();
    let bad = server.request("textDocument/hover", json!({ "nonsense": true }));
    assert!(bad["error"].is_object(), "{bad}");
    let unknown = server.request("imm/unknownMethod", json!({}));
    assert!(unknown["error"].is_object(), "{unknown}");
    let readme = uri(&dir.path().join("README.md"));
    server.notify("textDocument/didOpen", json!({ "textDocument": { "uri": readme, "languageId": "markdown", "version": 1, "text": "# hi" } }));
    let hover = server.request("textDocument/hover", at(&readme, 0, 0));
    assert!(hover["error"].is_object(), "{hover}");
    server.send(json!({ "jsonrpc": "2.0", "id": 99, "method": "textDocument/hover", "params": "not an object" }));
    // Still alive and right.
    let hover = server.request("textDocument/hover", at(&main, 7, 16));
    assert!(
        hover["result"]["contents"]["value"]
            .as_str()
            .unwrap_or("")
            .contains("string"),
        "{hover}"
    );
    let shutdown = server.request("shutdown", Value::Null);
    assert!(
        shutdown.get("error").is_none() || shutdown["error"].is_null(),
        "{shutdown}"
    );
    server.notify("exit", Value::Null);
    let status = server.child.wait().expect("exit");
    assert!(status.success());
}

#[test]
fn definition_of_env_secret_and_module_references() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "environment \"dev\" {\n  region = \"eu\"\n}\n\nsecret \"token\" {\n  from = \"env:TOKEN\"\n}\n\nmodule \"child\" {\n  source = \"./child\"\n}\n\noutput \"o\" {\n  value     = [env.region, secret.token, module.child.out]\n  sensitive = true\n}\n";
    std::fs::write(dir.path().join("main.imm"), text).expect("write");
    std::fs::create_dir_all(dir.path().join("child")).expect("mkdir");
    std::fs::write(
        dir.path().join("child/main.imm"),
        "output \"out\" {\n  value = 1\n}\n",
    )
    .expect("write");
    let main = uri(&dir.path().join("main.imm"));
    let mut server = Server::start();
    server.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": main, "languageId": "imm", "version": 1, "text": text } }),
    );
    assert!(server.diagnostics_for(&main).is_empty());
    let start = |v: &Value| v["result"]["range"]["start"].clone();
    // env.region → the attribute in environment "dev".
    let def = server.request("textDocument/definition", at(&main, 13, 19));
    assert_eq!(start(&def), json!({ "line": 1, "character": 2 }), "{def}");
    // secret.token → the secret's label.
    let def = server.request("textDocument/definition", at(&main, 13, 33));
    assert_eq!(start(&def), json!({ "line": 4, "character": 7 }), "{def}");
    // module.child → the module's label.
    let def = server.request("textDocument/definition", at(&main, 13, 47));
    assert_eq!(start(&def), json!({ "line": 8, "character": 7 }), "{def}");
    // Hover on env.region lists the value per environment.
    let hover = server.request("textDocument/hover", at(&main, 13, 19));
    assert!(
        hover["result"]["contents"]["value"]
            .as_str()
            .unwrap_or("")
            .contains("dev: `\"eu\"`"),
        "{hover}"
    );
}
