//! Ready-made data: the demo roadmap (a handful of realistic tasks with sections, tags,
//! assignees, due dates and one completed task) and N generated tasks for benchmarks.

use crate::{Simulator, TaskSeed};

/// Creates the "Demo roadmap" project and returns its gid.
pub fn demo(sim: &Simulator) -> String {
    let project = sim.create_project("Demo roadmap");
    for section in ["Backlog", "In progress", "Done"] {
        sim.add_section(&project, section);
    }
    let tasks = [
        (
            "Fix the login page",
            "Users on Safari see a blank page after submitting the form.\n\nSteps:\n1. Open /login in Safari 17\n2. Submit valid credentials",
            false,
            Some("2026-12-01"),
            Some("alice@example.com"),
            vec!["bug", "p1"],
            "In progress",
        ),
        (
            "Write the onboarding guide",
            "Cover install, first sync and conflict resolution.",
            false,
            Some("2026-12-15"),
            Some("bob@example.com"),
            vec!["docs"],
            "Backlog",
        ),
        (
            "Add dark mode",
            "",
            false,
            None,
            None,
            vec!["feature"],
            "Backlog",
        ),
        (
            "Set up CI",
            "Run tests and clippy on every push.",
            true,
            Some("2026-11-20"),
            Some("alice@example.com"),
            vec!["infra"],
            "Done",
        ),
        (
            "Plan the Q1 roadmap",
            "Collect input from sales and support.",
            false,
            Some("2027-01-10"),
            Some("bob@example.com"),
            vec![],
            "Backlog",
        ),
    ];
    for (name, notes, completed, due_on, assignee, tags, section) in tasks {
        sim.add_task(
            &project,
            TaskSeed {
                name: name.to_owned(),
                notes: notes.to_owned(),
                completed,
                due_on: due_on.map(str::to_owned),
                assignee: assignee.map(str::to_owned),
                tags: tags.into_iter().map(str::to_owned).collect(),
                section: Some(section.to_owned()),
                ..TaskSeed::default()
            },
        );
    }
    project
}

/// Adds `n` generated tasks to `project`: a mix of sections, assignees, tags, due dates
/// and completion, deterministic in `n`.
pub fn generated(sim: &Simulator, project: &str, n: usize) {
    let sections = ["Backlog", "In progress", "Done"];
    let people = [None, Some("alice@example.com"), Some("bob@example.com")];
    for i in 0..n {
        let mut tags = Vec::new();
        if i % 5 == 0 {
            tags.push("bug".to_owned());
        }
        if i % 7 == 0 {
            tags.push("p1".to_owned());
        }
        sim.add_task(
            project,
            TaskSeed {
                name: format!("Generated task {i:05}"),
                notes: format!("Notes for generated task {i}.\nSecond line."),
                completed: i % 4 == 3,
                due_on: (i % 3 == 0).then(|| format!("2027-{:02}-{:02}", 1 + i % 12, 1 + i % 28)),
                assignee: people[i % people.len()].map(str::to_owned),
                tags,
                section: Some(sections[i % sections.len()].to_owned()),
                ..TaskSeed::default()
            },
        );
    }
}
