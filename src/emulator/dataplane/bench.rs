//! `evctl bench fanout`: publish-to-delivery latency and delivered events per second of the
//! data plane on loopback, with one publisher and 1, 100 and 1000 subscribers on one channel,
//! and the emulator's memory per idle connection.
//!
//! Everything runs against real emulator processes (this binary, `evctl emulator`) over real
//! sockets: one with the shared-bytes broker, one with `--naive-fanout` (every delivery
//! serialised with serde for every subscriber, in the publisher's task) as the named
//! alternative, measured in the same run with the same clients. Latency is measured one event at
//! a time (the next is published once every subscriber has the previous one); throughput with
//! batches of 5 events and a bounded window of undelivered events, so that no queue overflows.
//! Memory is the child's VmRSS (from /proc) before and after opening idle, subscribed
//! connections. No result is asserted anywhere: this is a measurement, not a test.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::cli::BenchFanoutArgs;
use crate::control::ControlPlane;
use crate::exit::ExitStatus;
use crate::model::{self, AuthType};
use crate::output::Printer;
use crate::wire::{self, Authorization};

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const NAMESPACE: &str = "bench";
const CHANNEL: &str = "/bench/fanout";
/// Events in flight (published, not yet delivered to every subscriber) during the throughput
/// phase: well under the emulator's default queue capacity of 1000 messages per connection.
const WINDOW_EVENTS: u64 = 200;

/// One broker under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Broker {
    /// The emulator as shipped: each event encoded once, frames assembled from shared bytes.
    Shared,
    /// `--naive-fanout`: a full serde serialisation per subscriber per event.
    Naive,
}

#[derive(Debug, Clone, Serialize)]
struct Row {
    broker: Broker,
    subscribers: usize,
    latency_events: usize,
    p50_ms: f64,
    p99_ms: f64,
    throughput_events: usize,
    delivered_per_second: f64,
}

#[derive(Debug, Clone, Serialize)]
struct Memory {
    connections: usize,
    rss_before_kib: u64,
    rss_after_kib: u64,
    per_connection_kib: f64,
}

#[derive(Debug, Clone, Serialize)]
struct Report {
    event_bytes: usize,
    rows: Vec<Row>,
    memory: Memory,
    reproduce: &'static str,
}

const REPRODUCE: &str = "cargo build --release && target/release/evctl bench fanout";

/// Runs the benchmark and prints its report.
pub async fn fanout(args: BenchFanoutArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let needed = args.subscribers.iter().max().copied().unwrap_or(0) + args.idle_connections + 64;
    check_open_files(2 * needed)?;
    // Memory first, on a fresh process: after a fan-out run the allocator keeps the memory it
    // freed, and new connections would not show in VmRSS.
    printer.status(&format!(
        "memory: {} idle connections…",
        args.idle_connections
    ));
    let fresh = Emulator::start(Broker::Shared).await?;
    let memory = idle_memory(&fresh, &fresh.setup().await?, args.idle_connections).await?;
    drop(fresh);
    // Both brokers run side by side and are measured alternately, so that load from elsewhere
    // on the machine hits both alike.
    let mut brokers = Vec::new();
    for broker in [Broker::Shared, Broker::Naive] {
        let emulator = Emulator::start(broker).await?;
        let target = emulator.setup().await?;
        brokers.push((broker, emulator, target));
    }
    let mut rows = Vec::new();
    for &n in &args.subscribers {
        for (broker, _, target) in &brokers {
            printer.status(&format!("{broker:?} broker, {n} subscribers…"));
            rows.push(measure(target, *broker, n, &args).await?);
        }
    }
    let report = Report {
        event_bytes: args.event_bytes,
        rows,
        memory,
        reproduce: REPRODUCE,
    };
    match printer.format {
        crate::cli::OutputFormat::Json => printer.json(&report)?,
        _ => printer.result(&render(&report)),
    }
    Ok(ExitStatus::Success)
}

