//! End to end: `asana-bridge sync` between the Asana simulator and the GitHub simulator,
//! through the real binary: imports both ways, edits each way, labels and assignees,
//! close/reopen, pull requests untouched, a lost create answer without a duplicate, rate
//! limits obeyed, a quiet second sync and an all-`304` unchanged poll.

#[path = "common/github.rs"]
#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod gh;

use std::time::Duration;

use gh::{Fault, GhWorld, IssueEdit, SimOptions, TaskEdit};

#[test]
fn initial_import_creates_one_issue_per_task_with_every_field() {
    let w = GhWorld::new("newest");
    w.import_all();
    let gid = w.add_task("Fix the login page", |t| {
        t.notes = "Users cannot log in.\nSee the logs.".into();
        t.due_on = Some("2026-12-01".into());
        t.assignee = Some("alice@example.com".into());
        t.tags = vec!["p1".into(), "bug".into()];
        t.section = Some("In progress".into());
    });
    let done = w.add_task("Ship it", |t| t.completed = true);
    let out = w.sync();
    assert!(out.stdout.contains("2 created in github"), "{}", out.stdout);

    let issue = w.issue_of(&gid);
    assert_eq!(issue.title, "Fix the login page");
    assert_eq!(
        issue.body.as_deref(),
        Some(
            w.body_for("Users cannot log in.\nSee the logs.", &gid)
                .as_str()
        )
    );
    assert_eq!(issue.labels, vec!["bug".to_owned(), "p1".to_owned()]);
    assert_eq!(issue.assignees, vec!["alice-gh".to_owned()]);
    assert_eq!(issue.state, "open");
    let shipped = w.issue_of(&done);
    assert_eq!(shipped.state, "closed");
    assert_eq!(shipped.state_reason.as_deref(), Some("completed"));
    assert!(w.github.labels().contains(&"p1".to_owned()));

    // Every request carried GitHub's headers.
    for r in w.github.requests() {
        assert_eq!(
            r.accept.as_deref(),
            Some("application/vnd.github+json"),
            "{r:?}"
        );
        assert_eq!(r.api_version.as_deref(), Some("2022-11-28"), "{r:?}");
        assert!(
            r.user_agent
                .as_deref()
                .is_some_and(|u| u.starts_with("asana-bridge/")),
            "{r:?}"
        );
    }
    // Lists asked for 100 a page, every state.
    let list = w
        .github
        .requests()
        .into_iter()
        .find(|r| r.method == "GET" && r.path == "/repos/acme/app/issues")
        .expect("a listing");
    assert!(
        list.query.contains("per_page=100") && list.query.contains("state=all"),
        "{}",
        list.query
    );
    // Asana's fields GitHub cannot hold stay as they were.
    let task = w.asana.task(&gid).expect("task");
    assert_eq!(task.due_on.as_deref(), Some("2026-12-01"));
    assert_eq!(task.section.as_deref(), Some("In progress"));
    w.assert_no_unexpected();
}

#[test]
fn issues_become_tasks_without_being_edited() {
    let w = GhWorld::new("newest");
    w.import_all();
    let n = w.add_issue("Crash on save", |i| {
        i.body = Some("Steps:\n1. save".into());
        i.labels = vec!["bug".into()];
        i.assignees = vec!["alice-gh".into()];
    });
    let closed = w.add_issue("Old one", |i| i.closed = true);
    let out = w.sync();
    assert!(out.stdout.contains("2 created in Asana"), "{}", out.stdout);

    let tasks = w.asana.project_tasks(&w.project);
    assert_eq!(tasks.len(), 2, "{tasks:#?}");
    let crash = tasks
        .iter()
        .find(|t| t.name == "Crash on save")
        .expect("task");
    // The task names the issue it was made from in a line at the end of its description
    // (a recovery hint for lost records: tests/github_lost_state.rs).
    assert_eq!(
        crash.notes,
        format!("Steps:\n1. save\n\nMirrored from GitHub: acme/app#{n}")
    );
    assert_eq!(crash.tags, vec!["bug".to_owned()]);
    assert_eq!(crash.assignee.as_deref(), Some("alice@example.com"));
    assert!(!crash.completed);
    let old = tasks.iter().find(|t| t.name == "Old one").expect("task");
    assert!(old.completed);

    // Adopted issues are not edited: the pairing lives in the bridge's records, so no
    // link line is written into them (no PATCH, no "edited" mark).
    let issue = w.github.issue(n).expect("issue");
    assert_eq!(issue.body.as_deref(), Some("Steps:\n1. save"));
    assert_eq!(issue.api_writes, 0);
    let old_issue = w.github.issue(closed).expect("issue");
    assert_eq!(old_issue.body, None);
    assert_eq!(old_issue.api_writes, 0);
    assert!(w.github.writes().is_empty(), "{:?}", w.github.writes());

    // The round trip is quiet.
    w.clear_requests();
    w.sync();
    assert_eq!(w.all_writes(), Vec::<String>::new());
}

