//! An in-memory fake of the GitHub REST API for one repository's issues, served by axum on
//! 127.0.0.1, for asana-bridge's tests.
//!
//! It follows GitHub's OpenAPI description (`shared/specs/github_issues_oas.json`) for the
//! endpoints the issues connector uses, and the service's documented behaviour: pull
//! requests mixed into `/issues` (marked by `pull_request`), `Link` pagination on the
//! `/repositories/{id}/...` form (at the simulator's own address, or at the proxy a test
//! names with [`GithubSim::set_public_url`]), `since`/`sort`/`direction`/`state` filters, `ETag` on
//! every `200` GET and `304` on a matching `If-None-Match` (not counted against the primary
//! limit), `x-ratelimit-*` headers, secondary-limit answers (`403`/`429` with
//! `retry-after`), `422` validation errors in GitHub's shape, and a catch-all `404` that
//! records unexpected requests. Tests drive it in process through [`GithubSim`].
//!
//! Module map:
//! - [`server`]: the [`GithubSim`] handle (thread, runtime, shutdown) and its control API.
//! - `model`: public value types ([`IssueSeed`], [`IssueEdit`], [`SimIssue`], [`Fault`], ...).
//! - `state`: the repository and every mutation, with GitHub's rules.
//! - `routes`: the API routes and handlers; `gate`: auth, headers, limits, faults, `ETag`s.
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

pub use model::{Fault, IssueEdit, IssueSeed, RecordedRequest, SimIssue, SimOptions};
pub use server::{GithubSim, INSTALLATION_TOKEN, PAT_TOKEN};

/// Locks a std mutex; poisoning means a handler panicked mid-update, which is a simulator
/// bug worth surfacing loudly.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().expect("github-sim mutex poisoned")
}
