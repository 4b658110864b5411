//! One normalised description of an Event API, for desired state (from the spec) and observed
//! state (from the control plane) alike.
//!
//! The spec module produces a [`DesiredState`]; the control-plane boundary produces an
//! [`ObservedState`]; the engine compares them. Nothing here knows YAML or the AWS SDK. Values
//! are normalised on construction where the service treats them as equal (auth modes are sets,
//! tags are maps) so that comparing two values never churns.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

/// The tag evctl puts on every API it creates; an API without it is never touched (unless
/// adopted explicitly).
pub const OWNER_TAG_KEY: &str = "evctl:managed-by";
/// The value of [`OWNER_TAG_KEY`].
pub const OWNER_TAG_VALUE: &str = "evctl";

/// Tags as AppSync stores them: compared as a map.
pub type Tags = BTreeMap<String, String>;

/// AppSync `AuthenticationType`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthType {
    ApiKey,
    AwsIam,
    AmazonCognitoUserPools,
    OpenidConnect,
    AwsLambda,
}

impl AuthType {
    pub const ALL: [AuthType; 5] = [
        AuthType::ApiKey,
        AuthType::AwsIam,
        AuthType::AmazonCognitoUserPools,
        AuthType::OpenidConnect,
        AuthType::AwsLambda,
    ];

    /// The wire name, e.g. `API_KEY`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::ApiKey => "API_KEY",
            AuthType::AwsIam => "AWS_IAM",
            AuthType::AmazonCognitoUserPools => "AMAZON_COGNITO_USER_POOLS",
            AuthType::OpenidConnect => "OPENID_CONNECT",
            AuthType::AwsLambda => "AWS_LAMBDA",
        }
    }

    /// Parses a wire name; `None` for anything else.
    pub fn parse(s: &str) -> Option<AuthType> {
        AuthType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for AuthType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of auth modes: AppSync treats the lists as sets, so we do too.
pub type AuthModes = BTreeSet<AuthType>;

/// AppSync `EventLogLevel`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LogLevel {
    None,
    Error,
    All,
    Info,
    Debug,
}

impl LogLevel {
    pub const ALL: [LogLevel; 5] = [
        LogLevel::None,
        LogLevel::Error,
        LogLevel::All,
        LogLevel::Info,
        LogLevel::Debug,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::None => "NONE",
            LogLevel::Error => "ERROR",
            LogLevel::All => "ALL",
            LogLevel::Info => "INFO",
            LogLevel::Debug => "DEBUG",
        }
    }

    pub fn parse(s: &str) -> Option<LogLevel> {
        LogLevel::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// An auth provider with the configuration its type requires.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthProvider {
    pub auth_type: AuthType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cognito_config: Option<CognitoConfig>,
    #[serde(
        default,
        rename = "openIDConnectConfig",
        skip_serializing_if = "Option::is_none"
    )]
    pub openid_connect_config: Option<OpenIdConnectConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda_authorizer_config: Option<LambdaAuthorizerConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CognitoConfig {
    pub user_pool_id: String,
    pub aws_region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id_client_regex: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenIdConnectConfig {
    pub issuer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Milliseconds, as on the wire (`iatTTL`).
    #[serde(default, rename = "iatTTL", skip_serializing_if = "Option::is_none")]
    pub iat_ttl_ms: Option<i64>,
    /// Milliseconds, as on the wire (`authTTL`).
    #[serde(default, rename = "authTTL", skip_serializing_if = "Option::is_none")]
    pub auth_ttl_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LambdaAuthorizerConfig {
    pub authorizer_uri: String,
    /// Seconds, 0 to 3600; `None` means the service default (0, no caching).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer_result_ttl_in_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_validation_expression: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogConfig {
    pub log_level: LogLevel,
    pub cloud_watch_logs_role_arn: String,
}

/// The API's own configuration (what CreateApi/UpdateApi/TagResource set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiConfig {
    pub name: String,
    pub owner_contact: Option<String>,
    /// User tags only: the ownership tag is kept out of this map.
    pub tags: Tags,
    /// Sorted by auth type (at most one provider of each of API_KEY, AWS_IAM, AWS_LAMBDA).
    pub auth_providers: Vec<AuthProvider>,
    pub connection_auth_modes: AuthModes,
    pub default_publish_auth_modes: AuthModes,
    pub default_subscribe_auth_modes: AuthModes,
    pub log_config: Option<LogConfig>,
}

impl ApiConfig {
    /// Puts the value into canonical form (providers sorted) so that equality is semantic.
    pub fn normalise(&mut self) {
        self.auth_providers.sort();
        self.auth_providers.dedup();
        self.tags.remove(OWNER_TAG_KEY);
    }
}

/// AppSync `HandlerBehavior`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HandlerBehavior {
    Code,
    Direct,
}

