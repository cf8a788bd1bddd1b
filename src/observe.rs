//! Reading both sides of a link for one run, page by page, keeping only what may need
//! planning.
//!
//! Every item is classified against the link's [`PairSummary`]s as it arrives
//! ([`SummaryIndex::classify`]): one exactly as its record remembers it is dropped and
//! its side marked [`Seen::AsRecorded`]; anything else is kept. Asana is read through
//! its change feed when it can (one events request, then only the changed tasks: every
//! other task is as recorded), in full otherwise.

use std::collections::BTreeSet;

use asana_bridge_connector::{Changes, Connector, ConnectorError, Item, PageToken};

use crate::failure::ItemFailure;
use crate::plan::Unreadable;
use crate::plan::quiet::{Seen, SummaryIndex};
use crate::records::Side;

/// One side as a run saw it.
#[derive(Debug, Default)]
pub struct SideView {
    /// Items kept for planning.
    pub items: Vec<Item>,
    /// How each recorded pair's item on this side was seen, by summary position.
    pub seen: Vec<Seen>,
    /// Items that could not be read, reported per item.
    pub failures: Vec<ItemFailure>,
    /// The same, for the planner (their pairs are left alone).
    pub unreadable: Vec<Unreadable>,
}

impl SideView {
    fn new(pairs: usize) -> Self {
        Self {
            seen: vec![Seen::Absent; pairs],
            ..Self::default()
        }
    }

    /// Items on this side, kept or as recorded.
    #[must_use]
    pub fn present(&self) -> usize {
        self.items.len() + self.seen.iter().filter(|s| **s == Seen::AsRecorded).count()
    }

    /// Takes `item` in: dropped when it is as recorded, kept otherwise. An item that only
    /// names a pair (a copied file or issue body, a pasted footer) never decides how the
    /// pair's own item was seen: it is kept, and the pair is planned with both.
    pub(crate) fn take(&mut self, index: &SummaryIndex<'_>, side: Side, item: Item) {
        match index.classify(side, &item) {
            Some((at, Seen::AsRecorded)) => self.seen[at] = Seen::AsRecorded,
            Some((at, seen)) => {
                let own = side == Side::Asana || *index.summaries()[at].target_id == *item.id;
                if own || self.seen[at] == Seen::Absent {
                    self.seen[at] = seen;
                }
                self.items.push(item);
            }
            None => self.items.push(item),
        }
    }
}

/// Reads every item of `side`, page by page, through `connector`.
pub async fn list_all(
    connector: &dyn Connector,
    side: Side,
    index: &SummaryIndex<'_>,
) -> Result<SideView, ConnectorError> {
    let mut view = SideView::new(index.summaries().len());
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
    Ok(view)
}

/// The target side when it is known not to have changed since the last run (its
/// watcher saw nothing): every recorded item as recorded, nothing read.
#[must_use]
pub fn target_unchanged(index: &SummaryIndex<'_>) -> SideView {
    SideView {
        seen: vec![Seen::AsRecorded; index.summaries().len()],
        ..SideView::default()
    }
}

/// Asana as one run saw it.
pub struct AsanaView {
    pub view: SideView,
    /// The change-feed cursor to keep after a successful run.
    pub cursor: Option<String>,
    /// Whether every task was listed.
    pub full: bool,
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
        Changes::Since { cursor, .. } | Changes::Reset { cursor } => {
            return Ok(AsanaView {
                view: list_all(asana, Side::Asana, index).await?,
                cursor: Some(cursor),
                full: true,
            });
        }
        Changes::Unsupported => {
            return Ok(AsanaView {
                view: list_all(asana, Side::Asana, index).await?,
                cursor: None,
                full: true,
            });
        }
    };
    // Every task the feed does not name is as recorded; a named one is as it is now, or
    // gone when it cannot be fetched.
    let changed: BTreeSet<String> = changed.into_iter().collect();
    let mut view = SideView {
        seen: index
            .summaries()
            .iter()
            .map(|s| {
                if changed.contains(&*s.asana_gid) {
                    Seen::Absent
                } else {
                    Seen::AsRecorded
                }
            })
            .collect(),
        ..SideView::default()
    };
    if !changed.is_empty() {
        let ids: Vec<String> = changed.into_iter().collect();
        for item in asana.get_many(&ids).await? {
            view.take(index, Side::Asana, item);
        }
    }
    Ok(AsanaView {
        view,
        cursor: Some(next),
        full: false,
    })
}
