//! Reading one task file, without any I/O: checks that the bytes are Markdown text (UTF-8,
//! no NUL bytes), splits the `---` front-matter block from the body, parses the YAML with
//! serde-saphyr into [`TaskFields`] plus the names of the keys the bridge does not know,
//! and validates the values. Every problem is a [`FormatError`] that names the key and,
//! where it can, the line of the file.
//!
//! `fields:` holds the project's custom fields by name ([`CustomFields`]): each value a
//! scalar (text, number, enum option, date) or a list (multi-enum options, people's
//! e-mails). Which names and options are allowed is the Asana side's to say.
//!
//! The front matter is also scanned line by line ([`key_blocks`]) so that `render` can edit
//! one top-level key without touching the others, and so that errors can name the key.

use std::fmt;
use std::ops::Range;

use asana_bridge_connector::custom::number_text;
use asana_bridge_connector::{CustomFields, CustomValue, Due, DueError, TaskFields};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_saphyr::MessageFormatter as _;

/// Files larger than this are refused without being read whole: a task description is
/// never 10 MiB, a mistaken export or a log file may well be.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

/// What is wrong with a task file. The messages read well after the engine's
/// `error: link "roadmap": roadmap/fix-login.md: ` prefix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("file is {size} bytes, larger than the {limit}-byte limit for a task file; not read")]
    TooLarge { size: u64, limit: u64 },
    #[error("not valid UTF-8 (line {line}); the file is left as it is")]
    InvalidUtf8 { line: usize },
    #[error("contains NUL bytes (line {line}): a binary file, not Markdown; left as it is")]
    Binary { line: usize },
    #[error("the front matter opened on line {line} is never closed by a `---` line")]
    Unclosed { line: usize },
    #[error("front matter is not valid YAML{}: {message}", at_line(*.line))]
    Yaml {
        line: Option<usize>,
        message: String,
    },
    #[error("front matter has no `title` (every task file needs one)")]
    MissingTitle,
    #[error("`{key}` (line {line}): expected {expected}, found `{found}`")]
    WrongType {
        key: &'static str,
        line: usize,
        expected: &'static str,
        found: String,
    },
    #[error("`{key}` (line {line}): {problem}")]
    BadValue {
        key: &'static str,
        line: usize,
        problem: String,
    },
    #[error(
        "the bridge could not edit this file's front matter without risking its other \
         content ({reason}); edit it by hand"
    )]
    UnsafeEdit { reason: String },
}

fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!(" (line {l})")).unwrap_or_default()
}

/// The line ending a file uses, taken from its first line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Eol {
    Lf,
    CrLf,
}

impl Eol {
    /// The bytes of the line ending.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Eol::Lf => "\n",
            Eol::CrLf => "\r\n",
        }
    }
}

/// Where the front matter sits in a file, as byte offsets into its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrontRange {
    /// The YAML between the two delimiter lines: whole lines, each with its line ending.
    pub yaml: Range<usize>,
    /// The closing `---` line, without its line ending.
    pub close: Range<usize>,
}

/// Where the parts of a task file are, as byte offsets into its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Length of the byte-order mark the text starts with (0 or 3 bytes).
    pub bom_len: usize,
    /// The front matter, when the file has one.
    pub front: Option<FrontRange>,
    /// Where the body (the task's notes) starts.
    pub body_start: usize,
    /// The line ending of the file's first line, used for every line the bridge writes.
    pub eol: Eol,
}

/// A task file, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedFile {
    /// The synced fields, canonical.
    pub fields: TaskFields,
    /// The `asana_gid` the file mirrors.
    pub partner: Option<String>,
    /// Top-level front-matter keys the bridge does not sync, in file order.
    pub unknown_keys: Vec<String>,
    /// Where the parts of the file are.
    pub layout: Layout,
}

/// The keys the bridge reads from the front matter.
pub const KNOWN_KEYS: [&str; 10] = [
    "asana_gid",
    "title",
    "completed",
    "due_on",
    "due_at",
    "start_on",
    "assignee",
    "tags",
    "section",
    "fields",
];

/// Checks that `bytes` are Markdown text: valid UTF-8 without NUL bytes.
///
/// # Errors
/// [`FormatError::Binary`] or [`FormatError::InvalidUtf8`], with the line of the first
/// offending byte.
pub fn decode(bytes: &[u8]) -> Result<&str, FormatError> {
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(FormatError::Binary {
            line: line_of(bytes, at),
        });
    }
    std::str::from_utf8(bytes).map_err(|e| FormatError::InvalidUtf8 {
        line: line_of(bytes, e.valid_up_to()),
    })
}

