//! Subtasks and stories: which task is whose subtask (in order), and the stories of each
//! task (Asana's activity feed: system stories and comments mixed, oldest first). The
//! mutations here take the acting user, keep the parent's `modified_at` honest (a story
//! created or trashed bumps it; editing a comment does not) and emit the events Asana
//! would: a subtask `added` to its parent, a story `added`/`changed`/`removed` on the
//! task, all bubbling up to the streams of the task's projects and of its ancestors.
//!
//! A subtask is a task like any other (in [`State::tasks`]); it is listed among a
//! project's tasks only when it is also a member of that project.

use std::collections::HashMap;

use axum::http::StatusCode;
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::state::{NewTask, State};

/// One story on a task.
#[derive(Debug, Clone)]
pub struct Story {
    pub gid: String,
    /// The task it is on.
    pub task: String,
    /// `comment_added` for comments; `name_changed`, `added_to_project`, ... otherwise.
    pub subtype: String,
    /// A comment (`type: comment`), as opposed to a system story.
    pub comment: bool,
    /// Rich text (`<body>...</body>`), always valid; a system story's is its text escaped.
    pub html_text: String,
    pub created_by: String,
    pub created_at: Timestamp,
    /// The comment's text was changed after it was posted.
    pub edited: bool,
    /// Deleted: invisible to the API.
    pub deleted: bool,
}

impl Story {
    /// The plain text Asana derives from the rich text.
    pub fn text(&self) -> String {
        // Stored rich text was checked when it was written.
        crate::repr::rich_text(&self.html_text).unwrap_or_default()
    }
}

/// The subtask tree and the stories.
#[derive(Debug, Default)]
pub struct Threads {
    /// Subtask gid -> parent task gid.
    parents: HashMap<String, String>,
    /// Parent task gid -> its direct subtasks, in order.
    children: HashMap<String, Vec<String>>,
    /// Task gid -> its stories' gids, oldest first.
    by_task: HashMap<String, Vec<String>>,
    /// Story gid -> story.
    stories: HashMap<String, Story>,
}

impl Threads {
    /// The parent of `task`, if it is a subtask.
    pub fn parent(&self, task: &str) -> Option<&str> {
        self.parents.get(task).map(String::as_str)
    }

    /// A task's direct subtasks in order, deleted ones included.
    pub fn children(&self, task: &str) -> &[String] {
        self.children.get(task).map_or(&[], Vec::as_slice)
    }

    /// A story by gid, deleted ones included.
    pub fn story(&self, gid: &str) -> Option<&Story> {
        self.stories.get(gid)
    }

    /// A task's live stories, oldest first.
    pub fn stories_of(&self, task: &str) -> Vec<&Story> {
        self.by_task
            .get(task)
            .map(|gids| {
                gids.iter()
                    .filter_map(|g| self.stories.get(g))
                    .filter(|s| !s.deleted)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn insert(&mut self, story: Story) {
        self.by_task
            .entry(story.task.clone())
            .or_default()
            .push(story.gid.clone());
        self.stories.insert(story.gid.clone(), story);
    }

    /// Records the system story `gid` an event already announced (see `State::emit_story`).
    pub fn record_system(
        &mut self,
        gid: &str,
        task: &str,
        subtype: &str,
        actor: &str,
        at: Timestamp,
    ) {
        let text = subtype.replace('_', " ");
        self.insert(Story {
            gid: gid.to_owned(),
            task: task.to_owned(),
            subtype: subtype.to_owned(),
            comment: false,
            html_text: crate::repr::html_notes(&text),
            created_by: actor.to_owned(),
            created_at: at,
            edited: false,
            deleted: false,
        });
    }
}

/// A comment's text as the API takes it: `text` (escaped into rich text) or `html_text`
/// (checked as Asana checks it: valid XML in one `<body>`, comment tags only), never both.
///
/// # Errors
/// Asana's `400` naming the problem.
pub fn comment_html(text: Option<String>, html_text: Option<String>) -> ApiResult<String> {
    match (text, html_text) {
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "text, html_text: You may only provide one of text or html_text",
        )),
        (None, None) => Err(ApiError::missing("text")),
        (Some(text), None) => Ok(crate::repr::html_notes(&text)),
        (None, Some(html)) => {
            crate::repr::rich_text(&html)
                .map_err(|e| ApiError::bad_request(e.replacen("html_notes", "html_text", 1)))?;
            // Headings, rules and images belong to task descriptions and project briefs,
            // not to comments. In valid XML a literal `<` is always markup, so a scan is exact.
            for tag in ["<h1", "<h2", "<hr", "<img"] {
                if html.contains(tag) {
                    return Err(ApiError::bad_request(format!(
                        "html_text: tag {tag}> is not supported in comments"
                    )));
                }
            }
            Ok(html)
        }
    }
}

impl State {
    /// Streams of `task`'s events beyond its own and its projects': its ancestors' (events
    /// on a subtask bubble up to the parent and the parent's projects).
    pub(crate) fn ancestor_streams(&self, task: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut current = task.to_owned();
        // A bounded walk: the tree cannot have cycles (a subtask is created under an
        // existing task), but a bound keeps a simulator bug from hanging a test.
        for _ in 0..64 {
            let Some(parent) = self.threads.parent(&current).map(str::to_owned) else {
                break;
            };
            out.push(parent.clone());
            if let Some(t) = self.tasks.get(&parent) {
                out.extend(t.memberships.iter().map(|m| m.project.clone()));
            }
            current = parent;
        }
        out
    }

