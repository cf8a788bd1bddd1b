//! Plain descriptions: the ones [`crate::read_exact`] may call exact without reading their
//! Markdown back, because nothing in them is Markdown syntax.
//!
//! Most descriptions are plain lines of prose. [`is_plain`] is a conservative test for
//! them: a document that is one text (normal form merges texts) whose every line
//! - is not empty and starts with an ASCII letter, which no block construct of CommonMark
//!   starts with (indentation, list markers, `#`, `>`, fences, rules, setext underlines,
//!   HTML blocks, link definitions), so the lines are one paragraph;
//! - holds only letters and digits (Unicode's: inline syntax is ASCII punctuation only),
//!   single spaces, and the punctuation in [`PUNCTUATION`], none of which
//!   [`crate::md_write`] escapes or CommonMark reads as syntax inside a line (anything
//!   else, such as `*`, `_`, `~`, `` ` ``, `[`, `<`, `\`, `&`, `#`, a tab or a carriage
//!   return, is left to the full check);
//! - does not end with a space (Markdown strips it, and the writer would use `&#32;`).
//!
//! Such a text is written line for line as it is, and its paragraph's soft breaks read
//! back as its line breaks: the same document. The property test below checks each step
//! (the Markdown is the text, CommonMark reads it as one paragraph of that text) and the
//! full read-back, on generated texts, safe and unsafe.

use crate::tree::{Node, find_byte};

/// Punctuation a plain line may hold (after its first character).
pub const PUNCTUATION: &[u8] = b",.:;!?'\"()/%-";

/// Whether a normalised document is one plain text, whose Markdown reads back as itself.
pub fn is_plain(tree: &[Node]) -> bool {
    let [Node::Text(text)] = tree else {
        return false;
    };
    text.split('\n').all(plain_line)
}

fn plain_line(line: &str) -> bool {
    line.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        && !line.ends_with(' ')
        && !line.contains("  ")
        && plain_chars(line)
}

