//! The Event API data plane of the emulator: HTTP publish (`POST /event`), the real-time
//! WebSocket (`/event/realtime`), the broker that fans events out, and authorization.
//!
//! Each Event API is served on its own listener; [`router`] builds that listener's routes for
//! one API id, so the API is known from the address the client used. What the data plane needs
//! from the emulator's store (auth configuration, namespaces, keys) comes through the
//! [`Directory`] trait, read fresh on every request, so control-plane changes apply at once.
//! Everything else lives in [`DataPlane`]: settings from the command line, one [`Broker`] per
//! API, and the fault injection used to prove that smoke tests catch lost events.
//!
//! Submodules: [`channel`] (names and wildcards), [`broker`] (fan-out), [`auth`] (the five auth
//! modes), [`protocol`] (the WebSocket state machine, generic over Sink/Stream), [`http`]
//! (routes and HTTP publish), [`publish`] (validation shared by HTTP and WebSocket publish),
//! [`handlers`] (the namespaces' `onPublish`/`onSubscribe` code, run in QuickJS).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;

use crate::cli::EmulatorArgs;
use crate::model::{AuthModes, AuthProvider, AuthType, HandlerConfigs, Tags};
use crate::signing::Credentials;
use crate::wire::WireError;

pub mod auth;
pub mod bench;
pub mod broker;
pub mod channel;
pub mod handlers;
pub mod http;
pub mod protocol;
pub mod publish;

pub use broker::{Broker, FanoutMode};
pub use http::router;

/// Namespace tag that makes the emulator accept but never deliver events published to that
/// namespace (a deterministic fault for smoke tests). Ignored by AWS.
pub const FAULT_TAG_KEY: &str = "evctl:emulator-fault";
/// The value of [`FAULT_TAG_KEY`] that drops events.
pub const FAULT_DROP_EVENTS: &str = "drop-events";

/// Default number of messages a connection may have waiting before it counts as too slow.
pub const DEFAULT_QUEUE_CAPACITY: usize = 1000;

/// An API's authorization configuration, as the data plane needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiAuth {
    pub providers: Vec<AuthProvider>,
    pub connection_modes: AuthModes,
    pub default_publish_modes: AuthModes,
    pub default_subscribe_modes: AuthModes,
}

impl ApiAuth {
    pub fn provider(&self, auth_type: AuthType) -> Option<&AuthProvider> {
        self.providers.iter().find(|p| p.auth_type == auth_type)
    }
}

/// A channel namespace, as the data plane needs it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NamespaceInfo {
    /// Empty: the API's default publish modes apply.
    pub publish_modes: AuthModes,
    /// Empty: the API's default subscribe modes apply.
    pub subscribe_modes: AuthModes,
    pub tags: Tags,
    /// The `codeHandlers` module, if any.
    pub code: Option<Arc<str>>,
    pub handler_configs: HandlerConfigs,
}

impl NamespaceInfo {
    fn drops_events(&self) -> bool {
        self.tags.get(FAULT_TAG_KEY).map(String::as_str) == Some(FAULT_DROP_EVENTS)
    }
}

/// What the data plane reads from the emulator's store. Implementations answer from current
/// state; `None` means "does not exist (any more)".
pub trait Directory: Send + Sync + 'static {
    fn api(&self, api_id: &str) -> Option<ApiAuth>;
    fn namespace(&self, api_id: &str, name: &str) -> Option<NamespaceInfo>;
    /// The expiry (epoch seconds) of the API key whose id (= value) is `key`.
    fn api_key_expires(&self, api_id: &str, key: &str) -> Option<i64>;
}

