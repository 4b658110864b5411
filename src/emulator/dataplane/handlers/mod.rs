//! Channel-namespace handlers (`codeHandlers`, APPSYNC_JS): `onPublish` and `onSubscribe`
//! run as AppSync runs them, after the request passed auth.
//!
//! This module owns AppSync's contract; [`engine`] runs the JavaScript and [`context`] builds
//! `ctx`. What a handler's outcome means here:
//! - `onPublish` returns the events to broadcast: an array of `{id, payload}` (ids from
//!   `ctx.events`; another id fails the request), `null` entries are skipped, an entry with an
//!   `error` is not broadcast and its event is reported in `failed` (code
//!   `BadRequestException`, the error as `message`). `[]`, `null` and `undefined` broadcast
//!   nothing; a namespace without `onPublish` broadcasts what was published.
//! - `onSubscribe` allows the subscription by returning.
//! - `util.error(message, type)` refuses the request: HTTP 403 (errorType `type`, else
//!   `ForbiddenException`), `publish_error`/`subscribe_error` on the socket;
//!   `util.unauthorized()` is 401 `UnauthorizedException` (errorType `Unauthorized` on a
//!   `subscribe_error`, as AppSync documents it).
//! - An exception, a bad return value or a call past the time limit is HTTP 500 `HandlerError`
//!   (`publish_error`/`subscribe_error` on the socket) naming the handler and the cause.
//! - Integrations: a CODE handler with a data source runs `request`, then `response` with
//!   `ctx.result = null` (the emulator has no data sources); a DIRECT Lambda integration with
//!   invokeType EVENT is not waited for by AppSync, so events pass as published; with
//!   REQUEST_RESPONSE the emulator cannot stand in for the function and refuses the request,
//!   naming the integration.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::{DataPlaneError, ErrorKind, NOT_AUTHORIZED, NamespaceInfo};
use crate::model::{HandlerBehavior, HandlerConfig, InvokeType};

pub mod bench;
pub mod context;
pub mod engine;

pub use context::{Caller, IncomingEvent};
pub use engine::Operation;
use engine::{Failure, Job, Pool, Verdict};

/// How long a handler may run by default (AppSync allows 30 s; a local handler without data
/// sources that takes seconds is stuck, and the developer should hear so quickly).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest `--handler-timeout`: AppSync's own limit.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30);
/// Worker threads running handlers.
const WORKERS: usize = 4;
/// The `code` of a `failed` entry for an event that the handler returned with an `error`.
pub const REJECTED_EVENT_CODE: &str = "BadRequestException";

/// The handler runtime of a data plane; its threads start on first use.
#[derive(Debug, Default)]
pub struct Handlers {
    pool: OnceLock<Result<Pool, String>>,
}

/// A publish or subscribe that passed auth.
#[derive(Debug)]
pub struct Call<'a> {
    pub namespace_name: &'a str,
    pub namespace: &'a NamespaceInfo,
    /// `/ns/a/b`; a subscription's may end in `/*`.
    pub channel: &'a str,
    pub caller: Caller<'a>,
    /// HTTP headers, or the WebSocket message's authorization object.
    pub headers: &'a [(&'a str, &'a str)],
    pub timeout: Duration,
}

/// What `onPublish` decided, by index of the published events.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Events to broadcast, in the handler's order: (index, JSON text).
    pub broadcast: Vec<(usize, String)>,
    /// Events the handler marked with an `error`: (index, message).
    pub failed: Vec<(usize, String)>,
}

/// What a namespace does for an operation.
enum Plan<'a> {
    /// Nothing runs: AppSync's default applies.
    Default,
    Run {
        code: &'a Arc<str>,
        data_source: Option<&'a str>,
    },
    /// A DIRECT Lambda integration AppSync would wait for.
    Direct { data_source: &'a str },
}

/// Whether `operation` on the namespace involves a handler or an integration at all; when not,
/// callers skip everything here (the fast path of a namespace without handlers).
pub fn involved(namespace: &NamespaceInfo, operation: Operation) -> bool {
    namespace.code.is_some() || config(namespace, operation).is_some()
}

