//! The Asana API router under `/api/1.0`, the request gate every API request passes
//! (unknown route -> 404 + recorded as unexpected, auth, limits, faults, latency, request
//! log), and small helpers the handlers share (responses, JSON bodies, gid checks).

mod batch;
mod events;
mod projects;
mod stories;
mod subtasks;
mod tags;
mod tasks;
mod users;
mod webhooks;

use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request, State as AxState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::faults::{Injected, dropped_response};
use crate::lock;
use crate::model::RecordedRequest;
use crate::server::Sim;

/// Marks a request dispatched by `POST /batch` (an extension, so clients cannot forge it).
#[derive(Debug, Clone, Copy)]
pub struct BatchAction;

/// Set on a `POST /batch` response: how many of its actions were writes (for the log).
#[derive(Debug, Clone, Copy)]
pub struct BatchWrites(pub usize);

/// The whole application: `/api/1.0` (Asana), `/_sim` (control), and a loud catch-all.
pub fn app(sim: Sim) -> Router {
    let api = api_router(sim.clone());
    let _ = sim.api.set(api.clone());
    let fallback_sim = sim.clone();
    Router::new()
        .nest("/api/1.0", api)
        .nest("/_sim", crate::control::router(sim.clone()))
        .merge(crate::oauth::router(sim))
        .fallback(move |req: Request| outside_api(fallback_sim.clone(), req))
}

fn api_router(sim: Sim) -> Router {
    Router::new()
        .route("/users/{user_gid}", get(users::get_user))
        .route("/users", get(users::get_users))
        .route("/workspaces", get(users::get_workspaces))
        .route("/workspaces/{workspace_gid}", get(users::get_workspace))
        .route(
            "/workspaces/{workspace_gid}/users",
            get(users::get_workspace_users),
        )
        .route(
            "/workspaces/{workspace_gid}/tags",
            get(tags::get_workspace_tags).post(tags::create_workspace_tag),
        )
        .route("/tags", get(tags::get_tags).post(tags::create_tag))
        .route("/tags/{tag_gid}", get(tags::get_tag))
        .route("/projects", get(projects::get_projects))
        .route("/projects/{project_gid}", get(projects::get_project))
        .route(
            "/projects/{project_gid}/tasks",
            get(tasks::get_project_tasks),
        )
        .route(
            "/projects/{project_gid}/sections",
            get(projects::get_sections).post(projects::create_section),
        )
        .route(
            "/projects/{project_gid}/custom_field_settings",
            get(crate::custom_fields::get_settings),
        )
        .route("/sections/{section_gid}", get(projects::get_section))
        .route(
            "/sections/{section_gid}/addTask",
            post(projects::section_add_task),
        )
        .route("/tasks", get(tasks::get_tasks).post(tasks::create_task))
        .route(
            "/tasks/{task_gid}",
            get(tasks::get_task)
                .put(tasks::update_task)
                .delete(tasks::delete_task),
        )
        .route("/tasks/{task_gid}/tags", get(tags::get_task_tags))
        .route("/tasks/{task_gid}/addTag", post(tasks::add_tag))
        .route("/tasks/{task_gid}/removeTag", post(tasks::remove_tag))
        .route("/tasks/{task_gid}/addProject", post(tasks::add_project))
        .route(
            "/tasks/{task_gid}/removeProject",
            post(tasks::remove_project),
        )
        .route(
            "/tasks/{task_gid}/subtasks",
            get(subtasks::get_subtasks).post(subtasks::create_subtask),
        )
        .route(
            "/tasks/{task_gid}/stories",
            get(stories::get_task_stories).post(stories::create_task_story),
        )
        .route(
            "/stories/{story_gid}",
            get(stories::get_story)
                .put(stories::update_story)
                .delete(stories::delete_story),
        )
        .route("/events", get(events::get_events))
        .route("/batch", post(batch::batch))
        .route(
            "/webhooks",
            get(webhooks::get_webhooks).post(webhooks::create_webhook),
        )
        .route(
            "/webhooks/{webhook_gid}",
            get(webhooks::get_webhook).delete(webhooks::delete_webhook),
        )
        .fallback(unknown_api_route)
        .method_not_allowed_fallback(unknown_api_route)
        .layer(middleware::from_fn_with_state(sim.clone(), gate))
        .with_state(sim)
}

fn recorded(req: &Request, status: u16, in_batch: bool) -> RecordedRequest {
    RecordedRequest {
        method: req.method().to_string(),
        path: req.uri().path().to_owned(),
        query: req.uri().query().unwrap_or("").to_owned(),
        status,
        in_batch,
        dropped: false,
        batch_write_actions: None,
        body: None,
    }
}

/// An API path the simulator does not serve: 404 "No matching route", recorded as unexpected.
async fn unknown_api_route(AxState(sim): AxState<Sim>, req: Request) -> Response {
    let in_batch = req.extensions().get::<BatchAction>().is_some();
    sim.record_unexpected(recorded(&req, 404, in_batch));
    ApiError::no_route().into_response()
}

/// Anything outside `/api/1.0` and `/_sim`.
async fn outside_api(sim: Sim, req: Request) -> Response {
    sim.record_unexpected(recorded(&req, 404, false));
    ApiError::no_route().into_response()
}

/// Auth, limits, faults, latency and the request log, in that order.
async fn gate(AxState(sim): AxState<Sim>, req: Request, next: Next) -> Response {
    let mut response = gate_inner(&sim, req, next).await;
    // Asana announces API changes on its answers.
    for change in lock(&sim.api_changes).iter() {
        if let Ok(value) = HeaderValue::from_str(change) {
            response.headers_mut().append("asana-change", value);
        }
    }
    response
}

