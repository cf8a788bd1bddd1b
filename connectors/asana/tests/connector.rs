//! The Asana connector against the bundled Asana simulator (`tests/asana-sim`): what it
//! sends (pagination, opt_fields, create and update bodies, tag and section calls, the events
//! feed with its sync tokens) and how it reads the answers (error bodies, 429 with
//! `Retry-After`, 5xx, malformed tasks). The simulator fails a test when it is dropped after a
//! request it does not serve, so none of these sends anything Asana's API lacks.

mod common;

use std::sync::Arc;
use std::time::Duration;

use asana_bridge_asana::{AsanaClient, AsanaConnector};
use asana_bridge_connector::{
    Changes, Connector, ErrorKind, Item, PageToken, TaskFields, TaskPatch,
};
use asana_sim::{Fault, RecordedRequest, Simulator, TaskEdit, TaskSeed};
use serde_json::json;

// The `opt_fields` values Asana's OpenAPI description allows, per operation, as the
// simulator generates them from the vendored description (one source for both).
use asana_sim::spec_fields as spec;

/// A simulator with one project, and the connector on it.
struct World {
    sim: Simulator,
    project: String,
}

impl World {
    fn new() -> World {
        let sim = Simulator::start();
        let project = sim.create_project("Roadmap");
        World { sim, project }
    }

    /// A project with sections "Todo" and "Done" and tags "bug" and "p1" in the workspace
    /// (made through a task in another project, as a person would).
    fn seeded() -> World {
        let w = World::new();
        w.sim.add_section(&w.project, "Todo");
        w.sim.add_section(&w.project, "Done");
        let elsewhere = w.sim.create_project("Elsewhere");
        w.sim.add_task(
            &elsewhere,
            TaskSeed {
                tags: vec!["bug".to_owned(), "p1".to_owned()],
                ..TaskSeed::named("tag holder")
            },
        );
        w.sim.clear_requests();
        w
    }

    fn client(&self) -> Arc<AsanaClient> {
        common::client(&self.sim)
    }

    fn connector(&self) -> AsanaConnector {
        AsanaConnector::new(self.client(), self.project.clone())
    }

    fn add(&self, seed: TaskSeed) -> String {
        self.sim.add_task(&self.project, seed)
    }

    /// The recorded requests with this method whose path starts with `prefix`.
    fn requests(&self, method: &str, prefix: &str) -> Vec<RecordedRequest> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.starts_with(prefix))
            .collect()
    }

    fn section(&self, name: &str) -> String {
        self.sim
            .section_gid(&self.project, name)
            .expect("section exists")
    }

    fn tag(&self, name: &str) -> String {
        self.sim.tag_gid(name).expect("tag exists")
    }
}

