//! The client itself: slots, the shared pause, the budget, the token, and the loop that
//! sends a request, retries what may be retried and types what fails.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, RateLimiter};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::error::ConnectorError;

use super::answers::{
    budget_quota, error_chain, error_message, header_u64, rate_limit_wait, redact, until_reset,
};
use super::config::{BuildError, HttpConfig, Idempotency, RetryPolicy, TokenSource};
use super::request::{Counters, Request, RequestCounts, Response};

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
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
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
    /// How far the service's clock is ahead of ours, in milliseconds, from the `Date`
    /// header of its latest answer ([`i64::MIN`]: no answer carried one yet).
    clock_offset_ms: AtomicI64,
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
        let redirect = match config.stop_redirect {
            None => reqwest::redirect::Policy::default(),
            Some(stop) => reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().last().is_some_and(stop) {
                    attempt.stop()
                } else if attempt.previous().len() >= 10 {
                    attempt.error("too many redirects")
                } else {
                    attempt.follow()
                }
            }),
        };
        let client = reqwest::Client::builder()
            .redirect(redirect)
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
                clock_offset_ms: AtomicI64::new(i64::MIN),
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

    /// How far the service's clock is ahead of the local one (negative: behind), from the
    /// `Date` header of its latest answer; `None` before any answer carried one. `Date`
    /// has a resolution of one second, so differences below that mean nothing.
    #[must_use]
    pub fn clock_offset(&self) -> Option<jiff::SignedDuration> {
        match self.inner.clock_offset_ms.load(Ordering::Relaxed) {
            i64::MIN => None,
            ms => Some(jiff::SignedDuration::from_millis(ms)),
        }
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
        self.note_clock(&headers);
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

    /// Remembers how far the service's clock is from ours, from an answer's `Date` header
    /// (RFC 9110's IMF-fixdate, e.g. `Wed, 02 Dec 2026 10:39:36 GMT`).
    fn note_clock(&self, headers: &HeaderMap) {
        let Some(date) = headers.get(header::DATE).and_then(|v| v.to_str().ok()) else {
            return;
        };
        let Ok(theirs) = jiff::fmt::rfc2822::parse(date) else {
            return;
        };
        let offset = theirs.timestamp().duration_since(jiff::Timestamp::now());
        let ms = i64::try_from(offset.as_millis())
            .unwrap_or(0)
            .max(i64::MIN + 1);
        self.clock_offset_ms.store(ms, Ordering::Relaxed);
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
    pub(super) fn url(&self, path: &str) -> Result<String, ConnectorError> {
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
