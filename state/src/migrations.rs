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
pub(crate) const STEPS: &[Step] = &[
    Step {
        from: 1,
        what: "pair fingerprints keyed by field name",
        plan: fingerprints_by_name,
    },
    Step {
        from: 2,
        what: "webhook records in one shape",
        plan: webhook_records_in_one_shape,
    },
];

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

/// Version 2's table of Asana webhook records (kept, in the new shape).
const V2_ASANA_HOOKS: &str = "webhooks/secrets";
/// Version 2's table of GitHub webhook records (emptied: they move to [`V3_TARGET_HOOKS`]).
const V2_GITHUB_HOOKS: &str = "webhooks/github";
/// Version 3's table of the webhook records of links' targets.
const V3_TARGET_HOOKS: &str = "webhooks/target";

/// 2 -> 3: the webhook records of `watch` (one per link and side, holding the hook's
/// secret and id) get one shape, whichever service the hook is on:
/// `{"scope", "target", "id", "secret"}`, the id as text. Asana's
/// `{"project", "target", "gid", "secret"}` stay in their table; GitHub's
/// `{"repo", "target", "id" (a number), "secret"}` move to the targets' table.
fn webhook_records_in_one_shape(db: &sled::Db) -> Result<Vec<Rewrite>, StateError> {
    let mut out = Vec::new();
    let names = db.tree_names();
    let has = |name: &str| names.iter().any(|n| n.as_ref() == name.as_bytes());
    for (from, to, scope) in [
        (V2_ASANA_HOOKS, V2_ASANA_HOOKS, "project"),
        (V2_GITHUB_HOOKS, V3_TARGET_HOOKS, "repo"),
    ] {
        if !has(from) {
            continue;
        }
        for entry in db.open_tree(from)?.iter() {
            let (key, bytes) = entry?;
            let corrupt = |source| StateError::Corrupt {
                table: from.to_owned(),
                key: String::from_utf8_lossy(&key).into_owned(),
                source,
            };
            let old: Value = serde_json::from_slice(&bytes).map_err(corrupt)?;
            let record = match v2_hook_to_v3(old.clone(), scope).map_err(corrupt)? {
                Some(record) => record,
                None if from == to => continue,
                None => old,
            };
            if from != to {
                out.push(Rewrite {
                    tree: from.to_owned(),
                    key: key.to_vec(),
                    value: None,
                });
            }
            out.push(Rewrite {
                tree: to.to_owned(),
                key: key.to_vec(),
                value: Some(serde_json::to_vec(&record).map_err(corrupt)?),
            });
        }
    }
    Ok(out)
}

