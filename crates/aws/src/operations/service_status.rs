//! What an ECS service is doing: task counts, its primary deployment's rollout, the health of
//! its targets, its last events, and why tasks stopped or could not be placed. Read in batches
//! of AWS's documented sizes, so that hundreds of services cost few calls.

use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;

use clawform_core::ProviderError;

use super::time;
use crate::error::sdk;
use crate::Clients;

/// DescribeServices takes at most 10 services per call (API reference, `services`).
pub const DESCRIBE_SERVICES_BATCH: usize = 10;
/// DescribeTasks takes at most 100 tasks per call; a diagnosis reads a few.
pub const STOPPED_TASKS_READ: usize = 5;
/// The newest service events kept in a status.
pub const EVENTS_SHOWN: usize = 5;
/// Calls in flight at once when many services or target groups are read.
const CONCURRENT_READS: usize = 8;

/// One ECS service as DescribeServices reports it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServiceStatus {
    /// The service's ARN.
    pub arn: String,
    /// The service's name.
    pub name: String,
    /// `ACTIVE`, `DRAINING` or `INACTIVE`.
    pub status: String,
    /// Tasks the service should run.
    pub desired: i32,
    /// Tasks running.
    pub running: i32,
    /// Tasks placed and starting.
    pub pending: i32,
    /// The primary deployment (the newest).
    pub deployment: Option<DeploymentStatus>,
    /// Deployments the service has: more than one while a rollout replaces tasks.
    pub deployments: usize,
    /// The newest service events, newest first.
    pub events: Vec<ServiceEvent>,
}

/// A deployment of a service.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DeploymentStatus {
    /// The deployment id (`ecs-svc/…`).
    pub id: String,
    /// `PRIMARY`, `ACTIVE` or `INACTIVE`.
    pub status: String,
    /// `IN_PROGRESS`, `COMPLETED` or `FAILED`.
    pub rollout_state: Option<String>,
    /// ECS's words on the rollout.
    pub rollout_state_reason: Option<String>,
    /// The task definition it runs.
    pub task_definition: Option<String>,
    /// Tasks of this deployment that failed to start.
    pub failed_tasks: i32,
    /// When it started (RFC 3339).
    pub created_at: Option<String>,
}

/// A service event: ECS's account of what it did or could not do.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServiceEvent {
    /// When (RFC 3339).
    pub created_at: Option<String>,
    /// What ECS says.
    pub message: String,
}

/// One target of a target group and its health.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TargetHealth {
    /// The target (an IP address for `awsvpc` tasks).
    pub id: String,
    /// The port it receives traffic on.
    pub port: Option<i32>,
    /// `initial`, `healthy`, `unhealthy`, `unused`, `draining` or `unavailable`.
    pub state: String,
    /// The reason code (`Target.FailedHealthChecks`, …).
    pub reason: Option<String>,
    /// The reason in words.
    pub description: Option<String>,
}

/// A task of the service that stopped, and why.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StoppedTask {
    /// The task's ARN.
    pub arn: String,
    /// ECS's reason (`Essential container in task exited`, `CannotPullContainerError: …`).
    pub stopped_reason: Option<String>,
    /// `TaskFailedToStart`, `EssentialContainerExited`, …
    pub stop_code: Option<String>,
    /// When it stopped (RFC 3339).
    pub stopped_at: Option<String>,
    /// Each container's reason and exit code, where ECS gives one.
    pub containers: Vec<String>,
}

/// ECS's event text when no container instance can take a task (the service scheduler's
/// "unable to place a task because no container instance met all of its requirements").
pub const UNABLE_TO_PLACE: &str = "unable to place a task";

impl ServiceStatus {
    /// Running as asked: as many tasks running as desired, none pending, and the rollout done —
    /// COMPLETED, or a single deployment left, which is what `aws ecs wait services-stable`
    /// checks (botocore's ECS `ServicesStable` waiter: `length(deployments) == 1 && runningCount
    /// == desiredCount`) for services deployed without the rollout state. A FAILED rollout never is.
    pub fn is_running(&self) -> bool {
        let rollout = self.deployment.as_ref().and_then(|d| d.rollout_state.as_deref());
        self.status == "ACTIVE"
            && self.running == self.desired
            && self.pending == 0
            && rollout != Some("FAILED")
            && (rollout == Some("COMPLETED") || self.deployments <= 1)
    }

    /// The newest events saying a task could not be placed (no instance with room).
    pub fn placement_failures(&self) -> Vec<&ServiceEvent> {
        self.events.iter().filter(|e| e.message.contains(UNABLE_TO_PLACE)).collect()
    }
}

fn service_status(s: &aws_sdk_ecs::types::Service) -> ServiceStatus {
    let primary = s.deployments().iter().find(|d| d.status() == Some("PRIMARY")).or_else(|| s.deployments().first());
    ServiceStatus {
        arn: s.service_arn().unwrap_or_default().to_string(),
        name: s.service_name().unwrap_or_default().to_string(),
        status: s.status().unwrap_or_default().to_string(),
        desired: s.desired_count(),
        running: s.running_count(),
        pending: s.pending_count(),
        deployment: primary.map(|d| DeploymentStatus {
            id: d.id().unwrap_or_default().to_string(),
            status: d.status().unwrap_or_default().to_string(),
            rollout_state: d.rollout_state().map(|r| r.as_str().to_string()),
            rollout_state_reason: d.rollout_state_reason().map(str::to_string),
            task_definition: d.task_definition().map(str::to_string),
            failed_tasks: d.failed_tasks(),
            created_at: time(d.created_at()),
        }),
        deployments: s.deployments().len(),
        // DescribeServices lists events newest first.
        events: s
            .events()
            .iter()
            .take(EVENTS_SHOWN)
            .map(|e| ServiceEvent { created_at: time(e.created_at()), message: e.message().unwrap_or_default().to_string() })
            .collect(),
    }
}

