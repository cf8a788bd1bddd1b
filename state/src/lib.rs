//! The bridge's state store, on sled.
//!
//! The store knows keys and bytes, nothing of HTTP or of tasks: callers name a
//! [`Table`] and put and get serde values in it (stored as JSON). The engine decides what
//! the records mean. What this crate owns:
//!
//! - opening the database under the state directory, created owner-only (0700), and turning
//!   sled's "lock held" into [`StateError::Locked`] (one process per state directory);
//! - [`Store::open_snapshot`], a throw-away copy for `--dry-run`, so that a dry run cannot
//!   change a byte of the real state;
//! - typed tables and explicit [`Store::flush`] checkpoints;
//! - [`Indexed`] tables, whose small per-record summaries are read without the records;
//! - the store's schema version ([`SCHEMA_VERSION`]) and the upgrade of an older store to it
//!   on open, in place and crash-safe; a store from a newer release is refused
//!   ([`StateError::TooNew`]). The upgrades rewrite stored JSON from the frozen shapes old
//!   releases wrote; that is all this crate knows of what the records hold.

use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

mod indexed;
mod migrations;
mod schema;

pub use indexed::Indexed;
/// The schema version of the stores this build writes.
pub use schema::CURRENT as SCHEMA_VERSION;

/// Errors of the state store. Any of them stops the run: the state is the bridge's memory.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "the state directory {} is in use by another asana-bridge process (a running `watch` or `sync`); stop it first",
        path.display()
    )]
    Locked { path: PathBuf },
    /// The store's files cannot be read back (sled finds corrupted data): the state is
    /// lost, but nothing else is: moving the folder aside lets the next run re-adopt every
    /// item by its recorded partner.
    #[error(
        "the state folder {} cannot be read: it is damaged ({detail}). Move it aside (e.g. `mv {} {}.damaged`) and run again: the next sync re-adopts every file by its asana_gid with no duplicate, and records a conflict wherever the two sides differ",
        path.display(), path.display(), path.display()
    )]
    Damaged { path: PathBuf, detail: String },
    /// The store was written by a newer release, in a format this one does not know.
    #[error(
        "the state folder {} was written by a newer asana-bridge (state schema {found}; this one supports up to {supported}): upgrade asana-bridge to use it",
        path.display()
    )]
    TooNew {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    // The cause is in the message, not a `source` as well: printed with its chain (`{:#}`)
    // it would read twice.
    #[error("cannot open the state store in {}: {cause}", path.display())]
    Open { path: PathBuf, cause: sled::Error },
    #[error("state store I/O error in {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("state store error: {0}")]
    Sled(#[from] sled::Error),
    #[error("state record {table}/{key} is unreadable: {source}")]
    Corrupt {
        table: String,
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot encode state record {table}/{key}: {source}")]
    Encode {
        table: String,
        key: String,
        #[source]
        source: serde_json::Error,
    },
}

/// The open state database.
pub struct Store {
    db: sled::Db,
    dir: PathBuf,
    /// Keeps a dry run's copy alive (and deletes it at the end).
    _snapshot: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).finish()
    }
}

const DB_DIR: &str = "db";

