//! One link's sync, end to end, as the steps it performs: observe both sides, refuse an
//! emptied side, find out what became of missing target items, plan (pure), refuse a mass
//! deletion, then print the plan (`--dry-run`) or apply it, and move the cursors.
//!
//! Each step is one function here or in a submodule: [`guards`] (the two refusals),
//! [`missing`] (what became of the missing), [`gather`] (from what was observed to the
//! planner's input, quiet pairs left out), [`cursors`] (what a run may move on), and
//! [`preview`] (what a dry run reports). An import into an empty target takes a shorter
//! way through the same steps, page by page ([`import`]).

mod cursors;
mod gather;
mod guards;
mod import;
mod missing;
mod preview;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use asana_bridge_connector::Connector;
use asana_bridge_state::{StateError, Store};

use crate::apply::{Applied, Applier, Counts};
use crate::config::LinkConfig;
use crate::failure::ItemFailure;
use crate::linkstate::LinkState;
use crate::merge::Clocks;
use crate::observe::{self, AsanaView, SideView};
use crate::plan::quiet::SummaryIndex;
use crate::plan::{self, Gone, Plan, PlanInput};
use crate::records::{ConflictRecord, Intent, LinkMeta, Side, Tombstone};

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
    /// nothing): every recorded item is observed unchanged instead of listing it.
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

/// Why a run stopped before it changed anything.
struct Stop {
    message: String,
    /// A passing outage (service unreachable, rate limited): try again later.
    outage: bool,
}

impl Stop {
    fn refusal(message: String) -> Self {
        Self {
            message,
            outage: false,
        }
    }

    /// Listing `what` failed.
    fn listing(what: &str, e: &asana_bridge_connector::ConnectorError) -> Self {
        Self {
            outage: e.is_retryable(),
            message: format!("listing the {what}: {e}"),
        }
    }
}

/// Both sides as one run observed them.
struct Observations {
    asana: SideView,
    target: SideView,
    /// The change-feed cursor to keep after a successful run.
    cursor: Option<String>,
    /// Whether every Asana task was listed.
    full: bool,
    /// The tasks Asana's change feed named.
    named: BTreeSet<String>,
}

/// One run's bookkeeping: its report, the link's meta as it will be stored, its time.
struct Run<'s> {
    state: &'s LinkState,
    options: SyncOptions,
    report: LinkReport,
    meta: LinkMeta,
    now: String,
}

impl<'s> Run<'s> {
    fn start(
        link: &LinkConfig,
        state: &'s LinkState,
        options: SyncOptions,
    ) -> Result<Self, StateError> {
        let now = jiff::Timestamp::now().to_string();
        let mut meta = state.meta()?;
        meta.last_attempt = Some(now.clone());
        Ok(Self {
            state,
            options,
            report: LinkReport {
                link: link.name.clone(),
                dry_run: options.dry_run,
                ..LinkReport::default()
            },
            meta,
            now,
        })
    }

    /// Ends the run with `stop`, nothing changed.
    fn stop(mut self, stop: Stop) -> Result<LinkReport, StateError> {
        self.report.fatal = Some(stop.message);
        self.report.outage = stop.outage;
        self.finish()
    }

