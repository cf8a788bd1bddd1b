//! Writing task files: YAML scalars (quoted only when they must be), whole new files, and
//! minimal edits of existing files.
//!
//! An edit works on the front-matter *text*: the lines of a changed key are replaced by a
//! freshly rendered `key: value` line, a missing key is appended before the closing `---`,
//! a key whose value became empty is removed (empty `tags` included), and the body is
//! rewritten only when the notes change (and then only its description: the bridge's
//! `## Subtasks` and `## Comments` sections after it stay as written). Every other byte (unknown keys, comments, key
//! order, quoting, line endings, BOM) stays as it was. Because the line scan is not a YAML
//! parser, every edit is checked by parsing the result before it is accepted.
//!
//! Custom fields are one `fields:` block, one indented `Name: value` line per field in
//! name order; when any of them changes the block is rendered afresh.

use asana_bridge_connector::custom::number_text;
use asana_bridge_connector::{CustomValue, Due, Field, TaskFields, TaskPatch};

use crate::frontmatter::{self, Eol, FormatError, ParsedFile, key_blocks};

/// Renders a string as a YAML scalar: plain when that is unambiguous in every YAML reader
/// (and inside a flow list), double-quoted otherwise.
#[must_use]
pub fn scalar(s: &str) -> String {
    if is_plain_safe(s) {
        s.to_owned()
    } else {
        double_quoted(s)
    }
}

/// Whether `s` can be written as a plain scalar and read back as the same string by any
/// YAML 1.1 or 1.2 reader, in block or flow context. Deliberately conservative.
fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if !first.is_alphabetic() || s.ends_with(' ') {
        return false;
    }
    if !s.chars().all(|c| {
        c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.' | '/' | '@' | '+' | '(' | ')')
    }) {
        return false;
    }
    // Words YAML 1.1 or 1.2 read as booleans or null.
    const SPECIAL: [&str; 10] = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "nan",
    ];
    !SPECIAL.iter().any(|w| s.eq_ignore_ascii_case(w))
}

/// A double-quoted YAML scalar with every non-printable or special character escaped.
fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if (c as u32) < 0x20 || ('\u{7f}'..='\u{9f}').contains(&c) => {
                out.push_str(&format!("\\x{:02X}", c as u32));
            }
            '\u{feff}' | '\u{fffe}' | '\u{ffff}' => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The `key: value` line (without line ending) for one front-matter field, or `None` when
/// the field is empty and its key is omitted. `Field::Notes` lives in the body: `None`.
#[must_use]
pub fn field_line(field: Field, fields: &TaskFields) -> Option<String> {
    let mut key = field.name();
    let value = match field {
        Field::Title => scalar(&fields.title),
        Field::Notes => return None,
        Field::Completed => fields.completed.to_string(),
        Field::Due => {
            let due = fields.due.as_ref()?;
            let plain = match due {
                Due::On(d) => frontmatter::is_date(d),
                Due::At(t) => {
                    key = "due_at";
                    Due::moment(t).is_ok_and(|again| again == *due)
                }
            };
            if plain { due.to_string() } else { scalar(due) }
        }
        Field::StartOn => {
            let d = fields.start_on.as_deref()?;
            if frontmatter::is_date(d) {
                d.to_owned()
            } else {
                scalar(d)
            }
        }
        Field::Assignee => scalar(fields.assignee.as_deref()?),
        Field::Tags => {
            if fields.tags.is_empty() {
                return None;
            }
            let tags: Vec<String> = fields.tags.iter().map(|t| scalar(t)).collect();
            format!("[{}]", tags.join(", "))
        }
        Field::Section => scalar(fields.section.as_deref()?),
    };
    Some(format!("{key}: {value}"))
}

/// One custom field's value as YAML: numbers and dates plain (so they read back as
/// written), other text as a [`scalar`], a set as a flow list.
fn custom_scalar(s: &str) -> String {
    let number = s
        .parse::<f64>()
        .is_ok_and(|n| n.is_finite() && number_text(n) == s);
    if number || frontmatter::is_date(s) {
        s.to_owned()
    } else {
        scalar(s)
    }
}

