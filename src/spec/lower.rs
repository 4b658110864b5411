//! Semantic validation and lowering: checks a deserialized [`Spec`] against every AppSync
//! constraint and builds the [`DesiredState`] in the same walk, so each value is parsed once.
//! Every problem becomes a [`Finding`] at its field path; the built state is only used when
//! there are no errors.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::SmokeConfig;
use super::de::{Finding, child, index};
use super::diag::Code;
use super::rules::{self, Check, Problem, Unit, problem, show};
use super::types::{self, CodeHandlers, RawScalar, Spec};
use crate::model::{
    self, ApiConfig, AuthModes, AuthType, DesiredState, KeyConfig, KeyExpiry, NamespaceConfig, Tags,
};

/// At most this many channel namespaces per API (AppSync quota).
pub const MAX_NAMESPACES: usize = 50;
/// At most this many API keys per API (AppSync quota).
pub const MAX_KEYS: usize = 50;
/// At most this many auth providers per API.
pub const MAX_AUTH_PROVIDERS: usize = 50;
/// At most this many tags per resource.
pub const MAX_TAGS: usize = 50;
/// Handler code limit, in characters.
pub const MAX_CODE_CHARS: usize = 32768;
/// How far the local clock may be off AppSync's (SigV4 rejects requests beyond this anyway).
pub const CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);
/// Shortest key validity: AppSync's 1 day, plus the hour it may round off, plus clock skew.
pub const MIN_KEY_VALIDITY: Duration = Duration::from_secs(86400 + 3600 + 5 * 60);
/// Longest key validity: AppSync's 365 days, less clock skew.
pub const MAX_KEY_VALIDITY: Duration = Duration::from_secs(365 * 86400 - 5 * 60);
/// Key validity when `expires` is omitted (AppSync's own default, 7 days, is too short for CI).
pub const DEFAULT_KEY_VALIDITY: Duration = Duration::from_secs(30 * 86400);
/// Smoke check timeout when `smoke.timeout` is omitted.
pub const DEFAULT_SMOKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The result of a lowering walk: a best-effort state plus everything found on the way.
pub(crate) struct Lowered {
    pub desired: DesiredState,
    pub smoke: SmokeConfig,
    pub findings: Vec<Finding>,
    /// The handler files read.
    pub handler_files: Vec<PathBuf>,
}

struct Cx<'a> {
    dir: &'a Path,
    now: OffsetDateTime,
    findings: Vec<Finding>,
    handler_files: Vec<PathBuf>,
}

impl Cx<'_> {
    fn push(&mut self, f: Finding) {
        self.findings.push(f);
    }

    fn problem(&mut self, path: &str, code: Code, p: Problem) {
        let mut f = Finding::error(path, code, p.message);
        f.hint = p.hint;
        self.push(f);
    }

    fn check(&mut self, path: &str, result: Check) {
        if let Err(p) = result {
            self.problem(path, Code::InvalidValue, p);
        }
    }

    fn duration(&mut self, path: &str, raw: &types::Duration, unit: Unit) -> Option<Duration> {
        match rules::duration(&raw.0, unit) {
            Ok(d) => Some(d),
            Err(p) => {
                self.problem(path, Code::InvalidValue, p);
                None
            }
        }
    }
}

