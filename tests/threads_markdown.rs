//! Subtasks and comments end to end through the binary, on a Markdown link (issue 16): a
//! subtask added on each side, checked, renamed and removed; the checklist reordered
//! (not an edit); a comment added on each
//! side, edited by its author, and one edited where it may not be; a comment whose answer
//! was lost, and a run killed right after posting one (no duplicate comment); a subtask
//! whose answer was lost, also with its line checked before the next run (paired, the
//! check sent), and with the state folder lost besides (no duplicate); a burst of 50 comments on one task; `comments = false`; a quiet resync
//! reads nothing more; a subtask edited in Asana reaches its line after a full listing
//! (`sync --full`, an expired feed token).

#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod common;

use asana_sim::{CommentSeed, Fault};
use common::{TaskEdit, World};

/// The file's line that carries `marker` (`asana:<gid>`), if any.
fn line_with(text: &str, gid: &str) -> Option<String> {
    let marker = format!("<!-- asana:{gid} -->");
    text.lines()
        .find(|l| l.contains(&marker))
        .map(str::to_owned)
}

/// Rewrites the file of task `gid` through `f`.
fn edit_file(w: &World, gid: &str, f: impl FnOnce(&str) -> String) {
    let (name, text) = w.file_of(gid);
    w.write(&name, f(&text));
}

/// The subtasks of `parent` in the simulator: (name, completed).
fn subtasks(w: &World, parent: &str) -> Vec<(String, bool)> {
    w.sim
        .subtasks(parent)
        .into_iter()
        .map(|g| {
            let t = w.sim.task(&g).expect("subtask");
            (t.name, t.completed)
        })
        .collect()
}

fn comment(text: &str) -> CommentSeed {
    CommentSeed {
        text: Some(text.to_owned()),
        html_text: None,
    }
}

/// A task whose file got `section` appended, and a run that lost the answer to the
/// create it made for it (a `POST` to a path containing `path`): exit 1, saying so.
fn lost_create(w: &World, section: &str, path: &str) -> String {
    let task = w.add_task("Parent", |_| {});
    w.sync();
    edit_file(w, &task, |t| format!("{}\n\n{section}", t.trim_end()));
    w.sim.inject(Fault::DropAfterApply {
        count: 1,
        method: Some("POST".to_owned()),
        path_contains: Some(path.to_owned()),
    });
    let lost = w.run(&["sync"]).expect(1);
    assert!(lost.stderr.contains("answer was lost"), "{}", lost.stderr);
    task
}

#[test]
fn subtasks_flow_both_ways_added_checked_renamed_and_removed() {
    let w = World::new("newest");
    let parent = w.add_task("Fix the login page", |_| {});
    let from_asana = w.sim.add_subtask(&parent, "Reproduce on Safari");
    w.sync();

    // Asana's subtask is a checklist line with its marker, after the description.
    let (_, text) = w.file_of(&parent);
    let line = line_with(&text, &from_asana).expect("a line for the subtask");
    assert_eq!(
        line,
        format!("- [ ] Reproduce on Safari <!-- asana:{from_asana} -->")
    );
    assert!(text.contains("\n## Subtasks\n"), "{text}");

    // A line typed in the file becomes a subtask, then carries its marker.
    edit_file(&w, &parent, |t| {
        t.replacen(&line, &format!("{line}\n- [ ] Check the CSP headers"), 1)
    });
    w.sync();
    assert_eq!(
        subtasks(&w, &parent),
        vec![
            ("Reproduce on Safari".to_owned(), false),
            ("Check the CSP headers".to_owned(), false)
        ]
    );
    let (_, text) = w.file_of(&parent);
    let made = w.sim.subtasks(&parent)[1].clone();
    assert_eq!(
        line_with(&text, &made).as_deref(),
        Some(format!("- [ ] Check the CSP headers <!-- asana:{made} -->").as_str()),
        "{text}"
    );
    assert!(
        !text.contains("- [ ] Check the CSP headers\n"),
        "no second, unmarked line: {text}"
    );

    // Checked and renamed in the file: both reach Asana.
    edit_file(&w, &parent, |t| {
        t.replace(
            "- [ ] Reproduce on Safari <!--",
            "- [x] Reproduce on Safari 17 <!--",
        )
    });
    w.sync();
    assert_eq!(
        subtasks(&w, &parent)[0],
        ("Reproduce on Safari 17".to_owned(), true)
    );

    // Renamed and checked in Asana: the line follows.
    w.sim.edit_task(
        &made,
        TaskEdit {
            name: Some("Check CSP and HSTS".to_owned()),
            completed: Some(true),
            ..TaskEdit::default()
        },
    );
    w.sync();
    let (_, text) = w.file_of(&parent);
    assert_eq!(
        line_with(&text, &made).as_deref(),
        Some(format!("- [x] Check CSP and HSTS <!-- asana:{made} -->").as_str())
    );

    // A subtask added in Asana later appends a line.
    let later = w.sim.add_subtask(&parent, "Write the postmortem");
    w.sync();
    let (_, text) = w.file_of(&parent);
    assert!(line_with(&text, &later).is_some(), "{text}");

    // A line removed from the file deletes its (unchanged) subtask; the others stay.
    edit_file(&w, &parent, |t| {
        let gone = line_with(t, &later).unwrap();
        t.replace(&format!("{gone}\n"), "")
    });
    let run = w.sync();
    assert_eq!(
        w.sim.subtasks(&parent),
        vec![from_asana.clone(), made.clone()]
    );
    assert!(
        run.stdout.contains("Write the postmortem") && run.stdout.contains("trash"),
        "the deletion is told, with the way back: {}",
        run.stdout
    );

    // Settled: a further sync writes nothing anywhere, and no subtask became a file.
    w.sim.clear_requests();
    let before = w.files();
    w.sync();
    assert!(w.writes().is_empty(), "{:?}", w.writes());
    assert_eq!(w.files(), before);
    assert_eq!(
        before.len(),
        1,
        "a subtask is never a task file: {:?}",
        before.keys()
    );
}

