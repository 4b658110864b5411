//! The smoke test itself: what to check on an API ([`Target`]), running the checks, and
//! turning what happened into [`Check`] rows.
//!
//! For every namespace (or smoke channel) and every auth mode it allows: connect, subscribe to
//! a channel unique to this run, publish over HTTP and over the WebSocket, and check that each
//! event arrives exactly once with its payload intact. Then a wildcard subscription, and an
//! unauthenticated publish that must be rejected. "Exactly once" is checked without sleeping:
//! after the checked events, a fence event is published on the same channel, and every copy
//! that arrived before the fence is counted.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::auth::{Credential, Credentials};
use super::client::{DataPlaneError, Endpoints};
use super::http::HttpPublisher;
use super::report::{Check, CheckPath, ModesUsed, Outcome, millis};
use super::ws::{Connection, Delivery, Subscription};
use crate::model::{AuthModes, AuthType};
use crate::output::Printer;
use crate::signing::{connect_body, publish_body, subscribe_body};
use crate::wire::{FailedEvent, PublishedEvent};

/// How the reason of an event that never arrived begins.
const NOT_DELIVERED: &str = "the event was not delivered";

/// Most segments in a channel path.
const MAX_SEGMENTS: usize = 5;

/// The API under test, as the control plane reported it.
#[derive(Debug, Clone)]
pub struct Target {
    pub api_name: String,
    pub api_id: String,
    pub endpoints: Endpoints,
    pub connection_modes: AuthModes,
    pub scopes: Vec<Scope>,
}

/// Where one group of checks runs: a namespace, or a channel of the spec's smoke section.
#[derive(Debug, Clone)]
pub struct Scope {
    pub namespace: String,
    /// The run's channels go under this path, e.g. `/default` or `/chat/rooms`.
    pub base: String,
    /// The namespace's effective auth modes; `None` when the namespace is not on the API.
    pub modes: Option<ScopeModes>,
    /// An onSubscribe handler decides which subscriptions are allowed: a refused wildcard
    /// subscription is its decision, not a fault.
    pub subscribe_handler: bool,
    /// An onPublish handler decides what is broadcast: an undelivered event may be its doing,
    /// and the failure says so.
    pub publish_handler: bool,
}

/// Effective auth modes of a namespace (its own, else the API's defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeModes {
    pub publish: AuthModes,
    pub subscribe: AuthModes,
}

impl ScopeModes {
    /// Every mode the namespace allows for something, in a stable order.
    fn all(&self) -> AuthModes {
        self.publish.union(&self.subscribe).copied().collect()
    }
}

/// How the checks run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long each step (answer, delivery) may take.
    pub timeout: Duration,
    /// How long to keep retrying an unreachable endpoint, from the start of the run.
    pub wait: Duration,
    pub tls: Arc<rustls::ClientConfig>,
    /// Unique to this run: part of every channel it uses.
    pub run_id: String,
}

/// A fresh run id, `smoke-` and 10 random hex digits: a valid channel segment prefix.
pub fn new_run_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("smoke-{}", &id[..10])
}

/// Runs every check on `target` and returns the rows in a stable order. Fails only when the
/// data plane cannot be reached within `settings.wait`.
pub async fn run(
    target: &Target,
    credentials: &Credentials,
    settings: &Settings,
    printer: &Printer,
) -> anyhow::Result<Vec<Check>> {
    let runner = Runner {
        target,
        credentials,
        settings,
        printer,
        http: HttpPublisher::new(
            &target.endpoints.publish_url,
            settings.tls.clone(),
            settings.timeout,
        )?,
        wait_deadline: Instant::now() + settings.wait,
    };
    runner.wait_until_reachable().await?;
    let scopes = target.scopes.iter().map(|scope| runner.check_scope(scope));
    let rows = futures_util::future::join_all(scopes).await;
    Ok(rows.into_iter().flatten().collect())
}

