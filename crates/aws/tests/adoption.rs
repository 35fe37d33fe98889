//! Creates that meet their own leftover. A run killed right after a create leaves a resource
//! that state does not know; the next run's create gets AWS's "already exists". For types with a
//! unique name, that answer is never an error when the resource carries this very resource's
//! ownership tags: it is adopted and brought to what is desired. Someone else's resource is
//! refused, naming whose it is and how to import it.

use crate::support::Subject;
use clawform_aws::AwsProvider;
use clawform_testkit::unique;
use serde_json::{json, Value as Json};

async fn subject() -> Subject {
    crate::support::moto_config().await;
    Subject::new(AwsProvider::from_env(None).await, "adopt")
}

/// Creates `first` at `address`, then creates `again` at the same address (what the next run
/// does after a crash): the same resource must come back, brought to `again`. A create of the
/// same name from another address is refused with the way to import it. Returns the adopted
/// resource as read.
async fn adopts_its_own_and_refuses_others(s: &Subject, type_name: &str, first: &Json, again: &Json) -> Json {
    let made = s.create(type_name, "leftover", first).await;
    let adopted = s.try_create(type_name, "leftover", again).await.unwrap_or_else(|e| panic!("{type_name}: the leftover was not adopted: {e}"));
    assert_eq!(adopted.id, made.id, "{type_name}: the same resource, not a second one");
    let read = s.read_one(type_name, &adopted.id).await.expect("still there");
    for key in ["arn", "unique_id"] {
        if let Some(arn) = made.computed.get(key) {
            assert_eq!(adopted.computed.get(key), Some(arn), "{type_name}: the adoption records `{key}` as a create would");
        }
    }
    let err = s.try_create(type_name, "another", again).await.expect_err("someone else's name is refused");
    assert!(err.message.contains(&format!("`leftover` of clawform stack `{}`", s.stack)), "{type_name}: {err}");
    assert!(err.message.contains(&format!("clawform import {} another {}", s.stack, made.id)), "{type_name}: {err}");
    read
}

#[tokio::test]
async fn an_ecr_repository_left_by_a_crash_is_adopted() {
    let s = subject().await;
    let name = unique("repo");
    let read = adopts_its_own_and_refuses_others(
        &s,
        "aws_ecr_repository",
        &json!({ "name": name, "image_tag_mutability": "MUTABLE" }),
        &json!({ "name": name, "image_tag_mutability": "IMMUTABLE", "tags": { "Team": "gw" } }),
    )
    .await;
    assert_eq!(read["image_tag_mutability"], json!("IMMUTABLE"), "brought to what is desired: {read}");
    assert_eq!(read["tags"], json!({ "Team": "gw" }), "{read}");
}

#[tokio::test]
async fn an_instance_profile_left_before_its_role_was_added_is_adopted_and_gets_the_role() {
    let s = subject().await;
    let role = unique("role");
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    s.create("aws_iam_role", "role", &json!({ "name": role, "assume_role_policy": policy })).await;
    let name = unique("profile");
    // The crash came between CreateInstanceProfile and AddRoleToInstanceProfile: no role yet.
    let read = adopts_its_own_and_refuses_others(&s, "aws_iam_instance_profile", &json!({ "name": name }), &json!({ "name": name, "role": role })).await;
    assert_eq!(read["role"], json!(role), "{read}");
}

#[tokio::test]
async fn a_launch_template_left_by_a_crash_is_adopted() {
    let s = subject().await;
    let name = unique("lt");
    let read = adopts_its_own_and_refuses_others(
        &s,
        "aws_launch_template",
        &json!({ "name": name, "image_id": "ami-0123456789abcdef0", "instance_type": "t3.micro" }),
        &json!({ "name": name, "image_id": "ami-0123456789abcdef0", "instance_type": "t3.small" }),
    )
    .await;
    assert_eq!(read["instance_type"], json!("t3.small"), "{read}");
}

