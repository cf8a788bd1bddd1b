//! The one error type of the crate: what was wrong with a document, and where.

/// Why a document could not be converted. Positions are byte offsets into the input.
#[derive(Debug, thiserror::Error)]
pub enum RichTextError {
    /// The input is not well-formed XML.
    #[error("html_notes is not well-formed XML (byte {position}): {source}")]
    Xml {
        /// Where the reader stopped.
        position: u64,
        /// What the XML reader found.
        #[source]
        source: quick_xml::Error,
    },
    /// An attribute is not well-formed (unquoted, repeated...).
    #[error("malformed attribute in <{tag}> (byte {position}): {source}")]
    Attribute {
        /// The element carrying it.
        tag: String,
        /// Where the element starts.
        position: u64,
        /// What the XML reader found.
        #[source]
        source: quick_xml::events::attributes::AttrError,
    },
    /// The document is not exactly one `<body>` element.
    #[error("html_notes must be one <body> element; found {found} at byte {position}")]
    NotBody {
        /// What was found instead.
        found: String,
        /// Where.
        position: u64,
    },
    /// A tag outside Asana's rich-text subset for tasks.
    #[error("tag <{tag}> (byte {position}) is not in the rich-text subset the bridge converts")]
    UnsupportedTag {
        /// The tag name.
        tag: String,
        /// Where the element starts.
        position: u64,
    },
    /// An inline image Asana would not take back (sent only as one empty tag on one line
    /// naming its attachment).
    #[error("<img> (byte {position}) {problem}")]
    Image {
        /// What is wrong with it.
        problem: &'static str,
        /// Where the element starts.
        position: u64,
    },
    /// An attribute Asana does not accept on that tag (only `<a>` and `<img>` have
    /// attributes).
    #[error("attribute {attribute:?} is not allowed on <{tag}> (byte {position})")]
    UnsupportedAttribute {
        /// The element.
        tag: String,
        /// The attribute name.
        attribute: String,
        /// Where the element starts.
        position: u64,
    },
    /// An element or text where Asana does not allow it (a list in a heading, text
    /// directly in a list, a line break in a heading...).
    #[error("{child} is not allowed inside <{parent}> (byte {position})")]
    Misplaced {
        /// What was found (`<tag>`, `text` or `a line break`).
        child: String,
        /// The element it was found in (`body` for the top level).
        parent: String,
        /// Where.
        position: u64,
    },
    /// An entity reference XML does not define (`&nbsp;` is HTML, not XML).
    #[error("unknown entity &{name}; (byte {position})")]
    UnknownEntity {
        /// The entity name.
        name: String,
        /// Where.
        position: u64,
    },
    /// A character XML 1.0 cannot carry (a control character, a reference to one).
    #[error("character U+{code:04X} is not allowed in XML (byte {position})")]
    InvalidChar {
        /// The code point.
        code: u32,
        /// Where.
        position: u64,
    },
    /// The input ended inside an element.
    #[error("<{tag}> is not closed before the end of html_notes")]
    Unclosed {
        /// The innermost open element.
        tag: String,
    },
    /// Elements nested deeper than [`crate::MAX_DEPTH`].
    #[error("elements nested deeper than {limit} levels (byte {position})")]
    TooDeep {
        /// The limit.
        limit: usize,
        /// Where the limit was crossed.
        position: u64,
    },
}
