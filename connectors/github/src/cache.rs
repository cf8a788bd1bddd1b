//! Conditional requests: the `ETag` and body of every GET answer, so the next GET of the
//! same URL sends `If-None-Match` and an unchanged resource answers `304` (no body, and no
//! cost against GitHub's primary rate limit).
//!
//! Entries live in memory for the process (a `watch` reuses them poll after poll) and,
//! when a file is given, are saved there after a listing so the next `sync` process starts
//! with them. Only the entries used by this process are saved, so pages that no longer
//! exist fall out. A missing or unreadable file is an empty cache: the cost is one full
//! answer per URL, never a wrong one (a `304` only ever confirms the stored body).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// One stored answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The `ETag` the answer carried.
    pub etag: String,
    /// The JSON body.
    pub body: String,
    /// The `Link` header, for list pages.
    pub link: Option<String>,
    /// Used (fetched or confirmed) by this process.
    #[serde(skip)]
    pub used: bool,
}

#[derive(Debug, Default)]
struct Inner {
    entries: BTreeMap<String, Entry>,
    dirty: bool,
}

/// The cache of one connector, keyed by request path and query.
#[derive(Debug)]
pub struct EtagCache {
    file: Option<PathBuf>,
    inner: Mutex<Inner>,
}

impl EtagCache {
    /// A cache kept in memory, loaded from and saved to `file` when there is one.
    #[must_use]
    pub fn new(file: Option<PathBuf>) -> Self {
        let entries = file
            .as_ref()
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Self {
            file,
            inner: Mutex::new(Inner {
                entries,
                dirty: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The data stays consistent whatever panicked: every update is one insert.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The stored answer for `key`, marked used.
    pub fn get(&self, key: &str) -> Option<Entry> {
        let mut inner = self.lock();
        let entry = inner.entries.get_mut(key)?;
        if !entry.used {
            entry.used = true;
        }
        Some(entry.clone())
    }

    /// Stores a fresh answer.
    pub fn put(&self, key: &str, mut entry: Entry) {
        entry.used = true;
        let mut inner = self.lock();
        inner.entries.insert(key.to_owned(), entry);
        inner.dirty = true;
    }

    /// Writes the used entries to the file (temp file + rename), if there is a file and
    /// something changed. A failure only costs the next run some full answers, so it is
    /// logged, not returned.
    pub fn save(&self) {
        let Some(file) = &self.file else {
            return;
        };
        let snapshot: BTreeMap<String, Entry> = {
            let mut inner = self.lock();
            if !inner.dirty {
                return;
            }
            inner.dirty = false;
            inner
                .entries
                .iter()
                .filter(|(_, e)| e.used)
                .map(|(k, e)| (k.clone(), e.clone()))
                .collect()
        };
        if let Err(e) = write_atomically(file, &snapshot) {
            tracing::warn!(file = %file.display(), error = %e, "cannot save the GitHub ETag cache; the next run re-reads every page");
        }
    }
}

fn write_atomically(file: &PathBuf, entries: &BTreeMap<String, Entry>) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let bytes = serde_json::to_vec(entries).map_err(std::io::Error::other)?;
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(etag: &str) -> Entry {
        Entry {
            etag: etag.to_owned(),
            body: "[]".to_owned(),
            link: None,
            used: false,
        }
    }

    /// Saved entries come back in a new cache; unused ones are dropped on save.
    #[test]
    fn persists_used_entries() {
        let dir = std::env::temp_dir().join(format!("gh-cache-test-{}", std::process::id()));
        let file = dir.join("c.json");
        let cache = EtagCache::new(Some(file.clone()));
        cache.put("/a", entry("\"1\""));
        cache.save();
        let again = EtagCache::new(Some(file.clone()));
        assert_eq!(again.get("/a").map(|e| e.etag), Some("\"1\"".to_owned()));
        again.put("/b", entry("\"2\""));
        let third = EtagCache::new(Some(file.clone()));
        third.put("/c", entry("\"3\""));
        third.save();
        let fourth = EtagCache::new(Some(file));
        assert!(fourth.get("/a").is_none(), "unused entries fall out");
        assert!(fourth.get("/c").is_some());
        let _ = std::fs::remove_dir_all(dir);
    }
}
