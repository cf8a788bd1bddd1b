//! [`AsanaClient`]: the Asana side of one token, shared by every link (project) that uses
//! it. It wraps the shared [`HttpClient`] (retries, rate budget, in-flight caps) and holds
//! the per-run caches that several projects share: each project's workspace, each
//! workspace's users and tags, each project's sections.
//!
//! Caches are filled lazily, once per run and only when something needs them; a
//! `tokio::sync::Mutex` is held across the fetch so that concurrent callers wait for one
//! fetch instead of starting their own (and never create the same tag twice).
//! [`AsanaClient::clear_caches`] starts a new "run" for long-lived processes (`watch`).

use std::collections::HashMap;
use std::fmt;

use asana_bridge_connector::ConnectorError;
use asana_bridge_connector::http::{
    BuildError, DEFAULT_REQUESTS_PER_MINUTE, HttpClient, HttpConfig, Idempotency, Request,
    RequestCounts,
};
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;
use tracing::{debug, warn};

use crate::directory_cache::{DirectoryCache, StoredDirectory};
use crate::wire::{self, Envelope, ListEnvelope, NameWrite, NamedRef, ProjectWorkspace, User};

/// Asana's API root.
pub const DEFAULT_BASE_URL: &str = "https://app.asana.com/api/1.0";
/// Asana's OAuth consent screen.
pub const OAUTH_AUTHORIZE_URL: &str = "https://app.asana.com/-/oauth_authorize";
/// Asana's OAuth token endpoint.
pub const OAUTH_TOKEN_URL: &str = "https://app.asana.com/-/oauth_token";
/// Asana's OAuth revocation endpoint.
pub const OAUTH_REVOKE_URL: &str = "https://app.asana.com/-/oauth_revoke";

/// Asana's free plan: 150 requests a minute.
pub const FREE_PLAN_REQUESTS_PER_MINUTE: u32 = 150;

/// How long one request keeps obeying Asana's `Retry-After` waits in all.
pub const RATE_LIMIT_MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Page size of every list request (Asana's maximum).
pub const PAGE_SIZE: u32 = 100;

/// What an [`AsanaClient`] needs.
pub struct AsanaConfig {
    /// API root, e.g. [`DEFAULT_BASE_URL`] or a simulator's address.
    pub base_url: String,
    /// Personal access token or service-account token.
    pub token: SecretString,
    /// Client-side budget ([`DEFAULT_REQUESTS_PER_MINUTE`] = 1500, Asana's paid plans).
    pub requests_per_minute: u32,
}

impl AsanaConfig {
    /// A configuration with the default budget.
    #[must_use]
    pub fn new(base_url: impl Into<String>, token: SecretString) -> Self {
        Self {
            base_url: base_url.into(),
            token,
            requests_per_minute: DEFAULT_REQUESTS_PER_MINUTE,
        }
    }

    /// The shared HTTP layer's configuration for this account (default retry policy,
    /// Asana's in-flight caps): adjust it and pass it to [`AsanaClient::with_http`].
    #[must_use]
    pub fn http_config(self) -> HttpConfig {
        let mut config = HttpConfig::new("asana", self.base_url, self.token);
        config.requests_per_minute = self.requests_per_minute;
        // A 429 is an instruction: Asana names waits of up to a minute, and a free
        // workspace (150 a minute) refuses the default budget's pace; the client learns
        // that rate from the refusal instead of failing the run.
        config.rate_limit_max_wait = Some(RATE_LIMIT_MAX_WAIT);
        config.learn_rate = true;
        // The smallest per-minute limit is a free workspace's 150; a refusal after fewer
        // accepted requests (with a margin for the two clocks) is another of Asana's
        // limits (concurrent requests, cost) or another program on the token, and must
        // not hold the bridge to a dozen requests a minute for good.
        config.rate_evidence_min =
            FREE_PLAN_REQUESTS_PER_MINUTE - FREE_PLAN_REQUESTS_PER_MINUTE / 5;
        config.probe_limits = vec![FREE_PLAN_REQUESTS_PER_MINUTE];
        config.change_headers = vec!["asana-change"];
        config
    }
}

impl fmt::Debug for AsanaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsanaConfig")
            .field("base_url", &self.base_url)
            .field("token", &"[REDACTED]")
            .field("requests_per_minute", &self.requests_per_minute)
            .finish()
    }
}

