//! Asana's rich text (`html_notes`) to Markdown and back.
//!
//! Asana keeps a task's description as a small XML document: `<body>` holding text (line
//! breaks are `\n`; there are no paragraphs) and the elements `<strong>`, `<em>`, `<u>`,
//! `<s>`, `<code>`, `<a>` (links and @-mentions, with `href` and `data-asana-*`
//! attributes), `<ul>`/`<ol>`/`<li>` (nested lists), `<h1>`, `<h2>`, `<blockquote>`,
//! `<pre>`, `<hr/>` and inline images `<img data-asana-gid=... />`. Asana refuses a
//! document that is not valid XML or uses anything else.
//!
//! - [`to_markdown`] reads `html_notes` strictly (valid XML in one `<body>`) and writes
//!   Markdown a person can edit: Markdown syntax where Markdown has it, inline HTML where
//!   it does not (`<u>`, mentions and their attributes), and any element outside the
//!   subset (an inline image, or whatever else Asana sends) as its exact XML source, so
//!   nothing is dropped. [`to_html_notes`] gives the same rich text back, in normal form
//!   ([`normalize_html_notes`]), wherever what Asana sent is something Asana takes back.
//! - [`to_html_notes`] reads any Markdown and writes only what Asana accepts, always valid
//!   XML; Markdown it cannot hold (Markdown images, tables) keeps its source as text, and
//!   raw HTML is an element only when it is one of the subset's inline tags or an image
//!   Asana takes (`raw` module): a tag typed by hand that Asana would refuse is text. Its
//!   own output goes through [`validate_html_notes`] before it is returned.
//! - [`read_exact`]: both of the above for a reader, in one pass each: the Markdown and
//!   whether it converts back to the same rich text. A plain description (one text of
//!   prose lines that hold no Markdown syntax, `plain` module) is known to convert back and
//!   is not read back at all.
//! - [`is_valid_html_notes`] / [`validate_html_notes`]: the guard before sending.
//!
//! Limits, by design: an element Asana sends that it would not take back from the bridge
//! (a tag outside the subset other than `<img>`, such as a project brief's `<table>`; an
//! attribute outside Asana's lists, such as `class`; an image that is not one empty tag
//! on one line with a `data-asana-gid` and only `src`, `alt` and `data-*` attributes, or
//! stands in a heading or a link) is kept raw in the Markdown, but reads back as text:
//! [`read_exact`] says the description is not exact, and its reader keeps it read-only.
//! A comment or invalid XML is refused by [`to_markdown`] (an error naming it). A code
//! block's language, heading levels below `##` (Asana has `<h1>` and `<h2>` only, so `###`
//! reads as `##`), formatting inside a code block, and blank lines between the items of a
//! Markdown list (a loose list reads as a tight one) are not carried. Output equals
//! Asana's input byte for byte when the input is in normal form; otherwise it is the same
//! XML tree in normal form (elements kept raw are always byte for byte).
//!
//! Modules: `tree` (the document model, normal form, XML output), `html` (reading
//! `html_notes`), `md_write` and `md_read` (the two Markdown directions), `inline_html`
//! (HTML tags inside Markdown), `raw` (elements outside the subset: which go back to
//! Asana), `plain` (descriptions whose Markdown needs no reading back), `error`.

mod error;
mod html;
mod inline_html;
mod md_read;
mod md_write;
mod plain;
mod raw;
mod tree;

pub use error::RichTextError;
pub use tree::MAX_DEPTH;

/// Converts Asana's `html_notes` to Markdown. Fails, naming the problem and its byte
/// position, when the input is not one `<body>` in valid XML nested as Asana nests its
/// rich text (elements outside the subset are kept raw, where text may stand).
pub fn to_markdown(html_notes: &str) -> Result<String, RichTextError> {
    let tree = tree::normalize(html::parse(html_notes, html::Mode::Read)?);
    Ok(md_write::write(&tree))
}

/// Reads `html_notes` for a mirror: its Markdown ([`to_markdown`]) and whether that
/// Markdown gives the same rich text back (what [`to_html_notes`] of it compared with
/// [`normalize_html_notes`] of the input tells), with one parse of each instead of five:
/// a reader of thousands of descriptions pays for one conversion, not three. A plain
/// description (most are: lines of prose) is exact without reading its Markdown back.
pub fn read_exact(html_notes: &str) -> Result<(String, bool), RichTextError> {
    let tree = tree::normalize(html::parse(html_notes, html::Mode::Read)?);
    let markdown = md_write::write(&tree);
    let exact = plain::is_plain(&tree) || reads_back(&tree, &markdown)?;
    Ok((markdown, exact))
}

/// Whether `markdown`, written from the normalised `tree`, reads back as the same rich text.
fn reads_back(tree: &[tree::Node], markdown: &str) -> Result<bool, RichTextError> {
    let back = tree::normalize(md_read::parse(markdown)?);
    // Equal trees give equal XML; unequal ones are compared as what would be sent.
    Ok(back == tree || tree::to_xml(&back) == tree::to_xml(tree))
}

/// Converts Markdown to `html_notes` of Asana's subset, in normal form and always valid
/// (checked by [`validate_html_notes`] before it is returned). Fails only on a document
/// nested deeper than [`MAX_DEPTH`].
pub fn to_html_notes(markdown: &str) -> Result<String, RichTextError> {
    let tree = tree::normalize(md_read::parse(markdown)?);
    let xml = tree::to_xml(&tree);
    validate_html_notes(&xml)?;
    Ok(xml)
}

/// `html_notes` in normal form: the same rich text as Asana's editor keeps it (formatting
/// never empty, never doubled, never starting or ending with a line break; texts merged;
/// canonical escaping). Two descriptions with the same normal form are the same rich text.
pub fn normalize_html_notes(html_notes: &str) -> Result<String, RichTextError> {
    Ok(tree::to_xml(&tree::normalize(html::parse(
        html_notes,
        html::Mode::Read,
    )?)))
}

/// Checks that `html_notes` is something Asana accepts: well-formed XML, one `<body>`,
/// only the subset's tags and images Asana takes back, nested as Asana allows, attributes
/// only on `<a>` (from Asana's list) and images, no character XML forbids.
pub fn validate_html_notes(html_notes: &str) -> Result<(), RichTextError> {
    html::parse(html_notes, html::Mode::Send).map(|_| ())
}

/// Whether [`validate_html_notes`] accepts `html_notes`.
pub fn is_valid_html_notes(html_notes: &str) -> bool {
    validate_html_notes(html_notes).is_ok()
}
