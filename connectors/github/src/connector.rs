//! [`GithubConnector`]: the [`Connector`] of one repository's issues.
//!
//! Request budget, per operation:
//! - `list_page`: one conditional `GET /repos/{o}/{r}/issues?state=all&sort=created&
//!   direction=asc&per_page=100` per page, following `Link`. Sorting by creation keeps
//!   pages stable, so an edit changes one page's `ETag` and every other page answers `304`
//!   (free of rate limit). Pull requests and issues the bridge deleted are skipped; an
//!   issue seen twice in one listing (moved between pages) is listed once.
//! - `get_many`: one conditional `GET /repos/{o}/{r}/issues/{n}` per id.
//! - `changes`: not offered ([`asana_bridge_connector::Changes::Unsupported`]). The listing with `ETag`s costs
//!   nothing while nothing changed, and only a full listing shows an issue that went away;
//!   `watch` learns of changes sooner from the repository's webhook.
//! - `create`: the repository's labels once per run (plus one `POST /labels` per missing
//!   label), then `POST /issues`, and a `PATCH` to close it when the task is completed.
//! - `update`, `delete`: one `PATCH /issues/{n}` (plus missing labels; a second `PATCH`
//!   without the fields a `422` named).
//! - `set_partner`: nothing. The pairing lives in the bridge's records
//!   ([`Identity::Record`]); only issues the bridge creates carry the footer.
//! - `whereabouts`: one `GET /issues/{n}`, its `301` not followed.
//! - `create` of a task the bridge had deleted: the issues labelled [`DELETED_LABEL`] are
//!   listed once per run, and the one naming the task is reopened instead.
//!
//! Every `POST` first takes a slot of the [`CreationBudget`] (about 500 an hour, kept
//! across runs): beyond it the create is postponed ([`ConnectorError::Postponed`]).
//!
//! Every write goes through one [`Pacer`]: serial, spaced as GitHub's secondary limits ask.
//!
//! Deletion: GitHub does not let a normal token delete issues, so `delete` closes the issue
//! as `not_planned` and adds the label [`DELETED_LABEL`]; listings skip issues that carry
//! it, so the issue has left the link, and its history stays on GitHub. Removing the label
//! brings the issue back into the link.
//!
//! Assignees: the `[users]` table maps Asana e-mails to logins. Writing an e-mail the table
//! does not map leaves the issue's assignees untouched; writing a mapped one (or none)
//! replaces only the mapped logins, so people the table does not know are left alone.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use asana_bridge_connector::http::{HttpClient, Idempotency, Request, Response};
use asana_bridge_connector::{
    Connector, ConnectorError, Field, FieldError, Identity, Item, ItemError, Page, PageToken,
    SubtaskLine, TargetThread, TaskFields, TaskPatch, Whereabouts,
};
use async_trait::async_trait;
use reqwest::Method;
use reqwest::header::{self, HeaderValue};
use serde_json::{Map, Value, json};
use tracing::{debug, info};

use crate::budget::CreationBudget;
use crate::cache::{Entry, EtagCache};
use crate::convert::{DELETED_LABEL, is_deleted, to_item};
use crate::limits::{self, body_problem, label_problem, title_problem};
use crate::pacer::Pacer;
use crate::settings::GithubSettings;
use crate::wire::{Issue, Label};
use crate::{footer, links};

/// Page size of every list request (GitHub's maximum).
pub const PAGE_SIZE: u32 = 100;
/// GitHub refuses issue bodies longer than this many characters.
pub const MAX_BODY_CHARS: usize = limits::MAX_BODY_CHARS;
/// Colour of the labels the bridge creates.
const LABEL_COLOR: &str = "ededed";

/// The GitHub side of one link: one repository.
#[derive(Debug)]
pub struct GithubConnector {
    http: HttpClient,
    settings: GithubSettings,
    /// Lower-case login -> e-mail: the `[users]` table read backwards.
    emails: HashMap<String, String>,
    pacer: Pacer,
    pub(crate) cache: EtagCache,
    /// Who the token's user is, read once when comments need it.
    pub(crate) me: crate::comments::Me,
    /// Lower-case label name -> name, filled once per run when a write needs labels. A
    /// tokio mutex: held across the listing so concurrent writers wait for one listing.
    labels: tokio::sync::Mutex<Option<HashMap<String, String>>>,
    /// Issue numbers already returned by the current listing.
    listed: Mutex<HashSet<u64>>,
    /// Each issue's assignee logins as last read, so a write can keep unmapped ones.
    assignees: Mutex<HashMap<u64, Vec<String>>>,
    /// How many comments each issue had when last read (an issue without any is not
    /// asked for them).
    comment_counts: Mutex<HashMap<u64, u64>>,
    /// When each issue's comments last changed (see [`crate::comment_marks`]).
    comment_marks: Mutex<crate::comment_marks::CommentMarks>,
    /// Each issue's `## Subtasks` lines as last read (`None`: no section), kept on every
    /// write of its notes.
    subtask_lines: Mutex<HashMap<u64, Option<Vec<SubtaskLine>>>>,
    /// Issues last read as assigned only to logins the `[users]` table does not map: their
    /// `assignee: None` is "someone Asana cannot name", not "unassigned".
    unknown_assignee: Mutex<HashSet<u64>>,
    /// Content creations of the last hour, across runs.
    budget: CreationBudget,
    /// Fields the writes since the engine last asked did not set.
    field_errors: Mutex<Vec<FieldError>>,
    /// Task gid -> number of the issues the bridge closed as deleted (label
    /// [`DELETED_LABEL`], footer naming the gid): read once per run, when a create needs it.
    deleted: tokio::sync::Mutex<Option<HashMap<String, u64>>>,
}