async fn gate_inner(sim: &Sim, req: Request, next: Next) -> Response {
    let in_batch = req.extensions().get::<BatchAction>().is_some();
    let known = req.extensions().get::<MatchedPath>().is_some();
    if !known {
        // The fallback records it as unexpected (before auth: fail loudly regardless).
        return next.run(req).await;
    }
    // The body is read here (and handed on unchanged) so the log can keep it; the
    // handlers' own extractors still apply their size limits to it.
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let req = Request::from_parts(parts, axum::body::Body::from(bytes.clone()));
    let mut entry = recorded(&req, 0, in_batch);
    entry.body = serde_json::from_slice(&bytes).ok();
    if !sim.authorized(req.headers()) {
        let response = ApiError::unauthorized().into_response();
        entry.status = response.status().as_u16();
        sim.record(entry);
        return response;
    }
    // A batch envelope is admitted by its handler, per action; its actions are not
    // admitted again.
    let is_batch = req.uri().path() == "/batch";
    let _permit = if in_batch || is_batch {
        None
    } else {
        let write = req.method() != axum::http::Method::GET;
        match sim.limits.admit(usize::from(!write), usize::from(write)) {
            Ok(p) => Some(p),
            Err(e) => {
                let response = e.into_response();
                entry.status = response.status().as_u16();
                sim.record(entry);
                return response;
            }
        }
    };
    let injected = lock(&sim.faults).take(&entry.method, &entry.path);
    let drop_after = match injected {
        Some(Injected::Respond(e)) => {
            let response = e.into_response();
            entry.status = response.status().as_u16();
            sim.record(entry);
            return response;
        }
        Some(Injected::DropBefore) => {
            entry.dropped = true;
            sim.record(entry);
            return dropped_response(StatusCode::OK);
        }
        Some(Injected::DropAfter) => true,
        None => false,
    };
    let mut delay = *lock(&sim.latency);
    if entry.query.contains("offset=") {
        delay += sim.page_delay;
    }
    if !in_batch && delay > Duration::ZERO {
        tokio::time::sleep(delay).await;
    }
    let mut response = next.run(req).await;
    // `Date` from this Asana's clock (hyper would send the machine's).
    let offset = lock(&sim.state).clock_offset;
    if let Some(date) = jiff::Timestamp::now()
        .checked_add(offset)
        .ok()
        .map(|t| jiff::fmt::rfc2822::DateTimePrinter::new().timestamp_to_rfc9110_string(&t))
        .and_then(|d| d.ok())
        .and_then(|d| axum::http::HeaderValue::from_str(&d).ok())
    {
        response
            .headers_mut()
            .insert(axum::http::header::DATE, date);
    }
    entry.status = response.status().as_u16();
    entry.batch_write_actions = response.extensions().get::<BatchWrites>().map(|b| b.0);
    if drop_after
        || response
            .extensions()
            .get::<crate::faults::Dropped>()
            .is_some()
    {
        entry.dropped = true;
        sim.record(entry);
        return dropped_response(response.status());
    }
    sim.record(entry);
    response
}

// ----- helpers for handlers -----

/// 200 `{"data": ...}` (or any top-level body already wrapped).
pub fn ok(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// 200 `{"data": data}`.
pub fn data(data: Value) -> Response {
    ok(serde_json::json!({ "data": data }))
}

/// 201 `{"data": data}` with a `Location` header.
pub fn created(data: Value, location: &str) -> Response {
    let mut response = (
        StatusCode::CREATED,
        axum::Json(serde_json::json!({ "data": data })),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// Parses a JSON request body and returns it with its `data` object.
pub fn json_body(bytes: &Bytes) -> ApiResult<(Value, serde_json::Map<String, Value>)> {
    if bytes.is_empty() {
        return Err(ApiError::missing("data"));
    }
    let body: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!("Could not parse request data, invalid JSON: {e}"))
    })?;
    match body.get("data") {
        Some(Value::Object(map)) => {
            let map = map.clone();
            Ok((body, map))
        }
        Some(_) => Err(ApiError::bad_request("data: Value is not an object")),
        None => Err(ApiError::missing("data")),
    }
}

/// Checks that a gid parameter looks like a gid (digits); Asana answers 400 otherwise.
pub fn check_gid(param: &str, value: &str) -> ApiResult<()> {
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "{param}: Not a Long: {value}"
        )))
    }
}

/// A string field of a request `data` object: absent, a string, or a type error.
pub fn opt_string(data: &serde_json::Map<String, Value>, key: &str) -> ApiResult<Option<String>> {
    match data.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ApiError::bad_request(format!(
            "{key}: Not a string: {other}"
        ))),
    }
}

/// A required string field.
pub fn req_string(data: &serde_json::Map<String, Value>, key: &str) -> ApiResult<String> {
    opt_string(data, key)?.ok_or_else(|| ApiError::missing(key))
}

/// A nullable string field: absent = `None`, `null` = `Some(None)`.
pub fn nullable_string(
    data: &serde_json::Map<String, Value>,
    key: &str,
) -> ApiResult<Option<Option<String>>> {
    match data.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(other) => Err(ApiError::bad_request(format!(
            "{key}: Not a string: {other}"
        ))),
    }
}

/// The listing key an offset token is bound to: path plus the filter parameters.
pub fn listing_key(path: &str, params: &crate::query::Params) -> String {
    let mut filters = params.encode_without(&["limit", "offset", "opt_fields", "opt_pretty"]);
    filters.sort();
    format!("{path}?{}", filters.join("&"))
}
