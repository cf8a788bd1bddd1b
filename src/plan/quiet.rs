//! Which recorded pairs a run can leave out of planning (pure).
//!
//! On a big mapped link almost every item is exactly as the link's records remember it,
//! and for such a pair the planner decides nothing. Holding all of them (records, items)
//! only to learn that costs memory in proportion to the link, so a run works in two steps:
//!
//! 1. While it reads both sides it holds one [`PairSummary`] per pair ([`SummaryIndex`])
//!    and one [`Observed`] per pair and side. An item that is [`as_recorded`] is dropped as
//!    soon as it is read: its side is [`Observed::Unchanged`]. So is every item the change
//!    feed (or a watcher) says did not change: it is not read at all.
//! 2. [`untouched`] then names the quiet pairs, those the planner would leave untouched:
//!    both sides unchanged and remembered exactly, no conflict recorded on the pair, and
//!    no other item (listed or unreadable) naming it. For such a pair
//!    [`crate::merge::merge_pair`] sees no field changed on either side, no conflict, the
//!    recorded target id and both recorded revisions: a no-op. Only the other pairs' full
//!    records are read back and planned.
//!
//! Leaving a quiet pair out changes no plan (the property test in `quiet/tests.rs`).

use std::collections::HashSet;

use asana_bridge_connector::Item;

use super::{Observed, Unreadable};
use crate::records::{ConflictRecord, PairSummary, Side, item_digest};

/// Lookups into summaries sorted by gid (the order the state store keeps them in).
pub struct SummaryIndex<'a> {
    summaries: &'a [PairSummary],
    /// Positions sorted by target id.
    by_target: Vec<u32>,
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
        }
    }

    /// The summaries.
    #[must_use]
    pub fn summaries(&self) -> &'a [PairSummary] {
        self.summaries
    }

    /// How many pairs.
    #[must_use]
    pub fn len(&self) -> usize {
        self.summaries.len()
    }

    /// Whether the link has no pair yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.summaries.is_empty()
    }

    /// The position of the pair of Asana task `gid`.
    #[must_use]
    pub fn of_gid(&self, gid: &str) -> Option<usize> {
        self.summaries
            .binary_search_by(|s| (*s.asana_gid).cmp(gid))
            .ok()
    }

    /// The position of the pair whose recorded target item is `id`.
    #[must_use]
    pub fn of_target(&self, id: &str) -> Option<usize> {
        self.by_target
            .binary_search_by(|i| (*self.summaries[*i as usize].target_id).cmp(id))
            .ok()
            .map(|at| self.by_target[at] as usize)
    }

    /// The position of the pair whose own item on `side` has the id `id`: the task of
    /// that gid, or the target item of that recorded id. (An item that only names a pair,
    /// a renamed file or a copy, is not the pair's own: pairing decides about it.)
    #[must_use]
    pub fn of_own(&self, side: Side, id: &str) -> Option<usize> {
        match side {
            Side::Asana => self.of_gid(id),
            Side::Target => self.of_target(id),
        }
    }
}

/// Whether `item`, read from `side`, is exactly as `summary`'s record remembers it: the
/// pair's own item (ids and partner), every field hash and the revision as recorded, and
/// a record that remembers that side's values exactly (so that what it recalls of the
/// item is the item).
#[must_use]
pub fn as_recorded(summary: &PairSummary, side: Side, item: &Item) -> bool {
    let same_ids = match side {
        Side::Asana => *item.id == *summary.asana_gid,
        Side::Target => {
            *item.id == *summary.target_id && item.partner.as_deref() == Some(&*summary.asana_gid)
        }
    };
    same_ids && summary.exact(side) && item_digest(item) == summary.digest(side)
}

/// The quiet pairs, by position in `index`: those the planner would leave untouched.
///
/// `asana` and `target` say how each side of each pair was observed; `other_target` are
/// the target items that are no pair's own item, `unreadable` the target items that could
/// not be read.
#[must_use]
pub fn untouched(
    index: &SummaryIndex<'_>,
    asana: &[Observed],
    target: &[Observed],
    other_target: &[Item],
    unreadable: &[Unreadable],
    conflicts: &[ConflictRecord],
) -> Vec<bool> {
    let summaries = index.summaries();
    let mut quiet: Vec<bool> = summaries
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.asana_exact
                && s.target_exact
                && asana.get(i) == Some(&Observed::Unchanged)
                && target.get(i) == Some(&Observed::Unchanged)
        })
        .collect();
    let mut disturb = |at: Option<usize>| {
        if let Some(at) = at {
            quiet[at] = false;
        }
    };
    // Another item naming the pair (a copied file, a renamed one, one whose gid was
    // edited, an unreadable one) makes the planner look at it.
    let changed_own = target.iter().filter_map(|o| match o {
        Observed::Changed(item) => Some(&**item),
        _ => None,
    });
    for item in other_target.iter().chain(changed_own) {
        disturb(item.partner.as_deref().and_then(|gid| index.of_gid(gid)));
        disturb(index.of_target(&item.id));
    }
    for bad in unreadable {
        disturb(bad.partner.as_deref().and_then(|gid| index.of_gid(gid)));
        disturb(bad.id.as_deref().and_then(|id| index.of_target(id)));
    }
    let in_conflict: HashSet<&str> = conflicts.iter().map(|c| c.asana_gid.as_str()).collect();
    for (i, s) in summaries.iter().enumerate() {
        if in_conflict.contains(&*s.asana_gid) {
            quiet[i] = false;
        }
    }
    quiet
}

#[cfg(test)]
mod tests;