/// The services named (by ARN or name) in `cluster`, in the order asked; `None` for one ECS
/// does not know (MISSING). One DescribeServices call per 10 services.
pub async fn describe_services(aws: &Clients, cluster: &str, services: &[String]) -> Result<Vec<Option<ServiceStatus>>, ProviderError> {
    let pages: Vec<Vec<ServiceStatus>> = stream::iter(services.chunks(DESCRIBE_SERVICES_BATCH))
        .map(|chunk| async move {
            let out =
                aws.ecs.describe_services().cluster(cluster).set_services(Some(chunk.to_vec())).send().await.map_err(|e| sdk("ecs DescribeServices", e))?;
            Ok::<_, ProviderError>(out.services().iter().map(service_status).collect())
        })
        .buffered(CONCURRENT_READS)
        .try_collect()
        .await?;
    let found: Vec<ServiceStatus> = pages.into_iter().flatten().collect();
    Ok(services.iter().map(|want| found.iter().find(|s| &s.arn == want || &s.name == want).cloned()).collect())
}

/// The targets of target group `arn` and their health (DescribeTargetHealth: one group a call).
pub async fn target_health(aws: &Clients, arn: &str) -> Result<Vec<TargetHealth>, ProviderError> {
    let out = aws.elbv2.describe_target_health().target_group_arn(arn).send().await.map_err(|e| sdk("elbv2 DescribeTargetHealth", e))?;
    Ok(out
        .target_health_descriptions()
        .iter()
        .map(|d| {
            let health = d.target_health();
            TargetHealth {
                id: d.target().and_then(|t| t.id()).unwrap_or_default().to_string(),
                port: d.target().and_then(|t| t.port()).or(d.health_check_port().and_then(|p| p.parse().ok())),
                state: health.and_then(|h| h.state()).map(|s| s.as_str().to_string()).unwrap_or_default(),
                reason: health.and_then(|h| h.reason()).map(|r| r.as_str().to_string()),
                description: health.and_then(|h| h.description()).map(str::to_string),
            }
        })
        .collect())
}

/// [`target_health`] of many groups, `CONCURRENT_READS` calls at a time, in the order asked.
pub async fn target_health_many(aws: &Clients, arns: &[String]) -> Result<Vec<Vec<TargetHealth>>, ProviderError> {
    stream::iter(arns).map(|arn| target_health(aws, arn)).buffered(CONCURRENT_READS).try_collect().await
}

/// The service's recently stopped tasks and why they stopped (ECS keeps stopped tasks for about
/// an hour): ListTasks `desiredStatus=STOPPED`, then one DescribeTasks.
pub async fn stopped_tasks(aws: &Clients, cluster: &str, service_name: &str) -> Result<Vec<StoppedTask>, ProviderError> {
    let listed = aws
        .ecs
        .list_tasks()
        .cluster(cluster)
        .service_name(service_name)
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
        .max_results(STOPPED_TASKS_READ as i32)
        .send()
        .await
        .map_err(|e| sdk("ecs ListTasks", e))?;
    let arns: Vec<String> = listed.task_arns().iter().take(STOPPED_TASKS_READ).cloned().collect();
    if arns.is_empty() {
        return Ok(vec![]);
    }
    let out = aws.ecs.describe_tasks().cluster(cluster).set_tasks(Some(arns)).send().await.map_err(|e| sdk("ecs DescribeTasks", e))?;
    // A service's tasks are in task group `service:<name>`; AWS's ListTasks already filters by
    // service, moto ignores `serviceName` (moto/ecs/models.py `list_tasks`: "We can't filter
    // on `service_name`"), so the group is checked again.
    let group = format!("service:{service_name}");
    let mut tasks: Vec<StoppedTask> = out
        .tasks()
        .iter()
        .filter(|t| t.group().is_none_or(|g| g == group))
        .map(|t| StoppedTask {
            arn: t.task_arn().unwrap_or_default().to_string(),
            stopped_reason: t.stopped_reason().map(str::to_string),
            stop_code: t.stop_code().map(|c| c.as_str().to_string()),
            stopped_at: time(t.stopped_at()),
            containers: t
                .containers()
                .iter()
                .filter(|c| c.reason().is_some() || c.exit_code().is_some_and(|x| x != 0))
                .map(|c| {
                    let exit = c.exit_code().map(|x| format!(" (exit code {x})")).unwrap_or_default();
                    format!("{}: {}{exit}", c.name().unwrap_or("container"), c.reason().unwrap_or("exited"))
                })
                .collect(),
        })
        .collect();
    tasks.sort_by(|a, b| b.stopped_at.cmp(&a.stopped_at));
    Ok(tasks)
}

/// How many container instances are ACTIVE in `cluster` (one ListContainerInstances page: the
/// question is "none, or some").
pub async fn active_container_instances(aws: &Clients, cluster: &str) -> Result<usize, ProviderError> {
    let out = aws
        .ecs
        .list_container_instances()
        .cluster(cluster)
        .status(aws_sdk_ecs::types::ContainerInstanceStatus::Active)
        .send()
        .await
        .map_err(|e| sdk("ecs ListContainerInstances", e))?;
    Ok(out.container_instance_arns().len())
}
