//! The bridge's `## Subtasks` and `## Comments` sections in task files, through the
//! `Connector` trait on real temp folders: notes exclude them, every other write keeps them
//! byte for byte, `read_thread`/`write_thread` read and rewrite them alone, a file changed
//! since it was read is refused, and hostile names and CRLF files read back.

use std::fs;

use asana_bridge_connector::{
    CommentBlock, Connector, ConnectorError, ErrorKind, Item, SubtaskLine, TargetThread,
    TaskFields, TaskPatch,
};
use asana_bridge_markdown::{MarkdownConnector, TRASH_DIR};

fn folder() -> (tempfile::TempDir, MarkdownConnector) {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("roadmap");
    fs::create_dir(&dir).expect("mkdir");
    (root, MarkdownConnector::new(dir))
}

fn write(c: &MarkdownConnector, name: &str, content: &str) {
    fs::write(c.dir().join(name), content).expect("write");
}

fn read(c: &MarkdownConnector, name: &str) -> String {
    fs::read_to_string(c.dir().join(name)).expect("read")
}

async fn item(c: &MarkdownConnector, name: &str) -> Item {
    let mut items = c.get_many(&[name.to_owned()]).await.expect("get");
    assert_eq!(items.len(), 1, "{name} is read");
    items.remove(0)
}

fn subtask(gid: Option<&str>, name: &str, completed: bool) -> SubtaskLine {
    SubtaskLine {
        asana_gid: gid.map(str::to_owned),
        name: name.to_owned(),
        completed,
    }
}

fn comment(gid: Option<&str>, heading: &str, body: &str) -> CommentBlock {
    CommentBlock {
        asana_gid: gid.map(str::to_owned),
        id: None,
        heading: heading.to_owned(),
        body: body.to_owned(),
    }
}

const FRONT: &str = "---\nasana_gid: \"1200000000000123\"\ntitle: Fix the login page\n# a comment the bridge keeps\ncompleted: false\nunknown_key: kept\n---\n";
const DESCRIPTION: &str = "The description, **bold**.\n\n## A heading of the description\n\n- [ ] a checklist of the description\n  - [ ] nested\n";
const SECTIONS: &str = "## Subtasks\n- [ ] Reproduce on Safari 17 <!-- asana:1200000000000456 -->\n* [X]   Check the CSP headers <!-- asana:1200000000000457 -->\n- [ ] Typed without a marker\n\n## Comments\n### Alice Example · 2026-11-30 14:02 <!-- asana:1200000000000789 -->\nSeen on Safari 16 too.\n\n```\n### in code: not a block\n```\n\n### Reply\nA new comment.\n";

fn file() -> String {
    format!("{FRONT}{DESCRIPTION}\n{SECTIONS}")
}

fn contract_thread() -> TargetThread {
    TargetThread {
        subtasks: vec![
            subtask(Some("1200000000000456"), "Reproduce on Safari 17", false),
            subtask(Some("1200000000000457"), "Check the CSP headers", true),
            subtask(None, "Typed without a marker", false),
        ],
        comments: vec![
            comment(
                Some("1200000000000789"),
                "Alice Example · 2026-11-30 14:02",
                "Seen on Safari 16 too.\n\n```\n### in code: not a block\n```",
            ),
            comment(None, "Reply", "A new comment."),
        ],
    }
}

/// The notes are the description only, in a listing and a `get_many`; `read_thread`
/// returns the sections; a file without them reads as empty lists.
#[tokio::test]
async fn notes_exclude_the_sections() {
    let (_root, c) = folder();
    write(&c, "a.md", &file());
    write(&c, "plain.md", &format!("{FRONT}{DESCRIPTION}"));
    let a = item(&c, "a.md").await;
    assert_eq!(a.fields.notes, DESCRIPTION.trim_end_matches('\n'));
    let page = c.list_page(None).await.expect("list");
    assert_eq!(page.items.iter().find(|i| i.id == "a.md"), Some(&a));
    assert_eq!(
        c.read_thread(&a.id).await.expect("read"),
        Some(contract_thread())
    );
    let plain = item(&c, "plain.md").await;
    assert_eq!(plain.fields.notes, a.fields.notes);
    assert_ne!(
        plain.revision, a.revision,
        "the revision hashes the whole file"
    );
    assert_eq!(
        c.read_thread(&plain.id).await.expect("read"),
        Some(TargetThread::default())
    );
}

