//! `plan --json` and `show PLANFILE --json` write Terraform's machine-readable plan format:
//! the document of a small stack from empty state and from a fixed state (every action), as
//! insta snapshots, plus the rules a policy tool relies on asserted one by one. No AWS call:
//! plans from no state read nothing, and `--refresh=false` reads nothing.

use crate::common::Project;
use serde_json::{json, Value as Json};

const STACK: &str = r#"stack: tfjson
params:
  name: { default: demo }
tags:
  Project: demo
resources:
  vpc:
    type: aws_vpc
    cidr_block: 10.40.0.0/16
    enable_dns_hostnames: true
    tags: { Name: "${param.name}-vpc" }
  subnet:
    type: aws_subnet
    vpc_id: ${vpc.id}
    cidr_block: 10.40.1.0/24
    availability_zone: us-west-2a
  lb_sg:
    type: aws_security_group
    name: ${param.name}-lb
    description: load balancer
    vpc_id: ${vpc.id}
    ingress:
      - { from_port: 80, to_port: 80, protocol: tcp, cidr_blocks: [0.0.0.0/0], description: HTTP }
  app_sg:
    type: aws_security_group
    name: ${param.name}-app
    description: app
    vpc_id: ${vpc.id}
    ingress:
      - { from_port: 8080, to_port: 8080, protocol: tcp, security_groups: ["${lb_sg.id}"], cidr_blocks: [10.40.0.0/16] }
  secret:
    type: aws_secretsmanager_secret
    name: ${param.name}/token
  secret_value:
    type: aws_secretsmanager_secret_version
    secret_id: ${secret.id}
    secret_string: hunter2
  target_group:
    type: aws_lb_target_group
    name: ${param.name}-tg
    port: 8080
    protocol: HTTP
    target_type: ip
    vpc_id: ${vpc.id}
    deregistration_delay: 30
  task:
    type: aws_ecs_task_definition
    family: ${param.name}
    cpu: 256
    memory: 512
    container_definitions: '[{"name": "app", "image": "nginx", "essential": true}]'
outputs:
  vpc_id: ${vpc.id}
  subnet_id: ${subnet.id}
"#;

