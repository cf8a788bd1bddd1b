//! A task's thread, as a property: random interleavings of people's steps on both sides
//! and runs, some of which lose the answer to a create (the comment or subtask is made,
//! the run never hears of it), through the real planner ([`plan`]), the engine's
//! bookkeeping of what the writes made ([`Now::shown`]) and the new base ([`settle`]).
//! The end-to-end property test (`tests/property.rs`) models subtasks without lost
//! answers, and no comments.
//!
//! - Comments: written in Asana by someone else or by the bridge's own user, their text
//!   edited there; a block typed into the file, edited or removed. After every run: no
//!   text typed into a block is ever in Asana twice, and one is posted once a run heard
//!   of it; a comment someone else wrote is never changed by the bridge; no comment is
//!   deleted; no two blocks name the same comment; every comment whose block was never
//!   removed has one, and a removed block's comment does not come back.
//! - Subtasks: added, renamed, checked or deleted in Asana; a line typed, renamed,
//!   checked or removed in the file. After every run: no name typed into a line is ever
//!   in Asana twice; the bridge deletes a subtask only after its line was removed, and
//!   only as last agreed; no two lines name the same subtask; every line is created.
//! - After the last step, a run and one more: the second plans nothing and changes
//!   nothing, and no create is left pending.

use std::collections::{BTreeMap, BTreeSet};

use asana_bridge_connector::{Author, Comment, CommentBlock, Subtask, SubtaskLine, TargetThread};
use proptest::prelude::*;

use super::plan::{Inputs, Step, plan};
use super::record::{Pending, ThreadRecord, text_digest};
use super::{Now, settle};
use crate::config::OnDelete;
use crate::merge::Policy;

/// One step of a history; `at` picks a comment or block modulo their number (skipped
/// when there are none).
#[derive(Clone, Debug)]
enum Op {
    /// A comment written in Asana, by the bridge's own user or by someone else.
    AsanaPost { own: bool },
    /// A comment's text edited in Asana (by its author).
    AsanaEdit { at: usize },
    /// A block without a marker typed at the end of the file's comments.
    FileAdd,
    /// A block's text edited in the file.
    FileEdit { at: usize },
    /// A block removed from the file.
    FileRemove { at: usize },
    /// A subtask added in Asana.
    SubAdd,
    /// A subtask renamed (or, with `check`, checked or unchecked) in Asana.
    SubEdit { at: usize, check: bool },
    /// A subtask deleted in Asana.
    SubDelete { at: usize },
    /// A checklist line typed without a marker.
    LineAdd,
    /// A line renamed (or, with `check`, checked or unchecked) in the file.
    LineEdit { at: usize, check: bool },
    /// A line removed from the file.
    LineRemove { at: usize },
    /// A run; with `lose_create`, the answer to its first create (a post or a subtask)
    /// is lost (the comment or subtask is made in Asana, the run never learns its gid),
    /// after which the run stops (a transport failure stops the link) or goes on with
    /// the task's other writes (an ambiguous answer stops that write only).
    Run { lose_create: bool, then_stop: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => any::<bool>().prop_map(|own| Op::AsanaPost { own }),
        2 => any::<usize>().prop_map(|at| Op::AsanaEdit { at }),
        3 => Just(Op::FileAdd),
        2 => any::<usize>().prop_map(|at| Op::FileEdit { at }),
        1 => any::<usize>().prop_map(|at| Op::FileRemove { at }),
        2 => Just(Op::SubAdd),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(at, check)| Op::SubEdit { at, check }),
        1 => any::<usize>().prop_map(|at| Op::SubDelete { at }),
        3 => Just(Op::LineAdd),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(at, check)| Op::LineEdit { at, check }),
        1 => any::<usize>().prop_map(|at| Op::LineRemove { at }),
        4 => (any::<bool>(), any::<bool>())
            .prop_map(|(lose_create, then_stop)| Op::Run { lose_create, then_stop }),
    ]
}