    /// Live direct subtasks of `parent`, in order.
    pub fn subtask_gids(&self, parent: &str) -> Vec<String> {
        self.threads
            .children(parent)
            .iter()
            .filter(|g| self.tasks.get(*g).is_some_and(|t| !t.deleted))
            .cloned()
            .collect()
    }

    /// `POST /tasks/{parent}/subtasks`: a new task under `parent` (in no project unless
    /// `new` names some), last among its siblings.
    pub fn create_subtask(&mut self, actor: &str, parent: &str, new: NewTask) -> ApiResult<String> {
        self.live_task(parent)?;
        let gid = self.create_task(actor, new)?;
        self.threads.parents.insert(gid.clone(), parent.to_owned());
        self.threads
            .children
            .entry(parent.to_owned())
            .or_default()
            .push(gid.clone());
        let now = self.now();
        let streams = self.task_streams(&gid);
        let resource = self.task_ref(&gid);
        let parent_ref = self.task_ref(parent);
        self.emit(
            &streams,
            actor,
            resource,
            "added",
            Some(parent_ref),
            None,
            now,
        );
        Ok(gid)
    }

    /// `POST /tasks/{task}/stories`: a comment by `actor`. Bumps the task's `modified_at`.
    pub fn add_comment_story(
        &mut self,
        actor: &str,
        task: &str,
        html_text: String,
    ) -> ApiResult<String> {
        self.live_task(task)?;
        let gid = self.gid();
        let now = self.now();
        self.threads.insert(Story {
            gid: gid.clone(),
            task: task.to_owned(),
            subtype: "comment_added".to_owned(),
            comment: true,
            html_text,
            created_by: actor.to_owned(),
            created_at: now,
            edited: false,
            deleted: false,
        });
        self.tasks_touch(task, now);
        let streams = self.task_streams(task);
        let resource = story_ref(&gid, "comment_added");
        let parent = self.task_ref(task);
        self.emit(&streams, actor, resource, "added", Some(parent), None, now);
        Ok(gid)
    }

    /// A live story whose task is live.
    pub fn live_story(&self, gid: &str) -> ApiResult<&Story> {
        self.threads
            .story(gid)
            .filter(|s| !s.deleted && self.live_task(&s.task).is_ok())
            .ok_or_else(|| ApiError::unknown_object("story", gid))
    }

    /// Checks that `actor` may change story `gid`: only comments, only their author's.
    fn check_own_comment(&self, actor: &str, gid: &str) -> ApiResult<()> {
        let story = self.live_story(gid)?;
        if !story.comment {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "story: Only comments can be edited or deleted",
            ));
        }
        if story.created_by != actor {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "You do not have permission to modify this story. Only its author can edit or delete a comment.",
            ));
        }
        Ok(())
    }

    /// `PUT /stories/{gid}`: a new text for the actor's own comment. Does not bump the
    /// task's `modified_at`; the story's `changed` event names the story.
    pub fn edit_comment_story(
        &mut self,
        actor: &str,
        gid: &str,
        html_text: String,
    ) -> ApiResult<()> {
        self.check_own_comment(actor, gid)?;
        let now = self.now();
        let task = {
            let story = self.story_mut(gid);
            if story.html_text == html_text {
                return Ok(());
            }
            story.html_text = html_text;
            story.edited = true;
            story.task.clone()
        };
        let streams = self.task_streams(&task);
        let change = json!({ "field": "text", "action": "changed" });
        self.emit(
            &streams,
            actor,
            story_ref(gid, "comment_added"),
            "changed",
            None,
            Some(change),
            now,
        );
        Ok(())
    }

    /// `DELETE /stories/{gid}`: deletes the actor's own comment (bumps the task's
    /// `modified_at`: a story was trashed).
    pub fn delete_comment_story(&mut self, actor: &str, gid: &str) -> ApiResult<()> {
        self.check_own_comment(actor, gid)?;
        let now = self.now();
        let task = {
            let story = self.story_mut(gid);
            story.deleted = true;
            story.task.clone()
        };
        self.tasks_touch(&task, now);
        let streams = self.task_streams(&task);
        let parent = self.task_ref(&task);
        self.emit(
            &streams,
            actor,
            story_ref(gid, "comment_added"),
            "removed",
            Some(parent),
            None,
            now,
        );
        Ok(())
    }

    fn story_mut(&mut self, gid: &str) -> &mut Story {
        // Callers check `live_story` first; a miss here is a simulator bug.
        self.threads
            .stories
            .get_mut(gid)
            .expect("story checked to exist before mutation")
    }

    fn tasks_touch(&mut self, task: &str, now: Timestamp) {
        if let Some(t) = self.tasks.get_mut(task) {
            t.modified_at = now;
        }
    }
}

/// The compact story an event names.
fn story_ref(gid: &str, subtype: &str) -> Value {
    json!({ "gid": gid, "resource_type": "story", "resource_subtype": subtype })
}
