//! Subtasks and comments beside each paired task: the run's second phase, after the
//! tasks themselves are synced.
//!
//! A task's thread is looked at only when something may have changed: a pair whose
//! Asana task or target item was read changed this run (Asana's feed names a task whose
//! comments or subtasks changed; a comment bumps its `modified_at`), and a pair never
//! looked at yet (the first import, an upgrade, an interrupted fill, which the next run
//! resumes). A quiet run reads nothing more. For each such pair: the target item and
//! its thread are read ([`Connector::read_thread`]; a target that keeps none is left
//! alone), Asana's subtasks (only for a task with any) and comments, then [`plan`]
//! decides (pure), the Asana writes are made (a create is recorded as pending,
//! durably, before it is sent, so that a run killed after it adopts what it made), the
//! target's sections are written when they differ, and the new base is stored
//! ([`record`]).

pub mod attribution;
pub mod plan;
pub mod record;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod thread_model;

use std::collections::BTreeSet;

use asana_bridge_connector::{
    Comment, CommentBlock, Connector, ConnectorError, ErrorKind, Identity, Item, Subtask,
    SubtaskLine, TargetThread, Threads,
};
use asana_bridge_state::{StateError, Store, Table};

use crate::config::LinkConfig;
use crate::failure::ItemFailure;
use crate::linkstate::LinkState;
use plan::{Inputs, OutBlock, OutLine, Step, ThreadPlan};
use record::{CommentBase, Pending, SubtaskBase, ThreadRecord, text_digest};

/// What the thread phase did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ThreadCounts {
    /// Subtasks created, changed or deleted in Asana.
    pub subtasks_asana: usize,
    /// Comments posted or edited in Asana.
    pub comments_asana: usize,
    /// Target items whose subtasks or comments were rewritten.
    pub target_items: usize,
}

impl ThreadCounts {
    /// Whether Asana was written to.
    #[must_use]
    pub fn wrote_asana(&self) -> bool {
        self.subtasks_asana + self.comments_asana > 0
    }
}

/// The outcome of the phase.
#[derive(Debug, Default)]
pub struct ThreadOutcome {
    pub counts: ThreadCounts,
    /// Items whose thread could not be read or written: the run holds its change-feed
    /// cursor back, so the next run looks at them again.
    pub failures: Vec<ItemFailure>,
    /// Lines and blocks left as they are (an edit not sent, a conflict held): reported,
    /// seen again when the item changes.
    pub problems: Vec<ItemFailure>,
    pub notes: Vec<String>,
    /// A link-wide error stopped the phase (the rest waits for the next run).
    pub aborted: Option<String>,
    /// A task whose subtasks or comments changed in Asana was left for later (its
    /// item could not be read): the change feed's cursor must not move past it.
    pub held_back: bool,
}

/// The pairs read changed this run, by side (Asana gids).
#[derive(Clone, Debug, Default)]
pub struct Changed {
    /// Tasks whose subtasks or comments may have changed in Asana.
    pub asana: BTreeSet<String>,
    /// Pairs whose target item changed (its lines or blocks may have).
    pub target: BTreeSet<String>,
    /// Pairs whose target item this run created from the task (it has no lines or
    /// blocks yet): the item is read only when Asana's side has something to write.
    pub fresh: BTreeSet<String>,
    /// Every pair's target item was created this run (an import into an empty target).
    pub all_fresh: bool,
    /// Every Asana task was listed and the change feed could not say which tasks'
    /// subtasks changed (its token had expired, a section was renamed): every task with
    /// subtasks, now or in its record, is looked at. A subtask renamed, checked, added or
    /// removed changes nothing of its parent that a listing shows.
    pub full_listing: bool,
}

/// One pair whose thread a run looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub gid: String,
    pub target_id: String,
    /// The target item was created this run (see [`Changed::fresh`]).
    pub fresh: bool,
    /// Asana's side must be read (it may have changed, or the pair was never looked
    /// at); otherwise only the target changed, and Asana is read only when the target's
    /// lines or blocks differ from those last settled.
    pub asana: bool,
}

/// The link's thread records, by Asana gid.
fn table(store: &Store, link: &str) -> Result<Table<ThreadRecord>, StateError> {
    store.table(&format!("link/{link}/threads"))
}

