//! Performs a [`Plan`]: the side effects, kept apart from the decision.
//!
//! Order of safety: every create on Asana is recorded as an intent and the store flushed
//! *before* any request is sent; each action's record is written right after the action
//! succeeds; a failed action leaves its record exactly as it was, so the next run redoes what
//! is missing and nothing more. The records of new target items (an import) are the one
//! exception to "right after": they are written in chunks ([`new_records`]), since each
//! such item names its task itself and nothing waits for its record. Independent actions
//! run concurrently (bounded); the HTTP layer below enforces the service's own limits. An
//! error that concerns the whole link (token refused, service down) stops the remaining
//! actions.

mod new_records;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use asana_bridge_connector::{
    Connector, ConnectorError, ErrorKind, Field, Identity, Item, TaskFields, TaskPatch,
};
use asana_bridge_state::{StateError, Store};
use futures::StreamExt;

use crate::config::OnDelete;
use crate::failure::ItemFailure;
use crate::linkstate::LinkState;
use crate::merge::SyncPair;
use crate::plan::{Action, Plan, intent_key};
use crate::records::{Fingerprint, Intent, LetGo, PairRecord, Side, Tombstone};
use new_records::NewRecords;

/// How many actions may be under way at once.
const CONCURRENCY: usize = 16;

/// What was done, for the report.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub created_asana: usize,
    pub created_target: usize,
    pub updated_asana: usize,
    pub updated_target: usize,
    pub deleted_asana: usize,
    pub deleted_target: usize,
    /// Creates left for later (a creation budget spent): not errors.
    pub postponed: usize,
    /// The writes of subtasks and comments (the run's second phase).
    pub threads: crate::threads::ThreadCounts,
}

impl Counts {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Counts) {
        self.created_asana += other.created_asana;
        self.created_target += other.created_target;
        self.updated_asana += other.updated_asana;
        self.updated_target += other.updated_target;
        self.deleted_asana += other.deleted_asana;
        self.deleted_target += other.deleted_target;
        self.postponed += other.postponed;
    }
}

/// The result of applying a plan.
#[derive(Debug, Default)]
pub struct Applied {
    pub counts: Counts,
    pub failures: Vec<ItemFailure>,
    /// A link-wide error that stopped the remaining actions.
    pub aborted: Option<String>,
    /// That error is a passing one (service unreachable, rate limited): try again later.
    pub outage: bool,
}

/// Everything `apply` works with.
pub struct Applier<'a> {
    pub asana: &'a dyn Connector,
    pub target: &'a dyn Connector,
    pub store: &'a Store,
    pub state: &'a LinkState,
    /// RFC 3339 time of this run, for conflict records.
    pub now: String,
    /// Called after each action (progress bar).
    pub on_progress: &'a (dyn Fn() + Sync),
    /// When set, actions not yet started are skipped (a clean shutdown): each action is
    /// whole or not begun, and the next run does the rest.
    pub cancel: Option<&'a AtomicBool>,
    /// Where a task is saved before it is deleted in Asana.
    pub trash: &'a std::path::Path,
    /// Whether the link has tombstones (an adopted or recreated pair drops its own).
    pub has_tombstones: bool,
    /// Notes for the run's output (a pair let go, a moved item), not errors.
    pub notes: &'a Mutex<Vec<String>>,
}

struct Shared {
    counts: Mutex<Counts>,
    /// Field errors drained from the target for items other than the one asking.
    field_errors: Mutex<Vec<asana_bridge_connector::FieldError>>,
    failures: Mutex<Vec<ItemFailure>>,
    abort: AtomicBool,
    aborted: Mutex<Option<String>>,
    outage: AtomicBool,
    /// Records of new target items waiting to be written in one transaction.
    new_records: Mutex<NewRecords>,
}

/// One unit of the apply stream: an action, or a batch of target creates for a target
/// that creates in batches ([`Connector::create_batch`]).
#[allow(clippy::large_enum_variant)] // as large as the action it carries, moved once
enum Work {
    One(Action),
    /// `CreateTarget` actions: each Asana task and the record its copy replaces.
    Creates(Vec<(Item, Option<PairRecord>)>),
}

