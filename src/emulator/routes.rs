//! The control plane's HTTP surface: AppSync's restJson routes for Event APIs (reference A.1),
//! the `/_emulator/*` endpoints, and the layers every operation goes through (request id,
//! SigV4 check, latency, fault injection, stats, logging).
//!
//! Handlers parse the wire shapes, call the [`Store`](super::store::Store) through
//! [`EmulatorState`], and wrap the answer as AppSync does (`{"api": ...}`, `{}` for deletes).

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{
    FromRequest, FromRequestParts, MatchedPath, RawPathParams, RawQuery, Request, State,
};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use percent_encoding::percent_decode_str;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::error::{ApiError, ErrorKind};
use super::server::DropConnection;
use super::shapes::{
    ApiKeyRequest, CreateApiRequest, CreateChannelNamespaceRequest, TagResourceRequest,
    UpdateApiRequest, UpdateChannelNamespaceRequest,
};
use super::sigv4;
use super::state::{EmulatorState, now};
use super::store::PageRequest;
use crate::cli::FaultKind;

type Shared = Arc<EmulatorState>;
type Answer = Result<axum::Json<Value>, ApiError>;

/// Largest request body accepted (handler code is at most 32 KB).
const MAX_BODY: usize = 1024 * 1024;

/// A control-plane operation, named as in the AppSync API reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    CreateApi,
    GetApi,
    ListApis,
    UpdateApi,
    DeleteApi,
    CreateChannelNamespace,
    GetChannelNamespace,
    ListChannelNamespaces,
    UpdateChannelNamespace,
    DeleteChannelNamespace,
    CreateApiKey,
    ListApiKeys,
    UpdateApiKey,
    DeleteApiKey,
    TagResource,
    UntagResource,
    ListTagsForResource,
}

impl Operation {
    pub fn name(self) -> &'static str {
        match self {
            Operation::CreateApi => "CreateApi",
            Operation::GetApi => "GetApi",
            Operation::ListApis => "ListApis",
            Operation::UpdateApi => "UpdateApi",
            Operation::DeleteApi => "DeleteApi",
            Operation::CreateChannelNamespace => "CreateChannelNamespace",
            Operation::GetChannelNamespace => "GetChannelNamespace",
            Operation::ListChannelNamespaces => "ListChannelNamespaces",
            Operation::UpdateChannelNamespace => "UpdateChannelNamespace",
            Operation::DeleteChannelNamespace => "DeleteChannelNamespace",
            Operation::CreateApiKey => "CreateApiKey",
            Operation::ListApiKeys => "ListApiKeys",
            Operation::UpdateApiKey => "UpdateApiKey",
            Operation::DeleteApiKey => "DeleteApiKey",
            Operation::TagResource => "TagResource",
            Operation::UntagResource => "UntagResource",
            Operation::ListTagsForResource => "ListTagsForResource",
        }
    }

    /// The operation served at a route of [`control_router`] (its matched path pattern).
    fn of_route(method: &Method, route: &str) -> Option<Operation> {
        use Operation::*;
        let op = match (route, method.as_str()) {
            (APIS, "POST") => CreateApi,
            (APIS, "GET") => ListApis,
            (API, "GET") => GetApi,
            (API, "POST") => UpdateApi,
            (API, "DELETE") => DeleteApi,
            (NAMESPACES, "POST") => CreateChannelNamespace,
            (NAMESPACES, "GET") => ListChannelNamespaces,
            (NAMESPACE, "GET") => GetChannelNamespace,
            (NAMESPACE, "POST") => UpdateChannelNamespace,
            (NAMESPACE, "DELETE") => DeleteChannelNamespace,
            (KEYS, "POST") => CreateApiKey,
            (KEYS, "GET") => ListApiKeys,
            (KEY, "POST") => UpdateApiKey,
            (KEY, "DELETE") => DeleteApiKey,
            (TAGS, "POST") => TagResource,
            (TAGS, "DELETE") => UntagResource,
            (TAGS, "GET") => ListTagsForResource,
            _ => return None,
        };
        Some(op)
    }
}

