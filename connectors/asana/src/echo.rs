//! The bridge's own writes, remembered so that their echoes in the events feed are
//! dropped instead of being read back (origin tagging on the Asana side).
//!
//! Every task the connector creates, updates or deletes is logged with the `modified_at`
//! its write left. A task named by the feed is an echo when every event about it was made
//! by the token's own user and none is newer than the logged write. A person's edit made
//! after the bridge's write is newer, and kept. When the token is a person's own PAT, an
//! edit they made in Asana between the bridge's read and its write of the same task looks
//! like an echo: the periodic full listing picks it up (the engine's fingerprints see it).

use std::collections::HashMap;
use std::sync::Mutex;

use jiff::Timestamp;

/// What the bridge last did to a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// Created or updated; Asana's `modified_at` after the write.
    At(Timestamp),
    /// Deleted: every later event of its own about the task is an echo.
    Deleted,
}

/// The writes of this process, by task gid.
#[derive(Debug, Default)]
pub struct WriteLog {
    writes: Mutex<HashMap<String, Written>>,
}

impl WriteLog {
    /// Records a write.
    pub fn record(&self, gid: &str, written: Written) {
        self.lock().insert(gid.to_owned(), written);
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Whether the events about `gid` (all by `me` when `all_mine`, the newest at
    /// `newest`) are only the echo of the bridge's own write.
    pub fn is_echo(&self, gid: &str, all_mine: bool, newest: Option<Timestamp>) -> bool {
        if !all_mine {
            return false;
        }
        match (self.lock().get(gid), newest) {
            (Some(Written::Deleted), _) => true,
            (Some(Written::At(at)), Some(newest)) => newest <= *at,
            _ => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Written>> {
        // The map stays consistent even if a holder panicked: each operation is one call.
        self.writes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).expect("valid")
    }

    /// Only events of our own, no newer than our write, are echoes.
    #[test]
    fn echoes_are_own_and_not_newer() {
        let log = WriteLog::default();
        log.record("1", Written::At(ts(100)));
        log.record("2", Written::Deleted);
        assert!(log.is_echo("1", true, Some(ts(100))));
        assert!(log.is_echo("1", true, Some(ts(99))));
        assert!(
            !log.is_echo("1", true, Some(ts(101))),
            "a later edit is kept"
        );
        assert!(
            !log.is_echo("1", false, Some(ts(99))),
            "someone else's edit is kept"
        );
        assert!(log.is_echo("2", true, None));
        assert!(!log.is_echo("3", true, Some(ts(1))), "never written");
    }
}
