//! Tenants: one stack per OpenClaw user, instantiated from the template `stacks/tenant.yaml`
//! (`stack: tenant`), each with its own state and lock (`tenant-<id>`), so tenants are created,
//! changed and destroyed independently and concurrently.
//!
//! This is the seed's "Instance Provisioning Flow" as a library call: the web app calls
//! [`Tenants::create`] when a user clicks "Create Instance" and stores the [`TenantInfo`] it
//! returns (URL and ARNs; never a secret).

use std::sync::Arc;

use clawform_core::engine::{ApplyOptions, ApplyReport};
use clawform_core::{Plan, Provider, Stack, State};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use crate::workspace::{Instance, Workspace, WorkspaceError};

mod lifecycle;
mod logs;
mod status;

pub use lifecycle::{Restarted, Rotated, DESIRED_COUNT_PARAM};
pub use logs::{now_millis, parse_since, TenantLogs};
pub use status::{TenantStatus, WaitFor, WaitOutcome};

/// The platform stack whose load balancer shards tenants are placed on.
pub const BASE_STACK: &str = "base";
/// The lock taken while a new tenant's shard is chosen and recorded.
pub const PLACEMENT_LOCK: &str = "tenants-placement";
/// How long a new tenant waits for others' placements (and a shard being added) to finish.
pub const PLACEMENT_WAIT: std::time::Duration = std::time::Duration::from_secs(600);
/// The template every tenant is made from (`stacks/tenant.yaml`).
pub const TEMPLATE: &str = "tenant";
/// Prefix of a tenant's stack name: tenant `abc123` is stack `tenant-abc123`.
pub const STACK_PREFIX: &str = "tenant-";
/// Resource names are `openclaw-<id>`; target group names are limited to 32 characters.
pub const NAME_PREFIX: &str = "openclaw-";
/// AWS's limit on target group and load balancer names.
pub const MAX_NAME_LEN: usize = 32;
/// Target groups per Application Load Balancer: 100, and AWS does not raise it. Rules per load
/// balancer are 100 by default too (adjustable). One of each per tenant.
pub const DEFAULT_TENANTS_PER_LOAD_BALANCER: u64 = 100;

pub use crate::error::InvalidTenantId;

/// Checks a tenant id: `[a-z0-9][a-z0-9-]*`, short enough that `openclaw-<id>` fits in 32
/// characters. The id becomes the path `/<id>/*` on the shared listener, so anything that could
/// match another tenant's path (`*`, `?`, `/`, `..`) or differ only by case is refused.
pub fn validate_tenant_id(id: &str) -> Result<(), InvalidTenantId> {
    let err = |reason: String| Err(InvalidTenantId { id: id.escape_debug().to_string(), reason });
    let max = MAX_NAME_LEN - NAME_PREFIX.len();
    if id.is_empty() {
        return err("it is empty; expected lower-case letters, digits and `-`".into());
    }
    if id.len() > max {
        return err(format!("it has {} characters; at most {max} keep `{NAME_PREFIX}<id>` within AWS's {MAX_NAME_LEN}-character name limit", id.len()));
    }
    if let Some(c) = id.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
        return err(format!(
            "it contains `{}`; expected only lower-case letters, digits and `-` (a tenant's path must never match another tenant's)",
            c.escape_debug()
        ));
    }
    if id.starts_with('-') {
        return err("it starts with `-`; expected a letter or digit first".into());
    }
    if id.ends_with('-') {
        return err("it ends with `-`; AWS names cannot end with a hyphen".into());
    }
    Ok(())
}

/// The secrets of a tenant, given at run time and never stored by clawform.
#[derive(Clone, Default)]
pub struct TenantSecrets {
    /// The user's Anthropic API key.
    pub api_key: Option<String>,
    /// The gateway token; generated (256 random bits) on create when not given.
    pub gateway_token: Option<String>,
}

impl std::fmt::Debug for TenantSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantSecrets")
            .field("api_key", &self.api_key.as_ref().map(|_| "(sensitive)"))
            .field("gateway_token", &self.gateway_token.as_ref().map(|_| "(sensitive)"))
            .finish()
    }
}

/// A new gateway token: 256 random bits from the operating system, hex-encoded.
pub fn generate_gateway_token() -> Result<String, WorkspaceError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| WorkspaceError::Tenant(format!("cannot generate a gateway token: {e}")))?;
    Ok(hex::encode(bytes))
}

