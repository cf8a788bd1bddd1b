//! The line naming a GitHub issue at the end of a task the bridge made from it
//! (`connectors/asana/src/mark.rs`), against the bundled simulator: sent in the create
//! (one request), read back as the item's `partner` and never as notes, kept at the end
//! by a notes update (also for a task not read in this process), never written for
//! anything but an issue, and gone for good once a person deletes it.

mod common;

use asana_bridge_asana::AsanaConnector;
use asana_bridge_connector::{Connector, Item, TaskFields, TaskPatch};
use asana_sim::{RecordedRequest, Simulator, TaskEdit, TaskSeed};

const LINE: &str =
    "Mirrored from GitHub: <a href=\"https://github.com/acme/app/issues/12\">acme/app#12</a>";

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

    fn writes(&self) -> Vec<RecordedRequest> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| r.method == "PUT" || r.method == "POST")
            .collect()
    }

    fn html(&self, gid: &str) -> String {
        self.sim.task(gid).expect("task").html_notes
    }
}

async fn read(connector: &AsanaConnector, gid: &str) -> Item {
    connector
        .get_many(&[gid.to_owned()])
        .await
        .expect("read")
        .remove(0)
}

fn fields(notes: &str) -> TaskFields {
    TaskFields {
        title: "From an issue".to_owned(),
        notes: notes.to_owned(),
        ..TaskFields::default()
    }
}

fn notes(text: &str) -> TaskPatch {
    TaskPatch {
        notes: Some(text.to_owned()),
        ..TaskPatch::default()
    }
}

/// A create given an issue sends the line in its one `POST /tasks`; the task reads with
/// the issue as partner and its notes without the line.
#[tokio::test]
async fn the_create_names_the_issue_and_reads_it_back_as_partner() {
    let w = World::new();
    let connector = w.connector();
    w.sim.clear_requests();
    let created = connector
        .create(&fields("A **bold** start"), Some("acme/app#12"))
        .await
        .expect("create");
    let sent = w.writes();
    assert_eq!(sent.len(), 1, "one request: {sent:#?}");
    let body = sent[0].body.as_ref().expect("a body");
    assert_eq!(
        body["data"]["html_notes"],
        format!("<body>A <strong>bold</strong> start\n{LINE}</body>")
    );
    assert_eq!(created.fields.notes, "A **bold** start");
    assert_eq!(created.partner.as_deref(), Some("acme/app#12"));

    let again = read(&w.connector(), &created.id).await;
    assert_eq!(again.fields.notes, "A **bold** start");
    assert_eq!(again.partner.as_deref(), Some("acme/app#12"));
}

/// A notes update keeps the line at the end, from this process's read or, for a task
/// not read yet, from the check of its description before the write.
#[tokio::test]
async fn a_notes_update_keeps_the_line() {
    let w = World::new();
    let connector = w.connector();
    let created = connector
        .create(&fields(""), Some("acme/app#12"))
        .await
        .expect("create");
    assert_eq!(w.html(&created.id), format!("<body>{LINE}</body>"));
    assert_eq!(created.fields.notes, "");

    connector
        .update(&created, &notes("Edited on GitHub."))
        .await
        .expect("update");
    assert_eq!(
        w.html(&created.id),
        format!("<body>Edited on GitHub.\n{LINE}</body>")
    );

    let fresh = w.connector();
    w.sim.clear_requests();
    let updated = fresh
        .update(&created, &notes("Again."))
        .await
        .expect("update");
    assert_eq!(w.html(&created.id), format!("<body>Again.\n{LINE}</body>"));
    assert_eq!(updated.fields.notes, "Again.");
    let methods: Vec<String> = w.sim.requests().iter().map(|r| r.method.clone()).collect();
    assert_eq!(methods, ["GET", "PUT"]);
}

/// Only an issue (`owner/name#number`) is named: no partner, or a file's name, writes
/// nothing; a line a person deleted stays deleted.
#[tokio::test]
async fn nothing_else_is_written_and_a_deleted_line_stays_gone() {
    let w = World::new();
    let connector = w.connector();
    for partner in [None, Some("roadmap/fix-login.md")] {
        let created = connector
            .create(&fields("Plain."), partner)
            .await
            .expect("create");
        assert_eq!(w.html(&created.id), "<body>Plain.</body>");
        assert_eq!(created.partner, None);
    }

    let created = connector
        .create(&fields("Mine."), Some("acme/app#12"))
        .await
        .expect("create");
    w.sim.edit_task(
        &created.id,
        TaskEdit {
            html_notes: Some("<body>Mine, edited.</body>".to_owned()),
            ..TaskEdit::default()
        },
    );
    let item = read(&connector, &created.id).await;
    assert_eq!(item.partner, None);
    connector
        .update(&item, &notes("From GitHub."))
        .await
        .expect("update");
    assert_eq!(w.html(&created.id), "<body>From GitHub.</body>");
}

/// A person's text that only looks like the line (not last, or with a link that does not
/// match) is notes like any other.
#[tokio::test]
async fn lookalikes_are_notes() {
    let w = World::new();
    let gid = w.sim.add_task(
        &w.project,
        TaskSeed {
            html_notes: Some(format!("<body>{LINE}\nmore</body>")),
            ..TaskSeed::named("Lookalike")
        },
    );
    let item = read(&w.connector(), &gid).await;
    assert_eq!(item.partner, None);
    assert!(
        item.fields.notes.contains("acme/app#12"),
        "{}",
        item.fields.notes
    );
}
