//! Against small axum fakes on 127.0.0.1: Retry-After obeyed and shared, 5xx retried,
//! create-once never replayed once the server saw it, connect errors retried, error
//! messages surfaced, the token kept out of every printable form.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{self, HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

use crate::error::ConnectorError;

use super::answers::*;
use super::client::*;
use super::config::*;
use super::request::*;

use std::sync::Mutex as StdMutex;
use std::sync::atomic::AtomicUsize;

use axum::Router;
use axum::http::{HeaderMap as AxumHeaders, StatusCode as AxumStatus};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tokio::io::AsyncReadExt;

use crate::error::ErrorKind;

const TOKEN: &str = "s3cr3t-t0ken-value";

async fn serve_on(listener: tokio::net::TcpListener, router: Router) -> String {
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("fake serves") });
    format!("http://{addr}")
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a local port");
    serve_on(listener, router).await
}

fn client(base: &str, retry: RetryPolicy) -> HttpClient {
    let mut config = HttpConfig::new("asana", base, SecretString::from(TOKEN.to_owned()));
    config.retry = retry;
    config.requests_per_minute = 60_000;
    HttpClient::new(config).expect("valid config")
}

/// No sliding minute ever holds more than the budget: steady rate plus burst <= rpm,
/// and the steady rate is at least 95% of it.
#[test]
fn the_quota_never_exceeds_the_budget_in_a_minute() {
    for rpm in [1, 2, 60, 150, 300, 1500, 10_000] {
        let quota = budget_quota(
            NonZeroU32::new(rpm).expect("non-zero"),
            Duration::from_secs(60),
        );
        let per_request = quota.replenish_interval();
        let steady = Duration::from_secs(60).as_nanos() / per_request.as_nanos();
        let burst = u128::from(quota.burst_size().get());
        assert!(
            steady + burst <= u128::from(rpm).max(2),
            "rpm {rpm}: {steady} + {burst}"
        );
        if rpm >= 60 {
            assert!(
                steady * 100 >= u128::from(rpm) * 95,
                "rpm {rpm}: steady {steady}"
            );
        }
    }
}

/// A token echoed back in a service's error message is blanked out.
#[test]
fn echoed_tokens_are_redacted() {
    let auth = HeaderValue::from_static("Bearer s3cret-token");
    assert_eq!(
        redact("bad header: Bearer s3cret-token".to_owned(), &auth),
        "bad header: Bearer [REDACTED]"
    );
    assert_eq!(redact("no echo".to_owned(), &auth), "no echo");
}

fn asana_error(status: u16, message: &str) -> impl IntoResponse + use<> {
    (
        AxumStatus::from_u16(status).expect("valid status"),
        axum::Json(serde_json::json!({"errors": [{"message": message}]})),
    )
}

/// Requests queued for the budget when a 429 comes in wait its pause out too: none
/// reaches the service during the pause (only one already on its way may).
// Real clock: the rate budget (governor) keeps its own `std` time, which no paused
// tokio clock reaches.
#[tokio::test]
async fn requests_queued_for_the_budget_respect_a_pause_that_began_meanwhile() {
    let arrivals = Arc::new(StdMutex::new(Vec::<Instant>::new()));
    let refused = Arc::new(StdMutex::new(None::<Instant>));
    let (a, r) = (Arc::clone(&arrivals), Arc::clone(&refused));
    let router = Router::new().route(
        "/x",
        get(move || {
            let (a, r) = (Arc::clone(&a), Arc::clone(&r));
            async move {
                let mut refused = r.lock().expect("no panic while held");
                if refused.is_none() {
                    *refused = Some(Instant::now());
                    let mut headers = AxumHeaders::new();
                    headers.insert("retry-after", "2".parse().expect("valid header"));
                    return (AxumStatus::TOO_MANY_REQUESTS, headers, "slow down").into_response();
                }
                a.lock().expect("no panic while held").push(Instant::now());
                axum::Json(serde_json::json!({"data": 1})).into_response()
            }
        }),
    );
    let base = serve(router).await;
    let mut config = HttpConfig::new("asana", base, SecretString::from(TOKEN.to_owned()));
    config.retry = RetryPolicy::fast(Duration::from_secs(20));
    // About two a second: the later requests queue in the budget for a while.
    config.requests_per_minute = 120;
    let http = HttpClient::new(config).expect("valid config");
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let http = http.clone();
            tokio::spawn(async move { http.send(Request::get("/x")).await })
        })
        .collect();
    for t in tasks {
        t.await.expect("task").expect("sent in the end");
    }
    let refused_at = refused
        .lock()
        .expect("no panic while held")
        .expect("one 429");
    let during: Vec<Duration> = arrivals
        .lock()
        .expect("no panic while held")
        .iter()
        .filter(|at| **at > refused_at + Duration::from_millis(150))
        .map(|at| at.duration_since(refused_at))
        .filter(|d| *d < Duration::from_millis(1900))
        .collect();
    assert!(
        during.is_empty(),
        "requests arrived during the pause: {during:?}"
    );
}

