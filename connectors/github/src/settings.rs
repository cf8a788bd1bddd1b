//! What a [`GithubConnector`](crate::GithubConnector) needs: the repository, the `[users]`
//! table, where the Asana task links point, the spacing of mutations and the `ETag` cache
//! file; and [`http_config`], the shared HTTP layer's configuration for GitHub (headers,
//! caps, retry budget); and [`GithubTarget`], the `github = { repo = "…" }` table of a
//! link read for the bridge's target registry, with what it builds and checks.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use std::sync::Arc;

use asana_bridge_connector::connector::{
    Access, AccessError, ConnectSetup, LinkSetup, Reach, TargetError, TargetHooks, TargetKind,
    TargetSpec, TargetTable, read_token,
};
use asana_bridge_connector::http::{HttpClient, HttpConfig, Request, RetryPolicy};
use asana_bridge_connector::{Connector, ConnectorError};
use reqwest::header::{self, HeaderValue};
use secrecy::SecretString;

use crate::GithubConnector;
use crate::pacer::DEFAULT_MUTATION_SPACING;

/// GitHub's API root (GitHub Enterprise: `https://HOST/api/v3`).
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// The REST API version the connector is written against.
pub const API_VERSION: &str = "2022-11-28";

/// Why settings are unusable.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("the GitHub repository must be written \"owner/name\", not {0:?}")]
    Repo(String),
}

/// How the connector of one repository behaves.
#[derive(Clone, Debug)]
pub struct GithubSettings {
    /// Repository owner (user or organisation).
    pub owner: String,
    /// Repository name.
    pub name: String,
    /// Asana e-mail (lower-case) -> GitHub login, the config's `[users]` table.
    pub users: BTreeMap<String, String>,
    /// The footer links to this + the task gid, e.g.
    /// `https://app.asana.com/0/<project gid>/`.
    pub asana_task_url: String,
    /// Least time between two mutations (GitHub asks for about a second).
    pub mutation_spacing: Duration,
    /// Where `ETag`s and bodies are kept between runs; `None`: in memory only.
    pub etag_cache: Option<PathBuf>,
    /// Where each issue's latest comment change is kept between runs; `None`: in memory
    /// only.
    pub comment_marks: Option<PathBuf>,
    /// Content-creating requests (new issues, new labels) allowed an hour: GitHub's
    /// secondary limit is about 500. Beyond, creates are postponed to a later run.
    pub creates_per_hour: u32,
    /// Where the creations of the last hour are kept between runs (next to the `ETag`
    /// cache); `None`: in memory only.
    pub budget_file: Option<PathBuf>,
}

impl GithubSettings {
    /// Settings for `repo` (`owner/name`) of a link to Asana project `asana_project`, with
    /// no users, a one-second mutation spacing and no cache file.
    ///
    /// # Errors
    /// [`SettingsError::Repo`] when `repo` is not `owner/name`.
    pub fn new(repo: &str, asana_project: &str) -> Result<Self, SettingsError> {
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        let (owner, name) = repo
            .trim()
            .split_once('/')
            .filter(|(o, n)| valid(o) && valid(n))
            .ok_or_else(|| SettingsError::Repo(repo.to_owned()))?;
        Ok(Self {
            owner: owner.to_owned(),
            name: name.to_owned(),
            users: BTreeMap::new(),
            asana_task_url: format!("https://app.asana.com/0/{asana_project}/"),
            mutation_spacing: DEFAULT_MUTATION_SPACING,
            etag_cache: None,
            comment_marks: None,
            creates_per_hour: crate::budget::DEFAULT_CREATES_PER_HOUR,
            budget_file: None,
        })
    }

    /// The same settings with the `[users]` table (e-mails are lower-cased).
    #[must_use]
    pub fn with_users(mut self, users: &BTreeMap<String, String>) -> Self {
        self.users = users
            .iter()
            .map(|(email, login)| (email.trim().to_lowercase(), login.trim().to_owned()))
            .collect();
        self
    }
}

