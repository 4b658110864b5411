//! The Event API data plane against the real emulator over loopback: APIs, namespaces and keys
//! made with the real `aws-sdk-appsync` client; a real WebSocket client (tokio-tungstenite) and
//! HTTP client (reqwest) speaking the wire protocol as AWS clients do.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_appsync::types::{
    AuthMode, AuthProvider, AuthenticationType as Auth, CognitoConfig, EventConfig,
    OpenIdConnectConfig,
};
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use crate::support::{EmulatorProcess, sdk_client, sdk_config, start_emulator_with};
use evctl::emulator::{Config, Handle};
use evctl::signing::{self, Credentials};

/// Channel-namespace handlers, with this module's clients.
mod handlers;

/// How long any single expected message may take (a hang guard, not a timing assertion).
const PATIENCE: Duration = Duration::from_secs(20);

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

// ---------------------------------------------------------------------------------------------
// Setting up APIs through the real SDK
// ---------------------------------------------------------------------------------------------

/// An Event API as a client sees it: its data-plane host (`dns.HTTP`) and an API key.
#[derive(Clone)]
struct Api {
    id: String,
    host: String,
    key: String,
    client: aws_sdk_appsync::Client,
}

fn modes(types: &[Auth]) -> Vec<AuthMode> {
    types
        .iter()
        .map(|t| {
            AuthMode::builder()
                .auth_type(t.clone())
                .build()
                .expect("mode")
        })
        .collect()
}

fn provider(auth: Auth) -> AuthProvider {
    let builder = AuthProvider::builder().auth_type(auth.clone());
    match auth {
        Auth::AmazonCognitoUserPools => builder.cognito_config(
            CognitoConfig::builder()
                .user_pool_id("us-east-1_pool")
                .aws_region("us-east-1")
                .app_id_client_regex("client-[0-9]+")
                .build()
                .expect("cognito"),
        ),
        Auth::OpenidConnect => builder.open_id_connect_config(
            OpenIdConnectConfig::builder()
                .issuer("https://issuer.example")
                .client_id("my-app")
                .build()
                .expect("oidc"),
        ),
        Auth::AwsLambda => builder.lambda_authorizer_config(
            aws_sdk_appsync::types::LambdaAuthorizerConfig::builder()
                .authorizer_uri("arn:aws:lambda:us-east-1:123456789012:function:auth")
                .build()
                .expect("lambda"),
        ),
        _ => builder,
    }
    .build()
    .expect("provider")
}

/// An `EventConfig` providing `providers`; connect/publish/subscribe default to `defaults`.
fn event_config(providers: &[Auth], defaults: &[Auth]) -> EventConfig {
    EventConfig::builder()
        .set_auth_providers(Some(providers.iter().cloned().map(provider).collect()))
        .set_connection_auth_modes(Some(modes(defaults)))
        .set_default_publish_auth_modes(Some(modes(defaults)))
        .set_default_subscribe_auth_modes(Some(modes(defaults)))
        .build()
        .expect("event config")
}

/// Creates an API (namespace `default`, one API key) on the emulator at `endpoint`.
async fn create_api_with(client: aws_sdk_appsync::Client, config: EventConfig) -> Api {
    let api = client
        .create_api()
        .name("dataplane-test")
        .event_config(config)
        .send()
        .await
        .expect("CreateApi")
        .api
        .expect("api");
    let id = api.api_id().expect("id").to_string();
    let host = api.dns().expect("dns")["HTTP"].clone();
    assert_eq!(api.dns().expect("dns")["REALTIME"], host);
    client
        .create_channel_namespace()
        .api_id(&id)
        .name("default")
        .send()
        .await
        .expect("CreateChannelNamespace");
    let key = client
        .create_api_key()
        .api_id(&id)
        .expires(now() + 7 * 86_400)
        .send()
        .await
        .expect("CreateApiKey")
        .api_key
        .expect("key")
        .id
        .expect("key id");
    Api {
        id,
        host,
        key,
        client,
    }
}

async fn create_api(handle: &Handle, providers: &[Auth], defaults: &[Auth]) -> Api {
    let endpoint = handle.endpoint();
    create_api_with(sdk_client(&endpoint), event_config(providers, defaults)).await
}

/// An emulator with one API_KEY-only API.
async fn key_api() -> (Handle, Api) {
    let emulator = emulator().await;
    let api = create_api(&emulator, &[Auth::ApiKey], &[Auth::ApiKey]).await;
    (emulator, api)
}

async fn emulator() -> Handle {
    emulator_with(|_| {}).await
}

async fn emulator_with(adjust: impl FnOnce(&mut Config)) -> Handle {
    start_emulator_with(adjust).await
}

impl Api {
    async fn namespace(&self, name: &str, publish: Option<&[Auth]>, subscribe: Option<&[Auth]>) {
        self.client
            .create_channel_namespace()
            .api_id(&self.id)
            .name(name)
            .set_publish_auth_modes(publish.map(modes))
            .set_subscribe_auth_modes(subscribe.map(modes))
            .send()
            .await
            .expect("CreateChannelNamespace");
    }

    fn key_auth(&self) -> Value {
        json!({"host": self.host, "x-api-key": self.key})
    }

    fn iam_auth(&self, body: &str, secret: &str) -> Value {
        let creds = Credentials::new("test", secret, None);
        let headers = signing::sign_event_request(
            &creds,
            "us-east-1",
            &self.host,
            body,
            std::time::SystemTime::now(),
        )
        .expect("signs");
        serde_json::to_value(headers).expect("json")
    }

    fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://{}{path}", self.host)
    }

    async fn connect(&self, auth: &Value) -> Ws {
        Ws::connect(&self.url("ws", "/event/realtime"), Some(auth), &[], None)
            .await
            .expect("WebSocket upgrade")
    }

    /// A connected, acknowledged connection authorized with the API key.
    async fn ready(&self) -> Ws {
        let mut ws = self.connect(&self.key_auth()).await;
        ws.init().await;
        ws
    }

    async fn post(&self, headers: &[(&str, &str)], body: impl Into<reqwest::Body>) -> Reply {
        post(
            &reqwest::Client::new(),
            &self.url("http", "/event"),
            headers,
            body,
        )
        .await
    }

    async fn publish_http(&self, channel: &str, events: &[&str]) -> Reply {
        let body = json!({"channel": channel, "events": events}).to_string();
        self.post(&[("x-api-key", &self.key)], body).await
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP and WebSocket clients
// ---------------------------------------------------------------------------------------------

struct Reply {
    status: u16,
    error_type: Option<String>,
    body: Value,
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> Reply {
    let mut request = client.post(url);
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        request = request.header("content-type", "application/json");
    }
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.body(body).send().await.expect("POST /event");
    let status = response.status().as_u16();
    let error_type = response
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        error_type,
        body,
    }
}

impl Reply {
    fn assert_error(&self, status: u16, error_type: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(
            self.body["errors"][0]["errorType"], error_type,
            "{}",
            self.body
        );
        assert_eq!(self.error_type.as_deref(), Some(error_type));
    }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Ws {
    socket: Socket,
}

fn subprotocol_header(auth: &Value) -> String {
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(auth.to_string());
    format!("aws-appsync-event-ws, header-{encoded}")
}

impl Ws {
    /// Opens `url` offering the event subprotocol, with `auth` in a `header-` subprotocol and
    /// `headers` as extra upgrade headers.
    async fn connect(
        url: &str,
        auth: Option<&Value>,
        headers: &[(&str, &str)],
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Ws, tungstenite::Error> {
        let mut request = url.into_client_request()?;
        let protocols = match auth {
            Some(auth) => subprotocol_header(auth),
            None => "aws-appsync-event-ws".to_string(),
        };
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_str(&protocols).expect("header"),
        );
        for (k, v) in headers {
            request.headers_mut().insert(
                tungstenite::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        let connector = tls.map(Connector::Rustls);
        let (socket, response) =
            tokio_tungstenite::connect_async_tls_with_config(request, None, false, connector)
                .await?;
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some("aws-appsync-event-ws"),
            "the server echoes the event subprotocol"
        );
        Ok(Ws { socket })
    }

    async fn send(&mut self, message: Value) {
        self.send_raw(Message::text(message.to_string())).await;
    }

    async fn send_raw(&mut self, message: Message) {
        self.socket.send(message).await.expect("send");
    }

    /// The next frame, whatever it is (`None` once the connection is gone).
    async fn next(&mut self) -> Option<Message> {
        tokio::time::timeout(PATIENCE, self.socket.next())
            .await
            .expect("the server answers in time")
            .and_then(Result::ok)
    }

    /// The next JSON message, keep-alives included.
    async fn recv_any(&mut self) -> Value {
        loop {
            match self.next().await {
                Some(Message::Text(text)) => {
                    return serde_json::from_str(text.as_str()).expect("JSON message");
                }
                Some(Message::Ping(_) | Message::Pong(_)) => continue,
                other => panic!("expected a message, got {other:?}"),
            }
        }
    }

    /// The next JSON message that is not a keep-alive.
    async fn recv(&mut self) -> Value {
        loop {
            let message = self.recv_any().await;
            if message["type"] != "ka" {
                return message;
            }
        }
    }

    /// A publisher that also subscribes gets its `publish_success` and its own `data` in
    /// either order: returns them as `[data, publish_success]`.
    async fn recv_publish_and_data(&mut self) -> [Value; 2] {
        let mut answers = [self.recv().await, self.recv().await];
        answers.sort_by_key(|m| m["type"].as_str().map(str::to_string));
        answers
    }

    async fn init(&mut self) {
        self.send(json!({"type":"connection_init"})).await;
        assert_eq!(
            self.recv_any().await,
            json!({"type":"connection_ack","connectionTimeoutMs":300000})
        );
        assert_eq!(
            self.recv_any().await,
            json!({"type":"ka"}),
            "ka right after the ack"
        );
    }

    async fn subscribe(&mut self, id: &str, channel: &str, auth: &Value) -> Value {
        self.send(json!({"type":"subscribe","id":id,"channel":channel,"authorization":auth}))
            .await;
        self.recv().await
    }

    async fn expect_close(&mut self) -> Option<CloseFrame> {
        loop {
            match self.next().await {
                Some(Message::Close(frame)) => return frame,
                None => return None,
                Some(Message::Text(_) | Message::Ping(_) | Message::Pong(_)) => continue,
                Some(other) => panic!("expected the connection to close, got {other:?}"),
            }
        }
    }
}

fn data(id: &str, event: &str) -> Value {
    json!({"type":"data","id":id,"event":event})
}

// ---------------------------------------------------------------------------------------------
// The protocol
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn events_published_over_http_and_websocket_reach_every_matching_subscription() {
    let (_emulator, api) = key_api().await;
    let mut sub = api.ready().await;
    let auth = api.key_auth();
    assert_eq!(
        sub.subscribe("exact", "/default/room", &auth).await,
        json!({"type":"subscribe_success","id":"exact"})
    );
    assert_eq!(
        sub.subscribe("below", "default/*", &auth).await,
        json!({"type":"subscribe_success","id":"below"})
    );

    // HTTP publish: per-event identifiers, indexed as sent; one message per event per
    // subscription, the event as a JSON string.
    let reply = api
        .publish_http("default/room", &["{\"n\":1}", "\"two\""])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["failed"], json!([]));
    let successful = reply.body["successful"].as_array().expect("successful");
    assert_eq!(successful.len(), 2);
    assert_eq!(successful[1]["index"], 1);
    assert_eq!(successful[0]["identifier"].as_str().map(str::len), Some(36));
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(sub.recv().await);
    }
    assert_eq!(
        got,
        [
            data("exact", "{\"n\":1}"),
            data("exact", "\"two\""),
            data("below", "{\"n\":1}"),
            data("below", "\"two\""),
        ]
    );

