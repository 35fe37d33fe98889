//! Capacity planning: how many tenant tasks an ECS instance really holds, how many instances and
//! load balancer shards a number of tenants needs, and whether the Auto Scaling group can hold
//! them. Pure arithmetic over the price sheet's instance facts and the stacks' parameters; no AWS.
//!
//! Tasks per instance are the smallest of three limits (ECS places a task only where all three
//! have room):
//! - **CPU**: the instance registers 1024 CPU units per vCPU; each task reserves its `cpu`.
//! - **memory**: the agent registers the memory the OS reports (less than installed) minus
//!   `ECS_RESERVED_MEMORY`; each task reserves its `memory`.
//! - **network interfaces**: each `awsvpc` task takes an ENI and the primary ENI counts as one;
//!   with `awsvpcTrunking` the limit is the trunk limit less the primary and trunk interfaces.

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value as Json;

use crate::prices::{InstanceFacts, PriceSheet};
use crate::workspace::{Workspace, WorkspaceError};

/// CPU units ECS registers per vCPU.
pub const CPU_UNITS_PER_VCPU: u32 = 1024;

/// What one tenant's task reserves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TaskSize {
    /// CPU units (1024 = one vCPU).
    pub cpu: u32,
    /// Memory, MiB.
    pub memory_mib: u32,
}

/// How tasks get their network interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Networking {
    /// `awsvpc`, one ENI per task from the instance's own limit.
    Awsvpc,
    /// `awsvpc` with the `awsvpcTrunking` account setting: branch interfaces on a trunk ENI.
    AwsvpcTrunking,
}

/// One of the limits on tasks per instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// CPU units.
    Cpu,
    /// Registered memory.
    Memory,
    /// Network interfaces for `awsvpc` tasks.
    NetworkInterfaces,
}

impl LimitKind {
    /// The limit's name in output.
    pub fn label(self) -> &'static str {
        match self {
            LimitKind::Cpu => "CPU",
            LimitKind::Memory => "memory",
            LimitKind::NetworkInterfaces => "network interfaces",
        }
    }
}

/// One limit worked out: how many tasks it allows, how, and where the figures come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Limit {
    /// Which limit.
    pub kind: LimitKind,
    /// Tasks it allows on one instance.
    pub tasks: u32,
    /// The arithmetic, readable.
    pub reasoning: String,
    /// Where the figures come from.
    pub source: String,
}

/// Tasks per instance and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Packing {
    /// The instance type.
    pub instance_type: String,
    /// The task.
    pub task: TaskSize,
    /// Each limit, in the order CPU, memory, network interfaces.
    pub limits: Vec<Limit>,
    /// The smallest of the limits.
    pub tasks_per_instance: u32,
    /// The limits that allow only that many (ties are all listed).
    pub binding: Vec<LimitKind>,
}

/// Works out how many tasks of `task` one instance holds.
pub fn pack(instance_type: &str, facts: &InstanceFacts, task: TaskSize, networking: Networking, reserved_memory_mib: u32) -> Packing {
    let units = facts.vcpus * CPU_UNITS_PER_VCPU;
    let cpu = Limit {
        kind: LimitKind::Cpu,
        tasks: units.checked_div(task.cpu).unwrap_or(0),
        reasoning: format!("{} vCPU × {CPU_UNITS_PER_VCPU} units = {units} units / {} per task", facts.vcpus, task.cpu),
        source: facts.sources.vcpus.clone(),
    };
    let registered = facts.registered_memory_mib.saturating_sub(reserved_memory_mib);
    let memory = Limit {
        kind: LimitKind::Memory,
        tasks: registered.checked_div(task.memory_mib).unwrap_or(0),
        reasoning: format!(
            "{} MiB installed, {} MiB registered − {reserved_memory_mib} MiB ECS_RESERVED_MEMORY = {registered} MiB / {} MiB per task",
            facts.memory_mib, facts.registered_memory_mib, task.memory_mib
        ),
        source: facts.sources.registered_memory_mib.clone(),
    };
    let enis = match (networking, facts.trunk_network_interfaces) {
        (Networking::AwsvpcTrunking, Some(trunk)) => Limit {
            kind: LimitKind::NetworkInterfaces,
            tasks: trunk.saturating_sub(2),
            reasoning: format!("ENI trunking on: {trunk} ENIs − 1 primary − 1 trunk = {} branch interfaces, one per awsvpc task", trunk.saturating_sub(2)),
            source: facts.sources.trunk_network_interfaces.clone(),
        },
        (trunking, _) => {
            let why = if trunking == Networking::AwsvpcTrunking { "ENI trunking on but not supported by this type, so" } else { "ENI trunking off:" };
            Limit {
                kind: LimitKind::NetworkInterfaces,
                tasks: facts.network_interfaces.saturating_sub(1),
                reasoning: format!("{why} {} ENIs − 1 primary = {}, one per awsvpc task", facts.network_interfaces, facts.network_interfaces.saturating_sub(1)),
                source: facts.sources.network_interfaces.clone(),
            }
        }
    };
    let limits = vec![cpu, memory, enis];
    let tasks_per_instance = limits.iter().map(|l| l.tasks).min().unwrap_or(0);
    let binding = limits.iter().filter(|l| l.tasks == tasks_per_instance).map(|l| l.kind).collect();
    Packing { instance_type: instance_type.to_string(), task, limits, tasks_per_instance, binding }
}

