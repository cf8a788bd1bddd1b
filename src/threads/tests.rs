//! The thread planner's decisions, case by case.

use asana_bridge_connector::{
    Author, Comment, CommentBlock, NewSubtask, Subtask, SubtaskLine, TargetThread,
};

use super::plan::{Inputs, Step, ThreadPlan, plan};
use super::record::{CommentBase, Pending, SubtaskBase, ThreadRecord, text_digest};
use crate::config::OnDelete;
use crate::merge::Policy;

fn sub(gid: &str, name: &str, done: bool) -> Subtask {
    Subtask {
        remote_id: gid.into(),
        name: name.into(),
        completed: done,
    }
}

fn line(gid: Option<&str>, name: &str, done: bool) -> SubtaskLine {
    SubtaskLine {
        asana_gid: gid.map(Into::into),
        name: name.into(),
        completed: done,
    }
}

fn based(entries: &[(&str, &str, bool)]) -> ThreadRecord {
    let mut r = ThreadRecord::default();
    for (g, n, d) in entries {
        r.subtasks.insert(
            (*g).into(),
            SubtaskBase {
                name: (*n).into(),
                completed: *d,
            },
        );
    }
    r
}

fn comment(gid: &str, body: &str, own: bool) -> Comment {
    Comment {
        remote_id: gid.into(),
        author: Author {
            remote_id: "9".into(),
            name: if own { "Bridge Bot" } else { "Alice Example" }.into(),
            email: None,
        },
        created_at: "2026-11-30T14:02:00Z".parse().unwrap(),
        body: body.into(),
        own,
        edited: false,
    }
}

fn block(gid: Option<&str>, body: &str) -> CommentBlock {
    CommentBlock {
        asana_gid: gid.map(Into::into),
        id: None,
        heading: "Someone".into(),
        body: body.into(),
    }
}

fn run(
    subtasks: &[Subtask],
    comments: Option<&[Comment]>,
    target: &TargetThread,
    base: &ThreadRecord,
    on_delete: OnDelete,
) -> ThreadPlan {
    plan(&Inputs {
        subtasks,
        comments,
        target,
        base,
        recorded: true,
        policy: Policy::Newest,
        on_delete,
    })
}

/// [`run`] for subtasks alone (comments left out, removed lines delete).
fn subtasks_only(subtasks: &[Subtask], target: &TargetThread, base: &ThreadRecord) -> ThreadPlan {
    run(subtasks, None, target, base, OnDelete::Delete)
}

fn names(p: &ThreadPlan) -> Vec<(Option<String>, String, bool)> {
    p.lines
        .iter()
        .map(|l| {
            (
                l.line.asana_gid.clone(),
                l.line.name.clone(),
                l.line.completed,
            )
        })
        .collect()
}

#[test]
fn new_lines_on_each_side_flow_to_the_other() {
    let target = TargetThread {
        subtasks: vec![line(None, "Typed in the file", false)],
        comments: vec![],
    };
    let p = run(
        &[sub("1", "Made in Asana", true)],
        None,
        &target,
        &ThreadRecord::default(),
        OnDelete::Delete,
    );
    assert_eq!(
        p.steps,
        vec![Step::CreateSubtask(NewSubtask {
            name: "Typed in the file".into(),
            completed: false
        })]
    );
    assert_eq!(p.lines[0].step, Some(0));
    assert_eq!(
        names(&p)[1],
        (Some("1".into()), "Made in Asana".into(), true)
    );
    assert!(p.problems.is_empty());
}

#[test]
fn an_edit_on_one_side_flows_and_both_sides_merge_part_by_part() {
    let base = based(&[("1", "Old", false)]);
    // Renamed in the file, checked in Asana: both flow.
    let target = TargetThread {
        subtasks: vec![line(Some("1"), "New", false)],
        comments: vec![],
    };
    let p = subtasks_only(&[sub("1", "Old", true)], &target, &base);
    assert_eq!(
        p.steps,
        vec![Step::UpdateSubtask {
            gid: "1".into(),
            name: Some("New".into()),
            completed: None
        }]
    );
    assert_eq!(names(&p), vec![(Some("1".into()), "New".into(), true)]);
}

