//! Properties of the conversion, on generated documents:
//! - Asana -> Markdown -> Asana gives back Asana's rich text, in normal form, for random
//!   trees of Asana's subset (the tests build them and write their XML themselves);
//! - Markdown -> Asana -> Markdown is stable after one round, for random Markdown built
//!   from the constructs the conversion knows and text full of Markdown's special
//!   characters, and for arbitrary strings;
//! - every `html_notes` the conversion writes is accepted by the guard, and is well-formed
//!   XML with only the subset's tags to an independent check with quick-xml.
//!
//! `PROPTEST_CASES` sets the number of cases; CI fixes `PROPTEST_RNG_SEED`.

use asana_bridge_richtext::{
    is_valid_html_notes, normalize_html_notes, read_exact, to_html_notes, to_markdown,
};
use proptest::prelude::*;
use quick_xml::Reader;
use quick_xml::events::Event;

// ---------------------------------------------------------------------------------------
// Asana documents

/// A node of a generated Asana document.
#[derive(Clone, Debug)]
enum G {
    Text(String),
    El(&'static str, Vec<(String, String)>, Vec<G>),
}

fn xml_escape(s: &str, attribute: bool) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

fn xml(nodes: &[G], out: &mut String) {
    for n in nodes {
        match n {
            G::Text(t) => out.push_str(&xml_escape(t, false)),
            G::El(name, attrs, children) => {
                out.push('<');
                out.push_str(name);
                for (k, v) in attrs {
                    out.push_str(&format!(" {k}=\"{}\"", xml_escape(v, true)));
                }
                if children.is_empty() && (*name == "hr" || *name == "a") {
                    out.push_str("/>");
                } else {
                    out.push('>');
                    xml(children, out);
                    out.push_str(&format!("</{name}>"));
                }
            }
        }
    }
}

fn body(nodes: &[G]) -> String {
    let mut out = String::from("<body>");
    xml(nodes, &mut out);
    out.push_str("</body>");
    out
}

/// Text as people type it, with Markdown's and XML's special characters made likely.
fn text(breaks: bool) -> BoxedStrategy<String> {
    let pieces = prop::sample::select(vec![
        "a",
        "word",
        "Ünï",
        "🎉",
        "42",
        " ",
        "  ",
        "\t",
        "*",
        "**",
        "_",
        "`",
        "```",
        "#",
        "# ",
        "<",
        ">",
        "&",
        "&amp;",
        "&#32;",
        "[",
        "]",
        "](x)",
        "\\",
        "~",
        "~~",
        "-",
        "- ",
        "+ ",
        "1.",
        "1. ",
        "2)",
        "=",
        "---",
        "!",
        "|",
        "\"",
        "'",
        "@",
        "http://x.y",
        "\u{a0}",
        "\r",
        "\n",
        "\n\n",
    ]);
    prop::collection::vec(pieces, 1..8)
        .prop_map(move |v| {
            let s: String = v.concat();
            if breaks {
                s
            } else {
                s.replace(['\n', '\r'], " ")
            }
        })
        .boxed()
}

fn link_attrs() -> impl Strategy<Value = Vec<(String, String)>> {
    prop_oneof![
        Just(vec![(
            "href".to_owned(),
            "https://example.com/a?b=1&c=(2)".to_owned()
        )]),
        Just(vec![(
            "href".to_owned(),
            "https://x.y/with space\"q\"".to_owned()
        )]),
        Just(vec![("href".to_owned(), String::new())]),
        Just(vec![
            (
                "href".to_owned(),
                "https://app.asana.com/0/1200/list".to_owned()
            ),
            ("data-asana-gid".to_owned(), "1200".to_owned()),
            ("data-asana-accessible".to_owned(), "true".to_owned()),
            ("data-asana-type".to_owned(), "user".to_owned()),
            ("data-asana-dynamic".to_owned(), "true".to_owned()),
        ]),
        Just(vec![
            ("data-asana-gid".to_owned(), "77".to_owned()),
            ("data-asana-type".to_owned(), "task".to_owned()),
            ("data-asana-project".to_owned(), "78".to_owned()),
        ]),
    ]
}

/// Inline content (text, marks, links), with line breaks unless in a heading.
fn inline(breaks: bool) -> impl Strategy<Value = Vec<G>> {
    let leaf = text(breaks).prop_map(G::Text);
    let node = leaf.prop_recursive(4, 24, 4, move |inner| {
        let children = prop::collection::vec(inner, 0..4);
        prop_oneof![
            (
                prop::sample::select(vec!["strong", "em", "u", "s", "code"]),
                children.clone()
            )
                .prop_map(|(tag, c)| G::El(tag, Vec::new(), c)),
            (link_attrs(), children.prop_map(strip_links))
                .prop_map(|(attrs, c)| G::El("a", attrs, c)),
            link_attrs().prop_map(|attrs| G::El("a", attrs, Vec::new())),
            link_attrs().prop_map(|attrs| G::El(
                "a",
                attrs,
                vec![G::Text("@Alice Example".into())]
            )),
        ]
    });
    prop::collection::vec(node, 0..5)
}

/// A link holds no link: the inner ones keep only their content.
fn strip_links(nodes: Vec<G>) -> Vec<G> {
    nodes
        .into_iter()
        .flat_map(|n| match n {
            G::El("a", _, c) => strip_links(c),
            G::El(tag, attrs, c) => vec![G::El(tag, attrs, strip_links(c))],
            t => vec![t],
        })
        .collect()
}

fn list() -> impl Strategy<Value = G> {
    let item = inline(true).prop_map(|c| G::El("li", Vec::new(), c));
    let flat = (
        prop::sample::select(vec!["ul", "ol"]),
        prop::collection::vec(item, 1..4),
    )
        .prop_map(|(tag, items)| G::El(tag, Vec::new(), items));
    flat.prop_recursive(3, 16, 3, |inner| {
        let item = (inline(true), prop::option::of(inner)).prop_map(|(mut c, nested)| {
            c.extend(nested);
            G::El("li", Vec::new(), c)
        });
        (
            prop::sample::select(vec!["ul", "ol"]),
            prop::collection::vec(item, 1..4),
        )
            .prop_map(|(tag, items)| G::El(tag, Vec::new(), items))
    })
}

fn block() -> impl Strategy<Value = G> {
    prop_oneof![
        list(),
        (prop::sample::select(vec!["h1", "h2"]), inline(false)).prop_map(|(t, c)| G::El(
            t,
            Vec::new(),
            c
        )),
        inline(true).prop_map(|c| G::El("blockquote", Vec::new(), c)),
        text(true).prop_map(|t| G::El("pre", Vec::new(), vec![G::Text(t.replace('\r', ""))])),
        Just(G::El("hr", Vec::new(), Vec::new())),
    ]
}

fn document() -> impl Strategy<Value = Vec<G>> {
    prop::collection::vec(
        prop_oneof![3 => inline(true), 2 => block().prop_map(|b| vec![b])],
        0..6,
    )
    .prop_map(|parts| parts.concat())
}

// ---------------------------------------------------------------------------------------
// Markdown documents

fn md_inline() -> impl Strategy<Value = String> {
    let word = text(false);
    let piece = prop_oneof![
        4 => word.clone(),
        1 => word.clone().prop_map(|w| format!("**{w}**")),
        1 => word.clone().prop_map(|w| format!("*{w}*")),
        1 => word.clone().prop_map(|w| format!("_{w}_")),
        1 => word.clone().prop_map(|w| format!("~~{w}~~")),
        1 => word.clone().prop_map(|w| format!("`{w}`")),
        1 => word.clone().prop_map(|w| format!("[{w}](https://x.y/{w})")),
        1 => word.clone().prop_map(|w| format!("<u>{w}</u>")),
        1 => word.clone().prop_map(|w| format!("<strong>{w}")),
        1 => Just("</strong>".to_owned()),
        1 => Just("<a data-asana-gid=\"12\" data-asana-type=\"user\">@Bob</a>".to_owned()),
        1 => Just("<a href=\"x\" onclick=\"y\">z</a>".to_owned()),
        1 => Just("<br>".to_owned()),
        1 => Just("![img](https://x.y/i.png)".to_owned()),
        1 => Just("<https://auto.link>".to_owned()),
        1 => Just("&#10;".to_owned()),
        1 => Just("  \n".to_owned()),
        1 => Just("\\\n".to_owned()),
        1 => Just("\n".to_owned()),
    ];
    prop::collection::vec(piece, 1..6).prop_map(|v| v.concat())
}

fn md_block() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        4 => md_inline(),
        1 => (1..5usize, md_inline()).prop_map(|(n, t)| format!("{} {}", "#".repeat(n), t.replace('\n', " "))),
        1 => md_inline().prop_map(|t| format!("{}\n===", t.replace('\n', " "))),
        1 => text(true).prop_map(|t| format!("```rust\n{t}\n```")),
        1 => text(false).prop_map(|t| format!("    {t}")),
        1 => Just("---".to_owned()),
        1 => Just("* * *".to_owned()),
        1 => Just("<div>\nraw <em>html</em> &amp;\n</div>".to_owned()),
        1 => Just("| a | b |\n|---|---|\n| 1 | 2 |".to_owned()),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        let marker = prop::sample::select(vec!["- ", "* ", "+ ", "1. ", "2) ", "> "]);
        prop_oneof![
            (marker, prop::collection::vec(inner.clone(), 1..3)).prop_map(|(m, items)| {
                let indent = " ".repeat(m.len());
                items
                    .iter()
                    .map(|item| {
                        let mut lines = item.split('\n');
                        let mut out = format!("{m}{}", lines.next().unwrap_or(""));
                        for l in lines {
                            out.push('\n');
                            if m == "> " {
                                out.push_str("> ");
                            } else {
                                out.push_str(&indent);
                            }
                            out.push_str(l);
                        }
                        out
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            }),
            prop::collection::vec(inner, 1..3).prop_map(|v| v.join("\n\n")),
        ]
    })
}

