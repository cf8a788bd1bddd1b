//! Hand-written examples: each construct of Asana's subset in both directions, mentions,
//! plain text that looks like Markdown, inline images and other raw HTML, and hostile input
//! (invalid XML, tags and attributes Asana refuses, deep nesting).

use asana_bridge_richtext::{
    RichTextError, is_valid_html_notes, normalize_html_notes, read_exact, to_html_notes,
    to_markdown, validate_html_notes,
};

/// `html` (in normal form) reads as `md`, and `md` reads back as `html`.
#[track_caller]
fn both_ways(html: &str, md: &str) {
    assert_eq!(to_markdown(html).unwrap(), md, "Markdown of {html:?}");
    assert_eq!(to_html_notes(md).unwrap(), html, "html_notes of {md:?}");
}

#[test]
fn inline_formatting_uses_markdown_syntax() {
    both_ways(
        "<body>A <strong>bold</strong>, <em>italic</em>, <s>struck</s> and <code>x = 1</code> word</body>",
        "A **bold**, *italic*, ~~struck~~ and `x = 1` word\n",
    );
}

#[test]
fn underline_survives_as_inline_html() {
    both_ways(
        "<body>An <u>underlined</u> word</body>",
        "An <u>underlined</u> word\n",
    );
}

#[test]
fn formatting_markdown_cannot_delimit_is_inline_html() {
    // Bold starting with a space: `** x**` would not be bold in Markdown.
    both_ways(
        "<body>a<strong> x </strong>b</body>",
        "a<strong> x </strong>b\n",
    );
    // Bold around italic at its edge: `***x***` would read the other way round.
    both_ways(
        "<body><strong><em>x</em></strong></body>",
        "<strong>*x*</strong>\n",
    );
}

#[test]
fn links_are_markdown_links() {
    both_ways(
        "<body>See <a href=\"https://example.com/a?b=1&amp;c=(2)\">the docs</a>.</body>",
        "See [the docs](https://example.com/a?b=1&c=\\(2\\)).\n",
    );
    both_ways(
        "<body><a href=\"https://x.y/a b\">spaced</a></body>",
        "[spaced](<https://x.y/a b>)\n",
    );
}

#[test]
fn mentions_keep_every_attribute() {
    let html = "<body>Ask <a href=\"https://app.asana.com/0/1200/list\" data-asana-gid=\"1200\" \
                data-asana-accessible=\"true\" data-asana-type=\"user\" data-asana-dynamic=\"true\">@Alice</a> \
                about <a data-asana-gid=\"77\" data-asana-type=\"task\"/></body>";
    let md = to_markdown(html).unwrap();
    assert_eq!(
        md,
        "Ask <a href=\"https://app.asana.com/0/1200/list\" data-asana-gid=\"1200\" \
         data-asana-accessible=\"true\" data-asana-type=\"user\" data-asana-dynamic=\"true\">@Alice</a> \
         about <a data-asana-gid=\"77\" data-asana-type=\"task\"></a>\n"
    );
    assert_eq!(to_html_notes(&md).unwrap(), html);
}

#[test]
fn line_breaks_are_lines_and_blank_lines() {
    both_ways(
        "<body>one\ntwo\n\nthree\n\n\nfour</body>",
        "one\ntwo\n\nthree\n\n\nfour\n",
    );
    // Breaks at the edges of the description have no Markdown line of their own.
    both_ways(
        "<body>\nlead and trail\n</body>",
        "&#10;lead and trail&#10;\n",
    );
}

#[test]
fn lists_nest() {
    both_ways(
        "<body>Steps:\n<ol><li>first</li><li>second<ul><li>detail</li><li>more</li></ul></li></ol>done</body>",
        "Steps:\n\n\n1. first\n2. second\n   - detail\n   - more\n\ndone\n",
    );
}

#[test]
fn adjacent_lists_stay_apart() {
    both_ways(
        "<body><ul><li>a</li></ul><ul><li>b</li></ul></body>",
        "- a\n\n* b\n",
    );
}

