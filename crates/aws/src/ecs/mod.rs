//! ECS resource types and the helpers they share: batched describes, tags and waits.

pub mod capacity_provider;
pub mod cluster;
pub mod cluster_capacity_providers;
pub mod service;
pub mod task_definition;

use aws_sdk_ecs::types::{CapacityProvider, CapacityProviderField, CapacityProviderStrategyItem, Cluster, ClusterField, Tag};
use clawform_core::{FieldError, ProviderError, Val};
use serde::{Deserialize, Serialize};

use crate::clients::Clients;
use crate::error::sdk;
use crate::handler::Register;
use crate::support::tags;

/// The ECS resource types.
pub(crate) fn types(f: &mut dyn FnMut(Register)) {
    f(Register::of::<cluster::EcsCluster>());
    f(Register::of::<capacity_provider::EcsCapacityProvider>());
    f(Register::of::<cluster_capacity_providers::EcsClusterCapacityProviders>());
    f(Register::of::<task_definition::EcsTaskDefinition>());
    f(Register::of::<service::EcsService>());
}

/// DescribeClusters takes "a list of up to 100 cluster names or full cluster ARN entries" (ECS
/// API reference, DescribeClusters).
pub(crate) const DESCRIBE_CLUSTERS_BATCH: usize = 100;

/// DescribeCapacityProviders: "Up to 100 capacity providers can be described in an action" (ECS
/// API reference); the answer still comes in pages of up to 10, followed by `nextToken`.
pub(crate) const DESCRIBE_CAPACITY_PROVIDERS_BATCH: usize = 100;

/// The chunks of `ids` one DescribeClusters call each takes.
pub(crate) fn cluster_batches(ids: &[String]) -> std::slice::Chunks<'_, String> {
    ids.chunks(DESCRIBE_CLUSTERS_BATCH)
}

/// The chunks of `ids` one DescribeCapacityProviders request (and its pages) each takes.
pub(crate) fn capacity_provider_batches(ids: &[String]) -> std::slice::Chunks<'_, String> {
    ids.chunks(DESCRIBE_CAPACITY_PROVIDERS_BATCH)
}

/// Describes clusters by name or ARN, with their tags and settings, 100 per call. Clusters that
/// do not exist are left out; deleted ones come back `INACTIVE` for a while (see [`is_live`]).
pub(crate) async fn describe_clusters(aws: &Clients, ids: &[String]) -> Result<Vec<Cluster>, ProviderError> {
    let mut found = Vec::new();
    for chunk in cluster_batches(ids) {
        let out = aws
            .ecs
            .describe_clusters()
            .set_clusters(Some(chunk.to_vec()))
            .include(ClusterField::Tags)
            .include(ClusterField::Settings)
            .send()
            .await
            .map_err(|e| sdk("ecs DescribeClusters", e))?;
        found.extend(out.clusters().iter().cloned());
    }
    Ok(found)
}

/// Whether a described cluster still exists: ECS keeps deleted clusters visible as `INACTIVE`.
pub(crate) fn is_live(cluster: &Cluster) -> bool {
    cluster.status() != Some("INACTIVE")
}

/// The live cluster a name or ARN `id` names, among described ones.
pub(crate) fn find_cluster<'a>(found: &'a [Cluster], id: &str) -> Option<&'a Cluster> {
    found.iter().filter(|c| is_live(c)).find(|c| c.cluster_arn() == Some(id) || c.cluster_name() == Some(id))
}

/// Describes capacity providers by name or ARN, with their tags: 100 names per request, every
/// page of each. Always with names: moto (5.2.5) answers HTTP 500 to a call without them.
pub(crate) async fn describe_capacity_providers(aws: &Clients, ids: &[String]) -> Result<Vec<CapacityProvider>, ProviderError> {
    let mut found = Vec::new();
    for chunk in capacity_provider_batches(ids) {
        let mut token = None;
        loop {
            let out = aws
                .ecs
                .describe_capacity_providers()
                .set_capacity_providers(Some(chunk.to_vec()))
                .include(CapacityProviderField::Tags)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| sdk("ecs DescribeCapacityProviders", e))?;
            found.extend(out.capacity_providers().iter().cloned());
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
    }
    Ok(found)
}

tags::optional_tag_pair!(Tag);

