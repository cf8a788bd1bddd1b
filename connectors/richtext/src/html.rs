//! Reading `html_notes` with a strict XML reader (quick-xml): the document must be one
//! well-formed `<body>`, nested as Asana allows, or reading fails naming the problem and
//! where it is. Read for conversion ([`Mode::Read`]), an element outside the subset is
//! kept as its exact source ([`Node::Raw`]); read as the guard run on every document the
//! bridge is about to send ([`Mode::Send`]), only the subset and the images Asana takes
//! ([`crate::raw`]) pass.

use quick_xml::Reader;
use quick_xml::events::{BytesRef, BytesStart, Event};

use crate::error::RichTextError;
use crate::raw;
use crate::tree::{Element, LINK_ATTRIBUTES, MAX_DEPTH, Node, Tag, find_non_xml_char, is_xml_char};

/// What a document is read for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// Converting what Asana sent: any well-formed element outside the subset is kept raw.
    Read,
    /// Checking what is about to be sent: only the subset and images Asana accepts.
    Send,
}

/// Where the reader is relative to the `<body>` element.
#[derive(PartialEq, Eq)]
enum Place {
    Before,
    Inside,
    After,
}

/// Reads `html_notes` into a tree (not normalised: exactly what the document says).
pub fn parse(input: &str, mode: Mode) -> Result<Vec<Node>, RichTextError> {
    let mut reader = Reader::from_str(input);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.check_comments = true;
    config.expand_empty_elements = false;
    let mut body: Vec<Node> = Vec::new();
    let mut stack: Vec<Element> = Vec::new();
    let mut place = Place::Before;
    loop {
        let position = reader.buffer_position();
        let event = reader.read_event().map_err(|source| RichTextError::Xml {
            position: reader.error_position(),
            source,
        })?;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) if place != Place::Inside => {
                let name = element_name(start);
                if place == Place::Before && name == "body" {
                    if let Some(attr) = start.attributes().next() {
                        let attr = attr.map_err(|source| RichTextError::Attribute {
                            tag: name.clone(),
                            position,
                            source,
                        })?;
                        return Err(RichTextError::UnsupportedAttribute {
                            tag: name,
                            attribute: attr.key.as_ref().to_owned(),
                            position,
                        });
                    }
                    place = if matches!(event, Event::Empty(_)) {
                        Place::After
                    } else {
                        Place::Inside
                    };
                } else {
                    return Err(RichTextError::NotBody {
                        found: format!("<{name}>"),
                        position,
                    });
                }
            }
            Event::Start(ref start) | Event::Empty(ref start) => {
                let empty = matches!(event, Event::Empty(_));
                if stack.len() >= MAX_DEPTH {
                    return Err(RichTextError::TooDeep {
                        limit: MAX_DEPTH,
                        position,
                    });
                }
                match open_element(start, stack.last().map(|e| e.tag), position) {
                    Ok(element) if empty => {
                        attach(&mut stack, &mut body, Node::Element(element));
                    }
                    Ok(element) => stack.push(element),
                    Err(
                        error @ (RichTextError::UnsupportedTag { .. }
                        | RichTextError::UnsupportedAttribute { .. }),
                    ) => {
                        if mode == Mode::Send && element_name(start) != raw::IMAGE {
                            return Err(error);
                        }
                        let node =
                            foreign(input, &mut reader, start, empty, &stack, position, mode)?;
                        attach(&mut stack, &mut body, node);
                    }
                    Err(error) => return Err(error),
                }
            }
            Event::End(_) => match stack.pop() {
                Some(element) => attach(&mut stack, &mut body, Node::Element(element)),
                // The reader checked that this is `</body>`.
                None => place = Place::After,
            },
            Event::Text(text) => {
                let text = text.xml10_content();
                add_text(&text, &mut stack, &mut body, &place, position)?;
            }
            Event::CData(text) => {
                let text = text.xml10_content();
                add_text(&text, &mut stack, &mut body, &place, position)?;
            }
            Event::GeneralRef(reference) => {
                let resolved = resolve_reference(&reference, position)?;
                add_text(&resolved, &mut stack, &mut body, &place, position)?;
            }
            Event::Decl(_) if place == Place::Before && position == 0 => {}
            Event::Comment(_) => {
                return Err(RichTextError::Misplaced {
                    child: "a comment".into(),
                    parent: parent_name(&stack),
                    position,
                });
            }
            Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {
                return Err(RichTextError::NotBody {
                    found: "a declaration or processing instruction".into(),
                    position,
                });
            }
            Event::Eof => {
                return match (place, stack.last()) {
                    (Place::After, _) => Ok(body),
                    (Place::Before, _) => Err(RichTextError::NotBody {
                        found: "no element".into(),
                        position,
                    }),
                    (Place::Inside, Some(e)) => Err(RichTextError::Unclosed {
                        tag: e.tag.name().into(),
                    }),
                    (Place::Inside, None) => Err(RichTextError::Unclosed { tag: "body".into() }),
                };
            }
        }
    }
}

