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
//! Custom fields (`fields:` in a file) are merged the same way, one custom field at a
//! time by name ([`merge_custom`]): a conflict names the custom field, and people and
//! multi-enum values changed on both sides merge as sets, like tags.
//!
//! `newest` compares modification times on one clock: each side's time is moved by how
//! far that system's clock is from ours ([`Clocks`], from the services' `Date` headers).

use std::collections::BTreeSet;

use asana_bridge_connector::{CustomValue, Field, Item, TaskFields, TaskPatch};
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
    /// A custom field changed on one side only; flows to the other.
    CustomFlow { name: String, from: Side },
    /// A custom field changed on both sides and merged without conflict.
    CustomMerged { name: String },
    /// A custom field changed on both sides; settled for `winner`.
    CustomSettled {
        name: String,
        winner: Side,
        by: String,
    },
    /// A custom field changed on both sides; left for the user.
    CustomHeld { name: String },
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
    /// Custom fields left in conflict, by name: the same.
    pub held_custom: Vec<String>,
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
    let custom = merge_custom(rules, asana, target, previous, conflicts, &mut base);
    to_asana.custom = custom.to_asana;
    to_target.custom = custom.to_target;
    decisions.extend(custom.decisions);
    open_conflicts.extend(custom.conflicts);
    resolved.extend(custom.resolved);
    // A deletion conflict on a pair whose both sides exist again is resolved too.
    resolved.extend(
        conflicts
            .iter()
            .filter(|c| c.is_deletion())
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
        held_custom: custom.held,
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

/// What merging a pair's custom fields decided.
#[derive(Default)]
struct CustomMerge {
    to_asana: std::collections::BTreeMap<String, Option<CustomValue>>,
    to_target: std::collections::BTreeMap<String, Option<CustomValue>>,
    held: Vec<String>,
    decisions: Vec<Decision>,
    conflicts: Vec<ConflictRecord>,
    resolved: Vec<String>,
}

/// Sets custom field `name` of `to` to its value in `from` (or clears it).
fn copy_custom(to: &mut TaskFields, from: &TaskFields, name: &str) {
    match from.custom.get(name) {
        Some(v) => to.custom.insert(name.to_owned(), v.clone()),
        None => to.custom.remove(name),
    };
}

/// The custom fields' part of [`merge_pair`]: the same table, one custom field at a time,
/// over every name either side, the base or a fingerprint knows. `base` is updated.
fn merge_custom(
    rules: Rules,
    asana: &Item,
    target: &Item,
    previous: Option<&PairRecord>,
    conflicts: &[&ConflictRecord],
    base: &mut TaskFields,
) -> CustomMerge {
    let (a, t) = (&asana.fields, &target.fields);
    let mut names: BTreeSet<String> = a.custom_names(t).into_iter().map(str::to_owned).collect();
    if let Some(r) = previous {
        names.extend(r.base.custom.keys().cloned());
        names.extend(r.asana.custom.keys().cloned());
        names.extend(r.target.custom.keys().cloned());
    }
    let mut out = CustomMerge::default();
    for name in names {
        let (a_changed, t_changed) = match previous {
            Some(r) => (
                r.asana.custom_changed(a, &name),
                r.target.custom_changed(t, &name),
            ),
            None => (true, true),
        };
        let (av, tv) = (a.custom.get(&name), t.custom.get(&name));
        let equal = av == tv;
        let recorded = conflicts
            .iter()
            .find(|c| c.custom_field.as_deref() == Some(name.as_str()));
        let flow = |out: &mut CustomMerge, from: Side| {
            out.decisions.push(Decision::CustomFlow {
                name: name.clone(),
                from,
            });
        };
        match (a_changed, t_changed) {
            (false, false) => {}
            (true, false) => {
                if !equal {
                    out.to_target.insert(name.clone(), av.cloned());
                    flow(&mut out, Side::Asana);
                }
                copy_custom(base, a, &name);
            }
            (false, true) => {
                if !equal {
                    out.to_asana.insert(name.clone(), tv.cloned());
                    flow(&mut out, Side::Target);
                }
                copy_custom(base, t, &name);
            }
            (true, true) if equal => copy_custom(base, a, &name),
            (true, true) if previous.is_none() && (av.is_none() || tv.is_none()) => {
                // Adopting: a side without a value never clears the other's.
                if av.is_none() {
                    out.to_asana.insert(name.clone(), tv.cloned());
                    copy_custom(base, t, &name);
                    flow(&mut out, Side::Target);
                } else {
                    out.to_target.insert(name.clone(), av.cloned());
                    copy_custom(base, a, &name);
                    flow(&mut out, Side::Asana);
                }
            }
            (true, true) => {
                let no_base =
                    previous.is_none() || recorded.is_some_and(|c| c.base_value.is_none());
                let merged = if no_base {
                    None
                } else {
                    previous.and_then(|r| merge_sets(r.base.custom.get(&name), av, tv))
                };
                if let Some(merged) = merged {
                    if av != merged.as_ref() {
                        out.to_asana.insert(name.clone(), merged.clone());
                    }
                    if tv != merged.as_ref() {
                        out.to_target.insert(name.clone(), merged.clone());
                    }
                    match merged {
                        Some(v) => base.custom.insert(name.clone(), v),
                        None => base.custom.remove(&name),
                    };
                    out.decisions
                        .push(Decision::CustomMerged { name: name.clone() });
                } else {
                    let resolution = recorded.and_then(|c| c.resolution);
                    let winner = resolution.or(match rules.policy {
                        _ if no_base => None,
                        Policy::Asana => Some(Side::Asana),
                        Policy::Target => Some(Side::Target),
                        Policy::Newest => Some(newer(rules.clocks, asana, target)),
                        Policy::Manual => None,
                    });
                    match winner {
                        Some(Side::Asana) => {
                            out.to_target.insert(name.clone(), av.cloned());
                            copy_custom(base, a, &name);
                        }
                        Some(Side::Target) => {
                            out.to_asana.insert(name.clone(), tv.cloned());
                            copy_custom(base, t, &name);
                        }
                        None => {
                            out.held.push(name.clone());
                            out.conflicts.push(ConflictRecord {
                                id: ConflictRecord::make_custom_id(&asana.id, &name),
                                asana_gid: asana.id.clone(),
                                target_id: target.id.clone(),
                                title: a.title.clone(),
                                field: None,
                                custom_field: Some(name.clone()),
                                asana_value: Some(custom_display(av)),
                                target_value: Some(custom_display(tv)),
                                base_value: (!no_base)
                                    .then(|| custom_display(base.custom.get(&name))),
                                detected_at: recorded
                                    .map(|c| c.detected_at.clone())
                                    .unwrap_or_default(),
                                resolution: None,
                            });
                            out.decisions
                                .push(Decision::CustomHeld { name: name.clone() });
                        }
                    }
                    if let Some(winner) = winner {
                        let by = if resolution.is_some() {
                            "your resolution".to_owned()
                        } else {
                            format!("policy {}", rules.policy)
                        };
                        out.decisions.push(Decision::CustomSettled {
                            name: name.clone(),
                            winner,
                            by,
                        });
                    }
                }
            }
        }
        if let Some(c) = recorded
            && !out.held.contains(&name)
        {
            out.resolved.push(c.id.clone());
        }
    }
    out
}

fn custom_display(v: Option<&CustomValue>) -> String {
    asana_bridge_connector::custom::display_opt(v)
}

/// A set value (people, multi-enum) changed on both sides, merged like tags: each side's
/// additions and removals both apply. `None` when a value is not a set (no merge);
/// `Some(None)` when the merged set is empty.
fn merge_sets(
    base: Option<&CustomValue>,
    a: Option<&CustomValue>,
    t: Option<&CustomValue>,
) -> Option<Option<CustomValue>> {
    fn set(v: Option<&CustomValue>) -> Option<BTreeSet<String>> {
        match v {
            None => Some(BTreeSet::new()),
            Some(CustomValue::Many(items)) => Some(items.iter().cloned().collect()),
            Some(CustomValue::One(_)) => None,
        }
    }
    let (b, sa, st) = (set(base)?, set(a)?, set(t)?);
    let kept: Vec<String> = sa
        .union(&st)
        .filter(|k| {
            if b.contains(*k) {
                sa.contains(*k) && st.contains(*k)
            } else {
                true
            }
        })
        .cloned()
        .collect();
    Some(CustomValue::Many(kept).canonical())
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
        custom_field: None,
        asana_value: Some(asana.fields.display(field)),
        target_value: Some(target.fields.display(field)),
        base_value: previous.map(|_| base.display(field)),
        detected_at: recorded.map(|c| c.detected_at.clone()).unwrap_or_default(),
        resolution: None,
    }
}

