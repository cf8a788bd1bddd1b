//! Writing a normalised document as Markdown that reads back to the same document.
//!
//! The Markdown is the one a person would write where Markdown can say it (`**bold**`,
//! `*italic*`, `~~struck~~`, `` `code` ``, `[text](url)`, `# heading`, `- item`, `> quote`,
//! fenced code, `---`), and inline HTML where it cannot: underline, mentions and links
//! with Asana's attributes, formatting whose edges Markdown's emphasis rules would misread,
//! and elements outside the subset (inline images...), written as their exact source.
//! Asana's line breaks are Markdown lines, one for one (an empty line is a blank line);
//! the breaks Markdown cannot show (at the start or end of a block) are `&#10;`.
//! Characters Markdown would read as syntax are backslash-escaped, and the whitespace it
//! would strip at the start or end of a line is a character reference (`&#32;`).
//!
//! The separators between blocks mirror the reader ([`crate::md_read`]): between a run of
//! text and a block, or two blocks, `n` line breaks in Asana are `n + 2` Markdown line
//! ends (one blank line more than there are breaks), except that a list nested in an item
//! follows the item's text with `n + 1` (unless that text's last paragraph holds an
//! image).

use crate::tree::{Element, Node, Tag, find_byte};

/// Which kind of container a flow of nodes sits in.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Container {
    Body,
    Item,
    Quote,
}

/// Where the writer is on the current output line.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Line {
    /// Nothing written yet, not even the container prefixes.
    Fresh,
    /// The prefixes (`> `, list markers, `# `) are written, no content yet.
    Prefixed,
    /// Content written.
    Content,
}

/// A container's line prefix: the first line of a list item gets the marker, later lines
/// its width in spaces.
#[derive(Clone, Debug)]
struct Prefix {
    first: String,
    rest: String,
    first_used: bool,
}

#[derive(Clone, Debug)]
struct Writer {
    out: String,
    prefixes: Vec<Prefix>,
    line: Line,
    /// Inside a heading, where `#` is escaped anywhere (a trailing `#` would close it).
    in_heading: bool,
    /// Inside a code block: no escaping, trailing whitespace kept.
    verbatim: bool,
}

/// Writes a normalised document as Markdown.
pub fn write(nodes: &[Node]) -> String {
    let mut w = Writer::new();
    w.flow(nodes, Container::Body);
    w.out
}

/// One unit of a flow: a run of inline content, or a block element.
enum Unit<'a> {
    Run(Vec<Node>),
    Block(&'a Element),
}

impl Writer {
    fn new() -> Self {
        Writer {
            out: String::new(),
            prefixes: Vec::new(),
            line: Line::Fresh,
            in_heading: false,
            verbatim: false,
        }
    }

    // -------------------------------------------------------------------------------
    // Lines

    fn begin_content(&mut self) {
        if self.line == Line::Fresh {
            for p in &mut self.prefixes {
                if p.first_used {
                    self.out.push_str(&p.rest);
                } else {
                    self.out.push_str(&p.first);
                    p.first_used = true;
                }
            }
            self.line = Line::Prefixed;
        }
    }

    fn raw(&mut self, s: &str) {
        self.begin_content();
        self.out.push_str(s);
        self.line = Line::Content;
    }

    fn end_line(&mut self) {
        match self.line {
            Line::Fresh => {
                // A blank line: only the prefixes that continue a container (`>`).
                let start = self.out.len();
                for p in &self.prefixes {
                    self.out.push_str(&p.rest);
                }
                let kept = self.out[start..].trim_end_matches(' ').len();
                self.out.truncate(start + kept);
            }
            Line::Prefixed => {
                let kept = self.out.trim_end_matches(' ').len();
                self.out.truncate(kept);
            }
            Line::Content if !self.verbatim => {
                // Markdown strips whitespace at the end of a line (and two spaces are a
                // hard break): the last one becomes a reference.
                if let Some(c @ (' ' | '\t')) = self.out.chars().last() {
                    self.out.pop();
                    self.out.push_str(if c == ' ' { "&#32;" } else { "&#9;" });
                }
            }
            Line::Content => {}
        }
        self.out.push('\n');
        self.line = Line::Fresh;
    }

    fn blank_lines(&mut self, n: usize) {
        for _ in 0..n {
            self.end_line();
        }
    }

    fn last_char(&self) -> Option<char> {
        if self.line == Line::Content {
            self.out.chars().last()
        } else {
            None
        }
    }

