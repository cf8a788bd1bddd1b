//! The GitHub API routes the issues connector uses, and the handlers behind them:
//! `GET /user`, `GET|POST /repos/{o}/{r}/issues` (also reachable as
//! `/repositories/{id}/issues`, the form GitHub's `Link` headers use), `GET|PATCH
//! /repos/{o}/{r}/issues/{n}`, `GET|POST /repos/{o}/{r}/labels`, `GET
//! /repos/{o}/{r}/assignees/{login}`, the repository webhooks (`GET|POST
//! /repos/{o}/{r}/hooks`, also `/repositories/{id}/hooks`, and `GET|PATCH|DELETE
//! /repos/{o}/{r}/hooks/{id}`), the issue comments ([`comments`]), and a catch-all `404`
//! that records the request as unexpected. Every route goes through [`crate::gate`].

mod comments;

use std::collections::HashMap;

use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router, middleware};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::lock;
use crate::model::RecordedRequest;
use crate::repr;
use crate::server::Sim;
use crate::state::{Changes, Gone, HookChanges, HookConfig, State};

/// The API router with the gate in front.
pub fn app(sim: Sim) -> Router {
    Router::new()
        .route("/user", get(user))
        .route(
            "/repos/{owner}/{repo}/issues",
            get(list_issues).post(create_issue),
        )
        .route("/repositories/{id}/issues", get(list_issues))
        .route(
            "/repos/{owner}/{repo}/issues/{number}",
            get(get_issue).patch(update_issue),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/comments",
            get(comments::list_issue_comments).post(comments::create_comment),
        )
        .route(
            "/repositories/{id}/issues/{number}/comments",
            get(comments::list_issue_comments),
        )
        .route(
            "/repos/{owner}/{repo}/issues/comments",
            get(comments::list_repo_comments),
        )
        .route(
            "/repositories/{id}/issues/comments",
            get(comments::list_repo_comments),
        )
        .route(
            "/repos/{owner}/{repo}/issues/comments/{comment_id}",
            get(comments::get_comment)
                .patch(comments::update_comment)
                .delete(comments::delete_comment),
        )
        .route(
            "/repos/{owner}/{repo}/labels",
            get(list_labels).post(create_label),
        )
        .route("/repositories/{id}/labels", get(list_labels))
        .route(
            "/repos/{owner}/{repo}/assignees/{login}",
            get(check_assignee),
        )
        .route(
            "/repos/{owner}/{repo}/hooks",
            get(list_hooks).post(create_hook),
        )
        .route("/repositories/{id}/hooks", get(list_hooks))
        .route(
            "/repos/{owner}/{repo}/hooks/{hook_id}",
            get(get_hook).patch(update_hook).delete(delete_hook),
        )
        .fallback(unexpected)
        .layer(middleware::from_fn_with_state(
            sim.clone(),
            crate::gate::gate,
        ))
        .with_state(sim)
}

fn check_repo(st: &State, owner: &str, repo: &str) -> ApiResult<()> {
    if st.is_repo(owner, repo) {
        Ok(())
    } else {
        Err(ApiError::not_found())
    }
}

/// The repository of a listing's path, in either form: `/repos/{owner}/{repo}/…` or
/// `/repositories/{id}/…` (the form of GitHub's `Link` headers).
fn check_repo_path(st: &State, path: &HashMap<String, String>) -> ApiResult<()> {
    let known = match (path.get("owner"), path.get("repo"), path.get("id")) {
        (Some(owner), Some(repo), _) => st.is_repo(owner, repo),
        (_, _, Some(id)) => *id == st.repo_id.to_string(),
        _ => false,
    };
    if known {
        Ok(())
    } else {
        Err(ApiError::not_found())
    }
}

fn parse_json(bytes: &Bytes) -> ApiResult<Value> {
    serde_json::from_slice(bytes)
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "Problems parsing JSON"))
}

