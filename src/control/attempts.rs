//! Reports the SDK's failed request attempts on stderr. Its retries are otherwise silent, so a
//! wrong endpoint or a dead network looked like a hang of several seconds before the error.
//!
//! An attempt that got no answer (refused, dropped, timed out) is a warning: the user may be
//! waiting on it. An attempt the service answered with an error (throttling, a 5xx) is routine
//! and shown with `-v`. Only the operation, the attempt, the HTTP status, the error type and the
//! transport's root cause are printed: never a body, which for key operations holds key values.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::retry::RetryConfig;

use crate::wire::{ERROR_TYPE_HEADER, error_type_name};

/// The interceptor, installed on every SDK client evctl builds.
#[derive(Debug, Default)]
pub struct AttemptNotice;

/// What went wrong with one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No HTTP answer: the transport's root cause.
    NoAnswer(String),
    /// An HTTP answer with an error status, and its `x-amzn-ErrorType` when there is one.
    Status(u16, Option<String>),
}

impl Failure {
    /// The one line printed for attempt `attempt` of `max` of `operation`.
    pub fn line(&self, operation: &str, attempt: u32, max: u32) -> String {
        match self {
            Failure::NoAnswer(cause) => {
                format!("{operation}: attempt {attempt} of {max} got no answer: {cause}")
            }
            Failure::Status(status, error_type) => format!(
                "{operation}: attempt {attempt} of {max} was answered HTTP {status}{}",
                error_type
                    .as_deref()
                    .map(|t| format!(" {t}"))
                    .unwrap_or_default()
            ),
        }
    }
}

/// The innermost cause of `err`: for a transport failure, the operating system's words
/// ("Connection refused (os error 111)") rather than the SDK's wrapping.
pub fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

impl Intercept for AttemptNotice {
    fn name(&self) -> &'static str {
        "AttemptNotice"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // The last attempt's failure is the error the command reports, so it is not repeated;
        // with retries off (creates: evctl re-reads and reports its own retries) that is the
        // only one.
        let max = cfg
            .load::<RetryConfig>()
            .map_or(1, RetryConfig::max_attempts);
        let attempt = cfg.load::<RequestAttempts>().map_or(1, |a| a.attempts());
        if attempt >= max {
            return Ok(());
        }
        let failure = match context.response() {
            Some(response) if response.status().is_success() => return Ok(()),
            Some(response) => Failure::Status(
                response.status().as_u16(),
                response
                    .headers()
                    .get(ERROR_TYPE_HEADER)
                    .and_then(error_type_name),
            ),
            None => match context.output_or_error() {
                Some(Err(err)) => Failure::NoAnswer(root_cause(err)),
                _ => return Ok(()),
            },
        };
        let operation = cfg.load::<Metadata>().map_or("request", Metadata::name);
        let line = failure.line(operation, attempt, max);
        match failure {
            Failure::NoAnswer(_) => tracing::warn!(target: "evctl", "{line}"),
            Failure::Status(..) => tracing::debug!(target: "evctl", "{line}"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_the_operation_the_attempt_and_what_went_wrong() {
        let refused = Failure::NoAnswer("Connection refused (os error 111)".into());
        assert_eq!(
            refused.line("ListApis", 1, 5),
            "ListApis: attempt 1 of 5 got no answer: Connection refused (os error 111)"
        );
        let throttled = Failure::Status(429, Some("LimitExceededException".into()));
        assert_eq!(
            throttled.line("GetApi", 2, 5),
            "GetApi: attempt 2 of 5 was answered HTTP 429 LimitExceededException"
        );
        assert_eq!(
            Failure::Status(502, None).line("GetApi", 3, 5),
            "GetApi: attempt 3 of 5 was answered HTTP 502"
        );
    }

    #[test]
    fn the_root_cause_is_the_innermost_error() {
        #[derive(Debug)]
        struct Wrapper(std::io::Error);
        impl std::fmt::Display for Wrapper {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("dispatch failure")
            }
        }
        impl std::error::Error for Wrapper {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let err = Wrapper(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        ));
        assert_eq!(root_cause(&err), "Connection refused (os error 111)");
    }
}
