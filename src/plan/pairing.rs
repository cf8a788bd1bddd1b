//! Which target item is the counterpart of which Asana task (pure): the identity rules of
//! the contract's Safety section.
//!
//! The bridge's records come first: a target item whose id is recorded belongs to that
//! record's task. Beyond that, what an item says about itself counts as the target's
//! [`Identity`] allows:
//!
//! - [`Identity::Partner`] (a Markdown folder: files are renamed and moved, their
//!   `asana_gid` travels with them): a file naming a gid claims that task, so a moved file
//!   keeps its pair. A recorded file whose `asana_gid` now names another task, or that
//!   lost its front matter, is an error naming the file and the fix, and its task is left
//!   alone: an edit to a file is never a reason to delete or clear a task. A second file
//!   naming a task whose recorded file is still there is a copy, reported; the original
//!   keeps syncing.
//! - [`Identity::Record`] (GitHub: issue numbers never change): the records pair items;
//!   a partner (the footer line of an issue body) only re-adopts an issue for an Asana
//!   task that has no pair and was never let go (a create the bridge made and a crash
//!   kept it from recording, or records that were lost). Anywhere else it is text: a
//!   copied or pasted footer changes nothing in Asana.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use asana_bridge_connector::{Identity, Item};

use super::{Problem, Unreadable};
use crate::records::{LetGo, PairRecord, Side, Tombstone};

/// The lookups pairing needs.
pub struct Known<'m, 'a> {
    pub identity: Identity,
    /// What the target calls its items in messages (`file`, `issue`).
    pub noun: &'m str,
    pub asana_by_gid: &'m HashMap<&'a str, &'a Item>,
    pub records_by_gid: &'m HashMap<&'a str, &'a PairRecord>,
    pub records_by_target: &'m HashMap<&'a str, &'a PairRecord>,
    pub tombstones: &'m HashMap<&'a str, &'a Tombstone>,
}

/// The pairing of one run's target items.
#[derive(Default)]
pub struct Pairing<'a> {
    /// Asana gid -> its target item.
    pub target_for: HashMap<&'a str, &'a Item>,
    /// Target items that belong to no task: new (or to be recovered from an intent).
    pub unclaimed: Vec<&'a Item>,
    /// Gids whose pair is left entirely alone this run.
    pub blocked: BTreeSet<String>,
    /// Set when an unreadable target item could not be tied to a pair: it might be any
    /// of the "missing" ones, so no deletion is planned from the target's side.
    pub deletions_held: bool,
    pub problems: Vec<Problem>,
}

impl<'a> Pairing<'a> {
    fn problem(&mut self, item: &Item, message: String) {
        self.problems.push(Problem {
            side: Side::Target,
            id: item.id.clone(),
            message,
        });
    }
}

/// Pairs `target` items with Asana tasks.
#[must_use]
pub fn pair<'a>(
    known: &Known<'_, 'a>,
    target: &[&'a Item],
    unreadable: &[Unreadable],
) -> Pairing<'a> {
    let mut out = Pairing::default();
    // Pairs whose target item cannot be read are left alone entirely.
    for bad in unreadable {
        let by_partner = bad.partner.as_deref();
        let by_id = bad
            .id
            .as_deref()
            .and_then(|id| known.records_by_target.get(id))
            .map(|r| r.asana_gid.as_str());
        match by_partner.or(by_id) {
            Some(gid) => {
                out.blocked.insert(gid.to_owned());
            }
            None => out.deletions_held = true,
        }
    }
    match known.identity {
        Identity::Partner => by_partner(known, target, &mut out),
        Identity::Record => by_record(known, target, &mut out),
    }
    for gid in &out.blocked {
        out.target_for.remove(gid.as_str());
    }
    out
}

