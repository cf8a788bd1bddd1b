//! What the state keeps of one task's thread between runs ([`ThreadRecord`], one per
//! paired task in the link's `threads` table): the subtasks and comments as last agreed
//! by both sides (the base of the three-way merge), and the creates sent but not yet
//! recorded (so that a run killed between a create and its record adopts what it created
//! instead of creating it again).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A subtask as last agreed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubtaskBase {
    pub name: String,
    pub completed: bool,
}

/// A comment as last agreed: a digest of its Markdown text on both sides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentBase {
    /// [`text_digest`] of the text both sides showed.
    pub text: String,
    /// The target's own id of the comment it is paired with, where the target has them
    /// (a GitHub comment id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// A create the bridge is about to send or has sent, not yet recorded as agreed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Pending {
    /// A subtask of this name, done or not (not kept by releases before 2026-12-08).
    Subtask {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        completed: Option<bool>,
    },
    /// A comment with this text ([`text_digest`]).
    Comment { text: String },
}

/// One task's thread as the state keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadRecord {
    /// Subtasks as last agreed, by Asana gid.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub subtasks: BTreeMap<String, SubtaskBase>,
    /// Comments as last agreed, by Asana story gid.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub comments: BTreeMap<String, CommentBase>,
    /// Creates sent (or about to be) and not yet recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<Pending>,
    /// Subtasks let go (their line removed under `on_delete = "complete"` or
    /// `"ignore"`): never written back as lines.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub let_go: std::collections::BTreeSet<String>,
    /// A digest of the target's lines and blocks as last settled: a target item that
    /// changed elsewhere (a field, its description) needs no look at Asana's side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// A short digest of a comment's text, as compared between runs (the text itself is not
/// kept in the state).
#[must_use]
pub fn text_digest(text: &str) -> String {
    let digest = Sha256::digest(text.trim_end().as_bytes());
    hex::encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_and_an_empty_one_is_small() {
        let mut record = ThreadRecord::default();
        assert_eq!(serde_json::to_string(&record).unwrap(), "{}");
        record.subtasks.insert(
            "12".into(),
            SubtaskBase {
                name: "Check".into(),
                completed: true,
            },
        );
        record.pending.push(Pending::Comment {
            text: text_digest("Hi"),
        });
        let bytes = serde_json::to_vec(&record).unwrap();
        let back: ThreadRecord = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, record);
        assert_eq!(text_digest("Hi\n"), text_digest("Hi"));
        assert_ne!(text_digest("Hi"), text_digest("Ho"));
    }
}
