//! Subtasks and comments end to end through the binary, on a GitHub link (issue 16): the
//! issue body's task list is the task's subtasks (a line added on each side, checked,
//! renamed, removed); Asana comments and issue comments mirror each other both ways, each
//! mirror saying who wrote it and where, edits following their author's side, a mirror
//! edited where it may not be is reported; a post whose answer was lost is not repeated;
//! a burst of 50 issue comments; quiet resyncs write nothing.

#[path = "common/github.rs"]
#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod gh;

use asana_sim::CommentSeed;
use asana_sim::Fault;
use gh::{GhWorld, IssueEdit, TaskEdit};
use github_sim::Role;

/// The body line that carries `gid`'s marker.
fn line_with(body: &str, gid: &str) -> Option<String> {
    let marker = format!("<!-- asana:{gid} -->");
    body.lines()
        .find(|l| l.contains(&marker))
        .map(str::to_owned)
}

fn body_of(w: &GhWorld, number: u64) -> String {
    w.github
        .issue(number)
        .and_then(|i| i.body)
        .unwrap_or_default()
}

fn set_body(w: &GhWorld, number: u64, body: String) {
    w.github.edit_issue(
        number,
        IssueEdit {
            body: Some(Some(body)),
            ..IssueEdit::default()
        },
    );
}

fn subtasks(w: &GhWorld, parent: &str) -> Vec<(String, bool)> {
    w.asana
        .subtasks(parent)
        .into_iter()
        .map(|g| {
            let t = w.asana.task(&g).expect("subtask");
            (t.name, t.completed)
        })
        .collect()
}

/// Write requests on both sides since the last clear.
fn quiet(w: &GhWorld) {
    w.clear_requests();
    w.sync();
    assert!(w.all_writes().is_empty(), "{:?}", w.all_writes());
}

#[test]
fn the_issue_body_task_list_is_the_tasks_subtasks_both_ways() {
    let w = GhWorld::new("newest");
    let parent = w.add_task("Fix the login page", |t| t.notes = "It fails.".into());
    let first = w.asana.add_subtask(&parent, "Reproduce on Safari");
    w.sync();
    let number = w.issue_of(&parent).number;
    let body = body_of(&w, number);
    let line = line_with(&body, &first).expect("a task-list line");
    assert_eq!(
        line,
        format!("- [ ] Reproduce on Safari <!-- asana:{first} -->")
    );
    assert!(body.starts_with("It fails.\n\n## Subtasks\n"), "{body}");
    assert!(
        gh::GhWorld::footer_gid(&w.github.issue(number).unwrap()).as_deref()
            == Some(parent.as_str()),
        "the link line stays last: {body}"
    );
    assert_eq!(
        w.asana.task(&parent).unwrap().notes,
        "It fails.",
        "the list is not the notes"
    );

    // A line added on GitHub becomes a subtask, then carries its marker.
    set_body(
        &w,
        number,
        body.replacen(&line, &format!("{line}\n- [ ] Check the CSP headers"), 1),
    );
    w.sync();
    assert_eq!(
        subtasks(&w, &parent),
        vec![
            ("Reproduce on Safari".to_owned(), false),
            ("Check the CSP headers".to_owned(), false)
        ]
    );
    let made = w.asana.subtasks(&parent)[1].clone();
    let body = body_of(&w, number);
    assert!(line_with(&body, &made).is_some(), "{body}");

    // Checked and renamed on GitHub.
    set_body(
        &w,
        number,
        body.replace(
            "- [ ] Reproduce on Safari <!--",
            "- [x] Reproduce on Safari 17 <!--",
        ),
    );
    w.sync();
    assert_eq!(
        subtasks(&w, &parent)[0],
        ("Reproduce on Safari 17".to_owned(), true)
    );

    // Renamed and checked in Asana.
    w.asana.edit_task(
        &made,
        TaskEdit {
            name: Some("Check CSP and HSTS".to_owned()),
            completed: Some(true),
            ..TaskEdit::default()
        },
    );
    w.sync();
    assert_eq!(
        line_with(&body_of(&w, number), &made).as_deref(),
        Some(format!("- [x] Check CSP and HSTS <!-- asana:{made} -->").as_str())
    );

    // A line removed on GitHub deletes its unchanged subtask.
    let body = body_of(&w, number);
    let gone = line_with(&body, &made).unwrap();
    set_body(&w, number, body.replace(&format!("{gone}\n"), ""));
    w.sync();
    assert_eq!(w.asana.subtasks(&parent), vec![first.clone()]);
    quiet(&w);
}

