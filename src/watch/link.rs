//! One link kept mirrored: a loop of cheap checks and syncs.
//!
//! - At start, and then every `full_every`, a full reconcile (every Asana task listed, the
//!   target listed): every event source can miss something.
//! - Every `poll` (slower, `backup_poll`, while a webhook speeds the link up), a sync that
//!   reads only Asana's change feed: one request when nothing changed. The target is
//!   listed only when its watcher saw a real change; otherwise every recorded item is
//!   observed unchanged.
//! - A webhook delivery wakes the loop at once; a change in the folder wakes it once the
//!   folder has been quiet for [`AUTOSAVE_QUIET`] (an editor's autosave storm is one
//!   sync). A folder change that is only the echo of the bridge's own write, or a save
//!   that leaves a file as last synced, is dropped without a sync.
//! - Asana or the network down: one warning, exponential backoff up to five minutes, one
//!   line when it is back; nothing is lost (cursors advance only after a clean run).
//! - Shutdown: the sync in hand finishes its current actions and stops; the loop ends.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use asana_bridge_connector::Connector;
use asana_bridge_state::{StateError, Store};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::folder::FolderWatch;
use super::published::{LinkStatus, Publisher};
use crate::config::LinkConfig;
use crate::engine::{self, LinkReport, SyncOptions};
use crate::linkstate::LinkState;
use crate::output::Output;
use crate::plan::quiet::{self, SummaryIndex};
use crate::records::Side;
use crate::report;

/// The longest wait between tries while a service is down.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// An editor that autosaves writes a file many times while someone types: the sync waits
/// until the folder has been quiet this long after the last real change, so a burst of
/// saves costs one update in Asana (each update is a story that notifies followers).
pub(crate) const AUTOSAVE_QUIET: Duration = Duration::from_secs(2);

/// However long the saves go on, a change waits at most this long.
const AUTOSAVE_MAX_DELAY: Duration = Duration::from_secs(30);

/// Everything one link's loop works with.
pub struct LinkLoop {
    pub link: LinkConfig,
    pub asana: Box<dyn Connector>,
    pub target: Box<dyn Connector>,
    pub store: Arc<Store>,
    pub folder: Option<FolderWatch>,
    /// Woken by webhook deliveries.
    pub prompt: Arc<Notify>,
    /// Whether a webhook speeds this link up (then `backup_poll` applies).
    pub webhook: bool,
    pub poll: Duration,
    pub backup_poll: Duration,
    pub full_every: Duration,
    pub publisher: Arc<Publisher>,
    pub out: Output,
}

/// Why the loop runs a sync now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wake {
    Start,
    Poll,
    Prompt,
    Folder,
}