/// Field edits, a description edit and recording a gid keep the sections byte for byte.
#[tokio::test]
async fn writes_of_fields_keep_the_sections() {
    let (_root, c) = folder();
    write(&c, "a.md", &file());
    let a = item(&c, "a.md").await;
    let patch = TaskPatch {
        title: Some("Renamed".into()),
        completed: Some(true),
        ..TaskPatch::default()
    };
    let a = c.update(&a, &patch).await.expect("update");
    let text = read(&c, "a.md");
    assert!(
        text.ends_with(&format!("---\n{DESCRIPTION}\n{SECTIONS}")),
        "{text}"
    );
    assert!(text.contains("title: Renamed\n"), "{text}");

    let notes = TaskPatch {
        notes: Some("A new description\n\nin two paragraphs".into()),
        ..TaskPatch::default()
    };
    let a = c.update(&a, &notes).await.expect("notes");
    let text = read(&c, "a.md");
    assert!(
        text.ends_with(&format!(
            "---\nA new description\n\nin two paragraphs\n\n{SECTIONS}"
        )),
        "{text}"
    );
    assert_eq!(a.fields.notes, "A new description\n\nin two paragraphs");
    let cleared = TaskPatch {
        notes: Some(String::new()),
        ..TaskPatch::default()
    };
    let a = c.update(&a, &cleared).await.expect("cleared");
    assert!(read(&c, "a.md").ends_with(&format!("---\n{SECTIONS}")));
    assert_eq!(a.fields.notes, "");
    assert_eq!(
        c.read_thread(&a.id).await.expect("read"),
        Some(contract_thread())
    );

    // A bare file with sections gets front matter and a gid; the sections stay.
    write(&c, "bare.md", &format!("Notes\n\n{SECTIONS}"));
    let bare = item(&c, "bare.md").await;
    assert_eq!(bare.fields.notes, "Notes");
    c.set_partner(&bare, "1200000000000999").await.expect("gid");
    let text = read(&c, "bare.md");
    assert!(
        text.ends_with(&format!("---\nNotes\n\n{SECTIONS}")),
        "{text}"
    );
}

/// `write_thread` rewrites the sections only: the front matter and the description stay
/// byte for byte, and the returned item is the file as it is now.
#[tokio::test]
async fn write_thread_keeps_front_matter_and_description() {
    let (_root, c) = folder();
    write(&c, "a.md", &file());
    let a = item(&c, "a.md").await;
    let thread = TargetThread {
        subtasks: vec![
            subtask(Some("1200000000000457"), "Check the CSP headers", false),
            subtask(Some("1200000000000458"), "Typed without a marker", false),
        ],
        comments: vec![
            comment(
                Some("1200000000000789"),
                "Alice Example · 2026-11-30 14:02",
                "Seen on Safari 16 too.",
            ),
            comment(
                Some("1200000000000790"),
                "Bridge Bot · 2026-12-01 09:00",
                "A new comment.",
            ),
        ],
    };
    let after = c.write_thread(&a, &thread).await.expect("write");
    let text = read(&c, "a.md");
    assert_eq!(
        text,
        format!(
            "{FRONT}{DESCRIPTION}\n## Subtasks\n\
             - [ ] Check the CSP headers <!-- asana:1200000000000457 -->\n\
             - [ ] Typed without a marker <!-- asana:1200000000000458 -->\n\n\
             ## Comments\n\
             ### Alice Example · 2026-11-30 14:02 <!-- asana:1200000000000789 -->\n\
             Seen on Safari 16 too.\n\n\
             ### Bridge Bot · 2026-12-01 09:00 <!-- asana:1200000000000790 -->\n\
             A new comment.\n"
        )
    );
    assert_eq!(after, item(&c, "a.md").await);
    assert_eq!(after.fields, a.fields);
    assert_eq!(
        c.read_thread(&after.id).await.expect("read"),
        Some(thread.clone())
    );

    // The same thread again writes nothing.
    let again = c.write_thread(&after, &thread).await.expect("again");
    assert_eq!(again.revision, after.revision);
    assert_eq!(read(&c, "a.md"), text);

    // An empty thread keeps the bare headings the file had.
    c.write_thread(&again, &TargetThread::default())
        .await
        .expect("emptied");
    assert_eq!(
        read(&c, "a.md"),
        format!("{FRONT}{DESCRIPTION}\n## Subtasks\n\n## Comments\n")
    );
}