/// What the web app stores about a tenant: its URL and the ARNs of its resources.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TenantInfo {
    /// The tenant id.
    pub id: String,
    /// The tenant's stack name.
    pub stack: String,
    /// `http://<load balancer DNS name>/<id>/`.
    pub url: Option<String>,
    /// The load balancer shard it is on.
    pub shard: Option<u64>,
    /// The listener rule's priority on its shard's listener.
    pub priority: Option<Json>,
    /// Every output of the tenant's stack (ARNs, names), none of them secret.
    pub outputs: IndexMap<String, Json>,
    /// Suspended (`tenant suspend`): no task runs; kept by later applies until `tenant resume`.
    #[serde(default)]
    pub suspended: bool,
    /// What the web app may want to tell an operator (a full platform, for instance).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl TenantInfo {
    fn from_state(id: &str, state: &State) -> TenantInfo {
        TenantInfo {
            id: id.to_string(),
            stack: state.stack.clone(),
            url: state.outputs.get("url").and_then(Json::as_str).map(str::to_string),
            shard: state.outputs.get("shard").and_then(Json::as_u64),
            priority: state.outputs.get("listener_rule_priority").cloned(),
            outputs: state.outputs.clone(),
            suspended: is_suspended(state),
            warnings: vec![],
        }
    }
}

/// The base stack's load balancer shards and the tenants on each.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ShardLayout {
    /// Each shard's load balancer DNS name, by shard number.
    pub dns_names: Vec<String>,
    /// Tenants a shard holds at most.
    pub per_load_balancer: usize,
    /// Whether a shard is added when all are full (`shards: auto`).
    pub auto: bool,
    /// Tenant ids on each shard (new tenants included as soon as they are placed).
    pub tenants: Vec<Vec<String>>,
}

#[derive(Clone, Copy)]
enum Placement {
    Existing(usize),
    New(usize),
    NewShard(usize),
}

/// The Auto Scaling group's maximum size must go from `from` to `to` for one more task.
#[derive(Debug, Clone, Copy)]
struct AsgRaise {
    from: u32,
    to: u32,
}

/// The template as the stack of the tenant whose state is `state`, on its recorded shard.
fn tenant_instance(state: &State, params: &IndexMap<String, Json>) -> Instance {
    let id = state.stack.strip_prefix(STACK_PREFIX).unwrap_or(&state.stack);
    let mut param_overrides = params.clone();
    param_overrides.insert("tenant_id".into(), json!(id));
    // Tenants created before load balancer shards were all on the one load balancer.
    param_overrides.insert("shard".into(), json!(recorded_shard(state).unwrap_or(0)));
    Instance { name: state.stack.clone(), param_overrides }
}

/// The ids of the tenants that have state in `workspace`, sorted.
async fn tenant_ids(workspace: &Workspace) -> Result<Vec<String>, WorkspaceError> {
    let names = workspace.backend().list().await?;
    Ok(names.iter().filter_map(|n| n.strip_prefix(STACK_PREFIX)).map(str::to_string).collect())
}

/// [`Tenants::plan_all_offline_each`] with a workspace alone: planning against state as last
/// applied makes no AWS call, so it needs no provider (the CLI then loads no AWS configuration).
pub async fn plan_all_offline_each(
    workspace: &Workspace,
    params: &IndexMap<String, Json>,
    mut each: impl FnMut(String, Plan) -> Result<(), WorkspaceError>,
) -> Result<(), WorkspaceError> {
    let names: Vec<String> = tenant_ids(workspace).await?.iter().map(|id| Tenants::stack_name(id)).collect();
    let template = Stack::load_file(&workspace.stack_path(TEMPLATE), workspace.registry())?;
    let instance = |state: &State| Ok(tenant_instance(state, params));
    workspace.plan_each(&names, &template, instance, None, |p| each(p.stack.strip_prefix(STACK_PREFIX).unwrap_or(&p.stack).to_string(), p)).await
}

use crate::fleet::{recorded_shard, TenantSlot};

/// Whether a tenant's state records it suspended (`desired_count` 0).
fn is_suspended(state: &State) -> bool {
    state.param_overrides.get(lifecycle::DESIRED_COUNT_PARAM).is_some_and(|v| v.as_u64() == Some(0) || v.as_str() == Some("0"))
}

/// Tenant operations over a workspace.
#[derive(Clone)]
pub struct Tenants {
    workspace: Workspace,
    provider: Arc<dyn Provider>,
    /// The AWS provider, for what is not a resource change (status, restart, logs).
    aws: Option<Arc<clawform_aws::AwsProvider>>,
}

impl Tenants {
    /// Tenant operations in `workspace`, making AWS calls through `provider`.
    pub fn new(workspace: Workspace, provider: Arc<dyn Provider>) -> Tenants {
        Tenants { workspace, provider, aws: None }
    }

