//! GitHub repository webhooks for the GitHub links of `watch --webhook-listen … --webhook-url
//! …`: served by the same receiver as Asana's, at the same link URL, and like them only a
//! prompt to poll (the GitHub side is still read through the connector, with `ETag`s).
//!
//! What this module owns:
//! - one repository webhook per GitHub link (events `issues`, `issue_comment`; target
//!   `<PUBLIC_URL>/<link name>`), created when the receiver already serves (GitHub sends a
//!   `ping` right away) and deleted on shutdown;
//! - the secret: chosen here (GitHub has no handshake) from the OS's random source, kept
//!   in memory and in the state store (table [`GITHUB_TABLE`], key = link name; the store
//!   is owner-only) with the hook's id, so a restart after a crash deletes what the
//!   crashed run left; sent to GitHub only in the create request's body;
//! - verification of every delivery: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the
//!   raw body>`, in constant time, streamed as the body arrives (a missing or malformed
//!   header is refused before the body is read); a missing or bad signature gets 401 and
//!   changes nothing;
//! - repeats: a delivery whose body (its SHA-256, which the signature covers) or whose
//!   GUID (`X-GitHub-Delivery`, which it does not) was seen lately is answered 200 and
//!   ignored, so a captured delivery replayed under fresh GUIDs prompts nothing; a `ping`
//!   wakes nothing; prompts go through the link's [`Prompter`] (at most one per second).
//!
//! Secrets and signatures are never logged, put into errors or printed by `Debug`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use asana_bridge_connector::connector::TargetHooks;
use asana_bridge_state::{StateError, Store};
use axum::http::{HeaderMap, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

use super::delivery::{Prompter, Recent, Signed, seen_lately};
use super::hooks::{self, Records, TargetHookService};
use super::receiver::{Admit, Answer, BodySink};

/// The state-store table of GitHub webhook records, keyed by link name.
pub const GITHUB_TABLE: &str = "webhooks/github";

/// The header that marks a GitHub delivery (and names its event).
pub const EVENT_HEADER: &str = "x-github-event";

const SIGNATURE_HEADER: &str = "x-hub-signature-256";
const DELIVERY_HEADER: &str = "x-github-delivery";

/// What the state store keeps per GitHub link: enough to verify deliveries and to delete
/// the hook after a crash.
#[derive(Clone, Serialize, Deserialize)]
pub struct GithubHookRecord {
    /// `owner/name`.
    pub repo: String,
    /// The URL GitHub was given.
    pub target: String,
    /// The hook's id, once GitHub answered the create.
    pub id: Option<u64>,
    /// The secret; dropped once the hook is deleted (or being deleted).
    pub secret: Option<String>,
}

impl fmt::Debug for GithubHookRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GithubHookRecord")
            .field("repo", &self.repo)
            .field("target", &self.target)
            .field("id", &self.id)
            .field("secret", &self.secret.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

/// A GitHub link to hook.
pub struct GithubLink {
    /// `owner/name`, for records and messages.
    pub repo: String,
    /// The repository's hooks, as the GitHub crate offers them.
    pub connector: Arc<dyn TargetHooks>,
}

/// One link's hook as it stands.
#[derive(Default)]
struct HookState {
    secret: Option<SecretString>,
    id: Option<u64>,
    /// Created and not deleted: deliveries may come.
    active: bool,
}

/// The GitHub hooks of every GitHub link of a watch.
pub struct GithubHooks {
    links: HashMap<String, GithubLink>,
    hooks: Mutex<HashMap<String, HookState>>,
    /// Delivery GUIDs seen lately, with their link.
    recent_guids: Recent<String>,
    /// Digests of verified bodies seen lately, with their link.
    recent_bodies: Recent<[u8; 32]>,
    /// The links' records (table [`GITHUB_TABLE`]).
    records: Records<GithubHookRecord>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means a handler panicked mid-update; the data stays usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl GithubHooks {
    pub fn new(links: HashMap<String, GithubLink>, store: Arc<Store>) -> Result<Self, StateError> {
        let records = Records::open(store, GITHUB_TABLE, "GitHub webhook")?;
        Ok(Self {
            links,
            hooks: Mutex::default(),
            recent_guids: Arc::default(),
            recent_bodies: Arc::default(),
            records,
        })
    }

    /// Knows `secret` for `link`'s deliveries without a hook on GitHub (see
    /// [`super::webhook::Receiver::with_secrets`]).
    pub(super) fn preset(&self, link: &str, secret: SecretString) {
        lock(&self.hooks).insert(
            link.to_owned(),
            HookState {
                secret: Some(secret),
                ..HookState::default()
            },
        );
    }

    /// Whether `link` is a GitHub link (it has a hook to keep).
    #[must_use]
    pub fn has(&self, link: &str) -> bool {
        self.links.contains_key(link)
    }

    /// Whether `link`'s hook is live.
    #[must_use]
    pub fn is_active(&self, link: &str) -> bool {
        lock(&self.hooks).get(link).is_some_and(|h| h.active)
    }

    /// The id of `link`'s live hook.
    #[must_use]
    pub fn hook_id(&self, link: &str) -> Option<u64> {
        lock(&self.hooks)
            .get(link)
            .filter(|h| h.active)
            .and_then(|h| h.id)
    }

    /// Decides on a GitHub delivery's head for `link`: without the link's secret or a
    /// well-formed `X-Hub-Signature-256` it is refused before its body is read; else its
    /// body goes through the check, and a verified, new, non-`ping` one prompts.
    pub fn admit(&self, link: &str, headers: &HeaderMap, prompter: Arc<Prompter>) -> Admit {
        let secret = lock(&self.hooks).get(link).and_then(|h| h.secret.clone());
        let signed = secret
            .as_ref()
            .ok_or("GitHub deliveries for a link without a webhook")
            .and_then(|secret| {
                let header = headers
                    .get(SIGNATURE_HEADER)
                    .ok_or("GitHub deliveries without X-Hub-Signature-256")?
                    .as_bytes();
                let hex = header
                    .strip_prefix(b"sha256=")
                    .ok_or("GitHub signatures that are not sha256=…")?;
                let signature = hex::decode(hex).map_err(|_| "signatures that are not hex")?;
                if signature.len() != 32 {
                    return Err("signatures that are not HMAC-SHA256");
                }
                Signed::new(secret.expose_secret().as_bytes(), signature).ok_or("unusable secret")
            });
        match signed {
            Err(reason) => Admit::Now(Answer::refuse(StatusCode::UNAUTHORIZED, reason)),
            Ok(signed) => Admit::Read(Box::new(GithubDelivery {
                link: link.to_owned(),
                event: headers
                    .get(EVENT_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned(),
                guid: headers
                    .get(DELIVERY_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                signed,
                prompter,
                recent_guids: Arc::clone(&self.recent_guids),
                recent_bodies: Arc::clone(&self.recent_bodies),
            })),
        }
    }

    /// Removes what an earlier run left, then creates `link`'s hook to `target`; on
    /// failure, one warning (the link polls).
    pub async fn register(&self, link: &str, target: &str) {
        let Some(github) = self.links.get(link) else {
            return;
        };
        self.remove_stale(link, github, target).await;
        let secret = new_secret();
        // Known before the create: GitHub's ping may arrive before its answer.
        self.store_record(link, github, target, None, Some(&secret));
        lock(&self.hooks).insert(
            link.to_owned(),
            HookState {
                secret: Some(secret.clone()),
                ..HookState::default()
            },
        );
        match github.connector.create(target, &secret).await {
            Ok(hook) => {
                self.store_record(link, github, target, Some(hook.id), Some(&secret));
                if let Some(state) = lock(&self.hooks).get_mut(link) {
                    state.id = Some(hook.id);
                    state.active = true;
                }
                info!(link, repo = %github.repo, hook = hook.id, "GitHub webhook registered");
            }
            Err(e) => {
                lock(&self.hooks).remove(link);
                self.forget_record(link);
                warn!(link, repo = %github.repo, "no GitHub webhook, polling GitHub only: {e}");
            }
        }
    }

    /// Asks GitHub about `link`'s hook; one that is gone or inactive is created again.
    pub async fn refresh(&self, link: &str, target: &str) {
        let Some(github) = self.links.get(link) else {
            return;
        };
        if let Some(id) = self.hook_id(link) {
            match github.connector.get(id).await {
                Ok(Some(hook)) if hook.active => return,
                Ok(_) => {
                    warn!(
                        link,
                        hook = id,
                        "the GitHub webhook is gone or inactive; registering it again"
                    );
                }
                Err(e) => {
                    debug!(link, "cannot check the GitHub webhook: {e}");
                    return;
                }
            }
        }
        self.register(link, target).await;
    }

    /// Forgets every secret, then deletes every live hook (within the caller's time
    /// budget); a hook that could not be deleted keeps its id in the store for the next
    /// start.
    pub async fn shutdown(&self, targets: &HashMap<String, String>) {
        let live: Vec<(String, u64)> = {
            let mut hooks = lock(&self.hooks);
            hooks
                .iter_mut()
                .filter_map(|(link, state)| {
                    state.active = false;
                    state.secret = None;
                    state.id.take().map(|id| (link.clone(), id))
                })
                .collect()
        };
        for (link, id) in &live {
            if let (Some(github), Some(target)) = (self.links.get(link), targets.get(link)) {
                self.store_record(link, github, target, Some(*id), None);
            }
        }
        let deletes = live.iter().filter_map(|(link, id)| {
            let github = self.links.get(link)?;
            Some(async move { (link, id, github.connector.delete(*id).await) })
        });
        for (link, id, result) in futures::future::join_all(deletes).await {
            match result {
                Ok(_) => {
                    debug!(link = %link, hook = id, "GitHub webhook deleted");
                    self.forget_record(link);
                }
                Err(e) => warn!(
                    link = %link, hook = id,
                    "cannot delete the GitHub webhook ({e}); the next watch deletes it"
                ),
            }
        }
    }

    /// Deletes the hook whose id the store holds for `link`, and any hook of the
    /// repository with `link`'s target.
    async fn remove_stale(&self, link: &str, github: &GithubLink, target: &str) {
        let recorded = self
            .records
            .get(link)
            .and_then(|r| r.id)
            .map(|id| id.to_string());
        self.forget_record(link);
        let service = TargetHookService {
            hooks: github.connector.as_ref(),
            what: "GitHub webhook",
            scope_noun: "repository",
        };
        hooks::remove_stale(link, &service, recorded, target).await;
    }

    fn store_record(
        &self,
        link: &str,
        github: &GithubLink,
        target: &str,
        id: Option<u64>,
        secret: Option<&SecretString>,
    ) {
        let record = GithubHookRecord {
            repo: github.repo.clone(),
            target: target.to_owned(),
            id,
            secret: secret.map(|s| s.expose_secret().to_owned()),
        };
        self.records.put(link, &record);
    }

    fn forget_record(&self, link: &str) {
        self.records.forget(link);
    }
}

/// A GitHub delivery whose head passed: its body streams through the signature check.
struct GithubDelivery {
    link: String,
    event: String,
    guid: Option<String>,
    signed: Signed,
    prompter: Arc<Prompter>,
    recent_guids: Recent<String>,
    recent_bodies: Recent<[u8; 32]>,
}

impl BodySink for GithubDelivery {
    fn chunk(&mut self, bytes: &[u8]) {
        self.signed.update(bytes);
    }

    fn end(self: Box<Self>) -> Answer {
        let this = *self;
        let link = this.link.as_str();
        let verified = match this.signed.finish() {
            Ok(v) => v,
            Err(reason) => return Answer::refuse(StatusCode::UNAUTHORIZED, reason),
        };
        // Both are remembered, whichever matched: the body (covered by the signature) and
        // the GUID (GitHub's redeliveries keep it).
        let body_seen = seen_lately(&this.recent_bodies, (this.link.clone(), verified.digest));
        let guid_seen = this
            .guid
            .as_ref()
            .is_some_and(|g| seen_lately(&this.recent_guids, (this.link.clone(), g.clone())));
        if body_seen || guid_seen {
            debug!(link, "a repeated GitHub delivery");
        } else if this.event == "ping" {
            debug!(link, "GitHub webhook ping");
        } else {
            debug!(link, event = %this.event, "GitHub webhook delivery: polling now");
            this.prompter.prompt();
        }
        Answer::ok()
    }
}

/// 244 random bits from the OS (two v4 UUIDs), as 64 hex digits.
fn new_secret() -> SecretString {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    SecretString::from(format!("{a}{b}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record's `Debug` hides the secret; secrets are long, random and distinct.
    #[test]
    fn records_hide_the_secret_and_secrets_are_fresh() {
        let record = GithubHookRecord {
            repo: "o/r".into(),
            target: "https://h/x".into(),
            id: Some(2),
            secret: Some("s3cr3t".into()),
        };
        assert!(!format!("{record:?}").contains("s3cr3t"));
        let (a, b) = (new_secret(), new_secret());
        assert_eq!(a.expose_secret().len(), 64);
        assert_ne!(a.expose_secret(), b.expose_secret());
    }
}
