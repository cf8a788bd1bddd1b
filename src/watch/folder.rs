//! Watches a Markdown folder (notify, debounced) so that `watch` reacts to edits in seconds
//! without rescanning the folder on every poll.
//!
//! An editor's save (temp file, several writes, rename) arrives as one debounced batch of
//! paths. The folder is watched recursively (symlinked folders are not followed, as the
//! connector does not list them): a `*.md` file anywhere under it counts, named by its id
//! (its relative path with `/` separators, `archive/fix-login.md`, as the connector's
//! listing names it); dot-files and anything inside a dot-folder (the bridge's temp files,
//! the trash, `.git`, `.obsidian`) do not. A subfolder created, removed or moved in (whose
//! files raise no event of their own) makes the folder count as changed, so it is listed.
//! Whether a named file really changed, or is the echo of the bridge's own write, is the
//! link loop's call (it compares with the state's fingerprints).

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::event::{AccessKind, ModifyKind, RemoveKind};
use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer_opt};
use tokio::sync::Notify;

/// How long the debouncer waits for a burst of writes to settle.
const DEBOUNCE: Duration = Duration::from_millis(400);

/// A running folder watch.
pub struct FolderWatch {
    /// Kept alive: dropping it stops the watch.
    _debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// Ids (relative paths, `archive/fix-login.md`) of task files seen changing since the
    /// last `take`.
    names: Mutex<BTreeSet<String>>,
    /// The watcher itself failed (events may be lost), or a subfolder appeared, vanished or
    /// moved: list the folder next time.
    overflow: Mutex<bool>,
    wake: Notify,
}

/// What changed in the folder since the last look.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FolderChanges {
    /// The ids of the task files that changed (relative paths with `/` separators).
    pub names: BTreeSet<String>,
    /// Events may have been lost, or a whole subfolder changed: treat the folder as changed.
    pub overflow: bool,
}

impl FolderWatch {
    /// Starts watching `dir` and its subfolders (symlinked folders not followed).
    pub fn start(dir: &Path) -> Result<Self, notify::Error> {
        let shared = Arc::new(Shared::default());
        let sink = Arc::clone(&shared);
        // Event paths start with the path watched; the canonical form too, in case a
        // backend reports resolved paths.
        let roots: Vec<PathBuf> = std::iter::once(dir.to_path_buf())
            .chain(std::fs::canonicalize(dir).ok())
            .collect();
        let handler = move |result: DebounceEventResult| {
            match result {
                Ok(events) => {
                    let mut names = lock(&sink.names);
                    let mut relist = false;
                    for event in events {
                        for path in &event.paths {
                            match classify(&roots, path, &event.kind) {
                                Seen::Task(id) => {
                                    names.insert(id);
                                }
                                Seen::Folder => relist = true,
                                Seen::Nothing => {}
                            }
                        }
                    }
                    if relist {
                        *lock(&sink.overflow) = true;
                    } else if names.is_empty() {
                        return;
                    }
                }
                Err(errors) => {
                    tracing::warn!("folder watch: {errors:?}; the folder will be listed again");
                    *lock(&sink.overflow) = true;
                }
            }
            sink.wake.notify_one();
        };
        let mut debouncer = new_debouncer_opt::<_, notify::RecommendedWatcher, _>(
            DEBOUNCE,
            None,
            handler,
            RecommendedCache::new(),
            notify::Config::default().with_follow_symlinks(false),
        )?;
        debouncer.watch(dir, RecursiveMode::Recursive)?;
        Ok(Self {
            _debouncer: debouncer,
            shared,
        })
    }

    /// Waits until something in the folder changed.
    pub async fn changed(&self) {
        self.shared.wake.notified().await;
    }

    /// Takes what changed since the last call.
    pub fn take(&self) -> FolderChanges {
        FolderChanges {
            names: std::mem::take(&mut *lock(&self.shared.names)),
            overflow: std::mem::take(&mut *lock(&self.shared.overflow)),
        }
    }
}

/// What an event path means for the link.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// A task file, by its id.
    Task(String),
    /// A subfolder appeared, vanished or moved: its files raise no events of their own.
    Folder,
    /// Nothing the link cares about (a dot path, another kind of file, outside the folder).
    Nothing,
}

/// What `path`, named by an event of `kind`, means: a task file (`*.md`, no dot component
/// anywhere below the folder) by its id, a visible subfolder that appeared, vanished or
/// moved, or nothing.
fn classify(roots: &[PathBuf], path: &Path, kind: &EventKind) -> Seen {
    let Some(relative) = roots.iter().find_map(|r| path.strip_prefix(r).ok()) else {
        return Seen::Nothing;
    };
    let mut id = String::new();
    for component in relative.components() {
        let Component::Normal(c) = component else {
            return Seen::Nothing;
        };
        let Some(c) = c.to_str() else {
            return Seen::Nothing; // the listing reports such a name
        };
        if c.starts_with('.') {
            return Seen::Nothing;
        }
        if !id.is_empty() {
            id.push('/');
        }
        id.push_str(c);
    }
    if id.is_empty() {
        return Seen::Nothing; // the folder itself
    }
    // Opening or reading is no change (the bridge's own listing opens every file and
    // folder); closing after a write is.
    if matches!(
        kind,
        EventKind::Access(AccessKind::Open(_) | AccessKind::Read)
    ) {
        return Seen::Nothing;
    }
    if asana_bridge_markdown::names::is_task_id(&id) {
        return Seen::Task(id);
    }
    let structural = matches!(
        kind,
        EventKind::Create(_) | EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(_))
    );
    if !structural {
        return Seen::Nothing;
    }
    match std::fs::symlink_metadata(path) {
        // Created, moved in or renamed to (a symlink is not followed: not a folder here).
        Ok(m) if m.is_dir() => Seen::Folder,
        Ok(_) => Seen::Nothing,
        // Removed, or moved away (a rename's source: no kind says it was a folder, so a
        // name without an extension is taken for one).
        Err(_)
            if matches!(kind, EventKind::Remove(RemoveKind::Folder))
                || (matches!(kind, EventKind::Modify(ModifyKind::Name(_)))
                    && Path::new(&id).extension().is_none()) =>
        {
            Seen::Folder
        }
        Err(_) => Seen::Nothing,
    }
}

