//! End to end, through the real binary against the simulator: everyday accidents on the
//! folder never destroy anything in Asana (issue 13, the contract's Safety section). Each
//! test asserts Asana's state (the simulator's) and the folder byte for byte.

#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod common;

use std::time::Duration;

use common::{SimTask, TaskEdit, Watch, World};

/// A first sync of one task with notes, a due date and a tag (and another task, so the
/// folder never empties); its file's name and text.
fn synced_task(w: &World) -> (String, String, String) {
    w.add_task("Another task", |_| {});
    let gid = w.add_task("Fix the login page", |t| {
        t.notes = "Steps to reproduce.".into();
        t.due_on = Some("2026-12-01".into());
        t.tags = vec!["bug".into()];
    });
    w.sync();
    let (name, text) = w.file_of(&gid);
    (gid, name, text)
}

/// The task as Asana holds it, minus what moves on its own.
fn task(w: &World, gid: &str) -> SimTask {
    w.sim
        .task(gid)
        .unwrap_or_else(|| panic!("task {gid} is gone from Asana"))
}

fn error_lines<'a>(stderr: &'a str, name: &str) -> Vec<&'a str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("error:") && l.contains(name))
        .collect()
}

/// Case 1: a one-digit typo in `asana_gid`, another project's gid, or a gid that does not
/// exist: the task is untouched (never deleted), the run exits 1 with one error naming the
/// file, both gids and the fix, and the file is left byte for byte.
#[test]
fn an_edited_asana_gid_never_deletes_the_task() {
    let w = World::new("newest");
    let (gid, name, text) = synced_task(&w);
    let before = task(&w, &gid);
    let other_project = w.sim.create_project("Somebody else's");
    let foreign = w
        .sim
        .add_task(&other_project, common::TaskSeed::named("Foreign"));
    let mut typo = gid.clone().into_bytes();
    let last = typo.len() - 1;
    typo[last] = if typo[last] == b'9' {
        b'8'
    } else {
        typo[last] + 1
    };
    let typo = String::from_utf8(typo).expect("digits");
    for wrong in [typo.as_str(), foreign.as_str(), "1999999999999999"] {
        let edited = text.replace(&gid, wrong);
        w.write(&name, &edited);
        w.sim.clear_requests();
        let out = w.run(&["sync"]).expect(1);
        let lines = error_lines(&out.stderr, &name);
        assert_eq!(lines.len(), 1, "{wrong}: {}", out.stderr);
        assert!(
            lines[0].contains(&format!("changed from {gid} to {wrong}"))
                && lines[0].contains(&format!("asana_gid: \"{gid}\"")),
            "{}",
            lines[0]
        );
        assert!(w.writes().is_empty(), "{wrong}: {:?}", w.writes());
        assert_eq!(task(&w, &gid), before, "{wrong}");
        assert_eq!(w.read(&name), edited, "{wrong}: the file was rewritten");
        assert_eq!(w.sim.task(&foreign).expect("foreign").name, "Foreign");
    }
    // Put back, all is well again.
    w.write(&name, &text);
    w.sync();
    assert_eq!(task(&w, &gid), before);
}

/// Case 2: a synced file emptied to 0 bytes, or its front-matter block removed: an error
/// for that file, the task's name, notes, due date and tags untouched, the file as it is.
#[test]
fn an_emptied_file_or_a_lost_front_matter_never_wipes_the_task() {
    let w = World::new("newest");
    let (gid, name, text) = synced_task(&w);
    let before = task(&w, &gid);
    let body_only = text.split("---\n").nth(2).expect("body").to_owned();
    for broken in ["", body_only.as_str()] {
        w.write(&name, broken);
        w.sim.clear_requests();
        let out = w.run(&["sync"]).expect(1);
        let lines = error_lines(&out.stderr, &name);
        assert_eq!(lines.len(), 1, "{broken:?}: {}", out.stderr);
        assert!(lines[0].contains("lost its front matter"), "{}", lines[0]);
        assert!(!out.stdout.contains("updated in Asana"), "{}", out.stdout);
        assert!(w.writes().is_empty(), "{:?}", w.writes());
        assert_eq!(task(&w, &gid), before);
        assert_eq!(w.read(&name), broken);
    }
    // An undo brings everything back; nothing was lost in between.
    w.write(&name, &text);
    w.sync();
    assert_eq!(task(&w, &gid), before);
}

