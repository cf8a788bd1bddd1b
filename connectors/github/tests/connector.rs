//! The connector against the GitHub simulator: pagination through `Link`, pull requests
//! skipped, `ETag`/`304`, writes and their read-back, labels created once, assignees
//! through the `[users]` table, deletion as "closed, not planned", the `since` change
//! feed, paced writes, rate-limit answers and GitHub's error bodies.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use asana_bridge_connector::http::{HttpClient, RetryPolicy};
use asana_bridge_connector::{Connector, ErrorKind, Field, Item, PageToken, TaskFields, TaskPatch};
use asana_bridge_github::{DELETED_LABEL, GithubConnector, GithubSettings, http_config};
use github_sim::{Fault, GithubSim, IssueEdit, IssueSeed};
use secrecy::SecretString;

fn connector_with(sim: &GithubSim, spacing: Duration) -> GithubConnector {
    let mut config = http_config(&sim.base_url(), SecretString::from(sim.token()));
    config.retry = RetryPolicy::fast(Duration::from_secs(10));
    let http = HttpClient::new(config).expect("valid config");
    let mut settings = GithubSettings::new("acme/app", "42")
        .expect("valid repo")
        .with_users(&BTreeMap::from([
            ("Alice@Example.com".to_owned(), "alice-gh".to_owned()),
            ("ghost@example.com".to_owned(), "ghost-gh".to_owned()),
        ]));
    settings.mutation_spacing = spacing;
    GithubConnector::new(http, settings)
}

fn connector(sim: &GithubSim) -> GithubConnector {
    connector_with(sim, Duration::ZERO)
}

async fn list_all(c: &GithubConnector) -> Vec<Item> {
    let mut items = Vec::new();
    let mut token: Option<PageToken> = None;
    loop {
        let page = c.list_page(token.take()).await.expect("page");
        assert!(page.errors.is_empty(), "{:?}", page.errors);
        items.extend(page.items);
        match page.next {
            Some(next) => token = Some(next),
            None => return items,
        }
    }
}

fn seed(title: &str) -> IssueSeed {
    IssueSeed {
        title: title.to_owned(),
        ..IssueSeed::default()
    }
}

fn fields(title: &str) -> TaskFields {
    TaskFields {
        title: title.to_owned(),
        ..TaskFields::default()
    }
}

/// 150 issues and 3 pull requests: two pages of 100 following `Link`, no pull request.
#[tokio::test]
async fn listing_follows_link_and_skips_pull_requests() {
    let sim = GithubSim::start();
    for i in 0..150 {
        sim.add_issue(seed(&format!("Issue {i}")));
        if i % 50 == 0 {
            sim.add_pull_request(&format!("PR {i}"), "");
        }
    }
    let c = connector(&sim);
    let first = c.list_page(None).await.expect("first page");
    assert_eq!(first.items.len(), 98, "100 per page, two of them PRs");
    let next = first.next.expect("a next page");
    assert!(
        next.0.contains("/repositories/") && next.0.contains("page=2"),
        "{next:?}"
    );
    let items = list_all(&c).await;
    assert_eq!(items.len(), 150);
    assert!(items.iter().all(|i| i.fields.title.starts_with("Issue")));
    let lists: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/issues"))
        .collect();
    assert!(lists[0].query.contains("per_page=100") && lists[0].query.contains("state=all"));
}

/// Listing again unchanged: every page answers 304 from the cache and costs no rate limit;
/// an edit changes only its page.
#[tokio::test]
async fn unchanged_pages_answer_304() {
    let sim = GithubSim::start();
    for i in 0..120 {
        sim.add_issue(seed(&format!("Issue {i}")));
    }
    let c = connector(&sim);
    let first = list_all(&c).await;
    let used = sim.rate_limit_used();
    sim.clear_requests();
    let again = list_all(&c).await;
    assert_eq!(first, again);
    let requests = sim.requests();
    // Two pages of issues and the repository's comment listing (issue comment marks).
    assert_eq!(requests.len(), 3, "{requests:#?}");
    assert!(
        requests.iter().all(|r| r.status == 304 && !r.counted),
        "{requests:#?}"
    );
    assert_eq!(sim.rate_limit_used(), used);

    sim.edit_issue(
        120,
        IssueEdit {
            title: Some("Changed".into()),
            ..IssueEdit::default()
        },
    );
    sim.clear_requests();
    let after = list_all(&c).await;
    let statuses: Vec<u16> = sim
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/issues"))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![304, 200], "only the second page changed");
    assert!(after.iter().any(|i| i.fields.title == "Changed"));
}

