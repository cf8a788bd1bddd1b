//! Field-level three-way merge of one pair: Asana's item, the target's item, and the
//! record of the last sync. Pure.
//!
//! A side changed a field when the field no longer matches that side's fingerprint in the
//! record. Per field:
//!
//! | Asana changed | target changed | outcome |
//! |---|---|---|
//! | no  | no  | nothing |
//! | yes | no  | Asana's value goes to the target |
//! | no  | yes | the target's value goes to Asana |
//! | yes | yes | equal values: agreed; notes that merge cleanly (diffy) or tags (set merge): merged result both ways; otherwise a conflict settled by a `conflicts resolve` answer or the link's policy, or held under `manual` |
//!
//! A pair seen for the first time (no record: a create recovered after a crash, or a pair
//! re-adopted after the state was lost) has no base to tell which side changed: a field
//! that differs is a conflict whatever the policy (held for `conflicts resolve`), except
//! that a side with no value for a field never clears the other's. Re-adoption never
//! overwrites silently.
//!
//! `newest` compares modification times on one clock: each side's time is moved by how
//! far that system's clock is from ours ([`Clocks`], from the services' `Date` headers).

use std::collections::BTreeSet;

use asana_bridge_connector::{Field, Item, TaskFields, TaskPatch};
use serde::{Deserialize, Serialize};

use crate::records::{ConflictRecord, PairRecord, Side};

/// How a link settles a field changed on both sides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// The side modified most recently wins.
    #[default]
    Newest,
    /// Asana wins.
    Asana,
    /// The target wins.
    Target,
    /// Neither side is touched; the conflict is recorded for `conflicts resolve`.
    Manual,
}

impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Policy::Newest => "newest",
            Policy::Asana => "asana",
            Policy::Target => "target",
            Policy::Manual => "manual",
        })
    }
}

/// How far each side's clock is ahead of the local one (the services' `Date` headers),
/// so that `newest` compares modification times on one clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clocks {
    pub asana_ahead: jiff::SignedDuration,
    pub target_ahead: jiff::SignedDuration,
}

/// How one field of a pair was decided (for reports and dry runs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Changed on one side only; flows to the other.
    Flow { field: Field, from: Side },
    /// Changed on both sides and merged without conflict.
    Merged { field: Field },
    /// Changed on both sides; settled for `winner`, by the policy or a resolution.
    Settled {
        field: Field,
        winner: Side,
        by: String,
    },
    /// Changed on both sides; left for the user (`manual`).
    Held { field: Field },
}

/// What to do with one pair whose sides both exist.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncPair {
    pub asana: Item,
    pub target: Item,
    /// The record before this sync (`None`: the pair is being adopted).
    pub previous: Option<PairRecord>,
    pub to_asana: TaskPatch,
    pub to_target: TaskPatch,
    /// The new agreed values (held fields keep their old base).
    pub base: TaskFields,
    /// Fields left in conflict: their fingerprints must stay as they were.
    pub held: Vec<Field>,
    /// The target item must be told its Asana gid (adoption, lost `asana_gid`).
    pub stamp_partner: bool,
    pub decisions: Vec<Decision>,
    /// Conflicts to record (new or still open).
    pub conflicts: Vec<ConflictRecord>,
    /// Ids of recorded conflicts resolved now (closed by this sync).
    pub resolved: Vec<String>,
}

impl SyncPair {
    /// Whether applying it writes to either side.
    #[must_use]
    pub fn writes(&self) -> bool {
        !self.to_asana.is_empty() || !self.to_target.is_empty() || self.stamp_partner
    }

    /// Whether it changes nothing at all, state included.
    #[must_use]
    pub fn is_noop(&self) -> bool {
        !self.writes()
            && self.decisions.is_empty()
            && self.resolved.is_empty()
            && self.previous.as_ref().is_some_and(|r| {
                r.target_id == self.target.id
                    && r.asana.revision == self.asana.revision
                    && r.target.revision == self.target.revision
            })
    }
}

/// How a link merges: its conflict policy, the clocks `newest` compares on, and whether
/// the target matches tag names ignoring case (GitHub labels).
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    pub policy: Policy,
    pub clocks: Clocks,
    pub tags_ignore_case: bool,
}