#[cfg(test)]
mod tests {
    use asana_bridge_connector::{CustomFields, CustomValue};

    use super::*;
    use crate::records::Fingerprint;

    fn one(s: &str) -> CustomValue {
        CustomValue::One(s.into())
    }

    fn item(id: &str, custom: &[(&str, CustomValue)]) -> Item {
        Item {
            id: id.into(),
            fields: TaskFields {
                title: "T".into(),
                custom: custom
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect::<CustomFields>(),
                ..TaskFields::default()
            },
            modified_at: None,
            partner: Some("1".into()),
            revision: None,
            bare: false,
        }
    }

    /// The record of a pair last synced with `base` on both sides.
    fn record(base: &Item) -> PairRecord {
        let mut target = base.clone();
        target.id = "t.md".into();
        PairRecord {
            asana_gid: "1".into(),
            target_id: "t.md".into(),
            base: base.fields.clone(),
            asana: Fingerprint::of(base),
            target: Fingerprint::of(&target),
            asana_fields: None,
            target_fields: None,
            missing: None,
        }
    }

    fn rules(policy: Policy) -> Rules {
        Rules {
            policy,
            clocks: Clocks::default(),
            tags_ignore_case: false,
        }
    }

    /// Priority changed in Asana, Estimate in the file: each flows to the other side.
    #[test]
    fn custom_fields_changed_on_different_sides_both_flow() {
        let base = item("1", &[("Priority", one("High")), ("Estimate", one("3"))]);
        let r = record(&base);
        let a = item("1", &[("Priority", one("Low")), ("Estimate", one("3"))]);
        let t = item("t.md", &[("Priority", one("High")), ("Estimate", one("8"))]);
        let p = merge_pair(rules(Policy::Manual), &a, &t, Some(&r), &[]);
        assert_eq!(
            p.to_target.custom,
            [("Priority".to_owned(), Some(one("Low")))].into()
        );
        assert_eq!(
            p.to_asana.custom,
            [("Estimate".to_owned(), Some(one("8")))].into()
        );
        assert_eq!(p.base.custom.get("Priority"), Some(&one("Low")));
        assert_eq!(p.base.custom.get("Estimate"), Some(&one("8")));
        assert!(p.held_custom.is_empty() && p.conflicts.is_empty());
    }

