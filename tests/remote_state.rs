//! State in etcd (`state { backend = "etcd" }`) with a real etcd started on
//! a free loopback port: the document and journal live there, a lock held
//! with a lease keeps two applies from running at once, and the lock of a
//! killed holder expires within the lease's TTL. The same for state in a
//! real PostgreSQL (`backend = "postgres"`), whose session lock dies with
//! a SIGKILLed holder at once, plus a stale saved plan and a write refused
//! when the state moved since it was read.

mod common;
#[path = "support/etcd.rs"]
mod etcd;
#[path = "support/postgres.rs"]
mod postgres;
use common::{Project, Run};
use std::time::{Duration, Instant};

fn project(etcd: &etcd::Etcd, create: &str) -> Project {
    let text = format!(
        "state {{\n  backend   = \"etcd\"\n  endpoints = [\"{}\"]\n  prefix    = \"team\"\n}}\n\nresource \"exec\" \"job\" {{\n  create = [\"sh\", \"-c\", \"{create}\"]\n}}\n\nresource \"file\" \"note\" {{\n  path    = \"note.txt\"\n  content = \"hello\"\n}}\n\noutput \"sum\" {{\n  value = file.note.sha256\n}}\n",
        etcd.url
    );
    Project::new(&[("main.imm", &text)])
}

fn spawn_apply(p: &Project) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_imm"))
        .args(["apply", "--auto-approve"])
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

#[test]
fn state_lives_in_etcd_and_nothing_of_it_on_disk() {
    let etcd = etcd::Etcd::start();
    let p = project(&etcd, "true");
    p.imm(&["apply", "--auto-approve"]).assert_ok();
    let stored = etcd.get_prefix("team/state/default");
    assert!(stored.contains("\"address\": \"file.note\""), "{stored}");
    assert!(
        !p.file(".imm/state/default.json").exists(),
        "no local state file"
    );
    assert_eq!(
        etcd.get_prefix("team/journal/"),
        "",
        "the journal is folded in"
    );
    assert_eq!(etcd.get_prefix("team/lock/"), "", "the lock is released");
    p.imm(&["plan", "--detailed-exitcode"]).assert_code(0);
    assert_eq!(p.imm(&["state", "list"]).stdout, "exec.job\nfile.note\n");
    let sum = p.imm(&["output", "sum", "--json"]);
    sum.assert_ok();
    assert_eq!(sum.stdout.trim().len(), 66);
}

#[test]
fn two_applies_at_once_exactly_one_proceeds() {
    let etcd = etcd::Etcd::start();
    let p = project(&etcd, "sleep 2");
    let first = spawn_apply(&p);
    wait_for("the first apply's lock", || {
        !etcd.get_prefix("team/lock/default").is_empty()
    });
    let second = p.imm(&["apply", "--auto-approve"]);
    second
        .assert_fails_with("E0604")
        .assert_fails_with("is locked by");
    let first = Run::from(first.wait_with_output().expect("wait"));
    first.assert_ok();
    assert_eq!(p.imm(&["state", "list"]).stdout, "exec.job\nfile.note\n");
    p.imm(&["plan", "--detailed-exitcode"]).assert_code(0);
}