/// `GET /user`: the token's user. An installation token (a GitHub App) is no user:
/// GitHub answers `403 Resource not accessible by integration`.
async fn user(AxState(sim): AxState<Sim>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    if is_installation(&headers) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Resource not accessible by integration",
        ));
    }
    let st = lock(&sim.state);
    Ok(Json(repr::private_user(&st)))
}

/// Whether the request carries the installation token (a GitHub App's).
fn is_installation(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(_, token)| token.trim() == crate::INSTALLATION_TOKEN)
}

/// Query parameters of a list, validated as GitHub does (`422` on bad enum values or a bad
/// `since`; `per_page` capped at 100).
struct ListQuery {
    state: String,
    sort: String,
    direction: String,
    since: Option<jiff::Timestamp>,
    labels: Vec<String>,
    per_page: usize,
    page: usize,
}

fn enum_param(
    q: &HashMap<String, String>,
    key: &str,
    allowed: &[&str],
    default: &str,
) -> ApiResult<String> {
    match q.get(key) {
        None => Ok(default.to_owned()),
        Some(v) if allowed.contains(&v.as_str()) => Ok(v.clone()),
        Some(v) => Err(ApiError::invalid("Issue", key, "invalid", Some(json!(v)))),
    }
}

fn number_param(q: &HashMap<String, String>, key: &str, default: usize) -> usize {
    q.get(key)
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

fn list_query(q: &HashMap<String, String>) -> ApiResult<ListQuery> {
    let since = match q.get("since") {
        None => None,
        Some(v) => Some(
            v.parse::<jiff::Timestamp>()
                .map_err(|_| ApiError::invalid("Issue", "since", "invalid", Some(json!(v))))?,
        ),
    };
    Ok(ListQuery {
        state: enum_param(q, "state", &["open", "closed", "all"], "open")?,
        sort: enum_param(q, "sort", &["created", "updated", "comments"], "created")?,
        direction: enum_param(q, "direction", &["asc", "desc"], "desc")?,
        since,
        labels: q
            .get("labels")
            .map(|l| {
                l.split(',')
                    .map(|s| s.trim().to_lowercase())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        per_page: number_param(q, "per_page", 30).min(100),
        page: number_param(q, "page", 1),
    })
}

/// The `Link` header of page `page` of `last` pages: every original parameter kept, `page`
/// replaced, on the `/repositories/{id}/...` form of the URL.
fn link_header(root: &str, path: &str, raw_query: &str, page: usize, last: usize) -> String {
    let kept: Vec<&str> = raw_query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("page="))
        .collect();
    let url = |n: usize| {
        let mut q = kept.clone();
        let page = format!("page={n}");
        q.push(&page);
        format!("<{root}{path}?{}>", q.join("&"))
    };
    let mut parts = Vec::new();
    if page > 1 {
        parts.push(format!("{}; rel=\"prev\"", url(page - 1)));
    }
    if page < last {
        parts.push(format!("{}; rel=\"next\"", url(page + 1)));
        parts.push(format!("{}; rel=\"last\"", url(last)));
    }
    if page > 1 {
        parts.push(format!("{}; rel=\"first\"", url(1)));
    }
    parts.join(", ")
}

/// One page of `items` with its `Link` header.
fn paged(
    sim: &Sim,
    st: &State,
    what: &str,
    uri: &Uri,
    items: Vec<Value>,
    per_page: usize,
    page: usize,
) -> Response {
    let last = items.len().div_ceil(per_page).max(1);
    let body: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let mut response = Json(Value::Array(body)).into_response();
    let base = lock(&sim.links).clone();
    let root = base.public_url.as_deref().unwrap_or(&sim.root_url);
    let path = if base.by_name {
        format!("/repos/{}/{}/{what}", st.owner, st.name)
    } else {
        format!("/repositories/{}/{what}", st.repo_id)
    };
    let link = link_header(root, &path, uri.query().unwrap_or(""), page, last);
    if !link.is_empty()
        && let Ok(v) = HeaderValue::from_str(&link)
    {
        response.headers_mut().insert(header::LINK, v);
    }
    response
}

fn issues_page(sim: &Sim, uri: &Uri, q: &HashMap<String, String>) -> ApiResult<Response> {
    let q = list_query(q)?;
    let st = lock(&sim.state);
    let mut issues: Vec<&crate::state::Issue> = st
        .issues
        .values()
        .filter(|i| q.state == "all" || i.state == q.state)
        .filter(|i| q.since.is_none_or(|s| i.updated_at >= s))
        .filter(|i| {
            q.labels.iter().all(|want| {
                i.labels
                    .iter()
                    .filter_map(|id| st.label(*id))
                    .any(|l| l.name.to_lowercase() == *want)
            })
        })
        .collect();
    issues.sort_by_key(|i| match q.sort.as_str() {
        "updated" => (i.updated_at, i.number),
        "comments" => (
            jiff::Timestamp::from_second(i64::from(i.comments)).unwrap_or_default(),
            i.number,
        ),
        _ => (i.created_at, i.number),
    });
    if q.direction == "desc" {
        issues.reverse();
    }
    let items = issues.into_iter().map(|i| repr::issue(&st, i)).collect();
    Ok(paged(sim, &st, "issues", uri, items, q.per_page, q.page))
}

async fn list_issues(
    AxState(sim): AxState<Sim>,
    Path(path): Path<HashMap<String, String>>,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    check_repo_path(&lock(&sim.state), &path)?;
    issues_page(&sim, &uri, &q)
}

/// A string (or integer, for `title`) property.
fn string_prop(v: &Value, key: &str) -> ApiResult<Option<String>> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) if key == "title" => Ok(Some(n.to_string())),
        Some(other) => Err(ApiError::invalid(
            "Issue",
            key,
            "invalid",
            Some(other.clone()),
        )),
    }
}