    /// Ends the run: the link's bookkeeping is stored (not on a dry run).
    fn finish(self) -> Result<LinkReport, StateError> {
        if !self.options.dry_run {
            self.state.set_meta(&self.meta)?;
        }
        Ok(self.report)
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
    let connectors = Connectors { asana, target };
    let state = LinkState::open(store, &link.name)?;
    let mut run = Run::start(link, &state, options)?;
    // Only a summary of each record is held while both sides are read (see `plan::quiet`).
    let summaries = state.summaries()?;
    let index = SummaryIndex::new(&summaries);

    let stored = Stored::load(&state)?;

    // An import into an empty target is streamed, page by page (see `import`).
    let mut target_read = None;
    if import::may_stream(index.len(), &stored, options) {
        match observe::list_all(target, Side::Target, &index).await {
            Ok(view) if import::is_empty(&view) => {
                return match import::stream(link, &connectors, store, &mut run, progress, cancel)
                    .await?
                {
                    Ok(import::Streamed { cursor, held_back }) => {
                        run.report.full_scan = true;
                        // Every file is written: now each task's subtasks and comments.
                        let mut held_back = held_back;
                        if run.report.fatal.is_none() {
                            let fill = crate::threads::Changed {
                                all_fresh: true,
                                ..crate::threads::Changed::default()
                            };
                            let failed = sync_threads(
                                link,
                                &connectors,
                                store,
                                &mut run,
                                &fill,
                                progress,
                                cancel,
                            )
                            .await?;
                            held_back |= failed > 0;
                        }
                        conclude(run, asana, cursor, true, held_back).await
                    }
                    Err(stop) => run.stop(stop),
                };
            }
            Ok(view) => target_read = Some(view),
            Err(e) => return run.stop(Stop::listing(target.kind(), &e)),
        }
    }

    let observed = observe_link(link, &connectors, &index, &run.meta, options, target_read);
    let mut seen = match observed.await {
        Ok(seen) => seen,
        Err(stop) => return run.stop(stop),
    };
    run.report.full_scan = seen.full;
    if let Err(stop) = guards::neither_side_emptied(link, target.kind(), index.len(), &seen) {
        return run.stop(stop);
    }
    let gone = missing::what_became_of_the_missing(target, &index, &mut seen, &mut run).await;
    // Pairs read changed on either side: their subtasks and comments are looked at after
    // the tasks (a comment or subtask changes a task's revision, not its fields).
    let mut changed_pairs = changed_pairs(&index, &seen);
    if !seen.full {
        read_tasks_targets_name(
            asana,
            &index,
            &stored.tombstones,
            &mut seen,
            &mut run.report,
        )
        .await;
    }

    let mapped = index.len();
    let Observations {
        asana: asana_view,
        target: target_view,
        cursor,
        full,
        named,
    } = seen;
    let gathered = gather::pairs_to_plan(
        &state,
        &index,
        asana_view,
        target_view,
        &stored.conflicts,
        &connectors,
    )?;
    drop(index);
    drop(summaries);
    let asana_failures = gathered.asana_failures.len();
    run.report.failures.extend(gathered.asana_failures);
    run.report.failures.extend(gathered.target_failures);
    let mut planned = gathered.planned;
    // Asana's side of the threads to look at: what its feed says touched them (a comment,
    // a subtask added; a named subtask is its parent's change), also when every task was
    // listed besides (a listing cannot say that a subtask changed); or, when the feed
    // could not be read, every changed task (and, in the thread phase, every task with
    // subtasks).
    match asana.threads().and_then(|t| t.touched()) {
        Some(touched) => {
            changed_pairs.asana = touched.into_iter().collect();
            let unpaired: BTreeSet<String> = named
                .into_iter()
                .filter(|gid| state.pairs.get(gid).ok().flatten().is_none())
                .collect();
            changed_pairs
                .asana
                .extend(crate::threads::parents_of(store, &link.name, &unpaired)?);
        }
        None => {
            changed_pairs
                .asana
                .extend(gathered.asana_named.iter().cloned());
            // A listing without the feed cannot tell a subtask renamed or checked.
            changed_pairs.full_listing = full;
        }
    }
    // What unpaired tasks say they were made from, as this link's target ids (the
    // recovery hint of `pairing`; a paired task's own pair comes from its record).
    let target = connectors.target;
    plan::pairing::resolve_hints(&mut planned.new_asana, target.identity(), |id| {
        target.describe(id)
    });
    let plan = plan_link(link, &connectors, planned, &stored, &gone);
    report_plan_problems(link, &plan, &connectors, &mut run.report);

    if let Err(stop) = guards::no_mass_deletion(&plan, mapped, options) {
        run.report.plan = Some(plan);
        return run.stop(stop);
    }
    if options.dry_run {
        sync_threads(
            link,
            &connectors,
            store,
            &mut run,
            &changed_pairs,
            progress,
            cancel,
        )
        .await?;
        return Ok(preview::dry_run(
            run.report,
            plan,
            mapped,
            &stored.conflicts,
        ));
    }

    // A pair blocked by a problem whose task Asana changed must have that change read
    // again once the problem is fixed.
    let blocked_changed = plan
        .blocked
        .iter()
        .any(|gid| gathered.asana_named.contains(gid));
    // Items this run creates from tasks have no lines or blocks yet.
    changed_pairs.fresh = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            plan::Action::CreateTarget { asana, .. } => Some(asana.id.clone()),
            _ => None,
        })
        .collect();
    let applied = apply(
        link,
        &connectors,
        store,
        &run,
        !stored.tombstones.is_empty(),
        plan,
        progress,
        cancel,
    )
    .await?;
    let mut apply_failures = take_applied(&mut run.report, applied);
    if run.report.fatal.is_none() {
        apply_failures += sync_threads(
            link,
            &connectors,
            store,
            &mut run,
            &changed_pairs,
            progress,
            cancel,
        )
        .await?;
    }
    let held_back = apply_failures > 0 || asana_failures > 0 || blocked_changed;
    conclude(run, asana, cursor, full, held_back).await
}

