//! The test-control side of subtasks and comments: seed them as a person would (alice,
//! or any workspace member) and read them back flattened for assertions.

use serde::{Deserialize, Serialize};

use crate::state::NewTask;
use crate::threads::comment_html;

/// A human's comment, as a test seeds it ([`crate::Simulator::add_comment_as`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CommentSeed {
    /// Plain text (escaped, as Asana does with `text`).
    pub text: Option<String>,
    /// Rich text; wins over `text`.
    pub html_text: Option<String>,
}

/// A comment as the simulator holds it, flattened for assertions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimComment {
    /// Story gid.
    pub gid: String,
    /// The task it is on.
    pub task: String,
    /// Author's e-mail.
    pub author: String,
    /// Plain text.
    pub text: String,
    /// Rich text, as the API returns it.
    pub html_text: String,
    /// Edited after it was posted.
    pub edited: bool,
}

impl crate::Simulator {
    /// Creates a subtask of `parent` as alice (in no project). Panics on an unknown parent.
    pub fn add_subtask(&self, parent: &str, name: &str) -> String {
        let mut st = crate::lock(&self.shared.state);
        let alice = st.alice.clone();
        let new = NewTask {
            name: name.to_owned(),
            html_notes: crate::repr::html_notes(""),
            ..NewTask::default()
        };
        st.create_subtask(&alice, parent, new)
            .unwrap_or_else(|e| panic!("asana-sim: add_subtask({parent}): {}", e.message))
    }

    /// Gids of `parent`'s live direct subtasks, in order.
    pub fn subtasks(&self, parent: &str) -> Vec<String> {
        crate::lock(&self.shared.state).subtask_gids(parent)
    }

    /// Posts a comment on `task` as the workspace member `email` (the token's user too).
    /// Panics on an unknown task or user, or rich text Asana would refuse.
    pub fn add_comment_as(&self, email: &str, task: &str, seed: CommentSeed) -> String {
        let mut st = crate::lock(&self.shared.state);
        let author = st
            .user_by_email(email)
            .map(|u| u.gid.clone())
            .unwrap_or_else(|| panic!("asana-sim: add_comment_as: no user {email}"));
        let html = match seed.html_text {
            Some(html) => comment_html(None, Some(html)),
            None => comment_html(Some(seed.text.unwrap_or_default()), None),
        }
        .unwrap_or_else(|e| panic!("asana-sim: add_comment_as({task}): {}", e.message));
        st.add_comment_story(&author, task, html)
            .unwrap_or_else(|e| panic!("asana-sim: add_comment_as({task}): {}", e.message))
    }

    /// Edits comment `story` as its author, as a person would in the UI.
    pub fn edit_comment(&self, story: &str, text: &str) {
        let mut st = crate::lock(&self.shared.state);
        let author = st
            .threads
            .story(story)
            .map(|s| s.created_by.clone())
            .unwrap_or_else(|| panic!("asana-sim: edit_comment: no story {story}"));
        st.edit_comment_story(&author, story, crate::repr::html_notes(text))
            .unwrap_or_else(|e| panic!("asana-sim: edit_comment({story}): {}", e.message));
    }

    /// The live comments of `task`, oldest first (system stories left out).
    pub fn comments(&self, task: &str) -> Vec<SimComment> {
        let st = crate::lock(&self.shared.state);
        st.threads
            .stories_of(task)
            .into_iter()
            .filter(|s| s.comment)
            .map(|s| SimComment {
                gid: s.gid.clone(),
                task: s.task.clone(),
                author: st
                    .user(&s.created_by)
                    .map(|u| u.email.clone())
                    .unwrap_or_default(),
                text: s.text(),
                html_text: s.html_text.clone(),
                edited: s.edited,
            })
            .collect()
    }
}