/// Case 3, `sync`: a file deleted, synced (the task is saved to the trash, then deleted),
/// then restored: the run reports when the bridge deleted the task and the two ways
/// back, and never links the file to a deleted task. Restoring the task from Asana's
/// trash links the file again; the trash copy, moved back, is a new task. A problem that
/// stays does not make every idle run read Asana again.
#[test]
fn a_file_deleted_synced_and_restored_is_told_what_happened_and_the_ways_back() {
    let w = World::new("newest");
    let (gid, name, text) = synced_task(&w);
    std::fs::remove_file(w.md().join(&name)).expect("rm");
    let out = w.sync();
    assert!(out.stdout.contains("1 deleted in Asana"), "{}", out.stdout);
    assert!(out.stdout.contains("saved to"), "{}", out.stdout);
    assert!(w.sim.task(&gid).is_none(), "the task was deleted");
    // Saved first, as a task file without asana_gid.
    let trash = w.md().join(".asana-bridge-trash");
    let saved: Vec<_> = std::fs::read_dir(&trash)
        .expect("trash")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
    let copy = std::fs::read_to_string(&saved[0]).expect("copy");
    assert!(!copy.contains("asana_gid"), "{copy}");
    assert!(
        copy.contains("title: Fix the login page")
            && copy.contains("due_on: 2026-12-01")
            && copy.contains("Steps to reproduce."),
        "{copy}"
    );

    // The file comes back (an undo, a checkout).
    w.write(&name, &text);
    let out = w.run(&["sync"]).expect(1);
    let lines = error_lines(&out.stderr, &name);
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].contains("deleted in Asana by asana-bridge at")
            && lines[0].contains("restore it from Asana's trash")
            && lines[0].contains("remove the asana_gid line"),
        "{}",
        lines[0]
    );
    assert_eq!(w.read(&name), text);
    assert_eq!(w.sim.project_tasks(&w.project).len(), 1, "no task was made");
    // Idle, the problem costs one request a run, as a clean link does.
    w.sim.clear_requests();
    w.run(&["sync"]).expect(1);
    assert_eq!(w.sim.requests().len(), 1, "{:#?}", w.sim.requests());

    // Restored from Asana's trash: the file links again, with its history.
    w.sim.restore_task(&gid);
    let out = w.sync();
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    assert_eq!(w.file_of(&gid).0, name);
    assert_eq!(w.sim.project_tasks(&w.project).len(), 2);

    // The trash copy moved back into the folder is a new task.
    std::fs::rename(&saved[0], w.md().join("from-the-trash.md")).expect("mv");
    w.sync();
    let tasks = w.sim.project_tasks(&w.project);
    assert_eq!(tasks.len(), 3, "{tasks:#?}");
    assert_eq!(
        tasks
            .iter()
            .filter(|t| t.name == "Fix the login page")
            .count(),
        2
    );
}

