//! The Markdown connector through the `Connector` trait, on real temp folders: naming,
//! listing, byte-preserving updates, the trash, and hostile content.

use std::fs;
use std::path::Path;

use asana_bridge_connector::{Connector, ErrorKind, Item, Page, PageToken, TaskFields, TaskPatch};
use asana_bridge_markdown::{MarkdownConnector, TRASH_DIR};

fn folder() -> (tempfile::TempDir, MarkdownConnector) {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("roadmap");
    fs::create_dir(&dir).expect("mkdir");
    (root, MarkdownConnector::new(dir))
}

fn task(title: &str) -> TaskFields {
    TaskFields {
        title: title.into(),
        ..TaskFields::default()
    }
}

fn write(c: &MarkdownConnector, name: &str, content: impl AsRef<[u8]>) {
    fs::write(c.dir().join(name), content).expect("write");
}

fn read(c: &MarkdownConnector, name: &str) -> String {
    fs::read_to_string(c.dir().join(name)).expect("read")
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

async fn item(c: &MarkdownConnector, name: &str) -> Item {
    list_all(c)
        .await
        .items
        .into_iter()
        .find(|i| i.id == name)
        .unwrap_or_else(|| panic!("{name} is listed"))
}

/// Names of the entries of a folder, sorted.
fn ls(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `kind` and `describe` name the system and the file as messages expect.
#[test]
fn kind_and_describe() {
    let c = MarkdownConnector::new("/x/roadmap");
    assert_eq!(c.kind(), "markdown");
    assert_eq!(c.describe("fix-login.md"), "roadmap/fix-login.md");
}

/// A created file is named from its title, holds the contract's layout, and its item
/// matches what a listing reads back.
#[tokio::test]
async fn create_names_and_lists() {
    let (_root, c) = folder();
    let fields = TaskFields {
        title: "Fix the login page".into(),
        notes: "Some notes".into(),
        completed: true,
        due: Some("2026-12-01".into()),
        assignee: Some("alice@example.com".into()),
        tags: vec!["p1".into(), "bug".into()],
        section: Some("In progress".into()),
        start_on: None,
        ..TaskFields::default()
    };
    let created = c
        .create(&fields, Some("1200000000000123"))
        .await
        .expect("create");
    assert_eq!(created.id, "fix-the-login-page.md");
    assert_eq!(created.partner.as_deref(), Some("1200000000000123"));
    assert_eq!(
        read(&c, "fix-the-login-page.md"),
        "---\nasana_gid: \"1200000000000123\"\ntitle: Fix the login page\ncompleted: true\ndue_on: 2026-12-01\nassignee: alice@example.com\ntags: [bug, p1]\nsection: In progress\n---\nSome notes\n"
    );
    let listed = item(&c, "fix-the-login-page.md").await;
    assert_eq!(listed.fields, fields.canonical());
    assert_eq!(listed.revision, created.revision);
    assert_eq!(listed.partner, created.partner);
    assert!(listed.modified_at.is_some());
    let rev = listed.revision.expect("revision");
    assert_eq!(rev.len(), 64);
    assert!(rev.bytes().all(|b| b.is_ascii_hexdigit()));
}

/// Same titles get `-2`, `-3`; existing names block case-insensitively.
#[tokio::test]
async fn create_collisions() {
    let (_root, c) = folder();
    write(&c, "Fix.md", "---\ntitle: user file\n---\n");
    let a = c.create(&task("Fix"), None).await.expect("create");
    let b = c.create(&task("fix!"), None).await.expect("create");
    assert_eq!((a.id.as_str(), b.id.as_str()), ("fix-2.md", "fix-3.md"));
    assert_eq!(read(&c, "Fix.md"), "---\ntitle: user file\n---\n");
}

/// A batch of creates: one answer per entry, in order, each as its own create would be
/// (names kept apart within the batch, a refused entry failing alone), and every listed
/// item the same as its answer.
#[tokio::test]
async fn create_many_answers_each_entry() {
    let (_root, c) = folder();
    assert!(c.create_batch() > 1, "a folder asks for batches");
    let (fix, other) = (task("Fix"), task("Other"));
    let answers = c
        .create_many(&[
            (&fix, Some("1200000000000001")),
            (&fix, Some("not a gid")),
            (&fix, Some("1200000000000003")),
            (&other, None),
        ])
        .await;
    assert_eq!(answers.len(), 4);
    let ids: Vec<Option<&str>> = answers
        .iter()
        .map(|a| a.as_ref().ok().map(|i| i.id.as_str()))
        .collect();
    assert_eq!(
        ids,
        [Some("fix.md"), None, Some("fix-2.md"), Some("other.md")]
    );
    let refused = answers[1].as_ref().expect_err("a bad gid is refused");
    assert_eq!(refused.kind(), ErrorKind::InvalidData, "{refused}");
    assert_eq!(ls(c.dir()), ["fix-2.md", "fix.md", "other.md"]);
    for answer in answers.iter().flatten() {
        let listed = item(&c, &answer.id).await;
        assert_eq!(&listed, answer, "{} lists as created", answer.id);
    }
}

/// Hostile titles never leave the folder and give portable names.
#[tokio::test]
async fn hostile_titles_stay_inside() {
    let (root, c) = folder();
    for title in [
        "../../x",
        "/",
        "\\",
        ":",
        "CON",
        "nul",
        "🎉",
        "",
        &"long ".repeat(80),
    ] {
        let created = c.create(&task(title), None).await.expect("create");
        assert!(!created.id.contains(['/', '\\', ':']), "{}", created.id);
        assert!(created.id.len() <= 90, "{}", created.id);
        assert!(c.dir().join(&created.id).is_file());
        assert_eq!(created.fields.title, title);
    }
    // Nothing was written next to the folder.
    assert_eq!(ls(root.path()), vec!["roadmap"]);
    let names = ls(c.dir());
    assert!(names.contains(&"x.md".to_owned()), "{names:?}");
    assert!(names.contains(&"con-task.md".to_owned()), "{names:?}");
    assert!(names.contains(&"nul-task.md".to_owned()), "{names:?}");
    assert!(names.contains(&"task.md".to_owned()), "{names:?}");
    // All of them read back with their exact titles.
    let page = list_all(&c).await;
    assert!(page.errors.is_empty(), "{:?}", page.errors);
    assert_eq!(page.items.len(), 9);
}

/// Listing takes only `*.md` regular files, in the folder and its subfolders, skipping
/// dot-files and dot-folders.
#[tokio::test]
async fn listing_filters() {
    let (_root, c) = folder();
    write(&c, "a.md", "---\ntitle: A\n---\n");
    write(&c, "b.md", "no front matter\n");
    write(&c, "notes.txt", "x");
    write(&c, ".hidden.md", "---\ntitle: H\n---\n");
    write(&c, ".asana-bridge-tmp-123", "x");
    fs::create_dir(c.dir().join("sub")).expect("mkdir");
    fs::write(c.dir().join("sub/c.md"), "---\ntitle: C\n---\n").expect("write");
    fs::create_dir(c.dir().join(".git")).expect("mkdir");
    fs::create_dir(c.dir().join("dir.md")).expect("mkdir");
    fs::create_dir(c.dir().join(TRASH_DIR)).expect("mkdir");
    fs::write(
        c.dir().join(TRASH_DIR).join("old.md"),
        "---\ntitle: O\n---\n",
    )
    .expect("write");
    let page = list_all(&c).await;
    let ids: Vec<&str> = page.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, vec!["a.md", "b.md", "sub/c.md"]);
    assert!(page.errors.is_empty());
    // A file without front matter is a task named after its stem.
    assert_eq!(page.items[1].fields.title, "b");
    assert_eq!(page.items[1].fields.notes, "no front matter");
}

/// Pages cover every file exactly once.
#[tokio::test]
async fn paging() {
    let (_root, c) = folder();
    for i in 0..7 {
        write(&c, &format!("t{i}.md"), format!("---\ntitle: T{i}\n---\n"));
    }
    let c = c.with_page_size(3);
    let first = c.list_page(None).await.expect("list");
    assert_eq!(first.items.len(), 3);
    assert!(first.next.is_some());
    let page = list_all(&c).await;
    let ids: Vec<&str> = page.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            "t0.md", "t1.md", "t2.md", "t3.md", "t4.md", "t5.md", "t6.md"
        ]
    );
}

