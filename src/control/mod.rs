//! The control-plane boundary: the [`ControlPlane`] trait, its one implementation on
//! `aws-sdk-appsync` ([`sdk::SdkControlPlane`], the only code that imports the SDK), and the
//! mapping of SDK errors to [`ControlError`] in one place.
//!
//! Everything crossing this boundary is a [`crate::model`] value. Lists are complete (every page
//! read). Errors never carry an API key value: key operations redact the key from any message the
//! service sends back.

use std::future::Future;
use std::time::Duration;

use crate::model::{
    ApiConfig, NamespaceConfig, ObservedApi, ObservedKey, ObservedNamespace, Secret, Tags,
};

mod attempts;
pub mod sdk;

/// What the engine needs from AppSync's control plane. Implemented once on the AWS SDK; the
/// engine's unit tests use an in-memory implementation.
///
/// The methods return `Send` futures so that callers may run them on any executor thread.
pub trait ControlPlane: Sync {
    /// Where the calls go (for plan headers and saved-plan checks).
    fn target(&self) -> Target;

    /// Every Event API in the account and region (all pages).
    fn list_apis(&self) -> impl Future<Output = Result<Vec<ListedApi>, ControlError>> + Send;
    fn get_api(&self, id: &str) -> impl Future<Output = Result<ObservedApi, ControlError>> + Send;
    /// Creates an API with exactly these tags (the caller adds the ownership tag). Not retried
    /// by the transport: a lost response must be handled by re-reading, never by a blind retry.
    fn create_api(
        &self,
        config: &ApiConfig,
        tags: &Tags,
    ) -> impl Future<Output = Result<ObservedApi, ControlError>> + Send;
    /// Sets the API's name, owner contact and event configuration (not its tags).
    fn update_api(
        &self,
        id: &str,
        config: &ApiConfig,
    ) -> impl Future<Output = Result<ObservedApi, ControlError>> + Send;
    fn delete_api(&self, id: &str) -> impl Future<Output = Result<(), ControlError>> + Send;

    /// Adds or overwrites tags on an API or namespace ARN.
    fn tag_resource(
        &self,
        arn: &str,
        tags: &Tags,
    ) -> impl Future<Output = Result<(), ControlError>> + Send;
    fn untag_resource(
        &self,
        arn: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<(), ControlError>> + Send;

    /// Every namespace of an API (all pages). The service may leave `codeHandlers` out of list
    /// results: `code_handlers: None` here means "absent or not reported".
    fn list_namespaces(
        &self,
        api_id: &str,
    ) -> impl Future<Output = Result<Vec<ObservedNamespace>, ControlError>> + Send;
    fn get_namespace(
        &self,
        api_id: &str,
        name: &str,
    ) -> impl Future<Output = Result<ObservedNamespace, ControlError>> + Send;
    /// Not retried by the transport (see [`ControlPlane::create_api`]).
    fn create_namespace(
        &self,
        api_id: &str,
        config: &NamespaceConfig,
    ) -> impl Future<Output = Result<ObservedNamespace, ControlError>> + Send;
    /// Sets auth modes, code and handler configs (not tags, not the name).
    fn update_namespace(
        &self,
        api_id: &str,
        config: &NamespaceConfig,
    ) -> impl Future<Output = Result<ObservedNamespace, ControlError>> + Send;
    fn delete_namespace(
        &self,
        api_id: &str,
        name: &str,
    ) -> impl Future<Output = Result<(), ControlError>> + Send;

    /// Every API key of an API (all pages).
    fn list_keys(
        &self,
        api_id: &str,
    ) -> impl Future<Output = Result<Vec<ObservedKey>, ControlError>> + Send;
    /// Not retried by the transport (see [`ControlPlane::create_api`]).
    fn create_key(
        &self,
        api_id: &str,
        description: &str,
        expires: i64,
    ) -> impl Future<Output = Result<ObservedKey, ControlError>> + Send;
    /// Changes what is `Some`; leaves the rest as it is.
    fn update_key(
        &self,
        api_id: &str,
        key: &Secret,
        description: Option<&str>,
        expires: Option<i64>,
    ) -> impl Future<Output = Result<ObservedKey, ControlError>> + Send;
    fn delete_key(
        &self,
        api_id: &str,
        key: &Secret,
    ) -> impl Future<Output = Result<(), ControlError>> + Send;
}

/// An API from ListApis. `complete` says whether the listing carried the full event
/// configuration (otherwise GetApi is needed to diff it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedApi {
    pub api: ObservedApi,
    pub complete: bool,
}

/// Where control-plane calls go.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Target {
    /// A custom endpoint (e.g. the local emulator); `None` means AWS itself.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub endpoint: Option<String>,
    pub region: String,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.endpoint {
            Some(e) => write!(f, "{e} (region {})", self.region),
            None => write!(f, "AWS region {}", self.region),
        }
    }
}