/// The platform as the stacks describe it: what capacity planning needs from them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Platform {
    /// The ASG's instance type (base param `instance_type`).
    pub instance_type: String,
    /// What that type holds and costs.
    pub instance: InstanceFacts,
    /// One tenant's task (tenant params `cpu`, `memory`).
    pub task: TaskSize,
    /// How tasks get network interfaces.
    pub networking: Networking,
    /// `ECS_RESERVED_MEMORY` set in the launch template's user data, MiB.
    pub reserved_memory_mib: u32,
    /// ASG minimum size (base param `asg_min_size`).
    pub asg_min_size: u32,
    /// ASG maximum size (base param `asg_max_size`).
    pub asg_max_size: u32,
    /// On-demand instances below the Spot ones (the ASG's `on_demand_base_capacity`).
    pub on_demand_base: u32,
    /// Tenants one load balancer shard holds (base param `tenants_per_load_balancer`).
    pub tenants_per_load_balancer: u32,
    /// The base stack's `shards` param: a fixed count, or none for `auto` (or no such param).
    pub shards_fixed: Option<u32>,
    /// Private addresses in the instances' subnets (AWS keeps 5 of each subnet), when known.
    pub subnet_addresses: Option<u32>,
}

/// What `tenants` tenants need.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityPlan {
    /// Tenants asked about.
    pub tenants: u32,
    /// Tasks they run (one each).
    pub tasks: u32,
    /// Tasks per instance and why.
    pub packing: Packing,
    /// Instances running: enough for the tasks, never below the ASG's minimum.
    pub instances: u32,
    /// Of which on-demand (the ASG's on-demand base).
    pub on_demand: u32,
    /// Of which Spot.
    pub spot: u32,
    /// The ASG's maximum size.
    pub asg_max_size: u32,
    /// Tasks the ASG holds at its maximum size.
    pub asg_max_tasks: u32,
    /// Whether the ASG's maximum size holds every task.
    pub fits_asg: bool,
    /// Load balancer shards needed (at least the one the base stack has).
    pub shards: u32,
    /// Tenants per shard.
    pub tenants_per_load_balancer: u32,
    /// Whether the base stack's fixed `shards` count holds them (always with `auto`).
    pub fits_shards: bool,
    /// Private addresses the tasks and instances take (one per task ENI, one per instance, one
    /// more per instance for a trunk interface).
    pub addresses_needed: u32,
    /// Private addresses in the instances' subnets, when known.
    pub subnet_addresses: Option<u32>,
}

impl Platform {
    /// Tasks per instance on this platform.
    pub fn packing(&self) -> Packing {
        pack(&self.instance_type, &self.instance, self.task, self.networking, self.reserved_memory_mib)
    }

    /// What `tenants` tenants (one task each) need.
    pub fn plan(&self, tenants: u32) -> CapacityPlan {
        let packing = self.packing();
        let per = packing.tasks_per_instance;
        let tasks = tenants;
        let instances = instances_for(tasks, per).max(self.asg_min_size);
        let on_demand = instances.min(self.on_demand_base);
        let shards = shards_for(tenants, self.tenants_per_load_balancer);
        let per_instance_addresses = if self.networking == Networking::AwsvpcTrunking && self.instance.trunk_network_interfaces.is_some() { 2 } else { 1 };
        CapacityPlan {
            tenants,
            tasks,
            instances,
            on_demand,
            spot: instances - on_demand,
            asg_max_size: self.asg_max_size,
            asg_max_tasks: self.asg_max_size.saturating_mul(per),
            fits_asg: tasks <= self.asg_max_size.saturating_mul(per),
            shards,
            tenants_per_load_balancer: self.tenants_per_load_balancer,
            fits_shards: self.shards_fixed.is_none_or(|fixed| shards <= fixed),
            addresses_needed: tasks.saturating_add(instances.saturating_mul(per_instance_addresses)),
            subnet_addresses: self.subnet_addresses,
            packing,
        }
    }
}

