//! Drift against moto: changes made with the SDK behind clawform's back are named attribute by
//! attribute, put back by apply or accepted by `apply --refresh-only`; tagged leftovers missing
//! from state are reported as unmanaged and adopted without a duplicate.

use crate::common::{copy_repo_stack, ec2, owned_by, sdk_config, Project};
use serde_json::Value as Json;

fn drifted(report: &Json) -> Vec<(String, String, Json, Json)> {
    let mut out = Vec::new();
    for r in report["resources"].as_array().unwrap() {
        if r["status"] == "modified" {
            for a in r["attributes"].as_array().unwrap() {
                out.push((
                    r["address"].as_str().unwrap().to_string(),
                    a["attribute"].as_str().unwrap().to_string(),
                    a["expected"].clone(),
                    a["actual"].clone(),
                ));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_is_named_put_back_accepted_and_leftovers_adopted() {
    let project = Project::new();
    copy_repo_stack(&project, "base");
    project.ok(&["apply", "base", "--auto-approve"], 0);
    let clean = project.ok(&["drift", "--all"], 0);
    assert!(clean.stdout.contains("No drift."), "{}", clean.stdout);

    let config = sdk_config(&project.moto).await;
    let autoscaling = aws_sdk_autoscaling::Client::new(&config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let ec2 = ec2(&project.moto).await;
    autoscaling.update_auto_scaling_group().auto_scaling_group_name("openclaw-ecs-asg").max_size(50).send().await.unwrap();
    logs.put_retention_policy().log_group_name("/ecs/openclaw").retention_in_days(90).send().await.unwrap();
    let tags = aws_sdk_ec2::types::TagSpecification::builder()
        .resource_type(aws_sdk_ec2::types::ResourceType::Vpc)
        .tags(aws_sdk_ec2::types::Tag::builder().key("clawform:stack").value("base").build())
        .tags(aws_sdk_ec2::types::Tag::builder().key("clawform:address").value("ghost").build())
        .build();
    let ghost = ec2.create_vpc().cidr_block("10.99.0.0/16").tag_specifications(tags).send().await.unwrap();
    let ghost_id = ghost.vpc().unwrap().vpc_id().unwrap().to_string();

    let run = project.ok(&["drift", "--all", "--json", "--stats"], 2);
    let report: Json = serde_json::from_str(&run.stdout).unwrap();
    let mut found = drifted(&report);
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        found,
        vec![
            ("asg".to_string(), "max_size".to_string(), Json::from(1), Json::from(50)),
            ("log_group".to_string(), "retention_in_days".to_string(), Json::from(30), Json::from(90)),
        ],
        "{}",
        run.stdout
    );
    let unmanaged = report["unmanaged"].as_array().unwrap();
    assert_eq!(unmanaged.len(), 1, "{unmanaged:?}");
    assert!(unmanaged[0]["arn"].as_str().unwrap().ends_with(&ghost_id));
    assert!(run.stderr.contains("AWS API calls:") && run.stderr.contains("GetResources"), "--stats prints the calls: {}", run.stderr);

    // The plan shows the drift first, then puts the values back.
    let plan = project.ok(&["plan", "base", "--detailed-exitcode"], 2);
    assert!(plan.stdout.contains("Objects have changed outside of clawform"), "{}", plan.stdout);
    assert!(plan.stdout.contains("max_size") && plan.stdout.contains("50 -> 1"), "{}", plan.stdout);
    project.ok(&["apply", "base", "--auto-approve"], 0);
    let asg = autoscaling.describe_auto_scaling_groups().auto_scaling_group_names("openclaw-ecs-asg").send().await.unwrap();
    assert_eq!(asg.auto_scaling_groups()[0].max_size(), Some(1));
    ec2.delete_vpc().vpc_id(&ghost_id).send().await.unwrap();
    project.ok(&["drift", "--all"], 0);

    // --refresh-only accepts what AWS has into state instead.
    logs.put_retention_policy().log_group_name("/ecs/openclaw").retention_in_days(60).send().await.unwrap();
    // Like apply, it asks first: with no terminal and no --auto-approve it refuses, and state
    // keeps the old value.
    let refused = project.ok(&["apply", "base", "--refresh-only"], 1);
    assert!(refused.stdout.contains("retention_in_days") && refused.stderr.contains("--auto-approve"), "{}{}", refused.stdout, refused.stderr);
    assert_eq!(
        project.state("base")["resources"].as_array().unwrap().iter().find(|r| r["address"] == "log_group").unwrap()["attributes"]["retention_in_days"],
        30
    );
    let accepted = project.ok(&["apply", "base", "--refresh-only", "--auto-approve"], 0);
    assert!(accepted.stdout.contains("Apply complete!"), "{}", accepted.stdout);
    assert_eq!(
        project.state("base")["resources"].as_array().unwrap().iter().find(|r| r["address"] == "log_group").unwrap()["attributes"]["retention_in_days"],
        60
    );
    project.ok(&["drift", "base"], 0);
    let plan = project.ok(&["plan", "base", "--detailed-exitcode"], 2);
    assert!(plan.stdout.contains("60 -> 30"), "{}", plan.stdout);
    project.ok(&["apply", "base", "--auto-approve"], 0);

    // A resource created but never recorded (a crash between create and state save) is
    // unmanaged, then adopted by the next apply: same gateway, no duplicate.
    let igw_id = project.state("base")["resources"].as_array().unwrap().iter().find(|r| r["address"] == "igw").unwrap()["id"].as_str().unwrap().to_string();
    let path = project.state_file("base");
    let mut state: Json = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    state["resources"].as_array_mut().unwrap().retain(|r| r["address"] != "igw");
    state["serial"] = Json::from(state["serial"].as_u64().unwrap() + 1);
    std::fs::write(&path, serde_json::to_vec_pretty(&state).unwrap()).unwrap();
    let run = project.ok(&["drift", "base", "--json"], 2);
    let report: Json = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["format_version"], "1.0", "{}", run.stdout);
    assert_eq!(report["unmanaged"][0]["address"], "igw", "{}", run.stdout);
    project.ok(&["apply", "base", "--auto-approve"], 0);
    let igws = ec2.describe_internet_gateways().filters(owned_by("base")).send().await.unwrap();
    assert_eq!(igws.internet_gateways().len(), 1, "no duplicate gateway");
    assert_eq!(igws.internet_gateways()[0].internet_gateway_id(), Some(igw_id.as_str()), "the leftover was adopted");
    project.ok(&["drift", "--all"], 0);
    project.ok(&["plan", "base", "--detailed-exitcode"], 0);

    // Tenants: a health check path changed and a target group deleted out of band.
    copy_repo_stack(&project, "tenant");
    for id in ["dr1", "dr2"] {
        let run = project.run_with_env(&["tenant", "create", id, "--api-key-env", "K", "--json"], &[("K", "sk-ant-drift")]);
        assert_eq!(run.code, 0, "{}", run.all());
    }
    project.ok(&["drift", "--all"], 0);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let tg = |name: &str| {
        let elb = elb.clone();
        let name = name.to_string();
        async move { elb.describe_target_groups().names(name).send().await.unwrap().target_groups()[0].target_group_arn().unwrap().to_string() }
    };
    let tg1 = tg("openclaw-dr1").await;
    let tg2 = tg("openclaw-dr2").await;
    elb.modify_target_group().target_group_arn(&tg1).health_check_path("/elsewhere").send().await.unwrap();
    // A target group in use by a rule cannot be deleted; drop dr2's rule first, as an operator would.
    let state: Json = project.state("tenant-dr2");
    let rule_arn = state["resources"].as_array().unwrap().iter().find(|r| r["address"] == "listener_rule").unwrap()["id"].as_str().unwrap().to_string();
    elb.delete_rule().rule_arn(&rule_arn).send().await.unwrap();
    elb.delete_target_group().target_group_arn(&tg2).send().await.unwrap();

    let run = project.ok(&["drift", "--all", "--json"], 2);
    let report: Json = serde_json::from_str(&run.stdout).unwrap();
    let found = drifted(&report);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].0.as_str(), found[0].1.as_str()), ("target_group", "health_check"));
    assert!(found[0].3.to_string().contains("/elsewhere"), "{found:?}");
    let deleted: Vec<(String, String)> = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "deleted")
        .map(|r| (r["stack"].as_str().unwrap().to_string(), r["address"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(deleted, vec![("tenant-dr2".to_string(), "listener_rule".to_string()), ("tenant-dr2".to_string(), "target_group".to_string())]);

    // Bringing each tenant back to the template repairs both, without touching their secrets.
    for id in ["dr1", "dr2"] {
        let run = project.run(&["tenant", "create", id, "--json"]);
        assert_eq!(run.code, 0, "{}", run.all());
    }
    let hc = elb.describe_target_groups().target_group_arns(&tg1).send().await.unwrap();
    assert_eq!(hc.target_groups()[0].health_check_path(), Some("/health"));
    assert_eq!(elb.describe_target_groups().names("openclaw-dr2").send().await.unwrap().target_groups().len(), 1);
    project.ok(&["drift", "--all"], 0);
}
