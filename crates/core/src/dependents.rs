//! Cross-stack safety: what other stacks' resources use something a plan deletes or replaces.
//! A tenant's listener rule lives on the base stack's listener; deleting that listener (fewer
//! load balancer shards, a replacement, `destroy base`) would orphan the rule and leave the
//! tenant's state describing something gone. Such plans are refused before any AWS call.
//!
//! Another stack can only use a resource through the outputs of its stack
//! (`${base.outputs.listener_arns[…]}`): so a removed resource counts as used only when its id
//! or ARN is among the values its stack's outputs hold, and another stack's resource holds that
//! same value. An equal string elsewhere (a repository named like a tag value) is no use.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::plan::{Action, Plan};
use crate::state::State;

mod scan;
pub use scan::UsageIndex;

/// A resource of another stack that uses one the plan removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependent {
    /// The address, in the planned stack, of the resource removed.
    pub removed: String,
    /// The other stack.
    pub stack: String,
    /// The resource of the other stack that refers to it.
    pub address: String,
}

/// Resources of `others` whose attributes hold the id or ARN of a resource `plan` deletes or
/// replaces. Identifiers are matched whole, so a short value cannot match by accident.
pub fn users_of_removed(plan: &Plan, others: &[State]) -> Vec<Dependent> {
    let removed = removed_ids(plan);
    let mut out = Vec::new();
    if removed.is_empty() {
        return out;
    }
    for state in others.iter().filter(|s| s.stack != plan.stack) {
        for resource in &state.resources {
            let mut found = Vec::new();
            strings_in(&resource.attributes, &mut |s| {
                if let Some(address) = removed.get(s) {
                    found.push(address.clone());
                }
            });
            found.sort();
            found.dedup();
            out.extend(found.into_iter().map(|removed| Dependent { removed, stack: state.stack.clone(), address: resource.address.clone() }));
        }
    }
    out
}

/// Where each identifier of many states is used, built once and asked about many plans (a
/// rollout plans every tenant: [`users_of_removed`] over every state for each plan would be
/// quadratic). Answers as [`users_of_removed`] does.
#[derive(Debug, Default)]
pub struct Usages {
    stacks: Vec<String>,
    addresses: Vec<(usize, String)>,
    by_value: std::collections::HashMap<String, Vec<usize>>,
}

impl Usages {
    /// Adds the identifiers `state`'s resources hold.
    pub fn add(&mut self, state: &State) {
        let stack = self.stacks.len();
        self.stacks.push(state.stack.clone());
        for resource in &state.resources {
            let at = self.addresses.len();
            self.addresses.push((stack, resource.address.clone()));
            strings_in(&resource.attributes, &mut |s| {
                if s.len() >= 8 {
                    let users = self.by_value.entry(s.to_string()).or_default();
                    if users.last() != Some(&at) {
                        users.push(at);
                    }
                }
            });
        }
    }

    /// Resources of the other stacks added whose attributes hold the id or ARN of a resource
    /// `plan` deletes or replaces.
    pub fn users_of_removed(&self, plan: &Plan) -> Vec<Dependent> {
        let mut found: Vec<(usize, String)> = Vec::new();
        for (value, removed) in removed_ids(plan) {
            for &at in self.by_value.get(&value).into_iter().flatten() {
                if self.stacks[self.addresses[at].0] != plan.stack {
                    found.push((at, removed.clone()));
                }
            }
        }
        found.sort();
        found.dedup();
        found
            .into_iter()
            .map(|(at, removed)| Dependent { removed, stack: self.stacks[self.addresses[at].0].clone(), address: self.addresses[at].1.clone() })
            .collect()
    }
}

/// The ids and ARNs (8 characters or more) of what `plan` deletes or replaces, with its
/// address: those the stack's outputs (as state holds them) give to other stacks.
fn removed_ids(plan: &Plan) -> BTreeMap<String, String> {
    let mut exported = std::collections::HashSet::new();
    for change in plan.output_changes.values() {
        if let Some(before) = &change.before {
            strings_in(before, &mut |s| {
                exported.insert(s.to_string());
            });
        }
    }
    let mut removed: BTreeMap<String, String> = BTreeMap::new();
    for change in &plan.changes {
        if !matches!(change.action, Action::Delete | Action::Replace) {
            continue;
        }
        let Some(before) = &change.before else { continue };
        for key in ["id", "arn"] {
            if let Some(value) = before.get(key).and_then(Json::as_str) {
                if value.len() >= 8 && exported.contains(value) {
                    removed.insert(value.to_string(), change.address.clone());
                }
            }
        }
        if let Some(id) = &change.prior_id {
            if id.len() >= 8 && exported.contains(id) {
                removed.insert(id.clone(), change.address.clone());
            }
        }
    }
    removed
}

