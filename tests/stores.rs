//! Run-time configuration in stores, with the real binary: `config`
//! resources in a real etcd (started by the test on a free loopback port)
//! in Consul (an in-process server following Consul's documented KV
//! API: Consul cannot be installed here) and in a real PostgreSQL
//! (`tests/support/postgres.rs`): revisions, history and rollback,
//! `store:` secrets that reach stores and commands but nothing imm writes
//! or prints, and clear errors for unreachable or malformed stores.

mod common;
#[path = "support/consul.rs"]
mod consul;
#[path = "support/etcd.rs"]
mod etcd;
#[path = "support/postgres.rs"]
mod postgres;
use common::Project;

fn config_project(store_block: &str, values: &str) -> String {
    format!(
        "{store_block}\nvariable \"level\" {{\n  type    = string\n  default = \"info\"\n}}\n\nresource \"config\" \"app\" {{\n  store  = store.main\n  values = {{ {values} }}\n}}\n"
    )
}

fn change<'a>(plan: &'a serde_json::Value, address: &str) -> &'a serde_json::Value {
    plan["changes"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["address"] == address))
        .unwrap_or_else(|| panic!("{address} in {plan}"))
}

fn revision(p: &Project) -> u64 {
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.file(".imm/state/default.json")).expect("state"),
    )
    .expect("json");
    state["resources"][0]["outs"]["revision"]
        .as_u64()
        .expect("a revision")
}

/// The same life of a config resource, whatever the store: create,
/// reconfigure, a removed value, history, rollback.
fn config_lifecycle(store_block: &str, read: &dyn Fn() -> String) {
    let p = Project::new(&[(
        "main.imm",
        &config_project(store_block, "log_level = var.level, workers = 4"),
    )]);
    p.imm(&["apply", "--auto-approve"]).assert_ok();
    let stored = read();
    assert!(
        stored.contains("shop/default/app/log_level=info"),
        "{stored}"
    );
    assert!(stored.contains("shop/default/app/workers=4"), "{stored}");
    let first = revision(&p);

    let plan = p
        .imm(&["plan", "--format", "json", "--var", "level=debug"])
        .json();
    assert_eq!(change(&plan, "config.app")["action"], "reconfigure");
    p.imm(&["plan", "--var", "level=debug"])
        .assert_stdout_contains("~   config.app")
        .assert_stdout_contains("~ values.log_level: \"info\" → \"debug\"");
    p.imm(&["apply", "--auto-approve", "--var", "level=debug"])
        .assert_ok()
        .assert_stdout_contains("1 reconfigured");
    assert!(read().contains("shop/default/app/log_level=debug"));
    let second = revision(&p);
    assert!(
        second > first,
        "a change is a new revision ({first} → {second})"
    );

    std::fs::write(
        p.file("main.imm"),
        config_project(store_block, "log_level = var.level"),
    )
    .expect("write");
    p.imm(&["apply", "--auto-approve", "--var", "level=debug"])
        .assert_ok();
    assert!(
        !read().contains("shop/default/app/workers"),
        "a removed value is deleted: {}",
        read()
    );

    let history = p.imm(&["config", "history", "app"]);
    history.assert_ok();
    assert_eq!(history.stdout.lines().count(), 4, "{}", history.stdout);
    assert!(history.stdout.contains("(current)"));
    let written_at = regex::Regex::new(r"^ +\d+  \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC  ")
        .expect("a valid pattern");
    assert!(
        history
            .stdout
            .lines()
            .skip(1)
            .all(|l| written_at.is_match(l)),
        "each revision says when it was written, in UTC:\n{}",
        history.stdout
    );
    let rollback = p.imm(&[
        "config",
        "rollback",
        "app",
        &first.to_string(),
        "--auto-approve",
    ]);
    rollback
        .assert_ok()
        .assert_stdout_contains("~   config.app")
        .assert_stdout_contains("~ values.log_level: \"debug\" → \"info\"")
        .assert_stdout_contains("+ values.workers = 4");
    let after = read();
    assert!(
        after.contains("shop/default/app/log_level=info")
            && after.contains("shop/default/app/workers=4"),
        "{after}"
    );
    let history = p.imm(&["config", "history", "app"]).stdout;
    assert_eq!(history.lines().count(), 5, "a rollback is a new revision");
    assert_eq!(
        history.matches("[imm apply]").count(),
        3,
        "each revision says what wrote it:\n{history}"
    );
    assert!(
        history.contains(&format!("[imm config rollback to {first}]  (current)")),
        "{history}"
    );
    p.imm(&["config", "rollback", "app", "999", "--auto-approve"])
        .assert_fails_with("has no revision 999");
    p.imm(&[
        "config",
        "rollback",
        "app",
        &second.to_string(),
        "--store-only",
        "--auto-approve",
    ])
    .assert_ok()
    .assert_stdout_contains("~ log_level: \"info\" → \"debug\"");
    assert!(read().contains("shop/default/app/log_level=debug"));
    let plan = p.imm(&["plan", "--format", "json"]).json();
    let config = change(&plan, "config.app");
    assert_eq!(config["action"], "reconfigure", "{config}");
    assert!(
        config["reasons"].to_string().contains("drifted"),
        "a store-only rollback is drift the next plan writes back: {config}"
    );
}

