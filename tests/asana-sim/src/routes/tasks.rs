//! Tasks: `GET /projects/{p}/tasks`, `GET /tasks` (project/section/assignee filters,
//! `completed_since`, `modified_since`), `GET|PUT|DELETE /tasks/{gid}`, `POST /tasks`,
//! and `addTag`/`removeTag`/`addProject`/`removeProject`.

use axum::extract::{Path, RawQuery, State as AxState};
use axum::response::Response;
use bytes::Bytes;
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::{
    check_gid, created, data, json_body, listing_key, nullable_string, ok, opt_string, req_string,
};
use crate::error::{ApiError, ApiResult};
use crate::fields::{self, Form, OptFields};
use crate::lock;
use crate::pagination;
use crate::query::Params;
use crate::repr::{self, COMPACT, TASK_OPT_IN};
use crate::server::Sim;
use crate::spec_fields;
use crate::state::{Membership, NewTask, Placement, State, Task, TaskChanges, dates_after};

/// Parses a date-time filter (`completed_since`, `modified_since`); a bare date is midnight UTC.
fn parse_time(field: &str, raw: &str) -> ApiResult<Timestamp> {
    if let Ok(ts) = raw.parse::<Timestamp>() {
        return Ok(ts);
    }
    if let Ok(date) = raw.parse::<jiff::civil::Date>()
        && let Ok(zoned) = date.to_zoned_datetime(jiff::tz::TimeZone::UTC)
    {
        return Ok(zoned.timestamp());
    }
    Err(ApiError::bad_request(format!(
        "{field}: Not a valid date-time: {raw}"
    )))
}

/// A `completed_since` filter: `now` keeps only incomplete tasks.
fn completed_filter(params: &Params) -> ApiResult<Option<Option<Timestamp>>> {
    match params.get("completed_since") {
        None => Ok(None),
        Some("now") => Ok(Some(None)),
        Some(raw) => Ok(Some(Some(parse_time("completed_since", raw)?))),
    }
}

fn keep_completed(task: &Task, filter: Option<Option<Timestamp>>) -> bool {
    match filter {
        None => true,
        Some(None) => !task.completed,
        Some(Some(since)) => !task.completed || task.completed_at.is_some_and(|at| at >= since),
    }
}

/// One listed task in compact form (`gids` hold only live tasks).
pub(super) fn render_listed(st: &State, gid: &str, fields: &OptFields) -> Value {
    st.tasks.get(gid).map_or(Value::Null, |t| {
        fields::render(&repr::task(st, t), fields, Form::Compact(COMPACT))
    })
}

pub async fn get_project_tasks(
    AxState(sim): AxState<Sim>,
    Path(p): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    let fields = fields::parse(params.get("opt_fields"), spec_fields::GET_TASKS_FOR_PROJECT)?;
    check_gid("project", &p)?;
    let path = format!("/projects/{p}/tasks");
    let listing = listing_key(&path, &params);
    let page = pagination::request(&params, &listing)?;
    let completed = completed_filter(&params)?;
    let st = lock(&sim.state);
    st.project(&p)?;
    let gids: Vec<String> = st
        .project_task_gids(&p)
        .into_iter()
        .filter(|g| {
            st.tasks
                .get(g)
                .is_some_and(|t| keep_completed(t, completed))
        })
        .collect();
    Ok(ok(pagination::respond_with(
        gids,
        |g| render_listed(&st, &g, &fields),
        page,
        &params,
        &path,
        &listing,
        &sim.base_url(),
    )?))
}

pub async fn get_tasks(AxState(sim): AxState<Sim>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    let fields = fields::parse(params.get("opt_fields"), spec_fields::GET_TASKS)?;
    let listing = listing_key("/tasks", &params);
    let page = pagination::request(&params, &listing)?;
    let completed = completed_filter(&params)?;
    let modified_since = params
        .get("modified_since")
        .map(|raw| parse_time("modified_since", raw))
        .transpose()?;
    let st = lock(&sim.state);
    let project = params.get("project");
    let section = params.get("section");
    let assignee = params.get("assignee");
    let workspace = params.get("workspace");
    let gids: Vec<String> = match (project, section, assignee, workspace) {
        (Some(p), None, None, None) => {
            check_gid("project", p)?;
            st.project(p)?;
            st.project_task_gids(p)
        }
        (None, Some(s), None, None) => {
            check_gid("section", s)?;
            let project = st.section(s)?.project.clone();
            st.project_task_gids(&project)
                .into_iter()
                .filter(|g| {
                    st.tasks.get(g).is_some_and(|t| {
                        t.memberships
                            .iter()
                            .any(|m| m.section.as_deref() == Some(s))
                    })
                })
                .collect()
        }
        (None, None, Some(a), Some(w)) => {
            if w != st.workspace_gid {
                return Err(ApiError::unknown_object("workspace", w));
            }
            let user = st.resolve_user("assignee", a)?;
            let mut gids: Vec<String> = st
                .tasks
                .values()
                .filter(|t| !t.deleted && t.assignee.as_deref() == Some(user.as_str()))
                .map(|t| t.gid.clone())
                .collect();
            gids.sort();
            gids
        }
        _ => {
            return Err(ApiError::bad_request(
                "Must specify exactly one of project, tag, section, user task list, or assignee + workspace",
            ));
        }
    };
    let gids: Vec<String> = gids
        .into_iter()
        .filter(|g| {
            st.tasks.get(g).is_some_and(|t| {
                keep_completed(t, completed) && modified_since.is_none_or(|m| t.modified_at >= m)
            })
        })
        .collect();
    Ok(ok(pagination::respond_with(
        gids,
        |g| render_listed(&st, &g, &fields),
        page,
        &params,
        "/tasks",
        &listing,
        &sim.base_url(),
    )?))
}

