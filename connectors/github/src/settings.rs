//! What a [`GithubConnector`](crate::GithubConnector) needs: the repository, the `[users]`
//! table, where the Asana task links point, the spacing of mutations and the `ETag` cache
//! file; and [`http_config`], the shared HTTP layer's configuration for GitHub (headers,
//! caps, retry budget).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use asana_bridge_connector::http::{HttpConfig, RetryPolicy};
use reqwest::header::{self, HeaderValue};
use secrecy::SecretString;

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
