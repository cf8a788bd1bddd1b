//! The Asana API's JSON shapes, as plain serde structs: what the connector reads
//! (`{"data": ...}` envelopes, tasks, users, events) and what it writes (`{"data": ...}`
//! bodies of task, tag and section requests).
//!
//! Read structs have `Option` fields and ignore unknown keys: Asana returns only the fields
//! asked for in `opt_fields` (plus `gid`), and may add fields at any time.

use asana_bridge_connector::Due;
use serde::{Deserialize, Serialize};

/// The fields read for every task, all from the `opt_fields` enum of
/// `GET /projects/{project_gid}/tasks`, `GET /tasks/{task_gid}`, `POST /tasks` and
/// `PUT /tasks/{task_gid}` in Asana's OpenAPI description. There is no `assignee.email`:
/// assignees come back as a gid and are resolved through the workspace's users.
/// The description is read as rich text (`html_notes`, converted to Markdown); the plain
/// `notes` only stand in for a rich description the Markdown cannot express exactly.
pub const TASK_FIELDS: &[&str] = &[
    "name",
    "html_notes",
    "notes",
    "completed",
    "due_on",
    "due_at",
    "start_on",
    "assignee",
    "tags.name",
    "memberships.project",
    "memberships.section.name",
    "modified_at",
    "workspace",
    "num_subtasks",
    "parent",
];

/// The fields read to check a description before writing over it (`GET /tasks/{task_gid}`).
pub const DESCRIPTION_FIELDS: &[&str] = &["html_notes", "notes"];

/// Fields read for users (`GET /workspaces/{workspace_gid}/users`, `GET /users/{user_gid}`).
pub const USER_FIELDS: &[&str] = &["email", "name"];

/// Fields read for tags (`GET /workspaces/{workspace_gid}/tags`) and sections
/// (`GET /projects/{project_gid}/sections`).
pub const NAME_FIELDS: &[&str] = &["name"];

/// `opt_fields` query value for a field list.
#[must_use]
pub fn opt_fields(fields: &[&str]) -> String {
    fields.join(",")
}

/// `{"data": T}`: every single-object answer.
#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    pub data: T,
}

/// `{"data": [T], "next_page": ...}`: one page of a list.
#[derive(Debug, Deserialize)]
pub struct ListEnvelope<T> {
    pub data: Vec<T>,
    /// `null` (or absent) on the last page.
    #[serde(default)]
    pub next_page: Option<NextPage>,
}

/// Where the next page of a list starts.
#[derive(Debug, Deserialize)]
pub struct NextPage {
    /// Opaque offset token for the `offset` query parameter.
    pub offset: String,
}

/// Any resource reference: `{"gid": ...}` (plus fields nobody asked for).
#[derive(Clone, Debug, Deserialize)]
pub struct Ref {
    pub gid: String,
}

