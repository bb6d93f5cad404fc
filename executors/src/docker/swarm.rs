//! Swarm's asynchronous side, which `service.rs` and `network.rs` wait
//! for with a bound: the tasks of a removed service that the swarm still
//! holds (and with them the service's overlay network), configs, secrets
//! and networks it still refuses to let go, and nodes that are lost (down,
//! or managers the others cannot reach) before or during a rolling update.
//!
//! Facts that shape it (Docker 20.10): a removed service's tasks stay in
//! the swarm's store, desired state `remove`, until their containers have
//! stopped (seconds after the service is gone); while they do, the node
//! keeps its copy of the overlay network even though the manager already
//! accepted its removal. A task on a node that is down is never reaped
//! until the node returns, and holds nothing a manager checks. A SIGKILLed
//! manager is `unreachable` to the others at once but stays `ready` until
//! its heartbeats time out; until then the scheduler may place new tasks
//! on it.

use super::{failed, status};
use crate::ActionError;
use bollard::models::{NodeState, Reachability, Task};
use bollard::query_parameters::{InspectNetworkOptions, ListNodesOptions, ListTasksOptions};
use bollard::Docker;
use imm_lang::diagnostics::Code;
use std::time::{Duration, Instant};

/// How often the swarm is looked at while waiting.
const POLL: Duration = Duration::from_millis(500);

/// How long a destroy waits for Swarm to let go of a removed service's
/// tasks, configs, secrets and networks.
pub(super) const RELEASE_WAIT: Duration = Duration::from_secs(120);

/// How long an update waits for a node that stopped answering to be
/// declared down before it starts (Swarm's heartbeat timeout is a few
/// heartbeat periods: about 15 s with the default period of 5 s).
pub(super) const DOWN_WAIT: Duration = Duration::from_secs(60);

/// A node of the swarm as far as placing tasks goes.
#[derive(Debug, Clone)]
pub(super) struct NodeHealth {
    pub id: String,
    pub hostname: String,
    /// Swarm has declared it down (or disconnected): it places nothing
    /// there and has moved its tasks elsewhere.
    pub down: bool,
    /// A manager the other managers cannot reach: lost, though Swarm may
    /// still list it ready and place tasks on it.
    pub unreachable: bool,
}

impl NodeHealth {
    /// Lost, whether Swarm knows it yet or not.
    pub fn lost(&self) -> bool {
        self.down || self.unreachable
    }

