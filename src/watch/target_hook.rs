//! A target's webhooks (a GitHub repository's) for the links of `watch --webhook-listen …
//! --webhook-url …`: served by the same receiver as Asana's, at the same link URL, and
//! like them only a prompt to poll (the target is still read through its connector).
//! Which target a link has is its crate's business: this module knows the hooks only
//! through [`TargetHooks`] and their deliveries through [`DeliveryRules`].
//!
//! What this module owns:
//! - one hook per link whose target has hooks (target `<PUBLIC_URL>/<link name>`),
//!   created when the receiver already serves (a service may test the hook right away)
//!   and deleted on shutdown;
//! - the secret: chosen here (such services have no handshake) from the OS's random
//!   source, kept in memory and in the state store (table [`TARGET_TABLE`], key = link
//!   name; the store is owner-only) with the hook's id, so a restart after a crash
//!   deletes what the crashed run left; handed only to the target's `create`;
//! - routing: a request the link's [`DeliveryRules`] claim (GitHub's carry
//!   `X-GitHub-Event`) is checked by them, as its body streams in; a refusal gets 401 and
//!   changes nothing;
//! - repeats: a delivery whose body (its SHA-256, which the signature covers) or whose
//!   id (which it may not cover) was seen lately is answered 200 and ignored, so a
//!   captured delivery replayed under fresh ids prompts nothing; a delivery that tells
//!   nothing (a `ping`) wakes nothing; prompts go through the link's [`Prompter`] (at
//!   most one per second).
//!
//! Secrets and signatures are never logged, put into errors or printed by `Debug`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use asana_bridge_connector::connector::{
    DeliveryCheck, DeliveryHeaders, DeliveryNews, DeliveryRules, TargetHooks,
};
use asana_bridge_state::{StateError, Store};
use axum::http::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use tracing::{debug, info, warn};

use super::delivery::{Prompter, Recent, seen_lately};
use super::hooks::{self, HookRecord, Records, TargetHookService};
use super::receiver::{Admit, Answer, BodySink};

/// The state-store table of the targets' webhook records ([`HookRecord`]s), keyed by
/// link name.
pub const TARGET_TABLE: &str = "webhooks/target";

/// A link's target, to hook.
pub struct TargetLink {
    /// What the hooks are on (`owner/name`), for records and messages.
    pub scope: String,
    /// The target's hooks, as its crate offers them.
    pub hooks: Arc<dyn TargetHooks>,
}

impl TargetLink {
    /// The link's target hooks, with the scope they name.
    #[must_use]
    pub fn new(hooks: Arc<dyn TargetHooks>) -> Self {
        Self {
            scope: hooks.scope(),
            hooks,
        }
    }
}

/// One link's hook as it stands.
struct HookState {
    /// How its deliveries look.
    rules: Arc<dyn DeliveryRules>,
    secret: Option<SecretString>,
    id: Option<u64>,
    /// Created and not deleted: deliveries may come.
    active: bool,
}

impl HookState {
    fn new(rules: Arc<dyn DeliveryRules>, secret: SecretString) -> Self {
        Self {
            rules,
            secret: Some(secret),
            id: None,
            active: false,
        }
    }
}