#[tokio::test]
async fn an_autoscaling_group_left_by_a_crash_is_adopted() {
    let s = subject().await;
    let vpc = s.create("aws_vpc", "vpc", &json!({ "cidr_block": "10.91.0.0/16" })).await.id;
    let subnet = s.create("aws_subnet", "subnet", &json!({ "vpc_id": vpc, "cidr_block": "10.91.1.0/24", "availability_zone": "us-west-2a" })).await.id;
    let lt =
        s.create("aws_launch_template", "lt", &json!({ "name": unique("asg-lt"), "image_id": "ami-0123456789abcdef0", "instance_type": "t3.micro" })).await.id;
    let name = unique("group");
    let group = |max: u32| json!({ "name": name, "min_size": 0, "max_size": max, "vpc_zone_identifier": [subnet], "launch_template": [{ "id": lt }] });
    let read = adopts_its_own_and_refuses_others(&s, "aws_autoscaling_group", &group(2), &group(5)).await;
    assert_eq!(read["max_size"], json!(5), "{read}");
}

#[tokio::test]
async fn an_elastic_ip_left_by_a_crash_is_found_by_its_tags_not_allocated_twice() {
    let s = subject().await;
    let ec2 = aws_sdk_ec2::Client::new(&crate::support::moto_config().await);
    let made = s.create("aws_eip", "nat_eip", &json!({ "domain": "vpc" })).await;
    // The next run does not know it (its answer was lost): the journal says a leftover is possible.
    let again = s.create("aws_eip", "nat_eip", &json!({ "domain": "vpc", "tags": { "Name": "nat" } })).await;
    assert_eq!(again.id, made.id, "the address made before is adopted, not a second one allocated");
    let owned =
        ec2.describe_addresses().filters(aws_sdk_ec2::types::Filter::builder().name("tag:clawform:stack").values(&s.stack).build()).send().await.unwrap();
    assert_eq!(owned.addresses().len(), 1, "one address for the stack: {:?}", owned.addresses());
    assert_eq!(s.read_one("aws_eip", &made.id).await.unwrap()["tags"], json!({ "Name": "nat" }), "brought to what is desired");
    // When the journal proves nothing was left, no look is made and a create allocates.
    let ctx = clawform_core::OpContext { leftover_possible: false, ..s.ctx("other_eip") };
    let other = clawform_core::Provider::create(&s.provider, &ctx, "aws_eip", &json!({ "domain": "vpc" })).await.unwrap();
    assert_ne!(other.id, made.id);
}

#[tokio::test]
async fn a_listener_left_by_a_crash_is_found_by_its_port_and_tags() {
    let s = subject().await;
    let vpc = s.create("aws_vpc", "vpc", &json!({ "cidr_block": "10.92.0.0/16" })).await.id;
    let a = s.create("aws_subnet", "a", &json!({ "vpc_id": vpc, "cidr_block": "10.92.1.0/24", "availability_zone": "us-west-2a" })).await.id;
    let b = s.create("aws_subnet", "b", &json!({ "vpc_id": vpc, "cidr_block": "10.92.2.0/24", "availability_zone": "us-west-2b" })).await.id;
    let lb = s.create("aws_lb", "alb", &json!({ "name": unique("lsn").chars().take(32).collect::<String>(), "subnets": [a, b] })).await.id;
    let listener = |body: &str| {
        json!({ "load_balancer_arn": lb, "port": 80, "protocol": "HTTP",
                "default_action": [{ "type": "fixed-response", "fixed_response": [{ "content_type": "text/plain", "message_body": body, "status_code": "404" }] }] })
    };
    let made = s.create("aws_lb_listener", "http", &listener("not here")).await;
    let again = s.create("aws_lb_listener", "http", &listener("still not here")).await;
    assert_eq!(again.id, made.id, "the listener on port 80 made before is adopted");
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&crate::support::moto_config().await);
    let listeners = elbv2.describe_listeners().load_balancer_arn(&lb).send().await.unwrap();
    assert_eq!(listeners.listeners().len(), 1, "one port-80 listener, not two");
}

#[tokio::test]
async fn a_subnet_whose_create_answer_was_lost_is_recognised_by_its_cidr_and_tags() {
    let s = subject().await;
    let vpc = s.create("aws_vpc", "vpc", &json!({ "cidr_block": "10.93.0.0/16" })).await.id;
    // A crash: the next run's journal says a leftover is possible; the other address's create
    // meets the CIDR conflict and is refused with the way to import.
    adopts_its_own_and_refuses_others(
        &s,
        "aws_subnet",
        &json!({ "vpc_id": vpc, "cidr_block": "10.93.1.0/24" }),
        &json!({ "vpc_id": vpc, "cidr_block": "10.93.1.0/24", "tags": { "Name": "a" } }),
    )
    .await;
    // A lost answer retried in the same run (no journal hint): AWS answers that the CIDR
    // conflicts, and the subnet found there carries this resource's tags: it is adopted.
    let first = s.create("aws_subnet", "retried", &json!({ "vpc_id": vpc, "cidr_block": "10.93.2.0/24" })).await;
    let ctx = clawform_core::OpContext { leftover_possible: false, ..s.ctx("retried") };
    let again = clawform_core::Provider::create(&s.provider, &ctx, "aws_subnet", &json!({ "vpc_id": vpc, "cidr_block": "10.93.2.0/24" }))
        .await
        .expect("its own subnet is recognised, not a conflict");
    assert_eq!(again.id, first.id);
}

