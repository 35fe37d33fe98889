//! Ctrl-C during an apply: the CLI stops scheduling, lets the call in flight finish, saves
//! state with it, releases the lock, names what was not done and exits 130; the next apply
//! finishes the job.
//!
//! The moment is chosen by request count, not time: the fault proxy holds the N-th request to
//! AWS (after moto has processed it, so the resource exists but the CLI does not know yet), the
//! test sends SIGINT, waits for the CLI to acknowledge it, then lets the answer through.

use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

use crate::common::reliability::{signal, spawn, tagged, untracked};
use crate::common::{copy_repo_stack, Project};
use clawform_testkit::{FaultConfig, FaultProxy, Hold};

/// Far enough into the base stack's apply that resources exist, far from its end (it makes
/// well over a hundred requests).
const HOLD_AT: u64 = 25;

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_mid_apply_saves_what_was_done_releases_the_lock_and_exits_130() {
    let project = Project::new();
    copy_repo_stack(&project, "base");
    let proxy = FaultProxy::start(&project.moto.endpoint, FaultConfig { hold: Some((HOLD_AT, Hold::AfterForwarding)), ..FaultConfig::pass_through() });
    let mut child = spawn(&project, &["apply", "base", "--auto-approve", "--parallelism", "4"], &proxy.endpoint, &[]);
    let held = proxy.wait_held(Duration::from_secs(120)).expect("the apply reaches the held request");
    eprintln!("holding request {HOLD_AT} ({held}); sending SIGINT");
    signal(&child, "INT");
    // Wait for the CLI to say it heard the interrupt before the held call may complete, so the
    // stop is seen before anything else could be scheduled.
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr piped"));
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).expect("read stderr") == 0 {
            panic!("clawform ended before acknowledging the interrupt:\n{seen}");
        }
        seen.push_str(&line);
        if line.contains("Interrupt received") {
            break;
        }
    }
    proxy.release();
    stderr.read_to_string(&mut seen).expect("read stderr");
    let mut stdout = String::new();
    child.stdout.take().expect("stdout piped").read_to_string(&mut stdout).expect("read stdout");
    let status = child.wait().expect("wait for clawform");
    let all = format!("{stdout}\n{seen}");

    assert_eq!(status.code(), Some(130), "exit code after Ctrl-C\n{all}");
    assert!(seen.contains("apply interrupted by Ctrl-C"), "{all}");
    assert!(seen.contains("not done: "), "what was not done is named\n{all}");
    assert!(!project.path().join("state/base.lock").exists(), "the lock is released\n{all}");
    let state = project.state("base");
    let recorded = state["resources"].as_array().expect("resources").len();
    assert!(recorded > 0, "what completed is saved\n{all}");
    let live = tagged(&project, "base").await;
    assert_eq!(untracked(&live, &state), Vec::<String>::new(), "every resource created, including the one in flight at Ctrl-C, is in state\n{all}");

    let run = project.run(&["apply", "base", "--auto-approve"]);
    assert_eq!(run.code, 0, "{}", run.all());
    project.ok(&["plan", "base", "--detailed-exitcode"], 0);
    project.ok(&["drift", "base"], 0);
    eprintln!("interrupted with {recorded} resources saved; re-apply completed");
}

#[test]
fn ctrl_c_before_the_apply_starts_changes_nothing() {
    // SIGINT while the request before any change is held (the STS/tagging reads before the
    // first create): nothing is created, no state is written, the lock is released.
    let project = Project::new();
    project.write_stack("small", "stack: small\nresources:\n  vpc:\n    type: aws_vpc\n    cidr_block: 10.9.0.0/16\n");
    let proxy = FaultProxy::start(&project.moto.endpoint, FaultConfig { hold: Some((1, Hold::BeforeForwarding)), ..FaultConfig::pass_through() });
    let mut child = spawn(&project, &["apply", "small", "--auto-approve"], &proxy.endpoint, &[]);
    let held = proxy.wait_held(Duration::from_secs(60)).expect("the apply makes a request");
    signal(&child, "INT");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr piped"));
    let mut seen = String::new();
    while !seen.contains("Interrupt received") {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).expect("read stderr") > 0, "clawform ended before acknowledging the interrupt:\n{seen}");
        seen.push_str(&line);
    }
    proxy.release();
    stderr.read_to_string(&mut seen).expect("read stderr");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130), "held {held}\n{seen}");
    assert!(!project.path().join("state/small.lock").exists(), "{seen}");
    let saved = std::fs::read_to_string(project.state_file("small")).unwrap_or_else(|_| r#"{"resources":[]}"#.into());
    let saved: serde_json::Value = serde_json::from_str(&saved).expect("state parses");
    assert_eq!(saved["resources"].as_array().map(Vec::len), Some(0), "{seen}");
}
