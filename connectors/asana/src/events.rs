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

use std::collections::HashSet;

use asana_bridge_connector::http::Request;
use asana_bridge_connector::{Changes, ConnectorError};
use tracing::debug;

use crate::client::AsanaClient;
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
    seen: HashSet<String>,
}

impl Coalesced {
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
            let task = match kind {
                "task" => Some(&resource.gid),
                "section" => {
                    self.section_touched = true;
                    if matches!(event.action.as_deref(), Some("changed" | "deleted")) {
                        self.needs_full_listing = true;
                    }
                    None
                }
                _ => event
                    .parent
                    .as_ref()
                    .filter(|p| p.resource_type.as_deref() == Some("task"))
                    .map(|p| &p.gid),
            };
            if let Some(gid) = task
                && self.seen.insert(gid.clone())
            {
                self.tasks.push(gid.clone());
            }
        }
    }
}

/// What changed in `project` since `cursor`.
///
/// # Errors
/// Any transport or API error other than the `412` the feed uses to hand out a token.
pub async fn changes(
    client: &AsanaClient,
    project: &str,
    cursor: Option<&str>,
) -> Result<Changes, ConnectorError> {
    let mut sync = cursor.map(str::to_owned);
    let mut coalesced = Coalesced::default();
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
            return Ok(Changes::Reset { cursor: reset.sync });
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
        return Ok(Changes::Reset { cursor });
    }
    Ok(Changes::Since {
        changed: coalesced.tasks,
        cursor,
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
        let mut c = Coalesced::default();
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
        let mut added = Coalesced::default();
        added.add(&events(serde_json::json!([
            {"action": "added", "resource": {"gid": "s", "resource_type": "section"}, "parent": {"gid": "p", "resource_type": "project"}}
        ])));
        assert!(added.section_touched && !added.needs_full_listing);
        let mut renamed = Coalesced::default();
        renamed.add(&events(serde_json::json!([
            {"action": "changed", "resource": {"gid": "s", "resource_type": "section"}, "change": {"field": "name", "action": "changed"}}
        ])));
        assert!(renamed.needs_full_listing);
    }
}