const APIS: &str = "/v2/apis";
const API: &str = "/v2/apis/{api_id}";
const NAMESPACES: &str = "/v2/apis/{api_id}/channelNamespaces";
const NAMESPACE: &str = "/v2/apis/{api_id}/channelNamespaces/{name}";
const KEYS: &str = "/v1/apis/{api_id}/apikeys";
const KEY: &str = "/v1/apis/{api_id}/apikeys/{id}";
const TAGS: &str = "/v1/tags/{*resource_arn}";

/// The control-plane router: every AppSync Event API operation plus `/_emulator/health` and
/// `/_emulator/stats`. Kept apart from the listener so tests can drive it with `oneshot`.
pub fn control_router(state: Shared) -> Router {
    let operations = Router::new()
        .route(APIS, post(create_api).get(list_apis))
        .route(API, get(get_api).post(update_api).delete(delete_api))
        .route(NAMESPACES, post(create_namespace).get(list_namespaces))
        .route(
            NAMESPACE,
            get(get_namespace)
                .post(update_namespace)
                .delete(delete_namespace),
        )
        .route(KEYS, post(create_key).get(list_keys))
        .route(KEY, post(update_key).delete(delete_key))
        .route(
            TAGS,
            post(tag_resource).delete(untag_resource).get(list_tags),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), operation));
    Router::new()
        .route("/_emulator/health", get(health))
        .route("/_emulator/stats", get(stats).delete(reset_stats))
        .merge(operations)
        .fallback(unknown_operation)
        .method_not_allowed_fallback(unknown_operation)
        .layer(middleware::from_fn_with_state(state.clone(), envelope))
        .with_state(state)
}

// ---- layers -----------------------------------------------------------------------------

/// When the request arrived (set by [`envelope`]).
#[derive(Clone, Copy)]
struct Started(Instant);

/// Marks a response with the operation it answered and the fault injected into it, for
/// [`envelope`]'s log line and stats.
#[derive(Clone, Copy)]
struct Served {
    operation: &'static str,
    fault: Option<FaultKind>,
}

/// Outermost layer: a request id on every response; the log line and stats of every operation.
async fn envelope(State(state): State<Shared>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    req.extensions_mut().insert(Started(started));
    let is_emulator_endpoint = req.uri().path().starts_with("/_emulator/");
    let mut response = next.run(req).await;
    let request_id = uuid::Uuid::new_v4().to_string();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    if !is_emulator_endpoint {
        let served = response.extensions().get::<Served>().copied();
        let operation = served.map_or("UnknownOperation", |s| s.operation);
        let fault = served.and_then(|s| s.fault);
        let error = response.extensions().get::<ErrorKind>().map(|k| k.code());
        record(
            &state,
            &method,
            operation,
            response.status(),
            error,
            fault,
            started,
        );
    }
    response
}

fn record(
    state: &EmulatorState,
    method: &Method,
    operation: &str,
    status: StatusCode,
    error: Option<&str>,
    fault: Option<FaultKind>,
    started: Instant,
) {
    state
        .stats()
        .record(operation, error, fault.map(FaultKind::name));
    if state.config().log_requests {
        let elapsed = started.elapsed();
        let outcome = match (fault, error) {
            (Some(FaultKind::LostResponse), _) => {
                "committed, connection dropped (injected lost-response)".to_string()
            }
            (Some(f), Some(e)) => format!("{} {e} (injected {})", status.as_u16(), f.name()),
            (_, Some(e)) => format!("{} {e}", status.as_u16()),
            _ => status.as_u16().to_string(),
        };
        eprintln!(
            "[emulator] {method} {operation} {outcome} {:.1}ms",
            elapsed.as_secs_f64() * 1000.0
        );
    }
}

