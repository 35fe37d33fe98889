//! `aws_ecs_service`: an ECS service, keeping a number of tasks of one task definition running,
//! on capacity providers, behind load balancer target groups.
//!
//! Its id is the service ARN in AWS's long format, `arn:…:service/CLUSTER/NAME`, which names
//! the cluster: reads group ids by cluster and describe them [`DESCRIBE_SERVICES_BATCH`] at a
//! time, with their tags. Changing the task definition, the desired count, the capacity provider
//! strategy (with a forced new deployment, as AWS requires), the network configuration or the
//! deployment settings is one UpdateService; the name, the cluster and the load balancers force
//! a new service (load balancers as in Terraform's provider of old: a replacement is the path
//! that works whatever the deployment controller). Delete
//! scales the service to 0, deletes it and waits until ECS reports it `INACTIVE`.
//!
//! AWS refuses a CreateService for a name in use by an `ACTIVE` or `DRAINING` service, and moto
//! (5.2.5) silently replaces that service instead, so create looks first: an `ACTIVE` service
//! carrying this resource's own ownership tags (left by a run that crashed before saving state)
//! is adopted and brought in line; any other is refused.
//!
//! moto (5.2.5) drops `capacityProviderStrategy` and `deploymentConfiguration` from CreateService
//! (it reads back `launchType: EC2`), so against moto a read shows no strategy where AWS would
//! show the one created: moto's gap, not drift.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, DeploymentConfiguration, LoadBalancer as SdkLoadBalancer,
    NetworkConfiguration as SdkNetwork, PropagateTags, Service, ServiceField,
};
use clawform_core::{Applied, FieldError, OpContext, ProviderError, Resource, Val};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::ecs::{check_block_count, check_name, EcsTags};
use crate::error::sdk;
use crate::handler::{ArnForm, AwsResource};
use crate::support::check_tag_count;
use crate::support::opt;
use crate::support::tags::{create_tags, sync_tags, taken, user_tags, Taken};
use crate::support::{has_code_and_message, poll, retry_while, wait_for, Backoff};

/// DescribeServices takes "up to 10 services to describe in a single operation" (ECS API
/// reference); moto (5.2.5) takes more, AWS does not.
pub const DESCRIBE_SERVICES_BATCH: usize = 10;

/// Capacity providers in one strategy: "A capacity provider strategy can contain a maximum of
/// 20 capacity providers" (ECS API reference, CreateService).
pub const MAX_STRATEGY_ITEMS: usize = 20;

/// Target groups per service: 5 (ECS service quotas, "Target groups per service").
pub const MAX_LOAD_BALANCERS: usize = 5;

/// Subnets and security groups of an `awsvpc` configuration: "There's a limit of 16 subnets"
/// and "a limit of 5 security groups" (ECS API reference, AwsVpcConfiguration).
pub const MAX_SUBNETS: usize = 16;
/// See [`MAX_SUBNETS`].
pub const MAX_SECURITY_GROUPS: usize = 5;

/// The deployment settings of a rolling-update (ECS controller) replica service when none are
/// given: 100 % healthy minimum, 200 % maximum (ECS API reference, DeploymentConfiguration).
const DEFAULT_DEPLOYMENT: (i32, i32) = (100, 200);

/// How long delete waits for a service to drain its tasks and become `INACTIVE`; Terraform's AWS
/// provider allows 20 minutes.
const DELETE_TIMEOUT: Duration = Duration::from_secs(1200);

/// How long CreateService and UpdateService are retried while what they name is settling: the
/// Terraform AWS provider's `propagationTimeout` plus `serviceCreateTimeout` (2 + 2 minutes,
/// internal/service/ecs/service.go, `serviceCreateWithRetry` and `resourceServiceUpdate`).
const PROPAGATION_TIMEOUT: Duration = Duration::from_secs(4 * 60);

/// How long create and update wait for the service to be `ACTIVE`: the Terraform AWS provider's
/// create and update timeouts for `aws_ecs_service` (20 minutes, `waitServiceActive`).
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// Messages of `InvalidParameterException` (ECS's code for many refusals) that clear by
/// themselves right after a related change, as the Terraform AWS provider lists them
/// (internal/service/ecs/service.go): the target group's listener rule was created a moment ago
/// ("The target group … does not have an associated load balancer"), the account's first
/// cluster is still creating ECS's service-linked role, or a new IAM role passed to the service
/// has not propagated.
const SETTLING_MESSAGES: &[&str] = &[
    "does not have an associated load balancer",
    "Unable to assume the service linked role",
    "verify that the ECS service role being passed has the proper permissions",
];

/// Why a CreateService refusal is worth another try: one of [`SETTLING_MESSAGES`], or
/// `ClusterNotFoundException` for a cluster created a moment ago (Terraform:
/// `serviceCreateWithRetry`).
pub(crate) fn create_refusal_settling(err: &ProviderError) -> Option<&'static str> {
    if err.has_code("ClusterNotFoundException") {
        return Some("ECS does not know the new cluster yet");
    }
    update_refusal_settling(err)
}