/// Instances needed for `tasks` at `per_instance` each; `u32::MAX` when no task fits at all.
pub fn instances_for(tasks: u32, per_instance: u32) -> u32 {
    match (tasks, per_instance) {
        (0, _) => 0,
        (_, 0) => u32::MAX,
        (t, p) => t.div_ceil(p),
    }
}

/// Load balancer shards for `tenants`: one per `per_shard` tenants, and always the first.
pub fn shards_for(tenants: u32, per_shard: u32) -> u32 {
    tenants.div_ceil(per_shard.max(1)).max(1)
}

/// Whether the platform has room for one more task, for `tenant plan`'s warning.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskRoom {
    /// Tasks running (or planned) before the new one.
    pub running_tasks: u32,
    /// Tasks one instance holds.
    pub tasks_per_instance: u32,
    /// The limits that bind.
    pub binding: Vec<LimitKind>,
    /// The ASG's maximum size.
    pub asg_max_size: u32,
    /// Tasks the ASG holds at its maximum size.
    pub capacity: u32,
    /// Whether one more task fits.
    pub fits: bool,
}

impl TaskRoom {
    /// The warning to show when one more task does not fit (ECS would leave it pending).
    pub fn warning(&self) -> Option<String> {
        if self.fits {
            return None;
        }
        let binding: Vec<&str> = self.binding.iter().map(|b| b.label()).collect();
        let needed = instances_for(self.running_tasks.saturating_add(1), self.tasks_per_instance);
        Some(format!(
            "the Auto Scaling group's max size {} holds {} tasks ({} per instance, bound by {}) and {} already run: this tenant's task would stay PENDING until the group can grow; raise it with `clawform apply base --param asg_max_size={}`",
            self.asg_max_size,
            self.capacity,
            self.tasks_per_instance,
            binding.join(" and "),
            self.running_tasks,
            needed
        ))
    }
}

/// Whether one more task of `task` can run on an ASG of at most `asg_max_size` instances of
/// `instance` that already runs `running_tasks`.
pub fn room_for_one_more_task(
    asg_max_size: u32,
    instance_type: &str,
    instance: &InstanceFacts,
    task: TaskSize,
    networking: Networking,
    running_tasks: u32,
) -> TaskRoom {
    let packing = pack(instance_type, instance, task, networking, 0);
    let capacity = asg_max_size.saturating_mul(packing.tasks_per_instance);
    TaskRoom { running_tasks, tasks_per_instance: packing.tasks_per_instance, binding: packing.binding, asg_max_size, capacity, fits: running_tasks < capacity }
}

/// [`room_for_one_more_task`] with the instance type looked up in the built-in price sheet.
pub fn can_run_one_more_task(asg_max_size: u32, instance_type: &str, task: TaskSize, networking: Networking, running_tasks: u32) -> Result<TaskRoom, String> {
    let sheet = PriceSheet::builtin();
    let facts = sheet.instance(instance_type)?;
    Ok(room_for_one_more_task(asg_max_size, instance_type, facts, task, networking, running_tasks))
}

/// The names of the stacks capacity planning reads.
pub const BASE_STACK: &str = "base";
/// The tenant template.
pub const TENANT_STACK: &str = "tenant";

