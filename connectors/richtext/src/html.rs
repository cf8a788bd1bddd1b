//! Reading `html_notes` with a strict XML reader (quick-xml): the document must be one
//! `<body>` of Asana's rich-text subset, nested as Asana allows, or reading fails naming
//! the problem and where it is. The same reading is the guard run on every document the
//! bridge is about to send.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::error::RichTextError;
use crate::tree::{Element, LINK_ATTRIBUTES, MAX_DEPTH, Node, Tag, is_xml_char};

/// Where the reader is relative to the `<body>` element.
#[derive(PartialEq, Eq)]
enum Place {
    Before,
    Inside,
    After,
}

/// Reads `html_notes` into a tree (not normalised: exactly what the document says).
pub fn parse(input: &str) -> Result<Vec<Node>, RichTextError> {
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
            Event::Start(start) => {
                let element = open_element(&start, stack.last().map(|e| e.tag), position)?;
                if stack.len() >= MAX_DEPTH {
                    return Err(RichTextError::TooDeep {
                        limit: MAX_DEPTH,
                        position,
                    });
                }
                stack.push(element);
            }
            Event::Empty(start) => {
                let element = open_element(&start, stack.last().map(|e| e.tag), position)?;
                if stack.len() >= MAX_DEPTH {
                    return Err(RichTextError::TooDeep {
                        limit: MAX_DEPTH,
                        position,
                    });
                }
                attach(&mut stack, &mut body, Node::Element(element));
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
                let resolved: String = if reference.is_char_ref() {
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
                    c.to_string()
                } else {
                    let name = reference.xml10_content();
                    match quick_xml::escape::resolve_xml_entity(&name) {
                        Some(s) => s.to_owned(),
                        None => {
                            return Err(RichTextError::UnknownEntity {
                                name: name.into_owned(),
                                position,
                            });
                        }
                    }
                };
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
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|source| RichTextError::Xml { position, source })?;
        if let Some(c) = value.chars().find(|&c| !is_xml_char(c)) {
            return Err(RichTextError::InvalidChar {
                code: c as u32,
                position,
            });
        }
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
    if let Some(c) = text.chars().find(|&c| !is_xml_char(c)) {
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
