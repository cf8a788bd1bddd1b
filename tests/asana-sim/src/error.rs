//! Asana's error responses: `{"errors":[{"message", "help", "phrase"?}]}` with the status
//! codes Asana uses, as one [`ApiError`] type every handler returns.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

const HELP: &str = "For more information on API status codes and how to handle them, read the docs on errors: https://developers.asana.com/docs/errors";

/// An Asana API error: status plus message (and, for 429, a `Retry-After`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Asana's `message` text.
    pub message: String,
    /// Seconds for a `Retry-After` header (429 only).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// Any status with a message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404 for an object that does not exist (or was deleted).
    pub fn unknown_object(kind: &str, gid: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("{kind}: Unknown object: {gid}"),
        )
    }

    /// 400 for a body/query reference to an object that does not exist.
    pub fn unrecognized_id(field: &str, gid: &str) -> ApiError {
        ApiError::bad_request(format!("{field}: Not a recognized ID: {gid}"))
    }

    /// 400 for a required input that is missing.
    pub fn missing(field: &str) -> ApiError {
        ApiError::bad_request(format!("{field}: Missing input"))
    }

    /// 401 for a missing, wrong or revoked token.
    pub fn unauthorized() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "Not Authorized")
    }

    /// 404 for a route Asana does not have.
    pub fn no_route() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "No matching route for request")
    }

    /// 429 with `Retry-After`.
    pub fn rate_limited(retry_after_secs: u64) -> ApiError {
        ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: "You've made too many requests and hit a rate limit. Please retry after the given amount of time.".to_owned(),
            retry_after: Some(retry_after_secs),
        }
    }

    /// The JSON body Asana sends for this error.
    pub fn body(&self) -> Value {
        let mut error = json!({ "message": self.message, "help": HELP });
        if self.status.is_server_error() {
            error["phrase"] = json!("6 sad squid snuggle softly");
        }
        json!({ "errors": [error] })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Handler result: a JSON response or an Asana error.
pub type ApiResult<T = Response> = Result<T, ApiError>;

/// A fault-injected status error: 500 gets Asana's generic message and phrase.
pub fn injected(status: StatusCode) -> ApiError {
    let message = match status.as_u16() {
        500 => "Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        400 => "Bad Request",
        401 => "Not Authorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        _ => status.canonical_reason().unwrap_or("Error"),
    };
    if status == StatusCode::TOO_MANY_REQUESTS {
        return ApiError::rate_limited(30);
    }
    ApiError::new(status, message)
}
