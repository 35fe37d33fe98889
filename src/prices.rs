//! The price and instance sheet: what each instance type holds (vCPUs, memory, network
//! interfaces) and what the platform's parts cost, read from YAML with located errors.
//!
//! `prices/us-west-2.yaml` is built in ([`PriceSheet::builtin`]); `clawform cost --prices FILE`
//! reads another with [`PriceSheet::load`].

use std::path::{Path, PathBuf};

use clawform_core::source::{Location, SourceMap};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// The built-in sheet's text.
pub const BUILTIN_SHEET: &str = include_str!("../prices/us-west-2.yaml");
/// Where the built-in sheet lives in the repository (named in output and errors).
pub const BUILTIN_SHEET_PATH: &str = "prices/us-west-2.yaml";

/// Files larger than this are refused before parsing: a sheet is a few kilobytes.
const MAX_SHEET_BYTES: usize = 1024 * 1024;

/// What one instance type holds and costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceFacts {
    /// Virtual CPUs; ECS registers 1024 CPU units for each.
    pub vcpus: u32,
    /// Installed memory, MiB.
    pub memory_mib: u32,
    /// Memory the ECS agent registers before ECS_RESERVED_MEMORY, MiB.
    pub registered_memory_mib: u32,
    /// Network interfaces the instance takes, the primary one included.
    pub network_interfaces: u32,
    /// The ENI limit with `awsvpcTrunking` on (primary and trunk interfaces included), when the
    /// type supports trunking.
    #[serde(default)]
    pub trunk_network_interfaces: Option<u32>,
    /// On-demand price, per hour.
    pub on_demand_hourly: f64,
    /// Spot price, per hour.
    pub spot_hourly: f64,
    /// Where each figure comes from.
    #[serde(default)]
    pub sources: InstanceSources,
}

/// Where the figures of an instance type come from, shown next to them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceSources {
    /// Source of `vcpus` (and of the CPU units per vCPU).
    #[serde(default)]
    pub vcpus: String,
    /// Source of `registered_memory_mib`.
    #[serde(default)]
    pub registered_memory_mib: String,
    /// Source of `network_interfaces`.
    #[serde(default)]
    pub network_interfaces: String,
    /// Source of `trunk_network_interfaces`.
    #[serde(default)]
    pub trunk_network_interfaces: String,
    /// Source of the prices.
    #[serde(default)]
    pub prices: String,
}

/// Unit prices of everything but instances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    /// NAT gateway, per hour.
    pub nat_gateway_hourly: f64,
    /// NAT gateway, per GB processed.
    pub nat_gateway_per_gb: f64,
    /// Application Load Balancer, per hour.
    pub alb_hourly: f64,
    /// Application Load Balancer, per LCU-hour.
    pub alb_lcu_hourly: f64,
    /// CloudWatch Logs ingestion, per GB.
    pub logs_ingestion_per_gb: f64,
    /// CloudWatch Logs storage, per GB-month.
    pub logs_storage_per_gb_month: f64,
    /// ECR storage, per GB-month.
    pub ecr_storage_per_gb_month: f64,
    /// Secrets Manager, per secret-month.
    pub secret_per_month: f64,
    /// Public IPv4 address, per hour.
    pub public_ipv4_hourly: f64,
}

/// Usage assumptions for the metered parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Usage {
    /// Images stored in ECR, GB.
    pub ecr_storage_gb: f64,
    /// Logs ingested a month with no tenant, GB.
    pub logs_gb_base: f64,
    /// Logs ingested a month per tenant, GB.
    pub logs_gb_per_tenant: f64,
    /// Data through the NAT gateway a month per tenant, GB.
    pub nat_gb_per_tenant: f64,
    /// Average LCUs per tenant.
    pub alb_lcu_per_tenant: f64,
    /// Public IPv4 addresses that do not grow with tenants (the NAT gateway's).
    pub public_ipv4_fixed: u32,
    /// Public IPv4 addresses per load balancer.
    pub public_ipv4_per_alb: u32,
}

/// A price and instance sheet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping with `region`, `instances`, `prices` and `usage`")]
pub struct PriceSheet {
    /// The region the prices are for.
    pub region: String,
    /// The currency of every price.
    pub currency: String,
    /// Hours in a month.
    pub hours_per_month: f64,
    /// Instance types by name.
    pub instances: IndexMap<String, InstanceFacts>,
    /// Unit prices.
    pub prices: Prices,
    /// Usage assumptions.
    pub usage: Usage,
    /// The file the sheet came from (set by the loader).
    #[serde(skip)]
    pub file: Option<PathBuf>,
}

/// A sheet that could not be read or is wrong, with where.
#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    /// The file could not be read.
    #[error("cannot read price sheet {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The sheet is malformed or has a bad value.
    #[error("{location}: {message}")]
    Invalid {
        /// Where.
        location: Location,
        /// What is wrong and what was expected.
        message: String,
    },
}

