//! The Prism referee of the end-to-end tests: finding the `prism` binary of
//! `@stoplight/prism-cli` (installed by `.ci/run` into `.ci/prism`), starting it in proxy mode
//! in front of a simulator with a vendor's OpenAPI description, a byte-level recording relay
//! between the bridge and Prism, and the report of what Prism accepted and refused.
//!
//! The chain is `asana-bridge -> Relay -> prism proxy --errors -> simulator`. The relay only
//! copies bytes and keeps a copy: Prism is the judge. Prism with `--errors` answers `422`
//! (request broke the description) or `500` (response broke it) with an
//! `application/problem+json` body naming the property, and sets an `sl-violations` header on
//! every answer it has remarks about; its own log names no property, so the relay's copy is
//! what carries Prism's messages into the test output.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The environment variable `.ci/run` sets to the `prism` binary it installed. When set,
/// Prism is required.
pub const PRISM_ENV: &str = "ASANA_BRIDGE_PRISM";

/// How long Prism may take to load a description and listen (Asana's is 3 MB of YAML).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(180);

/// Locks a mutex, ignoring poisoning (a panicking pump thread must not hide the report).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the test needs to run, or why it is skipped.
pub enum Setup {
    /// The `prism` binary and the description file.
    Ready { prism: PathBuf, spec: PathBuf },
    /// Nothing to validate with here (and nobody demanded it): the reason.
    Skip(String),
}

/// Whether Prism is demanded: `ASANA_BRIDGE_PRISM` or `CI` is set.
fn required() -> Option<String> {
    if std::env::var_os(PRISM_ENV).is_some_and(|v| !v.is_empty()) {
        return Some(format!("{PRISM_ENV} is set"));
    }
    match std::env::var("CI") {
        Ok(v) if !v.is_empty() && v != "false" && v != "0" => Some("CI is set".to_owned()),
        _ => None,
    }
}

/// `prism` on `PATH`, if any.
fn on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("prism"))
        .find(|p| p.is_file())
}

/// Finds Prism and the vendored description `spec` (a path under the repository's `specs/`).
///
/// With `ASANA_BRIDGE_PRISM` set, that binary is used and must exist. Otherwise the copy
/// `npm ci --prefix .ci/prism` installs, then `prism` on `PATH`. Missing pieces skip the
/// test, unless `ASANA_BRIDGE_PRISM` or `CI` is set: then they fail it.
///
/// # Panics
/// When the vendored description is missing, or Prism is missing and required.
pub fn setup(spec: &str) -> Setup {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let spec = repo.join("specs").join(spec);
    // The descriptions are part of the repository: a missing one is a broken checkout, not
    // an optional tool, so it fails the test whatever the environment.
    assert!(
        spec.is_file(),
        "the vendored API description {} is missing (see specs/README.md)",
        spec.display()
    );
    let demanded = required();
    let prism = match std::env::var_os(PRISM_ENV).filter(|v| !v.is_empty()) {
        Some(p) => {
            let p = PathBuf::from(p);
            assert!(
                p.is_file(),
                "{PRISM_ENV}={} does not exist (run .ci/run or `npm ci --prefix .ci/prism`)",
                p.display()
            );
            Some(p)
        }
        None => {
            let local = repo.join(".ci/prism/node_modules/.bin/prism");
            if local.is_file() {
                Some(local)
            } else {
                on_path()
            }
        }
    };
    let Some(prism) = prism else {
        let why = "prism not installed (run .ci/run or `npm ci --prefix .ci/prism`)";
        if let Some(reason) = demanded {
            panic!("{reason}, so Prism is required, but {why}");
        }
        return Setup::Skip(format!("skipped: {why}"));
    };
    Setup::Ready { prism, spec }
}

/// A free TCP port on 127.0.0.1 (free when asked; Prism binds it a moment later).
fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// A running `prism proxy`; killed on drop (also when the test panics).
pub struct Prism {
    child: Child,
    port: u16,
    log: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
    /// `prism --version`.
    pub version: String,
}

