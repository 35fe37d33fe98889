//! The crash matrix on `stacks/base.yaml` itself: `apply base` killed with SIGKILL at every
//! request it makes, before and after moto processes it, each time on an emptied moto with no
//! state (base's names are fixed, so runs cannot share an account), then `apply base` again at
//! once. Every time the re-run exits 0, `plan base` is empty, `drift base` clean, and moto holds
//! one resource per address and nothing tagged that state does not hold.
//!
//! `tests/crash.rs` kills at every request of a stack with every type of base and tenant in
//! miniature, in the default run; this matrix repeats it on the real base stack, whose ~30
//! resources make 99 requests, 198 kills taking about 15 minutes on two cores, so it is run on
//! demand:
//! `cargo test --test tests crash_base -- --ignored --nocapture`.

use std::time::Duration;

use crate::common::reliability::{assert_converged, run_via, signal, spawn};
use crate::common::{copy_repo_stack, Project};
use clawform_testkit::{FaultConfig, FaultProxy, Hold};

#[tokio::test(flavor = "multi_thread")]
#[ignore = "about 15 minutes: run with `cargo test --test tests crash_base -- --ignored`"]
async fn sigkill_at_every_request_of_apply_base_then_apply_converges() {
    let project = Project::new();
    copy_repo_stack(&project, "base");
    let state = project.path().join("state");

    let proxy = FaultProxy::start(&project.moto.endpoint, FaultConfig::pass_through());
    let run = run_via(&project, &["apply", "base", "--auto-approve"], &proxy.endpoint, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let total = proxy.requests();
    drop(proxy);
    let resources = project.state("base")["resources"].as_array().map(Vec::len).expect("resources");

    let started = std::time::Instant::now();
    let mut lines = vec![format!("a whole apply of base makes {total} requests for {resources} resources")];
    for at in 1..=total {
        for hold in [Hold::BeforeForwarding, Hold::AfterForwarding] {
            project.moto.reset();
            let _ = std::fs::remove_dir_all(&state);
            let proxy = FaultProxy::start(&project.moto.endpoint, FaultConfig { hold: Some((at, hold)), ..FaultConfig::pass_through() });
            let mut child = spawn(&project, &["apply", "base", "--auto-approve"], &proxy.endpoint, &[]);
            let Some(held) = proxy.wait_held_or(Duration::from_secs(300), || matches!(child.try_wait(), Ok(Some(_)))) else {
                panic!("the apply ended before request {at}: {:?}", child.wait());
            };
            signal(&child, "KILL");
            assert_eq!(child.wait().expect("wait for the killed CLI").code(), None, "killed by a signal");
            drop(proxy);
            if state.join("base.lock").exists() {
                project.ok(&["force-unlock", "base", &project.lock_id("base"), "--force"], 0);
            }
            let again = project.run(&["apply", "base", "--auto-approve"]);
            assert_eq!(again.code, 0, "re-apply after SIGKILL at request {at} ({held}, {hold:?}) failed:\n{}", again.all());
            project.ok(&["plan", "base", "--detailed-exitcode"], 0);
            project.ok(&["drift", "base"], 0);
            assert_converged(&project, "base", resources, &format!("killed at request {at} ({held}, {hold:?})")).await;
            lines.push(format!("SIGKILL at request {at} ({held}, {hold:?}): converged"));
        }
    }
    lines.push(format!("{} kills in {:.0} s", 2 * total, started.elapsed().as_secs_f64()));
    eprintln!("{}", lines.join("\n"));
}
