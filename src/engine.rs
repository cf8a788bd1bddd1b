//! One link's sync, end to end: observe both sides, plan (pure), check the guards, then
//! print the plan (`--dry-run`) or apply it, and keep the link's bookkeeping.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use asana_bridge_connector::{Changes, Connector, Field, Identity, Item, Whereabouts};
use asana_bridge_state::{StateError, Store};

use crate::apply::{Applier, Counts};
use crate::config::LinkConfig;
use crate::failure::ItemFailure;
use crate::linkstate::LinkState;
use crate::merge::Clocks;
use crate::observe::{self, AsanaView, SideView};
use crate::plan::quiet::{self, Seen, SummaryIndex};
use crate::plan::{self, Action, Gone, Plan, PlanInput};
use crate::records::{ConflictRecord, LinkMeta, PairRecord, PairSummary, Side};

/// How a sync run behaves.
#[derive(Clone, Copy, Debug)]
pub struct SyncOptions {
    /// Plan and print, write nothing.
    pub dry_run: bool,
    /// Let a run delete more than `mass_delete_share` of a link's items.
    pub allow_mass_delete: bool,
    /// Share of mapped items a run may delete before it stops and asks (0.0..=1.0).
    pub mass_delete_share: f64,
    /// List every Asana task even when the change feed could say what changed.
    pub full: bool,
    /// How old the last full listing may be before a run lists everything again: the
    /// change feed is at-most-once, so a periodic full listing catches what it missed.
    pub full_scan_every: jiff::SignedDuration,
    /// The target is known not to have changed since the last run (its watcher saw
    /// nothing): stand its items in from the records instead of listing it.
    pub target_unchanged: bool,
    /// How long a mapped target item must stay missing before its absence counts as a
    /// deletion (`watch`: editors' atomic saves, checkouts); `None`: at once (`sync`).
    pub delete_grace: Option<Duration>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            allow_mass_delete: false,
            mass_delete_share: 0.5,
            full: false,
            full_scan_every: jiff::SignedDuration::from_hours(1),
            target_unchanged: false,
            delete_grace: None,
        }
    }
}

/// What happened to one link.
#[derive(Debug, Default)]
pub struct LinkReport {
    pub link: String,
    pub dry_run: bool,
    /// The plan, for `--dry-run` output (and `--json`).
    pub plan: Option<Plan>,
    pub counts: Counts,
    /// Items mapped after the run.
    pub mapped: usize,
    pub failures: Vec<ItemFailure>,
    pub conflicts_open: usize,
    /// A link-wide failure that stopped it (listing failed, token refused, a guard).
    pub fatal: Option<String>,
    /// Whether every Asana task was listed (rather than only the changed ones).
    pub full_scan: bool,
    /// `fatal` is a passing outage (service unreachable, rate limited): try again later.
    pub outage: bool,
    /// What the run did that a user should hear of beyond the counts (a task let go, an
    /// item that moved away).
    pub notes: Vec<String>,
    /// A mapped target item is missing but not yet for the grace period: run again (with
    /// a target listing) after this long.
    pub recheck_after: Option<Duration>,
}

impl LinkReport {
    /// Whether the run had any error.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.fatal.is_some() || !self.failures.is_empty()
    }
}

/// After a run that wrote to Asana, reads the feed once more from `cursor`: when all it
/// reports is the echo of our own writes (the connector drops those), the cursor moves past
/// them, so the next run need not read those tasks back. Anything else keeps `cursor`
/// where it was, for the next run to see.
async fn drain_own_echoes(asana: &dyn Connector, cursor: String) -> String {
    match asana.changes(Some(&cursor)).await {
        Ok(Changes::Since {
            changed,
            cursor: next,
        }) if changed.is_empty() => next,
        Ok(_) => cursor,
        Err(e) => {
            tracing::debug!("reading our own echoes failed ({e}); the next run reads them");
            cursor
        }
    }
}

