//! GitHub's limits on what an issue may hold, checked before sending, and GitHub's `422`
//! answers turned into one line per field.
//!
//! - a title: required, at most 256 characters;
//! - a label name: at most 50 characters;
//! - a body: at most 65,536 characters (the footer line included);
//! - an assignee: a login that can be assigned in the repository (only GitHub knows: its
//!   `422` names the field).
//!
//! Every line names the field, the value (shortened to 40 characters) and the rule, e.g.
//! `tag "a-very-long-tag-name-that-goes-on-and-…" (60 characters) is too long for a GitHub label (at most 50)`.

use asana_bridge_connector::Field;
use serde_json::Value;

/// GitHub refuses titles longer than this many characters.
pub const MAX_TITLE_CHARS: usize = 256;
/// GitHub refuses label names longer than this many characters.
pub const MAX_LABEL_CHARS: usize = 50;
/// GitHub refuses issue bodies longer than this many characters.
pub const MAX_BODY_CHARS: usize = 65_536;

/// `value` quoted and cut to 40 characters for a message.
#[must_use]
pub fn shorten(value: &str) -> String {
    let cut: String = value.chars().take(40).collect();
    if cut.chars().count() < value.chars().count() {
        format!("{:?}", format!("{cut}…"))
    } else {
        format!("{value:?}")
    }
}

/// Why GitHub would refuse `title`, if it would.
#[must_use]
pub fn title_problem(title: &str) -> Option<String> {
    let n = title.chars().count();
    if title.trim().is_empty() {
        Some("the title is empty; a GitHub issue needs one".to_owned())
    } else if n > MAX_TITLE_CHARS {
        Some(format!(
            "title {} ({n} characters) is too long for GitHub (at most {MAX_TITLE_CHARS})",
            shorten(title)
        ))
    } else {
        None
    }
}

/// Why GitHub would refuse the label `name`, if it would.
#[must_use]
pub fn label_problem(name: &str) -> Option<String> {
    let n = name.chars().count();
    (n > MAX_LABEL_CHARS).then(|| {
        format!(
            "tag {} ({n} characters) is too long for a GitHub label (at most {MAX_LABEL_CHARS}); the issue has the other labels",
            shorten(name)
        )
    })
}

/// Why GitHub would refuse `body`, if it would.
#[must_use]
pub fn body_problem(body: &str) -> Option<String> {
    let n = body.chars().count();
    (n > MAX_BODY_CHARS).then(|| {
        format!(
            "notes are too long for a GitHub issue ({n} characters with the link line; at most {MAX_BODY_CHARS})"
        )
    })
}

/// One entry of a `422`'s `errors`, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The request key to leave out when sending again (`title`, `body`, `labels`,
    /// `assignees`, `state`), if the entry names one.
    pub key: Option<&'static str>,
    /// The synced field, if the entry names one.
    pub field: Option<Field>,
    /// One line for the user.
    pub message: String,
}

/// The field errors of a `422` body (`{"message": "Validation Failed", "errors": [{resource,
/// field, code, value?, message?}]}`), one per entry; an entry that names no known field
/// still gets a line. A body that is not GitHub's shape gives one line with its message.
#[must_use]
pub fn refusals(body: &[u8]) -> Vec<Refusal> {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let top = parsed
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("Validation Failed");
    let entries = parsed
        .get("errors")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if entries.is_empty() {
        return vec![Refusal {
            key: None,
            field: None,
            message: format!("GitHub refused the change: {top}"),
        }];
    }
    entries
        .iter()
        .map(|e| {
            // GitHub sometimes sends a plain string instead of an object.
            if let Some(text) = e.as_str() {
                return Refusal {
                    key: None,
                    field: None,
                    message: format!("GitHub refused the change: {text}"),
                };
            }
            let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("");
            let resource = s("resource");
            let name = s("field");
            let (key, field, what) = match (resource, name) {
                ("Label", _) | (_, "labels") => (Some("labels"), Some(Field::Tags), "label"),
                (_, "title") => (Some("title"), Some(Field::Title), "title"),
                (_, "body") => (Some("body"), Some(Field::Notes), "notes"),
                (_, "assignees" | "assignee") => {
                    (Some("assignees"), Some(Field::Assignee), "assignee")
                }
                (_, "state" | "state_reason") => {
                    (Some("state"), Some(Field::Completed), "open/closed state")
                }
                _ => (None, None, "value"),
            };
            let value = match e.get("value") {
                Some(Value::String(v)) => format!(" {}", shorten(v)),
                Some(Value::Null) | None => String::new(),
                Some(other) => format!(" {other}"),
            };
            let why = match s("code") {
                "missing_field" => "is required".to_owned(),
                "invalid" if what == "assignee" => {
                    "is not a login that can be assigned in this repository".to_owned()
                }
                "invalid" => "is not valid".to_owned(),
                "already_exists" => "already exists".to_owned(),
                "missing" => "does not exist".to_owned(),
                "unprocessable" => "cannot be processed".to_owned(),
                _ => match s("message") {
                    "" => top.to_owned(),
                    m => m.to_owned(),
                },
            };
            let named = if name.is_empty() || what != "value" {
                what.to_owned()
            } else {
                format!("{resource} {name}")
            };
            Refusal {
                key,
                field,
                message: format!("GitHub refused the {named}{value}: {why}"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_checks_name_the_field_and_value() {
        assert!(title_problem("ok").is_none());
        assert!(title_problem(&"t".repeat(256)).is_none());
        let long = title_problem(&"t".repeat(300)).expect("too long");
        assert!(
            long.starts_with("title \"tttt") && long.contains("300 characters"),
            "{long}"
        );
        assert!(title_problem("  ").expect("empty").contains("empty"));
        let label = label_problem(&"x".repeat(60)).expect("too long");
        assert!(
            label.contains("60 characters") && label.contains("at most 50"),
            "{label}"
        );
        assert!(label_problem(&"x".repeat(50)).is_none());
        assert!(body_problem(&"b".repeat(65_537)).is_some());
    }

    #[test]
    fn a_422_becomes_one_line_per_field() {
        let body = br#"{"message":"Validation Failed","errors":[
            {"resource":"Issue","field":"assignees","code":"invalid","value":"nobody"},
            {"resource":"Label","field":"name","code":"custom","message":"name is too long (maximum is 50 characters)"},
            {"resource":"Issue","field":"title","code":"missing_field"}],
            "documentation_url":"https://docs.github.com/rest","status":"422"}"#;
        let r = refusals(body);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].field, Some(Field::Assignee));
        assert_eq!(
            r[0].message,
            "GitHub refused the assignee \"nobody\": is not a login that can be assigned in this repository"
        );
        assert_eq!((r[1].key, r[1].field), (Some("labels"), Some(Field::Tags)));
        assert!(r[1].message.contains("maximum is 50"), "{}", r[1].message);
        assert_eq!(r[2].message, "GitHub refused the title: is required");
        let odd = refusals(b"not json");
        assert_eq!(odd.len(), 1);
        assert_eq!(odd[0].field, None);
    }
}
