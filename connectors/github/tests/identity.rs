//! The connector's side of issue 19 and of GitHub's first sync (issue 14), against the
//! simulator: identity from the records (adoption writes nothing), where a missing issue
//! went (301 transferred, 410 deleted), a task restored in Asana reopening its issue,
//! labels matched ignoring case, GitHub's limits and `422`s turned into field errors
//! while the other fields flow, unmapped assignees reported as unknown, and the
//! content-creation budget postponing instead of failing.

use std::collections::BTreeMap;
use std::time::Duration;

use asana_bridge_connector::http::{HttpClient, RetryPolicy};
use asana_bridge_connector::{
    Connector, ConnectorError, ErrorKind, Field, Identity, Item, PageToken, TaskFields, TaskPatch,
    Whereabouts,
};
use asana_bridge_github::{DELETED_LABEL, GithubConnector, GithubSettings, http_config};
use github_sim::{GithubSim, IssueEdit, IssueSeed};
use secrecy::SecretString;

fn settings() -> GithubSettings {
    let mut settings = GithubSettings::new("acme/app", "42")
        .expect("valid repo")
        .with_users(&BTreeMap::from([(
            "alice@example.com".to_owned(),
            "alice-gh".to_owned(),
        )]));
    settings.mutation_spacing = Duration::ZERO;
    settings
}

fn connector_with(sim: &GithubSim, settings: GithubSettings) -> GithubConnector {
    let mut config = http_config(&sim.base_url(), SecretString::from(sim.token()));
    config.retry = RetryPolicy::fast(Duration::from_secs(5));
    GithubConnector::new(HttpClient::new(config).expect("valid config"), settings)
}

fn connector(sim: &GithubSim) -> GithubConnector {
    connector_with(sim, settings())
}

async fn list_all(c: &GithubConnector) -> Vec<Item> {
    let mut items = Vec::new();
    let mut token: Option<PageToken> = None;
    loop {
        let page = c.list_page(token.take()).await.expect("page");
        items.extend(page.items);
        match page.next {
            Some(next) => token = Some(next),
            None => return items,
        }
    }
}

fn fields(title: &str) -> TaskFields {
    TaskFields {
        title: title.to_owned(),
        ..TaskFields::default()
    }
}

fn seed(title: &str) -> IssueSeed {
    IssueSeed {
        title: title.to_owned(),
        ..IssueSeed::default()
    }
}

/// Issue numbers are stable: the records pair; adopting 300 existing issues costs the
/// listing pages and not one write (set_partner is free).
#[tokio::test]
async fn adoption_writes_nothing() {
    let sim = GithubSim::start();
    for i in 0..300 {
        sim.add_issue(IssueSeed {
            body: Some(format!("body {i}")),
            ..seed(&format!("Existing {i}"))
        });
    }
    let c = connector(&sim);
    assert_eq!(c.identity(), Identity::Record);
    sim.clear_requests();
    let items = list_all(&c).await;
    assert_eq!(items.len(), 300);
    for (i, item) in items.iter().enumerate() {
        let again = c
            .set_partner(item, &format!("{}", 1000 + i))
            .await
            .expect("adopted");
        assert_eq!(&again, item);
    }
    let requests: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/issues"))
        .collect();
    assert_eq!(requests.len(), 3, "three listing pages: {requests:#?}");
    assert!(sim.writes().is_empty());
    assert!(sim.repo_issues().iter().all(|i| i.api_writes == 0));
}

/// A listed issue that disappears: transferred (301 → moved, naming where), deleted by an
/// admin (410) or never there (404) → deleted, still here → present. `get_many` skips
/// them without failing.
#[tokio::test]
async fn whereabouts_of_a_missing_issue() {
    let sim = GithubSim::start();
    let moved = sim.add_issue(seed("Moved away"));
    let deleted = sim.add_issue(seed("Deleted by an admin"));
    let here = sim.add_issue(seed("Still here"));
    sim.transfer_issue(moved, "acme/other", 7);
    sim.delete_issue(deleted);
    let c = connector(&sim);
    assert_eq!(
        c.whereabouts(&moved.to_string()).await.expect("asked"),
        Whereabouts::Moved {
            to: "acme/other#7".to_owned()
        }
    );
    assert_eq!(
        c.whereabouts(&deleted.to_string()).await.expect("asked"),
        Whereabouts::Deleted
    );
    assert_eq!(
        c.whereabouts("99").await.expect("asked"),
        Whereabouts::Deleted
    );
    match c.whereabouts(&here.to_string()).await.expect("asked") {
        Whereabouts::Present(item) => assert_eq!(item.fields.title, "Still here"),
        other => panic!("{other:?}"),
    }
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        vec![301, 410, 404, 200],
        "the 301 was not followed"
    );
    let items = c
        .get_many(&[moved.to_string(), deleted.to_string(), here.to_string()])
        .await
        .expect("read");
    assert_eq!(items.len(), 1);
    assert!(list_all(&c).await.iter().all(|i| i.id == here.to_string()));
}