/// Syncs one link. Only a state-store failure is an `Err`; everything else is reported.
pub async fn sync_link(
    link: &LinkConfig,
    asana: &dyn Connector,
    target: &dyn Connector,
    store: &Store,
    options: SyncOptions,
    progress: &indicatif::ProgressBar,
    cancel: Option<&std::sync::atomic::AtomicBool>,
) -> Result<LinkReport, StateError> {
    let state = LinkState::open(store, &link.name)?;
    let mut report = LinkReport {
        link: link.name.clone(),
        dry_run: options.dry_run,
        ..LinkReport::default()
    };
    let now = jiff::Timestamp::now().to_string();
    let mut meta = state.meta()?;
    meta.last_attempt = Some(now.clone());

    // Observe. Only a summary of each record is held while both sides are read; items
    // exactly as recorded are dropped as they arrive (see `plan::quiet`).
    let summaries = state.summaries()?;
    let index = SummaryIndex::new(&summaries).with_identity(target.identity());
    let intents = state.intent_list()?;
    let conflicts = state.conflict_list()?;
    let full_due = meta
        .last_full_scan
        .as_deref()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .is_none_or(|t| jiff::Timestamp::now().duration_since(t) >= options.full_scan_every);
    let want_full = options.full || full_due || summaries.is_empty();
    let target_listing = async {
        if options.target_unchanged && !want_full {
            Ok(observe::target_unchanged(&index))
        } else {
            observe::list_all(target, Side::Target, &index).await
        }
    };
    let (asana_side, target_side) = tokio::join!(
        observe::asana(asana, &index, meta.asana_cursor.as_deref(), want_full),
        target_listing
    );
    let AsanaView {
        view: asana_view,
        cursor,
        full,
    } = match asana_side {
        Ok(v) => v,
        Err(e) => {
            report.outage = e.is_retryable();
            report.fatal = Some(format!(
                "listing the Asana project {}: {e}",
                link.asana_project
            ));
            return finish(report, &state, meta, options);
        }
    };
    report.full_scan = full;
    let target_view = match target_side {
        Ok(v) => v,
        Err(e) => {
            report.outage = e.is_retryable();
            report.fatal = Some(format!("listing the {}: {e}", target.kind()));
            return finish(report, &state, meta, options);
        }
    };
    let mapped = summaries.len();
    let mut target_view = target_view;
    let mut asana_view = asana_view;

    // An emptied side is an accident far more often than a wish.
    if mapped > 0 && asana_view.present() == 0 {
        report.fatal = Some(format!(
            "the Asana project {} lists no tasks while {mapped} are mapped; refusing to mirror that as a mass deletion (wrong project, or a token that cannot see it?)",
            link.asana_project,
        ));
        return finish(report, &state, meta, options);
    }
    if mapped > 0 && target_view.present() == 0 && target_view.unreadable.is_empty() {
        report.fatal = Some(format!(
            "the {} target is empty while {mapped} items are mapped; refusing to mirror that as a mass deletion (wrong folder?)",
            target.kind(),
        ));
        return finish(report, &state, meta, options);
    }

    // What became of mapped target items the listing no longer shows: deletion needs
    // evidence (asked after, and under `watch` missing for the whole grace period).
    let identity = target.identity();
    let gone = ask_after_missing(
        target,
        identity,
        &index,
        &asana_view,
        &mut target_view,
        &mut meta,
        options,
        &mut report,
    )
    .await;
    // A file naming a task the change feed did not mention (one re-linked after the state
    // was lost): read that task, so it is paired, not taken for unknown. A task the bridge
    // deleted is not asked after on every run: restored, the feed names it.
    let tombstones = state.tombstone_list()?;
    if !full {
        let deleted: HashSet<&str> = tombstones
            .iter()
            .filter(|t| !t.how.task_kept())
            .map(|t| t.asana_gid.as_str())
            .collect();
        let known: HashSet<&str> = asana_view
            .items
            .iter()
            .map(|i| i.id.as_str())
            .chain(deleted)
            .collect();
        let wanted: BTreeSet<String> = target_view
            .items
            .iter()
            .filter_map(|i| i.partner.as_deref())
            .filter(|gid| index.of_gid(gid).is_none() && !known.contains(gid))
            .map(str::to_owned)
            .collect();
        if !wanted.is_empty() {
            let wanted: Vec<String> = wanted.into_iter().collect();
            match asana.get_many(&wanted).await {
                Ok(items) => asana_view.items.extend(items),
                Err(e) => report.failures.push(ItemFailure {
                    item: format!("Asana tasks {}", wanted.join(", ")),
                    message: format!("reading the tasks files name: {e}"),
                }),
            }
        }
    }

    // Plan the pairs that are not settled: read their full records back and stand the
    // records in for their sides seen as recorded.
    let settled = quiet::settled(
        &index,
        &asana_view.seen,
        &target_view.seen,
        &target_view.items,
        &target_view.unreadable,
        &conflicts,
    );
    let mut records = Vec::new();
    // The tasks this run read from Asana as changed or gone: a pair blocked by a problem
    // must see them again once the problem is fixed.
    let asana_named: HashSet<String> = asana_view
        .items
        .iter()
        .map(|i| i.id.clone())
        .chain(
            summaries
                .iter()
                .zip(&asana_view.seen)
                .filter(|(_, seen)| **seen == Seen::Absent)
                .map(|(s, _)| s.asana_gid.to_string()),
        )
        .collect();
    let mut asana_items = asana_view.items;
    // What tasks say they were made from, as this link's target ids (see `pairing`).
    plan::pairing::resolve_hints(&mut asana_items, identity, |id| target.describe(id));
    let mut target_items = target_view.items;
    for (i, summary) in summaries.iter().enumerate() {
        if settled[i] {
            continue;
        }
        let Some(record) = state.pairs.get(&summary.asana_gid)? else {
            continue;
        };
        if asana_view.seen[i] == Seen::AsRecorded {
            asana_items.extend(record.asana_item());
        }
        if target_view.seen[i] == Seen::AsRecorded {
            target_items.extend(record.target_item());
        }
        records.push(record);
    }
    // A field a side holds but cannot express (a GitHub issue assigned only to people
    // `[users]` does not map, an Asana assignee whose e-mail is hidden) reads as it was
    // last seen: it never clears the other side.
    // (The plan never carries such a value into a new counterpart.)
    let mut filled_in = read_unknown_as_last_seen(&mut asana_items, asana, &records, Side::Asana);
    filled_in.extend(read_unknown_as_last_seen(
        &mut target_items,
        target,
        &records,
        Side::Target,
    ));
    // Asana-side failures keep the cursor where it is (those tasks must be read again);
    // the target's are seen again by listing it.
    let asana_failures = asana_view.failures.len();
    report.failures.extend(asana_view.failures);
    report.failures.extend(target_view.failures);
    drop(index);
    drop(summaries);

    let plan = plan::plan(&PlanInput {
        policy: link.conflict,
        identity,
        noun: noun(target.kind()),
        asana: &asana_items,
        target: &target_items,
        target_unreadable: &target_view.unreadable,
        records: &records,
        intents: &intents,
        conflicts: &conflicts,
        tombstones: &tombstones,
        gone: &gone,
        on_delete: link.on_delete,
        import_completed: link.import_completed,
        tags_ignore_case: target.tags_ignore_case(),
        filled_in: &filled_in,
        clocks: Clocks {
            asana_ahead: meaningful(asana.clock_offset()),
            target_ahead: meaningful(target.clock_offset()),
        },
    });
    // The plan holds what it needs: an import's items are not kept twice while it runs.
    drop((asana_items, target_items, records));
    for problem in &plan.problems {
        report.failures.push(ItemFailure {
            item: match problem.side {
                Side::Asana => asana.describe(&problem.id),
                Side::Target => target.describe(&problem.id),
            },
            message: problem.message.clone(),
        });
    }
    if plan.deletions_held {
        tracing::warn!(
            link = %link.name,
            "some unreadable {} items could not be identified; deletions are held back this run",
            target.kind()
        );
    }

    let deletions = plan
        .actions
        .iter()
        .filter(|a| matches!(a, Action::DeleteAsana { .. } | Action::DeleteTarget { .. }))
        .count();
    #[allow(clippy::cast_precision_loss)] // item counts are far below 2^52
    let too_many = deletions > 2 && deletions as f64 > options.mass_delete_share * mapped as f64;
    if too_many && !options.allow_mass_delete {
        report.fatal = Some(format!(
            "this run would delete {deletions} of {mapped} mapped items (more than {:.0}%); nothing was changed. Check both sides, then run again with --allow-mass-delete if that is what you want",
            options.mass_delete_share * 100.0
        ));
        report.plan = Some(plan);
        return finish(report, &state, meta, options);
    }

    if options.dry_run {
        report.mapped = mapped;
        report.conflicts_open = conflicts_after(&conflicts, &plan.actions);
        report.plan = Some(plan);
        return Ok(report);
    }

    progress.inc_length(plan.actions.len() as u64);
    let tick = || progress.inc(1);
    let notes = std::sync::Mutex::new(Vec::new());
    let trash = crate::trash::dir_of(link, store.dir());
    // A pair blocked by a problem whose task Asana changed must have that change read
    // again once the problem is fixed: the cursor stays.
    let blocked_changed = plan.blocked.iter().any(|gid| asana_named.contains(gid));
    let applier = Applier {
        asana,
        target,
        store,
        state: &state,
        now: now.clone(),
        on_progress: &tick,
        cancel,
        trash: &trash,
        has_tombstones: !tombstones.is_empty(),
        notes: &notes,
    };
    let applied = applier.apply(plan).await?;
    report.notes = notes.into_inner().unwrap_or_else(|e| e.into_inner());
    report.counts = applied.counts;
    let apply_failures = applied.failures.len();
    report.failures.extend(applied.failures);
    report.fatal = applied.aborted;
    report.outage = applied.outage;
    if !report.has_errors() {
        meta.last_success = Some(now.clone());
    }
    // A postponed create must be tried again: the change feed must name its task again.
    let postponed = report.counts.postponed > 0;
    if report.fatal.is_none()
        && apply_failures == 0
        && asana_failures == 0
        && !blocked_changed
        && !postponed
    {
        // Cursors advance only after a run that applied everything it read from Asana: a
        // failed item's change is seen again next time. A problem with a target item
        // alone (a broken file) does not hold them back: the target is listed again.
        if full {
            meta.last_full_scan = Some(now.clone());
        }
        let wrote_asana =
            report.counts.created_asana + report.counts.updated_asana + report.counts.deleted_asana
                > 0;
        let cursor = match cursor {
            Some(c) if wrote_asana => Some(drain_own_echoes(asana, c).await),
            other => other,
        };
        if let Some(cursor) = cursor {
            meta.asana_cursor = Some(cursor);
            meta.asana_cursor_at = Some(now.clone());
        }
    }
    report.mapped = state.pairs.len();
    report.conflicts_open = state.conflicts.len();
    finish(report, &state, meta, options)
}

