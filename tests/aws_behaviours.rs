//! The whole flow of `scripts/demo.sh` — apply base, create tenants, a rollout, destroy the
//! tenants, destroy base — through the testkit's AWS behaviour layer with every behaviour on
//! (dependency-violation windows, IAM propagation, pending and not-yet-visible states, a NAT
//! gateway failed without an internet gateway, the ECS windows, throttling buckets, client
//! tokens, 50 ms per request), AWS's durations scaled by 0.01. No manual step, no retry by
//! hand: every command exits 0 the first time, and nothing is left.
//!
//! Then the give-up path: a condition that never clears within a wait's bound ends the command
//! with an error naming what it waited for and AWS's last answer.

use crate::common::reliability::run_via;
use crate::common::{copy_repo_stack, Project, Run};
use clawform_testkit::{Behaviour, BehaviourConfig, BehaviourProxy};

const KEY: (&str, &str) = ("BEHAVIOUR_API_KEY", "sk-ant-behaviour-test-NOT-REAL");

fn through(project: &Project, layer: &BehaviourProxy, args: &[&str]) -> Run {
    let run = run_via(project, args, &layer.endpoint, &[KEY]);
    assert_eq!(run.code, 0, "clawform {args:?} through the behaviour layer exited {}:\n{}\nfired so far: {:?}", run.code, run.all(), layer.fired());
    run
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_flow_converges_through_every_aws_behaviour() {
    let project = Project::new();
    copy_repo_stack(&project, "base");
    copy_repo_stack(&project, "tenant");
    // Windows of at least 2 s: AWS's shorter ones (15 s for an instance profile to be seen)
    // would otherwise have passed, scaled, before the call they delay is made.
    let layer = BehaviourProxy::start(&project.moto.endpoint, BehaviourConfig { min_window: std::time::Duration::from_secs(2), ..BehaviourConfig::all() });
    let started = std::time::Instant::now();

    through(&project, &layer, &["apply", "base", "--auto-approve"]);
    assert_eq!(run_via(&project, &["plan", "base", "--detailed-exitcode"], &layer.endpoint, &[]).code, 0, "base converged in one apply");
    let tenants = ["alice", "bob", "carol"];
    for id in tenants {
        through(&project, &layer, &["tenant", "create", id, "--api-key-env", KEY.0]);
    }
    through(&project, &layer, &["tenant", "apply", "--all", "--param", "image_tag=v2", "--auto-approve"]);
    assert_eq!(run_via(&project, &["tenant", "plan", "--all", "--param", "image_tag=v2", "--detailed-exitcode"], &layer.endpoint, &[]).code, 0);
    assert_eq!(run_via(&project, &["drift", "--all"], &layer.endpoint, &[]).code, 0, "no drift after the rollout");
    for id in tenants {
        through(&project, &layer, &["tenant", "destroy", id, "--auto-approve"]);
    }
    let destroyed = through(&project, &layer, &["destroy", "base", "--auto-approve"]);
    // What a long destroy waits for is on its progress line, as Terraform's "Still destroying...".
    assert!(
        destroyed.stdout.lines().any(|l| l.contains(": Still destroying... (") && l.contains("elapsed, waiting for")),
        "the destroy says what it waits for:\n{}",
        destroyed.stdout
    );
    let elapsed = started.elapsed();

    let left = crate::common::inventory::owned_by_stack(&project.moto, "base").await;
    assert!(left.is_empty(), "destroy base leaves nothing: {left:?}");
    let fired = layer.fired();
    eprintln!("the demo flow through the behaviour layer: {} requests in {:.0} s; fired {fired:?}", layer.requests_total(), elapsed.as_secs_f64());
    // The behaviours this flow meets: each must have happened, or the test proves nothing.
    // (The instance profile and the cluster are made long before the Auto Scaling group and the
    // capacity providers that could meet their windows: in this order those two never fire.)
    for behaviour in [
        Behaviour::DependencyViolation,
        Behaviour::PendingStates,
        Behaviour::NotYetVisible,
        Behaviour::EcsServiceLinkedRole,
        Behaviour::EcsTargetGroupNotAttached,
        Behaviour::IamDeleteConflict,
    ] {
        assert!(fired.get(&behaviour).copied().unwrap_or(0) > 0, "{behaviour:?} never fired: {fired:?}");
    }
    assert_eq!(fired.get(&Behaviour::NatGatewayFailed), None, "the NAT gateway is created after the internet gateway is attached");
    assert_eq!(layer.upstream_errors(), 0);
}

#[test]
fn a_dependency_violation_that_never_clears_ends_the_destroy_with_its_cause() {
    let project = Project::new();
    project.write_stack(
        "net",
        "stack: net\nresources:\n  vpc:\n    type: aws_vpc\n    cidr_block: 10.70.0.0/16\n  sg:\n    type: aws_security_group\n    name: held\n    description: held\n    vpc_id: ${vpc.id}\n  lb_subnet:\n    type: aws_subnet\n    vpc_id: ${vpc.id}\n    cidr_block: 10.70.1.0/24\n",
    );
    assert_eq!(crate::common::reliability::run_via(&project, &["apply", "net", "--auto-approve"], &project.moto.endpoint, &[]).code, 0);
    // AWS's real window (3 minutes), against bounds scaled to a thousandth: the security
    // group's 15 minutes become 0.9 s.
    let layer = BehaviourProxy::start(&project.moto.endpoint, BehaviourConfig { scale: 1.0, ..BehaviourConfig::none().with(Behaviour::DependencyViolation) });
    // Something that leaves network interfaces behind was deleted a moment ago.
    layer.open_dependency_window();
    let run = run_via(&project, &["destroy", "net", "--auto-approve"], &layer.endpoint, &[("CLAWFORM_WAIT_SCALE", "0.001")]);
    assert_eq!(run.code, 1, "{}", run.all());
    let text = run.all();
    assert!(text.contains("DependencyViolation"), "AWS's last answer is named: {text}");
    assert!(text.contains("gave up waiting for"), "what it waited for is named: {text}");
    assert!(layer.fired().get(&Behaviour::DependencyViolation).copied().unwrap_or(0) >= 2, "it was retried: {:?}", layer.fired());
}
