//! SigV4 for the Event API data plane: signing the "virtual" requests that AWS_IAM clients
//! attach to WebSocket messages and HTTP publishes, and verifying them in the emulator.
//!
//! AppSync Events authorizes every IAM operation as if it were `POST https://{dns.HTTP}/event`
//! signed for service `appsync`, whatever transport carries it. The body that is signed depends
//! on the operation ([`connect_body`], [`subscribe_body`], [`publish_body`]); for an HTTP publish
//! it is the real request body. The signed headers travel as a JSON object (the WebSocket
//! `header-…` subprotocol or a message's `authorization` field) or as real HTTP headers.
//!
//! Both directions go through the `aws-sigv4` crate: [`sign_event_request`] signs, and
//! [`verify_event_request`] recomputes the signature over exactly the headers the client says it
//! signed (its `SignedHeaders`) and compares. Nothing here does I/O or knows about the emulator.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use serde::Serialize;

/// The SigV4 service name of the Event API data plane.
pub const SERVICE: &str = "appsync";
/// The path every virtual request is signed for.
pub const SIGNED_PATH: &str = "/event";
/// The signing algorithm (the only one AppSync accepts here).
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far a request's `x-amz-date` may be from the verifier's clock.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// Headers every signed event request carries besides `host` and the signature headers, with
/// the values the AWS clients use ([WS-DOC]; Amplify `authHeaders.ts`).
pub const SIGNED_CONTENT_HEADERS: [(&str, &str); 3] = [
    ("accept", "application/json, text/javascript"),
    ("content-encoding", "amz-1.0"),
    ("content-type", "application/json; charset=UTF-8"),
];

/// AWS credentials for signing or for checking signatures.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl Credentials {
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Credentials {
        Credentials {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token,
        }
    }

    /// Parses `ACCESS_KEY_ID:SECRET_ACCESS_KEY` (the emulator's `--credentials`).
    pub fn parse(s: &str) -> Result<Credentials, String> {
        match s.split_once(':') {
            Some((id, secret)) if !id.is_empty() && !secret.is_empty() => {
                Ok(Credentials::new(id, secret, None))
            }
            // Never echo the input: it may be a secret pasted without its colon.
            _ => Err("expected ACCESS_KEY_ID:SECRET_ACCESS_KEY (both non-empty)".to_string()),
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"(sensitive)")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "(sensitive)"),
            )
            .finish()
    }
}

/// The body signed to authorize a WebSocket connection.
pub fn connect_body() -> &'static str {
    "{}"
}

/// The body signed to authorize a subscription: `{"channel":"<channel as sent>"}`.
pub fn subscribe_body(channel: &str) -> String {
    #[derive(Serialize)]
    struct Body<'a> {
        channel: &'a str,
    }
    serde_json::to_string(&Body { channel }).unwrap_or_default()
}

/// The body signed to authorize a WebSocket publish, and sent as the body of an HTTP publish:
/// `{"channel":"<channel>","events":["<event json>",…]}`.
pub fn publish_body(channel: &str, events: &[String]) -> String {
    #[derive(Serialize)]
    struct Body<'a> {
        channel: &'a str,
        events: &'a [String],
    }
    serde_json::to_string(&Body { channel, events }).unwrap_or_default()
}

/// Why a request could not be signed.
#[derive(Debug, thiserror::Error)]
#[error("could not sign the event request: {0}")]
pub struct SignError(String);

/// Signs a virtual `POST https://{host}/event` with `body` and returns the headers to send: the
/// content headers of [`SIGNED_CONTENT_HEADERS`], `host`, `x-amz-date`, `X-Amz-Security-Token`
/// (temporary credentials only) and `Authorization`.
///
/// Use the map as is for a WebSocket `authorization` object or `header-` subprotocol. For an
/// HTTP publish, send the same headers except `host` (the HTTP client sets that one from the
/// URL, and it must equal `host` here), with `body` as the request body.
pub fn sign_event_request(
    credentials: &Credentials,
    region: &str,
    host: &str,
    body: &str,
    time: SystemTime,
) -> Result<BTreeMap<String, String>, SignError> {
    let mut headers: Vec<(&str, &str)> = SIGNED_CONTENT_HEADERS.to_vec();
    headers.push(("host", host));
    let output = compute(
        "POST",
        credentials,
        region,
        SIGNED_PATH,
        &headers,
        body.as_bytes(),
        time,
    )
    .map_err(SignError)?;
    let mut map: BTreeMap<String, String> = headers
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (name, value) in output.output().headers() {
        let name = match name {
            "authorization" => "Authorization",
            "x-amz-security-token" => "X-Amz-Security-Token",
            other => other,
        };
        map.insert(name.to_string(), value.to_string());
    }
    Ok(map)
}

