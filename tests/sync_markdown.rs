//! End to end: `asana-bridge sync` between the Asana simulator and a Markdown folder,
//! through the real binary.

#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod common;

use common::{Fault, TaskEdit, World};

#[test]
fn initial_import_writes_one_file_per_task_with_every_field() {
    let w = World::new("newest");
    let gid = w.add_task("Fix the login page", |t| {
        t.notes = "Users cannot log in.\nSee the logs.".into();
        t.due_on = Some("2026-12-01".into());
        t.assignee = Some("alice@example.com".into());
        t.tags = vec!["p1".into(), "bug".into()];
        t.section = Some("In progress".into());
    });
    let done = w.add_task("Ship it", |t| t.completed = true);
    let out = w.sync();
    assert!(
        out.stdout.contains("2 created in markdown"),
        "{}",
        out.stdout
    );

    let files = w.files();
    assert_eq!(files.len(), 2, "{files:#?}");
    let text = &files["fix-the-login-page.md"];
    assert_eq!(
        World::front(text, "asana_gid").as_deref(),
        Some(gid.as_str())
    );
    assert_eq!(
        World::front(text, "title").as_deref(),
        Some("Fix the login page")
    );
    assert_eq!(World::front(text, "due_on").as_deref(), Some("2026-12-01"));
    assert_eq!(
        World::front(text, "assignee").as_deref(),
        Some("alice@example.com")
    );
    assert_eq!(
        World::front(text, "section").as_deref(),
        Some("In progress")
    );
    assert!(text.contains("bug") && text.contains("p1"));
    assert!(
        text.ends_with("---\nUsers cannot log in.\nSee the logs.\n"),
        "{text}"
    );
    let (_, shipped) = w.file_of(&done);
    assert_eq!(World::front(&shipped, "completed").as_deref(), Some("true"));
    assert!(
        w.sim.unexpected_requests().is_empty(),
        "{:#?}",
        w.sim.unexpected_requests()
    );
}

#[test]
fn second_sync_makes_zero_writes_and_rewrites_no_file() {
    let w = World::new("newest");
    for i in 0..5 {
        w.add_task(&format!("Task {i}"), |t| t.tags = vec!["x".into()]);
    }
    w.write("local.md", "---\ntitle: Local one\n---\nbody\n");
    w.sync();
    let before = World::tree_snapshot(&w.md());
    w.sim.clear_requests();
    let out = w.sync();
    assert!(out.stdout.contains("no changes"), "{}", out.stdout);
    assert_eq!(w.writes(), Vec::<String>::new());
    assert_eq!(
        World::tree_snapshot(&w.md()),
        before,
        "a file was rewritten"
    );
}

#[test]
fn edits_in_asana_reach_the_file_and_keep_its_other_bytes() {
    let w = World::new("newest");
    let gid = w.add_task("Original", |t| t.notes = "old notes".into());
    w.sync();
    let (name, text) = w.file_of(&gid);
    // The user adds their own key and a comment; the bridge must keep both.
    let edited = text.replace("title:", "# my comment\ncustom_key: keep me\ntitle:");
    w.write(&name, &edited);
    w.sync();

    w.sim.edit_task(
        &gid,
        TaskEdit {
            name: Some("Renamed in Asana".into()),
            completed: Some(true),
            due_on: Some(Some("2027-01-02".into())),
            ..TaskEdit::default()
        },
    );
    w.sync();
    let now = w.read(&name);
    assert_eq!(
        World::front(&now, "title").as_deref(),
        Some("Renamed in Asana")
    );
    assert_eq!(World::front(&now, "completed").as_deref(), Some("true"));
    assert_eq!(World::front(&now, "due_on").as_deref(), Some("2027-01-02"));
    assert!(now.contains("# my comment\ncustom_key: keep me\n"), "{now}");
    assert!(now.ends_with("---\nold notes\n"), "{now}");
}

