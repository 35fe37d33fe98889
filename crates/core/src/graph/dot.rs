//! Graphviz DOT for a stack's graph, optionally coloured by a plan's actions. Output only: no
//! layout, no Graphviz call (the CLI pipes this through `dot` for pictures).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use petgraph::visit::EdgeRef;

use super::Graph;
use crate::plan::{Action, Plan};
use crate::stack::{walk_references, Stack};
use crate::value::Reference;

/// Fill and border colours of each action, and how it is named in the legend.
const ACTIONS: [(Action, &str, &str, &str); 5] = [
    (Action::Create, "#d4edda", "#2e7d32", "create"),
    (Action::Update, "#fff3cd", "#b8860b", "update in place"),
    (Action::Replace, "#e8d5f5", "#7b1fa2", "replace"),
    (Action::Delete, "#f8d7da", "#c62828", "delete"),
    (Action::NoOp, "#f2f2f2", "#9e9e9e", "no change"),
];

fn colours(action: Action) -> (&'static str, &'static str) {
    ACTIONS.iter().find(|(a, ..)| *a == action).map_or(("white", "black"), |(_, fill, border, _)| (fill, border))
}

/// A DOT string literal.
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
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

fn node(out: &mut String, id: &str, label: &str, action: Option<Action>, extra: &str) {
    let style = match action {
        Some(a) => {
            let (fill, border) = colours(a);
            let dashed = if a == Action::Delete { ",dashed" } else { "" };
            format!(", style = \"rounded,filled{dashed}\", fillcolor = \"{fill}\", color = \"{border}\"")
        }
        None => String::new(),
    };
    let _ = writeln!(out, "    {} [label = {}{style}{extra}];", quoted(id), quoted(label));
}

pub(super) fn render(graph: &Graph, stack: &Stack, plan: Option<&Plan>) -> String {
    let mut actions: BTreeMap<&str, Vec<Action>> = BTreeMap::new();
    let mut deleted: Vec<(&str, &str)> = Vec::new();
    for change in plan.map(|p| p.changes.as_slice()).unwrap_or_default() {
        if stack.resources.contains_key(base_address(&change.address)) {
            actions.entry(base_address(&change.address)).or_default().push(change.action);
        } else {
            deleted.push((&change.address, &change.type_name));
        }
    }
    let mut out = format!("digraph {} {{\n", quoted(&stack.name));
    out.push_str("  rankdir = \"RL\";\n  compound = true;\n  fontname = \"Helvetica\";\n");
    out.push_str("  node [shape = box, style = \"rounded,filled\", fillcolor = \"white\", fontname = \"Helvetica\", fontsize = 10];\n");
    out.push_str("  edge [color = \"#555555\", arrowsize = 0.7];\n");

    let _ = writeln!(out, "  subgraph {} {{", quoted(&format!("cluster_stack_{}", stack.name)));
    let _ = writeln!(out, "    label = {};\n    style = \"rounded\";\n    color = \"#1f4e79\";", quoted(&format!("stack {}", stack.name)));
    for address in &graph.order {
        let type_name = stack.resources.get(address).map_or("", |c| c.type_name.as_str());
        let action = plan.map(|_| actions.get(address.as_str()).map_or(Action::NoOp, |a| strongest(a)));
        node(&mut out, address, &format!("{type_name}\n{address}"), action, "");
    }
    for (address, type_name) in &deleted {
        node(&mut out, address, &format!("{type_name}\n{address}"), Some(Action::Delete), "");
    }
    out.push_str("  }\n");

    // Outputs of other stacks that resources read: one dashed cluster per stack.
    let mut external: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut external_edges: BTreeSet<(String, String)> = BTreeSet::new();
    for (address, config) in &stack.resources {
        let mut refs = Vec::new();
        walk_references(&config.attributes, "", &mut refs);
        for (_, r) in refs {
            if let Ok(Reference::Output { stack: other, name, .. }) = r {
                let id = format!("{other}.outputs.{name}");
                external.entry(other).or_default().insert(name);
                external_edges.insert((address.clone(), id));
            }
        }
    }
    for (other, names) in &external {
        let _ = writeln!(out, "  subgraph {} {{", quoted(&format!("cluster_outputs_{other}")));
        let _ = writeln!(out, "    label = {};\n    style = \"dashed,rounded\";\n    color = \"#777777\";", quoted(&format!("stack {other} (outputs read)")));
        for name in names {
            node(&mut out, &format!("{other}.outputs.{name}"), &format!("output\n{name}"), None, ", shape = note, fillcolor = \"#eef3f8\"");
        }
        out.push_str("  }\n");
    }

    let mut edges: Vec<(String, String)> = graph.graph.edge_references().map(|e| (graph.graph[e.target()].clone(), graph.graph[e.source()].clone())).collect();
    edges.sort();
    for (from, to) in edges {
        let _ = writeln!(out, "  {} -> {};", quoted(&from), quoted(&to));
    }
    for (from, to) in external_edges {
        let _ = writeln!(out, "  {} -> {} [style = \"dashed\"];", quoted(&from), quoted(&to));
    }

    if plan.is_some() {
        out.push_str("  subgraph \"cluster_legend\" {\n    label = \"legend\";\n    style = \"rounded\";\n    color = \"#bbbbbb\";\n");
        for (action, _, _, name) in ACTIONS {
            node(&mut out, &format!("legend_{}", name.replace(' ', "_")), name, Some(action), ", fontsize = 9");
        }
        // Keep the legend in one column, away from the resources.
        let ids: Vec<String> = ACTIONS.iter().map(|(_, _, _, name)| quoted(&format!("legend_{}", name.replace(' ', "_")))).collect();
        let _ = writeln!(out, "    {} [style = \"invis\"];", ids.join(" -> "));
        out.push_str("  }\n");
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
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
    fn plain_dot_groups_the_stack_and_the_outputs_it_reads() {
        let s = stack();
        let dot = Graph::build(&s).unwrap().to_dot(&s);
        assert!(dot.starts_with("digraph \"web\" {\n"), "{dot}");
        assert!(dot.contains("  subgraph \"cluster_stack_web\" {\n    label = \"stack web\";"), "{dot}");
        assert!(dot.contains("    \"vpc\" [label = \"t_vpc\\nvpc\"];"), "{dot}");
        assert!(dot.contains("  subgraph \"cluster_outputs_base\" {"), "{dot}");
        assert!(dot.contains("\"base.outputs.zone\" [label = \"output\\nzone\", shape = note"), "{dot}");
        assert!(dot.contains("  \"subnet\" -> \"vpc\";"), "{dot}");
        assert!(dot.contains("  \"subnet\" -> \"base.outputs.zone\" [style = \"dashed\"];"), "{dot}");
        assert!(!dot.contains("legend"), "no legend without a plan: {dot}");
        assert_eq!(dot.matches('{').count(), dot.matches('}').count(), "{dot}");
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
        let dot = Graph::build(&s).unwrap().to_dot_with_plan(&s, Some(&plan));
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
        assert_eq!(quoted("a \"b\" \\ c\nd"), "\"a \\\"b\\\" \\\\ c\\nd\"");
    }
}
