//! The EC2 resource types against moto's server: each is created, checked in moto with the raw
//! SDK (attributes and ownership tags), read back, updated, and deleted, through core's
//! `Provider` trait with JSON attributes, as the engine drives it.

use std::collections::BTreeMap;

use crate::support::{decode_yaml, expected_tags, state_of, Subject};
use aws_sdk_ec2::types::{Filter, Tag};
use clawform_aws::AwsProvider;
use clawform_core::Provider;
use clawform_testkit::unique;
use serde_json::json;

/// The provider under test (through `Deref`) and an independent raw SDK client, both pointed at
/// this binary's moto server.
struct Env {
    subject: Subject,
    ec2: aws_sdk_ec2::Client,
}

crate::support::deref_to_subject!(Env);

async fn env() -> Env {
    let config = crate::support::moto_config().await;
    Env { subject: Subject::new(AwsProvider::from_env(None).await, "stack"), ec2: aws_sdk_ec2::Client::new(&config) }
}

impl Env {
    /// A VPC made through the provider, for the types that live in one.
    async fn vpc(&self, address: &str, cidr: &str) -> String {
        self.create("aws_vpc", address, &json!({ "cidr_block": cidr })).await.id
    }
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter().map(|t| (t.key().unwrap().to_string(), t.value().unwrap_or_default().to_string())).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn vpc_create_read_update_delete() {
    let env = env().await;
    let attrs = json!({ "cidr_block": "10.10.0.0/16", "tags": { "Name": "main" } });
    let applied = env.create("aws_vpc", "vpc", &attrs).await;
    let id = applied.id.clone();
    assert!(id.starts_with("vpc-"), "{id}");

    let vpc = env.ec2.describe_vpcs().vpc_ids(&id).send().await.unwrap().vpcs()[0].clone();
    assert_eq!(vpc.cidr_block(), Some("10.10.0.0/16"));
    assert_eq!(tag_map(vpc.tags()), expected_tags(&[("Name", "main")], env.ownership("vpc")));
    let owner = vpc.owner_id().unwrap().to_string();
    assert_eq!(applied.computed["arn"], json!(format!("arn:aws:ec2:us-west-2:{owner}:vpc/{id}")));

    let read = env.read_one("aws_vpc", &id).await.unwrap();
    assert_eq!(read["cidr_block"], json!("10.10.0.0/16"));
    assert_eq!(read["enable_dns_hostnames"], json!(false));
    assert_eq!(read["enable_dns_support"], json!(true));
    assert_eq!(read["tags"], json!({ "Name": "main" }));

    let prior = state_of(&attrs, &applied);
    let new = json!({ "cidr_block": "10.10.0.0/16", "enable_dns_hostnames": true, "tags": { "Name": "main" } });
    env.update("aws_vpc", "vpc", &id, &prior, &new).await;
    let a = env.ec2.describe_vpc_attribute().vpc_id(&id).attribute(aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames).send().await.unwrap();
    assert_eq!(a.enable_dns_hostnames().and_then(|v| v.value()), Some(true));
    assert_eq!(env.read_one("aws_vpc", &id).await.unwrap()["enable_dns_hostnames"], json!(true));

    env.delete_and_check_gone("aws_vpc", "vpc", &id, &new).await;
    let left = env.ec2.describe_vpcs().filters(Filter::builder().name("vpc-id").values(&id).build()).send().await.unwrap();
    assert!(left.vpcs().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn subnet_create_read_update_delete() {
    let env = env().await;
    let vpc = env.vpc("vpc", "10.20.0.0/16").await;
    let attrs = json!({
        "vpc_id": vpc,
        "cidr_block": "10.20.1.0/24",
        "availability_zone": "us-west-2b",
        "tags": { "Name": "public-b", "tier": "public" }
    });
    let applied = env.create("aws_subnet", "public_b", &attrs).await;
    let id = applied.id.clone();

    let subnet = env.ec2.describe_subnets().subnet_ids(&id).send().await.unwrap().subnets()[0].clone();
    assert_eq!(subnet.vpc_id(), Some(vpc.as_str()));
    assert_eq!(subnet.cidr_block(), Some("10.20.1.0/24"));
    assert_eq!(subnet.availability_zone(), Some("us-west-2b"));
    assert_eq!(subnet.map_public_ip_on_launch(), Some(false));
    assert_eq!(tag_map(subnet.tags()), expected_tags(&[("Name", "public-b"), ("tier", "public")], env.ownership("public_b")));
    let owner = subnet.owner_id().unwrap().to_string();
    let az_id = subnet.availability_zone_id().unwrap().to_string();
    let arn = format!("arn:aws:ec2:us-west-2:{owner}:subnet/{id}");
    assert_eq!(applied.computed["arn"], json!(arn));
    assert_eq!(applied.computed["owner_id"], json!(owner));
    assert_eq!(applied.computed["availability_zone_id"], json!(az_id));

    let read = env.read_one("aws_subnet", &id).await.unwrap();
    assert_eq!(
        read,
        json!({
            "id": id, "vpc_id": vpc, "cidr_block": "10.20.1.0/24", "availability_zone": "us-west-2b",
            "map_public_ip_on_launch": false, "tags": { "Name": "public-b", "tier": "public" },
            "arn": arn, "owner_id": owner, "availability_zone_id": az_id
        })
    );

    let prior = state_of(&attrs, &applied);
    let new = json!({
        "vpc_id": vpc, "cidr_block": "10.20.1.0/24", "availability_zone": "us-west-2b",
        "map_public_ip_on_launch": true, "tags": { "Name": "public-b2" }
    });
    env.update("aws_subnet", "public_b", &id, &prior, &new).await;
    let subnet = env.ec2.describe_subnets().subnet_ids(&id).send().await.unwrap().subnets()[0].clone();
    assert_eq!(subnet.map_public_ip_on_launch(), Some(true));
    assert_eq!(tag_map(subnet.tags()), expected_tags(&[("Name", "public-b2")], env.ownership("public_b")));
    let read = env.read_one("aws_subnet", &id).await.unwrap();
    assert_eq!(read["map_public_ip_on_launch"], json!(true));
    assert_eq!(read["tags"], json!({ "Name": "public-b2" }));

    env.delete_and_check_gone("aws_subnet", "public_b", &id, &new).await;
    let left = env.ec2.describe_subnets().filters(Filter::builder().name("subnet-id").values(&id).build()).send().await.unwrap();
    assert!(left.subnets().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn subnet_created_public_and_read_in_one_batch() {
    let env = env().await;
    let vpc = env.vpc("vpc", "10.21.0.0/16").await;
    let a = env.create("aws_subnet", "a", &json!({ "vpc_id": vpc, "cidr_block": "10.21.1.0/24", "map_public_ip_on_launch": true })).await;
    let b = env.create("aws_subnet", "b", &json!({ "vpc_id": vpc, "cidr_block": "10.21.2.0/24" })).await;
    let subnet = env.ec2.describe_subnets().subnet_ids(&a.id).send().await.unwrap().subnets()[0].clone();
    assert_eq!(subnet.map_public_ip_on_launch(), Some(true));
    // An AZ was picked by AWS and is read back.
    assert!(subnet.availability_zone().unwrap().starts_with("us-west-2"));

    env.provider.delete(&env.ctx("b"), "aws_subnet", &b.id, &json!({})).await.unwrap();
    let ids = vec![b.id.clone(), a.id.clone(), "subnet-0123456789abcdef0".to_string()];
    let read = env.provider.read("aws_subnet", &ids).await.unwrap();
    assert_eq!(read.len(), 3);
    assert_eq!(read[0], None, "deleted subnet");
    assert_eq!(read[1].as_ref().unwrap()["cidr_block"], json!("10.21.1.0/24"));
    assert_eq!(read[1].as_ref().unwrap()["map_public_ip_on_launch"], json!(true));
    assert_eq!(read[1].as_ref().unwrap()["availability_zone"], json!(subnet.availability_zone().unwrap()));
    assert_eq!(read[2], None, "never existed");
}

#[tokio::test(flavor = "multi_thread")]
async fn internet_gateway_attach_move_delete() {
    let env = env().await;
    let vpc_a = env.vpc("vpc_a", "10.30.0.0/16").await;
    let vpc_b = env.vpc("vpc_b", "10.31.0.0/16").await;
    let attrs = json!({ "vpc_id": vpc_a, "tags": { "Name": "igw" } });
    let applied = env.create("aws_internet_gateway", "igw", &attrs).await;
    let id = applied.id.clone();
    assert!(id.starts_with("igw-"), "{id}");

    let attached_to = |igw: &aws_sdk_ec2::types::InternetGateway| igw.attachments().iter().map(|a| a.vpc_id().unwrap().to_string()).collect::<Vec<_>>();
    let igw = env.ec2.describe_internet_gateways().internet_gateway_ids(&id).send().await.unwrap().internet_gateways()[0].clone();
    assert_eq!(attached_to(&igw), vec![vpc_a.clone()]);
    assert_eq!(tag_map(igw.tags()), expected_tags(&[("Name", "igw")], env.ownership("igw")));
    let owner = igw.owner_id().unwrap().to_string();
    let arn = format!("arn:aws:ec2:us-west-2:{owner}:internet-gateway/{id}");
    assert_eq!(applied.computed["arn"], json!(arn));

    let read = env.read_one("aws_internet_gateway", &id).await.unwrap();
    assert_eq!(read, json!({ "id": id, "vpc_id": vpc_a, "tags": { "Name": "igw" }, "arn": arn, "owner_id": owner }));

    // Move to another VPC: detach from the old, attach to the new.
    let prior = state_of(&attrs, &applied);
    let moved = json!({ "vpc_id": vpc_b, "tags": { "Name": "igw" } });
    env.update("aws_internet_gateway", "igw", &id, &prior, &moved).await;
    let igw = env.ec2.describe_internet_gateways().internet_gateway_ids(&id).send().await.unwrap().internet_gateways()[0].clone();
    assert_eq!(attached_to(&igw), vec![vpc_b.clone()]);
    assert_eq!(env.read_one("aws_internet_gateway", &id).await.unwrap()["vpc_id"], json!(vpc_b));

    // Detach entirely: the read then has no vpc_id, like the struct.
    let detached = json!({ "tags": { "Name": "igw" } });
    env.update("aws_internet_gateway", "igw", &id, &moved, &detached).await;
    let igw = env.ec2.describe_internet_gateways().internet_gateway_ids(&id).send().await.unwrap().internet_gateways()[0].clone();
    assert!(attached_to(&igw).is_empty());
    assert_eq!(env.read_one("aws_internet_gateway", &id).await.unwrap().get("vpc_id"), None);

    // Attached again, then deleted: delete must detach first (AWS and moto refuse otherwise).
    env.update("aws_internet_gateway", "igw", &id, &detached, &moved).await;
    env.delete_and_check_gone("aws_internet_gateway", "igw", &id, &moved).await;
    let left = env.ec2.describe_internet_gateways().filters(Filter::builder().name("attachment.vpc-id").values(&vpc_b).build()).send().await.unwrap();
    assert!(left.internet_gateways().is_empty(), "vpc_b still has a gateway");
}

/// A NAT gateway made with the raw SDK, as a second route target.
async fn nat_gateway(env: &Env, subnet: &str) -> String {
    let eip = env.ec2.allocate_address().domain(aws_sdk_ec2::types::DomainType::Vpc).send().await.unwrap();
    let nat = env.ec2.create_nat_gateway().subnet_id(subnet).allocation_id(eip.allocation_id().unwrap()).send().await.unwrap();
    nat.nat_gateway().unwrap().nat_gateway_id().unwrap().to_string()
}

/// The routes in moto other than `local`, as (destination, gateway, NAT gateway), sorted.
async fn routes_in_moto(env: &Env, table: &str) -> Vec<(String, Option<String>, Option<String>)> {
    let out = env.ec2.describe_route_tables().route_table_ids(table).send().await.unwrap();
    let mut routes: Vec<_> = out.route_tables()[0]
        .routes()
        .iter()
        .filter(|r| r.gateway_id() != Some("local"))
        .map(|r| (r.destination_cidr_block().unwrap().to_string(), r.gateway_id().map(str::to_string), r.nat_gateway_id().map(str::to_string)))
        .collect();
    routes.sort();
    routes
}

#[tokio::test(flavor = "multi_thread")]
async fn route_table_routes_create_replace_delete() {
    let env = env().await;
    let vpc = env.vpc("vpc", "10.40.0.0/16").await;
    let igw = env.create("aws_internet_gateway", "igw", &json!({ "vpc_id": vpc })).await.id;
    let subnet = env.create("aws_subnet", "subnet", &json!({ "vpc_id": vpc, "cidr_block": "10.40.1.0/24" })).await.id;
    let nat = nat_gateway(&env, &subnet).await;

    let attrs = json!({
        "vpc_id": vpc,
        "route": [
            { "cidr_block": "0.0.0.0/0", "gateway_id": igw },
            { "cidr_block": "172.16.0.0/12", "gateway_id": igw }
        ],
        "tags": { "Name": "public" }
    });
    let applied = env.create("aws_route_table", "rt", &attrs).await;
    let id = applied.id.clone();
    assert!(id.starts_with("rtb-"), "{id}");
    assert_eq!(
        routes_in_moto(&env, &id).await,
        vec![("0.0.0.0/0".to_string(), Some(igw.clone()), None), ("172.16.0.0/12".to_string(), Some(igw.clone()), None)]
    );
    let table = env.ec2.describe_route_tables().route_table_ids(&id).send().await.unwrap().route_tables()[0].clone();
    assert_eq!(table.vpc_id(), Some(vpc.as_str()));
    assert!(table.routes().iter().any(|r| r.gateway_id() == Some("local")), "the VPC's local route is there too");
    assert_eq!(tag_map(table.tags()), expected_tags(&[("Name", "public")], env.ownership("rt")));
    let owner = table.owner_id().unwrap().to_string();
    let arn = format!("arn:aws:ec2:us-west-2:{owner}:route-table/{id}");
    assert_eq!(applied.computed["arn"], json!(arn));

    // Read leaves out the local route.
    let read = env.read_one("aws_route_table", &id).await.unwrap();
    assert_eq!(
        read,
        json!({
            "id": id, "vpc_id": vpc,
            "route": [
                { "cidr_block": "0.0.0.0/0", "gateway_id": igw },
                { "cidr_block": "172.16.0.0/12", "gateway_id": igw }
            ],
            "tags": { "Name": "public" }, "arn": arn, "owner_id": owner
        })
    );

    // Retarget one route (ReplaceRoute), drop one (DeleteRoute), add one (CreateRoute).
    let prior = state_of(&attrs, &applied);
    let new = json!({
        "vpc_id": vpc,
        "route": [
            { "cidr_block": "0.0.0.0/0", "nat_gateway_id": nat },
            { "cidr_block": "192.168.0.0/16", "gateway_id": igw }
        ],
        "tags": { "Name": "private" }
    });
    env.update("aws_route_table", "rt", &id, &prior, &new).await;
    assert_eq!(
        routes_in_moto(&env, &id).await,
        vec![("0.0.0.0/0".to_string(), None, Some(nat.clone())), ("192.168.0.0/16".to_string(), Some(igw.clone()), None)]
    );
    let read = env.read_one("aws_route_table", &id).await.unwrap();
    assert_eq!(read["route"], json!([{ "cidr_block": "0.0.0.0/0", "nat_gateway_id": nat }, { "cidr_block": "192.168.0.0/16", "gateway_id": igw }]));
    assert_eq!(read["tags"], json!({ "Name": "private" }));

    // A table still associated with a subnet is disassociated, then deleted.
    env.ec2.associate_route_table().route_table_id(&id).subnet_id(&subnet).send().await.unwrap();
    env.delete_and_check_gone("aws_route_table", "rt", &id, &new).await;
    let left = env.ec2.describe_route_tables().filters(Filter::builder().name("route-table-id").values(&id).build()).send().await.unwrap();
    assert!(left.route_tables().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn route_table_association_replace_and_delete() {
    let env = env().await;
    let vpc = env.vpc("vpc", "10.50.0.0/16").await;
    let subnet = env.create("aws_subnet", "subnet", &json!({ "vpc_id": vpc, "cidr_block": "10.50.1.0/24" })).await.id;
    let rt1 = env.create("aws_route_table", "rt1", &json!({ "vpc_id": vpc })).await.id;
    let rt2 = env.create("aws_route_table", "rt2", &json!({ "vpc_id": vpc })).await.id;

    let associations_of = |table: String| {
        let ec2 = env.ec2.clone();
        async move {
            let out = ec2.describe_route_tables().route_table_ids(table).send().await.unwrap();
            out.route_tables()[0]
                .associations()
                .iter()
                .filter(|a| a.main() != Some(true))
                .map(|a| (a.route_table_association_id().unwrap().to_string(), a.subnet_id().unwrap().to_string()))
                .collect::<Vec<_>>()
        }
    };

    let attrs = json!({ "subnet_id": subnet, "route_table_id": rt1 });
    let applied = env.create("aws_route_table_association", "assoc", &attrs).await;
    let id = applied.id.clone();
    assert!(id.starts_with("rtbassoc-"), "{id}");
    assert_eq!(associations_of(rt1.clone()).await, vec![(id.clone(), subnet.clone())]);
    assert_eq!(env.read_one("aws_route_table_association", &id).await.unwrap(), json!({ "id": id, "subnet_id": subnet, "route_table_id": rt1 }));

    // Moving the subnet to another table gives the association a new id.
    let new = json!({ "subnet_id": subnet, "route_table_id": rt2 });
    let moved = env.update("aws_route_table_association", "assoc", &id, &state_of(&attrs, &applied), &new).await;
    assert_ne!(moved.id, id, "ReplaceRouteTableAssociation returns a new association id");
    assert_eq!(associations_of(rt1.clone()).await, vec![]);
    assert_eq!(associations_of(rt2.clone()).await, vec![(moved.id.clone(), subnet.clone())]);
    assert_eq!(env.read_one("aws_route_table_association", &moved.id).await.unwrap(), json!({ "id": moved.id, "subnet_id": subnet, "route_table_id": rt2 }));
    assert_eq!(env.read_one("aws_route_table_association", &id).await, None, "the old association id is gone");

    env.delete_and_check_gone("aws_route_table_association", "assoc", &moved.id, &new).await;
    assert_eq!(associations_of(rt2.clone()).await, vec![]);
}

/// A group's rules in moto as sorted (protocol, from, to, source, description) entries.
fn entries(perms: &[aws_sdk_ec2::types::IpPermission]) -> Vec<(String, i32, i32, String, String)> {
    let mut out = Vec::new();
    for p in perms {
        let head = (p.ip_protocol().unwrap().to_string(), p.from_port().unwrap_or(0), p.to_port().unwrap_or(0));
        for r in p.ip_ranges() {
            out.push((head.0.clone(), head.1, head.2, r.cidr_ip().unwrap().to_string(), r.description().unwrap_or_default().to_string()));
        }
        for g in p.user_id_group_pairs() {
            out.push((head.0.clone(), head.1, head.2, g.group_id().unwrap().to_string(), g.description().unwrap_or_default().to_string()));
        }
    }
    out.sort();
    out
}

fn entry(protocol: &str, from: i32, to: i32, source: &str, description: &str) -> (String, i32, i32, String, String) {
    (protocol.to_string(), from, to, source.to_string(), description.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn security_group_rules_create_update_delete() {
    let env = env().await;
    let vpc = env.vpc("vpc", "10.60.0.0/16").await;
    let peer_name = unique("peer");
    let peer = env.create("aws_security_group", "peer", &json!({ "name": peer_name, "vpc_id": vpc })).await.id;

    let name = unique("web");
    let attrs = json!({
        "name": name,
        "vpc_id": vpc,
        "ingress": [
            { "from_port": 80, "to_port": 80, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"] },
            { "from_port": 443, "to_port": 443, "protocol": "6", "cidr_blocks": ["10.0.0.0/8"], "security_groups": [peer], "description": "https" }
        ],
        "egress": [
            { "from_port": 0, "to_port": 0, "protocol": "-1", "cidr_blocks": ["10.0.0.0/8"] }
        ],
        "tags": { "Name": "web" }
    });
    let applied = env.create("aws_security_group", "web", &attrs).await;
    let id = applied.id.clone();
    assert!(id.starts_with("sg-"), "{id}");

    let group = env.ec2.describe_security_groups().group_ids(&id).send().await.unwrap().security_groups()[0].clone();
    assert_eq!(group.group_name(), Some(name.as_str()));
    assert_eq!(group.description(), Some("Managed by clawform"));
    assert_eq!(group.vpc_id(), Some(vpc.as_str()));
    assert_eq!(tag_map(group.tags()), expected_tags(&[("Name", "web")], env.ownership("web")));
    assert_eq!(
        entries(group.ip_permissions()),
        vec![entry("tcp", 80, 80, "0.0.0.0/0", ""), entry("tcp", 443, 443, "10.0.0.0/8", "https"), entry("tcp", 443, 443, &peer, "https")]
    );
    // The allow-all egress AWS adds was revoked: only the declared rule is left.
    assert_eq!(entries(group.ip_permissions_egress()), vec![entry("-1", 0, 0, "10.0.0.0/8", "")]);
    let peer_group = env.ec2.describe_security_groups().group_ids(&peer).send().await.unwrap().security_groups()[0].clone();
    assert!(peer_group.ip_permissions_egress().is_empty(), "a group declared with no egress has none");

    let owner = group.owner_id().unwrap().to_string();
    let arn = format!("arn:aws:ec2:us-west-2:{owner}:security-group/{id}");
    assert_eq!(applied.computed["arn"], json!(arn));
    assert_eq!(applied.computed["owner_id"], json!(owner));

    // Read groups entries by protocol, ports and description; protocol `6` reads back as `tcp`.
    let read = env.read_one("aws_security_group", &id).await.unwrap();
    assert_eq!(
        read,
        json!({
            "id": id, "name": name, "description": "Managed by clawform", "vpc_id": vpc,
            "ingress": [
                { "from_port": 80, "to_port": 80, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"] },
                { "from_port": 443, "to_port": 443, "protocol": "tcp", "cidr_blocks": ["10.0.0.0/8"], "security_groups": [peer], "description": "https" }
            ],
            "egress": [
                { "from_port": 0, "to_port": 0, "protocol": "-1", "cidr_blocks": ["10.0.0.0/8"] }
            ],
            "tags": { "Name": "web" }, "arn": arn, "owner_id": owner
        })
    );

    // Drop port 80, change the https description, add DNS over UDP and an egress rule.
    let prior = state_of(&attrs, &applied);
    let new = json!({
        "name": name,
        "vpc_id": vpc,
        "ingress": [
            { "from_port": 443, "to_port": 443, "protocol": "tcp", "cidr_blocks": ["10.0.0.0/8"], "security_groups": [peer], "description": "tls" },
            { "from_port": 53, "to_port": 53, "protocol": "udp", "cidr_blocks": ["10.60.0.0/16"] }
        ],
        "egress": [
            { "from_port": 0, "to_port": 0, "protocol": "-1", "cidr_blocks": ["10.0.0.0/8"] },
            { "from_port": 443, "to_port": 443, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"] }
        ],
        "tags": { "Name": "web", "team": "edge" }
    });
    env.update("aws_security_group", "web", &id, &prior, &new).await;
    let group = env.ec2.describe_security_groups().group_ids(&id).send().await.unwrap().security_groups()[0].clone();
    assert_eq!(
        entries(group.ip_permissions()),
        vec![entry("tcp", 443, 443, "10.0.0.0/8", "tls"), entry("tcp", 443, 443, &peer, "tls"), entry("udp", 53, 53, "10.60.0.0/16", "")]
    );
    assert_eq!(entries(group.ip_permissions_egress()), vec![entry("-1", 0, 0, "10.0.0.0/8", ""), entry("tcp", 443, 443, "0.0.0.0/0", "")]);
    assert_eq!(tag_map(group.tags()), expected_tags(&[("Name", "web"), ("team", "edge")], env.ownership("web")));
    let read = env.read_one("aws_security_group", &id).await.unwrap();
    assert_eq!(
        read["ingress"],
        json!([
            { "from_port": 53, "to_port": 53, "protocol": "udp", "cidr_blocks": ["10.60.0.0/16"] },
            { "from_port": 443, "to_port": 443, "protocol": "tcp", "cidr_blocks": ["10.0.0.0/8"], "security_groups": [peer], "description": "tls" }
        ])
    );

    env.delete_and_check_gone("aws_security_group", "web", &id, &new).await;
    let left = env.ec2.describe_security_groups().filters(Filter::builder().name("group-id").values(&id).build()).send().await.unwrap();
    assert!(left.security_groups().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn security_group_failed_rules_leave_no_group() {
    let env = env().await;
    let vpc = env.vpc("vpc", "10.61.0.0/16").await;
    let name = unique("broken");
    let attrs = json!({
        "name": name,
        "vpc_id": vpc,
        "ingress": [{ "from_port": 22, "to_port": 22, "protocol": "tcp", "security_groups": ["sg-0000000000000dead"] }]
    });
    let err = env.provider.create(&env.ctx("broken"), "aws_security_group", &attrs).await.expect_err("a rule naming a missing group must fail");
    assert!(err.message.contains("AuthorizeSecurityGroupIngress"), "{err}");
    let left = env
        .ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(&vpc).build())
        .filters(Filter::builder().name("group-name").values(&name).build())
        .send()
        .await
        .unwrap();
    assert!(left.security_groups().is_empty(), "the half-created group was left behind");
}

#[test]
fn stacks_refuse_bad_ec2_attributes_at_load() {
    let decode = decode_yaml;
    assert_eq!(decode("aws_subnet", "vpc_id: vpc-1\ncidr_block: 10.0.0.0/29").unwrap_err(), vec!["cidr_block"]);
    assert_eq!(decode("aws_subnet", "vpc_id: vpc-1\ncidr_block: 10.0.0.1/24").unwrap_err(), vec!["cidr_block"]);
    assert_eq!(
        decode(
            "aws_route_table",
            "vpc_id: vpc-1\nroute:\n  - cidr_block: 0.0.0.0/0\n  - cidr_block: 0.0.0.0/0\n    gateway_id: igw-1\n    nat_gateway_id: nat-1"
        )
        .unwrap_err(),
        vec!["route.0", "route.1.cidr_block", "route.1"]
    );
    let sg = |rule: &str| decode("aws_security_group", &format!("name: web\nvpc_id: vpc-1\ningress:\n  - {rule}"));
    assert_eq!(sg("{from_port: 80, to_port: 70000, protocol: tcp, cidr_blocks: [0.0.0.0/0]}").unwrap_err(), vec!["ingress.0.to_port"]);
    assert_eq!(sg("{from_port: 90, to_port: 80, protocol: tcp, cidr_blocks: [0.0.0.0/0]}").unwrap_err(), vec!["ingress.0.to_port"]);
    assert_eq!(sg("{from_port: 80, to_port: 80, protocol: http, cidr_blocks: [0.0.0.0/0]}").unwrap_err(), vec!["ingress.0.protocol"]);
    assert_eq!(sg("{from_port: 80, to_port: 80, protocol: '-1', cidr_blocks: [0.0.0.0/0]}").unwrap_err(), vec!["ingress.0.from_port", "ingress.0.to_port"]);
    assert_eq!(sg("{from_port: 80, to_port: 80, protocol: tcp, cidr_blocks: [10.0.0.0/33]}").unwrap_err(), vec!["ingress.0.cidr_blocks.0"]);
    assert_eq!(sg("{from_port: 80, to_port: 80, protocol: tcp}").unwrap_err(), vec!["ingress.0"]);
    // `6` is `tcp`: the same source twice for the same ports is refused, whatever the description.
    assert_eq!(
        decode("aws_security_group", "name: web\nvpc_id: vpc-1\ningress:\n  - {from_port: 80, to_port: 80, protocol: tcp, cidr_blocks: [10.0.0.0/8]}\n  - {from_port: 80, to_port: 80, protocol: '6', cidr_blocks: [10.0.0.0/8], description: again}").unwrap_err(),
        vec!["ingress.1"]
    );
    // ICMP echo request: type 8, code 0, so from_port > to_port is right there.
    let ok = sg("{from_port: 8, to_port: 0, protocol: icmp, cidr_blocks: [0.0.0.0/0]}").unwrap();
    assert_eq!(ok["description"], json!("Managed by clawform"), "the default description is part of the canonical attributes");
    assert_eq!(decode("aws_security_group", "name: sg-web\nvpc_id: vpc-1").unwrap_err(), vec!["name"]);
    assert_eq!(decode("aws_route_table_association", "subnet_id: subnet-1\nroute_table_id: rtb-1\ntags: {a: b}").unwrap_err(), vec!["tags"]);
}
