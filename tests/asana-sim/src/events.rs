//! The event log behind `GET /events` and its sync tokens.
//!
//! Every mutation appends events tagged with the streams (resource gids) they belong to: a
//! task's events go to the task and to each project it is in. A sync token names a stream
//! and a position in the log; it stays valid (re-reading it returns the same page) until
//! tokens are expired on demand, which makes the next call answer 412 with a fresh token.

use std::collections::HashMap;

use serde_json::Value;

/// Most events one `GET /events` call returns (Asana: 100 per call).
pub const PAGE: usize = 100;

#[derive(Debug)]
struct Stored {
    seq: u64,
    streams: Vec<String>,
    event: Value,
}

/// Where a sync token points.
#[derive(Debug, Clone)]
struct Cursor {
    resource: String,
    /// Events with `seq > after` are still to be delivered.
    after: u64,
}

/// All events plus the live sync tokens.
#[derive(Debug, Default)]
pub struct EventLog {
    events: Vec<Stored>,
    next_seq: u64,
    tokens: HashMap<String, Cursor>,
}

/// The answer to one poll.
#[derive(Debug)]
pub enum Poll {
    /// Unknown/expired/missing token: 412 carrying this fresh token (at the head).
    Invalid { fresh: String },
    /// Events since the token, the next token and whether more remain.
    Events {
        events: Vec<Value>,
        sync: String,
        has_more: bool,
    },
}

impl EventLog {
    /// Appends one event to the given streams.
    pub fn push(&mut self, streams: &[String], event: Value) {
        self.next_seq += 1;
        self.events.push(Stored {
            seq: self.next_seq,
            streams: streams.to_vec(),
            event,
        });
    }

    fn mint(&mut self, resource: &str, after: u64) -> String {
        let token = uuid::Uuid::new_v4().simple().to_string();
        self.tokens.insert(
            token.clone(),
            Cursor {
                resource: resource.to_owned(),
                after,
            },
        );
        token
    }

    /// Polls `resource` with `sync`.
    pub fn poll(&mut self, resource: &str, sync: Option<&str>) -> Poll {
        let cursor = sync
            .and_then(|t| self.tokens.get(t))
            .filter(|c| c.resource == resource)
            .cloned();
        let Some(cursor) = cursor else {
            let head = self.next_seq;
            return Poll::Invalid {
                fresh: self.mint(resource, head),
            };
        };
        let pending: Vec<&Stored> = self
            .events
            .iter()
            .filter(|e| e.seq > cursor.after && e.streams.iter().any(|s| s == resource))
            .collect();
        let has_more = pending.len() > PAGE;
        let page: Vec<&Stored> = pending.into_iter().take(PAGE).collect();
        let after = if has_more {
            page.last().map_or(cursor.after, |e| e.seq)
        } else {
            self.next_seq
        };
        let events = page.iter().map(|e| e.event.clone()).collect();
        let sync = self.mint(resource, after);
        Poll::Events {
            events,
            sync,
            has_more,
        }
    }

    /// The position of the newest event (0 before any).
    pub fn head(&self) -> u64 {
        self.next_seq
    }

    /// Every event of `resource`'s stream after position `after`, oldest first (what a
    /// webhook on `resource` delivers next).
    pub fn since(&self, resource: &str, after: u64) -> Vec<Value> {
        self.events
            .iter()
            .filter(|e| e.seq > after && e.streams.iter().any(|s| s == resource))
            .map(|e| e.event.clone())
            .collect()
    }

    /// Invalidates every sync token (the next poll answers 412).
    pub fn expire_tokens(&mut self) {
        self.tokens.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A first poll is 412; a valid token returns only its stream's events, then pages.
    #[test]
    fn tokens_page_and_filter_by_stream() {
        let mut log = EventLog::default();
        let Poll::Invalid { fresh } = log.poll("p", None) else {
            panic!("first poll must be invalid")
        };
        for i in 0..150 {
            log.push(&["p".into()], json!({ "i": i }));
            log.push(&["other".into()], json!({ "i": -1 }));
        }
        let Poll::Events {
            events,
            sync,
            has_more,
        } = log.poll("p", Some(&fresh))
        else {
            panic!("valid token")
        };
        assert_eq!((events.len(), has_more), (100, true));
        let Poll::Events {
            events, has_more, ..
        } = log.poll("p", Some(&sync))
        else {
            panic!("valid token")
        };
        assert_eq!((events.len(), has_more), (50, false));
        assert_eq!(events[0]["i"], 100);
        log.expire_tokens();
        assert!(matches!(log.poll("p", Some(&sync)), Poll::Invalid { .. }));
    }
}
