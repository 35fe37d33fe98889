//! An inventory of what moto holds for one stack, read type by type from each service's own API
//! (not the Resource Groups Tagging API, which moto, like AWS, does not answer for every type:
//! Elastic IPs, launch templates, Auto Scaling groups, IAM roles and instance profiles, ECR
//! repositories, capacity providers, listeners and listener rules are missing from it). A
//! crash test compares this with state, so a duplicate of any type is seen (capacity providers
//! and instance profiles aside: see `ecs` and `iam`). Log groups, ECS services and task definition revisions, which the tagging API lists,
//! are left to it: a crash matrix checks after every kill, and moto holds every run's.

use std::collections::BTreeMap;

use clawform_testkit::Moto;

/// Live resources tagged `clawform:stack = stack`, by address (`alb[2]` for the tag `alb.2`),
/// each by the id (or ARN) its service's API gives.
pub async fn owned_by_stack(moto: &Moto, stack: &str) -> BTreeMap<String, Vec<String>> {
    let config = super::sdk_config(moto).await;
    let mut found = Found { stack: stack.to_string(), out: BTreeMap::new() };
    ec2(&aws_sdk_ec2::Client::new(&config), &mut found).await;
    elbv2(&aws_sdk_elasticloadbalancingv2::Client::new(&config), &mut found).await;
    ecs(&aws_sdk_ecs::Client::new(&config), &mut found).await;
    iam(&aws_sdk_iam::Client::new(&config), &mut found).await;
    secrets(&aws_sdk_secretsmanager::Client::new(&config), &mut found).await;
    ecr(&aws_sdk_ecr::Client::new(&config), &mut found).await;
    autoscaling(&aws_sdk_autoscaling::Client::new(&config), &mut found).await;
    found.out
}

struct Found {
    stack: String,
    out: BTreeMap<String, Vec<String>>,
}

impl Found {
    /// Records `id` of `type_name` when `tags` (key, value pairs) name this stack.
    fn add<'a>(&mut self, type_name: &str, id: &str, tags: impl IntoIterator<Item = (&'a str, &'a str)>) {
        let tags: BTreeMap<&str, &str> = tags.into_iter().collect();
        if tags.get("clawform:stack") != Some(&self.stack.as_str()) {
            return;
        }
        let tag = tags.get("clawform:address").copied().unwrap_or("?");
        // Tag values cannot hold brackets: `alb.2` stands for `alb[2]`.
        let address = match tag.split_once('.') {
            Some((name, index)) => format!("{name}[{index}]"),
            None => tag.to_string(),
        };
        let _ = type_name;
        self.out.entry(address).or_default().push(id.to_string());
    }
}

async fn ec2(ec2: &aws_sdk_ec2::Client, found: &mut Found) {
    let stack = found.stack.clone();
    let filter = || aws_sdk_ec2::types::Filter::builder().name("tag:clawform:stack").values(&stack).build();
    macro_rules! pairs {
        ($tags:expr) => {
            $tags.iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
        };
    }
    let vpcs = ec2.describe_vpcs().filters(filter()).send().await.expect("DescribeVpcs");
    for v in vpcs.vpcs() {
        found.add("aws_vpc", v.vpc_id().unwrap_or_default(), pairs!(v.tags()));
    }
    let subnets = ec2.describe_subnets().filters(filter()).send().await.expect("DescribeSubnets");
    for s in subnets.subnets() {
        found.add("aws_subnet", s.subnet_id().unwrap_or_default(), pairs!(s.tags()));
    }
    let gateways = ec2.describe_internet_gateways().filters(filter()).send().await.expect("DescribeInternetGateways");
    for g in gateways.internet_gateways() {
        found.add("aws_internet_gateway", g.internet_gateway_id().unwrap_or_default(), pairs!(g.tags()));
    }
    let tables = ec2.describe_route_tables().filters(filter()).send().await.expect("DescribeRouteTables");
    for t in tables.route_tables() {
        found.add("aws_route_table", t.route_table_id().unwrap_or_default(), pairs!(t.tags()));
    }
    let groups = ec2.describe_security_groups().filters(filter()).send().await.expect("DescribeSecurityGroups");
    for g in groups.security_groups() {
        found.add("aws_security_group", g.group_id().unwrap_or_default(), pairs!(g.tags()));
    }
    let addresses = ec2.describe_addresses().filters(filter()).send().await.expect("DescribeAddresses");
    for a in addresses.addresses() {
        found.add("aws_eip", a.allocation_id().unwrap_or_default(), pairs!(a.tags()));
    }
    // moto's DescribeNatGateways ignores tag filters: every gateway is read and its tags checked.
    let nats = ec2.describe_nat_gateways().send().await.expect("DescribeNatGateways");
    for n in nats.nat_gateways().iter().filter(|n| !matches!(n.state(), Some(aws_sdk_ec2::types::NatGatewayState::Deleted))) {
        found.add("aws_nat_gateway", n.nat_gateway_id().unwrap_or_default(), pairs!(n.tags()));
    }
    let templates = ec2.describe_launch_templates().send().await.expect("DescribeLaunchTemplates");
    for t in templates.launch_templates() {
        found.add("aws_launch_template", t.launch_template_id().unwrap_or_default(), pairs!(t.tags()));
    }
}