/// Validates `spec` (read from a file in `dir`) as of `now` and builds the desired state.
pub(crate) fn lower(spec: &Spec, dir: &Path, now: OffsetDateTime) -> Lowered {
    let mut cx = Cx {
        dir,
        now,
        findings: Vec::new(),
        handler_files: Vec::new(),
    };
    let api = lower_api(&spec.api, &mut cx);
    let configured: BTreeSet<AuthType> = api.auth_providers.iter().map(|p| p.auth_type).collect();
    let namespaces = lower_namespaces(&spec.channel_namespaces, &configured, &mut cx);
    let keys = lower_keys(&spec.api_keys, &configured, &mut cx);
    let smoke = lower_smoke(spec.smoke.as_ref(), &namespaces, &mut cx);
    if spec.channel_namespaces.is_empty() {
        cx.push(
            Finding::warning(
                "channelNamespaces",
                Code::MissingField,
                "the API has no channel namespaces, so clients cannot publish or subscribe",
            )
            .hint("add `channelNamespaces: [{name: default}]`"),
        );
    }
    if let Some(i) = spec
        .api
        .auth_providers
        .iter()
        .position(|p| p.auth_type == AuthType::ApiKey)
        && spec.api_keys.is_empty()
    {
        cx.push(
            Finding::warning(
                index("api.authProviders", i),
                Code::MissingField,
                "API_KEY is configured but the spec declares no apiKeys, so no client can use it",
            )
            .hint("add `apiKeys: [{name: default, expires: 30d}]`"),
        );
    }
    Lowered {
        desired: DesiredState {
            api,
            namespaces,
            keys,
        },
        smoke,
        findings: cx.findings,
        handler_files: cx.handler_files,
    }
}

fn lower_api(api: &types::Api, cx: &mut Cx) -> ApiConfig {
    cx.check("api.name", rules::api_name(&api.name));
    if let Some(contact) = &api.owner_contact {
        cx.check("api.ownerContact", rules::owner_contact(contact));
    }
    // evctl adds its ownership tag to the API, which leaves one fewer for the user.
    let tags = lower_tags(&api.tags, "api.tags", MAX_TAGS - 1, cx);
    let auth_providers = lower_providers(&api.auth_providers, cx);
    let configured: BTreeSet<AuthType> = auth_providers.iter().map(|p| p.auth_type).collect();
    let connection_auth_modes = auth_modes(
        &api.connection_auth_modes,
        "api.connectionAuthModes",
        &configured,
        cx,
    );
    let default_publish_auth_modes = auth_modes(
        &api.default_publish_auth_modes,
        "api.defaultPublishAuthModes",
        &configured,
        cx,
    );
    let default_subscribe_auth_modes = auth_modes(
        &api.default_subscribe_auth_modes,
        "api.defaultSubscribeAuthModes",
        &configured,
        cx,
    );
    let log_config = api.log_config.as_ref().map(|log| {
        cx.check(
            "api.logConfig.cloudWatchLogsRoleArn",
            rules::role_arn(&log.cloud_watch_logs_role_arn),
        );
        model::LogConfig {
            log_level: log.log_level,
            cloud_watch_logs_role_arn: log.cloud_watch_logs_role_arn.clone(),
        }
    });
    let mut config = ApiConfig {
        name: api.name.clone(),
        owner_contact: api.owner_contact.clone(),
        tags,
        auth_providers,
        connection_auth_modes,
        default_publish_auth_modes,
        default_subscribe_auth_modes,
        log_config,
    };
    config.normalise();
    config
}

fn lower_tags(tags: &BTreeMap<String, String>, path: &str, max: usize, cx: &mut Cx) -> Tags {
    if tags.len() > max {
        cx.push(
            Finding::error(path, Code::Limit, format!("{} tags; at most {max} are allowed here", tags.len()))
                .hint(if max < MAX_TAGS {
                    "AppSync allows 50 tags and evctl uses one (evctl:managed-by) to mark the APIs it owns"
                } else {
                    "AppSync allows at most 50 tags per resource"
                }),
        );
    }
    for (key, value) in tags {
        let p = child(path, key);
        if let Err(e) = rules::tag_key(key) {
            let mut f = Finding::error(&p, Code::InvalidValue, e.message).at_key();
            f.hint = e.hint;
            cx.push(f);
        }
        cx.check(&p, rules::tag_value(value));
    }
    tags.clone()
}

