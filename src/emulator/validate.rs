//! Input validation, as AppSync applies it before touching anything: the model's lengths and
//! patterns (reference A.2), required members, auth modes that must name a configured provider,
//! tag rules, and handler code. Every failure is a `BadRequestException` whose message follows
//! AWS's validation wording (`1 validation error detected: Value '...' at '...' failed to
//! satisfy constraint: ...`) so it reads like the real service.
//!
//! Pure functions over the request shapes; nothing here reads or changes the store.

use std::collections::BTreeSet;

use super::code;
use super::error::ApiError;
use super::shapes::{AuthMode, EventConfig, HandlerConfigs, TagMap};
use crate::model::{AuthProvider, AuthType, HandlerBehavior};

/// Most tags on one resource.
pub const MAX_TAGS: usize = 50;
/// Largest `codeHandlers` value, in characters.
pub const MAX_CODE_CHARS: usize = 32_768;
/// Most auth providers on one API.
pub const MAX_AUTH_PROVIDERS: usize = 50;

fn violation(field: &str, value: &str, constraint: &str) -> ApiError {
    ApiError::bad_request(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: \
         Member must {constraint}"
    ))
}

/// The error AWS gives when a required member is missing.
pub fn missing(field: &str) -> ApiError {
    ApiError::bad_request(format!(
        "1 validation error detected: Value null at '{field}' failed to satisfy constraint: \
         Member must not be null"
    ))
}

/// Returns the value of a required member or the error AWS gives when it is missing.
pub fn required<T>(value: Option<T>, field: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| missing(field))
}

fn check_length(field: &str, value: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(violation(
            field,
            value,
            &format!("have length between {min} and {max}, inclusive"),
        ));
    }
    Ok(())
}

/// `ApiName`: 1 to 50 characters of `[A-Za-z0-9_\-\ ]`.
pub fn api_name(name: &str) -> Result<(), ApiError> {
    check_length("name", name, 1, 50)?;
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ' '))
    {
        return Err(violation(
            "name",
            name,
            r"satisfy regular expression pattern: [A-Za-z0-9_\-\ ]+",
        ));
    }
    Ok(())
}

/// `OwnerContact`: up to 250 characters of `[A-Za-z0-9_\-\ \.]`.
pub fn owner_contact(contact: &str) -> Result<(), ApiError> {
    check_length("ownerContact", contact, 0, 250)?;
    if !contact
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ' ' | '.'))
    {
        return Err(violation(
            "ownerContact",
            contact,
            r"satisfy regular expression pattern: [A-Za-z0-9_\-\ \.]+",
        ));
    }
    Ok(())
}

/// Channel namespace name: 1 to 50 alphanumerics and inner hyphens.
pub fn namespace_name(name: &str) -> Result<(), ApiError> {
    check_length("name", name, 1, 50)?;
    let ok = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !ok {
        return Err(violation(
            "name",
            name,
            r"satisfy regular expression pattern: ([A-Za-z0-9](?:[A-Za-z0-9\-]{0,48}[A-Za-z0-9])?)",
        ));
    }
    Ok(())
}

/// The character range `+-=` in AWS's tag patterns: `+ , - . / 0-9 : ; < =`.
fn in_plus_to_equals(c: char) -> bool {
    ('+'..='=').contains(&c)
}

/// `TagKey`: 1 to 128 characters of `[ a-zA-Z+-=._:/]`, not starting with `aws:`.
pub fn tag_key(key: &str) -> Result<(), ApiError> {
    check_length("tags.key", key, 1, 128)?;
    let chars_ok = key.chars().all(|c| {
        c == ' '
            || c.is_ascii_alphabetic()
            || in_plus_to_equals(c)
            || matches!(c, '.' | '_' | ':' | '/')
    });
    if !chars_ok || key.starts_with("aws:") {
        return Err(violation(
            "tags.key",
            key,
            "satisfy regular expression pattern: ^(?!aws:)[ a-zA-Z+-=._:/]+$",
        ));
    }
    Ok(())
}