/// Merges one pair.
#[must_use]
pub fn merge_pair(
    rules: Rules,
    asana: &Item,
    target: &Item,
    previous: Option<&PairRecord>,
    conflicts: &[&ConflictRecord],
) -> SyncPair {
    let Rules {
        policy,
        clocks,
        tags_ignore_case,
    } = rules;
    let a = &asana.fields;
    let t = &target.fields;
    let mut base = previous.map_or_else(|| a.clone(), |r| r.base.clone());
    let mut to_asana = TaskPatch::default();
    let mut to_target = TaskPatch::default();
    let mut held = Vec::new();
    let mut decisions = Vec::new();
    let mut open_conflicts = Vec::new();
    let mut resolved = Vec::new();

    for field in Field::ALL {
        let (a_changed, t_changed) = match previous {
            Some(r) => (r.asana.changed(a, field), r.target.changed(t, field)),
            None => (true, true),
        };
        let equal = a.same(t, field);
        let recorded = conflicts.iter().find(|c| c.field == Some(field));
        match (a_changed, t_changed) {
            (false, false) => {}
            (true, false) => {
                if !equal {
                    to_target.set(a, field);
                    decisions.push(Decision::Flow {
                        field,
                        from: Side::Asana,
                    });
                }
                base.copy_field(a, field);
            }
            (false, true) => {
                if !equal {
                    to_asana.set(t, field);
                    decisions.push(Decision::Flow {
                        field,
                        from: Side::Target,
                    });
                }
                base.copy_field(t, field);
            }
            (true, true) if equal => base.copy_field(a, field),
            (true, true) if previous.is_none() && (is_empty(a, field) || is_empty(t, field)) => {
                // Adopting a pair (no record yet: a create recovered after a crash): a side
                // that has no value (often one it cannot hold, like a GitHub issue's due
                // date) never clears the other's.
                let (winner, from) = if is_empty(t, field) {
                    (a, Side::Asana)
                } else {
                    (t, Side::Target)
                };
                if !winner.same(a, field) {
                    to_asana.set(winner, field);
                }
                if !winner.same(t, field) {
                    to_target.set(winner, field);
                }
                base.copy_field(winner, field);
                decisions.push(Decision::Flow { field, from });
            }
            (true, true) => {
                // No base (a pair adopted without a record, or a conflict held since
                // then): nothing tells which side changed, so nothing merges by itself.
                let no_base =
                    previous.is_none() || recorded.is_some_and(|c| c.base_value.is_none());
                let merged = if no_base {
                    None
                } else {
                    previous.and_then(|r| auto_merge(field, &r.base, a, t, tags_ignore_case))
                };
                if let Some(merged) = merged {
                    if !merged.same(a, field) {
                        to_asana.set(&merged, field);
                    }
                    if !merged.same(t, field) {
                        to_target.set(&merged, field);
                    }
                    base.copy_field(&merged, field);
                    decisions.push(Decision::Merged { field });
                } else {
                    let resolution = recorded.and_then(|c| c.resolution);
                    let winner = resolution.or(match policy {
                        _ if no_base => None,
                        Policy::Asana => Some(Side::Asana),
                        Policy::Target => Some(Side::Target),
                        Policy::Newest => Some(newer(clocks, asana, target)),
                        Policy::Manual => None,
                    });
                    match winner {
                        Some(Side::Asana) => {
                            to_target.set(a, field);
                            base.copy_field(a, field);
                        }
                        Some(Side::Target) => {
                            to_asana.set(t, field);
                            base.copy_field(t, field);
                        }
                        None => {
                            held.push(field);
                            let known_base = if no_base { None } else { previous };
                            open_conflicts.push(field_conflict(
                                asana, target, known_base, field, &base, recorded,
                            ));
                            decisions.push(Decision::Held { field });
                        }
                    }
                    if let Some(winner) = winner {
                        let by = if resolution.is_some() {
                            "your resolution".to_owned()
                        } else {
                            format!("policy {policy}")
                        };
                        decisions.push(Decision::Settled { field, winner, by });
                    }
                }
            }
        }
        if let Some(c) = recorded
            && !held.contains(&field)
        {
            resolved.push(c.id.clone());
        }
    }
    // A deletion conflict on a pair whose both sides exist again is resolved too.
    resolved.extend(
        conflicts
            .iter()
            .filter(|c| c.field.is_none())
            .map(|c| c.id.clone()),
    );

    SyncPair {
        stamp_partner: target.partner.as_deref() != Some(asana.id.as_str()),
        asana: asana.clone(),
        target: target.clone(),
        previous: previous.cloned(),
        to_asana,
        to_target,
        base: base.canonical(),
        held,
        decisions,
        conflicts: open_conflicts,
        resolved,
    }
}

