//! Hostile input never panics: every case gives a clear diagnostic (or is
//! simply valid) through the real binary.

mod common;
use common::Project;

#[test]
fn empty_file_is_a_valid_project() {
    let p = Project::new(&[("main.imm", "")]);
    p.imm(&["validate", "."]).assert_ok();
}

#[test]
fn binary_file_is_reported_as_not_utf8_with_its_position() {
    let p = Project::new(&[]);
    let mut bytes = b"locals {\n  a = 1\n".to_vec();
    bytes.extend([0x00, 0xff, 0xfe, 0x80, 0x01, 0x02]);
    std::fs::write(p.file("main.imm"), bytes).expect("write");
    let run = p.imm(&["validate", ".", "--format", "json"]);
    run.assert_fails_with("E0001");
    let json: serde_json::Value =
        serde_json::from_str(run.stdout.lines().next().expect("a line")).expect("json");
    assert_eq!(json["line"], 3);
    assert_eq!(
        json["column"], 2,
        "the NUL byte is valid UTF-8; the 0xff after it is not"
    );
}

#[test]
fn invalid_utf8_in_the_middle_of_a_string() {
    let p = Project::new(&[]);
    let mut bytes = b"output \"o\" {\n  value = \"caf".to_vec();
    bytes.extend([0xe9, b'"', b'\n', b'}', b'\n']);
    std::fs::write(p.file("main.imm"), bytes).expect("write");
    let run = p.imm(&["validate", "."]);
    run.assert_fails_with("E0001");
    assert!(run.stderr.contains("main.imm:2:15"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn one_megabyte_single_line_string_is_fine() {
    let long = "x".repeat(1024 * 1024);
    let text = format!("output \"long\" {{\n  value = length(\"{long}\")\n}}\n");
    let p = Project::new(&[("main.imm", &text)]);
    p.imm(&["apply", "."]).assert_ok();
    let run = p.imm(&["output", "long"]);
    run.assert_ok();
    assert_eq!(run.stdout.trim(), "1048576");
}

#[test]
fn ten_thousand_deep_nesting_is_refused_clearly() {
    let depth = 10_000;
    let text = format!(
        "locals {{\n  deep = {}1{}\n}}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let p = Project::new(&[("main.imm", &text)]);
    let run = p.imm(&["validate", "."]);
    run.assert_fails_with("E0003");
    assert!(
        run.stderr.contains("nested more than 256 levels"),
        "{}",
        run.stderr
    );
    let parens = format!(
        "locals {{\n  deep = {}1{}\n}}\n",
        "(".repeat(depth),
        ")".repeat(depth)
    );
    std::fs::write(p.file("main.imm"), parens).expect("write");
    p.imm(&["validate", "."]).assert_fails_with("E0003");
}

#[test]
fn a_million_chained_operators_are_refused_clearly() {
    // Brackets do not bound these; a tree this deep overflowed the stack
    // (imm aborted) when it was evaluated or dropped.
    let cases = [
        ("sum", format!("{}1", "1 + ".repeat(1_000_000))),
        ("nots", format!("{}true", "!".repeat(1_000_000))),
        ("negations", format!("{}1", "-".repeat(1_000_000))),
    ];
    for (name, value) in cases {
        let text = format!("output \"o\" {{\n  value = {value}\n}}\n");
        let p = Project::new(&[("main.imm", &text)]);
        let run = p.imm(&["validate", "."]);
        run.assert_fails_with("E0003");
        assert!(
            run.stderr.contains("chains more than 4096 operators")
                && run.stderr.contains("main.imm:2:"),
            "{name}: {}",
            run.stderr
        );
    }
}

#[test]
fn an_expression_of_four_thousand_operators_works() {
    let text = format!(
        "output \"sum\" {{\n  value = {}1\n}}\n",
        "1 + ".repeat(4_000)
    );
    let p = Project::new(&[("main.imm", &text)]);
    p.imm(&["apply", "."]).assert_ok();
    let run = p.imm(&["output", "sum"]);
    run.assert_ok();
    assert_eq!(run.stdout.trim(), "4001");
}

#[test]
fn nesting_just_under_the_limit_works() {
    let depth = 200;
    let text = format!(
        "output \"deep\" {{\n  value = {}1{}\n}}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let p = Project::new(&[("main.imm", &text)]);
    p.imm(&["validate", "."]).assert_ok();
}

#[test]
fn garbage_of_every_kind_gives_syntax_errors_not_panics() {
    let cases = [
        "}}}}",
        "{{{{",
        "resource",
        "resource \"a\"",
        "a = ",
        "= = =",
        "\"unterminated",
        "<<EOT\nno end",
        "locals { a = <<EOT\n",
        "/* unterminated comment",
        "locals { a = \"${\" }",
        "locals { a = [for] }",
        "\u{feff}\u{200b}locals {}",
        "locals { a = 1e999999 }",
        "locals { a = \"\\uD800\" }",
    ];
    for (i, text) in cases.iter().enumerate() {
        let p = Project::new(&[("main.imm", text)]);
        let run = p.imm(&["validate", "."]);
        assert!(
            !run.stderr.contains("panicked") && !run.stderr.contains("stopped unexpectedly"),
            "case {i} {text:?}:\n{}",
            run.stderr
        );
        assert!(
            run.code == 0 || run.code == 1,
            "case {i}: exit {}",
            run.code
        );
        if run.code == 1 {
            assert!(
                run.stderr.contains("E0"),
                "case {i} {text:?}: no code in\n{}",
                run.stderr
            );
        }
    }
}

#[test]
fn missing_directory_and_directory_without_files() {
    let p = Project::new(&[]);
    p.imm(&["validate", "does-not-exist"])
        .assert_fails_with("E0601");
    p.imm(&["validate", "."]).assert_fails_with("E0602");
}

#[test]
fn many_unclosed_braces_recover_in_linear_time() {
    // Found by the fuzzer: brace matching in error recovery was exponential.
    let mut text = String::new();
    for i in 0..40 {
        text.push_str(&format!("  broken{i} \"x\" {{ {{\n  a = (\n"));
    }
    let p = Project::new(&[("main.imm", &text)]);
    let started = std::time::Instant::now();
    let run = p.imm(&["validate", "."]);
    run.assert_fails_with("E0002");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "recovery took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_file_of_garbage_lines_is_reported_without_blowing_up() {
    let text = "@@@ not valid @@@\n".repeat(20_000);
    let p = Project::new(&[("main.imm", &text)]);
    let run = p.imm(&["validate", ".", "--format", "json"]);
    assert_eq!(run.code, 1);
    let lines = run.stdout.lines().count();
    assert!(
        (100..=102).contains(&lines),
        "explained up to 100 lines, then one summary: {lines}"
    );
    assert!(run.stdout.contains("too many syntax errors"));
}

/// Runs `imm ARGS` in `dir`, failing the test if it does not end within
/// ten seconds (a FIFO read would block for ever).
fn imm_within_seconds(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_imm"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run imm");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                use std::io::Read;
                let _ = pipe.read_to_string(&mut stderr);
            }
            return (status.code().unwrap_or(-1), stderr);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("imm {args:?} did not finish within 10 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[cfg(unix)]
#[test]
fn an_imm_file_that_cannot_be_read_is_an_error_never_left_out() {
    let resource = "resource \"file\" \"kept\" {\n  path    = \"kept.txt\"\n  content = \"k\"\n}\n";
    let p = Project::new(&[("a.imm", "locals {\n  x = 1\n}\n"), ("b.imm", resource)]);
    p.imm(&["apply", "--auto-approve"]).assert_ok();
    let b = p.file("b.imm");
    std::fs::remove_file(&b).expect("remove b.imm");

    // A dangling symlink, a directory and a FIFO in its place: each is an
    // error naming it, and nothing is planned for destruction.
    std::os::unix::fs::symlink(p.file("gone.imm.target"), &b).expect("symlink");
    let (code, stderr) = imm_within_seconds(p.path(), &["apply", "--auto-approve"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("E0601") && stderr.contains("b.imm"),
        "{stderr}"
    );
    assert!(p.file("kept.txt").exists(), "nothing was destroyed");

    std::fs::remove_file(&b).expect("remove link");
    std::fs::create_dir(&b).expect("directory named b.imm");
    let (code, stderr) = imm_within_seconds(p.path(), &["plan"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("b.imm is a directory"), "{stderr}");

    std::fs::remove_dir(&b).expect("remove dir");
    let made = std::process::Command::new("mkfifo")
        .arg(&b)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let (code, stderr) = imm_within_seconds(p.path(), &["validate"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");

    std::fs::remove_file(&b).expect("remove fifo");
    std::os::unix::fs::symlink("b.imm", &b).expect("a link to itself");
    let (code, stderr) = imm_within_seconds(p.path(), &["plan"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("E0601") && stderr.contains("b.imm"),
        "{stderr}"
    );
}

/// The project's `.imm` on a tmpfs in a mount namespace of its own, made
/// read-only after a first apply (root only, as CI runs).
const READ_ONLY_SCRIPT: &str = r#"
set -u
cd "$PROJECT"
mkdir -p .imm
mount -t tmpfs -o size=4m tmpfs .imm || { echo "cannot mount a tmpfs" >&2; exit 90; }
"$IMM" apply --auto-approve >first.out 2>&1; echo $? >first.code
cp main.two main.imm
mount -o remount,ro .imm || exit 91
"$IMM" apply --auto-approve >ro.out 2>&1; echo $? >ro.code
cp a.txt a-when-ro.txt
mount -o remount,rw .imm || exit 92
"$IMM" apply --auto-approve >rw.out 2>&1; echo $? >rw.code
"#;

#[cfg(unix)]
#[test]
fn a_read_only_state_directory_is_a_clear_error_and_changes_nothing() {
    let one = "resource \"file\" \"a\" {\n  path    = \"a.txt\"\n  content = \"one\"\n}\n";
    let two = "resource \"file\" \"a\" {\n  path    = \"a.txt\"\n  content = \"two\"\n}\n";
    let p = Project::new(&[("main.imm", one), ("main.two", two)]);
    p.in_private_mounts(READ_ONLY_SCRIPT);
    let read = |name: &str| std::fs::read_to_string(p.file(name)).unwrap_or_default();
    assert_eq!(read("first.code").trim(), "0", "{}", read("first.out"));
    assert_eq!(read("ro.code").trim(), "1", "{}", read("ro.out"));
    assert!(
        read("ro.out").contains("Read-only file system"),
        "{}",
        read("ro.out")
    );
    assert!(
        read("ro.out").contains("E060"),
        "a state code: {}",
        read("ro.out")
    );
    assert_eq!(read("a-when-ro.txt"), "one", "nothing was changed");
    assert_eq!(read("rw.code").trim(), "0", "{}", read("rw.out"));
    assert_eq!(read("a.txt"), "two");
}

#[cfg(unix)]
#[test]
fn inputs_without_end_are_refused_quickly_with_their_limit() {
    // count far beyond what memory holds.
    let p = Project::new(&[(
        "main.imm",
        "resource \"file\" \"f\" {\n  count   = 1e7\n  path    = \"x${count.index}\"\n  content = \"x\"\n}\n",
    )]);
    let (code, stderr) = imm_within_seconds(p.path(), &["validate"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("E0313") && stderr.contains("100000 instances"),
        "{stderr}"
    );

    // A device that never ends, read by a file function.
    let p = Project::new(&[("main.imm", "locals {\n  z = file(\"/dev/zero\")\n}\n")]);
    let (code, stderr) = imm_within_seconds(p.path(), &["validate"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");

    // A pipe inside a build context.
    let p = Project::new(&[
        (
            "main.imm",
            "resource \"docker_image\" \"app\" {\n  build {\n    context = \"./app\"\n  }\n}\n",
        ),
        ("app/Dockerfile", "FROM scratch\n"),
    ]);
    let made = std::process::Command::new("mkfifo")
        .arg(p.file("app/pipe"))
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let (code, stderr) = imm_within_seconds(p.path(), &["plan"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("E0705") && stderr.contains("not a regular file"),
        "{stderr}"
    );
}

#[test]
fn a_missing_certificate_stops_plan_at_its_line_but_not_validate() {
    let p = Project::new(&[(
        "main.imm",
        "engine \"prod\" {\n  endpoints = [\"tcp://10.0.0.2:2376\"]\n  tls {\n    ca   = \"certs/ca.pem\"\n    cert = \"certs/cert.pem\"\n    key  = \"certs/key.pem\"\n  }\n}\n\nresource \"docker_network\" \"net\" {\n  engine = engine.prod\n}\n",
    )]);
    // Certificates often live outside the repository: validate in CI
    // checks the configuration without them.
    p.imm(&["validate"]).assert_ok();
    let plan = p.imm(&["plan", "--format", "json"]);
    plan.assert_fails_with("E0314");
    assert!(
        plan.all().contains("main.imm:4:12") || plan.all().contains("\"line\":4"),
        "the missing file is shown where it is named: {}",
        plan.all()
    );
}