/// A listing reads the folder once, at its first page: later pages are cut from that
/// snapshot (a file created meanwhile waits for the next listing; one deleted meanwhile
/// is simply absent), and the next listing reads the folder afresh.
#[tokio::test]
async fn a_listing_reads_the_folder_once() {
    let (_root, c) = folder();
    for name in ["a.md", "c.md", "e.md"] {
        write(&c, name, "---\ntitle: T\n---\n");
    }
    let c = c.with_page_size(1);
    let first = c.list_page(None).await.expect("list");
    assert_eq!(first.items[0].id, "a.md");
    write(&c, "b.md", "---\ntitle: New\n---\n");
    fs::remove_file(c.dir().join("c.md")).expect("rm");
    let mut ids = vec![];
    let mut token = first.next;
    while let Some(t) = token {
        let page = c.list_page(Some(t)).await.expect("list");
        ids.extend(page.items.into_iter().map(|i| i.id));
        token = page.next;
    }
    assert_eq!(
        ids,
        vec!["e.md"],
        "the rest of the first listing's snapshot"
    );
    let again: Vec<String> = list_all(&c).await.items.into_iter().map(|i| i.id).collect();
    assert_eq!(again, vec!["a.md", "b.md", "e.md"]);
}

/// A missing folder fails the listing unless created first (or explicitly read as empty).
#[tokio::test]
async fn missing_folder() {
    let root = tempfile::tempdir().expect("temp dir");
    let c = MarkdownConnector::new(root.path().join("nope"));
    let e = c.list_page(None).await.expect_err("missing folder");
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(e.to_string().contains("does not exist"), "{e}");
    let empty = c.clone().with_missing_dir_as_empty(true);
    assert!(empty.list_page(None).await.expect("empty").items.is_empty());
    assert!(c.ensure_dir().expect("create"));
    assert!(!c.ensure_dir().expect("exists"));
    assert!(c.list_page(None).await.expect("list").items.is_empty());
}