    // -------------------------------------------------------------------------------
    // Flows and blocks

    fn flow(&mut self, nodes: &[Node], container: Container) {
        let units = units(nodes);
        // Line breaks in Asana between unit i and i + 1 (for a run: its edge breaks).
        let mut prev: Option<&Unit<'_>> = None;
        let mut pending = 0usize; // breaks of an all-break run folded between two blocks
        let mut last_list: Option<(Tag, bool)> = None;
        let count = units.len();
        for (i, unit) in units.iter().enumerate() {
            match unit {
                Unit::Run(run) => {
                    let (lead, trail) = edge_breaks(run);
                    let all_breaks = lead == text_len(run);
                    let next_is_block = matches!(units.get(i + 1), Some(Unit::Block(_)));
                    if all_breaks && matches!(prev, Some(Unit::Block(_))) && next_is_block {
                        pending = lead;
                        continue;
                    }
                    last_list = None;
                    let mut run = run.clone();
                    let (lead, trail) = if all_breaks { (0, 0) } else { (lead, trail) };
                    let entity_lead = prev.is_none() || all_breaks;
                    let entity_trail = i + 1 == count;
                    if let Some(Unit::Block(_)) = prev {
                        self.blank_lines(lead + 1);
                    }
                    trim_edges(&mut run, lead, trail);
                    if entity_lead && lead > 0 {
                        self.raw(&"&#10;".repeat(lead));
                    }
                    if all_breaks {
                        self.raw(&"&#10;".repeat(edge_breaks(&run).0));
                    } else {
                        self.inline(&run);
                    }
                    if entity_trail && trail > 0 {
                        self.raw(&"&#10;".repeat(trail));
                    }
                    self.end_line();
                    if let Some(Unit::Block(next)) = units.get(i + 1) {
                        // An empty first item cannot interrupt the item's text: a list
                        // starting with one keeps the blank line.
                        // Nor can a list follow an image's paragraph directly: an image
                        // alone on its first line makes it an HTML block, which would
                        // hold the list's lines.
                        let nested_list = container == Container::Item
                            && matches!(next.tag, Tag::Ul | Tag::Ol)
                            && !starts_bare(next)
                            && !raw_in_last_paragraph(&run);
                        self.blank_lines(if nested_list { trail } else { trail + 1 });
                    }
                }
                Unit::Block(e) => {
                    if let Some(Unit::Block(_)) = prev {
                        self.blank_lines(pending + 1);
                    }
                    pending = 0;
                    let alternate = match last_list {
                        Some((tag, alt)) if tag == e.tag => !alt,
                        _ => false,
                    };
                    self.block(e, alternate);
                    last_list = matches!(e.tag, Tag::Ul | Tag::Ol).then_some((e.tag, alternate));
                }
            }
            prev = Some(unit);
        }
    }

    fn block(&mut self, e: &Element, alternate: bool) {
        match e.tag {
            Tag::H1 | Tag::H2 => {
                self.raw(if e.tag == Tag::H1 { "# " } else { "## " });
                self.line = Line::Prefixed;
                self.in_heading = true;
                self.inline(&e.children);
                self.in_heading = false;
                self.end_line();
            }
            Tag::Hr => {
                self.raw("---");
                self.end_line();
            }
            Tag::Pre => {
                let mut text = String::new();
                for n in &e.children {
                    if let Node::Text(t) = n {
                        text.push_str(t);
                    }
                }
                let longest = longest_run(&text, '`');
                let fence = "`".repeat(longest.max(2) + 1);
                self.raw(&fence);
                self.end_line();
                if !text.is_empty() {
                    self.verbatim = true;
                    for line in text.split('\n') {
                        if !line.is_empty() {
                            self.raw(line);
                        }
                        self.end_line();
                    }
                    self.verbatim = false;
                }
                self.raw(&fence);
                self.end_line();
            }
            Tag::Blockquote => {
                self.prefixes.push(Prefix {
                    first: "> ".into(),
                    rest: "> ".into(),
                    first_used: false,
                });
                self.flow(&e.children, Container::Quote);
                if !self.prefixes.last().is_some_and(|p| p.first_used) {
                    self.begin_content();
                    self.end_line();
                }
                self.prefixes.pop();
            }
            Tag::Ul | Tag::Ol => {
                let mut number = 0usize;
                for item in &e.children {
                    let Node::Element(li) = item else { continue };
                    number += 1;
                    let marker = match (e.tag, alternate) {
                        (Tag::Ul, false) => "- ".to_owned(),
                        (Tag::Ul, true) => "* ".to_owned(),
                        (_, false) => format!("{number}. "),
                        (_, true) => format!("{number}) "),
                    };
                    let rest = " ".repeat(marker.len());
                    self.prefixes.push(Prefix {
                        first: marker,
                        rest,
                        first_used: false,
                    });
                    if let Some(Node::Element(first)) = li.children.first()
                        && matches!(first.tag, Tag::Ul | Tag::Ol)
                    {
                        // `- - -` would be a rule: a list first in an item starts on the
                        // line after the item's marker.
                        self.begin_content();
                        self.end_line();
                    }
                    self.flow(&li.children, Container::Item);
                    if !self.prefixes.last().is_some_and(|p| p.first_used) {
                        self.begin_content();
                        self.end_line();
                    }
                    self.prefixes.pop();
                }
            }
            // Inline elements and items never reach here: `units` sorts them out.
            _ => self.inline(std::slice::from_ref(&Node::Element(e.clone()))),
        }
    }

