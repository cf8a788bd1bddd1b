//! The Asana connector against a local fake of the API: what it sends (pagination,
//! opt_fields, create and update bodies, tag and section calls, the events feed) and how it
//! reads the answers.

mod common;

use asana_bridge_connector::{
    Changes, Connector, ErrorKind, Item, PageToken, TaskFields, TaskPatch,
};
use axum::http::Method;
use common::{Fake, FakeTask, PROJECT};
use serde_json::json;

// The `opt_fields` values Asana's OpenAPI description allows, per operation, as the
// simulator generates them from `asana_oas.yaml` (one source for both).
use asana_sim::spec_fields as spec;

fn task(gid: &str, name: &str) -> FakeTask {
    FakeTask {
        gid: gid.to_owned(),
        name: name.to_owned(),
        project: PROJECT.to_owned(),
        ..FakeTask::default()
    }
}

fn seed(fake: &Fake) {
    let mut s = fake.state();
    s.users = vec![
        ("7".to_owned(), "Alice@Example.com".to_owned()),
        ("8".to_owned(), "bob@example.com".to_owned()),
    ];
    s.tags = vec![
        ("t1".to_owned(), "bug".to_owned()),
        ("t2".to_owned(), "p1".to_owned()),
    ];
    s.sections = vec![
        ("s1".to_owned(), "Todo".to_owned()),
        ("s2".to_owned(), "Done".to_owned()),
    ];
}

async fn list_all(connector: &impl Connector) -> Vec<Item> {
    let mut items = Vec::new();
    let mut token: Option<PageToken> = None;
    loop {
        let page = connector.list_page(token).await.expect("page");
        assert!(page.errors.is_empty(), "{:?}", page.errors);
        items.extend(page.items);
        match page.next {
            Some(next) => token = Some(next),
            None => return items,
        }
    }
}

/// 250 tasks come in exactly 3 listing requests of 100; completed tasks are included;
/// the users are listed once, only because some task has an assignee.
#[tokio::test]
async fn lists_every_task_in_pages_of_100() {
    let fake = Fake::start().await;
    seed(&fake);
    {
        let mut s = fake.state();
        for i in 0..250 {
            let mut t = task(&format!("{}", 2000 + i), &format!("Task {i}"));
            t.completed = i % 3 == 0;
            if i % 10 == 0 {
                t.assignee = Some("7".to_owned());
            }
            if i == 5 {
                t.tags = vec!["t2".to_owned(), "t1".to_owned()];
                t.section = Some("s2".to_owned());
                t.due_on = Some("2026-12-01".to_owned());
            }
            s.add_task(t);
        }
    }
    let connector = fake.connector();
    let items = list_all(&connector).await;
    assert_eq!(items.len(), 250);
    assert_eq!(items.iter().filter(|i| i.fields.completed).count(), 84);
    assert_eq!(
        items[10].fields.assignee.as_deref(),
        Some("alice@example.com")
    );
    assert_eq!(items[5].fields.tags, ["bug", "p1"]);
    assert_eq!(items[5].fields.section.as_deref(), Some("Done"));
    assert_eq!(items[5].fields.due_on.as_deref(), Some("2026-12-01"));
    assert_eq!(items[5].partner, None);
    assert!(items[5].modified_at.is_some() && items[5].revision.is_some());

    let s = fake.state();
    let listings = s.requests(&Method::GET, &format!("/projects/{PROJECT}/tasks"));
    assert_eq!(listings.len(), 3, "ceil(250/100) listing requests");
    assert!(listings.iter().all(|l| l.param("limit") == Some("100")));
    assert_eq!(listings[0].param("offset"), None);
    assert_eq!(listings[1].param("offset"), Some("100"));
    assert!(
        listings
            .iter()
            .all(|l| l.param("completed_since").is_none())
    );
    assert_eq!(s.requests(&Method::GET, "/workspaces/1/users").len(), 1);
    assert_eq!(
        s.requests(&Method::GET, &format!("/projects/{PROJECT}"))
            .len(),
        4
    ); // 3 listings + workspace
    assert_eq!(
        s.log.len(),
        5,
        "3 pages, the project's workspace, the users: {:?}",
        s.log
    );
    assert!(
        s.requests(&Method::GET, "/tasks/").is_empty(),
        "never a GET per task"
    );
    drop(s);
    fake.assert_no_unexpected();
}

