//! End to end: `asana-bridge watch` through the real binary against the simulator: edits
//! arrive both ways in seconds, an idle watch costs one request per poll and writes
//! nothing, an expired cursor recovers, an outage is ridden out, a second process is
//! refused, `status` reads the live status, and SIGTERM exits 0.

#[allow(unused_imports)] // the shared harness re-exports more than this file uses
mod common;

use std::time::Duration;

use common::{Fault, TaskEdit, Watch, World, free_port};

const WAIT: Duration = Duration::from_secs(15);

#[test]
fn watch_mirrors_both_ways_idles_cheaply_and_stops_on_sigterm() {
    let w = World::new("newest");
    let gid = w.add_task("Watched", |_| {});
    let watch = Watch::start(&w, &["--poll-interval", "1"]);
    assert!(
        World::eventually(WAIT, || w.files().len() == 1),
        "initial import: {}",
        watch.stderr()
    );
    let (name, text) = w.file_of(&gid);

    // File -> Asana, reacting to the folder watcher.
    w.write(&name, text.replace("completed: false", "completed: true"));
    assert!(
        World::eventually(WAIT, || w.sim.task(&gid).is_some_and(|t| t.completed)),
        "file edit never reached Asana: {}",
        watch.stderr()
    );
    // Asana -> file, by polling the events feed.
    w.sim.edit_task(
        &gid,
        TaskEdit {
            name: Some("Renamed in Asana".into()),
            ..TaskEdit::default()
        },
    );
    assert!(
        World::eventually(WAIT, || World::front(&w.read(&name), "title").as_deref()
            == Some("Renamed in Asana")),
        "Asana edit never reached the file: {}",
        watch.stderr()
    );
    // A new file becomes a task.
    w.write("brand-new.md", "---\ntitle: Born locally\n---\n");
    assert!(World::eventually(WAIT, || w
        .sim
        .project_tasks(&w.project)
        .iter()
        .any(|t| t.name == "Born locally")));

    // Idle: no write, and about one request per poll (all of them the events feed).
    // Kept (a quiet period): the echo of its own writes (400 ms debounce) must be dropped
    // before requests are counted; nothing marks that done.
    std::thread::sleep(Duration::from_millis(1500));
    let files_before = World::tree_snapshot(&w.md());
    w.sim.clear_requests();
    // Kept (the point): four 1 s polls of idling are counted.
    std::thread::sleep(Duration::from_secs(4));
    let requests = w.sim.requests();
    assert!(w.writes().is_empty(), "idle watch wrote: {:?}", w.writes());
    assert!(
        requests.iter().all(|r| r.path == "/events"),
        "{requests:#?}"
    );
    assert!(
        (2..=6).contains(&requests.len()),
        "{} requests in 4 s at a 1 s poll",
        requests.len()
    );
    assert_eq!(
        World::tree_snapshot(&w.md()),
        files_before,
        "idle watch rewrote a file"
    );

    // While it runs: a second process is refused, status reads the live status.
    let second = w.run(&["sync"]).expect(2);
    assert!(
        second
            .stderr
            .contains("in use by another asana-bridge process"),
        "{}",
        second.stderr
    );
    let status = w.run(&["--json", "status"]).expect(0);
    let doc: serde_json::Value = serde_json::from_str(&status.stdout).expect("json");
    assert_eq!(doc["live"], true);
    assert_eq!(doc["links"][0]["mapped"], 2);

    let (code, took, stdout, _) = watch.terminate();
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(stdout.contains("stopped"), "{stdout}");
    // Stopped cleanly: the state is free again and nothing is left to do.
    w.sim.clear_requests();
    w.sync();
    assert!(w.writes().is_empty());
}

#[test]
fn an_expired_cursor_leads_to_a_full_reconcile_and_goes_on() {
    let w = World::new("newest");
    let gid = w.add_task("Before", |_| {});
    let watch = Watch::start(&w, &["--poll-interval", "1"]);
    assert!(World::eventually(WAIT, || w.files().len() == 1));
    w.sim.expire_sync_tokens();
    w.sim.edit_task(
        &gid,
        TaskEdit {
            name: Some("After expiry".into()),
            ..TaskEdit::default()
        },
    );
    assert!(
        World::eventually(WAIT, || World::front(&w.file_of(&gid).1, "title")
            .as_deref()
            == Some("After expiry")),
        "{}",
        watch.stderr()
    );
    let later = w.add_task("Later", |_| {});
    assert!(
        World::eventually(WAIT, || w.files().len() == 2),
        "{}",
        watch.stderr()
    );
    assert!(w.file_of(&later).1.contains("title: Later"));
    let (code, ..) = watch.terminate();
    assert_eq!(code, Some(0));
}

