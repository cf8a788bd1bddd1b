//! The test-control API: what a human does in the Asana UI (acting as alice), reading the
//! world back as [`SimTask`]s, and the same operations as JSON over HTTP at `/_sim/...` for
//! tests that run the simulator as a child process.
//!
//! HTTP routes (all JSON; errors are Asana-style bodies):
//! `GET /_sim/info`, `POST /_sim/users {name,email}`, `POST /_sim/projects {name}`,
//! `POST /_sim/projects/{p}/sections {name}`, `POST /_sim/projects/{p}/tasks <TaskSeed>`,
//! `GET /_sim/projects/{p}/tasks`, `GET|PATCH|DELETE /_sim/tasks/{gid}` (`PATCH` takes a
//! `TaskEdit`), `GET|DELETE /_sim/requests`, `GET /_sim/unexpected`,
//! `POST /_sim/faults <Fault>`, `POST /_sim/expire_sync_tokens`, `POST /_sim/revoke_token`,
//! `POST /_sim/latency {ms}`, `POST /_sim/rate_limit {per_minute}`.

use std::time::Duration;

use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::lock;
use crate::model::{Fault, SimTask, TaskEdit, TaskSeed};
use crate::server::{Shared, Sim};
use crate::state::{Membership, NewTask, Placement, State, TaskChanges, iso};

impl Shared {
    pub fn ctl_add_section(&self, project: &str, name: &str) -> ApiResult<String> {
        let mut st = lock(&self.state);
        let alice = st.alice.clone();
        st.create_section(&alice, project, name)
    }

    pub fn ctl_section_gid(&self, project: &str, name: &str) -> Option<String> {
        let st = lock(&self.state);
        section_by_name(&st, project, name)
    }

    pub fn ctl_add_task(&self, project: &str, seed: &TaskSeed) -> ApiResult<String> {
        let mut st = lock(&self.state);
        let alice = st.alice.clone();
        st.project(project)?;
        if let Some(html) = &seed.html_notes {
            crate::repr::rich_text(html).map_err(ApiError::bad_request)?;
        }
        let assignee = match &seed.assignee {
            Some(email) => Some(st.resolve_user("assignee", email)?),
            None => None,
        };
        let section = match &seed.section {
            Some(name) => Some(ensure_section(&mut st, &alice, project, name)?),
            None => None,
        };
        let tags = seed
            .tags
            .iter()
            .map(|name| ensure_tag(&mut st, name))
            .collect::<ApiResult<Vec<_>>>()?;
        let (due_on, due_at, start_on) = crate::state::dates_after(
            (None, None, None),
            seed.due_on.clone().map(Some),
            seed.due_at.clone().map(Some),
            seed.start_on.clone().map(Some),
        )?;
        let new = NewTask {
            name: seed.name.clone(),
            html_notes: seed
                .html_notes
                .clone()
                .unwrap_or_else(|| crate::repr::html_notes(&seed.notes)),
            completed: seed.completed,
            due_on,
            due_at,
            start_on,
            assignee,
            memberships: vec![Membership {
                project: project.to_owned(),
                section,
            }],
            tags,
        };
        st.create_task(&alice, new)
    }

    pub fn ctl_edit_task(&self, gid: &str, edit: &TaskEdit) -> ApiResult<()> {
        let alice = lock(&self.state).alice.clone();
        self.ctl_edit_task_as(&alice, gid, edit)
    }

    /// [`Shared::ctl_edit_task`] by another user (`actor`, a user gid).
    pub fn ctl_edit_task_as(&self, actor: &str, gid: &str, edit: &TaskEdit) -> ApiResult<()> {
        let mut st = lock(&self.state);
        let alice = actor.to_owned();
        st.live_task(gid)?;
        if let Some(html) = &edit.html_notes {
            crate::repr::rich_text(html).map_err(ApiError::bad_request)?;
        }
        let assignee = match &edit.assignee {
            Some(Some(email)) => Some(Some(st.resolve_user("assignee", email)?)),
            Some(None) => Some(None),
            None => None,
        };
        st.update_task(
            &alice,
            gid,
            TaskChanges {
                name: edit.name.clone(),
                html_notes: edit
                    .html_notes
                    .clone()
                    .or_else(|| edit.notes.as_deref().map(crate::repr::html_notes)),
                completed: edit.completed,
                due_on: edit.due_on.clone(),
                due_at: edit.due_at.clone(),
                start_on: edit.start_on.clone(),
                assignee,
            },
        )?;
        if let Some(names) = &edit.tags {
            let wanted = names
                .iter()
                .map(|n| ensure_tag(&mut st, n))
                .collect::<ApiResult<Vec<_>>>()?;
            let current = st.live_task(gid)?.tags.clone();
            for tag in current.iter().filter(|t| !wanted.contains(t)) {
                st.remove_tag(&alice, gid, tag)?;
            }
            for tag in wanted.iter().filter(|t| !current.contains(t)) {
                st.add_tag(&alice, gid, tag)?;
            }
        }
        if let Some(name) = &edit.section {
            let project = st
                .live_task(gid)?
                .memberships
                .first()
                .map(|m| m.project.clone())
                .ok_or_else(|| ApiError::bad_request("task is in no project"))?;
            let section = ensure_section(&mut st, &alice, &project, name)?;
            st.section_add_task(&alice, &section, gid, &Placement::default())?;
        }
        Ok(())
    }

