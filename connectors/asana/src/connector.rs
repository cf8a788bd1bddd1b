//! [`AsanaConnector`]: the [`Connector`] of one Asana project, over a shared
//! [`AsanaClient`].
//!
//! Request budget, per operation:
//! - `list_page`: one `GET /projects/{p}/tasks` of 100 tasks (completed ones included), all
//!   fields in `opt_fields`; the first page with an assignee also lists the workspace's
//!   users (once per run).
//! - `get_many`: after the change feed named the ids, one listing of the project's tasks
//!   modified since the feed's oldest event (`GET /tasks?project=&modified_since=`, 100 a
//!   page) finds most of them; the few it cannot (a section move does not bump
//!   `modified_at`; a deleted task) cost one `GET /tasks/{gid}` each, at most
//!   [`GET_MANY_CONCURRENCY`] at once.
//!   `POST /batch` would save round trips but not rate budget (Asana counts each of its
//!   actions as a request against both limiters, and a batch is refused whole if one
//!   action would exceed them), and it needs its own per-action error handling; plain
//!   GETs keep the retry, 404 and error paths in the shared HTTP layer.
//! - `create`: one `POST /tasks` (plus, once per run, the sections or tags lists, and a
//!   create for each missing section or tag).
//! - `update`: `addTag`/`removeTag` per tag changed, `addTask` when the section changes,
//!   then one `PUT /tasks/{gid}` with only the patched plain fields (or a `GET` when there
//!   are none) whose answer is the item as it now is; before a new description, one
//!   `GET` of the current one when the task was not read in this run.
//! - custom fields: read with the tasks (`custom_fields` in `opt_fields`); a create or update
//!   that sets some reads the project's custom field settings first, once per run at most
//!   (kept between runs, see [`crate::custom_fields`]), and sends them in the same request.
//!
//! Descriptions are read as `html_notes` (converted to Markdown) and written as
//! `html_notes`, never as plain `notes`. A task whose rich description the Markdown
//! cannot express exactly is remembered: its notes are an unknown field (the engine reads
//! them as last synced) and a write of notes to it is refused before anything is sent.
//!
//! A task created from a GitHub issue (`create` given the issue's `owner/name#n` as
//! partner) ends its description with a line linking that issue ([`crate::mark`]), sent in
//! the same `POST /tasks`; a write of notes keeps the line a task was read with.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use asana_bridge_connector::http::{Idempotency, Request};
use asana_bridge_connector::model::canonical_tags;
use asana_bridge_connector::{
    Changes, Connector, ConnectorError, Field, Item, ItemError, Page, PageToken, TaskFields,
    TaskPatch,
};
use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use tracing::{debug, warn};

use crate::client::{AsanaClient, PAGE_SIZE, request_body};
use crate::convert::{Description, is_in_project, mark_of, read_description, to_item_described};
use crate::echo::{WriteLog, Written};
use crate::events;
use crate::mark::{self, IssueRef};
use crate::wire::{
    self, ListEnvelope, MembershipWrite, SectionTaskWrite, TagWrite, Task, TaskWrite,
};

/// `get_many` reads at most this many tasks at once (the HTTP layer caps all reads at 50).
pub const GET_MANY_CONCURRENCY: usize = 10;