    // -------------------------------------------------------------------------------
    // Inline content

    fn inline(&mut self, nodes: &[Node]) {
        for (i, node) in nodes.iter().enumerate() {
            match node {
                Node::Text(t) => self.text(t),
                Node::Element(e) => self.inline_element(e, nodes.get(i + 1)),
                Node::Raw(source) => self.raw_html(source),
            }
        }
    }

    fn inline_element(&mut self, e: &Element, next: Option<&Node>) {
        let delimiter = match e.tag {
            Tag::Strong => Some("**"),
            Tag::Em => Some("*"),
            Tag::S => Some("~~"),
            _ => None,
        };
        if let Some(d) = delimiter
            && self.emphasis_fits(e, next)
        {
            self.raw(d);
            self.inline(&e.children);
            self.raw(d);
            return;
        }
        if e.tag == Tag::Code
            && let Some(code) = plain_code(e)
            && self.last_char() != Some('`')
        {
            self.raw("`");
            self.raw(code);
            self.raw("`");
            return;
        }
        if e.tag == Tag::A
            && let [(key, href)] = e.attrs.as_slice()
            && key == "href"
            && !href.chars().any(char::is_control)
            && !has_break(&e.children)
            // `![` would be an image.
            && self.last_char() != Some('!')
        {
            self.raw("[");
            self.inline(&e.children);
            self.raw("](");
            let dest = destination(href);
            self.raw(&dest);
            self.raw(")");
            return;
        }
        // Inline HTML, which the reader takes back as the same element.
        let mut open = String::with_capacity(16);
        open.push('<');
        open.push_str(e.tag.name());
        for (k, v) in &e.attrs {
            open.push(' ');
            open.push_str(k);
            open.push_str("=\"");
            html_attribute(v, &mut open);
            open.push('"');
        }
        open.push('>');
        self.raw(&open);
        self.inline(&e.children);
        self.raw("</");
        self.raw(e.tag.name());
        self.raw(">");
    }

    /// An element kept raw ([`crate::raw`]): its source, as inline HTML. One alone on the
    /// first line of a paragraph is an HTML block to CommonMark, which the reader takes
    /// back as the same inline content.
    fn raw_html(&mut self, source: &str) {
        for (i, line) in source.split('\n').enumerate() {
            if i > 0 {
                self.end_line();
            }
            if !line.is_empty() {
                self.raw(line);
            }
        }
    }

    /// Whether `**`/`*`/`~~` around `e` reads back as exactly `e`: the content starts and
    /// ends with a letter or digit (so the delimiters flank it whatever surrounds them),
    /// holds no line break, and no other delimiter run touches these ones.
    fn emphasis_fits(&self, e: &Element, next: Option<&Node>) -> bool {
        let starts = matches!(e.children.first(), Some(Node::Text(t)) if t.chars().next().is_some_and(char::is_alphanumeric));
        let ends = matches!(e.children.last(), Some(Node::Text(t)) if t.chars().last().is_some_and(char::is_alphanumeric));
        let next_ok = match next {
            None | Some(Node::Text(_)) => true,
            Some(Node::Element(n)) => matches!(n.tag, Tag::Code | Tag::A | Tag::U),
            // Raw HTML starts with `<`, as `<u>` does.
            Some(Node::Raw(_)) => true,
        };
        starts
            && ends
            && next_ok
            && !matches!(self.last_char(), Some('*' | '~'))
            && !has_break(&e.children)
    }