    /// Tenant operations that read or act on AWS beyond resource changes (status, restart,
    /// rotate-key, logs) make their calls through `aws`.
    pub fn with_aws(mut self, aws: Arc<clawform_aws::AwsProvider>) -> Tenants {
        self.aws = Some(aws);
        self
    }

    fn aws_provider(&self) -> Result<Arc<clawform_aws::AwsProvider>, WorkspaceError> {
        self.aws.clone().ok_or_else(|| WorkspaceError::Tenant("this tenant operation reads AWS directly: make `Tenants` with `.with_aws(provider)`".into()))
    }

    /// The stack name of tenant `id`.
    pub fn stack_name(id: &str) -> String {
        format!("{STACK_PREFIX}{id}")
    }

    /// Loads the template as tenant `id`'s stack, with its parameters and secrets.
    pub fn load(&self, id: &str, params: &IndexMap<String, Json>, secrets: &TenantSecrets) -> Result<Stack, WorkspaceError> {
        validate_tenant_id(id)?;
        let mut overrides = params.clone();
        overrides.insert("tenant_id".into(), json!(id));
        if let Some(k) = &secrets.api_key {
            overrides.insert("api_key".into(), json!(k));
        }
        if let Some(t) = &secrets.gateway_token {
            overrides.insert("gateway_token".into(), json!(t));
        }
        let mut stack = self.workspace.load(TEMPLATE, &overrides)?;
        stack.name = Tenants::stack_name(id);
        Ok(stack)
    }

    /// The base stack's load balancer shards and how many tenants each holds.
    pub async fn shards(&self) -> Result<ShardLayout, WorkspaceError> {
        let slots = crate::fleet::tenant_slots(self.workspace.fleet_sources()).await?;
        self.layout(&slots).await
    }

    /// The shard layout of tenants `slots` (read once for placement and capacity alike).
    async fn layout(&self, slots: &[TenantSlot]) -> Result<ShardLayout, WorkspaceError> {
        let base = self
            .workspace
            .state(BASE_STACK)
            .await?
            .filter(|s| !s.resources.is_empty())
            .ok_or_else(|| WorkspaceError::MissingDependency { stack: TEMPLATE.into(), other: BASE_STACK.into() })?;
        let outputs = &base.outputs;
        let dns_names: Vec<String> = match outputs.get("alb_dns_names").and_then(Json::as_array) {
            Some(list) => list.iter().filter_map(Json::as_str).map(str::to_string).collect(),
            None => outputs.get("alb_dns_name").and_then(Json::as_str).map(|d| vec![d.to_string()]).unwrap_or_default(),
        };
        let per_load_balancer =
            outputs.get("tenants_per_load_balancer").and_then(Json::as_u64).unwrap_or(DEFAULT_TENANTS_PER_LOAD_BALANCER).min(DEFAULT_TENANTS_PER_LOAD_BALANCER)
                as usize;
        let auto = outputs.get("load_balancer_shards").and_then(Json::as_str) == Some("auto");
        let mut tenants = vec![Vec::new(); dns_names.len()];
        for slot in slots {
            if let Some(shard) = slot.shard {
                if tenants.len() <= shard {
                    tenants.resize(shard + 1, Vec::new());
                }
                tenants[shard].push(slot.id.clone());
            }
        }
        Ok(ShardLayout { dns_names, per_load_balancer, auto, tenants })
    }

    /// Chooses tenant `id`'s shard: the one it is on, or for a new tenant the first with room
    /// (with every tenant as placed, for the capacity checks that follow).
    /// Refuses, before any AWS call, a new tenant that no shard can take when shards are fixed.
    async fn place(&self, id: &str) -> Result<(Placement, Vec<TenantSlot>), WorkspaceError> {
        if let Some(state) = self.workspace.state(&Tenants::stack_name(id)).await? {
            if let Some(shard) = recorded_shard(&state) {
                return Ok((Placement::Existing(shard), vec![]));
            }
        }
        let slots = crate::fleet::tenant_slots(self.workspace.fleet_sources()).await?;
        let layout = self.layout(&slots).await?;
        if let Some(shard) = (0..layout.dns_names.len()).find(|s| layout.tenants.get(*s).map_or(0, Vec::len) < layout.per_load_balancer) {
            return Ok((Placement::New(shard), slots));
        }
        let count = layout.dns_names.len();
        if layout.auto {
            return Ok((Placement::NewShard(count), slots));
        }
        Err(WorkspaceError::Tenant(format!(
            "every load balancer shard is full ({count} shard(s) × {} tenants: one target group and one listener rule each; AWS allows at most 100 target groups per load balancer); add a shard with `clawform apply base --param shards={}` (or `--param shards=auto`) before creating `{id}`",
            layout.per_load_balancer,
            count + 1
        )))
    }

