//! A small in-memory fake of the Asana endpoints the connector uses, served by axum on
//! 127.0.0.1. It logs every request (method, path, query, JSON body) so tests can assert on
//! exactly what was sent, and answers any request it does not know with a loud `418`
//! naming it (also kept in `unexpected`).

#![allow(dead_code)] // each test binary uses a different part of the fake

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use asana_bridge_asana::{AsanaClient, AsanaConfig, AsanaConnector};
use asana_bridge_connector::http::{HttpClient, RetryPolicy};
use axum::body::Body;
use axum::extract::{Query, Request, State as AxumState};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde_json::{Value, json};

pub const PROJECT: &str = "1000";
pub const WORKSPACE: &str = "1";

/// One request as the fake saw it.
#[derive(Clone, Debug)]
pub struct Logged {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
}

impl Logged {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Debug, Default)]
pub struct FakeTask {
    pub gid: String,
    pub name: String,
    pub notes: String,
    pub completed: bool,
    pub due_on: Option<String>,
    pub assignee: Option<String>,
    pub tags: Vec<String>,
    pub project: String,
    pub section: Option<String>,
    pub modified: u32,
    /// Served as is instead of the rendered task (malformed answers).
    pub raw: Option<Value>,
}

#[derive(Default)]
pub struct FakeState {
    pub tasks: Vec<FakeTask>,
    /// (gid, email)
    pub users: Vec<(String, String)>,
    /// (gid, name)
    pub tags: Vec<(String, String)>,
    /// (gid, name)
    pub sections: Vec<(String, String)>,
    /// Scripted `/events` answers, served in order.
    pub events: VecDeque<(u16, Value)>,
    pub log: Vec<Logged>,
    pub unexpected: Vec<String>,
    next_gid: u64,
}

impl FakeState {
    fn gid(&mut self) -> String {
        self.next_gid += 1;
        format!("{}", 5000 + self.next_gid)
    }

    pub fn add_task(&mut self, task: FakeTask) {
        self.tasks.push(task);
    }

    pub fn task(&self, gid: &str) -> Option<&FakeTask> {
        self.tasks.iter().find(|t| t.gid == gid)
    }

    /// Requests other than the ones the connector makes to set itself up.
    pub fn requests(&self, method: &Method, path_prefix: &str) -> Vec<Logged> {
        self.log
            .iter()
            .filter(|l| l.method == method && l.path.starts_with(path_prefix))
            .cloned()
            .collect()
    }

    fn render(&self, t: &FakeTask) -> Value {
        if let Some(raw) = &t.raw {
            return raw.clone();
        }
        let tags: Vec<Value> = t
            .tags
            .iter()
            .map(|gid| {
                let name = self
                    .tags
                    .iter()
                    .find(|(g, _)| g == gid)
                    .map(|(_, n)| n.clone());
                json!({"gid": gid, "name": name})
            })
            .collect();
        let section = t.section.as_ref().map(|gid| {
            let name = self
                .sections
                .iter()
                .find(|(g, _)| g == gid)
                .map(|(_, n)| n.clone());
            json!({"gid": gid, "name": name})
        });
        json!({
            "gid": t.gid,
            "name": t.name,
            "notes": t.notes,
            "completed": t.completed,
            "due_on": t.due_on,
            "assignee": t.assignee.as_ref().map(|g| json!({"gid": g, "resource_type": "user"})),
            "tags": tags,
            "memberships": [{"project": {"gid": t.project}, "section": section}],
            "modified_at": format!("2026-11-01T00:{:02}:{:02}.000Z", t.modified / 60, t.modified % 60),
        })
    }
}

pub struct Fake {
    pub base: String,
    pub state: Arc<Mutex<FakeState>>,
}

impl Fake {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(FakeState::default()));
        let router = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let addr = listener.local_addr().expect("bound address");
        tokio::spawn(async move { axum::serve(listener, router).await.expect("fake serves") });
        Self {
            base: format!("http://{addr}"),
            state,
        }
    }

    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state
            .lock()
            .expect("no panic while the fake state is held")
    }

    pub fn client(&self) -> Arc<AsanaClient> {
        let mut config =
            AsanaConfig::new(&self.base, SecretString::from("test-token".to_owned())).http_config();
        config.requests_per_minute = 100_000;
        config.retry = RetryPolicy::fast(Duration::from_secs(2));
        Arc::new(AsanaClient::with_http(
            HttpClient::new(config).expect("valid config"),
        ))
    }

    pub fn connector(&self) -> AsanaConnector {
        AsanaConnector::new(self.client(), PROJECT)
    }

    /// Asserts that the connector sent nothing the fake did not expect.
    pub fn assert_no_unexpected(&self) {
        let state = self.state();
        assert!(
            state.unexpected.is_empty(),
            "unexpected requests: {:?}",
            state.unexpected
        );
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"errors": [{"message": message}]})),
    )
        .into_response()
}

