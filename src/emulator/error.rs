//! The control plane's error model, as AWS AppSync answers it on the wire: an HTTP status, the
//! `x-amzn-ErrorType` header and a JSON body `{"__type": "<Type>", "message": "..."}` (plus
//! `reason`/`detail` for code errors). Every failing operation ends up here, so clients see one
//! shape whatever went wrong.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The error types the emulator answers with (the modeled AppSync errors, plus the errors of
/// AWS's SigV4 front door).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    NotFound,
    Unauthorized,
    AccessDenied,
    ConcurrentModification,
    Conflict,
    ServiceQuotaExceeded,
    LimitExceeded,
    ApiKeyLimitExceeded,
    ApiKeyValidityOutOfBounds,
    InternalFailure,
    /// The signature does not match (AWS's authentication layer, not AppSync's model).
    InvalidSignature,
    /// The access key id is not known.
    UnrecognizedClient,
    /// No `Authorization` header.
    MissingAuthenticationToken,
    /// The `Authorization` header is malformed.
    IncompleteSignature,
    /// No operation is served at this method and path.
    UnknownOperation,
}

impl ErrorKind {
    /// The wire name (`x-amzn-ErrorType` and `__type`).
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "BadRequestException",
            ErrorKind::NotFound => "NotFoundException",
            ErrorKind::Unauthorized => "UnauthorizedException",
            ErrorKind::AccessDenied => "AccessDeniedException",
            ErrorKind::ConcurrentModification => "ConcurrentModificationException",
            ErrorKind::Conflict => "ConflictException",
            ErrorKind::ServiceQuotaExceeded => "ServiceQuotaExceededException",
            ErrorKind::LimitExceeded => "LimitExceededException",
            ErrorKind::ApiKeyLimitExceeded => "ApiKeyLimitExceededException",
            ErrorKind::ApiKeyValidityOutOfBounds => "ApiKeyValidityOutOfBoundsException",
            ErrorKind::InternalFailure => "InternalFailureException",
            ErrorKind::InvalidSignature => "InvalidSignatureException",
            ErrorKind::UnrecognizedClient => "UnrecognizedClientException",
            ErrorKind::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            ErrorKind::IncompleteSignature => "IncompleteSignatureException",
            ErrorKind::UnknownOperation => "UnknownOperationException",
        }
    }

    /// The HTTP status AppSync uses for this error (ServiceQuotaExceeded really is 402).
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::BadRequest
            | ErrorKind::ApiKeyLimitExceeded
            | ErrorKind::ApiKeyValidityOutOfBounds => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound | ErrorKind::UnknownOperation => StatusCode::NOT_FOUND,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorKind::AccessDenied
            | ErrorKind::InvalidSignature
            | ErrorKind::UnrecognizedClient
            | ErrorKind::MissingAuthenticationToken
            | ErrorKind::IncompleteSignature => StatusCode::FORBIDDEN,
            ErrorKind::ConcurrentModification | ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::ServiceQuotaExceeded => StatusCode::PAYMENT_REQUIRED,
            ErrorKind::LimitExceeded => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::InternalFailure => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// A failed operation: what the client is told.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}: {message}", kind.code())]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    /// Extra top-level body members (`reason`, `detail` of a code error).
    pub extra: Option<serde_json::Map<String, Value>>,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            message: message.into(),
            extra: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::BadRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::NotFound, message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::InternalFailure, message)
    }

    /// A `BadRequestException` with `reason: CODE_ERROR` and one entry in `detail.codeErrors`.
    pub fn code_error(
        error_type: &str,
        value: &str,
        line: usize,
        column: usize,
        span: i64,
    ) -> Self {
        let mut extra = serde_json::Map::new();
        extra.insert("reason".into(), json!("CODE_ERROR"));
        extra.insert(
            "detail".into(),
            json!({"codeErrors": [{
                "errorType": error_type,
                "value": value,
                "location": {"line": line, "column": column, "span": span},
            }]}),
        );
        ApiError {
            kind: ErrorKind::BadRequest,
            message: format!("The code contains one or more errors: {value}"),
            extra: Some(extra),
        }
    }

    /// The JSON body sent to the client.
    pub fn body(&self) -> Value {
        let mut body = serde_json::Map::new();
        body.insert("__type".into(), json!(self.kind.code()));
        body.insert("message".into(), json!(self.message));
        if let Some(extra) = &self.extra {
            body.extend(extra.clone());
        }
        Value::Object(body)
    }
}

/// Header that names the error type; the SDKs read it before the body.
pub use crate::wire::ERROR_TYPE_HEADER;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.kind.status(), axum::Json(self.body())).into_response();
        response.headers_mut().insert(
            ERROR_TYPE_HEADER,
            HeaderValue::from_static(self.kind.code()),
        );
        response.extensions_mut().insert(self.kind);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_errors_use_aws_odd_status() {
        assert_eq!(ErrorKind::ServiceQuotaExceeded.status().as_u16(), 402);
        assert_eq!(ErrorKind::LimitExceeded.status().as_u16(), 429);
        assert_eq!(ErrorKind::ApiKeyLimitExceeded.status().as_u16(), 400);
    }

    #[test]
    fn code_errors_carry_reason_and_location() {
        let body = ApiError::code_error("PARSER_ERROR", "unterminated string", 3, 7, 1).body();
        assert_eq!(body["__type"], "BadRequestException");
        assert_eq!(body["reason"], "CODE_ERROR");
        assert_eq!(body["detail"]["codeErrors"][0]["location"]["line"], 3);
    }
}
