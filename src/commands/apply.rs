//! `evctl apply`: compute the plan (or read a saved one and check that the live state has not
//! moved), show it, ask for confirmation on a terminal, execute it with progress on stderr, and
//! report on stdout. Ctrl-C stops starting new steps, waits for those in flight and exits 130.
//!
//! Also home of what apply and destroy share: confirmation, interrupt handling, execution and
//! its report.

use std::io::IsTerminal as _;

use serde::Serialize;

use super::plan::{READ_CONCURRENCY, connect, load_spec, now, read_saved_plan, step_summary};
use crate::cli::{ApplyArgs, OutputFormat};
use crate::control::ControlPlane;
use crate::engine::guard::{self, Wait};
use crate::engine::{
    DiffOptions, ExecOptions, Interrupt, Plan, Prepared, ReadOptions, Report, Yielded, execute,
    recheck,
};
use crate::exit::ExitStatus;
use crate::model::DesiredState;
use crate::output::progress::Lines;
use crate::output::{Printer, Style, plan as render};

pub async fn run(args: ApplyArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let saved = read_saved_plan(&args.spec.spec)?;
    if saved.is_some() && !args.spec.vars.is_empty() {
        anyhow::bail!(
            "--var has no effect on a saved plan: its values were fixed when it was made"
        );
    }
    // A saved plan was reviewed when it was made (as with Terraform); anything else needs a yes.
    let ask = saved.is_none() && !args.auto_approve;
    require_a_way_to_confirm(ask, "`evctl plan`")?;
    // The spec is checked before anything else, AWS configuration included (as plan does).
    let source = match saved {
        Some(plan) => Source::Saved(plan),
        None => Source::Spec(load_spec(&args.spec, args.engine.github, printer)?),
    };
    let interrupt = interrupt_on_signals();
    let (cp, retry) = connect(&args.aws).await?;
    let read = ReadOptions {
        concurrency: READ_CONCURRENCY,
        retry,
    };

    let exec = ExecOptions {
        concurrency: usize::from(args.concurrency),
        retry,
        create_settle: guard::settle_from_env(|name| std::env::var(name).ok())?,
    };
    let loaded = match source {
        Source::Spec(loaded) => loaded,
        Source::Saved(plan) => {
            let github = args.engine.github;
            return apply_saved(&cp, plan, exec, read, &interrupt, github, printer).await;
        }
    };
    let options = DiffOptions {
        now: now(),
        prune: !args.engine.no_prune,
        adopt: args.engine.adopt,
    };
    // A run that starts while concurrent runs of the same spec are resolving their duplicate
    // APIs waits for them (see `engine::guard`).
    let planning = guard::plan_apply_after_races(
        &cp,
        &loaded.desired,
        options,
        read,
        guard::POLL_INTERVAL,
        guard::RACE_QUIET,
    );
    let prepared = match until_interrupted(&interrupt, planning).await {
        Some(prepared) => prepared?,
        None => return Ok(interrupted_before_start(printer)),
    };
    let replan = Replan {
        desired: &loaded.desired,
        options,
        read,
    };
    carry_out(
        &cp,
        prepared,
        exec,
        ask,
        &interrupt,
        args.engine.github,
        Some(replan),
        printer,
    )
    .await
}

/// What apply was given: a spec, or a plan saved with `evctl plan --out`.
enum Source {
    Spec(crate::spec::LoadedSpec),
    Saved(Plan),
}

/// Applies a saved plan, once the live state is checked to be the one it was made from.
async fn apply_saved<C: ControlPlane>(
    cp: &C,
    plan: Plan,
    exec: ExecOptions,
    read: ReadOptions,
    interrupt: &Interrupt,
    github: bool,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let Some(observation) = until_interrupted(interrupt, recheck(cp, &plan, read)).await else {
        return Ok(interrupted_before_start(printer));
    };
    let prepared = Prepared {
        plan,
        observation: observation?,
    };
    carry_out(cp, prepared, exec, false, interrupt, github, None, printer).await
}

/// What an apply that yielded to a concurrent run re-plans against (see `engine::guard`).
pub(crate) struct Replan<'a> {
    pub desired: &'a DesiredState,
    pub options: DiffOptions,
    pub read: ReadOptions,
}