    pub fn ctl_delete_task(&self, gid: &str) -> ApiResult<()> {
        let mut st = lock(&self.state);
        let alice = st.alice.clone();
        st.delete_task(&alice, gid)
    }

    pub fn ctl_restore_task(&self, gid: &str) -> ApiResult<()> {
        let mut st = lock(&self.state);
        let alice = st.alice.clone();
        st.restore_task(&alice, gid)
    }

    pub fn ctl_add_comment(&self, gid: &str) -> ApiResult<()> {
        let mut st = lock(&self.state);
        let alice = st.alice.clone();
        st.add_comment(&alice, gid)
    }

    pub fn ctl_task(&self, gid: &str) -> Option<SimTask> {
        let st = lock(&self.state);
        sim_task(&st, gid)
    }

    pub fn ctl_project_tasks(&self, project: &str) -> Vec<SimTask> {
        let st = lock(&self.state);
        st.project_task_gids(project)
            .iter()
            .filter_map(|g| sim_task(&st, g))
            .collect()
    }
}

fn section_by_name(st: &State, project: &str, name: &str) -> Option<String> {
    let p = st.projects.get(project)?;
    p.sections
        .iter()
        .find(|s| st.sections.get(*s).is_some_and(|sec| sec.name == name))
        .cloned()
}

fn ensure_section(st: &mut State, actor: &str, project: &str, name: &str) -> ApiResult<String> {
    match section_by_name(st, project, name) {
        Some(gid) => Ok(gid),
        None => st.create_section(actor, project, name),
    }
}

fn ensure_tag(st: &mut State, name: &str) -> ApiResult<String> {
    match st.tag_by_name(name) {
        Some(t) => Ok(t.gid.clone()),
        None => st.create_tag(name),
    }
}

/// The flattened view tests assert on.
fn sim_task(st: &State, gid: &str) -> Option<SimTask> {
    let t = st.live_task(gid).ok()?;
    let mut tags: Vec<String> = t
        .tags
        .iter()
        .filter_map(|g| st.tag(g).map(|tag| tag.name.clone()))
        .collect();
    tags.sort();
    let section = t
        .memberships
        .first()
        .and_then(|m| m.section.as_deref())
        .and_then(|s| st.sections.get(s))
        .map(|s| s.name.clone());
    Some(SimTask {
        gid: t.gid.clone(),
        name: t.name.clone(),
        notes: t.notes(),
        html_notes: t.html_notes.clone(),
        completed: t.completed,
        due_on: t.due_on.clone(),
        due_at: t.due_at.clone(),
        start_on: t.start_on.clone(),
        assignee: t
            .assignee
            .as_deref()
            .and_then(|a| st.user(a))
            .map(|u| u.email.clone()),
        tags,
        section,
        modified_at: iso(t.modified_at),
        created_by: t.created_by.clone(),
    })
}

// ----- HTTP -----

/// The `/_sim` router.
pub fn router(sim: Sim) -> Router {
    Router::new()
        .route("/info", get(info))
        .route("/users", post(add_user))
        .route("/projects", post(create_project))
        .route("/projects/{p}/sections", post(add_section))
        .route("/projects/{p}/tasks", post(add_task).get(project_tasks))
        .route(
            "/tasks/{gid}",
            get(task).patch(edit_task).delete(delete_task),
        )
        .route("/requests", get(requests).delete(clear_requests))
        .route("/unexpected", get(unexpected))
        .route("/faults", post(inject))
        .route("/expire_sync_tokens", post(expire))
        .route("/revoke_token", post(revoke))
        .route("/latency", post(latency))
        .route("/rate_limit", post(rate_limit))
        .with_state(sim)
}

