//! Asana webhooks for `watch --webhook-listen ADDR --webhook-url PUBLIC_URL`: a real-time
//! accelerator in front of the polling loops, never a source of data.
//!
//! What this module owns:
//! - the HTTP receiver on `ADDR` (served by [`super::receiver`], which bounds time, size
//!   and connections): `POST <any path>/<link name>` (the last path segment names the
//!   link, percent-encoded, so a proxy may strip or add a prefix); the link and the
//!   signature header are checked before a byte of the body is read;
//! - one Asana webhook per link on the link's project, target `<PUBLIC_URL>/<link name>`,
//!   registered while the receiver already serves (Asana's `X-Hook-Secret` handshake comes
//!   in *during* the create request);
//! - the secrets: taken from the handshake (exactly one accepted per registration, the
//!   first while it is pending; later ones get 401), kept in memory and in the state
//!   store (table [`SECRETS_TABLE`], key = link name; the store's directory is
//!   owner-only) together with the webhook's gid, so a restart after a crash can delete
//!   what the crashed run left behind;
//! - verification of every delivery: `X-Hook-Signature` must be the hex HMAC-SHA256 of the
//!   raw body keyed with the link's secret, compared in constant time
//!   (`Mac::verify_slice`), streamed as the body arrives; a missing or bad signature gets
//!   401 and changes nothing;
//! - a verified delivery with events is only a prompt: it wakes the link's loop
//!   ([`Prompter`]: at most once per link per second, later prompts folded into one at
//!   the end of that second), which then polls Asana's event feed as usual; a verified
//!   empty batch (Asana's heartbeat) and a body seen lately (a replay, a retry) are
//!   answered 200 and wake nothing;
//! - deleting the webhooks on [`Webhooks::shutdown`], bounded in time;
//! - for a link whose target has webhooks (a GitHub repository), its hook too, on the
//!   same URL ([`super::target_hook`]): a delivery the target's rules claim (GitHub's
//!   carry `X-GitHub-Event`) is handed to it.
//!
//! Secrets and signatures are never logged, put into errors or printed by `Debug`.
//! A link whose registration fails gets one warning and goes on by polling only.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::delivery::{Prompter, Recent, Signed, seen_lately};
use super::hooks::{self, AsanaProjectHooks, HookRecord, Records};
use super::receiver::{Admit, Answer, BodySink, Endpoint, Server};
use super::target_hook::{TargetLink, TargetWebhooks};
use asana_bridge_asana::AsanaClient;
use asana_bridge_asana::webhooks as api;
use asana_bridge_connector::connector::DeliveryRules;
use asana_bridge_state::{StateError, Store};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::Sha256;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

/// The state-store table of webhook records, keyed by link name.
pub const SECRETS_TABLE: &str = "webhooks/secrets";

/// Asana's handshake header (request and echoed response).
const SECRET_HEADER: &str = "x-hook-secret";

/// Asana's signature header on deliveries.
const SIGNATURE_HEADER: &str = "x-hook-signature";

/// Time allowed for deleting the webhooks on shutdown.
const DELETE_BUDGET: Duration = Duration::from_secs(4);

/// Time allowed for the receiver to finish in-flight requests on shutdown.
const STOP_BUDGET: Duration = Duration::from_secs(1);

/// Where `watch` listens and what Asana is told.
#[derive(Clone, Debug)]
pub struct WebhookOptions {
    /// The address the receiver binds (e.g. `127.0.0.1:8787` behind a reverse proxy).
    pub listen: SocketAddr,
    /// The public URL that reaches the receiver (`https://bridge.example.com/asana`); each
    /// link's target is this URL plus `/<link name>`.
    pub public_url: String,
}

/// One linked project to hook, and the Notify to wake its poll loop.
pub struct LinkHook {
    pub link: String,
    pub project: String,
    pub prompt: Arc<Notify>,
    /// The link's target, to hook as well when it has webhooks (a GitHub repository).
    pub target: Option<TargetLink>,
}

