//! The provider against the testkit's AWS behaviour layer (`clawform_testkit::aws_behaviour`):
//! what real AWS does that moto does not, one behaviour at a time.

use crate::support::behind_layer;
use clawform_core::{OpContext, Provider};
use clawform_testkit::{unique, Behaviour, BehaviourConfig};
use serde_json::json;

/// The journal's token, as the run after a crash sends it again (no leftover search: the same
/// as a retry the SDK makes within one call after a lost answer).
fn with_token(ctx: OpContext, token: &str) -> OpContext {
    OpContext { leftover_possible: false, client_token: Some(token.into()), ..ctx }
}

#[tokio::test]
async fn creates_with_the_journal_token_get_what_the_first_request_made() {
    let (layer, s) = behind_layer(BehaviourConfig::none().with(Behaviour::ClientTokens), "tokens").await;
    let vpc = s.create("aws_vpc", "vpc", &json!({ "cidr_block": "10.90.0.0/16" })).await.id;
    let subnet = s.create("aws_subnet", "subnet", &json!({ "vpc_id": vpc, "cidr_block": "10.90.1.0/24" })).await.id;
    let eip = s.create("aws_eip", "eip", &json!({})).await.id;
    let template = unique("tokens-lt");
    for (type_name, address, body) in [
        ("aws_route_table", "routes", json!({ "vpc_id": vpc })),
        ("aws_nat_gateway", "nat", json!({ "subnet_id": subnet, "allocation_id": eip })),
        ("aws_launch_template", "template", json!({ "name": template, "image_id": "ami-0123456789abcdef0", "instance_type": "t3.micro" })),
    ] {
        let ctx = with_token(s.ctx(address), &format!("{:0>32}", address.len()));
        let first = s.provider.create(&ctx, type_name, &body).await.unwrap_or_else(|e| panic!("{type_name}: {e}"));
        let again = s.provider.create(&ctx, type_name, &body).await.unwrap_or_else(|e| panic!("{type_name} again: {e}"));
        assert_eq!(again.id, first.id, "{type_name}: one resource for one token");
    }
    assert_eq!(layer.fired().get(&Behaviour::ClientTokens), Some(&3), "AWS answered each second create with the first one's resource");
}

#[tokio::test]
async fn a_token_sent_again_with_other_parameters_is_replaced_by_a_fresh_one() {
    let (layer, s) = behind_layer(BehaviourConfig::none().with(Behaviour::ClientTokens), "tokens").await;
    let vpc = s.create("aws_vpc", "vpc", &json!({ "cidr_block": "10.91.0.0/16" })).await.id;
    let other = s.create("aws_vpc", "other", &json!({ "cidr_block": "10.92.0.0/16" })).await.id;
    let ctx = with_token(s.ctx("routes"), "abcdefabcdefabcdefabcdefabcdefab");
    // A first create that failed after AWS took the token, then a plan with another VPC.
    let first = s.provider.create(&ctx, "aws_route_table", &json!({ "vpc_id": vpc })).await.expect("a route table");
    let second = s.provider.create(&ctx, "aws_route_table", &json!({ "vpc_id": other })).await.expect("a route table in the other VPC");
    assert_ne!(second.id, first.id);
    assert_eq!(s.read_one("aws_route_table", &second.id).await.expect("it exists")["vpc_id"], json!(other));
    assert!(layer.log().iter().any(|f| f.detail.starts_with("IdempotentParameterMismatch")), "{:?}", layer.log());
}

/// How often `behaviour` fired.
fn fired(layer: &clawform_testkit::BehaviourProxy, behaviour: Behaviour) -> u64 {
    layer.fired().get(&behaviour).copied().unwrap_or(0)
}

