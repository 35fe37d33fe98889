//! Rules a resource type knows are checked at plan time with the parameter values given, also
//! on resources that reference others not created yet: a bad value is refused at its place in
//! the stack file before the first AWS call, never after thirty resources were made.

use crate::common::{copy_repo_stack, ec2, Project};

#[tokio::test(flavor = "multi_thread")]
async fn parameters_that_break_a_type_rule_are_refused_before_any_call() {
    let project = Project::new();
    copy_repo_stack(&project, "base");
    let cases = [
        ("name=ecsplat", "`ecsplat-spot` starts with `ecs`, which AWS keeps for itself"),
        ("name=internal", "starts with `internal-`"),
        ("asg_max_size=0", "is 0, below min_size 1"),
    ];
    for (param, expected) in cases {
        let plan = project.ok(&["plan", "base", "--refresh=false", "--param", param], 1);
        assert!(plan.stderr.contains(expected) && plan.stderr.contains("stacks/base.yaml:"), "plan --param {param}: {}", plan.all());
        let apply = project.ok(&["apply", "base", "--auto-approve", "--param", param], 1);
        assert!(apply.stderr.contains(expected), "apply --param {param}: {}", apply.all());
        assert!(!apply.stdout.contains("Creating..."), "nothing was created: {}", apply.all());
    }
    assert!(!project.state_file("base").exists(), "no state was written");
    let vpcs = ec2(&project.moto).await.describe_vpcs().send().await.expect("DescribeVpcs");
    assert!(vpcs.vpcs().iter().all(|v| v.is_default() == Some(true)), "no VPC was made: {:?}", vpcs.vpcs());
}