/// The user a token belongs to (`GET /users/me`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Me {
    pub gid: String,
    pub name: String,
    /// Lower-case; empty when Asana does not show it.
    pub email: String,
}

/// Asana lists at most this many users of a workspace (`GET /workspaces/{w}/users`).
const USER_LIST_CAP: usize = 2000;

/// The users of one workspace, by gid and by e-mail (lower-case).
#[derive(Debug, Default)]
pub(crate) struct Directory {
    by_gid: HashMap<String, Option<String>>,
    by_email: HashMap<String, String>,
    /// Whether the listing held every user (it is capped at [`USER_LIST_CAP`]).
    complete: bool,
    /// Read from the on-disk copy of an earlier run, not listed by this one.
    from_cache: bool,
}

impl Directory {
    fn insert(&mut self, user: User) {
        let email = user
            .email
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty());
        if let Some(email) = &email {
            self.by_email
                .entry(email.clone())
                .or_insert_with(|| user.gid.clone());
        }
        self.by_gid.insert(user.gid, email);
    }
}

/// The Asana account of one token, with its per-run caches. Share it with `Arc`.
pub struct AsanaClient {
    http: HttpClient,
    /// Project gid -> workspace gid.
    workspaces: Mutex<HashMap<String, String>>,
    /// Workspace gid -> its users.
    users: Mutex<HashMap<String, Directory>>,
    /// Workspace gid -> tag name -> tag gid.
    tags: Mutex<HashMap<String, HashMap<String, String>>>,
    /// Project gid -> section name -> section gid.
    sections: Mutex<HashMap<String, HashMap<String, String>>>,
    /// The token's own user, once asked.
    me: Mutex<Option<Me>>,
    /// Where user directories are kept between runs, if anywhere.
    directory_cache: Option<DirectoryCache>,
}

