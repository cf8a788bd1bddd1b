//! When a task is due: a day or a moment, never both (Asana's `due_on` and `due_at`).
//!
//! [`Due`] keeps the value as text in one canonical form, so that equal dues compare equal
//! across systems and a due time is never flattened to a date: a day is `YYYY-MM-DD`, a
//! moment is RFC 3339 in UTC as [`jiff::Timestamp`] prints it (`2026-12-01T15:00:00Z`,
//! fractions of a second only when there are some).

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// When a task is due.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Due {
    /// A day, `YYYY-MM-DD` (Asana `due_on`).
    On(String),
    /// A moment, RFC 3339 in UTC (Asana `due_at`).
    At(String),
}

/// Why a text is not a due day or moment.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DueError {
    #[error("`{0}` is not a date; write it as YYYY-MM-DD")]
    NotADate(String),
    #[error("`{0}` is not a real date")]
    NoSuchDate(String),
    #[error("`{0}` is not a time; write it as RFC 3339, e.g. 2026-12-01T15:00:00Z")]
    NotATime(String),
}

impl Due {
    /// A day written `YYYY-MM-DD` that exists in the calendar.
    ///
    /// # Errors
    /// [`DueError::NotADate`] or [`DueError::NoSuchDate`].
    pub fn day(text: &str) -> Result<Self, DueError> {
        let text = text.trim();
        let shaped = text.len() == 10
            && text.bytes().enumerate().all(|(i, b)| match i {
                4 | 7 => b == b'-',
                _ => b.is_ascii_digit(),
            });
        if !shaped {
            return Err(DueError::NotADate(text.to_owned()));
        }
        text.parse::<jiff::civil::Date>()
            .map(|_| Self::On(text.to_owned()))
            .map_err(|_| DueError::NoSuchDate(text.to_owned()))
    }

    /// A moment in RFC 3339 (any offset), kept in UTC.
    ///
    /// # Errors
    /// [`DueError::NotATime`].
    pub fn moment(text: &str) -> Result<Self, DueError> {
        let text = text.trim();
        text.parse::<jiff::Timestamp>()
            .map(|t| Self::At(t.to_string()))
            .map_err(|_| DueError::NotATime(text.to_owned()))
    }

    /// Reads either form: a moment when the text has a time, else a day.
    ///
    /// # Errors
    /// As [`Due::day`] or [`Due::moment`].
    pub fn parse(text: &str) -> Result<Self, DueError> {
        if text.trim().contains(['T', 't', ' ']) {
            Self::moment(text)
        } else {
            Self::day(text)
        }
    }

    /// The text, in canonical form.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::On(s) | Self::At(s) => s,
        }
    }

    /// The day it falls on, in UTC (`YYYY-MM-DD`).
    #[must_use]
    pub fn day_of(&self) -> &str {
        let s = self.as_str();
        s.get(..10).unwrap_or(s)
    }
}

/// Best effort, for values already checked by their system: a text that does not parse is
/// kept as it is (as a moment when it has a time).
impl From<&str> for Due {
    fn from(text: &str) -> Self {
        Self::parse(text).unwrap_or_else(|_| {
            if text.contains('T') {
                Self::At(text.trim().to_owned())
            } else {
                Self::On(text.trim().to_owned())
            }
        })
    }
}

impl From<String> for Due {
    fn from(text: String) -> Self {
        Self::from(text.as_str())
    }
}

impl Deref for Due {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Due {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Due {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Due {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Ok(Self::from(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_moments_read_and_keep_their_kind() {
        assert_eq!(Due::parse("2026-12-01"), Ok(Due::On("2026-12-01".into())));
        assert_eq!(
            Due::parse("2026-12-01T15:00:00.000Z"),
            Ok(Due::At("2026-12-01T15:00:00Z".into()))
        );
        assert_eq!(
            Due::parse("2026-12-01T16:30:00+01:00"),
            Ok(Due::At("2026-12-01T15:30:00Z".into())),
            "kept in UTC"
        );
        assert_eq!(
            Due::parse("2026-12-01T15:00:00.250Z").map(|d| d.to_string()),
            Ok("2026-12-01T15:00:00.25Z".into()),
            "fractions are kept"
        );
        assert_eq!(
            Due::parse("2026-12-01T23:30:00-05:00").unwrap().day_of(),
            "2026-12-02"
        );
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        assert_eq!(
            Due::parse("31/02/2026"),
            Err(DueError::NotADate("31/02/2026".into()))
        );
        assert_eq!(
            Due::parse("2026-02-31"),
            Err(DueError::NoSuchDate("2026-02-31".into()))
        );
        assert_eq!(
            Due::parse("2026-12-01T25:00"),
            Err(DueError::NotATime("2026-12-01T25:00".into()))
        );
    }

    #[test]
    fn serialises_as_its_text() {
        let due = Due::parse("2026-12-01T15:00:00Z").unwrap();
        let json = serde_json::to_string(&due).unwrap();
        assert_eq!(json, "\"2026-12-01T15:00:00Z\"");
        assert_eq!(serde_json::from_str::<Due>(&json).unwrap(), due);
        assert_eq!(
            serde_json::from_str::<Due>("\"2026-12-01\"").unwrap(),
            Due::On("2026-12-01".into())
        );
    }
}
