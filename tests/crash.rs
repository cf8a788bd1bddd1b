//! End to end: `kill -9` of the real binary at many points of a sync (after k simulator
//! requests, at random moments of the file writes, right after the last request while the
//! state is flushed), across an initial import, local creates and mixed edits on both
//! sides; then one clean rerun. Afterwards: no duplicate task or file, no lost edit,
//! nothing outside the folder, and a further sync makes zero writes.
//!
//! Kill points are spread over a clean run of the same scenario (its request count and its
//! duration), with a pseudo-random jitter. The seed is printed with any failure and can be
//! fixed with `CRASH_SEED=<n>`.
//!
//! A GitHub link is killed the same way, after k of the creates its sync makes on both
//! sides, and each kill is checked to have landed mid-run.

// Both harnesses include `common/run.rs`; each is a private copy, which is harmless.
#![allow(clippy::duplicate_mod)]

#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod common;
#[allow(unused_imports)] // the GitHub harness, for the GitHub link's kill test
#[path = "common/github.rs"]
mod gh;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{TaskEdit, World};

/// A small deterministic generator (xorshift), so a failing seed replays.
struct Rng(u64);

impl Rng {
    fn from_env() -> Self {
        let seed = std::env::var("CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        Self(seed | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// What a task must look like once the job is finished.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Want {
    notes: String,
    completed: bool,
    due_on: Option<String>,
}

impl Want {
    fn notes(notes: &str) -> Self {
        Self {
            notes: notes.to_owned(),
            completed: false,
            due_on: None,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Scenario {
    /// Twenty tasks in Asana, an empty folder.
    Import,
    /// Fourteen new files, an empty project (bar one task).
    LocalCreates,
    /// A synced world of eight tasks, then edits, creates and deletions on both sides.
    Mixed,
}

/// Prepares a world for `scenario` and returns what the finished sync must yield, by title.
fn setup(scenario: Scenario) -> (World, BTreeMap<String, Want>) {
    let w = World::new("newest");
    let mut want = BTreeMap::new();
    match scenario {
        Scenario::Import => {
            for i in 0..20 {
                let notes = format!("remote notes {i}\nsecond line");
                w.add_task(&format!("Remote {i}"), |t| {
                    t.notes.clone_from(&notes);
                    t.completed = i % 3 == 0;
                    t.tags = vec!["imported".into()];
                });
                want.insert(
                    format!("Remote {i}"),
                    Want {
                        completed: i % 3 == 0,
                        ..Want::notes(&notes)
                    },
                );
            }
        }
        Scenario::LocalCreates => {
            w.add_task("Already there", |_| {});
            want.insert("Already there".to_owned(), Want::notes(""));
            for i in 0..14 {
                w.write(
                    &format!("local-{i}.md"),
                    format!("---\ntitle: Local {i}\ntags: [mine]\nsection: Inbox\n---\nlocal notes {i}\n"),
                );
                want.insert(
                    format!("Local {i}"),
                    Want::notes(&format!("local notes {i}")),
                );
            }
        }
        Scenario::Mixed => {
            let gids: Vec<String> = (0..8)
                .map(|i| w.add_task(&format!("Task {i}"), |t| t.notes = format!("notes {i}")))
                .collect();
            w.sync();
            let file = |i: usize| w.file_of(&gids[i]);
            // Asana side: a rename and a completion.
            w.sim.edit_task(
                &gids[0],
                TaskEdit {
                    name: Some("Task 0 renamed in Asana".into()),
                    ..TaskEdit::default()
                },
            );
            w.sim.edit_task(
                &gids[1],
                TaskEdit {
                    completed: Some(true),
                    ..TaskEdit::default()
                },
            );
            // File side: notes, a due date, a completion.
            let (n2, t2) = file(2);
            w.write(&n2, t2.replace("notes 2", "notes 2, edited locally"));
            let (n3, t3) = file(3);
            w.write(
                &n3,
                t3.replace("completed: false", "completed: false\ndue_on: 2026-05-05"),
            );
            let (n4, t4) = file(4);
            w.write(&n4, t4.replace("completed: false", "completed: true"));
            // Deletions on both sides, creates on both sides.
            w.sim.delete_task(&gids[5]);
            let (n6, _) = file(6);
            std::fs::remove_file(w.md().join(n6)).expect("rm");
            w.add_task("New in Asana", |t| t.notes = "remote".into());
            w.write("new-local.md", "---\ntitle: New locally\n---\nlocal\n");

            want.insert("Task 0 renamed in Asana".into(), Want::notes("notes 0"));
            want.insert(
                "Task 1".into(),
                Want {
                    completed: true,
                    ..Want::notes("notes 1")
                },
            );
            want.insert("Task 2".into(), Want::notes("notes 2, edited locally"));
            want.insert(
                "Task 3".into(),
                Want {
                    due_on: Some("2026-05-05".into()),
                    ..Want::notes("notes 3")
                },
            );
            want.insert(
                "Task 4".into(),
                Want {
                    completed: true,
                    ..Want::notes("notes 4")
                },
            );
            want.insert("Task 7".into(), Want::notes("notes 7"));
            want.insert("New in Asana".into(), Want::notes("remote"));
            want.insert("New locally".into(), Want::notes("local"));
        }
    }
    // Slow requests make the window between two of them wide enough to land a kill in.
    w.sim.set_latency(Duration::from_millis(4));
    (w, want)
}

/// How a clean run of a scenario goes: its request count and duration.
fn measure(scenario: Scenario) -> (usize, Duration) {
    let (w, _) = setup(scenario);
    w.sim.clear_requests();
    let start = Instant::now();
    w.sync();
    (w.sim.requests().len(), start.elapsed())
}

/// When to kill the child, counted from its start.
#[derive(Clone, Copy, Debug)]
enum KillPoint {
    /// Once the simulator has seen `n` requests (the next one is usually in flight).
    Requests(usize),
    /// Once the simulator has seen `n` requests, then `micros` later (past the last
    /// request this lands in the final file writes and the state flush).
    RequestsThenMicros(usize, u64),
    /// A fixed time after the start.
    Micros(u64),
}

fn kill(child: &mut Child) {
    let _ = child.kill(); // SIGKILL on unix
    let _ = child.wait();
}

/// Spawns `sync`, kills it at `point` (or lets it finish if it ends first). Returns
/// whether the kill happened before the child exited.
fn kill_at(w: &World, point: KillPoint) -> bool {
    w.sim.clear_requests();
    let mut child = w
        .command()
        .arg("sync")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    let deadline = start + Duration::from_secs(20);
    let wait_requests = |child: &mut Child, n: usize| -> bool {
        while w.sim.requests().len() < n {
            if matches!(child.try_wait(), Ok(Some(_))) || Instant::now() > deadline {
                return false;
            }
            // A poll, fine-grained: the kill is to land right after the n-th request.
            std::thread::sleep(Duration::from_micros(100));
        }
        true
    };
    let reached = match point {
        KillPoint::Requests(n) => wait_requests(&mut child, n),
        KillPoint::RequestsThenMicros(n, micros) => {
            let ok = wait_requests(&mut child, n);
            // Kept (the point): the kill lands this far into the run.
            std::thread::sleep(Duration::from_micros(micros));
            ok
        }
        KillPoint::Micros(micros) => {
            // Kept (the point): the kill lands this far into the run.
            std::thread::sleep(Duration::from_micros(micros));
            true
        }
    };
    let still_running = matches!(child.try_wait(), Ok(None));
    kill(&mut child);
    reached && still_running
}

/// The task files and the other entries of the folder and of the world's root.
fn check_world(w: &World, want: &BTreeMap<String, Want>, context: &str) {
    let tasks = w.sim.project_tasks(&w.project);
    let names: Vec<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(
        names.len(),
        unique.len(),
        "{context}: duplicate tasks in Asana: {names:#?}"
    );
    let wanted: BTreeSet<&str> = want.keys().map(String::as_str).collect();
    assert_eq!(unique, wanted, "{context}: tasks in Asana");

    let files = w.files();
    assert_eq!(
        files.len(),
        want.len(),
        "{context}: files {:#?}",
        files.keys()
    );
    let gids: Vec<String> = files
        .values()
        .filter_map(|t| World::front(t, "asana_gid"))
        .collect();
    let unique_gids: BTreeSet<String> = gids.iter().cloned().collect();
    assert_eq!(
        gids.len(),
        files.len(),
        "{context}: a file carries no asana_gid"
    );
    assert_eq!(
        unique_gids.len(),
        gids.len(),
        "{context}: two files carry one gid"
    );
    let task_gids: BTreeSet<String> = tasks.iter().map(|t| t.gid.clone()).collect();
    assert_eq!(unique_gids, task_gids, "{context}: files and tasks pair up");

    for t in &tasks {
        let w_t = &want[&t.name];
        let got = Want {
            notes: t.notes.clone(),
            completed: t.completed,
            due_on: t.due_on.clone(),
        };
        assert_eq!(&got, w_t, "{context}: Asana task {:?}", t.name);
        let (name, text) = w.file_of(&t.gid);
        assert_eq!(
            World::front(&text, "title").as_deref(),
            Some(t.name.as_str()),
            "{context}: {name}"
        );
        // A user's file without a `completed` key means not completed.
        assert_eq!(
            World::front(&text, "completed")
                .as_deref()
                .unwrap_or("false"),
            if t.completed { "true" } else { "false" },
            "{context}: {name}"
        );
        assert_eq!(World::front(&text, "due_on"), t.due_on, "{context}: {name}");
        let body = text.splitn(3, "---\n").nth(2).unwrap_or_default();
        assert_eq!(
            body.strip_suffix('\n').unwrap_or(body),
            t.notes,
            "{context}: notes of {name}"
        );
    }

    // Nothing outside the folder and the state directory.
    let root: BTreeSet<String> = std::fs::read_dir(w.dir.path())
        .expect("root")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    let allowed: BTreeSet<String> = ["asana-bridge.toml", ".asana-bridge", "roadmap"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert!(
        root.is_subset(&allowed),
        "{context}: unexpected entries next to the folder: {root:?}"
    );
    for e in std::fs::read_dir(w.md()).expect("folder") {
        let name = e.expect("entry").file_name().to_string_lossy().into_owned();
        assert!(
            name.ends_with(".md") || name.starts_with('.'),
            "{context}: stray file {name} in the folder"
        );
    }
}

/// One kill point: kill, rerun cleanly, check, and check that one more sync writes nothing.
fn crash_and_recover(scenario: Scenario, point: KillPoint, seed: u64) -> bool {
    let (w, want) = setup(scenario);
    let killed = kill_at(&w, point);
    let context = format!("{scenario:?}, killed at {point:?} (CRASH_SEED={seed})");
    w.sim.set_latency(Duration::ZERO);
    let rerun = w.run(&["sync"]);
    assert_eq!(
        rerun.code, 0,
        "{context}: the rerun failed\n{}\n{}",
        rerun.stdout, rerun.stderr
    );
    check_world(&w, &want, &context);
    let before = World::tree_snapshot(&w.md());
    w.sim.clear_requests();
    let again = w.sync();
    assert_eq!(
        w.writes(),
        Vec::<String>::new(),
        "{context}: a further sync wrote to Asana\n{}",
        again.stdout
    );
    assert_eq!(
        World::tree_snapshot(&w.md()),
        before,
        "{context}: a further sync rewrote files"
    );
    killed
}

/// Kills `scenario` at `count` points spread over a clean run of it (by request count,
/// just past the last request, and by time), each with a fresh world. Returns how many
/// kills landed while the child was still running.
fn kill_points(scenario: Scenario, count: usize) -> usize {
    let mut rng = Rng::from_env();
    let seed = rng.0;
    let (requests, duration) = measure(scenario);
    let micros = u64::try_from(duration.as_micros())
        .unwrap_or(u64::MAX)
        .max(1);
    let mut landed = 0;
    for i in 0..count {
        let point = match i % 3 {
            0 => KillPoint::Requests(1 + rng.below(requests as u64) as usize),
            1 => KillPoint::RequestsThenMicros(requests.saturating_sub(1).max(1), rng.below(6_000)),
            _ => KillPoint::Micros(rng.below(micros)),
        };
        if crash_and_recover(scenario, point, seed) {
            landed += 1;
        }
    }
    landed
}

/// An initial import killed at 20 points: after the rerun every task has exactly one file
/// with every field, and nothing more is written.
#[test]
fn kill_9_during_an_initial_import_then_rerun_converges() {
    let landed = kill_points(Scenario::Import, 20);
    assert!(landed >= 10, "only {landed} of 20 kills hit a running sync");
}

/// Local creates killed at 20 points (the ambiguous moment between an Asana create and the
/// gid landing in the file included): no task is created twice, every file gets its gid.
#[test]
fn kill_9_during_local_creates_then_rerun_converges_without_duplicates() {
    let landed = kill_points(Scenario::LocalCreates, 20);
    assert!(landed >= 10, "only {landed} of 20 kills hit a running sync");
}

/// Mixed edits, creates and deletions on both sides killed at 20 points: no edit is lost,
/// deletions complete, nothing is duplicated.
#[test]
fn kill_9_during_mixed_edits_then_rerun_loses_no_edit() {
    let landed = kill_points(Scenario::Mixed, 20);
    assert!(landed >= 10, "only {landed} of 20 kills hit a running sync");
}

/// The creates of a sync between an Asana project and GitHub issues that both simulators
/// have answered with success: `POST /tasks` in Asana (batched or not) and `POST .../issues`
/// in GitHub.
fn github_link_creates(w: &gh::GhWorld) -> usize {
    let asana = w
        .asana
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/tasks" && (200..300).contains(&r.status))
        .count();
    let github = w
        .github
        .requests()
        .into_iter()
        .filter(|r| {
            r.method == "POST" && r.path.ends_with("/issues") && (200..300).contains(&r.status)
        })
        .count();
    asana + github
}

/// `kill -9` of a sync between an Asana project and GitHub issues that creates on both sides
/// (5 tasks become issues, 5 issues become tasks), once 1, 3, 5 and 7 of its 10 creates are
/// done, then a rerun: no duplicate issue or task, nothing lost, and the sync after that
/// writes nothing. Each kill is checked to have landed mid-run: the sync was still running,
/// and some but not all of the creates had happened.
#[test]
fn kill_9_mid_github_sync_then_rerun_converges_without_duplicates() {
    const CREATES: usize = 10;
    for after in [1, 3, 5, 7] {
        let w = gh::GhWorld::new("newest");
        // Slow answers keep the sync running well past the kill point.
        w.asana.set_latency(Duration::from_millis(10));
        w.github.set_latency(Duration::from_millis(10));
        for i in 0..5 {
            w.add_task(&format!("Remote {i}"), |t| {
                t.notes = format!("asana notes {i}");
            });
            w.add_issue(&format!("Issue {i}"), |s| {
                s.body = Some(format!("github notes {i}"));
            });
        }
        w.clear_requests();
        let mut child = w
            .command()
            .arg("sync")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let deadline = Instant::now() + Duration::from_secs(30);
        while github_link_creates(&w) < after {
            assert!(
                matches!(child.try_wait(), Ok(None)),
                "the sync ended before {after} creates"
            );
            assert!(Instant::now() < deadline, "no {after} creates in 30 s");
            // A poll, fine-grained: the kill is to land right after the n-th create.
            std::thread::sleep(Duration::from_micros(200));
        }
        assert!(
            matches!(child.try_wait(), Ok(None)),
            "the sync ended before the kill after {after} creates"
        );
        kill(&mut child);
        let done = github_link_creates(&w);
        assert!(
            (after..CREATES).contains(&done),
            "the kill after {after} creates landed with {done} of {CREATES} done: not mid-run"
        );
        let context = format!("killed after {done} of {CREATES} creates");
        w.asana.set_latency(Duration::ZERO);
        w.github.set_latency(Duration::ZERO);
        w.sync();

        let tasks = w.asana.project_tasks(&w.project);
        let issues = w.github.repo_issues();
        assert_eq!(tasks.len(), 10, "{context}: {tasks:#?}");
        assert_eq!(issues.len(), 10, "{context}: {issues:#?}");
        for t in &tasks {
            if t.name.starts_with("Remote") {
                // Created by the bridge: the footer names the task.
                let issue = w.issue_of(&t.gid);
                assert_eq!(issue.title, t.name, "{context}");
                assert_eq!(
                    issue.body.as_deref(),
                    Some(w.body_for(&t.notes, &t.gid).as_str()),
                    "{context}"
                );
            } else {
                // Adopted: paired by the records, the body left as the person wrote it.
                let found: Vec<_> = issues.iter().filter(|i| i.title == t.name).collect();
                assert_eq!(found.len(), 1, "{context}: {issues:#?}");
                // The task ends with the line naming the issue it was made from.
                let body = found[0].body.as_deref().unwrap_or_default();
                assert_eq!(
                    t.notes,
                    format!("{body}\nMirrored from GitHub: acme/app#{}", found[0].number),
                    "{context}"
                );
            }
        }
        w.clear_requests();
        w.sync();
        assert_eq!(w.all_writes(), Vec::<String>::new(), "{context}");
    }
}
