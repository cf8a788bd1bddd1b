//! Property tests of the sections format (`asana_bridge_connector::sections`) and of the
//! file bodies built on it (`asana_bridge_markdown::body`), with text made of the format's
//! own syntax: what the writer writes reads back as it documents, a read-and-rewrite is
//! stable after one round, and edits of a body keep the part they do not change.

use asana_bridge_connector::sections::{
    block_body, closed_code, join, line_text, sections_offset, split,
};
use asana_bridge_connector::{CommentBlock, SubtaskLine, TargetThread};
use asana_bridge_markdown::body;
use asana_bridge_markdown::frontmatter::Eol;
use proptest::prelude::*;

/// Text that is mostly the format's own syntax.
fn text() -> impl Strategy<Value = String> {
    let tricky = prop::sample::select(vec![
        "## Subtasks",
        "## Comments",
        "## Comments  ",
        "### ",
        "###",
        "####",
        "- [ ] ",
        "- [x] ",
        "* [X] ",
        "+ [ ]",
        "  - [ ] ",
        "<!-- asana:",
        "<!-- asana:12 -->",
        "<!--",
        "-->",
        "asana:",
        "```",
        "~~~",
        "````",
        "\\",
        "\n",
        "\n",
        "\n",
        "\r\n",
        "\r",
        " ",
        "\t",
        "x",
        "é",
        "#",
    ]);
    prop::collection::vec(
        prop_oneof![
            6 => tricky.prop_map(str::to_owned),
            1 => any::<String>(),
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

fn gid() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof!["[0-9]{1,16}", "[a-z]{1,3}"])
}

fn subtasks() -> impl Strategy<Value = Option<Vec<SubtaskLine>>> {
    prop::option::of(prop::collection::vec(
        (gid(), text(), any::<bool>()).prop_map(|(asana_gid, name, completed)| SubtaskLine {
            asana_gid,
            name,
            completed,
        }),
        0..4,
    ))
}

fn comments() -> impl Strategy<Value = Option<Vec<CommentBlock>>> {
    prop::option::of(prop::collection::vec(
        (gid(), text(), text()).prop_map(|(asana_gid, heading, body)| CommentBlock {
            asana_gid,
            id: None,
            heading,
            body,
        }),
        0..4,
    ))
}

/// What a subtasks section reads back as.
fn lines_back(lines: &[SubtaskLine]) -> Vec<SubtaskLine> {
    lines
        .iter()
        .map(|l| SubtaskLine {
            name: line_text(&l.name),
            ..l.clone()
        })
        .collect()
}

/// What a comments section reads back as.
fn blocks_back(blocks: &[CommentBlock]) -> Vec<CommentBlock> {
    blocks
        .iter()
        .map(|b| CommentBlock {
            asana_gid: b.asana_gid.clone(),
            id: None,
            heading: line_text(&b.heading),
            body: block_body(&b.body),
        })
        .collect()
}

fn thread(s: Option<Vec<SubtaskLine>>, c: Option<Vec<CommentBlock>>) -> TargetThread {
    TargetThread {
        subtasks: s.unwrap_or_default(),
        comments: c.unwrap_or_default(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// `split(join(d, s, c))` gives back `d`, `s` and `c` as the writer documents: names
    /// and headings as `line_text`, bodies as `block_body`, a description followed by a
    /// section with a code block it left open closed, and both sections written (empty
    /// where not asked for) when the description's own end reads as one.
    #[test]
    fn split_reads_what_join_writes(d in text(), s in subtasks(), c in comments()) {
        let written = join(&d, s.as_deref(), c.as_deref());
        let back = split(&written);
        let closed = closed_code(&d).into_owned();
        let force = sections_offset(&d).is_some() || sections_offset(&closed).is_some();
        let nothing_asked = s.is_none() && c.is_none();
        if s.is_none() && c.is_none() && !force {
            prop_assert_eq!(&back.description, &d, "{:?}", written);
            prop_assert_eq!(back.subtasks, None);
            prop_assert_eq!(back.comments, None);
        } else {
            prop_assert_eq!(&back.description, &closed, "{:?}", written);
            let (s, c) = if force {
                (Some(s.unwrap_or_default()), Some(c.unwrap_or_default()))
            } else {
                (s, c)
            };
            prop_assert_eq!(back.subtasks, s.as_deref().map(lines_back), "{:?}", written);
            prop_assert_eq!(back.comments, c.as_deref().map(blocks_back), "{:?}", written);
        }
        // Without a section the body is the description plus a line break.
        if nothing_asked && !force && !d.is_empty() {
            prop_assert_eq!(written, format!("{d}\n"));
        }
    }

    /// Whatever a body holds, reading it and writing it back is stable after one round.
    #[test]
    fn read_and_rewrite_is_stable(lines in prop::collection::vec(text(), 0..12), crlf in any::<bool>()) {
        let mut x = lines.join("\n");
        if crlf {
            x = x.replace('\n', "\r\n");
        }
        let s = split(&x);
        let once = join(&s.description, s.subtasks.as_deref(), s.comments.as_deref());
        let s2 = split(&once);
        let twice = join(&s2.description, s2.subtasks.as_deref(), s2.comments.as_deref());
        prop_assert_eq!(&twice, &once, "from {:?}", x);
        // A body with no code block left open reads back as it was read.
        if closed_code(&s.description) == s.description {
            prop_assert_eq!(s2.description, s.description, "{:?}", once);
        }
    }

    /// New sections in a file body keep its description (the notes) and read back as
    /// written; the only refusal is a description that leaves a code block open.
    #[test]
    fn a_body_takes_a_thread(lines in prop::collection::vec(text(), 0..10), crlf in any::<bool>(), s in subtasks(), c in comments()) {
        let eol = if crlf { Eol::CrLf } else { Eol::Lf };
        let raw = lines.join("\n");
        let old = if crlf { raw.replace('\n', "\r\n") } else { raw };
        let before = body::read(&old, eol);
        let t = thread(s, c);
        match body::with_thread(&old, eol, &t) {
            Ok(Some(new)) => {
                let after = body::read(&new, eol);
                prop_assert_eq!(&after.description, &before.description, "{:?}", new);
                prop_assert_eq!(after.subtasks.unwrap_or_default(), lines_back(&t.subtasks), "{:?}", new);
                prop_assert_eq!(after.comments.unwrap_or_default(), blocks_back(&t.comments), "{:?}", new);
                let desc_end = sections_offset(&old).unwrap_or(old.len());
                prop_assert!(new.starts_with(&old[..desc_end]), "description bytes kept: {:?}", new);
                if crlf {
                    prop_assert!(!new.replace("\r\n", "").contains('\n'), "a bare LF in {:?}", new);
                }
                // Written again: nothing to do.
                prop_assert_eq!(body::with_thread(&new, eol, &t), Ok(None));
            }
            Ok(None) => {
                prop_assert_eq!(before.subtasks.unwrap_or_default(), lines_back(&t.subtasks));
                prop_assert_eq!(before.comments.unwrap_or_default(), blocks_back(&t.comments));
            }
            Err(e) => {
                prop_assert!(closed_code(&before.description) != before.description, "{} for {:?}", e, old);
            }
        }
    }

    /// New notes in a file body keep its sections byte for byte and read back exactly,
    /// unless the new notes' own end reads as a section or leaves a code block open: then
    /// the sections are written afresh after them, and the caller's check refuses a result
    /// that would not read back.
    #[test]
    fn a_body_takes_new_notes(lines in prop::collection::vec(text(), 0..10), notes in text(), crlf in any::<bool>()) {
        let eol = if crlf { Eol::CrLf } else { Eol::Lf };
        let raw = lines.join("\n");
        let old = if crlf { raw.replace('\n', "\r\n") } else { raw };
        let notes = notes.replace("\r\n", "\n");
        let before = body::read(&old, eol);
        let new = body::with_notes(&old, &notes, eol);
        let after = body::read(&new, eol);
        if closed_code(&notes) == notes && sections_offset(&notes).is_none() {
            prop_assert_eq!(&after.description, &notes, "{:?}", new);
            prop_assert_eq!(&after.subtasks, &before.subtasks, "{:?}", new);
            prop_assert_eq!(&after.comments, &before.comments, "{:?}", new);
            if let Some(at) = sections_offset(&old) {
                prop_assert!(new.ends_with(&old[at..]), "sections bytes kept: {:?}", new);
            }
        }
    }
}