fn body<T: DeserializeOwned>(bytes: &Bytes) -> ApiResult<T> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))
}

async fn info(AxState(sim): AxState<Sim>) -> Json<Value> {
    let st = lock(&sim.state);
    Json(json!({
        "base_url": sim.base_url(),
        "token": sim.bot_token,
        "workspace": st.workspace_gid,
        "me": st.me,
        "alice": st.alice,
    }))
}

#[derive(Deserialize)]
struct NameEmail {
    name: String,
    #[serde(default)]
    email: String,
}

async fn add_user(AxState(sim): AxState<Sim>, bytes: Bytes) -> ApiResult<Json<Value>> {
    let b: NameEmail = body(&bytes)?;
    let gid = lock(&sim.state).add_user(&b.name, &b.email);
    Ok(Json(json!({ "gid": gid })))
}

async fn create_project(AxState(sim): AxState<Sim>, bytes: Bytes) -> ApiResult<Json<Value>> {
    let b: NameEmail = body(&bytes)?;
    let gid = lock(&sim.state).create_project(&b.name);
    Ok(Json(json!({ "gid": gid })))
}

async fn add_section(
    AxState(sim): AxState<Sim>,
    Path(p): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let b: NameEmail = body(&bytes)?;
    let gid = sim.ctl_add_section(&p, &b.name)?;
    Ok(Json(json!({ "gid": gid })))
}

async fn add_task(
    AxState(sim): AxState<Sim>,
    Path(p): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let seed: TaskSeed = body(&bytes)?;
    let gid = sim.ctl_add_task(&p, &seed)?;
    Ok(Json(json!({ "gid": gid })))
}

async fn project_tasks(AxState(sim): AxState<Sim>, Path(p): Path<String>) -> Json<Vec<SimTask>> {
    Json(sim.ctl_project_tasks(&p))
}

async fn task(AxState(sim): AxState<Sim>, Path(gid): Path<String>) -> Response {
    match sim.ctl_task(&gid) {
        Some(t) => Json(t).into_response(),
        None => ApiError::unknown_object("task", &gid).into_response(),
    }
}

async fn edit_task(
    AxState(sim): AxState<Sim>,
    Path(gid): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let edit: TaskEdit = body(&bytes)?;
    sim.ctl_edit_task(&gid, &edit)?;
    Ok(Json(json!({})))
}

async fn delete_task(
    AxState(sim): AxState<Sim>,
    Path(gid): Path<String>,
) -> ApiResult<Json<Value>> {
    sim.ctl_delete_task(&gid)?;
    Ok(Json(json!({})))
}

async fn requests(AxState(sim): AxState<Sim>) -> Json<Value> {
    Json(json!(*lock(&sim.requests)))
}

async fn clear_requests(AxState(sim): AxState<Sim>) -> StatusCode {
    lock(&sim.requests).clear();
    lock(&sim.unexpected).clear();
    StatusCode::NO_CONTENT
}

async fn unexpected(AxState(sim): AxState<Sim>) -> Json<Value> {
    Json(json!(*lock(&sim.unexpected)))
}

async fn inject(AxState(sim): AxState<Sim>, bytes: Bytes) -> ApiResult<StatusCode> {
    let fault: Fault = body(&bytes)?;
    lock(&sim.faults).add(fault);
    Ok(StatusCode::NO_CONTENT)
}

async fn expire(AxState(sim): AxState<Sim>) -> StatusCode {
    lock(&sim.state).events.expire_tokens();
    StatusCode::NO_CONTENT
}

async fn revoke(AxState(sim): AxState<Sim>) -> StatusCode {
    let token = sim.bot_token.clone();
    lock(&sim.tokens).retain(|t| *t != token);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Millis {
    ms: u64,
}

async fn latency(AxState(sim): AxState<Sim>, bytes: Bytes) -> ApiResult<StatusCode> {
    let b: Millis = body(&bytes)?;
    *lock(&sim.latency) = Duration::from_millis(b.ms);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct PerMinute {
    per_minute: Option<u32>,
    /// The window's length in milliseconds (absent: a minute).
    #[serde(default)]
    window_ms: Option<u64>,
}

async fn rate_limit(AxState(sim): AxState<Sim>, bytes: Bytes) -> ApiResult<StatusCode> {
    let b: PerMinute = body(&bytes)?;
    sim.limits.set_per_minute(b.per_minute);
    sim.limits
        .set_window(b.window_ms.map(Duration::from_millis));
    Ok(StatusCode::NO_CONTENT)
}
