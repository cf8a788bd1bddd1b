//! JSON representations of the simulated resources in Asana's response shapes.
//!
//! Each function builds the "rich" form (every field the simulator models, nested
//! resources compact); [`crate::fields::render`] then cuts it down to the default form of
//! the endpoint or to the requested `opt_fields`.

use serde_json::{Value, json};

use crate::state::{State, Task, iso};

/// Top-level keys of the compact form of every resource (tasks add `resource_subtype`).
pub const COMPACT: &[&str] = &["gid", "resource_type", "name", "resource_subtype"];

/// Task fields only returned when asked for (Asana's "opt-in" fields).
pub const TASK_OPT_IN: &[&str] = &[
    "created_by",
    "dependencies",
    "dependents",
    "html_notes",
    "is_rendered_as_separator",
    "num_subtasks",
];

/// Project fields only returned when asked for.
pub const PROJECT_OPT_IN: &[&str] = &["html_notes"];

/// No opt-in fields.
pub const NONE: &[&str] = &[];

/// Escapes text for Asana's XML rich text.
fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `<body>...</body>` for plain notes: what Asana stores when `notes` is written.
pub fn html_notes(notes: &str) -> String {
    format!("<body>{}</body>", xml_escape(notes))
}

/// The tags Asana accepts in a task's `html_notes` (API notes §3; `<pre>` and
/// `<blockquote>` as third-party validators accept them; `<img>`, an inline image of an
/// attachment, as Asana's rich-text announcement says tasks have them).
const RICH_TAGS: &[&str] = &[
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
    "img",
];

/// The attributes Asana accepts on `<a>` (only it and `<img>` may carry attributes).
const LINK_ATTRIBUTES: &[&str] = &[
    "href",
    "data-asana-accessible",
    "data-asana-dynamic",
    "data-asana-type",
    "data-asana-gid",
    "data-asana-project",
    "data-asana-tag",
];

/// Whether `key` may be on an inline image: `src`, `alt` and Asana's `data-` attributes
/// (`data-asana-gid`, the attachment; `data-src-width`, `data-thumbnail-url`...), as Asana
/// sends them on inline images.
fn image_attribute(key: &str) -> bool {
    key == "src" || key == "alt" || key.starts_with("data-")
}

/// Checks `html_notes` as Asana does on a write (valid XML, one root `<body>`, only
/// Asana's tags, attributes only on `<a>` and `<img>`) and returns its plain text, which Asana keeps
/// as `notes` (see [`PlainText`]).
///
/// # Errors
/// Asana's `400` (`html_notes: XML is invalid: ...`) naming what is wrong.
pub fn rich_text(html: &str) -> Result<String, String> {
    use quick_xml::events::Event;
    let invalid = |detail: String| format!("html_notes: XML is invalid: {detail}");
    let mut reader = quick_xml::Reader::from_str(html);
    reader.config_mut().check_end_names = true;
    let mut open: Vec<String> = Vec::new();
    let mut seen_body = false;
    let mut text = PlainText::default();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| invalid(format!("{e} at byte {}", reader.error_position())))?;
        let inside = !open.is_empty();
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = e.name().into_inner().to_owned();
                let empty = matches!(event, Event::Empty(_));
                if !inside {
                    if seen_body || name != "body" {
                        return Err(invalid("the root element must be <body>".to_owned()));
                    }
                    seen_body = true;
                } else if !RICH_TAGS.contains(&name.as_str()) {
                    return Err(format!("html_notes: tag <{name}> is not supported"));
                }
                for attr in e.attributes() {
                    let attr = attr.map_err(|e| invalid(e.to_string()))?;
                    let key = attr.key.into_inner().to_owned();
                    let allowed = match name.as_str() {
                        "a" => LINK_ATTRIBUTES.contains(&key.as_str()),
                        "img" => image_attribute(&key),
                        _ => false,
                    };
                    if !allowed {
                        return Err(format!(
                            "html_notes: attribute {key} is not supported on <{name}>"
                        ));
                    }
                }
                if inside {
                    text.open(&name);
                }
                if empty {
                    text.close(&name);
                } else {
                    open.push(name);
                }
            }
            Event::End(_) => {
                if let Some(name) = open.pop() {
                    text.close(&name);
                }
            }
            Event::Text(t) if inside => text.push_str(&t.xml10_content()),
            Event::CData(t) if inside => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if inside => {
                if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => text.push(c),
                        _ => return Err(invalid("a bad character reference".to_owned())),
                    }
                } else {
                    let name = r.xml10_content();
                    let resolved = quick_xml::escape::resolve_xml_entity(&name)
                        .ok_or_else(|| invalid(format!("unknown entity &{name};")))?;
                    text.push_str(resolved);
                }
            }
            Event::Text(t) if t.xml10_content().trim().is_empty() => {}
            Event::Eof => {
                if !seen_body || inside {
                    return Err(invalid(
                        "the document must be one <body> element".to_owned(),
                    ));
                }
                return Ok(text.out);
            }
            Event::Decl(_) if !seen_body => {}
            _ => {
                return Err(invalid(
                    "the document must be one <body> element".to_owned(),
                ));
            }
        }
    }
}