#[test]
fn a_removed_line_deletes_only_an_unchanged_subtask_as_on_delete_says() {
    let base = based(&[("1", "Gone from file", false), ("2", "Kept", false)]);
    let target = TargetThread {
        subtasks: vec![line(Some("2"), "Kept", false)],
        comments: vec![],
    };
    let asana = [sub("1", "Gone from file", false), sub("2", "Kept", false)];
    let p = run(&asana, None, &target, &base, OnDelete::Delete);
    assert_eq!(
        p.steps,
        vec![Step::DeleteSubtask {
            gid: "1".into(),
            name: "Gone from file".into()
        }]
    );
    let p = run(&asana, None, &target, &base, OnDelete::Complete);
    assert_eq!(
        p.steps,
        vec![Step::UpdateSubtask {
            gid: "1".into(),
            name: None,
            completed: Some(true)
        }]
    );
    assert!(p.let_go.contains("1"));
    let p = run(&asana, None, &target, &base, OnDelete::Ignore);
    assert!(p.steps.is_empty() && p.let_go.contains("1"));

    // Changed in Asana since: not deleted, the line comes back, reported.
    let asana = [sub("1", "Renamed in Asana", false), sub("2", "Kept", false)];
    let p = run(&asana, None, &target, &base, OnDelete::Delete);
    assert!(p.steps.is_empty());
    assert_eq!(p.problems.len(), 1, "{:?}", p.problems);
    assert!(names(&p).contains(&(Some("1".into()), "Renamed in Asana".into(), false)));
}

#[test]
fn a_section_emptied_of_every_line_deletes_nothing() {
    let base = based(&[("1", "A", false), ("2", "B", true)]);
    let asana = [sub("1", "A", false), sub("2", "B", true)];
    let p = run(
        &asana,
        None,
        &TargetThread::default(),
        &base,
        OnDelete::Delete,
    );
    assert!(p.steps.is_empty(), "{:?}", p.steps);
    assert_eq!(p.lines.len(), 2, "the lines are written back");
    assert_eq!(p.notes.len(), 1);
}

#[test]
fn a_line_whose_create_was_sent_but_not_recorded_is_adopted_not_created_twice() {
    let mut base = ThreadRecord::default();
    base.pending.push(Pending::Subtask {
        name: "Call back".into(),
        completed: Some(false),
    });
    let target = TargetThread {
        subtasks: vec![line(None, "Call back", false)],
        comments: vec![],
    };
    let p = subtasks_only(&[sub("7", "Call back", false)], &target, &base);
    assert!(p.steps.is_empty(), "{:?}", p.steps);
    assert_eq!(
        names(&p),
        vec![(Some("7".into()), "Call back".into(), false)]
    );

    // Checked in the file since the create whose answer was lost: adopted, and the
    // check sent (the subtask was made from that line). Before, the line stayed without
    // a marker, reported as "never synced" at every run.
    let checked = TargetThread {
        subtasks: vec![line(None, "Call back", true)],
        comments: vec![],
    };
    let p = subtasks_only(&[sub("7", "Call back", false)], &checked, &base);
    assert_eq!(
        p.steps,
        vec![Step::UpdateSubtask {
            gid: "7".into(),
            name: None,
            completed: Some(true),
        }]
    );
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert_eq!(
        names(&p),
        vec![(Some("7".into()), "Call back".into(), true)]
    );

    // Checked in Asana instead, the line as it was sent: the check comes to the line
    // (the base is what was sent, so Asana's edit is not undone).
    let p = subtasks_only(&[sub("7", "Call back", true)], &target, &base);
    assert!(p.steps.is_empty(), "{:?}", p.steps);
    assert_eq!(
        names(&p),
        vec![(Some("7".into()), "Call back".into(), true)]
    );

    // Recorded, but the marker never reached the file: adopted too, never deleted.
    let base = based(&[("7", "Call back", false)]);
    let p = subtasks_only(&[sub("7", "Call back", false)], &target, &base);
    assert!(p.steps.is_empty(), "{:?}", p.steps);
    assert_eq!(
        names(&p),
        vec![(Some("7".into()), "Call back".into(), false)]
    );
}