/// `opt_fields` from the query string, else from the body's `options.fields`.
pub(super) fn write_fields(
    params: &Params,
    body: &Value,
    allowed: &[&str],
) -> ApiResult<OptFields> {
    match fields::parse(params.get("opt_fields"), allowed)? {
        Some(f) => Ok(Some(f)),
        None => fields::from_body_options(body, allowed),
    }
}

pub(super) fn render_one(st: &State, gid: &str, fields: &OptFields) -> ApiResult<Value> {
    let task = st.live_task(gid)?;
    Ok(fields::render(
        &repr::task(st, task),
        fields,
        Form::FullExcept(TASK_OPT_IN),
    ))
}

pub async fn get_task(
    AxState(sim): AxState<Sim>,
    Path(gid): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    let fields = fields::parse(params.get("opt_fields"), spec_fields::GET_TASK)?;
    check_gid("task", &gid)?;
    let st = lock(&sim.state);
    Ok(data(render_one(&st, &gid, &fields)?))
}

/// `due_on` must be `YYYY-MM-DD`.
fn check_date(field: &str, value: &Option<String>) -> ApiResult<()> {
    match value {
        Some(d) if d.parse::<jiff::civil::Date>().is_err() || d.len() != 10 => Err(
            ApiError::bad_request(format!("{field}: Not a valid date (YYYY-MM-DD): {d}")),
        ),
        _ => Ok(()),
    }
}

fn opt_bool(d: &Map<String, Value>, key: &str) -> ApiResult<Option<bool>> {
    match d.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(ApiError::bad_request(format!(
            "{key}: Not a boolean: {other}"
        ))),
    }
}

/// The description a write sets, as rich text: `html_notes` checked as Asana checks it
/// (invalid -> 400), or `notes` escaped into a `<body>` (plain text replaces any
/// formatting, as in Asana).
fn html_notes_of(d: &Map<String, Value>) -> ApiResult<Option<String>> {
    if let Some(html) = opt_string(d, "html_notes")? {
        repr::rich_text(&html).map_err(ApiError::bad_request)?;
        return Ok(Some(html));
    }
    Ok(opt_string(d, "notes")?.map(|notes| repr::html_notes(&notes)))
}

/// Fields a task create/update accepts that the simulator does not model: refused loudly
/// so a test notices instead of silently losing data.
const UNMODELED: &[&str] = &[
    "parent",
    "start_at",
    "external",
    "approval_status",
    "resource_subtype",
    "custom_type",
    "custom_type_status_option",
];

fn reject_unmodeled(d: &Map<String, Value>) -> ApiResult<()> {
    for key in UNMODELED {
        if let Some(v) = d.get(*key)
            && !v.is_null()
            && !(*key == "resource_subtype" && v == "default_task")
        {
            return Err(ApiError::bad_request(format!(
                "{key}: not supported by asana-sim"
            )));
        }
    }
    Ok(())
}

fn string_list(d: &Map<String, Value>, key: &str) -> ApiResult<Vec<String>> {
    match d.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(ApiError::bad_request(format!(
                    "{key}: Not a string: {other}"
                ))),
            })
            .collect(),
        Some(other) => Err(ApiError::bad_request(format!(
            "{key}: Not an array: {other}"
        ))),
    }
}