#[test]
fn edits_in_a_file_reach_asana() {
    let w = World::new("newest");
    let gid = w.add_task("Original", |_| {});
    w.sync();
    let (name, _) = w.file_of(&gid);
    w.write(
        &name,
        format!(
            "---\nasana_gid: \"{gid}\"\ntitle: Edited locally\ncompleted: true\ndue_on: 2026-12-24\nassignee: bob@example.com\ntags: [urgent, home]\nsection: Later\n---\nNew notes\n"
        ),
    );
    w.sim.clear_requests();
    w.sync();
    let t = w.sim.task(&gid).expect("task");
    assert_eq!(t.name, "Edited locally");
    assert!(t.completed);
    assert_eq!(t.due_on.as_deref(), Some("2026-12-24"));
    assert_eq!(t.assignee.as_deref(), Some("bob@example.com"));
    assert_eq!(t.tags, vec!["home".to_owned(), "urgent".to_owned()]);
    assert_eq!(t.section.as_deref(), Some("Later"));
    assert_eq!(t.notes, "New notes");
    // And the round trip is quiet.
    w.sim.clear_requests();
    w.sync();
    assert_eq!(w.writes(), Vec::<String>::new());
}

#[test]
fn new_local_files_become_tasks_and_get_their_gid() {
    let w = World::new("newest");
    w.write("with-front-matter.md", "---\ntitle: Planned work\ndue_on: 2026-12-01\ntags: [plan]\nsection: Next\n---\nDetails here.\n");
    w.write("Plain note.md", "Just text, no front matter.\n");
    let out = w.sync();
    assert!(out.stdout.contains("2 created in Asana"), "{}", out.stdout);
    let tasks = w.sim.project_tasks(&w.project);
    assert_eq!(tasks.len(), 2);
    let planned = tasks
        .iter()
        .find(|t| t.name == "Planned work")
        .expect("planned");
    assert_eq!(planned.notes, "Details here.");
    assert_eq!(planned.section.as_deref(), Some("Next"));
    assert_eq!(planned.tags, vec!["plan".to_owned()]);
    let plain = tasks
        .iter()
        .find(|t| t.name == "Plain note")
        .expect("named after the stem");
    assert_eq!(plain.notes, "Just text, no front matter.");
    let text = w.read("with-front-matter.md");
    assert_eq!(
        World::front(&text, "asana_gid").as_deref(),
        Some(planned.gid.as_str())
    );
    assert!(text.ends_with("---\nDetails here.\n"));
    let plain_text = w.read("Plain note.md");
    assert_eq!(
        World::front(&plain_text, "asana_gid").as_deref(),
        Some(plain.gid.as_str())
    );
    // Nothing more to do, and no duplicate on a rerun.
    w.sim.clear_requests();
    w.sync();
    assert_eq!(w.writes(), Vec::<String>::new());
    assert_eq!(w.sim.project_tasks(&w.project).len(), 2);
}

#[test]
fn non_overlapping_edits_on_both_sides_are_all_kept() {
    let w = World::new("manual");
    let gid = w.add_task("Shared", |t| t.notes = "one\ntwo\nthree".into());
    w.sync();
    let (name, text) = w.file_of(&gid);
    w.sim.edit_task(
        &gid,
        TaskEdit {
            name: Some("Shared, renamed in Asana".into()),
            notes: Some("ONE\ntwo\nthree".into()),
            ..TaskEdit::default()
        },
    );
    w.write(
        &name,
        text.replace("completed: false", "completed: true")
            .replace("three", "THREE"),
    );
    w.sync();
    let t = w.sim.task(&gid).expect("task");
    assert_eq!(t.name, "Shared, renamed in Asana");
    assert!(t.completed);
    assert_eq!(t.notes, "ONE\ntwo\nTHREE");
    let now = w.read(&name);
    assert_eq!(
        World::front(&now, "title").as_deref(),
        Some("Shared, renamed in Asana")
    );
    assert!(now.ends_with("---\nONE\ntwo\nTHREE\n"), "{now}");
}

