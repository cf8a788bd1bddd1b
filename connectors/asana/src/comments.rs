//! A task's comments (Asana's comment stories): list them (`GET /tasks/{gid}/stories`,
//! every page, system stories left out), post one (`POST /tasks/{gid}/stories`), edit
//! one (`PUT /stories/{gid}`) and delete one (`DELETE /stories/{gid}`).
//!
//! Text travels as rich text both ways: a comment's `html_text` is read as Markdown
//! through `asana-bridge-richtext` (its plain `text` stands in when the rich text holds
//! something the Markdown cannot carry), and Markdown is written as `html_text`, checked
//! before it is sent. Asana lets only a comment's author edit or delete it: the bridge
//! marks its own user's comments ([`Comment::own`]) and refuses to send a change to anyone
//! else's; Asana's `403` is the backstop.

use asana_bridge_connector::http::{Idempotency, Request};
use asana_bridge_connector::{Author, Comment, ConnectorError};
use serde::{Deserialize, Serialize};
use tracing::{debug, warn};

use crate::client::{AsanaClient, request_body};
use crate::subtasks::gid;
use crate::wire;

/// The fields read for a story, all in the `opt_fields` enum of
/// `GET /tasks/{task_gid}/stories`, `POST /tasks/{task_gid}/stories` and
/// `PUT /stories/{story_gid}`. There is no `created_by.email`: authors' e-mails come from
/// the workspace's users.
pub const STORY_FIELDS: &[&str] = &[
    "type",
    "resource_subtype",
    "text",
    "html_text",
    "created_by.name",
    "created_at",
    "is_edited",
];

/// A story as Asana answers it with [`STORY_FIELDS`].
#[derive(Debug, Deserialize)]
struct WireStory {
    gid: String,
    /// `comment` or `system`.
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    resource_subtype: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    html_text: Option<String>,
    #[serde(default)]
    created_by: Option<WireAuthor>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    is_edited: Option<bool>,
}

impl WireStory {
    fn is_comment(&self) -> bool {
        self.kind.as_deref() == Some("comment")
            || self.resource_subtype.as_deref() == Some("comment_added")
    }
}

/// `created_by` with its name.
#[derive(Debug, Deserialize)]
struct WireAuthor {
    gid: String,
    #[serde(default)]
    name: Option<String>,
}

/// The body of a comment write.
#[derive(Debug, Serialize)]
struct CommentWrite {
    html_text: String,
}

/// Markdown as a comment's `html_text`, checked as Asana checks it.
///
/// # Errors
/// `InvalidData` for text Asana would refuse in a comment: a document nested too deep,
/// or a heading or rule (Asana keeps those for task descriptions).
pub fn html_text(markdown: &str) -> Result<String, ConnectorError> {
    let html = asana_bridge_richtext::to_html_notes(markdown).map_err(|e| {
        ConnectorError::InvalidData(format!("comment cannot be written as rich text: {e}"))
    })?;
    // The converter's output is valid XML, where a literal `<` is always markup.
    if ["<h1>", "<h2>", "<hr/>"]
        .iter()
        .any(|tag| html.contains(tag))
    {
        return Err(ConnectorError::InvalidData(
            "Asana comments have no headings or rules (`#`, `---`): write them as bold text"
                .to_owned(),
        ));
    }
    asana_bridge_richtext::validate_html_notes(&html).map_err(|e| {
        ConnectorError::InvalidData(format!("comment cannot be written as rich text: {e}"))
    })?;
    Ok(html)
}

/// A comment's text as Markdown: its rich text converted, or its plain text where the
/// rich text holds what Markdown cannot; without the final line break a Markdown
/// document ends with (a comment is a block of a file, not a file).
fn markdown_of(story: &WireStory) -> String {
    if let Some(html) = &story.html_text {
        match asana_bridge_richtext::to_markdown(html) {
            Ok(md) => return md.trim_end_matches('\n').to_owned(),
            Err(e) => {
                warn!(story = %story.gid, error = %e, "comment's rich text read as plain text");
            }
        }
    }
    story.text.clone().unwrap_or_default()
}

async fn into_comment(
    client: &AsanaClient,
    workspace: &str,
    me: &str,
    story: WireStory,
) -> Result<Comment, ConnectorError> {
    let created_at = story
        .created_at
        .as_deref()
        .ok_or_else(|| decode(&story.gid, "created_at is missing"))?
        .parse::<jiff::Timestamp>()
        .map_err(|e| decode(&story.gid, &format!("created_at: {e}")))?;
    let body = markdown_of(&story);
    let author = story
        .created_by
        .ok_or_else(|| decode(&story.gid, "created_by is missing"))?;
    let email = client
        .emails_of(workspace, &[author.gid.as_str()])
        .await?
        .remove(&author.gid);
    Ok(Comment {
        own: author.gid == me,
        author: Author {
            remote_id: author.gid,
            name: author.name.unwrap_or_default(),
            email,
        },
        remote_id: story.gid,
        created_at,
        body,
        edited: story.is_edited.unwrap_or(false),
    })
}

fn decode(story: &str, what: &str) -> ConnectorError {
    ConnectorError::Decode {
        service: "Asana",
        message: format!("story {story}: {what}"),
    }
}