/// Why an UpdateService refusal is worth another try: a message of [`SETTLING_MESSAGES`]
/// (Terraform's `resourceServiceUpdate` retries the load balancer and service role ones; the
/// service-linked role one cannot occur once the service exists, and is harmless to include).
/// The cluster of an existing service is not new, so its NotFound fails at once.
pub(crate) fn update_refusal_settling(err: &ProviderError) -> Option<&'static str> {
    SETTLING_MESSAGES
        .iter()
        .any(|m| has_code_and_message(err, "InvalidParameterException", m))
        .then_some("a target group, role or cluster created a moment ago has not settled in ECS yet")
}

/// What a wait for `ACTIVE` decides from the service's status (`None`: not listed yet, which is
/// pending right after CreateService).
fn service_active(id: &str, status: Option<&str>) -> Result<bool, ProviderError> {
    match status {
        Some("ACTIVE") => Ok(true),
        None => Ok(false),
        Some(other) => Err(ProviderError::api(format!("ecs service {id} is {other} while waiting for it to be ACTIVE"))),
    }
}

/// Waits until service `arn` of `cluster` is `ACTIVE` (Terraform: `waitServiceActive`, after
/// CreateService and UpdateService).
async fn wait_active(aws: &Clients, cluster: &str, arn: &str) -> Result<(), ProviderError> {
    poll(&format!("ecs service {arn} to be ACTIVE"), Backoff::states(ACTIVE_TIMEOUT), |_| async move {
        let found = describe_in(aws, cluster, vec![arn.to_string()]).await?;
        let status = found.iter().find(|s| s.service_arn() == Some(arn)).and_then(|s| s.status());
        Ok(service_active(arn, status)?.then_some(()))
    })
    .await
}

/// An ECS service, as the Terraform AWS provider's `aws_ecs_service`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EcsService {
    /// The service's name: up to 255 letters, digits, underscores and hyphens, unique in its
    /// cluster.
    pub name: Val<String>,
    /// The cluster's name or ARN.
    pub cluster: Val<String>,
    /// The task definition to run: `FAMILY:REVISION`, or a revision's full ARN.
    pub task_definition: Val<String>,
    /// How many tasks to keep running. Left out, the service is created with 0 (Terraform's
    /// default) and clawform leaves the count alone afterwards, for an auto scaling policy to own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_count: Option<Val<i32>>,
    /// Where tasks are placed; without it, the cluster's default strategy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capacity_provider_strategy: Vec<CapacityProviderStrategy>,
    /// Target groups the tasks register with (at most 5; changing them makes a new service).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_balancer: Vec<LoadBalancer>,
    /// The `awsvpc` network of the tasks (at most one block); needed when the task definition
    /// uses network mode `awsvpc`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_configuration: Vec<NetworkConfiguration>,
    /// The share of the desired count that must stay running during a deployment, in percent
    /// (AWS's default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_minimum_healthy_percent: Option<Val<i32>>,
    /// The most tasks that may run during a deployment, in percent of the desired count (AWS's
    /// default 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_maximum_percent: Option<Val<i32>>,
    /// Whether ECS Exec may open shells in the tasks (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_execute_command: Option<Val<bool>>,
    /// Whose tags the tasks get: `SERVICE`, `TASK_DEFINITION` or `NONE` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagate_tags: Option<Val<String>>,
    /// Tags.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, Val<String>>,
}

/// One `capacity_provider_strategy` block.
pub use super::StrategyItem as CapacityProviderStrategy;

/// One `load_balancer` block: a target group and the container port it sends traffic to.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancer {
    /// The target group's ARN.
    pub target_group_arn: Val<String>,
    /// The container, by its name in the task definition.
    pub container_name: Val<String>,
    /// The container's port, 1 to 65535.
    pub container_port: Val<i32>,
}

/// The `network_configuration` block: where `awsvpc` tasks get their network interfaces.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfiguration {
    /// Subnet ids, 1 to 16 (a list, or one reference to a list such as a stack output).
    pub subnets: Val<Vec<Val<String>>>,
    /// Security group ids, at most 5; without them, the VPC's default group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Val<Vec<Val<String>>>>,
    /// Whether tasks get a public IP address (Fargate only; default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign_public_ip: Option<Val<bool>>,
}