impl PriceSheet {
    /// The built-in sheet (`prices/us-west-2.yaml`).
    pub fn builtin() -> PriceSheet {
        PriceSheet::parse(BUILTIN_SHEET, Some(Path::new(BUILTIN_SHEET_PATH))).expect("the built-in price sheet is checked by a unit test")
    }

    /// Reads a sheet from `path`.
    pub fn load(path: &Path) -> Result<PriceSheet, SheetError> {
        let text = std::fs::read_to_string(path).map_err(|source| SheetError::Io { path: path.display().to_string(), source })?;
        PriceSheet::parse(&text, Some(path))
    }

    /// Parses and checks sheet text; `file` only names it in errors.
    pub fn parse(text: &str, file: Option<&Path>) -> Result<PriceSheet, SheetError> {
        let at = |line: usize, column: usize, message: String| SheetError::Invalid {
            location: Location { file: file.map(Path::to_path_buf), line, column },
            message,
        };
        if text.len() > MAX_SHEET_BYTES {
            return Err(at(1, 1, format!("price sheet is {} bytes; expected at most {MAX_SHEET_BYTES}", text.len())));
        }
        let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            at(line, column, format!("invalid YAML: {}", strip_location(&e.to_string())))
        })?;
        if value.is_null() {
            return Err(at(1, 1, "the price sheet is empty; expected a mapping with `region`, `instances`, `prices` and `usage`".into()));
        }
        let source = SourceMap::build(text, file);
        let mut sheet: PriceSheet = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            let message = strip_location(&e.inner().to_string());
            let location = if message.starts_with("unknown field") { source.key(&unknown_field_path(&path, &message)) } else { source.value(&path) };
            SheetError::Invalid { location, message }
        })?;
        sheet.file = file.map(Path::to_path_buf);
        let problems = sheet.problems();
        if let Some((path, message)) = problems.into_iter().next() {
            return Err(SheetError::Invalid { location: source.value(&path), message });
        }
        Ok(sheet)
    }

    /// The instance type `name`, or an error listing the known ones.
    pub fn instance(&self, name: &str) -> Result<&InstanceFacts, String> {
        self.instances.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.instances.keys().map(String::as_str).collect();
            format!("instance type `{name}` is not in the price sheet {}; it knows: {}", self.name(), known.join(", "))
        })
    }

    /// The sheet's file name for output (`prices/us-west-2.yaml` for the built-in one).
    pub fn name(&self) -> String {
        self.file.as_ref().map_or_else(|| "<price sheet>".to_string(), |f| f.display().to_string())
    }

    /// Values no AWS price or instance can have, with their paths.
    fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut money = |path: String, v: f64| {
            if !v.is_finite() || v < 0.0 {
                out.push((path, format!("`{v}` is not a price or amount; expected a number at least 0")));
            }
        };
        for (name, i) in &self.instances {
            money(format!("instances.{name}.on_demand_hourly"), i.on_demand_hourly);
            money(format!("instances.{name}.spot_hourly"), i.spot_hourly);
        }
        let p = &self.prices;
        for (field, v) in [
            ("nat_gateway_hourly", p.nat_gateway_hourly),
            ("nat_gateway_per_gb", p.nat_gateway_per_gb),
            ("alb_hourly", p.alb_hourly),
            ("alb_lcu_hourly", p.alb_lcu_hourly),
            ("logs_ingestion_per_gb", p.logs_ingestion_per_gb),
            ("logs_storage_per_gb_month", p.logs_storage_per_gb_month),
            ("ecr_storage_per_gb_month", p.ecr_storage_per_gb_month),
            ("secret_per_month", p.secret_per_month),
            ("public_ipv4_hourly", p.public_ipv4_hourly),
        ] {
            money(format!("prices.{field}"), v);
        }
        let u = &self.usage;
        for (field, v) in [
            ("ecr_storage_gb", u.ecr_storage_gb),
            ("logs_gb_base", u.logs_gb_base),
            ("logs_gb_per_tenant", u.logs_gb_per_tenant),
            ("nat_gb_per_tenant", u.nat_gb_per_tenant),
            ("alb_lcu_per_tenant", u.alb_lcu_per_tenant),
        ] {
            money(format!("usage.{field}"), v);
        }
        if !(self.hours_per_month.is_finite() && self.hours_per_month > 0.0 && self.hours_per_month <= 744.0) {
            out.push((
                "hours_per_month".into(),
                format!("`{}` hours is not a month; expected a number above 0 and at most 744 (AWS uses 730)", self.hours_per_month),
            ));
        }
        for (name, i) in &self.instances {
            let field = |f: &str| format!("instances.{name}.{f}");
            if i.vcpus == 0 {
                out.push((field("vcpus"), "an instance has at least 1 vCPU".into()));
            }
            if i.memory_mib == 0 {
                out.push((field("memory_mib"), "an instance has memory; expected MiB above 0".into()));
            }
            if i.registered_memory_mib > i.memory_mib {
                out.push((
                    field("registered_memory_mib"),
                    format!(
                        "{} MiB registered is more than the {} MiB installed; the ECS agent registers less than installed",
                        i.registered_memory_mib, i.memory_mib
                    ),
                ));
            }
            if i.network_interfaces == 0 {
                out.push((field("network_interfaces"), "every instance has its primary network interface; expected at least 1".into()));
            }
            if let Some(t) = i.trunk_network_interfaces {
                if t < 2 {
                    out.push((field("trunk_network_interfaces"), format!("{t} cannot hold the primary and the trunk interface; expected at least 2")));
                }
            }
        }
        out
    }
}