/// ECS's tagging: TagResource and UntagResource by ARN.
pub(crate) struct EcsTags;

#[async_trait::async_trait]
impl tags::TagApi for EcsTags {
    type Tag = Tag;

    fn make(key: String, value: String) -> Result<Tag, ProviderError> {
        Ok(Tag::builder().key(key).value(value).build())
    }

    async fn tag(aws: &Clients, target: &str, tags: Vec<Tag>) -> Result<(), ProviderError> {
        aws.ecs.tag_resource().resource_arn(target).set_tags(Some(tags)).send().await.map_err(|e| sdk("ecs TagResource", e))?;
        Ok(())
    }

    async fn untag(aws: &Clients, target: &str, keys: Vec<String>) -> Result<(), ProviderError> {
        aws.ecs.untag_resource().resource_arn(target).set_tag_keys(Some(keys)).send().await.map_err(|e| sdk("ecs UntagResource", e))?;
        Ok(())
    }
}

/// Checks an ECS name (cluster, capacity provider): "Up to 255 letters (uppercase and
/// lowercase), numbers, underscores, and hyphens are allowed" (ECS API reference).
/// One item of a capacity provider strategy: a service's `capacity_provider_strategy` block and
/// a cluster's `default_capacity_provider_strategy` block have the same shape.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StrategyItem {
    /// The capacity provider's name; the cluster must have it.
    pub capacity_provider: Val<String>,
    /// The relative share of tasks, 0 to 1000 (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<Val<i32>>,
    /// The tasks to place on this provider first, 0 to 100000 (default 0); at most one item of
    /// a strategy may have a base.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<Val<i32>>,
}

/// A strategy as the SDK takes it; `what` names the block in errors.
pub(crate) fn sdk_strategy(items: &[StrategyItem], what: &str) -> Result<Vec<CapacityProviderStrategyItem>, ProviderError> {
    items
        .iter()
        .map(|item| {
            CapacityProviderStrategyItem::builder()
                .capacity_provider(item.capacity_provider.value()?)
                .set_weight(item.weight.as_ref().map(Val::value).transpose()?.copied())
                .set_base(item.base.as_ref().map(Val::value).transpose()?.copied())
                .build()
                .map_err(|e| ProviderError::invalid(format!("{what}: {e}")))
        })
        .collect()
}

pub(crate) fn check_name(path: &str, name: &str, out: &mut Vec<FieldError>) {
    if name.is_empty() || name.len() > 255 {
        out.push(FieldError::new(path, format!("has {} characters; expected 1 to 255", name.chars().count())));
    }
    if let Some(bad) = name.chars().find(|c| !c.is_ascii_alphanumeric() && *c != '_' && *c != '-') {
        out.push(FieldError::new(path, format!("`{bad}` is not allowed; expected letters, digits, underscores and hyphens")));
    }
}

/// Checks that a nested block given as a list (Terraform's JSON shape) has between `min` and
/// `max` entries.
pub(crate) fn check_block_count<T>(path: &str, blocks: &[T], min: usize, max: usize, out: &mut Vec<FieldError>) {
    if blocks.len() < min || blocks.len() > max {
        let expected = if min == max { format!("exactly {min}") } else { format!("{min} to {max}") };
        out.push(FieldError::new(path, format!("has {} blocks; expected {expected}", blocks.len())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    #[test]
    fn describes_go_in_aws_documented_batches() {
        let sizes = |chunks: std::slice::Chunks<'_, String>| chunks.map(<[String]>::len).collect::<Vec<_>>();
        assert_eq!(sizes(cluster_batches(&ids(250))), vec![100, 100, 50]);
        assert_eq!(sizes(cluster_batches(&ids(100))), vec![100]);
        assert_eq!(sizes(cluster_batches(&ids(0))), Vec::<usize>::new(), "no ids, no call");
        assert_eq!(sizes(capacity_provider_batches(&ids(101))), vec![100, 1]);
    }

    #[test]
    fn names_are_checked_against_ecs_rules() {
        let check = |name: &str| {
            let mut out = Vec::new();
            check_name("name", name, &mut out);
            out.len()
        };
        assert_eq!(check("platform_cluster-1"), 0);
        assert_eq!(check(""), 1);
        assert_eq!(check("has space"), 1);
        assert_eq!(check(&"a".repeat(256)), 1);
    }
}