#[test]
fn config_values_in_etcd() {
    let etcd = etcd::Etcd::start();
    let store = format!(
        "store \"main\" {{\n  backend   = \"etcd\"\n  endpoints = [\"{}\"]\n  prefix    = \"shop\"\n}}\n",
        etcd.url
    );
    config_lifecycle(&store, &|| etcd.get_prefix("shop/default/"));
}

#[test]
fn config_values_in_postgres() {
    let pg = postgres::Postgres::start();
    // The password may be written in conn_str too (PGPASSWORD is tested
    // with state in tests/remote_state.rs).
    let conn_str = pg.url.replacen(
        "postgres://imm@",
        &format!("postgres://imm:{}@", postgres::PASSWORD),
        1,
    );
    let store = format!(
        "store \"main\" {{\n  backend  = \"postgres\"\n  conn_str = \"{conn_str}\"\n  prefix   = \"shop\"\n}}\n"
    );
    config_lifecycle(&store, &|| {
        pg.query("SELECT path || '=' || value FROM imm.store_values ORDER BY path")
    });
}

#[test]
fn a_config_rollback_in_postgres_reaches_the_file_rendered_from_it() {
    let pg = postgres::Postgres::start();
    let text = format!(
        "store \"main\" {{\n  backend  = \"postgres\"\n  conn_str = \"{}\"\n}}\n\nvariable \"level\" {{\n  type    = string\n  default = \"info\"\n}}\n\nresource \"config\" \"app\" {{\n  values = {{ log_level = var.level }}\n}}\n\nresource \"file\" \"app_conf\" {{\n  path    = \"out/app.conf\"\n  content = \"level=${{config.app.values.log_level}}\\n\"\n}}\n",
        pg.url
    );
    let p = Project::new(&[("main.imm", &text)]);
    let env = pg.env();
    p.imm_with_env(&["apply", "--auto-approve"], &env)
        .assert_ok();
    p.imm_with_env(&["apply", "--auto-approve", "--var", "level=warn"], &env)
        .assert_ok();
    let read = || std::fs::read_to_string(p.file("out/app.conf")).expect("rendered");
    assert_eq!(read(), "level=warn\n");
    p.imm_with_env(
        &[
            "config",
            "rollback",
            "app",
            "1",
            "--auto-approve",
            "--var",
            "level=warn",
        ],
        &env,
    )
    .assert_ok()
    .assert_stdout_contains("+/- file.app_conf");
    assert_eq!(
        read(),
        "level=info\n",
        "the app's file has revision 1's value"
    );
    assert_eq!(
        pg.query("SELECT value FROM imm.store_values WHERE path = 'imm/default/app/log_level'"),
        "info"
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let down = text.replace(&format!(":{}/", pg.port), &format!(":{closed}/"));
    let p = Project::new(&[("main.imm", &down)]);
    p.imm_with_env(&["apply", "--auto-approve"], &env)
        .assert_fails_with(&format!("127.0.0.1:{closed}"));
    assert!(!p.file("out/app.conf").exists());
}

#[test]
fn config_values_in_consul() {
    let consul = consul::FakeConsul::start();
    let store = format!(
        "store \"main\" {{\n  backend = \"consul\"\n  address = \"{}\"\n  prefix  = \"shop\"\n}}\n",
        consul.url
    );
    let port: u16 = consul
        .url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let read = || {
        let body = etcd::http_get(port, "/v1/kv/shop/default/?recurse=true").unwrap_or_default();
        let entries: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap_or_default();
        entries
            .iter()
            .map(|e| {
                use base64::Engine as _;
                let value = base64::engine::general_purpose::STANDARD
                    .decode(e["Value"].as_str().unwrap_or_default())
                    .unwrap_or_default();
                format!(
                    "{}={}",
                    e["Key"].as_str().unwrap_or_default(),
                    String::from_utf8_lossy(&value)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    config_lifecycle(&store, &read);
}

#[test]
fn unreachable_or_malformed_stores_are_clear_errors_before_anything_changes() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let store = format!(
        "store \"main\" {{\n  backend   = \"etcd\"\n  endpoints = [\"http://127.0.0.1:{closed}\"]\n}}\n"
    );
    let text = config_project(&store, "a = 1")
        + "\nresource \"file\" \"other\" {\n  path    = \"other.txt\"\n  content = \"x\"\n}\n";
    let p = Project::new(&[("main.imm", &text)]);
    p.imm(&["apply", "--auto-approve"])
        .assert_fails_with("E0816")
        .assert_fails_with("cannot reach etcd")
        .assert_fails_with("nothing was changed");
    assert!(!p.file("other.txt").exists());
    assert!(!p.file(".imm/state/default.json").exists());

    let consul = consul::FakeConsul::start();
    *consul.garbage.lock().expect("lock") = Some("<html>not consul</html>".into());
    let store = format!(
        "store \"main\" {{\n  backend = \"consul\"\n  address = \"{}\"\n}}\n",
        consul.url
    );
    let p = Project::new(&[("main.imm", &config_project(&store, "a = 1"))]);
    let run = p.imm(&["apply", "--auto-approve"]);
    run.assert_fails_with("answered its status request");
    assert!(!run.all().contains("panicked"));
}

const SECRET: &str = "pw-5d1c-from-etcd";

#[test]
fn store_secrets_reach_stores_and_commands_but_nothing_imm_writes_or_prints() {
    let etcd = etcd::Etcd::start();
    etcd.put("shop/default/db_password", SECRET);
    let text = format!(
        "store \"main\" {{\n  backend   = \"etcd\"\n  endpoints = [\"{}\"]\n  prefix    = \"shop\"\n}}\n\nsecret \"db_password\" {{\n  from = \"store:db_password\"\n}}\n\nresource \"config\" \"app\" {{\n  values = {{ password = secret.db_password, level = \"info\" }}\n}}\n\nresource \"exec\" \"uses\" {{\n  create = [\"sh\", \"-c\", \"printf %s \\\"$PW\\\" > seen.txt\"]\n  runtime {{\n    env = {{ PW = secret.db_password }}\n  }}\n}}\n\noutput \"level\" {{\n  value = config.app.values.level\n}}\n",
        etcd.url
    );
    let p = Project::new(&[("main.imm", &text)]);
    let printed = p.everything_printed(
        &[],
        &[&["state", "show", "config.app"], &["output", "--json"]],
    );
    assert_eq!(
        std::fs::read_to_string(p.file("seen.txt")).expect("seen"),
        SECRET
    );
    assert!(etcd
        .get_prefix("shop/default/app/")
        .contains(&format!("password={SECRET}")));
    assert!(!printed.contains(SECRET), "{printed}");
    assert!(!std::fs::read_to_string(p.file("saved.plan"))
        .expect("plan")
        .contains(SECRET));
    assert!(!common::text_under(&p.file(".imm")).contains(SECRET));

    etcd.put("shop/default/db_password", "rotated-secret-77");
    let plan = p.imm(&["plan", "--format", "json"]).json();
    assert_eq!(change(&plan, "config.app")["action"], "reconfigure");
    assert_eq!(
        change(&plan, "exec.uses")["reasons"],
        serde_json::json!(["runtime changed (env.PW)"])
    );

    let missing = text.replace("store:db_password", "store:no_such_key");
    std::fs::write(p.file("main.imm"), missing).expect("write");
    p.imm(&["plan"])
        .assert_fails_with("E0406")
        .assert_fails_with("default/no_such_key is not in etcd");
}

#[test]
fn store_secrets_from_postgres_reach_commands_but_nothing_imm_writes_or_prints() {
    let pg = postgres::Postgres::start();
    let env = pg.env();
    let text = format!(
        "store \"main\" {{\n  backend  = \"postgres\"\n  conn_str = \"{}\"\n  prefix   = \"shop\"\n}}\n\nsecret \"db_password\" {{\n  from = \"store:db_password\"\n}}\n\nresource \"config\" \"app\" {{\n  values = {{ password = secret.db_password, level = \"info\" }}\n}}\n\nresource \"exec\" \"uses\" {{\n  create = [\"sh\", \"-c\", \"printf %s \\\"$PW\\\" > seen.txt\"]\n  runtime {{\n    env = {{ PW = secret.db_password }}\n  }}\n}}\n",
        pg.url
    );
    let p = Project::new(&[("main.imm", &text)]);
    // The tables are made on first use: a key not there yet is E0406.
    p.imm_with_env(&["plan"], &env)
        .assert_fails_with("E0406")
        .assert_fails_with("default/db_password is not in postgres");
    pg.query(&format!(
        "INSERT INTO imm.store_values (path, value) VALUES ('shop/default/db_password', '{SECRET}')"
    ));
    let printed = p.everything_printed(&env, &[&["state", "show", "config.app"]]);
    assert_eq!(
        std::fs::read_to_string(p.file("seen.txt")).expect("seen"),
        SECRET
    );
    assert_eq!(
        pg.query("SELECT value FROM imm.store_values WHERE path = 'shop/default/app/password'"),
        SECRET
    );
    assert!(!printed.contains(SECRET), "{printed}");
    assert!(!common::text_under(&p.file(".imm")).contains(SECRET));
    assert!(!printed.contains(postgres::PASSWORD), "{printed}");
}

#[test]
fn files_rendered_from_config_values_are_rendered_again_when_they_change() {
    let text = "variable \"level\" {\n  type    = string\n  default = \"info\"\n}\n\nresource \"config\" \"app\" {\n  values = { log_level = var.level, workers = 4 }\n}\n\nresource \"file\" \"app_conf\" {\n  path    = \"out/app.conf\"\n  content = templatefile(\"app.conf.tmpl\", { values = config.app.values })\n}\n";
    let template = "${join(\"\\n\", [for key, value in values : \"${key} = ${value}\"])}\n";
    let p = Project::new(&[("main.imm", text), ("app.conf.tmpl", template)]);
    p.imm(&["apply", "--auto-approve"]).assert_ok();
    let read = || std::fs::read_to_string(p.file("out/app.conf")).expect("rendered");
    assert_eq!(read(), "log_level = info\nworkers = 4\n");
    let plan = p
        .imm(&["plan", "--format", "json", "--var", "level=warn"])
        .json();
    assert_eq!(change(&plan, "config.app")["action"], "reconfigure");
    assert_eq!(change(&plan, "file.app_conf")["action"], "replace");
    p.imm(&["apply", "--auto-approve", "--var", "level=warn"])
        .assert_ok();
    assert_eq!(read(), "log_level = warn\nworkers = 4\n");
    let stored = std::fs::read_dir(p.file(".imm/store/default/app"))
        .expect("store")
        .count();
    assert_eq!(stored, 2, "the default file store kept both revisions");
}

#[test]
fn a_config_rollback_rewrites_the_files_rendered_from_it_and_nothing_else() {
    let text = "variable \"level\" {\n  type    = string\n  default = \"info\"\n}\n\nresource \"config\" \"app\" {\n  values = { log_level = var.level, workers = 4 }\n}\n\nresource \"file\" \"app_conf\" {\n  path    = \"out/app.conf\"\n  content = \"level=${config.app.values.log_level} workers=${config.app.values.workers}\\n\"\n}\n";
    let p = Project::new(&[("main.imm", text)]);
    p.imm(&["apply", "--auto-approve"]).assert_ok();
    p.imm(&["apply", "--auto-approve", "--var", "level=warn"])
        .assert_ok();
    let read = || std::fs::read_to_string(p.file("out/app.conf")).expect("rendered");
    assert_eq!(read(), "level=warn workers=4\n");

    let rollback_to_1 = [
        "config",
        "rollback",
        "app",
        "1",
        "--auto-approve",
        "--var",
        "level=warn",
    ];
    let other = "resource \"file\" \"other\" {\n  path    = \"out/other\"\n  content = \"x\"\n}\n";
    std::fs::write(p.file("other.imm"), other).expect("write");
    p.imm(&rollback_to_1)
        .assert_fails_with("E0706")
        .assert_fails_with("file.other");
    assert_eq!(
        read(),
        "level=warn workers=4\n",
        "a refused rollback changes nothing"
    );
    assert!(!p.file("out/other").exists());
    std::fs::remove_file(p.file("other.imm")).expect("remove");

    p.imm(&rollback_to_1)
        .assert_ok()
        .assert_stdout_contains("+/- file.app_conf");
    assert_eq!(
        read(),
        "level=info workers=4\n",
        "the rendered file has the values of revision 1, the number as a number"
    );
}

const FILE_STORE_SECRET: &str = "fs-secret-8e41-never-in-clear";

#[test]
fn the_default_file_store_keeps_secrets_encrypted_and_gives_them_back() {
    let config = "variable \"level\" {\n  type    = string\n  default = \"info\"\n}\n\nsecret \"pw\" {\n  from = \"env:PW\"\n}\n\nresource \"config\" \"app\" {\n  values = { password = secret.pw, level = var.level }\n}\n";
    let p = Project::new(&[("main.imm", config)]);
    let env = [("PW", FILE_STORE_SECRET)];
    p.imm_with_env(&["apply", "--auto-approve"], &env)
        .assert_ok();
    p.imm_with_env(&["apply", "--auto-approve", "--var", "level=debug"], &env)
        .assert_ok();
    let written = common::text_under(&p.file(".imm"));
    assert!(
        written.contains("\"level\": \"debug\""),
        "plain values stay readable"
    );
    assert!(
        written.contains("enc:v1:"),
        "the secret is stored encrypted"
    );
    assert!(
        !written.contains(FILE_STORE_SECRET),
        "no secret in clear under .imm"
    );

    let rollback = p.imm_with_env(&["config", "rollback", "app", "1", "--auto-approve"], &env);
    rollback
        .assert_ok()
        .assert_stdout_contains("~ values.level: \"debug\" → \"info\"");
    assert!(
        !rollback.all().contains(FILE_STORE_SECRET),
        "the secret read back from the store is not shown: {}",
        rollback.all()
    );
    assert!(!common::text_under(&p.file(".imm")).contains(FILE_STORE_SECRET));

    // A store: secret reads it back, decrypted.
    let reader = format!(
        "{config}\nsecret \"copy\" {{\n  from = \"store:app/password\"\n}}\n\nresource \"exec\" \"uses\" {{\n  create = [\"sh\", \"-c\", \"printf %s \\\"$COPY\\\" > seen.txt\"]\n  runtime {{\n    env = {{ COPY = secret.copy }}\n  }}\n}}\n"
    );
    std::fs::write(p.file("main.imm"), reader).expect("write");
    p.imm_with_env(&["apply", "--auto-approve"], &env)
        .assert_ok();
    assert_eq!(
        std::fs::read_to_string(p.file("seen.txt")).expect("seen"),
        FILE_STORE_SECRET
    );
}

#[test]
fn a_store_that_never_answers_is_an_error_naming_it_within_the_deadline() {
    // Accepts connections and then says nothing, as a frozen etcd does.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let store = format!(
        "store \"main\" {{\n  backend   = \"etcd\"\n  endpoints = [\"http://127.0.0.1:{port}\"]\n}}\n"
    );
    let p = Project::new(&[("main.imm", &config_project(&store, "a = 1"))]);
    let started = std::time::Instant::now();
    let run = p.imm_with_env(&["apply", "--auto-approve"], &[("IMM_STORE_TIMEOUT", "1s")]);
    run.assert_fails_with("cannot reach etcd")
        .assert_fails_with(&format!("127.0.0.1:{port}"))
        .assert_fails_with("nothing was changed");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the deadline holds: {:?}",
        started.elapsed()
    );
}

#[test]
fn a_failed_consumer_puts_the_store_back_to_the_values_it_runs_on() {
    let etcd = etcd::Etcd::start();
    let main = format!(
        r#"store "main" {{
  backend   = "etcd"
  endpoints = ["{}"]
  prefix    = "shop"
}}

variable "level" {{
  type    = string
  default = "info"
}}

resource "config" "app" {{
  store  = store.main
  values = {{ log_level = var.level }}
}}

# A consumer that refuses the level "bad" (an app failing its checks).
resource "exec" "app" {{
  create = ["sh", "-c", "test '${{config.app.values.log_level}}' != bad && echo '{{}}'"]
}}
"#,
        etcd.url
    );
    let p = Project::new(&[("main.imm", &main)]);
    p.imm(&["apply", "--auto-approve"]).assert_ok();
    let before = revision(&p);

    let failed = p.imm(&["apply", "--auto-approve", "--var", "level=bad"]);
    assert_ne!(failed.code, 0, "the consumer fails");
    assert!(
        failed.all().contains("went back to the values of revision"),
        "the apply says the store was put back: {}",
        failed.all()
    );
    let stored = etcd.get_prefix("shop/default/");
    assert!(
        stored.contains("shop/default/app/log_level=info"),
        "the store holds the values the consumer runs on: {stored}"
    );
    assert!(revision(&p) > before, "as a new revision");
    let history = p.imm(&["config", "history", "app"]).stdout;
    assert!(
        history.contains(&format!(
            "[put back to {before}: what uses it failed in imm apply]"
        )),
        "the history says why: {history}"
    );
    let plan = p
        .imm(&["plan", "--format", "json", "--var", "level=bad"])
        .json();
    assert_eq!(
        change(&plan, "config.app")["action"],
        "reconfigure",
        "the next apply writes the new values again"
    );
    p.imm(&["plan", "--detailed-exitcode"]).assert_code(0);
}