/// Reads the fields `side`'s connector says it cannot express for an item (see
/// [`Connector::unknown_fields`]) as the pair's record last saw them there. Returns the
/// fields filled in so, by side and item id.
fn read_unknown_as_last_seen(
    items: &mut [Item],
    connector: &dyn Connector,
    records: &[PairRecord],
    side: Side,
) -> HashMap<(Side, String), Vec<Field>> {
    fn id(r: &PairRecord, side: Side) -> &str {
        match side {
            Side::Asana => &r.asana_gid,
            Side::Target => &r.target_id,
        }
    }
    let mut filled_in = HashMap::new();
    let mut recorded_at: Option<HashMap<&str, &PairRecord>> = None;
    for item in items {
        let unknown = connector.unknown_fields(item);
        if unknown.is_empty() {
            continue;
        }
        let recorded_at =
            recorded_at.get_or_insert_with(|| records.iter().map(|r| (id(r, side), r)).collect());
        let last = recorded_at.get(item.id.as_str()).and_then(|r| match side {
            Side::Asana => r.asana_item(),
            Side::Target => r.target_item(),
        });
        if let Some(last) = last {
            for field in &unknown {
                item.fields.copy_field(&last.fields, *field);
            }
            filled_in.insert((side, item.id.clone()), unknown);
        }
    }
    filled_in
}