/// 1-based line number of byte `at`.
fn line_of(bytes: &[u8], at: usize) -> usize {
    bytes[..at.min(bytes.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// One line of a text: `start..content_end` is its content, `start..end` includes its
/// line ending (`\n` or `\r\n`; a lone `\r` is content).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line {
    pub start: usize,
    pub content_end: usize,
    pub end: usize,
}

/// The lines of `text`, with offsets relative to `text`.
#[must_use]
pub fn lines(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let (content_end, end) = match text[start..].find('\n') {
            Some(i) => {
                let nl = start + i;
                let content_end = if nl > start && text.as_bytes()[nl - 1] == b'\r' {
                    nl - 1
                } else {
                    nl
                };
                (content_end, nl + 1)
            }
            None => (text.len(), text.len()),
        };
        out.push(Line {
            start,
            content_end,
            end,
        });
        start = end;
    }
    out
}

fn is_delimiter(line: &str) -> bool {
    line.trim_end_matches([' ', '\t']) == "---"
}

/// Finds the byte-order mark, the front matter and the body of `text`.
///
/// A file has front matter when its first line (after an optional BOM) is `---`; the block
/// ends at the next `---` line. A file whose first line is anything else has none.
///
/// # Errors
/// [`FormatError::Unclosed`] when the opening `---` has no closing one.
pub fn split(text: &str) -> Result<Layout, FormatError> {
    let bom_len = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let rest = &text[bom_len..];
    let all = lines(rest);
    let eol = match all.first() {
        Some(l) if l.end - l.content_end == 2 => Eol::CrLf,
        _ => Eol::Lf,
    };
    let no_front = Layout {
        bom_len,
        front: None,
        body_start: bom_len,
        eol,
    };
    let Some(open) = all.first() else {
        return Ok(no_front);
    };
    if !is_delimiter(&rest[open.start..open.content_end]) || open.end == open.content_end {
        return Ok(no_front);
    }
    let Some(close) = all[1..]
        .iter()
        .find(|l| is_delimiter(&rest[l.start..l.content_end]))
    else {
        return Err(FormatError::Unclosed { line: 1 });
    };
    Ok(Layout {
        bom_len,
        front: Some(FrontRange {
            yaml: bom_len + open.end..bom_len + close.start,
            close: bom_len + close.start..bom_len + close.content_end,
        }),
        body_start: bom_len + close.end,
        eol,
    })
}

/// The task's notes from a file body: its description, before the bridge's `## Subtasks`
/// and `## Comments` sections ([`crate::body`]); line endings as `\n` in a CRLF file, one
/// trailing `\n` removed (and the blank line before the sections, if any).
#[must_use]
pub fn notes_from_body(body: &str, eol: Eol) -> String {
    crate::body::read(body, eol).description
}

/// One top-level key of the front matter and the lines that hold it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyBlock {
    /// The key as written (quotes removed).
    pub key: String,
    /// Byte range, relative to the YAML text, of the key's line and its continuation lines
    /// (indented lines, `- ` items, interior blank lines), each with its line ending.
    /// Trailing blank and comment lines are not part of it.
    pub range: Range<usize>,
    /// 0-based index of the key's line within the YAML text.
    pub line_index: usize,
    /// The value as written on the key's line, or on its first continuation line.
    pub value_preview: String,
}

/// Splits front-matter YAML into its top-level keys, by lines. This is a layout scan, not
/// a YAML parser: its result is only trusted after the edited text parses to the expected
/// values (see `render::edit`).
#[must_use]
pub fn key_blocks(yaml: &str) -> Vec<KeyBlock> {
    let all = lines(yaml);
    let mut blocks: Vec<(String, usize, usize, usize)> = Vec::new(); // key, first line, line after, value offset
    for (i, l) in all.iter().enumerate() {
        let content = &yaml[l.start..l.content_end];
        if let Some((key, value_at)) = top_level_key(content) {
            if let Some(last) = blocks.last_mut() {
                last.2 = i;
            }
            blocks.push((key, i, all.len(), l.start + value_at));
        }
    }
    blocks
        .into_iter()
        .map(|(key, first, mut after, value_at)| {
            // Trailing blank and comment lines belong to no key: they stay where they are.
            while after > first + 1 {
                let l = all[after - 1];
                let t = yaml[l.start..l.content_end].trim();
                if t.is_empty() || t.starts_with('#') {
                    after -= 1;
                } else {
                    break;
                }
            }
            let head = yaml[value_at..all[first].content_end].trim();
            let value_preview = if head.is_empty() {
                all[first + 1..after]
                    .iter()
                    .map(|l| yaml[l.start..l.content_end].trim())
                    .find(|t| !t.is_empty())
                    .unwrap_or("")
                    .to_owned()
            } else {
                head.to_owned()
            };
            KeyBlock {
                key,
                range: all[first].start..all[after - 1].end,
                line_index: first,
                value_preview,
            }
        })
        .collect()
}

/// If `line` starts a top-level `key: value` entry, the key and where its value starts.
fn top_level_key(line: &str) -> Option<(String, usize)> {
    let first = line.chars().next()?;
    let (key, after_key) = match first {
        '"' | '\'' => {
            let (key, len) = quoted_key(line, first)?;
            (key, len)
        }
        ' ' | '\t' | '#' | '[' | ']' | '{' | '}' | ',' | '&' | '*' | '!' | '|' | '>' | '%'
        | '@' | '`' | '?' | ':' => return None,
        '-' if line.len() == 1 || line[1..].starts_with([' ', '\t']) => return None,
        _ => {
            let bytes = line.as_bytes();
            let mut i = 0;
            loop {
                if i >= bytes.len() {
                    return None;
                }
                if bytes[i] == b'#' && i > 0 && matches!(bytes[i - 1], b' ' | b'\t') {
                    return None; // a comment before any `: `
                }
                if bytes[i] == b':'
                    && (i + 1 == bytes.len() || matches!(bytes[i + 1], b' ' | b'\t'))
                {
                    break;
                }
                i += 1;
            }
            (line[..i].trim_end().to_owned(), i)
        }
    };
    let rest = &line[after_key..];
    let trimmed = rest.trim_start_matches([' ', '\t']);
    let colon_at = after_key + (rest.len() - trimmed.len());
    let after_colon = trimmed.strip_prefix(':')?;
    if !(after_colon.is_empty() || after_colon.starts_with([' ', '\t'])) {
        return None;
    }
    Some((key, colon_at + 1))
}

