//! GitHub's error bodies: `basic-error` (`{"message", "documentation_url", "status"}`) and
//! `validation-error` (`422`, with `errors: [{resource, field, code, value}]`), as the
//! description defines them.

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Where GitHub's error bodies point.
const DOCS: &str = "https://docs.github.com/rest";

/// An error answer.
#[derive(Clone, Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Validation details (`422` only).
    pub errors: Vec<Value>,
    /// `retry-after` seconds, for rate-limit answers.
    pub retry_after: Option<u64>,
}

/// Result of a handler or a state operation.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            errors: Vec::new(),
            retry_after: None,
        }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found")
    }

    /// A `422` naming the resource, field and code, e.g. `("Issue", "title", "missing_field")`.
    pub fn invalid(resource: &str, field: &str, code: &str, value: Option<Value>) -> Self {
        let mut detail = json!({"resource": resource, "field": field, "code": code});
        if let Some(value) = value {
            detail["value"] = value;
        }
        Self {
            errors: vec![detail],
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed")
        }
    }

    /// A `422` with a `custom` error and its message, e.g. `("Hook", None, "Hook already
    /// exists on this repository")`.
    pub fn custom(resource: &str, field: Option<&str>, message: &str) -> Self {
        let mut detail = json!({"resource": resource, "code": "custom", "message": message});
        if let Some(field) = field {
            detail["field"] = json!(field);
        }
        Self {
            errors: vec![detail],
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed")
        }
    }

    /// A secondary rate-limit answer (`403` or `429`).
    pub fn secondary_limit(status: StatusCode, retry_after: Option<u64>) -> Self {
        Self {
            retry_after,
            ..Self::new(
                status,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.",
            )
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "message": self.message,
            "documentation_url": DOCS,
            "status": self.status.as_u16().to_string(),
        });
        if !self.errors.is_empty() {
            body["errors"] = Value::Array(self.errors);
        }
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(seconds));
        }
        response
    }
}
