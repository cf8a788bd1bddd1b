//! A task file's body: its description (the task's notes) and the bridge's `## Subtasks`
//! and `## Comments` sections after it, as [`asana_bridge_connector::sections`] reads and
//! writes them, in the file's line endings.
//!
//! Edits keep what they do not change byte for byte: a new description keeps the sections
//! as written, new sections keep the description as written. Every result is checked by
//! reading it back.

use asana_bridge_connector::sections::{self, Sections};
use asana_bridge_connector::{CommentBlock, SubtaskLine, TargetThread};

use crate::frontmatter::{Eol, FormatError};

/// A body read: `\r\n` line endings of a CRLF file become `\n` first, so the notes use
/// `\n` (as they always have); an LF file's body is read as it is.
#[must_use]
pub fn read(body: &str, eol: Eol) -> Sections {
    // Most files have no sections: skip the line scan (same result).
    if !body.contains("## Subtasks") && !body.contains("## Comments") {
        let mut description = match eol {
            Eol::Lf => body.to_owned(),
            Eol::CrLf => body.replace("\r\n", "\n"),
        };
        if description.ends_with('\n') {
            description.pop();
        }
        return Sections {
            description,
            subtasks: None,
            comments: None,
        };
    }
    match eol {
        Eol::Lf => sections::split(body),
        Eol::CrLf => sections::split(&body.replace("\r\n", "\n")),
    }
}

/// `text` (written with `\n`) in the file's line endings.
fn in_eol(text: &str, eol: Eol) -> String {
    match eol {
        Eol::Lf => text.to_owned(),
        Eol::CrLf => text.replace('\n', "\r\n"),
    }
}

/// The body of a file holding only `notes`: what a new file gets.
#[must_use]
pub fn for_notes(notes: &str, eol: Eol) -> String {
    in_eol(&sections::join(notes, None, None), eol)
}

/// The body `body` with its description replaced by `notes`: its sections, if any, stay
/// byte for byte after the description and one blank line. Should the new description's
/// own end read as a section, the sections are written afresh (same content) so that the
/// bridge's stay the last ones. The caller checks the result reads back.
#[must_use]
pub fn with_notes(body: &str, notes: &str, eol: Eol) -> String {
    let Some(offset) = sections::sections_offset(body) else {
        return for_notes(notes, eol);
    };
    let mut out = if notes.is_empty() {
        String::new()
    } else {
        in_eol(&format!("{notes}\n\n"), eol)
    };
    out.push_str(&body[offset..]);
    let before = read(body, eol);
    let after = read(&out, eol);
    if after.description == notes
        && after.subtasks == before.subtasks
        && after.comments == before.comments
    {
        return out;
    }
    in_eol(
        &sections::join(
            notes,
            before.subtasks.as_deref(),
            before.comments.as_deref(),
        ),
        eol,
    )
}

/// What a section written from `lines` reads back as (names one line, bodies as the
/// writer puts them).
fn normalized(
    subtasks: Option<&[SubtaskLine]>,
    comments: Option<&[CommentBlock]>,
) -> (Option<Vec<SubtaskLine>>, Option<Vec<CommentBlock>>) {
    let back = sections::split(&sections::join("", subtasks, comments));
    (back.subtasks, back.comments)
}

