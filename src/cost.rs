//! Monthly cost of the platform for a number of tenants: instances from the capacity plan (the
//! ASG's on-demand base, Spot above it), one load balancer per shard, the NAT gateway, public
//! IPv4 addresses, logs, images and one secret per tenant, priced from a [`PriceSheet`].

use serde::Serialize;

use crate::capacity::{CapacityPlan, Platform};
use crate::prices::PriceSheet;

/// The tasks per instance the seed's "Cost Scaling" table assumes.
pub const SEED_TASKS_PER_INSTANCE: u32 = 4;

/// One line of the bill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostItem {
    /// What it is.
    pub item: String,
    /// How it is counted.
    pub quantity: String,
    /// Per month.
    pub monthly: f64,
}

/// The cost of the platform at one tenant count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostRow {
    /// Tenants.
    pub tenants: u32,
    /// The capacity plan behind it.
    pub capacity: CapacityPlan,
    /// Load balancers (one per shard).
    pub load_balancers: u32,
    /// The bill, item by item.
    pub items: Vec<CostItem>,
    /// Total per month.
    pub monthly: f64,
    /// Per tenant per month (none with no tenant).
    pub per_tenant: Option<f64>,
}

/// Prices the platform for `tenants` tenants.
pub fn estimate(platform: &Platform, sheet: &PriceSheet, tenants: u32) -> CostRow {
    let capacity = platform.plan(tenants);
    let hours = sheet.hours_per_month;
    let (p, u, i) = (&sheet.prices, &sheet.usage, &platform.instance);
    let albs = capacity.shards;
    let n = f64::from(tenants);
    let logs_gb = u.logs_gb_base + u.logs_gb_per_tenant * n;
    let ipv4 = u.public_ipv4_fixed + u.public_ipv4_per_alb * albs;
    let items = vec![
        item(
            format!("EC2 {} on-demand", platform.instance_type),
            format!("{} × ${:.4}/h", capacity.on_demand, i.on_demand_hourly),
            f64::from(capacity.on_demand) * i.on_demand_hourly * hours,
        ),
        item(
            format!("EC2 {} Spot", platform.instance_type),
            format!("{} × ${:.4}/h", capacity.spot, i.spot_hourly),
            f64::from(capacity.spot) * i.spot_hourly * hours,
        ),
        item("NAT gateway".into(), format!("1 × ${}/h", p.nat_gateway_hourly), p.nat_gateway_hourly * hours),
        item(
            "NAT gateway data".into(),
            format!("{:.1} GB × ${}/GB", u.nat_gb_per_tenant * n, p.nat_gateway_per_gb),
            u.nat_gb_per_tenant * n * p.nat_gateway_per_gb,
        ),
        item("Application Load Balancers".into(), format!("{albs} × ${}/h", p.alb_hourly), f64::from(albs) * p.alb_hourly * hours),
        item(
            "ALB capacity units".into(),
            format!("{:.2} LCU × ${}/LCU-h", u.alb_lcu_per_tenant * n, p.alb_lcu_hourly),
            u.alb_lcu_per_tenant * n * p.alb_lcu_hourly * hours,
        ),
        item("Public IPv4 addresses".into(), format!("{ipv4} × ${}/h", p.public_ipv4_hourly), f64::from(ipv4) * p.public_ipv4_hourly * hours),
        item(
            "CloudWatch Logs".into(),
            format!("{logs_gb:.1} GB ingested × ${} + stored × ${}", p.logs_ingestion_per_gb, p.logs_storage_per_gb_month),
            logs_gb * (p.logs_ingestion_per_gb + p.logs_storage_per_gb_month),
        ),
        item(
            "ECR storage".into(),
            format!("{} GB × ${}/GB-month", u.ecr_storage_gb, p.ecr_storage_per_gb_month),
            u.ecr_storage_gb * p.ecr_storage_per_gb_month,
        ),
        item("Secrets Manager".into(), format!("{tenants} × ${}/month", p.secret_per_month), n * p.secret_per_month),
    ];
    let monthly: f64 = items.iter().map(|i| i.monthly).sum();
    CostRow { tenants, load_balancers: albs, per_tenant: (tenants > 0).then(|| monthly / n), items, monthly, capacity }
}

fn item(item: String, quantity: String, monthly: f64) -> CostItem {
    CostItem { item, quantity, monthly }
}

/// Instances the seed's table counts for `tenants`: 4 tasks per host, never below one.
pub fn seed_instances(tenants: u32) -> u32 {
    tenants.div_ceil(SEED_TASKS_PER_INSTANCE).max(1)
}