/// The layer of every AppSync operation: SigV4 check (with `--verify-sigv4`), `--latency`,
/// then fault injection.
async fn operation(
    State(state): State<Shared>,
    matched: MatchedPath,
    req: Request,
    next: Next,
) -> Response {
    let Some(op) = Operation::of_route(req.method(), matched.as_str()) else {
        return unknown_operation().await.into_response();
    };
    let served = |fault| Served {
        operation: op.name(),
        fault,
    };
    let mark = |mut response: Response, fault| {
        response.extensions_mut().insert(served(fault));
        response
    };
    let req = if state.config().verify_sigv4 {
        match check_signature(&state, req).await {
            Ok(req) => req,
            Err(e) => return mark(e.into_response(), None),
        }
    } else {
        req
    };
    if let Some(latency) = state.config().latency.filter(|l| !l.is_zero()) {
        tokio::time::sleep(latency).await;
    }
    let fault = state.faults().draw();
    let response = match fault {
        None => next.run(req).await,
        Some(FaultKind::Throttle) => {
            ApiError::new(ErrorKind::LimitExceeded, "Rate exceeded (injected fault)")
                .into_response()
        }
        Some(FaultKind::Internal) => {
            ApiError::internal("An internal failure occurred (injected fault).").into_response()
        }
        Some(FaultKind::Conflict) => ApiError::new(
            ErrorKind::ConcurrentModification,
            "Another modification is in progress (injected fault).",
        )
        .into_response(),
        Some(FaultKind::LostResponse) => {
            let method = req.method().clone();
            let started = req.extensions().get::<Started>().map(|s| s.0);
            let connection = req.extensions().get::<DropConnection>().cloned();
            let response = next.run(req).await;
            if let Some(connection) = connection {
                // The operation is committed; the client never hears about it.
                let error = response.extensions().get::<ErrorKind>().map(|k| k.code());
                record(
                    &state,
                    &method,
                    op.name(),
                    response.status(),
                    error,
                    fault,
                    started.unwrap_or_else(Instant::now),
                );
                connection.drop_now();
                std::future::pending::<()>().await;
            }
            response
        }
    };
    mark(response, fault)
}

async fn check_signature(state: &EmulatorState, req: Request) -> Result<Request, ApiError> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::bad_request("The request body is too large or unreadable."))?;
    let config = state.config();
    sigv4::verify(
        &config.credentials,
        &config.region,
        &parts,
        &body,
        SystemTime::now(),
    )?;
    Ok(Request::from_parts(parts, Body::from(body)))
}

// ---- extraction helpers -------------------------------------------------------------------

/// The URI labels of a route (`{api_id}`, `{name}`, ...), percent-decoded, in order.
struct Labels(Vec<String>);

impl<S: Send + Sync> FromRequestParts<S> for Labels {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let raw = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::bad_request("The request path could not be read."))?;
        raw.iter()
            .map(|(_, value)| {
                percent_decode_str(value)
                    .decode_utf8()
                    .map(|v| v.into_owned())
                    .map_err(|_| ApiError::bad_request("A path label is not valid UTF-8."))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Labels)
    }
}

impl Labels {
    fn get(&self, index: usize) -> Result<&str, ApiError> {
        self.0
            .get(index)
            .map(String::as_str)
            .ok_or_else(|| ApiError::bad_request("A path label is missing."))
    }
}

/// A JSON request body, parsed into a request shape (an empty body is `{}`); a body that is
/// too large or not the shape is a BadRequestException naming the offending member.
struct Input<T>(T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for Input<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let body = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| {
                ApiError::bad_request(format!(
                    "The request body is larger than {MAX_BODY} bytes or could not be read."
                ))
            })?;
        parse(&body).map(Input)
    }
}

/// Parses a JSON request body (an empty body is `{}`); errors name the offending member.
fn parse<T: DeserializeOwned + Default>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            ApiError::bad_request(format!("Could not parse the request body: {}", e.inner()))
        } else {
            ApiError::bad_request(format!(
                "Could not parse the request body at '{path}': {}",
                e.inner()
            ))
        }
    })
}

/// Query parameters, percent-decoded, in order (repeated names kept).
fn query_pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let decode = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|v| v.into_owned())
            .map_err(|_| ApiError::bad_request("A query parameter is not valid UTF-8."))
    };
    raw.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(k)?, decode(v)?))
        })
        .collect()
}

fn page(raw: Option<&str>) -> Result<PageRequest, ApiError> {
    let mut page = PageRequest::default();
    for (key, value) in query_pairs(raw)? {
        match key.as_str() {
            "maxResults" => {
                page.max_results = Some(value.parse().map_err(|_| {
                    ApiError::bad_request(format!(
                        "1 validation error detected: Value '{value}' at 'maxResults' failed to \
                         satisfy constraint: Member must be an integer"
                    ))
                })?);
            }
            "nextToken" => page.next_token = Some(value),
            _ => {}
        }
    }
    Ok(page)
}

