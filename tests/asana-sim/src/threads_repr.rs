//! JSON representations of subtask links and stories in Asana's response shapes (the
//! rich form; [`crate::fields::render`] cuts it down as for any resource).

use serde_json::{Value, json};

use crate::state::{State, iso};
use crate::threads::Story;

/// Story fields only returned when asked for.
pub const STORY_OPT_IN: &[&str] = &["html_text"];

/// Top-level keys of a story in a listing without `opt_fields` (`StoryCompact`).
pub const STORY_COMPACT: &[&str] = &[
    "gid",
    "resource_type",
    "created_at",
    "created_by",
    "resource_subtype",
    "text",
];

/// The rich story as `viewer` sees it.
pub fn story_json(st: &State, s: &Story, viewer: &str) -> Value {
    json!({
        "gid": s.gid,
        "resource_type": "story",
        "created_at": iso(s.created_at),
        "created_by": st.user_ref(&s.created_by),
        "resource_subtype": s.subtype,
        "type": if s.comment { "comment" } else { "system" },
        "text": s.text(),
        "html_text": s.html_text,
        "is_editable": s.comment && s.created_by == viewer,
        "is_edited": s.edited,
        "is_pinned": false,
        "liked": false,
        "likes": [],
        "num_likes": 0,
        "hearted": false,
        "hearts": [],
        "num_hearts": 0,
        "source": if s.comment { "api" } else { "web" },
        "target": st.task_ref(&s.task),
    })
}

/// The `parent` of a task's representation: its parent, compact, or `null`.
pub fn parent_json(st: &State, task: &str) -> Value {
    st.threads.parent(task).map_or(Value::Null, |p| {
        let mut v = st.task_ref(p);
        v["resource_subtype"] = json!("default_task");
        v
    })
}

/// `num_subtasks` of a task's representation: its live direct subtasks.
pub fn num_subtasks(st: &State, task: &str) -> usize {
    st.subtask_gids(task).len()
}