#[test]
fn bad_and_foreign_markers_are_reported_and_left_alone() {
    let target = TargetThread {
        subtasks: vec![
            line(Some("abc"), "Typo", false),
            line(Some("99"), "Someone else's", false),
            line(Some("1"), "Mine", false),
            line(Some("1"), "Copy", false),
        ],
        comments: vec![],
    };
    let base = based(&[("1", "Mine", false)]);
    let p = subtasks_only(&[sub("1", "Mine", false)], &target, &base);
    assert!(p.steps.is_empty(), "{:?}", p.steps);
    assert_eq!(p.problems.len(), 3, "{:?}", p.problems);
    assert_eq!(p.lines.len(), 4, "every line is kept");
}

#[test]
fn a_subtask_deleted_in_asana_removes_its_unchanged_line_only() {
    let base = based(&[("1", "A", false), ("2", "B", false)]);
    let target = TargetThread {
        subtasks: vec![
            line(Some("1"), "A", false),
            line(Some("2"), "B edited", false),
        ],
        comments: vec![],
    };
    let p = run(&[], None, &target, &base, OnDelete::Delete);
    assert!(p.steps.is_empty());
    assert_eq!(
        names(&p),
        vec![(Some("2".into()), "B edited".into(), false)]
    );
    assert_eq!(p.problems.len(), 1);
}

#[test]
fn comments_post_new_blocks_edit_own_refuse_others_and_never_delete() {
    let mut base = ThreadRecord::default();
    for (g, t) in [
        ("10", "Mine"),
        ("11", "Theirs"),
        ("12", "Removed from file"),
    ] {
        base.comments.insert(
            g.into(),
            CommentBase {
                text: text_digest(t),
                target: None,
            },
        );
    }
    let asana = [
        comment("10", "Mine", true),
        comment("11", "Theirs", false),
        comment("12", "Removed from file", false),
        comment("13", "New in Asana", false),
    ];
    let target = TargetThread {
        subtasks: vec![],
        comments: vec![
            block(Some("10"), "Mine, edited"),
            block(Some("11"), "Theirs, edited"),
            block(None, "A reply"),
        ],
    };
    let p = run(&[], Some(&asana), &target, &base, OnDelete::Delete);
    assert_eq!(
        p.steps,
        vec![
            Step::EditComment {
                gid: "10".into(),
                body: "Mine, edited".into()
            },
            Step::PostComment {
                body: "A reply".into()
            }
        ]
    );
    assert_eq!(p.problems.len(), 1, "{:?}", p.problems);
    assert!(p.problems[0].contains("Alice Example"));
    let blocks = p.blocks.unwrap();
    let gids: Vec<Option<&str>> = blocks
        .iter()
        .map(|b| b.block.asana_gid.as_deref())
        .collect();
    // Kept in order, the new Asana comment after them, the posted one last (newest); the
    // removed block stays removed.
    assert_eq!(gids, vec![Some("10"), Some("11"), Some("13"), None]);
    assert_eq!(
        blocks[1].block.body, "Theirs, edited",
        "the edit is kept in the file"
    );
    assert_eq!(blocks[3].step, Some(1));
}

#[test]
fn a_comment_posted_but_not_recorded_is_adopted() {
    let mut base = ThreadRecord::default();
    base.pending.push(Pending::Comment {
        text: text_digest("Done, see PR"),
    });
    let target = TargetThread {
        subtasks: vec![],
        comments: vec![block(None, "Done, see PR")],
    };
    let asana = [comment("20", "Done, see PR", true)];
    let p = run(&[], Some(&asana), &target, &base, OnDelete::Delete);
    assert!(p.steps.is_empty(), "{:?}", p.steps);
    let blocks = p.blocks.unwrap();
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].block.asana_gid.as_deref(), Some("20"));

    // Without the pending record, the same text is a second comment (a user may say the
    // same thing twice).
    let p = run(
        &[],
        Some(&asana),
        &target,
        &ThreadRecord::default(),
        OnDelete::Delete,
    );
    assert_eq!(p.steps.len(), 1);
}

#[test]
fn comments_left_out_keep_the_blocks_as_they_are() {
    let target = TargetThread {
        subtasks: vec![],
        comments: vec![block(None, "not posted")],
    };
    let p = run(
        &[],
        None,
        &target,
        &ThreadRecord::default(),
        OnDelete::Delete,
    );
    assert!(p.steps.is_empty());
    assert!(p.blocks.is_none());
}

