//! `evctl bench handlers`: what a namespace handler adds to a publish, against the named
//! alternative of the same publish to a namespace without one, in the same run.
//!
//! One real emulator process (this binary), one API with three namespaces: `plain` (no
//! handler), `passthrough` (`onPublish` returns `ctx.events`) and `chat` (the chat template's
//! `handlers/chat.js`). One publisher socket publishes one event at a time over the WebSocket,
//! rotating over the namespaces so that load from elsewhere hits all alike; latency is from the
//! publish to the `data` message on a subscriber of that namespace. Then the `chat` code is
//! edited (UpdateChannelNamespace) `--edits` times and the first publish after each edit is
//! timed: that one includes compiling the new code version. Nothing is asserted.

use std::time::{Duration, Instant};

use futures_util::SinkExt;
use serde::Serialize;
use tokio_tungstenite::tungstenite::Message;

use super::super::bench::{Broker, Emulator, Socket, Target, check_open_files, expect};
use crate::cli::BenchHandlersArgs;
use crate::control::ControlPlane;
use crate::exit::ExitStatus;
use crate::model::NamespaceConfig;
use crate::output::Printer;

const CHAT: &str = include_str!("../../../../templates/handlers/chat.js");
const PASSTHROUGH: &str = "export function onPublish(ctx) {\n  return ctx.events;\n}\n";
const REPRODUCE: &str = "cargo build --release && target/release/evctl bench handlers";

#[derive(Debug, Clone, Serialize)]
struct Row {
    namespace: &'static str,
    handler: &'static str,
    events: usize,
    p50_ms: f64,
    p99_ms: f64,
    /// p50 minus the p50 of `plain`.
    added_p50_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
struct Report {
    event_bytes: usize,
    rows: Vec<Row>,
    edits: usize,
    /// Median latency of the first publish after an edit (compile included).
    first_after_edit_p50_ms: f64,
    reproduce: &'static str,
}

fn namespace(name: &str, code: Option<&str>) -> NamespaceConfig {
    NamespaceConfig {
        name: name.into(),
        publish_auth_modes: Default::default(),
        subscribe_auth_modes: Default::default(),
        code_handlers: code.map(str::to_string),
        handler_configs: Default::default(),
        tags: Default::default(),
    }
}

/// Runs the benchmark and prints its report.
pub async fn run(args: BenchHandlersArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    check_open_files(64)?;
    let emulator = Emulator::start(Broker::Shared).await?;
    let control = emulator.control().await?;
    let cases: [(&'static str, &'static str, Option<&str>); 3] = [
        ("plain", "none (the alternative)", None),
        ("passthrough", "return ctx.events", Some(PASSTHROUGH)),
        ("chat", "templates/handlers/chat.js", Some(CHAT)),
    ];
    let namespaces: Vec<NamespaceConfig> = cases
        .iter()
        .map(|(name, _, code)| namespace(name, *code))
        .collect();
    let target = emulator.setup_with(&control, &namespaces).await?;
    let mut subscribers = Vec::new();
    for (name, _, _) in &cases {
        subscribers.push(target.connect_to(Some(&format!("/{name}/bench"))).await?);
    }
    let mut publisher = Publisher {
        target: &target,
        socket: target.connect_to(None).await?,
        text: "x".repeat(args.event_bytes.saturating_sub(30)),
        seq: 0,
    };

    printer.status(&format!(
        "{} publishes to each of {} namespaces…",
        args.events,
        cases.len()
    ));
    // Warm-up: every handler thread compiles the code once.
    for _ in 0..20 {
        for (i, (name, _, _)) in cases.iter().enumerate() {
            publisher.publish(&mut subscribers[i], name).await?;
        }
    }
    let mut latencies: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
    for round in 0..args.events {
        for k in 0..cases.len() {
            let i = (round + k) % cases.len();
            let name = cases[i].0;
            latencies[i].push(publisher.publish(&mut subscribers[i], name).await?);
        }
    }

    printer.status(&format!("{} edits of the chat handler…", args.edits));
    let chat = cases.len() - 1;
    let mut after_edit = Vec::new();
    for edit in 0..args.edits {
        let edited = namespace("chat", Some(&format!("{CHAT}\n// edit {edit}\n")));
        control.update_namespace(&target.api_id, &edited).await?;
        after_edit.push(publisher.publish(&mut subscribers[chat], "chat").await?);
    }

    let mut rows = Vec::new();
    let mut plain_p50 = 0.0;
    for ((name, handler, _), mut samples) in cases.iter().zip(latencies) {
        let (p50_ms, p99_ms) = (
            percentile(&mut samples, 0.5),
            percentile(&mut samples, 0.99),
        );
        if rows.is_empty() {
            plain_p50 = p50_ms;
        }
        rows.push(Row {
            namespace: name,
            handler,
            events: samples.len(),
            p50_ms,
            p99_ms,
            added_p50_ms: p50_ms - plain_p50,
        });
    }
    let report = Report {
        event_bytes: args.event_bytes,
        rows,
        edits: args.edits,
        first_after_edit_p50_ms: percentile(&mut after_edit, 0.5),
        reproduce: REPRODUCE,
    };
    match printer.format {
        crate::cli::OutputFormat::Json => printer.json(&report)?,
        _ => printer.result(&render(&report)),
    }
    Ok(ExitStatus::Success)
}

/// The publishing connection.
struct Publisher<'a> {
    target: &'a Target,
    socket: Socket,
    text: String,
    seq: u64,
}

impl Publisher<'_> {
    /// Publishes one event to `/<namespace>/bench`; returns the time until `subscriber` had it.
    async fn publish(
        &mut self,
        subscriber: &mut Socket,
        namespace: &str,
    ) -> anyhow::Result<Duration> {
        self.seq += 1;
        let event = format!(r#"{{"seq":{},"text":"{}"}}"#, self.seq, self.text);
        let message = serde_json::json!({"type":"publish","id":format!("p{}", self.seq),
            "channel":format!("/{namespace}/bench"),"events":[event],
            "authorization":self.target.auth()});
        let started = Instant::now();
        self.socket.send(Message::text(message.to_string())).await?;
        expect(subscriber, "data").await?;
        let latency = started.elapsed();
        expect(&mut self.socket, "publish_success").await?;
        Ok(latency)
    }
}

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort_unstable();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

fn render(report: &Report) -> String {
    let mut out = format!(
        "Publish-to-delivery over WebSocket on loopback, one event at a time, {}-byte events.\n\n\
         {:<12} {:<28} {:>12} {:>12} {:>14}\n",
        report.event_bytes, "namespace", "onPublish", "p50", "p99", "added p50"
    );
    for row in &report.rows {
        out.push_str(&format!(
            "{:<12} {:<28} {:>9.3} ms {:>9.3} ms {:>11.3} ms\n",
            row.namespace, row.handler, row.p50_ms, row.p99_ms, row.added_p50_ms
        ));
    }
    out.push_str(&format!(
        "\nFirst publish after editing the chat handler (compile included), median of {}: \
         {:.3} ms.\nReproduce: {}\n",
        report.edits, report.first_after_edit_p50_ms, report.reproduce
    ));
    out
}
