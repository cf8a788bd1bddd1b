//! The planner's decision table, one case per arm.

use asana_bridge_connector::{Field, Identity, Item, TaskFields};

use super::*;
use crate::config::OnDelete;
use crate::merge::{Clocks, Decision, Policy};
use crate::records::{ConflictRecord, Fingerprint, Intent, LetGo, PairRecord, Side, Tombstone};

fn fields(title: &str) -> TaskFields {
    TaskFields {
        title: title.to_owned(),
        notes: "line one\nline two\nline three\n".to_owned(),
        ..TaskFields::default()
    }
}

fn asana(gid: &str, f: TaskFields, at: i64) -> Item {
    Item {
        id: gid.to_owned(),
        fields: f,
        modified_at: Some(jiff::Timestamp::from_second(at).unwrap()),
        partner: None,
        revision: Some(format!("rev-{at}")),
        bare: false,
    }
}

fn file(name: &str, gid: Option<&str>, f: TaskFields, at: i64) -> Item {
    Item {
        id: name.to_owned(),
        fields: f,
        modified_at: Some(jiff::Timestamp::from_second(at).unwrap()),
        partner: gid.map(str::to_owned),
        revision: Some(format!("hash-{at}")),
        bare: false,
    }
}

fn record(a: &Item, t: &Item) -> PairRecord {
    PairRecord {
        asana_gid: a.id.clone(),
        target_id: t.id.clone(),
        base: a.fields.clone(),
        asana: Fingerprint::of(a),
        target: Fingerprint::of(t),
        asana_fields: None,
        target_fields: None,
        missing: None,
    }
}

/// What a run reading every item would observe: each record's own items read (observed
/// changed, which the planner must treat as it treats an unchanged side when they are
/// equal), the rest apart.
pub(super) fn observe_all(
    records: &[PairRecord],
    asana: &[Item],
    target: &[Item],
    unreadable: &[Unreadable],
) -> (Vec<Observation>, Vec<Item>, Vec<Item>) {
    let mut pairs: Vec<Observation> = records
        .iter()
        .map(|r| Observation {
            record: r.clone(),
            asana: Observed::Gone,
            target: Observed::Gone,
        })
        .collect();
    let mut new_asana = Vec::new();
    for a in asana {
        match pairs.iter_mut().find(|o| o.record.asana_gid == a.id) {
            Some(o) => o.asana = Observed::Changed(Box::new(a.clone())),
            None => new_asana.push(a.clone()),
        }
    }
    let mut other_target = Vec::new();
    for t in target {
        match pairs.iter_mut().find(|o| o.record.target_id == t.id) {
            Some(o) => o.target = Observed::Changed(Box::new(t.clone())),
            None => other_target.push(t.clone()),
        }
    }
    for bad in unreadable {
        let named = pairs.iter_mut().find(|o| match &bad.partner {
            Some(gid) => o.record.asana_gid == *gid,
            None => bad.id.as_ref() == Some(&o.record.target_id),
        });
        if let Some(o) = named
            && o.target == Observed::Gone
        {
            o.target = Observed::Unreadable;
        }
    }
    (pairs, new_asana, other_target)
}

struct Case {
    policy: Policy,
    asana: Vec<Item>,
    target: Vec<Item>,
    unreadable: Vec<Unreadable>,
    records: Vec<PairRecord>,
    intents: Vec<Intent>,
    conflicts: Vec<ConflictRecord>,
    identity: Identity,
    tombstones: Vec<Tombstone>,
    /// `None`: every recorded pair's missing file is confirmed deleted.
    gone: Option<BTreeMap<String, Gone>>,
    on_delete: OnDelete,
    import_completed: bool,
    clocks: Clocks,
}

impl Case {
    fn new() -> Self {
        Self {
            policy: Policy::Newest,
            asana: vec![],
            target: vec![],
            unreadable: vec![],
            records: vec![],
            intents: vec![],
            conflicts: vec![],
            identity: Identity::Partner,
            tombstones: vec![],
            gone: None,
            on_delete: OnDelete::Delete,
            import_completed: true,
            clocks: Clocks::default(),
        }
    }

    /// A synced pair "1"/"one.md", then `edit` applied to its sides.
    fn synced(edit_a: impl FnOnce(&mut TaskFields), edit_t: impl FnOnce(&mut TaskFields)) -> Self {
        let a0 = asana("1", fields("One"), 100);
        let t0 = file("one.md", Some("1"), fields("One"), 100);
        let mut c = Self::new();
        c.records.push(record(&a0, &t0));
        let mut a = a0.clone();
        let mut t = t0.clone();
        edit_a(&mut a.fields);
        edit_t(&mut t.fields);
        if a.fields != a0.fields {
            a.modified_at = Some(jiff::Timestamp::from_second(200).unwrap());
            a.revision = Some("rev-200".into());
        }
        if t.fields != t0.fields {
            t.modified_at = Some(jiff::Timestamp::from_second(300).unwrap());
            t.revision = Some("hash-300".into());
        }
        c.asana.push(a);
        c.target.push(t);
        c
    }