/// One version 2 webhook record, whose scope is under `scope` (`project`, `repo`), in the
/// version 3 shape; `None` when it already has it (a half-known store).
fn v2_hook_to_v3(record: Value, scope: &str) -> Result<Option<Value>, serde_json::Error> {
    use serde::de::Error as _;
    let Value::Object(mut old) = record else {
        return Err(serde_json::Error::custom(
            "a webhook record is not an object",
        ));
    };
    if old.contains_key("scope") {
        return Ok(None);
    }
    let Some(Value::String(scope)) = old.remove(scope) else {
        return Err(serde_json::Error::custom(format!("no `{scope}`")));
    };
    let mut text = |key: &str| match old.remove(key) {
        None | Some(Value::Null) => Ok(Value::Null),
        Some(Value::String(s)) => Ok(Value::String(s)),
        Some(Value::Number(n)) => Ok(Value::String(n.to_string())),
        Some(_) => Err(serde_json::Error::custom(format!("`{key}` is not text"))),
    };
    let id = match text("gid")? {
        Value::Null => text("id")?,
        gid => gid,
    };
    let mut new = Map::new();
    new.insert("scope".into(), Value::String(scope));
    new.insert("target".into(), text("target")?);
    new.insert("id".into(), id);
    new.insert("secret".into(), text("secret")?);
    Ok(Some(Value::Object(new)))
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
        assert_eq!(crate::SCHEMA_VERSION, 3);
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

    /// Webhook records as version 2 wrote them: Asana's (a handshake secret and the
    /// webhook's gid) and GitHub's (the secret the bridge chose and the hook's number).
    fn v2_asana_hook() -> Value {
        json!({"project": "1200000000000001", "target": "https://bridge.example/hooks/bugs",
               "gid": "1200000000000099", "secret": "asana-handshake-secret"})
    }

    fn v2_github_hook() -> Value {
        json!({"repo": "acme/app", "target": "https://bridge.example/hooks/bugs",
               "id": 7, "secret": "github-hook-secret"})
    }

    #[test]
    fn both_kinds_of_v2_hook_records_get_the_one_shape() {
        assert_eq!(
            v2_hook_to_v3(v2_asana_hook(), "project").unwrap(),
            Some(json!({"scope": "1200000000000001",
                        "target": "https://bridge.example/hooks/bugs",
                        "id": "1200000000000099", "secret": "asana-handshake-secret"}))
        );
        assert_eq!(
            v2_hook_to_v3(v2_github_hook(), "repo").unwrap(),
            Some(
                json!({"scope": "acme/app", "target": "https://bridge.example/hooks/bugs",
                        "id": "7", "secret": "github-hook-secret"})
            )
        );
        // A record of a hook not yet created, or deleted: no id, no secret.
        assert_eq!(
            v2_hook_to_v3(
                json!({"repo": "o/r", "target": "https://h/x", "id": null, "secret": null}),
                "repo"
            )
            .unwrap(),
            Some(json!({"scope": "o/r", "target": "https://h/x", "id": null, "secret": null}))
        );
        // Already in the new shape: left alone.
        let new = v2_hook_to_v3(v2_asana_hook(), "project").unwrap().unwrap();
        assert_eq!(v2_hook_to_v3(new, "project").unwrap(), None);
        for broken in [
            json!([]),
            json!({"target": "x"}),
            json!({"repo": "o/r", "id": [1]}),
        ] {
            assert!(v2_hook_to_v3(broken.clone(), "repo").is_err(), "{broken}");
        }
    }

    /// A version 2 state folder holding both kinds of webhook records (and a pair) is
    /// upgraded on open: Asana's records keep their table, GitHub's move to the targets'
    /// table, both in the one shape, and the store reads version 3.
    #[test]
    fn a_v2_store_with_both_kinds_of_hook_records_is_upgraded_on_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::Config::new()
                .path(dir.path().join(crate::DB_DIR))
                .open()
                .unwrap();
            let put = |tree: &str, key: &str, value: &Value| {
                db.open_tree(tree)
                    .unwrap()
                    .insert(key, serde_json::to_vec(value).unwrap())
                    .unwrap();
            };
            put(V2_ASANA_HOOKS, "bugs", &v2_asana_hook());
            put(V2_ASANA_HOOKS, "roadmap", &{
                let mut r = v2_asana_hook();
                r["gid"] = Value::Null;
                r
            });
            put(V2_GITHUB_HOOKS, "bugs", &v2_github_hook());
            put("link/bugs/pairs", "1200000000000008", &pair_v2());
            db.open_tree(crate::schema::META)
                .unwrap()
                .insert(crate::schema::VERSION_KEY, &2_u32.to_be_bytes())
                .unwrap();
            db.flush().unwrap();
        }
        {
            let store = crate::Store::open(dir.path()).unwrap();
            let asana = store.table::<Value>(V2_ASANA_HOOKS).unwrap();
            assert_eq!(
                asana.get("bugs").unwrap().unwrap()["id"],
                "1200000000000099"
            );
            assert_eq!(asana.get("roadmap").unwrap().unwrap()["id"], Value::Null);
            assert_eq!(
                asana.get("bugs").unwrap().unwrap()["scope"],
                "1200000000000001"
            );
            let target = store.table::<Value>(V3_TARGET_HOOKS).unwrap();
            assert_eq!(
                target.get("bugs").unwrap(),
                Some(
                    json!({"scope": "acme/app", "target": "https://bridge.example/hooks/bugs",
                            "id": "7", "secret": "github-hook-secret"})
                )
            );
            assert!(
                store
                    .table::<Value>(V2_GITHUB_HOOKS)
                    .unwrap()
                    .all()
                    .unwrap()
                    .is_empty()
            );
            assert_eq!(
                store
                    .table::<Value>("link/bugs/pairs")
                    .unwrap()
                    .get("1200000000000008")
                    .unwrap(),
                Some(pair_v2())
            );
        }
        assert_eq!(crate::Store::peek_version(dir.path()).unwrap(), Some(3));
    }

    fn pair_v2() -> Value {
        let mut pair = v1_record();
        v1_pair_to_v2(&mut pair).unwrap();
        pair
    }

    #[test]
    fn an_unreadable_hook_record_names_its_table_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        db.open_tree(V2_GITHUB_HOOKS)
            .unwrap()
            .insert("bugs", "{\"id\": 1}")
            .unwrap();
        let err = webhook_records_in_one_shape(&db).unwrap_err();
        assert!(
            matches!(&err, StateError::Corrupt { table, key, .. } if table == V2_GITHUB_HOOKS && key == "bugs"),
            "{err:?}"
        );
    }
}
