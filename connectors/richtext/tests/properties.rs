//! Properties of the conversion, on generated documents:
//! - Asana -> Markdown -> Asana gives back Asana's rich text, in normal form, for random
//!   trees of Asana's subset (the tests build them and write their XML themselves);
//! - Markdown -> Asana -> Markdown is stable after one round, for random Markdown built
//!   from the constructs the conversion knows and text full of Markdown's special
//!   characters, and for arbitrary strings;
//! - inline images as Asana sends them (any of its attributes, either quote, references)
//!   come back byte for byte wherever Asana allows them; other elements outside the subset
//!   are kept raw in the Markdown, marked not exact, and never sent as tags;
//! - every `html_notes` the conversion writes is accepted by the guard, and is well-formed
//!   XML with only the subset's tags (and images Asana takes) to an independent check with
//!   quick-xml.
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
    /// XML source written as it is (an image, or another element outside the subset).
    Raw(String),
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
            G::Raw(source) => out.push_str(source),
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

/// An inline image as Asana sends it: `data-asana-gid` and any of Asana's other
/// attributes, in any order, either quote, values with references and Markdown's special
/// characters, with or without a space before `/>`.
fn image() -> impl Strategy<Value = String> {
    let attribute = prop::sample::select(vec![
        " data-src-width=\"640\"",
        " data-src-height=\"480\"",
        " data-thumbnail-url=\"https://x.y/t?a=1&amp;b=2\"",
        " data-thumbnail-width=\"128\"",
        " src=\"https://x.y/i.png\"",
        " src='https://x.y/a_b*c*.png'",
        " alt=\"a &quot;trace&quot; &#233; *not* [em]\"",
        " alt='it&apos;s \"here\" &lt;3 `x`'",
        " alt=\"\"",
        " data-asana-type=\"attachment\"",
        "\tdata-x-y.z=\"1\"",
    ]);
    (
        1..1000u32,
        prop::collection::vec(attribute, 0..4),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(gid, attrs, gid_first, space)| {
            let mut attrs: Vec<String> = attrs.into_iter().map(str::to_owned).collect();
            let gid = format!(" data-asana-gid=\"{gid}\"");
            if gid_first {
                attrs.insert(0, gid);
            } else {
                attrs.push(gid);
            }
            let mut seen = std::collections::HashSet::new();
            attrs.retain(|a| seen.insert(a.split('=').next().unwrap_or_default().to_owned()));
            format!("<img{}{}/>", attrs.concat(), if space { " " } else { "" })
        })
}

/// Elements Asana may send that it would not take back from the bridge.
fn foreign() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "<table><tr><td>x *y* &amp; z</td></tr></table>".to_owned(),
        "<b>bold</b>".to_owned(),
        "<img data-asana-gid=\"1\" class=\"wide\"/>".to_owned(),
        "<img data-asana-gid=\"2\"></img>".to_owned(),
        "<img src=\"https://x.y/i.png\"/>".to_owned(),
        "<strong class=\"c\">x</strong>".to_owned(),
        "<object type=\"application/vnd.asana.external_media\" data-asana-gid=\"3\"/>".to_owned(),
        "<span\n  data-x=\"1\">two\nlines</span>".to_owned(),
    ])
}

