//! State in a real etcd (`state { backend = "etcd" }`) and a real
//! PostgreSQL (`backend = "postgres"`), each started by the test on a free
//! loopback port, through the same scenarios: the document and journal
//! live there and nothing on disk, a lock keeps two applies from running
//! at once and names its holder, the lock of a SIGKILLed holder goes away
//! on its own (an etcd lease within its TTL, a PostgreSQL session lock at
//! once) and the next apply carries on, a stale saved plan is refused, and
//! a write is refused when the state moved since it was read. Then what is
//! particular to each: an etcd member dying mid-apply, a wrong PostgreSQL
//! password, PostgreSQL over TLS only.

mod common;
#[path = "support/etcd.rs"]
mod etcd;
#[path = "support/postgres.rs"]
mod postgres;
use common::{Project, Run};
use std::time::{Duration, Instant};

/// A server state is kept in, as the scenarios see it.
trait StateServer {
    /// The project's `state` block.
    fn state_block(&self) -> String;
    /// The environment imm needs (credentials).
    fn env(&self) -> Vec<(&'static str, &'static str)>;
    /// The stored document of `default`, as text.
    fn document(&self) -> String;
    /// Whether journal entries are stored.
    fn has_journal(&self) -> bool;
    fn lock_held(&self) -> bool;
    /// Writes the state as another writer would, without changing what it
    /// says (its version moves).
    fn move_state(&self);
    /// How long the lock of a killed holder may outlive it.
    fn lock_outlives_a_killed_holder_by(&self) -> Duration;
}

fn etcdctl(etcd: &etcd::Etcd, args: &[&str]) -> String {
    let out = std::process::Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["--endpoints", &etcd.url])
        .args(args)
        .output()
        .expect("run etcdctl");
    assert!(out.status.success(), "etcdctl {args:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl StateServer for etcd::Etcd {
    fn state_block(&self) -> String {
        format!(
            "state {{\n  backend   = \"etcd\"\n  endpoints = [\"{}\"]\n  prefix    = \"team\"\n}}\n",
            self.url
        )
    }

    fn env(&self) -> Vec<(&'static str, &'static str)> {
        Vec::new()
    }

    fn document(&self) -> String {
        self.get_prefix("team/state/default")
    }

    fn has_journal(&self) -> bool {
        !self.get_prefix("team/journal/").is_empty()
    }

    fn lock_held(&self) -> bool {
        !self.get_prefix("team/lock/default").is_empty()
    }

    fn move_state(&self) {
        let value = etcdctl(self, &["get", "team/state/default", "--print-value-only"]);
        self.put("team/state/default", value.trim_end());
    }

    fn lock_outlives_a_killed_holder_by(&self) -> Duration {
        Duration::from_secs(imm_executors::state::etcd::LOCK_TTL + 3)
    }
}

impl StateServer for postgres::Postgres {
    fn state_block(&self) -> String {
        format!(
            "state {{\n  backend  = \"postgres\"\n  conn_str = \"{}\"\n}}\n",
            self.url
        )
    }

    fn env(&self) -> Vec<(&'static str, &'static str)> {
        postgres::Postgres::env(self).to_vec()
    }

    fn document(&self) -> String {
        self.query("SELECT document::text FROM imm.states WHERE environment = 'default'")
    }

    fn has_journal(&self) -> bool {
        self.query("SELECT count(*) FROM imm.state_journal") != "0"
    }

    fn lock_held(&self) -> bool {
        advisory_locks(self) != "0"
    }

    fn move_state(&self) {
        self.query("UPDATE imm.states SET revision = revision + 1");
    }

    fn lock_outlives_a_killed_holder_by(&self) -> Duration {
        Duration::from_secs(2)
    }
}

/// State locks the server holds for anyone: advisory locks other than the
/// one imm takes for a moment while it creates its tables.
fn advisory_locks(pg: &postgres::Postgres) -> String {
    pg.query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT (classid = 0 AND objid = 7224353)")
}

fn project(server: &dyn StateServer, create: &str) -> Project {
    let text = format!(
        "{}\nresource \"exec\" \"job\" {{\n  create = [\"sh\", \"-c\", \"{create}\"]\n}}\n\nresource \"file\" \"note\" {{\n  path    = \"note.txt\"\n  content = \"hello\"\n}}\n\noutput \"sum\" {{\n  value = file.note.sha256\n}}\n",
        server.state_block()
    );
    Project::new(&[("main.imm", &text)])
}

