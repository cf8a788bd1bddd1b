//! The in-memory Asana: workspace, users, projects, sections, tags and tasks, plus the
//! clock and gid allocator. Every mutation goes through a method here that takes the acting
//! user, keeps `modified_at` honest (Asana's bump rules) and appends the events Asana would
//! emit, so the API handlers and the test-control API change the world the same way.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::events::EventLog;

/// A workspace member.
#[derive(Debug, Clone)]
pub struct User {
    pub gid: String,
    pub name: String,
    pub email: String,
    /// Asana does not show this user's e-mail to the token (e.g. a guest bot account, or
    /// an organisation that hides members' addresses): `email` is absent from its answers.
    pub email_hidden: bool,
}

/// A project: its sections in order and its tasks in priority order.
#[derive(Debug, Clone)]
pub struct Project {
    pub name: String,
    pub created_at: Timestamp,
    pub modified_at: Timestamp,
    pub sections: Vec<String>,
    /// Task gids in the order they were placed; the listing order groups them by section.
    pub order: Vec<String>,
}

/// A section of one project.
#[derive(Debug, Clone)]
pub struct Section {
    pub name: String,
    pub project: String,
    pub created_at: Timestamp,
}

/// A workspace tag.
#[derive(Debug, Clone)]
pub struct Tag {
    pub gid: String,
    pub name: String,
    pub created_at: Timestamp,
}

/// A task's membership in one project (and optionally one of its sections).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub project: String,
    pub section: Option<String>,
}

/// A task.
#[derive(Debug, Clone)]
pub struct Task {
    pub gid: String,
    pub name: String,
    /// The description as Asana keeps it: rich text, always valid (checked on every
    /// write); `notes` is derived from it.
    pub html_notes: String,
    pub completed: bool,
    pub completed_at: Option<Timestamp>,
    pub completed_by: Option<String>,
    pub due_on: Option<String>,
    /// A due time (then `due_on` is its day), as the API reports it (milliseconds, `Z`).
    pub due_at: Option<String>,
    pub start_on: Option<String>,
    /// User gid.
    pub assignee: Option<String>,
    /// Tag gids in the order they were added.
    pub tags: Vec<String>,
    pub memberships: Vec<Membership>,
    pub followers: Vec<String>,
    pub created_at: Timestamp,
    pub modified_at: Timestamp,
    pub created_by: String,
    /// In the trash: invisible to the API.
    pub deleted: bool,
}

impl Task {
    /// The plain-text description Asana derives from the rich one.
    pub fn notes(&self) -> String {
        // Stored rich text was checked when it was written.
        crate::repr::rich_text(&self.html_notes).unwrap_or_default()
    }
}

/// What a create needs, references already resolved to gids.
#[derive(Debug, Clone, Default)]
pub struct NewTask {
    pub name: String,
    /// Checked rich text (`notes` written are escaped into a `<body>`).
    pub html_notes: String,
    pub completed: bool,
    pub due_on: Option<String>,
    pub due_at: Option<String>,
    pub start_on: Option<String>,
    pub assignee: Option<String>,
    pub memberships: Vec<Membership>,
    pub tags: Vec<String>,
}

/// Scalar/assignee changes of an update; `None` = untouched.
#[derive(Debug, Clone, Default)]
pub struct TaskChanges {
    pub name: Option<String>,
    /// Checked rich text (`notes` written are escaped into a `<body>`).
    pub html_notes: Option<String>,
    pub completed: Option<bool>,
    pub due_on: Option<Option<String>>,
    pub due_at: Option<Option<String>>,
    pub start_on: Option<Option<String>>,
    pub assignee: Option<Option<String>>,
}