/// Create with a partner, update, stamp: the body carries the link line, the notes read
/// back byte for byte, and every returned item equals the next listing's.
#[tokio::test]
async fn writes_round_trip() {
    let sim = GithubSim::start();
    sim.add_user("alice-gh");
    let c = connector(&sim);
    let mut f = fields("Write me");
    f.notes = "line 1\nline 2\n".into();
    f.tags = vec!["bug".into(), "new-label".into()];
    f.assignee = Some("alice@example.com".into());
    f.completed = true;
    f.due = Some("2026-01-01".into());
    let created = c.create(&f, Some("1200")).await.expect("created");
    assert_eq!(created.partner.as_deref(), Some("1200"));
    assert_eq!(created.fields.notes, f.notes);
    assert_eq!(created.fields.tags, f.tags);
    assert_eq!(
        created.fields.assignee.as_deref(),
        Some("alice@example.com")
    );
    assert!(created.fields.completed);
    assert_eq!(created.fields.due, None, "GitHub has no due dates");
    let issue = sim
        .issue(created.id.parse().expect("number"))
        .expect("issue");
    assert_eq!(issue.state_reason.as_deref(), Some("completed"));
    assert!(issue.body.as_deref().is_some_and(|b| b.ends_with(
        "<sub>Synced with [Asana task 1200](https://app.asana.com/0/42/1200) by asana-bridge</sub>"
    )));
    assert_eq!(list_all(&c).await, vec![created.clone()]);

    let patch = TaskPatch {
        title: Some("Renamed".into()),
        notes: Some(String::new()),
        completed: Some(false),
        section: Some(Some("Ignored".into())),
        ..TaskPatch::default()
    };
    let updated = c.update(&created, &patch).await.expect("updated");
    assert_eq!(updated.fields.title, "Renamed");
    assert_eq!(updated.fields.notes, "");
    assert!(!updated.fields.completed);
    assert_eq!(
        updated.partner.as_deref(),
        Some("1200"),
        "the link line stays"
    );
    assert_eq!(list_all(&c).await, vec![updated.clone()]);

    // The pairing lives in the bridge's records: set_partner writes nothing.
    sim.clear_requests();
    let stamped = c.set_partner(&updated, "1300").await.expect("stamped");
    assert_eq!(stamped, updated);
    assert!(sim.writes().is_empty());

    // A patch of fields GitHub cannot hold sends nothing.
    let same = c
        .update(
            &stamped,
            &TaskPatch {
                due: Some(Some("2027-01-01".into())),
                ..TaskPatch::default()
            },
        )
        .await
        .expect("no-op");
    assert_eq!(same, stamped);
    assert!(sim.writes().is_empty());
}

/// Labels: the repository's labels are listed once; only missing ones are created.
#[tokio::test]
async fn labels_are_listed_once_and_created_when_missing() {
    let sim = GithubSim::start();
    let c = connector(&sim);
    let mut f = fields("One");
    f.tags = vec!["bug".into(), "fresh".into()];
    c.create(&f, Some("1")).await.expect("created");
    f.title = "Two".into();
    f.tags = vec!["fresh".into(), "other".into()];
    c.create(&f, Some("2")).await.expect("created");
    let writes = sim.writes();
    assert_eq!(
        writes,
        vec![
            "POST /repos/acme/app/labels",
            "POST /repos/acme/app/issues",
            "POST /repos/acme/app/labels",
            "POST /repos/acme/app/issues",
        ]
    );
    let label_lists = sim
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/labels"))
        .count();
    assert_eq!(label_lists, 1);
}

/// Assignees: only mapped logins are read; an unmapped e-mail leaves them untouched; a
/// mapped one replaces only the mapped logins.
#[tokio::test]
async fn assignees_go_through_the_users_table() {
    let sim = GithubSim::start();
    let n = sim.add_issue(IssueSeed {
        title: "Shared".into(),
        assignees: vec!["stranger".into()],
        ..IssueSeed::default()
    });
    sim.add_user("alice-gh");
    let c = connector(&sim);
    let item = list_all(&c).await.remove(0);
    assert_eq!(
        item.fields.assignee, None,
        "an unmapped login is not guessed"
    );

    let untouched = c
        .update(
            &item,
            &TaskPatch {
                assignee: Some(Some("carol@example.com".into())),
                ..TaskPatch::default()
            },
        )
        .await
        .expect("no-op");
    assert_eq!(
        sim.issue(n).expect("issue").assignees,
        vec!["stranger".to_owned()]
    );

    let alice = c
        .update(
            &untouched,
            &TaskPatch {
                assignee: Some(Some("alice@example.com".into())),
                ..TaskPatch::default()
            },
        )
        .await
        .expect("assigned");
    assert_eq!(alice.fields.assignee.as_deref(), Some("alice@example.com"));
    assert_eq!(
        sim.issue(n).expect("issue").assignees,
        vec!["alice-gh".to_owned(), "stranger".to_owned()]
    );
    c.update(
        &alice,
        &TaskPatch {
            assignee: Some(None),
            ..TaskPatch::default()
        },
    )
    .await
    .expect("cleared");
    assert_eq!(
        sim.issue(n).expect("issue").assignees,
        vec!["stranger".to_owned()]
    );
}