#[tokio::test]
async fn a_nat_gateway_made_before_the_internet_gateway_fails_with_awss_reason() {
    let (layer, s) = behind_layer(BehaviourConfig::none().with(Behaviour::NatGatewayFailed), "natfail").await;
    let vpc = s.create("aws_vpc", "vpc", &json!({ "cidr_block": "10.80.0.0/16" })).await.id;
    let subnet = s.create("aws_subnet", "subnet", &json!({ "vpc_id": vpc, "cidr_block": "10.80.1.0/24" })).await.id;
    let eip = s.create("aws_eip", "eip", &json!({})).await.id;
    let err = s.try_create("aws_nat_gateway", "nat", &json!({ "subnet_id": subnet, "allocation_id": eip })).await.expect_err("no internet gateway");
    assert!(err.message.contains("Gateway.NotAttached") && err.message.contains("has no Internet gateway attached"), "{err}");
    assert_eq!(fired(&layer, Behaviour::NatGatewayFailed), 1);
}

#[tokio::test]
async fn an_autoscaling_group_waits_for_its_new_instance_profile_to_be_seen() {
    let (layer, s) = behind_layer(
        BehaviourConfig { min_window: std::time::Duration::from_secs(2), ..BehaviourConfig::none().with(Behaviour::IamInstanceProfile) },
        "profile",
    )
    .await;
    let vpc = s.create("aws_vpc", "vpc", &json!({ "cidr_block": "10.81.0.0/16" })).await.id;
    let subnet = s.create("aws_subnet", "subnet", &json!({ "vpc_id": vpc, "cidr_block": "10.81.1.0/24", "availability_zone": "us-west-2a" })).await.id;
    let lt = s
        .create("aws_launch_template", "lt", &json!({ "name": unique("profile-lt"), "image_id": "ami-0123456789abcdef0", "instance_type": "t3.micro" }))
        .await
        .id;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role = unique("profile-role");
    s.create("aws_iam_role", "role", &json!({ "name": role, "assume_role_policy": policy })).await;
    s.create("aws_iam_instance_profile", "profile", &json!({ "name": unique("profile"), "role": role })).await;
    let group = json!({ "name": unique("group"), "min_size": 0, "max_size": 1, "vpc_zone_identifier": [subnet], "launch_template": [{ "id": lt }] });
    s.create("aws_autoscaling_group", "asg", &group).await;
    assert!(fired(&layer, Behaviour::IamInstanceProfile) >= 1, "AWS refused at first: {:?}", layer.fired());
}

#[tokio::test]
async fn capacity_providers_wait_for_the_new_cluster_to_be_active() {
    let (layer, s) = behind_layer(
        BehaviourConfig { min_window: std::time::Duration::from_secs(2), ..BehaviourConfig::none().with(Behaviour::EcsClusterNotActive) },
        "active",
    )
    .await;
    let name = unique("cluster");
    s.create("aws_ecs_cluster", "cluster", &json!({ "name": name })).await;
    let attached = json!({ "cluster_name": name, "capacity_providers": ["FARGATE"], "default_capacity_provider_strategy": [{ "capacity_provider": "FARGATE", "weight": 1, "base": 0 }] });
    s.create("aws_ecs_cluster_capacity_providers", "ccp", &attached).await;
    assert!(fired(&layer, Behaviour::EcsClusterNotActive) >= 1, "AWS refused at first: {:?}", layer.fired());
}

#[tokio::test]
async fn reads_beyond_the_bucket_are_throttled_and_retried_until_they_succeed() {
    // ECS reads: 50 tokens, 20 a second (scaled ×100 here).
    let (layer, s) = behind_layer(BehaviourConfig { scale: 0.05, ..BehaviourConfig::none().with(Behaviour::Throttling) }, "throttle").await;
    let cluster = s.create("aws_ecs_cluster", "cluster", &json!({ "name": unique("busy") })).await.id;
    let reads = (0..120).map(|_| s.provider.read("aws_ecs_cluster", std::slice::from_ref(&cluster)));
    for read in futures::future::join_all(reads).await {
        assert!(read.expect("every read gets through").first().is_some_and(Option::is_some));
    }
    assert!(fired(&layer, Behaviour::Throttling) > 0, "the burst was throttled: {:?}", layer.throttled());
}
