//! The change feed of one project: Asana's `GET /events?resource=<project>&sync=<token>`
//! turned into [`Changes`].
//!
//! - No token, or a token Asana no longer knows: `412` with a fresh token in the body ->
//!   [`Changes::Reset`] (the engine lists everything, then goes on from the new token).
//! - `200`: the events, `has_more` followed at once with each new token, coalesced into a
//!   de-duplicated list of task gids. An event on a task counts for that task; an event on
//!   anything else (a comment story, an attachment) counts for its `parent` when that is a
//!   task. Events carry no values for plain fields, so the engine re-reads the named tasks.
//! - A section renamed or deleted changes the section of every task in it, which no task
//!   event reports: the feed answers [`Changes::Reset`] with the new token so that the
//!   engine lists everything once. Any section event also drops the section cache.

use std::collections::{HashMap, HashSet};

use asana_bridge_connector::http::Request;
use asana_bridge_connector::{Changes, ConnectorError};
use jiff::Timestamp;
use tracing::debug;

use crate::client::AsanaClient;
use crate::echo::WriteLog;
use crate::wire::{Event, EventsPage, SyncReset};

/// At most this many `has_more` pages per call (100 events each); the rest waits for the
/// next call, which starts from the last token received.
const MAX_PAGES: usize = 100;

/// What a batch of events says about a project.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Coalesced {
    /// Task gids in order of first appearance, without duplicates.
    pub tasks: Vec<String>,
    /// A section was added, renamed or deleted.
    pub section_touched: bool,
    /// A section was renamed or deleted: task sections changed without task events.
    pub needs_full_listing: bool,
    /// Per task: whether every event about it was made by the token's user, and when the
    /// newest was made.
    pub authorship: HashMap<String, Authorship>,
    /// When the oldest event was made.
    pub oldest: Option<Timestamp>,
    /// Tasks whose subtasks or comments the events touch (a story on it, a subtask
    /// added or removed), in order of first appearance, without duplicates.
    pub threads: Vec<String>,
    /// Stories changed with no task named (an edited comment): their task is looked
    /// up. Per story, whether every event about it was the token user's own.
    pub orphan_stories: Vec<(String, bool)>,
    /// The token's own user gid, when known.
    me: Option<String>,
    seen: HashSet<String>,
}

/// Who made the events about one task, and when the newest was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Authorship {
    pub all_mine: bool,
    pub newest: Option<Timestamp>,
}

impl Coalesced {
    /// Coalesces events, telling the token user's own events apart when `me` is known.
    #[must_use]
    pub fn new(me: Option<String>) -> Self {
        Self {
            me,
            ..Self::default()
        }
    }
}

impl Coalesced {
    /// Notes that `task`'s subtasks or comments changed.
    fn touch(&mut self, task: &str) {
        if !self.threads.iter().any(|t| t == task) {
            self.threads.push(task.to_owned());
        }
    }

