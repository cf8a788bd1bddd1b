//! [`MemoryWorld`]: the items of one in-memory system, behind one lock, with a logical
//! clock and a count of the writes made through connectors (a test's "by hand" edits are
//! not counted: they stand for a person using the system).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use asana_bridge_connector::{Item, TaskFields};

/// The logical clock's origin (every write is one second later than the one before).
const ORIGIN_SECS: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

/// One stored item.
#[derive(Clone, Debug)]
struct Stored {
    /// The synced fields, canonical.
    fields: TaskFields,
    /// The Asana gid the item names, if any.
    partner: Option<String>,
    /// Bumped on every change.
    revision: u64,
    /// The logical time of the last change.
    modified_at: jiff::Timestamp,
}

/// What a world holds.
#[derive(Debug, Default)]
struct State {
    /// The items, by id.
    items: BTreeMap<String, Stored>,
    /// Ids of items deleted (by a connector or by hand): evidence for `whereabouts`.
    deleted: BTreeSet<String>,
    /// Ids of items a listing leaves out although they exist (a filter, a race).
    hidden: BTreeSet<String>,
    /// The next id to hand out.
    next_id: u64,
    /// Seconds since [`ORIGIN_SECS`] on the logical clock.
    clock: i64,
    /// Writes made through a connector.
    writes: usize,
    /// Create calls made through a connector (`create` and `create_many` count one each).
    create_calls: usize,
    /// Titles a create refuses, and whether the refusal is fatal for the link (the
    /// service is down) or concerns that item only.
    refused: HashMap<String, bool>,
}

/// The items of one in-memory system. Shared (`Arc`) between its connectors and a test.
#[derive(Debug, Default)]
pub struct MemoryWorld {
    state: Mutex<State>,
}