/// Both sides, the base, and what the history did that the checks need.
#[derive(Default)]
struct World {
    asana: Vec<Comment>,
    file: Vec<CommentBlock>,
    record: ThreadRecord,
    /// Texts are unique: each step writes a new one.
    next_text: usize,
    next_gid: u64,
    /// Someone else's comments, by gid, with the text they last gave them.
    others: BTreeMap<String, String>,
    /// Comments whose block was removed from the file.
    removed: BTreeSet<String>,
    /// Texts typed into blocks (and not yet replaced by another edit).
    typed: BTreeSet<String>,
    subtasks: Vec<Subtask>,
    lines: Vec<SubtaskLine>,
    /// Names typed into lines.
    named: BTreeSet<String>,
    /// Subtasks whose line was removed from the file.
    lines_removed: BTreeSet<String>,
    /// Subtasks people deleted in Asana.
    deleted_in_asana: BTreeSet<String>,
}

impl World {
    fn text(&mut self, prefix: &str) -> String {
        self.next_text += 1;
        format!("{prefix} {}", self.next_text)
    }

    fn gid(&mut self) -> String {
        self.next_gid += 1;
        format!("{}", 9_000 + self.next_gid)
    }

    fn subtask(&mut self, name: String, completed: bool) -> Subtask {
        Subtask {
            remote_id: self.gid(),
            name,
            completed,
        }
    }

    fn comment(&mut self, body: String, own: bool) -> Comment {
        Comment {
            remote_id: self.gid(),
            author: Author {
                remote_id: if own { "1" } else { "2" }.into(),
                name: if own { "Bridge Bot" } else { "Alice Example" }.into(),
                email: None,
            },
            created_at: "2026-11-30T14:02:00Z".parse().expect("a timestamp"),
            body,
            own,
            edited: false,
        }
    }

    fn step(&mut self, op: &Op) -> Result<Option<usize>, TestCaseError> {
        match *op {
            Op::AsanaPost { own } => {
                let body = self.text("asana");
                let c = self.comment(body.clone(), own);
                if !own {
                    self.others.insert(c.remote_id.clone(), body);
                }
                self.asana.push(c);
            }
            Op::AsanaEdit { at } => {
                if !self.asana.is_empty() {
                    let body = self.text("edited in asana");
                    let n = self.asana.len();
                    let c = &mut self.asana[at % n];
                    body.clone_into(&mut c.body);
                    c.edited = true;
                    if let Some(t) = self.others.get_mut(&c.remote_id) {
                        *t = body;
                    }
                }
            }
            Op::FileAdd => {
                let body = self.text("typed");
                self.typed.insert(body.clone());
                self.file.push(CommentBlock {
                    asana_gid: None,
                    id: None,
                    heading: "Reply".into(),
                    body,
                });
            }
            Op::FileEdit { at } => {
                if !self.file.is_empty() {
                    let body = self.text("edited here");
                    self.typed.insert(body.clone());
                    let n = self.file.len();
                    self.file[at % n].body = body;
                }
            }
            Op::FileRemove { at } => {
                if !self.file.is_empty() {
                    let n = self.file.len();
                    let gone = self.file.remove(at % n);
                    self.removed.extend(gone.asana_gid);
                }
            }
            Op::SubAdd => {
                let name = self.text("subtask");
                let s = self.subtask(name, false);
                self.subtasks.push(s);
            }
            Op::SubEdit { at, check } => {
                if !self.subtasks.is_empty() {
                    let name = self.text("renamed in asana");
                    let n = self.subtasks.len();
                    let s = &mut self.subtasks[at % n];
                    if check {
                        s.completed = !s.completed;
                    } else {
                        s.name = name;
                    }
                }
            }
            Op::SubDelete { at } => {
                if !self.subtasks.is_empty() {
                    let n = self.subtasks.len();
                    let gone = self.subtasks.remove(at % n);
                    self.deleted_in_asana.insert(gone.remote_id);
                }
            }
            Op::LineAdd => {
                let name = self.text("line");
                self.named.insert(name.clone());
                self.lines.push(SubtaskLine {
                    asana_gid: None,
                    name,
                    completed: false,
                });
            }
            Op::LineEdit { at, check } => {
                if !self.lines.is_empty() {
                    let name = self.text("renamed here");
                    let n = self.lines.len();
                    let l = &mut self.lines[at % n];
                    if check {
                        l.completed = !l.completed;
                    } else {
                        self.named.insert(name.clone());
                        l.name = name;
                    }
                }
            }
            Op::LineRemove { at } => {
                if !self.lines.is_empty() {
                    let n = self.lines.len();
                    let gone = self.lines.remove(at % n);
                    self.lines_removed.extend(gone.asana_gid);
                }
            }
            Op::Run {
                lose_create,
                then_stop,
            } => return self.run(lose_create, then_stop).map(Some),
        }
        Ok(None)
    }

