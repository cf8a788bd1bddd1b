//! End to end: bad input in the Markdown folder. Broken YAML, invalid UTF-8, a 50 MB file,
//! a binary file named `.md`, a symlink pointing outside the folder, front matter with
//! wrong types, one `asana_gid` in two files, the `asana_gid` of a task in another project:
//! each gets exactly one clear error line naming the file, is left byte-for-byte untouched
//! (and unread by Asana), and does not stop the rest of the link. A mapped file that turns
//! bad keeps its task alive, and once fixed it syncs again without losing the Asana edit
//! made meanwhile.

#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod common;

use std::path::Path;

use common::{TaskEdit, World};

/// A file's bytes and modification time, for "left byte-for-byte untouched".
fn fingerprint(path: &Path) -> (Vec<u8>, std::time::SystemTime) {
    let meta = std::fs::symlink_metadata(path).expect("metadata");
    let bytes = if meta.file_type().is_symlink() {
        std::fs::read_link(path)
            .expect("link")
            .to_string_lossy()
            .into_owned()
            .into_bytes()
    } else {
        std::fs::read(path).expect("read")
    };
    (bytes, meta.modified().expect("mtime"))
}

/// The stderr lines that name `file` as the error's subject.
fn error_lines<'a>(stderr: &'a str, file: &str) -> Vec<&'a str> {
    stderr
        .lines()
        .filter(|l| {
            l.starts_with("error: link \"roadmap\": ") && l.contains(&format!("roadmap/{file}"))
        })
        .collect()
}

/// Every kind of bad new file at once, next to a good new file and an Asana edit: each
/// bad file gets exactly one error line naming it and stays untouched; the good work is
/// done; no task is made of a bad file; the other project's task is never touched.
#[test]
fn each_bad_file_gets_one_error_stays_untouched_and_does_not_stop_the_rest() {
    let w = World::new("newest");
    let mapped = w.add_task("Mapped", |t| t.notes = "mapped notes".into());
    let edited = w.add_task("Edited in Asana", |_| {});
    let other_project = w.sim.create_project("Somebody else's");
    let foreign = w
        .sim
        .add_task(&other_project, common::TaskSeed::named("Foreign task"));
    w.sync();
    let (mapped_file, mapped_text) = w.file_of(&mapped);

    let outside = w.dir.path().join("outside.md");
    std::fs::write(&outside, "---\ntitle: Outside the folder\n---\nsecret\n").expect("outside");
    let mut big = b"---\ntitle: Huge\n---\n".to_vec();
    big.resize(50 * 1024 * 1024, b'x');
    let bad: Vec<(&str, Vec<u8>)> = vec![
        (
            "broken-yaml.md",
            b"---\ntitle: [unclosed\n---\nbody\n".to_vec(),
        ),
        (
            "latin1.md",
            b"---\ntitle: caf\xe9\n---\nna\xefve\n".to_vec(),
        ),
        ("huge.md", big),
        (
            "binary.md",
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01".to_vec(),
        ),
        (
            "maybe.md",
            b"---\ntitle: Maybe\ncompleted: \"maybe\"\n---\n".to_vec(),
        ),
        (
            "bad-date.md",
            b"---\ntitle: Bad date\ndue_on: 31/02/2026\n---\n".to_vec(),
        ),
        (
            "no-such-day.md",
            b"---\ntitle: No such day\ndue_on: 2026-02-31\n---\n".to_vec(),
        ),
        (
            "tags-number.md",
            b"---\ntitle: Tags\ntags: 5\n---\n".to_vec(),
        ),
        ("title-list.md", b"---\ntitle: [a, b]\n---\n".to_vec()),
        ("unclosed.md", b"---\ntitle: Never closed\nbody\n".to_vec()),
        (
            "foreign.md",
            format!("---\nasana_gid: \"{foreign}\"\ntitle: Foreign task, hijacked\n---\n")
                .into_bytes(),
        ),
        ("copy-of-mapped.md", mapped_text.clone().into_bytes()),
    ];
    for (name, bytes) in &bad {
        w.write(name, bytes);
    }
    std::os::unix::fs::symlink(&outside, w.md().join("escape.md")).expect("symlink");
    w.write("good.md", "---\ntitle: Good new file\n---\nfine\n");
    w.sim.edit_task(
        &edited,
        TaskEdit {
            name: Some("Edited in Asana, renamed".into()),
            ..TaskEdit::default()
        },
    );

    let mut names: Vec<&str> = bad.iter().map(|(n, _)| *n).collect();
    names.push("escape.md");
    let before: Vec<_> = names.iter().map(|n| fingerprint(&w.md().join(n))).collect();
    let outside_before = fingerprint(&outside);
    w.sim.clear_requests();

    let out = w.run(&["sync"]).expect(1);
    for name in &names {
        let lines = error_lines(&out.stderr, name);
        assert_eq!(
            lines.len(),
            1,
            "{name}: wanted exactly one error line naming it:\n{}",
            out.stderr
        );
    }
    for (name, was) in names.iter().zip(&before) {
        assert_eq!(&fingerprint(&w.md().join(name)), was, "{name} was modified");
    }
    assert_eq!(
        fingerprint(&outside),
        outside_before,
        "the symlink target was touched"
    );

    // The rest of the link went on.
    let tasks = w.sim.project_tasks(&w.project);
    let titles: Vec<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
    assert!(titles.contains(&"Good new file"), "{titles:?}");
    assert_eq!(
        World::front(&w.file_of(&edited).1, "title").as_deref(),
        Some("Edited in Asana, renamed")
    );
    assert_eq!(tasks.len(), 3, "no task was made of a bad file: {titles:?}");
    // The other project's task was neither read as ours nor written.
    assert!(
        w.sim
            .requests()
            .iter()
            .all(|r| !r.path.contains(&foreign) || !r.is_write()),
        "{:#?}",
        w.sim.requests()
    );
    assert_eq!(
        w.sim.task(&foreign).expect("foreign task").name,
        "Foreign task"
    );
    // The copy is reported; the original keeps its pair, untouched and unchanged.
    assert!(
        error_lines(&out.stderr, &mapped_file).is_empty(),
        "{}",
        out.stderr
    );
    assert_eq!(w.read(&mapped_file), mapped_text);
    assert_eq!(w.sim.task(&mapped).expect("mapped").name, "Mapped");
}