/// Refuses at once (before any call) when confirmation is needed but cannot be asked;
/// `review` says how to see the changes first (e.g. "`evctl plan`").
pub(crate) fn require_a_way_to_confirm(ask: bool, review: &str) -> anyhow::Result<()> {
    if ask && !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "stdin is not a terminal, so evctl cannot ask for confirmation; pass --auto-approve \
             to go ahead without asking (review the changes first with {review})"
        );
    }
    Ok(())
}

/// An [`Interrupt`] triggered by Ctrl-C or SIGTERM.
pub(crate) fn interrupt_on_signals() -> Interrupt {
    let interrupt = Interrupt::new();
    let trigger = interrupt.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        trigger.trigger();
    });
    interrupt
}

/// Runs `work` unless interrupted first (`None`): reading can stop at any point.
pub(crate) async fn until_interrupted<T>(
    interrupt: &Interrupt,
    work: impl std::future::Future<Output = T>,
) -> Option<T> {
    tokio::select! {
        out = work => Some(out),
        _ = interrupt.triggered() => None,
    }
}

pub(crate) fn interrupted_before_start(printer: &Printer) -> ExitStatus {
    printer.status("Interrupted before any change was made.");
    ExitStatus::Interrupted
}

/// The JSON result of apply and destroy.
#[derive(Serialize)]
struct Outcome<'a> {
    format_version: &'static str,
    /// `no_changes`, `applied`, `failed`, `interrupted` or `declined`.
    status: &'static str,
    plan: &'a Plan,
    result: Option<&'a Report>,
    done: crate::engine::Summary,
}

/// Shows the plan, asks (if `ask`), executes and reports. If a concurrent run created the same
/// API and this run yielded to it, waits for that run against `replan` (a saved plan has none:
/// it no longer applies).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn carry_out<C: ControlPlane>(
    cp: &C,
    prepared: Prepared,
    exec: ExecOptions,
    ask: bool,
    interrupt: &Interrupt,
    github: bool,
    replan: Option<Replan<'_>>,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let Prepared { plan, observation } = prepared;
    // The plan is for the human at the terminal: stderr, so stdout carries only the result.
    printer.status(render::render(&plan, printer).trim_end());
    let report_json = |status, report: Option<&Report>| -> anyhow::Result<()> {
        if printer.format == OutputFormat::Json {
            printer.json(&Outcome {
                format_version: crate::engine::plan::FORMAT_VERSION,
                status,
                plan: &plan,
                result: report,
                done: report.map(Report::done).unwrap_or_default(),
            })?;
        }
        Ok(())
    };
    if !plan.has_changes() {
        report_json("no_changes", None)?;
        if printer.format != OutputFormat::Json {
            printer.result(match plan.kind {
                crate::engine::PlanKind::Apply => "No changes.",
                crate::engine::PlanKind::Destroy => "No changes. Nothing to destroy.",
            });
        }
        return Ok(ExitStatus::Success);
    }
    if ask {
        match until_interrupted(interrupt, confirm(&plan, printer)).await {
            None => return Ok(interrupted_before_start(printer)),
            Some(Ok(true)) => {}
            Some(Ok(false)) => {
                report_json("declined", None)?;
                anyhow::bail!("not confirmed: nothing was changed");
            }
            Some(Err(e)) => return Err(e),
        }
    }
    printer.status("");
    let report = execute(
        &plan,
        &observation.state,
        cp,
        exec,
        &Lines::new(printer),
        interrupt,
    )
    .await;
    if let Some(yielded) = &report.yielded {
        let (status, line) = match yield_to_other_run(
            cp,
            &plan.api.name,
            yielded,
            exec,
            interrupt,
            github,
            replan,
            printer,
        )
        .await?
        {
            // The other run's plan, executed by this one, reported itself.
            YieldOutcome::TookOver(status) => return Ok(status),
            YieldOutcome::Converged(line) => (ExitStatus::Success, line),
            YieldOutcome::Interrupted => (ExitStatus::Interrupted, String::new()),
        };
        let json_status = if status == ExitStatus::Success {
            "yielded"
        } else {
            "interrupted"
        };
        report_json(json_status, Some(&report))?;
        if !line.is_empty() {
            if printer.format != OutputFormat::Json {
                printer.result(&line);
            }
            step_summary(
                github,
                printer,
                &format!("### evctl: apply `{}`\n\n{line}\n", plan.api.name),
            )?;
        }
        return Ok(status);
    }
    let status = if report.interrupted {
        "interrupted"
    } else if report.succeeded() {
        "applied"
    } else {
        "failed"
    };
    report_json(status, Some(&report))?;
    if printer.format != OutputFormat::Json {
        printer.result(&render::done_line(plan.kind, &report));
    }
    let markdown = format!(
        "{}\n**{}**\n",
        render::render_markdown(&plan),
        render::done_line(plan.kind, &report)
    );
    step_summary(github, printer, &markdown)?;
    if report.interrupted {
        printer.status(&format!(
            "{} Stopped after the steps in flight; {} change(s) not started. Run the same \
             command again to finish.",
            printer.paint("Interrupted.", Style::Yellow),
            report.not_started()
        ));
        return Ok(ExitStatus::Interrupted);
    }
    let failures: Vec<String> = report
        .failures()
        .map(|(address, error)| format!("  {address}: {error}"))
        .collect();
    if !failures.is_empty() {
        anyhow::bail!(
            "{} change(s) failed ({} not started); what succeeded stays, and running the same \
             command again continues from there:\n{}",
            failures.len(),
            report.not_started(),
            failures.join("\n")
        );
    }
    Ok(ExitStatus::Success)
}

