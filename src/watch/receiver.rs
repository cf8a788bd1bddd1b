//! The webhook receiver's HTTP server, built to face the open internet: whoever can reach
//! it must not be able to starve `watch` of file handles, memory or attention.
//!
//! - HTTP/1.1 only (hyper's `http1` server: no cleartext HTTP/2, whose streams multiply
//!   what one connection may hold);
//! - [`HEADER_TIMEOUT`] to send a request's head, counted from the connection's start or
//!   the end of its previous request, which makes it the idle keep-alive timeout too;
//!   [`BODY_TIMEOUT`] to send the body; no connection lives longer than [`MAX_LIFETIME`];
//! - heads of at most 16 KiB; bodies of at most [`BODY_LIMIT`], refused up front from
//!   `Content-Length`, and streamed through the signature check rather than kept (only a
//!   small prefix is kept, see [`BodySink`]);
//! - the [`Endpoint`] decides on the head alone (method, link, signature header) whether
//!   the body is read at all: anything it refuses costs no body bytes, and the
//!   connection is closed after the answer;
//! - at most [`MAX_CONNECTIONS`] connections; one more makes room by closing the oldest
//!   connection that is idle or still sending its head, or else the oldest of all. A
//!   flood of idle or slow connections thus churns among itself, while a real delivery
//!   (whose head and body arrive at once) is answered in the meantime;
//! - refusals are counted and logged as a summary (one `WARN` line, then at most one line
//!   per [`SUMMARY_EVERY`] with the counts), never one line per request.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Request, Response, StatusCode, header};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tracing::{debug, warn};

/// Time to send a request's head (from the connection's start, or from the end of the
/// previous request on a kept-alive connection: the idle timeout).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Time to send a request's body, once its head was accepted.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(5);

/// No connection is kept longer than this, whatever it does.
pub const MAX_LIFETIME: Duration = Duration::from_secs(60);

/// The largest body read. Asana's deliveries are a few KiB (compact events, at most a
/// hundred or so per batch); GitHub caps payloads at 25 MB, but an `issues` or
/// `issue_comment` event (the only ones the bridge subscribes to) is at most an issue's
/// and a comment's 65,536 characters each plus the repository and user objects: well
/// under 1 MiB even escaped. A larger body is refused with 413.
pub const BODY_LIMIT: u64 = 1024 * 1024;

/// Connections served at once; beyond it the oldest idle (or else oldest) one is closed.
pub const MAX_CONNECTIONS: usize = 64;

/// How often refusals are summed up in one log line.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// The largest request head (request line and headers) hyper buffers.
const MAX_HEAD: usize = 16 * 1024;

/// What to answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    /// Extra response headers (the echoed `X-Hook-Secret` of a handshake).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Why the request was refused, for the summary (`None`: not a refusal).
    pub refused: Option<&'static str>,
}

impl Answer {
    /// A plain answer that is not a refusal.
    #[must_use]
    pub fn ok() -> Self {
        Self {
            status: StatusCode::OK,
            headers: Vec::new(),
            refused: None,
        }
    }

    /// A refusal with `status`, counted under `reason`.
    #[must_use]
    pub fn refuse(status: StatusCode, reason: &'static str) -> Self {
        Self {
            status,
            headers: Vec::new(),
            refused: Some(reason),
        }
    }
}

/// Where an admitted body goes, chunk by chunk.
pub trait BodySink: Send {
    /// The next bytes of the body.
    fn chunk(&mut self, bytes: &[u8]);
    /// The body is complete (within the limits): the answer.
    fn end(self: Box<Self>) -> Answer;
}

/// The endpoint's decision on a request's head.
pub enum Admit {
    /// Answer now; the body is not read and the connection is closed after a refusal.
    Now(Answer),
    /// Read the body into this sink.
    Read(Box<dyn BodySink>),
}

/// What the server serves.
pub trait Endpoint: Send + Sync + 'static {
    /// Decides on the request's head alone, before any byte of its body is read.
    fn admit(&self, head: &axum::http::request::Parts) -> Admit;
}

/// Refusals, summed up in the log.
#[derive(Default)]
pub struct Refusals {
    inner: Mutex<RefusalWindow>,
}

#[derive(Default)]
struct RefusalWindow {
    /// Since when refusals are being counted (`None`: quiet, the next one is logged).
    since: Option<Instant>,
    counts: BTreeMap<&'static str, u64>,
}

