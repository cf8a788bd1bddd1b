//! The client itself: slots, the shared pause, the budget, the token, and the loop that
//! sends a request, retries what may be retried and types what fails.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicUsize, Ordering};
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
    budget_quota, certificate_problem, error_chain, error_message, header_u64, rate_limit_wait,
    redact, until_reset,
};
use super::config::{
    BuildError, HttpConfig, Idempotency, RateLearned, RateMemory, RetryPolicy, TokenSource,
};
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
    /// The per-window budget's token bucket; replaced when a `429` teaches a lower rate.
    limiter: Mutex<Arc<DefaultDirectRateLimiter>>,
    /// The budget in force, per [`Inner::window`] (the configured one, or a learned one).
    budget: AtomicU32,
    /// The configured budget.
    configured: u32,
    /// The window the budget counts in (a minute).
    window: Duration,
    /// When the requests of the last window were sent, and which of them were refused
    /// with a `429`: the sliding-window guard and what a `429` teaches.
    log: Mutex<SentLog>,
    /// Known plan limits to probe (see [`HttpConfig::probe_limits`]), whether a probe is
    /// out, and the most requests a window was seen to accept.
    probe_limits: Vec<u32>,
    probe_out: AtomicBool,
    confirmed: AtomicU32,
    /// Requests sent and not yet answered: a probe goes out only when this is 0, so that
    /// what the window accepted is known, and no request already on its way meets the
    /// limit the probe finds.
    in_flight: AtomicUsize,
    learn_rate: bool,
    rate_evidence_min: u32,
    on_rate_learned: Option<RateLearned>,
    rate_limit_max_wait: Option<Duration>,
    connect_retry_max: Duration,
    /// Headers announcing API changes, and the values already logged.
    change_headers: Vec<&'static str>,
    changes_seen: Mutex<HashSet<String>>,
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
        let window = config.rate_window.max(Duration::from_millis(1));
        // What an earlier run learned holds while the configured budget is the same one.
        let memory = config.rate_memory.unwrap_or_default();
        let same_setting = memory.configured_per_window == Some(rpm.get())
            && memory.window_ms == u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        let budget = memory
            .learned_per_window
            .filter(|learned| same_setting && *learned > 0 && *learned < rpm.get())
            .and_then(NonZeroU32::new)
            .unwrap_or(rpm);
        let limiter = Arc::new(RateLimiter::direct(budget_quota(budget, window)));
        let log = SentLog::resumed(&memory.recent_ms, window);

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
                limiter: Mutex::new(limiter),
                budget: AtomicU32::new(budget.get()),
                configured: rpm.get(),
                window,
                log: Mutex::new(log),
                probe_limits: config.probe_limits,
                probe_out: AtomicBool::new(false),
                in_flight: AtomicUsize::new(0),
                confirmed: AtomicU32::new(memory.confirmed_per_window.unwrap_or(0)),
                learn_rate: config.learn_rate,
                rate_evidence_min: config.rate_evidence_min,
                on_rate_learned: config.on_rate_learned,
                rate_limit_max_wait: config.rate_limit_max_wait,
                connect_retry_max: config.connect_retry_max,
                change_headers: config.change_headers,
                changes_seen: Mutex::new(HashSet::new()),
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

    /// The budget in force per rate window: the configured one, or lower once the
    /// service's `429`s showed its real rate.
    #[must_use]
    pub fn budget(&self) -> u32 {
        self.inner.budget.load(Ordering::Relaxed)
    }

    /// What this client knows about the service's rate, for the caller to keep and pass
    /// to the next run's [`HttpConfig::rate_memory`].
    #[must_use]
    pub fn rate_memory(&self) -> RateMemory {
        self.inner.rate_memory()
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
        let unreachable_since = Mutex::new(None);
        let rate_waits = Mutex::new(Duration::ZERO);
        let request = &request;
        let tries = Tries {
            started,
            rate_limited: &rate_limited,
            refreshed: &refreshed,
            unreachable_since: &unreachable_since,
            rate_waits: &rate_waits,
        };
        backoff::future::retry(self.inner.retry.backoff(&rate_waits), || async move {
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
    /// When the first of a run of connect errors happened.
    unreachable_since: &'a Mutex<Option<Instant>>,
    /// Time spent waiting for a turn (rate limits, pauses after a `429`): not counted
    /// against the retry budget for server errors.
    rate_waits: &'a Mutex<Duration>,
}

/// Clears the "probe out" flag when the probe's attempt ends, however it ends.
struct ProbeOut<'a>(&'a AtomicBool);

/// A request on its way, counted in [`Inner::in_flight`] until it is answered (or given
/// up).
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for ProbeOut<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// The requests of the last rate window, oldest first, and those of them the service
/// refused with a `429`.
///
/// A request stands in the log at the time it was sent until it is answered, and from
/// then on at the time its answer came ([`SentLog::answered`]). The service counted it in
/// between, when it arrived, so an entry never leaves this window before the service's:
/// however long the way there and back, a request sent once the oldest entry has left
/// arrives after the service let that one go.
///
/// What a window *accepted* is counted the other way, by send time
/// ([`SentLog::accepted`]): requests sent within the last window also arrived within it,
/// so the count never says more than the service took in one window.
#[derive(Debug, Default)]
struct SentLog {
    sent: VecDeque<Entry>,
    refused: VecDeque<Entry>,
}

/// One request of a [`SentLog`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    /// Where it stands in the window: when it was answered, or sent while on its way.
    at: Instant,
    sent: Instant,
}