    /// Writes text, escaping what Markdown would read as syntax. Runs of characters that
    /// need nothing are copied whole: only ASCII characters are ever escaped, so a line is
    /// searched for their bytes ([`find_byte`]) and cut only next to one. Each line is
    /// handled on its own: no escape looks past a line break (`&` looks for `name;`, a
    /// line start for digits and `.`/`)`, neither of which crosses `\n`).
    fn text(&mut self, t: &str) {
        if self.verbatim {
            self.raw(t);
            return;
        }
        for (n, line) in t.split('\n').enumerate() {
            if n > 0 {
                self.end_line();
            }
            if line.is_empty() {
                continue;
            }
            self.begin_content();
            let mut from = 0;
            if self.line != Line::Content {
                from = self.line_start(line);
            }
            self.line = Line::Content;
            self.mid_line(line, from);
        }
    }

    /// Escapes the first character of a line's content where Markdown reads it as syntax
    /// only there (indentation, `#`, `>`, list markers, setext underlines, `1.`); returns
    /// the bytes of `line` written (0 when the character is left to [`Self::mid_line`]).
    fn line_start(&mut self, line: &str) -> usize {
        let out = &mut self.out;
        match line.as_bytes()[0] {
            b' ' => out.push_str("&#32;"),
            b'\t' => out.push_str("&#9;"),
            c @ (b'#' | b'>' | b'-' | b'+' | b'=') => {
                out.push('\\');
                out.push(char::from(c));
            }
            b'0'..=b'9' => {
                let digits = line.bytes().take_while(u8::is_ascii_digit).count();
                match line.as_bytes().get(digits) {
                    Some(p @ (b'.' | b')')) if digits <= 9 => {
                        out.push_str(&line[..digits]);
                        out.push('\\');
                        out.push(char::from(*p));
                        return digits + 1;
                    }
                    _ => return 0,
                }
            }
            _ => return 0,
        }
        1
    }

    /// Writes `line[from..]`, which holds no line break and follows content on its line,
    /// escaping the characters Markdown reads as syntax anywhere.
    fn mid_line(&mut self, line: &str, from: usize) {
        // The bytes that may need an escape (`&` and `#` only in some places).
        let special = |b: u8| {
            (b == b'\r')
                | (b == b'\\')
                | (b == b'`')
                | (b == b'*')
                | (b == b'_')
                | (b == b'[')
                | (b == b']')
                | (b == b'<')
                | (b == b'~')
                | (b == b'&')
                | (b == b'#')
        };
        let bytes = line.as_bytes();
        let mut copied = from; // `line[..copied]` is written
        let mut next = from; // where to look for the next special byte
        while let Some(found) = find_byte(&bytes[next..], special) {
            let at = next + found;
            next = at + 1;
            let escape = match bytes[at] {
                b'\r' => "&#13;",
                b'\\' => "\\\\",
                b'`' => "\\`",
                b'*' => "\\*",
                b'_' => "\\_",
                b'[' => "\\[",
                b']' => "\\]",
                b'<' => "\\<",
                b'~' => "\\~",
                b'&' if entity_like(&line[at + 1..]) => "\\&",
                b'#' if self.in_heading => "\\#",
                _ => continue,
            };
            // `at` is an ASCII byte, so both cuts fall on character boundaries.
            self.out.push_str(&line[copied..at]);
            self.out.push_str(escape);
            copied = at + 1;
        }
        self.out.push_str(&line[copied..]);
    }

    /// The character-by-character writer `text` replaced, kept as the reference its
    /// output is compared with (`tests::text_matches_reference`).
    #[cfg(test)]
    fn text_reference(&mut self, t: &str) {
        if self.verbatim {
            self.raw(t);
            return;
        }
        let mut skip_to = 0;
        for (i, c) in t.char_indices() {
            if i < skip_to {
                continue;
            }
            if c == '\n' {
                self.end_line();
                continue;
            }
            let at_start = self.line != Line::Content;
            self.begin_content();
            let out = &mut self.out;
            match c {
                ' ' if at_start => out.push_str("&#32;"),
                '\t' if at_start => out.push_str("&#9;"),
                '\r' => out.push_str("&#13;"),
                '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '~' => {
                    out.push('\\');
                    out.push(c);
                }
                '&' if entity_like(&t[i + 1..]) => out.push_str("\\&"),
                '#' if at_start || self.in_heading => out.push_str("\\#"),
                '>' | '-' | '+' | '=' if at_start => {
                    out.push('\\');
                    out.push(c);
                }
                '0'..='9' if at_start => {
                    let rest = &t[i..];
                    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                    match rest.as_bytes().get(digits) {
                        Some(p @ (b'.' | b')')) if digits <= 9 => {
                            out.push_str(&rest[..digits]);
                            out.push('\\');
                            out.push(char::from(*p));
                            skip_to = i + digits + 1;
                        }
                        _ => out.push(c),
                    }
                }
                c => out.push(c),
            }
            self.line = Line::Content;
        }
    }
}