fn markdown() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (prop::collection::vec(md_block(), 0..6), prop::collection::vec(1..4usize, 6)).prop_map(
            |(blocks, gaps)| {
                let mut out = String::new();
                for (i, b) in blocks.iter().enumerate() {
                    if i > 0 {
                        out.push_str(&"\n".repeat(gaps[i % gaps.len()]));
                    }
                    out.push_str(b);
                }
                out
            }
        ),
        1 => any::<String>(),
    ]
}

// ---------------------------------------------------------------------------------------
// The independent check of what is sent

/// Well-formed XML (to quick-xml's strict reader), one `<body>`, only the subset's tags,
/// attributes only on `<a>`.
fn assert_asana_xml(doc: &str) -> Result<(), TestCaseError> {
    const ALLOWED: &[&str] = &[
        "body",
        "strong",
        "em",
        "u",
        "s",
        "code",
        "a",
        "ul",
        "ol",
        "li",
        "h1",
        "h2",
        "blockquote",
        "pre",
        "hr",
    ];
    prop_assert!(doc.starts_with("<body>"), "not a body: {doc:?}");
    let mut reader = Reader::from_str(doc);
    reader.config_mut().check_end_names = true;
    let mut open = 0i64;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let name = e.name().as_ref().to_owned();
                prop_assert!(ALLOWED.contains(&name.as_str()), "tag {name} in {doc:?}");
                if name != "a" {
                    prop_assert!(
                        e.attributes().next().is_none(),
                        "attributes on {name} in {doc:?}"
                    );
                }
                open += 1;
            }
            Ok(Event::Empty(e)) => {
                let name = e.name().as_ref().to_owned();
                prop_assert!(ALLOWED.contains(&name.as_str()), "tag {name} in {doc:?}");
                if name != "a" {
                    prop_assert!(
                        e.attributes().next().is_none(),
                        "attributes on {name} in {doc:?}"
                    );
                }
            }
            Ok(Event::End(_)) => open -= 1,
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => prop_assert!(false, "not XML ({e}): {doc:?}"),
        }
    }
    prop_assert_eq!(open, 0, "unclosed elements in {:?}", doc);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Asana -> Markdown -> Asana is the identity on Asana's rich text (in normal form),
    /// and normal form is stable.
    #[test]
    fn asana_round_trip(doc in document()) {
        let html = body(&doc);
        let normal = normalize_html_notes(&html).map_err(|e| TestCaseError::fail(format!("{e}: {html:?}")))?;
        prop_assert_eq!(normalize_html_notes(&normal).unwrap(), normal.clone());
        let md = to_markdown(&html).map_err(|e| TestCaseError::fail(format!("{e}: {html:?}")))?;
        let back = to_html_notes(&md).map_err(|e| TestCaseError::fail(format!("{e}: {md:?}")))?;
        prop_assert_eq!(&back, &normal, "markdown was {:?}", md);
        // Markdown of the normal form is the same file.
        prop_assert_eq!(to_markdown(&normal).unwrap(), md.clone());
        // The one-pass reader agrees with the three conversions.
        prop_assert_eq!(read_exact(&html).unwrap(), (md, true));
    }

    /// Damaged `html_notes` (characters cut out, pasted in, or swapped) never panics: it
    /// is refused, or it converts and comes back as its normal form.
    #[test]
    fn damaged_html_notes(
        doc in document(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(vec![
            "", "<", ">", "/", "&", ";", "\"", "<body>", "</body>", "<li>", "</ul>", "<a href=\"", "&#", "\n",
        ])), 1..4),
    ) {
        let mut html = body(&doc);
        for (at, piece) in edits {
            let mut cut = at.index(html.len() + 1);
            while !html.is_char_boundary(cut) {
                cut -= 1;
            }
            let end = (cut + 1).min(html.len());
            let end = if html.is_char_boundary(end) { end } else { cut };
            html.replace_range(cut..end, piece);
        }
        if let Ok(md) = to_markdown(&html) {
            let back = to_html_notes(&md).map_err(|e| TestCaseError::fail(format!("{e}: {md:?}")))?;
            prop_assert_eq!(&back, &normalize_html_notes(&html).unwrap());
            // The one-pass reader says the same.
            prop_assert_eq!(read_exact(&html).unwrap(), (md, true));
        } else {
            prop_assert!(!is_valid_html_notes(&html));
            prop_assert!(read_exact(&html).is_err());
        }
    }

    /// Markdown -> Asana -> Markdown is stable after one round; what is sent is valid.
    #[test]
    fn markdown_round_trip(md in markdown()) {
        let html = to_html_notes(&md).map_err(|e| TestCaseError::fail(format!("{e}: {md:?}")))?;
        prop_assert!(is_valid_html_notes(&html));
        assert_asana_xml(&html)?;
        let md1 = to_markdown(&html).map_err(|e| TestCaseError::fail(format!("{e}: {html:?}")))?;
        let html1 = to_html_notes(&md1).map_err(|e| TestCaseError::fail(format!("{e}: {md1:?}")))?;
        prop_assert_eq!(&html1, &html, "first Markdown {:?}, second {:?}", md, md1);
        let md2 = to_markdown(&html1).unwrap();
        prop_assert_eq!(md2, md1);
    }
}
