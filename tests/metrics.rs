//! End to end: `watch --metrics-listen` through the real binary against the simulator.
//! `/metrics` is scraped with a real HTTP client and parsed as the Prometheus text format:
//! its counters move with a sync, a webhook delivery (accepted or forged), a `429`; and
//! `/healthz` answers 200 while the link syncs, then 503 naming the link once Asana
//! keeps failing for longer than the link's limit.

#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Fault, TaskEdit, Watch, World, free_port};

const WAIT: Duration = Duration::from_secs(20);

/// One sample: metric name and labels.
type Key = (String, BTreeMap<String, String>);

/// GET `url` with a real HTTP client: status, content type and body.
fn get(url: &str) -> (u16, String, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let response = reqwest::get(url).await.expect("GET");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, content_type, response.text().await.expect("body"))
    })
}

/// Parses the Prometheus/OpenMetrics text format: `name{label="value",...} number` lines;
/// `#` lines are metadata. Panics on a line that is neither.
fn parse(text: &str) -> BTreeMap<Key, f64> {
    let mut out = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, value) = line.rsplit_once(' ').expect("sample: series and value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("value of {line:?}"));
        let (name, labels) = match series.split_once('{') {
            None => (series.to_owned(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("labels end with }");
                let mut labels = BTreeMap::new();
                for pair in body.split("\",").filter(|p| !p.is_empty()) {
                    let (k, v) = pair.split_once("=\"").expect("label=\"value\"");
                    labels.insert(k.to_owned(), v.trim_end_matches('"').to_owned());
                }
                (name.to_owned(), labels)
            }
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line:?}"
        );
        out.insert((name, labels), value);
    }
    out
}

/// The sum of the samples of `name` whose labels include `labels`.
fn value(samples: &BTreeMap<Key, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|((n, l), _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, v)| v)
        .sum()
}

struct Scraper {
    base: String,
}

impl Scraper {
    fn metrics(&self) -> BTreeMap<Key, f64> {
        let (status, content_type, body) = get(&format!("{}/metrics", self.base));
        assert_eq!(status, 200, "{body}");
        assert!(
            content_type.starts_with("application/openmetrics-text"),
            "{content_type}"
        );
        assert!(body.ends_with("# EOF\n"), "{body}");
        parse(&body)
    }

    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        value(&self.metrics(), name, labels)
    }

    fn health(&self) -> (u16, String) {
        let (status, _, body) = get(&format!("{}/healthz", self.base));
        (status, body)
    }
}