/// Whether a list's first line is its marker alone (its first item is empty or starts
/// with a list).
fn starts_bare(list: &Element) -> bool {
    match list.children.first() {
        Some(Node::Element(li)) => match li.children.first() {
            None => true,
            Some(Node::Element(e)) => matches!(e.tag, Tag::Ul | Tag::Ol),
            Some(Node::Text(_) | Node::Raw(_)) => false,
        },
        _ => false,
    }
}

/// Whether an element kept raw stands in a run's last Markdown paragraph (after its last
/// empty line; normal form keeps consecutive line breaks in one text).
fn raw_in_last_paragraph(run: &[Node]) -> bool {
    fn walk(nodes: &[Node], seen: &mut bool) {
        for n in nodes {
            match n {
                Node::Text(t) if t.contains("\n\n") => *seen = false,
                Node::Text(_) => {}
                Node::Raw(_) => *seen = true,
                Node::Element(e) => walk(&e.children, seen),
            }
        }
    }
    let mut seen = false;
    walk(run, &mut seen);
    seen
}

/// Splits a flow into runs of inline nodes and block elements.
fn units(nodes: &[Node]) -> Vec<Unit<'_>> {
    let mut units = Vec::new();
    let mut run: Vec<Node> = Vec::new();
    for node in nodes {
        match node {
            Node::Element(e) if !e.tag.is_inline() => {
                if !run.is_empty() {
                    units.push(Unit::Run(std::mem::take(&mut run)));
                }
                units.push(Unit::Block(e));
            }
            n => run.push(n.clone()),
        }
    }
    if !run.is_empty() {
        units.push(Unit::Run(run));
    }
    units
}

/// The line breaks at the start and end of a run (normal form keeps them in texts at the
/// run's edges, never inside formatting).
fn edge_breaks(run: &[Node]) -> (usize, usize) {
    let lead = match run.first() {
        Some(Node::Text(t)) => t.len() - t.trim_start_matches('\n').len(),
        _ => 0,
    };
    let trail = match run.last() {
        Some(Node::Text(t)) => t.len() - t.trim_end_matches('\n').len(),
        _ => 0,
    };
    (lead, trail)
}

/// The length of a run that is one text (else a length no break count equals).
fn text_len(run: &[Node]) -> usize {
    match run {
        [Node::Text(t)] => t.len(),
        _ => usize::MAX,
    }
}

fn trim_edges(run: &mut Vec<Node>, lead: usize, trail: usize) {
    if lead > 0
        && let Some(Node::Text(t)) = run.first_mut()
    {
        t.drain(..lead);
    }
    if trail > 0
        && let Some(Node::Text(t)) = run.last_mut()
    {
        t.truncate(t.len() - trail);
    }
    run.retain(|n| !matches!(n, Node::Text(t) if t.is_empty()));
}

fn has_break(nodes: &[Node]) -> bool {
    nodes.iter().any(|n| match n {
        Node::Text(t) => t.contains('\n'),
        Node::Element(e) => has_break(&e.children),
        Node::Raw(source) => source.contains('\n'),
    })
}

/// The text of a `<code>` that a backtick code span carries unchanged.
fn plain_code(e: &Element) -> Option<&str> {
    let [Node::Text(t)] = e.children.as_slice() else {
        return None;
    };
    let fits = !t.is_empty()
        && !t.starts_with(' ')
        && !t.ends_with(' ')
        && !t.chars().any(|c| c == '`' || c.is_control());
    fits.then_some(t.as_str())
}

