//! `aws_ecs_cluster_capacity_providers`: which capacity providers a cluster may use, and its
//! default capacity provider strategy.
//!
//! It is not a resource of its own in AWS but a part of the cluster, so its id is the cluster's
//! name and it carries no tags. Create and update are one PutClusterCapacityProviders; delete
//! puts empty lists, which detaches the providers so that they can be deleted afterwards.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ecs::types::CapacityProviderStrategyItem;
use clawform_core::{Applied, FieldError, OpContext, ProviderError, Resource, Val};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::clients::Clients;
use crate::ecs::{check_name, describe_clusters, find_cluster};
use crate::error::sdk;
use crate::handler::{ArnForm, AwsResource};
use crate::support::{has_any_code, has_code_and_message, retry_while, wait_for};

/// How long a put keeps retrying while the cluster is busy or not yet `ACTIVE`, and then waits
/// for the new association to settle: 10 minutes, as the Terraform AWS provider
/// (internal/service/ecs/cluster_capacity_providers.go, `retryClusterCapacityProvidersPut`).
const PUT_TIMEOUT: Duration = Duration::from_secs(600);

/// Why a PutClusterCapacityProviders refusal is worth another try: `ClientException` "Cluster
/// was not ACTIVE" while a new cluster is still provisioning, `UpdateInProgressException` while
/// the cluster's previous change runs, and `ResourceInUseException` while a provider being
/// removed is still used by a service or task (Terraform:
/// internal/service/ecs/cluster_capacity_providers.go, `retryClusterCapacityProvidersPut`).
/// `ClientException` is ECS's code for many refusals; only this message is retried.
pub(crate) fn cluster_busy(err: &ProviderError) -> Option<&'static str> {
    let busy =
        has_code_and_message(err, "ClientException", "Cluster was not ACTIVE") || has_any_code(err, &["UpdateInProgressException", "ResourceInUseException"]);
    busy.then_some("the cluster is not ACTIVE yet, or busy with another update")
}

/// A cluster's capacity providers, as the Terraform AWS provider's
/// `aws_ecs_cluster_capacity_providers`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EcsClusterCapacityProviders {
    /// The cluster's name.
    pub cluster_name: Val<String>,
    /// Names of the capacity providers the cluster may use (`FARGATE`, `FARGATE_SPOT` or
    /// providers over Auto Scaling groups).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capacity_providers: Vec<Val<String>>,
    /// The strategy for services and tasks that name neither a strategy nor a launch type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_capacity_provider_strategy: Vec<StrategyItem>,
}

/// One `default_capacity_provider_strategy` block.
pub use super::StrategyItem;

impl Resource for EcsClusterCapacityProviders {
    const TYPE: &'static str = "aws_ecs_cluster_capacity_providers";
    const COMPUTED: &'static [&'static str] = &["id"];
    const FORCE_NEW: &'static [&'static str] = &["cluster_name"];
    const CREATE_BEFORE_DESTROY: Option<&'static [&'static str]> = Some(&["cluster_name"]);

    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(name) = self.cluster_name.literal() {
            check_name("cluster_name", name, &mut errors);
        }
        let literal_providers: Option<Vec<&String>> = self.capacity_providers.iter().map(Val::literal).collect();
        for (i, p) in self.capacity_providers.iter().enumerate() {
            if let Some(name) = p.literal() {
                if self.capacity_providers[..i].iter().any(|q| q.literal() == Some(name)) {
                    errors.push(FieldError::new(format!("capacity_providers.{i}"), format!("`{name}` is listed twice; expected each provider once")));
                }
            }
        }
        let mut with_base = 0;
        for (i, item) in self.default_capacity_provider_strategy.iter().enumerate() {
            let path = format!("default_capacity_provider_strategy.{i}");
            if let Some(w) = item.weight.as_ref().and_then(Val::literal) {
                if !(0..=1000).contains(w) {
                    errors.push(FieldError::new(format!("{path}.weight"), format!("is {w}; expected 0 to 1000")));
                }
            }
            if let Some(b) = item.base.as_ref().and_then(Val::literal) {
                if !(0..=100_000).contains(b) {
                    errors.push(FieldError::new(format!("{path}.base"), format!("is {b}; expected 0 to 100000")));
                }
                if *b > 0 {
                    with_base += 1;
                    if with_base > 1 {
                        errors.push(FieldError::new(
                            format!("{path}.base"),
                            "is the second base in the strategy; expected a base on one capacity provider at most",
                        ));
                    }
                }
            }
            // AWS refuses a strategy naming a provider the cluster is not given.
            if let (Some(name), Some(listed)) = (item.capacity_provider.literal(), &literal_providers) {
                if !listed.contains(&name) {
                    errors.push(FieldError::new(
                        format!("{path}.capacity_provider"),
                        format!("`{name}` is not in capacity_providers; expected one of the cluster's providers"),
                    ));
                }
            }
        }
        errors
    }
}

impl EcsClusterCapacityProviders {
    fn providers(&self) -> Result<Vec<String>, ProviderError> {
        self.capacity_providers.iter().map(|p| Ok(p.value()?.clone())).collect()
    }

