//! Black-box tests of the simulator over HTTP with reqwest: each test states the Asana
//! behaviour it proves (auth, pagination, opt_fields, writes and modified_at, events and
//! sync tokens, batch, faults, rate limits, the catch-all).

use std::time::Duration;

use asana_sim::{Fault, SimOptions, Simulator, TaskEdit, TaskSeed};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

struct Api {
    sim: Simulator,
    http: Client,
}

impl Api {
    fn new() -> Api {
        Api::with(SimOptions::default())
    }

    fn with(opts: SimOptions) -> Api {
        Api {
            sim: Simulator::start_with(opts),
            http: Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url())
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(self.sim.token())
            .send()
            .await
            .expect("request");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn send(&self, method: &str, path: &str, body: Value) -> (StatusCode, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let r = self
            .http
            .request(method, self.url(path))
            .bearer_auth(self.sim.token())
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

/// Every API route needs a valid bearer token; a revoked token gets 401 with Asana's body.
#[tokio::test]
async fn auth_is_required() {
    let api = Api::new();
    let r = api
        .http
        .get(api.url("/users/me"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["errors"][0]["message"], "Not Authorized");

    let r = api
        .http
        .get(api.url("/users/me"))
        .bearer_auth("wrong")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let (status, me) = api.get("/users/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["data"]["gid"], api.sim.me_gid());

    api.sim.revoke_token();
    assert_eq!(api.get("/users/me").await.0, StatusCode::UNAUTHORIZED);
    assert!(api.sim.requests().iter().any(|r| r.status == 401));
}

/// Pages follow opaque offsets; `next_page` is null on the last page and absent without
/// `limit`; bad limits and foreign offsets are 400s.
#[tokio::test]
async fn pagination_follows_offsets() {
    let api = Api::new();
    let p = api.sim.create_project("P");
    for i in 0..5 {
        api.sim.add_task(&p, TaskSeed::named(&format!("t{i}")));
    }
    let mut names = Vec::new();
    let mut path = format!("/projects/{p}/tasks?limit=2&opt_fields=name");
    let mut pages = 0;
    loop {
        let (status, body) = api.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        pages += 1;
        for t in body["data"].as_array().expect("data") {
            names.push(t["name"].as_str().expect("name").to_owned());
            assert_eq!(keys(t), ["gid", "name"]);
        }
        match &body["next_page"] {
            Value::Null => break,
            next => {
                assert!(next["offset"].is_string());
                assert!(
                    next["uri"]
                        .as_str()
                        .is_some_and(|u| u.starts_with(&api.sim.base_url()))
                );
                path = next["path"].as_str().expect("path").to_owned();
            }
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, ["t0", "t1", "t2", "t3", "t4"]);

    let (_, all) = api.get(&format!("/projects/{p}/tasks")).await;
    assert_eq!(all["data"].as_array().map(Vec::len), Some(5));
    assert!(all.get("next_page").is_none());

    for bad in ["limit=0", "limit=101", "limit=x"] {
        let (status, body) = api.get(&format!("/projects/{p}/tasks?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(body["errors"][0]["message"].is_string());
    }
    let (status, _) = api
        .get(&format!("/projects/{p}/tasks?limit=2&offset=bogus"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, first) = api.get(&format!("/projects/{p}/tasks?limit=2")).await;
    let offset = first["next_page"]["offset"].as_str().expect("offset");
    let other = api.sim.create_project("Q");
    let (status, _) = api
        .get(&format!("/projects/{other}/tasks?limit=2&offset={offset}"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// opt_fields returns only the asked paths (+gid); unknown fields are a 400; lists default
/// to the compact form and single GETs to the full one.
#[tokio::test]
async fn opt_fields_project_and_reject() {
    let api = Api::new();
    let p = api.sim.create_project("P");
    let t = api.sim.add_task(
        &p,
        TaskSeed {
            name: "Fix".into(),
            notes: "n".into(),
            assignee: Some("alice@example.com".into()),
            tags: vec!["bug".into()],
            section: Some("Doing".into()),
            ..TaskSeed::default()
        },
    );
    let (status, body) = api
        .get(&format!(
            "/tasks/{t}?opt_fields=name,assignee.name,tags.name,memberships.section.name,workspace"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    let d = &body["data"];
    assert_eq!(
        keys(d),
        [
            "assignee",
            "gid",
            "memberships",
            "name",
            "tags",
            "workspace"
        ]
    );
    assert_eq!(d["assignee"]["name"], "Alice Example");
    assert_eq!(keys(&d["assignee"]), ["gid", "name"]);
    assert_eq!(d["tags"][0]["name"], "bug");
    assert_eq!(d["memberships"][0]["section"]["name"], "Doing");
    assert!(d["memberships"][0].get("project").is_none());
    assert_eq!(keys(&d["workspace"]), ["gid", "resource_type"]);

    let (status, body) = api
        .get(&format!("/tasks/{t}?opt_fields=name,nonsense"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("nonsense"))
    );

    let (_, list) = api.get(&format!("/projects/{p}/tasks")).await;
    assert_eq!(
        keys(&list["data"][0]),
        ["gid", "name", "resource_subtype", "resource_type"]
    );
    let (_, full) = api.get(&format!("/tasks/{t}")).await;
    let full = &full["data"];
    for k in [
        "notes",
        "completed",
        "due_on",
        "modified_at",
        "memberships",
        "permalink_url",
    ] {
        assert!(full.get(k).is_some(), "{k}");
    }
    assert!(full.get("html_notes").is_none(), "html_notes is opt-in");
}

/// POST creates (201 + Location), PUT changes only sent fields and bumps modified_at,
/// section moves do not bump it, tag changes do, DELETE answers `{data:{}}` then 404.
#[tokio::test]
async fn task_writes_follow_asana_rules() {
    let api = Api::new();
    let p = api.sim.create_project("P");
    let s = api.sim.add_section(&p, "Todo");
    let s2 = api.sim.add_section(&p, "Done");
    // Seeding a task with a tag creates the tag in the workspace.
    api.sim.add_task(
        &p,
        TaskSeed {
            tags: vec!["bug".into()],
            ..TaskSeed::named("x")
        },
    );
    let bug = api.sim.tag_gid("bug").expect("tag");

    let r = api
        .http
        .post(api.url("/tasks"))
        .bearer_auth(api.sim.token())
        .json(
            &json!({"data": {"name": "New", "notes": "body", "due_on": "2026-12-01",
            "assignee": "bob@example.com", "memberships": [{"project": p, "section": s}],
            "tags": [bug]}}),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Value = r.json().await.expect("json");
    let gid = body["data"]["gid"].as_str().expect("gid").to_owned();
    assert_eq!(gid.len(), 16);
    assert_eq!(location.as_deref(), Some(format!("/tasks/{gid}").as_str()));
    let t = api.sim.task(&gid).expect("created");
    assert_eq!(t.assignee.as_deref(), Some("bob@example.com"));
    assert_eq!(t.section.as_deref(), Some("Todo"));
    assert_eq!(t.tags, ["bug"]);
    assert_eq!(t.created_by, api.sim.me_gid());

    let before = t.modified_at.clone();
    let (status, body) = api
        .send(
            "PUT",
            &format!("/tasks/{gid}"),
            json!({"data": {"completed": true, "due_on": null}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["completed"], true);
    let t = api.sim.task(&gid).expect("task");
    assert_eq!((t.name.as_str(), t.notes.as_str()), ("New", "body"));
    assert_eq!(t.due_on, None);
    assert!(t.modified_at > before, "PUT bumps modified_at");

    let before = t.modified_at.clone();
    let (status, body) = api
        .send(
            "POST",
            &format!("/sections/{s2}/addTask"),
            json!({"data": {"task": gid}}),
        )
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"data": {}})));
    let t = api.sim.task(&gid).expect("task");
    assert_eq!(t.section.as_deref(), Some("Done"));
    assert_eq!(
        t.modified_at, before,
        "section moves do not bump modified_at"
    );

    let (status, _) = api
        .send(
            "POST",
            &format!("/tasks/{gid}/removeTag"),
            json!({"data": {"tag": bug}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let t = api.sim.task(&gid).expect("task");
    assert!(t.tags.is_empty());
    assert!(t.modified_at > before, "tag changes bump modified_at");

    let (status, body) = api
        .send(
            "PUT",
            &format!("/tasks/{gid}"),
            json!({"data": {"projects": [p]}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = api
        .send(
            "POST",
            "/tasks",
            json!({"data": {"name": "x", "projects": ["1999999999999999"]}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = api
        .send("POST", "/tasks", json!({"data": {"name": "x"}}))
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "workspace or projects is required"
    );

    let (status, body) = api
        .send("DELETE", &format!("/tasks/{gid}"), json!({}))
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"data": {}})));
    assert!(api.sim.task(&gid).is_none());
    assert_eq!(
        api.get(&format!("/tasks/{gid}")).await.0,
        StatusCode::NOT_FOUND
    );
}

/// `modified_since` and `completed_since` filter `GET /tasks`.
#[tokio::test]
async fn get_tasks_filters() {
    let api = Api::new();
    let p = api.sim.create_project("P");
    let a = api.sim.add_task(&p, TaskSeed::named("a"));
    let b = api.sim.add_task(
        &p,
        TaskSeed {
            completed: true,
            ..TaskSeed::named("b")
        },
    );
    let (_, body) = api
        .get(&format!("/tasks?project={p}&completed_since=now"))
        .await;
    let gids: Vec<&str> = body["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|t| t["gid"].as_str())
        .collect();
    assert_eq!(gids, [a.as_str()]);
    // Kept (real time must pass): the edit's `modified_at` comes from the simulator's wall
    // clock and must differ from the one read here.
    std::thread::sleep(Duration::from_millis(5));
    let since = api.sim.task(&b).expect("b").modified_at;
    api.sim.edit_task(
        &a,
        TaskEdit {
            name: Some("a2".into()),
            ..TaskEdit::default()
        },
    );
    let (_, body) = api
        .get(&format!(
            "/tasks?project={p}&modified_since={since}&opt_fields=name"
        ))
        .await;
    let names: Vec<&str> = body["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"a2"));
    assert_eq!(api.get("/tasks").await.0, StatusCode::BAD_REQUEST);
}

/// `/events`: 412 with a fresh token first (and after expiry); then the changes since the
/// token, in Asana's shape, 100 at a time with `has_more`.
#[tokio::test]
async fn events_sync_tokens() {
    let api = Api::new();
    let p = api.sim.create_project("P");
    let (status, body) = api.get(&format!("/events?resource={p}")).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Sync token invalid"))
    );
    let sync = body["sync"].as_str().expect("sync").to_owned();

    let (status, body) = api.get(&format!("/events?resource={p}&sync={sync}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"], json!([]));
    assert_eq!(body["has_more"], false);
    let sync = body["sync"].as_str().expect("sync").to_owned();

    let t = api.sim.add_task(
        &p,
        TaskSeed {
            notes: "x".into(),
            ..TaskSeed::named("a")
        },
    );
    let (_, body) = api.get(&format!("/events?resource={p}&sync={sync}")).await;
    let events = body["data"].as_array().expect("events");
    assert!(events.len() >= 2, "a create is several events");
    let added = &events[0];
    assert_eq!(added["action"], "added");
    assert_eq!(added["resource"]["gid"], t.as_str());
    assert_eq!(added["resource"]["resource_type"], "task");
    assert_eq!(added["parent"]["gid"], p.as_str());
    assert_eq!(added["user"]["name"], "Alice Example");
    assert!(added["created_at"].is_string());
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "changed" && e["change"]["field"] == "notes")
    );
    let sync = body["sync"].as_str().expect("sync").to_owned();

    for i in 0..60 {
        api.sim.edit_task(
            &t,
            TaskEdit {
                name: Some(format!("n{i}")),
                ..TaskEdit::default()
            },
        );
    }
    let (_, body) = api.get(&format!("/events?resource={p}&sync={sync}")).await;
    assert_eq!(body["data"].as_array().map(Vec::len), Some(100));
    assert_eq!(body["has_more"], true);
    let next = body["sync"].as_str().expect("sync").to_owned();
    let (_, again) = api.get(&format!("/events?resource={p}&sync={sync}")).await;
    assert_eq!(
        again["data"], body["data"],
        "re-reading a token returns the same page"
    );
    let (_, body) = api.get(&format!("/events?resource={p}&sync={next}")).await;
    assert_eq!(body["data"].as_array().map(Vec::len), Some(20));
    assert_eq!(body["has_more"], false);

    let (_, body) = api.get(&format!("/events?resource={t}&sync={sync}")).await;
    assert!(
        body.get("errors").is_some(),
        "a token is bound to its resource"
    );

    api.sim.expire_sync_tokens();
    assert_eq!(
        api.get(&format!("/events?resource={p}&sync={next}"))
            .await
            .0,
        StatusCode::PRECONDITION_FAILED
    );
}

/// Batch dispatches each action through the normal handlers, answers per action, and each
/// action is logged (marked in_batch).
#[tokio::test]
async fn batch_dispatches_actions() {
    let api = Api::new();
    let p = api.sim.create_project("P");
    let t = api.sim.add_task(&p, TaskSeed::named("a"));
    api.sim.clear_requests();
    let (status, body) = api
        .send("POST", "/batch", json!({"data": {"actions": [
            {"relative_path": format!("/tasks/{t}"), "method": "get", "options": {"fields": ["name"]}},
            {"relative_path": "/tasks", "method": "post", "data": {"name": "b", "projects": [p]}},
            {"relative_path": "/tasks/1999999999999999", "method": "get"},
            {"relative_path": format!("/projects/{p}/tasks"), "method": "get", "options": {"limit": 1}},
        ]}}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let results = body["data"].as_array().expect("data");
    assert_eq!(results[0]["status_code"], 200);
    assert_eq!(results[0]["body"]["data"], json!({"gid": t, "name": "a"}));
    assert_eq!(results[1]["status_code"], 201);
    assert!(results[1]["headers"]["location"].is_string());
    assert_eq!(results[2]["status_code"], 404);
    assert!(results[3]["body"]["next_page"]["offset"].is_string());
    assert_eq!(api.sim.project_tasks(&p).len(), 2);

    let log = api.sim.requests();
    assert_eq!(log.iter().filter(|r| r.in_batch).count(), 4);
    let envelope = log.iter().find(|r| r.path == "/batch").expect("envelope");
    assert!(envelope.is_write());
    assert_eq!(log.iter().filter(|r| r.is_write()).count(), 2);

    let reads = json!({"data": {"actions": [{"relative_path": "/users/me", "method": "get"}]}});
    api.sim.clear_requests();
    api.send("POST", "/batch", reads).await;
    assert!(
        !api.sim.requests().iter().any(|r| r.is_write()),
        "an all-GET batch is no write"
    );

    let many: Vec<Value> = (0..11)
        .map(|_| json!({"relative_path": "/users/me", "method": "get"}))
        .collect();
    let (status, _) = api
        .send("POST", "/batch", json!({"data": {"actions": many}}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// Injected faults: 429 + Retry-After, 500 with a phrase (nothing applied), and dropped
/// connections before apply (nothing happened) and after apply (the write happened).
#[tokio::test]
async fn faults_are_injected() {
    let api = Api::new();
    let p = api.sim.create_project("P");
    let create = json!({"data": {"name": "x", "projects": [p]}});

    api.sim.inject(Fault::RateLimit {
        retry_after_secs: 7,
        count: 1,
    });
    let r = api
        .http
        .get(api.url("/users/me"))
        .bearer_auth(api.sim.token())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("7")
    );
    let body: Value = r.json().await.expect("json");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("rate limit"))
    );

    api.sim.inject(Fault::Status {
        status: 500,
        count: 1,
        method: Some("POST".into()),
        path_contains: Some("/tasks".into()),
    });
    assert_eq!(
        api.get("/users/me").await.0,
        StatusCode::OK,
        "non-matching request passes"
    );
    let (status, body) = api.send("POST", "/tasks", create.clone()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body["errors"][0]["phrase"].is_string());
    assert!(
        api.sim.project_tasks(&p).is_empty(),
        "a 500 applies nothing"
    );

    api.sim.inject(Fault::DropBeforeApply {
        count: 1,
        method: Some("POST".into()),
        path_contains: None,
    });
    let outcome = async {
        let r = api
            .http
            .post(api.url("/tasks"))
            .bearer_auth(api.sim.token())
            .json(&create)
            .send()
            .await?;
        r.bytes().await
    }
    .await;
    assert!(outcome.is_err(), "the client sees a transport error");
    assert!(
        api.sim.project_tasks(&p).is_empty(),
        "dropped before apply: nothing created"
    );

    api.sim.inject(Fault::DropAfterApply {
        count: 1,
        method: Some("POST".into()),
        path_contains: None,
    });
    let outcome = async {
        let r = api
            .http
            .post(api.url("/tasks"))
            .bearer_auth(api.sim.token())
            .json(&create)
            .send()
            .await?;
        r.bytes().await
    }
    .await;
    assert!(outcome.is_err(), "the client sees a transport error");
    assert_eq!(
        api.sim.project_tasks(&p).len(),
        1,
        "dropped after apply: the task exists"
    );
    assert!(
        api.sim
            .requests()
            .iter()
            .any(|r| r.dropped && r.status == 201)
    );

    let (status, _) = api.send("POST", "/tasks", create).await;
    assert_eq!(status, StatusCode::CREATED, "faults are used up");
}

/// The standard limiter answers 429 with Retry-After past the quota, counts rejected
/// requests, and refuses a whole batch whose actions would exceed it.
#[tokio::test]
async fn rate_limit_per_minute() {
    let api = Api::with(SimOptions {
        rate_limit_per_minute: Some(3),
        ..SimOptions::default()
    });
    for _ in 0..3 {
        assert_eq!(api.get("/users/me").await.0, StatusCode::OK);
    }
    let r = api
        .http
        .get(api.url("/users/me"))
        .bearer_auth(api.sim.token())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("retry-after");
    assert!((1..=60).contains(&retry));
    assert_eq!(api.sim.rate_limited_count(), 1);

    let api2 = Api::with(SimOptions {
        rate_limit_per_minute: Some(2),
        ..SimOptions::default()
    });
    let actions: Vec<Value> = (0..3)
        .map(|_| json!({"relative_path": "/users/me", "method": "get"}))
        .collect();
    let (status, _) = api2
        .send("POST", "/batch", json!({"data": {"actions": actions}}))
        .await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "3 actions > quota of 2"
    );
}

/// Unknown routes and methods answer 404 with Asana's body and are recorded as unexpected.
#[tokio::test]
async fn unknown_routes_are_recorded() {
    let api = Api::new();
    let (status, body) = api.get("/tasks/1/dependencies").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body["errors"][0]["message"],
        "No matching route for request"
    );
    api.send("PATCH", "/tasks/1", json!({})).await;
    let unexpected = api.sim.take_unexpected_requests();
    assert_eq!(unexpected.len(), 2);
    assert_eq!(unexpected[0].path, "/tasks/1/dependencies");
    assert_eq!(unexpected[1].method, "PATCH");
}

/// A simulator dropped after a request it does not serve fails the test, naming it: every
/// test against the simulator gets that check without asking for it.
#[tokio::test]
#[should_panic(expected = "asana-sim saw 1 request(s) it does not serve")]
async fn dropping_after_an_unknown_request_fails_the_test() {
    let api = Api::new();
    let (status, _) = api.get("/tasks/1/dependencies").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    drop(api);
}

/// Latency is an async sleep per request.
#[tokio::test]
async fn latency_applies() {
    let api = Api::new();
    api.sim.set_latency(Duration::from_millis(150));
    let started = std::time::Instant::now();
    api.get("/users/me").await;
    assert!(started.elapsed() >= Duration::from_millis(150));
}

/// The simulator starts and stops from a plain #[test] (no ambient runtime) and the HTTP
/// control API mirrors the in-process one.
#[test]
fn works_from_plain_test_and_control_http() {
    let sim = Simulator::start();
    let p = sim.create_project("P");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let root = sim.root_url();
    let gid = rt.block_on(async {
        let http = Client::new();
        let r: Value = http
            .post(format!("{root}/_sim/projects/{p}/tasks"))
            .json(&json!({"name": "via http", "tags": ["x"], "section": "S"}))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        let gid = r["gid"].as_str().expect("gid").to_owned();
        http.patch(format!("{root}/_sim/tasks/{gid}"))
            .json(&json!({"due_on": "2027-01-01", "assignee": "bob@example.com"}))
            .send()
            .await
            .expect("send");
        http.post(format!("{root}/_sim/faults"))
            .json(&json!({"kind": "status", "status": 503, "count": 1}))
            .send()
            .await
            .expect("send");
        let r = http
            .get(format!("{}/users/me", sim.base_url()))
            .bearer_auth(sim.token())
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        gid
    });
    let t = sim.task(&gid).expect("task");
    assert_eq!(t.section.as_deref(), Some("S"));
    assert_eq!(t.due_on.as_deref(), Some("2027-01-01"));
    assert_eq!(t.assignee.as_deref(), Some("bob@example.com"));
    drop(sim);
}

/// The binary prints one JSON line and serves the seeded demo project.
#[tokio::test]
async fn binary_serves_demo() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_asana-sim"))
        .args(["--demo", "--tasks", "3"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn asana-sim");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    tokio::io::BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .expect("line");
    let info: Value = serde_json::from_str(&line).expect("json line");
    let url = format!(
        "{}/projects/{}/tasks?opt_fields=name,completed",
        info["base_url"].as_str().expect("url"),
        info["project"].as_str().expect("p")
    );
    let body: Value = Client::new()
        .get(url)
        .bearer_auth(info["token"].as_str().expect("token"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let tasks = body["data"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 8);
    assert!(tasks.iter().any(|t| t["completed"] == true));
    child.kill().await.expect("kill");
}

/// More than 15 writes in flight at once hit the concurrent limiter (429 + Retry-After).
#[tokio::test]
async fn concurrent_writes_are_capped() {
    let api = Api::new();
    let p = api.sim.create_project("P");
    let t = api.sim.add_task(&p, TaskSeed::named("a"));
    api.sim.set_latency(Duration::from_millis(300));
    let sends = (0..20).map(|i| {
        let req = api
            .http
            .put(api.url(&format!("/tasks/{t}")))
            .bearer_auth(api.sim.token())
            .json(&json!({"data": {"notes": format!("{i}")}}));
        async move { req.send().await.map(|r| r.status()) }
    });
    let statuses = futures::future::join_all(sends).await;
    let limited = statuses
        .iter()
        .filter(|s| matches!(s, Ok(StatusCode::TOO_MANY_REQUESTS)))
        .count();
    assert!(limited >= 5, "{statuses:?}");
    assert_eq!(api.sim.rate_limited_count(), limited);
}

/// A section move through the API emits `removed`/`added` events whose parent is the
/// section, and timestamps carry milliseconds in UTC.
#[tokio::test]
async fn section_moves_emit_events() {
    let api = Api::new();
    let p = api.sim.create_project("P");
    let t = api.sim.add_task(
        &p,
        TaskSeed {
            section: Some("A".into()),
            ..TaskSeed::named("a")
        },
    );
    let b = api.sim.add_section(&p, "B");
    let (_, body) = api.get(&format!("/events?resource={p}")).await;
    let sync = body["sync"].as_str().expect("sync").to_owned();
    api.send(
        "POST",
        &format!("/sections/{b}/addTask"),
        json!({"data": {"task": t}}),
    )
    .await;
    let (_, body) = api.get(&format!("/events?resource={p}&sync={sync}")).await;
    let events = body["data"].as_array().expect("events");
    assert!(events.iter().any(|e| e["action"] == "added"
        && e["parent"]["gid"] == b.as_str()
        && e["user"]["gid"] == api.sim.me_gid().as_str()));
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "removed" && e["parent"]["resource_type"] == "section")
    );
    let modified = api.sim.task(&t).expect("task").modified_at;
    assert_eq!(
        modified.len(),
        "2026-01-01T00:00:00.000Z".len(),
        "{modified}"
    );
    assert!(modified.ends_with('Z'));
}

/// `GET /projects` lists a workspace's projects in pages (compact by default, `archived`
/// on request, an `archived` filter), and wants a workspace.
#[tokio::test]
async fn projects_are_listed_by_workspace() {
    let api = Api::new();
    let gids: Vec<String> = (0..3)
        .map(|i| api.sim.create_project(&format!("P{i}")))
        .collect();
    let ws = api.sim.workspace_gid();
    let (status, first) = api.get(&format!("/projects?workspace={ws}&limit=2")).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(
        keys(&first["data"][0]),
        ["gid", "name", "resource_type"],
        "{first}"
    );
    let offset = first["next_page"]["offset"].as_str().expect("offset");
    let (_, second) = api
        .get(&format!(
            "/projects?workspace={ws}&limit=2&offset={offset}&opt_fields=name,archived"
        ))
        .await;
    assert!(second["next_page"].is_null(), "{second}");
    let listed: Vec<&str> = first["data"]
        .as_array()
        .into_iter()
        .chain(second["data"].as_array())
        .flatten()
        .map(|p| p["gid"].as_str().expect("gid"))
        .collect();
    assert_eq!(listed, gids);
    assert_eq!(second["data"][0]["archived"], false);
    let (_, archived) = api
        .get(&format!("/projects?workspace={ws}&archived=true"))
        .await;
    assert_eq!(archived["data"], json!([]));
    let (status, body) = api.get("/projects").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = api.get("/projects?workspace=999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
