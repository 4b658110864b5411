//! The emulator's control plane, driven through the real `aws-sdk-appsync` client: every
//! operation and every error, pagination, tags on percent-encoded ARNs, key expiry, cascade
//! delete, quotas, fault injection, SigV4 checks, and the `evctl emulator` binary itself
//! (start-up, SIGTERM, restart with `--state`).

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_appsync::Client;
use aws_sdk_appsync::config::http::HttpResponse;
use aws_sdk_appsync::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_appsync::operation::RequestId as _;
use aws_sdk_appsync::types::{
    AuthMode, AuthenticationType, BadRequestReason, HandlerBehavior, HandlerConfig, HandlerConfigs,
    Integration,
};
use evctl::cli::FaultKind;
use evctl::emulator::FaultSettings;

use crate::support::{
    EmulatorProcess, emulator_stats, event_config, event_config_with, sdk_client, sdk_config,
    start_emulator, start_emulator_with,
};

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// The error code and HTTP status of a failed call.
fn failure<E>(err: SdkError<E, HttpResponse>) -> (String, u16)
where
    E: ProvideErrorMetadata + std::fmt::Debug,
{
    let status = err.raw_response().map_or(0, |r| r.status().as_u16());
    let code = err
        .code()
        .map(str::to_string)
        .unwrap_or_else(|| format!("{err:?}"));
    (code, status)
}

async fn create_api(client: &Client, name: &str) -> aws_sdk_appsync::types::Api {
    client
        .create_api()
        .name(name)
        .event_config(event_config())
        .send()
        .await
        .expect("CreateApi")
        .api
        .expect("api")
}

fn id(api: &aws_sdk_appsync::types::Api) -> String {
    api.api_id().expect("api id").to_string()
}

#[tokio::test]
async fn an_api_is_created_read_listed_updated_and_deleted() {
    let emulator = start_emulator().await;
    let client = sdk_client(&emulator.endpoint());
    let before = now();
    let created = client
        .create_api()
        .name("orders")
        .owner_contact("team-orders")
        .tags("env", "dev")
        .event_config(event_config())
        .send()
        .await
        .expect("CreateApi")
        .api
        .expect("api");
    let api_id = id(&created);
    assert_eq!(api_id.len(), 26);
    assert!(
        api_id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    );
    assert_eq!(
        created.api_arn(),
        Some(format!("arn:aws:appsync:us-east-1:123456789012:apis/{api_id}").as_str())
    );
    let created_at = created.created().expect("created").secs();
    assert!((before..=now()).contains(&created_at));
    let dns = created.dns().expect("dns");
    assert_eq!(dns["HTTP"], dns["REALTIME"]);
    assert!(dns["HTTP"].starts_with("127.0.0.1:"), "{dns:?}");
    // The data plane of the API is listening on the address in `dns`.
    tokio::net::TcpStream::connect(&dns["HTTP"])
        .await
        .expect("data-plane port is open");

    let got = client
        .get_api()
        .api_id(&api_id)
        .send()
        .await
        .expect("GetApi")
        .api;
    assert_eq!(got.as_ref(), Some(&created));

    let listed = client.list_apis().send().await.expect("ListApis");
    assert_eq!(listed.apis(), std::slice::from_ref(&created));
    assert_eq!(listed.next_token(), None);

    let updated = client
        .update_api()
        .api_id(&api_id)
        .name("orders-v2")
        .event_config(event_config_with(&[
            AuthenticationType::ApiKey,
            AuthenticationType::AwsIam,
        ]))
        .send()
        .await
        .expect("UpdateApi")
        .api
        .expect("api");
    assert_eq!(updated.name(), Some("orders-v2"));
    assert_eq!(
        updated.owner_contact(),
        None,
        "UpdateApi replaces the configuration"
    );
    assert_eq!(updated.tags(), created.tags(), "UpdateApi keeps tags");
    assert_eq!(updated.dns(), created.dns());
    assert_eq!(
        updated
            .event_config()
            .expect("config")
            .auth_providers()
            .len(),
        2
    );

    client
        .delete_api()
        .api_id(&api_id)
        .send()
        .await
        .expect("DeleteApi");
    let err = client
        .get_api()
        .api_id(&api_id)
        .send()
        .await
        .expect_err("should fail");
    assert_eq!(failure(err), ("NotFoundException".into(), 404));
    emulator.shutdown().await;
}

