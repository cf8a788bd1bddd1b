//! The document model both conversions meet in: a tree of Asana's rich-text elements, its
//! normal form (the one shape each document is kept in, so that comparing two documents is
//! comparing two trees) and its serialisation as `html_notes`.

use std::fmt::Write as _;

/// How deep elements may nest. Asana's editor nests lists a handful of levels; a document
/// deeper than this is refused rather than risking the stack.
pub const MAX_DEPTH: usize = 100;

/// The tags of Asana's rich-text subset that this crate reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tag {
    /// `<strong>`: bold.
    Strong,
    /// `<em>`: italic.
    Em,
    /// `<u>`: underline.
    U,
    /// `<s>`: strikethrough.
    S,
    /// `<code>`: monospaced text.
    Code,
    /// `<a>`: a link or an @-mention (the only tag with attributes).
    A,
    /// `<ul>`: a bulleted list.
    Ul,
    /// `<ol>`: a numbered list.
    Ol,
    /// `<li>`: a list item.
    Li,
    /// `<h1>`: a heading.
    H1,
    /// `<h2>`: a subheading.
    H2,
    /// `<blockquote>`: a quote.
    Blockquote,
    /// `<pre>`: a code block.
    Pre,
    /// `<hr>`: a rule (always empty).
    Hr,
}

/// The attributes Asana documents on `<a>`; any other attribute is refused.
pub const LINK_ATTRIBUTES: &[&str] = &[
    "href",
    "data-asana-accessible",
    "data-asana-dynamic",
    "data-asana-type",
    "data-asana-gid",
    "data-asana-project",
    "data-asana-tag",
];

impl Tag {
    /// The tag for an element name, if it is one of the subset.
    pub fn from_name(name: &str) -> Option<Tag> {
        Some(match name {
            "strong" => Tag::Strong,
            "em" => Tag::Em,
            "u" => Tag::U,
            "s" => Tag::S,
            "code" => Tag::Code,
            "a" => Tag::A,
            "ul" => Tag::Ul,
            "ol" => Tag::Ol,
            "li" => Tag::Li,
            "h1" => Tag::H1,
            "h2" => Tag::H2,
            "blockquote" => Tag::Blockquote,
            "pre" => Tag::Pre,
            "hr" => Tag::Hr,
            _ => return None,
        })
    }

    /// The element name.
    pub fn name(self) -> &'static str {
        match self {
            Tag::Strong => "strong",
            Tag::Em => "em",
            Tag::U => "u",
            Tag::S => "s",
            Tag::Code => "code",
            Tag::A => "a",
            Tag::Ul => "ul",
            Tag::Ol => "ol",
            Tag::Li => "li",
            Tag::H1 => "h1",
            Tag::H2 => "h2",
            Tag::Blockquote => "blockquote",
            Tag::Pre => "pre",
            Tag::Hr => "hr",
        }
    }

    /// Inline formatting: the five marks and links.
    pub fn is_inline(self) -> bool {
        matches!(
            self,
            Tag::Strong | Tag::Em | Tag::U | Tag::S | Tag::Code | Tag::A
        )
    }

    /// A mark: inline formatting other than a link.
    pub fn is_mark(self) -> bool {
        self.is_inline() && self != Tag::A
    }

    /// Whether `child` may appear directly inside `self` (`None` = text). Asana's rules
    /// for tasks: lists hold items; items hold inline content and nested lists; headings,
    /// quotes and inline elements hold inline content; a code block holds text; a rule
    /// holds nothing; a link holds no link.
    pub fn allows(parent: Option<Tag>, child: Option<Tag>) -> bool {
        match parent {
            // The body.
            None => child != Some(Tag::Li),
            Some(Tag::Ul | Tag::Ol) => child == Some(Tag::Li),
            Some(Tag::Li) => child.is_none_or(|c| c.is_inline() || matches!(c, Tag::Ul | Tag::Ol)),
            Some(Tag::H1 | Tag::H2 | Tag::Blockquote) => child.is_none_or(Tag::is_inline),
            Some(Tag::A) => child.is_none_or(Tag::is_mark),
            Some(t) if t.is_mark() => child.is_none_or(Tag::is_inline),
            Some(Tag::Pre) => child.is_none(),
            Some(_) => false,
        }
    }
}

/// One node of a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// Text, with `\n` for line breaks (Asana has no paragraph element).
    Text(String),
    /// An element of the subset.
    Element(Element),
    /// An element Markdown has no syntax for and the subset no tag for (an inline image
    /// `<img .../>`, or anything else Asana sends inside `<body>`): its exact XML source,
    /// from `<` to the end of its end tag, written back byte for byte on both sides (see
    /// [`crate::raw`]).
    Raw(String),
}

/// An element with its attributes (only `<a>` has any) and children.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    /// Which element.
    pub tag: Tag,
    /// Attributes in document order, values unescaped.
    pub attrs: Vec<(String, String)>,
    /// The content.
    pub children: Vec<Node>,
}