    fn strategy(&self) -> Result<Vec<CapacityProviderStrategyItem>, ProviderError> {
        super::sdk_strategy(&self.default_capacity_provider_strategy, "aws_ecs_cluster_capacity_providers")
    }
}

/// Sets a cluster's providers and default strategy (empty lists detach them all), retrying while
/// the cluster is busy, then waits until ECS has finished attaching or detaching.
async fn put(aws: &Clients, cluster: &str, providers: Vec<String>, strategy: Vec<CapacityProviderStrategyItem>) -> Result<(), ProviderError> {
    // A cluster that is gone answers ClusterNotFoundException, which is NotFound: for a delete,
    // done.
    retry_while(&format!("ecs cluster {cluster} to accept new capacity providers"), PUT_TIMEOUT, cluster_busy, || async {
        aws.ecs
            .put_cluster_capacity_providers()
            .cluster(cluster)
            .set_capacity_providers(Some(providers.clone()))
            .set_default_capacity_provider_strategy(Some(strategy.clone()))
            .send()
            .await
            .map_err(|e| sdk("ecs PutClusterCapacityProviders", e))
    })
    .await?;
    wait_for(&format!("ecs cluster {cluster} to finish updating its capacity providers"), PUT_TIMEOUT, || async {
        let found = describe_clusters(aws, &[cluster.to_string()]).await?;
        let busy = find_cluster(&found, cluster).is_some_and(|c| c.attachments_status() == Some("UPDATE_IN_PROGRESS"));
        Ok((!busy).then_some(()))
    })
    .await
}

#[async_trait]
impl AwsResource for EcsClusterCapacityProviders {
    const ARN: ArnForm = ArnForm::None;

    async fn create(&self, aws: &Clients, _ctx: &OpContext) -> Result<Applied, ProviderError> {
        let cluster = self.cluster_name.value()?;
        put(aws, cluster, self.providers()?, self.strategy()?).await?;
        Ok(Applied { id: cluster.clone(), computed: Map::new() })
    }

    async fn update(&self, aws: &Clients, _ctx: &OpContext, id: &str, _prior: &Self) -> Result<Applied, ProviderError> {
        put(aws, id, self.providers()?, self.strategy()?).await?;
        Ok(Applied { id: id.to_string(), computed: Map::new() })
    }

    async fn delete(aws: &Clients, id: &str, _prior: &Json) -> Result<(), ProviderError> {
        put(aws, id, Vec::new(), Vec::new()).await
    }

    async fn read(aws: &Clients, ids: &[String]) -> Result<Vec<Option<Json>>, ProviderError> {
        let found = describe_clusters(aws, ids).await?;
        Ok(ids
            .iter()
            .map(|id| {
                let cluster = find_cluster(&found, id)?;
                let strategy: Vec<Json> = cluster
                    .default_capacity_provider_strategy()
                    .iter()
                    .map(|s| json!({ "capacity_provider": s.capacity_provider(), "weight": s.weight(), "base": s.base() }))
                    .collect();
                let mut attrs = Map::new();
                attrs.insert("id".into(), json!(id));
                attrs.insert("cluster_name".into(), json!(cluster.cluster_name()));
                attrs.insert("capacity_providers".into(), json!(cluster.capacity_providers()));
                attrs.insert("default_capacity_provider_strategy".into(), Json::Array(strategy));
                Some(Json::Object(attrs))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_retries_while_the_cluster_is_not_active_or_busy() {
        let err = |code: &str, text: &str| ProviderError::api(format!("ecs PutClusterCapacityProviders: {code}: {text}")).with_code(code);
        assert!(cluster_busy(&err("ClientException", "Cluster was not ACTIVE")).is_some());
        assert!(cluster_busy(&err("UpdateInProgressException", "The specified cluster is in a busy state.")).is_some());
        assert!(cluster_busy(&err("ResourceInUseException", "The specified capacity provider is in use and cannot be removed.")).is_some());
        assert!(cluster_busy(&err("ClientException", "The specified capacity provider does not exist.")).is_none());
        assert!(cluster_busy(&err("ClusterNotFoundException", "Cluster not found.")).is_none());
    }

    #[test]
    fn validate_checks_the_strategy_against_the_providers() {
        let item = |p: &str, w: i32, b: i32| StrategyItem { capacity_provider: p.into(), weight: Some(w.into()), base: Some(b.into()) };
        let r = EcsClusterCapacityProviders {
            cluster_name: "platform".into(),
            capacity_providers: vec!["spot".into(), "spot".into()],
            default_capacity_provider_strategy: vec![item("spot", 1, 1), item("other", 1001, 2)],
        };
        let paths: Vec<String> = r.validate().into_iter().map(|e| e.path).collect();
        assert_eq!(
            paths,
            vec![
                "capacity_providers.1",
                "default_capacity_provider_strategy.1.weight",
                "default_capacity_provider_strategy.1.base",
                "default_capacity_provider_strategy.1.capacity_provider"
            ]
        );
    }
}
