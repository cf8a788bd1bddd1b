//! The engine end to end with in-memory connectors on both sides (`connectors/memory`):
//! `engine::sync_link` on a real state store, no HTTP and no binary. The link's target is
//! read from a config through the target registry with the memory kind registered by one
//! line (`Registry::builtin().with(&MemoryTarget)`), and its connector is built by that
//! crate: the same path a Markdown or GitHub link takes.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use asana_bridge::config::{Config, LinkConfig};
use asana_bridge::engine::{self, LinkReport, SyncOptions};
use asana_bridge::targets::Registry;
use asana_bridge_connector::connector::ConnectSetup;
use asana_bridge_connector::{Connector, TaskFields};
use asana_bridge_memory::{MemoryConnector, MemoryTarget, MemoryWorld};
use asana_bridge_state::Store;

/// One link between two in-memory worlds, with its state store.
struct Bench {
    /// The Asana side.
    asana: Arc<MemoryWorld>,
    /// The target side (the world the link's config names).
    target: Arc<MemoryWorld>,
    link: LinkConfig,
    store: Store,
    state_dir: std::path::PathBuf,
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Bench {
    /// A link `conflict = policy` to the memory world `world` (unique per test: worlds
    /// are process-wide).
    fn new(world: &str, policy: &str) -> Self {
        Self::with_table(world, policy, "")
    }

    /// A link to `world` whose target creates in batches of `batch` (as a folder does).
    fn batched(world: &str, batch: usize) -> Self {
        Self::with_table(world, "newest", &format!(", create_batch = {batch}"))
    }

    /// A link whose `memory` table also holds `extra` (`, key = value`...).
    fn with_table(world: &str, policy: &str, extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let text = format!(
            "[[link]]\nname = \"mem\"\nasana_project = \"42\"\nconflict = \"{policy}\"\n\
             memory = {{ world = \"{world}\"{extra} }}\n"
        );
        let path = dir.path().join("asana-bridge.toml");
        let registry = Registry::builtin().with(&MemoryTarget);
        let config = Config::parse_with(&path, &text, None, &registry).expect("config");
        let link = config.links[0].clone();
        assert_eq!(link.target.kind(), "memory");
        let state_dir = config.state_dir.clone();
        Self {
            asana: MemoryWorld::new(),
            target: MemoryWorld::named(world),
            link,
            store: Store::open(&state_dir).expect("store"),
            state_dir,
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            _dir: dir,
        }
    }

    fn sync(&self) -> LinkReport {
        self.sync_with(SyncOptions::default())
    }

    fn sync_with(&self, options: SyncOptions) -> LinkReport {
        let report = self.sync_reporting(options);
        assert!(report.fatal.is_none(), "{report:#?}");
        assert!(report.failures.is_empty(), "{report:#?}");
        report
    }

    /// A run whose report may hold failures.
    fn sync_reporting(&self, options: SyncOptions) -> LinkReport {
        let asana = MemoryConnector::new(Arc::clone(&self.asana)).as_asana();
        let stem = self.link.path_component();
        let target: Box<dyn Connector> = self
            .link
            .target
            .connect(&ConnectSetup {
                link: &self.link.name,
                file_stem: &stem,
                state_dir: &self.state_dir,
                persist: !options.dry_run,
            })
            .expect("the memory target connects");
        self.rt
            .block_on(engine::sync_link(
                &self.link,
                &asana,
                target.as_ref(),
                &self.store,
                options,
                &indicatif::ProgressBar::hidden(),
                None,
            ))
            .expect("state store")
    }

    /// Writes both sides have had through connectors.
    fn writes(&self) -> (usize, usize) {
        (self.asana.writes(), self.target.writes())
    }

    /// A second run that must change nothing: no write on either side.
    fn assert_settled(&self) {
        let before = self.writes();
        let report = self.sync();
        assert_eq!(self.writes(), before, "{report:#?}");
        let c = &report.counts;
        assert_eq!(
            (
                c.created_asana + c.created_target,
                c.updated_asana + c.updated_target,
                c.deleted_asana + c.deleted_target
            ),
            (0, 0, 0),
            "{report:#?}"
        );
    }

    /// Three tasks in Asana and one item in the target, synced once.
    fn imported(world: &str, policy: &str) -> Self {
        let b = Self::new(world, policy);
        for t in ["a1", "a2", "a3"] {
            b.asana.insert(task(t), None);
        }
        b.target.insert(task("t1"), None);
        b.sync();
        b
    }
}

fn task(title: &str) -> TaskFields {
    TaskFields {
        title: title.to_owned(),
        notes: format!("notes of {title}"),
        ..TaskFields::default()
    }
}

fn titles(world: &MemoryWorld) -> Vec<String> {
    let mut t: Vec<String> = world.items().into_iter().map(|i| i.fields.title).collect();
    t.sort();
    t
}

/// The first run mirrors each side's items into the other (the target's items name the
/// task they mirror); the second run writes nothing.
#[test]
fn import_both_ways_then_a_quiet_second_run() {
    let b = Bench::new("import", "newest");
    b.asana.insert(task("from asana"), None);
    b.target.insert(task("from target"), None);
    let report = b.sync();
    assert_eq!(
        (report.counts.created_target, report.counts.created_asana),
        (1, 1),
        "{report:#?}"
    );
    assert_eq!(report.mapped, 2);
    assert_eq!(titles(&b.asana), ["from asana", "from target"]);
    assert_eq!(titles(&b.target), ["from asana", "from target"]);
    let mirrored = b.target.find("from asana").expect("created in the target");
    let task = b.asana.find("from asana").expect("the task");
    assert_eq!(mirrored.partner.as_deref(), Some(task.id.as_str()));
    assert_eq!(mirrored.fields, task.fields, "every field mirrored");
    b.assert_settled();
}

/// An edit on either side reaches the other, field by field, and settles.
#[test]
fn an_edit_flows_each_way() {
    let b = Bench::imported("edits", "newest");
    let a1 = b.asana.find("a1").expect("a1").id;
    assert!(b.asana.edit(&a1, |f| f.title = "a1 renamed".into()));
    let t1 = b.target.find("t1").expect("t1").id;
    assert!(b.target.edit(&t1, |f| {
        f.notes = "edited in the target".into();
        f.completed = true;
    }));
    let report = b.sync();
    assert_eq!(
        (report.counts.updated_target, report.counts.updated_asana),
        (1, 1),
        "{report:#?}"
    );
    assert!(
        b.target.find("a1 renamed").is_some(),
        "{:?}",
        titles(&b.target)
    );
    let t1_task = b.asana.find("t1").expect("t1's task");
    assert_eq!(t1_task.fields.notes, "edited in the target");
    assert!(t1_task.fields.completed);
    b.assert_settled();
}

/// Under `manual`, the same field edited differently on both sides is a conflict: both
/// values stay as they are, and runs go on writing nothing until it is resolved.
#[test]
fn a_conflict_under_manual_touches_neither_side() {
    let b = Bench::imported("conflict", "manual");
    let task = b.asana.find("a2").expect("a2").id;
    let item = b.target.find("a2").expect("a2 mirrored").id;
    b.asana.edit(&task, |f| f.notes = "Asana's words".into());
    b.target
        .edit(&item, |f| f.notes = "the target's words".into());
    let before = b.writes();
    let report = b.sync();
    assert_eq!(report.conflicts_open, 1, "{report:#?}");
    assert_eq!(b.writes(), before, "nothing written: {report:#?}");
    assert_eq!(
        b.asana.item(&task).expect("task").fields.notes,
        "Asana's words"
    );
    assert_eq!(
        b.target.item(&item).expect("item").fields.notes,
        "the target's words"
    );
    let again = b.sync();
    assert_eq!(again.conflicts_open, 1);
    assert_eq!(b.writes(), before);
}

/// A target item deleted (the target says so when asked after it) deletes its task,
/// saved first to the link's trash in the state folder (a memory target has no folder).
#[test]
fn a_deletion_with_evidence_deletes_the_task() {
    let b = Bench::imported("deleted", "newest");
    let item = b.target.find("a3").expect("a3 mirrored").id;
    let task = b.asana.find("a3").expect("a3").id;
    assert!(b.target.remove(&item));
    let report = b.sync();
    assert_eq!(report.counts.deleted_asana, 1, "{report:#?}");
    assert!(b.asana.was_deleted(&task));
    let trash = b.state_dir.join("trash").join("mem");
    let saved = std::fs::read_dir(&trash)
        .unwrap_or_else(|e| panic!("{}: {e}", trash.display()))
        .count();
    assert_eq!(saved, 1, "the task was saved before it was deleted");
    assert_eq!(report.mapped, 3);
    b.assert_settled();
}

/// A target item the listing leaves out while it still exists (a filter, a race) is no
/// deletion; nor, under a grace period (`watch`), is one missing for less than it: the
/// task stays, and the run asks to be repeated when the grace has run out.
#[test]
fn a_deletion_without_evidence_deletes_nothing() {
    let b = Bench::imported("no-evidence", "newest");
    let hidden = b.target.find("a1").expect("a1 mirrored").id;
    b.target.hide(&hidden, true);
    let before = b.writes();
    let report = b.sync();
    assert_eq!(report.counts.deleted_asana, 0, "{report:#?}");
    assert_eq!(b.writes(), before, "{report:#?}");
    assert_eq!(titles(&b.asana), ["a1", "a2", "a3", "t1"]);
    b.target.hide(&hidden, false);

    let removed = b.target.find("a2").expect("a2 mirrored").id;
    assert!(b.target.remove(&removed));
    let report = b.sync_with(SyncOptions {
        delete_grace: Some(Duration::from_secs(3600)),
        ..SyncOptions::default()
    });
    assert_eq!(report.counts.deleted_asana, 0, "{report:#?}");
    assert!(
        b.asana.find("a2").is_some(),
        "the task stays during the grace"
    );
    assert!(report.recheck_after.is_some(), "{report:#?}");
    assert!(!Path::new(&b.state_dir.join("trash").join("mem")).exists());
}

/// A task deleted in Asana deletes its mirror in the target.
#[test]
fn a_task_deleted_in_asana_deletes_its_item() {
    let b = Bench::imported("asana-deleted", "newest");
    let task = b.asana.find("a1").expect("a1").id;
    let item = b.target.find("a1").expect("a1 mirrored").id;
    assert!(b.asana.remove(&task));
    let report = b.sync();
    assert_eq!(report.counts.deleted_target, 1, "{report:#?}");
    assert!(b.target.was_deleted(&item));
    b.assert_settled();
}

/// `n` Asana tasks titled `t00`, `t01`...
fn seed(b: &Bench, n: usize) {
    for i in 0..n {
        b.asana.insert(task(&format!("t{i:02}")), None);
    }
}

/// A target that creates in batches gets an import's creates in batches, each copy
/// recorded as if it were created alone: the next run writes nothing.
#[test]
fn an_import_goes_to_a_batching_target_in_batches() {
    let b = Bench::batched("batches", 10);
    seed(&b, 25);
    let report = b.sync();
    assert_eq!(report.counts.created_target, 25, "{report:#?}");
    assert_eq!(report.mapped, 25);
    assert_eq!(b.target.create_calls(), 3, "25 creates in batches of 10");
    assert_eq!(titles(&b.target), titles(&b.asana));
    b.assert_settled();
}

/// A create the target refuses in the middle of a batch fails that item alone, named in
/// the report; the rest of its batch is created, and the next run creates it once.
#[test]
fn a_refused_create_fails_only_its_item_in_a_batch() {
    let b = Bench::batched("refused", 10);
    seed(&b, 12);
    b.target.refuse_creates("t04", false);
    let report = b.sync_reporting(SyncOptions::default());
    assert!(report.fatal.is_none(), "{report:#?}");
    assert_eq!(report.counts.created_target, 11, "{report:#?}");
    assert_eq!(report.failures.len(), 1, "{report:#?}");
    assert!(
        report.failures[0].message.contains("creating its copy")
            && report.failures[0].message.contains("refused"),
        "{report:#?}"
    );
    assert!(b.target.find("t04").is_none());
    b.target.accept_creates("t04");
    let report = b.sync();
    assert_eq!(report.counts.created_target, 1, "{report:#?}");
    assert_eq!(titles(&b.target), titles(&b.asana), "each task once");
    b.assert_settled();
}

/// An outage met in a batch stops the link: the rest of that batch is not tried and not
/// reported item by item; what was created is recorded, and the next run creates exactly
/// the rest (no duplicate).
#[test]
fn an_outage_in_a_batch_stops_the_link_and_the_next_run_does_the_rest() {
    let b = Bench::batched("outage", 10);
    seed(&b, 20);
    b.target.refuse_creates("t03", true);
    let report = b.sync_reporting(SyncOptions::default());
    let fatal = report.fatal.as_deref().expect("the outage stops the link");
    assert!(fatal.contains("t03"), "{fatal}");
    assert!(report.failures.is_empty(), "{report:#?}");
    let created = report.counts.created_target;
    assert!(created < 20, "{report:#?}");
    assert_eq!(b.target.items().len(), created, "each create recorded");
    b.target.accept_creates("t03");
    let report = b.sync();
    assert_eq!(report.counts.created_target, 20 - created, "{report:#?}");
    assert_eq!(titles(&b.target), titles(&b.asana), "each task once");
    b.assert_settled();
}
