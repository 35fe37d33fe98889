//! A new deployment of an ECS service with the task definition it has: its tasks are replaced
//! one by one and the new ones read their secrets again (ECS injects `secrets` when a task
//! starts, never later).

use clawform_core::ProviderError;

use crate::error::sdk;
use crate::Clients;

/// Starts a new deployment of `service` in `cluster` (UpdateService `forceNewDeployment`), the
/// task definition unchanged; returns the new primary deployment's id.
pub async fn force_new_deployment(aws: &Clients, cluster: &str, service: &str) -> Result<Option<String>, ProviderError> {
    let out = aws.ecs.update_service().cluster(cluster).service(service).force_new_deployment(true).send().await.map_err(|e| sdk("ecs UpdateService", e))?;
    let primary = out.service().and_then(|s| {
        s.deployments().iter().find(|d| d.status() == Some("PRIMARY")).or_else(|| s.deployments().first()).and_then(|d| d.id().map(str::to_string))
    });
    Ok(primary)
}
