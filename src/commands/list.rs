//! `evctl list`: the Event APIs in the account and region (or the emulator), optionally only
//! those whose tags match `--selector`s, as a table or JSON.

use serde::Serialize;

use super::plan::{connect, now};
use crate::cli::{ListArgs, OutputFormat};
use crate::control::ControlPlane;
use crate::exit::ExitStatus;
use crate::inventory::{self, Entry, Selector};
use crate::output::{Printer, inventory as render};

/// APIs whose namespaces are counted at once.
pub(crate) const READ_CONCURRENCY: usize = 4;

/// `--output json`.
#[derive(Serialize)]
struct Listing<'a> {
    format_version: &'static str,
    selectors: Vec<String>,
    apis: &'a [Entry],
}

pub async fn run(args: ListArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let selectors = Selector::parse_all(&args.selectors)?;
    let (cp, retry) = connect(&args.aws).await?;
    let entries = inventory::read(&cp, &selectors, now(), READ_CONCURRENCY, &retry)
        .await
        .map_err(|e| {
            anyhow::Error::new(e)
                .context(format!("could not list the Event APIs at {}", cp.target()))
        })?;
    if printer.format == OutputFormat::Json {
        printer.json(&Listing {
            format_version: "1.0",
            selectors: selectors.iter().map(Selector::to_string).collect(),
            apis: &entries,
        })?;
        return Ok(ExitStatus::Success);
    }
    if entries.is_empty() {
        printer.status(&nothing_found(&selectors, &cp.target()));
    } else {
        printer.result(&render::render_list(&entries));
    }
    Ok(ExitStatus::Success)
}

/// "No Event APIs ..." for an empty listing (stderr: it is not a result row).
pub(crate) fn nothing_found(selectors: &[Selector], target: &crate::control::Target) -> String {
    if selectors.is_empty() {
        format!("No Event APIs in {target}.")
    } else {
        let s: Vec<String> = selectors.iter().map(Selector::to_string).collect();
        format!("No Event APIs in {target} match {}.", s.join(", "))
    }
}