/// A 429's Retry-After is obeyed by the refused request and by every other request of
/// the client queued meanwhile.
///
/// On tokio's paused clock: the waits are exact and take no real time.
#[tokio::test(start_paused = true)]
async fn retry_after_pauses_every_request_of_the_client() {
    #[derive(Default)]
    struct Seen {
        refused_at: Option<Instant>,
        arrivals: Vec<(String, Instant)>,
    }
    let seen = Arc::new(StdMutex::new(Seen::default()));
    let s1 = Arc::clone(&seen);
    let s2 = Arc::clone(&seen);
    let router = Router::new()
        .route(
            "/limited",
            get(move || async move {
                let mut seen = s1.lock().expect("no panic while held");
                if seen.refused_at.is_none() {
                    seen.refused_at = Some(Instant::now());
                    let mut headers = AxumHeaders::new();
                    headers.insert("retry-after", "1".parse().expect("valid header"));
                    return (AxumStatus::TOO_MANY_REQUESTS, headers, "slow down").into_response();
                }
                seen.arrivals.push(("limited".to_owned(), Instant::now()));
                axum::Json(serde_json::json!({"data": 1})).into_response()
            }),
        )
        .route(
            "/other",
            get(move || async move {
                s2.lock()
                    .expect("no panic while held")
                    .arrivals
                    .push(("other".to_owned(), Instant::now()));
                axum::Json(serde_json::json!({"data": 2}))
            }),
        );
    let base = serve(router).await;
    let http = client(&base, RetryPolicy::fast(Duration::from_secs(10)));

    let first = {
        let http = http.clone();
        tokio::spawn(async move { http.send(Request::get("/limited")).await })
    };
    // On the paused clock this returns once the runtime is idle, so the first request has
    // had its 429 by then (loopback answers are ready before the runtime idles).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let others: Vec<_> = (0..3)
        .map(|_| {
            let http = http.clone();
            tokio::spawn(async move { http.send(Request::get("/other")).await })
        })
        .collect();
    first.await.expect("task").expect("retried after the pause");
    for other in others {
        other.await.expect("task").expect("sent after the pause");
    }

    let seen = seen.lock().expect("no panic while held");
    let refused_at = seen.refused_at.expect("the first request was refused");
    assert_eq!(seen.arrivals.len(), 4);
    for (path, at) in &seen.arrivals {
        assert!(
            at.duration_since(refused_at) >= Duration::from_secs(1),
            "{path} arrived {:?} after the 429",
            at.duration_since(refused_at)
        );
    }
    assert_eq!(http.requests_sent().get, 5);
}

/// A Retry-After longer than the retry budget is not waited for: rate limited at once.
#[tokio::test]
async fn long_retry_after_gives_up_as_rate_limited() {
    let router = Router::new().route(
        "/x",
        get(|| async {
            let mut headers = AxumHeaders::new();
            headers.insert("retry-after", "120".parse().expect("valid header"));
            (AxumStatus::TOO_MANY_REQUESTS, headers, "")
        }),
    );
    let base = serve(router).await;
    let http = client(&base, RetryPolicy::fast(Duration::from_secs(5)));
    let err = http
        .send(Request::get("/x"))
        .await
        .expect_err("rate limited");
    assert!(
        matches!(err, ConnectorError::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(120)),
        "{err:?}"
    );
}

/// 5xx on a safe request is retried until it succeeds.
#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = Arc::clone(&hits);
    let router = Router::new().route(
        "/flaky",
        get(move || async move {
            if h.fetch_add(1, Ordering::SeqCst) < 2 {
                asana_error(500, "6 sad squid snuggle softly").into_response()
            } else {
                axum::Json(serde_json::json!({"data": {"ok": true}})).into_response()
            }
        }),
    );
    let base = serve(router).await;
    let http = client(&base, RetryPolicy::fast(Duration::from_secs(5)));
    let response = http
        .send(Request::get("/flaky"))
        .await
        .expect("third try works");
    let value: serde_json::Value = response.json().expect("json");
    assert_eq!(value["data"]["ok"], true);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    assert_eq!(http.requests_sent().get, 3);
}

/// A safe request that keeps failing ends as Transient with the service's message.
#[tokio::test]
async fn persistent_server_error_ends_transient() {
    let router = Router::new().route(
        "/down",
        get(|| async { asana_error(503, "upstream service unavailable") }),
    );
    let base = serve(router).await;
    let http = client(&base, RetryPolicy::fast(Duration::from_millis(300)));
    let err = http
        .send(Request::get("/down"))
        .await
        .expect_err("gives up");
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert!(
        err.to_string().contains("upstream service unavailable"),
        "{err}"
    );
    assert!(http.requests_sent().get >= 2, "it was retried");
}

/// A create-once POST that reached the server is never sent again: a 5xx answer is
/// ambiguous.
#[tokio::test]
async fn create_once_is_not_retried_after_a_server_error() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = Arc::clone(&hits);
    let router = Router::new().route(
        "/tasks",
        post(move || async move {
            h.fetch_add(1, Ordering::SeqCst);
            asana_error(500, "boom")
        }),
    );
    let base = serve(router).await;
    let http = client(&base, RetryPolicy::fast(Duration::from_secs(5)));
    let request = Request::post("/tasks", serde_json::json!({"data": {"name": "x"}}))
        .idempotency(Idempotency::CreateOnce);
    let err = http.send(request).await.expect_err("ambiguous");
    assert_eq!(err.kind(), ErrorKind::Ambiguous, "{err}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(http.requests_sent().post, 1);
}