/// [`Identity::Partner`]: records first, then what each file says.
fn by_partner<'a>(known: &Known<'_, 'a>, target: &[&'a Item], out: &mut Pairing<'a>) {
    let noun = known.noun;
    // Files naming a gid, and recorded files naming none, by gid.
    let mut naming: BTreeMap<&'a str, Vec<&'a Item>> = BTreeMap::new();
    let mut unnamed: BTreeMap<&'a str, &'a Item> = BTreeMap::new();
    for &item in target {
        let recorded = known.records_by_target.get(item.id.as_str()).copied();
        match (item.partner.as_deref(), recorded) {
            (Some(gid), Some(r)) if gid != r.asana_gid => {
                out.problem(
                    item,
                    format!(
                        "its asana_gid was changed from {} to {gid}; both tasks are left untouched. Put back asana_gid: \"{}\" (or, to make this {noun} a new task, remove the asana_gid line)",
                        r.asana_gid, r.asana_gid
                    ),
                );
                out.blocked.insert(r.asana_gid.clone());
            }
            (Some(gid), _) => naming.entry(gid).or_default().push(item),
            (None, Some(r)) if item.bare => {
                out.problem(
                    item,
                    format!(
                        "this {noun} of task {} is empty or lost its front matter; the task is left untouched. Restore the {noun} (undo, or `git checkout` it), or delete the {noun} to let the task go",
                        r.asana_gid
                    ),
                );
                out.blocked.insert(r.asana_gid.clone());
            }
            (None, Some(r)) => {
                unnamed.insert(r.asana_gid.as_str(), item);
            }
            (None, None) => out.unclaimed.push(item),
        }
    }
    for (gid, items) in naming {
        let recorded_at = known.records_by_gid.get(gid).map(|r| r.target_id.as_str());
        let original = items
            .iter()
            .find(|i| Some(i.id.as_str()) == recorded_at)
            .copied();
        let claimant = match (original, items.as_slice()) {
            (Some(original), _) => {
                for copy in items.iter().filter(|i| i.id != original.id) {
                    out.problem(
                        copy,
                        format!(
                            "asana_gid {gid} belongs to {}; this {noun} looks like a copy of it and is left as it is. Remove its asana_gid line to make it a new task",
                            original.id
                        ),
                    );
                }
                original
            }
            (None, [only]) => *only,
            (None, _) => {
                let names: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
                for item in &items {
                    out.problem(
                        item,
                        format!(
                            "asana_gid {gid} appears in more than one {noun} ({}); none of them is synced until only one keeps it",
                            names.join(", ")
                        ),
                    );
                }
                out.blocked.insert(gid.to_owned());
                continue;
            }
        };
        // A recorded file at its old name that no longer names its task: a new file
        // written where the claimant used to be.
        if let Some(item) = unnamed.remove(gid)
            && item.id != claimant.id
        {
            out.unclaimed.push(item);
        }
        if known.asana_by_gid.contains_key(gid) || known.records_by_gid.contains_key(gid) {
            out.target_for.insert(gid, claimant);
            continue;
        }
        let message = match known.tombstones.get(gid) {
            Some(t) => match &t.how {
                LetGo::Deleted { trash } => format!(
                    "its task {gid} was deleted in Asana by asana-bridge at {} because {} was removed{}. To get the task back with its comments and history, restore it from Asana's trash (the {noun} links again on the next sync); or remove the asana_gid line to make this {noun} a new task",
                    t.at,
                    t.target_id,
                    trash
                        .as_deref()
                        .map(|p| format!(" (a copy was saved as {p})"))
                        .unwrap_or_default()
                ),
                _ => format!(
                    "its task {gid} is no longer in this link's Asana project (it was let go at {} when {} was removed); the {noun} is left as it is. Remove the asana_gid line to make it a new task",
                    t.at, t.target_id
                ),
            },
            None => format!(
                "asana_gid {gid} is not a task of this link's Asana project (a typo? another project's task?); the {noun} is left as it is. Fix the asana_gid, or remove the line to make the {noun} a new task"
            ),
        };
        out.problem(claimant, message);
        out.blocked.insert(gid.to_owned());
        // It may be a missing file with a mistyped gid: no task is deleted for a missing
        // file while it is unexplained.
        out.deletions_held = true;
    }
    for (gid, item) in unnamed {
        if !out.blocked.contains(gid) {
            out.target_for.entry(gid).or_insert(item);
        }
    }
    lost_front_matter(known, out);
}

/// A new file with no front matter whose body is exactly what a mapped file that went
/// missing last held: that file, moved and stripped of its front matter. Neither is a
/// reason to create or delete a task; both are reported.
fn lost_front_matter<'a>(known: &Known<'_, 'a>, out: &mut Pairing<'a>) {
    let noun = known.noun;
    let missing: Vec<(&str, &PairRecord)> = known
        .records_by_gid
        .iter()
        .filter(|(gid, _)| !out.target_for.contains_key(*gid) && !out.blocked.contains(**gid))
        .map(|(gid, r)| (*gid, *r))
        .collect();
    if missing.is_empty() {
        return;
    }
    let mut kept = Vec::new();
    for item in std::mem::take(&mut out.unclaimed) {
        let last = item.bare.then(|| {
            missing.iter().find(|(_, r)| {
                r.remembered(Side::Target)
                    .is_some_and(|last| !last.notes.is_empty() && last.notes == item.fields.notes)
            })
        });
        match last.flatten() {
            Some((gid, r)) => {
                out.problem(
                    item,
                    format!(
                        "this {noun} has no front matter and holds what {} held (task {gid}): moved and stripped of its front matter? Both are left as they are. Restore the front matter (undo, or `git checkout`), or add a title to make it a new task",
                        r.target_id
                    ),
                );
                out.blocked.insert((*gid).to_owned());
            }
            None => kept.push(item),
        }
    }
    out.unclaimed = kept;
}

/// [`Identity::Record`]: records only; a partner re-adopts an item for an unpaired task.
fn by_record<'a>(known: &Known<'_, 'a>, target: &[&'a Item], out: &mut Pairing<'a>) {
    let mut hinted: BTreeMap<&'a str, Vec<&'a Item>> = BTreeMap::new();
    for &item in target {
        if let Some(r) = known.records_by_target.get(item.id.as_str()) {
            out.target_for.insert(r.asana_gid.as_str(), item);
        } else if let Some(gid) = item.partner.as_deref() {
            hinted.entry(gid).or_default().push(item);
        } else {
            out.unclaimed.push(item);
        }
    }
    for (gid, mut items) in hinted {
        // A task the bridge let go (its issue moved away, or deleted on one side) is not
        // taken back by a footer: the footer is then a copy's text.
        let adoptable = known.asana_by_gid.contains_key(gid)
            && !known.records_by_gid.contains_key(gid)
            && !known.tombstones.contains_key(gid)
            && !out.target_for.contains_key(gid);
        if adoptable {
            // The oldest item is the original; later ones are copies of its text.
            items.sort_by(|a, b| natural(&a.id).cmp(&natural(&b.id)));
            out.target_for.insert(gid, items.remove(0));
        }
        out.unclaimed.extend(items);
    }
}

/// A sort key that orders numeric ids as numbers (`9` before `10`).
fn natural(id: &str) -> (usize, &str) {
    (id.len(), id)
}
