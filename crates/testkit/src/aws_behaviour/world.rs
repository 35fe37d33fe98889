//! What the layer remembers of the traffic it has seen (young ids, open windows, which VPC has
//! an internet gateway) and the answers AWS would give where moto answers at once.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use super::text::{enclosing, replace_in, state_element, tag_value, tag_values, Call};
use super::{Behaviour, BehaviourConfig};
use crate::fault_proxy::Answer;

/// An answer given instead of forwarding: what AWS says while the window is open.
#[derive(Debug)]
pub(super) struct Refusal {
    pub(super) behaviour: Behaviour,
    pub(super) status: u16,
    pub(super) code: &'static str,
    pub(super) message: String,
}

fn refuse(behaviour: Behaviour, status: u16, code: &'static str, message: String) -> Option<Refusal> {
    Some(Refusal { behaviour, status, code, message })
}

/// Resources whose state text the layer rewrites while they are young.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Vpc,
    Subnet,
    NatGateway,
    Association,
    InternetGateway,
    LoadBalancer,
    Cluster,
    RouteTable,
    SecurityGroup,
}

/// Where a young resource's state sits in an answer: the operations whose answers show it, the
/// element holding its id, the list entry around it, and the state text moto writes and the one
/// AWS shows first.
struct StateText {
    kind: Kind,
    actions: &'static [&'static str],
    id_tag: &'static str,
    entry: &'static str,
    moto: &'static str,
    aws: &'static str,
}

const STATE_TEXTS: &[StateText] = &[
    StateText {
        kind: Kind::Vpc,
        actions: &["CreateVpc", "DescribeVpcs"],
        id_tag: "vpcId",
        entry: "item",
        moto: "<state>available</state>",
        aws: "<state>pending</state>",
    },
    StateText {
        kind: Kind::Subnet,
        actions: &["CreateSubnet", "DescribeSubnets"],
        id_tag: "subnetId",
        entry: "item",
        moto: "<state>available</state>",
        aws: "<state>pending</state>",
    },
    StateText {
        kind: Kind::NatGateway,
        actions: &["CreateNatGateway", "DescribeNatGateways"],
        id_tag: "natGatewayId",
        entry: "item",
        moto: "<state>available</state>",
        aws: "<state>pending</state>",
    },
    StateText {
        kind: Kind::Association,
        actions: &["DescribeRouteTables"],
        id_tag: "routeTableAssociationId",
        entry: "item",
        moto: "<state>associated</state>",
        aws: "<state>associating</state>",
    },
    StateText {
        kind: Kind::Association,
        actions: &["AssociateRouteTable"],
        id_tag: "associationId",
        entry: "item",
        moto: "<state>associated</state>",
        aws: "<state>associating</state>",
    },
    StateText {
        kind: Kind::InternetGateway,
        actions: &["DescribeInternetGateways"],
        id_tag: "internetGatewayId",
        entry: "item",
        moto: "<state>available</state>",
        aws: "<state>attaching</state>",
    },
    StateText {
        kind: Kind::LoadBalancer,
        actions: &["DescribeLoadBalancers"],
        id_tag: "LoadBalancerArn",
        entry: "member",
        moto: "<Code>active</Code>",
        aws: "<Code>provisioning</Code>",
    },
];

/// The "not yet visible" answer for a kind, and the operations that meet it: reads, and the
/// calls that name the new resource right after its create (as the provider's retries show).
fn unseen(kind: Kind, action: &str, id: &str) -> Option<(&'static str, String)> {
    let (actions, code, message): (&[&str], _, _) = match kind {
        Kind::NatGateway => (&["DescribeNatGateways"], "NatGatewayNotFound", format!("NAT gateway {id} was not found")),
        Kind::RouteTable => (
            &["DescribeRouteTables", "CreateRoute", "ReplaceRoute", "AssociateRouteTable"],
            "InvalidRouteTableID.NotFound",
            format!("The routeTable ID '{id}' does not exist"),
        ),
        Kind::SecurityGroup => (
            &[
                "DescribeSecurityGroups",
                "AuthorizeSecurityGroupIngress",
                "AuthorizeSecurityGroupEgress",
                "RevokeSecurityGroupIngress",
                "RevokeSecurityGroupEgress",
            ],
            "InvalidGroup.NotFound",
            format!("The security group '{id}' does not exist"),
        ),
        Kind::InternetGateway => (
            &["DescribeInternetGateways", "AttachInternetGateway"],
            "InvalidInternetGatewayID.NotFound",
            format!("The internetGateway ID '{id}' does not exist"),
        ),
        _ => return None,
    };
    actions.contains(&action).then_some((code, message))
}

