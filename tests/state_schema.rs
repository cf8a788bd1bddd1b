//! End to end: a state folder written by an earlier release is upgraded in place by this
//! binary, and a state folder from a newer release is refused.
//!
//! The fixture `tests/fixtures/state-v1/` was written by the release before the state had a
//! schema version (see its README): a Markdown link and a GitHub link against the
//! simulators, with a held conflict, a pending create intent and a tombstone. The
//! simulators' contents at that moment are kept beside it (`sims.json`) and seeded again
//! here with the same gids and issue numbers, so the old state meets the world it describes.

#[path = "common/github.rs"]
#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod gh;

use std::path::Path;

use asana_sim::Fault;
use gh::{GhWorld, IssueEdit, TaskEdit, TaskSeed};

/// The Asana project of the Markdown link (the GitHub link's is the harness's "Bugs").
const ROADMAP: &str = "Roadmap";

/// The config of the fixture's world: a Markdown link `roadmap` (manual conflicts,
/// deleted files complete their task) and the GitHub link `bugs`.
fn write_config(w: &GhWorld, roadmap: &str) {
    let config = format!(
        "state_dir = \".asana-bridge\"\n\n[asana]\ntoken_env = \"ASANA_TOKEN\"\n\n\
         [[link]]\nname = \"roadmap\"\nasana_project = \"{roadmap}\"\nconflict = \"manual\"\n\
         on_delete = \"complete\"\nmarkdown = {{ dir = \"roadmap\" }}\n\n\
         [[link]]\nname = \"bugs\"\nasana_project = \"{}\"\nconflict = \"newest\"\n\
         github = {{ repo = \"acme/app\", token_env = \"GITHUB_TOKEN\", api_url = \"{}\" }}\n\n\
         [users]\n\"alice@example.com\" = \"alice-gh\"\n",
        w.project,
        w.github.base_url()
    );
    std::fs::write(w.dir.path().join("asana-bridge.toml"), config).expect("config");
}

fn write_file(w: &GhWorld, name: &str, text: &str) {
    let dir = w.dir.path().join("roadmap");
    std::fs::create_dir_all(&dir).expect("roadmap dir");
    std::fs::write(dir.join(name), text).expect("write file");
}

/// Makes the fixture with the binary this file is built with: run at the commit named in
/// the fixture's README (the last one before the schema version), with
/// `FIXTURE_OUT=tests/fixtures/state-v1 cargo test -p asana-bridge --test state_schema
/// -- --ignored make_fixture`. Run at a later commit it would write that commit's format.
#[test]
#[ignore = "writes the state-v1 fixture; only meaningful with the release that fixture names"]
fn make_fixture() {
    let out = std::env::var("FIXTURE_OUT").expect("FIXTURE_OUT: where to write the fixture");
    let out = Path::new(&out);
    let w = GhWorld::new("newest");
    let roadmap = w.asana.create_project(ROADMAP);
    write_config(&w, &roadmap);

    // Markdown link: three tasks made in Asana, one file made locally.
    let spec = w
        .asana
        .add_task(&roadmap, seed("Write the spec", "Two pages.", None));
    let _ship = w
        .asana
        .add_task(&roadmap, seed("Ship it", "", Some("2026-12-24".into())));
    let retire = w
        .asana
        .add_task(&roadmap, seed("Retire the old API", "", None));
    write_file(
        &w,
        "local-idea.md",
        "---\ntitle: A local idea\n---\nNoted offline.\n",
    );
    // GitHub link: two tasks made in Asana, one issue opened on GitHub.
    w.add_task("Crash on start", |t| {
        t.notes = "Stack trace attached.".into()
    });
    w.add_task("Typo in the docs", |_| {});
    w.add_issue("Flaky test", |i| {
        i.body = Some("Fails one run in ten.".into())
    });
    w.sync();

    // A held conflict: the title changed on both sides of the Markdown link.
    w.asana.edit_task(
        &spec,
        TaskEdit {
            name: Some("Write the spec (Asana)".into()),
            ..TaskEdit::default()
        },
    );
    let md = w.dir.path().join("roadmap");
    let (spec_file, text) = file_with(&md, &spec);
    std::fs::write(
        md.join(&spec_file),
        text.replace("title: Write the spec", "title: Write the spec (file)"),
    )
    .expect("edit file");
    // A tombstone: the file of a task deleted, which completes the task.
    let (retire_file, _) = file_with(&md, &retire);
    std::fs::remove_file(md.join(retire_file)).expect("delete file");
    w.run(&["sync"]).expect(3);

    // A pending intent: a new file's create whose answer is lost after Asana made it.
    write_file(&w, "lost-answer.md", "---\ntitle: Created once\n---\n");
    w.asana.inject(Fault::DropAfterApply {
        count: 1,
        method: Some("POST".into()),
        path_contains: Some("/tasks".into()),
    });
    let lost = w.run(&["sync", "--link", "roadmap"]);
    assert_eq!(lost.code, 1, "{}", lost.stderr);
    // An issue edited on GitHub and synced, so a record has moved past its first write.
    w.github.edit_issue(
        1,
        IssueEdit {
            title: Some("Flaky test on CI".into()),
            ..IssueEdit::default()
        },
    );
    w.run(&["sync", "--link", "bugs"]).expect(0);

    let status = w.run(&["status"]).expect(0);
    eprintln!("{}", status.stdout);
    assert!(status.stdout.contains("roadmap"), "{}", status.stdout);

    // What the fixture keeps: the state, the folder and the simulators' contents.
    std::fs::create_dir_all(out).expect("fixture dir");
    copy_tree(&w.dir.path().join(".asana-bridge"), &out.join("state"));
    copy_tree(&md, &out.join("roadmap"));
    let mut tasks = w.asana.project_tasks(&roadmap);
    tasks.extend(w.asana.project_tasks(&w.project));
    tasks.sort_by(|a, b| a.gid.cmp(&b.gid));
    let sims = serde_json::json!({
        "roadmap_project": roadmap,
        "bugs_project": w.project,
        "tasks": tasks,
        "issues": w.github.repo_issues(),
    });
    std::fs::write(
        out.join("sims.json"),
        serde_json::to_string_pretty(&sims).expect("json"),
    )
    .expect("sims.json");
}

fn seed(name: &str, notes: &str, due_on: Option<String>) -> TaskSeed {
    TaskSeed {
        name: name.into(),
        notes: notes.into(),
        due_on,
        ..TaskSeed::default()
    }
}

/// The file of `dir` whose front matter names `gid`, with its text.
fn file_with(dir: &Path, gid: &str) -> (String, String) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let entry = entry.expect("entry");
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        if text.contains(&format!("asana_gid: \"{gid}\""))
            || text.contains(&format!("asana_gid: '{gid}'"))
            || text.contains(&format!("asana_gid: {gid}\n"))
        {
            return (entry.file_name().to_string_lossy().into_owned(), text);
        }
    }
    panic!("no file in {} names {gid}", dir.display());
}

/// Copies `from` to `to` recursively.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}
