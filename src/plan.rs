//! The sync decision, as a pure function: what a run observed of both sides (per recorded
//! pair and side: [`Observed`]; the items no record pairs) and the stored state in, a
//! sorted list of [`Action`]s out. No I/O, no clock, no randomness: `--dry-run` prints
//! this plan, `apply` performs it, and every arm of the decision is tested case by case.
//!
//! Which target item belongs to which task is [`pairing`]'s business (the identity rules);
//! for each pair the field-level merge lives in [`crate::merge`]. A task is deleted in
//! Asana only on deliberate evidence (the contract's Safety section): its target item is
//! [`Gone::Confirmed`] (missing from a full listing, asked after, past the grace period),
//! the task did not change in Asana since the last sync (its revision, which moves on
//! comments and custom fields too), and the link's `on_delete` allows it.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use asana_bridge_connector::{Field, Identity, Item};

pub mod pairing;
pub mod quiet;

use crate::config::OnDelete;
use crate::merge::{self, Clocks, Policy, SyncPair};
use crate::records::{ConflictRecord, Intent, PairRecord, Side, Tombstone};

/// How one side of a recorded pair stood when a run observed it.
#[derive(Clone, Debug, PartialEq)]
pub enum Observed {
    /// Exactly as the pair's record remembers it: read and found so, or not read at all
    /// because the change feed (or a watcher) says it did not change.
    Unchanged,
    /// Read, and not as the record remembers it. (Boxed: a run holds one of these per
    /// pair while it reads a link.)
    Changed(Box<Item>),
    /// Not where the record says: absent from a full listing, or named by the change feed
    /// and not found. A renamed item may still claim the pair, and whether a missing target
    /// item counts as deleted is the planner's [`Gone`] evidence.
    Gone,
    /// There, but it could not be read: the pair is left alone.
    Unreadable,
}

/// A recorded pair as a run observed it.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    pub record: PairRecord,
    pub asana: Observed,
    pub target: Observed,
}

impl Observation {
    /// How `side` was observed.
    #[must_use]
    pub fn side(&self, side: Side) -> &Observed {
        match side {
            Side::Asana => &self.asana,
            Side::Target => &self.target,
        }
    }

    /// The item `side` holds this run: the one read when it changed, the record's memory
    /// of it when it did not (unless the record knows that side gone: a held deletion), and
    /// none when it is gone or unreadable.
    fn present(&self, side: Side) -> Option<Cow<'_, Item>> {
        match self.side(side) {
            Observed::Changed(item) => Some(Cow::Borrowed(&**item)),
            Observed::Unchanged => self.record.recalled(side).map(Cow::Owned),
            Observed::Gone | Observed::Unreadable => None,
        }
    }
}

/// An item a connector could not read: its pair is left alone this run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unreadable {
    pub id: Option<String>,
    pub partner: Option<String>,
}

/// What a run found out about a mapped target item that its listing no longer shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gone {
    /// Deleted: missing from a full listing, confirmed by its system, and (under
    /// `watch`) missing for the whole grace period.
    Confirmed,
    /// Missing, but not long enough yet to count (an editor's atomic save, a checkout).
    Pending,
    /// Moved out of the link's reach (a transferred issue), to `to`: not a deletion.
    Moved { to: String },
}