fn imm(server: &dyn StateServer, p: &Project, args: &[&str]) -> Run {
    p.imm_with_env(args, &server.env())
}

fn spawn_apply(server: &dyn StateServer, p: &Project) -> std::process::Child {
    spawn_apply_with_env(&server.env(), p)
}

fn spawn_apply_with_env(env: &[(&str, &str)], p: &Project) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_imm"))
        .args(["apply", "--auto-approve"])
        .envs(env.iter().copied())
        .current_dir(p.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start imm apply")
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn replace_in_main(p: &Project, from: &str, to: &str) {
    let text = std::fs::read_to_string(p.file("main.imm"))
        .expect("read")
        .replace(from, to);
    std::fs::write(p.file("main.imm"), text).expect("write");
}

fn state_lives_there_and_nothing_of_it_on_disk(server: &dyn StateServer) {
    let p = project(server, "true");
    imm(server, &p, &["apply", "--auto-approve"]).assert_ok();
    let stored = server.document();
    assert!(stored.contains("\"file.note\""), "{stored}");
    assert!(
        !p.file(".imm/state/default.json").exists(),
        "no local state file"
    );
    assert!(!server.has_journal(), "the journal is folded in");
    assert!(!server.lock_held(), "the lock is released");
    imm(server, &p, &["plan", "--detailed-exitcode"]).assert_code(0);
    assert_eq!(
        imm(server, &p, &["state", "list"]).stdout,
        "exec.job\nfile.note\n"
    );
    let sum = imm(server, &p, &["output", "sum", "--json"]);
    sum.assert_ok();
    assert_eq!(sum.stdout.trim().len(), 66);
    let everything = p.everything_printed(&server.env(), &[&["state", "show", "file.note"]]);
    for (_, credential) in server.env() {
        for place in [&everything, &stored, &common::text_under(p.path())] {
            assert!(!place.contains(credential), "a credential leaked: {place}");
        }
    }
}

fn two_applies_at_once_one_proceeds_the_other_names_the_holder(server: &dyn StateServer) {
    let p = project(server, "sleep 2");
    let first = spawn_apply(server, &p);
    wait_for("the first apply's lock", || server.lock_held());
    imm(server, &p, &["apply", "--auto-approve"])
        .assert_fails_with("E0604")
        .assert_fails_with("is locked by")
        .assert_fails_with(&format!("pid {}", first.id()));
    let first = Run::from(first.wait_with_output().expect("wait"));
    first.assert_ok();
    assert_eq!(
        imm(server, &p, &["state", "list"]).stdout,
        "exec.job\nfile.note\n"
    );
    imm(server, &p, &["plan", "--detailed-exitcode"]).assert_code(0);
}

fn a_killed_holders_lock_goes_and_the_next_apply_carries_on(server: &dyn StateServer) {
    let p = project(server, "sleep 30");
    let mut holder = spawn_apply(server, &p);
    wait_for("the note to be written", || p.file("note.txt").exists());
    std::thread::sleep(Duration::from_millis(300));
    holder.kill().expect("SIGKILL");
    let _ = holder.wait();
    let killed = Instant::now();
    wait_for("the lock to go", || !server.lock_held());
    let limit = server.lock_outlives_a_killed_holder_by();
    assert!(
        killed.elapsed() <= limit,
        "the lock outlived its killed holder by {:?} (at most {limit:?})",
        killed.elapsed()
    );
    assert!(server.has_journal(), "the journal survived");
    replace_in_main(&p, "sleep 30", "true");
    let run = imm(server, &p, &["apply", "--auto-approve"]);
    run.assert_ok();
    assert!(
        run.stderr.contains("an earlier apply was interrupted"),
        "{}",
        run.stderr
    );
    assert_eq!(
        imm(server, &p, &["state", "list"]).stdout,
        "exec.job\nfile.note\n"
    );
    imm(server, &p, &["plan", "--detailed-exitcode"]).assert_code(0);
    imm(server, &p, &["force-unlock", "any"]).assert_fails_with("nothing to force");
}

fn a_saved_plan_made_before_the_state_moved_is_refused(server: &dyn StateServer) {
    let p = project(server, "true");
    imm(server, &p, &["apply", "--auto-approve"]).assert_ok();
    replace_in_main(&p, "hello", "bonjour");
    imm(server, &p, &["plan", "--out", "saved.plan"]).assert_ok();
    replace_in_main(&p, "bonjour", "hallo");
    imm(server, &p, &["apply", "--auto-approve"]).assert_ok();
    replace_in_main(&p, "hallo", "bonjour");
    imm(server, &p, &["apply", "saved.plan"]).assert_fails_with("E0703");
    assert_eq!(
        std::fs::read_to_string(p.file("note.txt")).expect("note"),
        "hallo"
    );
}

fn a_write_is_refused_when_another_wrote_since_it_was_read(server: &dyn StateServer) {
    let p = project(server, "true");
    imm(server, &p, &["apply", "--auto-approve"]).assert_ok();
    replace_in_main(&p, "\"true\"", "\"sleep 3\"");
    let apply = spawn_apply(server, &p);
    wait_for("the apply's lock", || server.lock_held());
    std::thread::sleep(Duration::from_millis(1500));
    // Another writer (not imm: imm would wait for the lock) moves the state.
    server.move_state();
    let run = Run::from(apply.wait_with_output().expect("wait"));
    run.assert_fails_with("E0818")
        .assert_fails_with("changed by another writer since it was read");
    // What the refused run did is in the journal: the next run folds it in.
    imm(server, &p, &["apply", "--auto-approve"]).assert_ok();
    imm(server, &p, &["plan", "--detailed-exitcode"]).assert_code(0);
}

#[test]
fn state_lives_in_etcd_and_nothing_of_it_on_disk() {
    state_lives_there_and_nothing_of_it_on_disk(&etcd::Etcd::start());
}

#[test]
fn state_lives_in_postgres_and_nothing_of_it_on_disk_nor_the_password() {
    state_lives_there_and_nothing_of_it_on_disk(&postgres::Postgres::start());
}

#[test]
fn two_applies_at_once_exactly_one_proceeds() {
    two_applies_at_once_one_proceeds_the_other_names_the_holder(&etcd::Etcd::start());
}

#[test]
fn two_applies_on_postgres_state_exactly_one_proceeds_and_the_other_names_the_holder() {
    two_applies_at_once_one_proceeds_the_other_names_the_holder(&postgres::Postgres::start());
}

#[test]
fn a_killed_holders_lock_expires_and_the_next_apply_carries_on() {
    a_killed_holders_lock_goes_and_the_next_apply_carries_on(&etcd::Etcd::start());
}

#[test]
fn a_sigkilled_apply_on_postgres_state_leaves_no_lock_and_the_next_apply_carries_on() {
    a_killed_holders_lock_goes_and_the_next_apply_carries_on(&postgres::Postgres::start());
}

#[test]
fn a_saved_plan_made_before_etcd_state_moved_is_refused() {
    a_saved_plan_made_before_the_state_moved_is_refused(&etcd::Etcd::start());
}

#[test]
fn a_saved_plan_made_before_postgres_state_moved_is_refused() {
    a_saved_plan_made_before_the_state_moved_is_refused(&postgres::Postgres::start());
}

#[test]
fn a_write_to_etcd_state_is_refused_when_another_wrote_since_it_was_read() {
    a_write_is_refused_when_another_wrote_since_it_was_read(&etcd::Etcd::start());
}

#[test]
fn a_write_to_postgres_state_is_refused_when_another_wrote_since_it_was_read() {
    a_write_is_refused_when_another_wrote_since_it_was_read(&postgres::Postgres::start());
}

#[test]
fn unreachable_etcd_for_state_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let text = format!(
        "state {{\n  backend   = \"etcd\"\n  endpoints = [\"http://127.0.0.1:{port}\"]\n}}\n\nresource \"file\" \"note\" {{\n  path    = \"note.txt\"\n  content = \"hello\"\n}}\n"
    );
    let p = Project::new(&[("main.imm", &text)]);
    p.imm(&["apply", "--auto-approve"])
        .assert_fails_with("cannot reach etcd");
    assert!(!p.file("note.txt").exists());
}

