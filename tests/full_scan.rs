//! The safety net behind incremental syncs: a sync lists every Asana task again once the
//! last full listing is older than `full_scan_every` (an hour for `sync`), because the
//! events feed may miss something; before that, a sync reads only the feed. Driven through
//! the engine in process against the simulator.

use std::sync::Arc;

use asana_bridge::config::{LinkConfig, OnDelete, TargetConfig};
use asana_bridge::engine::{self, LinkReport, SyncOptions};
use asana_bridge::merge::Policy;
use asana_bridge_asana::{AsanaClient, AsanaConfig, AsanaConnector};
use asana_bridge_markdown::MarkdownConnector;
use asana_bridge_state::Store;
use asana_sim::{Simulator, TaskSeed};

fn sync(
    sim: &Simulator,
    project: &str,
    dir: &std::path::Path,
    store: &Store,
    full_scan_every: jiff::SignedDuration,
) -> LinkReport {
    let client = AsanaClient::new(AsanaConfig {
        base_url: sim.base_url(),
        token: secrecy::SecretString::from(sim.token()),
        requests_per_minute: 1_000_000,
    })
    .expect("asana client");
    let asana = AsanaConnector::new(Arc::new(client), project.to_owned());
    let md = dir.join("md");
    let target = MarkdownConnector::new(md.clone());
    target.ensure_dir().expect("folder");
    let link = LinkConfig {
        name: "l".to_owned(),
        asana_project: project.to_owned(),
        conflict: Policy::Newest,
        target: TargetConfig::new(asana_bridge_markdown::MarkdownSpec { dir: md }),
        poll_interval: None,
        on_delete: OnDelete::Delete,
        import_completed: true,
        delete_grace: std::time::Duration::ZERO,
        comments: true,
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(engine::sync_link(
        &link,
        &asana,
        &target,
        store,
        SyncOptions {
            full_scan_every,
            ..SyncOptions::default()
        },
        &indicatif::ProgressBar::hidden(),
        None,
    ))
    .expect("state store")
}

fn listed_the_project(sim: &Simulator, project: &str) -> bool {
    let listing = format!("/projects/{project}/tasks");
    sim.requests().iter().any(|r| r.path == listing)
}

#[test]
fn a_full_listing_comes_back_once_the_last_one_is_older_than_the_interval() {
    let sim = Simulator::start();
    let project = sim.create_project("P");
    sim.add_task(&project, TaskSeed::named("one"));
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(&dir.path().join("state")).expect("store");
    let hour = jiff::SignedDuration::from_hours(1);

    let first = sync(&sim, &project, dir.path(), &store, hour);
    assert!(first.full_scan, "the first sync lists everything");

    sim.clear_requests();
    let second = sync(&sim, &project, dir.path(), &store, hour);
    assert!(!second.full_scan);
    assert!(!listed_the_project(&sim, &project), "{:#?}", sim.requests());

    // The last full listing is now older than the interval: list everything again.
    sim.clear_requests();
    let due = sync(
        &sim,
        &project,
        dir.path(),
        &store,
        jiff::SignedDuration::ZERO,
    );
    assert!(due.full_scan);
    assert!(listed_the_project(&sim, &project), "{:#?}", sim.requests());
}