#[test]
fn a_killed_holders_lock_expires_and_the_next_apply_carries_on() {
    let etcd = etcd::Etcd::start();
    let p = project(&etcd, "sleep 30");
    let mut holder = spawn_apply(&p);
    wait_for("the note to be written", || p.file("note.txt").exists());
    std::thread::sleep(Duration::from_millis(300));
    holder.kill().expect("SIGKILL");
    let _ = holder.wait();
    let killed = Instant::now();
    wait_for("the lock to expire", || {
        etcd.get_prefix("team/lock/default").is_empty()
    });
    assert!(
        killed.elapsed() <= Duration::from_secs(imm_executors::state::etcd::LOCK_TTL + 3),
        "the lock outlived its lease: {:?}",
        killed.elapsed()
    );
    assert!(
        !etcd.get_prefix("team/journal/default/").is_empty(),
        "the journal survived"
    );
    let text = std::fs::read_to_string(p.file("main.imm"))
        .expect("read")
        .replace("sleep 30", "true");
    std::fs::write(p.file("main.imm"), text).expect("write");
    let run = p.imm(&["apply", "--auto-approve"]);
    run.assert_ok();
    assert!(
        run.stderr.contains("an earlier apply was interrupted"),
        "{}",
        run.stderr
    );
    assert_eq!(p.imm(&["state", "list"]).stdout, "exec.job\nfile.note\n");
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
    let apply = spawn_apply(&p);
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

fn postgres_project(pg: &postgres::Postgres, create: &str) -> Project {
    let text = format!(
        "state {{\n  backend  = \"postgres\"\n  conn_str = \"{}\"\n}}\n\nresource \"exec\" \"job\" {{\n  create = [\"sh\", \"-c\", \"{create}\"]\n}}\n\nresource \"file\" \"note\" {{\n  path    = \"note.txt\"\n  content = \"hello\"\n}}\n\noutput \"sum\" {{\n  value = file.note.sha256\n}}\n",
        pg.url
    );
    Project::new(&[("main.imm", &text)])
}

fn spawn_apply_with(p: &Project, env: &[(&str, &str)]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_imm"))
        .args(["apply", "--auto-approve"])
        .envs(env.iter().copied())
        .current_dir(p.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start imm apply")
}

fn replace_in_main(p: &Project, from: &str, to: &str) {
    let text = std::fs::read_to_string(p.file("main.imm"))
        .expect("read")
        .replace(from, to);
    std::fs::write(p.file("main.imm"), text).expect("write");
}

/// Advisory locks the server holds for anyone.
fn advisory_locks(pg: &postgres::Postgres) -> String {
    pg.query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
}

#[test]
fn state_lives_in_postgres_and_nothing_of_it_on_disk_nor_the_password() {
    let pg = postgres::Postgres::start();
    let p = postgres_project(&pg, "true");
    let env = pg.env();
    p.imm_with_env(&["apply", "--auto-approve"], &env)
        .assert_ok();
    let stored = pg.query("SELECT document::text FROM imm.states WHERE environment = 'default'");
    assert!(stored.contains("\"file.note\""), "{stored}");
    assert!(
        !p.file(".imm/state/default.json").exists(),
        "no local state file"
    );
    assert_eq!(
        pg.query("SELECT count(*) FROM imm.state_journal"),
        "0",
        "the journal is folded in"
    );
    assert_eq!(
        pg.query("SELECT count(*) FROM imm.state_locks"),
        "0",
        "the lock is released"
    );
    assert_eq!(advisory_locks(&pg), "0");
    p.imm_with_env(&["plan", "--detailed-exitcode"], &env)
        .assert_code(0);
    assert_eq!(
        p.imm_with_env(&["state", "list"], &env).stdout,
        "exec.job\nfile.note\n"
    );
    let everything = p.everything_printed(&env, &[&["state", "show", "file.note"]]);
    for place in [everything, stored, common::text_under(p.path())] {
        assert!(
            !place.contains(postgres::PASSWORD),
            "the password leaked: {place}"
        );
    }
}

#[test]
fn postgres_that_refuses_the_password_or_does_not_answer_is_a_clear_error() {
    let pg = postgres::Postgres::start();
    let p = postgres_project(&pg, "true");
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
fn two_applies_on_postgres_state_exactly_one_proceeds_and_the_other_names_the_holder() {
    let pg = postgres::Postgres::start();
    let p = postgres_project(&pg, "sleep 2");
    let env = pg.env();
    let first = spawn_apply_with(&p, &env);
    wait_for("the first apply's lock", || advisory_locks(&pg) == "1");
    let second = p.imm_with_env(&["apply", "--auto-approve"], &env);
    second
        .assert_fails_with("E0604")
        .assert_fails_with("is locked by")
        .assert_fails_with(&format!("pid {}", first.id()));
    let first = Run::from(first.wait_with_output().expect("wait"));
    first.assert_ok();
    assert_eq!(
        p.imm_with_env(&["state", "list"], &env).stdout,
        "exec.job\nfile.note\n"
    );
    p.imm_with_env(&["plan", "--detailed-exitcode"], &env)
        .assert_code(0);
}

#[test]
fn a_sigkilled_apply_on_postgres_state_leaves_no_lock_and_the_next_apply_carries_on() {
    let pg = postgres::Postgres::start();
    let p = postgres_project(&pg, "sleep 30");
    let env = pg.env();
    let mut holder = spawn_apply_with(&p, &env);
    wait_for("the note to be written", || p.file("note.txt").exists());
    std::thread::sleep(Duration::from_millis(300));
    holder.kill().expect("SIGKILL");
    let _ = holder.wait();
    let killed = Instant::now();
    wait_for("the server to drop the lock", || advisory_locks(&pg) == "0");
    assert!(
        killed.elapsed() < Duration::from_secs(2),
        "the lock died with its connection: {:?}",
        killed.elapsed()
    );
    assert_ne!(
        pg.query("SELECT count(*) FROM imm.state_journal"),
        "0",
        "the journal survived"
    );
    replace_in_main(&p, "sleep 30", "true");
    let run = p.imm_with_env(&["apply", "--auto-approve"], &env);
    run.assert_ok();
    assert!(
        run.stderr.contains("an earlier apply was interrupted"),
        "{}",
        run.stderr
    );
    assert_eq!(
        p.imm_with_env(&["state", "list"], &env).stdout,
        "exec.job\nfile.note\n"
    );
    p.imm_with_env(&["plan", "--detailed-exitcode"], &env)
        .assert_code(0);
    p.imm_with_env(&["force-unlock", "any"], &env)
        .assert_fails_with("nothing to force");
}

#[test]
fn a_saved_plan_made_before_postgres_state_moved_is_refused() {
    let pg = postgres::Postgres::start();
    let p = postgres_project(&pg, "true");
    let env = pg.env();
    p.imm_with_env(&["apply", "--auto-approve"], &env)
        .assert_ok();
    replace_in_main(&p, "hello", "bonjour");
    p.imm_with_env(&["plan", "--out", "saved.plan"], &env)
        .assert_ok();
    replace_in_main(&p, "bonjour", "hallo");
    p.imm_with_env(&["apply", "--auto-approve"], &env)
        .assert_ok();
    replace_in_main(&p, "hallo", "bonjour");
    p.imm_with_env(&["apply", "saved.plan"], &env)
        .assert_fails_with("E0703");
    assert_eq!(
        std::fs::read_to_string(p.file("note.txt")).expect("note"),
        "hallo"
    );
}

#[test]
fn a_write_to_postgres_state_is_refused_when_another_wrote_since_it_was_read() {
    let pg = postgres::Postgres::start();
    let p = postgres_project(&pg, "true");
    let env = pg.env();
    p.imm_with_env(&["apply", "--auto-approve"], &env)
        .assert_ok();
    replace_in_main(&p, "\"true\"", "\"sleep 3\"");
    let apply = spawn_apply_with(&p, &env);
    wait_for("the apply's lock", || advisory_locks(&pg) == "1");
    std::thread::sleep(Duration::from_millis(1500));
    // Another writer (not imm: imm would wait for the lock) moves the state.
    pg.query("UPDATE imm.states SET revision = revision + 1");
    let run = Run::from(apply.wait_with_output().expect("wait"));
    run.assert_fails_with("E0818")
        .assert_fails_with("changed by another writer since it was read");
    // What the refused run did is in the journal: the next run folds it in.
    let next = p.imm_with_env(&["apply", "--auto-approve"], &env);
    next.assert_ok();
    p.imm_with_env(&["plan", "--detailed-exitcode"], &env)
        .assert_code(0);
}

#[test]
fn state_in_postgres_over_tls_when_the_server_accepts_nothing_else() {
    let pg = postgres::Postgres::start_tls_only();
    let env = pg.env();
    let clear = postgres_project(&pg, "true");
    clear
        .imm_with_env(&["apply", "--auto-approve"], &env)
        .assert_fails_with("E0817")
        .assert_fails_with("no encryption");
    let tls = pg.url.replace("sslmode=disable", "sslmode=require");
    let p = postgres_project(&pg, "true");
    replace_in_main(&p, &pg.url, &tls);
    p.imm_with_env(&["apply", "--auto-approve"], &env)
        .assert_ok();
    assert_eq!(
        p.imm_with_env(&["state", "list"], &env).stdout,
        "exec.job\nfile.note\n"
    );
}
