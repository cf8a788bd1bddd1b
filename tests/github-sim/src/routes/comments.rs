//! The issue comment routes: `GET|POST /repos/{o}/{r}/issues/{n}/comments` (also `GET
//! /repositories/{id}/issues/{n}/comments`, the form of GitHub's `Link` headers), `GET
//! /repos/{o}/{r}/issues/comments` (the repository's, also on `/repositories/{id}/...`),
//! and `GET|PATCH|DELETE /repos/{o}/{r}/issues/comments/{id}`.
//!
//! Listings follow GitHub: an issue's comments in ascending id order, filtered by `since`
//! (updated at or after it); the repository's likewise by default, or sorted by `created`
//! or `updated` when `sort` says so (`direction` then defaults to `desc`; GitHub ignores it
//! without `sort`). Both are paged (`per_page` up to 100) with `Link` headers, and, like
//! every `200` GET, carry an `ETag` (the gate answers `304` to a matching
//! `If-None-Match`).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use super::{
    check_repo, check_repo_path, enum_param, gone_answer, is_installation, issue_number,
    number_param, parse_json,
};
use crate::error::{ApiError, ApiResult};
use crate::lock;
use crate::server::Sim;
use crate::state::{IssueComment, State};

/// `since`, as GitHub reads it (`422` when it is not a timestamp).
fn since_param(q: &HashMap<String, String>) -> ApiResult<Option<jiff::Timestamp>> {
    q.get("since")
        .map(|v| {
            v.parse::<jiff::Timestamp>()
                .map_err(|_| ApiError::invalid("IssueComment", "since", "invalid", Some(json!(v))))
        })
        .transpose()
}

/// The login a comment write acts as: the token's user, or for the installation token
/// the App's bot account ([`crate::APP_BOT`]), which becomes a known user.
fn actor(st: &mut State, headers: &HeaderMap) -> String {
    if is_installation(headers) {
        st.add_user(crate::APP_BOT);
        crate::APP_BOT.to_owned()
    } else {
        st.me.clone()
    }
}

/// The comment id of a path, `404` when it is not a number.
fn comment_id(raw: &str) -> ApiResult<u64> {
    raw.parse().map_err(|_| ApiError::not_found())
}

/// The required string `body` of a comment write (`422` when missing or not a string).
fn body_prop(v: &Value) -> ApiResult<String> {
    match v.get("body") {
        Some(Value::String(s)) => Ok(s.clone()),
        None | Some(Value::Null) => Err(ApiError::invalid(
            "IssueComment",
            "body",
            "missing_field",
            None,
        )),
        Some(other) => Err(ApiError::invalid(
            "IssueComment",
            "body",
            "invalid",
            Some(other.clone()),
        )),
    }
}

/// The `issue-comment` shapes of `comments`.
fn shapes<'a>(st: &State, comments: impl Iterator<Item = &'a IssueComment>) -> Vec<Value> {
    comments
        .filter_map(|c| st.comment_json(c.id).ok())
        .collect()
}

/// `GET /issues/{n}/comments`: the issue's comments, oldest first, `since` applied.
pub(super) async fn list_issue_comments(
    AxState(sim): AxState<Sim>,
    Path(path): Path<HashMap<String, String>>,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let since = since_param(&q)?;
    let st = lock(&sim.state);
    check_repo_path(&st, &path)?;
    let number = issue_number(path.get("number").map_or("", String::as_str))?;
    if let Some(answer) = gone_answer(&sim, &st, number) {
        return Ok(answer);
    }
    if !st.issues.contains_key(&number) {
        return Err(ApiError::not_found());
    }
    let items = shapes(
        &st,
        st.comments
            .values()
            .filter(|c| c.issue == number)
            .filter(|c| since.is_none_or(|s| c.updated_at >= s)),
    );
    Ok(super::paged(
        &sim,
        &st,
        &format!("issues/{number}/comments"),
        &uri,
        items,
        number_param(&q, "per_page", 30).min(100),
        number_param(&q, "page", 1),
    ))
}

/// `GET /issues/comments`: every comment of the repository, `since`, `sort` and
/// `direction` applied.
pub(super) async fn list_repo_comments(
    AxState(sim): AxState<Sim>,
    Path(path): Path<HashMap<String, String>>,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let since = since_param(&q)?;
    let sort = q
        .contains_key("sort")
        .then(|| enum_param(&q, "sort", &["created", "updated"], "created"))
        .transpose()?;
    let direction = enum_param(&q, "direction", &["asc", "desc"], "desc")?;
    let st = lock(&sim.state);
    check_repo_path(&st, &path)?;
    let mut comments: Vec<&IssueComment> = st
        .comments
        .values()
        .filter(|c| since.is_none_or(|s| c.updated_at >= s))
        .collect();
    if let Some(sort) = sort {
        comments.sort_by_key(|c| match sort.as_str() {
            "updated" => (c.updated_at, c.id),
            _ => (c.created_at, c.id),
        });
        if direction == "desc" {
            comments.reverse();
        }
    }
    let items = shapes(&st, comments.into_iter());
    Ok(super::paged(
        &sim,
        &st,
        "issues/comments",
        &uri,
        items,
        number_param(&q, "per_page", 30).min(100),
        number_param(&q, "page", 1),
    ))
}

/// `POST /issues/{n}/comments`: `201` with the comment and its `Location`.
pub(super) async fn create_comment(
    AxState(sim): AxState<Sim>,
    Path((owner, repo, number)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let v = parse_json(&body)?;
    let number = issue_number(&number)?;
    let mut st = lock(&sim.state);
    check_repo(&st, &owner, &repo)?;
    if let Some(answer) = gone_answer(&sim, &st, number) {
        return Ok(answer);
    }
    let text = body_prop(&v)?;
    let me = actor(&mut st, &headers);
    let id = st.add_comment(&me, number, &text)?;
    if let Some(comment) = st.comments.get_mut(&id) {
        comment.api_writes += 1;
    }
    let mut response = (StatusCode::CREATED, Json(st.comment_json(id)?)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!(
        "https://api.github.com/repos/{}/{}/issues/comments/{id}",
        st.owner, st.name
    )) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

pub(super) async fn get_comment(
    AxState(sim): AxState<Sim>,
    Path((owner, repo, id)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    let st = lock(&sim.state);
    check_repo(&st, &owner, &repo)?;
    Ok(Json(st.comment_json(comment_id(&id)?)?))
}

/// `PATCH /issues/comments/{id}`: as the token's user (or App), with its role's rights.
pub(super) async fn update_comment(
    AxState(sim): AxState<Sim>,
    Path((owner, repo, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let v = parse_json(&body)?;
    let id = comment_id(&id)?;
    let mut st = lock(&sim.state);
    check_repo(&st, &owner, &repo)?;
    let text = body_prop(&v)?;
    let (me, role) = (actor(&mut st, &headers), st.token_role);
    if st.edit_comment(&me, role, id, &text)?
        && let Some(comment) = st.comments.get_mut(&id)
    {
        comment.api_writes += 1;
    }
    Ok(Json(st.comment_json(id)?))
}

/// `DELETE /issues/comments/{id}`: `204`, as the token's user, with its role's rights.
pub(super) async fn delete_comment(
    AxState(sim): AxState<Sim>,
    Path((owner, repo, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let id = comment_id(&id)?;
    let mut st = lock(&sim.state);
    check_repo(&st, &owner, &repo)?;
    let (me, role) = (actor(&mut st, &headers), st.token_role);
    st.delete_comment(&me, role, id)?;
    Ok(StatusCode::NO_CONTENT)
}