fn conflicting_titles(policy: &str) -> (World, String, String) {
    let w = World::new(policy);
    let gid = w.add_task("Base title", |_| {});
    w.sync();
    let (name, text) = w.file_of(&gid);
    w.sim.edit_task(
        &gid,
        TaskEdit {
            name: Some("Asana title".into()),
            ..TaskEdit::default()
        },
    );
    // Kept (real time must pass): the file is edited after Asana, so `newest` picks the file.
    std::thread::sleep(std::time::Duration::from_millis(20));
    w.write(
        &name,
        text.replace("title: Base title", "title: File title"),
    );
    (w, gid, name)
}

#[test]
fn policy_asana_target_and_newest_settle_a_conflict() {
    for (policy, want) in [
        ("asana", "Asana title"),
        ("target", "File title"),
        ("newest", "File title"),
    ] {
        let (w, gid, name) = conflicting_titles(policy);
        w.sync();
        assert_eq!(w.sim.task(&gid).expect("task").name, want, "{policy}");
        assert_eq!(
            World::front(&w.read(&name), "title").as_deref(),
            Some(want),
            "{policy}"
        );
    }
}

#[test]
fn policy_manual_touches_neither_side_exits_3_and_can_be_resolved() {
    let (w, gid, name) = conflicting_titles("manual");
    let file_before = w.read(&name);
    w.sim.clear_requests();
    let out = w.run(&["sync"]).expect(3);
    assert!(
        out.stdout.contains("1 unresolved conflict"),
        "{}",
        out.stdout
    );
    assert_eq!(w.writes(), Vec::<String>::new());
    assert_eq!(w.read(&name), file_before);
    assert_eq!(w.sim.task(&gid).expect("task").name, "Asana title");

    let listed = w.run(&["conflicts"]).expect(3);
    assert!(
        listed.stdout.contains("-Asana title") && listed.stdout.contains("+File title"),
        "{}",
        listed.stdout
    );
    let json = w.run(&["--json", "conflicts"]).expect(3);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    let id = doc["conflicts"][0]["id"].as_str().expect("id").to_owned();

    w.run(&["conflicts", "resolve", &id, "--keep", "target"])
        .expect(0);
    w.sync();
    assert_eq!(w.sim.task(&gid).expect("task").name, "File title");
    w.run(&["conflicts"]).expect(0);
    w.sim.clear_requests();
    w.sync();
    assert_eq!(w.writes(), Vec::<String>::new());
}

#[test]
fn deletions_propagate_both_ways_into_the_trash() {
    let w = World::new("newest");
    let keep = w.add_task("Keep", |_| {});
    let gone_in_asana = w.add_task("Deleted in Asana", |_| {});
    let gone_locally = w.add_task("Deleted locally", |_| {});
    let spare = w.add_task("Spare", |_| {});
    w.sync();
    let (asana_side_file, _) = w.file_of(&gone_in_asana);
    let (local_file, _) = w.file_of(&gone_locally);
    w.sim.delete_task(&gone_in_asana);
    std::fs::remove_file(w.md().join(&local_file)).expect("rm");
    w.sync();
    assert!(
        w.sim.task(&gone_locally).is_none(),
        "the task of the deleted file is deleted"
    );
    assert!(!w.md().join(&asana_side_file).exists());
    assert!(
        w.md()
            .join(".asana-bridge-trash")
            .join(&asana_side_file)
            .exists(),
        "moved to the trash, never unlinked"
    );
    assert!(w.sim.task(&keep).is_some() && w.sim.task(&spare).is_some());
    assert_eq!(w.files().len(), 2);
}

#[test]
fn a_deletion_does_not_destroy_an_edit_on_the_other_side() {
    let w = World::new("newest");
    let gid = w.add_task("Precious", |_| {});
    w.add_task("Other", |_| {});
    w.sync();
    let (name, text) = w.file_of(&gid);
    w.sim.delete_task(&gid);
    w.write(
        &name,
        text.replace("title: Precious", "title: Precious, edited"),
    );
    w.sync();
    let tasks = w.sim.project_tasks(&w.project);
    let recreated = tasks
        .iter()
        .find(|t| t.name == "Precious, edited")
        .expect("the edit survives in Asana");
    assert_eq!(
        World::front(&w.read(&name), "asana_gid").as_deref(),
        Some(recreated.gid.as_str())
    );
}