/// The shared HTTP layer's configuration for GitHub at `api_url` with `token` (a
/// fine-grained or classic PAT, or an App installation token: all are bearer tokens).
///
/// GitHub's headers on every request; writes one at a time (secondary limits); at most 10
/// reads at once (far below the 100 concurrent requests GitHub allows); a client-side
/// ceiling of 1,000 requests a minute, the primary budget being GitHub's to announce (its
/// `x-ratelimit-*` headers are obeyed by the HTTP layer); and a retry budget of three
/// minutes, since a secondary limit commonly asks for a minute.
#[must_use]
pub fn http_config(api_url: &str, token: SecretString) -> HttpConfig {
    let mut config = HttpConfig::new("github", api_url, token);
    config.extra_headers.insert(
        header::ACCEPT,
        HeaderValue::from_static("application/vnd.github+json"),
    );
    config.extra_headers.insert(
        "x-github-api-version",
        HeaderValue::from_static(API_VERSION),
    );
    config.max_writes_in_flight = 1;
    config.max_reads_in_flight = 10;
    config.requests_per_minute = 1000;
    config.retry = RetryPolicy {
        max_elapsed: Duration::from_secs(180),
        ..RetryPolicy::default()
    };
    // A transferred issue answers 301 to its new repository: that is the news (the issue
    // left the link), not a detour to follow. Other redirects (a renamed repository) are
    // followed.
    config.stop_redirect = Some(is_issue_url);
    config
}

/// Whether `url` addresses one issue (`…/issues/{number}`).
#[must_use]
pub fn is_issue_url(url: &reqwest::Url) -> bool {
    let mut segments = url.path().trim_end_matches('/').rsplit('/');
    let last = segments.next().unwrap_or("");
    !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
        && segments.next() == Some("issues")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_must_be_owner_slash_name() {
        let s = GithubSettings::new("acme/app", "12").expect("valid");
        assert_eq!((s.owner.as_str(), s.name.as_str()), ("acme", "app"));
        assert_eq!(s.asana_task_url, "https://app.asana.com/0/12/");
        for bad in ["acme", "acme/", "/app", "acme/app/x", "a b/c", ""] {
            assert!(GithubSettings::new(bad, "1").is_err(), "{bad:?}");
        }
    }

    /// The link's `github` table: defaults (token variable, API root), `import`, the
    /// `[users]` table handed over, and the repository checked as before.
    #[test]
    fn table_is_read_with_defaults_and_checked() {
        let users = BTreeMap::from([("a@x.org".to_owned(), "a-gh".to_owned())]);
        let link = LinkSetup {
            name: "bugs",
            asana_project: "12",
            config_dir: std::path::Path::new("/cfg"),
            users: &users,
        };
        let spec = GithubTarget
            .parse(serde_json::json!({"repo": "acme/app"}), &link)
            .expect("valid");
        assert_eq!(spec.kind(), "github");
        assert!(!spec.import_completed(), "open issues only by default");
        assert_eq!(
            spec.service_url(),
            Some(("the GitHub API URL", DEFAULT_API_URL))
        );
        assert_eq!(spec.folder(), None);
        let all = GithubTarget
            .parse(
                serde_json::json!({"repo": "acme/app", "import": "all", "api_url": "http://ghe/api/v3/", "token_env": "GH"}),
                &link,
            )
            .expect("valid");
        assert!(all.import_completed());
        assert_eq!(
            all.service_url(),
            Some(("the GitHub API URL", "http://ghe/api/v3"))
        );
        for (bad, needle) in [
            (
                serde_json::json!({"repo": "app"}),
                "github.repo must look like \"owner/name\"",
            ),
            (
                serde_json::json!({"repo": "a/b", "import": "some"}),
                "unknown variant `some`",
            ),
            (
                serde_json::json!({"repo": "a/b", "owner": "x"}),
                "unknown field `owner`",
            ),
        ] {
            let err = GithubTarget.parse(bad, &link).expect_err("refused");
            assert!(err.contains(needle), "{needle:?} not in {err:?}");
        }
    }

    /// A missing token is a usage error naming the setting, never a token.
    #[test]
    fn a_missing_token_names_the_setting() {
        let users = BTreeMap::new();
        let link = LinkSetup {
            name: "bugs",
            asana_project: "12",
            config_dir: std::path::Path::new("/cfg"),
            users: &users,
        };
        let spec = GithubTarget
            .parse(
                serde_json::json!({"repo": "acme/app", "token_env": "ASANA_BRIDGE_TEST_UNSET_GH_TOKEN"}),
                &link,
            )
            .expect("valid");
        let setup = ConnectSetup {
            link: "bugs",
            file_stem: "bugs",
            state_dir: std::path::Path::new("/state"),
            persist: false,
        };
        let Err(TargetError::Usage(message)) = spec.connect(&setup) else {
            panic!("a usage error");
        };
        assert!(
            message.contains(
                "ASANA_BRIDGE_TEST_UNSET_GH_TOKEN (named by link \"bugs\" github.token_env"
            ),
            "{message}"
        );
    }

    /// Only a single issue's URL keeps its redirect (a transfer); listings and renamed
    /// repositories are followed.
    #[test]
    fn redirects_kept_only_from_an_issue() {
        let url = |s: &str| reqwest::Url::parse(s).expect("url");
        assert!(is_issue_url(&url(
            "https://api.github.com/repos/a/b/issues/12"
        )));
        assert!(!is_issue_url(&url(
            "https://api.github.com/repos/a/b/issues?page=2"
        )));
        assert!(!is_issue_url(&url(
            "https://api.github.com/repos/a/b/labels/12"
        )));
        assert!(!is_issue_url(&url("https://api.github.com/repos/a/b")));
    }
}

