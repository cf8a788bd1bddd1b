//! A link's slice of the state store: its pairs, intents, conflicts and bookkeeping, each
//! in its own table named `link/<name>/<table>`.

use asana_bridge_state::{StateError, Store, Table};

use crate::records::{ConflictRecord, Intent, LinkMeta, PairRecord, PairSummary};

/// The tables of one link.
pub struct LinkState {
    pub pairs: Table<PairRecord>,
    pub intents: Table<Intent>,
    pub conflicts: Table<ConflictRecord>,
    meta: Table<LinkMeta>,
}

impl LinkState {
    /// Opens (creating) the tables of link `name`.
    pub fn open(store: &Store, name: &str) -> Result<Self, StateError> {
        Ok(Self {
            pairs: store.table(&format!("link/{name}/pairs"))?,
            intents: store.table(&format!("link/{name}/intents"))?,
            conflicts: store.table(&format!("link/{name}/conflicts"))?,
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

    /// Every pair record.
    pub fn records(&self) -> Result<Vec<PairRecord>, StateError> {
        let mut out = Vec::with_capacity(self.pairs.len());
        for entry in self.pairs.iter() {
            out.push(entry?.1);
        }
        Ok(out)
    }

    /// A summary of every pair record, in gid order: each record is decoded, summarised
    /// and dropped, so only the summaries stay in memory.
    pub fn summaries(&self) -> Result<Vec<PairSummary>, StateError> {
        let mut out = Vec::with_capacity(self.pairs.len());
        for entry in self.pairs.iter() {
            out.push(entry?.1.summary());
        }
        Ok(out)
    }

    /// Every open conflict.
    pub fn conflict_list(&self) -> Result<Vec<ConflictRecord>, StateError> {
        Ok(self.conflicts.all()?.into_iter().map(|(_, c)| c).collect())
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