/// Broken files are reported with their name and gid, and left byte for byte untouched.
#[tokio::test]
async fn broken_files_are_reported_and_untouched() {
    let (_root, c) = folder();
    let cases: Vec<(&str, Vec<u8>, Option<&str>, &str)> = vec![
        (
            "yaml.md",
            b"---\nasana_gid: \"111\"\ntitle: [oops\n---\nbody\n".to_vec(),
            Some("111"),
            "front matter is not valid YAML (line ",
        ),
        (
            "utf8.md",
            b"---\nasana_gid: 222\ntitle: t\n---\nbad \xff byte\n".to_vec(),
            Some("222"),
            "not valid UTF-8 (line 5)",
        ),
        (
            "binary.md",
            b"\x89PNG\r\n\x1a\n\0\0\0".to_vec(),
            None,
            "contains NUL bytes",
        ),
        (
            "type.md",
            b"---\nasana_gid: 333\ntitle: t\ncompleted: \"maybe\"\n---\n".to_vec(),
            Some("333"),
            "`completed` (line 4): expected true or false",
        ),
        (
            "date.md",
            b"---\ntitle: t\ndue_on: 31/02/2026\n---\n".to_vec(),
            None,
            "`due_on` (line 3): `31/02/2026` is not a date",
        ),
        (
            "notitle.md",
            b"---\nasana_gid: 444\n---\n".to_vec(),
            Some("444"),
            "front matter has no `title`",
        ),
    ];
    for (name, bytes, _, _) in &cases {
        write(&c, name, bytes);
    }
    write(&c, "good.md", "---\ntitle: fine\n---\n");
    let page = list_all(&c).await;
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.errors.len(), cases.len());
    for (name, bytes, partner, message) in &cases {
        let err = page
            .errors
            .iter()
            .find(|e| e.id.as_deref() == Some(*name))
            .unwrap_or_else(|| panic!("{name} reported"));
        assert_eq!(err.partner.as_deref(), *partner, "{name}");
        assert_eq!(err.error.kind(), ErrorKind::InvalidData, "{name}");
        assert!(
            err.error.to_string().starts_with(message),
            "{name}: {}",
            err.error
        );
        assert_eq!(
            &fs::read(c.dir().join(name)).expect("read"),
            bytes,
            "{name}"
        );
    }
}