impl Prism {
    /// Starts `prism proxy <spec> <upstream> -h 127.0.0.1 -p <free port> --errors` and waits
    /// until it listens.
    ///
    /// # Panics
    /// When Prism does not start (with its output).
    pub fn start(bin: &Path, spec: &Path, upstream: &str) -> Prism {
        let version = Command::new(bin)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        let mut last = String::new();
        // A port taken between `free_port` and Prism's bind is retried with another one.
        for _ in 0..3 {
            match Self::try_start(bin, spec, upstream, version.clone()) {
                Ok(prism) => return prism,
                Err(log) => last = log,
            }
        }
        panic!("prism ({}) did not start:\n{last}", bin.display());
    }

    fn try_start(
        bin: &Path,
        spec: &Path,
        upstream: &str,
        version: String,
    ) -> Result<Prism, String> {
        let port = free_port();
        let mut child = Command::new(bin)
            .arg("proxy")
            .arg(spec)
            .arg(upstream)
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "--errors"])
            .env("FORCE_COLOR", "0")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
        let log = Arc::new(Mutex::new(String::new()));
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(drain(out, Arc::clone(&log)));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(drain(err, Arc::clone(&log)));
        }
        let mut prism = Prism {
            child,
            port,
            log,
            readers,
            version,
        };
        let started = Instant::now();
        loop {
            if lock(&prism.log).contains("Prism is listening on") {
                return Ok(prism);
            }
            if let Ok(Some(status)) = prism.child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                return Err(format!("prism exited ({status}):\n{}", prism.log()));
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                return Err(format!(
                    "prism did not listen within {STARTUP_TIMEOUT:?}:\n{}",
                    prism.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The port Prism listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Everything Prism printed so far (stdout and stderr, interleaved by line).
    pub fn log(&self) -> String {
        lock(&self.log).clone()
    }

    /// [`Prism::log_summary`] once Prism has logged at least `requests` requests and its
    /// log has stopped growing (it writes lines after it answers), or after 10 s.
    pub fn settled_log_summary(&self, requests: usize) -> LogSummary {
        let started = Instant::now();
        let mut last = self.log().len();
        loop {
            std::thread::sleep(Duration::from_millis(250));
            let now = self.log().len();
            let summary = self.log_summary();
            if (summary.received >= requests && now == last)
                || started.elapsed() > Duration::from_secs(10)
            {
                return summary;
            }
            last = now;
        }
    }

    /// Lines of Prism's own log about handled requests, from after its start-up banner:
    /// how many requests it received and its error lines (a violation with `--errors`, or a
    /// proxy failure).
    pub fn log_summary(&self) -> LogSummary {
        let log = self.log();
        let after_start = log
            .split_once("Prism is listening on")
            .map_or(log.as_str(), |(_, rest)| rest);
        let mut summary = LogSummary::default();
        for line in after_start.lines() {
            if line.contains("Request received") {
                summary.received += 1;
            }
            if line.contains('✖') || line.contains(" error ") || line.contains("fatal") {
                summary.errors.push(line.trim().to_owned());
            }
        }
        summary
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }
}

/// Prism's log, digested.
#[derive(Debug, Default)]
pub struct LogSummary {
    /// "Request received" lines.
    pub received: usize,
    /// Lines logged at error level.
    pub errors: Vec<String>,
}

/// Copies a child's output, line by line, into `log`.
fn drain(stream: impl Read + Send + 'static, log: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => lock(&log).push_str(&String::from_utf8_lossy(&line)),
            }
        }
    })
}

/// The bytes of one connection through the relay, each way.
#[derive(Default)]
struct Capture {
    up: Mutex<Vec<u8>>,
    down: Mutex<Vec<u8>>,
}