/// A quoted key at the start of `line`: its text and the byte length of the quoted form.
fn quoted_key(line: &str, quote: char) -> Option<(String, usize)> {
    let mut key = String::new();
    let mut chars = line.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            if quote == '\'' && chars.peek().map(|&(_, c)| c) == Some('\'') {
                chars.next();
                key.push('\'');
                continue;
            }
            return Some((key, i + 1));
        }
        if quote == '"' && c == '\\' {
            // Escapes in a key: keep them raw; such a key is never one the bridge knows.
            key.push(c);
            if let Some((_, n)) = chars.next() {
                key.push(n);
            }
            continue;
        }
        key.push(c);
    }
    None
}

/// Finds the `asana_gid` of a file that does not parse (broken YAML, invalid UTF-8, too
/// large…) by scanning its front-matter lines, so that the engine still knows which task
/// the broken file mirrors and never takes it for deleted.
#[must_use]
pub fn scan_partner(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(64 * 1024)];
    let text = String::from_utf8_lossy(head);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut lines = text.lines();
    if !is_delimiter(lines.next()?) {
        return None;
    }
    lines.take_while(|l| !is_delimiter(l)).find_map(|line| {
        let rest = ["asana_gid", "\"asana_gid\"", "'asana_gid'"]
            .iter()
            .find_map(|k| line.strip_prefix(k))?;
        let value = rest.trim_start().strip_prefix(':')?.trim_start();
        let value = value.strip_prefix(['"', '\'']).unwrap_or(value);
        let digits: String = value.chars().take_while(char::is_ascii_digit).collect();
        (!digits.is_empty()).then_some(digits)
    })
}

/// Parses a task file's text. `stem` (the file name without `.md`) is the title of a file
/// that has no front matter.
///
/// # Errors
/// A [`FormatError`] naming what is wrong and where.
pub fn parse(text: &str, stem: &str) -> Result<ParsedFile, FormatError> {
    let layout = split(text)?;
    let body = &text[layout.body_start..];
    let notes = notes_from_body(body, layout.eol);
    let Some(front) = &layout.front else {
        let fields = TaskFields {
            title: stem.to_owned(),
            notes,
            ..TaskFields::default()
        };
        return Ok(ParsedFile {
            fields: fields.canonical(),
            partner: None,
            unknown_keys: Vec::new(),
            layout,
        });
    };
    let yaml = &text[front.yaml.clone()];
    // The YAML starts on the file's second line.
    let file_line = |yaml_line: usize| yaml_line + 1;

    // One pass reads a well-formed block (nearly every file); anything it refuses is read
    // again the careful way, which names the key and line of the mistake and reads the
    // YAML 1.1 booleans of the bridge's own keys (`completed: yes`).
    let options = serde_saphyr::options! { strict_booleans: true };
    let (keys, known, custom) = match serde_saphyr::from_str_with_options::<OnePass>(yaml, options)
    {
        Ok(one) => (one.keys, one.known, one.custom),
        Err(_) => three_passes(yaml)?,
    };
    let unknown_keys: Vec<String> = keys
        .iter()
        .filter(|k| !KNOWN_KEYS.contains(&k.as_str()))
        .cloned()
        .collect();
    if !keys.iter().any(|k| k == "title") {
        return Err(FormatError::MissingTitle);
    }
    let line_of_key = |key: &str| {
        key_blocks(yaml)
            .iter()
            .find(|b| b.key == key)
            .map_or(1, |b| file_line(b.line_index + 1))
    };

    let title = known.title.ok_or(FormatError::MissingTitle)?;
    let partner = match known.asana_gid.map(|g| g.trim().to_owned()) {
        None => None,
        Some(g) if g.is_empty() => None,
        Some(g) if g.bytes().all(|b| b.is_ascii_digit()) => Some(g),
        Some(g) => {
            return Err(FormatError::WrongType {
                key: "asana_gid",
                line: line_of_key("asana_gid"),
                expected: expected_for("asana_gid"),
                found: preview(&g),
            });
        }
    };
    let bad = |key: &'static str, problem: String| FormatError::BadValue {
        key,
        line: line_of_key(key),
        problem,
    };
    let blank = |v: Option<String>| v.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty());
    let (due_on, due_at, start_on) = (
        blank(known.due_on),
        blank(known.due_at),
        blank(known.start_on),
    );
    if let Some(d) = &due_on {
        check_date(d).map_err(|problem| bad("due_on", problem))?;
    }
    if let Some(d) = &start_on {
        check_date(d).map_err(|problem| bad("start_on", problem))?;
    }
    let due = match (due_on, due_at) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "due_at",
                "a task is due on a day (`due_on`) or at a time (`due_at`), not both: remove one"
                    .to_owned(),
            ));
        }
        (Some(day), None) => Some(Due::On(day)),
        (None, Some(at)) => {
            Some(Due::moment(&at).map_err(|e| bad("due_at", preview_error(&e, &at)))?)
        }
        (None, None) => None,
    };
    // A start date without a due date (or after it) reads as written: Asana refuses it,
    // and the Asana side says so for this task when the bridge would send it.
    let fields = TaskFields {
        title,
        notes,
        completed: known.completed.unwrap_or(false),
        due,
        start_on,
        assignee: known.assignee,
        tags: known.tags.map(|t| t.0).unwrap_or_default(),
        section: known.section,
        custom,
    };
    Ok(ParsedFile {
        fields: fields.canonical(),
        partner,
        unknown_keys,
        layout,
    })
}