/// The decoded value of query parameter `key`.
fn param(request: &RecordedRequest, key: &str) -> Option<String> {
    let url = reqwest::Url::parse(&format!("http://x/?{}", request.query)).expect("query");
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
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

/// 250 tasks come in exactly 3 listing requests of 100, each later one carrying the offset
/// the previous answer handed out; completed tasks are included; e-mails are lowercased;
/// the users are listed once, only because some task has an assignee.
#[tokio::test]
async fn lists_every_task_in_pages_of_100() {
    let w = World::seeded();
    w.sim.add_user("Carol", "Carol@Example.com");
    for i in 0..250 {
        let mut seed = TaskSeed::named(&format!("Task {i}"));
        seed.completed = i % 3 == 0;
        if i % 10 == 0 {
            seed.assignee = Some("Carol@Example.com".to_owned());
        }
        if i == 5 {
            seed.tags = vec!["p1".to_owned(), "bug".to_owned()];
            seed.section = Some("Done".to_owned());
            seed.due_on = Some("2026-12-01".to_owned());
        }
        w.add(seed);
    }
    w.sim.clear_requests();
    let connector = w.connector();
    let items = list_all(&connector).await;
    assert_eq!(items.len(), 250);
    assert_eq!(items.iter().filter(|i| i.fields.completed).count(), 84);
    let by_title = |title: &str| {
        items
            .iter()
            .find(|i| i.fields.title == title)
            .unwrap_or_else(|| panic!("{title} listed"))
    };
    assert_eq!(
        by_title("Task 10").fields.assignee.as_deref(),
        Some("carol@example.com")
    );
    let five = by_title("Task 5");
    assert_eq!(five.fields.tags, ["bug", "p1"]);
    assert_eq!(five.fields.section.as_deref(), Some("Done"));
    assert_eq!(five.fields.due.as_deref(), Some("2026-12-01"));
    assert_eq!(five.partner, None);
    assert!(five.modified_at.is_some() && five.revision.is_some());
    assert_eq!(by_title("Task 6").fields.section, None);

    let listings = w.requests("GET", &format!("/projects/{}/tasks", w.project));
    assert_eq!(listings.len(), 3, "ceil(250/100) listing requests");
    assert!(
        listings
            .iter()
            .all(|l| param(l, "limit").as_deref() == Some("100"))
    );
    let offsets: Vec<Option<String>> = listings.iter().map(|l| param(l, "offset")).collect();
    assert_eq!(offsets[0], None);
    assert!(offsets[1].is_some() && offsets[2].is_some() && offsets[1] != offsets[2]);
    assert!(
        listings
            .iter()
            .all(|l| param(l, "completed_since").is_none())
    );
    let users = format!("/workspaces/{}/users", w.sim.workspace_gid());
    assert_eq!(w.requests("GET", &users).len(), 1);
    let all = w.sim.requests();
    assert_eq!(
        all.len(),
        4,
        "3 pages and the users (the workspace comes with the tasks): {all:?}"
    );
    assert!(
        w.requests("GET", "/tasks/").is_empty(),
        "never a GET per task"
    );
}

/// No assignee anywhere: the users are never listed.
#[tokio::test]
async fn users_are_not_listed_when_nobody_is_assigned() {
    let w = World::new();
    w.add(TaskSeed::named("a"));
    let items = list_all(&w.connector()).await;
    assert_eq!(items.len(), 1);
    assert_eq!(w.sim.requests().len(), 1, "{:?}", w.sim.requests());
}

/// Every opt_fields value the connector sends is in the spec's enum for that endpoint.
#[tokio::test]
async fn opt_fields_come_from_the_spec_enums() {
    let w = World::seeded();
    let gid = w.add(TaskSeed {
        assignee: Some("alice@example.com".to_owned()),
        tags: vec!["bug".to_owned()],
        ..TaskSeed::named("a")
    });
    let connector = w.connector();
    let items = list_all(&connector).await;
    connector.get_many(&[gid]).await.expect("get_many");
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

    let mut checked = 0;
    for logged in w.sim.requests() {
        assert!(logged.status < 400, "refused: {logged:?}");
        let Some(fields) = param(&logged, "opt_fields") else {
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
}

/// A create is one POST /tasks carrying the project, the section membership, tag gids
/// (missing ones created first) and the assignee's gid; the answer is the full item.
#[tokio::test]
async fn create_is_one_request_with_memberships_and_tags() {
    let w = World::seeded();
    let connector = w.connector();
    let fields = TaskFields {
        title: "Fix login".to_owned(),
        notes: "It breaks.".to_owned(),
        completed: false,
        due: Some("2026-12-01".into()),
        assignee: Some("alice@example.com".to_owned()),
        tags: vec!["bug".to_owned(), "new-tag".to_owned()],
        section: Some("Done".to_owned()),
        start_on: None,
        ..TaskFields::default()
    };
    let item = connector
        .create(&fields, Some("ignored"))
        .await
        .expect("create");
    assert_eq!(item.fields, fields.clone().canonical());
    assert_eq!(item.partner, None);
    let task = w.sim.task(&item.id).expect("created in Asana");
    assert_eq!(task.tags, ["bug", "new-tag"]);
    assert_eq!(task.section.as_deref(), Some("Done"));

    let creates = w.requests("POST", "/tasks");
    assert_eq!(creates.len(), 1);
    let create = &creates[0];
    assert!(
        param(create, "opt_fields").is_some(),
        "the answer is the full task"
    );
    let alice = w.sim.user_gid("alice@example.com").expect("alice");
    assert_eq!(
        create.body,
        Some(json!({"data": {
            "name": "Fix login",
            "html_notes": "<body>It breaks.</body>",
            "completed": false,
            "due_on": "2026-12-01",
            "assignee": alice,
            "projects": [w.project],
            "memberships": [{"project": w.project, "section": w.section("Done")}],
            "tags": [w.tag("bug"), w.tag("new-tag")],
        }}))
    );
    let tags = format!("/workspaces/{}/tags", w.sim.workspace_gid());
    assert_eq!(w.requests("POST", &tags).len(), 1);
    assert_eq!(w.requests("POST", "/projects/").len(), 0, "section existed");
}

/// A missing section is created once, then reused.
#[tokio::test]
async fn missing_sections_are_created_once() {
    let w = World::seeded();
    let connector = w.connector();
    let fields = TaskFields {
        title: "a".to_owned(),
        section: Some("Later".to_owned()),
        ..TaskFields::default()
    };
    let a = connector.create(&fields, None).await.expect("create");
    let b = connector.create(&fields, None).await.expect("create");
    assert_eq!(a.fields.section.as_deref(), Some("Later"));
    assert_eq!(b.fields.section.as_deref(), Some("Later"));
    assert_eq!(
        w.sim.task(&b.id).and_then(|t| t.section).as_deref(),
        Some("Later")
    );
    let sections = format!("/projects/{}/sections", w.project);
    assert_eq!(w.requests("POST", &sections).len(), 1);
    assert_eq!(w.requests("GET", &sections).len(), 1);
}

/// An update sends only the patched fields, in one PUT; `None` clears with `null`.
#[tokio::test]
async fn update_sends_only_patched_fields() {
    let w = World::seeded();
    let gid = w.add(TaskSeed {
        notes: "keep me".to_owned(),
        due_on: Some("2026-01-01".to_owned()),
        assignee: Some("alice@example.com".to_owned()),
        ..TaskSeed::named("old")
    });
    let connector = w.connector();
    let item = list_all(&connector).await.remove(0);
    w.sim.clear_requests();

    let patch = TaskPatch {
        title: Some("new".to_owned()),
        due: Some(None),
        ..TaskPatch::default()
    };
    let updated = connector.update(&item, &patch).await.expect("update");
    assert_eq!(updated.fields.title, "new");
    assert_eq!(updated.fields.due, None);
    assert_eq!(updated.fields.notes, "keep me");
    assert_eq!(
        updated.fields.assignee.as_deref(),
        Some("alice@example.com")
    );
    assert_ne!(updated.revision, item.revision);
    let task = w.sim.task(&gid).expect("task");
    assert_eq!((task.name.as_str(), task.due_on), ("new", None));

    let log = w.sim.requests();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].method, "PUT");
    assert_eq!(log[0].path, format!("/tasks/{gid}"));
    assert_eq!(
        log[0].body,
        Some(json!({"data": {"name": "new", "due_on": null}}))
    );
}

/// Reassigning sends the user's gid; unassigning sends null.
#[tokio::test]
async fn assignee_changes() {
    let w = World::seeded();
    let gid = w.add(TaskSeed::named("a"));
    let connector = w.connector();
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
    let bob = w.sim.user_gid("bob@example.com").expect("bob");
    let puts = w.requests("PUT", &format!("/tasks/{gid}"));
    assert_eq!(puts[0].body, Some(json!({"data": {"assignee": bob}})));
    assert_eq!(puts[1].body, Some(json!({"data": {"assignee": null}})));
    let users = format!("/workspaces/{}/users", w.sim.workspace_gid());
    assert_eq!(w.requests("GET", &users).len(), 1, "users listed once");
}

/// An e-mail Asana does not know is refused before anything is written.
#[tokio::test]
async fn unknown_assignee_is_invalid_data() {
    let w = World::seeded();
    w.add(TaskSeed::named("a"));
    let connector = w.connector();
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
    let log = w.sim.requests();
    assert!(!log.is_empty());
    assert!(
        log.iter().all(|l| l.method == "GET"),
        "nothing written: {log:?}"
    );
}

/// Tags are diffed against the item: addTag for new ones (created when missing),
/// removeTag for dropped ones; the answer shows the tags as applied.
#[tokio::test]
async fn tags_are_added_and_removed() {
    let w = World::seeded();
    let gid = w.add(TaskSeed {
        tags: vec!["bug".to_owned(), "p1".to_owned()],
        ..TaskSeed::named("a")
    });
    let connector = w.connector();
    let item = list_all(&connector).await.remove(0);
    assert_eq!(item.fields.tags, ["bug", "p1"]);
    w.sim.clear_requests();

    let patch = TaskPatch {
        tags: Some(vec!["p1".to_owned(), "urgent".to_owned()]),
        ..TaskPatch::default()
    };
    let updated = connector.update(&item, &patch).await.expect("update");
    assert_eq!(updated.fields.tags, ["p1", "urgent"]);
    assert_eq!(w.sim.task(&gid).expect("task").tags, ["p1", "urgent"]);

    let adds = w.requests("POST", &format!("/tasks/{gid}/addTag"));
    let removes = w.requests("POST", &format!("/tasks/{gid}/removeTag"));
    assert_eq!(adds.len(), 1);
    assert_eq!(
        adds[0].body,
        Some(json!({"data": {"tag": w.tag("urgent")}}))
    );
    assert_eq!(removes.len(), 1);
    assert_eq!(
        removes[0].body,
        Some(json!({"data": {"tag": w.tag("bug")}}))
    );
    assert!(
        w.requests("PUT", "/tasks").is_empty(),
        "no plain field changed"
    );
    assert_eq!(
        w.requests("GET", &format!("/tasks/{gid}")).len(),
        1,
        "re-read once"
    );
}

/// A section change is one addTask on the target section; a `None` section is left.
#[tokio::test]
async fn section_moves() {
    let w = World::seeded();
    let gid = w.add(TaskSeed {
        section: Some("Todo".to_owned()),
        ..TaskSeed::named("a")
    });
    let connector = w.connector();
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
    let task = w.sim.task(&gid).expect("task");
    assert_eq!(
        (task.section.as_deref(), task.completed),
        (Some("Done"), true)
    );
    let adds = w.requests("POST", &format!("/sections/{}/addTask", w.section("Done")));
    assert_eq!(adds.len(), 1);
    assert_eq!(adds[0].body, Some(json!({"data": {"task": gid}})));
    let puts = w.requests("PUT", &format!("/tasks/{gid}"));
    assert_eq!(puts[0].body, Some(json!({"data": {"completed": true}})));

    w.sim.clear_requests();
    let patch = TaskPatch {
        section: Some(None),
        ..TaskPatch::default()
    };
    let same = connector.update(&moved, &patch).await.expect("no-op");
    assert_eq!(same, moved);
    assert!(
        w.sim.requests().is_empty(),
        "nothing sent for a section Asana cannot express"
    );
}

/// get_many reads the named tasks; deleted ones and ones in another project are absent.
#[tokio::test]
async fn get_many_skips_missing_and_foreign_tasks() {
    let w = World::seeded();
    let a = w.add(TaskSeed::named("a"));
    let b = w.add(TaskSeed::named("b"));
    let gone = w.add(TaskSeed::named("gone"));
    w.sim.delete_task(&gone);
    let other = w.sim.create_project("Other");
    let foreign = w.sim.add_task(&other, TaskSeed::named("elsewhere"));
    w.sim.clear_requests();
    let connector = w.connector();
    let ids = vec![b.clone(), "404404".to_owned(), foreign, gone, a.clone()];
    let items = connector.get_many(&ids).await.expect("get_many");
    let got: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(got, [b.as_str(), a.as_str()]);
    assert_eq!(w.requests("GET", "/tasks/").len(), 5);
    let err = connector
        .get_many(&["../users/me".to_owned()])
        .await
        .expect_err("not a gid");
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    assert_eq!(w.requests("GET", "/tasks/").len(), 5, "nothing sent");
}

/// Delete sends DELETE; an already deleted task (Asana's 404) is fine.
#[tokio::test]
async fn delete_is_idempotent() {
    let w = World::seeded();
    let gid = w.add(TaskSeed::named("a"));
    let connector = w.connector();
    let item = list_all(&connector).await.remove(0);
    connector.delete(&item).await.expect("delete");
    connector.delete(&item).await.expect("already gone");
    assert!(w.sim.project_tasks(&w.project).is_empty());
    let deletes = w.requests("DELETE", &format!("/tasks/{gid}"));
    let statuses: Vec<u16> = deletes.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 404]);
    assert_eq!(
        connector.set_partner(&item, "x").await.expect("no-op"),
        item
    );
    assert_eq!(connector.describe(&gid), format!("task {gid}"));
    assert_eq!(connector.kind(), "asana");
}