/// Why the webhooks could not start (a registration failing is not one: that link polls).
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("cannot listen for webhooks on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("--webhook-url {url:?} {reason}")]
    PublicUrl { url: String, reason: &'static str },
    #[error("two links have the same webhook name {0:?}")]
    DuplicateLink(String),
    #[error(transparent)]
    State(#[from] StateError),
}

/// A link as the receiver knows it (fixed for the run).
struct LinkInfo {
    project: String,
    target: String,
    prompter: Arc<Prompter>,
}

/// A link's webhook as it stands.
#[derive(Default)]
struct HookState {
    /// A create request is in flight: a handshake is expected.
    pending: bool,
    secret: Option<SecretString>,
    gid: Option<String>,
    /// Registered and not deleted: deliveries may come.
    active: bool,
}

/// What the receiver's handler shares with [`Webhooks`].
struct Shared {
    links: HashMap<String, LinkInfo>,
    hooks: Mutex<HashMap<String, HookState>>,
    /// The links' records (table [`SECRETS_TABLE`]).
    records: Records,
    /// The links' target hooks.
    targets: TargetWebhooks,
    /// Digests of verified Asana deliveries lately, with their link.
    recent: Recent<[u8; 32]>,
}

impl Shared {
    fn hooks(&self) -> MutexGuard<'_, HashMap<String, HookState>> {
        // A poisoned lock only means a handler panicked mid-update; the flags stay usable.
        self.hooks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn record(&self, link: &str, gid: Option<String>, secret: Option<String>) -> HookRecord {
        let info = &self.links[link];
        HookRecord {
            scope: info.project.clone(),
            target: info.target.clone(),
            id: gid,
            secret,
        }
    }

    /// Answers the handshake of a pending registration: the first one stores its secret
    /// and is echoed; any other (none pending, or one already answered) gets 401.
    fn handshake(&self, link: &str, value: &HeaderValue) -> Answer {
        let Ok(secret) = value.to_str() else {
            return Answer::refuse(StatusCode::BAD_REQUEST, "unreadable handshakes");
        };
        if secret.is_empty() {
            return Answer::refuse(StatusCode::BAD_REQUEST, "unreadable handshakes");
        }
        let mut hooks = self.hooks();
        let state = hooks.entry(link.to_owned()).or_default();
        if !state.pending || state.secret.is_some() {
            return Answer::refuse(StatusCode::UNAUTHORIZED, "handshakes nobody asked for");
        }
        let record = self.record(link, None, Some(secret.to_owned()));
        if !self.records.put(link, &record) {
            return Answer {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                headers: Vec::new(),
                refused: None,
            };
        }
        state.secret = Some(SecretString::from(secret.to_owned()));
        debug!(link, "webhook handshake answered");
        let mut answer = Answer::ok();
        answer
            .headers
            .push((HeaderName::from_static(SECRET_HEADER), value.clone()));
        answer
    }

    /// The link's secret and the signature a delivery's header spells, or why there is
    /// nothing to check the body against (decided before the body is read).
    fn asana_check(
        &self,
        link: &str,
        signature: Option<&HeaderValue>,
    ) -> Result<Signed, &'static str> {
        let signature = decode_signature(signature.map(HeaderValue::as_bytes))?;
        if signature.len() != 32 {
            return Err("signatures that are not HMAC-SHA256");
        }
        let secret = self
            .hooks()
            .get(link)
            .and_then(|s| s.secret.clone())
            .ok_or("deliveries for a link without a webhook")?;
        Signed::new(secret.expose_secret().as_bytes(), signature).ok_or("unusable secret")
    }
}

/// The receiver's endpoint: handshakes and deliveries for every link.
struct Receive(Arc<Shared>);

impl Endpoint for Receive {
    fn admit(&self, head: &axum::http::request::Parts) -> Admit {
        let shared = &self.0;
        if head.method != Method::POST {
            return Admit::Now(Answer::refuse(
                StatusCode::METHOD_NOT_ALLOWED,
                "requests that are not a POST",
            ));
        }
        let Some(link) = link_of(head.uri.path()) else {
            return Admit::Now(Answer::refuse(StatusCode::NOT_FOUND, "unknown links"));
        };
        let Some(info) = shared.links.get(&link) else {
            return Admit::Now(Answer::refuse(StatusCode::NOT_FOUND, "unknown links"));
        };
        if shared.targets.claims(&link, &head.headers) {
            return shared
                .targets
                .admit(&link, &head.headers, Arc::clone(&info.prompter));
        }
        if let Some(secret) = head.headers.get(SECRET_HEADER) {
            return Admit::Now(shared.handshake(&link, secret));
        }
        match shared.asana_check(&link, head.headers.get(SIGNATURE_HEADER)) {
            Err(reason) => Admit::Now(Answer::refuse(StatusCode::UNAUTHORIZED, reason)),
            Ok(signed) => Admit::Read(Box::new(AsanaDelivery {
                shared: Arc::clone(shared),
                link,
                signed,
            })),
        }
    }
}

/// An Asana delivery whose head passed: its body streams through the signature check.
struct AsanaDelivery {
    shared: Arc<Shared>,
    link: String,
    signed: Signed,
}

impl BodySink for AsanaDelivery {
    fn chunk(&mut self, bytes: &[u8]) {
        self.signed.update(bytes);
    }

    fn end(self: Box<Self>) -> Answer {
        let AsanaDelivery {
            shared,
            link,
            signed,
        } = *self;
        let verified = match signed.finish() {
            Ok(v) => v,
            Err(reason) => return Answer::refuse(StatusCode::UNAUTHORIZED, reason),
        };
        let events = verified
            .body
            .as_deref()
            .and_then(|b| serde_json::from_slice::<Delivery>(b).ok())
            .map(|d| d.events.len());
        if events == Some(0) {
            debug!(link = %link, "webhook heartbeat");
        } else if seen_lately(&shared.recent, (link.clone(), verified.digest)) {
            debug!(link = %link, "a repeated webhook delivery");
        } else if let Some(info) = shared.links.get(&link) {
            debug!(link = %link, events = ?events, "webhook delivery: polling now");
            info.prompter.prompt();
        }
        Answer::ok()
    }
}

/// Whether `signature_header` (the raw `X-Hook-Signature` value, `None` when absent) is
/// the hex HMAC-SHA256 of `body` keyed with `secret`, compared in constant time. This is
/// the whole check the receiver applies to a delivery before acting on it.
#[must_use]
pub fn verify_delivery(secret: &[u8], body: &[u8], signature_header: Option<&[u8]>) -> bool {
    decode_signature(signature_header)
        .and_then(|signature| check_mac(secret, body, &signature))
        .is_ok()
}

/// The bytes an `X-Hook-Signature` value spells in hex.
fn decode_signature(header: Option<&[u8]>) -> Result<Vec<u8>, &'static str> {
    let header = header.ok_or("deliveries without X-Hook-Signature")?;
    hex::decode(header).map_err(|_| "signatures that are not hex")
}

