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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use asana_bridge::linkstate::LinkState;
use asana_bridge_state::{SCHEMA_VERSION, Store};
use asana_sim::{Fault, SimTask};
use gh::{GhWorld, IssueEdit, IssueSeed, SimIssue, TaskEdit, TaskSeed};
use serde_json::Value;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/state-v1")
}

/// The fixture's world again, in a temp folder: both simulators seeded from `sims.json`
/// with the gids and issue numbers the old state names, the Markdown folder and the state
/// folder copied, and the config. Returns the world and the Roadmap project's gid.
fn restore() -> (GhWorld, String) {
    let text = std::fs::read_to_string(fixture().join("sims.json")).expect("sims.json");
    let sims: Value = serde_json::from_str(&text).expect("sims.json is JSON");
    let w = GhWorld::new("newest");
    let roadmap = w.asana.create_project(ROADMAP);
    assert_eq!(
        w.project, sims["bugs_project"],
        "the seeding must give the same gids"
    );
    assert_eq!(roadmap, sims["roadmap_project"]);
    let mut tasks: Vec<(String, SimTask)> = Vec::new();
    for (key, project) in [("roadmap_tasks", &roadmap), ("bugs_tasks", &w.project)] {
        let listed: Vec<SimTask> =
            serde_json::from_value(sims[key].clone()).expect("tasks in sims.json");
        tasks.extend(listed.into_iter().map(|t| (project.clone(), t)));
    }
    tasks.sort_by_key(|(_, t)| t.gid.parse::<u64>().expect("numeric gid"));
    let mut last: u64 = roadmap.parse().expect("numeric gid");
    for (project, t) in tasks {
        let want: u64 = t.gid.parse().expect("numeric gid");
        // Gids the old run spent on things the fixture does not keep.
        for _ in last + 1..want {
            w.asana.create_project("(a gid spent elsewhere)");
        }
        let gid = w.asana.add_task(
            &project,
            TaskSeed {
                name: t.name,
                notes: t.notes,
                completed: t.completed,
                due_on: t.due_on,
                assignee: t.assignee,
                tags: t.tags,
                section: t.section,
                due_at: t.due_at,
                start_on: t.start_on,
                ..TaskSeed::default()
            },
        );
        assert_eq!(gid, t.gid, "seeded in gid order");
        last = want;
    }
    let issues: Vec<SimIssue> =
        serde_json::from_value(sims["issues"].clone()).expect("issues in sims.json");
    for i in issues {
        let number = w.github.add_issue(IssueSeed {
            title: i.title,
            body: i.body,
            labels: i.labels,
            assignees: i.assignees,
            closed: i.state == "closed",
        });
        assert_eq!(number, i.number, "seeded in number order");
    }
    copy_tree(
        &fixture().join("state"),
        &w.dir.path().join(".asana-bridge"),
    );
    copy_tree(&fixture().join("roadmap"), &w.dir.path().join("roadmap"));
    write_config(&w, &roadmap);
    (w, roadmap)
}

fn state_version(w: &GhWorld) -> Option<u32> {
    Store::peek_version(&w.dir.path().join(".asana-bridge")).expect("peek the state version")
}

/// Every task of both projects and every issue, for "nothing was created or changed".
fn world_contents(w: &GhWorld, roadmap: &str) -> (Vec<SimTask>, Vec<SimTask>, Vec<SimIssue>) {
    let strip = |mut tasks: Vec<SimTask>| {
        for t in &mut tasks {
            t.modified_at.clear();
        }
        tasks
    };
    let mut issues = w.github.repo_issues();
    for i in &mut issues {
        i.updated_at.clear();
    }
    (
        strip(w.asana.project_tasks(roadmap)),
        strip(w.asana.project_tasks(&w.project)),
        issues,
    )
}

