//! Due times and start dates end to end through the binary (issue 15, "Dates"): a task
//! due at a time keeps its time both ways (never flattened to a day), a start date travels
//! with the due date Asana needs beside it, Asana's rules are item errors naming the file,
//! and a resync after each step writes nothing.

#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod common;

use common::{TaskEdit, World};

/// Rewrites `key` in the front matter of the file of task `gid` (see [`common::set_front`]).
fn set_front(w: &World, gid: &str, key: &str, value: Option<&str>) {
    let (name, text) = w.file_of(gid);
    w.write(&name, common::set_front(&text, key, value));
}

#[track_caller]
fn quiet(w: &World) {
    w.sim.clear_requests();
    let out = w.sync();
    assert!(out.stdout.contains("no changes"), "{}", out.stdout);
    assert!(w.writes().is_empty(), "{:?}", w.writes());
}

#[test]
fn due_times_and_start_dates_flow_both_ways_and_are_never_flattened() {
    let w = World::new("newest");
    let timed = w.add_task("Launch", |s| {
        s.due_at = Some("2027-05-06T14:30:00Z".into());
        s.start_on = Some("2027-05-01".into());
    });
    let dated = w.add_task("Review", |s| s.due_on = Some("2027-06-01".into()));
    w.sync();
    let (_, text) = w.file_of(&timed);
    assert_eq!(
        World::front(&text, "due_at").as_deref(),
        Some("2027-05-06T14:30:00Z"),
        "{text}"
    );
    assert_eq!(World::front(&text, "due_on"), None, "{text}");
    assert_eq!(
        World::front(&text, "start_on").as_deref(),
        Some("2027-05-01")
    );
    let (_, text) = w.file_of(&dated);
    assert_eq!(World::front(&text, "due_on").as_deref(), Some("2027-06-01"));
    quiet(&w);

    // A time written with an offset in the file: the same moment in Asana, time kept.
    set_front(&w, &timed, "due_at", Some("2027-05-07T09:00:00+02:00"));
    w.sync();
    let task = w.sim.task(&timed).expect("task");
    assert_eq!(task.due_at.as_deref(), Some("2027-05-07T07:00:00.000Z"));
    assert_eq!(task.due_on.as_deref(), Some("2027-05-07"));
    assert_eq!(task.start_on.as_deref(), Some("2027-05-01"));
    quiet(&w);

    // A day becomes a time, and a start date is added: one request carries both.
    set_front(&w, &dated, "due_on", None);
    set_front(&w, &dated, "due_at", Some("2027-06-01T08:00:00Z"));
    set_front(&w, &dated, "start_on", Some("2027-05-20"));
    w.sync();
    let task = w.sim.task(&dated).expect("task");
    assert_eq!(
        (task.due_at.as_deref(), task.start_on.as_deref()),
        (Some("2027-06-01T08:00:00.000Z"), Some("2027-05-20"))
    );
    quiet(&w);

    // In Asana the time is dropped for a day: the file's `due_at` line becomes `due_on`.
    w.sim.edit_task(
        &timed,
        TaskEdit {
            due_on: Some(Some("2027-05-08".into())),
            start_on: Some(Some("2027-05-02".into())),
            ..TaskEdit::default()
        },
    );
    w.sync();
    let (_, text) = w.file_of(&timed);
    assert_eq!(
        World::front(&text, "due_on").as_deref(),
        Some("2027-05-08"),
        "{text}"
    );
    assert_eq!(World::front(&text, "due_at"), None, "{text}");
    assert_eq!(
        World::front(&text, "start_on").as_deref(),
        Some("2027-05-02")
    );
    quiet(&w);
}

#[test]
fn asanas_date_rules_are_item_errors_naming_the_file() {
    let w = World::new("newest");
    let gid = w.add_task("Plan", |s| s.due_on = Some("2027-01-10".into()));
    w.sync();

    // Both a day and a time: the file is refused, nothing is created.
    w.write(
        "both.md",
        "---\ntitle: Both\ndue_on: 2027-01-01\ndue_at: 2027-01-01T10:00:00Z\n---\n",
    );
    let out = w.run(&["sync"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("both.md") && out.stderr.contains("not both"),
        "{}",
        out.stderr
    );
    assert!(
        !w.sim
            .project_tasks(&w.project)
            .iter()
            .any(|t| t.name == "Both")
    );
    std::fs::remove_file(w.md().join("both.md")).expect("remove");

    // A start date after the due date: that field is refused, naming the task's file and
    // the rule; the title edited beside it still reaches Asana.
    set_front(&w, &gid, "start_on", Some("2027-02-01"));
    set_front(&w, &gid, "title", Some("Plan, renamed"));
    let out = w.run(&["sync"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("after the due date 2027-01-10"),
        "{}",
        out.stderr
    );
    let (name, _) = w.file_of(&gid);
    assert!(out.stderr.contains(&name), "{}", out.stderr);
    let task = w.sim.task(&gid).expect("task");
    assert_eq!(task.name, "Plan, renamed");
    assert_eq!(task.start_on, None);
    assert_eq!(task.due_on.as_deref(), Some("2027-01-10"));

    // Fixed in the file: it goes through.
    set_front(&w, &gid, "start_on", Some("2027-01-05"));
    w.sync();
    assert_eq!(
        w.sim.task(&gid).expect("task").start_on.as_deref(),
        Some("2027-01-05")
    );
    quiet(&w);
}
