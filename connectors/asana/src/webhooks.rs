//! Asana webhooks, the client side: create (`POST /webhooks`), list (`GET /webhooks`), read
//! (`GET /webhooks/{gid}`) and delete (`DELETE /webhooks/{gid}`), per Asana's OpenAPI
//! description.
//!
//! Creating a webhook makes Asana POST a handshake with an `X-Hook-Secret` header to the
//! target *while the create request is in flight*: the caller must already serve the
//! target and echo the header (see the bridge's `watch` webhook module). The secret is
//! taken from that handshake only; the copy Asana's docs show in the 201 body is ignored
//! (it is not something to rely on, and it would put a secret into a value that gets
//! logged). Nothing here verifies signatures: that belongs to the receiver.

use asana_bridge_connector::ConnectorError;
use asana_bridge_connector::http::{Idempotency, Request};
use serde::{Deserialize, Serialize};

use crate::client::{AsanaClient, request_body};
use crate::wire::{self, Ref};

/// The fields read for webhooks; every one is in the `opt_fields` enum of `POST /webhooks`,
/// `GET /webhooks` and `GET /webhooks/{webhook_gid}`.
pub const WEBHOOK_FIELDS: &[&str] = &[
    "active",
    "resource",
    "target",
    "created_at",
    "last_success_at",
    "last_failure_at",
];

/// A webhook as Asana reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookInfo {
    pub gid: String,
    /// The gid of the watched resource (a project, for the bridge).
    pub resource: Option<String>,
    /// Where Asana delivers.
    pub target: Option<String>,
    /// Whether Asana still delivers (a webhook failing for 24 h is deleted).
    pub active: bool,
    pub created_at: Option<String>,
    pub last_success_at: Option<String>,
    pub last_failure_at: Option<String>,
}

/// `WebhookResponse` with the [`WEBHOOK_FIELDS`].
#[derive(Debug, Deserialize)]
struct WireWebhook {
    gid: String,
    #[serde(default)]
    active: Option<bool>,
    #[serde(default)]
    resource: Option<Ref>,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    last_success_at: Option<String>,
    #[serde(default)]
    last_failure_at: Option<String>,
}

impl From<WireWebhook> for WebhookInfo {
    fn from(w: WireWebhook) -> Self {
        WebhookInfo {
            gid: w.gid,
            resource: w.resource.map(|r| r.gid),
            target: w.target,
            active: w.active.unwrap_or(false),
            created_at: w.created_at,
            last_success_at: w.last_success_at,
            last_failure_at: w.last_failure_at,
        }
    }
}

/// `WebhookRequest` without filters: every event on the resource.
#[derive(Debug, Serialize)]
struct WebhookRequest<'a> {
    resource: &'a str,
    target: &'a str,
}

/// Creates a webhook on `resource` delivering to `target`. Returns once Asana answered,
/// i.e. after the handshake to `target` succeeded.
///
/// Sent once: a lost answer is [`ConnectorError::Ambiguous`] (the webhook may exist; list
/// and delete it, or a retry meets a `403` duplicate).
///
/// # Errors
/// `Forbidden` for a duplicate (same resource and target, see [`is_duplicate`]) or a target
/// Asana refuses (e.g. `localhost`); `Api` with status 400 when the handshake failed; any
/// transport error.
pub async fn create_webhook(
    client: &AsanaClient,
    resource: &str,
    target: &str,
) -> Result<WebhookInfo, ConnectorError> {
    let request = Request::post(
        "/webhooks",
        request_body(WebhookRequest { resource, target })?,
    )
    .query("opt_fields", wire::opt_fields(WEBHOOK_FIELDS))
    .idempotency(Idempotency::CreateOnce);
    let created: WireWebhook = client.data(request).await?;
    Ok(created.into())
}

/// Deletes a webhook; `Ok(false)` when Asana no longer has it (404).
///
/// # Errors
/// Anything but a 404: transport errors, 401, 403.
pub async fn delete_webhook(client: &AsanaClient, gid: &str) -> Result<bool, ConnectorError> {
    match client
        .http()
        .send(Request::delete(format!("/webhooks/{gid}")))
        .await
    {
        Ok(_) => Ok(true),
        Err(ConnectorError::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// One webhook; `None` when Asana no longer has it (deleted, or removed after a day of
/// failed deliveries).
///
/// # Errors
/// Anything but a 404.
pub async fn get_webhook(
    client: &AsanaClient,
    gid: &str,
) -> Result<Option<WebhookInfo>, ConnectorError> {
    let request = Request::get(format!("/webhooks/{gid}"))
        .query("opt_fields", wire::opt_fields(WEBHOOK_FIELDS));
    match client.data::<WireWebhook>(request).await {
        Ok(found) => Ok(Some(found.into())),
        Err(ConnectorError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The token's webhooks in `workspace`, only those on `resource` when given (every page).
///
/// # Errors
/// Transport and API errors.
pub async fn list_webhooks(
    client: &AsanaClient,
    workspace: &str,
    resource: Option<&str>,
) -> Result<Vec<WebhookInfo>, ConnectorError> {
    let mut query = vec![
        ("workspace", workspace.to_owned()),
        ("opt_fields", wire::opt_fields(WEBHOOK_FIELDS)),
    ];
    if let Some(resource) = resource {
        query.push(("resource", resource.to_owned()));
    }
    let listed: Vec<WireWebhook> = client.get_all("/webhooks", &query, true).await?;
    Ok(listed.into_iter().map(WebhookInfo::from).collect())
}

/// The token's webhooks on `project`, found through the project's workspace.
///
/// # Errors
/// Transport and API errors (also of reading the project's workspace).
pub async fn list_project_webhooks(
    client: &AsanaClient,
    project: &str,
) -> Result<Vec<WebhookInfo>, ConnectorError> {
    let workspace = client.workspace_of(project).await?;
    list_webhooks(client, &workspace, Some(project)).await
}

/// Whether a create failed because the same resource and target already have a webhook
/// (Asana: `403` "Duplicated webhook").
#[must_use]
pub fn is_duplicate(error: &ConnectorError) -> bool {
    matches!(error, ConnectorError::Forbidden(message)
        if message.to_ascii_lowercase().contains("duplicate"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `WebhookResponse` reads into [`WebhookInfo`]; absent optional fields stay `None`.
    #[test]
    fn reads_webhook_response() {
        let wire: WireWebhook = serde_json::from_value(serde_json::json!({
            "gid": "12", "active": true, "target": "https://example.com/hook/a",
            "resource": {"gid": "34", "resource_type": "project", "name": "P"},
            "created_at": "2026-01-01T00:00:00.000Z"
        }))
        .expect("decodes");
        let info = WebhookInfo::from(wire);
        assert_eq!(info.gid, "12");
        assert_eq!(info.resource.as_deref(), Some("34"));
        assert!(info.active);
        assert_eq!(info.last_success_at, None);
    }

    /// Only a 403 mentioning a duplicate is a duplicate.
    #[test]
    fn recognises_duplicates() {
        assert!(is_duplicate(&ConnectorError::Forbidden(
            "POST /webhooks: Duplicated webhook".into()
        )));
        assert!(!is_duplicate(&ConnectorError::Forbidden(
            "POST /webhooks: localhost".into()
        )));
        assert!(!is_duplicate(&ConnectorError::NotFound("duplicate".into())));
    }
}
