//! The shared HTTP layer: the one place that owns the reqwest client, the bearer token,
//! retries, `Retry-After`, the client-side rate budget and the concurrency caps.
//!
//! Every HTTP connector (Asana today, GitHub later) sends its requests through one
//! [`HttpClient`]. The client is cheap to clone: clones share the connection pool, the rate
//! budget, the in-flight caps, the shared "not before" pause and the request counters, so
//! every link that uses the same token should share one client.
//!
//! What happens to a request ([`HttpClient::send`]):
//!
//! 1. It waits for a slot: at most [`HttpConfig::max_reads_in_flight`] GETs and
//!    [`HttpConfig::max_writes_in_flight`] writes at once (Asana's concurrent limiter counts
//!    the two pools separately), then for the shared pause a `429` may have set, then for the
//!    per-minute budget (governor).
//! 2. `2xx` (or a status the request declared it handles itself) is returned as a
//!    [`Response`].
//! 3. `429` (and a `403` that is GitHub's way of saying "rate limited": `Retry-After`,
//!    `x-ratelimit-remaining: 0`, or a "secondary rate limit" message) sets a *shared* "not
//!    before" instant from `Retry-After` (seconds or an HTTP date), else from
//!    `x-ratelimit-reset`, else a minute for a secondary limit, else an exponential
//!    fallback, so every queued request of this client
//!    pauses, not just the one that was refused; the request is then tried again, as long as
//!    the wait fits in [`RetryPolicy::max_elapsed`]. A `429` is an explicit refusal, so even
//!    a [`Idempotency::CreateOnce`] request is retried.
//! 4. `5xx`, timeouts and dropped connections are retried with exponential backoff and
//!    jitter (the `backoff` crate) for [`Idempotency::Safe`] requests. A
//!    [`Idempotency::CreateOnce`] request is retried only after a *connect* error, the one
//!    failure that proves the server never saw it; any other lost answer becomes
//!    [`ConnectorError::Ambiguous`], so the engine never creates a task twice.
//!    A success that spent the primary budget (`x-ratelimit-remaining: 0`) pauses the
//!    client until `x-ratelimit-reset` when that fits the retry budget.
//! 5. Any other status becomes one typed error carrying the service's own message:
//!    `401` [`ConnectorError::Unauthorized`], `403` [`ConnectorError::Forbidden`], `404`
//!    [`ConnectorError::NotFound`], others [`ConnectorError::Api`].
//!
//! The token never appears in a `Debug` output, a log line or an error: it lives in a
//! [`SecretString`] and in a header value marked sensitive, and only method, path and status
//! are traced (at debug level).
//!
//! The token is either fixed ([`HttpConfig::token`], a PAT or a service-account token) or
//! asked of a [`TokenSource`] before every attempt ([`HttpConfig::with_token_source`], an
//! OAuth access token that expires). With a source, a `401` makes the client call
//! [`TokenSource::refresh`] once per request and send it again with the new token; a second
//! `401`, or a source that cannot refresh, is returned as [`ConnectorError::Unauthorized`].
//!
//! The `backoff` crate is unmaintained (RUSTSEC-2025-0012); it is used in this file only, so
//! swapping it for `backon` touches nothing else.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::error::ConnectorError;

/// Asana's paid-plan budget, the default client-side limit.
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 1500;
/// Asana's concurrent limiter: in-flight GETs per token.
pub const DEFAULT_MAX_READS_IN_FLIGHT: usize = 50;
/// Asana's concurrent limiter: in-flight writes (POST/PUT/PATCH/DELETE) per token.
pub const DEFAULT_MAX_WRITES_IN_FLIGHT: usize = 15;

/// How long and how fast failed requests are retried.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// First wait after a failure (before jitter).
    pub initial_interval: Duration,
    /// Longest single wait between two attempts (before jitter).
    pub max_interval: Duration,
    /// Growth factor of the wait from one attempt to the next.
    pub multiplier: f64,
    /// Jitter: each wait is drawn from `wait * (1 ± randomization_factor)`.
    pub randomization_factor: f64,
    /// Give up once this much time has passed since the first attempt (waits included).
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    /// Half a second, doubling up to 30 s, 50 % jitter, giving up after a minute.
    fn default() -> Self {
        Self {
            initial_interval: Duration::from_millis(500),
            max_interval: Duration::from_secs(30),
            multiplier: 2.0,
            randomization_factor: 0.5,
            max_elapsed: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Short waits for tests: 10 ms doubling up to 100 ms, giving up after `max_elapsed`.
    #[must_use]
    pub fn fast(max_elapsed: Duration) -> Self {
        Self {
            initial_interval: Duration::from_millis(10),
            max_interval: Duration::from_millis(100),
            multiplier: 2.0,
            randomization_factor: 0.2,
            max_elapsed,
        }
    }

    /// Never retries a failure (a `429` still waits for its `Retry-After` if it fits in
    /// `max_elapsed`, which is zero here, so it is returned at once as rate limited).
    #[must_use]
    pub fn none() -> Self {
        Self {
            max_elapsed: Duration::ZERO,
            ..Self::default()
        }
    }

    fn backoff(&self) -> backoff::ExponentialBackoff {
        backoff::ExponentialBackoffBuilder::new()
            .with_initial_interval(self.initial_interval)
            .with_max_interval(self.max_interval)
            .with_multiplier(self.multiplier)
            .with_randomization_factor(self.randomization_factor)
            .with_max_elapsed_time(Some(self.max_elapsed))
            .build()
    }

    /// The fallback pause after the `n`-th `429` without a usable `Retry-After`.
    fn rate_limit_fallback(&self, n: u32) -> Duration {
        let factor = self
            .multiplier
            .powi(i32::try_from(n).unwrap_or(i32::MAX))
            .max(1.0);
        self.initial_interval
            .mul_f64(factor.min(1e6))
            .min(self.max_interval)
    }
}

/// Whether a request may be sent again when its answer was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idempotency {
    /// Sending it twice has the same effect as once: GET, PUT, DELETE and idempotent POSTs
    /// (Asana `addTag`, `removeTag`, `addTask`). Retried on 5xx and network errors.
    Safe,
    /// Sending it twice would create two things (Asana `POST /tasks`). Retried only when it
    /// provably never reached the server (connect error) or was refused with a `429`;
    /// otherwise a lost answer is [`ConnectorError::Ambiguous`].
    CreateOnce,
}

/// Where the bearer token of a client comes from when it can change during a run (an OAuth
/// access token that lives about an hour).
///
/// The client asks [`TokenSource::token`] before every attempt, so a source refreshes a
/// token that is about to expire before it is sent. On a `401` the client calls
/// [`TokenSource::refresh`] with the token that was refused, at most once per request.
/// Several requests may be refused at once: a source returns the token it already
/// refreshed when `rejected` is no longer its current one, so one expiry costs one refresh.
#[async_trait]
pub trait TokenSource: Send + Sync {
    /// The token to send now.
    ///
    /// # Errors
    /// [`ConnectorError::Unauthorized`] when no valid token can be had (e.g. the grant was
    /// revoked); transport errors of a refresh.
    async fn token(&self) -> Result<SecretString, ConnectorError>;

    /// The service refused `rejected` with a `401`: a fresh token, or `None` when this
    /// source cannot get one (the `401` is then returned as it is).
    ///
    /// # Errors
    /// As [`TokenSource::token`]; the error replaces the `401`.
    async fn refresh(
        &self,
        rejected: &SecretString,
    ) -> Result<Option<SecretString>, ConnectorError>;
}

