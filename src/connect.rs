//! Builds the connectors a link names, from the config and the environment. The one
//! place that reads tokens: from the environment variables the config names, or (Asana)
//! from what `auth login` stored (see [`crate::auth`]), never from the config file, and into
//! `SecretString`s that never print. An OAuth sign-in gives the Asana client a refreshing
//! token source instead of a fixed token.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use asana_bridge_asana::{AsanaClient, AsanaConfig, AsanaConnector};
use asana_bridge_connector::Connector;
use asana_bridge_connector::http::HttpClient;
use asana_bridge_github::{GithubConnector, GithubSettings};
use asana_bridge_markdown::MarkdownConnector;
use secrecy::SecretString;

use crate::config::{Config, LinkConfig, TargetConfig};
use crate::exit::CliError;

/// The two connectors of one link.
pub struct LinkConnectors {
    pub asana: Box<dyn Connector>,
    pub target: Box<dyn Connector>,
}

/// The connectors of a run; links share one Asana client (one token, one rate budget).
pub struct Connectors {
    asana: Arc<AsanaClient>,
    /// The `[users]` table (Asana e-mail -> GitHub login), for GitHub targets.
    users: BTreeMap<String, String>,
    /// The state directory, where GitHub targets keep their `ETag` cache.
    state_dir: PathBuf,
    /// Where the Asana token came from (for `auth status`).
    asana_origin: String,
    /// Where the learned Asana rate is kept (`None`: a dry run keeps nothing).
    rate_file: Option<PathBuf>,
}

impl Drop for Connectors {
    /// Keeps what the run learned about Asana's rate and when its last minute's requests
    /// went out, for the next run.
    fn drop(&mut self) {
        if let Some(path) = &self.rate_file {
            asana_bridge_asana::rate_file::save(path, &self.asana.http().rate_memory());
        }
    }
}

/// Environment variable overriding the spacing of GitHub writes, in milliseconds (GitHub
/// asks for about a second; tests against a simulator use less).
pub const GITHUB_MUTATION_SPACING_ENV: &str = "GITHUB_MUTATION_SPACING_MS";
/// Environment variable overriding GitHub's hourly budget of content creations (about
/// 500; tests against a simulator use less).
pub const GITHUB_CREATES_PER_HOUR_ENV: &str = "GITHUB_CREATES_PER_HOUR";

/// Environment variable scaling the window of `asana.requests_per_minute`, in
/// milliseconds (a minute). Only for tests and benchmarks against a simulator whose
/// rate window is scaled the same way.
pub const ASANA_RATE_WINDOW_ENV: &str = "ASANA_BRIDGE_RATE_WINDOW_MS";

impl Connectors {
    /// Reads the Asana token and builds the shared client. A `dry_run` keeps nothing on
    /// disk (no cache either).
    pub fn new(config: &Config, dry_run: bool) -> Result<Self, CliError> {
        let credential = crate::auth::asana_credential(&config.asana).map_err(|e| {
            if e.is_usage() {
                CliError::usage(e)
            } else {
                CliError::runtime(e)
            }
        })?;
        let asana_origin = credential.origin().to_owned();
        let (token, source) = match credential {
            crate::auth::AsanaCredential::Fixed { token, .. } => (token, None),
            crate::auth::AsanaCredential::OAuth { source, .. } => {
                (SecretString::from(String::new()), Some(source))
            }
        };
        let mut http = AsanaConfig {
            base_url: config.asana.base_url.clone(),
            token,
            requests_per_minute: config.asana.requests_per_minute,
        }
        .http_config();
        if let Some(source) = source {
            http = http.with_token_source(source);
        }
        http.retry.max_elapsed = Duration::from_secs(config.asana.retry_max_seconds);
        if let Some(ms) = std::env::var(ASANA_RATE_WINDOW_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|ms| *ms > 0)
        {
            http.rate_window = Duration::from_millis(ms);
        }
        // The rate a 429 taught an earlier run, kept in the state directory.
        let rate_file = (!dry_run).then(|| {
            config
                .state_dir
                .join(asana_bridge_asana::rate_file::RATE_FILE)
        });
        if let Some(path) = &rate_file {
            http.rate_memory = asana_bridge_asana::rate_file::load(path);
            let path = path.clone();
            http.on_rate_learned = Some(Arc::new(move |memory| {
                asana_bridge_asana::rate_file::save(&path, memory);
            }));
        }
        let http = HttpClient::new(http)
            .map_err(|e| CliError::usage(anyhow!("cannot set up the Asana client: {e}")))?;
        // The users directory is kept between runs (owner-only, in the state directory).
        let mut client = AsanaClient::with_http(http);
        if !dry_run {
            client = client.with_directory_cache(config.state_dir.join("asana-users.json"));
        }
        Ok(Self {
            asana: Arc::new(client),
            users: config.users.clone(),
            state_dir: config.state_dir.clone(),
            asana_origin,
            rate_file,
        })
    }

