//! `evctl outputs`: what clients need to reach the spec's API (id, ARN, hosts, URLs) and the
//! values of its keys, as text, JSON, dotenv lines, or GitHub Actions outputs (with every key
//! value masked first). The one command that prints key values.

use anyhow::Context as _;

use super::plan::{connect, load_spec};
use crate::cli::{OutputFormat, OutputsArgs, OutputsFormat};
use crate::control::ControlPlane;
use crate::engine::diff::rfc3339;
use crate::engine::retry::retry_conflicts;
use crate::engine::{Unowned, find_api};
use crate::exit::ExitStatus;
use crate::output::Printer;
use crate::output::github::{self, Github};
use crate::output::outputs::{ApiOutputs, KeyOutput};

pub async fn run(args: OutputsArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    // `--output json` is `--format json`; it cannot also be another format.
    let format = match (args.format, printer.format) {
        (OutputsFormat::Text | OutputsFormat::Json, OutputFormat::Json) => OutputsFormat::Json,
        (f, OutputFormat::Text) => f,
        (f, _) => anyhow::bail!(
            "--output json and --format {} ask for two formats; pass one of them",
            format!("{f:?}").to_lowercase()
        ),
    };
    // Asked for explicitly: GITHUB_ACTIONS need not be set (e.g. in `act`); GITHUB_OUTPUT must.
    let gh = match format {
        OutputsFormat::Github => {
            let gh = Github::from_process_env(true).context("GitHub Actions integration")?;
            gh.output_file()?;
            Some(gh)
        }
        _ => None,
    };
    let loaded = load_spec(&args.spec, false, printer)?;
    let desired = &loaded.desired;
    let (cp, retry) = connect(&args.aws).await?;
    let name = &desired.api.name;
    let lookup = find_api(&cp, name, &retry)
        .await
        .with_context(|| format!("could not list the Event APIs at {}", cp.target()))?;
    let (found, notes) = lookup.select(Unowned::Ignore)?;
    for note in notes {
        printer.status(&format!("Note: {note}"));
    }
    let Some(found) = found else {
        anyhow::bail!(
            "there is no evctl-owned API named {name:?} here; create it with `evctl apply`"
        );
    };
    let api = &found.api;
    let dns = api
        .dns
        .clone()
        .with_context(|| format!("the API {name:?} ({}) reports no DNS names yet", api.id))?;
    let keys = retry_conflicts(&retry, || cp.list_keys(&api.id))
        .await
        .with_context(|| format!("could not list the keys of {name:?}"))?;

    let mut key_outputs = Vec::new();
    let mut missing = Vec::new();
    for key_name in desired.keys.keys() {
        // Several keys with one name (an interrupted create): the longest-lived one.
        match keys
            .iter()
            .filter(|k| k.name.as_deref() == Some(key_name))
            .max_by_key(|k| k.expires)
        {
            Some(k) => key_outputs.push(KeyOutput {
                name: key_name.clone(),
                value: k.id.expose().to_string(),
                expires: rfc3339(k.expires),
            }),
            None => missing.push(key_name.as_str()),
        }
    }
    if !missing.is_empty() {
        anyhow::bail!(
            "the API {name:?} has no key named {}; create it with `evctl apply`",
            missing.join(", ")
        );
    }

    let (http, ws) = match cp.target().endpoint.as_deref() {
        Some(e) if e.starts_with("http://") => ("http", "ws"),
        _ => ("https", "wss"),
    };
    let outputs = ApiOutputs {
        api_name: name.clone(),
        api_id: api.id.clone(),
        api_arn: api.arn.clone(),
        http_url: format!("{http}://{}/event", dns.http),
        realtime_url: format!("{ws}://{}/event/realtime", dns.realtime),
        http_host: dns.http,
        realtime_host: dns.realtime,
        keys: key_outputs,
    };
    let names = outputs.env_names();
    if let Some(dup) = names
        .iter()
        .enumerate()
        .find(|(i, n)| names[..*i].contains(n))
    {
        anyhow::bail!(
            "two key names become the same variable name {}; rename one of them in the spec",
            dup.1
        );
    }

    match format {
        OutputsFormat::Text => printer.result(&outputs.text()),
        OutputsFormat::Json => {
            #[derive(serde::Serialize)]
            struct Document<'a> {
                format_version: &'static str,
                #[serde(flatten)]
                outputs: &'a ApiOutputs,
            }
            printer.json(&Document {
                format_version: "1.0",
                outputs: &outputs,
            })?
        }
        OutputsFormat::Env => printer.result(&outputs.env()),
        OutputsFormat::Github => {
            let gh = gh.context("GitHub Actions integration")?;
            // Masks first: from here on the runner hides the values in every log.
            github::emit(&outputs.github_masks());
            let pairs = outputs.github_outputs();
            gh.set_outputs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
            printer.status(&format!(
                "Wrote the outputs of {name:?} to $GITHUB_OUTPUT ({} key value(s) masked).",
                outputs.keys.len()
            ));
        }
    }
    Ok(ExitStatus::Success)
}
