//! Crashes during a fleet rollout: `tenant apply --all --param image_tag=…` over 10 tenants,
//! the CLI killed with SIGKILL at every request the rollout makes, before and after moto
//! processes it, then the same rollout run again at once. Every time it converges:
//!
//! - the re-run exits 0, `tenant plan --all --detailed-exitcode` is clean and `drift --all`
//!   finds nothing (the state of every tenant names what AWS has);
//! - each tenant's ECS service runs the image of the rollout, from the task definition its
//!   state names (the state after an interrupted rollout names what the service really runs);
//! - each tenant's family has exactly one active revision: no revision registered by the
//!   killed run is left behind, none is registered twice.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::reliability::{run_via, signal, spawn};
use crate::common::{copy_repo_stack, Project};
use clawform_testkit::{FaultConfig, FaultProxy, Hold};

const TENANTS: usize = 10;
const KEY: (&str, &str) = ("ROLLOUT_API_KEY", "sk-ant-rollout-test-NOT-REAL");

fn rollout_args(tag: &str) -> Vec<String> {
    ["tenant", "apply", "--all", "--auto-approve", "--parallelism", "4", "--param"].iter().map(|s| s.to_string()).chain([format!("image_tag={tag}")]).collect()
}

fn ids() -> Vec<String> {
    (0..TENANTS).map(|i| format!("r{i}")).collect()
}

/// Gives back every lock the killed run held.
fn unlock_all(project: &Project) {
    for entry in std::fs::read_dir(project.path().join("state")).expect("state folder") {
        let path = entry.expect("entry").path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".lock")).map(str::to_string) else { continue };
        project.ok(&["force-unlock", &name, &project.lock_id(&name), "--force"], 0);
    }
}

/// Per tenant: the active revisions of its family, and the task definition its service runs.
async fn live_rollout(project: &Project) -> BTreeMap<String, (Vec<String>, String)> {
    let ecs = aws_sdk_ecs::Client::new(&crate::common::sdk_config(&project.moto).await);
    let active: Vec<String> = ecs
        .list_task_definitions()
        .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<_, _>>()
        .await
        .expect("ListTaskDefinitions");
    let cluster = project.state("base")["outputs"]["cluster_arn"].as_str().expect("the cluster's ARN").to_string();
    let mut out = BTreeMap::new();
    for id in ids() {
        let family = format!("task-definition/openclaw-{id}:");
        let revisions: Vec<String> = active.iter().filter(|arn| arn.contains(&family)).cloned().collect();
        let services = ecs.describe_services().cluster(&cluster).services(format!("openclaw-{id}")).send().await.expect("DescribeServices");
        let running = services.services().first().and_then(|s| s.task_definition()).unwrap_or_default().to_string();
        out.insert(id, (revisions, running));
    }
    out
}

/// The image in the container definitions of revision `arn`.
async fn image_of(project: &Project, arn: &str) -> String {
    let ecs = aws_sdk_ecs::Client::new(&crate::common::sdk_config(&project.moto).await);
    let out = ecs.describe_task_definition().task_definition(arn).send().await.expect("DescribeTaskDefinition");
    out.task_definition().and_then(|d| d.container_definitions().first()).and_then(|c| c.image()).unwrap_or_default().to_string()
}

async fn assert_rolled_out(project: &Project, tag: &str, what: &str) {
    project.ok(&["tenant", "plan", "--all", "--detailed-exitcode"], 0);
    let drift = project.run(&["drift", "--all"]);
    assert_eq!(drift.code, 0, "{what}: drift after the re-run:\n{}", drift.all());
    for (id, (revisions, running)) in live_rollout(project).await {
        assert_eq!(revisions.len(), 1, "{what}: tenant {id} has one active revision, not {revisions:?}");
        assert_eq!(running, revisions[0], "{what}: tenant {id}'s service runs its one revision");
        let state = project.state(&format!("tenant-{id}"));
        let recorded =
            state["resources"].as_array().expect("resources").iter().find(|r| r["address"] == "task_definition").expect("the task definition")["id"].clone();
        assert_eq!(recorded.as_str(), Some(running.as_str()), "{what}: tenant {id}'s state names what its service runs");
        assert!(image_of(project, &running).await.ends_with(&format!(":{tag}")), "{what}: tenant {id} runs the image of the rollout");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_every_request_of_a_10_tenant_rollout_then_the_rollout_converges() {
    let project = Project::new();
    copy_repo_stack(&project, "base");
    copy_repo_stack(&project, "tenant");
    project.ok(&["apply", "base", "--auto-approve"], 0);
    for id in ids() {
        let run = project.run_with_env(&["tenant", "create", &id, "--api-key-env", KEY.0], &[KEY]);
        assert_eq!(run.code, 0, "{}", run.all());
    }

    // How many requests a whole rollout makes (through a proxy that only counts).
    let proxy = FaultProxy::start(&project.moto.endpoint, FaultConfig::pass_through());
    let args = rollout_args("v1");
    let run = run_via(&project, &args.iter().map(String::as_str).collect::<Vec<_>>(), &proxy.endpoint, &[]);
    assert_eq!(run.code, 0, "{}", run.all());
    let total = proxy.requests();
    drop(proxy);
    assert_rolled_out(&project, "v1", "a whole rollout").await;

    let started = std::time::Instant::now();
    let mut lines = vec![format!("a whole 10-tenant rollout makes {total} requests")];
    for at in 1..=total {
        for (n, hold) in [Hold::BeforeForwarding, Hold::AfterForwarding].into_iter().enumerate() {
            let tag = format!("k{at}x{n}");
            let args = rollout_args(&tag);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let proxy = FaultProxy::start(&project.moto.endpoint, FaultConfig { hold: Some((at, hold)), ..FaultConfig::pass_through() });
            let mut child = spawn(&project, &args, &proxy.endpoint, &[]);
            let Some(held) = proxy.wait_held_or(Duration::from_secs(120), || matches!(child.try_wait(), Ok(Some(_)))) else {
                // Rollouts of different tags need not make the same number of requests (reads
                // batch differently); a run that ended first converged on its own.
                let status = child.wait().expect("wait");
                assert!(status.success(), "{tag}: the rollout ended before request {at} and failed");
                assert_rolled_out(&project, &tag, &tag).await;
                lines.push(format!("{tag}: the rollout ended before request {at}"));
                continue;
            };
            signal(&child, "KILL");
            assert_eq!(child.wait().expect("wait for the killed CLI").code(), None, "{tag}: killed by a signal");
            drop(proxy);
            unlock_all(&project);
            let again = project.run(&args);
            assert_eq!(again.code, 0, "{tag}: the rollout after SIGKILL at request {at} ({held}, {hold:?}) failed:\n{}", again.all());
            assert_rolled_out(&project, &tag, &format!("{tag}: killed at request {at} ({held}, {hold:?})")).await;
            lines.push(format!("{tag}: SIGKILL at request {at} ({held}, {hold:?}); rolled out again, converged"));
        }
    }
    lines.push(format!("{} kills in {:.0} s", 2 * total, started.elapsed().as_secs_f64()));
    eprintln!("{}", lines.join("\n"));
}
