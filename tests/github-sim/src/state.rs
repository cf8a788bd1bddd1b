//! The simulated repository: issues and pull requests (one numbering, as on GitHub),
//! labels, collaborators, and every mutation with GitHub's rules: `updated_at` moves when
//! something changes, closing sets `closed_at` and a `state_reason` (`completed` unless
//! told otherwise), reopening sets `reopened`, `state_reason` is ignored unless `state`
//! changes, unknown labels named on an issue are created, assignees must be collaborators
//! (`422` otherwise), titles are required and bodies are limited to 65,536 characters.
//!
//! It also keeps the repository's webhooks, and every change to an issue queues the
//! webhook events GitHub would send (`issues`, `issue_comment`; a new hook's `ping`) in
//! [`State::outbox`], with their payloads as of the change; [`crate::webhooks::flush`]
//! hands them to the delivery task.
//!
//! Issue comments and their rules live in [`comments`].

mod comments;

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ApiResult};
use crate::model::{Role, SimHook, SimIssue};
use crate::repr;

pub use comments::IssueComment;

/// GitHub refuses bodies longer than this (in characters).
pub const MAX_BODY_CHARS: usize = 65_536;
/// GitHub refuses titles longer than this (in characters).
pub const MAX_TITLE_CHARS: usize = 256;
/// GitHub refuses label names longer than this (in characters).
pub const MAX_LABEL_CHARS: usize = 50;

/// An issue that left the repository: `GET` answers `301` (transferred: GitHub redirects
/// to the issue in its new repository) or `410` (deleted by an admin).
#[derive(Clone, Debug)]
pub enum Gone {
    /// Transferred to `to_repo` (`owner/name`), where it is issue `to_number`.
    Transferred {
        to_repo: String,
        to_number: u64,
        issue: Box<Issue>,
    },
    /// Deleted.
    Deleted,
}

/// One issue or pull request.
#[derive(Clone, Debug)]
pub struct Issue {
    pub number: u64,
    pub id: u64,
    pub title: String,
    pub body: Option<String>,
    pub state: String,
    pub state_reason: Option<String>,
    /// Label ids.
    pub labels: Vec<u64>,
    /// Logins.
    pub assignees: Vec<String>,
    pub user: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub closed_at: Option<Timestamp>,
    pub closed_by: Option<String>,
    pub pull_request: bool,
    pub comments: u32,
    /// Changes made through the API.
    pub api_writes: u32,
}

/// One label.
#[derive(Clone, Debug)]
pub struct Label {
    pub id: u64,
    pub name: String,
    pub color: String,
    pub description: Option<String>,
}

/// Fields of a `PATCH` (or of a control-API edit); `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    pub title: Option<String>,
    pub body: Option<Option<String>>,
    pub state: Option<String>,
    pub state_reason: Option<Option<String>>,
    pub labels: Option<Vec<String>>,
    pub assignees: Option<Vec<String>>,
}

/// One repository webhook.
#[derive(Clone, Debug)]
pub struct Hook {
    pub id: u64,
    pub active: bool,
    pub events: Vec<String>,
    pub url: String,
    /// `json` or `form`.
    pub content_type: String,
    /// `None`: deliveries are not signed.
    pub secret: Option<String>,
    /// `"0"` or `"1"`.
    pub insecure_ssl: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// `last_response`: the status of the latest delivery's answer.
    pub last_code: Option<u16>,
    pub last_status: String,
    pub last_message: Option<String>,
}

impl Hook {
    /// Whether a delivery of `event` goes to this hook (a `ping` always does).
    pub fn wants(&self, event: &str) -> bool {
        event == "ping" || (self.active && self.events.iter().any(|e| e == event || e == "*"))
    }

    pub fn sim_hook(&self) -> SimHook {
        SimHook {
            id: self.id,
            url: self.url.clone(),
            events: self.events.clone(),
            active: self.active,
            content_type: self.content_type.clone(),
            has_secret: self.secret.is_some(),
            secret: self.secret.clone(),
        }
    }
}

/// A webhook's settings as a request gives them; `None` leaves (or defaults) a setting.
#[derive(Clone, Debug, Default)]
pub struct HookConfig {
    pub url: Option<String>,
    pub content_type: Option<String>,
    /// `Some(None)` (or an empty string) removes the secret.
    pub secret: Option<Option<String>>,
    pub insecure_ssl: Option<String>,
}