    /// Refuses, before any AWS call, a task of the size `params` ask for that no instance of the
    /// base stack's type holds.
    async fn check_task_fits(&self, params: &IndexMap<String, Json>) -> Result<(), WorkspaceError> {
        let Some(base) = self.workspace.state(BASE_STACK).await?.filter(|s| !s.resources.is_empty()) else { return Ok(()) };
        let task = crate::fleet::task_of(params, crate::fleet::template_task(self.workspace.fleet_sources())?);
        crate::fleet::Instances::of_state(&base).check_fits(task)
    }

    /// Whether the platform holds one more task of the size `params` ask for beside the tenants
    /// `slots`: refuses, before any AWS call, when the private subnets' addresses would run out;
    /// with `asg_max_size: auto`, the maximum size the Auto Scaling group must be raised to when
    /// its current one is too small.
    async fn room_for(&self, slots: &[TenantSlot], params: &IndexMap<String, Json>) -> Result<Option<AsgRaise>, WorkspaceError> {
        let Some(base) = self.workspace.state(BASE_STACK).await?.filter(|s| !s.resources.is_empty()) else { return Ok(None) };
        let sources = self.workspace.fleet_sources();
        let task = crate::fleet::task_of(params, crate::fleet::template_task(sources)?);
        let instances = crate::fleet::Instances::of_state(&base);
        instances.check_fits(task)?;
        let mut tasks: Vec<crate::capacity::TaskSize> = slots.iter().map(|s| s.task).collect();
        tasks.push(task);
        crate::fleet::check_addresses(&base, &instances, &tasks)?;
        if !crate::fleet::asg_max_is_auto(sources, &base)? {
            return Ok(None);
        }
        let (Some(needed), Some(now)) = (instances.needed(&tasks), crate::fleet::asg_max_in_force(&base)) else { return Ok(None) };
        Ok((needed > now).then_some(AsgRaise { from: now, to: needed }))
    }

    /// Grows the base stack, under its lock: to `shards` load balancer shards (`shards: auto`)
    /// and the Auto Scaling group to `raise`'s maximum size (`asg_max_size: auto`). Only that:
    /// the base stack's other pending changes are refused.
    async fn grow_base(&self, shards: Option<usize>, raise: Option<AsgRaise>, options: &ApplyOptions) -> Result<(), WorkspaceError> {
        let wait = PLACEMENT_WAIT.max(self.workspace.lock_timeout());
        self.workspace
            .with_lock_within(BASE_STACK, "tenant create: grow the base stack", wait, async || {
                let mut overrides = IndexMap::new();
                if let Some(r) = raise {
                    overrides.insert(crate::fleet::ASG_MAX_PARAM.to_string(), json!(r.to));
                }
                let mut base = self.workspace.load(BASE_STACK, &overrides)?;
                base.auto_count_minimum = shards;
                let mut plan = self.workspace.plan(&base).await?;
                if raise.is_some() {
                    // The number is applied; what was given (`auto`, or the default) stays recorded.
                    match self.workspace.state(BASE_STACK).await?.and_then(|s| s.param_overrides.get(crate::fleet::ASG_MAX_PARAM).cloned()) {
                        Some(v) => plan.param_overrides.insert(crate::fleet::ASG_MAX_PARAM.to_string(), v),
                        None => plan.param_overrides.shift_remove(crate::fleet::ASG_MAX_PARAM),
                    };
                }
                // Only the new shard and the group's maximum: other pending changes to the base
                // stack are a platform engineer's to review and apply, never a side effect of a
                // user's click.
                let new_shard = |c: &clawform_core::ResourceChange| {
                    shards.is_some_and(|n| c.action == clawform_core::Action::Create && c.address.ends_with(&format!("[{}]", n - 1)))
                };
                let asg_max = |c: &clawform_core::ResourceChange| {
                    raise.is_some()
                        && c.action == clawform_core::Action::Update
                        && c.type_name == "aws_autoscaling_group"
                        && c.changed.iter().all(|a| a == "max_size")
                };
                let other: Vec<String> = plan
                    .changes
                    .iter()
                    .filter(|c| c.action != clawform_core::Action::NoOp && !new_shard(c) && !asg_max(c))
                    .map(|c| format!("{} ({:?})", c.address, c.action))
                    .collect();
                if !other.is_empty() {
                    let what = match (shards, raise) {
                        (Some(n), None) => format!("every load balancer shard is full and adding shard {}", n - 1),
                        (None, Some(r)) => format!("the Auto Scaling group's max size {} is too small and raising it to {} (asg_max_size: auto)", r.from, r.to),
                        _ => "adding a load balancer shard and raising the Auto Scaling group's max size".to_string(),
                    };
                    return Err(WorkspaceError::Tenant(format!(
                        "{what} needs `clawform apply base`, which has other pending changes: {}; review and apply the base stack first",
                        other.join(", ")
                    )));
                }
                let options = ApplyOptions { secret_params: IndexMap::new(), ..options.clone() };
                let report = self.workspace.apply_locked(&plan, self.provider.clone(), &options).await?;
                report_errors(&report)
            })
            .await
    }

