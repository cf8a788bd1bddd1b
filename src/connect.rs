//! Builds the connectors a link names, from the config and the environment: the shared
//! Asana client here, a target's connector by its own crate (see [`crate::targets`]).
//! Tokens come from the environment variables the config names, or (Asana) from what
//! `auth login` stored (see [`crate::auth`]), never from the config file, and into
//! `SecretString`s that never print. An OAuth sign-in gives the Asana client a refreshing
//! token source instead of a fixed token.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use asana_bridge_asana::{AsanaClient, AsanaConfig, AsanaConnector};
use asana_bridge_connector::Connector;
use asana_bridge_connector::connector::{ConnectSetup, TargetError, TargetHooks};
use asana_bridge_connector::http::HttpClient;
use secrecy::SecretString;

use crate::config::{Config, LinkConfig};
use crate::exit::CliError;

/// The two connectors of one link.
pub struct LinkConnectors {
    pub asana: Box<dyn Connector>,
    pub target: Box<dyn Connector>,
}

/// The connectors of a run; links share one Asana client (one token, one rate budget).
pub struct Connectors {
    asana: Arc<AsanaClient>,
    /// The state directory, where targets keep their caches.
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

    /// The Asana and target connectors of `link`. `persist`: a real sync (a missing
    /// Markdown folder is created, caches are kept); otherwise nothing is written (a dry
    /// run: a missing folder reads as empty).
    pub fn for_link(&self, link: &LinkConfig, persist: bool) -> Result<LinkConnectors, CliError> {
        let asana = Box::new(AsanaConnector::new(
            Arc::clone(&self.asana),
            link.asana_project.clone(),
        ));
        let target = self.with_setup(link, persist, |spec, setup| spec.connect(setup))?;
        Ok(LinkConnectors { asana, target })
    }

    /// The webhooks of `link`'s target, for `watch` (`None`: it has none).
    pub fn hooks(&self, link: &LinkConfig) -> Result<Option<Arc<dyn TargetHooks>>, CliError> {
        self.with_setup(link, false, |spec, setup| spec.hooks(setup))
    }

    /// Runs `build` on `link`'s target spec with where it may keep files, its error
    /// turned into the CLI's (a usage error exits 2).
    fn with_setup<T>(
        &self,
        link: &LinkConfig,
        persist: bool,
        build: impl FnOnce(
            &dyn asana_bridge_connector::connector::TargetSpec,
            &ConnectSetup<'_>,
        ) -> Result<T, TargetError>,
    ) -> Result<T, CliError> {
        let file_stem = link.path_component();
        let setup = ConnectSetup {
            link: &link.name,
            file_stem: &file_stem,
            state_dir: &self.state_dir,
            persist,
        };
        build(link.target.spec().as_ref(), &setup).map_err(target_error)
    }
}

/// A target's error as the CLI's: its exit code follows the kind.
pub(crate) fn target_error(e: TargetError) -> CliError {
    match e {
        TargetError::Usage(m) => CliError::usage(anyhow!(m)),
        TargetError::Runtime(m) => CliError::runtime(anyhow!(m)),
    }
}