#[test]
fn broken_files_are_reported_left_untouched_and_do_not_stop_the_rest() {
    let w = World::new("newest");
    let gid = w.add_task("Good", |_| {});
    w.sync();
    let broken_yaml = b"---\ntitle: [unclosed\ncompleted: maybe\n---\nbody\n".to_vec();
    let bad_utf8 = b"---\ntitle: caf\xe9\n---\n\xff\xfe\n".to_vec();
    let wrong_types =
        b"---\ntitle: Typed\ncompleted: \"maybe\"\ndue_on: 31/02/2026\n---\n".to_vec();
    w.write("broken.md", &broken_yaml);
    w.write("latin1.md", &bad_utf8);
    w.write("typed.md", &wrong_types);
    w.write("fine.md", "---\ntitle: Fine new file\n---\n");
    w.sim.edit_task(
        &gid,
        TaskEdit {
            name: Some("Good, renamed".into()),
            ..TaskEdit::default()
        },
    );
    let out = w.run(&["sync"]).expect(1);
    for name in ["roadmap/broken.md", "roadmap/latin1.md", "roadmap/typed.md"] {
        assert!(
            out.stderr
                .lines()
                .any(|l| l.starts_with("error: link \"roadmap\": ") && l.contains(name)),
            "no error line names {name}:\n{}",
            out.stderr
        );
    }
    assert_eq!(
        std::fs::read(w.md().join("broken.md")).expect("read"),
        broken_yaml
    );
    assert_eq!(
        std::fs::read(w.md().join("latin1.md")).expect("read"),
        bad_utf8
    );
    assert_eq!(
        std::fs::read(w.md().join("typed.md")).expect("read"),
        wrong_types
    );
    // The rest of the link was synced.
    assert!(
        w.sim
            .project_tasks(&w.project)
            .iter()
            .any(|t| t.name == "Fine new file")
    );
    assert_eq!(
        World::front(&w.file_of(&gid).1, "title").as_deref(),
        Some("Good, renamed")
    );
    assert_eq!(
        w.sim.project_tasks(&w.project).len(),
        2,
        "no task made of a broken file"
    );
}

#[test]
fn hostile_task_names_make_safe_files_inside_the_folder() {
    let w = World::new("newest");
    let long = "x".repeat(300);
    let names = [
        "../../escape",
        "CON",
        "a/b\\c:d",
        "🚀🚀",
        long.as_str(),
        "nul",
        ".hidden",
        "   ",
    ];
    for n in names {
        w.add_task(n, |_| {});
    }
    w.sync();
    let files = w.files();
    assert_eq!(files.len(), names.len(), "{files:#?}");
    for (name, text) in &files {
        assert!(name.len() <= 100, "{name}");
        assert!(
            name.is_ascii() && !name.contains('/') && !name.contains('\\') && !name.contains(':'),
            "{name}"
        );
        let stem = name.trim_end_matches(".md").to_ascii_lowercase();
        assert!(
            !["con", "nul", "prn", "aux"].contains(&stem.as_str()),
            "{name}"
        );
        assert!(!name.starts_with('.'), "{name}");
        assert!(World::front(text, "asana_gid").is_some());
    }
    assert!(
        !w.dir.path().join("escape.md").exists()
            && !w
                .dir
                .path()
                .parent()
                .expect("parent")
                .join("escape.md")
                .exists()
    );
    w.sim.clear_requests();
    w.sync();
    assert_eq!(w.writes(), Vec::<String>::new());
}

