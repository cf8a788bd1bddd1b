//! Users and workspaces: `GET /users/{gid|me}`, `GET /users`, `GET /workspaces/{w}/users`,
//! `GET /workspaces`, `GET /workspaces/{w}`.

use axum::extract::{Path, RawQuery, State as AxState};
use axum::response::Response;
use serde_json::Value;

use super::{check_gid, data, listing_key, ok};
use crate::error::{ApiError, ApiResult};
use crate::fields::{self, Form};
use crate::lock;
use crate::pagination;
use crate::query::Params;
use crate::repr::{self, COMPACT, NONE};
use crate::server::Sim;
use crate::spec_fields;

pub async fn get_user(
    AxState(sim): AxState<Sim>,
    Path(gid): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    let fields = fields::parse(params.get("opt_fields"), spec_fields::GET_USER)?;
    let st = lock(&sim.state);
    let gid = if gid == "me" {
        st.me.clone()
    } else if gid.contains('@') {
        st.user_by_email(&gid)
            .map(|u| u.gid.clone())
            .ok_or_else(|| ApiError::unknown_object("user", &gid))?
    } else {
        check_gid("user_gid", &gid)?;
        gid
    };
    if st.user(&gid).is_none() {
        return Err(ApiError::unknown_object("user", &gid));
    }
    Ok(data(fields::render(
        &repr::user(&st, &gid),
        &fields,
        Form::FullExcept(NONE),
    )))
}

fn list_users(sim: &Sim, params: &Params, path: &str, allowed: &[&str]) -> ApiResult<Response> {
    let fields = fields::parse(params.get("opt_fields"), allowed)?;
    let listing = listing_key(path, params);
    let page = pagination::request(params, &listing)?;
    let st = lock(&sim.state);
    let items: Vec<Value> = st
        .users
        .iter()
        .map(|u| fields::render(&repr::user(&st, &u.gid), &fields, Form::Compact(COMPACT)))
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

pub async fn get_users(AxState(sim): AxState<Sim>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    if let Some(w) = params.get("workspace") {
        check_workspace(&sim, w)?;
    }
    if params.get("team").is_some() {
        return Err(ApiError::bad_request(
            "team: asana-sim has no teams; list users by workspace",
        ));
    }
    list_users(&sim, &params, "/users", spec_fields::GET_USERS)
}

pub async fn get_workspace_users(
    AxState(sim): AxState<Sim>,
    Path(w): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    check_workspace(&sim, &w)?;
    let path = format!("/workspaces/{w}/users");
    list_users(&sim, &params, &path, spec_fields::GET_USERS_FOR_WORKSPACE)
}

/// 400 for a malformed gid, 404 for a workspace that is not ours.
pub fn check_workspace(sim: &Sim, w: &str) -> ApiResult<()> {
    check_gid("workspace", w)?;
    if lock(&sim.state).workspace_gid == w {
        Ok(())
    } else {
        Err(ApiError::unknown_object("workspace", w))
    }
}

pub async fn get_workspaces(
    AxState(sim): AxState<Sim>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    let fields = fields::parse(params.get("opt_fields"), spec_fields::GET_WORKSPACES)?;
    let listing = listing_key("/workspaces", &params);
    let page = pagination::request(&params, &listing)?;
    let st = lock(&sim.state);
    let items = vec![fields::render(
        &repr::workspace(&st),
        &fields,
        Form::Compact(COMPACT),
    )];
    Ok(ok(pagination::respond(
        items,
        page,
        &params,
        "/workspaces",
        &listing,
        &sim.base_url(),
    )?))
}

pub async fn get_workspace(
    AxState(sim): AxState<Sim>,
    Path(w): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    // getWorkspace's enum equals getWorkspaces' minus the pagination fields.
    let fields = fields::parse(params.get("opt_fields"), spec_fields::GET_WORKSPACES)?;
    check_workspace(&sim, &w)?;
    let st = lock(&sim.state);
    Ok(data(fields::render(
        &repr::workspace(&st),
        &fields,
        Form::FullExcept(NONE),
    )))
}
