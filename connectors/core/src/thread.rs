//! What sits beside a task on every target: its direct subtasks and its comments, in the
//! form the engine will compare across systems.
//!
//! A connector reads its system into [`Subtask`]s and [`Comment`]s and writes
//! [`NewSubtask`]es back; text is Markdown whatever the service keeps (Asana's rich
//! `html_text`, GitHub's Markdown), so that the same comment reads the same on both sides.
//! Only direct subtasks are carried: deeper levels are left alone.

use serde::{Deserialize, Serialize};

/// A direct subtask of a task: one checklist line (`- [x] name`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Subtask {
    /// The subtask's id on its own system (Asana task gid).
    pub remote_id: String,
    /// Its name, the text of the checklist line.
    pub name: String,
    /// Done or not (the box checked or not).
    pub completed: bool,
}

/// A subtask to create: a checklist line without a marker yet.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NewSubtask {
    /// Its name.
    pub name: String,
    /// Done or not.
    pub completed: bool,
}

/// Who wrote a comment.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Author {
    /// The author's id on the comment's system (Asana user gid).
    pub remote_id: String,
    /// Display name (may be empty when the service shows none).
    pub name: String,
    /// E-mail, lower-case, where the service shows it to the bridge's user.
    pub email: Option<String>,
}

/// A comment on a task (Asana comment story, GitHub issue comment).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Comment {
    /// The comment's id on its own system (Asana story gid).
    pub remote_id: String,
    /// Who wrote it.
    pub author: Author,
    /// When it was posted.
    pub created_at: jiff::Timestamp,
    /// Its text, as Markdown (no final line break: it is a block of a file, not a file).
    pub body: String,
    /// Written by the bridge's own user: the only comments the bridge may edit or delete.
    pub own: bool,
    /// Changed after it was posted.
    pub edited: bool,
}