/// The id of `path` under `root` if it is a task file (for tests).
#[cfg(test)]
fn task_file_name(path: &Path) -> Option<String> {
    match classify(&[PathBuf::from("/d")], path, &EventKind::Any) {
        Seen::Task(id) => Some(id),
        _ => None,
    }
}

/// Locks a mutex, going on if a holder panicked (the set stays meaningful).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only task files count: dot-files (temp files, trash) and other files do not.
    #[test]
    fn only_task_files_count() {
        assert_eq!(
            task_file_name(Path::new("/d/a.md")).as_deref(),
            Some("a.md")
        );
        assert_eq!(task_file_name(Path::new("/d/.asana-bridge-tmp-1")), None);
        assert_eq!(task_file_name(Path::new("/d/.hidden.md")), None);
        assert_eq!(task_file_name(Path::new("/d/notes.txt")), None);
        // Subfolders: by relative id; nothing inside a dot-folder, nothing outside.
        assert_eq!(
            task_file_name(Path::new("/d/archive/2025/a.md")).as_deref(),
            Some("archive/2025/a.md")
        );
        for ignored in [
            "/d/.git/a.md",
            "/d/.obsidian/x/a.md",
            "/d/.asana-bridge-trash/a.md",
            "/d/archive/.drafts/a.md",
            "/d/archive/.asana-bridge-tmp-1",
            "/other/a.md",
            "/d",
        ] {
            assert_eq!(task_file_name(Path::new(ignored)), None, "{ignored}");
        }
    }

    /// An editor-style save (temp file then rename) is seen as one change of the file.
    #[tokio::test]
    async fn a_save_is_one_change() {
        let dir = tempfile::tempdir().expect("dir");
        let watch = FolderWatch::start(dir.path()).expect("watch");
        let tmp = dir.path().join(".a.md.swp");
        std::fs::write(&tmp, "x").expect("write");
        std::fs::write(&tmp, "xy").expect("write");
        std::fs::rename(&tmp, dir.path().join("a.md")).expect("rename");
        tokio::time::timeout(Duration::from_secs(10), watch.changed())
            .await
            .expect("a change is reported");
        let changes = watch.take();
        assert_eq!(
            changes.names.into_iter().collect::<Vec<_>>(),
            vec!["a.md".to_owned()]
        );
        assert_eq!(watch.take(), FolderChanges::default());
    }

    /// Waits for the next reported change and takes it.
    async fn next_change(watch: &FolderWatch) -> FolderChanges {
        tokio::time::timeout(Duration::from_secs(10), watch.changed())
            .await
            .expect("a change is reported");
        // Kept (a quiet period): let the rest of the burst arrive. The debouncer runs on
        // notify's own thread with `std::time`, so tokio's paused clock cannot stand in.
        tokio::time::sleep(DEBOUNCE * 2).await;
        watch.take()
    }

    /// Files in subfolders (even ones created after the watch started) are named by their
    /// id; dot-folders are silent; a folder moved in, or away, asks for a listing; reading
    /// files and folders (the bridge's own listing) is no change.
    #[tokio::test]
    async fn subfolders() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::create_dir(dir.path().join("archive")).expect("mkdir");
        std::fs::create_dir(dir.path().join(".git")).expect("mkdir");
        std::fs::write(dir.path().join("a.md"), "x").expect("write");
        let watch = FolderWatch::start(dir.path()).expect("watch");

        std::fs::write(dir.path().join("archive/b.md"), "x").expect("write");
        let changes = next_change(&watch).await;
        assert!(changes.names.contains("archive/b.md"), "{changes:?}");

        // A new subfolder asks for a listing; a file written in it later is named.
        std::fs::create_dir(dir.path().join("new")).expect("mkdir");
        assert!(next_change(&watch).await.overflow);
        std::fs::write(dir.path().join("new/c.md"), "x").expect("write");
        let changes = next_change(&watch).await;
        assert!(changes.names.contains("new/c.md"), "{changes:?}");

        // A file moved into a subfolder: both ids named.
        std::fs::rename(dir.path().join("a.md"), dir.path().join("archive/a.md")).expect("mv");
        let changes = next_change(&watch).await;
        assert!(
            changes.names.contains("a.md") && changes.names.contains("archive/a.md"),
            "{changes:?}"
        );

        // A folder moved out of the tree asks for a listing.
        let outside = tempfile::tempdir().expect("dir");
        std::fs::rename(dir.path().join("new"), outside.path().join("new")).expect("mv");
        assert!(next_change(&watch).await.overflow);

        // Dot-folders and reads are silent.
        std::fs::write(dir.path().join(".git/x.md"), "x").expect("write");
        std::fs::create_dir(dir.path().join(".git/objects")).expect("mkdir");
        for e in std::fs::read_dir(dir.path().join("archive")).expect("ls") {
            let _ = std::fs::read(e.expect("entry").path()).expect("read");
        }
        // Kept (the point): real time for events to come, were reads and dot-folders seen.
        tokio::time::sleep(DEBOUNCE * 3).await;
        assert_eq!(watch.take(), FolderChanges::default());
    }
}