    // WebSocket publish from another connection, and the publisher hears itself too.
    let mut publisher = api.ready().await;
    assert_eq!(
        publisher.subscribe("mine", "/default/room", &auth).await["type"],
        "subscribe_success"
    );
    publisher
        .send(json!({"type":"publish","id":"p1","channel":"/default/room","events":["[1,2]"],"authorization":auth}))
        .await;
    let answers = publisher.recv_publish_and_data().await;
    assert_eq!(answers[0], data("mine", "[1,2]"));
    assert_eq!(answers[1]["type"], "publish_success");
    assert_eq!(answers[1]["id"], "p1");
    assert_eq!(answers[1]["successful"][0]["index"], 0);
    assert_eq!(sub.recv().await, data("exact", "[1,2]"));
    assert_eq!(sub.recv().await, data("below", "[1,2]"));

    // Unsubscribing stops deliveries to that subscription only.
    sub.send(json!({"type":"unsubscribe","id":"exact"})).await;
    assert_eq!(
        sub.recv().await,
        json!({"type":"unsubscribe_success","id":"exact"})
    );
    sub.send(json!({"type":"unsubscribe","id":"exact"})).await;
    assert_eq!(
        sub.recv().await,
        json!({"type":"unsubscribe_error","id":"exact","errors":[
            {"errorType":"UnknownOperationError","message":"Unknown operation id exact"}]})
    );
    api.publish_http("/default/room", &["3"]).await;
    assert_eq!(sub.recv().await, data("below", "3"));
}

#[tokio::test]
async fn subscriptions_are_refused_with_the_error_aws_gives() {
    let (_emulator, api) = key_api().await;
    let mut ws = api.ready().await;
    let auth = api.key_auth();
    assert_eq!(
        ws.subscribe("a", "default/x", &auth).await["type"],
        "subscribe_success"
    );
    let long = format!("default/{}", "x".repeat(51));
    let cases = [
        (
            json!({"type":"subscribe","id":"a","channel":"default/y","authorization":auth}),
            "DuplicatedOperationError",
        ),
        (
            json!({"type":"subscribe","id":"b","channel":"default/1/2/3/4/5","authorization":auth}),
            "BadRequestException",
        ),
        (
            json!({"type":"subscribe","id":"c","channel":long,"authorization":auth}),
            "BadRequestException",
        ),
        (
            json!({"type":"subscribe","id":"d","channel":"default/*/x","authorization":auth}),
            "BadRequestException",
        ),
        (
            json!({"type":"subscribe","id":"e","channel":"default/a_b","authorization":auth}),
            "BadRequestException",
        ),
        (
            json!({"type":"subscribe","id":"f","channel":"nowhere/x","authorization":auth}),
            "BadRequestException",
        ),
        (
            json!({"type":"subscribe","id":"g","channel":"default/x",
            "authorization":{"host":api.host,"x-api-key":"da2-notakey"}}),
            "UnauthorizedException",
        ),
        (
            json!({"type":"subscribe","id":"not valid!","channel":"default/x","authorization":auth}),
            "BadRequestException",
        ),
    ];
    for (message, error_type) in cases {
        let id = message["id"].clone();
        ws.send(message).await;
        let reply = ws.recv().await;
        assert_eq!(reply["type"], "subscribe_error", "{reply}");
        assert_eq!(reply["id"], id, "{reply}");
        assert_eq!(reply["errors"][0]["errorType"], error_type, "{reply}");
    }

    // At most 200 subscriptions on one connection.
    for i in 1..200 {
        ws.send(json!({"type":"subscribe","id":format!("s{i}"),"channel":"default/x","authorization":auth}))
            .await;
    }
    for _ in 1..200 {
        assert_eq!(ws.recv().await["type"], "subscribe_success");
    }
    let refused = ws.subscribe("one-too-many", "default/x", &auth).await;
    assert_eq!(refused["type"], "subscribe_error");
    assert_eq!(
        refused["errors"][0]["errorType"],
        "MaxSubscriptionsReachedError"
    );
}

#[tokio::test]
async fn malformed_frames_get_error_and_hurt_no_other_connection() {
    let (_emulator, api) = key_api().await;
    let mut bystander = api.ready().await;
    let auth = api.key_auth();
    bystander.subscribe("s", "default/x", &auth).await;
    let mut rude = api.ready().await;
    for frame in [
        Message::text("{not json"),
        Message::text("[]"),
        Message::text("{\"type\":42}"),
        Message::binary(vec![0u8, 159, 146, 150]),
        Message::text(json!({"type":"subscribe"}).to_string()),
    ] {
        rude.send_raw(frame).await;
        let reply = rude.recv().await;
        assert_eq!(reply["type"], "error", "{reply}");
        assert!(reply["errors"][0]["errorType"].is_string(), "{reply}");
    }
    rude.send(json!({"type":"start","id":"x"})).await;
    assert_eq!(
        rude.recv().await,
        json!({"type":"error","id":"x","errors":[{"errorType":"UnsupportedOperation",
            "message":"Operation not supported through the realtime channel"}]})
    );
    // Both connections still work.
    assert_eq!(
        rude.subscribe("ok", "default/x", &auth).await["type"],
        "subscribe_success"
    );
    api.publish_http("default/x", &["1"]).await;
    assert_eq!(bystander.recv().await, data("s", "1"));
    assert_eq!(rude.recv().await, data("ok", "1"));
}

