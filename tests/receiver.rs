//! End to end, through the real binary: `watch --webhook-listen` facing an attacker on
//! 127.0.0.1 (`src/watch/receiver.rs`, `src/watch/webhook.rs`).
//!
//! - idle connections, kept-alive idle connections, slowly sent heads and bodies are cut
//!   off within the receiver's timeouts; cleartext HTTP/2 is not spoken;
//! - unknown links, missing signatures and oversized bodies are answered at once, without
//!   the body being sent;
//! - a flood of connections beyond the cap: the excess is closed at once, and a correctly
//!   signed delivery still gets its 200 and brings its change over;
//! - a handshake race while `watch` registers its webhook: exactly one handshake is
//!   accepted, and a secret planted by the race is never honoured;
//! - a signed delivery replayed 300 times, and a flood of distinct signed deliveries,
//!   cost at most one poll per second; the refusals are logged as a summary, not a line
//!   each.

#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use asana_sim::DeliveryKind;
use common::{TaskEdit, World, free_port};
use hmac::{KeyInit, Mac};

const WAIT: Duration = Duration::from_secs(15);

/// The receiver's head and body timeouts (`src/watch/receiver.rs`), with slack for a
/// loaded machine.
const CUT_OFF: Duration = Duration::from_secs(5 + 4);

/// A running `watch` with webhooks, its stderr collected.
struct Watch {
    child: Child,
    stderr: Arc<Mutex<String>>,
    /// The thread copying stderr; it ends at the pipe's end of file.
    reader: std::thread::JoinHandle<()>,
    port: u16,
}