#[test]
fn empty_and_bare_items() {
    both_ways("<body><ul><li></li><li>x</li></ul></body>", "-\n- x\n");
    both_ways(
        "<body><ul><li><ul><li><ul><li></li></ul></li></ul></li></ul></body>",
        "-\n  -\n    -\n",
    );
    both_ways(
        "<body><ul><li>a<ul><li></li></ul></li></ul></body>",
        "- a\n\n  -\n",
    );
}

#[test]
fn headings_quotes_code_blocks_and_rules() {
    both_ways(
        "<body><h1>Title <em>here</em></h1><h2>Sub</h2><blockquote>quoted\nlines</blockquote>\
         <pre>fn main() {\n    let x = \"`\";\n}</pre><hr/>end</body>",
        "# Title *here*\n\n## Sub\n\n> quoted\n> lines\n\n```\nfn main() {\n    let x = \"`\";\n}\n```\n\n---\n\nend\n",
    );
}

#[test]
fn markdown_looking_text_is_escaped() {
    let html = "<body>* not a list\n# not a heading\n1. not numbered\n&gt; not a quote\n  indented\n\
                [x](y) `c` _u_ ~t~ \\ &amp;amp; &lt;b&gt; trailing </body>";
    let md = to_markdown(html).unwrap();
    assert_eq!(
        md,
        "\\* not a list\n\\# not a heading\n1\\. not numbered\n\\> not a quote\n&#32; indented\n\
         \\[x\\](y) \\`c\\` \\_u\\_ \\~t\\~ \\\\ \\&amp; \\<b> trailing&#32;\n"
    );
    assert_eq!(to_html_notes(&md).unwrap(), html);
}

#[test]
fn markdown_reads_into_the_subset() {
    assert_eq!(
        to_html_notes("Some **bold** and _italic_ text\nwith [a link](https://x.y \"title\").\n\n- one\n- two\n").unwrap(),
        "<body>Some <strong>bold</strong> and <em>italic</em> text\nwith <a href=\"https://x.y\">a link</a>.<ul><li>one</li><li>two</li></ul></body>"
    );
    // No h3 in Asana: deeper headings are subheadings. A code block's language is dropped.
    assert_eq!(
        to_html_notes("### Deep\n\n```rust\nlet a = 1 < 2 && true;\n```\n").unwrap(),
        "<body><h2>Deep</h2><pre>let a = 1 &lt; 2 &amp;&amp; true;</pre></body>"
    );
}

#[test]
fn markdown_asana_cannot_hold_keeps_its_text() {
    // An image keeps its Markdown source; a list in a quote becomes the quote's lines;
    // HTML that is not Asana's is text.
    assert_eq!(
        to_html_notes(
            "![shot](https://x.y/a.png)\n\n> - a\n> - b\n\n<div onclick=\"x\">hi</div>\n"
        )
        .unwrap(),
        "<body>![shot](https://x.y/a.png)<blockquote>- a\n- b</blockquote>&lt;div onclick=\"x\"&gt;hi&lt;/div&gt;</body>"
    );
    // Tags Asana has, written by hand in Markdown, are those elements; `<br>` is a break.
    assert_eq!(
        to_html_notes("a <u>b</u><br><s>c</s> <a data-asana-gid=\"5\"/>").unwrap(),
        "<body>a <u>b</u>\n<s>c</s> <a data-asana-gid=\"5\"/></body>"
    );
    // Unclosed or stray tags: closed at the end of their block, or kept as text.
    assert_eq!(
        to_html_notes("<u>open\n\n</em>").unwrap(),
        "<body><u>open\n\n&lt;/em&gt;</u></body>"
    );
}

#[test]
fn output_is_always_valid_even_from_hostile_markdown() {
    for md in [
        "\u{0}\u{1}\u{b}text\u{fffe}",
        "<a href=\"&#1;\">x</a>",
        "&#0; &#1; &#xD800; &#x10FFFF;",
        "[x](<a\u{1}b>)",
        "<strong><em><u><s><code>deep</code></s></u></em></strong>",
        "****x****",
        "`",
    ] {
        let html = to_html_notes(md).unwrap();
        assert!(is_valid_html_notes(&html), "{md:?} gave {html:?}");
    }
}

