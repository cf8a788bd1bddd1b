//! Errors at the connector boundary: one type with a [`ErrorKind`] the engine branches on
//! and [`ConnectorError::is_retryable`] next to it.

use std::time::Duration;

/// What went wrong, as far as the engine cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The item (or the project/repository) does not exist or is not visible.
    NotFound,
    /// The token is missing, invalid, expired or revoked.
    Unauthorized,
    /// Authenticated, but not allowed.
    Forbidden,
    /// The service asked us to slow down and we gave up waiting.
    RateLimited,
    /// A passing failure (5xx, dropped connection) that outlived the retries.
    Transient,
    /// A write whose outcome is unknown: it may or may not have been applied.
    Ambiguous,
    /// The item's data cannot be read or written (bad front matter, rejected value).
    InvalidData,
    /// Local I/O failed.
    Io,
    /// Anything else the service refused.
    Api,
    /// Not done now, on purpose, to stay inside a budget the service announces for a
    /// longer period than a run should wait (GitHub's ~500 content creations an hour):
    /// neither a failure of the item nor of the link; the next run does it.
    Postponed,
}

/// An error from a connector.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("unauthorized ({status}): {message}")]
    Unauthorized { status: u16, message: String },
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("rate limited{}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },
    #[error("{service} answered {status}: {message}")]
    Api {
        service: &'static str,
        status: u16,
        message: String,
    },
    #[error("{service} is unavailable: {message}")]
    Transient {
        service: &'static str,
        message: String,
    },
    #[error("network error talking to {service}: {source}")]
    Transport {
        service: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("the outcome of this write is unknown (the answer was lost): {0}")]
    Ambiguous(String),
    #[error("unexpected answer from {service}: {message}")]
    Decode {
        service: &'static str,
        message: String,
    },
    #[error("{0}")]
    InvalidData(String),
    /// The item changed on its own side while the bridge was reading or writing it (a
    /// file saved during the run): left as it is, the next run picks the change up. Not a
    /// refusal of any value.
    #[error("{0}")]
    ChangedMeanwhile(String),
    #[error("postponed: {reason}{}", retry_at.map(|t| format!(" (until {})", t.strftime("%H:%M UTC"))).unwrap_or_default())]
    Postponed {
        /// Why, for the output: e.g. `GitHub allows about 500 new issues an hour`.
        reason: String,
        /// When it would fit again, if known.
        retry_at: Option<jiff::Timestamp>,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl ConnectorError {
    /// The coarse kind the engine branches on.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound(_) => ErrorKind::NotFound,
            Self::Unauthorized { .. } => ErrorKind::Unauthorized,
            Self::Forbidden(_) => ErrorKind::Forbidden,
            Self::RateLimited { .. } => ErrorKind::RateLimited,
            Self::Transient { .. } | Self::Transport { .. } => ErrorKind::Transient,
            Self::Ambiguous(_) => ErrorKind::Ambiguous,
            Self::InvalidData(_) | Self::ChangedMeanwhile(_) | Self::Decode { .. } => {
                ErrorKind::InvalidData
            }
            Self::Io { .. } => ErrorKind::Io,
            Self::Api { .. } => ErrorKind::Api,
            Self::Postponed { .. } => ErrorKind::Postponed,
        }
    }

    /// Whether trying the same request again later may succeed.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::RateLimited | ErrorKind::Transient | ErrorKind::Ambiguous
        )
    }

    /// Whether the error concerns the whole connection (token, service down) rather than
    /// one item: the engine stops the link instead of going on item by item.
    #[must_use]
    pub fn is_fatal_for_link(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::Unauthorized | ErrorKind::RateLimited | ErrorKind::Transient
        )
    }

    /// Shorthand for an [`ConnectorError::Io`] with its context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

/// One field a write could not set while the item's other fields were written (GitHub
/// refused a 300-character title, a 60-character label, an unassignable login): reported
/// as one line naming the item, the field and the value; the rest of the item flowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The item's id on its system (an issue number); `None` for an item not created yet.
    pub id: Option<String>,
    /// The field that was not written.
    pub field: crate::model::Field,
    /// One line for the user: the field, the value (shortened) and the cause.
    pub message: String,
}

/// An item a connector could not read. The rest of the listing goes on.
#[derive(Debug)]
pub struct ItemError {
    /// The item's id on its system (a file name), when known.
    pub id: Option<String>,
    /// The Asana gid the item claims to mirror, when it could still be read.
    pub partner: Option<String>,
    /// What is wrong with it.
    pub error: ConnectorError,
}
