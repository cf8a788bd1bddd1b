//! Spacing of mutations. GitHub's secondary limits ask integrations to send mutating
//! requests serially and about a second apart; the engine applies actions concurrently, so
//! every write of the connector goes through one [`Pacer`], which runs them one at a time
//! with at least `spacing` between the end of one and the start of the next.

use std::future::Future;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// GitHub's advice: about one second between mutations.
pub const DEFAULT_MUTATION_SPACING: Duration = Duration::from_secs(1);

/// Runs writes one at a time, `spacing` apart.
#[derive(Debug)]
pub struct Pacer {
    spacing: Duration,
    /// When the last write finished. A tokio mutex: it is held across the write itself, which
    /// is what makes writes serial.
    last: Mutex<Option<Instant>>,
}

impl Pacer {
    #[must_use]
    pub fn new(spacing: Duration) -> Self {
        Self {
            spacing,
            last: Mutex::new(None),
        }
    }

    /// Waits for its turn, then runs `write`.
    pub async fn run<T>(&self, write: impl Future<Output = T>) -> T {
        let mut last = self.last.lock().await;
        if let Some(at) = *last {
            tokio::time::sleep_until(at + self.spacing).await;
        }
        let out = write.await;
        *last = Some(Instant::now());
        out
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Concurrent writes run one at a time and `spacing` apart: on tokio's paused clock, four
    /// 5 ms writes 50 ms apart take exactly 4 * 5 + 3 * 50 ms, each starting 50 ms after the
    /// previous one ended.
    #[tokio::test(start_paused = true)]
    async fn serial_and_spaced() {
        let pacer = Arc::new(Pacer::new(Duration::from_millis(50)));
        let running = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let starts = Arc::new(std::sync::Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let (pacer, running, starts) = (
                    Arc::clone(&pacer),
                    Arc::clone(&running),
                    Arc::clone(&starts),
                );
                tokio::spawn(async move {
                    pacer
                        .run(async {
                            assert_eq!(running.fetch_add(1, Ordering::SeqCst), 0);
                            starts
                                .lock()
                                .expect("no panic while held")
                                .push(started.elapsed());
                            tokio::time::sleep(Duration::from_millis(5)).await;
                            running.fetch_sub(1, Ordering::SeqCst);
                        })
                        .await;
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
        assert_eq!(started.elapsed(), Duration::from_millis(170));
        let starts = starts.lock().expect("no panic while held").clone();
        let ms: Vec<u128> = starts.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [0, 55, 110, 165]);
    }
}
