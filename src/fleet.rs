//! What the tenants take of the platform: each tenant's task size and shard as its state records
//! them, the instances and private addresses they need, and `asg_max_size: auto` — the number a
//! plan of the base stack keeps in force, and the refusal of a number below what the tenants
//! need. Reads states only: no AWS call.

use std::path::Path;

use clawform_core::backend::StateBackend;
use clawform_core::{Plan, Registry, Stack, State};
use serde_json::{json, Value as Json};

use crate::capacity::{self, Networking, TaskSize};
use crate::error::WorkspaceError;
use crate::prices::{InstanceFacts, PriceSheet};

/// Where the fleet's figures are read: the state backend and the stack files. Borrowed from a
/// workspace (this module sits below it: the workspace's plan of the base stack calls
/// [`settle_asg_max`]).
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    /// The state backend.
    pub backend: &'a dyn StateBackend,
    /// The workspace's registry.
    pub registry: &'a Registry,
    /// The project folder (stacks are `stacks/NAME.yaml` in it).
    pub root: &'a Path,
}

impl Sources<'_> {
    fn stack_file(&self, name: &str) -> Result<Stack, WorkspaceError> {
        Ok(Stack::load_file(&clawform_core::stack::stack_path(self.root, name), self.registry)?)
    }
}

/// The platform stack.
pub const BASE_STACK: &str = "base";
/// The tenant template.
pub const TEMPLATE: &str = "tenant";
/// Prefix of a tenant's stack name.
pub const STACK_PREFIX: &str = "tenant-";
/// The base stack's parameter for the Auto Scaling group's maximum size.
pub const ASG_MAX_PARAM: &str = "asg_max_size";
/// The value of a parameter that clawform works out.
pub const AUTO: &str = "auto";

/// One tenant as placement sees it: placed (a recorded shard) or applied.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantSlot {
    /// The tenant id.
    pub id: String,
    /// Its load balancer shard, when recorded.
    pub shard: Option<usize>,
    /// Its task (recorded `cpu` and `memory`, else the template's).
    pub task: TaskSize,
}

/// A whole number from a parameter value (`--param` gives numbers, files and environment text).
pub fn whole(value: Option<&Json>) -> Option<u32> {
    let v = value?;
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())).and_then(|n| u32::try_from(n).ok())
}

/// The task size of the template's defaults (`stacks/tenant.yaml` params `cpu`, `memory`).
pub fn template_task(sources: Sources<'_>) -> Result<TaskSize, WorkspaceError> {
    let template = sources.stack_file(TEMPLATE)?;
    let default = |name: &str, fallback: u32| whole(template.params.get(name).and_then(|p| p.default.as_ref())).unwrap_or(fallback);
    Ok(TaskSize { cpu: default("cpu", 512), memory_mib: default("memory", 1024) })
}

/// The task size `params` (a tenant's parameter values as given) ask for, else `default`.
pub fn task_of(params: &indexmap::IndexMap<String, Json>, default: TaskSize) -> TaskSize {
    TaskSize { cpu: whole(params.get("cpu")).unwrap_or(default.cpu), memory_mib: whole(params.get("memory")).unwrap_or(default.memory_mib) }
}

/// The task recorded in a tenant's state: its `--param`/`--cpu` values, else what its last apply
/// resolved, else `default`.
pub fn recorded_task(state: &State, default: TaskSize) -> TaskSize {
    let pick = |name: &str, fallback: u32| whole(state.param_overrides.get(name)).or_else(|| whole(state.params.get(name))).unwrap_or(fallback);
    TaskSize { cpu: pick("cpu", default.cpu), memory_mib: pick("memory", default.memory_mib) }
}

/// The shard recorded in a tenant's state.
pub fn recorded_shard(state: &State) -> Option<usize> {
    state.param_overrides.get("shard").and_then(Json::as_u64).map(|s| s as usize)
}

/// Every tenant that is placed or applied (a destroyed tenant keeps an empty state and no shard).
pub async fn tenant_slots(sources: Sources<'_>) -> Result<Vec<TenantSlot>, WorkspaceError> {
    let mut names: Vec<String> = sources.backend.list().await?.into_iter().filter(|n| n.starts_with(STACK_PREFIX)).collect();
    if names.is_empty() {
        // No tenant: nothing to read (a project may have no template at all).
        return Ok(vec![]);
    }
    names.sort();
    let default = template_task(sources)?;
    let mut out = Vec::new();
    for name in names {
        let Some(state) = sources.backend.load(&name).await? else { continue };
        let shard = recorded_shard(&state);
        if state.resources.is_empty() && shard.is_none() {
            continue;
        }
        let id = name.strip_prefix(STACK_PREFIX).unwrap_or(&name).to_string();
        out.push(TenantSlot { id, shard, task: recorded_task(&state, default) });
    }
    Ok(out)
}