/// A file without sections gets only the sections the thread has, after its description;
/// a created file has none.
#[tokio::test]
async fn sections_are_added_where_there_were_none() {
    let (_root, c) = folder();
    let created = c
        .create(
            &TaskFields {
                title: "New".into(),
                notes: "Its notes".into(),
                ..TaskFields::default()
            },
            Some("1200000000000123"),
        )
        .await
        .expect("create");
    let text = read(&c, &created.id);
    assert!(text.ends_with("---\nIts notes\n"), "{text}");
    let thread = TargetThread {
        subtasks: Vec::new(),
        comments: vec![comment(Some("5"), "Bob · 2026-12-01 10:00", "Hi")],
    };
    let after = c.write_thread(&created, &thread).await.expect("write");
    assert_eq!(
        read(&c, &created.id),
        format!("{text}\n## Comments\n### Bob · 2026-12-01 10:00 <!-- asana:5 -->\nHi\n")
    );
    assert_eq!(after.fields, created.fields);

    // A front matter closing the file without a line break.
    write(&c, "short.md", "---\ntitle: Short\n---");
    let short = item(&c, "short.md").await;
    let thread = TargetThread {
        subtasks: vec![subtask(None, "one", true)],
        comments: Vec::new(),
    };
    c.write_thread(&short, &thread).await.expect("write");
    assert_eq!(
        read(&c, "short.md"),
        "---\ntitle: Short\n---\n## Subtasks\n- [x] one\n"
    );
    assert_eq!(item(&c, "short.md").await.fields.notes, "");
}

/// A file edited since it was read is not written; neither is a description that would
/// swallow the sections (a code block left open).
#[tokio::test]
async fn a_changed_file_is_refused() {
    let (_root, c) = folder();
    write(&c, "a.md", &file());
    let a = item(&c, "a.md").await;
    let edited = file().replace("Seen on Safari 16", "Seen on Safari 15");
    write(&c, "a.md", &edited);
    let e = c
        .write_thread(&a, &TargetThread::default())
        .await
        .expect_err("refused");
    assert!(matches!(e, ConnectorError::ChangedMeanwhile(_)), "{e}");
    assert_eq!(read(&c, "a.md"), edited);

    write(&c, "open.md", "---\ntitle: Open\n---\n```\nno end\n");
    let open = item(&c, "open.md").await;
    let e = c
        .write_thread(&open, &contract_thread())
        .await
        .expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::InvalidData, "{e}");
    assert!(e.to_string().contains("code block open"), "{e}");
    assert_eq!(read(&c, "open.md"), "---\ntitle: Open\n---\n```\nno end\n");
}