struct Runner<'a> {
    target: &'a Target,
    credentials: &'a Credentials,
    settings: &'a Settings,
    printer: &'a Printer,
    http: HttpPublisher,
    wait_deadline: Instant,
}

/// A failed step: what the row will say, and the service's error type when it gave one.
#[derive(Debug)]
struct Failure {
    reason: String,
    error_type: Option<String>,
}

impl Failure {
    fn new(reason: impl Into<String>) -> Failure {
        Failure {
            reason: reason.into(),
            error_type: None,
        }
    }

    fn from_error(step: &str, err: &DataPlaneError) -> Failure {
        Failure {
            reason: format!("{step}: {err}"),
            error_type: err.error_type().map(str::to_string),
        }
    }
}

/// The credentials a mode's checks use for each step.
struct Plan<'c> {
    connect: &'c Credential,
    subscribe: &'c Credential,
    publish: &'c Credential,
}

impl Plan<'_> {
    fn modes(&self) -> ModesUsed {
        ModesUsed {
            connect: self.connect.mode(),
            subscribe: self.subscribe.mode(),
            publish: self.publish.mode(),
        }
    }
}

impl Runner<'_> {
    /// Retries `op` while the endpoint is unreachable and the run's `--wait` has time left,
    /// saying so on stderr.
    async fn retrying<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T, DataPlaneError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, DataPlaneError>>,
    {
        let mut delay = Duration::from_millis(200);
        loop {
            match op().await {
                Err(e) if e.is_unreachable() && Instant::now() + delay < self.wait_deadline => {
                    let left = self.wait_deadline.saturating_duration_since(Instant::now());
                    self.printer.status(&format!(
                        "waiting for {what}: {e}; retrying in {} ({}s of --wait left)",
                        humantime::format_duration(delay),
                        left.as_secs()
                    ));
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
                other => return other,
            }
        }
    }

    /// Waits (up to `--wait`) until both endpoints answer, so that a new API's DNS settles
    /// before the checks start their clocks. Any answer counts, a rejection included.
    async fn wait_until_reachable(&self) -> anyhow::Result<()> {
        let endpoints = &self.target.endpoints;
        let probe_channel = match self.target.scopes.first() {
            Some(scope) => format!("{}/{}-probe", scope.base, self.settings.run_id),
            None => return Ok(()),
        };
        let body = publish_body(&probe_channel, &[]);
        let http = self
            .retrying(&endpoints.publish_url, || {
                self.http.publish(body.clone(), &[])
            })
            .await;
        if let Err(e @ DataPlaneError::Unreachable { .. }) = http {
            anyhow::bail!(
                "the HTTP endpoint did not answer within --wait {}: {e}",
                humantime::format_duration(self.settings.wait)
            );
        }
        let Some(credential) = self
            .credentials
            .pick(AuthType::ApiKey, &self.target.connection_modes)
        else {
            return Ok(());
        };
        match self.connect(credential).await {
            Ok(conn) => conn.close().await,
            Err(e @ DataPlaneError::Unreachable { .. }) => anyhow::bail!(
                "the real-time endpoint did not answer within --wait {}: {e}",
                humantime::format_duration(self.settings.wait)
            ),
            // The checks report other failures (e.g. a denied connection) row by row.
            Err(_) => {}
        }
        Ok(())
    }

    async fn connect(&self, credential: &Credential) -> Result<Connection, DataPlaneError> {
        let endpoints = &self.target.endpoints;
        let auth = credential
            .ws_authorization(&endpoints.http_host, connect_body())
            .map_err(|e| DataPlaneError::Credentials(format!("{e:#}")))?;
        self.retrying(&endpoints.realtime_url, || {
            Connection::connect(
                &endpoints.realtime_url,
                &auth,
                Some(self.settings.tls.clone()),
                self.settings.timeout,
            )
        })
        .await
    }

    async fn subscribe(
        &self,
        conn: &Connection,
        channel: &str,
        credential: &Credential,
    ) -> Result<Subscription, DataPlaneError> {
        let body = subscribe_body(channel);
        let auth = credential
            .ws_authorization(&self.target.endpoints.http_host, &body)
            .map_err(|e| DataPlaneError::Credentials(format!("{e:#}")))?;
        conn.subscribe(channel, auth, self.settings.timeout).await
    }

    async fn publish_http(
        &self,
        channel: &str,
        events: &[String],
        credential: Option<&Credential>,
    ) -> Result<(Vec<PublishedEvent>, Vec<FailedEvent>), DataPlaneError> {
        let body = publish_body(channel, events);
        let headers = match credential {
            Some(c) => c
                .http_headers(&self.target.endpoints.http_host, &body)
                .map_err(|e| DataPlaneError::Credentials(format!("{e:#}")))?,
            None => Vec::new(),
        };
        let answer = self
            .retrying(self.http.url(), || {
                self.http.publish(body.clone(), &headers)
            })
            .await?;
        Ok((answer.successful, answer.failed))
    }

    async fn publish_ws(
        &self,
        conn: &Connection,
        channel: &str,
        events: &[String],
        credential: &Credential,
    ) -> Result<(Vec<PublishedEvent>, Vec<FailedEvent>), DataPlaneError> {
        let body = publish_body(channel, events);
        let auth = credential
            .ws_authorization(&self.target.endpoints.http_host, &body)
            .map_err(|e| DataPlaneError::Credentials(format!("{e:#}")))?;
        let outcome = conn
            .publish(channel, events.to_vec(), auth, self.settings.timeout)
            .await?;
        Ok((outcome.successful, outcome.failed))
    }

    fn row(&self, scope: &Scope, channel: &str, path: CheckPath) -> Check {
        Check {
            namespace: scope.namespace.clone(),
            channel: channel.to_string(),
            path,
            auth_mode: None,
            result: Outcome::Pass,
            reason: None,
            error_type: None,
            latency_ms: None,
            modes: None,
        }
    }

    /// The run's channel for one check: the scope's base plus a segment unique to this run.
    /// A base that is already as deep as a channel may be is used as it is (events of other
    /// runs there are told apart by their nonces).
    fn channel(&self, scope: &Scope, suffix: &str) -> String {
        if segments(&scope.base) >= MAX_SEGMENTS {
            scope.base.clone()
        } else {
            format!("{}/{}-{suffix}", scope.base, self.settings.run_id)
        }
    }

    /// Publishes `event` on `channel` (over HTTP, or over `socket`) and waits for it to arrive
    /// in `inbox`; returns the latency from publish to delivery.
    async fn publish_and_receive(
        &self,
        inbox: &mut Inbox,
        event: &Expected,
        socket: Option<&Connection>,
        credential: &Credential,
    ) -> Result<Duration, Failure> {
        let started = Instant::now();
        let events = std::slice::from_ref(&event.text);
        // The step names the publishing mode: it is not the row's own where the namespace does
        // not let that mode publish (the row then subscribes with it and publishes with another).
        let (step, answer) = match socket {
            None => (
                format!("HTTP publish with {}", credential.mode()),
                self.publish_http(&event.channel, events, Some(credential))
                    .await,
            ),
            Some(conn) => (
                format!("WebSocket publish with {}", credential.mode()),
                self.publish_ws(conn, &event.channel, events, credential)
                    .await,
            ),
        };
        check_published(&step, answer)?;
        inbox.wait_for(event, started, self.settings.timeout).await
    }

    async fn check_scope(&self, scope: &Scope) -> Vec<Check> {
        let Some(modes) = &scope.modes else {
            let mut row = self.row(scope, &scope.base, CheckPath::Namespace);
            row.result = Outcome::Fail;
            row.reason = Some(format!(
                "namespace `{}` is not on the API: run `evctl apply` first",
                scope.namespace
            ));
            row.error_type = Some("NotFoundException".into());
            return vec![row];
        };
        let mut rows = Vec::new();
        let mut passed: Option<AuthType> = None;
        for mode in modes.all() {
            let mode_rows = self.check_mode(scope, modes, mode).await;
            if passed.is_none() && mode_rows.iter().all(|r| r.result == Outcome::Pass) {
                passed = Some(mode);
            }
            rows.extend(mode_rows);
        }
        rows.push(self.check_wildcard(scope, modes, passed).await);
        rows.push(self.check_unauthenticated(scope).await);
        if scope.publish_handler {
            for row in &mut rows {
                if let Some(reason) = row.reason.as_mut().filter(|r| r.starts_with(NOT_DELIVERED)) {
                    reason.push_str(
                        " (the namespace's onPublish handler decides what is broadcast: it \
                         must return the events, and [] or null broadcasts nothing)",
                    );
                }
            }
        }
        rows
    }

    /// Chooses the credentials for `mode`'s checks: `mode` itself wherever the API allows it,
    /// another mode with credentials where it does not.
    fn plan(&self, modes: &ScopeModes, mode: AuthType) -> Result<Plan<'_>, String> {
        self.credentials.get(mode)?;
        let pick = |allowed: &AuthModes, step: &str| {
            self.credentials.pick(mode, allowed).ok_or_else(|| {
                format!(
                    "no credentials for any auth mode allowed to {step} ({})",
                    list(allowed)
                )
            })
        };
        Ok(Plan {
            connect: pick(&self.target.connection_modes, "connect")?,
            subscribe: pick(&modes.subscribe, "subscribe")?,
            publish: pick(&modes.publish, "publish")?,
        })
    }

    /// The HTTP and WS rows for one auth mode of a scope.
    async fn check_mode(&self, scope: &Scope, modes: &ScopeModes, mode: AuthType) -> Vec<Check> {
        let channel = self.channel(scope, &slug(mode));
        let mut http_row = self.row(scope, &channel, CheckPath::Http);
        http_row.auth_mode = Some(mode);
        let mut ws_row = http_row.clone();
        ws_row.path = CheckPath::Ws;
        let plan = match self.plan(modes, mode) {
            Ok(plan) => plan,
            Err(reason) => {
                for row in [&mut http_row, &mut ws_row] {
                    row.result = Outcome::Skipped;
                    row.reason = Some(reason.clone());
                }
                return vec![http_row, ws_row];
            }
        };
        http_row.modes = Some(plan.modes());
        ws_row.modes = Some(plan.modes());
        let (http, ws) = self.deliver_both(&channel, &plan).await;
        apply(&mut http_row, http);
        apply(&mut ws_row, ws);
        self.printer.detail(&format!(
            "smoke: {} {mode}: HTTP {:?}, WS {:?}",
            scope.namespace, http_row.result, ws_row.result
        ));
        vec![http_row, ws_row]
    }

    /// Subscribes on `channel`, publishes one event over HTTP and one over the socket, and
    /// checks each was delivered exactly once, intact.
    async fn deliver_both(
        &self,
        channel: &str,
        plan: &Plan<'_>,
    ) -> (Result<Duration, Failure>, Result<Duration, Failure>) {
        let conn = match self.connect(plan.connect).await {
            Ok(conn) => conn,
            Err(e) => {
                let step = format!("connect with {}", plan.connect.mode());
                return (
                    Err(Failure::from_error(&step, &e)),
                    Err(Failure::from_error(&step, &e)),
                );
            }
        };
        let sub = match self.subscribe(&conn, channel, plan.subscribe).await {
            Ok(sub) => sub,
            Err(e) => {
                conn.close().await;
                let step = format!("subscribe to {channel} with {}", plan.subscribe.mode());
                return (
                    Err(Failure::from_error(&step, &e)),
                    Err(Failure::from_error(&step, &e)),
                );
            }
        };
        let mut inbox = Inbox::new(sub, &self.settings.run_id);
        let http_event = inbox.expect(channel);
        let http = self
            .publish_and_receive(&mut inbox, &http_event, None, plan.publish)
            .await;
        let ws_event = inbox.expect(channel);
        let ws = self
            .publish_and_receive(&mut inbox, &ws_event, Some(&conn), plan.publish)
            .await;
        // The fence: once it arrives, duplicates of the events before it would have too.
        let fence = inbox.expect(channel);
        let fenced = self
            .publish_and_receive(&mut inbox, &fence, Some(&conn), plan.publish)
            .await;
        let http =
            http.and_then(|latency| inbox.exactly_once(&http_event, &fenced).map(|()| latency));
        let ws = ws.and_then(|latency| inbox.exactly_once(&ws_event, &fenced).map(|()| latency));
        let unsubscribed = conn
            .unsubscribe(inbox.into_subscription(), self.settings.timeout)
            .await;
        conn.close().await;
        let ws = ws.and_then(|latency| match unsubscribed {
            Ok(()) => Ok(latency),
            Err(e) => Err(Failure::from_error("unsubscribe", &e)),
        });
        (http, ws)
    }

    /// A `/*` subscription receives an event published one level below it.
    async fn check_wildcard(
        &self,
        scope: &Scope,
        modes: &ScopeModes,
        passed: Option<AuthType>,
    ) -> Check {
        let parent = self.channel(scope, "wild");
        let channel = format!("{parent}/a");
        let mut row = self.row(scope, &channel, CheckPath::Wildcard);
        if segments(&channel) > MAX_SEGMENTS {
            row.result = Outcome::Skipped;
            row.reason = Some(format!(
                "{} is too deep for a wildcard check (at most {MAX_SEGMENTS} segments)",
                scope.base
            ));
            return row;
        }
        let Some(mode) = passed else {
            row.result = Outcome::Skipped;
            row.reason = Some("no auth mode passed the HTTP and WS checks".into());
            return row;
        };
        row.auth_mode = Some(mode);
        let plan = match self.plan(modes, mode) {
            Ok(plan) => plan,
            Err(reason) => {
                row.result = Outcome::Skipped;
                row.reason = Some(reason);
                return row;
            }
        };
        row.modes = Some(plan.modes());
        let result = async {
            let conn = self
                .connect(plan.connect)
                .await
                .map_err(|e| Failure::from_error("connect", &e))?;
            let pattern = format!("{parent}/*");
            let sub = match self.subscribe(&conn, &pattern, plan.subscribe).await {
                Ok(sub) => sub,
                Err(e) => {
                    conn.close().await;
                    let refused = matches!(e, DataPlaneError::Rejected { .. });
                    if refused && scope.subscribe_handler {
                        return Ok(Err(format!(
                            "the namespace's onSubscribe handler refused {pattern} ({e})"
                        )));
                    }
                    return Err(Failure::from_error(&format!("subscribe to {pattern}"), &e));
                }
            };
            let mut inbox = Inbox::new(sub, &self.settings.run_id);
            let event = inbox.expect(&channel);
            let delivered = self
                .publish_and_receive(&mut inbox, &event, None, plan.publish)
                .await;
            let fence = inbox.expect(&format!("{parent}/b"));
            let fenced = self
                .publish_and_receive(&mut inbox, &fence, None, plan.publish)
                .await;
            let result = delivered.and_then(|l| inbox.exactly_once(&event, &fenced).map(|()| l));
            conn.close().await;
            result.map(Ok)
        }
        .await;
        match result {
            Ok(Err(skipped)) => {
                row.result = Outcome::Skipped;
                row.reason = Some(skipped);
            }
            Ok(Ok(latency)) => apply(&mut row, Ok(latency)),
            Err(failure) => apply(&mut row, Err(failure)),
        }
        row
    }

    /// An HTTP publish without any credentials must be rejected.
    async fn check_unauthenticated(&self, scope: &Scope) -> Check {
        let channel = self.channel(scope, "noauth");
        let mut row = self.row(scope, &channel, CheckPath::Unauthenticated);
        let event = json!({ "evctl": "smoke", "run": self.settings.run_id }).to_string();
        let started = Instant::now();
        let answer = self.publish_http(&channel, &[event], None).await;
        row.latency_ms = Some(millis(started.elapsed()));
        match answer {
            Err(e @ DataPlaneError::Rejected { .. }) => {
                row.reason = Some(format!("rejected: {e}"));
                row.error_type = e.error_type().map(str::to_string);
            }
            Ok(_) => {
                row.result = Outcome::Fail;
                row.reason = Some("the service accepted a publish without credentials".into());
            }
            Err(e) => {
                let failure = Failure::from_error("publish without credentials", &e);
                row.result = Outcome::Fail;
                row.reason = Some(failure.reason);
            }
        }
        row
    }
}

