//! The real-time WebSocket protocol (reference C.3, C.4), one task per connection.
//!
//! [`run`] is generic over a `Sink` and a `Stream` of WebSocket messages (the shape of axum's
//! `testing-websockets` example), so the whole protocol is tested without sockets. The task
//! reads client messages, writes replies, drains the connection's [`Inbox`] of deliveries
//! (batching writes), sends `ka`, and closes the connection when its queue overflows.
//!
//! Protocol decisions (see the README for the UNCONFIRMED ones):
//! - Connection auth (the `header-` subprotocol or the upgrade headers) is checked on the first
//!   message. `connection_init` gets `connection_ack` with top-level `connectionTimeoutMs`,
//!   then `ka` at once and every `--ka-interval`. Clients that skip `connection_init` (the Swift
//!   client) are initialised by their first operation. A failed connect gets `connection_error`
//!   (errorType `UnauthorizedException`, errorCode 401) and the socket is closed.
//! - `subscribe`: ids match `^[A-Za-z0-9_+-]{1,128}$` and are unique on the connection
//!   (`DuplicatedOperationError`); at most 200 subscriptions (`MaxSubscriptionsReachedError`);
//!   bad channels and unknown namespaces are `BadRequestException`; denied auth is
//!   `UnauthorizedException`. Auth is the message's `authorization` object, or the connection's
//!   headers when it has none.
//! - `data` carries `event` as a JSON string, one message per event per matching subscription;
//!   the publishing connection receives its own events like any subscriber.
//! - `unsubscribe` of an unknown id is `unsubscribe_error` / `UnknownOperationError`.
//! - Unparseable text, binary frames and unknown types get `error`; nothing a client sends can
//!   end another connection or the server.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, close_code};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde::Deserialize;
use serde_json::Value;

use super::auth::{self, Operation};
use super::broker::{self, Broker, ConnectionId, Inbox, Outbox};
use super::channel::Pattern;
use super::handlers::{self, Call, Caller};
use super::publish::{self, Publish};
use super::{DataPlane, DataPlaneError, ErrorKind};
use crate::signing;
use crate::wire::{
    CONNECTION_TIMEOUT_MS, MAX_PUBLISH_BYTES, MAX_SUBSCRIPTIONS_PER_CONNECTION, ServerMessage,
    WireError,
};

/// Most queued deliveries written before the socket is flushed.
const WRITE_BATCH: usize = 64;

/// Headers as received (names as the client wrote them).
pub type Headers = Vec<(String, String)>;

