//! Subtasks: `GET /tasks/{gid}/subtasks` (paginated, compact tasks in order) and
//! `POST /tasks/{gid}/subtasks` (a task created under the parent, 201). A subtask is read,
//! updated and deleted through the ordinary task routes.

use axum::extract::{Path, RawQuery, State as AxState};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;

use super::tasks::{parse_new_task, render_listed, render_one, write_fields};
use super::{check_gid, created, json_body, listing_key, ok};
use crate::error::ApiResult;
use crate::fields;
use crate::lock;
use crate::pagination;
use crate::query::Params;
use crate::server::Sim;
use crate::spec_fields;

pub async fn get_subtasks(
    AxState(sim): AxState<Sim>,
    Path(gid): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    let fields = fields::parse(params.get("opt_fields"), spec_fields::GET_SUBTASKS_FOR_TASK)?;
    check_gid("task", &gid)?;
    let path = format!("/tasks/{gid}/subtasks");
    let listing = listing_key(&path, &params);
    let page = pagination::request(&params, &listing)?;
    let st = lock(&sim.state);
    st.live_task(&gid)?;
    Ok(ok(pagination::respond_with(
        st.subtask_gids(&gid),
        |g| render_listed(&st, &g, &fields),
        page,
        &params,
        &path,
        &listing,
        &sim.base_url(),
    )?))
}

pub async fn create_subtask(
    AxState(sim): AxState<Sim>,
    Path(parent): Path<String>,
    RawQuery(q): RawQuery,
    bytes: Bytes,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    check_gid("task", &parent)?;
    let (body, mut d) = json_body(&bytes)?;
    let fields = write_fields(&params, &body, spec_fields::CREATE_SUBTASK_FOR_TASK)?;
    let mut st = lock(&sim.state);
    st.live_task(&parent)?;
    // The parent names the workspace, as `parent` does on `POST /tasks`.
    if !d.contains_key("workspace") {
        d.insert(
            "workspace".to_owned(),
            Value::String(st.workspace_gid.clone()),
        );
    }
    let new = parse_new_task(&st, &d)?;
    let me = st.me.clone();
    let gid = st.create_subtask(&me, &parent, new)?;
    let value = render_one(&st, &gid, &fields)?;
    Ok(created(value, &format!("/tasks/{gid}")))
}
