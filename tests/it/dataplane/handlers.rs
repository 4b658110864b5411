//! Channel-namespace handlers (`codeHandlers`) run by the emulator, over the same real HTTP and
//! WebSocket clients as the rest of the data-plane tests: transforms, filters, per-event
//! errors, `util.error`/`util.unauthorized`, `ctx`, the time limit, exceptions, integrations,
//! and edits taking effect on the next publish.
//!
//! Handler code here passes the emulator's APPSYNC_JS checker (no `while`, `for(;;)`, `throw`,
//! `try`), as it must to be stored at all.

use aws_sdk_appsync::types::{
    HandlerBehavior, HandlerConfig, HandlerConfigs, Integration, InvokeType, LambdaConfig,
};

use super::*;

impl Api {
    async fn handler_namespace(&self, name: &str, code: &str) {
        self.client
            .create_channel_namespace()
            .api_id(&self.id)
            .name(name)
            .code_handlers(code)
            .send()
            .await
            .expect("CreateChannelNamespace with code");
    }

    async fn subscribed(&self, channels: &[&str]) -> Ws {
        let mut ws = self.ready().await;
        for (n, channel) in channels.iter().enumerate() {
            let reply = ws
                .subscribe(&format!("s{n}"), channel, &self.key_auth())
                .await;
            assert_eq!(reply["type"], "subscribe_success", "{channel}: {reply}");
        }
        ws
    }

    async fn publish_ws(&self, ws: &mut Ws, id: &str, channel: &str, events: &[&str]) -> Value {
        ws.send(
            json!({"type":"publish","id":id,"channel":channel,"events":events,
            "authorization":self.key_auth()}),
        )
        .await;
        ws.recv().await
    }
}

