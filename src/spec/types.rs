//! The spec format as Rust types: serde reads them (through [`super::de`]) and schemars derives
//! the JSON Schema from the same definitions, so the schema cannot drift from the parser.
//!
//! Conventions the error-collecting deserializer relies on (checked by a test):
//! - a field is required exactly when its type is not `Option`, `Vec` or a map; lists and maps
//!   carry `#[serde(default)]` unless an empty list is itself an error (then the validator says
//!   so, with a location);
//! - the schema carries no `pattern` or `maxLength` for strings: a value may be a `${VAR}`
//!   reference that only the validator can check, and an editor must not flag it;
//! - scalar values whose syntax is richer than a JSON type (durations, expiry, handler code)
//!   are kept raw here and parsed by the validator, which knows the field path.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::model::{AuthType, HandlerBehavior, InvokeType, LogLevel};

/// An evctl spec: one AppSync Event API, its channel namespaces and API keys.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "evctl spec")]
pub struct Spec {
    /// Format version of this file. Always `1`.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// The Event API itself.
    pub api: Api,
    /// Channel namespaces (at most 50). The API has none unless listed here: AppSync's API does
    /// not create a `default` namespace.
    #[serde(default)]
    pub channel_namespaces: Vec<ChannelNamespace>,
    /// API keys (at most 50), identified by their `name`.
    #[serde(default)]
    pub api_keys: Vec<ApiKey>,
    /// What `evctl smoke` checks.
    #[serde(default)]
    pub smoke: Option<Smoke>,
}

/// The Event API (CreateApi / UpdateApi).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Api {
    /// API name: 1 to 50 characters from `A-Z a-z 0-9 _ -` and space. Also how evctl finds the API.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Owner contact: up to 250 characters from `A-Z a-z 0-9 _ - .` and space.
    #[serde(default)]
    pub owner_contact: Option<String>,
    /// Tags (at most 49: evctl adds its own `evctl:managed-by` tag).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Auth providers (at least one; at most one each of API_KEY, AWS_IAM and AWS_LAMBDA).
    #[schemars(length(min = 1, max = 50))]
    pub auth_providers: Vec<AuthProvider>,
    /// Auth types a client may connect (WebSocket) with. Each must be a configured provider.
    #[schemars(length(min = 1))]
    pub connection_auth_modes: Vec<AuthType>,
    /// Auth types for publishing, unless a namespace overrides them.
    #[schemars(length(min = 1))]
    pub default_publish_auth_modes: Vec<AuthType>,
    /// Auth types for subscribing, unless a namespace overrides them.
    #[schemars(length(min = 1))]
    pub default_subscribe_auth_modes: Vec<AuthType>,
    /// CloudWatch logging (omit for none).
    #[serde(default)]
    pub log_config: Option<LogConfig>,
}

