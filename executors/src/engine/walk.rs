//! A generic walk of a graph of steps, as Terraform's `dag.Walker`: every
//! step starts as soon as the steps it waits for are done, at most `limit`
//! at once; a failed step skips every step after it; an interrupt (Ctrl-C)
//! starts no new step and lets running ones finish. It knows nothing of
//! resources, executors, state or the journal: what a step is, how it runs
//! and what its end means are the [`Visitor`]'s.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use tokio::sync::mpsc::UnboundedReceiver;

/// Where a step is in the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Progress {
    /// Not started: something it waits for is not done, or the walk stopped.
    Waiting,
    Running,
    Done,
    Failed,
    /// Never to start: a step it waits for failed.
    Skipped,
}

/// The order between steps: each step's dependents (what waits for it).
#[derive(Debug, Clone)]
pub(crate) struct Graph {
    dependents: Vec<Vec<usize>>,
    blockers: Vec<usize>,
}

impl Graph {
    /// `count` steps; `(before, after)`: `after` waits for `before`.
    /// Repeated edges and a step waiting for itself are ignored.
    pub(crate) fn new(count: usize, edges: impl IntoIterator<Item = (usize, usize)>) -> Graph {
        let mut edges: Vec<(usize, usize)> = edges
            .into_iter()
            .filter(|(before, after)| before != after && *before < count && *after < count)
            .collect();
        edges.sort_unstable();
        edges.dedup();
        let mut graph = Graph {
            dependents: vec![Vec::new(); count],
            blockers: vec![0; count],
        };
        for (before, after) in edges {
            graph.dependents[before].push(after);
            graph.blockers[after] += 1;
        }
        graph
    }
}

/// A step's work, run concurrently with the others.
pub(crate) type Job<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// How the visitor answers a step that may start.
pub(crate) enum Start<T> {
    Run(Job<T>),
    /// It fails without running: the steps after it are skipped.
    Failed,
}

/// How the visitor judges a step whose work ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finish {
    /// The steps waiting for it may start.
    Done,
    /// The steps after it are skipped.
    Failed,
    /// It failed for a reason its dependents do not share (its result could
    /// not be kept): they are not skipped but stay waiting, and the visitor
    /// stops the walk ([`Visitor::halted`]).
    FailedAlone,
}

/// A step's task ended without an answer (it panicked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Panicked(pub(crate) String);

/// What the walk asks of its user. Every call runs on the walk's own task,
/// one at a time, so the visitor may hold what is not `Send`.
pub(crate) trait Visitor {
    /// What a step's work returns.
    type Output: Send + 'static;
    /// What running steps send while they run (lines of their output).
    type Message;

    /// Step `step` may start: everything it waits for is done. `progress`
    /// is where every step is.
    async fn start(&mut self, step: usize, progress: &[Progress]) -> Start<Self::Output>;

    /// Step `step`'s work ended.
    async fn finish(&mut self, step: usize, ended: Result<Self::Output, Panicked>) -> Finish;

    /// Step `step` will not start because a step it waits for failed.
    fn skipped(&mut self, step: usize);

    /// Whether the walk must start no further step (checked before each).
    fn halted(&self) -> bool;

    /// The walk was interrupted: no further step starts.
    fn interrupted(&mut self);

    /// A message from a running step.
    fn message(&mut self, message: Self::Message);

    /// Makes durable what `start` and `finish` wrote since the last call,
    /// all at once, before any of the steps started since then runs
    /// (`starting`, among them those waiting for the steps that ended well
    /// since then: `ended`). `false`: it could not; the starting steps do
    /// not run, the ended ones count as failed, and the visitor stops the
    /// walk ([`Visitor::halted`]).
    async fn commit(&mut self, starting: &[usize], ended: &[usize]) -> bool {
        let _ = (starting, ended);
        true
    }
}