/// A TCP relay on 127.0.0.1 that forwards every connection to `target` and keeps a copy of
/// the bytes, so that each request and Prism's full answer to it can be read afterwards.
pub struct Relay {
    port: u16,
    captures: Arc<Mutex<Vec<Arc<Capture>>>>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl Relay {
    /// Starts relaying to `127.0.0.1:target`.
    ///
    /// # Panics
    /// When no port can be bound.
    pub fn start(target: u16) -> Relay {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("relay: bind 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("relay: non-blocking listener");
        let port = listener.local_addr().expect("relay: address").port();
        let captures: Arc<Mutex<Vec<Arc<Capture>>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let captures = Arc::clone(&captures);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            let capture = Arc::new(Capture::default());
                            lock(&captures).push(Arc::clone(&capture));
                            connect(client, target, capture);
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        Relay {
            port,
            captures,
            stop,
            acceptor: Some(acceptor),
        }
    }

    /// `http://127.0.0.1:PORT`, the base URL to give the bridge.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request seen so far with Prism's answer and verdict, connection by connection,
    /// in order.
    pub fn exchanges(&self) -> Vec<Exchange> {
        let captures: Vec<Arc<Capture>> = lock(&self.captures).clone();
        let mut out = Vec::new();
        for capture in captures {
            let up = lock(&capture.up).clone();
            let down = lock(&capture.down).clone();
            let requests = parse_messages(&up, false);
            let responses = parse_messages(&down, true);
            let mut responses = responses.into_iter();
            for request in requests {
                out.push(Exchange::new(request, responses.next()));
            }
        }
        out
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Connects a client to the target and pumps both ways on two threads.
fn connect(client: TcpStream, target: u16, capture: Arc<Capture>) {
    let _ = client.set_nonblocking(false);
    let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let up = Arc::clone(&capture);
    std::thread::spawn(move || pump(client, server, &up.up));
    std::thread::spawn(move || pump(server2, client2, &capture.down));
}

/// Copies `from` to `to`, recording what passes, until either side closes.
fn pump(mut from: TcpStream, mut to: TcpStream, record: &Mutex<Vec<u8>>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                lock(record).extend_from_slice(&buf[..n]);
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

/// One HTTP/1.1 message: start line, headers (names lower-case), body (de-chunked).
#[derive(Debug, Clone, Default)]
pub struct Message {
    pub start: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Message {
    /// The first header named `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Splits a recorded byte stream into HTTP/1.1 messages (no pipelining assumed beyond
/// message boundaries; `1xx` answers skipped).
fn parse_messages(bytes: &[u8], responses: bool) -> Vec<Message> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Some(end) = find(rest, b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&rest[..end]).into_owned();
        rest = &rest[end + 4..];
        let mut lines = head.split("\r\n");
        let start = lines.next().unwrap_or_default().to_owned();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let mut message = Message {
            start,
            headers,
            body: Vec::new(),
        };
        let status: u16 = if responses {
            message
                .start
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0)
        } else {
            0
        };
        let chunked = message
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        if let Some(len) = message
            .header("content-length")
            .and_then(|v| v.parse::<usize>().ok())
        {
            let len = len.min(rest.len());
            message.body = rest[..len].to_vec();
            rest = &rest[len..];
        } else if chunked {
            let (body, used) = dechunk(rest);
            message.body = body;
            rest = &rest[used..];
        } else if responses && !(status == 204 || status == 304 || (100..200).contains(&status)) {
            message.body = rest.to_vec();
            rest = &[];
        }
        if responses && (100..200).contains(&status) {
            continue;
        }
        out.push(message);
    }
    out
}

/// Decodes a chunked body; returns it and how many bytes it took (trailers included).
fn dechunk(bytes: &[u8]) -> (Vec<u8>, usize) {
    let mut body = Vec::new();
    let mut pos = 0;
    while let Some(eol) = find(&bytes[pos..], b"\r\n") {
        let size_line = String::from_utf8_lossy(&bytes[pos..pos + eol]).into_owned();
        let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        pos += eol + 2;
        if size == 0 {
            // Optional trailers, then an empty line.
            while let Some(eol) = find(&bytes[pos..], b"\r\n") {
                pos += eol + 2;
                if eol == 0 {
                    break;
                }
            }
            return (body, pos.min(bytes.len()));
        }
        let end = (pos + size).min(bytes.len());
        body.extend_from_slice(&bytes[pos..end]);
        pos = (end + 2).min(bytes.len());
    }
    (body, bytes.len())
}

/// One remark of Prism's: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `body.data.completed`, `response.body.data.gid`, `query.opt_fields.0`, `response`.
    pub location: String,
    /// Prism's message.
    pub message: String,
}

/// A request the bridge sent, Prism's answer, and Prism's verdict on the pair.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub request_body: String,
    /// `None` when no answer came back (connection dropped).
    pub status: Option<u16>,
    pub response_body: String,
    /// Prism's errors: the request or the response breaks the description.
    pub violations: Vec<Finding>,
    /// Prism's warnings (e.g. a status the description does not list).
    pub warnings: Vec<Finding>,
}

impl Exchange {
    fn new(request: Message, response: Option<Message>) -> Exchange {
        let mut parts = request.start.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default().to_owned();
        let mut exchange = Exchange {
            method,
            target,
            request_body: String::from_utf8_lossy(&request.body).into_owned(),
            status: None,
            response_body: String::new(),
            violations: Vec::new(),
            warnings: Vec::new(),
        };
        let Some(response) = response else {
            return exchange;
        };
        exchange.status = response
            .start
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok());
        exchange.response_body = String::from_utf8_lossy(&response.body).into_owned();
        if let Some(header) = response.header("sl-violations") {
            for (severity, finding) in findings(header) {
                if severity.eq_ignore_ascii_case("error") {
                    exchange.violations.push(finding);
                } else {
                    exchange.warnings.push(finding);
                }
            }
        }
        let problem = response
            .header("content-type")
            .is_some_and(|c| c.contains("application/problem+json"));
        if problem {
            let body: serde_json::Value =
                serde_json::from_slice(&response.body).unwrap_or_default();
            let kind = body["type"].as_str().unwrap_or_default();
            if kind.contains("stoplight.io/prism/errors") {
                // Prism refused to pass the exchange: its validation list, or its title.
                let listed = body["validation"].to_string();
                let mut added = false;
                for (_, finding) in findings(&listed) {
                    if !exchange.violations.contains(&finding) {
                        exchange.violations.push(finding);
                    }
                    added = true;
                }
                if !added && exchange.violations.is_empty() {
                    exchange.violations.push(Finding {
                        location: kind.to_owned(),
                        message: format!(
                            "{}: {}",
                            body["title"].as_str().unwrap_or_default(),
                            body["detail"].as_str().unwrap_or_default()
                        ),
                    });
                }
            }
        }
        exchange
    }

    /// The path without query, gids replaced by `{gid}`: `POST /tasks/{gid}/addTag`.
    pub fn operation(&self) -> String {
        let path = self.target.split('?').next().unwrap_or_default();
        let path: Vec<&str> = path
            .split('/')
            .map(|s| {
                if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                    "{gid}"
                } else {
                    s
                }
            })
            .collect();
        format!("{} {}", self.method, path.join("/"))
    }