/// Records a step's result on its row.
fn apply(row: &mut Check, result: Result<Duration, Failure>) {
    match result {
        Ok(latency) => {
            row.result = Outcome::Pass;
            row.latency_ms = Some(millis(latency));
        }
        Err(failure) => {
            row.result = Outcome::Fail;
            row.reason = Some(failure.reason);
            row.error_type = failure.error_type;
        }
    }
}

/// A publish answer must list the one event as successful and none as failed.
fn check_published(
    step: &str,
    answer: Result<(Vec<PublishedEvent>, Vec<FailedEvent>), DataPlaneError>,
) -> Result<(), Failure> {
    let (successful, failed) = answer.map_err(|e| Failure::from_error(step, &e))?;
    if let Some(f) = failed.first() {
        return Err(Failure {
            reason: format!(
                "{step}: the service failed the event: {}{}",
                f.code.as_deref().unwrap_or("(no code)"),
                f.message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ),
            error_type: f.code.clone(),
        });
    }
    if !successful.iter().any(|s| s.index == 0) {
        return Err(Failure::new(format!(
            "{step}: the answer lists no successful event"
        )));
    }
    Ok(())
}

/// One event this run published and expects back.
#[derive(Debug, Clone)]
struct Expected {
    nonce: String,
    channel: String,
    /// The payload as published: a JSON text.
    text: String,
}