#[test]
fn manual_policy_holds_a_subtask_changed_on_both_sides() {
    let base = based(&[("1", "Old", false)]);
    let target = TargetThread {
        subtasks: vec![line(Some("1"), "File name", false)],
        comments: vec![],
    };
    let p = plan(&Inputs {
        subtasks: &[sub("1", "Asana name", false)],
        comments: None,
        target: &target,
        base: &base,
        recorded: true,
        policy: Policy::Manual,
        on_delete: OnDelete::Delete,
    });
    assert!(p.steps.is_empty());
    assert_eq!(p.problems.len(), 1);
    assert_eq!(
        names(&p),
        vec![(Some("1".into()), "File name".into(), false)]
    );
}

/// A comment someone wrote on the target's own service (a GitHub issue comment).
fn foreign(id: &str, body: &str) -> CommentBlock {
    CommentBlock {
        asana_gid: None,
        id: Some(id.into()),
        heading: "@octocat on GitHub".into(),
        body: body.into(),
    }
}

#[test]
fn a_target_services_own_comments_are_mirrored_into_asana_with_their_author() {
    let target = TargetThread {
        subtasks: vec![],
        comments: vec![foreign("555", "Repro attached.")],
    };
    let p = run(
        &[],
        Some(&[]),
        &target,
        &ThreadRecord::default(),
        OnDelete::Delete,
    );
    assert_eq!(
        p.steps,
        vec![Step::PostComment {
            body: "Repro attached.\n\n— @octocat on GitHub (comment 555)".into()
        }]
    );

    // Mirrored (even with the state lost): paired by the attribution line, nothing posted.
    let mirror = comment(
        "30",
        "Repro attached.\n\n— @octocat on GitHub (comment 555)",
        true,
    );
    let p = run(
        &[],
        Some(std::slice::from_ref(&mirror)),
        &target,
        &ThreadRecord::default(),
        OnDelete::Delete,
    );
    assert!(p.steps.is_empty(), "{:?}", p.steps);
    let blocks = p.blocks.unwrap();
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].pair.as_deref(), Some("30"));
    assert_eq!(blocks[0].block, foreign("555", "Repro attached."));

    // Edited by its author on GitHub: the mirror follows.
    let mut base = ThreadRecord::default();
    base.comments.insert(
        "30".into(),
        CommentBase {
            text: text_digest("Repro attached."),
            target: Some("555".into()),
        },
    );
    let edited = TargetThread {
        subtasks: vec![],
        comments: vec![foreign("555", "Repro attached (Safari only).")],
    };
    let p = run(
        &[],
        Some(std::slice::from_ref(&mirror)),
        &edited,
        &base,
        OnDelete::Delete,
    );
    assert_eq!(
        p.steps,
        vec![Step::EditComment {
            gid: "30".into(),
            body: "Repro attached (Safari only).\n\n— @octocat on GitHub (comment 555)".into()
        }]
    );

    // Deleted on GitHub: its mirror is not posted back, and nothing is deleted.
    let p = run(
        &[],
        Some(std::slice::from_ref(&mirror)),
        &TargetThread::default(),
        &base,
        OnDelete::Delete,
    );
    assert!(p.steps.is_empty());
    assert!(p.blocks.unwrap().is_empty());
}

#[test]
fn asana_comments_reach_a_target_service_as_new_comments_to_post() {
    let asana = [comment("40", "Please add a test.", false)];
    let p = run(
        &[],
        Some(&asana),
        &TargetThread::default(),
        &ThreadRecord::default(),
        OnDelete::Delete,
    );
    assert!(p.steps.is_empty());
    let blocks = p.blocks.unwrap();
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].block.asana_gid.as_deref(), Some("40"));
    assert_eq!(blocks[0].block.id, None, "the target posts it");
    assert!(blocks[0].block.heading.starts_with("Alice Example · "));
}

