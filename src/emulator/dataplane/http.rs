//! The routes of one API's data-plane listener: `POST /event` (HTTP publish, with CORS for
//! browsers) and `GET /event/realtime` (the WebSocket upgrade). Anything else is a JSON 404.
//!
//! HTTP errors have AWS's shape: `{"errors":[{"errorType":…,"message":…}]}` with the status of
//! [`ErrorKind::status`] and an `x-amzn-ErrorType` header (which the Amplify client reads to name
//! the error). Upgrades must offer the `aws-appsync-event-ws` subprotocol, which is echoed;
//! connection auth comes from the `header-<base64url JSON>` subprotocol, or else from the
//! upgrade's own headers (the Swift client's way).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::protocol::{self, Headers};
use super::publish::{self, Publish};
use super::{DataPlane, DataPlaneError, ErrorKind};
use crate::wire::{
    AUTH_SUBPROTOCOL_PREFIX, ErrorResponse, MAX_PUBLISH_BYTES, PUBLISH_PATH, PublishRequest,
    PublishResponse, REALTIME_PATH, SUBPROTOCOL,
};

/// Largest WebSocket message accepted (a 1.2 MB publish plus its envelope); a larger one ends
/// that connection only.
const MAX_WS_MESSAGE_BYTES: usize = 2 * 1024 * 1024;
/// Read buffer per connection: small, so that idle connections stay cheap.
const WS_READ_BUFFER_BYTES: usize = 4 * 1024;

#[derive(Clone)]
struct ApiState {
    dp: Arc<DataPlane>,
    api_id: Arc<str>,
    /// Fires when the API's listener stops (API deleted, emulator stopping): open WebSockets
    /// end then.
    closed: CancellationToken,
}

/// The data-plane routes of the API `api_id`, to be served on that API's own listener.
pub fn router(dp: Arc<DataPlane>, api_id: impl Into<String>) -> Router {
    router_until(dp, api_id, CancellationToken::new())
}

/// [`router`], whose real-time connections are closed when `closed` fires.
pub fn router_until(
    dp: Arc<DataPlane>,
    api_id: impl Into<String>,
    closed: CancellationToken,
) -> Router {
    let state = ApiState {
        dp,
        api_id: Arc::from(api_id.into()),
        closed,
    };
    Router::new()
        .route(
            PUBLISH_PATH,
            post(http_publish)
                .options(preflight)
                .layer(DefaultBodyLimit::max(MAX_PUBLISH_BYTES)),
        )
        .route(REALTIME_PATH, get(realtime))
        .fallback(not_found)
        .with_state(state)
}

fn error_response(error: &DataPlaneError) -> Response {
    let status = StatusCode::from_u16(error.kind.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let body = ErrorResponse {
        errors: vec![crate::wire::WireError::new(
            error.error_type(),
            error.message.clone(),
        )],
    };
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(error_type) = HeaderValue::from_str(error.error_type()) {
        response
            .headers_mut()
            .insert("x-amzn-ErrorType", error_type);
    }
    cors(&mut response);
    response
}

fn cors(response: &mut Response) {
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
}

async fn preflight(headers: HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let h = response.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        headers
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static("*")),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    cors(&mut response);
    response
}

async fn not_found(uri: Uri) -> Response {
    error_response(&DataPlaneError::new(
        ErrorKind::NotFound,
        format!(
            "No data-plane route {}: publish with POST {PUBLISH_PATH}, subscribe on {REALTIME_PATH}",
            uri.path()
        ),
    ))
}

/// The client's address, where the server recorded it (`server::serve` does).
type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