    /// A key removed on one side clears it on the other.
    #[test]
    fn a_removed_custom_field_is_cleared_on_the_other_side() {
        let base = item("1", &[("Ticket", one("WEB-1"))]);
        let r = record(&base);
        let t = item("t.md", &[]);
        let p = merge_pair(rules(Policy::Newest), &base, &t, Some(&r), &[]);
        assert_eq!(p.to_asana.custom, [("Ticket".to_owned(), None)].into());
        assert!(p.base.custom.is_empty());
    }

    /// The same custom field changed on both sides: held under `manual`, the conflict
    /// naming it; settled by the policy otherwise.
    #[test]
    fn the_same_custom_field_on_both_sides_is_a_conflict_naming_it() {
        let base = item("1", &[("Priority", one("High"))]);
        let r = record(&base);
        let a = item("1", &[("Priority", one("Low"))]);
        let t = item("t.md", &[("Priority", one("Medium"))]);
        let p = merge_pair(rules(Policy::Manual), &a, &t, Some(&r), &[]);
        assert_eq!(p.held_custom, ["Priority"]);
        assert!(p.to_asana.is_empty() && p.to_target.is_empty());
        let c = &p.conflicts[0];
        assert_eq!(c.what().as_deref(), Some("fields.Priority"));
        assert!(!c.is_deletion());
        assert_eq!(
            (
                c.asana_value.as_deref(),
                c.target_value.as_deref(),
                c.base_value.as_deref()
            ),
            (Some("Low"), Some("Medium"), Some("High"))
        );
        assert_eq!(p.base.custom.get("Priority"), Some(&one("High")));

        let p = merge_pair(rules(Policy::Target), &a, &t, Some(&r), &[]);
        assert_eq!(
            p.to_asana.custom,
            [("Priority".to_owned(), Some(one("Medium")))].into()
        );
        assert!(p.held_custom.is_empty());
    }

    /// Sets (people, multi-enum) changed on both sides merge like tags.
    #[test]
    fn sets_changed_on_both_sides_merge() {
        let many = |v: &[&str]| CustomValue::Many(v.iter().map(|s| (*s).to_owned()).collect());
        let base = item("1", &[("Platforms", many(&["Web", "iOS"]))]);
        let r = record(&base);
        let a = item("1", &[("Platforms", many(&["Android", "Web", "iOS"]))]);
        let t = item("t.md", &[("Platforms", many(&["Web"]))]);
        let p = merge_pair(rules(Policy::Manual), &a, &t, Some(&r), &[]);
        let merged = many(&["Android", "Web"]);
        assert_eq!(
            p.to_asana.custom,
            [("Platforms".to_owned(), Some(merged.clone()))].into()
        );
        assert_eq!(
            p.to_target.custom,
            [("Platforms".to_owned(), Some(merged))].into()
        );
        assert!(p.held_custom.is_empty());
    }

    /// A pair adopted without a record: a side without the field never clears the other's.
    #[test]
    fn adoption_never_clears_a_custom_field() {
        let a = item("1", &[("Priority", one("High"))]);
        let t = item("t.md", &[]);
        let p = merge_pair(rules(Policy::Newest), &a, &t, None, &[]);
        assert_eq!(
            p.to_target.custom,
            [("Priority".to_owned(), Some(one("High")))].into()
        );
        assert!(p.to_asana.custom.is_empty());
    }
}