/// Names and comments that look like the format's own syntax read back as the writer
/// documents (one line, an escaped trailing marker, indented heading-like lines), and the
/// description stays the notes.
#[tokio::test]
async fn hostile_names_and_bodies() {
    let (_root, c) = folder();
    write(&c, "a.md", "---\ntitle: T\n---\nNotes\n");
    let a = item(&c, "a.md").await;
    let thread = TargetThread {
        subtasks: vec![
            subtask(Some("1"), "two\nlines", false),
            subtask(None, "ends like a marker <!-- asana:9 -->", false),
            subtask(Some("2"), "- [ ] ### <!-- --> ## Comments", true),
        ],
        comments: vec![
            comment(Some("3"), "A <!--", "### not a block\n## Comments"),
            comment(None, "", "```\nleft open"),
        ],
    };
    let after = c.write_thread(&a, &thread).await.expect("write");
    assert_eq!(after.fields.notes, "Notes");
    let back = c
        .read_thread(&after.id)
        .await
        .expect("read")
        .expect("thread");
    assert_eq!(
        back.subtasks,
        vec![
            subtask(Some("1"), "two lines", false),
            subtask(None, "ends like a marker \\<!-- asana:9 -->", false),
            subtask(Some("2"), "- [ ] ### <!-- --> ## Comments", true),
        ]
    );
    assert_eq!(
        back.comments,
        vec![
            comment(Some("3"), "A <!--", " ### not a block\n ## Comments"),
            comment(None, "", "```\nleft open\n```"),
        ]
    );
    // What was read back writes as it is: nothing changes.
    let again = c.write_thread(&after, &back).await.expect("again");
    assert_eq!(again.revision, after.revision);

    // Invalid markers are read raw, for the engine to report.
    write(
        &c,
        "bad.md",
        "---\ntitle: T\n---\n## Subtasks\n- [ ] x <!-- asana:abc -->\n",
    );
    let bad = item(&c, "bad.md").await;
    let thread = c.read_thread(&bad.id).await.expect("read").expect("thread");
    assert_eq!(thread.subtasks, vec![subtask(Some("abc"), "x", false)]);
}

/// A CRLF file: the notes use `\n`, the sections read the same, and every line the bridge
/// writes ends with CRLF.
#[tokio::test]
async fn crlf_files() {
    let (_root, c) = folder();
    write(&c, "a.md", &file().replace('\n', "\r\n"));
    let a = item(&c, "a.md").await;
    assert_eq!(a.fields.notes, DESCRIPTION.trim_end_matches('\n'));
    assert_eq!(
        c.read_thread(&a.id).await.expect("read"),
        Some(contract_thread())
    );
    let mut thread = contract_thread();
    thread.subtasks[2].asana_gid = Some("1200000000000458".into());
    thread
        .comments
        .push(comment(None, "More", "line one\nline two"));
    let after = c.write_thread(&a, &thread).await.expect("write");
    let text = read(&c, "a.md");
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "a bare LF in {text:?}"
    );
    assert!(text.starts_with(&format!("{FRONT}{DESCRIPTION}").replace('\n', "\r\n")));
    assert_eq!(after.fields.notes, a.fields.notes);
    assert_eq!(c.read_thread(&after.id).await.expect("read"), Some(thread));
    let renamed = c
        .update(
            &after,
            &TaskPatch {
                notes: Some("New".into()),
                ..TaskPatch::default()
            },
        )
        .await
        .expect("notes");
    let new_text = read(&c, "a.md");
    let sections_at = text.find("## Subtasks").expect("sections");
    assert!(new_text.ends_with(&format!("---\r\nNew\r\n\r\n{}", &text[sections_at..])));
    assert_eq!(renamed.fields.notes, "New");
}

/// The trash keeps a deleted task's file whole, sections included.
#[tokio::test]
async fn the_trash_keeps_the_sections() {
    let (_root, c) = folder();
    write(&c, "a.md", &file());
    let a = item(&c, "a.md").await;
    c.delete(&a).await.expect("delete");
    assert_eq!(
        fs::read_to_string(c.dir().join(TRASH_DIR).join("a.md")).expect("trash"),
        file()
    );
}