/// The target hooks of every link of a watch that has them.
pub struct TargetWebhooks {
    links: HashMap<String, TargetLink>,
    hooks: Mutex<HashMap<String, HookState>>,
    /// Delivery ids seen lately, with their link.
    recent_ids: Recent<String>,
    /// Digests of verified bodies seen lately, with their link.
    recent_bodies: Recent<[u8; 32]>,
    /// The links' records (table [`TARGET_TABLE`]).
    records: Records,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means a handler panicked mid-update; the data stays usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl TargetWebhooks {
    /// The hooks of `links` (link name -> its target), their records in `store`.
    ///
    /// # Errors
    /// The store's error.
    pub fn new(links: HashMap<String, TargetLink>, store: Arc<Store>) -> Result<Self, StateError> {
        let records = Records::open(store, TARGET_TABLE, "target webhook")?;
        Ok(Self {
            links,
            hooks: Mutex::default(),
            recent_ids: Arc::default(),
            recent_bodies: Arc::default(),
            records,
        })
    }

    /// Knows `secret` for `link`'s deliveries, which look as `rules` say, without a hook on
    /// the service (see [`super::webhook::Receiver::with_secrets`]).
    pub(super) fn preset(&self, link: &str, rules: Arc<dyn DeliveryRules>, secret: SecretString) {
        lock(&self.hooks).insert(link.to_owned(), HookState::new(rules, secret));
    }

    /// Whether `link`'s target has hooks to keep.
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

    /// Whether a request for `link` with `headers` is a delivery of its target's hooks
    /// (else it is Asana's).
    #[must_use]
    pub fn claims(&self, link: &str, headers: &DeliveryHeaders) -> bool {
        let rules = match self.links.get(link) {
            Some(target) => Some(target.hooks.deliveries()),
            None => lock(&self.hooks).get(link).map(|h| Arc::clone(&h.rules)),
        };
        rules.is_some_and(|rules| rules.claims(headers))
    }

    /// Decides on the head of a delivery for `link` (one [`Self::claims`]): without the
    /// link's secret, or refused by the target's rules, it is refused before its body is
    /// read; else its body goes through the check, and a verified, new one that tells of a
    /// change prompts.
    pub fn admit(&self, link: &str, headers: &DeliveryHeaders, prompter: Arc<Prompter>) -> Admit {
        let known = lock(&self.hooks)
            .get(link)
            .and_then(|h| Some((Arc::clone(&h.rules), h.secret.clone()?)));
        let Some((rules, secret)) = known else {
            return Admit::Now(Answer::refuse(
                StatusCode::UNAUTHORIZED,
                "target deliveries for a link without a webhook",
            ));
        };
        match rules.open(headers, &secret) {
            Err(refusal) => Admit::Now(Answer::refuse(StatusCode::UNAUTHORIZED, refusal.reason())),
            Ok(check) => Admit::Read(Box::new(TargetDelivery {
                link: link.to_owned(),
                check,
                prompter,
                recent_ids: Arc::clone(&self.recent_ids),
                recent_bodies: Arc::clone(&self.recent_bodies),
            })),
        }
    }

    /// Removes what an earlier run left, then creates `link`'s hook to `target`; on
    /// failure, one warning (the link polls).
    pub async fn register(&self, link: &str, target: &str) {
        let Some(hooked) = self.links.get(link) else {
            return;
        };
        let service = hooked.hooks.service();
        self.remove_stale(link, hooked, target).await;
        let secret = new_secret();
        // Known before the create: the service may test the hook before it answers.
        self.store_record(link, hooked, target, None, Some(&secret));
        lock(&self.hooks).insert(
            link.to_owned(),
            HookState::new(hooked.hooks.deliveries(), secret.clone()),
        );
        match hooked.hooks.create(target, &secret).await {
            Ok(hook) => {
                self.store_record(link, hooked, target, Some(hook.id), Some(&secret));
                if let Some(state) = lock(&self.hooks).get_mut(link) {
                    state.id = Some(hook.id);
                    state.active = true;
                }
                info!(link, scope = %hooked.scope, hook = hook.id, "{service} webhook registered");
            }
            Err(e) => {
                lock(&self.hooks).remove(link);
                self.forget_record(link);
                warn!(link, scope = %hooked.scope, "no {service} webhook, polling {service} only: {e}");
            }
        }
    }

    /// Asks the service about `link`'s hook; one that is gone or inactive is created
    /// again.
    pub async fn refresh(&self, link: &str, target: &str) {
        let Some(hooked) = self.links.get(link) else {
            return;
        };
        let service = hooked.hooks.service();
        if let Some(id) = self.hook_id(link) {
            match hooked.hooks.get(id).await {
                Ok(Some(hook)) if hook.active => return,
                Ok(_) => {
                    warn!(
                        link,
                        hook = id,
                        "the {service} webhook is gone or inactive; registering it again"
                    );
                }
                Err(e) => {
                    debug!(link, "cannot check the {service} webhook: {e}");
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
            if let (Some(hooked), Some(target)) = (self.links.get(link), targets.get(link)) {
                self.store_record(link, hooked, target, Some(*id), None);
            }
        }
        let deletes = live.iter().filter_map(|(link, id)| {
            let hooked = self.links.get(link)?;
            Some(async move { (link, id, hooked, hooked.hooks.delete(*id).await) })
        });
        for (link, id, hooked, result) in futures::future::join_all(deletes).await {
            let service = hooked.hooks.service();
            match result {
                Ok(_) => {
                    debug!(link = %link, hook = id, "{service} webhook deleted");
                    self.forget_record(link);
                }
                Err(e) => warn!(
                    link = %link, hook = id,
                    "cannot delete the {service} webhook ({e}); the next watch deletes it"
                ),
            }
        }
    }

    /// Deletes the hook whose id the store holds for `link`, and any hook of the scope
    /// with `link`'s target.
    async fn remove_stale(&self, link: &str, hooked: &TargetLink, target: &str) {
        let recorded = self.records.get(link).and_then(|r| r.id);
        self.forget_record(link);
        let service = TargetHookService {
            hooks: hooked.hooks.as_ref(),
        };
        hooks::remove_stale(link, &service, recorded, target).await;
    }

    fn store_record(
        &self,
        link: &str,
        hooked: &TargetLink,
        target: &str,
        id: Option<u64>,
        secret: Option<&SecretString>,
    ) {
        let record = HookRecord {
            scope: hooked.scope.clone(),
            target: target.to_owned(),
            id: id.map(|id| id.to_string()),
            secret: secret.map(|s| s.expose_secret().to_owned()),
        };
        self.records.put(link, &record);
    }

    fn forget_record(&self, link: &str) {
        self.records.forget(link);
    }
}

/// A target delivery whose head passed: its body streams through the target's check.
struct TargetDelivery {
    link: String,
    check: Box<dyn DeliveryCheck>,
    prompter: Arc<Prompter>,
    recent_ids: Recent<String>,
    recent_bodies: Recent<[u8; 32]>,
}

impl BodySink for TargetDelivery {
    fn chunk(&mut self, bytes: &[u8]) {
        self.check.update(bytes);
    }

    fn end(self: Box<Self>) -> Answer {
        let this = *self;
        let link = this.link.as_str();
        let checked = match this.check.finish() {
            Ok(v) => v,
            Err(refusal) => return Answer::refuse(StatusCode::UNAUTHORIZED, refusal.reason()),
        };
        // Both are remembered, whichever matched: the body (covered by the signature) and
        // the delivery id (redeliveries keep it).
        let body_seen = seen_lately(&this.recent_bodies, (this.link.clone(), checked.digest));
        let id_seen = checked
            .id
            .as_ref()
            .is_some_and(|g| seen_lately(&this.recent_ids, (this.link.clone(), g.clone())));
        if body_seen || id_seen {
            debug!(link, "a repeated target webhook delivery");
        } else {
            match checked.news {
                DeliveryNews::Nothing { what } => {
                    debug!(link, "target webhook delivery of nothing to act on: {what}");
                }
                DeliveryNews::Changed { event } => {
                    debug!(link, event = %event, "target webhook delivery: polling now");
                    this.prompter.prompt();
                }
            }
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

    /// Secrets are long, random and distinct.
    #[test]
    fn secrets_are_fresh() {
        let (a, b) = (new_secret(), new_secret());
        assert_eq!(a.expose_secret().len(), 64);
        assert_ne!(a.expose_secret(), b.expose_secret());
    }
}
