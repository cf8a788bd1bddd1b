//! Custom fields end to end through the binary (issue 15, "Custom fields"): each type the
//! bridge mirrors (text, number, enum, multi-enum, date, people) round-trips both ways
//! under `fields:` in the front matter; two custom fields changed on different sides both
//! keep their change, the same one changed on both sides is a conflict naming it; an
//! unknown field or option is an item error listing the allowed values while the task's
//! other fields still flow; a formula field is never read or written; the project's
//! settings are read once and kept between runs; a GitHub link leaves custom fields alone.

#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod common;
// The GitHub harness shares `common/run.rs` with `common`: compiled twice, on purpose, so
// that one file holds every custom-field test.
#[path = "common/github.rs"]
#[allow(unused_imports, clippy::duplicate_mod)]
mod gh;

use std::collections::BTreeMap;

use asana_sim::SimValue;
use common::World;

/// The project's fields: one of each type the bridge mirrors, plus a formula field.
fn add_fields(w: &World) {
    w.sim
        .add_custom_field(&w.project, "Priority", "enum", &["High", "Medium", "Low"]);
    w.sim
        .add_custom_field(&w.project, "Estimate", "number", &[]);
    w.sim.add_custom_field(
        &w.project,
        "Platforms",
        "multi_enum",
        &["Web", "iOS", "Android"],
    );
    w.sim.add_custom_field(&w.project, "Launch", "date", &[]);
    w.sim
        .add_custom_field(&w.project, "Reviewer", "people", &[]);
    w.sim.add_custom_field(&w.project, "Ticket", "text", &[]);
    w.sim.add_custom_field(&w.project, "Score", "formula", &[]);
}

fn text(s: &str) -> SimValue {
    SimValue::Text(s.to_owned())
}

fn options(names: &[&str]) -> SimValue {
    SimValue::Options(names.iter().map(|s| (*s).to_owned()).collect())
}

