//! [`ControlPlane`] on `aws-sdk-appsync`: configuration from aws-config's default chain plus the
//! `--profile/--region/--endpoint-url` flags, conversions between SDK shapes and
//! [`crate::model`], and [`map_error`], the one place where an `SdkError` becomes a
//! [`ControlError`].
//!
//! Creates run with the SDK's retries turned off: a create whose answer was lost must be
//! re-read, never blindly retried (that would make a second API or key). Everything else uses
//! the SDK's standard retry mode with evctl's [`RetryPolicy`].

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use aws_config::BehaviorVersion;
use aws_sdk_appsync::Client;
use aws_sdk_appsync::config::Region;
use aws_sdk_appsync::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_appsync::types as sdk;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;

use super::attempts::AttemptNotice;
use super::{ControlError, ControlPlane, ErrorKind, ListedApi, RetryPolicy, Target};
use crate::cli::AwsArgs;
use crate::model::{
    ApiConfig, AuthModes, AuthProvider, AuthType, CognitoConfig, Dns, HandlerBehavior,
    HandlerConfig, HandlerConfigs, Integration, InvokeType, LambdaAuthorizerConfig, LogConfig,
    LogLevel, NamespaceConfig, OWNER_TAG_KEY, OWNER_TAG_VALUE, ObservedApi, ObservedKey,
    ObservedNamespace, OpenIdConnectConfig, Secret, Tags, parse_key_description,
};

/// AppSync's largest page size.
const PAGE_SIZE: i32 = 25;

/// The AppSync control plane through the AWS SDK.
#[derive(Debug, Clone)]
pub struct SdkControlPlane {
    client: Client,
    target: Target,
}

impl SdkControlPlane {
    /// Resolves credentials, region and endpoint (flags first, then the standard environment
    /// variables and profile files) and builds the client.
    pub async fn connect(aws: &AwsArgs, retry: RetryPolicy) -> anyhow::Result<SdkControlPlane> {
        SdkControlPlane::connect_as(aws, retry, None).await
    }

    /// [`SdkControlPlane::connect`] with fixed credentials instead of the default chain (for
    /// an embedded emulator, which accepts the credentials it was configured with).
    pub async fn connect_as(
        aws: &AwsArgs,
        retry: RetryPolicy,
        credentials: Option<(&str, &str)>,
    ) -> anyhow::Result<SdkControlPlane> {
        let mut loader = loader(retry);
        if let Some(profile) = &aws.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &aws.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &aws.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some((id, secret)) = credentials {
            loader = loader.credentials_provider(aws_credential_types::Credentials::new(
                id, secret, None, None, "evctl",
            ));
        }
        let sdk_config = loader.load().await;
        let region = sdk_config.region().map(|r| r.to_string()).context(
            "no AWS region: pass --region or set AWS_REGION (or a region in the profile)",
        )?;
        let endpoint = match (&aws.endpoint_url, non_empty_env("AWS_ENDPOINT_URL_APPSYNC")) {
            (Some(url), _) => Some((url.clone(), "--endpoint-url")),
            (None, Some(url)) => Some((url, "AWS_ENDPOINT_URL_APPSYNC")),
            (None, None) => sdk_config.endpoint_url().map(|url| {
                (
                    url.to_string(),
                    "the endpoint URL (AWS_ENDPOINT_URL or the profile)",
                )
            }),
        };
        if let Some((url, source)) = &endpoint {
            check_endpoint(url, source)?;
        }
        let endpoint = endpoint.map(|(url, _)| url);
        let client = client(&sdk_config);
        Ok(SdkControlPlane {
            client,
            target: Target { endpoint, region },
        })
    }