impl SentLog {
    /// A log holding the sends an earlier run recorded (Unix milliseconds).
    fn resumed(recent_ms: &[i64], window: Duration) -> Self {
        let now = Instant::now();
        let now_ms = jiff::Timestamp::now().as_millisecond();
        let mut sent: Vec<Instant> = recent_ms
            .iter()
            .filter_map(|&ms| {
                let ago = Duration::from_millis(u64::try_from(now_ms.checked_sub(ms)?).ok()?);
                (ago < window).then(|| now.checked_sub(ago)).flatten()
            })
            .collect();
        sent.sort();
        Self {
            sent: sent.into_iter().map(|t| Entry { at: t, sent: t }).collect(),
            refused: VecDeque::new(),
        }
    }

    /// The request sent at `sent_at` was answered (or failed) now: it stands at `now` from
    /// here on; its entry is returned. Every entry stands at a time already past, so the
    /// log stays in order with `now` at its end.
    fn answered(&mut self, sent_at: Instant, now: Instant) -> Entry {
        let on_its_way = Entry {
            at: sent_at,
            sent: sent_at,
        };
        if let Some(i) = self.sent.iter().rposition(|e| *e == on_its_way) {
            self.sent.remove(i);
        }
        // Also when it had left the log (a way longer than the window): the service may
        // have counted it only now.
        let entry = Entry {
            at: now,
            sent: sent_at,
        };
        self.sent.push_back(entry);
        entry
    }

    /// How many of the requests sent within the `window` before `now` the service
    /// accepted (not refused).
    fn accepted(&self, now: Instant, window: Duration) -> usize {
        let start = now.checked_sub(window);
        let within = |e: &&Entry| start.is_none_or(|start| e.sent > start);
        let sent = self.sent.iter().filter(within).count();
        sent.saturating_sub(self.refused.iter().filter(within).count())
    }