/// What a conditional GET returned.
pub(crate) struct Fetched {
    pub(crate) body: String,
    pub(crate) link: Option<String>,
}

impl GithubConnector {
    /// The connector of the repository in `settings`, over `http` (built from
    /// [`crate::http_config`]).
    #[must_use]
    pub fn new(http: HttpClient, settings: GithubSettings) -> Self {
        let emails = settings
            .users
            .iter()
            .map(|(email, login)| (login.to_lowercase(), email.clone()))
            .collect();
        Self {
            pacer: Pacer::new(settings.mutation_spacing),
            cache: EtagCache::new(settings.etag_cache.clone()),
            budget: CreationBudget::new(settings.creates_per_hour, settings.budget_file.clone()),
            unknown_assignee: Mutex::new(HashSet::new()),
            subtask_lines: Mutex::new(HashMap::new()),
            comment_counts: Mutex::new(HashMap::new()),
            comment_marks: Mutex::new(crate::comment_marks::CommentMarks::load(
                settings.comment_marks.clone(),
            )),
            field_errors: Mutex::new(Vec::new()),
            deleted: tokio::sync::Mutex::new(None),
            me: crate::comments::Me::default(),
            http,
            settings,
            emails,
            labels: tokio::sync::Mutex::new(None),
            listed: Mutex::new(HashSet::new()),
            assignees: Mutex::new(HashMap::new()),
        }
    }

    /// The shared HTTP layer (request counts, for tests and reports).
    #[must_use]
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// The repository, `owner/name`.
    #[must_use]
    pub fn repo(&self) -> String {
        format!("{}/{}", self.settings.owner, self.settings.name)
    }

    /// The mutation pacer (every write goes through it).
    pub(crate) fn pacer(&self) -> &Pacer {
        &self.pacer
    }

    /// Whether `issue` belongs to this repository (a followed redirect may bring one of
    /// another: a transferred issue).
    fn is_ours(&self, issue: &Issue) -> bool {
        issue.repository_url.as_deref().is_none_or(|url| {
            url.to_lowercase()
                .ends_with(&format!("/repos/{}", self.repo()).to_lowercase())
        })
    }

    pub(crate) fn repo_path(&self) -> String {
        format!("/repos/{}/{}", self.settings.owner, self.settings.name)
    }

    fn list_url(&self) -> String {
        format!(
            "{}/issues?state=all&sort=created&direction=asc&per_page={PAGE_SIZE}",
            self.repo_path()
        )
    }

    /// A GET with `If-None-Match` from the cache; a `304` answers from the cache.
    pub(crate) async fn fetch(&self, url: &str) -> Result<Fetched, ConnectorError> {
        let cached = self.cache.get(url);
        let mut request = Request::get(url).pass_through(304);
        if let Some(value) = cached
            .as_ref()
            .and_then(|c| HeaderValue::from_str(&c.etag).ok())
        {
            request = request.header(header::IF_NONE_MATCH, value);
        }
        let response = self.http.send(request).await?;
        if response.status == 304 {
            return match cached {
                Some(entry) => Ok(Fetched {
                    body: entry.body,
                    link: entry.link,
                }),
                None => Err(ConnectorError::Decode {
                    service: "github",
                    message: format!("GET {url}: 304 Not Modified to a request that named no ETag"),
                }),
            };
        }
        let body = String::from_utf8_lossy(&response.body).into_owned();
        let link = header_str(&response, header::LINK);
        if let Some(etag) = header_str(&response, header::ETAG) {
            self.cache.put(
                url,
                Entry {
                    etag,
                    body: body.clone(),
                    link: link.clone(),
                    used: true,
                },
            );
        }
        Ok(Fetched { body, link })
    }

    /// Issues of one list answer; bad ones become item errors, pull requests are dropped.
    fn decode_list(&self, body: &str) -> Result<(Vec<Issue>, Vec<ItemError>), ConnectorError> {
        let values: Vec<Value> =
            serde_json::from_str(body).map_err(|e| ConnectorError::Decode {
                service: "github",
                message: format!("the issue list is not a JSON array: {e}"),
            })?;
        let mut issues = Vec::new();
        let mut errors = Vec::new();
        for value in values {
            if value.get("pull_request").is_some_and(|v| !v.is_null()) {
                continue;
            }
            let number = value.get("number").and_then(Value::as_u64);
            match serde_json::from_value::<Issue>(value) {
                Ok(issue) => issues.push(issue),
                Err(e) => errors.push(ItemError {
                    id: number.map(|n| n.to_string()),
                    partner: None,
                    error: ConnectorError::Decode {
                        service: "github",
                        message: format!("issue #{}: {e}", number.unwrap_or_default()),
                    },
                }),
            }
        }
        Ok((issues, errors))
    }