/// AppSync `InvokeType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InvokeType {
    RequestResponse,
    Event,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    pub data_source_name: String,
    /// `lambdaConfig.invokeType`; `None` when no lambdaConfig is given.
    pub invoke_type: Option<InvokeType>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HandlerConfig {
    pub behavior: HandlerBehavior,
    pub integration: Integration,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HandlerConfigs {
    pub on_publish: Option<HandlerConfig>,
    pub on_subscribe: Option<HandlerConfig>,
}

impl HandlerConfigs {
    pub fn is_empty(&self) -> bool {
        self.on_publish.is_none() && self.on_subscribe.is_none()
    }
}

/// A channel namespace. Empty auth-mode sets mean "inherit the API defaults".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceConfig {
    pub name: String,
    pub publish_auth_modes: AuthModes,
    pub subscribe_auth_modes: AuthModes,
    /// The handler module source, already read from its file when the spec names one.
    pub code_handlers: Option<String>,
    pub handler_configs: HandlerConfigs,
    pub tags: Tags,
}

/// How long an API key must stay valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum KeyExpiry {
    /// Keep at least this many seconds of validity: renew (extend) the key when less remains.
    /// A new or renewed key gets twice this validity from now (at most what AppSync allows), so
    /// that a key is renewed about once per period and never on every run (see
    /// `engine::diff`).
    Validity { seconds: i64 },
    /// Expire at this instant (epoch seconds, before AppSync's rounding down to the hour).
    At { epoch_seconds: i64 },
}

/// A key as the spec declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyConfig {
    /// evctl's name for the key (AppSync keys have none; see [`key_description`]).
    pub name: String,
    pub description: Option<String>,
    pub expiry: KeyExpiry,
}

/// What the spec asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredState {
    pub api: ApiConfig,
    /// By namespace name.
    pub namespaces: BTreeMap<String, NamespaceConfig>,
    /// By key name.
    pub keys: BTreeMap<String, KeyConfig>,
}

/// The hosts AppSync gives an API (`dns.HTTP`, `dns.REALTIME`): bare `host[:port]`, no scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dns {
    pub http: String,
    pub realtime: String,
}

/// An API as the control plane reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedApi {
    pub id: String,
    pub arn: String,
    pub dns: Option<Dns>,
    /// Epoch seconds.
    pub created: Option<i64>,
    /// Carries the ownership tag.
    pub owned: bool,
    /// All tags as stored, the ownership tag included.
    pub all_tags: Tags,
    pub config: ApiConfig,
}

/// An API key as the control plane reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedKey {
    /// The key id, which is also its secret value.
    pub id: Secret,
    /// evctl's name, parsed from the description; `None` for keys evctl did not create.
    pub name: Option<String>,
    /// The user's description, without evctl's name marker.
    pub description: Option<String>,
    /// Epoch seconds.
    pub expires: i64,
    /// Epoch seconds.
    pub deletes: i64,
}

