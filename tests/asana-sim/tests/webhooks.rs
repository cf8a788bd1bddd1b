//! Black-box tests of the simulator's webhooks against a small receiver served by the test:
//! the `X-Hook-Secret` handshake during `POST /webhooks` (and its failures), duplicates,
//! signed deliveries of compact events, lost deliveries, heartbeats, forged deliveries,
//! listing, reading and deleting webhooks.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use asana_sim::{DeliveryKind, Simulator, TaskEdit, TaskSeed};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use bytes::Bytes;
use hmac::{KeyInit, Mac};
use reqwest::Client;
use serde_json::{Value, json};

/// What the receiver got.
#[derive(Clone, Debug)]
struct Received {
    secret: Option<String>,
    signature: Option<String>,
    body: Bytes,
}

/// A webhook target on 127.0.0.1: records every POST; echoes the handshake secret when
/// `echo` is set; answers `status` to everything else.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    _server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(echo: bool) -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let seen = Arc::clone(&got);
        let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let seen = Arc::clone(&seen);
            async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let secret = header("x-hook-secret");
                seen.lock().expect("receiver lock").push(Received {
                    secret: secret.clone(),
                    signature: header("x-hook-signature"),
                    body,
                });
                match secret {
                    Some(secret) if echo => {
                        (StatusCode::OK, [("X-Hook-Secret", secret)]).into_response()
                    }
                    Some(_) => StatusCode::OK.into_response(),
                    None => StatusCode::NO_CONTENT.into_response(),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().expect("receiver address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url: format!("http://{addr}/hook/roadmap"),
            got,
            _server: server,
        }
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().expect("receiver lock").clone()
    }

    /// Waits until a POST without `X-Hook-Secret` arrived; all of them.
    async fn deliveries(&self, at_least: usize) -> Vec<Received> {
        for _ in 0..100 {
            let got: Vec<Received> = self
                .got()
                .into_iter()
                .filter(|r| r.secret.is_none())
                .collect();
            if got.len() >= at_least {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no delivery arrived within 2 s");
    }
}

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

    async fn send(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.sim.base_url()))
            .bearer_auth(self.sim.token());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let r = request.send().await.expect("request");
        let status = StatusCode::from_u16(r.status().as_u16()).expect("status");
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn create(&self, resource: &str, target: &str) -> (StatusCode, Value) {
        self.send(
            "POST",
            "/webhooks",
            Some(json!({ "data": { "resource": resource, "target": target } })),
        )
        .await
    }
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The handshake reaches the target during the create, with a secret the target echoes;
/// the 201 carries the webhook (and, as in the spec, the secret).
#[tokio::test]
async fn create_performs_the_handshake() {
    let api = Api::new();
    let project = api.sim.create_project("Roadmap");
    let receiver = Receiver::start(true).await;
    let (status, body) = api.create(&project, &receiver.url).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let got = receiver.got();
    assert_eq!(got.len(), 1, "one handshake");
    let secret = got[0]
        .secret
        .clone()
        .expect("handshake carries X-Hook-Secret");
    assert_eq!(secret.len(), 64);
    assert!(got[0].body.is_empty(), "the handshake has an empty body");
    let data = &body["data"];
    assert_eq!(data["resource"]["gid"], project);
    assert_eq!(data["resource"]["name"], "Roadmap");
    assert_eq!(data["target"], receiver.url);
    assert_eq!(data["active"], true);
    assert_eq!(body["X-Hook-Secret"], secret);
    let gid = data["gid"].as_str().expect("gid").to_owned();
    let hooks = api.sim.webhooks();
    assert_eq!(hooks.len(), 1);
    assert_eq!(
        (&hooks[0].gid, &hooks[0].resource, &hooks[0].target),
        (&gid, &project, &receiver.url)
    );
    assert_eq!(api.sim.webhook_secret(&gid), Some(secret));
    let deliveries = api.sim.deliveries();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].kind, DeliveryKind::Handshake);
    assert_eq!(
        (deliveries[0].status, deliveries[0].webhook.as_str()),
        (200, gid.as_str())
    );
}

