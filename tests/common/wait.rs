//! Waiting for something to happen in another process (the `asana-bridge` child, a
//! simulator, the OS): one poll-until-condition helper with a deadline, shared by the
//! harnesses, so that a test waits exactly as long as the thing takes and no fixed sleep
//! guesses at it.

use std::time::{Duration, Instant};

/// How often [`eventually`] looks again: short next to what the tests wait for (a
/// process exiting, a file written, a request served), long enough not to busy-spin.
const POLL: Duration = Duration::from_millis(20);

/// Polls `cond` until it holds or `timeout` passes; whether it held. `cond` is always
/// tried once more at the deadline, so a slow machine fails only on a real timeout.
pub fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        let now = Instant::now();
        if now >= end {
            return false;
        }
        std::thread::sleep(POLL.min(end - now));
    }
}