/// Mapped files that turn unreadable (broken YAML, invalid UTF-8, binary) while their tasks
/// are edited or deleted in Asana: the files stay untouched, no task is deleted because
/// its file "vanished", and once a file is fixed the Asana edit made meanwhile arrives.
#[test]
fn a_mapped_file_that_turns_bad_keeps_its_task_and_recovers_when_fixed() {
    let w = World::new("newest");
    let a = w.add_task("Alpha", |t| t.notes = "alpha".into());
    let b = w.add_task("Bravo", |_| {});
    let c = w.add_task("Charlie", |_| {});
    let d = w.add_task("Delta", |_| {});
    w.sync();
    let (fa, ta) = w.file_of(&a);
    let (fb, tb) = w.file_of(&b);
    let (fc, _) = w.file_of(&c);
    w.write(&fa, ta.replace("title: Alpha", "title: [Alpha"));
    let mut latin = tb.clone().into_bytes();
    latin.extend_from_slice(b"caf\xe9\n");
    w.write(&fb, &latin);
    let mut binary = format!("---\nasana_gid: \"{c}\"\ntitle: Charlie\n---\n").into_bytes();
    binary.extend_from_slice(b"\0\0\0");
    w.write(&fc, &binary);
    w.sim.edit_task(
        &a,
        TaskEdit {
            name: Some("Alpha, renamed in Asana".into()),
            ..TaskEdit::default()
        },
    );
    w.sim.delete_task(&b);
    let before: Vec<_> = [&fa, &fb, &fc]
        .iter()
        .map(|n| fingerprint(&w.md().join(n)))
        .collect();

    let out = w.run(&["sync"]).expect(1);
    for name in [&fa, &fb, &fc] {
        assert_eq!(
            error_lines(&out.stderr, name).len(),
            1,
            "{name}:\n{}",
            out.stderr
        );
    }
    for (name, was) in [&fa, &fb, &fc].iter().zip(&before) {
        assert_eq!(&fingerprint(&w.md().join(name)), was, "{name} was modified");
    }
    assert!(w.sim.task(&a).is_some(), "Alpha's task was deleted");
    assert!(w.sim.task(&c).is_some(), "Charlie's task was deleted");
    assert!(w.sim.task(&d).is_some());
    assert!(
        !w.md().join(".asana-bridge-trash").join(&fb).exists(),
        "an unreadable file was moved to the trash"
    );

    // The user fixes Alpha's file (their own edit of the notes included).
    w.write(&fa, ta.replace("alpha", "alpha, fixed by hand"));
    w.run(&["sync"]).expect(1); // Bravo and Charlie are still broken
    let task = w.sim.task(&a).expect("alpha");
    assert_eq!(
        task.name, "Alpha, renamed in Asana",
        "the Asana edit survived"
    );
    assert_eq!(
        task.notes, "alpha, fixed by hand",
        "the file's edit arrived"
    );
    let text = w.read(&fa);
    assert_eq!(
        World::front(&text, "title").as_deref(),
        Some("Alpha, renamed in Asana")
    );
}

