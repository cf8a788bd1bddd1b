//! Reading a service's answer: rate-limit headers and the waits they name, the service's
//! own error message (with the token blanked out), the budget's quota.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::Quota;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};

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
pub(super) fn rate_limit_wait(
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
pub(super) fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The wait until `x-ratelimit-reset` (epoch seconds), plus a second because the reset is
/// rounded to whole seconds; at least a second when the reset is already past.
pub(super) fn until_reset(headers: &HeaderMap) -> Option<Duration> {
    let reset = i64::try_from(header_u64(headers, "x-ratelimit-reset")?).ok()?;
    let now = jiff::Timestamp::now().as_second();
    let seconds = u64::try_from(reset.saturating_sub(now)).unwrap_or(0);
    Some(Duration::from_secs(seconds.saturating_add(1)))
}

/// `Retry-After` as a wait: delta-seconds or an HTTP date.
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
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
pub(super) fn error_message(status: StatusCode, body: &[u8]) -> String {
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

/// The client-side quota for a budget of `rpm` requests per `window` (a minute). Asana
/// counts requests in a sliding minute (rejected ones too), and a token bucket lets through
/// at most its rate times the window plus its burst in any window: so the burst (2% of the
/// budget) is taken off the steady rate, and no window ever holds more than `rpm`. When the
/// budget is the bottleneck a run uses 98% of it.
pub(super) fn budget_quota(rpm: NonZeroU32, window: Duration) -> Quota {
    let burst = (rpm.get() / 50).max(1);
    let rate = NonZeroU32::new(rpm.get().saturating_sub(burst)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.min(rate.get())).unwrap_or(NonZeroU32::MIN);
    let period = (window / rate.get()).max(Duration::from_nanos(1));
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_minute(rate))
        .allow_burst(burst)
}

/// `message` with the token carried by `authorization` (`Bearer <token>`) blanked out.
pub(super) fn redact(message: String, authorization: &HeaderValue) -> String {
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
pub(super) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// Whether a transport error is a TLS certificate the client refuses (unknown issuer,
/// expired, wrong name): trying again cannot help, so it is reported at once.
pub(super) fn certificate_problem(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = next {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return certificate_message(tls);
        }
        // `io::Error::source` skips the error it wraps: look inside it too.
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
        {
            if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                return certificate_message(tls);
            }
            if let Some(found) = certificate_problem(inner) {
                return Some(found);
            }
        }
        next = e.source();
    }
    None
}

fn certificate_message(error: &rustls::Error) -> Option<String> {
    match error {
        rustls::Error::InvalidCertificate(_)
        | rustls::Error::NoCertificatesPresented
        | rustls::Error::UnsupportedNameType => Some(error.to_string()),
        _ => None,
    }
}