    /// The control plane of a local emulator (`evctl dev`): `endpoint`, `region` and
    /// `credentials` as given, whatever the environment says; `trust_pem` is the CA of an
    /// emulator serving TLS.
    pub async fn local(
        endpoint: &str,
        region: &str,
        credentials: &crate::signing::Credentials,
        trust_pem: Option<Vec<u8>>,
        retry: RetryPolicy,
    ) -> anyhow::Result<SdkControlPlane> {
        let mut loader = loader(retry)
            .endpoint_url(endpoint)
            .region(Region::new(region.to_string()))
            .credentials_provider(aws_credential_types::Credentials::new(
                credentials.access_key_id.clone(),
                credentials.secret_access_key.clone(),
                credentials.session_token.clone(),
                None,
                "evctl-local",
            ));
        if let Some(pem) = trust_pem {
            use aws_smithy_http_client::tls;
            let context = tls::TlsContext::builder()
                .with_trust_store(tls::TrustStore::empty().with_pem_certificate(pem))
                .build()
                .context("could not trust the emulator's certificate")?;
            loader = loader.http_client(
                aws_smithy_http_client::Builder::new()
                    .tls_provider(tls::Provider::Rustls(
                        tls::rustls_provider::CryptoMode::AwsLc,
                    ))
                    .tls_context(context)
                    .build_https(),
            );
        }
        let sdk_config = loader.load().await;
        let client = client(&sdk_config);
        Ok(SdkControlPlane {
            client,
            target: Target {
                endpoint: Some(endpoint.to_string()),
                region: region.to_string(),
            },
        })
    }
}

/// The SDK configuration every control plane starts from: evctl's retry policy and timeouts.
fn loader(retry: RetryPolicy) -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(retry.max_attempts)
                .with_initial_backoff(retry.initial_backoff)
                .with_max_backoff(retry.max_backoff),
        )
        // An answer that never comes must not hang a CI job.
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(Duration::from_secs(60))
                .build(),
        )
}

/// The SDK client on `sdk_config`, with failed attempts reported on stderr.
fn client(sdk_config: &aws_config::SdkConfig) -> Client {
    Client::from_conf(
        aws_sdk_appsync::config::Builder::from(sdk_config)
            .interceptor(AttemptNotice)
            .build(),
    )
}

