//! `aws_ecs_capacity_provider`: an ECS capacity provider over an Auto Scaling group.
//!
//! UpdateCapacityProvider changes everything but the Auto Scaling group: a new group forces a
//! new provider (`FORCE_NEW` names the nested field); update still refuses it, should a caller
//! bypass the planner, instead of half-applying it.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AutoScalingGroupProvider as SdkProvider, AutoScalingGroupProviderUpdate, CapacityProvider, ManagedScaling as SdkScaling, ManagedScalingStatus,
    ManagedTerminationProtection,
};
use clawform_core::{Applied, FieldError, OpContext, ProviderError, Resource, Val};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::ecs::{check_block_count, check_name, describe_capacity_providers, EcsTags};
use crate::error::sdk;
use crate::handler::{ArnForm, AwsResource};
use crate::support::opt;
use crate::support::tags::{create_tags, sync_tags, taken, user_tags, Taken};
use crate::support::{retry_while, wait_for};

/// How long to wait for an update or a delete to finish; Terraform's AWS provider waits 10
/// minutes for updates and 20 for deletes.
const UPDATE_TIMEOUT: Duration = Duration::from_secs(600);
const DELETE_TIMEOUT: Duration = Duration::from_secs(1200);

/// Why an UpdateCapacityProvider refusal is worth another try: `UpdateInProgressException` while
/// the provider's previous update (or its cluster's) still runs (Terraform:
/// internal/service/ecs/capacity_provider.go, `resourceCapacityProviderUpdate`:
/// `RetryWhenIsA[*awstypes.UpdateInProgressException]` for 10 minutes).
pub(crate) fn update_in_progress(err: &ProviderError) -> Option<&'static str> {
    err.has_code("UpdateInProgressException").then_some("the capacity provider's previous update is still running")
}

/// An ECS capacity provider, as the Terraform AWS provider's `aws_ecs_capacity_provider`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EcsCapacityProvider {
    /// The name: up to 255 letters, digits, underscores and hyphens, not starting with `aws`,
    /// `ecs` or `fargate`.
    pub name: Val<String>,
    /// The Auto Scaling group behind the provider (exactly one block).
    pub auto_scaling_group_provider: Vec<AutoScalingGroupProvider>,
    /// Tags.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, Val<String>>,
}

/// The `auto_scaling_group_provider` block.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AutoScalingGroupProvider {
    /// The full ARN of the Auto Scaling group; it cannot change once the provider exists.
    pub auto_scaling_group_arn: Val<String>,
    /// `ENABLED` or `DISABLED` (the default): whether ECS protects instances running tasks from
    /// scale-in. Needs managed scaling, and scale-in protection on the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_termination_protection: Option<Val<String>>,
    /// Managed scaling (at most one block); without it managed scaling is `DISABLED`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_scaling: Vec<ManagedScaling>,
}

/// The `managed_scaling` block.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ManagedScaling {
    /// `ENABLED` or `DISABLED`.
    pub status: Val<String>,
    /// The utilization, 1 to 100 percent, that ECS scales the group to keep.
    pub target_capacity: Val<i32>,
    /// The fewest instances ECS adds or removes at once, 1 to 10000 (AWS's default is 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_scaling_step_size: Option<Val<i32>>,
    /// The most instances ECS adds or removes at once, 1 to 10000 (AWS's default is 10000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_scaling_step_size: Option<Val<i32>>,
}

impl Resource for EcsCapacityProvider {
    const TYPE: &'static str = "aws_ecs_capacity_provider";
    const COMPUTED: &'static [&'static str] = &["id", "arn"];
    const FORCE_NEW: &'static [&'static str] = &["name", "auto_scaling_group_provider.auto_scaling_group_arn"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&["name"]);

    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(name) = self.name.literal() {
            check_name("name", name, &mut errors);
            let lower = name.to_ascii_lowercase();
            if let Some(prefix) = ["aws", "ecs", "fargate"].into_iter().find(|p| lower.starts_with(p)) {
                errors.push(FieldError::new("name", format!("`{name}` starts with `{prefix}`, which AWS keeps for itself; expected another name")));
            }
        }
        check_block_count("auto_scaling_group_provider", &self.auto_scaling_group_provider, 1, 1, &mut errors);
        for (i, p) in self.auto_scaling_group_provider.iter().enumerate() {
            p.validate(&format!("auto_scaling_group_provider.{i}"), &mut errors);
        }
        errors
    }
}

fn check_enabled_disabled(path: &str, value: &Val<String>, out: &mut Vec<FieldError>) {
    if let Some(v) = value.literal() {
        if v != "ENABLED" && v != "DISABLED" {
            out.push(FieldError::new(path, format!("`{v}` is not a status; expected `ENABLED` or `DISABLED`")));
        }
    }
}

