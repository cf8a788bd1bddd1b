//! What an issue keeps beside its task: the body's `## Subtasks` task list (the same
//! lines as a Markdown file's, between the description and the link line) and the
//! issue's own comments.
//!
//! - The body: [`parts`] reads it into the notes, the subtask lines and the link line's
//!   gid; [`GithubConnector::body_with`] writes notes and lines back with the link line
//!   at the end. A body whose end reads as the bridge's `## Comments` section (the bridge
//!   never writes one in an issue) is all description: nothing of it is taken away.
//! - The comments: a comment the bridge posted for an Asana comment ends with one small
//!   line naming its author there and the comment's marker (`<sub>Alice Example ·
//!   2026-11-30 14:02, in Asana</sub> <!-- asana:1200… -->`), read back as that comment's
//!   block; any other comment (or one someone else copied that line into) is the
//!   author's own (`@octocat on GitHub`), which the bridge never edits.

use asana_bridge_connector::sections::{self, Sections};
use asana_bridge_connector::{
    Comment, CommentBlock, ConnectorError, Item, SubtaskLine, TargetThread,
};

use std::collections::HashMap;

use crate::connector::{GithubConnector, number};
use crate::{comments, footer};

/// An issue body read: the task's notes, the `## Subtasks` lines (`None`: no section), and
/// the gid of the link line.
#[must_use]
pub fn parts(body: &str) -> (String, Option<Vec<SubtaskLine>>, Option<String>) {
    let (rest, partner) = footer::split(body);
    if sections::sections_offset(&rest).is_none() {
        return (rest, None, partner);
    }
    let Sections {
        description,
        subtasks,
        comments,
    } = sections::split(&rest);
    if comments.as_ref().is_some_and(|c| !c.is_empty()) {
        // The body's own text, not the bridge's.
        return (rest, None, partner);
    }
    (description, subtasks, partner)
}

/// The notes and subtask lines as the body text before the link line.
#[must_use]
pub fn text(notes: &str, subtasks: Option<&[SubtaskLine]>) -> String {
    match subtasks {
        None => notes.to_owned(),
        Some(lines) => sections::join(notes, Some(lines), None)
            .trim_end_matches('\n')
            .to_owned(),
    }
}

const MIRROR_OPEN: &str = "<sub>";
const MIRROR_CLOSE: &str = ", in Asana</sub> <!-- asana:";

/// The body of the comment the bridge posts for Asana's comment `block`.
fn mirror_body(block: &CommentBlock, gid: &str) -> String {
    let heading = sections::line_text(&block.heading).replace("</sub>", "");
    format!(
        "{}\n\n{MIRROR_OPEN}{heading}{MIRROR_CLOSE}{gid} -->",
        block.body.trim_end()
    )
}

/// A comment as a block: the bridge's own mirror of an Asana comment (its marker and
/// heading read from its last line), or someone's comment on GitHub.
fn block_of(comment: &Comment) -> CommentBlock {
    if comment.own
        && let Some((text, heading, gid)) = read_mirror(&comment.body)
    {
        return CommentBlock {
            asana_gid: Some(gid.to_owned()),
            id: Some(comment.remote_id.clone()),
            heading: heading.to_owned(),
            body: text.to_owned(),
        };
    }
    CommentBlock {
        asana_gid: None,
        id: Some(comment.remote_id.clone()),
        heading: format!("@{} on GitHub", comment.author.name),
        body: comment.body.replace("\r\n", "\n").trim_end().to_owned(),
    }
}

/// The text, heading and gid of a mirror's body.
fn read_mirror(body: &str) -> Option<(&str, &str, &str)> {
    let body = body.trim_end();
    let (text, last) = match body.rfind('\n') {
        Some(i) => (body[..i].trim_end(), &body[i + 1..]),
        None => ("", body),
    };
    let rest = last.strip_prefix(MIRROR_OPEN)?;
    let at = rest.rfind(MIRROR_CLOSE)?;
    let (heading, tail) = (&rest[..at], &rest[at + MIRROR_CLOSE.len()..]);
    let gid = tail.strip_suffix(" -->")?;
    (!gid.is_empty() && gid.bytes().all(|b| b.is_ascii_digit())).then_some((text, heading, gid))
}

impl GithubConnector {
    /// The issue's subtask lines and comments, read now.
    pub(crate) async fn thread_of(&self, id: &str) -> Result<TargetThread, ConnectorError> {
        let n = number(id)?;
        let subtasks = match self.subtask_lines(n) {
            Some(lines) => lines,
            None => {
                let issue = self.issue(n).await?;
                self.remember_body(&issue);
                self.subtask_lines(n).unwrap_or_default()
            }
        };
        let comments = if self.comment_count(n) == Some(0) {
            Vec::new() // read with no comments: nothing to ask for
        } else {
            comments::list(self, n)
                .await?
                .iter()
                .map(block_of)
                .collect()
        };
        Ok(TargetThread {
            subtasks: subtasks.unwrap_or_default(),
            comments,
        })
    }