    /// One run of the task's comments, as the engine makes it; returns how many writes
    /// it made (Asana steps, and the file when it changed).
    fn run(&mut self, mut lose_create: bool, then_stop: bool) -> Result<usize, TestCaseError> {
        let shown = TargetThread {
            subtasks: self.lines.clone(),
            comments: self.file.clone(),
        };
        let planned = plan(&Inputs {
            subtasks: &self.subtasks,
            comments: Some(&self.asana),
            target: &shown,
            base: &self.record,
            recorded: true,
            policy: Policy::Newest,
            on_delete: OnDelete::Delete,
        });
        let mut now = Now {
            subtasks: self.subtasks.clone(),
            comments: Some(self.asana.clone()),
            made: vec![None; planned.steps.len()],
        };
        let mut record = self.record.clone();
        let mut writes = 0;
        for (at, step) in planned.steps.iter().enumerate() {
            writes += 1;
            match step {
                Step::PostComment { body } => {
                    record.pending.push(Pending::Comment {
                        text: text_digest(body),
                    });
                    let c = self.comment(body.clone(), true);
                    self.asana.push(c.clone());
                    if lose_create {
                        // Made, but the run never hears of it: the pending create is
                        // kept.
                        lose_create = false;
                        if then_stop {
                            break;
                        }
                        continue;
                    }
                    now.made_comment(at, c);
                    let i = record.pending.iter().position(|p| {
                        *p == Pending::Comment {
                            text: text_digest(body),
                        }
                    });
                    record.pending.remove(i.expect("just pushed"));
                }
                Step::EditComment { gid, body } => {
                    let c = self
                        .asana
                        .iter_mut()
                        .find(|c| c.remote_id == *gid)
                        .ok_or_else(|| TestCaseError::fail(format!("edit of unknown {gid}")))?;
                    prop_assert!(c.own, "the bridge edited {gid}, someone else's comment");
                    body.clone_into(&mut c.body);
                    now.replace_comment(c.clone());
                }
                Step::CreateSubtask(new) => {
                    let pending = Pending::Subtask {
                        name: new.name.clone(),
                        completed: Some(new.completed),
                    };
                    record.pending.push(pending.clone());
                    let s = self.subtask(new.name.clone(), new.completed);
                    self.subtasks.push(s.clone());
                    if lose_create {
                        lose_create = false;
                        if then_stop {
                            break;
                        }
                        continue;
                    }
                    now.made_subtask(at, s);
                    let i = record.pending.iter().position(|p| *p == pending);
                    record.pending.remove(i.expect("just pushed"));
                }
                Step::UpdateSubtask {
                    gid,
                    name,
                    completed,
                } => {
                    let s = self
                        .subtasks
                        .iter_mut()
                        .find(|s| s.remote_id == *gid)
                        .ok_or_else(|| TestCaseError::fail(format!("update of unknown {gid}")))?;
                    if let Some(name) = name {
                        name.clone_into(&mut s.name);
                    }
                    if let Some(done) = completed {
                        s.completed = *done;
                    }
                    now.replace_subtask(s.clone());
                }
                Step::DeleteSubtask { gid, .. } => {
                    prop_assert!(
                        self.lines_removed.contains(gid),
                        "subtask {} deleted, its line never removed",
                        gid
                    );
                    // Only as last agreed: a subtask changed in Asana since keeps its line.
                    let now_in_asana = self.subtasks.iter().find(|s| s.remote_id == *gid);
                    let agreed = self.record.subtasks.get(gid);
                    prop_assert!(
                        now_in_asana.zip(agreed).is_some_and(|(s, b)| {
                            s.name == b.name && s.completed == b.completed
                        }),
                        "subtask {} deleted, changed in Asana since it was agreed",
                        gid
                    );
                    let before = self.subtasks.len();
                    self.subtasks.retain(|s| s.remote_id != *gid);
                    prop_assert_eq!(self.subtasks.len() + 1, before, "deleted {} once", gid);
                    now.remove_subtask(gid, at);
                }
            }
        }
        // Also after a lost answer, as the engine does: what the run knows it made is
        // shown, the rest of the plan too, and the pending create stays in the base.
        let (wanted, pairs) = now.shown(&planned, &shown);
        if wanted != shown {
            writes += 1;
            self.file = wanted.comments.clone();
            self.lines = wanted.subtasks.clone();
        }
        self.record = settle(&record, &now, &planned, &wanted, &pairs);
        Ok(writes)
    }

