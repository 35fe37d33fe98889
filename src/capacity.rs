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

use serde::Serialize;

use crate::prices::{InstanceFacts, PriceSheet};

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
    /// ASG maximum size (base param `asg_max_size`; with `auto`, the value in force).
    pub asg_max_size: u32,
    /// Whether `asg_max_size` is `auto`: `tenant create` raises it as tenants need.
    pub asg_max_auto: bool,
    /// The tasks of the tenants that exist, at their recorded sizes (empty before any tenant).
    pub tenant_tasks: Vec<TaskSize>,
    /// On-demand instances below the Spot ones (the ASG's `on_demand_base_capacity`).
    pub on_demand_base: u32,
    /// Tenants one load balancer shard holds (base param `tenants_per_load_balancer`).
    pub tenants_per_load_balancer: u32,
    /// The base stack's `shards` param: a fixed count, or none for `auto` (or no such param).
    pub shards_fixed: Option<u32>,
    /// Private addresses in the instances' subnets (AWS keeps 5 of each subnet), when known.
    pub subnet_addresses: Option<u32>,
}

/// How many tasks of one size a plan counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SizeCount {
    /// CPU units.
    pub cpu: u32,
    /// Memory, MiB.
    pub memory_mib: u32,
    /// Tasks of this size.
    pub tasks: u32,
}