/// Why a signature was rejected. The messages are those AWS gives for the same faults.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("Authorization header requires a valid AWS4-HMAC-SHA256 signature ({0}).")]
    Malformed(String),
    #[error("The security token included in the request is invalid.")]
    UnknownAccessKey,
    #[error("Credential should be scoped to a valid region and to the service 'appsync'.")]
    WrongScope,
    #[error("Authorization header requires '{0}' to be signed and present.")]
    MissingSignedHeader(String),
    #[error("Signature expired: {0} is outside the allowed clock skew of 15 minutes.")]
    Expired(String),
    #[error(
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method."
    )]
    SignatureMismatch,
}

/// Checks a SigV4 signature over a virtual (or real) `POST {path}` with `body`.
///
/// `headers` are the request's headers or the WebSocket authorization object (names are
/// matched without regard to case). The signature is recomputed over exactly the headers listed
/// in its `SignedHeaders`, with the signer's `x-amz-date`, and must have been made with
/// `expected`'s key pair for `region` and service `appsync`. A session token, if signed, is
/// taken from the request (the emulator has no STS to check it against).
pub fn verify_event_request(
    headers: &[(&str, &str)],
    path: &str,
    body: &[u8],
    expected: &Credentials,
    region: &str,
    now: SystemTime,
) -> Result<(), VerifyError> {
    verify_request("POST", path, headers, body, expected, region, now)
}

/// [`verify_event_request`] for any method and request target (`path` may carry a query
/// string, still percent-encoded as received): the emulator's control plane checks real SDK
/// requests with it.
pub fn verify_request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    expected: &Credentials,
    region: &str,
    now: SystemTime,
) -> Result<(), VerifyError> {
    let lookup = |name: &str| -> Option<String> {
        let values: Vec<&str> = headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    };
    let authorization = lookup("authorization")
        .ok_or_else(|| VerifyError::Malformed("no Authorization header".into()))?;
    let parsed = ParsedAuthorization::parse(&authorization)?;
    if parsed.access_key_id != expected.access_key_id {
        return Err(VerifyError::UnknownAccessKey);
    }
    if parsed.service != SERVICE || parsed.region != region {
        return Err(VerifyError::WrongScope);
    }
    let amz_date = lookup("x-amz-date")
        .ok_or_else(|| VerifyError::MissingSignedHeader("x-amz-date".into()))?;
    let signed_at = parse_amz_date(&amz_date)
        .ok_or_else(|| VerifyError::Malformed(format!("bad x-amz-date {amz_date:?}")))?;
    if !amz_date.starts_with(parsed.date) {
        return Err(VerifyError::Malformed(
            "credential scope date does not match x-amz-date".into(),
        ));
    }
    let skew = match now.duration_since(signed_at) {
        Ok(d) => d,
        Err(e) => e.duration(),
    };
    if skew > MAX_CLOCK_SKEW {
        return Err(VerifyError::Expired(amz_date));
    }

    // The signer adds host, x-amz-date and the session token itself; everything else the
    // client signed is passed through verbatim.
    let session_token = if parsed.signed_headers.contains(&"x-amz-security-token") {
        Some(
            lookup("x-amz-security-token")
                .ok_or_else(|| VerifyError::MissingSignedHeader("x-amz-security-token".into()))?,
        )
    } else {
        None
    };
    let mut owned: Vec<(String, String)> = Vec::new();
    for name in &parsed.signed_headers {
        if matches!(*name, "x-amz-date" | "x-amz-security-token") {
            continue;
        }
        let value =
            lookup(name).ok_or_else(|| VerifyError::MissingSignedHeader(name.to_string()))?;
        owned.push((name.to_string(), value));
    }
    if !owned.iter().any(|(k, _)| k == "host") {
        return Err(VerifyError::MissingSignedHeader("host".into()));
    }
    let signing_headers: Vec<(&str, &str)> = owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let credentials = Credentials {
        session_token,
        ..expected.clone()
    };
    let output = compute(
        method,
        &credentials,
        region,
        path,
        &signing_headers,
        body,
        signed_at,
    )
    .map_err(VerifyError::Malformed)?;
    if constant_time_eq(output.signature().as_bytes(), parsed.signature.as_bytes()) {
        Ok(())
    } else {
        Err(VerifyError::SignatureMismatch)
    }
}

