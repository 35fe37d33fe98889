//! Each behaviour against a real moto server: it fires within its window with AWS's code and
//! message, and the call is served again once the window has passed. Requests are sent raw
//! (moto does not check SigV4 signatures), so the testkit needs no SDK.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::text::tag_value;
use super::*;
use crate::{moto, unique};

/// A layer showing one behaviour, every window lasting `window` (scale 0 leaves only the
/// floor), so that a test waits out a known time.
fn layer(behaviour: Behaviour, window: Duration) -> BehaviourProxy {
    BehaviourProxy::start(&moto().endpoint, BehaviourConfig { scale: 0.0, min_window: window, ..BehaviourConfig::none().with(behaviour) })
}

const WINDOW: Duration = Duration::from_millis(1500);

/// Sleeps until `window` after `opened` (taken once the call that opens the window has been
/// answered, so that it is not before the window's start), and a little more.
fn wait_out(opened: Instant, window: Duration) {
    let end = opened + window + Duration::from_millis(150);
    sleep(end.saturating_duration_since(Instant::now()));
}

struct Reply {
    status: u16,
    body: String,
}

fn send(endpoint: &str, service: &str, target: Option<&str>, body: &str) -> Reply {
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("the layer accepts");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("a read timeout");
    let content_type = if target.is_some() { "application/x-amz-json-1.1" } else { "application/x-www-form-urlencoded; charset=utf-8" };
    let mut head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nAuthorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-west-2/{service}/aws4_request, SignedHeaders=host, Signature=x\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(target) = target {
        head.push_str(&format!("X-Amz-Target: {target}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(body.as_bytes())).expect("the request is sent");
    let mut buffer = Vec::new();
    loop {
        let mut chunk = [0u8; 16 * 1024];
        let n = stream.read(&mut chunk).expect("an answer");
        assert!(n > 0, "the layer closed the connection without answering {body}");
        buffer.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(head_len) = response.parse(&buffer).expect("an HTTP answer") {
            let status = response.code.expect("a status");
            let length: usize = response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())
                .expect("a content-length");
            while buffer.len() < head_len + length {
                let n = stream.read(&mut chunk).expect("the body");
                assert!(n > 0, "the body was cut short");
                buffer.extend_from_slice(&chunk[..n]);
            }
            return Reply { status, body: String::from_utf8_lossy(&buffer[head_len..head_len + length]).into_owned() };
        }
    }
}

fn ec2(endpoint: &str, params: &str) -> Reply {
    send(endpoint, "ec2", None, &format!("{params}&Version=2016-11-15"))
}

fn elb(endpoint: &str, params: &str) -> Reply {
    send(endpoint, "elasticloadbalancing", None, &format!("{params}&Version=2015-12-01"))
}

fn iam(endpoint: &str, params: &str) -> Reply {
    send(endpoint, "iam", None, &format!("{params}&Version=2010-05-08"))
}

fn autoscaling(endpoint: &str, params: &str) -> Reply {
    send(endpoint, "autoscaling", None, &format!("{params}&Version=2011-01-01"))
}

fn ecs(endpoint: &str, action: &str, json: serde_json::Value) -> Reply {
    send(endpoint, "ecs", Some(&format!("AmazonEC2ContainerServiceV20141113.{action}")), &json.to_string())
}

/// Percent-encodes a form value (ARNs, policy documents).
fn enc(value: &str) -> String {
    value.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

impl Reply {
    fn ok(self) -> Reply {
        assert!((200..300).contains(&self.status), "expected success, got {}: {}", self.status, self.body);
        self
    }

    fn xml(&self, tag: &str) -> String {
        tag_value(&self.body, tag).unwrap_or_else(|| panic!("no <{tag}> in {}", self.body)).to_string()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// Asserts an error with AWS's code and message, in the body shape the SDK parses.
    fn error(&self, status: u16, code: &str, message: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        let coded = self.body.contains(&format!("<Code>{code}</Code>")) || self.body.contains(&format!(r#""__type":"{code}""#));
        assert!(coded, "expected {code} in {}", self.body);
        assert!(self.body.contains(message), "expected «{message}» in {}", self.body);
    }
}

struct Network {
    vpc: String,
    subnet: String,
}

fn network(endpoint: &str, second_octet: u8) -> Network {
    let vpc = ec2(endpoint, &format!("Action=CreateVpc&CidrBlock=10.{second_octet}.0.0/16")).ok().xml("vpcId");
    let subnet = ec2(endpoint, &format!("Action=CreateSubnet&VpcId={vpc}&CidrBlock=10.{second_octet}.1.0/24&AvailabilityZone=us-west-2a")).ok().xml("subnetId");
    Network { vpc, subnet }
}

fn attached_gateway(endpoint: &str, vpc: &str) -> String {
    let igw = ec2(endpoint, "Action=CreateInternetGateway").ok().xml("internetGatewayId");
    ec2(endpoint, &format!("Action=AttachInternetGateway&InternetGatewayId={igw}&VpcId={vpc}")).ok();
    igw
}

fn fired(proxy: &BehaviourProxy, behaviour: Behaviour) -> u64 {
    proxy.fired().get(&behaviour).copied().unwrap_or(0)
}

#[test]
fn a_nat_gateway_delete_opens_dependency_violations_until_its_window_ends() {
    let proxy = layer(Behaviour::DependencyViolation, WINDOW);
    let e = &proxy.endpoint;
    let Network { vpc, subnet } = network(e, 20);
    let group = ec2(e, &format!("Action=CreateSecurityGroup&GroupName={}&GroupDescription=x&VpcId={vpc}", unique("sg"))).ok().xml("groupId");
    let igw = attached_gateway(e, &vpc);
    let nat = ec2(e, &format!("Action=CreateNatGateway&SubnetId={subnet}")).ok().xml("natGatewayId");
    assert_eq!(fired(&proxy, Behaviour::DependencyViolation), 0, "nothing is refused before a delete");

    ec2(e, &format!("Action=DeleteNatGateway&NatGatewayId={nat}")).ok();
    let opened = Instant::now();
    ec2(e, &format!("Action=DeleteSecurityGroup&GroupId={group}")).error(400, "DependencyViolation", &format!("resource {group} has a dependent object"));
    ec2(e, &format!("Action=DeleteSubnet&SubnetId={subnet}")).error(
        400,
        "DependencyViolation",
        &format!("The subnet '{subnet}' has dependencies and cannot be deleted."),
    );
    ec2(e, &format!("Action=DetachInternetGateway&InternetGatewayId={igw}&VpcId={vpc}")).error(
        400,
        "DependencyViolation",
        &format!("Network {vpc} has some mapped public address(es). Please unmap those public address(es) before detaching the gateway."),
    );
    ec2(e, &format!("Action=DeleteVpc&VpcId={vpc}")).error(400, "DependencyViolation", &format!("The vpc '{vpc}' has dependencies and cannot be deleted."));
    assert!(opened.elapsed() < WINDOW, "the refusals took longer than the window ({:?}); the test proves nothing", opened.elapsed());
    assert_eq!(fired(&proxy, Behaviour::DependencyViolation), 4);

    wait_out(opened, WINDOW);
    ec2(e, &format!("Action=DeleteSecurityGroup&GroupId={group}")).ok();
    ec2(e, &format!("Action=DetachInternetGateway&InternetGatewayId={igw}&VpcId={vpc}")).ok();
    assert_eq!(fired(&proxy, Behaviour::DependencyViolation), 4, "nothing fires after the window");
}

#[test]
fn terminated_instances_hold_their_security_group_in_use_but_no_public_address() {
    let proxy = layer(Behaviour::DependencyViolation, WINDOW);
    let e = &proxy.endpoint;
    let Network { vpc, subnet } = network(e, 21);
    let group = ec2(e, &format!("Action=CreateSecurityGroup&GroupName={}&GroupDescription=x&VpcId={vpc}", unique("sg"))).ok().xml("groupId");
    let igw = attached_gateway(e, &vpc);
    let instance = ec2(e, &format!("Action=RunInstances&ImageId=ami-12345678&MinCount=1&MaxCount=1&SubnetId={subnet}")).ok().xml("instanceId");

    ec2(e, &format!("Action=TerminateInstances&InstanceId.1={instance}")).ok();
    let opened = Instant::now();
    ec2(e, &format!("Action=DeleteSecurityGroup&GroupId={group}")).error(
        400,
        "InvalidGroup.InUse",
        &format!("There are active instances using security group '{group}'"),
    );
    // An instance's address goes with it; only NAT gateways and load balancers block the detach.
    ec2(e, &format!("Action=DetachInternetGateway&InternetGatewayId={igw}&VpcId={vpc}")).ok();
    assert!(opened.elapsed() < WINDOW, "too slow for the window: {:?}", opened.elapsed());

    wait_out(opened, WINDOW);
    ec2(e, &format!("Action=DeleteSecurityGroup&GroupId={group}")).ok();
    assert_eq!(fired(&proxy, Behaviour::DependencyViolation), 1);
}

#[test]
fn a_new_instance_profile_is_invalid_for_auto_scaling_and_ec2_until_it_propagates() {
    let proxy = layer(Behaviour::IamInstanceProfile, WINDOW);
    let e = &proxy.endpoint;
    let template = unique("lt");
    ec2(e, &format!("Action=CreateLaunchTemplate&LaunchTemplateName={template}&LaunchTemplateData.ImageId=ami-12345678")).ok();
    let group = |name: &str| {
        format!("Action=CreateAutoScalingGroup&AutoScalingGroupName={name}&LaunchTemplate.LaunchTemplateName={template}&MinSize=0&MaxSize=0&AvailabilityZones.member.1=us-west-2a")
    };
    let profile = unique("profile");

    iam(e, &format!("Action=CreateInstanceProfile&InstanceProfileName={profile}")).ok();
    let opened = Instant::now();
    let refused = autoscaling(e, &group(&unique("asg")));
    refused.error(
        400,
        "ValidationError",
        &format!("You must use a valid fully-formed launch template. Value ({profile}) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name"),
    );
    assert!(refused.body.contains("<Type>Sender</Type>"), "awsQuery errors name their sender: {}", refused.body);
    ec2(e, &format!("Action=RunInstances&ImageId=ami-12345678&MinCount=1&MaxCount=1&IamInstanceProfile.Name={profile}")).error(
        400,
        "InvalidParameterValue",
        &format!("Value ({profile}) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name"),
    );
    // An instance without a profile does not wait for one.
    ec2(e, "Action=RunInstances&ImageId=ami-12345678&MinCount=1&MaxCount=1").ok();
    assert!(opened.elapsed() < WINDOW, "too slow for the window: {:?}", opened.elapsed());

    wait_out(opened, WINDOW);
    autoscaling(e, &group(&unique("asg"))).ok();
    assert_eq!(fired(&proxy, Behaviour::IamInstanceProfile), 2);
}

#[test]
fn a_role_just_removed_from_its_profile_cannot_be_deleted_for_a_while() {
    let proxy = layer(Behaviour::IamDeleteConflict, WINDOW);
    let e = &proxy.endpoint;
    let (role, profile) = (unique("role"), unique("profile"));
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    iam(e, &format!("Action=CreateRole&RoleName={role}&AssumeRolePolicyDocument={}", enc(trust))).ok();
    iam(e, &format!("Action=CreateInstanceProfile&InstanceProfileName={profile}")).ok();
    iam(e, &format!("Action=AddRoleToInstanceProfile&InstanceProfileName={profile}&RoleName={role}")).ok();

    iam(e, &format!("Action=RemoveRoleFromInstanceProfile&InstanceProfileName={profile}&RoleName={role}")).ok();
    let opened = Instant::now();
    iam(e, &format!("Action=DeleteRole&RoleName={role}")).error(409, "DeleteConflict", "Cannot delete entity, must remove roles from instance profile first.");
    assert!(opened.elapsed() < WINDOW, "too slow for the window: {:?}", opened.elapsed());

    wait_out(opened, WINDOW);
    iam(e, &format!("Action=DeleteRole&RoleName={role}")).ok();
    assert_eq!(fired(&proxy, Behaviour::IamDeleteConflict), 1);
}

#[test]
fn young_resources_show_their_first_state_until_their_window_ends() {
    let proxy = layer(Behaviour::PendingStates, WINDOW);
    let e = &proxy.endpoint;
    // A VPC made before the layer saw it stays available beside a young one.
    let old = ec2(&moto().endpoint, "Action=CreateVpc&CidrBlock=10.30.0.0/16").ok().xml("vpcId");

    let created = ec2(e, "Action=CreateVpc&CidrBlock=10.31.0.0/16").ok();
    let vpc = created.xml("vpcId");
    // The VPC's own state follows its id; the CIDR block's (`associated`) is left alone.
    let vpc_state = |state: &str| format!("<vpcId>{vpc}</vpcId><state>{state}</state>");
    assert!(created.body.contains(&vpc_state("pending")), "the create's answer shows the first state: {}", created.body);
    let both = ec2(e, &format!("Action=DescribeVpcs&VpcId.1={old}&VpcId.2={vpc}")).ok();
    for item in both.body.split("<item><ownerId>").skip(1) {
        let expected = if item.contains(&vpc) { "<state>pending</state>" } else { "<state>available</state>" };
        assert!(item.contains(expected), "expected {expected} in {item}");
    }

    let subnet = ec2(e, &format!("Action=CreateSubnet&VpcId={vpc}&CidrBlock=10.31.1.0/24&AvailabilityZone=us-west-2a")).ok().xml("subnetId");
    assert_eq!(ec2(e, &format!("Action=DescribeSubnets&SubnetId.1={subnet}")).ok().xml("state"), "pending");

    let igw = attached_gateway(e, &vpc);
    assert_eq!(ec2(e, &format!("Action=DescribeInternetGateways&InternetGatewayId.1={igw}")).ok().xml("state"), "attaching");

    let nat = ec2(e, &format!("Action=CreateNatGateway&SubnetId={subnet}")).ok().xml("natGatewayId");
    assert_eq!(ec2(e, &format!("Action=DescribeNatGateways&NatGatewayId.1={nat}")).ok().xml("state"), "pending");

    let table = ec2(e, &format!("Action=CreateRouteTable&VpcId={vpc}")).ok().xml("routeTableId");
    let associated = ec2(e, &format!("Action=AssociateRouteTable&RouteTableId={table}&SubnetId={subnet}")).ok();
    assert_eq!(associated.xml("state"), "associating");
    let tables = ec2(e, &format!("Action=DescribeRouteTables&RouteTableId.1={table}")).ok();
    assert!(tables.body.contains("<associationState><state>associating</state>"), "{}", tables.body);
    assert!(tables.body.contains("<state>active</state>"), "routes keep their own state: {}", tables.body);

    let arn = elb(e, &format!("Action=CreateLoadBalancer&Name={}&Subnets.member.1={subnet}", unique("lb"))).ok().xml("LoadBalancerArn");
    let balancer = || elb(e, &format!("Action=DescribeLoadBalancers&LoadBalancerArns.member.1={}", enc(&arn))).ok();
    assert_eq!(balancer().xml("Code"), "provisioning");

    let cluster = unique("cluster");
    assert_eq!(ecs(e, "CreateCluster", serde_json::json!({ "clusterName": cluster })).ok().json()["cluster"]["status"], "PROVISIONING");
    let clusters = || ecs(e, "DescribeClusters", serde_json::json!({ "clusters": [cluster] })).ok().json();
    assert_eq!(clusters()["clusters"][0]["status"], "PROVISIONING");
    let last_created = Instant::now();
    let rewritten = fired(&proxy, Behaviour::PendingStates);
    assert_eq!(rewritten, 12);

    wait_out(last_created, WINDOW);
    assert!(ec2(e, &format!("Action=DescribeVpcs&VpcId.1={vpc}")).ok().body.contains(&vpc_state("available")));
    assert_eq!(ec2(e, &format!("Action=DescribeSubnets&SubnetId.1={subnet}")).ok().xml("state"), "available");
    assert_eq!(ec2(e, &format!("Action=DescribeInternetGateways&InternetGatewayId.1={igw}")).ok().xml("state"), "available");
    assert_eq!(ec2(e, &format!("Action=DescribeNatGateways&NatGatewayId.1={nat}")).ok().xml("state"), "available");
    assert!(ec2(e, &format!("Action=DescribeRouteTables&RouteTableId.1={table}")).ok().body.contains("<associationState><state>associated</state>"));
    assert_eq!(balancer().xml("Code"), "active");
    assert_eq!(clusters()["clusters"][0]["status"], "ACTIVE");
    assert_eq!(fired(&proxy, Behaviour::PendingStates), rewritten, "nothing is rewritten after the windows");
}

#[test]
fn new_gateways_tables_and_groups_are_not_found_at_first() {
    let proxy = layer(Behaviour::NotYetVisible, WINDOW);
    let e = &proxy.endpoint;
    let Network { vpc, subnet } = network(e, 40);

    let group = ec2(e, &format!("Action=CreateSecurityGroup&GroupName={}&GroupDescription=x&VpcId={vpc}", unique("sg"))).ok().xml("groupId");
    let group_missing = format!("The security group '{group}' does not exist");
    ec2(e, &format!("Action=DescribeSecurityGroups&GroupId.1={group}")).error(400, "InvalidGroup.NotFound", &group_missing);
    let ingress = format!("Action=AuthorizeSecurityGroupIngress&GroupId={group}&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=80&IpPermissions.1.ToPort=80&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0/0");
    ec2(e, &ingress).error(400, "InvalidGroup.NotFound", &group_missing);
    // A filter naming the group is answered with an empty list by AWS, not refused.
    ec2(e, &format!("Action=DescribeSecurityGroups&Filter.1.Name=group-id&Filter.1.Value.1={group}")).ok();

    let table = ec2(e, &format!("Action=CreateRouteTable&VpcId={vpc}")).ok().xml("routeTableId");
    ec2(e, &format!("Action=DescribeRouteTables&RouteTableId.1={table}")).error(
        400,
        "InvalidRouteTableID.NotFound",
        &format!("The routeTable ID '{table}' does not exist"),
    );

    let nat = ec2(e, &format!("Action=CreateNatGateway&SubnetId={subnet}")).ok().xml("natGatewayId");
    ec2(e, &format!("Action=DescribeNatGateways&NatGatewayId.1={nat}")).error(400, "NatGatewayNotFound", &format!("NAT gateway {nat} was not found"));

    let igw = ec2(e, "Action=CreateInternetGateway").ok().xml("internetGatewayId");
    let attach = format!("Action=AttachInternetGateway&InternetGatewayId={igw}&VpcId={vpc}");
    ec2(e, &attach).error(400, "InvalidInternetGatewayID.NotFound", &format!("The internetGateway ID '{igw}' does not exist"));
    let last_created = Instant::now();
    assert_eq!(fired(&proxy, Behaviour::NotYetVisible), 5);

    wait_out(last_created, WINDOW);
    assert!(ec2(e, &format!("Action=DescribeSecurityGroups&GroupId.1={group}")).ok().body.contains(&group));
    ec2(e, &ingress).ok();
    assert!(ec2(e, &format!("Action=DescribeRouteTables&RouteTableId.1={table}")).ok().body.contains(&table));
    assert!(ec2(e, &format!("Action=DescribeNatGateways&NatGatewayId.1={nat}")).ok().body.contains(&nat));
    ec2(e, &attach).ok();
    assert_eq!(fired(&proxy, Behaviour::NotYetVisible), 5);
}

#[test]
fn a_nat_gateway_in_a_vpc_without_an_internet_gateway_fails() {
    let proxy = layer(Behaviour::NatGatewayFailed, WINDOW);
    let e = &proxy.endpoint;
    let describe = |nat: &str| ec2(e, &format!("Action=DescribeNatGateways&NatGatewayId.1={nat}")).ok();

    let bare = network(e, 50);
    let nat = ec2(e, &format!("Action=CreateNatGateway&SubnetId={}", bare.subnet)).ok().xml("natGatewayId");
    let failed = describe(&nat);
    assert_eq!(failed.xml("state"), "failed");
    assert_eq!(failed.xml("failureCode"), "Gateway.NotAttached");
    assert_eq!(failed.xml("failureMessage"), format!("Network {} has no Internet gateway attached", bare.vpc));

    let connected = network(e, 51);
    let igw = attached_gateway(e, &connected.vpc);
    let working = ec2(e, &format!("Action=CreateNatGateway&SubnetId={}", connected.subnet)).ok().xml("natGatewayId");
    assert_eq!(describe(&working).xml("state"), "available");
    assert!(!describe(&working).body.contains("failureCode"));

    // A private NAT gateway needs no internet gateway.
    let private = ec2(e, &format!("Action=CreateNatGateway&SubnetId={}&ConnectivityType=private", bare.subnet)).ok().xml("natGatewayId");
    assert_eq!(describe(&private).xml("state"), "available");

    ec2(e, &format!("Action=DetachInternetGateway&InternetGatewayId={igw}&VpcId={}", connected.vpc)).ok();
    let after_detach = ec2(e, &format!("Action=CreateNatGateway&SubnetId={}", connected.subnet)).ok().xml("natGatewayId");
    assert_eq!(describe(&after_detach).xml("state"), "failed");
    assert_eq!(describe(&nat).xml("state"), "failed", "a failed NAT gateway stays failed");
    assert_eq!(fired(&proxy, Behaviour::NatGatewayFailed), 2);
}

#[test]
fn a_fresh_account_cannot_create_a_cluster_until_its_service_linked_role_exists() {
    let proxy = layer(Behaviour::EcsServiceLinkedRole, WINDOW);
    let e = &proxy.endpoint;
    let create = || ecs(e, "CreateCluster", serde_json::json!({ "clusterName": unique("cluster") }));
    let message = "Unable to assume the service linked role. Please verify that the ECS service linked role exists.";

    create().error(400, "InvalidParameterException", message);
    let opened = Instant::now();
    create().error(400, "InvalidParameterException", message);
    assert!(opened.elapsed() < WINDOW, "too slow for the window: {:?}", opened.elapsed());

    wait_out(opened, WINDOW);
    assert_eq!(create().ok().json()["cluster"]["status"], "ACTIVE");
    assert_eq!(fired(&proxy, Behaviour::EcsServiceLinkedRole), 2);
}

#[test]
fn a_service_cannot_use_a_target_group_just_put_behind_a_listener() {
    let proxy = layer(Behaviour::EcsTargetGroupNotAttached, WINDOW);
    let e = &proxy.endpoint;
    let Network { vpc, subnet } = network(e, 60);
    let group = elb(e, &format!("Action=CreateTargetGroup&Name={}&Protocol=HTTP&Port=80&VpcId={vpc}", unique("tg"))).ok().xml("TargetGroupArn");
    let balancer = elb(e, &format!("Action=CreateLoadBalancer&Name={}&Subnets.member.1={subnet}", unique("lb"))).ok().xml("LoadBalancerArn");
    let cluster = unique("cluster");
    ecs(e, "CreateCluster", serde_json::json!({ "clusterName": cluster })).ok();
    let family = unique("family");
    let container = serde_json::json!([{ "name": "web", "image": "nginx", "memory": 128, "portMappings": [{ "containerPort": 80 }] }]);
    ecs(e, "RegisterTaskDefinition", serde_json::json!({ "family": family, "containerDefinitions": container })).ok();
    let service = |name: String| {
        serde_json::json!({
            "cluster": cluster, "serviceName": name, "taskDefinition": family, "desiredCount": 0,
            "loadBalancers": [{ "targetGroupArn": group, "containerName": "web", "containerPort": 80 }],
        })
    };

    let listener = format!(
        "Action=CreateListener&LoadBalancerArn={}&Protocol=HTTP&Port=80&DefaultActions.member.1.Type=forward&DefaultActions.member.1.TargetGroupArn={}",
        enc(&balancer),
        enc(&group)
    );
    elb(e, &listener).ok();
    let opened = Instant::now();
    ecs(e, "CreateService", service(unique("svc"))).error(
        400,
        "InvalidParameterException",
        &format!("The target group with targetGroupArn {group} does not have an associated load balancer."),
    );
    assert!(opened.elapsed() < WINDOW, "too slow for the window: {:?}", opened.elapsed());

    wait_out(opened, WINDOW);
    ecs(e, "CreateService", service(unique("svc"))).ok();
    assert_eq!(fired(&proxy, Behaviour::EcsTargetGroupNotAttached), 1);
}

#[test]
fn capacity_providers_cannot_be_put_on_a_cluster_that_is_not_active_yet() {
    let proxy = layer(Behaviour::EcsClusterNotActive, WINDOW);
    let e = &proxy.endpoint;
    let name = unique("cluster");
    let put = |cluster: &str| {
        ecs(e, "PutClusterCapacityProviders", serde_json::json!({ "cluster": cluster, "capacityProviders": [], "defaultCapacityProviderStrategy": [] }))
    };

    let arn = ecs(e, "CreateCluster", serde_json::json!({ "clusterName": name })).ok().json()["cluster"]["clusterArn"].as_str().unwrap().to_string();
    let opened = Instant::now();
    put(&name).error(400, "ClientException", "Cluster was not ACTIVE");
    put(&arn).error(400, "ClientException", "Cluster was not ACTIVE");
    assert!(opened.elapsed() < WINDOW, "too slow for the window: {:?}", opened.elapsed());

    wait_out(opened, WINDOW);
    put(&name).ok();
    assert_eq!(fired(&proxy, Behaviour::EcsClusterNotActive), 2);
}

#[test]
fn a_capacity_provider_refuses_an_update_while_the_last_one_is_in_progress() {
    let proxy = layer(Behaviour::EcsCapacityProviderUpdateInProgress, WINDOW);
    let e = &proxy.endpoint;
    let name = unique("cp");
    let group = "arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:x:autoScalingGroupName/any";
    let scaling = serde_json::json!({ "status": "DISABLED" });
    ecs(
        e,
        "CreateCapacityProvider",
        serde_json::json!({ "name": name, "autoScalingGroupProvider": { "autoScalingGroupArn": group, "managedScaling": scaling } }),
    )
    .ok();
    let update = || ecs(e, "UpdateCapacityProvider", serde_json::json!({ "name": name, "autoScalingGroupProvider": { "managedScaling": scaling } }));

    update().ok();
    let opened = Instant::now();
    update().error(400, "UpdateInProgressException", &format!("Capacity provider {name} has an update in progress."));
    assert!(opened.elapsed() < WINDOW, "too slow for the window: {:?}", opened.elapsed());

    wait_out(opened, WINDOW);
    update().ok();
    assert_eq!(fired(&proxy, Behaviour::EcsCapacityProviderUpdateInProgress), 1);
}

#[test]
fn a_burst_beyond_the_bucket_is_throttled_and_served_again_after_the_refill() {
    // Scale 1: RegisterTaskDefinition's bucket of 20 refills one token a second.
    let proxy = BehaviourProxy::start(&moto().endpoint, BehaviourConfig { scale: 1.0, ..BehaviourConfig::none().with(Behaviour::Throttling) });
    let e = &proxy.endpoint;
    let family = unique("burst");
    let register = || {
        let container = serde_json::json!([{ "name": "a", "image": "x", "memory": 128 }]);
        ecs(e, "RegisterTaskDefinition", serde_json::json!({ "family": family, "containerDefinitions": container }))
    };
    let started = Instant::now();
    let replies: Vec<Reply> = (0..30).map(|_| register()).collect();
    let elapsed = started.elapsed().as_secs_f64();
    let served = replies.iter().filter(|r| r.status == 200).count();
    let throttled: Vec<&Reply> = replies.iter().filter(|r| r.status != 200).collect();
    assert!(served >= 20 && served as f64 <= 20.0 + elapsed + 1.0, "{served} served in {elapsed:.2} s");
    assert!(!throttled.is_empty(), "30 calls in {elapsed:.2} s were all served");
    for reply in &throttled {
        reply.error(400, "ThrottlingException", "Rate exceeded");
    }
    assert!(replies[..20].iter().all(|r| r.status == 200), "the burst of 20 is served");
    assert_eq!(proxy.throttled().get("ecs RegisterTaskDefinition").copied(), Some(throttled.len() as u64));
    assert_eq!(fired(&proxy, Behaviour::Throttling), throttled.len() as u64);
    assert_eq!(proxy.requests().get("ecs RegisterTaskDefinition").copied(), Some(30));
    // Throttled calls never reached moto.
    let listed = ecs(&moto().endpoint, "ListTaskDefinitions", serde_json::json!({ "familyPrefix": family })).ok().json();
    assert_eq!(listed["taskDefinitionArns"].as_array().map(Vec::len), Some(served));

    sleep(Duration::from_millis(1100));
    register().ok();
    assert_eq!(proxy.floor("ecs RegisterTaskDefinition", 500), Duration::from_secs(480));
}

#[test]
fn every_request_waits_the_latency() {
    let proxy = BehaviourProxy::start(&moto().endpoint, BehaviourConfig { latency: Duration::from_millis(300), ..BehaviourConfig::none() });
    let started = Instant::now();
    ec2(&proxy.endpoint, "Action=DescribeVpcs").ok();
    assert!(started.elapsed() >= Duration::from_millis(300), "answered in {:?}", started.elapsed());
    assert!(proxy.fired().is_empty());
    assert_eq!(proxy.requests_total(), 1);
    assert_eq!(proxy.upstream_errors(), 0);
}

#[test]
fn throttling_answers_take_each_protocols_shape() {
    let request = |service: &str, target: Option<&str>| Request {
        method: "POST".into(),
        path: "/".into(),
        headers: [("Authorization".to_string(), format!("AWS4-HMAC-SHA256 Credential=testing/20260101/us-west-2/{service}/aws4_request, SignedHeaders=host"))]
            .into_iter()
            .chain(target.map(|t| ("X-Amz-Target".to_string(), t.to_string())))
            .map(|(k, v)| (k, v.into_bytes()))
            .collect(),
        body: Vec::new(),
    };
    let answer = |r: &Request| {
        let (status, code) = throttle_shape(r);
        String::from_utf8(shaped_error(r, status, code, "Rate exceeded", "id")).unwrap()
    };
    let ec2 = answer(&request("ec2", None));
    assert!(ec2.starts_with("HTTP/1.1 503 ") && ec2.contains("<Response><Errors><Error><Code>RequestLimitExceeded</Code>"), "{ec2}");
    let query = answer(&request("elasticloadbalancing", None));
    assert!(query.starts_with("HTTP/1.1 400 ") && query.contains("<Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"), "{query}");
    let json = answer(&request("logs", Some("Logs_20140328.CreateLogGroup")));
    assert!(json.starts_with("HTTP/1.1 400 ") && json.contains(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#), "{json}");
    assert!(json.contains("x-amzn-errortype: ThrottlingException"), "{json}");
}

#[test]
fn windows_scale_with_a_floor_and_names_round_trip() {
    let config = BehaviourConfig::all();
    assert_eq!(config.window(Duration::from_secs(180)), Duration::from_millis(1800));
    assert_eq!(config.window(Duration::from_secs(3)), Duration::from_millis(300), "the floor");
    assert_eq!(BehaviourConfig { scale: 1.0, ..config.clone() }.window(Duration::from_secs(180)), Duration::from_secs(180));
    assert_eq!(config.behaviours.len(), Behaviour::ALL.len());
    assert!(BehaviourConfig::none().behaviours.is_empty());
    for behaviour in Behaviour::ALL {
        assert_eq!(Behaviour::from_name(behaviour.name()), Some(behaviour));
    }
}