#[test]
fn invalid_html_notes_is_a_clear_error() {
    let cases: &[(&str, &str)] = &[
        ("<body>unclosed <strong>bold</body>", "not well-formed XML"),
        ("<body><strong>x</body>", "not well-formed XML"),
        ("<body>never closed", "not closed"),
        ("plain text", "one <body>"),
        ("<body>a</body><body>b</body>", "one <body>"),
        ("<div>x</div>", "one <body>"),
        ("<body>&nbsp;</body>", "unknown entity &nbsp;"),
        ("<body>&#1;</body>", "U+0001"),
        ("<body>a\u{1}b</body>", "U+0001"),
        (
            "<body><ul>text</ul></body>",
            "text is not allowed inside <ul>",
        ),
        (
            "<body><li>x</li></body>",
            "<li> is not allowed inside <body>",
        ),
        (
            "<body><h1>a\nb</h1></body>",
            "a line break is not allowed inside <h1>",
        ),
        (
            "<body><h1><ul><li>x</li></ul></h1></body>",
            "<ul> is not allowed inside <h1>",
        ),
        (
            "<body><a href=\"x\"><a href=\"y\">z</a></a></body>",
            "<a> is not allowed inside <a>",
        ),
        ("<body><!-- c --></body>", "a comment"),
        ("<body><a href=x>y</a></body>", "malformed attribute"),
        // Elements outside the subset are read raw, but must be well-formed too...
        ("<body><table><tr>x</table></body>", "not well-formed XML"),
        ("<body><b x=\"&nbsp;\">y</b></body>", "unrecognized entity"),
        ("<body><b>&#1;</b></body>", "U+0001"),
        ("<body><b><!-- c --></b></body>", "a comment"),
        ("<body><img alt=x/></body>", "malformed attribute"),
        // ...and stand where text may (never in a list, nor in a code block).
        (
            "<body><ul><img data-asana-gid=\"1\"/></ul></body>",
            "<img> is not allowed inside <ul>",
        ),
        (
            "<body><pre>a<b>b</b></pre></body>",
            "<b> is not allowed inside <pre>",
        ),
    ];
    for (input, expected) in cases {
        let err = to_markdown(input).expect_err(input);
        let message = err.to_string();
        assert!(
            message.contains(expected),
            "{input:?}: {message:?} lacks {expected:?}"
        );
        assert!(!is_valid_html_notes(input), "{input:?} passed the guard");
        assert!(validate_html_notes(input).is_err());
    }
}

/// What Asana sends but would refuse back (tags outside the subset, attributes it does not
/// take) converts, raw, but never passes the guard run before sending.
#[test]
fn the_guard_refuses_what_asana_refuses() {
    let cases: &[(&str, &str)] = &[
        ("<body><b>x</b></body>", "tag <b> (byte 6)"),
        (
            "<body><table><tr><td>x</td></tr></table></body>",
            "tag <table>",
        ),
        (
            "<body><strong class=\"x\">y</strong></body>",
            "\"class\" is not allowed on <strong>",
        ),
        (
            "<body><a onclick=\"x\">y</a></body>",
            "\"onclick\" is not allowed on <a>",
        ),
        (
            "<body><img src=\"x\"/></body>",
            "<img> (byte 6) has no data-asana-gid",
        ),
        (
            "<body><img data-asana-gid=\"1\" class=\"x\"/></body>",
            "\"class\" is not allowed on <img>",
        ),
        (
            "<body><img data-asana-gid=\"1\"></img></body>",
            "is not one empty tag",
        ),
        (
            "<body><img data-asana-gid=\"1\"\nalt=\"x\"/></body>",
            "spans lines",
        ),
        (
            "<body><img data-asana-gid=\"1\"alt=\"x\"/></body>",
            "not spelt as Markdown's inline HTML can carry it",
        ),
        (
            "<body><h1><img data-asana-gid=\"1\"/></h1></body>",
            "<img> is not allowed inside <h1>",
        ),
        (
            "<body><a href=\"x\"><img data-asana-gid=\"1\"/></a></body>",
            "<img> is not allowed inside <a>",
        ),
    ];
    for (input, expected) in cases {
        let message = validate_html_notes(input).expect_err(input).to_string();
        assert!(
            message.contains(expected),
            "{input:?}: {message:?} lacks {expected:?}"
        );
        assert!(!is_valid_html_notes(input), "{input:?} passed the guard");
        // Read, it is kept, but its Markdown does not give it back: not exact.
        let md = to_markdown(input).expect(input);
        assert_eq!(read_exact(input).unwrap(), (md.clone(), false), "{input:?}");
        let back = to_html_notes(&md).unwrap();
        assert!(is_valid_html_notes(&back), "{back:?}");
    }
}