/// What arrived on a subscription, matched to the events this run published.
struct Inbox {
    sub: Subscription,
    run_id: String,
    expected: HashMap<String, Value>,
    /// Arrival times, by nonce.
    arrived: HashMap<String, Vec<Instant>>,
    /// Why a delivery of a nonce did not match what was published.
    damaged: HashMap<String, String>,
    /// Deliveries that carried no nonce of this run.
    strangers: Vec<String>,
    broadcast_errors: Vec<String>,
}

impl Inbox {
    fn new(sub: Subscription, run_id: &str) -> Inbox {
        Inbox {
            sub,
            run_id: run_id.to_string(),
            expected: HashMap::new(),
            arrived: HashMap::new(),
            damaged: HashMap::new(),
            strangers: Vec::new(),
            broadcast_errors: Vec::new(),
        }
    }

    fn into_subscription(self) -> Subscription {
        self.sub
    }

    /// A new event to publish on `channel`, registered as expected.
    fn expect(&mut self, channel: &str) -> Expected {
        let nonce = uuid::Uuid::new_v4().to_string();
        let payload = payload(&self.run_id, channel, &nonce);
        let text = payload.to_string();
        self.expected.insert(nonce.clone(), payload);
        Expected {
            text,
            nonce,
            channel: channel.to_string(),
        }
    }

