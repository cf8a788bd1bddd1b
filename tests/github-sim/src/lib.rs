//! An in-memory fake of the GitHub REST API for one repository's issues, served by axum on
//! 127.0.0.1, for asana-bridge's tests.
//!
//! It follows GitHub's OpenAPI description (`specs/github/github_issues_oas.json`, vendored)
//! for the endpoints the issues connector uses, and the service's documented behaviour: pull
//! requests mixed into `/issues` (marked by `pull_request`), `Link` pagination on the
//! `/repositories/{id}/...` form (at the simulator's own address, or at the proxy a test
//! names with [`GithubSim::set_public_url`]), `since`/`sort`/`direction`/`state` filters, `ETag` on
//! every `200` GET and `304` on a matching `If-None-Match` (not counted against the primary
//! limit), `x-ratelimit-*` headers, secondary-limit answers (`403`/`429` with
//! `retry-after`; optional content-creation budgets per window), `422` validation errors
//! in GitHub's shape (title over 256, label over 50, body over 65,536 characters, an
//! empty title, an unassignable login), transferred issues (`301` to the new repository)
//! and deleted ones (`410`), repository webhooks
//! (`/repos/{o}/{r}/hooks`: signed `ping`, `issues` and `issue_comment` deliveries, sent
//! at most once by a background task), issue comments (an issue's and the repository's
//! listings with `since`, post, edit, delete; only the author, or a token user with write
//! access, may change one: [`Role`]), and a catch-all `404` that records unexpected
//! requests. Tests drive it in process through [`GithubSim`].
//!
//! Module map:
//! - [`server`]: the [`GithubSim`] handle (thread, runtime, shutdown) and its control API.
//! - `model`: public value types ([`IssueSeed`], [`IssueEdit`], [`SimIssue`], [`SimComment`],
//!   [`Role`], [`Fault`], [`SimHook`], [`SimHookDelivery`], ...).
//! - `state`: the repository, its webhooks and every mutation, with GitHub's rules; each
//!   change queues the webhook events it causes (`state::comments`: issue comments).
//! - `routes`: the API routes and handlers (`routes::comments`: the comment routes);
//!   `gate`: auth, headers, limits, faults, `ETag`s,
//!   and the hand-over of a write's webhook events.
//! - `webhooks`: the delivery task (signing, headers, at-most-once, lost deliveries).
//! - `repr`: JSON shapes; `error`: GitHub's error bodies; `faults`, `limits`.

mod error;
mod faults;
mod gate;
mod limits;
mod model;
mod repr;
mod routes;
pub mod server;
mod state;
mod webhooks;

pub use model::{
    DeliveryOutcome, Fault, IssueEdit, IssueSeed, RecordedRequest, Role, SimComment, SimHook,
    SimHookDelivery, SimIssue, SimOptions,
};
pub use server::{APP_BOT, GithubSim, INSTALLATION_TOKEN, PAT_TOKEN};

/// Locks a std mutex; poisoning means a handler panicked mid-update, which is a simulator
/// bug worth surfacing loudly.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().expect("github-sim mutex poisoned")
}
