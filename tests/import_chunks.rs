//! End to end: the records of new files are written in chunks (`src/apply/new_records.rs`),
//! not one by one. Through the real binary and the Asana simulator: a run that makes more
//! files than two chunks records every pair (full chunks and the rest), and a `kill -9` in
//! the middle of one loses no pair and duplicates nothing once the next run has gone
//! through. The folder holds one file of its own to begin with, so that the run takes the
//! ordinary way (one plan for the link) rather than an empty folder's streamed import,
//! whose pages are smaller than a chunk.

#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod common;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::World;

/// More than two chunks of 256, and a remainder.
const NEW_FILES: usize = 600;
/// Those tasks and the one made from the folder's own file.
const TASKS: usize = NEW_FILES + 1;

fn world() -> World {
    let w = World::new("newest");
    asana_sim::seed::generated(&w.sim, &w.project, NEW_FILES);
    w.write(
        "local.md",
        "---\ntitle: Written locally\n---\nlocal notes\n",
    );
    w
}

/// The link's mapped pairs, as `status --json` reads them from the state.
fn mapped(w: &World) -> u64 {
    let run = w.run(&["--json", "status"]).expect(0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("status JSON");
    doc["links"][0]["mapped"]
        .as_u64()
        .unwrap_or_else(|| panic!("no mapped count in {doc}"))
}

/// Every task has exactly one file naming it, and nothing else is in the folder.
fn assert_one_file_per_task(w: &World, context: &str) {
    let files = w.files();
    let gids: Vec<String> = files
        .values()
        .filter_map(|t| World::front(t, "asana_gid"))
        .collect();
    let unique: BTreeSet<String> = gids.iter().cloned().collect();
    assert_eq!(gids.len(), files.len(), "{context}: a file names no task");
    assert_eq!(
        unique.len(),
        gids.len(),
        "{context}: two files name one task"
    );
    let tasks: BTreeSet<String> = w
        .sim
        .project_tasks(&w.project)
        .into_iter()
        .map(|t| t.gid)
        .collect();
    assert_eq!(tasks.len(), TASKS, "{context}: tasks in Asana");
    assert_eq!(unique, tasks, "{context}: files and tasks pair up");
}

/// A further sync is a no-op: nothing written on either side.
fn assert_settled(w: &World, context: &str) {
    let before = World::tree_snapshot(&w.md());
    w.sim.clear_requests();
    w.sync();
    assert_eq!(w.writes(), Vec::<String>::new(), "{context}: Asana written");
    assert_eq!(
        World::tree_snapshot(&w.md()),
        before,
        "{context}: files rewritten"
    );
}

/// Two full chunks and the rest are all recorded by the time the run ends: the state
/// maps every pair, and a resync writes nothing.
#[test]
fn several_chunks_of_new_files_record_every_pair() {
    let w = world();
    w.sync();
    assert_one_file_per_task(&w, "after the import");
    assert_eq!(mapped(&w), TASKS as u64, "pairs recorded by the import");
    assert_settled(&w, "after the import");
}

/// A `kill -9` while the files are being written (records of the last chunk not yet in
/// the store): the next run adopts every file by its `asana_gid`, creates the rest, and
/// no task or file is duplicated.
#[test]
fn a_kill_between_chunks_loses_no_pair_and_duplicates_nothing() {
    let w = world();
    let mut child = w
        .command()
        .arg("sync")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(60);
    // Kill once about half the files are there: past the first chunk, before the last.
    let mut written = 0;
    while written < NEW_FILES / 2 {
        assert!(
            matches!(child.try_wait(), Ok(None)),
            "the import ended before the kill ({written} files)"
        );
        assert!(Instant::now() < deadline, "the import never got going");
        std::thread::sleep(Duration::from_millis(2));
        written = std::fs::read_dir(w.md()).map_or(0, Iterator::count);
    }
    let _ = child.kill(); // SIGKILL
    let status = child.wait().expect("wait");
    assert!(!status.success(), "the kill landed after the run ended");
    let recorded = mapped(&w);
    assert!(
        recorded < TASKS as u64,
        "the kill landed mid-run, yet {recorded} pairs are recorded"
    );

    w.sync();
    assert_one_file_per_task(&w, "after the rerun");
    assert_eq!(mapped(&w), TASKS as u64, "pairs recorded after the rerun");
    assert_settled(&w, "after the rerun");
}