/// The Asana side of one link: one project.
#[derive(Debug, Clone)]
pub struct AsanaConnector {
    client: Arc<AsanaClient>,
    project: String,
    /// The bridge's own writes in this process (their echoes are dropped from the feed).
    written: Arc<WriteLog>,
    /// When the oldest change the feed last reported was made.
    feed_oldest: Arc<std::sync::Mutex<Option<jiff::Timestamp>>>,
    /// Tasks last read assigned to someone whose e-mail Asana does not show this token
    /// (their assignee reads as `None`, which is not "unassigned").
    hidden_assignee: Arc<std::sync::Mutex<HashSet<String>>>,
    /// People custom fields, by task, last read naming someone whose e-mail Asana does not
    /// show this token: their value in the common model lacks that person, so writing it
    /// would remove them. Such a field is never written.
    hidden_people: Arc<std::sync::Mutex<HashMap<String, HashSet<String>>>>,
    /// The descriptions read in this process, by task: `Some(why)` for a rich description
    /// the Markdown cannot express exactly (never written over), `None` for one it can.
    descriptions: Arc<std::sync::Mutex<HashMap<String, Option<String>>>>,
    /// The project's custom field settings, read when a write needs them.
    custom_settings: Arc<crate::custom_fields::SettingsCache>,
    /// The issue line ([`crate::mark`]) of the descriptions read in this process, by task
    /// (absent: the description has none), kept at the end of the notes written.
    marks: Arc<std::sync::Mutex<HashMap<String, IssueRef>>>,
    /// How many direct subtasks each task read in this process has (`num_subtasks`): a
    /// task with none is not asked for its subtasks.
    subtask_counts: Arc<std::sync::Mutex<HashMap<String, u32>>>,
    /// The tasks whose subtasks or comments the last change feed said changed (`None`:
    /// no feed read, or it could not say).
    thread_touched: Arc<std::sync::Mutex<Option<Vec<String>>>>,
}

/// How much earlier than the feed's oldest event a `modified_since` listing starts. Both
/// times come from Asana's own clock; the margin covers rounding and the order in which
/// Asana stamps an event and the task's `modified_at`. Wider would re-read tasks that did
/// not change.
const MODIFIED_SINCE_MARGIN: jiff::SignedDuration = jiff::SignedDuration::from_secs(2);

/// From this many ids on, `get_many` lists the recently modified tasks instead of reading
/// each one.
const LIST_FROM: usize = 3;

impl AsanaConnector {
    /// The connector of project `project_gid`, sharing `client` (and its caches and rate
    /// budget) with every other project of the same token.
    #[must_use]
    pub fn new(client: Arc<AsanaClient>, project_gid: impl Into<String>) -> Self {
        Self {
            client,
            project: project_gid.into(),
            written: Arc::default(),
            feed_oldest: Arc::default(),
            hidden_assignee: Arc::default(),
            hidden_people: Arc::default(),
            descriptions: Arc::default(),
            subtask_counts: Arc::default(),
            thread_touched: Arc::default(),
            custom_settings: Arc::default(),
            marks: Arc::default(),
        }
    }

    /// The project's gid.
    #[must_use]
    pub fn project_gid(&self) -> &str {
        &self.project
    }

    /// The shared client.
    #[must_use]
    pub fn client(&self) -> &Arc<AsanaClient> {
        &self.client
    }

    fn task_fields() -> String {
        let mut fields = wire::TASK_FIELDS.to_vec();
        fields.extend_from_slice(crate::custom_fields::TASK_FIELDS);
        wire::opt_fields(&fields)
    }

    /// The `custom_fields` of a write setting `patch` (`None` when it sets none).
    async fn custom_write(
        &self,
        patch: &std::collections::BTreeMap<String, Option<asana_bridge_connector::CustomValue>>,
    ) -> Result<Option<std::collections::BTreeMap<String, serde_json::Value>>, ConnectorError> {
        if patch.is_empty() {
            return Ok(None);
        }
        let values = self
            .custom_settings
            .write_values(&self.client, &self.project, patch, |email| async move {
                self.assignee(&email).await
            })
            .await?;
        Ok(Some(values))
    }

    /// After a write with custom fields Asana refused, the kept settings may be stale.
    async fn forget_settings_on_refusal<T>(
        &self,
        answer: &Result<T, ConnectorError>,
        sent_custom: bool,
    ) {
        if sent_custom && matches!(answer, Err(ConnectorError::Api { status: 400, .. })) {
            self.custom_settings
                .forget(&self.client, &self.project)
                .await;
        }
    }

    /// Logs a write of ours, so that its echo in the feed is dropped.
    fn remember(&self, item: &Item) {
        if let Some(at) = item.modified_at {
            self.written.record(&item.id, Written::At(at));
        }
    }