    /// Reads an issue into an item and remembers its assignee logins and its body's
    /// subtask lines.
    pub(crate) fn item(&self, issue: &Issue) -> Result<Item, ConnectorError> {
        self.remember_assignees(issue);
        self.remember_body(issue);
        let mut item = to_item(issue, &self.emails)?;
        // A comment edited changes no field of the issue: its mark does.
        if let Some(mark) = lock(&self.comment_marks).of(issue.number) {
            item.revision = item.revision.map(|r| format!("{r}/c{mark:016x}"));
        }
        Ok(item)
    }

    /// Reads the repository's comments changed since the last run into the marks (one
    /// conditional request when nothing changed).
    async fn refresh_comment_marks(&self) -> Result<(), ConnectorError> {
        let since = lock(&self.comment_marks).since;
        let feed = crate::comments::changed_since(self, since).await?;
        let mut marks = lock(&self.comment_marks);
        marks.take(
            feed.comments.iter().filter_map(|c| {
                Some(crate::comment_marks::Listed {
                    id: c.comment.remote_id.parse().ok()?,
                    issue: c.issue,
                    updated_at: c.updated_at,
                    body: &c.comment.body,
                })
            }),
            feed.cursor,
        );
        marks.save();
        Ok(())
    }

    /// Remembers the subtask lines of `issue`'s body, kept on every write of its notes.
    pub(crate) fn remember_body(&self, issue: &Issue) {
        let (_, lines, _) = crate::threads::parts(issue.body.as_deref().unwrap_or(""));
        lock(&self.subtask_lines).insert(issue.number, lines);
        if let Some(count) = issue.comments {
            lock(&self.comment_counts).insert(issue.number, count);
        }
    }

    /// How many comments issue `n` had when last read in this process, if it was.
    pub(crate) fn comment_count(&self, n: u64) -> Option<u64> {
        lock(&self.comment_counts).get(&n).copied()
    }

    /// The subtask lines of issue `n`'s body as last read in this process (`None`: not
    /// read; `Some(None)`: no section).
    pub(crate) fn subtask_lines(&self, n: u64) -> Option<Option<Vec<SubtaskLine>>> {
        lock(&self.subtask_lines).get(&n).cloned()
    }

    fn remember_assignees(&self, issue: &Issue) {
        let logins = issue.assignee_logins();
        let unknown = !logins.is_empty()
            && logins
                .iter()
                .all(|l| !self.emails.contains_key(&l.to_lowercase()));
        if unknown {
            lock(&self.unknown_assignee).insert(issue.number);
        } else {
            lock(&self.unknown_assignee).remove(&issue.number);
        }
        lock(&self.assignees).insert(issue.number, logins);
    }

    /// The issue `number`, read fresh (used when a write needs its current assignees).
    pub(crate) async fn issue(&self, number: u64) -> Result<Issue, ConnectorError> {
        let fetched = self
            .fetch(&format!("{}/issues/{number}", self.repo_path()))
            .await?;
        decode_issue(&fetched.body)
    }

    /// The tags GitHub can hold as labels, one per name ignoring case (labels are
    /// case-insensitive: `Bug` and `bug` are one label), and a line for each tag it
    /// cannot (too long).
    fn usable_labels(tags: &[String]) -> (Vec<String>, Vec<String>) {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut problems = Vec::new();
        for tag in tags {
            if let Some(problem) = label_problem(tag) {
                problems.push(problem);
            } else if seen.insert(tag.to_lowercase()) {
                out.push(tag.clone());
            }
        }
        (out, problems)
    }

