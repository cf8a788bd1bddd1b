//! The HTML inside Markdown: recognising the tags of Asana's subset that the Markdown
//! writer uses for what Markdown cannot say (`<u>`, `<a data-asana-gid=...>`...), the
//! inline images Asana takes back (`<img data-asana-gid=... />`, see [`crate::raw`]), and
//! the character references in raw HTML. Anything else is not a tag to this crate and
//! stays text.

use crate::html::{self, Mode};
use crate::raw;
use crate::tree::{LINK_ATTRIBUTES, Node, Tag};

/// What one piece of HTML is to this crate.
#[derive(Debug, PartialEq, Eq)]
pub enum HtmlToken {
    /// An opening tag of an inline element of the subset (`self_closing` for `<a .../>`).
    Open {
        /// The element.
        tag: Tag,
        /// Its attributes (only `<a>` has any, from Asana's list), unescaped.
        attrs: Vec<(String, String)>,
        /// `<a .../>`.
        self_closing: bool,
    },
    /// A closing tag of an inline element of the subset.
    Close(Tag),
    /// `<br>`: a line break.
    LineBreak,
    /// An inline image Asana accepts, as written (kept byte for byte).
    Raw(String),
    /// Anything else: kept as text.
    Other,
}

/// Reads the tag at the start of `s`; returns it and its length in bytes (`Other` with
/// length 0 when `s` does not start with a tag).
pub fn scan(s: &str) -> (HtmlToken, usize) {
    scan_with(s, true)
}

/// Whether `s` is exactly one tag as raw HTML in CommonMark spells one (attributes
/// separated by whitespace...), so that Markdown carries it as inline HTML.
pub fn is_one_tag(s: &str) -> bool {
    scan_with(s, false).1 == s.len()
}

/// [`scan`]; `images`: whether to check an `<img .../>` as an image Asana takes (else it
/// is `Other`, with its length).
fn scan_with(s: &str, images: bool) -> (HtmlToken, usize) {
    let b = s.as_bytes();
    if b.first() != Some(&b'<') {
        return (HtmlToken::Other, 0);
    }
    if b.get(1) == Some(&b'/') {
        let name_len = b[2..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        let name = &s[2..2 + name_len];
        let mut i = 2 + name_len;
        while b.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        if b.get(i) != Some(&b'>') || name_len == 0 {
            return (HtmlToken::Other, 0);
        }
        return match Tag::from_name(name) {
            Some(tag) if tag.is_inline() => (HtmlToken::Close(tag), i + 1),
            _ => (HtmlToken::Other, i + 1),
        };
    }
    let name_len = b[1..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    if name_len == 0 {
        return (HtmlToken::Other, 0);
    }
    let name = &s[1..=name_len];
    let mut i = 1 + name_len;
    let mut attrs = Vec::new();
    let self_closing;
    loop {
        let ws = b[i..]
            .iter()
            .take_while(|c| c.is_ascii_whitespace())
            .count();
        i += ws;
        match b.get(i) {
            Some(b'>') => {
                self_closing = false;
                i += 1;
                break;
            }
            Some(b'/') if b.get(i + 1) == Some(&b'>') => {
                self_closing = true;
                i += 2;
                break;
            }
            Some(c) if ws > 0 && (c.is_ascii_alphabetic() || *c == b'_' || *c == b':') => {
                let key_len = b[i..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || b"_.:-".contains(c))
                    .count();
                let key = &s[i..i + key_len];
                i += key_len;
                let save = i;
                i += b[i..]
                    .iter()
                    .take_while(|c| c.is_ascii_whitespace())
                    .count();
                if b.get(i) != Some(&b'=') {
                    attrs.push((key.to_owned(), String::new()));
                    i = save;
                    continue;
                }
                i += 1;
                i += b[i..]
                    .iter()
                    .take_while(|c| c.is_ascii_whitespace())
                    .count();
                let (value, len) = match b.get(i) {
                    Some(q @ (b'"' | b'\'')) => match s[i + 1..].find(char::from(*q)) {
                        Some(end) => (&s[i + 1..i + 1 + end], end + 2),
                        None => return (HtmlToken::Other, 0),
                    },
                    Some(_) => {
                        let end = b[i..]
                            .iter()
                            .take_while(|c| !c.is_ascii_whitespace() && !b"\"'=<>`".contains(c))
                            .count();
                        if end == 0 {
                            return (HtmlToken::Other, 0);
                        }
                        (&s[i..i + end], end)
                    }
                    None => return (HtmlToken::Other, 0),
                };
                attrs.push((key.to_owned(), decode_references(value)));
                i += len;
            }
            _ => return (HtmlToken::Other, 0),
        }
    }
    if name == "br" && attrs.is_empty() {
        return (HtmlToken::LineBreak, i);
    }
    if name == raw::IMAGE && self_closing {
        let source = &s[..i];
        return if images && is_sendable_image(source) {
            (HtmlToken::Raw(source.to_owned()), i)
        } else {
            (HtmlToken::Other, i)
        };
    }
    let token = match Tag::from_name(name) {
        Some(tag) if tag.is_inline() => {
            let allowed = attrs
                .iter()
                .all(|(k, _)| tag == Tag::A && LINK_ATTRIBUTES.contains(&k.as_str()));
            if allowed && (!self_closing || tag == Tag::A) {
                HtmlToken::Open {
                    tag,
                    attrs,
                    self_closing,
                }
            } else {
                HtmlToken::Other
            }
        }
        _ => HtmlToken::Other,
    };
    (token, i)
}

/// Whether `source` (one `<img .../>` tag) is an image Asana takes, in valid XML: the
/// guard that checks what is sent decides.
fn is_sendable_image(source: &str) -> bool {
    let doc = format!("<body>{source}</body>");
    matches!(html::parse(&doc, Mode::Send).as_deref(), Ok([Node::Raw(kept)]) if kept == source)
}

/// Replaces the character references of XML (`&amp;`, `&lt;`, `&gt;`, `&quot;`,
/// `&apos;`, `&#...;`) in raw HTML; anything else stays as written.
pub fn decode_references(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.bytes().take(12).position(|b| b == b';');
        let decoded = end.and_then(|end| {
            let name = &rest[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => {
                    let num = name.strip_prefix('#')?;
                    let code = match num.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => num.parse().ok()?,
                    };
                    char::from_u32(code).filter(|&c| c != '\0')
                }
            }?;
            Some((c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
