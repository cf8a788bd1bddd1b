//! The trash a task is saved to before the bridge deletes it in Asana: a task file
//! without `asana_gid` (so moving it back into a link's folder creates the task again),
//! in `<dir>/.asana-bridge-trash/` for a Markdown link and in `trash/<link>/` of the state
//! folder for other targets.

use std::io;
use std::path::{Path, PathBuf};

use asana_bridge_connector::TaskFields;
use asana_bridge_markdown::{fs as taskfs, names, render};

use crate::config::{LinkConfig, TargetConfig};

/// The trash folder of `link`, whose state lives in `state_dir`.
#[must_use]
pub fn dir_of(link: &LinkConfig, state_dir: &Path) -> PathBuf {
    match &link.target {
        TargetConfig::Markdown { dir } => dir.join(taskfs::TRASH_DIR),
        TargetConfig::Github { .. } => state_dir.join("trash").join(safe_name(&link.name)),
    }
}

/// A link name as one safe path component.
fn safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Saves `fields` as a new task file (no `asana_gid`) in `dir`, created if missing, under
/// a free name made from the title. Returns the file's path.
///
/// # Errors
/// The I/O error: the caller must then not delete the task.
pub fn save(dir: &Path, fields: &TaskFields) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let text = render::render_new(fields, None);
    for name in names::candidates(&fields.title).take(10_000) {
        match taskfs::create_new(dir, &name, text.as_bytes()) {
            Ok(()) => return Ok(dir.join(name)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("no free file name in {} for the task", dir.display()),
    ))
}