    fn plan(&self) -> Plan {
        // Unless a case says otherwise, every missing file is confirmed deleted.
        let gone: BTreeMap<String, Gone> = self.gone.clone().unwrap_or_else(|| {
            self.records
                .iter()
                .map(|r| (r.asana_gid.clone(), Gone::Confirmed))
                .collect()
        });
        let (pairs, new_asana, other_target) =
            observe_all(&self.records, &self.asana, &self.target, &self.unreadable);
        plan(&PlanInput {
            policy: self.policy,
            identity: self.identity,
            noun: "file",
            pairs: &pairs,
            new_asana: &new_asana,
            other_target: &other_target,
            filled_in: &NONE_FILLED_IN,
            target_unreadable: &self.unreadable,
            intents: &self.intents,
            conflicts: &self.conflicts,
            tombstones: &self.tombstones,
            gone: &gone,
            on_delete: self.on_delete,
            import_completed: self.import_completed,
            tags_ignore_case: false,
            clocks: self.clocks,
        })
    }
}

fn only_sync(p: &Plan) -> &SyncPair {
    assert_eq!(p.actions.len(), 1, "{:#?}", p.actions);
    match &p.actions[0] {
        Action::Sync(s) => s,
        other => panic!("expected a sync, got {other:#?}"),
    }
}

#[test]
fn new_asana_task_is_created_in_the_target() {
    let mut c = Case::new();
    c.asana.push(asana("1", fields("One"), 1));
    let p = c.plan();
    assert!(
        matches!(&p.actions[..], [Action::CreateTarget { asana, replaces: None }] if asana.id == "1")
    );
}

#[test]
fn new_file_is_created_in_asana() {
    let mut c = Case::new();
    c.target.push(file("new.md", None, fields("New"), 1));
    let p = c.plan();
    assert!(
        matches!(&p.actions[..], [Action::CreateAsana { target, replaces: None }] if target.id == "new.md")
    );
}

#[test]
fn unchanged_pair_plans_nothing() {
    let c = Case::synced(|_| {}, |_| {});
    let p = c.plan();
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
}

#[test]
fn one_sided_changes_flow_each_way() {
    let c = Case::synced(|a| a.title = "Renamed".into(), |t| t.completed = true);
    let s = only_sync(&c.plan()).clone();
    assert_eq!(s.to_target.fields(), vec![Field::Title]);
    assert_eq!(s.to_target.title.as_deref(), Some("Renamed"));
    assert_eq!(s.to_asana.fields(), vec![Field::Completed]);
    assert_eq!(s.base.title, "Renamed");
    assert!(s.base.completed);
}

#[test]
fn same_change_on_both_sides_is_no_conflict_and_no_write() {
    let c = Case::synced(
        |a| a.due = Some("2026-12-01".into()),
        |t| t.due = Some("2026-12-01".into()),
    );
    let p = c.plan();
    let s = only_sync(&p);
    assert!(!s.writes());
    assert!(s.conflicts.is_empty());
    assert_eq!(s.base.due.as_deref(), Some("2026-12-01"));
    assert_eq!(p.write_count(), 0);
}

#[test]
fn conflicting_titles_follow_the_policy() {
    let edit_a = |a: &mut TaskFields| a.title = "From Asana".into();
    let edit_t = |t: &mut TaskFields| t.title = "From file".into();
    // The file was modified later (300 > 200).
    for (policy, asana_gets, target_gets) in [
        (Policy::Asana, None, Some("From Asana")),
        (Policy::Target, Some("From file"), None),
        (Policy::Newest, Some("From file"), None),
    ] {
        let mut c = Case::synced(edit_a, edit_t);
        c.policy = policy;
        let s = only_sync(&c.plan()).clone();
        assert_eq!(s.to_asana.title.as_deref(), asana_gets, "{policy}");
        assert_eq!(s.to_target.title.as_deref(), target_gets, "{policy}");
        assert!(s.decisions.iter().any(|d| matches!(
            d,
            Decision::Settled {
                field: Field::Title,
                ..
            }
        )));
    }
}

#[test]
fn newest_prefers_asana_when_it_changed_last() {
    let mut c = Case::synced(|a| a.title = "A".into(), |t| t.title = "T".into());
    c.asana[0].modified_at = Some(jiff::Timestamp::from_second(999).unwrap());
    let s = only_sync(&c.plan()).clone();
    assert_eq!(s.to_target.title.as_deref(), Some("A"));
}

