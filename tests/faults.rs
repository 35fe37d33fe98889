//! Faults between clawform and AWS: the fault proxy of the testkit disturbs a share of the
//! requests, and clawform (the SDK's standard retry mode: exponential backoff with jitter, up to
//! 8 attempts, for throttling, 5xx answers and broken connections) still converges.
//!
//! `base_and_20_tenants_converge_with_a_fifth_of_requests_disturbed` disturbs requests **before
//! they reach moto** (throttling errors in each protocol's shape, 500, 503, connection resets,
//! delays): a retry is then always safe, and the apply must converge with no duplicate.
//! `lost_answers_leave_no_duplicate_and_nothing_untracked` disturbs **after moto processed
//! the request** (the answer lost to a reset, or replaced by a 500): see its comment for what
//! that case can and cannot promise.
//!
//! The seed is printed; `CLAWFORM_FAULT_SEED=N cargo test --test faults` repeats a run's draws
//! (the order of concurrent requests still varies).

use std::collections::BTreeMap;
use std::process::Child;

use crate::common::reliability::{duplicates, run_via, spawn, tagged, untracked};
use crate::common::{copy_repo_stack, sdk_config, Project};
use clawform_testkit::fault_proxy::describe_counts;
use clawform_testkit::{Fault, FaultConfig, FaultProxy};

const TENANTS: usize = 20;

/// Both tests apply the base stack, whose names are fixed, on this binary's one moto server:
/// they take turns, each on an emptied server.
fn exclusive_moto(project: &Project) -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    project.moto.reset();
    guard
}
/// Tenants created at once (each its own CLI process through the proxy).
const WAVE: usize = 10;

