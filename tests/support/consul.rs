//! A small in-process HTTP server that follows Consul's documented KV API
//! (https://developer.hashicorp.com/consul/api-docs/kv and /txn): `GET`
//! (with `recurse` and `raw`), `PUT`, `DELETE` (with `recurse`) on
//! `/v1/kv/…`, `PUT /v1/txn` with `set` and `delete`, and
//! `GET /v1/status/leader`. A real Consul cannot be installed here (it is
//! not packaged for Debian), so the Consul client is tested against this.

use base64::Engine as _;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Kv {
    entries: BTreeMap<String, (Vec<u8>, u64)>,
    index: u64,
}

pub struct FakeConsul {
    pub url: String,
    /// Answer everything with this instead (a malformed server).
    pub garbage: Arc<Mutex<Option<String>>>,
}

impl FakeConsul {
    pub fn start() -> FakeConsul {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let kv = Arc::new(Mutex::new(Kv::default()));
        let garbage: Arc<Mutex<Option<String>>> = Arc::default();
        let shared = garbage.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let kv = kv.clone();
                let garbage = shared.clone();
                std::thread::spawn(move || serve(stream, &kv, &garbage));
            }
        });
        FakeConsul { url, garbage }
    }
}

fn serve(stream: std::net::TcpStream, kv: &Mutex<Kv>, garbage: &Mutex<Option<String>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let (status, reply) = match garbage.lock().expect("lock").clone() {
            Some(text) => (200, text),
            None => handle(&method, &target, &body, &mut kv.lock().expect("lock")),
        };
        let head = format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: application/json\r\n\r\n",
            reply.len()
        );
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(reply.as_bytes()).is_err()
        {
            return;
        }
        if request_line.trim_end().ends_with("HTTP/1.0") {
            return;
        }
    }
}

fn handle(method: &str, target: &str, body: &[u8], kv: &mut Kv) -> (u16, String) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let flag = |name: &str| {
        query
            .split('&')
            .any(|q| q == name || q.starts_with(&format!("{name}=")))
    };
    if path == "/v1/status/leader" {
        return (200, "\"127.0.0.1:8300\"".into());
    }
    if path == "/v1/txn" && method == "PUT" {
        let ops: Vec<serde_json::Value> = serde_json::from_slice(body).unwrap_or_default();
        let mut results = Vec::new();
        for op in ops {
            let key = op["KV"]["Key"].as_str().unwrap_or_default().to_string();
            match op["KV"]["Verb"].as_str() {
                Some("set") => {
                    let value = base64::engine::general_purpose::STANDARD
                        .decode(op["KV"]["Value"].as_str().unwrap_or_default())
                        .unwrap_or_default();
                    kv.index += 1;
                    kv.entries.insert(key.clone(), (value, kv.index));
                    results.push(serde_json::json!({"KV": {"Key": key, "ModifyIndex": kv.index}}));
                }
                Some("delete") => {
                    kv.entries.remove(&key);
                }
                _ => return (400, "unsupported verb".into()),
            }
        }
        return (
            200,
            serde_json::json!({"Results": results, "Errors": null}).to_string(),
        );
    }
    let Some(key) = path.strip_prefix("/v1/kv/") else {
        return (404, String::new());
    };
    match method {
        "GET" => {
            let found: Vec<(&String, &(Vec<u8>, u64))> = if flag("recurse") {
                kv.entries
                    .iter()
                    .filter(|(k, _)| k.starts_with(key))
                    .collect()
            } else {
                kv.entries.get_key_value(key).into_iter().collect()
            };
            if found.is_empty() {
                return (404, String::new());
            }
            if flag("raw") {
                return (200, String::from_utf8_lossy(&found[0].1 .0).into_owned());
            }
            let list: Vec<serde_json::Value> = found
                .iter()
                .map(|(k, (v, index))| {
                    serde_json::json!({
                        "Key": k,
                        "Value": base64::engine::general_purpose::STANDARD.encode(v),
                        "ModifyIndex": index,
                        "CreateIndex": index,
                    })
                })
                .collect();
            (200, serde_json::Value::Array(list).to_string())
        }
        "PUT" => {
            kv.index += 1;
            kv.entries
                .insert(key.to_string(), (body.to_vec(), kv.index));
            (200, "true".into())
        }
        "DELETE" => {
            if flag("recurse") {
                kv.entries.retain(|k, _| !k.starts_with(key));
            } else {
                kv.entries.remove(key);
            }
            (200, "true".into())
        }
        _ => (405, String::new()),
    }
}
