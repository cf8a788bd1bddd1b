//! The Asana API's JSON shapes, as plain serde structs: what the connector reads
//! (`{"data": ...}` envelopes, tasks, users, events) and what it writes (`{"data": ...}`
//! bodies of task, tag and section requests).
//!
//! Read structs have `Option` fields and ignore unknown keys: Asana returns only the fields
//! asked for in `opt_fields` (plus `gid`), and may add fields at any time.

use serde::{Deserialize, Serialize};

/// The fields read for every task, all from the `opt_fields` enum of
/// `GET /projects/{project_gid}/tasks`, `GET /tasks/{task_gid}`, `POST /tasks` and
/// `PUT /tasks/{task_gid}` in Asana's OpenAPI description. There is no `assignee.email`:
/// assignees come back as a gid and are resolved through the workspace's users.
pub const TASK_FIELDS: &[&str] = &[
    "name",
    "notes",
    "completed",
    "due_on",
    "assignee",
    "tags.name",
    "memberships.project",
    "memberships.section.name",
    "modified_at",
    "workspace",
];

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
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub completed: Option<bool>,
    #[serde(default)]
    pub due_on: Option<String>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_on: Option<Option<String>>,
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
}

impl TaskWrite {
    /// Whether nothing would be sent.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.notes.is_none()
            && self.completed.is_none()
            && self.due_on.is_none()
            && self.assignee.is_none()
            && self.projects.is_none()
            && self.memberships.is_none()
            && self.tags.is_none()
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

/// Serialises a request body; plain structs of strings cannot fail to serialise, but the
/// error is still turned into a typed one rather than unwrapped.
pub fn body<T: Serialize>(data: T) -> Result<serde_json::Value, serde_json::Error> {
    serde_json::to_value(Body { data })
}