/// Refuses an endpoint that is not an `http(s)://HOST` URL before any call: the SDK would
/// only fail at the first request, with a message about the request rather than the setting.
fn check_endpoint(url: &str, source: &str) -> anyhow::Result<()> {
    let usable = url.parse::<http::Uri>().is_ok_and(|uri| {
        matches!(uri.scheme_str(), Some("http" | "https"))
            && uri.host().is_some_and(|host| !host.is_empty())
    });
    anyhow::ensure!(
        usable,
        "{source} {url:?} is not an http:// or https:// URL (e.g. http://127.0.0.1:4510 for the \
         local emulator)"
    );
    Ok(())
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Per-request override for creates: one attempt, evctl decides what happens next.
fn no_retries() -> aws_sdk_appsync::config::Builder {
    aws_sdk_appsync::config::Builder::default().retry_config(RetryConfig::disabled())
}

impl ControlPlane for SdkControlPlane {
    fn target(&self) -> Target {
        self.target.clone()
    }

    async fn list_apis(&self) -> Result<Vec<ListedApi>, ControlError> {
        const OP: &str = "ListApis";
        let mut pages = self
            .client
            .list_apis()
            .into_paginator()
            .page_size(PAGE_SIZE)
            .items()
            .send();
        let mut listed = Vec::new();
        while let Some(item) = pages.next().await {
            let api = item.map_err(|e| map_error(OP, e, &[]))?;
            let complete = api.event_config().is_some();
            let needs_tags = api.tags().is_none();
            let mut observed = observed_api(OP, &api)?;
            if needs_tags && !observed.arn.is_empty() {
                // The listing did not carry tags: ownership needs them.
                let tags = self.list_tags(&observed.arn).await?;
                set_tags(&mut observed, tags);
            }
            listed.push(ListedApi {
                api: observed,
                complete,
            });
        }
        Ok(listed)
    }

    async fn get_api(&self, id: &str) -> Result<ObservedApi, ControlError> {
        const OP: &str = "GetApi";
        let out = self
            .client
            .get_api()
            .api_id(id)
            .send()
            .await
            .map_err(|e| map_error(OP, e, &[]))?;
        let api = out.api().ok_or_else(|| missing(OP, "api"))?;
        let mut observed = observed_api(OP, api)?;
        if api.tags().is_none() && !observed.arn.is_empty() {
            let tags = self.list_tags(&observed.arn).await?;
            set_tags(&mut observed, tags);
        }
        Ok(observed)
    }

    async fn create_api(
        &self,
        config: &ApiConfig,
        tags: &Tags,
    ) -> Result<ObservedApi, ControlError> {
        const OP: &str = "CreateApi";
        let out = self
            .client
            .create_api()
            .name(&config.name)
            .set_owner_contact(config.owner_contact.clone())
            .set_tags(non_empty_map(tags))
            .event_config(event_config(OP, config)?)
            .customize()
            .config_override(no_retries())
            .send()
            .await
            .map_err(|e| map_error(OP, e, &[]))?;
        observed_api(OP, out.api().ok_or_else(|| missing(OP, "api"))?)
    }

    async fn update_api(&self, id: &str, config: &ApiConfig) -> Result<ObservedApi, ControlError> {
        const OP: &str = "UpdateApi";
        let out = self
            .client
            .update_api()
            .api_id(id)
            .name(&config.name)
            .set_owner_contact(config.owner_contact.clone())
            .event_config(event_config(OP, config)?)
            .send()
            .await
            .map_err(|e| map_error(OP, e, &[]))?;
        observed_api(OP, out.api().ok_or_else(|| missing(OP, "api"))?)
    }

    async fn delete_api(&self, id: &str) -> Result<(), ControlError> {
        const OP: &str = "DeleteApi";
        self.client
            .delete_api()
            .api_id(id)
            .send()
            .await
            .map_err(|e| map_error(OP, e, &[]))?;
        Ok(())
    }

    async fn tag_resource(&self, arn: &str, tags: &Tags) -> Result<(), ControlError> {
        const OP: &str = "TagResource";
        self.client
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(to_hash_map(tags)))
            .send()
            .await
            .map_err(|e| map_error(OP, e, &[]))?;
        Ok(())
    }

    async fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<(), ControlError> {
        const OP: &str = "UntagResource";
        self.client
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(keys.to_vec()))
            .send()
            .await
            .map_err(|e| map_error(OP, e, &[]))?;
        Ok(())
    }

    async fn list_namespaces(&self, api_id: &str) -> Result<Vec<ObservedNamespace>, ControlError> {
        const OP: &str = "ListChannelNamespaces";
        let mut pages = self
            .client
            .list_channel_namespaces()
            .api_id(api_id)
            .into_paginator()
            .page_size(PAGE_SIZE)
            .items()
            .send();
        let mut namespaces = Vec::new();
        while let Some(item) = pages.next().await {
            let ns = item.map_err(|e| map_error(OP, e, &[]))?;
            namespaces.push(observed_namespace(OP, &ns)?);
        }
        Ok(namespaces)
    }

    async fn get_namespace(
        &self,
        api_id: &str,
        name: &str,
    ) -> Result<ObservedNamespace, ControlError> {
        const OP: &str = "GetChannelNamespace";
        let out = self
            .client
            .get_channel_namespace()
            .api_id(api_id)
            .name(name)
            .send()
            .await
            .map_err(|e| map_error(OP, e, &[]))?;
        observed_namespace(
            OP,
            out.channel_namespace()
                .ok_or_else(|| missing(OP, "channelNamespace"))?,
        )
    }

    async fn create_namespace(
        &self,
        api_id: &str,
        config: &NamespaceConfig,
    ) -> Result<ObservedNamespace, ControlError> {
        const OP: &str = "CreateChannelNamespace";
        let out = self
            .client
            .create_channel_namespace()
            .api_id(api_id)
            .name(&config.name)
            .set_publish_auth_modes(auth_modes(&config.publish_auth_modes))
            .set_subscribe_auth_modes(auth_modes(&config.subscribe_auth_modes))
            .set_code_handlers(config.code_handlers.clone())
            .set_handler_configs(handler_configs(OP, &config.handler_configs)?)
            .set_tags(non_empty_map(&config.tags))
            .customize()
            .config_override(no_retries())
            .send()
            .await
            .map_err(|e| {
                let detail = e.as_service_error().and_then(|se| match se {
                    aws_sdk_appsync::operation::create_channel_namespace::CreateChannelNamespaceError::BadRequestException(b) => code_errors(b),
                    _ => None,
                });
                with_detail(map_error(OP, e, &[]), detail)
            })?;
        observed_namespace(
            OP,
            out.channel_namespace()
                .ok_or_else(|| missing(OP, "channelNamespace"))?,
        )
    }

    async fn update_namespace(
        &self,
        api_id: &str,
        config: &NamespaceConfig,
    ) -> Result<ObservedNamespace, ControlError> {
        const OP: &str = "UpdateChannelNamespace";
        let out = self
            .client
            .update_channel_namespace()
            .api_id(api_id)
            .name(&config.name)
            .set_publish_auth_modes(auth_modes(&config.publish_auth_modes))
            .set_subscribe_auth_modes(auth_modes(&config.subscribe_auth_modes))
            .set_code_handlers(config.code_handlers.clone())
            .set_handler_configs(handler_configs(OP, &config.handler_configs)?)
            .send()
            .await
            .map_err(|e| {
                let detail = e.as_service_error().and_then(|se| match se {
                    aws_sdk_appsync::operation::update_channel_namespace::UpdateChannelNamespaceError::BadRequestException(b) => code_errors(b),
                    _ => None,
                });
                with_detail(map_error(OP, e, &[]), detail)
            })?;
        observed_namespace(
            OP,
            out.channel_namespace()
                .ok_or_else(|| missing(OP, "channelNamespace"))?,
        )
    }

    async fn delete_namespace(&self, api_id: &str, name: &str) -> Result<(), ControlError> {
        const OP: &str = "DeleteChannelNamespace";
        self.client
            .delete_channel_namespace()
            .api_id(api_id)
            .name(name)
            .send()
            .await
            .map_err(|e| map_error(OP, e, &[]))?;
        Ok(())
    }

    async fn list_keys(&self, api_id: &str) -> Result<Vec<ObservedKey>, ControlError> {
        const OP: &str = "ListApiKeys";
        let mut pages = self
            .client
            .list_api_keys()
            .api_id(api_id)
            .into_paginator()
            .page_size(PAGE_SIZE)
            .items()
            .send();
        let mut keys = Vec::new();
        while let Some(item) = pages.next().await {
            // A page holds key values: never let one reach an error message.
            let key = item.map_err(|e| map_error(OP, e, &[]))?;
            keys.push(observed_key(OP, &key)?);
        }
        Ok(keys)
    }

    async fn create_key(
        &self,
        api_id: &str,
        description: &str,
        expires: i64,
    ) -> Result<ObservedKey, ControlError> {
        const OP: &str = "CreateApiKey";
        let out = self
            .client
            .create_api_key()
            .api_id(api_id)
            .description(description)
            .expires(expires)
            .customize()
            .config_override(no_retries())
            .send()
            .await
            .map_err(|e| map_error(OP, e, &[]))?;
        observed_key(OP, out.api_key().ok_or_else(|| missing(OP, "apiKey"))?)
    }

    async fn update_key(
        &self,
        api_id: &str,
        key: &Secret,
        description: Option<&str>,
        expires: Option<i64>,
    ) -> Result<ObservedKey, ControlError> {
        const OP: &str = "UpdateApiKey";
        let out = self
            .client
            .update_api_key()
            .api_id(api_id)
            .id(key.expose())
            .set_description(description.map(str::to_string))
            .set_expires(expires)
            .send()
            .await
            .map_err(|e| map_error(OP, e, &[key]))?;
        observed_key(OP, out.api_key().ok_or_else(|| missing(OP, "apiKey"))?)
    }

    async fn delete_key(&self, api_id: &str, key: &Secret) -> Result<(), ControlError> {
        const OP: &str = "DeleteApiKey";
        self.client
            .delete_api_key()
            .api_id(api_id)
            .id(key.expose())
            .send()
            .await
            .map_err(|e| map_error(OP, e, &[key]))?;
        Ok(())
    }
}