#[test]
fn second_sync_writes_nothing_and_an_unchanged_poll_is_all_304() {
    let w = GhWorld::new("newest");
    for i in 0..4 {
        w.add_task(&format!("Task {i}"), |t| t.tags = vec!["x".into()]);
    }
    w.add_issue("From GitHub", |_| {});
    w.github.add_pull_request("A pull request", "code");
    w.sync();
    w.clear_requests();
    let out = w.sync();
    assert!(out.stdout.contains("no changes"), "{}", out.stdout);
    assert_eq!(w.all_writes(), Vec::<String>::new());

    // Nothing changed since: every GitHub request is a conditional GET answered 304,
    // which costs no rate limit.
    w.clear_requests();
    let used = w.github.rate_limit_used();
    w.sync();
    let requests = w.github.requests();
    assert!(!requests.is_empty());
    for r in &requests {
        assert_eq!((r.method.as_str(), r.status), ("GET", 304), "{r:?}");
        assert!(r.if_none_match.is_some() && !r.counted, "{r:?}");
    }
    assert_eq!(w.github.rate_limit_used(), used, "a 304 is free");
    w.assert_no_unexpected();
}

#[test]
fn edits_in_asana_reach_the_issue() {
    let w = GhWorld::new("newest");
    let gid = w.add_task("Original", |t| {
        t.notes = "old notes".into();
        t.tags = vec!["a".into()];
    });
    w.sync();
    w.asana.edit_task(
        &gid,
        TaskEdit {
            name: Some("Renamed in Asana".into()),
            notes: Some("new notes\n".into()),
            tags: Some(vec!["b".into(), "c".into()]),
            assignee: Some(Some("alice@example.com".into())),
            ..TaskEdit::default()
        },
    );
    w.clear_requests();
    let out = w.sync();
    assert!(out.stdout.contains("1 updated in github"), "{}", out.stdout);
    let issue = w.issue_of(&gid);
    assert_eq!(issue.title, "Renamed in Asana");
    assert_eq!(
        issue.body.as_deref(),
        Some(w.body_for("new notes\n", &gid).as_str())
    );
    assert_eq!(issue.labels, vec!["b".to_owned(), "c".to_owned()]);
    assert_eq!(issue.assignees, vec!["alice-gh".to_owned()]);
    // One PATCH with the whole label set (plus the label creations).
    let patches: Vec<String> = w
        .github
        .writes()
        .into_iter()
        .filter(|w| w.starts_with("PATCH"))
        .collect();
    assert_eq!(patches.len(), 1, "{patches:?}");
    w.clear_requests();
    w.sync();
    assert_eq!(w.all_writes(), Vec::<String>::new());
}

#[test]
fn edits_on_github_reach_asana() {
    let w = GhWorld::new("newest");
    let gid = w.add_task("Original", |t| t.notes = "old".into());
    w.sync();
    let n = w.issue_of(&gid).number;
    let body = w.body_for("Edited on GitHub\r\nwith CRLF", &gid);
    w.github.edit_issue(
        n,
        IssueEdit {
            title: Some("Edited title".into()),
            body: Some(Some(body)),
            labels: Some(vec!["needs-triage".into()]),
            assignees: Some(vec!["alice-gh".into()]),
            ..IssueEdit::default()
        },
    );
    w.sync();
    let t = w.asana.task(&gid).expect("task");
    assert_eq!(t.name, "Edited title");
    // Rich text has `\n` line breaks (XML reads CRLF as LF).
    assert_eq!(t.notes, "Edited on GitHub\nwith CRLF");
    assert_eq!(t.tags, vec!["needs-triage".to_owned()]);
    assert_eq!(t.assignee.as_deref(), Some("alice@example.com"));
    w.clear_requests();
    w.sync();
    assert_eq!(w.all_writes(), Vec::<String>::new());
}