#[test]
fn an_apply_goes_on_when_a_member_of_a_three_member_cluster_dies() {
    let mut cluster = etcd::EtcdCluster::start();
    let endpoints: Vec<String> = cluster.urls.iter().map(|u| format!("\"{u}\"")).collect();
    let mut text = format!(
        "state {{\n  backend   = \"etcd\"\n  endpoints = [{}]\n  prefix    = \"team\"\n}}\n",
        endpoints.join(", ")
    );
    // Six steps one after the other, a second each: the journal is written
    // to etcd before and after each.
    for i in 1..=6 {
        let after = if i > 1 {
            format!("  depends_on = [exec.step{}]\n", i - 1)
        } else {
            String::new()
        };
        text.push_str(&format!(
            "\nresource \"exec\" \"step{i}\" {{\n  create = [\"sh\", \"-c\", \"sleep 1; touch step{i}.done\"]\n{after}}}\n"
        ));
    }
    let p = Project::new(&[("main.imm", &text)]);
    let apply = spawn_apply_with_env(&[], &p);
    wait_for("the first step", || p.file("step1.done").exists());
    // The member imm talks to first dies mid-apply.
    cluster.kill(0);
    let out = apply.wait_with_output().expect("wait for imm apply");
    let run = Run::from(out);
    run.assert_ok();
    assert!(
        p.file("step6.done").exists(),
        "every step ran: {}",
        run.all()
    );
    let state = cluster.get_prefix("team/state/");
    for i in 1..=6 {
        assert!(
            state.contains(&format!("exec.step{i}")),
            "the surviving members hold the state of step {i}: {state}"
        );
    }
    assert_eq!(
        cluster.get_prefix("team/journal/").trim(),
        "",
        "the journal was folded in and cleared"
    );
    let plan = p.imm(&["plan"]);
    plan.assert_ok();
    assert!(plan.stdout.contains("6 unchanged"), "{}", plan.stdout);
}