/// Notes on where the table departs from the seed's assumptions, to print under it.
pub fn notes(platform: &Platform, rows: &[CostRow]) -> Vec<String> {
    let mut out = Vec::new();
    let packing = platform.packing();
    let per = packing.tasks_per_instance;
    if per != SEED_TASKS_PER_INSTANCE {
        let binding: Vec<&str> = packing.binding.iter().map(|b| b.label()).collect();
        let limits: Vec<String> = packing.limits.iter().map(|l| format!("{} {}", l.kind.label(), l.tasks)).collect();
        out.push(format!(
            "The seed's \"4 tasks per host\" does not fit: a {} holds {per} tenant tasks of {} CPU units and {} MiB ({}; {} binds), so from {} tenants on it needs more instances than the seed counts.",
            platform.instance_type,
            platform.task.cpu,
            platform.task.memory_mib,
            limits.join(", "),
            binding.join(" and "),
            per + 1
        ));
    }
    if let Some(first) = rows.iter().find(|r| !r.capacity.fits_asg) {
        out.push(format!(
            "From {} tenants on, the Auto Scaling group's max size {} (at most {} tasks) is too small: the table prices the instances the tenants need, as if asg_max_size were raised (`clawform capacity --tenants {}`).",
            first.tenants, platform.asg_max_size, first.capacity.asg_max_tasks, first.tenants
        ));
    }
    if let Some(first) = rows.iter().find(|r| r.load_balancers > 1) {
        out.push(format!(
            "From {} tenants on, one load balancer is not enough (at most {} tenants each; AWS allows 100 target groups per ALB): one ALB per shard, with its public IPv4 addresses.",
            first.tenants, platform.tenants_per_load_balancer
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform() -> Platform {
        Platform::seed_for_tests()
    }

    fn monthly(row: &CostRow, prefix: &str) -> f64 {
        row.items.iter().filter(|i| i.item.starts_with(prefix)).map(|i| i.monthly).sum()
    }

    #[test]
    fn zero_tenants_cost_the_base_instance_and_fixed_parts() {
        let row = estimate(&platform(), &PriceSheet::builtin(), 0);
        assert_eq!((row.capacity.instances, row.load_balancers, row.per_tenant), (1, 1, None));
        assert_eq!(format!("{:.2}", monthly(&row, "EC2 c7i-flex.large on-demand")), "35.00");
        assert_eq!(format!("{:.2}", monthly(&row, "EC2 c7i-flex.large Spot")), "0.00");
        assert_eq!(format!("{:.2}", monthly(&row, "NAT gateway")), "32.85");
        assert_eq!(format!("{:.2}", monthly(&row, "Application Load Balancers")), "16.43");
        // NAT's Elastic IP and the ALB's two addresses.
        assert_eq!(format!("{:.2}", monthly(&row, "Public IPv4")), "10.95");
        assert_eq!(format!("{:.2}", row.monthly), "96.79");
    }

    #[test]
    fn five_hundred_tenants_need_250_instances_and_five_load_balancers() {
        let row = estimate(&platform(), &PriceSheet::builtin(), 500);
        assert_eq!((row.capacity.instances, row.capacity.on_demand, row.capacity.spot, row.load_balancers), (250, 1, 249, 5));
        // 249 Spot instances at the seed's 70% discount: 249 × 0.014385 × 730.
        assert_eq!(format!("{:.2}", monthly(&row, "EC2 c7i-flex.large Spot")), "2614.76");
        assert_eq!(format!("{:.2}", monthly(&row, "Secrets Manager")), "200.00");
        // 35.00 + 2614.76 Spot + 32.85 NAT + 22.50 NAT data + 5 × 16.425 ALB + 29.20 LCU
        // + 11 × 3.65 IPv4 + 52 GB × 0.53 logs + 0.50 ECR + 200 secrets.
        assert_eq!(format!("{:.2}", row.monthly), "3084.65");
        assert_eq!(format!("{:.2}", row.per_tenant.unwrap()), "6.17");
    }

    #[test]
    fn notes_say_where_the_seed_does_not_hold() {
        let p = platform();
        let sheet = PriceSheet::builtin();
        let rows: Vec<CostRow> = [0, 16, 50, 500].iter().map(|&n| estimate(&p, &sheet, n)).collect();
        let notes = notes(&p, &rows);
        assert_eq!(notes.len(), 3, "{notes:?}");
        assert!(notes[0].contains("holds 2 tenant tasks") && notes[0].contains("network interfaces binds"), "{}", notes[0]);
        assert!(notes[1].starts_with("From 50 tenants on, the Auto Scaling group's max size 20 (at most 40 tasks)"), "{}", notes[1]);
        assert!(notes[2].starts_with("From 500 tenants on, one load balancer is not enough"), "{}", notes[2]);
        assert_eq!(seed_instances(500), 125);
        assert_eq!(seed_instances(0), 1);
    }
}
