//! Reading Markdown (pulldown-cmark events) into a document of Asana's subset.
//!
//! Markdown's blocks become Asana's line-based text: a soft or hard line break is a line
//! break, and the line ends between two blocks are counted from the source (the inverse
//! of [`crate::md_write`]: two paragraphs `g` line ends apart are `g` breaks; a block and
//! its neighbour `g` apart are `g - 2` breaks, a list nested right after an item's text
//! `g - 1`, unless that text holds an image). Inline HTML tags of the subset (`<u>`, `<a data-asana-gid=...>`) are the
//! elements they name, and may span paragraphs; an inline image Asana takes
//! (`<img data-asana-gid=... />`, [`crate::raw`]) is kept as written, also when it stands
//! alone on a paragraph's first line (an HTML block to CommonMark, whose following lines
//! are read as the paragraph they are); other HTML stays text. What Asana cannot
//! hold where it stands (a list in a quote, a heading in a list item) keeps its text; what
//! it has no element for at all (images) keeps its Markdown source as text.

use pulldown_cmark::{Event, HeadingLevel, LinkType, Options, Parser, Tag as MdTag, TagEnd};

use crate::error::RichTextError;
use crate::inline_html::{self, HtmlToken};
use crate::raw;
use crate::tree::{Element, MAX_DEPTH, Node, Tag, find_non_xml_char, is_xml_char};

/// The Markdown extensions the conversion reads: only strikethrough (`~~`), which Asana has.
pub fn options() -> Options {
    Options::ENABLE_STRIKETHROUGH
}

/// What a frame of the reader's stack is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// The document.
    Body,
    /// A list item (`<li>`).
    Item,
    /// A quote (`<blockquote>`).
    Quote,
    /// A list (`<ul>`/`<ol>`), holding items.
    List,
    /// A heading.
    Heading,
    /// A code block.
    Code,
    /// Inline formatting or a link, opened by Markdown syntax (`html: false`) or a tag.
    Mark { html: bool },
    /// A block Asana cannot hold here: its text goes to the element around it.
    Transparent,
    /// A list Asana cannot hold here: each item is a line starting with its marker.
    TransparentList { ordered: bool, number: u64 },
}

impl Kind {
    /// Frames whose content is a flow of runs and blocks.
    fn is_container(self) -> bool {
        matches!(
            self,
            Kind::Body
                | Kind::Item
                | Kind::Quote
                | Kind::Transparent
                | Kind::TransparentList { .. }
        )
    }
}

/// The last unit of a container's flow, for the separator before the next one.
#[derive(Clone, Copy)]
struct Last {
    /// A run of inline content (else a block).
    run: bool,
    /// The run holds an element kept raw (an image), which the writer separates from a
    /// nested list by a blank line (see [`Reader::separate`]).
    raw: bool,
    /// Where it ends.
    end: usize,
}

struct Frame {
    kind: Kind,
    /// The element this frame builds (none for transparent frames).
    element: Option<Element>,
    /// The previous unit of this container.
    last: Option<Last>,
    /// The end of the run of inline content in progress, if one is.
    run: Option<usize>,
    /// The run in progress holds an element kept raw.
    run_raw: bool,
}

impl Frame {
    fn new(kind: Kind, element: Option<Element>) -> Self {
        Frame {
            kind,
            element,
            last: None,
            run: None,
            run_raw: false,
        }
    }
}

struct Reader<'s> {
    src: &'s str,
    /// Byte offsets of the source's line feeds.
    line_feeds: Vec<usize>,
    stack: Vec<Frame>,
    /// Element frames open (the depth limit counts them).
    depth: usize,
    /// Inside an image (nested ones counted): events are skipped, the source is kept.
    image: usize,
    /// Where the outermost image in progress starts.
    image_start: usize,
    /// Raw text of the HTML block in progress.
    html_block: Option<String>,
    /// How many [`Reader::paragraph_rest`] readings are in progress, one inside another.
    rests: usize,
}

