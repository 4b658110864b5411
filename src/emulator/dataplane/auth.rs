//! Authorization of data-plane operations: which auth mode a request uses and whether it
//! passes, for connect, publish and subscribe.
//!
//! The allowed modes come from the caller (connect: the API's connection modes; publish and
//! subscribe: the namespace's modes, else the API defaults); a mode must also be configured as
//! an auth provider of the API. The mode is picked from the headers the way clients send them:
//! `x-api-key` is API_KEY; an `Authorization` starting with `AWS4-HMAC-SHA256` is AWS_IAM; any
//! other `Authorization` is tried as a Cognito or OIDC JWT (when its issuer is the configured
//! one), then as an AWS_LAMBDA token.
//!
//! - API_KEY: the key must exist on this API and not be expired.
//! - AWS_IAM: SigV4 over the operation's signed body, against the emulator's `--credentials`.
//! - Cognito / OIDC: issuer, client id (Cognito `appIdClientRegex`, OIDC `clientId`), `exp`,
//!   OIDC `iatTTL`/`authTTL`; the signature only when a JWKS file was given (`--jwks`).
//! - AWS_LAMBDA: the local stand-in: `--lambda-token` values are allowed; otherwise
//!   `--lambda-authorizer COMMAND` runs with the authorizer request as JSON on stdin and must
//!   print `{"isAuthorized":true|false, "handlerContext":{…}}`.
//!
//! A denial is always an [`ErrorKind::Unauthorized`] error; the reason is logged (`-v`), and is
//! in the message only for IAM, as AWS does.

use std::process::Stdio;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use super::{ApiAuth, DataPlane, DataPlaneError, NOT_AUTHORIZED};
use crate::model::{AuthModes, AuthType, CognitoConfig, OpenIdConnectConfig};
use crate::signing;

/// How long the Lambda authorizer stand-in may run (the AppSync limit for authorizers).
pub const LAMBDA_TIMEOUT: Duration = Duration::from_secs(10);

/// The operation being authorized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation<'a> {
    Connect,
    Publish {
        channel: &'a str,
        namespace: &'a str,
    },
    Subscribe {
        channel: &'a str,
        namespace: &'a str,
    },
}

impl Operation<'_> {
    fn lambda_name(&self) -> &'static str {
        match self {
            Operation::Connect => "EVENT_CONNECT",
            Operation::Publish { .. } => "EVENT_PUBLISH",
            Operation::Subscribe { .. } => "EVENT_SUBSCRIBE",
        }
    }

    fn describe(&self) -> String {
        match self {
            Operation::Connect => "connect".into(),
            Operation::Publish { channel, .. } => format!("publish to {channel}"),
            Operation::Subscribe { channel, .. } => format!("subscribe to {channel}"),
        }
    }
}

/// A request to authorize.
#[derive(Debug)]
pub struct Request<'a> {
    pub api_id: &'a str,
    pub operation: Operation<'a>,
    /// HTTP headers, or the WebSocket authorization object.
    pub headers: &'a [(&'a str, &'a str)],
    /// What an AWS_IAM signature must cover.
    pub signed_body: &'a [u8],
}

/// Who was let in, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub mode: AuthType,
    /// The Lambda stand-in's `handlerContext`.
    pub handler_context: Option<Value>,
    /// The verified token's claims (Cognito and OIDC).
    pub claims: Option<Value>,
}

impl Identity {
    fn of(mode: AuthType) -> Identity {
        Identity {
            mode,
            handler_context: None,
            claims: None,
        }
    }
}

impl Request<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// Authorizes `request` against `allowed` modes of `api`.
pub async fn authorize(
    dp: &DataPlane,
    api: &ApiAuth,
    allowed: &AuthModes,
    request: &Request<'_>,
) -> Result<Identity, DataPlaneError> {
    let usable = |mode: AuthType| allowed.contains(&mode) && api.provider(mode).is_some();
    let result = if let Some(key) = request.header("x-api-key") {
        if usable(AuthType::ApiKey) {
            check_api_key(dp, request, key)
        } else {
            Err(Denial::quiet("API_KEY is not an allowed auth mode here"))
        }
    } else if let Some(authorization) = request.header("authorization") {
        if authorization.starts_with(signing::ALGORITHM) {
            if usable(AuthType::AwsIam) {
                check_iam(dp, request)
            } else {
                Err(Denial::quiet("AWS_IAM is not an allowed auth mode here"))
            }
        } else {
            check_token(dp, api, request, authorization, &usable).await
        }
    } else {
        Err(Denial::quiet("the request carries no authorization"))
    };
    result.map_err(|denial| {
        tracing::info!(
            api = request.api_id,
            "denied {}: {}",
            request.operation.describe(),
            denial.reason
        );
        DataPlaneError::unauthorized(denial.public.unwrap_or_else(|| NOT_AUTHORIZED.into()))
    })
}

