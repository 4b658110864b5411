//! Progress lines for apply and destroy, on stderr: one line when a step starts and one when it
//! ends (Terraform's `Creating...` / `Creation complete after 0.2s`), retries with `-v`. Lines,
//! not redrawn bars, so that CI logs and terminals read the same.

use crate::engine::{Event, Progress, Step};

use super::{Printer, Style};

/// Renders [`Event`]s through a [`Printer`].
pub struct Lines<'a> {
    printer: &'a Printer,
}

impl<'a> Lines<'a> {
    pub fn new(printer: &'a Printer) -> Lines<'a> {
        Lines { printer }
    }
}

fn words(step: Step) -> (&'static str, &'static str, &'static str) {
    match step {
        Step::Create => ("Creating...", "Creation complete", "Creation failed"),
        Step::Update => (
            "Modifying...",
            "Modifications complete",
            "Modification failed",
        ),
        Step::Delete => (
            "Destroying...",
            "Destruction complete",
            "Destruction failed",
        ),
    }
}

impl Progress for Lines<'_> {
    fn event(&self, event: Event<'_>) {
        let p = self.printer;
        match event {
            Event::Started { address, step } => {
                p.status(&format!(
                    "{}: {}",
                    p.paint(address, Style::Bold),
                    words(step).0
                ));
            }
            Event::Finished {
                address,
                step,
                elapsed,
                note,
            } => {
                let note = note.map(|n| format!(" ({n})")).unwrap_or_default();
                p.status(&format!(
                    "{}: {} after {:.1}s{note}",
                    p.paint(address, Style::Bold),
                    words(step).1,
                    elapsed.as_secs_f64()
                ));
            }
            Event::Retrying {
                address,
                error,
                delay,
                ..
            } => {
                p.detail(&format!(
                    "{address}: {error}; retrying in {:.1}s",
                    delay.as_secs_f64()
                ));
            }
            Event::Failed {
                address,
                step,
                error,
            } => {
                p.status(&format!(
                    "{} {address}: {}: {error}",
                    p.paint("error:", Style::Red),
                    words(step).2
                ));
            }
        }
    }
}