/// A create-once POST whose connection drops after the server read it is ambiguous and
/// sent once; the same failure on a safe request is retried.
#[tokio::test]
async fn lost_answer_is_ambiguous_for_create_and_retried_for_safe() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a local port");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let accepted = Arc::new(AtomicUsize::new(0));
    let a = Arc::clone(&accepted);
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            a.fetch_add(1, Ordering::SeqCst);
            let mut buf = vec![0u8; 8192];
            let _ = stream.read(&mut buf).await;
            drop(stream); // read the request, never answer
        }
    });

    let http = client(&base, RetryPolicy::fast(Duration::from_millis(300)));
    let create = Request::post("/tasks", serde_json::json!({"data": {"name": "x"}}));
    let err = http.send(create).await.expect_err("no answer");
    assert_eq!(err.kind(), ErrorKind::Ambiguous, "{err}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);

    let err = http
        .send(Request::get("/tasks/1"))
        .await
        .expect_err("no answer");
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
    assert!(accepted.load(Ordering::SeqCst) >= 3, "the GET was retried");
}

/// A connect error proves the server never saw the request: even a create is retried.
#[tokio::test]
async fn connect_errors_are_retried_even_for_creates() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let addr = probe.local_addr().expect("address");
    drop(probe); // nothing listens there for now: connections are refused
    let hits = Arc::new(AtomicUsize::new(0));
    let h = Arc::clone(&hits);
    tokio::spawn(async move {
        // Kept (the point): the port stays closed for a while, so connections are refused
        // (real sockets: tokio's paused clock would skip this while connects are in flight).
        tokio::time::sleep(Duration::from_millis(300)).await;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("rebind the port");
        let router = Router::new().route(
            "/tasks",
            post(move || async move {
                h.fetch_add(1, Ordering::SeqCst);
                (
                    AxumStatus::CREATED,
                    axum::Json(serde_json::json!({"data": {"gid": "1"}})),
                )
            }),
        );
        axum::serve(listener, router).await.expect("fake serves");
    });
    let http = client(
        &format!("http://{addr}"),
        RetryPolicy::fast(Duration::from_secs(10)),
    );
    let create = Request::post("/tasks", serde_json::json!({"data": {"name": "x"}}));
    let response = http.send(create).await.expect("sent once the server is up");
    assert_eq!(response.status, 201);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert!(
        http.requests_sent().post >= 2,
        "refused attempts are counted"
    );
}

/// Non-2xx answers become typed errors carrying Asana's own message.
#[tokio::test]
async fn error_bodies_become_typed_errors() {
    let router = Router::new()
        .route("/401", get(|| async { asana_error(401, "Not Authorized") }))
        .route(
            "/403",
            get(|| async { asana_error(403, "no access to this project") }),
        )
        .route(
            "/404",
            get(|| async { asana_error(404, "task: Unknown object: 42") }),
        )
        .route(
            "/400",
            get(|| async { asana_error(400, "due_on: Invalid date") }),
        )
        .route(
            "/plain",
            get(|| async { (AxumStatus::CONFLICT, "just text") }),
        );
    let base = serve(router).await;
    let http = client(&base, RetryPolicy::fast(Duration::from_secs(1)));
    let err = http.send(Request::get("/401")).await.expect_err("401");
    assert!(
        matches!(&err, ConnectorError::Unauthorized { status: 401, message } if message == "Not Authorized"),
        "{err:?}"
    );
    let err = http.send(Request::get("/403")).await.expect_err("403");
    assert!(
        matches!(&err, ConnectorError::Forbidden(m) if m.contains("no access to this project")),
        "{err:?}"
    );
    let err = http.send(Request::get("/404")).await.expect_err("404");
    assert!(
        matches!(&err, ConnectorError::NotFound(m) if m.contains("Unknown object: 42")),
        "{err:?}"
    );
    let err = http.send(Request::get("/400")).await.expect_err("400");
    assert!(
        matches!(&err, ConnectorError::Api { status: 400, message, .. } if message.contains("due_on: Invalid date")),
        "{err:?}"
    );
    let err = http.send(Request::get("/plain")).await.expect_err("409");
    assert!(err.to_string().contains("just text"), "{err}");
    // Refusals are final: each was sent exactly once.
    assert_eq!(http.requests_sent().get, 5);
}

/// A status the request declared it handles comes back as a response with its body.
#[tokio::test]
async fn declared_statuses_pass_through() {
    let router = Router::new().route(
        "/events",
        get(|| async {
            (
                AxumStatus::PRECONDITION_FAILED,
                axum::Json(serde_json::json!({"errors": [{"message": "Sync token invalid"}], "sync": "abc"})),
            )
        }),
    );
    let base = serve(router).await;
    let http = client(&base, RetryPolicy::fast(Duration::from_secs(1)));
    let response = http
        .send(
            Request::get("/events")
                .query("resource", "1")
                .pass_through(412),
        )
        .await
        .expect("412 passed through");
    assert_eq!(response.status, 412);
    let body: serde_json::Value = response.json().expect("json");
    assert_eq!(body["sync"], "abc");
}