fn check_range(path: &str, value: Option<&Val<i32>>, range: std::ops::RangeInclusive<i32>, out: &mut Vec<FieldError>) {
    if let Some(v) = value.and_then(Val::literal) {
        if !range.contains(v) {
            out.push(FieldError::new(path, format!("is {v}; expected {} to {}", range.start(), range.end())));
        }
    }
}

impl AutoScalingGroupProvider {
    fn validate(&self, path: &str, out: &mut Vec<FieldError>) {
        if let Some(arn) = self.auto_scaling_group_arn.literal() {
            if !arn.starts_with("arn:") || !arn.contains(":autoScalingGroup:") {
                out.push(FieldError::new(
                    format!("{path}.auto_scaling_group_arn"),
                    format!("`{arn}` is not an Auto Scaling group ARN; expected arn:aws:autoscaling:REGION:ACCOUNT:autoScalingGroup:…"),
                ));
            }
        }
        if let Some(p) = &self.managed_termination_protection {
            check_enabled_disabled(&format!("{path}.managed_termination_protection"), p, out);
        }
        check_block_count(&format!("{path}.managed_scaling"), &self.managed_scaling, 0, 1, out);
        for (i, s) in self.managed_scaling.iter().enumerate() {
            let at = format!("{path}.managed_scaling.{i}");
            check_enabled_disabled(&format!("{at}.status"), &s.status, out);
            check_range(&format!("{at}.target_capacity"), Some(&s.target_capacity), 1..=100, out);
            check_range(&format!("{at}.minimum_scaling_step_size"), s.minimum_scaling_step_size.as_ref(), 1..=10000, out);
            check_range(&format!("{at}.maximum_scaling_step_size"), s.maximum_scaling_step_size.as_ref(), 1..=10000, out);
            if let (Some(Val::Lit(min)), Some(Val::Lit(max))) = (&s.minimum_scaling_step_size, &s.maximum_scaling_step_size) {
                if min > max {
                    out.push(FieldError::new(
                        format!("{at}.maximum_scaling_step_size"),
                        format!("{max} is below minimum_scaling_step_size {min}; expected minimum <= maximum"),
                    ));
                }
            }
        }
        // AWS: "When using managed termination protection, managed scaling must also be used".
        let protected = self.managed_termination_protection.as_ref().and_then(Val::literal).is_some_and(|p| p == "ENABLED");
        let scaling_off = self.managed_scaling.first().map_or(Some(true), |s| s.status.literal().map(|v| v != "ENABLED"));
        if protected && scaling_off == Some(true) {
            out.push(FieldError::new(
                format!("{path}.managed_termination_protection"),
                "is ENABLED without managed scaling; expected a managed_scaling block with status ENABLED",
            ));
        }
    }

    fn termination_protection(&self) -> Result<ManagedTerminationProtection, ProviderError> {
        Ok(ManagedTerminationProtection::from(opt(&self.managed_termination_protection)?.map_or("DISABLED", String::as_str)))
    }

    /// The managed scaling AWS is to have: the block's, or `DISABLED` without one.
    fn scaling(&self) -> Result<SdkScaling, ProviderError> {
        let Some(s) = self.managed_scaling.first() else {
            return Ok(SdkScaling::builder().status(ManagedScalingStatus::Disabled).build());
        };
        Ok(SdkScaling::builder()
            .status(ManagedScalingStatus::from(s.status.value()?.as_str()))
            .target_capacity(*s.target_capacity.value()?)
            .set_minimum_scaling_step_size(opt(&s.minimum_scaling_step_size)?.copied())
            .set_maximum_scaling_step_size(opt(&s.maximum_scaling_step_size)?.copied())
            .build())
    }
}

impl EcsCapacityProvider {
    fn provider(&self) -> Result<&AutoScalingGroupProvider, ProviderError> {
        self.auto_scaling_group_provider.first().ok_or_else(|| ProviderError::invalid("aws_ecs_capacity_provider: auto_scaling_group_provider needs one block"))
    }
}

/// The live capacity provider a name or ARN names: ECS keeps deleted ones visible as
/// `INACTIVE`, and shows `DELETE_IN_PROGRESS` while deleting.
fn find<'a>(found: &'a [CapacityProvider], id: &str) -> Option<&'a CapacityProvider> {
    found.iter().find(|p| {
        let named = p.capacity_provider_arn() == Some(id) || p.name() == Some(id);
        let gone = p.status().is_some_and(|s| s.as_str() == "INACTIVE")
            || p.update_status().is_some_and(|s| matches!(s.as_str(), "DELETE_IN_PROGRESS" | "DELETE_COMPLETE"));
        named && !gone
    })
}