fn render(report: &Report) -> String {
    let mut out = format!(
        "Fan-out on loopback: 1 publisher, N subscribers on one channel, {}-byte events.\n\
         shared = the emulator's broker (each event encoded once); naive = --naive-fanout \
         (serialised per subscriber).\n\n\
         {:>11}  {:<7} {:>12} {:>12} {:>14}\n",
        report.event_bytes, "subscribers", "broker", "p50 latency", "p99 latency", "delivered/s"
    );
    for row in &report.rows {
        out.push_str(&format!(
            "{:>11}  {:<7} {:>9.3} ms {:>9.3} ms {:>14.0}\n",
            row.subscribers,
            format!("{:?}", row.broker).to_lowercase(),
            row.p50_ms,
            row.p99_ms,
            row.delivered_per_second
        ));
    }
    out.push('\n');
    for shared in report.rows.iter().filter(|r| r.broker == Broker::Shared) {
        if let Some(naive) = report
            .rows
            .iter()
            .find(|r| r.broker == Broker::Naive && r.subscribers == shared.subscribers)
        {
            out.push_str(&format!(
                "{:>5} subscribers: shared/naive throughput {:.2}x, p99 latency naive/shared {:.2}x\n",
                shared.subscribers,
                shared.delivered_per_second / naive.delivered_per_second.max(1e-9),
                naive.p99_ms / shared.p99_ms.max(1e-9),
            ));
        }
    }
    let m = &report.memory;
    out.push_str(&format!(
        "\nMemory: {:.1} KiB per idle subscribed connection ({} connections, emulator VmRSS \
         {} -> {} KiB).\nReproduce: {}\n",
        m.per_connection_kib, m.connections, m.rss_before_kib, m.rss_after_kib, report.reproduce
    ));
    out
}

/// The number of open files this process may have must cover both ends of every socket.
pub(crate) fn check_open_files(needed: usize) -> anyhow::Result<()> {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(soft) = soft
        && soft < needed
    {
        bail!(
            "this benchmark needs about {needed} open files but the limit is {soft}: raise it \
             (`ulimit -n {needed}`) or pass smaller --subscribers/--idle-connections"
        );
    }
    Ok(())
}

/// An emulator child process.
pub(crate) struct Emulator {
    child: tokio::process::Child,
    endpoint: String,
}

impl Emulator {
    pub(crate) async fn start(broker: Broker) -> anyhow::Result<Emulator> {
        use tokio::io::AsyncBufReadExt;
        let exe = std::env::current_exe().context("cannot find the evctl binary")?;
        let mut command = tokio::process::Command::new(exe);
        command
            .args(["--quiet", "emulator", "--listen", "127.0.0.1:0"])
            .args(if broker == Broker::Naive {
                &["--naive-fanout"][..]
            } else {
                &[][..]
            })
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .context("could not start `evctl emulator`")?;
        // Its first line on stdout is the control-plane endpoint.
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let endpoint = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .context("the emulator did not print its endpoint within 30 s")??
            .context("the emulator exited before printing its endpoint")?;
        Ok(Emulator {
            child,
            endpoint: endpoint.trim().to_string(),
        })
    }

    fn rss_kib(&self) -> anyhow::Result<u64> {
        let pid = self.child.id().context("the emulator exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .context("reading VmRSS needs Linux /proc")?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .context("no VmRSS in /proc/<pid>/status")
    }

    /// The emulator's control plane, with its default key pair: the bench needs nothing from
    /// the environment.
    pub(crate) async fn control(&self) -> anyhow::Result<crate::control::sdk::SdkControlPlane> {
        crate::control::sdk::SdkControlPlane::local(
            &self.endpoint,
            "us-east-1",
            &crate::signing::Credentials::new("test", "test", None),
            None,
            crate::control::RetryPolicy::default(),
        )
        .await
        .context("could not reach the emulator's control plane")
    }

    /// Creates an API key API with a `bench` namespace; returns where and how to connect.
    async fn setup(&self) -> anyhow::Result<Target> {
        let namespace = model::NamespaceConfig {
            name: NAMESPACE.into(),
            publish_auth_modes: Default::default(),
            subscribe_auth_modes: Default::default(),
            code_handlers: None,
            handler_configs: Default::default(),
            tags: Default::default(),
        };
        self.setup_with(&self.control().await?, &[namespace]).await
    }

    /// Creates an API key API with `namespaces`; returns where and how to connect.
    pub(crate) async fn setup_with(
        &self,
        control: &crate::control::sdk::SdkControlPlane,
        namespaces: &[model::NamespaceConfig],
    ) -> anyhow::Result<Target> {
        let api_key_only: model::AuthModes = [AuthType::ApiKey].into_iter().collect();
        let config = model::ApiConfig {
            name: "evctl-bench-fanout".into(),
            owner_contact: None,
            tags: Default::default(),
            auth_providers: vec![model::AuthProvider {
                auth_type: AuthType::ApiKey,
                cognito_config: None,
                openid_connect_config: None,
                lambda_authorizer_config: None,
            }],
            connection_auth_modes: api_key_only.clone(),
            default_publish_auth_modes: api_key_only.clone(),
            default_subscribe_auth_modes: api_key_only,
            log_config: None,
        };
        let api = control.create_api(&config, &Default::default()).await?;
        for namespace in namespaces {
            control.create_namespace(&api.id, namespace).await?;
        }
        let expires = time::OffsetDateTime::now_utc().unix_timestamp() + 86_400;
        let key = control.create_key(&api.id, "evctl:bench", expires).await?;
        let host = api.dns.context("the API has no dns")?.http;
        Ok(Target {
            api_id: api.id,
            host,
            key: key.id.expose().to_string(),
        })
    }
}

/// Where the data plane is and the key to use.
pub(crate) struct Target {
    pub(crate) api_id: String,
    host: String,
    key: String,
}

impl Target {
    pub(crate) fn auth(&self) -> Authorization {
        [
            ("host".to_string(), self.host.clone()),
            ("x-api-key".to_string(), self.key.clone()),
        ]
        .into_iter()
        .collect()
    }