impl Store {
    /// Opens (creating if needed) the store in `dir`, owner-only, upgrading an older one
    /// to [`SCHEMA_VERSION`] in place. Fails with [`StateError::Locked`] while another
    /// process has it open, and with [`StateError::TooNew`] for a store of a newer release.
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        create_private_dir(dir)?;
        let db = open_db(&dir.join(DB_DIR), dir)?;
        schema::upgrade(&db, dir)?;
        make_private(&dir.join(DB_DIR))?;
        Ok(Self {
            db,
            dir: dir.to_path_buf(),
            _snapshot: None,
        })
    }

    /// Opens a private copy of the store in `dir` (an empty one if there is none yet).
    /// Nothing done to it reaches `dir`: this is what `--dry-run` uses. An older store is
    /// upgraded in the copy only: the real one stays as it is until a real run.
    /// The copy is as private as the state: its folders are created `0700` and its files
    /// `0600` (never wider, not even for an instant), whatever the umask says.
    pub fn open_snapshot(dir: &Path) -> Result<Self, StateError> {
        let mut builder = tempfile::Builder::new();
        builder.prefix("asana-bridge-dry-run-");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o700));
        }
        let tmp = builder.tempdir().map_err(|source| StateError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
        let source_db = dir.join(DB_DIR);
        if source_db.is_dir() {
            copy_dir(&source_db, &tmp.path().join(DB_DIR))?;
        }
        let db = open_db(&tmp.path().join(DB_DIR), dir)?;
        schema::upgrade(&db, dir)?;
        make_private(&tmp.path().join(DB_DIR))?;
        Ok(Self {
            db,
            dir: dir.to_path_buf(),
            _snapshot: Some(tmp),
        })
    }

    /// The schema version of the store in `dir` as it is on disk, read without upgrading
    /// it (`None` when there is no store yet). Takes the store's lock for the moment.
    pub fn peek_version(dir: &Path) -> Result<Option<u32>, StateError> {
        if !dir.join(DB_DIR).is_dir() {
            return Ok(None);
        }
        let db = open_db(&dir.join(DB_DIR), dir)?;
        schema::version(&db, dir).map(Some)
    }

    /// Whether another process holds the store in `dir` right now (a running `watch`).
    /// Asks with a shared lock on sled's lock file and lets go at once.
    #[must_use]
    pub fn is_in_use(dir: &Path) -> bool {
        let Ok(file) = std::fs::File::open(dir.join(DB_DIR).join("db")) else {
            return false;
        };
        match file.try_lock_shared() {
            Ok(()) => {
                let _ = file.unlock();
                false
            }
            Err(std::fs::TryLockError::WouldBlock) => true,
            Err(std::fs::TryLockError::Error(_)) => false,
        }
    }

    /// The state directory this store belongs to.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether this is a dry run's throw-away copy.
    #[must_use]
    pub fn is_snapshot(&self) -> bool {
        self._snapshot.is_some()
    }

    /// A typed table, created on first use.
    pub fn table<T>(&self, name: &str) -> Result<Table<T>, StateError> {
        Ok(Table {
            tree: self.db.open_tree(name)?,
            name: name.to_owned(),
            _value: PhantomData,
        })
    }

    /// The names of the tables whose names start with `prefix`.
    #[must_use]
    pub fn table_names(&self, prefix: &str) -> Vec<String> {
        self.db
            .tree_names()
            .into_iter()
            .filter_map(|n| String::from_utf8(n.to_vec()).ok())
            .filter(|n| n.starts_with(prefix))
            .collect()
    }

    /// Drops a table and everything in it.
    pub fn drop_table(&self, name: &str) -> Result<(), StateError> {
        self.db.drop_tree(name)?;
        Ok(())
    }

    /// Writes everything so far to disk: a checkpoint.
    pub fn flush(&self) -> Result<(), StateError> {
        self.db.flush()?;
        // sled creates files as the umask says; new ones may have appeared.
        match &self._snapshot {
            None => make_private(&self.dir.join(DB_DIR))?,
            Some(tmp) => make_private(&tmp.path().join(DB_DIR))?,
        }
        Ok(())
    }
}

