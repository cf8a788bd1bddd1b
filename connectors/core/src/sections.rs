//! The bridge's sections in a task's Markdown text: reading a body into its description,
//! its `## Subtasks` checklist and its `## Comments` blocks ([`split`]), and writing them
//! back in one canonical layout ([`join`]). Pure: no I/O, no clock.
//!
//! How the sections are recognised (the headings are the bridge's only where they are
//! followed by its lines):
//! - The text is read line by line (`\n` or `\r\n`; a stray `\r` at the end of a line is
//!   part of its ending); lines inside fenced code blocks
//!   (```` ``` ```` or `~~~`, three or more, indented at most three spaces) are never
//!   headings, checklist lines or block headings. A fence left open runs to the end.
//! - The comments section starts at the **last** line that is exactly `## Comments`
//!   (trailing spaces allowed) whose next non-blank line is a `###` heading, or which has
//!   none. It runs to the end: one block per `###` heading line (text, then optionally
//!   ` <!-- asana:GID -->` at the end of the line), its body being the lines up to the next
//!   `###` heading outside code, without leading and trailing blank lines.
//! - The subtasks section is the **last** `## Subtasks` line before the comments section
//!   (or the end) whose next non-blank lines, up to there, are all checklist lines at the
//!   start of the line: `- [ ] text`, `- [x] text` (also `*` or `+` for `-`, more spaces
//!   after it, `[X]`), each optionally ending with ` <!-- asana:GID -->`. An indented
//!   (nested) checklist line makes it a plain heading of the description: the bridge
//!   leaves deeper levels alone.
//! - A marker is only a marker at the end of its line, and not after a backslash
//!   (`\<!-- asana:1 -->` is text). Its content is kept raw (`<!-- asana:abc -->` gives
//!   `abc`), for the caller to check.
//!
//! The description follows the notes convention of a Markdown file: the body before the
//! first section, without its final `\n`, and without the one blank line that separates it
//! from the sections (further blank lines are the description's own). With no section it
//! is the body without its final `\n`. Line endings are kept as written: convert a CRLF
//! text to LF first to get LF notes (subtask names and comment bodies always come out
//! with `\n`).
//!
//! The canonical layout [`join`] writes:
//!
//! ```text
//! Description
//!
//! ## Subtasks
//! - [ ] Reproduce on Safari 17 <!-- asana:1200000000000456 -->
//! - [x] A line without a marker yet
//!
//! ## Comments
//! ### Alice Example · 2026-11-30 14:02 <!-- asana:1200000000000789 -->
//! Seen on Safari 16 too.
//!
//! ### Reply
//! A block without a marker.
//! ```
//!
//! What the writer changes so that the text reads back as written (the same change
//! [`line_text`] and [`block_body`] make, for comparing like with like):
//! - a subtask name or block heading is one line: line breaks become spaces, spaces at
//!   both ends are dropped, and a backslash goes before a trailing `<!-- asana:… -->` that
//!   is part of the text;
//! - a comment body loses leading and trailing blank lines and `\r\n` becomes `\n`; a line
//!   outside code that would read as a block heading (`### …`) or as the `## Comments`
//!   heading gets one leading space (same rendering); a code block left open is closed;
//! - a description followed by a section gets a code block left open closed; when the
//!   description's own end would read as a bridge section, both sections are written
//!   (empty where not asked for), so that the bridge's are the last ones.

use std::borrow::Cow;

use crate::thread::{CommentBlock, SubtaskLine};

/// A body read into its description and the bridge's sections.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sections {
    /// The text before the first section (see the module docs for its exact form).
    pub description: String,
    /// The `## Subtasks` lines, in order; `None` when the body has no such section.
    pub subtasks: Option<Vec<SubtaskLine>>,
    /// The `## Comments` blocks, in order; `None` when the body has no such section.
    pub comments: Option<Vec<CommentBlock>>,
}

const SUBTASKS: &str = "## Subtasks";
const COMMENTS: &str = "## Comments";

/// One line of a text.
#[derive(Clone, Copy, Debug)]
struct Line<'a> {
    /// Byte offset of the line's start.
    start: usize,
    /// The line without its `\n` or `\r\n`.
    content: &'a str,
    /// Inside a fenced code block (the fence lines included).
    code: bool,
}

