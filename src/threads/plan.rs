//! Deciding one task's thread (pure): from Asana's subtasks and comments, the target's
//! checklist lines and comment blocks, and the last agreed [`ThreadRecord`], the writes to
//! make in Asana ([`Step`]s) and the lines and blocks the target should show afterwards.
//!
//! Subtasks merge part by part (name, completion) against the base, as task fields do; a
//! removed line deletes its subtask only when Asana did not change it since, and as the
//! link's `on_delete` says; a section emptied of every line deletes nothing (an
//! accident, like an emptied file). Comments: a block without a marker is posted, an
//! edited block edits its comment only where the bridge's user wrote it, a removed block
//! deletes nothing. A line or block without a marker that matches what the bridge
//! created (a pending create, or a recorded one whose marker never reached the file) is
//! adopted, never created twice; so is one equal to a subtask or own comment no line or
//! block shows, when the state keeps no record of the thread (a lost state folder, after
//! a lost answer, leaves nothing else to tell it by).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use asana_bridge_connector::{
    Comment, CommentBlock, NewSubtask, Subtask, SubtaskLine, TargetThread,
};

use super::attribution;
use super::record::{Pending, SubtaskBase, ThreadRecord, text_digest};
use crate::config::OnDelete;
use crate::merge::Policy;

/// What one task's thread is planned from.
pub struct Inputs<'a> {
    /// Asana's direct subtasks, in Asana's order.
    pub subtasks: &'a [Subtask],
    /// Asana's comments, oldest first; `None` when the link leaves comments out.
    pub comments: Option<&'a [Comment]>,
    /// What the target shows.
    pub target: &'a TargetThread,
    /// As last agreed (empty for a task never synced).
    pub base: &'a ThreadRecord,
    /// Whether the state keeps a record of this thread. Without one (the state folder
    /// was lost), a line or block without a marker may be what the bridge created just
    /// before, its answer lost: it is paired with an equal subtask (name and completion)
    /// or own comment that no line (or block) shows, instead of being created again.
    pub recorded: bool,
    pub policy: Policy,
    pub on_delete: OnDelete,
}

/// One write to Asana.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    CreateSubtask(NewSubtask),
    UpdateSubtask {
        gid: String,
        name: Option<String>,
        completed: Option<bool>,
    },
    DeleteSubtask {
        gid: String,
        name: String,
    },
    PostComment {
        body: String,
    },
    EditComment {
        gid: String,
        body: String,
    },
}

/// A checklist line of the outcome; `step` is the create that gives it its marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutLine {
    pub line: SubtaskLine,
    pub step: Option<usize>,
}

/// A comment block of the outcome; `step` is the post that gives it its marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutBlock {
    pub block: CommentBlock,
    pub step: Option<usize>,
    /// The Asana comment it is paired with (its marker, or the mirror of a target's own
    /// comment).
    pub pair: Option<String>,
}

/// What to do with one task's thread.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThreadPlan {
    /// Writes to Asana, in order.
    pub steps: Vec<Step>,
    /// The checklist lines the target should show.
    pub lines: Vec<OutLine>,
    /// The comment blocks the target should show (`None`: comments are left out and the
    /// target's blocks are kept as they are).
    pub blocks: Option<Vec<OutBlock>>,
    /// Subtasks let go (a removed line under `on_delete` `complete` or `ignore`).
    pub let_go: BTreeSet<String>,
    /// Errors for this task, one line each (an edit that is not sent, a conflict).
    pub problems: Vec<String>,
    /// What the user should hear of (a subtask deleted).
    pub notes: Vec<String>,
}

/// Plans one task's thread.
#[must_use]
pub fn plan(inputs: &Inputs<'_>) -> ThreadPlan {
    let mut out = ThreadPlan::default();
    plan_subtasks(inputs, &mut out);
    if let Some(comments) = inputs.comments {
        out.blocks = Some(plan_comments(inputs, comments, &mut out));
    }
    out
}

/// Whether `s` can be an Asana gid.
fn is_gid(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Where each marked line or block sits, the ones without a marker, and problems with
/// markers (not a gid, or one gid twice: such lines are kept as they are).
struct Markers<'a> {
    at: BTreeMap<&'a str, usize>,
    unmarked: Vec<usize>,
    kept: HashSet<usize>,
}