impl Resource for EcsService {
    const TYPE: &'static str = "aws_ecs_service";
    const COMPUTED: &'static [&'static str] = &["id", "arn"];
    const FORCE_NEW: &'static [&'static str] = &["name", "cluster", "load_balancer"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&["name", "cluster"]);

    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(name) = self.name.literal() {
            check_name("name", name, &mut errors);
        }
        if let Some(cluster) = self.cluster.literal().filter(|c| !c.starts_with("arn:")) {
            check_name("cluster", cluster, &mut errors);
        }
        if let Some(td) = self.task_definition.literal() {
            let family_revision = !td.starts_with("arn:") && td.split(':').count() <= 2 && !td.is_empty();
            if !(family_revision || td.starts_with("arn:") && td.contains(":task-definition/")) {
                errors.push(FieldError::new("task_definition", format!("`{td}` is not a task definition; expected FAMILY:REVISION or a task definition ARN")));
            }
        }
        if let Some(n) = self.desired_count.as_ref().and_then(Val::literal).filter(|n| **n < 0) {
            errors.push(FieldError::new("desired_count", format!("is {n}; expected 0 or more")));
        }
        self.check_strategy(&mut errors);
        check_block_count("load_balancer", &self.load_balancer, 0, MAX_LOAD_BALANCERS, &mut errors);
        for (i, lb) in self.load_balancer.iter().enumerate() {
            if let Some(arn) = lb.target_group_arn.literal().filter(|a| !a.starts_with("arn:") || !a.contains(":targetgroup/")) {
                errors.push(FieldError::new(
                    format!("load_balancer.{i}.target_group_arn"),
                    format!("`{arn}` is not a target group ARN; expected arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID"),
                ));
            }
            if let Some(port) = lb.container_port.literal().filter(|p| !(1..=65535).contains(*p)) {
                errors.push(FieldError::new(format!("load_balancer.{i}.container_port"), format!("is {port}; expected 1 to 65535")));
            }
        }
        check_block_count("network_configuration", &self.network_configuration, 0, 1, &mut errors);
        for (i, n) in self.network_configuration.iter().enumerate() {
            let at = format!("network_configuration.{i}");
            if let Some(subnets) = n.subnets.literal() {
                if subnets.is_empty() || subnets.len() > MAX_SUBNETS {
                    errors.push(FieldError::new(format!("{at}.subnets"), format!("has {} subnets; expected 1 to {MAX_SUBNETS}", subnets.len())));
                }
            }
            if let Some(groups) = n.security_groups.as_ref().and_then(Val::literal).filter(|g| g.len() > MAX_SECURITY_GROUPS) {
                errors.push(FieldError::new(
                    format!("{at}.security_groups"),
                    format!("has {} security groups; expected at most {MAX_SECURITY_GROUPS}", groups.len()),
                ));
            }
            // Only Fargate tasks can have a public IP; a strategy of EC2 providers cannot.
            let public = n.assign_public_ip.as_ref().and_then(Val::literal) == Some(&true);
            let providers: Option<Vec<&String>> = self.capacity_provider_strategy.iter().map(|s| s.capacity_provider.literal()).collect();
            if public && providers.is_some_and(|p| !p.is_empty() && !p.iter().any(|p| p.starts_with("FARGATE"))) {
                errors.push(FieldError::new(
                    format!("{at}.assign_public_ip"),
                    "is true for tasks on EC2 capacity providers; AWS gives public IPs to Fargate tasks only, expected false",
                ));
            }
        }
        let min = self.deployment_minimum_healthy_percent.as_ref().and_then(Val::literal);
        let max = self.deployment_maximum_percent.as_ref().and_then(Val::literal);
        for (path, value) in [("deployment_minimum_healthy_percent", min), ("deployment_maximum_percent", max)] {
            if let Some(v) = value.filter(|v| **v < 0) {
                errors.push(FieldError::new(path, format!("is {v}; expected a percentage, 0 or more")));
            }
        }
        if let (Some(min), Some(max)) = (min, max) {
            if min > max {
                errors.push(FieldError::new(
                    "deployment_maximum_percent",
                    format!("is {max}, below deployment_minimum_healthy_percent {min}; expected minimum <= maximum"),
                ));
            }
        }
        if let Some(p) = self.propagate_tags.as_ref().and_then(Val::literal) {
            if !matches!(p.as_str(), "SERVICE" | "TASK_DEFINITION" | "NONE") {
                errors.push(FieldError::new("propagate_tags", format!("`{p}` is not a tag source; expected SERVICE, TASK_DEFINITION or NONE")));
            }
        }
        check_tag_count(&self.tags, <Self as AwsResource>::TAG_LIMIT, &mut errors);
        errors
    }
}

impl EcsService {
    fn check_strategy(&self, out: &mut Vec<FieldError>) {
        let items = &self.capacity_provider_strategy;
        check_block_count("capacity_provider_strategy", items, 0, MAX_STRATEGY_ITEMS, out);
        let mut with_base = 0;
        for (i, item) in items.iter().enumerate() {
            let at = format!("capacity_provider_strategy.{i}");
            if let Some(name) = item.capacity_provider.literal() {
                if items[..i].iter().any(|o| o.capacity_provider.literal() == Some(name)) {
                    out.push(FieldError::new(format!("{at}.capacity_provider"), format!("`{name}` is listed twice; expected each provider once")));
                }
            }
            if let Some(w) = item.weight.as_ref().and_then(Val::literal).filter(|w| !(0..=1000).contains(*w)) {
                out.push(FieldError::new(format!("{at}.weight"), format!("is {w}; expected 0 to 1000")));
            }
            if let Some(b) = item.base.as_ref().and_then(Val::literal) {
                if !(0..=100_000).contains(b) {
                    out.push(FieldError::new(format!("{at}.base"), format!("is {b}; expected 0 to 100000")));
                }
                if *b > 0 {
                    with_base += 1;
                    if with_base > 1 {
                        out.push(FieldError::new(format!("{at}.base"), "is the second base in the strategy; expected a base on one capacity provider at most"));
                    }
                }
            }
        }
        // AWS: with several providers all weighing 0, "any RunTask or CreateService actions
        // using the capacity provider strategy will fail".
        let weights: Option<Vec<i32>> = items.iter().map(|i| i.weight.as_ref().map_or(Some(&0), Val::literal).copied()).collect();
        if items.len() > 1 && weights.is_some_and(|w| w.iter().all(|w| *w == 0)) {
            out.push(FieldError::new("capacity_provider_strategy", "gives every capacity provider weight 0; expected a weight above 0 on at least one"));
        }
    }