fn list_answer<T: serde::Serialize>(member: &str, items: Vec<T>, next: Option<String>) -> Answer {
    let mut body = serde_json::Map::new();
    body.insert(member.to_string(), json!(items));
    if let Some(next) = next {
        body.insert("nextToken".to_string(), json!(next));
    }
    Ok(axum::Json(Value::Object(body)))
}

fn empty() -> Answer {
    Ok(axum::Json(json!({})))
}

// ---- APIs -----------------------------------------------------------------------------------

async fn create_api(State(state): State<Shared>, Input(req): Input<CreateApiRequest>) -> Answer {
    state.read(|s| s.check_create_api(&req))?;
    let listener = state.bind_data_plane(None).await?;
    let port = listener
        .local_addr()
        .map_err(|e| ApiError::internal(format!("data-plane listener has no address: {e}")))?
        .port();
    let host = state.data_plane_host();
    let (api, unsaved) = state.change(|s| s.create_api(req, &host, port, now()))?;
    state.start_data_plane(&api.api_id, listener);
    unsaved.save().await?;
    Ok(axum::Json(json!({ "api": api })))
}

async fn get_api(State(state): State<Shared>, labels: Labels) -> Answer {
    let api = state.read(|s| s.get_api(labels.get(0)?))?;
    Ok(axum::Json(json!({ "api": api })))
}

async fn list_apis(State(state): State<Shared>, RawQuery(query): RawQuery) -> Answer {
    let page = page(query.as_deref())?;
    let page = state.read(|s| s.list_apis(&page))?;
    list_answer("apis", page.items, page.next_token)
}

async fn update_api(
    State(state): State<Shared>,
    labels: Labels,
    Input(req): Input<UpdateApiRequest>,
) -> Answer {
    let api = state.mutate(|s| s.update_api(labels.get(0)?, req)).await?;
    Ok(axum::Json(json!({ "api": api })))
}

async fn delete_api(State(state): State<Shared>, labels: Labels) -> Answer {
    let api_id = labels.get(0)?;
    let (_, unsaved) = state.change(|s| s.delete_api(api_id))?;
    state.stop_data_plane(api_id).await;
    unsaved.save().await?;
    empty()
}

// ---- channel namespaces -----------------------------------------------------------------

async fn create_namespace(
    State(state): State<Shared>,
    labels: Labels,
    Input(req): Input<CreateChannelNamespaceRequest>,
) -> Answer {
    let ns = state
        .mutate(|s| s.create_namespace(labels.get(0)?, req, now()))
        .await?;
    Ok(axum::Json(json!({ "channelNamespace": ns })))
}

async fn get_namespace(State(state): State<Shared>, labels: Labels) -> Answer {
    let ns = state.read(|s| s.get_namespace(labels.get(0)?, labels.get(1)?))?;
    Ok(axum::Json(json!({ "channelNamespace": ns })))
}

async fn list_namespaces(
    State(state): State<Shared>,
    labels: Labels,
    RawQuery(query): RawQuery,
) -> Answer {
    let page = page(query.as_deref())?;
    let page = state.read(|s| s.list_namespaces(labels.get(0)?, &page))?;
    list_answer("channelNamespaces", page.items, page.next_token)
}

async fn update_namespace(
    State(state): State<Shared>,
    labels: Labels,
    Input(req): Input<UpdateChannelNamespaceRequest>,
) -> Answer {
    let ns = state
        .mutate(|s| s.update_namespace(labels.get(0)?, labels.get(1)?, req, now()))
        .await?;
    Ok(axum::Json(json!({ "channelNamespace": ns })))
}

async fn delete_namespace(State(state): State<Shared>, labels: Labels) -> Answer {
    state
        .mutate(|s| s.delete_namespace(labels.get(0)?, labels.get(1)?))
        .await?;
    empty()
}

// ---- API keys -----------------------------------------------------------------------------

async fn create_key(
    State(state): State<Shared>,
    labels: Labels,
    Input(req): Input<ApiKeyRequest>,
) -> Answer {
    let key = state
        .mutate(|s| s.create_key(labels.get(0)?, req, now()))
        .await?;
    Ok(axum::Json(json!({ "apiKey": key })))
}

async fn list_keys(
    State(state): State<Shared>,
    labels: Labels,
    RawQuery(query): RawQuery,
) -> Answer {
    let page = page(query.as_deref())?;
    let page = state.read(|s| s.list_keys(labels.get(0)?, &page, now()))?;
    list_answer("apiKeys", page.items, page.next_token)
}