    /// Takes in one batch of events.
    pub fn add(&mut self, events: &[Event]) {
        for event in events {
            let Some(resource) = &event.resource else {
                continue;
            };
            let kind = resource
                .resource_type
                .as_deref()
                .or(event.kind.as_deref())
                .unwrap_or_default();
            // A subtask added to or removed from a task names that task too (its
            // subtasks changed); other events on a subtask name only the subtask.
            let parent_task = event
                .parent
                .as_ref()
                .filter(|p| p.resource_type.as_deref() == Some("task"))
                .map(|p| &p.gid);
            let task = match kind {
                "task" => {
                    if let Some(parent) = parent_task {
                        if self.seen.insert(parent.clone()) {
                            self.tasks.push(parent.clone());
                        }
                        self.touch(parent);
                    }
                    Some(&resource.gid)
                }
                "section" => {
                    self.section_touched = true;
                    if matches!(event.action.as_deref(), Some("changed" | "deleted")) {
                        self.needs_full_listing = true;
                    }
                    None
                }
                "story"
                    if parent_task.is_none()
                        && resource
                            .resource_subtype
                            .as_deref()
                            .is_none_or(|s| s == "comment_added") =>
                {
                    let mine = self.me.is_some()
                        && event.user.as_ref().map(|u| &u.gid) == self.me.as_ref();
                    match self
                        .orphan_stories
                        .iter_mut()
                        .find(|(g, _)| *g == resource.gid)
                    {
                        Some((_, all_mine)) => *all_mine &= mine,
                        None => self.orphan_stories.push((resource.gid.clone(), mine)),
                    }
                    None
                }
                _ => {
                    // A system story (Asana writes one for every edit) is no comment.
                    let system_story = kind == "story"
                        && resource
                            .resource_subtype
                            .as_deref()
                            .is_some_and(|s| s != "comment_added");
                    if let Some(parent) = parent_task
                        && !system_story
                    {
                        self.touch(parent);
                    }
                    parent_task
                }
            };
            let at = event
                .created_at
                .as_deref()
                .and_then(|t| t.parse::<Timestamp>().ok());
            if let Some(at) = at {
                self.oldest = Some(self.oldest.map_or(at, |o| o.min(at)));
            }
            if let Some(gid) = task {
                if self.seen.insert(gid.clone()) {
                    self.tasks.push(gid.clone());
                }
                let mine =
                    self.me.is_some() && event.user.as_ref().map(|u| &u.gid) == self.me.as_ref();
                let entry = self.authorship.entry(gid.clone()).or_insert(Authorship {
                    all_mine: true,
                    newest: None,
                });
                entry.all_mine &= mine;
                entry.newest = match (entry.newest, at) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
            }
        }
    }
}

/// What the feed said, beyond [`Changes`].
#[derive(Debug)]
pub struct Feed {
    pub changes: Changes,
    /// When the oldest change reported was made (a lower bound for `modified_since`).
    pub oldest: Option<Timestamp>,
    /// The changed tasks whose subtasks or comments changed; `None` when the feed could
    /// not say (a full listing is due).
    pub threads: Option<Vec<String>>,
}

