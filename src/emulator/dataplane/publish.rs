//! Publishing, shared by `POST /event` and the WebSocket `publish` message: channel and
//! namespace checks, authorization, the namespace's `onPublish` handler, the per-event limits,
//! fault injection, then fan-out.
//!
//! Order of checks: the channel's syntax, its namespace, authorization (the namespace's publish
//! modes, else the API defaults), then the batch (1 to 5 events, each a string of valid JSON),
//! then `onPublish` (see [`super::handlers`]), which decides what is broadcast. An event over
//! 240 KB after the handler's transform does not fail the request: it is reported in `failed`
//! with code `EventTooLargeException`, as AWS does, and the others are delivered. Events the
//! handler filtered out count as successful (the publish succeeded; nothing was broadcast).

use std::net::IpAddr;

use super::auth::{self, Operation};
use super::broker::SharedEvent;
use super::channel::Channel;
use super::handlers::{self, Call, Caller};
use super::{DataPlane, DataPlaneError};
use crate::wire::{FailedEvent, MAX_EVENT_BYTES, MAX_EVENTS_PER_PUBLISH, PublishedEvent};

/// What happened to each event of an accepted publish.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub successful: Vec<PublishedEvent>,
    pub failed: Vec<FailedEvent>,
}

/// One publish request, whatever carried it.
#[derive(Debug)]
pub struct Publish<'a> {
    pub api_id: &'a str,
    pub channel: &'a str,
    pub events: &'a [String],
    /// HTTP headers or the message's authorization object.
    pub headers: &'a [(&'a str, &'a str)],
    /// What an AWS_IAM signature must cover (the HTTP body, or the virtual publish body).
    pub signed_body: &'a [u8],
    /// The client's address (`ctx.identity.sourceIp`).
    pub source_ip: Option<IpAddr>,
}

/// Validates, authorizes and delivers a publish.
pub async fn publish(dp: &DataPlane, request: Publish<'_>) -> Result<Outcome, DataPlaneError> {
    let api = super::api(dp, request.api_id)?;
    let channel =
        Channel::parse(request.channel).map_err(|e| DataPlaneError::bad_request(e.to_string()))?;
    let namespace = super::namespace(dp, request.api_id, channel.namespace())?;
    let allowed = if namespace.publish_modes.is_empty() {
        &api.default_publish_modes
    } else {
        &namespace.publish_modes
    };
    let path = channel.path();
    let identity = auth::authorize(
        dp,
        &api,
        allowed,
        &auth::Request {
            api_id: request.api_id,
            operation: Operation::Publish {
                channel: &path,
                namespace: channel.namespace(),
            },
            headers: request.headers,
            signed_body: request.signed_body,
        },
    )
    .await?;
    check_batch(request.events)?;

    let identifiers: Vec<String> = request
        .events
        .iter()
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    let decision = if handlers::involved(&namespace, handlers::Operation::Publish) {
        let settings = dp.settings();
        let call = Call {
            namespace_name: channel.namespace(),
            namespace: &namespace,
            channel: &path,
            caller: Caller {
                identity: &identity,
                account_id: &settings.account_id,
                access_key_id: &settings.credentials.access_key_id,
                source_ip: request.source_ip,
            },
            headers: request.headers,
            timeout: settings.handler_timeout,
        };
        // Boxed: the handler's future is large, and inline it would grow every WebSocket
        // connection's task (which awaits this publish), idle or not.
        Box::pin(
            dp.handlers()
                .on_publish(&call, &identifiers, request.events),
        )
        .await?
    } else {
        None
    };

    let mut failed = vec![false; request.events.len()];
    let mut outcome = Outcome::default();
    let broadcast: Vec<(usize, &str)> = match &decision {
        None => request
            .events
            .iter()
            .map(String::as_str)
            .enumerate()
            .collect(),
        Some(decision) => {
            for (index, message) in &decision.failed {
                if !std::mem::replace(&mut failed[*index], true) {
                    outcome.failed.push(FailedEvent {
                        identifier: identifiers[*index].clone(),
                        index: *index,
                        code: Some(handlers::REJECTED_EVENT_CODE.into()),
                        message: Some(message.clone()),
                    });
                }
            }
            decision
                .broadcast
                .iter()
                .map(|(index, text)| (*index, text.as_str()))
                .collect()
        }
    };
    let mut deliver = Vec::with_capacity(broadcast.len());
    for (index, event) in broadcast {
        if failed[index] {
            continue;
        }
        if event.len() > MAX_EVENT_BYTES {
            failed[index] = true;
            outcome.failed.push(FailedEvent {
                identifier: identifiers[index].clone(),
                index,
                code: Some("EventTooLargeException".into()),
                message: Some("Transformed event is larger than 240KB".into()),
            });
            continue;
        }
        // A dropped event is acknowledged like any other: that is the fault being simulated.
        let dropped = namespace.drops_events() | dp.drop_next_event();
        if dropped {
            tracing::debug!(channel = %channel, "fault injection: dropping event {index}");
        } else {
            deliver.push(SharedEvent::new(event));
        }
    }
    outcome.failed.sort_by_key(|f| f.index);
    outcome.successful = identifiers
        .into_iter()
        .enumerate()
        .filter(|(index, _)| !failed[*index])
        .map(|(index, identifier)| PublishedEvent { identifier, index })
        .collect();
    dp.broker(request.api_id).publish(&channel, &deliver);
    Ok(outcome)
}