/// What the target calls its items, for messages.
fn noun(kind: &str) -> &'static str {
    match kind {
        "markdown" => "file",
        "github" => "issue",
        _ => "item",
    }
}

/// A clock offset worth correcting for: `Date` headers have a resolution of one second,
/// so smaller offsets are noise.
fn meaningful(offset: Option<jiff::SignedDuration>) -> jiff::SignedDuration {
    offset
        .filter(|o| o.abs() >= jiff::SignedDuration::from_secs(2))
        .unwrap_or_default()
}

/// Asks the target after each mapped item its full listing no longer shows (a moved file
/// claims its task by its `asana_gid`, and is not missing): present after all (taken in
/// as listed), moved away, or deleted, which counts once it has been missing for the
/// grace period (`watch`) or at once (`sync`). Returns the evidence for the planner.
#[allow(clippy::too_many_arguments)] // one step of `sync_link`, with its state
async fn ask_after_missing(
    target: &dyn Connector,
    identity: Identity,
    index: &SummaryIndex<'_>,
    asana: &SideView,
    target_view: &mut SideView,
    meta: &mut LinkMeta,
    options: SyncOptions,
    report: &mut LinkReport,
) -> BTreeMap<String, Gone> {
    let claimed: HashSet<&str> = match identity {
        Identity::Partner => target_view
            .items
            .iter()
            .filter_map(|i| i.partner.as_deref())
            .collect(),
        Identity::Record => HashSet::new(),
    };
    let unreadable: HashSet<&str> = target_view
        .unreadable
        .iter()
        .filter_map(|u| u.partner.as_deref())
        .collect();
    let missing: Vec<&PairSummary> = index
        .summaries()
        .iter()
        .enumerate()
        .filter(|(i, s)| {
            target_view.seen[*i] == Seen::Absent
                && asana.seen[*i] != Seen::Absent
                && !claimed.contains(&*s.asana_gid)
                && !unreadable.contains(&*s.asana_gid)
        })
        .map(|(_, s)| s)
        .collect();
    let now = jiff::Timestamp::now();
    let mut gone = BTreeMap::new();
    let mut found = Vec::new();
    let mut still_missing = BTreeSet::new();
    for s in missing {
        let gid = s.asana_gid.to_string();
        match target.whereabouts(&s.target_id).await {
            Ok(Whereabouts::Present(item)) => found.push(item),
            Ok(Whereabouts::Moved { to }) => {
                gone.insert(gid, Gone::Moved { to });
            }
            Ok(Whereabouts::Deleted) => {
                let Some(grace) = options.delete_grace else {
                    gone.insert(gid, Gone::Confirmed);
                    continue;
                };
                let since = meta
                    .missing_since
                    .entry(gid.clone())
                    .or_insert_with(|| now.to_string())
                    .parse::<jiff::Timestamp>()
                    .unwrap_or(now);
                still_missing.insert(gid.clone());
                let missed = now
                    .duration_since(since)
                    .try_into()
                    .unwrap_or(Duration::ZERO);
                if missed >= grace {
                    gone.insert(gid, Gone::Confirmed);
                } else {
                    let left = grace - missed;
                    report.recheck_after =
                        Some(report.recheck_after.map_or(left, |r: Duration| r.min(left)));
                    gone.insert(gid, Gone::Pending);
                }
            }
            Err(e) => report.failures.push(ItemFailure {
                item: target.describe(&s.target_id),
                message: format!(
                    "missing from the listing, and asking after it failed: {e}; its task is left as it is"
                ),
            }),
        }
    }
    meta.missing_since
        .retain(|gid, _| still_missing.contains(gid));
    for item in found {
        target_view.take(index, Side::Target, item);
    }
    gone
}