/// Why a request was denied: `reason` is logged, `public` (if any) goes on the wire.
struct Denial {
    reason: String,
    public: Option<String>,
}

impl Denial {
    fn quiet(reason: impl Into<String>) -> Denial {
        Denial {
            reason: reason.into(),
            public: None,
        }
    }
}

fn now_epoch() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn check_api_key(dp: &DataPlane, request: &Request<'_>, key: &str) -> Result<Identity, Denial> {
    // Never log the key itself: it is a secret.
    match dp.directory().api_key_expires(request.api_id, key) {
        None => Err(Denial::quiet("the API key does not exist on this API")),
        Some(expires) if expires <= now_epoch() => Err(Denial::quiet(format!(
            "the API key expired at {expires} (epoch seconds)"
        ))),
        Some(_) => Ok(Identity::of(AuthType::ApiKey)),
    }
}

fn check_iam(dp: &DataPlane, request: &Request<'_>) -> Result<Identity, Denial> {
    let settings = dp.settings();
    signing::verify_event_request(
        request.headers,
        signing::SIGNED_PATH,
        request.signed_body,
        &settings.credentials,
        &settings.region,
        SystemTime::now(),
    )
    .map_err(|e| Denial {
        reason: e.to_string(),
        public: Some(e.to_string()),
    })?;
    Ok(Identity::of(AuthType::AwsIam))
}

async fn check_token(
    dp: &DataPlane,
    api: &ApiAuth,
    request: &Request<'_>,
    authorization: &str,
    usable: &(dyn Fn(AuthType) -> bool + Sync),
) -> Result<Identity, Denial> {
    let token = authorization
        .strip_prefix("Bearer ")
        .unwrap_or(authorization)
        .trim();
    if let Some(jwt) = Jwt::parse(token) {
        if usable(AuthType::AmazonCognitoUserPools)
            && let Some(config) = api
                .provider(AuthType::AmazonCognitoUserPools)
                .and_then(|p| p.cognito_config.as_ref())
            && jwt.issuer() == Some(cognito_issuer(config).as_str())
        {
            return check_cognito(dp, &jwt, config).map(|()| Identity {
                claims: Some(jwt.claims.clone()),
                ..Identity::of(AuthType::AmazonCognitoUserPools)
            });
        }
        if usable(AuthType::OpenidConnect)
            && let Some(config) = api
                .provider(AuthType::OpenidConnect)
                .and_then(|p| p.openid_connect_config.as_ref())
            && jwt.issuer().map(|i| i.trim_end_matches('/'))
                == Some(config.issuer.trim_end_matches('/'))
        {
            return check_oidc(dp, &jwt, config).map(|()| Identity {
                claims: Some(jwt.claims.clone()),
                ..Identity::of(AuthType::OpenidConnect)
            });
        }
    }
    if usable(AuthType::AwsLambda) {
        return check_lambda(dp, request, authorization).await;
    }
    Err(Denial::quiet(
        "the Authorization token matches no allowed auth mode (no configured Cognito/OIDC \
         issuer, and AWS_LAMBDA is not allowed here)",
    ))
}

/// A JWT split into its parts (not yet trusted).
struct Jwt<'a> {
    raw: &'a str,
    claims: Value,
}

impl<'a> Jwt<'a> {
    fn parse(raw: &'a str) -> Option<Jwt<'a>> {
        use base64::Engine;
        let mut parts = raw.split('.');
        let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .ok()?;
        let claims: Value = serde_json::from_slice(&bytes).ok()?;
        claims.is_object().then_some(Jwt { raw, claims })
    }

    fn issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }

    fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    fn num_claim(&self, name: &str) -> Option<i64> {
        self.claims
            .get(name)
            .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
    }

    /// `aud` as a list (it may be a string or an array).
    fn audiences(&self) -> Vec<&str> {
        match self.claims.get("aud") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    fn check_expiry(&self) -> Result<(), Denial> {
        match self.num_claim("exp") {
            Some(exp) if exp > now_epoch() => Ok(()),
            Some(exp) => Err(Denial::quiet(format!("the token expired at {exp}"))),
            None => Err(Denial::quiet("the token has no exp claim")),
        }
    }

    /// Verifies the signature against the JWKS, when one was configured.
    fn check_signature(&self, dp: &DataPlane) -> Result<(), Denial> {
        let Some(jwks) = dp.settings().jwks.as_ref() else {
            return Ok(());
        };
        let header = jsonwebtoken::decode_header(self.raw)
            .map_err(|e| Denial::quiet(format!("unreadable token header: {e}")))?;
        let jwk = match header.kid.as_deref() {
            Some(kid) => jwks.find(kid),
            None if jwks.keys.len() == 1 => jwks.keys.first(),
            None => None,
        }
        .ok_or_else(|| Denial::quiet("no key in the JWKS matches the token's kid"))?;
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk)
            .map_err(|e| Denial::quiet(format!("unusable JWKS key: {e}")))?;
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        // Claims are checked by the callers, with AppSync's rules.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<Value>(self.raw, &key, &validation)
            .map(|_| ())
            .map_err(|e| Denial::quiet(format!("bad token signature: {e}")))
    }
}

fn cognito_issuer(config: &CognitoConfig) -> String {
    format!(
        "https://cognito-idp.{}.amazonaws.com/{}",
        config.aws_region, config.user_pool_id
    )
}

fn check_cognito(dp: &DataPlane, jwt: &Jwt<'_>, config: &CognitoConfig) -> Result<(), Denial> {
    jwt.check_expiry()?;
    if let Some(token_use) = jwt.str_claim("token_use")
        && token_use != "id"
        && token_use != "access"
    {
        return Err(Denial::quiet(format!(
            "token_use '{token_use}' is not id or access"
        )));
    }
    if let Some(pattern) = config
        .app_id_client_regex
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        let regex = regex_lite::Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|e| Denial::quiet(format!("appIdClientRegex does not compile: {e}")))?;
        // ID tokens name the app client in aud, access tokens in client_id.
        let client = jwt
            .str_claim("client_id")
            .or(jwt.audiences().first().copied());
        if !client.is_some_and(|c| regex.is_match(c)) {
            return Err(Denial::quiet(format!(
                "app client {client:?} does not match appIdClientRegex"
            )));
        }
    }
    jwt.check_signature(dp)
}

fn check_oidc(dp: &DataPlane, jwt: &Jwt<'_>, config: &OpenIdConnectConfig) -> Result<(), Denial> {
    jwt.check_expiry()?;
    if let Some(client_id) = config.client_id.as_deref().filter(|c| !c.is_empty()) {
        let named = jwt.audiences().contains(&client_id)
            || jwt.str_claim("azp") == Some(client_id)
            || jwt.str_claim("client_id") == Some(client_id);
        if !named {
            return Err(Denial::quiet(format!(
                "the token is not for client id {client_id}"
            )));
        }
    }
    let now_ms = now_epoch() * 1000;
    if let Some(ttl) = config.iat_ttl_ms.filter(|t| *t > 0) {
        let iat = jwt
            .num_claim("iat")
            .ok_or_else(|| Denial::quiet("iatTTL is set but the token has no iat"))?;
        if now_ms - iat * 1000 > ttl {
            return Err(Denial::quiet(format!(
                "the token was issued more than {ttl} ms ago"
            )));
        }
    }
    if let Some(ttl) = config.auth_ttl_ms.filter(|t| *t > 0) {
        let auth_time = jwt
            .num_claim("auth_time")
            .or_else(|| jwt.num_claim("iat"))
            .ok_or_else(|| Denial::quiet("authTTL is set but the token has no auth_time or iat"))?;
        if now_ms - auth_time * 1000 > ttl {
            return Err(Denial::quiet(format!(
                "the user authenticated more than {ttl} ms ago"
            )));
        }
    }
    jwt.check_signature(dp)
}

