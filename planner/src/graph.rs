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

/// For each instance, the indices of the instances it depends on (see
/// [`Dependencies::resolve`]), sorted, itself left out.
pub fn instance_dependencies(instances: &[Instance]) -> Vec<Vec<usize>> {
    let index = Dependencies::new(instances.iter().map(|i| i.address.as_str()));
    instances
        .iter()
        .enumerate()
        .map(|(from, instance)| {
            let mut targets: Vec<usize> = Vec::new();
            for entry in &instance.depends_on {
                index.resolve(entry, &mut targets);
            }
            targets.sort_unstable();
            targets.dedup();
            targets.retain(|&t| t != from);
            targets
        })
        .collect()
}

/// The resource address of an instance address: `file.svc["a"]` →
/// `file.svc` (module calls have no keys, so the first `[` starts the
/// instance's).
pub fn resource_of(address: &str) -> &str {
    address.find('[').map_or(address, |at| &address[..at])
}

/// A list of instance addresses, to find the ones a dependency entry
/// names: an instance address names itself, a resource address every
/// instance of it, a module address (`module.api`) everything inside.
/// Entries are kept this way in plans and state, so that depending on a
/// resource of many instances is one entry, not one per instance.
pub struct Dependencies<'a> {
    by_address: HashMap<&'a str, usize>,
    by_resource: HashMap<&'a str, Vec<usize>>,
}

impl<'a> Dependencies<'a> {
    pub fn new(addresses: impl Iterator<Item = &'a str>) -> Dependencies<'a> {
        let mut by_address = HashMap::new();
        let mut by_resource: HashMap<&str, Vec<usize>> = HashMap::new();
        for (index, address) in addresses.enumerate() {
            by_address.insert(address, index);
            by_resource
                .entry(resource_of(address))
                .or_default()
                .push(index);
        }
        Dependencies {
            by_address,
            by_resource,
        }
    }

    /// Adds the indices of the addresses `entry` names to `out`.
    pub fn resolve(&self, entry: &str, out: &mut Vec<usize>) {
        if let Some(&index) = self.by_address.get(entry) {
            out.push(index);
            return;
        }
        if let Some(found) = self.by_resource.get(entry) {
            out.extend(found);
            return;
        }
        if entry.starts_with("module.") {
            for (resource, found) in &self.by_resource {
                if crate::moves::covers(entry, resource) {
                    out.extend(found);
                }
            }
        }
    }

    /// Whether `entry` names any address of the list but `own`.
    pub fn names_other_than(&self, entry: &str, own: usize) -> bool {
        let mut found = Vec::new();
        self.resolve(entry, &mut found);
        found.iter().any(|&i| i != own)
    }
}

fn dot_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
