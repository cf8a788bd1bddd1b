//! Saving a task to the trash folder as a task file, before the bridge deletes it in Asana:
//! a new task file without `asana_gid`, so that moving it back into the folder creates the
//! task again.

use std::io;
use std::path::{Path, PathBuf};

use asana_bridge_connector::{ConnectorError, TaskFields};

use crate::frontmatter::{self, FormatError};
use crate::{fs as taskfs, names, render};

/// Writes `fields` as a new task file (no `asana_gid`) into `trash_dir`, which is created
/// if missing, and returns the file's path.
///
/// - Named from the title like a file the bridge creates (`fix-the-login-page.md`, then
///   `-2`, `-3`… when the name is taken), never clobbering anything, written atomically.
/// - The same rendering as a created task file, checked to read back to exactly `fields`
///   (canonical form).
/// - `note` (one line: line breaks become spaces) is written as a YAML comment right after
///   the opening `---`, e.g. `# deleted in Asana by asana-bridge on 2026-12-02T10:00:00Z
///   because its file was removed`. The reader ignores comments, so moving the file back
///   into the folder reads the same fields. An empty note writes no comment line.
///
/// For a Markdown link `trash_dir` is `<dir>/.asana-bridge-trash`
/// ([`MarkdownConnector::trash_dir`](crate::MarkdownConnector::trash_dir)); for a GitHub
/// link, `trash/` in the state folder.
///
/// # Errors
/// [`ConnectorError::InvalidData`] when the fields cannot be written so that they read
/// back (never expected); [`ConnectorError::Io`] when the folder cannot be created or the
/// file cannot be written (then nothing is left behind but possibly the folder).
pub fn save_to_trash(
    trash_dir: &Path,
    fields: &TaskFields,
    note: &str,
) -> Result<PathBuf, ConnectorError> {
    let fields = fields.clone().canonical();
    let text = trash_text(&fields, note);
    let back = frontmatter::parse(&text, "").map_err(|e| {
        ConnectorError::InvalidData(
            FormatError::UnsafeEdit {
                reason: format!("the saved task would not read back: {e}"),
            }
            .to_string(),
        )
    })?;
    if back.fields != fields || back.partner.is_some() {
        return Err(ConnectorError::InvalidData(
            FormatError::UnsafeEdit {
                reason: "the saved task would read back differently".into(),
            }
            .to_string(),
        ));
    }
    taskfs::ensure_folder(trash_dir).map_err(|e| {
        ConnectorError::io(
            format!("cannot create the trash folder {}", trash_dir.display()),
            e,
        )
    })?;
    for name in names::candidates(&fields.title).take(10_000) {
        match taskfs::create_new(trash_dir, &name, text.as_bytes()) {
            Ok(_) => return Ok(trash_dir.join(name)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(ConnectorError::io(
                    format!("cannot write {}", trash_dir.join(&name).display()),
                    e,
                ));
            }
        }
    }
    Err(ConnectorError::InvalidData(format!(
        "{} holds too many files named like `{}`",
        trash_dir.display(),
        fields.title
    )))
}

/// The text of a saved task: a new task file with `note` as a comment line at the top of
/// its front matter.
fn trash_text(fields: &TaskFields, note: &str) -> String {
    let text = render::render_new(fields, None);
    let note: String = note
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let note = note.trim();
    if note.is_empty() {
        return text;
    }
    match text.strip_prefix("---\n") {
        Some(rest) => format!("---\n# {note}\n{rest}"),
        None => text, // render_new always opens with `---`; never reached
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> TaskFields {
        TaskFields {
            title: "Fix the login page".into(),
            notes: "Line one\n\n- a list\n---\nnot a delimiter in the body\n".into(),
            completed: true,
            due: Some("2026-12-01".into()),
            assignee: Some("alice@example.com".into()),
            tags: vec!["p1".into(), "bug".into()],
            section: Some("In progress".into()),
            start_on: None,
            ..TaskFields::default()
        }
    }

    /// The saved file reads back to exactly the fields, without a gid, with the note as a
    /// harmless comment; a second save of the same title never clobbers the first.
    #[test]
    fn saves_read_back_and_never_clobber() {
        let root = tempfile::tempdir().expect("dir");
        let trash = root.path().join("roadmap").join(taskfs::TRASH_DIR);
        let note =
            "deleted in Asana by asana-bridge on 2026-12-02T10:00:00Z because its file was removed";
        let first = save_to_trash(&trash, &fields(), note).expect("save");
        assert_eq!(first, trash.join("fix-the-login-page.md"));
        let text = std::fs::read_to_string(&first).expect("read");
        assert!(
            text.starts_with(&format!("---\n# {note}\ntitle: ")),
            "{text}"
        );
        assert!(!text.contains("asana_gid"), "{text}");
        let back = frontmatter::parse(&text, "x").expect("parse");
        assert_eq!(back.fields, fields().canonical());
        assert_eq!(back.partner, None);

        let second = save_to_trash(&trash, &fields(), "line one\nline two\r\n").expect("again");
        assert_eq!(second, trash.join("fix-the-login-page-2.md"));
        assert_eq!(std::fs::read_to_string(&first).expect("read"), text);
        let text2 = std::fs::read_to_string(&second).expect("read");
        assert!(
            text2.starts_with("---\n# line one line two\ntitle: "),
            "{text2}"
        );

        // No note: exactly the file `create` would write, without a gid.
        let third = save_to_trash(&trash, &fields(), "").expect("third");
        assert_eq!(
            std::fs::read_to_string(&third).expect("read"),
            render::render_new(&fields(), None)
        );
        // Nothing else in the trash (no temp file left).
        assert_eq!(std::fs::read_dir(&trash).expect("ls").count(), 3);
    }

    /// A trash path that is a file is an error, and nothing is written.
    #[test]
    fn trash_must_be_a_folder() {
        let root = tempfile::tempdir().expect("dir");
        let trash = root.path().join("t");
        std::fs::write(&trash, "x").expect("write");
        assert!(save_to_trash(&trash, &fields(), "n").is_err());
        assert_eq!(std::fs::read(&trash).expect("read"), b"x");
    }
}