/// The text a character or entity reference stands for; only XML's five entities and
/// characters XML may carry.
fn resolve_reference(reference: &BytesRef<'_>, position: u64) -> Result<String, RichTextError> {
    if reference.is_char_ref() {
        let c = reference
            .resolve_char_ref()
            .map_err(|source| RichTextError::Xml { position, source })?;
        // `resolve_char_ref` answers `Some` for every character reference.
        let c = c.unwrap_or('\u{0}');
        if !is_xml_char(c) {
            return Err(RichTextError::InvalidChar {
                code: c as u32,
                position,
            });
        }
        return Ok(c.to_string());
    }
    let name = reference.xml10_content();
    match quick_xml::escape::resolve_xml_entity(&name) {
        Some(s) => Ok(s.to_owned()),
        None => Err(RichTextError::UnknownEntity {
            name: name.into_owned(),
            position,
        }),
    }
}

/// An element outside the subset (or a subset tag with an attribute the subset does not
/// take), whose start tag `start` was just read at `position`: kept as its exact source
/// in [`Mode::Read`] where text may stand (never in a code block); in [`Mode::Send`] (the
/// caller only asks about `<img>`) only an image Asana accepts passes.
fn foreign(
    input: &str,
    reader: &mut Reader<&[u8]>,
    start: &BytesStart<'_>,
    empty: bool,
    stack: &[Element],
    position: u64,
    mode: Mode,
) -> Result<Node, RichTextError> {
    let name = element_name(start);
    let ancestors: Vec<Tag> = stack.iter().map(|e| e.tag).collect();
    let placed = match mode {
        Mode::Send => raw::image_allowed_in(&ancestors),
        Mode::Read => {
            Tag::allows(ancestors.last().copied(), None) && !ancestors.contains(&Tag::Pre)
        }
    };
    if !placed {
        return Err(RichTextError::Misplaced {
            child: format!("<{name}>"),
            parent: parent_name(stack),
            position,
        });
    }
    let mut has_gid = false;
    for attr in start.attributes() {
        let attr = attr.map_err(|source| RichTextError::Attribute {
            tag: name.clone(),
            position,
            source,
        })?;
        let key = attr.key.as_ref().to_owned();
        check_value(&attr, position)?;
        if mode == Mode::Send && !raw::image_attribute_allowed(&key) {
            return Err(RichTextError::UnsupportedAttribute {
                tag: name,
                attribute: key,
                position,
            });
        }
        has_gid |= key == raw::IMAGE_GID;
    }
    let source = if empty {
        slice(input, position, reader.buffer_position())
    } else {
        capture(input, reader, &name, stack.len(), position)?
    };
    if mode == Mode::Send {
        let problem = if !empty {
            Some("is not one empty tag <img .../>")
        } else if !has_gid {
            Some("has no data-asana-gid")
        } else if source.contains(['\n', '\r']) {
            Some("spans lines")
        } else if !crate::inline_html::is_one_tag(&source) {
            Some("is not spelt as Markdown's inline HTML can carry it")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(RichTextError::Image { problem, position });
        }
    }
    Ok(Node::Raw(source))
}

/// Checks an attribute value: references XML knows, characters XML may carry.
fn check_value(
    attr: &quick_xml::events::attributes::Attribute<'_>,
    position: u64,
) -> Result<(), RichTextError> {
    let value = attr
        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
        .map_err(|source| RichTextError::Xml { position, source })?;
    if let Some(c) = find_non_xml_char(&value) {
        return Err(RichTextError::InvalidChar {
            code: c as u32,
            position,
        });
    }
    Ok(())
}

fn slice(input: &str, from: u64, to: u64) -> String {
    let from = usize::try_from(from).unwrap_or(usize::MAX);
    let to = usize::try_from(to).unwrap_or(usize::MAX);
    input.get(from..to).unwrap_or_default().to_owned()
}

