//! The compute types (Elastic IP, NAT gateway, launch template, Auto Scaling group) against
//! moto's server: each is created, checked in moto with the raw SDK (attributes and ownership
//! tags), read back, updated, and deleted, through core's `Provider` trait with JSON attributes,
//! as the engine drives it.

use std::collections::BTreeMap;

use crate::support::{expected_tags, state_of, Subject};
use aws_sdk_ec2::types::{Filter, NatGatewayState, Tag};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use clawform_aws::AwsProvider;
use clawform_core::Provider;
use clawform_testkit::unique;
use serde_json::json;

/// The ECS-optimized Amazon Linux 2023 AMI that moto 5.2.5 ships for us-west-2: what its SSM
/// parameter `/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id` answers,
/// and an image DescribeImages knows (`al2023-ami-ecs-hvm-2023.0.20260922-kernel-6.1-x86_64`).
const MOTO_ECS_AMI: &str = "ami-0d66bfd8d204c3aed";

/// The provider under test (through `Deref`) and independent raw SDK clients, all pointed at
/// this binary's moto server.
struct Env {
    subject: Subject,
    ec2: aws_sdk_ec2::Client,
    autoscaling: aws_sdk_autoscaling::Client,
    sts: aws_sdk_sts::Client,
}

crate::support::deref_to_subject!(Env);

async fn env() -> Env {
    let config = crate::support::moto_config().await;
    Env {
        subject: Subject::new(AwsProvider::from_env(None).await, "stack"),
        ec2: aws_sdk_ec2::Client::new(&config),
        autoscaling: aws_sdk_autoscaling::Client::new(&config),
        sts: aws_sdk_sts::Client::new(&config),
    }
}

impl Env {
    /// A VPC with one subnet per given availability zone letter, made through the provider.
    async fn network(&self, second_octet: u8, zones: &[char]) -> (String, Vec<String>) {
        let vpc = self.create("aws_vpc", "vpc", &json!({ "cidr_block": format!("10.{second_octet}.0.0/16") })).await.id;
        let mut subnets = Vec::new();
        for (i, zone) in zones.iter().enumerate() {
            let attrs = json!({ "vpc_id": vpc, "cidr_block": format!("10.{second_octet}.{}.0/24", i + 1), "availability_zone": format!("us-west-2{zone}") });
            subnets.push(self.create("aws_subnet", &format!("subnet_{zone}"), &attrs).await.id);
        }
        (vpc, subnets)
    }

    async fn account(&self) -> String {
        self.sts.get_caller_identity().send().await.unwrap().account().unwrap().to_string()
    }
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter().map(|t| (t.key().unwrap().to_string(), t.value().unwrap_or_default().to_string())).collect()
}

async fn address_in_moto(env: &Env, id: &str) -> Option<aws_sdk_ec2::types::Address> {
    let out = env.ec2.describe_addresses().filters(Filter::builder().name("allocation-id").values(id).build()).send().await.unwrap();
    out.addresses().first().cloned()
}

#[tokio::test(flavor = "multi_thread")]
async fn eip_create_read_update_delete() {
    let env = env().await;
    let attrs = json!({ "domain": "vpc", "tags": { "Name": "nat-a" } });
    let applied = env.create("aws_eip", "eip", &attrs).await;
    let id = applied.id.clone();
    assert!(id.starts_with("eipalloc-"), "{id}");

    let address = address_in_moto(&env, &id).await.expect("the address is allocated");
    assert_eq!(address.domain().map(|d| d.as_str()), Some("vpc"));
    assert_eq!(tag_map(address.tags()), expected_tags(&[("Name", "nat-a")], env.ownership("eip")));
    let public_ip = address.public_ip().unwrap().to_string();
    let arn = format!("arn:aws:ec2:us-west-2:{}:elastic-ip/{id}", env.account().await);
    assert_eq!(applied.computed["public_ip"], json!(public_ip));
    assert_eq!(applied.computed["allocation_id"], json!(id));
    assert_eq!(applied.computed["arn"], json!(arn));

    let read = env.read_one("aws_eip", &id).await.unwrap();
    assert_eq!(read, json!({ "id": id, "domain": "vpc", "tags": { "Name": "nat-a" }, "public_ip": public_ip, "allocation_id": id, "arn": arn }));

    let prior = state_of(&attrs, &applied);
    let new = json!({ "domain": "vpc", "tags": { "Name": "nat-a2", "tier": "public" } });
    env.update("aws_eip", "eip", &id, &prior, &new).await;
    let address = address_in_moto(&env, &id).await.unwrap();
    assert_eq!(tag_map(address.tags()), expected_tags(&[("Name", "nat-a2"), ("tier", "public")], env.ownership("eip")));
    assert_eq!(env.read_one("aws_eip", &id).await.unwrap()["tags"], json!({ "Name": "nat-a2", "tier": "public" }));

    env.delete_and_check_gone("aws_eip", "eip", &id, &new).await;
    assert!(address_in_moto(&env, &id).await.is_none(), "the address was released");
}