    /// Opens an initialised connection, subscribed to the bench channel when `subscribe`.
    async fn connect(&self, subscribe: bool) -> anyhow::Result<Socket> {
        self.connect_to(subscribe.then_some(CHANNEL)).await
    }

    /// Opens an initialised connection, subscribed to `channel` (as id `s`) if given.
    pub(crate) async fn connect_to(&self, channel: Option<&str>) -> anyhow::Result<Socket> {
        let url = format!("ws://{}{}", self.host, wire::REALTIME_PATH);
        let mut request = url.into_client_request()?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_str(&crate::smoke::ws::subprotocols(&self.auth()))?,
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
        socket
            .send(Message::text(r#"{"type":"connection_init"}"#))
            .await?;
        expect(&mut socket, "connection_ack").await?;
        if let Some(channel) = channel {
            let message = serde_json::json!({"type":"subscribe","id":"s","channel":channel,
                "authorization": self.auth()});
            socket.send(Message::text(message.to_string())).await?;
            expect(&mut socket, "subscribe_success").await?;
        }
        Ok(socket)
    }
}

/// Reads until a message of type `kind` (skipping `ka`).
pub(crate) async fn expect(socket: &mut Socket, kind: &str) -> anyhow::Result<()> {
    let deadline = Duration::from_secs(30);
    loop {
        let message = tokio::time::timeout(deadline, socket.next())
            .await
            .with_context(|| format!("no {kind} within {deadline:?}"))?
            .with_context(|| format!("the connection closed before {kind}"))??;
        if let Message::Text(text) = message {
            let value: serde_json::Value = serde_json::from_str(text.as_str())?;
            match value["type"].as_str() {
                Some(t) if t == kind => return Ok(()),
                Some("ka") => continue,
                _ => bail!("expected {kind}, got {value}"),
            }
        }
    }
}

/// What subscriber tasks report.
#[derive(Default)]
struct Progress {
    /// Record latencies (the latency phase) or only count (the throughput phase).
    timing: std::sync::atomic::AtomicBool,
    delivered: AtomicU64,
    changed: Notify,
    latencies_us: std::sync::Mutex<Vec<u64>>,
}

impl Progress {
    async fn wait_for(&self, target: u64) {
        loop {
            let changed = self.changed.notified();
            if self.delivered.load(Ordering::Acquire) >= target {
                return;
            }
            changed.await;
        }
    }
}

/// Latency and throughput with `n` subscribers.
async fn measure(
    target: &Target,
    broker: Broker,
    n: usize,
    args: &BenchFanoutArgs,
) -> anyhow::Result<Row> {
    let clock = Instant::now();
    let progress = Arc::new(Progress::default());
    let mut readers = Vec::with_capacity(n);
    for _ in 0..n {
        let socket = target.connect(true).await?;
        let progress = progress.clone();
        readers.push(tokio::spawn(subscriber(socket, progress, clock)));
    }
    let (mut publish_tx, mut answers) = target.connect(false).await?.split();
    // The publisher's answers are read (and dropped) so that its socket never backs up.
    let publish_rx = tokio::spawn(async move { while let Some(Ok(_)) = answers.next().await {} });
    let padding = "x".repeat(args.event_bytes.saturating_sub(40));
    let event = |seq: u64| {
        let t = clock.elapsed().as_micros();
        format!(r#"{{"seq":{seq},"t":{t},"pad":"{padding}"}}"#)
    };
    let publish = |id: u64, events: Vec<String>| {
        let message = serde_json::json!({"type":"publish","id":format!("p{id}"),"channel":CHANNEL,
            "events": events, "authorization": target.auth()});
        Message::text(message.to_string())
    };

    // Latency: one event at a time, each delivered to everyone before the next.
    progress.timing.store(true, Ordering::Release);
    let latency_events = latency_events(args.events, n);
    let mut sent = 0u64;
    for _ in 0..latency_events {
        publish_tx.send(publish(sent, vec![event(sent)])).await?;
        sent += 1;
        wait(&progress, sent * n as u64).await?;
    }
    let mut latencies = std::mem::take(
        &mut *progress
            .latencies_us
            .lock()
            .unwrap_or_else(|e| e.into_inner()),
    );
    latencies.sort_unstable();
    let percentile = |p: f64| -> f64 {
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies.get(i).copied().unwrap_or(0) as f64 / 1000.0
    };
    let (p50_ms, p99_ms) = (percentile(0.50), percentile(0.99));
    progress.timing.store(false, Ordering::Release);

    // Throughput: batches of 5 within a bounded window of undelivered events.
    let throughput_events = args.events.max(5);
    let base = sent * n as u64;
    let started = Instant::now();
    let mut published = 0u64;
    while published < throughput_events as u64 {
        let in_flight_target = (published + 5).saturating_sub(WINDOW_EVENTS) * n as u64;
        wait(&progress, base + in_flight_target).await?;
        let batch: Vec<String> = (0..5).map(|i| event(sent + i)).collect();
        publish_tx.send(publish(sent, batch)).await?;
        sent += 5;
        published += 5;
    }
    wait(&progress, base + published * n as u64).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let delivered_per_second = (published * n as u64) as f64 / elapsed.max(1e-9);

    let _ = publish_tx.close().await;
    publish_rx.abort();
    for reader in readers {
        reader.abort();
    }
    Ok(Row {
        broker,
        subscribers: n,
        latency_events,
        p50_ms,
        p99_ms,
        throughput_events: published as usize,
        delivered_per_second,
    })
}

/// Fewer one-at-a-time events for large fan-outs, so that every row takes similar time.
fn latency_events(events: usize, n: usize) -> usize {
    (events * 100 / n.max(100)).clamp(50.min(events), events)
}

async fn wait(progress: &Progress, target: u64) -> anyhow::Result<()> {
    tokio::time::timeout(Duration::from_secs(120), progress.wait_for(target))
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "deliveries stalled at {} of {target}: was a subscriber closed for being too slow?",
                progress.delivered.load(Ordering::Acquire)
            )
        })
}

async fn subscriber(mut socket: Socket, progress: Arc<Progress>, clock: Instant) {
    while let Some(Ok(message)) = socket.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let text = text.as_str();
        if !text.starts_with(r#"{"type":"data""#) {
            continue;
        }
        if progress.timing.load(Ordering::Acquire) {
            // {"type":"data","id":"s","event":"{\"seq\":1,\"t\":123,…}"}: read t without
            // a full parse, as cheaply for both brokers.
            if let Some(t) = text
                .split_once(r#"\"t\":"#)
                .and_then(|(_, rest)| rest.split(',').next())
                .and_then(|t| t.parse::<u128>().ok())
            {
                let latency = clock.elapsed().as_micros().saturating_sub(t) as u64;
                progress
                    .latencies_us
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(latency);
            }
        }
        progress.delivered.fetch_add(1, Ordering::AcqRel);
        progress.changed.notify_waiters();
    }
}

/// The emulator's memory per idle connection (subscribed, nothing flowing).
async fn idle_memory(emulator: &Emulator, target: &Target, count: usize) -> anyhow::Result<Memory> {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = emulator.rss_kib()?;
    let mut sockets = Vec::with_capacity(count);
    for _ in 0..count {
        sockets.push(target.connect(true).await?);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = emulator.rss_kib()?;
    drop(sockets);
    Ok(Memory {
        connections: count,
        rss_before_kib: before,
        rss_after_kib: after,
        per_connection_kib: after.saturating_sub(before) as f64 / count.max(1) as f64,
    })
}
