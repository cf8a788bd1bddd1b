//! Subfolders: every `*.md` under the folder is a task, its id its relative path with `/`
//! separators; dot-folders are skipped, symlinked folders never followed; every operation
//! takes nested ids and refuses ids that would leave the folder. Also the bare-file rule
//! and a task saved to the trash coming back as a new task.

use std::fs;

use asana_bridge_connector::{Connector, ErrorKind, Item, Page, PageToken, TaskFields, TaskPatch};
use asana_bridge_markdown::{MarkdownConnector, TRASH_DIR, save_to_trash};

fn folder() -> (tempfile::TempDir, MarkdownConnector) {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("roadmap");
    fs::create_dir(&dir).expect("mkdir");
    (root, MarkdownConnector::new(dir))
}

fn write(c: &MarkdownConnector, id: &str, content: impl AsRef<[u8]>) {
    let path = c.dir().join(id);
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, content).expect("write");
}

fn read(c: &MarkdownConnector, id: &str) -> String {
    fs::read_to_string(c.dir().join(id)).expect("read")
}

async fn list_all(c: &MarkdownConnector) -> Page {
    let mut all = Page::default();
    let mut token: Option<PageToken> = None;
    loop {
        let page = c.list_page(token).await.expect("list");
        all.items.extend(page.items);
        all.errors.extend(page.errors);
        match page.next {
            Some(t) => token = Some(t),
            None => return all,
        }
    }
}

fn ids(page: &Page) -> Vec<&str> {
    page.items.iter().map(|i| i.id.as_str()).collect()
}

async fn item(c: &MarkdownConnector, id: &str) -> Item {
    list_all(c)
        .await
        .items
        .into_iter()
        .find(|i| i.id == id)
        .unwrap_or_else(|| panic!("{id} is listed"))
}

/// Nested files are listed by relative path, sorted, across pages cut from one snapshot;
/// dot-folders at any depth are skipped; `describe` names the nested file.
#[tokio::test]
async fn nested_files_are_tasks() {
    let (_root, c) = folder();
    write(&c, "a.md", "---\ntitle: A\n---\n");
    write(
        &c,
        "archive/fix-login.md",
        "---\nasana_gid: \"12\"\ntitle: Fix\n---\nbody\n",
    );
    write(&c, "archive/2025/old.md", "---\ntitle: Old\n---\n");
    write(&c, "archive-b.md", "---\ntitle: B\n---\n");
    write(
        &c,
        "z.md/inner.md",
        "---\ntitle: In a folder named like a file\n---\n",
    );
    write(&c, "archive/notes.txt", "not a task");
    for hidden in [
        ".git/x.md",
        ".obsidian/workspace.md",
        ".asana-bridge-trash/t.md",
        "archive/.drafts/d.md",
        "archive/.hidden.md",
    ] {
        write(&c, hidden, "---\ntitle: H\n---\n");
    }
    let all = list_all(&c).await;
    assert!(all.errors.is_empty(), "{:?}", all.errors);
    let want = vec![
        "a.md",
        "archive-b.md",
        "archive/2025/old.md",
        "archive/fix-login.md",
        "z.md/inner.md",
    ];
    assert_eq!(ids(&all), want);
    let nested = item(&c, "archive/fix-login.md").await;
    assert_eq!(nested.partner.as_deref(), Some("12"));
    assert_eq!(nested.fields.notes, "body");
    assert_eq!(
        c.describe("archive/fix-login.md"),
        "roadmap/archive/fix-login.md"
    );

    // Pages of one, cut from the snapshot of the first page.
    let paged = c.clone().with_page_size(1);
    let first = paged.list_page(None).await.expect("list");
    write(&c, "archive/2025/new.md", "---\ntitle: N\n---\n");
    let mut got = vec![first.items[0].id.clone()];
    let mut token = first.next;
    while let Some(t) = token {
        let page = paged.list_page(Some(t)).await.expect("list");
        got.extend(page.items.into_iter().map(|i| i.id));
        token = page.next;
    }
    assert_eq!(got, want);
}

