//! The workspace's real rate limit, kept between runs in an owner-only JSON file of the
//! state directory (`asana-rate.json`): what the HTTP layer learned from a `429`
//! ([`RateMemory`]), so the next run starts at that rate instead of meeting the limit
//! again, and when the last minute's requests went out, so a run that starts right after
//! another does not overrun Asana's sliding minute. The HTTP layer itself stores nothing.

use std::io::Write;
use std::path::{Path, PathBuf};

use asana_bridge_connector::http::RateMemory;
use tracing::debug;

/// The file's name in the state directory.
pub const RATE_FILE: &str = "asana-rate.json";

/// What an earlier run kept; `None` when there is no readable file.
#[must_use]
pub fn load(path: &Path) -> Option<RateMemory> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Keeps `memory` (owner-only, replaced atomically) in an existing folder. A failure is logged, never fatal: the
/// next run would merely meet the limit once more.
pub fn save(path: &Path, memory: &RateMemory) {
    if let Err(e) = write(path, memory) {
        debug!(path = %path.display(), error = %e, "cannot keep the learned rate");
    }
}

fn write(path: &Path, memory: &RateMemory) -> std::io::Result<()> {
    // The state directory is created (owner-only) by the state store; a run that never
    // opened it has nothing to keep.
    let dir = path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    // NamedTempFile is created 0600 on unix: owner-only from the start.
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
    tmp.write_all(&serde_json::to_vec(memory).map_err(std::io::Error::other)?)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What is saved reads back, owner-only.
    #[test]
    fn saved_memory_reads_back_owner_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(RATE_FILE);
        assert_eq!(load(&path), None);
        let memory = RateMemory {
            learned_per_window: Some(150),
            configured_per_window: Some(1500),
            confirmed_per_window: None,
            window_ms: 60_000,
            recent_ms: vec![1, 2, 3],
        };
        save(&path, &memory);
        assert_eq!(load(&path), Some(memory));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("saved")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0);
        }
    }
}
