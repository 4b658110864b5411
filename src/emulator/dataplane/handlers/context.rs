//! The `ctx` argument of a handler, as AppSync documents it (context reference): `identity`
//! per auth mode, `request.headers` and `domainName`, `info.channel`, `info.channelNamespace`,
//! `info.operation`, `stash`, and `events` for a publish. Pure: built from values the caller
//! has, as JSON text for the engine.

use std::net::IpAddr;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::super::auth::Identity;
use super::engine::Operation;
use crate::model::AuthType;

/// Who made the request, as the handler sees it.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub identity: &'a Identity,
    /// The emulator's account id (`--account-id`), for AWS_IAM identities.
    pub account_id: &'a str,
    /// The access key that signed an AWS_IAM request (the emulator's `--credentials`).
    pub access_key_id: &'a str,
    pub source_ip: Option<IpAddr>,
}

/// One published event as the handler receives it.
#[derive(Debug, Serialize)]
pub struct IncomingEvent<'a> {
    pub id: &'a str,
    /// The event's JSON text, embedded as it was published (key order kept).
    pub payload: &'a RawValue,
}

/// Everything `ctx` is built from.
#[derive(Debug)]
pub struct Invocation<'a> {
    pub operation: Operation,
    /// The channel as `/ns/a/b` (a subscription's may end in `/*`).
    pub channel: &'a str,
    pub namespace: &'a str,
    pub caller: Caller<'a>,
    /// HTTP headers, or a WebSocket message's authorization object.
    pub headers: &'a [(&'a str, &'a str)],
    /// The published events; `None` for a subscribe.
    pub events: Option<&'a [IncomingEvent<'a>]>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Context<'a> {
    identity: Value,
    request: Request,
    info: Info<'a>,
    stash: Map<String, Value>,
    /// The target channel's path, as the handlers page of the guide shows it.
    channel: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    events: Option<&'a [IncomingEvent<'a>]>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    headers: Map<String, Value>,
    /// The custom domain used, `null` without one (the emulator has none).
    domain_name: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Info<'a> {
    channel: ChannelInfo<'a>,
    channel_namespace: NamespaceInfo<'a>,
    operation: &'static str,
}

#[derive(Serialize)]
struct ChannelInfo<'a> {
    path: &'a str,
    segments: Vec<&'a str>,
}

#[derive(Serialize)]
struct NamespaceInfo<'a> {
    name: &'a str,
}

/// `ctx` as JSON text.
pub fn context(invocation: &Invocation<'_>) -> String {
    let context = Context {
        identity: identity(&invocation.caller),
        request: Request {
            headers: headers(invocation.headers),
            domain_name: None,
        },
        info: Info {
            channel: ChannelInfo {
                path: invocation.channel,
                segments: invocation
                    .channel
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .collect(),
            },
            channel_namespace: NamespaceInfo {
                name: invocation.namespace,
            },
            operation: match invocation.operation {
                Operation::Publish => "PUBLISH",
                Operation::Subscribe => "SUBSCRIBE",
            },
        },
        stash: Map::new(),
        channel: invocation.channel,
        events: invocation.events,
    };
    serde_json::to_string(&context).unwrap_or_else(|_| "{}".into())
}

/// `ctx.identity`: `null` for API_KEY; `{handlerContext}` for AWS_LAMBDA; AppSync's IAM,
/// Cognito and OIDC identity shapes from the verified request.
pub fn identity(caller: &Caller<'_>) -> Value {
    let source_ip: Vec<String> = caller.source_ip.iter().map(|ip| ip.to_string()).collect();
    let identity = caller.identity;
    let claim = |name: &str| {
        identity
            .claims
            .as_ref()
            .and_then(|c| c.get(name))
            .cloned()
            .unwrap_or(Value::Null)
    };
    match identity.mode {
        AuthType::ApiKey => Value::Null,
        AuthType::AwsLambda => json!({
            "handlerContext": identity.handler_context.clone().unwrap_or_else(|| json!({})),
        }),
        AuthType::AwsIam => json!({
            "accountId": caller.account_id,
            "cognitoIdentityPoolId": null,
            "cognitoIdentityId": null,
            "cognitoIdentityAuthType": null,
            "cognitoIdentityAuthProvider": null,
            "sourceIp": source_ip,
            "username": caller.access_key_id,
            "userArn": format!("arn:aws:iam::{}:user/{}", caller.account_id, caller.access_key_id),
        }),
        AuthType::AmazonCognitoUserPools => {
            let username = match claim("cognito:username") {
                Value::Null => claim("username"),
                name => name,
            };
            json!({
                "sub": claim("sub"),
                "issuer": claim("iss"),
                "username": username,
                "claims": identity.claims.clone().unwrap_or(Value::Null),
                "sourceIp": source_ip,
                "defaultAuthStrategy": "ALLOW",
                "groups": claim("cognito:groups"),
            })
        }
        AuthType::OpenidConnect => json!({
            "sub": claim("sub"),
            "issuer": claim("iss"),
            "claims": identity.claims.clone().unwrap_or(Value::Null),
        }),
    }
}