#[tokio::test]
async fn ec2_resources_left_by_a_crash_are_found_by_their_tags_not_made_twice() {
    let s = subject().await;
    let ec2 = aws_sdk_ec2::Client::new(&crate::support::moto_config().await);
    let vpc = s.create("aws_vpc", "vpc", &json!({ "cidr_block": "10.94.0.0/16" })).await;
    let again = s.create("aws_vpc", "vpc", &json!({ "cidr_block": "10.94.0.0/16", "tags": { "Name": "v" } })).await;
    assert_eq!(again.id, vpc.id, "the VPC made before is adopted (AWS would make a second one with the same CIDR)");
    let owned = ec2.describe_vpcs().filters(aws_sdk_ec2::types::Filter::builder().name("tag:clawform:stack").values(&s.stack).build()).send().await.unwrap();
    assert_eq!(owned.vpcs().len(), 1, "one VPC for the stack");
    for (type_name, body) in [
        ("aws_internet_gateway", json!({ "vpc_id": vpc.id })),
        ("aws_route_table", json!({ "vpc_id": vpc.id })),
        ("aws_security_group", json!({ "name": unique("left-group"), "description": "left", "vpc_id": vpc.id })),
    ] {
        let made = s.create(type_name, "left", &body).await;
        let again = s.create(type_name, "left", &body).await;
        assert_eq!(again.id, made.id, "{type_name}: adopted, not made twice");
    }
}

#[tokio::test]
async fn a_retried_create_route_that_meets_its_own_route_is_done_not_a_conflict() {
    let s = subject().await;
    let vpc = s.create("aws_vpc", "vpc", &json!({ "cidr_block": "10.95.0.0/16" })).await.id;
    let igw = s.create("aws_internet_gateway", "igw", &json!({ "vpc_id": vpc })).await.id;
    let other = s.create("aws_internet_gateway", "other", &json!({})).await.id;
    let with_route = |gateway: &str| json!({ "vpc_id": vpc, "route": [{ "cidr_block": "0.0.0.0/0", "gateway_id": gateway }] });
    let table = s.create("aws_route_table", "routes", &with_route(&igw)).await.id;
    // State says the route was not added yet (its CreateRoute answer was lost); AWS has it.
    s.update("aws_route_table", "routes", &table, &json!({ "vpc_id": vpc }), &with_route(&igw)).await;
    // The same destination to another target is a real conflict, still refused.
    let err = s.try_update("aws_route_table", "routes", &table, &json!({ "vpc_id": vpc }), &with_route(&other)).await.expect_err("a conflict");
    assert!(err.has_code("RouteAlreadyExists"), "{err}");
}

/// Creates a VPC tagged as `address` of the subject's stack straight through the SDK: what a
/// create whose answer was lost, retried by the SDK or still travelling when its process died,
/// leaves beside the one the run goes on with.
async fn tagged_vpc(s: &Subject, ec2: &aws_sdk_ec2::Client, address: &str, cidr: &str) -> String {
    let tag = |k: &str, v: &str| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build();
    let spec = aws_sdk_ec2::types::TagSpecification::builder()
        .resource_type(aws_sdk_ec2::types::ResourceType::Vpc)
        .tags(tag("clawform:stack", &s.stack))
        .tags(tag("clawform:address", address))
        .build();
    ec2.create_vpc().cidr_block(cidr).tag_specifications(spec).send().await.unwrap().vpc().unwrap().vpc_id().unwrap().to_string()
}