    /// Makes sure every label in `names` exists, creating the missing ones. Returns the
    /// names as the repository spells them (one per name ignoring case), and a line for
    /// each label GitHub refused to create (the others go on).
    async fn ensure_labels(
        &self,
        names: &[String],
    ) -> Result<(Vec<String>, Vec<String>), ConnectorError> {
        let mut problems = Vec::new();
        if names.is_empty() {
            return Ok((Vec::new(), problems));
        }
        let mut guard = self.labels.lock().await;
        if guard.is_none() {
            let mut known = HashMap::new();
            let mut url = Some(format!("{}/labels?per_page={PAGE_SIZE}", self.repo_path()));
            while let Some(current) = url.take() {
                let fetched = self.fetch(&current).await?;
                let page: Vec<Label> =
                    serde_json::from_str(&fetched.body).map_err(|e| ConnectorError::Decode {
                        service: "github",
                        message: format!("GET {current}: not a label list: {e}"),
                    })?;
                for label in page {
                    known.insert(label.name.to_lowercase(), label.name);
                }
                url = fetched.link.as_deref().and_then(links::next);
            }
            *guard = Some(known);
        }
        let known = guard.get_or_insert_with(HashMap::new);
        let mut out: Vec<String> = Vec::with_capacity(names.len());
        for name in names {
            let key = name.to_lowercase();
            if let Some(existing) = known.get(&key) {
                if !out.iter().any(|o| o.eq_ignore_ascii_case(existing)) {
                    out.push(existing.clone());
                }
                continue;
            }
            let request = Request::post(
                format!("{}/labels", self.repo_path()),
                json!({"name": name, "color": LABEL_COLOR}),
            )
            // Creating a label twice is refused (422), never duplicated.
            .idempotency(Idempotency::Safe)
            .pass_through(422);
            let response = self.post(request).await?;
            if response.status == 422
                && !String::from_utf8_lossy(&response.body).contains("already_exists")
            {
                for refusal in limits::refusals(&response.body) {
                    problems.push(format!(
                        "label {}: {}",
                        limits::shorten(name),
                        refusal.message
                    ));
                }
                continue;
            }
            debug!(label = %name, "label created");
            known.insert(key, name.clone());
            out.push(name.clone());
        }
        Ok((out, problems))
    }

    /// Sends a content-creating `POST` within the creation budget: postponed
    /// ([`ConnectorError::Postponed`]) when this hour's is spent, or when GitHub refuses
    /// it for longer than the HTTP layer waits.
    pub(crate) async fn post(&self, request: Request) -> Result<Response, ConnectorError> {
        self.budget.take().await?;
        match self.pacer.run(self.http.send(request)).await {
            Err(ConnectorError::RateLimited { retry_after }) => {
                let until = self
                    .budget
                    .refused_until(retry_after.unwrap_or(std::time::Duration::from_secs(3600)));
                Err(self.budget.postponed(until))
            }
            other => other,
        }
    }

    /// Notes a field a write could not set: a [`FieldError`] for the engine, which
    /// reports it (logged here at debug level only, so it is said once).
    fn field_error(&self, number: Option<u64>, field: Field, message: String) {
        let id = number.map(|n| n.to_string());
        let name = id
            .as_deref()
            .map_or_else(|| self.repo(), |id| self.describe(id));
        debug!("{name}: {message}");
        lock(&self.field_errors).push(FieldError { id, field, message });
    }

    /// The number of the issue the bridge closed as deleted for task `gid`, if there is
    /// one: the issues labelled [`DELETED_LABEL`] are read once per run.
    async fn deleted_issue_of(&self, gid: &str) -> Result<Option<u64>, ConnectorError> {
        let mut guard = self.deleted.lock().await;
        if guard.is_none() {
            let mut found = HashMap::new();
            let url = format!(
                "{}/issues?state=all&labels={DELETED_LABEL}&sort=created&direction=asc&per_page={PAGE_SIZE}",
                self.repo_path()
            );
            self.walk(url, |issue| {
                if is_deleted(issue)
                    && let (_, Some(g)) = footer::split(issue.body.as_deref().unwrap_or(""))
                {
                    // The newest one wins.
                    found.insert(g, issue.number);
                }
            })
            .await?;
            *guard = Some(found);
        }
        Ok(guard.as_ref().and_then(|m| m.get(gid)).copied())
    }

    /// Brings back issue `n`, which the bridge closed as deleted, as the counterpart of
    /// task `gid` restored in Asana: the deletion label dropped, reopened (or closed as
    /// completed), and the task's fields written.
    async fn restore(
        &self,
        n: u64,
        fields: &TaskFields,
        gid: &str,
    ) -> Result<Item, ConnectorError> {
        let current = self.issue(n).await?;
        let mut problems: Vec<(Field, String)> = Vec::new();
        let (wanted, too_long) = Self::usable_labels(&fields.tags);
        let (labels, refused) = self.ensure_labels(&wanted).await?;
        problems.extend(
            too_long
                .into_iter()
                .chain(refused)
                .map(|p| (Field::Tags, p)),
        );
        let mut write = Map::new();
        write.insert("title".into(), json!(fields.title));
        let lines = self.subtask_lines(n).flatten();
        match self.body(&fields.notes, Some(gid), lines.as_deref()) {
            Ok(body) => {
                write.insert("body".into(), json!(body));
            }
            Err(problem) => problems.push((Field::Notes, problem)),
        }
        write.insert("labels".into(), json!(labels));
        let (state, reason) = if fields.completed {
            ("closed", "completed")
        } else {
            ("open", "reopened")
        };
        write.insert("state".into(), json!(state));
        write.insert("state_reason".into(), json!(reason));
        if let Some(assignees) =
            self.assignees_for(fields.assignee.as_deref(), &current.assignee_logins())
        {
            write.insert("assignees".into(), json!(assignees));
        }
        let issue = self.patch_fields(n, write, &mut problems).await?;
        if let Some(map) = self.deleted.lock().await.as_mut() {
            map.remove(gid);
        }
        for (field, message) in problems {
            self.field_error(Some(n), field, message);
        }
        info!(issue = %self.describe(&n.to_string()), task = gid, "restored: the issue the bridge had closed as deleted is back");
        self.item(&issue.unwrap_or(current))
    }