/// The paired tasks whose threads this run looks at: `changed` (tasks read changed on
/// either side this run) and every pair without a thread record yet.
pub fn wanted(
    store: &Store,
    state: &LinkState,
    link: &str,
    changed: &Changed,
    counts: Option<&dyn Threads>,
    dry_run: bool,
) -> Result<Vec<Wanted>, StateError> {
    let records = table(store, link)?;
    // Pairs without a record yet, and records of pairs that are gone (dropped): the
    // pairs and the records' keys are both in key order, so one walk along both tells
    // them apart, with no record read.
    let mut keys = records.keys().peekable();
    let mut orphans = Vec::new();
    let mut out = Vec::new();
    for summary in state.pairs.summaries() {
        let (gid, summary) = summary?;
        let unseen = loop {
            match keys.next_if(|k| !matches!(k, Ok(k) if *k > gid)) {
                None => break true,
                Some(Ok(k)) if k == gid => break false,
                Some(Ok(k)) => orphans.push(k),
                Some(Err(e)) => return Err(e),
            }
        };
        // An item this run created from the task: its lines and blocks are Asana's to
        // write, whatever the record remembers (it is not a file whose lines were removed).
        let fresh = changed.all_fresh || changed.fresh.contains(&gid);
        let mut asana = unseen || fresh || changed.asana.contains(&gid);
        if !asana
            && changed.full_listing
            && let Some(count) = counts.and_then(|t| t.subtask_count(&gid))
        {
            asana = count > 0
                || records
                    .get(&gid)?
                    .is_some_and(|r| !r.subtasks.is_empty() || !r.let_go.is_empty());
        }
        if asana || changed.target.contains(&gid) {
            out.push(Wanted {
                fresh,
                gid: gid.clone(),
                target_id: summary.target_id.to_string(),
                asana,
            });
        }
    }
    for k in keys {
        orphans.push(k?);
    }
    if !dry_run {
        for gid in orphans {
            records.remove(&gid)?;
        }
    }
    Ok(out)
}

/// The parents, as the thread records know them, of the subtasks among `gids`: Asana's
/// feed names a subtask that changed, not its parent.
pub fn parents_of(
    store: &Store,
    link: &str,
    gids: &BTreeSet<String>,
) -> Result<BTreeSet<String>, StateError> {
    let mut out = BTreeSet::new();
    if gids.is_empty() {
        return Ok(out);
    }
    for entry in table(store, link)?.iter() {
        let (parent, record) = entry?;
        if record.subtasks.keys().any(|g| gids.contains(g)) {
            out.insert(parent);
        }
    }
    Ok(out)
}

/// Syncs the threads of `pairs` (Asana gid, target id).
#[allow(clippy::too_many_arguments)] // the phase's inputs, each used
pub async fn sync(
    link: &LinkConfig,
    asana: &dyn Connector,
    target: &dyn Connector,
    store: &Store,
    state: &LinkState,
    pairs: &[Wanted],
    dry_run: bool,
    progress: &indicatif::ProgressBar,
    cancel: Option<&std::sync::atomic::AtomicBool>,
) -> Result<ThreadOutcome, StateError> {
    let mut outcome = ThreadOutcome::default();
    let Some(threads) = asana.threads() else {
        return Ok(outcome);
    };
    if pairs.is_empty() || !target.keeps_threads() {
        return Ok(outcome);
    }
    let records = table(store, &link.name)?;
    progress.inc_length(pairs.len() as u64);
    // Empty threads of new pairs, recorded together.
    let mut empty: Vec<(&str, ThreadRecord)> = Vec::new();
    let put_empty = |empty: &mut Vec<(&str, ThreadRecord)>| {
        let written = records.put_all(empty.iter().map(|(gid, r)| (*gid, r)));
        empty.clear();
        written
    };
    for Wanted {
        gid,
        target_id,
        asana: asana_side,
        fresh,
    } in pairs
    {
        if cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::SeqCst)) {
            break;
        }
        let one = One {
            link,
            threads,
            target,
            store,
            state,
            records: &records,
            gid,
            dry_run,
        };
        let result = if *fresh && !dry_run {
            match one.fresh().await {
                Ok(Fresh::Gone) => Ok(()),
                Ok(Fresh::Empty(record)) => {
                    empty.push((gid, record));
                    if empty.len() >= EMPTY_BATCH {
                        put_empty(&mut empty)?;
                    }
                    Ok(())
                }
                Ok(Fresh::Read(read)) => {
                    one.run(target_id, true, true, Some(read), &mut outcome)
                        .await
                }
                Err(e) => Err(e),
            }
        } else {
            one.run(target_id, *asana_side, *fresh, None, &mut outcome)
                .await
        };
        match result {
            Ok(()) => {}
            Err(Stop::State(e)) => return Err(e),
            Err(Stop::Item(message)) => outcome.failures.push(ItemFailure {
                item: format!("{} (subtasks and comments)", target.describe(target_id)),
                message,
            }),
            Err(Stop::Link(message)) => {
                outcome.aborted = Some(message);
                break;
            }
        }
        progress.inc(1);
    }
    // Also after a stop of the phase: these threads were read, and are empty.
    put_empty(&mut empty)?;
    Ok(outcome)
}

