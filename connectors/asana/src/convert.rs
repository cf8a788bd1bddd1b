//! Reading an Asana task into the common model: [`to_item`] turns a [`Task`] (with the
//! assignee e-mails already resolved) into a canonical [`Item`] of one project.
//!
//! The description is read from `html_notes` and converted to Markdown
//! ([`read_description`]); an inline image is inline HTML in it, kept byte for byte. A
//! rich description the Markdown cannot give back exactly (the round trip Markdown ->
//! `html_notes` does not return the same rich text, as with an element Asana would not
//! take back from the bridge) reads as its plain text and is marked
//! [`Description::Inexpressible`], so the connector never writes over it.

use std::collections::HashMap;

use asana_bridge_connector::{ConnectorError, Due, Item, TaskFields};

use crate::mark::{self, IssueRef};
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

/// A task's description as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Description {
    /// Markdown that converts back to the same rich text.
    Markdown(String),
    /// Rich text the Markdown cannot express exactly: its plain text, and why.
    Inexpressible {
        /// Asana's plain `notes`.
        plain: String,
        /// What the conversion ran into, for the error line of a refused write.
        reason: String,
    },
}

impl Description {
    /// The text the common model holds.
    #[must_use]
    pub fn text(&self) -> &str {
        match self {
            Description::Markdown(text) | Description::Inexpressible { plain: text, .. } => text,
        }
    }
}

/// Reads `task`'s description: `html_notes` as Markdown (without the final line break:
/// the common model's notes have none), checked by converting it back. An answer with
/// plain `notes` but no `html_notes` is inexpressible too: plain text is not Markdown.
/// The bridge's line naming a GitHub issue ([`mark_of`]) is left out.
#[must_use]
pub fn read_description(task: &Task) -> Description {
    let Some(html) = task.html_notes.as_deref() else {
        return match task.notes.as_deref() {
            None | Some("") => Description::Markdown(String::new()),
            Some(_) => Description::Inexpressible {
                plain: task.notes.clone().unwrap_or_default(),
                reason: "Asana did not return its rich text".into(),
            },
        };
    };
    let (html, issue) = mark::split_html(html);
    let inexpressible = |reason: String| {
        let plain = task.notes.clone().unwrap_or_default();
        Description::Inexpressible {
            plain: match &issue {
                Some(issue) => mark::strip_plain(&plain, issue),
                None => plain,
            },
            reason,
        }
    };
    let (lead, core, trail) = edge_breaks(&html);
    // One conversion that also tells whether the Markdown gives the same rich text back.
    let (mut markdown, exact) = match asana_bridge_richtext::read_exact(&core) {
        Ok(read) => read,
        Err(e) => return inexpressible(e.to_string()),
    };
    if !exact {
        // Most often an element Asana would not take back (see the richtext crate's `raw`
        // module): its guard names it.
        return inexpressible(match asana_bridge_richtext::validate_html_notes(&core) {
            Err(e) => e.to_string(),
            Ok(()) => "its Markdown does not convert back to the same rich text".into(),
        });
    }
    if markdown.ends_with('\n') {
        markdown.pop();
    }
    Description::Markdown(format!("{lead}{markdown}{trail}"))
}

/// The GitHub issue the bridge's line at the end of `task`'s description names, if it
/// ends with one (see [`crate::mark`]).
#[must_use]
pub fn mark_of(task: &Task) -> Option<IssueRef> {
    mark::split_html(task.html_notes.as_deref()?).1
}