#[async_trait]
impl AwsResource for EcsCapacityProvider {
    const ARN: ArnForm = ArnForm::Whole { service: "ecs", prefix: "capacity-provider/" };

    async fn create(&self, aws: &Clients, ctx: &OpContext) -> Result<Applied, ProviderError> {
        let name = self.name.value()?;
        let p = self.provider()?;
        let asg = SdkProvider::builder()
            .auto_scaling_group_arn(p.auto_scaling_group_arn.value()?)
            .managed_scaling(p.scaling()?)
            .managed_termination_protection(p.termination_protection()?)
            .build()
            .map_err(|e| ProviderError::invalid(format!("aws_ecs_capacity_provider: {e}")))?;
        // AWS refuses a name in use; moto (5.2.5) silently replaces the provider instead. One
        // carrying this resource's ownership tags was left by a crashed run: adopt it.
        if let Some(existing) = find(&describe_capacity_providers(aws, std::slice::from_ref(name)).await?, name) {
            let arn = existing.capacity_provider_arn().unwrap_or_default().to_string();
            return match taken(existing.tags(), ctx) {
                Taken::Ours => self.adopt_id(aws, ctx, &arn).await,
                Taken::Theirs(whose) => Err(ProviderError::api(format!(
                    "ecs CreateCapacityProvider: a capacity provider named `{name}` already exists ({whose}): {arn}; expected a name not in use"
                ))),
            };
        }
        let out = aws
            .ecs
            .create_capacity_provider()
            .name(name)
            .auto_scaling_group_provider(asg)
            .set_tags(Some(create_tags::<EcsTags>(&self.tags, ctx)?))
            .send()
            .await
            .map_err(|e| sdk("ecs CreateCapacityProvider", e))?;
        let arn = out
            .capacity_provider()
            .and_then(|c| c.capacity_provider_arn())
            .ok_or_else(|| ProviderError::api("ecs CreateCapacityProvider returned no capacity provider ARN"))?
            .to_string();
        Ok(Applied::with_arn(arn.clone(), arn))
    }

    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError> {
        let (new, old) = (self.provider()?, prior.provider()?);
        if new.auto_scaling_group_arn.value()? != old.auto_scaling_group_arn.value()? {
            return Err(ProviderError::invalid(format!(
                "aws_ecs_capacity_provider {id}: auto_scaling_group_provider.0.auto_scaling_group_arn cannot change in place (UpdateCapacityProvider cannot move a provider to another group); expected the same group, or a new name so the provider is replaced"
            )));
        }
        if new.scaling()? != old.scaling()? || new.termination_protection()? != old.termination_protection()? {
            let update =
                AutoScalingGroupProviderUpdate::builder().managed_scaling(new.scaling()?).managed_termination_protection(new.termination_protection()?).build();
            let name = self.name.value()?;
            retry_while(&format!("ecs capacity provider {name} to finish its previous update"), UPDATE_TIMEOUT, update_in_progress, || async {
                aws.ecs
                    .update_capacity_provider()
                    .name(name)
                    .auto_scaling_group_provider(update.clone())
                    .send()
                    .await
                    .map_err(|e| sdk("ecs UpdateCapacityProvider", e))
            })
            .await?;
            wait_for(&format!("ecs capacity provider {id} to finish updating"), UPDATE_TIMEOUT, || async {
                let found = describe_capacity_providers(aws, &[id.to_string()]).await?;
                let p = find(&found, id).ok_or_else(|| ProviderError::not_found(format!("ecs capacity provider {id} vanished while updating")))?;
                match p.update_status().map(|s| s.as_str()) {
                    Some("UPDATE_IN_PROGRESS") => Ok(None),
                    Some("UPDATE_FAILED") => {
                        Err(ProviderError::api(format!("ecs UpdateCapacityProvider: {id}: UPDATE_FAILED: {}", p.update_status_reason().unwrap_or_default())))
                    }
                    _ => Ok(Some(())),
                }
            })
            .await?;
        }
        sync_tags::<EcsTags>(aws, id, &prior.tags, &self.tags).await?;
        Ok(Applied::with_arn(id.to_string(), id))
    }