/// State as an apply left it, then changed: the subnet's CIDR differs (replace), the load
/// balancer group's tags differ (update), the secret's value differs (update, sensitive), the
/// VPC and the secret are as configured (no-op), `old` is no longer configured (delete).
fn fixed_state() -> Json {
    let tags = json!({"Name": "demo-vpc", "Project": "demo"});
    json!({
        "format_version": 1, "serial": 3, "lineage": "00000000-0000-4000-8000-000000000000", "stack": "tfjson",
        "params": {"name": "demo"},
        "resources": [
            {"address": "vpc", "type": "aws_vpc", "id": "vpc-0a1", "attributes": {
                "cidr_block": "10.40.0.0/16", "enable_dns_hostnames": true, "tags": tags,
                "id": "vpc-0a1", "arn": "arn:aws:ec2:us-west-2:123456789012:vpc/vpc-0a1", "owner_id": "123456789012"}},
            {"address": "subnet", "type": "aws_subnet", "id": "subnet-0b2", "dependencies": ["vpc"], "attributes": {
                "vpc_id": "vpc-0a1", "cidr_block": "10.40.9.0/24", "availability_zone": "us-west-2a", "tags": {"Project": "demo"},
                "id": "subnet-0b2", "arn": "arn:aws:ec2:us-west-2:123456789012:subnet/subnet-0b2"}},
            {"address": "lb_sg", "type": "aws_security_group", "id": "sg-0c3", "dependencies": ["vpc"], "attributes": {
                "name": "demo-lb", "description": "load balancer", "vpc_id": "vpc-0a1",
                "ingress": [{"from_port": 80, "to_port": 80, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"], "description": "HTTP"}],
                "tags": {"Project": "old"}, "id": "sg-0c3", "arn": "arn:aws:ec2:us-west-2:123456789012:security-group/sg-0c3"}},
            {"address": "secret", "type": "aws_secretsmanager_secret", "id": "arn:aws:secretsmanager:us-west-2:123456789012:secret:demo/token-AbCdEf", "attributes": {
                "name": "demo/token", "tags": {"Project": "demo"},
                "id": "arn:aws:secretsmanager:us-west-2:123456789012:secret:demo/token-AbCdEf", "arn": "arn:aws:secretsmanager:us-west-2:123456789012:secret:demo/token-AbCdEf"}},
            {"address": "secret_value", "type": "aws_secretsmanager_secret_version", "id": "arn:aws:secretsmanager:us-west-2:123456789012:secret:demo/token-AbCdEf|v1", "dependencies": ["secret"], "attributes": {
                "secret_id": "arn:aws:secretsmanager:us-west-2:123456789012:secret:demo/token-AbCdEf",
                "secret_string": "sha256:0000000000000000000000000000000000000000000000000000000000000000",
                "id": "arn:aws:secretsmanager:us-west-2:123456789012:secret:demo/token-AbCdEf|v1", "version_id": "v1"}},
            {"address": "old", "type": "aws_subnet", "id": "subnet-0d4", "attributes": {
                "vpc_id": "vpc-0a1", "cidr_block": "10.40.2.0/24", "id": "subnet-0d4"}}
        ],
        "outputs": {"vpc_id": "vpc-0a1", "subnet_id": "subnet-0b2"}
    })
}

/// The plan JSON with what changes from run to run (time, version) fixed.
fn stable(text: &str) -> Json {
    let mut doc: Json = serde_json::from_str(text).unwrap_or_else(|e| panic!("plan JSON does not parse: {e}\n{text}"));
    assert!(doc["timestamp"].as_str().is_some_and(|t| t.ends_with('Z') && t.len() == 20), "timestamp is RFC 3339: {}", doc["timestamp"]);
    assert_eq!(doc["terraform_version"], clawform::core::tfjson::COMPATIBLE_TERRAFORM_VERSION);
    assert_eq!(doc["clawform_version"], env!("CARGO_PKG_VERSION"));
    doc["clawform_version"] = json!("[version]");
    doc["timestamp"] = json!("[timestamp]");
    doc["terraform_version"] = json!("[version]");
    if let Some(prior) = doc.get_mut("prior_state") {
        prior["terraform_version"] = json!("[version]");
    }
    doc
}

fn change<'a>(doc: &'a Json, address: &str) -> &'a Json {
    doc["resource_changes"].as_array().unwrap().iter().find(|c| c["address"] == address).unwrap_or_else(|| panic!("no change for {address}"))
}

fn planned<'a>(doc: &'a Json, address: &str) -> Option<&'a Json> {
    doc["planned_values"]["root_module"]["resources"].as_array().unwrap().iter().find(|r| r["address"] == address)
}

fn project() -> Project {
    let project = Project::new();
    project.write_stack("tfjson", STACK);
    project
}