/// The token goes out as a bearer header and appears in no Debug output or error.
#[tokio::test]
async fn token_is_sent_but_never_shown() {
    let seen = Arc::new(StdMutex::new(None::<String>));
    let s = Arc::clone(&seen);
    let router = Router::new().route(
        "/me",
        get(move |headers: AxumHeaders| async move {
            *s.lock().expect("no panic while held") = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            asana_error(401, "Not Authorized")
        }),
    );
    let base = serve(router).await;
    let config = HttpConfig::new("asana", &base, SecretString::from(TOKEN.to_owned()));
    let config_debug = format!("{config:?}");
    let http = HttpClient::new(config).expect("valid config");
    let err = http.send(Request::get("/me")).await.expect_err("401");
    assert_eq!(
        seen.lock().expect("no panic while held").as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );

    let closed = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        probe.local_addr().expect("address")
    };
    let mut config = HttpConfig::new(
        "asana",
        format!("http://{closed}"),
        SecretString::from(TOKEN.to_owned()),
    );
    config.retry = RetryPolicy::none();
    let unreachable = HttpClient::new(config).expect("valid config");
    let transport = unreachable
        .send(Request::get("/me"))
        .await
        .expect_err("refused");

    for shown in [
        config_debug,
        format!("{http:?}"),
        format!("{err}"),
        format!("{err:?}"),
        format!("{transport}"),
        format!("{transport:?}"),
        error_chain(&transport),
    ] {
        assert!(!shown.contains(TOKEN), "token leaked in: {shown}");
    }
}

/// A token source for tests: hands out `current`, and on a refresh switches to `next`
/// (or fails, or cannot refresh), counting refreshes.
struct Rotating {
    current: StdMutex<String>,
    next: Option<String>,
    fail: bool,
    refreshes: AtomicUsize,
}

impl Rotating {
    fn new(current: &str, next: Option<&str>) -> Arc<Self> {
        Arc::new(Self {
            current: StdMutex::new(current.to_owned()),
            next: next.map(str::to_owned),
            fail: false,
            refreshes: AtomicUsize::new(0),
        })
    }
}

#[async_trait]
impl TokenSource for Rotating {
    async fn token(&self) -> Result<SecretString, ConnectorError> {
        Ok(SecretString::from(
            self.current.lock().expect("no panic while held").clone(),
        ))
    }

    async fn refresh(
        &self,
        rejected: &SecretString,
    ) -> Result<Option<SecretString>, ConnectorError> {
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        if self.fail {
            return Err(ConnectorError::Unauthorized {
                status: 401,
                message: "the sign-in was revoked".to_owned(),
            });
        }
        let Some(next) = &self.next else {
            return Ok(None);
        };
        let mut current = self.current.lock().expect("no panic while held");
        if *current == rejected.expose_secret() {
            current.clone_from(next);
        }
        Ok(Some(SecretString::from(current.clone())))
    }
}