#[test]
fn close_and_reopen_flow_both_ways() {
    let w = GhWorld::new("newest");
    let gid = w.add_task("Toggle me", |_| {});
    w.sync();
    let n = w.issue_of(&gid).number;

    w.asana.edit_task(
        &gid,
        TaskEdit {
            completed: Some(true),
            ..TaskEdit::default()
        },
    );
    w.sync();
    let issue = w.github.issue(n).expect("issue");
    assert_eq!(
        (issue.state.as_str(), issue.state_reason.as_deref()),
        ("closed", Some("completed"))
    );

    w.github.edit_issue(
        n,
        IssueEdit {
            closed: Some(false),
            ..IssueEdit::default()
        },
    );
    w.sync();
    assert!(
        !w.asana.task(&gid).expect("task").completed,
        "reopened on GitHub"
    );

    w.github.edit_issue(
        n,
        IssueEdit {
            closed: Some(true),
            ..IssueEdit::default()
        },
    );
    w.sync();
    assert!(
        w.asana.task(&gid).expect("task").completed,
        "closed on GitHub"
    );

    w.asana.edit_task(
        &gid,
        TaskEdit {
            completed: Some(false),
            ..TaskEdit::default()
        },
    );
    w.sync();
    let issue = w.github.issue(n).expect("issue");
    assert_eq!(
        (issue.state.as_str(), issue.state_reason.as_deref()),
        ("open", Some("reopened"))
    );
}

#[test]
fn pull_requests_are_never_touched() {
    let w = GhWorld::new("newest");
    let pr = w.github.add_pull_request("Add feature", "Implements it");
    w.add_issue("Real issue", |_| {});
    w.add_task("From Asana", |_| {});
    let before = w.github.issue(pr).expect("pr");
    w.sync();
    w.sync();
    let tasks = w.asana.project_tasks(&w.project);
    assert!(tasks.iter().all(|t| t.name != "Add feature"), "{tasks:#?}");
    assert_eq!(tasks.len(), 2);
    assert_eq!(
        w.github.issue(pr).expect("pr"),
        before,
        "the PR is as it was"
    );
    let pr_path = format!("/repos/acme/app/issues/{pr}");
    assert!(
        w.github.requests().iter().all(|r| r.path != pr_path),
        "no request addressed the PR"
    );
}

#[test]
fn unmapped_people_are_left_alone() {
    let w = GhWorld::new("newest");
    // bob has no GitHub login in [users]: the issue is created unassigned.
    let gid = w.add_task("Bob's task", |t| {
        t.assignee = Some("bob@example.com".into())
    });
    w.sync();
    let issue = w.issue_of(&gid);
    assert!(issue.assignees.is_empty(), "{issue:?}");
    assert_eq!(
        w.asana.task(&gid).expect("task").assignee.as_deref(),
        Some("bob@example.com"),
        "Asana keeps bob"
    );
    // Someone adds bob-gh (unmapped) on GitHub next to nothing else: Asana keeps bob.
    w.github.edit_issue(
        issue.number,
        IssueEdit {
            assignees: Some(vec!["bob-gh".into()]),
            ..IssueEdit::default()
        },
    );
    w.sync();
    assert_eq!(
        w.asana.task(&gid).expect("task").assignee.as_deref(),
        Some("bob@example.com")
    );
    // Assigning alice in Asana puts alice-gh first and leaves bob-gh where he is.
    w.asana.edit_task(
        &gid,
        TaskEdit {
            assignee: Some(Some("alice@example.com".into())),
            ..TaskEdit::default()
        },
    );
    w.sync();
    assert_eq!(
        w.github.issue(issue.number).expect("issue").assignees,
        vec!["alice-gh".to_owned(), "bob-gh".to_owned()]
    );
    w.clear_requests();
    w.sync();
    assert_eq!(w.all_writes(), Vec::<String>::new());
}

#[test]
fn a_lost_create_answer_yields_no_duplicate_issue() {
    let w = GhWorld::new("newest");
    let gid = w.add_task("Created once", |t| t.notes = "body".into());
    w.github.inject(Fault::DropAfterApply {
        count: 1,
        method: Some("POST".into()),
        path_contains: Some("/issues".into()),
    });
    let first = w.run(&["sync"]);
    assert_eq!(first.code, 1, "{}\n{}", first.stdout, first.stderr);
    assert_eq!(
        w.github.repo_issues().len(),
        1,
        "the issue was created before the answer was lost"
    );

    w.sync();
    let issues = w.github.repo_issues();
    assert_eq!(issues.len(), 1, "{issues:#?}");
    assert_eq!(
        GhWorld::footer_gid(&issues[0]).as_deref(),
        Some(gid.as_str())
    );
    assert_eq!(
        w.asana.project_tasks(&w.project).len(),
        1,
        "and no task came back from it"
    );
    w.clear_requests();
    w.sync();
    assert_eq!(w.all_writes(), Vec::<String>::new());
}

