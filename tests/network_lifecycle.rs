//! The walking skeleton end to end: apply a network stack with the real binary against moto,
//! read it back with the SDK, re-plan to nothing, update in place, replace, destroy.

use crate::common::{ec2, owned_by, Project};
use aws_sdk_ec2::types::Filter;

fn stack_text(name: &str, hostnames: bool, subnet_cidr: &str, env_tag: &str) -> String {
    format!(
        r#"stack: {name}
params:
  prefix:
    default: skel
tags:
  Env: {env_tag}
resources:
  vpc:
    type: aws_vpc
    cidr_block: 10.20.0.0/16
    enable_dns_hostnames: {hostnames}
    tags:
      Name: "${{param.prefix}}-vpc"
  subnet:
    type: aws_subnet
    vpc_id: ${{vpc.id}}
    cidr_block: {subnet_cidr}
    availability_zone: us-west-2a
    map_public_ip_on_launch: true
  igw:
    type: aws_internet_gateway
    vpc_id: ${{vpc.id}}
  routes:
    type: aws_route_table
    vpc_id: ${{vpc.id}}
    route:
      - cidr_block: 0.0.0.0/0
        gateway_id: ${{igw.id}}
  assoc:
    type: aws_route_table_association
    subnet_id: ${{subnet.id}}
    route_table_id: ${{routes.id}}
  sg:
    type: aws_security_group
    name: "${{param.prefix}}-{name}"
    description: web
    vpc_id: ${{vpc.id}}
    ingress:
      - from_port: 80
        to_port: 80
        protocol: tcp
        cidr_blocks: [0.0.0.0/0]
outputs:
  vpc_id: ${{vpc.id}}
  subnet_id: ${{subnet.id}}
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_replan_update_replace_destroy() {
    let project = Project::new();
    let name = clawform_testkit::unique("skel");
    project.write_stack("net", &stack_text(&name, false, "10.20.1.0/24", "dev"));
    let ec2 = ec2(&project.moto).await;

    project.ok(&["validate", "net"], 0);
    let plan = project.ok(&["plan", "net", "--detailed-exitcode"], 2);
    assert!(plan.stdout.contains("Plan: 6 to add, 0 to change, 0 to destroy."), "{}", plan.stdout);
    assert!(plan.stdout.contains("(known after apply)"), "{}", plan.stdout);
    assert!(!project.state_file(&name).exists(), "plan must not write state");

    let apply = project.ok(&["apply", "net", "--auto-approve"], 0);
    assert!(apply.stdout.contains("Apply complete! Resources: 6 added, 0 changed, 0 destroyed."), "{}", apply.stdout);

    // What a user would check in AWS: everything exists, tagged with its owner, as configured.
    let vpcs = ec2.describe_vpcs().filters(owned_by(&name)).send().await.unwrap();
    assert_eq!(vpcs.vpcs().len(), 1);
    let vpc = &vpcs.vpcs()[0];
    let vpc_id = vpc.vpc_id().unwrap().to_string();
    assert_eq!(vpc.cidr_block(), Some("10.20.0.0/16"));
    let tags: Vec<(&str, &str)> = vpc.tags().iter().map(|t| (t.key().unwrap(), t.value().unwrap())).collect();
    assert!(tags.contains(&("Name", "skel-vpc")), "{tags:?}");
    assert!(tags.contains(&("Env", "dev")), "stack tags are merged: {tags:?}");
    assert!(tags.contains(&("clawform:address", "vpc")), "{tags:?}");
    let subnets = ec2.describe_subnets().filters(owned_by(&name)).send().await.unwrap();
    assert_eq!(subnets.subnets().len(), 1);
    let subnet = &subnets.subnets()[0];
    assert_eq!(subnet.cidr_block(), Some("10.20.1.0/24"));
    assert_eq!(subnet.vpc_id(), Some(vpc_id.as_str()));
    assert_eq!(subnet.map_public_ip_on_launch(), Some(true));
    let old_subnet_id = subnet.subnet_id().unwrap().to_string();
    let igws = ec2.describe_internet_gateways().filters(owned_by(&name)).send().await.unwrap();
    assert_eq!(igws.internet_gateways()[0].attachments()[0].vpc_id(), Some(vpc_id.as_str()));
    let igw_id = igws.internet_gateways()[0].internet_gateway_id().unwrap().to_string();
    let rts = ec2.describe_route_tables().filters(owned_by(&name)).send().await.unwrap();
    let rt = &rts.route_tables()[0];
    assert!(rt.routes().iter().any(|r| r.destination_cidr_block() == Some("0.0.0.0/0") && r.gateway_id() == Some(igw_id.as_str())), "{:?}", rt.routes());
    assert!(rt.associations().iter().any(|a| a.subnet_id() == Some(old_subnet_id.as_str())));
    let sgs = ec2.describe_security_groups().filters(owned_by(&name)).send().await.unwrap();
    let sg = &sgs.security_groups()[0];
    assert_eq!(sg.group_name(), Some(format!("skel-{name}").as_str()));
    assert!(sg.ip_permissions().iter().any(|p| p.from_port() == Some(80) && p.to_port() == Some(80)));

    // State matches, and a second plan is empty.
    let state = project.state(&name);
    assert_eq!(state["resources"].as_array().unwrap().len(), 6);
    assert_eq!(state["outputs"]["vpc_id"], vpc_id.as_str());
    let serial = state["serial"].as_u64().unwrap();
    assert!(serial >= 7, "state is saved after every step: serial {serial}");
    let again = project.ok(&["plan", "net", "--detailed-exitcode"], 0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    let output = project.ok(&["output", "net", "vpc_id"], 0);
    assert_eq!(output.stdout.trim(), vpc_id);

    // An attribute that can change in place: an update, same VPC.
    project.write_stack("net", &stack_text(&name, true, "10.20.1.0/24", "prod"));
    let plan = project.ok(&["plan", "net", "--detailed-exitcode"], 2);
    assert!(plan.stdout.contains("will be updated in-place"), "{}", plan.stdout);
    assert!(plan.stdout.contains("Plan: 0 to add, 5 to change, 0 to destroy."), "{}", plan.stdout);
    project.ok(&["apply", "net", "--auto-approve"], 0);
    let attr = ec2.describe_vpc_attribute().vpc_id(&vpc_id).attribute(aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames).send().await.unwrap();
    assert_eq!(attr.enable_dns_hostnames().and_then(|v| v.value()), Some(true));
    let vpc = ec2.describe_vpcs().vpc_ids(&vpc_id).send().await.unwrap();
    assert!(vpc.vpcs()[0].tags().iter().any(|t| t.key() == Some("Env") && t.value() == Some("prod")));
    project.ok(&["plan", "net", "--detailed-exitcode"], 0);

    // An attribute that forces a new resource: the subnet and its association are replaced.
    project.write_stack("net", &stack_text(&name, true, "10.20.2.0/24", "prod"));
    let plan = project.ok(&["plan", "net", "--detailed-exitcode"], 2);
    assert!(plan.stdout.contains("must be replaced"), "{}", plan.stdout);
    assert!(plan.stdout.contains("forces replacement"), "{}", plan.stdout);
    assert!(plan.stdout.contains("Plan: 2 to add, 0 to change, 2 to destroy."), "{}", plan.stdout);
    project.ok(&["apply", "net", "--auto-approve"], 0);
    let subnets = ec2.describe_subnets().filters(owned_by(&name)).send().await.unwrap();
    assert_eq!(subnets.subnets().len(), 1, "the old subnet is gone, one new one exists");
    assert_eq!(subnets.subnets()[0].cidr_block(), Some("10.20.2.0/24"));
    assert_ne!(subnets.subnets()[0].subnet_id(), Some(old_subnet_id.as_str()));
    project.ok(&["plan", "net", "--detailed-exitcode"], 0);

    // Destroy leaves nothing owned by the stack.
    let destroy = project.ok(&["destroy", "net", "--auto-approve"], 0);
    assert!(destroy.stdout.contains("Destroy complete! Resources: 6 destroyed."), "{}", destroy.stdout);
    assert!(ec2.describe_vpcs().filters(owned_by(&name)).send().await.unwrap().vpcs().is_empty());
    assert!(ec2.describe_subnets().filters(owned_by(&name)).send().await.unwrap().subnets().is_empty());
    assert!(ec2.describe_internet_gateways().filters(owned_by(&name)).send().await.unwrap().internet_gateways().is_empty());
    assert!(ec2.describe_route_tables().filters(owned_by(&name)).send().await.unwrap().route_tables().is_empty());
    assert!(ec2.describe_security_groups().filters(owned_by(&name)).send().await.unwrap().security_groups().is_empty());
    let vpc_filter = Filter::builder().name("vpc-id").values(&vpc_id).build();
    assert!(ec2.describe_subnets().filters(vpc_filter).send().await.unwrap().subnets().is_empty());
    assert!(project.state(&name)["resources"].as_array().unwrap().is_empty());
}
