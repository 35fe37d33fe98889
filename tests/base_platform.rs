//! The seed's whole base platform from stacks/base.yaml, applied with the real binary against
//! moto, read back independently service by service, re-planned to nothing, changed in place,
//! and destroyed without leaving anything tagged with the stack.

use crate::common::{copy_repo_stack, ec2, owned_by, sdk_config, Project};
use aws_sdk_ec2::types::Filter;

#[tokio::test(flavor = "multi_thread")]
async fn base_platform_applies_matches_the_seed_updates_in_place_and_destroys() {
    let project = Project::new();
    copy_repo_stack(&project, "base");
    let config = sdk_config(&project.moto).await;
    let ec2 = ec2(&project.moto).await;

    project.ok(&["validate", "base"], 0);
    let apply = project.ok(&["apply", "base", "--auto-approve"], 0);
    assert!(apply.stdout.contains("Apply complete!"), "{}", apply.stdout);

    // ---- network
    let vpcs = ec2.describe_vpcs().filters(owned_by("base")).send().await.unwrap();
    assert_eq!(vpcs.vpcs().len(), 1);
    let vpc_id = vpcs.vpcs()[0].vpc_id().unwrap().to_string();
    assert_eq!(vpcs.vpcs()[0].cidr_block(), Some("10.0.0.0/16"));
    let subnets = ec2.describe_subnets().filters(owned_by("base")).send().await.unwrap();
    let mut layout: Vec<(String, String)> =
        subnets.subnets().iter().map(|s| (s.cidr_block().unwrap().to_string(), s.availability_zone().unwrap().to_string())).collect();
    layout.sort();
    assert_eq!(
        layout,
        vec![
            ("10.0.1.0/24".into(), "us-west-2a".into()),
            ("10.0.10.0/24".into(), "us-west-2a".into()),
            ("10.0.11.0/24".into(), "us-west-2b".into()),
            ("10.0.2.0/24".into(), "us-west-2b".into()),
        ]
    );
    let subnet_id = |cidr: &str| subnets.subnets().iter().find(|s| s.cidr_block() == Some(cidr)).and_then(|s| s.subnet_id()).unwrap().to_string();
    let nats = ec2.describe_nat_gateways().filter(owned_by("base")).send().await.unwrap();
    assert_eq!(nats.nat_gateways().len(), 1);
    let nat = &nats.nat_gateways()[0];
    assert_eq!(nat.subnet_id(), Some(subnet_id("10.0.1.0/24").as_str()), "the NAT gateway is in public subnet a");
    let nat_id = nat.nat_gateway_id().unwrap().to_string();
    let tables = ec2.describe_route_tables().filters(owned_by("base")).send().await.unwrap();
    let private = tables
        .route_tables()
        .iter()
        .find(|t| t.associations().iter().any(|a| a.subnet_id() == Some(subnet_id("10.0.10.0/24").as_str())))
        .expect("private subnet a has a route table");
    assert!(
        private.routes().iter().any(|r| r.destination_cidr_block() == Some("0.0.0.0/0") && r.nat_gateway_id() == Some(nat_id.as_str())),
        "private routes go through the NAT: {:?}",
        private.routes()
    );
    assert!(private.associations().iter().any(|a| a.subnet_id() == Some(subnet_id("10.0.11.0/24").as_str())));
    let public = tables
        .route_tables()
        .iter()
        .find(|t| t.associations().iter().any(|a| a.subnet_id() == Some(subnet_id("10.0.1.0/24").as_str())))
        .expect("public subnet a has a route table");
    assert!(public.routes().iter().any(|r| r.destination_cidr_block() == Some("0.0.0.0/0") && r.gateway_id().is_some_and(|g| g.starts_with("igw-"))));

    // ---- security groups
    let groups = ec2.describe_security_groups().filters(owned_by("base")).send().await.unwrap();
    let group = |name: &str| groups.security_groups().iter().find(|g| g.group_name() == Some(name)).unwrap_or_else(|| panic!("group {name}"));
    let alb_sg = group("openclaw-alb");
    let ports: Vec<i32> = alb_sg.ip_permissions().iter().filter_map(|p| p.from_port()).collect();
    assert!(ports.contains(&80) && ports.contains(&443), "{ports:?}");
    let alb_sg_id = alb_sg.group_id().unwrap();
    let tasks_sg = group("openclaw-ecs-tasks");
    assert!(
        tasks_sg.ip_permissions().iter().any(|p| p.from_port() == Some(8080) && p.user_id_group_pairs().iter().any(|g| g.group_id() == Some(alb_sg_id))),
        "tasks admit 8080 from the load balancer: {:?}",
        tasks_sg.ip_permissions()
    );
    let instances_sg = group("openclaw-ecs-instances");
    assert!(instances_sg.ip_permissions().iter().any(|p| p.user_id_group_pairs().iter().any(|g| g.group_id() == Some(alb_sg_id))));

    // ---- IAM
    let iam = aws_sdk_iam::Client::new(&config);
    let execution = iam.list_attached_role_policies().role_name("openclaw-ecs-execution").send().await.unwrap();
    assert!(execution.attached_policies().iter().any(|p| p.policy_name() == Some("AmazonECSTaskExecutionRolePolicy")));
    let inline = iam.get_role_policy().role_name("openclaw-ecs-execution").policy_name("read-openclaw-secrets").send().await.unwrap();
    assert!(
        inline.policy_document().contains("secretsmanager") || inline.policy_document().contains("secretsmanager%3AGetSecretValue"),
        "{}",
        inline.policy_document()
    );
    iam.get_role().role_name("openclaw-ecs-task").send().await.unwrap();
    let profile = iam.get_instance_profile().instance_profile_name("openclaw-ecs-instance").send().await.unwrap();
    assert_eq!(profile.instance_profile().unwrap().roles()[0].role_name(), "openclaw-ecs-instance");

    // ---- ECR and logs
    let ecr = aws_sdk_ecr::Client::new(&config);
    let repos = ecr.describe_repositories().repository_names("openclaw").send().await.unwrap();
    assert_eq!(repos.repositories()[0].image_scanning_configuration().map(|c| c.scan_on_push()), Some(true));
    ecr.get_lifecycle_policy().repository_name("openclaw").send().await.unwrap();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let groups = logs.describe_log_groups().log_group_name_prefix("/ecs/openclaw").send().await.unwrap();
    assert_eq!(groups.log_groups()[0].retention_in_days(), Some(30));

    // ---- compute
    let ecs = aws_sdk_ecs::Client::new(&config);
    let clusters = ecs.describe_clusters().clusters("openclaw-cluster").include(aws_sdk_ecs::types::ClusterField::Settings).send().await.unwrap();
    let cluster = &clusters.clusters()[0];
    assert_eq!(cluster.status(), Some("ACTIVE"));
    assert!(cluster.settings().iter().any(|s| s.value() == Some("enabled")));
    assert_eq!(cluster.capacity_providers(), ["openclaw-spot"]);
    assert_eq!(cluster.default_capacity_provider_strategy()[0].capacity_provider(), "openclaw-spot");
    let cps = ecs.describe_capacity_providers().capacity_providers("openclaw-spot").send().await.unwrap();
    let asg_provider = cps.capacity_providers()[0].auto_scaling_group_provider().unwrap();
    assert_eq!(asg_provider.managed_scaling().and_then(|m| m.target_capacity()), Some(100));
    assert_eq!(asg_provider.managed_termination_protection().map(|p| p.as_str()), Some("ENABLED"));
    let templates = ec2.describe_launch_template_versions().launch_template_name("openclaw-ecs").send().await.unwrap();
    let data = templates.launch_template_versions()[0].launch_template_data().unwrap();
    assert_eq!(data.instance_type().map(|t| t.as_str()), Some("c7i-flex.large"));
    let autoscaling = aws_sdk_autoscaling::Client::new(&config);
    let asgs = autoscaling.describe_auto_scaling_groups().auto_scaling_group_names("openclaw-ecs-asg").send().await.unwrap();
    let asg = &asgs.auto_scaling_groups()[0];
    // `asg_max_size: auto` and no tenant yet: the group's minimum (tenant create raises it).
    assert_eq!((asg.min_size(), asg.max_size()), (Some(1), Some(1)));
    assert_eq!(asg.new_instances_protected_from_scale_in(), Some(true));
    let distribution = asg.mixed_instances_policy().and_then(|m| m.instances_distribution()).unwrap();
    assert_eq!(distribution.on_demand_base_capacity(), Some(1));
    assert_eq!(distribution.on_demand_percentage_above_base_capacity(), Some(0));
    let zones: Vec<&str> = asg.vpc_zone_identifier().unwrap().split(',').collect();
    assert!(zones.contains(&subnet_id("10.0.10.0/24").as_str()) && zones.contains(&subnet_id("10.0.11.0/24").as_str()), "{zones:?}");

    // ---- load balancer
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let lbs = elb.describe_load_balancers().names("openclaw-alb-0").send().await.unwrap();
    let lb = &lbs.load_balancers()[0];
    assert_eq!(lb.availability_zones().len(), 2);
    let attributes = elb.describe_load_balancer_attributes().load_balancer_arn(lb.load_balancer_arn().unwrap()).send().await.unwrap();
    let drop = attributes.attributes().iter().find(|a| a.key() == Some("routing.http.drop_invalid_header_fields.enabled")).and_then(|a| a.value());
    assert_eq!(drop, Some("true"), "invalid header fields are dropped");
    let listeners = elb.describe_listeners().load_balancer_arn(lb.load_balancer_arn().unwrap()).send().await.unwrap();
    let listener = &listeners.listeners()[0];
    assert_eq!(listener.port(), Some(80));
    let fixed = listener.default_actions()[0].fixed_response_config().unwrap();
    assert_eq!((fixed.status_code(), fixed.message_body()), (Some("404"), Some("Instance not found")));

    // ---- outputs and a second plan
    let outputs = project.ok(&["output", "base", "--json"], 0);
    let shaped: serde_json::Value = serde_json::from_str(&outputs.stdout).unwrap();
    // `terraform output -json`'s shape: each output's value, type and sensitivity.
    let outputs: serde_json::Map<String, serde_json::Value> = shaped.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v["value"].clone())).collect();
    assert!(shaped.as_object().unwrap().values().all(|v| v["sensitive"] == false && !v["type"].is_null()), "{shaped}");
    let outputs = serde_json::Value::Object(outputs);
    for key in [
        "alb_dns_name",
        "listener_arn",
        "cluster_arn",
        "capacity_provider",
        "private_subnet_ids",
        "tasks_security_group_id",
        "execution_role_arn",
        "task_role_arn",
        "log_group",
        "repository_url",
        "vpc_id",
    ] {
        assert!(outputs.get(key).is_some_and(|v| !v.is_null()), "output {key} missing: {outputs}");
    }
    assert_eq!(outputs["alb_dns_name"], lb.dns_name().unwrap());
    let again = project.ok(&["plan", "base", "--detailed-exitcode"], 0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);

    // ---- the ASG's max size changes in place
    let plan = project.ok(&["plan", "base", "--param", "asg_max_size=30", "--detailed-exitcode"], 2);
    assert!(plan.stdout.contains("Plan: 0 to add, 1 to change, 0 to destroy."), "{}", plan.stdout);
    assert!(plan.stdout.contains("max_size") && plan.stdout.contains("1 -> 30"), "{}", plan.stdout);
    project.ok(&["apply", "base", "--param", "asg_max_size=30", "--auto-approve"], 0);
    let asgs = autoscaling.describe_auto_scaling_groups().auto_scaling_group_names("openclaw-ecs-asg").send().await.unwrap();
    assert_eq!(asgs.auto_scaling_groups()[0].max_size(), Some(30));

    // ---- destroy leaves nothing tagged with the stack
    project.ok(&["destroy", "base", "--auto-approve"], 0);
    let tagging = aws_sdk_resourcegroupstagging::Client::new(&config);
    let left = tagging
        .get_resources()
        .tag_filters(aws_sdk_resourcegroupstagging::types::TagFilter::builder().key("clawform:stack").values("base").build())
        .send()
        .await
        .unwrap();
    // AWS keeps a deleted NAT gateway (state `deleted`) and an inactive cluster visible for a
    // while; those are gone, not left behind. Their states are checked below.
    let arns: Vec<&str> = left
        .resource_tag_mapping_list()
        .iter()
        .filter_map(|m| m.resource_arn())
        .filter(|a| !a.contains(":natgateway/") && !a.contains(":cluster/openclaw-cluster"))
        .collect();
    assert!(arns.is_empty(), "left behind: {arns:?}");
    assert!(ec2.describe_vpcs().filters(Filter::builder().name("vpc-id").values(&vpc_id).build()).send().await.unwrap().vpcs().is_empty());
    assert!(ec2
        .describe_nat_gateways()
        .filter(owned_by("base"))
        .send()
        .await
        .unwrap()
        .nat_gateways()
        .iter()
        .all(|n| n.state().map(|s| s.as_str()) == Some("deleted")));
    assert!(iam.get_role().role_name("openclaw-ecs-execution").send().await.is_err());
    assert!(ecr.describe_repositories().repository_names("openclaw").send().await.is_err());
    assert!(autoscaling.describe_auto_scaling_groups().auto_scaling_group_names("openclaw-ecs-asg").send().await.unwrap().auto_scaling_groups().is_empty());
    assert!(elb.describe_load_balancers().names("openclaw-alb-0").send().await.is_err());
    let clusters = ecs.describe_clusters().clusters("openclaw-cluster").send().await.unwrap();
    assert!(clusters.clusters().iter().all(|c| c.status() == Some("INACTIVE")), "{:?}", clusters.clusters());
}
