//! Asana's limiters: the standard per-minute quota (sliding 60 s window, rejected requests
//! count too) and the concurrent limiter (50 GETs / 15 writes in flight). Both answer 429
//! with `Retry-After`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::error::ApiError;
use crate::lock;

/// In-flight GETs allowed.
pub const MAX_READS: usize = 50;
/// In-flight writes allowed.
pub const MAX_WRITES: usize = 15;

/// Asana's window: a minute.
const WINDOW: Duration = Duration::from_secs(60);

/// Both limiters.
#[derive(Debug, Default)]
pub struct Limits {
    per_minute: std::sync::Mutex<Option<u32>>,
    window: std::sync::Mutex<VecDeque<Instant>>,
    /// The window's length (`None`: [`WINDOW`]).
    length: std::sync::Mutex<Option<Duration>>,
    reads: Arc<AtomicUsize>,
    writes: Arc<AtomicUsize>,
    /// Requests rejected by either limiter so far.
    pub rejected: AtomicUsize,
}

/// Held while requests are in flight; gives their slots back on drop.
#[derive(Debug)]
pub struct Permit {
    reads: Arc<AtomicUsize>,
    writes: Arc<AtomicUsize>,
    n_reads: usize,
    n_writes: usize,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.reads.fetch_sub(self.n_reads, Ordering::SeqCst);
        self.writes.fetch_sub(self.n_writes, Ordering::SeqCst);
    }
}

impl Limits {
    /// Limiters with the given standard quota (`None` = unlimited) per `window` (`None`:
    /// a minute).
    pub fn new(per_minute: Option<u32>, window: Option<Duration>) -> Limits {
        Limits {
            per_minute: std::sync::Mutex::new(per_minute),
            length: std::sync::Mutex::new(window),
            ..Limits::default()
        }
    }

    /// Changes the window of the standard quota (`None`: a minute).
    pub fn set_window(&self, window: Option<Duration>) {
        *lock(&self.length) = window;
    }

    /// Changes the standard quota.
    pub fn set_per_minute(&self, per_minute: Option<u32>) {
        *lock(&self.per_minute) = per_minute;
    }

    /// Admits `reads + writes` requests at once (a batch counts each action) or rejects all.
    pub fn admit(&self, reads: usize, writes: usize) -> Result<Permit, ApiError> {
        let n = reads + writes;
        if let Some(limit) = *lock(&self.per_minute) {
            let limit = limit as usize;
            let window_length = lock(&self.length).unwrap_or(WINDOW);
            let now = Instant::now();
            let mut window = lock(&self.window);
            while window
                .front()
                .is_some_and(|t| now.duration_since(*t) >= window_length)
            {
                window.pop_front();
            }
            let over = window.len() + n > limit;
            // Rejected requests count against the quota too (Asana does this).
            for _ in 0..n {
                window.push_back(now);
            }
            if over {
                self.rejected.fetch_add(1, Ordering::SeqCst);
                // Wait until enough entries leave the window for one more request.
                let excess = window.len().saturating_sub(limit);
                let retry = window
                    .get(excess.min(window.len().saturating_sub(1)))
                    .map_or(window_length, |t| {
                        window_length.saturating_sub(now.duration_since(*t))
                    });
                let secs = u64::try_from(retry.as_millis().div_ceil(1000)).unwrap_or(60);
                return Err(ApiError::rate_limited(secs.max(1)));
            }
        }
        let r = self.reads.fetch_add(reads, Ordering::SeqCst) + reads;
        let w = self.writes.fetch_add(writes, Ordering::SeqCst) + writes;
        let permit = Permit {
            reads: Arc::clone(&self.reads),
            writes: Arc::clone(&self.writes),
            n_reads: reads,
            n_writes: writes,
        };
        if r > MAX_READS || w > MAX_WRITES {
            self.rejected.fetch_add(1, Ordering::SeqCst);
            drop(permit);
            return Err(ApiError::rate_limited(1));
        }
        Ok(permit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Over the quota is a 429 whose Retry-After is within the window.
    #[test]
    fn quota_and_concurrency() {
        let limits = Limits::new(Some(3), None);
        for _ in 0..3 {
            assert!(limits.admit(1, 0).is_ok());
        }
        let err = limits.admit(1, 0).err().map(|e| e.retry_after);
        assert!(matches!(err, Some(Some(s)) if (1..=60).contains(&s)));

        let limits = Limits::new(None, None);
        let held: Vec<Permit> = (0..MAX_WRITES)
            .filter_map(|_| limits.admit(0, 1).ok())
            .collect();
        assert_eq!(held.len(), MAX_WRITES);
        assert!(limits.admit(0, 1).is_err());
        assert!(limits.admit(1, 0).is_ok());
        drop(held);
        assert!(limits.admit(0, 1).is_ok());
    }
}