/// A task restored from Asana's trash gets its old issue back: reopened, the deletion
/// label dropped, the fields written; no second issue. Removing the label by hand
/// brings the issue back into listings.
#[tokio::test]
async fn a_restored_task_reopens_its_issue() {
    let sim = GithubSim::start();
    let c = connector(&sim);
    let mut f = fields("Doomed");
    f.tags = vec!["keep".into()];
    let item = c.create(&f, Some("77")).await.expect("created");
    c.delete(&item).await.expect("deleted");
    assert!(list_all(&c).await.is_empty());

    let c = connector(&sim); // a later run
    let mut back = fields("Back again");
    back.notes = "restored".into();
    back.tags = vec!["keep".into(), "new".into()];
    let restored = c.create(&back, Some("77")).await.expect("restored");
    assert_eq!(restored.id, item.id, "the same issue");
    assert_eq!(sim.repo_issues().len(), 1);
    let issue = sim.issue(1).expect("issue");
    assert_eq!(issue.state, "open");
    assert_eq!(issue.state_reason.as_deref(), Some("reopened"));
    assert_eq!(issue.title, "Back again");
    assert_eq!(issue.labels, vec!["keep".to_owned(), "new".to_owned()]);
    assert_eq!(restored.partner.as_deref(), Some("77"));
    assert_eq!(restored.fields.notes, "restored");
    assert_eq!(list_all(&c).await, vec![restored]);

    // Removing the label by hand: the issue is listed again.
    let other = c
        .create(&fields("Second"), Some("88"))
        .await
        .expect("created");
    c.delete(&other).await.expect("deleted");
    assert_eq!(list_all(&c).await.len(), 1);
    sim.edit_issue(
        2,
        IssueEdit {
            labels: Some(Vec::new()),
            ..IssueEdit::default()
        },
    );
    let listed = list_all(&c).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1].partner.as_deref(), Some("88"));
}

/// An adopted issue (no footer) deleted with the engine naming its task gets the footer
/// in the same PATCH, so a restore finds it.
#[tokio::test]
async fn deleting_an_adopted_issue_names_its_task() {
    let sim = GithubSim::start();
    let n = sim.add_issue(IssueSeed {
        body: Some("mine".into()),
        ..seed("Adopted")
    });
    let c = connector(&sim);
    let mut item = list_all(&c).await.remove(0);
    item.partner = Some("55".into());
    sim.clear_requests();
    c.delete(&item).await.expect("deleted");
    let patches: Vec<String> = sim
        .writes()
        .into_iter()
        .filter(|w| w.starts_with("PATCH"))
        .collect();
    assert_eq!(
        patches.len(),
        1,
        "one PATCH (plus the label's creation): {patches:?}"
    );
    let issue = sim.issue(n).expect("issue");
    assert!(
        issue
            .body
            .as_deref()
            .is_some_and(|b| b.starts_with("mine\n\n<sub>"))
    );
    assert!(issue.labels.contains(&DELETED_LABEL.to_owned()));
    let back = c
        .create(&fields("Adopted"), Some("55"))
        .await
        .expect("restored");
    assert_eq!(back.id, n.to_string());
}

/// Labels match as GitHub matches them: `Bug` and `bug` are the repository's one `bug`
/// label, created never twice, and a patch equal but for case writes nothing.
#[tokio::test]
async fn labels_match_ignoring_case() {
    let sim = GithubSim::start(); // has `bug`
    let c = connector(&sim);
    assert!(c.tags_ignore_case());
    let mut f = fields("Cased");
    f.tags = vec!["Bug".into(), "bug".into(), "P1".into(), "p1".into()];
    let item = c.create(&f, Some("5")).await.expect("created");
    let issue = sim.issue(1).expect("issue");
    assert_eq!(issue.labels, vec!["P1".to_owned(), "bug".to_owned()]);
    assert_eq!(
        sim.labels()
            .iter()
            .filter(|l| l.eq_ignore_ascii_case("p1"))
            .count(),
        1
    );
    sim.clear_requests();
    let same = c
        .update(
            &item,
            &TaskPatch {
                tags: Some(vec!["BUG".into(), "p1".into()]),
                ..TaskPatch::default()
            },
        )
        .await
        .expect("no-op");
    assert_eq!(same, item);
    assert!(sim.writes().is_empty(), "{:?}", sim.writes());
}