/// HMAC-SHA256 of `body` keyed with `secret` against `signature`, in constant time
/// (`Mac::verify_slice`).
pub(super) fn check_mac(secret: &[u8], body: &[u8], signature: &[u8]) -> Result<(), &'static str> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| "unusable secret")?;
    mac.update(body);
    mac.verify_slice(signature)
        .map_err(|_| "signature does not match")
}

/// The body of a delivery; only the number of events matters.
#[derive(Deserialize)]
struct Delivery {
    #[serde(default)]
    events: Vec<serde::de::IgnoredAny>,
}

/// The running receiver and the registered webhooks.
pub struct Webhooks {
    shared: Arc<Shared>,
    client: Arc<AsanaClient>,
    local_addr: Option<SocketAddr>,
    stop: Option<watch::Sender<bool>>,
    server: Option<JoinHandle<()>>,
}

impl fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hooks = self.shared.hooks();
        let mut links: Vec<(&str, bool)> = self
            .shared
            .links
            .keys()
            .map(|l| (l.as_str(), hooks.get(l).is_some_and(|h| h.active)))
            .collect();
        links.sort_unstable();
        f.debug_struct("Webhooks")
            .field("local_addr", &self.local_addr)
            .field("active", &links)
            .finish_non_exhaustive()
    }
}