    /// Waits until `event` has arrived (or `timeout` after `started`) and returns its latency.
    async fn wait_for(
        &mut self,
        event: &Expected,
        started: Instant,
        timeout: Duration,
    ) -> Result<Duration, Failure> {
        let deadline = started + timeout;
        loop {
            if let Some(reason) = self.damaged.get(&event.nonce) {
                return Err(Failure::new(reason.clone()));
            }
            if let Some(at) = self.arrived.get(&event.nonce).and_then(|v| v.first()) {
                return Ok(at.saturating_duration_since(started));
            }
            match self.sub.next(deadline).await {
                Ok(Some(delivery)) => self.record(delivery),
                Ok(None) => return Err(self.not_delivered(timeout)),
                Err(e) => return Err(Failure::from_error("waiting for the event", &e)),
            }
        }
    }

    /// After the fence arrived, `event` must have arrived exactly once.
    fn exactly_once(
        &mut self,
        event: &Expected,
        fence: &Result<Duration, Failure>,
    ) -> Result<(), Failure> {
        while let Some(delivery) = self.sub.try_next() {
            self.record(delivery);
        }
        let count = self.arrived.get(&event.nonce).map_or(0, Vec::len);
        if count > 1 {
            return Err(Failure::new(format!(
                "the event was delivered {count} times (expected exactly once)"
            )));
        }
        if let Err(f) = fence {
            return Err(Failure::new(format!(
                "could not confirm exactly-once delivery: {}",
                f.reason
            )));
        }
        Ok(())
    }