/// No cursor, an unknown one or an expired one: Asana's 412 -> Reset carrying the fresh
/// token from the 412 body, which then reads the feed.
#[tokio::test]
async fn events_412_resets() {
    let w = World::new();
    let connector = w.connector();
    let Changes::Reset { cursor: fresh } = connector.changes(None).await.expect("reset") else {
        panic!("no cursor must reset")
    };
    let Changes::Since { changed, cursor } = connector.changes(Some(&fresh)).await.expect("since")
    else {
        panic!("the 412's token reads the feed")
    };
    assert!(changed.is_empty() && !cursor.is_empty());
    assert!(matches!(
        connector.changes(Some("old")).await.expect("reset"),
        Changes::Reset { .. }
    ));
    w.sim.expire_sync_tokens();
    assert!(matches!(
        connector.changes(Some(&fresh)).await.expect("reset"),
        Changes::Reset { .. }
    ));
    let calls = w.requests("GET", "/events");
    let statuses: Vec<u16> = calls.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [412, 200, 412, 412]);
    assert_eq!(param(&calls[0], "resource"), Some(w.project.clone()));
    assert_eq!(param(&calls[0], "sync"), None);
    assert_eq!(param(&calls[1], "sync").as_ref(), Some(&fresh));
    assert_eq!(param(&calls[2], "sync").as_deref(), Some("old"));
    assert_eq!(param(&calls[3], "sync"), Some(fresh));
}

