//! Webhook deliveries, as GitHub makes them for repository hooks.
//!
//! - There is no handshake: the API caller picks the secret when it creates the hook, and
//!   GitHub sends a `ping` right after answering the create.
//! - Every change queues its events in [`State::outbox`] (payloads as of the change); after
//!   each write request (in the gate) and each control-API change, [`flush`] turns them
//!   into one job per hook that wants the event (active, and `events` names it or `*`;
//!   a `ping` goes to its hook only) and hands the jobs to the background task
//!   ([`deliver_forever`], on the simulator's runtime) through a channel. Nothing is sent
//!   while a lock is held, and an API answer never waits for a delivery.
//! - A delivery is a POST to `config.url` with `X-GitHub-Event`, `X-GitHub-Delivery` (a
//!   UUID v4), `X-GitHub-Hook-ID`, `X-GitHub-Hook-Installation-Target-Type/-ID`,
//!   `User-Agent: GitHub-Hookshot/github-sim` and, when the hook has a secret,
//!   `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`. The body is the JSON
//!   payload (`content_type: json`) or `payload=<url-encoded JSON>` (`form`, GitHub's
//!   default). The target has 10 s to answer; redirects are not followed.
//! - At most once: a failed delivery is recorded, not retried. Lost deliveries
//!   ([`crate::GithubSim::set_drop_deliveries`]) are recorded as dropped and not sent.
//! - Jobs are sent one at a time in the order of the changes, each at least
//!   [`DELIVERY_DELAY`] after it was queued (so the answer of the request that caused it
//!   normally reaches the client first).
//!
//! Lock order: `Shared::state` before `Shared::deliveries`.

use std::time::{Duration, Instant};

use hmac::{KeyInit, Mac};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::lock;
use crate::model::{DeliveryOutcome, SimHookDelivery};
use crate::server::{Shared, Sim};
use crate::state::State;

/// GitHub gives a target 10 s to answer.
const TARGET_TIMEOUT: Duration = Duration::from_secs(10);

/// The least time between a change and its delivery.
pub const DELIVERY_DELAY: Duration = Duration::from_millis(30);

/// The `User-Agent` of deliveries.
const USER_AGENT: &str = "GitHub-Hookshot/github-sim";

/// The delivery log and the lost-deliveries switch.
#[derive(Debug, Default)]
pub(crate) struct Deliveries {
    pub log: Vec<SimHookDelivery>,
    /// When true, deliveries are recorded as dropped instead of being sent.
    pub drop: bool,
}

/// One delivery for the background task to make.
#[derive(Debug)]
pub(crate) struct Job {
    hook_id: u64,
    url: String,
    secret: Option<String>,
    form: bool,
    event: &'static str,
    action: Option<String>,
    guid: String,
    repo_id: u64,
    payload: Value,
    queued: Instant,
}

impl Job {
    fn record(&self, outcome: DeliveryOutcome) -> SimHookDelivery {
        SimHookDelivery {
            hook_id: self.hook_id,
            url: self.url.clone(),
            event: self.event.to_owned(),
            action: self.action.clone(),
            guid: self.guid.clone(),
            outcome,
        }
    }
}

/// Lowercase hex HMAC-SHA256 of `body` keyed with `secret`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3 / 2);
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// Hands the events queued in `st` to the delivery task (or records them as dropped).
/// Called with the state lock held; takes the delivery log's lock after it.
pub(crate) fn flush(sim: &Shared, st: &mut State) {
    let outgoing = std::mem::take(&mut st.outbox);
    if outgoing.is_empty() {
        return;
    }
    let now = Instant::now();
    let mut jobs = Vec::new();
    for event in outgoing {
        for hook in st.hooks.iter().filter(|h| match event.only_hook {
            Some(id) => h.id == id,
            None => h.wants(event.event),
        }) {
            jobs.push(Job {
                hook_id: hook.id,
                url: hook.url.clone(),
                secret: hook.secret.clone(),
                form: hook.content_type == "form",
                event: event.event,
                action: event.action.clone(),
                guid: uuid::Uuid::new_v4().to_string(),
                repo_id: st.repo_id,
                payload: event.payload.clone(),
                queued: now,
            });
        }
    }
    let mut deliveries = lock(&sim.deliveries);
    for job in jobs {
        if deliveries.drop {
            deliveries.log.push(job.record(DeliveryOutcome::Dropped));
        } else if let Err(refused) = sim.jobs.send(job) {
            let record = refused.0.record(DeliveryOutcome::Failed(
                "the simulator is stopping".to_owned(),
            ));
            deliveries.log.push(record);
        }
    }
    sim.delivered.send_replace(deliveries.log.len());
}

