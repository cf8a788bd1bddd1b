//! End to end: an import into an empty folder streams (`src/engine/import.rs`): each page
//! of Asana tasks is planned and written before the page after next is read, so a big
//! project is never held in memory whole. Through the real binary and the Asana
//! simulator: files exist while the listing is still going on, the requests are those of
//! an ordinary import, and a kill in the middle converges on the next run.

#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod common;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::World;

/// Six pages of 100.
const TASKS: usize = 600;

fn task_pages(w: &World) -> usize {
    w.sim
        .requests()
        .iter()
        .filter(|r| {
            r.method == "GET" && r.path.ends_with("/tasks") && r.path.contains("/projects/")
        })
        .count()
}

/// Once the fourth page has been read, the first two are files already (the second is
/// written while the third is read); the run is killed there, and the next run finishes
/// the job: one file per task, no duplicate, and a further sync writes nothing.
#[test]
fn files_are_written_while_the_listing_goes_on() {
    let w = World::new("newest");
    asana_sim::seed::generated(&w.sim, &w.project, TASKS);
    // Slow pages, so that the listing is still going on when the files are counted.
    w.sim.set_latency(Duration::from_millis(150));
    w.sim.clear_requests();
    let mut child = w
        .command()
        .arg("sync")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(60);
    while task_pages(&w) < 4 {
        assert!(
            matches!(child.try_wait(), Ok(None)),
            "the import ended before its fourth page"
        );
        assert!(Instant::now() < deadline, "the fourth page was never read");
        std::thread::sleep(Duration::from_millis(2));
    }
    let files = std::fs::read_dir(w.md()).map_or(0, Iterator::count);
    let running = matches!(child.try_wait(), Ok(None));
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    assert!(running, "the import ended before the files were counted");
    assert!(
        files >= 200,
        "only {files} files after four pages were read: the import does not stream"
    );
    assert!(
        files < TASKS,
        "every file was there before the last page was read"
    );

    w.sim.set_latency(Duration::ZERO);
    w.sync();
    let texts = w.files();
    let gids: BTreeSet<String> = texts
        .values()
        .filter_map(|t| World::front(t, "asana_gid"))
        .collect();
    assert_eq!(texts.len(), TASKS, "one file per task");
    assert_eq!(gids.len(), TASKS, "each file names its own task");
    w.sim.clear_requests();
    let before = World::tree_snapshot(&w.md());
    w.sync();
    assert_eq!(
        w.writes(),
        Vec::<String>::new(),
        "a further sync wrote to Asana"
    );
    assert_eq!(World::tree_snapshot(&w.md()), before, "files rewritten");
}

/// A streamed import makes the requests of an ordinary one: one events request for the
/// cursor, one listing request per page, the users directory once; and nothing is
/// written to Asana.
#[test]
fn a_streamed_import_makes_the_requests_of_an_ordinary_one() {
    let w = World::new("newest");
    asana_sim::seed::generated(&w.sim, &w.project, TASKS);
    w.sim.clear_requests();
    w.sync();
    let pages = task_pages(&w);
    // Besides the comment fill after the files are written: one story listing per task.
    let stories = w
        .sim
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/stories"))
        .count();
    assert_eq!(stories, TASKS, "each task's comments read once");
    let all = w.sim.requests().len() - stories;
    assert_eq!(pages, TASKS / 100, "one listing request per page");
    assert!(
        all <= TASKS.div_ceil(100) + 5,
        "{all} requests for an import of {TASKS}: {:#?}",
        w.sim.requests()
    );
    assert_eq!(w.writes(), Vec::<String>::new());
    assert_eq!(w.files().len(), TASKS);
}