/// The `fields:` block (lines joined with `eol`, each ended by it) for the custom fields
/// of `fields`, or `None` when there are none and the key is omitted.
#[must_use]
pub fn fields_block(fields: &TaskFields, eol: Eol) -> Option<String> {
    if fields.custom.is_empty() {
        return None;
    }
    let eol = eol.as_str();
    let mut out = format!("fields:{eol}");
    for (name, value) in &fields.custom {
        let value = match value {
            CustomValue::One(s) => custom_scalar(s),
            CustomValue::Many(items) => {
                let items: Vec<String> = items.iter().map(|s| custom_scalar(s)).collect();
                format!("[{}]", items.join(", "))
            }
        };
        out.push_str(&format!("  {}: {value}{eol}", scalar(name)));
    }
    Some(out)
}

fn partner_line(gid: &str) -> String {
    format!("asana_gid: {}", double_quoted(gid))
}

/// The front-matter fields in the order new files list them (after `asana_gid`).
const FRONT_FIELDS: [Field; 7] = [
    Field::Title,
    Field::Completed,
    Field::Due,
    Field::StartOn,
    Field::Assignee,
    Field::Tags,
    Field::Section,
];

/// The file body holding `notes`: a non-empty note always gets one final line ending, so
/// that reading strips exactly that one and the round trip is exact. (Notes whose end
/// would read as the bridge's sections get empty ones after them: see
/// [`asana_bridge_connector::sections::join`].)
#[must_use]
pub fn body_for_notes(notes: &str, eol: Eol) -> String {
    crate::body::for_notes(notes, eol)
}

fn front_block(fields: &TaskFields, partner: Option<&str>, eol: Eol) -> String {
    let eol = eol.as_str();
    let mut out = format!("---{eol}");
    if let Some(gid) = partner {
        out.push_str(&partner_line(gid));
        out.push_str(eol);
    }
    for field in FRONT_FIELDS {
        if let Some(line) = field_line(field, fields) {
            out.push_str(&line);
            out.push_str(eol);
        }
    }
    if let Some(block) = fields_block(fields, Eol::Lf) {
        out.push_str(&block.replace('\n', eol));
    }
    out.push_str("---");
    out.push_str(eol);
    out
}

/// The text of a new task file: front matter (`asana_gid` first when given, then title,
/// completed, due_on, assignee, tags, section; empty optional keys omitted) and body.
#[must_use]
pub fn render_new(fields: &TaskFields, partner: Option<&str>) -> String {
    let fields = fields.clone().canonical();
    let mut out = front_block(&fields, partner, Eol::Lf);
    out.push_str(&body_for_notes(&fields.notes, Eol::Lf));
    out
}

/// Checks that `text`, what [`render_new`] wrote for `fields` (canonical) and `partner`,
/// reads back as exactly them, as every write is checked before it is made.
///
/// A front matter whose every value is written plain by rules every YAML reader agrees
/// on ([`front_is_plain`]) reads back as written without a YAML parse: then only its
/// layout and the body (the notes) are read back. Anything else is parsed in full. The
/// test `plain_front_matter_reads_back` holds the short way to the full parse.
///
/// # Errors
/// [`FormatError::UnsafeEdit`] saying why the file would not read back as given.
pub fn check_new(
    text: &str,
    fields: &TaskFields,
    partner: Option<&str>,
) -> Result<(), FormatError> {
    let unsafe_edit = |reason: String| FormatError::UnsafeEdit { reason };
    if front_is_plain(fields, partner) {
        let layout = frontmatter::split(text)
            .map_err(|e| unsafe_edit(format!("the new file would not read back: {e}")))?;
        let front_lines = text[..layout.body_start].lines().count();
        let expected_lines = 2
            + usize::from(partner.is_some())
            + FRONT_FIELDS
                .iter()
                .filter(|f| field_line(**f, fields).is_some())
                .count();
        let notes = frontmatter::notes_from_body(&text[layout.body_start..], layout.eol);
        if layout.front.is_none() || front_lines != expected_lines || notes != fields.notes {
            return Err(unsafe_edit(
                "the new file would read back differently".to_owned(),
            ));
        }
        return Ok(());
    }
    let back = frontmatter::parse(text, "")
        .map_err(|e| unsafe_edit(format!("the new file would not read back: {e}")))?;
    if back.fields != *fields || back.partner.as_deref() != partner {
        return Err(unsafe_edit(
            "the new file would read back differently".to_owned(),
        ));
    }
    Ok(())
}