/// Serves one WebSocket connection of API `api_id` until it closes, or until `stop` resolves
/// (the API was deleted or the emulator is stopping: close 1001). `connect_headers` are the
/// auth headers of the upgrade (decoded `header-` subprotocol, or the HTTP headers); `peer` is
/// the client's address, for handlers.
pub async fn run<W, R, E>(
    dp: Arc<DataPlane>,
    api_id: String,
    connect_headers: Headers,
    peer: Option<IpAddr>,
    mut write: W,
    mut read: R,
    stop: impl std::future::Future<Output = ()>,
) where
    W: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, E>> + Unpin,
{
    tokio::pin!(stop);
    let (outbox, mut inbox) = broker::outbox(dp.settings().queue_capacity);
    let mut session = Session {
        broker: dp.broker(&api_id),
        id: dp.connection_id(),
        dp: dp.clone(),
        api_id,
        connect_headers,
        peer,
        connected: None,
        outbox,
        subscriptions: HashMap::new(),
    };
    let ka_every = dp.settings().ka_interval;
    let mut keepalive: Option<tokio::time::Interval> = None;
    let overflow = inbox.signal();
    loop {
        // Every write is raced against the overflow signal: a subscriber whose socket does not
        // drain must not keep its task (and its queue) alive.
        tokio::select! {
            biased;
            () = &mut stop => {
                let close = write.send(close(close_code::AWAY, "the Event API is going away"));
                let _ = tokio::time::timeout(std::time::Duration::from_secs(1), close).await;
                break;
            }
            () = overflow.wait() => {
                tracing::info!(api = %session.api_id, "closing a connection whose queue overflowed");
                let close = write.send(close(close_code::POLICY, "subscriber too slow: outgoing queue full"));
                let _ = tokio::time::timeout(std::time::Duration::from_secs(1), close).await;
                break;
            }
            incoming = read.next() => {
                let step = match incoming {
                    None | Some(Err(_)) => break,
                    // Boxed: handling a message (auth, handlers, publish) is a large future;
                    // inline, it would be part of every connection's task, idle or not.
                    Some(Ok(Message::Text(text))) => Box::pin(session.handle(text.as_str())).await,
                    Some(Ok(Message::Binary(_))) => Step::reply(unsupported(None)),
                    Some(Ok(Message::Close(_))) => break,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                };
                if !guarded(&overflow, send_all(&mut write, &step.replies)).await {
                    break;
                }
                if step.started && keepalive.is_none() {
                    let mut interval = tokio::time::interval_at(
                        tokio::time::Instant::now() + ka_every,
                        ka_every,
                    );
                    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    keepalive = Some(interval);
                }
                if let Some(frame) = step.close {
                    let _ = guarded(&overflow, write.send(Message::Close(Some(frame)))).await;
                    break;
                }
            }
            Some(first) = inbox.recv() => {
                if !guarded(&overflow, write_batch(&mut write, &mut inbox, first)).await {
                    break;
                }
            }
            _ = tick(&mut keepalive) => {
                if !guarded(&overflow, write.send(text(&ServerMessage::Ka {}))).await {
                    break;
                }
            }
        }
    }
}

/// Runs a write unless the connection overflows first; false if it failed or was abandoned.
async fn guarded<E>(
    overflow: &broker::OverflowSignal,
    write: impl std::future::Future<Output = Result<(), E>>,
) -> bool {
    tokio::select! {
        biased;
        result = write => result.is_ok(),
        () = overflow.wait() => false,
    }
}

async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Writes `first` and whatever else is queued (up to a batch), then flushes once.
async fn write_batch<W: Sink<Message> + Unpin>(
    write: &mut W,
    inbox: &mut Inbox,
    first: broker::Outgoing,
) -> Result<(), W::Error> {
    write.feed(frame(first.into_frame())).await?;
    for _ in 1..WRITE_BATCH {
        match inbox.try_recv() {
            Some(next) => write.feed(frame(next.into_frame())).await?,
            None => break,
        }
    }
    write.flush().await
}

fn frame(text: String) -> Message {
    Message::Text(Utf8Bytes::from(text))
}

fn text(message: &ServerMessage) -> Message {
    Message::Text(Utf8Bytes::from(
        serde_json::to_string(message).unwrap_or_default(),
    ))
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}

async fn send_all<W: Sink<Message> + Unpin>(
    write: &mut W,
    replies: &[ServerMessage],
) -> Result<(), W::Error> {
    for reply in replies {
        write.feed(text(reply)).await?;
    }
    if !replies.is_empty() {
        write.flush().await?;
    }
    Ok(())
}

/// What handling one client message produced.
#[derive(Debug, Default)]
struct Step {
    replies: Vec<ServerMessage>,
    /// The connection is initialised: keep-alives start.
    started: bool,
    /// Close the connection after the replies.
    close: Option<CloseFrame>,
}

impl Step {
    fn reply(message: ServerMessage) -> Step {
        Step {
            replies: vec![message],
            ..Step::default()
        }
    }
}

fn unsupported(id: Option<String>) -> ServerMessage {
    ServerMessage::Error {
        id,
        errors: vec![WireError::new(
            ErrorKind::UnsupportedOperation.error_type(),
            "Operation not supported through the realtime channel",
        )],
    }
}

fn malformed(reason: impl Into<String>) -> ServerMessage {
    ServerMessage::Error {
        id: None,
        errors: vec![DataPlaneError::bad_request(reason).to_wire()],
    }
}