/// Reads the platform from the workspace's `stacks/base.yaml` and `stacks/tenant.yaml` (their
/// parameter defaults, with `overrides` applied to whichever stack declares each name), and the
/// instance facts from `sheet`. `trunking` forces ENI trunking on; otherwise it is on when the
/// base stack says so (a param `awsvpc_trunking`, or an `aws_ecs_account_setting_default`
/// resource named `awsvpcTrunking` with value `enabled`).
pub fn platform_from_stacks(workspace: &Workspace, overrides: &IndexMap<String, Json>, sheet: &PriceSheet, trunking: bool) -> Result<Platform, WorkspaceError> {
    let base_file = clawform_core::Stack::load_file(&workspace.stack_path(BASE_STACK), workspace.registry())?;
    let tenant_file = clawform_core::Stack::load_file(&workspace.stack_path(TENANT_STACK), workspace.registry())?;
    let mut base_params = IndexMap::new();
    let mut tenant_params = IndexMap::new();
    for (name, value) in overrides {
        if base_file.params.contains_key(name) {
            base_params.insert(name.clone(), value.clone());
        } else if tenant_file.params.contains_key(name) {
            tenant_params.insert(name.clone(), value.clone());
        } else {
            let known: Vec<&str> = base_file.params.keys().chain(tenant_file.params.keys()).map(String::as_str).collect();
            return Err(WorkspaceError::Tenant(format!(
                "`--param {name}` names no parameter of stack `base` or `tenant`; expected one of: {}",
                known.join(", ")
            )));
        }
    }
    // The template needs a tenant id to load; its value plays no part in capacity.
    tenant_params.entry("tenant_id".to_string()).or_insert_with(|| Json::String("capacity".into()));
    let base = workspace.load(BASE_STACK, &base_params)?;
    let tenant = workspace.load(TENANT_STACK, &tenant_params)?;
    let base_values = base.param_values()?;
    let tenant_values = tenant.param_values()?;
    let instance_type = text_param(&base, &base_values, "instance_type")?;
    let instance = sheet.instance(&instance_type).map_err(|e| located(&base, "instance_type", e))?.clone();
    let task = TaskSize { cpu: whole_param(&tenant, &tenant_values, "cpu")?, memory_mib: whole_param(&tenant, &tenant_values, "memory")? };
    if task.cpu == 0 || task.memory_mib == 0 {
        return Err(located(
            &tenant,
            if task.cpu == 0 { "cpu" } else { "memory" },
            "a task reserves some CPU and memory; expected a whole number above 0".into(),
        ));
    }
    let tenants_per_load_balancer = whole_param(&base, &base_values, "tenants_per_load_balancer")?;
    if !(1..=100).contains(&tenants_per_load_balancer) {
        return Err(located(
            &base,
            "tenants_per_load_balancer",
            format!("{tenants_per_load_balancer} tenants per load balancer; expected 1 to 100 (AWS allows 100 target groups per Application Load Balancer)"),
        ));
    }
    let asg = base.resources.values().find(|r| r.type_name == "aws_autoscaling_group").map(|r| &r.attributes);
    let on_demand_base = asg
        .and_then(|a| a.pointer("/mixed_instances_policy/0/instances_distribution/0/on_demand_base_capacity"))
        .and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
        .map_or(0, |n| n.min(u32::MAX as u64) as u32);
    let user_data: String = base
        .resources
        .values()
        .filter(|r| r.type_name == "aws_launch_template")
        .filter_map(|r| r.attributes.get("user_data").and_then(Json::as_str))
        .collect::<Vec<_>>()
        .join("\n");
    let trunking = trunking || stack_turns_on_trunking(&base, &base_values);
    let shards_fixed = match base_values.get("shards") {
        Some(v) => v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())).map(|n| n.min(u32::MAX as u64) as u32),
        None => None,
    };
    let subnet_addresses = asg
        .and_then(|a| a.get("vpc_zone_identifier"))
        .and_then(Json::as_array)
        .and_then(|subnets| subnets.iter().map(|s| subnet_size(&base, s)).sum::<Option<u32>>());
    Ok(Platform {
        instance_type,
        instance,
        task,
        networking: if trunking { Networking::AwsvpcTrunking } else { Networking::Awsvpc },
        reserved_memory_mib: reserved_memory(&user_data),
        asg_min_size: whole_param(&base, &base_values, "asg_min_size")?,
        asg_max_size: whole_param(&base, &base_values, "asg_max_size")?,
        on_demand_base,
        tenants_per_load_balancer,
        shards_fixed,
        subnet_addresses,
    })
}

/// Usable addresses of the subnet a `${ADDRESS.id}` reference names (AWS keeps five of each).
fn subnet_size(base: &clawform_core::Stack, reference: &Json) -> Option<u32> {
    let address = reference.as_str()?.strip_prefix("${")?.strip_suffix(".id}")?;
    let cidr = base.resources.get(address)?.attributes.get("cidr_block")?.as_str()?;
    let prefix: u32 = cidr.split_once('/')?.1.parse().ok()?;
    (16..=28).contains(&prefix).then(|| (1u32 << (32 - prefix)) - 5)
}

