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
