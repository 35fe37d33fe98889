//! Crashes during `tenant create`: the CLI killed with SIGKILL at every request a tenant create
//! makes, before and after moto processes it, then `tenant create` run again. Every time the
//! tenant converges (its plan is then empty, drift finds nothing), and moto holds no duplicate
//! and no untracked resource of it.
//!
//! What this proves beyond `tests/crash.rs`: a new tenant's creates skip the search for
//! leftovers of earlier runs (its state document, written before anything is created, has an
//! empty journal of creates), so the journal must be what brings the search back after a
//! crash, or a second `tenant create` would make a second task definition revision, or fail on
//! a name the first one took.

use std::time::Duration;

use crate::common::reliability::{assert_converged, run_via, signal, spawn};
use crate::common::{copy_repo_stack, Project};
use clawform_testkit::{FaultConfig, FaultProxy, Hold};

const KEY: (&str, &str) = ("CRASH_API_KEY", "sk-ant-crash-test-NOT-REAL");

fn create_args(id: &str) -> Vec<&str> {
    vec!["tenant", "create", id, "--api-key-env", KEY.0]
}

async fn kill_at(project: &Project, id: &str, at: u64, hold: Hold) -> String {
    let stack = format!("tenant-{id}");
    let proxy = FaultProxy::start(&project.moto.endpoint, FaultConfig { hold: Some((at, hold)), ..FaultConfig::pass_through() });
    let mut child = spawn(project, &create_args(id), &proxy.endpoint, &[KEY]);
    let held = match proxy.wait_held_or(Duration::from_secs(120), || matches!(child.try_wait(), Ok(Some(_)))) {
        Some(op) => op,
        None => {
            let out = child.wait_with_output().expect("wait");
            panic!("{id}: the create ended before request {at}:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        }
    };
    signal(&child, "KILL");
    assert_eq!(child.wait().expect("wait for the killed CLI").code(), None, "{id}: killed by a signal");
    drop(proxy);
    // A kill while the Auto Scaling group's maximum is raised for this tenant lands before its
    // state exists, and leaves the placement and base locks held as well as its own.
    let journal = if project.state_file(&stack).exists() { project.state(&stack)["creating"].clone() } else { serde_json::Value::Null };
    for lock in project.held_locks() {
        project.ok(&["force-unlock", &lock, &project.lock_id(&lock), "--force"], 0);
    }

    let again = project.run_with_env(&create_args(id), &[KEY]);
    assert_eq!(again.code, 0, "{id}: tenant create after SIGKILL at request {at} ({held}, {hold:?}) failed:\n{}", again.all());
    project.ok(&["tenant", "plan", id, "--detailed-exitcode"], 0);
    project.ok(&["drift", &stack], 0);
    project.ok(&["plan", "base", "--detailed-exitcode"], 0);
    let state = assert_converged(project, &stack, 5, &format!("{id}: killed at request {at} ({held}, {hold:?})")).await;
    assert_eq!(state["creating"], serde_json::json!([]), "{id}: the journal is empty once every create is recorded");
    format!("{id}: SIGKILL at request {at} ({held}, {hold:?}); journal then {journal}")
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_during_tenant_create_then_create_again_converges() {
    let project = Project::on_its_own_moto();
    copy_repo_stack(&project, "base");
    copy_repo_stack(&project, "tenant");
    project.ok(&["apply", "base", "--auto-approve"], 0);

    // How many requests a whole tenant create makes (through a proxy that only counts).
    let proxy = FaultProxy::start(&project.moto.endpoint, FaultConfig::pass_through());
    let run = run_via(&project, &create_args("whole"), &proxy.endpoint, &[KEY]);
    assert_eq!(run.code, 0, "{}", run.all());
    let total = proxy.requests();
    assert!((6..=12).contains(&total), "a tenant create makes {total} requests");
    drop(proxy);

    let mut lines = vec![format!("a whole tenant create makes {total} requests")];
    for at in 1..=total {
        for (n, hold) in [Hold::BeforeForwarding, Hold::AfterForwarding].into_iter().enumerate() {
            lines.push(kill_at(&project, &format!("k{at}x{n}"), at, hold).await);
        }
    }
    eprintln!("{}", lines.join("\n"));
}

/// What of `stack` is still live and tagged, leaving out secrets scheduled for deletion (Secrets
/// Manager keeps them, tagged, through their recovery window) and deleted ECS services (ECS
/// keeps them listed as DRAINING, then INACTIVE).
async fn live_of(project: &Project, stack: &str) -> Vec<String> {
    let config = crate::common::sdk_config(&project.moto).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let ecs = aws_sdk_ecs::Client::new(&config);
    let mut out = Vec::new();
    for (address, arns) in crate::common::reliability::tagged(project, stack).await {
        for arn in arns {
            if arn.contains(":secretsmanager:") {
                let described = secrets.describe_secret().secret_id(&arn).send().await;
                if described.as_ref().map_or(true, |d| d.deleted_date().is_some()) {
                    continue;
                }
            }
            if arn.contains(":service/") {
                let cluster = arn.rsplit('/').nth(1).unwrap_or_default().to_string();
                let described = ecs.describe_services().cluster(cluster).services(&arn).send().await.expect("DescribeServices");
                if described.services().iter().all(|s| matches!(s.status(), Some("INACTIVE") | Some("DRAINING"))) {
                    continue;
                }
            }
            out.push(format!("{address} {arn}"));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_during_tenant_destroy_then_destroy_again_leaves_nothing() {
    let project = Project::on_its_own_moto();
    copy_repo_stack(&project, "base");
    copy_repo_stack(&project, "tenant");
    project.ok(&["apply", "base", "--auto-approve"], 0);

    // How many requests a whole tenant destroy makes.
    assert_eq!(project.run_with_env(&create_args("dwhole"), &[KEY]).code, 0);
    let proxy = FaultProxy::start(&project.moto.endpoint, FaultConfig::pass_through());
    let run = run_via(&project, &["tenant", "destroy", "dwhole", "--auto-approve"], &proxy.endpoint, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let total = proxy.requests();
    drop(proxy);
    let left = live_of(&project, "tenant-dwhole").await;
    assert!(left.is_empty(), "a whole destroy leaves nothing: {left:?}");

    let mut lines = vec![format!("a whole tenant destroy makes {total} requests")];
    for at in 1..=total {
        for (n, hold) in [Hold::BeforeForwarding, Hold::AfterForwarding].into_iter().enumerate() {
            let id = format!("d{at}x{n}");
            let stack = format!("tenant-{id}");
            let created = project.run_with_env(&create_args(&id), &[KEY]);
            assert_eq!(created.code, 0, "{}", created.all());
            let proxy = FaultProxy::start(&project.moto.endpoint, FaultConfig { hold: Some((at, hold)), ..FaultConfig::pass_through() });
            let mut child = spawn(&project, &["tenant", "destroy", &id, "--auto-approve"], &proxy.endpoint, &[]);
            let held = proxy
                .wait_held_or(Duration::from_secs(120), || matches!(child.try_wait(), Ok(Some(_))))
                .unwrap_or_else(|| panic!("{id}: the destroy ended before request {at}"));
            signal(&child, "KILL");
            assert_eq!(child.wait().expect("wait for the killed CLI").code(), None, "{id}: killed by a signal");
            drop(proxy);
            project.ok(&["force-unlock", &stack, &project.lock_id(&stack), "--force"], 0);
            let again = project.run(&["tenant", "destroy", &id, "--auto-approve"]);
            assert_eq!(again.code, 0, "{id}: tenant destroy after SIGKILL at request {at} ({held}, {hold:?}) failed:\n{}", again.all());
            assert_eq!(live_of(&project, &stack).await, Vec::<String>::new(), "{id}: killed at request {at} ({held}, {hold:?}): nothing is left");
            assert!(!project.ok(&["tenant", "list"], 0).stdout.contains(&format!("{id} ")), "{id}: no longer listed");
            lines.push(format!("{id}: SIGKILL at request {at} ({held}, {hold:?}); destroyed again, nothing left"));
        }
    }
    eprintln!("{}", lines.join("\n"));
}
