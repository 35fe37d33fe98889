//! `clawform capacity` and `clawform cost`: the library's capacity plan and cost rows, rendered
//! with their reasoning and sources visible.

use std::fmt::Write;
use std::path::Path;

use clawform::capacity::{CapacityPlan, Networking, Platform};
use clawform::cost::{self, CostRow};
use clawform::platform::platform_from_stacks;
use clawform::prices::PriceSheet;

use super::{parse_params, Ctx, Failure, OK};
use crate::cli::args::ParamArgs;

async fn platform(ctx: &Ctx, sheet: &PriceSheet, trunking: bool, params: &ParamArgs) -> Result<Platform, Failure> {
    Ok(platform_from_stacks(&ctx.workspace, &parse_params(ctx, params)?, sheet, trunking).await?)
}

pub(crate) async fn capacity_cmd(ctx: &Ctx, tenants: Option<u32>, trunking: bool, json: bool, params: &ParamArgs) -> Result<u8, Failure> {
    let sheet = PriceSheet::builtin();
    let platform = platform(ctx, &sheet, trunking, params).await?;
    // Without --tenants: the tenants that exist, or, before any, as many as the group holds.
    let tenants = tenants.unwrap_or_else(|| match platform.tenant_tasks.len() {
        0 => platform.asg_max_size.saturating_mul(platform.packing().tasks_per_instance),
        n => n as u32,
    });
    let plan = platform.plan(tenants);
    if json {
        let value = serde_json::json!({ "platform": platform, "plan": plan, "price_sheet": sheet.name() });
        super::print_versioned(&value)?;
    } else {
        print!("{}", render_capacity(&platform, &plan, &sheet));
    }
    Ok(OK)
}