/// The response of the Lambda authorizer stand-in.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LambdaResponse {
    is_authorized: bool,
    #[serde(default)]
    handler_context: Option<Value>,
}

async fn check_lambda(
    dp: &DataPlane,
    request: &Request<'_>,
    token: &str,
) -> Result<Identity, Denial> {
    let settings = dp.settings();
    if settings.lambda_tokens.iter().any(|t| t == token) {
        return Ok(Identity::of(AuthType::AwsLambda));
    }
    let Some(command) = settings.lambda_authorizer.as_deref() else {
        return Err(Denial::quiet(if settings.lambda_tokens.is_empty() {
            "AWS_LAMBDA: no local stand-in is configured (start the emulator with \
             --lambda-token or --lambda-authorizer)"
        } else {
            "AWS_LAMBDA: the token is not among the --lambda-token values"
        }));
    };
    let input = lambda_request(dp, request, token);
    let response = run_authorizer(command, &input)
        .await
        .map_err(|e| Denial::quiet(format!("AWS_LAMBDA stand-in `{command}`: {e:#}")))?;
    if response.is_authorized {
        Ok(Identity {
            handler_context: response.handler_context,
            ..Identity::of(AuthType::AwsLambda)
        })
    } else {
        Err(Denial::quiet(
            "AWS_LAMBDA stand-in answered isAuthorized=false",
        ))
    }
}

/// The request given to the Lambda authorizer stand-in (AppSync's authorizer event, with the
/// Event API's operation and channel in `requestContext`).
fn lambda_request(dp: &DataPlane, request: &Request<'_>, token: &str) -> Value {
    let (namespace, channel) = match request.operation {
        Operation::Connect => (None, None),
        Operation::Publish { channel, namespace } | Operation::Subscribe { channel, namespace } => {
            (Some(namespace), Some(channel))
        }
    };
    let headers: serde_json::Map<String, Value> = request
        .headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("authorization"))
        .map(|(k, v)| (k.to_ascii_lowercase(), Value::String(v.to_string())))
        .collect();
    json!({
        "authorizationToken": token,
        "requestContext": {
            "apiId": request.api_id,
            "accountId": dp.settings().account_id,
            "requestId": uuid::Uuid::new_v4().to_string(),
            "operation": request.operation.lambda_name(),
            "channelNamespaceName": namespace,
            "channel": channel,
        },
        "requestHeaders": headers,
    })
}