/// Case 3, `watch`: a file missing for about a second (moved out and back, a checkout)
/// deletes nothing; one that stays gone past the grace period is let go, saved first.
#[test]
fn under_watch_a_file_missing_briefly_deletes_nothing() {
    let w = World::new("newest");
    w.write_config_full("newest", "", "delete_grace = 3");
    let (gid, name, text) = synced_task(&w);
    let (keep, keep_name, _) = {
        let g = w.add_task("Keep me", |_| {});
        w.sync();
        let (n, t) = w.file_of(&g);
        (g, n, t)
    };
    let watch = Watch::start(&w, &["--poll-interval", "1"]);
    assert!(
        World::eventually(Duration::from_secs(20), || w.watch_has_synced()),
        "the watch never finished its first sync: {}",
        watch.stderr()
    );
    let outside = w.dir.path().join("parked.md");
    std::fs::rename(w.md().join(&name), &outside).expect("move out");
    // Kept (the point): the file stays missing for about a second, across a poll.
    std::thread::sleep(Duration::from_millis(1200));
    std::fs::rename(&outside, w.md().join(&name)).expect("move back");
    // Kept (the point): the 3 s grace period must pass, with polls, for "deleted nothing".
    std::thread::sleep(Duration::from_secs(5));
    assert!(w.sim.task(&gid).is_some(), "deleted: {}", watch.stderr());
    assert_eq!(w.read(&name), text);

    // Gone for good: let go after the grace period, saved to the trash first.
    std::fs::remove_file(w.md().join(&keep_name)).expect("rm");
    assert!(
        World::eventually(Duration::from_secs(20), || w.sim.task(&keep).is_none()),
        "not let go: {}\n{}",
        watch.stdout(),
        watch.stderr()
    );
    let (code, _, stdout, _) = watch.terminate();
    assert_eq!(code, Some(0));
    assert!(stdout.contains("saved to"), "{stdout}");
    assert!(w.sim.task(&gid).is_some());
    assert!(w.md().join(".asana-bridge-trash").join(&keep_name).exists());
}

/// Case 5: the state folder lost while the body was edited locally and the title in Asana:
/// re-adoption by asana_gid with no duplicate, and both edits kept: a conflict (exit 3)
/// whatever the policy, nothing overwritten on either side.
#[test]
fn a_lost_state_readopts_without_duplicates_or_overwrites() {
    for policy in ["newest", "asana", "target"] {
        let w = World::new(policy);
        let (gid, name, text) = synced_task(&w);
        let edited = text.replace("Steps to reproduce.", "Steps to reproduce, edited locally.");
        w.write(&name, &edited);
        // Kept (real time must pass): the two edits are more than a second apart, as
        // people's are; the clocks the bridge compares are exact to a second (HTTP `Date`).
        std::thread::sleep(Duration::from_millis(1100));
        w.sim.edit_task(
            &gid,
            TaskEdit {
                name: Some("Fix the login page (renamed in Asana)".into()),
                ..TaskEdit::default()
            },
        );
        std::fs::remove_dir_all(w.state_dir()).expect("lose the state");
        let out = w.run(&["sync"]).expect(3);
        assert!(out.stdout.contains("conflict"), "{policy}: {}", out.stdout);
        assert_eq!(w.files().len(), 2, "{policy}: no duplicate file");
        assert_eq!(
            w.sim.project_tasks(&w.project).len(),
            2,
            "{policy}: no duplicate task"
        );
        assert_eq!(w.read(&name), edited, "{policy}: the local edit stays");
        let t = task(&w, &gid);
        assert_eq!(t.name, "Fix the login page (renamed in Asana)", "{policy}");
        assert_eq!(t.notes, "Steps to reproduce.", "{policy}");
        let listed = w.run(&["conflicts"]).expect(3);
        assert!(
            listed.stdout.contains("title") && listed.stdout.contains("notes"),
            "{policy}: {}",
            listed.stdout
        );
    }
}

