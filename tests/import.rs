//! `clawform import`: resources made with the SDK directly (no clawform tags) are brought under
//! a stack by their Terraform import ids; the next plan creates none of them, and an apply
//! converges without a duplicate.

use crate::common::{ec2, sdk_config, Project};

#[tokio::test(flavor = "multi_thread")]
async fn resources_made_outside_clawform_are_imported_and_not_duplicated() {
    let project = Project::new();
    let u = clawform_testkit::unique("imp");
    let ec2 = ec2(&project.moto).await;
    let config = sdk_config(&project.moto).await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let ecs = aws_sdk_ecs::Client::new(&config);

    // Made outside clawform.
    let vpc = ec2.create_vpc().cidr_block("10.77.0.0/16").send().await.unwrap().vpc.unwrap().vpc_id.unwrap();
    let subnet =
        ec2.create_subnet().vpc_id(&vpc).cidr_block("10.77.1.0/24").availability_zone("us-west-2a").send().await.unwrap().subnet.unwrap().subnet_id.unwrap();
    let sg = ec2.create_security_group().group_name(format!("{u}-sg")).description("imported").vpc_id(&vpc).send().await.unwrap().group_id.unwrap();
    let tg = elb
        .create_target_group()
        .name(format!("{u}-tg"))
        .port(8080)
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Ip)
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_string();
    let cluster = ecs.create_cluster().cluster_name(format!("{u}-cluster")).send().await.unwrap().cluster.unwrap().cluster_arn.unwrap();
    let container = aws_sdk_ecs::types::ContainerDefinition::builder().name("app").image("nginx").memory(128).essential(true).build();
    let task = ecs
        .register_task_definition()
        .family(format!("{u}-td"))
        .container_definitions(container)
        .send()
        .await
        .unwrap()
        .task_definition
        .unwrap()
        .task_definition_arn
        .unwrap();
    ecs.create_service().cluster(&cluster).service_name(format!("{u}-svc")).task_definition(&task).desired_count(0).send().await.unwrap();

    project.write_stack(
        "imp",
        &format!(
            r#"stack: imp
resources:
  vpc:
    type: aws_vpc
    cidr_block: 10.77.0.0/16
  subnet:
    type: aws_subnet
    vpc_id: ${{vpc.id}}
    cidr_block: 10.77.1.0/24
    availability_zone: us-west-2a
  sg:
    type: aws_security_group
    name: {u}-sg
    description: imported
    vpc_id: ${{vpc.id}}
    egress:
      - {{ from_port: 0, to_port: 0, protocol: "-1", cidr_blocks: [0.0.0.0/0] }}
  tg:
    type: aws_lb_target_group
    name: {u}-tg
    port: 8080
    protocol: HTTP
    target_type: ip
    vpc_id: ${{vpc.id}}
  service:
    type: aws_ecs_service
    name: {u}-svc
    cluster: {cluster}
    task_definition: {task}
    desired_count: 0
"#
        ),
    );

    // Refused before anything is read: an address the stack does not declare, an id that is not there.
    let undeclared = project.ok(&["import", "imp", "nat", "nat-0123"], 1);
    assert!(undeclared.stderr.contains("declares no resource `nat`"), "{}", undeclared.stderr);
    let missing = project.ok(&["import", "imp", "vpc", "vpc-0000000000000dead"], 1);
    assert!(missing.stderr.contains("no aws_vpc with id `vpc-0000000000000dead`"), "{}", missing.stderr);
    let bad_id = project.ok(&["import", "imp", "service", "just-a-name"], 1);
    assert!(bad_id.stderr.contains("expected CLUSTER/NAME"), "{}", bad_id.stderr);

    let cluster_name = format!("{u}-cluster");
    let service_id = format!("{cluster_name}/{u}-svc");
    for (address, id) in [("vpc", vpc.as_str()), ("subnet", subnet.as_str()), ("sg", sg.as_str()), ("tg", tg.as_str()), ("service", service_id.as_str())] {
        let run = project.ok(&["import", "imp", address, id], 0);
        assert!(run.stdout.contains("Import successful!"), "{}", run.stdout);
    }
    let again = project.ok(&["import", "imp", "vpc", &vpc], 1);
    assert!(again.stderr.contains("already managed"), "{}", again.stderr);
    let state = project.state("imp");
    let ids: Vec<(&str, &str)> = state["resources"].as_array().unwrap().iter().map(|r| (r["address"].as_str().unwrap(), r["id"].as_str().unwrap())).collect();
    assert!(ids.contains(&("vpc", vpc.as_str())) && ids.contains(&("tg", tg.as_str())), "{ids:?}");
    assert!(
        ids.iter().any(|(a, id)| *a == "service" && id.starts_with("arn:aws:ecs:") && id.ends_with(&format!("{u}-svc"))),
        "the service is stored by its ARN: {ids:?}"
    );
    assert_eq!(state["resources"].as_array().unwrap().iter().find(|r| r["address"] == "subnet").unwrap()["dependencies"], serde_json::json!(["vpc"]));

    // The plan creates nothing: what was imported matches the stack.
    let plan = project.ok(&["plan", "imp", "--json"], 0);
    let doc: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let actions: Vec<(String, serde_json::Value)> =
        doc["resource_changes"].as_array().unwrap().iter().map(|c| (c["address"].as_str().unwrap().to_string(), c["change"]["actions"].clone())).collect();
    assert_eq!(actions.len(), 5);
    assert!(actions.iter().all(|(_, a)| *a != serde_json::json!(["create"]) && *a != serde_json::json!(["delete", "create"])), "{actions:?}");

    // An apply converges without duplicates, and then there is nothing to do.
    project.ok(&["apply", "imp", "--auto-approve"], 0);
    project.ok(&["plan", "imp", "--detailed-exitcode"], 0);
    let vpcs = ec2.describe_vpcs().filters(aws_sdk_ec2::types::Filter::builder().name("cidr").values("10.77.0.0/16").build()).send().await.unwrap();
    assert_eq!(vpcs.vpcs().len(), 1, "one VPC");
    let groups = ec2
        .describe_security_groups()
        .filters(aws_sdk_ec2::types::Filter::builder().name("group-name").values(format!("{u}-sg")).build())
        .send()
        .await
        .unwrap();
    assert_eq!(groups.security_groups().len(), 1, "one security group");
    assert_eq!(elb.describe_target_groups().names(format!("{u}-tg")).send().await.unwrap().target_groups().len(), 1);
    let services = ecs.list_services().cluster(&cluster_name).send().await.unwrap();
    assert_eq!(services.service_arns().len(), 1, "one service");
}
