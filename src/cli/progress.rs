//! Apply progress. On a terminal: one live line per operation in flight (spinner, address, what
//! it does, time elapsed), each replaced by its plain "complete" line when it ends. Anywhere
//! else (pipes, CI, tests): the plain lines only, one per event, exactly as before.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clawform_core::engine::{ApplyEvent, EventKind, EventSink};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::render;

/// How progress is shown.
pub(crate) enum Progress {
    /// One plain line per event on stdout.
    Plain,
    /// Live lines for operations in flight.
    Live(Live),
}

/// The live display: a bar per operation in flight, keyed by address and step (a replace
/// deletes, then creates).
pub(crate) struct Live {
    multi: MultiProgress,
    bars: Mutex<HashMap<(String, bool), ProgressBar>>,
}

impl Progress {
    /// Live lines when stdout is a terminal that can redraw, plain lines otherwise.
    pub(crate) fn for_stdout() -> Progress {
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        if std::io::stdout().is_terminal() && !dumb {
            Progress::Live(Live::new(ProgressDrawTarget::stdout()))
        } else {
            Progress::Plain
        }
    }

    /// The engine's event sink that shows this progress.
    pub(crate) fn sink(self) -> EventSink {
        let progress = Arc::new(self);
        Arc::new(move |e: &ApplyEvent| progress.on_event(e))
    }

    fn on_event(&self, e: &ApplyEvent) {
        match self {
            Progress::Plain => println!("{}", render::event(e)),
            Progress::Live(live) => live.on_event(e),
        }
    }
}

impl Live {
    fn new(target: ProgressDrawTarget) -> Live {
        Live { multi: MultiProgress::with_draw_target(target), bars: Mutex::new(HashMap::new()) }
    }

    fn on_event(&self, e: &ApplyEvent) {
        let key = (e.address.clone(), e.deleting);
        // A poisoned lock only means another event's display panicked; keep showing progress.
        let mut bars = self.bars.lock().unwrap_or_else(|p| p.into_inner());
        match &e.kind {
            EventKind::Started => {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix}: {msg} [{elapsed} elapsed]").unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(e.address.clone());
                bar.set_message(render::event(e).trim_start_matches(&format!("{}: ", e.address)).trim_end_matches("...").to_string());
                bar.enable_steady_tick(Duration::from_millis(120));
                bars.insert(key, bar);
            }
            EventKind::Waiting { what, .. } => {
                if let Some(bar) = bars.get(&key) {
                    bar.set_message(format!("waiting for {what}"));
                }
            }
            EventKind::Completed { .. } | EventKind::Failed { .. } => {
                if let Some(bar) = bars.remove(&key) {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                }
                // The finished line stays above the live ones, as in the plain output.
                if self.multi.println(render::event(e)).is_err() {
                    println!("{}", render::event(e));
                }
            }
        }
    }

    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.bars.lock().map(|b| b.len()).unwrap_or(0)
    }
}

/// The line that ends a successful apply or destroy, as Terraform prints it.
pub(crate) fn summary(destroy: bool, added: usize, changed: usize, destroyed: usize) -> (String, String) {
    if destroy {
        ("Destroy complete!".into(), format!("Resources: {destroyed} destroyed."))
    } else {
        ("Apply complete!".into(), format!("Resources: {added} added, {changed} changed, {destroyed} destroyed."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clawform_core::plan::Action;

    fn event(address: &str, deleting: bool, kind: EventKind) -> ApplyEvent {
        ApplyEvent { address: address.into(), action: if deleting { Action::Replace } else { Action::Create }, deleting, kind }
    }

    #[test]
    fn live_lines_follow_operations_in_flight() {
        let live = Live::new(ProgressDrawTarget::hidden());
        live.on_event(&event("vpc", false, EventKind::Started));
        live.on_event(&event("sg", true, EventKind::Started));
        assert_eq!(live.in_flight(), 2);
        live.on_event(&event("sg", true, EventKind::Completed { id: None, elapsed: Duration::from_secs(2) }));
        assert_eq!(live.in_flight(), 1);
        // The create half of the replace is its own line.
        live.on_event(&event("sg", false, EventKind::Started));
        assert_eq!(live.in_flight(), 2);
        live.on_event(&event("sg", false, EventKind::Failed { message: "boom".into() }));
        live.on_event(&event("vpc", false, EventKind::Completed { id: Some("vpc-1".into()), elapsed: Duration::from_secs(1) }));
        assert_eq!(live.in_flight(), 0);
        // An end without a start (cannot happen, but must not panic).
        live.on_event(&event("ghost", false, EventKind::Completed { id: None, elapsed: Duration::ZERO }));
    }

    #[test]
    fn summaries_read_as_terraforms() {
        assert_eq!(summary(false, 6, 1, 2), ("Apply complete!".to_string(), "Resources: 6 added, 1 changed, 2 destroyed.".to_string()));
        assert_eq!(summary(true, 0, 0, 6), ("Destroy complete!".to_string(), "Resources: 6 destroyed.".to_string()));
    }
}
