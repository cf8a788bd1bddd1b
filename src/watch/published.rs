//! What a running `watch` publishes for `asana-bridge status`: sled admits one process, so
//! while `watch` holds the state store, `status` reads this file instead. Written
//! atomically (temp file + rename), owner-only, in the state directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// The file's name in the state directory.
pub const FILE: &str = "watch-status.json";

/// The whole file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchStatus {
    pub pid: u32,
    pub started_at: String,
    pub links: BTreeMap<String, LinkStatus>,
}

/// One link as the running watch sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkStatus {
    /// RFC 3339 time of the last poll.
    pub last_poll: Option<String>,
    pub last_success: Option<String>,
    pub cursor_at: Option<String>,
    pub mapped: usize,
    pub conflicts: usize,
    pub pending_creates: usize,
    /// Set while the service is unreachable.
    pub outage: Option<String>,
    /// Whether an Asana webhook speeds this link up.
    pub webhook: bool,
}

/// The publisher held by a running watch.
pub struct Publisher {
    path: PathBuf,
    status: Mutex<WatchStatus>,
}

impl Publisher {
    /// A publisher writing into `state_dir`.
    #[must_use]
    pub fn new(state_dir: &Path) -> Self {
        Self {
            path: state_dir.join(FILE),
            status: Mutex::new(WatchStatus {
                pid: std::process::id(),
                started_at: jiff::Timestamp::now().to_string(),
                links: BTreeMap::new(),
            }),
        }
    }

    /// Updates one link and writes the file.
    pub fn update(&self, link: &str, status: LinkStatus) {
        let snapshot = {
            let mut all = self
                .status
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            all.links.insert(link.to_owned(), status);
            all.clone()
        };
        if let Err(e) = write_private(&self.path, &snapshot) {
            tracing::warn!(
                "cannot publish watch status to {}: {e}",
                self.path.display()
            );
        }
    }

    /// Removes the file (clean shutdown).
    pub fn remove(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads what a running watch published in `state_dir`, if anything.
#[must_use]
pub fn read(state_dir: &Path) -> Option<WatchStatus> {
    let bytes = std::fs::read(state_dir.join(FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn write_private(path: &Path, status: &WatchStatus) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    // NamedTempFile is created 0600 on unix: owner-only from the start.
    tmp.write_all(&serde_json::to_vec_pretty(status).map_err(std::io::Error::other)?)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What is published reads back, owner-only.
    #[test]
    fn publish_and_read_back() {
        let dir = tempfile::tempdir().expect("dir");
        let p = Publisher::new(dir.path());
        p.update(
            "roadmap",
            LinkStatus {
                mapped: 3,
                ..LinkStatus::default()
            },
        );
        let read = read(dir.path()).expect("published");
        assert_eq!(read.links["roadmap"].mapped, 3);
        assert_eq!(read.pid, std::process::id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        p.remove();
        assert!(read_missing(dir.path()));
    }

    fn read_missing(dir: &Path) -> bool {
        read(dir).is_none()
    }
}
