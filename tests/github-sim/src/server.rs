//! The [`GithubSim`] handle: binds 127.0.0.1, runs axum on its own thread and tokio runtime
//! (so it works from plain `#[test]`s and from inside `#[tokio::test]` alike), exposes the
//! in-process control API (what a person does in the GitHub UI, and what tests inspect,
//! webhook deliveries included) and stops the server on drop.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;

use crate::faults::Faults;
use crate::limits::Limits;
use crate::lock;
use crate::model::{
    Fault, IssueEdit, IssueSeed, RecordedRequest, Role, SimComment, SimHook, SimHookDelivery,
    SimIssue, SimOptions,
};
use crate::state::{Changes, State};
use crate::webhooks::{Deliveries, Job};

/// A fine-grained personal access token the simulator accepts.
pub const PAT_TOKEN: &str = "github_pat_11SIM0000000000000000_simulatedfinegrainedtokenvalue";
/// A GitHub App installation token the simulator accepts. It is no user (`GET /user`
/// answers `403`); the comments it writes are the App's bot account's ([`APP_BOT`]).
pub const INSTALLATION_TOKEN: &str = "ghs_simulatedInstallationToken0000000000";
/// The login of the App behind [`INSTALLATION_TOKEN`], as GitHub shows an App's writes.
pub const APP_BOT: &str = "asana-bridge[bot]";

/// Everything the handlers share. Std mutexes: no await happens while one is held, and
/// none is taken while another is held except `limits` then `state` in the gate, and
/// `state` then `deliveries` when webhook events are handed over.
#[derive(Debug)]
pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub limits: Mutex<Limits>,
    pub faults: Mutex<Faults>,
    pub requests: Mutex<Vec<RecordedRequest>>,
    pub unexpected: Mutex<Vec<RecordedRequest>>,
    pub tokens: Mutex<Vec<String>>,
    pub latency: Mutex<Duration>,
    /// `http://127.0.0.1:PORT`.
    pub root_url: String,
    /// How `Link` headers spell the next pages' URLs.
    pub links: Mutex<LinkBase>,
    /// The webhook delivery log and the lost-deliveries switch.
    pub deliveries: Mutex<Deliveries>,
    /// Where webhook deliveries go to be made (the background task).
    pub jobs: tokio::sync::mpsc::UnboundedSender<Job>,
    /// How many deliveries the log holds (for waiting on them).
    pub delivered: tokio::sync::watch::Sender<usize>,
}

/// Where the URLs of `Link` headers point.
#[derive(Clone, Debug, Default)]
pub(crate) struct LinkBase {
    /// The base URL clients reach the simulator at (a proxy in front of it); `None`: the
    /// simulator's own address.
    pub public_url: Option<String>,
    /// Name the repository as `/repos/{owner}/{repo}` instead of GitHub's
    /// `/repositories/{id}`.
    pub by_name: bool,
}

/// The shared state handle the routes receive.
pub(crate) type Sim = Arc<Shared>;

impl Shared {
    /// Whether the `Authorization` header carries a valid token (`Bearer` or GitHub's
    /// older `token` scheme).
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
        (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
            && lock(&self.tokens).iter().any(|t| t == token.trim())
    }
}

/// A running GitHub simulator serving one repository. Dropping it stops the server.
#[derive(Debug)]
pub struct GithubSim {
    shared: Sim,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

/// Dropping a [`GithubSim`] fails the test when it saw a request it does not serve.
fn check_unexpected(sim: &Sim) {
    let unexpected: Vec<String> = lock(&sim.unexpected)
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    sim_support::fail_on_unexpected("github-sim", &unexpected);
}

impl GithubSim {
    /// Starts on a free port with default options (`acme/app`).
    #[must_use]
    pub fn start() -> GithubSim {
        GithubSim::start_with(SimOptions::default())
    }