#[tokio::test]
async fn websocket_publishes_are_validated_like_http_ones() {
    let (_emulator, api) = key_api().await;
    let mut ws = api.ready().await;
    let auth = api.key_auth();
    let publish = |channel: &str, events: Value| json!({"type":"publish","id":"p","channel":channel,"events":events,"authorization":auth});
    for (message, error_type) in [
        (publish("default/*", json!(["1"])), "BadRequestException"),
        (
            publish("default/x", json!(["1", "2", "3", "4", "5", "6"])),
            "BadRequestException",
        ),
        (publish("default/x", json!([])), "BadRequestException"),
        (
            publish("default/x", json!([{"a": 1}])),
            "BadRequestException",
        ),
        (
            publish("default/x", json!(["{oops"])),
            "BadRequestException",
        ),
        (publish("nowhere/x", json!(["1"])), "BadRequestException"),
        (
            json!({"type":"publish","id":"p","channel":"default/x","events":["1"],
                "authorization":{"host":api.host,"x-api-key":"da2-wrong"}}),
            "UnauthorizedException",
        ),
    ] {
        ws.send(message).await;
        let reply = ws.recv().await;
        assert_eq!(reply["type"], "publish_error", "{reply}");
        assert_eq!(reply["id"], "p");
        assert_eq!(reply["errors"][0]["errorType"], error_type, "{reply}");
    }
    // An event over 240 KB fails alone; the others go out.
    let big = format!("\"{}\"", "x".repeat(240 * 1024));
    ws.send(publish("default/x", json!(["1", big]))).await;
    let reply = ws.recv().await;
    assert_eq!(reply["type"], "publish_success", "{reply}");
    assert_eq!(reply["successful"].as_array().map(Vec::len), Some(1));
    assert_eq!(reply["failed"][0]["index"], 1);
    assert_eq!(reply["failed"][0]["code"], "EventTooLargeException");
}

#[tokio::test]
async fn http_publish_errors_have_the_aws_status_and_shape() {
    let (_emulator, api) = key_api().await;
    let key = [("x-api-key", api.key.as_str())];
    let body =
        |channel: &str, events: Value| json!({"channel":channel,"events":events}).to_string();
    for (reply, status, error_type) in [
        (api.post(&key, "{nope").await, 400, "BadRequestException"),
        (
            api.post(&key, "{\"channel\":\"default/x\"}").await,
            400,
            "BadRequestException",
        ),
        (
            api.post(&key, body("default//x", json!(["1"]))).await,
            400,
            "BadRequestException",
        ),
        (
            api.post(&key, body("default/*", json!(["1"]))).await,
            400,
            "BadRequestException",
        ),
        (
            api.post(&key, body("nowhere/x", json!(["1"]))).await,
            400,
            "BadRequestException",
        ),
        (
            api.post(
                &key,
                body("default/x", json!(["1", "1", "1", "1", "1", "1"])),
            )
            .await,
            400,
            "BadRequestException",
        ),
        (
            api.post(&key, body("default/x", json!(["not json"]))).await,
            400,
            "BadRequestException",
        ),
        (
            api.post(&[], body("default/x", json!(["1"]))).await,
            401,
            "UnauthorizedException",
        ),
        (
            api.post(
                &[("x-api-key", "da2-wrong")],
                body("default/x", json!(["1"])),
            )
            .await,
            401,
            "UnauthorizedException",
        ),
    ] {
        reply.assert_error(status, error_type);
    }
    let unauthorized = api.post(&[], body("default/x", json!(["1"]))).await;
    assert_eq!(
        unauthorized.body["errors"][0]["message"],
        "You are not authorized to make this call."
    );

    // Size limits: one event over 240 KB fails alone (200); a request over 1.2 MB is refused.
    let big = format!("\"{}\"", "x".repeat(240 * 1024));
    let reply = api.post(&key, body("default/x", json!(["1", big]))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["successful"][0]["index"], 0);
    assert_eq!(
        reply.body["failed"][0],
        json!({"identifier": reply.body["failed"][0]["identifier"], "index": 1,
            "code": "EventTooLargeException", "message": "Transformed event is larger than 240KB"})
    );
    let huge = format!("\"{}\"", "x".repeat(250 * 1024));
    let reply = api
        .post(
            &key,
            body("default/x", json!([huge, huge, huge, huge, huge])),
        )
        .await;
    reply.assert_error(413, "PayloadTooLargeException");

    // Browsers: CORS preflight and headers; anything but /event is a JSON 404.
    let client = reqwest::Client::new();
    let preflight = client
        .request(reqwest::Method::OPTIONS, api.url("http", "/event"))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "x-api-key,content-type")
        .send()
        .await
        .expect("OPTIONS");
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    assert_eq!(
        preflight.headers()["access-control-allow-headers"],
        "x-api-key,content-type"
    );
    post(&client, &api.url("http", "/graphql"), &key, "{}")
        .await
        .assert_error(404, "NotFoundException");
}

