//! End to end: `asana-bridge watch` on a GitHub link, through the real binary with both
//! simulators: edits arrive both ways by polling, an idle poll of GitHub costs only
//! `304 Not Modified` answers (free of rate limit) and writes nothing, SIGTERM exits 0.

#[path = "common/github.rs"]
#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod gh;

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
