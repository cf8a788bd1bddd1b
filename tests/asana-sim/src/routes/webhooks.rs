//! Webhooks: `POST /webhooks` (with the `X-Hook-Secret` handshake to the target while the
//! request is in flight), `GET /webhooks?workspace=&resource=`, `GET /webhooks/{gid}`,
//! `DELETE /webhooks/{gid}`. Registry, handshake and deliveries live in
//! [`crate::webhooks`].

use axum::extract::{Path, RawQuery, State as AxState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use super::{check_gid, data, json_body, listing_key, ok, req_string};
use crate::error::{ApiError, ApiResult};
use crate::fields::{self, Form};
use crate::lock;
use crate::pagination;
use crate::query::Params;
use crate::repr::NONE;
use crate::server::Sim;
use crate::spec_fields;
use crate::state::iso;
use crate::webhooks::{DeliveryKind, Hook, handshake, new_secret};

/// The keys of `WebhookCompact`, the default form of list items.
const WEBHOOK_COMPACT: &[&str] = &["gid", "resource_type", "active", "resource", "target"];

/// Asana's answer when the handshake did not confirm the webhook.
const HANDSHAKE_FAILED: &str = "Could not complete activation handshake with target URL. Please ensure that the receiving server is accepting connections and supports SSL";

/// Asana's answer for a second webhook on the same resource and target.
const DUPLICATED: &str =
    "Duplicated webhook: a webhook with the same resource and target already exists";

pub async fn create_webhook(
    AxState(sim): AxState<Sim>,
    RawQuery(q): RawQuery,
    bytes: Bytes,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    let allowed = spec_fields::CREATE_WEBHOOK;
    let mut fields = fields::parse(params.get("opt_fields"), allowed)?;
    let (body, d) = json_body(&bytes)?;
    if fields.is_none() {
        fields = fields::from_body_options(&body, allowed)?;
    }
    let resource = req_string(&d, "resource")?;
    let target = req_string(&d, "target")?;
    let filters = match d.get("filters") {
        None | Some(Value::Null) => json!([]),
        Some(Value::Array(items)) => Value::Array(items.clone()),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "filters: Not an array: {other}"
            )));
        }
    };
    let (resource_type, resource_name) = {
        let st = lock(&sim.state);
        if let Some(project) = st.projects.get(&resource) {
            ("project", project.name.clone())
        } else if let Ok(task) = st.live_task(&resource) {
            ("task", task.name.clone())
        } else {
            return Err(ApiError::unrecognized_id("resource", &resource));
        }
    };
    let usable = reqwest::Url::parse(&target)
        .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some());
    if !usable {
        return Err(ApiError::bad_request(format!(
            "target: Not a valid URL: {target}"
        )));
    }
    let duplicated = |sim: &Sim| {
        lock(&sim.webhooks)
            .hooks
            .iter()
            .any(|h| h.resource == resource && h.target == target)
    };
    if duplicated(&sim) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, DUPLICATED));
    }
    let secret = new_secret();
    if let Err(e) = handshake(&sim, &target, &secret).await {
        tracing::debug!(%target, "asana-sim: webhook handshake failed: {}", e.describe());
        return Err(ApiError::bad_request(HANDSHAKE_FAILED));
    }
    let (gid, created_at, head) = {
        let mut st = lock(&sim.state);
        let gid = st.gid();
        let now = st.now();
        (gid, iso(now), st.events.head())
    };
    if duplicated(&sim) {
        // A concurrent create for the same resource and target finished first.
        return Err(ApiError::new(StatusCode::FORBIDDEN, DUPLICATED));
    }
    let hook = Hook {
        gid: gid.clone(),
        resource,
        resource_type,
        resource_name,
        target: target.clone(),
        secret: secret.clone(),
        filters,
        active: true,
        created_at,
        last_success_at: None,
        last_failure_at: None,
        last_failure_content: None,
        after: head,
    };
    let rich = hook.rich();
    {
        let mut registry = lock(&sim.webhooks);
        registry.hooks.push(hook);
        if let Some(record) = registry
            .deliveries
            .iter_mut()
            .rev()
            .find(|d| d.kind == DeliveryKind::Handshake && d.target == target)
        {
            record.webhook = gid.clone();
        }
    }
    let body = json!({
        "data": fields::render(&rich, &fields, Form::FullExcept(NONE)),
        "X-Hook-Secret": secret,
    });
    let mut response = (StatusCode::CREATED, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/webhooks/{gid}")) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

pub async fn get_webhooks(
    AxState(sim): AxState<Sim>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    let fields = fields::parse(params.get("opt_fields"), spec_fields::GET_WEBHOOKS)?;
    let workspace = params
        .get("workspace")
        .ok_or_else(|| ApiError::missing("workspace"))?;
    check_gid("workspace", workspace)?;
    if let Some(resource) = params.get("resource") {
        check_gid("resource", resource)?;
    }
    if lock(&sim.state).workspace_gid != workspace {
        return Err(ApiError::unknown_object("workspace", workspace));
    }
    let path = "/webhooks";
    let listing = listing_key(path, &params);
    let page = pagination::request(&params, &listing)?;
    let items: Vec<Value> = lock(&sim.webhooks)
        .hooks
        .iter()
        .filter(|h| params.get("resource").is_none_or(|r| r == h.resource))
        .map(|h| fields::render(&h.rich(), &fields, Form::Compact(WEBHOOK_COMPACT)))
        .collect();
    Ok(ok(pagination::respond(
        items,
        page,
        &params,
        path,
        &listing,
        &sim.base_url(),
    )?))
}

pub async fn get_webhook(
    AxState(sim): AxState<Sim>,
    Path(gid): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    let fields = fields::parse(params.get("opt_fields"), spec_fields::GET_WEBHOOK)?;
    check_gid("webhook", &gid)?;
    let registry = lock(&sim.webhooks);
    let hook = registry
        .find(&gid)
        .ok_or_else(|| ApiError::unknown_object("webhook", &gid))?;
    Ok(data(fields::render(
        &hook.rich(),
        &fields,
        Form::FullExcept(NONE),
    )))
}

pub async fn delete_webhook(
    AxState(sim): AxState<Sim>,
    Path(gid): Path<String>,
) -> ApiResult<Response> {
    check_gid("webhook", &gid)?;
    let mut registry = lock(&sim.webhooks);
    let before = registry.hooks.len();
    registry.hooks.retain(|h| h.gid != gid);
    if registry.hooks.len() == before {
        return Err(ApiError::unknown_object("webhook", &gid));
    }
    Ok(data(json!({})))
}