async fn owned_vpcs(s: &Subject, ec2: &aws_sdk_ec2::Client) -> Vec<String> {
    let filter = aws_sdk_ec2::types::Filter::builder().name("tag:clawform:stack").values(&s.stack).build();
    let out = ec2.describe_vpcs().filters(filter).send().await.unwrap();
    let mut ids: Vec<String> = out.vpcs().iter().filter_map(|v| v.vpc_id()).map(str::to_string).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn copies_an_interrupted_run_left_are_deleted_and_one_is_adopted() {
    let s = subject().await;
    let ec2 = aws_sdk_ec2::Client::new(&crate::support::moto_config().await);
    let first = tagged_vpc(&s, &ec2, "vpc", "10.96.0.0/16").await;
    let second = tagged_vpc(&s, &ec2, "vpc", "10.96.0.0/16").await;
    let adopted = s.create("aws_vpc", "vpc", &json!({ "cidr_block": "10.96.0.0/16" })).await;
    assert!([&first, &second].contains(&&adopted.id), "one of the leftovers is adopted, not a third made: {}", adopted.id);
    assert_eq!(owned_vpcs(&s, &ec2).await, vec![adopted.id.clone()], "the other copy is deleted: nothing tagged as `vpc` is left outside state");
}

#[tokio::test]
async fn what_state_still_holds_for_the_address_is_neither_adopted_nor_swept() {
    let s = subject().await;
    let ec2 = aws_sdk_ec2::Client::new(&crate::support::moto_config().await);
    // A create-before-destroy replace: the VPC being replaced carries the same ownership tags.
    let old = s.create("aws_vpc", "vpc", &json!({ "cidr_block": "10.97.0.0/16" })).await.id;
    let ctx = clawform_core::OpContext { keep: vec![old.clone()], ..s.ctx("vpc") };
    let new = clawform_core::Provider::create(&s.provider, &ctx, "aws_vpc", &json!({ "cidr_block": "10.98.0.0/16" })).await.expect("a new VPC");
    assert_ne!(new.id, old, "the VPC state holds is not taken for a leftover");
    let mut both = vec![old, new.id];
    both.sort();
    assert_eq!(owned_vpcs(&s, &ec2).await, both, "and it is not swept away either");
}

#[tokio::test]
async fn task_definition_revisions_left_by_a_killed_rollout_are_adopted_or_deregistered() {
    let s = subject().await;
    let family = unique("family");
    let def = |image: &str| {
        json!({
            "family": family,
            "container_definitions": format!(r#"[{{"name":"app","image":"{image}","memory":128,"essential":true}}]"#),
        })
    };
    // Registered by runs whose journal named no leftover (each the first try of its create).
    let first_try = clawform_core::OpContext { leftover_possible: false, ..s.ctx("task") };
    let register = |image: &str| {
        let (ctx, body) = (first_try.clone(), def(image));
        let provider = &s.provider;
        async move { clawform_core::Provider::create(provider, &ctx, "aws_ecs_task_definition", &body).await.expect("a revision").id }
    };
    let current = register("app:v1").await;
    // Killed mid-rollout to v2, after RegisterTaskDefinition: state still holds v1.
    let left_v2 = register("app:v2").await;
    // Killed again with v3 planned: a revision for v3 left too.
    let left_v3 = register("app:v3").await;
    // The next run plans v3 again: the v3 leftover is adopted, the v2 one deregistered, and
    // the v1 revision state holds (the service runs it until it is updated) is left alone.
    let ctx = clawform_core::OpContext { keep: vec![current.clone()], ..s.ctx("task") };
    let applied = clawform_core::Provider::create(&s.provider, &ctx, "aws_ecs_task_definition", &def("app:v3")).await.expect("the v3 revision");
    assert_eq!(applied.id, left_v3, "the leftover that is what is desired is adopted, no fourth revision registered");
    assert!(s.read_one("aws_ecs_task_definition", &left_v2).await.is_none(), "the leftover that is not what is desired is deregistered");
    assert!(s.read_one("aws_ecs_task_definition", &current).await.is_some(), "what state holds stays");
}

#[tokio::test]
async fn a_log_group_left_by_a_crash_is_adopted() {
    let s = subject().await;
    let name = format!("/clawform/{}", unique("logs"));
    let read = adopts_its_own_and_refuses_others(
        &s,
        "aws_cloudwatch_log_group",
        &json!({ "name": name }),
        &json!({ "name": name, "retention_in_days": 14, "tags": { "Team": "gw" } }),
    )
    .await;
    assert_eq!(read["retention_in_days"], json!(14), "brought to what is desired: {read}");
}
