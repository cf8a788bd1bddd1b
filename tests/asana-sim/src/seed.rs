//! Ready-made data: the demo roadmap (a handful of realistic tasks with sections, tags,
//! assignees, due dates and one completed task) and N generated tasks for benchmarks.

use crate::{SimValue, Simulator, TaskSeed};

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

/// The five custom fields [`generated_rich`] enables: name, type, enum options.
pub const RICH_FIELDS: [(&str, &str, &[&str]); 5] = [
    ("Priority", "enum", &["Low", "Medium", "High"]),
    ("Estimate", "number", &[]),
    ("Platforms", "multi_enum", &["Web", "iOS", "Android"]),
    ("Launch", "date", &[]),
    ("Ticket", "text", &[]),
];

/// Adds `n` tasks to `project` as a team that lives in rich text and custom fields keeps
/// them: each has a formatted description of about 1 KB (headings, emphasis, links,
/// nested lists, a quote, a code block, a mention) and a value in each of
/// [`RICH_FIELDS`], enabled on the project. Deterministic in `n`.
pub fn generated_rich(sim: &Simulator, project: &str, n: usize) {
    for (name, subtype, options) in RICH_FIELDS {
        sim.add_custom_field(project, name, subtype, options);
    }
    let platforms = ["Web", "iOS", "Android"];
    for i in 0..n {
        let html = format!(
            "<body><h1>Task {i}</h1>Make the build <strong>fast</strong> and <em>small</em>, \
             see <a href=\"https://example.com/spec/{i}\">the spec</a> and \
             <u>underline</u> <s>what is gone</s> with <code>cargo test</code>.\n\
             <h2>Steps</h2><ol><li>Reproduce on a clean machine</li><li>Bisect the \
             change<ul><li>between the last two releases</li><li>with the cache \
             cleared</li></ul></li><li>Write the regression test first</li></ol>\
             <blockquote>Anything that reaches users must be tested end to end, not only \
             in units.</blockquote>Ask <a data-asana-gid=\"1200\" data-asana-type=\"user\"/> \
             before merging.\n<pre>cargo test --workspace\ncargo clippy --all-targets</pre>\
             <ul><li>Check the changelog entry for task {i}</li><li>Check the README \
             section it touches</li><li>Ask for a review from the owners of the area\
             </li></ul><hr/>Notes kept by the team, item {i}: the estimate is rough, the \
             launch date is firm.</body>"
        );
        let gid = sim.add_task(
            project,
            TaskSeed {
                name: format!("Rich task {i:05}"),
                html_notes: Some(html),
                completed: i % 4 == 3,
                due_on: (i % 3 == 0).then(|| format!("2027-{:02}-{:02}", 1 + i % 12, 1 + i % 28)),
                tags: if i % 5 == 0 {
                    vec!["bug".to_owned()]
                } else {
                    Vec::new()
                },
                section: Some(["Backlog", "In progress", "Done"][i % 3].to_owned()),
                ..TaskSeed::default()
            },
        );
        let values = [
            (
                "Priority",
                SimValue::Options(vec![["Low", "Medium", "High"][i % 3].to_owned()]),
            ),
            ("Estimate", SimValue::Number((i % 13) as f64 + 0.5)),
            (
                "Platforms",
                SimValue::Options(
                    platforms[..1 + i % 3]
                        .iter()
                        .map(|s| (*s).to_owned())
                        .collect(),
                ),
            ),
            (
                "Launch",
                SimValue::Date(format!("2027-{:02}-{:02}", 1 + i % 12, 1 + i % 28)),
            ),
            ("Ticket", SimValue::Text(format!("WEB-{i}"))),
        ];
        for (field, value) in values {
            sim.set_custom_value(&gid, field, Some(value));
        }
    }
}