/// What the base stack's parameters say about the instances tasks run on.
#[derive(Debug, Clone, PartialEq)]
pub struct Instances {
    /// `instance_type`.
    pub instance_type: String,
    /// Its facts, when the price sheet knows the type.
    pub facts: Option<InstanceFacts>,
    /// How tasks get their network interfaces.
    pub networking: Networking,
    /// `ECS_RESERVED_MEMORY` in the launch template's user data.
    pub reserved_memory_mib: u32,
    /// `asg_min_size`.
    pub asg_min_size: u32,
}

impl Instances {
    /// From the base stack's parameter values and its launch template's user data.
    pub fn new(params: &indexmap::IndexMap<String, Json>, user_data: &str) -> Instances {
        let instance_type = params.get("instance_type").and_then(Json::as_str).unwrap_or_default().to_string();
        let trunking = params.get("awsvpc_trunking").is_some_and(|v| v == &json!(true) || v == &json!("enabled") || v == &json!("true"));
        Instances {
            facts: PriceSheet::builtin().instance(&instance_type).ok().cloned(),
            instance_type,
            networking: if trunking { Networking::AwsvpcTrunking } else { Networking::Awsvpc },
            reserved_memory_mib: capacity::reserved_memory(user_data),
            asg_min_size: whole(params.get("asg_min_size")).unwrap_or(0),
        }
    }

    /// From the base stack's state as last applied.
    pub fn of_state(base: &State) -> Instances {
        let user_data: Vec<&str> = base
            .resources
            .iter()
            .filter(|r| r.type_name == "aws_launch_template")
            .filter_map(|r| r.attributes.get("user_data").and_then(Json::as_str))
            .collect();
        Instances::new(&base.params, &user_data.join("\n"))
    }

    /// From a stack of the base platform about to be planned.
    fn of_stack(stack: &Stack, params: &indexmap::IndexMap<String, Json>) -> Instances {
        let user_data: Vec<&str> = stack
            .resources
            .values()
            .filter(|r| r.type_name == "aws_launch_template")
            .filter_map(|r| r.attributes.get("user_data").and_then(Json::as_str))
            .collect();
        Instances::new(params, &user_data.join("\n"))
    }

    /// Instances `tasks` need (at least `asg_min_size`); `None` when the type is not in the sheet.
    pub fn needed(&self, tasks: &[TaskSize]) -> Option<u32> {
        let facts = self.facts.as_ref()?;
        Some(capacity::instances_for_tasks(tasks, facts, self.networking, self.reserved_memory_mib).max(self.asg_min_size))
    }

    /// Refuses a task that no instance holds, saying what the largest that fits is.
    pub fn check_fits(&self, task: TaskSize) -> Result<(), WorkspaceError> {
        let Some(facts) = &self.facts else { return Ok(()) };
        let packing = capacity::pack(&self.instance_type, facts, task, self.networking, self.reserved_memory_mib);
        if packing.tasks_per_instance > 0 {
            return Ok(());
        }
        let largest = capacity::largest_task(facts, self.reserved_memory_mib);
        let why: Vec<String> = packing.limits.iter().filter(|l| l.tasks == 0).map(|l| format!("{} ({})", l.kind.label(), l.reasoning)).collect();
        Err(WorkspaceError::Tenant(format!(
            "a task of {} CPU units and {} MiB does not fit on one {} (base stack's instance_type): {}; expected at most --cpu {} --memory {}, or a larger instance_type for the base stack",
            task.cpu,
            task.memory_mib,
            self.instance_type,
            why.join(", "),
            largest.cpu,
            largest.memory_mib
        )))
    }
}

/// The private subnets of the base stack as its state records them: each subnet's CIDR.
pub fn private_subnet_cidrs(base: &State) -> Vec<String> {
    let ids: Vec<&str> =
        base.outputs.get("private_subnet_ids").and_then(Json::as_array).map(|l| l.iter().filter_map(Json::as_str).collect()).unwrap_or_default();
    ids.iter()
        .filter_map(|id| {
            base.resources
                .iter()
                .find(|r| r.type_name == "aws_subnet" && r.attributes.get("id").and_then(Json::as_str) == Some(id))
                .and_then(|r| r.attributes.get("cidr_block").and_then(Json::as_str))
                .map(str::to_string)
        })
        .collect()
}

