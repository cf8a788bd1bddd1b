//! The Asana connector's subtask and comment operations against the bundled simulator:
//! what they send (every page, `opt_fields` from the spec's enums, rich text checked before
//! it goes out, nothing sent for a change the bridge may not make) and how they read the
//! answers (direct subtasks only, comments as Markdown with author and ownership, a deleted
//! subtask, Asana's 403 on someone else's comment). The simulator fails a test when it is
//! dropped after a request it does not serve.

mod common;

use std::sync::Arc;

use asana_bridge_asana::{AsanaClient, AsanaConnector, comments, subtasks};
use asana_bridge_connector::{Changes, Connector, ErrorKind, NewSubtask};
use asana_sim::{CommentSeed, RecordedRequest, Simulator, TaskSeed, spec_fields as spec};

/// A simulator with one project and one task in it, and a client on it.
struct World {
    sim: Simulator,
    project: String,
    task: String,
    client: Arc<AsanaClient>,
}

impl World {
    fn new() -> World {
        let sim = Simulator::start();
        let project = sim.create_project("Roadmap");
        let task = sim.add_task(&project, TaskSeed::named("Ship it"));
        let client = common::client(&sim);
        sim.clear_requests();
        World {
            sim,
            project,
            task,
            client,
        }
    }

    fn workspace(&self) -> String {
        self.sim.workspace_gid()
    }

    /// The recorded requests with this method whose path starts with `prefix`.
    fn requests(&self, method: &str, prefix: &str) -> Vec<RecordedRequest> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.starts_with(prefix))
            .collect()
    }

    fn comment_by(&self, email: &str, seed: CommentSeed) -> String {
        self.sim.add_comment_as(email, &self.task, seed)
    }
}

fn text(s: &str) -> CommentSeed {
    CommentSeed {
        text: Some(s.to_owned()),
        ..CommentSeed::default()
    }
}