impl Element {
    /// An element without attributes.
    pub fn new(tag: Tag, children: Vec<Node>) -> Self {
        Element {
            tag,
            attrs: Vec::new(),
            children,
        }
    }
}

/// Whether `c` may appear in an XML 1.0 document at all.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The first character of `text` that XML cannot carry ([`is_xml_char`]), if any. The
/// bytes answer for almost every text: in UTF-8 such a character is a control byte other
/// than tab, line feed and carriage return, or U+FFFE/U+FFFF, which start with `0xEF`
/// (a `str` holds no surrogates); only a text with one of those bytes is decoded.
pub fn find_non_xml_char(text: &str) -> Option<char> {
    let suspect = |b: u8| (b < 0x20) & (b != b'\t') & (b != b'\n') & (b != b'\r') | (b == 0xEF);
    let from = find_byte(text.as_bytes(), suspect)?;
    // `from` is a control byte or the lead byte 0xEF: a character boundary.
    text[from..].chars().find(|&c| !is_xml_char(c))
}

/// The index of the first byte of `bytes` that `hit` holds for. The bytes of a 32-byte
/// block are all tested into an array before any is looked at, a shape the compiler turns
/// into a few vector instructions (`hit` should use `&`/`|`, not `&&`/`||`); only the
/// block holding a hit is searched byte by byte. Five to ten times faster than a byte
/// loop on a 2 KB text without hits.
pub fn find_byte(bytes: &[u8], hit: impl Fn(u8) -> bool) -> Option<usize> {
    let (blocks, rest) = bytes.as_chunks::<32>();
    for (n, block) in blocks.iter().enumerate() {
        let hits = block.map(|b| u8::from(hit(b)));
        if hits.iter().fold(0, |any, &h| any | h) != 0 {
            return block.iter().position(|&b| hit(b)).map(|i| n * 32 + i);
        }
    }
    let start = blocks.len() * 32;
    rest.iter().position(|&b| hit(b)).map(|i| start + i)
}

// ---------------------------------------------------------------------------------------
// Normal form

/// Puts a document in normal form, the shape Asana's editor keeps rich text in:
/// - adjacent texts are one text, and no text is empty;
/// - a mark (bold, italic, underline, strikethrough, code) is never empty, never inside
///   the same mark, never next to the same mark (they are one), and never starts or ends
///   with a line break (the break is outside it); a link never holds a link;
/// - a heading has no line break (a break becomes a space); a code block holds text only,
///   its lines ending with `\n` alone.
pub fn normalize(nodes: Vec<Node>) -> Vec<Node> {
    let mut out = Vec::with_capacity(nodes.len());
    normalize_into(nodes, &mut out, 0);
    out
}

/// Bit of `marks` set inside a heading.
const IN_HEADING: u8 = 64;

/// `marks` is a bit set of the marks (and link) open around these nodes, and of
/// [`IN_HEADING`].
fn normalize_into(nodes: Vec<Node>, out: &mut Vec<Node>, marks: u8) {
    for node in nodes {
        match node {
            Node::Text(t) => {
                let t = if marks & IN_HEADING != 0 && t.contains('\n') {
                    t.replace('\n', " ")
                } else {
                    t
                };
                push_node(out, Node::Text(t));
            }
            Node::Raw(source) => push_node(out, Node::Raw(source)),
            Node::Element(mut e) => {
                if e.tag == Tag::Pre {
                    let mut text = String::new();
                    flatten_text(&e.children, &mut text);
                    // A code block's lines end with `\n` alone (a carriage return is a
                    // line end in Markdown's code blocks, which cannot carry one).
                    if text.contains('\r') {
                        text = text.replace("\r\n", "\n").replace('\r', "\n");
                    }
                    e.children = vec![Node::Text(text)];
                    e.children
                        .retain(|n| !matches!(n, Node::Text(t) if t.is_empty()));
                    push_node(out, Node::Element(e));
                    continue;
                }
                let bit = mark_bit(e.tag);
                if bit != 0 && marks & bit != 0 {
                    // The same mark inside itself (or a link in a link): only the content.
                    normalize_into(e.children, out, marks);
                    continue;
                }
                let heading = if matches!(e.tag, Tag::H1 | Tag::H2) {
                    IN_HEADING
                } else {
                    0
                };
                let mut children = Vec::with_capacity(e.children.len());
                normalize_into(
                    std::mem::take(&mut e.children),
                    &mut children,
                    marks | bit | heading,
                );
                e.children = children;
                if e.tag.is_inline() {
                    let (before, after) = hoist_breaks(&mut e.children);
                    if before > 0 {
                        push_node(out, Node::Text("\n".repeat(before)));
                    }
                    if e.tag != Tag::A && e.children.is_empty() {
                        // An empty mark formats nothing.
                    } else {
                        push_node(out, Node::Element(e));
                    }
                    if after > 0 {
                        push_node(out, Node::Text("\n".repeat(after)));
                    }
                } else {
                    push_node(out, Node::Element(e));
                }
            }
        }
    }
}

