//! `aws_ecs_cluster`: an ECS cluster.
//!
//! AWS answers a CreateCluster for a name in use with the existing cluster, and moto (5.2.5)
//! silently replaces it; neither is what a plan that says "create" means. So create looks first:
//! a cluster with the name that carries this resource's own ownership tags (left by a run that
//! crashed before saving state) is adopted and brought in line; any other is refused.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ecs::types::{ClusterSetting as SdkSetting, ClusterSettingName};
use clawform_core::{Applied, FieldError, OpContext, ProviderError, Resource, Val};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::ecs::{check_name, describe_clusters, find_cluster, EcsTags};
use crate::error::sdk;
use crate::handler::{ArnForm, AwsResource};
use crate::support::tags::{create_tags, sync_tags, taken, user_tags, Taken};
use crate::support::{has_code_and_message, poll, retry_while, wait_for, Backoff};

/// How long CreateCluster is retried while ECS cannot assume its service-linked role: the
/// Terraform AWS provider's `propagationTimeout` (2 minutes, internal/service/ecs/consts.go).
const PROPAGATION_TIMEOUT: Duration = Duration::from_secs(2 * 60);

/// How long create waits for the new cluster to be `ACTIVE`: the Terraform AWS provider's
/// `clusterAvailableTimeout` (10 minutes, internal/service/ecs/wait.go, `waitClusterAvailable`).
const AVAILABLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// Why a CreateCluster refusal is worth another try: in an account that has not used ECS before,
/// the service-linked role `AWSServiceRoleForECS` is created along with the first cluster and
/// is not assumable for a while: `InvalidParameterException` "Unable to assume the service
/// linked role. Please verify that the ECS service linked role exists." (Terraform:
/// internal/service/ecs/cluster.go, `retryClusterCreate`). ECS uses that code for many refusals;
/// only this message is retried.
pub(crate) fn service_linked_role_unready(err: &ProviderError) -> Option<&'static str> {
    has_code_and_message(err, "InvalidParameterException", "Unable to assume the service linked role")
        .then_some("ECS cannot assume its service-linked role yet (a first cluster in the account creates it)")
}

/// What a wait for a new cluster decides from its status: `ACTIVE` is done; `PROVISIONING`
/// (capacity providers or Service Connect being set up) and not listed yet are pending; `FAILED`
/// is an error (Terraform: `waitClusterAvailable` waits from `PROVISIONING` to `ACTIVE`).
fn cluster_active(id: &str, status: Option<&str>) -> Result<bool, ProviderError> {
    match status {
        Some("ACTIVE") => Ok(true),
        Some("FAILED") => Err(ProviderError::api(format!("ecs CreateCluster: cluster {id} is FAILED"))),
        _ => Ok(false),
    }
}

/// The one cluster setting ECS has.
const CONTAINER_INSIGHTS: &str = "containerInsights";

/// What a cluster setting goes back to when its block is removed from the stack.
const CONTAINER_INSIGHTS_OFF: &str = "disabled";

/// How long delete keeps retrying while the cluster still holds instances, services or tasks
/// (instances of a just-deleted Auto Scaling group take minutes to deregister), and then waits
/// for it to become `INACTIVE`; Terraform's AWS provider allows 10 minutes too.
const DELETE_TIMEOUT: Duration = Duration::from_secs(600);

/// Error codes of a DeleteCluster that can succeed once work in progress elsewhere ends.
const DELETE_RETRY_CODES: &[&str] =
    &["ClusterContainsContainerInstancesException", "ClusterContainsServicesException", "ClusterContainsTasksException", "UpdateInProgressException"];

/// An ECS cluster, as the Terraform AWS provider's `aws_ecs_cluster`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EcsCluster {
    /// The cluster's name: up to 255 letters, digits, underscores and hyphens.
    pub name: Val<String>,
    /// Cluster settings; today only `containerInsights`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub setting: Vec<ClusterSetting>,
    /// Tags.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, Val<String>>,
}

/// One `setting` block of a cluster.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClusterSetting {
    /// The setting's name: `containerInsights`.
    pub name: Val<String>,
    /// `enabled`, `disabled` or `enhanced` (Container Insights with enhanced observability).
    pub value: Val<String>,
}