struct ParsedAuthorization<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

impl<'a> ParsedAuthorization<'a> {
    fn parse(value: &'a str) -> Result<ParsedAuthorization<'a>, VerifyError> {
        let rest = value
            .strip_prefix(ALGORITHM)
            .ok_or_else(|| VerifyError::Malformed(format!("algorithm must be {ALGORITHM}")))?;
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let part = part.trim();
            if let Some(v) = part.strip_prefix("Credential=") {
                credential = Some(v);
            } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
                signed = Some(v);
            } else if let Some(v) = part.strip_prefix("Signature=") {
                signature = Some(v);
            }
        }
        let missing = |what: &str| VerifyError::Malformed(format!("missing {what}"));
        let credential = credential.ok_or_else(|| missing("Credential"))?;
        let scope: Vec<&str> = credential.split('/').collect();
        let [access_key_id, date, region, service, terminator] = scope[..] else {
            return Err(VerifyError::Malformed("bad Credential scope".into()));
        };
        if terminator != "aws4_request" {
            return Err(VerifyError::Malformed("bad Credential scope".into()));
        }
        Ok(ParsedAuthorization {
            access_key_id,
            date,
            region,
            service,
            signed_headers: signed
                .ok_or_else(|| missing("SignedHeaders"))?
                .split(';')
                .filter(|s| !s.is_empty())
                .collect(),
            signature: signature.ok_or_else(|| missing("Signature"))?,
        })
    }
}

fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let dt = time::PrimitiveDateTime::parse(s, &format).ok()?;
    Some(dt.assume_utc().into())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

type Output = aws_sigv4::SigningOutput<aws_sigv4::http_request::SigningInstructions>;