impl Work {
    /// `actions` as units: every target create in batches of `batch` (in plan order),
    /// every other action alone.
    fn split(actions: Vec<Action>, batch: usize) -> Vec<Work> {
        if batch <= 1 {
            return actions.into_iter().map(Work::One).collect();
        }
        let mut out = Vec::new();
        let mut creates = Vec::new();
        for action in actions {
            match action {
                Action::CreateTarget { asana, replaces } => {
                    creates.push((asana, replaces));
                    if creates.len() == batch {
                        out.push(Work::Creates(std::mem::take(&mut creates)));
                    }
                }
                other => out.push(Work::One(other)),
            }
        }
        if !creates.is_empty() {
            out.push(Work::Creates(creates));
        }
        out
    }
}

/// Why one action failed.
enum Failure {
    Item(ItemFailure),
    /// Stops the link; `true` when it is a passing outage.
    Fatal(String, bool),
    State(StateError),
}

impl Applier<'_> {
    /// Performs `plan`. Only a state-store failure is an `Err`: the state is the bridge's
    /// memory and it must not go on without it.
    pub async fn apply(&self, plan: Plan) -> Result<Applied, StateError> {
        // Intents first, durable before any create is sent.
        let mut any_intent = false;
        for action in &plan.actions {
            if let Action::CreateAsana { target, .. } = action {
                self.state.intents.put(
                    &intent_key(Side::Asana, &target.id),
                    &Intent {
                        id: uuid::Uuid::new_v4(),
                        on: Side::Asana,
                        source_id: target.id.clone(),
                        fields: target.fields.clone(),
                    },
                )?;
                any_intent = true;
            }
        }
        if any_intent {
            self.store.flush()?;
        }

        let shared = Shared {
            counts: Mutex::new(Counts::default()),
            field_errors: Mutex::new(Vec::new()),
            failures: Mutex::new(Vec::new()),
            abort: AtomicBool::new(false),
            aborted: Mutex::new(None),
            outage: AtomicBool::new(false),
            new_records: Mutex::new(NewRecords::default()),
        };
        let mut state_error = None;
        let mut results =
            futures::stream::iter(Work::split(plan.actions, self.target.create_batch()))
                .map(|work| self.run_work(work, &shared))
                .buffer_unordered(CONCURRENCY);
        loop {
            // While the actions under way take long (a remote, rate-limited target), the
            // new records already made do not wait for them.
            let Ok(next) = tokio::time::timeout(NewRecords::WAIT, results.next()).await else {
                let due = lock(&shared.new_records).take_due(Instant::now());
                if let Some(Err(e)) = due.map(|chunk| self.write_new_records(&chunk)) {
                    shared.abort.store(true, Ordering::SeqCst);
                    state_error.get_or_insert(e);
                }
                continue;
            };
            let Some(done) = next else { break };
            for result in done {
                (self.on_progress)();
                match result {
                    Ok(()) => {}
                    Err(Failure::Item(f)) => lock(&shared.failures).push(f),
                    Err(Failure::Fatal(message, outage)) => {
                        shared.abort.store(true, Ordering::SeqCst);
                        shared.outage.fetch_or(outage, Ordering::SeqCst);
                        lock(&shared.aborted).get_or_insert(message);
                    }
                    Err(Failure::State(e)) => {
                        shared.abort.store(true, Ordering::SeqCst);
                        state_error.get_or_insert(e);
                    }
                }
            }
        }
        drop(results);
        let rest = lock(&shared.new_records).take_all();
        if let Err(e) = self.write_new_records(&rest) {
            state_error.get_or_insert(e);
        }
        self.store.flush()?;
        if let Some(e) = state_error {
            return Err(e);
        }
        let mut failures = shared
            .failures
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        failures.sort_by(|a, b| a.item.cmp(&b.item));
        Ok(Applied {
            counts: shared
                .counts
                .into_inner()
                .unwrap_or_else(|e| e.into_inner()),
            failures,
            aborted: shared
                .aborted
                .into_inner()
                .unwrap_or_else(|e| e.into_inner()),
            outage: shared.outage.into_inner(),
        })
    }

    /// Performs one unit of work: one result per action in it.
    async fn run_work(&self, work: Work, shared: &Shared) -> Vec<Result<(), Failure>> {
        match work {
            Work::One(action) => vec![self.run_one(action, shared).await],
            Work::Creates(creates) => self.run_creates(creates, shared).await,
        }
    }

    /// Whether the actions not yet begun are to be left: the link stopped, or the run
    /// was cancelled.
    fn stopping(&self, shared: &Shared) -> bool {
        shared.abort.load(Ordering::SeqCst) || self.cancel.is_some_and(|c| c.load(Ordering::SeqCst))
    }

    /// Creates a batch of target copies with one [`Connector::create_many`], then does
    /// each one's bookkeeping as [`Self::run_one`] does for one.
    async fn run_creates(
        &self,
        creates: Vec<(Item, Option<PairRecord>)>,
        shared: &Shared,
    ) -> Vec<Result<(), Failure>> {
        if self.stopping(shared) {
            return creates.iter().map(|_| Ok(())).collect();
        }
        let new: Vec<(&TaskFields, Option<&str>)> = creates
            .iter()
            .map(|(asana, _)| (&asana.fields, Some(asana.id.as_str())))
            .collect();
        let mut answers = self.target.create_many(&new).await.into_iter();
        let mut out = Vec::with_capacity(creates.len());
        let mut stopped_by = None;
        for (asana, replaces) in creates {
            let Some(answer) = answers.next() else {
                // Past the end of a shortened answer: not tried. After an error fatal for
                // the link, left like every action after it; otherwise said per item.
                out.push(match &stopped_by {
                    Some(reason) => Err(Failure::Item(ItemFailure {
                        item: self.asana_name(&asana),
                        message: format!("creating its copy: not tried: {reason}"),
                    })),
                    None => Ok(()),
                });
                continue;
            };
            if let Err(e) = &answer {
                stopped_by = (!e.is_fatal_for_link()).then(|| e.to_string());
            }
            out.push(self.created_target(asana, replaces, answer, shared));
        }
        out
    }

    /// The bookkeeping after the target answered the create of `asana`'s copy: its
    /// record (a new item's waits for its chunk), or why there is none.
    fn created_target(
        &self,
        asana: Item,
        replaces: Option<PairRecord>,
        answer: Result<Item, ConnectorError>,
        shared: &Shared,
    ) -> Result<(), Failure> {
        let t = match answer {
            Ok(t) => t,
            // A budget spent (GitHub's hourly creations): not an error, done later.
            Err(ConnectorError::Postponed { reason, .. }) => {
                bump(shared, |c| c.postponed += 1);
                lock(self.notes).push(format!(
                    "{}: its copy is postponed: {reason}",
                    self.asana_name(&asana)
                ));
                return Ok(());
            }
            Err(e) => {
                return Err(self.fail(&self.asana_name(&asana), "creating its copy", e));
            }
        };
        let pending: Vec<(Side, Field)> = self
            .field_errors(
                &t.id,
                &format!(
                    "{} ({})",
                    self.target.describe(&t.id),
                    self.asana.describe(&asana.id)
                ),
                shared,
            )
            .into_iter()
            .map(|f| (Side::Asana, f))
            .collect();
        let record =
            Self::pair_record(&asana.fields, &asana, &t, None, (&[], &pending), (&[], &[]));
        if let Some(old) = replaces {
            self.state
                .forget_pair(&old.asana_gid)
                .map_err(Failure::State)?;
            self.put_record(&record)?;
        } else {
            // A new item names its task itself: its record may wait for its chunk.
            let chunk = lock(&shared.new_records).push(record, Instant::now());
            if let Some(chunk) = chunk {
                self.write_new_records(&chunk).map_err(Failure::State)?;
            }
        }
        self.drop_tombstone(&asana.id)?;
        bump(shared, |c| c.created_target += 1);
        Ok(())
    }

    async fn run_one(&self, action: Action, shared: &Shared) -> Result<(), Failure> {
        if self.stopping(shared) {
            return Ok(());
        }
        match action {
            Action::CreateTarget { asana, replaces } => {
                let answer = self.target.create(&asana.fields, Some(&asana.id)).await;
                self.created_target(asana, replaces, answer, shared)?;
            }
            Action::CreateAsana { target, replaces } => {
                let name = self.target.describe(&target.id);
                // An item paired by the records (an issue) is named in the task, as a
                // recovery hint for lost records.
                let hint = (self.target.identity() == Identity::Record).then_some(name.as_str());
                let (a, pending_custom) = self.create_asana(&target, &name, hint, shared).await?;
                if let Some(old) = replaces {
                    self.state
                        .forget_pair(&old.asana_gid)
                        .map_err(Failure::State)?;
                }
                // Record the pair now: even if stamping the gid fails below, the next run
                // finds the file by its id and stamps it then.
                self.record_with(
                    &target.fields,
                    &a,
                    &target,
                    None,
                    (&[], &[]),
                    (&[], &pending_custom),
                )?;
                self.state
                    .intents
                    .remove(&intent_key(Side::Asana, &target.id))
                    .map_err(Failure::State)?;
                bump(shared, |c| c.created_asana += 1);
                let mut t = self
                    .target
                    .set_partner(&target, &a.id)
                    .await
                    .map_err(|e| self.fail(&name, "recording its asana_gid", e))?;
                // What Asana added on its own (the section it put the task in) is written
                // to a file at once, so both sides agree from the first run. (An item
                // paired by the records, like an issue, cannot show such values anyway.)
                let added: Vec<Field> = Field::ALL
                    .into_iter()
                    .filter(|f| !a.fields.same(&target.fields, *f))
                    .collect();
                let mut base = target.fields.clone();
                if !added.is_empty() && self.target.identity() == Identity::Partner {
                    t = self
                        .target
                        .update(
                            &t,
                            &TaskPatch::from_fields(&a.fields, added.iter().copied()),
                        )
                        .await
                        .map_err(|e| self.fail(&name, "writing what Asana set", e))?;
                    base = a.fields.clone();
                }
                self.record_with(&base, &a, &t, None, (&[], &[]), (&[], &pending_custom))?;
            }
            Action::Sync(pair) => self.sync_pair(*pair, shared).await?,
            Action::DeleteTarget { record, mut target } => {
                // The target may note the task it mirrored (a GitHub issue closed as
                // deleted names its task, so a restore finds it).
                target.partner = Some(record.asana_gid.clone());
                self.target
                    .delete(&target)
                    .await
                    .map_err(|e| self.fail(&self.target.describe(&target.id), "deleting it", e))?;
                self.state
                    .forget_pair(&record.asana_gid)
                    .map_err(Failure::State)?;
                // The issue stays, closed as deleted and naming the task: restored from
                // Asana's trash, the task gets that issue back, and a copy of its footer
                // in another issue must not claim it first (see `plan::pairing`).
                if self.target.identity() == Identity::Record {
                    self.put_tombstone(
                        &record,
                        &record.base.title,
                        LetGo::Deleted { trash: None },
                    )?;
                }
                bump(shared, |c| c.deleted_target += 1);
            }
            Action::DeleteAsana { record, asana, how } => {
                self.let_go(&record, &asana, how, shared).await?;
            }
            Action::Unlink { record, title, to } => {
                self.state
                    .forget_pair(&record.asana_gid)
                    .map_err(Failure::State)?;
                self.put_tombstone(&record, &title, LetGo::Moved { to: to.clone() })?;
                lock(self.notes).push(format!(
                    "{} moved to {to}: the pair is let go, task {} \"{title}\" is left as it is",
                    self.target.describe(&record.target_id),
                    record.asana_gid
                ));
            }
            Action::Forget { record } => {
                self.state
                    .forget_pair(&record.asana_gid)
                    .map_err(Failure::State)?;
            }
            Action::HoldDeletion {
                conflict,
                record,
                superseded,
            } => {
                self.state
                    .upsert_conflict(conflict, &self.now)
                    .map_err(Failure::State)?;
                for id in &superseded {
                    self.state.conflicts.remove(id).map_err(Failure::State)?;
                }
                self.state
                    .pairs
                    .put(&record.asana_gid, &record)
                    .map_err(Failure::State)?;
            }
            Action::DropIntent { key } => {
                self.state.intents.remove(&key).map_err(Failure::State)?;
            }
        }
        Ok(())
    }

    async fn sync_pair(&self, pair: SyncPair, shared: &Shared) -> Result<(), Failure> {
        let name = format!(
            "{} ({})",
            self.target.describe(&pair.target.id),
            self.asana.describe(&pair.asana.id)
        );
        // One field a side refuses is an error for that field; the others still flow.
        let held = pair.held.clone();
        let mut pending: Vec<(Side, Field)> = Vec::new();
        let mut pending_custom: Vec<(Side, String)> = Vec::new();
        let mut base = pair.base.clone();
        let mut a = pair.asana.clone();
        if !pair.to_asana.is_empty() {
            let (item, refused, refused_custom) = self
                .update_each(
                    self.asana,
                    &pair.asana,
                    &pair.to_asana,
                    &name,
                    "updating Asana",
                    shared,
                )
                .await?;
            a = item;
            if refused.len() + refused_custom.len()
                < pair.to_asana.fields().len() + pair.to_asana.custom.len()
            {
                bump(shared, |c| c.updated_asana += 1);
            }
            keep_unsynced(&pair, Side::Target, &refused, &mut pending, &mut base);
            keep_custom_unsynced(
                &pair,
                Side::Target,
                &refused_custom,
                &mut pending_custom,
                &mut base,
            );
        }
        let mut t = pair.target.clone();
        if !pair.to_target.is_empty() {
            let (item, refused, refused_custom) = self
                .update_each(
                    self.target,
                    &pair.target,
                    &pair.to_target,
                    &name,
                    "updating it",
                    shared,
                )
                .await?;
            t = still_as_read(self.target, item, &pair.target, &pair.to_target);
            let mut refused = refused;
            refused.extend(self.field_errors(&t.id, &name, shared));
            if refused.len() + refused_custom.len()
                < pair.to_target.fields().len() + pair.to_target.custom.len()
            {
                bump(shared, |c| c.updated_target += 1);
            }
            keep_unsynced(&pair, Side::Asana, &refused, &mut pending, &mut base);
            keep_custom_unsynced(
                &pair,
                Side::Asana,
                &refused_custom,
                &mut pending_custom,
                &mut base,
            );
        }
        if pair.stamp_partner {
            t = self
                .target
                .set_partner(&t, &a.id)
                .await
                .map_err(|e| self.fail(&name, "recording its asana_gid", e))?;
        }
        self.record_with(
            &base,
            &a,
            &t,
            pair.previous.as_ref(),
            (&held, &pending),
            (&pair.held_custom, &pending_custom),
        )?;
        if pair.previous.is_none() {
            self.drop_tombstone(&a.id)?;
        }
        for conflict in pair.conflicts {
            self.state
                .upsert_conflict(conflict, &self.now)
                .map_err(Failure::State)?;
        }
        for id in &pair.resolved {
            self.state.conflicts.remove(id).map_err(Failure::State)?;
        }
        if pair.previous.is_none() {
            self.state
                .intents
                .remove(&intent_key(Side::Asana, &pair.target.id))
                .map_err(Failure::State)?;
        }
        Ok(())
    }

    /// Creates the Asana task of `target`. When Asana refuses its custom fields (an
    /// unknown field or option), the task is created without them and the refusal is
    /// reported: the rest of the file still flows, and the custom fields are returned as
    /// pending (from the target), to be tried again on the next run.
    async fn create_asana(
        &self,
        target: &Item,
        name: &str,
        hint: Option<&str>,
        shared: &Shared,
    ) -> Result<(Item, Vec<(Side, String)>), Failure> {
        match self.asana.create(&target.fields, hint).await {
            Ok(a) => Ok((a, Vec::new())),
            Err(e) if refuses_value(&e) && !target.fields.custom.is_empty() => {
                lock(&shared.failures).push(ItemFailure {
                    item: name.to_owned(),
                    message: format!(
                        "creating its Asana task: its custom fields were refused: {e}; the task was created without them"
                    ),
                });
                let mut plain = target.fields.clone();
                plain.custom.clear();
                let a = self
                    .asana
                    .create(&plain, hint)
                    .await
                    .map_err(|e| self.fail(name, "creating its Asana task", e))?;
                let pending = target
                    .fields
                    .custom
                    .keys()
                    .map(|n| (Side::Target, n.clone()))
                    .collect();
                Ok((a, pending))
            }
            Err(e) => Err(self.fail(name, "creating its Asana task", e)),
        }
    }

    /// Sends `patch` to `item` through `side`. When the side refuses it as invalid (one
    /// bad value: too long, not allowed), sends each field on its own, so that the others
    /// still flow; returns the item as it is now and the fields (and custom fields)
    /// refused, each reported.
    async fn update_each(
        &self,
        side: &dyn Connector,
        item: &Item,
        patch: &TaskPatch,
        name: &str,
        doing: &str,
        shared: &Shared,
    ) -> Result<(Item, Vec<Field>, Vec<String>), Failure> {
        let fields = patch.fields();
        match side.update(item, patch).await {
            Ok(now) => return Ok((now, Vec::new(), Vec::new())),
            Err(e) if fields.len() + patch.custom.len() > 1 && refuses_value(&e) => {
                tracing::debug!(item = name, "{doing}: {e}; sending each field on its own");
            }
            Err(e) => return Err(self.fail(name, doing, e)),
        }
        let mut now = item.clone();
        let mut refused = Vec::new();
        for field in fields {
            let one = TaskPatch::from_fields(&patch.applied_to(&item.fields), [field]);
            match side.update(&now, &one).await {
                Ok(next) => now = next,
                Err(e) if refuses_value(&e) => {
                    lock(&shared.failures).push(ItemFailure {
                        item: name.to_owned(),
                        message: format!(
                            "{doing}: its {field} was refused: {e}; the other fields were synced"
                        ),
                    });
                    refused.push(field);
                }
                Err(e) => return Err(self.fail(name, doing, e)),
            }
        }
        let mut refused_custom = Vec::new();
        for (field, value) in &patch.custom {
            let one = TaskPatch {
                custom: std::collections::BTreeMap::from([(field.clone(), value.clone())]),
                ..TaskPatch::default()
            };
            match side.update(&now, &one).await {
                Ok(next) => now = next,
                Err(e) if refuses_value(&e) => {
                    lock(&shared.failures).push(ItemFailure {
                        item: name.to_owned(),
                        message: format!(
                            "{doing}: its custom field {field:?} was refused: {e}; the other fields were synced"
                        ),
                    });
                    refused_custom.push(field.clone());
                }
                Err(e) => return Err(self.fail(name, doing, e)),
            }
        }
        Ok((now, refused, refused_custom))
    }

    /// The fields the target did not write in its last create or update of item `id` (the
    /// rest was written), each reported as an error for that field. Errors of other items
    /// drained meanwhile (writes run concurrently) wait for their own item's turn.
    fn field_errors(&self, id: &str, name: &str, shared: &Shared) -> Vec<Field> {
        let mut waiting = lock(&shared.field_errors);
        waiting.extend(self.target.take_field_errors());
        let (mine, others): (Vec<_>, Vec<_>) = std::mem::take(&mut *waiting)
            .into_iter()
            .partition(|e| e.id.as_deref().is_none_or(|i| i == id));
        *waiting = others;
        drop(waiting);
        let mut fields = Vec::new();
        for e in mine {
            lock(&shared.failures).push(ItemFailure {
                item: name.to_owned(),
                message: format!("{}; the other fields were synced", e.message),
            });
            fields.push(e.field);
        }
        fields
    }

    /// Lets a task go because its target item was deleted: saved to the trash and deleted,
    /// completed, or left alone, as the link's `on_delete` says; the pair is forgotten and a
    /// tombstone remembers what happened.
    async fn let_go(
        &self,
        record: &PairRecord,
        asana: &Item,
        how: OnDelete,
        shared: &Shared,
    ) -> Result<(), Failure> {
        let name = self.asana_name(asana);
        let what = match how {
            OnDelete::Delete => {
                // The way back comes first: no copy, no delete.
                let note = format!(
                    "deleted in Asana by asana-bridge at {} because {} was removed; move this file back into the folder to create the task again",
                    self.now,
                    self.target.describe(&record.target_id)
                );
                let saved = crate::trash::save(self.trash, &asana.fields, &note).map_err(|e| {
                    Failure::Item(ItemFailure {
                        item: name.clone(),
                        message: format!(
                            "not deleted: saving it to {} first failed: {e}",
                            self.trash.display()
                        ),
                    })
                })?;
                self.asana
                    .delete(asana)
                    .await
                    .map_err(|e| self.fail(&name, "deleting it", e))?;
                bump(shared, |c| c.deleted_asana += 1);
                LetGo::Deleted {
                    trash: Some(saved.display().to_string()),
                }
            }
            OnDelete::Complete => {
                if !asana.fields.completed {
                    let patch = TaskPatch {
                        completed: Some(true),
                        ..TaskPatch::default()
                    };
                    self.asana
                        .update(asana, &patch)
                        .await
                        .map_err(|e| self.fail(&name, "completing it", e))?;
                    bump(shared, |c| c.updated_asana += 1);
                }
                LetGo::Completed
            }
            OnDelete::Ignore => LetGo::Ignored,
        };
        self.state
            .forget_pair(&record.asana_gid)
            .map_err(Failure::State)?;
        let note = match &what {
            LetGo::Deleted { trash } => format!(
                "deleted {name} in Asana because {} was removed (saved to {}; it can also be restored from Asana's trash)",
                self.target.describe(&record.target_id),
                trash.as_deref().unwrap_or("?")
            ),
            LetGo::Completed => format!(
                "completed {name} in Asana because {} was removed (on_delete = \"complete\")",
                self.target.describe(&record.target_id)
            ),
            _ => format!(
                "let {name} go: {} was removed and on_delete = \"ignore\" leaves the task as it is",
                self.target.describe(&record.target_id)
            ),
        };
        lock(self.notes).push(note);
        self.put_tombstone(record, &asana.fields.title, what)
    }

    fn put_tombstone(&self, record: &PairRecord, title: &str, how: LetGo) -> Result<(), Failure> {
        self.state
            .tombstones
            .put(
                &record.asana_gid,
                &Tombstone {
                    asana_gid: record.asana_gid.clone(),
                    target_id: self.target.describe(&record.target_id),
                    title: title.to_owned(),
                    at: self.now.clone(),
                    how,
                },
            )
            .map_err(Failure::State)
    }

    /// A pair made again (a restored task, a returned file) needs no tombstone.
    fn drop_tombstone(&self, gid: &str) -> Result<(), Failure> {
        if self.has_tombstones {
            self.state.tombstones.remove(gid).map_err(Failure::State)?;
        }
        Ok(())
    }

    /// Stores the record of a pair as both sides are now ([`Self::pair_record`]).
    fn record_with(
        &self,
        base: &TaskFields,
        asana: &Item,
        target: &Item,
        previous: Option<&PairRecord>,
        fields: (&[Field], &[(Side, Field)]),
        custom: (&[String], &[(Side, String)]),
    ) -> Result<(), Failure> {
        self.put_record(&Self::pair_record(
            base, asana, target, previous, fields, custom,
        ))
    }

    fn put_record(&self, record: &PairRecord) -> Result<(), Failure> {
        self.state
            .pairs
            .put(&record.asana_gid, record)
            .map_err(Failure::State)
    }

    /// Writes the records of new pairs in one transaction.
    fn write_new_records(&self, records: &[PairRecord]) -> Result<(), StateError> {
        if records.is_empty() {
            return Ok(());
        }
        self.state
            .pairs
            .put_all(records.iter().map(|r| (r.asana_gid.as_str(), r)))
    }

    /// The record of a pair as both sides are now. Held fields (and custom fields, by
    /// name) keep the fingerprints they had (or none, on a new pair), so they stay in
    /// conflict until resolved; refused ones read as changed on their source's side.
    fn pair_record(
        base: &TaskFields,
        asana: &Item,
        target: &Item,
        previous: Option<&PairRecord>,
        (held, pending): (&[Field], &[(Side, Field)]),
        (held_custom, pending_custom): (&[String], &[(Side, String)]),
    ) -> PairRecord {
        let mut a = Fingerprint::of(asana);
        let mut t = Fingerprint::of_like(target, asana, &a);
        for name in held_custom {
            let was = |f: &Fingerprint| f.custom.get(name).copied().unwrap_or(0);
            a.custom
                .insert(name.clone(), previous.map_or(0, |r| was(&r.asana)));
            t.custom
                .insert(name.clone(), previous.map_or(0, |r| was(&r.target)));
        }
        for (source, name) in pending_custom {
            match source {
                Side::Asana => a.custom.insert(name.clone(), Fingerprint::UNSYNCED),
                Side::Target => t.custom.insert(name.clone(), Fingerprint::UNSYNCED),
            };
        }
        for field in held {
            let i = field.index();
            a.fields[i] = previous.map_or(0, |r| r.asana.fields[i]);
            t.fields[i] = previous.map_or(0, |r| r.target.fields[i]);
        }
        // A value one side refused: its source reads as changed next run, so it is tried
        // (and reported) again, and never taken as agreed.
        for (source, field) in pending {
            match source {
                Side::Asana => a.fields[field.index()] = 0,
                Side::Target => t.fields[field.index()] = 0,
            }
        }
        PairRecord {
            asana_gid: asana.id.clone(),
            target_id: target.id.clone(),
            base: base.clone(),
            asana: a,
            target: t,
            asana_fields: (asana.fields != *base).then(|| Box::new(asana.fields.clone())),
            target_fields: (target.fields != *base).then(|| Box::new(target.fields.clone())),
            missing: None,
        }
    }

    fn asana_name(&self, item: &Item) -> String {
        format!(
            "{} \"{}\"",
            self.asana.describe(&item.id),
            item.fields.title
        )
    }

    fn fail(&self, item: &str, doing: &str, error: ConnectorError) -> Failure {
        if error.is_fatal_for_link() {
            Failure::Fatal(format!("{doing} {item}: {error}"), error.is_retryable())
        } else {
            Failure::Item(ItemFailure {
                item: item.to_owned(),
                message: format!("{doing}: {error}"),
            })
        }
    }
}

