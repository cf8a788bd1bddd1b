//! Leaving quiet pairs out must not change the plan: for random links (pairs edited,
//! deleted, renamed, copied, unreadable, in conflict, held; new items on both sides; an
//! incremental or a full read of Asana) the planner given every item read and the planner
//! given only the pairs that are not quiet, items as recorded observed unchanged (and
//! dropped), decide the same actions.

use asana_bridge_connector::{Field, Item, TaskFields};
use proptest::prelude::*;

use super::*;
use crate::merge::Policy;
use crate::observe::SideView;
use crate::plan::{Action, Observation, Plan, PlanInput, plan};
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

/// The plan with nothing left out: every item read is given to the planner (on an
/// incremental run, the tasks the feed does not name are unchanged).
fn plan_everything(w: &World, policy: Policy, incremental: bool) -> Plan {
    let asana: Vec<Item> = w
        .asana
        .iter()
        .filter(|a| !incremental || w.changed.contains(&a.id))
        .cloned()
        .collect();
    let (mut pairs, new_asana, other_target) =
        crate::plan::tests::observe_all(&w.records, &asana, &w.target, &w.unreadable);
    if incremental {
        for o in &mut pairs {
            if !w.changed.contains(&o.record.asana_gid) {
                o.asana = Observed::Unchanged;
            }
        }
    }
    plan(&input(
        policy,
        &pairs,
        &new_asana,
        &other_target,
        w,
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

/// The planner's input for these observations.
fn input<'a>(
    policy: Policy,
    pairs: &'a [Observation],
    new_asana: &'a [Item],
    other_target: &'a [Item],
    w: &'a World,
    gone: &'a std::collections::BTreeMap<String, crate::plan::Gone>,
) -> PlanInput<'a> {
    PlanInput {
        policy,
        identity: asana_bridge_connector::Identity::Partner,
        noun: "file",
        pairs,
        new_asana,
        other_target,
        target_unreadable: &w.unreadable,
        filled_in: &NONE_FILLED_IN,
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

/// The plan as the engine makes it: both sides observed as `observe` does (items as
/// recorded dropped), quiet pairs left out.
fn plan_without_quiet(w: &World, policy: Policy, incremental: bool) -> (Plan, usize) {
    let summaries: Vec<PairSummary> = w.records.iter().map(PairRecord::summary).collect();
    let index = SummaryIndex::new(&summaries);
    let mut asana = if incremental {
        let mut view = SideView::new(summaries.len(), &Observed::Unchanged);
        for gid in &w.changed {
            if let Some(at) = index.of_gid(gid) {
                view.pairs[at] = Observed::Gone;
            }
        }
        view
    } else {
        SideView::new(summaries.len(), &Observed::Gone)
    };
    for a in &w.asana {
        if !incremental || w.changed.contains(&a.id) {
            asana.take(&index, Side::Asana, a.clone());
        }
    }
    let mut target = SideView::new(summaries.len(), &Observed::Gone);
    for t in &w.target {
        target.take(&index, Side::Target, t.clone());
    }
    target.unreadable.clone_from(&w.unreadable);
    target.mark_unreadable(&index, Side::Target);
    let quiet = untouched(
        &index,
        &asana.pairs,
        &target.pairs,
        &target.others,
        &target.unreadable,
        &w.conflicts,
    );
    let mut pairs = Vec::new();
    let sides = asana.pairs.into_iter().zip(target.pairs);
    for ((record, quiet), (a, t)) in w.records.iter().zip(&quiet).zip(sides) {
        if !quiet {
            pairs.push(Observation {
                record: record.clone(),
                asana: a,
                target: t,
            });
        }
    }
    let gone = confirmed(w);
    let plan = plan(&input(
        policy,
        &pairs,
        &asana.others,
        &target.others,
        w,
        &gone,
    ));
    (plan, quiet.iter().filter(|q| **q).count())
}

/// The plan with every item's `modified_at` cleared: what a record recalls of an
/// unchanged item has no modification time, which decides nothing for a side that did not
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
    fn leaving_quiet_pairs_out_plans_the_same(
        cases in prop::collection::vec(pair_case(), 1..10),
        new_asana in any::<bool>(),
        new_file in any::<bool>(),
        policy in policy(),
        incremental in any::<bool>(),
    ) {
        let w = world(&cases, new_asana, new_file);
        let everything = normalized(plan_everything(&w, policy, incremental));
        let (without_quiet, _) = plan_without_quiet(&w, policy, incremental);
        prop_assert_eq!(everything, normalized(without_quiet));
    }
}

/// The filter is not vacuous: an untouched pair is left out, and each kind of trouble
/// around a pair keeps it in.
#[test]
fn quiet_pairs_are_left_out_and_troubled_ones_kept() {
    let quiet = PairCase {
        kind: RecordKind::Plain,
        asana: Change::None,
        target: Change::None,
        around: Around::Nothing,
        conflict: false,
    };
    for incremental in [true, false] {
        let w = world(&[quiet.clone(), quiet.clone()], false, false);
        let (plan, quiet) = plan_without_quiet(&w, Policy::Newest, incremental);
        assert_eq!(quiet, 2);
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
        let (_, quiet) = plan_without_quiet(&w, Policy::Newest, false);
        assert_eq!(quiet, 0, "{case:?} must be planned");
    }
}

/// No field filled in from the records.
static NONE_FILLED_IN: std::sync::LazyLock<
    std::collections::HashMap<(crate::records::Side, String), Vec<asana_bridge_connector::Field>>,
> = std::sync::LazyLock::new(std::collections::HashMap::new);