fn open_db(db_path: &Path, dir: &Path) -> Result<sled::Db, StateError> {
    // sled lets go of a closed database's files through deferred (epoch-based) clean-up,
    // so a store closed by this very process a moment ago can still read as locked: a
    // few short tries (up to a second: on a loaded machine the clean-up thread may wait
    // its turn) before "in use" is the answer.
    let mut tries = 0;
    loop {
        match open_db_once(db_path, dir) {
            Err(StateError::Locked { .. }) if tries < 20 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

fn open_db_once(db_path: &Path, dir: &Path) -> Result<sled::Db, StateError> {
    sled::Config::new()
        .path(db_path)
        // Small cache: the bridge keeps its working set in memory itself.
        .cache_capacity(16 * 1024 * 1024)
        // We flush at checkpoints; the background flusher only narrows the window.
        .flush_every_ms(Some(1000))
        .open()
        .map_err(|source| match &source {
            sled::Error::Io(e) if e.to_string().contains("could not acquire lock") => {
                StateError::Locked {
                    path: dir.to_path_buf(),
                }
            }
            sled::Error::Corruption { .. }
            | sled::Error::ReportableBug(_)
            | sled::Error::Unsupported(_) => StateError::Damaged {
                path: dir.to_path_buf(),
                detail: damage_detail(&source),
            },
            _ => StateError::Open {
                path: dir.to_path_buf(),
                cause: source,
            },
        })
}

/// What sled said about damaged data, in a few words (its message names a backtrace and
/// an offset that mean nothing to a user).
fn damage_detail(e: &sled::Error) -> String {
    match e {
        sled::Error::Corruption { .. } => "corrupted data".into(),
        sled::Error::ReportableBug(what) => format!("unreadable data: {what}"),
        // What a damaged settings file reads as (or a store of another format).
        sled::Error::Unsupported(what) => format!("unreadable settings: {what}"),
        other => other.to_string(),
    }
}

/// Creates `dir` (and parents) and makes it readable by its owner only.
fn create_private_dir(dir: &Path) -> Result<(), StateError> {
    let io = |source| StateError::Io {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
    }
    Ok(())
}

/// Makes everything under `dir` owner-only: folders 0700, files 0600 (the state holds
/// webhook secrets and everything the bridge knows about the user's tasks).
fn make_private(dir: &Path) -> Result<(), StateError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StateError::Io { path, source }
        };
        // sled's own flusher may remove a file (an old snapshot) while this walks: one that
        // is gone needs no protecting, so "not found" is no error here.
        let gone = |r: std::io::Result<()>| match r {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        };
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            gone(std::fs::set_permissions(
                &d,
                std::fs::Permissions::from_mode(0o700),
            ))
            .map_err(io(&d))?;
            let entries = match std::fs::read_dir(&d) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&d)(e)),
            };
            for entry in entries {
                let entry = entry.map_err(io(&d))?;
                let path = entry.path();
                let meta = match entry.metadata() {
                    Ok(meta) => meta,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(io(&path)(e)),
                };
                if meta.is_dir() {
                    stack.push(path);
                } else if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
                    gone(std::fs::set_permissions(
                        &path,
                        std::fs::Permissions::from_mode(0o600),
                    ))
                    .map_err(io(&path))?;
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), StateError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StateError::Io { path, source }
    };
    let mut folder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        folder.mode(0o700);
    }
    folder.create(to).map_err(io(to))?;
    for entry in std::fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        let target = to.join(entry.file_name());
        if entry.file_type().map_err(io(&entry.path()))?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            // Not `fs::copy`, which gives the copy the original's mode: created `0600`.
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut source = std::fs::File::open(entry.path()).map_err(io(&entry.path()))?;
            let mut copy = options.open(&target).map_err(io(&target))?;
            std::io::copy(&mut source, &mut copy).map_err(io(&target))?;
        }
    }
    Ok(())
}

/// A table of `T` values keyed by strings.
pub struct Table<T> {
    tree: sled::Tree,
    name: String,
    _value: PhantomData<fn() -> T>,
}