/// `labels`: names or `{name}` objects. `assignees`: logins or `{login}` objects.
fn names_prop(v: &Value, key: &str, name_key: &str) -> ApiResult<Option<Vec<String>>> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                Value::Object(o) => o
                    .get(name_key)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| ApiError::invalid("Issue", key, "invalid", Some(item.clone()))),
                other => Err(ApiError::invalid(
                    "Issue",
                    key,
                    "invalid",
                    Some(other.clone()),
                )),
            })
            .collect::<ApiResult<Vec<_>>>()
            .map(Some),
        Some(other) => Err(ApiError::invalid(
            "Issue",
            key,
            "invalid",
            Some(other.clone()),
        )),
    }
}

/// `assignees`, or the closing-down singular `assignee`.
fn assignees_prop(v: &Value) -> ApiResult<Option<Vec<String>>> {
    if let Some(list) = names_prop(v, "assignees", "login")? {
        return Ok(Some(list));
    }
    match v.get("assignee") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(Vec::new())),
        Some(_) => Ok(string_prop(v, "assignee")?.map(|a| vec![a])),
    }
}

async fn create_issue(
    AxState(sim): AxState<Sim>,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let v = parse_json(&body)?;
    let mut st = lock(&sim.state);
    check_repo(&st, &owner, &repo)?;
    let title = string_prop(&v, "title")?.unwrap_or_default();
    let issue_body = string_prop(&v, "body")?;
    let labels = names_prop(&v, "labels", "name")?.unwrap_or_default();
    let assignees = assignees_prop(&v)?.unwrap_or_default();
    let me = st.me.clone();
    let number = st.create_issue(&me, &title, issue_body, &labels, &assignees, false)?;
    let issue = st.issues.get_mut(&number).ok_or_else(ApiError::not_found)?;
    issue.api_writes += 1;
    let issue = issue.clone();
    let mut response = (StatusCode::CREATED, Json(repr::issue(&st, &issue))).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!(
        "https://api.github.com/repos/{}/{}/issues/{number}",
        st.owner, st.name
    )) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

fn issue_number(raw: &str) -> ApiResult<u64> {
    raw.parse().map_err(|_| ApiError::not_found())
}