/// The front matter's keys in order, the bridge's keys typed and its custom fields, read
/// in three passes: the keys (syntax, and that the block is a mapping), the known keys with
/// YAML 1.1's booleans, then `fields` with YAML 1.2's. Each pass's error names the key and
/// line it is about.
fn three_passes(yaml: &str) -> Result<(Vec<String>, Known, CustomFields), FormatError> {
    // The YAML starts on the file's second line.
    let file_line = |yaml_line: usize| yaml_line + 1;
    // Pass 1: the keys, in order. Checks the syntax and that the block is a mapping.
    let keys = serde_saphyr::from_str::<KeyNames>(yaml)
        .map_err(|e| yaml_error(&e, file_line))?
        .0;

    // Pass 2: the known keys, each with its type. Typed deserialization keeps plain
    // scalars as written (`title: yes` is the text "yes", `asana_gid: 1200…` keeps every
    // digit).
    let blocks = key_blocks(yaml);
    let known: Known = serde_saphyr::from_str(yaml).map_err(|e| {
        let yaml_line = e.location().and_then(|l| usize::try_from(l.line()).ok());
        match yaml_line.and_then(|l| block_at_line(&blocks, l.saturating_sub(1))) {
            Some(b) => match known_key(&b.key) {
                Some(key) => FormatError::WrongType {
                    key,
                    line: file_line(b.line_index + 1),
                    expected: expected_for(key),
                    found: preview(&b.value_preview),
                },
                None => yaml_error(&e, file_line),
            },
            None => yaml_error(&e, file_line),
        }
    })?;
    let custom = if keys.iter().any(|k| k == "fields") {
        let options = serde_saphyr::options! { strict_booleans: true };
        serde_saphyr::from_str_with_options::<CustomPart>(yaml, options)
            .map_err(|_| {
                let b = blocks.iter().find(|b| b.key == "fields");
                FormatError::WrongType {
                    key: "fields",
                    line: b.map_or(1, |b| file_line(b.line_index + 1)),
                    expected: expected_for("fields"),
                    found: preview(b.map_or("", |b| b.value_preview.as_str())),
                }
            })?
            .fields
            .map(|f| f.0)
            .unwrap_or_default()
    } else {
        CustomFields::new()
    };
    Ok((keys, known, custom))
}

/// Checks a `due_on` value: `YYYY-MM-DD` and a real calendar date.
fn check_date(d: &str) -> Result<(), String> {
    let b = d.as_bytes();
    let shape_ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape_ok {
        return Err(format!(
            "`{}` is not a date; write it as YYYY-MM-DD",
            preview(d)
        ));
    }
    let num = |r: Range<usize>| d[r].parse::<i16>().ok();
    let valid = match (num(0..4), num(5..7), num(8..10)) {
        (Some(y), Some(m), Some(day)) => {
            let (Ok(m), Ok(day)) = (i8::try_from(m), i8::try_from(day)) else {
                return Err(format!("`{d}` is not a real date"));
            };
            jiff::civil::Date::new(y, m, day).is_ok()
        }
        _ => false,
    };
    if valid {
        Ok(())
    } else {
        Err(format!("`{d}` is not a real date"))
    }
}

/// A [`DueError`] for a message, the value shortened.
fn preview_error(e: &DueError, value: &str) -> String {
    match e {
        DueError::NotATime(_) => DueError::NotATime(preview(value)).to_string(),
        other => other.to_string(),
    }
}

/// Whether `d` is a valid `due_on` value.
#[must_use]
pub fn is_date(d: &str) -> bool {
    check_date(d).is_ok()
}

fn block_at_line(blocks: &[KeyBlock], line_index: usize) -> Option<&KeyBlock> {
    blocks
        .iter()
        .take_while(|b| b.line_index <= line_index)
        .last()
}

fn known_key(key: &str) -> Option<&'static str> {
    KNOWN_KEYS.iter().copied().find(|k| *k == key)
}

fn expected_for(key: &str) -> &'static str {
    match key {
        "asana_gid" => "the Asana task id (digits only)",
        "completed" => "true or false",
        "due_on" | "start_on" => "a date written YYYY-MM-DD",
        "due_at" => "a time written RFC 3339, e.g. 2026-12-01T15:00:00Z",
        "tags" => "a list of tags such as [bug, p1]",
        "fields" => {
            "custom fields by name, each a value or a list, such as `Priority: High` or `Platforms: [Web, iOS]` on its own indented line"
        }
        _ => "a single line of text",
    }
}

/// A value shortened for an error message.
fn preview(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

fn yaml_error(e: &serde_saphyr::Error, file_line: impl Fn(usize) -> usize) -> FormatError {
    let e = e.without_snippet();
    let line = e
        .location()
        .and_then(|l| usize::try_from(l.line()).ok())
        .filter(|&l| l > 0)
        .map(file_line);
    let message = serde_saphyr::UserMessageFormatter
        .format_message(e)
        .into_owned();
    FormatError::Yaml { line, message }
}

/// The names of the top-level keys, in order (pass 1).
struct KeyNames(Vec<String>);

impl<'de> Deserialize<'de> for KeyNames {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyNames;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`key: value` lines")
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyNames, E> {
                Ok(KeyNames(Vec::new()))
            }
            fn visit_none<E: de::Error>(self) -> Result<KeyNames, E> {
                Ok(KeyNames(Vec::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<KeyNames, A::Error> {
                let mut keys = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    map.next_value::<IgnoredAny>()?;
                    keys.push(k);
                }
                Ok(KeyNames(keys))
            }
        }
        d.deserialize_any(V)
    }
}

/// The whole front matter in one pass, with YAML 1.2's booleans: the keys in order, the
/// bridge's keys typed, the custom fields. Anything unusual (not a mapping, a key twice,
/// a value of the wrong type) is an error, and [`parse`] reads the block again the
/// careful way ([`three_passes`]).
struct OnePass {
    keys: Vec<String>,
    known: Known,
    custom: CustomFields,
}

impl<'de> Deserialize<'de> for OnePass {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OnePass;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`key: value` lines")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OnePass, A::Error> {
                let mut keys: Vec<String> = Vec::new();
                let mut known = Known::default();
                let mut custom = None;
                while let Some(key) = map.next_key::<String>()? {
                    if keys.contains(&key) {
                        return Err(de::Error::custom("a key given twice"));
                    }
                    match key.as_str() {
                        "asana_gid" => known.asana_gid = map.next_value()?,
                        "title" => known.title = map.next_value()?,
                        "completed" => known.completed = map.next_value()?,
                        "due_on" => known.due_on = map.next_value()?,
                        "due_at" => known.due_at = map.next_value()?,
                        "start_on" => known.start_on = map.next_value()?,
                        "assignee" => known.assignee = map.next_value()?,
                        "tags" => known.tags = map.next_value()?,
                        "section" => known.section = map.next_value()?,
                        "fields" => custom = map.next_value::<Option<Fields>>()?.map(|f| f.0),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                    keys.push(key);
                }
                Ok(OnePass {
                    keys,
                    known,
                    custom: custom.unwrap_or_default(),
                })
            }
        }
        d.deserialize_map(V)
    }
}