/// [`flush`] under the state lock.
pub(crate) fn flush_pending(sim: &Shared) {
    let mut st = lock(&sim.state);
    flush(sim, &mut st);
}

/// POSTs one delivery; what the target answered.
async fn send(client: &reqwest::Client, job: &Job) -> DeliveryOutcome {
    let json = job.payload.to_string();
    let (body, content_type) = if job.form {
        (
            format!("payload={}", form_encode(&json)),
            "application/x-www-form-urlencoded",
        )
    } else {
        (json, "application/json")
    };
    let mut request = client
        .post(&job.url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .header(reqwest::header::USER_AGENT, USER_AGENT)
        .header("X-GitHub-Event", job.event)
        .header("X-GitHub-Delivery", &job.guid)
        .header("X-GitHub-Hook-ID", job.hook_id.to_string())
        .header("X-GitHub-Hook-Installation-Target-Type", "repository")
        .header(
            "X-GitHub-Hook-Installation-Target-ID",
            job.repo_id.to_string(),
        );
    if let Some(secret) = &job.secret {
        request = request.header(
            "X-Hub-Signature-256",
            format!("sha256={}", sign(secret, body.as_bytes())),
        );
    }
    match request.body(body).send().await {
        Ok(response) => DeliveryOutcome::Answered(response.status().as_u16()),
        Err(e) => {
            // The whole chain: reqwest's own message says little ("error sending request").
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                message.push_str(": ");
                message.push_str(&cause.to_string());
                source = cause.source();
            }
            DeliveryOutcome::Failed(message)
        }
    }
}

/// The background task: makes each job in turn, at most once, and records the outcome
/// (and the hook's `last_response`).
pub(crate) async fn deliver_forever(sim: Sim, mut jobs: mpsc::UnboundedReceiver<Job>) {
    // A fresh connection per delivery, as GitHub makes them: a pooled one the target has
    // closed meanwhile would fail the POST (which is never retried).
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(TARGET_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap_or_else(|_| reqwest::Client::new());
    while let Some(job) = jobs.recv().await {
        let wait = DELIVERY_DELAY.saturating_sub(job.queued.elapsed());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let outcome = send(&client, &job).await;
        {
            let mut st = lock(&sim.state);
            if let Some(hook) = st.hooks.iter_mut().find(|h| h.id == job.hook_id) {
                match &outcome {
                    DeliveryOutcome::Answered(code) => {
                        hook.last_code = Some(*code);
                        "active".clone_into(&mut hook.last_status);
                        hook.last_message = Some(if (200..300).contains(code) {
                            "OK".to_owned()
                        } else {
                            format!("Invalid HTTP Response: {code}")
                        });
                    }
                    DeliveryOutcome::Failed(error) => {
                        hook.last_code = None;
                        "failed".clone_into(&mut hook.last_status);
                        hook.last_message = Some(error.clone());
                    }
                    DeliveryOutcome::Dropped => {}
                }
            }
        }
        if let DeliveryOutcome::Failed(error) = &outcome {
            tracing::debug!(hook = job.hook_id, url = %job.url, "github-sim: delivery failed: {error}");
        }
        let mut deliveries = lock(&sim.deliveries);
        deliveries.log.push(job.record(outcome));
        sim.delivered.send_replace(deliveries.log.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The signature is the lowercase hex HMAC-SHA256 (RFC 4231 test case 2).
    #[test]
    fn signs_like_github() {
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    /// Form bodies encode everything but unreserved characters, spaces as `+`.
    #[test]
    fn form_encoding() {
        assert_eq!(
            form_encode(r#"{"a": "b c/é"}"#),
            "%7B%22a%22%3A+%22b+c%2F%C3%A9%22%7D"
        );
    }
}