pub(super) fn parse_new_task(st: &State, d: &Map<String, Value>) -> ApiResult<NewTask> {
    reject_unmodeled(d)?;
    let mut memberships: Vec<Membership> = Vec::new();
    if let Some(raw) = d.get("memberships") {
        let Value::Array(items) = raw else {
            return Err(ApiError::bad_request("memberships: Not an array"));
        };
        for (i, item) in items.iter().enumerate() {
            let project = item
                .get("project")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::missing(&format!("memberships[{i}].project")))?;
            if !st.projects.contains_key(project) {
                return Err(ApiError::unrecognized_id(
                    &format!("memberships[{i}].project"),
                    project,
                ));
            }
            let section = match item.get("section") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => {
                    let sec = st.sections.get(s).ok_or_else(|| {
                        ApiError::unrecognized_id(&format!("memberships[{i}].section"), s)
                    })?;
                    if sec.project != project {
                        return Err(ApiError::bad_request(format!(
                            "memberships[{i}].section: Section {s} is not in project {project}"
                        )));
                    }
                    Some(s.clone())
                }
                Some(other) => {
                    return Err(ApiError::bad_request(format!(
                        "memberships[{i}].section: Not a string: {other}"
                    )));
                }
            };
            memberships.push(Membership {
                project: project.to_owned(),
                section,
            });
        }
    }
    for (i, project) in string_list(d, "projects")?.into_iter().enumerate() {
        if !st.projects.contains_key(&project) {
            return Err(ApiError::unrecognized_id(
                &format!("projects[{i}]"),
                &project,
            ));
        }
        if !memberships.iter().any(|m| m.project == project) {
            memberships.push(Membership {
                project,
                section: None,
            });
        }
    }
    // Asana puts every task of a project into a section: the first one when the create
    // names none. (Tasks seeded through the control API stay where the test puts them.)
    for m in &mut memberships {
        if m.section.is_none()
            && let Ok(p) = st.project(&m.project)
            && let Some(first) = p.sections.first()
        {
            m.section = Some(first.clone());
        }
    }
    let tags = string_list(d, "tags")?;
    for (i, tag) in tags.iter().enumerate() {
        if st.tag(tag).is_none() {
            return Err(ApiError::unrecognized_id(&format!("tags[{i}]"), tag));
        }
    }
    match opt_string(d, "workspace")? {
        Some(w) if w != st.workspace_gid => {
            return Err(ApiError::unrecognized_id("workspace", &w));
        }
        None if memberships.is_empty() => {
            return Err(ApiError::bad_request(
                "workspace: Missing input. You should specify one of workspace, parent, projects",
            ));
        }
        _ => {}
    }
    let due_on = nullable_string(d, "due_on")?;
    if let Some(v) = &due_on {
        check_date("due_on", v)?;
    }
    let start_on = nullable_string(d, "start_on")?;
    if let Some(v) = &start_on {
        check_date("start_on", v)?;
    }
    let (due_on, due_at, start_on) = dates_after(
        (None, None, None),
        due_on,
        nullable_string(d, "due_at")?,
        start_on,
    )?;
    let assignee = match nullable_string(d, "assignee")? {
        Some(Some(a)) => Some(st.resolve_user("assignee", &a)?),
        _ => None,
    };
    Ok(NewTask {
        name: opt_string(d, "name")?.unwrap_or_default(),
        html_notes: html_notes_of(d)?.unwrap_or_else(|| repr::html_notes("")),
        completed: opt_bool(d, "completed")?.unwrap_or(false),
        due_on,
        due_at,
        start_on,
        assignee,
        memberships,
        tags,
    })
}

pub async fn create_task(
    AxState(sim): AxState<Sim>,
    RawQuery(q): RawQuery,
    bytes: Bytes,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    let (body, d) = json_body(&bytes)?;
    let fields = write_fields(&params, &body, spec_fields::CREATE_TASK)?;
    let mut st = lock(&sim.state);
    let new = parse_new_task(&st, &d)?;
    let projects: Vec<String> = new.memberships.iter().map(|m| m.project.clone()).collect();
    let custom = crate::custom_fields::parse_write(&st, &projects, d.get("custom_fields"))?;
    let me = st.me.clone();
    let gid = st.create_task(&me, new)?;
    if let Some(custom) = custom {
        crate::custom_fields::apply(&mut st, &me, &gid, custom);
    }
    let value = render_one(&st, &gid, &fields)?;
    Ok(created(value, &format!("/tasks/{gid}")))
}

/// Create-only or endpoint-managed fields a `PUT` must not carry.
const NOT_UPDATABLE: &[(&str, &str)] = &[
    (
        "projects",
        "use POST /tasks/{task_gid}/addProject or removeProject",
    ),
    (
        "memberships",
        "use POST /sections/{section_gid}/addTask or addProject",
    ),
    ("tags", "use POST /tasks/{task_gid}/addTag or removeTag"),
    ("workspace", "a task cannot change workspace"),
    ("followers", "use addFollowers or removeFollowers"),
];