    fn strategy(&self) -> Result<Vec<CapacityProviderStrategyItem>, ProviderError> {
        super::sdk_strategy(&self.capacity_provider_strategy, "aws_ecs_service: capacity_provider_strategy")
    }

    /// The strategy with AWS's defaults filled in, for comparisons.
    fn strategy_key(&self) -> Result<Vec<(String, i32, i32)>, ProviderError> {
        Ok(self.strategy()?.iter().map(|s| (s.capacity_provider().to_string(), s.weight(), s.base())).collect())
    }

    fn load_balancers(&self) -> Result<Vec<SdkLoadBalancer>, ProviderError> {
        self.load_balancer
            .iter()
            .map(|lb| {
                Ok(SdkLoadBalancer::builder()
                    .target_group_arn(lb.target_group_arn.value()?)
                    .container_name(lb.container_name.value()?)
                    .container_port(*lb.container_port.value()?)
                    .build())
            })
            .collect()
    }

    /// Subnets, security groups and public IP as plain values; `None` without a block.
    fn network_values(&self) -> Result<Option<Awsvpc>, ProviderError> {
        let Some(n) = self.network_configuration.first() else { return Ok(None) };
        let subnets = strings(&n.subnets)?;
        let groups = n.security_groups.as_ref().map(strings).transpose()?.unwrap_or_default();
        Ok(Some((subnets, groups, opt(&n.assign_public_ip)?.copied().unwrap_or(false))))
    }

    fn network(&self) -> Result<Option<SdkNetwork>, ProviderError> {
        let Some((subnets, groups, public)) = self.network_values()? else { return Ok(None) };
        let vpc = AwsVpcConfiguration::builder()
            .set_subnets(Some(subnets))
            .set_security_groups((!groups.is_empty()).then_some(groups))
            .assign_public_ip(if public { AssignPublicIp::Enabled } else { AssignPublicIp::Disabled })
            .build()
            .map_err(|e| ProviderError::invalid(format!("aws_ecs_service: network_configuration: {e}")))?;
        Ok(Some(SdkNetwork::builder().awsvpc_configuration(vpc).build()))
    }

    /// The network as a set, for comparisons: AWS returns subnets and groups in its own order.
    fn network_key(&self) -> Result<Option<Awsvpc>, ProviderError> {
        Ok(self.network_values()?.map(|(mut s, mut g, p)| {
            s.sort();
            g.sort();
            (s, g, p)
        }))
    }

    /// The deployment settings in effect: the given ones, or AWS's defaults.
    fn deployment(&self) -> Result<(i32, i32), ProviderError> {
        Ok((
            opt(&self.deployment_minimum_healthy_percent)?.copied().unwrap_or(DEFAULT_DEPLOYMENT.0),
            opt(&self.deployment_maximum_percent)?.copied().unwrap_or(DEFAULT_DEPLOYMENT.1),
        ))
    }

    /// The deployment settings for CreateService: only when some are given.
    fn deployment_config(&self) -> Result<Option<DeploymentConfiguration>, ProviderError> {
        if self.deployment_minimum_healthy_percent.is_none() && self.deployment_maximum_percent.is_none() {
            return Ok(None);
        }
        let (min, max) = self.deployment()?;
        Ok(Some(DeploymentConfiguration::builder().minimum_healthy_percent(min).maximum_percent(max).build()))
    }

    fn execute_command(&self) -> Result<bool, ProviderError> {
        Ok(opt(&self.enable_execute_command)?.copied().unwrap_or(false))
    }

    fn tag_source(&self) -> Result<PropagateTags, ProviderError> {
        Ok(PropagateTags::from(opt(&self.propagate_tags)?.map_or("NONE", String::as_str)))
    }

    /// What to do about a service that already has this name in the cluster: `None` when it is
    /// `INACTIVE` (its name is free again), its adoption when it is this resource's own and
    /// `ACTIVE`, and a refusal otherwise.
    async fn take_over(&self, aws: &Clients, ctx: &OpContext, existing: &Service) -> Result<Option<Applied>, ProviderError> {
        let (name, cluster) = (self.name.value()?, self.cluster.value()?);
        let arn = existing.service_arn().unwrap_or_default();
        match (existing.status(), taken(existing.tags(), ctx)) {
            (Some("INACTIVE"), _) => Ok(None),
            (Some("ACTIVE"), Taken::Ours) => self.adopt_id(aws, ctx, arn).await.map(Some),
            (Some("ACTIVE"), Taken::Theirs(whose)) => Err(ProviderError::api(format!(
                "ecs CreateService: a service named `{name}` already exists in cluster {cluster} ({whose}): {arn}; expected a name no active service of the cluster has"
            ))),
            (status, _) => Err(ProviderError::api(format!(
                "ecs CreateService: service `{name}` of cluster {cluster} is {} (being deleted): {arn}; expected to wait until it is INACTIVE, then apply again",
                status.unwrap_or("in an unknown state")
            ))),
        }
    }
}

/// An `awsvpc` network as plain values: subnets, security groups, and whether tasks get a
/// public IP.
type Awsvpc = (Vec<String>, Vec<String>, bool);