/// The fields a client message may carry (all optional, so that a missing one is reported
/// against the message's id rather than as unparseable).
#[derive(Debug, Deserialize)]
struct Incoming {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    channel: Option<Value>,
    #[serde(default)]
    events: Option<Value>,
    #[serde(default)]
    authorization: Option<Value>,
}

struct Session {
    dp: Arc<DataPlane>,
    api_id: String,
    id: ConnectionId,
    broker: Arc<Broker>,
    outbox: Outbox,
    connect_headers: Headers,
    peer: Option<IpAddr>,
    /// The outcome of connection auth, once checked.
    connected: Option<Result<(), DataPlaneError>>,
    subscriptions: HashMap<String, Pattern>,
}

impl Session {
    async fn handle(&mut self, raw: &str) -> Step {
        let message: Incoming = match serde_json::from_str(raw) {
            Ok(m) => m,
            Err(e) => {
                return Step::reply(malformed(format!(
                    "Messages are JSON objects with a string \"type\": {e}"
                )));
            }
        };
        let newly = self.connected.is_none();
        if let Err(error) = self.connect().await {
            return Step {
                replies: vec![ServerMessage::ConnectionError {
                    errors: vec![error.to_wire()],
                }],
                started: false,
                close: Some(CloseFrame {
                    code: close_code::POLICY,
                    reason: Utf8Bytes::from_static("connection not authorized"),
                }),
            };
        }
        let mut step = match message.kind.as_str() {
            "connection_init" => Step {
                replies: vec![
                    ServerMessage::ConnectionAck {
                        connection_timeout_ms: CONNECTION_TIMEOUT_MS,
                    },
                    ServerMessage::Ka {},
                ],
                ..Step::default()
            },
            "subscribe" => self.subscribe(&message).await,
            "unsubscribe" => self.unsubscribe(&message),
            "publish" => self.publish(&message, raw.len()).await,
            _ => Step::reply(unsupported(
                message
                    .id
                    .as_ref()
                    .and_then(|v| v.as_str().map(str::to_string)),
            )),
        };
        step.started = newly;
        step
    }

    /// Checks connection auth once.
    async fn connect(&mut self) -> Result<(), DataPlaneError> {
        if let Some(result) = &self.connected {
            return result.clone();
        }
        let headers = pairs(&self.connect_headers);
        let result = match super::api(&self.dp, &self.api_id) {
            Err(e) => Err(e),
            Ok(api) => auth::authorize(
                &self.dp,
                &api,
                &api.connection_modes,
                &auth::Request {
                    api_id: &self.api_id,
                    operation: Operation::Connect,
                    headers: &headers,
                    signed_body: signing::connect_body().as_bytes(),
                },
            )
            .await
            .map(|_| ()),
        };
        self.connected = Some(result.clone());
        result
    }

    async fn subscribe(&mut self, message: &Incoming) -> Step {
        let id = match operation_id(message) {
            Ok(id) => id,
            Err(reply) => return Step::reply(reply),
        };
        let error = |e: DataPlaneError, id: &str| {
            Step::reply(ServerMessage::SubscribeError {
                id: id.to_string(),
                errors: vec![e.to_wire()],
            })
        };
        if self.subscriptions.contains_key(&id) {
            return error(
                DataPlaneError::new(
                    ErrorKind::DuplicatedOperation,
                    format!("Duplicated operation with id {id}"),
                ),
                &id,
            );
        }
        if self.subscriptions.len() >= MAX_SUBSCRIPTIONS_PER_CONNECTION {
            return error(
                DataPlaneError::new(
                    ErrorKind::MaxSubscriptionsReached,
                    format!(
                        "Max number of {MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions reached"
                    ),
                ),
                &id,
            );
        }
        let Some(raw_channel) = message.channel.as_ref().and_then(Value::as_str) else {
            return error(
                DataPlaneError::bad_request("subscribe needs a string \"channel\""),
                &id,
            );
        };
        match self.authorize_subscription(raw_channel, message).await {
            Ok(pattern) => {
                self.broker.subscribe(
                    &pattern,
                    self.id,
                    Arc::from(id.as_str()),
                    self.outbox.clone(),
                );
                self.subscriptions.insert(id.clone(), pattern);
                Step::reply(ServerMessage::SubscribeSuccess { id })
            }
            Err(e) => error(e, &id),
        }
    }

