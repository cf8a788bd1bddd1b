//! The trash a task is saved to before the bridge deletes it in Asana: a task file
//! without `asana_gid` (so moving it back into a link's folder creates the task again),
//! in `<dir>/.asana-bridge-trash/` for a link whose target is a folder (Markdown) and in
//! `trash/<link>/` of the state folder for other targets.

use std::path::{Path, PathBuf};

use asana_bridge_connector::{ConnectorError, TaskFields};
use asana_bridge_markdown::fs as taskfs;

use crate::config::LinkConfig;

/// The trash folder of `link`, whose state lives in `state_dir`.
#[must_use]
pub fn dir_of(link: &LinkConfig, state_dir: &Path) -> PathBuf {
    match link.target.folder() {
        Some(dir) => dir.join(taskfs::TRASH_DIR),
        None => state_dir.join("trash").join(link.path_component()),
    }
}

/// Saves `fields` as a new task file (no `asana_gid`) in `dir`, created if missing, under
/// a free name made from the title, with `note` (when and why) as a comment in its front
/// matter. Returns the file's path.
///
/// # Errors
/// Why it could not be saved: the caller must then not delete the task.
pub fn save(dir: &Path, fields: &TaskFields, note: &str) -> Result<PathBuf, ConnectorError> {
    asana_bridge_markdown::save_to_trash(dir, fields, note)
}