/// Refuses, before any AWS call, tasks whose network interfaces (with the instances they need)
/// would not fit in the private subnets the base stack's state records.
pub fn check_addresses(base: &State, instances: &Instances, tasks: &[TaskSize]) -> Result<(), WorkspaceError> {
    let Some(facts) = &instances.facts else { return Ok(()) };
    let cidrs = private_subnet_cidrs(base);
    if cidrs.is_empty() {
        return Ok(());
    }
    let available: u32 = cidrs.iter().filter_map(|c| capacity::usable_addresses(c)).sum();
    let hosts = instances.needed(tasks).unwrap_or(0);
    let needed = capacity::addresses_for(tasks.len() as u32, hosts, instances.networking, facts);
    if needed <= available {
        return Ok(());
    }
    let mut bigger: Vec<String> = cidrs.clone();
    bigger.push("10.0.32.0/19".into());
    Err(WorkspaceError::Tenant(format!(
        "the private subnets ({}) hold {available} addresses (AWS keeps {} of each subnet) and {} tasks on {hosts} instances need {needed} (one per task's network interface, one per instance): add a larger private subnet to the base stack, for instance `clawform apply base --param 'private_subnet_cidrs={}'` (a free CIDR of the VPC; services move to it at their next deployment), then create the tenant again",
        cidrs.join(", "),
        capacity::AWS_RESERVED_PER_SUBNET,
        tasks.len(),
        serde_json::to_string(&bigger).unwrap_or_default(),
    )))
}

/// The Auto Scaling group's maximum size the base stack's state holds (the value last applied).
pub fn asg_max_in_force(base: &State) -> Option<u32> {
    whole(base.params.get(ASG_MAX_PARAM))
        .or_else(|| base.resources.iter().find(|r| r.type_name == "aws_autoscaling_group").and_then(|r| whole(r.attributes.get("max_size"))))
}

/// Whether the base stack's `asg_max_size` is `auto`: recorded by an earlier `--param`, else the
/// stack file's default.
pub fn asg_max_is_auto(sources: Sources<'_>, base: &State) -> Result<bool, WorkspaceError> {
    if let Some(v) = base.param_overrides.get(ASG_MAX_PARAM) {
        return Ok(v.as_str() == Some(AUTO));
    }
    let file = sources.stack_file(BASE_STACK)?;
    Ok(file.params.get(ASG_MAX_PARAM).and_then(|p| p.default.as_ref()).and_then(Json::as_str) == Some(AUTO))
}

/// The base stack made ready to plan: `asg_max_size: auto` as the number to keep in force.
pub struct Settled {
    /// The stack to plan, `asg_max_size` a number.
    pub stack: Stack,
    /// What the plan records as given for `asg_max_size` (`auto`, or nothing when the default).
    recorded: Option<Json>,
}

impl Settled {
    /// Puts back in the plan what was given for `asg_max_size`: the next plan works it out
    /// again, while the plan's resolved parameters (and so state) hold the number applied.
    pub fn record(&self, plan: &mut Plan) {
        match &self.recorded {
            Some(v) => {
                plan.param_overrides.insert(ASG_MAX_PARAM.into(), v.clone());
            }
            None => {
                plan.param_overrides.shift_remove(ASG_MAX_PARAM);
            }
        }
    }
}

/// For the base stack (a stack named `base` with an `asg_max_size` parameter): with `auto`, the
/// stack with the number to keep in force — the largest of what `state` holds, what the
/// tenants need and `asg_min_size` — so a plan never lowers the group below its tenants; with a
/// number, a refusal when it is below what the tenants need. `None` for any other stack.
pub async fn settle_asg_max(sources: Sources<'_>, stack: &Stack, state: Option<&State>) -> Result<Option<Settled>, WorkspaceError> {
    if stack.name != BASE_STACK || !stack.params.contains_key(ASG_MAX_PARAM) {
        return Ok(None);
    }
    let values = stack.param_values()?;
    let setting = values.get(ASG_MAX_PARAM);
    let auto = setting.and_then(Json::as_str) == Some(AUTO);
    let fixed = whole(setting);
    if !auto && fixed.is_none() {
        // Not ours to judge: the type check of `max_size` says what is wrong.
        return Ok(None);
    }
    let tasks: Vec<TaskSize> = tenant_slots(sources).await?.into_iter().map(|s| s.task).collect();
    let instances = Instances::of_stack(stack, &values);
    let needed = instances.needed(&tasks);
    if let Some(n) = fixed {
        return match needed {
            Some(needed) if n < needed && !tasks.is_empty() => Err(WorkspaceError::Tenant(format!(
                "asg_max_size {n} is below what the {} tenants need: {needed} instances of {} for their tasks (each tenant's recorded cpu and memory); expected --param asg_max_size={needed} or more, or --param asg_max_size=auto",
                tasks.len(),
                instances.instance_type
            ))),
            _ => Ok(None),
        };
    }
    let Some(needed) = needed else {
        return Err(WorkspaceError::Tenant(format!(
            "asg_max_size is `auto`, but instance type `{}` is not in the price sheet (prices/us-west-2.yaml), so what the tenants need cannot be worked out; expected a number for asg_max_size, or a type the sheet lists",
            instances.instance_type
        )));
    };
    let value = state.and_then(asg_max_in_force).unwrap_or(0).max(needed).max(instances.asg_min_size).max(1);
    let mut settled = stack.clone();
    settled.param_overrides.insert(ASG_MAX_PARAM.into(), json!(value));
    Ok(Some(Settled { stack: settled, recorded: stack.param_overrides.get(ASG_MAX_PARAM).cloned() }))
}