    /// What must hold after every run.
    fn check(&self, heard_of_every_create: bool) -> Result<(), TestCaseError> {
        for name in &self.named {
            let n = self.subtasks.iter().filter(|s| s.name == *name).count();
            prop_assert!(n <= 1, "subtask \"{}\" is in Asana {} times", name, n);
        }
        let mut lined = BTreeSet::new();
        for l in &self.lines {
            if let Some(g) = &l.asana_gid {
                prop_assert!(lined.insert(g.clone()), "two lines name {}", g);
            }
        }
        if heard_of_every_create {
            for l in &self.lines {
                prop_assert!(l.asana_gid.is_some(), "line \"{}\" was not created", l.name);
            }
        }
        for text in &self.typed {
            let n = self.asana.iter().filter(|c| c.body == *text).count();
            prop_assert!(n <= 1, "\"{text}\" is in Asana {n} times");
        }
        for (gid, text) in &self.others {
            let c = self.asana.iter().find(|c| c.remote_id == *gid);
            prop_assert_eq!(
                c.map(|c| c.body.as_str()),
                Some(text.as_str()),
                "someone else's comment {} was changed or deleted",
                gid
            );
        }
        let mut marked = BTreeSet::new();
        for b in &self.file {
            if let Some(g) = &b.asana_gid {
                prop_assert!(marked.insert(g.clone()), "two blocks name {}", g);
            }
        }
        if heard_of_every_create {
            for c in &self.asana {
                let has_block = marked.contains(&c.remote_id);
                prop_assert_eq!(
                    has_block,
                    !self.removed.contains(&c.remote_id),
                    "comment {} (\"{}\"): a block only while its block was never removed",
                    &c.remote_id,
                    &c.body
                );
            }
            for b in &self.file {
                prop_assert!(
                    b.asana_gid.is_some() || b.body.trim().is_empty(),
                    "block \"{}\" was not posted",
                    b.body
                );
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn threads_converge_without_duplicates_or_losses(ops in prop::collection::vec(op(), 1..30)) {
        let mut w = World::default();
        for op in &ops {
            if let Some(_writes) = w.step(op)? {
                let lost = matches!(op, Op::Run { lose_create: true, .. });
                w.check(!lost)?;
            }
        }
        // Two more runs that hear every answer: the first brings both sides together,
        // the second has nothing left to do.
        w.run(false, false)?;
        w.check(true)?;
        let (file, asana, record) = (w.file.clone(), w.asana.clone(), w.record.clone());
        let writes = w.run(false, false)?;
        prop_assert_eq!(writes, 0, "a second run wrote");
        prop_assert_eq!(&w.file, &file);
        prop_assert_eq!(&w.asana, &asana);
        prop_assert_eq!(&w.record, &record);
        prop_assert_eq!(&w.record.pending, &Vec::new(), "a create still pending");
    }
}