#[tokio::test(flavor = "multi_thread")]
async fn nat_gateway_create_read_update_delete_then_release_its_eip() {
    let env = env().await;
    let (vpc, subnets) = env.network(70, &['a']).await;
    let eip = env.create("aws_eip", "eip", &json!({ "domain": "vpc" })).await;

    let attrs = json!({ "allocation_id": eip.id, "subnet_id": subnets[0], "tags": { "Name": "nat-a" } });
    let applied = env.create("aws_nat_gateway", "nat", &attrs).await;
    let id = applied.id.clone();
    assert!(id.starts_with("nat-"), "{id}");

    let gateway = env.ec2.describe_nat_gateways().nat_gateway_ids(&id).send().await.unwrap().nat_gateways()[0].clone();
    assert_eq!(gateway.state(), Some(&NatGatewayState::Available), "create returns once the gateway is available");
    assert_eq!(gateway.subnet_id(), Some(subnets[0].as_str()));
    assert_eq!(gateway.vpc_id(), Some(vpc.as_str()));
    assert_eq!(tag_map(gateway.tags()), expected_tags(&[("Name", "nat-a")], env.ownership("nat")));
    let address = &gateway.nat_gateway_addresses()[0];
    assert_eq!(address.allocation_id(), Some(eip.id.as_str()));
    assert_eq!(applied.computed["public_ip"], eip.computed["public_ip"]);
    assert_eq!(applied.computed["public_ip"], json!(address.public_ip()));
    let eni = address.network_interface_id().unwrap().to_string();
    assert!(eni.starts_with("eni-"), "{eni}");
    assert_eq!(applied.computed["network_interface_id"], json!(eni));

    let read = env.read_one("aws_nat_gateway", &id).await.unwrap();
    assert_eq!(
        read,
        json!({
            "id": id, "allocation_id": eip.id, "subnet_id": subnets[0], "connectivity_type": "public",
            "tags": { "Name": "nat-a" }, "public_ip": address.public_ip(), "network_interface_id": eni
        })
    );

    let prior = state_of(&attrs, &applied);
    let new = json!({ "allocation_id": eip.id, "subnet_id": subnets[0], "tags": { "Name": "nat-a", "az": "a" } });
    env.update("aws_nat_gateway", "nat", &id, &prior, &new).await;
    let gateway = env.ec2.describe_nat_gateways().nat_gateway_ids(&id).send().await.unwrap().nat_gateways()[0].clone();
    assert_eq!(tag_map(gateway.tags()), expected_tags(&[("Name", "nat-a"), ("az", "a")], env.ownership("nat")));
    assert_eq!(env.read_one("aws_nat_gateway", &id).await.unwrap()["tags"], json!({ "Name": "nat-a", "az": "a" }));

    // Delete waits for `deleted`; the gateway stays listed in that state, and reads as gone.
    env.delete_and_check_gone("aws_nat_gateway", "nat", &id, &new).await;
    let gateway = env.ec2.describe_nat_gateways().nat_gateway_ids(&id).send().await.unwrap().nat_gateways()[0].clone();
    assert_eq!(gateway.state(), Some(&NatGatewayState::Deleted));
    // So the Elastic IP can be released right after.
    env.delete_and_check_gone("aws_eip", "eip", &eip.id, &json!({})).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nat_gateway_create_adopts_its_own_gateway_when_the_address_is_taken() {
    let env = env().await;
    let (_, subnets) = env.network(71, &['a']).await;
    let eip = env.create("aws_eip", "eip", &json!({})).await;
    let attrs = json!({ "allocation_id": eip.id, "subnet_id": subnets[0] });
    let first = env.create("aws_nat_gateway", "nat", &attrs).await;

    // moto 5.2.5 does not honour ClientToken: a CreateNatGateway repeated with the same token
    // (what the SDK sends when it retries a request whose answer was lost) fails because the
    // address is taken, where AWS returns the first gateway. Asserted here to show why create
    // looks for its own gateway when it is told `Resource.AlreadyAssociated`.
    let token = unique("token");
    let eip2 = env.create("aws_eip", "eip2", &json!({})).await;
    let made = env.ec2.create_nat_gateway().subnet_id(&subnets[0]).allocation_id(&eip2.id).client_token(&token).send().await.unwrap();
    let repeated = env.ec2.create_nat_gateway().subnet_id(&subnets[0]).allocation_id(&eip2.id).client_token(&token).send().await;
    let err = repeated.expect_err("moto refuses a repeated token");
    assert_eq!(ProvideErrorMetadata::code(&err), Some("Resource.AlreadyAssociated"));

    // The same resource created again (a retry, or a run after a crash before state was saved)
    // gets its gateway back instead of an error or a second gateway.
    let adopted = env.create("aws_nat_gateway", "nat", &attrs).await;
    assert_eq!(adopted.id, first.id);
    assert_eq!(adopted.computed, first.computed);

    // Another resource wanting the same address is refused as AWS refuses it.
    let err = env.provider.create(&env.ctx("other"), "aws_nat_gateway", &attrs).await.expect_err("the address belongs to another gateway");
    assert!(err.message.contains("Resource.AlreadyAssociated"), "{err}");

    let made = made.nat_gateway().unwrap().nat_gateway_id().unwrap().to_string();
    env.ec2.delete_nat_gateway().nat_gateway_id(made).send().await.unwrap();
    env.delete_and_check_gone("aws_nat_gateway", "nat", &first.id, &attrs).await;
}

async fn template_in_moto(env: &Env, id: &str) -> (aws_sdk_ec2::types::LaunchTemplate, aws_sdk_ec2::types::ResponseLaunchTemplateData) {
    let template = env.ec2.describe_launch_templates().launch_template_ids(id).send().await.unwrap().launch_templates()[0].clone();
    let versions = env.ec2.describe_launch_template_versions().launch_template_id(id).versions("$Default").send().await.unwrap();
    (template, versions.launch_template_versions()[0].launch_template_data().unwrap().clone())
}

/// A launch template's tags as EC2's tag store holds them.
async fn launch_template_tags(env: &Env, id: &str) -> BTreeMap<String, String> {
    let out = env.ec2.describe_tags().filters(Filter::builder().name("resource-id").values(id).build()).send().await.unwrap();
    out.tags().iter().map(|t| (t.key().unwrap().to_string(), t.value().unwrap_or_default().to_string())).collect()
}

const USER_DATA: &str = "#!/bin/bash\necho ECS_CLUSTER=openclaw >> /etc/ecs/ecs.config\n";

#[tokio::test(flavor = "multi_thread")]
async fn launch_template_create_read_update_delete() {
    let env = env().await;
    let (vpc, _) = env.network(72, &[]).await;
    let sg = env.create("aws_security_group", "sg", &json!({ "name": unique("ecs"), "vpc_id": vpc })).await.id;
    let name = unique("ecs-spot");
    let attrs = json!({
        "name": name,
        "image_id": MOTO_ECS_AMI,
        "instance_type": "c7i-flex.large",
        "iam_instance_profile": [{ "name": "ecs-instance" }],
        "vpc_security_group_ids": [sg],
        "user_data": USER_DATA,
        "tag_specifications": [{ "resource_type": "instance", "tags": { "Name": "ecs-spot" } }],
        "metadata_options": [{ "http_tokens": "required" }],
        "tags": { "Name": "ecs" }
    });
    let applied = env.create("aws_launch_template", "lt", &attrs).await;
    let id = applied.id.clone();
    assert!(id.starts_with("lt-"), "{id}");

    let (template, data) = template_in_moto(&env, &id).await;
    assert_eq!(template.launch_template_name(), Some(name.as_str()));
    assert_eq!(tag_map(template.tags()), expected_tags(&[("Name", "ecs")], env.ownership("lt")));
    assert_eq!(data.image_id(), Some(MOTO_ECS_AMI));
    assert_eq!(data.instance_type().map(|t| t.as_str()), Some("c7i-flex.large"));
    assert_eq!(data.iam_instance_profile().and_then(|p| p.name()), Some("ecs-instance"));
    assert_eq!(data.security_group_ids(), std::slice::from_ref(&sg));
    // The plain text in the stack is sent base64-encoded, as the API requires.
    assert_eq!(data.user_data(), Some(aws_smithy_types::base64::encode(USER_DATA).as_str()));
    assert_eq!(data.tag_specifications()[0].resource_type().map(|r| r.as_str()), Some("instance"));
    assert_eq!(data.metadata_options().and_then(|m| m.http_tokens()).map(|t| t.as_str()), Some("required"));
    let arn = format!("arn:aws:ec2:us-west-2:{}:launch-template/{id}", env.account().await);
    assert_eq!(applied.computed["arn"], json!(arn));
    assert_eq!(applied.computed["latest_version"], json!(1));

    let read = env.read_one("aws_launch_template", &id).await.unwrap();
    let mut expected = attrs.clone();
    expected.as_object_mut().unwrap().extend([("id".to_string(), json!(id)), ("arn".to_string(), json!(arn)), ("latest_version".to_string(), json!(1))]);
    assert_eq!(read, expected);

    // A new instance type makes version 2 and makes it the default.
    let prior = state_of(&attrs, &applied);
    let mut new = attrs.clone();
    new["instance_type"] = json!("m7i-flex.large");
    new["tags"] = json!({ "Name": "ecs", "rev": "2" });
    let updated = env.update("aws_launch_template", "lt", &id, &prior, &new).await;
    assert_eq!(updated.computed["latest_version"], json!(2));
    let (template, data) = template_in_moto(&env, &id).await;
    assert_eq!(template.default_version_number(), Some(2));
    assert_eq!(template.latest_version_number(), Some(2));
    assert_eq!(data.instance_type().map(|t| t.as_str()), Some("m7i-flex.large"));
    assert_eq!(data.user_data(), Some(aws_smithy_types::base64::encode(USER_DATA).as_str()), "a version carries the whole configuration");
    let expected = expected_tags(&[("Name", "ecs"), ("rev", "2")], env.ownership("lt"));
    assert_eq!(launch_template_tags(&env, &id).await, expected);
    // moto 5.2.5's DescribeLaunchTemplates keeps answering the tags the template was created
    // with (AWS answers the current ones), which is why read takes them from DescribeTags.
    assert_eq!(tag_map(template.tags()), expected_tags(&[("Name", "ecs")], env.ownership("lt")));
    let read = env.read_one("aws_launch_template", &id).await.unwrap();
    assert_eq!(read["instance_type"], json!("m7i-flex.large"));
    assert_eq!(read["latest_version"], json!(2));
    assert_eq!(read["tags"], json!({ "Name": "ecs", "rev": "2" }));

    // A change of tags alone makes no new version.
    let prior = state_of(&new, &updated);
    let mut retagged = new.clone();
    retagged["tags"] = json!({ "Name": "ecs" });
    let applied = env.update("aws_launch_template", "lt", &id, &prior, &retagged).await;
    assert!(applied.computed.is_empty(), "{:?}", applied.computed);
    assert_eq!(template_in_moto(&env, &id).await.0.latest_version_number(), Some(2));
    assert_eq!(launch_template_tags(&env, &id).await, expected_tags(&[("Name", "ecs")], env.ownership("lt")));
    assert_eq!(env.read_one("aws_launch_template", &id).await.unwrap()["tags"], json!({ "Name": "ecs" }));

    env.delete_and_check_gone("aws_launch_template", "lt", &id, &retagged).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn launch_templates_read_in_one_batch() {
    let env = env().await;
    let a = env.create("aws_launch_template", "a", &json!({ "name": unique("lt-a"), "image_id": MOTO_ECS_AMI, "instance_type": "t3.micro" })).await;
    let b = env.create("aws_launch_template", "b", &json!({ "name": unique("lt-b"), "instance_type": "t3.small" })).await;
    env.provider.delete(&env.ctx("b"), "aws_launch_template", &b.id, &json!({})).await.unwrap();
    let ids = vec![b.id.clone(), a.id.clone(), "lt-0123456789abcdef0".to_string()];
    let read = env.provider.read("aws_launch_template", &ids).await.unwrap();
    assert_eq!(read.len(), 3);
    assert_eq!(read[0], None, "deleted template");
    assert_eq!(read[1].as_ref().unwrap()["instance_type"], json!("t3.micro"));
    assert_eq!(read[1].as_ref().unwrap()["image_id"], json!(MOTO_ECS_AMI));
    assert_eq!(read[2], None, "never existed");
}

async fn group_in_moto(env: &Env, name: &str) -> Option<aws_sdk_autoscaling::types::AutoScalingGroup> {
    let out = env.autoscaling.describe_auto_scaling_groups().auto_scaling_group_names(name).send().await.unwrap();
    out.auto_scaling_groups().first().cloned()
}

/// A group's tags in moto as (key, value, propagate_at_launch), sorted.
fn group_tags(group: &aws_sdk_autoscaling::types::AutoScalingGroup) -> Vec<(String, String, bool)> {
    let mut tags: Vec<_> =
        group.tags().iter().map(|t| (t.key().unwrap().to_string(), t.value().unwrap_or_default().to_string(), t.propagate_at_launch().unwrap())).collect();
    tags.sort();
    tags
}

fn tag(key: &str, value: &str, propagate: bool) -> (String, String, bool) {
    (key.to_string(), value.to_string(), propagate)
}

async fn image_of(env: &Env, instance: &str) -> String {
    let out = env.ec2.describe_instances().instance_ids(instance).send().await.unwrap();
    out.reservations()[0].instances()[0].image_id().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn autoscaling_group_with_mixed_instances_create_read_update_delete() {
    let env = env().await;
    let (_, subnets) = env.network(73, &['a', 'b']).await;
    let lt = env.create("aws_launch_template", "lt", &json!({ "name": unique("ecs"), "image_id": MOTO_ECS_AMI, "instance_type": "c7i-flex.large" })).await.id;
    let name = unique("ecs-spot");
    let policy = |base: i32| {
        json!([{
            "instances_distribution": [{
                "on_demand_base_capacity": base,
                "on_demand_percentage_above_base_capacity": 0,
                "spot_allocation_strategy": "price-capacity-optimized"
            }],
            "launch_template": [{
                "launch_template_specification": [{ "launch_template_id": lt, "version": "$Latest" }],
                "override": [{ "instance_type": "c7i-flex.large" }, { "instance_type": "m7i-flex.large" }]
            }]
        }])
    };
    let attrs = json!({
        "name": name,
        "min_size": 0,
        "max_size": 20,
        "desired_capacity": 1,
        "vpc_zone_identifier": subnets,
        "protect_from_scale_in": true,
        "health_check_type": "EC2",
        "mixed_instances_policy": policy(0),
        "tag": [
            { "key": "Name", "value": "ecs-spot", "propagate_at_launch": true },
            { "key": "team", "value": "platform", "propagate_at_launch": false }
        ]
    });
    let applied = env.create("aws_autoscaling_group", "asg", &attrs).await;
    assert_eq!(applied.id, name, "a group's id is its name");

    let group = group_in_moto(&env, &name).await.expect("the group exists");
    assert_eq!((group.min_size(), group.max_size(), group.desired_capacity()), (Some(0), Some(20), Some(1)));
    assert_eq!(group.vpc_zone_identifier(), Some(subnets.join(",").as_str()));
    assert_eq!(group.new_instances_protected_from_scale_in(), Some(true));
    let mixed = group.mixed_instances_policy().unwrap();
    let distribution = mixed.instances_distribution().unwrap();
    assert_eq!(distribution.on_demand_percentage_above_base_capacity(), Some(0));
    assert_eq!(distribution.spot_allocation_strategy(), Some("price-capacity-optimized"));
    let overrides: Vec<_> = mixed.launch_template().unwrap().overrides().iter().map(|o| o.instance_type().unwrap().to_string()).collect();
    assert_eq!(overrides, ["c7i-flex.large", "m7i-flex.large"]);
    // The ownership tags are the group's own: instances do not get them.
    let [(stack_key, stack), (address_key, address)] = env.ownership("asg");
    assert_eq!(
        group_tags(&group),
        vec![tag("Name", "ecs-spot", true), tag(&address_key, &address, false), tag(&stack_key, &stack, false), tag("team", "platform", false)]
    );
    // moto launches (fake) instances from the template, with its image.
    assert_eq!(group.instances().len(), 1);
    let instance = group.instances()[0].instance_id().unwrap().to_string();
    assert_eq!(image_of(&env, &instance).await, MOTO_ECS_AMI);
    let arn = group.auto_scaling_group_arn().unwrap().to_string();
    assert!(arn.starts_with("arn:aws:autoscaling:us-west-2:") && arn.ends_with(&format!(":autoScalingGroupName/{name}")), "{arn}");
    assert_eq!(applied.computed["arn"], json!(arn));

    let read = env.read_one("aws_autoscaling_group", &name).await.unwrap();
    let mut expected = attrs.clone();
    expected.as_object_mut().unwrap().extend([("id".to_string(), json!(name)), ("arn".to_string(), json!(arn))]);
    assert_eq!(read, expected);

    // Grow the group, keep one On-Demand instance, move to one subnet, change tags.
    let prior = state_of(&attrs, &applied);
    let new = json!({
        "name": name,
        "min_size": 0,
        "max_size": 30,
        "desired_capacity": 1,
        "vpc_zone_identifier": [subnets[0]],
        "protect_from_scale_in": true,
        "health_check_type": "EC2",
        "mixed_instances_policy": policy(1),
        "tag": [
            { "key": "Name", "value": "ecs-spot", "propagate_at_launch": false },
            { "key": "env", "value": "prod", "propagate_at_launch": true }
        ]
    });
    env.update("aws_autoscaling_group", "asg", &name, &prior, &new).await;
    let group = group_in_moto(&env, &name).await.unwrap();
    assert_eq!(group.max_size(), Some(30));
    assert_eq!(group.vpc_zone_identifier(), Some(subnets[0].as_str()));
    assert_eq!(group.mixed_instances_policy().and_then(|p| p.instances_distribution()).and_then(|d| d.on_demand_base_capacity()), Some(1));
    assert_eq!(group.mixed_instances_policy().and_then(|p| p.launch_template()).map(|t| t.overrides().len()), Some(2), "the policy is kept whole");
    assert_eq!(
        group_tags(&group),
        vec![tag("Name", "ecs-spot", false), tag(&address_key, &address, false), tag(&stack_key, &stack, false), tag("env", "prod", true)]
    );
    let read = env.read_one("aws_autoscaling_group", &name).await.unwrap();
    let mut expected = new.clone();
    expected.as_object_mut().unwrap().extend([("id".to_string(), json!(name)), ("arn".to_string(), json!(arn))]);
    assert_eq!(read, expected);

    env.delete_and_check_gone("aws_autoscaling_group", "asg", &name, &new).await;
    assert!(group_in_moto(&env, &name).await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn autoscaling_group_refuses_a_name_in_use_and_reads_in_batches() {
    let env = env().await;
    let (_, subnets) = env.network(74, &['c']).await;
    // moto does not check image ids (MOTO_ENABLE_AMI_VALIDATION is off): a template naming an
    // AMI it does not know still launches instances.
    let lt = env
        .create("aws_launch_template", "lt", &json!({ "name": unique("any-ami"), "image_id": "ami-0123456789abcdef0", "instance_type": "t3.micro" }))
        .await
        .id;
    let name = unique("group");
    let attrs = json!({
        "name": name, "min_size": 1, "max_size": 2, "vpc_zone_identifier": subnets,
        "launch_template": [{ "id": lt, "version": "$Latest" }]
    });
    let applied = env.create("aws_autoscaling_group", "asg", &attrs).await;
    let group = group_in_moto(&env, &name).await.unwrap();
    assert_eq!(group.desired_capacity(), Some(1), "AWS starts from min_size");
    assert_eq!(image_of(&env, group.instances()[0].instance_id().unwrap()).await, "ami-0123456789abcdef0");
    let read = env.read_one("aws_autoscaling_group", &name).await.unwrap();
    assert_eq!(read["launch_template"], json!([{ "id": lt, "version": "$Latest" }]));
    assert_eq!(read["protect_from_scale_in"], json!(false));
    assert_eq!(read["desired_capacity"], json!(1));
    assert_eq!(read["tag"], json!([]));

    // AWS refuses an existing name with AlreadyExists; moto would silently replace the group.
    let other = json!({ "name": name, "min_size": 0, "max_size": 9, "vpc_zone_identifier": subnets, "launch_template": [{ "id": lt }] });
    let err = env.provider.create(&env.ctx("asg2"), "aws_autoscaling_group", &other).await.expect_err("the name is in use");
    assert!(err.message.contains("AlreadyExists") && err.message.contains(&name), "{err}");
    assert_eq!(group_in_moto(&env, &name).await.unwrap().max_size(), Some(2), "the first group is untouched");

    // 150 names take two calls of 100 (AWS's limit); the gone ones read as None.
    let mut ids: Vec<String> = (0..149).map(|i| format!("{name}-missing-{i}")).collect();
    ids.insert(120, name.clone());
    let read = env.provider.read("aws_autoscaling_group", &ids).await.unwrap();
    assert_eq!(read.len(), 150);
    assert!(read.iter().enumerate().all(|(i, r)| r.is_some() == (i == 120)));
    assert_eq!(read[120].as_ref().unwrap()["max_size"], json!(2));

    env.delete_and_check_gone("aws_autoscaling_group", "asg", &applied.id, &attrs).await;
}

#[test]
fn stacks_refuse_bad_compute_attributes_at_load() {
    let registry = clawform_aws::registry();
    let decode = |type_name: &str, yaml: &str| {
        let body: serde_yaml::Value = serde_yaml::from_str(yaml).unwrap();
        registry.get(type_name).unwrap().decode(body).map_err(|errors| errors.into_iter().map(|e| e.path).collect::<Vec<_>>())
    };
    assert_eq!(decode("aws_eip", "domain: standard").unwrap_err(), vec!["domain"]);
    assert!(decode("aws_eip", "tags: {Name: nat}").is_ok());

    assert_eq!(decode("aws_nat_gateway", "subnet_id: subnet-1").unwrap_err(), vec!["allocation_id"]);
    assert_eq!(decode("aws_nat_gateway", "subnet_id: subnet-1\nconnectivity_type: private\nallocation_id: eipalloc-1").unwrap_err(), vec!["allocation_id"]);
    assert_eq!(decode("aws_nat_gateway", "subnet_id: subnet-1\nconnectivity_type: shared").unwrap_err(), vec!["connectivity_type"]);
    assert!(decode("aws_nat_gateway", "subnet_id: ${subnet.id}\nallocation_id: ${eip.id}").is_ok());

    let lt = |extra: &str| decode("aws_launch_template", &format!("name: ecs\ninstance_type: t3.micro\n{extra}"));
    assert_eq!(decode("aws_launch_template", &format!("name: {}\ninstance_type: t3.micro", "x".repeat(129))).unwrap_err(), vec!["name"]);
    assert_eq!(decode("aws_launch_template", "name: ecs spot\ninstance_type: t3.micro").unwrap_err(), vec!["name"]);
    assert_eq!(decode("aws_launch_template", "name: ecs\ninstance_type: ''").unwrap_err(), vec!["instance_type"]);
    assert_eq!(lt("metadata_options: [{http_tokens: always}]").unwrap_err(), vec!["metadata_options.0.http_tokens"]);
    assert_eq!(lt("tag_specifications: [{resource_type: vpc, tags: {a: b}}]").unwrap_err(), vec!["tag_specifications.0.resource_type"]);
    assert_eq!(lt("iam_instance_profile: [{}]").unwrap_err(), vec!["iam_instance_profile.0"]);
    assert_eq!(lt(&format!("user_data: {}", "x".repeat(16 * 1024 + 1))).unwrap_err(), vec!["user_data"]);
    assert_eq!(lt("iam_instance_profile: {name: ecs}").unwrap_err().len(), 1, "a nested block is a list of objects");
    assert!(lt("user_data: \"#!/bin/bash\\necho hi\"\nmetadata_options: [{http_tokens: required}]").is_ok());

    let asg = |body: &str| decode("aws_autoscaling_group", &format!("name: g\nvpc_zone_identifier: [subnet-1]\n{body}"));
    let template = "launch_template: [{id: lt-1}]";
    assert_eq!(asg(&format!("min_size: 3\nmax_size: 2\n{template}")).unwrap_err(), vec!["max_size"]);
    assert_eq!(asg(&format!("min_size: 1\nmax_size: 2\ndesired_capacity: 5\n{template}")).unwrap_err(), vec!["desired_capacity"]);
    assert_eq!(asg("min_size: 0\nmax_size: 2").unwrap_err(), vec!["launch_template"]);
    assert_eq!(
        decode("aws_autoscaling_group", &format!("name: g\nmin_size: 0\nmax_size: 1\nvpc_zone_identifier: []\n{template}")).unwrap_err(),
        vec!["vpc_zone_identifier"]
    );
    let mixed = "mixed_instances_policy: [{instances_distribution: [{on_demand_percentage_above_base_capacity: 101, spot_allocation_strategy: cheapest}], launch_template: [{launch_template_specification: [{launch_template_id: lt-1}]}]}]";
    assert_eq!(
        asg(&format!("min_size: 0\nmax_size: 2\n{mixed}")).unwrap_err(),
        vec![
            "mixed_instances_policy.0.instances_distribution.0.on_demand_percentage_above_base_capacity",
            "mixed_instances_policy.0.instances_distribution.0.spot_allocation_strategy"
        ]
    );
    assert_eq!(
        asg("min_size: 0\nmax_size: 2\nlaunch_template: [{id: lt-1}]\nmixed_instances_policy: [{launch_template: [{launch_template_specification: [{launch_template_id: lt-1}]}]}]").unwrap_err(),
        vec!["mixed_instances_policy"]
    );
    assert_eq!(
        asg(&format!("min_size: 0\nmax_size: 2\n{template}\ntag: [{{key: 'clawform:stack', value: x, propagate_at_launch: false}}, {{key: a, value: b, propagate_at_launch: true}}, {{key: a, value: c, propagate_at_launch: true}}]")).unwrap_err(),
        vec!["tag.0.key", "tag.2.key"]
    );
    assert_eq!(asg(&format!("min_size: 0\nmax_size: 2\n{template}\nprotect_from_scale_in: yes-please")).unwrap_err().len(), 1);
    assert!(asg(&format!("min_size: ${{param.min}}\nmax_size: 2\ndesired_capacity: 1\n{template}")).is_ok());
}