/// A reference with a name (`tags.name`, `memberships.section.name`, a tag, a section).
#[derive(Clone, Debug, Deserialize)]
pub struct NamedRef {
    pub gid: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// A task with the [`TASK_FIELDS`].
#[derive(Clone, Debug, Deserialize)]
pub struct Task {
    pub gid: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Plain text Asana derives from `html_notes`.
    #[serde(default)]
    pub notes: Option<String>,
    /// The description as rich text (`<body>...</body>`).
    #[serde(default)]
    pub html_notes: Option<String>,
    #[serde(default)]
    pub completed: Option<bool>,
    #[serde(default)]
    pub due_on: Option<String>,
    /// Set when the task is due at a time (then `due_on` is that time's date).
    #[serde(default)]
    pub due_at: Option<String>,
    #[serde(default)]
    pub start_on: Option<String>,
    #[serde(default)]
    pub assignee: Option<Ref>,
    #[serde(default)]
    pub tags: Option<Vec<NamedRef>>,
    #[serde(default)]
    pub memberships: Option<Vec<Membership>>,
    #[serde(default)]
    pub modified_at: Option<String>,
    /// The task's workspace (saves looking it up through the project).
    #[serde(default)]
    pub workspace: Option<Ref>,
    /// The task's custom fields (see [`crate::custom_fields::TASK_FIELDS`]).
    #[serde(default)]
    pub custom_fields: Option<Vec<crate::custom_fields::TaskField>>,
    /// How many direct subtasks it has (its subtasks are read only when not zero).
    #[serde(default)]
    pub num_subtasks: Option<u32>,
    /// The task it is a subtask of: such a task is mirrored as its parent's checklist
    /// line, never as an item of its own.
    #[serde(default)]
    pub parent: Option<Ref>,
}

/// One of a task's project memberships.
#[derive(Clone, Debug, Deserialize)]
pub struct Membership {
    #[serde(default)]
    pub project: Option<Ref>,
    #[serde(default)]
    pub section: Option<NamedRef>,
}

/// A user with the [`USER_FIELDS`].
#[derive(Clone, Debug, Deserialize)]
pub struct User {
    pub gid: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// A project with only its workspace (`opt_fields=workspace`).
#[derive(Debug, Deserialize)]
pub struct ProjectWorkspace {
    pub workspace: Ref,
}

/// `GET /events` answer (200).
#[derive(Debug, Deserialize)]
pub struct EventsPage {
    #[serde(default)]
    pub data: Vec<Event>,
    /// The token to ask from next time.
    pub sync: String,
    /// More events wait: ask again at once with `sync`.
    #[serde(default)]
    pub has_more: bool,
}

/// `GET /events` answer when the token is missing or too old (412): a fresh token.
#[derive(Debug, Deserialize)]
pub struct SyncReset {
    pub sync: String,
}

/// One event. Every field may be missing or `null` (system events have no user, `parent`
/// is set only for `added`/`removed`).
#[derive(Clone, Debug, Deserialize)]
pub struct Event {
    #[serde(default)]
    pub resource: Option<Resource>,
    #[serde(default)]
    pub parent: Option<Resource>,
    #[serde(default)]
    pub action: Option<String>,
    /// Deprecated by Asana in favour of `resource.resource_type`; a fallback only.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Who made the change (`null` for system events).
    #[serde(default)]
    pub user: Option<Resource>,
    /// When the change was made.
    #[serde(default)]
    pub created_at: Option<String>,
}

/// The resource an event is about, or its parent.
#[derive(Clone, Debug, Deserialize)]
pub struct Resource {
    pub gid: String,
    #[serde(default)]
    pub resource_type: Option<String>,
    /// A story's kind: `comment_added` for a comment, `name_changed`, ... for the system
    /// stories Asana writes for every edit.
    #[serde(default)]
    pub resource_subtype: Option<String>,
}

/// `{"data": T}`: every request body.
#[derive(Debug, Serialize)]
pub struct Body<T> {
    pub data: T,
}

/// The writable task fields the bridge uses (`POST /tasks`, `PUT /tasks/{gid}`). Only
/// `Some` fields are sent; `Some(None)` sends `null` (clears the value).
#[derive(Debug, Default, Serialize)]
pub struct TaskWrite {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The description, always as rich text checked by [`html_notes`] (plain `notes`
    /// would flatten a rich description for everyone, so they are never sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html_notes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed: Option<bool>,
    /// A day; never sent with `due_at` (Asana refuses both).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_on: Option<Option<String>>,
    /// A moment (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_at: Option<Option<String>>,
    /// Asana refuses a start date unless the same request names the due date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_on: Option<Option<String>>,
    /// A user gid or an e-mail address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee: Option<Option<String>>,
    /// Create-only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projects: Option<Vec<String>>,
    /// Create-only: puts the new task straight into a section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memberships: Option<Vec<MembershipWrite>>,
    /// Create-only: tag gids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Custom field gid -> value (see [`crate::custom_fields`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<std::collections::BTreeMap<String, serde_json::Value>>,
}

impl TaskWrite {
    /// Whether nothing would be sent.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.html_notes.is_none()
            && self.completed.is_none()
            && self.due_on.is_none()
            && self.due_at.is_none()
            && self.start_on.is_none()
            && self.assignee.is_none()
            && self.projects.is_none()
            && self.memberships.is_none()
            && self.tags.is_none()
            && self.custom_fields.is_none()
    }
}

/// `{project, section}` in a create's `memberships`.
#[derive(Debug, Serialize)]
pub struct MembershipWrite {
    pub project: String,
    pub section: String,
}

/// `{name}`: creating a tag or a section.
#[derive(Debug, Serialize)]
pub struct NameWrite {
    pub name: String,
}

/// `{tag}`: `addTag` / `removeTag`.
#[derive(Debug, Serialize)]
pub struct TagWrite {
    pub tag: String,
}

/// `{task}`: `POST /sections/{section_gid}/addTask`.
#[derive(Debug, Serialize)]
pub struct SectionTaskWrite {
    pub task: String,
}

/// The `html_notes` to send for a Markdown description: converted, then checked as Asana
/// checks it, so that the bridge never sends a document Asana answers with a `400`.
///
/// # Errors
/// A message for the task's error line when the Markdown cannot be converted (nested
/// deeper than Asana's rich text allows) or the result would not be valid.
pub fn html_notes(markdown: &str) -> Result<String, String> {
    let html = asana_bridge_richtext::to_html_notes(markdown)
        .map_err(|e| format!("the description cannot be sent as Asana rich text: {e}"))?;
    asana_bridge_richtext::validate_html_notes(&html)
        .map_err(|e| format!("the description would be invalid Asana rich text: {e}"))?;
    Ok(html)
}

/// Serialises a request body; plain structs of strings cannot fail to serialise, but the
/// error is still turned into a typed one rather than unwrapped.
pub fn body<T: Serialize>(data: T) -> Result<serde_json::Value, serde_json::Error> {
    serde_json::to_value(Body { data })
}

impl TaskWrite {
    /// Sets the due date or time and the start date as Asana takes them: a day as
    /// `due_on`, a moment as `due_at` (never both), clearing with `due_on: null`; a start
    /// date set or cleared with the due date Asana wants in the same request (`due_after`:
    /// the due date as the task will have it).
    ///
    /// # Errors
    /// A message for the task's error line when a start date has no due date to go with.
    pub fn set_dates(
        &mut self,
        due: Option<Option<&Due>>,
        start_on: Option<Option<&str>>,
        due_after: Option<&Due>,
    ) -> Result<(), String> {
        match due {
            Some(Some(Due::On(day))) => self.due_on = Some(Some(day.clone())),
            Some(Some(Due::At(at))) => self.due_at = Some(Some(at.clone())),
            Some(None) => self.due_on = Some(None),
            None => {}
        }
        let Some(start_on) = start_on else {
            return Ok(());
        };
        match (start_on, due_after) {
            (Some(start), None) => {
                return Err(format!(
                    "start_on {start} needs a due date (due_on or due_at), as Asana requires"
                ));
            }
            (Some(start), Some(due)) if start > due.day_of() => {
                return Err(format!(
                    "start_on {start} is after the due date {}, which Asana refuses",
                    due.day_of()
                ));
            }
            _ => {}
        }
        // Setting or clearing a start date: Asana wants the due date in the same request.
        if self.due_on.is_none() && self.due_at.is_none() {
            match due_after {
                Some(Due::On(day)) => self.due_on = Some(Some(day.clone())),
                Some(Due::At(at)) => self.due_at = Some(Some(at.clone())),
                None => self.due_on = Some(None),
            }
        }
        self.start_on = Some(start_on.map(str::to_owned));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(write: &TaskWrite) -> serde_json::Value {
        serde_json::to_value(write).expect("serialises")
    }

    /// A day goes as `due_on`, a time as `due_at`, never both; a start date (set or
    /// cleared) takes the due date along, as Asana requires; a start date Asana would
    /// refuse is an error before anything is sent.
    #[test]
    fn dates_go_as_asana_takes_them() {
        let day = Due::On("2026-12-01".into());
        let time = Due::At("2026-12-01T15:00:00Z".into());

        let mut w = TaskWrite::default();
        w.set_dates(Some(Some(&time)), None, Some(&time)).unwrap();
        assert_eq!(
            sent(&w),
            serde_json::json!({"due_at": "2026-12-01T15:00:00Z"})
        );

        let mut w = TaskWrite::default();
        w.set_dates(None, Some(Some("2026-11-28")), Some(&day))
            .unwrap();
        assert_eq!(
            sent(&w),
            serde_json::json!({"due_on": "2026-12-01", "start_on": "2026-11-28"})
        );

        let mut w = TaskWrite::default();
        w.set_dates(Some(None), Some(None), None).unwrap();
        assert_eq!(
            sent(&w),
            serde_json::json!({"due_on": null, "start_on": null})
        );

        let mut w = TaskWrite::default();
        w.set_dates(None, Some(None), Some(&time)).unwrap();
        assert_eq!(
            sent(&w),
            serde_json::json!({"due_at": "2026-12-01T15:00:00Z", "start_on": null})
        );

        let mut w = TaskWrite::default();
        let e = w
            .set_dates(None, Some(Some("2026-11-28")), None)
            .unwrap_err();
        assert!(e.contains("needs a due date"), "{e}");
        let e = w
            .set_dates(None, Some(Some("2026-12-05")), Some(&time))
            .unwrap_err();
        assert!(e.contains("after the due date 2026-12-01"), "{e}");
    }
}