/// Ends a run that applied its plan: its success and cursors recorded, what is mapped now.
/// `held_back`: something read from Asana was not taken in (see [`cursors::may_advance`]).
async fn conclude(
    mut run: Run<'_>,
    asana: &dyn Connector,
    cursor: Option<String>,
    full: bool,
    held_back: bool,
) -> Result<LinkReport, StateError> {
    if !run.report.has_errors() {
        run.meta.last_success = Some(run.now.clone());
    }
    if cursors::may_advance(&run.report, held_back) {
        cursors::advance(asana, cursor, full, &mut run).await;
    }
    run.report.mapped = run.state.pairs.len();
    run.report.conflicts_open = run.state.conflicts.len();
    run.finish()
}

/// The Asana gids of the pairs read changed on each side this run.
fn changed_pairs(index: &SummaryIndex<'_>, seen: &Observations) -> crate::threads::Changed {
    let changed = |side: &[plan::Observed]| -> BTreeSet<String> {
        index
            .summaries()
            .iter()
            .zip(side)
            .filter(|(_, o)| matches!(o, plan::Observed::Changed(_)))
            .map(|(s, _)| s.asana_gid.to_string())
            .collect()
    };
    let mut target = changed(&seen.target.pairs);
    // A file renamed or moved reads as another item naming its task.
    target.extend(
        seen.target
            .others
            .iter()
            .filter_map(|i| i.partner.as_deref())
            .filter(|gid| index.of_gid(gid).is_some())
            .map(str::to_owned),
    );
    crate::threads::Changed {
        asana: changed(&seen.asana.pairs),
        target,
        ..crate::threads::Changed::default()
    }
}

/// The run's second phase: subtasks and comments of the pairs that changed and of those
/// never looked at (see [`crate::threads`]). Returns how many items failed.
async fn sync_threads(
    link: &LinkConfig,
    &Connectors { asana, target }: &Connectors<'_>,
    store: &Store,
    run: &mut Run<'_>,
    changed: &crate::threads::Changed,
    progress: &indicatif::ProgressBar,
    cancel: Option<&std::sync::atomic::AtomicBool>,
) -> Result<usize, StateError> {
    if asana.threads().is_none() || !target.keeps_threads() {
        return Ok(0);
    }
    let dry_run = run.options.dry_run;
    let pairs = crate::threads::wanted(
        store,
        run.state,
        &link.name,
        changed,
        asana.threads(),
        dry_run,
    )?;
    let outcome = crate::threads::sync(
        link, asana, target, store, run.state, &pairs, dry_run, progress, cancel,
    )
    .await?;
    run.report.counts.threads = outcome.counts;
    run.report.notes.extend(outcome.notes);
    let failed = outcome.failures.len() + usize::from(outcome.held_back);
    run.report.failures.extend(outcome.failures);
    run.report.failures.extend(outcome.problems);
    if let Some(message) = outcome.aborted {
        run.report.fatal = Some(message);
    }
    Ok(failed)
}

/// The two connectors of a link.
struct Connectors<'c> {
    asana: &'c dyn Connector,
    target: &'c dyn Connector,
}

/// Reads both sides at once: Asana through its change feed unless a full listing is due,
/// the target in full unless it is known unchanged.
/// `target_read`: the target, when it was read already.
async fn observe_link(
    link: &LinkConfig,
    &Connectors { asana, target }: &Connectors<'_>,
    index: &SummaryIndex<'_>,
    meta: &LinkMeta,
    options: SyncOptions,
    target_read: Option<SideView>,
) -> Result<Observations, Stop> {
    let full_due = meta
        .last_full_scan
        .as_deref()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .is_none_or(|t| jiff::Timestamp::now().duration_since(t) >= options.full_scan_every);
    let want_full = options.full || full_due || index.is_empty();
    let target_listing = async {
        if let Some(view) = target_read {
            Ok(view)
        } else if options.target_unchanged && !want_full {
            Ok(observe::target_unchanged(index))
        } else {
            observe::list_all(target, Side::Target, index).await
        }
    };
    let (asana_side, target_side) = tokio::join!(
        observe::asana(asana, index, meta.asana_cursor.as_deref(), want_full),
        target_listing
    );
    let AsanaView {
        view: asana_view,
        cursor,
        full,
        named,
    } = asana_side.map_err(|e| Stop {
        outage: e.is_retryable(),
        message: format!("listing the Asana project {}: {e}", link.asana_project),
    })?;
    let target_view = target_side.map_err(|e| Stop::listing(target.kind(), &e))?;
    Ok(Observations {
        asana: asana_view,
        target: target_view,
        cursor,
        full,
        named,
    })
}