/// `written`, what the target answered `patch` with, with each field it still cannot
/// express (see `Connector::unknown_fields`: an issue assigned only to logins `[users]`
/// does not map) as the pair now stands there: the value `patch` sent (a person the table
/// does not map leaves the logins alone), else the value the run read (`read`:
/// what the pair's record last saw, filled in by the engine). The answer holds no value
/// there; recorded as such, a later real change (the issue unassigned, or assigned to a
/// mapped login again) could read as no change and never reach Asana.
fn still_as_read(
    connector: &dyn Connector,
    mut written: Item,
    read: &Item,
    patch: &TaskPatch,
) -> Item {
    let meant = patch.applied_to(&read.fields);
    for field in connector.unknown_fields(&written) {
        written.fields.copy_field(&meant, field);
    }
    written
}

/// Fields a side refused stay unsynced: the base keeps its old value, and `source` (the
/// side the value came from) reads as changed next run, so the write is tried (and the
/// refusal reported) again; nothing is taken as agreed.
fn keep_unsynced(
    pair: &SyncPair,
    source: Side,
    refused: &[Field],
    pending: &mut Vec<(Side, Field)>,
    base: &mut TaskFields,
) {
    for field in refused {
        pending.push((source, *field));
        match &pair.previous {
            Some(r) => base.copy_field(&r.base, *field),
            None => base.copy_field(&pair.asana.fields, *field),
        }
    }
}