/// The description with a code block it leaves open closed, and whether its own end
/// reads as a section (then both of the bridge's sections are written after it, so that
/// they are the last ones).
fn description_end(description: &str) -> (Cow<'_, str>, bool) {
    // A text without a heading or fence character has no section and no code block to
    // close: most descriptions, which are otherwise read line by line, twice.
    if has_markup_marks(description) {
        description_end_read(description)
    } else {
        (Cow::Borrowed(description), false)
    }
}

/// [`description_end`], line by line.
fn description_end_read(description: &str) -> (Cow<'_, str>, bool) {
    let looks_sectioned = |d: &str| sections_offset(d).is_some();
    let closed = closed_code(description);
    let force = looks_sectioned(description) || looks_sectioned(&closed);
    (closed, force)
}

/// Whether `text` holds a byte a section heading (`#`) or a code fence (`` ` ``, `~`)
/// needs: without one, no line of it is either.
fn has_markup_marks(text: &str) -> bool {
    memchr::memchr3(b'#', b'`', b'~', text.as_bytes()).is_some()
}

/// The lines of `text`, each marked in or out of code.
fn lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut fence: Option<(char, usize)> = None;
    let mut start = 0;
    for raw in text.split_inclusive('\n') {
        // A `\r` at the end of a line is part of its line ending (`\r\n`, or a stray one).
        let content = raw.strip_suffix('\n').unwrap_or(raw).trim_end_matches('\r');
        let code = match fence {
            Some((ch, n)) => {
                if is_fence_close(content, ch, n) {
                    fence = None;
                }
                true
            }
            None => match fence_open(content) {
                Some(open) => {
                    fence = Some(open);
                    true
                }
                None => false,
            },
        };
        out.push(Line {
            start,
            content,
            code,
        });
        start += raw.len();
    }
    out
}

/// Up to three spaces of indentation, as CommonMark allows before a fence.
fn unindent(line: &str) -> Option<&str> {
    let rest = line.trim_start_matches(' ');
    (line.len() - rest.len() <= 3).then_some(rest)
}

/// The fence character and length a line opens a code block with.
fn fence_open(line: &str) -> Option<(char, usize)> {
    let rest = unindent(line)?;
    let ch = rest.chars().next().filter(|c| matches!(c, '`' | '~'))?;
    let n = rest.len() - rest.trim_start_matches(ch).len();
    if n < 3 {
        return None;
    }
    // A backtick fence's info string may not hold a backtick.
    if ch == '`' && rest[n..].contains('`') {
        return None;
    }
    Some((ch, n))
}

fn is_fence_close(line: &str, ch: char, n: usize) -> bool {
    let Some(rest) = unindent(line) else {
        return false;
    };
    let after = rest.trim_start_matches(ch);
    rest.len() - after.len() >= n && after.trim_matches([' ', '\t']).is_empty()
}

fn is_blank(line: &str) -> bool {
    line.trim_matches([' ', '\t', '\r']).is_empty()
}

fn is_heading(line: &Line<'_>, heading: &str) -> bool {
    !line.code && line.content.trim_end_matches([' ', '\t', '\r']) == heading
}

/// The text of a block heading line (`### text`), or `None` for any other line.
fn block_heading(content: &str) -> Option<&str> {
    let rest = content.strip_prefix("###")?;
    match rest.chars().next() {
        None => Some(""),
        Some(' ' | '\t') => Some(rest),
        Some(_) => None,
    }
}

/// Splits a line's text from a marker at its end: `(text, Some(raw gid))`.
fn marker(text: &str) -> (&str, Option<&str>) {
    let trimmed = text.trim_end_matches([' ', '\t', '\r']);
    match marker_at(trimmed) {
        Some((open, gid)) => (trimmed[..open].trim_end_matches([' ', '\t']), Some(gid)),
        None => (trimmed, None),
    }
}

/// Where the marker at the very end of `trimmed` opens, and its raw gid.
fn marker_at(trimmed: &str) -> Option<(usize, &str)> {
    let inner_end = trimmed.strip_suffix("-->")?;
    let open = inner_end.rfind("<!--")?;
    if trimmed[..open].ends_with('\\') {
        return None;
    }
    let gid = inner_end[open + 4..].trim().strip_prefix("asana:")?;
    Some((open, gid.trim()))
}

