//! Property tests of the file format: whatever the fields (arbitrary Unicode titles, notes,
//! tags), a rendered file parses back to the same fields, and an edit of a file full of
//! keys the bridge does not know reads back as the patched fields while every unknown key
//! stays byte for byte.

use asana_bridge_connector::{CustomFields, CustomValue, Due, TaskFields, TaskPatch};
use asana_bridge_markdown::frontmatter::{self, parse};
use asana_bridge_markdown::render::{self, Change};
use proptest::prelude::*;

/// Any string, with the characters YAML and this format find tricky made likely.
fn text() -> impl Strategy<Value = String> {
    let tricky = prop::sample::select(vec![
        "yes",
        "no",
        "null",
        "~",
        "1.0",
        "0x1F",
        "- x",
        "a: b",
        "#tag",
        " # c",
        "---",
        "...",
        "'",
        "\"",
        "\\",
        "\n",
        "\r\n",
        "\r",
        "\t",
        " ",
        "\u{feff}",
        "\u{85}",
        "\u{2028}",
        "\u{0}",
        "\u{7f}",
        "🎉",
        "é",
        "[",
        "]",
        "{",
        "}",
        ",",
        "&a",
        "*a",
        "!t",
        "|",
        ">",
        "%",
        "@",
        "`",
        "?",
        ":",
        "2026-12-01",
    ]);
    prop::collection::vec(
        prop_oneof![
            3 => any::<String>(),
            2 => tricky.prop_map(str::to_owned),
            2 => "[a-zA-Z0-9 ._-]{0,12}",
        ],
        0..4,
    )
    .prop_map(|parts| parts.concat())
}

fn date() -> impl Strategy<Value = String> {
    (1i16..=9999, 1i8..=12, 1i8..=31).prop_filter_map("a real date", |(y, m, d)| {
        jiff::civil::Date::new(y, m, d)
            .ok()
            .map(|_| format!("{y:04}-{m:02}-{d:02}"))
    })
}

/// A due day, or a due moment (any second of the day, sometimes with milliseconds).
fn due() -> impl Strategy<Value = Due> {
    prop_oneof![
        date().prop_map(Due::On),
        (date(), 0u32..86_400, prop::option::of(0u32..1000)).prop_map(|(day, s, ms)| {
            let frac = ms.map(|ms| format!(".{ms:03}")).unwrap_or_default();
            Due::from(format!(
                "{day}T{:02}:{:02}:{:02}{frac}Z",
                s / 3600,
                s / 60 % 60,
                s % 60
            ))
        }),
    ]
}

/// A custom field's value: text of any kind, a number, a date, or a list of them.
fn custom_value() -> impl Strategy<Value = CustomValue> {
    let one = prop_oneof![
        text(),
        date(),
        (-1000i32..1000, 0u8..4).prop_map(|(n, d)| {
            asana_bridge_connector::custom::number_text(f64::from(n) / f64::from(1u8 << d))
        }),
    ];
    prop_oneof![
        one.clone().prop_map(CustomValue::One),
        prop::collection::vec(one, 0..3).prop_map(CustomValue::Many),
    ]
}

/// Custom fields by name.
fn custom() -> impl Strategy<Value = CustomFields> {
    prop::collection::btree_map(text(), custom_value(), 0..3)
}

fn fields() -> impl Strategy<Value = TaskFields> {
    (
        (text(), prop::option::of(date())),
        text(),
        any::<bool>(),
        prop::option::of(due()),
        prop::option::of(text()),
        prop::collection::vec(text(), 0..4),
        (prop::option::of(text()), custom()),
    )
        .prop_map(
            |((title, start), notes, completed, due, assignee, tags, (section, custom))| {
                // Asana's rule: a start date only with a due date, and not after it.
                let start_on =
                    start.filter(|s| due.as_ref().is_some_and(|d| s.as_str() <= d.day_of()));
                TaskFields {
                    title,
                    notes,
                    completed,
                    due,
                    assignee,
                    tags,
                    section,
                    start_on,
                    custom,
                }
                .canonical()
            },
        )
}

fn patch() -> impl Strategy<Value = TaskPatch> {
    (
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(any::<bool>()),
        prop::option::of(prop::option::of(due())),
        prop::option::of(prop::option::of(text())),
        prop::option::of(prop::collection::vec(text(), 0..4)),
        (
            prop::option::of(prop::option::of(text())),
            prop::collection::btree_map(text(), prop::option::of(custom_value()), 0..3),
        ),
    )
        .prop_map(
            |(title, notes, completed, due, assignee, tags, (section, custom))| TaskPatch {
                title,
                notes,
                completed,
                due,
                assignee,
                tags,
                section,
                start_on: None,
                custom,
            },
        )
}

