//! `evctl gc`: delete the evctl-owned APIs whose tags match every `--selector` and that are
//! older than `--older-than`, the nightly sweep of leaked CI environments. Never an API without
//! evctl's ownership tag; a selector is required; confirmation as for destroy. Reports every
//! matching API: deleted, kept (and why), or failed.

use futures_util::StreamExt;
use serde::Serialize;

use super::apply::{
    ask_yes, interrupt_on_signals, interrupted_before_start, require_a_way_to_confirm,
    until_interrupted,
};
use super::list::{READ_CONCURRENCY, nothing_found};
use super::plan::{connect, now};
use crate::cli::{GcArgs, OutputFormat};
use crate::control::ControlPlane;
use crate::engine::retry::retry_conflicts;
use crate::exit::ExitStatus;
use crate::inventory::{self, GcAction, GcRow, Selector, Verdict};
use crate::output::github::Github;
use crate::output::{Printer, Style, inventory as render};

/// Deletions in flight at once.
const DELETE_CONCURRENCY: usize = 4;

/// `--output json`.
#[derive(Serialize)]
struct Report<'a> {
    format_version: &'static str,
    dry_run: bool,
    selectors: Vec<String>,
    older_than_seconds: Option<u64>,
    apis: &'a [GcRow],
    interrupted: bool,
}

pub async fn run(args: GcArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let selectors = Selector::parse_all(&args.selectors)?;
    anyhow::ensure!(
        !selectors.is_empty(),
        "gc needs at least one --selector KEY=VALUE, so that it never sweeps the whole account"
    );
    let ask = !args.dry_run && !args.auto_approve;
    require_a_way_to_confirm(ask, "`evctl gc --dry-run`")?;
    let interrupt = interrupt_on_signals();
    let (cp, retry) = connect(&args.aws).await?;
    let listing = inventory::read(&cp, &selectors, now(), READ_CONCURRENCY, &retry);
    let Some(entries) = until_interrupted(&interrupt, listing).await else {
        return Ok(interrupted_before_start(printer));
    };
    let entries = entries.map_err(|e| {
        anyhow::Error::new(e).context(format!("could not list the Event APIs at {}", cp.target()))
    })?;
    let verdicts = inventory::decide(&entries, args.older_than);
    let mut rows: Vec<GcRow> = entries
        .into_iter()
        .zip(verdicts)
        .map(|(api, verdict)| match verdict {
            Verdict::Delete => GcRow {
                api,
                action: if args.dry_run {
                    GcAction::WouldDelete
                } else {
                    GcAction::NotStarted
                },
                reason: None,
            },
            Verdict::Keep(why) => GcRow {
                api,
                action: GcAction::Kept,
                reason: Some(why.to_string()),
            },
        })
        .collect();
    let doomed: Vec<usize> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.action == GcAction::NotStarted)
        .map(|(i, _)| i)
        .collect();

    let mut interrupted = false;
    if !doomed.is_empty() {
        if ask {
            let Some(answer) =
                until_interrupted(&interrupt, confirm(&rows, doomed.len(), printer)).await
            else {
                return Ok(interrupted_before_start(printer));
            };
            if !answer? {
                anyhow::bail!("not confirmed: nothing was deleted");
            }
        }
        let results: Vec<(usize, Result<(), String>)> = futures_util::stream::iter(doomed)
            .map(|i| {
                let (id, name) = (rows[i].api.id.clone(), rows[i].api.name.clone());
                let (cp, retry, interrupt) = (&cp, &retry, &interrupt);
                async move {
                    if interrupt.is_triggered() {
                        return (i, Err(String::new()));
                    }
                    printer.status(&format!("Deleting {name} ({id})..."));
                    let result = match retry_conflicts(retry, || cp.delete_api(&id)).await {
                        Err(e) if !e.is_not_found() => Err(e.to_string()),
                        _ => Ok(()),
                    };
                    (i, result)
                }
            })
            .buffer_unordered(DELETE_CONCURRENCY)
            .collect()
            .await;
        interrupted = interrupt.is_triggered();
        for (i, result) in results {
            match result {
                Ok(()) => rows[i].action = GcAction::Deleted,
                Err(e) if e.is_empty() => {}
                Err(e) => {
                    rows[i].action = GcAction::Failed;
                    rows[i].reason = Some(e);
                }
            }
        }
    }

    if printer.format == OutputFormat::Json {
        printer.json(&Report {
            format_version: "1.0",
            dry_run: args.dry_run,
            selectors: selectors.iter().map(Selector::to_string).collect(),
            older_than_seconds: args.older_than.map(|d| d.as_secs()),
            apis: &rows,
            interrupted,
        })?;
    } else if printer.format == OutputFormat::Markdown {
        printer.result(&render::render_gc_markdown(&rows, args.dry_run));
    } else if rows.is_empty() {
        printer.status(&nothing_found(&selectors, &cp.target()));
        printer.result(&render::gc_summary(&rows, args.dry_run));
    } else {
        printer.result(&render::render_gc(&rows, args.dry_run));
    }
    if let Some(gh) = Github::from_process_env(args.github)
        && let Some(warning) =
            gh.append_summary(&render::render_gc_markdown(&rows, args.dry_run))?
    {
        printer.warn(&warning);
    }

    if interrupted {
        printer.status(&format!(
            "{} The deletions in flight finished; the rest were not started.",
            printer.paint("Interrupted.", Style::Yellow)
        ));
        return Ok(ExitStatus::Interrupted);
    }
    let failed: Vec<String> = rows
        .iter()
        .filter(|r| r.action == GcAction::Failed)
        .map(|r| {
            format!(
                "  {} ({}): {}",
                r.api.name,
                r.api.id,
                r.reason.as_deref().unwrap_or("")
            )
        })
        .collect();
    anyhow::ensure!(
        failed.is_empty(),
        "{} deletion(s) failed; run gc again to retry them:\n{}",
        failed.len(),
        failed.join("\n")
    );
    Ok(ExitStatus::Success)
}

/// Shows what would be deleted and asks on the terminal; only `yes` confirms.
async fn confirm(rows: &[GcRow], n: usize, printer: &Printer) -> anyhow::Result<bool> {
    let preview: Vec<GcRow> = rows
        .iter()
        .cloned()
        .map(|mut r| {
            if r.action == GcAction::NotStarted {
                r.action = GcAction::WouldDelete;
            }
            r
        })
        .collect();
    printer.status(render::render_table_only(&preview).trim_end());
    let question = format!(
        "Do you want to delete {n} API{} and everything in {}?",
        if n == 1 { "" } else { "s" },
        if n == 1 { "it" } else { "them" },
    );
    ask_yes(&question, printer).await
}