/// The plain text of rich text, roughly as Asana derives `notes`: the text with the tags
/// dropped, headings, code blocks, quotes, rules and list items on lines of their own,
/// list items marked (`1. ` in numbered lists, `• ` otherwise, indented when nested).
#[derive(Default)]
struct PlainText {
    out: String,
    /// Per open list: the next item's number (`None` for a bulleted list).
    lists: Vec<Option<usize>>,
    /// A block ended: the next text starts a line.
    break_pending: bool,
}

impl PlainText {
    const BLOCKS: &[&str] = &["h1", "h2", "pre", "blockquote", "ul", "ol", "li", "hr"];

    fn start_line(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push('\n');
        }
        self.break_pending = false;
    }

    fn open(&mut self, tag: &str) {
        if Self::BLOCKS.contains(&tag) {
            self.break_pending = true;
        }
        match tag {
            "ul" => self.lists.push(None),
            "ol" => self.lists.push(Some(1)),
            "li" => {
                let indent = "  ".repeat(self.lists.len().saturating_sub(1));
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        *n += 1;
                        format!("{}. ", *n - 1)
                    }
                    _ => "• ".to_owned(),
                };
                self.push_str(&format!("{indent}{marker}"));
            }
            _ => {}
        }
    }

    fn close(&mut self, tag: &str) {
        if matches!(tag, "ul" | "ol") {
            self.lists.pop();
        }
        if Self::BLOCKS.contains(&tag) {
            self.break_pending = true;
        }
    }

    fn push_str(&mut self, text: &str) {
        if self.break_pending && !text.is_empty() {
            self.start_line();
        }
        self.out.push_str(text);
    }

    fn push(&mut self, c: char) {
        self.push_str(c.encode_utf8(&mut [0; 4]));
    }
}

/// Asana-like permalink for any object.
pub fn permalink(gid: &str) -> String {
    format!("https://app.asana.com/0/0/{gid}/f")
}

/// The rich task (or the malformed stand-in a test put in its place).
pub fn task(st: &State, t: &Task) -> Value {
    if let Some(raw) = st.malformed.get(&t.gid) {
        return raw.clone();
    }
    let memberships: Vec<Value> = t
        .memberships
        .iter()
        .map(|m| {
            let mut v = json!({ "project": st.project_ref(&m.project) });
            if let Some(s) = &m.section {
                v["section"] = st.section_ref(s);
            }
            v
        })
        .collect();
    let projects: Vec<Value> = t
        .memberships
        .iter()
        .map(|m| st.project_ref(&m.project))
        .collect();
    let tags: Vec<Value> = t.tags.iter().map(|g| st.tag_ref(g)).collect();
    let mut out = task_fields(st, t, memberships, projects, tags);
    // Asana's description types `parent` as an object, never null: a top-level task
    // leaves it out.
    if out.get("parent").is_some_and(Value::is_null)
        && let Some(map) = out.as_object_mut()
    {
        map.remove("parent");
    }
    out
}

/// Every field of a rich task.
fn task_fields(
    st: &State,
    t: &Task,
    memberships: Vec<Value>,
    projects: Vec<Value>,
    tags: Vec<Value>,
) -> Value {
    let followers: Vec<Value> = t.followers.iter().map(|g| st.user_ref(g)).collect();
    json!({
        "gid": t.gid,
        "resource_type": "task",
        "name": t.name,
        "resource_subtype": "default_task",
        "created_by": { "gid": t.created_by, "resource_type": "user" },
        "actual_time_minutes": null,
        "assignee": t.assignee.as_deref().map(|a| st.user_ref(a)),
        "completed": t.completed,
        "completed_at": t.completed_at.map(iso),
        "completed_by": t.completed_by.as_deref().map(|u| st.user_ref(u)),
        "created_at": iso(t.created_at),
        "custom_fields": crate::custom_fields::task_json(st, &t.gid),
        "dependencies": [],
        "dependents": [],
        "due_at": t.due_at,
        "due_on": t.due_on,
        "followers": followers,
        "hearted": false,
        "hearts": [],
        "html_notes": t.html_notes,
        "is_rendered_as_separator": false,
        "liked": false,
        "likes": [],
        "memberships": memberships,
        "modified_at": iso(t.modified_at),
        "notes": t.notes(),
        "num_hearts": 0,
        "num_likes": 0,
        "num_subtasks": crate::threads_repr::num_subtasks(st, &t.gid),
        "parent": crate::threads_repr::parent_json(st, &t.gid),
        "permalink_url": permalink(&t.gid),
        "projects": projects,
        "start_at": null,
        "start_on": t.start_on,
        "tags": tags,
        "workspace": st.workspace_ref(),
    })
}

