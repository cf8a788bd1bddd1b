//! The store's schema version, and the upgrade of an older store to it on open.
//!
//! One version for the whole store, kept under [`VERSION_KEY`] in the [`META`] tree (a
//! store from before versions existed has none: that is version 1). On open:
//!
//! - the same version as [`CURRENT`]: nothing to do;
//! - older: every [`Step`] from that version on runs in order, in place;
//! - newer: refused with [`StateError::TooNew`], naming both versions; nothing is touched.
//!
//! Crash safety: each step is one sled transaction over every tree it rewrites and the
//! meta tree, and the transaction that rewrites the records is the one that raises the
//! version. sled recovers a transaction whole or not at all, so a kill mid-upgrade leaves
//! the store at the old version with its old records, or at the new one complete; the next
//! open simply runs what is left. A step reads everything it rewrites before the
//! transaction (the process holds the store's lock, so nothing else writes meanwhile).

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use crate::StateError;
use crate::migrations::STEPS;

/// The tree that holds store-wide facts such as the schema version.
pub(crate) const META: &str = "__meta";
/// The key of the schema version (a big-endian `u32`) in [`META`].
pub(crate) const VERSION_KEY: &str = "schema_version";
/// The version of a store written before versions existed.
pub(crate) const UNVERSIONED: u32 = 1;
/// The schema version this build writes.
pub const CURRENT: u32 = UNVERSIONED + STEPS.len() as u32;

/// One upgrade, from version `from` to `from + 1`.
pub(crate) struct Step {
    pub from: u32,
    /// What it changes, for the log.
    pub what: &'static str,
    /// Reads the store and says what to write: run outside the transaction.
    pub plan: fn(&sled::Db) -> Result<Vec<Rewrite>, StateError>,
}

/// One record to write (or, with `value: None`, to remove) in tree `tree`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Rewrite {
    pub tree: String,
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// The store's schema version (version 1 when none is recorded).
pub(crate) fn version(db: &sled::Db, dir: &std::path::Path) -> Result<u32, StateError> {
    let meta = db.open_tree(META)?;
    match meta.get(VERSION_KEY)? {
        None => Ok(UNVERSIONED),
        Some(bytes) => <[u8; 4]>::try_from(bytes.as_ref())
            .map(u32::from_be_bytes)
            .map_err(|_| StateError::Damaged {
                path: dir.to_path_buf(),
                detail: format!("its schema version is unreadable ({} bytes)", bytes.len()),
            }),
    }
}

/// Brings the store in `db` (the state folder `dir`, named in errors) to [`CURRENT`].
pub(crate) fn upgrade(db: &sled::Db, dir: &std::path::Path) -> Result<(), StateError> {
    upgrade_with(db, dir, STEPS)
}

pub(crate) fn upgrade_with(
    db: &sled::Db,
    dir: &std::path::Path,
    steps: &[Step],
) -> Result<(), StateError> {
    let current = UNVERSIONED + u32::try_from(steps.len()).expect("a few steps");
    let found = version(db, dir)?;
    if found > current {
        return Err(StateError::TooNew {
            path: dir.to_path_buf(),
            found,
            supported: current,
        });
    }
    if found == current {
        return Ok(());
    }
    if found == UNVERSIONED && is_empty(db) {
        // A new store: nothing to upgrade, only the version to record.
        db.open_tree(META)?
            .insert(VERSION_KEY, &current.to_be_bytes())?;
        db.flush()?;
        return Ok(());
    }
    for step in steps.iter().filter(|s| s.from >= found) {
        let rewrites = (step.plan)(db)?;
        tracing::info!(
            from = step.from,
            to = step.from + 1,
            records = rewrites.len(),
            "upgrading the state in {}: {}",
            dir.display(),
            step.what
        );
        commit(db, &rewrites, step.from + 1)?;
        // On disk before the next step (or the run) builds on it.
        db.flush()?;
    }
    Ok(())
}

/// Whether the store holds no table yet (a store made by this very open).
fn is_empty(db: &sled::Db) -> bool {
    db.tree_names()
        .iter()
        .all(|name| name.as_ref() == b"__sled__default" || name.as_ref() == META.as_bytes())
}

