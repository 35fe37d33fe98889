//! Crashes: the CLI killed with SIGKILL at many points of an apply, then applied again. Every
//! time, the state file parses, the second apply converges (its plan afterwards is empty, drift
//! finds nothing), and moto holds no duplicate and no untracked resource (nothing tagged with
//! the stack that state does not hold).
//!
//! The moment is chosen by request count, which is deterministic where a timer is not: a first
//! apply through the fault proxy counts the requests a whole apply makes (R); then a run holds
//! request k and kills the CLI while it is held, for **every** k in 1..=R, once holding the
//! request **before** moto sees it and once **after** moto processed it (the create happened,
//! the CLI never heard: the case adoption by ownership tags exists for): 2 × R runs.
//!
//! The stack is a small one with the shape of base + tenant (VPC, subnets, internet gateway,
//! Elastic IP, route table and association, security group, IAM role and inline policy, log
//! group, ECS cluster, load balancer, listener, target group, listener rule, secret and
//! version, task definition, ECS service: 20 resources of 19 types): a kill is then possible
//! between any two steps of every type in base and tenant, while the 2 × R runs (a killed apply, a
//! re-apply, a plan and a drift each) take a minute or two on two cores. The base stack itself
//! would take several times longer for the same number of kill points, and would only repeat
//! types. Each run has its own stack and names, so runs on one moto do not meet.

use std::time::Duration;

use crate::common::reliability::{assert_converged, run_via, signal, spawn};
use crate::common::Project;
use clawform_testkit::{FaultConfig, FaultProxy, Hold};

fn stack(n: u64) -> String {
    include_str!("crash_stack.yaml").replace("NN", &n.to_string())
}

/// Requests a whole apply of the crash stack makes (through a proxy that only counts), as run
/// number `n`.
fn requests_of_a_whole_apply(project: &Project, n: u64) -> u64 {
    let name = format!("crash{n}");
    project.write_stack(&name, &stack(n));
    let proxy = FaultProxy::start(&project.moto.endpoint, FaultConfig::pass_through());
    let run = run_via(project, &["apply", &name, "--auto-approve"], &proxy.endpoint, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    proxy.requests()
}

async fn kill_at(project: &Project, n: u64, at: u64, hold: Hold) -> String {
    let name = format!("crash{n}");
    project.write_stack(&name, &stack(n));
    let proxy = FaultProxy::start(&project.moto.endpoint, FaultConfig { hold: Some((at, hold)), ..FaultConfig::pass_through() });
    // `$USER` empty, as under cron or in a container: the lock still names the OS login.
    let mut child = spawn(project, &["apply", &name, "--auto-approve"], &proxy.endpoint, &[("USER", "")]);
    let held = proxy.wait_held_or(Duration::from_secs(120), || matches!(child.try_wait(), Ok(Some(_))));
    let held = match held {
        Some(op) => op,
        None => {
            let out = child.wait_with_output().expect("wait");
            panic!("run {n}: the apply ended before request {at}:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        }
    };
    signal(&child, "KILL");
    let status = child.wait().expect("wait for the killed CLI");
    assert_eq!(status.code(), None, "run {n}: killed by a signal");
    drop(proxy);

    // What a user finds after a crash: the state parses (or there is none yet), and the lock
    // names the dead holder until it is cleared.
    let state_file = project.state_file(&name);
    let before = std::fs::read_to_string(&state_file).ok();
    if let Some(text) = &before {
        serde_json::from_str::<serde_json::Value>(text)
            .unwrap_or_else(|e| panic!("run {n}: state does not parse after SIGKILL at request {at} ({held}): {e}\n{text}"));
    }
    let lock = project.path().join("state").join(format!("{name}.lock"));
    assert!(lock.exists(), "run {n}: an apply killed mid-way leaves its lock");
    let holder: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&lock).unwrap()).unwrap();
    let who = holder["who"].as_str().unwrap_or_default();
    assert!(!who.starts_with('@') && !who.starts_with("unknown@"), "run {n}: the holder is named by its OS login: {who}");
    let stale = project.ok(&["plan", &name], 1);
    assert!(stale.stderr.contains("no longer running on this host"), "run {n}: the lock message says its holder is gone: {}", stale.stderr);
    project.ok(&["force-unlock", &name, &project.lock_id(&name), "--force"], 0);

    let again = project.run(&["apply", &name, "--auto-approve"]);
    assert_eq!(again.code, 0, "run {n}: re-apply after SIGKILL at request {at} ({held}, {hold:?}) failed:\n{}", again.all());
    project.ok(&["plan", &name, "--detailed-exitcode"], 0);
    project.ok(&["drift", &name], 0);
    assert_converged(project, &name, 20, &format!("run {n}: killed at request {at} ({held}, {hold:?})")).await;
    format!(
        "run {n}: SIGKILL at request {at} ({held}, {hold:?}); state had {} resources",
        before.map(|t| serde_json::from_str::<serde_json::Value>(&t).ok().and_then(|s| s["resources"].as_array().map(Vec::len)).unwrap_or(0)).unwrap_or(0)
    )
}

/// Kills at every request of a whole apply, each both before and after moto processes it; the
/// two functions take alternate ones of those 2 × R points.
async fn kills(offset: u64) {
    let project = Project::new();
    // Run numbers 1000.. and 2000..: the two functions share one moto server.
    let first = 1000 * (offset + 1);
    let total = requests_of_a_whole_apply(&project, first + 999);
    assert!(total > 20, "a whole apply makes only {total} requests");
    let mut lines = vec![format!("a whole apply makes {total} requests")];
    let points = (1..=total).flat_map(|at| [(at, Hold::BeforeForwarding), (at, Hold::AfterForwarding)]);
    for (n, (at, hold)) in points.enumerate().filter(|(n, _)| (*n as u64) % 2 == offset) {
        lines.push(kill_at(&project, first + n as u64, at, hold).await);
    }
    eprintln!("{}", lines.join("\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_even_kill_points_then_apply_converges() {
    kills(0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_odd_kill_points_then_apply_converges() {
    kills(1).await;
}
