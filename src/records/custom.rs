//! Custom fields in the records: one fingerprint digest per custom field, stored under
//! `fields.<name>` beside the core fields' digests, and read back tolerantly (a record
//! without them, written by an earlier release, reads as having no custom field).

use std::collections::BTreeMap;

use asana_bridge_connector::{CustomValue, TaskFields};
use sha2::{Digest, Sha256};

/// The prefix of a custom field's fingerprint key.
pub const CUSTOM_PREFIX: &str = "fields.";

/// Stable hashes of every custom field with a value, by name.
#[must_use]
pub fn custom_hashes(fields: &TaskFields) -> BTreeMap<String, u64> {
    fields
        .custom
        .iter()
        .map(|(n, v)| (n.clone(), custom_hash(Some(v))))
        .collect()
}

/// A stable 64-bit hash of one custom field's value (`None`: no value).
#[must_use]
pub fn custom_hash(value: Option<&CustomValue>) -> u64 {
    let mut h = Sha256::new();
    match value {
        None => h.update([0]),
        Some(v) => {
            h.update([1 + u8::from(matches!(v, CustomValue::Many(_)))]);
            for item in v.items() {
                h.update(item.as_bytes());
                h.update([0]);
            }
        }
    }
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// The custom fields' digests of a stored fingerprint; a custom field the record remembers
/// a value of but has no digest for reads as never seen (its remembered value's digest).
pub(super) fn custom_digests(
    stored: &BTreeMap<String, u64>,
    remembered: &TaskFields,
) -> BTreeMap<String, u64> {
    let mut custom: BTreeMap<String, u64> = stored
        .iter()
        .filter_map(|(k, d)| Some((k.strip_prefix(CUSTOM_PREFIX)?.to_owned(), *d)))
        .collect();
    for (name, digest) in custom_hashes(remembered) {
        custom.entry(name).or_insert(digest);
    }
    custom
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stored digests are found under `fields.<name>`; core names are not custom fields;
    /// a field the record remembers a value of but has no digest for reads as that value
    /// (never seen, not changed).
    #[test]
    fn digests_are_read_by_prefix_and_a_missing_one_reads_as_remembered() {
        let stored = BTreeMap::from([("title".to_owned(), 1), ("fields.Priority".to_owned(), 7)]);
        let remembered = TaskFields {
            custom: [
                ("Priority".to_owned(), CustomValue::One("High".into())),
                ("Estimate".to_owned(), CustomValue::One("3".into())),
            ]
            .into(),
            ..TaskFields::default()
        };
        let read = custom_digests(&stored, &remembered);
        assert_eq!(
            read,
            BTreeMap::from([
                ("Priority".to_owned(), 7),
                (
                    "Estimate".to_owned(),
                    custom_hash(Some(&CustomValue::One("3".into())))
                ),
            ])
        );
        // A record of an earlier release: nothing custom at all.
        assert!(
            custom_digests(
                &BTreeMap::from([("title".to_owned(), 1)]),
                &TaskFields::default()
            )
            .is_empty()
        );
        // One and Many of the same text are different values.
        assert_ne!(
            custom_hash(Some(&CustomValue::One("a".into()))),
            custom_hash(Some(&CustomValue::Many(vec!["a".into()])))
        );
        assert_ne!(
            custom_hash(None),
            custom_hash(Some(&CustomValue::One(String::new())))
        );
    }
}
