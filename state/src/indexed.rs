//! A table with a companion index: every record has a small summary, computed by a
//! function the caller names and kept in a second tree, written in the same sled
//! transaction as the record. A caller can go through the summaries of a large table
//! without paging its records in; the records are read one by one where needed.
//!
//! The index is rebuilt from the records when it is missing (a store written before the
//! index existed) or was made by another version of the summary function.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use crate::{StateError, Store, Table};

/// The tree that records which indexes are complete, and for which summary version.
const INDEXES: &str = "__indexes";

/// A table of `T` records with an index of `S` summaries under the same keys.
pub struct Indexed<T, S> {
    records: Table<T>,
    index: Table<S>,
    summarize: fn(&T) -> S,
}

impl Store {
    /// Opens the records table `records` with its index `index` of `summarize(record)`,
    /// building the index first when it is missing or was built for another `version`
    /// of `summarize`.
    pub fn indexed<T, S>(
        &self,
        records: &str,
        index: &str,
        version: u32,
        summarize: fn(&T) -> S,
    ) -> Result<Indexed<T, S>, StateError>
    where
        T: Serialize + DeserializeOwned,
        S: Serialize + DeserializeOwned,
    {
        let table = Indexed {
            records: self.table(records)?,
            index: self.table(index)?,
            summarize,
        };
        let marks = self.db.open_tree(INDEXES)?;
        let built = marks
            .get(index)?
            .is_some_and(|v| *v == version.to_be_bytes());
        if !built {
            marks.remove(index)?;
            table.rebuild()?;
            // The index reaches the disk before the mark that says it is complete.
            self.db.flush()?;
            marks.insert(index, &version.to_be_bytes())?;
        }
        Ok(table)
    }
}

impl<T, S> Indexed<T, S>
where
    T: Serialize + DeserializeOwned,
    S: Serialize + DeserializeOwned,
{
    /// The record under `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<T>, StateError> {
        self.records.get(key)
    }

    /// Stores `record` under `key` and its summary beside it, atomically.
    pub fn put(&self, key: &str, record: &T) -> Result<(), StateError> {
        let record_bytes = self.records.encode(key, record)?;
        let summary_bytes = self.index.encode(key, &(self.summarize)(record))?;
        (&self.records.tree, &self.index.tree)
            .transaction(|(records, index)| {
                records.insert(key, record_bytes.as_slice())?;
                index.insert(key, summary_bytes.as_slice())?;
                Ok::<_, ConflictableTransactionError<std::convert::Infallible>>(())
            })
            .map_err(storage)
    }

    /// Stores every `(key, record)` of `entries` with its summary beside it, all in one
    /// transaction: atomic as a whole, and much cheaper than a [`Self::put`] each, since
    /// sled writes its log out once per transaction (an import records thousands of
    /// pairs). A key given twice keeps its last record.
    pub fn put_all<'a>(
        &self,
        entries: impl IntoIterator<Item = (&'a str, &'a T)>,
    ) -> Result<(), StateError>
    where
        T: 'a,
    {
        let mut records = sled::Batch::default();
        let mut index = sled::Batch::default();
        for (key, record) in entries {
            records.insert(key, self.records.encode(key, record)?);
            index.insert(key, self.index.encode(key, &(self.summarize)(record))?);
        }
        (&self.records.tree, &self.index.tree)
            .transaction(|(records_tx, index_tx)| {
                records_tx.apply_batch(&records)?;
                index_tx.apply_batch(&index)?;
                Ok::<_, ConflictableTransactionError<std::convert::Infallible>>(())
            })
            .map_err(storage)
    }

    /// Removes `key` and its summary, atomically; returns whether it was there.
    pub fn remove(&self, key: &str) -> Result<bool, StateError> {
        (&self.records.tree, &self.index.tree)
            .transaction(|(records, index)| {
                index.remove(key)?;
                Ok::<_, ConflictableTransactionError<std::convert::Infallible>>(
                    records.remove(key)?.is_some(),
                )
            })
            .map_err(storage)
    }

    /// Every summary, in key order (the records stay on disk).
    pub fn summaries(&self) -> impl Iterator<Item = Result<(String, S), StateError>> + '_ {
        self.index.iter()
    }

    /// Number of records (counted in the index).
    #[must_use]
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether there are no records.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Makes the index again from the records.
    fn rebuild(&self) -> Result<(), StateError> {
        self.index.tree.clear()?;
        for entry in self.records.iter() {
            let (key, record) = entry?;
            self.index.put(&key, &(self.summarize)(&record))?;
        }
        Ok(())
    }
}

