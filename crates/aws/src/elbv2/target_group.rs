//! `aws_lb_target_group`: a target group of an Application Load Balancer (HTTP or HTTPS,
//! `instance` or `ip` targets), with its health check and deregistration delay.
//!
//! Health check settings left out take AWS's defaults for Application Load Balancer target
//! groups (AWS's "Health checks for Application Load Balancer target groups"), filled in when the
//! stack loads and sent in full in the create call: state, plans and reads then hold the same
//! complete block, so a default AWS filled in is never drift, and moto (5.2.5), which derives some
//! defaults differently (the health check protocol from the group's), ends up like AWS.
//!
//! `deregistration_delay` is a target group *attribute*: DescribeTargetGroupAttributes has no
//! batch form (one call per group), so [`LbTargetGroup::read`] does not return it. A drift check
//! of 500 tenants would otherwise cost 500 calls more against ELBv2's Describe bucket (40 burst,
//! 10 a second); the attribute is set at create and by updates, and read only when a left-over
//! group is adopted.
//!
//! AWS's CreateTargetGroup returns the existing group when one with the name and the same
//! settings exists, which would silently take someone else's group: create looks the name up
//! first and adopts the group only when it carries this resource's own ownership tags (left by a
//! run that crashed before saving state), as `aws_lb` does; anything else is refused.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{Matcher, ProtocolEnum, TargetGroup, TargetGroupAttribute, TargetTypeEnum};
use clawform_core::{Applied, ErrorKind, FieldError, OpContext, ProviderError, Resource, Val};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::elbv2::{describe_by_arns, describe_tags, Elbv2Tags, DESCRIBE_TARGET_GROUPS_BATCH};
use crate::error::sdk;
use crate::handler::{decode, ArnForm, AwsResource};
use crate::support::tags::{create_tags, sync_tags, taken, user_tags, Taken};
use crate::support::{opt, undo_create};
use crate::support::{retry_while, wait_for};

/// The target group attribute behind `deregistration_delay`, and AWS's default for it.
const DEREGISTRATION_DELAY_KEY: &str = "deregistration_delay.timeout_seconds";
const DEREGISTRATION_DELAY_DEFAULT: i32 = 300;

/// How long delete retries while AWS still counts a just-deleted listener rule as using the
/// group (`ResourceInUse`); Terraform's AWS provider allows two minutes for the same.
const DELETE_TIMEOUT: Duration = Duration::from_secs(120);

/// How long the calls right after CreateTargetGroup tolerate ELBv2 not knowing the new group:
/// the Terraform AWS provider's `elbv2PropagationTimeout` (2 minutes, internal/service/elbv2/consts.go).
const PROPAGATION_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a call naming a target group created a moment ago is worth another try:
/// `TargetGroupNotFound` until the group has propagated (Terraform:
/// internal/service/elbv2/target_group.go, `resourceTargetGroupCreate`, waits with
/// `RetryWhenNotFound` before ModifyTargetGroupAttributes). Used only right after the create.
pub(crate) fn new_group_unseen(err: &ProviderError) -> Option<&'static str> {
    err.has_code("TargetGroupNotFound").then_some("ELBv2 does not know the new target group yet")
}

/// AWS's health check defaults for Application Load Balancer target groups with `instance` or
/// `ip` targets (CreateTargetGroup API reference; "Health checks for Application Load Balancer
/// target groups").
const DEFAULT_PATH: &str = "/";
const DEFAULT_PORT: &str = "traffic-port";
const DEFAULT_PROTOCOL: &str = "HTTP";
const DEFAULT_MATCHER: &str = "200";
const DEFAULT_INTERVAL: i32 = 30;
const DEFAULT_TIMEOUT: i32 = 5;
const DEFAULT_HEALTHY_THRESHOLD: i32 = 5;
const DEFAULT_UNHEALTHY_THRESHOLD: i32 = 2;

/// The longest health check path AWS takes, in characters.
const MAX_PATH: usize = 1024;