fn lower_providers(providers: &[types::AuthProvider], cx: &mut Cx) -> Vec<model::AuthProvider> {
    let path = "api.authProviders";
    if providers.is_empty() {
        cx.push(
            Finding::error(
                path,
                Code::MissingField,
                "`authProviders` is required and must list at least one provider",
            )
            .hint("add e.g. `authProviders: [{authType: API_KEY}]`"),
        );
    }
    if providers.len() > MAX_AUTH_PROVIDERS {
        cx.push(Finding::error(
            index(path, MAX_AUTH_PROVIDERS),
            Code::Limit,
            format!(
                "{} auth providers; AppSync allows at most {MAX_AUTH_PROVIDERS}",
                providers.len()
            ),
        ));
    }
    let mut first_of: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(providers.len());
    for (i, p) in providers.iter().enumerate() {
        let here = index(path, i);
        let t = p.auth_type;
        // The configuration each type needs, and none that belongs to another type.
        let needs = match t {
            AuthType::AmazonCognitoUserPools => Some("cognitoConfig"),
            AuthType::OpenidConnect => Some("openIDConnectConfig"),
            AuthType::AwsLambda => Some("lambdaAuthorizerConfig"),
            AuthType::ApiKey | AuthType::AwsIam => None,
        };
        for (field, present) in [
            ("cognitoConfig", p.cognito_config.is_some()),
            ("openIDConnectConfig", p.open_id_connect_config.is_some()),
            (
                "lambdaAuthorizerConfig",
                p.lambda_authorizer_config.is_some(),
            ),
        ] {
            if present && needs != Some(field) {
                cx.push(
                    Finding::error(
                        child(&here, field),
                        Code::InvalidValue,
                        format!("{field} does not belong to an {t} provider"),
                    )
                    .at_key()
                    .hint(match needs {
                        Some(n) => format!("an {t} provider takes {n}; remove {field}"),
                        None => format!("an {t} provider takes no configuration; remove {field}"),
                    }),
                );
            }
            if !present && needs == Some(field) {
                cx.push(
                    Finding::error(
                        child(&here, field),
                        Code::MissingField,
                        format!("an {t} provider needs {field}"),
                    )
                    .hint(match t {
                        AuthType::AmazonCognitoUserPools => "add `cognitoConfig: {userPoolId: us-east-1_AbCdEf123, awsRegion: us-east-1}`",
                        AuthType::OpenidConnect => "add `openIDConnectConfig: {issuer: https://auth.example.com}`",
                        _ => "add `lambdaAuthorizerConfig: {authorizerUri: arn:aws:lambda:REGION:ACCOUNT:function:NAME}`",
                    }),
                );
            }
        }
        // Identity of a provider: one per type for the singletons, one per pool / issuer+client.
        let identity = match t {
            AuthType::AmazonCognitoUserPools => p
                .cognito_config
                .as_ref()
                .map(|c| format!("{t} user pool {}", c.user_pool_id)),
            AuthType::OpenidConnect => p.open_id_connect_config.as_ref().map(|c| {
                format!(
                    "{t} issuer {}{}",
                    c.issuer,
                    c.client_id
                        .as_deref()
                        .map(|id| format!(" client {id}"))
                        .unwrap_or_default()
                )
            }),
            _ => Some(t.to_string()),
        };
        if let Some(identity) = identity {
            match first_of.get(&identity) {
                Some(first) => cx.push(
                    Finding::error(
                        child(&here, "authType"),
                        Code::Duplicate,
                        match t {
                            AuthType::ApiKey | AuthType::AwsIam | AuthType::AwsLambda => {
                                format!("a second {t} provider; AppSync allows only one")
                            }
                            _ => format!("{identity} is configured twice"),
                        },
                    )
                    .hint(format!(
                        "the first is api.authProviders[{first}]; remove one"
                    )),
                ),
                None => {
                    first_of.insert(identity, i);
                }
            }
        }
        let cognito_config = p.cognito_config.as_ref().map(|c| {
            let cp = child(&here, "cognitoConfig");
            cx.check(
                &child(&cp, "userPoolId"),
                rules::user_pool_id(&c.user_pool_id),
            );
            cx.check(&child(&cp, "awsRegion"), rules::aws_region(&c.aws_region));
            if c.app_id_client_regex.as_deref() == Some("") {
                cx.check(
                    &child(&cp, "appIdClientRegex"),
                    Err(problem(
                        "appIdClientRegex is empty",
                        "remove it, or give a regular expression",
                    )),
                );
            }
            model::CognitoConfig {
                user_pool_id: c.user_pool_id.clone(),
                aws_region: c.aws_region.clone(),
                app_id_client_regex: c.app_id_client_regex.clone(),
            }
        });
        let openid_connect_config = p.open_id_connect_config.as_ref().map(|c| {
            let op = child(&here, "openIDConnectConfig");
            cx.check(&child(&op, "issuer"), rules::issuer(&c.issuer));
            if c.client_id.as_deref() == Some("") {
                cx.check(
                    &child(&op, "clientId"),
                    Err(problem(
                        "clientId is empty",
                        "remove it, or give the client id",
                    )),
                );
            }
            let ms =
                |d: Option<Duration>| d.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            model::OpenIdConnectConfig {
                issuer: c.issuer.clone(),
                client_id: c.client_id.clone(),
                iat_ttl_ms: ms(c
                    .iat_ttl
                    .as_ref()
                    .and_then(|d| cx.duration(&child(&op, "iatTTL"), d, Unit::Millis))),
                auth_ttl_ms: ms(c
                    .auth_ttl
                    .as_ref()
                    .and_then(|d| cx.duration(&child(&op, "authTTL"), d, Unit::Millis))),
            }
        });
        let lambda_authorizer_config = p.lambda_authorizer_config.as_ref().map(|c| {
            let lp = child(&here, "lambdaAuthorizerConfig");
            cx.check(
                &child(&lp, "authorizerUri"),
                rules::lambda_arn(&c.authorizer_uri),
            );
            let ttl_path = child(&lp, "authorizerResultTtlInSeconds");
            let ttl = c
                .authorizer_result_ttl_in_seconds
                .as_ref()
                .and_then(|d| cx.duration(&ttl_path, d, Unit::Seconds));
            let ttl = ttl.and_then(|d| {
                if d > Duration::from_secs(3600) || d.subsec_nanos() != 0 {
                    cx.check(
                        &ttl_path,
                        Err(problem(
                            format!(
                                "{} is not a whole number of seconds from 0 to 3600",
                                show(d)
                            ),
                            "AppSync caches authorizer answers for 0 to 3600 seconds (1h)",
                        )),
                    );
                }
                i32::try_from(d.as_secs()).ok()
            });
            if c.identity_validation_expression.as_deref() == Some("") {
                cx.check(
                    &child(&lp, "identityValidationExpression"),
                    Err(problem(
                        "identityValidationExpression is empty",
                        "remove it, or give a regular expression",
                    )),
                );
            }
            model::LambdaAuthorizerConfig {
                authorizer_uri: c.authorizer_uri.clone(),
                authorizer_result_ttl_in_seconds: ttl,
                identity_validation_expression: c.identity_validation_expression.clone(),
            }
        });
        out.push(model::AuthProvider {
            auth_type: t,
            cognito_config,
            openid_connect_config,
            lambda_authorizer_config,
        });
    }
    out
}