/// Environment variable overriding the spacing of GitHub writes, in milliseconds (GitHub
/// asks for about a second; tests against a simulator use less).
pub const MUTATION_SPACING_ENV: &str = "GITHUB_MUTATION_SPACING_MS";
/// Environment variable overriding GitHub's hourly budget of content creations (about
/// 500; tests against a simulator use less).
pub const CREATES_PER_HOUR_ENV: &str = "GITHUB_CREATES_PER_HOUR";

/// The `github` target kind (register it with the bridge): a link's
/// `github = { repo = "owner/name", token_env = "…", api_url = "…", import = "open" }`.
#[derive(Clone, Copy, Debug, Default)]
pub struct GithubTarget;

/// Which unmapped items create counterparts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum Import {
    /// Only open issues and incomplete tasks.
    #[default]
    Open,
    /// Closed issues and completed tasks too.
    All,
}

/// The link's `github` table as written.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGithub {
    repo: String,
    token_env: Option<String>,
    api_url: Option<String>,
    #[serde(default)]
    import: Import,
}

/// A link's GitHub repository, with defaults applied.
#[derive(Clone, Debug)]
pub struct GithubSpec {
    /// `owner/name`.
    pub repo: String,
    /// The environment variable holding the token.
    pub token_env: String,
    /// The API root, without a trailing `/`.
    pub api_url: String,
    /// `import = "all"`: closed issues and completed tasks create counterparts too.
    pub import_all: bool,
    /// The linked Asana project (the footer links its tasks).
    pub asana_project: String,
    /// The config's `[users]` table: Asana e-mail -> GitHub login.
    pub users: BTreeMap<String, String>,
}

impl TargetKind for GithubTarget {
    fn key(&self) -> &'static str {
        "github"
    }

    fn log_target(&self) -> &'static str {
        "asana_bridge_github"
    }

    fn example(&self) -> &'static str {
        "github = { repo = \"owner/name\" }"
    }

    fn parse(
        &self,
        table: TargetTable,
        link: &LinkSetup<'_>,
    ) -> Result<Arc<dyn TargetSpec>, String> {
        use serde::Deserialize;
        let raw = RawGithub::deserialize(table).map_err(|e| format!("github: {e}"))?;
        if raw.repo.split('/').count() != 2 || raw.repo.split('/').any(str::is_empty) {
            return Err("github.repo must look like \"owner/name\"".into());
        }
        Ok(Arc::new(GithubSpec {
            repo: raw.repo,
            token_env: raw.token_env.unwrap_or_else(|| "GITHUB_TOKEN".into()),
            api_url: raw
                .api_url
                .unwrap_or_else(|| DEFAULT_API_URL.into())
                .trim_end_matches('/')
                .to_owned(),
            import_all: raw.import == Import::All,
            asana_project: link.asana_project.to_owned(),
            users: link.users.clone(),
        }))
    }
}

impl GithubSpec {
    /// The HTTP client of the link's token.
    fn http(&self, link: &str, retry: Option<RetryPolicy>) -> Result<HttpClient, TargetError> {
        let token = read_token(
            &self.token_env,
            &format!("link \"{link}\" github.token_env"),
        )?;
        let mut config = http_config(&self.api_url, token);
        if let Some(retry) = retry {
            config = config.with_retry(retry);
        }
        HttpClient::new(config).map_err(|e| {
            TargetError::Usage(format!(
                "link \"{link}\": cannot set up the GitHub client: {e}"
            ))
        })
    }