#[test]
fn manual_touches_neither_side_and_records_the_conflict() {
    let mut c = Case::synced(
        |a| {
            a.title = "A".into();
            a.completed = true;
        },
        |t| t.title = "T".into(),
    );
    c.policy = Policy::Manual;
    let s = only_sync(&c.plan()).clone();
    assert_eq!(s.held, vec![Field::Title]);
    assert!(s.to_asana.title.is_none() && s.to_target.title.is_none());
    // The non-overlapping change still flows.
    assert_eq!(s.to_target.completed, Some(true));
    assert_eq!(s.conflicts.len(), 1);
    let conflict = &s.conflicts[0];
    assert_eq!(conflict.field, Some(Field::Title));
    assert_eq!(conflict.asana_value.as_deref(), Some("A"));
    assert_eq!(conflict.target_value.as_deref(), Some("T"));
    assert_eq!(conflict.base_value.as_deref(), Some("One"));
    assert_eq!(s.base.title, "One", "a held field keeps its base");
}

/// The title conflict of pair "1"/"one.md" ("A" in Asana, "T" in the file, base "One"),
/// as recorded by an earlier run, with `resolution` from `conflicts resolve`.
fn title_conflict(resolution: Option<Side>) -> ConflictRecord {
    ConflictRecord {
        id: ConflictRecord::make_id("1", Some(Field::Title)),
        asana_gid: "1".into(),
        target_id: "one.md".into(),
        title: "A".into(),
        field: Some(Field::Title),
        custom_field: None,
        asana_value: Some("A".into()),
        target_value: Some("T".into()),
        base_value: Some("One".into()),
        detected_at: "2026-01-01T00:00:00Z".into(),
        resolution,
    }
}

#[test]
fn a_resolution_settles_a_manual_conflict() {
    let mut c = Case::synced(|a| a.title = "A".into(), |t| t.title = "T".into());
    c.policy = Policy::Manual;
    let conflict = title_conflict(Some(Side::Target));
    let id = conflict.id.clone();
    c.conflicts.push(conflict);
    let s = only_sync(&c.plan()).clone();
    assert_eq!(s.to_asana.title.as_deref(), Some("T"));
    assert!(s.held.is_empty());
    assert_eq!(s.resolved, vec![id]);
}

#[test]
fn notes_edited_in_different_places_merge_cleanly() {
    let c = Case::synced(
        |a| a.notes = "line ONE\nline two\nline three\n".into(),
        |t| t.notes = "line one\nline two\nline THREE\n".into(),
    );
    let s = only_sync(&c.plan()).clone();
    let merged = "line ONE\nline two\nline THREE\n";
    assert_eq!(s.to_asana.notes.as_deref(), Some(merged));
    assert_eq!(s.to_target.notes.as_deref(), Some(merged));
    assert_eq!(s.base.notes, merged);
    assert!(s.decisions.contains(&Decision::Merged {
        field: Field::Notes
    }));
}

#[test]
fn tags_merge_as_sets() {
    let mut c = Case::synced(|_| {}, |_| {});
    // Base: {a, b}. Asana removes a, adds c; the file adds d.
    let base = vec!["a".to_owned(), "b".to_owned()];
    c.records[0].base.tags.clone_from(&base);
    c.asana[0].fields.tags = base.clone();
    c.target[0].fields.tags = base;
    c.records[0].asana = Fingerprint::of(&c.asana[0]);
    c.records[0].target = Fingerprint::of(&c.target[0]);
    c.asana[0].fields.tags = vec!["b".into(), "c".into()];
    c.target[0].fields.tags = vec!["a".into(), "b".into(), "d".into()];
    let s = only_sync(&c.plan()).clone();
    let want = vec!["b".to_owned(), "c".to_owned(), "d".to_owned()];
    assert_eq!(s.to_asana.tags.as_ref(), Some(&want));
    assert_eq!(s.to_target.tags.as_ref(), Some(&want));
}

#[test]
fn deletion_in_asana_propagates_when_the_file_is_unchanged() {
    let mut c = Case::synced(|_| {}, |_| {});
    c.asana.clear();
    let p = c.plan();
    assert!(
        matches!(&p.actions[..], [Action::DeleteTarget { target, .. }] if target.id == "one.md")
    );
}

#[test]
fn deletion_in_asana_against_an_edited_file() {
    for (policy, expect) in [
        (Policy::Newest, "recreate"),
        (Policy::Target, "recreate"),
        (Policy::Asana, "delete"),
        (Policy::Manual, "hold"),
    ] {
        let mut c = Case::synced(|_| {}, |t| t.title = "Edited".into());
        c.asana.clear();
        c.policy = policy;
        let p = c.plan();
        let got = match &p.actions[..] {
            [
                Action::CreateAsana {
                    replaces: Some(_), ..
                },
            ] => "recreate",
            [Action::DeleteTarget { .. }] => "delete",
            [
                Action::HoldDeletion {
                    conflict, record, ..
                },
            ] => {
                assert_eq!(record.missing, Some(Side::Asana));
                assert_eq!(
                    record.target_fields.as_deref().map(|f| f.title.as_str()),
                    Some("Edited")
                );
                assert_eq!(conflict.asana_value, None);
                "hold"
            }
            other => panic!("{policy}: {other:#?}"),
        };
        assert_eq!(got, expect, "{policy}");
    }
}

