//! The control plane's JSON shapes, field for field as AppSync puts them on the wire
//! (reference section A.3): what requests carry and what the store keeps and answers.
//!
//! Stored records serialise to exactly their wire form, so a response is the record itself.
//! Lists keep the order the client sent (AppSync echoes them); absent optional members are
//! omitted rather than sent as `null`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{AuthProvider, AuthType, HandlerBehavior, InvokeType, LogConfig};

pub type TagMap = BTreeMap<String, String>;

/// `AuthMode`: `{"authType": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthMode {
    pub auth_type: AuthType,
}

/// `EventConfig`: the API's auth providers, which of them may connect/publish/subscribe by
/// default, and logging.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventConfig {
    pub auth_providers: Vec<AuthProvider>,
    pub connection_auth_modes: Vec<AuthMode>,
    pub default_publish_auth_modes: Vec<AuthMode>,
    pub default_subscribe_auth_modes: Vec<AuthMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_config: Option<LogConfig>,
}

/// `Api`, as CreateApi/GetApi/ListApis/UpdateApi answer it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Api {
    pub api_id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_contact: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: TagMap,
    /// `HTTP` and `REALTIME`: the API's own data-plane address (`host:port`).
    pub dns: BTreeMap<String, String>,
    pub api_arn: String,
    /// Epoch seconds.
    pub created: i64,
    pub xray_enabled: bool,
    pub event_config: EventConfig,
}

/// `ChannelNamespace`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelNamespace {
    pub api_id: String,
    pub name: String,
    /// `None`: inherit the API's default subscribe modes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribe_auth_modes: Option<Vec<AuthMode>>,
    /// `None`: inherit the API's default publish modes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_auth_modes: Option<Vec<AuthMode>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_handlers: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: TagMap,
    pub channel_namespace_arn: String,
    /// Epoch seconds.
    pub created: i64,
    /// Epoch seconds.
    pub last_modified: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler_configs: Option<HandlerConfigs>,
}

/// `HandlerConfigs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HandlerConfigs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_publish: Option<HandlerConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_subscribe: Option<HandlerConfig>,
}

/// `HandlerConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HandlerConfig {
    pub behavior: HandlerBehavior,
    pub integration: Integration,
}

/// `Integration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    pub data_source_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda_config: Option<LambdaConfig>,
}

/// `LambdaConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LambdaConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoke_type: Option<InvokeType>,
}

/// `ApiKey`. The id is the secret itself.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Epoch seconds, rounded down to the hour.
    pub expires: i64,
    /// Epoch seconds: 60 days after `expires`.
    pub deletes: i64,
}

impl std::fmt::Debug for ApiKey {
    // The id is a secret: never in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &crate::model::Secret::new(self.id.clone()))
            .field("description", &self.description)
            .field("expires", &self.expires)
            .field("deletes", &self.deletes)
            .finish()
    }
}

// ---- requests -------------------------------------------------------------------------------
// Members the model marks required are `Option` here so that a missing one is answered with a
// BadRequestException naming it, as AWS does, instead of a generic parse error.

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateApiRequest {
    pub name: Option<String>,
    pub owner_contact: Option<String>,
    pub tags: Option<TagMap>,
    pub event_config: Option<EventConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateApiRequest {
    pub name: Option<String>,
    pub owner_contact: Option<String>,
    pub event_config: Option<EventConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateChannelNamespaceRequest {
    pub name: Option<String>,
    pub subscribe_auth_modes: Option<Vec<AuthMode>>,
    pub publish_auth_modes: Option<Vec<AuthMode>>,
    pub code_handlers: Option<String>,
    pub tags: Option<TagMap>,
    pub handler_configs: Option<HandlerConfigs>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateChannelNamespaceRequest {
    pub subscribe_auth_modes: Option<Vec<AuthMode>>,
    pub publish_auth_modes: Option<Vec<AuthMode>>,
    pub code_handlers: Option<String>,
    pub handler_configs: Option<HandlerConfigs>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyRequest {
    pub description: Option<String>,
    pub expires: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagResourceRequest {
    pub tags: Option<TagMap>,
}