#[test]
fn comments_mirror_both_ways_saying_who_wrote_them_and_where() {
    let w = GhWorld::new("newest");
    let task = w.add_task("Fix the login page", |_| {});
    let story = w.asana.add_comment_as(
        "alice@example.com",
        &task,
        CommentSeed {
            text: Some("Seen on Safari 16 too.".into()),
            html_text: None,
        },
    );
    w.sync();
    let number = w.issue_of(&task).number;

    // Alice's Asana comment is an issue comment by the bridge, naming her and Asana.
    let on_github = w.github.comments(number);
    assert_eq!(on_github.len(), 1, "{on_github:?}");
    assert_eq!(on_github[0].user, w.github.token_login());
    assert!(
        on_github[0]
            .body
            .starts_with("Seen on Safari 16 too.\n\n<sub>Alice Example · "),
        "{}",
        on_github[0].body
    );
    assert!(
        on_github[0]
            .body
            .ends_with(&format!(", in Asana</sub> <!-- asana:{story} -->")),
        "{}",
        on_github[0].body
    );

    // An issue comment reaches Asana as the bridge's comment naming its author.
    let theirs = w
        .github
        .add_comment(number, "alice-gh", "Fixed in **2.4.1**.");
    w.sync();
    let in_asana = w.asana.comments(&task);
    assert_eq!(in_asana.len(), 2, "{in_asana:?}");
    assert_eq!(in_asana[1].author, "bridge-bot@example.com");
    assert!(
        in_asana[1].html_text.contains("<strong>2.4.1</strong>"),
        "{}",
        in_asana[1].html_text
    );
    assert!(
        in_asana[1]
            .text
            .ends_with(&format!("— @alice-gh on GitHub (comment {theirs})")),
        "{}",
        in_asana[1].text
    );
    assert_eq!(w.github.comments(number).len(), 2, "never mirrored back");

    // Each side's edits follow their author's side.
    w.github
        .edit_comment(theirs, "alice-gh", Role::Write, "Fixed in **2.4.2**.");
    w.sync();
    assert!(w.asana.comments(&task)[1].html_text.contains("2.4.2"));
    w.asana.edit_comment(&story, "Seen on Safari 16 and 17.");
    w.sync();
    let mirror = w.github.comments(number)[0].clone();
    assert!(
        mirror.body.starts_with("Seen on Safari 16 and 17.\n\n"),
        "{}",
        mirror.body
    );

    // The bridge's mirror edited on GitHub by a maintainer: Alice's comment is hers, so the
    // edit is reported and not sent.
    w.github
        .edit_comment(mirror.id, "bob-gh", Role::Admin, "Rewritten by bob.");
    let run = w.run(&["sync"]).expect(1);
    assert!(
        run.stderr.contains("Alice Example") && run.stderr.contains("not sent"),
        "{}",
        run.stderr
    );
    assert_eq!(w.asana.comments(&task)[0].text, "Seen on Safari 16 and 17.");

    // A comment deleted on GitHub deletes nothing in Asana and is not posted back.
    let extra = w.github.add_comment(number, "bob-gh", "Temporary.");
    w.github.edit_comment(
        mirror.id,
        w.github.token_login().as_str(),
        Role::Write,
        &mirror.body,
    );
    w.sync();
    assert_eq!(w.asana.comments(&task).len(), 3);
    w.github.delete_comment(extra, "bob-gh", Role::Write);
    w.sync();
    assert_eq!(w.asana.comments(&task).len(), 3);
    assert_eq!(w.github.comments(number).len(), 2);
    quiet(&w);
}

#[test]
fn an_issue_comment_whose_asana_answer_was_lost_is_not_posted_twice() {
    let w = GhWorld::new("newest");
    let task = w.add_task("Task", |_| {});
    w.sync();
    let number = w.issue_of(&task).number;
    w.github.add_comment(number, "alice-gh", "Repro attached.");
    w.asana.inject(Fault::DropAfterApply {
        count: 1,
        method: Some("POST".to_owned()),
        path_contains: Some("/stories".to_owned()),
    });
    w.run(&["sync"]).expect(1);
    w.sync();
    assert_eq!(
        w.asana.comments(&task).len(),
        1,
        "{:?}",
        w.asana.comments(&task)
    );
    quiet(&w);
}

#[test]
fn a_burst_of_fifty_issue_comments_reaches_asana_in_order() {
    let w = GhWorld::new("newest");
    let task = w.add_task("Busy", |_| {});
    w.sync();
    let number = w.issue_of(&task).number;
    for i in 0..50 {
        w.github
            .add_comment(number, "alice-gh", &format!("Comment number {i}."));
    }
    w.sync();
    let in_asana = w.asana.comments(&task);
    assert_eq!(in_asana.len(), 50);
    for (i, c) in in_asana.iter().enumerate() {
        assert!(
            c.text.starts_with(&format!("Comment number {i}.")),
            "{i}: {}",
            c.text
        );
    }
    quiet(&w);
}

#[test]
fn an_asana_comment_whose_github_answer_was_lost_is_not_posted_twice() {
    let w = GhWorld::new("newest");
    let task = w.add_task("Task", |_| {});
    w.sync();
    let number = w.issue_of(&task).number;
    w.asana.add_comment_as(
        "alice@example.com",
        &task,
        CommentSeed {
            text: Some("Please add a test.".into()),
            html_text: None,
        },
    );
    w.github.inject(github_sim::Fault::DropAfterApply {
        count: 1,
        method: Some("POST".to_owned()),
        path_contains: Some("/comments".to_owned()),
    });
    w.run(&["sync"]).expect(1);
    w.sync();
    let on_github = w.github.comments(number);
    assert_eq!(on_github.len(), 1, "{on_github:?}");
    assert!(on_github[0].body.starts_with("Please add a test."));
    quiet(&w);
}