impl Resource for EcsCluster {
    const TYPE: &'static str = "aws_ecs_cluster";
    const COMPUTED: &'static [&'static str] = &["id", "arn"];
    const FORCE_NEW: &'static [&'static str] = &["name"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&["name"]);

    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(name) = self.name.literal() {
            check_name("name", name, &mut errors);
        }
        let mut seen = Vec::new();
        for (i, s) in self.setting.iter().enumerate() {
            if let Some(name) = s.name.literal() {
                if name != CONTAINER_INSIGHTS {
                    errors.push(FieldError::new(format!("setting.{i}.name"), format!("`{name}` is not a cluster setting; expected `{CONTAINER_INSIGHTS}`")));
                } else if seen.contains(&name) {
                    errors.push(FieldError::new(format!("setting.{i}.name"), format!("`{name}` is set twice; expected each setting once")));
                }
                seen.push(name);
            }
            if let Some(value) = s.value.literal() {
                if !matches!(value.as_str(), "enabled" | "disabled" | "enhanced") {
                    errors.push(FieldError::new(
                        format!("setting.{i}.value"),
                        format!("`{value}` is not a Container Insights value; expected `enabled`, `disabled` or `enhanced`"),
                    ));
                }
            }
        }
        errors
    }
}

impl EcsCluster {
    fn settings(&self) -> Result<Vec<(String, String)>, ProviderError> {
        self.setting.iter().map(|s| Ok((s.name.value()?.clone(), s.value.value()?.clone()))).collect()
    }

    /// Settings in an UpdateCluster call going from `prior`: the declared ones, and those
    /// dropped from the stack set back to off. Empty when nothing changed.
    fn settings_update(&self, prior: &EcsCluster) -> Result<Vec<SdkSetting>, ProviderError> {
        let new = self.settings()?;
        let old = prior.settings()?;
        if new == old {
            return Ok(Vec::new());
        }
        let dropped = old.into_iter().filter(|(k, _)| !new.iter().any(|(n, _)| n == k)).map(|(k, _)| (k, CONTAINER_INSIGHTS_OFF.to_string()));
        Ok(new.iter().cloned().chain(dropped).map(|(k, v)| sdk_setting(&k, v)).collect())
    }
}

fn sdk_setting(name: &str, value: String) -> SdkSetting {
    SdkSetting::builder().name(ClusterSettingName::from(name)).value(value).build()
}

/// A live cluster with the name, and whether it is this resource's own.
async fn existing(aws: &Clients, ctx: &OpContext, name: &str) -> Result<Option<(String, Taken)>, ProviderError> {
    let found = describe_clusters(aws, &[name.to_string()]).await?;
    Ok(find_cluster(&found, name).map(|c| (c.cluster_arn().unwrap_or_default().to_string(), taken(c.tags(), ctx))))
}

#[async_trait]
impl AwsResource for EcsCluster {
    const ARN: ArnForm = ArnForm::Whole { service: "ecs", prefix: "cluster/" };

