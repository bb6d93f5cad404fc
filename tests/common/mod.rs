//! Helpers shared by the end-to-end tests: run the real `imm` binary in a
//! temporary project directory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new(files: &[(&str, &str)]) -> Project {
        let dir = tempfile::tempdir().expect("temporary directory");
        for (name, text) in files {
            let path = dir.path().join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("create directories");
            }
            std::fs::write(path, text).expect("write fixture file");
        }
        Project { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `imm ARGS` in the project directory with a clean `IMM_VAR_*` set.
    pub fn imm(&self, args: &[&str]) -> Run {
        self.imm_with_env(args, &[])
    }

    pub fn imm_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_imm"));
        cmd.args(args).current_dir(self.path()).env("NO_COLOR", "1");
        for (k, _) in std::env::vars() {
            if k.starts_with("IMM_VAR_") {
                cmd.env_remove(k);
            }
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        Run::from(cmd.output().expect("run the imm binary"))
    }
}

/// Every file below `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The contents of every file below `dir`, as one text (to look for a
/// secret that must not be there).
pub fn text_under(dir: &Path) -> String {
    files_under(dir)
        .iter()
        .map(|f| String::from_utf8_lossy(&std::fs::read(f).unwrap_or_default()).into_owned())
        .collect()
}

impl Project {
    /// Everything imm prints for the project: the plan in every format, a
    /// saved plan (`saved.plan`), an apply, then `extra` commands; each must
    /// succeed. For tests that look for a secret that must not be there.
    pub fn everything_printed(&self, env: &[(&str, &str)], extra: &[&[&str]]) -> String {
        let mut commands: Vec<&[&str]> = vec![
            &["plan"],
            &["plan", "--format", "json"],
            &["plan", "--format", "markdown"],
            &["plan", "--out", "saved.plan"],
            &["apply", "--auto-approve"],
        ];
        commands.extend_from_slice(extra);
        let mut printed = String::new();
        for args in commands {
            let run = self.imm_with_env(args, env);
            run.assert_ok();
            printed.push_str(&run.all());
        }
        printed
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Run {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn assert_fails_with(&self, code: &str) -> &Run {
        assert_eq!(
            self.code, 1,
            "expected exit 1\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        assert!(
            self.all().contains(code),
            "expected {code} in:\n{}",
            self.all()
        );
        self
    }

    #[track_caller]
    pub fn assert_stdout_contains(&self, text: &str) -> &Run {
        assert!(
            self.stdout.contains(text),
            "expected {text:?} on stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// The exit code, asserted.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

impl Project {
    /// Starts `imm ARGS` in the project directory without waiting for it
    /// (to kill or signal it mid-way); stdout is dropped, stderr kept.
    pub fn spawn_imm(&self, args: &[&str]) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_imm"))
            .args(args)
            .current_dir(self.path())
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start the imm binary")
    }

    /// Runs a shell script in a mount namespace of its own, with `PROJECT`
    /// and `IMM` set, for tests that mount a tmpfs (a full or read-only
    /// disk). Needs root and util-linux's `unshare`, as CI has; says so
    /// when they are missing.
    pub fn in_private_mounts(&self, script: &str) {
        let run = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", script])
            .env("PROJECT", self.path())
            .env("IMM", env!("CARGO_BIN_EXE_imm"))
            .env("NO_COLOR", "1")
            .output()
            .expect("run unshare (util-linux)");
        assert!(
            run.status.success(),
            "this test mounts a private tmpfs, which needs root and util-linux's unshare (CI runs as root): {}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
}

/// A tiny seeded generator: the same kill points on every run of a test.
pub struct Seeded(pub u64);

impl Seeded {
    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

/// The commands `imm … --help` lists under "Commands:" (without `help`).
pub fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}
