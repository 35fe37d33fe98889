//! Checks across resources that AWS would otherwise refuse halfway through an apply: subnets
//! outside their VPC or overlapping each other, availability zones of another region, load
//! balancers in fewer than two zones.

use std::collections::BTreeMap;
use std::sync::Arc;

use clawform_core::resolve::Scope;
use clawform_core::{Reference, Registry, ResourceConfig, Template};
use indexmap::IndexMap;
use ipnet::Ipv4Net;
use serde_json::Value as Json;

/// Adds this provider's checks to `registry`.
/// The stack's resources by address, as the checks see them.
type Resources = IndexMap<String, ResourceConfig>;

pub(crate) fn register(registry: &mut Registry) {
    registry.add_stack_check(Arc::new(subnets_fit_their_vpc));
    registry.add_stack_check(Arc::new(zones_are_of_one_region));
    registry.add_stack_check(Arc::new(load_balancers_span_two_zones));
}

/// The value of an attribute when it is known before apply (a literal, or made of parameters).
fn known(resources: &Resources, params: &IndexMap<String, Json>, address: &str, attribute: &str) -> Option<Json> {
    let value = resources.get(address)?.attributes.get(attribute)?;
    let scope = Scope { params: params.clone(), ..Scope::default() };
    scope.resolve_known(value).ok().flatten()
}

fn known_str(resources: &Resources, params: &IndexMap<String, Json>, address: &str, attribute: &str) -> Option<String> {
    known(resources, params, address, attribute)?.as_str().map(|s| s.replace("$${", "${"))
}

/// The address a `${ADDRESS.id}` value points at.
fn referenced(value: &Json) -> Option<String> {
    let template = Template::parse(value.as_str()?).ok()?;
    match template.as_single_reference()? {
        Reference::Resource { address, .. } => Some(address.clone()),
        _ => None,
    }
}

fn of_type<'a>(resources: &'a Resources, type_name: &'a str) -> impl Iterator<Item = &'a String> + 'a {
    resources.iter().filter(move |(_, r)| r.type_name == type_name).map(|(a, _)| a)
}

fn subnets_fit_their_vpc(resources: &Resources, params: &IndexMap<String, Json>) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let mut by_vpc: BTreeMap<String, Vec<(String, Ipv4Net)>> = BTreeMap::new();
    for subnet in of_type(resources, "aws_subnet") {
        let Some(cidr) = known_str(resources, params, subnet, "cidr_block").and_then(|c| c.parse::<Ipv4Net>().ok()) else { continue };
        let Some(vpc) = resources[subnet].attributes.get("vpc_id").and_then(referenced) else { continue };
        if resources.get(&vpc).map(|r| r.type_name.as_str()) != Some("aws_vpc") {
            continue;
        }
        if let Some(vpc_cidr) = known_str(resources, params, &vpc, "cidr_block").and_then(|c| c.parse::<Ipv4Net>().ok()) {
            if !vpc_cidr.contains(&cidr) {
                problems.push((
                    format!("resources.{subnet}.cidr_block"),
                    format!("subnet `{subnet}` has {cidr}, which is not inside {vpc_cidr} of its VPC `{vpc}`"),
                ));
                continue;
            }
        }
        by_vpc.entry(vpc).or_default().push((subnet.clone(), cidr));
    }
    for subnets in by_vpc.values() {
        for (i, (a, net_a)) in subnets.iter().enumerate() {
            for (b, net_b) in &subnets[..i] {
                if net_a.contains(&net_b.network()) || net_b.contains(&net_a.network()) {
                    problems.push((format!("resources.{a}.cidr_block"), format!("subnet `{a}` ({net_a}) overlaps subnet `{b}` ({net_b}) in the same VPC")));
                }
            }
        }
    }
    problems
}

use clawform_core::stack::region_of_zone as region_of;

fn zones_are_of_one_region(resources: &Resources, params: &IndexMap<String, Json>) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let mut first: Option<(String, String)> = None;
    for subnet in of_type(resources, "aws_subnet") {
        let Some(zone) = known_str(resources, params, subnet, "availability_zone") else { continue };
        let path = format!("resources.{subnet}.availability_zone");
        match region_of(&zone) {
            None => problems.push((path, format!("`{zone}` is not an availability zone name; expected something like us-west-2a"))),
            Some(region) => match &first {
                None => first = Some((region.to_string(), subnet.clone())),
                Some((r, other)) if r != region => problems
                    .push((path, format!("zone `{zone}` is in region {region}, but subnet `{other}` is in {r}: a stack's subnets must be in one region"))),
                Some(_) => {}
            },
        }
    }
    problems
}

fn load_balancers_span_two_zones(resources: &Resources, params: &IndexMap<String, Json>) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    for lb in of_type(resources, "aws_lb") {
        let kind = known_str(resources, params, lb, "load_balancer_type").unwrap_or_else(|| "application".into());
        if kind != "application" {
            continue;
        }
        let Some(Json::Array(subnets)) = resources[lb].attributes.get("subnets") else { continue };
        let mut zones = Vec::new();
        let mut all_known = true;
        for s in subnets {
            match referenced(s).and_then(|a| known_str(resources, params, &a, "availability_zone")) {
                Some(z) => zones.push(z),
                None => all_known = false,
            }
        }
        zones.sort();
        zones.dedup();
        if all_known && zones.len() < 2 {
            problems.push((
                format!("resources.{lb}.subnets"),
                format!(
                    "an application load balancer needs subnets in at least two availability zones; `{lb}` has {}",
                    if zones.is_empty() { "none".to_string() } else { zones.join(", ") }
                ),
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_names_give_their_region() {
        assert_eq!(region_of("us-west-2a"), Some("us-west-2"));
        assert_eq!(region_of("us-gov-west-1b"), Some("us-gov-west-1"));
        assert_eq!(region_of("mars-1a"), None);
        assert_eq!(region_of("us-west-2"), None);
        assert_eq!(region_of("us-west-2é"), None);
        assert_eq!(region_of(""), None);
    }
}
