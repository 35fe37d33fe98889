//! `Tenants::suspend`, `resume`, `restart` and `rotate_key`: what an operator (or the web app)
//! does to a running tenant. Suspending and resuming are tenant applies with the template
//! parameter `desired_count` recorded in the tenant's state, as `--param` values are, so every
//! later plan (a rollout of a new image tag included) keeps it.

use clawform_core::engine::ApplyOptions;
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::json;

use super::status::ServiceRef;
use super::{generate_gateway_token, report_errors, with_secrets, TenantInfo, TenantSecrets, Tenants};
use crate::workspace::WorkspaceError;

/// The template parameter that suspends a tenant at 0.
pub const DESIRED_COUNT_PARAM: &str = "desired_count";

/// A new deployment of a tenant's service.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Restarted {
    /// The tenant id.
    pub id: String,
    /// The new primary deployment's id (`ecs-svc/…`).
    pub deployment_id: Option<String>,
}

/// A tenant whose secret was given new values, and the deployment that makes tasks read them.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Rotated {
    /// The tenant id.
    pub id: String,
    /// Whether the gateway token was generated (the web app must hand the new one to the user:
    /// it is in Secrets Manager, never in clawform's output).
    pub gateway_token_generated: bool,
    /// The new deployment's id.
    pub deployment_id: Option<String>,
    /// The tenant as it now is.
    pub tenant: TenantInfo,
}

impl Tenants {
    /// Suspends tenant `id`: its service's desired count becomes 0, everything else is kept (an
    /// idle user costs only the secret). Recorded in its state: later applies keep it.
    pub async fn suspend(&self, id: &str, options: &ApplyOptions) -> Result<TenantInfo, WorkspaceError> {
        self.set_desired_count(id, 0, "tenant suspend", options).await
    }

    /// Resumes tenant `id`: desired count 1 again.
    pub async fn resume(&self, id: &str, options: &ApplyOptions) -> Result<TenantInfo, WorkspaceError> {
        self.set_desired_count(id, 1, "tenant resume", options).await
    }

    async fn set_desired_count(&self, id: &str, count: u32, why: &str, options: &ApplyOptions) -> Result<TenantInfo, WorkspaceError> {
        self.service_ref(id).await?;
        let name = Tenants::stack_name(id);
        self.workspace
            .with_lock(&name, why, async || {
                let params = IndexMap::from([(DESIRED_COUNT_PARAM.to_string(), json!(count))]);
                let plan = self.plan(id, &params, &TenantSecrets::default()).await?;
                let report = self.workspace.apply_locked(&plan, self.provider.clone(), options).await?;
                report_errors(&report)?;
                Ok(TenantInfo::from_state(id, &report.state))
            })
            .await
    }

    /// Restarts tenant `id`: a new deployment with the same task definition (its tasks are
    /// replaced and read their secrets again). State does not change.
    pub async fn restart(&self, id: &str) -> Result<Restarted, WorkspaceError> {
        let r = self.service_ref(id).await?;
        let name = Tenants::stack_name(id);
        self.workspace.with_lock(&name, "tenant restart", async || self.deploy(&r).await).await
    }

    async fn deploy(&self, r: &ServiceRef) -> Result<Restarted, WorkspaceError> {
        let aws = self.aws_provider()?;
        let deployment_id = clawform_aws::operations::deploy::force_new_deployment(aws.clients(), &r.cluster, &r.service)
            .await
            .map_err(|source| WorkspaceError::TenantAws { what: format!("restarting tenant `{}`", r.id), source })?;
        Ok(Restarted { id: r.id.clone(), deployment_id })
    }

    /// Gives tenant `id`'s secret new values — the API key, and the gateway token given or a new
    /// one generated — through the tenant's apply (PutSecretValue; state keeps a digest), then
    /// starts a new deployment so running tasks read them. The values are never returned.
    pub async fn rotate_key(&self, id: &str, secrets: &TenantSecrets, options: &ApplyOptions) -> Result<Rotated, WorkspaceError> {
        let r = self.service_ref(id).await?;
        if secrets.api_key.is_none() {
            return Err(WorkspaceError::Tenant(format!("rotating tenant `{id}`'s key needs the new API key: pass --api-key-env VAR or --api-key-file FILE")));
        }
        let mut secrets = secrets.clone();
        let generated = secrets.gateway_token.is_none();
        if generated {
            secrets.gateway_token = Some(generate_gateway_token()?);
        }
        let name = Tenants::stack_name(id);
        self.workspace
            .with_lock(&name, "tenant rotate-key", async || {
                let plan = self.plan(id, &IndexMap::new(), &secrets).await?;
                let report = self.workspace.apply_locked(&plan, self.provider.clone(), &with_secrets(options, &secrets)).await?;
                report_errors(&report)?;
                let restarted = self.deploy(&r).await?;
                Ok(Rotated {
                    id: id.to_string(),
                    gateway_token_generated: generated,
                    deployment_id: restarted.deployment_id,
                    tenant: TenantInfo::from_state(id, &report.state),
                })
            })
            .await
    }
}
