//! End to end, issue 19's last case: a lost state folder on a GitHub link never
//! duplicates a pair born on GitHub. The bridge writes nothing on an issue it adopts, so
//! the task it creates for such an issue names it instead, in one line at the end of the
//! task's description ("Mirrored from GitHub: acme/app#1"); after the records are lost,
//! that line (and only for an issue no footer pairs) finds the pair again. Through the real
//! binary against the Asana and GitHub simulators.

#[path = "common/github.rs"]
#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod gh;

use gh::{GhWorld, IssueEdit, TaskEdit};

/// The line the bridge ends a task made from issue `n` of `acme/app` with, as rich text.
fn line(n: u64) -> String {
    format!(
        "Mirrored from GitHub: <a href=\"https://github.com/acme/app/issues/{n}\">acme/app#{n}</a>"
    )
}

/// Deletes the link's state folder, as a lost disk or a fresh checkout would.
fn lose_state(w: &GhWorld) {
    std::fs::remove_dir_all(w.dir.path().join(".asana-bridge")).expect("state folder");
}

/// A sync that writes nothing on either side.
#[track_caller]
fn assert_quiet(w: &GhWorld) {
    w.clear_requests();
    let out = w.run(&["sync"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(w.all_writes(), Vec::<String>::new());
}

/// The only task of the project.
#[track_caller]
fn only_task(w: &GhWorld) -> asana_sim::SimTask {
    let tasks = w.asana.project_tasks(&w.project);
    assert_eq!(tasks.len(), 1, "{tasks:#?}");
    tasks[0].clone()
}

/// An issue opened on GitHub gets a task whose description ends with the line naming it;
/// the issue itself is never written. With the state folder deleted, the next sync finds
/// the pair again: no new task, no new issue, no write at all; an edit afterwards flows as
/// before, and the line stays at the end of the description.
#[test]
fn a_pair_born_on_github_survives_a_lost_state_folder() {
    let w = GhWorld::new("asana");
    let n = w.add_issue("Born on GitHub", |i| {
        i.body = Some("Opened on GitHub.".into());
    });
    w.sync();
    let task = only_task(&w);
    assert_eq!(
        task.html_notes,
        format!("<body>Opened on GitHub.\n{}</body>", line(n))
    );
    assert_eq!(w.github.issue(n).expect("issue").api_writes, 0);
    assert_quiet(&w);

    lose_state(&w);
    w.clear_requests();
    let out = w.sync();
    assert_eq!(w.asana.project_tasks(&w.project).len(), 1, "{}", out.stdout);
    assert_eq!(w.github.repo_issues().len(), 1, "{}", out.stdout);
    assert_eq!(w.all_writes(), Vec::<String>::new(), "{}", out.stdout);
    assert_quiet(&w);

    // The pair syncs again: the issue's new body reaches the task, the line kept.
    w.github.edit_issue(
        n,
        IssueEdit {
            body: Some(Some("Edited on GitHub.".into())),
            ..IssueEdit::default()
        },
    );
    w.sync();
    assert_eq!(
        only_task(&w).html_notes,
        format!("<body>Edited on GitHub.\n{}</body>", line(n))
    );
    assert_eq!(w.github.repo_issues().len(), 1);
    assert_quiet(&w);
}

/// Without records, fields that differ between the re-found sides are conflicts, never
/// overwritten (contract, Safety): the task's title edited while the state was lost
/// stays, and so does the issue's.
#[test]
fn a_re_found_pair_without_a_base_overwrites_nothing() {
    let w = GhWorld::new("asana");
    let n = w.add_issue("Same title", |_| {});
    w.sync();
    let gid = only_task(&w).gid;
    lose_state(&w);
    w.asana.edit_task(
        &gid,
        TaskEdit {
            name: Some("Renamed in Asana".into()),
            ..TaskEdit::default()
        },
    );
    let out = w.run(&["sync"]);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(only_task(&w).name, "Renamed in Asana", "{said}");
    let issues = w.github.repo_issues();
    assert_eq!(issues.len(), 1, "{issues:#?}");
    assert_eq!(issues[0].title, "Same title");
    assert_eq!(issues[0].number, n);
    assert!(said.contains("conflict"), "{said}");
}

/// A task duplicated in Asana (its description, line included, copied) is a new task:
/// it gets its own issue and never takes the original's. After a lost state, two
/// unpaired tasks naming one issue pair neither: nothing is created and the sync says
/// which tasks name it; once the copy loses the line, the original pairs again and the
/// copy gets an issue of its own.
#[test]
fn a_copied_task_carrying_the_line_pairs_nothing() {
    let w = GhWorld::new("asana");
    let n = w.add_issue("Original", |i| i.body = Some("Notes.".into()));
    w.sync();
    let original = only_task(&w);
    let copy = w.add_task("Copy", |t| t.html_notes = Some(original.html_notes.clone()));
    w.sync();
    assert_eq!(w.asana.project_tasks(&w.project).len(), 2);
    let issues = w.github.repo_issues();
    assert_eq!(issues.len(), 2, "{issues:#?}");
    assert_eq!(w.issue_of(&copy).title, "Copy");
    let first = w.github.issue(n).expect("issue");
    assert_eq!((first.title.as_str(), first.api_writes), ("Original", 0));
    assert_eq!(w.asana.task(&original.gid).expect("task").name, "Original");

    // Records lost: the copy is found by its issue's footer, the original by its line.
    lose_state(&w);
    w.clear_requests();
    w.sync();
    assert_eq!(w.asana.project_tasks(&w.project).len(), 2);
    assert_eq!(w.github.repo_issues().len(), 2);
    assert_eq!(w.all_writes(), Vec::<String>::new());

    // Lost again, with a second copy made meanwhile: two unpaired tasks name the issue.
    lose_state(&w);
    let second = w.add_task("Second copy", |t| {
        t.html_notes = Some(original.html_notes.clone());
    });
    w.clear_requests();
    let out = w.run(&["sync"]);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(out.code, 1, "{said}");
    let (a, b) = if original.gid.len() < second.len()
        || (original.gid.len() == second.len() && original.gid < second)
    {
        (&original.gid, &second)
    } else {
        (&second, &original.gid)
    };
    assert!(
        said.contains(&format!(
            "Asana tasks {a}, {b} all say they were made from this issue"
        )),
        "{said}"
    );
    assert!(said.contains(&format!("acme/app#{n}")), "{said}");
    assert_eq!(w.asana.project_tasks(&w.project).len(), 3);
    assert_eq!(w.github.repo_issues().len(), 2);
    assert!(
        w.all_writes().iter().all(|r| !r.contains("POST")),
        "{:?}",
        w.all_writes()
    );

    // The second copy's line deleted: the original is paired again, the copy is new.
    w.asana.edit_task(
        &second,
        TaskEdit {
            notes: Some("Notes.".into()),
            ..TaskEdit::default()
        },
    );
    w.sync();
    assert_eq!(w.asana.project_tasks(&w.project).len(), 3);
    let issues = w.github.repo_issues();
    assert_eq!(issues.len(), 3, "{issues:#?}");
    assert_eq!(w.issue_of(&second).title, "Second copy");
    assert_eq!(w.github.issue(n).expect("issue").api_writes, 0);
    assert_quiet(&w);
}
