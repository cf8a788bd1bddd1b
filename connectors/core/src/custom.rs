//! Custom fields in the common model: the values of a project's custom fields by field
//! name ([`CustomFields`]), in a form that compares equal across systems whatever the
//! field's type.
//!
//! A value is one string ([`CustomValue::One`]: text, number, enum option name, date
//! `YYYY-MM-DD`) or a set of strings ([`CustomValue::Many`]: multi-enum option names,
//! people's e-mails), sorted and without duplicates. Types live with the system that
//! knows them (Asana's project settings); a Markdown file cannot tell a number from a
//! text, so numbers are kept as their shortest decimal spelling (`3`, `2.5`).
//! An absent key is a field without value: empty strings and empty sets are never kept.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A project's custom-field values of one task, by field name.
pub type CustomFields = BTreeMap<String, CustomValue>;

/// The value of one custom field, canonical.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CustomValue {
    /// Text, number, enum option, date.
    One(String),
    /// Multi-enum options or people, sorted and de-duplicated.
    Many(Vec<String>),
}

impl CustomValue {
    /// The canonical form, or `None` for an empty value.
    #[must_use]
    pub fn canonical(self) -> Option<Self> {
        match self {
            CustomValue::One(s) => {
                let s = s.trim();
                (!s.is_empty()).then(|| CustomValue::One(s.to_owned()))
            }
            CustomValue::Many(values) => {
                let mut values: Vec<String> = values
                    .into_iter()
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
                    .collect();
                values.sort();
                values.dedup();
                (!values.is_empty()).then_some(CustomValue::Many(values))
            }
        }
    }

    /// The value's strings: one, or each of the set.
    #[must_use]
    pub fn items(&self) -> Vec<&str> {
        match self {
            CustomValue::One(s) => vec![s.as_str()],
            CustomValue::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }

    /// The value for messages and diffs: the string, or the set joined by `, `.
    #[must_use]
    pub fn display(&self) -> String {
        self.items().join(", ")
    }
}

impl std::fmt::Display for CustomValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

/// The shortest decimal spelling of a number (`3`, not `3.0`), as every system compares it.
#[must_use]
pub fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        // Whole numbers below 2^53 convert exactly.
        #[allow(clippy::cast_possible_truncation)]
        let whole = n as i64;
        whole.to_string()
    } else {
        n.to_string()
    }
}

/// `fields` canonical: each value canonical, empty values and blank names dropped.
#[must_use]
pub fn canonical_fields(fields: CustomFields) -> CustomFields {
    fields
        .into_iter()
        .filter_map(|(name, value)| {
            let name = name.trim().to_owned();
            if name.is_empty() {
                return None;
            }
            value.canonical().map(|v| (name, v))
        })
        .collect()
}

/// The display form of an optional value (empty when absent).
#[must_use]
pub fn display_opt(value: Option<&CustomValue>) -> String {
    value.map(CustomValue::display).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values compare equal whatever order or padding a system gave them; empty ones go.
    #[test]
    fn values_are_canonical() {
        let many = CustomValue::Many(vec![" iOS".into(), "Web".into(), "iOS".into()]);
        assert_eq!(
            many.canonical(),
            Some(CustomValue::Many(vec!["Web".into(), "iOS".into()]))
        );
        assert_eq!(CustomValue::One("  ".into()).canonical(), None);
        assert_eq!(CustomValue::Many(vec![String::new()]).canonical(), None);
        let fields = canonical_fields(CustomFields::from([
            (" Priority ".into(), CustomValue::One("High".into())),
            ("Empty".into(), CustomValue::One(String::new())),
        ]));
        assert_eq!(
            fields,
            CustomFields::from([("Priority".into(), CustomValue::One("High".into()))])
        );
    }

    #[test]
    fn numbers_are_spelled_shortest() {
        assert_eq!(number_text(3.0), "3");
        assert_eq!(number_text(2.5), "2.5");
        assert_eq!(number_text(-0.25), "-0.25");
    }

    /// Stored as a plain string or list, so records stay readable.
    #[test]
    fn values_serialise_untagged() {
        let one = serde_json::to_value(CustomValue::One("High".into())).unwrap();
        assert_eq!(one, serde_json::json!("High"));
        let back: CustomValue = serde_json::from_value(serde_json::json!(["a", "b"])).unwrap();
        assert_eq!(back, CustomValue::Many(vec!["a".into(), "b".into()]));
    }
}