#[test]
fn dry_run_prints_the_plan_with_diffs_and_writes_nothing() {
    let w = World::new("newest");
    let gid = w.add_task("Plan me", |t| t.notes = "first line\nsecond line".into());
    w.sync();
    w.sim.edit_task(
        &gid,
        TaskEdit {
            notes: Some("first line\nsecond line, changed".into()),
            ..TaskEdit::default()
        },
    );
    w.add_task("Brand new", |_| {});
    w.write("local.md", "---\ntitle: Local\n---\n");
    let md_before = World::tree_snapshot(&w.md());
    let state_before = World::tree_snapshot(&w.state_dir());
    w.sim.clear_requests();
    let out = w.run(&["sync", "--dry-run"]).expect(0);
    assert!(out.stdout.contains("-second line"), "{}", out.stdout);
    assert!(
        out.stdout.contains("+second line, changed"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("create Asana task \"Local\""),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("\"Brand new\""), "{}", out.stdout);
    assert!(out.stdout.contains("dry run"), "{}", out.stdout);
    assert_eq!(w.writes(), Vec::<String>::new());
    assert_eq!(World::tree_snapshot(&w.md()), md_before);
    assert_eq!(World::tree_snapshot(&w.state_dir()), state_before);
    // JSON form of the same.
    let json = w.run(&["--json", "sync", "--dry-run"]).expect(0);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(doc["dry_run"], true);
    assert_eq!(
        doc["links"][0]["plan"].as_array().expect("plan").len(),
        3,
        "{doc:#}"
    );
}

#[test]
fn dry_run_on_a_fresh_setup_creates_no_folder_and_no_state() {
    let w = World::new("newest");
    w.add_task("Only", |_| {});
    w.run(&["sync", "--dry-run"]).expect(0);
    assert!(!w.md().exists());
    assert!(!w.state_dir().exists());
}

#[test]
fn the_token_never_appears_in_output_or_state() {
    let w = World::new("newest");
    w.add_task("Secretive", |_| {});
    w.write("local.md", "---\ntitle: Local\n---\n");
    let token = w.sim.token();
    let mut outputs = Vec::new();
    for args in [
        &["-vvv", "sync"][..],
        &["-vvv", "--json", "sync"],
        &["-vvv", "status"],
        &["-vvv", "sync", "--dry-run"],
    ] {
        let r = w.run(args);
        outputs.push(r.stdout);
        outputs.push(r.stderr);
    }
    w.sim.revoke_token();
    let r = w.run(&["-vvv", "sync"]).expect(1);
    assert!(
        r.stderr.contains("unauthorized") || r.stderr.contains("401"),
        "{}",
        r.stderr
    );
    outputs.push(r.stdout);
    outputs.push(r.stderr);
    for o in &outputs {
        assert!(!o.contains(&token), "token leaked:\n{o}");
    }
    for (path, (bytes, _)) in World::tree_snapshot(w.dir.path()) {
        assert!(
            !bytes
                .windows(token.len())
                .any(|win| win == token.as_bytes()),
            "token written to {}",
            path.display()
        );
    }
}

#[test]
fn rate_limits_and_server_errors_are_ridden_out() {
    let w = World::new("newest");
    for i in 0..3 {
        w.add_task(&format!("T{i}"), |_| {});
    }
    w.sim.inject(Fault::RateLimit {
        retry_after_secs: 1,
        count: 2,
    });
    w.sim.inject(Fault::Status {
        status: 503,
        count: 2,
        method: Some("GET".into()),
        path_contains: None,
    });
    w.sync();
    assert_eq!(w.files().len(), 3);
}

#[test]
fn a_lost_create_answer_yields_no_duplicate() {
    let w = World::new("newest");
    w.write("new.md", "---\ntitle: Created once\n---\n");
    w.sim.inject(Fault::DropAfterApply {
        count: 1,
        method: Some("POST".into()),
        path_contains: Some("/tasks".into()),
    });
    let first = w.run(&["sync"]);
    assert_eq!(first.code, 1, "{}", first.stderr);
    w.sync();
    let tasks = w.sim.project_tasks(&w.project);
    assert_eq!(
        tasks.iter().filter(|t| t.name == "Created once").count(),
        1,
        "{tasks:#?}"
    );
    assert_eq!(
        World::front(&w.read("new.md"), "asana_gid").as_deref(),
        Some(tasks[0].gid.as_str())
    );
}

#[test]
fn a_second_process_on_the_same_state_is_refused() {
    let w = World::new("newest");
    w.sync();
    let _held = asana_bridge_state::Store::open(&w.state_dir()).expect("hold the store");
    let out = w.run(&["sync"]).expect(2);
    assert!(
        out.stderr
            .contains("in use by another asana-bridge process"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_emptied_project_is_refused_not_mirrored() {
    let w = World::new("newest");
    let a = w.add_task("A", |_| {});
    let b = w.add_task("B", |_| {});
    w.sync();
    w.sim.delete_task(&a);
    w.sim.delete_task(&b);
    let out = w.run(&["sync"]).expect(1);
    assert!(out.stderr.contains("refusing"), "{}", out.stderr);
    assert_eq!(w.files().len(), 2);
}

#[test]
fn mass_deletion_needs_consent() {
    let w = World::new("newest");
    let gids: Vec<String> = (0..6)
        .map(|i| w.add_task(&format!("T{i}"), |_| {}))
        .collect();
    w.sync();
    for gid in &gids[..4] {
        w.sim.delete_task(gid);
    }
    let out = w.run(&["sync"]).expect(1);
    assert!(out.stderr.contains("--allow-mass-delete"), "{}", out.stderr);
    assert_eq!(w.files().len(), 6);
    w.run(&["sync", "--allow-mass-delete"]).expect(0);
    assert_eq!(w.files().len(), 2);
}

#[test]
fn own_writes_are_not_read_back_but_a_later_human_edit_is() {
    let w = World::new("newest");
    let a = w.add_task("Alpha", |_| {});
    let b = w.add_task("Beta", |_| {});
    w.sync();
    let (name, text) = w.file_of(&a);
    w.write(&name, text.replace("completed: false", "completed: true"));
    w.sync(); // writes to Asana, then drains its own echo
    w.sim.clear_requests();
    w.sync();
    let paths: Vec<String> = w
        .sim
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        paths,
        vec!["GET /events".to_owned()],
        "the echo of our write was read back"
    );

    // A person edits the same task after the bridge wrote it: that is no echo.
    w.sim.edit_task(
        &a,
        TaskEdit {
            name: Some("Alpha, renamed".into()),
            ..TaskEdit::default()
        },
    );
    w.sim.edit_task(
        &b,
        TaskEdit {
            notes: Some("new notes".into()),
            ..TaskEdit::default()
        },
    );
    w.sync();
    assert_eq!(
        World::front(&w.read(&name), "title").as_deref(),
        Some("Alpha, renamed")
    );
    assert!(w.file_of(&b).1.ends_with("---\nnew notes\n"));
}

#[test]
fn an_expired_events_cursor_falls_back_to_a_full_listing() {
    let w = World::new("newest");
    let gid = w.add_task("Before", |_| {});
    w.sync();
    w.sim.expire_sync_tokens();
    w.sim.edit_task(
        &gid,
        TaskEdit {
            name: Some("After".into()),
            ..TaskEdit::default()
        },
    );
    w.sim.clear_requests();
    w.sync();
    assert_eq!(
        World::front(&w.file_of(&gid).1, "title").as_deref(),
        Some("After")
    );
    assert!(
        w.sim
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/tasks") && r.path.starts_with("/projects/")),
        "a 412 must lead to a full listing"
    );
}

#[test]
fn a_colleague_added_since_the_users_were_cached_can_be_assigned() {
    let w = World::new("newest");
    let gid = w.add_task("Assigned", |t| {
        t.assignee = Some("alice@example.com".into())
    });
    w.sync(); // lists the workspace's users once and keeps them
    assert!(w.state_dir().join("asana-users.json").exists());
    w.sim.add_user("Carol", "carol@example.com");
    let (name, text) = w.file_of(&gid);
    w.write(
        &name,
        text.replace("alice@example.com", "carol@example.com"),
    );
    w.sync();
    assert_eq!(
        w.sim.task(&gid).expect("task").assignee.as_deref(),
        Some("carol@example.com")
    );
}