#[test]
fn a_subtask_removed_from_the_file_but_changed_in_asana_is_kept_and_written_back() {
    let w = World::new("newest");
    let parent = w.add_task("Parent", |_| {});
    let a = w.sim.add_subtask(&parent, "One");
    let b = w.sim.add_subtask(&parent, "Two");
    w.sync();
    edit_file(&w, &parent, |t| {
        let gone = line_with(t, &a).unwrap();
        t.replace(&format!("{gone}\n"), "")
    });
    w.sim.edit_task(
        &a,
        TaskEdit {
            name: Some("One, renamed in Asana".to_owned()),
            ..TaskEdit::default()
        },
    );
    let run = w.run(&["sync"]).expect(1);
    assert!(
        run.stderr.contains("changed in Asana since"),
        "{}",
        run.stderr
    );
    assert_eq!(w.sim.subtasks(&parent), vec![a.clone(), b.clone()]);
    let (_, text) = w.file_of(&parent);
    assert!(
        line_with(&text, &a).is_some_and(|l| l.contains("One, renamed in Asana")),
        "{text}"
    );

    // The whole section gone (an old copy of the file): nothing is deleted.
    edit_file(&w, &parent, |t| {
        t.split("\n## Subtasks").next().unwrap().to_owned() + "\n"
    });
    w.sync();
    assert_eq!(w.sim.subtasks(&parent), vec![a.clone(), b.clone()]);
    let (_, text) = w.file_of(&parent);
    assert!(
        line_with(&text, &a).is_some() && line_with(&text, &b).is_some(),
        "{text}"
    );
}