/// Which pairs a run looks at: those without a thread record (and those changed), found
/// by one walk along the pairs and the records; records of pairs that are gone are
/// dropped, even when as many pairs are new (here 5 pairs and 5 records: a run that
/// compared the counts kept the three records of pairs gone).
#[test]
fn wanted_finds_pairs_without_a_record_and_drops_records_without_a_pair() {
    use asana_bridge_connector::{Item, TaskFields};
    use asana_bridge_state::Store;

    use super::{Changed, table, wanted};
    use crate::linkstate::LinkState;
    use crate::records::{Fingerprint, PairRecord};

    let pair = |gid: &str| {
        let item = Item {
            id: gid.into(),
            fields: TaskFields {
                title: format!("Task {gid}"),
                ..TaskFields::default()
            },
            modified_at: None,
            partner: None,
            revision: None,
            bare: false,
        };
        PairRecord {
            asana_gid: gid.into(),
            target_id: format!("{gid}.md"),
            base: item.fields.clone(),
            asana: Fingerprint::of(&item),
            target: Fingerprint::of(&item),
            asana_fields: None,
            target_fields: None,
            missing: None,
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let state = LinkState::open(&store, "l").unwrap();
    for gid in ["12", "20", "31", "40", "50"] {
        state.pairs.put(gid, &pair(gid)).unwrap();
    }
    let records = table(&store, "l").unwrap();
    // Records of 12 and 31 (paired), of 1, 25 and 9 (pairs gone: before, between and
    // after the pairs in key order).
    for gid in ["1", "12", "25", "31", "9"] {
        records.put(gid, &ThreadRecord::default()).unwrap();
    }
    let changed = Changed {
        target: ["31".to_owned()].into(),
        ..Changed::default()
    };
    let looked_at = |dry_run: bool| -> Vec<(String, bool)> {
        wanted(&store, &state, "l", &changed, None, dry_run)
            .unwrap()
            .into_iter()
            .map(|w| (w.gid, w.asana))
            .collect()
    };
    let want = [
        ("20".to_owned(), true),
        ("31".to_owned(), false),
        ("40".to_owned(), true),
        ("50".to_owned(), true),
    ];
    assert_eq!(looked_at(true), want);
    assert_eq!(records.len(), 5, "a dry run drops nothing");
    assert_eq!(looked_at(false), want);
    let kept: Vec<String> = records.keys().map(Result::unwrap).collect();
    assert_eq!(kept, ["12", "31"]);
}

/// Without a record of the thread (the state folder lost after an answer was lost), a
/// line or block without a marker that equals a subtask or own comment no line or block
/// shows is paired with it, not created again; with a record, such a line is new (the
/// record would name a create the bridge made). A line that differs in its completion,
/// and a block equal to someone else's comment, are new.
#[test]
fn without_a_record_an_unmarked_line_or_block_pairs_with_its_equal() {
    let target = TargetThread {
        subtasks: vec![
            line(Some("1"), "Reproduce", false),
            line(None, "Call the vendor", false),
            line(None, "Order parts", false),
        ],
        comments: vec![block(None, "Shipped in 2.1"), block(None, "Looks good")],
    };
    let subtasks = [
        sub("1", "Reproduce", false),
        sub("2", "Call the vendor", false),
        sub("3", "Order parts", true),
    ];
    let comments = [
        comment("c1", "Shipped in 2.1", true),
        comment("c2", "Looks good", false),
    ];
    let planned = |recorded: bool| {
        plan(&Inputs {
            subtasks: &subtasks,
            comments: Some(&comments),
            target: &target,
            base: &ThreadRecord::default(),
            recorded,
            policy: Policy::Newest,
            on_delete: OnDelete::Delete,
        })
    };

    // A line equal but for its completion is no proof: it is new, and the subtask gets
    // its own line.
    let lost = planned(false);
    assert_eq!(
        names(&lost),
        vec![
            (Some("1".into()), "Reproduce".into(), false),
            (Some("2".into()), "Call the vendor".into(), false),
            (None, "Order parts".into(), false),
            (Some("3".into()), "Order parts".into(), true),
        ]
    );
    assert_eq!(
        lost.steps,
        vec![
            Step::CreateSubtask(NewSubtask {
                name: "Order parts".into(),
                completed: false,
            }),
            Step::PostComment {
                body: "Looks good".into(),
            }
        ],
        "only the differing line and the block equal to someone else's comment are new"
    );
    assert!(
        lost.blocks
            .as_ref()
            .expect("comments mirrored")
            .iter()
            .any(|b| b.pair.as_deref() == Some("c1") && b.step.is_none()),
        "the block is paired with the bridge's own comment"
    );

    let kept = planned(true);
    assert!(
        kept.steps.contains(&Step::CreateSubtask(NewSubtask {
            name: "Call the vendor".into(),
            completed: false,
        })),
        "{:?}",
        kept.steps
    );
    assert!(kept.steps.contains(&Step::PostComment {
        body: "Shipped in 2.1".into(),
    }));
}