    /// The body for `notes` and `subtasks` (the `## Subtasks` lines; `None`: no section)
    /// with the footer of `partner`; the reason when GitHub would refuse it (too long).
    pub(crate) fn body(
        &self,
        notes: &str,
        partner: Option<&str>,
        subtasks: Option<&[SubtaskLine]>,
    ) -> Result<String, String> {
        let text = crate::threads::text(notes, subtasks);
        let body = footer::render(&text, partner, &self.settings.asana_task_url);
        match body_problem(&body) {
            Some(problem) => Err(problem),
            None => Ok(body),
        }
    }

    /// The assignees to send for `assignee` (an e-mail or none), given the issue's current
    /// logins; `None`: leave them as they are.
    fn assignees_for(&self, assignee: Option<&str>, current: &[String]) -> Option<Vec<String>> {
        let unmapped: Vec<String> = current
            .iter()
            .filter(|l| !self.emails.contains_key(&l.to_lowercase()))
            .cloned()
            .collect();
        let wanted = match assignee {
            Some(email) => {
                let login = self.settings.users.get(&email.to_lowercase())?;
                let mut out = vec![login.clone()];
                out.extend(
                    unmapped
                        .into_iter()
                        .filter(|l| !l.eq_ignore_ascii_case(login)),
                );
                out
            }
            None => unmapped,
        };
        (wanted != current).then_some(wanted)
    }

    /// One paced `PATCH /issues/{n}`.
    pub(crate) async fn patch(
        &self,
        number: u64,
        body: Map<String, Value>,
    ) -> Result<Issue, ConnectorError> {
        let request = Request::new(
            Method::PATCH,
            format!("{}/issues/{number}", self.repo_path()),
        )
        .json(Value::Object(body))
        // A PATCH sets values: sending it twice is sending it once.
        .idempotency(Idempotency::Safe);
        let response = self.pacer.run(self.http.send(request)).await?;
        decode_issue(&String::from_utf8_lossy(&response.body))
    }

    /// A paced `PATCH /issues/{n}` of `body`, leaving out what GitHub refuses: each
    /// field a `422` names goes into `problems` and the rest is sent again, so one bad
    /// field never blocks the others. `None`: nothing was left to send.
    async fn patch_fields(
        &self,
        number: u64,
        mut body: Map<String, Value>,
        problems: &mut Vec<(Field, String)>,
    ) -> Result<Option<Issue>, ConnectorError> {
        while !body.is_empty() {
            let request = Request::new(
                Method::PATCH,
                format!("{}/issues/{number}", self.repo_path()),
            )
            .json(Value::Object(body.clone()))
            // A PATCH sets values: sending it twice is sending it once.
            .idempotency(Idempotency::Safe)
            .pass_through(422);
            let response = self.pacer.run(self.http.send(request)).await?;
            if response.status != 422 {
                return decode_issue(&String::from_utf8_lossy(&response.body)).map(Some);
            }
            let refusals = limits::refusals(&response.body);
            let mut dropped = false;
            for refusal in &refusals {
                if let (Some(key), Some(field)) = (refusal.key, refusal.field)
                    && body.remove(key).is_some()
                {
                    if key == "state" {
                        body.remove("state_reason");
                    }
                    dropped = true;
                    problems.push((field, refusal.message.clone()));
                }
            }
            if !dropped {
                return Err(ConnectorError::InvalidData(
                    refusals
                        .into_iter()
                        .map(|r| r.message)
                        .collect::<Vec<_>>()
                        .join("; "),
                ));
            }
        }
        Ok(None)
    }

    /// Lists every page from `url`, calling `each` for every issue (pull requests skipped).
    async fn walk(&self, url: String, mut each: impl FnMut(&Issue)) -> Result<(), ConnectorError> {
        let mut next = Some(url);
        while let Some(current) = next.take() {
            let fetched = self.fetch(&current).await?;
            let (issues, _) = self.decode_list(&fetched.body)?;
            for issue in &issues {
                each(issue);
            }
            next = fetched.link.as_deref().and_then(links::next);
        }
        self.cache.save();
        Ok(())
    }
}