const RENDERED_SECRET: &str = "pw-5d1c-only-in-the-file";

#[test]
fn a_plan_shows_the_changed_lines_of_a_rendered_file_and_never_its_secret() {
    let text = "variable \"level\" {\n  type    = string\n  default = \"info\"\n}\n\nsecret \"db\" {\n  from = \"env:DB_PW\"\n}\n\nresource \"config\" \"app\" {\n  values = { log_level = var.level, db_password = secret.db, url = \"postgres://app:${secret.db}@db/app\" }\n}\n\nresource \"file\" \"app_conf\" {\n  path    = \"out/app.conf\"\n  content = templatefile(\"app.conf.tmpl\", { v = config.app.values })\n}\n";
    let template =
        "log_level=${v.log_level}\ndb_password=${v.db_password}\nurl=${v.url}\nworkers=4\n";
    let p = Project::new(&[("main.imm", text), ("app.conf.tmpl", template)]);
    let env = [("DB_PW", RENDERED_SECRET)];
    p.imm_with_env(&["apply", "--auto-approve"], &env)
        .assert_ok();
    let rendered = std::fs::read_to_string(p.file("out/app.conf")).expect("rendered");
    assert!(
        rendered.contains(RENDERED_SECRET),
        "the file has the secret"
    );

    let shown = p.imm_with_env(&["plan", "--var", "level=debug"], &env);
    shown.assert_ok();
    let plan = &shown.stdout;
    for expected in [
        "- log_level=info",
        "+ log_level=debug",
        "  db_password=(sensitive)",
        "  url=postgres://app:(sensitive)@db/app",
    ] {
        assert!(
            plan.contains(expected),
            "the plan shows {expected:?}:\n{plan}"
        );
    }
    for format in ["json", "markdown"] {
        let other = p.imm_with_env(&["plan", "--var", "level=debug", "--format", format], &env);
        other.assert_ok();
        assert!(
            other.stdout.contains("log_level=debug")
                && other.stdout.contains("db_password=(sensitive)"),
            "the {format} plan shows the lines too:\n{}",
            other.stdout
        );
        assert!(
            !other.all().contains(RENDERED_SECRET),
            "{format}: {}",
            other.all()
        );
    }
    assert!(!shown.all().contains(RENDERED_SECRET));
    let saved = p.file("plan.json");
    p.imm_with_env(
        &[
            "plan",
            "--var",
            "level=debug",
            "--out",
            saved.to_str().expect("utf-8"),
        ],
        &env,
    )
    .assert_ok();
    assert!(!std::fs::read_to_string(&saved)
        .expect("plan file")
        .contains(RENDERED_SECRET));
    assert!(!common::text_under(&p.file(".imm/state")).contains(RENDERED_SECRET));

    let env = [("DB_PW", "another-secret-value")];
    let secret_only = p.imm_with_env(&["plan"], &env);
    secret_only
        .assert_ok()
        .assert_stdout_contains("(a sensitive value changed)");
    assert!(!secret_only.all().contains("another-secret-value"));
}