/// Asana's side of one task's thread: its subtasks and (unless left out) comments.
type AsanaThread = (Vec<Subtask>, Option<Vec<Comment>>);

/// What a pair whose target item this run created needs ([`One::fresh`]).
enum Fresh {
    /// The task is gone.
    Gone,
    /// Nothing on either side: this record says so.
    Empty(ThreadRecord),
    /// Asana's side has something to write.
    Read(AsanaThread),
}

/// How many empty threads of new pairs are recorded in one batch (an import records one
/// per task; each on its own was a visible share of it).
const EMPTY_BATCH: usize = 500;

/// Why one task's thread stopped.
enum Stop {
    State(StateError),
    /// This task only.
    Item(String),
    /// The whole phase (token refused, service unreachable).
    Link(String),
}

impl From<StateError> for Stop {
    fn from(e: StateError) -> Self {
        Stop::State(e)
    }
}

fn stop(what: &str, e: &ConnectorError) -> Stop {
    let message = format!("{what}: {e}");
    if e.is_fatal_for_link() || matches!(e.kind(), ErrorKind::RateLimited | ErrorKind::Transient) {
        Stop::Link(message)
    } else {
        Stop::Item(message)
    }
}

/// One task's thread.
struct One<'a> {
    link: &'a LinkConfig,
    threads: &'a dyn Threads,
    target: &'a dyn Connector,
    store: &'a Store,
    state: &'a LinkState,
    records: &'a Table<ThreadRecord>,
    gid: &'a str,
    /// Plan and tell, write nothing.
    dry_run: bool,
}

