//! End to end, through the binary: the folder side of the Safety rules (issue 13). Files in
//! subfolders are tasks and moving one changes nothing in Asana; dot-folders are ignored;
//! two links may not share or nest folders; a damaged state folder says what happened and
//! what to do.

#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod common;

use std::fs;
use std::path::Path;

use common::World;

/// Every `*.md` under `dir` (dot-folders included, to prove nothing landed there) by its
/// relative path, with its text.
fn all_md(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = World::tree_snapshot(dir)
        .into_iter()
        .filter(|(p, _)| p.extension().is_some_and(|e| e == "md"))
        .map(|(p, (bytes, _))| {
            (
                p.strip_prefix(dir)
                    .expect("inside")
                    .to_string_lossy()
                    .replace('\\', "/"),
                String::from_utf8_lossy(&bytes).into_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Issue 13.4: a synced file moved into a new subfolder leaves its task untouched in
/// Asana (no deletion, no write, no new file); a later edit of the moved file flows to
/// Asana, and the file stays where the user put it.
#[test]
fn moving_a_file_into_a_subfolder_changes_nothing_in_asana() {
    let w = World::new("newest");
    let gid = w.add_task("Fix the login page", |t| {
        t.notes = "Users cannot log in.".into();
        t.tags = vec!["bug".into()];
        t.due_on = Some("2026-12-01".into());
    });
    let other = w.add_task("Keep me", |_| {});
    w.sync();
    let (name, text) = w.file_of(&gid);
    assert_eq!(name, "fix-the-login-page.md");
    let task_before = w.sim.task(&gid).expect("task");
    let other_before = w.sim.task(&other).expect("task");

    fs::create_dir(w.md().join("archive")).expect("mkdir");
    fs::rename(w.md().join(&name), w.md().join("archive").join(&name)).expect("mv");
    let tree_before = all_md(&w.md());
    w.sim.clear_requests();
    let out = w.sync();
    assert_eq!(w.writes(), Vec::<String>::new(), "{}", out.stdout);
    assert_eq!(w.sim.task(&gid).as_ref(), Some(&task_before));
    assert_eq!(w.sim.task(&other).as_ref(), Some(&other_before));
    assert_eq!(w.sim.project_tasks(&w.project).len(), 2);
    assert_eq!(
        all_md(&w.md()),
        tree_before,
        "no file written, moved or trashed"
    );
    assert_eq!(
        fs::read_to_string(w.md().join("archive").join(&name)).expect("read"),
        text
    );
    assert!(!w.md().join(".asana-bridge-trash").exists());

    // An edit of the moved file flows to Asana; the file stays in the subfolder.
    let edited = text.replace(
        "title: Fix the login page",
        "title: Fix the login page (archived)",
    );
    assert_ne!(edited, text);
    fs::write(w.md().join("archive").join(&name), &edited).expect("edit");
    w.sync();
    let task = w.sim.task(&gid).expect("task");
    assert_eq!(task.name, "Fix the login page (archived)");
    assert_eq!(task.notes, task_before.notes);
    assert_eq!(task.tags, task_before.tags);
    assert_eq!(w.sim.project_tasks(&w.project).len(), 2);
    assert!(!w.md().join(&name).exists(), "not moved back");
    assert_eq!(
        fs::read_to_string(w.md().join("archive").join(&name)).expect("read"),
        edited
    );

    // A second sync is quiet.
    w.sim.clear_requests();
    w.sync();
    assert_eq!(w.writes(), Vec::<String>::new());
}

/// A new file in a subfolder is a new task and gets its gid in place; files in
/// dot-folders (at the top or deeper) are never tasks.
#[test]
fn subfolder_files_are_tasks_and_dot_folders_are_ignored() {
    let w = World::new("newest");
    w.sync();
    let hidden = "---\ntitle: Not a task\n---\nbody\n";
    for path in [
        ".drafts/a.md",
        ".obsidian/workspace.md",
        "notes/.scratch/b.md",
    ] {
        let p = w.md().join(path);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(&p, hidden).expect("write");
    }
    fs::write(
        w.md().join("notes/idea.md"),
        "---\ntitle: An idea\n---\nThink.\n",
    )
    .expect("write");
    w.sync();
    let tasks = w.sim.project_tasks(&w.project);
    assert_eq!(
        tasks.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        vec!["An idea"]
    );
    let idea = fs::read_to_string(w.md().join("notes/idea.md")).expect("read");
    assert_eq!(
        World::front(&idea, "asana_gid").as_deref(),
        Some(tasks[0].gid.as_str())
    );
    for path in [
        ".drafts/a.md",
        ".obsidian/workspace.md",
        "notes/.scratch/b.md",
    ] {
        assert_eq!(
            fs::read_to_string(w.md().join(path)).expect("read"),
            hidden,
            "{path}"
        );
    }
    assert!(
        w.files().is_empty(),
        "nothing written at the top: {:?}",
        w.files()
    );
}

/// The config with two Markdown links at `a` and `b`.
fn two_links(w: &World, a: &str, b: &str) {
    let config = format!(
        "state_dir = \".asana-bridge\"\n\n[asana]\ntoken_env = \"ASANA_TOKEN\"\n\n\
         [[link]]\nname = \"roadmap\"\nasana_project = \"{p}\"\nmarkdown = {{ dir = \"{a}\" }}\n\n\
         [[link]]\nname = \"archive\"\nasana_project = \"{p}1\"\nmarkdown = {{ dir = \"{b}\" }}\n",
        p = w.project
    );
    fs::write(w.dir.path().join("asana-bridge.toml"), config).expect("config");
}

/// Two links on the same folder, or one inside the other, are a config error (exit 2)
/// naming both links, before anything is read or written; so is a folder that is a file.
#[test]
fn link_folders_that_overlap_are_a_config_error() {
    let w = World::new("newest");
    for (a, b, want) in [
        (
            "roadmap",
            "./roadmap/",
            "links \"roadmap\" and \"archive\" use the same folder",
        ),
        (
            "roadmap",
            "roadmap/archive",
            "the folder of link \"archive\"",
        ),
        (
            "roadmap/x/../archive",
            "roadmap",
            "the folder of link \"roadmap\"",
        ),
    ] {
        two_links(&w, a, b);
        let out = w.run(&["sync"]).expect(2);
        assert!(out.stderr.contains(want), "{a} {b}: {}", out.stderr);
        assert!(
            out.stderr.contains("\"roadmap\"") && out.stderr.contains("\"archive\""),
            "{}",
            out.stderr
        );
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
        assert!(w.sim.requests().is_empty(), "nothing asked of Asana");
    }
    assert!(!w.md().exists(), "no folder created");

    two_links(&w, "roadmap", "archive");
    fs::write(w.dir.path().join("archive"), "a file").expect("write");
    let out = w.run(&["sync"]).expect(2);
    assert!(
        out.stderr.contains("link \"archive\": markdown.dir")
            && out.stderr.contains("is a file, not a folder"),
        "{}",
        out.stderr
    );
}

/// A state folder whose files are damaged: one line saying what happened and what to do,
/// exit 2, nothing touched; after moving it aside, the next sync re-adopts every file by
/// its gid with no duplicate and no write.
#[test]
fn a_damaged_state_folder_says_what_to_do() {
    let w = World::new("newest");
    let gid = w.add_task("Fix the login page", |t| t.notes = "n".into());
    w.sync();
    let files_before = w.files();
    let task_before = w.sim.task(&gid).expect("task");

    // Damage the store: a garbage snapshot (sled: "Read corrupted data at file offset
    // None"), then a garbage settings file too (sled: "Unsupported"). (sled shrugs off a
    // damaged log: it keeps what it can read, and the bridge re-adopts the rest.)
    let db = w.state_dir().join("db");
    for damage in ["snap.0000000000000000", "conf"] {
        let garbage: Vec<u8> = (0..2000).map(|i| (i * 7 + 13) as u8).collect();
        fs::write(db.join(damage), garbage).expect("damage");
        w.sim.clear_requests();
        let out = w.run(&["sync"]);
        assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
        assert_eq!(
            out.stderr.trim().lines().count(),
            1,
            "one line: {}",
            out.stderr
        );
        assert!(
            out.stderr
                .contains("error: the state folder .asana-bridge cannot be read: it is damaged"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("Move it aside"), "{}", out.stderr);
        assert!(
            out.stderr.contains("re-adopts every file by its asana_gid"),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("backtrace"), "{}", out.stderr);
        assert!(
            out.stderr
                .contains("mv .asana-bridge .asana-bridge.damaged"),
            "{}",
            out.stderr
        );
        assert_eq!(w.writes(), Vec::<String>::new());
        assert_eq!(w.files(), files_before);
    }

    // Doing what it says.
    fs::rename(w.state_dir(), w.dir.path().join(".asana-bridge.damaged")).expect("mv");
    let out = w.run(&["sync"]).expect(0);
    assert_eq!(w.writes(), Vec::<String>::new(), "{}", out.stdout);
    assert_eq!(w.sim.project_tasks(&w.project).len(), 1);
    assert_eq!(w.sim.task(&gid).as_ref(), Some(&task_before));
    assert_eq!(w.files(), files_before);
}

/// Under `watch`, a file in a subfolder is watched: an edit flows to Asana in seconds, an
/// Asana edit lands in the file where it is, and the bridge's own write to it is no change
/// (no write follows).
#[test]
fn watch_follows_files_in_subfolders() {
    use std::time::Duration;
    let w = World::new("newest");
    let gid = w.add_task("Nested", |t| t.notes = "first".into());
    w.sync();
    let (name, text) = w.file_of(&gid);
    fs::create_dir_all(w.md().join("archive/2026")).expect("mkdir");
    let nested = w.md().join("archive/2026").join(&name);
    fs::rename(w.md().join(&name), &nested).expect("mv");
    w.sync();

    /// Stops the watch it holds (SIGTERM) however the test ends.
    struct Running(std::process::Child);
    impl Drop for Running {
        fn drop(&mut self) {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &self.0.id().to_string()])
                .status();
            let _ = self.0.wait();
        }
    }
    let child = Running(
        w.command()
            .args(["watch", "--poll-interval", "1"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn watch"),
    );
    // Its first (full) sync is over, and the folder is watched, once it published a status.
    assert!(
        World::eventually(Duration::from_secs(20), || w.watch_has_synced()),
        "the watch never finished its first sync"
    );

    fs::write(&nested, text.replace("first", "edited locally")).expect("edit");
    let arrived = World::eventually(Duration::from_secs(20), || {
        w.sim
            .task(&gid)
            .is_some_and(|t| t.notes == "edited locally")
    });
    w.sim.edit_task(
        &gid,
        common::TaskEdit {
            name: Some("Nested, renamed in Asana".into()),
            ..common::TaskEdit::default()
        },
    );
    let landed = World::eventually(Duration::from_secs(30), || {
        fs::read_to_string(&nested).is_ok_and(|t| t.contains("renamed in Asana"))
    });
    // Kept (a quiet period): the bridge's own write to the file comes back as a folder
    // event (400 ms debounce) that it must recognise and drop; nothing marks that done.
    std::thread::sleep(Duration::from_secs(3));
    w.sim.clear_requests();
    // Kept (the point): 4 s of idling must pass to show that it writes nothing.
    std::thread::sleep(Duration::from_secs(4));
    let idle_writes = w.writes();

    drop(child);
    assert!(arrived, "the nested edit reached Asana");
    assert!(
        landed,
        "the Asana edit reached the nested file: {:?}",
        fs::read_to_string(&nested)
    );
    assert_eq!(
        idle_writes,
        Vec::<String>::new(),
        "its own write is no change"
    );
    assert!(
        !w.md().join(&name).exists(),
        "the file stayed in its subfolder"
    );
    assert!(w.files().is_empty());
    assert_eq!(w.sim.project_tasks(&w.project).len(), 1);
}