/// An auth provider and the configuration its type requires.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuthProvider {
    pub auth_type: AuthType,
    /// Required for AMAZON_COGNITO_USER_POOLS, not allowed otherwise.
    #[serde(default)]
    pub cognito_config: Option<CognitoConfig>,
    /// Required for OPENID_CONNECT, not allowed otherwise.
    #[serde(default, rename = "openIDConnectConfig")]
    pub open_id_connect_config: Option<OpenIdConnectConfig>,
    /// Required for AWS_LAMBDA, not allowed otherwise.
    #[serde(default)]
    pub lambda_authorizer_config: Option<LambdaAuthorizerConfig>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CognitoConfig {
    /// The user pool id, e.g. `us-east-1_AbCdEf123`.
    pub user_pool_id: String,
    /// The user pool's region, e.g. `us-east-1`.
    pub aws_region: String,
    /// Only tokens whose client id matches this regular expression are accepted.
    #[serde(default)]
    pub app_id_client_regex: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OpenIdConnectConfig {
    /// The issuer URL (`iss` claim), e.g. `https://auth.example.com`.
    pub issuer: String,
    /// Only tokens for this client id (`aud`) are accepted.
    #[serde(default)]
    pub client_id: Option<String>,
    /// How long after issue (`iat`) a token is accepted, e.g. `1h` (a bare number is milliseconds).
    #[serde(default, rename = "iatTTL")]
    pub iat_ttl: Option<Duration>,
    /// How long after authentication (`auth_time`) a token is accepted (a bare number is milliseconds).
    #[serde(default, rename = "authTTL")]
    pub auth_ttl: Option<Duration>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LambdaAuthorizerConfig {
    /// ARN of the authorizer function (optionally with a version or alias).
    pub authorizer_uri: String,
    /// How long AppSync caches the authorizer's answer: 0 to 1h (a bare number is seconds;
    /// default 0, no caching).
    #[serde(default)]
    pub authorizer_result_ttl_in_seconds: Option<Duration>,
    /// A regular expression the token must match before the authorizer is called.
    #[serde(default)]
    pub identity_validation_expression: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LogConfig {
    pub log_level: LogLevel,
    /// IAM role AppSync assumes to write to CloudWatch Logs.
    pub cloud_watch_logs_role_arn: String,
}

/// A channel namespace: the first segment of a channel path.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChannelNamespace {
    /// 1 to 50 letters, digits and inner hyphens.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Overrides the API's defaultPublishAuthModes (omit to inherit).
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub publish_auth_modes: Option<Vec<AuthType>>,
    /// Overrides the API's defaultSubscribeAuthModes (omit to inherit).
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub subscribe_auth_modes: Option<Vec<AuthType>>,
    /// Handler code (APPSYNC_JS module exporting onPublish and/or onSubscribe): inline, or
    /// `{file: path}` relative to the spec file. At most 32768 characters.
    #[serde(default)]
    pub code_handlers: Option<CodeHandlers>,
    /// How onPublish / onSubscribe run: with code, or a direct Lambda integration.
    #[serde(default)]
    pub handler_configs: Option<HandlerConfigs>,
    /// Tags (at most 50).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HandlerConfigs {
    #[serde(default)]
    pub on_publish: Option<HandlerConfig>,
    #[serde(default)]
    pub on_subscribe: Option<HandlerConfig>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HandlerConfig {
    /// CODE runs the namespace's codeHandlers (which may call the data source); DIRECT invokes
    /// the Lambda data source directly.
    pub behavior: HandlerBehavior,
    pub integration: Integration,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Integration {
    /// Name of a data source of the API (`[_A-Za-z][_0-9A-Za-z]*`).
    pub data_source_name: String,
    #[serde(default)]
    pub lambda_config: Option<LambdaConfig>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LambdaConfig {
    pub invoke_type: InvokeType,
}

/// An API key. AppSync keys have no name; evctl keeps `name` in the key's description
/// (`evctl:<name> <description>`), so it must not contain spaces.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiKey {
    /// 1 to 64 characters from `A-Z a-z 0-9 _ - .`, starting with a letter or digit.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Free text stored after evctl's name marker.
    #[serde(default)]
    pub description: Option<String>,
    /// Validity to keep (`30d`: apply renews the key before less remains) or an absolute RFC 3339
    /// instant (`2026-06-30T00:00:00Z`). Between 1 and 365 days ahead. Default `30d`.
    #[serde(default)]
    pub expires: Option<Expires>,
}

/// What `evctl smoke` checks after an apply.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Smoke {
    /// Channels to publish to and subscribe on (e.g. `/default/smoke`); the first segment must
    /// be a namespace of this spec. Default: `/<namespace>/evctl-smoke` for every namespace.
    #[serde(default)]
    pub channels: Vec<String>,
    /// How long each check may take, e.g. `10s` (default 10s).
    #[serde(default)]
    pub timeout: Option<Duration>,
}

/// A scalar kept as written; the validator parses it knowing the field and its path.
#[derive(Debug, Clone, PartialEq)]
pub enum RawScalar {
    Str(String),
    Int(i128),
    Float(f64),
    Bool(bool),
    /// A missing or null value (only seen when another error was already reported).
    Null,
    /// A list or mapping where a scalar belongs.
    NotScalar(&'static str),
}

impl<'de> Deserialize<'de> for RawScalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawScalar, D::Error> {
        struct RawVisitor;
        impl<'de> Visitor<'de> for RawVisitor {
            type Value = RawScalar;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a scalar")
            }
            fn visit_bool<E>(self, v: bool) -> Result<RawScalar, E> {
                Ok(RawScalar::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<RawScalar, E> {
                Ok(RawScalar::Int(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<RawScalar, E> {
                Ok(RawScalar::Int(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<RawScalar, E> {
                Ok(RawScalar::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<RawScalar, E> {
                Ok(RawScalar::Str(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<RawScalar, E> {
                Ok(RawScalar::Str(v))
            }
            fn visit_unit<E>(self) -> Result<RawScalar, E> {
                Ok(RawScalar::Null)
            }
            fn visit_none<E>(self) -> Result<RawScalar, E> {
                Ok(RawScalar::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawScalar, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(RawScalar::NotScalar("a list"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawScalar, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(RawScalar::NotScalar("a mapping"))
            }
        }
        d.deserialize_any(RawVisitor)
    }
}

/// A duration: human (`300ms`, `90s`, `5m`, `1h`, `30d`) or a bare number in the unit AWS uses
/// for the field (named in the field's description).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct Duration(pub RawScalar);

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration such as 300ms, 90s, 5m, 1h or 30d; a bare number is in the field's AWS unit.",
            "anyOf": [
                { "type": "string", "minLength": 1 },
                { "type": "integer", "minimum": 0 }
            ]
        })
    }
}

/// An API key's expiry: a validity to keep (`30d`) or an RFC 3339 instant.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct Expires(pub RawScalar);

impl JsonSchema for Expires {
    fn schema_name() -> Cow<'static, str> {
        "Expires".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Validity to keep, e.g. 30d (1 to 365 days; apply renews the key before less remains), or an RFC 3339 instant such as 2026-06-30T00:00:00Z.",
            "type": "string"
        })
    }
}

/// Handler code: inline source, or `{file: path}` relative to the spec file.
#[derive(Debug, Clone, PartialEq)]
pub enum CodeHandlers {
    Inline(String),
    File(String),
}

/// The `deserialize_struct` name that tells [`super::de`] a string is acceptable in place of
/// the mapping (serde has no "string or struct" shape of its own).
pub(crate) const STRING_OR_STRUCT: &str = "$evctl::StringOrStruct";

impl<'de> Deserialize<'de> for CodeHandlers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<CodeHandlers, D::Error> {
        struct CodeVisitor;
        impl<'de> Visitor<'de> for CodeVisitor {
            type Value = CodeHandlers;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("handler code, or a mapping with `file`")
            }
            fn visit_str<E>(self, v: &str) -> Result<CodeHandlers, E> {
                Ok(CodeHandlers::Inline(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<CodeHandlers, E> {
                Ok(CodeHandlers::Inline(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CodeHandlers, A::Error> {
                let mut file = None;
                while let Some(key) = map.next_key::<String>()? {
                    let value: String = map.next_value()?;
                    if key == "file" {
                        file = Some(value);
                    }
                }
                Ok(CodeHandlers::File(file.unwrap_or_default()))
            }
        }
        d.deserialize_struct(STRING_OR_STRUCT, &["file"], CodeVisitor)
    }
}

impl JsonSchema for CodeHandlers {
    fn schema_name() -> Cow<'static, str> {
        "CodeHandlers".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "APPSYNC_JS handler code (at most 32768 characters), inline or read from a file relative to the spec.",
            "anyOf": [
                { "type": "string", "minLength": 1, "maxLength": 32768 },
                {
                    "type": "object",
                    "properties": { "file": { "type": "string", "minLength": 1, "description": "Path of the handler module, relative to the spec file." } },
                    "required": ["file"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde::de::DeserializeOwned;

    use super::*;
    use crate::spec::de::{Ctx, from_value};
    use crate::spec::diag::Code;
    use crate::spec::vars::Vars;

    /// The deserializer reports a field as missing exactly when the schema calls it required
    /// (required lists are reported by the validator instead, as "must list at least one").
    fn required_fields_agree<T: DeserializeOwned + JsonSchema>() {
        let schema = schemars::schema_for!(T).to_value();
        let required: BTreeSet<String> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str())
            .filter(|f| schema["properties"][*f]["type"] != "array")
            .map(str::to_string)
            .collect();
        let vars = Vars::none();
        let cx = Ctx::new(&vars);
        let empty = serde_yaml::Value::Mapping(serde_yaml::Mapping::new());
        assert!(from_value::<T>(&empty, &cx).is_ok());
        let missing: BTreeSet<String> = cx
            .into_findings()
            .into_iter()
            .filter(|f| f.code == Code::MissingField)
            .map(|f| f.path)
            .collect();
        assert_eq!(required, missing, "{}", std::any::type_name::<T>());
    }

    #[test]
    fn the_schema_and_the_deserializer_agree_on_required_fields() {
        required_fields_agree::<Spec>();
        required_fields_agree::<Api>();
        required_fields_agree::<AuthProvider>();
        required_fields_agree::<CognitoConfig>();
        required_fields_agree::<OpenIdConnectConfig>();
        required_fields_agree::<LambdaAuthorizerConfig>();
        required_fields_agree::<LogConfig>();
        required_fields_agree::<ChannelNamespace>();
        required_fields_agree::<HandlerConfigs>();
        required_fields_agree::<HandlerConfig>();
        required_fields_agree::<Integration>();
        required_fields_agree::<LambdaConfig>();
        required_fields_agree::<ApiKey>();
        required_fields_agree::<Smoke>();
    }
}
