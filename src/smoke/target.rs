//! From what the spec asks and what the control plane reports to what the smoke test checks:
//! the [`Target`] (endpoints, connection modes, one [`Scope`] per smoke channel with the
//! namespace's effective auth modes) and the spec's API key to use.

use super::auth::Credential;
use super::check::{Scope, ScopeModes, Target};
use super::client::Endpoints;
use crate::model::{AuthModes, DesiredState, NamespaceConfig, ObservedState};

/// The smoke target for the spec's API. `channels` are the spec's smoke channels (one scope
/// each); `tls` picks `https`/`wss` over `http`/`ws`.
pub fn target(
    desired: &DesiredState,
    channels: &[String],
    observed: &ObservedState,
    tls: bool,
) -> anyhow::Result<Target> {
    let name = &desired.api.name;
    let Some(api) = &observed.api else {
        anyhow::bail!("there is no evctl-owned API named {name:?}: run `evctl apply` first");
    };
    let Some(dns) = &api.dns else {
        anyhow::bail!(
            "API {name:?} ({}) reports no data-plane endpoints (dns); is it an Event API?",
            api.id
        );
    };
    let scopes = channels
        .iter()
        .map(|channel| {
            let base = format!("/{}", channel.trim_matches('/'));
            let namespace = base[1..].split('/').next().unwrap_or_default().to_string();
            let observed_ns = namespace_config(observed, &namespace);
            let modes = observed_ns.map(|ns| ScopeModes {
                publish: effective(
                    &ns.publish_auth_modes,
                    &api.config.default_publish_auth_modes,
                ),
                subscribe: effective(
                    &ns.subscribe_auth_modes,
                    &api.config.default_subscribe_auth_modes,
                ),
            });
            // The listing may not report handler code: the spec says what was applied.
            let subscribe_handler = observed_ns
                .into_iter()
                .chain(desired.namespaces.get(&namespace))
                .any(has_subscribe_handler);
            let publish_handler = observed_ns
                .into_iter()
                .chain(desired.namespaces.get(&namespace))
                .any(has_publish_handler);
            Scope {
                namespace,
                base,
                modes,
                subscribe_handler,
                publish_handler,
            }
        })
        .collect();
    Ok(Target {
        api_name: api.config.name.clone(),
        api_id: api.id.clone(),
        endpoints: Endpoints::new(dns, tls),
        connection_modes: api.config.connection_auth_modes.clone(),
        scopes,
    })
}

fn namespace_config<'a>(observed: &'a ObservedState, name: &str) -> Option<&'a NamespaceConfig> {
    observed.namespaces.get(name).map(|ns| &ns.config)
}

/// Whether an onSubscribe handler (code or a data-source integration) decides subscriptions.
fn has_subscribe_handler(ns: &NamespaceConfig) -> bool {
    ns.handler_configs.on_subscribe.is_some()
        || ns
            .code_handlers
            .as_deref()
            .is_some_and(|code| code.contains("onSubscribe"))
}

/// Whether an onPublish handler (code or an integration) decides what is broadcast.
fn has_publish_handler(ns: &NamespaceConfig) -> bool {
    ns.handler_configs.on_publish.is_some()
        || ns
            .code_handlers
            .as_deref()
            .is_some_and(|code| code.contains("onPublish"))
}

/// A namespace's own modes, or the API's defaults when it sets none.
fn effective(own: &AuthModes, default: &AuthModes) -> AuthModes {
    if own.is_empty() {
        default.clone()
    } else {
        own.clone()
    }
}