/// Named worlds, so that a config naming `memory = { world = "w" }` and the test that
/// wrote it reach the same items.
fn named_worlds() -> &'static Mutex<HashMap<String, Arc<MemoryWorld>>> {
    static WORLDS: OnceLock<Mutex<HashMap<String, Arc<MemoryWorld>>>> = OnceLock::new();
    WORLDS.get_or_init(Mutex::default)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means a test panicked mid-update; the data stays usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MemoryWorld {
    /// An empty world of its own.
    #[must_use]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The process-wide world called `name`, created empty on first use.
    #[must_use]
    pub fn named(name: &str) -> Arc<Self> {
        Arc::clone(lock(named_worlds()).entry(name.to_owned()).or_default())
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Adds an item by hand; returns its id.
    pub fn insert(&self, fields: TaskFields, partner: Option<&str>) -> String {
        let mut s = self.state();
        let id = s.new_id();
        let at = s.tick();
        s.items.insert(
            id.clone(),
            Stored {
                fields: fields.canonical(),
                partner: partner.map(str::to_owned),
                revision: 1,
                modified_at: at,
            },
        );
        id
    }

    /// Changes an item's fields by hand; `false` when there is no such item.
    pub fn edit(&self, id: &str, change: impl FnOnce(&mut TaskFields)) -> bool {
        let mut s = self.state();
        let at = s.tick();
        let Some(stored) = s.items.get_mut(id) else {
            return false;
        };
        let mut fields = stored.fields.clone();
        change(&mut fields);
        stored.fields = fields.canonical();
        stored.revision += 1;
        stored.modified_at = at;
        true
    }

    /// Deletes an item by hand; `false` when there was no such item.
    pub fn remove(&self, id: &str) -> bool {
        let mut s = self.state();
        let removed = s.items.remove(id).is_some();
        if removed {
            s.deleted.insert(id.to_owned());
        }
        removed
    }

    /// Leaves an existing item out of listings (`true`) or shows it again (`false`): its
    /// absence from a listing is then no evidence that it was deleted.
    pub fn hide(&self, id: &str, hidden: bool) {
        let mut s = self.state();
        if hidden {
            s.hidden.insert(id.to_owned());
        } else {
            s.hidden.remove(id);
        }
    }

    /// The item `id` as a connector reads it.
    #[must_use]
    pub fn item(&self, id: &str) -> Option<Item> {
        let s = self.state();
        s.items.get(id).map(|stored| to_item(id, stored))
    }

    /// Every item (hidden ones included), by id.
    #[must_use]
    pub fn items(&self) -> Vec<Item> {
        let s = self.state();
        s.items.iter().map(|(id, st)| to_item(id, st)).collect()
    }

    /// The first item titled `title`.
    #[must_use]
    pub fn find(&self, title: &str) -> Option<Item> {
        self.items().into_iter().find(|i| i.fields.title == title)
    }

    /// Writes made through connectors so far.
    #[must_use]
    pub fn writes(&self) -> usize {
        self.state().writes
    }

    /// Whether `id` was deleted (and not there now).
    #[must_use]
    pub fn was_deleted(&self, id: &str) -> bool {
        let s = self.state();
        s.deleted.contains(id) && !s.items.contains_key(id)
    }

    /// The listed items (hidden ones left out), by id, from `start` on, at most `limit`.
    pub(crate) fn listed(&self, start: usize, limit: usize) -> (Vec<Item>, bool) {
        let s = self.state();
        let visible: Vec<Item> = s
            .items
            .iter()
            .filter(|(id, _)| !s.hidden.contains(*id))
            .skip(start)
            .take(limit + 1)
            .map(|(id, st)| to_item(id, st))
            .collect();
        let more = visible.len() > limit;
        (visible.into_iter().take(limit).collect(), more)
    }

    /// Makes every later create of an item titled `title` fail: as an outage of the whole
    /// service when `fatal`, else as that one item refused.
    pub fn refuse_creates(&self, title: &str, fatal: bool) {
        self.state().refused.insert(title.to_owned(), fatal);
    }

    /// Lets creates of `title` through again.
    pub fn accept_creates(&self, title: &str) {
        self.state().refused.remove(title);
    }

    /// How many create calls connectors made (one `create_many` counts once).
    #[must_use]
    pub fn create_calls(&self) -> usize {
        self.state().create_calls
    }

    /// Counts one create call.
    pub(crate) fn count_create_call(&self) {
        self.state().create_calls += 1;
    }

    /// Whether a create of `title` is refused, and if so whether fatally.
    pub(crate) fn refusal(&self, title: &str) -> Option<bool> {
        self.state().refused.get(title).copied()
    }

    /// Creates an item through a connector.
    pub(crate) fn create(&self, fields: &TaskFields, partner: Option<&str>) -> Item {
        let id = self.insert(fields.clone(), partner);
        self.state().writes += 1;
        self.item(&id)
            .unwrap_or_else(|| unreachable!("just inserted"))
    }

    /// Replaces an item's fields and partner through a connector; `None` when it is gone.
    pub(crate) fn write(
        &self,
        id: &str,
        fields: TaskFields,
        partner: Option<String>,
    ) -> Option<Item> {
        let mut s = self.state();
        let at = s.tick();
        let stored = s.items.get_mut(id)?;
        stored.fields = fields.canonical();
        stored.partner = partner;
        stored.revision += 1;
        stored.modified_at = at;
        let item = to_item(id, stored);
        s.writes += 1;
        Some(item)
    }

    /// Deletes an item through a connector; `false` when it was already gone.
    pub(crate) fn delete(&self, id: &str) -> bool {
        let removed = self.remove(id);
        if removed {
            self.state().writes += 1;
        }
        removed
    }

    /// Whether `id` exists, is hidden, or was deleted.
    pub(crate) fn whereabouts(&self, id: &str) -> Option<Item> {
        self.item(id)
    }
}

impl State {
    fn new_id(&mut self) -> String {
        self.next_id += 1;
        // Digits only, like Asana gids (the engine may pass them on as partners).
        (1000 + self.next_id).to_string()
    }

    fn tick(&mut self) -> jiff::Timestamp {
        self.clock += 1;
        jiff::Timestamp::from_second(ORIGIN_SECS + self.clock)
            .unwrap_or_else(|_| unreachable!("a 2026 timestamp is in range"))
    }
}

fn to_item(id: &str, stored: &Stored) -> Item {
    Item {
        id: id.to_owned(),
        fields: stored.fields.clone(),
        modified_at: Some(stored.modified_at),
        partner: stored.partner.clone(),
        revision: Some(stored.revision.to_string()),
        bare: false,
    }
}