/// The events a subscriber receives up to (not including) a fence event published on
/// `/default/fence` after the publish under test: proof that nothing else was delivered.
async fn until_fence(api: &Api, ws: &mut Ws) -> Vec<String> {
    let reply = api.publish_http("/default/fence", &["\"fence\""]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mut events = Vec::new();
    loop {
        let message = ws.recv().await;
        assert_eq!(message["type"], "data", "{message}");
        let event = message["event"].as_str().expect("event string").to_string();
        if event == "\"fence\"" {
            return events;
        }
        events.push(event);
    }
}

fn indices(list: &Value) -> Vec<u64> {
    list.as_array()
        .expect("array")
        .iter()
        .filter_map(|e| e["index"].as_u64())
        .collect()
}

#[tokio::test]
async fn on_publish_transforms_events_over_http_and_websocket() {
    let (_emulator, api) = key_api().await;
    api.handler_namespace(
        "shout",
        "export function onPublish(ctx) {\n  return ctx.events.map((e) => ({ id: e.id, payload: { ...e.payload, text: e.payload.text.toUpperCase(), seen: true } }));\n}\n",
    )
    .await;
    let mut sub = api.subscribed(&["/shout/a", "/default/*"]).await;

    let reply = api
        .publish_http("/shout/a", &[r#"{"text":"hi","n":1}"#])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["failed"], json!([]));
    assert_eq!(indices(&reply.body["successful"]), [0]);
    let mut publisher = api.ready().await;
    let ack = api
        .publish_ws(&mut publisher, "p1", "/shout/a", &[r#"{"text":"yo"}"#])
        .await;
    assert_eq!(ack["type"], "publish_success", "{ack}");
    assert_eq!(indices(&ack["successful"]), [0]);
    // Key order is kept through the handler.
    assert_eq!(
        until_fence(&api, &mut sub).await,
        [
            r#"{"text":"HI","n":1,"seen":true}"#,
            r#"{"text":"YO","seen":true}"#
        ]
    );

    // A namespace without handlers still delivers exactly what was published.
    let spaced = r#"{ "text" : "as sent" }"#;
    assert_eq!(
        api.publish_http("/default/plain", &[spaced]).await.status,
        200
    );
    assert_eq!(sub.recv().await, data("s1", spaced));
}

#[tokio::test]
async fn on_publish_filters_all_or_some_events_and_they_still_count_as_published() {
    let (_emulator, api) = key_api().await;
    api.handler_namespace("quiet", "export const onPublish = (ctx) => [];")
        .await;
    api.handler_namespace(
        "picky",
        "export function onPublish(ctx) {\n  return ctx.events.filter((e) => e.payload.keep);\n}",
    )
    .await;
    let mut sub = api
        .subscribed(&["/quiet/a", "/picky/a", "/default/fence"])
        .await;

    let reply = api
        .publish_http("/quiet/a", &["{\"n\":1}", "{\"n\":2}"])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(indices(&reply.body["successful"]), [0, 1]);
    assert_eq!(reply.body["failed"], json!([]));
    assert_eq!(until_fence(&api, &mut sub).await, Vec::<String>::new());

    let reply = api
        .publish_http(
            "/picky/a",
            &[
                r#"{"keep":true,"n":1}"#,
                r#"{"keep":false,"n":2}"#,
                r#"{"keep":true,"n":3}"#,
            ],
        )
        .await;
    assert_eq!(indices(&reply.body["successful"]), [0, 1, 2]);
    assert_eq!(
        until_fence(&api, &mut sub).await,
        [r#"{"keep":true,"n":1}"#, r#"{"keep":true,"n":3}"#]
    );
}

#[tokio::test]
async fn events_the_handler_marks_with_an_error_are_reported_in_failed() {
    let (_emulator, api) = key_api().await;
    api.handler_namespace(
        "strict",
        "export function onPublish(ctx) {\n  return ctx.events.map((e) => (e.payload.ok ? e : { id: e.id, error: 'not ok: ' + e.payload.n }));\n}",
    )
    .await;
    api.handler_namespace(
        "bloat",
        "export const onPublish = (ctx) => ctx.events.map((e) => ({ id: e.id, payload: 'x'.repeat(e.payload.size) }));",
    )
    .await;
    let mut sub = api
        .subscribed(&["/strict/a", "/bloat/a", "/default/fence"])
        .await;

    let events = [
        r#"{"ok":true,"n":1}"#,
        r#"{"ok":false,"n":2}"#,
        r#"{"ok":true,"n":3}"#,
    ];
    let reply = api.publish_http("/strict/a", &events).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(indices(&reply.body["successful"]), [0, 2]);
    let failed = &reply.body["failed"][0];
    assert_eq!(failed["index"], 1);
    assert_eq!(failed["code"], "BadRequestException");
    assert_eq!(failed["message"], "not ok: 2");
    assert_eq!(failed["identifier"].as_str().map(str::len), Some(36));
    let mut publisher = api.ready().await;
    let ack = api
        .publish_ws(&mut publisher, "p", "/strict/a", &[r#"{"ok":false,"n":9}"#])
        .await;
    assert_eq!(ack["successful"], json!([]), "{ack}");
    assert_eq!(ack["failed"][0]["message"], "not ok: 9");
    assert_eq!(until_fence(&api, &mut sub).await, [events[0], events[2]]);

    // The 240 KB limit applies to what the handler returns.
    let reply = api
        .publish_http("/bloat/a", &[r#"{"size":10}"#, r#"{"size":250000}"#])
        .await;
    assert_eq!(indices(&reply.body["successful"]), [0]);
    assert_eq!(reply.body["failed"][0]["index"], 1);
    assert_eq!(reply.body["failed"][0]["code"], "EventTooLargeException");
    assert_eq!(
        until_fence(&api, &mut sub).await,
        [format!("\"{}\"", "x".repeat(10))]
    );
}

const GUARDED: &str = r#"import { util } from '@aws-appsync/utils';

export function onPublish(ctx) {
  const first = ctx.events[0].payload;
  if (first.deny === 'typed') {
    util.error('no ' + first.what, 'RoomClosed');
  }
  if (first.deny === 'plain') {
    util.error('plain refusal');
  }
  if (first.deny === 'unauthorized') {
    util.unauthorized();
  }
  return ctx.events;
}

export function onSubscribe(ctx) {
  if (ctx.info.channel.segments[1] === 'closed') {
    util.error('room closed');
  }
  if (ctx.info.channel.segments[1] === 'secret') {
    util.unauthorized();
  }
}
"#;

#[tokio::test]
async fn util_error_and_unauthorized_refuse_publishes_and_subscriptions() {
    let (_emulator, api) = key_api().await;
    api.handler_namespace("guarded", GUARDED).await;

    let cases = [
        (
            r#"{"deny":"typed","what":"entry"}"#,
            403,
            "RoomClosed",
            "no entry",
        ),
        (
            r#"{"deny":"plain"}"#,
            403,
            "ForbiddenException",
            "plain refusal",
        ),
        (
            r#"{"deny":"unauthorized"}"#,
            401,
            "UnauthorizedException",
            "You are not authorized to make this call.",
        ),
    ];
    let mut ws = api.ready().await;
    for (event, status, error_type, message) in cases {
        let reply = api.publish_http("/guarded/a", &[event]).await;
        reply.assert_error(status, error_type);
        assert_eq!(reply.body["errors"][0]["message"], message);
        let answer = api.publish_ws(&mut ws, "p", "/guarded/a", &[event]).await;
        assert_eq!(answer["type"], "publish_error", "{answer}");
        assert_eq!(answer["id"], "p");
        assert_eq!(answer["errors"][0]["errorType"], error_type);
        assert_eq!(answer["errors"][0]["message"], message);
    }
    assert_eq!(
        api.publish_http("/guarded/a", &["{\"deny\":\"no\"}"])
            .await
            .status,
        200
    );

    let auth = api.key_auth();
    let closed = ws.subscribe("c", "/guarded/closed", &auth).await;
    assert_eq!(closed["type"], "subscribe_error", "{closed}");
    assert_eq!(closed["errors"][0]["errorType"], "ForbiddenException");
    assert_eq!(closed["errors"][0]["message"], "room closed");
    let secret = ws.subscribe("s", "/guarded/secret", &auth).await;
    assert_eq!(secret["type"], "subscribe_error", "{secret}");
    assert_eq!(secret["errors"][0]["errorType"], "Unauthorized");
    // A refused subscription is not registered: its id can be used again.
    assert_eq!(
        ws.subscribe("c", "/guarded/open", &auth).await["type"],
        "subscribe_success"
    );
}

const ECHO_CTX: &str = r#"import { util } from '@aws-appsync/utils';

function seen(ctx) {
  return {
    path: ctx.info.channel.path,
    segments: ctx.info.channel.segments,
    namespace: ctx.info.channelNamespace.name,
    operation: ctx.info.operation,
    identity: ctx.identity,
    probe: ctx.request.headers['x-probe'] || null,
    cookie: ctx.request.headers.cookie || null,
    domainName: ctx.request.domainName,
    stash: ctx.stash,
  };
}

export function onPublish(ctx) {
  return ctx.events.map((e) => ({ id: e.id, payload: { ...seen(ctx), id: e.id } }));
}

export function onSubscribe(ctx) {
  if (ctx.info.channel.segments[1] === 'probe') {
    util.error(JSON.stringify(seen(ctx)));
  }
}
"#;

#[tokio::test]
async fn handlers_see_the_channel_operation_request_and_identity_in_ctx() {
    let emulator = emulator().await;
    let api = create_api(
        &emulator,
        &[Auth::ApiKey, Auth::AmazonCognitoUserPools],
        &[Auth::ApiKey, Auth::AmazonCognitoUserPools],
    )
    .await;
    api.handler_namespace("ctx", ECHO_CTX).await;
    let mut sub = api.subscribed(&["/ctx/a/b"]).await;

    let body = json!({"channel": "/ctx/a/b", "events": ["1"]}).to_string();
    let reply = api
        .post(
            &[
                ("x-api-key", &api.key),
                ("x-probe", "yes"),
                ("cookie", "session=1"),
            ],
            body.clone(),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let identifier = reply.body["successful"][0]["identifier"].clone();
    let message = sub.recv().await;
    let seen: Value =
        serde_json::from_str(message["event"].as_str().expect("event")).expect("JSON");
    assert_eq!(
        seen,
        json!({"path": "/ctx/a/b", "segments": ["ctx", "a", "b"], "namespace": "ctx",
            "operation": "PUBLISH", "identity": null, "probe": "yes", "cookie": null,
            "domainName": null, "stash": {}, "id": identifier})
    );

    // A Cognito caller: the identity carries the token's claims.
    let iss = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool";
    let token = keys().token(json!({"iss": iss, "exp": now() + 600, "token_use": "id",
        "aud": "client-7", "sub": "user-sub-1", "cognito:username": "ann",
        "cognito:groups": ["admins"]}));
    let reply = api.post(&[("authorization", &token)], body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let message = sub.recv().await;
    let seen: Value =
        serde_json::from_str(message["event"].as_str().expect("event")).expect("JSON");
    let identity = &seen["identity"];
    assert_eq!(identity["sub"], "user-sub-1");
    assert_eq!(identity["issuer"], iss);
    assert_eq!(identity["username"], "ann");
    assert_eq!(identity["groups"], json!(["admins"]));
    assert_eq!(identity["claims"]["token_use"], "id");
    assert_eq!(identity["sourceIp"], json!(["127.0.0.1"]));
    assert_eq!(identity["defaultAuthStrategy"], "ALLOW");

    // onSubscribe sees the subscription's channel, wildcard included.
    let refused = sub.subscribe("p", "/ctx/probe/*", &api.key_auth()).await;
    assert_eq!(refused["type"], "subscribe_error", "{refused}");
    let seen: Value =
        serde_json::from_str(refused["errors"][0]["message"].as_str().expect("message"))
            .expect("JSON");
    assert_eq!(seen["path"], "/ctx/probe/*");
    assert_eq!(seen["segments"], json!(["ctx", "probe", "*"]));
    assert_eq!(seen["operation"], "SUBSCRIBE");
    assert_eq!(seen["identity"], Value::Null);
}

/// An onPublish that never returns, written without the loops APPSYNC_JS forbids: a `for...of`
/// over an iterator that never ends.
const STUCK: &str = r#"export function onPublish(ctx) {
  const endless = { [Symbol.iterator]: () => ({ next: () => ({ done: false, value: 1 }) }) };
  let total = 0;
  for (const step of endless) {
    total = total + step;
  }
  return ctx.events;
}
"#;

#[tokio::test]
async fn a_handler_that_never_returns_is_cut_off_and_others_keep_working() {
    let emulator =
        emulator_with(|c| c.dataplane.handler_timeout = Duration::from_millis(500)).await;
    let api = create_api(&emulator, &[Auth::ApiKey], &[Auth::ApiKey]).await;
    api.handler_namespace("stuck", STUCK).await;
    api.handler_namespace("fine", "export const onPublish = (ctx) => ctx.events;")
        .await;
    let mut sub = api.subscribed(&["/fine/a", "/default/a"]).await;

    let stuck_http = tokio::spawn({
        let api = api.clone();
        async move { api.publish_http("/stuck/a", &["1"]).await }
    });
    let mut stuck_socket = api.ready().await;
    stuck_socket
        .send(
            json!({"type":"publish","id":"p","channel":"/stuck/a","events":["2"],
            "authorization":api.key_auth()}),
        )
        .await;
    // While those run, other namespaces, with and without a handler, deliver as usual.
    for channel in ["/fine/a", "/default/a"] {
        assert_eq!(api.publish_http(channel, &["3"]).await.status, 200);
        assert_eq!(sub.recv().await["event"], "3");
    }

    let reply = stuck_http.await.expect("task");
    reply.assert_error(500, "HandlerError");
    let message = reply.body["errors"][0]["message"]
        .as_str()
        .expect("message");
    assert!(
        message.contains("The onPublish handler of channel namespace 'stuck' failed")
            && message.contains("did not finish within 500ms"),
        "{message}"
    );
    let answer = stuck_socket.recv().await;
    assert_eq!(answer["type"], "publish_error", "{answer}");
    assert_eq!(answer["errors"][0]["errorType"], "HandlerError");
    // The socket that waited for the stuck handler is still served.
    let ack = api
        .publish_ws(&mut stuck_socket, "q", "/fine/a", &["4"])
        .await;
    assert_eq!(ack["type"], "publish_success", "{ack}");
    assert_eq!(sub.recv().await["event"], "4");
}

#[tokio::test]
async fn a_handler_that_throws_is_reported_and_the_next_publish_works() {
    let (_emulator, api) = key_api().await;
    api.handler_namespace(
        "buggy",
        "export function onPublish(ctx) {\n  return ctx.events.map((e) => ({ id: e.id, payload: e.payload.user.name }));\n}\n",
    )
    .await;
    let mut sub = api.subscribed(&["/buggy/a"]).await;
    let reply = api.publish_http("/buggy/a", &["{}"]).await;
    reply.assert_error(500, "HandlerError");
    let message = reply.body["errors"][0]["message"]
        .as_str()
        .expect("message");
    assert!(message.contains("TypeError"), "{message}");
    assert!(message.contains("codeHandlers:2"), "{message}");
    let mut ws = api.ready().await;
    let answer = api.publish_ws(&mut ws, "p", "/buggy/a", &["{}"]).await;
    assert_eq!(answer["type"], "publish_error", "{answer}");
    assert_eq!(answer["errors"][0]["errorType"], "HandlerError");

    let reply = api
        .publish_http("/buggy/a", &[r#"{"user":{"name":"ann"}}"#])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(sub.recv().await, data("s0", "\"ann\""));
}

#[tokio::test]
async fn an_edited_handler_takes_effect_on_the_next_publish() {
    let (_emulator, api) = key_api().await;
    let version = |v: u32| {
        format!(
            "export const onPublish = (ctx) => ctx.events.map((e) => ({{ id: e.id, payload: {{ v: {v} }} }}));"
        )
    };
    api.handler_namespace("live", &version(1)).await;
    let mut sub = api.subscribed(&["/live/a"]).await;
    api.publish_http("/live/a", &["{}"]).await;
    assert_eq!(sub.recv().await["event"], r#"{"v":1}"#);

    let update = |code: Option<String>| {
        api.client
            .update_channel_namespace()
            .api_id(&api.id)
            .name("live")
            .set_code_handlers(code)
            .send()
    };
    update(Some(version(2)))
        .await
        .expect("UpdateChannelNamespace");
    api.publish_http("/live/a", &["{}"]).await;
    assert_eq!(sub.recv().await["event"], r#"{"v":2}"#);

    // Without code, events pass as published.
    update(None).await.expect("UpdateChannelNamespace");
    api.publish_http("/live/a", &["{\"raw\": true}"]).await;
    assert_eq!(sub.recv().await["event"], "{\"raw\": true}");
}

fn on_publish_config(behavior: HandlerBehavior, invoke_type: InvokeType) -> HandlerConfigs {
    HandlerConfigs::builder()
        .on_publish(
            HandlerConfig::builder()
                .behavior(behavior)
                .integration(
                    Integration::builder()
                        .data_source_name("notifier")
                        .lambda_config(LambdaConfig::builder().invoke_type(invoke_type).build())
                        .build()
                        .expect("integration"),
                )
                .build()
                .expect("config"),
        )
        .build()
}

#[tokio::test]
async fn integrations_the_emulator_cannot_reach_are_named_or_passed_through() {
    let (_emulator, api) = key_api().await;
    let create = |name: &str, configs: HandlerConfigs, code: Option<&str>| {
        api.client
            .create_channel_namespace()
            .api_id(&api.id)
            .name(name)
            .handler_configs(configs)
            .set_code_handlers(code.map(str::to_string))
            .send()
    };
    create(
        "direct",
        on_publish_config(HandlerBehavior::Direct, InvokeType::RequestResponse),
        None,
    )
    .await
    .expect("DIRECT namespace");
    create(
        "async",
        on_publish_config(HandlerBehavior::Direct, InvokeType::Event),
        None,
    )
    .await
    .expect("EVENT namespace");
    let persisted = r#"import * as ddb from '@aws-appsync/utils/dynamodb';
export const onPublish = {
  request(ctx) {
    return ddb.batchPut({ tables: { messages: ctx.events.map((e) => ({ id: e.id, ...e.payload })) } });
  },
  response(ctx) {
    return ctx.events;
  },
};
"#;
    create(
        "stored",
        on_publish_config(HandlerBehavior::Code, InvokeType::RequestResponse),
        Some(persisted),
    )
    .await
    .expect("CODE namespace");
    let reads_result = "export const onPublish = {\n  request: (ctx) => ({}),\n  response: (ctx) => ctx.result.items,\n};";
    create(
        "reads",
        on_publish_config(HandlerBehavior::Code, InvokeType::RequestResponse),
        Some(reads_result),
    )
    .await
    .expect("CODE namespace");
    let mut sub = api.subscribed(&["/async/a", "/stored/a"]).await;

    let reply = api.publish_http("/direct/a", &["1"]).await;
    reply.assert_error(500, "HandlerError");
    let message = reply.body["errors"][0]["message"]
        .as_str()
        .expect("message");
    assert!(
        message.contains("DIRECT Lambda integration (data source 'notifier'"),
        "{message}"
    );
    assert_eq!(api.publish_http("/async/a", &["2"]).await.status, 200);
    assert_eq!(sub.recv().await["event"], "2");
    assert_eq!(api.publish_http("/stored/a", &["3"]).await.status, 200);
    assert_eq!(sub.recv().await["event"], "3");
    let reply = api.publish_http("/reads/a", &["4"]).await;
    reply.assert_error(500, "HandlerError");
    let message = reply.body["errors"][0]["message"]
        .as_str()
        .expect("message");
    assert!(
        message.contains("data source 'notifier'") && message.contains("ctx.result = null"),
        "{message}"
    );
}

#[tokio::test]
async fn the_chat_templates_handler_trims_long_messages_and_refuses_every_room_at_once() {
    let code = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/handlers/chat.js"),
    )
    .expect("templates/handlers/chat.js");
    let (_emulator, api) = key_api().await;
    api.handler_namespace("rooms", &code).await;
    let mut sub = api.subscribed(&["/rooms/lobby"]).await;
    let refused = sub.subscribe("all", "/rooms/*", &api.key_auth()).await;
    assert_eq!(refused["type"], "subscribe_error", "{refused}");
    assert_eq!(refused["errors"][0]["errorType"], "Unauthorized");

    let long = json!({"user": "ann", "text": "x".repeat(1500)}).to_string();
    let reply = api
        .publish_http("/rooms/lobby", &[&long, r#"{"typing":true}"#])
        .await;
    assert_eq!(indices(&reply.body["successful"]), [0, 1]);
    let trimmed: Value =
        serde_json::from_str(sub.recv().await["event"].as_str().expect("event")).expect("JSON");
    assert_eq!(
        trimmed,
        json!({"user": "ann", "text": "x".repeat(1000), "truncated": true})
    );
    assert_eq!(sub.recv().await["event"], r#"{"typing":true}"#);
}
