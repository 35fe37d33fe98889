//! Graphviz DOT for a stack's graph, optionally coloured by a [`Colouring`] (a plan's actions,
//! in `plan/colours.rs`): the graph knows which nodes to draw, never what their colours mean.
//! Output only: no layout, no Graphviz call (the CLI pipes this through `dot` for pictures).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use petgraph::visit::EdgeRef;

use super::Graph;
use crate::stack::{walk_references, Stack};
use crate::value::Reference;

/// How one node is drawn, and what the legend calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeStyle {
    /// Fill colour.
    pub fill: &'static str,
    /// Border colour.
    pub border: &'static str,
    /// Whether the border is dashed (something that goes away).
    pub dashed: bool,
    /// Its name in the legend.
    pub name: &'static str,
}

/// What colours a graph: a style per resource of the stack, resources to draw that the stack no
/// longer declares, and the legend.
pub trait Colouring {
    /// The style of the stack's resource `address`.
    fn style(&self, address: &str) -> NodeStyle;
    /// Resources drawn besides the stack's own (address, type, style): those a plan deletes.
    fn extra_nodes(&self) -> Vec<(String, String, NodeStyle)>;
    /// Every style, in the legend's order.
    fn legend(&self) -> Vec<NodeStyle>;
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

fn node(out: &mut String, id: &str, label: &str, style: Option<NodeStyle>, extra: &str) {
    let style = match style {
        Some(NodeStyle { fill, border, dashed, .. }) => {
            let dashed = if dashed { ",dashed" } else { "" };
            format!(", style = \"rounded,filled{dashed}\", fillcolor = \"{fill}\", color = \"{border}\"")
        }
        None => String::new(),
    };
    let _ = writeln!(out, "    {} [label = {}{style}{extra}];", quoted(id), quoted(label));
}

pub(super) fn render(graph: &Graph, stack: &Stack, colouring: Option<&dyn Colouring>) -> String {
    let mut out = format!("digraph {} {{\n", quoted(&stack.name));
    out.push_str("  rankdir = \"RL\";\n  compound = true;\n  fontname = \"Helvetica\";\n");
    out.push_str("  node [shape = box, style = \"rounded,filled\", fillcolor = \"white\", fontname = \"Helvetica\", fontsize = 10];\n");
    out.push_str("  edge [color = \"#555555\", arrowsize = 0.7];\n");

    let _ = writeln!(out, "  subgraph {} {{", quoted(&format!("cluster_stack_{}", stack.name)));
    let _ = writeln!(out, "    label = {};\n    style = \"rounded\";\n    color = \"#1f4e79\";", quoted(&format!("stack {}", stack.name)));
    for address in &graph.order {
        let type_name = stack.resources.get(address).map_or("", |c| c.type_name.as_str());
        node(&mut out, address, &format!("{type_name}\n{address}"), colouring.map(|c| c.style(address)), "");
    }
    for (address, type_name, style) in colouring.map(|c| c.extra_nodes()).unwrap_or_default() {
        node(&mut out, &address, &format!("{type_name}\n{address}"), Some(style), "");
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

    if let Some(colouring) = colouring {
        let legend = colouring.legend();
        out.push_str("  subgraph \"cluster_legend\" {\n    label = \"legend\";\n    style = \"rounded\";\n    color = \"#bbbbbb\";\n");
        for style in &legend {
            node(&mut out, &format!("legend_{}", style.name.replace(' ', "_")), style.name, Some(*style), ", fontsize = 9");
        }
        // Keep the legend in one column, away from the resources.
        let ids: Vec<String> = legend.iter().map(|style| quoted(&format!("legend_{}", style.name.replace(' ', "_")))).collect();
        let _ = writeln!(out, "    {} [style = \"invis\"];", ids.join(" -> "));
        out.push_str("  }\n");
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack() -> Stack {
        let mut s = Stack::new("web");
        for (address, type_name, attributes) in [
            ("vpc", "t_vpc", serde_json::json!({"cidr": "10.0.0.0/16"})),
            ("subnet", "t_subnet", serde_json::json!({"vpc_id": "${vpc.id}", "zone": "${base.outputs.zone}"})),
        ] {
            let config = serde_json::from_value(serde_json::json!({"type": type_name, "attributes": attributes})).unwrap();
            s.resources.insert(address.into(), config);
        }
        s
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
    fn names_are_escaped() {
        assert_eq!(quoted("a \"b\" \\ c\nd"), "\"a \\\"b\\\" \\\\ c\\nd\"");
    }
}
