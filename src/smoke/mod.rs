//! The data-plane client (HTTP publish, real-time WebSocket, the auth each mode puts on them)
//! and the smoke test built on it: prove that a deployed API delivers events with each auth
//! mode its spec declares.
//!
//! Everything here speaks the shapes of [`crate::wire`], so the client and the emulator agree by
//! construction; SigV4 comes from [`crate::signing`], never from a second signer. Finding the
//! API and its keys is the control plane's job ([`crate::control`]); the command module turns
//! those into a [`Target`] and [`Credentials`].

pub mod auth;
pub mod check;
pub mod client;
pub mod http;
pub mod report;
pub mod target;
pub mod tls;
pub mod ws;

pub use auth::{Credential, Credentials};
pub use check::{Scope, ScopeModes, Settings, Target};
pub use client::{DataPlaneError, Endpoints};
pub use report::Report;

use std::time::Instant;

use crate::cli::OutputFormat;
use crate::output::Printer;

/// Runs the smoke test on `target` and returns its report. Fails only when the data plane
/// cannot be reached within `settings.wait`; failed checks are rows of the report.
pub async fn smoke_test(
    target: &Target,
    credentials: &Credentials,
    settings: &Settings,
    printer: &Printer,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    printer.status(&format!(
        "Smoke testing {} ({}) at {} and {} (run {})",
        target.api_name,
        target.api_id,
        target.endpoints.publish_url,
        target.endpoints.realtime_url,
        settings.run_id
    ));
    let checks = check::run(target, credentials, settings, printer).await?;
    Ok(Report::new(
        report::ApiRef {
            name: target.api_name.clone(),
            id: target.api_id.clone(),
        },
        settings.run_id.clone(),
        started.elapsed(),
        checks,
    ))
}

/// The report in the user's output format.
pub fn render(format: OutputFormat, report: &Report) -> anyhow::Result<String> {
    Ok(match format {
        OutputFormat::Text => report::render_text(report),
        OutputFormat::Json => serde_json::to_string_pretty(report)?,
        OutputFormat::Markdown => report::render_markdown(report),
        OutputFormat::Junit => report::render_junit(report),
    })
}
