//! Webhooks in the simulator: the registry of webhooks, the `X-Hook-Secret` handshake made
//! during `POST /webhooks`, the signed deliveries of each webhook's events, and the
//! in-process controls of tests (lost deliveries, heartbeats, forged deliveries).
//!
//! As in Asana (API notes §7):
//! - the handshake is an HTTP POST to the target with `X-Hook-Secret` and an empty body,
//!   made *before* the create request is answered; the target must answer 200 or 204 and
//!   echo the header, or the create fails with a 400 and no webhook exists;
//! - deliveries are `{"events": [...]}` with compact events (every resource as
//!   `{gid, resource_type}`), batched, signed with `X-Hook-Signature` = lowercase hex
//!   HMAC-SHA256(secret, body), sent by a background task a little after the events
//!   happen (every [`DELIVERY_TICK`]); at most once (a failed delivery is recorded, not
//!   retried);
//! - a heartbeat is a signed delivery with no events.
//!
//! Lock order: the world (`Shared::state`) before the registry (`Shared::webhooks`); no lock
//! is held across an await.

use std::time::Duration;

use hmac::{KeyInit, Mac};
use serde_json::{Map, Value, json};

use crate::lock;
use crate::server::Sim;
use crate::state::iso;

/// How often the delivery task looks for new events (the batching window).
pub const DELIVERY_TICK: Duration = Duration::from_millis(100);

/// Asana gives a target 10 s to answer.
const TARGET_TIMEOUT: Duration = Duration::from_secs(10);

/// A webhook as tests see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimWebhook {
    pub gid: String,
    /// The gid of the project (or task) it watches.
    pub resource: String,
    /// Where deliveries go.
    pub target: String,
    pub active: bool,
}

/// What a POST to a target was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryKind {
    /// The `X-Hook-Secret` handshake of a create.
    Handshake,
    /// Signed events.
    Events,
    /// A signed empty `{"events":[]}`.
    Heartbeat,
    /// A test's [`crate::Simulator::send_forged_delivery`].
    Forged,
}

/// One POST the simulator made to a webhook target, and what the target answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimDelivery {
    /// The webhook's gid; empty for a handshake of a create that failed and for forgeries.
    pub webhook: String,
    pub target: String,
    pub kind: DeliveryKind,
    /// Events in the body.
    pub events: usize,
    /// The target's HTTP status; 0 when it gave none (refused, timed out).
    pub status: u16,
}

/// One registered webhook, with its secret and its place in the event log.
#[derive(Debug)]
pub(crate) struct Hook {
    pub gid: String,
    pub resource: String,
    pub resource_type: &'static str,
    pub resource_name: String,
    pub target: String,
    pub secret: String,
    pub filters: Value,
    pub active: bool,
    pub created_at: String,
    pub last_success_at: Option<String>,
    pub last_failure_at: Option<String>,
    pub last_failure_content: Option<String>,
    /// Events of the log after this position are still to be delivered.
    pub after: u64,
}

impl Hook {
    /// Every field the simulator models (absent values left out, as the spec declares
    /// none of them nullable).
    pub fn rich(&self) -> Value {
        let mut out = json!({
            "gid": self.gid,
            "resource_type": "webhook",
            "active": self.active,
            "resource": {
                "gid": self.resource,
                "resource_type": self.resource_type,
                "name": self.resource_name,
            },
            "target": self.target,
            "created_at": self.created_at,
            "delivery_retry_count": 0,
            "filters": self.filters,
        });
        for (key, value) in [
            ("last_success_at", &self.last_success_at),
            ("last_failure_at", &self.last_failure_at),
            ("last_failure_content", &self.last_failure_content),
        ] {
            if let Some(value) = value {
                out[key] = json!(value);
            }
        }
        out
    }

    fn public(&self) -> SimWebhook {
        SimWebhook {
            gid: self.gid.clone(),
            resource: self.resource.clone(),
            target: self.target.clone(),
            active: self.active,
        }
    }
}

/// Every webhook and every delivery made.
#[derive(Debug)]
pub(crate) struct Registry {
    pub hooks: Vec<Hook>,
    pub deliveries: Vec<SimDelivery>,
    /// When false, events are dropped instead of delivered (lost webhooks).
    pub delivery_enabled: bool,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            hooks: Vec::new(),
            deliveries: Vec::new(),
            delivery_enabled: true,
        }
    }
}

