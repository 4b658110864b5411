//! `evctl plan`: load the spec, find and observe its API, compute the plan once, then render it
//! (text, JSON or Markdown) and optionally save it for `evctl apply FILE`.
//!
//! Also home of what plan, apply, destroy and outputs share: loading the spec, connecting to
//! the control plane, and GitHub step summaries.

use std::path::Path;

use anyhow::Context as _;

use crate::cli::{AwsArgs, OutputFormat, PlanArgs, SpecArgs};
use crate::control::RetryPolicy;
use crate::control::sdk::SdkControlPlane;
use crate::engine::{DiffOptions, Plan, ReadOptions, plan_apply, plan_destroy};
use crate::exit::ExitStatus;
use crate::output::github::{self, Github};
use crate::output::{Printer, plan as render};
use crate::spec::{self, LoadedSpec, Vars};

/// Reads in flight at once while observing (side-effect free, so a little wider than the
/// default of 4 writes).
pub(crate) const READ_CONCURRENCY: usize = 8;

pub async fn run(args: PlanArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let loaded = load_spec(&args.spec, args.engine.github, printer)?;
    let (cp, retry) = connect(&args.aws).await?;
    let read = ReadOptions {
        concurrency: READ_CONCURRENCY,
        retry,
    };
    let prepared = if args.destroy {
        plan_destroy(&cp, &loaded.desired.api.name, now(), read).await?
    } else {
        let options = DiffOptions {
            now: now(),
            prune: !args.engine.no_prune,
            adopt: args.engine.adopt,
        };
        plan_apply(&cp, &loaded.desired, options, read).await?
    };
    let plan = &prepared.plan;

    match printer.format {
        OutputFormat::Json => printer.json(plan)?,
        OutputFormat::Markdown => printer.result(&render::render_markdown(plan)),
        OutputFormat::Text | OutputFormat::Junit => printer.result(&render::render(plan, printer)),
    }
    if let Some(out) = &args.out {
        save_plan(plan, out)?;
        printer.status(&format!(
            "Saved the plan to {}. Apply exactly this plan with: evctl apply {}",
            out.display(),
            out.display()
        ));
    }
    step_summary(args.engine.github, printer, &render::render_markdown(plan))?;
    Ok(if args.detailed_exitcode && plan.has_changes() {
        ExitStatus::Changes
    } else {
        ExitStatus::Success
    })
}

/// Loads and validates the spec (all problems reported at once); warnings go to stderr. With
/// `--github` (or in GitHub Actions) the problems are also annotations on the spec file.
pub(crate) fn load_spec(
    args: &SpecArgs,
    github: bool,
    printer: &Printer,
) -> anyhow::Result<LoadedSpec> {
    let vars = Vars::from_args_and_env(&args.vars).map_err(|e| anyhow::anyhow!("{e}"))?;
    let loaded = match spec::load(&args.spec, &vars) {
        Ok(loaded) => loaded,
        Err(_) if read_saved_plan(&args.spec).is_ok_and(|plan| plan.is_some()) => {
            anyhow::bail!(
                "{path} is a plan saved with `evctl plan --out`, not a spec: apply it with \
                 `evctl apply {path}`, or give this command the spec the plan was made from",
                path = args.spec.display()
            );
        }
        Err(err) => {
            if Github::from_process_env(github).is_some() {
                let annotations: Vec<String> = err
                    .diagnostics
                    .iter()
                    .map(github::spec_annotation)
                    .collect();
                github::emit(&annotations);
            }
            return Err(err.into());
        }
    };
    for warning in &loaded.warnings {
        printer.warn(warning.render().trim_end());
    }
    Ok(loaded)
}

/// The control plane from the flags and the standard AWS configuration, with evctl's retry
/// policy (`EVCTL_MAX_ATTEMPTS`, `EVCTL_RETRY_INITIAL_BACKOFF`).
pub(crate) async fn connect(aws: &AwsArgs) -> anyhow::Result<(SdkControlPlane, RetryPolicy)> {
    let retry = RetryPolicy::from_env(|name| std::env::var(name).ok())?;
    let cp = SdkControlPlane::connect(aws, retry).await?;
    Ok((cp, retry))
}

/// Now, in epoch seconds.
pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn save_plan(plan: &Plan, path: &Path) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(plan)?;
    std::fs::write(path, json + "\n")
        .with_context(|| format!("could not save the plan to {}", path.display()))
}

/// Reads a plan saved with `plan --out`; `None` when the file is not one (it is a spec).
pub(crate) fn read_saved_plan(path: &Path) -> anyhow::Result<Option<Plan>> {
    // Bounded, so that a device or a huge file given by mistake is not read without end (a
    // spec is at most 4 MiB; a plan of 50 namespaces with the largest handlers is a few MiB).
    const MAX_PLAN_BYTES: u64 = 64 * 1024 * 1024;
    let mut text = String::new();
    let read = std::fs::File::open(path).and_then(|file| {
        std::io::Read::read_to_string(&mut std::io::Read::take(file, MAX_PLAN_BYTES), &mut text)
    });
    if read.is_err() {
        return Ok(None);
    }
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Ok(None);
    };
    if value.get("format_version").is_none() || value.get("basis").is_none() {
        return Ok(None);
    }
    let plan = serde_json::from_value(value).with_context(|| {
        format!(
            "{} looks like a saved plan but cannot be read",
            path.display()
        )
    })?;
    Ok(Some(plan))
}

/// With `--github` (or `GITHUB_ACTIONS=true`), appends `markdown` to the job's step summary.
pub(crate) fn step_summary(flag: bool, printer: &Printer, markdown: &str) -> anyhow::Result<()> {
    if let Some(gh) = Github::from_process_env(flag)
        && let Some(warning) = gh.append_summary(markdown)?
    {
        printer.warn(&warning);
    }
    Ok(())
}