/// Settings of the data plane, from the `evctl emulator` flags.
#[derive(Debug, Clone)]
pub struct Settings {
    pub region: String,
    pub account_id: String,
    /// What AWS_IAM signatures are checked against.
    pub credentials: Credentials,
    pub ka_interval: Duration,
    /// Keys to verify Cognito/OIDC JWT signatures with; without it only claims are checked.
    pub jwks: Option<jsonwebtoken::jwk::JwkSet>,
    /// Tokens the AWS_LAMBDA stand-in accepts.
    pub lambda_tokens: Vec<String>,
    /// Command run as the AWS_LAMBDA stand-in (request JSON on stdin, response on stdout).
    pub lambda_authorizer: Option<String>,
    /// Fraction of published events accepted but not delivered (0.0 to 1.0).
    pub drop_rate: f64,
    pub queue_capacity: usize,
    pub fanout: FanoutMode,
    /// How long a namespace handler may run.
    pub handler_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            credentials: Credentials::new("test", "test", None),
            ka_interval: Duration::from_secs(60),
            jwks: None,
            lambda_tokens: Vec::new(),
            lambda_authorizer: None,
            drop_rate: 0.0,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            fanout: FanoutMode::Shared,
            handler_timeout: handlers::DEFAULT_TIMEOUT,
        }
    }
}

impl Settings {
    /// Turns the emulator's flags into data-plane settings (reads the JWKS file).
    pub fn from_args(args: &EmulatorArgs) -> anyhow::Result<Settings> {
        let credentials = Credentials::parse(&args.credentials)
            .map_err(|e| anyhow::anyhow!("--credentials: {e}"))?;
        if !(0.0..=1.0).contains(&args.drop_events) {
            anyhow::bail!(
                "--drop-events must be between 0.0 and 1.0, got {}",
                args.drop_events
            );
        }
        if args.ka_interval.is_zero() {
            anyhow::bail!("--ka-interval must be more than zero");
        }
        if args.handler_timeout.is_zero() || args.handler_timeout > handlers::MAX_TIMEOUT {
            anyhow::bail!(
                "--handler-timeout must be more than zero and at most {} (AppSync's limit)",
                humantime::format_duration(handlers::MAX_TIMEOUT)
            );
        }
        Ok(Settings {
            region: args.region.clone(),
            account_id: args.account_id.clone(),
            credentials,
            ka_interval: args.ka_interval,
            jwks: args.jwks.as_deref().map(load_jwks).transpose()?,
            lambda_tokens: args.lambda_tokens.clone(),
            lambda_authorizer: args.lambda_authorizer.clone(),
            drop_rate: args.drop_events,
            queue_capacity: args.queue_capacity.max(1),
            fanout: if args.naive_fanout {
                FanoutMode::PerSubscriber
            } else {
                FanoutMode::Shared
            },
            handler_timeout: args.handler_timeout,
        })
    }
}

fn load_jwks(path: &Path) -> anyhow::Result<jsonwebtoken::jwk::JwkSet> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read the JWKS file {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a JWKS document ({{\"keys\":[…]}})",
            path.display()
        )
    })
}

/// The data plane shared by every API listener.
pub struct DataPlane {
    directory: Arc<dyn Directory>,
    settings: Settings,
    brokers: Mutex<HashMap<String, Arc<Broker>>>,
    next_connection: AtomicU64,
    published: AtomicU64,
    handlers: handlers::Handlers,
}