#[test]
fn a_held_deletion_replaces_the_pairs_field_conflicts() {
    // Title held in conflict under `manual`, then the task is deleted in Asana: the
    // deletion conflict replaces the title conflict (Asana's side of it is gone).
    let mut c = Case::synced(|_| {}, |t| t.title = "T".into());
    c.policy = Policy::Manual;
    c.asana.clear();
    let conflict = title_conflict(None);
    let field_id = conflict.id.clone();
    c.conflicts.push(conflict);
    match &c.plan().actions[..] {
        [
            Action::HoldDeletion {
                conflict,
                superseded,
                ..
            },
        ] => {
            assert_eq!(conflict.field, None);
            assert_eq!(superseded, &vec![field_id]);
        }
        other => panic!("{other:#?}"),
    }
}

#[test]
fn deletion_of_the_file_propagates_or_yields_to_an_asana_edit() {
    let mut c = Case::synced(|_| {}, |_| {});
    c.target.clear();
    c.target
        .push(file("other.md", Some("2"), fields("Other"), 1));
    c.asana.push(asana("2", fields("Other"), 1));
    let a2 = c.asana[1].clone();
    let t2 = c.target[0].clone();
    c.records.push(record(&a2, &t2));
    let p = c.plan();
    assert!(
        matches!(&p.actions[..], [Action::DeleteAsana { asana, .. }] if asana.id == "1"),
        "{:#?}",
        p.actions
    );

    let mut c = Case::synced(|a| a.notes = "changed in Asana".into(), |_| {});
    c.target.clear();
    c.target
        .push(file("other.md", Some("2"), fields("Other"), 1));
    c.asana.push(asana("2", fields("Other"), 1));
    c.records
        .push(record(&c.asana[1].clone(), &c.target[0].clone()));
    let p = c.plan();
    assert!(
        matches!(
            &p.actions[..],
            [Action::CreateTarget {
                replaces: Some(_),
                ..
            }]
        ),
        "{:#?}",
        p.actions
    );
}

#[test]
fn gone_on_both_sides_is_forgotten() {
    let mut c = Case::synced(|_| {}, |_| {});
    c.asana.clear();
    c.target.clear();
    assert!(matches!(&c.plan().actions[..], [Action::Forget { .. }]));
}

#[test]
fn an_unreadable_file_is_never_taken_for_deleted() {
    let mut c = Case::synced(|_| {}, |_| {});
    c.target.clear();
    c.unreadable.push(Unreadable {
        id: Some("one.md".into()),
        partner: None,
    });
    assert!(c.plan().actions.is_empty());

    let mut c = Case::synced(|_| {}, |_| {});
    c.target.clear();
    c.unreadable.push(Unreadable {
        id: Some("renamed.md".into()),
        partner: Some("1".into()),
    });
    assert!(c.plan().actions.is_empty());
}

#[test]
fn an_unidentifiable_unreadable_file_holds_deletions() {
    let mut c = Case::synced(|_| {}, |_| {});
    c.target.clear();
    c.unreadable.push(Unreadable {
        id: Some("mystery.md".into()),
        partner: None,
    });
    let p = c.plan();
    assert!(p.deletions_held);
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
}

#[test]
fn a_copied_file_is_reported_and_the_original_keeps_its_pair() {
    let mut c = Case::synced(|_| {}, |t| t.title = "One, edited".into());
    c.target.push(file("copy.md", Some("1"), fields("Copy"), 5));
    let p = c.plan();
    let s = only_sync(&p);
    assert_eq!(s.target.id, "one.md");
    assert_eq!(s.to_asana.title.as_deref(), Some("One, edited"));
    assert_eq!(p.problems.len(), 1, "{:#?}", p.problems);
    assert_eq!(p.problems[0].id, "copy.md");
    assert!(p.problems[0].message.contains("belongs to one.md"));
}

#[test]
fn two_files_naming_a_task_neither_recorded_block_the_pair_and_name_both() {
    let mut c = Case::synced(|_| {}, |_| {});
    c.target[0].id = "renamed.md".into();
    c.target.push(file("copy.md", Some("1"), fields("One"), 5));
    let p = c.plan();
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
    assert_eq!(p.problems.len(), 2);
    assert!(
        p.problems[0].message.contains("renamed.md") && p.problems[0].message.contains("copy.md")
    );
}