fn live(until: Option<Instant>, now: Instant) -> bool {
    until.is_some_and(|u| now < u)
}

fn extend(slot: &mut Option<Instant>, until: Instant) {
    *slot = Some(slot.map_or(until, |u| u.max(until)));
}

pub(super) struct World {
    config: BehaviourConfig,
    /// Network interfaces of a deleted load balancer, NAT gateway, task or instance linger.
    enis_until: Option<Instant>,
    /// …and among them, public addresses (NAT gateway, load balancer) that block an IGW detach.
    public_until: Option<Instant>,
    /// …and among them, instances' (terminated instances, deleted Auto Scaling groups).
    instances_until: Option<Instant>,
    /// A new instance profile, not yet visible to EC2 and Auto Scaling, and its name.
    profile: Option<(Instant, String)>,
    /// Roles just removed from a profile or detached from a policy: until, and the message.
    role_conflicts: HashMap<String, (Instant, &'static str)>,
    /// Young resources (ids, ARNs) shown in a first state: kind and until.
    young: HashMap<String, (Kind, Instant)>,
    /// Resources too new to be found: kind and until.
    unseen: HashMap<String, (Kind, Instant)>,
    subnet_vpc: HashMap<String, String>,
    /// Internet gateways attached to each VPC.
    gateways: HashMap<String, BTreeSet<String>>,
    /// NAT gateways created in a VPC without an internet gateway, and that VPC.
    failed_nats: HashMap<String, String>,
    first_cluster: Option<Instant>,
    /// Target groups just put behind a listener or rule.
    target_groups: HashMap<String, Instant>,
    /// Clusters (by name and by ARN) not yet ACTIVE.
    clusters: HashMap<String, Instant>,
    /// Capacity providers with an update in progress.
    capacity_providers: HashMap<String, Instant>,
}

impl World {
    pub(super) fn new(config: BehaviourConfig) -> World {
        World {
            config,
            enis_until: None,
            public_until: None,
            instances_until: None,
            profile: None,
            role_conflicts: HashMap::new(),
            young: HashMap::new(),
            unseen: HashMap::new(),
            subnet_vpc: HashMap::new(),
            gateways: HashMap::new(),
            failed_nats: HashMap::new(),
            first_cluster: None,
            target_groups: HashMap::new(),
            clusters: HashMap::new(),
            capacity_providers: HashMap::new(),
        }
    }

    fn on(&self, behaviour: Behaviour) -> bool {
        self.config.behaviours.contains(&behaviour)
    }

    /// The answer AWS would give instead of serving the call now, if any.
    pub(super) fn before(&mut self, call: &Call, now: Instant) -> Option<Refusal> {
        self.refusal(call, now).or_else(|| self.not_yet_visible(call, now))
    }

