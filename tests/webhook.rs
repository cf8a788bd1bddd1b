//! The webhook accelerator of `watch` (`src/watch/webhook.rs`) in process against the Asana
//! simulator: registration with the handshake (one webhook per link, secrets in the owner-
//! only store and never in logs), a real event waking only its link, heartbeats waking
//! nothing, forged deliveries refused with 401 and changing nothing, shutdown deleting the
//! webhooks, restarts after a crash (with and without the store's record), failed
//! registrations leaving the link to polling, and `refresh` after Asana dropped a webhook.
//! The Asana client's webhook calls (`connectors/asana/src/webhooks.rs`) are exercised
//! along the way.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asana_bridge::watch::webhook::{
    LinkHook, SECRETS_TABLE, WebhookError, WebhookOptions, Webhooks,
};
use asana_bridge_asana::webhooks as api;
use asana_bridge_asana::{AsanaClient, AsanaConfig};
use asana_bridge_state::Store;
use asana_sim::{DeliveryKind, Simulator, TaskSeed};
use hmac::{KeyInit, Mac};
use secrecy::SecretString;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

/// Captured log output of the code under test (this thread only: the tests run on a
/// current-thread runtime, the simulator on its own threads).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log lock")).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One test's world: the simulator, two projects, a store, a client.
struct World {
    sim: Simulator,
    projects: [String; 2],
    client: Arc<AsanaClient>,
    dir: tempfile::TempDir,
    store: Arc<Store>,
    logs: Logs,
    _log_guard: tracing::subscriber::DefaultGuard,
}

/// Link names: one plain, one that needs percent-encoding in the target URL.
const LINKS: [&str; 2] = ["roadmap", "bugs & fixes"];

impl World {
    fn new() -> World {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        let sim = Simulator::start();
        let projects = [sim.create_project("Roadmap"), sim.create_project("Bugs")];
        let client = AsanaClient::new(AsanaConfig::new(
            sim.base_url(),
            SecretString::from(sim.token()),
        ))
        .expect("client");
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(Store::open(&dir.path().join("state")).expect("store"));
        World {
            sim,
            projects,
            client: Arc::new(client),
            dir,
            store,
            logs,
            _log_guard: guard,
        }
    }

    /// Both links, with fresh Notifys.
    fn links(&self) -> (Vec<LinkHook>, [Arc<Notify>; 2]) {
        let prompts = [Arc::new(Notify::new()), Arc::new(Notify::new())];
        let hooks = LINKS
            .iter()
            .zip(&self.projects)
            .zip(&prompts)
            .map(|((link, project), prompt)| LinkHook {
                link: (*link).to_owned(),
                project: project.clone(),
                prompt: Arc::clone(prompt),
                target: None,
            })
            .collect();
        (hooks, prompts)
    }

    /// Starts on `port` (0 = any) with the public URL `http://127.0.0.1:PORT/asana/`.
    async fn start_on(&self, port: u16, links: Vec<LinkHook>) -> Webhooks {
        let listener = bind(port).await;
        let addr = listener.local_addr().expect("address");
        let url = format!("http://{addr}/asana/");
        Webhooks::start_on(
            listener,
            &url,
            Arc::clone(&self.client),
            Arc::clone(&self.store),
            links,
        )
        .await
        .expect("webhooks start")
    }

    /// The store's webhook records, as JSON.
    fn records(&self) -> Vec<(String, Value)> {
        self.store
            .table::<Value>(SECRETS_TABLE)
            .expect("table")
            .all()
            .expect("records")
    }

    fn record(&self, link: &str) -> Option<Value> {
        self.store
            .table::<Value>(SECRETS_TABLE)
            .expect("table")
            .get(link)
            .expect("record")
    }
}