/// How waiting for the run that won the creation race ended.
enum YieldOutcome {
    /// The survivor matches the spec; the line says so.
    Converged(String),
    /// That run stalled; this one executed the rest (and reported it) with this status.
    TookOver(ExitStatus),
    Interrupted,
}

/// A concurrent run created the same API and this run yielded (`engine::guard`): wait for the
/// surviving API to match the spec, or finish the job if that run stalls.
#[allow(clippy::too_many_arguments)]
async fn yield_to_other_run<C: ControlPlane>(
    cp: &C,
    name: &str,
    yielded: &Yielded,
    exec: ExecOptions,
    interrupt: &Interrupt,
    github: bool,
    replan: Option<Replan<'_>>,
    printer: &Printer,
) -> anyhow::Result<YieldOutcome> {
    let Yielded { survivor, deleted } = yielded;
    let Some(replan) = replan else {
        anyhow::bail!(
            "another run created API {name:?} ({survivor}) at the same moment as this one, so \
             this run deleted its duplicate ({deleted}) and the saved plan no longer applies; make \
             a new one with `evctl plan --out`"
        );
    };
    printer.status(&format!(
        "Another run created API {name:?} ({survivor}) at the same moment; this run deleted its \
         duplicate ({deleted}) and waits for that run to finish."
    ));
    let wait = guard::await_other_run(
        cp,
        replan.desired,
        replan.options,
        replan.read,
        now,
        guard::POLL_INTERVAL,
        guard::STALL_TIMEOUT,
        interrupt,
    )
    .await?;
    Ok(match wait {
        Wait::Converged(_) => YieldOutcome::Converged(format!(
            "No changes left: the other run applied the spec to API {name:?} ({survivor})."
        )),
        Wait::Stalled(prepared) => {
            printer.status(&format!(
                "The other run has made no progress for {}s; this run finishes the job.",
                guard::STALL_TIMEOUT.as_secs()
            ));
            let status = Box::pin(carry_out(
                cp, prepared, exec, false, interrupt, github, None, printer,
            ))
            .await?;
            YieldOutcome::TookOver(status)
        }
        Wait::Interrupted => {
            printer
                .status("Interrupted while waiting for the other run; nothing else was changed.");
            YieldOutcome::Interrupted
        }
    })
}

/// Asks on the terminal; only `yes` confirms.
async fn confirm(plan: &Plan, printer: &Printer) -> anyhow::Result<bool> {
    let what = match plan.kind {
        crate::engine::PlanKind::Apply => "perform these actions",
        crate::engine::PlanKind::Destroy => "destroy this API and everything in it",
    };
    ask_yes(
        &format!("Do you want to {what} on API {:?}?", plan.api.name),
        printer,
    )
    .await
}

/// Asks `question` on the terminal (stderr, stdin); only `yes` confirms.
pub(crate) async fn ask_yes(question: &str, printer: &Printer) -> anyhow::Result<bool> {
    eprint!(
        "\n{question}\n  Only 'yes' will be accepted to approve.\n\n  {} ",
        printer.paint("Enter a value:", Style::Bold)
    );
    // A plain thread, not the runtime's blocking pool: an interrupted read must not keep the
    // process from exiting.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = tx.send(std::io::stdin().read_line(&mut line).map(|_| line));
    });
    let line = rx.await??;
    Ok(line.trim() == "yes")
}