#[test]
fn comments_flow_both_ways_and_only_the_bridges_own_are_edited() {
    let w = World::new("newest");
    let task = w.add_task("Fix the login page", |_| {});
    let alices = w.sim.add_comment_as(
        "alice@example.com",
        &task,
        comment("Seen on Safari 16 too."),
    );
    w.sync();

    // Alice's comment is a block with its author, time and marker.
    let (_, text) = w.file_of(&task);
    let heading = line_with(&text, &alices).expect("a block for the comment");
    assert!(heading.starts_with("### Alice Example · 20"), "{heading}");
    assert!(
        text.contains(&format!("{heading}\nSeen on Safari 16 too."))
            || text.contains(&format!("{heading}\n\nSeen on Safari 16 too.")),
        "{text}"
    );
    assert!(text.contains("\n## Comments\n"), "{text}");

    // A block typed without a marker is posted as the bridge's user, then marked.
    edit_file(&w, &task, |t| {
        format!("{}\n### Reply\nThanks, **fixing** it now.\n", t.trim_end())
    });
    w.sync();
    let comments = w.sim.comments(&task);
    assert_eq!(comments.len(), 2, "{comments:?}");
    let mine = comments[1].clone();
    assert_eq!(mine.author, "bridge-bot@example.com");
    assert!(
        mine.html_text.contains("<strong>fixing</strong>"),
        "{}",
        mine.html_text
    );
    let (_, text) = w.file_of(&task);
    assert!(
        line_with(&text, &mine.gid).is_some_and(|h| h.starts_with("### Asana Bridge Bot · ")),
        "{text}"
    );
    assert!(!text.contains("### Reply"), "{text}");

    // The bridge's own comment edited in the file: edited in Asana.
    edit_file(&w, &task, |t| {
        t.replace("Thanks, **fixing** it now.", "Thanks, fixed in 2.4.1.")
    });
    w.sync();
    let now = w.sim.comments(&task);
    assert_eq!(now.len(), 2);
    assert_eq!(now[1].text, "Thanks, fixed in 2.4.1.");
    assert!(now[1].edited);

    // Alice's comment edited in the file: reported, not sent, the edit kept in the file.
    edit_file(&w, &task, |t| {
        t.replace("Seen on Safari 16 too.", "Seen on Safari 15 too.")
    });
    let run = w.run(&["sync"]).expect(1);
    assert!(
        run.stderr.contains("Alice Example") && run.stderr.contains("not sent"),
        "{}",
        run.stderr
    );
    assert_eq!(w.sim.comments(&task)[0].text, "Seen on Safari 16 too.");
    assert!(w.file_of(&task).1.contains("Seen on Safari 15 too."));

    // Alice edits it in Asana: her new text wins... only where the file had not changed
    // it; here both changed, so both are kept and reported.
    w.sim.edit_comment(&alices, "Seen on Safari 16 and 17.");
    let run = w.run(&["sync"]).expect(1);
    assert!(run.stderr.contains("changed both"), "{}", run.stderr);

    // Put back as Asana has it, then her later edits flow to the file.
    edit_file(&w, &task, |t| {
        t.replace("Seen on Safari 15 too.", "Seen on Safari 16 and 17.")
    });
    w.sync();
    w.sim.edit_comment(&alices, "Seen on every Safari.");
    w.sync();
    assert!(w.file_of(&task).1.contains("Seen on every Safari."));

    // Removing a block deletes nothing.
    edit_file(&w, &task, |t| {
        let h = line_with(t, &alices).unwrap();
        t.replace(&h, "").replace("Seen on every Safari.", "")
    });
    w.sync();
    assert_eq!(w.sim.comments(&task).len(), 2);

    // Settled.
    w.sim.clear_requests();
    w.sync();
    assert!(w.writes().is_empty(), "{:?}", w.writes());
}

#[test]
fn a_comment_whose_answer_was_lost_is_not_posted_twice() {
    let w = World::new("newest");
    let task = lost_create(&w, "## Comments\n### New\nShipped.\n", "/stories");
    w.sync();
    let comments = w.sim.comments(&task);
    assert_eq!(comments.len(), 1, "{comments:?}");
    let (_, text) = w.file_of(&task);
    assert!(line_with(&text, &comments[0].gid).is_some(), "{text}");
    assert_eq!(text.matches("Shipped.").count(), 1, "{text}");
}