#[tokio::test]
async fn keep_alives_follow_the_configured_interval() {
    let emulator = emulator_with(|c| c.dataplane.ka_interval = Duration::from_millis(100)).await;
    let api = create_api(&emulator, &[Auth::ApiKey], &[Auth::ApiKey]).await;
    let mut ws = api.ready().await;
    for _ in 0..3 {
        assert_eq!(ws.recv_any().await, json!({"type":"ka"}));
    }
}

#[tokio::test]
async fn upgrades_must_offer_the_subprotocol_and_may_carry_auth_as_headers() {
    let (_emulator, api) = key_api().await;
    // No subprotocol at all: refused before the upgrade.
    let request = api
        .url("ws", "/event/realtime")
        .into_client_request()
        .expect("request");
    match tokio_tungstenite::connect_async(request).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 400),
        other => panic!("expected a 400, got {:?}", other.map(|_| ())),
    }
    // The Swift client's way: auth as upgrade headers, no connection_init.
    let mut ws = Ws::connect(
        &api.url("ws", "/event/realtime"),
        None,
        &[("x-api-key", &api.key)],
        None,
    )
    .await
    .expect("upgrade");
    ws.send(
        json!({"type":"subscribe","id":"s","channel":"default/x","authorization":api.key_auth()}),
    )
    .await;
    assert_eq!(
        ws.recv().await,
        json!({"type":"subscribe_success","id":"s"})
    );
    api.publish_http("default/x", &["true"]).await;
    assert_eq!(ws.recv().await, data("s", "true"));
}

// ---------------------------------------------------------------------------------------------
// Authorization
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_bad_connect_gets_connection_error_and_the_socket_is_closed() {
    let (_emulator, api) = key_api().await;
    let mut ws = api
        .connect(&json!({"host": api.host, "x-api-key": "da2-wrong"}))
        .await;
    ws.send(json!({"type":"connection_init"})).await;
    assert_eq!(
        ws.recv().await,
        json!({"type":"connection_error","errors":[{"errorType":"UnauthorizedException",
            "message":"You are not authorized to make this call.","errorCode":401}]})
    );
    ws.expect_close().await;
}

#[tokio::test]
async fn expired_api_keys_are_refused_everywhere() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state.json");
    let first = emulator_with(|c| c.state_file = Some(state.clone())).await;
    let api = create_api(&first, &[Auth::ApiKey], &[Auth::ApiKey]).await;
    first.shutdown().await;
    // AWS refuses to create an already-expired key, so age it in the state file.
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&state).expect("state")).expect("json");
    for key in doc["store"]["apis"][0]["keys"]
        .as_array_mut()
        .expect("keys")
    {
        key["item"]["expires"] = json!(now() - 60);
    }
    std::fs::write(&state, doc.to_string()).expect("write state");
    let _second = emulator_with(|c| c.state_file = Some(state.clone())).await;

    api.publish_http("default/x", &["1"])
        .await
        .assert_error(401, "UnauthorizedException");
    let mut ws = api.connect(&api.key_auth()).await;
    ws.send(json!({"type":"connection_init"})).await;
    let reply = ws.recv().await;
    assert_eq!(reply["type"], "connection_error");
    assert_eq!(reply["errors"][0]["errorType"], "UnauthorizedException");
}

#[tokio::test]
async fn iam_signatures_are_verified_for_connect_subscribe_and_publish() {
    let emulator = emulator().await;
    let api = create_api(&emulator, &[Auth::AwsIam], &[Auth::AwsIam]).await;
    let channel = "/default/signed";
    let subscribe_body = signing::subscribe_body(channel);
    let events = vec!["{\"a\":\"<b>\"}".to_string()];
    let publish_body = signing::publish_body(channel, &events);

    // A bad signature (wrong secret) is refused at connect...
    let mut ws = api.connect(&api.iam_auth("{}", "not-the-secret")).await;
    ws.send(json!({"type":"connection_init"})).await;
    let reply = ws.recv().await;
    assert_eq!(reply["type"], "connection_error", "{reply}");
    assert!(
        reply["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("signature")),
        "{reply}"
    );

    // ...a good one is accepted, and each operation signs its own body.
    let mut ws = api.connect(&api.iam_auth("{}", "test")).await;
    ws.init().await;
    let reused = ws
        .subscribe("wrong-body", channel, &api.iam_auth("{}", "test"))
        .await;
    assert_eq!(
        reused["errors"][0]["errorType"], "UnauthorizedException",
        "{reused}"
    );
    let ok = ws
        .subscribe("s", channel, &api.iam_auth(&subscribe_body, "test"))
        .await;
    assert_eq!(ok, json!({"type":"subscribe_success","id":"s"}));
    ws.send(
        json!({"type":"publish","id":"p","channel":channel,"events":events,
        "authorization": api.iam_auth(&publish_body, "test")}),
    )
    .await;
    let answers = ws.recv_publish_and_data().await;
    assert_eq!(answers[0], data("s", "{\"a\":\"<b>\"}"));
    assert_eq!(answers[1]["type"], "publish_success");

    // HTTP publish: the real request is signed, its body included.
    let signed = api.iam_auth(&publish_body, "test");
    let headers: Vec<(&str, &str)> = signed
        .as_object()
        .expect("object")
        .iter()
        .filter(|(k, _)| k.as_str() != "host")
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
        .collect();
    let reply = api.post(&headers, publish_body.clone()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(ws.recv().await, data("s", "{\"a\":\"<b>\"}"));
    let tampered = publish_body.replace("<b>", "<i>");
    api.post(&headers, tampered)
        .await
        .assert_error(401, "UnauthorizedException");
    let wrong = api.iam_auth(&publish_body, "nope");
    let wrong: Vec<(&str, &str)> = wrong
        .as_object()
        .expect("object")
        .iter()
        .filter(|(k, _)| k.as_str() != "host")
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
        .collect();
    api.post(&wrong, publish_body)
        .await
        .assert_error(401, "UnauthorizedException");
}

#[tokio::test]
async fn namespace_auth_modes_override_the_api_defaults() {
    let emulator = emulator().await;
    let api = create_api(&emulator, &[Auth::ApiKey, Auth::AwsIam], &[Auth::ApiKey]).await;
    api.namespace("secure", Some(&[Auth::AwsIam]), None).await;
    let mut ws = api.ready().await;
    // Subscribing falls back to the API default (API_KEY)...
    assert_eq!(
        ws.subscribe("s", "secure/x", &api.key_auth()).await["type"],
        "subscribe_success"
    );
    // ...publishing takes the namespace's own mode (AWS_IAM only).
    api.publish_http("secure/x", &["1"])
        .await
        .assert_error(401, "UnauthorizedException");
    ws.send(json!({"type":"publish","id":"p","channel":"secure/x","events":["1"],"authorization":api.key_auth()}))
        .await;
    assert_eq!(
        ws.recv().await["errors"][0]["errorType"],
        "UnauthorizedException"
    );
    let events = vec!["2".to_string()];
    let body = signing::publish_body("secure/x", &events);
    ws.send(
        json!({"type":"publish","id":"p","channel":"secure/x","events":events,
        "authorization": api.iam_auth(&body, "test")}),
    )
    .await;
    let answers = ws.recv_publish_and_data().await;
    assert_eq!(answers[0], data("s", "2"));
    assert_eq!(answers[1]["type"], "publish_success");
    // The default namespace still takes the API key.
    assert_eq!(api.publish_http("default/x", &["3"]).await.status, 200);
}

/// An ES256 key, its JWKS, and a signer of tokens with `kid` "k1".
struct Keys {
    encoding: jsonwebtoken::EncodingKey,
    jwks: Value,
}

fn keys() -> Keys {
    let pair = rcgen::KeyPair::generate().expect("key pair");
    let raw = pair.public_key_raw();
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwks = json!({"keys":[{"kty":"EC","crv":"P-256","kid":"k1","alg":"ES256","use":"sig",
        "x": b64(&raw[1..33]), "y": b64(&raw[33..65])}]});
    Keys {
        encoding: jsonwebtoken::EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes())
            .expect("encoding key"),
        jwks,
    }
}

impl Keys {
    fn token(&self, claims: Value) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some("k1".into());
        jsonwebtoken::encode(&header, &claims, &self.encoding).expect("token")
    }
}

