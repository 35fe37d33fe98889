//! Helpers for end-to-end tests: a temporary project folder, the real `clawform` binary run
//! against the shared moto server, and SDK clients to look at what it made.

#![allow(dead_code)]

pub mod inventory;
pub mod reliability;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use clawform_testkit::Moto;

/// A temporary project: `stacks/` and `state/` in a folder removed at the end of the test.
pub struct Project {
    dir: tempfile::TempDir,
    pub moto: Moto,
}

/// What a CLI run printed and returned.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl Project {
    /// A project on the moto server of the calling test file (one per file: see `tests.rs`).
    #[track_caller]
    pub fn new() -> Project {
        let moto = clawform_testkit::moto_for(std::panic::Location::caller().file());
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("stacks")).expect("stacks dir");
        Project { dir, moto }
    }

    /// A project on a moto server of its own, for a test that applies the base stack (whose
    /// names are fixed) beside another test of the same file that does too.
    #[track_caller]
    pub fn on_its_own_moto() -> Project {
        let caller = std::panic::Location::caller();
        let moto = clawform_testkit::moto_for(&format!("{}:{}", caller.file(), caller.line()));
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("stacks")).expect("stacks dir");
        Project { dir, moto }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write_stack(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join("stacks").join(format!("{name}.yaml"));
        std::fs::write(&path, text).expect("write stack");
        path
    }

    pub fn state_file(&self, stack: &str) -> PathBuf {
        self.path().join("state").join(format!("{stack}.json"))
    }

    /// The id of the lock a stack's lock file holds (what `force-unlock STACK LOCK_ID` needs).
    pub fn lock_id(&self, stack: &str) -> String {
        let text = std::fs::read_to_string(self.path().join("state").join(format!("{stack}.lock"))).expect("lock file");
        serde_json::from_str::<serde_json::Value>(&text).expect("lock parses")["id"].as_str().expect("lock id").to_string()
    }

    /// The names of the locks held in the project's state folder (stacks, `tenants-placement`).
    pub fn held_locks(&self) -> Vec<String> {
        let entries = std::fs::read_dir(self.path().join("state")).expect("state folder");
        let mut names: Vec<String> = entries.flatten().filter_map(|e| e.file_name().to_str()?.strip_suffix(".lock").map(str::to_string)).collect();
        names.sort();
        names
    }

    pub fn state(&self, stack: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.state_file(stack)).expect("state file");
        serde_json::from_str(&text).expect("state parses")
    }

    /// Runs `clawform -C PROJECT ARGS…` against moto, with no terminal on stdin.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_env(args, &[])
    }

    pub fn run_with_env(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_clawform"));
        cmd.arg("-C").arg(self.path()).args(args).stdin(Stdio::null()).env_remove("AWS_PROFILE").env("NO_COLOR", "1");
        for (k, v) in self.moto.env() {
            cmd.env(k, v);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let Output { status, stdout, stderr } = cmd.output().expect("run clawform");
        Run { code: status.code().unwrap_or(-1), stdout: String::from_utf8_lossy(&stdout).into(), stderr: String::from_utf8_lossy(&stderr).into() }
    }

    /// Runs and asserts the exit code, printing the output when it differs.
    pub fn ok(&self, args: &[&str], code: i32) -> Run {
        let run = self.run(args);
        assert_eq!(run.code, code, "clawform {args:?} exited {} (expected {code})\n{}", run.code, run.all());
        run
    }
}

/// An EC2 client pointed at moto.
pub async fn ec2(moto: &Moto) -> aws_sdk_ec2::Client {
    let creds = aws_sdk_ec2::config::Credentials::new("testing", "testing", None, None, "tests");
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-west-2"))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(creds)
        .load()
        .await;
    aws_sdk_ec2::Client::new(&config)
}

/// The EC2 filter selecting what a stack owns.
pub fn owned_by(stack: &str) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder().name("tag:clawform:stack").values(stack).build()
}

/// The SDK configuration pointed at moto.
pub async fn sdk_config(moto: &Moto) -> aws_config::SdkConfig {
    let creds = aws_sdk_ec2::config::Credentials::new("testing", "testing", None, None, "tests");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-west-2"))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(creds)
        .load()
        .await
}

/// Copies a stack of the repository's `stacks/` into the project.
pub fn copy_repo_stack(project: &Project, name: &str) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks").join(format!("{name}.yaml"));
    std::fs::copy(&from, project.path().join("stacks").join(format!("{name}.yaml"))).expect("copy stack");
}

/// Every file under `dir`, read as text and joined: what a secret search looks through.
pub fn files_under(dir: &std::path::Path) -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            all.push_str(&files_under(&path));
        } else {
            all.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap_or_default()));
        }
    }
    all
}