#[test]
fn a_run_killed_right_after_posting_a_comment_leaves_no_duplicate() {
    let w = World::new("newest");
    let task = w.add_task("Task", |_| {});
    w.sync();
    edit_file(&w, &task, |t| {
        format!("{}\n\n## Comments\n### New\nOn it.\n", t.trim_end())
    });
    w.sim.clear_requests();
    let mut child = w
        .command()
        .arg("sync")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let posted = common::eventually(std::time::Duration::from_secs(20), || {
        w.sim
            .requests()
            .iter()
            .any(|r| r.method == "POST" && r.path.ends_with("/stories"))
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(posted, "the comment was posted before the kill");
    w.sync();
    w.sync();
    assert_eq!(
        w.sim.comments(&task).len(),
        1,
        "{:?}",
        w.sim.comments(&task)
    );
    assert_eq!(w.file_of(&task).1.matches("On it.").count(), 1);
}

#[test]
fn a_burst_of_fifty_comments_arrives_in_order_and_settles() {
    let w = World::new("newest");
    let task = w.add_task("Busy task", |_| {});
    w.sync();
    for i in 0..50 {
        w.sim.add_comment_as(
            "alice@example.com",
            &task,
            comment(&format!("Comment number {i}.")),
        );
    }
    w.sim.clear_requests();
    w.sync();
    let reads = w
        .sim
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/stories"))
        .count();
    assert_eq!(reads, 1, "one page of stories");
    let (_, text) = w.file_of(&task);
    let order: Vec<usize> = (0..50)
        .map(|i| {
            text.find(&format!("Comment number {i}."))
                .expect("each comment")
        })
        .collect();
    assert!(order.windows(2).all(|p| p[0] < p[1]), "oldest first");
    assert_eq!(text.matches("### Alice Example").count(), 50);
    w.sim.clear_requests();
    w.sync();
    assert!(w.writes().is_empty());
}

#[test]
fn comments_off_reads_and_writes_none_and_a_quiet_resync_reads_nothing_more() {
    let w = World::new("newest");
    w.write_config_full("newest", "", "comments = false");
    let task = w.add_task("Task", |_| {});
    w.sim
        .add_comment_as("alice@example.com", &task, comment("Not mirrored."));
    w.sync();
    assert!(!w.file_of(&task).1.contains("Not mirrored."));
    assert!(
        !w.sim
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/stories")),
        "no comment is read"
    );
    // A task without subtasks is never asked for them; a quiet resync is one request.
    assert!(
        !w.sim
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/subtasks"))
    );
    w.sim.clear_requests();
    w.sync();
    assert_eq!(w.sim.requests().len(), 1, "{:?}", w.sim.requests());
}

#[test]
fn a_subtask_whose_answer_was_lost_is_not_created_twice() {
    let w = World::new("newest");
    let parent = lost_create(&w, "## Subtasks\n- [ ] Write the test\n", "/subtasks");
    w.sync();
    assert_eq!(
        subtasks(&w, &parent),
        vec![("Write the test".to_owned(), false)]
    );
    let made = w.sim.subtasks(&parent)[0].clone();
    let (_, text) = w.file_of(&parent);
    assert!(line_with(&text, &made).is_some(), "{text}");
    assert_eq!(text.matches("Write the test").count(), 1, "{text}");
}

/// A double fault: a create's answer lost, and then the state folder lost before the
/// next run (the pending create went with it). The unmarked line and block are paired
/// with the subtask and comment they made (equal, and shown by no line or block), not
/// created a second time.
#[test]
fn a_lost_answer_then_a_lost_state_folder_makes_no_duplicate() {
    for (section, path) in [
        ("## Subtasks\n- [ ] Write the test\n", "/subtasks"),
        ("## Comments\n### New\nShipped.\n", "/stories"),
    ] {
        let w = World::new("newest");
        let task = lost_create(&w, section, path);
        std::fs::remove_dir_all(w.state_dir()).expect("state folder removed");
        w.sync();
        w.sim.clear_requests();
        let (_, text) = w.file_of(&task);
        if path == "/subtasks" {
            assert_eq!(
                subtasks(&w, &task),
                vec![("Write the test".to_owned(), false)]
            );
            let made = w.sim.subtasks(&task)[0].clone();
            assert!(line_with(&text, &made).is_some(), "{text}");
            assert_eq!(text.matches("Write the test").count(), 1, "{text}");
        } else {
            let comments = w.sim.comments(&task);
            assert_eq!(comments.len(), 1, "{comments:?}");
            assert!(line_with(&text, &comments[0].gid).is_some(), "{text}");
            assert_eq!(text.matches("Shipped.").count(), 1, "{text}");
        }
        // Settled.
        w.sync();
        assert!(w.writes().is_empty(), "{:?}", w.writes());
    }
}

/// A line checked after its create's answer was lost: the next run pairs the line with
/// the subtask it made and sends the check (the subtask was made from that line), once.
#[test]
fn a_line_checked_after_its_create_was_lost_is_paired_and_the_check_sent() {
    let w = World::new("newest");
    let parent = lost_create(&w, "## Subtasks\n- [ ] Write the test\n", "/subtasks");
    edit_file(&w, &parent, |t| {
        t.replace("- [ ] Write the test", "- [x] Write the test")
    });
    let out = w.sync();
    assert!(!out.stderr.contains("never synced"), "{}", out.stderr);
    assert_eq!(
        subtasks(&w, &parent),
        vec![("Write the test".to_owned(), true)]
    );
    let made = w.sim.subtasks(&parent)[0].clone();
    let (_, text) = w.file_of(&parent);
    let line = line_with(&text, &made).unwrap_or_else(|| panic!("no marked line: {text}"));
    assert!(line.starts_with("- [x] Write the test"), "{line}");
    w.sim.clear_requests();
    w.sync();
    assert!(w.writes().is_empty(), "{:?}", w.writes());
}

#[test]
fn reordering_the_checklist_is_not_an_edit() {
    let w = World::new("newest");
    let parent = w.add_task("Parent", |_| {});
    let a = w.sim.add_subtask(&parent, "One");
    let b = w.sim.add_subtask(&parent, "Two");
    let c = w.sim.add_subtask(&parent, "Three");
    w.sync();

    // The lines moved around in the file (Three first, One last): nothing to send.
    edit_file(&w, &parent, |t| {
        let (la, lb, lc) = (
            line_with(t, &a).unwrap(),
            line_with(t, &b).unwrap(),
            line_with(t, &c).unwrap(),
        );
        t.replace(
            &format!("{la}\n{lb}\n{lc}\n"),
            &format!("{lc}\n{lb}\n{la}\n"),
        )
    });
    let (name, reordered) = w.file_of(&parent);
    assert!(
        reordered.find("Three").unwrap() < reordered.find("One").unwrap(),
        "{reordered}"
    );
    w.sim.clear_requests();
    w.sync();
    assert!(
        w.writes().is_empty(),
        "a new order is not an edit: {:?}",
        w.writes()
    );
    assert_eq!(
        w.sim.subtasks(&parent),
        vec![a, b, c],
        "Asana's order stays"
    );
    assert_eq!(w.files()[&name], reordered, "the file keeps its own order");

    // And it stays settled.
    w.sync();
    assert!(w.writes().is_empty(), "{:?}", w.writes());
    assert_eq!(w.files()[&name], reordered);
}

/// The tasks whose subtasks `sim` was asked for since its log was last cleared.
fn subtask_reads(w: &World) -> Vec<String> {
    w.sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/subtasks"))
        .map(|r| r.path)
        .collect()
}

/// A listing of every task cannot tell a subtask renamed or checked in Asana (its
/// parent's `modified_at` and `num_subtasks` stay). With `sync --full` the feed still
/// says which; when its token expired, every task with subtasks is read. Either way the
/// line follows, and a task without subtasks costs no subtask read (a comment added to it
/// meanwhile comes through its `modified_at`).
#[test]
fn a_subtask_edited_in_asana_reaches_its_line_after_a_full_listing() {
    let w = World::new("newest");
    let parent = w.add_task("Ship the release", |_| {});
    let other = w.add_task("Other parent", |_| {});
    let bare = w.add_task("No subtasks", |_| {});
    let renamed = w.sim.add_subtask(&parent, "Tag the build");
    let checked = w.sim.add_subtask(&other, "Write the notes");
    w.sync();
    let line = |gid: &str, of: &str| line_with(&w.file_of(of).1, gid).expect("a line");
    assert_eq!(
        line(&renamed, &parent),
        format!("- [ ] Tag the build <!-- asana:{renamed} -->")
    );

    // `sync --full`: every task listed, and the feed read besides.
    w.sim.edit_task(
        &renamed,
        TaskEdit {
            name: Some("Tag and sign the build".to_owned()),
            ..TaskEdit::default()
        },
    );
    w.sim.clear_requests();
    w.run(&["sync", "--full"]).expect(0);
    assert_eq!(
        line(&renamed, &parent),
        format!("- [ ] Tag and sign the build <!-- asana:{renamed} -->")
    );
    assert_eq!(
        subtask_reads(&w),
        vec![format!("/tasks/{parent}/subtasks")],
        "only the task whose subtask changed is read"
    );
    assert!(w.writes().is_empty(), "{:?}", w.writes());

    // The feed's token expired: the listing cannot say, so every task with subtasks is
    // read, and the task without is not.
    w.sim.edit_task(
        &checked,
        TaskEdit {
            completed: Some(true),
            ..TaskEdit::default()
        },
    );
    // A comment added meanwhile moves its task's `modified_at`: the listing shows it.
    w.sim
        .add_comment_as("alice@example.com", &bare, comment("Seen on staging."));
    w.sim.expire_sync_tokens();
    w.sim.clear_requests();
    w.sync();
    assert!(
        w.file_of(&bare).1.contains("Seen on staging."),
        "{}",
        w.file_of(&bare).1
    );
    assert_eq!(
        line(&checked, &other),
        format!("- [x] Write the notes <!-- asana:{checked} -->")
    );
    let mut read = subtask_reads(&w);
    read.sort();
    let mut want = vec![
        format!("/tasks/{parent}/subtasks"),
        format!("/tasks/{other}/subtasks"),
    ];
    want.sort();
    assert_eq!(read, want, "{bare} has no subtasks and is not read");
    assert!(w.writes().is_empty(), "{:?}", w.writes());

    // Settled: the next run reads no subtasks and writes nothing.
    w.sim.clear_requests();
    let before = w.files();
    w.sync();
    assert!(subtask_reads(&w).is_empty(), "{:?}", subtask_reads(&w));
    assert!(w.writes().is_empty(), "{:?}", w.writes());
    assert_eq!(w.files(), before);
}