impl Watch {
    fn start(w: &World) -> Self {
        let port = free_port();
        let mut child = w
            .command()
            .args([
                "-v",
                "watch",
                "--poll-interval",
                "60",
                "--backup-poll-interval",
                "60",
                "--webhook-listen",
                &format!("127.0.0.1:{port}"),
                "--webhook-url",
                &format!("http://127.0.0.1:{port}/hooks"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn watch");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let mut pipe = child.stderr.take().expect("stderr");
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("sink")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Self {
            child,
            stderr,
            reader,
            port,
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr").clone()
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// SIGTERM; the exit code and all of stderr.
    fn terminate(mut self) -> (Option<i32>, String) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let mut code = None;
        assert!(
            common::eventually(WAIT, || {
                code = self.child.try_wait().expect("wait").map(|s| s.code());
                code.is_some()
            }),
            "watch did not stop"
        );
        // Its last lines are in once the pipe reached its end of file.
        assert!(
            common::eventually(WAIT, || self.reader.is_finished()),
            "the watch's stderr stayed open after it exited"
        );
        (code.flatten(), self.stderr())
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for the link's webhook; its secret.
fn registered(w: &World, watch: &Watch) -> String {
    assert!(
        World::eventually(WAIT, || w.sim.webhooks().iter().any(|h| h.active)),
        "no webhook registered: {}",
        watch.stderr()
    );
    let hook = w
        .sim
        .webhooks()
        .into_iter()
        .find(|h| h.active)
        .expect("hook");
    assert_eq!(
        hook.target,
        format!("http://{}/hooks/roadmap", watch.addr())
    );
    w.sim.webhook_secret(&hook.gid).expect("secret")
}

fn sign(secret: &str, body: &str) -> String {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn event_body(gid: &str) -> String {
    format!(
        r#"{{"events":[{{"action":"changed","resource":{{"gid":"{gid}","resource_type":"task"}}}}]}}"#
    )
}

fn connect(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream
}

/// Reads until the server closes (or the 20 s read timeout); what came and when it ended.
fn read_to_close(mut stream: TcpStream, start: Instant) -> (String, Duration) {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
    }
    (String::from_utf8_lossy(&all).into_owned(), start.elapsed())
}

/// The status of the first response in `text` (0 for none).
fn status_of(text: &str) -> u16 {
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// A whole POST of `body` to `path` on a fresh connection (`Connection: close`); the
/// status.
fn post(addr: &str, path: &str, headers: &[(&str, &str)], body: &str) -> u16 {
    let mut stream = connect(addr);
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    if stream.write_all(request.as_bytes()).is_err() {
        return 0;
    }
    status_of(&read_to_close(stream, Instant::now()).0)
}

/// Idle, kept-alive idle, slow-head and slow-body connections are closed within the
/// timeouts; refusals on the head alone come at once, with no body sent; HTTP/2's
/// preface gets no HTTP/2. All of it logs one refusal line plus summaries, and a signed
/// delivery is still answered 200.
#[test]
fn slow_idle_and_oversized_requests_are_cut_off() {
    let w = World::new("newest");
    let gid = w.add_task("Hooked", |_| {});
    let watch = Watch::start(&w);
    let secret = registered(&w, &watch);
    let addr = watch.addr();
    let zeros = "0".repeat(64);

    let mut slow = Vec::new();
    // Idle from the start.
    let a = addr.clone();
    slow.push(std::thread::spawn(move || {
        let start = Instant::now();
        ("idle", read_to_close(connect(&a), start))
    }));
    // Idle after a kept-alive request (a signed heartbeat: 200, connection kept).
    let (a, s) = (addr.clone(), secret.clone());
    slow.push(std::thread::spawn(move || {
        let mut stream = connect(&a);
        let body = r#"{"events":[]}"#;
        let request = format!(
            "POST /hooks/roadmap HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nX-Hook-Signature: {}\r\n\r\n{body}",
            body.len(),
            sign(&s, body)
        );
        stream.write_all(request.as_bytes()).expect("send");
        let start = Instant::now();
        ("kept-alive idle", read_to_close(stream, start))
    }));
    // A head sent a byte at a time.
    let a = addr.clone();
    slow.push(std::thread::spawn(move || {
        let mut stream = connect(&a);
        let start = Instant::now();
        let head = b"POST /hooks/roadmap HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
        for byte in head {
            if stream.write_all(&[*byte]).is_err() || start.elapsed() > WAIT {
                break;
            }
            // Kept (the point): a head that trickles in, a byte every 250 ms.
            std::thread::sleep(Duration::from_millis(250));
        }
        ("slow head", read_to_close(stream, start))
    }));
    // A body that stalls after a well-formed head.
    let (a, z) = (addr.clone(), zeros.clone());
    slow.push(std::thread::spawn(move || {
        let mut stream = connect(&a);
        let start = Instant::now();
        let request = format!(
            "POST /hooks/roadmap HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nX-Hook-Signature: {z}\r\n\r\n{{\"events\":"
        );
        stream.write_all(request.as_bytes()).expect("send");
        ("stalled body", read_to_close(stream, start))
    }));
    // Cleartext HTTP/2 (prior knowledge).
    let a = addr.clone();
    slow.push(std::thread::spawn(move || {
        let mut stream = connect(&a);
        let start = Instant::now();
        stream
            .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            .expect("send");
        ("http/2 preface", read_to_close(stream, start))
    }));

    // Refused on the head: the 2 MB body is announced, never sent.
    let big = "2000000";
    type Quick<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, u16);
    let quick: [Quick; 4] = [
        ("unknown link", "/hooks/nobody", vec![], 404),
        ("no signature", "/hooks/roadmap", vec![], 401),
        (
            "not a signature",
            "/hooks/roadmap",
            vec![("X-Hook-Signature", "abc")],
            401,
        ),
        (
            "too large",
            "/hooks/roadmap",
            vec![("X-Hook-Signature", zeros.as_str())],
            413,
        ),
    ];
    for (what, path, headers, wanted) in quick {
        let mut stream = connect(&addr);
        let mut head = format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {big}\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let start = Instant::now();
        stream.write_all(head.as_bytes()).expect("send");
        let (text, took) = read_to_close(stream, start);
        assert_eq!(status_of(&text), wanted, "{what}: {text}");
        assert!(took < Duration::from_secs(2), "{what} took {took:?}");
    }

    for handle in slow {
        let (what, (text, took)) = handle.join().expect("thread");
        assert!(took < CUT_OFF, "{what} was kept open for {took:?}");
        match what {
            "stalled body" => assert_eq!(status_of(&text), 408, "{what}: {text}"),
            "kept-alive idle" => assert_eq!(status_of(&text), 200, "{what}: {text}"),
            "http/2 preface" => assert!(
                text.is_empty() || text.starts_with("HTTP/1.1 4"),
                "{what}: {text:?}"
            ),
            _ => assert!(
                text.is_empty() || text.starts_with("HTTP/1.1 4"),
                "{what}: {text:?}"
            ),
        }
    }

    // Still serving: a signed delivery of a real change is answered and brings it over.
    w.sim.edit_task(
        &gid,
        TaskEdit {
            name: Some("After the attack".into()),
            ..TaskEdit::default()
        },
    );
    assert!(
        World::eventually(WAIT, || World::front(&w.file_of(&gid).1, "title")
            .as_deref()
            == Some("After the attack")),
        "{}",
        watch.stderr()
    );
    let (code, stderr) = watch.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    let refusals: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("rejected") && l.contains("webhook request"))
        .collect();
    assert!(
        (1..=3).contains(&refusals.len()),
        "one line and a summary, not a line per request: {refusals:#?}"
    );
    assert!(!stderr.contains(&secret), "the secret was logged");
}

/// 300 idle connections (the cap is 64): the excess is closed at once, and a correctly
/// signed delivery sent meanwhile is answered 200 and brings its change over.
#[test]
fn a_flood_beyond_the_cap_still_lets_a_signed_delivery_through() {
    let w = World::new("newest");
    let gid = w.add_task("Flooded", |_| {});
    let watch = Watch::start(&w);
    let secret = registered(&w, &watch);
    let addr = watch.addr();
    assert!(World::eventually(WAIT, || w.files().len() == 1));

    let flood: Vec<TcpStream> = (0..300).map(|_| connect(&addr)).collect();
    for s in &flood {
        s.set_nonblocking(true).expect("non-blocking");
    }
    // A connection the receiver closed reads its end of file; an open one would block.
    let mut closed = 0;
    let over_the_cap_closed = World::eventually(Duration::from_secs(2), || {
        closed = flood
            .iter()
            .filter(|s| matches!((&**s).read(&mut [0u8; 1]), Ok(0)))
            .count();
        closed >= 300 - 64
    });
    assert!(
        over_the_cap_closed,
        "only {closed} of 300 connections were closed over the cap"
    );

    w.sim.edit_task(
        &gid,
        TaskEdit {
            name: Some("Through the flood".into()),
            ..TaskEdit::default()
        },
    );
    let body = event_body(&gid);
    let started = Instant::now();
    let status = post(
        &addr,
        "/hooks/roadmap",
        &[("X-Hook-Signature", &sign(&secret, &body))],
        &body,
    );
    assert_eq!(status, 200, "{}", watch.stderr());
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        World::eventually(WAIT, || World::front(&w.file_of(&gid).1, "title")
            .as_deref()
            == Some("Through the flood")),
        "{}",
        watch.stderr()
    );
    drop(flood);
    let (code, stderr) = watch.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("Too many open files"), "{stderr}");
}

/// While `watch` registers its webhook, an attacker floods the target with handshakes of
/// its own: exactly one handshake is accepted (Asana's, or, if the attacker came first,
/// the attacker's, and then the registration fails), and no planted secret is honoured.
#[test]
fn a_handshake_race_has_exactly_one_winner() {
    let w = World::new("newest");
    w.add_task("Raced", |_| {});
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let done = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(AtomicUsize::new(0));
    let mut attackers = Vec::new();
    for thread in 0..4 {
        let (addr, done, accepted, sent) = (
            addr.clone(),
            Arc::clone(&done),
            Arc::clone(&accepted),
            Arc::clone(&sent),
        );
        attackers.push(std::thread::spawn(move || {
            let mut n = 0;
            let end = Instant::now() + WAIT;
            while !done.load(Ordering::SeqCst) && Instant::now() < end {
                n += 1;
                let planted = format!("planted-{thread}-{n}");
                let Ok(mut stream) = TcpStream::connect(&addr) else {
                    // Not listening yet: try again almost at once (the race is the point).
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let request = format!(
                    "POST /hooks/roadmap HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\nX-Hook-Secret: {planted}\r\n\r\n"
                );
                if stream.write_all(request.as_bytes()).is_err() {
                    continue;
                }
                sent.fetch_add(1, Ordering::SeqCst);
                let (text, _) = read_to_close(stream, Instant::now());
                if status_of(&text) == 200 {
                    accepted.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    let mut child = w
        .command()
        .args([
            "watch",
            "--poll-interval",
            "60",
            "--webhook-listen",
            &addr,
            "--webhook-url",
            &format!("http://{addr}/hooks"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let settled = World::eventually(WAIT, || {
        w.sim
            .deliveries()
            .iter()
            .any(|d| d.kind == DeliveryKind::Handshake)
    });
    // Kept (the point): the attackers race on for a while after Asana's handshake.
    std::thread::sleep(Duration::from_millis(500));
    done.store(true, Ordering::SeqCst);
    for a in attackers {
        a.join().expect("attacker");
    }
    assert!(settled, "watch never registered");
    let asana_accepted = w
        .sim
        .deliveries()
        .iter()
        .filter(|d| d.kind == DeliveryKind::Handshake && d.status == 200)
        .count();
    let planted = accepted.load(Ordering::SeqCst);
    assert!(sent.load(Ordering::SeqCst) > 0, "the race never ran");
    assert_eq!(
        asana_accepted + planted,
        1,
        "handshakes accepted: Asana's {asana_accepted}, planted {planted}"
    );
    let active: Vec<_> = w.sim.webhooks().into_iter().filter(|h| h.active).collect();
    if planted == 1 {
        assert!(active.is_empty(), "a webhook lives on a planted secret");
    } else {
        assert_eq!(active.len(), 1);
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = common::eventually(WAIT, || child.try_wait().expect("wait").is_some());
    let _ = child.kill();
    let _ = child.wait();
}

/// How many times the bridge read Asana's event feed (one per poll).
fn polls(w: &World) -> usize {
    w.sim
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("events"))
        .count()
}

/// A captured signed delivery replayed 300 times costs at most one poll; 60 distinct
/// signed deliveries within a couple of seconds cost at most one poll per second.
#[test]
fn replays_and_floods_cost_at_most_one_poll_per_second() {
    let w = World::new("newest");
    let gid = w.add_task("Replayed", |_| {});
    let watch = Watch::start(&w);
    let secret = registered(&w, &watch);
    let addr = watch.addr();
    assert!(World::eventually(WAIT, || w.files().len() == 1));
    // Kept (a quiet period): the echo of its import write (400 ms debounce) must be dropped
    // before polls are counted; nothing marks that done.
    std::thread::sleep(Duration::from_millis(1500));
    w.sim.clear_requests();

    let body = event_body(&gid);
    let signature = sign(&secret, &body);
    for _ in 0..300 {
        let status = post(
            &addr,
            "/hooks/roadmap",
            &[("X-Hook-Signature", &signature)],
            &body,
        );
        assert_eq!(status, 200);
    }
    // Kept (the point): time for more polls to happen, were the replays to cause them.
    std::thread::sleep(Duration::from_millis(2500));
    let replayed = polls(&w);
    assert!(
        (1..=2).contains(&replayed),
        "300 replays of one delivery cost {replayed} polls"
    );

    w.sim.clear_requests();
    let start = Instant::now();
    for n in 0..60 {
        let body = event_body(&format!("12000000000{n:05}"));
        let status = post(
            &addr,
            "/hooks/roadmap",
            &[("X-Hook-Signature", &sign(&secret, &body))],
            &body,
        );
        assert_eq!(status, 200);
    }
    let spent = start.elapsed();
    // Kept (the point): time for more polls to happen, were the deliveries to cause them.
    std::thread::sleep(Duration::from_millis(1500));
    let flooded = polls(&w);
    let allowed = spent.as_secs() as usize + 3;
    assert!(
        (1..=allowed).contains(&flooded),
        "60 distinct deliveries in {spent:?} cost {flooded} polls"
    );
    let (code, stderr) = watch.terminate();
    assert_eq!(code, Some(0), "{stderr}");
}