/// A target that does not echo the secret, or does not answer, fails the create with a
/// 400 and leaves no webhook; a second webhook on the same resource and target is a 403;
/// a missing resource or target, an unknown resource and a non-URL target are 400s.
#[tokio::test]
async fn failed_handshakes_and_bad_requests_create_nothing() {
    let api = Api::new();
    let project = api.sim.create_project("Roadmap");
    let mute = Receiver::start(false).await;
    let (status, body) = api.create(&project, &mute.url).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("handshake"))
    );
    assert_eq!(mute.got().len(), 1, "the handshake was tried");

    // A port that was just free: nothing answers there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let (status, _) = api.create(&project, &format!("http://{closed}/hook")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(api.sim.webhooks().is_empty());
    assert!(
        api.sim
            .deliveries()
            .iter()
            .all(|d| d.kind == DeliveryKind::Handshake && d.webhook.is_empty())
    );

    let ok = Receiver::start(true).await;
    assert_eq!(api.create(&project, &ok.url).await.0, StatusCode::CREATED);
    let (status, body) = api.create(&project, &ok.url).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Duplicated webhook"))
    );
    assert_eq!(api.sim.webhooks().len(), 1);

    for data in [
        json!({ "target": ok.url }),
        json!({ "resource": project }),
        json!({ "resource": "1299999999999999", "target": ok.url }),
        json!({ "resource": project, "target": "not a url" }),
    ] {
        let (status, _) = api
            .send("POST", "/webhooks", Some(json!({ "data": data })))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{data}");
    }
}