/// `has_more` is followed with each new token; task events and story events on tasks are
/// coalesced into one de-duplicated list (changed, commented, deleted, added tasks); the last
/// token is the new cursor, and reading it again finds nothing new.
#[tokio::test]
async fn events_follow_has_more_and_coalesce() {
    let w = World::new();
    let a = w.add(TaskSeed::named("a"));
    let b = w.add(TaskSeed::named("b"));
    let c = w.add(TaskSeed::named("c"));
    let connector = w.connector();
    let Changes::Reset { cursor } = connector.changes(None).await.expect("reset") else {
        panic!("no cursor must reset")
    };
    // More than one page (Asana: 100 events per call) of edits to `a`.
    for i in 0..120 {
        w.sim.edit_task(
            &a,
            TaskEdit {
                notes: Some(format!("edit {i}")),
                ..TaskEdit::default()
            },
        );
    }
    w.sim.add_comment(&b);
    w.sim.delete_task(&c);
    let d = w.add(TaskSeed::named("d"));
    w.sim.clear_requests();

    let Changes::Since {
        changed,
        cursor: next,
    } = connector.changes(Some(&cursor)).await.expect("changes")
    else {
        panic!("a valid cursor reads the feed")
    };
    let mut expected = vec![a, b, c, d];
    expected.sort();
    let mut got = changed.clone();
    got.sort();
    assert_eq!(got, expected, "each task once: {changed:?}");
    let calls = w.requests("GET", "/events");
    assert!(calls.len() >= 2, "has_more followed: {calls:?}");
    let syncs: Vec<Option<String>> = calls.iter().map(|r| param(r, "sync")).collect();
    assert_eq!(syncs[0].as_deref(), Some(cursor.as_str()));
    assert!(
        syncs.windows(2).all(|p| p[0] != p[1] && p[1].is_some()),
        "each page asked with the previous page's token: {syncs:?}"
    );
    assert_ne!(next, cursor);

    let Changes::Since {
        changed,
        cursor: last,
    } = connector.changes(Some(&next)).await.expect("changes")
    else {
        panic!("the new cursor reads the feed")
    };
    assert!(changed.is_empty(), "nothing new: {changed:?}");
    assert!(!last.is_empty());
}