/// A task's dates after a write, by Asana's rules: `due_on` and `due_at` are never both
/// given; a day clears the time, a time sets its day, clearing either clears both; a start
/// date is set or cleared only with a due date (or time) in the same request, needs a due
/// date to stay, and is not after it.
///
/// # Errors
/// A `400` naming the rule broken.
pub fn dates_after(
    before: (Option<String>, Option<String>, Option<String>),
    due_on: Option<Option<String>>,
    due_at: Option<Option<String>>,
    start_on: Option<Option<String>>,
) -> ApiResult<(Option<String>, Option<String>, Option<String>)> {
    let (mut on, mut at, mut start) = before;
    if matches!((&due_on, &due_at), (Some(Some(_)), Some(Some(_)))) {
        return Err(ApiError::bad_request(
            "due_on: You may only provide one of due_on or due_at",
        ));
    }
    if start_on.is_some() && due_on.is_none() && due_at.is_none() {
        return Err(ApiError::bad_request(
            "start_on: due_on or due_at must be present in the request when setting or unsetting start_on",
        ));
    }
    match due_on {
        Some(Some(day)) => (on, at) = (Some(day), None),
        Some(None) => (on, at) = (None, None),
        None => {}
    }
    match due_at {
        Some(Some(time)) => {
            let t: Timestamp = time.parse().map_err(|_| {
                ApiError::bad_request(format!("due_at: Not a valid date-time: {time}"))
            })?;
            on = Some(t.strftime("%Y-%m-%d").to_string());
            at = Some(t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        }
        Some(None) => (on, at) = (None, None),
        None => {}
    }
    if let Some(s) = start_on {
        start = s;
    }
    match (&start, &on) {
        (Some(_), None) => {
            return Err(ApiError::bad_request(
                "start_on: A task with a start date needs a due date",
            ));
        }
        (Some(s), Some(day)) if s > day => {
            return Err(ApiError::bad_request(format!(
                "start_on: The start date {s} must not be after the due date {day}"
            )));
        }
        _ => {}
    }
    Ok((on, at, start))
}

/// Where to place a task within a project or section.
#[derive(Debug, Clone, Default)]
pub struct Placement {
    pub insert_before: Option<String>,
    pub insert_after: Option<String>,
}

/// The whole simulated Asana.
#[derive(Debug)]
pub struct State {
    pub workspace_gid: String,
    pub workspace_name: String,
    pub me: String,
    /// The human the control API acts as.
    pub alice: String,
    pub users: Vec<User>,
    pub projects: HashMap<String, Project>,
    pub project_order: Vec<String>,
    pub sections: HashMap<String, Section>,
    pub tags: Vec<Tag>,
    pub tasks: HashMap<String, Task>,
    pub events: EventLog,
    next_gid: u64,
    last_time: Timestamp,
    /// How far this Asana's clock is ahead of the machine's (a test of a wrong clock):
    /// moves every time it reports, `Date` headers included.
    pub clock_offset: SignedDuration,
    /// Tasks served as this raw JSON instead of their representation: a test of how a
    /// client copes with a malformed answer (a fault, not Asana behaviour).
    pub malformed: HashMap<String, Value>,
    /// Custom fields, where they are enabled, and the tasks' values.
    pub custom: crate::custom_fields::Registry,
    /// Subtasks and stories (comments and system stories).
    pub threads: crate::threads::Threads,
}

/// Formats a timestamp the way Asana does: UTC, milliseconds, `Z`.
pub fn iso(ts: Timestamp) -> String {
    format!("{ts:.3}")
}

impl State {
    /// A workspace with the bot user, alice and bob.
    pub fn new() -> State {
        let mut state = State {
            workspace_gid: String::new(),
            workspace_name: "Example Workspace".to_owned(),
            me: String::new(),
            alice: String::new(),
            users: Vec::new(),
            projects: HashMap::new(),
            project_order: Vec::new(),
            sections: HashMap::new(),
            tags: Vec::new(),
            tasks: HashMap::new(),
            events: EventLog::default(),
            next_gid: 1_200_000_000_000_001,
            last_time: Timestamp::UNIX_EPOCH,
            clock_offset: SignedDuration::ZERO,
            malformed: HashMap::new(),
            custom: crate::custom_fields::Registry::default(),
            threads: crate::threads::Threads::default(),
        };
        state.workspace_gid = state.gid();
        state.me = state.add_user("Asana Bridge Bot", "bridge-bot@example.com");
        state.alice = state.add_user("Alice Example", "alice@example.com");
        state.add_user("Bob Example", "bob@example.com");
        state
    }

    /// Sets the clock `offset` ahead of the machine's: times may go back once, as they do
    /// when a real clock is set.
    pub fn set_clock_offset(&mut self, offset: SignedDuration) {
        self.clock_offset = offset;
        self.last_time = Timestamp::UNIX_EPOCH;
    }

    /// A fresh 16-digit gid.
    pub fn gid(&mut self) -> String {
        let gid = self.next_gid;
        self.next_gid += 1;
        gid.to_string()
    }

    /// Now, in whole milliseconds, strictly after every earlier call.
    pub fn now(&mut self) -> Timestamp {
        let millis = Timestamp::now()
            .checked_add(self.clock_offset)
            .unwrap_or_else(|_| Timestamp::now())
            .as_millisecond();
        let mut now = Timestamp::from_millisecond(millis).unwrap_or(self.last_time);
        if now <= self.last_time {
            now = self
                .last_time
                .checked_add(SignedDuration::from_millis(1))
                .unwrap_or(self.last_time);
        }
        self.last_time = now;
        now
    }

    // ----- lookups -----

    pub fn user(&self, gid: &str) -> Option<&User> {
        self.users.iter().find(|u| u.gid == gid)
    }

    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(email))
    }

    /// Resolves `"me"`, a gid or an email to a user gid.
    pub fn resolve_user(&self, field: &str, value: &str) -> ApiResult<String> {
        if value == "me" {
            return Ok(self.me.clone());
        }
        let found = if value.contains('@') {
            self.user_by_email(value)
        } else {
            self.user(value)
        };
        found
            .map(|u| u.gid.clone())
            .ok_or_else(|| ApiError::unrecognized_id(field, value))
    }

    pub fn tag(&self, gid: &str) -> Option<&Tag> {
        self.tags.iter().find(|t| t.gid == gid)
    }

    pub fn tag_by_name(&self, name: &str) -> Option<&Tag> {
        self.tags.iter().find(|t| t.name == name)
    }

    /// A live (not deleted) task.
    pub fn live_task(&self, gid: &str) -> ApiResult<&Task> {
        self.tasks
            .get(gid)
            .filter(|t| !t.deleted)
            .ok_or_else(|| ApiError::unknown_object("task", gid))
    }

    pub fn project(&self, gid: &str) -> ApiResult<&Project> {
        self.projects
            .get(gid)
            .ok_or_else(|| ApiError::unknown_object("project", gid))
    }

    pub fn section(&self, gid: &str) -> ApiResult<&Section> {
        self.sections
            .get(gid)
            .ok_or_else(|| ApiError::unknown_object("section", gid))
    }

    /// Live tasks of a project in listing order: tasks without a section first, then
    /// section by section, each in placement order.
    pub fn project_task_gids(&self, project: &str) -> Vec<String> {
        let Some(p) = self.projects.get(project) else {
            return Vec::new();
        };
        let rank = |gid: &String| -> usize {
            let section = self
                .tasks
                .get(gid)
                .and_then(|t| t.memberships.iter().find(|m| m.project == project))
                .and_then(|m| m.section.clone());
            match section {
                None => 0,
                Some(s) => 1 + p.sections.iter().position(|x| *x == s).unwrap_or(0),
            }
        };
        let mut gids: Vec<String> = p
            .order
            .iter()
            .filter(|g| self.tasks.get(*g).is_some_and(|t| !t.deleted))
            .cloned()
            .collect();
        // Each rank is a few lookups: computed once per task, not once per comparison.
        gids.sort_by_cached_key(rank);
        gids
    }

    // ----- mutations: people and containers -----

    pub fn add_user(&mut self, name: &str, email: &str) -> String {
        if let Some(u) = self.user_by_email(email) {
            return u.gid.clone();
        }
        let gid = self.gid();
        self.users.push(User {
            gid: gid.clone(),
            name: name.to_owned(),
            email: email.to_owned(),
            email_hidden: false,
        });
        gid
    }

    pub fn create_project(&mut self, name: &str) -> String {
        let gid = self.gid();
        let now = self.now();
        self.projects.insert(
            gid.clone(),
            Project {
                name: name.to_owned(),
                created_at: now,
                modified_at: now,
                sections: Vec::new(),
                order: Vec::new(),
            },
        );
        self.project_order.push(gid.clone());
        gid
    }

    pub fn create_section(&mut self, actor: &str, project: &str, name: &str) -> ApiResult<String> {
        if name.trim().is_empty() {
            return Err(ApiError::missing("name"));
        }
        self.project(project)?;
        let gid = self.gid();
        let now = self.now();
        self.sections.insert(
            gid.clone(),
            Section {
                name: name.to_owned(),
                project: project.to_owned(),
                created_at: now,
            },
        );
        if let Some(p) = self.projects.get_mut(project) {
            p.sections.push(gid.clone());
        }
        let resource = self.section_ref(&gid);
        let parent = self.project_ref(project);
        self.emit(
            &[project.to_owned()],
            actor,
            resource,
            "added",
            Some(parent),
            None,
            now,
        );
        Ok(gid)
    }

    /// Renames a section as `actor` would in the UI: Asana reports a `changed` event on the
    /// section (field `name`) in its project's stream, and none on the tasks in it.
    pub fn rename_section(&mut self, actor: &str, gid: &str, name: &str) -> ApiResult<()> {
        if name.trim().is_empty() {
            return Err(ApiError::missing("name"));
        }
        let project = self.section(gid)?.project.clone();
        let now = self.now();
        if let Some(section) = self.sections.get_mut(gid) {
            name.clone_into(&mut section.name);
        }
        let resource = self.section_ref(gid);
        let parent = self.project_ref(&project);
        let change = json!({ "field": "name", "action": "changed" });
        self.emit(
            &[project],
            actor,
            resource,
            "changed",
            Some(parent),
            Some(change),
            now,
        );
        Ok(())
    }

    pub fn create_tag(&mut self, name: &str) -> ApiResult<String> {
        if name.trim().is_empty() {
            return Err(ApiError::missing("name"));
        }
        let gid = self.gid();
        let now = self.now();
        self.tags.push(Tag {
            gid: gid.clone(),
            name: name.to_owned(),
            created_at: now,
        });
        Ok(gid)
    }

    // ----- mutations: tasks -----

    pub fn create_task(&mut self, actor: &str, new: NewTask) -> ApiResult<String> {
        let gid = self.gid();
        let now = self.now();
        let mut followers = vec![actor.to_owned()];
        if let Some(a) = &new.assignee
            && !followers.contains(a)
        {
            followers.push(a.clone());
        }
        let task = Task {
            gid: gid.clone(),
            name: new.name,
            html_notes: new.html_notes,
            completed: new.completed,
            completed_at: new.completed.then_some(now),
            completed_by: new.completed.then(|| actor.to_owned()),
            due_on: new.due_on,
            due_at: new.due_at,
            start_on: new.start_on,
            assignee: new.assignee,
            tags: Vec::new(),
            memberships: new.memberships.clone(),
            followers,
            created_at: now,
            modified_at: now,
            created_by: actor.to_owned(),
            deleted: false,
        };
        self.tasks.insert(gid.clone(), task);
        for m in &new.memberships {
            if let Some(p) = self.projects.get_mut(&m.project) {
                p.order.push(gid.clone());
            }
        }
        let streams = self.task_streams(&gid);
        let resource = self.task_ref(&gid);
        for m in &new.memberships {
            let parent = self.project_ref(&m.project);
            self.emit(
                &streams,
                actor,
                resource.clone(),
                "added",
                Some(parent),
                None,
                now,
            );
            if let Some(s) = &m.section {
                let parent = self.section_ref(s);
                self.emit(
                    &streams,
                    actor,
                    resource.clone(),
                    "added",
                    Some(parent),
                    None,
                    now,
                );
            }
        }
        let task = self.live_task(&gid)?.clone();
        let mut changed = vec!["name"];
        if !task.notes().is_empty() {
            changed.push("notes");
        }
        if task.due_on.is_some() {
            changed.push("due_on");
        }
        if task.due_at.is_some() {
            changed.push("due_at");
        }
        if task.start_on.is_some() {
            changed.push("start_on");
        }
        if task.completed {
            changed.push("completed");
        }
        for field in changed {
            self.emit_changed(&streams, actor, &gid, field, None, now);
        }
        if let Some(a) = &task.assignee {
            let value = self.user_ref(a);
            self.emit_changed(
                &streams,
                actor,
                &gid,
                "assignee",
                Some(("new_value", value)),
                now,
            );
        }
        for tag in new.tags {
            self.attach_tag(actor, &gid, &tag, now);
        }
        Ok(gid)
    }

    /// Applies `changes`; returns whether anything actually changed.
    pub fn update_task(&mut self, actor: &str, gid: &str, changes: TaskChanges) -> ApiResult<bool> {
        let before = self.live_task(gid)?.clone();
        // Checked before anything changes: a refused request changes nothing.
        let dates =
            if changes.due_on.is_some() || changes.due_at.is_some() || changes.start_on.is_some() {
                Some(dates_after(
                    (
                        before.due_on.clone(),
                        before.due_at.clone(),
                        before.start_on.clone(),
                    ),
                    changes.due_on.clone(),
                    changes.due_at.clone(),
                    changes.start_on.clone(),
                )?)
            } else {
                None
            };
        let mut fields: Vec<&str> = Vec::new();
        let mut new_assignee: Option<Option<String>> = None;
        if let Some(name) = changes.name.filter(|n| *n != before.name) {
            fields.push("name");
            self.task_mut(gid).name = name;
        }
        if let Some(html) = changes.html_notes.filter(|h| *h != before.html_notes) {
            fields.push("notes");
            self.task_mut(gid).html_notes = html;
        }
        if let Some((on, at, start)) = dates {
            for (field, old, new) in [
                ("due_on", &before.due_on, &on),
                ("due_at", &before.due_at, &at),
                ("start_on", &before.start_on, &start),
            ] {
                if old != new {
                    fields.push(field);
                }
            }
            let task = self.task_mut(gid);
            (task.due_on, task.due_at, task.start_on) = (on, at, start);
        }
        if let Some(assignee) = changes.assignee.filter(|a| *a != before.assignee) {
            fields.push("assignee");
            new_assignee = Some(assignee.clone());
            let task = self.task_mut(gid);
            if let Some(a) = &assignee
                && !task.followers.contains(a)
            {
                task.followers.push(a.clone());
            }
            task.assignee = assignee;
        }
        let completed_change = changes.completed.filter(|c| *c != before.completed);
        if completed_change.is_some() {
            fields.push("completed");
        }
        if fields.is_empty() {
            return Ok(false);
        }
        let now = self.now();
        {
            let task = self.task_mut(gid);
            task.modified_at = now;
            if let Some(c) = completed_change {
                task.completed = c;
                task.completed_at = c.then_some(now);
                task.completed_by = c.then(|| actor.to_owned());
            }
        }
        let streams = self.task_streams(gid);
        for field in fields {
            let value = match (field, &new_assignee) {
                ("assignee", Some(Some(a))) => Some(("new_value", self.user_ref(a))),
                _ => None,
            };
            self.emit_changed(&streams, actor, gid, field, value, now);
            self.emit_story(&streams, actor, gid, &format!("{field}_changed"), now);
        }
        Ok(true)
    }

    /// A change of `field` of task `gid` made elsewhere (custom fields): `modified_at`
    /// moves, a `changed` event and a story are emitted.
    pub fn touch_task(&mut self, actor: &str, gid: &str, field: &str) {
        let now = self.now();
        self.task_mut(gid).modified_at = now;
        let streams = self.task_streams(gid);
        self.emit_changed(&streams, actor, gid, field, None, now);
        self.emit_story(&streams, actor, gid, &format!("{field}_changed"), now);
    }

    pub fn delete_task(&mut self, actor: &str, gid: &str) -> ApiResult<()> {
        self.live_task(gid)?;
        let now = self.now();
        let streams = self.task_streams(gid);
        self.task_mut(gid).deleted = true;
        let resource = self.task_ref(gid);
        self.emit(&streams, actor, resource, "deleted", None, None, now);
        Ok(())
    }

    /// Restores a deleted task from the trash, as a person would in Asana's UI: it is back
    /// in its projects and sections, with its history.
    pub fn restore_task(&mut self, actor: &str, gid: &str) -> ApiResult<()> {
        if !self.tasks.get(gid).is_some_and(|t| t.deleted) {
            return Err(ApiError::bad_request("task is not in the trash"));
        }
        let now = self.now();
        self.task_mut(gid).deleted = false;
        self.task_mut(gid).modified_at = now;
        let streams = self.task_streams(gid);
        let resource = self.task_ref(gid);
        self.emit(&streams, actor, resource, "undeleted", None, None, now);
        Ok(())
    }

    /// A comment on a task: no synced field changes, but its story bumps `modified_at`
    /// (Asana's rule) and an event names the task.
    pub fn add_comment(&mut self, actor: &str, gid: &str) -> ApiResult<()> {
        let text = crate::repr::html_notes("A comment.");
        self.add_comment_story(actor, gid, text).map(|_| ())
    }

    pub fn add_tag(&mut self, actor: &str, task: &str, tag: &str) -> ApiResult<()> {
        self.live_task(task)?;
        if self.tag(tag).is_none() {
            return Err(ApiError::unrecognized_id("tag", tag));
        }
        if self.live_task(task)?.tags.iter().any(|t| t == tag) {
            return Ok(());
        }
        let now = self.now();
        self.attach_tag(actor, task, tag, now);
        Ok(())
    }

    fn attach_tag(&mut self, actor: &str, task: &str, tag: &str, now: Timestamp) {
        let t = self.task_mut(task);
        if t.tags.iter().any(|x| x == tag) {
            return;
        }
        t.tags.push(tag.to_owned());
        t.modified_at = now;
        let streams = self.task_streams(task);
        let value = self.tag_ref(tag);
        self.emit_changed_with(
            &streams,
            actor,
            task,
            "tags",
            "added",
            Some(("added_value", value)),
            now,
        );
        self.emit_story(&streams, actor, task, "added_to_tag", now);
    }

    pub fn remove_tag(&mut self, actor: &str, task: &str, tag: &str) -> ApiResult<()> {
        self.live_task(task)?;
        if self.tag(tag).is_none() {
            return Err(ApiError::unrecognized_id("tag", tag));
        }
        if !self.live_task(task)?.tags.iter().any(|t| t == tag) {
            return Ok(());
        }
        let now = self.now();
        let t = self.task_mut(task);
        t.tags.retain(|x| x != tag);
        t.modified_at = now;
        let streams = self.task_streams(task);
        let value = self.tag_ref(tag);
        self.emit_changed_with(
            &streams,
            actor,
            task,
            "tags",
            "removed",
            Some(("removed_value", value)),
            now,
        );
        self.emit_story(&streams, actor, task, "removed_from_tag", now);
        Ok(())
    }

    /// `addProject`: adds (or repositions) the task in a project, optionally in a section.
    /// Does not bump `modified_at` (Asana: moving containers does not).
    pub fn add_project(
        &mut self,
        actor: &str,
        task: &str,
        project: &str,
        section: Option<&str>,
        placement: &Placement,
    ) -> ApiResult<()> {
        self.live_task(task)?;
        if !self.projects.contains_key(project) {
            return Err(ApiError::unrecognized_id("project", project));
        }
        if let Some(s) = section {
            let sec = self
                .sections
                .get(s)
                .ok_or_else(|| ApiError::unrecognized_id("section", s))?;
            if sec.project != project {
                return Err(ApiError::bad_request(format!(
                    "section: Section {s} is not in project {project}"
                )));
            }
        }
        let already = self
            .live_task(task)?
            .memberships
            .iter()
            .find(|m| m.project == project)
            .cloned();
        if already.is_none() && self.live_task(task)?.memberships.len() >= 20 {
            return Err(ApiError::bad_request(
                "project: A task can be in at most 20 projects",
            ));
        }
        let now = self.now();
        let new_section = section
            .map(str::to_owned)
            .or_else(|| already.as_ref().and_then(|m| m.section.clone()));
        {
            let t = self.task_mut(task);
            t.memberships.retain(|m| m.project != project);
            t.memberships.push(Membership {
                project: project.to_owned(),
                section: new_section.clone(),
            });
        }
        // `section` alone puts the task at the end of that section (end of the order list).
        self.place(project, task, placement, false)?;
        let streams = self.task_streams(task);
        let resource = self.task_ref(task);
        if already.is_none() {
            let parent = self.project_ref(project);
            self.emit(
                &streams,
                actor,
                resource.clone(),
                "added",
                Some(parent),
                None,
                now,
            );
            self.emit_story(&streams, actor, task, "added_to_project", now);
        }
        if section.is_some() && already.as_ref().and_then(|m| m.section.clone()) != new_section {
            if let Some(old) = already.and_then(|m| m.section) {
                let parent = self.section_ref(&old);
                self.emit(
                    &streams,
                    actor,
                    resource.clone(),
                    "removed",
                    Some(parent),
                    None,
                    now,
                );
            }
            if let Some(s) = &new_section {
                let parent = self.section_ref(s);
                self.emit(&streams, actor, resource, "added", Some(parent), None, now);
            }
        }
        Ok(())
    }

    pub fn remove_project(&mut self, actor: &str, task: &str, project: &str) -> ApiResult<()> {
        self.live_task(task)?;
        if !self.projects.contains_key(project) {
            return Err(ApiError::unrecognized_id("project", project));
        }
        if !self
            .live_task(task)?
            .memberships
            .iter()
            .any(|m| m.project == project)
        {
            return Ok(());
        }
        let now = self.now();
        let streams = self.task_streams(task);
        self.task_mut(task)
            .memberships
            .retain(|m| m.project != project);
        if let Some(p) = self.projects.get_mut(project) {
            p.order.retain(|g| g != task);
        }
        let resource = self.task_ref(task);
        let parent = self.project_ref(project);
        self.emit(
            &streams,
            actor,
            resource,
            "removed",
            Some(parent),
            None,
            now,
        );
        self.emit_story(&streams, actor, task, "removed_from_project", now);
        Ok(())
    }

    /// `POST /sections/{s}/addTask`: moves the task into the section (top unless placed),
    /// out of the project's other sections. Does not bump `modified_at`.
    pub fn section_add_task(
        &mut self,
        actor: &str,
        section: &str,
        task: &str,
        placement: &Placement,
    ) -> ApiResult<()> {
        let project = self.section(section)?.project.clone();
        if self.tasks.get(task).is_none_or(|t| t.deleted) {
            return Err(ApiError::unrecognized_id("task", task));
        }
        if placement.insert_before.is_some() && placement.insert_after.is_some() {
            return Err(ApiError::bad_request(
                "insert_before, insert_after: Only one of insert_before and insert_after may be specified",
            ));
        }
        for anchor in [&placement.insert_before, &placement.insert_after]
            .into_iter()
            .flatten()
        {
            let in_section = self.tasks.get(anchor).is_some_and(|t| {
                t.memberships
                    .iter()
                    .any(|m| m.project == project && m.section.as_deref() == Some(section))
            });
            if !in_section {
                return Err(ApiError::bad_request(format!(
                    "insert_before/insert_after: Task {anchor} is not in section {section}"
                )));
            }
        }
        let old = self
            .live_task(task)?
            .memberships
            .iter()
            .find(|m| m.project == project)
            .cloned();
        let now = self.now();
        {
            let t = self.task_mut(task);
            t.memberships.retain(|m| m.project != project);
            t.memberships.push(Membership {
                project: project.clone(),
                section: Some(section.to_owned()),
            });
        }
        let at_top = placement.insert_before.is_none() && placement.insert_after.is_none();
        self.place(&project, task, placement, at_top)?;
        let streams = self.task_streams(task);
        let resource = self.task_ref(task);
        if old.is_none() {
            let parent = self.project_ref(&project);
            self.emit(
                &streams,
                actor,
                resource.clone(),
                "added",
                Some(parent),
                None,
                now,
            );
        }
        let old_section = old.and_then(|m| m.section);
        if old_section.as_deref() != Some(section) {
            if let Some(o) = old_section {
                let parent = self.section_ref(&o);
                self.emit(
                    &streams,
                    actor,
                    resource.clone(),
                    "removed",
                    Some(parent),
                    None,
                    now,
                );
            }
            let parent = self.section_ref(section);
            self.emit(&streams, actor, resource, "added", Some(parent), None, now);
            self.emit_story(&streams, actor, task, "section_changed", now);
        }
        Ok(())
    }

    /// Repositions `task` in `project`'s order list. `at_top` puts it first (the listing
    /// groups by section, so first-in-order = top of its section); otherwise at the end
    /// unless an anchor is given.
    fn place(
        &mut self,
        project: &str,
        task: &str,
        placement: &Placement,
        at_top: bool,
    ) -> ApiResult<()> {
        let Some(p) = self.projects.get_mut(project) else {
            return Err(ApiError::unrecognized_id("project", project));
        };
        let anchor_pos = |order: &Vec<String>, anchor: &str| order.iter().position(|g| g == anchor);
        p.order.retain(|g| g != task);
        if let Some(before) = &placement.insert_before {
            let pos = anchor_pos(&p.order, before).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "insert_before: Task {before} is not in project {project}"
                ))
            })?;
            p.order.insert(pos, task.to_owned());
        } else if let Some(after) = &placement.insert_after {
            let pos = anchor_pos(&p.order, after).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "insert_after: Task {after} is not in project {project}"
                ))
            })?;
            p.order.insert(pos + 1, task.to_owned());
        } else if at_top {
            p.order.insert(0, task.to_owned());
        } else {
            p.order.push(task.to_owned());
        }
        Ok(())
    }

    fn task_mut(&mut self, gid: &str) -> &mut Task {
        // Callers check `live_task` first; a miss here is a simulator bug.
        self.tasks
            .get_mut(gid)
            .expect("task checked to exist before mutation")
    }

    // ----- events -----

    /// Streams a task's events go to: the task itself and every project it is in.
    pub(crate) fn task_streams(&self, gid: &str) -> Vec<String> {
        let mut streams = vec![gid.to_owned()];
        if let Some(t) = self.tasks.get(gid) {
            streams.extend(t.memberships.iter().map(|m| m.project.clone()));
        }
        streams.extend(self.ancestor_streams(gid));
        streams
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn emit(
        &mut self,
        streams: &[String],
        actor: &str,
        resource: Value,
        action: &str,
        parent: Option<Value>,
        change: Option<Value>,
        at: Timestamp,
    ) {
        let user = self.user_ref(actor);
        let kind = resource
            .get("resource_type")
            .cloned()
            .unwrap_or(Value::Null);
        let mut event = json!({
            "user": user,
            "created_at": iso(at),
            "type": kind,
            "action": action,
            "resource": resource,
        });
        // The spec does not declare `parent` nullable, so it is left out rather than null.
        if let Some(parent) = parent {
            event["parent"] = parent;
        }
        if let Some(change) = change {
            event["change"] = change;
        }
        self.events.push(streams, event);
    }

    fn emit_changed(
        &mut self,
        streams: &[String],
        actor: &str,
        task: &str,
        field: &str,
        value: Option<(&str, Value)>,
        at: Timestamp,
    ) {
        self.emit_changed_with(streams, actor, task, field, "changed", value, at);
    }

    #[allow(clippy::too_many_arguments)]
    fn emit_changed_with(
        &mut self,
        streams: &[String],
        actor: &str,
        task: &str,
        field: &str,
        change_action: &str,
        value: Option<(&str, Value)>,
        at: Timestamp,
    ) {
        let mut change = json!({ "field": field, "action": change_action });
        if let Some((key, v)) = value {
            change[key] = v;
        }
        let resource = self.task_ref(task);
        self.emit(streams, actor, resource, "changed", None, Some(change), at);
    }

    /// A system story on the task ("events bubble up" to the project stream).
    fn emit_story(
        &mut self,
        streams: &[String],
        actor: &str,
        task: &str,
        subtype: &str,
        at: Timestamp,
    ) {
        let gid = self.gid();
        self.threads.record_system(&gid, task, subtype, actor, at);
        let resource = json!({
            "gid": gid, "resource_type": "story", "resource_subtype": subtype,
        });
        let parent = self.task_ref(task);
        self.emit(streams, actor, resource, "added", Some(parent), None, at);
    }

    // ----- compact references -----

    pub fn user_ref(&self, gid: &str) -> Value {
        let name = self.user(gid).map(|u| u.name.clone()).unwrap_or_default();
        json!({ "gid": gid, "resource_type": "user", "name": name })
    }

    pub fn project_ref(&self, gid: &str) -> Value {
        let name = self
            .projects
            .get(gid)
            .map(|p| p.name.clone())
            .unwrap_or_default();
        json!({ "gid": gid, "resource_type": "project", "name": name })
    }

    pub fn section_ref(&self, gid: &str) -> Value {
        let name = self
            .sections
            .get(gid)
            .map(|s| s.name.clone())
            .unwrap_or_default();
        json!({ "gid": gid, "resource_type": "section", "name": name })
    }

    pub fn tag_ref(&self, gid: &str) -> Value {
        let name = self.tag(gid).map(|t| t.name.clone()).unwrap_or_default();
        json!({ "gid": gid, "resource_type": "tag", "name": name })
    }

    pub fn task_ref(&self, gid: &str) -> Value {
        let name = self
            .tasks
            .get(gid)
            .map(|t| t.name.clone())
            .unwrap_or_default();
        json!({ "gid": gid, "resource_type": "task", "name": name })
    }

    pub fn workspace_ref(&self) -> Value {
        json!({ "gid": self.workspace_gid, "resource_type": "workspace", "name": self.workspace_name })
    }
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}