/// Unknown keys of every YAML shape, with comments, written as a user would.
const UNKNOWN: &[&str] = &[
    "# a comment at the top\n",
    "priority: high   # inline comment\n",
    "url: 'http://example.com/a: b'\n",
    "nested:\n  a: 1\n  b: [x, y]\n",
    "list:\n- one\n- two\n",
    "block: |\n  line one\n\n  line three\n",
    "folded: >-\n  some\n  text\n",
    "empty:\n",
    "\"quoted key\": \"v\"\n",
    "flow: {a: 1, b: [2, 3]}\n",
];

/// Assembles a file from the unknown blocks (a selection, in a given order), the rendered
/// known keys, a line-ending style and a body.
fn existing_file(
    fields: &TaskFields,
    partner: Option<&str>,
    unknown: &[usize],
    crlf: bool,
) -> String {
    let new = render::render_new(fields, partner);
    let known_end = new[4..].find("\n---\n").map_or(4, |i| i + 5);
    let known = &new[4..known_end];
    let body = &new[known_end + 4..];
    let mut front = String::new();
    // Interleave: half the unknown blocks before the known keys, half after.
    let (before, after) = unknown.split_at(unknown.len() / 2);
    for &i in before {
        front.push_str(UNKNOWN[i]);
    }
    front.push_str(known);
    for &i in after {
        front.push_str(UNKNOWN[i]);
    }
    let text = format!("---\n{front}---\n{body}");
    if crlf {
        text.replace('\n', "\r\n")
    } else {
        text
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A new file reads back as exactly the fields and partner it was rendered from.
    #[test]
    fn new_file_round_trip(f in fields(), gid in prop::option::of("[0-9]{1,20}")) {
        let text = render::render_new(&f, gid.as_deref());
        let parsed = parse(&text, "stem").map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&parsed.fields, &f, "{}", text);
        prop_assert_eq!(parsed.partner, gid);
        prop_assert!(parsed.unknown_keys.is_empty());
    }

    /// Notes survive the body round trip exactly, in LF and CRLF files.
    #[test]
    fn notes_round_trip(notes in text(), crlf in any::<bool>()) {
        let eol = if crlf { frontmatter::Eol::CrLf } else { frontmatter::Eol::Lf };
        let body = render::body_for_notes(&notes, eol);
        prop_assert_eq!(frontmatter::notes_from_body(&body, eol), notes);
    }

    /// Editing a file full of unknown keys reads back as the patched fields, keeps every
    /// unknown block byte for byte, and leaves an untouched body alone.
    #[test]
    fn edit_round_trip(
        before in fields(),
        p in patch(),
        gid in prop::option::of("[0-9]{1,20}"),
        new_gid in prop::option::of("[0-9]{1,20}"),
        unknown in prop::sample::subsequence((0..UNKNOWN.len()).collect::<Vec<_>>(), 0..=UNKNOWN.len())
            .prop_shuffle(),
        crlf in any::<bool>(),
    ) {
        let text = existing_file(&before, gid.as_deref(), &unknown, crlf);
        let parsed = parse(&text, "stem").map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&parsed.fields, &before);
        let partner = if gid.is_none() { new_gid.as_deref() } else { None };
        let edited = render::edit(&text, &parsed, "stem", Change { patch: Some(&p), partner })
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let after = parse(&edited, "stem").map_err(|e| TestCaseError::fail(format!("{e}\n{edited}")))?;
        prop_assert_eq!(&after.fields, &p.applied_to(&before));
        prop_assert_eq!(after.partner.as_deref(), gid.as_deref().or(partner));
        prop_assert_eq!(&after.unknown_keys, &parsed.unknown_keys);
        for &i in &unknown {
            let block = if crlf { UNKNOWN[i].replace('\n', "\r\n") } else { UNKNOWN[i].to_owned() };
            prop_assert!(edited.contains(&block), "{:?} lost in\n{}", block, edited);
        }
        if p.notes.is_none() {
            let body = &text[parsed.layout.body_start..];
            prop_assert!(edited.ends_with(body));
        }
        if crlf {
            prop_assert!(!edited.replace("\r\n", "").contains('\n'), "a bare LF in\n{:?}", edited);
        }
    }

    /// A file without front matter reads as its stem and text; giving it a gid keeps both.
    #[test]
    fn plain_file_gets_front_matter(body in text(), gid in "[0-9]{1,20}") {
        // A first line of `---` would open a front matter: not a plain file.
        prop_assume!(!frontmatter::split(&body).map(|l| l.front.is_some()).unwrap_or(true));
        let parsed = parse(&body, "my-note").map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let edited = render::edit(&body, &parsed, "my-note", Change { patch: None, partner: Some(&gid) })
            .map_err(|e| TestCaseError::fail(format!("{e}\n{body:?}")))?;
        let after = parse(&edited, "my-note").map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(after.fields, parsed.fields);
        prop_assert_eq!(after.partner.as_deref(), Some(gid.as_str()));
    }
}