/// A renamed section asks for a full listing (task sections changed without task events).
#[tokio::test]
async fn events_section_rename_resets() {
    let w = World::seeded();
    w.add(TaskSeed {
        section: Some("Todo".to_owned()),
        ..TaskSeed::named("a")
    });
    let connector = w.connector();
    let Changes::Reset { cursor } = connector.changes(None).await.expect("reset") else {
        panic!("no cursor must reset")
    };
    w.sim.rename_section(&w.section("Todo"), "Backlog");
    let Changes::Reset { cursor: next } = connector.changes(Some(&cursor)).await.expect("reset")
    else {
        panic!("a renamed section must reset")
    };
    let calls = w.requests("GET", "/events");
    assert_eq!(
        calls.last().map(|r| r.status),
        Some(200),
        "read, not expired"
    );
    assert_ne!(next, cursor);
}

/// me() reads the token's user.
#[tokio::test]
async fn me_reads_the_tokens_user() {
    let w = World::new();
    let me = w.client().me().await.expect("me");
    assert_eq!(me.gid, w.sim.me_gid());
    assert_eq!(me.email, "bridge-bot@example.com");
    assert_eq!(w.sim.requests()[0].path, "/users/me");
}

/// Asana's error message reaches the caller, typed: a 404 is NotFound with Asana's text,
/// a 403 is not retried.
#[tokio::test]
async fn api_errors_are_typed() {
    let w = World::new();
    let connector = w.connector();
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

    w.add(TaskSeed::named("a"));
    w.sim.clear_requests();
    w.sim.inject(Fault::Status {
        status: 403,
        count: 1,
        method: None,
        path_contains: None,
    });
    let err = connector.list_page(None).await.expect_err("forbidden");
    assert!(!err.is_retryable(), "{err}");
    assert_eq!(w.sim.requests().len(), 1, "a 403 is not retried");
}