/// The answer for an issue that left the repository: `301` with the `Location` of the
/// issue in its new repository (a transfer; the `url` of the body too, as GitHub answers),
/// or `410 This issue was deleted`. `None`: the number never existed here.
fn gone_answer(sim: &Sim, st: &State, number: u64) -> Option<Response> {
    match st.gone.get(&number)? {
        Gone::Deleted => {
            Some(ApiError::new(StatusCode::GONE, "This issue was deleted").into_response())
        }
        Gone::Transferred {
            to_repo, to_number, ..
        } => {
            let root = lock(&sim.links)
                .public_url
                .clone()
                .unwrap_or_else(|| sim.root_url.clone());
            let url = format!("{root}/repos/{to_repo}/issues/{to_number}");
            let mut response = (
                StatusCode::MOVED_PERMANENTLY,
                Json(json!({
                    "message": "Moved Permanently",
                    "url": url,
                    "documentation_url": "https://docs.github.com/rest/issues/issues#get-an-issue"
                })),
            )
                .into_response();
            if let Ok(v) = HeaderValue::from_str(&url) {
                response.headers_mut().insert(header::LOCATION, v);
            }
            Some(response)
        }
    }
}

/// An issue transferred to another repository, as that repository shows it: its URLs
/// name the new repository and its new number.
fn transferred_issue(st: &State, issue: &crate::state::Issue, to: &str, number: u64) -> Value {
    let mut moved = issue.clone();
    moved.number = number;
    let mut v = repr::issue(st, &moved);
    let repo_url = format!("https://api.github.com/repos/{to}");
    v["repository_url"] = json!(repo_url);
    v["url"] = json!(format!("{repo_url}/issues/{number}"));
    v["html_url"] = json!(format!("https://github.com/{to}/issues/{number}"));
    v
}

async fn get_issue(
    AxState(sim): AxState<Sim>,
    Path((owner, repo, number)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let st = lock(&sim.state);
    let number = issue_number(&number)?;
    if !st.is_repo(&owner, &repo) {
        // Where a transferred issue went (the target of its `301`).
        let moved = st
            .transferred_to(&owner, &repo, number)
            .ok_or_else(ApiError::not_found)?;
        let to = format!("{owner}/{repo}");
        return Ok(Json(transferred_issue(&st, moved, &to, number)).into_response());
    }
    if let Some(answer) = gone_answer(&sim, &st, number) {
        return Ok(answer);
    }
    let issue = st.issues.get(&number).ok_or_else(ApiError::not_found)?;
    Ok(Json(repr::issue(&st, issue)).into_response())
}

async fn update_issue(
    AxState(sim): AxState<Sim>,
    Path((owner, repo, number)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let v = parse_json(&body)?;
    let number = issue_number(&number)?;
    let mut st = lock(&sim.state);
    check_repo(&st, &owner, &repo)?;
    if let Some(answer) = gone_answer(&sim, &st, number) {
        return Ok(answer);
    }
    let changes = Changes {
        title: string_prop(&v, "title")?,
        body: match v.get("body") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(_) => Some(string_prop(&v, "body")?),
        },
        state: string_prop(&v, "state")?,
        state_reason: v
            .get("state_reason")
            .map(|_| string_prop(&v, "state_reason"))
            .transpose()?,
        labels: names_prop(&v, "labels", "name")?,
        assignees: assignees_prop(&v)?,
    };
    let me = st.me.clone();
    if st.update_issue(&me, number, changes)?
        && let Some(issue) = st.issues.get_mut(&number)
    {
        issue.api_writes += 1;
    }
    let issue = st.issues.get(&number).ok_or_else(ApiError::not_found)?;
    Ok(Json(repr::issue(&st, issue)).into_response())
}

/// One page of a whole collection (`kind`: its path segment), as `per_page`/`page` ask.
fn collection_page(
    sim: &Sim,
    uri: &Uri,
    q: &HashMap<String, String>,
    kind: &str,
    items: impl FnOnce(&State) -> Vec<Value>,
) -> Response {
    let st = lock(&sim.state);
    let items = items(&st);
    paged(
        sim,
        &st,
        kind,
        uri,
        items,
        number_param(q, "per_page", 30).min(100),
        number_param(q, "page", 1),
    )
}

async fn list_labels(
    AxState(sim): AxState<Sim>,
    Path(path): Path<HashMap<String, String>>,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    check_repo_path(&lock(&sim.state), &path)?;
    Ok(collection_page(&sim, &uri, &q, "labels", |st| {
        st.labels.iter().map(|l| repr::label(st, l)).collect()
    }))
}

async fn create_label(
    AxState(sim): AxState<Sim>,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let v = parse_json(&body)?;
    let mut st = lock(&sim.state);
    check_repo(&st, &owner, &repo)?;
    let name = string_prop(&v, "name")?.unwrap_or_default();
    let color = string_prop(&v, "color")?.unwrap_or_else(|| "ededed".to_owned());
    let description = string_prop(&v, "description")?;
    let id = st.create_label(&name, &color, description)?;
    let label = st.label(id).ok_or_else(ApiError::not_found)?;
    Ok((StatusCode::CREATED, Json(repr::label(&st, label))).into_response())
}

async fn check_assignee(
    AxState(sim): AxState<Sim>,
    Path((owner, repo, login)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let st = lock(&sim.state);
    check_repo(&st, &owner, &repo)?;
    if st.users.contains_key(&login) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

/// A hook request's body: an object (an empty body or `null` reads as `{}`).
fn hook_body(bytes: &Bytes) -> ApiResult<serde_json::Map<String, Value>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match parse_json(bytes)? {
        Value::Null => Ok(serde_json::Map::new()),
        Value::Object(map) => Ok(map),
        other => Err(ApiError::invalid("Hook", "body", "invalid", Some(other))),
    }
}

fn hook_string(v: &serde_json::Map<String, Value>, key: &str) -> ApiResult<Option<String>> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ApiError::invalid(
            "Hook",
            key,
            "invalid",
            Some(other.clone()),
        )),
    }
}