/// An inline image as Asana sends it is inline HTML in the Markdown, byte for byte
/// (attributes, their order, quotes and references), and comes back the same.
#[test]
fn images_survive_as_inline_html() {
    let image = "<img data-asana-gid=\"77\" data-src-width=\"640\" data-src-height=\"480\" \
        data-thumbnail-url=\"https://x.y/t?a=1&amp;b=2\" src=\"https://x.y/i.png\" \
        alt=\'a &quot;trace&quot; &#233;\' />";
    both_ways(
        &format!("<body>Crash: {image} on <strong>login</strong></body>"),
        &format!("Crash: {image} on **login**\n"),
    );
    // First in a paragraph (where CommonMark reads a line holding only a tag as an HTML
    // block), in lists, quotes and formatting.
    both_ways(
        "<body><img data-asana-gid=\"1\"/>\nnext <em>line</em>\n<img data-asana-gid=\"2\"/>\n\n\
         <img data-asana-gid=\"3\"/>\n<img data-asana-gid=\"4\"/>\n# not a heading</body>",
        "<img data-asana-gid=\"1\"/>\nnext *line*\n<img data-asana-gid=\"2\"/>\n\n\
         <img data-asana-gid=\"3\"/>\n<img data-asana-gid=\"4\"/>\n\\# not a heading\n",
    );
    both_ways(
        "<body><ul><li><img data-asana-gid=\"1\"/>\nx</li><li>b <img data-asana-gid=\"2\"/></li>\
         </ul><blockquote><img data-asana-gid=\"3\"/></blockquote><u><img data-asana-gid=\"4\"/>\
         </u> <strong>x<img data-asana-gid=\"5\"/></strong></body>",
        "- <img data-asana-gid=\"1\"/>\n  x\n- b <img data-asana-gid=\"2\"/>\n\n> \
         <img data-asana-gid=\"3\"/>\n\n<u><img data-asana-gid=\"4\"/></u> \
         <strong>x<img data-asana-gid=\"5\"/></strong>\n",
    );
    // An item's image followed by its nested list: a blank line between them, or the
    // image's HTML block would hold the list's lines (and lose what nests deeper).
    both_ways(
        "<body><ul><li><img data-asana-gid=\"1\"/><ul><li>a</li></ul></li></ul></body>",
        "- <img data-asana-gid=\"1\"/>\n\n  - a\n",
    );
    both_ways(
        "<body><ul><li><img data-asana-gid=\"1\"/><ul><li><strong>a</strong>\n\
         <ul><li></li></ul></li></ul></li></ul></body>",
        "- <img data-asana-gid=\"1\"/>\n\n  - **a**\n\n\n    -\n",
    );
    // Typed without the blank line, the list is still the item's.
    assert_eq!(
        to_html_notes("- <img data-asana-gid=\"1\"/>\n  - a\n").unwrap(),
        "<body><ul><li><img data-asana-gid=\"1\"/><ul><li>a</li></ul></li></ul></body>"
    );
    // An underline spanning the blank line before a paragraph that starts with an image.
    both_ways(
        "<body><u>x\n\n<img data-asana-gid=\"1\"/>\ny</u></body>",
        "<u>x\n\n<img data-asana-gid=\"1\"/>\ny</u>\n",
    );
}