/// A target group, as the Terraform AWS provider's `aws_lb_target_group` (Application Load
/// Balancer groups only).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LbTargetGroup {
    /// The name: up to 32 letters, digits and hyphens, not starting or ending with a hyphen;
    /// unique in the account and region.
    pub name: Val<String>,
    /// The port targets receive traffic on, 1 to 65535.
    pub port: Val<i32>,
    /// `HTTP` or `HTTPS`.
    pub protocol: Val<String>,
    /// `instance` (AWS's default) or `ip` (what `awsvpc` ECS tasks register as).
    #[serde(default = "default_target_type")]
    pub target_type: Val<String>,
    /// The VPC the targets are in.
    pub vpc_id: Val<String>,
    /// Seconds the load balancer lets in-flight requests finish before a deregistered target is
    /// dropped, 0 to 3600 (AWS's default is 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deregistration_delay: Option<Val<i32>>,
    /// The health check: one block; settings left out (or the whole block) take AWS's defaults.
    #[serde(default = "default_health_check")]
    pub health_check: Vec<HealthCheck>,
    /// Tags.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, Val<String>>,
}

/// The `health_check` block of a target group. Every setting has AWS's default when left out.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HealthCheck {
    /// Whether health checks are made; they cannot be turned off for `instance` and `ip` groups.
    pub enabled: Val<bool>,
    /// The path requested, starting with `/` (default `/`).
    pub path: Val<String>,
    /// `traffic-port` (the default: the port each target receives traffic on) or a port number.
    pub port: Val<String>,
    /// `HTTP` (the default) or `HTTPS`.
    pub protocol: Val<String>,
    /// The HTTP codes that mean healthy: `200`, `200,202` or `200-399` (codes 200 to 499;
    /// default `200`).
    pub matcher: Val<String>,
    /// Seconds between checks, 5 to 300 (default 30).
    pub interval: Val<i32>,
    /// Seconds without an answer that fail a check, 2 to 120 and less than `interval` (default 5).
    pub timeout: Val<i32>,
    /// Consecutive successes that make a target healthy, 2 to 10 (default 5).
    pub healthy_threshold: Val<i32>,
    /// Consecutive failures that make a target unhealthy, 2 to 10 (default 2).
    pub unhealthy_threshold: Val<i32>,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            enabled: true.into(),
            path: DEFAULT_PATH.into(),
            port: DEFAULT_PORT.into(),
            protocol: DEFAULT_PROTOCOL.into(),
            matcher: DEFAULT_MATCHER.into(),
            interval: DEFAULT_INTERVAL.into(),
            timeout: DEFAULT_TIMEOUT.into(),
            healthy_threshold: DEFAULT_HEALTHY_THRESHOLD.into(),
            unhealthy_threshold: DEFAULT_UNHEALTHY_THRESHOLD.into(),
        }
    }
}

fn default_target_type() -> Val<String> {
    "instance".into()
}

fn default_health_check() -> Vec<HealthCheck> {
    vec![HealthCheck::default()]
}

impl Resource for LbTargetGroup {
    const TYPE: &'static str = "aws_lb_target_group";
    const COMPUTED: &'static [&'static str] = &["id", "arn", "arn_suffix"];
    const FORCE_NEW: &'static [&'static str] = &["name", "port", "protocol", "target_type", "vpc_id"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&["name"]);

    /// Terraform's `deregistration_delay` is a string of seconds.
    fn terraform_values(values: &mut serde_json::Value) {
        if let Some(delay) = values.get_mut("deregistration_delay").filter(|d| d.is_number()) {
            *delay = serde_json::Value::String(delay.to_string());
        }
    }

    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(name) = self.name.literal() {
            check_name(name, &mut errors);
        }
        if let Some(port) = self.port.literal() {
            if !(1..=65535).contains(port) {
                errors.push(FieldError::new("port", format!("{port} is not a port; expected 1 to 65535")));
            }
        }
        if let Some(p) = self.protocol.literal() {
            if !["HTTP", "HTTPS"].contains(&p.as_str()) {
                errors.push(FieldError::new("protocol", format!("`{p}` is not an Application Load Balancer protocol; expected `HTTP` or `HTTPS`")));
            }
        }
        if let Some(t) = self.target_type.literal() {
            if !["instance", "ip"].contains(&t.as_str()) {
                errors.push(FieldError::new("target_type", format!("`{t}` is not offered; expected `instance` or `ip`")));
            }
        }
        if let Some(Val::Lit(delay)) = &self.deregistration_delay {
            if !(0..=3600).contains(delay) {
                errors.push(FieldError::new("deregistration_delay", format!("is {delay}; expected 0 to 3600 seconds")));
            }
        }
        if self.health_check.len() != 1 {
            errors.push(FieldError::new("health_check", format!("has {} blocks; expected 1 (or none at all for AWS's defaults)", self.health_check.len())));
        }
        for (i, check) in self.health_check.iter().enumerate() {
            check.validate(&format!("health_check.{i}"), &mut errors);
        }
        errors
    }
}