/// Whether the front matter [`render_new`] writes for `fields` (canonical) and `partner`
/// holds only values written plain by rules every YAML reader agrees on: the gid as
/// digits, the title, assignee, section and tags as plain-safe scalars ([`scalar`]'s
/// conservative test), dates as `YYYY-MM-DD`, and no custom fields.
fn front_is_plain(fields: &TaskFields, partner: Option<&str>) -> bool {
    let gid = partner.is_none_or(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()));
    let due = match &fields.due {
        None => true,
        Some(Due::On(d)) => frontmatter::is_date(d),
        Some(Due::At(_)) => false,
    };
    gid && due
        && is_plain_safe(&fields.title)
        && fields.start_on.as_deref().is_none_or(frontmatter::is_date)
        && fields.assignee.as_deref().is_none_or(is_plain_safe)
        && fields.section.as_deref().is_none_or(is_plain_safe)
        && fields.tags.iter().all(|t| is_plain_safe(t))
        && fields.custom.is_empty()
}

/// What an edit changes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Change<'a> {
    /// Fields to set; fields already holding the new value are left as written.
    pub patch: Option<&'a TaskPatch>,
    /// The `asana_gid` to record (written as the first front-matter line when missing).
    pub partner: Option<&'a str>,
}

/// Applies `change` to the file `text` (already parsed as `parsed`, with file stem `stem`)
/// and returns the new text, checked by parsing it back.
///
/// # Errors
/// [`FormatError::UnsafeEdit`] when the result would not read back as exactly the expected
/// fields, partner and unknown keys.
pub fn edit(
    text: &str,
    parsed: &ParsedFile,
    stem: &str,
    change: Change<'_>,
) -> Result<String, FormatError> {
    let target = match change.patch {
        Some(p) => p.applied_to(&parsed.fields),
        None => parsed.fields.clone(),
    };
    let patched = change.patch.map(TaskPatch::fields).unwrap_or_default();
    let changed = |field: Field| patched.contains(&field) && !target.same(&parsed.fields, field);
    let new_partner = change.partner.or(parsed.partner.as_deref());
    let layout = &parsed.layout;
    let eol = layout.eol;

    let old_body = &text[layout.body_start..];
    // The sections after the description stay as they are.
    let body = if changed(Field::Notes) {
        crate::body::with_notes(old_body, &target.notes, eol)
    } else {
        old_body.to_owned()
    };

    let out = match &layout.front {
        None => {
            // No front matter yet: give the file one, the original text becoming the body.
            let mut out = text[..layout.bom_len].to_owned();
            out.push_str(&front_block(&target, new_partner, eol));
            out.push_str(&body);
            out
        }
        Some(front) => {
            let yaml = &text[front.yaml.clone()];
            let blocks = key_blocks(yaml);
            let find = |key: &str| blocks.iter().find(|b| b.key == key);
            // A due day is written `due_on`, a due time `due_at`: either line is the field's.
            let find_field = |field: Field| match field {
                Field::Due => find("due_on").or_else(|| find("due_at")),
                f => find(f.name()),
            };
            let mut replacements: Vec<(std::ops::Range<usize>, String)> = Vec::new();
            let mut appended = String::new();
            for field in FRONT_FIELDS.into_iter().filter(|&f| changed(f)) {
                let line = field_line(field, &target).map(|l| l + eol.as_str());
                match (find_field(field), line) {
                    (Some(block), line) => {
                        replacements.push((block.range.clone(), line.unwrap_or_default()));
                    }
                    (None, Some(line)) => appended.push_str(&line),
                    (None, None) => {}
                }
            }
            if target.custom != parsed.fields.custom {
                let block = fields_block(&target, eol).unwrap_or_default();
                match find("fields") {
                    Some(b) => replacements.push((b.range.clone(), block)),
                    None => appended.push_str(&block),
                }
            }
            if let Some(gid) = change.partner
                && parsed.partner.as_deref() != Some(gid)
            {
                let line = partner_line(gid) + eol.as_str();
                match find("asana_gid") {
                    Some(block) => replacements.push((block.range.clone(), line)),
                    None => replacements.push((0..0, line)),
                }
            }
            // Apply from the end so earlier offsets stay valid; an insertion at 0 goes
            // before a replacement that also starts at 0.
            replacements.sort_by_key(|r| std::cmp::Reverse((r.0.start, r.0.end)));
            let mut new_yaml = yaml.to_owned();
            for (range, line) in replacements {
                new_yaml.replace_range(range, &line);
            }
            new_yaml.push_str(&appended);

            let mut out = String::with_capacity(text.len() + 64);
            out.push_str(&text[..front.yaml.start]);
            out.push_str(&new_yaml);
            out.push_str(&text[front.close.clone()]);
            let close_eol = &text[front.close.end..layout.body_start];
            if close_eol.is_empty() && !body.is_empty() {
                out.push_str(eol.as_str());
            } else {
                out.push_str(close_eol);
            }
            out.push_str(&body);
            out
        }
    };

    check_edit(&out, stem, parsed, &target, new_partner)?;
    let (before, after) = (
        crate::body::read(old_body, eol),
        crate::body::read(&out[out.len() - body.len()..], eol),
    );
    // (Notes whose end reads as a section get empty ones after them: the same thread.)
    if before.subtasks.unwrap_or_default() != after.subtasks.unwrap_or_default()
        || before.comments.unwrap_or_default() != after.comments.unwrap_or_default()
    {
        return Err(FormatError::UnsafeEdit {
            reason: "its subtasks and comments would read back differently".into(),
        });
    }
    Ok(out)
}