/// Everything the planner looks at.
#[derive(Clone, Copy, Debug)]
pub struct PlanInput<'a> {
    pub policy: Policy,
    /// What pairs target items with tasks (see [`pairing`]).
    pub identity: Identity,
    /// What the target calls its items in messages (`file`, `issue`).
    pub noun: &'a str,
    /// The recorded pairs to plan, each side as observed. A pair left out is one the
    /// planner would leave untouched (see [`quiet`]).
    pub pairs: &'a [Observation],
    /// Asana tasks no record pairs: new ones, and ones a target item names.
    pub new_asana: &'a [Item],
    /// Target items that are no recorded pair's own item: new, renamed, copied.
    pub other_target: &'a [Item],
    pub target_unreadable: &'a [Unreadable],
    pub intents: &'a [Intent],
    pub conflicts: &'a [ConflictRecord],
    /// Pairs let go earlier, by what became of their target item.
    pub tombstones: &'a [Tombstone],
    /// What is known of mapped target items missing from this run's listing, by gid. A
    /// missing item with no entry here is treated as [`Gone::Pending`]: no evidence, no
    /// deletion.
    pub gone: &'a BTreeMap<String, Gone>,
    /// What a deleted target item does to its task.
    pub on_delete: OnDelete,
    /// Whether completed tasks and closed items that have no counterpart get one.
    pub import_completed: bool,
    /// The target's tag names match ignoring case (GitHub labels): a target tag equal to
    /// Asana tags but for case is those tags, in Asana's spellings.
    pub tags_ignore_case: bool,
    /// Fields of items the engine read as last seen because their side cannot express
    /// them (see `Connector::unknown_fields`), by side and item id: never carried into a
    /// counterpart created anew.
    pub filled_in: &'a HashMap<(Side, String), Vec<Field>>,
    /// The two sides' clocks, for the `newest` policy.
    pub clocks: Clocks,
}

/// One thing to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// A task new in Asana: create its target item. `replaces`: the record of a pair whose
    /// target item was deleted while the task was edited, and the edit won.
    CreateTarget {
        asana: Item,
        replaces: Option<PairRecord>,
    },
    /// An item new in the target: create its Asana task (after recording an intent), then
    /// stamp the new gid on the target item.
    CreateAsana {
        target: Item,
        replaces: Option<PairRecord>,
    },
    /// Bring a pair together (patch either side, store the new record).
    Sync(Box<SyncPair>),
    /// Deleted in Asana and unchanged in the target since the last sync.
    DeleteTarget { record: PairRecord, target: Item },
    /// Deleted in the target (confirmed) and unchanged in Asana since the last sync: the
    /// task is let go as `how` says (deleted after being saved to the trash, completed,
    /// or left alone), and a tombstone remembers it.
    DeleteAsana {
        record: PairRecord,
        asana: Item,
        how: OnDelete,
    },
    /// The target item moved out of the link's reach (a transferred issue): the pair is
    /// let go, the task untouched.
    Unlink {
        record: PairRecord,
        title: String,
        to: String,
    },
    /// Gone on both sides: forget the pair.
    Forget { record: PairRecord },
    /// A deletion on one side against an edit on the other, left to the user. `record` is
    /// the pair's record as it must now stand (see [`PairRecord::held_deletion`]).
    /// `superseded`: ids of the pair's field conflicts, which the deletion conflict
    /// replaces (a field conflict cannot be resolved on a side that is gone).
    HoldDeletion {
        conflict: ConflictRecord,
        record: PairRecord,
        superseded: Vec<String>,
    },
    /// An intent that no longer needs recovering.
    DropIntent { key: String },
}

impl Action {
    /// Whether performing it writes to Asana or the target.
    #[must_use]
    pub fn writes(&self) -> bool {
        match self {
            Action::CreateTarget { .. }
            | Action::CreateAsana { .. }
            | Action::DeleteTarget { .. } => true,
            Action::DeleteAsana { how, .. } => *how != OnDelete::Ignore,
            Action::Sync(pair) => pair.writes(),
            Action::Forget { .. }
            | Action::Unlink { .. }
            | Action::HoldDeletion { .. }
            | Action::DropIntent { .. } => false,
        }
    }

    fn sort_key(&self) -> (u8, String) {
        match self {
            Action::DropIntent { key } => (0, key.clone()),
            Action::Forget { record } | Action::Unlink { record, .. } => {
                (1, record.asana_gid.clone())
            }
            Action::HoldDeletion { conflict, .. } => (2, conflict.asana_gid.clone()),
            Action::DeleteTarget { record, .. } => (3, record.asana_gid.clone()),
            Action::DeleteAsana { record, .. } => (4, record.asana_gid.clone()),
            Action::Sync(pair) => (5, pair.asana.id.clone()),
            Action::CreateTarget { asana, .. } => (6, asana.id.clone()),
            Action::CreateAsana { target, .. } => (7, target.id.clone()),
        }
    }
}

