//! What the HTTP and WebSocket clients share: the data-plane endpoints of one API and the typed
//! error of a data-plane call. The error keeps the service's `errorType` and message, because a
//! smoke failure must say what the service said.

use std::time::Duration;

use crate::model::Dns;
use crate::wire::{PUBLISH_PATH, REALTIME_PATH, WireError};

/// Where an API's data plane answers, derived from its `dns` map the way every client does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// `dns.HTTP` (host or host:port): the `host` that every auth object names.
    pub http_host: String,
    /// `https://{HTTP}/event` (`http://` without TLS).
    pub publish_url: String,
    /// `wss://{REALTIME}/event/realtime` (`ws://` without TLS).
    pub realtime_url: String,
}

impl Endpoints {
    pub fn new(dns: &Dns, tls: bool) -> Endpoints {
        let (http, ws) = if tls {
            ("https", "wss")
        } else {
            ("http", "ws")
        };
        Endpoints {
            http_host: dns.http.clone(),
            publish_url: format!("{http}://{}{PUBLISH_PATH}", dns.http),
            realtime_url: format!("{ws}://{}{REALTIME_PATH}", dns.realtime),
        }
    }
}

/// Why a data-plane call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DataPlaneError {
    /// The endpoint could not be reached (DNS, refused, TLS, gateway errors): worth retrying
    /// while a new API's DNS propagates.
    #[error("could not reach {url}: {message}")]
    Unreachable { url: String, message: String },
    /// The service answered with an error.
    #[error("{}", describe(*.status, errors))]
    Rejected {
        /// The HTTP status, for HTTP calls and failed upgrades.
        status: Option<u16>,
        errors: Vec<WireError>,
    },
    #[error("no {what} within {}", humantime::format_duration(*.timeout))]
    Timeout { what: String, timeout: Duration },
    #[error("the connection closed: {0}")]
    Closed(String),
    /// The request could not be authorised locally (e.g. SigV4 signing failed).
    #[error("could not build the auth headers: {0}")]
    Credentials(String),
    #[error("unexpected answer from the service: {0}")]
    Protocol(String),
}

impl DataPlaneError {
    pub fn rejected(status: Option<u16>, errors: Vec<WireError>) -> DataPlaneError {
        DataPlaneError::Rejected { status, errors }
    }

    /// Retrying may help: the endpoint was not reachable yet.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, DataPlaneError::Unreachable { .. })
    }

    /// The service's first `errorType`, when it gave one.
    pub fn error_type(&self) -> Option<&str> {
        match self {
            DataPlaneError::Rejected { errors, .. } => {
                errors.first().map(|e| e.error_type.as_str())
            }
            _ => None,
        }
    }
}

fn describe(status: Option<u16>, errors: &[WireError]) -> String {
    let mut text = errors
        .iter()
        .map(|e| {
            if e.message.is_empty() {
                e.error_type.clone()
            } else {
                format!("{}: {}", e.error_type, e.message)
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    if text.is_empty() {
        text = "rejected without an error description".to_string();
    }
    match status {
        Some(code) => format!("{text} (HTTP {code})"),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_follow_the_dns_map() {
        let dns = Dns {
            http: "abc.appsync-api.eu-west-1.amazonaws.com".into(),
            realtime: "abc.appsync-realtime-api.eu-west-1.amazonaws.com".into(),
        };
        let e = Endpoints::new(&dns, true);
        assert_eq!(
            e.publish_url,
            "https://abc.appsync-api.eu-west-1.amazonaws.com/event"
        );
        assert_eq!(
            e.realtime_url,
            "wss://abc.appsync-realtime-api.eu-west-1.amazonaws.com/event/realtime"
        );
        let local = Dns {
            http: "127.0.0.1:4600".into(),
            realtime: "127.0.0.1:4600".into(),
        };
        let e = Endpoints::new(&local, false);
        assert_eq!(e.publish_url, "http://127.0.0.1:4600/event");
        assert_eq!(e.realtime_url, "ws://127.0.0.1:4600/event/realtime");
        assert_eq!(e.http_host, "127.0.0.1:4600");
    }

    #[test]
    fn rejections_carry_the_service_error() {
        let err = DataPlaneError::rejected(
            Some(401),
            vec![WireError::new(
                "UnauthorizedException",
                "You are not authorized to make this call.",
            )],
        );
        assert_eq!(
            err.to_string(),
            "UnauthorizedException: You are not authorized to make this call. (HTTP 401)"
        );
        assert_eq!(err.error_type(), Some("UnauthorizedException"));
        assert!(!err.is_unreachable());
    }
}