#[test]
fn plan_json_from_empty_state_is_terraforms_format() {
    let project = project();
    let run = project.run_with_env(&["plan", "tfjson", "--json"], &[("AWS_REGION", "us-west-2")]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!run.stdout.contains("hunter2") && !run.stdout.contains("sha256:"), "a secret or its digest leaked:\n{}", run.stdout);
    let doc = stable(&run.stdout);
    assert_eq!(doc["format_version"], "1.2");
    assert_eq!(doc["applyable"], true);
    assert_eq!(doc["complete"], true);
    assert_eq!(doc["errored"], false);
    assert!(doc.get("prior_state").is_none(), "no state, no prior_state");
    assert_eq!(doc["configuration"]["provider_config"]["aws"]["expressions"]["region"]["constant_value"], "us-west-2");

    let vpc = change(&doc, "aws_vpc.vpc");
    assert_eq!(vpc["change"]["actions"], json!(["create"]));
    assert_eq!((vpc["mode"].as_str(), vpc["type"].as_str(), vpc["name"].as_str()), (Some("managed"), Some("aws_vpc"), Some("vpc")));
    assert_eq!(vpc["provider_name"], "registry.terraform.io/hashicorp/aws");
    assert_eq!(vpc["change"]["after"]["cidr_block"], "10.40.0.0/16");
    assert_eq!(vpc["change"]["after"]["tags"], json!({"Name": "demo-vpc", "Project": "demo"}));
    assert!(vpc["change"]["after"].get("id").is_none(), "unknown values are left out of after");
    assert_eq!(vpc["change"]["after_unknown"]["id"], true);
    assert_eq!(vpc["change"]["after_unknown"]["arn"], true);
    assert_eq!(vpc["change"]["before"], Json::Null);

    // A rule naming a group still to be created: its ports are known, the group is not.
    let app = change(&doc, "aws_security_group.app_sg");
    let rule = &app["change"]["after"]["ingress"][0];
    assert_eq!((rule["from_port"].as_i64(), rule["protocol"].as_str()), (Some(8080), Some("tcp")));
    assert_eq!(rule["security_groups"], json!([null]));
    assert_eq!(rule["cidr_blocks"], json!(["10.40.0.0/16"]));
    assert_eq!(app["change"]["after_unknown"]["ingress"], json!([{"security_groups": [true], "cidr_blocks": [false]}]));
    assert!(app["change"]["after"].get("vpc_id").is_none());
    assert_eq!(app["change"]["after_unknown"]["vpc_id"], true);

    // Sensitive: out of after, marked in after_sensitive and sensitive_values.
    let secret = change(&doc, "aws_secretsmanager_secret_version.secret_value");
    assert!(secret["change"]["after"].get("secret_string").is_none());
    assert_eq!(secret["change"]["after_sensitive"], json!({"secret_string": true}));
    assert_eq!(secret["change"]["before_sensitive"], false);
    assert_eq!(planned(&doc, "aws_secretsmanager_secret_version.secret_value").unwrap()["sensitive_values"], json!({"secret_string": true}));

    // The Terraform AWS provider's shapes.
    assert_eq!(change(&doc, "aws_lb_target_group.target_group")["change"]["after"]["deregistration_delay"], "30");
    let task = &change(&doc, "aws_ecs_task_definition.task")["change"]["after"];
    assert_eq!((task["cpu"].as_str(), task["memory"].as_str()), (Some("256"), Some("512")));
    assert!(planned(&doc, "aws_lb_target_group.target_group").unwrap()["values"]["health_check"].is_array());

    // References in the configuration, as Terraform names them.
    let resources = doc["configuration"]["root_module"]["resources"].as_array().unwrap();
    let subnet = resources.iter().find(|r| r["address"] == "aws_subnet.subnet").unwrap();
    assert_eq!(subnet["expressions"]["vpc_id"]["references"], json!(["aws_vpc.vpc.id", "aws_vpc.vpc"]));
    assert_eq!(subnet["expressions"]["cidr_block"]["constant_value"], "10.40.1.0/24");
    assert_eq!(
        doc["output_changes"]["vpc_id"],
        json!({"actions": ["create"], "before": null, "after": null, "after_unknown": true, "before_sensitive": false, "after_sensitive": false})
    );

    insta::assert_snapshot!("empty_state", serde_json::to_string_pretty(&doc).unwrap());
}