#[tokio::test]
async fn invalid_input_is_a_bad_request() {
    let emulator = start_emulator().await;
    let client = sdk_client(&emulator.endpoint());
    let bad_request = ("BadRequestException".to_string(), 400);

    for name in ["", "dots.are.not.allowed", &"x".repeat(51)] {
        let err = client
            .create_api()
            .name(name)
            .event_config(event_config())
            .send()
            .await
            .expect_err("should fail");
        assert_eq!(failure(err), bad_request, "name {name:?}");
    }
    let err = client
        .create_api()
        .name("no-config")
        .send()
        .await
        .expect_err("should fail");
    let message = err.message().unwrap_or_default().to_string();
    assert_eq!(failure(err), bad_request);
    assert!(message.contains("eventConfig"), "{message}");

    // An auth mode that names no configured provider.
    let mut config = event_config();
    config.default_publish_auth_modes = vec![
        AuthMode::builder()
            .auth_type(AuthenticationType::AwsIam)
            .build()
            .expect("mode"),
    ];
    let err = client
        .create_api()
        .name("mismatch")
        .event_config(config)
        .send()
        .await
        .expect_err("should fail");
    assert_eq!(failure(err), bad_request);

    // An enum value the service does not know.
    let err = client
        .create_api()
        .name("bogus")
        .event_config(event_config_with(&[AuthenticationType::from("BOGUS")]))
        .send()
        .await
        .expect_err("should fail");
    assert_eq!(failure(err), bad_request);

    // Tag rules.
    for (key, value) in [("aws:reserved", "x"), ("bad#key", "x"), ("ok", "bad#value")] {
        let err = client
            .create_api()
            .name("tags")
            .tags(key, value)
            .event_config(event_config())
            .send()
            .await
            .expect_err("should fail");
        assert_eq!(failure(err), bad_request, "tag {key}={value}");
    }

    let api = create_api(&client, "ns-rules").await;
    for name in ["-leading", "trailing-", "under_score", &"n".repeat(51)] {
        let err = client
            .create_channel_namespace()
            .api_id(id(&api))
            .name(name)
            .send()
            .await
            .expect_err("should fail");
        assert_eq!(failure(err), bad_request, "namespace {name:?}");
    }
    let err = client
        .create_channel_namespace()
        .api_id(id(&api))
        .name("iam-only")
        .publish_auth_modes(
            AuthMode::builder()
                .auth_type(AuthenticationType::AwsIam)
                .build()
                .expect("mode"),
        )
        .send()
        .await
        .expect_err("should fail");
    assert_eq!(failure(err), bad_request);

    for max in [26, -1] {
        let err = client
            .list_apis()
            .max_results(max)
            .send()
            .await
            .expect_err("should fail");
        assert_eq!(failure(err), bad_request, "maxResults {max}");
    }
    let err = client
        .list_apis()
        .next_token("garbage")
        .send()
        .await
        .expect_err("should fail");
    assert_eq!(failure(err), bad_request);
    emulator.shutdown().await;
}

#[tokio::test]
async fn namespaces_are_managed_and_duplicates_conflict() {
    let emulator = start_emulator().await;
    let client = sdk_client(&emulator.endpoint());
    let api = create_api(&client, "chat").await;
    let api_id = id(&api);
    let code = "export function onPublish(ctx) { return ctx.events; }";
    let ns = client
        .create_channel_namespace()
        .api_id(&api_id)
        .name("messages")
        .code_handlers(code)
        .tags("team", "chat")
        .handler_configs(
            HandlerConfigs::builder()
                .on_publish(
                    HandlerConfig::builder()
                        .behavior(HandlerBehavior::Code)
                        .integration(
                            Integration::builder()
                                .data_source_name("events_ds")
                                .build()
                                .expect("integration"),
                        )
                        .build()
                        .expect("handler config"),
                )
                .build(),
        )
        .send()
        .await
        .expect("CreateChannelNamespace")
        .channel_namespace
        .expect("namespace");
    assert_eq!(
        ns.channel_namespace_arn(),
        Some(format!("{}/channelNamespace/messages", api.api_arn().expect("arn")).as_str())
    );
    assert_eq!(ns.code_handlers(), Some(code));
    assert!(
        ns.publish_auth_modes().is_empty(),
        "no modes: inherits the API defaults"
    );
    assert_eq!(ns.created(), ns.last_modified());

    let err = client
        .create_channel_namespace()
        .api_id(&api_id)
        .name("messages")
        .send()
        .await
        .expect_err("should fail");
    assert_eq!(failure(err), ("ConflictException".into(), 409));

    let got = client
        .get_channel_namespace()
        .api_id(&api_id)
        .name("messages")
        .send()
        .await
        .expect("GetChannelNamespace")
        .channel_namespace;
    assert_eq!(got.as_ref(), Some(&ns));

    let listed = client
        .list_channel_namespaces()
        .api_id(&api_id)
        .send()
        .await
        .expect("ListChannelNamespaces");
    assert_eq!(listed.channel_namespaces().len(), 1);
    assert_eq!(
        listed.channel_namespaces()[0].code_handlers(),
        None,
        "lists leave the code out"
    );

    let updated = client
        .update_channel_namespace()
        .api_id(&api_id)
        .name("messages")
        .subscribe_auth_modes(
            AuthMode::builder()
                .auth_type(AuthenticationType::ApiKey)
                .build()
                .expect("mode"),
        )
        .send()
        .await
        .expect("UpdateChannelNamespace")
        .channel_namespace
        .expect("namespace");
    assert_eq!(updated.subscribe_auth_modes().len(), 1);
    assert_eq!(
        updated.code_handlers(),
        None,
        "UpdateChannelNamespace replaces"
    );
    assert_eq!(updated.tags(), ns.tags(), "tags are kept");
    assert!(updated.last_modified() >= ns.last_modified());

    client
        .delete_channel_namespace()
        .api_id(&api_id)
        .name("messages")
        .send()
        .await
        .expect("DeleteChannelNamespace");
    let err = client
        .get_channel_namespace()
        .api_id(&api_id)
        .name("messages")
        .send()
        .await
        .expect_err("should fail");
    assert_eq!(failure(err), ("NotFoundException".into(), 404));
    emulator.shutdown().await;
}