/// A link destination: bare where it can be, in `<...>` when it has whitespace or is
/// empty; Markdown's escapes and references are escaped.
fn destination(href: &str) -> String {
    let angle = href.is_empty() || href.chars().any(char::is_whitespace);
    let mut out = String::with_capacity(href.len() + 2);
    if angle {
        out.push('<');
    }
    for (i, c) in href.char_indices() {
        match c {
            '\\' | '<' | '>' => {
                out.push('\\');
                out.push(c);
            }
            '(' | ')' if !angle => {
                out.push('\\');
                out.push(c);
            }
            '&' if entity_like(&href[i + 1..]) => out.push_str("\\&"),
            c => out.push(c),
        }
    }
    if angle {
        out.push('>');
    }
    out
}

/// An attribute value of inline HTML, escaped as the reader unescapes it.
fn html_attribute(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
}

/// Whether `&` followed by `rest` could be read as a character reference.
fn entity_like(rest: &str) -> bool {
    let n = rest
        .bytes()
        .take(40)
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'#')
        .count();
    n > 0 && rest.as_bytes().get(n) == Some(&b';')
}

fn longest_run(text: &str, c: char) -> usize {
    let mut longest = 0;
    let mut current = 0;
    for ch in text.chars() {
        if ch == c {
            current += 1;
            longest = longest.max(current);
        } else {
            current = 0;
        }
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::{Line, Prefix, Writer};
    use proptest::prelude::*;

    /// Pieces of text rich in what `text` escapes: Markdown's special characters, those
    /// special only at a line start, entity-like `&`, digits before `.`/`)`, line breaks,
    /// carriage returns, spaces, tabs and non-ASCII characters.
    const PIECES: &[&str] = &[
        "a",
        "Z",
        "word",
        " ",
        "  ",
        "\t",
        "\n",
        "\n\n",
        "\r",
        "\r\n",
        "\\",
        "`",
        "*",
        "_",
        "[",
        "]",
        "<",
        ">",
        "~",
        "&",
        "&amp;",
        "&#10;",
        "&x",
        ";",
        "#",
        "-",
        "+",
        "=",
        ".",
        ")",
        "(",
        "!",
        "1",
        "42",
        "123456789",
        "1234567890",
        "0.",
        "7)",
        "é",
        "中",
        "🙂",
        "\u{a0}",
        "\u{2028}",
    ];

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(PIECES), 0..24).prop_map(|v| v.concat())
    }

    /// A writer in any state `text` can be called in: on a fresh, prefixed or started
    /// line, in a list item or a quote, in a heading, in a code block.
    fn writer() -> impl Strategy<Value = Writer> {
        (0..3u8, 0..3u8, any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
            |(line, prefix, first_used, in_heading, verbatim)| {
                let mut w = Writer::new();
                w.line = [Line::Fresh, Line::Prefixed, Line::Content][usize::from(line)];
                if prefix > 0 {
                    let (first, rest) = if prefix == 1 {
                        ("- ", "  ")
                    } else {
                        ("> ", "> ")
                    };
                    w.prefixes.push(Prefix {
                        first: first.into(),
                        rest: rest.into(),
                        first_used,
                    });
                }
                if w.line == Line::Content {
                    w.out.push('x');
                }
                w.in_heading = in_heading;
                w.verbatim = verbatim;
                w
            },
        )
    }

    fn state(w: &Writer) -> (String, bool, Vec<bool>) {
        (
            w.out.clone(),
            w.line == Line::Content,
            w.prefixes.iter().map(|p| p.first_used).collect(),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// `text` copying runs writes byte for byte what the character-by-character
        /// writer wrote, and leaves the writer in the same state, over several calls in a
        /// row (texts next to each other, as between inline elements).
        #[test]
        fn text_matches_reference(start in writer(), texts in prop::collection::vec(text(), 1..4)) {
            let mut fast = start.clone();
            let mut reference = start;
            for t in &texts {
                fast.text(t);
                reference.text_reference(t);
                prop_assert_eq!(state(&fast), state(&reference), "after {:?}", t);
                prop_assert!(fast.line == reference.line);
            }
        }
    }

    /// A few outputs spelt out, so that the reference itself is pinned.
    #[test]
    fn text_escapes() {
        let cases = [
            ("1. a*b", "1\\. a\\*b"),
            ("1234567890. x", "1234567890. x"),
            (" # x &amp; y &z", "&#32;# x \\&amp; y &z"),
            ("a\r\n- b\n\n+ c é", "a&#13;\n\\- b\n\n\\+ c é"),
        ];
        for (text, markdown) in cases {
            let mut w = Writer::new();
            w.text(text);
            assert_eq!(w.out, markdown, "{text:?}");
        }
    }
}
