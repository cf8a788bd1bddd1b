//! Reading both sides of a link for one run, page by page: how each recorded pair's item
//! stands on each side ([`Observed`]), and the items no record pairs.
//!
//! Every item is checked against the link's [`PairSummary`](crate::records::PairSummary)s
//! as it arrives: a pair's own item exactly as its record remembers it
//! ([`quiet::as_recorded`]) is dropped and observed [`Observed::Unchanged`]; one that is
//! not is kept as [`Observed::Changed`]; an item that is no pair's own (new, renamed,
//! copied) is kept apart. Asana is read through its change feed when it can (one events
//! request, then only the changed tasks: every other task is unchanged), in full otherwise.

use std::collections::BTreeSet;

use asana_bridge_connector::{Changes, Connector, ConnectorError, Item, PageToken};

use crate::failure::ItemFailure;
use crate::plan::quiet::{self, SummaryIndex};
use crate::plan::{Observed, Unreadable};
use crate::records::Side;

/// One side as a run saw it.
#[derive(Debug, Default)]
pub struct SideView {
    /// How each recorded pair's own item on this side was observed, by summary position.
    pub pairs: Vec<Observed>,
    /// Items read that are not taken as a pair's own item: on Asana, tasks no record
    /// pairs; on the target, new, renamed or copied items (pairing decides about them).
    pub others: Vec<Item>,
    /// Items that could not be read, reported per item.
    pub failures: Vec<ItemFailure>,
    /// The same, for the planner (their pairs are left alone).
    pub unreadable: Vec<Unreadable>,
}

impl SideView {
    /// A view in which every recorded pair's item is observed `as`.
    pub(crate) fn new(pairs: usize, observed: &Observed) -> Self {
        Self {
            pairs: vec![observed.clone(); pairs],
            ..Self::default()
        }
    }

    /// Items on this side: read, or unchanged and not read.
    #[must_use]
    pub fn present(&self) -> usize {
        self.others.len()
            + self
                .pairs
                .iter()
                .filter(|o| matches!(o, Observed::Unchanged | Observed::Changed(_)))
                .count()
    }

    /// Takes `item`, read from `side`, in: a pair's own item is observed unchanged (and
    /// dropped) or changed; any other item is kept apart.
    pub(crate) fn take(&mut self, index: &SummaryIndex<'_>, side: Side, item: Item) {
        match index.of_own(side, &item.id) {
            Some(at) if self.pairs[at] != Observed::Unreadable => {
                self.pairs[at] = if quiet::as_recorded(&index.summaries()[at], side, &item) {
                    Observed::Unchanged
                } else {
                    Observed::Changed(Box::new(item))
                };
            }
            _ => self.others.push(item),
        }
    }

    /// Marks the pairs whose item could not be read, once the whole side is read: the pair
    /// an unreadable item names (by its partner, else by its recorded id), unless the
    /// pair's own item was read after all (the unreadable one is then another item naming
    /// it, and pairing leaves the pair alone).
    pub(crate) fn mark_unreadable(&mut self, index: &SummaryIndex<'_>, side: Side) {
        for bad in &self.unreadable {
            let at = match side {
                Side::Asana => bad.id.as_deref().and_then(|id| index.of_gid(id)),
                Side::Target => bad
                    .partner
                    .as_deref()
                    .and_then(|gid| index.of_gid(gid))
                    .or_else(|| bad.id.as_deref().and_then(|id| index.of_target(id))),
            };
            if let Some(at) = at
                && self.pairs[at] == Observed::Gone
            {
                self.pairs[at] = Observed::Unreadable;
            }
        }
    }
}

/// Reads every item of `side`, page by page, through `connector`.
pub async fn list_all(
    connector: &dyn Connector,
    side: Side,
    index: &SummaryIndex<'_>,
) -> Result<SideView, ConnectorError> {
    let mut view = SideView::new(index.len(), &Observed::Gone);
    let mut token: Option<PageToken> = None;
    loop {
        let page = connector.list_page(token.take()).await?;
        for item in page.items {
            view.take(index, side, item);
        }
        for bad in page.errors {
            view.failures.push(ItemFailure {
                item: bad
                    .id
                    .as_deref()
                    .map_or_else(|| connector.kind().to_owned(), |id| connector.describe(id)),
                message: bad.error.to_string(),
            });
            view.unreadable.push(Unreadable {
                id: bad.id,
                partner: bad.partner,
            });
        }
        match page.next {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    view.mark_unreadable(index, side);
    Ok(view)
}

/// The target side when it is known not to have changed since the last run (its
/// watcher saw nothing): every recorded item unchanged, nothing read.
#[must_use]
pub fn target_unchanged(index: &SummaryIndex<'_>) -> SideView {
    SideView::new(index.len(), &Observed::Unchanged)
}

/// Asana as one run saw it.
pub struct AsanaView {
    pub view: SideView,
    /// The change-feed cursor to keep after a successful run.
    pub cursor: Option<String>,
    /// Whether every task was listed.
    pub full: bool,
    /// The tasks the change feed named, whatever became of them: a subtask's change is
    /// named by the subtask's gid. Also kept when every task was listed though the feed
    /// could be read (`sync --full`, the periodic full listing): a listing cannot say
    /// that a subtask changed. Empty when the feed could not be read.
    pub named: BTreeSet<String>,
}

/// Reads Asana: only the tasks its change feed names when it can (one events request, then
/// the changed tasks), every task otherwise (no cursor yet, cursor expired, `full`).
pub async fn asana(
    asana: &dyn Connector,
    index: &SummaryIndex<'_>,
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
        Changes::Since { changed, cursor } if !full => (changed, cursor),
        listed => {
            // Every task is listed; what the feed named is kept when it could be read.
            let (named, cursor) = match listed {
                Changes::Since { changed, cursor } => (changed.into_iter().collect(), Some(cursor)),
                Changes::Reset { cursor } => (BTreeSet::new(), Some(cursor)),
                Changes::Unsupported => (BTreeSet::new(), None),
            };
            return Ok(AsanaView {
                view: list_all(asana, Side::Asana, index).await?,
                cursor,
                full: true,
                named,
            });
        }
    };
    // Every task the feed does not name is unchanged; a named one is as it is now, or
    // gone when it cannot be fetched.
    let changed: BTreeSet<String> = changed.into_iter().collect();
    let mut view = SideView::new(index.len(), &Observed::Unchanged);
    for gid in &changed {
        if let Some(at) = index.of_gid(gid) {
            view.pairs[at] = Observed::Gone;
        }
    }
    if !changed.is_empty() {
        let ids: Vec<String> = changed.iter().cloned().collect();
        for item in asana.get_many(&ids).await? {
            view.take(index, Side::Asana, item);
        }
    }
    Ok(AsanaView {
        view,
        cursor: Some(next),
        full: false,
        named: changed,
    })
}