#[test]
fn metrics_move_with_syncs_deliveries_and_rate_limits_and_health_follows_the_link() {
    let w = World::new("newest");
    w.write_config_with("newest", "retry_max_seconds = 1\n");
    let gid = w.add_task("Measured", |_| {});
    let metrics_port = free_port();
    let hook_port = free_port();
    let hook_url = format!("http://127.0.0.1:{hook_port}/hooks");
    let watch = Watch::start(
        &w,
        &[
            "--poll-interval",
            "1",
            "--backup-poll-interval",
            "1",
            "--full-interval",
            "2",
            "--webhook-listen",
            &format!("127.0.0.1:{hook_port}"),
            "--webhook-url",
            &hook_url,
            "--metrics-listen",
            &format!("127.0.0.1:{metrics_port}"),
        ],
    );
    let m = Scraper {
        base: format!("http://127.0.0.1:{metrics_port}"),
    };
    assert!(
        World::eventually(WAIT, || w.files().len() == 1),
        "{}",
        watch.stderr()
    );
    assert!(
        World::eventually(WAIT, || w.sim.webhooks().iter().any(|h| h.active)),
        "no webhook: {}",
        watch.stderr()
    );

    // The first sync imported the task: counted on the side it was made on.
    let link = [("link", "roadmap")];
    let s = m.metrics();
    assert_eq!(value(&s, "asana_bridge_links", &[]), 1.0);
    assert!(
        value(
            &s,
            "asana_bridge_http_requests_total",
            &[("service", "asana"), ("status", "200")]
        ) >= 2.0
    );
    assert!(
        value(
            &s,
            "asana_bridge_sync_runs_total",
            &[("link", "roadmap"), ("kind", "full"), ("result", "ok")]
        ) >= 1.0
    );
    assert!(value(&s, "asana_bridge_sync_duration_seconds_count", &link) >= 1.0);
    assert_eq!(
        value(
            &s,
            "asana_bridge_items_total",
            &[
                ("link", "roadmap"),
                ("side", "target"),
                ("action", "created")
            ]
        ),
        1.0
    );
    assert_eq!(
        value(&s, "asana_bridge_items_total", &[("side", "asana")]),
        0.0
    );
    assert_eq!(value(&s, "asana_bridge_conflicts_pending", &link), 0.0);
    let since = value(&s, "asana_bridge_seconds_since_last_good_sync", &link);
    assert!((0.0..5.0).contains(&since), "{since}");
    let (status, body) = m.health();
    assert_eq!(
        (status, body.as_str()),
        (200, "ok: 1 link synced within its limit\n")
    );

    // A webhook delivery is accepted, and its prompt syncs the edit.
    let accepted = m.value(
        "asana_bridge_webhook_deliveries_total",
        &[("result", "accepted")],
    );
    let updated = m.value(
        "asana_bridge_items_total",
        &[("side", "target"), ("action", "updated")],
    );
    w.sim.edit_task(
        &gid,
        TaskEdit {
            name: Some("Edited in Asana".into()),
            ..TaskEdit::default()
        },
    );
    assert!(World::eventually(WAIT, || World::front(
        &w.file_of(&gid).1,
        "title"
    )
    .as_deref()
        == Some("Edited in Asana")));
    assert!(
        World::eventually(WAIT, || m.value(
            "asana_bridge_webhook_deliveries_total",
            &[("result", "accepted")]
        ) > accepted),
        "no accepted delivery counted"
    );
    assert_eq!(
        m.value(
            "asana_bridge_items_total",
            &[("side", "target"), ("action", "updated")]
        ),
        updated + 1.0
    );
    // A forged one is refused, with its reason.
    let hook = w
        .sim
        .webhooks()
        .into_iter()
        .find(|h| h.active)
        .expect("hook");
    let status = w.sim.send_forged_delivery_blocking(
        &hook.target,
        r#"{"events":[]}"#,
        Some(&"00".repeat(32)),
    );
    assert_eq!(status, 401);
    let refused = m.metrics();
    assert_eq!(
        value(
            &refused,
            "asana_bridge_webhook_deliveries_total",
            &[("result", "refused")]
        ),
        1.0
    );
    assert!(
        refused
            .keys()
            .any(|(n, l)| n == "asana_bridge_webhook_deliveries_total"
                && l["result"] == "refused"
                && !l["reason"].is_empty()),
        "a refusal names its reason"
    );

    // A 429: counted, and the second it asked to wait.
    w.sim.inject(Fault::RateLimit {
        retry_after_secs: 1,
        count: 1,
    });
    assert!(
        World::eventually(WAIT, || m.value(
            "asana_bridge_http_rate_limited_total",
            &[("service", "asana")]
        ) == 1.0),
        "{}",
        watch.stderr()
    );
    let s = m.metrics();
    assert_eq!(
        value(&s, "asana_bridge_http_requests_total", &[("status", "429")]),
        1.0
    );
    let waited = value(
        &s,
        "asana_bridge_http_rate_limit_wait_seconds_total",
        &[("service", "asana")],
    );
    assert!((1.0..1.5).contains(&waited), "{waited}");

    // Asana keeps failing: past the link's limit (full interval 2 s + poll 1 s), 503 with
    // the reason naming the link.
    w.sim.inject(Fault::Status {
        status: 503,
        count: 100_000,
        method: None,
        path_contains: None,
    });
    assert!(
        World::eventually(WAIT, || m.health().0 == 503),
        "still healthy: {:?}\n{}",
        m.health(),
        watch.stderr()
    );
    let (_, reason) = m.health();
    assert!(
        reason.starts_with("link \"roadmap\": no good sync for "),
        "{reason}"
    );
    assert!(reason.contains("(limit 3 s)"), "{reason}");
    let s = m.metrics();
    assert!(value(&s, "asana_bridge_http_requests_total", &[("status", "503")]) >= 1.0);
    assert!(value(&s, "asana_bridge_sync_runs_total", &[("result", "failed")]) >= 1.0);
    assert!(value(&s, "asana_bridge_seconds_since_last_good_sync", &link) > 3.0);

    let (code, _, _, stderr) = watch.terminate();
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_taken_metrics_address_is_a_usage_error() {
    let w = World::new("newest");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let run = w.run(&["watch", "--metrics-listen", &addr]).expect(2);
    assert!(
        run.stderr
            .contains(&format!("cannot serve metrics on {addr}")),
        "{}",
        run.stderr
    );
}