    /// Turns tasks into items, resolving their assignees' e-mails in one go. With
    /// `members_only`, tasks outside the project are dropped (they left it).
    async fn items(
        &self,
        tasks: Vec<Task>,
        members_only: bool,
    ) -> Result<(Vec<Item>, Vec<ItemError>), ConnectorError> {
        let tasks: Vec<Task> = tasks
            .into_iter()
            .filter(|t| !members_only || is_in_project(t, &self.project))
            .collect();
        if let Some(workspace) = tasks.iter().find_map(|t| t.workspace.as_ref()) {
            self.client
                .note_workspace(&self.project, &workspace.gid)
                .await;
        }
        let mut assignees: Vec<&str> = tasks
            .iter()
            .filter_map(|t| t.assignee.as_ref().map(|a| a.gid.as_str()))
            .chain(
                tasks
                    .iter()
                    .flat_map(|t| t.custom_fields.iter().flatten())
                    .flat_map(crate::custom_fields::TaskField::people),
            )
            .collect();
        assignees.sort_unstable();
        assignees.dedup();
        let emails = if assignees.is_empty() {
            HashMap::new()
        } else {
            let workspace = self.client.workspace_of(&self.project).await?;
            self.client.emails_of(&workspace, &assignees).await?
        };
        let mut items = Vec::with_capacity(tasks.len());
        let mut errors = Vec::new();
        {
            let mut hidden = self
                .hidden_assignee
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut people = self
                .hidden_people
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for task in &tasks {
                let hidden_in: HashSet<String> = task
                    .custom_fields
                    .iter()
                    .flatten()
                    .filter(|f| f.people().iter().any(|gid| !emails.contains_key(*gid)))
                    .filter_map(|f| f.name.clone())
                    .collect();
                if hidden_in.is_empty() {
                    people.remove(&task.gid);
                } else {
                    people.insert(task.gid.clone(), hidden_in);
                }
                match &task.assignee {
                    Some(a) if !emails.contains_key(&a.gid) => {
                        hidden.insert(task.gid.clone());
                    }
                    _ => {
                        hidden.remove(&task.gid);
                    }
                }
            }
        }
        let descriptions: Vec<Description> = tasks.iter().map(read_description).collect();
        for (task, description) in tasks.iter().zip(&descriptions) {
            self.note_description(task, description);
            if let Some(count) = task.num_subtasks {
                self.set_subtask_count(&task.gid, count);
            }
        }
        for (task, description) in tasks.into_iter().zip(&descriptions) {
            if task.parent.is_some() {
                // A subtask also added to the project: its parent's checklist line.
                continue;
            }
            let gid = task.gid.clone();
            match to_item_described(task, description, &self.project, &emails) {
                Ok(item) => items.push(item),
                Err(error) => errors.push(ItemError {
                    id: Some(gid),
                    partner: None,
                    error,
                }),
            }
        }
        Ok((items, errors))
    }

    /// One task as an item (after a write, whose answer must be readable).
    async fn item(&self, task: Task) -> Result<Item, ConnectorError> {
        let (mut items, mut errors) = self.items(vec![task], false).await?;
        match (items.pop(), errors.pop()) {
            (Some(item), _) => Ok(item),
            (None, Some(e)) => Err(e.error),
            (None, None) => Err(ConnectorError::Decode {
                service: "asana",
                message: "a write returned no task".to_owned(),
            }),
        }
    }

    /// What to send as `assignee`: a user gid (or the e-mail, if the workspace is too big to
    /// list); an unknown e-mail is an error before anything is written.
    async fn assignee(&self, email: &str) -> Result<String, ConnectorError> {
        let workspace = self.client.workspace_of(&self.project).await?;
        self.client.assignee_value(&workspace, email).await
    }