impl fmt::Debug for AsanaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsanaClient")
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl AsanaClient {
    /// A client with the default retry policy and Asana's in-flight caps.
    ///
    /// # Errors
    /// [`BuildError`] when the base URL or the token is unusable.
    pub fn new(config: AsanaConfig) -> Result<Self, BuildError> {
        Ok(Self::with_http(HttpClient::new(config.http_config())?))
    }

    /// A client over an already built HTTP layer (custom retry policy, tests).
    #[must_use]
    pub fn with_http(http: HttpClient) -> Self {
        Self {
            http,
            workspaces: Mutex::default(),
            users: Mutex::default(),
            tags: Mutex::default(),
            sections: Mutex::default(),
            me: Mutex::default(),
            directory_cache: None,
        }
    }

    /// The same client, keeping workspaces' user directories in the file `path` between
    /// runs (see [`crate::directory_cache`]).
    #[must_use]
    pub fn with_directory_cache(mut self, path: std::path::PathBuf) -> Self {
        self.directory_cache = Some(DirectoryCache::new(path));
        self
    }

    /// The file named `name` beside the kept user directories (`None` without them).
    #[must_use]
    pub fn cache_file(&self, name: &str) -> Option<std::path::PathBuf> {
        self.directory_cache
            .as_ref()
            .map(|c| c.path().with_file_name(name))
    }

    /// The HTTP layer, for requests the client has no method for.
    #[must_use]
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// Requests sent so far, by method (benchmarks).
    #[must_use]
    pub fn requests_sent(&self) -> RequestCounts {
        self.http.requests_sent()
    }

    /// Forgets every cache, so the next use fetches users, tags, sections again.
    pub async fn clear_caches(&self) {
        self.workspaces.lock().await.clear();
        self.users.lock().await.clear();
        self.tags.lock().await.clear();
        self.sections.lock().await.clear();
    }

    /// The token's user (`GET /users/me`); a cheap token check.
    ///
    /// # Errors
    /// `Unauthorized` for a bad token, or any transport error.
    pub async fn me(&self) -> Result<Me, ConnectorError> {
        let mut me = self.me.lock().await;
        if let Some(known) = &*me {
            return Ok(known.clone());
        }
        let fresh = self.fetch_me().await?;
        *me = Some(fresh.clone());
        Ok(fresh)
    }

    async fn fetch_me(&self) -> Result<Me, ConnectorError> {
        let request =
            Request::get("/users/me").query("opt_fields", wire::opt_fields(wire::USER_FIELDS));
        let user: Envelope<User> = self.http.send(request).await?.json()?;
        Ok(Me {
            gid: user.data.gid,
            name: user.data.name.unwrap_or_default(),
            email: user.data.email.unwrap_or_default().to_lowercase(),
        })
    }

    /// Sends a request and decodes the `data` of its answer.
    pub(crate) async fn data<T: DeserializeOwned>(
        &self,
        request: Request,
    ) -> Result<T, ConnectorError> {
        let envelope: Envelope<T> = self.http.send(request).await?.json()?;
        Ok(envelope.data)
    }

    /// Every element of a paginated list, following `next_page.offset` to the end.
    pub(crate) async fn get_all<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        paged: bool,
    ) -> Result<Vec<T>, ConnectorError> {
        let mut out = Vec::new();
        let mut offset: Option<String> = None;
        loop {
            let mut request = Request::get(path);
            for (key, value) in query {
                request = request.query(*key, value.clone());
            }
            if paged {
                request = request.query("limit", PAGE_SIZE.to_string());
            }
            if let Some(offset) = &offset {
                request = request.query("offset", offset.clone());
            }
            let page: ListEnvelope<T> = self.http.send(request).await?.json()?;
            out.extend(page.data);
            match page.next_page {
                Some(next) if Some(&next.offset) != offset.as_ref() => offset = Some(next.offset),
                _ => return Ok(out),
            }
        }
    }

    /// Remembers the workspace of `project`, learnt from one of its tasks.
    pub(crate) async fn note_workspace(&self, project: &str, workspace: &str) {
        self.workspaces
            .lock()
            .await
            .entry(project.to_owned())
            .or_insert_with(|| workspace.to_owned());
    }

    /// The workspace of `project` (`GET /projects/{p}?opt_fields=workspace`, once, unless a
    /// task of the project already told it).
    pub(crate) async fn workspace_of(&self, project: &str) -> Result<String, ConnectorError> {
        let mut workspaces = self.workspaces.lock().await;
        if let Some(workspace) = workspaces.get(project) {
            return Ok(workspace.clone());
        }
        let request = Request::get(format!("/projects/{project}")).query("opt_fields", "workspace");
        let found: ProjectWorkspace = self.data(request).await?;
        workspaces.insert(project.to_owned(), found.workspace.gid.clone());
        Ok(found.workspace.gid)
    }

    /// Runs `f` on the users of `workspace`, listing them first if this run has not.
    async fn with_directory<R>(
        &self,
        workspace: &str,
        f: impl FnOnce(&mut Directory) -> R,
    ) -> Result<R, ConnectorError> {
        let mut users = self.users.lock().await;
        if !users.contains_key(workspace) {
            let stored = self
                .directory_cache
                .as_ref()
                .and_then(|c| c.load(workspace));
            let directory = match stored {
                Some(stored) => {
                    debug!(
                        workspace,
                        users = stored.users.len(),
                        "user directory from the cache"
                    );
                    let mut directory = Directory {
                        complete: stored.complete,
                        from_cache: true,
                        ..Directory::default()
                    };
                    for (gid, email) in stored.users {
                        directory.insert(User {
                            gid,
                            name: None,
                            email,
                        });
                    }
                    directory
                }
                None => self.list_directory(workspace).await?,
            };
            users.insert(workspace.to_owned(), directory);
        }
        let directory = users
            .get_mut(workspace)
            .ok_or_else(|| ConnectorError::InvalidData("user cache lost its entry".to_owned()))?;
        Ok(f(directory))
    }

    /// Lists the users of `workspace` (and keeps the list for later runs).
    async fn list_directory(&self, workspace: &str) -> Result<Directory, ConnectorError> {
        // `GET /workspaces/{w}/users` takes no `limit` (Asana: "limited to 2000");
        // `next_page` is still followed if the service sends one.
        let listed: Result<Vec<User>, _> = self
            .get_all(
                &format!("/workspaces/{workspace}/users"),
                &[("opt_fields", wire::opt_fields(wire::USER_FIELDS))],
                false,
            )
            .await;
        let (listed, complete) = match listed {
            Ok(listed) => {
                let complete = listed.len() < USER_LIST_CAP;
                (listed, complete)
            }
            // A guest may not list the workspace's users: look them up one by one.
            Err(ConnectorError::Forbidden(message)) => {
                warn!(workspace, %message, "cannot list the workspace's users");
                (Vec::new(), false)
            }
            Err(e) => return Err(e),
        };
        debug!(workspace, users = listed.len(), "listed workspace users");
        let mut directory = Directory {
            complete,
            ..Directory::default()
        };
        for user in listed {
            directory.insert(user);
        }
        if let Some(cache) = &self.directory_cache {
            cache.save(
                workspace,
                StoredDirectory {
                    fetched_at: jiff::Timestamp::now().to_string(),
                    complete,
                    users: directory
                        .by_gid
                        .iter()
                        .map(|(gid, email)| (gid.clone(), email.clone()))
                        .collect(),
                },
            );
        }
        Ok(directory)
    }

    async fn directory_is_cached(&self, workspace: &str) -> bool {
        self.users
            .lock()
            .await
            .get(workspace)
            .is_some_and(|d| d.from_cache)
    }

    /// The e-mail addresses (lower-case) of these user gids; a gid missing from the
    /// workspace's list (a guest, a deactivated user) is asked for once by itself. Users
    /// without a visible e-mail are absent from the answer.
    pub(crate) async fn emails_of(
        &self,
        workspace: &str,
        gids: &[&str],
    ) -> Result<HashMap<String, String>, ConnectorError> {
        let (mut found, unknown) = self
            .with_directory(workspace, |directory| {
                let mut found = HashMap::new();
                let mut unknown = Vec::new();
                for gid in gids {
                    match directory.by_gid.get(*gid) {
                        Some(Some(email)) => {
                            found.insert((*gid).to_owned(), email.clone());
                        }
                        Some(None) => {}
                        None => unknown.push((*gid).to_owned()),
                    }
                }
                (found, unknown)
            })
            .await?;
        for gid in unknown {
            let request = Request::get(format!("/users/{gid}"))
                .query("opt_fields", wire::opt_fields(wire::USER_FIELDS));
            let user = match self.data::<User>(request).await {
                Ok(user) => user,
                Err(ConnectorError::NotFound(_) | ConnectorError::Forbidden(_)) => User {
                    gid: gid.clone(),
                    name: None,
                    email: None,
                },
                Err(e) => return Err(e),
            };
            if user.email.is_none() {
                warn!(user = %gid, "assignee has no visible e-mail; the assignee is left as it is on both sides");
            }
            let email = self
                .with_directory(workspace, |directory| {
                    directory.insert(user);
                    directory.by_gid.get(&gid).cloned().flatten()
                })
                .await?;
            if let Some(email) = email {
                found.insert(gid, email);
            }
        }
        Ok(found)
    }

    /// What to send as `assignee` for this e-mail: the gid of the workspace user who has
    /// it. When the workspace has more users than Asana lists, an unlisted e-mail is sent
    /// as is and Asana decides.
    ///
    /// # Errors
    /// [`ConnectorError::InvalidData`] naming the e-mail when no user of the workspace has
    /// it.
    pub(crate) async fn assignee_value(
        &self,
        workspace: &str,
        email: &str,
    ) -> Result<String, ConnectorError> {
        let email = email.trim().to_lowercase();
        let found = self
            .with_directory(workspace, |directory| {
                (directory.by_email.get(&email).cloned(), directory.complete)
            })
            .await?;
        let found = match found {
            // Not in an earlier run's copy: perhaps a new colleague. List afresh once.
            (None, _) if self.directory_is_cached(workspace).await => {
                let fresh = self.list_directory(workspace).await?;
                let found = (fresh.by_email.get(&email).cloned(), fresh.complete);
                self.users.lock().await.insert(workspace.to_owned(), fresh);
                found
            }
            other => other,
        };
        match found {
            (Some(gid), _) => Ok(gid),
            (None, false) => Ok(email),
            (None, true) => Err(unknown_assignee(&email)),
        }
    }

    /// The gids of these tag names in `workspace`, creating the missing tags.
    pub(crate) async fn tag_gids(
        &self,
        workspace: &str,
        names: &[String],
        create_missing: bool,
    ) -> Result<HashMap<String, String>, ConnectorError> {
        let mut tags = self.tags.lock().await;
        if !tags.contains_key(workspace) {
            let listed: Vec<NamedRef> = self
                .get_all(
                    &format!("/workspaces/{workspace}/tags"),
                    &[("opt_fields", wire::opt_fields(wire::NAME_FIELDS))],
                    true,
                )
                .await?;
            tags.insert(workspace.to_owned(), by_name(listed));
        }
        let known = tags
            .get_mut(workspace)
            .ok_or_else(|| ConnectorError::InvalidData("tag cache lost its entry".to_owned()))?;
        let mut out = HashMap::new();
        for name in names {
            if let Some(gid) = known.get(name) {
                out.insert(name.clone(), gid.clone());
            } else if create_missing {
                let request = Request::post(
                    format!("/workspaces/{workspace}/tags"),
                    request_body(NameWrite { name: name.clone() })?,
                )
                .query("opt_fields", "name")
                .idempotency(Idempotency::CreateOnce);
                let created: NamedRef = self.data(request).await?;
                debug!(tag = %name, gid = %created.gid, "created tag");
                known.insert(name.clone(), created.gid.clone());
                out.insert(name.clone(), created.gid);
            }
        }
        Ok(out)
    }

    /// The gid of the section named `name` in `project`, created when missing.
    pub(crate) async fn section_gid(
        &self,
        project: &str,
        name: &str,
    ) -> Result<String, ConnectorError> {
        let mut sections = self.sections.lock().await;
        if !sections.contains_key(project) {
            let listed: Vec<NamedRef> = self
                .get_all(
                    &format!("/projects/{project}/sections"),
                    &[("opt_fields", wire::opt_fields(wire::NAME_FIELDS))],
                    true,
                )
                .await?;
            sections.insert(project.to_owned(), by_name(listed));
        }
        let known = sections.get_mut(project).ok_or_else(|| {
            ConnectorError::InvalidData("section cache lost its entry".to_owned())
        })?;
        if let Some(gid) = known.get(name) {
            return Ok(gid.clone());
        }
        let request = Request::post(
            format!("/projects/{project}/sections"),
            request_body(NameWrite {
                name: name.to_owned(),
            })?,
        )
        .query("opt_fields", "name")
        .idempotency(Idempotency::CreateOnce);
        let created: NamedRef = self.data(request).await?;
        // Creating a section is visible to everyone in the project: say so.
        warn!(
            "created section \"{name}\" in project {project} (a task names it and the project had no such section)"
        );
        debug!(section = %name, gid = %created.gid, "created section");
        known.insert(name.to_owned(), created.gid.clone());
        Ok(created.gid)
    }

    /// Forgets the sections of `project` (one was renamed or deleted).
    pub(crate) async fn forget_sections(&self, project: &str) {
        self.sections.lock().await.remove(project);
    }
}

/// The error for an assignee e-mail Asana does not know.
pub(crate) fn unknown_assignee(email: &str) -> ConnectorError {
    ConnectorError::InvalidData(format!(
        "assignee {email} is not a user of the Asana workspace"
    ))
}

/// Name -> gid, the first of several equal names winning (Asana allows duplicates).
fn by_name(listed: Vec<NamedRef>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for item in listed {
        if let Some(name) = item.name {
            out.entry(name.trim().to_owned()).or_insert(item.gid);
        }
    }
    out
}

/// A `{"data": ...}` request body.
pub(crate) fn request_body<T: serde::Serialize>(
    data: T,
) -> Result<serde_json::Value, ConnectorError> {
    wire::body(data)
        .map_err(|e| ConnectorError::InvalidData(format!("cannot encode a request: {e}")))
}
