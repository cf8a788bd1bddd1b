//! The Asana connector's descriptions against the bundled simulator: read from
//! `html_notes` as Markdown, written as `html_notes` (never plain `notes`), a rich
//! description the Markdown cannot express exactly never written over, and nothing sent
//! that Asana would refuse as invalid rich text.

mod common;

use asana_bridge_asana::AsanaConnector;
use asana_bridge_connector::{Connector, ConnectorError, Field, Item, TaskFields, TaskPatch};
use asana_sim::{RecordedRequest, Simulator, TaskEdit, TaskSeed};

/// A rich description in Asana's normal form: heading, bold, italic, link, nested list,
/// mention, code block.
const RICH: &str = "<body><h1>Plan</h1>Make it <strong>fast</strong> and <em>small</em>, \
    see <a href=\"https://example.com/spec\">the spec</a>.\n<ul><li>first<ul><li>nested</li>\
    </ul></li><li>second</li></ul>Ask <a data-asana-gid=\"1200\" data-asana-type=\"user\"/>.\n\
    <pre>cargo test\n  --all</pre></body>";

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

    fn connector(&self) -> AsanaConnector {
        AsanaConnector::new(common::client(&self.sim), self.project.clone())
    }

    fn add_rich(&self, name: &str, html: &str) -> String {
        self.sim.add_task(
            &self.project,
            TaskSeed {
                html_notes: Some(html.to_owned()),
                ..TaskSeed::named(name)
            },
        )
    }

    fn writes(&self) -> Vec<RecordedRequest> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| r.method == "PUT" || r.method == "POST")
            .collect()
    }
}

async fn read(connector: &AsanaConnector, gid: &str) -> Item {
    connector
        .get_many(&[gid.to_owned()])
        .await
        .expect("read")
        .remove(0)
}

/// A rich description reads as Markdown; an edit of one word goes back as `html_notes`
/// (no plain `notes` key) that differs from Asana's only in that word.
#[tokio::test]
async fn a_rich_description_is_read_as_markdown_and_written_as_html_notes() {
    let w = World::new();
    let gid = w.add_rich("Rich", RICH);
    let connector = w.connector();
    let item = read(&connector, &gid).await;
    assert_eq!(
        item.fields.notes,
        "# Plan\n\nMake it **fast** and *small*, see [the spec](https://example.com/spec).\n\n\n\
         - first\n  - nested\n- second\n\nAsk <a data-asana-gid=\"1200\" data-asana-type=\"user\">\
         </a>.\n\n\n```\ncargo test\n  --all\n```"
    );
    assert!(connector.unknown_fields(&item).is_empty());

    w.sim.clear_requests();
    let patch = TaskPatch {
        notes: Some(item.fields.notes.replace("small", "tiny")),
        ..TaskPatch::default()
    };
    let updated = connector.update(&item, &patch).await.expect("update");
    let sent = w.writes();
    assert_eq!(sent.len(), 1, "one PUT");
    let body = sent[0].body.as_ref().expect("a body");
    assert!(
        body["data"].get("notes").is_none(),
        "no plain notes: {body}"
    );
    assert_eq!(body["data"]["html_notes"], RICH.replace("small", "tiny"));
    assert_eq!(
        w.sim.task(&gid).expect("task").html_notes,
        RICH.replace("small", "tiny")
    );
    assert_eq!(updated.fields.notes, patch.notes.expect("set"));
}