    async fn create(&self, aws: &Clients, ctx: &OpContext) -> Result<Applied, ProviderError> {
        let name = self.name.value()?;
        let settings: Vec<SdkSetting> = self.settings()?.into_iter().map(|(k, v)| sdk_setting(&k, v)).collect();
        match existing(aws, ctx, name).await? {
            Some((arn, Taken::Ours)) => return self.adopt_id(aws, ctx, &arn).await,
            Some((arn, Taken::Theirs(whose))) => {
                return Err(ProviderError::api(format!(
                    "ecs CreateCluster: a cluster named `{name}` already exists ({whose}): {arn}; expected a name no active cluster has"
                )))
            }
            None => {}
        }
        let call = aws
            .ecs
            .create_cluster()
            .cluster_name(name)
            .set_settings((!settings.is_empty()).then_some(settings))
            .set_tags(Some(create_tags::<EcsTags>(&self.tags, ctx)?));
        let out = retry_while("ECS's service-linked role to be assumable", PROPAGATION_TIMEOUT, service_linked_role_unready, || {
            let call = call.clone();
            async move { call.send().await.map_err(|e| sdk("ecs CreateCluster", e)) }
        })
        .await?;
        let cluster = out.cluster().ok_or_else(|| ProviderError::api("ecs CreateCluster returned no cluster"))?;
        let arn = cluster.cluster_arn().ok_or_else(|| ProviderError::api("ecs CreateCluster returned no cluster ARN"))?.to_string();
        if cluster.status() != Some("ACTIVE") {
            // Not undone on failure: the cluster holds nothing yet, and a later apply adopts it
            // by its ownership tags.
            poll(&format!("ecs cluster {arn} to become ACTIVE"), Backoff::states(AVAILABLE_TIMEOUT), |_| async {
                let found = describe_clusters(aws, std::slice::from_ref(&arn)).await?;
                Ok(cluster_active(&arn, find_cluster(&found, &arn).and_then(|c| c.status()))?.then_some(()))
            })
            .await?;
        }
        Ok(Applied::with_arn(arn.clone(), arn))
    }

    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, prior: &Self) -> Result<Applied, ProviderError> {
        // UpdateCluster rather than UpdateClusterSettings: it takes the same settings (Terraform
        // uses it too), and moto (5.2.5) does not implement UpdateClusterSettings.
        let settings = self.settings_update(prior)?;
        if !settings.is_empty() {
            aws.ecs.update_cluster().cluster(id).set_settings(Some(settings)).send().await.map_err(|e| sdk("ecs UpdateCluster", e))?;
        }
        sync_tags::<EcsTags>(aws, id, &prior.tags, &self.tags).await?;
        Ok(Applied::with_arn(id.to_string(), id))
    }

    async fn delete(aws: &Clients, id: &str, _prior: &Json) -> Result<(), ProviderError> {
        // A deleted cluster stays visible as INACTIVE, and moto "deletes" it again without
        // complaint: look first, so a cluster already gone is reported as such.
        if find_cluster(&describe_clusters(aws, &[id.to_string()]).await?, id).is_none() {
            return Err(ProviderError::not_found(format!("ecs DeleteCluster: ClusterNotFoundException: cluster {id} does not exist")));
        }
        wait_for(&format!("ecs cluster {id} to empty so it can be deleted"), DELETE_TIMEOUT, || async {
            match aws.ecs.delete_cluster().cluster(id).send().await.map_err(|e| sdk("ecs DeleteCluster", e)) {
                Ok(_) => Ok(Some(())),
                Err(e) if DELETE_RETRY_CODES.iter().any(|c| e.has_code(c)) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await?;
        wait_for(&format!("ecs cluster {id} to become INACTIVE"), DELETE_TIMEOUT, || async {
            Ok(find_cluster(&describe_clusters(aws, &[id.to_string()]).await?, id).is_none().then_some(()))
        })
        .await
    }

    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        let found = describe_clusters(aws, ids).await?;
        Ok(ids
            .iter()
            .map(|id| {
                let cluster = find_cluster(&found, id)?;
                let settings: Vec<Json> = cluster.settings().iter().filter_map(|s| Some(json!({ "name": s.name()?.as_str(), "value": s.value()? }))).collect();
                let mut attrs = Map::new();
                attrs.insert("id".into(), json!(id));
                attrs.insert("name".into(), json!(cluster.cluster_name()));
                attrs.insert("setting".into(), Json::Array(settings));
                attrs.insert("tags".into(), Json::Object(user_tags(cluster.tags())));
                attrs.insert("arn".into(), json!(cluster.cluster_arn()));
                Some(Json::Object(attrs))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(settings: &[(&str, &str)]) -> EcsCluster {
        EcsCluster {
            name: "c".into(),
            setting: settings.iter().map(|(k, v)| ClusterSetting { name: (*k).into(), value: (*v).into() }).collect(),
            tags: IndexMap::new(),
        }
    }

    #[test]
    fn settings_update_sends_only_changes_and_turns_dropped_settings_off() {
        let on = cluster(&[(CONTAINER_INSIGHTS, "enabled")]);
        let none = cluster(&[]);
        assert!(on.settings_update(&on).unwrap().is_empty());
        let off = none.settings_update(&on).unwrap();
        assert_eq!(off, vec![sdk_setting(CONTAINER_INSIGHTS, "disabled".into())]);
        let enable = on.settings_update(&none).unwrap();
        assert_eq!(enable, vec![sdk_setting(CONTAINER_INSIGHTS, "enabled".into())]);
    }

    #[test]
    fn create_retries_only_the_service_linked_role_message() {
        let err = |code: &str, text: &str| ProviderError::api(format!("ecs CreateCluster: {code}: {text}")).with_code(code);
        let slr = "Unable to assume the service linked role. Please verify that the ECS service linked role exists.";
        assert!(service_linked_role_unready(&err("InvalidParameterException", slr)).is_some());
        assert!(service_linked_role_unready(&err("InvalidParameterException", "Cluster name is invalid")).is_none());
        assert!(service_linked_role_unready(&err("ClientException", slr)).is_none());
    }

    #[test]
    fn a_new_cluster_is_awaited_until_active() {
        assert_eq!(cluster_active("c", Some("ACTIVE")), Ok(true));
        assert_eq!(cluster_active("c", Some("PROVISIONING")), Ok(false));
        assert_eq!(cluster_active("c", None), Ok(false), "not listed yet");
        assert!(cluster_active("c", Some("FAILED")).is_err());
    }

    #[test]
    fn validate_refuses_unknown_settings_and_values() {
        let paths = |c: EcsCluster| c.validate().into_iter().map(|e| e.path).collect::<Vec<_>>();
        assert!(paths(cluster(&[(CONTAINER_INSIGHTS, "enhanced")])).is_empty());
        assert_eq!(paths(cluster(&[("insights", "on")])), vec!["setting.0.name", "setting.0.value"]);
        assert_eq!(paths(cluster(&[(CONTAINER_INSIGHTS, "enabled"), (CONTAINER_INSIGHTS, "disabled")])), vec!["setting.1.name"]);
    }
}