impl Refusals {
    fn lock(&self) -> MutexGuard<'_, RefusalWindow> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts one refusal; the first after a quiet spell is logged at once.
    pub fn count(&self, reason: &'static str) {
        self.count_many(reason, 1);
    }

    fn count_many(&self, reason: &'static str, mut n: u64) {
        if n == 0 {
            return;
        }
        let mut window = self.lock();
        if window.since.is_none() {
            window.since = Some(Instant::now());
            n -= 1;
            warn!(
                "rejected a webhook request: {reason}; further refusals are summed up every {} s",
                SUMMARY_EVERY.as_secs()
            );
        }
        if n > 0 {
            *window.counts.entry(reason).or_default() += n;
        }
    }

    /// Logs what was counted since the last summary (one line), if anything; a window
    /// with nothing counted ends, so the next refusal is logged at once again.
    pub fn summarize(&self) {
        let mut window = self.lock();
        let counts = std::mem::take(&mut window.counts);
        if counts.is_empty() {
            window.since = None;
            return;
        }
        let since = window.since.replace(Instant::now());
        drop(window);
        let total: u64 = counts.values().sum();
        let detail: Vec<String> = counts.iter().map(|(r, n)| format!("{n} {r}")).collect();
        warn!(
            "rejected {total} more webhook requests in the last {} s ({})",
            since.map_or(0, |s| s.elapsed().as_secs()),
            detail.join(", ")
        );
    }
}

/// The live connections, oldest first, and whether each is in a request's body.
#[derive(Default)]
struct Slots {
    inner: Mutex<SlotsInner>,
}

#[derive(Default)]
struct SlotsInner {
    next: u64,
    live: BTreeMap<u64, Slot>,
    evicted: u64,
}

struct Slot {
    busy: bool,
    close: Arc<Notify>,
}

impl Slots {
    fn lock(&self) -> MutexGuard<'_, SlotsInner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A slot for a new connection, closing the oldest idle (or else the oldest)
    /// connection when all are taken.
    fn take(&self) -> (u64, Arc<Notify>) {
        let mut slots = self.lock();
        while slots.live.len() >= MAX_CONNECTIONS {
            let victim = slots
                .live
                .iter()
                .find(|(_, s)| !s.busy)
                .or_else(|| slots.live.iter().next())
                .map(|(id, _)| *id);
            let Some(victim) = victim else { break };
            if let Some(slot) = slots.live.remove(&victim) {
                slot.close.notify_one();
                slots.evicted += 1;
            }
        }
        let id = slots.next;
        slots.next += 1;
        let close = Arc::new(Notify::new());
        slots.live.insert(
            id,
            Slot {
                busy: false,
                close: Arc::clone(&close),
            },
        );
        (id, close)
    }

    fn set_busy(&self, id: u64, busy: bool) {
        if let Some(slot) = self.lock().live.get_mut(&id) {
            slot.busy = busy;
        }
    }

    fn release(&self, id: u64) {
        self.lock().live.remove(&id);
    }

    fn take_evicted(&self) -> u64 {
        std::mem::take(&mut self.lock().evicted)
    }
}

/// The server: an endpoint, its connections, its refusal summary.
pub struct Server<E: Endpoint> {
    endpoint: E,
    slots: Slots,
    refusals: Refusals,
}

impl<E: Endpoint> Server<E> {
    #[must_use]
    pub fn new(endpoint: E) -> Arc<Self> {
        Arc::new(Self {
            endpoint,
            slots: Slots::default(),
            refusals: Refusals::default(),
        })
    }

    /// The endpoint served.
    pub fn endpoint(&self) -> &E {
        &self.endpoint
    }

    /// Accepts connections on `listener` until `stop` turns true, then logs the last
    /// summary and returns (open connections are closed).
    pub async fn run(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut summary = tokio::time::interval_at(Instant::now() + SUMMARY_EVERY, SUMMARY_EVERY);
        loop {
            if *stop.borrow() {
                break;
            }
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let _ = stream.set_nodelay(true);
                        let (id, close) = self.slots.take();
                        let server = Arc::clone(&self);
                        let stop = stop.clone();
                        tokio::spawn(async move {
                            server.connection(id, stream, close, stop).await;
                        });
                    }
                    Err(e) => {
                        // Out of file handles, or a connection reset before accept: wait a
                        // moment rather than spin.
                        debug!("webhook receiver: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                _ = summary.tick() => self.summarize(),
                changed = stop.changed() => {
                    if changed.is_err() {
                        // Nobody can stop it any more: the owner is gone.
                        break;
                    }
                }
            }
        }
        self.summarize();
    }

