//! The platform as the workspace describes it, for capacity and cost: the figures of
//! `stacks/base.yaml` and `stacks/tenant.yaml` (their parameter defaults, with `--param`
//! overrides), and, once tenants exist, each tenant's task size as its state records it and the
//! base stack's Auto Scaling group maximum in force. No AWS call.

use indexmap::IndexMap;
use serde_json::Value as Json;

use crate::capacity::{Networking, Platform, TaskSize};
use crate::prices::PriceSheet;
use crate::workspace::{Workspace, WorkspaceError};

/// The names of the stacks capacity planning reads.
pub const BASE_STACK: &str = "base";
/// The tenant template.
pub const TENANT_STACK: &str = "tenant";

/// Reads the platform from the workspace's `stacks/base.yaml` and `stacks/tenant.yaml` (their
/// parameter defaults, with `overrides` applied to whichever stack declares each name), and the
/// instance facts from `sheet`. `trunking` forces ENI trunking on; otherwise it is on when the
/// base stack says so (a param `awsvpc_trunking`, or an `aws_ecs_account_setting_default`
/// resource named `awsvpcTrunking` with value `enabled`). The tenants that exist are counted
/// at their recorded sizes (`Platform::tenant_tasks`); with `asg_max_size: auto`, the maximum
/// is the one the base stack's state holds (or its minimum before the first apply), and it grows
/// with the tenants.
pub async fn platform_from_stacks(
    workspace: &Workspace,
    overrides: &IndexMap<String, Json>,
    sheet: &PriceSheet,
    trunking: bool,
) -> Result<Platform, WorkspaceError> {
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
        .and_then(|subnets| subnets.iter().map(|s| subnet_size(&base, s)).sum::<Option<u32>>())
        .or_else(|| listed_subnets_size(&base_values));
    let asg_min_size = whole_param(&base, &base_values, "asg_min_size")?;
    let asg_max_auto = base_values.get("asg_max_size").and_then(Json::as_str) == Some(crate::fleet::AUTO);
    let base_state = workspace.state(BASE_STACK).await?.filter(|s| !s.resources.is_empty());
    let asg_max_size = if asg_max_auto {
        base_state.as_ref().and_then(crate::fleet::asg_max_in_force).unwrap_or(asg_min_size).max(1)
    } else {
        whole_param(&base, &base_values, "asg_max_size")?
    };
    let tenant_tasks: Vec<TaskSize> = crate::fleet::tenant_slots(workspace.fleet_sources()).await?.into_iter().map(|s| s.task).collect();
    // Once applied, the subnets are the ones the state records (the list may have been given
    // with --param at apply time).
    let subnet_addresses = match base_state.as_ref().map(crate::fleet::private_subnet_cidrs).filter(|c| !c.is_empty()) {
        Some(cidrs) => cidrs.iter().map(|c| crate::capacity::usable_addresses(c)).sum::<Option<u32>>(),
        None => subnet_addresses,
    };
    Ok(Platform {
        instance_type,
        instance,
        task,
        networking: if trunking { Networking::AwsvpcTrunking } else { Networking::Awsvpc },
        reserved_memory_mib: crate::capacity::reserved_memory(&user_data),
        asg_min_size,
        asg_max_size,
        asg_max_auto,
        tenant_tasks,
        on_demand_base,
        tenants_per_load_balancer,
        shards_fixed,
        subnet_addresses,
    })
}

/// Usable addresses of the subnets of the `private_subnet_cidrs` list parameter.
fn listed_subnets_size(values: &IndexMap<String, Json>) -> Option<u32> {
    let cidrs = values.get("private_subnet_cidrs")?.as_array()?;
    cidrs.iter().map(|c| c.as_str().and_then(crate::capacity::usable_addresses)).sum()
}

/// Usable addresses of the subnet a `${ADDRESS.id}` reference names (AWS keeps five of each).
fn subnet_size(base: &clawform_core::Stack, reference: &Json) -> Option<u32> {
    let address = reference.as_str()?.strip_prefix("${")?.strip_suffix(".id}")?;
    let cidr = base.resources.get(address)?.attributes.get("cidr_block")?.as_str()?;
    let prefix: u32 = cidr.split_once('/')?.1.parse().ok()?;
    (16..=28).contains(&prefix).then(|| (1u32 << (32 - prefix)) - 5)
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
