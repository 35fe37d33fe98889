//! `aws_autoscaling_group`: an EC2 Auto Scaling group, launching from a launch template or a
//! mixed instances (On-Demand and Spot) policy.
//!
//! Create does not wait for instances: the platform's group starts empty and grows under an ECS
//! capacity provider, which also changes `desired_capacity` (leave it out to let it).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_autoscaling::types::{AutoScalingGroup as SdkGroup, LaunchTemplateSpecification as SdkSpec, MixedInstancesPolicy as SdkPolicy, Tag};
use clawform_core::{Applied, FieldError, OpContext, ProviderError, Resource, Val};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::autoscaling::blocks::{AutoscalingTag, GroupLaunchTemplate, MixedInstancesPolicy};
use crate::clients::Clients;
use crate::error::sdk;
use crate::handler::{ArnForm, AwsResource};
use crate::support::tags::{ADDRESS_TAG, STACK_TAG};
use crate::support::{has_any_code, has_code_and_message, opt, poll, retry_while, undo_create, Backoff};

/// An Auto Scaling group, as the Terraform AWS provider's `aws_autoscaling_group`. Its id is its
/// name.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AutoscalingGroup {
    /// The group's name, unique in the region, 1 to 255 characters.
    pub name: Val<String>,
    /// The fewest instances the group keeps.
    pub min_size: Val<i32>,
    /// The most instances the group launches.
    pub max_size: Val<i32>,
    /// How many instances the group should have; AWS starts from `min_size` when it is absent,
    /// and a capacity provider's managed scaling changes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_capacity: Option<Val<i32>>,
    /// The subnets instances are launched in: a list, or one reference to a list
    /// (`${private[*].id}`, every instance of a counted subnet).
    pub vpc_zone_identifier: Val<Vec<Val<String>>>,
    /// Whether new instances are protected from scale-in (default false); ECS managed
    /// termination protection needs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protect_from_scale_in: Option<Val<bool>>,
    /// `EC2` (the default), `ELB`, `EBS` or `VPC_LATTICE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_type: Option<Val<String>>,
    /// The launch template to launch from (one block); or else `mixed_instances_policy`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub launch_template: Vec<GroupLaunchTemplate>,
    /// Instance types and the On-Demand/Spot split (one block); or else `launch_template`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mixed_instances_policy: Vec<MixedInstancesPolicy>,
    /// The group's tags, each saying whether instances it launches get it too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tag: Vec<AutoscalingTag>,
}

impl Resource for AutoscalingGroup {
    const TYPE: &'static str = "aws_autoscaling_group";
    const COMPUTED: &'static [&'static str] = &["id", "arn"];
    const FORCE_NEW: &'static [&'static str] = &["name"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&["name"]);

    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(name) = self.name.literal() {
            let length = name.chars().count();
            if !(1..=255).contains(&length) {
                errors.push(FieldError::new("name", format!("has {length} characters; expected 1 to 255")));
            }
        }
        let (min, max) = (self.min_size.literal().copied(), self.max_size.literal().copied());
        if let Some(min) = min.filter(|m| *m < 0) {
            errors.push(FieldError::new("min_size", format!("is {min}; expected 0 or more")));
        }
        if let (Some(min), Some(max)) = (min, max) {
            if min > max {
                errors.push(FieldError::new("max_size", format!("is {max}, below min_size {min}; expected min_size <= max_size")));
            }
        }
        if let Some(Val::Lit(desired)) = &self.desired_capacity {
            if min.is_some_and(|m| *desired < m) || max.is_some_and(|m| *desired > m) {
                let range = |v: Option<i32>| v.map_or_else(|| "?".to_string(), |v| v.to_string());
                errors.push(FieldError::new(
                    "desired_capacity",
                    format!("is {desired}; expected it within min_size and max_size ({} to {})", range(min), range(max)),
                ));
            }
        }
        if self.vpc_zone_identifier.literal().is_some_and(Vec::is_empty) {
            errors.push(FieldError::new("vpc_zone_identifier", "is empty; expected at least one subnet id"));
        }
        if let Some(Val::Lit(t)) = &self.health_check_type {
            if !["EC2", "ELB", "EBS", "VPC_LATTICE"].contains(&t.as_str()) {
                errors.push(FieldError::new("health_check_type", format!("`{t}` is not a health check type; expected `EC2`, `ELB`, `EBS` or `VPC_LATTICE`")));
            }
        }
        match (self.launch_template.len(), self.mixed_instances_policy.len()) {
            (0, 0) => errors.push(FieldError::new("launch_template", "is missing; expected `launch_template` or `mixed_instances_policy`")),
            (1, 0) | (0, 1) => {}
            (l, 0) => errors.push(FieldError::new("launch_template", format!("has {l} blocks; expected one"))),
            (0, m) => errors.push(FieldError::new("mixed_instances_policy", format!("has {m} blocks; expected one"))),
            _ => errors.push(FieldError::new("mixed_instances_policy", "is set together with launch_template; expected one of the two")),
        }
        for (i, policy) in self.mixed_instances_policy.iter().enumerate() {
            policy.validate(&format!("mixed_instances_policy.{i}"), &mut errors);
        }
        AutoscalingTag::validate_all(&self.tag, &mut errors);
        errors
    }
}