/// The comments on `task`, oldest first, every page read; system stories are left out.
/// `workspace` is the task's (authors' e-mails come from its users).
///
/// # Errors
/// `NotFound` when the task is gone, or any transport error.
pub async fn list(
    client: &AsanaClient,
    workspace: &str,
    task: &str,
) -> Result<Vec<Comment>, ConnectorError> {
    gid("task", task)?;
    let me = client.me().await?.gid;
    let stories: Vec<WireStory> = client
        .get_all(
            &format!("/tasks/{task}/stories"),
            &[("opt_fields", wire::opt_fields(STORY_FIELDS))],
            true,
        )
        .await?;
    let mut out = Vec::new();
    for story in stories.into_iter().filter(WireStory::is_comment) {
        out.push(into_comment(client, workspace, &me, story).await?);
    }
    Ok(out)
}

/// Posts a comment on `task` as the bridge's user; `markdown` is sent as rich text.
/// Sent once: a lost answer is `Ambiguous`, never a second comment.
///
/// # Errors
/// `InvalidData` for text Asana would refuse (nothing is sent), `NotFound` when the task
/// is gone, `Ambiguous` when the answer was lost, or any transport error.
pub async fn post(
    client: &AsanaClient,
    workspace: &str,
    task: &str,
    markdown: &str,
) -> Result<Comment, ConnectorError> {
    gid("task", task)?;
    let write = CommentWrite {
        html_text: html_text(markdown)?,
    };
    let me = client.me().await?.gid;
    let request = Request::post(format!("/tasks/{task}/stories"), request_body(write)?)
        .query("opt_fields", wire::opt_fields(STORY_FIELDS))
        .idempotency(Idempotency::CreateOnce);
    let story: WireStory = client.data(request).await?;
    debug!(task, story = %story.gid, "posted comment");
    into_comment(client, workspace, &me, story).await
}

/// Replaces the text of `comment`, which the bridge's user must have written (checked
/// before anything is sent); returns it as Asana now has it.
///
/// # Errors
/// `Forbidden` for someone else's comment (nothing sent; Asana's own `403` if it
/// disagrees), `InvalidData` for text Asana would refuse, `NotFound` when it is gone, or
/// any transport error.
pub async fn edit(
    client: &AsanaClient,
    workspace: &str,
    comment: &Comment,
    markdown: &str,
) -> Result<Comment, ConnectorError> {
    comment.check_own()?;
    let story = &comment.remote_id;
    gid("story", story)?;
    let write = CommentWrite {
        html_text: html_text(markdown)?,
    };
    let me = client.me().await?.gid;
    let request = Request::put(format!("/stories/{story}"), request_body(write)?)
        .query("opt_fields", wire::opt_fields(STORY_FIELDS));
    let story: WireStory = client.data(request).await?;
    into_comment(client, workspace, &me, story).await
}

/// Deletes `comment`, which the bridge's user must have written. One already gone is not
/// an error.
///
/// # Errors
/// `Forbidden` for someone else's comment (nothing sent), or any transport error but
/// `NotFound`.
pub async fn delete(client: &AsanaClient, comment: &Comment) -> Result<(), ConnectorError> {
    comment.check_own()?;
    let story = &comment.remote_id;
    gid("story", story)?;
    match client
        .http()
        .send(Request::delete(format!("/stories/{story}")))
        .await
    {
        Ok(_) | Err(ConnectorError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A story with only its target (`opt_fields=target`).
#[derive(Debug, Deserialize)]
struct StoryTarget {
    #[serde(default)]
    target: Option<wire::Ref>,
}

/// The task comment `story` is on (`GET /stories/{gid}?opt_fields=target`), `None` when
/// the story is gone: Asana's feed names the task of a new or deleted comment (its
/// `parent`) but only the story of an edited one.
///
/// # Errors
/// Any transport error but `NotFound`.
pub async fn task_of(client: &AsanaClient, story: &str) -> Result<Option<String>, ConnectorError> {
    gid("story", story)?;
    let request = Request::get(format!("/stories/{story}")).query("opt_fields", "target");
    match client.data::<StoryTarget>(request).await {
        Ok(found) => Ok(found.target.map(|t| t.gid)),
        Err(ConnectorError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Markdown becomes Asana's comment rich text; headings and rules, which Asana keeps
    /// for descriptions, are refused before anything is sent.
    #[test]
    fn comment_text_is_checked_before_sending() {
        assert_eq!(
            html_text("**bold** and `code`").ok().as_deref(),
            Some("<body><strong>bold</strong> and <code>code</code></body>")
        );
        assert!(matches!(
            html_text("# Title"),
            Err(ConnectorError::InvalidData(_))
        ));
        assert!(matches!(
            html_text("a\n\n---\n\nb"),
            Err(ConnectorError::InvalidData(_))
        ));
    }

    /// Only comment stories are comments, whatever else the feed holds.
    #[test]
    fn system_stories_are_not_comments() {
        let story = |kind: &str, subtype: &str| WireStory {
            gid: "1".into(),
            kind: Some(kind.into()),
            resource_subtype: Some(subtype.into()),
            text: None,
            html_text: None,
            created_by: None,
            created_at: None,
            is_edited: None,
        };
        assert!(story("comment", "comment_added").is_comment());
        assert!(!story("system", "name_changed").is_comment());
    }
}
