//! `aws_lb`: an Application Load Balancer.
//!
//! Create waits until the load balancer is `active` and delete until it is gone and its network
//! interfaces with it, so that what depends on it (listeners) or what it depends on (subnets,
//! security groups) can follow at once. AWS refuses a second load balancer with the same name
//! and one with fewer than two subnets; moto (5.2.5) accepts both, so both are checked here
//! (a load balancer with the name that carries this resource's ownership tags, left by a run
//! that crashed before saving state, is adopted instead).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::Filter;
use aws_sdk_elasticloadbalancingv2::types::{
    IpAddressType, LoadBalancer, LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerStateEnum, LoadBalancerTypeEnum,
};
use clawform_core::{Applied, ErrorKind, FieldError, OpContext, ProviderError, Resource, Val};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::elbv2::{describe_by_arns, describe_tags, Elbv2Tags, DESCRIBE_LOAD_BALANCERS_BATCH};
use crate::error::sdk;
use crate::handler::{decode, ArnForm, AwsResource};
use crate::support::tags::{create_tags, sync_tags, taken, user_tags, Taken};
use crate::support::wait_for;
use crate::support::{opt, undo_create};

/// How long create and update wait for `active` and delete for the load balancer to be gone:
/// the Terraform AWS provider's create, update and delete timeouts for `aws_lb` (10 minutes
/// each, internal/service/elbv2/load_balancer.go).
const WAIT_TIMEOUT: Duration = Duration::from_secs(600);

/// The load balancer attribute behind `idle_timeout`, and AWS's default for it.
const IDLE_TIMEOUT_KEY: &str = "idle_timeout.timeout_seconds";
const IDLE_TIMEOUT_DEFAULT: i32 = 60;
/// The attribute behind `drop_invalid_header_fields` (AWS's default: false).
const DROP_INVALID_HEADERS_KEY: &str = "routing.http.drop_invalid_header_fields.enabled";

/// Security groups per Application Load Balancer (AWS's "Quotas for your Application Load
/// Balancers": 5).
const MAX_SECURITY_GROUPS: usize = 5;

/// An Application Load Balancer, as the Terraform AWS provider's `aws_lb`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Lb {
    /// The name: up to 32 letters, digits and hyphens, not starting or ending with a hyphen nor
    /// starting with `internal-`; unique in the account and region.
    pub name: Val<String>,
    /// Whether the load balancer is internal rather than internet-facing (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal: Option<Val<bool>>,
    /// `application` (the default; the only type this provider offers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_type: Option<Val<String>>,
    /// Subnets, at least two in different availability zones.
    pub subnets: Vec<Val<String>>,
    /// Security groups (up to 5); without any, AWS uses the VPC's default group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<Val<String>>,
    /// Seconds a connection may stay idle, 1 to 4000 (AWS's default is 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<Val<i32>>,
    /// Whether requests with header names that are not valid HTTP are dropped rather than
    /// passed to targets (AWS's default: false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_invalid_header_fields: Option<Val<bool>>,
    /// Tags.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, Val<String>>,
}

impl Resource for Lb {
    const TYPE: &'static str = "aws_lb";
    const COMPUTED: &'static [&'static str] = &["id", "arn", "arn_suffix", "dns_name", "zone_id", "vpc_id"];
    const FORCE_NEW: &'static [&'static str] = &["name", "internal", "load_balancer_type"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&["name"]);

    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(name) = self.name.literal() {
            check_name(name, &mut errors);
        }
        if let Some(t) = self.load_balancer_type.as_ref().and_then(Val::literal) {
            if t != "application" {
                errors.push(FieldError::new("load_balancer_type", format!("`{t}` is not offered; expected `application`")));
            }
        }
        if self.subnets.len() < 2 {
            errors.push(FieldError::new(
                "subnets",
                format!("has {} subnets; an Application Load Balancer needs at least 2, in different availability zones", self.subnets.len()),
            ));
        }
        check_unique("subnets", &self.subnets, &mut errors);
        if self.security_groups.len() > MAX_SECURITY_GROUPS {
            errors.push(FieldError::new(
                "security_groups",
                format!("has {} groups; AWS allows at most {MAX_SECURITY_GROUPS} per load balancer", self.security_groups.len()),
            ));
        }
        check_unique("security_groups", &self.security_groups, &mut errors);
        if let Some(t) = self.idle_timeout.as_ref().and_then(Val::literal) {
            if !(1..=4000).contains(t) {
                errors.push(FieldError::new("idle_timeout", format!("is {t}; expected 1 to 4000 seconds")));
            }
        }
        errors
    }
}