/// AWS's limit on names per DescribeAutoScalingGroups call when MaxRecords is 100 (API
/// reference: "By default, you can only specify up to 50 names. You can optionally increase
/// this limit using the MaxRecords property", whose maximum is 100).
const NAMES_PER_CALL: usize = 100;

/// How long delete waits for the group to be gone; the Terraform AWS provider's delete timeout.
const DELETE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// How long create and update retry while EC2 does not know the launch template's new instance
/// profile: the Terraform AWS provider's `propagationTimeout` (2 minutes,
/// internal/service/autoscaling/consts.go).
const IAM_PROPAGATION_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a CreateAutoScalingGroup or UpdateAutoScalingGroup refusal is worth another try: a launch
/// template naming an instance profile created a moment ago is refused with `ValidationError`
/// "… Invalid IAM Instance Profile name" until EC2 knows the profile (Terraform:
/// internal/service/autoscaling/group.go, `resourceGroupCreate`:
/// `ErrMessageContains(err, errCodeValidationError, "Invalid IAM Instance Profile")`). Auto
/// Scaling uses `ValidationError` for most refusals, so only that message is retried.
pub(crate) fn instance_profile_unseen(err: &ProviderError) -> Option<&'static str> {
    has_code_and_message(err, "ValidationError", "Invalid IAM Instance Profile").then_some("EC2 does not know the launch template's new instance profile yet")
}

/// Why a DeleteAutoScalingGroup refusal is worth another try: `ResourceInUse` (instances,
/// lifecycle hooks or a warm pool still attached) and `ScalingActivityInProgress` while a scaling
/// activity runs (Terraform: internal/service/autoscaling/group.go, `resourceGroupDelete`:
/// `RetryWhenAWSErrCodeEquals(…, errCodeResourceInUseFault, errCodeScalingActivityInProgressFault)`
/// for the delete timeout, 10 minutes).
pub(crate) fn group_busy(err: &ProviderError) -> Option<&'static str> {
    has_any_code(err, &["ResourceInUse", "ScalingActivityInProgress"]).then_some("a scaling activity or attached resource still holds the group")
}

/// How long create waits for a new group to be described (Auto Scaling is eventually
/// consistent, like EC2).
const PROPAGATION_TIMEOUT: Duration = Duration::from_secs(120);

/// Auto Scaling says a group is missing with a `ValidationError` whose message contains "not
/// found" (the Terraform AWS provider checks the same); that is NotFound.
fn gone_if_not_found(e: ProviderError) -> ProviderError {
    if e.has_code("ValidationError") && e.message.contains("not found") {
        ProviderError::not_found(e.message)
    } else {
        e
    }
}