async fn update_key(
    State(state): State<Shared>,
    labels: Labels,
    Input(req): Input<ApiKeyRequest>,
) -> Answer {
    let key = state
        .mutate(|s| s.update_key(labels.get(0)?, labels.get(1)?, req, now()))
        .await?;
    Ok(axum::Json(json!({ "apiKey": key })))
}

async fn delete_key(State(state): State<Shared>, labels: Labels) -> Answer {
    state
        .mutate(|s| s.delete_key(labels.get(0)?, labels.get(1)?, now()))
        .await?;
    empty()
}

// ---- tags ---------------------------------------------------------------------------------

async fn tag_resource(
    State(state): State<Shared>,
    labels: Labels,
    Input(req): Input<TagResourceRequest>,
) -> Answer {
    state
        .mutate(|s| s.tag_resource(labels.get(0)?, req.tags))
        .await?;
    empty()
}

async fn untag_resource(
    State(state): State<Shared>,
    labels: Labels,
    RawQuery(query): RawQuery,
) -> Answer {
    let keys: Vec<String> = query_pairs(query.as_deref())?
        .into_iter()
        .filter(|(k, _)| k == "tagKeys")
        .map(|(_, v)| v)
        .collect();
    state
        .mutate(|s| s.untag_resource(labels.get(0)?, &keys))
        .await?;
    empty()
}

async fn list_tags(State(state): State<Shared>, labels: Labels) -> Answer {
    let tags = state.read(|s| s.list_tags(labels.get(0)?))?;
    Ok(axum::Json(json!({ "tags": tags })))
}

// ---- emulator endpoints ------------------------------------------------------------------

async fn health(State(state): State<Shared>) -> Answer {
    let apis = state.read(|s| s.records().count());
    Ok(axum::Json(json!({ "status": "ok", "apis": apis })))
}

async fn stats(State(state): State<Shared>) -> Answer {
    Ok(axum::Json(json!(state.stats().snapshot())))
}

async fn reset_stats(State(state): State<Shared>) -> Answer {
    state.stats().reset();
    empty()
}

async fn unknown_operation() -> ApiError {
    ApiError::new(
        ErrorKind::UnknownOperation,
        "No AppSync Event API operation is served at this method and path.",
    )
}

#[cfg(test)]
mod tests {
    use axum::http::Request;
    use tower::ServiceExt as _;

    use super::*;
    use crate::emulator::Config;

    fn router() -> (Router, Shared) {
        let state = EmulatorState::in_memory(Config::default());
        (control_router(Arc::clone(&state)), state)
    }

