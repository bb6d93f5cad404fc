//! What an apply shows while it runs: on a terminal, one live line per
//! running step with its elapsed time (indicatif); otherwise (CI logs,
//! pipes) one plain line when a step starts and one when it ends.

use imm_executors::engine::Event;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::Duration;

pub enum Progress {
    Live {
        bars: MultiProgress,
        running: HashMap<String, ProgressBar>,
    },
    Plain,
}

impl Progress {
    pub fn new() -> Progress {
        let terminal =
            std::io::stdout().is_terminal() && std::env::var_os("TERM").is_none_or(|t| t != "dumb");
        if !terminal {
            return Progress::Plain;
        }
        Progress::Live {
            bars: MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
            running: HashMap::new(),
        }
    }

    pub fn event(&mut self, event: Event) {
        match self {
            Progress::Plain => plain(event),
            Progress::Live { bars, running } => match event {
                Event::Started { address, what } => {
                    let bar = bars.add(ProgressBar::new_spinner());
                    bar.set_style(
                        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    bar.set_message(format!("{address}: {what}"));
                    bar.enable_steady_tick(Duration::from_millis(120));
                    running.insert(format!("{address}\0{what}"), bar);
                }
                Event::Finished {
                    address,
                    what,
                    elapsed,
                    error,
                } => {
                    if let Some(bar) = running.remove(&format!("{address}\0{what}")) {
                        bar.finish_and_clear();
                        bars.remove(&bar);
                    }
                    let _ = bars.println(finished_line(&address, what, elapsed, error.is_some()));
                }
                Event::Output { address, line } => {
                    let key = running
                        .keys()
                        .find(|k| k.starts_with(&format!("{address}\0")))
                        .cloned();
                    if let Some(bar) = key.and_then(|k| running.get(&k)) {
                        bar.set_message(format!("{address}: {line}"));
                    }
                }
                Event::Stopping => {
                    let _ = bars.println(STOPPING);
                }
            },
        }
    }
}

const STOPPING: &str =
    "Interrupted: no new step starts; the running ones finish, then state is saved.";

fn finished_line(address: &str, what: &str, elapsed: Duration, failed: bool) -> String {
    let outcome = if failed { "FAILED" } else { "done" };
    format!(
        "{address}: {what} {outcome} ({:.1}s)",
        elapsed.as_secs_f64()
    )
}

fn plain(event: Event) {
    match event {
        Event::Started { address, what } => crate::report::out(&format!("{address}: {what}…")),
        Event::Finished {
            address,
            what,
            elapsed,
            error,
        } => crate::report::out(&finished_line(&address, what, elapsed, error.is_some())),
        Event::Output { address, line } => crate::report::out(&format!("{address}: | {line}")),
        Event::Stopping => eprintln!("{STOPPING}"),
    }
}
