//! Elements outside the subset, kept raw: which of them go back to Asana, and where.
//!
//! Reading `html_notes`, an element Markdown has no syntax for and the subset no tag for
//! (an inline image, or anything else Asana may send inside `<body>`), or a subset tag
//! carrying an attribute the subset does not take, is kept as its exact XML source
//! ([`crate::tree::Node::Raw`]) and written into the Markdown as that same inline HTML.
//!
//! Only what Asana accepts in a task goes back from Markdown as an element: an inline
//! image written as one empty tag, `<img data-asana-gid="..." .../>`, whose attributes are
//! `src`, `alt` or `data-*` (Asana's own: `data-asana-gid`, `data-src-width`,
//! `data-thumbnail-url`...), on one line, outside links, headings and code blocks. Any
//! other raw HTML in Markdown is text: a tag a person typed is never sent as a tag Asana
//! would refuse. So a description holding another raw element reads back as text, and the
//! reader of `html_notes` learns it is not exact ([`crate::read_exact`]).

use crate::tree::Tag;

/// The tag name of an inline image.
pub const IMAGE: &str = "img";

/// The attribute every image sent to Asana carries: the attachment it shows.
pub const IMAGE_GID: &str = "data-asana-gid";

/// Whether `name` may be an attribute of an image sent to Asana: `src`, `alt` or a
/// `data-` attribute, spelt as raw HTML in CommonMark can carry it
/// (`[A-Za-z_:][A-Za-z0-9_.:-]*`).
pub fn image_attribute_allowed(name: &str) -> bool {
    let spelt = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b));
    spelt && (name == "src" || name == "alt" || name.starts_with("data-"))
}

/// Whether an image may stand inside `ancestors` (the elements around it, outermost
/// first): where text may be, but not in a link, a heading or a code block.
pub fn image_allowed_in(ancestors: &[Tag]) -> bool {
    Tag::allows(ancestors.last().copied(), None)
        && !ancestors
            .iter()
            .any(|t| matches!(t, Tag::A | Tag::H1 | Tag::H2 | Tag::Pre))
}