    /// The request body's `data` object (JSON), or `Null`.
    pub fn data(&self) -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(&self.request_body)
            .map(|v| v["data"].clone())
            .unwrap_or_default()
    }

    /// Whether the query string has this parameter.
    pub fn has_query(&self, name: &str) -> bool {
        self.target
            .split_once('?')
            .is_some_and(|(_, q)| q.split('&').any(|kv| kv.split('=').next() == Some(name)))
    }

    /// One line for the report.
    pub fn describe(&self) -> String {
        let status = self
            .status
            .map_or_else(|| "no answer".to_owned(), |s| s.to_string());
        format!("{} {} -> {status}", self.method, self.target)
    }
}

/// `[{location: [..], severity, message}]` as Prism sends it (header or body).
fn findings(json: &str) -> Vec<(String, Finding)> {
    let Ok(serde_json::Value::Array(items)) = serde_json::from_str::<serde_json::Value>(json)
    else {
        return Vec::new();
    };
    items
        .iter()
        .map(|item| {
            let location = match &item["location"] {
                serde_json::Value::Array(parts) => parts
                    .iter()
                    .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join("."),
                other => other.as_str().unwrap_or_default().to_owned(),
            };
            (
                item["severity"].as_str().unwrap_or("Error").to_owned(),
                Finding {
                    location,
                    message: item["message"].as_str().unwrap_or_default().to_owned(),
                },
            )
        })
        .collect()
}

