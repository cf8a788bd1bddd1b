//! Issue comments of the simulator, through its HTTP API as a client sees them: an issue's
//! and the repository's listings (paged with `Link`, `since`, `sort`/`direction`), post,
//! edit and delete with GitHub's rules on who may change a comment, conditional listings
//! (`304`), the issue's `comments` count and `updated_at`, and `issue_comment` webhook
//! deliveries.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use bytes::Bytes;
use github_sim::{GithubSim, IssueSeed, Role};
use reqwest::Method;
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

/// One API call; `path` may be a full URL (a `Link` target).
async fn call_with(
    sim: &GithubSim,
    method: Method,
    path: &str,
    body: Option<Value>,
    if_none_match: Option<&str>,
) -> (u16, HeaderMap, Value) {
    let url = if path.starts_with("http") {
        path.to_owned()
    } else {
        format!("{}{path}", sim.base_url())
    };
    let mut request = client()
        .request(method, url)
        .bearer_auth(sim.token())
        .header("user-agent", "github-sim-tests")
        .header("x-github-api-version", "2022-11-28");
    if let Some(tag) = if_none_match {
        request = request.header("if-none-match", tag);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("a body");
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).expect("JSON")
    };
    (status, headers, value)
}

async fn call(
    sim: &GithubSim,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, HeaderMap, Value) {
    call_with(sim, method, path, body, None).await
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(headers: &HeaderMap) -> Option<String> {
    header(headers, "link")?.split(',').find_map(|part| {
        let (url, rel) = part.split_once(';')?;
        (rel.trim() == "rel=\"next\"").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

/// Every page from `path`, following `Link`; the comments' ids and how many pages.
async fn all_pages(sim: &GithubSim, path: &str) -> (Vec<u64>, usize) {
    let mut ids = Vec::new();
    let mut pages = 0;
    let mut next = Some(path.to_owned());
    while let Some(url) = next.take() {
        let (status, headers, page) = call(sim, Method::GET, &url, None).await;
        assert_eq!(status, 200, "{url}: {page}");
        pages += 1;
        ids.extend(
            page.as_array()
                .expect("a list")
                .iter()
                .map(|c| c["id"].as_u64().expect("id")),
        );
        next = next_link(&headers);
    }
    (ids, pages)
}

fn seed(title: &str) -> IssueSeed {
    IssueSeed {
        title: title.to_owned(),
        ..IssueSeed::default()
    }
}

/// Waits past the current whole second, so a later change gets a later timestamp.
async fn next_second() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

/// An issue's comments come oldest first, 20 a page with `Link` on GitHub's
/// `/repositories/{id}/...` form (every page reachable), only the issue's own, each
/// `issue-comment` with its `issue_url`; `since` keeps those updated at or after it.
#[tokio::test]
async fn an_issues_comments_are_paged_and_filtered_by_since() {
    let sim = GithubSim::start();
    let a = sim.add_issue(seed("A"));
    let b = sim.add_issue(seed("B"));
    let mut ids: Vec<u64> = (0..45)
        .map(|i| sim.add_comment(a, "alice", &format!("comment {i}")))
        .collect();
    sim.add_comment(b, "bob", "on another issue");
    let repo = sim.repo();

    let (status, headers, first) = call(
        &sim,
        Method::GET,
        &format!("/repos/{repo}/issues/{a}/comments?per_page=20"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let first = first.as_array().expect("a list").clone();
    assert_eq!(first.len(), 20);
    let c = &first[0];
    assert_eq!(c["id"].as_u64(), Some(ids[0]));
    assert_eq!(c["body"], "comment 0");
    assert_eq!(c["user"]["login"], "alice");
    assert_eq!(c["created_at"], c["updated_at"]);
    assert!(
        c["issue_url"]
            .as_str()
            .is_some_and(|u| u.ends_with(&format!("/repos/{repo}/issues/{a}"))),
        "{c}"
    );
    assert!(
        c["html_url"]
            .as_str()
            .is_some_and(|u| u.ends_with(&format!("/issues/{a}#issuecomment-{}", ids[0]))),
        "{c}"
    );
    let next = next_link(&headers).expect("a next page");
    assert!(
        next.contains(&format!("/repositories/1296269/issues/{a}/comments?"))
            && next.contains("per_page=20")
            && next.contains("page=2"),
        "{next}"
    );
    let (listed, pages) = all_pages(
        &sim,
        &format!("/repos/{repo}/issues/{a}/comments?per_page=20"),
    )
    .await;
    assert_eq!((listed.clone(), pages), (ids.clone(), 3));

    next_second().await;
    let since = jiff::Timestamp::now();
    let since = jiff::Timestamp::from_second(since.as_second()).expect("whole seconds");
    ids.push(sim.add_comment(a, "carol", "later"));
    let (listed, _) = all_pages(
        &sim,
        &format!("/repos/{repo}/issues/{a}/comments?since={since}&per_page=20"),
    )
    .await;
    assert_eq!(listed, vec![ids[45]], "only what changed since");

    let (status, _, error) = call(
        &sim,
        Method::GET,
        &format!("/repos/{repo}/issues/{a}/comments?since=yesterday"),
        None,
    )
    .await;
    assert_eq!(
        (status, error["message"].as_str()),
        (422, Some("Validation Failed"))
    );
    let (status, _, _) = call(
        &sim,
        Method::GET,
        &format!("/repos/{repo}/issues/99/comments"),
        None,
    )
    .await;
    assert_eq!(status, 404, "no such issue");
    sim.delete_issue(b);
    let (status, _, _) = call(
        &sim,
        Method::GET,
        &format!("/repos/{repo}/issues/{b}/comments"),
        None,
    )
    .await;
    assert_eq!(status, 410, "a deleted issue");
}

/// The repository's comments: every issue's, in ascending id order by default, paged;
/// `sort=updated&direction=asc` puts an edited one last, and `since` its update time
/// keeps only it; a bad `sort` is a `422`.
#[tokio::test]
async fn the_repositorys_comments_sort_and_since() {
    let sim = GithubSim::start();
    let a = sim.add_issue(seed("A"));
    let b = sim.add_issue(seed("B"));
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(sim.add_comment(if i % 2 == 0 { a } else { b }, "alice", &format!("c{i}")));
    }
    let repo = sim.repo();
    let (listed, pages) =
        all_pages(&sim, &format!("/repos/{repo}/issues/comments?per_page=2")).await;
    assert_eq!(
        (listed, pages),
        (ids.clone(), 3),
        "every issue's, by id, paged"
    );

    next_second().await;
    sim.edit_comment(ids[1], "alice", Role::Read, "c1, edited");
    let edited = sim.comment(ids[1]).expect("still there");
    assert_ne!(edited.updated_at, edited.created_at);
    let (_, _, page) = call(
        &sim,
        Method::GET,
        &format!("/repos/{repo}/issues/comments?sort=updated&direction=asc"),
        None,
    )
    .await;
    let order: Vec<u64> = page
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| c["id"].as_u64().expect("id"))
        .collect();
    assert_eq!(order, vec![ids[0], ids[2], ids[3], ids[4], ids[1]]);
    let (_, _, page) = call(
        &sim,
        Method::GET,
        &format!(
            "/repos/{repo}/issues/comments?sort=updated&direction=asc&since={}",
            edited.updated_at
        ),
        None,
    )
    .await;
    let page = page.as_array().expect("a list").clone();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0]["body"], "c1, edited");
    assert!(
        page[0]["issue_url"]
            .as_str()
            .is_some_and(|u| u.ends_with(&format!("/issues/{b}"))),
    );
    let (_, _, page) = call(
        &sim,
        Method::GET,
        &format!("/repos/{repo}/issues/comments?sort=created"),
        None,
    )
    .await;
    assert_eq!(
        page[0]["id"].as_u64(),
        ids.last().copied(),
        "with `sort`, `direction` defaults to desc"
    );
    let (status, _, _) = call(
        &sim,
        Method::GET,
        &format!("/repos/{repo}/issues/comments?sort=comments"),
        None,
    )
    .await;
    assert_eq!(status, 422);
}

/// The token's user posts (`201`, `Location`, the issue's `comments` count up), edits its
/// own (`200`), and deletes it (`204`, count down); a deleted comment is a `404` to read,
/// edit and delete; an empty body is a `422`, an unknown issue a `404`.
#[tokio::test]
async fn post_edit_and_delete_as_the_tokens_user() {
    let sim = GithubSim::start();
    let n = sim.add_issue(seed("A"));
    let repo = sim.repo();
    let before = sim.issue(n).expect("issue").updated_at;
    next_second().await;
    let (status, headers, posted) = call(
        &sim,
        Method::POST,
        &format!("/repos/{repo}/issues/{n}/comments"),
        Some(json!({"body": "Me too"})),
    )
    .await;
    assert_eq!(status, 201, "{posted}");
    let id = posted["id"].as_u64().expect("id");
    assert_eq!(
        header(&headers, "location"),
        Some(format!("https://api.github.com/repos/{repo}/issues/comments/{id}").as_str())
    );
    assert_eq!(posted["user"]["login"], sim.token_login());
    assert_eq!(posted["body"], "Me too");
    let (_, _, issue) = call(
        &sim,
        Method::GET,
        &format!("/repos/{repo}/issues/{n}"),
        None,
    )
    .await;
    assert_eq!(issue["comments"], 1);
    assert_ne!(
        issue["updated_at"].as_str(),
        Some(before.as_str()),
        "the issue moved"
    );

    next_second().await;
    let path = format!("/repos/{repo}/issues/comments/{id}");
    let (status, _, edited) = call(
        &sim,
        Method::PATCH,
        &path,
        Some(json!({"body": "Me three"})),
    )
    .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["body"], "Me three");
    assert_ne!(edited["updated_at"], edited["created_at"]);
    assert_eq!(sim.comment(id).map(|c| c.api_writes), Some(2));
    let (status, _, read) = call(&sim, Method::GET, &path, None).await;
    assert_eq!((status, &read["body"]), (200, &json!("Me three")));

    let (status, _, _) = call(&sim, Method::PATCH, &path, Some(json!({}))).await;
    assert_eq!(status, 422, "a body is required");
    let (status, _, body) = call(&sim, Method::DELETE, &path, None).await;
    assert_eq!((status, body), (204, Value::Null));
    assert!(sim.comments(n).is_empty());
    assert_eq!(sim.issue(n).map(|_| ()), Some(()));
    let (_, _, issue) = call(
        &sim,
        Method::GET,
        &format!("/repos/{repo}/issues/{n}"),
        None,
    )
    .await;
    assert_eq!(issue["comments"], 0);
    for method in [Method::GET, Method::PATCH, Method::DELETE] {
        let body = (method == Method::PATCH).then(|| json!({"body": "x"}));
        let (status, _, error) = call(&sim, method.clone(), &path, body).await;
        assert_eq!(
            (status, error["message"].as_str()),
            (404, Some("Not Found")),
            "{method} of a deleted comment"
        );
    }
    let (status, _, _) = call(
        &sim,
        Method::POST,
        &format!("/repos/{repo}/issues/{n}/comments"),
        Some(json!({"body": ""})),
    )
    .await;
    assert_eq!(status, 422, "an empty body");
    let (status, _, _) = call(
        &sim,
        Method::POST,
        &format!("/repos/{repo}/issues/77/comments"),
        Some(json!({"body": "x"})),
    )
    .await;
    assert_eq!(status, 404, "no such issue");
}

/// Someone else's comment: with write access (the default) the token's user may edit it;
/// with `read` or `triage` GitHub answers `403 Must have admin rights to Repository.` to an
/// edit or a delete and nothing changes, while its own comments stay its to change.
#[tokio::test]
async fn someone_elses_comment_needs_write_access() {
    let sim = GithubSim::start();
    let n = sim.add_issue(seed("A"));
    let theirs = sim.add_comment(n, "alice", "Alice's words");
    let repo = sim.repo();
    let (_, _, mine) = call(
        &sim,
        Method::POST,
        &format!("/repos/{repo}/issues/{n}/comments"),
        Some(json!({"body": "mine"})),
    )
    .await;
    let mine = mine["id"].as_u64().expect("id");
    let path = |id: u64| format!("/repos/{repo}/issues/comments/{id}");

    for role in [Role::Read, Role::Triage] {
        sim.set_token_role(role);
        let (status, _, error) = call(
            &sim,
            Method::PATCH,
            &path(theirs),
            Some(json!({"body": "rewritten"})),
        )
        .await;
        assert_eq!(
            (status, error["message"].as_str()),
            (403, Some("Must have admin rights to Repository.")),
            "{role:?}"
        );
        let (status, _, _) = call(&sim, Method::DELETE, &path(theirs), None).await;
        assert_eq!(status, 403, "{role:?}");
        assert_eq!(
            sim.comment(theirs).map(|c| (c.body, c.api_writes)),
            Some(("Alice's words".to_owned(), 0))
        );
        let (status, _, _) = call(
            &sim,
            Method::PATCH,
            &path(mine),
            Some(json!({"body": format!("{role:?}")})),
        )
        .await;
        assert_eq!(status, 200, "its own comment, {role:?}");
    }
    sim.set_token_role(Role::Write);
    let (status, _, edited) = call(
        &sim,
        Method::PATCH,
        &path(theirs),
        Some(json!({"body": "moderated"})),
    )
    .await;
    assert_eq!((status, &edited["body"]), (200, &json!("moderated")));
    assert_eq!(edited["user"]["login"], "alice", "the author stays");
}

/// Both listings carry an `ETag`; the same `If-None-Match` gets a `304` that does not count
/// against the rate limit, until a comment is posted, edited or deleted.
#[tokio::test]
async fn an_unchanged_listing_answers_304() {
    let sim = GithubSim::start();
    let n = sim.add_issue(seed("A"));
    let id = sim.add_comment(n, "alice", "one");
    let repo = sim.repo();
    for path in [
        format!("/repos/{repo}/issues/comments?sort=updated&direction=asc&per_page=100"),
        format!("/repos/{repo}/issues/{n}/comments?per_page=100"),
    ] {
        let (status, headers, _) = call(&sim, Method::GET, &path, None).await;
        assert_eq!(status, 200);
        let tag = header(&headers, "etag").expect("an ETag").to_owned();
        sim.clear_requests();
        let (status, _, body) = call_with(&sim, Method::GET, &path, None, Some(&tag)).await;
        assert_eq!((status, body), (304, Value::Null), "{path}");
        assert!(!sim.requests()[0].counted, "a 304 is free");
        sim.edit_comment(id, "alice", Role::Read, &format!("edited for {path}"));
        let (status, headers, _) = call_with(&sim, Method::GET, &path, None, Some(&tag)).await;
        assert_eq!(status, 200, "changed: {path}");
        assert_ne!(header(&headers, "etag"), Some(tag.as_str()));
    }
}

type Inbox = Arc<Mutex<Vec<Value>>>;

/// A webhook receiver on 127.0.0.1 recording each delivery's `X-GitHub-Event` and body.
async fn receiver() -> (String, Inbox) {
    async fn record(State(inbox): State<Inbox>, headers: HeaderMap, body: Bytes) -> StatusCode {
        let mut v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        v["x-event"] = json!(header(&headers, "x-github-event"));
        inbox.lock().expect("inbox").push(v);
        StatusCode::OK
    }
    let inbox: Inbox = Arc::default();
    let app = Router::new()
        .route("/hook", post(record))
        .with_state(Arc::clone(&inbox));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook"), inbox)
}

/// A hook on `issue_comment` hears `created`, `edited` (with `changes.body.from`) and
/// `deleted`, each with the comment and its issue, from the API and from people alike.
#[tokio::test]
async fn comment_changes_are_delivered_as_issue_comment_events() {
    let sim = GithubSim::start();
    let n = sim.add_issue(seed("A"));
    let (url, inbox) = receiver().await;
    let repo = sim.repo();
    let (status, _, _) = call(
        &sim,
        Method::POST,
        &format!("/repos/{repo}/hooks"),
        Some(json!({"name": "web", "events": ["issue_comment"], "config": {"url": url, "content_type": "json"}})),
    )
    .await;
    assert_eq!(status, 201);
    let (_, _, posted) = call(
        &sim,
        Method::POST,
        &format!("/repos/{repo}/issues/{n}/comments"),
        Some(json!({"body": "first"})),
    )
    .await;
    let id = posted["id"].as_u64().expect("id");
    let path = format!("/repos/{repo}/issues/comments/{id}");
    call(&sim, Method::PATCH, &path, Some(json!({"body": "second"}))).await;
    call(&sim, Method::DELETE, &path, None).await;
    let theirs = sim.add_comment(n, "alice", "hello");
    sim.edit_comment(theirs, "alice", Role::Read, "hello again");
    assert!(sim.wait_for_deliveries(6, Duration::from_secs(5)).await);
    let got = inbox.lock().expect("inbox").clone();
    let seen: Vec<(String, String, String)> = got[1..]
        .iter()
        .map(|v| {
            (
                v["x-event"].as_str().unwrap_or("").to_owned(),
                v["action"].as_str().unwrap_or("").to_owned(),
                v["sender"]["login"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let bot = sim.token_login();
    let want = [
        ("issue_comment", "created", bot.as_str()),
        ("issue_comment", "edited", bot.as_str()),
        ("issue_comment", "deleted", bot.as_str()),
        ("issue_comment", "created", "alice"),
        ("issue_comment", "edited", "alice"),
    ];
    assert_eq!(
        seen,
        want.map(|(e, a, s)| (e.to_owned(), a.to_owned(), s.to_owned()))
            .to_vec()
    );
    assert_eq!(got[1]["comment"]["body"], "first");
    assert_eq!(got[1]["issue"]["number"].as_u64(), Some(n));
    assert_eq!(got[1]["issue"]["comments"], 1);
    assert_eq!(got[2]["comment"]["body"], "second");
    assert_eq!(got[2]["changes"]["body"]["from"], "first");
    assert_eq!(got[3]["comment"]["id"].as_u64(), Some(id));
    assert_eq!(got[3]["issue"]["comments"], 0, "as of the deletion");
    assert_eq!(got[5]["changes"]["body"]["from"], "hello");
}

/// A GitHub App's installation token is no user: `GET /user` answers `403 Resource not
/// accessible by integration`, and the comments it posts are the App's bot's.
#[tokio::test]
async fn an_installation_token_comments_as_its_app() {
    let sim = GithubSim::start();
    let n = sim.add_issue(seed("A"));
    let send = |method: Method, path: String, body: Option<Value>| {
        let mut request = client()
            .request(method, format!("{}{path}", sim.base_url()))
            .bearer_auth(sim.installation_token())
            .header("user-agent", "github-sim-tests");
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };
    let user = send(Method::GET, "/user".to_owned(), None)
        .await
        .expect("an answer");
    assert_eq!(user.status().as_u16(), 403);
    let error: Value = user.json().await.expect("JSON");
    assert_eq!(error["message"], "Resource not accessible by integration");
    let posted = send(
        Method::POST,
        format!("/repos/{}/issues/{n}/comments", sim.repo()),
        Some(json!({"body": "from the App"})),
    )
    .await
    .expect("an answer");
    assert_eq!(posted.status().as_u16(), 201);
    let posted: Value = posted.json().await.expect("JSON");
    assert_eq!(posted["user"]["login"], github_sim::APP_BOT);
    assert_eq!(sim.comments(n)[0].user, github_sim::APP_BOT);
}
