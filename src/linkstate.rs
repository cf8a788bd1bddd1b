//! A link's slice of the state store: its pairs, intents, conflicts and bookkeeping, each
//! in its own table named `link/<name>/<table>`.

use asana_bridge_state::{Indexed, StateError, Store, Table};

use crate::records::{ConflictRecord, Intent, LinkMeta, PairRecord, PairSummary, Tombstone};

/// The tables of one link.
pub struct LinkState {
    /// The pair records, with a [`PairSummary`] of each kept beside it.
    pub pairs: Indexed<PairRecord, PairSummary>,
    pub intents: Table<Intent>,
    pub conflicts: Table<ConflictRecord>,
    /// Pairs let go when their target item went away, by Asana gid.
    pub tombstones: Table<Tombstone>,
    meta: Table<LinkMeta>,
}

impl LinkState {
    /// Opens (creating) the tables of link `name`.
    pub fn open(store: &Store, name: &str) -> Result<Self, StateError> {
        Ok(Self {
            pairs: store.indexed(
                &format!("link/{name}/pairs"),
                &format!("link/{name}/pair-summaries"),
                PairSummary::VERSION,
                PairRecord::summary,
            )?,
            intents: store.table(&format!("link/{name}/intents"))?,
            conflicts: store.table(&format!("link/{name}/conflicts"))?,
            tombstones: store.table(&format!("link/{name}/tombstones"))?,
            meta: store.table(&format!("link/{name}/meta"))?,
        })
    }

    /// The link's bookkeeping (defaults before the first sync).
    pub fn meta(&self) -> Result<LinkMeta, StateError> {
        Ok(self.meta.get("meta")?.unwrap_or_default())
    }

    /// Stores the link's bookkeeping.
    pub fn set_meta(&self, meta: &LinkMeta) -> Result<(), StateError> {
        self.meta.put("meta", meta)
    }

    /// A summary of every pair record, in gid order, read from the pairs' index: no
    /// record is read.
    pub fn summaries(&self) -> Result<Vec<PairSummary>, StateError> {
        self.pairs
            .summaries()
            .map(|entry| entry.map(|(_, summary)| summary))
            .collect()
    }

    /// Every open conflict.
    pub fn conflict_list(&self) -> Result<Vec<ConflictRecord>, StateError> {
        Ok(self.conflicts.all()?.into_iter().map(|(_, c)| c).collect())
    }

    /// Every tombstone.
    pub fn tombstone_list(&self) -> Result<Vec<Tombstone>, StateError> {
        Ok(self.tombstones.all()?.into_iter().map(|(_, t)| t).collect())
    }

    /// Every pending intent.
    pub fn intent_list(&self) -> Result<Vec<Intent>, StateError> {
        Ok(self.intents.all()?.into_iter().map(|(_, i)| i).collect())
    }

    /// Removes a pair and every conflict recorded on it.
    pub fn forget_pair(&self, asana_gid: &str) -> Result<(), StateError> {
        self.pairs.remove(asana_gid)?;
        for c in self.conflict_list()? {
            if c.asana_gid == asana_gid {
                self.conflicts.remove(&c.id)?;
            }
        }
        Ok(())
    }

    /// Records a conflict, keeping when it was first seen.
    pub fn upsert_conflict(
        &self,
        mut conflict: ConflictRecord,
        now: &str,
    ) -> Result<(), StateError> {
        if let Some(old) = self.conflicts.get(&conflict.id)? {
            conflict.detected_at = old.detected_at;
        }
        if conflict.detected_at.is_empty() {
            now.clone_into(&mut conflict.detected_at);
        }
        self.conflicts.put(&conflict.id.clone(), &conflict)
    }
}

#[cfg(test)]
mod tests {
    use asana_bridge_connector::{Item, TaskFields};

    use super::*;
    use crate::records::{Fingerprint, Side};

    fn record(gid: &str, title: &str) -> PairRecord {
        let item = |id: &str| Item {
            id: id.to_owned(),
            fields: TaskFields {
                title: title.to_owned(),
                ..TaskFields::default()
            },
            modified_at: None,
            partner: None,
            revision: Some(format!("rev-{id}")),
            bare: false,
        };
        let (a, t) = (item(gid), item(&format!("{gid}.md")));
        PairRecord {
            asana_gid: a.id.clone(),
            target_id: t.id.clone(),
            base: a.fields.clone(),
            asana: Fingerprint::of(&a),
            target: Fingerprint::of(&t),
            asana_fields: None,
            target_fields: None,
            missing: None,
        }
    }

    #[test]
    fn a_store_from_before_the_index_gets_its_summaries_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let records = [record("1", "One"), record("2", "Two")];
        {
            // Written as versions before the index did: the records table alone.
            let store = Store::open(dir.path()).unwrap();
            let plain = store.table::<PairRecord>("link/l/pairs").unwrap();
            for r in &records {
                plain.put(&r.asana_gid, r).unwrap();
            }
            store.flush().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let state = LinkState::open(&store, "l").unwrap();
        let want: Vec<PairSummary> = records.iter().map(PairRecord::summary).collect();
        assert_eq!(state.summaries().unwrap(), want);
        assert_eq!(state.pairs.len(), 2);

        // From then on every write keeps its summary beside it.
        let held = records[0].held_deletion(Side::Asana, &records[0].base);
        state.pairs.put("1", &held).unwrap();
        state.forget_pair("2").unwrap();
        assert_eq!(state.summaries().unwrap(), vec![held.summary()]);
        assert!(!held.summary().asana_exact, "Asana's side is known gone");
    }
}
