//! The dependency graph of a stack: an edge from each resource to every resource it references
//! or names in `depends_on`.

use std::collections::BTreeSet;

use indexmap::IndexMap;
use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::diagnostic::{Diagnostic, StackError};
use crate::stack::{walk_references, Stack};
use crate::value::Reference;

mod dot;

pub use dot::{Colouring, NodeStyle};

/// A stack's resources ordered by their dependencies.
#[derive(Debug, Clone)]
pub struct Graph {
    graph: DiGraph<String, ()>,
    index: IndexMap<String, NodeIndex>,
    order: Vec<String>,
}

impl Graph {
    /// Builds the graph; a cycle is an error that names it (`a -> b -> a`).
    pub fn build(stack: &Stack) -> Result<Graph, StackError> {
        let mut graph = DiGraph::new();
        let mut index = IndexMap::new();
        for address in stack.resources.keys() {
            index.insert(address.clone(), graph.add_node(address.clone()));
        }
        for (address, config) in &stack.resources {
            let to = index[address];
            for dep in dependencies_of(config) {
                // In a stack not yet expanded (`clawform graph`), `alb[count.index]` and
                // `alb[*]` are edges to the one node `alb`.
                // (An instance naming a sibling instance is no cycle.)
                let node = index.get(&dep).copied().or_else(|| index.get(crate::stack::source_address(&dep)).copied().filter(|n| *n != to));
                if let Some(from) = node {
                    graph.update_edge(from, to, ());
                }
            }
        }
        let order = match toposort(&graph, None) {
            Ok(order) => order.into_iter().map(|n| graph[n].clone()).collect(),
            Err(_) => return Err(StackError::Invalid(cycle_diagnostics(stack, &graph))),
        };
        Ok(Graph { graph, index, order })
    }

    /// Addresses with every resource after the ones it depends on.
    pub fn order(&self) -> &[String] {
        &self.order
    }

    /// The addresses `address` depends on directly.
    pub fn dependencies(&self, address: &str) -> Vec<String> {
        let Some(&node) = self.index.get(address) else { return vec![] };
        let mut deps: Vec<String> = self.graph.neighbors_directed(node, petgraph::Direction::Incoming).map(|n| self.graph[n].clone()).collect();
        deps.sort();
        deps
    }

    /// The graph in Graphviz DOT: the stack's resources in a cluster named after it (labelled
    /// with type and address), outputs of other stacks it reads in a dashed cluster per stack,
    /// edges from a resource to what it depends on.
    pub fn to_dot(&self, stack: &Stack) -> String {
        dot::render(self, stack, None)
    }

    /// [`Graph::to_dot`] with each resource coloured by `colouring` (a plan's actions:
    /// [`crate::plan::PlanColours`]), the extra resources it names drawn too, and a legend.
    pub fn to_dot_coloured(&self, stack: &Stack, colouring: &dyn Colouring) -> String {
        dot::render(self, stack, Some(colouring))
    }
}

/// Addresses a resource config depends on: its references to other resources and `depends_on`.
pub fn dependencies_of(config: &crate::stack::ResourceConfig) -> BTreeSet<String> {
    let mut refs = Vec::new();
    walk_references(&config.attributes, "", &mut refs);
    let mut deps: BTreeSet<String> = refs
        .into_iter()
        .filter_map(|(_, r)| match r {
            Ok(Reference::Resource { address, .. }) => Some(address),
            _ => None,
        })
        .collect();
    deps.extend(config.depends_on.iter().cloned());
    deps
}

fn cycle_diagnostics(stack: &Stack, graph: &DiGraph<String, ()>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for scc in tarjan_scc(graph) {
        let self_loop = scc.len() == 1 && graph.contains_edge(scc[0], scc[0]);
        if scc.len() < 2 && !self_loop {
            continue;
        }
        let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
        // Walk from the first member (in file order) along edges inside the component until
        // we come back: that walk is one cycle to show.
        let start = *members.iter().min_by_key(|n| stack.resources.get_index_of(&graph[**n])).expect("component is not empty");
        let mut path = vec![start];
        let mut seen = BTreeSet::from([start]);
        let mut current = start;
        loop {
            // Follow "depends on" direction: from a resource to what it references.
            let next = graph.neighbors_directed(current, petgraph::Direction::Incoming).filter(|n| members.contains(n)).min_by_key(|n| {
                if *n == start {
                    0
                } else {
                    1 + n.index()
                }
            });
            let Some(next) = next else { break };
            path.push(next);
            if next == start || !seen.insert(next) {
                break;
            }
            current = next;
        }
        let names: Vec<&str> = path.iter().map(|n| graph[*n].as_str()).collect();
        let first = names[0];
        out.push(stack.diag_value(&format!("resources.{first}"), format!("dependency cycle: {}", names.join(" -> "))));
    }
    out
}