/// A problem found while planning, reported as one error line naming the item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub side: Side,
    pub id: String,
    pub message: String,
}

/// The planner's answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub problems: Vec<Problem>,
    /// Set when target-side deletions were held back because some unreadable target item
    /// could not be identified (it might be one of the "missing" ones).
    pub deletions_held: bool,
    /// Gids whose pair was left entirely alone (a problem, an unreadable item).
    pub blocked: BTreeSet<String>,
}

impl Plan {
    /// Number of actions that write somewhere.
    #[must_use]
    pub fn write_count(&self) -> usize {
        self.actions.iter().filter(|a| a.writes()).count()
    }
}

/// The intent key of a create on `side` from the item `source_id`.
#[must_use]
pub fn intent_key(side: Side, source_id: &str) -> String {
    match side {
        Side::Asana => format!("asana:{source_id}"),
        Side::Target => format!("target:{source_id}"),
    }
}

/// Decides what to do. Pure.
#[must_use]
#[allow(clippy::too_many_lines)] // one table, read top to bottom
pub fn plan(input: &PlanInput<'_>) -> Plan {
    let mut out = Plan::default();

    // What each side holds this run, read or (unchanged) as recorded.
    let asana_items: Vec<Cow<'_, Item>> = input
        .new_asana
        .iter()
        .map(Cow::Borrowed)
        .chain(input.pairs.iter().filter_map(|o| o.present(Side::Asana)))
        .collect();
    let target_items: Vec<Cow<'_, Item>> = input
        .other_target
        .iter()
        .map(Cow::Borrowed)
        .chain(input.pairs.iter().filter_map(|o| o.present(Side::Target)))
        .collect();
    let target_items: Vec<&Item> = target_items.iter().map(AsRef::as_ref).collect();
    let asana_by_gid: HashMap<&str, &Item> = asana_items
        .iter()
        .map(|i| (i.id.as_str(), i.as_ref()))
        .collect();
    let records_by_gid: HashMap<&str, &PairRecord> = input
        .pairs
        .iter()
        .map(|o| (o.record.asana_gid.as_str(), &o.record))
        .collect();
    let records_by_target: HashMap<&str, &PairRecord> = input
        .pairs
        .iter()
        .map(|o| (o.record.target_id.as_str(), &o.record))
        .collect();
    let tombstones: HashMap<&str, &Tombstone> = input
        .tombstones
        .iter()
        .map(|t| (t.asana_gid.as_str(), t))
        .collect();

    let pairing::Pairing {
        target_for,
        unclaimed,
        blocked,
        deletions_held,
        problems,
    } = pairing::pair(
        &pairing::Known {
            identity: input.identity,
            noun: input.noun,
            asana_by_gid: &asana_by_gid,
            records_by_gid: &records_by_gid,
            records_by_target: &records_by_target,
            tombstones: &tombstones,
        },
        &target_items,
        input.target_unreadable,
    );
    let mut blocked = blocked;
    // A task that could not be read is left alone with its pair: never taken for deleted.
    blocked.extend(
        input
            .pairs
            .iter()
            .filter(|o| o.asana == Observed::Unreadable)
            .map(|o| o.record.asana_gid.clone()),
    );
    out.problems = problems;
    out.deletions_held = deletions_held;

    // Conflicts by gid.
    let mut conflicts_by_gid: HashMap<&str, Vec<&ConflictRecord>> = HashMap::new();
    for c in input.conflicts {
        conflicts_by_gid
            .entry(c.asana_gid.as_str())
            .or_default()
            .push(c);
    }
    let no_conflicts: Vec<&ConflictRecord> = Vec::new();

    // Every gid that is known anywhere.
    let mut gids: BTreeSet<&str> = BTreeSet::new();
    gids.extend(asana_by_gid.keys());
    gids.extend(records_by_gid.keys());
    gids.extend(target_for.keys());

    let mut unmapped_asana: Vec<&Item> = Vec::new();
    for gid in gids {
        if blocked.contains(gid) {
            continue;
        }
        let asana = asana_by_gid.get(gid).copied();
        let target = target_for.get(gid).copied();
        let record = records_by_gid.get(gid).copied();
        let conflicts = conflicts_by_gid.get(gid).unwrap_or(&no_conflicts);
        match (asana, target, record) {
            (Some(a), Some(t), previous) => {
                let spelled;
                let t = if input.tags_ignore_case {
                    spelled = spelled_as(t, &a.fields.tags);
                    &spelled
                } else {
                    t
                };
                let mut pair = merge::merge_pair(
                    merge::Rules {
                        policy: input.policy,
                        clocks: input.clocks,
                        tags_ignore_case: input.tags_ignore_case,
                    },
                    a,
                    t,
                    previous,
                    conflicts,
                );
                // Paired by the records, an item needs no partner written on it.
                pair.stamp_partner &= input.identity == Identity::Partner;
                if let Some(r) = previous {
                    send_over_filled_in(&mut pair, r, a, input.filled_in);
                }
                if pair.is_noop() {
                    continue;
                }
                out.actions.push(Action::Sync(Box::new(pair)));
            }
            (Some(a), None, None) => unmapped_asana.push(a),
            (None, Some(_), None) => {} // reported above: claims a gid not in the project
            (Some(a), None, Some(r)) => {
                // Gone from the target: only deliberate evidence lets the task go.
                if out.deletions_held {
                    continue;
                }
                match input.gone.get(gid) {
                    None | Some(Gone::Pending) => {}
                    Some(Gone::Moved { to }) => out.actions.push(Action::Unlink {
                        record: r.clone(),
                        title: a.fields.title.clone(),
                        to: to.clone(),
                    }),
                    Some(Gone::Confirmed) => {
                        // A task that changed in Asana since the last sync (a field, or
                        // anything that moves its revision: a comment, an attachment, a
                        // custom field) is never deleted for a missing file.
                        let edited =
                            r.asana.any_changed(&a.fields) || a.revision != r.asana.revision;
                        match deletion_winner(input.policy, edited, conflicts, Side::Target) {
                            Some(Side::Target) => out.actions.push(Action::DeleteAsana {
                                record: r.clone(),
                                asana: a.clone(),
                                how: input.on_delete,
                            }),
                            Some(Side::Asana) => out.actions.push(Action::CreateTarget {
                                asana: as_read(a, Side::Asana, input.filled_in),
                                replaces: Some(r.clone()),
                            }),
                            None => out.actions.push(Action::HoldDeletion {
                                conflict: deletion_conflict(r, &a.fields.title, Side::Target, a),
                                record: r.held_deletion(Side::Target, &a.fields),
                                superseded: field_conflict_ids(conflicts),
                            }),
                        }
                    }
                }
            }
            (None, Some(t), Some(r)) => {
                // Gone from Asana. Labels that equal the task's last tags but for case
                // are no edit: the record may remember them in either spelling.
                let as_spelled = |t: &Item| {
                    !input.tags_ignore_case
                        || r.target.any_changed(&spelled_as(t, &r.base.tags).fields)
                };
                let edited = r.target.any_changed(&t.fields) && as_spelled(t);
                match deletion_winner(input.policy, edited, conflicts, Side::Asana) {
                    Some(Side::Asana) => out.actions.push(Action::DeleteTarget {
                        record: r.clone(),
                        target: t.clone(),
                    }),
                    Some(Side::Target) => out.actions.push(Action::CreateAsana {
                        target: as_read(t, Side::Target, input.filled_in),
                        replaces: Some(r.clone()),
                    }),
                    None => out.actions.push(Action::HoldDeletion {
                        conflict: deletion_conflict(r, &t.fields.title, Side::Asana, t),
                        record: r.held_deletion(Side::Asana, &t.fields),
                        superseded: field_conflict_ids(conflicts),
                    }),
                }
            }
            (None, None, Some(r)) => out.actions.push(Action::Forget { record: r.clone() }),
            (None, None, None) => {}
        }
    }

    // New target items: recover creates whose answer was lost, else create.
    let intents_by_source: HashMap<&str, &Intent> = input
        .intents
        .iter()
        .filter(|i| i.on == Side::Asana)
        .map(|i| (i.source_id.as_str(), i))
        .collect();
    let mut adopted: BTreeSet<&str> = BTreeSet::new();
    let mut kept_intents: BTreeSet<String> = BTreeSet::new();
    for item in &unclaimed {
        let recovered = intents_by_source.get(item.id.as_str()).and_then(|intent| {
            unmapped_asana.iter().find(|a| {
                !adopted.contains(a.id.as_str())
                    && a.fields.title == intent.fields.title
                    && a.fields.notes == intent.fields.notes
            })
        });
        if let Some(a) = recovered {
            adopted.insert(a.id.as_str());
            let mut pair = merge::merge_pair(
                merge::Rules {
                    policy: input.policy,
                    clocks: input.clocks,
                    tags_ignore_case: input.tags_ignore_case,
                },
                a,
                item,
                None,
                &no_conflicts,
            );
            pair.stamp_partner = input.identity == Identity::Partner;
            out.actions.push(Action::Sync(Box::new(pair)));
            // The Sync settles the intent.
            kept_intents.insert(intent_key(Side::Asana, &item.id));
        } else if input.import_completed || !item.fields.completed || item.partner.is_some() {
            // (An item that names a task was part of the link before: a closed issue whose
            // deletion label was removed comes back whatever `import` says.)
            kept_intents.insert(intent_key(Side::Asana, &item.id));
            out.actions.push(Action::CreateAsana {
                target: (*item).clone(),
                replaces: None,
            });
        }
    }
    for a in unmapped_asana {
        let let_go = tombstones
            .get(a.id.as_str())
            .is_some_and(|t| t.how.task_kept());
        let skipped = let_go || (!input.import_completed && a.fields.completed);
        if !skipped && !adopted.contains(a.id.as_str()) {
            out.actions.push(Action::CreateTarget {
                asana: a.clone(),
                replaces: None,
            });
        }
    }
    for intent in input.intents {
        let key = intent_key(intent.on, &intent.source_id);
        if !kept_intents.contains(&key) {
            out.actions.push(Action::DropIntent { key });
        }
    }

    out.actions.sort_by_key(Action::sort_key);
    out.problems.sort_by(|a, b| a.id.cmp(&b.id));
    out.blocked = blocked;
    out
}