/// [`keep_unsynced`] for custom fields, by name.
fn keep_custom_unsynced(
    pair: &SyncPair,
    source: Side,
    refused: &[String],
    pending: &mut Vec<(Side, String)>,
    base: &mut TaskFields,
) {
    for name in refused {
        pending.push((source, name.clone()));
        let was = pair
            .previous
            .as_ref()
            .map_or(&pair.asana.fields, |r| &r.base)
            .custom
            .get(name)
            .cloned();
        match was {
            Some(v) => base.custom.insert(name.clone(), v),
            None => base.custom.remove(name),
        };
    }
}

/// Whether `error` is a side refusing a value (a 400 or 422, an invalid field), rather than
/// something wrong with the item or the connection: then the other fields can still go.
fn refuses_value(error: &ConnectorError) -> bool {
    match error {
        ConnectorError::Api { status, .. } => matches!(status, 400 | 422),
        ConnectorError::ChangedMeanwhile(_) => false,
        e => e.kind() == ErrorKind::InvalidData,
    }
}

fn bump(shared: &Shared, f: impl FnOnce(&mut Counts)) {
    f(&mut lock(&shared.counts));
}

/// Locks a mutex, going on with the data if another task panicked while holding it (the
/// counters and lists it guards stay meaningful).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refused value lets the item's other fields go on; a file saved during the run
    /// is not a refusal (the whole item waits for the next run), whatever its wording.
    #[test]
    fn only_refusals_of_a_value_let_the_other_fields_go() {
        let api = |status| ConnectorError::Api {
            service: "asana",
            status,
            message: "invalid".into(),
        };
        assert!(refuses_value(&api(400)));
        assert!(refuses_value(&api(422)));
        assert!(!refuses_value(&api(403)));
        assert!(refuses_value(&ConnectorError::InvalidData(
            "title too long".into()
        )));
        assert!(!refuses_value(&ConnectorError::ChangedMeanwhile(
            "anything at all".into()
        )));
        assert!(!refuses_value(&ConnectorError::NotFound("gone".into())));
    }
}