async fn run_authorizer(command: &str, input: &Value) -> anyhow::Result<LambdaResponse> {
    use anyhow::Context;
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("could not start it")?;
    let mut stdin = child.stdin.take().context("no stdin")?;
    // One line of JSON, newline-terminated, so that line-based scripts (`read`) work too.
    let mut bytes = serde_json::to_vec(input)?;
    bytes.push(b'\n');
    let run = async move {
        // A command that does not read its input must not make us fail.
        let _ = stdin.write_all(&bytes).await;
        drop(stdin);
        child.wait_with_output().await
    };
    let output = tokio::time::timeout(LAMBDA_TIMEOUT, run)
        .await
        .map_err(|_| anyhow::anyhow!("timed out after {LAMBDA_TIMEOUT:?}"))?
        .context("failed while running")?;
    if !output.status.success() {
        anyhow::bail!("exited with {}", output.status);
    }
    serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "printed {:?}, not {{\"isAuthorized\":true|false,…}}",
            String::from_utf8_lossy(&output.stdout)
                .chars()
                .take(200)
                .collect::<String>()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{directory, modes};
    use super::super::{ApiAuth, Settings};
    use super::*;
    use crate::model::AuthProvider;
    use std::sync::Arc;

    fn dp(settings: Settings) -> Arc<DataPlane> {
        DataPlane::new(directory(), settings)
    }

    fn api_with(providers: Vec<AuthProvider>) -> ApiAuth {
        let all: AuthModes = providers.iter().map(|p| p.auth_type).collect();
        ApiAuth {
            providers,
            connection_modes: all.clone(),
            default_publish_modes: all.clone(),
            default_subscribe_modes: all,
        }
    }

    fn provider(auth_type: AuthType) -> AuthProvider {
        AuthProvider {
            auth_type,
            cognito_config: None,
            openid_connect_config: None,
            lambda_authorizer_config: None,
        }
    }

    fn jwt(claims: Value) -> String {
        use base64::Engine;
        let b64 = |v: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(serde_json::to_vec(v).unwrap_or_default())
        };
        format!(
            "{}.{}.sig",
            b64(&json!({"alg":"RS256","typ":"JWT"})),
            b64(&claims)
        )
    }

    async fn check(
        dp: &DataPlane,
        api: &ApiAuth,
        allowed: &[AuthType],
        headers: &[(&str, &str)],
    ) -> Result<Identity, DataPlaneError> {
        let request = Request {
            api_id: "api1",
            operation: Operation::Publish {
                channel: "/default/a",
                namespace: "default",
            },
            headers,
            signed_body: b"{}",
        };
        authorize(dp, api, &modes(allowed), &request).await
    }

    #[tokio::test]
    async fn api_keys_must_exist_and_be_current_and_allowed() {
        let dp = dp(Settings::default());
        let api = api_with(vec![provider(AuthType::ApiKey), provider(AuthType::AwsIam)]);
        let ok = check(&dp, &api, &[AuthType::ApiKey], &[("X-Api-Key", "da2-good")]).await;
        assert_eq!(ok.map(|i| i.mode), Ok(AuthType::ApiKey));
        for (headers, allowed) in [
            (&[("x-api-key", "da2-old")][..], &[AuthType::ApiKey][..]),
            (&[("x-api-key", "da2-nope")][..], &[AuthType::ApiKey][..]),
            (&[("x-api-key", "da2-good")][..], &[AuthType::AwsIam][..]),
            (&[][..], &[AuthType::ApiKey][..]),
        ] {
            let err = check(&dp, &api, allowed, headers)
                .await
                .expect_err("denied");
            assert_eq!(
                err,
                DataPlaneError::unauthorized(NOT_AUTHORIZED),
                "{headers:?}"
            );
        }
    }

    fn refs(map: &std::collections::BTreeMap<String, String>) -> Vec<(&str, &str)> {
        map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    #[tokio::test]
    async fn iam_signatures_are_verified_against_the_configured_credentials() {
        let dp = dp(Settings::default());
        let api = api_with(vec![provider(AuthType::AwsIam)]);
        let signed_with = |secret: &str| {
            let creds = signing::Credentials::new("test", secret, None);
            signing::sign_event_request(&creds, "us-east-1", "h", "{}", SystemTime::now())
                .expect("signs")
        };
        let (good, bad) = (signed_with("test"), signed_with("wrong"));
        let ok = check(&dp, &api, &[AuthType::AwsIam], &refs(&good)).await;
        assert_eq!(ok.map(|i| i.mode), Ok(AuthType::AwsIam));
        let err = check(&dp, &api, &[AuthType::AwsIam], &refs(&bad))
            .await
            .expect_err("bad signature");
        assert!(err.message.contains("signature we calculated"), "{err}");
    }

    #[tokio::test]
    async fn oidc_tokens_are_checked_for_issuer_client_and_lifetimes() {
        let dp = dp(Settings::default());
        let mut oidc = provider(AuthType::OpenidConnect);
        oidc.openid_connect_config = Some(OpenIdConnectConfig {
            issuer: "https://issuer.example/".into(),
            client_id: Some("app".into()),
            iat_ttl_ms: Some(60_000),
            auth_ttl_ms: None,
        });
        let api = api_with(vec![oidc]);
        let now = now_epoch();
        let claims = |f: &dyn Fn(&mut Value)| {
            let mut c = json!({"iss":"https://issuer.example","aud":"app","exp":now+60,"iat":now});
            f(&mut c);
            jwt(c)
        };
        let allowed = [AuthType::OpenidConnect];
        let good = claims(&|_| {});
        let bearer = format!("Bearer {good}");
        for token in [&good, &bearer] {
            let ok = check(&dp, &api, &allowed, &[("Authorization", token)]).await;
            assert_eq!(ok.map(|i| i.mode), Ok(AuthType::OpenidConnect));
        }
        for bad in [
            claims(&|c| c["exp"] = json!(now - 1)),
            claims(&|c| c["aud"] = json!("other")),
            claims(&|c| c["iat"] = json!(now - 3600)),
            claims(&|c| c["iss"] = json!("https://elsewhere")),
            "not-a-jwt".to_string(),
        ] {
            assert!(
                check(&dp, &api, &allowed, &[("authorization", &bad)])
                    .await
                    .is_err(),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn cognito_tokens_match_the_pool_and_the_app_client_regex() {
        let dp = dp(Settings::default());
        let mut cognito = provider(AuthType::AmazonCognitoUserPools);
        cognito.cognito_config = Some(CognitoConfig {
            user_pool_id: "us-east-1_pool".into(),
            aws_region: "us-east-1".into(),
            app_id_client_regex: Some("client-[0-9]+".into()),
        });
        let api = api_with(vec![cognito]);
        let iss = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool";
        let exp = now_epoch() + 60;
        let allowed = [AuthType::AmazonCognitoUserPools];
        let access = jwt(json!({"iss":iss,"exp":exp,"token_use":"access","client_id":"client-42"}));
        let id = jwt(json!({"iss":iss,"exp":exp,"token_use":"id","aud":"client-7"}));
        for token in [&access, &id] {
            let ok = check(&dp, &api, &allowed, &[("Authorization", token)]).await;
            assert_eq!(ok.map(|i| i.mode), Ok(AuthType::AmazonCognitoUserPools));
        }
        let wrong_client =
            jwt(json!({"iss":iss,"exp":exp,"token_use":"access","client_id":"client-x"}));
        let refresh = jwt(json!({"iss":iss,"exp":exp,"token_use":"refresh","aud":"client-1"}));
        for token in [wrong_client, refresh] {
            assert!(
                check(&dp, &api, &allowed, &[("Authorization", &token)])
                    .await
                    .is_err()
            );
        }
    }

    #[tokio::test]
    async fn the_lambda_stand_in_allows_listed_tokens_or_asks_the_command() {
        let api = api_with(vec![provider(AuthType::AwsLambda)]);
        let allowed = [AuthType::AwsLambda];
        let dp_tokens = dp(Settings {
            lambda_tokens: vec!["let-me-in".into()],
            ..Settings::default()
        });
        let ok = check(
            &dp_tokens,
            &api,
            &allowed,
            &[("Authorization", "let-me-in")],
        )
        .await;
        assert_eq!(ok.map(|i| i.mode), Ok(AuthType::AwsLambda));
        assert!(
            check(&dp_tokens, &api, &allowed, &[("Authorization", "nope")])
                .await
                .is_err()
        );

        // The command sees the request on stdin and allows tokens starting with "ok".
        let dp_cmd = dp(Settings {
            lambda_authorizer: Some(
                r#"grep -q '"authorizationToken":"ok' && echo '{"isAuthorized":true,"handlerContext":{"user":"u1"}}' || echo '{"isAuthorized":false}'"#
                    .into(),
            ),
            ..Settings::default()
        });
        let ok = check(&dp_cmd, &api, &allowed, &[("Authorization", "ok-123")])
            .await
            .expect("allowed");
        assert_eq!(ok.handler_context, Some(json!({"user":"u1"})));
        assert!(
            check(&dp_cmd, &api, &allowed, &[("Authorization", "ko")])
                .await
                .is_err()
        );
        let dp_broken = dp(Settings {
            lambda_authorizer: Some("echo not-json".into()),
            ..Settings::default()
        });
        assert!(
            check(&dp_broken, &api, &allowed, &[("Authorization", "x")])
                .await
                .is_err()
        );
    }

    #[test]
    fn the_lambda_request_names_the_operation_and_channel_but_not_the_token_header() {
        let dp = dp(Settings::default());
        let request = Request {
            api_id: "api1",
            operation: Operation::Subscribe {
                channel: "/default/a",
                namespace: "default",
            },
            headers: &[("Authorization", "tok"), ("host", "h")],
            signed_body: b"",
        };
        let v = lambda_request(&dp, &request, "tok");
        assert_eq!(v["authorizationToken"], "tok");
        assert_eq!(v["requestContext"]["operation"], "EVENT_SUBSCRIBE");
        assert_eq!(v["requestContext"]["channel"], "/default/a");
        assert_eq!(v["requestContext"]["channelNamespaceName"], "default");
        assert_eq!(v["requestHeaders"], json!({"host":"h"}));
    }
}