/// Checks an auth-mode list: non-empty, no repeats, each a configured provider type.
fn auth_modes(
    list: &[AuthType],
    path: &str,
    configured: &BTreeSet<AuthType>,
    cx: &mut Cx,
) -> AuthModes {
    if list.is_empty() {
        cx.push(
            Finding::error(
                path,
                Code::MissingField,
                format!(
                    "`{}` is required and must list at least one auth type",
                    last(path)
                ),
            )
            .hint("e.g. [API_KEY]; each must be the authType of one of api.authProviders"),
        );
    }
    let mut seen = AuthModes::new();
    for (i, t) in list.iter().enumerate() {
        let p = index(path, i);
        if !seen.insert(*t) {
            cx.push(
                Finding::error(&p, Code::Duplicate, format!("{t} is listed twice"))
                    .hint("remove the repeat"),
            );
        }
        if !configured.is_empty() && !configured.contains(t) {
            let have: Vec<&str> = configured.iter().map(|t| t.as_str()).collect();
            cx.push(
                Finding::error(&p, Code::Reference, format!("{t} is not a configured auth provider"))
                    .hint(format!(
                        "add `- authType: {t}` to api.authProviders, or use one of the configured types: {}",
                        have.join(", ")
                    )),
            );
        }
    }
    seen
}

