//! Data-plane message types (HTTP publish and the real-time WebSocket protocol), shared by the
//! emulator and the smoke client so that both speak exactly the same shapes.
//!
//! Field names follow the AppSync Events wire format (reference section C). Unknown fields are
//! ignored on input, as the service and its clients do (Amplify adds extra fields). This module
//! holds shapes and pure helpers only: no I/O, no auth decisions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The subprotocol every client offers and the server must echo.
pub const SUBPROTOCOL: &str = "aws-appsync-event-ws";
/// Prefix of the subprotocol that carries the base64url-encoded JSON auth object.
pub const AUTH_SUBPROTOCOL_PREFIX: &str = "header-";
/// Path of the HTTP publish endpoint.
pub const PUBLISH_PATH: &str = "/event";
/// Path of the real-time endpoint.
pub const REALTIME_PATH: &str = "/event/realtime";
/// `connectionTimeoutMs` sent in `connection_ack`.
pub const CONNECTION_TIMEOUT_MS: u64 = 300_000;
/// Most events in one publish (HTTP or WebSocket).
pub const MAX_EVENTS_PER_PUBLISH: usize = 5;
/// Largest event, in bytes (240 KB, after handler transform).
pub const MAX_EVENT_BYTES: usize = 240 * 1024;
/// Largest publish request body, in bytes (1.2 MB).
pub const MAX_PUBLISH_BYTES: usize = 1_200 * 1024;
/// Most subscriptions on one connection.
pub const MAX_SUBSCRIPTIONS_PER_CONNECTION: usize = 200;

/// The header naming an AWS error answer's type (HTTP header names are case-insensitive; this
/// is the lower-case form `http` looks up).
pub const ERROR_TYPE_HEADER: &str = "x-amzn-errortype";

/// The error type an `x-amzn-ErrorType` value names, without the `:http://...` suffix some AWS
/// front ends append; `None` when it is empty.
pub fn error_type_name(header: &str) -> Option<String> {
    let name = header.split(':').next().unwrap_or_default().trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// Auth headers as sent in the `header-` subprotocol, a message's `authorization` object, or
/// HTTP headers: header name to value (names as the client wrote them).
pub type Authorization = BTreeMap<String, String>;

/// A message from client to server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    ConnectionInit {},
    Subscribe {
        id: String,
        channel: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        authorization: Option<Authorization>,
    },
    Unsubscribe {
        id: String,
    },
    Publish {
        id: String,
        channel: String,
        /// Each event is a string holding JSON text.
        events: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        authorization: Option<Authorization>,
    },
}

/// One error in an `errors` array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireError {
    pub error_type: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<u16>,
}

impl WireError {
    pub fn new(error_type: impl Into<String>, message: impl Into<String>) -> WireError {
        WireError {
            error_type: error_type.into(),
            message: message.into(),
            error_code: None,
        }
    }

    pub fn with_code(mut self, code: u16) -> WireError {
        self.error_code = Some(code);
        self
    }
}

/// A successfully accepted event of a publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedEvent {
    pub identifier: String,
    pub index: usize,
}

/// An event of a publish that was not broadcast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedEvent {
    pub identifier: String,
    pub index: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A message from server to client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    ConnectionAck {
        #[serde(rename = "connectionTimeoutMs")]
        connection_timeout_ms: u64,
    },
    ConnectionError {
        errors: Vec<WireError>,
    },
    Ka {},
    SubscribeSuccess {
        id: String,
    },
    SubscribeError {
        id: String,
        errors: Vec<WireError>,
    },
    Data {
        id: String,
        /// One event: a string holding JSON text.
        event: String,
    },
    BroadcastError {
        id: String,
        errors: Vec<WireError>,
    },
    UnsubscribeSuccess {
        id: String,
    },
    UnsubscribeError {
        id: String,
        errors: Vec<WireError>,
    },
    PublishSuccess {
        id: String,
        successful: Vec<PublishedEvent>,
        failed: Vec<FailedEvent>,
    },
    PublishError {
        id: String,
        errors: Vec<WireError>,
    },
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        errors: Vec<WireError>,
    },
}

/// Body of `POST /event`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishRequest {
    pub channel: String,
    pub events: Vec<String>,
}

/// 200 answer to `POST /event`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishResponse {
    #[serde(default)]
    pub failed: Vec<FailedEvent>,
    #[serde(default)]
    pub successful: Vec<PublishedEvent>,
}

/// Non-2xx answer of the HTTP data plane: `{"errors":[{"errorType":…,"message":…}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub errors: Vec<WireError>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_drop_the_suffix_some_services_append() {
        assert_eq!(
            error_type_name("LimitExceededException:http://internal.amazon.com/"),
            Some("LimitExceededException".into())
        );
        assert_eq!(
            error_type_name("NotFoundException"),
            Some("NotFoundException".into())
        );
        assert_eq!(error_type_name(""), None);
    }

    #[test]
    fn client_messages_ignore_unknown_fields() {
        let raw = r#"{"type":"subscribe","id":"1","channel":"/default/*","authorization":{"x-api-key":"k"},
            "payload":{"extensions":{}}}"#;
        let msg: ClientMessage = serde_json::from_str(raw).expect("parses");
        assert!(
            matches!(msg, ClientMessage::Subscribe { ref channel, .. } if channel == "/default/*")
        );
        let init: ClientMessage =
            serde_json::from_str(r#"{"type":"connection_init"}"#).expect("parses");
        assert_eq!(init, ClientMessage::ConnectionInit {});
    }

    #[test]
    fn server_messages_have_the_documented_shapes() {
        let ack = serde_json::to_value(ServerMessage::ConnectionAck {
            connection_timeout_ms: CONNECTION_TIMEOUT_MS,
        })
        .expect("serialises");
        assert_eq!(
            ack,
            serde_json::json!({"type":"connection_ack","connectionTimeoutMs":300000})
        );
        let ka = serde_json::to_value(ServerMessage::Ka {}).expect("serialises");
        assert_eq!(ka, serde_json::json!({"type":"ka"}));
        let data = serde_json::to_value(ServerMessage::Data {
            id: "s".into(),
            event: "{\"a\":1}".into(),
        })
        .expect("serialises");
        assert_eq!(
            data,
            serde_json::json!({"type":"data","id":"s","event":"{\"a\":1}"})
        );
        let err = serde_json::to_value(ServerMessage::Error {
            id: None,
            errors: vec![WireError::new(
                "UnsupportedOperation",
                "Operation not supported through the realtime channel",
            )],
        })
        .expect("serialises");
        assert_eq!(
            err,
            serde_json::json!({"type":"error","errors":[{"errorType":"UnsupportedOperation",
                "message":"Operation not supported through the realtime channel"}]})
        );
    }
}