async fn http_publish(
    State(state): State<ApiState>,
    peer: Peer,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error_response(&DataPlaneError::new(
                ErrorKind::PayloadTooLarge,
                "The publish request is larger than 1.2 MB.",
            ));
        }
        Err(rejection) => {
            return error_response(&DataPlaneError::bad_request(rejection.body_text()));
        }
    };
    let request: PublishRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error_response(&DataPlaneError::bad_request(format!(
                "The body must be {{\"channel\":\"…\",\"events\":[\"<json>\",…]}}: {e}"
            )));
        }
    };
    let mut pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
        .collect();
    // HTTP/2 has no Host header; SigV4 signs the authority under that name.
    let authority = uri.authority().map(|a| a.as_str().to_string());
    if !headers.contains_key(header::HOST)
        && let Some(authority) = authority.as_deref()
    {
        pairs.push(("host", authority));
    }
    let outcome = publish::publish(
        &state.dp,
        Publish {
            api_id: &state.api_id,
            channel: &request.channel,
            events: &request.events,
            headers: &pairs,
            signed_body: &body,
            source_ip: peer.map(|Extension(ConnectInfo(addr))| addr.ip()),
        },
    )
    .await;
    match outcome {
        Ok(outcome) => {
            let mut response = axum::Json(PublishResponse {
                failed: outcome.failed,
                successful: outcome.successful,
            })
            .into_response();
            cors(&mut response);
            response
        }
        Err(e) => error_response(&e),
    }
}

async fn realtime(
    State(state): State<ApiState>,
    peer: Peer,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(rejection) => {
            return error_response(&DataPlaneError::bad_request(format!(
                "{REALTIME_PATH} is a WebSocket endpoint (subprotocol {SUBPROTOCOL}): {}",
                rejection.body_text()
            )));
        }
    };
    let offered: Vec<String> = upgrade
        .requested_protocols()
        .filter_map(|p| p.to_str().ok().map(|s| s.trim().to_string()))
        .collect();
    if !offered.iter().any(|p| p == SUBPROTOCOL) {
        return error_response(&DataPlaneError::bad_request(format!(
            "Real-time clients must offer the WebSocket subprotocol {SUBPROTOCOL}."
        )));
    }
    let connect_headers = connect_headers(&offered, &headers);
    let peer = peer.map(|Extension(ConnectInfo(addr))| addr.ip());
    upgrade
        .protocols([SUBPROTOCOL])
        .read_buffer_size(WS_READ_BUFFER_BYTES)
        .max_message_size(MAX_WS_MESSAGE_BYTES)
        .max_frame_size(MAX_WS_MESSAGE_BYTES)
        .on_upgrade(move |socket| async move {
            let (write, read) = socket.split();
            let closed = state.closed.clone();
            protocol::run(
                state.dp,
                state.api_id.to_string(),
                connect_headers,
                peer,
                write,
                read,
                closed.cancelled_owned(),
            )
            .await;
        })
}

/// The connection's auth headers: the decoded `header-` subprotocol when one is offered, else
/// the upgrade request's headers.
fn connect_headers(offered: &[String], headers: &HeaderMap) -> Headers {
    if let Some(encoded) = offered
        .iter()
        .find_map(|p| p.strip_prefix(AUTH_SUBPROTOCOL_PREFIX))
    {
        return decode_auth_subprotocol(encoded).unwrap_or_else(|| {
            tracing::info!("the header- subprotocol is not base64url-encoded JSON; ignoring it");
            Vec::new()
        });
    }
    headers
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_string(), v.to_string()))
        })
        .collect()
}

/// Decodes `header-<base64url(JSON object)>` (padding optional; the standard alphabet is
/// accepted too, as some hand-written clients use it).
pub fn decode_auth_subprotocol(encoded: &str) -> Option<Headers> {
    let trimmed = encoded.trim_end_matches('=');
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    protocol::headers_from_json(&value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_auth_subprotocol_is_base64url_json() {
        let json = r#"{"host":"h:1","x-api-key":"da2-k??>"}"#;
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
        let std = base64::engine::general_purpose::STANDARD.encode(json);
        assert_ne!(url, std.trim_end_matches('='));
        for encoded in [url.as_str(), std.as_str()] {
            let headers = decode_auth_subprotocol(encoded).expect("decodes");
            assert!(headers.contains(&("x-api-key".into(), "da2-k??>".into())));
        }
        assert_eq!(decode_auth_subprotocol("!!!"), None);
        let not_object = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("[1]");
        assert_eq!(decode_auth_subprotocol(&not_object), None);
    }
}
