//! Tags: `GET|POST /workspaces/{w}/tags`, `GET|POST /tags`, `GET /tags/{gid}`,
//! `GET /tasks/{gid}/tags`.

use axum::extract::{Path, RawQuery, State as AxState};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;

use super::users::check_workspace;
use super::{check_gid, created, data, json_body, listing_key, ok, opt_string, req_string};
use crate::error::{ApiError, ApiResult};
use crate::fields::{self, Form};
use crate::lock;
use crate::pagination;
use crate::query::Params;
use crate::repr::{self, COMPACT, NONE};
use crate::server::Sim;
use crate::spec_fields;

fn list(
    sim: &Sim,
    params: &Params,
    path: &str,
    gids: Option<Vec<String>>,
    allowed: &[&str],
) -> ApiResult<Response> {
    let fields = fields::parse(params.get("opt_fields"), allowed)?;
    let listing = listing_key(path, params);
    let page = pagination::request(params, &listing)?;
    let st = lock(&sim.state);
    let gids = gids.unwrap_or_else(|| st.tags.iter().map(|t| t.gid.clone()).collect());
    let items: Vec<Value> = gids
        .iter()
        .map(|g| fields::render(&repr::tag(&st, g), &fields, Form::Compact(COMPACT)))
        .collect();
    Ok(ok(pagination::respond(
        items,
        page,
        params,
        path,
        &listing,
        &sim.base_url(),
    )?))
}

pub async fn get_workspace_tags(
    AxState(sim): AxState<Sim>,
    Path(w): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    check_workspace(&sim, &w)?;
    list(
        &sim,
        &params,
        &format!("/workspaces/{w}/tags"),
        None,
        spec_fields::GET_TAGS_FOR_WORKSPACE,
    )
}

pub async fn get_tags(AxState(sim): AxState<Sim>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    match params.get("workspace") {
        Some(w) => check_workspace(&sim, w)?,
        None => return Err(ApiError::missing("workspace")),
    }
    list(&sim, &params, "/tags", None, spec_fields::GET_TAGS)
}

pub async fn get_task_tags(
    AxState(sim): AxState<Sim>,
    Path(gid): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    check_gid("task", &gid)?;
    let tags = lock(&sim.state).live_task(&gid)?.tags.clone();
    list(
        &sim,
        &params,
        &format!("/tasks/{gid}/tags"),
        Some(tags),
        spec_fields::GET_TAGS,
    )
}

pub async fn get_tag(
    AxState(sim): AxState<Sim>,
    Path(gid): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    // getTag's enum is createTag's (no pagination fields).
    let fields = fields::parse(params.get("opt_fields"), spec_fields::CREATE_TAG)?;
    check_gid("tag", &gid)?;
    let st = lock(&sim.state);
    if st.tag(&gid).is_none() {
        return Err(ApiError::unknown_object("tag", &gid));
    }
    Ok(data(fields::render(
        &repr::tag(&st, &gid),
        &fields,
        Form::FullExcept(NONE),
    )))
}

fn create(
    sim: &Sim,
    params: &Params,
    bytes: &Bytes,
    workspace: Option<&str>,
    allowed: &[&str],
) -> ApiResult<Response> {
    let (body, d) = json_body(bytes)?;
    let fields = match fields::parse(params.get("opt_fields"), allowed)? {
        Some(f) => Some(f),
        None => fields::from_body_options(&body, allowed)?,
    };
    let name = req_string(&d, "name")?;
    let workspace = match workspace {
        Some(w) => w.to_owned(),
        None => opt_string(&d, "workspace")?.ok_or_else(|| ApiError::missing("workspace"))?,
    };
    check_workspace(sim, &workspace)?;
    let mut st = lock(&sim.state);
    let gid = st.create_tag(&name)?;
    let value = fields::render(&repr::tag(&st, &gid), &fields, Form::FullExcept(NONE));
    Ok(created(value, &format!("/tags/{gid}")))
}

pub async fn create_workspace_tag(
    AxState(sim): AxState<Sim>,
    Path(w): Path<String>,
    RawQuery(q): RawQuery,
    bytes: Bytes,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    create(
        &sim,
        &params,
        &bytes,
        Some(&w),
        spec_fields::CREATE_TAG_FOR_WORKSPACE,
    )
}

pub async fn create_tag(
    AxState(sim): AxState<Sim>,
    RawQuery(q): RawQuery,
    bytes: Bytes,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    create(&sim, &params, &bytes, None, spec_fields::CREATE_TAG)
}
