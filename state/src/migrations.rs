//! The upgrades between schema versions, oldest first: each rewrites stored JSON from the
//! shape an earlier release wrote. They are written against those frozen shapes (plain
//! JSON values), never against today's record types, so that a later change of the types
//! cannot change what an old upgrade does.
//!
//! Adding a step: append it here (its `from` is the previous [`crate::schema::CURRENT`]),
//! give it a unit test from a record the old release really wrote, and keep the old shape
//! out of the record types. A new field of a record needs no step: records read a missing
//! field as "never seen" (see the engine's `records` module).

use serde_json::{Map, Value};

use crate::StateError;
use crate::schema::{Rewrite, Step};

/// Every upgrade, in order: `STEPS[i]` goes from version `i + 1` to `i + 2`.
pub(crate) const STEPS: &[Step] = &[Step {
    from: 1,
    what: "pair fingerprints keyed by field name",
    plan: fingerprints_by_name,
}];

/// The order of the seven field digests in a version 1 fingerprint.
const V1_FIELDS: [&str; 7] = [
    "title",
    "notes",
    "completed",
    "due_on",
    "assignee",
    "tags",
    "section",
];

/// 1 -> 2: in every pair record (tables `link/<name>/pairs`), each side's `fields` goes
/// from an array of seven digests in [`V1_FIELDS`] order to an object keyed by field name,
/// so that a field added later is simply absent from older records.
fn fingerprints_by_name(db: &sled::Db) -> Result<Vec<Rewrite>, StateError> {
    let mut out = Vec::new();
    for name in db.tree_names() {
        let Ok(name) = String::from_utf8(name.to_vec()) else {
            continue;
        };
        if !(name.starts_with("link/") && name.ends_with("/pairs")) {
            continue;
        }
        for entry in db.open_tree(&name)?.iter() {
            let (key, bytes) = entry?;
            let corrupt = |source| StateError::Corrupt {
                table: name.clone(),
                key: String::from_utf8_lossy(&key).into_owned(),
                source,
            };
            let mut record: Value = serde_json::from_slice(&bytes).map_err(corrupt)?;
            if v1_pair_to_v2(&mut record).map_err(corrupt)? {
                out.push(Rewrite {
                    tree: name.clone(),
                    key: key.to_vec(),
                    value: Some(serde_json::to_vec(&record).map_err(corrupt)?),
                });
            }
        }
    }
    Ok(out)
}

/// Rewrites one version 1 pair record in place; whether anything changed (a record
/// already in the new shape is left alone).
fn v1_pair_to_v2(record: &mut Value) -> Result<bool, serde_json::Error> {
    use serde::de::Error as _;
    let mut changed = false;
    for side in ["asana", "target"] {
        let fields = record
            .get_mut(side)
            .and_then(|fp| fp.get_mut("fields"))
            .ok_or_else(|| serde_json::Error::custom(format!("no `{side}.fields`")))?;
        let Value::Array(digests) = fields else {
            continue;
        };
        if digests.len() != V1_FIELDS.len() || !digests.iter().all(Value::is_u64) {
            return Err(serde_json::Error::custom(format!(
                "`{side}.fields` is not seven digests"
            )));
        }
        let named: Map<String, Value> = V1_FIELDS
            .iter()
            .map(|f| (*f).to_owned())
            .zip(digests.drain(..))
            .collect();
        *fields = Value::Object(named);
        changed = true;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A pair record as version 1 wrote it (from `tests/fixtures/state-v1`).
    fn v1_record() -> Value {
        json!({
            "asana_gid": "1200000000000008",
            "target_id": "ship-it.md",
            "base": {"title": "Ship it", "notes": "", "completed": false,
                     "due_on": "2026-12-24", "assignee": null, "tags": [], "section": null},
            "asana": {"fields": [7_121_588_424_554_810_668_u64, 1, 2, 3, 4, 5, 6],
                      "revision": "2026-12-07T05:24:35.634Z~f402b348f4eb7db1"},
            "target": {"fields": [10, 11, 12, 13, 14, 15, 16], "revision": "92f4"},
            "asana_fields": {"title": "Ship it!", "notes": "", "completed": false,
                     "due_on": "2026-12-24", "assignee": null, "tags": [], "section": null}
        })
    }

    #[test]
    fn steps_go_one_version_at_a_time_up_to_the_current_one() {
        for (i, step) in STEPS.iter().enumerate() {
            assert_eq!(step.from as usize, i + 1, "{}", step.what);
        }
        assert_eq!(crate::schema::CURRENT as usize, STEPS.len() + 1);
        assert_eq!(crate::SCHEMA_VERSION, 2);
    }

    #[test]
    fn a_v1_pair_gets_named_digests_and_keeps_everything_else() {
        let mut record = v1_record();
        assert!(v1_pair_to_v2(&mut record).unwrap());
        let mut want = v1_record();
        want["asana"]["fields"] = json!({
            "title": 7_121_588_424_554_810_668_u64, "notes": 1, "completed": 2,
            "due_on": 3, "assignee": 4, "tags": 5, "section": 6
        });
        want["target"]["fields"] = json!({
            "title": 10, "notes": 11, "completed": 12, "due_on": 13, "assignee": 14,
            "tags": 15, "section": 16
        });
        assert_eq!(record, want);
        // Run again (a half-known store): nothing left to change.
        assert!(!v1_pair_to_v2(&mut record).unwrap());
        assert_eq!(record, want);
    }

    #[test]
    fn a_pair_that_is_not_v1_is_refused_as_corrupt() {
        for broken in [
            json!({"asana": {"fields": [1, 2]}, "target": {"fields": [1, 2, 3, 4, 5, 6, 7]}}),
            json!({"asana": {"fields": [1, 2, 3, 4, 5, 6, "x"]}, "target": {"fields": {}}}),
            json!({"asana": {"revision": null}, "target": {"fields": {}}}),
        ] {
            let mut record = broken.clone();
            assert!(v1_pair_to_v2(&mut record).is_err(), "{broken}");
        }
    }

    #[test]
    fn the_step_rewrites_only_pair_tables_of_links() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let bytes = serde_json::to_vec(&v1_record()).unwrap();
        db.open_tree("link/roadmap/pairs")
            .unwrap()
            .insert("1200000000000008", bytes.as_slice())
            .unwrap();
        // Same shape elsewhere: not a pair table, not touched.
        db.open_tree("link/roadmap/pair-summaries")
            .unwrap()
            .insert("1200000000000008", bytes.as_slice())
            .unwrap();
        db.open_tree("link/roadmap/intents")
            .unwrap()
            .insert("x", bytes.as_slice())
            .unwrap();
        let rewrites = fingerprints_by_name(&db).unwrap();
        assert_eq!(rewrites.len(), 1);
        assert_eq!(rewrites[0].tree, "link/roadmap/pairs");
        assert_eq!(rewrites[0].key, b"1200000000000008");
        let new: Value = serde_json::from_slice(rewrites[0].value.as_ref().unwrap()).unwrap();
        assert_eq!(new["asana"]["fields"]["due_on"], json!(3));
    }

    #[test]
    fn an_unreadable_pair_names_its_table_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        db.open_tree("link/l/pairs")
            .unwrap()
            .insert("42", "not json")
            .unwrap();
        let err = fingerprints_by_name(&db).unwrap_err();
        assert!(
            matches!(&err, StateError::Corrupt { table, key, .. } if table == "link/l/pairs" && key == "42"),
            "{err:?}"
        );
    }
}