fn finish(
    report: LinkReport,
    state: &LinkState,
    meta: crate::records::LinkMeta,
    options: SyncOptions,
) -> Result<LinkReport, StateError> {
    if !options.dry_run {
        state.set_meta(&meta)?;
    }
    Ok(report)
}

/// How many conflicts the store would hold once `actions` were applied: the recorded ones,
/// plus those the plan opens, minus those it settles or replaces (what `--dry-run` reports).
fn conflicts_after(recorded: &[ConflictRecord], actions: &[Action]) -> usize {
    // Conflict id -> the gid of its pair.
    let mut open: BTreeMap<&str, &str> = recorded
        .iter()
        .map(|c| (c.id.as_str(), c.asana_gid.as_str()))
        .collect();
    for action in actions {
        match action {
            Action::Sync(pair) => {
                for id in &pair.settled {
                    open.remove(id.as_str());
                }
                for c in &pair.conflicts {
                    open.insert(&c.id, &c.asana_gid);
                }
            }
            Action::HoldDeletion {
                conflict,
                superseded,
                ..
            } => {
                for id in superseded {
                    open.remove(id.as_str());
                }
                open.insert(&conflict.id, &conflict.asana_gid);
            }
            // A pair forgotten takes its conflicts with it.
            Action::DeleteTarget { record, .. }
            | Action::DeleteAsana { record, .. }
            | Action::Forget { record }
            | Action::Unlink { record, .. }
            | Action::CreateTarget {
                replaces: Some(record),
                ..
            }
            | Action::CreateAsana {
                replaces: Some(record),
                ..
            } => open.retain(|_, gid| *gid != record.asana_gid),
            Action::CreateTarget { .. }
            | Action::CreateAsana { .. }
            | Action::DropIntent { .. } => {}
        }
    }
    open.len()
}