fn mark_bit(tag: Tag) -> u8 {
    match tag {
        Tag::Strong => 1,
        Tag::Em => 2,
        Tag::U => 4,
        Tag::S => 8,
        Tag::Code => 16,
        Tag::A => 32,
        _ => 0,
    }
}

/// Takes the line breaks at the start and end of an inline element's content out of it;
/// returns how many there were at each end.
fn hoist_breaks(children: &mut Vec<Node>) -> (usize, usize) {
    let mut before = 0;
    if let Some(Node::Text(t)) = children.first_mut() {
        before = t.len() - t.trim_start_matches('\n').len();
        t.drain(..before);
        if t.is_empty() {
            children.remove(0);
        }
    }
    let mut after = 0;
    if let Some(Node::Text(t)) = children.last_mut() {
        after = t.len() - t.trim_end_matches('\n').len();
        t.truncate(t.len() - after);
        if t.is_empty() {
            children.pop();
        }
    }
    (before, after)
}

/// Appends a normalised node, merging it with the previous one where the normal form says
/// they are one (texts; the same mark twice in a row, merged at their junction too).
fn push_node(out: &mut Vec<Node>, node: Node) {
    match (out.last_mut(), node) {
        (_, Node::Text(t)) if t.is_empty() => {}
        (Some(Node::Text(prev)), Node::Text(t)) => prev.push_str(&t),
        (Some(Node::Element(prev)), Node::Element(e)) if prev.tag == e.tag && e.tag.is_mark() => {
            for child in e.children {
                push_node(&mut prev.children, child);
            }
        }
        (_, node) => out.push(node),
    }
}

fn flatten_text(nodes: &[Node], out: &mut String) {
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Element(e) => flatten_text(&e.children, out),
            Node::Raw(_) => {}
        }
    }
}

// ---------------------------------------------------------------------------------------
// Serialisation

/// Writes a document as `html_notes`: `<body>`, the content with `&`, `<`, `>` (and `"` in
/// attributes) escaped, `</body>`. A rule is `<hr/>`, a link without content `<a .../>`.
pub fn to_xml(nodes: &[Node]) -> String {
    let mut out = String::with_capacity(64);
    out.push_str("<body>");
    write_nodes(nodes, &mut out);
    out.push_str("</body>");
    out
}

fn write_nodes(nodes: &[Node], out: &mut String) {
    for n in nodes {
        match n {
            Node::Text(t) => escape_xml(t, false, out),
            Node::Raw(source) => out.push_str(source),
            Node::Element(e) => {
                out.push('<');
                out.push_str(e.tag.name());
                for (k, v) in &e.attrs {
                    out.push(' ');
                    out.push_str(k);
                    out.push_str("=\"");
                    escape_xml(v, true, out);
                    out.push('"');
                }
                if e.children.is_empty() && matches!(e.tag, Tag::Hr | Tag::A) {
                    out.push_str("/>");
                } else {
                    out.push('>');
                    write_nodes(&e.children, out);
                    out.push_str("</");
                    out.push_str(e.tag.name());
                    out.push('>');
                }
            }
        }
    }
}

/// XML-escapes `text` onto `out`. Characters XML cannot carry at all are dropped (they
/// never come from Asana, and a document carrying them would be refused). In attribute
/// values, `"` and the whitespace that attribute normalisation would turn into spaces are
/// written as references.
pub fn escape_xml(text: &str, attribute: bool, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            '\n' | '\t' if attribute => {
                let _ = write!(out, "&#{};", c as u32);
            }
            c if !is_xml_char(c) => {}
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{find_byte, find_non_xml_char, is_xml_char};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The byte scan finds what the character scan finds, on any text and on texts
        /// made of the characters at the edges of XML's ranges.
        #[test]
        fn find_non_xml_char_matches_char_scan(
            any_text in any::<String>(),
            edges in prop::collection::vec(prop::sample::select(vec![
                'a', ' ', '\t', '\n', '\r', '\u{0}', '\u{1}', '\u{8}', '\u{b}', '\u{1f}',
                '\u{7f}', 'é', '\u{d7ff}', '\u{e000}', '\u{efff}', '\u{f000}', '\u{ff21}',
                '\u{fffd}', '\u{fffe}', '\u{ffff}', '\u{10000}', '\u{10ffff}',
            ]), 0..12),
        ) {
            let edges: String = edges.into_iter().collect();
            for text in [any_text.as_str(), edges.as_str()] {
                prop_assert_eq!(find_non_xml_char(text), text.chars().find(|&c| !is_xml_char(c)));
            }
        }

        /// `find_byte` finds the first hit, in texts shorter and longer than its blocks.
        #[test]
        fn find_byte_finds_the_first(bytes in prop::collection::vec(prop::sample::select(b"ab\n".to_vec()), 0..100)) {
            prop_assert_eq!(find_byte(&bytes, |b| b == b'\n'), bytes.iter().position(|&b| b == b'\n'));
        }
    }
}
