//! What a clean run may move on: the Asana change-feed cursor and the time of the last
//! full listing.

use asana_bridge_connector::{Changes, Connector};

use super::{LinkReport, Run};

/// Whether a run may move the cursors on: only after it applied everything it read from
/// Asana (`held_back`: an item failed to apply, an Asana task could not be read, or a
/// pair blocked by a problem has a change from Asana), so that what it could not take in
/// is read again next time. A problem with a target item alone (a broken file) does not
/// hold them back: the target is listed again. A postponed create must be tried again:
/// the change feed must name its task again.
pub(super) fn may_advance(report: &LinkReport, held_back: bool) -> bool {
    report.fatal.is_none() && !held_back && report.counts.postponed == 0
}

/// After a clean run (everything read from Asana applied): records a full listing, and
/// keeps `cursor`, moved past the echoes of the run's own writes.
pub(super) async fn advance(
    asana: &dyn Connector,
    cursor: Option<String>,
    full: bool,
    run: &mut Run<'_>,
) {
    if full {
        run.meta.last_full_scan = Some(run.now.clone());
    }
    let counts = &run.report.counts;
    let wrote_asana = counts.created_asana + counts.updated_asana + counts.deleted_asana > 0
        || counts.threads.wrote_asana();
    let cursor = match cursor {
        Some(c) if wrote_asana => Some(drain_own_echoes(asana, c).await),
        other => other,
    };
    if let Some(cursor) = cursor {
        run.meta.asana_cursor = Some(cursor);
        run.meta.asana_cursor_at = Some(run.now.clone());
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