/// A target item naming a task the change feed did not mention (one re-linked after the
/// state was lost): reads that task, so it is paired, not taken for unknown. A task the
/// bridge deleted is not asked after on every run: restored, the feed names it.
async fn read_tasks_targets_name(
    asana: &dyn Connector,
    index: &SummaryIndex<'_>,
    tombstones: &[Tombstone],
    seen: &mut Observations,
    report: &mut LinkReport,
) {
    let deleted: HashSet<&str> = tombstones
        .iter()
        .filter(|t| !t.how.task_kept())
        .map(|t| t.asana_gid.as_str())
        .collect();
    let known: HashSet<&str> = seen
        .asana
        .others
        .iter()
        .map(|i| i.id.as_str())
        .chain(deleted)
        .collect();
    let changed_own = seen.target.pairs.iter().filter_map(|o| match o {
        plan::Observed::Changed(item) => Some(&**item),
        _ => None,
    });
    let wanted: BTreeSet<String> = seen
        .target
        .others
        .iter()
        .chain(changed_own)
        .filter_map(|i| i.partner.as_deref())
        .filter(|gid| index.of_gid(gid).is_none() && !known.contains(gid))
        .map(str::to_owned)
        .collect();
    if wanted.is_empty() {
        return;
    }
    let wanted: Vec<String> = wanted.into_iter().collect();
    match asana.get_many(&wanted).await {
        Ok(items) => {
            for item in items {
                seen.asana.take(index, Side::Asana, item);
            }
        }
        Err(e) => report.failures.push(ItemFailure {
            item: format!("Asana tasks {}", wanted.join(", ")),
            message: format!("reading the tasks files name: {e}"),
        }),
    }
}

/// What the link's state holds besides its pairs, as the planner needs it.
#[derive(Default)]
struct Stored {
    intents: Vec<Intent>,
    conflicts: Vec<ConflictRecord>,
    tombstones: Vec<Tombstone>,
}

impl Stored {
    fn load(state: &LinkState) -> Result<Self, StateError> {
        Ok(Self {
            intents: state.intent_list()?,
            conflicts: state.conflict_list()?,
            tombstones: state.tombstone_list()?,
        })
    }
}

/// Plans the gathered pairs (pure). They are dropped once planned: the plan holds what it
/// needs, and an import's items are not kept twice while it runs.
fn plan_link(
    link: &LinkConfig,
    &Connectors { asana, target }: &Connectors<'_>,
    planned: gather::Planned,
    stored: &Stored,
    gone: &BTreeMap<String, Gone>,
) -> Plan {
    plan::plan(&PlanInput {
        policy: link.conflict,
        identity: target.identity(),
        noun: noun(target.kind()),
        pairs: &planned.pairs,
        new_asana: &planned.new_asana,
        other_target: &planned.other_target,
        target_unreadable: &planned.target_unreadable,
        intents: &stored.intents,
        conflicts: &stored.conflicts,
        tombstones: &stored.tombstones,
        gone,
        on_delete: link.on_delete,
        import_completed: link.import_completed,
        tags_ignore_case: target.tags_ignore_case(),
        filled_in: &planned.filled_in,
        clocks: Clocks {
            asana_ahead: meaningful(asana.clock_offset()),
            target_ahead: meaningful(target.clock_offset()),
        },
    })
}

/// Reports the planner's problems, one error line per item.
fn report_plan_problems(
    link: &LinkConfig,
    plan: &Plan,
    &Connectors { asana, target }: &Connectors<'_>,
    report: &mut LinkReport,
) {
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
}

/// Performs `plan`.
#[allow(clippy::too_many_arguments)] // one step of `sync_link`, with what it acts on
async fn apply(
    link: &LinkConfig,
    connectors: &Connectors<'_>,
    store: &Store,
    run: &Run<'_>,
    has_tombstones: bool,
    plan: Plan,
    progress: &indicatif::ProgressBar,
    cancel: Option<&std::sync::atomic::AtomicBool>,
) -> Result<(Applied, Vec<String>), StateError> {
    progress.inc_length(plan.actions.len() as u64);
    let tick = || progress.inc(1);
    let notes = std::sync::Mutex::new(Vec::new());
    let trash = crate::trash::dir_of(link, store.dir());
    let applier = Applier {
        asana: connectors.asana,
        target: connectors.target,
        store,
        state: run.state,
        now: run.now.clone(),
        on_progress: &tick,
        cancel,
        trash: &trash,
        has_tombstones,
        notes: &notes,
    };
    let applied = applier.apply(plan).await?;
    Ok((
        applied,
        notes.into_inner().unwrap_or_else(|e| e.into_inner()),
    ))
}

/// Takes what applying did into `report`. Returns how many items failed.
fn take_applied(report: &mut LinkReport, (applied, notes): (Applied, Vec<String>)) -> usize {
    report.notes.extend(notes);
    report.counts.add(&applied.counts);
    let failures = applied.failures.len();
    report.failures.extend(applied.failures);
    if report.fatal.is_none() {
        report.fatal = applied.aborted;
    }
    report.outage |= applied.outage;
    failures
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