impl Webhooks {
    /// Binds `listen`, serves the receiver, removes webhooks an earlier run left behind,
    /// registers one webhook per link (while already serving: the handshake comes in
    /// during the create request), stores each secret, and returns once every
    /// registration finished. A link whose registration fails gets one warning line and
    /// is not [`Webhooks::is_active`].
    ///
    /// # Errors
    /// [`WebhookError::Bind`] when `listen` cannot be bound, [`WebhookError::PublicUrl`]
    /// for an unusable public URL, [`WebhookError::State`] when the store fails.
    pub async fn start(
        opts: WebhookOptions,
        client: Arc<AsanaClient>,
        store: Arc<Store>,
        links: Vec<LinkHook>,
    ) -> Result<Webhooks, WebhookError> {
        let base = public_base(&opts.public_url)?;
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .map_err(|source| WebhookError::Bind {
                addr: opts.listen,
                source,
            })?;
        Self::serve(listener, base, client, store, links).await
    }

    /// [`Webhooks::start`] on an already bound listener (tests bind port 0 first to learn
    /// the address the public URL names).
    ///
    /// # Errors
    /// As [`Webhooks::start`], but no bind error.
    pub async fn start_on(
        listener: tokio::net::TcpListener,
        public_url: &str,
        client: Arc<AsanaClient>,
        store: Arc<Store>,
        links: Vec<LinkHook>,
    ) -> Result<Webhooks, WebhookError> {
        let base = public_base(public_url)?;
        Self::serve(listener, base, client, store, links).await
    }

    async fn serve(
        listener: tokio::net::TcpListener,
        base: String,
        client: Arc<AsanaClient>,
        store: Arc<Store>,
        links: Vec<LinkHook>,
    ) -> Result<Webhooks, WebhookError> {
        let mut infos = HashMap::new();
        let mut targets = HashMap::new();
        for hook in links {
            if let Some(t) = hook.target {
                targets.insert(hook.link.clone(), t);
            }
            let target = format!("{base}/{}", encode_segment(&hook.link));
            let info = LinkInfo {
                project: hook.project,
                target,
                prompter: Prompter::new(hook.prompt),
            };
            if infos.insert(hook.link.clone(), info).is_some() {
                return Err(WebhookError::DuplicateLink(hook.link));
            }
        }
        let records = Records::open(Arc::clone(&store), SECRETS_TABLE, "webhook")?;
        let targets = TargetWebhooks::new(targets, store)?;
        let shared = Arc::new(Shared {
            links: infos,
            hooks: Mutex::default(),
            records,
            targets,
            recent: Recent::default(),
        });
        let local_addr = listener.local_addr().ok();
        let (stop, stopped) = watch::channel(false);
        let receiver = Server::new(Receive(Arc::clone(&shared)));
        let server = tokio::spawn(receiver.run(listener, stopped));
        let webhooks = Webhooks {
            shared,
            client,
            local_addr,
            stop: Some(stop),
            server: Some(server),
        };
        let mut names: Vec<String> = webhooks.shared.links.keys().cloned().collect();
        names.sort_unstable();
        futures::future::join_all(names.iter().map(|link| webhooks.register(link))).await;
        webhooks.flush();
        let active = names.iter().filter(|l| webhooks.is_active(l)).count();
        info!(
            "webhooks: {active} of {} links registered, receiver on {}",
            names.len(),
            local_addr.map_or_else(|| "?".to_owned(), |a| a.to_string())
        );
        Ok(webhooks)
    }

    /// Whether link `link` has a live webhook on each of its sides that can have one
    /// (Asana, and its target when that has webhooks), so its loop may poll at the slower
    /// backup interval.
    #[must_use]
    pub fn is_active(&self, link: &str) -> bool {
        self.shared.hooks().get(link).is_some_and(|h| h.active)
            && (!self.shared.targets.has(link) || self.shared.targets.is_active(link))
    }

    /// The address the receiver listens on.
    #[must_use]
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// The target URL Asana was (or would be) given for `link`.
    #[must_use]
    pub fn target(&self, link: &str) -> Option<String> {
        self.shared.links.get(link).map(|i| i.target.clone())
    }

