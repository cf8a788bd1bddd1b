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

/// `<body>...</body>` for plain notes.
pub fn html_notes(notes: &str) -> String {
    format!("<body>{}</body>", xml_escape(notes))
}

/// Plain text of an `html_notes` document: tags dropped, the five XML entities decoded.
pub fn strip_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
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
        "html_notes": html_notes(&t.notes),
        "is_rendered_as_separator": false,
        "liked": false,
        "likes": [],
        "memberships": memberships,
        "modified_at": iso(t.modified_at),
        "notes": t.notes,
        "num_hearts": 0,
        "num_likes": 0,
        "num_subtasks": 0,
        "parent": null,
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