fn check_batch(events: &[String]) -> Result<(), DataPlaneError> {
    if events.is_empty() || events.len() > MAX_EVENTS_PER_PUBLISH {
        return Err(DataPlaneError::bad_request(format!(
            "A publish carries 1 to {MAX_EVENTS_PER_PUBLISH} events, got {}.",
            events.len()
        )));
    }
    for (index, event) in events.iter().enumerate() {
        if serde_json::from_str::<serde::de::IgnoredAny>(event).is_err() {
            return Err(DataPlaneError::bad_request(format!(
                "Event {index} is not a string of valid JSON (events are JSON text, \
                 e.g. \"{{\\\"a\\\":1}}\" or \"\\\"hello\\\"\")."
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::broker::outbox;
    use super::super::channel::Pattern;
    use super::super::testing::directory;
    use super::super::{ErrorKind, NamespaceInfo, Settings};
    use super::*;

    fn request<'a>(channel: &'a str, events: &'a [String]) -> Publish<'a> {
        Publish {
            api_id: "api1",
            channel,
            events,
            headers: &[("x-api-key", "da2-good")],
            signed_body: b"",
            source_ip: None,
        }
    }

    #[tokio::test]
    async fn events_are_validated_delivered_and_reported_by_index() {
        let dp = DataPlane::new(directory(), Settings::default());
        let (out, mut inbox) = outbox(16);
        dp.broker("api1").subscribe(
            &Pattern::parse("default/*").expect("valid"),
            1,
            "s".into(),
            out,
        );
        let big = format!("\"{}\"", "x".repeat(MAX_EVENT_BYTES));
        let events = vec!["1".to_string(), big, "{\"b\":2}".to_string()];
        let outcome = publish(&dp, request("/default/a", &events))
            .await
            .expect("accepted");
        assert_eq!(
            outcome
                .successful
                .iter()
                .map(|e| e.index)
                .collect::<Vec<_>>(),
            [0, 2]
        );
        assert_eq!(outcome.failed.len(), 1);
        assert_eq!(outcome.failed[0].index, 1);
        assert_eq!(
            outcome.failed[0].code.as_deref(),
            Some("EventTooLargeException")
        );
        let delivered: Vec<String> = std::iter::from_fn(|| inbox.try_recv())
            .map(|m| m.into_frame())
            .collect();
        assert_eq!(
            delivered,
            [
                r#"{"type":"data","id":"s","event":"1"}"#,
                r#"{"type":"data","id":"s","event":"{\"b\":2}"}"#
            ]
        );
    }

    #[tokio::test]
    async fn bad_publishes_get_the_matching_error() {
        let dp = DataPlane::new(directory(), Settings::default());
        let one = vec!["1".to_string()];
        let six = vec!["1".to_string(); 6];
        let not_json = vec!["{oops".to_string()];
        let cases: Vec<(Publish<'_>, ErrorKind)> = vec![
            (request("/default/*", &one), ErrorKind::BadRequest),
            (request("/nope/a", &one), ErrorKind::BadRequest),
            (request("/default/a", &six), ErrorKind::BadRequest),
            (request("/default/a", &[]), ErrorKind::BadRequest),
            (request("/default/a", &not_json), ErrorKind::BadRequest),
            (
                Publish {
                    headers: &[("x-api-key", "da2-old")],
                    ..request("/default/a", &one)
                },
                ErrorKind::Unauthorized,
            ),
            (
                Publish {
                    api_id: "gone",
                    ..request("/default/a", &one)
                },
                ErrorKind::NotFound,
            ),
        ];
        for (req, kind) in cases {
            let what = format!("{req:?}");
            let err = publish(&dp, req).await.expect_err("refused");
            assert_eq!(err.kind, kind, "{what}: {err}");
        }
    }

    #[tokio::test]
    async fn a_namespace_tagged_to_drop_acknowledges_but_never_delivers() {
        let dir = directory();
        let mut dropping = NamespaceInfo::default();
        dropping.tags.insert(
            super::super::FAULT_TAG_KEY.into(),
            super::super::FAULT_DROP_EVENTS.into(),
        );
        dir.namespaces
            .lock()
            .expect("lock")
            .insert(("api1".into(), "lossy".into()), dropping);
        let dp = DataPlane::new(dir, Settings::default());
        let (out, mut inbox) = outbox(16);
        dp.broker("api1").subscribe(
            &Pattern::parse("lossy/a").expect("valid"),
            1,
            "s".into(),
            out,
        );
        let events = vec!["1".to_string()];
        let outcome = publish(&dp, request("lossy/a", &events)).await.expect("ok");
        assert_eq!(outcome.successful.len(), 1);
        assert!(inbox.try_recv().is_none());
    }
}