    /// The tasks whose subtasks or comments the last change feed said changed.
    pub(crate) fn thread_touched(&self) -> Option<Vec<String>> {
        self.thread_touched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Remembers how many direct subtasks `task` has.
    pub(crate) fn set_subtask_count(&self, task: &str, count: u32) {
        self.subtask_counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(task.to_owned(), count);
    }

    /// How many direct subtasks `task` had when last read in this process, if it was.
    pub(crate) fn subtask_count(&self, task: &str) -> Option<u32> {
        self.subtask_counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(task)
            .copied()
    }

    /// Remembers whether `task`'s description, as just read, can be written over, and the
    /// issue line it ends with.
    fn note_description(&self, task: &Task, description: &Description) {
        let why = match description {
            Description::Inexpressible { reason, .. } => Some(reason.clone()),
            Description::Markdown(_) => None,
        };
        self.descriptions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(task.gid.clone(), why);
        let mut marks = self
            .marks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match mark_of(task) {
            Some(issue) => marks.insert(task.gid.clone(), issue),
            None => marks.remove(&task.gid),
        };
    }

    /// `html_notes` for `notes` written to `task`: its issue line, if it was read with one,
    /// stays at the end.
    fn html_notes_for(&self, task: &str, notes: &str) -> Result<String, ConnectorError> {
        let html = wire::html_notes(notes).map_err(ConnectorError::InvalidData)?;
        let mark = self
            .marks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(task)
            .cloned();
        Ok(match mark {
            Some(issue) => mark::append_html(&html, &issue),
            None => html,
        })
    }

    /// Refuses a write of notes over a description the Markdown cannot express exactly
    /// (it would flatten the rich text for everyone). A task not read in this process (the
    /// engine planned from its record) costs one `GET` of its description first.
    async fn check_notes_writable(&self, task: &str) -> Result<(), ConnectorError> {
        let known = self
            .descriptions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(task)
            .cloned();
        let why = match known {
            Some(why) => why,
            None => {
                let request = Request::get(format!("/tasks/{task}"))
                    .query("opt_fields", wire::opt_fields(wire::DESCRIPTION_FIELDS));
                let mut current: Task = self.client.data(request).await?;
                current.gid = task.to_owned();
                let description = read_description(&current);
                self.note_description(&current, &description);
                match description {
                    Description::Inexpressible { reason, .. } => Some(reason),
                    Description::Markdown(_) => None,
                }
            }
        };
        match why {
            Some(reason) => Err(ConnectorError::InvalidData(format!(
                "the description of Asana task {task} holds rich text that Markdown cannot \
                 carry back exactly ({reason}), so it is not overwritten; edit the \
                 description in Asana"
            ))),
            None => Ok(()),
        }
    }

    /// Refuses a patch that would write a people field last read naming someone whose
    /// e-mail Asana hides from this token (the value the bridge has lacks them).
    fn check_custom_writable(&self, task: &str, patch: &TaskPatch) -> Result<(), ConnectorError> {
        let people = self
            .hidden_people
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(hidden) = people.get(task) else {
            return Ok(());
        };
        match patch.custom.keys().find(|name| hidden.contains(*name)) {
            Some(name) => Err(ConnectorError::InvalidData(format!(
                "custom field {name} of Asana task {task} names someone whose e-mail Asana \
                 does not show this account, so it is not overwritten (that person would be \
                 removed); edit the field in Asana"
            ))),
            None => Ok(()),
        }
    }

    /// Applies the tag part of a patch: `addTag`/`removeTag` for the difference.
    async fn apply_tags(
        &self,
        task: &str,
        current: &[String],
        desired: &[String],
    ) -> Result<bool, ConnectorError> {
        let desired = canonical_tags(desired.to_vec());
        let add: Vec<String> = desired
            .iter()
            .filter(|t| !current.contains(t))
            .cloned()
            .collect();
        let remove: Vec<String> = current
            .iter()
            .filter(|t| !desired.contains(t))
            .cloned()
            .collect();
        if add.is_empty() && remove.is_empty() {
            return Ok(false);
        }
        let workspace = self.client.workspace_of(&self.project).await?;
        let added = self.client.tag_gids(&workspace, &add, true).await?;
        let removed = self.client.tag_gids(&workspace, &remove, false).await?;
        for name in &add {
            let gid = added.get(name).ok_or_else(|| {
                ConnectorError::InvalidData(format!("tag {name:?} could not be created"))
            })?;
            let request = Request::post(
                format!("/tasks/{task}/addTag"),
                request_body(TagWrite { tag: gid.clone() })?,
            )
            .idempotency(Idempotency::Safe);
            self.client.http().send(request).await?;
        }
        for name in &remove {
            let Some(gid) = removed.get(name) else {
                warn!(task, tag = %name, "tag to remove is unknown in the workspace; left as is");
                continue;
            };
            let request = Request::post(
                format!("/tasks/{task}/removeTag"),
                request_body(TagWrite { tag: gid.clone() })?,
            )
            .idempotency(Idempotency::Safe);
            self.client.http().send(request).await?;
        }
        Ok(true)
    }
}

/// The e-mail sent as `assignee`, when it went as an address rather than a user gid
/// (only when the workspace has too many users to list them all).
fn sent_email(write: &TaskWrite) -> Option<String> {
    match &write.assignee {
        Some(Some(value)) if value.contains('@') => Some(value.clone()),
        _ => None,
    }
}

/// Asana's `400` on a write that carried an unlisted assignee e-mail: the e-mail is the
/// likely culprit, so say so (with Asana's own message).
fn blame_assignee<T>(
    answer: Result<T, ConnectorError>,
    sent_email: Option<String>,
) -> Result<T, ConnectorError> {
    match (answer, sent_email) {
        (
            Err(ConnectorError::Api {
                status: 400,
                message,
                ..
            }),
            Some(email),
        ) => Err(ConnectorError::InvalidData(format!(
            "assignee {email} was refused by Asana: {message}"
        ))),
        (answer, _) => answer,
    }
}

/// Refuses ids that could not be a gid, before they go into a URL path.
fn check_gid(id: &str) -> Result<&str, ConnectorError> {
    if !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':'))
    {
        Ok(id)
    } else {
        Err(ConnectorError::InvalidData(format!(
            "{id:?} is not an Asana task gid"
        )))
    }
}

