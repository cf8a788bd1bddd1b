//! Watches a Markdown folder (notify, debounced) so that `watch` reacts to edits in seconds
//! without rescanning the folder on every poll.
//!
//! An editor's save (temp file, several writes, rename) arrives as one debounced batch of
//! paths. Only `*.md` files directly in the folder count; dot-files (the bridge's temp files,
//! the trash) do not. Whether a named file really changed, or is the echo of the bridge's
//! own write, is the link loop's call (it compares with the state's fingerprints).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
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
    /// File names seen changing since the last `take`.
    names: Mutex<BTreeSet<String>>,
    /// The watcher itself failed (events may be lost): list the folder next time.
    overflow: Mutex<bool>,
    wake: Notify,
}

/// What changed in the folder since the last look.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FolderChanges {
    pub names: BTreeSet<String>,
    /// Events may have been lost: treat the folder as changed.
    pub overflow: bool,
}

impl FolderWatch {
    /// Starts watching `dir` (not recursively).
    pub fn start(dir: &Path) -> Result<Self, notify::Error> {
        let shared = Arc::new(Shared::default());
        let sink = Arc::clone(&shared);
        let mut debouncer = new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| {
            match result {
                Ok(events) => {
                    let mut names = lock(&sink.names);
                    for event in events {
                        for path in &event.paths {
                            if let Some(name) = task_file_name(path) {
                                names.insert(name);
                            }
                        }
                    }
                    if names.is_empty() {
                        return;
                    }
                }
                Err(errors) => {
                    tracing::warn!("folder watch: {errors:?}; the folder will be listed again");
                    *lock(&sink.overflow) = true;
                }
            }
            sink.wake.notify_one();
        })?;
        debouncer.watch(dir, RecursiveMode::NonRecursive)?;
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

/// The task-file name of `path`, if it is one (`*.md`, not a dot-file).
fn task_file_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    (name.ends_with(".md") && !name.starts_with('.')).then(|| name.to_owned())
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
}