impl<T: Serialize + DeserializeOwned> Table<T> {
    /// The value under `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<T>, StateError> {
        self.tree
            .get(key)?
            .map(|bytes| self.decode(key, &bytes))
            .transpose()
    }

    /// Stores `value` under `key`, replacing what was there.
    pub fn put(&self, key: &str, value: &T) -> Result<(), StateError> {
        let bytes = self.encode(key, value)?;
        self.tree.insert(key, bytes)?;
        Ok(())
    }

    /// Stores every `(key, value)` of `entries`, replacing what was there: all or none
    /// (one sled batch), and much cheaper than a [`Self::put`] each. A key given twice
    /// keeps its last value.
    pub fn put_all<'a>(
        &self,
        entries: impl IntoIterator<Item = (&'a str, &'a T)>,
    ) -> Result<(), StateError>
    where
        T: 'a,
    {
        let mut batch = sled::Batch::default();
        for (key, value) in entries {
            batch.insert(key, self.encode(key, value)?);
        }
        self.tree.apply_batch(batch)?;
        Ok(())
    }

    fn encode(&self, key: &str, value: &T) -> Result<Vec<u8>, StateError> {
        serde_json::to_vec(value).map_err(|source| StateError::Encode {
            table: self.name.clone(),
            key: key.to_owned(),
            source,
        })
    }

    /// Whether `key` has an entry (its value is not read).
    pub fn contains(&self, key: &str) -> Result<bool, StateError> {
        Ok(self.tree.contains_key(key)?)
    }

    /// Removes `key`; returns whether it was there.
    pub fn remove(&self, key: &str) -> Result<bool, StateError> {
        Ok(self.tree.remove(key)?.is_some())
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> impl Iterator<Item = Result<(String, T), StateError>> + '_ {
        self.tree.iter().map(move |entry| {
            let (k, v) = entry?;
            let key = String::from_utf8_lossy(&k).into_owned();
            let value = self.decode(&key, &v)?;
            Ok((key, value))
        })
    }

    /// Every key, in key order (no value is decoded).
    pub fn keys(&self) -> impl Iterator<Item = Result<String, StateError>> + '_ {
        self.tree
            .iter()
            .keys()
            .map(|k| Ok(String::from_utf8_lossy(&k?).into_owned()))
    }

    /// Every entry, collected.
    pub fn all(&self) -> Result<Vec<(String, T)>, StateError> {
        self.iter().collect()
    }

    /// Number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    /// Whether the table is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    fn decode(&self, key: &str, bytes: &[u8]) -> Result<T, StateError> {
        serde_json::from_slice(bytes).map_err(|source| StateError::Corrupt {
            table: self.name.clone(),
            key: key.to_owned(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            let t = store.table::<Vec<u32>>("link/a/pairs").unwrap();
            t.put("k1", &vec![1, 2]).unwrap();
            t.put("k2", &vec![3]).unwrap();
            assert!(t.remove("k2").unwrap());
            store.flush().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let t = store.table::<Vec<u32>>("link/a/pairs").unwrap();
        assert_eq!(t.get("k1").unwrap(), Some(vec![1, 2]));
        assert_eq!(t.get("k2").unwrap(), None);
        assert_eq!(t.all().unwrap().len(), 1);
        assert_eq!(t.keys().collect::<Result<Vec<_>, _>>().unwrap(), ["k1"]);
        assert_eq!(
            store.table_names("link/a/"),
            vec!["link/a/pairs".to_owned()]
        );
    }

    #[test]
    fn put_all_stores_every_entry_the_last_one_of_a_key_winning() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let t = store.table::<u32>("t").unwrap();
        t.put("b", &9).unwrap();
        t.put_all([("a", &1), ("b", &2), ("a", &3)]).unwrap();
        assert_eq!(t.all().unwrap(), [("a".to_owned(), 3), ("b".to_owned(), 2)]);
        t.put_all([]).unwrap();
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn second_open_is_refused_as_locked() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path()).unwrap();
        let err = Store::open(dir.path()).unwrap_err();
        assert!(matches!(err, StateError::Locked { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains("in use by another asana-bridge process")
        );
    }

    #[test]
    fn in_use_is_seen_from_outside() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!Store::is_in_use(dir.path()), "no store yet");
        let store = Store::open(dir.path()).unwrap();
        assert!(Store::is_in_use(dir.path()));
        drop(store);
        assert!(!Store::is_in_use(dir.path()));
        // Asking did not take the lock away.
        let _again = Store::open(dir.path()).unwrap();
    }

    #[test]
    fn snapshot_writes_never_reach_the_real_store() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.table::<u32>("t").unwrap().put("a", &1).unwrap();
            store.flush().unwrap();
        }
        {
            let snap = Store::open_snapshot(dir.path()).unwrap();
            assert!(snap.is_snapshot());
            let t = snap.table::<u32>("t").unwrap();
            assert_eq!(t.get("a").unwrap(), Some(1));
            t.put("a", &2).unwrap();
            t.put("b", &3).unwrap();
            snap.flush().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let t = store.table::<u32>("t").unwrap();
        assert_eq!(t.get("a").unwrap(), Some(1));
        assert_eq!(t.get("b").unwrap(), None);
    }

    #[test]
    fn snapshot_of_a_missing_store_creates_nothing() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("state");
        let snap = Store::open_snapshot(&dir).unwrap();
        snap.table::<u32>("t").unwrap().put("a", &1).unwrap();
        drop(snap);
        assert!(!dir.exists());
    }

    #[cfg(unix)]
    #[test]
    fn state_dir_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("state");
        let store = Store::open(&dir).unwrap();
        store.table::<u32>("t").unwrap().put("a", &1).unwrap();
        store.flush().unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let entry = entry.unwrap();
                let meta = entry.metadata().unwrap();
                let mode = meta.permissions().mode() & 0o777;
                if meta.is_dir() {
                    assert_eq!(mode, 0o700, "{}", entry.path().display());
                    stack.push(entry.path());
                } else {
                    assert_eq!(mode & 0o077, 0, "{} is {mode:o}", entry.path().display());
                }
            }
        }
    }

    #[test]
    fn corrupt_record_is_a_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .table::<String>("t")
            .unwrap()
            .put("a", &"x".into())
            .unwrap();
        let err = store.table::<u32>("t").unwrap().get("a").unwrap_err();
        assert!(matches!(err, StateError::Corrupt { .. }));
    }
}