fn hook_bool(v: &serde_json::Map<String, Value>, key: &str) -> ApiResult<Option<bool>> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(ApiError::invalid(
            "Hook",
            key,
            "invalid",
            Some(other.clone()),
        )),
    }
}

fn hook_events(v: &serde_json::Map<String, Value>, key: &str) -> ApiResult<Option<Vec<String>>> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| ApiError::invalid("Hook", key, "invalid", Some(item.clone())))
            })
            .collect::<ApiResult<Vec<_>>>()
            .map(Some),
        Some(other) => Err(ApiError::invalid(
            "Hook",
            key,
            "invalid",
            Some(other.clone()),
        )),
    }
}

/// `config`: `url`, `content_type`, `secret`, `insecure_ssl` (a string or a number).
fn hook_config(v: &serde_json::Map<String, Value>) -> ApiResult<Option<HookConfig>> {
    let config = match v.get("config") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(config)) => config,
        Some(other) => {
            return Err(ApiError::invalid(
                "Hook",
                "config",
                "invalid",
                Some(other.clone()),
            ));
        }
    };
    let insecure_ssl = match config.get("insecure_ssl") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(other) => {
            return Err(ApiError::invalid(
                "Hook",
                "insecure_ssl",
                "invalid",
                Some(other.clone()),
            ));
        }
    };
    Ok(Some(HookConfig {
        url: hook_string(config, "url")?,
        content_type: hook_string(config, "content_type")?,
        secret: match config.get("secret") {
            None => None,
            Some(_) => Some(hook_string(config, "secret")?),
        },
        insecure_ssl,
    }))
}

fn hook_id(raw: &str) -> ApiResult<u64> {
    raw.parse().map_err(|_| ApiError::not_found())
}

async fn list_hooks(
    AxState(sim): AxState<Sim>,
    Path(path): Path<HashMap<String, String>>,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    check_repo_path(&lock(&sim.state), &path)?;
    Ok(collection_page(&sim, &uri, &q, "hooks", |st| {
        st.hooks.iter().map(|h| repr::hook(st, h)).collect()
    }))
}