/// A description with something the Markdown cannot hold (an image Asana would not take
/// back: not one empty `<img .../>` tag) reads as its
/// plain text, is an unknown field for the engine, and is never written over: a patch
/// with notes is refused before anything is sent; without notes it goes through. Once
/// the description is expressible again, it is written as usual.
#[tokio::test]
async fn an_inexpressible_description_is_never_written_over() {
    let w = World::new();
    let html = "<body>Screenshot: <img data-asana-gid=\"77\" alt=\"crash\"></img> <strong>bad</strong></body>";
    let gid = w.add_rich("Image", html);
    let connector = w.connector();
    let item = read(&connector, &gid).await;
    assert_eq!(item.fields.notes, "Screenshot:  bad");
    assert_eq!(connector.unknown_fields(&item), [Field::Notes]);

    w.sim.clear_requests();
    let patch = TaskPatch {
        notes: Some("flattened".to_owned()),
        title: Some("Renamed".to_owned()),
        ..TaskPatch::default()
    };
    let err = connector.update(&item, &patch).await.expect_err("refused");
    assert!(matches!(err, ConnectorError::InvalidData(_)), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&gid), "names the task: {message}");
    assert!(message.contains("img"), "says why: {message}");
    assert!(w.writes().is_empty(), "nothing sent");
    assert_eq!(w.sim.task(&gid).expect("task").html_notes, html);

    let title_only = TaskPatch {
        title: Some("Renamed".to_owned()),
        ..TaskPatch::default()
    };
    let renamed = connector.update(&item, &title_only).await.expect("title");
    assert_eq!(renamed.fields.title, "Renamed");
    assert_eq!(w.sim.task(&gid).expect("task").html_notes, html);

    w.sim.edit_task(
        &gid,
        TaskEdit {
            html_notes: Some("<body>No image now</body>".to_owned()),
            ..TaskEdit::default()
        },
    );
    let item = read(&connector, &gid).await;
    assert!(connector.unknown_fields(&item).is_empty());
    let patch = TaskPatch {
        notes: Some("No *image* now".to_owned()),
        ..TaskPatch::default()
    };
    connector
        .update(&item, &patch)
        .await
        .expect("writable again");
    assert_eq!(
        w.sim.task(&gid).expect("task").html_notes,
        "<body>No <em>image</em> now</body>"
    );
}

/// Plain notes with Markdown's special characters come back as the same plain text
/// (escaped in the Markdown), and a new task's description goes as `html_notes`.
#[tokio::test]
async fn plain_text_survives_and_creates_send_html_notes() {
    let w = World::new();
    let gid = w.sim.add_task(
        &w.project,
        TaskSeed {
            notes: "1. not a list * nor <b>html</b> & co".to_owned(),
            ..TaskSeed::named("Plain")
        },
    );
    let connector = w.connector();
    let item = read(&connector, &gid).await;
    assert_eq!(
        asana_bridge_richtext::to_html_notes(&item.fields.notes).expect("converts"),
        "<body>1. not a list * nor &lt;b&gt;html&lt;/b&gt; &amp; co</body>"
    );

    w.sim.clear_requests();
    let fields = TaskFields {
        title: "New".to_owned(),
        notes: "A **bold** start".to_owned(),
        ..TaskFields::default()
    };
    let created = connector.create(&fields, None).await.expect("create");
    let sent = w.writes();
    let body = sent[0].body.as_ref().expect("a body");
    assert!(
        body["data"].get("notes").is_none(),
        "no plain notes: {body}"
    );
    assert_eq!(
        body["data"]["html_notes"],
        "<body>A <strong>bold</strong> start</body>"
    );
    assert_eq!(created.fields.notes, "A **bold** start");
}

/// Markdown that Asana's rich text cannot hold (nested deeper than it allows) is an error
/// for that task, and nothing is sent: the bridge never sends what Asana answers with 400.
#[tokio::test]
async fn nothing_invalid_is_ever_sent() {
    let w = World::new();
    let connector = w.connector();
    let deep: String = (0..asana_bridge_richtext::MAX_DEPTH + 5)
        .map(|level| format!("{}- level {level}\n", "  ".repeat(level)))
        .collect();
    let fields = TaskFields {
        title: "Deep".to_owned(),
        notes: deep.clone(),
        ..TaskFields::default()
    };
    let err = connector.create(&fields, None).await.expect_err("refused");
    assert!(matches!(err, ConnectorError::InvalidData(_)), "{err:?}");
    assert!(w.writes().is_empty(), "nothing sent");

    let gid = w.sim.add_task(&w.project, TaskSeed::named("Shallow"));
    let item = read(&connector, &gid).await;
    w.sim.clear_requests();
    let patch = TaskPatch {
        notes: Some(deep),
        ..TaskPatch::default()
    };
    let err = connector.update(&item, &patch).await.expect_err("refused");
    assert!(matches!(err, ConnectorError::InvalidData(_)), "{err:?}");
    assert!(w.writes().is_empty(), "nothing sent");
}

