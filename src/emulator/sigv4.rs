//! `--verify-sigv4`: checks a control-plane request's SigV4 signature against the configured
//! credentials (with [`crate::signing::verify_request`], the verifier the data plane uses) and
//! answers failures as AWS's front door does: 403 with `MissingAuthenticationTokenException`,
//! `IncompleteSignatureException`, `UnrecognizedClientException` or
//! `InvalidSignatureException`.

use std::time::SystemTime;

use axum::http::request::Parts;

use super::error::{ApiError, ErrorKind};
use crate::signing::{Credentials, VerifyError, verify_request};

/// Verifies the request's signature. `region` is the emulator's region (AWS requires the
/// credential scope to name the endpoint's region).
pub fn verify(
    credentials: &Credentials,
    region: &str,
    parts: &Parts,
    body: &[u8],
    now: SystemTime,
) -> Result<(), ApiError> {
    if !parts.headers.contains_key("authorization") {
        return Err(ApiError::new(
            ErrorKind::MissingAuthenticationToken,
            "Missing Authentication Token",
        ));
    }
    let headers: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
        .collect();
    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    verify_request(
        parts.method.as_str(),
        target,
        &headers,
        body,
        credentials,
        region,
        now,
    )
    .map_err(|e| {
        let kind = match e {
            VerifyError::Malformed(_) | VerifyError::MissingSignedHeader(_) => {
                ErrorKind::IncompleteSignature
            }
            VerifyError::UnknownAccessKey => ErrorKind::UnrecognizedClient,
            VerifyError::WrongScope | VerifyError::Expired(_) | VerifyError::SignatureMismatch => {
                ErrorKind::InvalidSignature
            }
        };
        ApiError::new(kind, e.to_string())
    })
}