/// AWS's rules for load balancer names.
fn check_name(name: &str, out: &mut Vec<FieldError>) {
    let mut bad = |message: String| out.push(FieldError::new("name", message));
    if name.is_empty() || name.len() > 32 {
        bad(format!("has {} characters; expected 1 to 32", name.chars().count()));
    }
    if let Some(c) = name.chars().find(|c| !c.is_ascii_alphanumeric() && *c != '-') {
        bad(format!("`{c}` is not allowed; expected letters, digits and hyphens"));
    }
    if name.starts_with('-') || name.ends_with('-') {
        bad(format!("`{name}` starts or ends with a hyphen; expected a letter or digit there"));
    }
    if name.starts_with("internal-") {
        bad(format!("`{name}` starts with `internal-`, which AWS keeps for internal load balancers' DNS names; expected another name"));
    }
}

fn check_unique(path: &str, values: &[Val<String>], out: &mut Vec<FieldError>) {
    for (i, v) in values.iter().enumerate() {
        if let Some(text) = v.literal() {
            if values[..i].iter().any(|w| w.literal() == Some(text)) {
                out.push(FieldError::new(format!("{path}.{i}"), format!("`{text}` is listed twice; expected each once")));
            }
        }
    }
}

fn values(list: &[Val<String>]) -> Result<Vec<String>, ProviderError> {
    list.iter().map(|v| Ok(v.value()?.clone())).collect()
}

/// The same members, whatever the order (AWS keeps subnets and groups as sets).
fn same_set(a: &[String], b: &[String]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort();
    b.sort();
    a == b
}

/// `app/NAME/ID`: the part of the ARN after `loadbalancer/`, which CloudWatch metrics use and
/// the load balancer's network interfaces are described by (`ELB app/NAME/ID`).
fn arn_suffix(arn: &str) -> &str {
    arn.split_once(":loadbalancer/").map_or(arn, |(_, s)| s)
}

impl Lb {
    fn idle_timeout(&self) -> Result<i32, ProviderError> {
        Ok(opt(&self.idle_timeout)?.copied().unwrap_or(IDLE_TIMEOUT_DEFAULT))
    }

    fn drop_invalid_header_fields(&self) -> Result<bool, ProviderError> {
        Ok(opt(&self.drop_invalid_header_fields)?.copied().unwrap_or(false))
    }

    /// The attributes this configuration sets that differ from `prior`'s (all that are set, on
    /// create): one ModifyLoadBalancerAttributes call carries them all.
    fn attribute_changes(&self, prior: Option<&Lb>) -> Result<Vec<(&'static str, String)>, ProviderError> {
        let mut out = Vec::new();
        let idle_changed = match prior {
            None => self.idle_timeout.is_some(),
            Some(p) => self.idle_timeout()? != p.idle_timeout()?,
        };
        if idle_changed {
            out.push((IDLE_TIMEOUT_KEY, self.idle_timeout()?.to_string()));
        }
        let drop_changed = match prior {
            None => self.drop_invalid_header_fields.is_some(),
            Some(p) => self.drop_invalid_header_fields()? != p.drop_invalid_header_fields()?,
        };
        if drop_changed {
            out.push((DROP_INVALID_HEADERS_KEY, self.drop_invalid_header_fields()?.to_string()));
        }
        Ok(out)
    }

