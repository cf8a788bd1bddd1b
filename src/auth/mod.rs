//! Authentication: where the bridge's Asana identity comes from, and the OAuth flow.
//!
//! - [`store`]: the credentials `auth login` keeps: OS keyring (feature `keyring`) or an
//!   owner-only file.
//! - [`oauth`]: the authorization-code flow with PKCE and a loopback redirect, refresh,
//!   revoke, and the refreshing [`oauth::OAuthSource`].
//!
//! [`asana_credential`] picks the token of a run, in this order:
//! 1. the environment variable `asana.token_env` names (a personal access token or a
//!    service-account token), when set;
//! 2. what `auth login` stored for this Asana API root: a token given to
//!    `auth login --with-token`, or an OAuth grant (refreshed into access tokens with the
//!    app of `[asana.oauth]`).
//!
//! The config file never holds a token or a client secret.

pub mod oauth;
pub mod store;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use asana_bridge_connector::ConnectorError;
use secrecy::SecretString;

use crate::config::AsanaSettings;
use oauth::{OAuthApp, OAuthSource};
use store::{CredentialStore, FileStore, Stored};

/// The environment variable that may hold the OAuth app's client id.
pub const CLIENT_ID_ENV: &str = "ASANA_CLIENT_ID";

/// An authentication problem.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "no Asana credential: set the environment variable {env} to a personal access token or service-account token, or run `asana-bridge auth login` (OAuth) or `asana-bridge auth login --with-token` (keeps a token in {store})"
    )]
    NoCredential { env: String, store: String },
    #[error("{0}")]
    Config(String),
    #[error("cannot use the credential store ({store}): {source}")]
    Store {
        store: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the credential store ({store}) is damaged: {message}")]
    StoreFormat { store: String, message: String },
    #[error(
        "refusing the credentials file {}: its mode is {mode:04o}, readable by others; run `chmod 600` on it",
        path.display()
    )]
    UnsafeFile { path: PathBuf, mode: u32 },
    #[error("the OS keyring failed: {0}")]
    Keyring(String),
    #[error("Asana refused: {error}{}", if description.is_empty() { String::new() } else { format!(" ({description})") })]
    Refused { error: String, description: String },
    #[error("cannot reach Asana's OAuth endpoint: {0}")]
    Network(String),
    #[error("the loopback redirect failed: {0}")]
    Loopback(String),
    #[error(
        "the sign-in answer did not carry this login's state (a stale or forged redirect); nothing was stored"
    )]
    StateMismatch,
    #[error("no sign-in arrived within {} s", .0.as_secs())]
    Timeout(Duration),
}

impl AuthError {
    /// Whether the user must fix configuration or run a command (exit 2) rather than a
    /// runtime failure (exit 1).
    #[must_use]
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Self::NoCredential { .. } | Self::Config(_) | Self::UnsafeFile { .. }
        )
    }

    /// As a connector error, for a refresh during a run: a refused grant is
    /// `Unauthorized` with the way out; the rest is transient.
    #[must_use]
    pub fn into_connector(self) -> ConnectorError {
        match self {
            Self::Refused { error, description } => ConnectorError::Unauthorized {
                status: 401,
                message: format!(
                    "Asana refused to refresh the OAuth sign-in ({error}{}): it was revoked or has expired; run `asana-bridge auth login` again",
                    if description.is_empty() {
                        String::new()
                    } else {
                        format!(": {description}")
                    }
                ),
            },
            other => ConnectorError::Transient {
                service: "asana",
                message: other.to_string(),
            },
        }
    }
}

/// Where a run's Asana token comes from.
pub enum AsanaCredential {
    /// A fixed token (PAT or service account).
    Fixed {
        token: SecretString,
        /// For `auth status`: e.g. `environment variable ASANA_TOKEN`.
        origin: String,
    },
    /// An OAuth grant, refreshed as needed.
    OAuth {
        source: Arc<OAuthSource>,
        origin: String,
    },
}

impl AsanaCredential {
    /// Where it came from, for `auth status`.
    #[must_use]
    pub fn origin(&self) -> &str {
        match self {
            Self::Fixed { origin, .. } | Self::OAuth { origin, .. } => origin,
        }
    }
}