    /// The gid of `link`'s live webhook.
    #[must_use]
    pub fn webhook_gid(&self, link: &str) -> Option<String> {
        self.shared
            .hooks()
            .get(link)
            .filter(|h| h.active)
            .and_then(|h| h.gid.clone())
    }

    /// Asks Asana about every webhook: one that is gone (Asana deletes a webhook after a
    /// day of failed deliveries) or inactive is forgotten, and every link without a live
    /// webhook is registered again. Returns how many links have a live webhook. For a
    /// long-running watch to call now and then (e.g. hourly).
    pub async fn refresh(&self) -> usize {
        let mut names: Vec<String> = self.shared.links.keys().cloned().collect();
        names.sort_unstable();
        for link in &names {
            let Some(gid) = self.webhook_gid(link) else {
                continue;
            };
            match api::get_webhook(&self.client, &gid).await {
                Ok(Some(hook)) if hook.active => {}
                Ok(_) => {
                    warn!(link = %link, webhook = %gid, "the webhook is gone or inactive; registering it again");
                    if let Some(state) = self.shared.hooks().get_mut(link.as_str()) {
                        state.active = false;
                    }
                }
                Err(e) => debug!(link = %link, "cannot check the webhook: {e}"),
            }
        }
        for link in &names {
            if self.webhook_gid(link).is_none() {
                self.register_asana(link).await;
            }
            if let Some(info) = self.shared.links.get(link) {
                self.shared.targets.refresh(link, &info.target).await;
            }
        }
        self.flush();
        names.iter().filter(|l| self.is_active(l)).count()
    }

    /// Deletes the registered webhooks (`DELETE /webhooks/{gid}`), forgets their secrets
    /// and stops the receiver. Best effort, bounded in time (about five seconds): a
    /// webhook that could not be deleted keeps its gid in the store and is deleted by the
    /// next start.
    pub async fn shutdown(mut self) {
        let registered: Vec<(String, String)> = {
            let mut hooks = self.shared.hooks();
            hooks
                .iter_mut()
                .filter_map(|(link, state)| {
                    state.active = false;
                    state.pending = false;
                    state.secret = None;
                    state.gid.take().map(|gid| (link.clone(), gid))
                })
                .collect()
        };
        // The secrets go first, so that none outlives the run even if deleting stalls.
        for (link, gid) in &registered {
            self.store_record(link, Some(gid.clone()), None);
        }
        let client = &self.client;
        let deletes =
            futures::future::join_all(registered.iter().map(|(link, gid)| async move {
                (link, gid, api::delete_webhook(client, gid).await)
            }));
        let targets: HashMap<String, String> = self
            .shared
            .links
            .iter()
            .map(|(link, info)| (link.clone(), info.target.clone()))
            .collect();
        let both = futures::future::join(deletes, self.shared.targets.shutdown(&targets));
        match tokio::time::timeout(DELETE_BUDGET, both).await {
            Ok((results, ())) => {
                for (link, gid, result) in results {
                    match result {
                        Ok(_) => {
                            debug!(link = %link, webhook = %gid, "webhook deleted");
                            self.forget_record(link);
                        }
                        Err(e) => warn!(
                            link = %link, webhook = %gid,
                            "cannot delete the webhook ({e}); the next watch deletes it"
                        ),
                    }
                }
            }
            Err(_) => warn!("deleting the webhooks took too long; the next watch deletes them"),
        }
        self.flush();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(mut server) = self.server.take()
            && tokio::time::timeout(STOP_BUDGET, &mut server)
                .await
                .is_err()
        {
            server.abort();
        }
    }

    /// Registers `link`'s webhooks: Asana's, and its target's when that has webhooks.
    async fn register(&self, link: &str) {
        if let Some(info) = self.shared.links.get(link) {
            futures::future::join(
                self.register_asana(link),
                self.shared.targets.register(link, &info.target),
            )
            .await;
        }
    }