impl SdkControlPlane {
    async fn list_tags(&self, arn: &str) -> Result<Tags, ControlError> {
        const OP: &str = "ListTagsForResource";
        let out = self
            .client
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| map_error(OP, e, &[]))?;
        Ok(out
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default())
    }
}

/// The one mapping from an SDK error to a [`ControlError`]: classified by the service's error
/// code first, its HTTP status second. `secrets` are removed from every message.
pub fn map_error<E>(
    operation: &'static str,
    err: SdkError<E, HttpResponse>,
    secrets: &[&Secret],
) -> ControlError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (kind, code, message) = match &err {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let code = se.err().code().map(str::to_string);
            let message = match (&code, se.err().message()) {
                (_, Some(message)) => message.to_string(),
                (Some(_), None) => format!("HTTP {status}"),
                // AppSync's errors always name their type: this answer came from something
                // else (a proxy, a web server, the wrong port).
                (None, None) => format!(
                    "HTTP {status} without an AWS error type: the endpoint does not look like \
                     the AppSync control plane (check --endpoint-url / AWS_ENDPOINT_URL_APPSYNC)"
                ),
            };
            (classify(code.as_deref(), status), code, message)
        }
        SdkError::DispatchFailure(_) => (
            ErrorKind::NoResponse,
            None,
            format!(
                "the request got no answer (it may not have reached the service, or its answer \
                 was lost): {}{}",
                causes(&err),
                if connection_refused(&err) {
                    " (nothing accepts connections there: check the endpoint, and for the local \
                     emulator that `evctl emulator` is running)"
                } else {
                    ""
                }
            ),
        ),
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => (
            ErrorKind::NoResponse,
            None,
            format!(
                "no answer from the service (the request may or may not have taken effect): {}",
                causes(&err)
            ),
        ),
        _ => (ErrorKind::Other, None, causes(&err)),
    };
    ControlError {
        kind,
        operation,
        code,
        message: redact(message, secrets),
    }
}