fn header_str(response: &Response, name: header::HeaderName) -> Option<String> {
    response
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn decode_issue(body: &str) -> Result<Issue, ConnectorError> {
    serde_json::from_str(body).map_err(|e| ConnectorError::Decode {
        service: "github",
        message: format!("not an issue: {e}"),
    })
}

/// An item id as an issue number.
pub(crate) fn number(id: &str) -> Result<u64, ConnectorError> {
    id.parse()
        .map_err(|_| ConnectorError::InvalidData(format!("{id:?} is not an issue number")))
}

/// Locks a std mutex, going on with the data if another task panicked while holding it
/// (the sets and maps it guards stay meaningful: every update is one insert).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[async_trait]
impl Connector for GithubConnector {
    fn kind(&self) -> &'static str {
        "github"
    }

    fn describe(&self, id: &str) -> String {
        format!("{}/{}#{id}", self.settings.owner, self.settings.name)
    }

    async fn list_page(&self, token: Option<PageToken>) -> Result<Page, ConnectorError> {
        let url = match token {
            Some(PageToken(url)) => url,
            None => {
                lock(&self.listed).clear();
                self.refresh_comment_marks().await?;
                self.list_url()
            }
        };
        let fetched = self.fetch(&url).await?;
        let (issues, mut errors) = self.decode_list(&fetched.body)?;
        let mut items = Vec::with_capacity(issues.len());
        for issue in issues {
            if is_deleted(&issue) || !lock(&self.listed).insert(issue.number) {
                continue;
            }
            match self.item(&issue) {
                Ok(item) => items.push(item),
                Err(error) => errors.push(ItemError {
                    id: Some(issue.number.to_string()),
                    partner: footer::split(issue.body.as_deref().unwrap_or("")).1,
                    error,
                }),
            }
        }
        let next = fetched.link.as_deref().and_then(links::next).map(PageToken);
        if next.is_none() {
            self.cache.save();
        }
        Ok(Page {
            items,
            errors,
            next,
        })
    }

    async fn get_many(&self, ids: &[String]) -> Result<Vec<Item>, ConnectorError> {
        let mut items = Vec::with_capacity(ids.len());
        for id in ids {
            let Ok(n) = id.parse::<u64>() else {
                continue;
            };
            let issue = match self.issue(n).await {
                Ok(issue) => issue,
                Err(ConnectorError::NotFound(_)) => continue,
                // Deleted by an admin (410) or transferred (301): absent here; the engine
                // asks `whereabouts` before it takes that for a deletion.
                Err(ConnectorError::Api {
                    status: 301 | 410, ..
                }) => continue,
                Err(e) => return Err(e),
            };
            if issue.is_pull_request() || is_deleted(&issue) || !self.is_ours(&issue) {
                continue;
            }
            items.push(self.item(&issue)?);
        }
        self.cache.save();
        Ok(items)
    }

    /// Opens an issue for the task `partner` (its body ends with the footer naming it).
    ///
    /// - A task the bridge had deleted and that came back (restored from Asana's trash)
    ///   gets its old issue back: the issue closed with [`DELETED_LABEL`] whose footer
    ///   names `partner` is reopened, the label dropped and the task's fields written,
    ///   instead of a second issue.
    /// - An empty or too long title cannot make an issue: [`ConnectorError::InvalidData`]
    ///   naming it, nothing sent. Any other field GitHub would refuse (a label over 50
    ///   characters, notes over 65,536, an assignee it does not take) is left out, the
    ///   issue is created with the rest, and the field is reported
    ///   ([`Connector::take_field_errors`]).
    /// - Within the creation budget: [`ConnectorError::Postponed`] when this hour's is
    ///   spent.
    async fn create(
        &self,
        fields: &TaskFields,
        partner: Option<&str>,
    ) -> Result<Item, ConnectorError> {
        if let Some(problem) = title_problem(&fields.title) {
            return Err(ConnectorError::InvalidData(problem));
        }
        if let Some(gid) = partner
            && let Some(n) = self.deleted_issue_of(gid).await?
        {
            return self.restore(n, fields, gid).await;
        }
        let mut problems: Vec<(Field, String)> = Vec::new();
        let (wanted, too_long) = Self::usable_labels(&fields.tags);
        let (labels, refused) = self.ensure_labels(&wanted).await?;
        problems.extend(
            too_long
                .into_iter()
                .chain(refused)
                .map(|p| (Field::Tags, p)),
        );
        let body = match self.body(&fields.notes, partner, None) {
            Ok(body) => body,
            Err(problem) => {
                problems.push((Field::Notes, problem));
                footer::render("", partner, &self.settings.asana_task_url)
            }
        };
        let mut write = Map::new();
        write.insert("title".into(), json!(fields.title));
        write.insert("body".into(), json!(body));
        write.insert("labels".into(), json!(labels));
        if let Some(assignees) = self.assignees_for(fields.assignee.as_deref(), &[]) {
            write.insert("assignees".into(), json!(assignees));
        }
        self.budget.take().await?;
        let mut issue = loop {
            let request = Request::post(
                format!("{}/issues", self.repo_path()),
                Value::Object(write.clone()),
            )
            .idempotency(Idempotency::CreateOnce)
            .pass_through(422);
            let response = match self.pacer.run(self.http.send(request)).await {
                Err(ConnectorError::RateLimited { retry_after }) => {
                    let until = self
                        .budget
                        .refused_until(retry_after.unwrap_or(std::time::Duration::from_secs(3600)));
                    return Err(self.budget.postponed(until));
                }
                other => other?,
            };
            if response.status != 422 {
                break decode_issue(&String::from_utf8_lossy(&response.body))?;
            }
            // Nothing was created: leave out what GitHub refused and send the rest.
            let refusals = limits::refusals(&response.body);
            let mut dropped = false;
            for refusal in &refusals {
                match (refusal.key, refusal.field) {
                    (Some("title"), _) | (None, _) | (_, None) => {}
                    (Some(key), Some(field)) => {
                        let cleared = match key {
                            "body" => write
                                .insert(
                                    "body".into(),
                                    json!(footer::render(
                                        "",
                                        partner,
                                        &self.settings.asana_task_url
                                    )),
                                )
                                .is_some_and(|old| old != write["body"]),
                            _ => write.remove(key).is_some(),
                        };
                        if cleared {
                            dropped = true;
                            problems.push((field, refusal.message.clone()));
                        }
                    }
                }
            }
            if !dropped {
                return Err(ConnectorError::InvalidData(
                    refusals
                        .into_iter()
                        .map(|r| r.message)
                        .collect::<Vec<_>>()
                        .join("; "),
                ));
            }
        };
        if fields.completed {
            let mut close = Map::new();
            close.insert("state".into(), json!("closed"));
            close.insert("state_reason".into(), json!("completed"));
            // If this fails the issue stays open and unrecorded; the next run pairs it by its
            // footer and settles `completed` like any other difference.
            if let Some(closed) = self
                .patch_fields(issue.number, close, &mut problems)
                .await?
            {
                issue = closed;
            }
        }
        for (field, message) in problems {
            self.field_error(Some(issue.number), field, message);
        }
        self.item(&issue)
    }

    /// Writes the fields of `patch` that differ from `item`, in one `PATCH`. A field
    /// GitHub would refuse (an empty or too long title, a label over 50 characters, notes
    /// over 65,536, an assignee it does not take: checked before sending, or named by its
    /// `422`) is left out and reported ([`Connector::take_field_errors`]); the others are
    /// written. Tags compare as GitHub's labels do, ignoring case.
    async fn update(&self, item: &Item, patch: &TaskPatch) -> Result<Item, ConnectorError> {
        let n = number(&item.id)?;
        let mut problems: Vec<(Field, String)> = Vec::new();
        let mut write = Map::new();
        if let Some(title) = &patch.title
            && *title != item.fields.title
        {
            match title_problem(title) {
                Some(problem) => problems.push((Field::Title, problem)),
                None => {
                    write.insert("title".into(), json!(title));
                }
            }
        }
        if let Some(notes) = &patch.notes
            && *notes != item.fields.notes
        {
            let lines = self.subtask_lines(n).flatten();
            match self.body(notes, item.partner.as_deref(), lines.as_deref()) {
                Ok(body) => {
                    write.insert("body".into(), json!(body));
                }
                Err(problem) => problems.push((Field::Notes, problem)),
            }
        }
        if let Some(completed) = patch.completed
            && completed != item.fields.completed
        {
            let (state, reason) = if completed {
                ("closed", "completed")
            } else {
                ("open", "reopened")
            };
            write.insert("state".into(), json!(state));
            write.insert("state_reason".into(), json!(reason));
        }
        if let Some(tags) = &patch.tags {
            let (wanted, too_long) = Self::usable_labels(tags);
            problems.extend(too_long.into_iter().map(|p| (Field::Tags, p)));
            let lower = |tags: &[String]| -> std::collections::BTreeSet<String> {
                tags.iter().map(|t| t.to_lowercase()).collect()
            };
            if lower(&wanted) != lower(&item.fields.tags) {
                let (labels, refused) = self.ensure_labels(&wanted).await?;
                problems.extend(refused.into_iter().map(|p| (Field::Tags, p)));
                write.insert("labels".into(), json!(labels));
            }
        }
        if let Some(assignee) = &patch.assignee {
            let remembered = lock(&self.assignees).get(&n).cloned();
            let current = match remembered {
                Some(current) => current,
                None => self.issue(n).await?.assignee_logins(),
            };
            if let Some(assignees) = self.assignees_for(assignee.as_deref(), &current) {
                write.insert("assignees".into(), json!(assignees));
            }
        }
        // Due dates and sections have no GitHub equivalent: nothing to write for them.
        let issue = self.patch_fields(n, write, &mut problems).await?;
        for (field, message) in problems {
            self.field_error(Some(n), field, message);
        }
        match issue {
            Some(issue) => self.item(&issue),
            None => Ok(item.clone()),
        }
    }

    /// Closes the issue as `not_planned` with [`DELETED_LABEL`] (GitHub tokens cannot
    /// delete issues). When the engine names the task (`item.partner`) and the body has
    /// no footer yet (an adopted issue), the same `PATCH` adds it, so that a task
    /// restored in Asana finds its issue again.
    async fn delete(&self, item: &Item) -> Result<(), ConnectorError> {
        let n = number(&item.id)?;
        let mut labels = item.fields.tags.clone();
        labels.push(DELETED_LABEL.to_owned());
        let (labels, _) = self.ensure_labels(&labels).await?;
        let mut write = Map::new();
        write.insert("state".into(), json!("closed"));
        write.insert("state_reason".into(), json!("not_planned"));
        write.insert("labels".into(), json!(labels));
        if let Some(gid) = item.partner.as_deref() {
            let current = self.issue(n).await?;
            let (notes, named) = footer::split(current.body.as_deref().unwrap_or(""));
            if named.as_deref() != Some(gid)
                && let Ok(body) = self.body(&notes, Some(gid), None)
            {
                write.insert("body".into(), json!(body));
            }
            if let Some(map) = self.deleted.lock().await.as_mut() {
                map.insert(gid.to_owned(), n);
            }
        }
        self.patch(n, write).await?;
        Ok(())
    }

    /// Writes nothing: on GitHub the pairing lives in the bridge's records
    /// ([`Identity::Record`]). An issue the bridge creates carries the footer from its
    /// first write (the recovery hint for a create a crash left unrecorded); an existing
    /// issue that is adopted is not edited for it (no "edited" mark, no request).
    async fn set_partner(&self, item: &Item, _partner: &str) -> Result<Item, ConnectorError> {
        Ok(item.clone())
    }

    fn identity(&self) -> Identity {
        Identity::Record
    }

    /// `GET /issues/{n}` without following its redirect: `301` (transferred to another
    /// repository) is [`Whereabouts::Moved`] naming `owner/name#number`; `404`/`410`, or
    /// the bridge's own deletion label, is [`Whereabouts::Deleted`]; a `200` is
    /// [`Whereabouts::Present`] (a pull request or an issue of another repository, e.g. a
    /// redirect followed by a proxy, is moved out of reach).
    async fn whereabouts(&self, id: &str) -> Result<Whereabouts, ConnectorError> {
        let n = number(id)?;
        let request = Request::get(format!("{}/issues/{n}", self.repo_path()))
            .pass_through(301)
            .pass_through(302)
            .pass_through(307)
            .pass_through(308)
            .pass_through(410);
        let response = match self.http.send(request).await {
            Ok(response) => response,
            Err(ConnectorError::NotFound(_)) => return Ok(Whereabouts::Deleted),
            Err(e) => return Err(e),
        };
        match response.status {
            410 => Ok(Whereabouts::Deleted),
            301 | 302 | 307 | 308 => {
                let location = header_str(&response, header::LOCATION).unwrap_or_default();
                Ok(Whereabouts::Moved {
                    to: moved_to(&location),
                })
            }
            _ => {
                let issue = decode_issue(&String::from_utf8_lossy(&response.body))?;
                if !self.is_ours(&issue) {
                    return Ok(Whereabouts::Moved {
                        to: issue
                            .html_url
                            .as_deref()
                            .map_or_else(|| "another repository".to_owned(), moved_to),
                    });
                }
                if issue.is_pull_request() {
                    return Ok(Whereabouts::Moved {
                        to: format!("{}#{n} (a pull request)", self.repo()),
                    });
                }
                if is_deleted(&issue) {
                    return Ok(Whereabouts::Deleted);
                }
                Ok(Whereabouts::Present(self.item(&issue)?))
            }
        }
    }

    fn take_field_errors(&self) -> Vec<FieldError> {
        std::mem::take(&mut *lock(&self.field_errors))
    }

    /// The issue's assignee when it was last read assigned only to logins `[users]` does
    /// not map, whatever `item` holds there: an answer to a write that sent nothing (the
    /// item as the engine filled it in) is the same issue.
    fn unknown_fields(&self, item: &Item) -> Vec<Field> {
        let unknown = item
            .id
            .parse::<u64>()
            .is_ok_and(|n| lock(&self.unknown_assignee).contains(&n));
        if unknown {
            vec![Field::Assignee]
        } else {
            Vec::new()
        }
    }

    fn keeps_threads(&self) -> bool {
        true
    }

    async fn read_thread(&self, id: &str) -> Result<Option<TargetThread>, ConnectorError> {
        self.thread_of(id).await.map(Some)
    }

    async fn write_thread(
        &self,
        item: &Item,
        thread: &TargetThread,
    ) -> Result<Item, ConnectorError> {
        self.write_thread_of(item, thread).await
    }

    fn tags_ignore_case(&self) -> bool {
        true
    }
}

/// `owner/name#number` of an issue's URL (`…/repos/{o}/{r}/issues/{n}` of the API, or
/// `https://github.com/{o}/{r}/issues/{n}`); the URL itself when it is neither.
fn moved_to(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let parts: Vec<&str> = path.trim_end_matches('/').rsplit('/').take(4).collect();
    match parts.as_slice() {
        [n, "issues", repo, owner] if n.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{owner}/{repo}#{n}")
        }
        _ if url.is_empty() => "another repository".to_owned(),
        _ => url.to_owned(),
    }
}
