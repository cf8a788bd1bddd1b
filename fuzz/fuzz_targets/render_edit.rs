//! Fuzz target: writing task files. The input is split into an existing file's text and the
//! values of a patch; `render::edit` must either refuse (`UnsafeEdit`) or produce a file
//! that reads back as exactly the patched fields with the gid, and `render_new` of those
//! fields must read back as them too. Nothing may panic.

#![no_main]

use asana_bridge_connector::{TaskFields, TaskPatch};
use asana_bridge_markdown::{frontmatter, render};
use libfuzzer_sys::fuzz_target;

/// Cuts `s` at the first `sep`, or returns it whole.
fn cut<'a>(s: &'a str, sep: char) -> (&'a str, &'a str) {
    s.split_once(sep).unwrap_or((s, ""))
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    // `<file text>\u{1}<title>\u{1}<notes>\u{1}<tags, comma separated>\u{1}<flags>`
    let (text, rest) = cut(input, '\u{1}');
    let (title, rest) = cut(rest, '\u{1}');
    let (notes, rest) = cut(rest, '\u{1}');
    let (tags, flags) = cut(rest, '\u{1}');
    let flags = flags.as_bytes();
    let flag = |i: usize| flags.get(i).is_some_and(|b| b & 1 == 1);

    let mut patch = TaskPatch::default();
    if flag(0) {
        patch.title = Some(title.to_owned());
    }
    if flag(1) {
        patch.notes = Some(notes.to_owned());
    }
    if flag(2) {
        patch.completed = Some(flag(3));
    }
    if flag(4) {
        patch.tags = Some(tags.split(',').map(str::to_owned).collect());
    }
    if flag(5) {
        patch.section = Some(flag(6).then(|| title.to_owned()));
    }
    if flag(7) {
        patch.assignee = Some(flag(8).then(|| "alice@example.com".to_owned()));
    }
    if flag(9) {
        // A day, or a time (written `due_at`, so the edit swaps the key).
        patch.due = Some(flag(10).then(|| {
            if flag(12) {
                "2026-12-01T15:00:00Z".into()
            } else {
                "2026-12-01".into()
            }
        }));
    }
    if flag(13) {
        patch.start_on = Some(flag(14).then(|| "2026-11-28".to_owned()));
    }
    let gid = flag(11).then_some("1200000000000123");

    if let Ok(parsed) = frontmatter::parse(text, "fuzzed") {
        let change = render::Change {
            patch: Some(&patch),
            partner: gid,
        };
        if let Ok(new_text) = render::edit(text, &parsed, "fuzzed", change) {
            let back = frontmatter::parse(&new_text, "fuzzed")
                .unwrap_or_else(|e| panic!("edited file does not parse: {e}\n{new_text:?}"));
            assert_eq!(back.fields, patch.applied_to(&parsed.fields), "{new_text:?}");
            if let Some(g) = gid {
                assert_eq!(back.partner.as_deref(), Some(g));
            }
        }
    }

    // A new file of the patched values (only values a task may hold: a non-empty title).
    let fields = patch.applied_to(&TaskFields {
        title: "Untitled".to_owned(),
        ..TaskFields::default()
    });
    if !fields.title.trim().is_empty() {
        let new_text = render::render_new(&fields, gid);
        match frontmatter::parse(&new_text, "fuzzed") {
            Ok(back) => assert_eq!(back.fields, fields, "{new_text:?}"),
            Err(e) => panic!("a new file does not parse: {e}\n{new_text:?}"),
        }
    }
});
