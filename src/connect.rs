//! Builds the connectors a link names, from the config and the environment. The one
//! place that reads tokens: from the environment variables the config names, never from
//! the config file, and into `SecretString`s that never print.

use std::sync::Arc;

use anyhow::anyhow;
use asana_bridge_asana::{AsanaClient, AsanaConfig, AsanaConnector};
use asana_bridge_connector::Connector;
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
}

impl Connectors {
    /// Reads the Asana token and builds the shared client.
    pub fn new(config: &Config) -> Result<Self, CliError> {
        let token = read_token(&config.asana.token_env, "asana.token_env")?;
        let client = AsanaClient::new(AsanaConfig {
            base_url: config.asana.base_url.clone(),
            token,
            requests_per_minute: config.asana.requests_per_minute,
        })
        .map_err(|e| CliError::usage(anyhow!("cannot set up the Asana client: {e}")))?;
        Ok(Self {
            asana: Arc::new(client),
        })
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
                return Err(CliError::usage(anyhow!(
                    "link \"{}\": GitHub targets are not available in this version yet",
                    link.name
                )));
            }
        };
        Ok(LinkConnectors { asana, target })
    }
}

/// Reads a token from the environment variable `var`.
fn read_token(var: &str, setting: &str) -> Result<SecretString, CliError> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(SecretString::from(v.trim().to_owned())),
        _ => Err(CliError::usage(anyhow!(
            "the environment variable {var} (named by {setting} in the config) holds no token; export it with a personal access token or service-account token"
        ))),
    }
}