/// Whether every character of `line` is a letter, a digit, a space or [`PUNCTUATION`].
/// ASCII is tested in blocks ([`find_byte`]); from the first other byte on (a non-ASCII
/// letter, say), character by character.
fn plain_chars(line: &str) -> bool {
    let other = |b: u8| {
        !(b.is_ascii_alphanumeric()
            | (b == b' ')
            | PUNCTUATION.iter().fold(false, |m, &p| m | (b == p)))
    };
    match find_byte(line.as_bytes(), other) {
        None => true,
        // Every byte before `at` is ASCII: `at` is a character boundary.
        Some(at) => line[at..].chars().all(|c| {
            c == ' '
                || c.is_alphanumeric()
                || u8::try_from(c).is_ok_and(|b| PUNCTUATION.contains(&b))
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    use super::is_plain;
    use crate::tree::escape_xml;
    use crate::{html, md_write, read_exact, reads_back, tree};

    /// Words a line may start with (ASCII, then any letters).
    const WORDS: &[&str] = &[
        "Line",
        "a",
        "Z",
        "task",
        "Notes",
        "xé",
        "Straße",
        "q中文",
        "Omega\u{3a9}",
        "v2",
    ];
    /// What a plain line may go on with: words, digits, Unicode letters and digits, single
    /// spaces, the allowed punctuation.
    const SAFE: &[&str] = &[
        " ",
        " ",
        " ",
        "word",
        "é",
        "中",
        "\u{663}",
        "42",
        "1.",
        "2)",
        ",",
        ".",
        ":",
        ";",
        "!",
        "?",
        "'",
        "\"",
        "(",
        ")",
        "/",
        "%",
        "-",
        "--",
        "http://x.y",
    ];
    /// Anything else: Markdown's syntax, entity-like text, odd whitespace, characters that
    /// are syntax only at a line start.
    const UNSAFE: &[&str] = &[
        "  ", "*", "_", "`", "~", "~~", "#", "&", "&amp;", "&#32;", "<", "<u>", ">", "[", "]",
        "[x](y)", "\\", "\t", "\r", "|", "$", "^", "=", "===", "+", "---", "- ", "1. ", "> ", "# ",
        "\u{a0}", "\u{2028}", "!", "\u{301}", "",
    ];

    /// A line: mostly plain-looking (a word, then safe pieces), or one such with an unsafe
    /// piece put somewhere in it (prose that is almost plain), or anything.
    fn line() -> impl Strategy<Value = String> {
        let safe = || {
            (
                prop::sample::select(WORDS),
                prop::collection::vec(prop::sample::select(SAFE), 0..12),
            )
                .prop_map(|(first, rest)| format!("{first}{}", rest.concat()))
        };
        let almost = (
            safe(),
            prop::sample::select(UNSAFE),
            any::<prop::sample::Index>(),
        )
            .prop_map(|(line, unsafe_piece, at)| {
                // Cut at a character boundary (the pieces hold non-ASCII letters).
                let cuts: Vec<usize> = (0..=line.len())
                    .filter(|&i| line.is_char_boundary(i))
                    .collect();
                let at = *at.get(&cuts);
                format!("{}{unsafe_piece}{}", &line[..at], &line[at..])
            });
        let any_piece = || prop::sample::select([WORDS, SAFE, UNSAFE].concat());
        let any = (any_piece(), prop::collection::vec(any_piece(), 0..8))
            .prop_map(|(first, rest)| format!("{first}{}", rest.concat()));
        prop_oneof![5 => safe(), 2 => almost, 1 => any]
    }

    /// A description of a few lines, as Asana sends it.
    fn html_notes() -> impl Strategy<Value = String> {
        prop::collection::vec(line(), 1..5).prop_map(|lines| {
            let mut html = String::from("<body>");
            escape_xml(&lines.join("\n"), false, &mut html);
            html.push_str("</body>");
            html
        })
    }

    /// CommonMark's reading of `markdown` when it is one paragraph of plain text: that text
    /// with soft breaks as line breaks (`None` for anything else).
    fn paragraph_text(markdown: &str) -> Option<String> {
        use pulldown_cmark::{Event, Parser, Tag, TagEnd};
        let mut events = Parser::new_ext(markdown, crate::md_read::options());
        if events.next() != Some(Event::Start(Tag::Paragraph)) {
            return None;
        }
        let mut text = String::new();
        for event in events.by_ref() {
            match event {
                Event::Text(t) => text.push_str(&t),
                Event::SoftBreak => text.push('\n'),
                Event::End(TagEnd::Paragraph) => break,
                _ => return None,
            }
        }
        events.next().is_none().then_some(text)
    }

    /// Whenever the document is plain, its Markdown is its text unescaped, CommonMark reads
    /// that as one paragraph of the same text, and the full read-back agrees that it is
    /// exact (so the fast path changes nothing); `read_exact` answers as the full path does
    /// on every case. A good share of the generated cases are plain, so this is not vacuous.
    #[test]
    fn plain_documents_read_back_exactly() {
        let cases = 3000;
        let mut runner = TestRunner::new(Config::with_cases(cases));
        let plain = Cell::new(0u32);
        runner
            .run(&html_notes(), |html| {
                let tree = tree::normalize(html::parse(&html, html::Mode::Read).unwrap());
                let markdown = md_write::write(&tree);
                let full = reads_back(&tree, &markdown);
                if is_plain(&tree) {
                    plain.set(plain.get() + 1);
                    let [tree::Node::Text(text)] = tree.as_slice() else {
                        unreachable!()
                    };
                    prop_assert_eq!(markdown.strip_suffix('\n'), Some(text.as_str()));
                    prop_assert_eq!(paragraph_text(&markdown), Some(text.clone()));
                    prop_assert_eq!(
                        full.as_ref().ok(),
                        Some(&true),
                        "{:?} -> {:?}",
                        html,
                        markdown
                    );
                }
                let full = full.map(|exact| (markdown, exact)).ok();
                prop_assert_eq!(read_exact(&html).ok(), full, "{:?}", html);
                Ok(())
            })
            .unwrap();
        println!("{} of {cases} generated documents are plain", plain.get());
        assert!(
            plain.get() > cases / 5,
            "only {} of {cases} generated documents are plain",
            plain.get()
        );
    }

    /// The plain test as first written, character by character: the reference the block
    /// scan of [`is_plain`] is compared with.
    fn plain_reference(text: &str) -> bool {
        text.split('\n').all(|line| {
            let mut chars = line.chars();
            if !chars.next().is_some_and(|c| c.is_ascii_alphabetic()) {
                return false;
            }
            let mut after_space = false;
            for c in chars {
                let allowed = if c == ' ' {
                    !after_space
                } else {
                    c.is_alphanumeric() || ",.:;!?'\"()/%-".contains(c)
                };
                if !allowed {
                    return false;
                }
                after_space = c == ' ';
            }
            !after_space
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// `is_plain` answers as the character-by-character reference, on texts long
        /// enough to span several of `find_byte`'s blocks.
        #[test]
        fn is_plain_matches_reference(lines in prop::collection::vec(line(), 1..5), repeat in 1..6usize) {
            let lines: Vec<String> = lines.iter().map(|l| l.repeat(repeat)).collect();
            let text = lines.join("\n");
            prop_assert_eq!(is_plain(&[tree::Node::Text(text.clone())]), plain_reference(&text), "{:?}", text);
        }
    }

    /// The benchmark's notes (issue 17) take the fast path.
    #[test]
    fn bench_notes_are_plain() {
        let text = "Notes for generated task 17.\nSecond line.\nLine 1: what was agreed, what is \
                    left, and who looks at it next.\nLine 2: what was agreed, what is left, and \
                    who looks at it next.";
        let tree = vec![tree::Node::Text(text.to_owned())];
        assert!(is_plain(&tree));
        assert_eq!(md_write::write(&tree), format!("{text}\n"));
    }

    /// Texts that look like prose but are not plain.
    #[test]
    fn not_plain() {
        for text in [
            "",
            "a\n\nb",
            "a\n",
            "1. a",
            "a  b",
            "a b ",
            "a *b*",
            "a\n=",
            "a\n- b",
            "Tom & Jerry",
            "a\tb",
            "a\u{a0}b",
            "A #hashtag",
        ] {
            let tree = vec![tree::Node::Text(text.to_owned())];
            assert!(!is_plain(&tree), "{text:?}");
        }
        // More than one node.
        let tree =
            tree::normalize(html::parse("<body>a <u>b</u></body>", html::Mode::Read).unwrap());
        assert!(!is_plain(&tree));
    }
}
