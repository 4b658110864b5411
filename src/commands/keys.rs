//! `evctl keys SPEC`: the spec's API keys as they live on the API (expiry, days left), what
//! the next apply would do to each (the spec's expiry policy renews them), and with
//! `--expiring-within` a scheduled check that exits 2 when a key needs attention. Never a key
//! value.

use std::collections::BTreeSet;

use anyhow::Context as _;

use super::plan::{connect, load_spec, now};
use crate::cli::{KeysArgs, OutputFormat};
use crate::control::ControlPlane;
use crate::engine::{DiffOptions, Unowned, diff, find_api, observe};
use crate::exit::ExitStatus;
use crate::output::github::{self, Annotation, Github, Level};
use crate::output::{Printer, keys as render};

pub async fn run(args: KeysArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let gh = Github::from_process_env(args.github);
    let loaded = load_spec(&args.spec, args.github, printer)?;
    let desired = &loaded.desired;
    let name = &desired.api.name;
    let (cp, retry) = connect(&args.aws).await?;
    let (api, _) = find_api(&cp, name, &retry)
        .await
        .with_context(|| format!("could not list the Event APIs at {}", cp.target()))?
        .select(Unowned::Ignore)?;
    let Some(api) = api else {
        anyhow::bail!(
            "the API {name:?} does not exist in {} (or evctl did not create it): there are no \
             keys to check; `evctl apply {}` creates it",
            cp.target(),
            args.spec.spec.display()
        );
    };
    let api_id = api.api.id.clone();
    let observation = observe(&cp, Some(api), &BTreeSet::new(), 4, &retry)
        .await
        .with_context(|| format!("could not read the keys of API {name:?}"))?;
    let now = now();
    let options = DiffOptions {
        now,
        prune: false,
        adopt: false,
    };
    let plan = diff(desired, &observation, cp.target(), options);
    let window = args
        .expiring_within
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let report = render::KeysReport::new(
        name,
        &api_id,
        &desired.keys,
        &observation.state.keys,
        &plan,
        now,
        window,
    );

    match printer.format {
        OutputFormat::Json => printer.json(&report)?,
        OutputFormat::Markdown => printer.result(&render::render_markdown(&report)),
        OutputFormat::Text | OutputFormat::Junit => printer.result(&render::render_text(&report)),
    }
    if let Some(gh) = &gh {
        let file = args.spec.spec.display().to_string();
        let annotations: Vec<String> = report
            .attention()
            .map(|k| {
                github::annotation(
                    Level::Warning,
                    &Annotation {
                        file: Some(&file),
                        title: Some("evctl keys"),
                        message: &render::advice(k, &report),
                        ..Annotation::default()
                    },
                )
            })
            .collect();
        github::emit(&annotations);
        if let Some(warning) = gh.append_summary(&render::render_markdown(&report))? {
            printer.warn(&warning);
        }
    }
    Ok(if window.is_some() && report.attention().next().is_some() {
        ExitStatus::Changes
    } else {
        ExitStatus::Success
    })
}