/// No assignee anywhere: the users are never listed.
#[tokio::test]
async fn users_are_not_listed_when_nobody_is_assigned() {
    let fake = Fake::start().await;
    seed(&fake);
    fake.state().add_task(task("2001", "a"));
    let items = list_all(&fake.connector()).await;
    assert_eq!(items.len(), 1);
    assert_eq!(fake.state().log.len(), 1);
}

/// Every opt_fields value the connector sends is in the spec's enum for that endpoint.
#[tokio::test]
async fn opt_fields_come_from_the_spec_enums() {
    let fake = Fake::start().await;
    seed(&fake);
    {
        let mut s = fake.state();
        let mut t = task("2001", "a");
        t.assignee = Some("7".to_owned());
        t.tags = vec!["t1".to_owned()];
        s.add_task(t);
    }
    let connector = fake.connector();
    let items = list_all(&connector).await;
    connector
        .get_many(&["2001".to_owned()])
        .await
        .expect("get_many");
    let created = connector
        .create(
            &TaskFields {
                title: "new".to_owned(),
                tags: vec!["fresh".to_owned()],
                section: Some("Brand new".to_owned()),
                ..TaskFields::default()
            },
            None,
        )
        .await
        .expect("create");
    let patch = TaskPatch {
        title: Some("renamed".to_owned()),
        tags: Some(vec!["other".to_owned()]),
        ..TaskPatch::default()
    };
    connector.update(&items[0], &patch).await.expect("update");
    connector.update(&created, &patch).await.expect("update");
    connector.client().me().await.expect("me");

    let s = fake.state();
    let mut checked = 0;
    for logged in &s.log {
        let Some(fields) = logged.param("opt_fields") else {
            continue;
        };
        let allowed: &[&[&str]] = match logged.path.as_str() {
            p if p.starts_with("/tasks") || p.ends_with("/tasks") => &[
                spec::GET_TASKS_FOR_PROJECT,
                spec::GET_TASKS,
                spec::GET_TASK,
                spec::CREATE_TASK,
                spec::UPDATE_TASK,
            ],
            p if p.contains("/users") => &[spec::GET_USER, spec::GET_USERS_FOR_WORKSPACE],
            p if p.ends_with("/tags") => {
                &[spec::GET_TAGS_FOR_WORKSPACE, spec::CREATE_TAG_FOR_WORKSPACE]
            }
            p if p.ends_with("/sections") => &[
                spec::GET_SECTIONS_FOR_PROJECT,
                spec::CREATE_SECTION_FOR_PROJECT,
            ],
            p if p.starts_with("/projects/") => &[spec::GET_PROJECT],
            other => panic!("opt_fields on an endpoint the test does not know: {other}"),
        };
        for field in fields.split(',') {
            assert!(
                allowed.iter().any(|list| list.contains(&field)),
                "{field} not in the enum of {} {}",
                logged.method,
                logged.path
            );
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} requests carried opt_fields");
    drop(s);
    fake.assert_no_unexpected();
}

/// A create is one POST /tasks carrying the project, the section membership, tag gids
/// (missing ones created first) and the assignee's gid; the answer is the full item.
#[tokio::test]
async fn create_is_one_request_with_memberships_and_tags() {
    let fake = Fake::start().await;
    seed(&fake);
    let connector = fake.connector();
    let fields = TaskFields {
        title: "Fix login".to_owned(),
        notes: "It breaks.".to_owned(),
        completed: false,
        due_on: Some("2026-12-01".to_owned()),
        assignee: Some("alice@example.com".to_owned()),
        tags: vec!["bug".to_owned(), "new-tag".to_owned()],
        section: Some("Done".to_owned()),
    };
    let item = connector
        .create(&fields, Some("ignored"))
        .await
        .expect("create");
    assert_eq!(item.fields, fields.clone().canonical());
    assert_eq!(item.partner, None);

    let s = fake.state();
    let creates = s.requests(&Method::POST, "/tasks");
    assert_eq!(creates.len(), 1);
    let create = &creates[0];
    assert!(
        create.param("opt_fields").is_some(),
        "the answer is the full task"
    );
    let new_tag = s
        .tags
        .iter()
        .find(|(_, n)| n == "new-tag")
        .expect("tag created")
        .0
        .clone();
    assert_eq!(
        create.body,
        Some(json!({"data": {
            "name": "Fix login",
            "notes": "It breaks.",
            "completed": false,
            "due_on": "2026-12-01",
            "assignee": "7",
            "projects": [PROJECT],
            "memberships": [{"project": PROJECT, "section": "s2"}],
            "tags": ["t1", new_tag],
        }}))
    );
    assert_eq!(s.requests(&Method::POST, "/workspaces/1/tags").len(), 1);
    assert_eq!(
        s.requests(&Method::POST, "/projects/").len(),
        0,
        "section existed"
    );
    drop(s);
    fake.assert_no_unexpected();
}

/// A missing section is created once, then reused.
#[tokio::test]
async fn missing_sections_are_created_once() {
    let fake = Fake::start().await;
    seed(&fake);
    let connector = fake.connector();
    let fields = TaskFields {
        title: "a".to_owned(),
        section: Some("Later".to_owned()),
        ..TaskFields::default()
    };
    let a = connector.create(&fields, None).await.expect("create");
    let b = connector.create(&fields, None).await.expect("create");
    assert_eq!(a.fields.section.as_deref(), Some("Later"));
    assert_eq!(b.fields.section.as_deref(), Some("Later"));
    let s = fake.state();
    assert_eq!(
        s.requests(&Method::POST, &format!("/projects/{PROJECT}/sections"))
            .len(),
        1
    );
    assert_eq!(
        s.requests(&Method::GET, &format!("/projects/{PROJECT}/sections"))
            .len(),
        1
    );
}

/// An update sends only the patched fields, in one PUT; `None` clears with `null`.
#[tokio::test]
async fn update_sends_only_patched_fields() {
    let fake = Fake::start().await;
    seed(&fake);
    {
        let mut t = task("2001", "old");
        t.notes = "keep me".to_owned();
        t.due_on = Some("2026-01-01".to_owned());
        t.assignee = Some("7".to_owned());
        fake.state().add_task(t);
    }
    let connector = fake.connector();
    let item = list_all(&connector).await.remove(0);
    fake.state().log.clear();

    let patch = TaskPatch {
        title: Some("new".to_owned()),
        due_on: Some(None),
        ..TaskPatch::default()
    };
    let updated = connector.update(&item, &patch).await.expect("update");
    assert_eq!(updated.fields.title, "new");
    assert_eq!(updated.fields.due_on, None);
    assert_eq!(updated.fields.notes, "keep me");
    assert_eq!(
        updated.fields.assignee.as_deref(),
        Some("alice@example.com")
    );
    assert_ne!(updated.revision, item.revision);

    let s = fake.state();
    assert_eq!(s.log.len(), 1, "{:?}", s.log);
    assert_eq!(s.log[0].method, Method::PUT);
    assert_eq!(s.log[0].path, "/tasks/2001");
    assert_eq!(
        s.log[0].body,
        Some(json!({"data": {"name": "new", "due_on": null}}))
    );
}

/// Reassigning sends the user's gid; unassigning sends null.
#[tokio::test]
async fn assignee_changes() {
    let fake = Fake::start().await;
    seed(&fake);
    fake.state().add_task(task("2001", "a"));
    let connector = fake.connector();
    let item = list_all(&connector).await.remove(0);
    let patch = TaskPatch {
        assignee: Some(Some("BOB@example.com".to_owned())),
        ..TaskPatch::default()
    };
    let updated = connector.update(&item, &patch).await.expect("assign");
    assert_eq!(updated.fields.assignee.as_deref(), Some("bob@example.com"));
    let patch = TaskPatch {
        assignee: Some(None),
        ..TaskPatch::default()
    };
    let updated = connector.update(&updated, &patch).await.expect("unassign");
    assert_eq!(updated.fields.assignee, None);
    let s = fake.state();
    let puts = s.requests(&Method::PUT, "/tasks/2001");
    assert_eq!(puts[0].body, Some(json!({"data": {"assignee": "8"}})));
    assert_eq!(puts[1].body, Some(json!({"data": {"assignee": null}})));
    assert_eq!(
        s.requests(&Method::GET, "/workspaces/1/users").len(),
        1,
        "users listed once"
    );
}

/// An e-mail Asana does not know is refused before anything is written.
#[tokio::test]
async fn unknown_assignee_is_invalid_data() {
    let fake = Fake::start().await;
    seed(&fake);
    fake.state().add_task(task("2001", "a"));
    let connector = fake.connector();
    let item = list_all(&connector).await.remove(0);
    let patch = TaskPatch {
        title: Some("x".to_owned()),
        assignee: Some(Some("nobody@example.com".to_owned())),
        ..TaskPatch::default()
    };
    let err = connector
        .update(&item, &patch)
        .await
        .expect_err("unknown user");
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    assert!(err.to_string().contains("nobody@example.com"), "{err}");
    let fields = TaskFields {
        title: "x".to_owned(),
        assignee: Some("nobody@example.com".to_owned()),
        ..TaskFields::default()
    };
    let err = connector
        .create(&fields, None)
        .await
        .expect_err("unknown user");
    assert!(err.to_string().contains("nobody@example.com"), "{err}");
    let s = fake.state();
    assert!(
        s.log.iter().all(|l| l.method == Method::GET),
        "nothing written: {:?}",
        s.log
    );
}

/// Tags are diffed against the item: addTag for new ones (created when missing),
/// removeTag for dropped ones; the answer shows the tags as applied.
#[tokio::test]
async fn tags_are_added_and_removed() {
    let fake = Fake::start().await;
    seed(&fake);
    {
        let mut t = task("2001", "a");
        t.tags = vec!["t1".to_owned(), "t2".to_owned()];
        fake.state().add_task(t);
    }
    let connector = fake.connector();
    let item = list_all(&connector).await.remove(0);
    assert_eq!(item.fields.tags, ["bug", "p1"]);
    fake.state().log.clear();

    let patch = TaskPatch {
        tags: Some(vec!["p1".to_owned(), "urgent".to_owned()]),
        ..TaskPatch::default()
    };
    let updated = connector.update(&item, &patch).await.expect("update");
    assert_eq!(updated.fields.tags, ["p1", "urgent"]);

    let s = fake.state();
    let urgent = s
        .tags
        .iter()
        .find(|(_, n)| n == "urgent")
        .expect("created")
        .0
        .clone();
    let adds = s.requests(&Method::POST, "/tasks/2001/addTag");
    let removes = s.requests(&Method::POST, "/tasks/2001/removeTag");
    assert_eq!(adds.len(), 1);
    assert_eq!(adds[0].body, Some(json!({"data": {"tag": urgent}})));
    assert_eq!(removes.len(), 1);
    assert_eq!(removes[0].body, Some(json!({"data": {"tag": "t1"}})));
    assert!(
        s.requests(&Method::PUT, "/tasks").is_empty(),
        "no plain field changed"
    );
    assert_eq!(
        s.requests(&Method::GET, "/tasks/2001").len(),
        1,
        "re-read once"
    );
}

/// A section change is one addTask on the target section; a `None` section is left.
#[tokio::test]
async fn section_moves() {
    let fake = Fake::start().await;
    seed(&fake);
    {
        let mut t = task("2001", "a");
        t.section = Some("s1".to_owned());
        fake.state().add_task(t);
    }
    let connector = fake.connector();
    let item = list_all(&connector).await.remove(0);
    assert_eq!(item.fields.section.as_deref(), Some("Todo"));

    let patch = TaskPatch {
        section: Some(Some("Done".to_owned())),
        completed: Some(true),
        ..TaskPatch::default()
    };
    let moved = connector.update(&item, &patch).await.expect("move");
    assert_eq!(moved.fields.section.as_deref(), Some("Done"));
    assert!(moved.fields.completed);
    {
        let s = fake.state();
        let adds = s.requests(&Method::POST, "/sections/s2/addTask");
        assert_eq!(adds.len(), 1);
        assert_eq!(adds[0].body, Some(json!({"data": {"task": "2001"}})));
        let puts = s.requests(&Method::PUT, "/tasks/2001");
        assert_eq!(puts[0].body, Some(json!({"data": {"completed": true}})));
    }

    fake.state().log.clear();
    let patch = TaskPatch {
        section: Some(None),
        ..TaskPatch::default()
    };
    let same = connector.update(&moved, &patch).await.expect("no-op");
    assert_eq!(same, moved);
    assert!(
        fake.state().log.is_empty(),
        "nothing sent for a section Asana cannot express"
    );
}

/// get_many reads the named tasks; deleted ones and ones that left the project are absent.
#[tokio::test]
async fn get_many_skips_missing_and_foreign_tasks() {
    let fake = Fake::start().await;
    seed(&fake);
    {
        let mut s = fake.state();
        s.add_task(task("2001", "a"));
        s.add_task(task("2002", "b"));
        let mut other = task("2003", "elsewhere");
        other.project = "999".to_owned();
        s.add_task(other);
    }
    let connector = fake.connector();
    let ids: Vec<String> = ["2002", "404404", "2003", "2001"]
        .map(str::to_owned)
        .to_vec();
    let items = connector.get_many(&ids).await.expect("get_many");
    let got: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(got, ["2002", "2001"]);
    assert_eq!(fake.state().requests(&Method::GET, "/tasks/").len(), 4);
    let err = connector
        .get_many(&["../users/me".to_owned()])
        .await
        .expect_err("not a gid");
    assert_eq!(err.kind(), ErrorKind::InvalidData);
}

/// Delete sends DELETE; an already deleted task is fine.
#[tokio::test]
async fn delete_is_idempotent() {
    let fake = Fake::start().await;
    seed(&fake);
    fake.state().add_task(task("2001", "a"));
    let connector = fake.connector();
    let item = list_all(&connector).await.remove(0);
    connector.delete(&item).await.expect("delete");
    connector.delete(&item).await.expect("already gone");
    assert!(fake.state().tasks.is_empty());
    assert_eq!(
        fake.state().requests(&Method::DELETE, "/tasks/2001").len(),
        2
    );
    assert_eq!(
        connector.set_partner(&item, "x").await.expect("no-op"),
        item
    );
    assert_eq!(connector.describe("2001"), "task 2001");
    assert_eq!(connector.kind(), "asana");
}

/// No cursor, or an expired one: 412 -> Reset with the token from the 412 body.
#[tokio::test]
async fn events_412_resets() {
    let fake = Fake::start().await;
    let expired =
        json!({"errors": [{"message": "Sync token invalid or too old."}], "sync": "fresh-1"});
    fake.state().events.push_back((412, expired.clone()));
    fake.state().events.push_back((412, expired));
    let connector = fake.connector();
    assert_eq!(
        connector.changes(None).await.expect("reset"),
        Changes::Reset {
            cursor: "fresh-1".to_owned()
        }
    );
    assert_eq!(
        connector.changes(Some("old")).await.expect("reset"),
        Changes::Reset {
            cursor: "fresh-1".to_owned()
        }
    );
    let s = fake.state();
    let calls = s.requests(&Method::GET, "/events");
    assert_eq!(calls[0].param("resource"), Some(PROJECT));
    assert_eq!(calls[0].param("sync"), None);
    assert_eq!(calls[1].param("sync"), Some("old"));
}

/// has_more is followed with each new token; task events and story events on tasks are
/// coalesced into one de-duplicated list; the last token is the new cursor.
#[tokio::test]
async fn events_follow_has_more_and_coalesce() {
    let fake = Fake::start().await;
    {
        let mut s = fake.state();
        s.events.push_back((200, json!({
            "data": [
                {"action": "changed", "resource": {"gid": "2001", "resource_type": "task", "name": "a"}, "parent": null, "user": {"gid": "7"}, "change": {"field": "notes", "action": "changed"}},
                {"action": "added", "resource": {"gid": "9001", "resource_type": "story"}, "parent": {"gid": "2002", "resource_type": "task"}, "user": null},
                {"action": "changed", "resource": {"gid": "2001", "resource_type": "task"}, "parent": null}
            ],
            "sync": "s2",
            "has_more": true
        })));
        s.events.push_back((200, json!({
            "data": [
                {"action": "deleted", "resource": {"gid": "2003", "resource_type": "task"}, "parent": null},
                {"action": "added", "resource": {"gid": "2002", "resource_type": "task"}, "parent": {"gid": PROJECT, "resource_type": "project"}}
            ],
            "sync": "s3",
            "has_more": false
        })));
        s.events
            .push_back((200, json!({"data": [], "sync": "s4", "has_more": false})));
    }
    let connector = fake.connector();
    assert_eq!(
        connector.changes(Some("s1")).await.expect("changes"),
        Changes::Since {
            changed: ["2001", "2002", "2003"].map(str::to_owned).to_vec(),
            cursor: "s3".to_owned()
        }
    );
    assert_eq!(
        connector.changes(Some("s3")).await.expect("changes"),
        Changes::Since {
            changed: vec![],
            cursor: "s4".to_owned()
        }
    );
    let s = fake.state();
    let syncs: Vec<Option<&str>> = s.log.iter().map(|l| l.param("sync")).collect();
    assert_eq!(syncs, [Some("s1"), Some("s2"), Some("s3")]);
}

/// A renamed section asks for a full listing (task sections changed without task events).
#[tokio::test]
async fn events_section_rename_resets() {
    let fake = Fake::start().await;
    fake.state().events.push_back((200, json!({
        "data": [{"action": "changed", "resource": {"gid": "s1", "resource_type": "section"}, "change": {"field": "name", "action": "changed"}}],
        "sync": "s9",
        "has_more": false
    })));
    assert_eq!(
        fake.connector().changes(Some("s8")).await.expect("changes"),
        Changes::Reset {
            cursor: "s9".to_owned()
        }
    );
}

/// me() reads the token's user.
#[tokio::test]
async fn me_reads_the_tokens_user() {
    let fake = Fake::start().await;
    let me = fake.client().me().await.expect("me");
    assert_eq!(me.gid, "42");
    assert_eq!(me.email, "me@example.com");
    assert_eq!(fake.state().log[0].path, "/users/me");
}

/// Asana's error message reaches the caller, typed.
#[tokio::test]
async fn api_errors_are_typed() {
    let fake = Fake::start().await;
    let connector = fake.connector();
    let item = Item {
        id: "31337".to_owned(),
        fields: TaskFields::default(),
        modified_at: None,
        partner: None,
        revision: None,
        bare: false,
    };
    let patch = TaskPatch {
        title: Some("x".to_owned()),
        ..TaskPatch::default()
    };
    let err = connector.update(&item, &patch).await.expect_err("missing");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("Unknown object"), "{err}");
}

/// A malformed task is an item error of its page, not a failed listing.
#[tokio::test]
async fn malformed_task_is_an_item_error() {
    let fake = Fake::start().await;
    {
        let mut s = fake.state();
        s.add_task(task("2001", "fine"));
        let mut broken = task("2002", "broken");
        broken.raw =
            Some(json!({"gid": "2002", "name": 12, "modified_at": "2026-11-01T00:00:00Z"}));
        s.add_task(broken);
        let mut bad_date = task("2003", "bad date");
        bad_date.raw = Some(json!({"gid": "2003", "name": "x", "modified_at": "yesterday"}));
        s.add_task(bad_date);
    }
    let page = fake.connector().list_page(None).await.expect("page");
    assert_eq!(page.items.len(), 1);
    let mut failed: Vec<&str> = page.errors.iter().filter_map(|e| e.id.as_deref()).collect();
    failed.sort_unstable();
    assert_eq!(failed, ["2002", "2003"]);
    assert!(
        page.errors
            .iter()
            .all(|e| e.error.kind() == ErrorKind::InvalidData)
    );
}