/// The `fields:` block of a file's front matter, one `Name: value` line each, in order.
fn fields_block(text: &str) -> Vec<String> {
    let front = text
        .strip_prefix("---\n")
        .and_then(|t| t.split("\n---").next())
        .unwrap_or("");
    front
        .lines()
        .skip_while(|l| *l != "fields:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.trim().to_owned())
        .collect()
}

/// Replaces the `fields:` block of the file of `gid` with `lines` (none: removes it).
fn set_fields(w: &World, gid: &str, lines: &[&str]) {
    let (name, text) = w.file_of(gid);
    let body_at = text[4..]
        .find("\n---\n")
        .map(|i| i + 4)
        .expect("front matter");
    let mut kept: Vec<String> = Vec::new();
    let mut in_block = false;
    for l in text[4..body_at].lines() {
        if l == "fields:" {
            in_block = true;
            continue;
        }
        if in_block && l.starts_with("  ") {
            continue;
        }
        in_block = false;
        kept.push(l.to_owned());
    }
    if !lines.is_empty() {
        kept.push("fields:".to_owned());
        kept.extend(lines.iter().map(|l| format!("  {l}")));
    }
    w.write(
        &name,
        format!("---\n{}{}", kept.join("\n"), &text[body_at..]),
    );
}

/// A resync that writes nothing and reads Asana once (the change feed).
#[track_caller]
fn quiet(w: &World) {
    w.sim.clear_requests();
    let out = w.sync();
    assert!(out.stdout.contains("no changes"), "{}", out.stdout);
    assert!(w.writes().is_empty(), "{:?}", w.writes());
    assert_eq!(w.sim.requests().len(), 1, "{:?}", w.sim.requests());
}

fn settings_reads(w: &World) -> usize {
    w.sim
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/custom_field_settings"))
        .count()
}

#[test]
fn each_type_round_trips_both_ways() {
    let w = World::new("newest");
    add_fields(&w);
    let gid = w.add_task("Launch the app", |_| {});
    for (field, value) in [
        ("Priority", options(&["High"])),
        ("Estimate", SimValue::Number(3.0)),
        ("Platforms", options(&["Web", "iOS"])),
        ("Launch", SimValue::Date("2026-12-10".into())),
        ("Reviewer", SimValue::People(vec!["bob@example.com".into()])),
        ("Ticket", text("WEB-123")),
    ] {
        w.sim.set_custom_value(&gid, field, Some(value));
    }
    w.sim
        .set_custom_value(&gid, "Score", Some(SimValue::Number(9.0)));

    // Asana -> file: every mirrored type, by name; the formula field is left out.
    w.sync();
    let (_, file) = w.file_of(&gid);
    assert_eq!(
        fields_block(&file),
        [
            "Estimate: 3",
            "Launch: 2026-12-10",
            "Platforms: [Web, iOS]",
            "Priority: High",
            "Reviewer: [bob@example.com]",
            "Ticket: WEB-123",
        ],
        "{file}"
    );
    assert!(!file.contains("Score"), "{file}");
    quiet(&w);

    // File -> Asana: each one changed in the file.
    set_fields(
        &w,
        &gid,
        &[
            "Priority: Low",
            "Estimate: 5.5",
            "Platforms: [Android]",
            "Launch: 2027-01-15",
            "Reviewer: [alice@example.com, bob@example.com]",
            "Ticket: \"WEB-9: the sequel\"",
        ],
    );
    w.sim.clear_requests();
    w.sync();
    let want = BTreeMap::from([
        ("Priority".to_owned(), options(&["Low"])),
        ("Estimate".to_owned(), SimValue::Number(5.5)),
        ("Platforms".to_owned(), options(&["Android"])),
        ("Launch".to_owned(), SimValue::Date("2027-01-15".into())),
        (
            "Reviewer".to_owned(),
            SimValue::People(vec!["alice@example.com".into(), "bob@example.com".into()]),
        ),
        ("Ticket".to_owned(), text("WEB-9: the sequel")),
        // Never written: still Asana's own.
        ("Score".to_owned(), SimValue::Number(9.0)),
    ]);
    assert_eq!(w.sim.custom_values(&gid), want);
    let puts: Vec<String> = w
        .writes()
        .into_iter()
        .filter(|r| r.starts_with("PUT"))
        .collect();
    assert_eq!(puts.len(), 1, "one request carries every field: {puts:?}");
    quiet(&w);

    // Removing a key clears the field in Asana.
    set_fields(
        &w,
        &gid,
        &[
            "Priority: Low",
            "Estimate: 5.5",
            "Platforms: [Android]",
            "Launch: 2027-01-15",
            "Reviewer: [alice@example.com, bob@example.com]",
        ],
    );
    w.sync();
    assert!(!w.sim.custom_values(&gid).contains_key("Ticket"));
    quiet(&w);

    // Asana clears one and changes another: the file follows.
    w.sim.set_custom_value(&gid, "Launch", None);
    w.sim
        .set_custom_value(&gid, "Estimate", Some(SimValue::Number(8.0)));
    w.sync();
    let (_, file) = w.file_of(&gid);
    assert_eq!(
        fields_block(&file),
        [
            "Estimate: 8",
            "Platforms: [Android]",
            "Priority: Low",
            "Reviewer: [alice@example.com, bob@example.com]",
        ],
        "{file}"
    );
    quiet(&w);

    // A new file with fields: the task is created with them.
    w.write(
        "new.md",
        "---\ntitle: From the folder\nfields:\n  Priority: Medium\n  Estimate: 2\n  Platforms: [iOS, Web]\n---\n",
    );
    w.sync();
    let created = w
        .sim
        .project_tasks(&w.project)
        .into_iter()
        .find(|t| t.name == "From the folder")
        .expect("created");
    assert_eq!(
        w.sim.custom_values(&created.gid),
        BTreeMap::from([
            ("Priority".to_owned(), options(&["Medium"])),
            ("Estimate".to_owned(), SimValue::Number(2.0)),
            // A multi-enum is a set: in Asana in the bridge's (sorted) order.
            ("Platforms".to_owned(), options(&["Web", "iOS"])),
        ])
    );
    quiet(&w);
}

#[test]
fn settings_are_read_once_and_kept_between_runs() {
    let w = World::new("newest");
    add_fields(&w);
    let gid = w.add_task("Plan", |_| {});
    w.sync();
    // Reading custom fields needs no settings: they come with the tasks.
    assert_eq!(settings_reads(&w), 0);
    w.sim.clear_requests();
    set_fields(&w, &gid, &["Priority: High", "Estimate: 1"]);
    w.sync();
    assert_eq!(settings_reads(&w), 1, "{:?}", w.sim.requests());
    // The next run writing custom fields uses the kept copy.
    w.sim.clear_requests();
    set_fields(&w, &gid, &["Priority: Low", "Estimate: 2"]);
    w.sync();
    assert_eq!(settings_reads(&w), 0, "{:?}", w.sim.requests());
    assert_eq!(
        w.sim.custom_values(&gid).get("Priority"),
        Some(&options(&["Low"]))
    );
    // A field added since the copy was kept: listed afresh once.
    w.sim.add_custom_field(&w.project, "Team", "text", &[]);
    w.sim.clear_requests();
    set_fields(&w, &gid, &["Priority: Low", "Estimate: 2", "Team: Mobile"]);
    w.sync();
    assert_eq!(settings_reads(&w), 1, "{:?}", w.sim.requests());
    assert_eq!(w.sim.custom_values(&gid).get("Team"), Some(&text("Mobile")));
    quiet(&w);
}

#[test]
fn custom_fields_merge_field_by_field() {
    let w = World::new("newest");
    add_fields(&w);
    let gid = w.add_task("Estimate the work", |_| {});
    w.sim
        .set_custom_value(&gid, "Priority", Some(options(&["High"])));
    w.sim
        .set_custom_value(&gid, "Estimate", Some(SimValue::Number(3.0)));
    w.sim
        .set_custom_value(&gid, "Platforms", Some(options(&["Web"])));
    w.sync();

    // Asana changes Priority and adds iOS; the file changes Estimate and adds Android.
    w.sim
        .set_custom_value(&gid, "Priority", Some(options(&["Low"])));
    w.sim
        .set_custom_value(&gid, "Platforms", Some(options(&["Web", "iOS"])));
    set_fields(
        &w,
        &gid,
        &["Priority: High", "Estimate: 8", "Platforms: [Web, Android]"],
    );
    // The dry run names each custom field and its change, and writes nothing.
    w.sim.clear_requests();
    let dry = w.run(&["sync", "--dry-run"]).expect(0);
    for change in [
        "fields.Estimate: \"3\" -> \"8\"",
        "fields.Priority: \"High\" -> \"Low\"",
    ] {
        assert!(dry.stdout.contains(change), "{change}\n{}", dry.stdout);
    }
    assert!(w.writes().is_empty(), "{:?}", w.writes());
    let out = w.sync();
    assert!(!out.stdout.contains("conflict"), "{}", out.stdout);
    let values = w.sim.custom_values(&gid);
    assert_eq!(values.get("Priority"), Some(&options(&["Low"])));
    assert_eq!(values.get("Estimate"), Some(&SimValue::Number(8.0)));
    // Both additions kept: a multi-enum merges as a set.
    assert_eq!(
        values.get("Platforms").map(|v| match v {
            SimValue::Options(o) => {
                let mut o = o.clone();
                o.sort();
                o
            }
            other => panic!("{other:?}"),
        }),
        Some(vec![
            "Android".to_owned(),
            "Web".to_owned(),
            "iOS".to_owned()
        ])
    );
    let (_, file) = w.file_of(&gid);
    assert_eq!(
        fields_block(&file),
        [
            "Estimate: 8",
            "Platforms: [Android, Web, iOS]",
            "Priority: Low"
        ],
        "{file}"
    );
    quiet(&w);
}

#[test]
fn the_same_custom_field_changed_on_both_sides_is_a_conflict_naming_it() {
    let w = World::new("manual");
    add_fields(&w);
    let gid = w.add_task("Decide", |_| {});
    w.sim
        .set_custom_value(&gid, "Priority", Some(options(&["High"])));
    w.sim.set_custom_value(&gid, "Ticket", Some(text("OPS-1")));
    w.sync();

    w.sim
        .set_custom_value(&gid, "Priority", Some(options(&["Low"])));
    set_fields(&w, &gid, &["Priority: Medium", "Ticket: OPS-2"]);
    let out = w.run(&["sync"]);
    assert!(
        out.stdout.contains("1 unresolved conflict"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    // The other field still flows; the conflicting one is left on both sides.
    let values = w.sim.custom_values(&gid);
    assert_eq!(values.get("Ticket"), Some(&text("OPS-2")));
    assert_eq!(values.get("Priority"), Some(&options(&["Low"])));
    let (_, file) = w.file_of(&gid);
    assert!(fields_block(&file).contains(&"Priority: Medium".to_owned()));

    let listed = w.run(&["conflicts"]);
    assert!(
        listed
            .stdout
            .contains("fields.Priority changed on both sides")
            && listed.stdout.contains("Low")
            && listed.stdout.contains("Medium"),
        "{}",
        listed.stdout
    );
    let id = listed
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("conflict "))
        .and_then(|l| l.split_whitespace().next())
        .expect("a conflict id")
        .to_owned();
    w.run(&["conflicts", "resolve", &id, "--keep", "target"])
        .expect(0);
    w.sync();
    assert_eq!(
        w.sim.custom_values(&gid).get("Priority"),
        Some(&options(&["Medium"]))
    );
    assert!(
        w.run(&["conflicts"])
            .stdout
            .contains("no unresolved conflicts")
    );
    quiet(&w);
}

#[test]
fn an_unknown_field_or_option_is_an_item_error_and_the_rest_still_flows() {
    let w = World::new("newest");
    add_fields(&w);
    let gid = w.add_task("Ship it", |_| {});
    w.sync();

    // An option Priority does not have, next to a good value and a title change.
    let (name, file) = w.file_of(&gid);
    w.write(
        &name,
        common::set_front(&file, "title", Some("Ship it now")),
    );
    set_fields(&w, &gid, &["Priority: Urgent", "Estimate: 4"]);
    let out = w.run(&["sync"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("Urgent") && out.stderr.contains("allowed: High, Medium, Low"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(&name), "{}", out.stderr);
    let task = w.sim.task(&gid).expect("task");
    assert_eq!(task.name, "Ship it now");
    assert_eq!(
        w.sim.custom_values(&gid),
        BTreeMap::from([("Estimate".to_owned(), SimValue::Number(4.0))])
    );
    // Still refused (and said) on the next run, never taken as agreed.
    let again = w.run(&["sync"]);
    assert_eq!(again.code, 1, "{}", again.stdout);
    assert!(again.stderr.contains("Urgent"), "{}", again.stderr);

    // Fixed in the file: it flows.
    set_fields(&w, &gid, &["Priority: Medium", "Estimate: 4"]);
    w.sync();
    assert_eq!(
        w.sim.custom_values(&gid).get("Priority"),
        Some(&options(&["Medium"]))
    );

    // A field the project does not have: the error lists the project's fields.
    set_fields(
        &w,
        &gid,
        &["Priority: Medium", "Estimate: 4", "Colour: red"],
    );
    let out = w.run(&["sync"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains("Colour")
            && out
                .stderr
                .contains("Priority, Estimate, Platforms, Launch, Reviewer, Ticket"),
        "{}",
        out.stderr
    );
    // A new file with an unknown option: the task is created without its custom fields,
    // the refusal said; the good ones follow on the next run, the bad one stays an error.
    w.write(
        "new-task.md",
        "---\ntitle: Created anyway\nfields:\n  Priority: Urgent\n  Estimate: 7\n---\n",
    );
    let out = w.run(&["sync"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains("new-task.md") && out.stderr.contains("allowed: High, Medium, Low"),
        "{}",
        out.stderr
    );
    let created = w
        .sim
        .project_tasks(&w.project)
        .into_iter()
        .find(|t| t.name == "Created anyway")
        .expect("created without its custom fields");
    let out = w.run(&["sync"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stderr.contains("Urgent"), "{}", out.stderr);
    assert_eq!(
        w.sim.custom_values(&created.gid),
        BTreeMap::from([("Estimate".to_owned(), SimValue::Number(7.0))])
    );
    std::fs::remove_file(w.md().join("new-task.md")).expect("remove");

    // A formula field is not written either.
    set_fields(&w, &gid, &["Priority: Medium", "Estimate: 4", "Score: 1"]);
    let out = w.run(&["sync"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stderr.contains("Score"), "{}", out.stderr);
    assert!(!w.sim.custom_values(&gid).contains_key("Score"));
}

#[test]
fn a_github_link_leaves_custom_fields_alone() {
    let w = gh::GhWorld::new("newest");
    w.asana
        .add_custom_field(&w.project, "Priority", "enum", &["High", "Low"]);
    let gid = w.add_task("Tracked on GitHub", |_| {});
    w.asana
        .set_custom_value(&gid, "Priority", Some(options(&["High"])));
    w.sync();
    let issue = w.issue_of(&gid);
    assert!(!issue.body.unwrap_or_default().contains("Priority"));

    // A change in Asana writes nothing to GitHub; an issue edit does not touch the field.
    w.asana
        .set_custom_value(&gid, "Priority", Some(options(&["Low"])));
    w.clear_requests();
    w.sync();
    assert_eq!(w.all_writes(), Vec::<String>::new());
    w.github.edit_issue(
        issue.number,
        gh::IssueEdit {
            title: Some("Renamed on GitHub".into()),
            ..gh::IssueEdit::default()
        },
    );
    w.sync();
    assert_eq!(w.asana.task(&gid).expect("task").name, "Renamed on GitHub");
    assert_eq!(
        w.asana.custom_values(&gid).get("Priority"),
        Some(&options(&["Low"]))
    );
    assert!(
        !w.asana
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/custom_field_settings")),
        "no settings needed"
    );
}

/// The state keeps a custom field under its own fingerprint key (`fields.<name>`) and its
/// agreed value in the record's base; a record without custom fields keeps the shape of
/// earlier releases (no new key at all), so their states read as before
/// (`tests/state_schema.rs`).
#[test]
fn the_state_keys_each_custom_field_by_name() {
    use asana_bridge::linkstate::LinkState;
    use asana_bridge_state::Store;

    let w = World::new("newest");
    add_fields(&w);
    let with = w.add_task("With", |_| {});
    w.sim
        .set_custom_value(&with, "Priority", Some(options(&["High"])));
    w.sim
        .set_custom_value(&with, "Platforms", Some(options(&["Web", "iOS"])));
    let without = w.add_task("Without", |_| {});
    w.sync();

    let store = Store::open(&w.dir.path().join(".asana-bridge")).expect("open the state");
    let state = LinkState::open(&store, "roadmap").expect("tables");
    let record = |gid: &str| {
        serde_json::to_value(state.pairs.get(gid).expect("read").expect("a record")).expect("json")
    };
    let r = record(&with);
    for side in ["asana", "target"] {
        let keys: Vec<&str> = r[side]["fields"]
            .as_object()
            .expect("fingerprints")
            .keys()
            .map(String::as_str)
            .filter(|k| k.starts_with("fields."))
            .collect();
        assert_eq!(keys, ["fields.Platforms", "fields.Priority"], "{r}");
    }
    assert_eq!(
        r["base"]["custom"],
        serde_json::json!({"Platforms": ["Web", "iOS"], "Priority": "High"}),
        "{r}"
    );
    let r = record(&without);
    assert!(r["base"].get("custom").is_none(), "{r}");
    assert!(
        !r["asana"]["fields"]
            .as_object()
            .expect("fingerprints")
            .keys()
            .any(|k| k.starts_with("fields.")),
        "{r}"
    );
}