/// What Asana sends and Markdown cannot carry back (tags Asana would refuse from the
/// bridge) is shown raw, never dropped, and marked not exact.
#[test]
fn other_elements_are_kept_raw_but_not_exact() {
    let html = "<body><table><tr><td>x *y*</td></tr></table> and \
        <strong class=\"x\">b</strong></body>";
    let (md, exact) = read_exact(html).unwrap();
    assert_eq!(
        md,
        "<table><tr><td>x *y*</td></tr></table> and <strong class=\"x\">b</strong>\n"
    );
    assert!(!exact);
    assert_eq!(normalize_html_notes(html).unwrap(), html);
}

/// Raw HTML typed in Markdown becomes an element only when it is an image Asana takes, in
/// valid XML; anything else is text, so a tag Asana refuses is never sent.
#[test]
fn typed_html_is_sent_only_when_asana_takes_it() {
    for md in [
        "<img src=\"x\"/>",
        "<img data-asana-gid=\"1\">",
        "<img data-asana-gid=\"1\" onclick=\"x\"/>",
        "<img data-asana-gid=\"1\" alt=\"a & b\"/>",
        "<img data-asana-gid=\"1\" alt=\"&nbsp;\"/>",
        "<img data-asana-gid=1/>",
        "<table>\n<tr><td>x</td></tr>\n</table>",
        "# <img data-asana-gid=\"1\"/>",
        "[<img data-asana-gid=\"1\"/>](x)",
    ] {
        let html = to_html_notes(md).unwrap();
        assert!(
            !html.contains("<img") && !html.contains("<t"),
            "{md:?} gave {html:?}"
        );
        assert!(is_valid_html_notes(&html));
        let md1 = to_markdown(&html).unwrap();
        assert_eq!(to_html_notes(&md1).unwrap(), html, "{md:?} -> {md1:?}");
    }
    // Typed as Asana takes it, it is the image, exactly as typed (and the lines after it
    // what they would be after any paragraph's line).
    assert_eq!(
        to_html_notes("<img data-asana-gid='1' />\n- x").unwrap(),
        "<body><img data-asana-gid='1' /><ul><li>x</li></ul></body>"
    );
}

#[test]
fn entities_and_whitespace_in_html_notes_are_read() {
    assert_eq!(
        normalize_html_notes(
            "<body>&#65;&#x42; &lt;&amp;&gt; &quot;&apos;<![CDATA[<raw>]]></body>"
        )
        .unwrap(),
        "<body>AB &lt;&amp;&gt; \"'&lt;raw&gt;</body>"
    );
    // Indentation between list items is not text; `<body/>` is an empty description.
    assert_eq!(
        normalize_html_notes("<body><ul>\n  <li>a</li>\n</ul></body>").unwrap(),
        "<body><ul><li>a</li></ul></body>"
    );
    assert_eq!(to_markdown("<body/>").unwrap(), "");
    assert_eq!(to_html_notes("").unwrap(), "<body></body>");
}

#[test]
fn normal_form_merges_and_drops_what_formats_nothing() {
    assert_eq!(
        normalize_html_notes(
            "<body><strong>a</strong><strong>b</strong><em></em><u><u>c</u></u><s>\nd\n</s></body>"
        )
        .unwrap(),
        "<body><strong>ab</strong><u>c</u>\n<s>d</s>\n</body>"
    );
}