/// A symlink in the folder is never followed, neither to read nor to write: the file
/// outside stays untouched, and a new task whose name would take the link's name gets
/// another file.
#[test]
fn a_symlink_out_of_the_folder_is_neither_read_nor_written_through() {
    let w = World::new("newest");
    w.add_task("Anchor", |_| {});
    w.sync();
    let outside = w.dir.path().join("precious.md");
    std::fs::write(&outside, "---\ntitle: Precious\n---\ndo not touch\n").expect("outside");
    std::os::unix::fs::symlink(&outside, w.md().join("evil.md")).expect("symlink");
    let outside_dir = w.dir.path().join("elsewhere");
    std::fs::create_dir(&outside_dir).expect("dir");
    std::os::unix::fs::symlink(&outside_dir, w.md().join("linked-dir.md")).expect("dir link");
    w.add_task("Evil", |t| t.notes = "new task".into());
    let before = fingerprint(&outside);

    let out = w.run(&["sync"]).expect(1);
    assert_eq!(
        error_lines(&out.stderr, "evil.md").len(),
        1,
        "{}",
        out.stderr
    );
    assert_eq!(fingerprint(&outside), before, "written through the symlink");
    assert!(
        std::fs::read_dir(&outside_dir)
            .expect("dir")
            .next()
            .is_none(),
        "wrote into a linked folder"
    );
    assert!(
        w.sim
            .project_tasks(&w.project)
            .iter()
            .all(|t| t.name != "Precious"),
        "read through the symlink"
    );
    let (name, _) = w.file_of(
        &w.sim
            .project_tasks(&w.project)
            .iter()
            .find(|t| t.name == "Evil")
            .expect("evil")
            .gid,
    );
    assert_ne!(name, "evil.md");
    assert!(
        std::fs::symlink_metadata(w.md().join("evil.md"))
            .expect("link")
            .file_type()
            .is_symlink()
    );
}

/// One `asana_gid` in two files (a copied file): the copy gets an error naming the original
/// and is left alone; the original keeps syncing. Once the copy is removed nothing is
/// reported and nothing was created or deleted.
#[test]
fn a_copied_file_is_reported_and_its_original_keeps_syncing() {
    let w = World::new("newest");
    let gid = w.add_task("Original", |_| {});
    let other = w.add_task("Other", |_| {});
    w.sync();
    let (name, text) = w.file_of(&gid);
    w.write("copy.md", &text);
    w.sim.edit_task(
        &gid,
        TaskEdit {
            completed: Some(true),
            ..TaskEdit::default()
        },
    );
    w.sim.edit_task(
        &other,
        TaskEdit {
            completed: Some(true),
            ..TaskEdit::default()
        },
    );
    let out = w.run(&["sync"]).expect(1);
    let lines = error_lines(&out.stderr, "copy.md");
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].contains(&format!("belongs to {name}")),
        "{}",
        lines[0]
    );
    assert!(error_lines(&out.stderr, &name).is_empty(), "{}", out.stderr);
    assert_eq!(w.read("copy.md"), text, "the copy is left as it is");
    assert_eq!(
        World::front(&w.read(&name), "completed").as_deref(),
        Some("true"),
        "the original still syncs"
    );
    assert_eq!(
        World::front(&w.file_of(&other).1, "completed").as_deref(),
        Some("true")
    );
    std::fs::remove_file(w.md().join("copy.md")).expect("rm");
    let out = w.sync();
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    assert_eq!(w.sim.project_tasks(&w.project).len(), 2);
}

/// A task Asana serves in a form the bridge cannot read is an error naming it, and its
/// pair is left alone: its file stays as it was (an unreadable task is never taken for
/// deleted), and the rest of the link syncs.
#[test]
fn an_unreadable_task_is_reported_and_its_file_kept() {
    let w = World::new("newest");
    let broken = w.add_task("Broken in Asana", |t| t.notes = "kept notes".into());
    let fine = w.add_task("Fine", |_| {});
    w.sync();
    let (broken_file, _) = w.file_of(&broken);
    let before = fingerprint(&w.md().join(&broken_file));

    w.sim.serve_malformed_task(
        &broken,
        serde_json::json!({"gid": broken, "name": 12, "modified_at": "2026-11-01T00:00:00Z"}),
    );
    let out = w.run(&["sync", "--full"]).expect(1);
    assert!(
        out.stderr.lines().any(|l| l.contains(&broken)),
        "the unreadable task is named:\n{}",
        out.stderr
    );
    assert_eq!(
        fingerprint(&w.md().join(&broken_file)),
        before,
        "its file is left untouched"
    );
    let (fine_file, _) = w.file_of(&fine);
    w.write(
        &fine_file,
        common::set_front(&w.read(&fine_file), "title", Some("Fine, edited")),
    );
    w.run(&["sync", "--full"]).expect(1);
    assert_eq!(
        w.sim.task(&fine).expect("task").name,
        "Fine, edited",
        "the rest of the link syncs"
    );
    assert_eq!(fingerprint(&w.md().join(&broken_file)), before);
}