/// A mapped login that cannot be assigned is GitHub's 422: the issue is created without
/// it and the field is reported with the value; notes over GitHub's limit likewise.
#[tokio::test]
async fn validation_errors_leave_the_field_out_and_name_it() {
    let sim = GithubSim::start();
    let c = connector(&sim);
    let mut f = fields("Ghost");
    f.assignee = Some("ghost@example.com".into());
    f.notes = "kept".into();
    let item = c
        .create(&f, Some("1"))
        .await
        .expect("created without the assignee");
    assert_eq!(item.fields.notes, "kept");
    assert_eq!(item.fields.assignee, None);
    let errors = c.take_field_errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field, Field::Assignee);
    assert_eq!(errors[0].id.as_deref(), Some(item.id.as_str()));
    assert!(
        errors[0].message.contains("\"ghost-gh\"") && errors[0].message.contains("assign"),
        "{}",
        errors[0].message
    );
    assert!(c.take_field_errors().is_empty(), "drained");
    let mut long = fields("Long");
    long.notes = "x".repeat(70_000);
    let item = c
        .create(&long, Some("2"))
        .await
        .expect("created without the notes");
    assert_eq!(
        (item.fields.notes.as_str(), item.partner.as_deref()),
        ("", Some("2"))
    );
    let errors = c.take_field_errors();
    assert_eq!(errors[0].field, Field::Notes);
    assert!(errors[0].message.contains("70"), "{}", errors[0].message);
}

/// Delete closes as not planned with the marker label; listings and reads skip it.
#[tokio::test]
async fn delete_closes_as_not_planned_and_leaves_the_link() {
    let sim = GithubSim::start();
    let c = connector(&sim);
    let mut f = fields("Doomed");
    f.tags = vec!["keep".into()];
    let item = c.create(&f, Some("9")).await.expect("created");
    c.delete(&item).await.expect("deleted");
    let issue = sim.issue(1).expect("still there");
    assert_eq!(issue.state, "closed");
    assert_eq!(issue.state_reason.as_deref(), Some("not_planned"));
    assert!(issue.labels.contains(&DELETED_LABEL.to_owned()));
    assert!(issue.labels.contains(&"keep".to_owned()));
    assert!(list_all(&c).await.is_empty());
    assert!(c.get_many(&["1".into()]).await.expect("read").is_empty());
}

/// `get_many` reads issues, skipping pull requests and unknown numbers.
#[tokio::test]
async fn get_many_skips_prs_and_missing() {
    let sim = GithubSim::start();
    let n = sim.add_issue(seed("Issue"));
    let pr = sim.add_pull_request("PR", "");
    let c = connector(&sim);
    let items = c
        .get_many(&[n.to_string(), pr.to_string(), "999".into()])
        .await
        .expect("read");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].fields.title, "Issue");
}

/// Concurrent writes reach GitHub one at a time, spaced.
#[tokio::test]
async fn writes_are_serial_and_spaced() {
    let sim = GithubSim::start();
    sim.set_latency(Duration::from_millis(20));
    let c = std::sync::Arc::new(connector_with(&sim, Duration::from_millis(100)));
    let started = Instant::now();
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let c = std::sync::Arc::clone(&c);
            tokio::spawn(async move { c.create(&fields(&format!("T{i}")), Some("1")).await })
        })
        .collect();
    for t in tasks {
        t.await.expect("task").expect("created");
    }
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(sim.peak_mutations_in_flight(), 1);
}

/// Secondary (403 and 429 with retry-after) and primary (403, remaining 0) limits are
/// waited out, not failed.
#[tokio::test]
async fn rate_limit_answers_are_waited_out() {
    let sim = GithubSim::start();
    let c = connector(&sim);
    sim.inject(Fault::SecondaryRateLimit {
        status: 403,
        retry_after_secs: Some(1),
        count: 1,
        method: Some("POST".into()),
        path_contains: None,
    });
    sim.inject(Fault::SecondaryRateLimit {
        status: 429,
        retry_after_secs: Some(1),
        count: 1,
        method: Some("POST".into()),
        path_contains: None,
    });
    let started = Instant::now();
    c.create(&fields("Patient"), Some("1"))
        .await
        .expect("created");
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(sim.repo_issues().len(), 1, "created once");

    sim.exhaust_rate_limit(Duration::from_secs(1));
    let started = Instant::now();
    list_all(&c).await;
    assert!(started.elapsed() >= Duration::from_millis(900));
}

/// An installation token works like a PAT; a revoked one is Unauthorized.
#[tokio::test]
async fn tokens() {
    let sim = GithubSim::start();
    sim.add_issue(seed("A"));
    let mut config = http_config(
        &sim.base_url(),
        SecretString::from(sim.installation_token()),
    );
    config.retry = RetryPolicy::none();
    let http = HttpClient::new(config).expect("valid config");
    let c = GithubConnector::new(http, GithubSettings::new("acme/app", "1").expect("repo"));
    assert_eq!(list_all(&c).await.len(), 1);
    sim.revoke_tokens();
    let err = c.list_page(None).await.expect_err("401");
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert!(!format!("{err:?}").contains(&sim.installation_token()));
}