    async fn authorize_subscription(
        &self,
        raw_channel: &str,
        message: &Incoming,
    ) -> Result<Pattern, DataPlaneError> {
        let api = super::api(&self.dp, &self.api_id)?;
        let pattern =
            Pattern::parse(raw_channel).map_err(|e| DataPlaneError::bad_request(e.to_string()))?;
        let namespace = super::namespace(&self.dp, &self.api_id, pattern.namespace())?;
        let allowed = if namespace.subscribe_modes.is_empty() {
            &api.default_subscribe_modes
        } else {
            &namespace.subscribe_modes
        };
        let headers = self.message_headers(message)?;
        let headers = pairs(&headers);
        let channel = pattern.to_string();
        let identity = auth::authorize(
            &self.dp,
            &api,
            allowed,
            &auth::Request {
                api_id: &self.api_id,
                operation: Operation::Subscribe {
                    channel: &channel,
                    namespace: pattern.namespace(),
                },
                headers: &headers,
                signed_body: signing::subscribe_body(raw_channel).as_bytes(),
            },
        )
        .await?;
        if handlers::involved(&namespace, handlers::Operation::Subscribe) {
            let settings = self.dp.settings();
            let call = Call {
                namespace_name: pattern.namespace(),
                namespace: &namespace,
                channel: &channel,
                caller: Caller {
                    identity: &identity,
                    account_id: &settings.account_id,
                    access_key_id: &settings.credentials.access_key_id,
                    source_ip: self.peer,
                },
                headers: &headers,
                timeout: settings.handler_timeout,
            };
            // Boxed: the handler's future is large, and inline it would grow every
            // connection's task, idle or not.
            Box::pin(self.dp.handlers().on_subscribe(&call)).await?;
        }
        Ok(pattern)
    }

    /// The message's `authorization` object, else the connection's auth headers.
    fn message_headers(&self, message: &Incoming) -> Result<Headers, DataPlaneError> {
        match &message.authorization {
            None | Some(Value::Null) => Ok(self.connect_headers.clone()),
            Some(value) => headers_from_json(value).ok_or_else(|| {
                DataPlaneError::bad_request("\"authorization\" must be an object of strings")
            }),
        }
    }

    fn unsubscribe(&mut self, message: &Incoming) -> Step {
        let id = match operation_id(message) {
            Ok(id) => id,
            Err(reply) => return Step::reply(reply),
        };
        match self.subscriptions.remove(&id) {
            Some(pattern) => {
                self.broker.unsubscribe(&pattern, self.id, &id);
                Step::reply(ServerMessage::UnsubscribeSuccess { id })
            }
            None => Step::reply(ServerMessage::UnsubscribeError {
                errors: vec![
                    DataPlaneError::new(
                        ErrorKind::UnknownOperation,
                        format!("Unknown operation id {id}"),
                    )
                    .to_wire(),
                ],
                id,
            }),
        }
    }

    async fn publish(&mut self, message: &Incoming, size: usize) -> Step {
        let id = match operation_id(message) {
            Ok(id) => id,
            Err(reply) => return Step::reply(reply),
        };
        match self.try_publish(message, size).await {
            Ok(outcome) => Step::reply(ServerMessage::PublishSuccess {
                id,
                successful: outcome.successful,
                failed: outcome.failed,
            }),
            Err(e) => Step::reply(ServerMessage::PublishError {
                id,
                errors: vec![e.to_wire()],
            }),
        }
    }