/// What changed in `project` since `cursor`, the bridge's own echoes (per `log`, with the
/// token's user `me`) left out.
///
/// # Errors
/// Any transport or API error other than the `412` the feed uses to hand out a token.
pub async fn changes(
    client: &AsanaClient,
    project: &str,
    cursor: Option<&str>,
    log: &WriteLog,
    me: Option<String>,
) -> Result<Feed, ConnectorError> {
    let mut sync = cursor.map(str::to_owned);
    let mut coalesced = Coalesced::new(me);
    for _ in 0..MAX_PAGES {
        let mut request = Request::get("/events")
            .query("resource", project)
            .pass_through(412);
        if let Some(sync) = &sync {
            request = request.query("sync", sync.clone());
        }
        let response = client.http().send(request).await?;
        if response.status == 412 {
            let reset: SyncReset = response.json()?;
            debug!(
                project,
                "event token missing or expired; full listing needed"
            );
            return Ok(Feed {
                changes: Changes::Reset { cursor: reset.sync },
                oldest: None,
                threads: None,
            });
        }
        let page: EventsPage = response.json()?;
        coalesced.add(&page.data);
        sync = Some(page.sync);
        if !page.has_more {
            break;
        }
    }
    // The loop ran at least once and every pass set `sync` or returned.
    let cursor = sync.unwrap_or_default();
    if coalesced.section_touched {
        client.forget_sections(project).await;
    }
    if coalesced.needs_full_listing {
        debug!(
            project,
            "a section was renamed or deleted; full listing needed"
        );
        return Ok(Feed {
            changes: Changes::Reset { cursor },
            oldest: None,
            threads: None,
        });
    }
    // An edited comment names only its story: its task is asked for (one request per
    // story, the bridge's own edits left out).
    for (story, all_mine) in std::mem::take(&mut coalesced.orphan_stories) {
        if all_mine {
            continue;
        }
        if let Some(task) = crate::comments::task_of(client, &story).await? {
            coalesced.touch(&task);
            if coalesced.seen.insert(task.clone()) {
                coalesced.tasks.push(task);
            }
        }
    }
    let authorship = &coalesced.authorship;
    let changed: Vec<String> = coalesced
        .tasks
        .iter()
        .filter(|gid| {
            let a = authorship.get(*gid);
            let echo = a.is_some_and(|a| log.is_echo(gid, a.all_mine, a.newest));
            if echo {
                debug!(task = %gid, "own write's echo dropped");
            }
            !echo
        })
        .cloned()
        .collect();
    let threads = coalesced
        .threads
        .iter()
        .filter(|gid| changed.contains(gid))
        .cloned()
        .collect();
    Ok(Feed {
        changes: Changes::Since { changed, cursor },
        oldest: coalesced.oldest,
        threads: Some(threads),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(json: serde_json::Value) -> Vec<Event> {
        serde_json::from_value(json).expect("valid events")
    }

    /// Task events and events whose parent is a task count once per task, in order.
    #[test]
    fn coalesces_task_and_child_events() {
        let mut c = Coalesced::new(None);
        c.add(&events(serde_json::json!([
            {"action": "changed", "resource": {"gid": "1", "resource_type": "task"}, "parent": null, "change": {"field": "name", "action": "changed"}},
            {"action": "added", "resource": {"gid": "900", "resource_type": "story"}, "parent": {"gid": "2", "resource_type": "task"}},
            {"action": "changed", "resource": {"gid": "1", "resource_type": "task"}, "parent": null},
            {"action": "changed", "resource": {"gid": "p", "resource_type": "project"}, "parent": null},
            {"action": "removed", "resource": {"gid": "3", "resource_type": "task"}, "parent": {"gid": "p", "resource_type": "project"}},
            {"action": "changed", "resource": {"gid": "901", "resource_type": "story"}, "parent": null},
            {"action": "changed", "type": "task", "resource": {"gid": "4"}, "user": null}
        ])));
        c.add(&events(serde_json::json!([
            {"action": "deleted", "resource": {"gid": "2", "resource_type": "task"}}
        ])));
        assert_eq!(c.tasks, ["1", "2", "3", "4"]);
        assert!(!c.section_touched);
        assert!(!c.needs_full_listing);
    }

    /// A renamed section asks for a full listing; a new one only drops the cache.
    #[test]
    fn section_events() {
        let mut added = Coalesced::new(None);
        added.add(&events(serde_json::json!([
            {"action": "added", "resource": {"gid": "s", "resource_type": "section"}, "parent": {"gid": "p", "resource_type": "project"}}
        ])));
        assert!(added.section_touched && !added.needs_full_listing);
        let mut renamed = Coalesced::new(None);
        renamed.add(&events(serde_json::json!([
            {"action": "changed", "resource": {"gid": "s", "resource_type": "section"}, "change": {"field": "name", "action": "changed"}}
        ])));
        assert!(renamed.needs_full_listing);
    }

    /// Authorship and times are kept per task: mine only when every event is mine.
    #[test]
    fn authorship_per_task() {
        let mut c = Coalesced::new(Some("me".into()));
        c.add(&events(serde_json::json!([
            {"action": "changed", "user": {"gid": "me"}, "created_at": "2026-01-01T00:00:01Z", "resource": {"gid": "1", "resource_type": "task"}},
            {"action": "changed", "user": {"gid": "me"}, "created_at": "2026-01-01T00:00:03Z", "resource": {"gid": "1", "resource_type": "task"}},
            {"action": "changed", "user": {"gid": "me"}, "created_at": "2026-01-01T00:00:02Z", "resource": {"gid": "2", "resource_type": "task"}},
            {"action": "changed", "user": {"gid": "alice"}, "created_at": "2026-01-01T00:00:04Z", "resource": {"gid": "2", "resource_type": "task"}},
            {"action": "changed", "user": null, "resource": {"gid": "3", "resource_type": "task"}}
        ])));
        let one = c.authorship["1"];
        assert!(one.all_mine);
        assert_eq!(one.newest, Some("2026-01-01T00:00:03Z".parse().unwrap()));
        assert!(!c.authorship["2"].all_mine);
        assert!(!c.authorship["3"].all_mine);
        assert_eq!(c.oldest, Some("2026-01-01T00:00:01Z".parse().unwrap()));
    }
}