/// A symlinked folder is skipped (never followed), and no operation goes through one.
#[cfg(unix)]
#[tokio::test]
async fn symlinked_folders_are_not_followed() {
    let (root, c) = folder();
    let outside = root.path().join("elsewhere");
    fs::create_dir(&outside).expect("mkdir");
    let secret = "---\nasana_gid: \"999\"\ntitle: secret\n---\n";
    fs::write(outside.join("s.md"), secret).expect("write");
    std::os::unix::fs::symlink(&outside, c.dir().join("linked")).expect("symlink");
    // A loop is harmless too.
    std::os::unix::fs::symlink(c.dir(), c.dir().join("loop")).expect("symlink");
    write(&c, "a.md", "---\ntitle: A\n---\n");
    let all = list_all(&c).await;
    assert_eq!(ids(&all), vec!["a.md"]);
    assert!(all.errors.is_empty(), "{:?}", all.errors);

    let fake = Item {
        id: "linked/s.md".into(),
        fields: TaskFields {
            title: "secret".into(),
            ..TaskFields::default()
        },
        modified_at: None,
        partner: Some("999".into()),
        revision: None,
        bare: false,
    };
    let patch = TaskPatch {
        title: Some("pwned".into()),
        ..TaskPatch::default()
    };
    assert!(c.update(&fake, &patch).await.is_err());
    assert!(c.set_partner(&fake, "1").await.is_err());
    assert!(c.delete(&fake).await.is_err());
    assert!(c.get_many(&["linked/s.md".into()]).await.is_err());
    assert_eq!(
        fs::read_to_string(outside.join("s.md")).expect("read"),
        secret
    );
}

/// Update, set_partner, get_many and delete work on nested ids; a nested delete lands
/// flat in the trash; a new file always goes in the top folder.
#[tokio::test]
async fn operations_on_nested_files() {
    let (_root, c) = folder();
    write(&c, "archive/t.md", "---\ntitle: T\nkeep: me\n---\nbody\n");
    write(&c, "plain/p.md", "plain body\n");
    let t = item(&c, "archive/t.md").await;
    let patch = TaskPatch {
        completed: Some(true),
        ..TaskPatch::default()
    };
    let updated = c.update(&t, &patch).await.expect("update");
    assert_eq!(updated.id, "archive/t.md");
    assert_eq!(
        read(&c, "archive/t.md"),
        "---\ntitle: T\nkeep: me\ncompleted: true\n---\nbody\n"
    );
    // No temp file left in either folder.
    assert_eq!(
        fs::read_dir(c.dir().join("archive")).expect("ls").count(),
        1
    );
    let p = item(&c, "plain/p.md").await;
    assert!(p.bare);
    let p = c.set_partner(&p, "77").await.expect("set");
    assert_eq!(p.partner.as_deref(), Some("77"));
    assert_eq!(
        read(&c, "plain/p.md"),
        "---\nasana_gid: \"77\"\ntitle: p\ncompleted: false\n---\nplain body\n"
    );
    let got = c
        .get_many(&[
            "archive/t.md".into(),
            "gone/x.md".into(),
            "archive/none.md".into(),
        ])
        .await
        .expect("get");
    assert_eq!(got, vec![updated.clone()]);
    // A folder replaced by a file: the id reads as absent, not as an error.
    write(&c, "flat", "x");
    assert!(
        c.get_many(&["flat/x.md".into()])
            .await
            .expect("get")
            .is_empty()
    );

    // Delete: flat in the trash, collision suffix against a top-level `t.md` there.
    write(&c, "t.md", "---\ntitle: top\n---\n");
    let top = item(&c, "t.md").await;
    c.delete(&top).await.expect("delete top");
    c.delete(&updated).await.expect("delete nested");
    assert!(!c.dir().join("archive/t.md").exists());
    let trash = c.dir().join(TRASH_DIR);
    assert_eq!(
        fs::read_to_string(trash.join("t-2.md")).expect("read"),
        "---\ntitle: T\nkeep: me\ncompleted: true\n---\nbody\n"
    );
    // Deleting again, or inside a folder that is gone: done.
    c.delete(&updated).await.expect("again");
    fs::remove_dir(c.dir().join("archive")).expect("rmdir");
    c.delete(&updated).await.expect("folder gone");

    // Creates go in the top folder, named uniquely there (a nested `new.md` does not count).
    write(&c, "sub/new.md", "---\ntitle: New\n---\n");
    let created = c
        .create(
            &TaskFields {
                title: "New".into(),
                ..TaskFields::default()
            },
            None,
        )
        .await
        .expect("create");
    assert_eq!(created.id, "new.md");
    assert!(c.dir().join("new.md").is_file());
}