/// The group named `name`, or `None` when there is none.
async fn find(aws: &Clients, name: &str) -> Result<Option<SdkGroup>, ProviderError> {
    let out = aws
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .map_err(|e| sdk("autoscaling DescribeAutoScalingGroups", e))?;
    Ok(out.auto_scaling_groups().iter().find(|g| g.auto_scaling_group_name() == Some(name)).cloned())
}

/// Polls until the group is (`present`) or is not there, with a growing delay, for `timeout`.
async fn wait_until(aws: &Clients, name: &str, present: bool, timeout: Duration) -> Result<Option<SdkGroup>, ProviderError> {
    let backoff = Backoff { first: Duration::from_millis(500), max: Duration::from_secs(15), timeout };
    let what = if present { "to be described after it was created" } else { "to be deleted" };
    poll(&format!("autoscaling group {name} {what}"), backoff, |last| async move {
        let group = find(aws, name).await?;
        if group.is_some() == present {
            return Ok(Some(group));
        }
        if last {
            return Err(ProviderError::api(format!("autoscaling group {name}: waited {} s for it {what}", timeout.as_secs())));
        }
        Ok(None)
    })
    .await
}

impl AutoscalingGroup {
    fn protect(&self) -> Result<bool, ProviderError> {
        Ok(*opt(&self.protect_from_scale_in)?.unwrap_or(&false))
    }

    fn subnets(&self) -> Result<String, ProviderError> {
        Ok(self.vpc_zone_identifier.value()?.iter().map(|s| s.value().cloned()).collect::<Result<Vec<_>, _>>()?.join(","))
    }

    fn launch_template_spec(&self) -> Result<Option<SdkSpec>, ProviderError> {
        self.launch_template.first().map(GroupLaunchTemplate::to_sdk).transpose()
    }

    fn policy(&self) -> Result<Option<SdkPolicy>, ProviderError> {
        self.mixed_instances_policy.first().map(MixedInstancesPolicy::to_sdk).transpose()
    }

    /// The group's tags as Auto Scaling takes them, plus the ownership tags when `ctx` is given.
    fn sdk_tags(&self, name: &str, ctx: Option<&OpContext>) -> Result<Vec<Tag>, ProviderError> {
        let tag = |key: &str, value: &str, propagate: bool| {
            Tag::builder().resource_id(name).resource_type("auto-scaling-group").key(key).value(value).propagate_at_launch(propagate).build()
        };
        let mut tags = Vec::new();
        for t in &self.tag {
            tags.push(tag(t.key.value()?, t.value.value()?, *t.propagate_at_launch.value()?));
        }
        if let Some(ctx) = ctx {
            tags.push(tag(STACK_TAG, &ctx.stack, false));
            tags.push(tag(ADDRESS_TAG, &crate::support::tags::address_tag(&ctx.address), false));
        }
        Ok(tags)
    }
}

/// A group in the shape of [`AutoscalingGroup`], with its computed attributes.
fn attributes(group: &SdkGroup, name: &str) -> Json {
    let mut attrs = Map::new();
    attrs.insert("id".into(), json!(name));
    attrs.insert("name".into(), json!(name));
    attrs.insert("min_size".into(), json!(group.min_size()));
    attrs.insert("max_size".into(), json!(group.max_size()));
    attrs.insert("desired_capacity".into(), json!(group.desired_capacity()));
    let subnets: Vec<&str> = group.vpc_zone_identifier().unwrap_or_default().split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    attrs.insert("vpc_zone_identifier".into(), json!(subnets));
    attrs.insert("protect_from_scale_in".into(), json!(group.new_instances_protected_from_scale_in().unwrap_or(false)));
    attrs.insert("health_check_type".into(), json!(group.health_check_type()));
    if let Some(spec) = group.launch_template() {
        attrs.insert("launch_template".into(), json!([GroupLaunchTemplate::json(spec)]));
    }
    if let Some(policy) = group.mixed_instances_policy() {
        attrs.insert("mixed_instances_policy".into(), json!([MixedInstancesPolicy::json(policy)]));
    }
    let mut tags: Vec<_> = group.tags().iter().filter(|t| !matches!(t.key(), Some(STACK_TAG | ADDRESS_TAG) | None)).collect();
    tags.sort_by_key(|t| t.key());
    let tags: Vec<Json> = tags
        .into_iter()
        .map(|t| json!({ "key": t.key(), "value": t.value().unwrap_or_default(), "propagate_at_launch": t.propagate_at_launch().unwrap_or(false) }))
        .collect();
    attrs.insert("tag".into(), Json::Array(tags));
    attrs.insert("arn".into(), json!(group.auto_scaling_group_arn()));
    Json::Object(attrs)
}

