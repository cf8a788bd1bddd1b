//! The [`Simulator`] handle: binds 127.0.0.1, runs axum on its own thread and tokio runtime
//! (so it works from plain `#[test]`s and from inside `#[tokio::test]` alike), exposes the
//! in-process test-control API and stops the server on drop. The same runtime runs the
//! webhook delivery task and every request the simulator makes to webhook targets.

use std::net::TcpListener;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;

use crate::faults::Faults;
use crate::limits::Limits;
use crate::lock;
use crate::model::{Fault, RecordedRequest, SimOptions, SimTask, TaskEdit, TaskSeed};
use crate::state::State;
use crate::webhooks::{Registry, SimDelivery, SimWebhook};

/// The default valid bot token (a fake PAT).
pub const DEFAULT_TOKEN: &str = "2/1200000000000002/1200000000000099:asana-sim-bot-token";

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The simulated world. A std mutex: no await happens while it is held.
    pub state: Mutex<State>,
    /// Every API request since start/clear.
    pub requests: Mutex<Vec<RecordedRequest>>,
    /// Requests for routes the simulator does not know.
    pub unexpected: Mutex<Vec<RecordedRequest>>,
    /// Pending injected faults.
    pub faults: Mutex<Faults>,
    /// Standard and concurrent limiters.
    pub limits: Limits,
    /// Per-request latency.
    pub latency: Mutex<Duration>,
    /// `Asana-Change` values every API answer carries (Asana's announcements of API
    /// changes: `name=...;info=...[;affected=true]`).
    pub api_changes: Mutex<Vec<String>>,
    /// Extra latency for later pages (requests with an `offset`).
    pub page_delay: Duration,
    /// Tokens that authenticate as the bot user.
    pub tokens: Mutex<Vec<String>>,
    /// OAuth grants, codes and access tokens (`crate::oauth`).
    pub oauth: Mutex<crate::oauth::OAuth>,
    /// The bot token handed out by [`Simulator::token`].
    pub bot_token: String,
    /// `http://127.0.0.1:PORT`.
    pub root_url: String,
    /// The API router (without the `/api/1.0` prefix), for `POST /batch` to dispatch into.
    pub api: OnceLock<Router>,
    /// Webhooks and the deliveries made to their targets.
    pub webhooks: Mutex<Registry>,
    /// The client for handshakes and deliveries (used on the simulator's runtime only).
    pub webhook_client: OnceLock<reqwest::Client>,
    /// The simulator's runtime, where control calls that talk to targets run.
    pub runtime: tokio::runtime::Handle,
}

/// The shared state handle the routes receive.
pub(crate) type Sim = Arc<Shared>;

impl Shared {
    fn new(opts: &SimOptions, root_url: String, runtime: tokio::runtime::Handle) -> Shared {
        let token = opts
            .token
            .clone()
            .unwrap_or_else(|| DEFAULT_TOKEN.to_owned());
        Shared {
            state: Mutex::new(State::new()),
            requests: Mutex::new(Vec::new()),
            unexpected: Mutex::new(Vec::new()),
            faults: Mutex::new(Faults::default()),
            limits: Limits::new(opts.rate_limit_per_minute, opts.rate_window),
            api_changes: Mutex::new(Vec::new()),
            latency: Mutex::new(opts.latency),
            page_delay: opts.page_delay,
            tokens: Mutex::new(vec![token.clone()]),
            oauth: Mutex::new(crate::oauth::OAuth::default()),
            bot_token: token,
            root_url,
            api: OnceLock::new(),
            webhooks: Mutex::new(Registry::default()),
            webhook_client: OnceLock::new(),
            runtime,
        }
    }

    /// `http://127.0.0.1:PORT/api/1.0`.
    pub fn base_url(&self) -> String {
        format!("{}/api/1.0", self.root_url)
    }

    /// Whether the `Authorization` header carries a valid bearer token.
    pub fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let Some((scheme, token)) = value.split_once(' ') else {
            return false;
        };
        scheme.eq_ignore_ascii_case("bearer")
            && (lock(&self.tokens).iter().any(|t| t == token.trim())
                || lock(&self.oauth).authorizes(token.trim()))
    }

    pub fn record(&self, request: RecordedRequest) {
        lock(&self.requests).push(request);
    }

    pub fn record_unexpected(&self, request: RecordedRequest) {
        tracing::warn!(method = %request.method, path = %request.path, "asana-sim: unexpected request");
        lock(&self.unexpected).push(request.clone());
        lock(&self.requests).push(request);
    }
}