#[test]
fn an_edited_asana_gid_is_an_error_naming_both_tasks_and_touches_neither() {
    // A one-digit typo, and a gid of another mapped task: the same answer.
    for typo in ["7", "2"] {
        let mut c = Case::synced(|_| {}, |_| {});
        let a2 = asana("2", fields("Two"), 100);
        let t2 = file("two.md", Some("2"), fields("Two"), 100);
        c.records.push(record(&a2, &t2));
        c.asana.push(a2);
        c.target.push(t2);
        c.target[0].partner = Some(typo.into());
        let p = c.plan();
        assert!(p.actions.is_empty(), "{typo}: {:#?}", p.actions);
        assert_eq!(p.problems.len(), 1, "{typo}: {:#?}", p.problems);
        let m = &p.problems[0].message;
        assert!(
            m.contains("from 1 to") && m.contains(typo) && m.contains("asana_gid: \"1\""),
            "{m}"
        );
    }
}

#[test]
fn a_mapped_file_that_lost_its_front_matter_is_an_error_not_an_update() {
    let mut c = Case::synced(
        |_| {},
        |t| {
            *t = TaskFields {
                title: "one".into(),
                ..TaskFields::default()
            }
        },
    );
    c.target[0].partner = None;
    c.target[0].bare = true;
    let p = c.plan();
    assert!(
        p.actions.is_empty(),
        "nothing is cleared in Asana: {:#?}",
        p.actions
    );
    assert_eq!(p.problems.len(), 1);
    assert!(p.problems[0].message.contains("lost its front matter"));
}

#[test]
fn an_unmapped_bare_file_is_a_new_task() {
    let mut c = Case::new();
    let mut f = file("notes.md", None, fields("notes"), 1);
    f.bare = true;
    c.target.push(f);
    let p = c.plan();
    assert!(
        matches!(&p.actions[..], [Action::CreateAsana { .. }]),
        "{:#?}",
        p.actions
    );
}

#[test]
fn a_missing_file_without_evidence_deletes_nothing() {
    for gone in [None, Some(Gone::Pending)] {
        let mut c = Case::synced(|_| {}, |_| {});
        c.target.clear();
        c.gone = Some(gone.iter().map(|g| ("1".to_owned(), g.clone())).collect());
        let p = c.plan();
        assert!(p.actions.is_empty(), "{gone:?}: {:#?}", p.actions);
    }
}

#[test]
fn a_moved_away_item_unlinks_the_pair_and_leaves_the_task() {
    let mut c = Case::synced(|_| {}, |_| {});
    c.target.clear();
    c.gone = Some(
        [(
            "1".to_owned(),
            Gone::Moved {
                to: "acme/other#4".into(),
            },
        )]
        .into(),
    );
    let p = c.plan();
    assert!(
        matches!(&p.actions[..], [Action::Unlink { to, .. }] if to == "acme/other#4"),
        "{:#?}",
        p.actions
    );
}

#[test]
fn a_task_that_changed_in_asana_in_any_way_is_never_deleted_for_a_missing_file() {
    // Same fields, but its revision moved (a comment, an attachment, a custom field).
    let mut c = Case::synced(|_| {}, |_| {});
    c.target.clear();
    c.asana[0].revision = Some("rev-999".into());
    for policy in [Policy::Newest, Policy::Asana] {
        c.policy = policy;
        let p = c.plan();
        assert!(
            matches!(
                &p.actions[..],
                [Action::CreateTarget {
                    replaces: Some(_),
                    ..
                }]
            ),
            "{policy}: {:#?}",
            p.actions
        );
    }
    // Even when the file's side wins conflicts, the edited task is held, not deleted.
    for policy in [Policy::Target, Policy::Manual] {
        c.policy = policy;
        let p = c.plan();
        assert!(
            matches!(&p.actions[..], [Action::HoldDeletion { .. }]),
            "{policy}: {:#?}",
            p.actions
        );
    }
}

#[test]
fn on_delete_says_what_a_removed_file_does_to_its_task() {
    for how in [OnDelete::Delete, OnDelete::Complete, OnDelete::Ignore] {
        let mut c = Case::synced(|_| {}, |_| {});
        c.target.clear();
        c.on_delete = how;
        let p = c.plan();
        assert!(
            matches!(&p.actions[..], [Action::DeleteAsana { how: h, .. }] if *h == how),
            "{how:?}: {:#?}",
            p.actions
        );
    }
}

fn tombstone(gid: &str, how: LetGo) -> Tombstone {
    Tombstone {
        asana_gid: gid.into(),
        target_id: "roadmap/one.md".into(),
        title: "One".into(),
        at: "2026-12-01T10:00:00Z".into(),
        how,
    }
}

#[test]
fn a_file_that_returns_after_its_task_was_deleted_is_told_the_ways_back() {
    let mut c = Case::new();
    c.target.push(file("one.md", Some("1"), fields("One"), 5));
    c.tombstones.push(tombstone(
        "1",
        LetGo::Deleted {
            trash: Some("t/one.md".into()),
        },
    ));
    let p = c.plan();
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
    let m = &p.problems[0].message;
    assert!(
        m.contains("deleted in Asana by asana-bridge at 2026-12-01T10:00:00Z")
            && m.contains("restore it from Asana's trash")
            && m.contains("remove the asana_gid line"),
        "{m}"
    );
    // Restored from Asana's trash: the file links again.
    c.asana.push(asana("1", fields("One"), 7));
    let p = c.plan();
    assert!(p.problems.is_empty(), "{:#?}", p.problems);
    assert!(matches!(&p.actions[..], [Action::Sync(s)] if s.previous.is_none()));
}