/// Everything needed to build an [`HttpClient`].
pub struct HttpConfig {
    /// Short service name used in errors and logs: `asana`, `github`.
    pub service: &'static str,
    /// Base URL every request path is appended to, e.g. `https://app.asana.com/api/1.0`.
    pub base_url: String,
    /// Bearer token. Never printed, logged or put into an error. Unused when
    /// [`HttpConfig::token_source`] is set.
    pub token: SecretString,
    /// A source of changing tokens (OAuth); see [`TokenSource`].
    pub token_source: Option<Arc<dyn TokenSource>>,
    /// `User-Agent` header.
    pub user_agent: String,
    /// Client-side budget of requests per minute (retries count).
    pub requests_per_minute: u32,
    /// At most this many GET/HEAD requests in flight at once.
    pub max_reads_in_flight: usize,
    /// At most this many writes (POST/PUT/PATCH/DELETE) in flight at once.
    pub max_writes_in_flight: usize,
    /// Retry behaviour.
    pub retry: RetryPolicy,
    /// Time limit of one attempt, from sending to the end of the body.
    pub request_timeout: Duration,
    /// Time limit of opening a connection.
    pub connect_timeout: Duration,
    /// Extra headers sent with every request (e.g. GitHub's `Accept` and API version).
    pub extra_headers: HeaderMap,
}

impl HttpConfig {
    /// A configuration with the default budget, caps, retry policy and timeouts.
    #[must_use]
    pub fn new(service: &'static str, base_url: impl Into<String>, token: SecretString) -> Self {
        Self {
            service,
            base_url: base_url.into(),
            token,
            token_source: None,
            user_agent: concat!("asana-bridge/", env!("CARGO_PKG_VERSION")).to_owned(),
            requests_per_minute: DEFAULT_REQUESTS_PER_MINUTE,
            max_reads_in_flight: DEFAULT_MAX_READS_IN_FLIGHT,
            max_writes_in_flight: DEFAULT_MAX_WRITES_IN_FLIGHT,
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            extra_headers: HeaderMap::new(),
        }
    }

    /// The same configuration with its token asked of `source` before each attempt and
    /// refreshed once on a `401`.
    #[must_use]
    pub fn with_token_source(mut self, source: Arc<dyn TokenSource>) -> Self {
        self.token_source = Some(source);
        self
    }

    /// The same configuration with another retry policy.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

impl fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConfig")
            .field("service", &self.service)
            .field("base_url", &self.base_url)
            .field("token", &"[REDACTED]")
            .field("token_source", &self.token_source.is_some())
            .field("user_agent", &self.user_agent)
            .field("requests_per_minute", &self.requests_per_minute)
            .field("max_reads_in_flight", &self.max_reads_in_flight)
            .field("max_writes_in_flight", &self.max_writes_in_flight)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// Why an [`HttpClient`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("invalid base URL {url:?}: {source}")]
    BaseUrl {
        url: String,
        #[source]
        source: url::ParseError,
    },
    #[error("the base URL {0:?} must be http or https")]
    BaseUrlScheme(String),
    #[error("the token contains characters that cannot go into an HTTP header")]
    Token,
    #[error("requests_per_minute, max_reads_in_flight and max_writes_in_flight must be positive")]
    ZeroLimit,
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// One request to send: method, path under the base URL, query, optional JSON body.
#[derive(Clone, Debug)]
pub struct Request {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    body: Option<serde_json::Value>,
    idempotency: Idempotency,
    pass_through: Vec<StatusCode>,
    headers: Vec<(header::HeaderName, HeaderValue)>,
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

    fn is_read(&self) -> bool {
        matches!(self.method, Method::GET | Method::HEAD)
    }