/// A target field the engine filled in from the record (the logins name nobody
/// `[users]` maps: it reads as the assignee last seen there) does not agree with Asana
/// because it holds Asana's new value: the issue does not hold it. An Asana change of
/// such a field is sent (a mapped person is added beside the unmapped logins).
fn send_over_filled_in(
    pair: &mut merge::SyncPair,
    record: &PairRecord,
    asana: &Item,
    filled_in: &HashMap<(Side, String), Vec<Field>>,
) {
    let Some(fields) = filled_in.get(&(Side::Target, pair.target.id.clone())) else {
        return;
    };
    for field in fields {
        let settled = pair.held.contains(field)
            || pair.to_target.fields().contains(field)
            || pair.to_asana.fields().contains(field);
        if !settled && record.asana.changed(&asana.fields, *field) {
            pair.to_target.set(&asana.fields, *field);
        }
    }
}

/// `item` as its side holds it: the fields the engine filled in from the record (values
/// the side cannot express) back to empty.
fn as_read(item: &Item, side: Side, filled_in: &HashMap<(Side, String), Vec<Field>>) -> Item {
    let mut out = item.clone();
    for field in filled_in
        .get(&(side, item.id.clone()))
        .into_iter()
        .flatten()
    {
        out.fields
            .copy_field(&asana_bridge_connector::TaskFields::default(), *field);
    }
    out
}