#[test]
fn very_deep_nesting_is_refused_without_overflowing_the_stack() {
    let depth = 100_000;
    let html = format!(
        "<body>{}x{}</body>",
        "<strong>".repeat(depth),
        "</strong>".repeat(depth)
    );
    assert!(matches!(
        to_markdown(&html),
        Err(RichTextError::TooDeep { .. })
    ));
    let lists = format!(
        "<body>{}{}</body>",
        "<ul><li>".repeat(depth),
        "</li></ul>".repeat(depth)
    );
    assert!(matches!(
        to_markdown(&lists),
        Err(RichTextError::TooDeep { .. })
    ));

    // Deep Markdown: a few quotes inside quotes are one quote; very deep ones, or deep
    // lists, are refused.
    assert_eq!(
        to_html_notes("> > > deep\n").unwrap(),
        "<body><blockquote>deep</blockquote></body>"
    );
    let quotes = format!("{}deep\n", "> ".repeat(depth));
    assert!(matches!(
        to_html_notes(&quotes),
        Err(RichTextError::TooDeep { .. })
    ));
    let lists: String = (0..300)
        .map(|i| format!("{}- x\n", "  ".repeat(i)))
        .collect();
    assert!(matches!(
        to_html_notes(&lists),
        Err(RichTextError::TooDeep { .. })
    ));
    let emphasis = format!("{}x{}", "*".repeat(depth), "*".repeat(depth));
    let _ = to_html_notes(&emphasis);

    // Items whose first line is an image, each holding the next list: every image line
    // starts an HTML block holding the rest, read again as the lines after it. In a quote
    // (where lists are text), nothing bounds that by the elements built: the reader
    // bounds it itself.
    let image = "<img data-asana-gid=\"1\"/>";
    for prefix in ["", "> "] {
        let lists: String = (0..300)
            .map(|i| format!("{prefix}{}- {image}\n", "  ".repeat(i)))
            .collect();
        assert!(matches!(
            to_html_notes(&lists),
            Err(RichTextError::TooDeep { .. })
        ));
    }
}

#[test]
fn nesting_within_the_limit_round_trips() {
    let depth = asana_bridge_richtext::MAX_DEPTH / 2;
    let html = format!(
        "<body>{}x{}</body>",
        "<ul><li>".repeat(depth),
        "</li></ul>".repeat(depth)
    );
    let md = to_markdown(&html).unwrap();
    assert_eq!(to_html_notes(&md).unwrap(), html);
    // The same with an image first in every item (each one starts an HTML block; the
    // innermost image is one level deeper than the lists).
    let depth = depth - 1;
    let image = "<img data-asana-gid=\"1\"/>";
    let html = format!(
        "<body>{}x{}</body>",
        format!("<ul><li>{image}").repeat(depth),
        "</li></ul>".repeat(depth)
    );
    let md = to_markdown(&html).unwrap();
    assert_eq!(to_html_notes(&md).unwrap(), html);
}

#[test]
fn long_documents_convert_in_linear_time() {
    // 2 MB of formatted text: quadratic work would take minutes, not the fraction of a
    // second this takes.
    let unit = "<strong>bold</strong> and <a href=\"https://x.y\">link</a> &amp; text\n";
    let html = format!("<body>{}</body>", unit.repeat(30_000));
    let started = std::time::Instant::now();
    let md = to_markdown(&html).unwrap();
    let back = to_html_notes(&md).unwrap();
    assert_eq!(back, normalize_html_notes(&html).unwrap());
    assert!(
        started.elapsed().as_secs() < 20,
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn cases_the_properties_found() {
    // A carriage return cannot live in a Markdown code block: it is a line end there.
    assert_eq!(
        normalize_html_notes("<body><pre>a&#13;\nb&#13;c</pre></body>").unwrap(),
        "<body><pre>a\nb\nc</pre></body>"
    );
    assert_eq!(
        to_html_notes("```\n\r\r\n```").unwrap(),
        to_html_notes(&to_markdown(&to_html_notes("```\n\r\r\n```").unwrap()).unwrap()).unwrap()
    );
    // A no-break space is an item's content, not Markdown whitespace.
    both_ways(
        "<body><ul><li>a\n<ul><li>\u{a0}</li></ul></li></ul></body>",
        "- a\n\n  - \u{a0}\n",
    );
    // Text ending in `!` before a link is not an image.
    both_ways(
        "<body>!<a href=\"x\">y</a></body>",
        "!<a href=\"x\">y</a>\n",
    );
    // An empty quote between paragraphs.
    both_ways("<body>a<blockquote></blockquote>a</body>", "a\n\n>\n\na\n");
}
