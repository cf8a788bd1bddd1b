//! The contract between the sync engine and every system it mirrors.
//!
//! - [`model`]: the common task model ([`TaskFields`], [`TaskPatch`], [`Item`]) that every
//!   system is translated into and out of.
//! - [`connector`]: the [`Connector`] trait the engine drives: list page by page, create,
//!   update a set of fields, delete, stamp the partner id, and an optional change cursor.
//! - [`custom`]: custom-field values ([`CustomValue`]) by field name, canonical.
//! - [`error`]: [`ConnectorError`], one typed error with a [`ErrorKind`] the engine branches on.
//! - [`http`]: the one place that owns the HTTP client, retries, `Retry-After` and the
//!   client-side rate budget, shared by every HTTP connector.
//! - [`sections`]: the `## Subtasks` and `## Comments` sections of a task's Markdown text,
//!   read ([`sections::split`]) and written ([`sections::join`]).
//! - [`thread`]: what sits beside a task: its direct [`Subtask`]s and its [`Comment`]s.
//!
//! Connectors know their service and nothing of the engine: no state store, no plan.

pub mod connector;
pub mod custom;
pub mod due;
pub mod error;
pub mod http;
pub mod model;
pub mod sections;
pub mod thread;

pub use connector::{Changes, Connector, Identity, Page, PageToken, Whereabouts};
pub use custom::{CustomFields, CustomValue};
pub use due::{Due, DueError};
pub use error::{ConnectorError, ErrorKind, FieldError, ItemError};
pub use model::{Field, Item, TaskFields, TaskPatch};
pub use sections::Sections;
pub use thread::{
    Author, Comment, CommentBlock, NewSubtask, Subtask, SubtaskLine, TargetThread, Threads,
};