    /// Where the Asana token came from, e.g. `environment variable ASANA_TOKEN`.
    #[must_use]
    pub fn asana_origin(&self) -> &str {
        &self.asana_origin
    }

    /// The Asana client every link shares.
    #[must_use]
    pub fn asana_client(&self) -> Arc<AsanaClient> {
        Arc::clone(&self.asana)
    }

    /// The Asana and target connectors of `link`. `create_dirs`: a missing Markdown folder
    /// is created (a real sync); otherwise it reads as empty (a dry run writes nothing).
    pub fn for_link(
        &self,
        link: &LinkConfig,
        create_dirs: bool,
    ) -> Result<LinkConnectors, CliError> {
        let asana = Box::new(AsanaConnector::new(
            Arc::clone(&self.asana),
            link.asana_project.clone(),
        ));
        let target: Box<dyn Connector> = match &link.target {
            TargetConfig::Markdown { dir } => {
                let md = MarkdownConnector::new(dir.clone());
                if create_dirs {
                    md.ensure_dir().map_err(|e| {
                        CliError::runtime(anyhow!(
                            "link \"{}\": cannot create the folder {}: {e}",
                            link.name,
                            dir.display()
                        ))
                    })?;
                    Box::new(md)
                } else {
                    Box::new(md.with_missing_dir_as_empty(true))
                }
            }
            TargetConfig::Github { .. } => {
                Box::new(self.github(link, create_dirs)?.ok_or_else(|| {
                    CliError::runtime(anyhow!("link \"{}\" has no GitHub target", link.name))
                })?)
            }
        };
        Ok(LinkConnectors { asana, target })
    }

    /// A connector of `link`'s GitHub repository (`None` for other targets). `etags`: it
    /// keeps its `ETag`s in the state folder between runs (a real sync; a dry run writes
    /// no file).
    pub fn github(
        &self,
        link: &LinkConfig,
        etags: bool,
    ) -> Result<Option<GithubConnector>, CliError> {
        let TargetConfig::Github {
            repo,
            token_env,
            api_url,
        } = &link.target
        else {
            return Ok(None);
        };
        let setting = format!("link \"{}\" github.token_env", link.name);
        let token = read_token(token_env, &setting)?;
        let http =
            HttpClient::new(asana_bridge_github::http_config(api_url, token)).map_err(|e| {
                CliError::usage(anyhow!(
                    "link \"{}\": cannot set up the GitHub client: {e}",
                    link.name
                ))
            })?;
        let mut settings = GithubSettings::new(repo, &link.asana_project)
            .map_err(|e| CliError::usage(anyhow!("link \"{}\": {e}", link.name)))?
            .with_users(&self.users);
        if let Some(ms) = std::env::var(GITHUB_MUTATION_SPACING_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            settings.mutation_spacing = Duration::from_millis(ms);
        }
        if let Some(n) = std::env::var(GITHUB_CREATES_PER_HOUR_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u32>().ok())
        {
            settings.creates_per_hour = n;
        }
        // A real sync keeps ETags between runs (a 304 costs no rate limit); a dry
        // run writes no file.
        if etags {
            let file = link.path_component();
            settings.etag_cache = Some(
                self.state_dir
                    .join("github")
                    .join(format!("{file}.etags.json")),
            );
            // GitHub's content-creation budget spans runs: the last hour's creations.
            settings.budget_file = Some(
                self.state_dir
                    .join("github")
                    .join(format!("{file}.creates.json")),
            );
        }
        Ok(Some(GithubConnector::new(http, settings)))
    }
}

/// Reads a token from the environment variable `var`.
pub(crate) fn read_token(var: &str, setting: &str) -> Result<SecretString, CliError> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(SecretString::from(v.trim().to_owned())),
        _ => Err(CliError::usage(anyhow!(
            "the environment variable {var} (named by {setting} in the config) holds no token; export it with a personal access token or service-account token"
        ))),
    }
}
