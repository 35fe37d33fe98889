//! `Tenants::status`, `status_all` and `wait`: what a tenant's service is doing in ECS and
//! behind its load balancer, read through the AWS provider's operations, and waiting for it to
//! run (or be healthy) with the reason when it does not.

use std::collections::BTreeMap;
use std::time::Duration;

use clawform_aws::operations::service_status::{self as ecs, ServiceStatus, StoppedTask, TargetHealth};
use clawform_core::State;
use serde::Serialize;
use serde_json::Value as Json;

use super::{is_suspended, Tenants, STACK_PREFIX};
use crate::workspace::WorkspaceError;

/// What a tenant is doing: the ECS service's tasks and rollout, its targets' health.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TenantStatus {
    /// The tenant id.
    pub id: String,
    /// Suspended: desired count 0 recorded (`tenant suspend`), kept by every later apply.
    pub suspended: bool,
    /// The ECS service as DescribeServices reports it; `None` when ECS does not know it.
    pub service: Option<ServiceStatus>,
    /// The targets of the tenant's target group and their health (not read for a suspended
    /// tenant with no task: there is nothing to route to).
    pub targets: Vec<TargetHealth>,
    /// As many tasks running as desired, none pending, the rollout done.
    pub running: bool,
    /// Running, and every target that is not draining healthy, at least one per desired task.
    pub healthy: bool,
}

/// What `tenant status --wait` waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WaitFor {
    /// Desired tasks running, rollout done.
    Running,
    /// Running, and every target healthy.
    Healthy,
}

/// How a wait ended.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WaitOutcome {
    /// Whether the state waited for was reached before the timeout.
    pub reached: bool,
    /// The last status read.
    pub status: TenantStatus,
    /// Why it was not reached, in an operator's words: no capacity, tasks stopping, health
    /// checks failing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The tasks that stopped recently, read when the wait timed out.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stopped_tasks: Vec<StoppedTask>,
}

/// Where a tenant's service and target group are, read from its state.
#[derive(Debug, Clone)]
pub(super) struct ServiceRef {
    pub id: String,
    pub cluster: String,
    pub service: String,
    pub service_name: String,
    pub target_group: Option<String>,
    pub suspended: bool,
}

impl ServiceRef {
    pub(super) fn of(id: &str, state: &State) -> Result<ServiceRef, WorkspaceError> {
        let service = state.get("service").ok_or_else(|| {
            WorkspaceError::Tenant(format!(
                "tenant `{id}` has no ECS service in its state (its create did not finish); run `clawform tenant create {id}` again"
            ))
        })?;
        let attr = |k: &str| service.attributes.get(k).and_then(Json::as_str).map(str::to_string);
        Ok(ServiceRef {
            id: id.to_string(),
            cluster: attr("cluster").unwrap_or_else(|| "default".into()),
            service: service.id.clone(),
            service_name: attr("name").unwrap_or_else(|| service.id.rsplit('/').next().unwrap_or_default().to_string()),
            target_group: state
                .get("target_group")
                .map(|t| t.id.clone())
                .or_else(|| state.outputs.get("target_group_arn").and_then(Json::as_str).map(str::to_string)),
            suspended: is_suspended(state),
        })
    }
}

fn aws_error(what: &str) -> impl FnOnce(clawform_core::ProviderError) -> WorkspaceError + '_ {
    move |source| WorkspaceError::TenantAws { what: what.to_string(), source }
}

fn status_of(r: &ServiceRef, service: Option<ServiceStatus>, targets: Vec<TargetHealth>) -> TenantStatus {
    let running = service.as_ref().is_some_and(ServiceStatus::is_running);
    let desired = service.as_ref().map_or(0, |s| s.desired.max(0) as usize);
    let live: Vec<&TargetHealth> = targets.iter().filter(|t| t.state != "draining").collect();
    let healthy = running && live.iter().all(|t| t.state == "healthy") && live.len() >= desired;
    TenantStatus { id: r.id.clone(), suspended: r.suspended, service, targets, running, healthy }
}

impl Tenants {
    /// Where tenant `id`'s service is, or the "no tenant" error with its suggestion.
    pub(super) async fn service_ref(&self, id: &str) -> Result<ServiceRef, WorkspaceError> {
        super::validate_tenant_id(id)?;
        match self.workspace.state(&Tenants::stack_name(id)).await? {
            Some(state) if !state.resources.is_empty() => ServiceRef::of(id, &state),
            _ => Err(self.no_tenant(id).await),
        }
    }