#[test]
fn a_task_let_go_is_not_mirrored_back_as_new() {
    for how in [
        LetGo::Completed,
        LetGo::Ignored,
        LetGo::Moved { to: "x/y#1".into() },
    ] {
        let mut c = Case::new();
        c.asana.push(asana("1", fields("One"), 5));
        c.tombstones.push(tombstone("1", how.clone()));
        assert!(c.plan().actions.is_empty(), "{how:?}");
    }
}

#[test]
fn import_open_creates_no_counterpart_of_completed_or_closed_items() {
    let mut c = Case::new();
    c.import_completed = false;
    let mut done = fields("Done");
    done.completed = true;
    c.asana.push(asana("1", done.clone(), 5));
    c.asana.push(asana("2", fields("Open"), 5));
    c.target.push(file("9", None, done, 5));
    c.target.push(file("10", None, fields("Open issue"), 5));
    let p = c.plan();
    assert_eq!(p.actions.len(), 2, "{:#?}", p.actions);
    assert!(matches!(&p.actions[0], Action::CreateTarget { asana, .. } if asana.id == "2"));
    assert!(matches!(&p.actions[1], Action::CreateAsana { target, .. } if target.id == "10"));
}

#[test]
fn without_a_base_a_differing_field_is_a_conflict_under_every_policy() {
    // The state was lost; the body was edited in the file and the title in Asana.
    for policy in [
        Policy::Newest,
        Policy::Asana,
        Policy::Target,
        Policy::Manual,
    ] {
        let mut c = Case::new();
        c.policy = policy;
        let mut a = fields("One, renamed in Asana");
        a.notes = "line one\n".into();
        let mut t = fields("One");
        t.notes = "line one\nedited locally\n".into();
        c.asana.push(asana("1", a, 9));
        c.target.push(file("one.md", Some("1"), t, 8));
        let s = only_sync(&c.plan()).clone();
        assert!(
            s.to_asana.is_empty() && s.to_target.is_empty(),
            "{policy}: {s:#?}"
        );
        assert_eq!(s.held, vec![Field::Title, Field::Notes], "{policy}");
        assert!(s.conflicts.iter().all(|c| c.base_value.is_none()));
        // The next run still holds them: nothing merges without a base.
        let mut next = Case::new();
        next.policy = policy;
        next.asana = c.asana.clone();
        next.target = c.target.clone();
        let mut r = record(&c.asana[0], &c.target[0]);
        for f in &s.held {
            r.asana.fields[f.index()] = 0;
            r.target.fields[f.index()] = 0;
        }
        next.records.push(r);
        next.conflicts = s.conflicts.clone();
        let again = only_sync(&next.plan()).clone();
        assert_eq!(
            again.held,
            vec![Field::Title, Field::Notes],
            "{policy}: {again:#?}"
        );
        assert!(again.to_asana.is_empty() && again.to_target.is_empty());
    }
}

#[test]
fn newest_compares_times_on_one_clock() {
    // Asana's clock is 2 h behind ours: its edit at 10:00:01 by its clock was made after
    // the file's edit at 12:00:00 by ours.
    let mut c = Case::synced(
        |a| a.title = "Asana's".into(),
        |t| t.title = "The file's".into(),
    );
    c.asana[0].modified_at = Some(jiff::Timestamp::from_second(36_001).unwrap());
    c.target[0].modified_at = Some(jiff::Timestamp::from_second(43_200).unwrap());
    assert_eq!(
        only_sync(&c.plan()).to_asana.title.as_deref(),
        Some("The file's"),
        "uncorrected"
    );
    c.clocks.asana_ahead = jiff::SignedDuration::from_hours(-2);
    assert_eq!(
        only_sync(&c.plan()).to_target.title.as_deref(),
        Some("Asana's")
    );
}

#[test]
fn by_record_a_footer_is_text_except_to_re_adopt_an_unpaired_task() {
    let mut c = Case::synced(|_| {}, |_| {});
    c.identity = Identity::Record;
    c.target[0].id = "5".into();
    c.records[0].target_id = "5".into();
    // Issue 5 got task 2's footer pasted in; issue 6 is a copy of issue 5's body.
    c.target[0].partner = Some("2".into());
    c.asana.push(asana("2", fields("Two"), 100));
    c.target.push(file("6", Some("1"), fields("Copy"), 100));
    // Issues 8 and 12 both carry task 3's footer; task 3 has no pair (a lost record).
    c.asana.push(asana("3", fields("Three"), 100));
    c.target.push(file("12", Some("3"), fields("Three"), 100));
    c.target.push(file("8", Some("3"), fields("Three"), 100));
    let p = c.plan();
    assert!(p.problems.is_empty(), "{:#?}", p.problems);
    let mut seen = Vec::new();
    for a in &p.actions {
        match a {
            Action::CreateAsana { target, .. } => seen.push(format!("new {}", target.id)),
            Action::CreateTarget { asana, .. } => seen.push(format!("issue for {}", asana.id)),
            Action::Sync(s) => seen.push(format!("{} with {}", s.target.id, s.asana.id)),
            other => panic!("{other:#?}"),
        }
    }
    seen.sort();
    assert_eq!(seen, ["8 with 3", "issue for 2", "new 12", "new 6"]);
}

