//! An import into an empty target, streamed: each page of Asana tasks is planned and
//! applied before the next is read, so that a run never holds every task of a big
//! project (with its notes) at once.
//!
//! It is the same decision as planning the whole link at once, taken a page at a time:
//! with no record, intent, conflict or tombstone, and nothing in the target, no task's
//! action depends on another's (each is a new task whose copy is created, or a completed
//! one left out when the link does not import those), and nothing can be deleted. Any
//! other link, and every dry run, takes the ordinary way.

use asana_bridge_connector::Changes;
use asana_bridge_state::{StateError, Store};

use super::{
    Connectors, Run, Stop, Stored, SyncOptions, apply, plan_link, report_plan_problems,
    take_applied,
};
use crate::config::LinkConfig;
use crate::engine::gather::Planned;
use crate::failure::ItemFailure;
use crate::observe::SideView;

/// Whether a link of `mapped` pairs and `stored` state may be imported streaming, once
/// its target turns out to be empty ([`is_empty`]).
pub(super) fn may_stream(mapped: usize, stored: &Stored, options: SyncOptions) -> bool {
    mapped == 0
        && !options.dry_run
        && stored.intents.is_empty()
        && stored.conflicts.is_empty()
        && stored.tombstones.is_empty()
}

/// Whether the target holds nothing at all, readable or not.
pub(super) fn is_empty(target: &SideView) -> bool {
    target.others.is_empty() && target.unreadable.is_empty() && target.failures.is_empty()
}

/// What a streamed import leaves for the end of the run.
pub(super) struct Streamed {
    /// The change-feed cursor to keep after a clean run.
    pub cursor: Option<String>,
    /// Something read from Asana was not taken in (a task unreadable, a create failed, the
    /// run cancelled): the cursors stay.
    pub held_back: bool,
}

/// Imports every Asana task into the empty target, a page at a time. A listing that
/// fails part way stops the run; what was created by then is recorded, and the next run
/// goes on from there.
pub(super) async fn stream(
    link: &LinkConfig,
    connectors: &Connectors<'_>,
    store: &Store,
    run: &mut Run<'_>,
    progress: &indicatif::ProgressBar,
    cancel: Option<&std::sync::atomic::AtomicBool>,
) -> Result<Result<Streamed, Stop>, StateError> {
    let asana = connectors.asana;
    let project = format!("Asana project {}", link.asana_project);
    let cursor = match asana.changes(run.meta.asana_cursor.as_deref()).await {
        Ok(Changes::Since { cursor, .. } | Changes::Reset { cursor }) => Some(cursor),
        Ok(Changes::Unsupported) => None,
        Err(e) if e.is_fatal_for_link() => return Ok(Err(Stop::listing(&project, &e))),
        Err(e) => {
            tracing::warn!("the Asana change feed is not available ({e}); listing every task");
            None
        }
    };
    let stored = Stored::default();
    let gone = std::collections::BTreeMap::new();
    let mut held_back = false;
    // The next page is read while the current one is applied.
    let mut page = asana.list_page(None).await;
    loop {
        let current = match page {
            Ok(current) => current,
            Err(e) => return Ok(Err(Stop::listing(&project, &e))),
        };
        for bad in current.errors {
            held_back = true;
            run.report.failures.push(ItemFailure {
                item: bad
                    .id
                    .as_deref()
                    .map_or_else(|| asana.kind().to_owned(), |id| asana.describe(id)),
                message: bad.error.to_string(),
            });
        }
        // What the tasks say they were made from, as `sync_link` reads it.
        let mut new_asana = current.items;
        let target = connectors.target;
        crate::plan::pairing::resolve_hints(&mut new_asana, target.identity(), |id| {
            target.describe(id)
        });
        let planned = Planned {
            new_asana,
            ..Planned::default()
        };
        let plan = plan_link(link, connectors, planned, &stored, &gone);
        report_plan_problems(link, &plan, connectors, &mut run.report);
        let next = current.next.map(|token| asana.list_page(Some(token)));
        let (applied, next) = tokio::join!(
            apply(link, connectors, store, run, false, plan, progress, cancel),
            async {
                match next {
                    Some(next) => Some(next.await),
                    None => None,
                }
            }
        );
        if take_applied(&mut run.report, applied?) > 0 {
            held_back = true;
        }
        let cancelled = cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::SeqCst));
        if cancelled {
            held_back = true;
        }
        match next {
            Some(next) if run.report.fatal.is_none() && !cancelled => page = next,
            _ => break,
        }
    }
    Ok(Ok(Streamed { cursor, held_back }))
}
