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
//! The `backoff` crate is unmaintained (RUSTSEC-2025-0012); it is used in `client.rs` and
//! `config.rs` only, so swapping it for `backon` touches nothing else.
//!
//! Files: `config.rs` (set-up: budget, caps, retry policy, token source), `request.rs`
//! (what goes in and out), `client.rs` (the send loop), `answers.rs` (reading rate-limit
//! headers and error messages), `observer.rs` (the hook a metrics keeper installs).

mod answers;
mod client;
mod config;
mod observer;
mod request;
#[cfg(test)]
mod tests;

pub use answers::SECONDARY_LIMIT_MIN_WAIT;
pub use client::HttpClient;
pub use config::{
    BuildError, DEFAULT_MAX_READS_IN_FLIGHT, DEFAULT_MAX_WRITES_IN_FLIGHT,
    DEFAULT_REQUESTS_PER_MINUTE, HttpConfig, Idempotency, RateLearned, RateMemory, RetryPolicy,
    TokenSource,
};
pub use observer::{HttpObserver, set_observer};
pub use request::{Request, RequestCounts, Response};
