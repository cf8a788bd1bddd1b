//! Leaving settled pairs out must not change the plan: for random links (pairs edited,
//! deleted, renamed, copied, unreadable, in conflict, held; new items on both sides; an
//! incremental or a full read of Asana) the planner given everything and the planner
//! given only the unsettled pairs, with records standing in for dropped items, decide
//! the same actions.

use asana_bridge_connector::{Field, Item, TaskFields};
use proptest::prelude::*;

use super::*;
use crate::merge::Policy;
use crate::plan::{Action, Plan, PlanInput, plan};
use crate::records::{Fingerprint, PairRecord};

fn fields(title: &str) -> TaskFields {
    TaskFields {
        title: title.to_owned(),
        notes: "notes\n".to_owned(),
        ..TaskFields::default()
    }
}

fn item(id: &str, partner: Option<&str>, f: TaskFields, rev: &str) -> Item {
    Item {
        id: id.to_owned(),
        fields: f,
        modified_at: Some(jiff::Timestamp::from_second(1_700_000_000).unwrap()),
        partner: partner.map(str::to_owned),
        revision: Some(rev.to_owned()),
        bare: false,
    }
}

/// What happened to one side of a pair since the last sync.
#[derive(Clone, Copy, Debug)]
enum Change {
    None,
    /// A field edited (new revision).
    Edited,
    /// Only the revision moved (touched, re-saved).
    Touched,
    Gone,
}

/// What else happened around a pair's target item.
#[derive(Clone, Copy, Debug)]
enum Around {
    Nothing,
    /// The file was renamed (same gid).
    Renamed,
    /// The file lost its `asana_gid` line.
    LostGid,
    /// A copy of the file (same gid) appeared.
    Copied,
    /// An unreadable file names the pair by gid.
    UnreadableByGid,
    /// The pair's file is unreadable (known by name only).
    UnreadableByName,
}

#[derive(Clone, Copy, Debug)]
enum RecordKind {
    Plain,
    /// Asana holds a value the target cannot (remembered apart from the base).
    AsanaApart,
    /// A deletion held against an edit (the target is gone).
    HeldDeletion,
}

#[derive(Clone, Debug)]
struct PairCase {
    kind: RecordKind,
    asana: Change,
    target: Change,
    around: Around,
    conflict: bool,
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        6 => Just(Change::None),
        2 => Just(Change::Edited),
        1 => Just(Change::Touched),
        1 => Just(Change::Gone),
    ]
}

fn around() -> impl Strategy<Value = Around> {
    prop_oneof![
        8 => Just(Around::Nothing),
        1 => Just(Around::Renamed),
        1 => Just(Around::LostGid),
        1 => Just(Around::Copied),
        1 => Just(Around::UnreadableByGid),
        1 => Just(Around::UnreadableByName),
    ]
}

fn pair_case() -> impl Strategy<Value = PairCase> {
    (
        prop_oneof![
            6 => Just(RecordKind::Plain),
            1 => Just(RecordKind::AsanaApart),
            1 => Just(RecordKind::HeldDeletion),
        ],
        change(),
        change(),
        around(),
        prop::bool::weighted(0.15),
    )
        .prop_map(|(kind, asana, target, around, conflict)| PairCase {
            kind,
            asana,
            target,
            around,
            conflict,
        })
}

/// A link as both planners see it.
struct World {
    records: Vec<PairRecord>,
    /// Asana's items now.
    asana: Vec<Item>,
    /// Gids the change feed names.
    changed: Vec<String>,
    target: Vec<Item>,
    unreadable: Vec<Unreadable>,
    conflicts: Vec<ConflictRecord>,
}

