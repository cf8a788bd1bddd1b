//! The public value types of the test-control API: what tests seed, edit, read back and
//! inject. They are plain data (serde both ways) so the `/_sim/...` HTTP control API can
//! carry them unchanged for child-process use.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

/// How to start a [`crate::Simulator`].
#[derive(Debug, Clone, Default)]
pub struct SimOptions {
    /// Port to bind on 127.0.0.1; `None` picks a free one.
    pub port: Option<u16>,
    /// Added (as an async sleep) to every API request before it is handled.
    pub latency: Duration,
    /// Standard rate limit per token (sliding 60 s window); `None` disables it.
    /// Rejected requests count against the window too, as in real Asana.
    pub rate_limit_per_minute: Option<u32>,
    /// The window of that limit; `None`: Asana's minute. Tests and benchmarks scale it
    /// down (with the bridge's `ASANA_BRIDGE_RATE_WINDOW_MS` set to the same length) so
    /// that a minute's waits take a fraction of the time; `Retry-After` stays in whole
    /// seconds, as Asana sends it.
    pub rate_window: Option<Duration>,
    /// Extra delay for list requests that carry an `offset` (later pages), to make
    /// pagination cost visible in benchmarks.
    pub page_delay: Duration,
    /// The valid bot token; `None` uses the built-in default.
    pub token: Option<String>,
}

/// A task as a human would create it in the Asana UI (control API `add_task`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskSeed {
    /// Task name.
    pub name: String,
    /// Plain-text description (escaped into `html_notes`, as Asana does).
    pub notes: String,
    /// A rich description (`<body>...</body>`, checked as the API checks it); wins over
    /// `notes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html_notes: Option<String>,
    /// Whether the task starts completed.
    pub completed: bool,
    /// `YYYY-MM-DD`.
    pub due_on: Option<String>,
    /// A due time (RFC 3339), instead of `due_on`.
    pub due_at: Option<String>,
    /// `YYYY-MM-DD`; needs a due date.
    pub start_on: Option<String>,
    /// Assignee's email (must be a workspace member).
    pub assignee: Option<String>,
    /// Tag names; missing tags are created in the workspace.
    pub tags: Vec<String>,
    /// Section name in the project; created if missing.
    pub section: Option<String>,
}

impl TaskSeed {
    /// A seed with just a name.
    pub fn named(name: &str) -> TaskSeed {
        TaskSeed {
            name: name.to_owned(),
            ..TaskSeed::default()
        }
    }
}

/// A human edit of a task (control API `edit_task`); `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskEdit {
    /// New name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New notes, as plain text (any formatting is replaced, as in Asana).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// A new rich description (checked as the API checks it); wins over `notes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html_notes: Option<String>,
    /// New completion state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed: Option<bool>,
    /// `Some(None)` clears the due date.
    #[serde(
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub due_on: Option<Option<String>>,
    /// `Some(Some(time))` sets a due time; `Some(None)` clears the due date.
    #[serde(
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub due_at: Option<Option<String>>,
    /// Asana's rule: only together with `due_on` or `due_at`.
    #[serde(
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_on: Option<Option<String>>,
    /// `Some(None)` unassigns; `Some(Some(email))` assigns.
    #[serde(
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub assignee: Option<Option<String>>,
    /// The full new tag set (names; missing tags are created).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Move to this section of the task's first project (created if missing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
}

/// Distinguishes an absent key (`None`) from an explicit `null` (`Some(None)`).
fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A task as the simulator holds it, flattened for assertions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimTask {
    /// Task gid.
    pub gid: String,
    /// Name.
    pub name: String,
    /// Plain-text notes (derived from `html_notes`, as Asana does).
    pub notes: String,
    /// The rich description, as the API returns it.
    #[serde(default)]
    pub html_notes: String,
    /// Completion state.
    pub completed: bool,
    /// `YYYY-MM-DD`.
    pub due_on: Option<String>,
    /// The due time, as the API reports it (milliseconds, `Z`).
    #[serde(default)]
    pub due_at: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub start_on: Option<String>,
    /// Assignee's email.
    pub assignee: Option<String>,
    /// Tag names, sorted.
    pub tags: Vec<String>,
    /// Section name in the task's first project.
    pub section: Option<String>,
    /// ISO 8601 with milliseconds, as the API reports it.
    pub modified_at: String,
    /// Gid of the user who created the task.
    pub created_by: String,
}

/// One API request as the simulator saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path without the `/api/1.0` prefix, e.g. `/tasks/1200000000000007`.
    pub path: String,
    /// Raw query string (empty when none).
    pub query: String,
    /// Status answered; `0` when the connection was dropped before anything was applied.
    pub status: u16,
    /// An action inside a `POST /batch`. The envelope is recorded separately, after its
    /// actions (it is logged when its answer is complete).
    pub in_batch: bool,
    /// The connection was dropped by an injected fault (the client saw no full answer).
    #[serde(default)]
    pub dropped: bool,
    /// For a `POST /batch` envelope: how many of its actions are writes.
    #[serde(default)]
    pub batch_write_actions: Option<usize>,
    /// The request's JSON body (`None` without one, or when it is not JSON), so tests can
    /// check exactly what a client sent.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
}

impl RecordedRequest {
    /// POST/PUT/PATCH/DELETE, except a `POST /batch` envelope whose actions are all reads.
    pub fn is_write(&self) -> bool {
        if let Some(writes) = self.batch_write_actions {
            return writes > 0;
        }
        matches!(self.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE")
    }
}

/// A failure to inject into the next matching API requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer `status` with Asana's error body (a 500 carries a `phrase`); nothing applied.
    Status {
        /// HTTP status to answer.
        status: u16,
        /// How many matching requests to fail.
        count: usize,
        /// Only requests with this method (case-insensitive).
        #[serde(default)]
        method: Option<String>,
        /// Only requests whose path contains this.
        #[serde(default)]
        path_contains: Option<String>,
    },
    /// 429 with `Retry-After` and Asana's rate-limit body; nothing applied.
    RateLimit {
        /// Seconds in the `Retry-After` header.
        retry_after_secs: u64,
        /// How many requests to reject.
        count: usize,
    },
    /// Break the connection without applying anything.
    DropBeforeApply {
        /// How many matching requests to drop.
        count: usize,
        /// Only requests with this method.
        #[serde(default)]
        method: Option<String>,
        /// Only requests whose path contains this.
        #[serde(default)]
        path_contains: Option<String>,
    },
    /// Apply the request, then break the connection before a full answer (the ambiguous case).
    DropAfterApply {
        /// How many matching requests to drop.
        count: usize,
        /// Only requests with this method.
        #[serde(default)]
        method: Option<String>,
        /// Only requests whose path contains this.
        #[serde(default)]
        path_contains: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A serialized `TaskEdit` round-trips: absent stays absent, explicit null clears.
    #[test]
    fn task_edit_round_trips_double_options() {
        let edit = TaskEdit {
            due_on: Some(None),
            name: Some("n".into()),
            ..TaskEdit::default()
        };
        let json = serde_json::to_string(&edit).unwrap_or_default();
        let back: TaskEdit = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, edit);
        assert_eq!(back.assignee, None);
    }
}