fn compute(
    method: &str,
    credentials: &Credentials,
    region: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    time: SystemTime,
) -> Result<Output, String> {
    let identity = aws_credential_types::Credentials::new(
        credentials.access_key_id.clone(),
        credentials.secret_access_key.clone(),
        credentials.session_token.clone(),
        None,
        "evctl",
    )
    .into();
    let mut settings = SigningSettings::default();
    // Sign (and check) exactly the headers given: the default exclusions exist for proxies
    // that rewrite them, which do not sit between a client and a virtual request.
    settings.excluded_headers = Some(Vec::<Cow<'static, str>>::new());
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    // The URI only supplies the path: the host header is always among `headers`, so a host
    // value that is not a valid URI authority cannot make signing fail.
    let uri = format!("https://localhost{path}");
    let request = SignableRequest::new(
        method,
        uri,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| e.to_string())?;
    sign(request, &params).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials::new("test", "test", None)
    }

    fn at(epoch: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(epoch)
    }

    fn pairs(map: &BTreeMap<String, String>) -> Vec<(&str, &str)> {
        map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    #[test]
    fn a_signed_request_verifies_and_carries_the_documented_headers() {
        let body = subscribe_body("/default/foo");
        assert_eq!(body, r#"{"channel":"/default/foo"}"#);
        let headers = sign_event_request(
            &creds(),
            "us-east-1",
            "127.0.0.1:4511",
            &body,
            at(1_700_000_000),
        )
        .expect("signs");
        assert_eq!(headers["host"], "127.0.0.1:4511");
        assert_eq!(headers["x-amz-date"], "20231114T221320Z");
        assert!(headers["Authorization"].starts_with(
            "AWS4-HMAC-SHA256 Credential=test/20231114/us-east-1/appsync/aws4_request, \
             SignedHeaders=accept;content-encoding;content-type;host;x-amz-date, Signature="
        ));
        verify_event_request(
            &pairs(&headers),
            SIGNED_PATH,
            body.as_bytes(),
            &creds(),
            "us-east-1",
            at(1_700_000_060),
        )
        .expect("verifies");
    }

    #[test]
    fn tampering_with_anything_signed_is_detected() {
        let body = publish_body("/default/foo", &["{\"a\":1}".to_string()]);
        assert_eq!(body, r#"{"channel":"/default/foo","events":["{\"a\":1}"]}"#);
        let now = at(1_700_000_000);
        let headers = sign_event_request(&creds(), "us-east-1", "h:1", &body, now).expect("signs");
        let check = |headers: &BTreeMap<String, String>, body: &str, expected: &Credentials| {
            verify_event_request(
                &pairs(headers),
                "/event",
                body.as_bytes(),
                expected,
                "us-east-1",
                now,
            )
        };
        assert_eq!(check(&headers, &body, &creds()), Ok(()));
        assert_eq!(
            check(
                &headers,
                r#"{"channel":"/default/bar","events":["{\"a\":1}"]}"#,
                &creds()
            ),
            Err(VerifyError::SignatureMismatch)
        );
        assert_eq!(
            check(&headers, &body, &Credentials::new("test", "other", None)),
            Err(VerifyError::SignatureMismatch)
        );
        assert_eq!(
            check(&headers, &body, &Credentials::new("someone", "test", None)),
            Err(VerifyError::UnknownAccessKey)
        );
        let mut moved = headers.clone();
        moved.insert("host".into(), "h:2".into());
        assert_eq!(
            check(&moved, &body, &creds()),
            Err(VerifyError::SignatureMismatch)
        );
        let mut unsigned = headers.clone();
        unsigned.remove("content-encoding");
        assert_eq!(
            check(&unsigned, &body, &creds()),
            Err(VerifyError::MissingSignedHeader("content-encoding".into()))
        );
        assert_eq!(
            verify_event_request(
                &pairs(&headers),
                "/event",
                body.as_bytes(),
                &creds(),
                "eu-west-1",
                now
            ),
            Err(VerifyError::WrongScope)
        );
    }

    #[test]
    fn stale_signatures_are_refused_and_header_names_are_case_insensitive() {
        let body = connect_body();
        let signed_at = at(1_700_000_000);
        let headers =
            sign_event_request(&creds(), "us-east-1", "h", body, signed_at).expect("signs");
        let upper: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_uppercase(), v.clone()))
            .collect();
        let upper: Vec<(&str, &str)> = upper
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let verify =
            |now| verify_event_request(&upper, "/event", b"{}", &creds(), "us-east-1", now);
        assert_eq!(verify(at(1_700_000_000 + 14 * 60)), Ok(()));
        assert!(matches!(
            verify(at(1_700_000_000 + 16 * 60)),
            Err(VerifyError::Expired(_))
        ));
        assert!(matches!(
            verify(at(1_700_000_000 - 16 * 60)),
            Err(VerifyError::Expired(_))
        ));
    }

    #[test]
    fn temporary_credentials_sign_their_session_token() {
        let temp = Credentials::new("test", "test", Some("token-123".into()));
        let now = at(1_700_000_000);
        let headers = sign_event_request(&temp, "us-east-1", "h", "{}", now).expect("signs");
        assert_eq!(headers["X-Amz-Security-Token"], "token-123");
        assert!(headers["Authorization"].contains("x-amz-date;x-amz-security-token"));
        assert_eq!(
            verify_event_request(
                &pairs(&headers),
                "/event",
                b"{}",
                &creds(),
                "us-east-1",
                now
            ),
            Ok(())
        );
        let mut forged = headers.clone();
        forged.insert("X-Amz-Security-Token".into(), "token-456".into());
        assert_eq!(
            verify_event_request(&pairs(&forged), "/event", b"{}", &creds(), "us-east-1", now),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn credentials_parse_and_never_print_the_secret() {
        let c = Credentials::parse("AKID:s3cr3t").expect("parses");
        assert_eq!(c.access_key_id, "AKID");
        assert!(!format!("{c:?}").contains("s3cr3t"));
        let err = Credentials::parse("AKIDs3cr3t").expect_err("no colon");
        assert!(!err.contains("s3cr3t"));
        assert!(Credentials::parse(":x").is_err());
    }
}
