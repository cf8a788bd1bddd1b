//! [`GithubConnector`]: the [`Connector`] of one repository's issues.
//!
//! Request budget, per operation:
//! - `list_page`: one conditional `GET /repos/{o}/{r}/issues?state=all&sort=created&
//!   direction=asc&per_page=100` per page, following `Link`. Sorting by creation keeps
//!   pages stable, so an edit changes one page's `ETag` and every other page answers `304`
//!   (free of rate limit). Pull requests and issues the bridge deleted are skipped; an
//!   issue seen twice in one listing (moved between pages) is listed once.
//! - `get_many`: one conditional `GET /repos/{o}/{r}/issues/{n}` per id.
//! - `changes`: conditional `GET .../issues?state=all&sort=updated&direction=asc&since=…`
//!   pages, from the newest `updated_at` seen last time minus a small overlap.
//! - `create`: the repository's labels once per run (plus one `POST /labels` per missing
//!   label), then `POST /issues`, and a `PATCH` to close it when the task is completed.
//! - `update`, `set_partner`, `delete`: one `PATCH /issues/{n}` (plus missing labels).
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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use asana_bridge_connector::http::{HttpClient, Idempotency, Request, Response};
use asana_bridge_connector::{
    Changes, Connector, ConnectorError, Item, ItemError, Page, PageToken, TaskFields, TaskPatch,
};
use async_trait::async_trait;
use reqwest::Method;
use reqwest::header::{self, HeaderValue};
use serde_json::{Map, Value, json};
use tracing::debug;

use crate::cache::{Entry, EtagCache};
use crate::convert::{DELETED_LABEL, is_deleted, to_item};
use crate::pacer::Pacer;
use crate::settings::GithubSettings;
use crate::wire::{Issue, Label};
use crate::{footer, links};

/// Page size of every list request (GitHub's maximum).
pub const PAGE_SIZE: u32 = 100;
/// GitHub refuses issue bodies longer than this many characters.
pub const MAX_BODY_CHARS: usize = 65_536;
/// `changes` asks from this many seconds before its cursor: `updated_at` has whole-second
/// precision and GitHub's listing is eventually consistent.
pub const SINCE_OVERLAP_SECS: i64 = 5;
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
    cache: EtagCache,
    /// Lower-case label name -> name, filled once per run when a write needs labels. A
    /// tokio mutex: held across the listing so concurrent writers wait for one listing.
    labels: tokio::sync::Mutex<Option<HashMap<String, String>>>,
    /// Issue numbers already returned by the current listing.
    listed: Mutex<HashSet<u64>>,
    /// Each issue's assignee logins as last read, so a write can keep unmapped ones.
    assignees: Mutex<HashMap<u64, Vec<String>>>,
}

/// What a conditional GET returned.
struct Fetched {
    body: String,
    link: Option<String>,
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

    pub(crate) fn repo_path(&self) -> String {
        format!("/repos/{}/{}", self.settings.owner, self.settings.name)
    }

    fn list_url(&self, sort: &str, since: Option<&str>) -> String {
        let mut url = format!(
            "{}/issues?state=all&sort={sort}&direction=asc&per_page={PAGE_SIZE}",
            self.repo_path()
        );
        if let Some(since) = since {
            url.push_str("&since=");
            url.push_str(since);
        }
        url
    }