    /// Writes `thread`: the body's task list when it differs, a new comment for each
    /// Asana comment the issue lacks, an edit of the bridge's own mirror whose text is no
    /// longer Asana's. Someone's own comments are never touched. Returns the issue now.
    pub(crate) async fn write_thread_of(
        &self,
        item: &Item,
        thread: &TargetThread,
    ) -> Result<Item, ConnectorError> {
        let n = number(&item.id)?;
        let lines = match self.subtask_lines(n) {
            Some(lines) => lines,
            None => {
                let issue = self.issue(n).await?;
                self.remember_body(&issue);
                self.subtask_lines(n).unwrap_or_default()
            }
        };
        let had_section = lines.is_some();
        if thread.subtasks != lines.unwrap_or_default()
            && (had_section || !thread.subtasks.is_empty())
        {
            let body = self
                .body(
                    &item.fields.notes,
                    item.partner.as_deref(),
                    Some(&thread.subtasks),
                )
                .map_err(ConnectorError::InvalidData)?;
            let mut write = serde_json::Map::new();
            write.insert("body".into(), serde_json::json!(body));
            let issue = self.patch(n, write).await?;
            self.remember_body(&issue);
        }
        let existing: HashMap<String, Comment> = if thread.comments.iter().any(|b| b.id.is_some()) {
            comments::list(self, n)
                .await?
                .into_iter()
                .map(|c| (c.remote_id.clone(), c))
                .collect()
        } else {
            HashMap::new() // only posts: nothing to compare with
        };
        for block in &thread.comments {
            let Some(gid) = block.asana_gid.as_deref() else {
                continue; // someone's own comment: never written
            };
            match block.id.as_deref() {
                None => {
                    comments::post(self, n, &mirror_body(block, gid)).await?;
                }
                Some(id) => {
                    if let Some(comment) = existing.get(id) {
                        let shown = block_of(comment);
                        if comment.own
                            && (shown.body != block.body || shown.heading != block.heading)
                        {
                            comments::edit(self, comment, &mirror_body(block, gid)).await?;
                        }
                    }
                }
            }
        }
        let issue = self.issue(n).await?;
        self.item(&issue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(gid: Option<&str>, name: &str, done: bool) -> SubtaskLine {
        SubtaskLine {
            asana_gid: gid.map(Into::into),
            name: name.into(),
            completed: done,
        }
    }

    #[test]
    fn a_body_reads_back_its_notes_lines_and_link_line() {
        let lines = vec![
            line(Some("12"), "Reproduce", true),
            line(None, "New", false),
        ];
        let url = "https://app.asana.com/0/0/";
        let body = footer::render(&text("Some *notes*.", Some(&lines)), Some("99"), url);
        assert_eq!(
            parts(&body),
            (
                "Some *notes*.".to_owned(),
                Some(lines.clone()),
                Some("99".to_owned())
            )
        );
        // No section: the body as today.
        let plain = footer::render("Just notes.\n\n## Subtasks is a word", Some("99"), url);
        assert_eq!(parts(&plain).0, "Just notes.\n\n## Subtasks is a word");
        assert_eq!(parts(&plain).1, None);
        // A body's own "## Comments" section is description, never taken away.
        let own = "Intro\n\n## Subtasks\n- [ ] a\n\n## Comments\n### Someone\nHi";
        assert_eq!(parts(own), (own.to_owned(), None, None));
    }

    #[test]
    fn a_mirror_reads_back_as_its_block_and_others_are_their_authors() {
        let block = CommentBlock {
            asana_gid: Some("77".into()),
            id: None,
            heading: "Alice Example · 2026-11-30 14:02".into(),
            body: "Seen on **Safari** too.".into(),
        };
        let body = mirror_body(&block, "77");
        let comment = |own: bool| Comment {
            remote_id: "555".into(),
            author: asana_bridge_connector::Author {
                remote_id: "1".into(),
                name: "bridge-bot".into(),
                email: None,
            },
            created_at: "2026-11-30T14:02:00Z".parse().unwrap(),
            body: body.clone(),
            own,
            edited: false,
        };
        assert_eq!(
            block_of(&comment(true)),
            CommentBlock {
                id: Some("555".into()),
                ..block.clone()
            }
        );
        // The same line in someone else's comment (a copy) is their text.
        let theirs = block_of(&comment(false));
        assert_eq!(theirs.asana_gid, None);
        assert_eq!(theirs.heading, "@bridge-bot on GitHub");
        assert_eq!(theirs.body, body);
    }
}