    fn record(&mut self, delivery: Delivery) {
        let (text, at) = match delivery {
            Delivery::Event { text, at } => (text, at),
            Delivery::BroadcastError(errors) => {
                let err = DataPlaneError::rejected(None, errors);
                self.broadcast_errors.push(err.to_string());
                return;
            }
        };
        let Ok(received) = serde_json::from_str::<Value>(&text) else {
            self.strangers.push(shorten(&text));
            return;
        };
        let Some(nonce) = received.get("nonce").and_then(Value::as_str) else {
            self.strangers.push(shorten(&text));
            return;
        };
        let Some(sent) = self.expected.get(nonce) else {
            self.strangers.push(shorten(&text));
            return;
        };
        if let Some(difference) = difference(sent, &received, "") {
            self.damaged.insert(
                nonce.to_string(),
                format!("the payload changed in delivery: {difference}"),
            );
        }
        self.arrived.entry(nonce.to_string()).or_default().push(at);
    }

    fn not_delivered(&self, timeout: Duration) -> Failure {
        let mut reason = format!(
            "{NOT_DELIVERED} within {}",
            humantime::format_duration(timeout)
        );
        if !self.broadcast_errors.is_empty() {
            reason.push_str(&format!(
                " (broadcast_error: {})",
                self.broadcast_errors.join("; ")
            ));
        }
        if let Some(first) = self.strangers.first() {
            reason.push_str(&format!(
                " ({} other event(s) arrived instead, e.g. {first}; does a handler replace payloads?)",
                self.strangers.len()
            ));
        }
        Failure::new(reason)
    }
}