    /// Drops what left the window.
    fn prune(&mut self, now: Instant, window: Duration) {
        let Some(start) = now.checked_sub(window) else {
            return;
        };
        while self.sent.front().is_some_and(|e| e.at <= start) {
            self.sent.pop_front();
        }
        while self.refused.front().is_some_and(|e| e.at <= start) {
            self.refused.pop_front();
        }
    }
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
            unreachable_since,
            rate_waits,
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
        let waiting = Instant::now();
        let (sent_at, probe) = self.wait_turn().await;
        let _flight = InFlight(&self.in_flight);
        *rate_waits.lock().unwrap_or_else(PoisonError::into_inner) += waiting.elapsed();
        let _probe = probe.then(|| ProbeOut(&self.probe_out));

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
        let counted_at = self
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .answered(sent_at, Instant::now());
        if let Some(observer) = super::observer::observer() {
            observer.answered(
                self.service,
                answer.as_ref().ok().map(|r| r.status().as_u16()),
            );
        }
        let response = match answer {
            Ok(response) => response,
            Err(source) => {
                return Err(self.transport_failure(request, source, unreachable_since));
            }
        };
        if let Ok(mut since) = unreachable_since.lock() {
            *since = None;
        }
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
        self.note_changes(&headers);
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(source) => {
                return Err(self.transport_failure(request, source, unreachable_since));
            }
        };

        if status.is_success() || request.pass_through.contains(&status) {
            self.note_budget(&headers);
            if probe {
                self.note_accepted_window();
            }
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
            if status == StatusCode::TOO_MANY_REQUESTS {
                self.learn_from_refusal(counted_at);
            }
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

    /// Waits for the shared pause a `429` may have set, then for the rate budget, then for
    /// room in the sliding window; returns when the request goes out.
    async fn wait_turn(&self) -> (Instant, bool) {
        loop {
            self.wait_pause().await;
            let limiter = Arc::clone(&self.limiter.lock().unwrap_or_else(PoisonError::into_inner));
            limiter.until_ready().await;
            // A 429 may have come in while this request queued for the budget: it must wait
            // that pause out too, or it would go out in the middle of it.
            self.wait_pause().await;
            match self.take_window_slot() {
                Ok(at) => return at,
                Err(until) => tokio::time::sleep_until(until).await,
            }
        }
    }

    /// Counts a request in the sliding window, or says when the window has room again.
    /// The token bucket alone keeps any window under the budget within one run; this also
    /// covers the window's start (the sends of an earlier run, a budget just lowered
    /// after a burst).
    /// `Ok((when, probe))`: `probe` when the request is the one that goes past a known
    /// plan limit, alone.
    fn take_window_slot(&self) -> Result<(Instant, bool), Instant> {
        let now = Instant::now();
        let budget = self.budget.load(Ordering::Relaxed);
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.prune(now, self.window);
        let count = log.sent.len();
        if count >= budget as usize
            && let Some(oldest) = log.sent.front()
        {
            // When the oldest leaves: it stands at its answer's time (or its send's, still
            // on its way), which is after the service counted it.
            return Err(oldest.at + self.window);
        }
        if self.probe_out.load(Ordering::SeqCst) {
            // A request is finding out whether the window takes more: nothing goes out
            // beside it.
            return Err(now + Duration::from_millis(10));
        }
        let confirmed = self.confirmed.load(Ordering::Relaxed) as usize;
        let probe = self.probe_limits.iter().any(|&limit| {
            let limit = limit as usize;
            limit < budget as usize && count >= limit && confirmed <= limit
        });
        if probe {
            // Alone: after every request before it is answered, so that a refusal meets
            // no other request on its way, and an acceptance counts answers, not hopes.
            if self.in_flight.load(Ordering::SeqCst) > 0
                || self.probe_out.swap(true, Ordering::SeqCst)
            {
                return Err(now + Duration::from_millis(10));
            }
        }
        log.sent.push_back(Entry { at: now, sent: now });
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Ok((now, probe))
    }

    /// A probe was accepted: this window takes more than the plan limit it crossed.
    fn note_accepted_window(&self) {
        let now = Instant::now();
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.prune(now, self.window);
        let accepted = log.accepted(now, self.window);
        self.confirmed.fetch_max(
            u32::try_from(accepted).unwrap_or(u32::MAX),
            Ordering::Relaxed,
        );
    }

    /// A `429` for the request `at` of the log: the service accepted the other
    /// requests of the window, and no more. When that is below the budget (a free Asana
    /// workspace allows 150 a minute), the budget comes down to it for the rest of the
    /// client's life, and the owner is told so it can keep it for the next run.
    fn learn_from_refusal(&self, at: Entry) {
        let now = Instant::now();
        let accepted = {
            let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
            log.prune(now, self.window);
            if log.sent.contains(&at) {
                // In order: refusals of requests answered close together may come here
                // in either order.
                let i = log.refused.partition_point(|e| e.at <= at.at);
                log.refused.insert(i, at);
            }
            log.accepted(now, self.window)
        };
        let current = self.budget.load(Ordering::Relaxed);
        // Too few requests in the window to say anything about the rate (a concurrency
        // refusal, or another program sharing the token).
        if !self.learn_rate || accepted < self.rate_evidence_min as usize {
            return;
        }
        // A little under what it accepted (1 in 64): the service counts each request when
        // it arrives, a little after this clock's send time, so a window full to the last
        // request here can hold one too many there.
        let keep = accepted - accepted / 64;
        let Some(learned) = u32::try_from(keep)
            .ok()
            .filter(|n| *n < current)
            .and_then(NonZeroU32::new)
        else {
            return;
        };
        if self
            .budget
            .compare_exchange(current, learned.get(), Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return; // another refusal got here first
        }
        *self.limiter.lock().unwrap_or_else(PoisonError::into_inner) =
            Arc::new(RateLimiter::direct(budget_quota(learned, self.window)));
        warn!(
            "{} accepted {} requests in the last {} and then refused one: keeping to {} from now on (the budget was {current})",
            display_name(self.service),
            accepted,
            window_text(self.window),
            window_rate(learned.get(), self.window),
        );
        if let Some(tell) = &self.on_rate_learned {
            tell(&self.rate_memory());
        }
    }

    fn rate_memory(&self) -> RateMemory {
        let now = Instant::now();
        let now_ms = jiff::Timestamp::now().as_millisecond();
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.prune(now, self.window);
        let recent_ms = log
            .sent
            .iter()
            .map(|e| {
                now_ms.saturating_sub(
                    i64::try_from(now.duration_since(e.at).as_millis()).unwrap_or(0),
                )
            })
            .collect();
        let budget = self.budget.load(Ordering::Relaxed);
        RateMemory {
            learned_per_window: (budget < self.configured).then_some(budget),
            configured_per_window: Some(self.configured),
            confirmed_per_window: Some(self.confirmed.load(Ordering::Relaxed)).filter(|n| *n > 0),
            window_ms: u64::try_from(self.window.as_millis()).unwrap_or(u64::MAX),
            recent_ms,
        }
    }

    /// Logs each distinct API-change announcement once (Asana's `Asana-Change:
    /// name=...;info=...;affected=true`).
    fn note_changes(&self, headers: &HeaderMap) {
        for name in &self.change_headers {
            for value in headers.get_all(*name) {
                let Ok(text) = value.to_str() else { continue };
                for one in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                    let fresh = self
                        .changes_seen
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(one.to_owned());
                    if fresh {
                        warn!("{}", change_line(self.service, one));
                    }
                }
            }
        }
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
        let limit = self.rate_limit_max_wait.unwrap_or(self.retry.max_elapsed);
        let gives_up = now.duration_since(started) + wait > limit;
        if let Some(observer) = super::observer::observer() {
            observer.rate_limited(self.service, (!gives_up).then_some(wait));
        }
        if gives_up {
            warn!(service = self.service, request = %request.label(), ?wait, "rate limited; giving up");
            return backoff::Error::permanent(ConnectorError::RateLimited {
                retry_after: Some(wait),
            });
        }
        if self.pause_until(now + wait) && wait >= Duration::from_secs(1) {
            // Said once per pause, not once per request that meets it.
            warn!(
                "{} asks to wait {} s (rate limit); waiting",
                display_name(self.service),
                wait.as_secs_f64().ceil()
            );
        }
        debug!(service = self.service, request = %request.label(), ?wait, "rate limited; pausing");
        // Retry at once: the next attempt waits for the shared pause in `wait_turn`.
        backoff::Error::retry_after(
            ConnectorError::RateLimited {
                retry_after: Some(wait),
            },
            Duration::ZERO,
        )
    }

    /// Pushes the shared "not before" instant to `until` (never pulls it earlier); whether
    /// that starts a pause or makes the running one a second or more longer.
    fn pause_until(&self, until: Instant) -> bool {
        let mut not_before = self
            .not_before
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let running = not_before.filter(|current| *current > now);
        if not_before.is_none_or(|current| current < until) {
            *not_before = Some(until);
        }
        running.is_none_or(|current| until >= current + Duration::from_secs(1))
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
        unreachable_since: &Mutex<Option<Instant>>,
    ) -> backoff::Error<ConnectorError> {
        debug!(service = self.service, request = %request.label(), error = %source, "http transport error");
        // A certificate the client refuses stays refused: say so at once.
        if let Some(problem) = certificate_problem(&source) {
            return backoff::Error::permanent(ConnectorError::Transient {
                service: self.service,
                message: format!(
                    "the TLS certificate of {} is not trusted ({problem}); check the base URL, or the proxy between here and {}",
                    self.base_url,
                    display_name(self.service)
                ),
            });
        }
        // A connect error proves the request never reached the server. A blip passes
        // in seconds; a service that stays unreachable is said at once, naming the URL.
        if source.is_connect() {
            let now = Instant::now();
            let first = *unreachable_since
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_or_insert(now);
            let elapsed = now.duration_since(first);
            if elapsed >= self.connect_retry_max {
                return backoff::Error::permanent(ConnectorError::Transient {
                    service: self.service,
                    message: format!(
                        "cannot reach {} at {}: {}",
                        display_name(self.service),
                        self.base_url,
                        root_cause(&source)
                    ),
                });
            }
            // Tried again a little later each time (a blip passes in a moment), the last
            // time at the deadline and never past it: the failure is said on time, not
            // one randomized back-off interval after it (CI, loaded, saw 10 s for 5).
            let wait = elapsed
                .max(Duration::from_millis(200))
                .min(self.connect_retry_max - elapsed);
            return backoff::Error::retry_after(self.transport_error(source), wait);
        }
        if request.idempotency == Idempotency::Safe {
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

/// `asana` -> `Asana`, for messages.
fn display_name(service: &str) -> String {
    let mut chars = service.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect::<String>()
    })
}

