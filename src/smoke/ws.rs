//! The real-time WebSocket client: the `aws-appsync-event-ws` handshake with the auth object in
//! a `header-<base64url JSON>` subprotocol, `connection_init`/`connection_ack`, subscribe,
//! publish and unsubscribe, keep-alive supervision, over `ws://` or `wss://`.
//!
//! One reader task owns the socket's receiving half and routes each server message: `data` and
//! `broadcast_error` to the subscription they name, answers (`*_success`, `*_error`, `error`)
//! to the request waiting on that id. A connection that sends nothing (not even `ka`) for
//! `connectionTimeoutMs` is considered dead, as the service's own clients do. This module
//! speaks the protocol only; which checks to run is the smoke test's business.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, header};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use super::client::DataPlaneError;
use crate::wire::{
    AUTH_SUBPROTOCOL_PREFIX, Authorization, ClientMessage, FailedEvent, PublishedEvent,
    SUBPROTOCOL, ServerMessage, WireError,
};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long to wait for `connection_ack` when the caller gives no tighter bound (the Amplify
/// client's `CONNECTION_INIT_TIMEOUT`).
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(15);

/// The `Sec-WebSocket-Protocol` value that carries `auth`: the event subprotocol and the
/// base64url (unpadded) JSON of the auth object.
pub fn subprotocols(auth: &Authorization) -> String {
    let json = serde_json::to_vec(auth).unwrap_or_default();
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
    format!("{SUBPROTOCOL}, {AUTH_SUBPROTOCOL_PREFIX}{encoded}")
}

/// Something delivered to a subscription.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// One event: the JSON text as the service sent it, and when it arrived.
    Event { text: String, at: Instant },
    /// The service could not deliver an event to this subscription.
    BroadcastError(Vec<WireError>),
}

/// The answer to a publish over the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishOutcome {
    pub successful: Vec<PublishedEvent>,
    pub failed: Vec<FailedEvent>,
}

/// An active subscription: the events routed to it, in arrival order.
#[derive(Debug)]
pub struct Subscription {
    pub id: String,
    pub channel: String,
    deliveries: mpsc::UnboundedReceiver<Delivery>,
}

impl Subscription {
    /// The next delivery, or `None` once `deadline` has passed without one.
    pub async fn next(&mut self, deadline: Instant) -> Result<Option<Delivery>, DataPlaneError> {
        match tokio::time::timeout_at(deadline, self.deliveries.recv()).await {
            Ok(Some(delivery)) => Ok(Some(delivery)),
            Ok(None) => Err(DataPlaneError::Closed(
                "the connection ended while waiting for events".into(),
            )),
            Err(_) => Ok(None),
        }
    }

    /// A delivery that has already arrived, without waiting.
    pub fn try_next(&mut self) -> Option<Delivery> {
        self.deliveries.try_recv().ok()
    }
}

#[derive(Default)]
struct Routes {
    /// Requests waiting for their answer, by message id.
    waiters: HashMap<String, oneshot::Sender<ServerMessage>>,
    /// Subscriptions, by subscription id.
    subscriptions: HashMap<String, mpsc::UnboundedSender<Delivery>>,
    /// Why the connection ended, once it has.
    closed: Option<String>,
}

/// An open, acknowledged real-time connection.
pub struct Connection {
    sink: tokio::sync::Mutex<SplitSink<Socket, Message>>,
    routes: Arc<Mutex<Routes>>,
    reader: tokio::task::JoinHandle<()>,
    /// `connectionTimeoutMs` from `connection_ack`.
    pub connection_timeout: Duration,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("connection_timeout", &self.connection_timeout)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Opens `url`, offers the subprotocols with `auth` (which must name the HTTP `host`), sends
    /// `connection_init` and waits for `connection_ack` until `timeout` has passed.
    pub async fn connect(
        url: &str,
        auth: &Authorization,
        tls: Option<Arc<rustls::ClientConfig>>,
        timeout: Duration,
    ) -> Result<Connection, DataPlaneError> {
        let deadline = Instant::now() + timeout;
        let unreachable = |message: String| DataPlaneError::Unreachable {
            url: url.to_string(),
            message,
        };
        let mut request = url
            .into_client_request()
            .map_err(|e| unreachable(e.to_string()))?;
        let protocols = HeaderValue::from_str(&subprotocols(auth))
            .map_err(|e| DataPlaneError::Protocol(format!("invalid auth object: {e}")))?;
        request
            .headers_mut()
            .insert(header::SEC_WEBSOCKET_PROTOCOL, protocols);
        let connector = tls.map(Connector::Rustls);
        let handshake =
            tokio_tungstenite::connect_async_tls_with_config(request, None, true, connector);
        let (socket, _response) = match tokio::time::timeout_at(deadline, handshake).await {
            Err(_) => {
                return Err(DataPlaneError::Timeout {
                    what: format!("WebSocket handshake with {url}"),
                    timeout,
                });
            }
            Ok(Err(e)) => return Err(handshake_error(url, e)),
            Ok(Ok(ok)) => ok,
        };
        let (mut sink, mut stream) = socket.split();
        send(&mut sink, &ClientMessage::ConnectionInit {}).await?;
        let connection_timeout = await_ack(&mut stream, deadline, timeout).await?;
        let routes = Arc::new(Mutex::new(Routes::default()));
        let reader = tokio::spawn(read_loop(stream, routes.clone(), connection_timeout));
        Ok(Connection {
            sink: tokio::sync::Mutex::new(sink),
            routes,
            reader,
            connection_timeout,
        })
    }