/// Changes of `PATCH /hooks/{id}`; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct HookChanges {
    pub config: Option<HookConfig>,
    pub events: Option<Vec<String>>,
    pub add_events: Vec<String>,
    pub remove_events: Vec<String>,
    pub active: Option<bool>,
}

/// A webhook event waiting to be handed to the delivery task.
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// `X-GitHub-Event`.
    pub event: &'static str,
    /// The payload's `action`, if any.
    pub action: Option<String>,
    /// Only to this hook (a `ping`); `None`: every hook that wants the event.
    pub only_hook: Option<u64>,
    pub payload: Value,
}

/// GitHub's zen sayings, sent in `ping` deliveries.
const ZEN: [&str; 5] = [
    "Keep it logically awesome.",
    "Design for failure.",
    "Speak like a human.",
    "Approachable is better than simple.",
    "Mind your words, they are important.",
];

/// The whole simulated world: one repository and its users.
#[derive(Debug)]
pub struct State {
    pub owner: String,
    pub name: String,
    pub repo_id: u64,
    /// The login the token belongs to.
    pub me: String,
    pub issues: BTreeMap<u64, Issue>,
    /// Issues transferred away or deleted, by their old number (never reused).
    pub gone: BTreeMap<u64, Gone>,
    pub labels: Vec<Label>,
    /// Login -> user id. Every known user is a collaborator (assignable).
    pub users: BTreeMap<String, u64>,
    /// The repository's webhooks, in creation order.
    pub hooks: Vec<Hook>,
    /// Webhook events not yet handed to the delivery task.
    pub outbox: Vec<Outgoing>,
    /// Issue comments by id (ids increase: this is creation order).
    pub comments: BTreeMap<u64, IssueComment>,
    /// The repository role of the token's user ([`State::me`]): whether it may edit and
    /// delete other people's comments.
    pub token_role: Role,
    next_id: u64,
    next_hook_id: u64,
}

/// Whole seconds, as GitHub's timestamps are.
pub fn now() -> Timestamp {
    let now = Timestamp::now();
    Timestamp::from_second(now.as_second()).unwrap_or(now)
}