/// Events on the resource are delivered, batched, as compact events, signed with the
/// lowercase hex HMAC-SHA256 of the raw body keyed with the handshake secret.
#[tokio::test]
async fn events_are_delivered_signed_and_compact() {
    let api = Api::new();
    let project = api.sim.create_project("Roadmap");
    let other = api.sim.create_project("Other");
    let receiver = Receiver::start(true).await;
    let (_, body) = api.create(&project, &receiver.url).await;
    let secret = body["X-Hook-Secret"].as_str().expect("secret").to_owned();
    let elsewhere = api.sim.add_task(&other, TaskSeed::named("elsewhere"));
    let task = api.sim.add_task(&project, TaskSeed::named("first"));
    api.sim.edit_task(
        &task,
        TaskEdit {
            assignee: Some(Some("bob@example.com".to_owned())),
            ..TaskEdit::default()
        },
    );
    let got = receiver.deliveries(1).await;
    let delivery = &got[0];
    let signature = delivery.signature.clone().expect("signed");
    assert_eq!(signature, sign(&secret, &delivery.body));
    assert_eq!(signature, signature.to_lowercase());
    let body: Value = serde_json::from_slice(&delivery.body).expect("json body");
    let events: Vec<Value> = got
        .iter()
        .flat_map(|r| {
            serde_json::from_slice::<Value>(&r.body).expect("json")["events"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    assert!(body["events"].is_array());
    assert!(!events.is_empty());
    for event in &events {
        let resource = &event["resource"];
        assert!(resource["gid"].is_string() && resource["resource_type"].is_string());
        assert!(resource.get("name").is_none(), "compact: {event}");
        assert!(event["user"].get("name").is_none(), "compact: {event}");
        if let Some(value) = event.pointer("/change/new_value") {
            assert!(value.get("name").is_none(), "compact: {event}");
        }
    }
    assert!(
        events
            .iter()
            .any(|e| e["resource"]["gid"] == task.as_str() && e["action"] == "changed")
    );
    assert!(
        events
            .iter()
            .all(|e| e["resource"]["gid"] != elsewhere.as_str()),
        "only the resource's events"
    );
    // The simulator records a delivery once the receiver's answer is back, a moment after
    // the receiver saw its body: wait for the record (CI, loaded, saw it missing at once).
    let mut recorded = false;
    for _ in 0..100 {
        recorded = api
            .sim
            .deliveries()
            .iter()
            .any(|d| d.kind == DeliveryKind::Events && d.status == 204 && d.events > 0);
        if recorded {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        recorded,
        "the events delivery and its 204 are recorded within 2 s"
    );
    let (_, hook) = api
        .send(
            "GET",
            &format!("/webhooks/{}", api.sim.webhooks()[0].gid),
            None,
        )
        .await;
    assert!(hook["data"]["last_success_at"].is_string(), "{hook}");
}

/// With deliveries off, events are lost (not delivered later); heartbeats are signed empty
/// batches; a forged delivery goes out as given and its answer is reported.
#[tokio::test]
async fn lost_deliveries_heartbeats_and_forgeries() {
    let api = Api::new();
    let project = api.sim.create_project("Roadmap");
    let receiver = Receiver::start(true).await;
    let (_, body) = api.create(&project, &receiver.url).await;
    let secret = body["X-Hook-Secret"].as_str().expect("secret").to_owned();
    api.sim.set_webhook_delivery(false);
    api.sim.add_task(&project, TaskSeed::named("lost"));
    // Kept (real time must pass): the delivery loop, on the simulator's own thread, must
    // tick (every 100 ms) while deliveries are off; nothing public marks a tick.
    tokio::time::sleep(Duration::from_millis(400)).await;
    api.sim.set_webhook_delivery(true);
    // Kept (the point): time for the lost event to arrive late, were it kept.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        receiver.got().iter().all(|r| r.secret.is_some()),
        "only the handshake"
    );

    assert_eq!(api.sim.send_heartbeats().await, vec![204]);
    let got = receiver.deliveries(1).await;
    assert_eq!(&got[0].body[..], br#"{"events":[]}"#);
    assert_eq!(
        got[0].signature.as_deref(),
        Some(sign(&secret, &got[0].body).as_str())
    );

    let status = api
        .sim
        .send_forged_delivery(&receiver.url, r#"{"events":[]}"#, Some("00"))
        .await;
    assert_eq!(status, 204, "the receiver's answer is reported");
    let got = receiver.deliveries(2).await;
    assert_eq!(got[1].signature.as_deref(), Some("00"));
    let kinds: Vec<DeliveryKind> = api.sim.deliveries().iter().map(|d| d.kind).collect();
    assert_eq!(
        kinds,
        vec![
            DeliveryKind::Handshake,
            DeliveryKind::Heartbeat,
            DeliveryKind::Forged
        ]
    );
}

/// `GET /webhooks` needs a workspace, filters by resource, pages, and checks `opt_fields`;
/// `GET /webhooks/{gid}` reads one; `DELETE` removes it (then 404) and stops deliveries.
#[tokio::test]
async fn list_read_delete() {
    let api = Api::new();
    let workspace = api.sim.workspace_gid();
    let a = api.sim.create_project("A");
    let b = api.sim.create_project("B");
    let receiver = Receiver::start(true).await;
    let (_, created_a) = api.create(&a, &receiver.url).await;
    let (_, _) = api.create(&b, &receiver.url).await;
    let gid = created_a["data"]["gid"].as_str().expect("gid").to_owned();

    assert_eq!(
        api.send("GET", "/webhooks", None).await.0,
        StatusCode::BAD_REQUEST
    );
    let (status, all) = api
        .send(
            "GET",
            &format!("/webhooks?workspace={workspace}&limit=1"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all["data"].as_array().map(Vec::len), Some(1));
    assert!(all["next_page"]["offset"].is_string());
    let (_, only_a) = api
        .send(
            "GET",
            &format!(
                "/webhooks?workspace={workspace}&resource={a}&opt_fields=target,resource,active"
            ),
            None,
        )
        .await;
    let items = only_a["data"].as_array().expect("list");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["gid"], gid);
    assert_eq!(items[0]["resource"]["gid"], a);
    assert_eq!(items[0]["target"], receiver.url);
    let (status, _) = api
        .send(
            "GET",
            &format!("/webhooks?workspace={workspace}&opt_fields=secret"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, one) = api.send("GET", &format!("/webhooks/{gid}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["data"]["target"], receiver.url);
    assert!(one["data"].get("X-Hook-Secret").is_none());

    let (status, deleted) = api.send("DELETE", &format!("/webhooks/{gid}"), None).await;
    assert_eq!((status, &deleted), (StatusCode::OK, &json!({ "data": {} })));
    assert_eq!(
        api.send("GET", &format!("/webhooks/{gid}"), None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.send("DELETE", &format!("/webhooks/{gid}"), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(api.sim.webhooks().len(), 1);
    api.sim.add_task(&a, TaskSeed::named("after delete"));
    // Kept (the point): a few delivery ticks (100 ms) for a delivery to go out, were the
    // deleted webhook still served.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        api.sim
            .deliveries()
            .iter()
            .all(|d| d.kind == DeliveryKind::Handshake),
        "no delivery for a deleted webhook"
    );
}