    /// Subscribes to `channel` and waits for `subscribe_success` until `timeout`.
    pub async fn subscribe(
        &self,
        channel: &str,
        authorization: Authorization,
        timeout: Duration,
    ) -> Result<Subscription, DataPlaneError> {
        let id = new_id();
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().subscriptions.insert(id.clone(), tx);
        let msg = ClientMessage::Subscribe {
            id: id.clone(),
            channel: channel.to_string(),
            authorization: Some(authorization),
        };
        let answer = self.request(&id, &msg, "subscribe_success", timeout).await;
        let result = match answer {
            Ok(ServerMessage::SubscribeSuccess { .. }) => Ok(()),
            Ok(
                ServerMessage::SubscribeError { errors, .. } | ServerMessage::Error { errors, .. },
            ) => Err(DataPlaneError::rejected(None, errors)),
            Ok(other) => Err(unexpected(&other, "subscribe_success")),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => Ok(Subscription {
                id,
                channel: channel.to_string(),
                deliveries: rx,
            }),
            Err(e) => {
                self.lock().subscriptions.remove(&id);
                Err(e)
            }
        }
    }

    /// Publishes `events` (each a JSON text) to `channel` over the socket and waits for
    /// `publish_success` until `timeout`.
    pub async fn publish(
        &self,
        channel: &str,
        events: Vec<String>,
        authorization: Authorization,
        timeout: Duration,
    ) -> Result<PublishOutcome, DataPlaneError> {
        let id = new_id();
        let msg = ClientMessage::Publish {
            id: id.clone(),
            channel: channel.to_string(),
            events,
            authorization: Some(authorization),
        };
        match self.request(&id, &msg, "publish_success", timeout).await? {
            ServerMessage::PublishSuccess {
                successful, failed, ..
            } => Ok(PublishOutcome { successful, failed }),
            ServerMessage::PublishError { errors, .. } | ServerMessage::Error { errors, .. } => {
                Err(DataPlaneError::rejected(None, errors))
            }
            other => Err(unexpected(&other, "publish_success")),
        }
    }

    /// Ends `subscription` and waits for `unsubscribe_success` until `timeout`.
    pub async fn unsubscribe(
        &self,
        subscription: Subscription,
        timeout: Duration,
    ) -> Result<(), DataPlaneError> {
        let id = subscription.id.clone();
        let msg = ClientMessage::Unsubscribe { id: id.clone() };
        let answer = self
            .request(&id, &msg, "unsubscribe_success", timeout)
            .await;
        self.lock().subscriptions.remove(&id);
        match answer? {
            ServerMessage::UnsubscribeSuccess { .. } => Ok(()),
            ServerMessage::UnsubscribeError { errors, .. }
            | ServerMessage::Error { errors, .. } => Err(DataPlaneError::rejected(None, errors)),
            other => Err(unexpected(&other, "unsubscribe_success")),
        }
    }

    /// Closes the socket politely (close frame 1000) and stops the reader.
    pub async fn close(self) {
        let mut sink = self.sink.lock().await;
        let _ = sink.send(Message::Close(None)).await;
        let _ = sink.close().await;
        self.reader.abort();
    }