    /// A connector of the repository. `persist`: it keeps its `ETag`s and creation budget
    /// in the state folder between runs (a real sync; a dry run writes no file).
    ///
    /// # Errors
    /// A token variable that is empty, a client or settings that cannot be set up.
    pub fn connector(&self, setup: &ConnectSetup<'_>) -> Result<GithubConnector, TargetError> {
        let http = self.http(setup.link, None)?;
        let mut settings = GithubSettings::new(&self.repo, &self.asana_project)
            .map_err(|e| TargetError::Usage(format!("link \"{}\": {e}", setup.link)))?
            .with_users(&self.users);
        if let Some(ms) = env_number::<u64>(MUTATION_SPACING_ENV) {
            settings.mutation_spacing = Duration::from_millis(ms);
        }
        if let Some(n) = env_number::<u32>(CREATES_PER_HOUR_ENV) {
            settings.creates_per_hour = n;
        }
        // A real sync keeps ETags between runs (a 304 costs no rate limit); a dry run
        // writes no file.
        if setup.persist {
            let dir = setup.state_dir.join("github");
            settings.etag_cache = Some(dir.join(format!("{}.etags.json", setup.file_stem)));
            settings.comment_marks = Some(dir.join(format!("{}.comments.json", setup.file_stem)));
            // GitHub's content-creation budget spans runs: the last hour's creations.
            settings.budget_file = Some(dir.join(format!("{}.creates.json", setup.file_stem)));
        }
        Ok(GithubConnector::new(http, settings))
    }
}

fn env_number<T: std::str::FromStr>(var: &str) -> Option<T> {
    std::env::var(var).ok().and_then(|v| v.trim().parse().ok())
}

#[async_trait::async_trait]
impl TargetSpec for GithubSpec {
    fn kind(&self) -> &'static str {
        "github"
    }

    fn import_completed(&self) -> bool {
        self.import_all
    }

    fn service_url(&self) -> Option<(&'static str, &str)> {
        Some(("the GitHub API URL", &self.api_url))
    }

    fn connect(&self, setup: &ConnectSetup<'_>) -> Result<Box<dyn Connector>, TargetError> {
        Ok(Box::new(self.connector(setup)?))
    }

    /// The repository's webhooks, through a connector of their own (no `ETag` file).
    fn hooks(&self, setup: &ConnectSetup<'_>) -> Result<Option<Arc<dyn TargetHooks>>, TargetError> {
        let setup = ConnectSetup {
            persist: false,
            ..*setup
        };
        Ok(Some(Arc::new(self.connector(&setup)?)))
    }

    /// Whose the token is (`GET /user`; an app installation token has no user and gets a
    /// 403) and whether it sees the repository (its labels listing: the cheapest request
    /// every visible repository answers, and a 404 for one the token cannot see).
    async fn access(&self, link: &str, retry: Duration) -> Option<Access> {
        Some(Access {
            service: "GitHub",
            noun: "repository",
            scope: self.repo.clone(),
            token_env: self.token_env.clone(),
            outcome: self.reach(link, retry).await,
        })
    }
}

impl GithubSpec {
    async fn reach(&self, link: &str, retry: Duration) -> Result<Reach, AccessError> {
        let http = self
            .http(link, Some(RetryPolicy::fast(retry)))
            .map_err(|e| match e {
                TargetError::Usage(m) | TargetError::Runtime(m) => AccessError::Setup(
                    // The link is named by the caller.
                    m.strip_prefix(&format!("link \"{link}\": "))
                        .map_or_else(|| m.clone(), str::to_owned),
                ),
            })?;
        let login = match http.send(Request::get("/user")).await {
            Ok(r) => Some(
                r.json::<serde_json::Value>()
                    .ok()
                    .and_then(|u| u["login"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| "?".to_owned()),
            ),
            Err(ConnectorError::Forbidden(_)) => None,
            Err(source) => {
                return Err(AccessError::Refused {
                    service: "GitHub",
                    token_env: self.token_env.clone(),
                    source,
                });
            }
        };
        let visible = match http
            .send(Request::get(format!("/repos/{}/labels", self.repo)).query("per_page", "1"))
            .await
        {
            Ok(_) => true,
            Err(ConnectorError::NotFound(_) | ConnectorError::Forbidden(_)) => false,
            Err(e) => return Err(AccessError::Failed(e)),
        };
        Ok(Reach { login, visible })
    }
}