fn world(cases: &[PairCase], new_asana: bool, new_file: bool) -> World {
    let mut w = World {
        records: vec![],
        asana: vec![],
        changed: vec![],
        target: vec![],
        unreadable: vec![],
        conflicts: vec![],
    };
    for (i, c) in cases.iter().enumerate() {
        let gid = format!("{}", 100 + i);
        let name = format!("f{i}.md");
        let base = fields(&format!("Task {i}"));
        let a_fields = match c.kind {
            RecordKind::AsanaApart => TaskFields {
                due: Some("2027-01-01".into()),
                ..base.clone()
            },
            _ => base.clone(),
        };
        let a0 = item(&gid, None, a_fields.clone(), "a0");
        let t0 = item(&name, Some(&gid), base.clone(), "t0");
        let mut record = PairRecord {
            asana_gid: gid.clone(),
            target_id: name.clone(),
            base: base.clone(),
            asana: Fingerprint::of(&a0),
            target: Fingerprint::of(&t0),
            asana_fields: (a_fields != base).then(|| Box::new(a_fields.clone())),
            target_fields: None,
            missing: None,
        };
        let mut target_change = c.target;
        if let RecordKind::HeldDeletion = c.kind {
            let mut edited = a_fields.clone();
            edited.title.push_str(" (edited)");
            record = record.held_deletion(Side::Target, &edited);
            target_change = Change::Gone;
        }
        let mut a = a0.clone();
        match c.asana {
            Change::None => {}
            Change::Edited => {
                a.fields.title.push_str(" (asana)");
                a.revision = Some("a1".into());
            }
            Change::Touched => a.revision = Some("a1".into()),
            Change::Gone => {}
        }
        if !matches!(c.asana, Change::None) {
            w.changed.push(gid.clone());
        }
        if !matches!(c.asana, Change::Gone) {
            w.asana.push(a);
        }
        let mut t = t0.clone();
        match target_change {
            Change::None | Change::Gone => {}
            Change::Edited => {
                t.fields.notes.push_str("more\n");
                t.revision = Some("t1".into());
            }
            Change::Touched => t.revision = Some("t1".into()),
        }
        match c.around {
            Around::Nothing => {}
            Around::Renamed => t.id = format!("renamed-{i}.md"),
            Around::LostGid => t.partner = None,
            Around::Copied => w.target.push(Item {
                id: format!("copy-{i}.md"),
                ..t.clone()
            }),
            Around::UnreadableByGid => w.unreadable.push(Unreadable {
                id: Some(format!("broken-{i}.md")),
                partner: Some(gid.clone()),
            }),
            Around::UnreadableByName => {
                target_change = Change::Gone;
                w.unreadable.push(Unreadable {
                    id: Some(name.clone()),
                    partner: None,
                });
            }
        }
        if !matches!(target_change, Change::Gone) {
            w.target.push(t);
        }
        if c.conflict {
            w.conflicts.push(ConflictRecord {
                id: ConflictRecord::make_id(&gid, Some(Field::Title)),
                asana_gid: gid.clone(),
                target_id: name.clone(),
                title: base.title.clone(),
                field: Some(Field::Title),
                custom_field: None,
                asana_value: Some("a".into()),
                target_value: Some("t".into()),
                base_value: Some("b".into()),
                detected_at: "2026-11-01T00:00:00Z".into(),
                resolution: Some(Side::Asana),
            });
        }
        w.records.push(record);
    }
    if new_asana {
        w.asana
            .push(item("999", None, fields("New in Asana"), "n0"));
        w.changed.push("999".into());
    }
    if new_file {
        w.target
            .push(item("new.md", None, fields("New in the folder"), "n1"));
    }
    w.records.sort_by(|a, b| a.asana_gid.cmp(&b.asana_gid));
    w
}

/// The plan as the engine made it before: everything in memory.
fn plan_everything(w: &World, policy: Policy, incremental: bool) -> Plan {
    let asana: Vec<Item> = if incremental {
        let mut items: Vec<Item> = w
            .records
            .iter()
            .filter(|r| !w.changed.contains(&r.asana_gid))
            .filter_map(PairRecord::asana_item)
            .collect();
        items.extend(
            w.asana
                .iter()
                .filter(|a| w.changed.contains(&a.id))
                .cloned(),
        );
        items
    } else {
        w.asana.clone()
    };
    plan(&input(
        policy,
        &asana,
        &w.target,
        w,
        &w.records,
        &confirmed(w),
    ))
}

/// Every missing file confirmed deleted.
fn confirmed(w: &World) -> std::collections::BTreeMap<String, crate::plan::Gone> {
    w.records
        .iter()
        .map(|r| (r.asana_gid.clone(), crate::plan::Gone::Confirmed))
        .collect()
}

/// The planner's input for these items and records.
fn input<'a>(
    policy: Policy,
    asana: &'a [Item],
    target: &'a [Item],
    w: &'a World,
    records: &'a [PairRecord],
    gone: &'a std::collections::BTreeMap<String, crate::plan::Gone>,
) -> PlanInput<'a> {
    PlanInput {
        policy,
        identity: asana_bridge_connector::Identity::Partner,
        noun: "file",
        asana,
        target,
        target_unreadable: &w.unreadable,
        filled_in: &NONE_FILLED_IN,
        records,
        intents: &[],
        conflicts: &w.conflicts,
        tombstones: &[],
        gone,
        on_delete: crate::config::OnDelete::Delete,
        import_completed: true,
        tags_ignore_case: false,
        clocks: crate::merge::Clocks::default(),
    }
}