    async fn delete(aws: &Clients, id: &str, _prior: &Json) -> Result<(), ProviderError> {
        // Look first: moto (5.2.5) answers HTTP 500 to deleting a provider it does not have.
        if find(&describe_capacity_providers(aws, &[id.to_string()]).await?, id).is_none() {
            return Err(ProviderError::not_found(format!("ecs DeleteCapacityProvider: capacity provider {id} does not exist")));
        }
        aws.ecs.delete_capacity_provider().capacity_provider(id).send().await.map_err(|e| sdk("ecs DeleteCapacityProvider", e))?;
        // Deleting is asynchronous; the Auto Scaling group behind it is deleted next, and only
        // once the provider has let go of it.
        wait_for(&format!("ecs capacity provider {id} to be deleted"), DELETE_TIMEOUT, || async {
            let found = describe_capacity_providers(aws, &[id.to_string()]).await?;
            let failed = found
                .iter()
                .find(|p| (p.capacity_provider_arn() == Some(id) || p.name() == Some(id)) && p.update_status().is_some_and(|s| s.as_str() == "DELETE_FAILED"));
            if let Some(p) = failed {
                return Err(ProviderError::api(format!("ecs DeleteCapacityProvider: {id}: DELETE_FAILED: {}", p.update_status_reason().unwrap_or_default())));
            }
            let still =
                found.iter().any(|p| (p.capacity_provider_arn() == Some(id) || p.name() == Some(id)) && p.status().map(|s| s.as_str()) != Some("INACTIVE"));
            Ok((!still).then_some(()))
        })
        .await
    }

    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        let found = describe_capacity_providers(aws, ids).await?;
        Ok(ids
            .iter()
            .map(|id| {
                let p = find(&found, id)?;
                let asg = p.auto_scaling_group_provider().map(|a| {
                    let mut block = Map::new();
                    block.insert("auto_scaling_group_arn".into(), json!(a.auto_scaling_group_arn()));
                    block.insert("managed_termination_protection".into(), json!(a.managed_termination_protection().map(|t| t.as_str())));
                    let scaling: Vec<Json> = a
                        .managed_scaling()
                        .map(|s| {
                            json!({
                                "status": s.status().map(|v| v.as_str()),
                                "target_capacity": s.target_capacity(),
                                "minimum_scaling_step_size": s.minimum_scaling_step_size(),
                                "maximum_scaling_step_size": s.maximum_scaling_step_size(),
                            })
                        })
                        .into_iter()
                        .collect();
                    block.insert("managed_scaling".into(), Json::Array(scaling));
                    Json::Object(block)
                });
                let mut attrs = Map::new();
                attrs.insert("id".into(), json!(id));
                attrs.insert("name".into(), json!(p.name()));
                attrs.insert("auto_scaling_group_provider".into(), Json::Array(asg.into_iter().collect()));
                attrs.insert("tags".into(), Json::Object(user_tags(p.tags())));
                attrs.insert("arn".into(), json!(p.capacity_provider_arn()));
                Some(Json::Object(attrs))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_retries_only_an_update_in_progress() {
        let err = |code: &str| ProviderError::api(format!("ecs UpdateCapacityProvider: {code}: no")).with_code(code);
        assert!(update_in_progress(&err("UpdateInProgressException")).is_some());
        assert!(update_in_progress(&err("ClientException")).is_none());
        assert!(update_in_progress(&err("InvalidParameterException")).is_none());
    }

    fn provider(protection: Option<&str>, scaling: Option<(&str, i32)>) -> EcsCapacityProvider {
        EcsCapacityProvider {
            name: "spot".into(),
            auto_scaling_group_provider: vec![AutoScalingGroupProvider {
                auto_scaling_group_arn: "arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:uuid:autoScalingGroupName/asg".into(),
                managed_termination_protection: protection.map(Into::into),
                managed_scaling: scaling
                    .map(|(s, t)| ManagedScaling { status: s.into(), target_capacity: t.into(), ..Default::default() })
                    .into_iter()
                    .collect(),
            }],
            tags: IndexMap::new(),
        }
    }

    fn paths(p: &EcsCapacityProvider) -> Vec<String> {
        p.validate().into_iter().map(|e| e.path).collect()
    }

    #[test]
    fn validate_checks_names_ranges_and_protection() {
        assert!(paths(&provider(Some("ENABLED"), Some(("ENABLED", 100)))).is_empty());
        assert_eq!(paths(&provider(Some("ENABLED"), None)), vec!["auto_scaling_group_provider.0.managed_termination_protection"]);
        assert_eq!(
            paths(&provider(None, Some(("ON", 0)))),
            vec!["auto_scaling_group_provider.0.managed_scaling.0.status", "auto_scaling_group_provider.0.managed_scaling.0.target_capacity"]
        );
        let mut named = provider(None, None);
        named.name = "ecs-spot".into();
        assert_eq!(paths(&named), vec!["name"]);
        named.auto_scaling_group_provider.clear();
        assert_eq!(paths(&named), vec!["name", "auto_scaling_group_provider"]);
    }

    #[test]
    fn without_a_managed_scaling_block_scaling_is_disabled() {
        let p = provider(None, None);
        let scaling = p.provider().unwrap().scaling().unwrap();
        assert_eq!(scaling.status(), Some(&ManagedScalingStatus::Disabled));
        assert_eq!(p.provider().unwrap().termination_protection().unwrap(), ManagedTerminationProtection::Disabled);
    }
}