fn param(request: &RecordedRequest, key: &str) -> Option<String> {
    let url = reqwest::Url::parse(&format!("http://x/?{}", request.query)).expect("query");
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// Every `opt_fields` value the connector asks for is in the spec's enum of the operation.
#[test]
fn opt_fields_come_from_the_spec_enums() {
    for field in subtasks::SUBTASK_FIELDS {
        for (op, allowed) in [
            ("GET subtasks", spec::GET_SUBTASKS_FOR_TASK),
            ("POST subtasks", spec::CREATE_SUBTASK_FOR_TASK),
            ("PUT task", spec::UPDATE_TASK),
        ] {
            assert!(allowed.contains(field), "{field} not allowed on {op}");
        }
    }
    for field in comments::STORY_FIELDS {
        for (op, allowed) in [
            ("GET stories", spec::GET_STORIES_FOR_TASK),
            ("POST stories", spec::CREATE_STORY_FOR_TASK),
            ("PUT story", spec::UPDATE_STORY),
        ] {
            assert!(allowed.contains(field), "{field} not allowed on {op}");
        }
    }
}

/// 105 subtasks come in two requests of 100 (the second with the offset the first handed
/// out), in Asana's order, with name and completion; a subtask's own subtask is not read.
#[tokio::test]
async fn subtasks_are_listed_in_pages_direct_only() {
    let w = World::new();
    let gids: Vec<String> = (0..105)
        .map(|i| w.sim.add_subtask(&w.task, &format!("step {i}")))
        .collect();
    w.sim.add_subtask(&gids[0], "deeper");
    w.sim.edit_task(
        &gids[3],
        asana_sim::TaskEdit {
            completed: Some(true),
            ..Default::default()
        },
    );
    w.sim.clear_requests();

    let list = subtasks::list(&w.client, &w.task).await.expect("list");
    let listed: Vec<&str> = list.iter().map(|s| s.remote_id.as_str()).collect();
    assert_eq!(listed, gids.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(list[3].name, "step 3");
    assert!(list[3].completed);
    assert!(!list[4].completed);

    let pages = w.requests("GET", &format!("/tasks/{}/subtasks", w.task));
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert_eq!(param(&pages[0], "limit").as_deref(), Some("100"));
    assert_eq!(param(&pages[0], "offset"), None);
    assert!(param(&pages[1], "offset").is_some());
    assert_eq!(w.sim.requests().len(), 2, "nothing else is read");
}

/// A subtask is created (one request, in no project), renamed, completed, reopened and
/// deleted; a deleted one is no longer listed, deleting it again is not an error, and
/// renaming it is `NotFound`.
#[tokio::test]
async fn subtask_lifecycle_and_a_deleted_subtask() {
    let w = World::new();
    let created = subtasks::create(
        &w.client,
        &w.task,
        &NewSubtask {
            name: "Check the CSP headers".into(),
            completed: true,
        },
    )
    .await
    .expect("create");
    assert_eq!(created.name, "Check the CSP headers");
    assert!(created.completed);
    assert_eq!(w.requests("POST", "/tasks/").len(), 1);
    assert_eq!(w.sim.subtasks(&w.task), vec![created.remote_id.clone()]);

    let renamed = subtasks::rename(&w.client, &created.remote_id, "Check CSP")
        .await
        .expect("rename");
    assert_eq!(renamed.name, "Check CSP");
    assert!(renamed.completed, "a rename leaves completion alone");
    let reopened = subtasks::set_completed(&w.client, &created.remote_id, false)
        .await
        .expect("reopen");
    assert!(!reopened.completed);
    let put = w.requests("PUT", "/tasks/");
    assert_eq!(
        put.last().and_then(|r| r.body.clone()),
        Some(serde_json::json!({ "data": { "completed": false } })),
        "only the changed field is sent"
    );
    let in_sim = w.sim.task(&created.remote_id).expect("subtask");
    assert_eq!(
        (in_sim.name.as_str(), in_sim.completed),
        ("Check CSP", false)
    );

    let other = w.sim.add_subtask(&w.task, "stays");
    subtasks::delete(&w.client, &created.remote_id)
        .await
        .expect("delete");
    assert!(w.sim.task(&created.remote_id).is_none());
    let left = subtasks::list(&w.client, &w.task).await.expect("list");
    assert_eq!(
        left.iter().map(|s| s.remote_id.clone()).collect::<Vec<_>>(),
        vec![other]
    );
    subtasks::delete(&w.client, &created.remote_id)
        .await
        .expect("deleting a deleted subtask is done already");
    let err = subtasks::rename(&w.client, &created.remote_id, "x")
        .await
        .expect_err("gone");
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

/// 120 comments come in two pages; system stories are left out; each comment has its
/// author's name and, where Asana shows it, e-mail; the bridge's own are marked; rich
/// text reads as Markdown; an edited comment says so.
#[tokio::test]
async fn comments_are_listed_in_pages_as_markdown() {
    let w = World::new();
    w.sim.add_user("Hidden Guest", "guest@example.com");
    w.sim.hide_email("guest@example.com");
    let html = "<body>Seen on <strong>Safari 16</strong> too, see <a href=\"https://example.com/x\">the report</a>\n<ul><li>one</li><li>two</li></ul></body>";
    let rich = w.comment_by(
        "alice@example.com",
        CommentSeed {
            html_text: Some(html.into()),
            ..CommentSeed::default()
        },
    );
    let mine = w.comment_by("bridge-bot@example.com", text("On it."));
    let guest = w.comment_by("guest@example.com", text("me too"));
    w.sim.edit_comment(&guest, "me too (edited)");
    // A system story in between (a rename) and then enough comments for a second page.
    w.sim.edit_task(
        &w.task,
        asana_sim::TaskEdit {
            name: Some("Ship it now".into()),
            ..Default::default()
        },
    );
    for i in 0..117 {
        w.comment_by("bob@example.com", text(&format!("bob {i}")));
    }
    w.sim.clear_requests();

    let list = comments::list(&w.client, &w.workspace(), &w.task)
        .await
        .expect("list");
    assert_eq!(list.len(), 120, "comments only");
    let pages = w.requests("GET", &format!("/tasks/{}/stories", w.task));
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert!(param(&pages[1], "offset").is_some());

    let first = &list[0];
    assert_eq!(first.remote_id, rich);
    assert!(
        first
            .body
            .starts_with("Seen on **Safari 16** too, see [the report](https://example.com/x)\n"),
        "{:?}",
        first.body
    );
    assert!(first.body.ends_with("- one\n- two"), "{:?}", first.body);
    assert_eq!(
        asana_bridge_richtext::to_html_notes(&first.body)
            .ok()
            .as_deref(),
        Some(html),
        "the Markdown carries the rich text exactly"
    );
    assert_eq!(first.author.name, "Alice Example");
    assert_eq!(first.author.email.as_deref(), Some("alice@example.com"));
    assert!(!first.own);
    assert!(!first.edited);

    assert_eq!(list[1].remote_id, mine);
    assert!(list[1].own, "the bridge's user wrote it");
    assert_eq!(list[1].body, "On it.");

    assert_eq!(list[2].remote_id, guest);
    assert_eq!(list[2].author.name, "Hidden Guest");
    assert_eq!(list[2].author.email, None, "Asana hides this e-mail");
    assert!(list[2].edited);
    assert_eq!(list[2].body, "me too (edited)");

    assert_eq!(list[119].body, "bob 116");
    let times: Vec<_> = list.iter().map(|c| c.created_at).collect();
    assert!(times.windows(2).all(|p| p[0] < p[1]), "oldest first");
}

/// The bridge posts a comment from Markdown as rich text (one request), edits it
/// (`edited` turns true) and deletes it.
#[tokio::test]
async fn own_comment_is_posted_edited_and_deleted_as_rich_text() {
    let w = World::new();
    let ws = w.workspace();
    let posted = comments::post(
        &w.client,
        &ws,
        &w.task,
        "Fixed in **1.2**, see [the PR](https://example.com/pr/1):\n\n- `csp.rs`\n- docs",
    )
    .await
    .expect("post");
    assert!(posted.own);
    assert_eq!(
        posted.author.email.as_deref(),
        Some("bridge-bot@example.com")
    );
    let sent = w.requests("POST", &format!("/tasks/{}/stories", w.task));
    assert_eq!(sent.len(), 1);
    let in_sim = w.sim.comments(&w.task);
    assert_eq!(in_sim.len(), 1);
    assert_eq!(
        in_sim[0].html_text,
        "<body>Fixed in <strong>1.2</strong>, see <a href=\"https://example.com/pr/1\">the PR</a>:<ul><li><code>csp.rs</code></li><li>docs</li></ul></body>"
    );
    assert_eq!(
        asana_bridge_richtext::to_html_notes(&posted.body).ok(),
        Some(in_sim[0].html_text.clone()),
        "the answer reads back as the same rich text"
    );

    let edited = comments::edit(&w.client, &ws, &posted, "Fixed in *1.3*.")
        .await
        .expect("edit");
    assert!(edited.edited);
    assert_eq!(edited.body, "Fixed in *1.3*.");
    assert_eq!(
        w.sim.comments(&w.task)[0].html_text,
        "<body>Fixed in <em>1.3</em>.</body>"
    );

    comments::delete(&w.client, &edited).await.expect("delete");
    assert!(w.sim.comments(&w.task).is_empty());
    comments::delete(&w.client, &edited)
        .await
        .expect("deleting a deleted comment is done already");
}

/// Someone else's comment is never changed: the connector refuses before sending
/// anything, and where it believed the comment its own, Asana's 403 comes back as
/// `Forbidden` and the comment stays as it was.
#[tokio::test]
async fn someone_elses_comment_is_read_only() {
    let w = World::new();
    let ws = w.workspace();
    let alices = w.comment_by("alice@example.com", text("alice's words"));
    let list = comments::list(&w.client, &ws, &w.task).await.expect("list");
    let comment = list.into_iter().next().expect("one comment");
    assert_eq!(comment.remote_id, alices);
    w.sim.clear_requests();

    let err = comments::edit(&w.client, &ws, &comment, "rewritten")
        .await
        .expect_err("not ours");
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    let err = comments::delete(&w.client, &comment)
        .await
        .expect_err("not ours");
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert!(w.sim.requests().is_empty(), "nothing was sent");

    let mistaken = asana_bridge_connector::Comment {
        own: true,
        ..comment
    };
    let err = comments::edit(&w.client, &ws, &mistaken, "rewritten")
        .await
        .expect_err("Asana refuses");
    assert_eq!(err.kind(), ErrorKind::Forbidden, "{err}");
    let puts = w.requests("PUT", "/stories/");
    assert_eq!(puts.len(), 1, "a 403 is not retried");
    assert_eq!(puts[0].status, 403);
    let in_sim = w.sim.comments(&w.task);
    assert_eq!(in_sim[0].text, "alice's words");
    assert!(!in_sim[0].edited);
}

/// Text Asana would refuse in a comment (a heading) is `InvalidData` and nothing is sent.
#[tokio::test]
async fn invalid_comment_text_is_not_sent() {
    let w = World::new();
    let err = comments::post(&w.client, &w.workspace(), &w.task, "# Release notes\n\nok")
        .await
        .expect_err("headings are not comment text");
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    assert!(w.sim.requests().is_empty(), "nothing was sent");
    assert!(w.sim.comments(&w.task).is_empty());
}

/// In the project's change feed, a new comment names its task (events bubble up) and a
/// new subtask names itself; reading the named tasks back leaves the subtask out, so it
/// never passes for a task of the project.
#[tokio::test]
async fn feed_names_the_task_of_a_comment_and_never_yields_a_subtask() {
    let w = World::new();
    let connector = AsanaConnector::new(Arc::clone(&w.client), w.project.clone());
    let Changes::Reset { cursor } = connector.changes(None).await.expect("reset") else {
        panic!("no cursor must reset")
    };
    let child = w.sim.add_subtask(&w.task, "a step");
    w.comment_by("alice@example.com", text("a word"));
    let Changes::Since { changed, .. } = connector.changes(Some(&cursor)).await.expect("feed")
    else {
        panic!("the cursor reads the feed")
    };
    assert!(changed.contains(&w.task), "the comment's task: {changed:?}");
    assert!(changed.contains(&child), "events bubble up: {changed:?}");
    let items = connector.get_many(&changed).await.expect("read");
    let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![w.task.as_str()],
        "the subtask is not an item of the project"
    );
}

/// An edited comment is named in the feed by its story alone (Asana gives a `changed`
/// event no parent): its task is found from the story, and a deleted story has none.
#[tokio::test]
async fn the_task_of_an_edited_comment_is_found_from_its_story() {
    let w = World::new();
    let story = w.comment_by("alice@example.com", text("first"));
    w.sim.edit_comment(&story, "second");
    assert_eq!(
        comments::task_of(&w.client, &story).await.expect("read"),
        Some(w.task.clone())
    );
    let gets = w.requests("GET", "/stories/");
    assert_eq!(gets.len(), 1);
    assert_eq!(param(&gets[0], "opt_fields").as_deref(), Some("target"));
    assert!(spec::GET_STORY.contains(&"target"));
    let mine = comments::post(&w.client, &w.workspace(), &w.task, "mine")
        .await
        .expect("post");
    comments::delete(&w.client, &mine).await.expect("delete");
    assert_eq!(
        comments::task_of(&w.client, &mine.remote_id)
            .await
            .expect("read"),
        None
    );
}