/// `target` with each tag that equals Asana tags but for case written as those tags (all
/// of Asana's spellings: a task with `Bug` and `bug` and an issue labelled `bug` agree).
fn spelled_as(target: &Item, asana_tags: &[String]) -> Item {
    let mut out = target.clone();
    let mut tags = Vec::new();
    for tag in &target.fields.tags {
        let same: Vec<&String> = asana_tags
            .iter()
            .filter(|a| a.to_lowercase() == tag.to_lowercase())
            .collect();
        if same.is_empty() {
            tags.push(tag.clone());
        } else {
            tags.extend(same.into_iter().cloned());
        }
    }
    out.fields.tags = asana_bridge_connector::model::canonical_tags(tags);
    out
}

/// Who wins when `deleted_on` deleted the task: `Some(deleted_on)` means the deletion
/// propagates, `Some(other)` means the other side's copy is recreated, `None` means hold.
///
/// A deletion already held (its conflict recorded, not resolved) stays held: the edit
/// that held it may no longer show (an edit undone moves only the task's revision, and
/// the next run recalls the task as the held record remembers it), but it happened.
fn deletion_winner(
    policy: Policy,
    other_side_edited: bool,
    conflicts: &[&ConflictRecord],
    deleted_on: Side,
) -> Option<Side> {
    let held = conflicts
        .iter()
        .any(|c| c.is_deletion() && c.resolution.is_none());
    if !other_side_edited && !held {
        return Some(deleted_on);
    }
    if let Some(side) = conflicts
        .iter()
        .find(|c| c.is_deletion())
        .and_then(|c| c.resolution)
    {
        return Some(side);
    }
    match (policy, deleted_on) {
        (Policy::Asana, _) => Some(Side::Asana),
        // Asana is the team's record: a task edited there is never deleted because its
        // file went away, unless the user says so (`conflicts resolve --keep target`).
        (Policy::Target, Side::Target) => None,
        (Policy::Target, Side::Asana) => Some(Side::Target),
        // We cannot know when the deletion happened: the edit is kept, nothing is lost.
        (Policy::Newest, _) => Some(deleted_on.other()),
        (Policy::Manual, _) => None,
    }
}

