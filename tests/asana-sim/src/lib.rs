//! An in-memory fake of the Asana REST API, served by axum on 127.0.0.1, for asana-bridge's
//! integration tests, benchmarks and demo.
//!
//! It follows Asana's OpenAPI description (`specs/asana/asana_oas.prism.yaml`, vendored) and
//! the API notes:
//! `{"data": ...}` envelopes, `next_page` pagination with opaque offsets, `opt_fields`
//! projection (unknown fields are a 400), Asana's error bodies, 201 on creates, the events
//! stream with 412 sync tokens, `POST /batch`, rate and concurrency limits. Tests drive it
//! through [`Simulator`] in process, or through `/_sim/...` JSON over HTTP when it runs as
//! the `asana-sim` binary.
//!
//! Module map:
//! - [`server`]: the [`Simulator`] handle (thread, runtime, shutdown) and its control API.
//! - `model`: public value types ([`TaskSeed`], [`TaskEdit`], [`SimTask`], [`Fault`], ...).
//! - `state`: the simulated world and every mutation (with events and `modified_at` rules).
//! - `events`: the event log and sync tokens.
//! - `fields`, `spec_fields`: `opt_fields` validation and projection.
//! - `pagination`, `query`: `limit`/`offset`/`next_page` and query strings.
//! - `repr`: JSON shapes of each resource.
//! - `routes`: the Asana API routes and the request gate (auth, limits, faults, log).
//! - `control`: the `/_sim/...` HTTP control API.
//! - `custom_fields`: custom fields, their project settings and task values.
//! - `faults`, `limits`, `error`: injected failures, limiters, Asana error bodies.
//! - `seed`: demo and generated data for the binary and benchmarks.
//! - `oauth`: Asana's OAuth endpoints (`/-/oauth_authorize`, `/-/oauth_token` with PKCE,
//!   `/-/oauth_revoke`) and short-lived access tokens.
//! - `webhooks`: webhooks (`X-Hook-Secret` handshake, signed deliveries of compact events,
//!   heartbeats, forged deliveries for tests) and their registry.
//! - `threads`: subtasks (the parent/child tree) and stories (comments and system
//!   stories), with their events; `threads_repr` their JSON, `threads_control` their
//!   test-control side; `routes/subtasks` and `routes/stories` serve them.
//!
//! `tools/gen_spec_fields.py` regenerates `spec_fields.rs` from the spec;
//! `tools/validate_against_spec.py` drives the binary through every route and checks each
//! response body against the spec's response schema (a stand-in for the Prism proxy).

mod control;
mod custom_fields;
mod error;
mod events;
mod faults;
mod fields;
mod limits;
mod model;
mod oauth;
mod pagination;
mod query;
mod repr;
mod routes;
pub mod seed;
pub mod server;
pub mod spec_fields;
mod state;
mod threads;
mod threads_control;
mod threads_repr;
mod webhooks;

pub use custom_fields::SimValue;
pub use model::{Fault, RecordedRequest, SimOptions, SimTask, TaskEdit, TaskSeed};
pub use oauth::OAuthStats;
pub use server::Simulator;
pub use threads_control::{CommentSeed, SimComment};
pub use webhooks::{DeliveryKind, SimDelivery, SimWebhook};

/// Locks a std mutex; poisoning means a handler panicked mid-update, which is a
/// simulator bug worth surfacing loudly.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().expect("asana-sim mutex poisoned")
}