/// The test's report: counts by operation and status, then every violation and warning.
pub fn report(
    title: &str,
    exchanges: &[Exchange],
    log: &LogSummary,
    expected_warning: impl Fn(&Exchange, &Finding) -> bool,
) -> Report {
    let mut by_operation: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    let mut violations = Vec::new();
    let mut expected = Vec::new();
    let mut unexpected = Vec::new();
    for e in exchanges {
        *by_operation.entry(e.operation()).or_default() += 1;
        *by_status
            .entry(
                e.status
                    .map_or_else(|| "none".to_owned(), |s| s.to_string()),
            )
            .or_default() += 1;
        for v in &e.violations {
            violations.push(format!(
                "{}\n      {}: {}\n      request body: {}\n      response body: {}",
                e.describe(),
                v.location,
                v.message,
                clip(&e.request_body),
                clip(&e.response_body)
            ));
        }
        for w in &e.warnings {
            let line = format!("{}: {}: {}", e.describe(), w.location, w.message);
            if expected_warning(e, w) {
                expected.push(line);
            } else {
                unexpected.push(line);
            }
        }
    }
    let mut text = format!(
        "prism report ({title}): {} requests validated, {} violations, {} warnings ({} expected); prism log: {} requests received, {} error lines\n",
        exchanges.len(),
        violations.len(),
        expected.len() + unexpected.len(),
        expected.len(),
        log.received,
        log.errors.len()
    );
    text.push_str("  by status:");
    for (status, n) in &by_status {
        text.push_str(&format!(" {status}: {n};"));
    }
    text.push_str("\n  by operation:\n");
    for (op, n) in &by_operation {
        text.push_str(&format!("    {n:5}  {op}\n"));
    }
    for (label, list) in [
        ("VIOLATIONS", &violations),
        ("unexpected warnings", &unexpected),
        ("expected warnings", &expected),
        ("prism log error lines", &log.errors),
    ] {
        if !list.is_empty() {
            text.push_str(&format!("  {label}:\n"));
            for item in list.iter().take(40) {
                text.push_str(&format!("    - {item}\n"));
            }
            if list.len() > 40 {
                text.push_str(&format!("    ... and {} more\n", list.len() - 40));
            }
        }
    }
    Report {
        validated: exchanges.len(),
        violations: violations.len(),
        unexpected_warnings: unexpected.len(),
        log_errors: log.errors.len(),
        text,
    }
}

/// The numbers of a [`report`] and its text.
#[derive(Debug)]
pub struct Report {
    pub validated: usize,
    pub violations: usize,
    pub unexpected_warnings: usize,
    pub log_errors: usize,
    pub text: String,
}

impl Report {
    /// Fails the test unless Prism found no violation of `service`'s description, logged
    /// no error, and warned only about what `allowed` names.
    #[track_caller]
    pub fn assert_clean(&self, service: &str, allowed: &str) {
        assert_eq!(
            self.violations, 0,
            "Prism found requests or answers that break {service}'s description:\n{}",
            self.text
        );
        assert_eq!(self.log_errors, 0, "Prism logged errors:\n{}", self.text);
        assert_eq!(
            self.unexpected_warnings, 0,
            "Prism warned about more than {allowed}:\n{}",
            self.text
        );
    }
}

fn clip(s: &str) -> String {
    if s.chars().count() > 600 {
        let cut: String = s.chars().take(600).collect();
        format!("{cut}...")
    } else {
        s.to_owned()
    }
}

/// A stand-in upstream that answers every request `200` with `body` (JSON): the negative
/// control of the referee, serving what a broken simulator would. Returns its port; the
/// server thread lives as long as the test process.
pub fn canned_upstream(body: &'static str) -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("canned upstream: bind");
    let port = listener
        .local_addr()
        .expect("canned upstream: address")
        .port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            // Read the head and any body before answering, then close.
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
                if let Some(end) = find(&seen, b"\r\n\r\n") {
                    let head = parse_messages(&seen[..end + 4], false);
                    let want = head
                        .first()
                        .and_then(|m| m.header("content-length"))
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if seen.len() >= end + 4 + want {
                        break;
                    }
                }
            }
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes());
            let _ = stream.shutdown(Shutdown::Both);
        }
    });
    port
}

/// Sends one HTTP/1.1 request to `127.0.0.1:port` (bearer token, JSON body) and returns
/// the raw answer.
///
/// # Panics
/// When the connection fails.
pub fn raw_request(port: u16, method: &str, target: &str, body: Option<&str>) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {target} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nauthorization: Bearer test-token\r\naccept: application/json\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}
