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
    /// Builds the graph. A dependency on `TYPE.NAME` means every instance of
    /// it; one on `module.NAME` means every instance inside that module.
    pub fn build(instances: &[Instance]) -> InstanceGraph {
        let mut graph = DiGraph::new();
        let mut by_resource: HashMap<&str, Vec<NodeIndex>> = HashMap::new();
        let nodes: Vec<NodeIndex> = instances
            .iter()
            .map(|i| {
                let node = graph.add_node(i.address.clone());
                by_resource
                    .entry(i.resource.as_str())
                    .or_default()
                    .push(node);
                node
            })
            .collect();
        for (instance, &from) in instances.iter().zip(&nodes) {
            for dep in &instance.depends_on {
                let mut targets: Vec<NodeIndex> =
                    by_resource.get(dep.as_str()).cloned().unwrap_or_default();
                if dep.starts_with("module.") {
                    let prefix = format!("{dep}.");
                    for (resource, nodes) in &by_resource {
                        if resource.starts_with(&prefix) {
                            targets.extend(nodes);
                        }
                    }
                }
                for to in targets {
                    if to != from {
                        graph.update_edge(from, to, ());
                    }
                }
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

fn dot_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