    /// `METHOD /path`, for messages.
    fn label(&self) -> String {
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
    service: &'static str,
    label: String,
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
struct Counters([AtomicU64; 6]);

impl Counters {
    fn record(&self, method: &Method) {
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

    fn snapshot(&self) -> RequestCounts {
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

/// The `Authorization` of a client.
enum Auth {
    /// `Bearer <token>`, marked sensitive so that `http`'s own Debug hides it.
    Fixed(HeaderValue),
    /// Asked before each attempt, refreshed on a `401`.
    Source(Arc<dyn TokenSource>),
}

/// `Bearer <token>` as a sensitive header value.
fn bearer(token: &SecretString) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// The HTTP client of one service and one token. Clones share everything.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

struct Inner {
    service: &'static str,
    /// Base URL without a trailing slash.
    base_url: String,
    client: reqwest::Client,
    /// Where the `Authorization` header comes from.
    auth: Auth,
    /// `Accept` of every request: the configured extra header if any (GitHub's
    /// `application/vnd.github+json`), else `application/json`.
    accept: HeaderValue,
    limiter: DefaultDirectRateLimiter,
    reads: Semaphore,
    writes: Semaphore,
    retry: RetryPolicy,
    /// No request of this client leaves before this instant (set by a `429`). A std mutex,
    /// not a tokio one: it is never held across an await.
    not_before: Mutex<Option<Instant>>,
    counters: Counters,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("service", &self.inner.service)
            .field("base_url", &self.inner.base_url)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// Builds a client.
    ///
    /// # Errors
    /// [`BuildError`] when the base URL, the token or a limit is unusable, or the TLS
    /// backend cannot start.
    pub fn new(config: HttpConfig) -> Result<Self, BuildError> {
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        let parsed = url::Url::parse(&base_url).map_err(|source| BuildError::BaseUrl {
            url: base_url.clone(),
            source,
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(BuildError::BaseUrlScheme(base_url));
        }
        let auth = match config.token_source {
            Some(source) => Auth::Source(source),
            None => Auth::Fixed(bearer(&config.token).ok_or(BuildError::Token)?),
        };

        let rpm = NonZeroU32::new(config.requests_per_minute).ok_or(BuildError::ZeroLimit)?;
        if config.max_reads_in_flight == 0 || config.max_writes_in_flight == 0 {
            return Err(BuildError::ZeroLimit);
        }
        let limiter = RateLimiter::direct(budget_quota(rpm));

        let accept = config
            .extra_headers
            .get(header::ACCEPT)
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static("application/json"));
        let client = reqwest::Client::builder()
            .user_agent(config.user_agent)
            .default_headers(config.extra_headers)
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(BuildError::Client)?;

        Ok(Self {
            inner: Arc::new(Inner {
                service: config.service,
                base_url,
                client,
                auth,
                accept,
                limiter,
                reads: Semaphore::new(config.max_reads_in_flight),
                writes: Semaphore::new(config.max_writes_in_flight),
                retry: config.retry,
                not_before: Mutex::new(None),
                counters: Counters::default(),
            }),
        })
    }

    /// The service name given at construction.
    #[must_use]
    pub fn service(&self) -> &'static str {
        self.inner.service
    }

    /// The base URL, without a trailing slash.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// Requests sent so far by this client and its clones, retries included.
    #[must_use]
    pub fn requests_sent(&self) -> RequestCounts {
        self.inner.counters.snapshot()
    }

    /// Sends `request`, waiting for its turn and retrying as the module documentation says.
    ///
    /// # Errors
    /// A typed [`ConnectorError`]: the service's refusal (`Unauthorized`, `Forbidden`,
    /// `NotFound`, `Api`), `RateLimited` or `Transient`/`Transport` once retries ran out,
    /// `Ambiguous` for a create-once request whose answer was lost.
    pub async fn send(&self, request: Request) -> Result<Response, ConnectorError> {
        let started = Instant::now();
        let rate_limited = AtomicU32::new(0);
        let refreshed = AtomicBool::new(false);
        let request = &request;
        let tries = Tries {
            started,
            rate_limited: &rate_limited,
            refreshed: &refreshed,
        };
        backoff::future::retry(self.inner.retry.backoff(), || async move {
            self.inner.attempt(request, tries).await
        })
        .await
    }
}

/// What one attempt ended with, as the retry loop sees it.
type Attempt = Result<Response, backoff::Error<ConnectorError>>;

/// What the attempts of one request share.
#[derive(Clone, Copy)]
struct Tries<'a> {
    started: Instant,
    /// Rate-limit refusals so far.
    rate_limited: &'a AtomicU32,
    /// Whether the token was already refreshed after a `401`.
    refreshed: &'a AtomicBool,
}

impl Inner {
    /// The `Authorization` header of the next attempt, and the token it carries when it
    /// came from a [`TokenSource`] (to name it on a `401`).
    async fn authorization(
        &self,
    ) -> Result<(HeaderValue, Option<SecretString>), backoff::Error<ConnectorError>> {
        match &self.auth {
            Auth::Fixed(value) => Ok((value.clone(), None)),
            Auth::Source(source) => {
                // A refresh that failed in passing (network, 5xx) is retried like any
                // request; a refused grant is final.
                let token = source.token().await.map_err(|e| {
                    if e.is_retryable() {
                        backoff::Error::transient(e)
                    } else {
                        backoff::Error::permanent(e)
                    }
                })?;
                let value = bearer(&token).ok_or_else(|| {
                    backoff::Error::permanent(ConnectorError::InvalidData(format!(
                        "the {} token contains characters that cannot go into an HTTP header",
                        self.service
                    )))
                })?;
                Ok((value, Some(token)))
            }
        }
    }

    /// After a `401` with a token from a source: refreshes it once per request and asks
    /// for another attempt; `None` when the `401` stands.
    async fn after_unauthorized(
        &self,
        request: &Request,
        sent: Option<&SecretString>,
        tries: Tries<'_>,
    ) -> Option<backoff::Error<ConnectorError>> {
        let (Auth::Source(source), Some(sent)) = (&self.auth, sent) else {
            return None;
        };
        if tries.refreshed.swap(true, Ordering::SeqCst) {
            return None;
        }
        debug!(service = self.service, request = %request.label(), "401: refreshing the token once");
        match source.refresh(sent).await {
            Ok(Some(_)) => Some(backoff::Error::retry_after(
                ConnectorError::Unauthorized {
                    status: 401,
                    message: "token refreshed".to_owned(),
                },
                Duration::ZERO,
            )),
            Ok(None) => None,
            Err(e) => Some(backoff::Error::permanent(e)),
        }
    }

    async fn attempt(&self, request: &Request, tries: Tries<'_>) -> Attempt {
        let Tries {
            started,
            rate_limited,
            ..
        } = tries;
        let pool = if request.is_read() {
            &self.reads
        } else {
            &self.writes
        };
        // The semaphores are never closed, so acquiring can only fail if that changes.
        let _permit = pool.acquire().await.map_err(|_| {
            backoff::Error::permanent(ConnectorError::Transient {
                service: self.service,
                message: "the HTTP client is shutting down".to_owned(),
            })
        })?;
        self.wait_turn().await;

        let url = self.url(&request.path).map_err(backoff::Error::permanent)?;
        let (authorization, sent_token) = self.authorization().await?;
        let mut builder = self
            .client
            .request(request.method.clone(), url)
            .header(header::AUTHORIZATION, authorization.clone())
            .header(header::ACCEPT, self.accept.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name.clone(), value.clone());
        }
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }

        self.counters.record(&request.method);
        let answer = builder.send().await;
        let response = match answer {
            Ok(response) => response,
            Err(source) => return Err(self.transport_failure(request, source)),
        };
        let status = response.status();
        debug!(
            service = self.service,
            method = %request.method,
            path = %request.path,
            status = status.as_u16(),
            "http"
        );
        let headers = response.headers().clone();
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(source) => return Err(self.transport_failure(request, source)),
        };

        if status.is_success() || request.pass_through.contains(&status) {
            self.note_budget(&headers);
            return Ok(Response {
                status: status.as_u16(),
                headers,
                body,
                service: self.service,
                label: request.label(),
            });
        }
        if status == StatusCode::UNAUTHORIZED
            && let Some(again) = self
                .after_unauthorized(request, sent_token.as_ref(), tries)
                .await
        {
            return Err(again);
        }
        // A service (or a proxy) may echo the request back in its error: never pass the
        // token on into a message that gets printed.
        let message = redact(error_message(status, &body), &authorization);
        if let Some(named) = rate_limit_wait(status, &headers, &message) {
            return Err(self.rate_limited(request, named, started, rate_limited));
        }
        if status.is_server_error() {
            return Err(match request.idempotency {
                Idempotency::Safe => backoff::Error::transient(ConnectorError::Transient {
                    service: self.service,
                    message: format!("{}: {} {message}", request.label(), status.as_u16()),
                }),
                Idempotency::CreateOnce => {
                    backoff::Error::permanent(ConnectorError::Ambiguous(format!(
                        "{}: {} answered {}: {message}",
                        request.label(),
                        self.service,
                        status.as_u16()
                    )))
                }
            });
        }
        Err(backoff::Error::permanent(
            self.refusal(request, status, message),
        ))
    }

    /// Waits for the shared pause a `429` may have set, then for the rate budget.
    async fn wait_turn(&self) {
        self.wait_pause().await;
        self.limiter.until_ready().await;
        // A 429 may have come in while this request queued for the budget: it must wait
        // that pause out too, or it would go out in the middle of it.
        self.wait_pause().await;
    }

    /// Waits until no shared `Retry-After` pause is running.
    async fn wait_pause(&self) {
        loop {
            let until = *self
                .not_before
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match until {
                Some(until) if until > Instant::now() => tokio::time::sleep_until(until).await,
                // Re-check after sleeping: another 429 may have pushed the pause further.
                _ => break,
            }
        }
    }

    /// Handles a rate-limit refusal (see [`rate_limit_wait`]): pushes the shared pause and
    /// retries if the wait fits the budget. `named`: the wait the service asked for.
    fn rate_limited(
        &self,
        request: &Request,
        named: Option<Duration>,
        started: Instant,
        rate_limited: &AtomicU32,
    ) -> backoff::Error<ConnectorError> {
        let n = rate_limited.fetch_add(1, Ordering::Relaxed);
        let wait = named.unwrap_or_else(|| self.retry.rate_limit_fallback(n));
        let now = Instant::now();
        if now.duration_since(started) + wait > self.retry.max_elapsed {
            warn!(service = self.service, request = %request.label(), ?wait, "rate limited; giving up");
            return backoff::Error::permanent(ConnectorError::RateLimited {
                retry_after: Some(wait),
            });
        }
        self.pause_until(now + wait);
        debug!(service = self.service, request = %request.label(), ?wait, "rate limited; pausing");
        // Retry at once: the next attempt waits for the shared pause in `wait_turn`.
        backoff::Error::retry_after(
            ConnectorError::RateLimited {
                retry_after: Some(wait),
            },
            Duration::ZERO,
        )
    }

