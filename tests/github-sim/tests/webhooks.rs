//! Repository webhooks of the simulator: the `/hooks` routes, and signed deliveries to a
//! local receiver (a tiny axum app recording headers and bodies).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use bytes::Bytes;
use github_sim::{DeliveryOutcome, GithubSim, IssueEdit, IssueSeed};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

const SECRET: &str = "It's a Secret to Everybody";
const WAIT: Duration = Duration::from_secs(5);

/// One POST the receiver got.
#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    fn event(&self) -> &str {
        self.header("x-github-event")
    }

    /// Checks `X-Hub-Signature-256` against the body, as a receiver must.
    fn assert_signed(&self, secret: &str) {
        let signature = self.header("x-hub-signature-256");
        let hex_part = signature.strip_prefix("sha256=").expect("sha256= prefix");
        assert_eq!(hex_part, hex_part.to_lowercase(), "lowercase hex");
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(&self.body);
        mac.verify_slice(&hex::decode(hex_part).expect("hex"))
            .expect("the signature matches the body");
    }
}

type Inbox = Arc<Mutex<Vec<Received>>>;

/// Starts a receiver on 127.0.0.1; its URL and what it got.
async fn receiver() -> (String, Inbox) {
    async fn record(State(inbox): State<Inbox>, headers: HeaderMap, body: Bytes) -> StatusCode {
        inbox
            .lock()
            .expect("inbox")
            .push(Received { headers, body });
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

fn got(inbox: &Inbox) -> Vec<Received> {
    inbox.lock().expect("inbox").clone()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

async fn call(
    sim: &GithubSim,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, HeaderMap, Value) {
    let mut request = client()
        .request(method, format!("{}{path}", sim.base_url()))
        .bearer_auth(sim.token())
        .header("user-agent", "github-sim-tests")
        .header("x-github-api-version", "2022-11-28");
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

async fn create_hook(sim: &GithubSim, url: &str, events: &[&str]) -> u64 {
    let (status, _, hook) = call(
        sim,
        reqwest::Method::POST,
        &format!("/repos/{}/hooks", sim.repo()),
        Some(json!({
            "name": "web",
            "events": events,
            "config": {"url": url, "content_type": "json", "insecure_ssl": "0", "secret": SECRET},
        })),
    )
    .await;
    assert_eq!(status, 201, "{hook}");
    hook["id"].as_u64().expect("a numeric id")
}

/// A create answers `201` with the `hook` shape, the secret masked and a `Location`; the
/// hook can be read back and listed; ids increase.
#[tokio::test]
async fn create_answers_the_hook_with_its_secret_masked() {
    let sim = GithubSim::start();
    let path = format!("/repos/{}/hooks", sim.repo());
    let (status, headers, hook) = call(
        &sim,
        reqwest::Method::POST,
        &path,
        Some(json!({
            "name": "web",
            "active": true,
            "events": ["issues", "issue_comment"],
            "config": {"url": "http://127.0.0.1:9/hook", "content_type": "json", "secret": SECRET},
        })),
    )
    .await;
    assert_eq!(status, 201, "{hook}");
    let id = hook["id"].as_u64().expect("numeric id");
    let url = format!("https://api.github.com/repos/acme/app/hooks/{id}");
    assert_eq!(
        headers.get("location").and_then(|v| v.to_str().ok()),
        Some(url.as_str())
    );
    assert_eq!(hook["type"], "Repository");
    assert_eq!(hook["name"], "web");
    assert_eq!(hook["active"], true);
    assert_eq!(hook["events"], json!(["issues", "issue_comment"]));
    assert_eq!(
        hook["config"],
        json!({
            "content_type": "json",
            "insecure_ssl": "0",
            "url": "http://127.0.0.1:9/hook",
            "secret": "********",
        })
    );
    assert_eq!(
        hook["last_response"],
        json!({"code": null, "status": "unused", "message": null})
    );
    assert_eq!(hook["url"], url.as_str());
    assert_eq!(hook["test_url"], format!("{url}/test"));
    assert_eq!(hook["ping_url"], format!("{url}/pings"));
    assert_eq!(hook["deliveries_url"], format!("{url}/deliveries"));
    for key in ["created_at", "updated_at"] {
        let at = hook[key].as_str().expect("a timestamp");
        at.parse::<jiff::Timestamp>().expect("RFC 3339");
    }
    assert!(
        !hook.to_string().contains(SECRET),
        "the secret is never shown"
    );

    // Defaults: events ["push"], form, no secret shown when there is none.
    let (status, _, second) = call(
        &sim,
        reqwest::Method::POST,
        &path,
        Some(json!({"config": {"url": "https://example.com/other", "insecure_ssl": 0}})),
    )
    .await;
    assert_eq!(status, 201, "{second}");
    assert!(second["id"].as_u64().expect("id") > id);
    assert_eq!(second["events"], json!(["push"]));
    assert_eq!(second["active"], true);
    assert_eq!(second["name"], "web");
    assert_eq!(second["config"]["content_type"], "form");
    assert_eq!(second["config"]["insecure_ssl"], "0");
    assert!(second["config"].get("secret").is_none());

    let (status, _, one) = call(&sim, reqwest::Method::GET, &format!("{path}/{id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(one["config"]["secret"], "********");
    let (status, _, list) = call(&sim, reqwest::Method::GET, &path, None).await;
    assert_eq!(status, 200);
    let ids: Vec<u64> = list
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|h| h["id"].as_u64())
        .collect();
    assert_eq!(ids, vec![id, second["id"].as_u64().expect("id")]);
    let (status, headers, page) = call(
        &sim,
        reqwest::Method::GET,
        &format!("{path}?per_page=1"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(page.as_array().map(Vec::len), Some(1));
    // The next page, by the `/repositories/{id}/hooks` path GitHub's `Link` header uses.
    let link = headers["link"].to_str().expect("ascii");
    let next = link
        .split(',')
        .find(|l| l.contains("rel=\"next\""))
        .and_then(|l| l.split_once('<')?.1.split_once('>'))
        .map(|(url, _)| {
            url.strip_prefix(sim.base_url().as_str())
                .unwrap_or(url)
                .to_owned()
        })
        .expect("a next link");
    assert!(next.starts_with("/repositories/"), "{next}");
    let (status, _, page) = call(&sim, reqwest::Method::GET, &next, None).await;
    assert_eq!(status, 200);
    assert_eq!(page[0]["id"], second["id"]);
    let (status, _, _) = call(&sim, reqwest::Method::GET, "/repositories/1/hooks", None).await;
    assert_eq!(status, 404, "another repository's id");
    let (status, _, _) = call(&sim, reqwest::Method::GET, &format!("{path}/999"), None).await;
    assert_eq!(status, 404);

    let hooks = sim.hooks();
    assert_eq!(hooks.len(), 2);
    assert_eq!(hooks[0].id, id);
    assert_eq!(hooks[0].url, "http://127.0.0.1:9/hook");
    assert!(hooks[0].has_secret && hooks[0].active);
    assert!(!hooks[1].has_secret);
    assert_eq!(
        sim.writes(),
        vec![format!("POST {path}"), format!("POST {path}")]
    );
}

/// A second hook on the same URL, a missing or non-http URL: `422` in GitHub's shape.
#[tokio::test]
async fn invalid_creates_are_422() {
    let sim = GithubSim::start();
    let path = format!("/repos/{}/hooks", sim.repo());
    let body = json!({"config": {"url": "https://example.com/hook", "content_type": "json"}});
    let (status, _, _) = call(&sim, reqwest::Method::POST, &path, Some(body.clone())).await;
    assert_eq!(status, 201);
    let (status, _, error) = call(&sim, reqwest::Method::POST, &path, Some(body)).await;
    assert_eq!(status, 422);
    assert_eq!(error["message"], "Validation Failed");
    assert!(error["documentation_url"].is_string());
    assert_eq!(error["errors"][0]["resource"], "Hook");
    assert_eq!(error["errors"][0]["code"], "custom");
    assert_eq!(
        error["errors"][0]["message"],
        "Hook already exists on this repository"
    );
    for bad in [
        json!({"events": ["issues"]}),
        json!({"config": {}}),
        json!({"config": {"url": "ftp://example.com/hook"}}),
        json!({"config": {"url": "not a url"}}),
        json!({"config": {"url": "https://example.com/x", "content_type": "xml"}}),
    ] {
        let (status, _, error) = call(&sim, reqwest::Method::POST, &path, Some(bad.clone())).await;
        assert_eq!(status, 422, "{bad}");
        assert_eq!(error["message"], "Validation Failed", "{bad}");
        assert!(error["errors"][0]["code"].is_string(), "{bad}");
    }
    assert_eq!(sim.hooks().len(), 1);
}

/// A `ping` right after the create, then `issues` deliveries for control-API and API
/// changes and `issue_comment` for a comment, all signed, with unique GUIDs and the
/// hook's id; pull requests send no `issues` delivery.
#[tokio::test]
async fn ping_then_signed_issue_deliveries() {
    let sim = GithubSim::start();
    let number = sim.add_issue(IssueSeed {
        title: "Before the hook".into(),
        ..IssueSeed::default()
    });
    let (url, inbox) = receiver().await;
    let id = create_hook(&sim, &url, &["issues", "issue_comment"]).await;

    assert!(sim.wait_for_deliveries(1, WAIT).await, "the ping arrives");
    let ping = &got(&inbox)[0];
    assert_eq!(ping.event(), "ping");
    ping.assert_signed(SECRET);
    assert_eq!(ping.header("x-github-hook-id"), id.to_string());
    assert_eq!(
        ping.header("x-github-hook-installation-target-type"),
        "repository"
    );
    assert_eq!(ping.header("content-type"), "application/json");
    assert_eq!(ping.header("user-agent"), "GitHub-Hookshot/github-sim");
    let body = ping.json();
    assert!(body["zen"].is_string());
    assert_eq!(body["hook_id"], id);
    assert_eq!(body["hook"]["id"], id);
    assert_eq!(body["hook"]["config"]["secret"], "********");
    assert_eq!(body["repository"]["full_name"], "acme/app");
    assert!(body["sender"]["login"].is_string());

    // A person edits the issue in the UI.
    sim.edit_issue(
        number,
        IssueEdit {
            title: Some("Renamed".into()),
            ..IssueEdit::default()
        },
    );
    assert!(sim.wait_for_deliveries(2, WAIT).await);
    let edited = &got(&inbox)[1];
    assert_eq!(edited.event(), "issues");
    edited.assert_signed(SECRET);
    let body = edited.json();
    assert_eq!(body["action"], "edited");
    assert_eq!(body["changes"]["title"]["from"], "Before the hook");
    assert_eq!(body["issue"]["number"], number);
    assert_eq!(body["issue"]["title"], "Renamed");
    assert_eq!(body["sender"]["login"], "octocat");
    assert_eq!(body["repository"]["name"], "app");

    // The bridge closes it through the API.
    let (status, _, issue) = call(
        &sim,
        reqwest::Method::PATCH,
        &format!("/repos/{}/issues/{number}", sim.repo()),
        Some(json!({"state": "closed"})),
    )
    .await;
    assert_eq!(status, 200);
    assert!(sim.wait_for_deliveries(3, WAIT).await);
    let closed = &got(&inbox)[2];
    assert_eq!(closed.event(), "issues");
    closed.assert_signed(SECRET);
    let body = closed.json();
    assert_eq!(body["action"], "closed");
    assert_eq!(body["issue"], issue, "the issue as the API answers it");
    assert_eq!(body["sender"]["login"], "asana-bridge-bot");

    // Labels, assignees and a comment; a pull request sends nothing.
    sim.add_pull_request("A PR", "text");
    sim.edit_issue(
        number,
        IssueEdit {
            labels: Some(vec!["bug".into()]),
            assignees: Some(vec!["alice".into()]),
            comment: true,
            ..IssueEdit::default()
        },
    );
    let opened = sim.add_issue(IssueSeed {
        title: "New".into(),
        ..IssueSeed::default()
    });
    assert!(sim.wait_for_deliveries(7, WAIT).await);
    let all = got(&inbox);
    let kinds: Vec<(String, String)> = all[3..]
        .iter()
        .map(|r| {
            (
                r.event().to_owned(),
                r.json()["action"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let expect = [
        ("issues", "labeled"),
        ("issues", "assigned"),
        ("issue_comment", "created"),
        ("issues", "opened"),
    ];
    assert_eq!(
        kinds,
        expect.map(|(e, a)| (e.to_owned(), a.to_owned())).to_vec()
    );
    assert_eq!(all[3].json()["label"]["name"], "bug");
    assert_eq!(all[4].json()["assignee"]["login"], "alice");
    assert!(all[5].json()["comment"]["body"].is_string());
    assert_eq!(all[6].json()["issue"]["number"], opened);
    for r in &all {
        r.assert_signed(SECRET);
    }

    let mut guids: Vec<&str> = all.iter().map(|r| r.header("x-github-delivery")).collect();
    for guid in &guids {
        let parsed = uuid::Uuid::parse_str(guid).expect("a UUID");
        assert_eq!(parsed.get_version_num(), 4);
    }
    guids.sort_unstable();
    guids.dedup();
    assert_eq!(guids.len(), all.len(), "one GUID per delivery");

    let deliveries = sim.deliveries();
    assert_eq!(deliveries.len(), 7);
    assert!(
        deliveries
            .iter()
            .all(|d| d.hook_id == id && d.outcome == DeliveryOutcome::Answered(200))
    );
    assert_eq!(deliveries[0].event, "ping");
    assert_eq!(deliveries[0].action, None);
    assert_eq!(deliveries[1].action.as_deref(), Some("edited"));
    assert_eq!(deliveries[1].guid, all[1].header("x-github-delivery"));
    assert_eq!(deliveries[1].status(), Some(200));

    // The hook shows the latest answer.
    let (_, _, hook) = call(
        &sim,
        reqwest::Method::GET,
        &format!("/repos/{}/hooks/{id}", sim.repo()),
        None,
    )
    .await;
    assert_eq!(hook["last_response"]["code"], 200);
    assert_eq!(hook["last_response"]["status"], "active");
}

/// Only the events a hook asked for (or `*`), and none to an inactive hook but its ping.
#[tokio::test]
async fn hooks_get_only_their_events() {
    let sim = GithubSim::start();
    let (push_url, push_inbox) = receiver().await;
    let (all_url, all_inbox) = receiver().await;
    let (off_url, off_inbox) = receiver().await;
    create_hook(&sim, &push_url, &["push"]).await;
    create_hook(&sim, &all_url, &["*"]).await;
    let (status, _, _) = call(
        &sim,
        reqwest::Method::POST,
        &format!("/repos/{}/hooks", sim.repo()),
        Some(json!({"active": false, "events": ["issues"], "config": {"url": off_url}})),
    )
    .await;
    assert_eq!(status, 201);
    assert!(sim.wait_for_deliveries(3, WAIT).await, "three pings");
    sim.add_issue(IssueSeed {
        title: "T".into(),
        ..IssueSeed::default()
    });
    assert!(sim.wait_for_deliveries(4, WAIT).await);
    assert!(!sim.wait_for_deliveries(5, Duration::from_millis(300)).await);
    let events = |inbox: &Inbox| -> Vec<String> {
        got(inbox).iter().map(|r| r.event().to_owned()).collect()
    };
    assert_eq!(events(&push_inbox), ["ping"]);
    assert_eq!(events(&all_inbox), ["ping", "issues"]);
    assert_eq!(events(&off_inbox), ["ping"]);
    // Unsigned, form-encoded: GitHub's default content type.
    let ping = &got(&off_inbox)[0];
    assert!(ping.headers.get("x-hub-signature-256").is_none());
    assert_eq!(
        ping.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    assert!(ping.body.starts_with(b"payload=%7B"));
}

/// After a DELETE (`204`) nothing more goes to the hook; deleting an unknown id is `404`.
#[tokio::test]
async fn deleted_hooks_get_nothing() {
    let sim = GithubSim::start();
    let number = sim.add_issue(IssueSeed {
        title: "T".into(),
        ..IssueSeed::default()
    });
    let (url, inbox) = receiver().await;
    let id = create_hook(&sim, &url, &["issues"]).await;
    assert!(sim.wait_for_deliveries(1, WAIT).await);
    let path = format!("/repos/{}/hooks/{id}", sim.repo());
    let (status, _, body) = call(&sim, reqwest::Method::DELETE, &path, None).await;
    assert_eq!(status, 204);
    assert_eq!(body, Value::Null);
    let (status, _, error) = call(&sim, reqwest::Method::DELETE, &path, None).await;
    assert_eq!(status, 404);
    assert_eq!(error["message"], "Not Found");
    assert!(error["documentation_url"].is_string());
    let (status, _, _) = call(
        &sim,
        reqwest::Method::DELETE,
        &format!("/repos/{}/hooks/nope", sim.repo()),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _, _) = call(&sim, reqwest::Method::GET, &path, None).await;
    assert_eq!(status, 404);
    assert!(sim.hooks().is_empty());

    sim.edit_issue(
        number,
        IssueEdit {
            closed: Some(true),
            ..IssueEdit::default()
        },
    );
    assert!(!sim.wait_for_deliveries(2, Duration::from_millis(300)).await);
    assert_eq!(got(&inbox).len(), 1, "only the ping");
    assert!(
        sim.writes()
            .contains(&format!("DELETE /repos/acme/app/hooks/{id}"))
    );
}

/// Lost deliveries are recorded as dropped and never sent.
#[tokio::test]
async fn dropped_deliveries_are_not_sent() {
    let sim = GithubSim::start();
    sim.set_drop_deliveries(true);
    let (url, inbox) = receiver().await;
    let id = create_hook(&sim, &url, &["issues"]).await;
    sim.add_issue(IssueSeed {
        title: "T".into(),
        ..IssueSeed::default()
    });
    assert!(sim.wait_for_deliveries(2, WAIT).await);
    let deliveries = sim.deliveries();
    assert_eq!(deliveries.len(), 2);
    assert!(
        deliveries
            .iter()
            .all(|d| d.hook_id == id && d.outcome == DeliveryOutcome::Dropped)
    );
    assert_eq!(deliveries[0].event, "ping");
    assert_eq!(deliveries[1].event, "issues");
    // Kept (the point): time for a dropped delivery to arrive after all, were it kept.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(got(&inbox).is_empty());

    // Back on: later changes are delivered, lost ones are not.
    sim.set_drop_deliveries(false);
    sim.add_issue(IssueSeed {
        title: "U".into(),
        ..IssueSeed::default()
    });
    assert!(sim.wait_for_deliveries(3, WAIT).await);
    let received = got(&inbox);
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].json()["issue"]["title"], "U");
}

/// A target that does not answer: the failure is recorded, not retried.
#[tokio::test]
async fn failed_deliveries_are_recorded() {
    let sim = GithubSim::start();
    // A port nobody listens on (bound, then released).
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("address").port()
    };
    create_hook(&sim, &format!("http://127.0.0.1:{port}/hook"), &["issues"]).await;
    assert!(sim.wait_for_deliveries(1, WAIT).await);
    assert!(matches!(
        sim.deliveries()[0].outcome,
        DeliveryOutcome::Failed(_)
    ));
    assert!(!sim.wait_for_deliveries(2, Duration::from_millis(200)).await);
    let hook = &sim.hooks()[0];
    let (_, _, shown) = call(
        &sim,
        reqwest::Method::GET,
        &format!("/repos/{}/hooks/{}", sim.repo(), hook.id),
        None,
    )
    .await;
    assert_eq!(shown["last_response"]["status"], "failed");
}

/// `PATCH` edits the events, the URL and `active`.
#[tokio::test]
async fn update_changes_events_and_active() {
    let sim = GithubSim::start();
    let id = create_hook(&sim, "http://127.0.0.1:9/a", &["issues"]).await;
    let path = format!("/repos/{}/hooks/{id}", sim.repo());
    let (status, _, hook) = call(
        &sim,
        reqwest::Method::PATCH,
        &path,
        Some(
            json!({"active": false, "add_events": ["issue_comment"], "remove_events": ["issues"],
                    "config": {"url": "http://127.0.0.1:9/b"}}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{hook}");
    assert_eq!(hook["active"], false);
    assert_eq!(hook["events"], json!(["issue_comment"]));
    assert_eq!(hook["config"]["url"], "http://127.0.0.1:9/b");
    assert_eq!(hook["config"]["secret"], "********");
    assert_eq!(hook["config"]["content_type"], "json");
    let (status, _, _) = call(
        &sim,
        reqwest::Method::PATCH,
        &format!("/repos/{}/hooks/1", sim.repo()),
        Some(json!({"active": true})),
    )
    .await;
    assert_eq!(status, 404);
}

/// The routes pass the gate: no token, no answer.
#[tokio::test]
async fn hooks_need_a_token() {
    let sim = GithubSim::start();
    let response = client()
        .get(format!("{}/repos/{}/hooks", sim.base_url(), sim.repo()))
        .header("user-agent", "t")
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status().as_u16(), 401);
}

/// A simulator dropped after a request it does not serve fails the test, naming it: every
/// test against the simulator gets that check without asking for it.
#[tokio::test]
#[should_panic(expected = "github-sim saw 1 request(s) it does not serve")]
async fn dropping_after_an_unknown_request_fails_the_test() {
    let sim = GithubSim::start();
    let (status, _, _) = call(&sim, reqwest::Method::GET, "/repos/acme/app/projects", None).await;
    assert_eq!(status, 404);
    drop(sim);
}