#[test]
fn a_state_folder_of_the_previous_release_is_upgraded_in_place_and_keeps_everything() {
    let (w, roadmap) = restore();
    assert_eq!(state_version(&w), Some(1), "the fixture is unversioned");
    let before = world_contents(&w, &roadmap);
    let files_before = md_files(&w);

    // A dry run and `status` read a private copy: the real state stays as it was.
    let dry = w.run(&["sync", "--dry-run"]).expect(3);
    // What the upgraded state plans: the held conflict left alone, the lost create adopted,
    // nothing else (no create on either side).
    for line in [
        "conflict on title: left as it is on both sides (manual)",
        "roadmap/lost-answer.md: record asana_gid 1200000000000016",
        "link \"roadmap\" (dry run): 1 change planned, nothing written",
        "link \"bugs\" (dry run): 0 changes planned, nothing written",
    ] {
        assert!(dry.stdout.contains(line), "{line}\n{}", dry.stdout);
    }
    let status = w.run(&["status"]).expect(0);
    assert!(
        status.stdout.contains("pending conflicts:    1"),
        "{}",
        status.stdout
    );
    assert_eq!(
        state_version(&w),
        Some(1),
        "a dry run or status never upgrades the state"
    );
    assert_eq!(md_files(&w), files_before);

    // The first real run upgrades the state and finishes what the old run left: the held
    // conflict stays held (exit 3), the lost create's task is adopted, nothing is made twice.
    w.clear_requests();
    let first = w.run_env(&["-v", "sync"], &[]).expect(3);
    assert!(
        first.stderr.contains("upgrading the state") && first.stderr.contains("from=1 to=2"),
        "{}",
        first.stderr
    );
    assert_eq!(state_version(&w), Some(SCHEMA_VERSION));
    w.assert_no_unexpected();
    let writes = w.all_writes();
    assert!(
        !writes
            .iter()
            .any(|r| r.starts_with("asana POST") || r.starts_with("github POST")),
        "nothing is created again: {writes:#?}"
    );
    assert_eq!(world_contents(&w, &roadmap), before, "{writes:#?}");
    let files = md_files(&w);
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        files_before.keys().collect::<Vec<_>>(),
        "no file made or lost"
    );
    assert!(
        files["lost-answer.md"].contains("asana_gid: \"1200000000000016\""),
        "the pending intent adopted the task its lost create made: {}",
        files["lost-answer.md"]
    );
    for name in ["local-idea.md", "ship-it.md", "write-the-spec.md"] {
        assert_eq!(files[name], files_before[name], "{name}");
    }

    // Every pair is kept, the conflict too, and the tombstone keeps the completed task away.
    let status = w.run(&["status"]).expect(0);
    let roadmap_status = status.stdout.split("link \"bugs\"").next().unwrap();
    assert!(
        roadmap_status.contains("mapped items:         4"),
        "{}",
        status.stdout
    );
    assert!(
        roadmap_status.contains("pending conflicts:    1"),
        "{}",
        status.stdout
    );
    assert!(
        !roadmap_status.contains("unfinished creates"),
        "{}",
        status.stdout
    );
    let bugs_status = status.stdout.split("link \"bugs\"").nth(1).unwrap();
    assert!(
        bugs_status.contains("mapped items:         3"),
        "{}",
        status.stdout
    );
    let conflicts = w.run(&["conflicts"]).expect(3);
    assert!(
        conflicts.stdout.contains("Write the spec (Asana)")
            && conflicts.stdout.contains("Write the spec (file)"),
        "{}",
        conflicts.stdout
    );

    // And in the state itself: the same pairs (one more, the adopted create), the
    // conflict, the tombstone; the intent settled.
    {
        let store = Store::open(&w.dir.path().join(".asana-bridge")).expect("open the state");
        let roadmap = LinkState::open(&store, "roadmap").expect("roadmap tables");
        let gids = |state: &LinkState| -> Vec<String> {
            state
                .summaries()
                .expect("summaries")
                .into_iter()
                .map(|s| s.asana_gid.into())
                .collect()
        };
        assert_eq!(
            gids(&roadmap),
            ["07", "08", "12", "16"].map(|g| format!("12000000000000{g}"))
        );
        let spec = roadmap.pairs.get("1200000000000007").unwrap().unwrap();
        assert_eq!(
            spec.base.title, "Write the spec",
            "the base is still the agreed value"
        );
        let conflicts = roadmap.conflict_list().expect("conflicts");
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].asana_gid, "1200000000000007");
        let tombstones = roadmap.tombstone_list().expect("tombstones");
        assert_eq!(tombstones.len(), 1);
        assert_eq!(tombstones[0].asana_gid, "1200000000000009");
        assert!(roadmap.intent_list().expect("intents").is_empty());
        let bugs = LinkState::open(&store, "bugs").expect("bugs tables");
        assert_eq!(
            gids(&bugs),
            ["10", "11", "13"].map(|g| format!("12000000000000{g}"))
        );
    }

    // A quiet resync: no write anywhere, no upgrade again, the conflict still held.
    w.clear_requests();
    let folder = tree(&w.dir.path().join("roadmap"));
    let quiet = w.run_env(&["-v", "sync"], &[]).expect(3);
    assert!(
        !quiet.stderr.contains("upgrading the state"),
        "{}",
        quiet.stderr
    );
    assert_eq!(w.all_writes(), Vec::<String>::new());
    assert_eq!(
        tree(&w.dir.path().join("roadmap")),
        folder,
        "no file touched"
    );
    assert_eq!(state_version(&w), Some(SCHEMA_VERSION));
    w.assert_no_unexpected();
}

