//! `watch --metrics-listen ADDR`: the Prometheus metrics of a running watch and its
//! health.
//!
//! - this file: the registry (prometheus-client) and what records into it: the HTTP
//!   clients (through the connectors' [`HttpObserver`] hook), each link's syncs, the
//!   webhook receiver's answers;
//! - [`health`]: whether every link synced well within its limit;
//! - [`server`]: the HTTP server of `/metrics` and `/healthz`.
//!
//! One watch runs per process, so the metrics are process-wide: [`install`] creates them
//! once, and the recording functions ([`sync_done`], [`conflicts_pending`],
//! [`webhook_answered`]) do nothing when they were never installed (no `--metrics-listen`).

pub mod health;
pub mod server;

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use asana_bridge_connector::http::{HttpObserver, set_observer};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::time::Instant;

use crate::engine::LinkReport;
use health::Health;

/// The content type of [`Metrics::render`]'s text (OpenMetrics, which Prometheus reads).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// `asana` or `github`.
    service: String,
    /// The HTTP status, or `none` when no answer came.
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LinkLabels {
    link: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SyncLabels {
    link: String,
    /// `full` (every task listed) or `changes` (the change feed).
    kind: String,
    /// `ok`, or `failed` (a link-wide failure: unreachable, refused, a guard).
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ItemLabels {
    link: String,
    /// The side the change was made on: `asana` or `target`.
    side: String,
    /// `created`, `updated` or `deleted`.
    action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    /// `accepted` or `refused`.
    result: String,
    /// Why a delivery was refused (empty when accepted).
    reason: String,
}

type Seconds = Counter<f64, AtomicU64>;

/// The metrics of this process.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    rate_limited: Family<ServiceLabels, Counter>,
    rate_limit_wait: Family<ServiceLabels, Seconds>,
    syncs: Family<SyncLabels, Counter>,
    sync_seconds: Family<LinkLabels, Histogram>,
    items: Family<ItemLabels, Counter>,
    conflicts: Family<LinkLabels, Gauge>,
    since_good: Family<LinkLabels, Gauge<f64, AtomicU64>>,
    deliveries: Family<DeliveryLabels, Counter>,
    links: Gauge,
    /// Per service, until when its client pauses for a rate limit: a second refusal
    /// during a pause adds only what it lengthens, so the wait counts wall-clock time.
    paused_until: Mutex<HashMap<&'static str, Instant>>,
    health: Mutex<Health>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while these are held; a poisoned lock still holds usable numbers.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn sync_histogram() -> Histogram {
    // 50 ms to about 7 minutes.
    Histogram::new(exponential_buckets(0.05, 2.0, 14))
}

impl Metrics {
    fn new() -> Self {
        let m = Self {
            registry: Registry::with_prefix("asana_bridge"),
            requests: Family::default(),
            rate_limited: Family::default(),
            rate_limit_wait: Family::default(),
            syncs: Family::default(),
            sync_seconds: Family::new_with_constructor(sync_histogram),
            items: Family::default(),
            conflicts: Family::default(),
            since_good: Family::default(),
            deliveries: Family::default(),
            links: Gauge::default(),
            paused_until: Mutex::new(HashMap::new()),
            health: Mutex::new(Health::new(Instant::now())),
        };
        m.registered()
    }

    /// The same metrics, registered under their names and help texts (the families are
    /// shared handles: what is recorded into them shows in the registry).
    fn registered(mut self) -> Self {
        let r = &mut self.registry;
        r.register(
            "http_requests",
            "HTTP attempts by service and answer status (`none`: no answer came)",
            self.requests.clone(),
        );
        r.register(
            "http_rate_limited",
            "Requests the service refused for its rate limit (429)",
            self.rate_limited.clone(),
        );
        r.register(
            "http_rate_limit_wait_seconds",
            "Seconds the client paused all requests because of rate-limit refusals",
            self.rate_limit_wait.clone(),
        );
        r.register(
            "sync_runs",
            "Syncs run, by link, kind (full or changes) and result",
            self.syncs.clone(),
        );
        r.register(
            "sync_duration_seconds",
            "How long each sync took",
            self.sync_seconds.clone(),
        );
        r.register(
            "items",
            "Items created, updated or deleted, by the side the change was made on",
            self.items.clone(),
        );
        r.register(
            "conflicts_pending",
            "Unresolved conflicts of each link",
            self.conflicts.clone(),
        );
        r.register(
            "seconds_since_last_good_sync",
            "Seconds since each link's last sync without a link-wide failure",
            self.since_good.clone(),
        );
        r.register(
            "webhook_deliveries",
            "Requests to the webhook receiver, accepted or refused (with the reason)",
            self.deliveries.clone(),
        );
        r.register("links", "Links this process runs", self.links.clone());
        self
    }

    /// Adds a link that must sync well at least every `limit` to stay healthy.
    pub fn watch_link(&self, link: &str, limit: Duration) {
        lock(&self.health).watch(link, limit);
        self.links.inc();
    }

    /// The text `/metrics` serves.
    #[must_use]
    pub fn render(&self) -> String {
        let now = Instant::now();
        for (link, since) in lock(&self.health).since_good(now) {
            self.since_good
                .get_or_create(&LinkLabels {
                    link: link.to_owned(),
                })
                .set(since.as_secs_f64());
        }
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// What `/healthz` answers: `Ok(summary)` or `Err(reasons)`.
    ///
    /// # Errors
    /// The reasons, one line per link over its limit.
    pub fn health(&self) -> Result<String, String> {
        lock(&self.health).check(Instant::now())
    }

    fn record_sync(&self, link: &str, report: &LinkReport, full: bool, took: Duration) {
        let ok = report.fatal.is_none();
        self.syncs
            .get_or_create(&SyncLabels {
                link: link.to_owned(),
                kind: if full { "full" } else { "changes" }.to_owned(),
                result: if ok { "ok" } else { "failed" }.to_owned(),
            })
            .inc();
        self.sync_seconds
            .get_or_create(&LinkLabels {
                link: link.to_owned(),
            })
            .observe(took.as_secs_f64());
        let c = &report.counts;
        for (side, action, n) in [
            ("asana", "created", c.created_asana),
            ("asana", "updated", c.updated_asana),
            ("asana", "deleted", c.deleted_asana),
            ("target", "created", c.created_target),
            ("target", "updated", c.updated_target),
            ("target", "deleted", c.deleted_target),
        ] {
            // Every series exists from the first sync on, so a rate() sees its start.
            self.items
                .get_or_create(&ItemLabels {
                    link: link.to_owned(),
                    side: side.to_owned(),
                    action: action.to_owned(),
                })
                .inc_by(n as u64);
        }
        lock(&self.health).synced(link, Instant::now(), report.fatal.as_deref());
    }
}

impl HttpObserver for Metrics {
    fn answered(&self, service: &'static str, status: Option<u16>) {
        self.requests
            .get_or_create(&RequestLabels {
                service: service.to_owned(),
                status: status.map_or_else(|| "none".to_owned(), |s| s.to_string()),
            })
            .inc();
    }

    fn rate_limited(&self, service: &'static str, paused: Option<Duration>) {
        let labels = ServiceLabels {
            service: service.to_owned(),
        };
        self.rate_limited.get_or_create(&labels).inc();
        let Some(wait) = paused else { return };
        let now = Instant::now();
        let until = now + wait;
        let added = {
            let mut paused = lock(&self.paused_until);
            let current = paused.get(service).copied().filter(|t| *t > now);
            let added = until.saturating_duration_since(current.unwrap_or(now));
            if current.is_none_or(|c| c < until) {
                paused.insert(service, until);
            }
            added
        };
        self.rate_limit_wait
            .get_or_create(&labels)
            .inc_by(added.as_secs_f64());
    }
}

static METRICS: OnceLock<Arc<Metrics>> = OnceLock::new();

/// The process's metrics, created (and hooked into the HTTP clients) on the first call.
pub fn install() -> Arc<Metrics> {
    Arc::clone(METRICS.get_or_init(|| {
        let metrics = Arc::new(Metrics::new());
        set_observer(Arc::clone(&metrics) as Arc<dyn HttpObserver>);
        metrics
    }))
}

/// A sync of `link` ended after `took`.
pub fn sync_done(link: &str, report: &LinkReport, full: bool, took: Duration) {
    if let Some(m) = METRICS.get() {
        m.record_sync(link, report, full, took);
    }
}

/// `link` has `n` unresolved conflicts.
pub fn conflicts_pending(link: &str, n: usize) {
    if let Some(m) = METRICS.get() {
        m.conflicts
            .get_or_create(&LinkLabels {
                link: link.to_owned(),
            })
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }
}

/// The webhook receiver answered a request: accepted, or refused for `refused`.
pub fn webhook_answered(refused: Option<&'static str>) {
    if let Some(m) = METRICS.get() {
        m.deliveries
            .get_or_create(&DeliveryLabels {
                result: if refused.is_some() {
                    "refused"
                } else {
                    "accepted"
                }
                .to_owned(),
                reason: refused.unwrap_or_default().to_owned(),
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rate-limit pauses count wall-clock time: a refusal inside a running pause adds only
    /// what it lengthens it by.
    #[test]
    fn overlapping_rate_limit_pauses_count_once() {
        let m = Metrics::new();
        m.rate_limited("asana", Some(Duration::from_secs(30)));
        m.rate_limited("asana", Some(Duration::from_secs(10)));
        m.rate_limited("asana", None);
        let labels = ServiceLabels {
            service: "asana".to_owned(),
        };
        assert_eq!(m.rate_limited.get_or_create(&labels).get(), 3);
        let waited = m.rate_limit_wait.get_or_create(&labels).get();
        assert!((30.0..30.1).contains(&waited), "{waited}");
        let text = m.render();
        assert!(text.contains("asana_bridge_http_rate_limited_total{service=\"asana\"} 3"));
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