fn config(namespace: &NamespaceInfo, operation: Operation) -> Option<&HandlerConfig> {
    match operation {
        Operation::Publish => namespace.handler_configs.on_publish.as_ref(),
        Operation::Subscribe => namespace.handler_configs.on_subscribe.as_ref(),
    }
}

fn plan(namespace: &NamespaceInfo, operation: Operation) -> Plan<'_> {
    let code = namespace.code.as_ref();
    match config(namespace, operation) {
        Some(c) if c.behavior == HandlerBehavior::Direct => {
            if c.integration.invoke_type == Some(InvokeType::Event) {
                Plan::Default
            } else {
                Plan::Direct {
                    data_source: &c.integration.data_source_name,
                }
            }
        }
        Some(c) => code.map_or(Plan::Default, |code| Plan::Run {
            code,
            data_source: Some(&c.integration.data_source_name),
        }),
        None => code.map_or(Plan::Default, |code| Plan::Run {
            code,
            data_source: None,
        }),
    }
}

impl Handlers {
    fn pool(&self) -> Result<&Pool, Failure> {
        self.pool
            .get_or_init(|| {
                Pool::start(WORKERS).map_err(|e| format!("could not start handler threads: {e}"))
            })
            .as_ref()
            .map_err(|e| Failure::Crashed(e.clone()))
    }

    /// Runs `onPublish` over the published `events` (JSON texts, already validated) whose
    /// identifiers are `ids`. `None`: there is no handler, broadcast what was published.
    pub async fn on_publish(
        &self,
        call: &Call<'_>,
        ids: &[String],
        events: &[String],
    ) -> Result<Option<Decision>, DataPlaneError> {
        let operation = Operation::Publish;
        let Some(Target { code, data_source }) = target(call, operation)? else {
            return Ok(None);
        };
        let payloads = events
            .iter()
            .map(|e| RawValue::from_string(e.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| DataPlaneError::bad_request(format!("An event is not JSON: {e}")))?;
        let incoming: Vec<IncomingEvent<'_>> = ids
            .iter()
            .zip(&payloads)
            .map(|(id, payload)| IncomingEvent { id, payload })
            .collect();
        let context = invocation(call, operation, Some(&incoming));
        match self.run(call, operation, code, context).await {
            Ok(Verdict::Absent) => Ok(None),
            Ok(Verdict::Returned(returned)) => {
                if returned.is_none() {
                    tracing::warn!(
                        target: "evctl::handler",
                        "namespace {}: onPublish returned undefined, so no event is broadcast \
                         (return ctx.events to forward them)",
                        call.namespace_name
                    );
                }
                decide(ids, returned.as_deref())
                    .map(Some)
                    .map_err(|reason| failed(call, operation, reason, data_source))
            }
            Err(failure) => Err(refused(call, operation, failure, data_source)),
        }
    }

    /// Runs `onSubscribe`: `Ok` allows the subscription.
    pub async fn on_subscribe(&self, call: &Call<'_>) -> Result<(), DataPlaneError> {
        let operation = Operation::Subscribe;
        let Some(Target { code, data_source }) = target(call, operation)? else {
            return Ok(());
        };
        let context = invocation(call, operation, None);
        match self.run(call, operation, code, context).await {
            Ok(_) => Ok(()),
            Err(failure) => Err(refused(call, operation, failure, data_source)),
        }
    }

    async fn run(
        &self,
        call: &Call<'_>,
        operation: Operation,
        code: &Arc<str>,
        context: String,
    ) -> Result<Verdict, Failure> {
        self.pool()?
            .run(Job {
                code: code.clone(),
                operation,
                context,
                label: format!(
                    "namespace {} {}",
                    call.namespace_name,
                    operation.export_name()
                ),
                timeout: call.timeout,
            })
            .await
    }
}

/// The code to run for `operation` and its data source; `None` when AppSync's default applies.
fn target<'a>(call: &Call<'a>, operation: Operation) -> Result<Option<Target<'a>>, DataPlaneError> {
    match plan(call.namespace, operation) {
        Plan::Default => Ok(None),
        Plan::Direct { data_source } => Err(direct(call, operation, data_source)),
        Plan::Run { code, data_source } => Ok(Some(Target { code, data_source })),
    }
}