    /// Why the connection ended, if it has.
    pub fn closed_reason(&self) -> Option<String> {
        self.lock().closed.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sends `msg` and waits for the server message that answers `id`.
    async fn request(
        &self,
        id: &str,
        msg: &ClientMessage,
        expected: &str,
        timeout: Duration,
    ) -> Result<ServerMessage, DataPlaneError> {
        let (tx, rx) = oneshot::channel();
        {
            let mut routes = self.lock();
            if let Some(reason) = &routes.closed {
                return Err(DataPlaneError::Closed(reason.clone()));
            }
            routes.waiters.insert(id.to_string(), tx);
        }
        let sent = {
            let mut sink = self.sink.lock().await;
            send(&mut sink, msg).await
        };
        if let Err(e) = sent {
            self.lock().waiters.remove(id);
            return Err(e);
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => Err(DataPlaneError::Closed(
                self.closed_reason()
                    .unwrap_or_else(|| "the connection ended".into()),
            )),
            Err(_) => {
                self.lock().waiters.remove(id);
                Err(DataPlaneError::Timeout {
                    what: expected.to_string(),
                    timeout,
                })
            }
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// A fresh message id: a UUID, as the service's own clients send.
fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn send(
    sink: &mut SplitSink<Socket, Message>,
    msg: &ClientMessage,
) -> Result<(), DataPlaneError> {
    let text = serde_json::to_string(msg)
        .map_err(|e| DataPlaneError::Protocol(format!("could not encode a message: {e}")))?;
    sink.send(Message::text(text))
        .await
        .map_err(|e| DataPlaneError::Closed(e.to_string()))
}

/// Maps a failed WebSocket handshake: an HTTP answer is the service speaking (401/403 carry its
/// error body when it sent one); anything below HTTP means the endpoint is not reachable yet.
fn handshake_error(url: &str, err: tokio_tungstenite::tungstenite::Error) -> DataPlaneError {
    use tokio_tungstenite::tungstenite::Error as WsError;
    match err {
        WsError::Http(response) => {
            let status = response.status().as_u16();
            let body = response.body().as_deref().unwrap_or_default();
            let errors = serde_json::from_slice::<crate::wire::ErrorResponse>(body)
                .map(|r| r.errors)
                .unwrap_or_default();
            // Gateways answer 502/503/504 while a new API is being wired up: retry those.
            if errors.is_empty() && matches!(status, 502..=504 | 404) {
                DataPlaneError::Unreachable {
                    url: url.to_string(),
                    message: format!("HTTP {status} on the WebSocket upgrade"),
                }
            } else if errors.is_empty() {
                DataPlaneError::rejected(
                    Some(status),
                    vec![WireError::new(
                        "HandshakeRejected",
                        format!(
                            "the WebSocket upgrade was answered with HTTP {status}: {}",
                            String::from_utf8_lossy(body)
                                .chars()
                                .take(200)
                                .collect::<String>()
                        ),
                    )],
                )
            } else {
                DataPlaneError::rejected(Some(status), errors)
            }
        }
        WsError::Protocol(e) => DataPlaneError::Protocol(format!("WebSocket handshake: {e}")),
        other => DataPlaneError::Unreachable {
            url: url.to_string(),
            message: error_chain(&other),
        },
    }
}

/// An error and its sources on one line (DNS and TLS errors hide the useful part in a source).
pub(super) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

async fn await_ack(
    stream: &mut SplitStream<Socket>,
    deadline: Instant,
    timeout: Duration,
) -> Result<Duration, DataPlaneError> {
    loop {
        let next = match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => {
                return Err(DataPlaneError::Timeout {
                    what: "connection_ack".into(),
                    timeout,
                });
            }
            Ok(next) => next,
        };
        let text = match next {
            None => {
                return Err(DataPlaneError::Closed(
                    "closed before connection_ack".into(),
                ));
            }
            Some(Err(e)) => return Err(DataPlaneError::Closed(e.to_string())),
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => {
                return Err(DataPlaneError::Closed(close_reason(frame.as_ref())));
            }
            Some(Ok(_)) => continue,
        };
        match serde_json::from_str::<ServerMessage>(&text) {
            Ok(ServerMessage::ConnectionAck {
                connection_timeout_ms,
            }) => return Ok(Duration::from_millis(connection_timeout_ms.max(1))),
            Ok(ServerMessage::ConnectionError { errors }) => {
                let status = errors.first().and_then(|e| e.error_code);
                return Err(DataPlaneError::rejected(status, errors));
            }
            Ok(ServerMessage::Ka {}) => continue,
            Ok(other) => return Err(unexpected(&other, "connection_ack")),
            Err(e) => {
                return Err(DataPlaneError::Protocol(format!(
                    "could not read {text:?} as a server message: {e}"
                )));
            }
        }
    }
}

fn close_reason(frame: Option<&tokio_tungstenite::tungstenite::protocol::CloseFrame>) -> String {
    match frame {
        Some(f) if !f.reason.is_empty() => {
            format!("closed by the server ({}: {})", f.code, f.reason)
        }
        Some(f) => format!("closed by the server ({})", f.code),
        None => "closed by the server".into(),
    }
}

fn unexpected(msg: &ServerMessage, expected: &str) -> DataPlaneError {
    let text = serde_json::to_string(msg).unwrap_or_default();
    DataPlaneError::Protocol(format!("expected {expected}, got {text}"))
}

/// Routes server messages until the socket ends or falls silent for longer than the
/// connection timeout; then records why, which fails every waiting request and ends every
/// subscription.
async fn read_loop(mut stream: SplitStream<Socket>, routes: Arc<Mutex<Routes>>, silence: Duration) {
    let reason = loop {
        let next = match tokio::time::timeout(silence, stream.next()).await {
            Err(_) => {
                break format!(
                    "no keep-alive (ka) from the service within {}",
                    humantime::format_duration(silence)
                );
            }
            Ok(next) => next,
        };
        let text = match next {
            None => break "the server ended the connection".to_string(),
            Some(Err(e)) => break e.to_string(),
            Some(Ok(Message::Close(frame))) => break close_reason(frame.as_ref()),
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(_)) => continue,
        };
        let msg = match serde_json::from_str::<ServerMessage>(&text) {
            Ok(msg) => msg,
            Err(e) => {
                tracing::warn!("ignoring an unreadable message from the service ({e}): {text}");
                continue;
            }
        };
        route(&routes, msg);
    };
    tracing::debug!("real-time connection ended: {reason}");
    let mut routes = routes
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    routes.closed = Some(reason);
    routes.waiters.clear();
    routes.subscriptions.clear();
}

fn route(routes: &Mutex<Routes>, msg: ServerMessage) {
    let mut routes = routes
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let (id, delivery) = match &msg {
        ServerMessage::Ka {} => return,
        ServerMessage::Data { id, event } => (
            id.clone(),
            Delivery::Event {
                text: event.clone(),
                at: Instant::now(),
            },
        ),
        ServerMessage::BroadcastError { id, errors } => {
            (id.clone(), Delivery::BroadcastError(errors.clone()))
        }
        ServerMessage::SubscribeSuccess { id }
        | ServerMessage::SubscribeError { id, .. }
        | ServerMessage::UnsubscribeSuccess { id }
        | ServerMessage::UnsubscribeError { id, .. }
        | ServerMessage::PublishSuccess { id, .. }
        | ServerMessage::PublishError { id, .. }
        | ServerMessage::Error { id: Some(id), .. } => {
            if let Some(waiter) = routes.waiters.remove(id) {
                let _ = waiter.send(msg);
            } else {
                tracing::debug!("ignoring an answer for unknown id {id}");
            }
            return;
        }
        ServerMessage::Error { id: None, errors } => {
            tracing::warn!(
                "the service reported an error: {}",
                DataPlaneError::rejected(None, errors.clone())
            );
            return;
        }
        ServerMessage::ConnectionAck { .. } | ServerMessage::ConnectionError { .. } => {
            tracing::debug!("ignoring a late connection message");
            return;
        }
    };
    if let Some(tx) = routes.subscriptions.get(&id) {
        let _ = tx.send(delivery);
    } else {
        tracing::debug!("ignoring a delivery for unknown subscription {id}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_auth_object_rides_in_a_base64url_subprotocol() {
        let auth = Authorization::from([
            ("host".to_string(), "example.com".to_string()),
            ("x-api-key".to_string(), "da2-??>>".to_string()),
        ]);
        let value = subprotocols(&auth);
        let (first, second) = value.split_once(", ").expect("two protocols");
        assert_eq!(first, "aws-appsync-event-ws");
        let encoded = second.strip_prefix("header-").expect("header- prefix");
        assert!(!encoded.contains(['+', '/', '=']), "{encoded}");
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(encoded)
            .expect("base64url");
        let back: Authorization = serde_json::from_slice(&decoded).expect("json");
        assert_eq!(back, auth);
    }

    #[test]
    fn answers_go_to_their_waiter_and_data_to_its_subscription() {
        let routes = Mutex::new(Routes::default());
        let (tx, mut rx) = oneshot::channel();
        let (sub_tx, mut sub_rx) = mpsc::unbounded_channel();
        {
            let mut r = routes.lock().expect("lock");
            r.waiters.insert("p1".into(), tx);
            r.subscriptions.insert("s1".into(), sub_tx);
        }
        route(
            &routes,
            ServerMessage::Data {
                id: "s1".into(),
                event: "{\"a\":1}".into(),
            },
        );
        route(&routes, ServerMessage::Ka {});
        route(
            &routes,
            ServerMessage::Data {
                id: "unknown".into(),
                event: "1".into(),
            },
        );
        route(
            &routes,
            ServerMessage::PublishSuccess {
                id: "p1".into(),
                successful: vec![],
                failed: vec![],
            },
        );
        assert!(matches!(
            sub_rx.try_recv(),
            Ok(Delivery::Event { ref text, .. }) if text == "{\"a\":1}"
        ));
        assert!(sub_rx.try_recv().is_err());
        assert!(matches!(
            rx.try_recv(),
            Ok(ServerMessage::PublishSuccess { .. })
        ));
        assert!(routes.lock().expect("lock").waiters.is_empty());
    }
}
