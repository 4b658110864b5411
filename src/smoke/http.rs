//! The HTTP publish client: `POST {publish_url}` with a JSON body and auth headers, answered by
//! `{"successful":[…],"failed":[…]}` or an `{"errors":[…]}` body. Auth headers are computed by the
//! caller from the exact body bytes (SigV4 signs the body), so this module only sends them.

use std::sync::Arc;
use std::time::Duration;

use super::client::DataPlaneError;
use super::ws::error_chain;
use crate::wire::{ErrorResponse, PublishResponse, WireError};

/// Publishes over HTTP to one API.
#[derive(Debug, Clone)]
pub struct HttpPublisher {
    client: reqwest::Client,
    url: String,
    timeout: Duration,
}

impl HttpPublisher {
    /// A publisher for `url` (`https://{HTTP}/event`) whose requests each take at most `timeout`.
    pub fn new(
        url: &str,
        tls: Arc<rustls::ClientConfig>,
        timeout: Duration,
    ) -> anyhow::Result<HttpPublisher> {
        let client = reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("evctl/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(HttpPublisher {
            client,
            url: url.to_string(),
            timeout,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends `body` (from [`crate::signing::publish_body`], so that what is signed is what is
    /// sent) with `headers` and reads the service's answer. `content-type` is
    /// `application/json` unless `headers` names one.
    pub async fn publish(
        &self,
        body: String,
        headers: &[(String, String)],
    ) -> Result<PublishResponse, DataPlaneError> {
        let mut request = self.client.post(&self.url);
        if !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        {
            request = request.header(reqwest::header::CONTENT_TYPE, "application/json");
        }
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = request.body(body).send().await.map_err(|e| {
            if e.is_timeout() {
                DataPlaneError::Timeout {
                    what: format!("answer from {}", self.url),
                    timeout: self.timeout,
                }
            } else {
                DataPlaneError::Unreachable {
                    url: self.url.clone(),
                    message: error_chain(&e),
                }
            }
        })?;
        let status = response.status().as_u16();
        let error_type_header = response
            .headers()
            .get(crate::wire::ERROR_TYPE_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::wire::error_type_name);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| DataPlaneError::Closed(error_chain(&e)))?;
        read_answer(&self.url, status, error_type_header, &bytes)
    }
}

/// Interprets the status and body of a publish answer.
fn read_answer(
    url: &str,
    status: u16,
    error_type_header: Option<String>,
    body: &[u8],
) -> Result<PublishResponse, DataPlaneError> {
    let errors = serde_json::from_slice::<ErrorResponse>(body)
        .map(|r| r.errors)
        .unwrap_or_default();
    if (200..300).contains(&status) {
        if !errors.is_empty() {
            return Err(DataPlaneError::rejected(Some(status), errors));
        }
        return serde_json::from_slice::<PublishResponse>(body).map_err(|e| {
            DataPlaneError::Protocol(format!(
                "could not read the publish answer ({e}): {}",
                snippet(body)
            ))
        });
    }
    if !errors.is_empty() {
        return Err(DataPlaneError::rejected(Some(status), errors));
    }
    if let Some(error_type) = error_type_header {
        return Err(DataPlaneError::rejected(
            Some(status),
            vec![WireError::new(error_type, snippet(body))],
        ));
    }
    // A bare gateway error while a new API is wired up: not the service's verdict yet.
    if matches!(status, 502..=504) {
        return Err(DataPlaneError::Unreachable {
            url: url.to_string(),
            message: format!("HTTP {status}"),
        });
    }
    Err(DataPlaneError::rejected(
        Some(status),
        vec![WireError::new(format!("HTTP {status}"), snippet(body))],
    ))
}

fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_like_the_service_writes_them() {
        let ok = read_answer(
            "u",
            200,
            None,
            br#"{"failed":[],"successful":[{"identifier":"i","index":0}]}"#,
        )
        .expect("success");
        assert_eq!(ok.successful.len(), 1);

        let denied = read_answer(
            "u",
            401,
            None,
            br#"{"errors":[{"errorType":"UnauthorizedException","message":"You are not authorized to make this call."}]}"#,
        )
        .expect_err("denied");
        assert_eq!(denied.error_type(), Some("UnauthorizedException"));

        let header_only =
            read_answer("u", 403, Some("ForbiddenException".into()), b"").expect_err("forbidden");
        assert_eq!(header_only.error_type(), Some("ForbiddenException"));

        assert!(
            read_answer("u", 503, None, b"")
                .expect_err("gateway")
                .is_unreachable()
        );
        assert!(matches!(
            read_answer("u", 200, None, b"<html>"),
            Err(DataPlaneError::Protocol(_))
        ));
        let errors_in_200 = read_answer(
            "u",
            200,
            None,
            br#"{"errors":[{"errorType":"BadRequestException","message":"m"}]}"#,
        )
        .expect_err("errors in a 200 answer");
        assert_eq!(errors_in_200.error_type(), Some("BadRequestException"));
    }
}