fn last(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

fn lower_namespaces(
    list: &[types::ChannelNamespace],
    configured: &BTreeSet<AuthType>,
    cx: &mut Cx,
) -> BTreeMap<String, NamespaceConfig> {
    let path = "channelNamespaces";
    let names: Vec<&str> = list.iter().map(|ns| ns.name.as_str()).collect();
    named(
        &names,
        path,
        ("namespace", "channel namespaces"),
        MAX_NAMESPACES,
        rules::namespace_name,
        cx,
    );
    let mut out = BTreeMap::new();
    for (i, ns) in list.iter().enumerate() {
        let here = index(path, i);
        let overrides = |field: &str, modes: &Option<Vec<AuthType>>, cx: &mut Cx| match modes {
            Some(m) if m.is_empty() => {
                cx.push(
                    Finding::error(child(&here, field), Code::InvalidValue, format!("{field} is empty"))
                        .hint("omit the field to inherit the API's defaults, or list at least one auth type"),
                );
                AuthModes::new()
            }
            Some(m) => auth_modes(m, &child(&here, field), configured, cx),
            None => AuthModes::new(),
        };
        let publish_auth_modes = overrides("publishAuthModes", &ns.publish_auth_modes, cx);
        let subscribe_auth_modes = overrides("subscribeAuthModes", &ns.subscribe_auth_modes, cx);
        let code_handlers = ns
            .code_handlers
            .as_ref()
            .and_then(|c| code(c, &child(&here, "codeHandlers"), cx));
        let handler_configs = lower_handler_configs(ns, &here, cx);
        let tags = lower_tags(&ns.tags, &child(&here, "tags"), MAX_TAGS, cx);
        out.insert(
            ns.name.clone(),
            NamespaceConfig {
                name: ns.name.clone(),
                publish_auth_modes,
                subscribe_auth_modes,
                code_handlers,
                handler_configs,
                tags,
            },
        );
    }
    out
}

/// A list of named items: at most `max`, every name valid by `rule` and unique.
fn named(
    names: &[&str],
    path: &str,
    (one, many): (&str, &str),
    max: usize,
    rule: fn(&str) -> Check,
    cx: &mut Cx,
) {
    if names.len() > max {
        cx.push(
            Finding::error(
                index(path, max),
                Code::Limit,
                format!(
                    "{} {many}; AppSync allows at most {max} per API",
                    names.len()
                ),
            )
            .hint(format!("remove {many} from {path}")),
        );
    }
    let mut first: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, name) in names.iter().enumerate() {
        let name_path = child(&index(path, i), "name");
        cx.check(&name_path, rule(name));
        match first.get(name) {
            Some(f) => cx.push(
                Finding::error(
                    &name_path,
                    Code::Duplicate,
                    format!("{one} `{name}` is declared twice"),
                )
                .hint(format!("the first is {path}[{f}]; names must be unique")),
            ),
            None => {
                first.insert(name, i);
            }
        }
    }
}

