//! One link's sync, end to end: observe both sides, plan (pure), check the guards, then
//! print the plan (`--dry-run`) or apply it, and keep the link's bookkeeping.

use std::collections::{BTreeSet, HashMap};

use asana_bridge_connector::{Changes, Connector, ConnectorError, Item, PageToken};
use asana_bridge_state::{StateError, Store};

use crate::apply::{Applier, Counts, ItemFailure};
use crate::config::LinkConfig;
use crate::linkstate::LinkState;
use crate::plan::{self, Action, Plan, PlanInput, Unreadable};

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
}

impl LinkReport {
    /// Whether the run had any error.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.fatal.is_some() || !self.failures.is_empty()
    }
}

/// Reads every item of one side, page by page.
pub async fn list_all(
    connector: &dyn Connector,
) -> Result<(Vec<Item>, Vec<ItemFailure>, Vec<Unreadable>), ConnectorError> {
    let mut items = Vec::new();
    let mut failures = Vec::new();
    let mut unreadable = Vec::new();
    let mut token: Option<PageToken> = None;
    loop {
        let page = connector.list_page(token.take()).await?;
        items.extend(page.items);
        for bad in page.errors {
            failures.push(ItemFailure {
                item: bad
                    .id
                    .as_deref()
                    .map_or_else(|| connector.kind().to_owned(), |id| connector.describe(id)),
                message: bad.error.to_string(),
            });
            unreadable.push(Unreadable {
                id: bad.id,
                partner: bad.partner,
            });
        }
        match page.next {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    Ok((items, failures, unreadable))
}

/// Asana as one run sees it.
struct AsanaView {
    items: Vec<Item>,
    failures: Vec<ItemFailure>,
    /// The change-feed cursor to keep after a successful run.
    cursor: Option<String>,
    /// Whether every task was listed.
    full: bool,
}

/// Reads Asana: only the tasks its change feed names when it can (one events request, then
/// the changed tasks), every task otherwise (no cursor yet, cursor expired, `full`).
async fn observe_asana(
    asana: &dyn Connector,
    records: &[crate::records::PairRecord],
    cursor: Option<&str>,
    full: bool,
) -> Result<AsanaView, ConnectorError> {
    let changes = match asana.changes(cursor).await {
        Ok(c) => c,
        Err(e) if e.is_fatal_for_link() => return Err(e),
        Err(e) => {
            tracing::warn!("the Asana change feed is not available ({e}); listing every task");
            Changes::Unsupported
        }
    };
    let (changed, next) = match changes {
        Changes::Since { changed, cursor } if !full => (changed, Some(cursor)),
        Changes::Since { cursor, .. } | Changes::Reset { cursor } => {
            let (items, failures, _) = list_all(asana).await?;
            return Ok(AsanaView {
                items,
                failures,
                cursor: Some(cursor),
                full: true,
            });
        }
        Changes::Unsupported => {
            let (items, failures, _) = list_all(asana).await?;
            return Ok(AsanaView {
                items,
                failures,
                cursor: None,
                full: true,
            });
        }
    };
    let changed: BTreeSet<String> = changed.into_iter().collect();
    let ids: Vec<String> = changed.iter().cloned().collect();
    let fetched: HashMap<String, Item> = if ids.is_empty() {
        HashMap::new()
    } else {
        asana
            .get_many(&ids)
            .await?
            .into_iter()
            .map(|i| (i.id.clone(), i))
            .collect()
    };
    let mut items: Vec<Item> = records
        .iter()
        .filter(|r| !changed.contains(&r.asana_gid))
        .filter_map(crate::records::PairRecord::asana_item)
        .collect();
    items.extend(fetched.into_values());
    Ok(AsanaView {
        items,
        failures: Vec::new(),
        cursor: next,
        full: false,
    })
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

    // Observe. The records are read first: an incremental read of Asana stands in the
    // unchanged tasks from them.
    let records = state.records()?;
    let intents = state.intent_list()?;
    let conflicts = state.conflict_list()?;
    let full_due = meta
        .last_full_scan
        .as_deref()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .is_none_or(|t| jiff::Timestamp::now().duration_since(t) >= options.full_scan_every);
    let want_full = options.full || full_due || records.is_empty();
    let target_listing = async {
        if options.target_unchanged && !want_full {
            Ok((
                records
                    .iter()
                    .filter_map(crate::records::PairRecord::target_item)
                    .collect(),
                Vec::new(),
                Vec::new(),
            ))
        } else {
            list_all(target).await
        }
    };
    let (asana_side, target_side) = tokio::join!(
        observe_asana(asana, &records, meta.asana_cursor.as_deref(), want_full),
        target_listing
    );
    let AsanaView {
        items: asana_items,
        failures: asana_failures,
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
    let (target_items, target_failures, target_unreadable) = match target_side {
        Ok(v) => v,
        Err(e) => {
            report.outage = e.is_retryable();
            report.fatal = Some(format!("listing the {}: {e}", target.kind()));
            return finish(report, &state, meta, options);
        }
    };
    report.failures.extend(asana_failures);
    report.failures.extend(target_failures);

    // An emptied side is an accident far more often than a wish.
    if !records.is_empty() && asana_items.is_empty() {
        report.fatal = Some(format!(
            "the Asana project {} lists no tasks while {} are mapped; refusing to mirror that as a mass deletion (wrong project, or a token that cannot see it?)",
            link.asana_project,
            records.len()
        ));
        return finish(report, &state, meta, options);
    }
    if !records.is_empty() && target_items.is_empty() && target_unreadable.is_empty() {
        report.fatal = Some(format!(
            "the {} target is empty while {} items are mapped; refusing to mirror that as a mass deletion (wrong folder?)",
            target.kind(),
            records.len()
        ));
        return finish(report, &state, meta, options);
    }

    let plan = plan::plan(&PlanInput {
        policy: link.conflict,
        asana: &asana_items,
        target: &target_items,
        target_unreadable: &target_unreadable,
        records: &records,
        intents: &intents,
        conflicts: &conflicts,
    });
    for problem in &plan.problems {
        report.failures.push(ItemFailure {
            item: match problem.side {
                crate::records::Side::Asana => asana.describe(&problem.id),
                crate::records::Side::Target => target.describe(&problem.id),
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
    let too_many =
        deletions > 2 && deletions as f64 > options.mass_delete_share * records.len() as f64;
    if too_many && !options.allow_mass_delete {
        report.fatal = Some(format!(
            "this run would delete {deletions} of {} mapped items (more than {:.0}%); nothing was changed. Check both sides, then run again with --allow-mass-delete if that is what you want",
            records.len(),
            options.mass_delete_share * 100.0
        ));
        report.plan = Some(plan);
        return finish(report, &state, meta, options);
    }

    if options.dry_run {
        report.mapped = records.len();
        report.conflicts_open = conflicts.len()
            + plan
                .actions
                .iter()
                .map(|a| match a {
                    Action::Sync(p) => p
                        .conflicts
                        .iter()
                        .filter(|c| c.detected_at.is_empty())
                        .count(),
                    Action::HoldDeletion { conflict, .. } if conflict.detected_at.is_empty() => 1,
                    _ => 0,
                })
                .sum::<usize>();
        report.plan = Some(plan);
        return Ok(report);
    }

    progress.inc_length(plan.actions.len() as u64);
    let tick = || progress.inc(1);
    let applier = Applier {
        asana,
        target,
        store,
        state: &state,
        now: now.clone(),
        on_progress: &tick,
        cancel,
    };
    let applied = applier.apply(plan).await?;
    report.counts = applied.counts;
    report.failures.extend(applied.failures);
    report.fatal = applied.aborted;
    report.outage = applied.outage;
    if !report.has_errors() {
        // Cursors advance only after a run without errors: a failed item's change is
        // seen again next time.
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
        meta.last_success = Some(now);
    }
    report.mapped = state.pairs.len();
    report.conflicts_open = state.conflicts.len();
    finish(report, &state, meta, options)
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