/// GitHub's limits are checked before sending, and one bad field never blocks the others:
/// a 300-character title and a 60-character tag are left out (each named in a field
/// error with its value) while completion, notes and the other labels are written.
#[tokio::test]
async fn limits_leave_the_bad_field_out() {
    let sim = GithubSim::start();
    let c = connector(&sim);
    let long_tag = "t".repeat(60);
    let mut f = fields("Fine");
    f.tags = vec![long_tag.clone(), "ok".into()];
    let item = c
        .create(&f, Some("9"))
        .await
        .expect("created without the long tag");
    assert_eq!(item.fields.tags, vec!["ok".to_owned()]);
    let errors = c.take_field_errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field, Field::Tags);
    assert!(errors[0].message.contains("60 characters") && errors[0].message.contains("tttt"));
    assert!(!sim.labels().iter().any(|l| l.len() > 50));

    let patch = TaskPatch {
        title: Some("x".repeat(300)),
        notes: Some("new notes".into()),
        completed: Some(true),
        ..TaskPatch::default()
    };
    let updated = c.update(&item, &patch).await.expect("the rest flowed");
    assert_eq!(updated.fields.title, "Fine");
    assert_eq!(updated.fields.notes, "new notes");
    assert!(updated.fields.completed);
    let errors = c.take_field_errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field, Field::Title);
    assert!(
        errors[0].message.contains("300 characters") && errors[0].message.contains("at most 256"),
        "{}",
        errors[0].message
    );

    // An empty title cannot make an issue: refused before sending, naming the field.
    sim.clear_requests();
    let err = c
        .create(&fields(""), Some("10"))
        .await
        .expect_err("no title");
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    assert!(err.to_string().contains("title"), "{err}");
    assert!(sim.writes().is_empty());
}

/// A 422 on one field of a PATCH: sent again without it; the field error names it.
#[tokio::test]
async fn a_refused_assignee_does_not_block_the_patch() {
    let sim = GithubSim::start();
    let mut s = settings();
    s.users
        .insert("ghost@example.com".into(), "ghost-gh".into());
    let c = connector_with(&sim, s);
    let item = c
        .create(&fields("Assign me"), Some("3"))
        .await
        .expect("created");
    sim.clear_requests();
    let updated = c
        .update(
            &item,
            &TaskPatch {
                title: Some("Renamed".into()),
                assignee: Some(Some("ghost@example.com".into())),
                ..TaskPatch::default()
            },
        )
        .await
        .expect("the title flowed");
    assert_eq!(updated.fields.title, "Renamed");
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![422, 200]);
    let errors = c.take_field_errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, Field::Assignee);
    assert!(
        errors[0].message.contains("ghost-gh"),
        "{}",
        errors[0].message
    );
}

/// An issue assigned only to logins `[users]` does not map reads `assignee: None`, and the
/// connector says that field is unknown (not "unassigned").
#[tokio::test]
async fn unmapped_assignees_are_unknown_not_unassigned() {
    let sim = GithubSim::start();
    sim.add_issue(IssueSeed {
        assignees: vec!["stranger".into()],
        ..seed("Someone else's")
    });
    sim.add_issue(seed("Nobody's"));
    sim.add_issue(IssueSeed {
        assignees: vec!["alice-gh".into()],
        ..seed("Alice's")
    });
    let c = connector(&sim);
    let items = list_all(&c).await;
    assert_eq!(items[0].fields.assignee, None);
    assert_eq!(c.unknown_fields(&items[0]), vec![Field::Assignee]);
    assert!(c.unknown_fields(&items[1]).is_empty());
    assert!(c.unknown_fields(&items[2]).is_empty());
}

/// The content-creation budget: over it, a create is postponed (not an error of the item
/// or the link), and the count survives into the next run through its file. GitHub's own
/// refusal (403, retry-after an hour) postpones too.
#[tokio::test]
async fn creations_beyond_the_budget_are_postponed() {
    let sim = GithubSim::start();
    let dir = tempfile_dir();
    let mut s = settings();
    s.creates_per_hour = 2;
    s.budget_file = Some(dir.join("budget.json"));
    let c = connector_with(&sim, s.clone());
    c.create(&fields("One"), Some("1")).await.expect("1");
    c.create(&fields("Two"), Some("2")).await.expect("2");
    let err = c
        .create(&fields("Three"), Some("3"))
        .await
        .expect_err("postponed");
    assert_eq!(err.kind(), ErrorKind::Postponed, "{err}");
    assert!(!err.is_fatal_for_link());
    assert!(matches!(
        err,
        ConnectorError::Postponed {
            retry_at: Some(_),
            ..
        }
    ));
    let next_run = connector_with(&sim, s);
    let err = next_run
        .create(&fields("Three"), Some("3"))
        .await
        .expect_err("still postponed");
    assert_eq!(err.kind(), ErrorKind::Postponed);
    assert_eq!(sim.repo_issues().len(), 2);

    // GitHub refuses although the connector's budget has room (another client spent it).
    let other = GithubSim::start();
    other.set_creation_limits(vec![(1, Duration::from_secs(3600))]);
    let c = connector(&other);
    c.create(&fields("One"), Some("1")).await.expect("1");
    let err = c
        .create(&fields("Two"), Some("2"))
        .await
        .expect_err("postponed");
    assert_eq!(err.kind(), ErrorKind::Postponed, "{err}");
    assert_eq!(other.creations_refused(), 1);
    let err = c
        .create(&fields("Three"), Some("3"))
        .await
        .expect_err("postponed");
    assert_eq!(err.kind(), ErrorKind::Postponed);
    assert_eq!(other.creations_refused(), 1, "not asked again");
    let _ = std::fs::remove_dir_all(dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "gh-identity-{}-{}",
        std::process::id(),
        jiff::Timestamp::now().as_nanosecond()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