fn markers<'a>(
    gids: impl Iterator<Item = Option<&'a str>>,
    what: &str,
    label: impl Fn(usize) -> String,
    problems: &mut Vec<String>,
) -> Markers<'a> {
    let mut m = Markers {
        at: BTreeMap::new(),
        unmarked: Vec::new(),
        kept: HashSet::new(),
    };
    for (i, gid) in gids.enumerate() {
        match gid {
            None => m.unmarked.push(i),
            Some(g) if !is_gid(g) => {
                problems.push(format!(
                    "{what} {}: its marker `asana:{g}` is not an Asana gid; left as it is (remove the marker to create a new one)",
                    label(i)
                ));
                m.kept.insert(i);
            }
            Some(g) if m.at.contains_key(g) => {
                problems.push(format!(
                    "{what} {}: marker `asana:{g}` appears twice; this copy is left as it is (remove its marker to create a new one)",
                    label(i)
                ));
                m.kept.insert(i);
            }
            Some(g) => {
                m.at.insert(g, i);
            }
        }
    }
    m
}

/// The keys (a subtask's name, a comment's text digest) of the creates of one kind the
/// base says were sent (or about to be) and not recorded.
fn pending_creates<'a>(
    base: &'a ThreadRecord,
    key: impl Fn(&'a Pending) -> Option<&'a String>,
) -> Vec<&'a str> {
    base.pending
        .iter()
        .filter_map(key)
        .map(String::as_str)
        .collect()
}

/// The outcome of one part (name, completion) of a subtask both sides hold.
struct Part<T> {
    value: T,
    to_asana: bool,
    conflict: bool,
}

fn merge_part<T: PartialEq + Clone>(target: &T, asana: &T, base: &T, policy: Policy) -> Part<T> {
    let (t, a) = (target != base, asana != base);
    let take = |value: &T, to_asana| Part {
        value: value.clone(),
        to_asana,
        conflict: false,
    };
    match (t, a) {
        (false, _) => take(asana, false),
        (true, false) => take(target, true),
        (true, true) if target == asana => take(asana, false),
        (true, true) => match policy {
            Policy::Target => take(target, true),
            Policy::Asana | Policy::Newest => take(asana, false),
            Policy::Manual => Part {
                value: target.clone(),
                to_asana: false,
                conflict: true,
            },
        },
    }
}