    /// Pushes the shared "not before" instant to `until` (never pulls it earlier).
    fn pause_until(&self, until: Instant) {
        let mut not_before = self
            .not_before
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if not_before.is_none_or(|current| current < until) {
            *not_before = Some(until);
        }
    }

    /// A successful answer that spent the last request of the primary budget
    /// (`x-ratelimit-remaining: 0`, GitHub) pauses the client until `x-ratelimit-reset`, so
    /// the next request is not refused. A reset further away than the retry budget is not
    /// waited for here: the next request's refusal reports it as rate limited.
    fn note_budget(&self, headers: &HeaderMap) {
        if header_u64(headers, "x-ratelimit-remaining") != Some(0) {
            return;
        }
        let Some(wait) = until_reset(headers) else {
            return;
        };
        if wait <= self.retry.max_elapsed {
            debug!(
                service = self.service,
                ?wait,
                "primary rate budget spent; pausing until its reset"
            );
            self.pause_until(Instant::now() + wait);
        }
    }

    /// A request that got no (complete) answer.
    fn transport_failure(
        &self,
        request: &Request,
        source: reqwest::Error,
    ) -> backoff::Error<ConnectorError> {
        debug!(service = self.service, request = %request.label(), error = %source, "http transport error");
        // A connect error proves the request never reached the server.
        if source.is_connect() || request.idempotency == Idempotency::Safe {
            return backoff::Error::transient(self.transport_error(source));
        }
        backoff::Error::permanent(ConnectorError::Ambiguous(format!(
            "{}: the answer from {} was lost: {}",
            request.label(),
            self.service,
            error_chain(&source)
        )))
    }

    fn transport_error(&self, source: reqwest::Error) -> ConnectorError {
        ConnectorError::Transport {
            service: self.service,
            source,
        }
    }

    /// The typed error for a non-retried refusal.
    fn refusal(&self, request: &Request, status: StatusCode, message: String) -> ConnectorError {
        match status {
            StatusCode::UNAUTHORIZED => ConnectorError::Unauthorized {
                status: status.as_u16(),
                message,
            },
            StatusCode::FORBIDDEN => {
                ConnectorError::Forbidden(format!("{}: {message}", request.label()))
            }
            StatusCode::NOT_FOUND => {
                ConnectorError::NotFound(format!("{}: {message}", request.label()))
            }
            _ => ConnectorError::Api {
                service: self.service,
                status: status.as_u16(),
                message: format!("{}: {message}", request.label()),
            },
        }
    }