/// "minute", or "N s" for a scaled window.
fn window_text(window: Duration) -> String {
    if window == Duration::from_secs(60) {
        "minute".to_owned()
    } else {
        format!("{} ms", window.as_millis())
    }
}

/// "150 a minute", or "15 per 6000 ms".
fn window_rate(n: u32, window: Duration) -> String {
    if window == Duration::from_secs(60) {
        format!("{n} a minute")
    } else {
        format!("{n} per {} ms", window.as_millis())
    }
}

/// The innermost cause of a transport error ("Connection refused (os error 111)"), which
/// says why better than reqwest's outer "error sending request".
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut last = error;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// The warning for one `Asana-Change` value: `name=...;info=URL;affected=true`.
fn change_line(service: &str, value: &str) -> String {
    let mut name = None;
    let mut info = None;
    let mut affected = None;
    for part in value.split(';') {
        let (key, val) = part.split_once('=').unwrap_or((part, ""));
        match key.trim().to_ascii_lowercase().as_str() {
            "name" => name = Some(val.trim()),
            "info" => info = Some(val.trim()),
            "affected" => affected = Some(val.trim().eq_ignore_ascii_case("true")),
            _ => {}
        }
    }
    let name = name.filter(|n| !n.is_empty()).unwrap_or(value);
    let mut line = format!(
        "{} announces an API change \"{name}\"",
        display_name(service)
    );
    if affected == Some(true) {
        line.push_str(" that affects the bridge's requests");
    }
    if let Some(info) = info.filter(|i| !i.is_empty()) {
        line.push_str(&format!(" (see {info})"));
    }
    line.push_str("; the bridge may need an update before it takes effect");
    line
}