fn lower_handler_configs(
    ns: &types::ChannelNamespace,
    here: &str,
    cx: &mut Cx,
) -> model::HandlerConfigs {
    let Some(hc) = &ns.handler_configs else {
        return model::HandlerConfigs::default();
    };
    let hp = child(here, "handlerConfigs");
    let one = |field: &str, c: &Option<types::HandlerConfig>, cx: &mut Cx| {
        let c = c.as_ref()?;
        let p = child(&hp, field);
        cx.check(
            &child(&child(&p, "integration"), "dataSourceName"),
            rules::data_source_name(&c.integration.data_source_name),
        );
        if c.behavior == model::HandlerBehavior::Code && ns.code_handlers.is_none() {
            cx.push(
                Finding::error(child(&p, "behavior"), Code::Reference, format!("{field} has behavior CODE but the namespace has no codeHandlers"))
                    .hint("add codeHandlers (inline or {file: ...}) exporting the handler, or use behavior DIRECT"),
            );
        }
        Some(model::HandlerConfig {
            behavior: c.behavior,
            integration: model::Integration {
                data_source_name: c.integration.data_source_name.clone(),
                invoke_type: c.integration.lambda_config.as_ref().map(|l| l.invoke_type),
            },
        })
    };
    let on_publish = one("onPublish", &hc.on_publish, cx);
    let on_subscribe = one("onSubscribe", &hc.on_subscribe, cx);
    let direct = |c: &Option<model::HandlerConfig>| {
        c.as_ref()
            .is_some_and(|c| c.behavior == model::HandlerBehavior::Direct)
    };
    if ns.code_handlers.is_some() && direct(&on_publish) && direct(&on_subscribe) {
        cx.push(
            Finding::warning(
                child(here, "codeHandlers"),
                Code::InvalidValue,
                "codeHandlers is never run: both onPublish and onSubscribe are DIRECT",
            )
            .at_key()
            .hint("remove codeHandlers, or use behavior CODE"),
        );
    }
    model::HandlerConfigs {
        on_publish,
        on_subscribe,
    }
}

/// The handler source, inline or read from a file relative to the spec (bounded read).
fn code(c: &CodeHandlers, path: &str, cx: &mut Cx) -> Option<String> {
    let source = match c {
        CodeHandlers::Inline(s) => s.clone(),
        CodeHandlers::File(rel) => {
            let file_path = child(path, "file");
            if rel.is_empty() {
                cx.check(
                    &file_path,
                    Err(problem(
                        "the handler file path is empty",
                        "give a path relative to the spec file",
                    )),
                );
                return None;
            }
            let full: PathBuf = if cx.dir == Path::new(".") {
                PathBuf::from(rel)
            } else {
                cx.dir.join(rel)
            };
            cx.handler_files.push(full.clone());
            match read_handler(&full) {
                Ok(s) => s,
                Err(p) => {
                    cx.problem(&file_path, Code::Io, p);
                    return None;
                }
            }
        }
    };
    let n = source.chars().count();
    if source.trim().is_empty() {
        cx.check(
            path,
            Err(problem(
                "the handler code is empty",
                "export onPublish and/or onSubscribe, or remove codeHandlers",
            )),
        );
    } else if n > MAX_CODE_CHARS {
        cx.check(
            path,
            Err(problem(
                format!("the handler code is {n} characters long; AppSync allows at most {MAX_CODE_CHARS}"),
                "shorten the handler (move logic to a Lambda data source with behavior DIRECT)",
            )),
        );
    }
    Some(source)
}