/// Inline content (text, marks, links, and images unless in a heading), with line
/// breaks unless in a heading.
fn inline(breaks: bool) -> impl Strategy<Value = Vec<G>> {
    let leaf = if breaks {
        prop_oneof![6 => text(breaks).prop_map(G::Text), 1 => image().prop_map(G::Raw)].boxed()
    } else {
        text(breaks).prop_map(G::Text).boxed()
    };
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

/// A link holds no link, and no image (Asana's rule): the inner links keep only their
/// content.
fn strip_links(nodes: Vec<G>) -> Vec<G> {
    nodes
        .into_iter()
        .flat_map(|n| match n {
            G::El("a", _, c) => strip_links(c),
            G::El(tag, attrs, c) => vec![G::El(tag, attrs, strip_links(c))],
            G::Raw(_) => Vec::new(),
            t => vec![t],
        })
        .collect()
}

/// A document with elements Asana would not take back, where text may stand.
fn document_with_foreign() -> impl Strategy<Value = Vec<G>> {
    (
        document(),
        prop::collection::vec((any::<prop::sample::Index>(), foreign()), 1..3),
    )
        .prop_map(|(mut doc, foreign)| {
            for (at, source) in foreign {
                let i = at.index(doc.len() + 1);
                doc.insert(i, G::Raw(source));
            }
            doc
        })
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
        1 => image(),
        1 => image().prop_map(|i| format!("\n{i}\n")),
        1 => Just("<img data-asana-gid=\"9\" onclick=\"x\"/>".to_owned()),
        1 => Just("<img data-asana-gid=\"9\" alt=\"a & b\"/>".to_owned()),
        1 => Just("<img data-asana-gid='9'>".to_owned()),
        1 => Just("<table><tr><td>".to_owned()),
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
        1 => (image(), md_inline()).prop_map(|(i, t)| format!("{i}\n{t}")),
        1 => (image(), image()).prop_map(|(i, j)| format!("{i}\n  {j}  \n- x\n")),
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

/// Well-formed XML (to quick-xml's strict reader), one `<body>`, only the subset's tags
/// and images, attributes only on `<a>` and images.
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
            Ok(Event::Empty(e)) if e.name().as_ref() == "img" => {
                // An image as Asana takes it: its attachment, and `src`, `alt`, `data-*`.
                let keys: Vec<String> = e
                    .attributes()
                    .map(|a| a.expect("checked").key.as_ref().to_owned())
                    .collect();
                prop_assert!(keys.iter().any(|k| k == "data-asana-gid"), "{doc:?}");
                prop_assert!(
                    keys.iter()
                        .all(|k| k == "src" || k == "alt" || k.starts_with("data-")),
                    "{doc:?}"
                );
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
        prop_assert!(is_valid_html_notes(&html), "the guard refuses {:?}", html);
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
            let (read, exact) = read_exact(&html).map_err(|e| TestCaseError::fail(format!("{e}: {html:?}")))?;
            prop_assert_eq!(&read, &md);
            let back = to_html_notes(&md).map_err(|e| TestCaseError::fail(format!("{e}: {md:?}")))?;
            prop_assert!(is_valid_html_notes(&back));
            let normal = normalize_html_notes(&html).unwrap();
            // Exact exactly when the Markdown gives the normal form back; what the guard
            // would send always is.
            prop_assert_eq!(exact, back == normal, "{:?} -> {:?} -> {:?}", html, md, back);
            if is_valid_html_notes(&html) {
                prop_assert!(exact, "valid but not exact: {:?} -> {:?} -> {:?}", html, md, back);
            }
        } else {
            prop_assert!(!is_valid_html_notes(&html));
            prop_assert!(read_exact(&html).is_err());
        }
    }

    /// Elements Asana would not take back are kept in the Markdown as their exact source,
    /// the description is marked not exact, the guard refuses the document, and the
    /// Markdown still converts to valid `html_notes` (where they are text).
    #[test]
    fn foreign_elements_are_kept_raw_and_not_exact(doc in document_with_foreign()) {
        let html = body(&doc);
        let (md, exact) = read_exact(&html).map_err(|e| TestCaseError::fail(format!("{e}: {html:?}")))?;
        prop_assert!(!exact, "{:?} -> {:?}", html, md);
        prop_assert!(!is_valid_html_notes(&html));
        for node in &doc {
            if let G::Raw(source) = node {
                for line in source.split('\n') {
                    prop_assert!(md.contains(line), "{:?} lost in {:?}", line, md);
                }
            }
        }
        let back = to_html_notes(&md).map_err(|e| TestCaseError::fail(format!("{e}: {md:?}")))?;
        prop_assert!(is_valid_html_notes(&back));
        assert_asana_xml(&back)?;
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