    /// Removes stale webhooks of `link`, then creates its webhook; on failure, one warning.
    async fn register_asana(&self, link: &str) {
        let Some(info) = self.shared.links.get(link) else {
            return;
        };
        self.remove_stale(link, info).await;
        let mut result = self.create(link, info).await;
        if let Err(RegisterError::Asana(e)) = &result
            && api::is_duplicate(e)
        {
            // Left by an earlier run whose record was lost: delete it by its target.
            self.remove_stale(link, info).await;
            result = self.create(link, info).await;
        }
        match result {
            Ok(gid) => info!(link, webhook = %gid, "webhook registered"),
            Err(e) => warn!(link, "no webhook, polling only: {e}"),
        }
    }

    /// One create request with its handshake; the webhook's gid once it is usable.
    async fn create(&self, link: &str, info: &LinkInfo) -> Result<String, RegisterError> {
        {
            let mut hooks = self.shared.hooks();
            let state = hooks.entry(link.to_owned()).or_default();
            *state = HookState {
                pending: true,
                ..HookState::default()
            };
        }
        let created = api::create_webhook(&self.client, &info.project, &info.target).await;
        let secret = {
            let mut hooks = self.shared.hooks();
            let state = hooks.entry(link.to_owned()).or_default();
            state.pending = false;
            match &created {
                Ok(hook) if state.secret.is_some() => {
                    state.gid = Some(hook.gid.clone());
                    state.active = true;
                }
                _ => state.secret = None,
            }
            state.secret.clone()
        };
        match (created, secret) {
            (Ok(hook), Some(secret)) => {
                self.store_record(
                    link,
                    Some(hook.gid.clone()),
                    Some(secret.expose_secret().to_owned()),
                );
                Ok(hook.gid)
            }
            (Ok(hook), None) => {
                // Created without a handshake reaching us: its deliveries cannot be
                // verified, so it is of no use.
                if let Err(e) = api::delete_webhook(&self.client, &hook.gid).await {
                    debug!(link, webhook = %hook.gid, "cannot delete an unverifiable webhook: {e}");
                }
                self.forget_record(link);
                Err(RegisterError::NoHandshake)
            }
            (Err(e), _) => {
                self.forget_record(link);
                Err(RegisterError::Asana(e))
            }
        }
    }

    /// Deletes what an earlier run of this link left: the webhook whose gid the store
    /// holds, and any webhook on the project with this link's target.
    async fn remove_stale(&self, link: &str, info: &LinkInfo) {
        let recorded = self.shared.records.get(link).and_then(|r| r.id);
        self.shared.records.forget(link);
        let project = AsanaProjectHooks {
            client: &self.client,
            project: &info.project,
        };
        hooks::remove_stale(link, &project, recorded, &info.target).await;
    }

    fn store_record(&self, link: &str, gid: Option<String>, secret: Option<String>) {
        let record = self.shared.record(link, gid, secret);
        self.shared.records.put(link, &record);
    }

    fn forget_record(&self, link: &str) {
        self.shared.records.forget(link);
    }

    fn flush(&self) {
        if let Err(e) = self.shared.records.store().flush() {
            warn!("cannot flush the webhook records: {e}");
        }
    }
}

/// The receiver's request handling on its own, for links whose secrets are already known
/// (no registration with Asana or a target's service): what [`Webhooks`] serves, for the fuzz target
/// and for tests that drive it without the network.
pub struct Receiver {
    server: Arc<Server<Receive>>,
}

/// One link of a [`Receiver::with_secrets`].
pub struct PresetLink {
    pub hook: LinkHook,
    /// The Asana webhook's secret (`None`: no webhook, deliveries are refused).
    pub asana_secret: Option<SecretString>,
    /// An Asana registration in progress: the first handshake is accepted.
    pub pending: bool,
    /// The target hook's delivery rules and secret (`None`: no target hook).
    pub target_hook: Option<PresetHook>,
}

/// A target hook of a [`PresetLink`]: how its deliveries look, and its secret.
pub struct PresetHook {
    pub rules: Arc<dyn DeliveryRules>,
    pub secret: SecretString,
}