#[test]
fn a_gid_of_another_project_is_reported_and_left_alone() {
    let mut c = Case::new();
    c.target
        .push(file("stray.md", Some("999"), fields("Stray"), 1));
    let p = c.plan();
    assert!(p.actions.is_empty());
    assert!(p.problems[0].message.contains("999"));
}

#[test]
fn a_lost_create_answer_is_recovered_not_repeated() {
    let mut c = Case::new();
    let local = file("new.md", None, fields("New"), 1);
    c.intents.push(Intent {
        id: uuid::Uuid::nil(),
        on: Side::Asana,
        source_id: "new.md".into(),
        fields: local.fields.clone(),
    });
    c.target.push(local);
    c.asana.push(asana("77", fields("New"), 2));
    let s = only_sync(&c.plan()).clone();
    assert_eq!(s.asana.id, "77");
    assert!(s.stamp_partner);
    assert!(s.to_asana.is_empty() && s.to_target.is_empty());
}

#[test]
fn an_intent_that_matches_nothing_creates_again() {
    let mut c = Case::new();
    let local = file("new.md", None, fields("New"), 1);
    c.intents.push(Intent {
        id: uuid::Uuid::nil(),
        on: Side::Asana,
        source_id: "new.md".into(),
        fields: local.fields.clone(),
    });
    c.target.push(local);
    let p = c.plan();
    assert!(
        matches!(&p.actions[..], [Action::CreateAsana { .. }]),
        "{:#?}",
        p.actions
    );
}

#[test]
fn a_file_written_before_a_crash_is_adopted_without_writes() {
    let mut c = Case::new();
    c.asana.push(asana("1", fields("One"), 1));
    c.target.push(file("one.md", Some("1"), fields("One"), 1));
    let s = only_sync(&c.plan()).clone();
    assert!(!s.writes());
    assert!(s.previous.is_none());
}

#[test]
fn a_renamed_file_keeps_its_pair() {
    let mut c = Case::synced(|_| {}, |_| {});
    c.target[0].id = "renamed.md".into();
    let s = only_sync(&c.plan()).clone();
    assert!(!s.writes());
    assert_eq!(s.target.id, "renamed.md");
}

#[test]
fn a_file_that_lost_its_gid_is_found_by_name_and_restamped() {
    let mut c = Case::synced(|_| {}, |_| {});
    c.target[0].partner = None;
    let s = only_sync(&c.plan()).clone();
    assert!(s.stamp_partner);
    assert!(s.to_asana.is_empty() && s.to_target.is_empty());
}

#[test]
fn plans_are_sorted_and_deterministic() {
    let mut c = Case::new();
    for i in [3, 1, 2] {
        c.asana.push(asana(&i.to_string(), fields("T"), 1));
        c.target
            .push(file(&format!("f{i}.md"), None, fields("F"), 1));
    }
    let p1 = c.plan();
    c.asana.reverse();
    c.target.reverse();
    let p2 = c.plan();
    assert_eq!(p1, p2);
    assert!(matches!(&p1.actions[0], Action::CreateTarget { asana, .. } if asana.id == "1"));
}

#[test]
fn adoption_never_clears_a_value_the_other_side_lacks() {
    // A target that cannot hold a due date (GitHub) adopted after a crash, file newer.
    let mut c = Case::new();
    let mut a = fields("One");
    a.due = Some("2026-12-01".into());
    a.section = Some("Doing".into());
    let mut t = fields("One, edited");
    t.assignee = Some("bob@example.com".into());
    c.asana.push(asana("1", a, 1));
    c.target.push(file("one.md", Some("1"), t, 9));
    let s = only_sync(&c.plan()).clone();
    assert_eq!(s.to_asana.due, None, "Asana's due date is not cleared");
    assert_eq!(s.to_asana.section, None, "nor its section");
    assert_eq!(
        s.to_asana.assignee,
        Some(Some("bob@example.com".into())),
        "the file's assignee flows"
    );
    assert_eq!(s.to_target.due, Some(Some("2026-12-01".into())));
    assert_eq!(
        s.to_asana.title, None,
        "a real difference without a base is held"
    );
    assert_eq!(s.held, vec![Field::Title]);
}