/// Handler code to run, and the data source its `request`/`response` stand for.
struct Target<'a> {
    code: &'a Arc<str>,
    data_source: Option<&'a str>,
}

/// `ctx` for `call`, as JSON text.
fn invocation(
    call: &Call<'_>,
    operation: Operation,
    events: Option<&[IncomingEvent<'_>]>,
) -> String {
    context::context(&context::Invocation {
        operation,
        channel: call.channel,
        namespace: call.namespace_name,
        caller: call.caller,
        headers: call.headers,
        events,
    })
}

/// An entry of the array `onPublish` returns.
#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default, borrow)]
    payload: Option<&'a RawValue>,
    #[serde(default)]
    error: Option<Value>,
}

/// Maps what `onPublish` returned (JSON text; `None` for `undefined`) onto the published
/// events' `ids`. `Err` says why the value is not a valid answer.
pub fn decide(ids: &[String], returned: Option<&str>) -> Result<Decision, String> {
    let mut decision = Decision::default();
    let Some(text) = returned else {
        return Ok(decision);
    };
    let items: Option<Vec<&RawValue>> = serde_json::from_str(text).map_err(|_| {
        format!(
            "onPublish must return an array of events (or null), not {}",
            preview(text)
        )
    })?;
    for (n, item) in items.unwrap_or_default().into_iter().enumerate() {
        if item.get() == "null" {
            continue;
        }
        let entry: Entry<'_> = serde_json::from_str(item.get()).map_err(|_| {
            format!(
                "element {n} of the array onPublish returned is not an {{id, payload}} object: {}",
                preview(item.get())
            )
        })?;
        let Some(Value::String(id)) = entry.id else {
            return Err(format!(
                "element {n} of the array onPublish returned has no string id (use the ids of \
                 ctx.events): {}",
                preview(item.get())
            ));
        };
        let Some(index) = ids.iter().position(|known| *known == id) else {
            return Err(format!(
                "onPublish returned an event with id '{}', which is not the id of a published \
                 event (use the ids of ctx.events)",
                preview(&id)
            ));
        };
        match entry.error {
            None | Some(Value::Null) => decision.broadcast.push((
                index,
                entry.payload.map_or("null", RawValue::get).to_string(),
            )),
            Some(Value::String(message)) => decision.failed.push((index, message)),
            Some(other) => decision.failed.push((index, other.to_string())),
        }
    }
    Ok(decision)
}