/// The plan as the engine makes it now: settled pairs left out.
fn plan_unsettled(w: &World, policy: Policy, incremental: bool) -> (Plan, usize) {
    let summaries: Vec<PairSummary> = w.records.iter().map(PairRecord::summary).collect();
    let index = SummaryIndex::new(&summaries);
    let take = |side: Side, items: &mut Vec<Item>, seen: &mut Vec<Seen>, item: &Item| match index
        .classify(side, item)
    {
        Some((at, Seen::AsRecorded)) => seen[at] = Seen::AsRecorded,
        Some((at, s)) => {
            seen[at] = s;
            items.push(item.clone());
        }
        None => items.push(item.clone()),
    };
    let mut asana_seen = vec![Seen::Absent; summaries.len()];
    let mut asana_items = Vec::new();
    if incremental {
        for (i, s) in summaries.iter().enumerate() {
            if !w.changed.iter().any(|g| **g == *s.asana_gid) {
                asana_seen[i] = Seen::AsRecorded;
            }
        }
    }
    for a in &w.asana {
        if !incremental || w.changed.contains(&a.id) {
            take(Side::Asana, &mut asana_items, &mut asana_seen, a);
        }
    }
    let mut target_seen = vec![Seen::Absent; summaries.len()];
    let mut target_items = Vec::new();
    for t in &w.target {
        take(Side::Target, &mut target_items, &mut target_seen, t);
    }
    let settled = settled(
        &index,
        &asana_seen,
        &target_seen,
        &target_items,
        &w.unreadable,
        &w.conflicts,
    );
    let mut records = Vec::new();
    for (i, r) in w.records.iter().enumerate() {
        if settled[i] {
            continue;
        }
        if asana_seen[i] == Seen::AsRecorded {
            asana_items.extend(r.asana_item());
        }
        if target_seen[i] == Seen::AsRecorded {
            target_items.extend(r.target_item());
        }
        records.push(r.clone());
    }
    let gone = confirmed(w);
    let plan = plan(&input(
        policy,
        &asana_items,
        &target_items,
        w,
        &records,
        &gone,
    ));
    (plan, settled.iter().filter(|s| **s).count())
}

/// The plan with every item's `modified_at` cleared: a record standing in for an item
/// does not know its modification time, which decides nothing for a side that did not
/// change.
fn normalized(mut plan: Plan) -> Plan {
    for action in &mut plan.actions {
        match action {
            Action::CreateTarget { asana: i, .. }
            | Action::CreateAsana { target: i, .. }
            | Action::DeleteTarget { target: i, .. }
            | Action::DeleteAsana { asana: i, .. } => i.modified_at = None,
            Action::Sync(pair) => {
                pair.asana.modified_at = None;
                pair.target.modified_at = None;
            }
            Action::Forget { .. }
            | Action::Unlink { .. }
            | Action::HoldDeletion { .. }
            | Action::DropIntent { .. } => {}
        }
    }
    plan
}

fn policy() -> impl Strategy<Value = Policy> {
    prop_oneof![
        Just(Policy::Newest),
        Just(Policy::Asana),
        Just(Policy::Target),
        Just(Policy::Manual),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn leaving_settled_pairs_out_plans_the_same(
        cases in prop::collection::vec(pair_case(), 1..10),
        new_asana in any::<bool>(),
        new_file in any::<bool>(),
        policy in policy(),
        incremental in any::<bool>(),
    ) {
        let w = world(&cases, new_asana, new_file);
        let everything = normalized(plan_everything(&w, policy, incremental));
        let (unsettled, _) = plan_unsettled(&w, policy, incremental);
        prop_assert_eq!(everything, normalized(unsettled));
    }
}

/// The filter is not vacuous: an untouched pair is left out, and each kind of trouble
/// around a pair keeps it in.
#[test]
fn untouched_pairs_are_left_out_and_troubled_ones_kept() {
    let quiet = PairCase {
        kind: RecordKind::Plain,
        asana: Change::None,
        target: Change::None,
        around: Around::Nothing,
        conflict: false,
    };
    for incremental in [true, false] {
        let w = world(&[quiet.clone(), quiet.clone()], false, false);
        let (plan, settled) = plan_unsettled(&w, Policy::Newest, incremental);
        assert_eq!(settled, 2);
        assert!(plan.actions.is_empty());
    }
    let troubled = [
        PairCase {
            asana: Change::Touched,
            ..quiet.clone()
        },
        PairCase {
            target: Change::Touched,
            ..quiet.clone()
        },
        PairCase {
            around: Around::Copied,
            ..quiet.clone()
        },
        PairCase {
            around: Around::LostGid,
            ..quiet.clone()
        },
        PairCase {
            around: Around::UnreadableByGid,
            ..quiet.clone()
        },
        PairCase {
            conflict: true,
            ..quiet.clone()
        },
        PairCase {
            kind: RecordKind::HeldDeletion,
            ..quiet.clone()
        },
    ];
    for case in troubled {
        let w = world(std::slice::from_ref(&case), false, false);
        let (_, settled) = plan_unsettled(&w, Policy::Newest, false);
        assert_eq!(settled, 0, "{case:?} must be planned");
    }
}

/// No field filled in from the records.
static NONE_FILLED_IN: std::sync::LazyLock<
    std::collections::HashMap<(crate::records::Side, String), Vec<asana_bridge_connector::Field>>,
> = std::sync::LazyLock::new(std::collections::HashMap::new);
