//! Public value types of the control API: what tests seed ([`IssueSeed`]), change
//! ([`IssueEdit`]), read back ([`SimIssue`], [`RecordedRequest`]), inject ([`Fault`]) and
//! start the simulator with ([`SimOptions`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// An issue as a person would open it in the GitHub UI.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueSeed {
    pub title: String,
    /// `None` is a `null` body, as GitHub answers for an issue opened without text.
    pub body: Option<String>,
    /// Label names; missing labels are created.
    pub labels: Vec<String>,
    /// Logins; unknown ones are added as collaborators.
    pub assignees: Vec<String>,
    /// Open it closed (as `completed`).
    pub closed: bool,
}

/// A change made by a person in the GitHub UI; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueEdit {
    pub title: Option<String>,
    /// `Some(None)` makes the body `null`.
    pub body: Option<Option<String>>,
    /// `Some(true)` closes (as `completed`), `Some(false)` reopens.
    pub closed: Option<bool>,
    /// The whole set of label names.
    pub labels: Option<Vec<String>>,
    /// The whole set of assignee logins.
    pub assignees: Option<Vec<String>>,
    /// Adds a comment by `octocat` (bumps the issue's `updated_at` and comment count,
    /// changes no synced field; see [`crate::GithubSim::add_comment`] for one with a chosen
    /// author and text).
    pub comment: bool,
}

/// An issue (or pull request) as tests assert on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimIssue {
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    /// `open` or `closed`.
    pub state: String,
    pub state_reason: Option<String>,
    /// Label names, sorted.
    pub labels: Vec<String>,
    /// Logins, in assignment order.
    pub assignees: Vec<String>,
    pub is_pull_request: bool,
    /// RFC 3339, whole seconds.
    pub updated_at: String,
    /// How many times the API changed it (not counting control-API edits).
    pub api_writes: u32,
}

/// One API request as the simulator saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// `GET`, `POST`, `PATCH`, ...
    pub method: String,
    /// Path, e.g. `/repos/acme/app/issues/3`.
    pub path: String,
    /// Raw query string (empty when none).
    pub query: String,
    /// Status answered; `0` when the connection was dropped before anything was applied.
    pub status: u16,
    /// The `Accept` header sent.
    pub accept: Option<String>,
    /// The `X-GitHub-Api-Version` header sent.
    pub api_version: Option<String>,
    /// The `User-Agent` header sent.
    pub user_agent: Option<String>,
    /// The `If-None-Match` header sent.
    pub if_none_match: Option<String>,
    /// The JSON body, when there was one.
    pub body: Option<serde_json::Value>,
    /// Whether the answer counted against the primary rate limit (a 304 does not).
    pub counted: bool,
}

impl RecordedRequest {
    /// POST, PUT, PATCH or DELETE.
    #[must_use]
    pub fn is_write(&self) -> bool {
        matches!(self.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE")
    }
}

/// A failure to inject into the next matching API requests. `method` and `path_contains`
/// narrow which requests match (`None`: any).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fault {
    /// Answer `status` with GitHub's error body; nothing applied.
    Status {
        status: u16,
        count: usize,
        method: Option<String>,
        path_contains: Option<String>,
    },
    /// A secondary rate-limit answer: `status` 403 or 429, GitHub's message, and
    /// `retry-after` when given; nothing applied.
    SecondaryRateLimit {
        status: u16,
        retry_after_secs: Option<u64>,
        count: usize,
        method: Option<String>,
        path_contains: Option<String>,
    },
    /// Break the connection without applying anything.
    DropBeforeApply {
        count: usize,
        method: Option<String>,
        path_contains: Option<String>,
    },
    /// Apply the request, then break the connection before a full answer (the ambiguous
    /// case: a crash right after a create).
    DropAfterApply {
        count: usize,
        method: Option<String>,
        path_contains: Option<String>,
    },
}