/// A connector that has not read the task in this process (the engine planned from its
/// record) reads the description before writing over it: an inexpressible one is refused
/// with nothing written, an expressible one is written after that one read.
#[tokio::test]
async fn a_task_not_read_yet_has_its_description_checked_first() {
    let w = World::new();
    let html = "<body>Screenshot: <img data-asana-gid=\"77\"></img></body>";
    let image = w.add_rich("Image", html);
    let plain = w.add_rich("Plain", "<body>plain</body>");
    let item = read(&w.connector(), &image).await;
    let plain_item = read(&w.connector(), &plain).await;

    let fresh = w.connector();
    w.sim.clear_requests();
    let patch = TaskPatch {
        notes: Some("flattened".to_owned()),
        ..TaskPatch::default()
    };
    let err = fresh.update(&item, &patch).await.expect_err("refused");
    assert!(matches!(err, ConnectorError::InvalidData(_)), "{err:?}");
    assert!(w.writes().is_empty(), "nothing sent");
    assert_eq!(w.sim.task(&image).expect("task").html_notes, html);
    let reads: Vec<String> = w.sim.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(reads, [format!("/tasks/{image}")]);

    w.sim.clear_requests();
    fresh
        .update(&plain_item, &patch)
        .await
        .expect("expressible: written");
    assert_eq!(
        w.sim.task(&plain).expect("task").html_notes,
        "<body>flattened</body>"
    );
    let methods: Vec<String> = w.sim.requests().iter().map(|r| r.method.clone()).collect();
    assert_eq!(methods, ["GET", "PUT"]);
}

/// The simulator holds descriptions as Asana does: a write of `html_notes` that is not
/// Asana's rich text is a 400 with Asana's error body and changes nothing; a write of
/// plain `notes` replaces the rich text with the escaped text; answers carry both.
#[tokio::test]
async fn the_simulator_checks_html_notes_as_asana_does() {
    let w = World::new();
    let gid = w.add_rich("Rich", "<body><strong>kept</strong></body>");
    let http = reqwest::Client::new();
    let put = |data: serde_json::Value| {
        http.put(format!("{}/tasks/{gid}", w.sim.base_url()))
            .bearer_auth(w.sim.token())
            .query(&[("opt_fields", "notes,html_notes")])
            .json(&serde_json::json!({ "data": data }))
            .send()
    };
    for bad in [
        "no body",
        "<body><p>para</p></body>",
        "<body><strong>open</body>",
        "<body><em class=\"x\">attr</em></body>",
        "<body>&nbsp;</body>",
    ] {
        let answer = put(serde_json::json!({ "html_notes": bad }))
            .await
            .expect("answer");
        assert_eq!(answer.status(), 400, "{bad}");
        let body: serde_json::Value = answer.json().await.expect("JSON");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("html_notes: "), "{bad}: {body}");
    }
    assert_eq!(
        w.sim.task(&gid).expect("task").html_notes,
        "<body><strong>kept</strong></body>"
    );

    let answer = put(serde_json::json!({ "notes": "a <b> & c" }))
        .await
        .expect("answer");
    assert_eq!(answer.status(), 200);
    let body: serde_json::Value = answer.json().await.expect("JSON");
    assert_eq!(body["data"]["notes"], "a <b> & c");
    assert_eq!(
        body["data"]["html_notes"],
        "<body>a &lt;b&gt; &amp; c</body>"
    );
}