#[test]
fn plan_json_from_a_fixed_state_has_every_action_and_show_reads_it_back() {
    let project = project();
    std::fs::create_dir_all(project.path().join("state")).unwrap();
    std::fs::write(project.state_file("tfjson"), serde_json::to_string_pretty(&fixed_state()).unwrap()).unwrap();
    let plan_file = project.path().join("tfjson.plan");
    let run = project.run_with_env(&["plan", "tfjson", "--refresh=false", "--json", "--out", plan_file.to_str().unwrap()], &[("AWS_REGION", "us-west-2")]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!run.stdout.contains("hunter2") && !run.stdout.contains("sha256:"), "a secret or its digest leaked:\n{}", run.stdout);
    let doc = stable(&run.stdout);

    let actions = |address: &str| change(&doc, address)["change"]["actions"].clone();
    assert_eq!(actions("aws_vpc.vpc"), json!(["no-op"]));
    assert_eq!(actions("aws_security_group.lb_sg"), json!(["update"]));
    // A subnet with a new CIDR can exist beside the old one: created first, then the old deleted.
    assert_eq!(actions("aws_subnet.subnet"), json!(["create", "delete"]));
    assert_eq!(actions("aws_subnet.old"), json!(["delete"]));
    assert_eq!(actions("aws_security_group.app_sg"), json!(["create"]));
    assert_eq!(actions("aws_secretsmanager_secret_version.secret_value"), json!(["update"]));

    let subnet = change(&doc, "aws_subnet.subnet");
    assert_eq!(subnet["action_reason"], "replace_because_cannot_update");
    assert_eq!(subnet["change"]["replace_paths"], json!([["cidr_block"]]));
    assert_eq!(subnet["change"]["before"]["cidr_block"], "10.40.9.0/24");
    assert_eq!(subnet["change"]["after"]["vpc_id"], "vpc-0a1", "the VPC is kept, so its id is known");
    assert_eq!(subnet["change"]["after_unknown"]["id"], true);
    assert_eq!(change(&doc, "aws_subnet.old")["action_reason"], "delete_because_no_resource_config");
    assert_eq!(change(&doc, "aws_subnet.old")["change"]["after"], Json::Null);
    assert!(planned(&doc, "aws_subnet.old").is_none(), "a deleted resource is not planned");

    // An update keeps what the cloud assigned.
    let sg = change(&doc, "aws_security_group.lb_sg");
    assert_eq!(sg["change"]["after"]["id"], "sg-0c3");
    assert_eq!(sg["change"]["before"]["tags"], json!({"Project": "old"}));
    assert_eq!(sg["change"]["after"]["tags"], json!({"Project": "demo"}));
    // The new group's rule names the kept group: known now.
    assert_eq!(change(&doc, "aws_security_group.app_sg")["change"]["after"]["ingress"][0]["security_groups"], json!(["sg-0c3"]));

    let secret = change(&doc, "aws_secretsmanager_secret_version.secret_value");
    assert_eq!(secret["change"]["before_sensitive"], json!({"secret_string": true}));
    assert_eq!(secret["change"]["after_sensitive"], json!({"secret_string": true}));
    assert!(secret["change"]["before"].get("secret_string").is_none());

    let prior = doc["prior_state"]["values"]["root_module"]["resources"].as_array().unwrap();
    assert_eq!(doc["prior_state"]["format_version"], "1.0");
    assert_eq!(prior.len(), 6, "every resource in state");
    assert_eq!(doc["prior_state"]["values"]["outputs"]["vpc_id"]["value"], "vpc-0a1");
    assert_eq!(doc["output_changes"]["vpc_id"]["actions"], json!(["no-op"]));
    assert_eq!(doc["output_changes"]["subnet_id"]["actions"], json!(["update"]));
    assert_eq!(doc["output_changes"]["subnet_id"]["after_unknown"], true);

    insta::assert_snapshot!("fixed_state", serde_json::to_string_pretty(&doc).unwrap());

    // `show PLANFILE --json` gives the same document; `show PLANFILE` the human plan; the
    // native document stays available.
    let shown = project.run_with_env(&["show", plan_file.to_str().unwrap(), "--json"], &[("AWS_REGION", "us-west-2")]);
    assert_eq!(shown.code, 0, "{}", shown.all());
    assert_eq!(stable(&shown.stdout), doc);
    let human = project.ok(&["show", plan_file.to_str().unwrap()], 0);
    assert!(human.stdout.contains("# subnet must be replaced") && human.stdout.contains("Plan: 4 to add, 2 to change, 2 to destroy."), "{}", human.stdout);
    let native = project.ok(&["show", plan_file.to_str().unwrap(), "--json", "--json-format", "native"], 0);
    let native: Json = serde_json::from_str(&native.stdout).unwrap();
    assert_eq!(native["stack"], "tfjson");
    assert_eq!(native["summary"]["destroy"], 2);
}

#[test]
fn show_refuses_what_is_not_a_plan_with_the_reason() {
    let project = project();
    let path = project.path().join("not-a-plan.json");
    std::fs::write(&path, "{\"hello\": 1}").unwrap();
    let run = project.ok(&["show", path.to_str().unwrap(), "--json"], 1);
    assert!(run.stderr.contains("not a clawform plan"), "{}", run.stderr);
    let missing = project.ok(&["show", "nowhere.plan"], 1);
    assert!(missing.stderr.contains("cannot read plan file"), "{}", missing.stderr);
}