/// The values of a list attribute that may be a list of references or one reference to a list.
fn strings(list: &Val<Vec<Val<String>>>) -> Result<Vec<String>, ProviderError> {
    list.value()?.iter().map(|s| Ok(s.value()?.clone())).collect()
}

/// The cluster a service ARN names: `arn:…:service/CLUSTER/NAME` (AWS's long ARN format; the
/// old `arn:…:service/NAME` does not say).
pub fn cluster_of(arn: &str) -> Option<&str> {
    let (_, path) = arn.split_once(":service/")?;
    let (cluster, name) = path.split_once('/')?;
    (!cluster.is_empty() && !name.is_empty()).then_some(cluster)
}

/// Service ARNs grouped by cluster (in the order clusters first appear) and cut into batches of
/// [`DESCRIBE_SERVICES_BATCH`], one DescribeServices call each.
pub fn service_batches(ids: &[String]) -> Result<Vec<(String, Vec<String>)>, ProviderError> {
    let mut by_cluster: IndexMap<&str, Vec<String>> = IndexMap::new();
    for id in ids {
        let cluster = cluster_of(id).ok_or_else(|| {
            ProviderError::invalid(format!(
                "aws_ecs_service: `{id}` is not a service ARN that names its cluster; expected arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/NAME (the account setting serviceLongArnFormat, on by default)"
            ))
        })?;
        by_cluster.entry(cluster).or_default().push(id.clone());
    }
    Ok(by_cluster
        .into_iter()
        .flat_map(|(cluster, ids)| ids.chunks(DESCRIBE_SERVICES_BATCH).map(|c| (cluster.to_string(), c.to_vec())).collect::<Vec<_>>())
        .collect())
}

/// Describes up to [`DESCRIBE_SERVICES_BATCH`] services of one cluster, by name or ARN, with
/// their tags. A cluster that is gone has no services.
async fn describe_in(aws: &Clients, cluster: &str, services: Vec<String>) -> Result<Vec<Service>, ProviderError> {
    let out = aws
        .ecs
        .describe_services()
        .cluster(cluster)
        .set_services(Some(services))
        .include(ServiceField::Tags)
        .send()
        .await
        .map_err(|e| sdk("ecs DescribeServices", e));
    match out {
        Ok(out) => Ok(out.services().to_vec()),
        Err(e) if e.has_code("ClusterNotFoundException") => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Describes services by ARN, in batches by cluster.
async fn describe_services(aws: &Clients, ids: &[String]) -> Result<Vec<Service>, ProviderError> {
    let mut found = Vec::new();
    for (cluster, batch) in service_batches(ids)? {
        found.extend(describe_in(aws, &cluster, batch).await?);
    }
    Ok(found)
}

/// The service `id` names among described ones, unless it is `INACTIVE` (deleted: ECS shows
/// deleted services for a while).
fn find<'a>(found: &'a [Service], id: &str) -> Option<&'a Service> {
    found.iter().find(|s| s.service_arn() == Some(id) && s.status() != Some("INACTIVE"))
}

/// A service as stored: its configurable attributes as AWS reports them, then the computed ones.
fn stored(s: &Service, id: &str) -> Json {
    let mut attrs = Map::new();
    attrs.insert("id".into(), json!(id));
    attrs.insert("name".into(), json!(s.service_name()));
    attrs.insert("cluster".into(), json!(s.cluster_arn()));
    attrs.insert("task_definition".into(), json!(s.task_definition()));
    attrs.insert("desired_count".into(), json!(s.desired_count()));
    // Against moto (5.2.5) this is empty after a create: it drops the strategy (see the module
    // comment).
    let strategy: Vec<Json> =
        s.capacity_provider_strategy().iter().map(|i| json!({ "capacity_provider": i.capacity_provider(), "weight": i.weight(), "base": i.base() })).collect();
    // A service created with a strategy reports it in AWS. An empty answer is taken as "not
    // reported" and left out of the comparison rather than shown as drift, because moto 5.2.5
    // drops the strategy on every create (named in clawform-testkit). The cost: a service moved
    // to a launch type outside clawform is not reported as drifted here.
    if !strategy.is_empty() {
        attrs.insert("capacity_provider_strategy".into(), Json::Array(strategy));
    }
    let lbs: Vec<Json> = s
        .load_balancers()
        .iter()
        .filter_map(|lb| {
            Some(json!({ "target_group_arn": lb.target_group_arn()?, "container_name": lb.container_name(), "container_port": lb.container_port() }))
        })
        .collect();
    attrs.insert("load_balancer".into(), Json::Array(lbs));
    let network: Vec<Json> = s
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration())
        .map(|v| {
            json!({
                "subnets": v.subnets(),
                "security_groups": v.security_groups(),
                "assign_public_ip": v.assign_public_ip() == Some(&AssignPublicIp::Enabled),
            })
        })
        .into_iter()
        .collect();
    attrs.insert("network_configuration".into(), Json::Array(network));
    if let Some(d) = s.deployment_configuration() {
        if let Some(min) = d.minimum_healthy_percent() {
            attrs.insert("deployment_minimum_healthy_percent".into(), json!(min));
        }
        if let Some(max) = d.maximum_percent() {
            attrs.insert("deployment_maximum_percent".into(), json!(max));
        }
    }
    attrs.insert("enable_execute_command".into(), json!(s.enable_execute_command()));
    if let Some(p) = s.propagate_tags() {
        attrs.insert("propagate_tags".into(), json!(p.as_str()));
    }
    attrs.insert("tags".into(), Json::Object(user_tags(s.tags())));
    attrs.insert("arn".into(), json!(s.service_arn()));
    Json::Object(attrs)
}