    /// The full URL of `path`: relative paths go under the base URL; an absolute URL (a
    /// pagination link) is accepted only under the base URL, so the token never leaves it.
    fn url(&self, path: &str) -> Result<String, ConnectorError> {
        if path.starts_with('/') {
            return Ok(format!("{}{path}", self.base_url));
        }
        if path
            .strip_prefix(&self.base_url)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
        {
            return Ok(path.to_owned());
        }
        Err(ConnectorError::InvalidData(format!(
            "refusing to send the {} token to a URL outside {}",
            self.service, self.base_url
        )))
    }
}

/// The least GitHub asks to wait after a secondary-limit refusal that names no
/// `Retry-After` ("wait at least one minute").
pub const SECONDARY_LIMIT_MIN_WAIT: Duration = Duration::from_secs(60);

/// Whether a refusal is a rate limit, and the wait it names (`Some(None)`: a rate limit that
/// names no wait; the exponential fallback applies).
///
/// A `429` always is. A `403` is one when it says so the way GitHub does: a `Retry-After`
/// (secondary limit), `x-ratelimit-remaining: 0` (primary limit), or a message naming a
/// secondary rate limit; any other `403` is a plain refusal. The wait is `Retry-After`
/// (`0` counts as absent, so a retry never busy-loops), else the time until
/// `x-ratelimit-reset` when the primary budget is spent, else
/// [`SECONDARY_LIMIT_MIN_WAIT`] for a secondary limit.
fn rate_limit_wait(
    status: StatusCode,
    headers: &HeaderMap,
    message: &str,
) -> Option<Option<Duration>> {
    let too_many = status == StatusCode::TOO_MANY_REQUESTS;
    if !too_many && status != StatusCode::FORBIDDEN {
        return None;
    }
    let named = retry_after(headers).filter(|d| !d.is_zero());
    if named.is_some() {
        return Some(named);
    }
    if header_u64(headers, "x-ratelimit-remaining") == Some(0) {
        return Some(until_reset(headers));
    }
    if message
        .to_ascii_lowercase()
        .contains("secondary rate limit")
    {
        return Some(Some(SECONDARY_LIMIT_MIN_WAIT));
    }
    too_many.then_some(None)
}

/// A header holding an unsigned integer.
fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The wait until `x-ratelimit-reset` (epoch seconds), plus a second because the reset is
/// rounded to whole seconds; at least a second when the reset is already past.
fn until_reset(headers: &HeaderMap) -> Option<Duration> {
    let reset = i64::try_from(header_u64(headers, "x-ratelimit-reset")?).ok()?;
    let now = jiff::Timestamp::now().as_second();
    let seconds = u64::try_from(reset.saturating_sub(now)).unwrap_or(0);
    Some(Duration::from_secs(seconds.saturating_add(1)))
}

/// `Retry-After` as a wait: delta-seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if let Ok(seconds) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .ok()?;
    let wait = at.duration_since(jiff::Timestamp::now());
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

/// The service's own error message: Asana's `{"errors":[{"message"}]}`, GitHub's
/// `{"message"}`, else the start of the body, else the status' reason.
fn error_message(status: StatusCode, body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        errors: Vec<ErrorItem>,
        #[serde(default)]
        message: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorItem {
        #[serde(default)]
        message: Option<String>,
    }
    if let Ok(parsed) = serde_json::from_slice::<Body>(body) {
        let messages: Vec<String> = parsed
            .errors
            .into_iter()
            .filter_map(|e| e.message)
            .chain(parsed.message)
            .collect();
        if !messages.is_empty() {
            return messages.join("; ");
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("no error message")
            .to_owned()
    } else {
        text.chars().take(300).collect()
    }
}

/// The client-side quota for a budget of `rpm` requests a minute. Asana counts requests in
/// a sliding minute (rejected ones too), and a token bucket lets through at most its rate
/// times the window plus its burst in any window: so the burst (2% of the budget) is taken
/// off the steady rate, and no minute ever holds more than `rpm`. When the budget is the
/// bottleneck a run uses 98% of it.
fn budget_quota(rpm: NonZeroU32) -> Quota {
    let burst = (rpm.get() / 50).max(1);
    let rate = NonZeroU32::new(rpm.get().saturating_sub(burst)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.min(rate.get())).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(rate).allow_burst(burst)
}

/// `message` with the token carried by `authorization` (`Bearer <token>`) blanked out.
fn redact(message: String, authorization: &HeaderValue) -> String {
    let Ok(value) = authorization.to_str() else {
        return message;
    };
    let token = value.strip_prefix("Bearer ").unwrap_or(value).trim();
    if token.len() < 4 || !message.contains(token) {
        return message;
    }
    message.replace(token, "[REDACTED]")
}

/// An error and its sources on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    //! Against small axum fakes on 127.0.0.1: Retry-After obeyed and shared, 5xx retried,
    //! create-once never replayed once the server saw it, connect errors retried, error
    //! messages surfaced, the token kept out of every printable form.

    use std::sync::Mutex as StdMutex;
    use std::sync::atomic::AtomicUsize;

    use axum::Router;
    use axum::http::{HeaderMap as AxumHeaders, StatusCode as AxumStatus};
    use axum::response::IntoResponse;
    use axum::routing::{get, post};
    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::error::ErrorKind;

    const TOKEN: &str = "s3cr3t-t0ken-value";

    async fn serve_on(listener: tokio::net::TcpListener, router: Router) -> String {
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        tokio::spawn(async move { axum::serve(listener, router).await.expect("fake serves") });
        format!("http://{addr}")
    }

    async fn serve(router: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        serve_on(listener, router).await
    }

    fn client(base: &str, retry: RetryPolicy) -> HttpClient {
        let mut config = HttpConfig::new("asana", base, SecretString::from(TOKEN.to_owned()));
        config.retry = retry;
        config.requests_per_minute = 60_000;
        HttpClient::new(config).expect("valid config")
    }

    /// No sliding minute ever holds more than the budget: steady rate plus burst <= rpm,
    /// and the steady rate is at least 95% of it.
    #[test]
    fn the_quota_never_exceeds_the_budget_in_a_minute() {
        for rpm in [1, 2, 60, 150, 300, 1500, 10_000] {
            let quota = budget_quota(NonZeroU32::new(rpm).expect("non-zero"));
            let per_request = quota.replenish_interval();
            let steady = Duration::from_secs(60).as_nanos() / per_request.as_nanos();
            let burst = u128::from(quota.burst_size().get());
            assert!(
                steady + burst <= u128::from(rpm).max(2),
                "rpm {rpm}: {steady} + {burst}"
            );
            if rpm >= 60 {
                assert!(
                    steady * 100 >= u128::from(rpm) * 95,
                    "rpm {rpm}: steady {steady}"
                );
            }
        }
    }

    /// A token echoed back in a service's error message is blanked out.
    #[test]
    fn echoed_tokens_are_redacted() {
        let auth = HeaderValue::from_static("Bearer s3cret-token");
        assert_eq!(
            redact("bad header: Bearer s3cret-token".to_owned(), &auth),
            "bad header: Bearer [REDACTED]"
        );
        assert_eq!(redact("no echo".to_owned(), &auth), "no echo");
    }

    fn asana_error(status: u16, message: &str) -> impl IntoResponse + use<> {
        (
            AxumStatus::from_u16(status).expect("valid status"),
            axum::Json(serde_json::json!({"errors": [{"message": message}]})),
        )
    }

    /// Requests queued for the budget when a 429 comes in wait its pause out too: none
    /// reaches the service during the pause (only one already on its way may).
    #[tokio::test]
    async fn requests_queued_for_the_budget_respect_a_pause_that_began_meanwhile() {
        let arrivals = Arc::new(StdMutex::new(Vec::<Instant>::new()));
        let refused = Arc::new(StdMutex::new(None::<Instant>));
        let (a, r) = (Arc::clone(&arrivals), Arc::clone(&refused));
        let router = Router::new().route(
            "/x",
            get(move || {
                let (a, r) = (Arc::clone(&a), Arc::clone(&r));
                async move {
                    let mut refused = r.lock().expect("no panic while held");
                    if refused.is_none() {
                        *refused = Some(Instant::now());
                        let mut headers = AxumHeaders::new();
                        headers.insert("retry-after", "2".parse().expect("valid header"));
                        return (AxumStatus::TOO_MANY_REQUESTS, headers, "slow down")
                            .into_response();
                    }
                    a.lock().expect("no panic while held").push(Instant::now());
                    axum::Json(serde_json::json!({"data": 1})).into_response()
                }
            }),
        );
        let base = serve(router).await;
        let mut config = HttpConfig::new("asana", base, SecretString::from(TOKEN.to_owned()));
        config.retry = RetryPolicy::fast(Duration::from_secs(20));
        // About two a second: the later requests queue in the budget for a while.
        config.requests_per_minute = 120;
        let http = HttpClient::new(config).expect("valid config");
        let tasks: Vec<_> = (0..5)
            .map(|_| {
                let http = http.clone();
                tokio::spawn(async move { http.send(Request::get("/x")).await })
            })
            .collect();
        for t in tasks {
            t.await.expect("task").expect("sent in the end");
        }
        let refused_at = refused
            .lock()
            .expect("no panic while held")
            .expect("one 429");
        let during: Vec<Duration> = arrivals
            .lock()
            .expect("no panic while held")
            .iter()
            .filter(|at| **at > refused_at + Duration::from_millis(150))
            .map(|at| at.duration_since(refused_at))
            .filter(|d| *d < Duration::from_millis(1900))
            .collect();
        assert!(
            during.is_empty(),
            "requests arrived during the pause: {during:?}"
        );
    }

    /// A 429's Retry-After is obeyed by the refused request and by every other request of
    /// the client queued meanwhile.
    #[tokio::test]
    async fn retry_after_pauses_every_request_of_the_client() {
        #[derive(Default)]
        struct Seen {
            refused_at: Option<Instant>,
            arrivals: Vec<(String, Instant)>,
        }
        let seen = Arc::new(StdMutex::new(Seen::default()));
        let s1 = Arc::clone(&seen);
        let s2 = Arc::clone(&seen);
        let router = Router::new()
            .route(
                "/limited",
                get(move || async move {
                    let mut seen = s1.lock().expect("no panic while held");
                    if seen.refused_at.is_none() {
                        seen.refused_at = Some(Instant::now());
                        let mut headers = AxumHeaders::new();
                        headers.insert("retry-after", "1".parse().expect("valid header"));
                        return (AxumStatus::TOO_MANY_REQUESTS, headers, "slow down")
                            .into_response();
                    }
                    seen.arrivals.push(("limited".to_owned(), Instant::now()));
                    axum::Json(serde_json::json!({"data": 1})).into_response()
                }),
            )
            .route(
                "/other",
                get(move || async move {
                    s2.lock()
                        .expect("no panic while held")
                        .arrivals
                        .push(("other".to_owned(), Instant::now()));
                    axum::Json(serde_json::json!({"data": 2}))
                }),
            );
        let base = serve(router).await;
        let http = client(&base, RetryPolicy::fast(Duration::from_secs(10)));

        let first = {
            let http = http.clone();
            tokio::spawn(async move { http.send(Request::get("/limited")).await })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        let others: Vec<_> = (0..3)
            .map(|_| {
                let http = http.clone();
                tokio::spawn(async move { http.send(Request::get("/other")).await })
            })
            .collect();
        first.await.expect("task").expect("retried after the pause");
        for other in others {
            other.await.expect("task").expect("sent after the pause");
        }

        let seen = seen.lock().expect("no panic while held");
        let refused_at = seen.refused_at.expect("the first request was refused");
        assert_eq!(seen.arrivals.len(), 4);
        for (path, at) in &seen.arrivals {
            assert!(
                at.duration_since(refused_at) >= Duration::from_millis(950),
                "{path} arrived {:?} after the 429",
                at.duration_since(refused_at)
            );
        }
        assert_eq!(http.requests_sent().get, 5);
    }

    /// A Retry-After longer than the retry budget is not waited for: rate limited at once.
    #[tokio::test]
    async fn long_retry_after_gives_up_as_rate_limited() {
        let router = Router::new().route(
            "/x",
            get(|| async {
                let mut headers = AxumHeaders::new();
                headers.insert("retry-after", "120".parse().expect("valid header"));
                (AxumStatus::TOO_MANY_REQUESTS, headers, "")
            }),
        );
        let base = serve(router).await;
        let http = client(&base, RetryPolicy::fast(Duration::from_secs(5)));
        let err = http
            .send(Request::get("/x"))
            .await
            .expect_err("rate limited");
        assert!(
            matches!(err, ConnectorError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(120)),
            "{err:?}"
        );
    }

    /// 5xx on a safe request is retried until it succeeds.
    #[tokio::test]
    async fn server_errors_are_retried_then_succeed() {
        let hits = Arc::new(AtomicUsize::new(0));
        let h = Arc::clone(&hits);
        let router = Router::new().route(
            "/flaky",
            get(move || async move {
                if h.fetch_add(1, Ordering::SeqCst) < 2 {
                    asana_error(500, "6 sad squid snuggle softly").into_response()
                } else {
                    axum::Json(serde_json::json!({"data": {"ok": true}})).into_response()
                }
            }),
        );
        let base = serve(router).await;
        let http = client(&base, RetryPolicy::fast(Duration::from_secs(5)));
        let response = http
            .send(Request::get("/flaky"))
            .await
            .expect("third try works");
        let value: serde_json::Value = response.json().expect("json");
        assert_eq!(value["data"]["ok"], true);
        assert_eq!(hits.load(Ordering::SeqCst), 3);
        assert_eq!(http.requests_sent().get, 3);
    }

    /// A safe request that keeps failing ends as Transient with the service's message.
    #[tokio::test]
    async fn persistent_server_error_ends_transient() {
        let router = Router::new().route(
            "/down",
            get(|| async { asana_error(503, "upstream service unavailable") }),
        );
        let base = serve(router).await;
        let http = client(&base, RetryPolicy::fast(Duration::from_millis(300)));
        let err = http
            .send(Request::get("/down"))
            .await
            .expect_err("gives up");
        assert_eq!(err.kind(), ErrorKind::Transient);
        assert!(
            err.to_string().contains("upstream service unavailable"),
            "{err}"
        );
        assert!(http.requests_sent().get >= 2, "it was retried");
    }

    /// A create-once POST that reached the server is never sent again: a 5xx answer is
    /// ambiguous.
    #[tokio::test]
    async fn create_once_is_not_retried_after_a_server_error() {
        let hits = Arc::new(AtomicUsize::new(0));
        let h = Arc::clone(&hits);
        let router = Router::new().route(
            "/tasks",
            post(move || async move {
                h.fetch_add(1, Ordering::SeqCst);
                asana_error(500, "boom")
            }),
        );
        let base = serve(router).await;
        let http = client(&base, RetryPolicy::fast(Duration::from_secs(5)));
        let request = Request::post("/tasks", serde_json::json!({"data": {"name": "x"}}))
            .idempotency(Idempotency::CreateOnce);
        let err = http.send(request).await.expect_err("ambiguous");
        assert_eq!(err.kind(), ErrorKind::Ambiguous, "{err}");
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        assert_eq!(http.requests_sent().post, 1);
    }

    /// A create-once POST whose connection drops after the server read it is ambiguous and
    /// sent once; the same failure on a safe request is retried.
    #[tokio::test]
    async fn lost_answer_is_ambiguous_for_create_and_retried_for_safe() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let accepted = Arc::new(AtomicUsize::new(0));
        let a = Arc::clone(&accepted);
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                a.fetch_add(1, Ordering::SeqCst);
                let mut buf = vec![0u8; 8192];
                let _ = stream.read(&mut buf).await;
                drop(stream); // read the request, never answer
            }
        });

        let http = client(&base, RetryPolicy::fast(Duration::from_millis(300)));
        let create = Request::post("/tasks", serde_json::json!({"data": {"name": "x"}}));
        let err = http.send(create).await.expect_err("no answer");
        assert_eq!(err.kind(), ErrorKind::Ambiguous, "{err}");
        assert_eq!(accepted.load(Ordering::SeqCst), 1);

        let err = http
            .send(Request::get("/tasks/1"))
            .await
            .expect_err("no answer");
        assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
        assert!(accepted.load(Ordering::SeqCst) >= 3, "the GET was retried");
    }

    /// A connect error proves the server never saw the request: even a create is retried.
    #[tokio::test]
    async fn connect_errors_are_retried_even_for_creates() {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a local port");
        let addr = probe.local_addr().expect("address");
        drop(probe); // nothing listens there for now: connections are refused
        let hits = Arc::new(AtomicUsize::new(0));
        let h = Arc::clone(&hits);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .expect("rebind the port");
            let router = Router::new().route(
                "/tasks",
                post(move || async move {
                    h.fetch_add(1, Ordering::SeqCst);
                    (
                        AxumStatus::CREATED,
                        axum::Json(serde_json::json!({"data": {"gid": "1"}})),
                    )
                }),
            );
            axum::serve(listener, router).await.expect("fake serves");
        });
        let http = client(
            &format!("http://{addr}"),
            RetryPolicy::fast(Duration::from_secs(10)),
        );
        let create = Request::post("/tasks", serde_json::json!({"data": {"name": "x"}}));
        let response = http.send(create).await.expect("sent once the server is up");
        assert_eq!(response.status, 201);
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        assert!(
            http.requests_sent().post >= 2,
            "refused attempts are counted"
        );
    }

    /// Non-2xx answers become typed errors carrying Asana's own message.
    #[tokio::test]
    async fn error_bodies_become_typed_errors() {
        let router = Router::new()
            .route("/401", get(|| async { asana_error(401, "Not Authorized") }))
            .route(
                "/403",
                get(|| async { asana_error(403, "no access to this project") }),
            )
            .route(
                "/404",
                get(|| async { asana_error(404, "task: Unknown object: 42") }),
            )
            .route(
                "/400",
                get(|| async { asana_error(400, "due_on: Invalid date") }),
            )
            .route(
                "/plain",
                get(|| async { (AxumStatus::CONFLICT, "just text") }),
            );
        let base = serve(router).await;
        let http = client(&base, RetryPolicy::fast(Duration::from_secs(1)));
        let err = http.send(Request::get("/401")).await.expect_err("401");
        assert!(
            matches!(&err, ConnectorError::Unauthorized { status: 401, message } if message == "Not Authorized"),
            "{err:?}"
        );
        let err = http.send(Request::get("/403")).await.expect_err("403");
        assert!(
            matches!(&err, ConnectorError::Forbidden(m) if m.contains("no access to this project")),
            "{err:?}"
        );
        let err = http.send(Request::get("/404")).await.expect_err("404");
        assert!(
            matches!(&err, ConnectorError::NotFound(m) if m.contains("Unknown object: 42")),
            "{err:?}"
        );
        let err = http.send(Request::get("/400")).await.expect_err("400");
        assert!(
            matches!(&err, ConnectorError::Api { status: 400, message, .. } if message.contains("due_on: Invalid date")),
            "{err:?}"
        );
        let err = http.send(Request::get("/plain")).await.expect_err("409");
        assert!(err.to_string().contains("just text"), "{err}");
        // Refusals are final: each was sent exactly once.
        assert_eq!(http.requests_sent().get, 5);
    }

    /// A status the request declared it handles comes back as a response with its body.
    #[tokio::test]
    async fn declared_statuses_pass_through() {
        let router = Router::new().route(
            "/events",
            get(|| async {
                (
                    AxumStatus::PRECONDITION_FAILED,
                    axum::Json(serde_json::json!({"errors": [{"message": "Sync token invalid"}], "sync": "abc"})),
                )
            }),
        );
        let base = serve(router).await;
        let http = client(&base, RetryPolicy::fast(Duration::from_secs(1)));
        let response = http
            .send(
                Request::get("/events")
                    .query("resource", "1")
                    .pass_through(412),
            )
            .await
            .expect("412 passed through");
        assert_eq!(response.status, 412);
        let body: serde_json::Value = response.json().expect("json");
        assert_eq!(body["sync"], "abc");
    }

    /// The token goes out as a bearer header and appears in no Debug output or error.
    #[tokio::test]
    async fn token_is_sent_but_never_shown() {
        let seen = Arc::new(StdMutex::new(None::<String>));
        let s = Arc::clone(&seen);
        let router = Router::new().route(
            "/me",
            get(move |headers: AxumHeaders| async move {
                *s.lock().expect("no panic while held") = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                asana_error(401, "Not Authorized")
            }),
        );
        let base = serve(router).await;
        let config = HttpConfig::new("asana", &base, SecretString::from(TOKEN.to_owned()));
        let config_debug = format!("{config:?}");
        let http = HttpClient::new(config).expect("valid config");
        let err = http.send(Request::get("/me")).await.expect_err("401");
        assert_eq!(
            seen.lock().expect("no panic while held").as_deref(),
            Some(format!("Bearer {TOKEN}").as_str())
        );

        let closed = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            probe.local_addr().expect("address")
        };
        let mut config = HttpConfig::new(
            "asana",
            format!("http://{closed}"),
            SecretString::from(TOKEN.to_owned()),
        );
        config.retry = RetryPolicy::none();
        let unreachable = HttpClient::new(config).expect("valid config");
        let transport = unreachable
            .send(Request::get("/me"))
            .await
            .expect_err("refused");

        for shown in [
            config_debug,
            format!("{http:?}"),
            format!("{err}"),
            format!("{err:?}"),
            format!("{transport}"),
            format!("{transport:?}"),
            error_chain(&transport),
        ] {
            assert!(!shown.contains(TOKEN), "token leaked in: {shown}");
        }
    }

    /// A token source for tests: hands out `current`, and on a refresh switches to `next`
    /// (or fails, or cannot refresh), counting refreshes.
    struct Rotating {
        current: StdMutex<String>,
        next: Option<String>,
        fail: bool,
        refreshes: AtomicUsize,
    }

    impl Rotating {
        fn new(current: &str, next: Option<&str>) -> Arc<Self> {
            Arc::new(Self {
                current: StdMutex::new(current.to_owned()),
                next: next.map(str::to_owned),
                fail: false,
                refreshes: AtomicUsize::new(0),
            })
        }
    }

    #[async_trait]
    impl TokenSource for Rotating {
        async fn token(&self) -> Result<SecretString, ConnectorError> {
            Ok(SecretString::from(
                self.current.lock().expect("no panic while held").clone(),
            ))
        }

        async fn refresh(
            &self,
            rejected: &SecretString,
        ) -> Result<Option<SecretString>, ConnectorError> {
            self.refreshes.fetch_add(1, Ordering::SeqCst);
            if self.fail {
                return Err(ConnectorError::Unauthorized {
                    status: 401,
                    message: "the sign-in was revoked".to_owned(),
                });
            }
            let Some(next) = &self.next else {
                return Ok(None);
            };
            let mut current = self.current.lock().expect("no panic while held");
            if *current == rejected.expose_secret() {
                current.clone_from(next);
            }
            Ok(Some(SecretString::from(current.clone())))
        }
    }

    /// A server that accepts only `Bearer fresh`, recording every Authorization it saw.
    async fn fresh_only() -> (String, Arc<StdMutex<Vec<String>>>) {
        let seen = Arc::new(StdMutex::new(Vec::new()));
        let s = Arc::clone(&seen);
        let router = Router::new().route(
            "/me",
            get(move |headers: AxumHeaders| async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                s.lock().expect("no panic while held").push(auth.clone());
                if auth == "Bearer fresh" {
                    axum::Json(serde_json::json!({"data": {"gid": "1"}})).into_response()
                } else {
                    asana_error(401, "Not Authorized").into_response()
                }
            }),
        );
        (serve(router).await, seen)
    }

    fn sourced(base: &str, source: Arc<Rotating>) -> HttpClient {
        let config = HttpConfig::new("asana", base, SecretString::from(String::new()))
            .with_token_source(source)
            .with_retry(RetryPolicy::none());
        HttpClient::new(config).expect("valid config")
    }

    /// A 401 with a token from a source refreshes it once and sends the request again, even
    /// with a retry policy that retries nothing else.
    #[tokio::test]
    async fn token_source_refreshes_once_on_401() {
        let (base, seen) = fresh_only().await;
        let source = Rotating::new("stale", Some("fresh"));
        let http = sourced(&base, Arc::clone(&source));
        http.send(Request::get("/me")).await.expect("refreshed");
        http.send(Request::get("/me"))
            .await
            .expect("fresh token kept");
        assert_eq!(source.refreshes.load(Ordering::SeqCst), 1);
        assert_eq!(
            *seen.lock().expect("no panic while held"),
            ["Bearer stale", "Bearer fresh", "Bearer fresh"]
        );
        assert_eq!(http.requests_sent().get, 3);
    }

    /// A refreshed token that is refused again ends as Unauthorized: one refresh, two sends.
    #[tokio::test]
    async fn token_source_refresh_is_not_repeated() {
        let (base, seen) = fresh_only().await;
        let source = Rotating::new("stale", Some("also-stale"));
        let http = sourced(&base, Arc::clone(&source));
        let err = http.send(Request::get("/me")).await.expect_err("401");
        assert!(
            matches!(err, ConnectorError::Unauthorized { status: 401, .. }),
            "{err:?}"
        );
        assert_eq!(source.refreshes.load(Ordering::SeqCst), 1);
        assert_eq!(seen.lock().expect("no panic while held").len(), 2);
    }

    /// A source that cannot refresh leaves the 401 as it is; a failing refresh replaces it
    /// with its own error (e.g. "run auth login again").
    #[tokio::test]
    async fn token_source_without_refresh_or_failing() {
        let (base, _) = fresh_only().await;
        let cannot = Rotating::new("stale", None);
        let err = sourced(&base, Arc::clone(&cannot))
            .send(Request::get("/me"))
            .await
            .expect_err("401");
        assert!(err.to_string().contains("Not Authorized"), "{err}");
        assert_eq!(cannot.refreshes.load(Ordering::SeqCst), 1);

        let failing = Arc::new(Rotating {
            current: StdMutex::new("stale".to_owned()),
            next: None,
            fail: true,
            refreshes: AtomicUsize::new(0),
        });
        let err = sourced(&base, failing)
            .send(Request::get("/me"))
            .await
            .expect_err("revoked");
        assert!(err.to_string().contains("revoked"), "{err}");
    }

    /// A fixed token is never refreshed: a 401 is returned at once.
    #[tokio::test]
    async fn fixed_token_401_is_returned_at_once() {
        let (base, seen) = fresh_only().await;
        let mut config = HttpConfig::new("asana", &base, SecretString::from("pat".to_owned()));
        config.retry = RetryPolicy::fast(Duration::from_secs(5));
        let err = HttpClient::new(config)
            .expect("valid config")
            .send(Request::get("/me"))
            .await
            .expect_err("401");
        assert!(
            matches!(err, ConnectorError::Unauthorized { .. }),
            "{err:?}"
        );
        assert_eq!(seen.lock().expect("no panic while held").len(), 1);
    }

    /// Writes never exceed their in-flight cap.
    #[tokio::test]
    async fn writes_respect_the_in_flight_cap() {
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (n, p) = (Arc::clone(&now), Arc::clone(&peak));
        let router = Router::new().route(
            "/w",
            axum::routing::put(move || {
                let (n, p) = (Arc::clone(&n), Arc::clone(&p));
                async move {
                    let current = n.fetch_add(1, Ordering::SeqCst) + 1;
                    p.fetch_max(current, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    n.fetch_sub(1, Ordering::SeqCst);
                    axum::Json(serde_json::json!({"data": {}}))
                }
            }),
        );
        let base = serve(router).await;
        let mut config = HttpConfig::new("asana", &base, SecretString::from(TOKEN.to_owned()));
        config.max_writes_in_flight = 2;
        config.requests_per_minute = 60_000;
        let http = HttpClient::new(config).expect("valid config");
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let http = http.clone();
                tokio::spawn(async move {
                    http.send(Request::put("/w", serde_json::json!({"data": {}})))
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task").expect("ok");
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        assert_eq!(http.requests_sent().put, 8);
    }

    /// Only URLs under the base URL receive the token.
    #[test]
    fn foreign_urls_are_refused() {
        let http = client("http://127.0.0.1:9/api/1.0/", RetryPolicy::none());
        assert_eq!(
            http.inner.url("/tasks").expect("relative"),
            "http://127.0.0.1:9/api/1.0/tasks"
        );
        assert!(
            http.inner
                .url("http://127.0.0.1:9/api/1.0/tasks?offset=x")
                .is_ok()
        );
        assert!(
            http.inner
                .url("http://127.0.0.1:9/api/1.0evil/tasks")
                .is_err()
        );
        assert!(http.inner.url("https://elsewhere.example/tasks").is_err());
    }

    /// GitHub's rate-limit answers are `403`s: with `Retry-After` (secondary limit) and with
    /// `x-ratelimit-remaining: 0` (primary limit, wait until `x-ratelimit-reset`) the request
    /// waits and is retried; a plain `403` stays a refusal (tested above).
    #[tokio::test]
    async fn github_style_403_rate_limits_are_waited_out() {
        let hits = Arc::new(AtomicUsize::new(0));
        let h = Arc::clone(&hits);
        let h2 = Arc::clone(&hits);
        let router = Router::new()
            .route(
                "/secondary",
                post(move || async move {
                    if h.fetch_add(1, Ordering::SeqCst) == 0 {
                        let mut headers = AxumHeaders::new();
                        headers.insert("retry-after", "1".parse().expect("valid header"));
                        let body = axum::Json(serde_json::json!({"message": "You have exceeded a secondary rate limit."}));
                        return (AxumStatus::FORBIDDEN, headers, body).into_response();
                    }
                    (AxumStatus::CREATED, axum::Json(serde_json::json!({"ok": true}))).into_response()
                }),
            )
            .route(
                "/primary",
                get(move || async move {
                    if h2.fetch_add(1, Ordering::SeqCst) == 2 {
                        let mut headers = AxumHeaders::new();
                        headers.insert("x-ratelimit-remaining", "0".parse().expect("valid header"));
                        let reset = jiff::Timestamp::now().as_second() + 1;
                        headers.insert("x-ratelimit-reset", reset.to_string().parse().expect("valid header"));
                        let body = axum::Json(serde_json::json!({"message": "API rate limit exceeded"}));
                        return (AxumStatus::FORBIDDEN, headers, body).into_response();
                    }
                    axum::Json(serde_json::json!({"ok": true})).into_response()
                }),
            );
        let base = serve(router).await;
        let http = client(&base, RetryPolicy::fast(Duration::from_secs(10)));

        let started = Instant::now();
        let response = http
            .send(Request::post("/secondary", serde_json::json!({})))
            .await
            .expect("retried after Retry-After");
        assert_eq!(response.status, 201);
        assert!(started.elapsed() >= Duration::from_millis(950));
        assert_eq!(
            http.requests_sent().post,
            2,
            "a refused create is sent again"
        );

        let started = Instant::now();
        http.send(Request::get("/primary"))
            .await
            .expect("retried after the reset");
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(hits.load(Ordering::SeqCst), 4);
    }

    /// A secondary-limit `403` naming no wait asks for at least a minute; with a shorter
    /// retry budget it is reported as rate limited at once.
    #[tokio::test]
    async fn secondary_limit_without_retry_after_waits_a_minute() {
        let router = Router::new().route(
            "/x",
            get(|| async {
                (
                    AxumStatus::FORBIDDEN,
                    axum::Json(serde_json::json!({"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."})),
                )
            }),
        );
        let base = serve(router).await;
        let http = client(&base, RetryPolicy::fast(Duration::from_secs(5)));
        let err = http
            .send(Request::get("/x"))
            .await
            .expect_err("rate limited");
        assert!(
            matches!(err, ConnectorError::RateLimited { retry_after: Some(d) } if d == SECONDARY_LIMIT_MIN_WAIT),
            "{err:?}"
        );
        assert_eq!(http.requests_sent().get, 1);
    }

    /// A success that spends the last request of the primary budget pauses the next
    /// request until the reset.
    #[tokio::test]
    async fn spent_primary_budget_pauses_until_reset() {
        let router = Router::new().route(
            "/x",
            get(|| async {
                let mut headers = AxumHeaders::new();
                headers.insert("x-ratelimit-remaining", "0".parse().expect("valid header"));
                let reset = jiff::Timestamp::now().as_second() + 1;
                headers.insert(
                    "x-ratelimit-reset",
                    reset.to_string().parse().expect("valid header"),
                );
                (headers, axum::Json(serde_json::json!({"ok": true})))
            }),
        );
        let base = serve(router).await;
        let http = client(&base, RetryPolicy::fast(Duration::from_secs(5)));
        http.send(Request::get("/x")).await.expect("first");
        let started = Instant::now();
        http.send(Request::get("/x")).await.expect("second");
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "{:?}",
            started.elapsed()
        );
    }

    /// The configured `Accept` replaces the default one, and per-request headers are sent;
    /// a declared `304` comes back as a response.
    #[tokio::test]
    async fn accept_and_per_request_headers_are_sent() {
        let seen = Arc::new(StdMutex::new(Vec::<(String, String)>::new()));
        let s = Arc::clone(&seen);
        let router = Router::new().route(
            "/x",
            get(move |headers: AxumHeaders| async move {
                let value = |n: &str| {
                    headers
                        .get_all(n)
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .collect::<Vec<_>>()
                        .join(",")
                };
                s.lock()
                    .expect("no panic while held")
                    .push((value("accept"), value("if-none-match")));
                AxumStatus::NOT_MODIFIED
            }),
        );
        let base = serve(router).await;
        let mut config = HttpConfig::new("github", &base, SecretString::from(TOKEN.to_owned()));
        config.extra_headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/vnd.github+json"),
        );
        let http = HttpClient::new(config).expect("valid config");
        let response = http
            .send(
                Request::get("/x")
                    .header(header::IF_NONE_MATCH, HeaderValue::from_static("\"abc\""))
                    .pass_through(304),
            )
            .await
            .expect("304 passed through");
        assert_eq!(response.status, 304);
        assert_eq!(
            seen.lock().expect("no panic while held").as_slice(),
            &[(
                "application/vnd.github+json".to_owned(),
                "\"abc\"".to_owned()
            )]
        );
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }
}