fn wait(id: &str, child: Child) {
    let out = child.wait_with_output().expect("wait for clawform");
    assert!(out.status.success(), "tenant {id} did not converge:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// Independent reads (the SDK straight to moto, not clawform): what each stack's tagged
/// resources are, and per tenant the load balancer pieces by name.
async fn assert_no_duplicate_and_nothing_untracked(project: &Project, stacks: &[String]) {
    for stack in stacks {
        let live = tagged(project, stack).await;
        assert!(!live.is_empty(), "{stack}: nothing tagged in moto");
        assert_eq!(duplicates(&live), Vec::<(&String, &Vec<String>)>::new(), "{stack}: one address, several live resources");
        assert_eq!(untracked(&live, &project.state(stack)), Vec::<String>::new(), "{stack}: live resources state does not know");
    }
    let config = sdk_config(&project.moto).await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let vpcs = ec2.describe_vpcs().filters(crate::common::owned_by("base")).send().await.expect("DescribeVpcs");
    assert_eq!(vpcs.vpcs().len(), 1, "one VPC tagged with the base stack");
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let lbs = elb.describe_load_balancers().send().await.expect("DescribeLoadBalancers");
    assert_eq!(lbs.load_balancers().len(), 1, "one load balancer: {:?}", lbs.load_balancers().iter().map(|l| l.load_balancer_name()).collect::<Vec<_>>());
    let ecs = aws_sdk_ecs::Client::new(&config);
    let mut per_name: BTreeMap<String, usize> = BTreeMap::new();
    let mut pages = elb.describe_target_groups().into_paginator().send();
    while let Some(page) = pages.next().await {
        for tg in page.expect("DescribeTargetGroups").target_groups() {
            *per_name.entry(tg.target_group_name().unwrap_or_default().to_string()).or_default() += 1;
        }
    }
    let services = ecs.list_services().cluster("openclaw-cluster").max_results(100).send().await.expect("ListServices");
    for stack in stacks.iter().filter_map(|s| s.strip_prefix("tenant-")) {
        let name = format!("openclaw-{stack}");
        assert_eq!(per_name.get(&name), Some(&1), "one target group named {name}");
        let count = services.service_arns().iter().filter(|a| a.ends_with(&format!("/{name}"))).count();
        assert_eq!(count, 1, "one ECS service named {name}");
    }
}

/// State equals what is live: drift (straight to moto) finds nothing changed, deleted or
/// unmanaged, and plans are empty.
fn assert_converged(project: &Project) {
    project.ok(&["drift", "--all"], 0);
    project.ok(&["plan", "base", "--detailed-exitcode"], 0);
    project.ok(&["tenant", "plan", "--all", "--detailed-exitcode"], 0);
}

#[tokio::test(flavor = "multi_thread")]
#[expect(clippy::await_holding_lock, reason = "the guard is the turn: both tests apply the base stack on one moto server")]
async fn base_and_20_tenants_converge_with_a_fifth_of_requests_disturbed() {
    let project = Project::new();
    let _turn = exclusive_moto(&project);
    copy_repo_stack(&project, "base");
    copy_repo_stack(&project, "tenant");
    let proxy = FaultProxy::start(
        &project.moto.endpoint,
        FaultConfig { seed: None, share: 0.2, faults: Fault::BEFORE_FORWARDING.to_vec(), ..FaultConfig::pass_through() },
    );
    let started = std::time::Instant::now();

    let run = run_via(&project, &["apply", "base", "--auto-approve"], &proxy.endpoint, &[]);
    assert_eq!(run.code, 0, "base did not converge (seed {}):\n{}", proxy.seed, run.all());
    let ids: Vec<String> = (0..TENANTS).map(|i| format!("fault{i:02}")).collect();
    for wave in ids.chunks(WAVE) {
        let children: Vec<(String, Child)> = wave
            .iter()
            .map(|id| (id.clone(), spawn(&project, &["tenant", "create", id, "--api-key-env", "K", "--json"], &proxy.endpoint, &[("K", "sk-ant-fault")])))
            .collect();
        for (id, child) in children {
            wait(&id, child);
        }
    }
    let counts = proxy.counts();
    eprintln!(
        "seed {}: {} requests, {} disturbed ({}), in {:.1} s",
        proxy.seed,
        proxy.requests(),
        proxy.disturbed_total(),
        describe_counts(&counts),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(proxy.upstream_errors(), 0, "moto itself failed requests");
    for fault in Fault::BEFORE_FORWARDING {
        assert!(counts.get(&fault).copied().unwrap_or(0) > 0, "{fault:?} never happened: the run proves nothing about it");
    }
    let share = proxy.disturbed_total() as f64 / proxy.requests() as f64;
    assert!((0.1..0.3).contains(&share), "{share} of requests disturbed, 0.2 asked");

    let mut stacks = vec!["base".to_string()];
    stacks.extend(ids.iter().map(|id| format!("tenant-{id}")));
    assert_no_duplicate_and_nothing_untracked(&project, &stacks).await;
    assert_converged(&project);
}

/// Creates, whose lost answers this test never causes (they still get faults before forwarding):
/// - AWS APIs with neither an idempotency token nor a unique name (EC2 CreateVpc, CreateSubnet,
///   CreateInternetGateway, AllocateAddress, CreateRouteTable; ELBv2 CreateRule; ECS
///   RegisterTaskDefinition): if the SDK's retry follows a lost answer, AWS holds two resources
///   with the same ownership tags, whatever the client does; `drift` reports the extra one as
///   unmanaged.
/// - Creates of named resources: the retry meets "already exists". Some providers take over a
///   resource carrying their own ownership tags at once (load balancers, ECS clusters, capacity
///   providers, services, task definitions, IAM roles); others (security groups, among them)
///   fail that apply, and the next apply adopts the resource through its tags, as after a crash
///   (tests/crash.rs). One apply is not promised to converge then, so this test does not lose
///   their answers.
/// - Where moto differs from AWS (named in the testkit): CreateLoadBalancer (moto makes a second
///   load balancer of the same name), CreateNatGateway (a repeated ClientToken fails in moto).
const SPARED: [&str; 9] = [
    "ec2 Create*",
    "ec2 AllocateAddress",
    "ec2 RunInstances",
    "elasticloadbalancing Create*",
    "ecs Create*",
    "ecs RegisterTaskDefinition",
    "iam Create*",
    "logs Create*",
    "secretsmanager Create*",
];

/// Answers lost after moto did the work (a reset instead of the answer, or a 500 in its place)
/// for every operation but creates: reads, updates, deletes, tags, policies, associations.
/// Before-forwarding faults disturb every operation.
#[tokio::test(flavor = "multi_thread")]
#[expect(clippy::await_holding_lock, reason = "the guard is the turn: both tests apply the base stack on one moto server")]
async fn lost_answers_leave_no_duplicate_and_nothing_untracked() {
    let project = Project::new();
    let _turn = exclusive_moto(&project);
    copy_repo_stack(&project, "base");
    copy_repo_stack(&project, "tenant");
    let mut faults = Fault::BEFORE_FORWARDING.to_vec();
    // Two in three disturbed requests lose their answer, so every run loses some.
    for _ in 0..5 {
        faults.extend([Fault::LostResponse, Fault::ErrorAfterForward]);
    }
    let mut spare: Vec<String> = SPARED.iter().map(|s| s.to_string()).collect();
    spare.extend(["ecr CreateRepository", "autoscaling CreateAutoScalingGroup", "autoscaling CreateOrUpdateTags"].map(String::from));
    let proxy =
        FaultProxy::start(&project.moto.endpoint, FaultConfig { seed: None, share: 0.2, faults, spare_after_forwarding: spare, ..FaultConfig::pass_through() });
    let run = run_via(&project, &["apply", "base", "--auto-approve"], &proxy.endpoint, &[]);
    assert_eq!(run.code, 0, "base did not converge (seed {}):\n{}", proxy.seed, run.all());
    let ids = ["lost1", "lost2", "lost3"];
    let children: Vec<(String, Child)> = ids
        .iter()
        .map(|id| (id.to_string(), spawn(&project, &["tenant", "create", id, "--api-key-env", "K", "--json"], &proxy.endpoint, &[("K", "sk-ant-lost")])))
        .collect();
    for (id, child) in children {
        wait(&id, child);
    }
    let counts = proxy.counts();
    let lost: Vec<String> = proxy.disturbed().into_iter().filter(|(_, f, _)| f.after_forwarding()).map(|(n, f, op)| format!("{n} {f:?} {op}")).collect();
    eprintln!(
        "seed {}: {} requests, {} disturbed ({}); answers lost after moto processed:\n  {}",
        proxy.seed,
        proxy.requests(),
        proxy.disturbed_total(),
        describe_counts(&counts),
        lost.join("\n  ")
    );
    assert_eq!(proxy.upstream_errors(), 0, "moto itself failed requests");
    assert!(!lost.is_empty(), "no answer was lost: the run proves nothing");

    let mut stacks = vec!["base".to_string()];
    stacks.extend(ids.iter().map(|id| format!("tenant-{id}")));
    assert_no_duplicate_and_nothing_untracked(&project, &stacks).await;
    assert_converged(&project);
}