#[test]
fn a_state_folder_of_a_newer_release_is_refused_and_left_alone() {
    let (w, _) = restore();
    let state = w.dir.path().join(".asana-bridge");
    // A newer release's store: this build's store, one version on.
    w.run(&["sync"]).expect(3);
    w.clear_requests();
    {
        // The version as the store keeps it: a big-endian u32 under `schema_version` in
        // the `__meta` tree.
        let db = sled::open(state.join("db")).expect("open the store raw");
        db.open_tree("__meta")
            .expect("meta tree")
            .insert("schema_version", &(SCHEMA_VERSION + 1).to_be_bytes())
            .expect("write the version");
        db.flush().expect("flush");
    }
    let files = tree(&w.dir.path().join("roadmap"));
    for args in [&["sync"][..], &["sync", "--dry-run"], &["status"]] {
        let run = w.run(args).expect(2);
        let message = run.stderr.trim();
        assert!(
            message.contains("the state folder .asana-bridge ")
                && message.contains(&format!("state schema {}", SCHEMA_VERSION + 1))
                && message.contains(&format!("supports up to {SCHEMA_VERSION}"))
                && message.contains("upgrade asana-bridge"),
            "{args:?}: {message}"
        );
        assert_eq!(message.lines().count(), 1, "one clear line: {message}");
    }
    assert_eq!(
        state_version(&w),
        Some(SCHEMA_VERSION + 1),
        "the state is left as it is"
    );
    assert_eq!(
        tree(&w.dir.path().join("roadmap")),
        files,
        "no file touched"
    );
    assert_eq!(w.all_writes(), Vec::<String>::new());
}