fn plan_subtasks(inputs: &Inputs<'_>, out: &mut ThreadPlan) {
    let lines = &inputs.target.subtasks;
    let base = &inputs.base.subtasks;
    let asana: BTreeMap<&str, &Subtask> = inputs
        .subtasks
        .iter()
        .map(|s| (s.remote_id.as_str(), s))
        .collect();
    let label = |i: usize| format!("\"{}\"", lines[i].name);
    let mut m = markers(
        lines.iter().map(|l| l.asana_gid.as_deref()),
        "subtask line",
        label,
        &mut out.problems,
    );

    // Lines without a marker that are what the bridge created: adopted.
    let mut pending: Vec<(&str, Option<bool>)> = inputs
        .base
        .pending
        .iter()
        .filter_map(|p| match p {
            Pending::Subtask { name, completed } => Some((name.as_str(), *completed)),
            Pending::Comment { .. } => None,
        })
        .collect();
    let mut adopted: BTreeMap<usize, &str> = BTreeMap::new();
    // What a pending create adopted here sent: the base of its line, so that a change
    // since on either side is a change (a record from before the completion was kept
    // in it: Asana's as it is now).
    let mut made: BTreeMap<&str, SubtaskBase> = BTreeMap::new();
    for &i in &m.unmarked {
        let name = lines[i].name.as_str();
        let found = inputs.subtasks.iter().find(|s| {
            let gid = s.remote_id.as_str();
            s.name == name
                && !m.at.contains_key(gid)
                && !adopted.values().any(|g| *g == gid)
                && (base.contains_key(gid)
                    || pending.iter().any(|(n, _)| *n == name)
                    || !inputs.recorded && s.completed == lines[i].completed)
        });
        if let Some(s) = found {
            if !base.contains_key(&s.remote_id)
                && let Some(p) = pending.iter().position(|(n, _)| *n == name)
            {
                let (_, sent) = pending.remove(p);
                made.insert(
                    &s.remote_id,
                    SubtaskBase {
                        name: s.name.clone(),
                        completed: sent.unwrap_or(s.completed),
                    },
                );
            }
            adopted.insert(i, &s.remote_id);
        }
    }
    for (&i, &gid) in &adopted {
        m.at.insert(gid, i);
    }

    // Every line gone while the task has two or more agreed subtasks: an accident (a
    // section deleted, an old copy of the file), never a reason to delete them all.
    let agreed_alive = base
        .keys()
        .filter(|g| asana.contains_key(g.as_str()))
        .count();
    let emptied = lines.is_empty() && agreed_alive > 1;
    if emptied {
        out.notes.push(format!(
            "the {agreed_alive} subtask lines are all gone from the file: nothing is deleted in Asana and the lines are written back (remove lines one or a few at a time to delete subtasks)"
        ));
    }

    for (i, line) in lines.iter().enumerate() {
        let keep = |out: &mut ThreadPlan| {
            out.lines.push(OutLine {
                line: line.clone(),
                step: None,
            });
        };
        if m.kept.contains(&i) {
            keep(out);
            continue;
        }
        let gid = adopted.get(&i).copied().or(line
            .asana_gid
            .as_deref()
            .filter(|_| !adopted.contains_key(&i)));
        let Some(gid) = gid else {
            if line.name.trim().is_empty() {
                keep(out);
                continue;
            }
            out.steps.push(Step::CreateSubtask(NewSubtask {
                name: line.name.clone(),
                completed: line.completed,
            }));
            out.lines.push(OutLine {
                line: line.clone(),
                step: Some(out.steps.len() - 1),
            });
            continue;
        };
        match (asana.get(gid), base.get(gid).or_else(|| made.get(gid))) {
            (Some(a), Some(b)) => {
                let name = merge_part(&line.name, &a.name, &b.name, inputs.policy);
                let done = merge_part(&line.completed, &a.completed, &b.completed, inputs.policy);
                if name.conflict || done.conflict {
                    out.problems.push(format!(
                        "subtask \"{}\" (asana:{gid}) changed on both sides (Asana: \"{}\"{}); left as it is on both (conflict policy manual)",
                        line.name,
                        a.name,
                        if a.completed { ", done" } else { "" }
                    ));
                }
                let new_name = (name.to_asana && name.value != a.name).then(|| name.value.clone());
                let new_done = (done.to_asana && done.value != a.completed).then_some(done.value);
                if new_name.is_some() || new_done.is_some() {
                    out.steps.push(Step::UpdateSubtask {
                        gid: gid.to_owned(),
                        name: new_name,
                        completed: new_done,
                    });
                }
                out.lines.push(OutLine {
                    line: SubtaskLine {
                        asana_gid: Some(gid.to_owned()),
                        name: name.value,
                        completed: done.value,
                    },
                    step: None,
                });
            }
            (Some(a), None) => {
                if a.name != line.name || a.completed != line.completed {
                    out.problems.push(format!(
                        "subtask line \"{}\" and Asana's subtask {gid} (\"{}\"{}) differ and were never synced: left as they are; make them agree or remove the line's marker",
                        line.name,
                        a.name,
                        if a.completed { ", done" } else { "" }
                    ));
                    keep(out);
                } else {
                    out.lines.push(OutLine {
                        line: SubtaskLine {
                            asana_gid: Some(gid.to_owned()),
                            ..line.clone()
                        },
                        step: None,
                    });
                }
            }
            (None, Some(b)) => {
                if b.name == line.name && b.completed == line.completed {
                    out.notes.push(format!(
                        "subtask \"{}\" was deleted in Asana: its line is removed",
                        line.name
                    ));
                } else {
                    out.problems.push(format!(
                        "subtask \"{}\" was deleted in Asana, but its line changed since: kept (remove its marker to create it again)",
                        line.name
                    ));
                    keep(out);
                }
            }
            (None, None) => {
                out.problems.push(format!(
                    "subtask line \"{}\" names asana:{gid}, which is not a subtask of this task: left as it is (remove the marker to create a new subtask)",
                    line.name
                ));
                keep(out);
            }
        }
    }

    // Asana's subtasks without a line: new in Asana, or their line was removed.
    for a in inputs.subtasks {
        let gid = a.remote_id.as_str();
        if m.at.contains_key(gid) || inputs.base.let_go.contains(gid) {
            continue;
        }
        let add = |out: &mut ThreadPlan| {
            out.lines.push(OutLine {
                line: SubtaskLine {
                    asana_gid: Some(gid.to_owned()),
                    name: a.name.clone(),
                    completed: a.completed,
                },
                step: None,
            });
        };
        match base.get(gid) {
            Some(b) if !emptied => {
                if b.name == a.name && b.completed == a.completed {
                    match inputs.on_delete {
                        OnDelete::Delete => {
                            out.steps.push(Step::DeleteSubtask {
                                gid: gid.to_owned(),
                                name: a.name.clone(),
                            });
                        }
                        OnDelete::Complete => {
                            if !a.completed {
                                out.steps.push(Step::UpdateSubtask {
                                    gid: gid.to_owned(),
                                    name: None,
                                    completed: Some(true),
                                });
                            }
                            out.let_go.insert(gid.to_owned());
                        }
                        OnDelete::Ignore => {
                            out.let_go.insert(gid.to_owned());
                        }
                    }
                } else {
                    out.problems.push(format!(
                        "subtask \"{}\" (asana:{gid}): its line was removed from the file, but it changed in Asana since; not deleted, the line is written back",
                        a.name
                    ));
                    add(out);
                }
            }
            _ => add(out),
        }
    }
}