impl One<'_> {
    /// A pair whose target item this run created (no lines or blocks yet): when Asana's
    /// side has nothing either (no subtasks, no comments or comments left out), the
    /// record of its empty thread, to be stored without reading the item. Otherwise
    /// what was read of Asana's side, to go the whole way with.
    async fn fresh(&self) -> Result<Fresh, Stop> {
        let Some(read) = self.read_asana().await? else {
            return Ok(Fresh::Gone); // the task phase deals with it
        };
        if !read.0.is_empty() || read.1.as_ref().is_some_and(|c| !c.is_empty()) {
            return Ok(Fresh::Read(read));
        }
        Ok(Fresh::Empty(ThreadRecord {
            target: Some(thread_digest(&TargetThread::default())),
            ..ThreadRecord::default()
        }))
    }

    /// The target item `id` as it is now, if it is there and names this pair's task (when
    /// it names one); `None` otherwise (an accident the task phase reports).
    async fn item(&self, id: &str) -> Result<Option<Item>, Stop> {
        let found = match self.target.get_many(&[id.to_owned()]).await {
            Ok(found) => found,
            Err(e) if matches!(stop("", &e), Stop::Item(_)) => return Ok(None),
            Err(e) => return Err(stop("reading the item", &e)),
        };
        Ok(found
            .into_iter()
            .next()
            .filter(|i| !i.bare && i.partner.as_deref().is_none_or(|p| p == self.gid)))
    }

    /// Asana's subtasks and comments of the task (comments `None` when left out); `None`
    /// when the task is gone.
    async fn read_asana(&self) -> Result<Option<AsanaThread>, Stop> {
        let gid = self.gid;
        let subtasks = match self.threads.subtasks(gid).await {
            Ok(s) => s,
            Err(ConnectorError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(stop("reading the task's subtasks in Asana", &e)),
        };
        let comments = if self.link.comments {
            match self.threads.comments(gid).await {
                Ok(c) => Some(c),
                Err(ConnectorError::NotFound(_)) => return Ok(None),
                Err(e) => return Err(stop("reading the task's comments in Asana", &e)),
            }
        } else {
            None
        };
        Ok(Some((subtasks, comments)))
    }

    async fn run(
        &self,
        target_id: &str,
        asana_side: bool,
        fresh: bool,
        read: Option<AsanaThread>,
        outcome: &mut ThreadOutcome,
    ) -> Result<(), Stop> {
        let gid = self.gid;
        // An item that cannot be read (or is gone) was reported by the task phase; its
        // lines and blocks wait until it is fixed.
        let shown = match self.target.read_thread(target_id).await {
            Ok(Some(shown)) => shown,
            Ok(None) | Err(ConnectorError::NotFound(_)) => return Ok(()),
            Err(e) if matches!(stop("", &e), Stop::Item(_)) => {
                outcome.held_back |= asana_side;
                return Ok(());
            }
            Err(e) => return Err(stop("reading its subtasks and comments", &e)),
        };
        let stored = self.records.get(gid)?;
        if !asana_side
            && stored
                .as_ref()
                .is_some_and(|r| r.target.as_deref() == Some(&thread_digest(&shown)))
        {
            return Ok(()); // the item changed, not its lines or blocks
        }
        // An item that names its task (a file) is checked before anything is planned
        // from it: an emptied file or an edited `asana_gid` is an accident the task
        // phase reports, never a reason to delete a subtask. An item paired by the
        // records (an issue) is read only when something is to be written to it.
        let mut item = None;
        if self.target.identity() == Identity::Partner {
            match self.item(target_id).await? {
                Some(found) => item = Some(found),
                None => {
                    outcome.held_back |= asana_side;
                    return Ok(());
                }
            }
        }
        let read = match read {
            Some(read) => read,
            None => match self.read_asana().await? {
                Some(read) => read,
                None => return Ok(()),
            },
        };
        let (subtasks, comments) = read;
        let recorded = stored.is_some();
        let mut record = stored.unwrap_or_default();
        if fresh {
            // Recreated by the bridge: nothing in it was removed by anyone.
            record = ThreadRecord {
                pending: record.pending,
                ..ThreadRecord::default()
            };
        }
        let planned = plan::plan(&Inputs {
            subtasks: &subtasks,
            comments: comments.as_deref(),
            target: &shown,
            base: &record,
            recorded,
            policy: self.link.conflict,
            on_delete: self.link.on_delete,
        });
        let name = self.target.describe(target_id);
        for problem in &planned.problems {
            outcome.problems.push(ItemFailure {
                item: name.clone(),
                message: problem.clone(),
            });
        }
        outcome
            .notes
            .extend(planned.notes.iter().map(|n| format!("{name}: {n}")));

        if self.dry_run {
            outcome.notes.extend(preview(&name, &planned, &shown));
            return Ok(());
        }
        let mut now = Now {
            subtasks,
            comments,
            made: vec![None; planned.steps.len()],
        };
        let mut failed = None;
        for (at, step) in planned.steps.iter().enumerate() {
            match self.step(step, &mut record, &mut now, at).await {
                Ok(()) => match step {
                    Step::DeleteSubtask { name: sub, .. } => {
                        outcome.counts.subtasks_asana += 1;
                        outcome.notes.push(format!(
                            "{name}: subtask \"{sub}\" deleted in Asana (its line was removed; restore it from Asana's trash if that was a mistake)"
                        ));
                    }
                    Step::CreateSubtask(_) | Step::UpdateSubtask { .. } => {
                        outcome.counts.subtasks_asana += 1;
                    }
                    Step::PostComment { .. } | Step::EditComment { .. } => {
                        outcome.counts.comments_asana += 1;
                    }
                },
                Err(Stop::Item(message)) => outcome.failures.push(ItemFailure {
                    item: name.clone(),
                    message,
                }),
                Err(other) => {
                    failed = Some(other);
                    break;
                }
            }
        }
        let (wanted, pairs) = now.shown(&planned, &shown);
        if wanted != shown {
            let item = match item {
                Some(item) => Some(item),
                None => self.item(target_id).await?,
            };
            let written = match &item {
                Some(item) => self.target.write_thread(item, &wanted).await,
                None => Err(ConnectorError::NotFound(name.clone())),
            };
            match written {
                Ok(written) => {
                    outcome.counts.target_items += 1;
                    self.note_written(&written)?;
                }
                Err(e) => {
                    // The base stays as it was for what the target did not get.
                    record = now.settle_unwritten(&record);
                    self.records.put(gid, &record)?;
                    return Err(stop(
                        &format!("writing the subtasks and comments of {name}"),
                        &e,
                    ));
                }
            }
        }
        record = settle(&record, &now, &planned, &wanted, &pairs);
        record.target = Some(thread_digest(&wanted));
        self.records.put(gid, &record)?;
        match failed {
            Some(stop) => Err(stop),
            None => Ok(()),
        }
    }

    /// Makes one Asana write; a create is recorded as pending (durably) before it is
    /// sent and stays so when its answer is lost.
    async fn step(
        &self,
        step: &Step,
        record: &mut ThreadRecord,
        now: &mut Now,
        at: usize,
    ) -> Result<(), Stop> {
        let gid = self.gid;
        let pending = match step {
            Step::CreateSubtask(new) => Some(Pending::Subtask {
                name: new.name.clone(),
                completed: Some(new.completed),
            }),
            Step::PostComment { body } => Some(Pending::Comment {
                text: text_digest(body),
            }),
            _ => None,
        };
        if let Some(p) = &pending {
            record.pending.push(p.clone());
            self.records.put(gid, record)?;
            self.store.flush()?;
        }
        let result = match step {
            Step::CreateSubtask(new) => self
                .threads
                .create_subtask(gid, new)
                .await
                .map(|s| now.made_subtask(at, s)),
            Step::UpdateSubtask {
                gid: sub,
                name,
                completed,
            } => self
                .threads
                .update_subtask(sub, name.as_deref(), *completed)
                .await
                .map(|s| now.replace_subtask(s)),
            Step::DeleteSubtask { gid: sub, .. } => self
                .threads
                .delete_subtask(sub)
                .await
                .map(|()| now.remove_subtask(sub, at)),
            Step::PostComment { body } => self
                .threads
                .post_comment(gid, body)
                .await
                .map(|c| now.made_comment(at, c)),
            Step::EditComment { gid: story, body } => {
                let Some(comment) = now.comment(story) else {
                    return Ok(());
                };
                self.threads
                    .edit_comment(&comment, body)
                    .await
                    .map(|c| now.replace_comment(c))
            }
        };
        match result {
            Ok(()) => {
                if let Some(p) = &pending
                    && let Some(i) = record.pending.iter().position(|q| q == p)
                {
                    record.pending.remove(i);
                }
                Ok(())
            }
            Err(e) => {
                if let Some(p) = &pending
                    && e.kind() != ErrorKind::Ambiguous
                    && let Some(i) = record.pending.iter().position(|q| q == p)
                {
                    // Not sent (or refused): nothing to adopt later.
                    record.pending.remove(i);
                }
                Err(stop(&describe(step), &e))
            }
        }
    }

    /// After the target's sections were written: its pair record remembers the item as
    /// it is now, so the next run does not take the bridge's own write for a change.
    fn note_written(&self, written: &Item) -> Result<(), StateError> {
        if let Some(mut pair) = self.state.pairs.get(self.gid)? {
            // Only the revision: the fields' digests say what the last sync agreed (a
            // field held in a conflict stays held), and this write changed no field.
            pair.target.revision.clone_from(&written.revision);
            written.id.clone_into(&mut pair.target_id);
            self.state.pairs.put(self.gid, &pair)?;
        }
        Ok(())
    }
}