pub async fn update_task(
    AxState(sim): AxState<Sim>,
    Path(gid): Path<String>,
    RawQuery(q): RawQuery,
    bytes: Bytes,
) -> ApiResult<Response> {
    let params = Params::parse(q.as_deref());
    check_gid("task", &gid)?;
    let (body, d) = json_body(&bytes)?;
    let fields = write_fields(&params, &body, spec_fields::UPDATE_TASK)?;
    reject_unmodeled(&d)?;
    for (key, hint) in NOT_UPDATABLE {
        if d.contains_key(*key) {
            return Err(ApiError::bad_request(format!(
                "{key}: Cannot write this property with PUT; {hint}"
            )));
        }
    }
    let mut st = lock(&sim.state);
    let projects: Vec<String> = st
        .live_task(&gid)?
        .memberships
        .iter()
        .map(|m| m.project.clone())
        .collect();
    let custom = crate::custom_fields::parse_write(&st, &projects, d.get("custom_fields"))?;
    let due_on = nullable_string(&d, "due_on")?;
    if let Some(v) = &due_on {
        check_date("due_on", v)?;
    }
    let start_on = nullable_string(&d, "start_on")?;
    if let Some(v) = &start_on {
        check_date("start_on", v)?;
    }
    let assignee = match nullable_string(&d, "assignee")? {
        Some(Some(a)) => Some(Some(st.resolve_user("assignee", &a)?)),
        Some(None) => Some(None),
        None => None,
    };
    let name = match d.get("name") {
        Some(Value::Null) => return Err(ApiError::bad_request("name: Cannot be null")),
        _ => opt_string(&d, "name")?,
    };
    let changes = TaskChanges {
        name,
        html_notes: html_notes_of(&d)?,
        completed: opt_bool(&d, "completed")?,
        due_on,
        due_at: nullable_string(&d, "due_at")?,
        start_on,
        assignee,
    };
    let me = st.me.clone();
    st.update_task(&me, &gid, changes)?;
    if let Some(custom) = custom {
        crate::custom_fields::apply(&mut st, &me, &gid, custom);
    }
    Ok(data(render_one(&st, &gid, &fields)?))
}

pub async fn delete_task(
    AxState(sim): AxState<Sim>,
    Path(gid): Path<String>,
) -> ApiResult<Response> {
    check_gid("task", &gid)?;
    let mut st = lock(&sim.state);
    let me = st.me.clone();
    st.delete_task(&me, &gid)?;
    Ok(data(json!({})))
}

/// Shared shape of the small `POST /tasks/{gid}/<action>` endpoints.
fn task_action(
    sim: &Sim,
    gid: &str,
    bytes: &Bytes,
    apply: impl FnOnce(&mut State, &str, &Map<String, Value>) -> ApiResult<()>,
) -> ApiResult<Response> {
    check_gid("task", gid)?;
    let (_, d) = json_body(bytes)?;
    let mut st = lock(&sim.state);
    st.live_task(gid)?;
    let me = st.me.clone();
    apply(&mut st, &me, &d)?;
    Ok(data(json!({})))
}

pub async fn add_tag(
    AxState(sim): AxState<Sim>,
    Path(gid): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    task_action(&sim, &gid, &bytes, |st, me, d| {
        let tag = req_string(d, "tag")?;
        st.add_tag(me, &gid, &tag)
    })
}

pub async fn remove_tag(
    AxState(sim): AxState<Sim>,
    Path(gid): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    task_action(&sim, &gid, &bytes, |st, me, d| {
        let tag = req_string(d, "tag")?;
        st.remove_tag(me, &gid, &tag)
    })
}

pub async fn add_project(
    AxState(sim): AxState<Sim>,
    Path(gid): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    task_action(&sim, &gid, &bytes, |st, me, d| {
        let project = req_string(d, "project")?;
        let section = opt_string(d, "section")?;
        let placement = Placement {
            insert_before: opt_string(d, "insert_before")?,
            insert_after: opt_string(d, "insert_after")?,
        };
        if placement.insert_before.is_some() && placement.insert_after.is_some() {
            return Err(ApiError::bad_request(
                "insert_before, insert_after: Only one of insert_before and insert_after may be specified",
            ));
        }
        st.add_project(me, &gid, &project, section.as_deref(), &placement)
    })
}

pub async fn remove_project(
    AxState(sim): AxState<Sim>,
    Path(gid): Path<String>,
    bytes: Bytes,
) -> ApiResult<Response> {
    task_action(&sim, &gid, &bytes, |st, me, d| {
        let project = req_string(d, "project")?;
        st.remove_project(me, &gid, &project)
    })
}