/// Splits the line breaks at the very start and end of a description (plain text typed
/// with a final Enter) off its rich text: `<body>\nx\n\n</body>` gives `("\n",
/// "<body>x</body>", "\n\n")`. Markdown has no line of its own for them, so they read as
/// blank lines around the Markdown, and a write of the description drops them.
fn edge_breaks(html: &str) -> (&str, std::borrow::Cow<'_, str>, &str) {
    let Some(inner) = html
        .strip_prefix("<body>")
        .and_then(|rest| rest.strip_suffix("</body>"))
    else {
        return ("", html.into(), "");
    };
    let rest = inner.trim_start_matches('\n');
    let lead = &inner[..inner.len() - rest.len()];
    let text = rest.trim_end_matches('\n');
    let trail = &rest[text.len()..];
    if lead.is_empty() && trail.is_empty() {
        return ("", html.into(), "");
    }
    (lead, format!("<body>{text}</body>").into(), trail)
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
    let description = read_description(&task);
    to_item_described(task, &description, project, emails)
}

/// [`to_item`] with the description already read by [`read_description`] (the connector
/// keeps it, to refuse writes over an inexpressible one).
///
/// # Errors
/// [`ConnectorError::Decode`] when `modified_at` is not a timestamp.
pub fn to_item_described(
    task: Task,
    description: &Description,
    project: &str,
    emails: &HashMap<String, String>,
) -> Result<Item, ConnectorError> {
    let partner = mark_of(&task).map(|issue| issue.reference());
    let section = task.memberships.as_ref().and_then(|memberships| {
        memberships
            .iter()
            .find(|m| m.project.as_ref().is_some_and(|p| p.gid == project))
            .and_then(|m| m.section.as_ref())
            .and_then(|s| s.name.clone())
    });
    let fields = TaskFields {
        title: task.name.unwrap_or_default(),
        notes: description.text().to_owned(),
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
        partner,
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
            html_notes: None,
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
            num_subtasks: None,
            parent: None,
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

    fn described(html: Option<&str>, notes: &str) -> Description {
        let mut t = task();
        t.html_notes = html.map(str::to_owned);
        t.notes = Some(notes.to_owned());
        read_description(&t)
    }

    /// Rich text reads as Markdown; line breaks at the edges stay around it; an inline
    /// image is inline HTML, byte for byte; an element Asana would not take back makes the
    /// description inexpressible, read as its plain text, with the reason naming it.
    #[test]
    fn descriptions_read_as_markdown_or_as_inexpressible_plain_text() {
        assert_eq!(
            described(
                Some("<body>A <strong>b</strong>\n<ul><li>c</li></ul></body>"),
                "-"
            ),
            Description::Markdown("A **b**\n\n\n- c".into())
        );
        assert_eq!(
            described(Some("<body>\nnew notes\n</body>"), "-"),
            Description::Markdown("\nnew notes\n".into())
        );
        assert_eq!(
            described(Some("<body>\n\n</body>"), "-"),
            Description::Markdown("\n\n".into())
        );
        let image = "<img data-asana-gid=\"1\" data-src-width=\"8\" \
            data-thumbnail-url=\"https://x.y/t?a&amp;b\" src=\"https://x.y/i\" alt=\"&quot;\"/>";
        assert_eq!(
            described(Some(&format!("<body>see {image}</body>")), "see "),
            Description::Markdown(format!("see {image}"))
        );
        let Description::Inexpressible { plain, reason } = described(
            Some("<body>see <img data-asana-gid=\"1\"></img></body>"),
            "see ",
        ) else {
            panic!("an image Asana would not take back is not exact");
        };
        assert_eq!(plain, "see ");
        assert!(reason.contains("<img>"), "{reason}");
        assert!(matches!(
            described(Some("<body><table><tr><td>x</td></tr></table></body>"), "x"),
            Description::Inexpressible { reason, .. } if reason.contains("<table>")
        ));
        assert!(matches!(
            described(None, "plain"),
            Description::Inexpressible { .. }
        ));
        assert_eq!(described(None, ""), Description::Markdown(String::new()));
    }

    #[test]
    fn bad_timestamp_is_a_decode_error() {
        let mut bad = task();
        bad.modified_at = Some("yesterday".to_owned());
        let err = to_item(bad, "p", &HashMap::new()).expect_err("invalid");
        assert!(err.to_string().contains("yesterday"), "{err}");
    }
}