/// The event payload: every JSON type, nesting and escapes, so that damage shows. Kept ASCII
/// and free of `<`/`>`, which AWS re-escapes before checking SigV4 signatures.
fn payload(run_id: &str, channel: &str, nonce: &str) -> Value {
    json!({
        "evctl": "smoke",
        "run": run_id,
        "channel": channel,
        "nonce": nonce,
        "text": "quote \" backslash \\ tab \t newline \n end",
        "numbers": [0, -17, 2.5, 9_007_199_254_740_991_u64],
        "flags": [true, false, null],
        "nested": { "empty": {}, "list": [], "deep": { "a": [ { "b": "c" } ] } }
    })
}

/// Where `received` departs from `sent`: every field sent must arrive with the same value
/// (handlers may add fields, not change or drop them). `None` when intact.
fn difference(sent: &Value, received: &Value, path: &str) -> Option<String> {
    match (sent, received) {
        (Value::Object(s), Value::Object(r)) => s.iter().find_map(|(k, v)| {
            let here = format!("{path}.{k}");
            match r.get(k) {
                Some(rv) => difference(v, rv, &here),
                None => Some(format!("{here} is missing")),
            }
        }),
        (Value::Array(s), Value::Array(r)) if s.len() == r.len() => s
            .iter()
            .zip(r)
            .enumerate()
            .find_map(|(i, (sv, rv))| difference(sv, rv, &format!("{path}[{i}]"))),
        (Value::Number(s), Value::Number(r)) if s.as_f64() == r.as_f64() => None,
        (s, r) if s == r => None,
        (s, r) => Some(format!(
            "{} sent {}, received {}",
            if path.is_empty() { "." } else { path },
            shorten(&s.to_string()),
            shorten(&r.to_string())
        )),
    }
}

