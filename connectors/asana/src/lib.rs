//! The Asana connector of asana-bridge: one [`AsanaConnector`] per linked project, all
//! projects of a token sharing one [`AsanaClient`].
//!
//! - [`client`]: [`AsanaClient`] and [`AsanaConfig`]: the shared HTTP layer of the token
//!   plus the per-run caches (workspaces, users, tags, sections) and [`AsanaClient::me`].
//! - [`connector`]: [`AsanaConnector`], the [`Connector`](asana_bridge_connector::Connector)
//!   of one project: list, read, create, update, delete.
//! - [`events`]: the project's change feed (`GET /events`) as
//!   [`Changes`](asana_bridge_connector::Changes).
//! - [`convert`]: an Asana task read into the common model.
//! - [`custom_fields`]: tasks' custom fields read and written by name, checked against the
//!   project's custom field settings (kept between runs).
//! - [`directory_cache`]: workspaces' user directories kept on disk between runs.
//! - [`rate_file`]: the workspace's real rate limit, learned from a `429`, kept between runs.
//! - [`mark`]: the line naming the GitHub issue a task was created from, at the end of its
//!   description (a recovery hint, never part of the notes).
//! - [`echo`]: the bridge's own writes, so their echoes in the feed are dropped.
//! - [`wire`]: the API's JSON shapes and the `opt_fields` the connector asks for.
//! - [`listing`]: the workspaces and projects a token can see (`asana-bridge projects`).
//! - [`webhooks`]: create, list, read and delete Asana webhooks (the receiver lives in the
//!   bridge's `watch`).
//! - [`subtasks`]: a task's direct subtasks: list, create, rename, complete, delete.
//! - [`comments`]: a task's comments: list (as Markdown), post, edit (the bridge's own
//!   only), delete.

pub mod client;
pub mod comments;
pub mod connector;
pub mod convert;
pub mod custom_fields;
pub mod directory_cache;
pub mod echo;
pub mod events;
pub mod listing;
pub mod mark;
pub mod rate_file;
pub mod subtasks;
mod threads;
pub mod webhooks;
pub mod wire;

pub use client::{
    AsanaClient, AsanaConfig, DEFAULT_BASE_URL, Me, OAUTH_AUTHORIZE_URL, OAUTH_REVOKE_URL,
    OAUTH_TOKEN_URL,
};
pub use connector::AsanaConnector;