/// The capacity plan with every limit, the one that binds and the source of each figure.
pub(crate) fn render_capacity(platform: &Platform, plan: &CapacityPlan, sheet: &PriceSheet) -> String {
    let mut out = String::new();
    let p = &plan.packing;
    let _ = writeln!(out, "Capacity for {} tenants (one task each)\n", plan.tenants);
    let _ = writeln!(out, "  task:      {} CPU units, {} MiB (stacks/tenant.yaml params cpu, memory)", p.task.cpu, p.task.memory_mib);
    if plan.existing_tenants > 0 {
        let sizes: Vec<String> = plan.task_sizes.iter().map(|s| format!("{} × {}/{} MiB", s.tasks, s.cpu, s.memory_mib)).collect();
        let _ = writeln!(out, "  tenants:   {} exist, counted at their recorded sizes (--cpu/--memory): {}", plan.existing_tenants, sizes.join(", "));
    }
    let _ = writeln!(out, "  instance:  {} (stacks/base.yaml param instance_type; facts from {})", platform.instance_type, sheet.name());
    let networking = match platform.networking {
        Networking::Awsvpc => "awsvpc, ENI trunking off",
        Networking::AwsvpcTrunking => "awsvpc with ENI trunking (awsvpcTrunking)",
    };
    let _ = writeln!(out, "  network:   {networking}\n");
    let _ = writeln!(out, "Tasks per instance, the smallest of:");
    let width = p.limits.iter().map(|l| l.kind.label().len()).max().unwrap_or(0);
    for (i, l) in p.limits.iter().enumerate() {
        let mark = if p.binding.contains(&l.kind) { "  <- binds" } else { "" };
        let _ = writeln!(out, "  {:<width$}  {:>3}  {} [{}]{mark}", l.kind.label(), l.tasks, l.reasoning, i + 1);
    }
    let binding: Vec<&str> = p.binding.iter().map(|b| b.label()).collect();
    let _ = writeln!(out, "  = {} tasks per instance ({} binds)\n", p.tasks_per_instance, binding.join(" and "));
    if p.tasks_per_instance == 0 {
        let _ = writeln!(out, "No task of this size fits on a {}: choose a larger instance type or a smaller task.", platform.instance_type);
    } else if plan.task_sizes.len() > 1 || plan.task_sizes.first().is_some_and(|s| s.cpu != p.task.cpu || s.memory_mib != p.task.memory_mib) {
        let _ = writeln!(
            out,
            "Instances: {} tasks of these sizes, packed first-fit decreasing = {} ({} on-demand base, {} Spot; ASG min size {})",
            plan.tasks, plan.instances, plan.on_demand, plan.spot, platform.asg_min_size
        );
    } else {
        let _ = writeln!(
            out,
            "Instances: {} tasks / {} per instance = {} ({} on-demand base, {} Spot; ASG min size {})",
            plan.tasks, p.tasks_per_instance, plan.instances, plan.on_demand, plan.spot, platform.asg_min_size
        );
    }
    let verdict = if plan.asg_max_auto {
        "(asg_max_size: auto; `tenant create` raises it as tenants need)".to_string()
    } else if plan.fits_asg {
        format!("holds them ({} tasks at most)", plan.asg_max_tasks)
    } else {
        format!(
            "does NOT hold them: at most {} tasks; raise it to at least {} (`clawform apply base --param asg_max_size={}`)",
            plan.asg_max_tasks, plan.instances, plan.instances
        )
    };
    let _ = writeln!(out, "Auto Scaling group: max size {} (stacks/base.yaml param asg_max_size) {verdict}", plan.asg_max_size);
    let _ = writeln!(
        out,
        "Load balancer shards: {} tenants / {} per load balancer = {} (stacks/base.yaml param tenants_per_load_balancer; AWS allows 100 target groups per ALB, not adjustable)",
        plan.tenants,
        plan.tenants_per_load_balancer,
        plan.shards
    );
    match platform.shards_fixed {
        Some(fixed) if !plan.fits_shards => {
            let _ = writeln!(out, "  the base stack's shards = {fixed} is fixed and too few: new tenants are refused past {}; `clawform apply base --param shards={}` (or shards=auto)", fixed.saturating_mul(plan.tenants_per_load_balancer), plan.shards);
        }
        Some(fixed) => {
            let _ = writeln!(out, "  the base stack's shards = {fixed} holds them");
        }
        None => {
            let _ = writeln!(out, "  the base stack's shards = auto: a shard is added when every one is full");
        }
    }
    if let Some(available) = plan.subnet_addresses {
        let verdict = if plan.addresses_needed <= available {
            "enough".to_string()
        } else {
            format!("NOT enough ({} short): add a larger private subnet to the list, such as `--param 'private_subnet_cidrs=[10.0.10.0/24, 10.0.11.0/24, 10.0.32.0/19]'` (README \"Capacity at 500 tenants\")", plan.addresses_needed - available)
        };
        let _ = writeln!(
            out,
            "Private addresses: {} needed (one per task ENI, one per instance{}) of {available} in the instances' subnets (AWS keeps 5 per subnet): {verdict}",
            plan.addresses_needed,
            if platform.networking == Networking::AwsvpcTrunking { " and one per trunk interface" } else { "" }
        );
    }
    let _ = writeln!(out, "\nSources:");
    for (i, l) in p.limits.iter().enumerate() {
        let source = if l.source.is_empty() { "(none given in the sheet)" } else { l.source.as_str() };
        let _ = writeln!(out, "  [{}] {}", i + 1, source.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    out
}

pub(crate) async fn cost_cmd(ctx: &Ctx, tenants: &[u32], prices: Option<&Path>, trunking: bool, json: bool, params: &ParamArgs) -> Result<u8, Failure> {
    let sheet = match prices {
        Some(path) => PriceSheet::load(path).map_err(|e| Failure(e.to_string()))?,
        None => PriceSheet::builtin(),
    };
    let platform = platform(ctx, &sheet, trunking, params).await?;
    let rows: Vec<CostRow> = tenants.iter().map(|&n| cost::estimate(&platform, &sheet, n)).collect();
    let notes = cost::notes(&platform, &rows);
    if json {
        let value = serde_json::json!({
            "region": sheet.region,
            "currency": sheet.currency,
            "price_sheet": sheet.name(),
            "hours_per_month": sheet.hours_per_month,
            "tasks_per_instance": platform.packing().tasks_per_instance,
            "rows": rows,
            "notes": notes,
        });
        super::print_versioned(&value)?;
    } else {
        print!("{}", render_cost(&platform, &sheet, &rows, &notes));
    }
    Ok(OK)
}

fn dollars(v: f64) -> String {
    let cents = (v * 100.0).round() as u64;
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("${grouped}.{:02}", cents % 100)
}

fn instances_cell(row: &CostRow) -> String {
    let c = &row.capacity;
    match (c.on_demand, c.spot) {
        (od, 0) if od == c.instances => format!("{} (on-demand base)", c.instances),
        (od, spot) => format!("{} ({od} on-demand + {spot} Spot)", c.instances),
    }
}

fn tasks_cell(row: &CostRow) -> String {
    let c = &row.capacity;
    let per = c.packing.tasks_per_instance;
    match c.tasks {
        0 => "0".into(),
        t if t <= per => t.to_string(),
        t if t == per.saturating_mul(c.instances) => format!("{per} each"),
        _ => format!("up to {per}"),
    }
}

/// The cost table in the seed's shape, then the bill's parts and the notes.
pub(crate) fn render_cost(platform: &Platform, sheet: &PriceSheet, rows: &[CostRow], notes: &[String]) -> String {
    let mut out = String::new();
    let packing = platform.packing();
    let _ = writeln!(
        out,
        "Monthly cost of the platform in {} ({}, {} hours a month; prices from {})\n",
        sheet.region,
        sheet.currency,
        sheet.hours_per_month,
        sheet.name()
    );
    let header = ["Users", "EC2 Instances", "Tasks per Instance", "ALBs", "Monthly Cost", "Cost per User", "Seed's instances"];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.tenants.to_string(),
                instances_cell(r) + if r.capacity.fits_asg { "" } else { " *" },
                tasks_cell(r),
                r.load_balancers.to_string(),
                dollars(r.monthly),
                r.per_tenant.map_or("-".to_string(), dollars),
                cost::seed_instances(r.tenants).to_string(),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len()).map(|i| cells.iter().map(|c| c[i].chars().count()).chain([header[i].len()]).max().unwrap_or(0)).collect();
    let line = |cols: &[String]| {
        let mut l = String::from("|");
        for (i, c) in cols.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            // Numbers right-aligned, text left-aligned.
            if matches!(i, 0 | 3 | 4 | 5 | 6) {
                let _ = write!(l, " {}{c} |", " ".repeat(pad));
            } else {
                let _ = write!(l, " {c}{} |", " ".repeat(pad));
            }
        }
        l
    };
    let _ = writeln!(out, "{}", line(&header.map(String::from)));
    let mut sep = String::from("|");
    for (i, w) in widths.iter().enumerate() {
        let rule = if matches!(i, 0 | 3 | 4 | 5 | 6) { format!("{}:", "-".repeat(w + 1)) } else { "-".repeat(w + 2) };
        let _ = write!(sep, "{rule}|");
    }
    let _ = writeln!(out, "{sep}");
    for c in &cells {
        let _ = writeln!(out, "{}", line(c));
    }
    if rows.iter().any(|r| !r.capacity.fits_asg) {
        let _ = writeln!(out, "\n* more instances than the Auto Scaling group's max size {} allows", platform.asg_max_size);
    }
    let binding: Vec<&str> = packing.binding.iter().map(|b| b.label()).collect();
    let _ = writeln!(
        out,
        "\nTasks per instance: {} on a {} ({} binds; `clawform capacity` shows each limit and its source); one on-demand base instance, Spot above it.",
        packing.tasks_per_instance,
        platform.instance_type,
        binding.join(" and ")
    );
    if let Some(last) = rows.iter().max_by_key(|r| r.tenants) {
        let _ = writeln!(out, "\nThe bill for {} tenants:", last.tenants);
        let width = last.items.iter().map(|i| i.item.chars().count()).max().unwrap_or(0);
        for i in &last.items {
            let _ = writeln!(out, "  {:<width$}  {:>11}  {}", i.item, dollars(i.monthly), i.quantity);
        }
    }
    if !notes.is_empty() {
        let _ = writeln!(out, "\nNotes:");
        for n in notes {
            let _ = writeln!(out, "- {n}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::dollars;

    #[test]
    fn dollars_group_thousands_and_round_cents() {
        assert_eq!(dollars(0.0), "$0.00");
        assert_eq!(dollars(96.7885), "$96.79");
        assert_eq!(dollars(3084.65), "$3,084.65");
        assert_eq!(dollars(1234567.891), "$1,234,567.89");
    }
}
