//! The values that go in and out of [`HttpClient::send`](super::HttpClient::send): a
//! [`Request`], its [`Response`], and the counters of requests sent.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::ConnectorError;

use super::config::Idempotency;

/// One request to send: method, path under the base URL, query, optional JSON body.
#[derive(Clone, Debug)]
pub struct Request {
    pub(super) method: Method,
    pub(super) path: String,
    pub(super) query: Vec<(String, String)>,
    pub(super) body: Option<serde_json::Value>,
    pub(super) idempotency: Idempotency,
    pub(super) pass_through: Vec<StatusCode>,
    pub(super) headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl Request {
    /// A request of `method` on `path` (relative to the base URL, starting with `/`).
    /// GET, HEAD, PUT and DELETE default to [`Idempotency::Safe`], others to
    /// [`Idempotency::CreateOnce`].
    #[must_use]
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        let idempotency = if matches!(
            method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE
        ) {
            Idempotency::Safe
        } else {
            Idempotency::CreateOnce
        };
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            idempotency,
            pass_through: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// A GET request.
    #[must_use]
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }

    /// A POST request with a JSON body; [`Idempotency::CreateOnce`] unless changed.
    #[must_use]
    pub fn post(path: impl Into<String>, body: serde_json::Value) -> Self {
        Self::new(Method::POST, path).json(body)
    }

    /// A PUT request with a JSON body.
    #[must_use]
    pub fn put(path: impl Into<String>, body: serde_json::Value) -> Self {
        Self::new(Method::PUT, path).json(body)
    }

    /// A DELETE request.
    #[must_use]
    pub fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, path)
    }

    /// Adds one query parameter.
    #[must_use]
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    /// Sets the JSON body.
    #[must_use]
    pub fn json(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Declares whether the request may be sent again when its answer is lost.
    #[must_use]
    pub fn idempotency(mut self, idempotency: Idempotency) -> Self {
        self.idempotency = idempotency;
        self
    }

    /// Returns a response with this (non-2xx) status as a [`Response`] instead of an
    /// error, for statuses that carry data (Asana's `412` on `/events` holds a new sync
    /// token).
    #[must_use]
    pub fn pass_through(mut self, status: u16) -> Self {
        if let Ok(status) = StatusCode::from_u16(status) {
            self.pass_through.push(status);
        }
        self
    }

    /// Adds a header to this request only (e.g. GitHub's `If-None-Match` with a stored
    /// `ETag`; pair it with `pass_through(304)`).
    #[must_use]
    pub fn header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The method.
    #[must_use]
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The path, without base URL and query.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    pub(super) fn is_read(&self) -> bool {
        matches!(self.method, Method::GET | Method::HEAD)
    }

    /// `METHOD /path`, for messages.
    pub(super) fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A successful (or passed-through) answer, body fully read.
#[derive(Clone, Debug)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Raw body.
    pub body: Bytes,
    pub(super) service: &'static str,
    pub(super) label: String,
}

impl Response {
    /// Decodes the body as JSON; a mismatch names the JSON path where it happened.
    ///
    /// # Errors
    /// [`ConnectorError::Decode`] when the body is not the expected JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ConnectorError> {
        let de = &mut serde_json::Deserializer::from_slice(&self.body);
        serde_path_to_error::deserialize(de).map_err(|e| ConnectorError::Decode {
            service: self.service,
            message: format!("{}: at `{}`: {}", self.label, e.path(), e.inner()),
        })
    }
}

/// How many requests were actually sent (retries included), by method.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestCounts {
    pub get: u64,
    pub post: u64,
    pub put: u64,
    pub patch: u64,
    pub delete: u64,
    pub other: u64,
}

impl RequestCounts {
    /// All requests sent.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.get + self.post + self.put + self.patch + self.delete + self.other
    }
}

/// Counters behind [`RequestCounts`].
#[derive(Default)]
pub(super) struct Counters([AtomicU64; 6]);

impl Counters {
    pub(super) fn record(&self, method: &Method) {
        let slot = match *method {
            Method::GET => 0,
            Method::POST => 1,
            Method::PUT => 2,
            Method::PATCH => 3,
            Method::DELETE => 4,
            _ => 5,
        };
        self.0[slot].fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn snapshot(&self) -> RequestCounts {
        let n = |i: usize| self.0[i].load(Ordering::Relaxed);
        RequestCounts {
            get: n(0),
            post: n(1),
            put: n(2),
            patch: n(3),
            delete: n(4),
            other: n(5),
        }
    }
}
