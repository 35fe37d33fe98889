//! The load balancer's quota, checked before any AWS call: a tenant past
//! `tenants_per_load_balancer` is refused with what to do.

mod common;

use common::{copy_repo_stack, sdk_config, Project};

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_past_the_quota_is_refused_before_any_call() {
    let project = Project::new();
    copy_repo_stack(&project, "base");
    copy_repo_stack(&project, "tenant");
    project.ok(&["apply", "base", "--param", "tenants_per_load_balancer=2", "--auto-approve"], 0);
    for id in ["q1", "q2"] {
        let run = project.run_with_env(&["tenant", "create", id, "--api-key-env", "K"], &[("K", "sk-ant-q")]);
        assert_eq!(run.code, 0, "{}", run.all());
    }
    let refused = project.run_with_env(&["tenant", "create", "q3", "--api-key-env", "K", "--stats"], &[("K", "sk-ant-q")]);
    assert_eq!(refused.code, 1, "{}", refused.all());
    assert!(refused.stderr.contains("already holds 2 tenants") && refused.stderr.contains("add a load balancer"), "{}", refused.stderr);
    assert!(!refused.stderr.contains("calls") || refused.stderr.contains("total                                                         0 calls"), "no AWS call: {}", refused.stderr);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk_config(&project.moto).await);
    assert!(elb.describe_target_groups().names("openclaw-q3").send().await.is_err(), "nothing was created for q3");
    // An existing tenant can still be changed when the load balancer is full.
    let again = project.run(&["tenant", "create", "q2"]);
    assert_eq!(again.code, 0, "{}", again.all());
}