/// `ctx.request.headers`: names in lower case, `cookie` left out, a repeated header as an
/// array of its values.
pub fn headers(pairs: &[(&str, &str)]) -> Map<String, Value> {
    let mut map = Map::new();
    for (name, value) in pairs {
        let name = name.to_ascii_lowercase();
        if name == "cookie" {
            continue;
        }
        let value = Value::String((*value).to_string());
        match map.get_mut(&name) {
            None => {
                map.insert(name, value);
            }
            Some(Value::Array(values)) => values.push(value),
            Some(first) => {
                let first = first.take();
                map.insert(name, Value::Array(vec![first, value]));
            }
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(identity: &Identity) -> Caller<'_> {
        Caller {
            identity,
            account_id: "123456789012",
            access_key_id: "AKIDTEST",
            source_ip: Some(IpAddr::from([127, 0, 0, 1])),
        }
    }

    fn identity(mode: AuthType) -> Identity {
        Identity {
            mode,
            handler_context: None,
            claims: None,
        }
    }

    #[test]
    fn a_publish_context_has_the_documented_fields() {
        let api_key = identity(AuthType::ApiKey);
        let payload = RawValue::from_string(r#"{"b":1,"a":[2]}"#.into()).expect("json");
        let events = [IncomingEvent {
            id: "e1",
            payload: &payload,
        }];
        let text = context(&Invocation {
            operation: Operation::Publish,
            channel: "/rooms/lobby/a",
            namespace: "rooms",
            caller: caller(&api_key),
            headers: &[
                ("X-Api-Key", "da2-k"),
                ("Cookie", "s=1"),
                ("Accept", "a"),
                ("accept", "b"),
            ],
            events: Some(&events),
        });
        // Payloads keep their key order.
        assert!(text.contains(r#""payload":{"b":1,"a":[2]}"#), "{text}");
        let ctx: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(
            ctx,
            json!({
                "identity": null,
                "request": {"headers": {"x-api-key": "da2-k", "accept": ["a", "b"]}, "domainName": null},
                "info": {
                    "channel": {"path": "/rooms/lobby/a", "segments": ["rooms", "lobby", "a"]},
                    "channelNamespace": {"name": "rooms"},
                    "operation": "PUBLISH",
                },
                "stash": {},
                "channel": "/rooms/lobby/a",
                "events": [{"id": "e1", "payload": {"a": [2], "b": 1}}],
            })
        );
    }

    #[test]
    fn a_subscribe_context_has_no_events_and_keeps_the_wildcard() {
        let api_key = identity(AuthType::ApiKey);
        let ctx: Value = serde_json::from_str(&context(&Invocation {
            operation: Operation::Subscribe,
            channel: "/rooms/*",
            namespace: "rooms",
            caller: caller(&api_key),
            headers: &[],
            events: None,
        }))
        .expect("JSON");
        assert_eq!(ctx["info"]["operation"], "SUBSCRIBE");
        assert_eq!(ctx["info"]["channel"]["segments"], json!(["rooms", "*"]));
        assert!(ctx.get("events").is_none());
    }

    #[test]
    fn identities_follow_the_auth_mode() {
        let mut lambda = identity(AuthType::AwsLambda);
        assert_eq!(
            super::identity(&caller(&lambda)),
            json!({"handlerContext": {}})
        );
        lambda.handler_context = Some(json!({"user": "u1"}));
        assert_eq!(
            super::identity(&caller(&lambda)),
            json!({"handlerContext": {"user": "u1"}})
        );

        let iam = super::identity(&caller(&identity(AuthType::AwsIam)));
        assert_eq!(iam["accountId"], "123456789012");
        assert_eq!(iam["username"], "AKIDTEST");
        assert_eq!(iam["userArn"], "arn:aws:iam::123456789012:user/AKIDTEST");
        assert_eq!(iam["sourceIp"], json!(["127.0.0.1"]));

        let claims = json!({"sub": "s-1", "iss": "https://issuer", "cognito:username": "ann",
            "cognito:groups": ["admins"]});
        let mut cognito = identity(AuthType::AmazonCognitoUserPools);
        cognito.claims = Some(claims.clone());
        assert_eq!(
            super::identity(&caller(&cognito)),
            json!({"sub": "s-1", "issuer": "https://issuer", "username": "ann", "claims": claims,
                "sourceIp": ["127.0.0.1"], "defaultAuthStrategy": "ALLOW", "groups": ["admins"]})
        );
        let mut oidc = identity(AuthType::OpenidConnect);
        oidc.claims = Some(json!({"sub": "s-2", "iss": "https://oidc"}));
        assert_eq!(
            super::identity(&caller(&oidc)),
            json!({"sub": "s-2", "issuer": "https://oidc", "claims": {"sub": "s-2", "iss": "https://oidc"}})
        );
    }
}