/// A checklist line (`- [x] text <!-- asana:GID -->`) at the start of its line.
fn checklist(content: &str) -> Option<SubtaskLine> {
    let rest = content.strip_prefix(['-', '*', '+'])?;
    let spaced = rest.trim_start_matches([' ', '\t']);
    if spaced.len() == rest.len() {
        return None;
    }
    let rest = spaced;
    let (completed, rest) = if let Some(r) = rest.strip_prefix("[ ]") {
        (false, r)
    } else if let Some(r) = rest
        .strip_prefix("[x]")
        .or_else(|| rest.strip_prefix("[X]"))
    {
        (true, r)
    } else {
        return None;
    };
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    let (name, gid) = marker(rest);
    Some(SubtaskLine {
        asana_gid: gid.map(str::to_owned),
        name: name.trim_matches([' ', '\t']).to_owned(),
        completed,
    })
}

/// Where the sections are: line indices of their headings.
struct Found {
    subtasks: Option<usize>,
    comments: Option<usize>,
}

fn find(lines: &[Line<'_>]) -> Found {
    // The comments heading: the last `## Comments` whose next non-blank line is a block
    // heading, or which has none.
    let mut comments = None;
    let mut next_is_heading_or_none = true;
    for (i, line) in lines.iter().enumerate().rev() {
        if is_heading(line, COMMENTS) && next_is_heading_or_none {
            comments = Some(i);
            break;
        }
        if !is_blank(line.content) {
            next_is_heading_or_none = !line.code && block_heading(line.content).is_some();
        }
    }
    // The subtasks heading: walking back from the comments section (or the end) over
    // blank and checklist lines only.
    let end = comments.unwrap_or(lines.len());
    let mut subtasks = None;
    for (i, line) in lines[..end].iter().enumerate().rev() {
        if is_blank(line.content) || (!line.code && checklist(line.content).is_some()) {
            continue;
        }
        if is_heading(line, SUBTASKS) {
            subtasks = Some(i);
        }
        break;
    }
    Found { subtasks, comments }
}

/// The byte offset of the first bridge section's heading in `body`, or `None` when it has
/// none: what is before it is the description, byte for byte.
#[must_use]
pub fn sections_offset(body: &str) -> Option<usize> {
    let lines = lines(body);
    let found = find(&lines);
    found.subtasks.or(found.comments).map(|i| lines[i].start)
}

/// The description from the text before the sections (`None`: the body has none).
fn description(before: &str, sectioned: bool) -> String {
    let mut d = before;
    if sectioned {
        // The one blank line that separates it from the sections.
        let without_end = d.strip_suffix('\n').unwrap_or(d);
        if let Some(i) = without_end.rfind('\n')
            && is_blank(&without_end[i + 1..])
        {
            d = &d[..=i];
        } else if is_blank(without_end) {
            d = "";
        }
    }
    d.strip_suffix('\n').unwrap_or(d).to_owned()
}

/// Reads `body` (a task's Markdown text, front matter aside) into its description and the
/// bridge's sections; see the module docs for the rules.
#[must_use]
pub fn split(body: &str) -> Sections {
    let lines = lines(body);
    let found = find(&lines);
    let first = found.subtasks.or(found.comments);
    let before = first.map_or(body, |i| &body[..lines[i].start]);
    let subtasks = found.subtasks.map(|s| {
        let end = found.comments.unwrap_or(lines.len());
        lines[s + 1..end]
            .iter()
            .filter_map(|l| checklist(l.content))
            .collect()
    });
    let comments = found.comments.map(|c| blocks(&lines[c + 1..]));
    Sections {
        description: description(before, first.is_some()),
        subtasks,
        comments,
    }
}

fn blocks(lines: &[Line<'_>]) -> Vec<CommentBlock> {
    let mut out: Vec<(CommentBlock, Vec<&str>)> = Vec::new();
    for line in lines {
        if !line.code
            && let Some(text) = block_heading(line.content)
        {
            let (heading, gid) = marker(text);
            out.push((
                CommentBlock {
                    asana_gid: gid.map(str::to_owned),
                    id: None,
                    heading: heading.trim_matches([' ', '\t']).to_owned(),
                    body: String::new(),
                },
                Vec::new(),
            ));
        } else if let Some((_, body)) = out.last_mut() {
            body.push(line.content);
        }
    }
    out.into_iter()
        .map(|(mut block, body)| {
            block.body = trim_blank_lines(&body).join("\n");
            block
        })
        .collect()
}

fn trim_blank_lines<'a, 'b>(lines: &'b [&'a str]) -> &'b [&'a str] {
    let start = lines
        .iter()
        .position(|l| !is_blank(l))
        .unwrap_or(lines.len());
    let end = lines
        .iter()
        .rposition(|l| !is_blank(l))
        .map_or(start, |e| e + 1);
    &lines[start..end]
}