/// `TagValue`: up to 256 characters of `[\s\w+-=\.:/@]`.
pub fn tag_value(value: &str) -> Result<(), ApiError> {
    check_length("tags.value", value, 0, 256)?;
    let ok = value.chars().all(|c| {
        c.is_whitespace()
            || c.is_ascii_alphanumeric()
            || c == '_'
            || in_plus_to_equals(c)
            || matches!(c, '.' | ':' | '/' | '@')
    });
    if !ok {
        return Err(violation(
            "tags.value",
            value,
            r"satisfy regular expression pattern: ^[\s\w+-=\.:/@]*$",
        ));
    }
    Ok(())
}

/// A `TagMap` given on create or TagResource: 1 to 50 valid entries (`allow_empty` for the
/// optional `tags` of a create call, where an empty map means "no tags").
pub fn tags(tags: &TagMap, allow_empty: bool) -> Result<(), ApiError> {
    if tags.is_empty() && !allow_empty {
        return Err(ApiError::bad_request(
            "1 validation error detected: Value '{}' at 'tags' failed to satisfy constraint: \
             Member must have length greater than or equal to 1",
        ));
    }
    if tags.len() > MAX_TAGS {
        return Err(too_many_tags(tags.len()));
    }
    for (key, value) in tags {
        tag_key(key)?;
        tag_value(value)?;
    }
    Ok(())
}

/// The error for a resource that would carry more than [`MAX_TAGS`] tags.
pub fn too_many_tags(count: usize) -> ApiError {
    ApiError::bad_request(format!(
        "A resource can have at most {MAX_TAGS} tags; this request would leave it with {count}."
    ))
}

/// UntagResource's `tagKeys`: 1 to 50 keys.
pub fn tag_keys(keys: &[String]) -> Result<(), ApiError> {
    if keys.is_empty() {
        return Err(missing("tagKeys"));
    }
    if keys.len() > MAX_TAGS {
        return Err(ApiError::bad_request(format!(
            "1 validation error detected: Value at 'tagKeys' failed to satisfy constraint: \
             Member must have length less than or equal to {MAX_TAGS}"
        )));
    }
    for key in keys {
        tag_key(key)?;
    }
    Ok(())
}

fn mode_list(
    field: &str,
    modes: &[AuthMode],
    configured: &BTreeSet<AuthType>,
) -> Result<(), ApiError> {
    for mode in modes {
        if !configured.contains(&mode.auth_type) {
            return Err(ApiError::bad_request(format!(
                "{field} names {}, which is not one of the API's auth providers ({}).",
                mode.auth_type,
                list_types(configured)
            )));
        }
    }
    Ok(())
}