    /// A GET with `If-None-Match` from the cache; a `304` answers from the cache.
    async fn fetch(&self, url: &str) -> Result<Fetched, ConnectorError> {
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

    /// Reads an issue into an item and remembers its assignee logins.
    fn item(&self, issue: &Issue) -> Result<Item, ConnectorError> {
        self.remember_assignees(issue);
        to_item(issue, &self.emails)
    }

    fn remember_assignees(&self, issue: &Issue) {
        lock(&self.assignees).insert(issue.number, issue.assignee_logins());
    }

    /// The issue `number`, read fresh (used when a write needs its current assignees).
    async fn issue(&self, number: u64) -> Result<Issue, ConnectorError> {
        let fetched = self
            .fetch(&format!("{}/issues/{number}", self.repo_path()))
            .await?;
        decode_issue(&fetched.body)
    }

    /// Makes sure every label in `names` exists, creating the missing ones. Returns the
    /// names as the repository spells them.
    async fn ensure_labels(&self, names: &[String]) -> Result<Vec<String>, ConnectorError> {
        if names.is_empty() {
            return Ok(Vec::new());
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
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let key = name.to_lowercase();
            if let Some(existing) = known.get(&key) {
                out.push(existing.clone());
                continue;
            }
            let request = Request::post(
                format!("{}/labels", self.repo_path()),
                json!({"name": name, "color": LABEL_COLOR}),
            )
            // Creating a label twice is refused (422), never duplicated.
            .idempotency(Idempotency::Safe)
            .pass_through(422);
            let response = self.pacer.run(self.http.send(request)).await?;
            if response.status == 422
                && !String::from_utf8_lossy(&response.body).contains("already_exists")
            {
                return Err(ConnectorError::Api {
                    service: "github",
                    status: 422,
                    message: format!(
                        "cannot create the label {name:?}: {}",
                        String::from_utf8_lossy(&response.body)
                    ),
                });
            }
            debug!(label = %name, "label created");
            known.insert(key, name.clone());
            out.push(name.clone());
        }
        Ok(out)
    }

    /// The body for `notes` with the footer of `partner`, refused early when GitHub would.
    fn body(&self, notes: &str, partner: Option<&str>) -> Result<String, ConnectorError> {
        let body = footer::render(notes, partner, &self.settings.asana_task_url);
        if body.chars().count() > MAX_BODY_CHARS {
            return Err(ConnectorError::InvalidData(format!(
                "the notes are too long for a GitHub issue ({} characters with the link line; GitHub takes at most {MAX_BODY_CHARS})",
                body.chars().count()
            )));
        }
        Ok(body)
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
    async fn patch(&self, number: u64, body: Map<String, Value>) -> Result<Issue, ConnectorError> {
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
fn number(id: &str) -> Result<u64, ConnectorError> {
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
                self.list_url("created", None)
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
                Err(ConnectorError::Api { status: 410, .. }) => continue, // deleted by an admin
                Err(e) => return Err(e),
            };
            if issue.is_pull_request() || is_deleted(&issue) {
                continue;
            }
            items.push(self.item(&issue)?);
        }
        self.cache.save();
        Ok(items)
    }

    async fn create(
        &self,
        fields: &TaskFields,
        partner: Option<&str>,
    ) -> Result<Item, ConnectorError> {
        let body = self.body(&fields.notes, partner)?;
        let labels = self.ensure_labels(&fields.tags).await?;
        let mut write = Map::new();
        write.insert("title".into(), json!(fields.title));
        write.insert("body".into(), json!(body));
        write.insert("labels".into(), json!(labels));
        if let Some(assignees) = self.assignees_for(fields.assignee.as_deref(), &[]) {
            write.insert("assignees".into(), json!(assignees));
        }
        let request = Request::post(format!("{}/issues", self.repo_path()), Value::Object(write))
            .idempotency(Idempotency::CreateOnce);
        let response = self.pacer.run(self.http.send(request)).await?;
        let mut issue = decode_issue(&String::from_utf8_lossy(&response.body))?;
        if fields.completed {
            let mut close = Map::new();
            close.insert("state".into(), json!("closed"));
            close.insert("state_reason".into(), json!("completed"));
            // If this fails the issue stays open and unrecorded; the next run pairs it by its
            // footer and settles `completed` like any other difference.
            issue = self.patch(issue.number, close).await?;
        }
        self.item(&issue)
    }

    async fn update(&self, item: &Item, patch: &TaskPatch) -> Result<Item, ConnectorError> {
        let n = number(&item.id)?;
        let mut write = Map::new();
        if let Some(title) = &patch.title
            && *title != item.fields.title
        {
            write.insert("title".into(), json!(title));
        }
        if let Some(notes) = &patch.notes
            && *notes != item.fields.notes
        {
            write.insert(
                "body".into(),
                json!(self.body(notes, item.partner.as_deref())?),
            );
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
            let tags = asana_bridge_connector::model::canonical_tags(tags.clone());
            if tags != item.fields.tags {
                write.insert("labels".into(), json!(self.ensure_labels(&tags).await?));
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
        if write.is_empty() {
            return Ok(item.clone());
        }
        let issue = self.patch(n, write).await?;
        self.item(&issue)
    }

    async fn delete(&self, item: &Item) -> Result<(), ConnectorError> {
        let n = number(&item.id)?;
        let mut labels = item.fields.tags.clone();
        labels.push(DELETED_LABEL.to_owned());
        let labels = self.ensure_labels(&labels).await?;
        let mut write = Map::new();
        write.insert("state".into(), json!("closed"));
        write.insert("state_reason".into(), json!("not_planned"));
        write.insert("labels".into(), json!(labels));
        self.patch(n, write).await?;
        Ok(())
    }

    async fn set_partner(&self, item: &Item, partner: &str) -> Result<Item, ConnectorError> {
        let n = number(&item.id)?;
        let mut write = Map::new();
        write.insert(
            "body".into(),
            json!(self.body(&item.fields.notes, Some(partner))?),
        );
        let issue = self.patch(n, write).await?;
        self.item(&issue)
    }

    async fn changes(&self, cursor: Option<&str>) -> Result<Changes, ConnectorError> {
        let Some(cursor) = cursor else {
            return Ok(Changes::Reset {
                cursor: jiff::Timestamp::now()
                    .strftime("%Y-%m-%dT%H:%M:%SZ")
                    .to_string(),
            });
        };
        let Ok(at) = cursor.parse::<jiff::Timestamp>() else {
            return Ok(Changes::Reset {
                cursor: jiff::Timestamp::now()
                    .strftime("%Y-%m-%dT%H:%M:%SZ")
                    .to_string(),
            });
        };
        let since = jiff::Timestamp::from_second(at.as_second() - SINCE_OVERLAP_SECS)
            .unwrap_or(at)
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let mut changed = BTreeMap::new();
        let mut newest = at;
        self.walk(self.list_url("updated", Some(&since)), |issue| {
            changed.insert(issue.number, ());
            if let Ok(t) = issue.updated_at.parse::<jiff::Timestamp>()
                && t > newest
            {
                newest = t;
            }
        })
        .await?;
        Ok(Changes::Since {
            changed: changed.into_keys().map(|n| n.to_string()).collect(),
            cursor: newest.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        })
    }
}