/// `2011-04-22T13:33:48Z`.
pub fn iso(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl State {
    pub fn new(repo: &str) -> Self {
        let (owner, name) = repo.split_once('/').unwrap_or(("acme", repo));
        let mut state = Self {
            owner: owner.to_owned(),
            name: name.to_owned(),
            repo_id: 1_296_269,
            me: "asana-bridge-bot".to_owned(),
            issues: BTreeMap::new(),
            gone: BTreeMap::new(),
            labels: Vec::new(),
            users: BTreeMap::new(),
            hooks: Vec::new(),
            outbox: Vec::new(),
            comments: BTreeMap::new(),
            token_role: Role::Write,
            next_id: 1000,
            next_hook_id: 12_345_677,
        };
        let me = state.me.clone();
        state.add_user(&me);
        for (name, color) in [("bug", "d73a4a"), ("enhancement", "a2eeef")] {
            state.create_label(name, color, None).ok();
        }
        state
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Whether `owner/name` names this repository (case-insensitive, as GitHub).
    pub fn is_repo(&self, owner: &str, name: &str) -> bool {
        owner.eq_ignore_ascii_case(&self.owner) && name.eq_ignore_ascii_case(&self.name)
    }

    /// Adds a collaborator; returns its id.
    pub fn add_user(&mut self, login: &str) -> u64 {
        if let Some(id) = self.users.get(login) {
            return *id;
        }
        let id = self.id();
        self.users.insert(login.to_owned(), id);
        id
    }

    pub fn user_id(&self, login: &str) -> u64 {
        self.users.get(login).copied().unwrap_or(0)
    }

    pub fn label_by_name(&self, name: &str) -> Option<&Label> {
        self.labels
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(name))
    }

    pub fn label(&self, id: u64) -> Option<&Label> {
        self.labels.iter().find(|l| l.id == id)
    }

    /// `POST /labels`: `422 already_exists` for a name taken (case-insensitive).
    pub fn create_label(
        &mut self,
        name: &str,
        color: &str,
        description: Option<String>,
    ) -> ApiResult<u64> {
        let name = name.trim();
        if name.is_empty() {
            return Err(ApiError::invalid("Label", "name", "missing_field", None));
        }
        if name.chars().count() > MAX_LABEL_CHARS {
            return Err(ApiError::custom(
                "Label",
                Some("name"),
                &format!("name is too long (maximum is {MAX_LABEL_CHARS} characters)"),
            ));
        }
        if self.label_by_name(name).is_some() {
            return Err(ApiError::invalid(
                "Label",
                "name",
                "already_exists",
                Some(json!(name)),
            ));
        }
        let color = color.trim_start_matches('#');
        if color.len() != 6 || !color.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(ApiError::invalid(
                "Label",
                "color",
                "invalid",
                Some(json!(color)),
            ));
        }
        let id = self.id();
        self.labels.push(Label {
            id,
            name: name.to_owned(),
            color: color.to_lowercase(),
            description,
        });
        Ok(id)
    }

    /// Label ids for names, creating missing labels as GitHub does on issue writes.
    fn label_ids(&mut self, names: &[String]) -> ApiResult<Vec<u64>> {
        let mut ids = Vec::new();
        for name in names {
            let id = match self.label_by_name(name) {
                Some(l) => l.id,
                None => self.create_label(name, "ededed", None)?,
            };
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Assignees must be collaborators: `422` otherwise.
    fn check_assignees(&self, logins: &[String]) -> ApiResult<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for login in logins {
            if !self.users.contains_key(login) {
                return Err(ApiError::invalid(
                    "Issue",
                    "assignees",
                    "invalid",
                    Some(json!(login)),
                ));
            }
            if !out.contains(login) {
                out.push(login.clone());
            }
        }
        Ok(out)
    }

    /// `422 missing_field` for an empty title, `custom` for one over 256 characters.
    fn check_title(title: &str) -> ApiResult<()> {
        if title.trim().is_empty() {
            return Err(ApiError::invalid("Issue", "title", "missing_field", None));
        }
        if title.chars().count() > MAX_TITLE_CHARS {
            return Err(ApiError::custom(
                "Issue",
                Some("title"),
                &format!("title is too long (maximum is {MAX_TITLE_CHARS} characters)"),
            ));
        }
        Ok(())
    }

    fn check_body(body: Option<&String>) -> ApiResult<()> {
        match body {
            Some(b) if b.chars().count() > MAX_BODY_CHARS => Err(ApiError::invalid(
                "Issue", "body", "custom", None,
            )
            .with_message("Validation Failed: body is too long (maximum is 65536 characters)")),
            _ => Ok(()),
        }
    }

    /// Opens an issue (or, with `pull_request`, a pull request) as `actor`.
    pub fn create_issue(
        &mut self,
        actor: &str,
        title: &str,
        body: Option<String>,
        labels: &[String],
        assignees: &[String],
        pull_request: bool,
    ) -> ApiResult<u64> {
        Self::check_title(title)?;
        Self::check_body(body.as_ref())?;
        let assignees = self.check_assignees(assignees)?;
        let labels = self.label_ids(labels)?;
        let number = self
            .issues
            .keys()
            .chain(self.gone.keys())
            .max()
            .map_or(1, |n| n + 1);
        let id = self.id();
        let at = now();
        self.issues.insert(
            number,
            Issue {
                number,
                id,
                title: title.to_owned(),
                body,
                state: "open".to_owned(),
                state_reason: None,
                labels,
                assignees,
                user: actor.to_owned(),
                created_at: at,
                updated_at: at,
                closed_at: None,
                closed_by: None,
                pull_request,
                comments: 0,
                api_writes: 0,
            },
        );
        if !pull_request {
            self.emit_issue(actor, number, "opened", Map::new());
        }
        Ok(number)
    }

    /// Applies `changes` to issue `number` as `actor`; `updated_at` moves only when
    /// something changed. Returns whether something did.
    pub fn update_issue(&mut self, actor: &str, number: u64, changes: Changes) -> ApiResult<bool> {
        if !self.issues.contains_key(&number) {
            return Err(ApiError::not_found());
        }
        if let Some(title) = &changes.title {
            Self::check_title(title)?;
        }
        if let Some(body) = &changes.body {
            Self::check_body(body.as_ref())?;
        }
        if let Some(state) = &changes.state
            && state != "open"
            && state != "closed"
        {
            return Err(ApiError::invalid(
                "Issue",
                "state",
                "invalid",
                Some(json!(state)),
            ));
        }
        if let Some(Some(reason)) = &changes.state_reason
            && !["completed", "not_planned", "duplicate", "reopened"].contains(&reason.as_str())
        {
            return Err(ApiError::invalid(
                "Issue",
                "state_reason",
                "invalid",
                Some(json!(reason)),
            ));
        }
        let assignees = match &changes.assignees {
            Some(a) => Some(self.check_assignees(a)?),
            None => None,
        };
        let labels = match &changes.labels {
            Some(l) => Some(self.label_ids(l)?),
            None => None,
        };
        let at = now();
        let issue = self
            .issues
            .get_mut(&number)
            .ok_or_else(ApiError::not_found)?;
        let before = issue.clone();
        let mut changed = false;
        if let Some(title) = changes.title
            && title != issue.title
        {
            issue.title = title;
            changed = true;
        }
        if let Some(body) = changes.body
            && body != issue.body
        {
            issue.body = body;
            changed = true;
        }
        if let Some(state) = changes.state
            && state != issue.state
        {
            if state == "closed" {
                issue.closed_at = Some(at);
                issue.closed_by = Some(actor.to_owned());
                issue.state_reason = Some(
                    changes
                        .state_reason
                        .flatten()
                        .filter(|r| r != "reopened")
                        .unwrap_or_else(|| "completed".to_owned()),
                );
            } else {
                issue.closed_at = None;
                issue.closed_by = None;
                issue.state_reason = Some("reopened".to_owned());
            }
            issue.state = state;
            changed = true;
        }
        if let Some(labels) = labels
            && labels != issue.labels
        {
            issue.labels = labels;
            changed = true;
        }
        if let Some(assignees) = assignees
            && assignees != issue.assignees
        {
            issue.assignees = assignees;
            changed = true;
        }
        if changed {
            issue.updated_at = at;
            self.issue_events(actor, &before);
        }
        Ok(changed)
    }

    /// Transfers issue `number` to `to_repo` (`owner/name`), where it becomes `to_number`:
    /// it leaves this repository, and a `GET` of its old address answers `301`.
    pub fn transfer_issue(&mut self, number: u64, to_repo: &str, to_number: u64) -> ApiResult<()> {
        let issue = self
            .issues
            .remove(&number)
            .ok_or_else(ApiError::not_found)?;
        self.comments.retain(|_, c| c.issue != number);
        self.gone.insert(
            number,
            Gone::Transferred {
                to_repo: to_repo.to_owned(),
                to_number,
                issue: Box::new(issue),
            },
        );
        Ok(())
    }

    /// Deletes issue `number` as an admin can: a `GET` of it answers `410`.
    pub fn delete_issue(&mut self, number: u64) -> ApiResult<()> {
        self.issues
            .remove(&number)
            .ok_or_else(ApiError::not_found)?;
        self.comments.retain(|_, c| c.issue != number);
        self.gone.insert(number, Gone::Deleted);
        Ok(())
    }

    /// The issue transferred to `owner/name` as `number`, if one was.
    pub fn transferred_to(&self, owner: &str, name: &str, number: u64) -> Option<&Issue> {
        self.gone.values().find_map(|g| match g {
            Gone::Transferred {
                to_repo,
                to_number,
                issue,
            } if *to_number == number
                && to_repo.eq_ignore_ascii_case(&format!("{owner}/{name}")) =>
            {
                Some(&**issue)
            }
            _ => None,
        })
    }

    /// `{action, issue, ...extra, repository, sender}`.
    fn issue_payload(
        &self,
        actor: &str,
        issue: &Issue,
        action: &str,
        extra: Map<String, Value>,
    ) -> Value {
        let mut payload = Map::new();
        payload.insert("action".to_owned(), json!(action));
        payload.insert("issue".to_owned(), repr::issue(self, issue));
        payload.extend(extra);
        payload.insert("repository".to_owned(), repr::repository(self));
        payload.insert("sender".to_owned(), repr::simple_user(self, actor));
        Value::Object(payload)
    }

    /// Queues an `issues` event about issue `number` (not for pull requests, which GitHub
    /// reports as `pull_request` events), if a hook wants it.
    fn emit_issue(&mut self, actor: &str, number: u64, action: &str, extra: Map<String, Value>) {
        let Some(issue) = self.issues.get(&number) else {
            return;
        };
        if issue.pull_request || !self.hooks.iter().any(|h| h.wants("issues")) {
            return;
        }
        let payload = self.issue_payload(actor, issue, action, extra);
        self.outbox.push(Outgoing {
            event: "issues",
            action: Some(action.to_owned()),
            only_hook: None,
            payload,
        });
    }

    /// The `issues` events of a change from `before` to the issue's current state, as
    /// GitHub sends them: `edited` (with `changes.{title,body}.from`), `closed` or
    /// `reopened`, one `labeled`/`unlabeled` per label and one `assigned`/`unassigned` per
    /// assignee.
    fn issue_events(&mut self, actor: &str, before: &Issue) {
        let number = before.number;
        let Some(after) = self.issues.get(&number).cloned() else {
            return;
        };
        let mut changes = Map::new();
        if before.title != after.title {
            changes.insert("title".to_owned(), json!({"from": before.title}));
        }
        if before.body != after.body {
            changes.insert("body".to_owned(), json!({"from": before.body}));
        }
        if !changes.is_empty() {
            let mut extra = Map::new();
            extra.insert("changes".to_owned(), Value::Object(changes));
            self.emit_issue(actor, number, "edited", extra);
        }
        if before.state != after.state {
            let action = if after.state == "closed" {
                "closed"
            } else {
                "reopened"
            };
            self.emit_issue(actor, number, action, Map::new());
        }
        let label_events = after
            .labels
            .iter()
            .filter(|id| !before.labels.contains(id))
            .map(|id| ("labeled", *id))
            .chain(
                before
                    .labels
                    .iter()
                    .filter(|id| !after.labels.contains(id))
                    .map(|id| ("unlabeled", *id)),
            )
            .collect::<Vec<_>>();
        for (action, id) in label_events {
            let mut extra = Map::new();
            if let Some(l) = self.label(id) {
                extra.insert("label".to_owned(), repr::label(self, l));
            }
            self.emit_issue(actor, number, action, extra);
        }
        let assignee_events = after
            .assignees
            .iter()
            .filter(|a| !before.assignees.contains(a))
            .map(|a| ("assigned", a.clone()))
            .chain(
                before
                    .assignees
                    .iter()
                    .filter(|a| !after.assignees.contains(a))
                    .map(|a| ("unassigned", a.clone())),
            )
            .collect::<Vec<_>>();
        for (action, login) in assignee_events {
            let mut extra = Map::new();
            extra.insert("assignee".to_owned(), repr::simple_user(self, &login));
            self.emit_issue(actor, number, action, extra);
        }
    }

    pub fn hook(&self, id: u64) -> Option<&Hook> {
        self.hooks.iter().find(|h| h.id == id)
    }

    /// Checks a webhook's settings (merged over `base`, for an update) as GitHub does:
    /// `config.url` is required and must be an http(s) URL no other hook of the repository
    /// uses, `content_type` is `json` or `form`, `insecure_ssl` is `0` or `1`.
    fn check_hook_config(&self, id: Option<u64>, config: &HookConfig) -> ApiResult<()> {
        let Some(url) = config.url.as_deref().filter(|u| !u.trim().is_empty()) else {
            return Err(ApiError::custom(
                "Hook",
                Some("url"),
                "Config must contain URL for webhooks",
            ));
        };
        let valid = reqwest::Url::parse(url).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
        });
        if !valid {
            return Err(ApiError::custom(
                "Hook",
                Some("url"),
                &format!("Config url {url} is not a valid http or https URL"),
            ));
        }
        if self.hooks.iter().any(|h| Some(h.id) != id && h.url == url) {
            return Err(ApiError::custom(
                "Hook",
                None,
                "Hook already exists on this repository",
            ));
        }
        if let Some(ct) = &config.content_type
            && ct != "json"
            && ct != "form"
        {
            return Err(ApiError::invalid(
                "Hook",
                "content_type",
                "invalid",
                Some(json!(ct)),
            ));
        }
        if let Some(ssl) = &config.insecure_ssl
            && ssl != "0"
            && ssl != "1"
        {
            return Err(ApiError::invalid(
                "Hook",
                "insecure_ssl",
                "invalid",
                Some(json!(ssl)),
            ));
        }
        Ok(())
    }

    /// `POST /hooks` as `actor`: a new hook (ids increase), and its `ping` queued.
    pub fn create_hook(
        &mut self,
        actor: &str,
        active: bool,
        events: &[String],
        config: HookConfig,
    ) -> ApiResult<u64> {
        self.check_hook_config(None, &config)?;
        self.next_hook_id += 1;
        let id = self.next_hook_id;
        let at = now();
        let mut unique: Vec<String> = Vec::new();
        for e in events {
            if !unique.contains(e) {
                unique.push(e.clone());
            }
        }
        self.hooks.push(Hook {
            id,
            active,
            events: unique,
            url: config.url.unwrap_or_default(),
            content_type: config.content_type.unwrap_or_else(|| "form".to_owned()),
            secret: config.secret.flatten().filter(|s| !s.is_empty()),
            insecure_ssl: config.insecure_ssl.unwrap_or_else(|| "0".to_owned()),
            created_at: at,
            updated_at: at,
            last_code: None,
            last_status: "unused".to_owned(),
            last_message: None,
        });
        let hook = &self.hooks[self.hooks.len() - 1];
        let zen = ZEN[usize::try_from(id).unwrap_or(0) % ZEN.len()];
        let payload = json!({
            "zen": zen,
            "hook_id": id,
            "hook": repr::hook(self, hook),
            "repository": repr::repository(self),
            "sender": repr::simple_user(self, actor),
        });
        self.outbox.push(Outgoing {
            event: "ping",
            action: None,
            only_hook: Some(id),
            payload,
        });
        Ok(id)
    }

    /// `PATCH /hooks/{id}`: `config` keys given replace the current ones, `events`
    /// replaces the list, `add_events`/`remove_events` edit it.
    pub fn update_hook(&mut self, id: u64, changes: HookChanges) -> ApiResult<()> {
        let hook = self.hook(id).ok_or_else(ApiError::not_found)?.clone();
        let config = changes.config.unwrap_or_default();
        let merged = HookConfig {
            url: config.url.or(Some(hook.url.clone())),
            content_type: config.content_type.or(Some(hook.content_type.clone())),
            secret: config.secret.or(Some(hook.secret.clone())),
            insecure_ssl: config.insecure_ssl.or(Some(hook.insecure_ssl.clone())),
        };
        self.check_hook_config(Some(id), &merged)?;
        let mut events = changes.events.unwrap_or(hook.events);
        for e in changes.add_events {
            if !events.contains(&e) {
                events.push(e);
            }
        }
        events.retain(|e| !changes.remove_events.contains(e));
        let at = now();
        let hook = self
            .hooks
            .iter_mut()
            .find(|h| h.id == id)
            .ok_or_else(ApiError::not_found)?;
        hook.url = merged.url.unwrap_or_default();
        hook.content_type = merged.content_type.unwrap_or_else(|| "form".to_owned());
        hook.secret = merged.secret.flatten().filter(|s| !s.is_empty());
        hook.insecure_ssl = merged.insecure_ssl.unwrap_or_else(|| "0".to_owned());
        hook.events = events;
        if let Some(active) = changes.active {
            hook.active = active;
        }
        hook.updated_at = at;
        Ok(())
    }

    /// `DELETE /hooks/{id}`.
    pub fn delete_hook(&mut self, id: u64) -> ApiResult<()> {
        let before = self.hooks.len();
        self.hooks.retain(|h| h.id != id);
        if self.hooks.len() == before {
            Err(ApiError::not_found())
        } else {
            Ok(())
        }
    }

    /// The flattened view tests assert on.
    pub fn sim_issue(&self, issue: &Issue) -> SimIssue {
        let mut labels: Vec<String> = issue
            .labels
            .iter()
            .filter_map(|id| self.label(*id).map(|l| l.name.clone()))
            .collect();
        labels.sort();
        SimIssue {
            number: issue.number,
            title: issue.title.clone(),
            body: issue.body.clone(),
            state: issue.state.clone(),
            state_reason: issue.state_reason.clone(),
            labels,
            assignees: issue.assignees.clone(),
            is_pull_request: issue.pull_request,
            updated_at: iso(issue.updated_at),
            api_writes: issue.api_writes,
        }
    }
}