/// Case 6: `newest` with a machine clock 2 h off Asana's: Asana's `Date` header tells the
/// offset, and the later edit wins both ways.
#[test]
fn newest_is_right_with_a_clock_two_hours_off() {
    for ahead in [-2_i64, 2] {
        let w = World::new("newest");
        w.sim
            .set_clock_offset(jiff::SignedDuration::from_hours(ahead));
        let (gid, name, text) = synced_task(&w);
        // The file first, Asana a little later: Asana's edit wins.
        w.write(
            &name,
            text.replace("Fix the login page", "Title from the file"),
        );
        // Kept (real time must pass): the later edit must stay later after the 2 h offset
        // is taken off, which is known to a second only (HTTP `Date`).
        std::thread::sleep(Duration::from_millis(2100));
        w.sim.edit_task(
            &gid,
            TaskEdit {
                name: Some("Title from Asana".into()),
                ..TaskEdit::default()
            },
        );
        w.sync();
        assert_eq!(task(&w, &gid).name, "Title from Asana", "{ahead} h");
        assert_eq!(
            World::front(&w.read(&name), "title").as_deref(),
            Some("Title from Asana"),
            "{ahead} h"
        );
        // Asana first, the file a little later: the file's edit wins.
        w.sim.edit_task(
            &gid,
            TaskEdit {
                name: Some("Asana again".into()),
                ..TaskEdit::default()
            },
        );
        // Kept (real time must pass): the later edit must stay later after the 2 h offset
        // is taken off, which is known to a second only (HTTP `Date`).
        std::thread::sleep(Duration::from_millis(2100));
        let now = w.read(&name);
        w.write(&name, now.replace("Title from Asana", "The file again"));
        w.sync();
        assert_eq!(task(&w, &gid).name, "The file again", "{ahead} h");
    }
}

/// Case 7: a task that got a comment since the last sync (no synced field changed) is not
/// deleted for a removed file: the file comes back instead.
#[test]
fn a_task_that_changed_in_any_way_is_not_deleted_for_a_removed_file() {
    let w = World::new("newest");
    let (gid, name, _) = synced_task(&w);
    w.sim.add_comment(&gid);
    std::fs::remove_file(w.md().join(&name)).expect("rm");
    let out = w.sync();
    assert!(!out.stdout.contains("deleted in Asana"), "{}", out.stdout);
    assert!(w.sim.task(&gid).is_some());
    assert_eq!(w.file_of(&gid).0, name, "the file was written again");
}

/// `on_delete = "complete"` and `"ignore"`: a removed file completes its task, or leaves it
/// as it is; either way the task is not deleted and not mirrored back as a new file.
#[test]
fn on_delete_complete_or_ignore_keeps_the_task_and_does_not_bring_the_file_back() {
    for how in ["complete", "ignore"] {
        let w = World::new("newest");
        w.write_config_full("newest", "", &format!("on_delete = \"{how}\""));
        let (gid, name, _) = synced_task(&w);
        std::fs::remove_file(w.md().join(&name)).expect("rm");
        let out = w.sync();
        let t = task(&w, &gid);
        assert_eq!(t.completed, how == "complete", "{how}: {}", out.stdout);
        assert_eq!(t.name, "Fix the login page");
        w.sync();
        assert_eq!(w.files().len(), 1, "{how}: {:?}", w.files());
        assert!(
            !w.md().join(".asana-bridge-trash").exists(),
            "{how}: nothing needed saving"
        );
    }
}

/// `--dry-run` says what a removed file would do, and does nothing.
#[test]
fn a_dry_run_names_the_deletion_and_its_trash_copy() {
    let w = World::new("newest");
    let (gid, name, _) = synced_task(&w);
    std::fs::remove_file(w.md().join(&name)).expect("rm");
    let out = w.run(&["sync", "--dry-run"]).expect(0);
    assert!(
        out.stdout
            .contains("save to the trash, then delete Asana task"),
        "{}",
        out.stdout
    );
    assert!(w.sim.task(&gid).is_some());
    assert!(!w.md().join(".asana-bridge-trash").exists());
}

/// `sync --help` and `watch --help` say what a deletion does, what the trash holds and how
/// to undo.
#[test]
fn the_help_says_what_a_deletion_does_and_how_to_undo() {
    let w = World::new("newest");
    for command in ["sync", "watch"] {
        let out = w.run(&[command, "--help"]).expect(0);
        for words in [
            "deleted in Asana only when its file is gone",
            "on_delete",
            ".asana-bridge-trash",
            "restore the task from Asana's trash",
        ] {
            assert!(
                out.stdout.contains(words),
                "{command}: {words}\n{}",
                out.stdout
            );
        }
    }
}