fn list_types(types: &BTreeSet<AuthType>) -> String {
    types
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The auth types an event config provides.
pub fn provider_types(config: &EventConfig) -> BTreeSet<AuthType> {
    config.auth_providers.iter().map(|p| p.auth_type).collect()
}

fn provider(index: usize, provider: &AuthProvider) -> Result<(), ApiError> {
    let at = |member: &str| format!("eventConfig.authProviders.{}.member.{member}", index + 1);
    match provider.auth_type {
        AuthType::AmazonCognitoUserPools if provider.cognito_config.is_none() => {
            Err(missing(&at("cognitoConfig")))
        }
        AuthType::OpenidConnect if provider.openid_connect_config.is_none() => {
            Err(missing(&at("openIDConnectConfig")))
        }
        AuthType::AwsLambda => {
            let Some(lambda) = &provider.lambda_authorizer_config else {
                return Err(missing(&at("lambdaAuthorizerConfig")));
            };
            if let Some(ttl) = lambda.authorizer_result_ttl_in_seconds
                && !(0..=3600).contains(&ttl)
            {
                return Err(violation(
                    &at("lambdaAuthorizerConfig.authorizerResultTtlInSeconds"),
                    &ttl.to_string(),
                    "have value between 0 and 3600, inclusive",
                ));
            }
            if lambda.authorizer_uri.is_empty() {
                return Err(violation(
                    &at("lambdaAuthorizerConfig.authorizerUri"),
                    "",
                    "have length greater than or equal to 1",
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// An `EventConfig`: at least one provider, each with the configuration its type needs, at
/// most one each of API_KEY, AWS_IAM and AWS_LAMBDA; every auth mode names a provider.
pub fn event_config(config: &EventConfig) -> Result<(), ApiError> {
    if config.auth_providers.is_empty() {
        return Err(ApiError::bad_request(
            "1 validation error detected: Value '[]' at 'eventConfig.authProviders' failed to \
             satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    if config.auth_providers.len() > MAX_AUTH_PROVIDERS {
        return Err(ApiError::bad_request(format!(
            "An API can have at most {MAX_AUTH_PROVIDERS} auth providers."
        )));
    }
    for (i, p) in config.auth_providers.iter().enumerate() {
        provider(i, p)?;
    }
    for single in [AuthType::ApiKey, AuthType::AwsIam, AuthType::AwsLambda] {
        let count = config
            .auth_providers
            .iter()
            .filter(|p| p.auth_type == single)
            .count();
        if count > 1 {
            return Err(ApiError::bad_request(format!(
                "Only one {single} auth provider is allowed per API (got {count})."
            )));
        }
    }
    let configured = provider_types(config);
    for (field, modes) in [
        (
            "eventConfig.connectionAuthModes",
            &config.connection_auth_modes,
        ),
        (
            "eventConfig.defaultPublishAuthModes",
            &config.default_publish_auth_modes,
        ),
        (
            "eventConfig.defaultSubscribeAuthModes",
            &config.default_subscribe_auth_modes,
        ),
    ] {
        if modes.is_empty() {
            return Err(ApiError::bad_request(format!(
                "1 validation error detected: Value '[]' at '{field}' failed to satisfy \
                 constraint: Member must have length greater than or equal to 1"
            )));
        }
        mode_list(field, modes, &configured)?;
    }
    if let Some(log) = &config.log_config
        && log.cloud_watch_logs_role_arn.is_empty()
    {
        return Err(missing("eventConfig.logConfig.cloudWatchLogsRoleArn"));
    }
    Ok(())
}

/// A namespace's own publish and subscribe modes, checked against the API's providers.
pub fn namespace_modes(
    publish: Option<&[AuthMode]>,
    subscribe: Option<&[AuthMode]>,
    configured: &BTreeSet<AuthType>,
) -> Result<(), ApiError> {
    mode_list("publishAuthModes", publish.unwrap_or_default(), configured)?;
    mode_list(
        "subscribeAuthModes",
        subscribe.unwrap_or_default(),
        configured,
    )
}

/// `handlerConfigs` and `codeHandlers` together: a CODE handler needs code; data-source names
/// follow AppSync's pattern; the code itself passes [`code::check`].
pub fn handlers(
    code_handlers: Option<&str>,
    configs: Option<&HandlerConfigs>,
) -> Result<(), ApiError> {
    if let Some(configs) = configs {
        for (field, config) in [
            ("handlerConfigs.onPublish", &configs.on_publish),
            ("handlerConfigs.onSubscribe", &configs.on_subscribe),
        ] {
            let Some(config) = config else { continue };
            let name = &config.integration.data_source_name;
            let name_ok = name
                .chars()
                .next()
                .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
                && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric());
            if !name_ok {
                return Err(violation(
                    &format!("{field}.integration.dataSourceName"),
                    name,
                    "satisfy regular expression pattern: [_A-Za-z][_0-9A-Za-z]*",
                ));
            }
            if config.behavior == HandlerBehavior::Code && code_handlers.is_none() {
                return Err(ApiError::bad_request(format!(
                    "{field} has behavior CODE, which needs codeHandlers."
                )));
            }
        }
    }
    if let Some(source) = code_handlers {
        let len = source.chars().count();
        if len == 0 || len > MAX_CODE_CHARS {
            return Err(violation(
                "codeHandlers",
                &truncate_for_message(source),
                &format!("have length between 1 and {MAX_CODE_CHARS}, inclusive"),
            ));
        }
        if let Err(problem) = code::check(source) {
            return Err(ApiError::code_error(
                problem.kind.as_str(),
                &problem.message,
                problem.line,
                problem.column,
                problem.span as i64,
            ));
        }
    }
    Ok(())
}

/// Long values are cut in messages, as AWS does for big members.
fn truncate_for_message(value: &str) -> String {
    const SHOWN: usize = 40;
    if value.chars().count() <= SHOWN {
        value.to_string()
    } else {
        let head: String = value.chars().take(SHOWN).collect();
        format!("{head}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LambdaAuthorizerConfig;

    fn mode(t: AuthType) -> AuthMode {
        AuthMode { auth_type: t }
    }

    fn provider_of(t: AuthType) -> AuthProvider {
        AuthProvider {
            auth_type: t,
            cognito_config: None,
            openid_connect_config: None,
            lambda_authorizer_config: None,
        }
    }

    fn config(providers: Vec<AuthProvider>, modes: Vec<AuthType>) -> EventConfig {
        let modes: Vec<AuthMode> = modes.into_iter().map(mode).collect();
        EventConfig {
            auth_providers: providers,
            connection_auth_modes: modes.clone(),
            default_publish_auth_modes: modes.clone(),
            default_subscribe_auth_modes: modes,
            log_config: None,
        }
    }

    #[test]
    fn names_follow_the_model_patterns() {
        assert!(api_name("my api_1-x").is_ok());
        assert!(api_name("").is_err());
        assert!(api_name(&"a".repeat(51)).is_err());
        assert!(api_name("dots.not.allowed").is_err());
        assert!(namespace_name("default").is_ok());
        assert!(namespace_name("a-b").is_ok());
        assert!(namespace_name("-a").is_err());
        assert!(namespace_name("a-").is_err());
        assert!(namespace_name("a_b").is_err());
        assert!(owner_contact("team.alpha").is_ok());
        assert!(owner_contact("a@b").is_err());
    }

    #[test]
    fn tag_rules_match_aws_patterns() {
        assert!(tag_key("evctl:managed-by").is_ok());
        assert!(tag_key("env 1=x/y").is_ok());
        assert!(tag_key("aws:reserved").is_err());
        assert!(tag_key("bad@key").is_err());
        assert!(tag_key("").is_err());
        assert!(tag_value("").is_ok());
        assert!(tag_value("a@b.c:/d e_f").is_ok());
        assert!(tag_value("no#hash").is_err());
        let mut many = TagMap::new();
        for i in 0..51 {
            many.insert(format!("k{i}"), "v".into());
        }
        assert!(tags(&many, true).is_err());
        assert!(tags(&TagMap::new(), false).is_err());
        assert!(tags(&TagMap::new(), true).is_ok());
    }

    #[test]
    fn auth_modes_must_name_a_configured_provider() {
        let ok = config(vec![provider_of(AuthType::ApiKey)], vec![AuthType::ApiKey]);
        assert!(event_config(&ok).is_ok());
        let bad = config(vec![provider_of(AuthType::ApiKey)], vec![AuthType::AwsIam]);
        let err = event_config(&bad).expect_err("should fail");
        assert!(err.message.contains("AWS_IAM"), "{}", err.message);
        let empty = config(vec![provider_of(AuthType::ApiKey)], vec![]);
        assert!(event_config(&empty).is_err());
    }

    #[test]
    fn providers_need_their_configuration() {
        let cognito = config(
            vec![provider_of(AuthType::AmazonCognitoUserPools)],
            vec![AuthType::AmazonCognitoUserPools],
        );
        assert!(event_config(&cognito).is_err());
        let mut lambda = provider_of(AuthType::AwsLambda);
        lambda.lambda_authorizer_config = Some(LambdaAuthorizerConfig {
            authorizer_uri: "arn:aws:lambda:us-east-1:123456789012:function:auth".into(),
            authorizer_result_ttl_in_seconds: Some(3601),
            identity_validation_expression: None,
        });
        let err = event_config(&config(vec![lambda], vec![AuthType::AwsLambda]))
            .expect_err("should fail");
        assert!(err.message.contains("3600"), "{}", err.message);
        let twice = config(
            vec![provider_of(AuthType::ApiKey), provider_of(AuthType::ApiKey)],
            vec![AuthType::ApiKey],
        );
        assert!(event_config(&twice).is_err());
    }
}