/// Binds 127.0.0.1:`port`, retrying briefly (a crashed receiver's socket closes as its
/// task is dropped).
async fn bind(port: u16) -> tokio::net::TcpListener {
    for _ in 0..50 {
        if let Ok(listener) = tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            return listener;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("cannot bind 127.0.0.1:{port}");
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `prompt` is (or gets) notified within `wait`.
async fn woken(prompt: &Notify, wait: Duration) -> bool {
    tokio::time::timeout(wait, prompt.notified()).await.is_ok()
}

/// A raw HTTP/1.1 POST with extra headers; the status (a client the test controls fully,
/// for a handshake nobody asked for).
async fn raw_post(url: &str, headers: &[(&str, &str)], body: &str) -> u16 {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = tokio::net::TcpStream::connect(authority)
        .await
        .expect("connect");
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line")
}

const EVENT_BODY: &str =
    r#"{"events":[{"action":"changed","resource":{"gid":"1","resource_type":"task"}}]}"#;

/// Start registers one webhook per link on its project, with targets under the public URL
/// (link names percent-encoded); each handshake secret is stored with the webhook's gid in
/// the owner-only store, and no secret appears in the logs or in `Debug`.
#[tokio::test]
async fn start_registers_one_webhook_per_link_and_stores_the_secrets() {
    let w = World::new();
    let (links, _prompts) = w.links();
    let hooks = w.start_on(0, links).await;
    let addr = hooks.local_addr().expect("listening");
    assert_eq!(
        hooks.target("roadmap").as_deref(),
        Some(format!("http://{addr}/asana/roadmap").as_str())
    );
    assert_eq!(
        hooks.target("bugs & fixes").as_deref(),
        Some(format!("http://{addr}/asana/bugs%20%26%20fixes").as_str())
    );
    let registered = w.sim.webhooks();
    assert_eq!(registered.len(), 2, "{registered:?}");
    let mut secrets = Vec::new();
    for (link, project) in LINKS.iter().zip(&w.projects) {
        assert!(hooks.is_active(link), "{link}");
        let gid = hooks.webhook_gid(link).expect("gid");
        let sim_hook = registered
            .iter()
            .find(|h| h.gid == gid)
            .expect("registered in Asana");
        assert_eq!(&sim_hook.resource, project);
        assert_eq!(Some(sim_hook.target.clone()), hooks.target(link));
        let record = w.record(link).expect("record");
        let secret = w.sim.webhook_secret(&gid).expect("secret");
        assert_eq!(record["secret"], secret.as_str(), "{link}");
        assert_eq!(record["id"], gid.as_str());
        assert_eq!(record["scope"], project.as_str());
        secrets.push(secret);
    }
    assert!(!hooks.is_active("unknown"));
    assert!(
        w.sim
            .deliveries()
            .iter()
            .all(|d| d.kind == DeliveryKind::Handshake && d.status == 200)
    );

    // Through the client: the listing shows both, each on its project.
    for project in &w.projects {
        let listed = api::list_project_webhooks(&w.client, project)
            .await
            .expect("list");
        assert_eq!(listed.len(), 1);
        assert!(listed[0].active);
        assert_eq!(listed[0].resource.as_deref(), Some(project.as_str()));
    }

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(w.store.dir())
            .expect("store dir")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "the store's directory is owner-only");
    }
    let debug = format!("{hooks:?}");
    let logs = w.logs.text();
    assert!(logs.contains("webhook registered"), "{logs}");
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a secret was logged");
        assert!(!debug.contains(secret.as_str()), "a secret is in Debug");
    }
    hooks.shutdown().await;
    let _ = &w.dir;
}

/// A real event on a project is delivered, verified and wakes that link's loop only; a
/// heartbeat is answered 200 and wakes nothing.
#[tokio::test]
async fn a_real_event_wakes_its_link() {
    let w = World::new();
    let (links, [roadmap, bugs]) = w.links();
    let hooks = w.start_on(0, links).await;
    w.sim.add_task(&w.projects[0], TaskSeed::named("new work"));
    assert!(
        woken(&roadmap, Duration::from_secs(5)).await,
        "the delivery wakes the loop"
    );
    assert!(!woken(&bugs, Duration::from_millis(300)).await);
    let events: Vec<_> = w
        .sim
        .deliveries()
        .into_iter()
        .filter(|d| d.kind == DeliveryKind::Events)
        .collect();
    assert!(!events.is_empty());
    assert!(events.iter().all(|d| d.status == 200), "{events:?}");
    assert_eq!(Some(events[0].target.clone()), hooks.target("roadmap"));

    assert_eq!(w.sim.send_heartbeats().await, vec![200, 200]);
    assert!(!woken(&roadmap, Duration::from_millis(300)).await);
    assert!(!woken(&bugs, Duration::from_millis(10)).await);
    hooks.shutdown().await;
}

