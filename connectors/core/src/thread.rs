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

impl Comment {
    /// Refuses to change this comment unless the bridge's own user wrote it (the
    /// contract: others' comments are read-only), before anything is sent.
    ///
    /// # Errors
    /// `Forbidden` naming the comment and its author.
    pub fn check_own(&self) -> Result<(), crate::ConnectorError> {
        if self.own {
            return Ok(());
        }
        Err(crate::ConnectorError::Forbidden(format!(
            "comment {} was written by {}: only its author may change it",
            self.remote_id,
            if self.author.name.is_empty() {
                "someone else"
            } else {
                &self.author.name
            }
        )))
    }
}

/// A subtask as a target keeps it in its own text: one checklist line of a `## Subtasks`
/// section (`- [x] name <!-- asana:1200... -->`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SubtaskLine {
    /// The Asana subtask the line mirrors, as its marker says (not checked: a typed or
    /// copied marker may name anything); `None` for a line typed without one (a new
    /// subtask).
    pub asana_gid: Option<String>,
    /// The line's text.
    pub name: String,
    /// The box checked or not.
    pub completed: bool,
}

/// A comment as a target shows it: one `###` block of a Markdown file's `## Comments`
/// section, or one comment of a service's own conversation (a GitHub issue comment).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CommentBlock {
    /// The Asana comment story the block mirrors, as its marker says (not checked);
    /// `None` for a block typed without one, or a comment someone wrote on the target's
    /// service (a new comment, or one the bridge already mirrored to Asana).
    pub asana_gid: Option<String>,
    /// The target's own id of the comment where it has one (a GitHub comment id); `None`
    /// for a block of a file, and for a comment to post.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// For a block of a file, the heading's text without `### ` and the marker (`Alice
    /// Example · 2026-11-30 14:02`); for a service's comment, who wrote it there
    /// (`@octocat on GitHub`). Written with the text where the comment is mirrored.
    pub heading: String,
    /// The comment's text, Markdown, without a final line break (and without the
    /// bridge's attribution and marker).
    pub body: String,
}

/// What a target keeps beside a task in the task's own text (a Markdown file's
/// `## Subtasks` and `## Comments` sections), in the target's order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetThread {
    /// The checklist lines, in the file's order.
    pub subtasks: Vec<SubtaskLine>,
    /// The comment blocks, in the file's order.
    pub comments: Vec<CommentBlock>,
}

/// The subtasks and comments of a service that keeps them as entities of their own
/// (Asana): what the engine reads and writes beside a task. Offered by
/// [`Connector::threads`](crate::Connector::threads).
#[async_trait::async_trait]
pub trait Threads: Send + Sync {
    /// The tasks whose subtasks or comments the service's change feed, last read, says
    /// changed (a comment posted or edited, a subtask added or removed); `None` when it
    /// could not say (no feed read: every changed task may have).
    fn touched(&self) -> Option<Vec<String>> {
        None
    }

    /// How many direct subtasks `task` had when the service last listed it in this
    /// process, if it says (Asana's `num_subtasks`): a full listing tells a subtask added
    /// or removed this way, which changes nothing else of its parent.
    fn subtask_count(&self, _task: &str) -> Option<u32> {
        None
    }

    /// The direct subtasks of `task`, in the service's order.
    async fn subtasks(&self, task: &str) -> Result<Vec<Subtask>, crate::ConnectorError>;

    /// Creates a subtask of `task`; sent once (a lost answer is `Ambiguous`).
    async fn create_subtask(
        &self,
        task: &str,
        new: &NewSubtask,
    ) -> Result<Subtask, crate::ConnectorError>;

    /// Renames and/or completes (or reopens) the subtask `id`; `None` leaves that part.
    async fn update_subtask(
        &self,
        id: &str,
        name: Option<&str>,
        completed: Option<bool>,
    ) -> Result<Subtask, crate::ConnectorError>;

    /// Deletes the subtask `id` (to the service's trash).
    async fn delete_subtask(&self, id: &str) -> Result<(), crate::ConnectorError>;

    /// The comments on `task`, oldest first.
    async fn comments(&self, task: &str) -> Result<Vec<Comment>, crate::ConnectorError>;

    /// Posts a comment (Markdown) on `task` as the bridge's user; sent once.
    async fn post_comment(&self, task: &str, body: &str) -> Result<Comment, crate::ConnectorError>;

    /// Replaces the text of `comment`, one of the bridge's own user's.
    async fn edit_comment(
        &self,
        comment: &Comment,
        body: &str,
    ) -> Result<Comment, crate::ConnectorError>;
}