    /// How an error names it.
    pub fn describe(&self) -> String {
        let what = match (self.down, self.unreachable) {
            (true, _) => "down",
            (false, true) => "unreachable, not yet declared down",
            _ => "ready",
        };
        format!("node {} ({}, {what})", self.hostname, short(&self.id))
    }
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// Every node of the swarm (an engine that is no manager has none to show).
pub(super) async fn nodes(docker: &Docker) -> Result<Vec<NodeHealth>, ActionError> {
    let listed = match docker.list_nodes(None::<ListNodesOptions>).await {
        Ok(listed) => listed,
        Err(e) if status(&e) == Some(503) => return Ok(Vec::new()),
        Err(e) => return Err(failed("listing the swarm's nodes", e)),
    };
    Ok(listed
        .into_iter()
        .map(|node| {
            let state = node.status.as_ref().and_then(|s| s.state);
            NodeHealth {
                id: node.id.clone().unwrap_or_default(),
                hostname: node
                    .description
                    .as_ref()
                    .and_then(|d| d.hostname.clone())
                    .unwrap_or_default(),
                down: matches!(state, Some(NodeState::DOWN | NodeState::DISCONNECTED)),
                unreachable: node.manager_status.as_ref().and_then(|m| m.reachability)
                    == Some(Reachability::UNREACHABLE),
            }
        })
        .collect())
}

/// Before an update: waits (at most [`DOWN_WAIT`], never past `deadline`)
/// until every lost node is declared down, so that the update places no
/// task on a node that will never run it. Fails naming the nodes that are
/// still only unreachable at the end of the wait.
pub(super) async fn settle_lost_nodes(
    docker: &Docker,
    service: &str,
    deadline: Instant,
) -> Result<(), ActionError> {
    let end = deadline.min(Instant::now() + DOWN_WAIT);
    loop {
        let undeclared: Vec<NodeHealth> = nodes(docker)
            .await?
            .into_iter()
            .filter(|n| n.unreachable && !n.down)
            .collect();
        if undeclared.is_empty() {
            return Ok(());
        }
        if Instant::now() > end {
            let names: Vec<String> = undeclared.iter().map(NodeHealth::describe).collect();
            return Err(ActionError::new(
                Code::SwarmUpdateFailed,
                format!(
                    "the rolling update of service {service} was not started: {} stopped answering and Swarm has not declared it down within {} s, so it could still place new tasks there",
                    names.join(", "),
                    DOWN_WAIT.as_secs()
                ),
            )
            .with_help("see `docker node ls`; bring the node back, or remove it with `docker node rm --force ID`, then apply again"));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Tasks of the new version (`force` is the spec's `force_update`, which
/// every update of imm's changes) that were given to a lost node and never
/// ran there: the update waits on them for ever.
pub(super) fn stuck_on_lost_nodes<'a>(
    tasks: &'a [Task],
    nodes: &[NodeHealth],
    force: u64,
) -> Vec<(&'a Task, NodeHealth)> {
    tasks
        .iter()
        .filter(|t| {
            t.spec.as_ref().and_then(|s| s.force_update) == Some(force)
                && t.status.as_ref().and_then(|s| s.state)
                    != Some(bollard::models::TaskState::RUNNING)
        })
        .filter_map(|t| {
            let node = nodes
                .iter()
                .find(|n| n.lost() && Some(&n.id) == t.node_id.as_ref())?;
            Some((t, node.clone()))
        })
        .collect()
}

/// How an error names a task: its slot and id.
pub(super) fn describe_task(task: &Task) -> String {
    let id = task.id.as_deref().unwrap_or_default();
    match task.slot {
        Some(slot) => format!("task {} (slot {slot})", short(id)),
        None => format!("task {}", short(id)),
    }
}

/// Every task the swarm still holds of service `id` (possibly removed
/// already), but those on nodes that are down, which hold nothing until
/// they return.
pub(super) async fn tasks_held(docker: &Docker, id: &str) -> Result<Vec<Task>, ActionError> {
    // The `service` filter resolves the service first, and it may be gone.
    let all = docker
        .list_tasks(None::<ListTasksOptions>)
        .await
        .map_err(|e| failed(&format!("listing the tasks of service {id}"), e))?;
    let mine: Vec<Task> = all
        .into_iter()
        .filter(|t| t.service_id.as_deref() == Some(id))
        .collect();
    if mine.is_empty() {
        return Ok(mine);
    }
    let down: Vec<String> = nodes(docker)
        .await?
        .into_iter()
        .filter(|n| n.down)
        .map(|n| n.id)
        .collect();
    Ok(mine
        .into_iter()
        .filter(|t| !t.node_id.as_ref().is_some_and(|n| down.contains(n)))
        .collect())
}

/// Waits until the swarm holds no task of the removed service `id`;
/// returns those still held at `deadline`.
pub(super) async fn wait_tasks_released(
    docker: &Docker,
    id: &str,
    deadline: Instant,
) -> Result<Vec<String>, ActionError> {
    loop {
        let held = tasks_held(docker, id).await?;
        if held.is_empty() || Instant::now() > deadline {
            return Ok(held.iter().map(describe_task).collect());
        }
        tokio::time::sleep(POLL).await;
    }
}

/// What a removal attempt says: done (or already gone), held by something
/// Swarm will let go of (worth another try), or failed.
pub(super) enum Removal {
    Done,
    Held(String),
}

/// Reads a removal's result: 404 is done; a config, secret or network in
/// use by a service or a task (400 or 403) is held. A network with
/// containers attached is not: those are no tasks Swarm lets go of.
pub(super) fn removal(
    result: Result<(), bollard::errors::Error>,
    what: &str,
) -> Result<Removal, ActionError> {
    match result {
        Ok(()) => Ok(Removal::Done),
        Err(e) if status(&e) == Some(404) => Ok(Removal::Done),
        Err(e) if matches!(status(&e), Some(400 | 403)) && in_use(&e) => {
            Ok(Removal::Held(super::docker_message(&e)))
        }
        Err(e) => Err(failed(&format!("removing {what}"), e)),
    }
}

fn in_use(e: &bollard::errors::Error) -> bool {
    super::docker_message(e).contains("in use by")
}

/// The error of a destroy that left something Swarm still held: what,
/// and that the next destroy removes it.
pub(super) fn still_holds(subject: &str, held: &[String]) -> ActionError {
    ActionError::new(
        Code::SwarmStillHolds,
        format!(
            "{subject}, but after {} s Swarm still holds: {}",
            RELEASE_WAIT.as_secs(),
            held.join("; ")
        ),
    )
    .with_help("state keeps it recorded: run imm destroy again once the tasks are gone (`docker service ps`, `docker node ls`), and it removes what is left")
}

/// Removes network `id`, trying again while Swarm's tasks still use it,
/// and waits until this engine's copy of it is gone too (a node keeps a
/// swarm network while a container of its own is attached).
pub(super) async fn remove_network(docker: &Docker, id: &str) -> Result<(), ActionError> {
    let deadline = Instant::now() + RELEASE_WAIT;
    let what = format!("network {id}");
    loop {
        let held = match removal(docker.remove_network(id).await, &what)? {
            Removal::Done => match docker
                .inspect_network(id, None::<InspectNetworkOptions>)
                .await
            {
                Err(e) if status(&e) == Some(404) => return Ok(()),
                Err(e) => return Err(failed(&format!("inspecting {what}"), e)),
                Ok(network) => format!(
                    "{what} is still attached to {} container(s) of this engine",
                    network.containers.map(|c| c.len()).unwrap_or(0)
                ),
            },
            Removal::Held(message) => format!("{what}: {message}"),
        };
        if Instant::now() > deadline {
            return Err(still_holds(&format!("{what} was to be removed"), &[held]));
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{TaskSpec, TaskState, TaskStatus};

    fn task(id: &str, node: &str, force: u64, state: TaskState) -> Task {
        Task {
            id: Some(id.into()),
            slot: Some(1),
            node_id: Some(node.into()),
            spec: Some(TaskSpec {
                force_update: Some(force),
                ..Default::default()
            }),
            status: Some(TaskStatus {
                state: Some(state),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn node(id: &str, down: bool, unreachable: bool) -> NodeHealth {
        NodeHealth {
            id: id.into(),
            hostname: format!("host-{id}"),
            down,
            unreachable,
        }
    }

    #[test]
    fn only_new_tasks_that_never_ran_on_a_lost_node_are_stuck() {
        let nodes = [node("n1", false, false), node("n2", true, true)];
        let tasks = [
            task("new-on-lost", "n2", 7, TaskState::ASSIGNED),
            task("new-on-live", "n1", 7, TaskState::ASSIGNED),
            task("old-on-lost", "n2", 6, TaskState::ASSIGNED),
            task("ran-on-lost", "n2", 7, TaskState::RUNNING),
        ];
        let stuck = stuck_on_lost_nodes(&tasks, &nodes, 7);
        let ids: Vec<_> = stuck.iter().map(|(t, _)| t.id.as_deref()).collect();
        assert_eq!(ids, [Some("new-on-lost")]);
        assert_eq!(stuck[0].1.describe(), "node host-n2 (n2, down)");
        assert_eq!(describe_task(stuck[0].0), "task new-on-lost (slot 1)");
    }

    #[test]
    fn an_unreachable_manager_is_lost_before_swarm_declares_it_down() {
        let suspect = node("n3", false, true);
        assert!(suspect.lost());
        assert_eq!(
            suspect.describe(),
            "node host-n3 (n3, unreachable, not yet declared down)"
        );
        assert!(!node("n1", false, false).lost());
    }
}