impl Receiver {
    /// A receiver for `links` with the given secrets; webhook records go to `store`
    /// (a handshake stores its secret there).
    ///
    /// # Errors
    /// [`WebhookError::DuplicateLink`], or the store's error.
    pub fn with_secrets(
        public_url: &str,
        store: Arc<Store>,
        links: Vec<PresetLink>,
    ) -> Result<Self, WebhookError> {
        let base = public_base(public_url)?;
        let records = Records::open(Arc::clone(&store), SECRETS_TABLE, "webhook")?;
        let targets = TargetWebhooks::new(HashMap::new(), store)?;
        let mut infos = HashMap::new();
        let mut hooks = HashMap::new();
        for link in links {
            let name = link.hook.link.clone();
            if let Some(hook) = link.target_hook {
                targets.preset(&name, hook.rules, hook.secret);
            }
            hooks.insert(
                name.clone(),
                HookState {
                    pending: link.pending,
                    active: link.asana_secret.is_some(),
                    secret: link.asana_secret,
                    gid: None,
                },
            );
            let info = LinkInfo {
                project: link.hook.project,
                target: format!("{base}/{}", encode_segment(&name)),
                prompter: Prompter::new(link.hook.prompt),
            };
            if infos.insert(name.clone(), info).is_some() {
                return Err(WebhookError::DuplicateLink(name));
            }
        }
        let shared = Arc::new(Shared {
            links: infos,
            hooks: Mutex::new(hooks),
            records,
            targets,
            recent: Recent::default(),
        });
        Ok(Self {
            server: Server::new(Receive(shared)),
        })
    }

    /// Serves one connection (any byte stream) to its end, with the receiver's limits.
    pub async fn serve_io<I>(&self, io: I)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        self.server.serve_io(io).await;
    }
}

impl Drop for Webhooks {
    /// Without [`Webhooks::shutdown`] (a crash, a panic) the receiver stops; the webhooks
    /// stay registered and the next start removes them.
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// Why one link's registration failed (for its warning line).
#[derive(Debug, thiserror::Error)]
enum RegisterError {
    #[error("{0}")]
    Asana(#[from] asana_bridge_connector::ConnectorError),
    #[error("Asana created the webhook but its handshake never reached this receiver")]
    NoHandshake,
}

/// The public URL without a trailing `/`, checked.
fn public_base(url: &str) -> Result<String, WebhookError> {
    let fail = |reason| WebhookError::PublicUrl {
        url: url.to_owned(),
        reason,
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| fail("must start with https:// (or http://)"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(fail("has no host"));
    }
    if url.contains(['?', '#']) || url.chars().any(char::is_whitespace) {
        return Err(fail("must not have a query, a fragment or spaces"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// A link name as one URL path segment (RFC 3986 unreserved characters kept, every other
/// byte as `%XX`): the last segment of the webhook target [`link_of`] reads back.
#[must_use]
pub fn encode_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The link named by the last segment of a request path (trailing `/` ignored),
/// percent-decoded; `None` for an empty segment, a bad escape or bytes that are not UTF-8.
/// A `/` reaches the name only as `%2F` (names may contain one).
#[must_use]
pub fn link_of(path: &str) -> Option<String> {
    let segment = path.trim_end_matches('/').rsplit('/').next()?;
    if segment.is_empty() {
        return None;
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Link names survive the trip through the target URL, whatever the prefix.
    #[test]
    fn link_names_round_trip() {
        for name in ["roadmap", "bugs & fixes", "ünï/cödé", "a%b", "~x.y_z-1"] {
            let path = format!("/asana/hooks/{}", encode_segment(name));
            assert_eq!(link_of(&path).as_deref(), Some(name), "{path}");
        }
        assert_eq!(link_of("/"), None);
        assert_eq!(link_of("/x/%zz"), None);
        assert_eq!(link_of("/x/roadmap/").as_deref(), Some("roadmap"));
    }

    /// The public URL must be http(s) with a host and nothing after the path.
    #[test]
    fn public_urls_are_checked() {
        assert_eq!(
            public_base("https://h.example/asana/").ok().as_deref(),
            Some("https://h.example/asana")
        );
        for bad in [
            "h.example",
            "https://",
            "https:///x",
            "https://h/x?a=1",
            "ftp://h",
        ] {
            assert!(public_base(bad).is_err(), "{bad}");
        }
    }
}