/// Writes `rewrites` and the version `to` in one transaction.
fn commit(db: &sled::Db, rewrites: &[Rewrite], to: u32) -> Result<(), StateError> {
    let mut names: Vec<&str> = rewrites.iter().map(|r| r.tree.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut trees = vec![db.open_tree(META)?];
    for name in &names {
        trees.push(db.open_tree(name)?);
    }
    trees
        .as_slice()
        .transaction(|views| {
            for r in rewrites {
                let at = 1 + names.binary_search(&r.tree.as_str()).expect("opened above");
                match &r.value {
                    Some(value) => views[at].insert(r.key.as_slice(), value.as_slice())?,
                    None => views[at].remove(r.key.as_slice())?,
                };
            }
            views[0].insert(VERSION_KEY, &to.to_be_bytes())?;
            Ok::<_, ConflictableTransactionError<std::convert::Infallible>>(())
        })
        .map_err(|e| match e {
            TransactionError::Storage(e) => StateError::Sled(e),
            TransactionError::Abort(never) => match never {},
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    /// The store's sled database, opened as the store opens it: a database this process
    /// closed a moment ago may still read as locked until sled's deferred clean-up ran.
    fn raw(dir: &std::path::Path) -> sled::Db {
        crate::open_db(&dir.join(crate::DB_DIR), dir).unwrap()
    }

    fn stored_version(db: &sled::Db) -> Option<u32> {
        db.open_tree(META)
            .unwrap()
            .get(VERSION_KEY)
            .unwrap()
            .map(|v| u32::from_be_bytes(v.as_ref().try_into().unwrap()))
    }

    /// Test steps: 1 -> 2 appends "+2" to every value of tree `t`; 2 -> 3 appends "+3".
    fn append(db: &sled::Db, suffix: &str) -> Result<Vec<Rewrite>, StateError> {
        let tree = db.open_tree("t")?;
        tree.iter()
            .map(|e| {
                let (k, v) = e?;
                let mut value = v.to_vec();
                value.extend_from_slice(suffix.as_bytes());
                Ok(Rewrite {
                    tree: "t".into(),
                    key: k.to_vec(),
                    value: Some(value),
                })
            })
            .collect()
    }
    const TWO_STEPS: &[Step] = &[
        Step {
            from: 1,
            what: "appends +2",
            plan: |db| append(db, "+2"),
        },
        Step {
            from: 2,
            what: "appends +3",
            plan: |db| append(db, "+3"),
        },
    ];

    #[test]
    fn an_unversioned_store_runs_every_step_in_order_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = raw(dir.path());
        db.open_tree("t").unwrap().insert("a", "v").unwrap();
        upgrade_with(&db, dir.path(), TWO_STEPS).unwrap();
        assert_eq!(stored_version(&db), Some(3));
        let t = db.open_tree("t").unwrap();
        assert_eq!(t.get("a").unwrap().unwrap().as_ref(), b"v+2+3");
        // A second open finds the current version and changes nothing.
        upgrade_with(&db, dir.path(), TWO_STEPS).unwrap();
        assert_eq!(t.get("a").unwrap().unwrap().as_ref(), b"v+2+3");
    }

    #[test]
    fn a_store_part_way_runs_only_the_steps_left() {
        let dir = tempfile::tempdir().unwrap();
        let db = raw(dir.path());
        db.open_tree("t").unwrap().insert("a", "v").unwrap();
        db.open_tree(META)
            .unwrap()
            .insert(VERSION_KEY, &2u32.to_be_bytes())
            .unwrap();
        upgrade_with(&db, dir.path(), TWO_STEPS).unwrap();
        assert_eq!(stored_version(&db), Some(3));
        let got = db.open_tree("t").unwrap().get("a").unwrap().unwrap();
        assert_eq!(got.as_ref(), b"v+3");
    }

    #[test]
    fn a_new_store_is_stamped_without_running_steps() {
        let dir = tempfile::tempdir().unwrap();
        let db = raw(dir.path());
        let panics: &[Step] = &[Step {
            from: 1,
            what: "must not run",
            plan: |_| panic!("a new store has nothing to upgrade"),
        }];
        upgrade_with(&db, dir.path(), panics).unwrap();
        assert_eq!(stored_version(&db), Some(2));
    }

    #[test]
    fn a_failing_step_leaves_the_old_version_and_records_intact() {
        let dir = tempfile::tempdir().unwrap();
        let db = raw(dir.path());
        db.open_tree("t").unwrap().insert("a", "v").unwrap();
        let failing: &[Step] = &[Step {
            from: 1,
            what: "fails",
            plan: |_| Err(StateError::Sled(sled::Error::Unsupported("test".into()))),
        }];
        upgrade_with(&db, dir.path(), failing).unwrap_err();
        assert_eq!(stored_version(&db), None);
        let got = db.open_tree("t").unwrap().get("a").unwrap().unwrap();
        assert_eq!(got.as_ref(), b"v");
    }

    #[test]
    fn a_newer_store_is_refused_untouched_naming_folder_and_versions() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = raw(dir.path());
            db.open_tree("t").unwrap().insert("a", "v").unwrap();
            db.open_tree(META)
                .unwrap()
                .insert(VERSION_KEY, &(CURRENT + 1).to_be_bytes())
                .unwrap();
            db.flush().unwrap();
        }
        for open in [Store::open, Store::open_snapshot] {
            let err = open(dir.path()).unwrap_err();
            let StateError::TooNew {
                path,
                found,
                supported,
            } = &err
            else {
                panic!("{err:?}");
            };
            assert_eq!(
                (path.as_path(), *found, *supported),
                (dir.path(), CURRENT + 1, CURRENT)
            );
            let message = err.to_string();
            assert!(
                message.contains(&dir.path().display().to_string())
                    && message.contains(&format!("schema {}", CURRENT + 1))
                    && message.contains(&format!("up to {CURRENT}"))
                    && message.contains("upgrade asana-bridge"),
                "{message}"
            );
        }
        let db = raw(dir.path());
        assert_eq!(stored_version(&db), Some(CURRENT + 1));
        let got = db.open_tree("t").unwrap().get("a").unwrap().unwrap();
        assert_eq!(got.as_ref(), b"v");
    }

    const CHILD: &str = "ASANA_BRIDGE_STATE_UPGRADE_CHILD";
    const PAIRS: usize = 5_000;

    /// A store as version 1 wrote it: `PAIRS` pair records with positional digests.
    fn v1_store(dir: &std::path::Path) {
        let db = raw(dir);
        let pairs = db.open_tree("link/l/pairs").unwrap();
        for i in 0..PAIRS {
            let record = serde_json::json!({
                "asana_gid": i.to_string(), "target_id": format!("{i}.md"),
                "base": {"title": format!("Task {i}"), "notes": "", "completed": false,
                         "due_on": null, "assignee": null, "tags": [], "section": null},
                "asana": {"fields": [i, 1, 2, 3, 4, 5, 6], "revision": "r"},
                "target": {"fields": [i, 1, 2, 3, 4, 5, 6], "revision": "s"}
            });
            pairs
                .insert(i.to_string(), serde_json::to_vec(&record).unwrap())
                .unwrap();
        }
        db.flush().unwrap();
    }

    /// The version on disk and how many pair records have each shape (old, new).
    fn shapes(dir: &std::path::Path) -> (Option<u32>, usize, usize) {
        let db = raw(dir);
        let (mut old, mut new) = (0, 0);
        for entry in db.open_tree("link/l/pairs").unwrap().iter() {
            let record: serde_json::Value = serde_json::from_slice(&entry.unwrap().1).unwrap();
            match (&record["asana"]["fields"], &record["target"]["fields"]) {
                (serde_json::Value::Array(_), serde_json::Value::Array(_)) => old += 1,
                (serde_json::Value::Object(_), serde_json::Value::Object(_)) => new += 1,
                other => panic!("a record half rewritten: {other:?}"),
            }
        }
        (stored_version(&db), old, new)
    }

    /// This test run again as a child process that opens (and so upgrades) the store.
    fn upgrade_in_child(dir: &std::path::Path) -> std::process::Child {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "schema::tests::a_kill_mid_upgrade_leaves_the_old_version_or_the_new_one_whole",
                "--exact",
                "--test-threads=1",
            ])
            .env(CHILD, dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }

    /// The real upgrade (from 1, rewriting the pair records of a store of many pairs, to
    /// [`CURRENT`]) killed at moments spread over its run: every time the store is at
    /// version 1 with every record as it was, or at version 2 or later with every record
    /// rewritten (a later step may be still to run); and the next open finishes the job.
    #[test]
    fn a_kill_mid_upgrade_leaves_the_old_version_or_the_new_one_whole() {
        if let Some(dir) = std::env::var_os(CHILD) {
            drop(Store::open(std::path::Path::new(&dir)).unwrap());
            return;
        }
        // How long a whole upgrade takes here.
        let dir = tempfile::tempdir().unwrap();
        v1_store(&dir.path().join("state"));
        let start = std::time::Instant::now();
        assert!(
            upgrade_in_child(&dir.path().join("state"))
                .wait()
                .unwrap()
                .success()
        );
        let whole = start.elapsed();
        assert_eq!(shapes(&dir.path().join("state")), (Some(CURRENT), 0, PAIRS));

        let mut outcomes = Vec::new();
        // Most of a run is reading; the rewrite and its flush come at the end.
        for percent in [60, 90, 100, 110] {
            let dir = tempfile::tempdir().unwrap();
            let state = dir.path().join("state");
            v1_store(&state);
            let mut child = upgrade_in_child(&state);
            // Kept (the point): the kill lands this far into the upgrade's measured run.
            std::thread::sleep(whole * percent / 100);
            let _ = child.kill();
            child.wait().unwrap();
            let found = shapes(&state);
            // Version 2 rewrites the pair records; a later step may not have run yet, so
            // any version from 2 on must hold every record in the new shape.
            let whole_old = found == (None, PAIRS, 0);
            let whole_new =
                matches!(found, (Some(v), 0, n) if (2..=CURRENT).contains(&v) && n == PAIRS);
            assert!(
                whole_old || whole_new,
                "killed at {percent}% of the upgrade: {found:?}"
            );
            outcomes.push(found.0);
            drop(Store::open(&state).unwrap());
            assert_eq!(shapes(&state), (Some(CURRENT), 0, PAIRS), "after reopening");
        }
        eprintln!("versions found after each kill: {outcomes:?}");
        assert!(
            outcomes.contains(&None),
            "no kill landed before the upgrade was done: {outcomes:?}"
        );
    }

    #[test]
    fn an_unreadable_version_is_damage() {
        let dir = tempfile::tempdir().unwrap();
        let db = raw(dir.path());
        db.open_tree(META)
            .unwrap()
            .insert(VERSION_KEY, "x")
            .unwrap();
        let err = upgrade(&db, dir.path()).unwrap_err();
        assert!(matches!(err, StateError::Damaged { .. }), "{err:?}");
    }
}