/// Ids of the field conflicts among a pair's recorded conflicts.
fn field_conflict_ids(conflicts: &[&ConflictRecord]) -> Vec<String> {
    conflicts
        .iter()
        .filter(|c| !c.is_deletion())
        .map(|c| c.id.clone())
        .collect()
}

fn deletion_conflict(
    record: &PairRecord,
    title: &str,
    deleted_on: Side,
    survivor: &Item,
) -> ConflictRecord {
    let edited: Vec<&str> = Field::ALL
        .iter()
        .filter(|f| {
            record
                .seen(deleted_on.other())
                .changed(&survivor.fields, **f)
        })
        .map(|f| f.name())
        .collect();
    let survivor_value = Some(format!("edited ({})", edited.join(", ")));
    let (asana_value, target_value) = match deleted_on {
        Side::Asana => (None, survivor_value),
        Side::Target => (survivor_value, None),
    };
    ConflictRecord {
        id: ConflictRecord::make_id(&record.asana_gid, None),
        asana_gid: record.asana_gid.clone(),
        target_id: record.target_id.clone(),
        title: title.to_owned(),
        field: None,
        custom_field: None,
        asana_value,
        target_value,
        base_value: Some("present".to_owned()),
        detected_at: String::new(),
        resolution: None,
    }
}

#[cfg(test)]
mod tests;