fn storage(e: TransactionError<std::convert::Infallible>) -> StateError {
    match e {
        TransactionError::Storage(e) => StateError::Sled(e),
        TransactionError::Abort(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[expect(
        clippy::ptr_arg,
        reason = "a summary function takes &T, here T = String"
    )]
    fn len_of(s: &String) -> usize {
        s.len()
    }

    /// The test table: strings, summarised by their length.
    fn recs(store: &Store) -> Indexed<String, usize> {
        store
            .indexed::<String, usize>("recs", "recs-ix", 1, len_of)
            .unwrap()
    }

    #[expect(
        clippy::ptr_arg,
        reason = "a summary function takes &T, here T = String"
    )]
    fn first_char(s: &String) -> String {
        s.chars().take(1).collect()
    }

    #[test]
    fn put_and_remove_keep_the_index_beside_the_records() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let t = recs(&store);
        t.put("a", &"hello".to_owned()).unwrap();
        t.put("b", &"hi".to_owned()).unwrap();
        t.put("a", &"hey".to_owned()).unwrap();
        assert!(t.remove("b").unwrap());
        assert!(!t.remove("b").unwrap());
        let summaries: Vec<(String, usize)> = t.summaries().map(Result::unwrap).collect();
        assert_eq!(summaries, vec![("a".to_owned(), 3)]);
        assert_eq!(t.get("a").unwrap().as_deref(), Some("hey"));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn put_all_writes_every_record_with_its_summary() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            let t = recs(&store);
            t.put("a", &"old".to_owned()).unwrap();
            let (b, a, c) = ("kiwi".to_owned(), "apple".to_owned(), "fig".to_owned());
            t.put_all([("b", &b), ("a", &a), ("c", &c), ("c", &a)])
                .unwrap();
            t.put_all(std::iter::empty()).unwrap();
            store.flush().unwrap();
        }
        // Read back after a reopen: the records and their summaries both reached the disk.
        let store = Store::open(dir.path()).unwrap();
        let t = recs(&store);
        let summaries: Vec<(String, usize)> = t.summaries().map(Result::unwrap).collect();
        assert_eq!(
            summaries,
            vec![
                ("a".to_owned(), 5),
                ("b".to_owned(), 4),
                ("c".to_owned(), 5)
            ]
        );
        assert_eq!(t.get("a").unwrap().as_deref(), Some("apple"));
        assert_eq!(
            t.get("c").unwrap().as_deref(),
            Some("apple"),
            "the last one wins"
        );
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn a_missing_or_outdated_index_is_rebuilt_from_the_records() {
        let dir = tempfile::tempdir().unwrap();
        {
            // A store from before the index: the records alone.
            let store = Store::open(dir.path()).unwrap();
            let plain = store.table::<String>("recs").unwrap();
            plain.put("a", &"apple".to_owned()).unwrap();
            plain.put("b", &"kiwi".to_owned()).unwrap();
            store.flush().unwrap();
        }
        {
            let store = Store::open(dir.path()).unwrap();
            let t = recs(&store);
            let summaries: Vec<usize> = t.summaries().map(|e| e.unwrap().1).collect();
            assert_eq!(summaries, vec![5, 4]);
            store.flush().unwrap();
        }
        // Another summary version: the index is made again, nothing of the old one stays.
        let store = Store::open(dir.path()).unwrap();
        let t = store
            .indexed::<String, String>("recs", "recs-ix", 2, first_char)
            .unwrap();
        let summaries: Vec<String> = t.summaries().map(|e| e.unwrap().1).collect();
        assert_eq!(summaries, vec!["a".to_owned(), "k".to_owned()]);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn the_same_version_reuses_the_index() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            let t = recs(&store);
            t.put("a", &"apple".to_owned()).unwrap();
            store.flush().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        // A record changed behind the index's back would show if the index were rebuilt.
        store
            .table::<String>("recs")
            .unwrap()
            .put("a", &"ab".to_owned())
            .unwrap();
        let t = recs(&store);
        let summaries: Vec<usize> = t.summaries().map(|e| e.unwrap().1).collect();
        assert_eq!(summaries, vec![5]);
    }
}
