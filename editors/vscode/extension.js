// Starts `imm lsp` for .imm files. `imm` must be on PATH (or set imm.path).
const { workspace } = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate() {
  const command = workspace.getConfiguration("imm").get("path") || "imm";
  client = new LanguageClient(
    "imm",
    "imm language server",
    { command, args: ["lsp"] },
    { documentSelector: [{ scheme: "file", language: "imm" }] }
  );
  client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