/// The rich user.
pub fn user(st: &State, gid: &str) -> Value {
    let mut v = st.user_ref(gid);
    if let Some(u) = st.user(gid).filter(|u| !u.email_hidden) {
        v["email"] = json!(u.email);
    }
    v["photo"] = Value::Null;
    v["workspaces"] = json!([st.workspace_ref()]);
    v
}

/// The rich workspace.
pub fn workspace(st: &State) -> Value {
    let mut v = st.workspace_ref();
    v["email_domains"] = json!(["example.com"]);
    v["is_organization"] = json!(true);
    v
}

/// The rich project.
pub fn project(st: &State, gid: &str) -> Value {
    let mut v = st.project_ref(gid);
    let Some(p) = st.projects.get(gid) else {
        return v;
    };
    let extra = json!({
        "archived": false,
        "completed": false,
        "completed_at": null,
        "created_at": iso(p.created_at),
        "custom_fields": [],
        "default_view": "list",
        "due_on": null,
        "due_date": null,
        "followers": [st.user_ref(&st.me)],
        "html_notes": "<body></body>",
        "members": [st.user_ref(&st.me)],
        "modified_at": iso(p.modified_at),
        "notes": "",
        "owner": st.user_ref(&st.me),
        "permalink_url": permalink(gid),
        "privacy_setting": "public_to_workspace",
        "public": true,
        "start_on": null,
        "workspace": st.workspace_ref(),
    });
    if let (Value::Object(base), Value::Object(extra)) = (&mut v, extra) {
        base.extend(extra);
    }
    v
}

/// The rich section.
pub fn section(st: &State, gid: &str) -> Value {
    let mut v = st.section_ref(gid);
    if let Some(s) = st.sections.get(gid) {
        v["created_at"] = json!(iso(s.created_at));
        v["project"] = st.project_ref(&s.project);
        v["projects"] = json!([st.project_ref(&s.project)]);
    }
    v
}

/// The rich tag.
pub fn tag(st: &State, gid: &str) -> Value {
    let mut v = st.tag_ref(gid);
    if let Some(t) = st.tag(gid) {
        v["color"] = Value::Null;
        v["notes"] = json!("");
        v["created_at"] = json!(iso(t.created_at));
        v["followers"] = json!([]);
        v["workspace"] = st.workspace_ref();
        v["permalink_url"] = json!(permalink(gid));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Asana accepts: Asana's tags, attributes on `<a>` only, entities; the plain
    /// text is the text with the tags dropped.
    #[test]
    fn rich_text_accepts_asanas_subset_and_derives_the_plain_text() {
        let html = "<body><h1>Plan</h1>A <strong>bold</strong> &amp; <a href=\"https://x.y\" \
                    data-asana-gid=\"1\">link</a>\n<ul><li>one<ol><li>two</li></ol></li></ul>\
                    <pre>x &lt; y</pre><hr/></body>";
        assert_eq!(
            rich_text(html).unwrap(),
            "Plan\nA bold & link\n• one\n  1. two\nx < y"
        );
        assert_eq!(rich_text("<body/>").unwrap(), "");
        assert_eq!(
            rich_text("<body>see <img data-asana-gid=\"5\" alt=\"shot\"/></body>").unwrap(),
            "see "
        );
        assert_eq!(
            rich_text(
                "<body><img data-asana-gid=\"5\" data-src-width=\"640\" data-src-height=\"480\" \
                 data-thumbnail-url=\"https://x.y/t?a=1&amp;b=2\" src=\"https://x.y/i\" alt=\"\"/></body>"
            )
            .unwrap(),
            ""
        );
        assert_eq!(
            rich_text(&html_notes("a < b & \"c\"")).unwrap(),
            "a < b & \"c\""
        );
    }

    /// What Asana answers with a 400: invalid XML, another root, a tag outside the
    /// subset, an attribute elsewhere than on `<a>`, an HTML entity, a comment.
    #[test]
    fn rich_text_refuses_what_asana_refuses() {
        for bad in [
            "plain",
            "<p>x</p>",
            "<body>a<strong>b</body>",
            "<body>x</body><body>y</body>",
            "<body>x</body>tail",
            "<body><img class=\"a\"/></body>",
            "<body><img data-asana-gid=\"1\" onclick=\"x\"/></body>",
            "<body><table><tr><td>x</td></tr></table></body>",
            "<body><p>x</p></body>",
            "<body><strong class=\"x\">b</strong></body>",
            "<body><a onclick=\"x\">b</a></body>",
            "<body>&nbsp;</body>",
            "<body><!-- c --></body>",
            "<body>a & b</body>",
        ] {
            assert!(rich_text(bad).is_err(), "accepted {bad:?}");
        }
    }
}
