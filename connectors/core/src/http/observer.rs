//! A process-wide listener for what the HTTP clients see, for whoever keeps metrics: the
//! connectors know nothing of any metrics crate, only this small trait. The binary installs
//! one observer at most, before it builds clients; without one, nothing is reported.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Told of every attempt's outcome and every rate-limit refusal of every [`HttpClient`]
/// (clones included). Called on the request path: keep it cheap and never block.
///
/// [`HttpClient`]: super::HttpClient
pub trait HttpObserver: Send + Sync {
    /// One attempt ended: the service answered `status`, or no answer came (`None`:
    /// connection refused or lost, timeout).
    fn answered(&self, service: &'static str, status: Option<u16>);

    /// The service refused an attempt for its rate limit (a `429`, or GitHub's `403` that
    /// means the same); the client now pauses every request until `paused` has passed
    /// (`None`: the wait was too long and the request fails instead).
    fn rate_limited(&self, service: &'static str, paused: Option<Duration>);
}

static OBSERVER: OnceLock<Arc<dyn HttpObserver>> = OnceLock::new();

/// Installs the process's observer; `false` when one was already installed (it stays).
pub fn set_observer(observer: Arc<dyn HttpObserver>) -> bool {
    OBSERVER.set(observer).is_ok()
}

/// The installed observer, if any.
pub(super) fn observer() -> Option<&'static dyn HttpObserver> {
    OBSERVER.get().map(AsRef::as_ref)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    use axum::Router;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::get;
    use secrecy::SecretString;

    use super::*;
    use crate::http::{HttpClient, HttpConfig, Request, RetryPolicy};

    /// This test's own service name: the observer is process-wide, and other tests of
    /// this binary send requests too.
    const SERVICE: &str = "observer-test";

    #[derive(Default)]
    struct Recorder {
        answers: Mutex<Vec<Option<u16>>>,
        limits: Mutex<Vec<Option<Duration>>>,
    }

    impl HttpObserver for Recorder {
        fn answered(&self, service: &'static str, status: Option<u16>) {
            if service == SERVICE {
                self.answers.lock().expect("held briefly").push(status);
            }
        }
        fn rate_limited(&self, service: &'static str, paused: Option<Duration>) {
            if service == SERVICE {
                self.limits.lock().expect("held briefly").push(paused);
            }
        }
    }

    fn retry_after(secs: &str) -> axum::response::Response {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", secs.parse().expect("valid header"));
        (StatusCode::TOO_MANY_REQUESTS, headers, "slow down").into_response()
    }

    /// Every attempt is reported with its status (none when no answer came), and every
    /// rate-limit refusal with the pause it starts, or none when the client gives up.
    #[tokio::test]
    async fn the_observer_hears_every_attempt_and_every_rate_limit() {
        let recorder = Arc::new(Recorder::default());
        assert!(set_observer(Arc::clone(&recorder) as Arc<dyn HttpObserver>));
        assert!(
            !set_observer(Arc::new(Recorder::default())),
            "only one observer"
        );

        let refused_once = Arc::new(AtomicBool::new(false));
        let router = Router::new()
            .route(
                "/once",
                get(move || async move {
                    if refused_once.swap(true, Ordering::SeqCst) {
                        StatusCode::OK.into_response()
                    } else {
                        retry_after("1")
                    }
                }),
            )
            .route("/long", get(|| async { retry_after("120") }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, router).await.expect("serves") });
        let client = |base: &str| {
            let config = HttpConfig::new(SERVICE, base, SecretString::from("t".to_owned()))
                .with_retry(RetryPolicy::fast(Duration::from_secs(5)));
            HttpClient::new(config).expect("client")
        };
        let http = client(&base);

        http.send(Request::get("/once")).await.expect("retried");
        http.send(Request::get("/long"))
            .await
            .expect_err("gives up");
        // Nothing listens on port 1: no answer at all.
        let mut config = HttpConfig::new(
            SERVICE,
            "http://127.0.0.1:1",
            SecretString::from("t".to_owned()),
        )
        .with_retry(RetryPolicy::none());
        config.connect_retry_max = Duration::ZERO;
        HttpClient::new(config)
            .expect("client")
            .send(Request::get("/x"))
            .await
            .expect_err("unreachable");

        let answers = recorder.answers.lock().expect("held briefly").clone();
        assert_eq!(answers, vec![Some(429), Some(200), Some(429), None]);
        let limits = recorder.limits.lock().expect("held briefly").clone();
        assert_eq!(limits, vec![Some(Duration::from_secs(1)), None]);
    }
}