#[test]
fn a_moved_file_with_a_mistyped_gid_deletes_nothing() {
    // one.md was renamed and its asana_gid mistyped in the same go.
    let mut c = Case::synced(|_| {}, |_| {});
    c.target[0].id = "archive/one.md".into();
    c.target[0].partner = Some("17".into());
    let p = c.plan();
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
    assert!(p.deletions_held);
    assert!(p.problems[0].message.contains("not a task of this link"));
}

#[test]
fn a_moved_file_stripped_of_its_front_matter_is_neither_new_nor_a_deletion() {
    let mut c = Case::synced(|_| {}, |_| {});
    c.target[0].id = "archive/one.md".into();
    c.target[0].partner = None;
    c.target[0].bare = true;
    c.target[0].fields.title = "one".into();
    let p = c.plan();
    assert!(p.actions.is_empty(), "{:#?}", p.actions);
    assert_eq!(p.problems.len(), 1);
    assert!(p.problems[0].message.contains("holds what one.md held"));
}

/// No field filled in from the records.
static NONE_FILLED_IN: std::sync::LazyLock<
    std::collections::HashMap<(crate::records::Side, String), Vec<asana_bridge_connector::Field>>,
> = std::sync::LazyLock::new(std::collections::HashMap::new);

/// The plan for `pairs` as observed, nothing else read, every missing item confirmed gone.
fn plan_observed(pairs: &[Observation], policy: Policy) -> Plan {
    let gone: BTreeMap<String, Gone> = pairs
        .iter()
        .map(|o| (o.record.asana_gid.clone(), Gone::Confirmed))
        .collect();
    plan(&PlanInput {
        policy,
        identity: Identity::Partner,
        noun: "file",
        pairs,
        new_asana: &[],
        other_target: &[],
        target_unreadable: &[],
        filled_in: &NONE_FILLED_IN,
        intents: &[],
        conflicts: &[],
        tombstones: &[],
        gone: &gone,
        on_delete: OnDelete::Delete,
        import_completed: true,
        tags_ignore_case: false,
        clocks: Clocks::default(),
    })
}

/// The synced pair "1"/"one.md" of [`Case::synced`], observed as `asana` and `target`.
fn observed(asana: Observed, target: Observed) -> Observation {
    let c = Case::synced(|_| {}, |_| {});
    Observation {
        record: c.records[0].clone(),
        asana,
        target,
    }
}

#[test]
fn an_unchanged_side_is_planned_as_its_record_remembers_it() {
    let mut edited = file("one.md", Some("1"), fields("One"), 300);
    edited.fields.title = "One, edited".into();
    let p = plan_observed(
        &[observed(
            Observed::Unchanged,
            Observed::Changed(Box::new(edited)),
        )],
        Policy::Newest,
    );
    let s = only_sync(&p);
    assert_eq!(s.to_asana.title.as_deref(), Some("One, edited"));
    assert_eq!(s.asana.fields.title, "One", "Asana's side as recorded");
    assert_eq!(s.asana.revision.as_deref(), Some("rev-100"));

    let both = plan_observed(
        &[observed(Observed::Unchanged, Observed::Unchanged)],
        Policy::Newest,
    );
    assert!(both.actions.is_empty(), "{:#?}", both.actions);
}

#[test]
fn a_task_that_cannot_be_read_leaves_its_pair_alone() {
    for target in [
        Observed::Unchanged,
        Observed::Gone,
        Observed::Changed(Box::new(file("one.md", Some("1"), fields("Two"), 300))),
    ] {
        let p = plan_observed(&[observed(Observed::Unreadable, target)], Policy::Newest);
        assert!(p.actions.is_empty(), "{:#?}", p.actions);
        assert!(p.blocked.contains("1"));
    }
    // Gone, the same task deletes its unchanged file.
    let p = plan_observed(
        &[observed(Observed::Gone, Observed::Unchanged)],
        Policy::Newest,
    );
    assert!(matches!(p.actions[..], [Action::DeleteTarget { .. }]));
}

#[test]
fn a_side_its_record_knows_gone_stays_gone_when_observed_unchanged() {
    // A deletion in Asana held against an edit of the file, under `manual`: on the next
    // run the change feed does not name the task again (it is unchanged since), and the
    // held deletion must stand, not turn into a Sync with the task recalled.
    let c = Case::synced(|_| {}, |_| {});
    let mut edited = fields("One");
    edited.title = "One, edited".into();
    let held = c.records[0].held_deletion(Side::Asana, &edited);
    let mut file_now = file("one.md", Some("1"), edited, 300);
    file_now.revision = Some("hash-300".into());
    let p = plan_observed(
        &[Observation {
            record: held,
            asana: Observed::Unchanged,
            target: Observed::Changed(Box::new(file_now)),
        }],
        Policy::Manual,
    );
    assert!(
        matches!(p.actions[..], [Action::HoldDeletion { .. }]),
        "{:#?}",
        p.actions
    );
}