    /// Plans tenant `id` (creating or changing it).
    pub async fn plan(&self, id: &str, params: &IndexMap<String, Json>, secrets: &TenantSecrets) -> Result<Plan, WorkspaceError> {
        validate_tenant_id(id)?;
        self.check_task_fits(params).await?;
        let (placement, slots) = self.place(id).await?;
        let shard = match placement {
            Placement::Existing(s) => s,
            Placement::New(s) => s,
            Placement::NewShard(s) => {
                return Err(WorkspaceError::Tenant(format!(
                    "every load balancer shard is full; `clawform tenant create {id}` adds shard {s} first (shards: auto)"
                )))
            }
        };
        let raise = match placement {
            Placement::New(_) => self.room_for(&slots, params).await?,
            _ => None,
        };
        let mut plan = self.plan_on(id, shard, params, secrets).await?;
        if let Some(r) = raise {
            plan.warnings.push(format!(
                "the Auto Scaling group's max size {} is too small for one more task: `clawform tenant create {id}` raises it to {} first (asg_max_size: auto)",
                r.from, r.to
            ));
        }
        Ok(plan)
    }

    async fn plan_on(&self, id: &str, shard: usize, params: &IndexMap<String, Json>, secrets: &TenantSecrets) -> Result<Plan, WorkspaceError> {
        let mut params = params.clone();
        params.insert("shard".into(), json!(shard));
        let stack = self.load(id, &params, secrets)?;
        // An existing tenant is refreshed first, so what changed outside clawform is put back;
        // a new one has nothing to read and costs no call.
        let applied = self.workspace.state(&stack.name).await?.is_some_and(|s| !s.resources.is_empty());
        if applied {
            return Ok(self.workspace.plan_refreshed(&stack, self.provider.as_ref()).await?.0);
        }
        let mut plan = self.workspace.plan(&stack).await?;
        plan.warnings.extend(self.capacity_warning(&stack).await?);
        Ok(plan)
    }

