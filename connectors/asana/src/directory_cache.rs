//! The workspaces' user directories (gid -> e-mail) kept on disk between runs, so that a
//! run reading a few changed tasks need not list every user of the workspace again just to
//! name their assignees. A copy older than a day is not used; an e-mail not found in a
//! copy leads to a fresh listing (a new colleague). The file lives in the bridge's
//! owner-only state directory and is itself created owner-only.

use std::collections::HashMap;
use std::path::PathBuf;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// How old a copy may be before it is listed afresh.
const MAX_AGE: SignedDuration = SignedDuration::from_hours(24);

/// One workspace's directory as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDirectory {
    pub fetched_at: String,
    /// Whether the listing held every user.
    pub complete: bool,
    /// User gid -> e-mail (lower-case), `None` when Asana shows none.
    pub users: Vec<(String, Option<String>)>,
}

/// The file of stored directories.
#[derive(Clone, Debug)]
pub struct DirectoryCache {
    path: PathBuf,
}

impl DirectoryCache {
    /// A cache kept in the file `path`.
    #[must_use]
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// The file the directories are kept in.
    #[must_use]
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// The stored directory of `workspace`, if there is one younger than a day.
    #[must_use]
    pub fn load(&self, workspace: &str) -> Option<StoredDirectory> {
        let all = self.read_all();
        let stored = all.get(workspace)?;
        let at: Timestamp = stored.fetched_at.parse().ok()?;
        (Timestamp::now().duration_since(at) < MAX_AGE).then(|| stored.clone())
    }

    /// Stores the directory of `workspace` (best effort: a cache that cannot be written
    /// only costs a listing next time).
    pub fn save(&self, workspace: &str, directory: StoredDirectory) {
        let mut all = self.read_all();
        all.insert(workspace.to_owned(), directory);
        if let Err(e) = self.write_all(&all) {
            tracing::debug!(file = %self.path.display(), "cannot keep the user directory: {e}");
        }
    }

    fn read_all(&self) -> HashMap<String, StoredDirectory> {
        std::fs::read(&self.path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    fn write_all(&self, all: &HashMap<String, StoredDirectory>) -> std::io::Result<()> {
        use std::io::Write;
        let dir = self
            .path
            .parent()
            .map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf);
        std::fs::create_dir_all(&dir)?;
        // NamedTempFile is created 0600 on unix: owner-only from the start.
        let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
        tmp.write_all(&serde_json::to_vec(all).map_err(std::io::Error::other)?)?;
        tmp.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored directory reads back while young, not once a day old.
    #[test]
    fn young_copies_are_used_old_ones_not() {
        let dir = tempfile::tempdir().expect("dir");
        let cache = DirectoryCache::new(dir.path().join("users.json"));
        assert!(cache.load("w").is_none());
        let fresh = StoredDirectory {
            fetched_at: Timestamp::now().to_string(),
            complete: true,
            users: vec![("1".into(), Some("a@example.com".into()))],
        };
        cache.save("w", fresh.clone());
        assert_eq!(cache.load("w"), Some(fresh));
        let old = StoredDirectory {
            fetched_at: (Timestamp::now() - SignedDuration::from_hours(25)).to_string(),
            ..StoredDirectory::default()
        };
        cache.save("w", old);
        assert!(cache.load("w").is_none());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("users.json"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0);
        }
    }
}