#[async_trait]
impl Connector for AsanaConnector {
    fn kind(&self) -> &'static str {
        "asana"
    }

    fn describe(&self, id: &str) -> String {
        format!("task {id}")
    }

    fn threads(&self) -> Option<&dyn asana_bridge_connector::Threads> {
        Some(self)
    }

    fn unknown_fields(&self, item: &Item) -> Vec<Field> {
        let hidden = item.fields.assignee.is_none()
            && self
                .hidden_assignee
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .contains(&item.id);
        let mut unknown = Vec::new();
        if hidden {
            unknown.push(Field::Assignee);
        }
        if self
            .descriptions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&item.id)
            .is_some_and(Option::is_some)
        {
            unknown.push(Field::Notes);
        }
        unknown
    }

    fn clock_offset(&self) -> Option<jiff::SignedDuration> {
        self.client.http().clock_offset()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(project = %self.project))]
    async fn list_page(&self, token: Option<PageToken>) -> Result<Page, ConnectorError> {
        let mut request = Request::get(format!("/projects/{}/tasks", self.project))
            .query("limit", PAGE_SIZE.to_string())
            .query("opt_fields", Self::task_fields());
        if let Some(PageToken(offset)) = token {
            request = request.query("offset", offset);
        }
        // Tasks are decoded one by one so that one malformed task is reported as an item
        // error (never taken for deleted) instead of failing the page; each is kept as
        // its raw JSON text until then (no intermediate tree of every value).
        let page: ListEnvelope<Box<serde_json::value::RawValue>> =
            self.client.http().send(request).await?.json()?;
        let mut tasks = Vec::with_capacity(page.data.len());
        let mut unreadable = Vec::new();
        for raw in page.data {
            match serde_json::from_str::<Task>(raw.get()) {
                Ok(task) => tasks.push(task),
                Err(e) => {
                    /// What is left to name a task that does not decode.
                    #[derive(serde::Deserialize)]
                    struct Gid {
                        gid: Option<serde_json::Value>,
                    }
                    let gid = serde_json::from_str::<Gid>(raw.get())
                        .ok()
                        .and_then(|g| g.gid)
                        .and_then(|g| g.as_str().map(str::to_owned));
                    unreadable.push(ItemError {
                        error: ConnectorError::Decode {
                            service: "asana",
                            message: format!("task {}: {e}", gid.as_deref().unwrap_or("?")),
                        },
                        id: gid,
                        partner: None,
                    });
                }
            }
        }
        let (items, mut errors) = self.items(tasks, false).await?;
        errors.extend(unreadable);
        Ok(Page {
            items,
            errors,
            next: page.next_page.map(|n| PageToken(n.offset)),
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(project = %self.project, ids = ids.len()))]
    async fn get_many(&self, ids: &[String]) -> Result<Vec<Item>, ConnectorError> {
        for id in ids {
            check_gid(id)?;
        }
        let fields = Self::task_fields();
        let wanted: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
        let mut found: Vec<Task> = Vec::new();
        let oldest = *self
            .feed_oldest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if ids.len() >= LIST_FROM
            && let Some(oldest) = oldest
        {
            let since = oldest
                .checked_sub(MODIFIED_SINCE_MARGIN)
                .unwrap_or(oldest)
                .to_string();
            let recent: Vec<Task> = self
                .client
                .get_all(
                    "/tasks",
                    &[
                        ("project", self.project.clone()),
                        ("modified_since", since),
                        ("opt_fields", fields.clone()),
                    ],
                    true,
                )
                .await?;
            found.extend(
                recent
                    .into_iter()
                    .filter(|t| wanted.contains(t.gid.as_str())),
            );
        }
        let missing: Vec<String> = {
            let have: std::collections::HashSet<&str> =
                found.iter().map(|t| t.gid.as_str()).collect();
            ids.iter()
                .filter(|id| !have.contains(id.as_str()))
                .cloned()
                .collect()
        };
        let singles: Vec<Option<Task>> = futures::stream::iter(missing)
            .map(|id: String| {
                let request =
                    Request::get(format!("/tasks/{id}")).query("opt_fields", fields.clone());
                async move {
                    match self.client.data::<Task>(request).await {
                        Ok(task) => Ok(Some(task)),
                        Err(ConnectorError::NotFound(_)) => Ok(None),
                        Err(e) => Err(e),
                    }
                }
            })
            .buffered(GET_MANY_CONCURRENCY)
            .try_collect()
            .await?;
        found.extend(singles.into_iter().flatten());
        let (items, mut errors) = self.items(found, true).await?;
        // An unreadable task must not pass for a deleted one: fail the whole read.
        if let Some(e) = errors.pop() {
            return Err(e.error);
        }
        Ok(items)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(project = %self.project))]
    async fn create(
        &self,
        fields: &TaskFields,
        partner: Option<&str>,
    ) -> Result<Item, ConnectorError> {
        let fields = fields.clone().canonical();
        let assignee = match &fields.assignee {
            Some(email) => Some(Some(self.assignee(email).await?)),
            None => None,
        };
        let memberships = match &fields.section {
            Some(name) => Some(vec![MembershipWrite {
                project: self.project.clone(),
                section: self.client.section_gid(&self.project, name).await?,
            }]),
            None => None,
        };
        let tags = if fields.tags.is_empty() {
            None
        } else {
            let workspace = self.client.workspace_of(&self.project).await?;
            let gids = self.client.tag_gids(&workspace, &fields.tags, true).await?;
            Some(
                fields
                    .tags
                    .iter()
                    .filter_map(|name| gids.get(name).cloned())
                    .collect(),
            )
        };
        // A task made from a GitHub issue names it at the end of its description (only a
        // recovery hint: see `crate::mark`); any other partner is not written.
        let mut html_notes =
            wire::html_notes(&fields.notes).map_err(ConnectorError::InvalidData)?;
        if let Some(issue) = partner.and_then(IssueRef::parse) {
            html_notes = mark::append_html(&html_notes, &issue);
        }
        let mut write = TaskWrite {
            name: Some(fields.title.clone()),
            html_notes: Some(html_notes),
            completed: Some(fields.completed),
            assignee,
            projects: Some(vec![self.project.clone()]),
            memberships,
            tags,
            custom_fields: self
                .custom_write(
                    &fields
                        .custom
                        .iter()
                        .map(|(k, v)| (k.clone(), Some(v.clone())))
                        .collect(),
                )
                .await?,
            ..TaskWrite::default()
        };
        write
            .set_dates(
                fields.due.as_ref().map(Some),
                fields.start_on.as_deref().map(Some),
                fields.due.as_ref(),
            )
            .map_err(ConnectorError::InvalidData)?;
        let sent_email = sent_email(&write);
        let request_custom = write.custom_fields.is_some();
        let request = Request::post("/tasks", request_body(write)?)
            .query("opt_fields", Self::task_fields())
            .idempotency(Idempotency::CreateOnce);
        let sent_custom = request_custom;
        let answer = self.client.data::<Task>(request).await;
        self.forget_settings_on_refusal(&answer, sent_custom).await;
        let task = blame_assignee(answer, sent_email)?;
        debug!(project = %self.project, task = %task.gid, "created task");
        let item = self.item(task).await?;
        self.remember(&item);
        Ok(item)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(project = %self.project, task = %item.id))]
    async fn update(&self, item: &Item, patch: &TaskPatch) -> Result<Item, ConnectorError> {
        let task = check_gid(&item.id)?;
        // Everything that can refuse the patch is checked before anything is written.
        let html_notes = match &patch.notes {
            Some(notes) => {
                self.check_notes_writable(task).await?;
                Some(self.html_notes_for(task, notes)?)
            }
            None => None,
        };
        self.check_custom_writable(task, patch)?;
        let assignee = match &patch.assignee {
            Some(Some(email)) if !email.trim().is_empty() => {
                Some(Some(self.assignee(email).await?))
            }
            Some(_) => Some(None),
            None => None,
        };
        let mut write = TaskWrite {
            name: patch.title.clone(),
            html_notes,
            completed: patch.completed,
            assignee,
            custom_fields: self.custom_write(&patch.custom).await?,
            ..TaskWrite::default()
        };
        let due_after = patch
            .due
            .as_ref()
            .map_or(item.fields.due.as_ref(), Option::as_ref);
        write
            .set_dates(
                patch.due.as_ref().map(Option::as_ref),
                patch.start_on.as_ref().map(Option::as_deref),
                due_after,
            )
            .map_err(ConnectorError::InvalidData)?;

        let mut wrote = false;
        if let Some(tags) = &patch.tags {
            wrote |= self.apply_tags(task, &item.fields.tags, tags).await?;
        }
        match &patch.section {
            Some(Some(name)) if item.fields.section.as_deref() != Some(name.trim()) => {
                let section = self.client.section_gid(&self.project, name.trim()).await?;
                let request = Request::post(
                    format!("/sections/{section}/addTask"),
                    request_body(SectionTaskWrite {
                        task: task.to_owned(),
                    })?,
                )
                .idempotency(Idempotency::Safe);
                self.client.http().send(request).await?;
                wrote = true;
            }
            Some(None) if item.fields.section.is_some() => {
                debug!(
                    task,
                    "Asana cannot take a task out of every section; left as is"
                );
            }
            _ => {}
        }

        let sent_email = sent_email(&write);
        let sent_custom = write.custom_fields.is_some();
        let request = if write.is_empty() {
            if !wrote {
                return Ok(item.clone());
            }
            Request::get(format!("/tasks/{task}"))
        } else {
            Request::put(format!("/tasks/{task}"), request_body(write)?)
        }
        .query("opt_fields", Self::task_fields());
        let answer = self.client.data::<Task>(request).await;
        self.forget_settings_on_refusal(&answer, sent_custom).await;
        let item = self.item(blame_assignee(answer, sent_email)?).await?;
        self.remember(&item);
        Ok(item)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(project = %self.project, task = %item.id))]
    async fn delete(&self, item: &Item) -> Result<(), ConnectorError> {
        let task = check_gid(&item.id)?;
        match self
            .client
            .http()
            .send(Request::delete(format!("/tasks/{task}")))
            .await
        {
            Ok(_) | Err(ConnectorError::NotFound(_)) => {
                self.written.record(task, Written::Deleted);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn set_partner(&self, item: &Item, _partner: &str) -> Result<Item, ConnectorError> {
        // Asana keeps no partner id: the bridge's own state maps gids (`external` is
        // OAuth-only).
        Ok(item.clone())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(project = %self.project))]
    async fn changes(&self, cursor: Option<&str>) -> Result<Changes, ConnectorError> {
        // Who "we" are matters only once we have written something.
        let me = if self.written.is_empty() {
            None
        } else {
            Some(self.client.me().await?.gid)
        };
        let feed = events::changes(&self.client, &self.project, cursor, &self.written, me).await?;
        *self
            .feed_oldest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = feed.oldest;
        *self
            .thread_touched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = feed.threads;
        Ok(feed.changes)
    }
}