    async fn try_publish(
        &self,
        message: &Incoming,
        size: usize,
    ) -> Result<publish::Outcome, DataPlaneError> {
        if size > MAX_PUBLISH_BYTES {
            return Err(DataPlaneError::new(
                ErrorKind::PayloadTooLarge,
                "The publish request is larger than 1.2 MB.",
            ));
        }
        let channel = message
            .channel
            .as_ref()
            .and_then(Value::as_str)
            .ok_or_else(|| DataPlaneError::bad_request("publish needs a string \"channel\""))?;
        let events: Vec<String> = match &message.events {
            Some(Value::Array(items)) => items
                .iter()
                .map(|e| e.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| {
                    DataPlaneError::bad_request("\"events\" must be an array of strings")
                })?,
            _ => {
                return Err(DataPlaneError::bad_request(
                    "publish needs \"events\": an array of JSON strings",
                ));
            }
        };
        let headers = self.message_headers(message)?;
        let signed_body = signing::publish_body(channel, &events);
        publish::publish(
            &self.dp,
            Publish {
                api_id: &self.api_id,
                channel,
                events: &events,
                headers: &pairs(&headers),
                signed_body: signed_body.as_bytes(),
                source_ip: self.peer,
            },
        )
        .await
    }
}

impl Drop for Session {
    /// However the connection ends (even if its task is dropped), it leaves the broker.
    fn drop(&mut self) {
        for (id, pattern) in self.subscriptions.drain() {
            self.broker.unsubscribe(&pattern, self.id, &id);
        }
    }
}

/// The `id` of an operation message, or the `error` reply when it has none or a bad one.
fn operation_id(message: &Incoming) -> Result<String, ServerMessage> {
    let Some(id) = message.id.as_ref().and_then(Value::as_str) else {
        return Err(malformed(format!("{} needs a string \"id\"", message.kind)));
    };
    let valid = (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+'));
    if !valid {
        let error = DataPlaneError::bad_request(
            "Operation ids are 1 to 128 characters from A-Z, a-z, 0-9, '-', '_' and '+'.",
        )
        .to_wire();
        // Echo the id only when it is short; it is never used as a subscription id.
        let id = id.chars().take(128).collect::<String>();
        return Err(match message.kind.as_str() {
            "subscribe" => ServerMessage::SubscribeError {
                id,
                errors: vec![error],
            },
            "publish" => ServerMessage::PublishError {
                id,
                errors: vec![error],
            },
            _ => ServerMessage::UnsubscribeError {
                id,
                errors: vec![error],
            },
        });
    }
    Ok(id.to_string())
}

/// Reads an auth object: string values kept, numbers and booleans turned into text.
pub fn headers_from_json(value: &Value) -> Option<Headers> {
    let object = value.as_object()?;
    object
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((k.clone(), v))
        })
        .collect()
}