/// What a dry run says of one task's thread: each write it would make.
fn preview(name: &str, planned: &ThreadPlan, shown: &TargetThread) -> Vec<String> {
    let mut out: Vec<String> = planned
        .steps
        .iter()
        .map(|step| format!("{name}: would be {}", describe(step)))
        .collect();
    let lines: Vec<&SubtaskLine> = planned.lines.iter().map(|l| &l.line).collect();
    let blocks_changed = planned.blocks.as_ref().is_some_and(|b| {
        b.len() != shown.comments.len() || b.iter().zip(&shown.comments).any(|(o, s)| o.block != *s)
    });
    if lines != shown.subtasks.iter().collect::<Vec<_>>() || blocks_changed {
        out.push(format!(
            "{name}: its subtasks or comments would be rewritten"
        ));
    }
    out
}

/// A digest of what a target shows of a thread, to tell whether it changed.
fn thread_digest(thread: &TargetThread) -> String {
    text_digest(&serde_json::to_string(thread).unwrap_or_default())
}

fn describe(step: &Step) -> String {
    match step {
        Step::CreateSubtask(new) => format!("creating subtask \"{}\" in Asana", new.name),
        Step::UpdateSubtask { gid, .. } => format!("updating subtask {gid} in Asana"),
        Step::DeleteSubtask { name, .. } => format!("deleting subtask \"{name}\" in Asana"),
        Step::PostComment { .. } => "posting a comment in Asana".to_owned(),
        Step::EditComment { gid, .. } => format!("editing comment {gid} in Asana"),
    }
}

