//! Repository webhooks (`/repos/{o}/{r}/hooks`), for `watch`: a hook whose deliveries
//! prompt a poll, created when a watch starts and deleted when it stops.
//!
//! The bridge picks the secret (GitHub has no handshake) and sends it only in the create
//! request's body; GitHub never shows it again (`"secret": "********"`). Every call here
//! is a plain request through the shared HTTP layer; creates and deletes go through the
//! connector's [`Pacer`](crate::pacer::Pacer) like every other mutation. What a delivery
//! of these hooks looks like is [`crate::delivery`]'s.

use asana_bridge_connector::ConnectorError;
use std::sync::Arc;

use asana_bridge_connector::connector::{DeliveryRules, RemoteHook, TargetHooks};
use asana_bridge_connector::http::{Idempotency, Request};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use crate::GithubConnector;
use crate::delivery::GithubDeliveries;

/// The events a bridge hook asks for: an issue changed, a comment was made.
pub const HOOK_EVENTS: [&str; 2] = ["issues", "issue_comment"];

/// A repository webhook, as far as the bridge reads it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Hook {
    pub id: u64,
    pub active: bool,
    #[serde(default)]
    pub events: Vec<String>,
    pub config: HookConfig,
}

/// A webhook's settings, as far as the bridge reads them (the secret is never shown).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct HookConfig {
    #[serde(default)]
    pub url: Option<String>,
}

impl GithubConnector {
    /// Creates a webhook sending [`HOOK_EVENTS`] to `url` as JSON, signed with `secret`.
    ///
    /// # Errors
    /// The request's error; GitHub answers `422` when a hook with this URL exists.
    pub async fn create_hook(
        &self,
        url: &str,
        secret: &SecretString,
    ) -> Result<Hook, ConnectorError> {
        let body = json!({
            "name": "web",
            "active": true,
            "events": HOOK_EVENTS,
            "config": {
                "url": url,
                "content_type": "json",
                "insecure_ssl": "0",
                "secret": secret.expose_secret(),
            },
        });
        let request = Request::new(Method::POST, format!("{}/hooks", self.repo_path()))
            .json(body)
            // Sent twice, it makes a second hook (or a 422): never retried blindly.
            .idempotency(Idempotency::CreateOnce);
        let response = self.pacer().run(self.http().send(request)).await?;
        response.json()
    }

    /// The repository's webhooks (first 100: GitHub allows far fewer per event).
    ///
    /// # Errors
    /// The request's error.
    pub async fn hooks(&self) -> Result<Vec<Hook>, ConnectorError> {
        let request = Request::get(format!("{}/hooks", self.repo_path())).query("per_page", "100");
        self.http().send(request).await?.json()
    }

    /// The webhook `id`, or `None` when it is gone.
    ///
    /// # Errors
    /// The request's error.
    pub async fn hook(&self, id: u64) -> Result<Option<Hook>, ConnectorError> {
        let request = Request::get(format!("{}/hooks/{id}", self.repo_path())).pass_through(404);
        let response = self.http().send(request).await?;
        if response.status == 404 {
            return Ok(None);
        }
        response.json().map(Some)
    }

    /// Deletes the webhook `id`; `false` when it was already gone.
    ///
    /// # Errors
    /// The request's error.
    pub async fn delete_hook(&self, id: u64) -> Result<bool, ConnectorError> {
        let request = Request::delete(format!("{}/hooks/{id}", self.repo_path()))
            .idempotency(Idempotency::Safe)
            .pass_through(404);
        let response = self.pacer().run(self.http().send(request)).await?;
        Ok(response.status != 404)
    }
}

impl From<Hook> for RemoteHook {
    fn from(hook: Hook) -> Self {
        Self {
            id: hook.id,
            url: hook.config.url,
            active: hook.active,
        }
    }
}

/// The repository's webhooks as the bridge's `watch` keeps them, whatever the target.
#[async_trait::async_trait]
impl TargetHooks for GithubConnector {
    fn service(&self) -> &'static str {
        "GitHub"
    }

    fn scope_noun(&self) -> &'static str {
        "repository"
    }

    fn scope(&self) -> String {
        self.repo()
    }

    fn deliveries(&self) -> Arc<dyn DeliveryRules> {
        Arc::new(GithubDeliveries)
    }

    async fn create(&self, url: &str, secret: &SecretString) -> Result<RemoteHook, ConnectorError> {
        self.create_hook(url, secret).await.map(RemoteHook::from)
    }

    async fn get(&self, id: u64) -> Result<Option<RemoteHook>, ConnectorError> {
        Ok(self.hook(id).await?.map(RemoteHook::from))
    }

    async fn list(&self) -> Result<Vec<RemoteHook>, ConnectorError> {
        Ok(self
            .hooks()
            .await?
            .into_iter()
            .map(RemoteHook::from)
            .collect())
    }

    async fn delete(&self, id: u64) -> Result<bool, ConnectorError> {
        self.delete_hook(id).await
    }
}
