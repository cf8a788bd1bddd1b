//! How an [`HttpClient`](super::HttpClient) is set up: budget and caps, the retry
//! policy, what may be retried ([`Idempotency`]), and where the token comes from
//! (fixed, or a [`TokenSource`] that refreshes).

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::HeaderMap;
use secrecy::SecretString;
use tokio::time::Instant;

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

    /// The schedule of one request's retries after server errors and dropped connections:
    /// exponential, giving up once `max_elapsed` has passed, not counting the time in
    /// `excused` (the request's waits for rate limits, which are instructions, not failures).
    pub(super) fn backoff<'a>(&self, excused: &'a Mutex<Duration>) -> ErrorSchedule<'a> {
        ErrorSchedule {
            steps: backoff::ExponentialBackoffBuilder::new()
                .with_initial_interval(self.initial_interval)
                .with_max_interval(self.max_interval)
                .with_multiplier(self.multiplier)
                .with_randomization_factor(self.randomization_factor)
                .with_max_elapsed_time(None)
                .build(),
            started: Instant::now(),
            budget: self.max_elapsed,
            excused,
        }
    }

    /// The fallback pause after the `n`-th `429` without a usable `Retry-After`.
    pub(super) fn rate_limit_fallback(&self, n: u32) -> Duration {
        let factor = self
            .multiplier
            .powi(i32::try_from(n).unwrap_or(i32::MAX))
            .max(1.0);
        self.initial_interval
            .mul_f64(factor.min(1e6))
            .min(self.max_interval)
    }
}

/// A request's retry schedule (see [`RetryPolicy::backoff`]). The budget counts the time
/// since the first attempt minus the time the request spent waiting out rate limits, so a
/// server error right after a minute-long `Retry-After` is still retried.
pub(super) struct ErrorSchedule<'a> {
    steps: backoff::ExponentialBackoff,
    started: Instant,
    budget: Duration,
    excused: &'a Mutex<Duration>,
}

impl backoff::backoff::Backoff for ErrorSchedule<'_> {
    fn reset(&mut self) {
        self.steps.reset();
        self.started = Instant::now();
    }

    fn next_backoff(&mut self) -> Option<Duration> {
        let excused = *self.excused.lock().unwrap_or_else(PoisonError::into_inner);
        let spent = self.started.elapsed().saturating_sub(excused);
        let next = self.steps.next_backoff()?;
        (spent + next <= self.budget).then_some(next)
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

/// What a client learned about the service's real rate limit, for the caller to keep
/// between runs (the HTTP layer itself stores nothing): the budget a `429` proved to be the
/// real one, and when the requests of the last window were answered, so that a run starting
/// right after another one does not overrun the service's window.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RateMemory {
    /// Requests per window the service accepted before it answered `429`: the budget
    /// from then on (only ever lower than the configured one).
    pub learned_per_window: Option<u32>,
    /// The configured budget the learned one was measured under: a changed configuration
    /// starts over.
    pub configured_per_window: Option<u32>,
    /// The most requests one window was seen to accept: known plan limits at or below it
    /// need no probing.
    pub confirmed_per_window: Option<u32>,
    /// The window's length in milliseconds (60,000: a minute).
    pub window_ms: u64,
    /// Where the requests of the last window stand in it (Unix milliseconds): when each
    /// was answered, or sent if it never was.
    pub recent_ms: Vec<i64>,
}

/// Called with the client's [`RateMemory`] each time it learns a lower rate.
pub type RateLearned = Arc<dyn Fn(&RateMemory) + Send + Sync>;

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
    /// Redirects are followed (up to 10), except away from a URL this answers `true` for:
    /// that `3xx` is the answer (pass its status through to read it). GitHub answers a
    /// transferred issue with `301` to the new repository, which is news, not a detour.
    pub stop_redirect: Option<fn(&reqwest::Url) -> bool>,
    /// The window [`HttpConfig::requests_per_minute`] counts in: a minute, except in tests
    /// and benchmarks that scale the service's clock.
    pub rate_window: Duration,
    /// How long one request keeps obeying the service's rate-limit waits (`Retry-After`)
    /// in all; `None`: only as long as [`RetryPolicy::max_elapsed`] allows. A `429` is an
    /// instruction, not a failure, so Asana sets this well above a minute.
    pub rate_limit_max_wait: Option<Duration>,
    /// Whether a `429` lowers the budget to what the service accepted in the last window
    /// (Asana: a free workspace allows 150 a minute whatever the configured budget).
    pub learn_rate: bool,
    /// The fewest accepted requests in a window before a `429` that a refusal teaches a
    /// rate from: fewer mean another limit refused (concurrency, cost, another program on
    /// the same token), not the per-window one, which is never that low. Set it a little
    /// under the service's smallest documented limit.
    pub rate_evidence_min: u32,
    /// What an earlier run learned (see [`RateMemory`]); `None`: nothing.
    pub rate_memory: Option<RateMemory>,
    /// Told when the client learns a lower rate, to keep it.
    pub on_rate_learned: Option<RateLearned>,
    /// The service's known plan limits per window below the budget (Asana's free plan:
    /// 150). Until the real rate is known, the request that would exceed one goes out
    /// alone, once every request before it is answered, so a workspace on that plan
    /// refuses exactly one request, not one per request in flight.
    pub probe_limits: Vec<u32>,
    /// How long connect errors (nothing listening, DNS) are retried before the request
    /// fails: a blip passes in seconds, a wrong or dead URL should be said at once.
    pub connect_retry_max: Duration,
    /// Response headers whose values announce API changes (Asana's `Asana-Change`): each
    /// distinct value is logged once per client as a warning.
    pub change_headers: Vec<&'static str>,
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
            stop_redirect: None,
            rate_window: Duration::from_secs(60),
            rate_limit_max_wait: None,
            learn_rate: false,
            rate_evidence_min: 10,
            rate_memory: None,
            on_rate_learned: None,
            probe_limits: Vec::new(),
            connect_retry_max: Duration::from_secs(5),
            change_headers: Vec::new(),
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
            .field("rate_window", &self.rate_window)
            .field("rate_limit_max_wait", &self.rate_limit_max_wait)
            .field("learn_rate", &self.learn_rate)
            .field("rate_evidence_min", &self.rate_evidence_min)
            .field("connect_retry_max", &self.connect_retry_max)
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