#[tokio::test]
async fn cognito_and_oidc_tokens_are_checked_against_the_jwks() {
    let trusted = keys();
    let stranger = keys();
    let jwks = serde_json::from_value(trusted.jwks.clone()).expect("jwks");
    let emulator = emulator_with(|c| c.dataplane.jwks = Some(jwks)).await;
    let api = create_api(
        &emulator,
        &[Auth::AmazonCognitoUserPools, Auth::OpenidConnect],
        &[Auth::AmazonCognitoUserPools, Auth::OpenidConnect],
    )
    .await;
    let exp = now() + 600;
    let cognito_iss = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool";
    let allowed = [
        trusted.token(
            json!({"iss":cognito_iss,"exp":exp,"token_use":"access","client_id":"client-1"}),
        ),
        trusted.token(json!({"iss":cognito_iss,"exp":exp,"token_use":"id","aud":"client-22"})),
        trusted.token(json!({"iss":"https://issuer.example","exp":exp,"aud":"my-app","iat":now()})),
    ];
    let denied = [
        stranger.token(
            json!({"iss":cognito_iss,"exp":exp,"token_use":"access","client_id":"client-1"}),
        ),
        trusted.token(
            json!({"iss":cognito_iss,"exp":now() - 5,"token_use":"access","client_id":"client-1"}),
        ),
        trusted
            .token(json!({"iss":cognito_iss,"exp":exp,"token_use":"access","client_id":"other"})),
        trusted.token(json!({"iss":"https://issuer.example","exp":exp,"aud":"someone-else"})),
        trusted.token(json!({"iss":"https://unknown.example","exp":exp,"aud":"my-app"})),
    ];
    for token in &allowed {
        let reply = api
            .post(
                &[("authorization", token)],
                json!({"channel":"default/x","events":["1"]}).to_string(),
            )
            .await;
        assert_eq!(reply.status, 200, "{token}: {}", reply.body);
        let mut ws = api
            .connect(&json!({"host": api.host, "Authorization": token}))
            .await;
        ws.init().await;
        let bearer = json!({"host": api.host, "Authorization": format!("Bearer {token}")});
        assert_eq!(
            ws.subscribe("s", "default/x", &bearer).await["type"],
            "subscribe_success"
        );
    }
    for token in &denied {
        api.post(
            &[("authorization", token)],
            json!({"channel":"default/x","events":["1"]}).to_string(),
        )
        .await
        .assert_error(401, "UnauthorizedException");
    }
}