/// Stops a `watch` on the way out, even when an assertion fails.
struct Watch(std::process::Child);

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `watch` of the harness's GitHub link with webhooks on `port` (`/hooks/<link>`).
fn watch_with_webhooks(w: &GhWorld, port: u16) -> Watch {
    Watch(
        w.command()
            .args([
                "watch",
                "--webhook-listen",
                &format!("127.0.0.1:{port}"),
                "--webhook-url",
                &format!("http://127.0.0.1:{port}/hooks"),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn watch"),
    )
}

/// Whether the link's Asana webhook and GitHub hook are both live and deliver to `port`,
/// and nothing else is left.
fn hooked_only_to(w: &GhWorld, port: u16) -> bool {
    let at = format!("http://127.0.0.1:{port}/hooks/bugs");
    let asana = w.asana.webhooks();
    let github = w.github.hooks();
    asana.len() == 1
        && asana[0].active
        && asana[0].target == at
        && github.len() == 1
        && github[0].active
        && github[0].url == at
}

/// A state folder of schema 2 holding both kinds of webhook records (Asana's and
/// GitHub's, left by a `watch` that crashed) is upgraded to the one record shape, and the
/// next `watch` reads the upgraded records: it deletes both hooks the crashed run left,
/// which only the records name (they deliver to another address).
#[test]
fn webhook_records_of_schema_2_are_upgraded_and_still_find_what_a_crash_left() {
    let w = GhWorld::new("newest");
    let state = w.dir.path().join(".asana-bridge");
    let wait = std::time::Duration::from_secs(20);
    let first_port = gh::free_port();
    let mut first = watch_with_webhooks(&w, first_port);
    assert!(
        gh::eventually(wait, || hooked_only_to(&w, first_port)),
        "the first watch did not hook both sides: {:?} {:?}",
        w.asana.webhooks(),
        w.github.hooks()
    );
    // The crash: no shutdown, the hooks and their records stay.
    first.0.kill().expect("kill");
    first.0.wait().expect("wait");
    let (asana_gid, github_id) = (w.asana.webhooks()[0].gid.clone(), w.github.hooks()[0].id);

    // The records as schema 2 wrote them: Asana's `{project, target, gid, secret}` in
    // `webhooks/secrets`, GitHub's `{repo, target, id (a number), secret}` in
    // `webhooks/github`.
    {
        let db = sled::open(state.join("db")).expect("open the store raw");
        let read = |tree: &str| -> Value {
            let bytes = db
                .open_tree(tree)
                .expect("tree")
                .get("bugs")
                .expect("read")
                .unwrap_or_else(|| panic!("no record of the crashed run in {tree}"));
            serde_json::from_slice(&bytes).expect("a JSON record")
        };
        let asana = read("webhooks/secrets");
        let github = read("webhooks/target");
        assert_eq!(asana["id"], asana_gid.as_str());
        assert_eq!(github["id"], github_id.to_string());
        let v2_asana = serde_json::json!({
            "project": asana["scope"], "target": asana["target"],
            "gid": asana["id"], "secret": asana["secret"],
        });
        let v2_github = serde_json::json!({
            "repo": github["scope"], "target": github["target"],
            "id": github_id, "secret": github["secret"],
        });
        let write = |tree: &str, value: &Value| {
            db.open_tree(tree)
                .expect("tree")
                .insert("bugs", serde_json::to_vec(value).expect("json"))
                .expect("write");
        };
        write("webhooks/secrets", &v2_asana);
        write("webhooks/github", &v2_github);
        db.open_tree("webhooks/target")
            .expect("tree")
            .remove("bugs")
            .expect("remove");
        db.open_tree("__meta")
            .expect("meta tree")
            .insert("schema_version", &2_u32.to_be_bytes())
            .expect("write the version");
        db.flush().expect("flush");
    }
    assert_eq!(state_version(&w), Some(2));

    // A real run upgrades the state: both records in the one shape, GitHub's among the
    // targets' records.
    w.run(&["sync"]).expect(0);
    assert_eq!(state_version(&w), Some(SCHEMA_VERSION));
    {
        let store = Store::open(&state).expect("store");
        let record = |table: &str| {
            store
                .table::<Value>(table)
                .expect("table")
                .get("bugs")
                .expect("read")
        };
        let asana = record("webhooks/secrets").expect("Asana's record");
        assert_eq!(asana["scope"], w.project.as_str());
        assert_eq!(asana["id"], asana_gid.as_str());
        assert!(asana["secret"].is_string());
        let github = record("webhooks/target").expect("GitHub's record");
        assert_eq!(github["scope"], "acme/app");
        assert_eq!(github["id"], github_id.to_string());
        assert!(github["secret"].is_string());
        assert_eq!(record("webhooks/github"), None);
    }

    // The next watch, elsewhere: the crashed run's hooks are found by the records alone.
    let second_port = gh::free_port();
    let mut second = watch_with_webhooks(&w, second_port);
    assert!(
        gh::eventually(wait, || hooked_only_to(&w, second_port)),
        "the crashed run's hooks were not removed: {:?} {:?}",
        w.asana.webhooks(),
        w.github.hooks()
    );
    let status = std::process::Command::new("kill")
        .args(["-TERM", &second.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    assert_eq!(second.0.wait().expect("wait").code(), Some(0));
    assert!(w.asana.webhooks().is_empty(), "{:?}", w.asana.webhooks());
    assert!(w.github.hooks().is_empty(), "{:?}", w.github.hooks());
}

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
    let sims = serde_json::json!({
        "roadmap_project": roadmap,
        "bugs_project": w.project,
        "roadmap_tasks": w.asana.project_tasks(&roadmap),
        "bugs_tasks": w.asana.project_tasks(&w.project),
        "issues": w.github.repo_issues(),
    });
    std::fs::write(
        out.join("sims.json"),
        serde_json::to_string_pretty(&sims).expect("json"),
    )
    .expect("sims.json");
}

/// The task files of the Markdown folder and their text.
fn md_files(w: &GhWorld) -> BTreeMap<String, String> {
    std::fs::read_dir(w.dir.path().join("roadmap"))
        .expect("roadmap dir")
        .map(|e| {
            let e = e.expect("entry");
            let text = std::fs::read_to_string(e.path()).expect("read file");
            (e.file_name().to_string_lossy().into_owned(), text)
        })
        .collect()
}

/// Every file under `dir` with its bytes and modification time.
fn tree(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, SystemTime)> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).expect("read dir") {
        let e = e.expect("entry");
        let meta = e.metadata().expect("metadata");
        if meta.is_dir() {
            out.extend(tree(&e.path()));
        } else {
            let bytes = std::fs::read(e.path()).expect("read");
            out.insert(e.path(), (bytes, meta.modified().expect("mtime")));
        }
    }
    out
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
