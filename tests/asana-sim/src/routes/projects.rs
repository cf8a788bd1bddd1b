//! Projects and sections: `GET /projects` (by workspace, paginated), `GET /projects/{p}`, `GET|POST /projects/{p}/sections`,
//! `GET /sections/{s}`, `POST /sections/{s}/addTask`.

use axum::extract::{Path, RawQuery, State as AxState};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use super::{check_gid, created, data, json_body, listing_key, ok, opt_string, req_string};
use crate::error::{ApiError, ApiResult};
use crate::fields::{self, Form};
use crate::lock;
use crate::pagination;
use crate::query::Params;
use crate::repr::{self, COMPACT, NONE, PROJECT_OPT_IN};
use crate::server::Sim;
use crate::spec_fields;
use crate::state::Placement;

/// `GET /projects?workspace=`: the workspace's projects in creation order, compact unless
/// `opt_fields` asks for more, filtered by `archived` when given. Asana wants a
/// `workspace` (or the deprecated `team`, which the simulator does not model).
pub async fn get_projects(
    AxState(sim): AxState<Sim>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    let fields = fields::parse(params.get("opt_fields"), spec_fields::GET_PROJECTS)?;
    if params.get("team").is_some() {
        return Err(ApiError::bad_request(
            "team: asana-sim has no teams; list projects by workspace",
        ));
    }
    let Some(w) = params.get("workspace") else {
        return Err(ApiError::bad_request(
            "workspace: Missing input; specify a workspace to list its projects",
        ));
    };
    super::users::check_workspace(&sim, w)?;
    let archived = match params.get("archived") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "archived: Not a boolean: {other}"
            )));
        }
    };
    let listing = listing_key("/projects", &params);
    let page = pagination::request(&params, &listing)?;
    let st = lock(&sim.state);
    let items: Vec<Value> = st
        .project_order
        .iter()
        .map(|p| repr::project(&st, p))
        .filter(|p| archived.is_none_or(|a| p["archived"] == a))
        .map(|p| fields::render(&p, &fields, Form::Compact(COMPACT)))
        .collect();
    Ok(ok(pagination::respond(
        items,
        page,
        &params,
        "/projects",
        &listing,
        &sim.base_url(),
    )?))
}

pub async fn get_project(
    AxState(sim): AxState<Sim>,
    Path(p): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    let fields = fields::parse(params.get("opt_fields"), spec_fields::GET_PROJECT)?;
    check_gid("project", &p)?;
    let st = lock(&sim.state);
    st.project(&p)?;
    Ok(data(fields::render(
        &repr::project(&st, &p),
        &fields,
        Form::FullExcept(PROJECT_OPT_IN),
    )))
}

pub async fn get_sections(
    AxState(sim): AxState<Sim>,
    Path(p): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    let fields = fields::parse(
        params.get("opt_fields"),
        spec_fields::GET_SECTIONS_FOR_PROJECT,
    )?;
    check_gid("project", &p)?;
    let path = format!("/projects/{p}/sections");
    let listing = listing_key(&path, &params);
    let page = pagination::request(&params, &listing)?;
    let st = lock(&sim.state);
    let items: Vec<Value> = st
        .project(&p)?
        .sections
        .iter()
        .map(|s| fields::render(&repr::section(&st, s), &fields, Form::Compact(COMPACT)))
        .collect();
    Ok(ok(pagination::respond(
        items,
        page,
        &params,
        &path,
        &listing,
        &sim.base_url(),
    )?))
}

pub async fn create_section(
    AxState(sim): AxState<Sim>,
    Path(p): Path<String>,
    RawQuery(q): RawQuery,
    bytes: Bytes,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    let allowed = spec_fields::CREATE_SECTION_FOR_PROJECT;
    let mut fields = fields::parse(params.get("opt_fields"), allowed)?;
    check_gid("project", &p)?;
    let (body, d) = json_body(&bytes)?;
    if fields.is_none() {
        fields = fields::from_body_options(&body, allowed)?;
    }
    let name = req_string(&d, "name")?;
    let before = opt_string(&d, "insert_before")?;
    let after = opt_string(&d, "insert_after")?;
    if before.is_some() && after.is_some() {
        return Err(ApiError::bad_request(
            "insert_before, insert_after: Only one of insert_before and insert_after may be specified",
        ));
    }
    let mut st = lock(&sim.state);
    st.project(&p)?;
    for anchor in [&before, &after].into_iter().flatten() {
        if st.sections.get(anchor).is_none_or(|s| s.project != p) {
            return Err(ApiError::unrecognized_id(
                "insert_before/insert_after",
                anchor,
            ));
        }
    }
    let me = st.me.clone();
    let gid = st.create_section(&me, &p, &name)?;
    if let Some(project) = st.projects.get_mut(&p) {
        let anchor = before.as_ref().or(after.as_ref());
        if let Some(anchor) = anchor {
            project.sections.retain(|s| *s != gid);
            let pos = project
                .sections
                .iter()
                .position(|s| s == anchor)
                .unwrap_or(project.sections.len());
            let pos = if after.is_some() { pos + 1 } else { pos };
            project
                .sections
                .insert(pos.min(project.sections.len()), gid.clone());
        }
    }
    let value = fields::render(&repr::section(&st, &gid), &fields, Form::FullExcept(NONE));
    Ok(created(value, &format!("/sections/{gid}")))
}

pub async fn get_section(
    AxState(sim): AxState<Sim>,
    Path(s): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    let fields = fields::parse(params.get("opt_fields"), spec_fields::GET_SECTION)?;
    check_gid("section", &s)?;
    let st = lock(&sim.state);
    st.section(&s)?;
    Ok(data(fields::render(
        &repr::section(&st, &s),
        &fields,
        Form::FullExcept(NONE),
    )))
}

pub async fn section_add_task(
    AxState(sim): AxState<Sim>,
    Path(s): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    check_gid("section", &s)?;
    let (_, d) = json_body(&bytes)?;
    let task = req_string(&d, "task")?;
    let placement = Placement {
        insert_before: opt_string(&d, "insert_before")?,
        insert_after: opt_string(&d, "insert_after")?,
    };
    let mut st = lock(&sim.state);
    let me = st.me.clone();
    st.section_add_task(&me, &s, &task, &placement)?;
    Ok(data(json!({})))
}