/// `ECS_RESERVED_MEMORY=N` in user data, MiB (0 when not set).
pub fn reserved_memory(user_data: &str) -> u32 {
    user_data
        .split(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .filter_map(|word| word.strip_prefix("ECS_RESERVED_MEMORY="))
        .filter_map(|n| n.parse::<u32>().ok())
        .next_back()
        .unwrap_or(0)
}

fn stack_turns_on_trunking(base: &clawform_core::Stack, values: &IndexMap<String, Json>) -> bool {
    let param = values
        .get("awsvpc_trunking")
        .is_some_and(|v| v.as_bool() == Some(true) || v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("enabled")));
    let setting = base.resources.values().any(|r| {
        r.type_name == "aws_ecs_account_setting_default"
            && r.attributes.get("name").and_then(Json::as_str) == Some("awsvpcTrunking")
            && r.attributes.get("value").and_then(Json::as_str) == Some("enabled")
    });
    param || setting
}

fn located(stack: &clawform_core::Stack, param: &str, message: String) -> WorkspaceError {
    let location = stack.source_map().value(&format!("params.{param}.default"));
    WorkspaceError::Stack(clawform_core::StackError::Invalid(vec![clawform_core::Diagnostic {
        location,
        message: format!("parameter `{param}` of stack `{}`: {message}", stack.name),
    }]))
}

fn text_param(stack: &clawform_core::Stack, values: &IndexMap<String, Json>, name: &str) -> Result<String, WorkspaceError> {
    match values.get(name) {
        Some(Json::String(s)) => Ok(s.clone()),
        Some(other) => Err(located(stack, name, format!("`{other}`; expected text"))),
        None => Err(located(stack, name, "missing; capacity planning needs it".into())),
    }
}

fn whole_param(stack: &clawform_core::Stack, values: &IndexMap<String, Json>, name: &str) -> Result<u32, WorkspaceError> {
    let value = values.get(name).ok_or_else(|| located(stack, name, "missing; capacity planning needs it".into()))?;
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| located(stack, name, format!("`{value}`; expected a whole number")))
}