impl LinkLoop {
    /// Runs until `shutdown` turns true. Only a state-store failure ends it early.
    pub async fn run(
        self,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
        cancel: &AtomicBool,
    ) -> Result<(), StateError> {
        let mut wake = Wake::Start;
        let mut next_full = Instant::now();
        let mut target_dirty = true;
        let mut last_clean = false;
        let mut outage: Option<(String, Duration)> = None;
        let mut last_errors: BTreeSet<String> = BTreeSet::new();

        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let full = Instant::now() >= next_full;
            let options = SyncOptions {
                full,
                target_unchanged: self.folder.is_some() && !target_dirty && last_clean,
                delete_grace: Some(self.link.delete_grace),
                ..SyncOptions::default()
            };
            tracing::debug!(link = %self.link.name, ?wake, full, "sync");
            let bar = indicatif::ProgressBar::hidden();
            let began = Instant::now();
            let report = engine::sync_link(
                &self.link,
                self.asana.as_ref(),
                self.target.as_ref(),
                &self.store,
                options,
                &bar,
                Some(cancel),
            )
            .await?;
            target_dirty = false;
            last_clean = !report.has_errors();
            if full {
                // A failed full reconcile is tried again at the next poll, not at once.
                next_full = Instant::now()
                    + if report.fatal.is_none() {
                        self.full_every
                    } else {
                        self.poll
                    };
            }
            outage = self.report(&report, outage, &mut last_errors);
            self.publish(&report, outage.as_ref().map(|(m, _)| m.clone()))?;
            super::metrics::sync_done(&self.link.name, &report, full, began.elapsed());

            // Wait for the next reason to sync.
            let interval = match &outage {
                Some((_, backoff)) => *backoff,
                None if self.webhook => self.backup_poll,
                None => self.poll,
            };
            let mut deadline = (Instant::now() + interval).min(next_full);
            // A missing item waits out its grace period; then the target is listed again.
            if let Some(after) = report.recheck_after {
                target_dirty = true;
                deadline = deadline.min(Instant::now() + after);
            }
            wake = loop {
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => break Wake::Poll,
                    () = self.prompt.notified() => break Wake::Prompt,
                    () = folder_changed(self.folder.as_ref()) => {
                        if self.folder_really_changed().await? {
                            target_dirty = true;
                            if self.settle(&mut shutdown).await {
                                return Ok(());
                            }
                            break Wake::Folder;
                        }
                    }
                    _ = shutdown.changed() => return Ok(()),
                }
            };
        }
    }

    /// Prints what the sync did (nothing when nothing happened), errors once each, and the
    /// outage transitions. Returns the outage state after this run.
    fn report(
        &self,
        r: &LinkReport,
        outage: Option<(String, Duration)>,
        last_errors: &mut BTreeSet<String>,
    ) -> Option<(String, Duration)> {
        let name = &self.link.name;
        if r.outage {
            let message = r.fatal.clone().unwrap_or_default();
            return Some(match outage {
                None => {
                    super::stderr_line(&format!(
                        "warning: link \"{name}\": {message}; retrying with backoff until it is back"
                    ));
                    (message, self.poll.min(MAX_BACKOFF))
                }
                Some((first, backoff)) => (first, (backoff * 2).min(MAX_BACKOFF)),
            });
        }
        if outage.is_some() {
            super::stderr_line(&format!("link \"{name}\": reachable again"));
        }
        let errors: BTreeSet<String> = report::error_lines(r).into_iter().collect();
        for line in errors.difference(last_errors) {
            super::stderr_line(line);
        }
        *last_errors = errors;
        if !self.out.json {
            for note in &r.notes {
                self.out.line(&format!("link \"{name}\": {note}"));
            }
        }
        let c = &r.counts;
        let changed = c.created_asana
            + c.created_target
            + c.updated_asana
            + c.updated_target
            + c.deleted_asana
            + c.deleted_target
            + c.threads.subtasks_asana
            + c.threads.comments_asana
            + c.threads.target_items
            > 0;
        if changed {
            if self.out.json {
                println!("{}", report::link_json(r));
            } else {
                let time = jiff::Timestamp::now().strftime("%H:%M:%SZ");
                self.out.line(&format!(
                    "[{time}] {}",
                    report::summary_line(r, self.target.kind())
                ));
            }
        }
        None
    }

    fn publish(&self, r: &LinkReport, outage: Option<String>) -> Result<(), StateError> {
        let state = LinkState::open(&self.store, &self.link.name)?;
        let meta = state.meta()?;
        let conflicts = r.conflicts_open.max(state.conflicts.len());
        super::metrics::conflicts_pending(&self.link.name, conflicts);
        self.publisher.update(
            &self.link.name,
            LinkStatus {
                last_poll: meta.last_attempt,
                last_success: meta.last_success,
                cursor_at: meta.asana_cursor_at,
                mapped: state.pairs.len(),
                conflicts,
                pending_creates: state.intents.len(),
                outage,
                webhook: self.webhook,
            },
        );
        Ok(())
    }

    /// Waits for the folder's quiet period ([`AUTOSAVE_QUIET`] without a folder event,
    /// at most [`AUTOSAVE_MAX_DELAY`]) after a real change; whether shutdown came meanwhile.
    /// The sync that follows lists the folder, so the changes taken here are not lost.
    async fn settle(&self, shutdown: &mut tokio::sync::watch::Receiver<bool>) -> bool {
        let Some(folder) = &self.folder else {
            return false;
        };
        let cap = Instant::now() + AUTOSAVE_MAX_DELAY;
        loop {
            let quiet_until = (Instant::now() + AUTOSAVE_QUIET).min(cap);
            tokio::select! {
                () = tokio::time::sleep_until(quiet_until) => return false,
                () = folder.changed() => {
                    let _ = folder.take();
                    tracing::trace!(link = %self.link.name, "more saves: the quiet period starts over");
                }
                _ = shutdown.changed() => return *shutdown.borrow(),
            }
        }
    }

    /// Whether the files the watcher named differ from what the state says the bridge last
    /// wrote or saw (its own writes are no change).
    async fn folder_really_changed(&self) -> Result<bool, StateError> {
        let Some(folder) = &self.folder else {
            return Ok(false);
        };
        let changes = folder.take();
        if changes.overflow {
            return Ok(true);
        }
        if changes.names.is_empty() {
            return Ok(false);
        }
        let state = LinkState::open(&self.store, &self.link.name)?;
        let summaries = state.summaries()?;
        let index = SummaryIndex::new(&summaries);
        let names: Vec<String> = changes.names.iter().cloned().collect();
        let Ok(items) = self.target.get_many(&names).await else {
            // Unreadable now (half-written, broken): let a listing report it.
            return Ok(true);
        };
        for name in &names {
            let known = index.of_target(name).map(|at| &summaries[at]);
            let now = items.iter().find(|i| &i.id == name);
            let echo = match (known, now) {
                (Some(summary), Some(item)) => quiet::as_recorded(summary, Side::Target, item),
                (None, None) => true, // a file that came and went (an editor's temp file)
                _ => false,
            };
            if !echo {
                tracing::debug!(link = %self.link.name, file = %name, "changed in the folder");
                return Ok(true);
            }
        }
        tracing::trace!(link = %self.link.name, "folder events were our own writes");
        Ok(false)
    }
}

/// Waits for a change in `folder`, or forever when there is no folder to watch.
async fn folder_changed(folder: Option<&FolderWatch>) {
    match folder {
        Some(f) => f.changed().await,
        None => std::future::pending().await,
    }
}