/// `POST /hooks`: `201` with the hook and its `Location`; the `ping` follows (the gate
/// hands it to the delivery task once this answer is made).
async fn create_hook(
    AxState(sim): AxState<Sim>,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let v = hook_body(&body)?;
    let mut st = lock(&sim.state);
    check_repo(&st, &owner, &repo)?;
    if let Some(name) = hook_string(&v, "name")?
        && name != "web"
    {
        return Err(ApiError::invalid(
            "Hook",
            "name",
            "invalid",
            Some(json!(name)),
        ));
    }
    let active = hook_bool(&v, "active")?.unwrap_or(true);
    let events = hook_events(&v, "events")?.unwrap_or_else(|| vec!["push".to_owned()]);
    let config = hook_config(&v)?.unwrap_or_default();
    let me = st.me.clone();
    let id = st.create_hook(&me, active, &events, config)?;
    let hook = st.hook(id).ok_or_else(ApiError::not_found)?;
    let mut response = (StatusCode::CREATED, Json(repr::hook(&st, hook))).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!(
        "https://api.github.com/repos/{}/{}/hooks/{id}",
        st.owner, st.name
    )) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

async fn get_hook(
    AxState(sim): AxState<Sim>,
    Path((owner, repo, id)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    let st = lock(&sim.state);
    check_repo(&st, &owner, &repo)?;
    let hook = st.hook(hook_id(&id)?).ok_or_else(ApiError::not_found)?;
    Ok(Json(repr::hook(&st, hook)))
}

async fn update_hook(
    AxState(sim): AxState<Sim>,
    Path((owner, repo, id)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let v = hook_body(&body)?;
    let id = hook_id(&id)?;
    let mut st = lock(&sim.state);
    check_repo(&st, &owner, &repo)?;
    let changes = HookChanges {
        config: hook_config(&v)?,
        events: hook_events(&v, "events")?,
        add_events: hook_events(&v, "add_events")?.unwrap_or_default(),
        remove_events: hook_events(&v, "remove_events")?.unwrap_or_default(),
        active: hook_bool(&v, "active")?,
    };
    st.update_hook(id, changes)?;
    let hook = st.hook(id).ok_or_else(ApiError::not_found)?;
    Ok(Json(repr::hook(&st, hook)))
}

async fn delete_hook(
    AxState(sim): AxState<Sim>,
    Path((owner, repo, id)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let mut st = lock(&sim.state);
    check_repo(&st, &owner, &repo)?;
    st.delete_hook(hook_id(&id)?)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Anything else: GitHub's `404`, and the request is kept as unexpected.
async fn unexpected(
    AxState(sim): AxState<Sim>,
    method: axum::http::Method,
    uri: Uri,
    headers: HeaderMap,
) -> ApiError {
    tracing::warn!(%method, %uri, "github-sim: unexpected request");
    lock(&sim.unexpected).push(RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or("").to_owned(),
        status: 404,
        accept: headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        api_version: None,
        user_agent: None,
        if_none_match: None,
        body: None,
        counted: true,
    });
    ApiError::not_found()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Link` keeps every parameter, replaces `page`, and names prev/next/last/first.
    #[test]
    fn link_header_shape() {
        let link = link_header(
            "http://h",
            "/repositories/1/issues",
            "state=all&page=2&per_page=1",
            2,
            3,
        );
        assert_eq!(
            link,
            "<http://h/repositories/1/issues?state=all&per_page=1&page=1>; rel=\"prev\", \
             <http://h/repositories/1/issues?state=all&per_page=1&page=3>; rel=\"next\", \
             <http://h/repositories/1/issues?state=all&per_page=1&page=3>; rel=\"last\", \
             <http://h/repositories/1/issues?state=all&per_page=1&page=1>; rel=\"first\""
        );
        assert_eq!(link_header("http://h", "/x", "", 1, 1), "");
    }
}