/// Asana's side as the phase's writes left it, and what each step made.
struct Now {
    subtasks: Vec<Subtask>,
    comments: Option<Vec<Comment>>,
    /// Per step: the gid it made or deleted (a create's new subtask or comment).
    made: Vec<Option<Made>>,
}

#[derive(Clone)]
enum Made {
    Subtask(Subtask),
    Comment(Comment),
    Deleted,
}

impl Now {
    fn made_subtask(&mut self, at: usize, s: Subtask) {
        self.subtasks.push(s.clone());
        self.made[at] = Some(Made::Subtask(s));
    }

    fn replace_subtask(&mut self, s: Subtask) {
        if let Some(old) = self
            .subtasks
            .iter_mut()
            .find(|o| o.remote_id == s.remote_id)
        {
            *old = s;
        }
    }

    fn remove_subtask(&mut self, gid: &str, at: usize) {
        self.subtasks.retain(|s| s.remote_id != gid);
        self.made[at] = Some(Made::Deleted);
    }

    fn made_comment(&mut self, at: usize, c: Comment) {
        if let Some(all) = &mut self.comments {
            all.push(c.clone());
        }
        self.made[at] = Some(Made::Comment(c));
    }

    fn comment(&self, gid: &str) -> Option<Comment> {
        self.comments
            .as_ref()?
            .iter()
            .find(|c| c.remote_id == gid)
            .cloned()
    }

    fn replace_comment(&mut self, c: Comment) {
        if let Some(all) = &mut self.comments
            && let Some(old) = all.iter_mut().find(|o| o.remote_id == c.remote_id)
        {
            *old = c;
        }
    }

    /// What the target should show: the plan's lines and blocks, with the markers,
    /// names and texts the writes gave them (a failed create stays without a marker and
    /// is tried again next run); and for each block, the Asana comment it is paired with.
    fn shown(
        &self,
        planned: &ThreadPlan,
        current: &TargetThread,
    ) -> (TargetThread, Vec<Option<String>>) {
        let subtasks = planned
            .lines
            .iter()
            .map(
                |OutLine { line, step }| match step.and_then(|s| self.made[s].clone()) {
                    Some(Made::Subtask(s)) => SubtaskLine {
                        asana_gid: Some(s.remote_id),
                        name: s.name,
                        completed: s.completed,
                    },
                    _ => line.clone(),
                },
            )
            .collect();
        let (comments, pairs) = match &planned.blocks {
            None => (current.comments.clone(), vec![None; current.comments.len()]),
            Some(blocks) => blocks
                .iter()
                .map(|OutBlock { block, step, pair }| {
                    match step.and_then(|s| self.made[s].clone()) {
                        // A target's own comment, now mirrored: it stays as its author
                        // wrote it.
                        Some(Made::Comment(c)) if block.id.is_some() => {
                            (block.clone(), Some(c.remote_id))
                        }
                        Some(Made::Comment(c)) => (
                            CommentBlock {
                                asana_gid: Some(c.remote_id.clone()),
                                id: None,
                                heading: plan::heading(&c),
                                body: attribution::strip(&c.body).1.to_owned(),
                            },
                            Some(c.remote_id),
                        ),
                        _ => (self.current_block(block, step.is_some()), pair.clone()),
                    }
                })
                .unzip(),
        };
        (TargetThread { subtasks, comments }, pairs)
    }

    /// A planned block with the text Asana now has for an edit that went through.
    fn current_block(&self, block: &CommentBlock, posted: bool) -> CommentBlock {
        if posted || (block.id.is_some() && block.asana_gid.is_none()) {
            return block.clone();
        }
        match block.asana_gid.as_deref().and_then(|g| self.comment(g)) {
            Some(c) => {
                let text = attribution::strip(&c.body).1;
                if text_digest(text) == text_digest(&block.body) {
                    CommentBlock {
                        body: text.to_owned(),
                        ..block.clone()
                    }
                } else {
                    block.clone()
                }
            }
            None => block.clone(),
        }
    }