#[tokio::test]
async fn the_lambda_stand_in_decides_with_tokens_or_a_command() {
    let dir = tempfile::tempdir().expect("temp dir");
    let seen = dir.path().join("requests.jsonl");
    // The stand-in records each request and allows tokens that start with "allow".
    let command = format!(
        "tee -a {} | grep -q '\"authorizationToken\":\"allow' && echo '{{\"isAuthorized\":true}}' || echo '{{\"isAuthorized\":false}}'",
        seen.display()
    );
    let emulator = emulator_with(|c| {
        c.dataplane.lambda_tokens = vec!["listed-token".into()];
        c.dataplane.lambda_authorizer = Some(command);
    })
    .await;
    let api = create_api(&emulator, &[Auth::AwsLambda], &[Auth::AwsLambda]).await;
    let body = json!({"channel":"default/x","events":["1"]}).to_string();
    for token in ["listed-token", "allow-me"] {
        let reply = api.post(&[("authorization", token)], body.clone()).await;
        assert_eq!(reply.status, 200, "{token}: {}", reply.body);
    }
    api.post(&[("authorization", "deny-me")], body.clone())
        .await
        .assert_error(401, "UnauthorizedException");
    let mut ws = api
        .connect(&json!({"host": api.host, "Authorization": "allow-ws"}))
        .await;
    ws.init().await;
    let requests: Vec<Value> = std::fs::read_to_string(&seen)
        .expect("the command ran")
        .lines()
        .map(|l| serde_json::from_str(l).expect("request JSON"))
        .collect();
    let publish = &requests[0];
    assert_eq!(publish["authorizationToken"], "allow-me");
    assert_eq!(publish["requestContext"]["apiId"], api.id);
    assert_eq!(publish["requestContext"]["operation"], "EVENT_PUBLISH");
    assert_eq!(publish["requestContext"]["channel"], "/default/x");
    assert_eq!(publish["requestContext"]["channelNamespaceName"], "default");
    assert_eq!(
        requests.last().expect("connect")["requestContext"]["operation"],
        "EVENT_CONNECT"
    );
}

// ---------------------------------------------------------------------------------------------
// Channels, isolation, faults, TLS, back-pressure
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn wildcards_match_deeper_channels_only() {
    let (_emulator, api) = key_api().await;
    api.namespace("other", None, None).await;
    let mut ws = api.ready().await;
    let auth = api.key_auth();
    ws.subscribe("all", "/default/*", &auth).await;
    ws.subscribe("team", "/default/team/*", &auth).await;
    for channel in [
        "default",
        "other/team/x",
        "default/teams/x",
        "default/team",
        "default/team/a/b",
    ] {
        let event = format!("\"{channel}\"");
        assert_eq!(api.publish_http(channel, &[&event]).await.status, 200);
    }
    let mut got = Vec::new();
    for _ in 0..4 {
        let m = ws.recv().await;
        got.push((
            m["id"].as_str().unwrap_or("").to_string(),
            m["event"].as_str().unwrap_or("").to_string(),
        ));
    }
    assert_eq!(
        got,
        [
            ("all".to_string(), "\"default/teams/x\"".to_string()),
            ("all".to_string(), "\"default/team\"".to_string()),
            ("all".to_string(), "\"default/team/a/b\"".to_string()),
            ("team".to_string(), "\"default/team/a/b\"".to_string()),
        ]
    );
}

#[tokio::test]
async fn several_apis_are_served_at_once_and_kept_apart() {
    let emulator = emulator().await;
    let a = create_api(&emulator, &[Auth::ApiKey], &[Auth::ApiKey]).await;
    let b = create_api(&emulator, &[Auth::ApiKey], &[Auth::ApiKey]).await;
    assert_ne!(a.host, b.host, "each API has its own listener");
    let mut on_a = a.ready().await;
    let mut on_b = b.ready().await;
    on_a.subscribe("s", "default/x", &a.key_auth()).await;
    on_b.subscribe("s", "default/x", &b.key_auth()).await;
    assert_eq!(
        a.publish_http("default/x", &["\"for a\""]).await.status,
        200
    );
    assert_eq!(
        b.publish_http("default/x", &["\"for b\""]).await.status,
        200
    );
    assert_eq!(on_a.recv().await, data("s", "\"for a\""));
    assert_eq!(on_b.recv().await, data("s", "\"for b\""));
    // A's key means nothing to B.
    b.post(
        &[("x-api-key", &a.key)],
        json!({"channel":"default/x","events":["1"]}).to_string(),
    )
    .await
    .assert_error(401, "UnauthorizedException");
}

#[tokio::test]
async fn dropped_events_are_acknowledged_but_never_delivered() {
    // --drop-events 0.5 drops every second event, deterministically.
    let lossy = emulator_with(|c| c.dataplane.drop_rate = 0.5).await;
    let api = create_api(&lossy, &[Auth::ApiKey], &[Auth::ApiKey]).await;
    let mut ws = api.ready().await;
    ws.subscribe("s", "default/x", &api.key_auth()).await;
    for i in 0..5 {
        assert_eq!(
            api.publish_http("default/x", &[&i.to_string()])
                .await
                .status,
            200
        );
    }
    // Deliveries are in order, so receiving 4 right after 2 proves 1 and 3 were dropped.
    for expected in ["0", "2", "4"] {
        assert_eq!(ws.recv().await, data("s", expected));
    }

    // A namespace tagged evctl:emulator-fault=drop-events drops everything published to it.
    let (_emulator, api) = key_api().await;
    api.client
        .create_channel_namespace()
        .api_id(&api.id)
        .name("lossy")
        .tags("evctl:emulator-fault", "drop-events")
        .send()
        .await
        .expect("CreateChannelNamespace");
    let mut ws = api.ready().await;
    ws.subscribe("lost", "lossy/x", &api.key_auth()).await;
    ws.subscribe("kept", "default/x", &api.key_auth()).await;
    let reply = api.publish_http("lossy/x", &["\"never\""]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["successful"].as_array().map(Vec::len), Some(1));
    api.publish_http("default/x", &["\"after\""]).await;
    assert_eq!(ws.recv().await, data("kept", "\"after\""));
}