/// How to start a simulator.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// `owner/name` of the one repository.
    pub repo: String,
    /// The primary rate limit per window.
    pub rate_limit: u32,
    /// Mutations closer together than this get a secondary rate-limit `403` with
    /// `retry-after: 1` (GitHub asks for about a second between content-creating requests).
    pub min_mutation_interval: Option<Duration>,
    /// Latency added to every API request.
    pub latency: Duration,
    /// Content-creation budgets: at most `n` `POST`s in any window of the given length;
    /// beyond, a secondary-limit `403` with the `retry-after` until one fits. GitHub's:
    /// [`SimOptions::GITHUB_CREATION_LIMITS`]. Empty (the default): no such budget.
    pub creation_limits: Vec<(u32, Duration)>,
}

impl SimOptions {
    /// GitHub's documented content-creation limits: 80 a minute, 500 an hour.
    pub const GITHUB_CREATION_LIMITS: [(u32, Duration); 2] = [
        (80, Duration::from_secs(60)),
        (500, Duration::from_secs(3600)),
    ];
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            repo: "acme/app".to_owned(),
            rate_limit: 5000,
            min_mutation_interval: None,
            latency: Duration::ZERO,
            creation_limits: Vec::new(),
        }
    }
}

/// A repository webhook as tests see it. The API never shows a secret again; a test may
/// (`secret`), to check that the bridge never prints the one it chose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimHook {
    /// The hook's id (`X-GitHub-Hook-ID` of its deliveries).
    pub id: u64,
    /// `config.url`: where deliveries go.
    pub url: String,
    /// The events it asked for (`*`: every event).
    pub events: Vec<String>,
    pub active: bool,
    /// `config.content_type`: `json` or `form` (GitHub's default).
    pub content_type: String,
    /// Whether deliveries are signed (`X-Hub-Signature-256`).
    pub has_secret: bool,
    /// The secret the hook was created with.
    pub secret: Option<String>,
}

/// What became of one delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryOutcome {
    /// The target answered with this HTTP status (any status, 2xx or not).
    Answered(u16),
    /// The target gave no answer (refused, timed out after 10 s, ...): the error.
    Failed(String),
    /// Lost on purpose ([`crate::GithubSim::set_drop_deliveries`]): never sent.
    Dropped,
}

/// One delivery the simulator made (or dropped) to a webhook's URL. Deliveries are made at
/// most once: a failed one is recorded, not retried.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimHookDelivery {
    /// The hook's id.
    pub hook_id: u64,
    /// The URL it went to.
    pub url: String,
    /// `X-GitHub-Event`: `ping`, `issues` or `issue_comment`.
    pub event: String,
    /// The payload's `action` (`opened`, `edited`, `created`, ...); `None` for a `ping`.
    pub action: Option<String>,
    /// `X-GitHub-Delivery`: a random UUID (v4), unique per delivery.
    pub guid: String,
    pub outcome: DeliveryOutcome,
}

impl SimHookDelivery {
    /// The status the target answered, if it answered.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self.outcome {
            DeliveryOutcome::Answered(status) => Some(status),
            _ => None,
        }
    }
}

/// An issue comment as tests assert on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimComment {
    pub id: u64,
    /// The number of the issue it is on.
    pub issue: u64,
    /// The author's login.
    pub user: String,
    pub body: String,
    /// RFC 3339, whole seconds.
    pub created_at: String,
    /// RFC 3339, whole seconds; equal to `created_at` until the text is edited.
    pub updated_at: String,
    /// How many times the API wrote it (its create included; not control-API changes).
    pub api_writes: u32,
}

/// A repository role, as GitHub names them. The simulator gives one to the token's user
/// ([`crate::GithubSim::set_token_role`]; `Write` by default): with `Write` and above it
/// may edit and delete anyone's comments, below only its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    Read,
    Triage,
    #[default]
    Write,
    Maintain,
    Admin,
}