fn preview(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// The error for a handler that did not return normally.
fn refused(
    call: &Call<'_>,
    operation: Operation,
    failure: Failure,
    data_source: Option<&str>,
) -> DataPlaneError {
    match failure {
        Failure::Error {
            message,
            error_type,
        } => {
            let error = DataPlaneError::new(ErrorKind::Forbidden, message);
            match error_type {
                Some(t) if !t.is_empty() => error.with_type(t),
                _ => error,
            }
        }
        Failure::Unauthorized => {
            let error = DataPlaneError::unauthorized(NOT_AUTHORIZED);
            match operation {
                Operation::Publish => error,
                Operation::Subscribe => error.with_type("Unauthorized"),
            }
        }
        Failure::Crashed(reason) => failed(call, operation, reason, data_source),
        Failure::TimedOut(limit) => failed(
            call,
            operation,
            format!(
                "it did not finish within {} (the emulator's --handler-timeout; AppSync allows \
                 30s)",
                humantime::format_duration(limit)
            ),
            data_source,
        ),
    }
}

/// A `HandlerError` naming the handler and why it failed.
fn failed(
    call: &Call<'_>,
    operation: Operation,
    reason: String,
    data_source: Option<&str>,
) -> DataPlaneError {
    let mut message = format!(
        "The {} handler of channel namespace '{}' failed: {reason}",
        operation.export_name(),
        call.namespace_name
    );
    if let Some(source) = data_source {
        message.push_str(&format!(
            " (the emulator does not invoke the data source '{source}': the response function \
             runs with ctx.result = null)"
        ));
    }
    tracing::warn!(target: "evctl::handler", "{message}");
    DataPlaneError::new(ErrorKind::HandlerFailed, message)
}

/// The refusal of a request whose handler is a DIRECT Lambda integration.
fn direct(call: &Call<'_>, operation: Operation, data_source: &str) -> DataPlaneError {
    let message = format!(
        "The {} handler of channel namespace '{}' is a DIRECT Lambda integration (data source \
         '{data_source}', invokeType REQUEST_RESPONSE), which the emulator cannot invoke. \
         Locally, use behavior CODE with codeHandlers, or invokeType EVENT (not waited for).",
        operation.export_name(),
        call.namespace_name
    );
    tracing::warn!(target: "evctl::handler", "{message}");
    DataPlaneError::new(ErrorKind::HandlerFailed, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<String> {
        vec!["a".into(), "b".into(), "c".into()]
    }

    #[test]
    fn returned_events_are_broadcast_in_the_handlers_order_with_their_payload_text() {
        let decision = decide(
            &ids(),
            Some(
                r#"[{"id":"c","payload":{"z":1,"a":2}},null,{"id":"a","payload":"hi"},{"id":"b"}]"#,
            ),
        )
        .expect("valid");
        assert_eq!(
            decision.broadcast,
            [
                (2, r#"{"z":1,"a":2}"#.to_string()),
                (0, r#""hi""#.to_string()),
                (1, "null".to_string())
            ]
        );
        assert!(decision.failed.is_empty());
    }

    #[test]
    fn empty_null_and_undefined_broadcast_nothing() {
        for returned in [Some("[]"), Some("null"), None] {
            assert_eq!(
                decide(&ids(), returned),
                Ok(Decision::default()),
                "{returned:?}"
            );
        }
    }

    #[test]
    fn entries_with_an_error_are_failed_not_broadcast() {
        let decision = decide(
            &ids(),
            Some(r#"[{"id":"a","error":"too rude"},{"id":"b","payload":1,"error":null},{"id":"c","error":{"why":1}}]"#),
        )
        .expect("valid");
        assert_eq!(decision.broadcast, [(1, "1".to_string())]);
        assert_eq!(
            decision.failed,
            [(0, "too rude".to_string()), (2, r#"{"why":1}"#.to_string())]
        );
    }

    #[test]
    fn bad_answers_say_what_is_wrong() {
        for (returned, expected) in [
            (r#"{"id":"a"}"#, "must return an array"),
            (r#"[42]"#, "element 0 of the array"),
            (r#"[{"payload":1}]"#, "has no string id"),
            (
                r#"[{"id":"zzz","payload":1}]"#,
                "id 'zzz', which is not the id",
            ),
        ] {
            let error = decide(&ids(), Some(returned)).expect_err(returned);
            assert!(error.contains(expected), "{returned}: {error}");
        }
    }

    #[test]
    fn the_plan_follows_code_and_handler_configs() {
        use crate::model::{HandlerConfigs, Integration};
        let with = |behavior, invoke_type| {
            let mut ns = NamespaceInfo {
                code: Some(Arc::from("export const onPublish = (c) => c.events;")),
                ..NamespaceInfo::default()
            };
            ns.handler_configs = HandlerConfigs {
                on_publish: Some(HandlerConfig {
                    behavior,
                    integration: Integration {
                        data_source_name: "fn".into(),
                        invoke_type,
                    },
                }),
                on_subscribe: None,
            };
            ns
        };
        let plain = NamespaceInfo::default();
        assert!(!involved(&plain, Operation::Publish));
        assert!(matches!(plan(&plain, Operation::Publish), Plan::Default));
        let direct = with(HandlerBehavior::Direct, Some(InvokeType::RequestResponse));
        assert!(matches!(
            plan(&direct, Operation::Publish),
            Plan::Direct { data_source: "fn" }
        ));
        let fire_and_forget = with(HandlerBehavior::Direct, Some(InvokeType::Event));
        assert!(matches!(
            plan(&fire_and_forget, Operation::Publish),
            Plan::Default
        ));
        let code = with(HandlerBehavior::Code, None);
        assert!(matches!(
            plan(&code, Operation::Publish),
            Plan::Run {
                data_source: Some("fn"),
                ..
            }
        ));
        assert!(matches!(
            plan(&code, Operation::Subscribe),
            Plan::Run {
                data_source: None,
                ..
            }
        ));
    }
}