#[test]
fn an_outage_is_reported_once_and_ridden_out() {
    let w = World::new("newest");
    w.write_config_with("newest", "retry_max_seconds = 1\n");
    let gid = w.add_task("Steady", |_| {});
    let watch = Watch::start(&w, &["--poll-interval", "1"]);
    assert!(World::eventually(WAIT, || w.files().len() == 1));
    w.sim.inject(Fault::Status {
        status: 503,
        count: 8,
        method: None,
        path_contains: None,
    });
    assert!(
        World::eventually(WAIT, || watch.stderr().contains("retrying with backoff")),
        "{}",
        watch.stderr()
    );
    // Let the outage pass, then an edit still arrives.
    assert!(
        World::eventually(Duration::from_secs(30), || watch
            .stderr()
            .contains("reachable again")),
        "{}",
        watch.stderr()
    );
    w.sim.edit_task(
        &gid,
        TaskEdit {
            name: Some("After the outage".into()),
            ..TaskEdit::default()
        },
    );
    assert!(World::eventually(WAIT, || World::front(
        &w.file_of(&gid).1,
        "title"
    )
    .as_deref()
        == Some("After the outage")));
    let (code, _, _, stderr) = watch.terminate();
    assert_eq!(code, Some(0));
    assert_eq!(
        stderr.matches("retrying with backoff").count(),
        1,
        "one warning per outage:\n{stderr}"
    );
}

#[test]
fn webhooks_speed_up_a_slow_poll_refuse_forgeries_and_are_removed_on_shutdown() {
    let w = World::new("newest");
    let gid = w.add_task("Hooked", |_| {});
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hooks");
    let watch = Watch::start(
        &w,
        &[
            "--poll-interval",
            "60",
            "--backup-poll-interval",
            "60",
            "--webhook-listen",
            &format!("127.0.0.1:{port}"),
            "--webhook-url",
            &url,
        ],
    );
    assert!(
        World::eventually(WAIT, || w.files().len() == 1),
        "{}",
        watch.stderr()
    );
    assert!(
        World::eventually(WAIT, || w.sim.webhooks().iter().any(|h| h.active)),
        "no webhook registered: {}",
        watch.stderr()
    );
    let hook = w
        .sim
        .webhooks()
        .into_iter()
        .find(|h| h.active)
        .expect("hook");
    assert_eq!(hook.target, format!("{url}/roadmap"));

    // With a 60 s poll, only the webhook can bring this edit over in seconds.
    w.sim.edit_task(
        &gid,
        TaskEdit {
            name: Some("Pushed by webhook".into()),
            ..TaskEdit::default()
        },
    );
    assert!(
        World::eventually(WAIT, || World::front(&w.file_of(&gid).1, "title")
            .as_deref()
            == Some("Pushed by webhook")),
        "webhook did not prompt a poll: {}",
        watch.stderr()
    );

    // A forged delivery is refused and prompts nothing.
    // Kept (a quiet period): the echo of the file it just wrote must be dropped before
    // requests are counted; nothing marks that done.
    std::thread::sleep(Duration::from_millis(500));
    w.sim.clear_requests();
    let body = format!(
        r#"{{"events":[{{"action":"changed","resource":{{"gid":"{gid}","resource_type":"task"}}}}]}}"#
    );
    for signature in [None, Some("00".repeat(32))] {
        let status = w
            .sim
            .send_forged_delivery_blocking(&hook.target, &body, signature.as_deref());
        assert_eq!(status, 401);
    }
    // Kept (the point): time for a poll to happen, were the forgeries to cause one.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        w.sim.requests().is_empty(),
        "a forged delivery made the bridge poll: {:#?}",
        w.sim.requests()
    );

    let (code, _, _, stderr) = watch.terminate();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        w.sim.webhooks().is_empty(),
        "webhook left behind: {:#?}",
        w.sim.webhooks()
    );
}

#[test]
fn the_bridges_own_file_writes_do_not_wake_it() {
    let w = World::new("newest");
    w.add_task("Existing", |_| {});
    // A long poll: only the folder watcher can wake the loop within the test.
    let watch = Watch::start(&w, &["--poll-interval", "60"]);
    assert!(
        World::eventually(WAIT, || w.files().len() == 1),
        "{}",
        watch.stderr()
    );
    // Kept (a quiet period): the echo of its import write (400 ms debounce) must be dropped
    // before polls are counted; nothing marks that done.
    std::thread::sleep(Duration::from_millis(1500));
    w.sim.clear_requests();

    // A new file: one sync creates its task and writes the gid into the file. That write
    // is the bridge's own and must not wake another sync.
    w.write("born-here.md", "---\ntitle: Born here\n---\n");
    assert!(World::eventually(WAIT, || World::front(
        &w.read("born-here.md"),
        "asana_gid"
    )
    .is_some()));
    // Kept (the point): time for another sync to happen, were its own write to wake one.
    std::thread::sleep(Duration::from_secs(2));
    let polls = w
        .sim
        .requests()
        .iter()
        .filter(|r| r.path == "/events")
        .count();
    // One sync: its read of the feed, and the read that drains its own echo.
    assert_eq!(polls, 2, "{:#?}", w.sim.requests());
    let (code, ..) = watch.terminate();
    assert_eq!(code, Some(0));
}
