//! The apply's steps and the order between them, knowing nothing of
//! executors or state: a change becomes up to three steps (clean up what
//! an interrupted replacement left, up, down), each waiting for the steps
//! it must follow. The walk (`walk.rs`) runs them in that order.

use super::walk::Graph;
use imm_planner::graph::Dependencies;
use imm_planner::plan::{Action, Change};
use imm_planner::state::ResourceRecord;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Destroy the objects an interrupted replacement left behind.
    Cleanup,
    Up,
    Down,
}

/// One step: what it does to which change of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Step {
    /// The index of its change in the plan.
    pub(super) change: usize,
    pub(super) kind: Kind,
}

/// The steps of the plan and the order between them.
pub(super) fn steps(
    changes: &[Change],
    original: &HashMap<String, ResourceRecord>,
) -> (Vec<Step>, Graph) {
    let mut steps = Vec::new();
    let mut up: HashMap<&str, usize> = HashMap::new();
    let mut down: HashMap<&str, usize> = HashMap::new();
    let mut cleanup: HashMap<&str, usize> = HashMap::new();
    let add = |steps: &mut Vec<Step>, change: usize, kind: Kind| {
        steps.push(Step { change, kind });
        steps.len() - 1
    };
    for (i, change) in changes.iter().enumerate() {
        let address = change.address.as_str();
        if change.deposed > 0 {
            cleanup.insert(address, add(&mut steps, i, Kind::Cleanup));
        }
        if matches!(
            change.action,
            Action::Create | Action::Replace | Action::Reconfigure
        ) {
            up.insert(address, add(&mut steps, i, Kind::Up));
        }
        if matches!(change.action, Action::Replace | Action::Destroy) {
            down.insert(address, add(&mut steps, i, Kind::Down));
        }
    }
    let index = Dependencies::new(changes.iter().map(|c| c.address.as_str()));
    let mut found = Vec::new();
    let mut edges: Vec<(usize, usize)> = Vec::new();
    for (own, change) in changes.iter().enumerate() {
        let address = change.address.as_str();
        if let Some(&u) = up.get(address) {
            edges.extend(cleanup.get(address).map(|&c| (c, u)));
            found.clear();
            for entry in &change.depends_on {
                index.resolve(entry, &mut found);
            }
            for &dep in found.iter().filter(|&&d| d != own) {
                edges.extend(up.get(changes[dep].address.as_str()).map(|&d| (d, u)));
            }
        }
        if let Some(&d) = down.get(address) {
            edges.extend(up.get(address).map(|&u| (u, d)));
            edges.extend(cleanup.get(address).map(|&c| (c, d)));
        }
    }
    // The old object goes after everything that used it has moved on.
    for record in original.values() {
        let user = record.address.as_str();
        found.clear();
        for entry in &record.dependencies {
            index.resolve(entry, &mut found);
        }
        for &used in &found {
            let used = changes[used].address.as_str();
            let Some(&d) = down.get(used) else {
                continue;
            };
            if used == user {
                continue;
            }
            let last_of_user = down.get(user).or_else(|| up.get(user));
            edges.extend(last_of_user.map(|&s| (s, d)));
        }
    }
    let graph = Graph::new(steps.len(), edges);
    (steps, graph)
}

pub(super) fn step_name(kind: Kind, action: Action) -> &'static str {
    match (kind, action) {
        (Kind::Cleanup, _) => "removing a leftover of an interrupted replacement",
        (Kind::Up, Action::Create) => "create",
        (Kind::Up, Action::Replace) => "create replacement",
        (Kind::Up, _) => "reconfigure",
        (Kind::Down, Action::Replace) => "destroy replaced",
        (Kind::Down, _) => "destroy",
    }
}
