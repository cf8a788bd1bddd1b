//! What the project's API simulators (`asana-sim`, `github-sim`) share: serving an axum app
//! until told to stop, the answer that drops a connection on purpose, and the rule that a
//! simulator dropped at the end of a test fails it when it saw a request it does not serve.

use std::io;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use bytes::Bytes;

/// How long requests in flight may finish once a stop is asked for.
const GRACE: Duration = Duration::from_secs(1);

/// Serves `app` on `listener` until `stop` turns true, then gives requests in flight
/// [`GRACE`] to finish. `name` prefixes the error lines.
pub async fn serve_until_stopped(
    listener: std::net::TcpListener,
    app: Router,
    stop: tokio::sync::watch::Receiver<bool>,
    name: &str,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("{name}: cannot register the listener: {e}");
            return;
        }
    };
    let mut graceful = stop.clone();
    let mut deadline = stop;
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = graceful.wait_for(|stop| *stop).await;
    });
    tokio::select! {
        result = std::future::IntoFuture::into_future(server) => {
            if let Err(e) = result {
                tracing::error!("{name}: server error: {e}");
            }
        }
        () = async move {
            let _ = deadline.wait_for(|stop| *stop).await;
            tokio::time::sleep(GRACE).await;
        } => {}
    }
}

/// An answer whose body fails on first poll, which makes hyper abort the connection: the
/// client sees a transport error after the headers, as when a connection drops.
#[must_use]
pub fn dropped_connection(status: StatusCode, content_type: &'static str, name: &str) -> Response {
    let message = format!("{name}: injected connection drop");
    let stream = futures::stream::once(async move {
        Err::<Bytes, io::Error>(io::Error::new(io::ErrorKind::ConnectionAborted, message))
    });
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response
}

/// The end-of-test rule every simulator applies when it is dropped: a request to a route it
/// does not serve fails the test, naming each one (`requests` as `METHOD /path?query`).
/// Nothing happens while the thread is already panicking (the first failure is the one to
/// read) or when `requests` is empty.
///
/// # Panics
/// When `requests` is not empty and the thread is not already panicking.
pub fn fail_on_unexpected(name: &str, requests: &[String]) {
    if requests.is_empty() || std::thread::panicking() {
        return;
    }
    panic!(
        "{name} saw {} request(s) it does not serve (a client bug, or a route the simulator \
         lacks; a test that sends one on purpose takes them with `take_unexpected_requests`):\n  {}",
        requests.len(),
        requests.join("\n  ")
    );
}