#[test]
fn postgres_that_refuses_the_password_or_does_not_answer_is_a_clear_error() {
    let pg = postgres::Postgres::start();
    let p = project(&pg, "true");
    p.imm_with_env(&["apply", "--auto-approve"], &[("PGPASSWORD", "wrong")])
        .assert_fails_with("E0817")
        .assert_fails_with("PGPASSWORD");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let text = format!(
        "state {{\n  backend  = \"postgres\"\n  conn_str = \"postgres://imm@127.0.0.1:{port}/postgres\"\n}}\n\nresource \"file\" \"note\" {{\n  path    = \"note.txt\"\n  content = \"hello\"\n}}\n"
    );
    let down = Project::new(&[("main.imm", &text)]);
    down.imm_with_env(&["apply", "--auto-approve"], &pg.env())
        .assert_fails_with("E0816")
        .assert_fails_with(&format!("127.0.0.1:{port}"));
    assert!(!p.file("note.txt").exists() && !down.file("note.txt").exists());
}

#[test]
fn state_in_postgres_over_tls_when_the_server_accepts_nothing_else() {
    let pg = postgres::Postgres::start_tls_only();
    let env = pg.env();
    let clear = project(&pg, "true");
    clear
        .imm_with_env(&["apply", "--auto-approve"], &env)
        .assert_fails_with("E0817")
        .assert_fails_with("no encryption");
    let tls = pg.url.replace("sslmode=disable", "sslmode=require");
    let p = project(&pg, "true");
    replace_in_main(&p, &pg.url, &tls);
    p.imm_with_env(&["apply", "--auto-approve"], &env)
        .assert_ok();
    assert_eq!(
        p.imm_with_env(&["state", "list"], &env).stdout,
        "exec.job\nfile.note\n"
    );
}

#[test]
fn the_postgres_password_may_come_from_a_secret_and_is_never_shown() {
    let pg = postgres::Postgres::start();
    let text = format!(
        "secret \"pg\" {{\n  from = \"env:STATE_DB_PASSWORD\"\n}}\n\nstate {{\n  backend  = \"postgres\"\n  conn_str = \"{}\"\n  password = secret.pg\n}}\n\nresource \"file\" \"note\" {{\n  path    = \"note.txt\"\n  content = \"hello\"\n}}\n",
        pg.url
    );
    let p = Project::new(&[("main.imm", &text)]);
    let env = [("STATE_DB_PASSWORD", postgres::PASSWORD)];
    let printed = p.everything_printed(&env, &[&["state", "show", "file.note"]]);
    assert!(!printed.contains(postgres::PASSWORD), "{printed}");
    assert!(!common::text_under(p.path()).contains(postgres::PASSWORD));
    assert!(!pg
        .query("SELECT document::text FROM imm.states")
        .contains(postgres::PASSWORD));
    p.imm_with_env(&["plan"], &[("STATE_DB_PASSWORD", "wrong")])
        .assert_fails_with("E0817");
}
