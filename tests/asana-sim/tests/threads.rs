//! Black-box tests of the simulator's subtasks and comment stories over HTTP: each test
//! states the Asana behaviour it proves (paginated listings, `parent`/`num_subtasks`, a
//! subtask kept out of its parent's project, comments in text or rich text, only the
//! author editing or deleting a comment, the events all of it produces).

use asana_sim::{CommentSeed, Simulator, TaskSeed};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

struct Api {
    sim: Simulator,
    http: Client,
}

impl Api {
    fn new() -> Api {
        Api {
            sim: Simulator::start(),
            http: Client::new(),
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.sim.base_url()))
            .bearer_auth(self.sim.token());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let r = request.send().await.expect("request");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call("GET", path, None).await
    }

    /// Every element of a listing, following `next_page` with `limit`.
    async fn get_all(&self, path: &str, limit: usize) -> (Vec<Value>, usize) {
        let sep = if path.contains('?') { '&' } else { '?' };
        let (mut status, mut body) = self.get(&format!("{path}{sep}limit={limit}")).await;
        let mut items = Vec::new();
        let mut pages = 0;
        loop {
            assert_eq!(status, StatusCode::OK, "{body}");
            pages += 1;
            items.extend(body["data"].as_array().cloned().unwrap_or_default());
            let Some(next) = body["next_page"]["path"].as_str().map(str::to_owned) else {
                return (items, pages);
            };
            (status, body) = self.get(&next).await;
        }
    }

    /// A fresh sync token for `resource`'s event stream.
    async fn sync_token(&self, resource: &str) -> String {
        let (_, body) = self.get(&format!("/events?resource={resource}")).await;
        body["sync"].as_str().expect("sync").to_owned()
    }

    async fn events(&self, resource: &str, sync: &str) -> Vec<Value> {
        let (status, body) = self
            .get(&format!("/events?resource={resource}&sync={sync}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["data"].as_array().cloned().unwrap_or_default()
    }
}

fn gids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .filter_map(|v| v["gid"].as_str().map(str::to_owned))
        .collect()
}

