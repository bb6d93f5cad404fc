//! The dependency graph between resource instances, after `count` and
//! `for_each` expansion: an edge goes from an instance to each instance it
//! depends on (through a reference, a local, a module argument or
//! `depends_on`). `imm graph` renders it; the planner orders actions by it.

use imm_lang::evaluate::Instance;
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::HashMap;

pub struct InstanceGraph {
    graph: DiGraph<String, ()>,
}

impl InstanceGraph {
    /// Builds the graph (see [`instance_dependencies`]).
    pub fn build(instances: &[Instance]) -> InstanceGraph {
        let mut graph = DiGraph::new();
        let nodes: Vec<NodeIndex> = instances
            .iter()
            .map(|i| graph.add_node(i.address.clone()))
            .collect();
        for (from, deps) in instance_dependencies(instances).into_iter().enumerate() {
            for to in deps {
                graph.update_edge(nodes[from], nodes[to], ());
            }
        }
        InstanceGraph { graph }
    }

    /// `(instance, dependency)` pairs, sorted, for tests and rendering.
    pub fn edges(&self) -> Vec<(&str, &str)> {
        let mut edges: Vec<(&str, &str)> = self
            .graph
            .edge_indices()
            .filter_map(|e| self.graph.edge_endpoints(e))
            .map(|(a, b)| (self.graph[a].as_str(), self.graph[b].as_str()))
            .collect();
        edges.sort();
        edges
    }

    fn addresses(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self.graph.node_weights().map(String::as_str).collect();
        all.sort();
        all
    }

    /// Graphviz: `a -> b` reads "a depends on b", as in `terraform graph`.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph imm {\n  rankdir = \"RL\";\n  node [shape = box];\n");
        for address in self.addresses() {
            out.push_str(&format!("  {};\n", dot_quote(address)));
        }
        for (from, to) in self.edges() {
            out.push_str(&format!("  {} -> {};\n", dot_quote(from), dot_quote(to)));
        }
        out.push_str("}\n");
        out
    }

    /// Mermaid flowchart, for Markdown (pull requests, wikis).
    pub fn to_mermaid(&self) -> String {
        let addresses = self.addresses();
        let ids: HashMap<&str, usize> =
            addresses.iter().enumerate().map(|(i, a)| (*a, i)).collect();
        let mut out = String::from("flowchart RL\n");
        for (i, address) in addresses.iter().enumerate() {
            out.push_str(&format!("  n{i}[\"{}\"]\n", address.replace('"', "#quot;")));
        }
        for (from, to) in self.edges() {
            out.push_str(&format!("  n{} --> n{}\n", ids[from], ids[to]));
        }
        out
    }
}

/// For each instance, the indices of the instances it depends on. A
/// dependency on `TYPE.NAME` means every instance of it; one on
/// `module.NAME` means every instance inside that module.
pub fn instance_dependencies(instances: &[Instance]) -> Vec<Vec<usize>> {
    let mut by_resource: HashMap<&str, Vec<usize>> = HashMap::new();
    for (index, instance) in instances.iter().enumerate() {
        by_resource
            .entry(instance.resource.as_str())
            .or_default()
            .push(index);
    }
    instances
        .iter()
        .enumerate()
        .map(|(from, instance)| {
            let mut targets: Vec<usize> = Vec::new();
            for dep in &instance.depends_on {
                if let Some(found) = by_resource.get(dep.as_str()) {
                    targets.extend(found);
                }
                if dep.starts_with("module.") {
                    let prefix = format!("{dep}.");
                    for (resource, found) in &by_resource {
                        if resource.starts_with(&prefix) {
                            targets.extend(found);
                        }
                    }
                }
            }
            targets.sort_unstable();
            targets.dedup();
            targets.retain(|&t| t != from);
            targets
        })
        .collect()
}

fn dot_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