/// An error and its sources as one line, without repeats (the SDK's errors nest their causes).
fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// Whether the connection was refused (nothing listens at the address).
fn connection_refused(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            return true;
        }
        next = e.source();
    }
    false
}

fn classify(code: Option<&str>, status: u16) -> ErrorKind {
    match code {
        Some("NotFoundException") => ErrorKind::NotFound,
        Some("ConflictException" | "ConcurrentModificationException") => ErrorKind::Conflict,
        Some(
            "LimitExceededException"
            | "ThrottlingException"
            | "Throttling"
            | "TooManyRequestsException"
            | "RequestLimitExceeded",
        ) => ErrorKind::Throttled,
        Some(
            "BadRequestException"
            | "ValidationException"
            | "ApiKeyValidityOutOfBoundsException"
            | "ApiKeyLimitExceededException"
            | "ServiceQuotaExceededException",
        ) => ErrorKind::BadRequest,
        Some("UnauthorizedException" | "AccessDeniedException") => ErrorKind::Unauthorized,
        Some("InternalFailureException") => ErrorKind::Service,
        // A 404 that names no AWS error did not come from AppSync: "not found" would let
        // a delete count as done.
        None if status == 404 => ErrorKind::Other,
        _ => match status {
            404 => ErrorKind::NotFound,
            409 => ErrorKind::Conflict,
            429 => ErrorKind::Throttled,
            401 | 403 => ErrorKind::Unauthorized,
            400..=499 => ErrorKind::BadRequest,
            500..=599 => ErrorKind::Service,
            _ => ErrorKind::Other,
        },
    }
}

fn redact(mut message: String, secrets: &[&Secret]) -> String {
    for secret in secrets {
        if !secret.expose().is_empty() {
            message = message.replace(secret.expose(), Secret::REDACTED);
        }
    }
    message
}