/// The account key of the stores: the API root (so the simulator and Asana never mix).
#[must_use]
pub fn account(settings: &AsanaSettings) -> String {
    format!("asana {}", settings.base_url)
}

/// The credential store of this config: the OS keyring when wanted and available, else
/// the owner-only file.
///
/// # Errors
/// No file location can be found (no `token_file`, no `$XDG_CONFIG_HOME`, no `$HOME`).
pub fn credential_store(settings: &AsanaSettings) -> Result<Box<dyn CredentialStore>, AuthError> {
    #[cfg(feature = "keyring")]
    if settings.keyring
        && settings.token_file.is_none()
        && let Some(keyring) = store::KeyringStore::os()
    {
        return Ok(Box::new(keyring));
    }
    let path = settings
        .token_file
        .clone()
        .or_else(store::default_file)
        .ok_or_else(|| {
            AuthError::Config(
                "no place for the credentials file: set asana.token_file, $XDG_CONFIG_HOME or $HOME"
                    .to_owned(),
            )
        })?;
    Ok(Box::new(FileStore::new(path)))
}

/// The OAuth app of `[asana.oauth]`, its client id from the config or
/// [`CLIENT_ID_ENV`], its secret from the variable `client_secret_env` names.
///
/// # Errors
/// [`AuthError::Config`] naming what is missing.
pub fn oauth_app(settings: &AsanaSettings) -> Result<OAuthApp, AuthError> {
    let o = &settings.oauth;
    let client_id = o
        .client_id
        .clone()
        .or_else(|| std::env::var(CLIENT_ID_ENV).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            AuthError::Config(format!(
                "no OAuth app: set asana.oauth.client_id in the config (or {CLIENT_ID_ENV}) to your Asana app's client id"
            ))
        })?;
    let secret = std::env::var(&o.client_secret_env)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            AuthError::Config(format!(
                "the environment variable {} (asana.oauth.client_secret_env) holds no client secret of the Asana app",
                o.client_secret_env
            ))
        })?;
    Ok(OAuthApp {
        client_id,
        client_secret: SecretString::from(secret),
        authorize_url: o.authorize_url.clone(),
        token_url: o.token_url.clone(),
        revoke_url: o.revoke_url.clone(),
        redirect_port: o.redirect_port,
        scopes: o.scopes.clone(),
    })
}

/// The Asana token of a run (see the module documentation for the order).
///
/// # Errors
/// No credential anywhere, an unsafe or damaged store, an OAuth grant without its app.
pub fn asana_credential(settings: &AsanaSettings) -> Result<AsanaCredential, AuthError> {
    if let Ok(v) = std::env::var(&settings.token_env)
        && !v.trim().is_empty()
    {
        return Ok(AsanaCredential::Fixed {
            token: SecretString::from(v.trim().to_owned()),
            origin: format!("environment variable {}", settings.token_env),
        });
    }
    let store = credential_store(settings)?;
    match store.load(&account(settings))? {
        Some(Stored::Token(token)) => Ok(AsanaCredential::Fixed {
            token,
            origin: format!(
                "token stored by `auth login --with-token` in {}",
                store.describe()
            ),
        }),
        Some(Stored::OAuth(grant)) => {
            let app = oauth_app(settings).map_err(|e| {
                AuthError::Config(format!(
                    "an OAuth sign-in is stored, but its app is not configured: {e}"
                ))
            })?;
            if app.client_id != grant.client_id {
                return Err(AuthError::Config(format!(
                    "the stored OAuth sign-in belongs to the app {}, but asana.oauth.client_id is {}; run `asana-bridge auth login` again",
                    grant.client_id, app.client_id
                )));
            }
            Ok(AsanaCredential::OAuth {
                source: OAuthSource::new(app, grant.refresh_token),
                origin: format!(
                    "OAuth sign-in of {} kept in {}",
                    if grant.user_email.is_empty() {
                        grant.user_name
                    } else {
                        grant.user_email
                    },
                    store.describe()
                ),
            })
        }
        None => Err(AuthError::NoCredential {
            env: settings.token_env.clone(),
            store: store.describe(),
        }),
    }
}