#[test]
fn a_deleted_task_closes_its_issue_as_not_planned() {
    let w = GhWorld::new("newest");
    let keep = w.add_task("Keep", |_| {});
    let gone = w.add_task("Gone", |_| {});
    w.add_task("Also kept", |_| {});
    w.sync();
    let n = w.issue_of(&gone).number;
    w.asana.delete_task(&gone);
    w.sync();
    let issue = w.github.issue(n).expect("still on GitHub");
    assert_eq!(
        (issue.state.as_str(), issue.state_reason.as_deref()),
        ("closed", Some("not_planned"))
    );
    assert!(
        issue.labels.contains(&"asana-bridge:deleted".to_owned()),
        "{issue:?}"
    );
    // It has left the link: no task is recreated from it, and all is quiet.
    w.clear_requests();
    w.sync();
    assert_eq!(w.all_writes(), Vec::<String>::new());
    assert_eq!(w.asana.project_tasks(&w.project).len(), 2);
    assert!(w.asana.task(&keep).is_some());
}

#[test]
fn rate_limits_are_obeyed_without_failing_the_run() {
    let w = GhWorld::with_options(
        "newest",
        SimOptions {
            // GitHub's secondary limit, scaled down: mutations must be 100 ms apart.
            min_mutation_interval: Some(Duration::from_millis(100)),
            ..SimOptions::default()
        },
    );
    let mut w = w;
    w.spacing_ms = 120;
    for i in 0..4 {
        w.add_task(&format!("Task {i}"), |t| t.tags = vec![format!("t{i}")]);
    }
    // The primary budget is spent; it resets in two to three seconds (whole seconds).
    w.github.exhaust_rate_limit(Duration::from_secs(3));
    // Then two secondary-limit answers, as 403 and as 429, each asking for a second.
    w.github.inject(Fault::SecondaryRateLimit {
        status: 403,
        retry_after_secs: Some(1),
        count: 1,
        method: Some("POST".into()),
        path_contains: Some("/issues".into()),
    });
    w.github.inject(Fault::SecondaryRateLimit {
        status: 429,
        retry_after_secs: Some(1),
        count: 1,
        method: Some("POST".into()),
        path_contains: Some("/issues".into()),
    });
    w.sync();
    assert_eq!(w.github.repo_issues().len(), 4);
    let refusals: Vec<(String, u16)> = w
        .github
        .requests()
        .into_iter()
        .filter(|r| r.status == 403 || r.status == 429)
        .map(|r| (format!("{} {}", r.method, r.path), r.status))
        .collect();
    let posts = refusals
        .iter()
        .filter(|(r, _)| r.starts_with("POST"))
        .count();
    assert_eq!(
        (refusals.len(), posts),
        (3, 2),
        "one primary refusal and the two injected ones, each waited out once: {refusals:?}"
    );
    assert_eq!(
        w.github.rate_limited_count(),
        1,
        "the pacing rule was never broken"
    );
    assert_eq!(
        w.github.peak_mutations_in_flight(),
        1,
        "mutations are serial"
    );
}

#[test]
fn the_token_never_appears_and_an_installation_token_works() {
    let mut w = GhWorld::new("newest");
    w.token = w.github.installation_token();
    w.add_task("Task", |_| {});
    let out = w.run(&["-v", "-v", "sync"]).expect(0);
    let dry = w.run(&["sync", "--dry-run"]).expect(0);
    let status = w.run(&["status"]);
    let mut shown = vec![
        out.stdout,
        out.stderr,
        dry.stdout,
        dry.stderr,
        status.stdout,
        status.stderr,
    ];
    for entry in walk(&w.dir.path().join(".asana-bridge")) {
        shown.push(String::from_utf8_lossy(&std::fs::read(entry).unwrap_or_default()).into_owned());
    }
    for text in &shown {
        assert!(!text.contains(&w.token), "the token leaked: {text}");
    }
    assert_eq!(w.github.repo_issues().len(), 1);

    // A revoked token stops the link with a clear error, not a crash.
    w.github.revoke_tokens();
    w.asana.edit_task(
        &w.asana.project_tasks(&w.project)[0].gid,
        TaskEdit {
            name: Some("Renamed".into()),
            ..TaskEdit::default()
        },
    );
    let refused = w.run(&["sync"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("github"), "{}", refused.stderr);
    assert!(!refused.stderr.contains(&w.token));
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

/// `--dry-run` against a GitHub target plans the creates and writes nothing anywhere (no
/// API write, no state, no `ETag` cache file).
#[test]
fn dry_run_writes_nothing() {
    let w = GhWorld::new("newest");
    w.add_task("Planned", |_| {});
    w.add_issue("Also planned", |_| {});
    let out = w.run(&["sync", "--dry-run"]).expect(0);
    assert!(out.stdout.contains("Planned"), "{}", out.stdout);
    assert_eq!(w.all_writes(), Vec::<String>::new());
    assert!(!w.dir.path().join(".asana-bridge").join("github").exists());
    assert!(
        w.github
            .repo_issues()
            .iter()
            .all(|i| GhWorld::footer_gid(i).is_none())
    );
}
