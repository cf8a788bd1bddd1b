//! The GitHub issues connector of asana-bridge: one [`GithubConnector`] per linked
//! repository, mirroring each Asana task as an issue.
//!
//! Mapping: title = task name, body = notes (plus, on issues the bridge creates, one
//! footer line linking the Asana task: [`footer`]; the pairing itself lives in the
//! bridge's records), open/closed = completed (closed as `completed`), labels = tags (created
//! when missing), assignees = assignee through the config's `[users]` table (unmapped
//! people are left alone). Pull requests, which `/issues` also lists, are never touched.
//! Due dates and sections have no GitHub equivalent: read as none, never written.
//!
//! - [`settings`]: [`GithubSettings`] and [`http_config`] (GitHub's headers, caps, retries);
//!   [`GithubTarget`], the link's `github` table for the bridge's target registry.
//! - [`connector`]: [`GithubConnector`], the [`Connector`](asana_bridge_connector::Connector).
//! - [`convert`]: an issue read into the common model; [`wire`]: the API's JSON shapes.
//! - [`footer`]: the footer line, written and parsed back byte for byte.
//! - [`budget`]: GitHub's content-creation budget (about 500 an hour), kept across runs.
//! - [`limits`]: GitHub's limits on titles, labels and bodies; `422`s read field by field.
//! - [`cache`]: `ETag`s and bodies for conditional requests (`304`s cost no rate limit).
//! - [`pacer`]: serial, spaced mutations (GitHub's secondary limits).
//! - [`links`]: `Link` header pagination.
//! - [`hooks`]: repository webhooks, which `watch` uses as a prompt to poll.
//! - [`comments`]: issue comments (an issue's, the repository's since a time; post, edit,
//!   delete), read into the shared [`Comment`](asana_bridge_connector::Comment).
//!
//! Rate limits (primary `x-ratelimit-*`, secondary `403`/`429` with `retry-after`) are obeyed
//! by the shared HTTP layer (`asana_bridge_connector::http`), which this crate configures.

pub mod budget;
pub mod cache;
pub mod comment_marks;
pub mod comments;
pub mod connector;
pub mod convert;
pub mod delivery;
pub mod footer;
pub mod hooks;
pub mod limits;
pub mod links;
pub mod pacer;
pub mod settings;
pub mod threads;
pub mod wire;

pub use comments::{CommentFeed, IssueComment};
pub use connector::GithubConnector;
pub use convert::DELETED_LABEL;
pub use settings::{
    API_VERSION, DEFAULT_API_URL, GithubSettings, GithubSpec, GithubTarget, SettingsError,
    http_config,
};
