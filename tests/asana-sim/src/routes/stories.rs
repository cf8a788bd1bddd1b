//! Stories: `GET /tasks/{gid}/stories` (paginated; system stories and comments mixed,
//! oldest first), `POST /tasks/{gid}/stories` (a comment, 201), and
//! `GET|PUT|DELETE /stories/{gid}` (only the author may edit or delete a comment: 403
//! otherwise).

use axum::extract::{Path, RawQuery, State as AxState};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use super::tasks::write_fields;
use super::{check_gid, created, data, json_body, listing_key, ok, opt_string};
use crate::error::{ApiError, ApiResult};
use crate::fields::{self, Form, OptFields};
use crate::lock;
use crate::pagination;
use crate::query::Params;
use crate::server::Sim;
use crate::spec_fields;
use crate::state::State;
use crate::threads::{Story, comment_html};
use crate::threads_repr::{STORY_COMPACT, STORY_OPT_IN, story_json};

/// A story as the token's user sees it, in `form` unless fields were asked for. Without
/// `opt_fields`, `created_by` is the compact user.
fn render(st: &State, s: &Story, fields: &OptFields, form: Form<'_>) -> Value {
    fields::render(&story_json(st, s, &st.me), fields, form)
}

fn render_one(st: &State, gid: &str, fields: &OptFields) -> ApiResult<Value> {
    let story = st.live_story(gid)?;
    Ok(render(st, story, fields, Form::FullExcept(STORY_OPT_IN)))
}

/// The comment text of a write: `text` or `html_text`, checked (pinning is not modelled).
fn comment_of(d: &serde_json::Map<String, Value>) -> ApiResult<String> {
    match d.get("is_pinned") {
        None | Some(Value::Bool(false)) => {}
        // Pinning is not modelled (stories read `is_pinned: false`): refused loudly so a
        // test notices, as task fields the simulator does not model are.
        Some(Value::Bool(true)) => {
            return Err(ApiError::bad_request(
                "is_pinned: not supported by asana-sim",
            ));
        }
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "is_pinned: Not a boolean: {v}"
            )));
        }
    }
    comment_html(opt_string(d, "text")?, opt_string(d, "html_text")?)
}

pub async fn get_task_stories(
    AxState(sim): AxState<Sim>,
    Path(gid): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    let fields = fields::parse(params.get("opt_fields"), spec_fields::GET_STORIES_FOR_TASK)?;
    check_gid("task", &gid)?;
    let path = format!("/tasks/{gid}/stories");
    let listing = listing_key(&path, &params);
    let page = pagination::request(&params, &listing)?;
    let st = lock(&sim.state);
    st.live_task(&gid)?;
    Ok(ok(pagination::respond_with(
        st.threads.stories_of(&gid),
        |s| render(&st, s, &fields, Form::Compact(STORY_COMPACT)),
        page,
        &params,
        &path,
        &listing,
        &sim.base_url(),
    )?))
}

pub async fn create_task_story(
    AxState(sim): AxState<Sim>,
    Path(task): Path<String>,
    RawQuery(q): RawQuery,
    bytes: Bytes,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    check_gid("task", &task)?;
    let (body, d) = json_body(&bytes)?;
    let fields = write_fields(&params, &body, spec_fields::CREATE_STORY_FOR_TASK)?;
    let html = comment_of(&d)?;
    let mut st = lock(&sim.state);
    let me = st.me.clone();
    let gid = st.add_comment_story(&me, &task, html)?;
    let value = render_one(&st, &gid, &fields)?;
    Ok(created(value, &format!("/stories/{gid}")))
}

pub async fn get_story(
    AxState(sim): AxState<Sim>,
    Path(gid): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    let fields = fields::parse(params.get("opt_fields"), spec_fields::GET_STORY)?;
    check_gid("story", &gid)?;
    let st = lock(&sim.state);
    Ok(data(render_one(&st, &gid, &fields)?))
}

pub async fn update_story(
    AxState(sim): AxState<Sim>,
    Path(gid): Path<String>,
    RawQuery(q): RawQuery,
    bytes: Bytes,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    check_gid("story", &gid)?;
    let (body, d) = json_body(&bytes)?;
    let fields = write_fields(&params, &body, spec_fields::UPDATE_STORY)?;
    let mut st = lock(&sim.state);
    st.live_story(&gid)?;
    let html = comment_of(&d)?;
    let me = st.me.clone();
    st.edit_comment_story(&me, &gid, html)?;
    Ok(data(render_one(&st, &gid, &fields)?))
}

pub async fn delete_story(
    AxState(sim): AxState<Sim>,
    Path(gid): Path<String>,
) -> ApiResult<Response> {
    check_gid("story", &gid)?;
    let mut st = lock(&sim.state);
    let me = st.me.clone();
    st.delete_comment_story(&me, &gid)?;
    Ok(data(json!({})))
}