    async fn call(
        router: &Router,
        method: &str,
        uri: &str,
        body: &str,
    ) -> (StatusCode, Response, Value) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        let response = router.clone().oneshot(req).await.expect("infallible");
        let status = response.status();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("body");
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, Response::from_parts(parts, Body::empty()), json)
    }

    const EVENT_CONFIG: &str = r#"{"authProviders":[{"authType":"API_KEY"}],
        "connectionAuthModes":[{"authType":"API_KEY"}],
        "defaultPublishAuthModes":[{"authType":"API_KEY"}],
        "defaultSubscribeAuthModes":[{"authType":"API_KEY"}]}"#;

    #[tokio::test]
    async fn errors_carry_the_type_header_the_json_body_and_a_request_id() {
        let (router, _) = router();
        let (status, response, body) =
            call(&router, "GET", "/v2/apis/abcdefghijklmnopqrstuvwxyz", "").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(response.headers()["x-amzn-errortype"], "NotFoundException");
        assert!(response.headers().contains_key("x-amzn-requestid"));
        assert_eq!(body["__type"], "NotFoundException");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("not found"))
        );

        let (status, _, body) = call(&router, "POST", "/v2/apis", "{not json").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["__type"], "BadRequestException");

        let (status, _, body) = call(&router, "POST", "/v2/apis", r#"{"name":"x"}"#).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("eventConfig")),
            "{body}"
        );
    }

    #[tokio::test]
    async fn unknown_routes_and_methods_are_aws_shaped_errors() {
        let (router, state) = router();
        for (method, uri) in [
            ("GET", "/v3/nothing"),
            ("PUT", "/v2/apis"),
            ("PATCH", "/v1/tags/x"),
        ] {
            let (status, response, body) = call(&router, method, uri, "").await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {uri}");
            assert_eq!(
                response.headers()["x-amzn-errortype"],
                "UnknownOperationException"
            );
            assert_eq!(body["__type"], "UnknownOperationException");
        }
        assert_eq!(state.stats().snapshot().operations["UnknownOperation"], 3);
    }

    #[tokio::test]
    async fn tag_routes_take_percent_encoded_and_plain_arns() {
        let (router, _) = router();
        let (status, _, body) = call(
            &router,
            "POST",
            "/v2/apis",
            &format!(r#"{{"name":"tagged","eventConfig":{EVENT_CONFIG}}}"#),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let arn = body["api"]["apiArn"].as_str().expect("arn").to_string();
        let encoded = arn.replace(':', "%3A").replace('/', "%2F");
        let (status, _, _) = call(
            &router,
            "POST",
            &format!("/v1/tags/{encoded}"),
            r#"{"tags":{"env":"dev","team":"a"}}"#,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (_, _, body) = call(&router, "GET", &format!("/v1/tags/{arn}"), "").await;
        assert_eq!(body["tags"]["env"], "dev");
        let (status, _, _) = call(
            &router,
            "DELETE",
            &format!("/v1/tags/{encoded}?tagKeys=env&tagKeys=team"),
            "",
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (_, _, body) = call(&router, "GET", &format!("/v1/tags/{encoded}"), "").await;
        assert_eq!(body, serde_json::json!({"tags": {}}));
    }

    #[tokio::test]
    async fn emulator_endpoints_report_health_and_per_operation_counts() {
        let (router, _) = router();
        let (status, _, body) = call(&router, "GET", "/_emulator/health", "").await;
        assert_eq!(
            (status, body["status"].as_str()),
            (StatusCode::OK, Some("ok"))
        );
        call(&router, "GET", "/v2/apis", "").await;
        call(&router, "GET", "/v2/apis", "").await;
        call(&router, "GET", "/v2/apis/nope", "").await;
        let (_, _, stats) = call(&router, "GET", "/_emulator/stats", "").await;
        assert_eq!(stats["operations"]["ListApis"], 2);
        assert_eq!(stats["errors"]["GetApi"]["NotFoundException"], 1);
        assert_eq!(stats["requests"], 3);
        call(&router, "DELETE", "/_emulator/stats", "").await;
        let (_, _, stats) = call(&router, "GET", "/_emulator/stats", "").await;
        assert_eq!(stats["requests"], 0);
    }

    #[tokio::test]
    async fn every_route_names_its_operation() {
        let (router, state) = router();
        let id = "abcdefghijklmnopqrstuvwxyz";
        let arn = format!("arn%3Aaws%3Aappsync%3Aus-east-1%3A123456789012%3Aapis%2F{id}");
        for (method, uri) in [
            ("POST", "/v2/apis".to_string()),
            ("GET", "/v2/apis".to_string()),
            ("GET", format!("/v2/apis/{id}")),
            ("POST", format!("/v2/apis/{id}")),
            ("DELETE", format!("/v2/apis/{id}")),
            ("POST", format!("/v2/apis/{id}/channelNamespaces")),
            ("GET", format!("/v2/apis/{id}/channelNamespaces")),
            ("GET", format!("/v2/apis/{id}/channelNamespaces/ns")),
            ("POST", format!("/v2/apis/{id}/channelNamespaces/ns")),
            ("DELETE", format!("/v2/apis/{id}/channelNamespaces/ns")),
            ("POST", format!("/v1/apis/{id}/apikeys")),
            ("GET", format!("/v1/apis/{id}/apikeys")),
            ("POST", format!("/v1/apis/{id}/apikeys/da2-x")),
            ("DELETE", format!("/v1/apis/{id}/apikeys/da2-x")),
            ("POST", format!("/v1/tags/{arn}")),
            ("DELETE", format!("/v1/tags/{arn}?tagKeys=a")),
            ("GET", format!("/v1/tags/{arn}")),
        ] {
            call(&router, method, &uri, "").await;
        }
        let stats = state.stats().snapshot();
        assert_eq!(stats.operations.len(), 17, "{:?}", stats.operations);
        assert!(!stats.operations.contains_key("UnknownOperation"));
    }
}