/// AWS's rules for target group names.
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
}

impl HealthCheck {
    fn validate(&self, path: &str, out: &mut Vec<FieldError>) {
        let mut bad = |field: &str, message: String| out.push(FieldError::new(format!("{path}.{field}"), message));
        if self.enabled.literal() == Some(&false) {
            bad("enabled", "is false; health checks of `instance` and `ip` target groups cannot be turned off".into());
        }
        if let Some(p) = self.path.literal() {
            if !p.starts_with('/') || p.chars().count() > MAX_PATH {
                bad("path", format!("`{p}` is not a health check path; expected one starting with `/`, at most {MAX_PATH} characters"));
            }
        }
        if let Some(port) = self.port.literal() {
            let number_ok = port.parse::<u32>().is_ok_and(|n| (1..=65535).contains(&n));
            if port != DEFAULT_PORT && !number_ok {
                bad("port", format!("`{port}` is not a port; expected `traffic-port` or 1 to 65535"));
            }
        }
        if let Some(p) = self.protocol.literal() {
            if !["HTTP", "HTTPS"].contains(&p.as_str()) {
                bad("protocol", format!("`{p}` is not offered for Application Load Balancer health checks; expected `HTTP` or `HTTPS`"));
            }
        }
        if let Some(m) = self.matcher.literal() {
            if !matcher_ok(m) {
                bad("matcher", format!("`{m}` is not a list of HTTP codes; expected codes from 200 to 499 such as `200`, `200,202` or `200-399`"));
            }
        }
        let ranges = [
            ("interval", &self.interval, 5, 300),
            ("timeout", &self.timeout, 2, 120),
            ("healthy_threshold", &self.healthy_threshold, 2, 10),
            ("unhealthy_threshold", &self.unhealthy_threshold, 2, 10),
        ];
        for (field, value, low, high) in ranges {
            if let Some(v) = value.literal() {
                if !(low..=high).contains(v) {
                    bad(field, format!("is {v}; expected {low} to {high}"));
                }
            }
        }
        if let (Some(timeout), Some(interval)) = (self.timeout.literal(), self.interval.literal()) {
            if timeout >= interval {
                bad("timeout", format!("is {timeout} seconds; expected less than the interval ({interval} seconds)"));
            }
        }
    }
}

/// Whether `m` is an HTTP code matcher AWS takes for Application Load Balancers: codes or
/// ranges from 200 to 499, separated by commas.
fn matcher_ok(m: &str) -> bool {
    let code = |s: &str| s.len() == 3 && s.parse::<u16>().is_ok_and(|c| (200..=499).contains(&c));
    m.split(',').all(|part| match part.split_once('-') {
        Some((low, high)) => code(low) && code(high) && low <= high,
        None => code(part),
    })
}

/// A health check with every value resolved, for the SDK calls.
struct Check<'a> {
    enabled: bool,
    path: &'a str,
    port: &'a str,
    protocol: ProtocolEnum,
    matcher: Matcher,
    interval: i32,
    timeout: i32,
    healthy: i32,
    unhealthy: i32,
}