fn strings_in(value: &Json, f: &mut impl FnMut(&str)) {
    match value {
        Json::String(s) => f(s),
        Json::Array(items) => items.iter().for_each(|v| strings_in(v, f)),
        Json::Object(map) => map.values().for_each(|v| strings_in(v, f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ResourceChange;
    use crate::state::StateResource;
    use serde_json::json;

    fn change(address: &str, action: Action, arn: &str) -> ResourceChange {
        ResourceChange {
            address: address.into(),
            type_name: "aws_lb_listener".into(),
            action,
            before: Some(json!({"arn": arn, "port": 80})),
            after: None,
            after_unknown: vec![],
            changed: vec![],
            replace_because: vec![],
            sensitive: vec![],
            computed: vec![],
            config: None,
            prior_id: Some(arn.into()),
            create_before_destroy: false,
            deposed: false,
        }
    }

    #[test]
    fn a_removed_listener_used_by_another_stack_is_found() {
        let mut plan = crate::plan::plan_destroy(&State::new("base"), &crate::schema::Registry::default());
        plan.changes = vec![
            change("http[1]", Action::Delete, "arn:aws:elasticloadbalancing:listener/app/b/1"),
            change("http[0]", Action::NoOp, "arn:aws:elasticloadbalancing:listener/app/a/0"),
        ];
        plan.output_changes.insert(
            "listener_arns".into(),
            crate::plan::OutputChange {
                before: Some(json!(["arn:aws:elasticloadbalancing:listener/app/a/0", "arn:aws:elasticloadbalancing:listener/app/b/1"])),
                after: None,
                after_unknown: false,
            },
        );
        let mut tenant = State::new("tenant-a");
        tenant.resources.push(StateResource {
            address: "listener_rule".into(),
            type_name: "aws_lb_listener_rule".into(),
            id: "r1xxxxxxxx".into(),
            attributes: json!({"listener_arn": "arn:aws:elasticloadbalancing:listener/app/b/1"}),
            dependencies: vec![],
        });
        let mut other = State::new("tenant-b");
        other.resources.push(StateResource {
            address: "listener_rule".into(),
            type_name: "aws_lb_listener_rule".into(),
            id: "r2xxxxxxxx".into(),
            attributes: json!({"listener_arn": "arn:aws:elasticloadbalancing:listener/app/a/0", "port": 80}),
            dependencies: vec![],
        });
        let mut usages = Usages::default();
        usages.add(&tenant);
        usages.add(&other);
        assert_eq!(
            usages.users_of_removed(&plan),
            vec![Dependent { removed: "http[1]".into(), stack: "tenant-a".into(), address: "listener_rule".into() }],
            "the index answers the same"
        );
        let found = users_of_removed(&plan, &[tenant, other]);
        assert_eq!(found, vec![Dependent { removed: "http[1]".into(), stack: "tenant-a".into(), address: "listener_rule".into() }]);
    }

    #[test]
    fn an_equal_string_is_no_use_unless_the_stack_exports_it() {
        // The ECR lifecycle policy's id is the repository name, `openclaw`-like; tenants carry the
        // same text as a tag value and a container name. No output gives it away: no user.
        let mut plan = crate::plan::plan_destroy(&State::new("base"), &crate::schema::Registry::default());
        plan.changes = vec![change("repository_lifecycle", Action::Delete, "openclaw-platform")];
        plan.output_changes
            .insert("cluster_name".into(), crate::plan::OutputChange { before: Some(json!("openclaw-cluster")), after: None, after_unknown: false });
        let mut tenant = State::new("tenant-a");
        tenant.resources.push(StateResource {
            address: "task".into(),
            type_name: "aws_ecs_task_definition".into(),
            id: "arn:aws:ecs:task-definition/t:1".into(),
            attributes: json!({"tags": {"Project": "openclaw-platform"}, "container_name": "openclaw-platform"}),
            dependencies: vec![],
        });
        assert_eq!(users_of_removed(&plan, std::slice::from_ref(&tenant)), vec![]);
        let mut usages = Usages::default();
        usages.add(&tenant);
        assert_eq!(usages.users_of_removed(&plan), vec![]);
        // Exported, the same value is a use.
        plan.output_changes
            .insert("repository".into(), crate::plan::OutputChange { before: Some(json!("openclaw-platform")), after: None, after_unknown: false });
        assert_eq!(users_of_removed(&plan, &[tenant]).len(), 1);
    }
}