fn pairs(headers: &Headers) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    //! The protocol driven through in-memory channels: no sockets involved.

    use std::time::Duration;

    use bytes::Bytes;
    use serde_json::json;
    use tokio::sync::mpsc;

    use super::super::testing::directory;
    use super::super::{DataPlane, Settings};
    use super::*;

    type ToServer = mpsc::UnboundedSender<Result<Message, std::convert::Infallible>>;

    struct Client {
        to_server: ToServer,
        from_server: mpsc::UnboundedReceiver<Message>,
    }

    /// Starts a connection whose outgoing side is `sink`; returns the sender of its input.
    fn start<W: Sink<Message> + Unpin + Send + 'static>(
        dp: &Arc<DataPlane>,
        headers: &[(&str, &str)],
        sink: W,
    ) -> ToServer {
        let (to_server, mut server_in) = mpsc::unbounded_channel();
        let stream = futures_util::stream::poll_fn(move |cx| server_in.poll_recv(cx));
        let headers = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let stop = std::future::pending();
        tokio::spawn(run(
            dp.clone(),
            "api1".into(),
            headers,
            None,
            sink,
            stream,
            stop,
        ));
        to_server
    }

    fn connect(dp: &Arc<DataPlane>, headers: &[(&str, &str)]) -> Client {
        let (server_out, from_server) = mpsc::unbounded_channel();
        let sink = futures_util::sink::unfold(server_out, |tx, m: Message| async move {
            tx.send(m).map(|()| tx)
        });
        Client {
            to_server: start(dp, headers, Box::pin(sink)),
            from_server,
        }
    }

    impl Client {
        fn send(&self, value: Value) {
            self.send_raw(&value.to_string());
        }

        fn send_raw(&self, text: &str) {
            let _ = self
                .to_server
                .send(Ok(Message::Text(Utf8Bytes::from(text))));
        }

        async fn next(&mut self) -> Option<Message> {
            tokio::time::timeout(Duration::from_secs(10), self.from_server.recv())
                .await
                .expect("the server answers")
        }

        async fn recv(&mut self) -> Value {
            match self.next().await {
                Some(Message::Text(t)) => serde_json::from_str(t.as_str()).expect("JSON"),
                other => panic!("expected a text message, got {other:?}"),
            }
        }

        async fn init(&mut self) {
            self.send(json!({"type":"connection_init"}));
            assert_eq!(
                self.recv().await,
                json!({"type":"connection_ack","connectionTimeoutMs":300000})
            );
            assert_eq!(self.recv().await, json!({"type":"ka"}));
        }
    }

    const KEY: (&str, &str) = ("x-api-key", "da2-good");

    fn auth() -> Value {
        json!({"x-api-key":"da2-good","host":"h"})
    }

    fn dp() -> Arc<DataPlane> {
        DataPlane::new(directory(), Settings::default())
    }

    #[tokio::test]
    async fn subscribe_publish_receive_unsubscribe() {
        let dp = dp();
        let mut c = connect(&dp, &[KEY]);
        c.init().await;
        c.send(json!({"type":"subscribe","id":"s1","channel":"/default/*","authorization":auth()}));
        assert_eq!(
            c.recv().await,
            json!({"type":"subscribe_success","id":"s1"})
        );
        c.send(json!({"type":"publish","id":"p1","channel":"/default/a",
            "events":["{\"n\":1}","\"two\""],"authorization":auth()}));
        let mut got = vec![c.recv().await, c.recv().await, c.recv().await];
        let ack_at = got
            .iter()
            .position(|m| m["type"] == "publish_success")
            .expect("ack");
        let ack = got.remove(ack_at);
        assert_eq!(ack["id"], "p1");
        assert_eq!(ack["successful"][1]["index"], 1);
        assert_eq!(ack["failed"], json!([]));
        assert_eq!(
            got,
            [
                json!({"type":"data","id":"s1","event":"{\"n\":1}"}),
                json!({"type":"data","id":"s1","event":"\"two\""})
            ]
        );
        c.send(json!({"type":"unsubscribe","id":"s1"}));
        assert_eq!(
            c.recv().await,
            json!({"type":"unsubscribe_success","id":"s1"})
        );
        c.send(json!({"type":"unsubscribe","id":"s1"}));
        assert_eq!(
            c.recv().await,
            json!({"type":"unsubscribe_error","id":"s1","errors":[{"errorType":"UnknownOperationError","message":"Unknown operation id s1"}]})
        );
        assert!(dp.broker("api1").is_empty());
    }

    #[tokio::test]
    async fn subscription_errors_name_the_failed_id() {
        let dp = dp();
        let mut c = connect(&dp, &[KEY]);
        c.init().await;
        let sub = |id: &str, channel: &str| json!({"type":"subscribe","id":id,"channel":channel,"authorization":auth()});
        c.send(sub("a", "default/x"));
        assert_eq!(c.recv().await["type"], "subscribe_success");
        for (message, error_type) in [
            (sub("a", "default/y"), "DuplicatedOperationError"),
            (sub("b", "default/x/*/y"), "BadRequestException"),
            (sub("c", "unknown/x"), "BadRequestException"),
            (
                json!({"type":"subscribe","id":"d","channel":"default/x","authorization":{"x-api-key":"da2-old"}}),
                "UnauthorizedException",
            ),
            (json!({"type":"subscribe","id":"e"}), "BadRequestException"),
            (sub("bad id!", "default/x"), "BadRequestException"),
        ] {
            let id = message["id"].clone();
            c.send(message);
            let reply = c.recv().await;
            assert_eq!(reply["type"], "subscribe_error", "{reply}");
            assert_eq!(reply["id"], id);
            assert_eq!(reply["errors"][0]["errorType"], error_type, "{reply}");
        }
    }

    #[tokio::test]
    async fn at_most_200_subscriptions_per_connection() {
        let dp = dp();
        let mut c = connect(&dp, &[KEY]);
        c.init().await;
        for i in 0..201 {
            c.send(json!({"type":"subscribe","id":format!("s{i}"),"channel":"default/x","authorization":auth()}));
        }
        for _ in 0..200 {
            assert_eq!(c.recv().await["type"], "subscribe_success");
        }
        let refused = c.recv().await;
        assert_eq!(refused["id"], "s200");
        assert_eq!(
            refused["errors"][0]["errorType"],
            "MaxSubscriptionsReachedError"
        );
    }

    #[tokio::test]
    async fn malformed_and_unknown_messages_get_error_and_the_connection_lives_on() {
        let dp = dp();
        let mut c = connect(&dp, &[KEY]);
        c.init().await;
        c.send_raw("{not json");
        let reply = c.recv().await;
        assert_eq!(reply["type"], "error");
        assert_eq!(reply["errors"][0]["errorType"], "BadRequestException");
        c.send_raw("[1,2]");
        assert_eq!(c.recv().await["type"], "error");
        c.send(json!({"type":"start","id":"x"}));
        assert_eq!(
            c.recv().await,
            json!({"type":"error","id":"x","errors":[{"errorType":"UnsupportedOperation","message":"Operation not supported through the realtime channel"}]})
        );
        let _ = c
            .to_server
            .send(Ok(Message::Binary(Bytes::from_static(b"\x00\xff"))));
        assert_eq!(c.recv().await["type"], "error");
        c.send(json!({"type":"subscribe","id":"ok","channel":"default/a","authorization":auth()}));
        assert_eq!(c.recv().await["type"], "subscribe_success");
    }

    #[tokio::test]
    async fn a_denied_connection_gets_connection_error_and_is_closed() {
        let dp = dp();
        let mut c = connect(&dp, &[("x-api-key", "da2-old")]);
        c.send(json!({"type":"connection_init"}));
        assert_eq!(
            c.recv().await,
            json!({"type":"connection_error","errors":[{"errorType":"UnauthorizedException",
                "message":"You are not authorized to make this call.","errorCode":401}]})
        );
        assert!(matches!(c.next().await, Some(Message::Close(_))));
    }

    #[tokio::test]
    async fn stopping_the_api_closes_its_connections_with_going_away() {
        let dp = dp();
        let (to_server, mut server_in) =
            mpsc::unbounded_channel::<Result<Message, std::convert::Infallible>>();
        let (server_out, mut from_server) = mpsc::unbounded_channel();
        let sink = futures_util::sink::unfold(server_out, |tx, m: Message| async move {
            tx.send(m).map(|()| tx)
        });
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let stop = async move {
            let _ = stop_rx.await;
        };
        let stream = futures_util::stream::poll_fn(move |cx| server_in.poll_recv(cx));
        let headers = vec![("x-api-key".to_string(), "da2-good".to_string())];
        let task = tokio::spawn(run(
            dp.clone(),
            "api1".into(),
            headers,
            None,
            Box::pin(sink),
            stream,
            stop,
        ));
        let _ = to_server.send(Ok(Message::Text(Utf8Bytes::from(
            json!({"type":"subscribe","id":"s","channel":"default/a"}).to_string(),
        ))));
        let reply = from_server.recv().await;
        assert!(matches!(reply, Some(Message::Text(_))), "{reply:?}");
        assert_eq!(dp.broker("api1").len(), 1);
        let _ = stop_tx.send(());
        match from_server.recv().await {
            Some(Message::Close(Some(frame))) => assert_eq!(frame.code, close_code::AWAY),
            other => panic!("expected close 1001, got {other:?}"),
        }
        task.await.expect("the connection task ends");
        assert!(dp.broker("api1").is_empty());
    }

    #[tokio::test]
    async fn clients_that_skip_connection_init_are_served_too() {
        let dp = dp();
        let mut c = connect(&dp, &[KEY]);
        c.send(json!({"type":"subscribe","id":"s","channel":"default/a"}));
        assert_eq!(c.recv().await, json!({"type":"subscribe_success","id":"s"}));
    }

    #[tokio::test]
    async fn publish_errors_answer_the_publish_id() {
        let dp = dp();
        let mut c = connect(&dp, &[KEY]);
        c.init().await;
        for message in [
            json!({"type":"publish","id":"p","channel":"default/*","events":["1"],"authorization":auth()}),
            json!({"type":"publish","id":"p","channel":"default/a","events":["1","2","3","4","5","6"],"authorization":auth()}),
            json!({"type":"publish","id":"p","channel":"default/a","events":[1],"authorization":auth()}),
            json!({"type":"publish","id":"p","channel":"default/a","authorization":auth()}),
        ] {
            c.send(message);
            let reply = c.recv().await;
            assert_eq!(reply["type"], "publish_error", "{reply}");
            assert_eq!(reply["id"], "p");
            assert_eq!(reply["errors"][0]["errorType"], "BadRequestException");
        }
    }

    #[tokio::test]
    async fn keep_alives_follow_the_ack_at_the_configured_interval() {
        let dp = DataPlane::new(
            directory(),
            Settings {
                ka_interval: Duration::from_millis(20),
                ..Settings::default()
            },
        );
        let mut c = connect(&dp, &[KEY]);
        c.init().await;
        assert_eq!(c.recv().await, json!({"type":"ka"}));
        assert_eq!(c.recv().await, json!({"type":"ka"}));
    }

    #[tokio::test]
    async fn a_slow_connection_is_closed_and_a_fast_one_gets_everything() {
        let dp = DataPlane::new(
            directory(),
            Settings {
                queue_capacity: 4,
                ..Settings::default()
            },
        );
        // The slow client's socket takes one message and then never drains.
        let (slow_out, _slow_socket) = mpsc::channel::<Message>(1);
        let slow_sink = futures_util::sink::unfold(slow_out, |tx, m: Message| async move {
            tx.send(m).await.map(|()| tx)
        });
        let slow = start(&dp, &[KEY], Box::pin(slow_sink));
        let _ = slow.send(Ok(Message::Text(Utf8Bytes::from(
            json!({"type":"subscribe","id":"slow","channel":"default/a"}).to_string(),
        ))));
        let mut fast = connect(&dp, &[KEY]);
        fast.send(json!({"type":"subscribe","id":"fast","channel":"default/a"}));
        assert_eq!(fast.recv().await["type"], "subscribe_success");
        // Wait until the slow subscription is registered too.
        while dp.broker("api1").len() < 2 {
            tokio::task::yield_now().await;
        }
        // A publisher that waits for each acknowledgement, as clients do.
        let mut publisher = connect(&dp, &[KEY]);
        for i in 0..50 {
            publisher.send(json!({"type":"publish","id":format!("p{i}"),"channel":"default/a","events":[i.to_string()]}));
            assert_eq!(publisher.recv().await["type"], "publish_success");
        }
        for i in 0..50 {
            let m = fast.recv().await;
            assert_eq!(m["event"], i.to_string(), "{m}");
        }
        // The slow connection overflowed, was closed and left the broker.
        tokio::time::timeout(Duration::from_secs(10), async {
            while dp.broker("api1").len() > 1 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the slow connection is closed");
    }
}
