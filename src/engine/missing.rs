//! What became of the mapped target items a full listing no longer shows: deletion needs
//! evidence. Each is asked after (present after all, moved away, deleted), and under
//! `watch` a deletion counts only once the item has been missing for the grace period.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use asana_bridge_connector::{Connector, Identity, Whereabouts};

use super::{Observations, Run};
use crate::failure::ItemFailure;
use crate::plan::quiet::SummaryIndex;
use crate::plan::{Gone, Observed};
use crate::records::{PairSummary, Side};

/// Asks the target after each mapped item observed gone whose task is there (a moved file
/// claims its task by its `asana_gid`, and is not missing): present after all (taken in
/// as read), moved away, or deleted, which counts once it has been missing for the grace
/// period (`watch`) or at once (`sync`). Returns the evidence for the planner, by gid.
pub(super) async fn what_became_of_the_missing(
    target: &dyn Connector,
    index: &SummaryIndex<'_>,
    seen: &mut Observations,
    run: &mut Run<'_>,
) -> BTreeMap<String, Gone> {
    let missing = missing(target.identity(), index, seen);
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
                let Some(grace) = run.options.delete_grace else {
                    gone.insert(gid, Gone::Confirmed);
                    continue;
                };
                let since = run
                    .meta
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
                    run.report.recheck_after = Some(
                        run.report
                            .recheck_after
                            .map_or(left, |r: Duration| r.min(left)),
                    );
                    gone.insert(gid, Gone::Pending);
                }
            }
            Err(e) => run.report.failures.push(ItemFailure {
                item: target.describe(&s.target_id),
                message: format!(
                    "missing from the listing, and asking after it failed: {e}; its task is left as it is"
                ),
            }),
        }
    }
    run.meta
        .missing_since
        .retain(|gid, _| still_missing.contains(gid));
    for item in found {
        seen.target.take(index, Side::Target, item);
    }
    gone
}

/// The pairs whose target item was observed gone while their task is there, and that no
/// other item claims (with [`Identity::Partner`], a file naming the task: renamed).
fn missing<'i>(
    identity: Identity,
    index: &SummaryIndex<'i>,
    seen: &Observations,
) -> Vec<&'i PairSummary> {
    let changed_own = seen.target.pairs.iter().filter_map(|o| match o {
        Observed::Changed(item) => Some(&**item),
        _ => None,
    });
    let claimed: HashSet<&str> = match identity {
        Identity::Partner => seen
            .target
            .others
            .iter()
            .chain(changed_own)
            .filter_map(|i| i.partner.as_deref())
            .collect(),
        Identity::Record => HashSet::new(),
    };
    index
        .summaries()
        .iter()
        .enumerate()
        .filter(|(i, s)| {
            seen.target.pairs[*i] == Observed::Gone
                && matches!(
                    seen.asana.pairs[*i],
                    Observed::Unchanged | Observed::Changed(_)
                )
                && !claimed.contains(&*s.asana_gid)
        })
        .map(|(_, s)| s)
        .collect()
}
