//! End to end: `asana-bridge watch` on a GitHub link, through the real binary with both
//! simulators: edits arrive both ways by polling, an idle poll of GitHub costs only
//! `304 Not Modified` answers (free of rate limit) and writes nothing, SIGTERM exits 0;
//! with webhooks, the repository's hook prompts a poll, forgeries and repeats are refused,
//! the secret is never printed, and the hook is deleted on a clean stop.

#[path = "common/github.rs"]
#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod gh;

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use gh::{GhWorld, IssueEdit, TaskEdit};

const WAIT: Duration = Duration::from_secs(20);

fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + WAIT;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Stops the child on the way out, even when an assertion fails.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn watch_mirrors_a_github_link_and_idles_on_304s() {
    let w = GhWorld::new("newest");
    let gid = w.add_task("Watched", |_| {});
    let mut child = Child(
        w.command()
            .args(["watch", "--poll-interval", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn watch"),
    );
    assert!(
        eventually(|| w.github.repo_issues().len() == 1),
        "no issue was created"
    );
    let issue = w.issue_of(&gid);

    // GitHub -> Asana.
    w.github.edit_issue(
        issue.number,
        IssueEdit {
            title: Some("Renamed on GitHub".into()),
            ..IssueEdit::default()
        },
    );
    assert!(
        eventually(|| w
            .asana
            .task(&gid)
            .is_some_and(|t| t.name == "Renamed on GitHub")),
        "a GitHub edit never reached Asana"
    );
    // Asana -> GitHub.
    w.asana.edit_task(
        &gid,
        TaskEdit {
            completed: Some(true),
            ..TaskEdit::default()
        },
    );
    assert!(
        eventually(|| w.issue_of(&gid).state == "closed"),
        "an Asana edit never reached GitHub"
    );

    // Idle: nothing written anywhere, and every GitHub poll is an unchanged 304.
    std::thread::sleep(Duration::from_millis(1500));
    w.clear_requests();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(w.all_writes(), Vec::<String>::new());
    let polls = w.github.requests();
    assert!(!polls.is_empty(), "the GitHub side was not polled");
    assert!(
        polls.iter().all(|r| r.status == 304),
        "an idle poll cost more than 304s: {polls:#?}"
    );
    w.assert_no_unexpected();

    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let start = Instant::now();
    let code = loop {
        if let Some(s) = child.0.try_wait().expect("wait") {
            break s.code();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "watch did not stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(0));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// POSTs `body` to `url` (plain http on 127.0.0.1) with `headers`; the status code.
fn post(url: &str, headers: &[(&str, String)], body: &str) -> u16 {
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest.split_at(rest.find('/').expect("path"));
    let mut stream = std::net::TcpStream::connect(host).expect("connect");
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line")
}

#[test]
fn a_github_webhook_prompts_a_poll_refuses_forgeries_and_is_deleted_on_stop() {
    let w = GhWorld::new("newest");
    let gid = w.add_task("Hooked", |_| {});
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hooks");
    let log_path = w.dir.path().join("watch.log");
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let mut child = Child(
        w.command()
            .args([
                "-vvv",
                "watch",
                "--poll-interval",
                "60",
                "--backup-poll-interval",
                "60",
                "--webhook-listen",
                &format!("127.0.0.1:{port}"),
                "--webhook-url",
                &url,
            ])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log_path).expect("log file"))
            .spawn()
            .expect("spawn watch"),
    );
    assert!(
        eventually(|| w.github.repo_issues().len() == 1),
        "no issue was created: {}",
        log()
    );
    assert!(
        eventually(|| w.github.hooks().iter().any(|h| h.active)),
        "no GitHub webhook was registered: {}",
        log()
    );
    let hooks = w.github.hooks();
    assert_eq!(hooks.len(), 1, "{hooks:#?}");
    let hook = &hooks[0];
    assert_eq!(hook.url, format!("{url}/bugs"));
    assert_eq!(hook.content_type, "json");
    assert!(
        hook.events.contains(&"issues".to_owned()),
        "{:?}",
        hook.events
    );
    let secret = hook.secret.clone().expect("a signed hook");
    assert!(secret.len() >= 32, "a short secret");
    assert!(
        eventually(|| w
            .github
            .deliveries()
            .iter()
            .any(|d| d.event == "ping" && d.status() == Some(200))),
        "the ping was not answered 200: {:#?}\n{}",
        w.github.deliveries(),
        log()
    );

    // With a 60 s poll, only the hook can bring this edit over in seconds.
    let issue = w.issue_of(&gid);
    w.github.edit_issue(
        issue.number,
        IssueEdit {
            title: Some("Pushed by a GitHub webhook".into()),
            ..IssueEdit::default()
        },
    );
    assert!(
        eventually(|| w
            .asana
            .task(&gid)
            .is_some_and(|t| t.name == "Pushed by a GitHub webhook")),
        "the GitHub webhook did not prompt a poll: {:#?}\n{}",
        w.github.deliveries(),
        log()
    );

    // A forged delivery (no signature, a wrong one) is refused and prompts nothing.
    std::thread::sleep(Duration::from_millis(1500));
    w.clear_requests();
    let body = r#"{"action":"edited","issue":{"number":1}}"#;
    let forged = [
        vec![("X-GitHub-Event", "issues".to_owned())],
        vec![
            ("X-GitHub-Event", "issues".to_owned()),
            ("X-Hub-Signature-256", format!("sha256={}", "00".repeat(32))),
        ],
    ];
    for headers in &forged {
        assert_eq!(post(&hook.url, headers, body), 401);
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        w.github.requests().is_empty(),
        "a forged delivery made the bridge poll: {:#?}",
        w.github.requests()
    );

    // A signed delivery prompts a poll; the same delivery again (GitHub redelivers) does
    // not.
    let signed = |guid: &str| {
        use hmac::{KeyInit, Mac};
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(body.as_bytes());
        let signature = hex::encode(mac.finalize().into_bytes());
        vec![
            ("X-GitHub-Event", "issues".to_owned()),
            ("X-GitHub-Delivery", guid.to_owned()),
            ("X-Hub-Signature-256", format!("sha256={signature}")),
        ]
    };
    assert_eq!(post(&hook.url, &signed("guid-1"), body), 200);
    assert!(
        eventually(|| !w.github.requests().is_empty()),
        "a signed delivery did not prompt a poll: {}",
        log()
    );
    std::thread::sleep(Duration::from_millis(1500));
    w.clear_requests();
    assert_eq!(post(&hook.url, &signed("guid-1"), body), 200);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        w.github.requests().is_empty(),
        "a repeated delivery made the bridge poll again: {:#?}",
        w.github.requests()
    );

    // SIGTERM: the hook is deleted, the secret was never printed.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let start = Instant::now();
    let code = loop {
        if let Some(s) = child.0.try_wait().expect("wait") {
            break s.code();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "watch did not stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    child
        .0
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .expect("stdout");
    let stderr = log();
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(w.github.hooks(), vec![], "the hook outlived the watch");
    assert!(
        !stdout.contains(&secret) && !stderr.contains(&secret),
        "the webhook secret was printed"
    );
    assert!(stderr.contains("GitHub webhook registered"), "{stderr}");
    w.assert_no_unexpected();
}