    fn refusal(&mut self, call: &Call, now: Instant) -> Option<Refusal> {
        use Behaviour::*;
        let param = |key: &str| call.param(key).unwrap_or_default().to_string();
        match (call.service, call.action) {
            ("ec2", "DeleteSecurityGroup") if self.on(DependencyViolation) => {
                let group = call.param("GroupId").or(call.param("GroupName")).unwrap_or_default();
                if live(self.instances_until, now) {
                    return refuse(DependencyViolation, 400, "InvalidGroup.InUse", format!("There are active instances using security group '{group}'"));
                }
                if live(self.enis_until, now) {
                    return refuse(DependencyViolation, 400, "DependencyViolation", format!("resource {group} has a dependent object"));
                }
                None
            }
            ("ec2", "DeleteSubnet") if self.on(DependencyViolation) && live(self.enis_until, now) => {
                refuse(DependencyViolation, 400, "DependencyViolation", format!("The subnet '{}' has dependencies and cannot be deleted.", param("SubnetId")))
            }
            ("ec2", "DetachInternetGateway") if self.on(DependencyViolation) && live(self.public_until, now) => refuse(
                DependencyViolation,
                400,
                "DependencyViolation",
                format!("Network {} has some mapped public address(es). Please unmap those public address(es) before detaching the gateway.", param("VpcId")),
            ),
            ("ec2", "DeleteVpc") if self.on(DependencyViolation) && live(self.enis_until, now) => {
                refuse(DependencyViolation, 400, "DependencyViolation", format!("The vpc '{}' has dependencies and cannot be deleted.", param("VpcId")))
            }
            ("autoscaling", "CreateAutoScalingGroup") | ("ec2", "RunInstances") if self.on(IamInstanceProfile) => {
                // A group's profile is in its launch template, out of sight; an instance names it
                // or its template.
                let may_name_profile = call.form.iter().any(|(k, _)| k.starts_with("IamInstanceProfile") || k.starts_with("LaunchTemplate"));
                if call.service == "ec2" && !may_name_profile {
                    return None;
                }
                let (until, name) = self.profile.as_ref()?;
                if now >= *until {
                    return None;
                }
                let invalid = format!("Value ({name}) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name");
                if call.service == "ec2" {
                    refuse(IamInstanceProfile, 400, "InvalidParameterValue", invalid)
                } else {
                    refuse(IamInstanceProfile, 400, "ValidationError", format!("You must use a valid fully-formed launch template. {invalid}"))
                }
            }
            ("iam", "DeleteRole") if self.on(IamDeleteConflict) => {
                let (until, message) = self.role_conflicts.get(call.param("RoleName")?)?;
                (now < *until).then(|| Refusal { behaviour: IamDeleteConflict, status: 409, code: "DeleteConflict", message: message.to_string() })
            }
            ("ecs", "CreateCluster") if self.on(EcsServiceLinkedRole) => {
                let first = *self.first_cluster.get_or_insert(now);
                let message = "Unable to assume the service linked role. Please verify that the ECS service linked role exists.";
                (now < first + self.config.window(self.config.windows.ecs_service_linked_role)).then(|| Refusal {
                    behaviour: EcsServiceLinkedRole,
                    status: 400,
                    code: "InvalidParameterException",
                    message: message.into(),
                })
            }
            ("ecs", "CreateService") if self.on(EcsTargetGroupNotAttached) => {
                let balancers = call.json.get("loadBalancers").and_then(|l| l.as_array())?;
                let arn = balancers.iter().filter_map(|b| b.get("targetGroupArn")?.as_str()).find(|arn| live(self.target_groups.get(*arn).copied(), now))?;
                refuse(
                    EcsTargetGroupNotAttached,
                    400,
                    "InvalidParameterException",
                    format!("The target group with targetGroupArn {arn} does not have an associated load balancer."),
                )
            }
            ("ecs", "PutClusterCapacityProviders") if self.on(EcsClusterNotActive) => {
                let until = self.clusters.get(call.field("cluster")?).copied();
                if live(until, now) {
                    refuse(EcsClusterNotActive, 400, "ClientException", "Cluster was not ACTIVE".into())
                } else {
                    None
                }
            }
            ("ecs", "UpdateCapacityProvider") if self.on(EcsCapacityProviderUpdateInProgress) => {
                let name = call.field("name")?;
                if live(self.capacity_providers.get(name).copied(), now) {
                    refuse(
                        EcsCapacityProviderUpdateInProgress,
                        400,
                        "UpdateInProgressException",
                        format!("Capacity provider {name} has an update in progress."),
                    )
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    fn not_yet_visible(&self, call: &Call, now: Instant) -> Option<Refusal> {
        if call.service != "ec2" || !self.on(Behaviour::NotYetVisible) {
            return None;
        }
        // Filters name ids too, but AWS answers a filter with an empty list, not an error.
        call.form.iter().filter(|(k, _)| !k.starts_with("Filter.")).find_map(|(_, id)| {
            let (kind, until) = self.unseen.get(id)?;
            if now >= *until {
                return None;
            }
            let (code, message) = unseen(*kind, call.action, id)?;
            refuse(Behaviour::NotYetVisible, 400, code, message)
        })
    }

    /// Learns from a served call (moto answered 2xx) and rewrites the answer as AWS would show
    /// it; returns what fired, with a detail for the log.
    /// Opens the dependency-violation window as a delete of a load balancer would, for a test
    /// that has nothing to delete.
    pub(super) fn open_dependency_window(&mut self, now: Instant) {
        let until = now + self.config.window(self.config.windows.dependency_violation);
        extend(&mut self.enis_until, until);
        extend(&mut self.public_until, until);
    }

    pub(super) fn after(&mut self, call: &Call, answer: &mut Answer, now: Instant) -> Vec<(Behaviour, String)> {
        self.purge(now);
        let Ok(mut body) = String::from_utf8(std::mem::take(&mut answer.body)) else { return Vec::new() };
        let mut fired = self.learn(call, &body, now);
        if call.service == "ec2" {
            fired.extend(self.rewrite_ec2_xml(call, &mut body, now));
        } else if call.is("elasticloadbalancing", "DescribeLoadBalancers") {
            fired.extend(self.rewrite_xml(call, &mut body, now));
        } else if call.is("ecs", "CreateCluster") || call.is("ecs", "DescribeClusters") {
            fired.extend(self.rewrite_clusters(&mut body, now));
        }
        answer.body = body.into_bytes();
        fired
    }

    fn purge(&mut self, now: Instant) {
        self.young.retain(|_, (_, until)| now < *until);
        self.unseen.retain(|_, (_, until)| now < *until);
        self.role_conflicts.retain(|_, (until, _)| now < *until);
        self.target_groups.retain(|_, until| now < *until);
        self.clusters.retain(|_, until| now < *until);
        self.capacity_providers.retain(|_, until| now < *until);
    }

    fn learn(&mut self, call: &Call, body: &str, now: Instant) -> Vec<(Behaviour, String)> {
        let config = self.config.clone();
        let w = &config.windows;
        let until = |real| now + config.window(real);
        let mut fired = Vec::new();
        match (call.service, call.action) {
            ("ec2", "CreateVpc") => self.young(tag_value(body, "vpcId"), Kind::Vpc, until(w.vpc_pending)),
            ("ec2", "CreateSubnet") => {
                if let (Some(subnet), Some(vpc)) = (tag_value(body, "subnetId"), tag_value(body, "vpcId")) {
                    self.subnet_vpc.insert(subnet.into(), vpc.into());
                }
                self.young(tag_value(body, "subnetId"), Kind::Subnet, until(w.subnet_pending));
            }
            ("ec2", "CreateNatGateway") => {
                let Some(nat) = tag_value(body, "natGatewayId") else { return fired };
                self.young(Some(nat), Kind::NatGateway, until(w.nat_gateway_pending));
                self.unseen(nat, Kind::NatGateway, until(w.not_yet_visible));
                let vpc = call.param("SubnetId").and_then(|s| self.subnet_vpc.get(s)).map(String::as_str).or(tag_value(body, "vpcId")).map(str::to_string);
                let public = call.param("ConnectivityType").is_none_or(|t| t == "public");
                if let (true, true, Some(vpc)) = (self.on(Behaviour::NatGatewayFailed), public, vpc) {
                    if self.gateways.get(&vpc).is_none_or(BTreeSet::is_empty) {
                        fired.push((Behaviour::NatGatewayFailed, format!("{nat} in {vpc}, which has no internet gateway attached")));
                        self.failed_nats.insert(nat.into(), vpc);
                    }
                }
            }
            ("ec2", "CreateRouteTable") => self.unseen_tag(body, "routeTableId", Kind::RouteTable, until(w.not_yet_visible)),
            ("ec2", "CreateSecurityGroup") => self.unseen_tag(body, "groupId", Kind::SecurityGroup, until(w.not_yet_visible)),
            ("ec2", "CreateInternetGateway") => self.unseen_tag(body, "internetGatewayId", Kind::InternetGateway, until(w.not_yet_visible)),
            ("ec2", "AssociateRouteTable") => self.young(tag_value(body, "associationId"), Kind::Association, until(w.route_table_associating)),
            ("ec2", "AttachInternetGateway") => {
                let (igw, vpc) = (call.param("InternetGatewayId").unwrap_or_default(), call.param("VpcId").unwrap_or_default());
                self.gateways.entry(vpc.into()).or_default().insert(igw.into());
                self.young(Some(igw), Kind::InternetGateway, until(w.internet_gateway_attaching));
            }
            ("ec2", "DetachInternetGateway") => {
                let (igw, vpc) = (call.param("InternetGatewayId").unwrap_or_default(), call.param("VpcId").unwrap_or_default());
                self.gateways.entry(vpc.into()).or_default().remove(igw);
            }
            ("elasticloadbalancing", "CreateLoadBalancer") => {
                self.young(tag_value(body, "LoadBalancerArn"), Kind::LoadBalancer, until(w.load_balancer_provisioning))
            }
            ("elasticloadbalancing", "CreateListener" | "CreateRule" | "ModifyListener" | "ModifyRule") => {
                let until = until(w.ecs_target_group);
                for arn in call.params_ending("TargetGroupArn") {
                    self.target_groups.insert(arn.into(), until);
                }
            }
            ("ecs", "CreateCluster") => {
                let cluster: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
                let until = until(w.ecs_cluster_provisioning);
                for key in ["clusterArn", "clusterName"] {
                    if let Some(id) = cluster["cluster"][key].as_str() {
                        self.clusters.insert(id.into(), until);
                    }
                }
                self.young(cluster["cluster"]["clusterArn"].as_str(), Kind::Cluster, until);
            }
            ("ecs", "UpdateCapacityProvider") => {
                if let Some(name) = call.field("name") {
                    self.capacity_providers.insert(name.into(), until(w.ecs_capacity_provider_update));
                }
            }
            ("iam", "CreateInstanceProfile" | "AddRoleToInstanceProfile") => {
                self.profile = Some((until(w.iam_instance_profile), call.param("InstanceProfileName").unwrap_or_default().into()));
            }
            ("iam", "RemoveRoleFromInstanceProfile") => {
                self.role_conflict(call, until(w.iam_delete_conflict), "Cannot delete entity, must remove roles from instance profile first.")
            }
            ("iam", "DetachRolePolicy") => self.role_conflict(call, until(w.iam_delete_conflict), "Cannot delete entity, must detach all policies first."),
            ("elasticloadbalancing", "DeleteLoadBalancer") | ("ec2", "DeleteNatGateway") => {
                let until = until(w.dependency_violation);
                extend(&mut self.enis_until, until);
                extend(&mut self.public_until, until);
            }
            ("ecs", "DeleteService") => extend(&mut self.enis_until, until(w.dependency_violation)),
            ("ecs", "UpdateService") if call.json.get("desiredCount").and_then(|c| c.as_u64()) == Some(0) => {
                extend(&mut self.enis_until, until(w.dependency_violation))
            }
            ("autoscaling", "DeleteAutoScalingGroup") | ("ec2", "TerminateInstances") => {
                let until = until(w.dependency_violation);
                extend(&mut self.enis_until, until);
                extend(&mut self.instances_until, until);
            }
            _ => {}
        }
        fired
    }

    fn young(&mut self, id: Option<&str>, kind: Kind, until: Instant) {
        if let Some(id) = id.filter(|id| !id.is_empty()) {
            self.young.insert(id.into(), (kind, until));
        }
    }

    fn unseen(&mut self, id: &str, kind: Kind, until: Instant) {
        self.unseen.insert(id.into(), (kind, until));
    }

    fn unseen_tag(&mut self, body: &str, tag: &str, kind: Kind, until: Instant) {
        if let Some(id) = tag_value(body, tag) {
            self.unseen(id, kind, until);
        }
    }

    fn role_conflict(&mut self, call: &Call, until: Instant, message: &'static str) {
        if let Some(role) = call.param("RoleName") {
            self.role_conflicts.insert(role.into(), (until, message));
        }
    }

    fn rewrite_ec2_xml(&self, call: &Call, body: &mut String, now: Instant) -> Vec<(Behaviour, String)> {
        // A failed NAT gateway shows `failed` whatever its age; the pending rewrite skips it.
        if call.action == "DescribeNatGateways" && self.on(Behaviour::NatGatewayFailed) {
            let found: Vec<(usize, String)> = tag_values(body, "natGatewayId").into_iter().map(|(pos, id)| (pos, id.to_string())).collect();
            for (pos, nat) in found.into_iter().rev() {
                let Some(vpc) = self.failed_nats.get(&nat) else { continue };
                let item = enclosing(body, "item", pos);
                if let Some(state) = state_element(body, item) {
                    let failed = format!(
                        "<state>failed</state><failureCode>Gateway.NotAttached</failureCode><failureMessage>Network {vpc} has no Internet gateway attached</failureMessage>"
                    );
                    body.replace_range(state, &failed);
                }
            }
        }
        // AWS answers every CreateNatGateway with `pending`; a gateway bound to fail is no
        // exception (the failure shows in the reads after it).
        if call.action == "CreateNatGateway" {
            if let Some((pos, nat)) = tag_values(body, "natGatewayId").into_iter().next().map(|(pos, id)| (pos, id.to_string())) {
                if self.failed_nats.contains_key(&nat) {
                    let gateway = enclosing(body, "natGateway", pos);
                    if let Some(state) = state_element(body, gateway) {
                        body.replace_range(state, "<state>pending</state>");
                    }
                }
            }
        }
        self.rewrite_xml(call, body, now)
    }

    fn rewrite_xml(&self, call: &Call, body: &mut String, now: Instant) -> Vec<(Behaviour, String)> {
        let mut fired = Vec::new();
        if !self.on(Behaviour::PendingStates) {
            return fired;
        }
        for text in STATE_TEXTS.iter().filter(|t| t.actions.contains(&call.action)) {
            let found: Vec<(usize, String)> = tag_values(body, text.id_tag).into_iter().map(|(pos, id)| (pos, id.to_string())).collect();
            for (pos, id) in found.into_iter().rev() {
                let young = matches!(self.young.get(&id), Some((kind, until)) if *kind == text.kind && now < *until);
                if young && !self.failed_nats.contains_key(&id) && replace_in(body, enclosing(body, text.entry, pos), text.moto, text.aws) {
                    fired.push((Behaviour::PendingStates, format!("{id} {}", text.aws)));
                }
            }
        }
        fired
    }

    fn rewrite_clusters(&self, body: &mut String, now: Instant) -> Vec<(Behaviour, String)> {
        let mut fired = Vec::new();
        let Ok(mut answer) = serde_json::from_str::<serde_json::Value>(body) else { return fired };
        if !self.on(Behaviour::PendingStates) {
            return fired;
        }
        let clusters: Vec<&mut serde_json::Value> = match answer.as_object_mut() {
            Some(fields) if fields.contains_key("cluster") => fields.get_mut("cluster").into_iter().collect(),
            Some(fields) => fields.get_mut("clusters").and_then(|c| c.as_array_mut()).map(|many| many.iter_mut().collect()).unwrap_or_default(),
            None => vec![],
        };
        for cluster in clusters {
            let arn = cluster["clusterArn"].as_str().unwrap_or_default().to_string();
            let young = matches!(self.young.get(&arn), Some((Kind::Cluster, until)) if now < *until);
            if young && cluster["status"] == "ACTIVE" {
                cluster["status"] = "PROVISIONING".into();
                fired.push((Behaviour::PendingStates, format!("{arn} PROVISIONING")));
            }
        }
        if !fired.is_empty() {
            *body = answer.to_string();
        }
        fired
    }
}
