//! End to end through the real binary: a task file's `## Subtasks` and `## Comments`
//! sections are never part of the task's description in Asana, and a description edited in
//! Asana reaches the file with its sections kept byte for byte. Headings that are not the
//! bridge's (a nested checklist under `## Subtasks`) are description like any other text.

#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod common;

use common::{TaskEdit, World};

/// The sections stay in the file: the description goes to Asana without them, and comes
/// back from Asana in front of them.
#[test]
fn sections_are_not_the_description() {
    let w = World::new("newest");
    let gid = w.add_task("Fix the login page", |t| t.notes = "old notes".into());
    w.sync();
    let (name, text) = w.file_of(&gid);
    let front_end = text.find("---\nold notes").expect("front matter") + 4;
    let sections = "## Subtasks\n\n## Comments\n";
    w.write(
        &name,
        format!("{}Edited **locally**.\n\n{sections}", &text[..front_end]),
    );
    w.sync();
    let t = w.sim.task(&gid).expect("task");
    assert!(t.notes.contains("Edited locally."), "{:?}", t.notes);
    assert!(
        !t.notes.contains("Subtasks") && !t.notes.contains("Comments"),
        "the sections reached Asana: {:?}",
        t.notes
    );
    assert!(!t.html_notes.contains("Subtasks"), "{}", t.html_notes);

    w.sim.edit_task(
        &gid,
        TaskEdit {
            notes: Some("New from Asana".into()),
            ..TaskEdit::default()
        },
    );
    w.sync();
    let now = w.read(&name);
    assert!(
        now.ends_with(&format!("---\nNew from Asana\n\n{sections}")),
        "{now}"
    );
    // And the next run has nothing to do.
    w.sim.clear_requests();
    w.sync();
    assert_eq!(w.writes(), Vec::<String>::new());
    assert_eq!(w.read(&name), now);
}

/// A `## Subtasks` heading followed by a nested checklist is the description's own: it
/// goes to Asana as description text.
#[test]
fn a_nested_checklist_is_description() {
    let w = World::new("newest");
    w.write(
        "plan.md",
        "---\ntitle: Plan\n---\nIntro.\n\n## Subtasks\n\n- [ ] top level\n  - [ ] nested level\n",
    );
    let out = w.sync();
    assert!(out.stdout.contains("1 created in Asana"), "{}", out.stdout);
    let tasks = w.sim.project_tasks(&w.project);
    let plan = tasks.iter().find(|t| t.name == "Plan").expect("created");
    assert!(plan.notes.contains("Subtasks"), "{:?}", plan.notes);
    assert!(plan.notes.contains("nested level"), "{:?}", plan.notes);
}