/// Walks `graph` with at most `limit` steps running at once (at least one)
/// until no step can start and none runs; returns where each step ended.
/// Ready steps start in index order, then each step's dependents as it
/// releases them.
pub(crate) async fn walk<V: Visitor>(
    graph: Graph,
    limit: usize,
    visitor: &mut V,
    interrupt: impl Future<Output = ()>,
    messages: &mut UnboundedReceiver<V::Message>,
) -> Vec<Progress> {
    let mut walk = Walk::new(graph);
    let mut running = tokio::task::JoinSet::new();
    let mut spawned: HashMap<tokio::task::Id, usize> = HashMap::new();
    let mut stopping = false;
    tokio::pin!(interrupt);
    // Steps that ended well since the last commit: released already, but
    // nothing waiting for them runs before the next commit.
    let mut ended: Vec<usize> = Vec::new();
    loop {
        let mut starting: Vec<(usize, Job<V::Output>)> = Vec::new();
        while !stopping && running.len() + starting.len() < limit.max(1) {
            if visitor.halted() {
                stopping = true;
                break;
            }
            let Some(step) = walk.ready.pop() else { break };
            match visitor.start(step, &walk.progress).await {
                Start::Run(job) => starting.push((step, job)),
                Start::Failed => walk.fail(step, visitor),
            }
        }
        // What ended and what starts share one commit, made before any of
        // the starting steps runs.
        let steps: Vec<usize> = starting.iter().map(|(step, _)| *step).collect();
        let anything_to_commit = !steps.is_empty() || !ended.is_empty();
        if anything_to_commit && !visitor.commit(&steps, &ended).await {
            for &step in &ended {
                walk.progress[step] = Progress::Failed;
            }
            for step in steps {
                walk.fail(step, visitor);
            }
            starting.clear();
        }
        ended.clear();
        for (step, job) in starting {
            walk.progress[step] = Progress::Running;
            let handle = running.spawn(async move { (step, job.await) });
            spawned.insert(handle.id(), step);
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            joined = running.join_next() => {
                // Every step that has ended by now, not only the first.
                let mut next = joined;
                while let Some(joined) = next {
                    let finished = match joined {
                        Ok((step, output)) => Some((step, Ok(output))),
                        Err(e) => spawned
                            .get(&e.id())
                            .map(|&step| (step, Err(Panicked(e.to_string())))),
                    };
                    if let Some((step, result)) = finished {
                        match visitor.finish(step, result).await {
                            Finish::Done => {
                                walk.done(step);
                                ended.push(step);
                            }
                            Finish::Failed => walk.fail(step, visitor),
                            Finish::FailedAlone => walk.progress[step] = Progress::Failed,
                        }
                    }
                    next = running.try_join_next();
                }
            }
            _ = &mut interrupt, if !stopping => {
                stopping = true;
                visitor.interrupted();
            }
            Some(message) = messages.recv() => visitor.message(message),
        }
    }
    walk.progress
}

/// The walk's bookkeeping: where each step is and which may start.
struct Walk {
    graph: Graph,
    progress: Vec<Progress>,
    /// Steps whose blockers are all done, the next to start last.
    ready: Vec<usize>,
}

impl Walk {
    fn new(graph: Graph) -> Walk {
        let mut ready: Vec<usize> = (0..graph.blockers.len())
            .filter(|&s| graph.blockers[s] == 0)
            .collect();
        ready.reverse();
        Walk {
            progress: vec![Progress::Waiting; graph.blockers.len()],
            graph,
            ready,
        }
    }

    /// `step` is done: its dependents with nothing else to wait for may start.
    fn done(&mut self, step: usize) {
        self.progress[step] = Progress::Done;
        for &dependent in &self.graph.dependents[step] {
            let blockers = &mut self.graph.blockers[dependent];
            *blockers = blockers.saturating_sub(1);
            if *blockers == 0 && self.progress[dependent] == Progress::Waiting {
                self.ready.push(dependent);
            }
        }
    }