#[cfg(test)]
mod sent_log_tests {
    use super::*;

    /// An answered request stands in the window until a window after its answer, but
    /// counts as accepted only within a window of its send: the service counted it in
    /// between.
    #[test]
    fn an_entry_stands_until_its_answer_leaves_and_counts_by_its_send() {
        let window = Duration::from_secs(60);
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut log = SentLog::default();
        for sent in [t0, t0 + ms(100)] {
            log.sent.push_back(Entry { at: sent, sent });
        }
        let a = log.answered(t0, t0 + ms(300));
        let b = log.answered(t0 + ms(100), t0 + ms(400));
        assert_eq!(log.sent, [a, b], "in order, each at its answer");

        let now = t0 + window + ms(50);
        log.prune(now, window);
        assert_eq!(log.sent.len(), 2, "both stand until their answers leave");
        assert_eq!(
            log.accepted(now, window),
            1,
            "sent within the window: only b"
        );

        let now = t0 + window + ms(350);
        log.prune(now, window);
        assert_eq!(log.sent, [b]);
        assert_eq!(log.accepted(now, window), 0, "b was sent before the window");

        // A refusal counts against what was accepted, by send time too.
        let c = Entry { at: now, sent: now };
        log.sent.push_back(c);
        log.refused.push_back(c);
        assert_eq!(log.accepted(now, window), 0);
    }
}