impl ApiError {
    /// The same error with another top-level message.
    #[must_use]
    pub fn with_message(mut self, message: &str) -> Self {
        message.clone_into(&mut self.message);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Closing defaults to `completed`, reopening says `reopened`, a no-op keeps
    /// `updated_at`, and `state_reason` alone changes nothing.
    #[test]
    fn state_rules() {
        let mut st = State::new("acme/app");
        let n = st
            .create_issue("bob", "T", None, &[], &[], false)
            .expect("created");
        let changed = st
            .update_issue(
                "bob",
                n,
                Changes {
                    state_reason: Some(Some("not_planned".into())),
                    ..Changes::default()
                },
            )
            .expect("ok");
        assert!(!changed);
        st.update_issue(
            "bob",
            n,
            Changes {
                state: Some("closed".into()),
                ..Changes::default()
            },
        )
        .expect("closed");
        assert_eq!(st.issues[&n].state_reason.as_deref(), Some("completed"));
        st.update_issue(
            "bob",
            n,
            Changes {
                state: Some("open".into()),
                ..Changes::default()
            },
        )
        .expect("reopened");
        assert_eq!(st.issues[&n].state_reason.as_deref(), Some("reopened"));
        assert!(st.issues[&n].closed_at.is_none());
    }

    /// Unknown assignees are a 422; unknown labels are created.
    #[test]
    fn assignees_validated_labels_created() {
        let mut st = State::new("acme/app");
        let err = st
            .create_issue("bob", "T", None, &[], &["nobody".into()], false)
            .expect_err("422");
        assert_eq!(err.status.as_u16(), 422);
        let n = st
            .create_issue("bob", "T", None, &["new-one".into()], &[], false)
            .expect("created");
        assert!(st.label_by_name("NEW-ONE").is_some());
        assert_eq!(
            st.sim_issue(&st.issues[&n]).labels,
            vec!["new-one".to_owned()]
        );
    }

    /// GitHub's limits: a title over 256, a label over 50 characters, an empty title.
    #[test]
    fn length_limits_are_validation_errors() {
        let mut st = State::new("acme/app");
        let long = "t".repeat(257);
        let err = st
            .create_issue("bob", &long, None, &[], &[], false)
            .expect_err("422");
        assert_eq!(
            (err.status.as_u16(), err.errors[0]["field"].as_str()),
            (422, Some("title"))
        );
        assert!(
            st.create_issue("bob", &"t".repeat(256), None, &[], &[], false)
                .is_ok()
        );
        let err = st
            .create_issue("bob", "T", None, &["l".repeat(51)], &[], false)
            .expect_err("422");
        assert_eq!(err.errors[0]["resource"], "Label");
        assert_eq!(err.errors[0]["field"], "name");
        let err = st
            .create_issue("bob", "  ", None, &[], &[], false)
            .expect_err("422");
        assert_eq!(err.errors[0]["code"], "missing_field");
    }

    /// A transferred or deleted issue leaves, and its number is never reused.
    #[test]
    fn gone_issues_keep_their_numbers() {
        let mut st = State::new("acme/app");
        let a = st
            .create_issue("bob", "A", None, &[], &[], false)
            .expect("a");
        let b = st
            .create_issue("bob", "B", None, &[], &[], false)
            .expect("b");
        st.transfer_issue(b, "acme/other", 7).expect("moved");
        assert!(st.transferred_to("Acme", "Other", 7).is_some());
        st.delete_issue(a).expect("deleted");
        let c = st
            .create_issue("bob", "C", None, &[], &[], false)
            .expect("c");
        assert_eq!(c, 3);
        assert!(matches!(st.gone.get(&a), Some(Gone::Deleted)));
    }
}