/// Points an unknown field's path at its key (older serde_path_to_error stopped at the parent).
fn unknown_field_path(path: &str, message: &str) -> String {
    let field = message.split('`').nth(1).unwrap_or("");
    if field.is_empty() || path == field || path.ends_with(&format!(".{field}")) {
        return path.to_string();
    }
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(pos) => message[..pos].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_sheet_parses_with_the_seed_prices() {
        let sheet = PriceSheet::parse(BUILTIN_SHEET, None).unwrap();
        let c7i = sheet.instance("c7i-flex.large").unwrap();
        assert_eq!((c7i.vcpus, c7i.memory_mib, c7i.network_interfaces, c7i.trunk_network_interfaces), (2, 4096, 3, Some(12)));
        assert!(c7i.registered_memory_mib < 4096);
        // The seed's ~$35 on-demand, ~$32 NAT, ~$16 ALB a month.
        assert_eq!(format!("{:.2}", c7i.on_demand_hourly * sheet.hours_per_month), "35.00");
        assert_eq!(format!("{:.2}", sheet.prices.nat_gateway_hourly * sheet.hours_per_month), "32.85");
        assert_eq!(format!("{:.2}", sheet.prices.alb_hourly * sheet.hours_per_month), "16.43");
        // Spot at the seed's ~70% discount.
        assert!((c7i.spot_hourly / c7i.on_demand_hourly - 0.3).abs() < 1e-9);
    }

    fn error_of(text: &str) -> String {
        PriceSheet::parse(text, Some(Path::new("p.yaml"))).unwrap_err().to_string()
    }

    #[test]
    fn a_wrong_type_is_located_at_its_value() {
        let text = BUILTIN_SHEET.replace("nat_gateway_hourly: 0.045", "nat_gateway_hourly: cheap");
        let line = text.lines().position(|l| l.contains("nat_gateway_hourly")).unwrap() + 1;
        let e = error_of(&text);
        assert!(e.starts_with(&format!("p.yaml:{line}:23: ")), "{e}");
        assert!(e.contains("invalid type: string \"cheap\", expected f64"), "{e}");
    }

    #[test]
    fn a_negative_price_is_located_and_refused() {
        let text = BUILTIN_SHEET.replace("secret_per_month: 0.40", "secret_per_month: -1");
        let line = text.lines().position(|l| l.contains("secret_per_month")).unwrap() + 1;
        let e = error_of(&text);
        assert_eq!(e, format!("p.yaml:{line}:21: `-1` is not a price or amount; expected a number at least 0"));
    }

    #[test]
    fn an_unknown_field_is_located_at_its_key() {
        let text = BUILTIN_SHEET.replace("  alb_hourly: 0.0225", "  alb_hourly: 0.0225\n  alb_daily: 1");
        let line = text.lines().position(|l| l.contains("alb_daily")).unwrap() + 1;
        let e = error_of(&text);
        assert!(e.starts_with(&format!("p.yaml:{line}:3: unknown field `alb_daily`")), "{e}");
    }

    #[test]
    fn registered_memory_above_installed_is_refused_where_written() {
        let text = BUILTIN_SHEET.replace("registered_memory_mib: 3992", "registered_memory_mib: 5000");
        let line = text.lines().position(|l| l.contains("registered_memory_mib: 5000")).unwrap() + 1;
        let e = error_of(&text);
        assert!(e.starts_with(&format!("p.yaml:{line}:28: 5000 MiB registered")), "{e}");
    }

    #[test]
    fn malformed_yaml_and_empty_files_are_located() {
        assert!(error_of("region: [us-west-2\n").starts_with("p.yaml:2:1: invalid YAML"), "{}", error_of("region: [us-west-2\n"));
        assert_eq!(error_of(""), "p.yaml:1:1: the price sheet is empty; expected a mapping with `region`, `instances`, `prices` and `usage`");
        assert!(error_of("region: us-west-2\n").contains("missing field"), "{}", error_of("region: us-west-2\n"));
    }

    #[test]
    fn unknown_instance_type_names_the_known_ones() {
        let sheet = PriceSheet::builtin();
        assert_eq!(sheet.instance("m5.huge").unwrap_err(), "instance type `m5.huge` is not in the price sheet prices/us-west-2.yaml; it knows: c7i-flex.large");
    }
}