/// A subtask name or block heading as the writer puts it on its line, and as it reads
/// back: one line (line breaks become spaces), no spaces at either end, and a backslash
/// before a trailing `<!-- asana:… -->` so that it stays text.
#[must_use]
pub fn line_text(text: &str) -> String {
    let one_line = text.replace("\r\n", " ").replace(['\r', '\n'], " ");
    let trimmed = one_line.trim_matches([' ', '\t']);
    match marker_at(trimmed) {
        None => trimmed.to_owned(),
        Some((open, _)) => format!("{}\\{}", &trimmed[..open], &trimmed[open..]),
    }
}

/// `text` with a code block it leaves open closed by a fence line at its end (unchanged
/// when it leaves none open).
#[must_use]
pub fn closed_code(text: &str) -> Cow<'_, str> {
    let mut fence = None;
    for line in lines(text) {
        fence = match fence {
            Some((ch, n)) if is_fence_close(line.content, ch, n) => None,
            Some(open) => Some(open),
            None => fence_open(line.content),
        };
    }
    match fence {
        None => Cow::Borrowed(text),
        Some((ch, n)) => {
            let mut out = text.to_owned();
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.extend(std::iter::repeat_n(ch, n));
            Cow::Owned(out)
        }
    }
}

/// A comment body as the writer puts it in its block, and as it reads back (see the
/// module docs): no leading or trailing blank lines, `\n` line endings, heading-like lines
/// indented by one space, a code block left open closed.
#[must_use]
pub fn block_body(body: &str) -> String {
    let all = lines(body);
    let contents: Vec<&str> = all.iter().map(|l| l.content).collect();
    let kept = trim_blank_lines(&contents);
    let text = kept.join("\n");
    let closed = closed_code(&text).into_owned();
    lines(&closed)
        .iter()
        .map(|l| {
            let heading_like = block_heading(l.content).is_some() || is_heading(l, COMMENTS);
            if !l.code && heading_like {
                format!(" {}", l.content)
            } else {
                l.content.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn marked(text: &str, gid: Option<&str>) -> String {
    match gid {
        Some(gid) if text.is_empty() => format!("<!-- asana:{gid} -->"),
        Some(gid) => format!("{text} <!-- asana:{gid} -->"),
        None => text.to_owned(),
    }
}

/// Writes a body: `description`, then the `## Subtasks` section when `subtasks` is `Some`
/// (even empty: the bare heading), then the `## Comments` section when `comments` is
/// `Some`, in the layout shown in the module docs: one blank line between the parts,
/// blocks separated by a blank line, a final line break. With no section it is the
/// description plus a line break (nothing for an empty one), as a Markdown file's body.
///
/// [`split`] reads it back as `description` (a code block it leaves open closed when a
/// section follows), names and headings as [`line_text`], bodies as [`block_body`]; a
/// section not asked for may come back empty (`Some(vec![])`) when the description's end
/// would read as a section. A marker's gid is written as given: a gid is digits, never a
/// line break or `-->`.
#[must_use]
pub fn join(
    description: &str,
    subtasks: Option<&[SubtaskLine]>,
    comments: Option<&[CommentBlock]>,
) -> String {
    let (closed, force) = description_end(description);
    if subtasks.is_none() && comments.is_none() && !force {
        let mut out = description.to_owned();
        if !out.is_empty() {
            out.push('\n');
        }
        return out;
    }
    let (subtasks, comments) = if force {
        (Some(subtasks.unwrap_or(&[])), Some(comments.unwrap_or(&[])))
    } else {
        (subtasks, comments)
    };
    let description = closed;
    let mut out = description.into_owned();
    if !out.is_empty() {
        out.push_str("\n\n");
    }
    if let Some(lines) = subtasks {
        out.push_str(SUBTASKS);
        out.push('\n');
        for line in lines {
            let text = marked(&line_text(&line.name), line.asana_gid.as_deref());
            let box_ = if line.completed { "[x]" } else { "[ ]" };
            if text.is_empty() {
                out.push_str(&format!("- {box_}\n"));
            } else {
                out.push_str(&format!("- {box_} {text}\n"));
            }
        }
    }
    if let Some(blocks) = comments {
        if subtasks.is_some() {
            out.push('\n');
        }
        out.push_str(COMMENTS);
        out.push('\n');
        for (i, block) in blocks.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            let heading = marked(&line_text(&block.heading), block.asana_gid.as_deref());
            if heading.is_empty() {
                out.push_str("###\n");
            } else {
                out.push_str(&format!("### {heading}\n"));
            }
            let body = block_body(&block.body);
            if !body.is_empty() {
                out.push_str(&body);
                out.push('\n');
            }
        }
    }
    out
}

/// The heading the bridge writes above a comment: `Alice Example · 2026-11-30 14:02`, the
/// time in UTC to the minute (the time alone when the author has no name).
#[must_use]
pub fn comment_heading(author: &str, at: jiff::Timestamp) -> String {
    // A timestamp formats in UTC.
    let time = at.strftime("%Y-%m-%d %H:%M").to_string();
    let author = line_text(author);
    if author.is_empty() {
        time
    } else {
        format!("{author} · {time}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The short way for a description without `#`, `` ` `` or `~` says what reading
        /// it line by line says, whatever the text (lines that are fences, headings and
        /// checklists when those characters are there).
        #[test]
        fn the_description_end_short_way_agrees(
            lines in proptest::collection::vec(prop::sample::select(vec![
                "```", "~~~", "  ```rust", "## Subtasks", "## Comments", "### Reply",
                "- [ ] a", "- [x] b", "text", "", "#", "`x`", "~", "a ~~~", "\r",
            ]), 0..8),
            end in any::<bool>(),
        ) {
            let mut text = lines.join("\n");
            if end {
                text.push('\n');
            }
            prop_assert_eq!(description_end(&text), description_end_read(&text));
        }
    }

    fn line(gid: Option<&str>, name: &str, completed: bool) -> SubtaskLine {
        SubtaskLine {
            asana_gid: gid.map(str::to_owned),
            name: name.to_owned(),
            completed,
        }
    }

    fn block(gid: Option<&str>, heading: &str, body: &str) -> CommentBlock {
        CommentBlock {
            asana_gid: gid.map(str::to_owned),
            id: None,
            heading: heading.to_owned(),
            body: body.to_owned(),
        }
    }

    const CONTRACT: &str = "The description, in Markdown.\n\n## Subtasks\n\
        - [ ] Reproduce on Safari 17 <!-- asana:1200000000000456 -->\n\
        - [x] Check the CSP headers <!-- asana:1200000000000457 -->\n\
        - [ ] A line typed without a marker becomes a new subtask\n\n## Comments\n\
        ### Alice Example · 2026-11-30 14:02 <!-- asana:1200000000000789 -->\n\
        Seen on Safari 16 too.\n\n### Reply\n\
        A `###` block without a marker becomes a new comment (the heading text is ignored).\n";

    /// The contract's example reads as written, and is exactly the canonical layout.
    #[test]
    fn the_contract_example() {
        let s = split(CONTRACT);
        assert_eq!(s.description, "The description, in Markdown.");
        assert_eq!(
            s.subtasks,
            Some(vec![
                line(Some("1200000000000456"), "Reproduce on Safari 17", false),
                line(Some("1200000000000457"), "Check the CSP headers", true),
                line(
                    None,
                    "A line typed without a marker becomes a new subtask",
                    false
                ),
            ])
        );
        assert_eq!(
            s.comments,
            Some(vec![
                block(
                    Some("1200000000000789"),
                    "Alice Example · 2026-11-30 14:02",
                    "Seen on Safari 16 too."
                ),
                block(
                    None,
                    "Reply",
                    "A `###` block without a marker becomes a new comment (the heading text is ignored)."
                ),
            ])
        );
        assert_eq!(
            join(&s.description, s.subtasks.as_deref(), s.comments.as_deref()),
            CONTRACT
        );
        assert_eq!(sections_offset(CONTRACT), CONTRACT.find("## Subtasks"));
    }

    /// Without sections the description is the body without its final line break, as the
    /// notes of a Markdown file have always been.
    #[test]
    fn no_sections_is_the_body() {
        for (body, d) in [
            ("", ""),
            ("x", "x"),
            ("x\n", "x"),
            ("x\n\n", "x\n"),
            ("x\r\n", "x\r"),
            (
                "## Subtasks\nnot a checklist\n",
                "## Subtasks\nnot a checklist",
            ),
            (
                "## Comments\ntext first\n### then a heading\n",
                "## Comments\ntext first\n### then a heading",
            ),
        ] {
            let s = split(body);
            assert_eq!(
                s,
                Sections {
                    description: d.into(),
                    subtasks: None,
                    comments: None
                },
                "{body:?}"
            );
            assert_eq!(sections_offset(body), None);
        }
    }

    /// The separator: one blank line goes, further ones are the description's.
    #[test]
    fn description_ends() {
        for (body, d) in [
            ("x\n## Subtasks\n", "x"),
            ("x\n\n## Subtasks\n", "x"),
            ("x\n  \n## Subtasks\n", "x"),
            ("x\n\n\n## Subtasks\n", "x\n"),
            ("## Subtasks\n", ""),
            ("\n## Subtasks\n", ""),
            ("\n\n## Comments\n", ""),
            ("\n\n\n## Comments\n", "\n"),
        ] {
            assert_eq!(split(body).description, d, "{body:?}");
        }
    }

    /// The last heading wins; a nested checklist, text after the checklist, or a comments
    /// heading followed by text leave the headings to the description.
    #[test]
    fn which_headings_are_the_bridges() {
        let body = "## Subtasks\n- [ ] in the description\nmore text\n\n## Subtasks\n- [ ] a\n  - [ ] nested\n";
        assert_eq!(split(body).subtasks, None, "nested: not the bridge's");
        let body = "## Subtasks\n- [ ] old\n\n## Subtasks\n* [X] new\n\n+ [ ]\n";
        let s = split(body);
        assert_eq!(s.description, "## Subtasks\n- [ ] old");
        assert_eq!(
            s.subtasks,
            Some(vec![line(None, "new", true), line(None, "", false)])
        );
        let body = "## Comments\n### a\nbody\n## Comments\nplain text\n";
        let s = split(body);
        assert_eq!(
            s.comments,
            Some(vec![block(None, "a", "body\n## Comments\nplain text")])
        );
        // A block that is not `###`: `####` is body text, `###x` too.
        let s = split("## Comments  \n### a\n#### deeper\n###x\n");
        assert_eq!(
            s.comments,
            Some(vec![block(None, "a", "#### deeper\n###x")])
        );
        // Headings in code are not headings.
        let body = "```\n## Subtasks\n- [ ] a\n```\n";
        assert_eq!(split(body).subtasks, None);
        let body = "## Comments\n### a\n~~~~\n### not a block\n~~~\nstill code\n~~~~\n### b\n";
        let s = split(body);
        assert_eq!(
            s.comments,
            Some(vec![
                block(None, "a", "~~~~\n### not a block\n~~~\nstill code\n~~~~"),
                block(None, "b", "")
            ])
        );
        // A fence left open hides what follows.
        assert_eq!(split("```rust\n## Subtasks\n- [ ] a\n").subtasks, None);
    }

    /// Markers: only at the end of the line, raw content kept, escaped ones are text.
    #[test]
    fn markers() {
        let s = split(
            "## Subtasks\n- [ ] a <!-- asana:abc -->\n- [ ] b <!-- asana:1 --> and text\n\
             - [x] c \\<!-- asana:2 -->\n- [ ] d <!-- asana:3 --> <!-- asana:4 -->\n- [ ] e <!-- note -->\n\
             - [ ] <!--asana:5-->  \n-[ ] not a line\n",
        );
        assert_eq!(s.subtasks, None, "`-[ ]` is not a checklist line");
        let s = split(
            "## Subtasks\n- [ ] a <!-- asana:abc -->\n- [ ] b <!-- asana:1 --> and text\n\
             - [x] c \\<!-- asana:2 -->\n- [ ] d <!-- asana:3 --> <!-- asana:4 -->\n- [ ] e <!-- note -->\n\
             - [ ] <!--asana:5-->  \n",
        );
        assert_eq!(
            s.subtasks,
            Some(vec![
                line(Some("abc"), "a", false),
                line(None, "b <!-- asana:1 --> and text", false),
                line(None, "c \\<!-- asana:2 -->", true),
                line(Some("4"), "d <!-- asana:3 -->", false),
                line(None, "e <!-- note -->", false),
                line(Some("5"), "", false),
            ])
        );
    }

    /// A CRLF text reads like its LF form (the description keeps its `\r`s).
    #[test]
    fn crlf() {
        let crlf = CONTRACT.replace('\n', "\r\n");
        let (a, b) = (split(CONTRACT), split(&crlf));
        assert_eq!(a.subtasks, b.subtasks);
        assert_eq!(a.comments, b.comments);
        assert_eq!(b.description, "The description, in Markdown.\r");
    }

    /// The writer makes hostile names and bodies read back as [`line_text`] and
    /// [`block_body`] say.
    #[test]
    fn hostile_text() {
        let subtasks = vec![
            line(None, "two\nlines\r\nhere ", false),
            line(None, "ends like <!-- asana:1 -->", true),
            line(Some("7"), "- [ ] ### <!-- x -->", false),
        ];
        let comments = vec![
            block(
                None,
                "a\nheading <!-- asana:2 -->",
                "\n\n### not a block\n## Comments\n```\nopen",
            ),
            block(Some("3"), "", "x\r\ny"),
        ];
        let text = join("desc", Some(&subtasks), Some(&comments));
        let s = split(&text);
        assert_eq!(s.description, "desc");
        assert_eq!(
            s.subtasks,
            Some(vec![
                line(None, "two lines here", false),
                line(None, "ends like \\<!-- asana:1 -->", true),
                line(Some("7"), "- [ ] ### <!-- x -->", false),
            ])
        );
        assert_eq!(
            s.comments,
            Some(vec![
                block(
                    None,
                    "a heading \\<!-- asana:2 -->",
                    " ### not a block\n ## Comments\n```\nopen\n```"
                ),
                block(Some("3"), "", "x\ny"),
            ])
        );
        assert_eq!(
            join(&s.description, s.subtasks.as_deref(), s.comments.as_deref()),
            text
        );
    }

    /// A description whose end reads as a section still reads back: the bridge's sections
    /// are written after it (empty where not asked for) and the last ones win.
    #[test]
    fn description_that_looks_like_sections() {
        let d = "Intro\n\n## Subtasks\n- [ ] looks like one\n\n## Comments\n### and this";
        for (s, c) in [
            (None, None),
            (Some(&[line(Some("1"), "real", false)][..]), None),
            (None, Some(&[block(Some("2"), "h", "b")][..])),
        ] {
            let text = join(d, s, c);
            let back = split(&text);
            assert_eq!(back.description, d, "{text}");
            assert_eq!(back.subtasks.as_deref(), Some(s.unwrap_or(&[])));
            assert_eq!(back.comments.as_deref(), Some(c.unwrap_or(&[])));
        }
        // Plain descriptions keep what was asked.
        let text = join("Intro", None, Some(&[]));
        assert_eq!(text, "Intro\n\n## Comments\n");
        assert_eq!(split(&text).subtasks, None);
        assert_eq!(split(&text).comments, Some(vec![]));
        assert_eq!(join("", Some(&[]), None), "## Subtasks\n");
        assert_eq!(join("x", None, None), "x\n");
        assert_eq!(join("", None, None), "");
    }

    /// A description that leaves a code block open gets it closed before the sections.
    #[test]
    fn open_fence_in_the_description() {
        let text = join("```\ncode", Some(&[line(None, "a", false)]), None);
        assert_eq!(text, "```\ncode\n```\n\n## Subtasks\n- [ ] a\n");
        assert_eq!(split(&text).description, "```\ncode\n```");
        assert_eq!(join("```\ncode", None, None), "```\ncode\n");
        assert_eq!(closed_code("````\n```\n"), "````\n```\n````");
        assert_eq!(closed_code("```\n```"), "```\n```");
    }

    /// The heading of a comment: author, UTC time to the minute.
    #[test]
    fn heading_of_a_comment() {
        let at: jiff::Timestamp = "2026-11-30T15:02:59+01:00".parse().expect("time");
        assert_eq!(
            comment_heading("Alice Example", at),
            "Alice Example · 2026-11-30 14:02"
        );
        assert_eq!(comment_heading(" ", at), "2026-11-30 14:02");
        assert_eq!(comment_heading("A\nB", at), "A B · 2026-11-30 14:02");
    }
}