/// Deliveries without a signature, with a wrong or malformed one, signed with another
/// secret (including the other link's) or for another body get 401 and wake nothing; a
/// handshake nobody asked for gets 401 and replaces no secret. A correctly signed
/// delivery (the positive control) gets 200 and wakes the loop.
#[tokio::test]
async fn forged_deliveries_are_refused_and_change_nothing() {
    let w = World::new();
    let (links, [roadmap, bugs]) = w.links();
    let hooks = w.start_on(0, links).await;
    let target = hooks.target("roadmap").expect("target");
    let secret = w
        .sim
        .webhook_secret(&hooks.webhook_gid("roadmap").expect("gid"))
        .expect("secret");
    let other_secret = w
        .sim
        .webhook_secret(&hooks.webhook_gid("bugs & fixes").expect("gid"))
        .expect("secret");
    let record_before = w.record("roadmap");
    let zeros = "0".repeat(64);
    let wrong_secret = sign("not-the-secret", EVENT_BODY.as_bytes());
    let other_link = sign(&other_secret, EVENT_BODY.as_bytes());
    let other_body = sign(&secret, br#"{"events":[]}"#);
    let upper_wrong = wrong_secret.to_uppercase();
    let forgeries: [(&str, Option<&str>); 7] = [
        ("missing", None),
        ("zeros", Some(&zeros)),
        ("not hex", Some("zz-not-hex")),
        ("another secret", Some(&wrong_secret)),
        ("another secret, upper case", Some(&upper_wrong)),
        ("the other link's secret", Some(&other_link)),
        ("another body", Some(&other_body)),
    ];
    for (what, signature) in forgeries {
        let status = w
            .sim
            .send_forged_delivery(&target, EVENT_BODY, signature)
            .await;
        assert_eq!(status, 401, "{what}");
    }
    // A truncated signature of the right body is no signature either.
    let right = sign(&secret, EVENT_BODY.as_bytes());
    let status = w
        .sim
        .send_forged_delivery(&target, EVENT_BODY, Some(&right[..32]))
        .await;
    assert_eq!(status, 401, "truncated");
    assert!(!woken(&roadmap, Duration::from_millis(300)).await);
    assert!(!woken(&bugs, Duration::from_millis(10)).await);

    // A handshake out of turn cannot plant a secret.
    let status = raw_post(&target, &[("X-Hook-Secret", "planted")], "").await;
    assert_eq!(status, 401);
    let planted = sign("planted", EVENT_BODY.as_bytes());
    let status = w
        .sim
        .send_forged_delivery(&target, EVENT_BODY, Some(&planted))
        .await;
    assert_eq!(status, 401, "signed with the planted secret");
    assert_eq!(
        w.record("roadmap").map(|r| r.to_string()),
        record_before.map(|r| r.to_string()),
        "the stored secret is unchanged"
    );
    assert!(!woken(&roadmap, Duration::from_millis(100)).await);

    // Unknown links and other methods.
    let root = target.trim_end_matches("roadmap");
    let status = w
        .sim
        .send_forged_delivery(&format!("{root}nobody"), EVENT_BODY, Some(&right))
        .await;
    assert_eq!(status, 404);

    // Positive control: the right signature works, through the same path.
    let status = w
        .sim
        .send_forged_delivery(&target, EVENT_BODY, Some(&right))
        .await;
    assert_eq!(status, 200);
    assert!(woken(&roadmap, Duration::from_secs(1)).await);
    let logs = w.logs.text();
    assert!(logs.contains("rejected a webhook request"), "{logs}");
    for value in [secret.as_str(), &right, &wrong_secret, &zeros] {
        assert!(!logs.contains(value), "a secret or signature was logged");
    }
    hooks.shutdown().await;
}

/// Shutdown deletes every webhook, forgets the secrets and stops the receiver.
#[tokio::test]
async fn shutdown_deletes_the_webhooks() {
    let w = World::new();
    let (links, _prompts) = w.links();
    let hooks = w.start_on(0, links).await;
    let target = hooks.target("roadmap").expect("target");
    assert_eq!(w.sim.webhooks().len(), 2);
    let started = std::time::Instant::now();
    hooks.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(6));
    assert!(w.sim.webhooks().is_empty(), "{:?}", w.sim.webhooks());
    assert!(w.records().is_empty(), "{:?}", w.records());
    assert_eq!(
        w.sim.send_forged_delivery(&target, EVENT_BODY, None).await,
        0,
        "the receiver is gone"
    );
    assert!(
        w.sim
            .requests()
            .iter()
            .filter(|r| r.method == "DELETE" && r.path.starts_with("/webhooks/"))
            .all(|r| r.status == 200)
    );
}

/// A crashed watch (dropped without shutdown) leaves its webhooks and records; the next
/// start on the same address deletes them (by the stored gid) and registers anew. With
/// the record lost too, the leftover webhook (same resource and target: a duplicate to
/// Asana) is found by listing and deleted, and the restart still registers.
#[tokio::test]
async fn restart_after_a_crash_still_works() {
    let w = World::new();
    let (links, _prompts) = w.links();
    let first = w.start_on(0, links).await;
    let port = first.local_addr().expect("address").port();
    let old: Vec<String> = w.sim.webhooks().into_iter().map(|h| h.gid).collect();
    drop(first); // the crash: no shutdown
    assert_eq!(w.sim.webhooks().len(), 2, "left behind");
    assert_eq!(w.records().len(), 2, "records left behind");

    let (links, [roadmap, _]) = w.links();
    let second = w.start_on(port, links).await;
    let now = w.sim.webhooks();
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(
        now.iter().all(|h| !old.contains(&h.gid)),
        "old ones deleted"
    );
    assert!(LINKS.iter().all(|l| second.is_active(l)));
    w.sim
        .add_task(&w.projects[0], TaskSeed::named("after restart"));
    assert!(woken(&roadmap, Duration::from_secs(5)).await);

    // Crash again, and lose the records: the leftovers are duplicates of the new targets.
    drop(second);
    w.store.drop_table(SECRETS_TABLE).expect("drop records");
    let (links, [roadmap, _]) = w.links();
    let third = w.start_on(port, links).await;
    assert_eq!(w.sim.webhooks().len(), 2, "{:?}", w.sim.webhooks());
    assert!(LINKS.iter().all(|l| third.is_active(l)));
    w.sim
        .add_task(&w.projects[0], TaskSeed::named("after the second restart"));
    assert!(woken(&roadmap, Duration::from_secs(5)).await);
    third.shutdown().await;
    assert!(w.sim.webhooks().is_empty());
}

