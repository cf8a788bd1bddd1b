//! Reading an Asana task into the common model: [`to_item`] turns a [`Task`] (with the
//! assignee e-mails already resolved) into a canonical [`Item`] of one project.

use std::collections::HashMap;

use asana_bridge_connector::{ConnectorError, Due, Item, TaskFields};

use crate::wire::Task;

/// Whether `task` has a membership in `project` (a task removed from the project, or a
/// subtask that was never added to it, does not).
#[must_use]
pub fn is_in_project(task: &Task, project: &str) -> bool {
    task.memberships.as_ref().is_some_and(|memberships| {
        memberships
            .iter()
            .any(|m| m.project.as_ref().is_some_and(|p| p.gid == project))
    })
}

/// The canonical item of `task` as seen from `project`. `emails` maps assignee gids to
/// their e-mail; an assignee missing from it reads as unassigned.
///
/// # Errors
/// [`ConnectorError::Decode`] when `modified_at` is not a timestamp.
pub fn to_item(
    task: Task,
    project: &str,
    emails: &HashMap<String, String>,
) -> Result<Item, ConnectorError> {
    let section = task.memberships.as_ref().and_then(|memberships| {
        memberships
            .iter()
            .find(|m| m.project.as_ref().is_some_and(|p| p.gid == project))
            .and_then(|m| m.section.as_ref())
            .and_then(|s| s.name.clone())
    });
    let fields = TaskFields {
        title: task.name.unwrap_or_default(),
        notes: task.notes.unwrap_or_default(),
        completed: task.completed.unwrap_or(false),
        due: match (task.due_at, task.due_on) {
            (Some(at), _) => Some(Due::moment(&at).unwrap_or(Due::At(at))),
            (None, Some(day)) => Some(Due::On(day)),
            (None, None) => None,
        },
        start_on: task.start_on,
        assignee: task
            .assignee
            .as_ref()
            .and_then(|a| emails.get(&a.gid).cloned()),
        tags: task
            .tags
            .unwrap_or_default()
            .into_iter()
            .filter_map(|t| t.name)
            .collect(),
        section,
        custom: crate::custom_fields::read(task.custom_fields.as_deref(), emails),
    }
    .canonical();
    let modified_at = task
        .modified_at
        .as_deref()
        .map(|m| {
            m.parse::<jiff::Timestamp>()
                .map_err(|e| ConnectorError::Decode {
                    service: "asana",
                    message: format!("task {}: modified_at {m:?}: {e}", task.gid),
                })
        })
        .transpose()?;
    let revision = Some(revision(task.modified_at.as_deref(), &fields));
    Ok(Item {
        id: task.gid,
        fields,
        modified_at,
        partner: None,
        revision,
        bare: false,
    })
}

/// The item's revision: Asana's `modified_at` plus a hash of the synced fields.
///
/// `modified_at` alone would miss changes Asana does not count as modifications: Asana's
/// field description says moving a task to another container does not bump it, and tag
/// changes are not among the changes it lists as bumping it.
/// The hash is FNV-1a over the fields' JSON, stable across runs and Rust versions.
#[must_use]
pub fn revision(modified_at: Option<&str>, fields: &TaskFields) -> String {
    // Serialising a struct of strings, bools and vectors into memory cannot fail.
    let bytes = serde_json::to_vec(fields).unwrap_or_default();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{}~{hash:016x}", modified_at.unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Membership, NamedRef, Ref};

    fn task() -> Task {
        Task {
            gid: "10".to_owned(),
            name: Some("Fix login".to_owned()),
            notes: Some("body".to_owned()),
            completed: Some(true),
            due_on: Some("2026-12-01".to_owned()),
            due_at: None,
            start_on: None,
            assignee: Some(Ref {
                gid: "7".to_owned(),
            }),
            tags: Some(vec![
                NamedRef {
                    gid: "t2".to_owned(),
                    name: Some("p1".to_owned()),
                },
                NamedRef {
                    gid: "t1".to_owned(),
                    name: Some("bug".to_owned()),
                },
            ]),
            memberships: Some(vec![
                Membership {
                    project: Some(Ref {
                        gid: "other".to_owned(),
                    }),
                    section: Some(NamedRef {
                        gid: "s0".to_owned(),
                        name: Some("Elsewhere".to_owned()),
                    }),
                },
                Membership {
                    project: Some(Ref {
                        gid: "p".to_owned(),
                    }),
                    section: Some(NamedRef {
                        gid: "s1".to_owned(),
                        name: Some("Doing".to_owned()),
                    }),
                },
            ]),
            modified_at: Some("2026-11-02T10:00:00.000Z".to_owned()),
            workspace: None,
            custom_fields: None,
        }
    }

    /// The section is the one of this project's membership; tags are canonical; the
    /// assignee is the resolved e-mail.
    #[test]
    fn reads_a_task_from_the_projects_point_of_view() {
        let emails = HashMap::from([("7".to_owned(), "alice@example.com".to_owned())]);
        let item = to_item(task(), "p", &emails).expect("valid task");
        assert_eq!(item.id, "10");
        assert_eq!(item.fields.section.as_deref(), Some("Doing"));
        assert_eq!(item.fields.tags, ["bug", "p1"]);
        assert_eq!(item.fields.assignee.as_deref(), Some("alice@example.com"));
        assert!(item.fields.completed);
        assert_eq!(item.partner, None);
        assert_eq!(
            item.modified_at,
            Some("2026-11-02T10:00:00Z".parse().expect("timestamp"))
        );
        assert!(is_in_project(&task(), "p"));
        assert!(!is_in_project(&task(), "q"));
    }

    /// A section move changes the revision even though `modified_at` stays.
    #[test]
    fn revision_follows_fields_that_do_not_bump_modified_at() {
        let a = to_item(task(), "p", &HashMap::new()).expect("valid");
        let b = to_item(task(), "other", &HashMap::new()).expect("valid");
        assert_ne!(a.revision, b.revision);
        let again = to_item(task(), "p", &HashMap::new()).expect("valid");
        assert_eq!(a.revision, again.revision);
    }

    /// A task due at a time reads as that moment (never flattened to its `due_on` day);
    /// the start date comes along.
    #[test]
    fn a_due_time_is_kept_as_a_time() {
        let mut timed = task();
        timed.due_on = Some("2026-12-01".to_owned());
        timed.due_at = Some("2026-12-01T15:00:00.000Z".to_owned());
        timed.start_on = Some("2026-11-28".to_owned());
        let item = to_item(timed, "p", &HashMap::new()).expect("valid");
        assert_eq!(
            item.fields.due,
            Some(Due::At("2026-12-01T15:00:00Z".into()))
        );
        assert_eq!(item.fields.start_on.as_deref(), Some("2026-11-28"));
        let item = to_item(task(), "p", &HashMap::new()).expect("valid");
        assert_eq!(item.fields.due, Some(Due::On("2026-12-01".into())));
    }

    #[test]
    fn bad_timestamp_is_a_decode_error() {
        let mut bad = task();
        bad.modified_at = Some("yesterday".to_owned());
        let err = to_item(bad, "p", &HashMap::new()).expect_err("invalid");
        assert!(err.to_string().contains("yesterday"), "{err}");
    }
}
