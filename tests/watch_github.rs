//! End to end: `asana-bridge watch` on a GitHub link, through the real binary with both
//! simulators: edits arrive both ways by polling, an idle poll of GitHub costs only
//! `304 Not Modified` answers (free of rate limit) and writes nothing, SIGTERM exits 0;
//! with webhooks, the repository's hook prompts a poll, forgeries are refused, repeats
//! (also a captured delivery replayed under fresh GUIDs), a `ping` and an event the hook does
//! not ask for prompt nothing,
//! the secret is never printed, and the hook is deleted on a clean stop; without one (a
//! token that may not create hooks) the link polls GitHub at its normal interval.

#[path = "common/github.rs"]
#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod gh;

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Duration;

use gh::{Fault, GhWorld, IssueEdit, TaskEdit, free_port};

const WAIT: Duration = Duration::from_secs(20);

fn eventually(cond: impl FnMut() -> bool) -> bool {
    gh::eventually(WAIT, cond)
}

/// Stops the child on the way out, even when an assertion fails.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Child {
    /// SIGTERM, then the exit code (a clean stop must come within 10 s).
    fn terminate(&mut self) -> Option<i32> {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let mut code = None;
        assert!(
            gh::eventually(Duration::from_secs(10), || {
                code = self.0.try_wait().expect("wait").map(|s| s.code());
                code.is_some()
            }),
            "watch did not stop"
        );
        code.flatten()
    }
}

/// Renames `gid`'s issue on GitHub as a person would.
fn rename_issue(w: &GhWorld, gid: &str, title: &str) {
    w.github.edit_issue(
        w.issue_of(gid).number,
        IssueEdit {
            title: Some(title.into()),
            ..IssueEdit::default()
        },
    );
}

/// Whether `gid`'s Asana task comes to be named `name` within [`WAIT`].
fn arrives_in_asana(w: &GhWorld, gid: &str, name: &str) -> bool {
    eventually(|| w.asana.task(gid).is_some_and(|t| t.name == name))
}

/// `watch` with webhooks on `port` and the given poll intervals, its stderr into `log`.
fn watch_with_webhooks(
    w: &GhWorld,
    port: u16,
    poll: &str,
    backup: &str,
    log: &std::path::Path,
) -> Child {
    Child(
        w.command()
            .args([
                "-vvv",
                "watch",
                "--poll-interval",
                poll,
                "--backup-poll-interval",
                backup,
                "--webhook-listen",
                &format!("127.0.0.1:{port}"),
                "--webhook-url",
                &format!("http://127.0.0.1:{port}/hooks"),
            ])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).expect("log file"))
            .spawn()
            .expect("spawn watch"),
    )
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

    // GitHub -> Asana.
    rename_issue(&w, &gid, "Renamed on GitHub");
    assert!(
        arrives_in_asana(&w, &gid, "Renamed on GitHub"),
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
    // Kept (a quiet period): the echo of its last writes must be over before requests are
    // counted; nothing marks that done.
    std::thread::sleep(Duration::from_millis(1500));
    w.clear_requests();
    // Kept (the point): three seconds of idle polls are looked at.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(w.all_writes(), Vec::<String>::new());
    let polls = w.github.requests();
    assert!(!polls.is_empty(), "the GitHub side was not polled");
    assert!(
        polls.iter().all(|r| r.status == 304),
        "an idle poll cost more than 304s: {polls:#?}"
    );
    w.assert_no_unexpected();
    assert_eq!(child.terminate(), Some(0));
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
    let mut child = watch_with_webhooks(&w, port, "60", "60", &log_path);
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
    rename_issue(&w, &gid, "Pushed by a GitHub webhook");
    assert!(
        arrives_in_asana(&w, &gid, "Pushed by a GitHub webhook"),
        "the GitHub webhook did not prompt a poll: {:#?}\n{}",
        w.github.deliveries(),
        log()
    );

    // A forged delivery (no signature, a wrong one) is refused and prompts nothing.
    // Kept (a quiet period): the sync the webhook prompted must be over before requests
    // are counted; nothing marks that done.
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
    // Kept (the point): time for a poll to happen, were the forgeries to cause one.
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
    // Kept (a quiet period): the poll the delivery prompted must be over before requests
    // are counted; nothing marks that done.
    std::thread::sleep(Duration::from_millis(1500));
    w.clear_requests();
    assert_eq!(post(&hook.url, &signed("guid-1"), body), 200);
    // Kept (the point): time for a poll to happen, were the repeat to cause one.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        w.github.requests().is_empty(),
        "a repeated delivery made the bridge poll again: {:#?}",
        w.github.requests()
    );
    // The signature does not cover X-GitHub-Delivery: the captured delivery replayed
    // under fresh GUIDs is still a repeat (its body is).
    for n in 2..50 {
        assert_eq!(post(&hook.url, &signed(&format!("guid-{n}")), body), 200);
    }
    // Kept (the point): time for a poll to happen, were the replays to cause one.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        w.github.requests().is_empty(),
        "a replay under fresh GUIDs made the bridge poll again: {:#?}",
        w.github.requests()
    );

    // Signed deliveries that tell nothing prompt nothing: the hook's `ping`, and an event
    // the hook does not ask for.
    for (event, other) in [
        ("ping", r#"{"zen":"Keep it logically awesome."}"#),
        ("push", r#"{"ref":"refs/heads/main"}"#),
    ] {
        use hmac::{KeyInit, Mac};
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(other.as_bytes());
        let signature = hex::encode(mac.finalize().into_bytes());
        let headers = vec![
            ("X-GitHub-Event", event.to_owned()),
            ("X-GitHub-Delivery", format!("guid-{event}")),
            ("X-Hub-Signature-256", format!("sha256={signature}")),
        ];
        assert_eq!(post(&hook.url, &headers, other), 200, "{event}");
    }
    // Kept (the point): time for a poll to happen, were either to cause one.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        w.github.requests().is_empty(),
        "a ping or a push made the bridge poll: {:#?}",
        w.github.requests()
    );

    // SIGTERM: the hook is deleted, the secret was never printed.
    let code = child.terminate();
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

/// A token that may not create webhooks (GitHub answers 403): one warning, and the link
/// goes on polling GitHub at its normal interval, not at the slow backup interval meant
/// for links whose every side has a live webhook.
#[test]
fn without_a_github_webhook_the_link_polls_github_at_the_normal_interval() {
    let w = GhWorld::new("newest");
    let gid = w.add_task("Polled", |_| {});
    w.github.inject(Fault::Status {
        status: 403,
        count: 100,
        method: Some("POST".into()),
        path_contains: Some("/hooks".into()),
    });
    let log_path = w.dir.path().join("watch.log");
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let mut child = watch_with_webhooks(&w, free_port(), "1", "60", &log_path);
    assert!(
        eventually(|| w.github.repo_issues().len() == 1),
        "no issue was created: {}",
        log()
    );
    assert!(
        eventually(|| log().contains("no GitHub webhook, polling GitHub only")),
        "no warning about the missing webhook: {}",
        log()
    );
    assert_eq!(w.github.hooks(), vec![]);

    // The Asana webhook is live, GitHub's is not: a 1 s poll, not the 60 s backup one.
    rename_issue(&w, &gid, "Seen by polling");
    assert!(
        arrives_in_asana(&w, &gid, "Seen by polling"),
        "a GitHub edit waited for the backup poll: {}",
        log()
    );
    assert_eq!(child.terminate(), Some(0), "{}", log());
}