    /// A warning when the platform cannot run one more task: the Auto Scaling group at its
    /// maximum size is full. Not a refusal: ECS accepts the service and leaves the task pending
    /// until the group can grow.
    async fn capacity_warning(&self, stack: &Stack) -> Result<Option<String>, WorkspaceError> {
        let Some(base) = self.workspace.state(BASE_STACK).await? else { return Ok(None) };
        // With `auto`, `tenant create` raises the maximum instead (see `room_for`).
        if crate::fleet::asg_max_is_auto(self.workspace.fleet_sources(), &base)? {
            return Ok(None);
        }
        let number = |v: Option<&Json>| v.and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))).map(|n| n as u32);
        let params = stack.param_values()?;
        let (Some(asg_max), Some(instance_type), Some(cpu), Some(memory)) = (
            number(base.params.get("asg_max_size")),
            base.params.get("instance_type").and_then(Json::as_str),
            number(params.get("cpu")),
            number(params.get("memory")),
        ) else {
            return Ok(None);
        };
        let trunking = base.params.get("awsvpc_trunking").is_some_and(|v| v == &json!(true) || v == &json!("enabled"));
        let networking = if trunking { crate::capacity::Networking::AwsvpcTrunking } else { crate::capacity::Networking::Awsvpc };
        let running = self.list().await?.len() as u32;
        let task = crate::capacity::TaskSize { cpu, memory_mib: memory };
        Ok(crate::capacity::can_run_one_more_task(asg_max, instance_type, task, networking, running).ok().and_then(|room| room.warning()))
    }

    /// Creates tenant `id` (or brings it to the template), returning what the web app stores.
    /// The gateway token is generated when `secrets` has none and the tenant is new. A new
    /// tenant goes on the first load balancer shard with room; with `shards: auto` a shard is
    /// added when all are full.
    pub async fn create(
        &self,
        id: &str,
        params: &IndexMap<String, Json>,
        secrets: &TenantSecrets,
        options: &ApplyOptions,
    ) -> Result<TenantInfo, WorkspaceError> {
        validate_tenant_id(id)?;
        let name = Tenants::stack_name(id);
        self.workspace
            .with_lock(&name, "tenant create", async || {
                let mut secrets = secrets.clone();
                let exists = self.workspace.state(&name).await?.is_some_and(|s| !s.resources.is_empty());
                if secrets.gateway_token.is_none() && !exists {
                    secrets.gateway_token = Some(generate_gateway_token()?);
                }
                if secrets.api_key.is_none() && !exists {
                    return Err(WorkspaceError::Tenant(format!("tenant `{id}` is new and needs an API key: pass --api-key-env VAR or --api-key-file FILE")));
                }
                // A new tenant's shard is recorded in a fresh state document before anything is
                // created, with an empty journal of creates: its creates skip the search for
                // leftovers of earlier runs.
                self.check_task_fits(params).await?;
                let shard = self.reserve_shard(id, params, options).await?;
                let mut plan = self.plan_on(id, shard, params, &secrets).await?;
                // A tenant whose secret was never recorded (a crash during its first create)
                // must create it again: with a new token unless one is given, and with the API key.
                if !plan.needs_secrets.is_empty() && secrets.gateway_token.is_none() {
                    secrets.gateway_token = Some(generate_gateway_token()?);
                    plan = self.plan_on(id, shard, params, &secrets).await?;
                }
                if !plan.needs_secrets.is_empty() && secrets.api_key.is_none() {
                    return Err(WorkspaceError::Tenant(format!(
                        "tenant `{id}` has no secret yet (its first create did not finish) and needs an API key: pass --api-key-env VAR or --api-key-file FILE"
                    )));
                }
                let report = self.workspace.apply_locked(&plan, self.provider.clone(), &with_secrets(options, &secrets)).await?;
                report_errors(&report)?;
                Ok(TenantInfo { warnings: plan.warnings.clone(), ..TenantInfo::from_state(id, &report.state) })
            })
            .await
    }

    /// The shard tenant `id` is on, or, for a new tenant, a shard chosen and recorded in its
    /// state before anything is created, under a lock all placements share, so that tenants
    /// created at the same moment never overfill a load balancer, the Auto Scaling group or the
    /// private subnets. In the same locked step, the base stack grows when it must: a shard
    /// (`shards: auto`), the group's maximum size (`asg_max_size: auto`).
    async fn reserve_shard(&self, id: &str, params: &IndexMap<String, Json>, options: &ApplyOptions) -> Result<usize, WorkspaceError> {
        if let (Placement::Existing(shard), _) = self.place(id).await? {
            if !(params.contains_key("cpu") || params.contains_key("memory")) {
                return Ok(shard);
            }
            return self.resize(id, shard, params, options).await;
        }
        // Placement is quick (state reads and one write); concurrent creates queue for it.
        self.workspace
            .with_lock_within(PLACEMENT_LOCK, "tenant placement", PLACEMENT_WAIT.max(self.workspace.lock_timeout()), async || {
                let (placement, slots) = self.place(id).await?;
                let (shard, new_shard) = match placement {
                    Placement::Existing(s) => return Ok(s),
                    Placement::New(s) => (s, None),
                    Placement::NewShard(s) => (s, Some(s + 1)),
                };
                let raise = self.room_for(&slots, params).await?;
                if new_shard.is_some() || raise.is_some() {
                    self.grow_base(new_shard, raise, options).await?;
                }
                let name = Tenants::stack_name(id);
                let mut state = match self.workspace.state(&name).await? {
                    Some(s) => s,
                    None => State::new(&name),
                };
                state.serial += 1;
                state.param_overrides.insert("tenant_id".into(), json!(id));
                state.param_overrides.insert("shard".into(), json!(shard));
                // The size too, so that placements before this tenant's first apply count it.
                for size in ["cpu", "memory"] {
                    if let Some(v) = params.get(size) {
                        state.param_overrides.insert(size.into(), v.clone());
                    }
                }
                self.workspace.backend().save(&state).await?;
                Ok(shard)
            })
            .await
    }

    /// A placed tenant given a size (`--cpu`, `--memory`): the group grows first when the
    /// tenants, this one at its new size, need more instances than its maximum (`asg_max_size:
    /// auto`), under the placement lock, as for a new tenant.
    async fn resize(&self, id: &str, shard: usize, params: &IndexMap<String, Json>, options: &ApplyOptions) -> Result<usize, WorkspaceError> {
        self.workspace
            .with_lock_within(PLACEMENT_LOCK, "tenant resize", PLACEMENT_WAIT.max(self.workspace.lock_timeout()), async || {
                // The size not given stays as recorded.
                let mut sized = self.workspace.state(&Tenants::stack_name(id)).await?.map(|s| s.param_overrides).unwrap_or_default();
                sized.retain(|k, _| k == "cpu" || k == "memory");
                sized.extend(params.iter().filter(|(k, _)| *k == "cpu" || *k == "memory").map(|(k, v)| (k.clone(), v.clone())));
                let others: Vec<TenantSlot> = crate::fleet::tenant_slots(self.workspace.fleet_sources()).await?.into_iter().filter(|s| s.id != id).collect();
                if let Some(raise) = self.room_for(&others, &sized).await? {
                    self.grow_base(None, Some(raise), options).await?;
                }
                Ok(shard)
            })
            .await
    }

    /// Destroys tenant `id`; other tenants are untouched.
    pub async fn destroy(&self, id: &str, options: &ApplyOptions) -> Result<ApplyReport, WorkspaceError> {
        validate_tenant_id(id)?;
        let name = Tenants::stack_name(id);
        if self.workspace.state(&name).await?.is_none() {
            return Err(self.no_tenant(id).await);
        }
        self.workspace
            .with_lock(&name, "tenant destroy", async || {
                let plan = self.workspace.plan_destroy(&name).await?;
                let report = self.workspace.apply_locked(&plan, self.provider.clone(), options).await?;
                report_errors(&report)?;
                Ok(report)
            })
            .await
    }

    /// The ids of the tenants that have state, sorted.
    pub async fn ids(&self) -> Result<Vec<String>, WorkspaceError> {
        tenant_ids(&self.workspace).await
    }

    /// Every tenant with state, and what the web app stores about it.
    pub async fn list(&self) -> Result<Vec<TenantInfo>, WorkspaceError> {
        let mut out = Vec::new();
        for id in self.ids().await? {
            if let Some(state) = self.workspace.state(&Tenants::stack_name(&id)).await? {
                if !state.resources.is_empty() {
                    out.push(TenantInfo::from_state(&id, &state));
                }
            }
        }
        Ok(out)
    }

    /// The error for a tenant id that names no tenant, suggesting the closest one.
    async fn no_tenant(&self, id: &str) -> WorkspaceError {
        let ids = self.ids().await.unwrap_or_default();
        let hint = match clawform_core::suggest::did_you_mean(id, ids.iter().map(String::as_str)) {
            Some(close) => format!("did you mean `{close}`?"),
            None => "`clawform tenant list` lists them".to_string(),
        };
        WorkspaceError::Tenant(format!("there is no tenant `{id}`; {hint}"))
    }

    /// One tenant.
    pub async fn show(&self, id: &str) -> Result<TenantInfo, WorkspaceError> {
        validate_tenant_id(id)?;
        let name = Tenants::stack_name(id);
        match self.workspace.state(&name).await? {
            Some(state) if !state.resources.is_empty() => Ok(TenantInfo::from_state(id, &state)),
            _ => Err(self.no_tenant(id).await),
        }
    }

    /// Plans every existing tenant against the current template (secrets are kept as they are),
    /// after one refresh of them all: live resources are read by type across every tenant, in
    /// batches (a few dozen calls for hundreds of tenants), not tenant by tenant.
    pub async fn plan_all(&self, params: &IndexMap<String, Json>) -> Result<Vec<(String, Plan)>, WorkspaceError> {
        let names: Vec<String> = self.ids().await?.iter().map(|id| Tenants::stack_name(id)).collect();
        let report = self.workspace.drift(&names, self.provider.as_ref()).await?;
        self.plan_every(&names, params, Some(&report)).await
    }

    /// Plans every existing tenant against its state as last applied, with no AWS call
    /// (`tenant plan --all --refresh=false`): changes made outside clawform are not seen.
    pub async fn plan_all_offline(&self, params: &IndexMap<String, Json>) -> Result<Vec<(String, Plan)>, WorkspaceError> {
        let names: Vec<String> = self.ids().await?.iter().map(|id| Tenants::stack_name(id)).collect();
        self.plan_every(&names, params, None).await
    }

    /// [`Tenants::plan_all_offline`], handing each tenant's plan to `each` as soon as it is
    /// made, so that thousands of plans need not be held at once.
    pub async fn plan_all_offline_each(
        &self,
        params: &IndexMap<String, Json>,
        each: impl FnMut(String, Plan) -> Result<(), WorkspaceError>,
    ) -> Result<(), WorkspaceError> {
        plan_all_offline_each(&self.workspace, params, each).await
    }

    /// Plans the tenants of stacks `names` that exist (a destroyed tenant keeps an empty state
    /// document) on the shards they are on, the template read once for all of them.
    async fn plan_every(
        &self,
        names: &[String],
        params: &IndexMap<String, Json>,
        report: Option<&clawform_core::DriftReport>,
    ) -> Result<Vec<(String, Plan)>, WorkspaceError> {
        let template = Stack::load_file(&self.workspace.stack_path(TEMPLATE), self.workspace.registry())?;
        let instance = |state: &State| Ok(tenant_instance(state, params));
        let plans = self.workspace.plan_many(names, &template, instance, report).await?;
        Ok(plans.into_iter().map(|p| (p.stack.strip_prefix(STACK_PREFIX).unwrap_or(&p.stack).to_string(), p)).collect())
    }

    /// Applies the template to every tenant, `parallelism` tenants at a time, each under its own
    /// lock. Returns each tenant's outcome; one tenant's failure does not stop the others.
    pub async fn apply_all(
        &self,
        params: &IndexMap<String, Json>,
        parallelism: usize,
        options: &ApplyOptions,
    ) -> Result<Vec<(String, Result<TenantInfo, WorkspaceError>)>, WorkspaceError> {
        let plans = self.plan_all(params).await?;
        Ok(self.apply_plans(plans, parallelism, options).await)
    }

    /// Applies plans made by [`Tenants::plan_all`], `parallelism` tenants at a time, each under
    /// its own lock, with no second refresh. A tenant whose state moved on since its plan was
    /// made fails as stale (plan again); one tenant's failure does not stop the others.
    pub async fn apply_plans(
        &self,
        plans: Vec<(String, Plan)>,
        parallelism: usize,
        options: &ApplyOptions,
    ) -> Vec<(String, Result<TenantInfo, WorkspaceError>)> {
        self.apply_plans_each(plans, parallelism, options, |_, _| {}).await
    }

    /// [`Tenants::apply_plans`], calling `on_done` as each tenant finishes (for progress).
    pub async fn apply_plans_each(
        &self,
        plans: Vec<(String, Plan)>,
        parallelism: usize,
        options: &ApplyOptions,
        on_done: impl Fn(&str, &Result<TenantInfo, WorkspaceError>) + Sync,
    ) -> Vec<(String, Result<TenantInfo, WorkspaceError>)> {
        use futures::stream::{self, StreamExt};
        let on_done = &on_done;
        let mut results = stream::iter(plans)
            .map(|(id, plan)| async move {
                let result: Result<TenantInfo, WorkspaceError> = async {
                    if !plan.has_changes() {
                        return self.show(&id).await;
                    }
                    let report = self.workspace.apply(&plan, self.provider.clone(), options).await?;
                    report_errors(&report)?;
                    Ok(TenantInfo::from_state(&id, &report.state))
                }
                .await;
                on_done(&id, &result);
                (id, result)
            })
            .buffer_unordered(parallelism.max(1))
            .collect::<Vec<_>>()
            .await;
        results.sort_by(|a, b| a.0.cmp(&b.0));
        results
    }
}