fn applied(arn: &str) -> Applied {
    let mut computed = Map::new();
    computed.insert("arn".into(), json!(arn));
    Applied { id: arn.to_string(), computed }
}

#[async_trait]
impl AwsResource for EcsService {
    const ARN: ArnForm = ArnForm::Whole { service: "ecs", prefix: "service/" };

    async fn create(&self, aws: &Clients, ctx: &OpContext) -> Result<Applied, ProviderError> {
        let (name, cluster) = (self.name.value()?, self.cluster.value()?);
        // A create that may have left this service behind (state's journal says so) looks for
        // it first: AWS refuses a name in use, and moto replaces the service. Otherwise AWS's
        // refusal ("not idempotent", below) is what makes the look.
        if ctx.leftover_possible {
            if let Some(existing) = describe_in(aws, cluster, vec![name.clone()]).await?.first() {
                if let Some(done) = self.take_over(aws, ctx, existing).await? {
                    return Ok(done);
                }
            }
        }
        let strategy = self.strategy()?;
        let lbs = self.load_balancers()?;
        let call = aws
            .ecs
            .create_service()
            .cluster(cluster)
            .service_name(name)
            .task_definition(self.task_definition.value()?)
            .desired_count(opt(&self.desired_count)?.copied().unwrap_or(0))
            .set_capacity_provider_strategy((!strategy.is_empty()).then_some(strategy))
            .set_load_balancers((!lbs.is_empty()).then_some(lbs))
            .set_network_configuration(self.network()?)
            .set_deployment_configuration(self.deployment_config()?)
            .set_enable_execute_command(opt(&self.enable_execute_command)?.copied())
            .set_propagate_tags(opt(&self.propagate_tags)?.map(|p| PropagateTags::from(p.as_str())))
            .set_tags(Some(create_tags::<EcsTags>(&self.tags, ctx)?));
        let out = retry_while(&format!("what ecs service {name} names to settle"), PROPAGATION_TIMEOUT, create_refusal_settling, || {
            let call = call.clone();
            async move { call.send().await.map_err(|e| sdk("ecs CreateService", e)) }
        })
        .await;
        match out {
            Ok(out) => {
                let service = out.service().ok_or_else(|| ProviderError::api("ecs CreateService returned no service"))?;
                let arn = service.service_arn().ok_or_else(|| ProviderError::api("ecs CreateService returned no service ARN"))?;
                // The answer carries the service's status: wait only when it is not ACTIVE yet.
                // Not undone on failure: a later apply adopts the service by its ownership tags.
                if !service_active(arn, service.status())? {
                    wait_active(aws, cluster, arn).await?;
                }
                Ok(applied(arn))
            }
            // Another run created it between the look and the create ("Creation of service was
            // not idempotent"): the same rules apply. ECS uses `InvalidParameterException` for
            // many refusals; only the message names this one.
            Err(e) if e.has_code("InvalidParameterException") && e.message.contains("idempotent") => {
                let again = describe_in(aws, cluster, vec![name.clone()]).await?;
                match again.first() {
                    Some(existing) => self.take_over(aws, ctx, existing).await?.ok_or(e),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError> {
        // Plans replace a service whose load balancers changed; only an adoption can get here
        // with a change, which UpdateService cannot make for these services.
        if self.load_balancers()? != prior.load_balancers()? {
            return Err(ProviderError::invalid(format!(
                "aws_ecs_service {id}: load_balancer cannot change in place; expected the same target groups, or a new name so the service is replaced"
            )));
        }
        let cluster = self.cluster.value()?;
        let mut call = aws.ecs.update_service().cluster(cluster).service(id);
        let mut changed = false;
        let task_definition = self.task_definition.value()?;
        if task_definition != prior.task_definition.value()? {
            call = call.task_definition(task_definition);
            changed = true;
        }
        if let Some(count) = opt(&self.desired_count)? {
            if Some(count) != opt(&prior.desired_count)? {
                call = call.desired_count(*count);
                changed = true;
            }
        }
        if self.strategy_key()? != prior.strategy_key()? {
            // AWS takes a new strategy only with a new deployment ("forceNewDeployment").
            call = call.set_capacity_provider_strategy(Some(self.strategy()?)).force_new_deployment(true);
            changed = true;
        }
        if self.network_key()? != prior.network_key()? {
            let network = self.network()?.ok_or_else(|| {
                ProviderError::invalid(format!(
                    "aws_ecs_service {id}: network_configuration cannot be removed in place; expected a block, or a new name so the service is replaced"
                ))
            })?;
            call = call.network_configuration(network);
            changed = true;
        }
        let (min, max) = self.deployment()?;
        if (min, max) != prior.deployment()? {
            call = call.deployment_configuration(DeploymentConfiguration::builder().minimum_healthy_percent(min).maximum_percent(max).build());
            changed = true;
        }
        if self.execute_command()? != prior.execute_command()? {
            call = call.enable_execute_command(self.execute_command()?);
            changed = true;
        }
        if self.tag_source()? != prior.tag_source()? {
            call = call.propagate_tags(self.tag_source()?);
            changed = true;
        }
        if changed {
            let out = retry_while(&format!("what ecs service {id} names to settle"), PROPAGATION_TIMEOUT, update_refusal_settling, || {
                let call = call.clone();
                async move { call.send().await.map_err(|e| sdk("ecs UpdateService", e)) }
            })
            .await?;
            // The answer carries the service's status: wait only when it is not ACTIVE.
            if !service_active(id, out.service().and_then(|s| s.status()))? {
                wait_active(aws, cluster, id).await?;
            }
        }
        sync_tags::<EcsTags>(aws, id, &prior.tags, &self.tags).await?;
        Ok(applied(id))
    }

    async fn delete(aws: &Clients, id: &str, prior: &Json) -> Result<(), ProviderError> {
        let cluster = cluster_of(id)
            .or_else(|| prior.get("cluster").and_then(Json::as_str))
            .ok_or_else(|| ProviderError::invalid(format!("aws_ecs_service {id}: the ARN does not name the cluster and state has none")))?
            .to_string();
        let found = describe_in(aws, &cluster, vec![id.to_string()]).await?;
        let Some(service) = find(&found, id) else {
            return Err(ProviderError::not_found(format!("ecs DeleteService: ServiceNotFoundException: service {id} does not exist")));
        };
        // A DRAINING service is being deleted already: only the wait is left.
        if service.status() == Some("ACTIVE") {
            // Scaling to 0 first lets the tasks stop as in any deployment (deregistered from
            // their target groups) before the service goes.
            if service.desired_count() > 0 {
                aws.ecs.update_service().cluster(&cluster).service(id).desired_count(0).send().await.map_err(|e| sdk("ecs UpdateService", e))?;
            }
            aws.ecs.delete_service().cluster(&cluster).service(id).force(true).send().await.map_err(|e| sdk("ecs DeleteService", e))?;
        }
        wait_for(&format!("ecs service {id} to become INACTIVE"), DELETE_TIMEOUT, || async {
            let found = describe_in(aws, &cluster, vec![id.to_string()]).await?;
            Ok(find(&found, id).is_none().then_some(()))
        })
        .await
    }

    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        let found = describe_services(aws, ids).await?;
        Ok(ids.iter().map(|id| find(&found, id).map(|s| stored(s, id))).collect())
    }

    /// Terraform's import id `CLUSTER/NAME`, or the service's ARN.
    async fn import_id(aws: &Clients, id: &str) -> Result<String, ProviderError> {
        if id.starts_with("arn:") {
            return Ok(id.to_string());
        }
        let Some((cluster, name)) = id.split_once('/').filter(|(c, n)| !c.is_empty() && !n.is_empty() && !n.contains('/')) else {
            return Err(ProviderError::invalid(format!("`{id}` is not an aws_ecs_service import id; expected CLUSTER/NAME or the service's ARN")));
        };
        let found = describe_in(aws, cluster, vec![name.to_string()]).await?;
        found
            .iter()
            .find(|s| s.service_name() == Some(name) && s.status() != Some("INACTIVE"))
            .and_then(|s| s.service_arn())
            .map(str::to_string)
            .ok_or_else(|| ProviderError::not_found(format!("there is no ECS service `{name}` in cluster `{cluster}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arns(cluster: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("arn:aws:ecs:us-west-2:123456789012:service/{cluster}/s{i}")).collect()
    }

    #[test]
    fn describes_go_ten_at_a_time_per_cluster() {
        let sizes = |ids: &[String]| service_batches(ids).unwrap().into_iter().map(|(c, b)| (c, b.len())).collect::<Vec<_>>();
        assert_eq!(sizes(&arns("a", 25)), vec![("a".into(), 10), ("a".into(), 10), ("a".into(), 5)]);
        assert_eq!(sizes(&arns("a", 10)), vec![("a".to_string(), 10)]);
        assert_eq!(sizes(&[]), Vec::<(String, usize)>::new(), "no ids, no call");
        let mixed: Vec<String> = arns("a", 3).into_iter().chain(arns("b", 12)).chain(arns("a", 9).into_iter().skip(3)).collect();
        assert_eq!(sizes(&mixed), vec![("a".into(), 9), ("b".into(), 10), ("b".into(), 2)]);
        let err = service_batches(&["arn:aws:ecs:us-west-2:123456789012:service/old-style".into()]).unwrap_err();
        assert!(err.message.contains("not a service ARN that names its cluster"), "{err}");
    }

    fn invalid(text: &str) -> ProviderError {
        ProviderError::api(format!("ecs CreateService: InvalidParameterException: {text}")).with_code("InvalidParameterException")
    }

    #[test]
    fn create_retries_what_settles_and_nothing_else() {
        let no_lb = "The target group with targetGroupArn arn:aws:elasticloadbalancing:us-west-2:1:targetgroup/t/1 does not have an associated load balancer.";
        assert!(create_refusal_settling(&invalid(no_lb)).is_some());
        assert!(create_refusal_settling(&invalid("Unable to assume the service linked role. Please verify that the ECS service linked role exists.")).is_some());
        assert!(create_refusal_settling(
            &ProviderError::not_found("ecs CreateService: ClusterNotFoundException: Cluster not found.").with_code("ClusterNotFoundException")
        )
        .is_some());
        assert!(create_refusal_settling(&invalid("Creation of service was not idempotent.")).is_none());
        assert!(create_refusal_settling(&invalid("TaskDefinition not found.")).is_none());
        assert!(create_refusal_settling(&ProviderError::api(format!("ecs CreateService: ClientException: {no_lb}")).with_code("ClientException")).is_none());
    }

    #[test]
    fn update_does_not_retry_a_missing_cluster() {
        assert!(update_refusal_settling(&invalid("The target group t does not have an associated load balancer.")).is_some());
        assert!(update_refusal_settling(
            &ProviderError::not_found("ecs UpdateService: ClusterNotFoundException: Cluster not found.").with_code("ClusterNotFoundException")
        )
        .is_none());
    }

    #[test]
    fn a_service_is_awaited_until_active() {
        assert_eq!(service_active("s", Some("ACTIVE")), Ok(true));
        assert_eq!(service_active("s", None), Ok(false), "not listed yet");
        assert!(service_active("s", Some("DRAINING")).is_err());
    }

    #[test]
    fn cluster_comes_from_the_long_arn() {
        assert_eq!(cluster_of("arn:aws:ecs:us-west-2:123456789012:service/platform/openclaw-t"), Some("platform"));
        assert_eq!(cluster_of("arn:aws:ecs:us-west-2:123456789012:service/openclaw-t"), None);
    }

    fn service() -> EcsService {
        EcsService {
            name: "openclaw-t".into(),
            cluster: "platform".into(),
            task_definition: "openclaw-t:1".into(),
            desired_count: Some(1.into()),
            capacity_provider_strategy: vec![CapacityProviderStrategy { capacity_provider: "spot".into(), weight: Some(1.into()), base: Some(0.into()) }],
            load_balancer: vec![LoadBalancer {
                target_group_arn: "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/openclaw-t/0123456789abcdef".into(),
                container_name: "openclaw".into(),
                container_port: 8080.into(),
            }],
            network_configuration: vec![NetworkConfiguration {
                subnets: Val::Lit(vec!["subnet-1".into()]),
                security_groups: Some(Val::Lit(vec!["sg-1".into()])),
                assign_public_ip: Some(false.into()),
            }],
            ..Default::default()
        }
    }

    fn paths(s: &EcsService) -> Vec<String> {
        s.validate().into_iter().map(|e| e.path).collect()
    }

    #[test]
    fn validate_refuses_what_ecs_would() {
        assert!(paths(&service()).is_empty(), "{:?}", service().validate());
        let mut s = service();
        s.capacity_provider_strategy.push(CapacityProviderStrategy { capacity_provider: "spot".into(), weight: Some(2000.into()), base: Some(1.into()) });
        s.capacity_provider_strategy[0].base = Some(1.into());
        assert_eq!(
            paths(&s),
            vec!["capacity_provider_strategy.1.capacity_provider", "capacity_provider_strategy.1.weight", "capacity_provider_strategy.1.base"]
        );
        let mut s = service();
        s.network_configuration[0].assign_public_ip = Some(true.into());
        s.network_configuration[0].subnets = Val::Lit(vec![]);
        s.load_balancer[0].container_port = 0.into();
        s.task_definition = "a:b:c".into();
        assert_eq!(
            paths(&s),
            vec!["task_definition", "load_balancer.0.container_port", "network_configuration.0.subnets", "network_configuration.0.assign_public_ip"]
        );
        let mut s = service();
        s.deployment_minimum_healthy_percent = Some(150.into());
        s.deployment_maximum_percent = Some(100.into());
        s.propagate_tags = Some("TASK".into());
        assert_eq!(paths(&s), vec!["deployment_maximum_percent", "propagate_tags"]);
    }

    #[test]
    fn subnets_may_be_one_reference_to_a_list() {
        let yaml = "name: s\ncluster: c\ntask_definition: t:1\nnetwork_configuration:\n  - subnets: ${base.outputs.private_subnet_ids}\n    security_groups: [\"${base.outputs.sg}\"]\n";
        let s: EcsService = serde_yaml::from_str(yaml).unwrap();
        assert!(matches!(s.network_configuration[0].subnets, Val::Expr(_)));
        assert!(s.validate().is_empty());
        let stored = serde_json::to_value(&s).unwrap();
        assert_eq!(stored["network_configuration"][0]["subnets"], json!("${base.outputs.private_subnet_ids}"));
        assert_eq!(stored["network_configuration"][0]["security_groups"], json!(["${base.outputs.sg}"]));
        let resolved: EcsService = serde_json::from_value(json!({
            "name": "s", "cluster": "c", "task_definition": "t:1",
            "network_configuration": [{ "subnets": ["subnet-b", "subnet-a"], "security_groups": ["sg-1"] }]
        }))
        .unwrap();
        assert_eq!(resolved.network_key().unwrap(), Some((vec!["subnet-a".into(), "subnet-b".into()], vec!["sg-1".into()], false)));
    }
}
