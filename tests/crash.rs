//! End to end: `kill -9` in the middle of a sync, then a rerun: nothing duplicated, nothing
//! lost, and the sync after that writes nothing.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::World;

fn kill_mid_sync_then_rerun(kill_after: Duration) {
    let w = World::new("newest");
    w.sim.set_latency(Duration::from_millis(15));
    for i in 0..12 {
        w.add_task(&format!("Remote {i}"), |t| {
            t.notes = format!("remote notes {i}")
        });
    }
    for i in 0..12 {
        w.write(
            &format!("local-{i}.md"),
            format!("---\ntitle: Local {i}\n---\nlocal notes {i}\n"),
        );
    }

    let mut child = w.command().arg("sync").spawn().expect("spawn");
    std::thread::sleep(kill_after);
    let _ = child.kill(); // SIGKILL on unix
    let _ = child.wait();

    w.sim.set_latency(Duration::ZERO);
    w.sync();

    let tasks = w.sim.project_tasks(&w.project);
    let names: Vec<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(
        names.len(),
        24,
        "killed after {kill_after:?}: duplicate or missing tasks: {names:#?}"
    );
    assert_eq!(unique.len(), 24);

    let files = w.files();
    assert_eq!(
        files.len(),
        24,
        "killed after {kill_after:?}: {:#?}",
        files.keys()
    );
    let gids: BTreeSet<String> = files
        .values()
        .filter_map(|t| World::front(t, "asana_gid"))
        .collect();
    assert_eq!(gids.len(), 24, "every file carries its own gid");
    let task_gids: BTreeSet<String> = tasks.iter().map(|t| t.gid.clone()).collect();
    assert_eq!(gids, task_gids);
    for t in &tasks {
        let (_, text) = w.file_of(&t.gid);
        assert!(text.contains(&t.notes), "notes of {} lost", t.name);
    }

    w.sim.clear_requests();
    w.sync();
    assert_eq!(
        w.writes(),
        Vec::<String>::new(),
        "killed after {kill_after:?}"
    );
}

#[test]
fn kill_9_at_several_points_then_rerun_converges_without_duplicates() {
    for ms in [30, 80, 150, 250, 400, 700] {
        kill_mid_sync_then_rerun(Duration::from_millis(ms));
    }
}
