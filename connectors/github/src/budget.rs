//! GitHub's content-creation budget, kept across runs.
//!
//! GitHub's secondary limits allow about 80 content-creating requests a minute and 500 an
//! hour (new issues, new labels, ...), whoever sends them and however many processes.
//! Each `POST` the connector sends first takes a slot here: over the minute's budget it
//! waits (at most a minute); over the hour's it is *postponed*
//! ([`ConnectorError::Postponed`]) with the time it fits again, so a big first import is
//! spread over the hours it needs, one run after another, instead of failing with "rate
//! limited". When GitHub refuses a creation all the same (another client spent the
//! budget), [`CreationBudget::refused_until`] takes the hour as spent until then.
//!
//! The slots (epoch seconds) live in a small JSON file in the state folder, next to the
//! `ETag` cache, saved after every slot taken: the next run (or a `watch` restart) knows
//! what the last hour already spent. A missing or unreadable file is an unspent budget.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use asana_bridge_connector::ConnectorError;
use serde::{Deserialize, Serialize};

/// GitHub's hourly budget of content-creating requests.
pub const DEFAULT_CREATES_PER_HOUR: u32 = 500;
/// GitHub's per-minute budget of content-creating requests.
pub const DEFAULT_CREATES_PER_MINUTE: u32 = 80;

const HOUR: i64 = 3600;
const MINUTE: i64 = 60;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    /// Epoch seconds of the creations of the last hour, oldest first.
    creates: VecDeque<i64>,
    /// GitHub refused a creation until then (epoch seconds).
    #[serde(default)]
    blocked_until: Option<i64>,
}

/// The budget of one repository link.
#[derive(Debug)]
pub struct CreationBudget {
    per_hour: u32,
    per_minute: u32,
    file: Option<PathBuf>,
    saved: Mutex<Saved>,
}

/// What taking a slot decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Slot {
    /// Go ahead (the slot is counted).
    Go,
    /// The minute is full: wait this long, then ask again.
    Wait(Duration),
    /// The hour is full until this epoch second.
    Postpone(i64),
}

impl CreationBudget {
    /// A budget of `per_hour` (and GitHub's 80 a minute) loaded from `file`, if any.
    #[must_use]
    pub fn new(per_hour: u32, file: Option<PathBuf>) -> Self {
        let saved = file
            .as_ref()
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Self {
            per_hour: per_hour.max(1),
            per_minute: DEFAULT_CREATES_PER_MINUTE.min(per_hour.max(1)),
            file,
            saved: Mutex::new(saved),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Saved> {
        self.saved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes a slot at epoch second `now` if one is free.
    pub fn take_at(&self, now: i64) -> Slot {
        let decided = {
            let mut s = self.lock();
            while s.creates.front().is_some_and(|t| now - t >= HOUR) {
                s.creates.pop_front();
            }
            if let Some(until) = s.blocked_until {
                if until > now {
                    return Slot::Postpone(until);
                }
                s.blocked_until = None;
            }
            let hour = s.creates.len();
            let minute = s.creates.iter().filter(|t| now - **t < MINUTE).count();
            if hour >= self.per_hour as usize {
                let oldest = s.creates[hour - self.per_hour as usize];
                return Slot::Postpone(oldest + HOUR);
            }
            if minute >= self.per_minute as usize {
                let oldest = s.creates[hour - self.per_minute as usize];
                let secs = u64::try_from(oldest + MINUTE - now).unwrap_or(1).max(1);
                return Slot::Wait(Duration::from_secs(secs));
            }
            s.creates.push_back(now);
            Slot::Go
        };
        self.save();
        decided
    }

    /// Takes a slot now, waiting out a full minute; [`ConnectorError::Postponed`] when the
    /// hour is full.
    ///
    /// # Errors
    /// [`ConnectorError::Postponed`] with the time a slot frees up.
    pub async fn take(&self) -> Result<(), ConnectorError> {
        loop {
            match self.take_at(jiff::Timestamp::now().as_second()) {
                Slot::Go => return Ok(()),
                Slot::Wait(d) => tokio::time::sleep(d).await,
                Slot::Postpone(until) => return Err(self.postponed(until)),
            }
        }
    }

    /// The error of a creation postponed until epoch second `until`.
    #[must_use]
    pub fn postponed(&self, until: i64) -> ConnectorError {
        ConnectorError::Postponed {
            reason: format!(
                "GitHub allows about {} new issues and labels an hour and this hour's are spent; the next run goes on",
                self.per_hour
            ),
            retry_at: jiff::Timestamp::from_second(until).ok(),
        }
    }

    /// GitHub refused a creation (a secondary limit) for `retry_after`: no slot until then.
    pub fn refused_until(&self, retry_after: Duration) -> i64 {
        let until = jiff::Timestamp::now().as_second()
            + i64::try_from(retry_after.as_secs()).unwrap_or(HOUR).max(1);
        {
            let mut s = self.lock();
            s.blocked_until = Some(s.blocked_until.map_or(until, |u| u.max(until)));
            // The refused attempt took a slot it did not use.
            s.creates.pop_back();
        }
        self.save();
        until
    }

    /// Creations counted in the hour before epoch second `now`.
    #[must_use]
    pub fn used_at(&self, now: i64) -> usize {
        self.lock()
            .creates
            .iter()
            .filter(|t| now - **t < HOUR)
            .count()
    }

    /// Writes the budget to its file (temp file + rename). A failure is logged: the cost
    /// is a next run that may meet GitHub's own refusal, which is handled too.
    fn save(&self) {
        let Some(file) = &self.file else {
            return;
        };
        let bytes = match serde_json::to_vec(&*self.lock()) {
            Ok(b) => b,
            Err(_) => return,
        };
        let write = || -> std::io::Result<()> {
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = file.with_extension("tmp");
            std::fs::write(&tmp, &bytes)?;
            std::fs::rename(&tmp, file)
        };
        if let Err(e) = write() {
            tracing::warn!(file = %file.display(), error = %e, "cannot save GitHub's creation budget");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three an hour: the fourth is postponed until the first leaves the hour, and a new
    /// budget on the same file knows it.
    #[test]
    fn hourly_budget_persists() {
        let dir = std::env::temp_dir().join(format!("gh-budget-test-{}", std::process::id()));
        let file = dir.join("b.json");
        let b = CreationBudget::new(3, Some(file.clone()));
        assert_eq!(b.take_at(1000), Slot::Go);
        assert_eq!(b.take_at(1100), Slot::Go);
        assert_eq!(b.take_at(1200), Slot::Go);
        assert_eq!(b.take_at(1300), Slot::Postpone(1000 + HOUR));
        let again = CreationBudget::new(3, Some(file));
        assert_eq!(again.take_at(1300), Slot::Postpone(1000 + HOUR));
        assert_eq!(again.take_at(1000 + HOUR), Slot::Go);
        assert_eq!(again.used_at(1000 + HOUR), 3);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Over 80 in a minute: wait for the minute, not the hour.
    #[test]
    fn minute_budget_waits() {
        let b = CreationBudget::new(500, None);
        for _ in 0..80 {
            assert_eq!(b.take_at(10), Slot::Go);
        }
        assert_eq!(b.take_at(40), Slot::Wait(Duration::from_secs(30)));
        assert_eq!(b.take_at(70), Slot::Go);
    }
}