/// Reads the rest of an element `name` opened at `start` (`depth` elements deep), checking
/// that it is well-formed, and returns its whole source.
fn capture(
    input: &str,
    reader: &mut Reader<&[u8]>,
    name: &str,
    depth: usize,
    start: u64,
) -> Result<String, RichTextError> {
    let mut open = 1usize;
    loop {
        let position = reader.buffer_position();
        let event = reader.read_event().map_err(|source| RichTextError::Xml {
            position: reader.error_position(),
            source,
        })?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                for attr in e.attributes() {
                    let attr = attr.map_err(|source| RichTextError::Attribute {
                        tag: element_name(e),
                        position,
                        source,
                    })?;
                    check_value(&attr, position)?;
                }
                if matches!(event, Event::Start(_)) {
                    open += 1;
                    if depth + open > MAX_DEPTH {
                        return Err(RichTextError::TooDeep {
                            limit: MAX_DEPTH,
                            position,
                        });
                    }
                }
            }
            Event::End(_) => {
                open -= 1;
                if open == 0 {
                    return Ok(slice(input, start, reader.buffer_position()));
                }
            }
            Event::Text(text) => check_chars(&text.xml10_content(), position)?,
            Event::CData(text) => check_chars(&text.xml10_content(), position)?,
            Event::GeneralRef(reference) => {
                resolve_reference(&reference, position)?;
            }
            Event::Comment(_) => {
                return Err(RichTextError::Misplaced {
                    child: "a comment".into(),
                    parent: name.to_owned(),
                    position,
                });
            }
            Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {
                return Err(RichTextError::NotBody {
                    found: "a declaration or processing instruction".into(),
                    position,
                });
            }
            Event::Eof => {
                return Err(RichTextError::Unclosed {
                    tag: name.to_owned(),
                });
            }
        }
    }
}

fn check_chars(text: &str, position: u64) -> Result<(), RichTextError> {
    match find_non_xml_char(text) {
        Some(c) => Err(RichTextError::InvalidChar {
            code: c as u32,
            position,
        }),
        None => Ok(()),
    }
}

fn element_name(start: &BytesStart<'_>) -> String {
    start.name().as_ref().to_owned()
}

fn parent_name(stack: &[Element]) -> String {
    stack.last().map_or("body", |e| e.tag.name()).to_owned()
}

/// Checks an opening tag against the subset and its parent, and reads its attributes.
fn open_element(
    start: &BytesStart<'_>,
    parent: Option<Tag>,
    position: u64,
) -> Result<Element, RichTextError> {
    let name = element_name(start);
    let Some(tag) = Tag::from_name(&name) else {
        return Err(RichTextError::UnsupportedTag {
            tag: name,
            position,
        });
    };
    if !Tag::allows(parent, Some(tag)) {
        return Err(RichTextError::Misplaced {
            child: format!("<{name}>"),
            parent: parent.map_or("body", Tag::name).to_owned(),
            position,
        });
    }
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|source| RichTextError::Attribute {
            tag: name.clone(),
            position,
            source,
        })?;
        let key = attr.key.as_ref().to_owned();
        if tag != Tag::A || !LINK_ATTRIBUTES.contains(&key.as_str()) {
            return Err(RichTextError::UnsupportedAttribute {
                tag: name,
                attribute: key,
                position,
            });
        }
        check_value(&attr, position)?;
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|source| RichTextError::Xml { position, source })?;
        attrs.push((key, value.into_owned()));
    }
    Ok(Element {
        tag,
        attrs,
        children: Vec::new(),
    })
}

fn attach(stack: &mut [Element], body: &mut Vec<Node>, node: Node) {
    let children = match stack.last_mut() {
        Some(parent) => &mut parent.children,
        None => body,
    };
    match (children.last_mut(), node) {
        (Some(Node::Text(prev)), Node::Text(t)) => prev.push_str(&t),
        (_, node) => children.push(node),
    }
}

fn add_text(
    text: &str,
    stack: &mut [Element],
    body: &mut Vec<Node>,
    place: &Place,
    position: u64,
) -> Result<(), RichTextError> {
    if text.is_empty() {
        return Ok(());
    }
    let blank = text.chars().all(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
    if *place != Place::Inside {
        if blank {
            return Ok(());
        }
        return Err(RichTextError::NotBody {
            found: "text".into(),
            position,
        });
    }
    let parent = stack.last().map(|e| e.tag);
    if !Tag::allows(parent, None) {
        // Indentation between list items is not content.
        if blank && matches!(parent, Some(Tag::Ul | Tag::Ol)) {
            return Ok(());
        }
        return Err(RichTextError::Misplaced {
            child: "text".into(),
            parent: parent_name(stack),
            position,
        });
    }
    if let Some(c) = find_non_xml_char(text) {
        return Err(RichTextError::InvalidChar {
            code: c as u32,
            position,
        });
    }
    if text.contains('\n') && matches!(stack.first().map(|e| e.tag), Some(Tag::H1 | Tag::H2)) {
        return Err(RichTextError::Misplaced {
            child: "a line break".into(),
            parent: stack[0].tag.name().into(),
            position,
        });
    }
    attach(stack, body, Node::Text(text.to_owned()));
    Ok(())
}