/// The body `body` with its sections rewritten as `thread`, the description kept byte
/// for byte (a line break is added after a last line that has none). A section is written
/// when `thread` has lines for it or the body already had it (then possibly empty).
/// Returns `None` when the body already reads as `thread`: nothing to write.
///
/// # Errors
/// [`FormatError::UnsafeEdit`] when the result would not read back as the same
/// description and `thread` (a description leaving a code block open hides whatever
/// follows it).
pub fn with_thread(
    body: &str,
    eol: Eol,
    thread: &TargetThread,
) -> Result<Option<String>, FormatError> {
    let before = read(body, eol);
    let subtasks = (!thread.subtasks.is_empty() || before.subtasks.is_some())
        .then_some(thread.subtasks.as_slice());
    let comments = (!thread.comments.is_empty() || before.comments.is_some())
        .then_some(thread.comments.as_slice());
    let expected = normalized(subtasks, comments);
    if (before.subtasks.clone(), before.comments.clone()) == expected {
        return Ok(None);
    }
    let mut out = match sections::sections_offset(body) {
        Some(offset) => body[..offset].to_owned(),
        None => {
            let mut d = body.to_owned();
            if !d.is_empty() {
                if !d.ends_with('\n') {
                    d.push_str(eol.as_str());
                }
                d.push_str(eol.as_str());
            }
            d
        }
    };
    out.push_str(&in_eol(&sections::join("", subtasks, comments), eol));
    let after = read(&out, eol);
    if after.description != before.description || (after.subtasks, after.comments) != expected {
        let reason = if sections::closed_code(&before.description) == before.description {
            "its subtasks and comments would not read back as written".to_owned()
        } else {
            "the description leaves a code block open (a ``` or ~~~ line without its \
             closing one), so subtasks and comments written after it would read as code; \
             close it"
                .to_owned()
        };
        return Err(FormatError::UnsafeEdit { reason });
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread(names: &[(&str, Option<&str>)], comments: &[(&str, &str)]) -> TargetThread {
        TargetThread {
            subtasks: names
                .iter()
                .map(|(name, gid)| SubtaskLine {
                    asana_gid: gid.map(str::to_owned),
                    name: (*name).to_owned(),
                    completed: false,
                })
                .collect(),
            comments: comments
                .iter()
                .map(|(heading, body)| CommentBlock {
                    asana_gid: None,
                    id: None,
                    heading: (*heading).to_owned(),
                    body: (*body).to_owned(),
                })
                .collect(),
        }
    }

    /// New notes keep the sections byte for byte, odd spacing and all.
    #[test]
    fn notes_keep_sections() {
        let body = "Old\n\n\n## Subtasks\n*   [X]   Done   <!--asana:1-->\n\n## Comments\n### h\n  body  \n";
        let new = with_notes(body, "New\n\nnotes", Eol::Lf);
        assert_eq!(
            new,
            "New\n\nnotes\n\n## Subtasks\n*   [X]   Done   <!--asana:1-->\n\n## Comments\n### h\n  body  \n"
        );
        assert_eq!(read(&new, Eol::Lf).description, "New\n\nnotes");
        assert_eq!(
            with_notes(body, "", Eol::Lf),
            body[body.find("## S").unwrap_or(0)..]
        );
        // Without sections: today's body.
        assert_eq!(with_notes("x\n", "y", Eol::Lf), "y\n");
    }

    /// Notes whose end reads as a section get the sections written afresh after them.
    #[test]
    fn notes_that_look_like_sections() {
        let body = "Old\n\n## Comments\n### h <!-- asana:9 -->\nbody\n";
        let notes = "New\n\n## Subtasks\n- [ ] not a subtask";
        let new = with_notes(body, notes, Eol::Lf);
        let back = read(&new, Eol::Lf);
        assert_eq!(back.description, notes);
        assert_eq!(back.comments, read(body, Eol::Lf).comments);
    }

    /// New sections keep the description byte for byte, in the file's line endings.
    #[test]
    fn thread_keeps_the_description() {
        let t = thread(&[("a", Some("1"))], &[]);
        let body = "Desc  \r\nwith CRLF\r\n";
        let new = with_thread(body, Eol::CrLf, &t)
            .expect("ok")
            .expect("changed");
        assert_eq!(
            new,
            "Desc  \r\nwith CRLF\r\n\r\n## Subtasks\r\n- [ ] a <!-- asana:1 -->\r\n"
        );
        // Written again: nothing to do.
        assert_eq!(with_thread(&new, Eol::CrLf, &t).expect("ok"), None);
        // A description without a final line break gets one.
        let new = with_thread("x", Eol::Lf, &t).expect("ok").expect("changed");
        assert_eq!(new, "x\n\n## Subtasks\n- [ ] a <!-- asana:1 -->\n");
        // An emptied thread keeps the headings the file had.
        let empty = with_thread(&new, Eol::Lf, &TargetThread::default())
            .expect("ok")
            .expect("changed");
        assert_eq!(empty, "x\n\n## Subtasks\n");
        // Notes that end with blank lines keep them.
        let new = with_thread("x\n\n", Eol::Lf, &t)
            .expect("ok")
            .expect("changed");
        assert_eq!(read(&new, Eol::Lf).description, "x\n");
        // Nothing asked, nothing there: nothing to write.
        assert_eq!(
            with_thread("x\n", Eol::Lf, &TargetThread::default()).expect("ok"),
            None
        );
    }

    /// A description leaving a code block open cannot get sections after it.
    #[test]
    fn open_fence_is_refused() {
        let t = thread(&[], &[("h", "b")]);
        let e = with_thread("```\ncode\n", Eol::Lf, &t).expect_err("refused");
        assert!(e.to_string().contains("code block open"), "{e}");
    }
}