/// What `tenants` tenants need.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityPlan {
    /// Tenants asked about.
    pub tenants: u32,
    /// Tasks they run (one each).
    pub tasks: u32,
    /// Tasks per instance and why (for a task of the template's size).
    pub packing: Packing,
    /// Of the tenants, how many exist (counted at their recorded sizes; the rest at the
    /// template's).
    pub existing_tenants: u32,
    /// The task sizes counted, each with how many tasks have it.
    pub task_sizes: Vec<SizeCount>,
    /// Instances running: enough for the tasks, never below the ASG's minimum.
    pub instances: u32,
    /// Of which on-demand (the ASG's on-demand base).
    pub on_demand: u32,
    /// Of which Spot.
    pub spot: u32,
    /// The ASG's maximum size (with `auto`, what `tenant create` raises it to for these tenants).
    pub asg_max_size: u32,
    /// Whether the maximum size is `auto`.
    pub asg_max_auto: bool,
    /// Tasks of the template's size the ASG holds at its maximum size.
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
    /// The tenants that exist count at their recorded sizes (the first `tenants` of them when
    /// fewer are asked about); the others at the template's.
    pub fn plan(&self, tenants: u32) -> CapacityPlan {
        let packing = self.packing();
        let per = packing.tasks_per_instance;
        let tasks = tenants;
        let existing = &self.tenant_tasks[..self.tenant_tasks.len().min(tenants as usize)];
        let more = tenants - existing.len() as u32;
        // The tenants that exist are packed as they are; the rest, all of one size, by division
        // (the gaps the first leave are not counted: a few instances more at most).
        let packed = match existing {
            [] => 0,
            tasks => instances_for_tasks(tasks, &self.instance, self.networking, self.reserved_memory_mib),
        };
        let instances = packed.saturating_add(instances_for(more, per)).max(self.asg_min_size);
        let mut task_sizes: Vec<SizeCount> = Vec::new();
        let mut count = |t: TaskSize, n: u32| match task_sizes.iter_mut().find(|s| s.cpu == t.cpu && s.memory_mib == t.memory_mib) {
            Some(s) => s.tasks += n,
            None => task_sizes.push(SizeCount { cpu: t.cpu, memory_mib: t.memory_mib, tasks: n }),
        };
        existing.iter().for_each(|t| count(*t, 1));
        if more > 0 {
            count(self.task, more);
        }
        let asg_max_size = if self.asg_max_auto { self.asg_max_size.max(instances) } else { self.asg_max_size };
        let on_demand = instances.min(self.on_demand_base);
        let shards = shards_for(tenants, self.tenants_per_load_balancer);
        let per_instance_addresses = if self.networking == Networking::AwsvpcTrunking && self.instance.trunk_network_interfaces.is_some() { 2 } else { 1 };
        CapacityPlan {
            tenants,
            tasks,
            existing_tenants: existing.len() as u32,
            task_sizes,
            instances,
            on_demand,
            spot: instances - on_demand,
            asg_max_size,
            asg_max_auto: self.asg_max_auto,
            asg_max_tasks: asg_max_size.saturating_mul(per),
            fits_asg: instances <= asg_max_size,
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

/// Instances needed for tasks of mixed sizes: first-fit decreasing over CPU units, memory and
/// network interfaces (the three limits [`pack`] counts), `u32::MAX` when a task fits on no
/// instance at all. With one size it comes to [`instances_for`] of [`pack`]'s tasks per instance.
pub fn instances_for_tasks(tasks: &[TaskSize], facts: &InstanceFacts, networking: Networking, reserved_memory_mib: u32) -> u32 {
    let one = |task: TaskSize| pack("", facts, task, networking, reserved_memory_mib);
    let cpu = facts.vcpus * CPU_UNITS_PER_VCPU;
    let memory = facts.registered_memory_mib.saturating_sub(reserved_memory_mib);
    let enis = one(TaskSize { cpu: 1, memory_mib: 1 }).limits[2].tasks;
    let mut sorted: Vec<TaskSize> = tasks.to_vec();
    sorted.sort_by_key(|t| std::cmp::Reverse((t.cpu, t.memory_mib)));
    // Room left on each instance: CPU units, MiB, network interfaces.
    let mut instances: Vec<(u32, u32, u32)> = Vec::new();
    for task in sorted {
        if one(task).tasks_per_instance == 0 {
            return u32::MAX;
        }
        let fits = |room: &(u32, u32, u32)| room.0 >= task.cpu && room.1 >= task.memory_mib && room.2 >= 1;
        let room = match instances.iter_mut().find(|r| fits(r)) {
            Some(room) => room,
            None => {
                instances.push((cpu, memory, enis));
                instances.last_mut().expect("just pushed")
            }
        };
        *room = (room.0 - task.cpu, room.1 - task.memory_mib, room.2 - 1);
    }
    u32::try_from(instances.len()).unwrap_or(u32::MAX)
}

/// The largest task one instance holds: all its CPU units and the memory it registers for tasks.
pub fn largest_task(facts: &InstanceFacts, reserved_memory_mib: u32) -> TaskSize {
    TaskSize { cpu: facts.vcpus * CPU_UNITS_PER_VCPU, memory_mib: facts.registered_memory_mib.saturating_sub(reserved_memory_mib) }
}

/// Addresses AWS keeps in every subnet: "the first four and the last IPv4 address in each
/// subnet's CIDR block" (EC2 API reference, CreateSubnet:
/// <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSubnet.html>; Amazon VPC
/// User Guide, "Subnet CIDR blocks": <https://docs.aws.amazon.com/vpc/latest/userguide/subnet-sizing.html>).
pub const AWS_RESERVED_PER_SUBNET: u32 = 5;

/// Addresses a subnet of `cidr` (IPv4, /16 to /28 as AWS allows) holds for instances and tasks;
/// `None` when it is not such a CIDR.
pub fn usable_addresses(cidr: &str) -> Option<u32> {
    let (ip, prefix) = cidr.trim().split_once('/')?;
    ip.parse::<std::net::Ipv4Addr>().ok()?;
    let prefix: u32 = prefix.parse().ok()?;
    (16..=28).contains(&prefix).then(|| (1u32 << (32 - prefix)) - AWS_RESERVED_PER_SUBNET)
}

/// Private addresses `tasks` tasks on `instances` instances take: one per task's network
/// interface (`awsvpc`), one per instance, and one more per instance for a trunk interface.
pub fn addresses_for(tasks: u32, instances: u32, networking: Networking, facts: &InstanceFacts) -> u32 {
    let per_instance = if networking == Networking::AwsvpcTrunking && facts.trunk_network_interfaces.is_some() { 2 } else { 1 };
    tasks.saturating_add(instances.saturating_mul(per_instance))
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

/// `ECS_RESERVED_MEMORY=N` in user data, MiB (0 when not set).
pub fn reserved_memory(user_data: &str) -> u32 {
    user_data
        .split(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .filter_map(|word| word.strip_prefix("ECS_RESERVED_MEMORY="))
        .filter_map(|n| n.parse::<u32>().ok())
        .next_back()
        .unwrap_or(0)
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
            asg_max_auto: false,
            tenant_tasks: vec![],
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
    fn mixed_sizes_pack_first_fit_decreasing_and_one_size_matches_the_simple_count() {
        let small = TENANT_TASK;
        let big = TaskSize { cpu: 1024, memory_mib: 2048 };
        for n in [0u32, 1, 2, 3, 40, 41, 500] {
            assert_eq!(instances_for_tasks(&vec![small; n as usize], &c7i(), Networking::Awsvpc, 0), instances_for(n, 2), "{n}");
        }
        // 2048 units and 3992 MiB: one big task (2048 MiB) leaves room for one small one
        // (1024 MiB), and the network interfaces (2) allow no more.
        assert_eq!(instances_for_tasks(&[big, small], &c7i(), Networking::Awsvpc, 0), 1);
        // Two big ones need 4096 MiB, more than the 3992 an instance registers: one each.
        assert_eq!(instances_for_tasks(&[big, big, big], &c7i(), Networking::Awsvpc, 0), 3);
        // With trunking memory binds: 2048 + 1024 MiB, and a second small task would pass 3992.
        assert_eq!(instances_for_tasks(&[big, small, small], &c7i(), Networking::AwsvpcTrunking, 0), 2);
        let huge = TaskSize { cpu: 2048, memory_mib: 4096 };
        assert_eq!(instances_for_tasks(&[small, huge], &c7i(), Networking::Awsvpc, 0), u32::MAX);
        assert_eq!(largest_task(&c7i(), 0), TaskSize { cpu: 2048, memory_mib: 3992 });
        assert_eq!(largest_task(&c7i(), 256), TaskSize { cpu: 2048, memory_mib: 3736 });
    }

    #[test]
    fn existing_tenants_count_at_their_sizes_and_auto_grows_the_group() {
        let mut p = platform();
        let whole = TaskSize { cpu: 2048, memory_mib: 3000 };
        p.tenant_tasks = vec![TENANT_TASK, TENANT_TASK, whole];
        // Three tenants as they are: two on one instance, the big one on its own.
        let c = p.plan(3);
        assert_eq!((c.existing_tenants, c.instances), (3, 2));
        assert_eq!(c.task_sizes, [SizeCount { cpu: 512, memory_mib: 1024, tasks: 2 }, SizeCount { cpu: 2048, memory_mib: 3000, tasks: 1 }]);
        // Five: the three, and two more of the template's size on a third instance.
        let c = p.plan(5);
        assert_eq!((c.existing_tenants, c.instances, c.task_sizes[0].tasks), (3, 3, 4));
        // Fewer than exist: the first ones.
        assert_eq!(p.plan(1).instances, 1);
        // A fixed maximum below the need does not hold them; `auto` grows to it.
        p.asg_max_size = 2;
        assert!(!p.plan(5).fits_asg);
        p.asg_max_auto = true;
        let c = p.plan(5);
        assert_eq!((c.fits_asg, c.asg_max_size, c.asg_max_auto), (true, 3, true));
    }

    #[test]
    fn subnet_addresses_leave_aws_five_and_tasks_take_one_each() {
        assert_eq!(usable_addresses("10.0.10.0/24"), Some(251));
        assert_eq!(usable_addresses("10.0.32.0/19"), Some(8187));
        assert_eq!(usable_addresses("10.0.0.0/28"), Some(11));
        for bad in ["10.0.0.0/29", "10.0.0.0/8", "10.0.0/24", "x/24", "10.0.0.0"] {
            assert_eq!(usable_addresses(bad), None, "{bad}");
        }
        // 500 tasks on 250 instances: the seed's two /24s (502) are short, as `capacity` says.
        assert_eq!(addresses_for(500, 250, Networking::Awsvpc, &c7i()), 750);
        assert_eq!(addresses_for(500, 167, Networking::AwsvpcTrunking, &c7i()), 834);
    }

    #[test]
    fn reserved_memory_is_read_from_user_data() {
        assert_eq!(reserved_memory("#!/bin/bash\necho ECS_CLUSTER=x >> /etc/ecs/ecs.config\n"), 0);
        assert_eq!(reserved_memory("echo ECS_RESERVED_MEMORY=256 >> /etc/ecs/ecs.config"), 256);
        assert_eq!(reserved_memory("echo \"ECS_RESERVED_MEMORY=128\" >> f"), 128);
    }
}