fn ok(data: Value) -> Response {
    axum::Json(json!({"data": data})).into_response()
}

async fn handle(AxumState(state): AxumState<Arc<Mutex<FakeState>>>, request: Request) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let query = Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let body: Option<Value> = serde_json::from_slice(&bytes).ok();
    let path = uri.path().to_owned();
    let mut s = state.lock().expect("no panic while the fake state is held");
    let logged = Logged {
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        body: body.clone(),
    };
    s.log.push(logged.clone());
    let data = body
        .as_ref()
        .and_then(|b| b.get("data"))
        .cloned()
        .unwrap_or(Value::Null);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();

    match (method.as_str(), segments.as_slice()) {
        ("GET", ["users", "me"]) => {
            ok(json!({"gid": "42", "name": "Me", "email": "Me@Example.com"}))
        }
        ("GET", ["users", gid]) => match s.users.iter().find(|(g, _)| g == gid) {
            Some((g, e)) => ok(json!({"gid": g, "email": e, "name": "someone"})),
            None => error(StatusCode::NOT_FOUND, "user: Unknown object"),
        },
        ("GET", ["projects", p]) if *p == PROJECT => {
            ok(json!({"gid": PROJECT, "workspace": {"gid": WORKSPACE}}))
        }
        ("GET", ["projects", p, "tasks"]) if *p == PROJECT => {
            let limit: usize = logged
                .param("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(1000);
            let start: usize = logged
                .param("offset")
                .and_then(|o| o.parse().ok())
                .unwrap_or(0);
            let in_project: Vec<&FakeTask> =
                s.tasks.iter().filter(|t| t.project == PROJECT).collect();
            let page: Vec<Value> = in_project
                .iter()
                .skip(start)
                .take(limit)
                .map(|t| s.render(t))
                .collect();
            let next = (start + limit < in_project.len())
                .then(|| json!({"offset": (start + limit).to_string(), "path": "", "uri": ""}));
            axum::Json(json!({"data": page, "next_page": next})).into_response()
        }
        ("GET", ["tasks", gid]) => match s.task(gid) {
            Some(t) => ok(s.render(t)),
            None => error(StatusCode::NOT_FOUND, "task: Unknown object"),
        },
        ("POST", ["tasks"]) => {
            let gid = s.gid();
            let assignee = data["assignee"].as_str().map(|a| {
                s.users
                    .iter()
                    .find(|(g, e)| g == a || e == a)
                    .map(|(g, _)| g.clone())
                    .unwrap_or_else(|| a.to_owned())
            });
            let task = FakeTask {
                gid: gid.clone(),
                name: data["name"].as_str().unwrap_or_default().to_owned(),
                notes: data["notes"].as_str().unwrap_or_default().to_owned(),
                completed: data["completed"].as_bool().unwrap_or(false),
                due_on: data["due_on"].as_str().map(str::to_owned),
                assignee,
                tags: data["tags"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|t| t.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
                project: data["projects"][0].as_str().unwrap_or_default().to_owned(),
                section: data["memberships"][0]["section"]
                    .as_str()
                    .map(str::to_owned),
                modified: 0,
                raw: None,
            };
            s.tasks.push(task);
            let rendered = s.render(s.task(&gid).expect("just added"));
            (StatusCode::CREATED, axum::Json(json!({"data": rendered}))).into_response()
        }
        ("PUT", ["tasks", gid]) => {
            let users = s.users.clone();
            let Some(t) = s.tasks.iter_mut().find(|t| t.gid == *gid) else {
                return error(StatusCode::NOT_FOUND, "task: Unknown object");
            };
            if let Some(v) = data.get("name") {
                t.name = v.as_str().unwrap_or_default().to_owned();
            }
            if let Some(v) = data.get("notes") {
                t.notes = v.as_str().unwrap_or_default().to_owned();
            }
            if let Some(v) = data.get("completed") {
                t.completed = v.as_bool().unwrap_or_default();
            }
            if let Some(v) = data.get("due_on") {
                t.due_on = v.as_str().map(str::to_owned);
            }
            if let Some(v) = data.get("assignee") {
                t.assignee = v.as_str().map(|a| {
                    users
                        .iter()
                        .find(|(g, e)| g == a || e == a)
                        .map(|(g, _)| g.clone())
                        .unwrap_or_else(|| a.to_owned())
                });
            }
            t.modified += 1;
            let t = t.clone();
            ok(s.render(&t))
        }
        ("DELETE", ["tasks", gid]) => {
            let before = s.tasks.len();
            s.tasks.retain(|t| t.gid != *gid);
            if s.tasks.len() == before {
                error(StatusCode::NOT_FOUND, "task: Unknown object")
            } else {
                ok(json!({}))
            }
        }
        ("POST", ["tasks", gid, action @ ("addTag" | "removeTag")]) => {
            let tag = data["tag"].as_str().unwrap_or_default().to_owned();
            let Some(t) = s.tasks.iter_mut().find(|t| t.gid == *gid) else {
                return error(StatusCode::NOT_FOUND, "task: Unknown object");
            };
            if *action == "addTag" {
                if !t.tags.contains(&tag) {
                    t.tags.push(tag);
                }
            } else {
                t.tags.retain(|x| *x != tag);
            }
            ok(json!({}))
        }
        ("POST", ["sections", section, "addTask"]) => {
            let section = (*section).to_owned();
            let task = data["task"].as_str().unwrap_or_default().to_owned();
            let Some(t) = s.tasks.iter_mut().find(|t| t.gid == task) else {
                return error(StatusCode::NOT_FOUND, "task: Unknown object");
            };
            t.section = Some(section);
            ok(json!({}))
        }
        ("GET", ["projects", p, "sections"]) if *p == PROJECT => {
            let list: Vec<Value> = s
                .sections
                .iter()
                .map(|(g, n)| json!({"gid": g, "name": n}))
                .collect();
            axum::Json(json!({"data": list, "next_page": null})).into_response()
        }
        ("POST", ["projects", p, "sections"]) if *p == PROJECT => {
            let gid = s.gid();
            let name = data["name"].as_str().unwrap_or_default().to_owned();
            s.sections.push((gid.clone(), name.clone()));
            (
                StatusCode::CREATED,
                axum::Json(json!({"data": {"gid": gid, "name": name}})),
            )
                .into_response()
        }
        ("GET", ["workspaces", w, "tags"]) if *w == WORKSPACE => {
            let list: Vec<Value> = s
                .tags
                .iter()
                .map(|(g, n)| json!({"gid": g, "name": n}))
                .collect();
            axum::Json(json!({"data": list, "next_page": null})).into_response()
        }
        ("POST", ["workspaces", w, "tags"]) if *w == WORKSPACE => {
            let gid = s.gid();
            let name = data["name"].as_str().unwrap_or_default().to_owned();
            s.tags.push((gid.clone(), name.clone()));
            (
                StatusCode::CREATED,
                axum::Json(json!({"data": {"gid": gid, "name": name}})),
            )
                .into_response()
        }
        ("GET", ["workspaces", w, "users"]) if *w == WORKSPACE => {
            let list: Vec<Value> = s
                .users
                .iter()
                .map(|(g, e)| json!({"gid": g, "email": e, "name": "someone"}))
                .collect();
            axum::Json(json!({"data": list, "next_page": null})).into_response()
        }
        ("GET", ["events"]) => match s.events.pop_front() {
            Some((status, body)) => (
                StatusCode::from_u16(status).expect("scripted status is valid"),
                axum::Json(body),
            )
                .into_response(),
            None => error(StatusCode::IM_A_TEAPOT, "no scripted events left"),
        },
        _ => {
            let name = format!("{method} {uri}");
            s.unexpected.push(name.clone());
            Response::builder()
                .status(StatusCode::IM_A_TEAPOT)
                .body(Body::from(format!(
                    "{{\"errors\":[{{\"message\":\"fake Asana: unexpected request {name}\"}}]}}"
                )))
                .expect("valid response")
        }
    }
}