    fn summarize(&self) {
        let evicted = self.slots.take_evicted();
        self.refusals
            .count_many("connections closed over the cap", evicted);
        self.refusals.summarize();
    }

    /// Serves one connection (any byte stream) until it ends, times out, is closed to
    /// make room, lives too long, or the server stops.
    pub async fn serve_io<I>(self: &Arc<Self>, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (id, close) = self.slots.take();
        let (_stop_tx, stop) = watch::channel(false);
        self.connection(id, io, close, stop).await;
    }

    async fn connection<I>(
        self: &Arc<Self>,
        id: u64,
        io: I,
        close: Arc<Notify>,
        mut stop: watch::Receiver<bool>,
    ) where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let server = Arc::clone(self);
        let service = hyper::service::service_fn(move |request| {
            let server = Arc::clone(&server);
            async move { Ok::<_, Infallible>(server.request(id, request).await) }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .keep_alive(true)
            .max_buf_size(MAX_HEAD)
            .serve_connection(TokioIo::new(io), service);
        tokio::select! {
            served = conn => {
                if let Err(e) = served {
                    debug!("webhook connection ended: {e}");
                }
            }
            () = close.notified() => debug!("webhook connection closed to make room"),
            () = tokio::time::sleep(MAX_LIFETIME) => debug!("webhook connection lived too long"),
            _ = stop.wait_for(|s| *s) => {}
        }
        self.slots.release(id);
    }

    async fn request(&self, id: u64, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let (head, body) = request.into_parts();
        let answer = match self.endpoint.admit(&head) {
            Admit::Now(answer) => answer,
            Admit::Read(sink) => {
                let declared = head
                    .headers
                    .get(header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                if declared.is_some_and(|n| n > BODY_LIMIT) {
                    Answer::refuse(StatusCode::PAYLOAD_TOO_LARGE, "bodies over the limit")
                } else {
                    self.slots.set_busy(id, true);
                    let read = tokio::time::timeout(BODY_TIMEOUT, read_body(body, sink)).await;
                    self.slots.set_busy(id, false);
                    match read {
                        Err(_) => Answer::refuse(StatusCode::REQUEST_TIMEOUT, "bodies too slow"),
                        Ok(Err(answer)) => answer,
                        Ok(Ok(sink)) => sink.end(),
                    }
                }
            }
        };
        if let Some(reason) = answer.refused {
            self.refusals.count(reason);
        }
        super::metrics::webhook_answered(answer.refused);
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = answer.status;
        let headers = response.headers_mut();
        for (name, value) in answer.headers {
            headers.insert(name, value);
        }
        if answer.status != StatusCode::OK {
            // The body may be unread: nothing more is taken from this connection.
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// Streams `body` into `sink`, at most [`BODY_LIMIT`] bytes.
async fn read_body(
    mut body: Incoming,
    mut sink: Box<dyn BodySink>,
) -> Result<Box<dyn BodySink>, Answer> {
    let mut read: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| {
            Answer::refuse(StatusCode::BAD_REQUEST, "bodies broken off or malformed")
        })?;
        if let Ok(data) = frame.into_data() {
            read += data.len() as u64;
            if read > BODY_LIMIT {
                return Err(Answer::refuse(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "bodies over the limit",
                ));
            }
            sink.chunk(&data);
        }
    }
    Ok(sink)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Over the cap, the oldest idle connection makes room; busy ones only when none is
    /// idle.
    #[test]
    fn eviction_prefers_the_oldest_idle_connection() {
        let slots = Slots::default();
        let taken: Vec<(u64, Arc<Notify>)> = (0..MAX_CONNECTIONS).map(|_| slots.take()).collect();
        slots.set_busy(taken[0].0, true);
        let _ = slots.take();
        let live: Vec<u64> = slots.lock().live.keys().copied().collect();
        assert!(live.contains(&taken[0].0), "the busy oldest stays");
        assert!(!live.contains(&taken[1].0), "the oldest idle one went");
        assert_eq!(live.len(), MAX_CONNECTIONS);
        for (id, _) in &taken {
            slots.set_busy(*id, true);
        }
        let _ = slots.take();
        let live: Vec<u64> = slots.lock().live.keys().copied().collect();
        assert_eq!(live.len(), MAX_CONNECTIONS);
        assert_eq!(slots.take_evicted(), 2);
    }
}