impl LbTargetGroup {
    fn check(&self) -> Result<Check<'_>, ProviderError> {
        let c = self.health_check.first().ok_or_else(|| ProviderError::invalid("aws_lb_target_group: health_check has no block"))?;
        Ok(Check {
            enabled: *c.enabled.value()?,
            path: c.path.value()?,
            port: c.port.value()?,
            protocol: ProtocolEnum::from(c.protocol.value()?.as_str()),
            matcher: Matcher::builder().http_code(c.matcher.value()?).build(),
            interval: *c.interval.value()?,
            timeout: *c.timeout.value()?,
            healthy: *c.healthy_threshold.value()?,
            unhealthy: *c.unhealthy_threshold.value()?,
        })
    }

    fn deregistration_delay(&self) -> Result<i32, ProviderError> {
        Ok(opt(&self.deregistration_delay)?.copied().unwrap_or(DEREGISTRATION_DELAY_DEFAULT))
    }

    /// Sets the deregistration delay of a group created a moment ago, retrying while ELBv2 does
    /// not know it yet.
    async fn set_new_deregistration_delay(aws: &Clients, arn: &str, seconds: i32) -> Result<(), ProviderError> {
        retry_while(&format!("new target group {arn} to be known to ELBv2"), PROPAGATION_TIMEOUT, new_group_unseen, || {
            LbTargetGroup::set_deregistration_delay(aws, arn, seconds)
        })
        .await
    }

    async fn set_deregistration_delay(aws: &Clients, arn: &str, seconds: i32) -> Result<(), ProviderError> {
        aws.elbv2
            .modify_target_group_attributes()
            .target_group_arn(arn)
            .attributes(TargetGroupAttribute::builder().key(DEREGISTRATION_DELAY_KEY).value(seconds.to_string()).build())
            .send()
            .await
            .map_err(|e| sdk("elbv2 ModifyTargetGroupAttributes", e))?;
        Ok(())
    }

    /// The deregistration delay AWS has for group `arn`: one DescribeTargetGroupAttributes call
    /// (there is no batch form), made only when a left-over group is adopted.
    async fn live_deregistration_delay(aws: &Clients, arn: &str) -> Result<i32, ProviderError> {
        let out = aws.elbv2.describe_target_group_attributes().target_group_arn(arn).send().await.map_err(|e| sdk("elbv2 DescribeTargetGroupAttributes", e))?;
        let value = out.attributes().iter().find(|a| a.key() == Some(DEREGISTRATION_DELAY_KEY)).and_then(|a| a.value()?.parse::<i32>().ok());
        Ok(value.unwrap_or(DEREGISTRATION_DELAY_DEFAULT))
    }

    /// The group named `name`, if there is one: adopted when its ownership tags say it is this
    /// resource (left by an earlier run), refused when they say it is someone else's.
    async fn take_named(&self, aws: &Clients, ctx: &OpContext, name: &str) -> Result<Option<Applied>, ProviderError> {
        let Some(tg) = named(aws, name).await? else { return Ok(None) };
        let arn = tg.target_group_arn().unwrap_or_default().to_string();
        let tags = describe_tags(aws, std::slice::from_ref(&arn)).await?.remove(&arn).unwrap_or_default();
        match taken(&tags, ctx) {
            Taken::Ours => self.adopt(aws, ctx, &arn).await.map(Some),
            Taken::Theirs(whose) => Err(ProviderError::api(format!(
                "elbv2 CreateTargetGroup: a target group named `{name}` already exists ({whose}): {arn}; expected a name not in use in this account and region"
            ))),
        }
    }

    /// Adopts group `arn`, which a crashed run created for this resource, and brings it in line,
    /// unless it differs in what cannot change.
    async fn adopt(&self, aws: &Clients, ctx: &OpContext, arn: &str) -> Result<Applied, ProviderError> {
        let live = LbTargetGroup::read(aws, &[arn.to_string()])
            .await?
            .pop()
            .flatten()
            .ok_or_else(|| ProviderError::not_found(format!("aws_lb_target_group: {arn} vanished while being adopted")))?;
        let mut live = decode::<LbTargetGroup>(&live)?;
        let fixed = |g: &LbTargetGroup| (g.port.clone(), g.protocol.clone(), g.target_type.clone(), g.vpc_id.clone());
        if fixed(&live) != fixed(self) {
            return Err(ProviderError::api(format!(
                "elbv2 CreateTargetGroup: {arn}, left by an earlier run of this resource, differs in its port, protocol, target type or VPC, which cannot change; expected it deleted first"
            )));
        }
        live.deregistration_delay = Some(Val::Lit(LbTargetGroup::live_deregistration_delay(aws, arn).await?));
        self.update(aws, ctx, arn, &live).await?;
        Ok(Applied { id: arn.to_string(), computed: computed(arn) })
    }
}