#[cfg(test)]
impl Platform {
    /// The seed's platform as the stock stacks describe it, with the built-in instance facts:
    /// the fixture the capacity and cost tests share.
    pub(crate) fn seed_for_tests() -> Platform {
        Platform {
            instance_type: "c7i-flex.large".into(),
            instance: crate::prices::PriceSheet::builtin().instances["c7i-flex.large"].clone(),
            task: TaskSize { cpu: 512, memory_mib: 1024 },
            networking: Networking::Awsvpc,
            reserved_memory_mib: 0,
            asg_min_size: 1,
            asg_max_size: 20,
            on_demand_base: 1,
            tenants_per_load_balancer: 100,
            shards_fixed: None,
            subnet_addresses: Some(502),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c7i() -> InstanceFacts {
        PriceSheet::builtin().instances["c7i-flex.large"].clone()
    }

    const TENANT_TASK: TaskSize = TaskSize { cpu: 512, memory_mib: 1024 };

    #[test]
    fn c7i_flex_large_holds_two_awsvpc_tasks_bound_by_network_interfaces() {
        let p = pack("c7i-flex.large", &c7i(), TENANT_TASK, Networking::Awsvpc, 0);
        let tasks: Vec<(LimitKind, u32)> = p.limits.iter().map(|l| (l.kind, l.tasks)).collect();
        assert_eq!(tasks, vec![(LimitKind::Cpu, 4), (LimitKind::Memory, 3), (LimitKind::NetworkInterfaces, 2)]);
        assert_eq!(p.tasks_per_instance, 2);
        assert_eq!(p.binding, vec![LimitKind::NetworkInterfaces]);
        assert!(p.limits[2].reasoning.contains("3 ENIs − 1 primary = 2"), "{}", p.limits[2].reasoning);
    }

    #[test]
    fn with_trunking_memory_binds_at_three() {
        let p = pack("c7i-flex.large", &c7i(), TENANT_TASK, Networking::AwsvpcTrunking, 0);
        assert_eq!(p.limits[2].tasks, 10);
        assert_eq!((p.tasks_per_instance, p.binding.clone()), (3, vec![LimitKind::Memory]));
    }

    #[test]
    fn reserved_memory_and_ties_are_counted() {
        // 3992 − 1000 = 2992 MiB: two tasks of 1024, tied with the two network interfaces.
        let p = pack("c7i-flex.large", &c7i(), TENANT_TASK, Networking::Awsvpc, 1000);
        assert_eq!((p.tasks_per_instance, p.binding), (2, vec![LimitKind::Memory, LimitKind::NetworkInterfaces]));
        // A task bigger than the instance fits nowhere.
        let huge = pack("c7i-flex.large", &c7i(), TaskSize { cpu: 4096, memory_mib: 1024 }, Networking::Awsvpc, 0);
        assert_eq!((huge.tasks_per_instance, huge.binding), (0, vec![LimitKind::Cpu]));
    }

    #[test]
    fn trunking_on_an_unsupported_type_falls_back_to_the_plain_limit() {
        let mut facts = c7i();
        facts.trunk_network_interfaces = None;
        let p = pack("x", &facts, TENANT_TASK, Networking::AwsvpcTrunking, 0);
        assert_eq!(p.tasks_per_instance, 2);
        assert!(p.limits[2].reasoning.starts_with("ENI trunking on but not supported"), "{}", p.limits[2].reasoning);
    }

    fn platform() -> Platform {
        Platform::seed_for_tests()
    }

    #[test]
    fn fixed_shards_and_subnet_addresses_are_checked() {
        let mut p = platform();
        let c = p.plan(500);
        assert_eq!((c.addresses_needed, c.subnet_addresses, c.fits_shards), (750, Some(502), true));
        p.shards_fixed = Some(2);
        assert!(!p.plan(500).fits_shards);
        assert!(p.plan(200).fits_shards);
        p.networking = Networking::AwsvpcTrunking;
        // 167 instances, each with its primary and its trunk interface, and 500 task ENIs.
        assert_eq!(p.plan(500).addresses_needed, 500 + 2 * 167);
    }

    #[test]
    fn instances_shards_and_the_asg_for_the_seeds_tenant_counts() {
        let p = platform();
        let row = |n: u32| {
            let c = p.plan(n);
            (c.instances, c.on_demand, c.spot, c.shards, c.fits_asg)
        };
        assert_eq!(row(0), (1, 1, 0, 1, true));
        assert_eq!(row(1), (1, 1, 0, 1, true));
        assert_eq!(row(2), (1, 1, 0, 1, true));
        assert_eq!(row(3), (2, 1, 1, 1, true));
        assert_eq!(row(40), (20, 1, 19, 1, true));
        assert_eq!(row(41), (21, 1, 20, 1, false));
        assert_eq!(row(100), (50, 1, 49, 1, false));
        assert_eq!(row(101), (51, 1, 50, 2, false));
        assert_eq!(row(500), (250, 1, 249, 5, false));
        assert_eq!(p.plan(500).asg_max_tasks, 40);
    }

    #[test]
    fn bin_packing_edges() {
        assert_eq!(instances_for(0, 2), 0);
        assert_eq!(instances_for(1, 2), 1);
        assert_eq!(instances_for(4, 2), 2);
        assert_eq!(instances_for(5, 2), 3);
        assert_eq!(instances_for(5, 0), u32::MAX);
        assert_eq!(shards_for(0, 100), 1);
        assert_eq!(shards_for(100, 100), 1);
        assert_eq!(shards_for(7, 3), 3);
        assert_eq!(shards_for(5, 0), 5);
    }

    #[test]
    fn one_more_task_fits_until_the_asg_is_full() {
        let room = can_run_one_more_task(20, "c7i-flex.large", TENANT_TASK, Networking::Awsvpc, 39).unwrap();
        assert!(room.fits && room.warning().is_none());
        let full = can_run_one_more_task(20, "c7i-flex.large", TENANT_TASK, Networking::Awsvpc, 40).unwrap();
        assert!(!full.fits);
        let warning = full.warning().unwrap();
        assert!(warning.contains("max size 20 holds 40 tasks (2 per instance, bound by network interfaces) and 40 already run"), "{warning}");
        assert!(warning.ends_with("--param asg_max_size=21`"), "{warning}");
        assert!(can_run_one_more_task(20, "m9.tiny", TENANT_TASK, Networking::Awsvpc, 0).unwrap_err().contains("not in the price sheet"));
    }

    #[test]
    fn reserved_memory_is_read_from_user_data() {
        assert_eq!(reserved_memory("#!/bin/bash\necho ECS_CLUSTER=x >> /etc/ecs/ecs.config\n"), 0);
        assert_eq!(reserved_memory("echo ECS_RESERVED_MEMORY=256 >> /etc/ecs/ecs.config"), 256);
        assert_eq!(reserved_memory("echo \"ECS_RESERVED_MEMORY=128\" >> f"), 128);
    }
}
