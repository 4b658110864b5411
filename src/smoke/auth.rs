//! Credentials for each auth mode and the headers each one puts on a data-plane request:
//! `x-api-key` for API_KEY, `Authorization: <token>` for Cognito, OIDC and Lambda, and SigV4
//! (via [`crate::signing`]) for AWS_IAM. Where a mode has no credentials, the reason is kept so
//! that the smoke test can report the mode as skipped and say how to supply them.

use std::collections::BTreeMap;

use std::time::SystemTime;

use crate::model::{AuthType, Secret};
use crate::signing;
use crate::wire::Authorization;

/// What proves who we are, for one auth mode. Values are secrets: `Debug` never shows them.
#[derive(Clone)]
pub enum Credential {
    /// An API key of the spec, by its evctl name.
    ApiKey { name: String, key: Secret },
    /// A bearer token for AMAZON_COGNITO_USER_POOLS, OPENID_CONNECT or AWS_LAMBDA.
    Token { mode: AuthType, token: Secret },
    /// AWS credentials and the API's region, for SigV4.
    Iam {
        credentials: signing::Credentials,
        region: String,
    },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::ApiKey { name, .. } => write!(f, "ApiKey({name})"),
            Credential::Token { mode, .. } => write!(f, "Token({mode})"),
            Credential::Iam { region, .. } => write!(f, "Iam({region})"),
        }
    }
}

impl Credential {
    pub fn mode(&self) -> AuthType {
        match self {
            Credential::ApiKey { .. } => AuthType::ApiKey,
            Credential::Token { mode, .. } => *mode,
            Credential::Iam { .. } => AuthType::AwsIam,
        }
    }

    /// The authorization object of a real-time message (or, with `body` `{}`, of the connection)
    /// for an API whose HTTP host is `http_host`. For IAM, `body` is the JSON the protocol says
    /// to sign: `{}` to connect, `{"channel":…}` to subscribe, `{"channel":…,"events":[…]}` to
    /// publish.
    pub fn ws_authorization(&self, http_host: &str, body: &str) -> anyhow::Result<Authorization> {
        let mut auth = Authorization::new();
        auth.insert("host".to_string(), http_host.to_string());
        match self {
            Credential::ApiKey { key, .. } => {
                auth.insert("x-api-key".to_string(), key.expose().to_string());
            }
            Credential::Token { token, .. } => {
                auth.insert("Authorization".to_string(), token.expose().to_string());
            }
            Credential::Iam {
                credentials,
                region,
            } => {
                auth = signing::sign_event_request(
                    credentials,
                    region,
                    http_host,
                    body,
                    SystemTime::now(),
                )?;
            }
        }
        Ok(auth)
    }

    /// The auth headers of an HTTP publish of `body` to the API whose HTTP host is `http_host`
    /// (for IAM: the signed content headers too, but not `host`, which the HTTP client sets
    /// from the URL to the same value).
    pub fn http_headers(
        &self,
        http_host: &str,
        body: &str,
    ) -> anyhow::Result<Vec<(String, String)>> {
        Ok(match self {
            Credential::ApiKey { key, .. } => {
                vec![("x-api-key".to_string(), key.expose().to_string())]
            }
            Credential::Token { token, .. } => {
                vec![("Authorization".to_string(), token.expose().to_string())]
            }
            Credential::Iam {
                credentials,
                region,
            } => signing::sign_event_request(
                credentials,
                region,
                http_host,
                body,
                SystemTime::now(),
            )?
            .into_iter()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
            .collect(),
        })
    }
}

/// For each auth mode: a credential, or why there is none.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    modes: BTreeMap<AuthType, Result<Credential, String>>,
}

impl Credentials {
    pub fn set(&mut self, mode: AuthType, credential: Result<Credential, String>) {
        self.modes.insert(mode, credential);
    }

    /// The credential for `mode`, or the reason there is none.
    pub fn get(&self, mode: AuthType) -> Result<&Credential, String> {
        match self.modes.get(&mode) {
            Some(Ok(c)) => Ok(c),
            Some(Err(reason)) => Err(reason.clone()),
            None => Err(format!("evctl has no credentials for {mode}")),
        }
    }

    /// The first mode of `modes` that has a credential, preferring `preferred`.
    pub fn pick(
        &self,
        preferred: AuthType,
        modes: &crate::model::AuthModes,
    ) -> Option<&Credential> {
        if modes.contains(&preferred)
            && let Ok(c) = self.get(preferred)
        {
            return Some(c);
        }
        modes.iter().find_map(|m| self.get(*m).ok())
    }
}