#[async_trait]
impl AwsResource for AutoscalingGroup {
    const ARN: ArnForm = ArnForm::Custom {
        service: "autoscaling",
        describe: "autoScalingGroup:UUID:autoScalingGroupName/NAME",
        id: crate::support::arn::autoscaling_group_name,
    };
    const ALREADY_EXISTS: &'static [&'static str] = &["AlreadyExists"];

    async fn named_existing(&self, aws: &Clients) -> Result<Option<(String, Vec<(String, String)>)>, ProviderError> {
        let name = self.name.value()?;
        Ok(find(aws, name).await?.map(|g| {
            let tags = g.tags().iter().map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string())).collect();
            (name.clone(), tags)
        }))
    }

    async fn create(&self, aws: &Clients, ctx: &OpContext) -> Result<Applied, ProviderError> {
        let name = self.name.value()?.clone();
        // AWS refuses an existing name (AlreadyExists); moto 5.2.5 silently replaces the group,
        // so ask first, and refuse the same way whichever is behind the endpoint.
        if let Some(existing) = find(aws, &name).await? {
            let status = existing.status().map(|s| format!(" ({s})")).unwrap_or_default();
            return Err(ProviderError::api(format!(
                "autoscaling CreateAutoScalingGroup: AlreadyExists: an Auto Scaling group named `{name}` already exists{status}; expected a name not in use in this region"
            ))
            .with_code("AlreadyExists"));
        }
        let call = aws
            .autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(&name)
            .min_size(*self.min_size.value()?)
            .max_size(*self.max_size.value()?)
            .set_desired_capacity(opt(&self.desired_capacity)?.copied())
            .vpc_zone_identifier(self.subnets()?)
            .new_instances_protected_from_scale_in(self.protect()?)
            .set_health_check_type(opt(&self.health_check_type)?.cloned())
            .set_launch_template(self.launch_template_spec()?)
            .set_mixed_instances_policy(self.policy()?)
            .set_tags(Some(self.sdk_tags(&name, Some(ctx))?));
        retry_while(
            &format!("the instance profile of autoscaling group {name}'s launch template to be known to EC2"),
            IAM_PROPAGATION_TIMEOUT,
            instance_profile_unseen,
            || {
                let call = call.clone();
                async move { call.send().await.map_err(|e| sdk("autoscaling CreateAutoScalingGroup", e)) }
            },
        )
        .await?;
        // CreateAutoScalingGroup returns nothing; the ARN (with its UUID) comes from a describe.
        match wait_until(aws, &name, true, PROPAGATION_TIMEOUT).await {
            Ok(group) => Ok(Applied { id: name, computed: Map::new() }.with("arn", json!(group.as_ref().and_then(|g| g.auto_scaling_group_arn())))),
            Err(e) => Err(undo_create(e, AutoscalingGroup::delete(aws, &name, &Json::Null)).await),
        }
    }

    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError> {
        // The launch template or the whole policy is always sent: moto 5.2.5 drops a group's
        // mixed instances policy when an update leaves it out (AWS keeps it).
        let call = aws
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(id)
            .min_size(*self.min_size.value()?)
            .max_size(*self.max_size.value()?)
            .set_desired_capacity(opt(&self.desired_capacity)?.copied())
            .vpc_zone_identifier(self.subnets()?)
            .new_instances_protected_from_scale_in(self.protect()?)
            .set_health_check_type(opt(&self.health_check_type)?.cloned())
            .set_launch_template(self.launch_template_spec()?)
            .set_mixed_instances_policy(self.policy()?);
        retry_while(
            &format!("the instance profile of autoscaling group {id}'s launch template to be known to EC2"),
            IAM_PROPAGATION_TIMEOUT,
            instance_profile_unseen,
            || {
                let call = call.clone();
                async move { call.send().await.map_err(|e| gone_if_not_found(sdk("autoscaling UpdateAutoScalingGroup", e))) }
            },
        )
        .await?;
        let old = prior.sdk_tags(id, None)?;
        let new = self.sdk_tags(id, None)?;
        let removed: Vec<Tag> = old.iter().filter(|o| !new.iter().any(|n| n.key() == o.key())).cloned().collect();
        let set: Vec<Tag> = new.iter().filter(|n| !old.contains(n)).cloned().collect();
        if !removed.is_empty() {
            aws.autoscaling.delete_tags().set_tags(Some(removed)).send().await.map_err(|e| sdk("autoscaling DeleteTags", e))?;
        }
        if !set.is_empty() {
            aws.autoscaling.create_or_update_tags().set_tags(Some(set)).send().await.map_err(|e| sdk("autoscaling CreateOrUpdateTags", e))?;
        }
        Ok(Applied { id: id.to_string(), computed: Map::new() })
    }

    async fn delete(aws: &Clients, id: &str, _prior: &Json) -> Result<(), ProviderError> {
        // ForceDelete terminates the instances too, without waiting for them to drain.
        retry_while(&format!("autoscaling group {id} to be free of scaling activities"), DELETE_TIMEOUT, group_busy, || async {
            aws.autoscaling
                .delete_auto_scaling_group()
                .auto_scaling_group_name(id)
                .force_delete(true)
                .send()
                .await
                .map_err(|e| gone_if_not_found(sdk("autoscaling DeleteAutoScalingGroup", e)))
        })
        .await?;
        wait_until(aws, id, false, DELETE_TIMEOUT).await?;
        Ok(())
    }

    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        let mut found = Vec::new();
        for chunk in ids.chunks(NAMES_PER_CALL) {
            let page: Vec<_> = aws
                .autoscaling
                .describe_auto_scaling_groups()
                .set_auto_scaling_group_names(Some(chunk.to_vec()))
                .max_records(NAMES_PER_CALL as i32)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<_, _>>()
                .await
                .map_err(|e| sdk("autoscaling DescribeAutoScalingGroups", e))?;
            found.extend(page);
        }
        Ok(ids
            .iter()
            .map(|id| {
                // A group being deleted is still described, with this status; it is gone.
                let group = found.iter().find(|g| g.auto_scaling_group_name() == Some(id.as_str()) && g.status() != Some("Delete in progress"))?;
                Some(attributes(group, id))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: &str, text: &str) -> ProviderError {
        ProviderError::api(format!("autoscaling CreateAutoScalingGroup: {code}: {text}")).with_code(code)
    }

    #[test]
    fn create_retries_only_an_instance_profile_ec2_does_not_know_yet() {
        let unseen =
            "You must use a valid fully-formed launch template. Value (p) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name";
        assert!(instance_profile_unseen(&err("ValidationError", unseen)).is_some());
        assert!(instance_profile_unseen(&err("ValidationError", "Max bound, 1, must be greater than or equal to min bound, 2")).is_none());
        assert!(instance_profile_unseen(&err("AlreadyExists", "Invalid IAM Instance Profile")).is_none());
    }

    #[test]
    fn delete_retries_while_the_group_is_busy() {
        assert!(group_busy(&err(
            "ResourceInUse",
            "You cannot delete an AutoScalingGroup while there are instances or pending Spot instance request(s) still in the group."
        ))
        .is_some());
        assert!(group_busy(&err(
            "ScalingActivityInProgress",
            "You cannot delete an AutoScalingGroup while there are scaling activities in progress for that group."
        ))
        .is_some());
        assert!(group_busy(&err("ValidationError", "AutoScalingGroup name not found")).is_none());
    }
}