/// The keys the bridge reads, typed (pass 2). Unknown keys are skipped here.
#[derive(Default, Deserialize)]
struct Known {
    #[serde(default)]
    asana_gid: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    completed: Option<bool>,
    #[serde(default)]
    due_on: Option<String>,
    #[serde(default)]
    due_at: Option<String>,
    #[serde(default)]
    start_on: Option<String>,
    #[serde(default)]
    assignee: Option<String>,
    #[serde(default)]
    tags: Option<Tags>,
    #[serde(default)]
    section: Option<String>,
}

/// `fields` alone (pass 3), read with YAML 1.2's booleans so that a text value `yes` or
/// `off` stays that text.
#[derive(Deserialize)]
struct CustomPart {
    #[serde(default)]
    fields: Option<Fields>,
}

/// `fields`: custom field name -> a scalar or a list of scalars; a key without a value
/// (`Priority:`) is no value.
struct Fields(CustomFields);

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("custom fields by name")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Fields, E> {
                Ok(Fields(CustomFields::new()))
            }
            fn visit_none<E: de::Error>(self) -> Result<Fields, E> {
                Ok(Fields(CustomFields::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut out = CustomFields::new();
                while let Some(name) = map.next_key::<Scalar>()? {
                    if let Some(value) = map.next_value::<FieldValue>()?.0 {
                        out.insert(name.0, value);
                    }
                }
                Ok(Fields(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// One custom field's value: a scalar, a list of scalars, or nothing.
struct FieldValue(Option<CustomValue>);

impl<'de> Deserialize<'de> for FieldValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FieldValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value or a list of values")
            }
            fn visit_unit<E: de::Error>(self) -> Result<FieldValue, E> {
                Ok(FieldValue(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<FieldValue, E> {
                Ok(FieldValue(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FieldValue, A::Error> {
                let mut items = Vec::new();
                while let Some(s) = seq.next_element::<Scalar>()? {
                    items.push(s.0);
                }
                Ok(FieldValue(Some(CustomValue::Many(items))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FieldValue, E> {
                Ok(FieldValue(Some(CustomValue::One(v.to_owned()))))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<FieldValue, E> {
                Ok(FieldValue(Some(CustomValue::One(v.to_string()))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<FieldValue, E> {
                Ok(FieldValue(Some(CustomValue::One(v.to_string()))))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<FieldValue, E> {
                Ok(FieldValue(Some(CustomValue::One(v.to_string()))))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<FieldValue, E> {
                Ok(FieldValue(Some(CustomValue::One(number_text(v)))))
            }
        }
        d.deserialize_any(V)
    }
}

/// A scalar as text: strings as written, numbers in their shortest spelling.
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a single value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(number_text(v)))
            }
        }
        d.deserialize_any(V)
    }
}

/// `tags`: a list of strings, or one string taken as one tag.
struct Tags(Vec<String>);

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Tags;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of tags")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Tags, E> {
                Ok(Tags(vec![v.to_owned()]))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Tags, E> {
                Ok(Tags(Vec::new()))
            }
            fn visit_none<E: de::Error>(self) -> Result<Tags, E> {
                Ok(Tags(Vec::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tags, A::Error> {
                let mut tags = Vec::new();
                // Typed elements: `[1.0, yes]` are the tags "1.0" and "yes".
                while let Some(t) = seq.next_element::<String>()? {
                    tags.push(t);
                }
                Ok(Tags(tags))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> ParsedFile {
        match parse(text, "stem") {
            Ok(p) => p,
            Err(e) => panic!("{text:?} should parse: {e}"),
        }
    }

    fn parse_err(text: &str) -> String {
        match parse(text, "stem") {
            Ok(p) => panic!("{text:?} should not parse, got {p:?}"),
            Err(e) => e.to_string(),
        }
    }

    const SPEC: &str = "---\nasana_gid: \"1200000000000123\"\ntitle: Fix the login page\ncompleted: false\ndue_on: 2026-12-01\nassignee: alice@example.com\ntags: [bug, p1]\nsection: In progress\n---\nFree-form notes in Markdown. This body is the task's description.\n";

    /// The example of the contract reads into the expected fields.
    #[test]
    fn parses_the_contract_example() {
        let p = parse_ok(SPEC);
        assert_eq!(p.partner.as_deref(), Some("1200000000000123"));
        assert_eq!(
            p.fields,
            TaskFields {
                title: "Fix the login page".into(),
                notes: "Free-form notes in Markdown. This body is the task's description.".into(),
                completed: false,
                due: Some("2026-12-01".into()),
                assignee: Some("alice@example.com".into()),
                tags: vec!["bug".into(), "p1".into()],
                section: Some("In progress".into()),
                start_on: None,
                custom: CustomFields::new(),
            }
        );
        assert!(p.unknown_keys.is_empty());
    }

    /// `fields:` of the contract's second edition: each type by name, numbers and dates as
    /// written, lists as sets, a key without a value as no value.
    #[test]
    fn parses_custom_fields() {
        let p = parse_ok(
            "---\ntitle: T\nfields:                 # the project's custom fields\n  Priority: High\n  Estimate: 3\n  Rate: 2.50\n  Platforms: [Web, iOS]\n  Launch: 2026-12-10\n  Reviewer: [Bob@example.com]\n  Ticket: WEB-123\n  Empty:\n  \"Due: soon\": yes\n---\n",
        );
        let one = |s: &str| CustomValue::One(s.into());
        let many = |v: &[&str]| CustomValue::Many(v.iter().map(|s| (*s).to_owned()).collect());
        assert_eq!(
            p.fields.custom,
            CustomFields::from([
                ("Priority".into(), one("High")),
                ("Estimate".into(), one("3")),
                ("Rate".into(), one("2.5")),
                ("Platforms".into(), many(&["Web", "iOS"])),
                ("Launch".into(), one("2026-12-10")),
                ("Reviewer".into(), many(&["Bob@example.com"])),
                ("Ticket".into(), one("WEB-123")),
                ("Due: soon".into(), one("yes")),
            ])
        );
        assert!(p.unknown_keys.is_empty());
    }

    /// `fields` that is not a mapping is an error naming the key and the expected shape.
    #[test]
    fn custom_fields_must_be_a_mapping() {
        let e = parse_err("---\ntitle: T\nfields: [a, b]\n---\n");
        assert!(
            e.contains("`fields` (line 3)") && e.contains("Priority: High"),
            "{e}"
        );
        let e = parse_err("---\ntitle: T\nfields:\n  Nested: {a: 1}\n---\n");
        assert!(e.contains("fields"), "{e}");
    }

    /// CRLF files and a BOM read the same as plain LF files.
    #[test]
    fn crlf_and_bom() {
        let crlf = format!("\u{feff}{}", SPEC.replace('\n', "\r\n"));
        let p = parse_ok(&crlf);
        assert_eq!(p.fields, parse_ok(SPEC).fields);
        assert_eq!(p.layout.eol, Eol::CrLf);
        assert_eq!(p.layout.bom_len, 3);
    }

    /// A file without front matter is a new task named after its stem, the whole text its
    /// notes.
    #[test]
    fn no_front_matter() {
        let p = parse_ok("Just some notes\nand more\n");
        assert_eq!(p.fields.title, "stem");
        assert_eq!(p.fields.notes, "Just some notes\nand more");
        assert!(p.partner.is_none());
        let p = parse_ok("");
        assert_eq!(p.fields.notes, "");
        // `----` is not a delimiter; a lone `---` without a line ending is content.
        assert_eq!(parse_ok("----\nx: y\n---\n").fields.title, "stem");
        assert_eq!(parse_ok("---").fields.notes, "---");
    }

    /// Only `title` is required; every other key is optional.
    #[test]
    fn minimal_front_matter() {
        let p = parse_ok("---\ntitle: Hello\n---\n");
        assert_eq!(
            p.fields,
            TaskFields {
                title: "Hello".into(),
                ..TaskFields::default()
            }
        );
        // The closing delimiter may end the file.
        assert_eq!(parse_ok("---\ntitle: Hello\n---").fields.notes, "");
    }

    /// Notes are the body with exactly one trailing newline removed.
    #[test]
    fn notes_from_the_body() {
        assert_eq!(parse_ok("---\ntitle: a\n---\nx\n\n").fields.notes, "x\n");
        assert_eq!(parse_ok("---\ntitle: a\n---\nx").fields.notes, "x");
        assert_eq!(parse_ok("---\ntitle: a\n---\n\n").fields.notes, "");
    }

    /// An unquoted gid keeps every digit; quoted and single-quoted forms work too.
    #[test]
    fn gid_quoted_or_not() {
        for gid in [
            "1200000000000123456789012",
            "\"1200000000000123456789012\"",
            "'1200000000000123456789012'",
        ] {
            let p = parse_ok(&format!("---\nasana_gid: {gid}\ntitle: t\n---\n"));
            assert_eq!(p.partner.as_deref(), Some("1200000000000123456789012"));
        }
        let e = parse_err("---\ntitle: t\nasana_gid: abc\n---\n");
        assert_eq!(
            e,
            "`asana_gid` (line 3): expected the Asana task id (digits only), found `abc`"
        );
    }

    /// Scalars that other YAML readers would take for booleans or numbers stay text.
    #[test]
    fn typed_strings_stay_as_written() {
        let p = parse_ok("---\ntitle: yes\nsection: 1.0\nassignee: null@x.org\n---\n");
        assert_eq!(p.fields.title, "yes");
        assert_eq!(p.fields.section.as_deref(), Some("1.0"));
        assert_eq!(p.fields.assignee.as_deref(), Some("null@x.org"));
        let p = parse_ok("---\ntitle: t\ntags: [1.0, yes, p1, p1, \" b \"]\n---\n");
        assert_eq!(p.fields.tags, vec!["1.0", "b", "p1", "yes"]);
    }

    /// Unknown keys are listed in file order; the file still parses.
    #[test]
    fn unknown_keys() {
        let p = parse_ok("---\nzeta: 1\ntitle: t\nalpha: {a: [1, 2]}\n# comment\n---\n");
        assert_eq!(p.unknown_keys, vec!["zeta", "alpha"]);
    }

    /// Tags may be a block list, a flow list, or one string.
    #[test]
    fn tag_forms() {
        let p = parse_ok("---\ntitle: t\ntags:\n  - b\n  - a\n---\n");
        assert_eq!(p.fields.tags, vec!["a", "b"]);
        let p = parse_ok("---\ntitle: t\ntags:\n- b\n---\n");
        assert_eq!(p.fields.tags, vec!["b"]);
        let p = parse_ok("---\ntitle: t\ntags: single\n---\n");
        assert_eq!(p.fields.tags, vec!["single"]);
        let p = parse_ok("---\ntitle: t\ntags:\n---\n");
        assert!(p.fields.tags.is_empty());
    }

    /// Broken YAML names the line of the file (the front matter starts on line 2).
    #[test]
    fn invalid_yaml_names_the_line() {
        let e = parse_err("---\ntitle: t\nfoo: [unclosed\n---\n");
        assert!(
            e.starts_with("front matter is not valid YAML (line "),
            "{e}"
        );
        let e = parse_err("---\ntitle: t\nx: a\n  y: b\n---\n");
        assert!(
            e.starts_with("front matter is not valid YAML (line 4): "),
            "{e}"
        );
        let e = parse_err("---\ntitle: t\ntitle: u\n---\n");
        assert!(e.contains("(line 3)") && e.contains("duplicate"), "{e}");
        let e = parse_err("---\njust a scalar\n---\n");
        assert!(e.starts_with("front matter is not valid YAML"), "{e}");
    }

    /// Wrong types are reported with the key, the line and what was found.
    #[test]
    fn wrong_types() {
        let e = parse_err("---\ntitle: t\ncompleted: \"maybe\"\n---\n");
        assert_eq!(
            e,
            "`completed` (line 3): expected true or false, found `\"maybe\"`"
        );
        let e = parse_err("---\ntitle: t\ncompleted: maybe\n---\n");
        assert_eq!(
            e,
            "`completed` (line 3): expected true or false, found `maybe`"
        );
        let e = parse_err("---\ntitle: t\ntags: {a: b}\n---\n");
        assert!(
            e.starts_with("`tags` (line 3): expected a list of tags"),
            "{e}"
        );
        let e = parse_err("---\ntitle: t\ntags:\n  - [nested]\n---\n");
        assert!(
            e.starts_with("`tags` (line 3): expected a list of tags"),
            "{e}"
        );
        let e = parse_err("---\ntitle: [a, b]\n---\n");
        assert!(
            e.starts_with("`title` (line 2): expected a single line of text"),
            "{e}"
        );
    }

    /// A due time is `due_at` (RFC 3339, kept in UTC), a start date `start_on`; a task is
    /// due on a day or at a time, not both.
    #[test]
    fn due_times_and_start_dates() {
        let p = parse_ok(
            "---\ntitle: t\ndue_at: 2026-12-01T16:00:00+01:00\nstart_on: 2026-11-28\n---\n",
        );
        assert_eq!(p.fields.due, Some(Due::At("2026-12-01T15:00:00Z".into())));
        assert_eq!(p.fields.start_on.as_deref(), Some("2026-11-28"));
        assert_eq!(
            parse_err("---\ntitle: t\ndue_on: 2026-12-01\ndue_at: 2026-12-01T15:00:00Z\n---\n"),
            "`due_at` (line 4): a task is due on a day (`due_on`) or at a time (`due_at`), not both: remove one"
        );
        assert_eq!(
            parse_err("---\ntitle: t\ndue_at: tomorrow at noon\n---\n"),
            "`due_at` (line 3): `tomorrow at noon` is not a time; write it as RFC 3339, e.g. 2026-12-01T15:00:00Z"
        );
        assert_eq!(
            parse_err("---\ntitle: t\ndue_on: 2026-12-01\nstart_on: 2026-13-01\n---\n"),
            "`start_on` (line 4): `2026-13-01` is not a real date"
        );
        // Asana's rule (a start date needs a due date) is checked where Asana is written.
        let p = parse_ok("---\ntitle: t\nstart_on: 2026-11-28\n---\n");
        assert_eq!(
            (p.fields.due, p.fields.start_on.as_deref()),
            (None, Some("2026-11-28"))
        );
    }

    /// `due_on` must be a real date written YYYY-MM-DD.
    #[test]
    fn dates() {
        let e = parse_err("---\ntitle: t\ndue_on: 31/02/2026\n---\n");
        assert_eq!(
            e,
            "`due_on` (line 3): `31/02/2026` is not a date; write it as YYYY-MM-DD"
        );
        let e = parse_err("---\ntitle: t\ndue_on: 2026-02-31\n---\n");
        assert_eq!(e, "`due_on` (line 3): `2026-02-31` is not a real date");
        assert!(
            parse_ok("---\ntitle: t\ndue_on: 2028-02-29\n---\n")
                .fields
                .due
                .is_some()
        );
        assert!(
            parse_ok("---\ntitle: t\ndue_on: \"2028-02-29\"\n---\n")
                .fields
                .due
                .is_some()
        );
    }

    /// A missing or empty title, or an unclosed block, is an error.
    #[test]
    fn missing_title_and_unclosed() {
        assert_eq!(
            parse_err("---\ncompleted: true\n---\n"),
            "front matter has no `title` (every task file needs one)"
        );
        assert_eq!(
            parse_err("---\ntitle:\n---\n"),
            "front matter has no `title` (every task file needs one)"
        );
        assert_eq!(
            parse_err("---\n---\n"),
            parse_err("---\ncompleted: true\n---\n")
        );
        assert_eq!(
            parse_err("---\ntitle: t\nbody"),
            "the front matter opened on line 1 is never closed by a `---` line"
        );
        assert_eq!(parse_ok("---\ntitle: \"\"\n---\n").fields.title, "");
    }

    /// Bytes that are not Markdown text are refused with the line.
    #[test]
    fn decode_refuses_binary_and_bad_utf8() {
        assert_eq!(
            decode(b"ok\nbad \xff\n").unwrap_err().to_string(),
            "not valid UTF-8 (line 2); the file is left as it is"
        );
        assert_eq!(
            decode(b"a\0b").unwrap_err(),
            FormatError::Binary { line: 1 }
        );
        assert_eq!(decode("é".as_bytes()), Ok("é"));
    }

    /// The gid of a broken file is still found by a line scan.
    #[test]
    fn partner_of_broken_files() {
        assert_eq!(
            scan_partner(b"---\ntitle: [broken\nasana_gid: \"123\"\n---\n").as_deref(),
            Some("123")
        );
        assert_eq!(
            scan_partner(b"\xef\xbb\xbf---\r\nasana_gid: 45 # c\r\n\xff\r\n").as_deref(),
            Some("45")
        );
        assert_eq!(scan_partner(b"no front\nasana_gid: 1\n"), None);
        assert_eq!(scan_partner(b"---\ntitle: t\n---\nasana_gid: 1\n"), None);
    }

    /// The key scanner finds each top-level key with its continuation lines.
    /// The one pass reads what the three passes read, for every front matter it accepts;
    /// what it refuses is read by the three passes (YAML 1.1 booleans of `completed`, type
    /// errors with their key and line).
    #[test]
    fn one_pass_reads_what_three_passes_read() {
        let options = || serde_saphyr::options! { strict_booleans: true };
        let docs = [
            "title: T\nasana_gid: \"1200\"\ncompleted: true\ndue_on: 2026-12-10\nstart_on: 2026-12-01\nassignee: a@example.com\ntags: [b, a]\nsection: Doing\n",
            "title: yes\nsection: 1.0\nassignee: null@x.org\n",
            "title: t\ntags: [1.0, yes, p1, p1, \" b \"]\ndue_at: 2026-12-10T09:30:00Z\n",
            "title: t\nmy_key: {a: [1, 2]}\nother: |\n  text\nfields:\n  Priority: High\n  Estimate: 3\n  Rate: 2.50\n  Platforms: [Web, iOS]\n  Empty:\n  \"Due: soon\": yes\n",
            "title: t\nasana_gid:\ntags:\ncompleted: false\n",
            "\"title\": 'It''s'\n'tags': x\n",
        ];
        for doc in docs {
            let one = serde_saphyr::from_str_with_options::<OnePass>(doc, options())
                .unwrap_or_else(|e| panic!("one pass refused {doc:?}: {e}"));
            let (keys, known, custom) = three_passes(doc).unwrap();
            assert_eq!(one.keys, keys, "{doc}");
            assert_eq!(one.custom, custom, "{doc}");
            let view = |k: &Known| {
                format!(
                    "{:?}",
                    (
                        &k.asana_gid,
                        &k.title,
                        k.completed,
                        &k.due_on,
                        &k.due_at,
                        &k.start_on,
                        &k.assignee,
                        k.tags.as_ref().map(|t| &t.0),
                        &k.section,
                    )
                )
            };
            assert_eq!(view(&one.known), view(&known), "{doc}");
        }
        // What the bridge writes is read in one pass.
        let mut fields = parse_ok(&format!("---\n{}---\nNotes\n", docs[3])).fields;
        fields.completed = true;
        fields.tags = vec!["yes".into(), "1.0".into()];
        fields.due = Some(Due::On("2026-12-10".into()));
        let text = crate::render::render_new(&fields, Some("1200"));
        let yaml = &text[split(&text).unwrap().front.unwrap().yaml];
        let one = serde_saphyr::from_str_with_options::<OnePass>(yaml, options()).unwrap();
        assert_eq!(
            (one.known.completed, one.custom),
            (Some(true), fields.custom)
        );
        // A bare word YAML 1.1 reads as a boolean is one tag (it was an error before).
        assert_eq!(
            parse_ok("---\ntitle: t\ntags: yes\n---\n").fields.tags,
            ["yes"]
        );
        // Refused by the one pass, read by the three.
        for (doc, completed) in [
            ("title: t\ncompleted: yes\n", true),
            ("title: t\ncompleted: off\n", false),
        ] {
            assert!(serde_saphyr::from_str_with_options::<OnePass>(doc, options()).is_err());
            assert_eq!(
                parse_ok(&format!("---\n{doc}---\n")).fields.completed,
                completed
            );
        }
        assert!(
            serde_saphyr::from_str_with_options::<OnePass>("title: a\ntitle: b\n", options())
                .is_err()
        );
        assert!(parse_err("---\ntitle: t\ncompleted: [x]\n---\n").contains("line 3"));
    }

    #[test]
    fn key_blocks_scan() {
        let yaml = "# lead\ntitle: t\ntags:\n  - a\n\n- b\n# trailing\n\n\"quoted key\": 1\nurl: http://x\n";
        let blocks = key_blocks(yaml);
        let keys: Vec<_> = blocks.iter().map(|b| b.key.as_str()).collect();
        assert_eq!(keys, vec!["title", "tags", "quoted key", "url"]);
        assert_eq!(&yaml[blocks[1].range.clone()], "tags:\n  - a\n\n- b\n");
        assert_eq!(blocks[1].value_preview, "- a");
        assert_eq!(blocks[3].value_preview, "http://x");
    }
}