fn read_handler(full: &Path) -> Result<String, Problem> {
    let shown = full.display();
    let meta = std::fs::metadata(full).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => problem(
            format!("handler file {shown} does not exist"),
            "the path is relative to the spec file's directory",
        ),
        _ => problem(
            format!("cannot read handler file {shown}: {e}"),
            "check the path and its permissions",
        ),
    })?;
    if meta.is_dir() {
        return Err(problem(
            format!("handler file {shown} is a directory"),
            "name the handler's .js file",
        ));
    }
    // More than 4 bytes per allowed character cannot fit; don't read further.
    let cap = (MAX_CODE_CHARS * 4 + 1) as u64;
    let mut bytes = Vec::new();
    std::fs::File::open(full)
        .and_then(|f| f.take(cap).read_to_end(&mut bytes))
        .map_err(|e| {
            problem(
                format!("cannot read handler file {shown}: {e}"),
                "check the path and its permissions",
            )
        })?;
    if bytes.len() as u64 >= cap {
        return Err(problem(
            format!(
                "handler file {shown} is larger than AppSync's {MAX_CODE_CHARS}-character limit"
            ),
            "shorten the handler",
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        problem(
            format!(
                "handler file {shown} is not UTF-8 (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
            "save it as UTF-8",
        )
    })
}

fn lower_keys(
    list: &[types::ApiKey],
    configured: &BTreeSet<AuthType>,
    cx: &mut Cx,
) -> BTreeMap<String, KeyConfig> {
    let path = "apiKeys";
    let names: Vec<&str> = list.iter().map(|k| k.name.as_str()).collect();
    named(
        &names,
        path,
        ("API key", "API keys"),
        MAX_KEYS,
        rules::key_name,
        cx,
    );
    if !list.is_empty() && !configured.is_empty() && !configured.contains(&AuthType::ApiKey) {
        cx.push(
            Finding::error(
                path,
                Code::Reference,
                "API keys are declared but API_KEY is not an auth provider",
            )
            .at_key()
            .hint("add `- authType: API_KEY` to api.authProviders, or remove apiKeys"),
        );
    }
    let mut out = BTreeMap::new();
    for (i, key) in list.iter().enumerate() {
        let here = index(path, i);
        let expiry = match &key.expires {
            None => KeyExpiry::Validity {
                seconds: DEFAULT_KEY_VALIDITY.as_secs() as i64,
            },
            Some(e) => expiry(&e.0, &child(&here, "expires"), cx),
        };
        out.insert(
            key.name.clone(),
            KeyConfig {
                name: key.name.clone(),
                description: key.description.clone().filter(|d| !d.is_empty()),
                expiry,
            },
        );
    }
    out
}

fn expiry(raw: &RawScalar, path: &str, cx: &mut Cx) -> KeyExpiry {
    let range = format!(
        "between {} and {}",
        show(MIN_KEY_VALIDITY),
        show(MAX_KEY_VALIDITY)
    );
    let why = "AppSync accepts 1 to 365 days; evctl keeps a margin for the hour AppSync rounds off and for clock skew";
    let placeholder = KeyExpiry::Validity {
        seconds: DEFAULT_KEY_VALIDITY.as_secs() as i64,
    };
    let s = match raw {
        RawScalar::Str(s) => s.trim().to_string(),
        RawScalar::Int(n) => {
            cx.check(
                path,
                Err(problem(
                    format!("a bare number ({n}) is ambiguous here"),
                    "write a validity such as 30d, or an RFC 3339 instant",
                )),
            );
            return placeholder;
        }
        other => {
            let found = match other {
                RawScalar::Float(f) => format!("a number ({f})"),
                RawScalar::Bool(b) => format!("a boolean ({b})"),
                RawScalar::NotScalar(k) => k.to_string(),
                _ => "nothing (null)".into(),
            };
            cx.check(
                path,
                Err(problem(
                    format!("expected a validity or an instant, found {found}"),
                    "write e.g. 30d or 2026-06-30T00:00:00Z",
                )),
            );
            return placeholder;
        }
    };
    if let Ok(at) = OffsetDateTime::parse(&s, &Rfc3339) {
        let ahead = at - cx.now;
        let ok = ahead >= time::Duration::try_from(MIN_KEY_VALIDITY).unwrap_or(time::Duration::MAX)
            && ahead <= time::Duration::try_from(MAX_KEY_VALIDITY).unwrap_or(time::Duration::MAX);
        if !ok {
            let when = if ahead.is_negative() {
                "in the past".to_string()
            } else {
                format!("{} from now", show(ahead.unsigned_abs()))
            };
            cx.check(
                path,
                Err(problem(
                    format!("the key would expire {s}, {when}; it must be {range} from now"),
                    why,
                )),
            );
        }
        return KeyExpiry::At {
            epoch_seconds: at.unix_timestamp(),
        };
    }
    match rules::duration(&RawScalar::Str(s.clone()), Unit::Seconds) {
        Ok(d) if s.chars().all(|c| c.is_ascii_digit()) => {
            cx.check(
                path,
                Err(problem(
                    format!("a bare number ({s}) is ambiguous here"),
                    format!("write a validity such as {}d", d.as_secs() / 86400),
                )),
            );
            placeholder
        }
        Ok(d) => {
            if d < MIN_KEY_VALIDITY || d > MAX_KEY_VALIDITY {
                cx.check(
                    path,
                    Err(problem(
                        format!(
                            "a validity of {} is out of range; it must be {range}",
                            show(d)
                        ),
                        why,
                    )),
                );
            }
            KeyExpiry::Validity {
                seconds: d.as_secs() as i64,
            }
        }
        Err(_) => {
            let hint = if s.len() == 10 && s.as_bytes().get(4) == Some(&b'-') {
                format!("add a time and zone: {s}T00:00:00Z")
            } else {
                "write a validity such as 30d, or an RFC 3339 instant such as 2026-06-30T00:00:00Z"
                    .to_string()
            };
            cx.check(
                path,
                Err(problem(
                    format!("`{s}` is neither a validity (30d) nor an RFC 3339 instant"),
                    hint,
                )),
            );
            placeholder
        }
    }
}

fn lower_smoke(
    smoke: Option<&types::Smoke>,
    namespaces: &BTreeMap<String, NamespaceConfig>,
    cx: &mut Cx,
) -> SmokeConfig {
    let timeout = smoke
        .and_then(|s| s.timeout.as_ref())
        .and_then(|t| cx.duration("smoke.timeout", t, Unit::Seconds))
        .inspect(|t| {
            if *t < Duration::from_millis(100) || *t > Duration::from_secs(3600) {
                cx.check(
                    "smoke.timeout",
                    Err(problem(
                        format!("a timeout of {} is out of range", show(*t)),
                        "use 100ms to 1h, e.g. 10s",
                    )),
                );
            }
        })
        .unwrap_or(DEFAULT_SMOKE_TIMEOUT);
    let given = smoke.map(|s| s.channels.as_slice()).unwrap_or_default();
    let channels = if given.is_empty() {
        namespaces
            .keys()
            .map(|ns| format!("/{ns}/evctl-smoke"))
            .collect()
    } else {
        for (i, ch) in given.iter().enumerate() {
            let p = index("smoke.channels", i);
            if let Err(e) = rules::channel(ch) {
                cx.problem(&p, Code::InvalidValue, e);
                continue;
            }
            let ns = ch
                .trim_start_matches('/')
                .split('/')
                .next()
                .unwrap_or_default();
            if !namespaces.contains_key(ns) {
                let known: Vec<&str> = namespaces.keys().map(String::as_str).collect();
                cx.push(
                    Finding::error(&p, Code::Reference, format!("channel `{ch}` is in namespace `{ns}`, which this spec does not declare"))
                        .hint(if known.is_empty() {
                            "declare the namespace under channelNamespaces".to_string()
                        } else {
                            format!("start the channel with one of: {}", known.join(", "))
                        }),
                );
            }
        }
        given.to_vec()
    };
    SmokeConfig { channels, timeout }
}