    async fn read_status(&self, r: &ServiceRef) -> Result<TenantStatus, WorkspaceError> {
        let aws = self.aws_provider()?;
        let service = ecs::describe_services(aws.clients(), &r.cluster, std::slice::from_ref(&r.service))
            .await
            .map_err(aws_error("reading the tenant's ECS service"))?
            .pop()
            .flatten();
        let targets = match &r.target_group {
            Some(tg) => ecs::target_health(aws.clients(), tg).await.map_err(aws_error("reading the tenant's target health"))?,
            None => vec![],
        };
        Ok(status_of(r, service, targets))
    }

    /// Tenant `id`'s status: DescribeServices and DescribeTargetHealth, one call each.
    pub async fn status(&self, id: &str) -> Result<TenantStatus, WorkspaceError> {
        let r = self.service_ref(id).await?;
        self.read_status(&r).await
    }

    /// Every tenant's status, read in batches: one DescribeServices per 10 services of a
    /// cluster, one DescribeTargetHealth per target group of a tenant with tasks (a suspended
    /// tenant with none has nothing to route to, and costs no call).
    pub async fn status_all(&self) -> Result<Vec<TenantStatus>, WorkspaceError> {
        let aws = self.aws_provider()?;
        let mut refs = Vec::new();
        for id in self.ids().await? {
            if let Some(state) = self.workspace.state(&format!("{STACK_PREFIX}{id}")).await?.filter(|s| !s.resources.is_empty()) {
                if let Ok(r) = ServiceRef::of(&id, &state) {
                    refs.push(r);
                }
            }
        }
        let mut by_cluster: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, r) in refs.iter().enumerate() {
            by_cluster.entry(r.cluster.as_str()).or_default().push(i);
        }
        let mut services: Vec<Option<ServiceStatus>> = vec![None; refs.len()];
        for (cluster, indexes) in &by_cluster {
            let names: Vec<String> = indexes.iter().map(|i| refs[*i].service.clone()).collect();
            let found = ecs::describe_services(aws.clients(), cluster, &names).await.map_err(aws_error("reading the tenants' ECS services"))?;
            for (i, s) in indexes.iter().zip(found) {
                services[*i] = s;
            }
        }
        let with_tasks = |i: usize| services[i].as_ref().is_some_and(|s| s.desired > 0 || s.running > 0 || s.pending > 0);
        let asked: Vec<usize> = (0..refs.len()).filter(|i| with_tasks(*i) && refs[*i].target_group.is_some()).collect();
        let groups: Vec<String> = asked.iter().filter_map(|i| refs[*i].target_group.clone()).collect();
        let health = ecs::target_health_many(aws.clients(), &groups).await.map_err(aws_error("reading the tenants' target health"))?;
        let mut targets: Vec<Vec<TargetHealth>> = vec![vec![]; refs.len()];
        for (i, h) in asked.into_iter().zip(health) {
            targets[i] = h;
        }
        Ok(refs.iter().zip(services).zip(targets).map(|((r, s), t)| status_of(r, s, t)).collect())
    }

    /// Waits until tenant `id` is running (or healthy), at most `timeout`, polling with the
    /// provider's jittered backoff; `progress` sees each status read. A timeout is not an error:
    /// the outcome says why the state was not reached.
    pub async fn wait(&self, id: &str, until: WaitFor, timeout: Duration, progress: &(dyn Fn(&TenantStatus) + Sync)) -> Result<WaitOutcome, WorkspaceError> {
        let r = self.service_ref(id).await?;
        let what = format!("tenant `{id}` to be {}", if until == WaitFor::Running { "running" } else { "healthy" });
        // The poll loop speaks ProviderError; a workspace error met inside is carried out whole.
        let inner: std::sync::Mutex<Option<WorkspaceError>> = std::sync::Mutex::new(None);
        let keep = |e: WorkspaceError| {
            let message = e.to_string();
            *inner.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            clawform_core::ProviderError::api(message)
        };
        let outcome = clawform_aws::operations::poll_until(&what, timeout, |last| {
            let r = &r;
            let keep = &keep;
            async move {
                let status = self.read_status(r).await.map_err(keep)?;
                progress(&status);
                let reached = match until {
                    WaitFor::Running => status.running,
                    WaitFor::Healthy => status.healthy,
                };
                if reached {
                    return Ok(Some(WaitOutcome { reached, status, reason: None, stopped_tasks: vec![] }));
                }
                if !last {
                    return Ok(None);
                }
                let (reason, stopped_tasks) = self.diagnose(r, &status, until).await.map_err(keep)?;
                Ok(Some(WaitOutcome { reached, status, reason: Some(reason), stopped_tasks }))
            }
        })
        .await;
        match outcome {
            Ok(o) => Ok(o),
            Err(e) => Err(inner.lock().unwrap_or_else(|p| p.into_inner()).take().unwrap_or(WorkspaceError::TenantAws { what: what.clone(), source: e })),
        }
    }

    /// Why a tenant is not running or healthy, as an operator needs it: no capacity, tasks
    /// stopping (with ECS's stopped reasons), a rollout failed or under way, health checks failing.
    async fn diagnose(&self, r: &ServiceRef, status: &TenantStatus, until: WaitFor) -> Result<(String, Vec<StoppedTask>), WorkspaceError> {
        let aws = self.aws_provider()?;
        let Some(service) = &status.service else {
            return Ok((
                format!(
                    "ECS does not know the service {} (deleted outside clawform?); `clawform tenant plan {}` shows what would recreate it",
                    r.service, r.id
                ),
                vec![],
            ));
        };
        let mut reasons = Vec::new();
        if let Some(event) = service.placement_failures().first() {
            reasons.push(format!("no capacity: {}", event.message));
        }
        let stopped = if service.running < service.desired || service.pending > 0 {
            ecs::stopped_tasks(aws.clients(), &r.cluster, &r.service_name).await.map_err(aws_error("reading the tenant's stopped tasks"))?
        } else {
            vec![]
        };
        if let Some(task) = stopped.first() {
            let task_id = task.arn.rsplit('/').next().unwrap_or(&task.arn);
            let mut why = task.stopped_reason.clone().unwrap_or_else(|| "no reason given".into());
            if !task.containers.is_empty() {
                why = format!("{why} ({})", task.containers.join("; "));
            }
            reasons.push(format!("tasks stopping: {} task(s) stopped recently; the last, {task_id}: {why}", stopped.len()));
        }
        if reasons.is_empty() && service.running < service.desired {
            let instances = ecs::active_container_instances(aws.clients(), &r.cluster).await.map_err(aws_error("reading the cluster's container instances"))?;
            if instances == 0 {
                reasons.push(format!(
                    "no capacity: {} of {} task(s) running, {} pending, and no container instance is registered in the cluster (the Auto Scaling group has no instance yet, or its instances cannot reach ECS)",
                    service.running, service.desired, service.pending
                ));
            } else {
                reasons.push(format!(
                    "{} of {} task(s) running, {} pending on {instances} container instance(s)",
                    service.running, service.desired, service.pending
                ));
            }
        }
        if let Some(d) = &service.deployment {
            match d.rollout_state.as_deref() {
                Some("FAILED") => reasons.push(format!("rollout failed: {}", d.rollout_state_reason.as_deref().unwrap_or("no reason given"))),
                Some("IN_PROGRESS") if service.deployments > 1 => {
                    reasons.push(format!("rollout in progress: {}", d.rollout_state_reason.as_deref().unwrap_or("old tasks are still being replaced")))
                }
                _ => {}
            }
        }
        if until == WaitFor::Healthy && status.running {
            let failing: Vec<String> = status
                .targets
                .iter()
                .filter(|t| t.state != "healthy" && t.state != "draining")
                .map(|t| {
                    let at = t.port.map(|p| format!("{}:{p}", t.id)).unwrap_or_else(|| t.id.clone());
                    let why = [t.reason.as_deref(), t.description.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(": ");
                    format!("{at} {}{}", t.state, if why.is_empty() { String::new() } else { format!(" ({why})") })
                })
                .collect();
            if !failing.is_empty() {
                reasons.push(format!("health check failing: {}", failing.join(", ")));
            } else if status.targets.iter().all(|t| t.state == "draining") && service.desired > 0 {
                reasons.push("health check failing: no target is registered in the tenant's target group (ECS registers each task when it starts)".into());
            }
        }
        if reasons.is_empty() {
            reasons.push(format!("{} of {} task(s) running, {} pending", service.running, service.desired, service.pending));
        }
        Ok((reasons.join("; "), stopped))
    }
}
