//! An issue read into the common model.
//!
//! - title = title; notes = the body without the bridge's footer line ([`crate::footer`]);
//!   partner = the gid that line names.
//! - completed = `state == "closed"`, whatever the `state_reason`.
//! - tags = label names (canonical), without the bridge's own deletion marker.
//! - assignee = the e-mail of the first assignee whose login the `[users]` table maps; an
//!   issue assigned only to unmapped logins reads as unassigned (the bridge never guesses
//!   an Asana person).
//! - due date or time, start date, section and custom fields: GitHub has none of them;
//!   always `None` (or empty).
//! - `modified_at` = `updated_at`; revision = `updated_at` plus a hash of the synced
//!   values, so two edits within one second still change it.

use std::collections::HashMap;

use asana_bridge_connector::model::canonical_tags;
use asana_bridge_connector::{ConnectorError, Item, TaskFields};

use crate::wire::Issue;

/// The label the bridge puts on an issue it "deleted" (closed as not planned): such issues
/// are no longer part of the link.
pub const DELETED_LABEL: &str = "asana-bridge:deleted";

/// Whether the issue carries the deletion marker.
#[must_use]
pub fn is_deleted(issue: &Issue) -> bool {
    issue
        .label_names()
        .any(|l| l.eq_ignore_ascii_case(DELETED_LABEL))
}

/// Reads an issue. `emails`: lower-case login -> e-mail (the inverse `[users]` table).
///
/// # Errors
/// [`ConnectorError::Decode`] when `updated_at` is not a timestamp.
pub fn to_item(issue: &Issue, emails: &HashMap<String, String>) -> Result<Item, ConnectorError> {
    // The body's `## Subtasks` lines are the issue's thread, not its notes.
    let (notes, lines, partner) = crate::threads::parts(issue.body.as_deref().unwrap_or(""));
    let assignee = issue
        .assignee_logins()
        .iter()
        .find_map(|login| emails.get(&login.to_lowercase()).cloned());
    let fields = TaskFields {
        title: issue.title.clone(),
        notes,
        completed: issue.state == "closed",
        due: None,
        start_on: None,
        assignee,
        tags: canonical_tags(
            issue
                .label_names()
                .filter(|l| !l.eq_ignore_ascii_case(DELETED_LABEL))
                .map(str::to_owned)
                .collect(),
        ),
        section: None,
        // Custom fields have no GitHub equivalent: read as none, never written.
        custom: asana_bridge_connector::CustomFields::new(),
    }
    .canonical();
    let modified_at: jiff::Timestamp =
        issue
            .updated_at
            .parse()
            .map_err(|e| ConnectorError::Decode {
                service: "github",
                message: format!(
                    "issue #{}: updated_at {:?} is not a timestamp: {e}",
                    issue.number, issue.updated_at
                ),
            })?;
    let revision = match issue.comments {
        // The comment count: a comment in the second of the last read changes it.
        Some(count) if count > 0 => format!(
            "{}/{:016x}/{count}",
            issue.updated_at,
            fingerprint(&fields, partner.as_deref(), lines.as_deref())
        ),
        _ => format!(
            "{}/{:016x}",
            issue.updated_at,
            fingerprint(&fields, partner.as_deref(), lines.as_deref())
        ),
    };
    Ok(Item {
        id: issue.number.to_string(),
        fields,
        modified_at: Some(modified_at),
        partner,
        revision: Some(revision),
        bare: false,
    })
}

/// FNV-1a over the synced values: stable across runs, machines and Rust versions.
fn fingerprint(
    fields: &TaskFields,
    partner: Option<&str>,
    lines: Option<&[asana_bridge_connector::SubtaskLine]>,
) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes.iter().chain(&[0xff]) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(fields.title.as_bytes());
    eat(fields.notes.as_bytes());
    eat(&[u8::from(fields.completed)]);
    eat(fields.assignee.as_deref().unwrap_or("").as_bytes());
    for tag in &fields.tags {
        eat(tag.as_bytes());
    }
    eat(partner.unwrap_or("").as_bytes());
    // The task list too (an edit in the second of the last read changes no `updated_at`);
    // nothing for a body without one, so that revisions from before stay as they were.
    for line in lines.unwrap_or_default() {
        eat(line.asana_gid.as_deref().unwrap_or("").as_bytes());
        eat(line.name.as_bytes());
        eat(&[u8::from(line.completed)]);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(json: serde_json::Value) -> Issue {
        serde_json::from_value(json).expect("issue")
    }

    /// Every field read; the footer is not notes; unmapped logins are skipped.
    #[test]
    fn reads_every_field() {
        let body = crate::footer::render("Some notes", Some("1200"), "https://app.asana.com/0/1/");
        let i = issue(serde_json::json!({
            "number": 7, "title": "T", "body": body, "state": "closed",
            "labels": [{"name": "p1"}, "bug", {"name": "bug"}],
            "assignees": [{"login": "stranger"}, {"login": "Alice-GH"}],
            "updated_at": "2026-01-02T03:04:05Z"
        }));
        let emails = HashMap::from([("alice-gh".to_owned(), "alice@example.com".to_owned())]);
        let item = to_item(&i, &emails).expect("item");
        assert_eq!(item.id, "7");
        assert_eq!(item.partner.as_deref(), Some("1200"));
        assert_eq!(item.fields.notes, "Some notes");
        assert!(item.fields.completed);
        assert_eq!(item.fields.tags, vec!["bug".to_owned(), "p1".to_owned()]);
        assert_eq!(item.fields.assignee.as_deref(), Some("alice@example.com"));
        assert!(
            item.revision
                .as_deref()
                .is_some_and(|r| r.starts_with("2026-01-02T03:04:05Z/"))
        );
    }

    /// A null body is empty notes; only unmapped assignees read as unassigned.
    #[test]
    fn null_body_and_unmapped_assignee() {
        let i = issue(serde_json::json!({
            "number": 1, "title": "T", "body": null, "state": "open",
            "assignees": [{"login": "stranger"}], "updated_at": "2026-01-02T03:04:05Z"
        }));
        let item = to_item(&i, &HashMap::new()).expect("item");
        assert_eq!(item.fields.notes, "");
        assert_eq!(item.fields.assignee, None);
        assert_eq!(item.partner, None);
    }
}