    /// `step` failed: every step after it that has not started is skipped.
    fn fail<V: Visitor>(&mut self, step: usize, visitor: &mut V) {
        self.progress[step] = Progress::Failed;
        let mut stack = self.graph.dependents[step].clone();
        while let Some(next) = stack.pop() {
            if self.progress[next] != Progress::Waiting {
                continue;
            }
            self.progress[next] = Progress::Skipped;
            visitor.skipped(next);
            stack.extend(self.graph.dependents[next].iter().copied());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    /// Steps that sleep a moment and count how many run at once; the
    /// steps in `failing` fail.
    #[derive(Default)]
    struct Steps {
        failing: HashSet<usize>,
        started: Vec<usize>,
        finished: Vec<usize>,
        skipped: Vec<usize>,
        interrupted: bool,
        running: Arc<AtomicUsize>,
        most_at_once: Arc<AtomicUsize>,
        /// Told when the first step starts.
        first_started: Option<tokio::sync::oneshot::Sender<()>>,
        /// `(starting, ended)` of each commit, in order, with what had
        /// started by then.
        commits: Vec<(Vec<usize>, Vec<usize>, usize)>,
        /// Commits fail from this one on.
        failing_commit: Option<usize>,
    }

    impl Visitor for Steps {
        type Output = usize;
        type Message = ();

        async fn start(&mut self, step: usize, _: &[Progress]) -> Start<usize> {
            self.started.push(step);
            if let Some(first) = self.first_started.take() {
                let _ = first.send(());
            }
            let running = self.running.clone();
            let most = self.most_at_once.clone();
            Start::Run(Box::pin(async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                step
            }))
        }

        async fn finish(&mut self, step: usize, ended: Result<usize, Panicked>) -> Finish {
            assert_eq!(ended, Ok(step));
            self.finished.push(step);
            if self.failing.contains(&step) {
                Finish::Failed
            } else {
                Finish::Done
            }
        }

        fn skipped(&mut self, step: usize) {
            self.skipped.push(step);
        }

        fn halted(&self) -> bool {
            false
        }

        fn interrupted(&mut self) {
            self.interrupted = true;
        }

        fn message(&mut self, (): ()) {}

        async fn commit(&mut self, starting: &[usize], ended: &[usize]) -> bool {
            self.commits
                .push((starting.to_vec(), ended.to_vec(), self.started.len()));
            self.failing_commit
                .is_none_or(|first| self.commits.len() <= first)
        }
    }

    async fn run(
        graph: Graph,
        limit: usize,
        steps: &mut Steps,
        interrupt: impl Future<Output = ()>,
    ) -> Vec<Progress> {
        let (_sender, mut messages) = tokio::sync::mpsc::unbounded_channel();
        walk(graph, limit, steps, interrupt, &mut messages).await
    }

    fn never() -> impl Future<Output = ()> {
        std::future::pending()
    }

    #[tokio::test]
    async fn a_step_starts_only_after_every_step_it_waits_for_is_done() {
        // 0 → 1 → 3, 0 → 2 → 3, 4 alone.
        let graph = Graph::new(5, [(0, 1), (0, 2), (1, 3), (2, 3)]);
        let mut steps = Steps::default();
        let progress = run(graph, 4, &mut steps, never()).await;
        assert_eq!(progress, vec![Progress::Done; 5]);
        let position = |list: &[usize], step| list.iter().position(|&s| s == step);
        for (before, after) in [(0, 1), (0, 2), (1, 3), (2, 3)] {
            assert!(
                position(&steps.finished, before) < position(&steps.started, after),
                "{after} started before {before} finished: {:?} {:?}",
                steps.started,
                steps.finished
            );
        }
        assert_eq!(steps.started[..2], [0, 4], "ready steps start in order");
    }

    #[tokio::test]
    async fn steps_starting_or_ending_together_share_a_commit_made_before_they_go_on() {
        // Six steps at once, then one waiting for them all.
        let graph = Graph::new(7, (0..6).map(|s| (s, 6)));
        let mut steps = Steps::default();
        let progress = run(graph, 10, &mut steps, never()).await;
        assert_eq!(progress, vec![Progress::Done; 7]);
        assert_eq!(
            steps.commits[0],
            (vec![0, 1, 2, 3, 4, 5], vec![], 6),
            "the six ready steps start under one commit"
        );
        let until_last_start = steps
            .commits
            .iter()
            .position(|(starting, _, _)| starting.contains(&6))
            .expect("6 started");
        let before_last_start = steps.commits[..=until_last_start]
            .iter()
            .flat_map(|(_, ended, _)| ended.clone())
            .collect::<HashSet<usize>>();
        assert_eq!(
            before_last_start,
            (0..6).collect(),
            "step 6 starts only once the ends of all six are committed"
        );
        assert!(
            steps.commits.len() < 2 * 7,
            "fewer commits than entries: {:?}",
            steps.commits
        );
    }

    #[tokio::test]
    async fn a_failed_commit_starts_nothing_it_covered_and_releases_nothing() {
        let graph = Graph::new(3, [(0, 1)]);
        let mut steps = Steps {
            failing_commit: Some(1),
            ..Steps::default()
        };
        // The first commit (0 and 2 starting) succeeds, the next (their
        // ends, and 1 starting) fails: 1 never runs.
        let progress = run(graph, 10, &mut steps, never()).await;
        assert_eq!(progress[1], Progress::Failed);
        assert!(!steps.finished.contains(&1));
    }

    #[tokio::test]
    async fn no_more_steps_run_at_once_than_the_limit() {
        let mut steps = Steps::default();
        let progress = run(Graph::new(7, []), 3, &mut steps, never()).await;
        assert_eq!(progress, vec![Progress::Done; 7]);
        assert_eq!(steps.most_at_once.load(Ordering::SeqCst), 3);
        let mut one = Steps::default();
        run(Graph::new(3, []), 0, &mut one, never()).await;
        assert_eq!(one.most_at_once.load(Ordering::SeqCst), 1, "0 means 1");
    }

    #[tokio::test]
    async fn a_failed_step_skips_everything_after_it_and_nothing_else() {
        // 0 → 1 → 2, 1 → 3; 4 → 5.
        let graph = Graph::new(6, [(0, 1), (1, 2), (1, 3), (4, 5)]);
        let mut steps = Steps {
            failing: HashSet::from([1]),
            ..Steps::default()
        };
        let progress = run(graph, 2, &mut steps, never()).await;
        use Progress::*;
        assert_eq!(progress, [Done, Failed, Skipped, Skipped, Done, Done]);
        let mut skipped = steps.skipped.clone();
        skipped.sort_unstable();
        assert_eq!(skipped, [2, 3]);
        assert!(!steps.started.contains(&2) && !steps.started.contains(&3));
    }

    #[tokio::test]
    async fn an_interrupt_starts_nothing_new_and_lets_running_steps_finish() {
        let (first, started) = tokio::sync::oneshot::channel();
        let mut steps = Steps {
            first_started: Some(first),
            ..Steps::default()
        };
        let interrupt = async {
            let _ = started.await;
        };
        // A chain: only one step can run at a time.
        let progress = run(Graph::new(3, [(0, 1), (1, 2)]), 4, &mut steps, interrupt).await;
        use Progress::*;
        assert_eq!(progress, [Done, Waiting, Waiting]);
        assert!(steps.interrupted);
        assert_eq!(steps.finished, [0], "the running step finished");
    }

    /// A step refused at its start, and a step whose result could not be
    /// kept (the walk then halts with its dependents waiting).
    struct Refusing {
        refuse: usize,
        alone: usize,
        halted: bool,
        skipped: Vec<usize>,
    }

    impl Visitor for Refusing {
        type Output = ();
        type Message = ();

        async fn start(&mut self, step: usize, _: &[Progress]) -> Start<()> {
            if step == self.refuse {
                return Start::Failed;
            }
            Start::Run(Box::pin(async {}))
        }

        async fn finish(&mut self, step: usize, _: Result<(), Panicked>) -> Finish {
            if step == self.alone {
                self.halted = true;
                return Finish::FailedAlone;
            }
            Finish::Done
        }

        fn skipped(&mut self, step: usize) {
            self.skipped.push(step);
        }

        fn halted(&self) -> bool {
            self.halted
        }

        fn interrupted(&mut self) {}

        fn message(&mut self, (): ()) {}
    }

    #[tokio::test]
    async fn a_refused_step_skips_its_dependents_and_a_halt_leaves_them_waiting() {
        // 0 → 1 (refused) → 2; 3 (fails alone) → 4.
        let graph = Graph::new(5, [(0, 1), (1, 2), (3, 4)]);
        let mut refusing = Refusing {
            refuse: 1,
            alone: 3,
            halted: false,
            skipped: Vec::new(),
        };
        let (_sender, mut messages) = tokio::sync::mpsc::unbounded_channel();
        let progress = walk(graph, 1, &mut refusing, never(), &mut messages).await;
        use Progress::*;
        assert_eq!(progress, [Done, Failed, Skipped, Failed, Waiting]);
        assert_eq!(refusing.skipped, [2]);
    }
}