    async fn set_attributes(aws: &Clients, arn: &str, attributes: &[(&'static str, String)]) -> Result<(), ProviderError> {
        if attributes.is_empty() {
            return Ok(());
        }
        aws.elbv2
            .modify_load_balancer_attributes()
            .load_balancer_arn(arn)
            .set_attributes(Some(attributes.iter().map(|(k, v)| LoadBalancerAttribute::builder().key(*k).value(v).build()).collect()))
            .send()
            .await
            .map_err(|e| sdk("elbv2 ModifyLoadBalancerAttributes", e))?;
        Ok(())
    }
}

impl Lb {
    /// Adopts load balancer `arn`, which a crashed run created for this resource: waits for it
    /// to be active and updates it in place, unless it differs in what cannot change.
    async fn adopt(&self, aws: &Clients, ctx: &OpContext, lb: &LoadBalancer, arn: &str) -> Result<Applied, ProviderError> {
        let internal = *opt(&self.internal)?.unwrap_or(&false);
        if (lb.scheme() == Some(&LoadBalancerSchemeEnum::Internal)) != internal || lb.r#type() != Some(&LoadBalancerTypeEnum::Application) {
            return Err(ProviderError::api(format!(
                "elbv2 CreateLoadBalancer: {arn}, left by an earlier run of this resource, differs in its scheme or type, which cannot change; expected it deleted first"
            )));
        }
        wait_active(aws, arn).await?;
        let live = Lb::read(aws, &[arn.to_string()])
            .await?
            .pop()
            .flatten()
            .ok_or_else(|| ProviderError::not_found(format!("aws_lb: {arn} vanished while being adopted")))?;
        self.update(aws, ctx, arn, &decode::<Lb>(&live)?).await?;
        Ok(Applied { id: arn.to_string(), computed: computed(lb, arn) })
    }
}

/// The load balancer, if it exists.
async fn describe_one(aws: &Clients, arn: &str) -> Result<Option<LoadBalancer>, ProviderError> {
    match aws.elbv2.describe_load_balancers().load_balancer_arns(arn).send().await.map_err(|e| sdk("elbv2 DescribeLoadBalancers", e)) {
        Ok(out) => Ok(out.load_balancers().first().cloned()),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The load balancer named `name`, if there is one.
async fn named(aws: &Clients, name: &str) -> Result<Option<LoadBalancer>, ProviderError> {
    match aws.elbv2.describe_load_balancers().names(name).send().await.map_err(|e| sdk("elbv2 DescribeLoadBalancers", e)) {
        Ok(out) => Ok(out.load_balancers().first().cloned()),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// What a wait for `active` decides from one look (`None`: not listed yet).
fn provisioned(arn: &str, lb: Option<&LoadBalancer>) -> Result<bool, ProviderError> {
    let state = lb.and_then(|lb| lb.state());
    match state.and_then(|s| s.code()) {
        Some(LoadBalancerStateEnum::Active) => Ok(true),
        Some(LoadBalancerStateEnum::Failed) => {
            Err(ProviderError::api(format!("elbv2 load balancer {arn} failed to provision: {}", state.and_then(|s| s.reason()).unwrap_or("no reason given"))))
        }
        _ => Ok(false),
    }
}

/// Waits until the load balancer is `active`: it is `provisioning` for minutes after a create,
/// and after SetSubnets or SetSecurityGroups; right after CreateLoadBalancer it may not be
/// listed at all, which is pending too (Terraform: internal/service/elbv2/load_balancer.go,
/// `waitLoadBalancerActive`, whose status function treats not found as pending).
async fn wait_active(aws: &Clients, arn: &str) -> Result<(), ProviderError> {
    wait_for(&format!("load balancer {arn} to become active"), WAIT_TIMEOUT, || async {
        Ok(provisioned(arn, describe_one(aws, arn).await?.as_ref())?.then_some(()))
    })
    .await
}

/// Waits until the network interfaces of a deleted load balancer are gone: AWS removes them a
/// few minutes after the load balancer, and until then its subnets and security groups cannot
/// be deleted. A timeout here is logged, not failed: the load balancer itself is gone.
async fn wait_interfaces_gone(aws: &Clients, arn: &str) {
    let description = format!("ELB {}", arn_suffix(arn));
    let waited = wait_for(&format!("the network interfaces of {arn} to be released"), WAIT_TIMEOUT, || async {
        let out = aws
            .ec2
            .describe_network_interfaces()
            .filters(Filter::builder().name("description").values(&description).build())
            .send()
            .await
            .map_err(|e| sdk("ec2 DescribeNetworkInterfaces", e))?;
        Ok(out.network_interfaces().is_empty().then_some(()))
    })
    .await;
    if let Err(e) = waited {
        tracing::warn!(load_balancer = arn, "{e}");
    }
}

fn computed(lb: &LoadBalancer, arn: &str) -> Map<String, Json> {
    let mut m = Map::new();
    m.insert("arn".into(), json!(arn));
    m.insert("arn_suffix".into(), json!(arn_suffix(arn)));
    m.insert("dns_name".into(), json!(lb.dns_name()));
    m.insert("zone_id".into(), json!(lb.canonical_hosted_zone_id()));
    m.insert("vpc_id".into(), json!(lb.vpc_id()));
    m
}

#[async_trait]
impl AwsResource for Lb {
    const ARN: ArnForm = ArnForm::Whole { service: "elasticloadbalancing", prefix: "loadbalancer/" };

    async fn create(&self, aws: &Clients, ctx: &OpContext) -> Result<Applied, ProviderError> {
        let name = self.name.value()?;
        let internal = *opt(&self.internal)?.unwrap_or(&false);
        let attributes = self.attribute_changes(None)?;
        let req = aws
            .elbv2
            .create_load_balancer()
            .name(name)
            .r#type(LoadBalancerTypeEnum::Application)
            .scheme(if internal { LoadBalancerSchemeEnum::Internal } else { LoadBalancerSchemeEnum::InternetFacing })
            .ip_address_type(IpAddressType::Ipv4)
            .set_subnets(Some(values(&self.subnets)?))
            .set_security_groups((!self.security_groups.is_empty()).then(|| values(&self.security_groups)).transpose()?)
            .set_tags(Some(create_tags::<Elbv2Tags>(&self.tags, ctx)?));
        // AWS refuses a second load balancer with the name (moto (5.2.5) makes one); one that
        // carries this resource's ownership tags was left by a crashed run: adopt it.
        if let Some(lb) = named(aws, name).await? {
            let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
            let tags = describe_tags(aws, std::slice::from_ref(&arn)).await?.remove(&arn).unwrap_or_default();
            return match taken(&tags, ctx) {
                Taken::Ours => self.adopt(aws, ctx, &lb, &arn).await,
                Taken::Theirs(whose) => Err(ProviderError::api(format!(
                    "elbv2 CreateLoadBalancer: a load balancer named `{name}` already exists ({whose}): {arn}; expected a name not in use in this account and region"
                ))),
            };
        }
        let out = req.send().await.map_err(|e| sdk("elbv2 CreateLoadBalancer", e))?;
        let lb = out.load_balancers().first().ok_or_else(|| ProviderError::api("elbv2 CreateLoadBalancer returned no load balancer"))?;
        let arn = lb.load_balancer_arn().ok_or_else(|| ProviderError::api("elbv2 CreateLoadBalancer returned a load balancer without an ARN"))?.to_string();
        let finish = async {
            wait_active(aws, &arn).await?;
            Lb::set_attributes(aws, &arn, &attributes).await
        };
        if let Err(e) = finish.await {
            return Err(undo_create(e, Lb::delete(aws, &arn, &Json::Null)).await);
        }
        Ok(Applied { computed: computed(lb, &arn), id: arn })
    }

    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError> {
        let subnets = values(&self.subnets)?;
        let moved = !same_set(&subnets, &values(&prior.subnets)?);
        if moved {
            aws.elbv2.set_subnets().load_balancer_arn(id).set_subnets(Some(subnets)).send().await.map_err(|e| sdk("elbv2 SetSubnets", e))?;
        }
        let groups = values(&self.security_groups)?;
        let regrouped = !same_set(&groups, &values(&prior.security_groups)?);
        if regrouped {
            aws.elbv2
                .set_security_groups()
                .load_balancer_arn(id)
                .set_security_groups(Some(groups))
                .send()
                .await
                .map_err(|e| sdk("elbv2 SetSecurityGroups", e))?;
        }
        // Terraform waits for `active` after every update; only these two change the state.
        if moved || regrouped {
            wait_active(aws, id).await?;
        }
        Lb::set_attributes(aws, id, &self.attribute_changes(Some(prior))?).await?;
        sync_tags::<Elbv2Tags>(aws, id, &prior.tags, &self.tags).await?;
        Ok(Applied { id: id.to_string(), computed: Map::new() })
    }

    async fn delete(aws: &Clients, id: &str, _prior: &Json) -> Result<(), ProviderError> {
        // DeleteLoadBalancer succeeds for a load balancer already gone (AWS and moto alike).
        aws.elbv2.delete_load_balancer().load_balancer_arn(id).send().await.map_err(|e| sdk("elbv2 DeleteLoadBalancer", e))?;
        wait_for(&format!("load balancer {id} to be deleted"), WAIT_TIMEOUT, || async { Ok(describe_one(aws, id).await?.is_none().then_some(())) }).await?;
        wait_interfaces_gone(aws, id).await;
        Ok(())
    }

    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        let found = describe_by_arns(ids, DESCRIBE_LOAD_BALANCERS_BATCH, |chunk| async move {
            let out =
                aws.elbv2.describe_load_balancers().set_load_balancer_arns(Some(chunk)).send().await.map_err(|e| sdk("elbv2 DescribeLoadBalancers", e))?;
            Ok(out.load_balancers().to_vec())
        })
        .await?;
        let arns: Vec<String> = found.iter().filter_map(|lb| lb.load_balancer_arn().map(str::to_string)).collect();
        let tags = describe_tags(aws, &arns).await?;
        let mut result = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(lb) = found.iter().find(|lb| lb.load_balancer_arn() == Some(id.as_str())) else {
                result.push(None);
                continue;
            };
            // Attributes have no batch call: one DescribeLoadBalancerAttributes per load balancer.
            let attributes = match aws
                .elbv2
                .describe_load_balancer_attributes()
                .load_balancer_arn(id)
                .send()
                .await
                .map_err(|e| sdk("elbv2 DescribeLoadBalancerAttributes", e))
            {
                Ok(out) => out.attributes().to_vec(),
                Err(e) if e.kind == ErrorKind::NotFound => {
                    result.push(None);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let idle = attributes.iter().find(|a| a.key() == Some(IDLE_TIMEOUT_KEY)).and_then(|a| a.value()?.parse::<i32>().ok());
            let mut subnets: Vec<&str> = lb.availability_zones().iter().filter_map(|z| z.subnet_id()).collect();
            subnets.sort_unstable();
            let mut groups: Vec<&str> = lb.security_groups().iter().map(String::as_str).collect();
            groups.sort_unstable();
            let mut attrs = Map::new();
            attrs.insert("id".into(), json!(id));
            attrs.insert("name".into(), json!(lb.load_balancer_name()));
            attrs.insert("internal".into(), json!(lb.scheme() == Some(&LoadBalancerSchemeEnum::Internal)));
            attrs.insert("load_balancer_type".into(), json!(lb.r#type().map(|t| t.as_str())));
            attrs.insert("subnets".into(), json!(subnets));
            attrs.insert("security_groups".into(), json!(groups));
            // moto (5.2.5) reports the idle timeout only once it has been set; AWS always does.
            if let Some(seconds) = idle {
                attrs.insert("idle_timeout".into(), json!(seconds));
            }
            if let Some(drop) = attributes.iter().find(|a| a.key() == Some(DROP_INVALID_HEADERS_KEY)).and_then(|a| a.value()?.parse::<bool>().ok()) {
                attrs.insert("drop_invalid_header_fields".into(), json!(drop));
            }
            attrs.insert("tags".into(), Json::Object(user_tags(tags.get(id).map(Vec::as_slice).unwrap_or_default())));
            attrs.extend(computed(lb, id));
            result.push(Some(Json::Object(attrs)));
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors_for(name: &str, subnets: usize) -> Vec<String> {
        let lb = Lb { name: name.into(), subnets: (0..subnets).map(|i| Val::Lit(format!("subnet-{i}"))).collect(), ..Default::default() };
        lb.validate().into_iter().map(|e| e.path).collect()
    }

    #[test]
    fn names_and_subnets_follow_aws_rules() {
        assert!(errors_for("openclaw-alb-1", 2).is_empty());
        assert_eq!(errors_for(&"a".repeat(33), 2), vec!["name"]);
        assert_eq!(errors_for("-alb", 2), vec!["name"]);
        assert_eq!(errors_for("alb-", 2), vec!["name"]);
        assert_eq!(errors_for("internal-alb", 2), vec!["name"]);
        assert_eq!(errors_for("my_alb", 2), vec!["name"]);
        assert_eq!(errors_for("alb", 1), vec!["subnets"]);
    }

    #[test]
    fn provisioning_and_not_listed_are_pending_and_failed_says_why() {
        use aws_sdk_elasticloadbalancingv2::types::LoadBalancerState;
        let lb = |code: LoadBalancerStateEnum, reason: Option<&str>| {
            LoadBalancer::builder().state(LoadBalancerState::builder().code(code).set_reason(reason.map(str::to_string)).build()).build()
        };
        assert_eq!(provisioned("lb", Some(&lb(LoadBalancerStateEnum::Active, None))), Ok(true));
        assert_eq!(provisioned("lb", Some(&lb(LoadBalancerStateEnum::Provisioning, None))), Ok(false));
        assert_eq!(provisioned("lb", None), Ok(false));
        let err = provisioned("lb", Some(&lb(LoadBalancerStateEnum::Failed, Some("no capacity")))).unwrap_err();
        assert!(err.message.ends_with("failed to provision: no capacity"), "{err}");
    }

    #[test]
    fn the_arn_suffix_names_the_load_balancer() {
        assert_eq!(arn_suffix("arn:aws:elasticloadbalancing:us-west-2:123456789012:loadbalancer/app/web/50dc6c495c0c9188"), "app/web/50dc6c495c0c9188");
    }
}
