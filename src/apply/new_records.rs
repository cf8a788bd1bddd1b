//! The records of pairs that a target create made, held for a moment so that they reach
//! the state store in chunks (one sled transaction each) instead of one transaction per
//! pair: sled writes its log out once per transaction, and on a 10,000-task import that
//! was about a third of the bridge's CPU.
//!
//! Only these records wait here, because nothing depends on their being written at once:
//! a new target item names its Asana task itself (a file's `asana_gid`, an issue's
//! footer), so a record lost to a crash is found again by the next run, as one written
//! but not yet flushed by sled always could be; no intent is settled by them, and no
//! remote write waits for them. A chunk is written when it is full, or once its first
//! record has waited [`NewRecords::WAIT`] (about what sled's background flush adds), and
//! whatever is left when the plan is done, before the store's final flush.

use std::time::{Duration, Instant};

use crate::records::PairRecord;

/// Records of new pairs waiting for their chunk.
#[derive(Debug, Default)]
pub(super) struct NewRecords {
    records: Vec<PairRecord>,
    /// When the first record of the chunk arrived.
    since: Option<Instant>,
}

impl NewRecords {
    /// How many records make a chunk.
    pub(super) const CHUNK: usize = 256;
    /// How long the first record of a chunk may wait for the rest.
    pub(super) const WAIT: Duration = Duration::from_millis(500);

    /// Adds `record`; returns the chunk to write when it is full or has waited long enough.
    pub(super) fn push(&mut self, record: PairRecord, now: Instant) -> Option<Vec<PairRecord>> {
        let since = *self.since.get_or_insert(now);
        self.records.push(record);
        (self.records.len() >= Self::CHUNK || now.duration_since(since) >= Self::WAIT)
            .then(|| self.take_all())
    }

    /// The chunk to write if its first record has waited long enough by `now`.
    pub(super) fn take_due(&mut self, now: Instant) -> Option<Vec<PairRecord>> {
        self.since
            .is_some_and(|since| now.duration_since(since) >= Self::WAIT)
            .then(|| self.take_all())
    }

    /// Every record waiting (the plan is done).
    pub(super) fn take_all(&mut self) -> Vec<PairRecord> {
        self.since = None;
        std::mem::take(&mut self.records)
    }
}

#[cfg(test)]
mod tests {
    use asana_bridge_connector::TaskFields;

    use super::*;
    use crate::records::Fingerprint;

    fn record(gid: usize) -> PairRecord {
        PairRecord {
            asana_gid: gid.to_string(),
            target_id: format!("{gid}.md"),
            base: TaskFields::default(),
            asana: Fingerprint::default(),
            target: Fingerprint::default(),
            asana_fields: None,
            target_fields: None,
            missing: None,
        }
    }

    fn gids(records: &[PairRecord]) -> Vec<String> {
        records.iter().map(|r| r.asana_gid.clone()).collect()
    }

    /// A full chunk is handed out at once, in the order the records came, and the next
    /// one starts empty.
    #[test]
    fn a_full_chunk_is_written_at_once() {
        let start = Instant::now();
        let mut new = NewRecords::default();
        for i in 0..NewRecords::CHUNK - 1 {
            assert!(new.push(record(i), start).is_none(), "record {i}");
        }
        let chunk = new.push(record(NewRecords::CHUNK - 1), start).unwrap();
        let want: Vec<String> = (0..NewRecords::CHUNK).map(|i| i.to_string()).collect();
        assert_eq!(gids(&chunk), want);
        assert!(new.take_all().is_empty());
        assert!(new.take_due(start + NewRecords::WAIT * 2).is_none());
    }

    /// A chunk that fills slowly (creates on a remote, rate-limited target) is written
    /// once its first record has waited: by the next push or by the applier's timer.
    #[test]
    fn a_slow_chunk_is_written_once_its_first_record_has_waited() {
        let start = Instant::now();
        let mut new = NewRecords::default();
        assert!(new.push(record(1), start).is_none());
        let soon = start + NewRecords::WAIT / 2;
        assert!(new.push(record(2), soon).is_none());
        assert!(new.take_due(soon).is_none());
        let late = start + NewRecords::WAIT;
        assert_eq!(gids(&new.push(record(3), late).unwrap()), ["1", "2", "3"]);

        // The waiting time starts again with the next chunk's first record.
        assert!(new.push(record(4), late).is_none());
        assert!(new.take_due(late + NewRecords::WAIT / 2).is_none());
        assert_eq!(gids(&new.take_due(late + NewRecords::WAIT).unwrap()), ["4"]);
        assert!(
            new.take_due(late + NewRecords::WAIT * 3).is_none(),
            "nothing waits"
        );
    }
}
