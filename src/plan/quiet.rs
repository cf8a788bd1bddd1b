//! Which pairs a run can leave out of planning (pure).
//!
//! On a big mapped link almost every item is exactly as the link's records remember it,
//! and for such a pair the planner decides nothing. Holding all of them (records, items,
//! stand-ins) only to learn that costs memory in proportion to the link, so a run works
//! in two steps:
//!
//! 1. While it reads both sides it holds a [`PairSummary`] per pair. An item that is
//!    [`as_recorded`] (same field hashes and revision as its record, and a record that
//!    stands in for it faithfully) is dropped as soon as it is read: its side is
//!    [`Seen::AsRecorded`], and the record will stand in for it if the pair is planned
//!    after all. So is an item the change feed (or a watcher) says did not change.
//! 2. [`settled`] then names the pairs the planner would leave untouched: both sides as
//!    recorded, no conflict recorded on the pair, and no other item (listed or unreadable)
//!    naming it. For such a pair [`crate::merge::merge_pair`] sees no field changed on
//!    either side, no conflict, the recorded target id and both recorded revisions: a
//!    no-op. Only the other pairs' full records are read back and planned.
//!
//! The planner itself is unchanged: what it is given for the pairs it plans is what it
//! would have been given before, and the pairs it is not given are ones it would skip.

use std::collections::HashSet;

use asana_bridge_connector::{Identity, Item};

use super::Unreadable;
use crate::records::{ConflictRecord, PairSummary, Side, item_digest};

/// How a run saw one side of a recorded pair.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Seen {
    /// Not seen (yet): gone from that side, or not read.
    #[default]
    Absent,
    /// Known to be exactly as the record remembers it: the item was dropped, the record
    /// stands in for it.
    AsRecorded,
    /// Read and kept, to be planned.
    Listed,
}

/// Lookups into summaries sorted by gid (the order the state store keeps them in).
pub struct SummaryIndex<'a> {
    summaries: &'a [PairSummary],
    /// Positions sorted by target id.
    by_target: Vec<u32>,
    /// Whether a target item's partner gid may name its pair ([`Identity::Partner`]: a
    /// renamed file); with [`Identity::Record`] only the recorded target id does.
    by_partner: bool,
}

impl<'a> SummaryIndex<'a> {
    /// An index over `summaries`, which must be sorted by gid.
    ///
    /// # Panics
    /// When there are more than `u32::MAX` summaries.
    #[must_use]
    pub fn new(summaries: &'a [PairSummary]) -> Self {
        debug_assert!(summaries.is_sorted_by(|a, b| a.asana_gid <= b.asana_gid));
        let mut by_target: Vec<u32> =
            (0..u32::try_from(summaries.len()).expect("too many pairs")).collect();
        by_target.sort_by(|a, b| {
            summaries[*a as usize]
                .target_id
                .cmp(&summaries[*b as usize].target_id)
        });
        Self {
            summaries,
            by_target,
            by_partner: true,
        }
    }

    /// The same index for a target whose items are identified as `identity` says.
    #[must_use]
    pub fn with_identity(mut self, identity: Identity) -> Self {
        self.by_partner = identity == Identity::Partner;
        self
    }

    /// The summaries.
    #[must_use]
    pub fn summaries(&self) -> &'a [PairSummary] {
        self.summaries
    }

    /// The position of the pair of Asana task `gid`.
    #[must_use]
    pub fn of_gid(&self, gid: &str) -> Option<usize> {
        self.summaries
            .binary_search_by(|s| (*s.asana_gid).cmp(gid))
            .ok()
    }

    /// The position of the pair whose target item is `id`.
    #[must_use]
    pub fn of_target(&self, id: &str) -> Option<usize> {
        self.by_target
            .binary_search_by(|i| (*self.summaries[*i as usize].target_id).cmp(id))
            .ok()
            .map(|at| self.by_target[at] as usize)
    }

    /// The pair `item`, read from `side`, belongs to, and whether it is exactly as that
    /// pair's record remembers it. A target item is the pair's whose recorded target id it
    /// has; only an item no pair records (a renamed file) goes by the gid it names, so a
    /// gid copied or pasted into another pair's item never takes that item away from its
    /// own pair.
    #[must_use]
    pub fn classify(&self, side: Side, item: &Item) -> Option<(usize, Seen)> {
        let at = match side {
            Side::Asana => self.of_gid(&item.id),
            Side::Target => self.of_target(&item.id).or_else(|| {
                item.partner
                    .as_deref()
                    .filter(|_| self.by_partner)
                    .and_then(|gid| self.of_gid(gid))
            }),
        }?;
        let seen = if as_recorded(&self.summaries[at], side, item) {
            Seen::AsRecorded
        } else {
            Seen::Listed
        };
        Some((at, seen))
    }
}

/// Whether `item`, read from `side`, is exactly as `summary`'s record remembers it, and
/// the record's stand-in would be the same item (ids, partner, fields, revision).
#[must_use]
pub fn as_recorded(summary: &PairSummary, side: Side, item: &Item) -> bool {
    let same_ids = match side {
        Side::Asana => *item.id == *summary.asana_gid,
        Side::Target => {
            *item.id == *summary.target_id && item.partner.as_deref() == Some(&*summary.asana_gid)
        }
    };
    same_ids && summary.faithful(side) && item_digest(item) == summary.digest(side)
}

/// Which pairs the planner would leave untouched, by position in `index`.
///
/// `asana` and `target` say how each side of each pair was seen; `target_items` are the
/// target items kept for planning, `unreadable` the target items that could not be read.
#[must_use]
pub fn settled(
    index: &SummaryIndex<'_>,
    asana: &[Seen],
    target: &[Seen],
    target_items: &[Item],
    unreadable: &[Unreadable],
    conflicts: &[ConflictRecord],
) -> Vec<bool> {
    let summaries = index.summaries();
    let mut settled: Vec<bool> = summaries
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.asana_faithful
                && s.target_faithful
                && asana.get(i) == Some(&Seen::AsRecorded)
                && target.get(i) == Some(&Seen::AsRecorded)
        })
        .collect();
    let mut unsettle = |at: Option<usize>| {
        if let Some(at) = at {
            settled[at] = false;
        }
    };
    // Another item naming the pair (a copied file, a renamed one, one without its gid, an
    // unreadable one) makes the planner look at it.
    for item in target_items {
        unsettle(item.partner.as_deref().and_then(|gid| index.of_gid(gid)));
        unsettle(index.of_target(&item.id));
    }
    for bad in unreadable {
        unsettle(bad.partner.as_deref().and_then(|gid| index.of_gid(gid)));
        unsettle(bad.id.as_deref().and_then(|id| index.of_target(id)));
    }
    let in_conflict: HashSet<&str> = conflicts.iter().map(|c| c.asana_gid.as_str()).collect();
    for (i, s) in summaries.iter().enumerate() {
        if in_conflict.contains(&*s.asana_gid) {
            settled[i] = false;
        }
    }
    settled
}

#[cfg(test)]
mod tests;