/// A channel namespace as the control plane reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedNamespace {
    /// `channelNamespaceArn`, the target of tag operations.
    pub arn: String,
    pub config: NamespaceConfig,
}

/// What exists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedState {
    pub api: Option<ObservedApi>,
    /// By namespace name.
    pub namespaces: BTreeMap<String, ObservedNamespace>,
    /// Every key of the API, named or not.
    pub keys: Vec<ObservedKey>,
}

/// Prefix of the description evctl stores on each key: `evctl:<name>` or
/// `evctl:<name> <user description>`. Key names never contain spaces, so the first space ends
/// the name.
pub const KEY_NAME_PREFIX: &str = "evctl:";

/// The AppSync description that carries a key's evctl name and the user's description.
pub fn key_description(name: &str, description: Option<&str>) -> String {
    match description {
        Some(d) if !d.is_empty() => format!("{KEY_NAME_PREFIX}{name} {d}"),
        _ => format!("{KEY_NAME_PREFIX}{name}"),
    }
}

/// Splits an AppSync key description into evctl's name (if it carries one) and the user's text.
pub fn parse_key_description(raw: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(raw) = raw else { return (None, None) };
    let Some(rest) = raw.strip_prefix(KEY_NAME_PREFIX) else {
        return (None, Some(raw.to_string()).filter(|s| !s.is_empty()));
    };
    let (name, desc) = match rest.split_once(' ') {
        Some((name, desc)) => (name, Some(desc.to_string()).filter(|s| !s.is_empty())),
        None => (rest, None),
    };
    if name.is_empty() {
        (None, Some(raw.to_string()))
    } else {
        (Some(name.to_string()), desc)
    }
}

/// A secret string (an API key value). `Debug` and `Display` never show it; serialising it
/// writes `"(sensitive)"`. Use [`Secret::expose`] only where the user asked for the value.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Secret(String);

impl Secret {
    pub const REDACTED: &'static str = "(sensitive)";

    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret value itself.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A stable, non-reversible handle (16 hex digits of a SHA-256) that names the secret in
    /// plans and saved plan files without revealing it.
    pub fn handle(&self) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("evctl-key:{}", self.0).as_bytes());
        hex::encode(&digest[..8])
    }

    /// A short, non-secret fingerprint for display (`da2-…wxyz` shows 4 of 26 characters).
    pub fn hint(&self) -> String {
        let tail: String = self
            .0
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("…{tail}")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Secret::REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Secret::REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(Secret::REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_descriptions_round_trip() {
        for (name, desc) in [
            ("ci", None),
            ("ci", Some("used by CI jobs")),
            ("a-b_c", Some("x")),
        ] {
            let raw = key_description(name, desc);
            assert_eq!(
                parse_key_description(Some(&raw)),
                (Some(name.to_string()), desc.map(str::to_string))
            );
        }
        assert_eq!(
            parse_key_description(Some("made by hand")),
            (None, Some("made by hand".into()))
        );
        assert_eq!(parse_key_description(None), (None, None));
    }

    #[test]
    fn secrets_do_not_leak_through_formatting() {
        let s = Secret::new("da2-abcdefghijklmnopqrstuvwxyz");
        assert!(!format!("{s} {s:?}").contains("abcdef"));
        assert!(
            !serde_json::to_string(&s)
                .unwrap_or_default()
                .contains("abcdef")
        );
        assert_eq!(s.hint(), "…wxyz");
        assert_eq!(s.handle().len(), 16);
        assert!(!s.handle().contains("abcdef"));
        assert_ne!(s.handle(), Secret::new("da2-other").handle());
    }

    #[test]
    fn auth_types_parse_their_wire_names() {
        for t in AuthType::ALL {
            assert_eq!(AuthType::parse(t.as_str()), Some(t));
            assert_eq!(
                serde_json::to_string(&t).unwrap_or_default(),
                format!("\"{t}\"")
            );
        }
    }
}