async fn elbv2(elb: &aws_sdk_elasticloadbalancingv2::Client, found: &mut Found) {
    // Load balancers and target groups first, by their tags; then only this stack's load
    // balancers are walked for listeners and rules (moto holds every run's).
    let lbs = elb.describe_load_balancers().send().await.expect("DescribeLoadBalancers");
    let lb_arns: Vec<(&str, String)> = lbs.load_balancers().iter().map(|lb| ("aws_lb", lb.load_balancer_arn().unwrap_or_default().to_string())).collect();
    let groups = elb.describe_target_groups().send().await.expect("DescribeTargetGroups");
    let group_arns: Vec<(&str, String)> =
        groups.target_groups().iter().map(|g| ("aws_lb_target_group", g.target_group_arn().unwrap_or_default().to_string())).collect();
    let ours = elbv2_tagged(elb, found, &lb_arns).await;
    elbv2_tagged(elb, found, &group_arns).await;
    let mut children: Vec<(&str, String)> = Vec::new();
    for lb_arn in ours {
        let listeners = elb.describe_listeners().load_balancer_arn(&lb_arn).send().await.expect("DescribeListeners");
        for l in listeners.listeners() {
            let listener_arn = l.listener_arn().unwrap_or_default().to_string();
            let rules = elb.describe_rules().listener_arn(&listener_arn).send().await.expect("DescribeRules");
            for r in rules.rules().iter().filter(|r| r.is_default() != Some(true)) {
                children.push(("aws_lb_listener_rule", r.rule_arn().unwrap_or_default().to_string()));
            }
            children.push(("aws_lb_listener", listener_arn));
        }
    }
    elbv2_tagged(elb, found, &children).await;
}

/// Records those of `arns` tagged with the stack; returns their ARNs.
async fn elbv2_tagged(elb: &aws_sdk_elasticloadbalancingv2::Client, found: &mut Found, arns: &[(&str, String)]) -> Vec<String> {
    let mut ours = Vec::new();
    for chunk in arns.chunks(20) {
        let tags = elb.describe_tags().set_resource_arns(Some(chunk.iter().map(|(_, a)| a.clone()).collect())).send().await.expect("DescribeTags");
        for d in tags.tag_descriptions() {
            let arn = d.resource_arn().unwrap_or_default();
            let type_name = chunk.iter().find(|(_, a)| a == arn).map_or("?", |(t, _)| *t);
            let before = found.out.values().map(Vec::len).sum::<usize>();
            found.add(type_name, arn, d.tags().iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())));
            if found.out.values().map(Vec::len).sum::<usize>() > before {
                ours.push(arn.to_string());
            }
        }
    }
    ours
}

async fn ecs(ecs: &aws_sdk_ecs::Client, found: &mut Found) {
    use aws_sdk_ecs::types::ClusterField;
    let pairs = |tags: &[aws_sdk_ecs::types::Tag]| -> Vec<(String, String)> {
        tags.iter().map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string())).collect()
    };
    let clusters = ecs.list_clusters().send().await.expect("ListClusters");
    for chunk in clusters.cluster_arns().chunks(100) {
        let described = ecs.describe_clusters().set_clusters(Some(chunk.to_vec())).include(ClusterField::Tags).send().await.expect("DescribeClusters");
        for c in described.clusters().iter().filter(|c| c.status() == Some("ACTIVE")) {
            let tags = pairs(c.tags());
            found.add("aws_ecs_cluster", c.cluster_arn().unwrap_or_default(), tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
    }
    // Services, like task definition revisions, are left to the tagging API, which lists them
    // (a tenant's service lives in base's cluster: every cluster would be walked on each check).
    // Task definition revisions are left to the tagging API, which lists them (in moto too):
    // describing every revision of every stack on each check would make a crash matrix slow.
    // Capacity providers are left out: moto answers DescribeCapacityProviders without names by
    // a 500, and their name is unique in the account, so AWS refuses a second one of the same.
}

async fn iam(iam: &aws_sdk_iam::Client, found: &mut Found) {
    let roles = iam.list_roles().send().await.expect("ListRoles");
    for role in roles.roles() {
        let tags = iam.list_role_tags().role_name(role.role_name()).send().await.expect("ListRoleTags");
        found.add("aws_iam_role", role.role_name(), tags.tags().iter().map(|t| (t.key(), t.value())));
    }
    // Instance profiles are left out: moto answers ListInstanceProfileTags of an untagged profile
    // by a 500, and their name is unique in the account, so AWS refuses a second one.
}

async fn secrets(secrets: &aws_sdk_secretsmanager::Client, found: &mut Found) {
    let listed = secrets.list_secrets().send().await.expect("ListSecrets");
    // Secrets scheduled for deletion are not listed (AWS keeps them, tagged, for their recovery
    // window): what is listed is live.
    for s in listed.secret_list().iter().filter(|s| s.deleted_date().is_none()) {
        found.add(
            "aws_secretsmanager_secret",
            s.arn().unwrap_or_default(),
            s.tags().iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
        );
    }
}

async fn ecr(ecr: &aws_sdk_ecr::Client, found: &mut Found) {
    let repos = ecr.describe_repositories().send().await.expect("DescribeRepositories");
    for r in repos.repositories() {
        let arn = r.repository_arn().unwrap_or_default();
        let tags = ecr.list_tags_for_resource().resource_arn(arn).send().await.expect("ListTagsForResource");
        found.add("aws_ecr_repository", r.repository_name().unwrap_or_default(), tags.tags().iter().map(|t| (t.key(), t.value())));
    }
}

async fn autoscaling(asg: &aws_sdk_autoscaling::Client, found: &mut Found) {
    let groups = asg.describe_auto_scaling_groups().send().await.expect("DescribeAutoScalingGroups");
    for g in groups.auto_scaling_groups() {
        found.add(
            "aws_autoscaling_group",
            g.auto_scaling_group_name().unwrap_or_default(),
            g.tags().iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
        );
    }
}