fn with_secrets(options: &ApplyOptions, secrets: &TenantSecrets) -> ApplyOptions {
    let mut o = options.clone();
    if let Some(k) = &secrets.api_key {
        o.secret_params.insert("api_key".into(), json!(k));
    }
    if let Some(t) = &secrets.gateway_token {
        o.secret_params.insert("gateway_token".into(), json!(t));
    }
    o
}

fn report_errors(report: &ApplyReport) -> Result<(), WorkspaceError> {
    if report.failures.is_empty() && !report.interrupted {
        return Ok(());
    }
    Err(WorkspaceError::TenantApply { stack: report.state.stack.clone(), failures: report.failures.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_that_could_capture_other_paths_are_refused() {
        for good in ["abc123", "a", "def-456", "x".repeat(23).as_str()] {
            assert!(validate_tenant_id(good).is_ok(), "{good}");
        }
        for bad in ["", "*", "a*", "?", "a/b", "..", "../x", "ABC", "abc_1", "-a", "a-", "a b", "é", &"x".repeat(24)] {
            assert!(validate_tenant_id(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn gateway_tokens_are_256_random_bits() {
        let a = generate_gateway_token().unwrap();
        let b = generate_gateway_token().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }

    #[test]
    fn secrets_do_not_print() {
        let s = TenantSecrets { api_key: Some("sk-ant-xyz".into()), gateway_token: None };
        assert!(!format!("{s:?}").contains("sk-ant"));
    }
}