    /// Starts with `opts`. Panics if the port cannot be bound (a test setup error).
    #[must_use]
    pub fn start_with(opts: SimOptions) -> GithubSim {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .unwrap_or_else(|e| panic!("github-sim: cannot bind 127.0.0.1: {e}"));
        listener
            .set_nonblocking(true)
            .expect("github-sim: cannot make the listener non-blocking");
        let port = listener
            .local_addr()
            .expect("github-sim: a bound listener has an address")
            .port();
        let (jobs, jobs_rx) = tokio::sync::mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(&opts.repo)),
            limits: Mutex::new({
                let mut limits = Limits::new(opts.rate_limit, opts.min_mutation_interval);
                limits.creation_limits = opts.creation_limits;
                limits
            }),
            faults: Mutex::new(Faults::default()),
            requests: Mutex::new(Vec::new()),
            unexpected: Mutex::new(Vec::new()),
            tokens: Mutex::new(vec![PAT_TOKEN.to_owned(), INSTALLATION_TOKEN.to_owned()]),
            latency: Mutex::new(opts.latency),
            root_url: format!("http://127.0.0.1:{port}"),
            links: Mutex::new(LinkBase::default()),
            deliveries: Mutex::new(Deliveries::default()),
            jobs,
            delivered: tokio::sync::watch::Sender::new(0),
        });
        let app = crate::routes::app(Arc::clone(&shared));
        let (tx, rx) = tokio::sync::watch::channel(false);
        let delivery = crate::webhooks::deliver_forever(Arc::clone(&shared), jobs_rx);
        let thread = std::thread::Builder::new()
            .name(format!("github-sim-{port}"))
            .spawn(move || serve(listener, app, rx, delivery))
            .expect("github-sim: cannot spawn the server thread");
        GithubSim {
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`: the `api_url` a client uses.
    #[must_use]
    pub fn base_url(&self) -> String {
        self.shared.root_url.clone()
    }

    /// Makes `Link` headers point at `url` (e.g. `http://127.0.0.1:PORT` of a proxy in front
    /// of the simulator) instead of the simulator's own address, so that a client behind
    /// the proxy can follow them without leaving its configured `api_url`.
    pub fn set_public_url(&self, url: &str) {
        lock(&self.shared.links).public_url = Some(url.trim_end_matches('/').to_owned());
    }

    /// With `true`, `Link` headers name the repository as `/repos/{owner}/{repo}/...`
    /// instead of `/repositories/{id}/...` (GitHub's form, which its OpenAPI description
    /// has no path for, so a validating proxy cannot check a page-2 request on it).
    pub fn set_links_by_name(&self, by_name: bool) {
        lock(&self.shared.links).by_name = by_name;
    }

    /// A valid fine-grained personal access token.
    #[must_use]
    pub fn token(&self) -> String {
        PAT_TOKEN.to_owned()
    }

    /// A valid GitHub App installation token.
    #[must_use]
    pub fn installation_token(&self) -> String {
        INSTALLATION_TOKEN.to_owned()
    }

    /// `owner/name` of the repository.
    #[must_use]
    pub fn repo(&self) -> String {
        let st = lock(&self.shared.state);
        format!("{}/{}", st.owner, st.name)
    }

    /// Adds a collaborator (an assignable login).
    pub fn add_user(&self, login: &str) {
        lock(&self.shared.state).add_user(login);
    }

    /// Opens an issue as `octocat` would; returns its number. Panics on bad input.
    pub fn add_issue(&self, seed: IssueSeed) -> u64 {
        let mut st = lock(&self.shared.state);
        st.add_user("octocat");
        for login in &seed.assignees {
            st.add_user(login);
        }
        let number = st
            .create_issue(
                "octocat",
                &seed.title,
                seed.body,
                &seed.labels,
                &seed.assignees,
                false,
            )
            .unwrap_or_else(|e| panic!("github-sim: add_issue: {}", e.message));
        if seed.closed {
            st.update_issue(
                "octocat",
                number,
                Changes {
                    state: Some("closed".to_owned()),
                    ..Changes::default()
                },
            )
            .unwrap_or_else(|e| panic!("github-sim: add_issue: {}", e.message));
        }
        crate::webhooks::flush(&self.shared, &mut st);
        number
    }

    /// Opens a pull request (listed among the issues, with a `pull_request` key).
    pub fn add_pull_request(&self, title: &str, body: &str) -> u64 {
        let mut st = lock(&self.shared.state);
        st.add_user("octocat");
        let number = st
            .create_issue("octocat", title, Some(body.to_owned()), &[], &[], true)
            .unwrap_or_else(|e| panic!("github-sim: add_pull_request: {}", e.message));
        crate::webhooks::flush(&self.shared, &mut st);
        number
    }

    /// Edits an issue as `octocat` would in the UI (webhooks get the matching `issues`
    /// events, and `issue_comment` for a comment). Panics on bad input.
    pub fn edit_issue(&self, number: u64, edit: IssueEdit) {
        let mut st = lock(&self.shared.state);
        st.add_user("octocat");
        for login in edit.assignees.iter().flatten() {
            st.add_user(login);
        }
        let changes = Changes {
            title: edit.title,
            body: edit.body,
            state: edit
                .closed
                .map(|c| if c { "closed" } else { "open" }.to_owned()),
            state_reason: None,
            labels: edit.labels,
            assignees: edit.assignees,
        };
        st.update_issue("octocat", number, changes)
            .unwrap_or_else(|e| panic!("github-sim: edit_issue({number}): {}", e.message));
        if edit.comment {
            st.add_comment("octocat", number, "A comment made in the GitHub UI.")
                .unwrap_or_else(|e| panic!("github-sim: edit_issue({number}): {}", e.message));
        }
        crate::webhooks::flush(&self.shared, &mut st);
    }

    /// Posts a comment on issue `number` as `login` would in the UI (`login` becomes a
    /// known user); returns the comment's id. Webhooks get `issue_comment` `created`.
    /// Panics on bad input (no such issue, an empty body).
    pub fn add_comment(&self, number: u64, login: &str, body: &str) -> u64 {
        let mut st = lock(&self.shared.state);
        st.add_user(login);
        let id = st
            .add_comment(login, number, body)
            .unwrap_or_else(|e| panic!("github-sim: add_comment({number}): {}", e.message));
        crate::webhooks::flush(&self.shared, &mut st);
        id
    }

    /// Edits comment `id` as `login` would in the UI, with the rights of its `role` in the
    /// repository (its author may always). Webhooks get `issue_comment` `edited`. Panics
    /// when GitHub would refuse it.
    pub fn edit_comment(&self, id: u64, login: &str, role: Role, body: &str) {
        let mut st = lock(&self.shared.state);
        st.add_user(login);
        st.edit_comment(login, role, id, body)
            .unwrap_or_else(|e| panic!("github-sim: edit_comment({id}): {}", e.message));
        crate::webhooks::flush(&self.shared, &mut st);
    }

    /// Deletes comment `id` as `login` would in the UI, with the rights of its `role`.
    /// Webhooks get `issue_comment` `deleted`. Panics when GitHub would refuse it.
    pub fn delete_comment(&self, id: u64, login: &str, role: Role) {
        let mut st = lock(&self.shared.state);
        st.add_user(login);
        st.delete_comment(login, role, id)
            .unwrap_or_else(|e| panic!("github-sim: delete_comment({id}): {}", e.message));
        crate::webhooks::flush(&self.shared, &mut st);
    }

    /// The comments on issue `number`, oldest first.
    #[must_use]
    pub fn comments(&self, number: u64) -> Vec<SimComment> {
        lock(&self.shared.state)
            .comments
            .values()
            .filter(|c| c.issue == number)
            .map(crate::state::IssueComment::sim_comment)
            .collect()
    }

    /// Comment `id`, if it exists.
    #[must_use]
    pub fn comment(&self, id: u64) -> Option<SimComment> {
        lock(&self.shared.state)
            .comments
            .get(&id)
            .map(crate::state::IssueComment::sim_comment)
    }

    /// The login the tokens belong to (the author of comments the API posts).
    #[must_use]
    pub fn token_login(&self) -> String {
        lock(&self.shared.state).me.clone()
    }

    /// Sets the repository role of the tokens' user (`Write` by default): below `Write` it
    /// may edit and delete only its own comments, and GitHub's `403` answers the others.
    pub fn set_token_role(&self, role: Role) {
        lock(&self.shared.state).token_role = role;
    }

    /// One issue or pull request.
    #[must_use]
    pub fn issue(&self, number: u64) -> Option<SimIssue> {
        let st = lock(&self.shared.state);
        st.issues.get(&number).map(|i| st.sim_issue(i))
    }

    /// The issues (pull requests excluded), by number.
    #[must_use]
    pub fn repo_issues(&self) -> Vec<SimIssue> {
        let st = lock(&self.shared.state);
        st.issues
            .values()
            .filter(|i| !i.pull_request)
            .map(|i| st.sim_issue(i))
            .collect()
    }

    /// The pull requests, by number.
    #[must_use]
    pub fn pull_requests(&self) -> Vec<SimIssue> {
        let st = lock(&self.shared.state);
        st.issues
            .values()
            .filter(|i| i.pull_request)
            .map(|i| st.sim_issue(i))
            .collect()
    }

    /// The repository's label names, in creation order.
    #[must_use]
    pub fn labels(&self) -> Vec<String> {
        lock(&self.shared.state)
            .labels
            .iter()
            .map(|l| l.name.clone())
            .collect()
    }

    /// Every API request since start or the last [`GithubSim::clear_requests`].
    #[must_use]
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// The write requests (`METHOD /path`) since the last clear.
    #[must_use]
    pub fn writes(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(RecordedRequest::is_write)
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    /// Forgets recorded requests (and unexpected ones).
    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
        lock(&self.shared.unexpected).clear();
    }

    /// Requests to routes the simulator does not implement. Any left when the simulator
    /// is dropped fail the test (see [`GithubSim::take_unexpected_requests`]).
    #[must_use]
    pub fn unexpected_requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.unexpected).clone()
    }

    /// The requests to routes the simulator does not implement, forgotten: for a test that
    /// sends them on purpose, so that dropping the simulator does not fail it.
    pub fn take_unexpected_requests(&self) -> Vec<RecordedRequest> {
        std::mem::take(&mut *lock(&self.shared.unexpected))
    }

    /// Queues a fault for the next matching requests.
    pub fn inject(&self, fault: Fault) {
        lock(&self.shared.faults).add(fault);
    }

    /// Spends the primary budget: requests are refused (`403`, `x-ratelimit-remaining: 0`)
    /// until the window resets in `reset_in`.
    pub fn exhaust_rate_limit(&self, reset_in: Duration) {
        lock(&self.shared.limits).exhaust(reset_in);
    }

    /// Requests counted against the primary limit in the current window.
    #[must_use]
    pub fn rate_limit_used(&self) -> u32 {
        lock(&self.shared.limits).used
    }

    /// Requests refused by the primary limit or the mutation pacing (not injected faults).
    #[must_use]
    pub fn rate_limited_count(&self) -> u32 {
        lock(&self.shared.limits).refused
    }

    /// `POST`s refused by a content-creation budget ([`SimOptions::creation_limits`]).
    #[must_use]
    pub fn creations_refused(&self) -> u32 {
        lock(&self.shared.limits).creates_refused
    }

    /// Replaces the content-creation budgets (see [`SimOptions::creation_limits`]).
    pub fn set_creation_limits(&self, limits: Vec<(u32, Duration)>) {
        lock(&self.shared.limits).creation_limits = limits;
    }

    /// Transfers issue `number` to `to_repo` (`owner/name`), where it becomes issue
    /// `to_number`, as a person can in the GitHub UI: it leaves this repository's
    /// listings, and `GET` of its old address answers `301` with the new one's `Location`
    /// (which the simulator also serves). Panics if there is no such issue.
    pub fn transfer_issue(&self, number: u64, to_repo: &str, to_number: u64) {
        lock(&self.shared.state)
            .transfer_issue(number, to_repo, to_number)
            .unwrap_or_else(|e| panic!("github-sim: transfer_issue({number}): {}", e.message));
    }

    /// Deletes issue `number` as a repository admin can: it leaves the listings and `GET`
    /// answers `410`. Panics if there is no such issue.
    pub fn delete_issue(&self, number: u64) {
        lock(&self.shared.state)
            .delete_issue(number)
            .unwrap_or_else(|e| panic!("github-sim: delete_issue({number}): {}", e.message));
    }

    /// The most mutations ever handled at once.
    #[must_use]
    pub fn peak_mutations_in_flight(&self) -> u32 {
        lock(&self.shared.limits).peak_mutations_in_flight
    }

    /// Changes the minimum interval between mutations (`None`: no pacing rule).
    pub fn set_min_mutation_interval(&self, interval: Option<Duration>) {
        lock(&self.shared.limits).min_mutation_interval = interval;
    }

    /// Changes the per-request latency.
    pub fn set_latency(&self, latency: Duration) {
        *lock(&self.shared.latency) = latency;
    }

    /// The tokens stop working (`401`).
    pub fn revoke_tokens(&self) {
        lock(&self.shared.tokens).clear();
    }

    /// The repository's webhooks, in creation order.
    #[must_use]
    pub fn hooks(&self) -> Vec<SimHook> {
        lock(&self.shared.state)
            .hooks
            .iter()
            .map(crate::state::Hook::sim_hook)
            .collect()
    }

    /// Every webhook delivery made (or dropped) since start, in the order they ended.
    /// A delivery appears once the target answered or failed; one still in flight does
    /// not.
    #[must_use]
    pub fn deliveries(&self) -> Vec<SimHookDelivery> {
        lock(&self.shared.deliveries).log.clone()
    }

    /// With `true`, webhook deliveries are lost: recorded as
    /// [`DeliveryOutcome::Dropped`](crate::DeliveryOutcome::Dropped) and never sent,
    /// until called again with `false` (lost ones are not sent later).
    pub fn set_drop_deliveries(&self, drop: bool) {
        lock(&self.shared.deliveries).drop = drop;
    }

    /// Waits until [`GithubSim::deliveries`] holds at least `n` deliveries (counted since
    /// start, dropped ones included), or `timeout` passes; whether it got there. Async, so
    /// that a receiver running on the caller's runtime keeps answering meanwhile.
    pub async fn wait_for_deliveries(&self, n: usize, timeout: Duration) -> bool {
        let mut count = self.shared.delivered.subscribe();
        matches!(
            tokio::time::timeout(timeout, count.wait_for(|c| *c >= n)).await,
            Ok(Ok(_))
        )
    }

    /// [`GithubSim::wait_for_deliveries`] for plain `#[test]`s: blocks the calling thread
    /// (do not call it on a runtime thread that serves the receiving end).
    #[must_use]
    pub fn wait_for_deliveries_blocking(&self, n: usize, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if *self.shared.delivered.borrow() >= n {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for GithubSim {
    /// Stops the server, then fails the test if it saw a request it does not serve.
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        check_unexpected(&self.shared);
    }
}

/// Runs the server and the webhook delivery task until shutdown is signalled (then gives
/// in-flight requests 1 s; deliveries still queued are abandoned).
fn serve(
    listener: TcpListener,
    app: Router,
    rx: tokio::sync::watch::Receiver<bool>,
    delivery: impl Future<Output = ()> + Send + 'static,
) {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("github-sim-worker")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("github-sim: cannot build a tokio runtime: {e}");
            return;
        }
    };
    runtime.spawn(delivery);
    runtime.block_on(sim_support::serve_until_stopped(
        listener,
        app,
        rx,
        "github-sim",
    ));
    runtime.shutdown_timeout(Duration::from_millis(200));
}
