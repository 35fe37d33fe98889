//! A plan's actions as graph colours: what `clawform graph --with-plan` draws. The graph module
//! knows only [`Colouring`]; this is where a plan gives it meaning.

use std::collections::BTreeMap;

use super::{Action, Plan};
use crate::graph::{Colouring, NodeStyle};
use crate::stack::Stack;

/// Fill and border colours of each action, and how it is named in the legend.
const ACTIONS: [(Action, NodeStyle); 5] = [
    (Action::Create, NodeStyle { fill: "#d4edda", border: "#2e7d32", dashed: false, name: "create" }),
    (Action::Update, NodeStyle { fill: "#fff3cd", border: "#b8860b", dashed: false, name: "update in place" }),
    (Action::Replace, NodeStyle { fill: "#e8d5f5", border: "#7b1fa2", dashed: false, name: "replace" }),
    (Action::Delete, NodeStyle { fill: "#f8d7da", border: "#c62828", dashed: true, name: "delete" }),
    (Action::NoOp, NodeStyle { fill: "#f2f2f2", border: "#9e9e9e", dashed: false, name: "no change" }),
];

fn style_of(action: Action) -> NodeStyle {
    ACTIONS.iter().find(|(a, _)| *a == action).map(|(_, s)| *s).expect("every action has a style")
}

/// The address a planned change belongs to in the stack: `web[2]` belongs to `web`.
fn base_address(address: &str) -> &str {
    address.split_once('[').map_or(address, |(base, _)| base)
}

/// The strongest of several actions (instances of one resource planned differently).
fn strongest(actions: &[Action]) -> Action {
    for a in [Action::Replace, Action::Delete, Action::Create, Action::Update] {
        if actions.contains(&a) {
            return a;
        }
    }
    Action::NoOp
}

/// A plan's actions, per resource of the stack it was made for.
pub struct PlanColours {
    actions: BTreeMap<String, Vec<Action>>,
    deleted: Vec<(String, String)>,
}

impl PlanColours {
    /// The colours of `plan`'s actions on `stack`'s resources; what the plan deletes and the stack
    /// no longer declares is drawn besides them.
    pub fn new(plan: &Plan, stack: &Stack) -> PlanColours {
        let mut actions: BTreeMap<String, Vec<Action>> = BTreeMap::new();
        let mut deleted = Vec::new();
        for change in &plan.changes {
            let base = base_address(&change.address);
            if stack.resources.contains_key(base) {
                actions.entry(base.to_string()).or_default().push(change.action);
            } else {
                deleted.push((change.address.clone(), change.type_name.clone()));
            }
        }
        PlanColours { actions, deleted }
    }
}

impl Colouring for PlanColours {
    fn style(&self, address: &str) -> NodeStyle {
        style_of(self.actions.get(address).map_or(Action::NoOp, |a| strongest(a)))
    }

    fn extra_nodes(&self) -> Vec<(String, String, NodeStyle)> {
        self.deleted.iter().map(|(address, type_name)| (address.clone(), type_name.clone(), style_of(Action::Delete))).collect()
    }

    fn legend(&self) -> Vec<NodeStyle> {
        ACTIONS.iter().map(|(_, s)| *s).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Graph;
    use crate::plan::ResourceChange;
    use crate::schema::Registry;

    fn stack() -> Stack {
        let mut s = Stack::new("web");
        for (address, type_name, attributes) in [
            ("vpc", "t_vpc", serde_json::json!({"cidr": "10.0.0.0/16"})),
            ("subnet", "t_subnet", serde_json::json!({"vpc_id": "${vpc.id}", "zone": "${base.outputs.zone}"})),
            ("sg", "t_sg", serde_json::json!({"vpc_id": "${vpc.id}", "name": "a \"quoted\" name"})),
        ] {
            let config = serde_json::from_value(serde_json::json!({"type": type_name, "attributes": attributes})).unwrap();
            s.resources.insert(address.into(), config);
        }
        s
    }

    fn change(address: &str, type_name: &str, action: Action) -> ResourceChange {
        // From JSON, as a saved plan is read: fields added to changes later keep this test valid.
        serde_json::from_value(serde_json::json!({"address": address, "type": type_name, "action": action})).unwrap()
    }

    #[test]
    fn a_plan_colours_each_action_and_draws_deletes() {
        let s = stack();
        let mut plan = crate::plan::plan(&Stack::new("web"), &Registry::default(), None, Default::default()).unwrap();
        plan.changes = vec![
            change("vpc", "t_vpc", Action::NoOp),
            change("subnet", "t_subnet", Action::Create),
            change("sg", "t_sg", Action::Update),
            change("old", "t_sg", Action::Delete),
        ];
        let dot = Graph::build(&s).unwrap().to_dot_coloured(&s, &PlanColours::new(&plan, &s));
        assert!(dot.contains("\"subnet\" [label = \"t_subnet\\nsubnet\", style = \"rounded,filled\", fillcolor = \"#d4edda\", color = \"#2e7d32\"];"), "{dot}");
        assert!(dot.contains("\"sg\" [label = \"t_sg\\nsg\", style = \"rounded,filled\", fillcolor = \"#fff3cd\""), "{dot}");
        assert!(dot.contains("\"vpc\" [label = \"t_vpc\\nvpc\", style = \"rounded,filled\", fillcolor = \"#f2f2f2\""), "{dot}");
        assert!(dot.contains("\"old\" [label = \"t_sg\\nold\", style = \"rounded,filled,dashed\", fillcolor = \"#f8d7da\", color = \"#c62828\"];"), "{dot}");
        assert!(dot.contains("subgraph \"cluster_legend\""), "{dot}");
        for name in ["create", "update in place", "replace", "delete", "no change"] {
            assert!(dot.contains(&format!("[label = \"{name}\", style")), "legend lacks {name}: {dot}");
        }
    }

    #[test]
    fn instances_take_the_strongest_action_and_names_are_escaped() {
        assert_eq!(strongest(&[Action::NoOp, Action::Update, Action::Create]), Action::Create);
        assert_eq!(strongest(&[Action::Update, Action::Replace]), Action::Replace);
        assert_eq!(strongest(&[]), Action::NoOp);
        assert_eq!(base_address("web[2]"), "web");
    }
}