fn shorten(text: &str) -> String {
    const MAX: usize = 120;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(MAX).collect::<String>())
    }
}

fn segments(channel: &str) -> usize {
    channel.split('/').filter(|s| !s.is_empty()).count()
}

/// A channel-segment form of an auth mode: `api-key`, `aws-iam`, ….
fn slug(mode: AuthType) -> String {
    mode.as_str().to_ascii_lowercase().replace('_', "-")
}

fn list(modes: &AuthModes) -> String {
    if modes.is_empty() {
        return "none".into();
    }
    modes
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intact_payloads_have_no_difference_and_additions_are_allowed() {
        let sent = payload("run", "/default/x", "n");
        let mut received: Value = serde_json::from_str(&sent.to_string()).expect("round trip");
        assert_eq!(difference(&sent, &received, ""), None);
        received["addedByHandler"] = json!(1);
        assert_eq!(difference(&sent, &received, ""), None);
        received["nested"]["deep"]["a"][0]["b"] = json!("changed");
        assert_eq!(
            difference(&sent, &received, "").as_deref(),
            Some(".nested.deep.a[0].b sent \"c\", received \"changed\"")
        );
        let reformatted: Value = serde_json::from_str(r#"{"n":2.50}"#).expect("json");
        assert_eq!(difference(&json!({"n": 2.5}), &reformatted, ""), None);
        assert_eq!(
            difference(&json!({"a": [1, 2]}), &json!({"a": [1]}), "").as_deref(),
            Some(".a sent [1,2], received [1]")
        );
        assert_eq!(
            difference(&json!({"a": 1}), &json!({}), "").as_deref(),
            Some(".a is missing")
        );
    }

    #[tokio::test]
    async fn an_endpoint_that_never_answers_fails_after_the_wait() {
        // A port nobody listens on: bound, then released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let host = format!("127.0.0.1:{port}");
        let dns = crate::model::Dns {
            http: host.clone(),
            realtime: host,
        };
        let modes = AuthModes::from([AuthType::ApiKey]);
        let target = Target {
            api_name: "demo".into(),
            api_id: "id".into(),
            endpoints: Endpoints::new(&dns, false),
            connection_modes: modes.clone(),
            scopes: vec![Scope {
                namespace: "default".into(),
                base: "/default".into(),
                modes: Some(ScopeModes {
                    publish: modes.clone(),
                    subscribe: modes,
                }),
                subscribe_handler: false,
                publish_handler: false,
            }],
        };
        let settings = Settings {
            timeout: Duration::from_secs(1),
            wait: Duration::from_millis(700),
            tls: super::super::tls::client_config(None).expect("tls"),
            run_id: new_run_id(),
        };
        let err = run(
            &target,
            &Credentials::default(),
            &settings,
            &Printer::plain(),
        )
        .await
        .expect_err("nothing answers");
        let text = format!("{err:#}");
        assert!(
            text.starts_with("the HTTP endpoint did not answer within --wait 700ms: could not reach http://127.0.0.1:"),
            "{text}"
        );
    }

    #[test]
    fn run_channels_are_valid_channel_segments() {
        let id = new_run_id();
        assert!(id.len() <= 50 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        assert_eq!(
            slug(AuthType::AmazonCognitoUserPools),
            "amazon-cognito-user-pools"
        );
        assert_eq!(segments("/a/b/c"), 3);
        assert_eq!(segments("a/b/"), 2);
    }

    #[test]
    fn payloads_avoid_characters_that_break_iam_signatures() {
        let text = payload("r", "/c", "n").to_string();
        assert!(!text.contains('<') && !text.contains('>'));
        assert!(text.is_ascii());
    }
}