/// The heading of a comment block: its author and when it was posted (UTC, minutes).
#[must_use]
pub fn heading(comment: &Comment) -> String {
    let author = if comment.author.name.trim().is_empty() {
        "Someone"
    } else {
        comment.author.name.trim()
    };
    format!(
        "{author} · {}",
        comment.created_at.strftime("%Y-%m-%d %H:%M")
    )
}

fn plan_comments(inputs: &Inputs<'_>, comments: &[Comment], out: &mut ThreadPlan) -> Vec<OutBlock> {
    let blocks = &inputs.target.comments;
    let base = &inputs.base.comments;
    let asana: BTreeMap<&str, &Comment> =
        comments.iter().map(|c| (c.remote_id.as_str(), c)).collect();
    // Each Asana comment's text without the attribution line of a mirrored target
    // comment, and the target comments so mirrored (by base, or by that line).
    let mut texts: BTreeMap<&str, &str> = BTreeMap::new();
    let mut mirrors: BTreeMap<&str, &str> = BTreeMap::new();
    for c in comments {
        let (origin, text) = attribution::strip(&c.body);
        texts.insert(&c.remote_id, text);
        if let Some(origin) = origin {
            mirrors.insert(origin, &c.remote_id);
        }
    }
    for (gid, b) in base {
        if let Some(t) = &b.target {
            mirrors.entry(t.as_str()).or_insert(gid.as_str());
        }
    }
    let label = |i: usize| format!("\"{}\"", blocks[i].heading);
    let mut m = markers(
        blocks.iter().map(|b| b.asana_gid.as_deref()),
        "comment",
        label,
        &mut out.problems,
    );

    // A target's own comment already mirrored, and blocks without a marker that are
    // comments the bridge posted: paired, never posted again.
    let mut pending = pending_creates(inputs.base, |p| match p {
        Pending::Comment { text } => Some(text),
        Pending::Subtask { .. } => None,
    });
    let mut adopted: BTreeMap<usize, &str> = BTreeMap::new();
    for &i in &m.unmarked {
        let block = &blocks[i];
        if let Some(id) = &block.id {
            if let Some(&gid) = mirrors.get(id.as_str())
                && !m.at.contains_key(gid)
            {
                adopted.insert(i, gid);
            }
            continue;
        }
        let digest = text_digest(&block.body);
        let found = comments.iter().find(|c| {
            let gid = c.remote_id.as_str();
            c.own
                && text_digest(texts[gid]) == digest
                && !m.at.contains_key(gid)
                && !adopted.values().any(|g| *g == gid)
                && (base.contains_key(gid)
                    || pending.contains(&digest.as_str())
                    || !inputs.recorded)
        });
        if let Some(c) = found {
            if !base.contains_key(&c.remote_id)
                && let Some(p) = pending.iter().position(|d| *d == digest)
            {
                pending.remove(p);
            }
            adopted.insert(i, &c.remote_id);
        }
    }
    for (&i, &gid) in &adopted {
        m.at.insert(gid, i);
    }

    let mut kept = Vec::new();
    let mut to_post = Vec::new();
    for (i, block) in blocks.iter().enumerate() {
        let keep = |kept: &mut Vec<OutBlock>, pair: Option<&str>| {
            kept.push(OutBlock {
                block: block.clone(),
                step: None,
                pair: pair.map(str::to_owned),
            });
        };
        if m.kept.contains(&i) {
            keep(&mut kept, None);
            continue;
        }
        let gid = adopted.get(&i).copied().or(block
            .asana_gid
            .as_deref()
            .filter(|_| !adopted.contains_key(&i)));
        let Some(gid) = gid else {
            if !block.body.trim().is_empty() {
                to_post.push(block);
            }
            continue;
        };
        // A comment someone wrote on the target's service: only its text flows, and only
        // from there (the bridge never writes over it).
        let foreign = block.id.is_some() && block.asana_gid.is_none();
        let shown = |c: &Comment, text: &str| OutBlock {
            block: if foreign {
                block.clone()
            } else {
                CommentBlock {
                    asana_gid: Some(gid.to_owned()),
                    id: block.id.clone(),
                    heading: heading(c),
                    body: text.to_owned(),
                }
            },
            step: None,
            pair: Some(gid.to_owned()),
        };
        match (asana.get(gid), base.get(gid)) {
            (Some(a), Some(b)) => {
                let text = texts[gid];
                let t_changed = text_digest(&block.body) != b.text;
                let a_changed = text_digest(text) != b.text;
                match (t_changed, a_changed) {
                    (false, _) => kept.push(shown(a, text)),
                    (true, false) if a.own => {
                        out.steps.push(Step::EditComment {
                            gid: gid.to_owned(),
                            body: match &block.id {
                                Some(id) if foreign => {
                                    attribution::attributed(&block.body, &block.heading, id)
                                }
                                _ => block.body.clone(),
                            },
                        });
                        kept.push(OutBlock {
                            step: Some(out.steps.len() - 1),
                            ..shown(a, &block.body)
                        });
                    }
                    (true, false) => {
                        out.problems.push(format!(
                            "comment \"{}\" (asana:{gid}) was written by {}: only its author may edit it, so the edit is not sent (undo it, or post a new comment)",
                            block.heading,
                            if a.author.name.is_empty() { "someone else" } else { &a.author.name }
                        ));
                        keep(&mut kept, Some(gid));
                    }
                    (true, true) if text_digest(&block.body) == text_digest(text) => {
                        kept.push(shown(a, text));
                    }
                    (true, true) => {
                        out.problems.push(format!(
                            "comment \"{}\" (asana:{gid}) changed both here and in Asana: left as it is on both",
                            block.heading
                        ));
                        keep(&mut kept, Some(gid));
                    }
                }
            }
            (Some(a), None) => {
                let text = texts[gid];
                if text_digest(text) == text_digest(&block.body) {
                    kept.push(shown(a, text));
                } else {
                    out.problems.push(format!(
                        "comment \"{}\" and Asana's comment {gid} differ and were never synced: left as they are",
                        block.heading
                    ));
                    keep(&mut kept, Some(gid));
                }
            }
            (None, Some(b)) => {
                if foreign {
                    keep(&mut kept, None);
                } else if text_digest(&block.body) != b.text {
                    out.problems.push(format!(
                        "comment \"{}\" was deleted in Asana, but it changed here since: kept (remove its marker to post it again)",
                        block.heading
                    ));
                    keep(&mut kept, None);
                }
            }
            (None, None) => {
                out.problems.push(format!(
                    "comment \"{}\" names asana:{gid}, which is not a comment on this task: left as it is (remove the marker to post it as a new comment)",
                    block.heading
                ));
                keep(&mut kept, None);
            }
        }
    }

    // Asana's comments without a block: new ones are added (oldest first); one whose
    // block was removed stays out (removing a block deletes nothing), and so does the
    // mirror of a target comment.
    let mirrored: BTreeSet<&str> = mirrors.values().copied().collect();
    for c in comments {
        let gid = c.remote_id.as_str();
        if m.at.contains_key(gid) || base.contains_key(gid) || mirrored.contains(gid) {
            continue;
        }
        kept.push(OutBlock {
            block: CommentBlock {
                asana_gid: Some(gid.to_owned()),
                id: None,
                heading: heading(c),
                body: texts[gid].to_owned(),
            },
            step: None,
            pair: Some(gid.to_owned()),
        });
    }
    // New blocks are posted now: they are the newest.
    for block in to_post {
        out.steps.push(Step::PostComment {
            body: match &block.id {
                Some(id) => attribution::attributed(&block.body, &block.heading, id),
                None => block.body.clone(),
            },
        });
        kept.push(OutBlock {
            block: block.clone(),
            step: Some(out.steps.len() - 1),
            pair: None,
        });
    }
    kept
}