/// Handler-code errors (`reason: CODE_ERROR`) with their locations.
fn code_errors(e: &aws_sdk_appsync::types::error::BadRequestException) -> Option<String> {
    let errors = e.detail()?.code_errors.as_ref()?;
    let lines: Vec<String> = errors
        .iter()
        .map(|ce| {
            let at = ce
                .location
                .as_ref()
                .filter(|l| l.line > 0)
                .map(|l| format!(" at line {}, column {}", l.line, l.column))
                .unwrap_or_default();
            format!(
                "{}{at}: {}",
                ce.error_type.as_deref().unwrap_or("CODE_ERROR"),
                ce.value.as_deref().unwrap_or("")
            )
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join("; "))
}

fn with_detail(mut err: ControlError, detail: Option<String>) -> ControlError {
    if let Some(detail) = detail {
        err.message = format!("{} ({detail})", err.message);
    }
    err
}

fn missing(operation: &'static str, field: &str) -> ControlError {
    ControlError::new(
        ErrorKind::Other,
        operation,
        format!("the response has no `{field}`"),
    )
}

fn to_hash_map(tags: &Tags) -> HashMap<String, String> {
    tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn non_empty_map(tags: &Tags) -> Option<HashMap<String, String>> {
    (!tags.is_empty()).then(|| to_hash_map(tags))
}

fn set_tags(api: &mut ObservedApi, tags: Tags) {
    api.owned = tags.get(OWNER_TAG_KEY).map(String::as_str) == Some(OWNER_TAG_VALUE);
    api.config.tags = tags.clone();
    api.config.tags.remove(OWNER_TAG_KEY);
    api.all_tags = tags;
}

// ---- SDK shapes -> model ----

fn observed_api(op: &'static str, api: &sdk::Api) -> Result<ObservedApi, ControlError> {
    let id = api
        .api_id()
        .ok_or_else(|| missing(op, "apiId"))?
        .to_string();
    let dns = api.dns().and_then(|d| {
        Some(Dns {
            http: d.get("HTTP")?.clone(),
            realtime: d.get("REALTIME")?.clone(),
        })
    });
    let mut config = ApiConfig {
        name: api.name().unwrap_or_default().to_string(),
        owner_contact: api.owner_contact().map(str::to_string),
        tags: Tags::new(),
        auth_providers: Vec::new(),
        connection_auth_modes: AuthModes::new(),
        default_publish_auth_modes: AuthModes::new(),
        default_subscribe_auth_modes: AuthModes::new(),
        log_config: None,
    };
    if let Some(ec) = api.event_config() {
        config.auth_providers = ec
            .auth_providers()
            .iter()
            .map(|p| auth_provider(op, p))
            .collect::<Result<_, _>>()?;
        config.connection_auth_modes = model_modes(op, ec.connection_auth_modes())?;
        config.default_publish_auth_modes = model_modes(op, ec.default_publish_auth_modes())?;
        config.default_subscribe_auth_modes = model_modes(op, ec.default_subscribe_auth_modes())?;
        config.log_config = ec
            .log_config()
            .map(|l| {
                Ok::<_, ControlError>(LogConfig {
                    log_level: LogLevel::parse(l.log_level().as_str())
                        .ok_or_else(|| unknown(op, "log level", l.log_level().as_str()))?,
                    cloud_watch_logs_role_arn: l.cloud_watch_logs_role_arn().to_string(),
                })
            })
            .transpose()?;
    }
    config.normalise();
    let mut observed = ObservedApi {
        id,
        arn: api.api_arn().unwrap_or_default().to_string(),
        dns,
        created: api.created().map(|t| t.secs()),
        owned: false,
        all_tags: Tags::new(),
        config,
    };
    let tags: Tags = api
        .tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    set_tags(&mut observed, tags);
    Ok(observed)
}

fn unknown(op: &'static str, what: &str, value: &str) -> ControlError {
    ControlError::new(
        ErrorKind::Other,
        op,
        format!("the service reported an unknown {what} {value:?}; a newer evctl may know it"),
    )
}

fn auth_type(op: &'static str, t: &sdk::AuthenticationType) -> Result<AuthType, ControlError> {
    AuthType::parse(t.as_str()).ok_or_else(|| unknown(op, "auth type", t.as_str()))
}

fn model_modes(op: &'static str, modes: &[sdk::AuthMode]) -> Result<AuthModes, ControlError> {
    modes.iter().map(|m| auth_type(op, m.auth_type())).collect()
}

fn auth_provider(op: &'static str, p: &sdk::AuthProvider) -> Result<AuthProvider, ControlError> {
    Ok(AuthProvider {
        auth_type: auth_type(op, p.auth_type())?,
        cognito_config: p.cognito_config().map(|c| CognitoConfig {
            user_pool_id: c.user_pool_id().to_string(),
            aws_region: c.aws_region().to_string(),
            app_id_client_regex: c.app_id_client_regex().map(str::to_string),
        }),
        openid_connect_config: p.open_id_connect_config().map(|c| OpenIdConnectConfig {
            issuer: c.issuer().to_string(),
            client_id: c.client_id().map(str::to_string),
            iat_ttl_ms: Some(c.iat_ttl()).filter(|v| *v != 0),
            auth_ttl_ms: Some(c.auth_ttl()).filter(|v| *v != 0),
        }),
        lambda_authorizer_config: p
            .lambda_authorizer_config()
            .map(|c| LambdaAuthorizerConfig {
                authorizer_uri: c.authorizer_uri().to_string(),
                authorizer_result_ttl_in_seconds: Some(c.authorizer_result_ttl_in_seconds())
                    .filter(|v| *v != 0),
                identity_validation_expression: c
                    .identity_validation_expression()
                    .map(str::to_string),
            }),
    })
}

fn observed_namespace(
    op: &'static str,
    ns: &sdk::ChannelNamespace,
) -> Result<ObservedNamespace, ControlError> {
    let name = ns.name().ok_or_else(|| missing(op, "name"))?.to_string();
    let handler_configs = match ns.handler_configs() {
        Some(h) => HandlerConfigs {
            on_publish: h.on_publish().map(|c| handler_config(op, c)).transpose()?,
            on_subscribe: h
                .on_subscribe()
                .map(|c| handler_config(op, c))
                .transpose()?,
        },
        None => HandlerConfigs::default(),
    };
    Ok(ObservedNamespace {
        arn: ns.channel_namespace_arn().unwrap_or_default().to_string(),
        config: NamespaceConfig {
            name,
            publish_auth_modes: model_modes(op, ns.publish_auth_modes())?,
            subscribe_auth_modes: model_modes(op, ns.subscribe_auth_modes())?,
            code_handlers: ns.code_handlers().map(str::to_string),
            handler_configs,
            tags: ns
                .tags()
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        },
    })
}

fn handler_config(op: &'static str, c: &sdk::HandlerConfig) -> Result<HandlerConfig, ControlError> {
    let behavior = match c.behavior() {
        sdk::HandlerBehavior::Code => HandlerBehavior::Code,
        sdk::HandlerBehavior::Direct => HandlerBehavior::Direct,
        other => return Err(unknown(op, "handler behavior", other.as_str())),
    };
    let integration = c.integration().ok_or_else(|| missing(op, "integration"))?;
    let invoke_type = match integration.lambda_config().and_then(|l| l.invoke_type()) {
        None => None,
        Some(sdk::InvokeType::Event) => Some(InvokeType::Event),
        Some(sdk::InvokeType::RequestResponse) => Some(InvokeType::RequestResponse),
        Some(other) => return Err(unknown(op, "invoke type", other.as_str())),
    };
    Ok(HandlerConfig {
        behavior,
        integration: Integration {
            data_source_name: integration.data_source_name().to_string(),
            invoke_type,
        },
    })
}

fn observed_key(op: &'static str, key: &sdk::ApiKey) -> Result<ObservedKey, ControlError> {
    let id = key.id().ok_or_else(|| missing(op, "id"))?;
    let (name, description) = parse_key_description(key.description());
    Ok(ObservedKey {
        id: Secret::new(id),
        name,
        description,
        expires: key.expires(),
        deletes: key.deletes(),
    })
}

// ---- model -> SDK shapes ----

fn build_error(op: &'static str, e: impl std::fmt::Display) -> ControlError {
    ControlError::new(
        ErrorKind::Other,
        op,
        format!("could not build the request: {e}"),
    )
}

fn sdk_modes(modes: &AuthModes) -> Vec<sdk::AuthMode> {
    modes
        .iter()
        .filter_map(|t| {
            sdk::AuthMode::builder()
                .auth_type(sdk::AuthenticationType::from(t.as_str()))
                .build()
                .ok()
        })
        .collect()
}

/// `None` for an empty set: the namespace inherits the API's defaults.
fn auth_modes(modes: &AuthModes) -> Option<Vec<sdk::AuthMode>> {
    (!modes.is_empty()).then(|| sdk_modes(modes))
}

fn event_config(op: &'static str, config: &ApiConfig) -> Result<sdk::EventConfig, ControlError> {
    let providers = config
        .auth_providers
        .iter()
        .map(|p| sdk_provider(op, p))
        .collect::<Result<Vec<_>, _>>()?;
    let log_config = config
        .log_config
        .as_ref()
        .map(|l| {
            sdk::EventLogConfig::builder()
                .log_level(sdk::EventLogLevel::from(l.log_level.as_str()))
                .cloud_watch_logs_role_arn(&l.cloud_watch_logs_role_arn)
                .build()
                .map_err(|e| build_error(op, e))
        })
        .transpose()?;
    sdk::EventConfig::builder()
        .set_auth_providers(Some(providers))
        .set_connection_auth_modes(Some(sdk_modes(&config.connection_auth_modes)))
        .set_default_publish_auth_modes(Some(sdk_modes(&config.default_publish_auth_modes)))
        .set_default_subscribe_auth_modes(Some(sdk_modes(&config.default_subscribe_auth_modes)))
        .set_log_config(log_config)
        .build()
        .map_err(|e| build_error(op, e))
}

fn sdk_provider(op: &'static str, p: &AuthProvider) -> Result<sdk::AuthProvider, ControlError> {
    let cognito = p
        .cognito_config
        .as_ref()
        .map(|c| {
            sdk::CognitoConfig::builder()
                .user_pool_id(&c.user_pool_id)
                .aws_region(&c.aws_region)
                .set_app_id_client_regex(c.app_id_client_regex.clone())
                .build()
                .map_err(|e| build_error(op, e))
        })
        .transpose()?;
    let oidc = p
        .openid_connect_config
        .as_ref()
        .map(|c| {
            sdk::OpenIdConnectConfig::builder()
                .issuer(&c.issuer)
                .set_client_id(c.client_id.clone())
                .set_iat_ttl(c.iat_ttl_ms)
                .set_auth_ttl(c.auth_ttl_ms)
                .build()
                .map_err(|e| build_error(op, e))
        })
        .transpose()?;
    let lambda = p
        .lambda_authorizer_config
        .as_ref()
        .map(|c| {
            sdk::LambdaAuthorizerConfig::builder()
                .authorizer_uri(&c.authorizer_uri)
                .set_authorizer_result_ttl_in_seconds(c.authorizer_result_ttl_in_seconds)
                .set_identity_validation_expression(c.identity_validation_expression.clone())
                .build()
                .map_err(|e| build_error(op, e))
        })
        .transpose()?;
    sdk::AuthProvider::builder()
        .auth_type(sdk::AuthenticationType::from(p.auth_type.as_str()))
        .set_cognito_config(cognito)
        .set_open_id_connect_config(oidc)
        .set_lambda_authorizer_config(lambda)
        .build()
        .map_err(|e| build_error(op, e))
}

fn handler_configs(
    op: &'static str,
    configs: &HandlerConfigs,
) -> Result<Option<sdk::HandlerConfigs>, ControlError> {
    if configs.is_empty() {
        return Ok(None);
    }
    let one = |c: &HandlerConfig| -> Result<sdk::HandlerConfig, ControlError> {
        let lambda = c.integration.invoke_type.map(|t| {
            sdk::LambdaConfig::builder()
                .invoke_type(match t {
                    InvokeType::Event => sdk::InvokeType::Event,
                    InvokeType::RequestResponse => sdk::InvokeType::RequestResponse,
                })
                .build()
        });
        let integration = sdk::Integration::builder()
            .data_source_name(&c.integration.data_source_name)
            .set_lambda_config(lambda)
            .build()
            .map_err(|e| build_error(op, e))?;
        sdk::HandlerConfig::builder()
            .behavior(match c.behavior {
                HandlerBehavior::Code => sdk::HandlerBehavior::Code,
                HandlerBehavior::Direct => sdk::HandlerBehavior::Direct,
            })
            .integration(integration)
            .build()
            .map_err(|e| build_error(op, e))
    };
    Ok(Some(
        sdk::HandlerConfigs::builder()
            .set_on_publish(configs.on_publish.as_ref().map(one).transpose()?)
            .set_on_subscribe(configs.on_subscribe.as_ref().map(one).transpose()?)
            .build(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified_by_code_then_status() {
        assert_eq!(
            classify(Some("NotFoundException"), 404),
            ErrorKind::NotFound
        );
        assert_eq!(
            classify(Some("ConcurrentModificationException"), 409),
            ErrorKind::Conflict
        );
        assert_eq!(
            classify(Some("LimitExceededException"), 429),
            ErrorKind::Throttled
        );
        assert_eq!(classify(None, 503), ErrorKind::Service);
        assert_eq!(classify(Some("Weird"), 409), ErrorKind::Conflict);
        assert_eq!(classify(None, 403), ErrorKind::Unauthorized);
        assert_eq!(classify(None, 404), ErrorKind::Other, "not from AppSync");
    }

    #[test]
    fn endpoints_must_be_http_urls() {
        for good in [
            "http://127.0.0.1:4510",
            "https://appsync.us-east-1.amazonaws.com",
        ] {
            assert!(check_endpoint(good, "--endpoint-url").is_ok(), "{good}");
        }
        for bad in [
            "localhost:4510",
            "127.0.0.1:4510",
            "ftp://x",
            "http://",
            "4510",
        ] {
            let err = check_endpoint(bad, "--endpoint-url").expect_err(bad);
            assert!(
                err.to_string()
                    .starts_with(&format!("--endpoint-url {bad:?} is not an http://")),
                "{err}"
            );
        }
    }

    #[test]
    fn key_values_are_redacted_from_messages() {
        let key = Secret::new("da2-abcdefghijklmnopqrstuvwxyz");
        let msg = redact(
            "API key da2-abcdefghijklmnopqrstuvwxyz not found".into(),
            &[&key],
        );
        assert_eq!(msg, "API key (sensitive) not found");
    }
}