#[tokio::test]
async fn handler_code_is_checked_like_aws() {
    let emulator = start_emulator().await;
    let client = sdk_client(&emulator.endpoint());
    let api_id = id(&create_api(&client, "code").await);
    let err = client
        .create_channel_namespace()
        .api_id(&api_id)
        .name("broken")
        .code_handlers("export function onPublish(ctx) {\n  return ctx.events;\n")
        .send()
        .await
        .expect_err("should fail")
        .into_service_error();
    assert!(err.is_bad_request_exception(), "{err:?}");
    let aws_sdk_appsync::operation::create_channel_namespace::CreateChannelNamespaceError::BadRequestException(bad) = err else {
        unreachable!()
    };
    assert_eq!(bad.reason(), Some(&BadRequestReason::CodeError));
    let code_error = &bad.detail().expect("detail").code_errors()[0];
    assert_eq!(code_error.error_type(), Some("PARSER_ERROR"));
    assert_eq!(code_error.location().expect("location").line(), 1);

    let err = client
        .create_channel_namespace()
        .api_id(&api_id)
        .name("lint")
        .code_handlers("export function onPublish(ctx) { try { x() } catch (e) {} }")
        .send()
        .await
        .expect_err("should fail");
    assert_eq!(failure(err), ("BadRequestException".into(), 400));

    let err = client
        .create_channel_namespace()
        .api_id(&api_id)
        .name("huge")
        .code_handlers(format!("// {}", "x".repeat(32_768)))
        .send()
        .await
        .expect_err("should fail");
    assert_eq!(failure(err), ("BadRequestException".into(), 400));
    emulator.shutdown().await;
}