/// The flag and environment variable that supply a token for `mode`, for skip reasons and
/// the README.
pub fn token_source(mode: AuthType) -> Option<(&'static str, &'static str)> {
    match mode {
        AuthType::AmazonCognitoUserPools => Some(("--cognito-token", "EVCTL_COGNITO_TOKEN")),
        AuthType::OpenidConnect => Some(("--oidc-token", "EVCTL_OIDC_TOKEN")),
        AuthType::AwsLambda => Some(("--lambda-token", "EVCTL_LAMBDA_TOKEN")),
        AuthType::ApiKey | AuthType::AwsIam => None,
    }
}

/// A token credential from a flag or variable, or the skip reason naming both.
pub fn token_credential(mode: AuthType, token: Option<&str>) -> Result<Credential, String> {
    match token.map(str::trim).filter(|t| !t.is_empty()) {
        Some(token) => Ok(Credential::Token {
            mode,
            token: Secret::new(token),
        }),
        None => {
            let (flag, var) = token_source(mode).unwrap_or(("", ""));
            Err(format!("no token: set {var} or pass {flag}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_and_tokens_become_the_documented_headers() {
        let key = Credential::ApiKey {
            name: "default".into(),
            key: Secret::new("da2-secret"),
        };
        let auth = key.ws_authorization("h.example:443", "{}").expect("auth");
        assert_eq!(auth.get("host").map(String::as_str), Some("h.example:443"));
        assert_eq!(
            auth.get("x-api-key").map(String::as_str),
            Some("da2-secret")
        );
        assert_eq!(
            key.http_headers("h", "{}").expect("headers"),
            vec![("x-api-key".to_string(), "da2-secret".to_string())]
        );
        assert!(!format!("{key:?}").contains("da2-secret"));

        let token = token_credential(AuthType::OpenidConnect, Some("jwt")).expect("token");
        let auth = token.ws_authorization("h", "{}").expect("auth");
        assert_eq!(auth.get("Authorization").map(String::as_str), Some("jwt"));
        assert_eq!(token.mode(), AuthType::OpenidConnect);
    }

    #[test]
    fn iam_signs_what_the_protocol_says_and_leaves_host_to_the_http_client() {
        let iam = Credential::Iam {
            credentials: signing::Credentials::new("AKIDEXAMPLE", "secret", None),
            region: "eu-west-1".into(),
        };
        let body = signing::subscribe_body("/default/x");
        let auth = iam.ws_authorization("h.example", &body).expect("signs");
        assert_eq!(auth.get("host").map(String::as_str), Some("h.example"));
        let authorization = auth.get("Authorization").expect("signature");
        assert!(
            authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
            "{authorization}"
        );
        assert!(authorization.contains("/eu-west-1/appsync/aws4_request"));
        let headers = iam.http_headers("h.example", &body).expect("signs");
        assert!(headers.iter().all(|(name, _)| name != "host"));
        assert!(
            headers
                .iter()
                .any(|(name, v)| name == "content-type" && v == "application/json; charset=UTF-8")
        );
        assert!(!format!("{iam:?}").contains("secret"));
    }

    #[test]
    fn a_missing_token_names_its_flag_and_variable() {
        let reason =
            token_credential(AuthType::AwsLambda, Some("  ")).expect_err("blank is missing");
        assert_eq!(
            reason,
            "no token: set EVCTL_LAMBDA_TOKEN or pass --lambda-token"
        );
    }

    #[test]
    fn pick_prefers_the_mode_under_test() {
        let mut creds = Credentials::default();
        creds.set(
            AuthType::ApiKey,
            Ok(Credential::ApiKey {
                name: "k".into(),
                key: Secret::new("v"),
            }),
        );
        creds.set(
            AuthType::AwsLambda,
            token_credential(AuthType::AwsLambda, Some("t")),
        );
        creds.set(AuthType::OpenidConnect, Err("none".into()));
        let both = crate::model::AuthModes::from([AuthType::ApiKey, AuthType::AwsLambda]);
        let picked = creds.pick(AuthType::AwsLambda, &both).map(Credential::mode);
        assert_eq!(picked, Some(AuthType::AwsLambda));
        let oidc_only = crate::model::AuthModes::from([AuthType::OpenidConnect]);
        assert!(creds.pick(AuthType::ApiKey, &oidc_only).is_none());
        let fallback = creds
            .pick(AuthType::OpenidConnect, &both)
            .map(Credential::mode);
        assert_eq!(fallback, Some(AuthType::ApiKey));
    }
}