/// Parses an edited text and checks it reads back as intended.
fn check_edit(
    text: &str,
    stem: &str,
    before: &ParsedFile,
    fields: &TaskFields,
    partner: Option<&str>,
) -> Result<(), FormatError> {
    let unsafe_edit = |reason: String| FormatError::UnsafeEdit { reason };
    let after = frontmatter::parse(text, stem)
        .map_err(|e| unsafe_edit(format!("the result would not read back: {e}")))?;
    if &after.fields != fields {
        let mut wrong: Vec<&str> = Field::ALL
            .iter()
            .filter(|&&f| !after.fields.same(fields, f))
            .map(|f| f.name())
            .collect();
        if after.fields.custom != fields.custom {
            wrong.push("fields");
        }
        return Err(unsafe_edit(format!(
            "{} would read back differently",
            wrong.join(", ")
        )));
    }
    if after.partner.as_deref() != partner {
        return Err(unsafe_edit("asana_gid would read back differently".into()));
    }
    if after.unknown_keys != before.unknown_keys {
        return Err(unsafe_edit("other keys would change".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontmatter::parse;

    fn fields(title: &str) -> TaskFields {
        TaskFields {
            title: title.into(),
            ..TaskFields::default()
        }
    }

    fn edited(text: &str, patch: &TaskPatch) -> String {
        let parsed = parse(text, "stem").expect("test input parses");
        edit(
            text,
            &parsed,
            "stem",
            Change {
                patch: Some(patch),
                partner: None,
            },
        )
        .expect("edit succeeds")
    }

    /// A due day becoming a due time (and back) replaces the one line, `due_on` <->
    /// `due_at`, where it stood; a start date is added after it.
    #[test]
    fn a_due_day_becomes_a_due_time_in_place() {
        let text = "---\ntitle: T\ndue_on: 2026-12-01\n# note\ntags: [a]\n---\nBody\n";
        let timed = edited(
            text,
            &TaskPatch {
                due: Some(Some(Due::At("2026-12-01T15:00:00Z".into()))),
                ..TaskPatch::default()
            },
        );
        assert_eq!(
            timed,
            "---\ntitle: T\ndue_at: 2026-12-01T15:00:00Z\n# note\ntags: [a]\n---\nBody\n"
        );
        let back = edited(
            &timed,
            &TaskPatch {
                due: Some(Some(Due::On("2026-12-02".into()))),
                start_on: Some(Some("2026-11-30".into())),
                ..TaskPatch::default()
            },
        );
        assert_eq!(
            back,
            "---\ntitle: T\ndue_on: 2026-12-02\n# note\ntags: [a]\nstart_on: 2026-11-30\n---\nBody\n"
        );
    }

    /// Plain where unambiguous, quoted where a YAML reader would read something else.
    #[test]
    fn scalar_quoting() {
        for plain in [
            "Fix the login page",
            "alice@example.com",
            "In progress",
            "v1.2",
            "Café",
        ] {
            assert_eq!(scalar(plain), plain);
        }
        for (s, quoted) in [
            ("yes", "\"yes\""),
            ("No", "\"No\""),
            ("null", "\"null\""),
            ("1.0", "\"1.0\""),
            ("- x", "\"- x\""),
            ("a: b", "\"a: b\""),
            ("#tag", "\"#tag\""),
            (" lead", "\" lead\""),
            ("trail ", "\"trail \""),
            ("", "\"\""),
            ("two\nlines", "\"two\\nlines\""),
            ("say \"hi\"", "\"say \\\"hi\\\"\""),
            ("🎉", "\"🎉\""),
            ("a,b", "\"a,b\""),
            ("bell\u{7}", "\"bell\\x07\""),
        ] {
            assert_eq!(scalar(s), quoted, "{s:?}");
        }
    }

    /// A new file follows the contract's layout, keys in order, empty ones omitted.
    #[test]
    fn new_file_layout() {
        let f = TaskFields {
            title: "Fix the login page".into(),
            notes: "Body".into(),
            completed: false,
            due: Some("2026-12-01".into()),
            assignee: Some("Alice@Example.com".into()),
            tags: vec!["p1".into(), "bug".into()],
            section: Some("In progress".into()),
            start_on: None,
            ..TaskFields::default()
        };
        assert_eq!(
            render_new(&f, Some("1200000000000123")),
            "---\nasana_gid: \"1200000000000123\"\ntitle: Fix the login page\ncompleted: false\ndue_on: 2026-12-01\nassignee: alice@example.com\ntags: [bug, p1]\nsection: In progress\n---\nBody\n"
        );
        assert_eq!(
            render_new(&fields("t"), None),
            "---\ntitle: t\ncompleted: false\n---\n"
        );
    }

    /// Editing one key keeps comments, unknown keys, order, quoting and the body.
    #[test]
    fn edit_keeps_everything_else() {
        let text = "---\n# my comment\ntitle: 'Old'   # inline\ncustom: {a: 1}\ntags:\n  - x\n  - y\ncompleted: yes\n---\nbody  \n\n";
        let patch = TaskPatch {
            title: Some("New: title".into()),
            ..TaskPatch::default()
        };
        assert_eq!(
            edited(text, &patch),
            "---\n# my comment\ntitle: \"New: title\"\ncustom: {a: 1}\ntags:\n  - x\n  - y\ncompleted: yes\n---\nbody  \n\n"
        );
        let patch = TaskPatch {
            tags: Some(vec!["z".into()]),
            due: Some(Some("2027-01-02".into())),
            ..TaskPatch::default()
        };
        assert_eq!(
            edited(text, &patch),
            "---\n# my comment\ntitle: 'Old'   # inline\ncustom: {a: 1}\ntags: [z]\ncompleted: yes\ndue_on: 2027-01-02\n---\nbody  \n\n"
        );
    }

    /// A field set to the value it already has is left exactly as written.
    #[test]
    fn unchanged_values_are_not_rewritten() {
        let text = "---\ntitle: t\ntags: [p1, bug]\ncompleted: yes\n---\nnotes\n";
        let patch = TaskPatch {
            tags: Some(vec!["bug".into(), "p1".into()]),
            completed: Some(true),
            notes: Some("notes".into()),
            ..TaskPatch::default()
        };
        assert_eq!(edited(text, &patch), text);
    }

    /// Emptied optional keys are removed; tags too.
    #[test]
    fn emptied_keys_are_removed() {
        let text = "---\ntitle: t\ndue_on: 2026-01-01\nassignee: a@b.c\ntags:\n- a\nsection: S\nx: 1\n---\n";
        let patch = TaskPatch {
            due: Some(None),
            assignee: Some(Some("  ".into())),
            tags: Some(vec![]),
            section: Some(None),
            ..TaskPatch::default()
        };
        assert_eq!(edited(text, &patch), "---\ntitle: t\nx: 1\n---\n");
    }

    /// CRLF files stay CRLF, the BOM stays, the notes are written with CRLF.
    #[test]
    fn crlf_file_edit() {
        let text = "\u{feff}---\r\ntitle: t\r\n---\r\nold\r\n";
        let patch = TaskPatch {
            notes: Some("new\nlines".into()),
            section: Some(Some("S".into())),
            ..TaskPatch::default()
        };
        assert_eq!(
            edited(text, &patch),
            "\u{feff}---\r\ntitle: t\r\nsection: S\r\n---\r\nnew\r\nlines\r\n"
        );
    }

    /// Notes written after a closing `---` that ends the file get a line break first.
    #[test]
    fn notes_after_unterminated_close() {
        let patch = TaskPatch {
            notes: Some("n".into()),
            ..TaskPatch::default()
        };
        assert_eq!(
            edited("---\ntitle: t\n---", &patch),
            "---\ntitle: t\n---\nn\n"
        );
    }

    /// The partner goes on the first front-matter line, or replaces the old one.
    #[test]
    fn partner_is_first() {
        let text = "---\n# c\ntitle: t\n---\nb\n";
        let parsed = parse(text, "stem").expect("parses");
        let change = Change {
            patch: None,
            partner: Some("42"),
        };
        assert_eq!(
            edit(text, &parsed, "stem", change).expect("edit"),
            "---\nasana_gid: \"42\"\n# c\ntitle: t\n---\nb\n"
        );
        let text = "---\ntitle: t\nasana_gid: 7 # old\n---\n";
        let parsed = parse(text, "stem").expect("parses");
        assert_eq!(
            edit(text, &parsed, "stem", change).expect("edit"),
            "---\ntitle: t\nasana_gid: \"42\"\n---\n"
        );
    }

    /// A file without front matter gets one; its text becomes the body untouched.
    #[test]
    fn file_without_front_matter() {
        let text = "\u{feff}Some notes\nline 2";
        let parsed = parse(text, "my-task").expect("parses");
        let change = Change {
            patch: None,
            partner: Some("42"),
        };
        assert_eq!(
            edit(text, &parsed, "my-task", change).expect("edit"),
            "\u{feff}---\nasana_gid: \"42\"\ntitle: my-task\ncompleted: false\n---\nSome notes\nline 2"
        );
    }

    /// An edit the scanner would get wrong is refused rather than written.
    #[test]
    fn unsafe_edit_is_refused() {
        // A multi-line quoted title whose continuation looks like a key at column 0.
        let text = "---\ntitle: \"a\nb: c\"\n---\n";
        let parsed = parse(text, "stem").expect("parses");
        let patch = TaskPatch {
            title: Some("x".into()),
            ..TaskPatch::default()
        };
        let err = edit(
            text,
            &parsed,
            "stem",
            Change {
                patch: Some(&patch),
                partner: None,
            },
        )
        .expect_err("must refuse");
        assert!(matches!(err, FormatError::UnsafeEdit { .. }), "{err}");
    }
}

/// The short way of [`check_new`] against the full parse.
#[cfg(test)]
mod plain_front {
    use super::*;
    use crate::frontmatter::parse;
    use proptest::prelude::*;

    /// Strings near the edge of plain-safe: letters, digits, the characters
    /// `is_plain_safe` allows, and some it does not (`:`, `#`, `,`, quotes, a leading or
    /// trailing space, YAML's special words).
    fn edgy() -> impl Strategy<Value = String> {
        prop_oneof![
            12 => "[a-zA-Z][a-zA-Z0-9 ._@()/+-]{0,12}",
            1 => "[a-zA-Zé0-9 :#,'\"\\[\\]{}&*!|>%-]{0,10}",
            1 => prop::sample::select(vec![
                "yes",
                "No",
                "null",
                "true",
                "on",
                "nan",
                "y",
                "Off",
                "~",
                "-",
                "a: b",
                "a #b",
                "x ",
                " x",
                "2026-12-01",
                "12",
                "0x1F",
                "1e3",
                "déjà vu",
                "a/b@c.d",
            ])
            .prop_map(str::to_owned),
        ]
    }

    fn date() -> impl Strategy<Value = String> {
        prop_oneof![
            8 => "20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])",
            1 => "2026-1-1|2026-13-01|26-01-01|2026-01-01T10:00:00Z",
        ]
    }

    fn task_fields() -> impl Strategy<Value = (TaskFields, Option<String>)> {
        (
            (
                edgy(),
                any::<bool>(),
                prop::option::of(date()),
                prop::option::of(date()),
            ),
            (
                prop::option::of(edgy()),
                prop::collection::vec(edgy(), 0..3),
                prop::option::of(edgy()),
                prop::option::of(prop_oneof![8 => "[0-9]{1,16}", 1 => "[0-9a ]{1,4}"]),
            ),
            "(\\PC|\n){0,40}",
        )
            .prop_map(
                |((title, completed, due, start_on), (assignee, tags, section, gid), notes)| {
                    let fields = TaskFields {
                        title,
                        notes,
                        completed,
                        due: due.map(Due::On),
                        start_on,
                        assignee,
                        tags,
                        section,
                        ..TaskFields::default()
                    };
                    (fields.canonical(), gid)
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whenever the front matter is plain, the full parse of the new file reads back
        /// exactly the fields and the gid: the YAML parse the short way skips would have
        /// found nothing.
        #[test]
        fn plain_front_matter_reads_back((fields, gid) in task_fields()) {
            let partner = gid.as_deref();
            let text = render_new(&fields, partner);
            if front_is_plain(&fields, partner) {
                let back = parse(&text, "").expect("a plain front matter parses");
                prop_assert_eq!(&back.fields, &fields);
                prop_assert_eq!(back.partner.as_deref(), partner);
                prop_assert!(check_new(&text, &fields, partner).is_ok());
            }
        }

        /// The short way refuses a file that does not read back: its body or its front
        /// matter changed after rendering.
        #[test]
        fn the_short_way_refuses_a_changed_file((fields, gid) in task_fields(), cut in 1usize..8) {
            let partner = gid.as_deref();
            let text = render_new(&fields, partner);
            if !front_is_plain(&fields, partner) {
                return Ok(());
            }
            let other_notes = format!("{}x", fields.notes);
            let changed_body = render_new(&TaskFields { notes: other_notes, ..fields.clone() }, partner);
            prop_assert!(check_new(&changed_body, &fields, partner).is_err());
            // A front matter missing a line (or with one too many) is refused.
            let lines: Vec<&str> = text.split_inclusive('\n').collect();
            let front_end = lines.iter().skip(1).position(|l| *l == "---\n").expect("closed") + 1;
            let drop = 1 + cut % (front_end - 1).max(1);
            if drop < front_end {
                let shorter: String = lines.iter().enumerate().filter(|(i, _)| *i != drop).map(|(_, l)| *l).collect();
                prop_assert!(check_new(&shorter, &fields, partner).is_err());
            }
        }
    }

    /// The benchmark's tasks, and most tasks, take the short way; a title with a colon
    /// does not.
    #[test]
    fn ordinary_tasks_are_plain() {
        let fields = TaskFields {
            title: "Generated task 000123".into(),
            notes: "Notes for generated task 123.\nSecond line.".into(),
            completed: true,
            due: Some(Due::On("2027-04-04".into())),
            assignee: Some("alice@example.com".into()),
            tags: vec!["bug".into(), "p1".into()],
            section: Some("In progress".into()),
            ..TaskFields::default()
        }
        .canonical();
        assert!(front_is_plain(&fields, Some("1200000000000123")));
        let text = render_new(&fields, Some("1200000000000123"));
        check_new(&text, &fields, Some("1200000000000123")).expect("reads back");
        let colon = TaskFields {
            title: "Fix: login".into(),
            ..fields.clone()
        };
        assert!(!front_is_plain(&colon, None));
        let custom = TaskFields {
            custom: [(
                "Points".to_owned(),
                asana_bridge_connector::CustomValue::One("3".into()),
            )]
            .into_iter()
            .collect(),
            ..fields
        };
        assert!(!front_is_plain(&custom, None));
    }
}