#[tokio::test]
async fn api_keys_expire_on_the_hour_within_one_to_365_days() {
    let emulator = start_emulator().await;
    let client = sdk_client(&emulator.endpoint());
    let api_id = id(&create_api(&client, "keys").await);

    let before = now();
    let key = client
        .create_api_key()
        .api_id(&api_id)
        .description("ci")
        .send()
        .await
        .expect("CreateApiKey")
        .api_key
        .expect("key");
    let id_value = key.id().expect("id");
    assert!(
        id_value.starts_with("da2-") && id_value.len() == 30,
        "{id_value}"
    );
    assert_eq!(key.expires() % HOUR, 0, "rounded down to the hour");
    let default_expiry = key.expires() - before;
    assert!(
        (7 * DAY - HOUR..=7 * DAY).contains(&default_expiry),
        "default validity is 7 days, got {default_expiry}s"
    );
    assert_eq!(key.deletes(), key.expires() + 60 * DAY);

    let wanted = now() + 30 * DAY + 1234;
    let key30 = client
        .create_api_key()
        .api_id(&api_id)
        .expires(wanted)
        .send()
        .await
        .expect("CreateApiKey 30d")
        .api_key
        .expect("key");
    assert_eq!(key30.expires(), wanted - wanted % HOUR);

    let out_of_bounds = ("ApiKeyValidityOutOfBoundsException".to_string(), 400);
    for expires in [now() + DAY - 60, now() + 366 * DAY, now() - DAY] {
        let err = client
            .create_api_key()
            .api_id(&api_id)
            .expires(expires)
            .send()
            .await
            .expect_err("should fail");
        assert_eq!(failure(err), out_of_bounds);
    }

    let extended = client
        .update_api_key()
        .api_id(&api_id)
        .id(id_value)
        .expires(now() + 90 * DAY)
        .send()
        .await
        .expect("UpdateApiKey")
        .api_key
        .expect("key");
    assert_eq!(
        extended.description(),
        Some("ci"),
        "an absent description is kept"
    );
    assert_eq!(extended.expires() % HOUR, 0);
    assert_eq!(extended.deletes(), extended.expires() + 60 * DAY);
    let err = client
        .update_api_key()
        .api_id(&api_id)
        .id(id_value)
        .expires(now() + 400 * DAY)
        .send()
        .await
        .expect_err("should fail");
    assert_eq!(failure(err), out_of_bounds);

    let listed = client
        .list_api_keys()
        .api_id(&api_id)
        .send()
        .await
        .expect("ListApiKeys");
    assert_eq!(listed.api_keys().len(), 2);

    client
        .delete_api_key()
        .api_id(&api_id)
        .id(id_value)
        .send()
        .await
        .expect("DeleteApiKey");
    let err = client
        .delete_api_key()
        .api_id(&api_id)
        .id(id_value)
        .send()
        .await
        .expect_err("should fail");
    let message = err.message().unwrap_or_default().to_string();
    assert_eq!(failure(err), ("NotFoundException".into(), 404));
    assert!(
        !message.contains(id_value),
        "the key value leaked: {message}"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn quotas_answer_with_their_own_errors() {
    let emulator = start_emulator().await;
    let client = sdk_client(&emulator.endpoint());
    let api_id = id(&create_api(&client, "quota-0").await);
    for _ in 0..50 {
        client
            .create_api_key()
            .api_id(&api_id)
            .send()
            .await
            .expect("CreateApiKey");
    }
    let err = client
        .create_api_key()
        .api_id(&api_id)
        .send()
        .await
        .expect_err("should fail");
    assert_eq!(failure(err), ("ApiKeyLimitExceededException".into(), 400));

    for i in 0..50 {
        client
            .create_channel_namespace()
            .api_id(&api_id)
            .name(format!("ns{i}"))
            .send()
            .await
            .expect("CreateChannelNamespace");
    }
    let err = client
        .create_channel_namespace()
        .api_id(&api_id)
        .name("ns50")
        .send()
        .await
        .expect_err("should fail");
    assert_eq!(failure(err), ("ServiceQuotaExceededException".into(), 402));

    for i in 1..50 {
        create_api(&client, &format!("quota-{i}")).await;
    }
    let err = client
        .create_api()
        .name("quota-50")
        .event_config(event_config())
        .send()
        .await
        .expect_err("should fail");
    assert_eq!(failure(err), ("ServiceQuotaExceededException".into(), 402));
    emulator.shutdown().await;
}

#[tokio::test]
async fn lists_page_through_every_item_with_opaque_tokens() {
    let emulator = start_emulator().await;
    let client = sdk_client(&emulator.endpoint());
    let mut names = Vec::new();
    for i in 0..12 {
        names.push(id(&create_api(&client, &format!("page-{i:02}")).await));
    }
    let first = client
        .list_apis()
        .max_results(5)
        .send()
        .await
        .expect("page 1");
    assert_eq!(first.apis().len(), 5);
    let token = first.next_token().expect("a next token").to_string();
    assert!(!token.contains("page-"), "tokens are opaque: {token}");

    let all: Vec<String> = client
        .list_apis()
        .max_results(5)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("paginate")
        .iter()
        .map(id)
        .collect();
    assert_eq!(all, names, "every API once, in creation order");

    // maxResults 0 means the default page (25).
    let zero = client
        .list_apis()
        .max_results(0)
        .send()
        .await
        .expect("maxResults 0");
    assert_eq!(zero.apis().len(), 12);

    let api_id = names[0].clone();
    for i in 0..7 {
        client
            .create_channel_namespace()
            .api_id(&api_id)
            .name(format!("n{i}"))
            .send()
            .await
            .expect("namespace");
        client
            .create_api_key()
            .api_id(&api_id)
            .send()
            .await
            .expect("key");
    }
    let namespaces = client
        .list_channel_namespaces()
        .api_id(&api_id)
        .max_results(3)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("namespaces");
    assert_eq!(namespaces.len(), 7);
    let keys = client
        .list_api_keys()
        .api_id(&api_id)
        .max_results(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("keys");
    assert_eq!(keys.len(), 7);
    let stats = emulator_stats(&emulator.endpoint()).await;
    assert_eq!(stats["operations"]["ListApiKeys"], 4, "{stats}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn tags_are_managed_through_percent_encoded_arns() {
    let emulator = start_emulator().await;
    let client = sdk_client(&emulator.endpoint());
    let api = create_api(&client, "tagged").await;
    let arn = api.api_arn().expect("arn");
    client
        .tag_resource()
        .resource_arn(arn)
        .tags("env", "dev")
        .tags("evctl:managed-by", "evctl")
        .send()
        .await
        .expect("TagResource");
    let tags = client
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .expect("ListTagsForResource")
        .tags
        .expect("tags");
    assert_eq!(tags.len(), 2);
    assert_eq!(tags["evctl:managed-by"], "evctl");
    client
        .untag_resource()
        .resource_arn(arn)
        .tag_keys("env")
        .send()
        .await
        .expect("UntagResource");
    let got = client
        .get_api()
        .api_id(id(&api))
        .send()
        .await
        .expect("GetApi");
    assert_eq!(got.api().and_then(|a| a.tags()).map(|t| t.len()), Some(1));

    // Namespaces are tagged through their own ARN.
    let ns = client
        .create_channel_namespace()
        .api_id(id(&api))
        .name("room")
        .send()
        .await
        .expect("namespace")
        .channel_namespace
        .expect("ns");
    let ns_arn = ns.channel_namespace_arn().expect("ns arn");
    client
        .tag_resource()
        .resource_arn(ns_arn)
        .tags("team", "a")
        .send()
        .await
        .expect("tag namespace");
    let tags = client
        .list_tags_for_resource()
        .resource_arn(ns_arn)
        .send()
        .await
        .expect("namespace tags")
        .tags
        .expect("tags");
    assert_eq!(tags["team"], "a");

    let too_many = (0..50).fold(client.tag_resource().resource_arn(arn), |req, i| {
        req.tags(format!("k{i}"), "v")
    });
    let err = too_many.send().await.expect_err("should fail");
    assert_eq!(failure(err), ("BadRequestException".into(), 400));
    let err = client
        .list_tags_for_resource()
        .resource_arn("arn:aws:appsync:us-east-1:123456789012:apis/abcdefghijklmnopqrstuvwxyz")
        .send()
        .await
        .expect_err("should fail");
    assert_eq!(failure(err), ("NotFoundException".into(), 404));
    let err = client
        .list_tags_for_resource()
        .resource_arn("arn:aws:sqs:us-east-1:123456789012:queue")
        .send()
        .await
        .expect_err("should fail");
    assert_eq!(failure(err), ("BadRequestException".into(), 400));
    // The SDK insists on tagKeys; other clients may not.
    let encoded = arn.replace(':', "%3A").replace('/', "%2F");
    let untag_nothing = reqwest::Client::new()
        .delete(format!("{}/v1/tags/{encoded}", emulator.endpoint()))
        .send()
        .await
        .expect("DELETE without tagKeys");
    assert_eq!(untag_nothing.status().as_u16(), 400);
    assert_eq!(
        untag_nothing.headers()["x-amzn-errortype"],
        "BadRequestException"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn deleting_an_api_deletes_its_namespaces_keys_tags_and_listener() {
    let emulator = start_emulator().await;
    let client = sdk_client(&emulator.endpoint());
    let api = create_api(&client, "doomed").await;
    let api_id = id(&api);
    let keep = create_api(&client, "kept").await;
    client
        .create_channel_namespace()
        .api_id(&api_id)
        .name("default")
        .tags("a", "b")
        .send()
        .await
        .expect("namespace");
    client
        .create_api_key()
        .api_id(&api_id)
        .send()
        .await
        .expect("key");
    client
        .tag_resource()
        .resource_arn(api.api_arn().expect("arn"))
        .tags("x", "y")
        .send()
        .await
        .expect("tag");
    let address = api.dns().expect("dns")["HTTP"].clone();

    client
        .delete_api()
        .api_id(&api_id)
        .send()
        .await
        .expect("DeleteApi");

    let not_found = ("NotFoundException".to_string(), 404);
    let err = client
        .list_channel_namespaces()
        .api_id(&api_id)
        .send()
        .await
        .expect_err("should fail");
    assert_eq!(failure(err), not_found);
    let err = client
        .list_api_keys()
        .api_id(&api_id)
        .send()
        .await
        .expect_err("should fail");
    assert_eq!(failure(err), not_found);
    let err = client
        .list_tags_for_resource()
        .resource_arn(api.api_arn().expect("arn"))
        .send()
        .await
        .expect_err("should fail");
    assert_eq!(failure(err), not_found);
    // The listener is closed. (Another test's emulator may be handed the freed port at once:
    // then it must not answer for the deleted API.)
    if let Ok(response) = reqwest::Client::new()
        .post(format!("http://{address}/event"))
        .body("{}")
        .send()
        .await
    {
        let text = response.text().await.unwrap_or_default();
        assert!(
            !text.contains(&api_id),
            "the deleted API is still served: {text}"
        );
    }
    let err = client
        .delete_api()
        .api_id(&api_id)
        .send()
        .await
        .expect_err("should fail");
    assert_eq!(failure(err), not_found);
    assert_eq!(
        client.list_apis().send().await.expect("list").apis(),
        [keep]
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn missing_apis_namespaces_and_keys_are_not_found() {
    let emulator = start_emulator().await;
    let client = sdk_client(&emulator.endpoint());
    let missing = "abcdefghijklmnopqrstuvwxyz";
    let nf = ("NotFoundException".to_string(), 404);
    macro_rules! not_found {
        ($call:expr) => {
            assert_eq!(
                failure($call.send().await.expect_err("should fail")),
                nf,
                stringify!($call)
            );
        };
    }
    not_found!(client.get_api().api_id(missing));
    not_found!(
        client
            .update_api()
            .api_id(missing)
            .name("x")
            .event_config(event_config())
    );
    not_found!(client.delete_api().api_id(missing));
    not_found!(client.create_channel_namespace().api_id(missing).name("x"));
    not_found!(client.get_channel_namespace().api_id(missing).name("x"));
    not_found!(client.list_channel_namespaces().api_id(missing));
    not_found!(client.update_channel_namespace().api_id(missing).name("x"));
    not_found!(client.delete_channel_namespace().api_id(missing).name("x"));
    not_found!(client.create_api_key().api_id(missing));
    not_found!(client.list_api_keys().api_id(missing));
    not_found!(
        client
            .update_api_key()
            .api_id(missing)
            .id("da2-x")
            .description("d")
    );
    not_found!(client.delete_api_key().api_id(missing).id("da2-x"));
    let arn = format!("arn:aws:appsync:us-east-1:123456789012:apis/{missing}");
    not_found!(client.tag_resource().resource_arn(&arn).tags("a", "b"));
    not_found!(client.untag_resource().resource_arn(&arn).tag_keys("a"));
    not_found!(client.list_tags_for_resource().resource_arn(&arn));

    let api_id = id(&create_api(&client, "present").await);
    not_found!(
        client
            .get_channel_namespace()
            .api_id(&api_id)
            .name("absent")
    );
    not_found!(
        client
            .update_channel_namespace()
            .api_id(&api_id)
            .name("absent")
    );
    not_found!(
        client
            .delete_channel_namespace()
            .api_id(&api_id)
            .name("absent")
    );
    not_found!(
        client
            .update_api_key()
            .api_id(&api_id)
            .id("da2-absent")
            .description("d")
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let emulator = start_emulator().await;
    let client = sdk_client(&emulator.endpoint());
    let out = client.list_apis().send().await.expect("ListApis");
    assert!(out.request_id().is_some_and(|id| !id.is_empty()));
    let err = client
        .get_api()
        .api_id("nope")
        .send()
        .await
        .expect_err("should fail");
    assert!(err.request_id().is_some_and(|id| !id.is_empty()));
    let health = reqwest::get(format!("{}/_emulator/health", emulator.endpoint()))
        .await
        .expect("health");
    assert!(health.headers().contains_key("x-amzn-requestid"));
    emulator.shutdown().await;
}

async fn faulty(kind: FaultKind) -> evctl::emulator::Handle {
    start_emulator_with(|c| {
        c.faults = FaultSettings {
            rate: 1.0,
            kinds: vec![kind],
            seed: Some(7),
        }
    })
    .await
}

#[tokio::test]
async fn each_fault_kind_is_answered_as_aws_would() {
    for (kind, expected) in [
        (FaultKind::Throttle, ("LimitExceededException", 429)),
        (FaultKind::Internal, ("InternalFailureException", 500)),
        (
            FaultKind::Conflict,
            ("ConcurrentModificationException", 409),
        ),
    ] {
        let emulator = faulty(kind).await;
        let client = sdk_client(&emulator.endpoint());
        let err = client
            .create_api()
            .name("faulty")
            .event_config(event_config())
            .send()
            .await
            .expect_err("should fail");
        assert_eq!(
            failure(err),
            (expected.0.to_string(), expected.1),
            "{kind:?}"
        );
        assert_eq!(
            emulator.state().read(|s| s.records().count()),
            0,
            "{kind:?} faults happen before the operation"
        );
        assert_eq!(emulator.state().stats().snapshot().faults[kind.name()], 1);
        emulator.shutdown().await;
    }
}

#[tokio::test]
async fn a_lost_response_commits_the_operation_but_drops_the_connection() {
    let emulator = faulty(FaultKind::LostResponse).await;
    let client = sdk_client(&emulator.endpoint());
    let err = client
        .create_api()
        .name("lost")
        .event_config(event_config())
        .send()
        .await
        .expect_err("should fail");
    assert!(
        matches!(
            err,
            SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
        ),
        "the client sees a broken connection, not an answer: {err:?}"
    );
    let names: Vec<String> = emulator
        .state()
        .read(|s| s.records().map(|r| r.api.name.clone()).collect());
    assert_eq!(names, ["lost"], "the operation was committed");
    emulator.shutdown().await;
}

#[tokio::test]
async fn latency_delays_every_operation_but_not_the_emulator_endpoints() {
    let slow =
        start_emulator_with(|c| c.latency = Some(std::time::Duration::from_secs(3600))).await;
    let impatient = Client::from_conf(
        sdk_config(&slow.endpoint())
            .timeout_config(
                aws_sdk_appsync::config::timeout::TimeoutConfig::builder()
                    .operation_timeout(std::time::Duration::from_millis(300))
                    .build(),
            )
            .build(),
    );
    let err = impatient
        .list_apis()
        .send()
        .await
        .expect_err("should time out");
    assert!(matches!(err, SdkError::TimeoutError(_)), "{err:?}");
    let health = reqwest::Client::new()
        .get(format!("{}/_emulator/health", slow.endpoint()))
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .expect("health is not delayed");
    assert!(health.status().is_success());
    // Not `shutdown`: it would let the delayed request finish first.
    drop(slow);
}

#[tokio::test]
async fn a_seed_replays_the_same_faults() {
    async fn outcomes(seed: u64) -> Vec<String> {
        let emulator = start_emulator_with(|c| {
            c.faults = FaultSettings {
                rate: 0.5,
                kinds: vec![FaultKind::Throttle, FaultKind::Internal],
                seed: Some(seed),
            }
        })
        .await;
        let client = sdk_client(&emulator.endpoint());
        let mut seen = Vec::new();
        for _ in 0..20 {
            seen.push(match client.list_apis().send().await {
                Ok(_) => "ok".to_string(),
                Err(e) => failure(e).0,
            });
        }
        emulator.shutdown().await;
        seen
    }
    let first = outcomes(1234).await;
    assert_eq!(first, outcomes(1234).await);
    assert!(first.iter().any(|o| o == "ok") && first.iter().any(|o| o != "ok"));
}

#[tokio::test]
async fn signatures_are_verified_when_asked() {
    let emulator = start_emulator_with(|c| {
        c.verify_sigv4 = true;
        c.credentials = evctl::signing::Credentials::new("AKIDEMU", "s3cret", None);
    })
    .await;
    let endpoint = emulator.endpoint();
    let signed_by = |id: &str, secret: &str, region: &str| {
        Client::from_conf(
            sdk_config(&endpoint)
                .credentials_provider(aws_sdk_appsync::config::Credentials::new(
                    id, secret, None, None, "test",
                ))
                .region(aws_sdk_appsync::config::Region::new(region.to_string()))
                .build(),
        )
    };
    let good = signed_by("AKIDEMU", "s3cret", "us-east-1");
    let api = create_api(&good, "signed").await;
    // A percent-encoded path and a query string are signed and verified too.
    good.untag_resource()
        .resource_arn(api.api_arn().expect("arn"))
        .tag_keys("a b")
        .send()
        .await
        .expect("UntagResource, signed");

    let err = signed_by("AKIDEMU", "wrong", "us-east-1")
        .list_apis()
        .send()
        .await
        .expect_err("should fail");
    assert_eq!(failure(err), ("InvalidSignatureException".into(), 403));
    let err = signed_by("AKIDOTHER", "s3cret", "us-east-1")
        .list_apis()
        .send()
        .await
        .expect_err("should fail");
    assert_eq!(failure(err), ("UnrecognizedClientException".into(), 403));
    let err = signed_by("AKIDEMU", "s3cret", "eu-west-1")
        .list_apis()
        .send()
        .await
        .expect_err("should fail");
    assert_eq!(failure(err), ("InvalidSignatureException".into(), 403));
    let unsigned = reqwest::get(format!("{endpoint}/v2/apis"))
        .await
        .expect("GET");
    assert_eq!(unsigned.status().as_u16(), 403);
    assert_eq!(
        unsigned.headers()["x-amzn-errortype"],
        "MissingAuthenticationTokenException"
    );
    emulator.shutdown().await;
}

// ---- the real binary ----------------------------------------------------------------------

#[tokio::test]
async fn the_binary_prints_its_endpoint_logs_operations_and_stops_on_sigterm() {
    let emulator = EmulatorProcess::spawn(&[]);
    let client = sdk_client(emulator.endpoint());
    create_api(&client, "from-the-binary").await;
    let _ = client.get_api().api_id("missing").send().await;
    let stats = emulator_stats(emulator.endpoint()).await;
    assert_eq!(stats["operations"]["CreateApi"], 1);
    let exited = emulator.terminate();
    assert_eq!(exited.status.code(), Some(130), "{}", exited.stderr);
    assert!(
        exited.stderr.contains("POST CreateApi 200"),
        "{}",
        exited.stderr
    );
    assert!(
        exited.stderr.contains("GET GetApi 404 NotFoundException"),
        "{}",
        exited.stderr
    );

    let quiet = EmulatorProcess::spawn(&["-q"]);
    create_api(&sdk_client(quiet.endpoint()), "quiet").await;
    let exited = quiet.terminate();
    assert_eq!(exited.stderr, "", "-q silences the operation log");
}

#[tokio::test]
async fn the_binary_injects_faults_and_says_how_to_replay_them() {
    let emulator =
        EmulatorProcess::spawn(&["--fault-rate", "1", "--faults", "throttle", "--seed", "99"]);
    let err = sdk_client(emulator.endpoint())
        .list_apis()
        .send()
        .await
        .expect_err("should be throttled");
    assert_eq!(failure(err), ("LimitExceededException".into(), 429));
    let exited = emulator.terminate();
    assert_eq!(exited.status.code(), Some(130), "{}", exited.stderr);
    assert!(exited.stderr.contains("--seed 99"), "{}", exited.stderr);
    assert!(
        exited
            .stderr
            .contains("GET ListApis 429 LimitExceededException (injected throttle)"),
        "{}",
        exited.stderr
    );
}

#[tokio::test]
async fn state_survives_a_restart_with_the_same_data_plane_ports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("emulator.json");
    let state_arg = state.to_str().expect("utf-8 path");
    // A port no other test is handed by the OS, so the restart finds it free.
    let port = crate::support::free_port_outside_ephemeral_range();
    let ports = format!("{port}-{port}");
    let args = [
        "--state",
        state_arg,
        "--region",
        "eu-west-1",
        "--data-plane-ports",
        &ports,
    ];

    let first = EmulatorProcess::spawn(&args);
    let client = sdk_client(first.endpoint());
    let api = create_api(&client, "durable").await;
    let api_id = id(&api);
    client
        .create_channel_namespace()
        .api_id(&api_id)
        .name("default")
        .send()
        .await
        .expect("namespace");
    let key = client
        .create_api_key()
        .api_id(&api_id)
        .send()
        .await
        .expect("key")
        .api_key
        .expect("key");
    assert!(api.api_arn().expect("arn").contains(":eu-west-1:"));
    assert_eq!(first.terminate().status.code(), Some(130));
    assert!(!std::fs::read_to_string(&state).expect("state").is_empty());

    let second = EmulatorProcess::spawn(&args);
    let client = sdk_client(second.endpoint());
    let got = client
        .get_api()
        .api_id(&api_id)
        .send()
        .await
        .expect("GetApi")
        .api;
    assert_eq!(got.as_ref(), Some(&api), "same API, same dns");
    tokio::net::TcpStream::connect(&api.dns().expect("dns")["HTTP"])
        .await
        .expect("the data plane is served on its recorded port again");
    let keys = client
        .list_api_keys()
        .api_id(&api_id)
        .send()
        .await
        .expect("keys");
    assert_eq!(keys.api_keys(), [key]);
    let nss = client
        .list_channel_namespaces()
        .api_id(&api_id)
        .send()
        .await
        .expect("namespaces");
    assert_eq!(nss.channel_namespaces().len(), 1);
    let address = api.dns().expect("dns")["HTTP"].clone();
    second.terminate();

    // With the recorded port taken, the API moves to another port and says so.
    let squatter = std::net::TcpListener::bind(&address).expect("take the data-plane port");
    let third = EmulatorProcess::spawn(&["--state", state_arg, "--region", "eu-west-1"]);
    let moved = sdk_client(third.endpoint())
        .get_api()
        .api_id(&api_id)
        .send()
        .await
        .expect("GetApi")
        .api
        .expect("api");
    assert_ne!(moved.dns().expect("dns")["HTTP"], address);
    let exited = third.terminate();
    assert_eq!(exited.status.code(), Some(130), "{}", exited.stderr);
    assert!(exited.stderr.contains("is taken"), "{}", exited.stderr);
    drop(squatter);

    // A state file of another region is refused, not overwritten.
    crate::support::evctl()
        .args(["emulator", "--listen", "127.0.0.1:0", "--state", state_arg])
        .assert()
        .failure()
        .code(1)
        .stderr(predicates::str::contains("--region eu-west-1"));
}

#[test]
fn a_corrupt_or_foreign_state_file_is_refused_and_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, contents, says) in [
        (
            "corrupt.json",
            "{\"format\": \"evctl-emulator-state\", \"vers",
            "not valid JSON",
        ),
        (
            "foreign.json",
            "{\"Version\": \"2012-10-17\"}",
            "no \"format\"",
        ),
        ("notes.txt", "remember the milk\n", "not valid JSON"),
    ] {
        let path = crate::support::write(dir.path(), name, contents);
        crate::support::evctl()
            .args(["emulator", "--listen", "127.0.0.1:0", "--state"])
            .arg(&path)
            .assert()
            .failure()
            .code(1)
            .stderr(predicates::str::contains(says))
            .stderr(predicates::str::contains("refusing to overwrite"));
        assert_eq!(std::fs::read_to_string(&path).expect("read"), contents);
    }
}

#[test]
fn bad_flags_are_refused_before_listening() {
    for (args, says) in [
        (vec!["--fault-rate", "1.5"], "--fault-rate"),
        (vec!["--account-id", "12345"], "--account-id"),
        (
            vec!["--credentials", "nocolon"],
            "ACCESS_KEY_ID:SECRET_ACCESS_KEY",
        ),
        (
            vec!["--data-plane-ports", "5000-4000"],
            "START must not exceed END",
        ),
    ] {
        crate::support::evctl()
            .args(["emulator", "--listen", "127.0.0.1:0"])
            .args(&args)
            .assert()
            .failure()
            .code(1)
            .stderr(predicates::str::contains(says));
    }
}

#[tokio::test]
async fn each_api_is_served_on_its_own_data_plane_until_deleted() {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

    let emulator = start_emulator().await;
    let client = sdk_client(&emulator.endpoint());
    let api = create_api(&client, "live").await;
    let api_id = id(&api);
    client
        .create_channel_namespace()
        .api_id(&api_id)
        .name("default")
        .send()
        .await
        .expect("namespace");
    let key = client
        .create_api_key()
        .api_id(&api_id)
        .send()
        .await
        .expect("key")
        .api_key
        .and_then(|k| k.id)
        .expect("key id");
    let host = api.dns().expect("dns")["HTTP"].clone();

    // The control plane's keys and namespaces authorise the data plane at once.
    let published = reqwest::Client::new()
        .post(format!("http://{host}/event"))
        .header("x-api-key", &key)
        .json(&serde_json::json!({"channel": "/default/room", "events": ["\"hi\""]}))
        .send()
        .await
        .expect("publish");
    assert_eq!(published.status().as_u16(), 200);

    let auth = serde_json::json!({"host": host, "x-api-key": key}).to_string();
    let auth = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, auth);
    let mut request = format!("ws://{host}/event/realtime")
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        format!("aws-appsync-event-ws, header-{auth}")
            .parse()
            .expect("header"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("WebSocket");
    socket
        .send(r#"{"type":"connection_init"}"#.into())
        .await
        .expect("init");
    let ack = socket.next().await.expect("a reply").expect("a message");
    assert!(ack.to_string().contains("connection_ack"), "{ack}");

    client
        .delete_api()
        .api_id(&api_id)
        .send()
        .await
        .expect("DeleteApi");
    // The open WebSocket ends with its API (ka messages aside).
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) => return true,
                Some(Ok(message)) if message.is_close() => return true,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert_eq!(ended, Ok(true), "the WebSocket outlived its API");
    emulator.shutdown().await;
}
