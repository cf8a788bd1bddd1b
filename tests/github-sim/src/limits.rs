//! Rate limits as GitHub applies them.
//!
//! - Primary: `limit` requests per window; every answer carries `x-ratelimit-limit`,
//!   `-remaining`, `-used`, `-reset` (epoch seconds) and `-resource`. A `304` does not count.
//!   Once spent, requests get `403` with `x-ratelimit-remaining: 0` until the reset.
//! - Secondary (optional): mutations closer together than a minimum interval get a `403`
//!   with `retry-after: 1`; the peak number of mutations in flight at once is kept, since
//!   GitHub asks for them to be sent serially.
//! - Content creation (optional): `POST`s beyond a budget per window (GitHub: about 80 a
//!   minute, 500 an hour) get a secondary-limit `403` with the `retry-after` until one fits.

use std::collections::VecDeque;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use jiff::Timestamp;
use tokio::time::Instant;

/// The primary window.
const WINDOW_SECS: i64 = 3600;

/// The primary budget and the mutation pacing state. Guarded by the shared mutex.
#[derive(Debug)]
pub struct Limits {
    pub limit: u32,
    pub used: u32,
    /// Epoch seconds of the window's end.
    pub reset: i64,
    /// Mutations closer than this are refused (secondary limit).
    pub min_mutation_interval: Option<Duration>,
    /// When the last accepted mutation arrived.
    pub last_mutation: Option<Instant>,
    /// Mutations being handled right now, and the most ever seen at once.
    pub mutations_in_flight: u32,
    pub peak_mutations_in_flight: u32,
    /// Requests refused by the primary or the paced secondary limit.
    pub refused: u32,
    /// Content-creation budgets (`POST`s): at most `n` in any window of the given length
    /// (GitHub: about 80 a minute and 500 an hour).
    pub creation_limits: Vec<(u32, Duration)>,
    /// When each accepted `POST` arrived, oldest first (only as far back as the longest
    /// window).
    pub creates: VecDeque<Instant>,
    /// `POST`s refused by a content-creation budget.
    pub creates_refused: u32,
}

impl Limits {
    pub fn new(limit: u32, min_mutation_interval: Option<Duration>) -> Self {
        Self {
            limit,
            used: 0,
            reset: Timestamp::now().as_second() + WINDOW_SECS,
            min_mutation_interval,
            last_mutation: None,
            mutations_in_flight: 0,
            peak_mutations_in_flight: 0,
            refused: 0,
            creation_limits: Vec::new(),
            creates: VecDeque::new(),
            creates_refused: 0,
        }
    }

    /// Whether a content-creating request arriving now is over a creation budget: the
    /// seconds until it would fit (`retry-after`), or `None` (and it is counted).
    pub fn creation_refused(&mut self) -> Option<u64> {
        let now = Instant::now();
        let longest = self
            .creation_limits
            .iter()
            .map(|(_, w)| *w)
            .max()
            .unwrap_or_default();
        while self
            .creates
            .front()
            .is_some_and(|t| now.duration_since(*t) >= longest)
        {
            self.creates.pop_front();
        }
        let mut wait: Option<Duration> = None;
        for (n, window) in &self.creation_limits {
            let recent: Vec<&Instant> = self
                .creates
                .iter()
                .filter(|t| now.duration_since(**t) < *window)
                .collect();
            if recent.len() >= *n as usize {
                // Fits again once the oldest of the last `n` leaves the window.
                let oldest = recent[recent.len() - *n as usize];
                let until = (*oldest + *window).duration_since(now);
                wait = Some(wait.map_or(until, |w| w.max(until)));
            }
        }
        match wait {
            Some(w) => {
                self.creates_refused += 1;
                Some(w.as_secs().max(1))
            }
            None => {
                self.creates.push_back(now);
                None
            }
        }
    }

    /// Starts a new window if the current one is over.
    pub fn roll(&mut self) {
        let now = Timestamp::now().as_second();
        if now >= self.reset {
            self.used = 0;
            self.reset = now + WINDOW_SECS;
        }
    }

    pub fn remaining(&self) -> u32 {
        self.limit.saturating_sub(self.used)
    }

    /// Spends the rest of the window's budget; the window resets in `reset_in`.
    pub fn exhaust(&mut self, reset_in: Duration) {
        self.used = self.limit;
        let secs = i64::try_from(reset_in.as_secs()).unwrap_or(WINDOW_SECS);
        self.reset = Timestamp::now().as_second() + secs.max(1);
    }

    /// Whether a mutation arriving now breaks the pacing rule (and records it if not).
    pub fn mutation_too_soon(&mut self) -> bool {
        let now = Instant::now();
        if let (Some(min), Some(last)) = (self.min_mutation_interval, self.last_mutation)
            && now.duration_since(last) < min
        {
            return true;
        }
        self.last_mutation = Some(now);
        false
    }

    /// The `x-ratelimit-*` headers of an answer.
    pub fn headers(&self, headers: &mut HeaderMap) {
        headers.insert("x-ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(self.remaining()));
        headers.insert("x-ratelimit-used", HeaderValue::from(self.used));
        headers.insert("x-ratelimit-reset", HeaderValue::from(self.reset));
        headers.insert("x-ratelimit-resource", HeaderValue::from_static("core"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Beyond `n` in the window, a `POST` is refused with the wait until one fits.
    #[test]
    fn creation_budget() {
        let mut limits = Limits::new(5000, None);
        limits.creation_limits = vec![(2, Duration::from_secs(60))];
        assert_eq!(limits.creation_refused(), None);
        assert_eq!(limits.creation_refused(), None);
        let wait = limits.creation_refused().expect("refused");
        assert!((59..=60).contains(&wait), "{wait}");
        assert_eq!(limits.creates_refused, 1);
    }
}