/// The target group named `name`, if there is one.
async fn named(aws: &Clients, name: &str) -> Result<Option<TargetGroup>, ProviderError> {
    match aws.elbv2.describe_target_groups().names(name).send().await.map_err(|e| sdk("elbv2 DescribeTargetGroups", e)) {
        Ok(out) => Ok(out.target_groups().first().cloned()),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// `targetgroup/NAME/ID`: the part of the ARN after the last colon, which CloudWatch metrics use.
fn arn_suffix(arn: &str) -> &str {
    arn.rsplit_once(':').map_or(arn, |(_, s)| s)
}

fn computed(arn: &str) -> Map<String, Json> {
    let mut m = Map::new();
    m.insert("arn".into(), json!(arn));
    m.insert("arn_suffix".into(), json!(arn_suffix(arn)));
    m
}

/// A live target group in the stack's shape. Values AWS leaves out are its defaults.
fn group_json(id: &str, tg: &TargetGroup, tags: Map<String, Json>) -> Result<Json, ProviderError> {
    let check = HealthCheck {
        enabled: tg.health_check_enabled().unwrap_or(true).into(),
        path: tg.health_check_path().unwrap_or(DEFAULT_PATH).into(),
        port: tg.health_check_port().unwrap_or(DEFAULT_PORT).into(),
        protocol: tg.health_check_protocol().map_or(DEFAULT_PROTOCOL, |p| p.as_str()).into(),
        matcher: tg.matcher().and_then(|m| m.http_code()).unwrap_or(DEFAULT_MATCHER).into(),
        interval: tg.health_check_interval_seconds().unwrap_or(DEFAULT_INTERVAL).into(),
        timeout: tg.health_check_timeout_seconds().unwrap_or(DEFAULT_TIMEOUT).into(),
        healthy_threshold: tg.healthy_threshold_count().unwrap_or(DEFAULT_HEALTHY_THRESHOLD).into(),
        unhealthy_threshold: tg.unhealthy_threshold_count().unwrap_or(DEFAULT_UNHEALTHY_THRESHOLD).into(),
    };
    let group = LbTargetGroup {
        name: tg.target_group_name().unwrap_or_default().into(),
        port: tg.port().unwrap_or_default().into(),
        protocol: tg.protocol().map_or("", |p| p.as_str()).into(),
        target_type: tg.target_type().map_or("instance", |t| t.as_str()).into(),
        vpc_id: tg.vpc_id().unwrap_or_default().into(),
        deregistration_delay: None,
        health_check: vec![check],
        tags: IndexMap::new(),
    };
    let mut attrs = Map::new();
    attrs.insert("id".into(), json!(id));
    if let Json::Object(fields) = serde_json::to_value(&group).map_err(|e| ProviderError::api(format!("aws_lb_target_group: {e}")))? {
        attrs.extend(fields);
    }
    attrs.insert("tags".into(), Json::Object(tags));
    attrs.extend(computed(id));
    Ok(Json::Object(attrs))
}

#[async_trait]
impl AwsResource for LbTargetGroup {
    const ARN: ArnForm = ArnForm::Whole { service: "elasticloadbalancing", prefix: "targetgroup/" };

    async fn create(&self, aws: &Clients, ctx: &OpContext) -> Result<Applied, ProviderError> {
        let name = self.name.value()?;
        let c = self.check()?;
        let delay = opt(&self.deregistration_delay)?.copied();
        let req = aws
            .elbv2
            .create_target_group()
            .name(name)
            .protocol(ProtocolEnum::from(self.protocol.value()?.as_str()))
            .port(*self.port.value()?)
            .vpc_id(self.vpc_id.value()?)
            .target_type(TargetTypeEnum::from(self.target_type.value()?.as_str()))
            .health_check_enabled(c.enabled)
            .health_check_path(c.path)
            .health_check_port(c.port)
            .health_check_protocol(c.protocol)
            .matcher(c.matcher)
            .health_check_interval_seconds(c.interval)
            .health_check_timeout_seconds(c.timeout)
            .healthy_threshold_count(c.healthy)
            .unhealthy_threshold_count(c.unhealthy)
            .set_tags(Some(create_tags::<Elbv2Tags>(&self.tags, ctx)?));
        // A create that may have left this group behind (state's journal says so) looks for it
        // by name first. Otherwise the name is normally free, and the look is made only when
        // AWS says it is not: it refuses a name taken with other settings.
        if ctx.leftover_possible {
            if let Some(done) = self.take_named(aws, ctx, name).await? {
                return Ok(done);
            }
        }
        let out = match req.send().await.map_err(|e| sdk("elbv2 CreateTargetGroup", e)) {
            Ok(out) => out,
            Err(e) if e.has_code("DuplicateTargetGroupName") => return self.take_named(aws, ctx, name).await?.ok_or(e),
            Err(e) => return Err(e),
        };
        let group = out.target_groups().first().ok_or_else(|| ProviderError::api("elbv2 CreateTargetGroup returned no target group"))?;
        let arn = group.target_group_arn().ok_or_else(|| ProviderError::api("elbv2 CreateTargetGroup returned no target group ARN"))?.to_string();
        // AWS answers a create with the very settings of an existing group by returning that
        // group. One that already serves a load balancer is not new: whose is it?
        if !group.load_balancer_arns().is_empty() {
            if let Some(done) = self.take_named(aws, ctx, name).await? {
                return Ok(done);
            }
        }
        if let Some(seconds) = delay {
            if let Err(e) = LbTargetGroup::set_new_deregistration_delay(aws, &arn, seconds).await {
                return Err(undo_create(e, LbTargetGroup::delete(aws, &arn, &Json::Null)).await);
            }
        }
        Ok(Applied { computed: computed(&arn), id: arn })
    }

    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError> {
        if self.health_check != prior.health_check {
            let c = self.check()?;
            aws.elbv2
                .modify_target_group()
                .target_group_arn(id)
                .health_check_enabled(c.enabled)
                .health_check_path(c.path)
                .health_check_port(c.port)
                .health_check_protocol(c.protocol)
                .matcher(c.matcher)
                .health_check_interval_seconds(c.interval)
                .health_check_timeout_seconds(c.timeout)
                .healthy_threshold_count(c.healthy)
                .unhealthy_threshold_count(c.unhealthy)
                .send()
                .await
                .map_err(|e| sdk("elbv2 ModifyTargetGroup", e))?;
        }
        let delay = self.deregistration_delay()?;
        if delay != prior.deregistration_delay()? {
            LbTargetGroup::set_deregistration_delay(aws, id, delay).await?;
        }
        sync_tags::<Elbv2Tags>(aws, id, &prior.tags, &self.tags).await?;
        Ok(Applied { id: id.to_string(), computed: Map::new() })
    }

    async fn delete(aws: &Clients, id: &str, _prior: &Json) -> Result<(), ProviderError> {
        // Right after the rule forwarding to it is deleted, AWS may still find the group in use.
        wait_for(&format!("target group {id} to be released by its listener rules"), DELETE_TIMEOUT, || async {
            match aws.elbv2.delete_target_group().target_group_arn(id).send().await.map_err(|e| sdk("elbv2 DeleteTargetGroup", e)) {
                Ok(_) => Ok(Some(())),
                Err(e) if e.has_code("ResourceInUse") => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await
    }

    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        let found = describe_by_arns(ids, DESCRIBE_TARGET_GROUPS_BATCH, |chunk| async move {
            let out = aws.elbv2.describe_target_groups().set_target_group_arns(Some(chunk)).send().await.map_err(|e| sdk("elbv2 DescribeTargetGroups", e))?;
            Ok(out.target_groups().to_vec())
        })
        .await?;
        let arns: Vec<String> = found.iter().filter_map(|tg| tg.target_group_arn().map(str::to_string)).collect();
        let mut tags = describe_tags(aws, &arns).await?;
        ids.iter()
            .map(|id| match found.iter().find(|tg| tg.target_group_arn() == Some(id.as_str())) {
                Some(tg) => group_json(id, tg, user_tags(tags.remove(id).as_deref().unwrap_or_default())).map(Some),
                None => Ok(None),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant_group() -> LbTargetGroup {
        let yaml = r#"
name: openclaw-abc123
port: 8080
protocol: HTTP
target_type: ip
vpc_id: vpc-1
deregistration_delay: 30
health_check:
  - path: /health
    matcher: "200-399"
    interval: 30
    healthy_threshold: 2
    unhealthy_threshold: 3
"#;
        serde_yaml::from_str(yaml).unwrap()
    }

    fn paths(g: &LbTargetGroup) -> Vec<String> {
        g.validate().into_iter().map(|e| e.path).collect()
    }

    #[test]
    fn health_check_settings_left_out_take_aws_defaults() {
        let g = tenant_group();
        assert!(paths(&g).is_empty(), "{:?}", g.validate());
        assert_eq!(
            serde_json::to_value(&g.health_check).unwrap(),
            json!([{
                "enabled": true, "path": "/health", "port": "traffic-port", "protocol": "HTTP", "matcher": "200-399",
                "interval": 30, "timeout": 5, "healthy_threshold": 2, "unhealthy_threshold": 3
            }])
        );
        let bare: LbTargetGroup = serde_yaml::from_str("{name: tg, port: 80, protocol: HTTP, vpc_id: vpc-1}").unwrap();
        assert_eq!(bare.health_check, vec![HealthCheck::default()]);
        assert_eq!(bare.target_type, Val::Lit("instance".to_string()));
        assert!(paths(&bare).is_empty());
    }

    #[test]
    fn names_follow_aws_rules() {
        let named = |n: &str| LbTargetGroup { name: n.into(), ..tenant_group() };
        assert!(paths(&named(&"a".repeat(32))).is_empty());
        assert_eq!(paths(&named(&"a".repeat(33))), vec!["name"]);
        assert_eq!(paths(&named("-tg")), vec!["name"]);
        assert_eq!(paths(&named("tg-")), vec!["name"]);
        assert_eq!(paths(&named("tg_1")), vec!["name"]);
        assert_eq!(paths(&named("")), vec!["name"]);
    }

    #[test]
    fn validate_checks_ranges_protocols_and_the_matcher() {
        let mut g = tenant_group();
        g.port = 0.into();
        g.protocol = "TCP".into();
        g.target_type = "lambda".into();
        g.deregistration_delay = Some(3601.into());
        assert_eq!(paths(&g), vec!["port", "protocol", "target_type", "deregistration_delay"]);

        let mut g = tenant_group();
        let c = &mut g.health_check[0];
        c.enabled = false.into();
        c.path = "health".into();
        c.port = "http".into();
        c.protocol = "TCP".into();
        c.matcher = "200-600".into();
        c.interval = 4.into();
        c.healthy_threshold = 11.into();
        c.unhealthy_threshold = 1.into();
        assert_eq!(
            paths(&g),
            vec![
                "health_check.0.enabled",
                "health_check.0.path",
                "health_check.0.port",
                "health_check.0.protocol",
                "health_check.0.matcher",
                "health_check.0.interval",
                "health_check.0.healthy_threshold",
                "health_check.0.unhealthy_threshold",
                "health_check.0.timeout",
            ]
        );

        let mut g = tenant_group();
        g.health_check.push(HealthCheck::default());
        assert_eq!(paths(&g), vec!["health_check"]);
        g.health_check.clear();
        assert_eq!(paths(&g), vec!["health_check"]);
    }

    #[test]
    fn matchers_are_codes_or_ranges_from_200_to_499() {
        for ok in ["200", "200,202", "200-399", "200-299,404"] {
            assert!(matcher_ok(ok), "{ok}");
        }
        for bad in ["", "2xx", "199", "500", "300-200", "200,", "200-", "0200"] {
            assert!(!matcher_ok(bad), "{bad}");
        }
    }

    #[test]
    fn after_create_only_the_groups_not_found_is_retried() {
        let err = |code: &str| ProviderError::api(format!("elbv2 ModifyTargetGroupAttributes: {code}: no")).with_code(code);
        assert!(new_group_unseen(&err("TargetGroupNotFound")).is_some());
        assert!(new_group_unseen(&err("ValidationError")).is_none());
        assert!(new_group_unseen(&err("InvalidConfigurationRequest")).is_none());
    }

    #[test]
    fn the_arn_suffix_names_the_group() {
        assert_eq!(
            arn_suffix("arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/openclaw-abc/73e2d6bc24d8a067"),
            "targetgroup/openclaw-abc/73e2d6bc24d8a067"
        );
    }
}