/// A 429 waits the `Retry-After` Asana sent, then the same request succeeds; a 500 on a
/// read is retried too.
#[tokio::test]
async fn rate_limits_and_server_errors_are_retried() {
    let w = World::new();
    w.add(TaskSeed::named("a"));
    let connector = w.connector();
    w.sim.inject(Fault::RateLimit {
        retry_after_secs: 1,
        count: 1,
    });
    let started = std::time::Instant::now();
    let items = list_all(&connector).await;
    assert_eq!(items.len(), 1);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured: {:?}",
        started.elapsed()
    );
    let statuses: Vec<u16> = w.sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 200]);

    w.sim.clear_requests();
    w.sim.inject(Fault::Status {
        status: 500,
        count: 1,
        method: Some("GET".to_owned()),
        path_contains: None,
    });
    assert_eq!(list_all(&connector).await.len(), 1);
    let statuses: Vec<u16> = w.sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 200]);
}

/// A 500 on a create is ambiguous (Asana may have created the task): it is reported as
/// such and not retried, so a retry cannot make a duplicate.
#[tokio::test]
async fn a_failed_create_is_ambiguous_and_not_retried() {
    let w = World::new();
    let connector = w.connector();
    w.sim.inject(Fault::Status {
        status: 500,
        count: 1,
        method: Some("POST".to_owned()),
        path_contains: Some("/tasks".to_owned()),
    });
    let fields = TaskFields {
        title: "b".to_owned(),
        ..TaskFields::default()
    };
    let err = connector.create(&fields, None).await.expect_err("500");
    assert_eq!(err.kind(), ErrorKind::Ambiguous, "{err}");
    let statuses: Vec<u16> = w
        .requests("POST", "/tasks")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [500], "not retried");
    assert!(w.sim.project_tasks(&w.project).is_empty());
}

/// A malformed task is an item error of its page, not a failed listing.
#[tokio::test]
async fn malformed_task_is_an_item_error() {
    let w = World::new();
    w.add(TaskSeed::named("fine"));
    let broken = w.add(TaskSeed::named("broken"));
    let bad_date = w.add(TaskSeed::named("bad date"));
    w.sim.serve_malformed_task(
        &broken,
        json!({"gid": broken, "name": 12, "modified_at": "2026-11-01T00:00:00Z"}),
    );
    w.sim.serve_malformed_task(
        &bad_date,
        json!({"gid": bad_date, "name": "x", "modified_at": "yesterday"}),
    );
    let page = w.connector().list_page(None).await.expect("page");
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].fields.title, "fine");
    let mut failed: Vec<&str> = page.errors.iter().filter_map(|e| e.id.as_deref()).collect();
    failed.sort_unstable();
    let mut expected = [broken.as_str(), bad_date.as_str()];
    expected.sort_unstable();
    assert_eq!(failed, expected);
    assert!(
        page.errors
            .iter()
            .all(|e| e.error.kind() == ErrorKind::InvalidData)
    );
}