/// A link whose registration fails (unknown project; a public URL Asana cannot reach)
/// gets one warning, is not active, leaves no webhook or secret, and does not stop the
/// others.
#[tokio::test]
async fn a_failed_registration_leaves_the_link_to_polling() {
    let w = World::new();
    let (mut links, _prompts) = w.links();
    links[1].project = "1299999999999999".to_owned();
    let hooks = w.start_on(0, links).await;
    assert!(hooks.is_active("roadmap"));
    assert!(!hooks.is_active("bugs & fixes"));
    assert_eq!(w.sim.webhooks().len(), 1);
    assert!(w.record("bugs & fixes").is_none());
    let logs = w.logs.text();
    assert_eq!(
        logs.matches("no webhook, polling only").count(),
        1,
        "{logs}"
    );
    hooks.shutdown().await;

    // The public URL leads nowhere: every handshake fails, start still succeeds.
    let listener = bind(0).await;
    let nowhere = bind(0).await.local_addr().expect("address");
    let (links, _prompts) = w.links();
    let hooks = Webhooks::start_on(
        listener,
        &format!("http://{nowhere}/asana"),
        Arc::clone(&w.client),
        Arc::clone(&w.store),
        links,
    )
    .await
    .expect("start without webhooks");
    assert!(LINKS.iter().all(|l| !hooks.is_active(l)));
    assert!(w.sim.webhooks().is_empty());
    assert!(w.records().is_empty());
    hooks.shutdown().await;
}

/// Start fails only for what the whole watch cannot do without: an address in use, a
/// public URL that is not one.
#[tokio::test]
async fn start_errors() {
    let w = World::new();
    let taken = bind(0).await;
    let (links, _prompts) = w.links();
    let err = Webhooks::start(
        WebhookOptions {
            listen: taken.local_addr().expect("address"),
            public_url: "https://bridge.example.com/asana".to_owned(),
        },
        Arc::clone(&w.client),
        Arc::clone(&w.store),
        links,
    )
    .await
    .expect_err("address in use");
    assert!(matches!(err, WebhookError::Bind { .. }), "{err}");

    let (links, _prompts) = w.links();
    let err = Webhooks::start(
        WebhookOptions {
            listen: "127.0.0.1:0".parse().expect("address"),
            public_url: "bridge.example.com".to_owned(),
        },
        Arc::clone(&w.client),
        Arc::clone(&w.store),
        links,
    )
    .await
    .expect_err("not a URL");
    assert!(matches!(err, WebhookError::PublicUrl { .. }), "{err}");
    assert!(w.sim.webhooks().is_empty());
}

/// When Asana drops a webhook (as after a day of failed deliveries), `refresh` notices,
/// registers it again and the link is woken by deliveries again; lost deliveries leave
/// the loop unwoken (the backup poll's job).
#[tokio::test]
async fn refresh_registers_dropped_webhooks_again() {
    let w = World::new();
    let (links, [roadmap, _]) = w.links();
    let hooks = w.start_on(0, links).await;
    let gid = hooks.webhook_gid("roadmap").expect("gid");

    w.sim.set_webhook_delivery(false);
    w.sim.add_task(&w.projects[0], TaskSeed::named("lost"));
    assert!(!woken(&roadmap, Duration::from_millis(500)).await);
    w.sim.set_webhook_delivery(true);

    assert!(api::delete_webhook(&w.client, &gid).await.expect("delete"));
    assert_eq!(api::get_webhook(&w.client, &gid).await.expect("get"), None);
    assert!(
        !api::delete_webhook(&w.client, &gid)
            .await
            .expect("404 is fine")
    );
    assert_eq!(hooks.refresh().await, 2);
    let renewed = hooks.webhook_gid("roadmap").expect("gid");
    assert_ne!(renewed, gid);
    assert_eq!(w.sim.webhooks().len(), 2);
    w.sim.add_task(&w.projects[0], TaskSeed::named("seen"));
    assert!(woken(&roadmap, Duration::from_secs(5)).await);
    hooks.shutdown().await;
}