impl std::fmt::Debug for DataPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataPlane")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl DataPlane {
    pub fn new(directory: Arc<dyn Directory>, settings: Settings) -> Arc<DataPlane> {
        Arc::new(DataPlane {
            directory,
            settings,
            brokers: Mutex::default(),
            next_connection: AtomicU64::new(1),
            published: AtomicU64::new(0),
            handlers: handlers::Handlers::default(),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn directory(&self) -> &dyn Directory {
        self.directory.as_ref()
    }

    /// The runtime of the namespaces' handler code.
    pub fn handlers(&self) -> &handlers::Handlers {
        &self.handlers
    }

    /// The broker of one API (created on first use).
    pub fn broker(&self, api_id: &str) -> Arc<Broker> {
        let mut brokers = self.brokers.lock().unwrap_or_else(|e| e.into_inner());
        brokers
            .entry(api_id.to_string())
            .or_insert_with(|| Arc::new(Broker::new(self.settings.fanout)))
            .clone()
    }

    /// Drops everything kept for a deleted API (its broker and subscriptions).
    pub fn forget(&self, api_id: &str) {
        let mut brokers = self.brokers.lock().unwrap_or_else(|e| e.into_inner());
        brokers.remove(api_id);
    }

    fn connection_id(&self) -> broker::ConnectionId {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether the next published event is to be dropped by `--drop-events`: of every N events,
    /// exactly round(N × rate) are dropped, evenly spread (deterministic, no randomness).
    fn drop_next_event(&self) -> bool {
        let rate = self.settings.drop_rate;
        if rate <= 0.0 {
            return false;
        }
        let n = self.published.fetch_add(1, Ordering::Relaxed) as f64;
        ((n + 1.0) * rate).floor() > (n * rate).floor()
    }
}

/// The errors of the data plane, with their AWS `errorType` and HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    Unauthorized,
    /// A handler's `util.error`.
    Forbidden,
    /// A handler that threw, returned nonsense, ran too long, or cannot run locally.
    HandlerFailed,
    PayloadTooLarge,
    NotFound,
    DuplicatedOperation,
    MaxSubscriptionsReached,
    UnknownOperation,
    UnsupportedOperation,
}

impl ErrorKind {
    pub fn error_type(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "BadRequestException",
            ErrorKind::Unauthorized => "UnauthorizedException",
            ErrorKind::Forbidden => "ForbiddenException",
            ErrorKind::HandlerFailed => "HandlerError",
            ErrorKind::PayloadTooLarge => "PayloadTooLargeException",
            ErrorKind::NotFound => "NotFoundException",
            ErrorKind::DuplicatedOperation => "DuplicatedOperationError",
            ErrorKind::MaxSubscriptionsReached => "MaxSubscriptionsReachedError",
            ErrorKind::UnknownOperation => "UnknownOperationError",
            ErrorKind::UnsupportedOperation => "UnsupportedOperation",
        }
    }

    pub fn status(self) -> u16 {
        match self {
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::HandlerFailed => 500,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::NotFound => 404,
            _ => 400,
        }
    }
}

/// A refused data-plane operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", self.error_type())]
pub struct DataPlaneError {
    pub kind: ErrorKind,
    pub message: String,
    /// The errorType on the wire when it is not the kind's own (a handler's
    /// `util.error(message, type)`).
    pub error_type: Option<String>,
}

/// The message AWS gives for every authorization failure (only IAM says more).
pub const NOT_AUTHORIZED: &str = "You are not authorized to make this call.";

impl DataPlaneError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> DataPlaneError {
        DataPlaneError {
            kind,
            message: message.into(),
            error_type: None,
        }
    }

    /// The same error with another errorType on the wire.
    pub fn with_type(mut self, error_type: impl Into<String>) -> DataPlaneError {
        self.error_type = Some(error_type.into());
        self
    }

    /// The errorType on the wire.
    pub fn error_type(&self) -> &str {
        self.error_type
            .as_deref()
            .unwrap_or_else(|| self.kind.error_type())
    }

    pub fn bad_request(message: impl Into<String>) -> DataPlaneError {
        DataPlaneError::new(ErrorKind::BadRequest, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> DataPlaneError {
        DataPlaneError::new(ErrorKind::Unauthorized, message)
    }

    /// The entry of a wire `errors` array. Auth failures carry `errorCode` 401 (as AWS's
    /// `connection_error` does; Amplify uses it to stop retrying).
    pub fn to_wire(&self) -> WireError {
        let error = WireError::new(self.error_type(), self.message.clone());
        match self.kind {
            ErrorKind::Unauthorized | ErrorKind::BadRequest | ErrorKind::Forbidden => {
                error.with_code(self.kind.status())
            }
            _ => error,
        }
    }
}

/// Looks up the API a listener serves, or the error for a deleted one.
fn api(dp: &DataPlane, api_id: &str) -> Result<ApiAuth, DataPlaneError> {
    dp.directory().api(api_id).ok_or_else(|| {
        DataPlaneError::new(
            ErrorKind::NotFound,
            format!("The Event API {api_id} does not exist (any more)."),
        )
    })
}

/// Looks up a channel's namespace, or the error for an unknown one.
fn namespace(dp: &DataPlane, api_id: &str, name: &str) -> Result<NamespaceInfo, DataPlaneError> {
    dp.directory().namespace(api_id, name).ok_or_else(|| {
        DataPlaneError::bad_request(format!(
            "Channel namespace '{name}' does not exist in this Event API."
        ))
    })
}

#[cfg(test)]
pub(crate) mod testing {
    //! An in-memory [`Directory`] for unit tests.

    use std::collections::BTreeMap;

    use super::*;

    #[derive(Debug, Default)]
    pub struct MemoryDirectory {
        pub apis: Mutex<BTreeMap<String, ApiAuth>>,
        pub namespaces: Mutex<BTreeMap<(String, String), NamespaceInfo>>,
        pub keys: Mutex<BTreeMap<(String, String), i64>>,
    }

    impl Directory for MemoryDirectory {
        fn api(&self, api_id: &str) -> Option<ApiAuth> {
            self.apis.lock().ok()?.get(api_id).cloned()
        }
        fn namespace(&self, api_id: &str, name: &str) -> Option<NamespaceInfo> {
            self.namespaces
                .lock()
                .ok()?
                .get(&(api_id.to_string(), name.to_string()))
                .cloned()
        }
        fn api_key_expires(&self, api_id: &str, key: &str) -> Option<i64> {
            self.keys
                .lock()
                .ok()?
                .get(&(api_id.to_string(), key.to_string()))
                .copied()
        }
    }

    pub fn modes(types: &[AuthType]) -> AuthModes {
        types.iter().copied().collect()
    }

    /// An API `api1` with API_KEY and AWS_IAM everywhere, namespace `default`, key `da2-good`
    /// (valid) and `da2-old` (expired).
    pub fn directory() -> Arc<MemoryDirectory> {
        let dir = MemoryDirectory::default();
        let both = modes(&[AuthType::ApiKey, AuthType::AwsIam]);
        dir.apis.lock().expect("lock").insert(
            "api1".into(),
            ApiAuth {
                providers: [AuthType::ApiKey, AuthType::AwsIam]
                    .into_iter()
                    .map(|auth_type| AuthProvider {
                        auth_type,
                        cognito_config: None,
                        openid_connect_config: None,
                        lambda_authorizer_config: None,
                    })
                    .collect(),
                connection_modes: both.clone(),
                default_publish_modes: both.clone(),
                default_subscribe_modes: both,
            },
        );
        dir.namespaces
            .lock()
            .expect("lock")
            .insert(("api1".into(), "default".into()), NamespaceInfo::default());
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut keys = dir.keys.lock().expect("lock");
        keys.insert(("api1".into(), "da2-good".into()), now + 3600);
        keys.insert(("api1".into(), "da2-old".into()), now - 1);
        drop(keys);
        Arc::new(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_rate_drops_an_exact_evenly_spread_fraction() {
        for (rate, expected) in [(0.0, 0), (0.25, 25), (0.5, 50), (1.0, 100)] {
            let dp = DataPlane::new(
                testing::directory(),
                Settings {
                    drop_rate: rate,
                    ..Settings::default()
                },
            );
            let dropped = (0..100).filter(|_| dp.drop_next_event()).count();
            assert_eq!(dropped, expected, "rate {rate}");
        }
    }

    #[test]
    fn errors_carry_the_aws_error_type_and_status() {
        let e = DataPlaneError::unauthorized(NOT_AUTHORIZED);
        assert_eq!(e.kind.status(), 401);
        let wire = serde_json::to_value(e.to_wire()).expect("serialises");
        assert_eq!(
            wire,
            serde_json::json!({"errorType":"UnauthorizedException",
                "message":"You are not authorized to make this call.","errorCode":401})
        );
        assert_eq!(ErrorKind::PayloadTooLarge.status(), 413);
        assert_eq!(
            ErrorKind::UnknownOperation.error_type(),
            "UnknownOperationError"
        );
    }
}