    /// The base after a run whose target write failed: as it was, plus what the run
    /// created in Asana (so that the next run pairs it with its line or block instead of
    /// creating it again).
    fn settle_unwritten(&self, old: &ThreadRecord) -> ThreadRecord {
        let mut record = old.clone();
        for made in self.made.iter().flatten() {
            match made {
                Made::Subtask(s) => {
                    record.subtasks.insert(
                        s.remote_id.clone(),
                        SubtaskBase {
                            name: s.name.clone(),
                            completed: s.completed,
                        },
                    );
                }
                Made::Comment(c) => {
                    let (origin, text) = attribution::strip(&c.body);
                    record.comments.insert(
                        c.remote_id.clone(),
                        CommentBase {
                            text: text_digest(text),
                            target: origin.map(str::to_owned),
                        },
                    );
                }
                Made::Deleted => {}
            }
        }
        record
    }
}

/// The new base: each subtask and comment both sides now show alike; what they do not
/// agree on keeps its old base (a conflict held, an edit not sent).
fn settle(
    old: &ThreadRecord,
    now: &Now,
    planned: &ThreadPlan,
    shown: &TargetThread,
    pairs: &[Option<String>],
) -> ThreadRecord {
    let mut record = ThreadRecord {
        pending: old.pending.clone(),
        ..ThreadRecord::default()
    };
    for s in &now.subtasks {
        let agreed = shown.subtasks.iter().any(|l| {
            l.asana_gid.as_deref() == Some(&s.remote_id)
                && l.name == s.name
                && l.completed == s.completed
        });
        if agreed {
            record.subtasks.insert(
                s.remote_id.clone(),
                SubtaskBase {
                    name: s.name.clone(),
                    completed: s.completed,
                },
            );
        } else if let Some(b) = old.subtasks.get(&s.remote_id) {
            record.subtasks.insert(s.remote_id.clone(), b.clone());
        }
    }
    let alive: BTreeSet<&str> = now.subtasks.iter().map(|s| s.remote_id.as_str()).collect();
    record.let_go = old
        .let_go
        .iter()
        .chain(&planned.let_go)
        .filter(|g| alive.contains(g.as_str()))
        .cloned()
        .collect();
    for g in &record.let_go {
        record.subtasks.remove(g);
    }
    match &now.comments {
        None => record.comments = old.comments.clone(),
        Some(comments) => {
            for c in comments {
                let digest = text_digest(attribution::strip(&c.body).1);
                let agreed = shown.comments.iter().zip(pairs).find(|(b, pair)| {
                    pair.as_deref() == Some(&c.remote_id) && text_digest(&b.body) == digest
                });
                if let Some((b, _)) = agreed {
                    // The target's own id of its comment (a mirror the bridge posted, or
                    // someone's comment mirrored to Asana): found again by it even when
                    // its text no longer says what it is.
                    let target = b.id.clone();
                    record.comments.insert(
                        c.remote_id.clone(),
                        CommentBase {
                            text: digest,
                            target,
                        },
                    );
                } else if let Some(b) = old.comments.get(&c.remote_id) {
                    record.comments.insert(c.remote_id.clone(), b.clone());
                }
            }
        }
    }
    settle_pending(shown, &mut record);
    record
}

/// A create whose answer was lost stays pending only while the target still shows a
/// line or block without a marker that it may have made (the same name, the same text):
/// adopted, or edited since (what it made then shows as one of Asana's), it has nothing
/// left to pair, and kept longer it would pair a later line or block of the same text.
fn settle_pending(shown: &TargetThread, record: &mut ThreadRecord) {
    let unmarked_lines: Vec<&str> = shown
        .subtasks
        .iter()
        .filter(|l| l.asana_gid.is_none())
        .map(|l| l.name.as_str())
        .collect();
    let unmarked_blocks: Vec<String> = shown
        .comments
        .iter()
        .filter(|b| b.asana_gid.is_none() && b.id.is_none())
        .map(|b| text_digest(&b.body))
        .collect();
    record.pending.retain(|p| match p {
        Pending::Subtask { name, .. } => unmarked_lines.contains(&name.as_str()),
        Pending::Comment { text } => unmarked_blocks.contains(text),
    });
}