/// A server that accepts only `Bearer fresh`, recording every Authorization it saw.
async fn fresh_only() -> (String, Arc<StdMutex<Vec<String>>>) {
    let seen = Arc::new(StdMutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    let router = Router::new().route(
        "/me",
        get(move |headers: AxumHeaders| async move {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            s.lock().expect("no panic while held").push(auth.clone());
            if auth == "Bearer fresh" {
                axum::Json(serde_json::json!({"data": {"gid": "1"}})).into_response()
            } else {
                asana_error(401, "Not Authorized").into_response()
            }
        }),
    );
    (serve(router).await, seen)
}

fn sourced(base: &str, source: Arc<Rotating>) -> HttpClient {
    let config = HttpConfig::new("asana", base, SecretString::from(String::new()))
        .with_token_source(source)
        .with_retry(RetryPolicy::none());
    HttpClient::new(config).expect("valid config")
}

/// A 401 with a token from a source refreshes it once and sends the request again, even
/// with a retry policy that retries nothing else.
#[tokio::test]
async fn token_source_refreshes_once_on_401() {
    let (base, seen) = fresh_only().await;
    let source = Rotating::new("stale", Some("fresh"));
    let http = sourced(&base, Arc::clone(&source));
    http.send(Request::get("/me")).await.expect("refreshed");
    http.send(Request::get("/me"))
        .await
        .expect("fresh token kept");
    assert_eq!(source.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(
        *seen.lock().expect("no panic while held"),
        ["Bearer stale", "Bearer fresh", "Bearer fresh"]
    );
    assert_eq!(http.requests_sent().get, 3);
}

/// A refreshed token that is refused again ends as Unauthorized: one refresh, two sends.
#[tokio::test]
async fn token_source_refresh_is_not_repeated() {
    let (base, seen) = fresh_only().await;
    let source = Rotating::new("stale", Some("also-stale"));
    let http = sourced(&base, Arc::clone(&source));
    let err = http.send(Request::get("/me")).await.expect_err("401");
    assert!(
        matches!(err, ConnectorError::Unauthorized { status: 401, .. }),
        "{err:?}"
    );
    assert_eq!(source.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(seen.lock().expect("no panic while held").len(), 2);
}

/// A source that cannot refresh leaves the 401 as it is; a failing refresh replaces it
/// with its own error (e.g. "run auth login again").
#[tokio::test]
async fn token_source_without_refresh_or_failing() {
    let (base, _) = fresh_only().await;
    let cannot = Rotating::new("stale", None);
    let err = sourced(&base, Arc::clone(&cannot))
        .send(Request::get("/me"))
        .await
        .expect_err("401");
    assert!(err.to_string().contains("Not Authorized"), "{err}");
    assert_eq!(cannot.refreshes.load(Ordering::SeqCst), 1);

    let failing = Arc::new(Rotating {
        current: StdMutex::new("stale".to_owned()),
        next: None,
        fail: true,
        refreshes: AtomicUsize::new(0),
    });
    let err = sourced(&base, failing)
        .send(Request::get("/me"))
        .await
        .expect_err("revoked");
    assert!(err.to_string().contains("revoked"), "{err}");
}

/// A fixed token is never refreshed: a 401 is returned at once.
#[tokio::test]
async fn fixed_token_401_is_returned_at_once() {
    let (base, seen) = fresh_only().await;
    let mut config = HttpConfig::new("asana", &base, SecretString::from("pat".to_owned()));
    config.retry = RetryPolicy::fast(Duration::from_secs(5));
    let err = HttpClient::new(config)
        .expect("valid config")
        .send(Request::get("/me"))
        .await
        .expect_err("401");
    assert!(
        matches!(err, ConnectorError::Unauthorized { .. }),
        "{err:?}"
    );
    assert_eq!(seen.lock().expect("no panic while held").len(), 1);
}

/// Writes never exceed their in-flight cap.
#[tokio::test]
async fn writes_respect_the_in_flight_cap() {
    let now = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (n, p) = (Arc::clone(&now), Arc::clone(&peak));
    let router = Router::new().route(
        "/w",
        axum::routing::put(move || {
            let (n, p) = (Arc::clone(&n), Arc::clone(&p));
            async move {
                let current = n.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(current, Ordering::SeqCst);
                // Kept (the point): each write stays in flight a while, so that they overlap.
                tokio::time::sleep(Duration::from_millis(50)).await;
                n.fetch_sub(1, Ordering::SeqCst);
                axum::Json(serde_json::json!({"data": {}}))
            }
        }),
    );
    let base = serve(router).await;
    let mut config = HttpConfig::new("asana", &base, SecretString::from(TOKEN.to_owned()));
    config.max_writes_in_flight = 2;
    config.requests_per_minute = 60_000;
    let http = HttpClient::new(config).expect("valid config");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let http = http.clone();
            tokio::spawn(async move {
                http.send(Request::put("/w", serde_json::json!({"data": {}})))
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("ok");
    }
    assert_eq!(peak.load(Ordering::SeqCst), 2);
    assert_eq!(http.requests_sent().put, 8);
}

/// Only URLs under the base URL receive the token.
#[test]
fn foreign_urls_are_refused() {
    let http = client("http://127.0.0.1:9/api/1.0/", RetryPolicy::none());
    assert_eq!(
        http.inner.url("/tasks").expect("relative"),
        "http://127.0.0.1:9/api/1.0/tasks"
    );
    assert!(
        http.inner
            .url("http://127.0.0.1:9/api/1.0/tasks?offset=x")
            .is_ok()
    );
    assert!(
        http.inner
            .url("http://127.0.0.1:9/api/1.0evil/tasks")
            .is_err()
    );
    assert!(http.inner.url("https://elsewhere.example/tasks").is_err());
}

/// GitHub's rate-limit answers are `403`s: with `Retry-After` (secondary limit) and with
/// `x-ratelimit-remaining: 0` (primary limit, wait until `x-ratelimit-reset`) the request
/// waits and is retried; a plain `403` stays a refusal (tested above).
///
/// On tokio's paused clock: the waits are exact and take no real time.
#[tokio::test(start_paused = true)]
async fn github_style_403_rate_limits_are_waited_out() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = Arc::clone(&hits);
    let h2 = Arc::clone(&hits);
    let router = Router::new()
        .route(
            "/secondary",
            post(move || async move {
                if h.fetch_add(1, Ordering::SeqCst) == 0 {
                    let mut headers = AxumHeaders::new();
                    headers.insert("retry-after", "1".parse().expect("valid header"));
                    let body = axum::Json(
                        serde_json::json!({"message": "You have exceeded a secondary rate limit."}),
                    );
                    return (AxumStatus::FORBIDDEN, headers, body).into_response();
                }
                (
                    AxumStatus::CREATED,
                    axum::Json(serde_json::json!({"ok": true})),
                )
                    .into_response()
            }),
        )
        .route(
            "/primary",
            get(move || async move {
                if h2.fetch_add(1, Ordering::SeqCst) == 2 {
                    let mut headers = AxumHeaders::new();
                    headers.insert("x-ratelimit-remaining", "0".parse().expect("valid header"));
                    let reset = jiff::Timestamp::now().as_second() + 1;
                    headers.insert(
                        "x-ratelimit-reset",
                        reset.to_string().parse().expect("valid header"),
                    );
                    let body =
                        axum::Json(serde_json::json!({"message": "API rate limit exceeded"}));
                    return (AxumStatus::FORBIDDEN, headers, body).into_response();
                }
                axum::Json(serde_json::json!({"ok": true})).into_response()
            }),
        );
    let base = serve(router).await;
    let http = client(&base, RetryPolicy::fast(Duration::from_secs(10)));

    let started = Instant::now();
    let response = http
        .send(Request::post("/secondary", serde_json::json!({})))
        .await
        .expect("retried after Retry-After");
    assert_eq!(response.status, 201);
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(
        http.requests_sent().post,
        2,
        "a refused create is sent again"
    );

    let started = Instant::now();
    http.send(Request::get("/primary"))
        .await
        .expect("retried after the reset");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(hits.load(Ordering::SeqCst), 4);
}

/// A secondary-limit `403` naming no wait asks for at least a minute; with a shorter
/// retry budget it is reported as rate limited at once.
#[tokio::test]
async fn secondary_limit_without_retry_after_waits_a_minute() {
    let router = Router::new().route(
        "/x",
        get(|| async {
            (
                AxumStatus::FORBIDDEN,
                axum::Json(serde_json::json!({"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."})),
            )
        }),
    );
    let base = serve(router).await;
    let http = client(&base, RetryPolicy::fast(Duration::from_secs(5)));
    let err = http
        .send(Request::get("/x"))
        .await
        .expect_err("rate limited");
    assert!(
        matches!(err, ConnectorError::RateLimited { retry_after: Some(d) } if d == SECONDARY_LIMIT_MIN_WAIT),
        "{err:?}"
    );
    assert_eq!(http.requests_sent().get, 1);
}

/// A success that spends the last request of the primary budget pauses the next
/// request until the reset.
///
/// On tokio's paused clock: the waits are exact and take no real time.
#[tokio::test(start_paused = true)]
async fn spent_primary_budget_pauses_until_reset() {
    let router = Router::new().route(
        "/x",
        get(|| async {
            let mut headers = AxumHeaders::new();
            headers.insert("x-ratelimit-remaining", "0".parse().expect("valid header"));
            let reset = jiff::Timestamp::now().as_second() + 1;
            headers.insert(
                "x-ratelimit-reset",
                reset.to_string().parse().expect("valid header"),
            );
            (headers, axum::Json(serde_json::json!({"ok": true})))
        }),
    );
    let base = serve(router).await;
    let http = client(&base, RetryPolicy::fast(Duration::from_secs(5)));
    http.send(Request::get("/x")).await.expect("first");
    let started = Instant::now();
    http.send(Request::get("/x")).await.expect("second");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

/// The configured `Accept` replaces the default one, and per-request headers are sent;
/// a declared `304` comes back as a response.
#[tokio::test]
async fn accept_and_per_request_headers_are_sent() {
    let seen = Arc::new(StdMutex::new(Vec::<(String, String)>::new()));
    let s = Arc::clone(&seen);
    let router = Router::new().route(
        "/x",
        get(move |headers: AxumHeaders| async move {
            let value = |n: &str| {
                headers
                    .get_all(n)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            s.lock()
                .expect("no panic while held")
                .push((value("accept"), value("if-none-match")));
            AxumStatus::NOT_MODIFIED
        }),
    );
    let base = serve(router).await;
    let mut config = HttpConfig::new("github", &base, SecretString::from(TOKEN.to_owned()));
    config.extra_headers.insert(
        header::ACCEPT,
        HeaderValue::from_static("application/vnd.github+json"),
    );
    let http = HttpClient::new(config).expect("valid config");
    let response = http
        .send(
            Request::get("/x")
                .header(header::IF_NONE_MATCH, HeaderValue::from_static("\"abc\""))
                .pass_through(304),
        )
        .await
        .expect("304 passed through");
    assert_eq!(response.status, 304);
    assert_eq!(
        seen.lock().expect("no panic while held").as_slice(),
        &[(
            "application/vnd.github+json".to_owned(),
            "\"abc\"".to_owned()
        )]
    );
}

#[test]
fn retry_after_parses_seconds_and_dates() {
    let mut headers = HeaderMap::new();
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
    assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
    headers.insert(
        header::RETRY_AFTER,
        HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
    );
    assert_eq!(retry_after(&headers), Some(Duration::ZERO));
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
    assert_eq!(retry_after(&headers), None);
}

/// A 429 is an instruction: its wait is obeyed even when it is longer than the retry
/// budget (which is for server errors), as long as it fits `rate_limit_max_wait`.
///
/// On tokio's paused clock: the waits are exact and take no real time.
#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_the_retry_budget_is_waited_for() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = Arc::clone(&hits);
    let router = Router::new().route(
        "/x",
        get(move || async move {
            if h.fetch_add(1, Ordering::SeqCst) == 0 {
                let mut headers = AxumHeaders::new();
                headers.insert("retry-after", "2".parse().expect("valid header"));
                return (AxumStatus::TOO_MANY_REQUESTS, headers, "slow down").into_response();
            }
            axum::Json(serde_json::json!({"data": 1})).into_response()
        }),
    );
    let base = serve(router).await;
    let mut config = HttpConfig::new("asana", &base, SecretString::from(TOKEN.to_owned()));
    config.retry = RetryPolicy::fast(Duration::from_millis(500));
    config.rate_limit_max_wait = Some(Duration::from_secs(30));
    let http = HttpClient::new(config).expect("valid config");
    let started = Instant::now();
    http.send(Request::get("/x"))
        .await
        .expect("waited, then answered");
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

/// The retry budget is for server errors: time spent waiting out a `429` does not use it
/// up, so a `500` right after a long `Retry-After` is still retried.
///
/// On tokio's paused clock: the waits are exact and take no real time.
#[tokio::test(start_paused = true)]
async fn a_server_error_after_a_long_rate_limit_wait_is_still_retried() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = Arc::clone(&hits);
    let router = Router::new().route(
        "/x",
        get(move || async move {
            match h.fetch_add(1, Ordering::SeqCst) {
                0 => {
                    let mut headers = AxumHeaders::new();
                    headers.insert("retry-after", "2".parse().expect("valid header"));
                    (AxumStatus::TOO_MANY_REQUESTS, headers, "slow down").into_response()
                }
                1 => asana_error(500, "a passing fault").into_response(),
                _ => axum::Json(serde_json::json!({"data": 1})).into_response(),
            }
        }),
    );
    let base = serve(router).await;
    let mut config = HttpConfig::new("asana", &base, SecretString::from(TOKEN.to_owned()));
    config.retry = RetryPolicy::fast(Duration::from_millis(500));
    config.rate_limit_max_wait = Some(Duration::from_secs(30));
    let http = HttpClient::new(config).expect("valid config");
    http.send(Request::get("/x"))
        .await
        .expect("waited out the 429, retried the 500, then answered");
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

/// A service that allows fewer requests per window than the budget teaches its rate with
/// its first 429: the budget comes down to what it accepted, no further request is
/// refused, and a client built from the kept memory starts there (and respects the
/// requests the first one sent in the same window).
// Real clock: the rate budget (governor) keeps its own `std` time, which no paused
// tokio clock reaches.
/// A service that allows `limit` requests in any sliding `window` (a refused request
/// counts too: it arrived) and answers the rest `429` with `Retry-After: 1`. The first
/// `late` requests are counted only after `delay`, as a loaded service gets to them.
/// Returns its base URL and how many requests it refused.
async fn windowed_service(
    limit: usize,
    window: Duration,
    late: usize,
    delay: Duration,
) -> (String, Arc<AtomicUsize>) {
    let counted = Arc::new(StdMutex::new(std::collections::VecDeque::<Instant>::new()));
    let refused = Arc::new(AtomicUsize::new(0));
    let arrived = Arc::new(AtomicUsize::new(0));
    let (c, r) = (Arc::clone(&counted), Arc::clone(&refused));
    let router = Router::new().route(
        "/x",
        get(move || {
            let (c, r, a) = (Arc::clone(&c), Arc::clone(&r), Arc::clone(&arrived));
            async move {
                if a.fetch_add(1, Ordering::SeqCst) < late {
                    tokio::time::sleep(delay).await;
                }
                let mut counted = c.lock().expect("no panic while held");
                let now = Instant::now();
                while counted
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= window)
                {
                    counted.pop_front();
                }
                counted.push_back(now);
                if counted.len() > limit {
                    r.fetch_add(1, Ordering::SeqCst);
                    let mut headers = AxumHeaders::new();
                    headers.insert("retry-after", "1".parse().expect("valid header"));
                    return (AxumStatus::TOO_MANY_REQUESTS, headers, "slow down").into_response();
                }
                axum::Json(serde_json::json!({"data": 1})).into_response()
            }
        }),
    );
    (serve(router).await, refused)
}

/// A client of `base` allowed `per_window` requests a `window`, `in_flight` reads at once,
/// that waits out `429`s.
fn windowed_config(base: &str, window: Duration, per_window: u32, in_flight: usize) -> HttpConfig {
    let mut config = HttpConfig::new("asana", base, SecretString::from(TOKEN.to_owned()));
    config.retry = RetryPolicy::fast(Duration::from_secs(1));
    config.requests_per_minute = per_window;
    config.rate_window = window;
    config.rate_limit_max_wait = Some(Duration::from_secs(30));
    config.max_reads_in_flight = in_flight;
    config
}

/// Sends `n` requests at once; each must be answered.
async fn send_at_once(http: &HttpClient, n: usize) {
    let mut sends = tokio::task::JoinSet::new();
    for _ in 0..n {
        let http = http.clone();
        sends.spawn(async move { http.send(Request::get("/x")).await.map(|_| ()) });
    }
    while let Some(answer) = sends.join_next().await {
        answer.expect("no panic").expect("answered");
    }
}

#[tokio::test]
async fn a_429_teaches_the_real_rate_and_the_next_client_starts_at_it() {
    const LIMIT: usize = 20;
    const WINDOW: Duration = Duration::from_millis(1000);
    let (base, refused) = windowed_service(LIMIT, WINDOW, 0, Duration::ZERO).await;
    let learned = Arc::new(StdMutex::new(None));
    let config = |memory: Option<RateMemory>| {
        let mut config = windowed_config(&base, WINDOW, 1000, 1);
        config.learn_rate = true;
        config.rate_memory = memory;
        let l = Arc::clone(&learned);
        config.on_rate_learned = Some(Arc::new(move |m: &RateMemory| {
            *l.lock().expect("no panic while held") = Some(m.clone());
        }));
        config
    };
    let http = HttpClient::new(config(None)).expect("valid config");
    for _ in 0..50 {
        http.send(Request::get("/x")).await.expect("answered");
    }
    assert_eq!(refused.load(Ordering::SeqCst), 1, "exactly one 429");
    assert_eq!(http.budget(), 20);
    let told = learned.lock().expect("held").clone().expect("told");
    assert_eq!(told.learned_per_window, Some(20));

    let next = HttpClient::new(config(Some(http.rate_memory()))).expect("valid config");
    assert_eq!(next.budget(), 20);
    for _ in 0..30 {
        next.send(Request::get("/x")).await.expect("answered");
    }
    assert_eq!(
        refused.load(Ordering::SeqCst),
        1,
        "the next client is never refused"
    );

    // Another configured budget starts over.
    let mut other = config(Some(http.rate_memory()));
    other.requests_per_minute = 2000;
    assert_eq!(HttpClient::new(other).expect("valid").budget(), 2000);
}

/// The request past a plan limit goes out alone, after every request before it is
/// answered: a service that counts requests when it gets to them (late, under load)
/// refuses that one request only. Sent beside requests still on their way, it was
/// accepted before they were counted, the limit read as confirmed, and the rest went out
/// at once into a full window: one 429 per request in flight.
#[tokio::test]
async fn the_request_past_a_plan_limit_waits_for_those_on_their_way() {
    const LIMIT: usize = 10;
    const WINDOW: Duration = Duration::from_millis(2000);
    // The first requests are counted late, as a loaded service would.
    let late = Duration::from_millis(40);
    let (base, refused) = windowed_service(LIMIT, WINDOW, LIMIT, late).await;
    let mut config = windowed_config(&base, WINDOW, 1000, 16);
    config.learn_rate = true;
    config.probe_limits = vec![LIMIT as u32];
    let http = HttpClient::new(config).expect("valid config");
    send_at_once(&http, 3 * LIMIT).await;
    assert_eq!(refused.load(Ordering::SeqCst), 1, "exactly one 429");
    assert_eq!(http.budget(), LIMIT as u32);
}

/// A full window opens again only when its oldest request's answer leaves it, not its
/// send: the service counted the request in between, when it got to it. Here the first
/// window's requests are counted 300 ms after they are sent (a slow way there, a loaded
/// service); the next ones, sent a window after those were *sent*, would arrive while
/// the service still counts them, and each be refused.
#[tokio::test]
async fn a_full_window_opens_when_its_oldest_answer_leaves_it() {
    const LIMIT: usize = 5;
    const WINDOW: Duration = Duration::from_millis(1000);
    let (base, refused) = windowed_service(LIMIT, WINDOW, LIMIT, Duration::from_millis(300)).await;
    let http =
        HttpClient::new(windowed_config(&base, WINDOW, LIMIT as u32, LIMIT)).expect("valid config");
    let started = Instant::now();
    send_at_once(&http, 2 * LIMIT).await;
    assert_eq!(refused.load(Ordering::SeqCst), 0, "no request refused");
    assert_eq!(
        http.requests_sent().get,
        2 * LIMIT as u64,
        "none sent twice"
    );
    assert!(
        started.elapsed() >= WINDOW + Duration::from_millis(300),
        "the second window waited for the first one's answers: {:?}",
        started.elapsed()
    );
}

/// Nothing listening: the client says so within `connect_retry_max`, naming the URL and
/// why, instead of retrying for the whole retry budget.
#[tokio::test]
async fn an_unreachable_service_is_reported_quickly() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let addr = probe.local_addr().expect("address");
    drop(probe);
    let base = format!("http://{addr}");
    let mut config = HttpConfig::new("asana", &base, SecretString::from(TOKEN.to_owned()));
    config.retry = RetryPolicy::fast(Duration::from_secs(60));
    config.connect_retry_max = Duration::from_millis(300);
    let http = HttpClient::new(config).expect("valid config");
    let started = Instant::now();
    let err = http
        .send(Request::get("/x"))
        .await
        .expect_err("nothing listens");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!("cannot reach Asana at {base}")),
        "{text}"
    );
    assert!(text.to_lowercase().contains("refused"), "{text}");
    assert!(http.requests_sent().get >= 2, "a blip is still retried");
}

/// A `429` after a dozen requests is not the per-window limit (Asana's smallest is 150 a
/// minute): with `rate_evidence_min` above that many, the client obeys the wait and keeps
/// its budget; below it, the same refusal would hold it to a dozen a window for good.
// Real clock: the rate budget (governor) keeps its own `std` time.
#[tokio::test]
async fn a_429_after_a_few_requests_teaches_no_rate() {
    async fn run(evidence_min: u32) -> u32 {
        let served = Arc::new(AtomicUsize::new(0));
        let s = Arc::clone(&served);
        let router = Router::new().route(
            "/x",
            get(move || {
                let s = Arc::clone(&s);
                async move {
                    // The 13th request is refused once (another limit, or another program).
                    if s.fetch_add(1, Ordering::SeqCst) == 12 {
                        let mut headers = AxumHeaders::new();
                        headers.insert("retry-after", "1".parse().expect("valid header"));
                        return (AxumStatus::TOO_MANY_REQUESTS, headers, "slow down")
                            .into_response();
                    }
                    axum::Json(serde_json::json!({"data": 1})).into_response()
                }
            }),
        );
        let base = serve(router).await;
        let mut config = HttpConfig::new("asana", &base, SecretString::from(TOKEN.to_owned()));
        config.retry = RetryPolicy::fast(Duration::from_secs(1));
        config.requests_per_minute = 1000;
        config.rate_window = Duration::from_secs(2);
        config.rate_limit_max_wait = Some(Duration::from_secs(30));
        config.learn_rate = true;
        config.rate_evidence_min = evidence_min;
        config.max_reads_in_flight = 1;
        let http = HttpClient::new(config).expect("valid config");
        for _ in 0..20 {
            http.send(Request::get("/x")).await.expect("answered");
        }
        assert_eq!(
            served.load(Ordering::SeqCst),
            21,
            "20 answers and one refusal"
        );
        http.budget()
    }
    assert_eq!(run(120).await, 1000, "a dozen is no evidence of the rate");
    assert!(run(10).await < 20, "the control: with a low bar it learns");
}