#[tokio::test]
async fn deleting_an_api_closes_its_connections() {
    let (_emulator, api) = key_api().await;
    let mut ws = api.ready().await;
    ws.subscribe("s", "default/x", &api.key_auth()).await;
    api.client
        .delete_api()
        .api_id(&api.id)
        .send()
        .await
        .expect("DeleteApi");
    let frame = ws.expect_close().await;
    assert_eq!(frame.map(|f| u16::from(f.code)), Some(1001));
}

#[tokio::test]
async fn a_slow_subscriber_is_closed_and_never_delays_a_fast_one() {
    let emulator = emulator_with(|c| c.dataplane.queue_capacity = 16).await;
    let api = create_api(&emulator, &[Auth::ApiKey], &[Auth::ApiKey]).await;
    let auth = api.key_auth();
    let mut slow = api.ready().await;
    slow.subscribe("slow", "default/x", &auth).await;
    let mut fast = api.ready().await;
    fast.subscribe("fast", "default/x", &auth).await;
    // The slow client never reads again. 64 KB events fill its socket buffers and then its
    // queue; the fast client reads as they come.
    let payload = format!("\"{}\"", "y".repeat(64 * 1024));
    let mut publisher = api.ready().await;
    let events = 400;
    let mut received = 0;
    for i in 0..events {
        publisher
            .send(json!({"type":"publish","id":format!("p{i}"),"channel":"default/x","events":[payload],"authorization":auth}))
            .await;
        assert_eq!(publisher.recv().await["type"], "publish_success");
        let m = fast.recv().await;
        assert_eq!(m["id"], "fast");
        received += 1;
    }
    assert_eq!(received, events);
    // The slow connection was closed for it, after whatever it had been sent: with close code
    // 1008 when its socket still took the close frame, else by dropping the connection.
    let frame = slow.expect_close().await;
    assert!(
        matches!(frame.as_ref().map(|f| u16::from(f.code)), None | Some(1008)),
        "{frame:?}"
    );
}

/// An SDK client for an emulator serving TLS with the CA in `ca_pem`.
fn tls_sdk_client(endpoint: &str, ca_pem: Vec<u8>) -> aws_sdk_appsync::Client {
    use aws_smithy_http_client::tls;
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(
            tls::TlsContext::builder()
                .with_trust_store(tls::TrustStore::empty().with_pem_certificate(ca_pem))
                .build()
                .expect("tls context"),
        )
        .build_https();
    aws_sdk_appsync::Client::from_conf(sdk_config(endpoint).http_client(http).build())
}

/// The official Amplify events client (aws-amplify 6.22.1, `tests/amplify`) subscribes over
/// WSS, publishes over HTTPS and over the socket. It needs Node and `npm ci` in tests/amplify
/// (`.ci/run` does that when npm is there); without them the test says so and passes.
#[test]
fn the_amplify_events_client_works_against_the_emulator() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/amplify");
    let node = std::process::Command::new("node").arg("--version").output();
    if !dir.join("node_modules/aws-amplify").is_dir() || node.is_err() {
        eprintln!("skipped: needs node and `npm ci` in tests/amplify");
        return;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let state = tmp.path().join("state.json");
    let emulator =
        EmulatorProcess::spawn(&["--tls", "--state", state.to_str().expect("utf-8 path")]);
    let ca = tmp.path().join("state.json.tls-ca.pem");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let api = runtime.block_on(create_api_with(
        tls_sdk_client(emulator.endpoint(), std::fs::read(&ca).expect("CA")),
        event_config(&[Auth::ApiKey], &[Auth::ApiKey]),
    ));
    let output = std::process::Command::new("node")
        .arg("events-client.mjs")
        .arg(api.url("https", "/event"))
        .arg(&api.key)
        .current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", tmp.path())
        .env("NODE_EXTRA_CA_CERTS", &ca)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the Amplify client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines, [r#"{"via":"http"}"#, r#"{"via":"websocket"}"#, "ok"]);
}

#[test]
fn tls_serves_https_and_wss_with_a_certificate_clients_can_trust() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state.json");
    let state_arg = state.to_str().expect("utf-8 path");
    let emulator = EmulatorProcess::spawn(&["--tls", "--state", state_arg]);
    assert!(
        emulator.endpoint().starts_with("https://127.0.0.1:"),
        "{}",
        emulator.endpoint()
    );
    let ca = dir.path().join("state.json.tls-ca.pem");
    let stderr = emulator.stderr_containing(&ca.display().to_string());
    assert!(
        stderr.contains(&ca.display().to_string()),
        "the CA path is printed:\n{stderr}"
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let client = tls_sdk_client(emulator.endpoint(), std::fs::read(&ca).expect("CA written"));
        let api = create_api_with(client, event_config(&[Auth::ApiKey], &[Auth::ApiKey])).await;
        let tls = evctl::smoke::tls::client_config(Some(&ca)).expect("client config");
        let mut ws = Ws::connect(
            &api.url("wss", "/event/realtime"),
            Some(&api.key_auth()),
            &[],
            Some(tls.clone()),
        )
        .await
        .expect("wss upgrade");
        ws.init().await;
        ws.subscribe("s", "default/x", &api.key_auth()).await;
        let https = reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .build()
            .expect("https client");
        let reply = post(
            &https,
            &api.url("https", "/event"),
            &[("x-api-key", &api.key)],
            json!({"channel":"default/x","events":["\"secure\""]}).to_string(),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(ws.recv().await, data("s", "\"secure\""));
        // Plain WebSocket and HTTP are not spoken on a TLS port.
        assert!(
            Ws::connect(
                &api.url("ws", "/event/realtime"),
                Some(&api.key_auth()),
                &[],
                None
            )
            .await
            .is_err()
        );
    });
}
