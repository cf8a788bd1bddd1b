//! The line the bridge ends every issue body it writes with: a short visible link to the
//! Asana task, which also names the task's gid so that an issue created just before a
//! crash is recognised on the next run instead of created again.
//!
//! ```text
//! <notes>
//!
//! <sub>Synced with [Asana task 1200000000000123](https://app.asana.com/0/1200000000000001/1200000000000123) by asana-bridge</sub>
//! ```
//!
//! Only the body's *last* line counts, and only in exactly this shape with a numeric gid, so
//! user text is never taken for it (a copy of the line inside the notes stays part of the
//! notes). The notes are the body before that line, minus the one separator the bridge adds
//! (`\n\n`, or the `\r\n\r\n` GitHub's web editor writes): [`split`] undoes [`render`]
//! byte for byte.

/// What the line starts with.
const PREFIX: &str = "<sub>Synced with [Asana task ";
/// What the line ends with.
const SUFFIX: &str = " by asana-bridge</sub>";

/// The footer line for task `gid`, linking to `task_url_base` + `gid`.
#[must_use]
pub fn line(gid: &str, task_url_base: &str) -> String {
    format!("{PREFIX}{gid}]({task_url_base}{gid}){SUFFIX}")
}

/// The issue body for `notes`, ending with the footer of `gid` when there is one.
#[must_use]
pub fn render(notes: &str, gid: Option<&str>, task_url_base: &str) -> String {
    match gid {
        None => notes.to_owned(),
        Some(gid) if notes.is_empty() => line(gid, task_url_base),
        Some(gid) => format!("{notes}\n\n{}", line(gid, task_url_base)),
    }
}

/// The gid a footer line names, if `line` is one.
fn parse_line(line: &str) -> Option<&str> {
    let rest = line.trim().strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    let (gid, link) = rest.split_once(']')?;
    let ok = !gid.is_empty()
        && gid.bytes().all(|b| b.is_ascii_digit())
        && link.starts_with('(')
        && link.ends_with(')');
    ok.then_some(gid)
}

/// Splits an issue body into the task's notes and the gid of its footer (if it has one).
#[must_use]
pub fn split(body: &str) -> (String, Option<String>) {
    let trimmed = body.trim_end();
    let (before, last) = match trimmed.rfind('\n') {
        Some(i) => (&trimmed[..=i], &trimmed[i + 1..]),
        None => ("", trimmed),
    };
    let Some(gid) = parse_line(last) else {
        return (body.to_owned(), None);
    };
    let notes = ["\r\n\r\n", "\n\n", "\r\n", "\n"]
        .iter()
        .find_map(|sep| before.strip_suffix(sep))
        .unwrap_or(before);
    (notes.to_owned(), Some(gid.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://app.asana.com/0/1/";

    /// Whatever the notes, split(render(notes)) gives them back with the gid.
    #[test]
    fn round_trips_byte_for_byte() {
        for notes in [
            "",
            "a",
            "a\n",
            "\n",
            "\n\n",
            "a\r\n",
            "a\r\n\r\n",
            "a\r",
            "  spaced  \n\t",
            "line 1\nline 2",
            "ends with a copy\n<sub>Synced with [Asana task 42](x) by asana-bridge</sub>",
            "ünïcødé ✓",
        ] {
            let body = render(notes, Some("1200"), URL);
            assert_eq!(
                split(&body),
                (notes.to_owned(), Some("1200".to_owned())),
                "{notes:?}"
            );
        }
    }

    /// Bodies without the line (or with a look-alike) are notes, untouched.
    #[test]
    fn user_text_is_never_taken_for_the_footer() {
        for body in [
            "",
            "plain text\n",
            "<sub>Synced with [Asana task abc](x) by asana-bridge</sub>",
            "<sub>Synced with [Asana task 12] by asana-bridge</sub>",
            "Synced with [Asana task 12](x) by asana-bridge",
            "<sub>Synced with [Asana task 12](x) by asana-bridge</sub>\nmore text",
        ] {
            assert_eq!(split(body), (body.to_owned(), None), "{body:?}");
        }
    }

    /// GitHub's web editor writes CRLF and may leave a trailing newline: still recognised.
    #[test]
    fn web_editor_line_endings_are_tolerated() {
        let body = format!("Edited on the web\r\n\r\n{}\r\n", line("77", URL));
        assert_eq!(
            split(&body),
            ("Edited on the web".to_owned(), Some("77".to_owned()))
        );
    }
}