/// Reads Markdown into a document (not yet normalised).
pub fn parse(src: &str) -> Result<Vec<Node>, RichTextError> {
    let mut r = Reader {
        src,
        line_feeds: src.match_indices('\n').map(|(i, _)| i).collect(),
        // The body's content is held in an element like any other; its tag is never
        // read (`Kind::Body` is what marks it).
        stack: vec![Frame::new(
            Kind::Body,
            Some(Element::new(Tag::Ul, Vec::new())),
        )],
        depth: 0,
        image: 0,
        image_start: 0,
        html_block: None,
        rests: 0,
    };
    for (event, range) in Parser::new_ext(src, options()).into_offset_iter() {
        r.event(event, range.start, range.end)?;
    }
    while r.stack.len() > 1 {
        r.pop();
    }
    let body = r
        .stack
        .pop()
        .and_then(|f| f.element)
        .map(|e| e.children)
        .unwrap_or_default();
    Ok(body)
}

/// What starts in a container: a run of inline content or a block.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Run,
    Block { list: bool },
}

impl Reader<'_> {
    fn event(&mut self, event: Event<'_>, start: usize, end: usize) -> Result<(), RichTextError> {
        if self.image > 0 {
            match event {
                Event::Start(MdTag::Image { .. }) => self.image += 1,
                Event::End(TagEnd::Image) => self.image -= 1,
                _ => {}
            }
            if self.image == 0 {
                // `end` is the image's own end here.
                let text = self.src.get(self.image_start..end).unwrap_or("").to_owned();
                self.text(&text);
                self.touch(end);
            }
            return Ok(());
        }
        match event {
            Event::Start(tag) => self.start(tag, start)?,
            Event::End(tag) => self.end(tag, end)?,
            Event::Text(t) => {
                if let Some(html) = &mut self.html_block {
                    html.push_str(&t);
                } else {
                    self.inline_start(start);
                    self.text(&t);
                    self.touch(end);
                }
            }
            Event::Code(t) => {
                self.inline_start(start);
                let code = Element::new(Tag::Code, vec![Node::Text(clean(&t))]);
                self.attach(Node::Element(code));
                self.touch(end);
            }
            Event::SoftBreak | Event::HardBreak => {
                self.inline_start(start);
                self.text("\n");
                self.touch(end);
            }
            Event::InlineHtml(html) => {
                self.inline_start(start);
                self.html(&html, start)?;
                self.touch(end);
            }
            Event::Html(html) => {
                if let Some(block) = &mut self.html_block {
                    block.push_str(&html);
                } else {
                    self.inline_start(start);
                    self.html_text(&html, start)?;
                    self.touch(end);
                }
            }
            Event::Rule => {
                if self.block_allowed(Tag::Hr) {
                    self.block_start(Unit::Block { list: false }, start);
                    self.attach(Node::Element(Element::new(Tag::Hr, Vec::new())));
                    self.block_done(Unit::Block { list: false }, end);
                } else {
                    self.block_start(Unit::Run, start);
                    self.text("---");
                    self.block_done(Unit::Run, end);
                }
            }
            // Not enabled: footnotes, math, task lists; their text is kept.
            Event::FootnoteReference(t) | Event::InlineMath(t) | Event::DisplayMath(t) => {
                self.inline_start(start);
                self.text(&t);
                self.touch(end);
            }
            Event::TaskListMarker(_) => {}
        }
        Ok(())
    }

    fn start(&mut self, tag: MdTag<'_>, start: usize) -> Result<(), RichTextError> {
        match tag {
            MdTag::Paragraph => {
                let c = self.container();
                self.finish_run(c);
                self.separate(c, Unit::Run, start);
                self.stack[c].run = Some(start);
            }
            MdTag::Heading { level, .. } => {
                let tag = if level == HeadingLevel::H1 {
                    Tag::H1
                } else {
                    Tag::H2
                };
                self.open_block(tag, Kind::Heading, start)?;
            }
            MdTag::BlockQuote(_) => self.open_block(Tag::Blockquote, Kind::Quote, start)?,
            // The info string (a language) has no place in Asana: it is not kept.
            MdTag::CodeBlock(_) => self.open_block(Tag::Pre, Kind::Code, start)?,
            MdTag::List(first) => {
                let tag = if first.is_some() { Tag::Ol } else { Tag::Ul };
                if self.block_allowed(tag) {
                    self.open_block(tag, Kind::List, start)?;
                } else {
                    self.block_start(Unit::Run, start);
                    self.push(
                        Frame::new(
                            Kind::TransparentList {
                                ordered: first.is_some(),
                                number: first.unwrap_or(1),
                            },
                            None,
                        ),
                        start,
                    )?;
                }
            }
            MdTag::Item => {
                let top = self.stack.len() - 1;
                if let Kind::TransparentList { ordered, number } = self.stack[top].kind {
                    self.finish_run(top);
                    self.separate(top, Unit::Run, start);
                    self.stack[top].run = Some(start);
                    let marker = if ordered {
                        format!("{number}. ")
                    } else {
                        "- ".to_owned()
                    };
                    self.stack[top].kind = Kind::TransparentList {
                        ordered,
                        number: number + 1,
                    };
                    self.text(&marker);
                    self.push(Frame::new(Kind::Transparent, None), start)?;
                } else {
                    self.push_element(Tag::Li, Kind::Item, start)?;
                }
            }
            MdTag::HtmlBlock => {
                self.inline_start(start);
                self.html_block = Some(String::new());
            }
            MdTag::Emphasis => self.open_mark(Element::new(Tag::Em, Vec::new()), false, start)?,
            MdTag::Strong => self.open_mark(Element::new(Tag::Strong, Vec::new()), false, start)?,
            MdTag::Strikethrough => {
                self.open_mark(Element::new(Tag::S, Vec::new()), false, start)?
            }
            MdTag::Link {
                link_type,
                dest_url,
                ..
            } => {
                let href = match link_type {
                    LinkType::Email => format!("mailto:{dest_url}"),
                    _ => dest_url.to_string(),
                };
                let link = Element {
                    tag: Tag::A,
                    attrs: vec![("href".into(), clean(&href))],
                    children: Vec::new(),
                };
                self.open_mark(link, false, start)?;
            }
            MdTag::Image { .. } => {
                self.inline_start(start);
                self.image = 1;
                self.image_start = start;
            }
            // Extensions that are not enabled; anything they hold is read as text.
            _ => {}
        }
        Ok(())
    }

    fn end(&mut self, tag: TagEnd, end: usize) -> Result<(), RichTextError> {
        match tag {
            TagEnd::Paragraph => {
                let c = self.container();
                self.touch(end);
                self.finish_run(c);
            }
            TagEnd::HtmlBlock => {
                let mut html = self.html_block.take().unwrap_or_default();
                if html.ends_with('\n') {
                    html.pop();
                }
                self.html_block(&html, end)?;
                let c = self.container();
                self.touch(end);
                self.finish_run(c);
            }
            TagEnd::Heading(_) | TagEnd::BlockQuote(_) | TagEnd::CodeBlock | TagEnd::List(_) => {
                let kind = self.pop_markdown();
                let unit = match kind {
                    Some(Kind::List) => Unit::Block { list: true },
                    Some(Kind::Heading | Kind::Quote | Kind::Code) => Unit::Block { list: false },
                    _ => Unit::Run,
                };
                self.block_done(unit, end);
            }
            TagEnd::Item => {
                self.pop_markdown();
                let top = self.stack.len() - 1;
                if matches!(self.stack[top].kind, Kind::TransparentList { .. }) {
                    self.stack[top].run = Some(end);
                    self.finish_run(top);
                }
            }
            TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough | TagEnd::Link => {
                self.pop_markdown();
                self.touch(end);
            }
            _ => {}
        }
        Ok(())
    }

    // -------------------------------------------------------------------------------
    // The stack

    /// Pushes a frame that builds no element. Their number is bounded too (by more than
    /// the elements': blocks Asana cannot hold nest in ones it can): the reader's work per
    /// event grows with the stack.
    fn push(&mut self, frame: Frame, position: usize) -> Result<(), RichTextError> {
        if self.stack.len() >= 4 * MAX_DEPTH {
            return Err(RichTextError::TooDeep {
                limit: MAX_DEPTH,
                position: position as u64,
            });
        }
        self.stack.push(frame);
        Ok(())
    }

    fn push_element(&mut self, tag: Tag, kind: Kind, position: usize) -> Result<(), RichTextError> {
        if self.depth >= MAX_DEPTH {
            return Err(RichTextError::TooDeep {
                limit: MAX_DEPTH,
                position: position as u64,
            });
        }
        self.depth += 1;
        self.stack
            .push(Frame::new(kind, Some(Element::new(tag, Vec::new()))));
        Ok(())
    }

    /// Pops the top frame, attaching what it built to the element below.
    fn pop(&mut self) -> Option<Kind> {
        if self.stack.len() <= 1 {
            return None;
        }
        let frame = self.stack.pop()?;
        if let Some(mut element) = frame.element {
            self.depth -= 1;
            if element.tag == Tag::Pre
                && let Some(Node::Text(t)) = element.children.last_mut()
                && t.ends_with('\n')
            {
                t.pop();
            }
            self.attach(Node::Element(element));
        }
        Some(frame.kind)
    }

    /// Pops up to and including the innermost frame opened by Markdown syntax (closing
    /// the tags opened in HTML above it); returns its kind.
    fn pop_markdown(&mut self) -> Option<Kind> {
        while let Some(top) = self.stack.last() {
            if matches!(top.kind, Kind::Mark { html: true }) {
                self.pop();
            } else {
                return self.pop();
            }
        }
        None
    }

    /// The innermost container frame.
    fn container(&self) -> usize {
        self.stack
            .iter()
            .rposition(|f| f.kind.is_container())
            .unwrap_or(0)
    }

    /// The innermost frame that is not inline formatting (the block being filled).
    fn host(&self) -> usize {
        self.stack
            .iter()
            .rposition(|f| !matches!(f.kind, Kind::Mark { .. }))
            .unwrap_or(0)
    }

    /// The element that content goes into.
    fn target(&mut self) -> &mut Element {
        let i = self
            .stack
            .iter()
            .rposition(|f| f.element.is_some())
            .unwrap_or(0);
        // The body frame always has an element.
        self.stack[i]
            .element
            .get_or_insert_with(|| Element::new(Tag::Ul, Vec::new()))
    }

    fn attach(&mut self, node: Node) {
        let children = &mut self.target().children;
        match (children.last_mut(), node) {
            (Some(Node::Text(prev)), Node::Text(t)) => prev.push_str(&t),
            (_, node) => children.push(node),
        }
    }

    /// Attaches an element kept raw, noting it in the run in progress.
    fn attach_raw(&mut self, source: String) {
        self.attach(Node::Raw(source));
        let c = self.container();
        self.stack[c].run_raw = true;
    }

    fn text(&mut self, t: &str) {
        if !t.is_empty() {
            self.attach(Node::Text(clean(t)));
        }
    }

    // -------------------------------------------------------------------------------
    // Runs, blocks and the line breaks between them

    fn line(&self, position: usize) -> usize {
        self.line_feeds.partition_point(|&p| p < position)
    }

    /// The line of the last character of a unit ending at `end`, ignoring the blank
    /// lines a range may carry at its end.
    fn last_line(&self, end: usize) -> usize {
        let bytes = self.src.as_bytes();
        let mut e = end.min(bytes.len());
        while e > 0 && matches!(bytes[e - 1], b' ' | b'\t' | b'\r' | b'\n') {
            e -= 1;
        }
        self.line(e.saturating_sub(1))
    }

    /// Appends the line breaks between container `c`'s previous unit and a new one
    /// starting at `start`.
    fn separate(&mut self, c: usize, next: Unit, start: usize) {
        let Some(last) = self.stack[c].last else {
            return;
        };
        let g = self.line(start).saturating_sub(self.last_line(last.end));
        let breaks = match (last.run, next) {
            (true, Unit::Run) => g,
            (true, Unit::Block { list: true })
                if self.stack[c].kind == Kind::Item
                    && !self.bare_marker_line(start)
                    && !last.raw =>
            {
                g.saturating_sub(1)
            }
            _ => g.saturating_sub(2),
        };
        if breaks > 0 {
            self.text(&"\n".repeat(breaks));
        }
    }

    /// Whether the line at `start` is a list marker alone (a list whose first item is
    /// empty or starts with a list; such a list cannot follow text without a blank line).
    fn bare_marker_line(&self, start: usize) -> bool {
        let line = self.src[start..]
            .split('\n')
            .next()
            .unwrap_or("")
            // Markdown's whitespace only: a no-break space is content.
            .trim_end_matches([' ', '\t', '\r']);
        let digits = line.bytes().take_while(u8::is_ascii_digit).count();
        match &line[digits..] {
            "-" | "*" | "+" => digits == 0,
            "." | ")" => digits > 0,
            _ => false,
        }
    }

    /// Ends container `c`'s run in progress, if any.
    fn finish_run(&mut self, c: usize) {
        if let Some(end) = self.stack[c].run.take() {
            let raw = std::mem::take(&mut self.stack[c].run_raw);
            self.stack[c].last = Some(Last {
                run: true,
                raw,
                end,
            });
        }
    }

    /// Inline content at `start`: starts a run in its container unless one is open.
    fn inline_start(&mut self, start: usize) {
        let h = self.host();
        if !self.stack[h].kind.is_container() {
            return;
        }
        if self.stack[h].run.is_none() {
            self.separate(h, Unit::Run, start);
            self.stack[h].run = Some(start);
        }
    }

    /// Records that inline content reaches `end`.
    fn touch(&mut self, end: usize) {
        let h = self.host();
        if let Some(run) = &mut self.stack[h].run {
            *run = (*run).max(end);
        }
    }

    /// Closes the formatting open in the container and separates a new block from what
    /// came before.
    fn block_start(&mut self, unit: Unit, start: usize) {
        let c = self.container();
        while self.stack.len() - 1 > c {
            self.pop();
        }
        self.finish_run(c);
        self.separate(c, unit, start);
        if unit == Unit::Run {
            self.stack[c].run = Some(start);
        }
    }

    /// Records a finished block (or a run standing for one) in its container.
    fn block_done(&mut self, unit: Unit, end: usize) {
        let c = self.container();
        match unit {
            Unit::Run => {
                self.stack[c].run = Some(end);
                self.finish_run(c);
            }
            Unit::Block { .. } => {
                self.stack[c].run = None;
                self.stack[c].last = Some(Last {
                    run: false,
                    raw: false,
                    end,
                });
            }
        }
    }

    /// Whether Asana allows a `tag` block in the element around the current container.
    fn block_allowed(&self, tag: Tag) -> bool {
        let c = self.container();
        let parent = self.stack[..=c]
            .iter()
            .rev()
            .find_map(|f| f.element.as_ref().map(|e| (f.kind, e.tag)));
        let parent = match parent {
            Some((Kind::Body, _)) | None => None,
            Some((_, t)) => Some(t),
        };
        Tag::allows(parent, Some(tag))
    }

    fn open_block(&mut self, tag: Tag, kind: Kind, start: usize) -> Result<(), RichTextError> {
        if self.block_allowed(tag) {
            self.block_start(
                Unit::Block {
                    list: kind == Kind::List,
                },
                start,
            );
            self.push_element(tag, kind, start)
        } else {
            self.block_start(Unit::Run, start);
            self.push(Frame::new(Kind::Transparent, None), start)
        }
    }

    fn open_mark(
        &mut self,
        element: Element,
        html: bool,
        start: usize,
    ) -> Result<(), RichTextError> {
        self.inline_start(start);
        if self.depth >= MAX_DEPTH {
            return Err(RichTextError::TooDeep {
                limit: MAX_DEPTH,
                position: start as u64,
            });
        }
        self.depth += 1;
        self.stack
            .push(Frame::new(Kind::Mark { html }, Some(element)));
        Ok(())
    }

    // -------------------------------------------------------------------------------
    // HTML

    /// One piece of inline HTML.
    fn html(&mut self, html: &str, position: usize) -> Result<(), RichTextError> {
        let (token, len) = inline_html::scan(html);
        if len != html.len() {
            self.text(html);
            return Ok(());
        }
        self.token(token, html, position)
    }

    fn token(&mut self, token: HtmlToken, raw: &str, position: usize) -> Result<(), RichTextError> {
        match token {
            HtmlToken::Open {
                tag,
                attrs,
                self_closing,
            } => {
                let element = Element {
                    tag,
                    attrs,
                    children: Vec::new(),
                };
                if self_closing {
                    self.attach(Node::Element(element));
                } else {
                    self.open_mark(element, true, position)?;
                }
            }
            HtmlToken::Close(tag) => {
                // Only a tag opened in HTML, with nothing opened by Markdown syntax above
                // it, is closed; otherwise the closing tag is text.
                let open = self.stack.iter().rposition(|f| {
                    !matches!(f.kind, Kind::Mark { html: true })
                        || f.element.as_ref().is_some_and(|e| e.tag == tag)
                });
                match open {
                    Some(i) if matches!(self.stack[i].kind, Kind::Mark { html: true }) => {
                        while self.stack.len() > i {
                            self.pop();
                        }
                    }
                    _ => self.text(raw),
                }
            }
            HtmlToken::LineBreak => self.text("\n"),
            HtmlToken::Raw(source) => {
                if self.image_allowed() {
                    self.attach_raw(source);
                } else {
                    self.text(raw);
                }
            }
            HtmlToken::Other => self.text(raw),
        }
        Ok(())
    }

    /// Whether an image may stand where content goes now (Asana's rule, [`raw`]).
    fn image_allowed(&self) -> bool {
        // The body frame's element is a placeholder: it is not an ancestor.
        let ancestors: Vec<Tag> = self.stack[1..]
            .iter()
            .filter_map(|f| f.element.as_ref().map(|e| e.tag))
            .collect();
        raw::image_allowed_in(&ancestors)
    }

    /// An HTML block ending at `end`. CommonMark makes one of a paragraph whose first line
    /// is an inline image alone (how the writer puts an image first in a paragraph): those
    /// images are read as such, and the lines after them as the rest of the paragraph they
    /// are. Any other HTML block is raw HTML ([`Self::html_text`]).
    fn html_block(&mut self, html: &str, end: usize) -> Result<(), RichTextError> {
        let mut rest = html;
        let mut images = 0usize;
        loop {
            let (line, after) = match rest.split_once('\n') {
                Some((line, after)) => (line, Some(after)),
                None => (rest, None),
            };
            let tag = line.trim_end_matches('\r').trim_matches([' ', '\t']);
            match inline_html::scan(tag) {
                (HtmlToken::Raw(source), len) if len == tag.len() && self.image_allowed() => {
                    if images > 0 {
                        self.text("\n");
                    }
                    self.attach_raw(source);
                    images += 1;
                    match after {
                        Some(after) => rest = after,
                        None => return Ok(()),
                    }
                }
                _ => break,
            }
        }
        if images == 0 {
            return self.html_text(html, end);
        }
        self.paragraph_rest(rest, end)
    }

    /// The lines after the images that start an HTML block: read as what they would be
    /// after those images' line in a paragraph (more of it, or a list that interrupts it),
    /// with every break between them and what comes before counted as none more than the
    /// line end (they are adjacent lines: an HTML block holds no blank line). Lines
    /// holding a link reference definition or an image's Markdown, whose reading depends on
    /// the rest of the document, stay text.
    fn paragraph_rest(&mut self, rest: &str, end: usize) -> Result<(), RichTextError> {
        let parser = Parser::new_ext(rest, options());
        let defines = parser.reference_definitions().iter().next().is_some();
        let events: Vec<Event<'_>> = parser.collect();
        let images = events
            .iter()
            .any(|e| matches!(e, Event::Start(MdTag::Image { .. })));
        if defines || images {
            self.text("\n");
            return self.html_text(rest, end);
        }
        // Each reading holds the next (an item's image line, then its nested list...): the
        // Markdown writer nests lists two elements a level, so Asana's rich text never
        // needs more than half the depth limit; the reader's work grows with each one.
        if self.rests >= MAX_DEPTH / 2 {
            return Err(RichTextError::TooDeep {
                limit: MAX_DEPTH,
                position: end as u64,
            });
        }
        // The run of the HTML block reaches its end: what follows is separated from there.
        self.touch(end);
        let mut events = events.into_iter().peekable();
        match events.peek() {
            Some(Event::Start(MdTag::Paragraph)) => {
                events.next();
                self.text("\n");
            }
            Some(Event::Start(MdTag::HtmlBlock)) => self.text("\n"),
            _ => {}
        }
        self.rests += 1;
        let read = events
            .into_iter()
            .try_for_each(|event| self.event(event, end, end));
        self.rests -= 1;
        read
    }

    /// Raw HTML (a block): tags of the subset are elements, the rest text with its
    /// character references read.
    fn html_text(&mut self, html: &str, position: usize) -> Result<(), RichTextError> {
        let mut rest = html;
        while let Some(at) = rest.find('<') {
            self.text(&inline_html::decode_references(&rest[..at]));
            let (token, len) = inline_html::scan(&rest[at..]);
            if len == 0 {
                self.text("<");
                rest = &rest[at + 1..];
            } else {
                let raw = &rest[at..at + len];
                self.token(token, raw, position)?;
                rest = &rest[at + len..];
            }
        }
        self.text(&inline_html::decode_references(rest));
        Ok(())
    }
}

/// Text as XML can carry it: characters XML forbids are dropped (a copy as it is when
/// there are none, the usual case).
fn clean(t: &str) -> String {
    if find_non_xml_char(t).is_none() {
        return t.to_owned();
    }
    t.chars().filter(|&c| is_xml_char(c)).collect()
}