/// What went wrong in a control-plane call, as far as a caller needs to branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 404 NotFoundException.
    NotFound,
    /// 409 ConflictException or ConcurrentModificationException: retry after a pause.
    Conflict,
    /// 429 LimitExceededException and other throttling.
    Throttled,
    /// 400: the request is invalid (BadRequestException, key validity or quota errors).
    BadRequest,
    /// 401/403: credentials missing, wrong or not allowed.
    Unauthorized,
    /// 5xx from the service.
    Service,
    /// No (complete) answer: connection failure, timeout, dropped response. The request may or
    /// may not have taken effect.
    NoResponse,
    /// Anything else (e.g. a request that could not be built).
    Other,
}

/// A control-plane failure: what kind, which operation, and the service's message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} failed: {}{message}", code.as_deref().map(|c| format!("{c}: ")).unwrap_or_default())]
pub struct ControlError {
    pub kind: ErrorKind,
    /// The AppSync operation, e.g. `CreateChannelNamespace`.
    pub operation: &'static str,
    /// The service's error code, e.g. `ConcurrentModificationException`.
    pub code: Option<String>,
    pub message: String,
}

impl ControlError {
    pub fn new(kind: ErrorKind, operation: &'static str, message: impl Into<String>) -> Self {
        ControlError {
            kind,
            operation,
            code: None,
            message: message.into(),
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }

    /// Worth another attempt after a pause, for an idempotent request.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Conflict | ErrorKind::Throttled | ErrorKind::Service | ErrorKind::NoResponse
        )
    }
}

/// How hard evctl tries: used for the SDK's standard retry mode (throttling, 5xx, dropped
/// connections on idempotent requests) and for evctl's own retries (409 conflicts, creates
/// re-read after a lost answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// Backoff before the first retry; doubles per retry (with jitter) up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(20),
        }
    }
}

/// Environment variable: attempts per control-plane request (default 5).
pub const ENV_MAX_ATTEMPTS: &str = "EVCTL_MAX_ATTEMPTS";
/// Environment variable: backoff before the first retry, e.g. `200ms` (default 1s).
pub const ENV_INITIAL_BACKOFF: &str = "EVCTL_RETRY_INITIAL_BACKOFF";

impl RetryPolicy {
    /// The default policy with the overrides from `EVCTL_MAX_ATTEMPTS` and
    /// `EVCTL_RETRY_INITIAL_BACKOFF` taken from `env` (a lookup, so tests need no process env).
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> anyhow::Result<RetryPolicy> {
        let mut policy = RetryPolicy::default();
        if let Some(v) = env(ENV_MAX_ATTEMPTS) {
            policy.max_attempts = v
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "{ENV_MAX_ATTEMPTS}={v:?}: expected a whole number from 1 to 100"
                    )
                })?;
        }
        if let Some(v) = env(ENV_INITIAL_BACKOFF) {
            policy.initial_backoff = humantime::parse_duration(v.trim()).map_err(|e| {
                anyhow::anyhow!("{ENV_INITIAL_BACKOFF}={v:?}: {e} (e.g. 200ms, 1s)")
            })?;
            policy.max_backoff = policy.max_backoff.max(policy.initial_backoff);
        }
        Ok(policy)
    }

    /// The pause before retry number `retry` (1 for the first retry): exponential with full
    /// jitter, as the AWS SDKs do.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        let ceiling = self
            .initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff);
        ceiling.mul_f64(rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_policy_reads_its_overrides() {
        let env = |k: &str| match k {
            ENV_MAX_ATTEMPTS => Some("9".to_string()),
            ENV_INITIAL_BACKOFF => Some("5ms".to_string()),
            _ => None,
        };
        let p = RetryPolicy::from_env(env).expect("valid");
        assert_eq!(p.max_attempts, 9);
        assert_eq!(p.initial_backoff, Duration::from_millis(5));
        assert!(p.backoff(3) <= Duration::from_millis(20));
        assert_eq!(
            RetryPolicy::from_env(|_| None).expect("default"),
            RetryPolicy::default()
        );
        let bad = RetryPolicy::from_env(|k| (k == ENV_MAX_ATTEMPTS).then(|| "0".to_string()));
        assert!(bad.is_err());
    }

    #[test]
    fn errors_read_like_sentences() {
        let mut e = ControlError::new(ErrorKind::Conflict, "UpdateApi", "try again");
        e.code = Some("ConcurrentModificationException".into());
        assert_eq!(
            e.to_string(),
            "UpdateApi failed: ConcurrentModificationException: try again"
        );
        assert!(e.is_transient());
    }
}