impl Registry {
    pub fn list(&self) -> Vec<SimWebhook> {
        self.hooks.iter().map(Hook::public).collect()
    }

    pub fn find(&self, gid: &str) -> Option<&Hook> {
        self.hooks.iter().find(|h| h.gid == gid)
    }
}

/// A fresh secret: 64 lowercase hex digits, like Asana's.
pub fn new_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Lowercase hex HMAC-SHA256 of `body` keyed with `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The webhook form of an event: `user`, `resource`, `parent` and `change.*_value` as
/// `{gid, resource_type}` (plus `resource_subtype` when known), no names, no `type`.
pub fn compact_event(event: &Value) -> Value {
    let mut out = Map::new();
    for key in ["action", "created_at"] {
        if let Some(v) = event.get(key) {
            out.insert(key.to_owned(), v.clone());
        }
    }
    for key in ["user", "resource", "parent"] {
        if let Some(v) = event.get(key) {
            out.insert(key.to_owned(), compact_ref(v));
        }
    }
    if let Some(change) = event.get("change").and_then(Value::as_object) {
        let change: Map<String, Value> = change
            .iter()
            .map(|(k, v)| {
                let v = if k.ends_with("_value") {
                    compact_ref(v)
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect();
        out.insert("change".to_owned(), Value::Object(change));
    }
    Value::Object(out)
}

fn compact_ref(value: &Value) -> Value {
    let Some(map) = value.as_object() else {
        return value.clone();
    };
    if !map.contains_key("gid") {
        return value.clone();
    }
    let kept = ["gid", "resource_type", "resource_subtype"]
        .iter()
        .filter_map(|k| map.get(*k).map(|v| ((*k).to_owned(), v.clone())));
    Value::Object(kept.collect())
}

/// The HTTP client the simulator uses to reach targets (built once, on its runtime).
fn client(sim: &Sim) -> reqwest::Client {
    sim.webhook_client
        .get_or_init(|| {
            reqwest::Client::builder()
                .timeout(TARGET_TIMEOUT)
                .build()
                .unwrap_or_else(|_| reqwest::Client::new())
        })
        .clone()
}

/// Why a handshake failed (the text goes into Asana's 400 message in the simulator).
#[derive(Debug)]
pub enum HandshakeError {
    /// No answer (refused, timed out).
    Unreachable,
    /// An answer that is not 200/204 with the same `X-Hook-Secret`.
    Refused(u16),
}

impl HandshakeError {
    /// For the simulator's debug log.
    pub fn describe(&self) -> String {
        match self {
            HandshakeError::Unreachable => "the target did not answer".to_owned(),
            HandshakeError::Refused(status) => {
                format!("the target answered {status} without echoing the secret")
            }
        }
    }
}

/// POSTs the handshake to `target` and records it; Ok when the target confirmed.
pub async fn handshake(sim: &Sim, target: &str, secret: &str) -> Result<(), HandshakeError> {
    let answer = client(sim)
        .post(target)
        .header("X-Hook-Secret", secret)
        .header(reqwest::header::CONTENT_LENGTH, "0")
        .send()
        .await;
    let (status, result) = match answer {
        Err(_) => (0, Err(HandshakeError::Unreachable)),
        Ok(response) => {
            let status = response.status().as_u16();
            let echoed = response
                .headers()
                .get("X-Hook-Secret")
                .and_then(|v| v.to_str().ok())
                == Some(secret);
            if matches!(status, 200 | 204) && echoed {
                (status, Ok(()))
            } else {
                (status, Err(HandshakeError::Refused(status)))
            }
        }
    };
    lock(&sim.webhooks).deliveries.push(SimDelivery {
        webhook: String::new(),
        target: target.to_owned(),
        kind: DeliveryKind::Handshake,
        events: 0,
        status,
    });
    result
}

/// POSTs `body` to `target` with an optional `X-Hook-Signature`; the status (0 = none).
pub async fn post(sim: &Sim, target: &str, body: String, signature: Option<String>) -> u16 {
    let mut request = client(sim)
        .post(target)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    if let Some(signature) = signature {
        request = request.header("X-Hook-Signature", signature);
    }
    match request.send().await {
        Ok(response) => response.status().as_u16(),
        Err(_) => 0,
    }
}

/// One delivery the background task is about to make.
struct Job {
    webhook: String,
    target: String,
    secret: String,
    events: Vec<Value>,
    kind: DeliveryKind,
}

/// Sends a job, records it and updates the webhook's success/failure times.
async fn run(sim: &Sim, job: Job) -> u16 {
    let count = job.events.len();
    let body = json!({ "events": job.events }).to_string();
    let signature = sign(&job.secret, body.as_bytes());
    let status = post(sim, &job.target, body, Some(signature)).await;
    let now = iso(lock(&sim.state).now());
    let mut registry = lock(&sim.webhooks);
    if let Some(hook) = registry.hooks.iter_mut().find(|h| h.gid == job.webhook) {
        if (200..300).contains(&status) {
            hook.last_success_at = Some(now);
        } else {
            hook.last_failure_at = Some(now);
            hook.last_failure_content = Some(if status == 0 {
                "Could not connect to the target".to_owned()
            } else {
                format!("{status} from the target")
            });
        }
    }
    registry.deliveries.push(SimDelivery {
        webhook: job.webhook,
        target: job.target,
        kind: job.kind,
        events: count,
        status,
    });
    status
}

/// The events waiting for each active webhook, taken off the log (at most once).
fn pending_jobs(sim: &Sim) -> Vec<Job> {
    let st = lock(&sim.state);
    let mut registry = lock(&sim.webhooks);
    let head = st.events.head();
    let enabled = registry.delivery_enabled;
    let mut jobs = Vec::new();
    for hook in &mut registry.hooks {
        if hook.after >= head {
            continue;
        }
        let events = st.events.since(&hook.resource, hook.after);
        hook.after = head;
        if !enabled || !hook.active || events.is_empty() {
            continue;
        }
        jobs.push(Job {
            webhook: hook.gid.clone(),
            target: hook.target.clone(),
            secret: hook.secret.clone(),
            events: events.iter().map(compact_event).collect(),
            kind: DeliveryKind::Events,
        });
    }
    jobs
}

/// The background task: every [`DELIVERY_TICK`], delivers new events to each webhook.
pub async fn deliver_forever(sim: Sim) {
    let mut tick = tokio::time::interval(DELIVERY_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for job in pending_jobs(&sim) {
            run(&sim, job).await;
        }
    }
}

/// Sends a heartbeat to every active webhook now; the statuses the targets answered.
pub async fn heartbeats(sim: &Sim) -> Vec<u16> {
    let jobs: Vec<Job> = lock(&sim.webhooks)
        .hooks
        .iter()
        .filter(|h| h.active)
        .map(|h| Job {
            webhook: h.gid.clone(),
            target: h.target.clone(),
            secret: h.secret.clone(),
            events: Vec::new(),
            kind: DeliveryKind::Heartbeat,
        })
        .collect();
    let mut statuses = Vec::new();
    for job in jobs {
        statuses.push(run(sim, job).await);
    }
    statuses
}

/// A delivery not signed with the webhook's secret (`signature` as given, or none).
pub async fn forged(sim: &Sim, target: &str, body: &str, signature: Option<&str>) -> u16 {
    let status = post(sim, target, body.to_owned(), signature.map(str::to_owned)).await;
    let events = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("events").and_then(Value::as_array).map(Vec::len))
        .unwrap_or(0);
    lock(&sim.webhooks).deliveries.push(SimDelivery {
        webhook: String::new(),
        target: target.to_owned(),
        kind: DeliveryKind::Forged,
        events,
        status,
    });
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The signature is the lowercase hex HMAC-SHA256 (RFC 4231 test case 2).
    #[test]
    fn signs_like_asana() {
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(new_secret().len(), 64);
    }

    /// Webhook events carry only gids and types of resources.
    #[test]
    fn events_are_compact() {
        let event = json!({
            "user": {"gid": "1", "resource_type": "user", "name": "Alice"},
            "created_at": "2026-01-01T00:00:00.000Z", "type": "task", "action": "changed",
            "resource": {"gid": "2", "resource_type": "task", "name": "T"},
            "change": {"field": "assignee", "action": "changed",
                       "new_value": {"gid": "3", "resource_type": "user", "name": "Bob"}},
        });
        assert_eq!(
            compact_event(&event),
            json!({
                "user": {"gid": "1", "resource_type": "user"},
                "created_at": "2026-01-01T00:00:00.000Z", "action": "changed",
                "resource": {"gid": "2", "resource_type": "task"},
                "change": {"field": "assignee", "action": "changed",
                           "new_value": {"gid": "3", "resource_type": "user"}},
            })
        );
    }
}