/// A file over the size limit is refused, its gid still found in its head.
#[tokio::test]
async fn oversized_file() {
    let (_root, c) = folder();
    let mut content = b"---\nasana_gid: \"555\"\ntitle: big\n---\n".to_vec();
    content.resize(11 * 1024 * 1024, b'x');
    write(&c, "big.md", &content);
    let page = list_all(&c).await;
    assert_eq!(page.errors.len(), 1);
    assert_eq!(page.errors[0].partner.as_deref(), Some("555"));
    assert!(
        page.errors[0].error.to_string().contains("larger than"),
        "{}",
        page.errors[0].error
    );
}

/// A symlink (here to a file outside the folder) is reported, never read nor written.
#[cfg(unix)]
#[tokio::test]
async fn symlinks_are_never_followed() {
    let (root, c) = folder();
    let outside = root.path().join("secret.md");
    fs::write(&outside, "---\nasana_gid: \"999\"\ntitle: secret\n---\n").expect("write");
    std::os::unix::fs::symlink(&outside, c.dir().join("link.md")).expect("symlink");
    let page = list_all(&c).await;
    assert!(page.items.is_empty());
    assert_eq!(page.errors.len(), 1);
    assert_eq!(page.errors[0].id.as_deref(), Some("link.md"));
    assert_eq!(page.errors[0].partner, None);
    assert_eq!(
        page.errors[0].error.to_string(),
        "is a symbolic link; not followed"
    );

    // Operations aimed at it by id refuse too.
    let fake = Item {
        id: "link.md".into(),
        fields: task("secret"),
        modified_at: None,
        partner: None,
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
    assert!(c.get_many(&["link.md".into()]).await.is_err());
    assert_eq!(
        fs::read_to_string(&outside).expect("read"),
        "---\nasana_gid: \"999\"\ntitle: secret\n---\n"
    );
    assert!(
        fs::symlink_metadata(c.dir().join("link.md"))
            .expect("meta")
            .file_type()
            .is_symlink()
    );
    // Creating a task whose name a dangling symlink holds never writes through it.
    std::os::unix::fs::symlink(root.path().join("dangling.md"), c.dir().join("ghost.md"))
        .expect("symlink");
    let created = c.create(&task("ghost"), None).await.expect("create");
    assert_eq!(created.id, "ghost-2.md");
    assert!(!root.path().join("dangling.md").exists());
}

/// Updating some fields keeps every other byte: unknown keys, comments, order, quoting,
/// body. The returned item is what a listing reads.
#[tokio::test]
async fn update_preserves_other_bytes() {
    let (_root, c) = folder();
    let original = "---\r\n# owner: me\r\nasana_gid: 1200000000000123 # unquoted\r\ntitle: 'Old title'\r\nextra:\r\n  nested: [1, 2]\r\ncompleted: no\r\ntags:\r\n  - b\r\n  - a\r\n---\r\nBody **stays**\r\n\r\n";
    write(&c, "t.md", original);
    let listed = item(&c, "t.md").await;
    assert_eq!(listed.partner.as_deref(), Some("1200000000000123"));
    let patch = TaskPatch {
        completed: Some(true),
        section: Some(Some("Done".into())),
        tags: Some(vec!["a".into(), "b".into()]), // same set: untouched
        ..TaskPatch::default()
    };
    let updated = c.update(&listed, &patch).await.expect("update");
    assert_eq!(
        read(&c, "t.md"),
        "---\r\n# owner: me\r\nasana_gid: 1200000000000123 # unquoted\r\ntitle: 'Old title'\r\nextra:\r\n  nested: [1, 2]\r\ncompleted: true\r\ntags:\r\n  - b\r\n  - a\r\nsection: Done\r\n---\r\nBody **stays**\r\n\r\n"
    );
    assert_eq!(updated, item(&c, "t.md").await);
    assert_eq!(ls(c.dir()), vec!["t.md"], "no temp file left");

    // Notes change: only the body is rewritten.
    let patch = TaskPatch {
        notes: Some("New\nbody".into()),
        ..TaskPatch::default()
    };
    let updated = c.update(&updated, &patch).await.expect("update");
    assert!(read(&c, "t.md").ends_with("section: Done\r\n---\r\nNew\r\nbody\r\n"));
    assert_eq!(updated.fields.notes, "New\nbody");
}

/// An update whose file changed since the listing fails and leaves the user's edit.
#[tokio::test]
async fn update_refuses_a_changed_file() {
    let (_root, c) = folder();
    write(&c, "t.md", "---\ntitle: A\n---\n");
    let listed = item(&c, "t.md").await;
    write(&c, "t.md", "---\ntitle: user edit\n---\n");
    let patch = TaskPatch {
        title: Some("bridge".into()),
        ..TaskPatch::default()
    };
    let e = c.update(&listed, &patch).await.expect_err("changed");
    assert!(e.to_string().contains("changed since it was listed"), "{e}");
    assert_eq!(read(&c, "t.md"), "---\ntitle: user edit\n---\n");
    // A file gone since the listing is NotFound.
    fs::remove_file(c.dir().join("t.md")).expect("rm");
    let e = c.update(&listed, &patch).await.expect_err("gone");
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

/// Updating a file without front matter gives it one, the text becoming the body.
#[tokio::test]
async fn update_file_without_front_matter() {
    let (_root, c) = folder();
    write(&c, "plain-note.md", "Just text\n");
    let listed = item(&c, "plain-note.md").await;
    let patch = TaskPatch {
        completed: Some(true),
        ..TaskPatch::default()
    };
    c.update(&listed, &patch).await.expect("update");
    assert_eq!(
        read(&c, "plain-note.md"),
        "---\ntitle: plain-note\ncompleted: true\n---\nJust text\n"
    );
}

/// `set_partner` writes the gid on the first front-matter line; a file without front
/// matter gets one; the gid it was listed with may be replaced, one written in since not.
#[tokio::test]
async fn set_partner() {
    let (_root, c) = folder();
    write(&c, "a.md", "---\ntitle: A\nx: 1\n---\nbody\n");
    write(&c, "b.md", "plain body\n");
    write(&c, "c.md", "---\nasana_gid: \"7\"\ntitle: C\n---\n");
    let a = item(&c, "a.md").await;
    let b = item(&c, "b.md").await;
    let c_item = item(&c, "c.md").await;
    // Edited since the listing: the gid is recorded anyway, the edit kept.
    write(&c, "a.md", "---\ntitle: A2\nx: 1\n---\nbody\n");
    let a2 = c.set_partner(&a, "123").await.expect("set");
    assert_eq!(
        read(&c, "a.md"),
        "---\nasana_gid: \"123\"\ntitle: A2\nx: 1\n---\nbody\n"
    );
    assert_eq!(a2.partner.as_deref(), Some("123"));
    assert_eq!(a2.fields.title, "A2");
    c.set_partner(&b, "456").await.expect("set");
    assert_eq!(
        read(&c, "b.md"),
        "---\nasana_gid: \"456\"\ntitle: b\ncompleted: false\n---\nplain body\n"
    );
    // Same gid: nothing written. An invalid gid: refused.
    let same = c.set_partner(&c_item, "7").await.expect("same");
    assert_eq!(same.revision, c_item.revision);
    assert!(c.set_partner(&c_item, "12a").await.is_err());
    assert_eq!(read(&c, "c.md"), "---\nasana_gid: \"7\"\ntitle: C\n---\n");
    // The gid it was listed with may be replaced (a task recreated after a deletion)...
    c.set_partner(&c_item, "8")
        .await
        .expect("replace the listed gid");
    assert_eq!(read(&c, "c.md"), "---\nasana_gid: \"8\"\ntitle: C\n---\n");
    // ...but not one a person wrote in since the listing.
    write(&c, "c.md", "---\nasana_gid: \"9\"\ntitle: C\n---\n");
    assert!(c.set_partner(&c_item, "10").await.is_err());
    assert_eq!(read(&c, "c.md"), "---\nasana_gid: \"9\"\ntitle: C\n---\n");
}

/// Deleting moves the file to the trash (`-2` on collision); a changed file is kept; a
/// file already gone is fine.
#[tokio::test]
async fn delete_moves_to_trash() {
    let (_root, c) = folder();
    let trash = c.dir().join(TRASH_DIR);
    for round in ["one", "two"] {
        write(&c, "t.md", format!("---\ntitle: {round}\n---\n"));
        let listed = item(&c, "t.md").await;
        c.delete(&listed).await.expect("delete");
        assert!(!c.dir().join("t.md").exists());
        // Deleting again is a no-op.
        c.delete(&listed).await.expect("again");
    }
    assert_eq!(ls(&trash), vec!["t-2.md", "t.md"]);
    assert_eq!(
        fs::read_to_string(trash.join("t.md")).expect("read"),
        "---\ntitle: one\n---\n"
    );
    assert!(list_all(&c).await.items.is_empty());

    write(&c, "u.md", "---\ntitle: u\n---\n");
    let listed = item(&c, "u.md").await;
    write(&c, "u.md", "---\ntitle: edited\n---\n");
    assert!(c.delete(&listed).await.is_err());
    assert_eq!(read(&c, "u.md"), "---\ntitle: edited\n---\n");
}

/// `get_many` reads the named files, skips missing ones, and refuses names that would
/// leave the folder or files it cannot read.
#[tokio::test]
async fn get_many() {
    let (root, c) = folder();
    write(&c, "a.md", "---\ntitle: A\n---\n");
    write(&c, "bad.md", "---\ntitle: [\n---\n");
    fs::write(root.path().join("outside.md"), "---\ntitle: O\n---\n").expect("write");
    let items = c
        .get_many(&["a.md".into(), "gone.md".into()])
        .await
        .expect("get");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0], item(&c, "a.md").await);
    let e = c.get_many(&["bad.md".into()]).await.expect_err("broken");
    assert!(
        e.to_string()
            .starts_with("roadmap/bad.md: front matter is not valid YAML"),
        "{e}"
    );
    for hostile in ["../outside.md", "/etc/passwd", ".hidden.md", "a.txt"] {
        assert!(c.get_many(&[hostile.into()]).await.is_err(), "{hostile}");
    }
}

/// Updates keep the file's permissions.
#[cfg(unix)]
#[tokio::test]
async fn update_keeps_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let (_root, c) = folder();
    write(&c, "t.md", "---\ntitle: A\n---\n");
    fs::set_permissions(c.dir().join("t.md"), fs::Permissions::from_mode(0o640)).expect("chmod");
    let listed = item(&c, "t.md").await;
    let patch = TaskPatch {
        title: Some("B".into()),
        ..TaskPatch::default()
    };
    c.update(&listed, &patch).await.expect("update");
    let mode = fs::metadata(c.dir().join("t.md"))
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
}