/// Whether `field` holds no value in `f` (title and completion always hold one).
fn is_empty(f: &TaskFields, field: Field) -> bool {
    match field {
        Field::Title | Field::Completed => false,
        Field::Notes => f.notes.is_empty(),
        Field::Due => f.due.is_none(),
        Field::Assignee => f.assignee.is_none(),
        Field::Tags => f.tags.is_empty(),
        Field::Section => f.section.is_none(),
        Field::StartOn => f.start_on.is_none(),
    }
}

/// The side whose item changed last, on the local clock; Asana on a tie or when unknown.
fn newer(clocks: Clocks, asana: &Item, target: &Item) -> Side {
    let local = |t: jiff::Timestamp, ahead: jiff::SignedDuration| t.checked_sub(ahead).unwrap_or(t);
    match (
        asana.modified_at.map(|t| local(t, clocks.asana_ahead)),
        target.modified_at.map(|t| local(t, clocks.target_ahead)),
    ) {
        (Some(a), Some(t)) if t > a => Side::Target,
        (None, Some(_)) => Side::Target,
        _ => Side::Asana,
    }
}

/// Merges a field changed on both sides without conflict where that is well defined:
/// notes by a clean three-way text merge, tags as a set (each side's additions and
/// removals both apply).
///
/// With `ignore_case` (the target matches labels ignoring case) tags are compared by their
/// lower-case form, so a change of case alone is no addition or removal; a kept tag keeps
/// Asana's spelling where Asana has it.
fn auto_merge(
    field: Field,
    base: &TaskFields,
    a: &TaskFields,
    t: &TaskFields,
    ignore_case: bool,
) -> Option<TaskFields> {
    let mut merged = a.clone();
    match field {
        Field::Notes => {
            merged.notes = diffy::merge(&base.notes, &a.notes, &t.notes).ok()?;
            Some(merged)
        }
        Field::Tags => {
            let key = |tag: &String| {
                if ignore_case {
                    tag.to_lowercase()
                } else {
                    tag.clone()
                }
            };
            let keys = |tags: &[String]| -> BTreeSet<String> { tags.iter().map(key).collect() };
            let (b, sa, st) = (keys(&base.tags), keys(&a.tags), keys(&t.tags));
            let kept = |k: &String| {
                if b.contains(k) {
                    sa.contains(k) && st.contains(k)
                } else {
                    sa.contains(k) || st.contains(k)
                }
            };
            // Every spelling a side has of a kept tag: Asana's first, else the target's.
            let mut tags: Vec<String> = a.tags.iter().filter(|x| kept(&key(x))).cloned().collect();
            tags.extend(
                t.tags
                    .iter()
                    .filter(|x| kept(&key(x)) && !sa.contains(&key(x)))
                    .cloned(),
            );
            merged.tags = asana_bridge_connector::model::canonical_tags(tags);
            Some(merged)
        }
        _ => None,
    }
}

fn field_conflict(
    asana: &Item,
    target: &Item,
    previous: Option<&PairRecord>,
    field: Field,
    base: &TaskFields,
    recorded: Option<&&ConflictRecord>,
) -> ConflictRecord {
    ConflictRecord {
        id: ConflictRecord::make_id(&asana.id, Some(field)),
        asana_gid: asana.id.clone(),
        target_id: target.id.clone(),
        title: asana.fields.title.clone(),
        field: Some(field),
        asana_value: Some(asana.fields.display(field)),
        target_value: Some(target.fields.display(field)),
        base_value: previous.map(|_| base.display(field)),
        detected_at: recorded.map(|c| c.detected_at.clone()).unwrap_or_default(),
        resolution: None,
    }
}