/// A running Asana simulator. Dropping it stops the server.
#[derive(Debug)]
pub struct Simulator {
    pub(crate) shared: Sim,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
    /// Whether dropping fails on unexpected requests (tests: yes; the binary: no).
    check_unexpected: bool,
}

impl Simulator {
    /// Starts on a free port with default options.
    pub fn start() -> Simulator {
        Simulator::start_with(SimOptions::default())
    }

    /// Starts with `opts`. Panics if the port cannot be bound (a test setup error).
    pub fn start_with(opts: SimOptions) -> Simulator {
        let listener = TcpListener::bind(("127.0.0.1", opts.port.unwrap_or(0)))
            .unwrap_or_else(|e| panic!("asana-sim: cannot bind 127.0.0.1:{:?}: {e}", opts.port));
        listener
            .set_nonblocking(true)
            .expect("asana-sim: cannot make the listener non-blocking");
        let port = listener
            .local_addr()
            .expect("asana-sim: bound listener has an address")
            .port();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("asana-sim-worker")
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("asana-sim: cannot build a tokio runtime: {e}"));
        let shared = Arc::new(Shared::new(
            &opts,
            format!("http://127.0.0.1:{port}"),
            runtime.handle().clone(),
        ));
        let app = crate::routes::app(Arc::clone(&shared));
        let (tx, rx) = tokio::sync::watch::channel(false);
        let deliveries = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("asana-sim-{port}"))
            .spawn(move || serve(runtime, listener, app, rx, deliveries))
            .expect("asana-sim: cannot spawn the server thread");
        Simulator {
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
            check_unexpected: true,
        }
    }

    /// `http://127.0.0.1:PORT/api/1.0`, the base URL a client uses.
    pub fn base_url(&self) -> String {
        self.shared.base_url()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn root_url(&self) -> String {
        self.shared.root_url.clone()
    }

    /// The valid bot token.
    pub fn token(&self) -> String {
        self.shared.bot_token.clone()
    }

    /// The workspace every object lives in.
    pub fn workspace_gid(&self) -> String {
        lock(&self.shared.state).workspace_gid.clone()
    }

    /// The bot user the token belongs to.
    pub fn me_gid(&self) -> String {
        lock(&self.shared.state).me.clone()
    }

    /// Adds a workspace member (returns the existing gid for a known email).
    pub fn add_user(&self, name: &str, email: &str) -> String {
        lock(&self.shared.state).add_user(name, email)
    }

    /// Hides a member's e-mail from the token, as Asana does for some accounts: its user
    /// objects carry no `email` from then on.
    pub fn hide_email(&self, email: &str) {
        let mut st = lock(&self.shared.state);
        if let Some(u) = st
            .users
            .iter_mut()
            .find(|u| u.email.eq_ignore_ascii_case(email))
        {
            u.email_hidden = true;
        }
    }

    /// Creates a project with no sections.
    pub fn create_project(&self, name: &str) -> String {
        lock(&self.shared.state).create_project(name)
    }

    /// Adds a section at the end of a project (acting as alice). Panics on an unknown project.
    pub fn add_section(&self, project: &str, name: &str) -> String {
        self.shared
            .ctl_add_section(project, name)
            .unwrap_or_else(|e| panic!("asana-sim: add_section({project}, {name}): {}", e.message))
    }

    /// Renames a section as alice (a `changed` event on the section). Panics on an unknown
    /// section or an empty name.
    pub fn rename_section(&self, gid: &str, name: &str) {
        let mut st = lock(&self.shared.state);
        let alice = st.alice.clone();
        st.rename_section(&alice, gid, name)
            .unwrap_or_else(|e| panic!("asana-sim: rename_section({gid}): {}", e.message));
    }

    /// Serves task `gid` as `raw` (projected by `opt_fields` like any task) instead of its
    /// real representation, in listings and reads, until the simulator stops: a fault for
    /// testing how a client copes with a malformed answer.
    pub fn serve_malformed_task(&self, gid: &str, raw: serde_json::Value) {
        lock(&self.shared.state)
            .malformed
            .insert(gid.to_owned(), raw);
    }

    /// Creates a task as alice (emits events). Panics on bad input (unknown project/user).
    pub fn add_task(&self, project: &str, seed: TaskSeed) -> String {
        self.shared
            .ctl_add_task(project, &seed)
            .unwrap_or_else(|e| panic!("asana-sim: add_task({project}): {}", e.message))
    }

    /// Edits a task as alice (bumps `modified_at` where Asana does; emits events).
    pub fn edit_task(&self, gid: &str, edit: TaskEdit) {
        self.shared
            .ctl_edit_task(gid, &edit)
            .unwrap_or_else(|e| panic!("asana-sim: edit_task({gid}): {}", e.message));
    }

    /// Edits a task as the token's own user, as a person whose personal access token the
    /// bridge uses would in the Asana UI (events carry the bridge's own user).
    pub fn edit_task_as_token_user(&self, gid: &str, edit: TaskEdit) {
        let me = self.me_gid();
        self.shared
            .ctl_edit_task_as(&me, gid, &edit)
            .unwrap_or_else(|e| panic!("asana-sim: edit_task_as_token_user({gid}): {}", e.message));
    }

    /// Deletes a task as alice.
    pub fn delete_task(&self, gid: &str) {
        self.shared
            .ctl_delete_task(gid)
            .unwrap_or_else(|e| panic!("asana-sim: delete_task({gid}): {}", e.message));
    }

    /// Restores a deleted task from Asana's trash, as alice.
    pub fn restore_task(&self, gid: &str) {
        self.shared
            .ctl_restore_task(gid)
            .unwrap_or_else(|e| panic!("asana-sim: restore_task({gid}): {}", e.message));
    }

    /// Adds a comment to a task as alice: its `modified_at` moves, no synced field does.
    pub fn add_comment(&self, gid: &str) {
        self.shared
            .ctl_add_comment(gid)
            .unwrap_or_else(|e| panic!("asana-sim: add_comment({gid}): {}", e.message));
    }

    /// Sets this Asana's clock `offset` ahead of the machine's (negative: behind), in its
    /// timestamps and `Date` headers alike.
    pub fn set_clock_offset(&self, offset: jiff::SignedDuration) {
        lock(&self.shared.state).set_clock_offset(offset);
    }

    /// A task's current state; `None` if unknown or deleted.
    pub fn task(&self, gid: &str) -> Option<SimTask> {
        self.shared.ctl_task(gid)
    }

    /// A project's live tasks in project order.
    pub fn project_tasks(&self, project: &str) -> Vec<SimTask> {
        self.shared.ctl_project_tasks(project)
    }

    /// Every API request since start or the last [`Simulator::clear_requests`].
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Forgets recorded requests (and unexpected ones).
    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
        lock(&self.shared.unexpected).clear();
    }

    /// Requests to routes the simulator does not implement. Any left when the simulator
    /// is dropped fail the test (see [`Simulator::take_unexpected_requests`]).
    pub fn unexpected_requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.unexpected).clone()
    }

    /// The requests to routes the simulator does not implement, forgotten: for a test that
    /// sends them on purpose, so that dropping the simulator does not fail it.
    pub fn take_unexpected_requests(&self) -> Vec<RecordedRequest> {
        std::mem::take(&mut *lock(&self.shared.unexpected))
    }

    /// Lets the simulator be dropped with unexpected requests recorded: for the `asana-sim`
    /// binary, which serves whoever calls and reports them through `/_sim/unexpected`.
    pub fn tolerate_unexpected_requests(&mut self) {
        self.check_unexpected = false;
    }

    /// Queues a fault for the next matching requests.
    pub fn inject(&self, fault: Fault) {
        lock(&self.shared.faults).add(fault);
    }

    /// Makes every sync token invalid (the next `/events` call answers 412).
    pub fn expire_sync_tokens(&self) {
        lock(&self.shared.state).events.expire_tokens();
    }

    /// The bot token stops working (401).
    pub fn revoke_token(&self) {
        let token = self.shared.bot_token.clone();
        lock(&self.shared.tokens).retain(|t| *t != token);
    }

    /// Makes the bot token valid again after [`Simulator::revoke_token`].
    pub fn restore_token(&self) {
        let mut tokens = lock(&self.shared.tokens);
        if !tokens.contains(&self.shared.bot_token) {
            tokens.push(self.shared.bot_token.clone());
        }
    }

    /// Changes the per-request latency.
    pub fn set_latency(&self, d: Duration) {
        *lock(&self.shared.latency) = d;
    }

    /// Changes the standard rate limit (`None` = unlimited).
    pub fn set_rate_limit(&self, per_minute: Option<u32>) {
        self.shared.limits.set_per_minute(per_minute);
    }

    /// Changes the window of the standard rate limit (`None`: a minute).
    pub fn set_rate_window(&self, window: Option<Duration>) {
        self.shared.limits.set_window(window);
    }

    /// From now on every API answer carries `Asana-Change: <value>` (one header per
    /// announced change), as Asana announces an API change; e.g.
    /// `name=new_goal_memberships;info=https://asa.na/...;affected=true`.
    pub fn announce_change(&self, value: &str) {
        lock(&self.shared.api_changes).push(value.to_owned());
    }

    /// How many requests the limiters rejected with 429 (not counting injected faults).
    pub fn rate_limited_count(&self) -> usize {
        self.shared
            .limits
            .rejected
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Gid of a section of `project` by name, if any.
    pub fn section_gid(&self, project: &str, name: &str) -> Option<String> {
        self.shared.ctl_section_gid(project, name)
    }

    /// Gid of a workspace tag by name, if any.
    pub fn tag_gid(&self, name: &str) -> Option<String> {
        lock(&self.shared.state)
            .tag_by_name(name)
            .map(|t| t.gid.clone())
    }

    /// Every webhook, in creation order.
    pub fn webhooks(&self) -> Vec<SimWebhook> {
        lock(&self.shared.webhooks).list()
    }

    /// Every POST made to a webhook target (handshakes, deliveries, heartbeats, forgeries)
    /// with the status the target answered, oldest first.
    pub fn deliveries(&self) -> Vec<SimDelivery> {
        lock(&self.shared.webhooks).deliveries.clone()
    }

    /// Turns webhook deliveries off (events are then lost, as when Asana's deliveries
    /// fail: the bridge's backup poll must find them) or on again (only new events are
    /// delivered).
    pub fn set_webhook_delivery(&self, enabled: bool) {
        lock(&self.shared.webhooks).delivery_enabled = enabled;
    }

    /// The secret of a webhook (what the handshake sent), to sign test deliveries.
    pub fn webhook_secret(&self, gid: &str) -> Option<String> {
        lock(&self.shared.webhooks)
            .find(gid)
            .map(|h| h.secret.clone())
    }

    /// POSTs `body` to `target` with `X-Hook-Signature: signature` (or none) and returns
    /// the status the target answered (0 when it did not answer). Async so that a target
    /// served by the caller's own runtime can answer; the request runs on the simulator's
    /// runtime.
    pub async fn send_forged_delivery(
        &self,
        target: &str,
        body: &str,
        signature: Option<&str>,
    ) -> u16 {
        let sim = Arc::clone(&self.shared);
        let (target, body, signature) = (
            target.to_owned(),
            body.to_owned(),
            signature.map(str::to_owned),
        );
        self.shared
            .runtime
            .spawn(async move {
                crate::webhooks::forged(&sim, &target, &body, signature.as_deref()).await
            })
            .await
            .unwrap_or(0)
    }

    /// [`Simulator::send_forged_delivery`] for callers without a runtime (the target must
    /// be served elsewhere, e.g. by a child process: this blocks the calling thread).
    pub fn send_forged_delivery_blocking(
        &self,
        target: &str,
        body: &str,
        signature: Option<&str>,
    ) -> u16 {
        let sim = Arc::clone(&self.shared);
        self.shared
            .runtime
            .block_on(async move { crate::webhooks::forged(&sim, target, body, signature).await })
    }

    /// Sends a signed heartbeat (`{"events":[]}`) to every active webhook now; returns
    /// the statuses the targets answered.
    pub async fn send_heartbeats(&self) -> Vec<u16> {
        let sim = Arc::clone(&self.shared);
        self.shared
            .runtime
            .spawn(async move { crate::webhooks::heartbeats(&sim).await })
            .await
            .unwrap_or_default()
    }

    /// Gid of a user by email, if any.
    pub fn user_gid(&self, email: &str) -> Option<String> {
        lock(&self.shared.state)
            .user_by_email(email)
            .map(|u| u.gid.clone())
    }
}

impl Drop for Simulator {
    /// Stops the server, then fails the test if it saw a request it does not serve.
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if self.check_unexpected {
            let unexpected: Vec<String> = lock(&self.shared.unexpected)
                .iter()
                .map(|r| format!("{} {}?{}", r.method, r.path, r.query))
                .collect();
            sim_support::fail_on_unexpected("asana-sim", &unexpected);
        }
    }
}

/// Runs the server (and the webhook delivery task) until shutdown is signalled (then gives
/// in-flight requests 1 s).
fn serve(
    runtime: tokio::runtime::Runtime,
    listener: TcpListener,
    app: Router,
    rx: tokio::sync::watch::Receiver<bool>,
    sim: Sim,
) {
    runtime.spawn(crate::webhooks::deliver_forever(sim));
    runtime.block_on(sim_support::serve_until_stopped(
        listener,
        app,
        rx,
        "asana-sim",
    ));
    runtime.shutdown_timeout(Duration::from_millis(200));
}