/// Ids that would leave the folder, or reach into a dot-folder, are refused by every
/// operation, before anything is read or written.
#[tokio::test]
async fn unsafe_ids_are_refused() {
    let (root, c) = folder();
    fs::write(root.path().join("outside.md"), "---\ntitle: O\n---\n").expect("write");
    write(&c, ".git/x.md", "---\ntitle: G\n---\n");
    write(&c, ".asana-bridge-trash/t.md", "---\ntitle: T\n---\n");
    for hostile in [
        "../outside.md",
        "archive/../../outside.md",
        "/etc/passwd.md",
        ".git/x.md",
        ".asana-bridge-trash/t.md",
        "a//b.md",
        "a\\b.md",
        "./a.md",
        "",
    ] {
        assert!(c.get_many(&[hostile.into()]).await.is_err(), "{hostile}");
        let fake = Item {
            id: hostile.into(),
            fields: TaskFields {
                title: "x".into(),
                ..TaskFields::default()
            },
            modified_at: None,
            partner: None,
            revision: None,
            bare: false,
        };
        let e = c
            .update(&fake, &TaskPatch::default())
            .await
            .expect_err(hostile);
        assert_eq!(e.kind(), ErrorKind::InvalidData, "{hostile}");
        assert!(c.set_partner(&fake, "1").await.is_err(), "{hostile}");
        assert!(c.delete(&fake).await.is_err(), "{hostile}");
    }
    assert!(root.path().join("outside.md").is_file());
    assert!(c.dir().join(".git/x.md").is_file());
    assert!(c.dir().join(".asana-bridge-trash/t.md").is_file());
}

/// A file without front matter (an empty file, a text, a removed block) is bare: no
/// error, titled by its stem. A file with front matter is not bare, gid or not.
#[tokio::test]
async fn bare_files() {
    let (_root, c) = folder();
    write(&c, "empty.md", "");
    write(&c, "blank.md", "\n\n");
    write(&c, "text.md", "was the body\n");
    write(&c, "bom.md", "\u{feff}");
    write(&c, "crlf.md", "\r\n");
    write(
        &c,
        "sub/lost.md",
        "# A heading\n\ntitle: not front matter\n",
    );
    write(&c, "new.md", "---\ntitle: New\n---\n");
    write(&c, "mapped.md", "---\nasana_gid: \"5\"\ntitle: M\n---\n");
    let all = list_all(&c).await;
    assert!(all.errors.is_empty(), "{:?}", all.errors);
    for i in &all.items {
        let want_bare = !matches!(i.id.as_str(), "new.md" | "mapped.md");
        assert_eq!(i.bare, want_bare, "{}", i.id);
        if want_bare {
            assert_eq!(i.partner, None, "{}", i.id);
        }
    }
    let empty = item(&c, "empty.md").await;
    assert_eq!(empty.fields.title, "empty");
    assert_eq!(empty.fields.notes, "");
    assert_eq!(item(&c, "sub/lost.md").await.fields.title, "lost");
    assert!(
        !c.get_many(&["empty.md".into()]).await.expect("get")[0]
            .fields
            .completed
    );
}

/// A task saved to the trash comes back as a new task: moved into the folder (here into
/// a subfolder), it lists with the same fields and no partner.
#[tokio::test]
async fn saved_task_comes_back_as_a_new_task() {
    let (_root, c) = folder();
    let fields = TaskFields {
        title: "Fix the login page".into(),
        notes: "Steps:\n\n1. open\n2. log in\n".into(),
        completed: false,
        due: Some("2026-12-01".into()),
        assignee: Some("Alice@Example.com".into()),
        tags: vec!["p1".into(), "bug".into()],
        section: Some("In progress".into()),
        start_on: None,
        ..TaskFields::default()
    };
    let saved = save_to_trash(
        &c.trash_dir(),
        &fields,
        "deleted in Asana by asana-bridge on 2026-12-02T10:00:00Z because its file was removed",
    )
    .expect("save");
    assert_eq!(saved, c.dir().join(TRASH_DIR).join("fix-the-login-page.md"));
    // In the trash it is not listed.
    assert!(list_all(&c).await.items.is_empty());
    fs::create_dir(c.dir().join("back")).expect("mkdir");
    fs::rename(&saved, c.dir().join("back/fix-the-login-page.md")).expect("move back");
    let all = list_all(&c).await;
    assert!(all.errors.is_empty(), "{:?}", all.errors);
    assert_eq!(all.items.len(), 1);
    let back = &all.items[0];
    assert_eq!(back.id, "back/fix-the-login-page.md");
    assert_eq!(back.fields, fields.clone().canonical());
    assert_eq!(back.partner, None);
    assert!(!back.bare);
    // Once the engine has created its task again, the gid goes in; the note stays a
    // harmless comment.
    let linked = c.set_partner(back, "1200000000000999").await.expect("set");
    assert_eq!(linked.fields, fields.canonical());
    let text = read(&c, "back/fix-the-login-page.md");
    assert!(text.contains("asana_gid: \"1200000000000999\""), "{text}");
    assert!(
        text.contains("# deleted in Asana by asana-bridge on "),
        "{text}"
    );
}