/// `POST /tasks/{gid}/subtasks` creates a task under the parent (201, `parent` set, in no
/// project); `GET /tasks/{gid}/subtasks` pages through the direct subtasks in order;
/// `num_subtasks` counts them; the project listing leaves them out.
#[tokio::test]
async fn subtasks_are_created_listed_and_counted() {
    let api = Api::new();
    let p = api.sim.create_project("P");
    let parent = api.sim.add_task(&p, TaskSeed::named("parent"));
    let mut created = Vec::new();
    for i in 0..3 {
        let (status, body) = api
            .call(
                "POST",
                &format!("/tasks/{parent}/subtasks?opt_fields=name,parent,projects,completed"),
                Some(json!({ "data": { "name": format!("step {i}"), "completed": i == 1 } })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["data"]["parent"]["gid"], parent.as_str());
        assert_eq!(body["data"]["projects"], json!([]));
        assert_eq!(body["data"]["completed"], i == 1);
        created.push(body["data"]["gid"].as_str().expect("gid").to_owned());
    }
    let grandchild = api.sim.add_subtask(&created[0], "deeper");

    let (items, pages) = api
        .get_all(
            &format!("/tasks/{parent}/subtasks?opt_fields=name,completed"),
            2,
        )
        .await;
    assert_eq!(pages, 2, "three subtasks at two a page are two pages");
    assert_eq!(gids(&items), created, "direct subtasks only, in order");
    assert_eq!(items[1]["name"], "step 1");
    assert_eq!(items[1]["completed"], true);

    let (_, body) = api
        .get(&format!("/tasks/{parent}?opt_fields=num_subtasks,parent"))
        .await;
    assert_eq!(body["data"]["num_subtasks"], 3);
    assert_eq!(body["data"]["parent"], Value::Null);
    let (_, body) = api
        .get(&format!("/tasks/{grandchild}?opt_fields=parent.name"))
        .await;
    assert_eq!(body["data"]["parent"]["name"], "step 0");

    let (listing, _) = api.get_all(&format!("/projects/{p}/tasks"), 100).await;
    assert_eq!(
        gids(&listing),
        vec![parent.clone()],
        "subtasks are not project tasks"
    );
}

/// A subtask is renamed, completed and deleted through the task routes; a deleted one is
/// neither listed nor counted and reads as 404.
#[tokio::test]
async fn subtask_update_and_delete() {
    let api = Api::new();
    let p = api.sim.create_project("P");
    let parent = api.sim.add_task(&p, TaskSeed::named("parent"));
    let a = api.sim.add_subtask(&parent, "a");
    let b = api.sim.add_subtask(&parent, "b");

    let (status, body) = api
        .call(
            "PUT",
            &format!("/tasks/{a}?opt_fields=name,completed,parent"),
            Some(json!({ "data": { "name": "a renamed", "completed": true } })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["name"], "a renamed");
    assert_eq!(body["data"]["completed"], true);
    assert_eq!(body["data"]["parent"]["gid"], parent.as_str());

    let (status, _) = api.call("DELETE", &format!("/tasks/{b}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (items, _) = api.get_all(&format!("/tasks/{parent}/subtasks"), 100).await;
    assert_eq!(gids(&items), vec![a.clone()]);
    let (_, body) = api
        .get(&format!("/tasks/{parent}?opt_fields=num_subtasks"))
        .await;
    assert_eq!(body["data"]["num_subtasks"], 1);
    let (status, _) = api.get(&format!("/tasks/{b}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.get("/tasks/1999999999999999/subtasks").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "subtasks of an unknown task");
}

/// Creating a subtask is an `added` event naming the parent, in the parent's project
/// stream (events bubble up); a change to the subtask reaches that stream too.
#[tokio::test]
async fn subtask_events_bubble_up() {
    let api = Api::new();
    let p = api.sim.create_project("P");
    let parent = api.sim.add_task(&p, TaskSeed::named("parent"));
    let sync = api.sync_token(&p).await;
    let (_, body) = api
        .call(
            "POST",
            &format!("/tasks/{parent}/subtasks"),
            Some(json!({ "data": { "name": "child" } })),
        )
        .await;
    let child = body["data"]["gid"].as_str().expect("gid").to_owned();
    let events = api.events(&p, &sync).await;
    assert!(
        events.iter().any(|e| e["action"] == "added"
            && e["resource"]["gid"] == child.as_str()
            && e["parent"]["gid"] == parent.as_str()),
        "{events:?}"
    );
    let sync = api.sync_token(&p).await;
    api.call(
        "PUT",
        &format!("/tasks/{child}"),
        Some(json!({ "data": { "completed": true } })),
    )
    .await;
    let events = api.events(&p, &sync).await;
    assert!(
        events.iter().any(|e| e["action"] == "changed"
            && e["resource"]["gid"] == child.as_str()
            && e["change"]["field"] == "completed"),
        "{events:?}"
    );
}

/// Comments are posted as `text` or `html_text` (201, `type: comment`,
/// `resource_subtype: comment_added`, author = the token's user); invalid rich text,
/// both fields at once, or neither, is a 400 that posts nothing. The listing pages through
/// system stories and comments mixed, oldest first.
#[tokio::test]
async fn comments_are_posted_and_listed() {
    let api = Api::new();
    let p = api.sim.create_project("P");
    let t = api.sim.add_task(&p, TaskSeed::named("t"));
    let fields = "opt_fields=type,resource_subtype,text,html_text,created_by.name,created_at,is_edited,is_editable";
    let (status, body) = api
        .call(
            "POST",
            &format!("/tasks/{t}/stories?{fields}"),
            Some(json!({ "data": { "text": "plain <one> & only" } })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let c = &body["data"];
    assert_eq!(c["type"], "comment");
    assert_eq!(c["resource_subtype"], "comment_added");
    assert_eq!(c["text"], "plain <one> & only");
    assert_eq!(c["html_text"], "<body>plain &lt;one&gt; &amp; only</body>");
    assert_eq!(c["created_by"]["name"], "Asana Bridge Bot");
    assert_eq!(c["is_edited"], false);
    assert_eq!(c["is_editable"], true);
    assert!(c["created_at"].is_string());

    let rich = "<body><strong>Bold</strong> and <a href=\"https://example.com\">a link</a>\n<ul><li>one</li></ul></body>";
    let (status, body) = api
        .call(
            "POST",
            &format!("/tasks/{t}/stories?{fields}"),
            Some(json!({ "data": { "html_text": rich } })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["html_text"], rich);
    assert_eq!(body["data"]["text"], "Bold and a link\n• one");

    for bad in [
        json!({ "html_text": "<body><b>not Asana's</b></body>" }),
        json!({ "html_text": "<body>unclosed <em></body>" }),
        json!({ "html_text": "<body><h1>no headings in comments</h1></body>" }),
        json!({ "text": "a", "html_text": "<body>b</body>" }),
        json!({}),
    ] {
        let (status, body) = api
            .call(
                "POST",
                &format!("/tasks/{t}/stories"),
                Some(json!({ "data": bad })),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body["errors"][0]["message"].is_string());
    }
    assert_eq!(
        api.sim.comments(&t).len(),
        2,
        "refused comments post nothing"
    );

    // A system story between comments, then more comments for a second page.
    api.sim.edit_task(
        &t,
        asana_sim::TaskEdit {
            name: Some("renamed".into()),
            ..Default::default()
        },
    );
    for i in 0..3 {
        api.sim.add_comment_as(
            "alice@example.com",
            &t,
            CommentSeed {
                text: Some(format!("alice {i}")),
                ..CommentSeed::default()
            },
        );
    }
    let (items, pages) = api
        .get_all(
            &format!("/tasks/{t}/stories?opt_fields=type,text,created_at"),
            2,
        )
        .await;
    assert!(pages >= 3, "paged at two a page: {pages}");
    let comments: Vec<&str> = items
        .iter()
        .filter(|s| s["type"] == "comment")
        .filter_map(|s| s["text"].as_str())
        .collect();
    assert_eq!(
        comments,
        vec![
            "plain <one> & only",
            "Bold and a link\n• one",
            "alice 0",
            "alice 1",
            "alice 2"
        ]
    );
    assert!(
        items.iter().any(|s| s["type"] == "system"),
        "system stories are listed too"
    );
    let times: Vec<&str> = items
        .iter()
        .filter_map(|s| s["created_at"].as_str())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_unstable();
    assert_eq!(times, sorted, "oldest first");

    // Without opt_fields: the compact story, html_text left out (opt-in).
    let (_, body) = api.get(&format!("/tasks/{t}/stories")).await;
    let first = &body["data"][0];
    assert!(first.get("html_text").is_none(), "{first}");
    assert_eq!(first["resource_type"], "story");
    assert!(first["created_by"]["gid"].is_string());
}

/// Only a comment's author may edit or delete it: the token's own comment is edited
/// (`is_edited` turns true) and deleted; alice's answers 403 with Asana's error body and
/// stays as it was.
#[tokio::test]
async fn only_the_author_edits_or_deletes_a_comment() {
    let api = Api::new();
    let p = api.sim.create_project("P");
    let t = api.sim.add_task(&p, TaskSeed::named("t"));
    let (_, body) = api
        .call(
            "POST",
            &format!("/tasks/{t}/stories"),
            Some(json!({ "data": { "text": "mine" } })),
        )
        .await;
    let mine = body["data"]["gid"].as_str().expect("gid").to_owned();
    let theirs = api.sim.add_comment_as(
        "alice@example.com",
        &t,
        CommentSeed {
            text: Some("alice's".into()),
            ..CommentSeed::default()
        },
    );

    let (status, body) = api
        .call(
            "PUT",
            &format!("/stories/{mine}?opt_fields=text,html_text,is_edited"),
            Some(json!({ "data": { "html_text": "<body><em>mine</em>, edited</body>" } })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["text"], "mine, edited");
    assert_eq!(body["data"]["is_edited"], true);

    let (status, body) = api
        .call(
            "PUT",
            &format!("/stories/{theirs}"),
            Some(json!({ "data": { "text": "hijacked" } })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["errors"][0]["message"].is_string());
    assert!(body["errors"][0]["help"].is_string());
    let (status, _) = api
        .call("DELETE", &format!("/stories/{theirs}"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, body) = api
        .get(&format!(
            "/stories/{theirs}?opt_fields=text,is_edited,is_editable"
        ))
        .await;
    assert_eq!(body["data"]["text"], "alice's");
    assert_eq!(body["data"]["is_edited"], false);
    assert_eq!(body["data"]["is_editable"], false);

    let (status, body) = api.call("DELETE", &format!("/stories/{mine}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({ "data": {} }));
    let (status, _) = api.get(&format!("/stories/{mine}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let left: Vec<String> = api.sim.comments(&t).into_iter().map(|c| c.gid).collect();
    assert_eq!(left, vec![theirs]);
}

/// A comment posted, edited and deleted shows in the task's project stream as story
/// events: `added` and `removed` with the task as parent, `changed` naming the story; a
/// new or deleted comment bumps the task's `modified_at`.
#[tokio::test]
async fn comment_events_and_modified_at() {
    let api = Api::new();
    let p = api.sim.create_project("P");
    let t = api.sim.add_task(&p, TaskSeed::named("t"));
    let before = api.sim.task(&t).expect("task").modified_at;
    let sync = api.sync_token(&p).await;
    let (_, body) = api
        .call(
            "POST",
            &format!("/tasks/{t}/stories"),
            Some(json!({ "data": { "text": "hello" } })),
        )
        .await;
    let story = body["data"]["gid"].as_str().expect("gid").to_owned();
    let after_post = api.sim.task(&t).expect("task").modified_at;
    assert!(after_post > before, "a new story bumps modified_at");
    api.call(
        "PUT",
        &format!("/stories/{story}"),
        Some(json!({ "data": { "text": "hello again" } })),
    )
    .await;
    api.call("DELETE", &format!("/stories/{story}"), None).await;
    assert!(api.sim.task(&t).expect("task").modified_at > after_post);

    let events = api.events(&p, &sync).await;
    let on_story: Vec<(&str, Option<&str>)> = events
        .iter()
        .filter(|e| e["resource"]["gid"] == story.as_str())
        .map(|e| {
            (
                e["action"].as_str().unwrap_or(""),
                e["parent"]["gid"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        on_story,
        vec![
            ("added", Some(t.as_str())),
            ("changed", None),
            ("removed", Some(t.as_str()))
        ]
    );
    let added = events
        .iter()
        .find(|e| e["resource"]["gid"] == story.as_str())
        .expect("added event");
    assert_eq!(added["resource"]["resource_type"], "story");
    assert_eq!(added["resource"]["resource_subtype"], "comment_added");
}