/// The API key to use: among the keys the spec declares, the one on the API that stays valid
/// longest. `now` is epoch seconds.
pub fn api_key(
    desired: &DesiredState,
    observed: &ObservedState,
    now: i64,
) -> Result<Credential, String> {
    if desired.keys.is_empty() {
        return Err("the spec declares no API keys (apiKeys)".into());
    }
    let spec_keys: Vec<_> = observed
        .keys
        .iter()
        .filter(|k| {
            k.name
                .as_deref()
                .is_some_and(|n| desired.keys.contains_key(n))
        })
        .collect();
    let usable = spec_keys
        .iter()
        .filter(|k| k.expires > now)
        .max_by_key(|k| k.expires);
    match (usable, spec_keys.is_empty()) {
        (Some(key), _) => Ok(Credential::ApiKey {
            name: key.name.clone().unwrap_or_default(),
            key: key.id.clone(),
        }),
        (None, true) => Err(format!(
            "none of the spec's API keys ({}) is on the API: run `evctl apply` first",
            desired.keys.keys().cloned().collect::<Vec<_>>().join(", ")
        )),
        (None, false) => {
            Err("every API key of the spec has expired: run `evctl apply` to renew them".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::{
        ApiConfig, AuthType, Dns, HandlerConfigs, KeyConfig, KeyExpiry, ObservedApi, ObservedKey,
        ObservedNamespace, Secret,
    };

    fn modes(list: &[AuthType]) -> AuthModes {
        list.iter().copied().collect()
    }

    fn config(name: &str) -> ApiConfig {
        ApiConfig {
            name: name.into(),
            owner_contact: None,
            tags: BTreeMap::new(),
            auth_providers: vec![],
            connection_auth_modes: modes(&[AuthType::ApiKey]),
            default_publish_auth_modes: modes(&[AuthType::ApiKey]),
            default_subscribe_auth_modes: modes(&[AuthType::ApiKey, AuthType::AwsIam]),
            log_config: None,
        }
    }

    fn namespace(name: &str, publish: &[AuthType]) -> NamespaceConfig {
        NamespaceConfig {
            name: name.into(),
            publish_auth_modes: modes(publish),
            subscribe_auth_modes: AuthModes::new(),
            code_handlers: None,
            handler_configs: HandlerConfigs::default(),
            tags: BTreeMap::new(),
        }
    }

    fn desired(keys: &[&str]) -> DesiredState {
        DesiredState {
            api: config("demo"),
            namespaces: BTreeMap::new(),
            keys: keys
                .iter()
                .map(|k| {
                    (
                        k.to_string(),
                        KeyConfig {
                            name: k.to_string(),
                            description: None,
                            expiry: KeyExpiry::Validity { seconds: 86400 },
                        },
                    )
                })
                .collect(),
        }
    }

    fn observed(keys: Vec<ObservedKey>) -> ObservedState {
        ObservedState {
            api: Some(ObservedApi {
                id: "abc".into(),
                arn: "arn:aws:appsync:us-east-1:123456789012:apis/abc".into(),
                dns: Some(Dns {
                    http: "127.0.0.1:4600".into(),
                    realtime: "127.0.0.1:4600".into(),
                }),
                created: None,
                owned: true,
                all_tags: BTreeMap::new(),
                config: config("demo"),
            }),
            namespaces: BTreeMap::from([(
                "chat".to_string(),
                ObservedNamespace {
                    arn: "arn:aws:appsync:us-east-1:123456789012:apis/abc/channelNamespace/chat"
                        .into(),
                    config: namespace("chat", &[AuthType::AwsLambda]),
                },
            )]),
            keys,
        }
    }

    fn key(value: &str, name: Option<&str>, expires: i64) -> ObservedKey {
        ObservedKey {
            id: Secret::new(value),
            name: name.map(str::to_string),
            description: None,
            expires,
            deletes: expires + 60,
        }
    }

    #[test]
    fn scopes_take_the_namespace_modes_or_the_api_defaults() {
        let t = target(
            &desired(&[]),
            &["/chat/evctl-smoke".into(), "missing/x/".into()],
            &observed(vec![]),
            false,
        )
        .expect("target");
        assert_eq!(t.endpoints.publish_url, "http://127.0.0.1:4600/event");
        let chat = &t.scopes[0];
        assert_eq!(chat.namespace, "chat");
        assert_eq!(chat.base, "/chat/evctl-smoke");
        let m = chat.modes.as_ref().expect("namespace exists");
        assert_eq!(m.publish, modes(&[AuthType::AwsLambda]));
        assert_eq!(m.subscribe, modes(&[AuthType::ApiKey, AuthType::AwsIam]));
        assert!(!chat.subscribe_handler);
        assert_eq!(t.scopes[1].base, "/missing/x");
        assert!(t.scopes[1].modes.is_none());
    }

    #[test]
    fn a_subscribe_handler_in_the_spec_or_on_the_api_is_noticed() {
        let mut d = desired(&[]);
        let mut chat = namespace("chat", &[]);
        chat.code_handlers = Some("export function onSubscribe(ctx) {}".into());
        d.namespaces.insert("chat".into(), chat);
        let t = target(&d, &["/chat".into()], &observed(vec![]), false).expect("target");
        assert!(t.scopes[0].subscribe_handler);
    }

    #[test]
    fn a_missing_api_says_to_apply_first() {
        let err = target(&desired(&[]), &[], &ObservedState::default(), true).expect_err("no API");
        assert!(err.to_string().contains("evctl apply"), "{err}");
    }

    #[test]
    fn the_longest_valid_spec_key_is_used() {
        let d = desired(&["ci", "app"]);
        let o = observed(vec![
            key("da2-foreign", None, 10_000),
            key("da2-ci", Some("ci"), 5_000),
            key("da2-app", Some("app"), 7_000),
            key("da2-old", Some("app"), 50),
        ]);
        match api_key(&d, &o, 100) {
            Ok(Credential::ApiKey { name, key }) => {
                assert_eq!(name, "app");
                assert_eq!(key.expose(), "da2-app");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            api_key(&d, &o, 8_000)
                .expect_err("all expired")
                .contains("expired")
        );
        assert!(
            api_key(&d, &observed(vec![]), 0)
                .expect_err("not applied")
                .contains("ci")
        );
        assert!(
            api_key(&desired(&[]), &o, 0)
                .expect_err("no keys in spec")
                .contains("declares no API keys")
        );
    }
}
